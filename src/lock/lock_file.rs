//! Opening `<journal>.lock`: the one place where any lock kind opens or creates a file at the
//! lock path.
//!
//! Guarantees: a symbolic link at the lock path is never followed (a link planted there, or
//! Optuna's symlink lock, which points at the journal, can never make a lock read or write
//! another file, nor create one elsewhere); opening a FIFO or device there never blocks; a file
//! opened for writing is a plain regular file with no other hard link, checked on the open
//! descriptor (`fstat`), so what is written is what was checked. Anything else is refused with
//! [`Error::UnsafeLockFile`] naming the path and what is there. Does not guarantee anything about
//! the directories above the lock file: links there are followed, as for the journal itself.

use std::fs::{self, File, OpenOptions};
use std::io;
use std::path::Path;

use crate::error::{Error, Result};
use crate::sys::{identity, nofollow};

/// Opens the lock file at `path` for reading and writing, creating it if it does not exist
/// (the advisory lock's file, which stays in place between holders).
///
/// Fails with [`Error::UnsafeLockFile`] if `path` is a symbolic link, not a regular file, or a
/// file with more than one hard link; with [`Error::Io`] for other failures. Writes nothing.
pub(crate) fn open_or_create(path: &Path) -> Result<File> {
    let mut options = OpenOptions::new();
    options.read(true).write(true).create(true).truncate(false);
    let file = match nofollow::open(path, &mut options) {
        Ok(file) => file,
        Err(e) if nofollow::is_not_plain_error(&e) => {
            return Err(Error::UnsafeLockFile { path: path.to_owned(), found: describe(path) });
        }
        Err(e) => return Err(Error::io("open lock file", path, e)),
    };
    let meta = file.metadata().map_err(|e| Error::io("stat lock file", path, e))?;
    if !meta.file_type().is_file() {
        return Err(Error::UnsafeLockFile {
            path: path.to_owned(),
            found: kind_of(&meta.file_type()).to_owned(),
        });
    }
    let links = identity::of_file(&file).map_err(|e| Error::io("stat lock file", path, e))?.links;
    if links > 1 {
        return Err(Error::UnsafeLockFile {
            path: path.to_owned(),
            found: format!(
                "a file with {links} hard links (writing the lock record would change the other names' file too)"
            ),
        });
    }
    Ok(file)
}

/// Creates the lock file at `path` for writing, only if nothing is there (`O_CREAT|O_EXCL`, which
/// never follows a link): `Ok(None)` if anything (a file, a link, a directory) is there already.
pub(crate) fn create_new(path: &Path) -> io::Result<Option<File>> {
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    match nofollow::open(path, &mut options) {
        Ok(file) => Ok(Some(file)),
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Ok(None),
        Err(e) => Err(e),
    }
}

/// Opens the regular file at `path` for reading: `Ok(None)` if nothing is there (also `ESTALE`
/// on NFS); an error with `ELOOP` if it is a symbolic link (see [`is_symlink_error`]); an error
/// of kind `InvalidInput` naming what is there if it is not a regular file.
pub(crate) fn open_to_read(path: &Path) -> io::Result<Option<File>> {
    let mut options = OpenOptions::new();
    options.read(true);
    let file = match nofollow::open(path, &mut options) {
        Ok(file) => file,
        Err(e) if is_gone(&e) => return Ok(None),
        Err(e) => return Err(e),
    };
    let kind = match file.metadata() {
        Ok(meta) => meta.file_type(),
        Err(e) if is_gone(&e) => return Ok(None),
        Err(e) => return Err(e),
    };
    if !kind.is_file() {
        let what = format!("the lock path is {}, not a regular file", kind_of(&kind));
        return Err(io::Error::new(io::ErrorKind::InvalidInput, what));
    }
    Ok(Some(file))
}

/// Whether an error says "this is a symbolic link" (`ELOOP` from `O_NOFOLLOW`, or its Windows
/// counterpart).
pub(crate) fn is_symlink_error(e: &io::Error) -> bool {
    nofollow::is_link_error(e)
}

/// Whether an error means "the file is not there (any more)": `ENOENT`, or NFS's `ESTALE`.
pub(crate) fn is_gone(e: &io::Error) -> bool {
    nofollow::is_gone(e)
}

/// What is at `path`, for [`Error::UnsafeLockFile`]: "a symbolic link to \"...\"", "a
/// directory", ...
fn describe(path: &Path) -> String {
    match fs::symlink_metadata(path) {
        Ok(meta) if meta.file_type().is_symlink() => match fs::read_link(path) {
            Ok(target) => format!("a symbolic link to {:?}", target.display().to_string()),
            Err(_) => "a symbolic link".to_owned(),
        },
        Ok(meta) => kind_of(&meta.file_type()).to_owned(),
        Err(e) => format!("not a plain file ({e})"),
    }
}

fn kind_of(kind: &fs::FileType) -> &'static str {
    nofollow::kind_name(kind)
}

#[cfg(test)]
mod tests {
    use super::*;
    #[cfg(unix)]
    use std::os::unix::fs::symlink;

    #[test]
    fn creates_and_reopens_a_plain_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("j.lock");
        drop(open_or_create(&path).unwrap());
        assert!(fs::symlink_metadata(&path).unwrap().is_file());
        drop(open_or_create(&path).unwrap());
    }

    // Creating a symbolic link needs a privilege on Windows, and Wine creates none.
    #[cfg(unix)]
    #[test]
    fn a_symlink_is_refused_and_its_target_untouched() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("victim");
        fs::write(&target, b"precious").unwrap();
        let path = dir.path().join("j.lock");
        symlink(&target, &path).unwrap();
        match open_or_create(&path) {
            Err(Error::UnsafeLockFile { path: p, found }) => {
                assert_eq!(p, path);
                assert!(found.starts_with("a symbolic link to"), "{found}");
            }
            other => panic!("unexpected {other:?}"),
        }
        assert!(is_symlink_error(&open_to_read(&path).unwrap_err()));
        assert!(create_new(&path).unwrap().is_none());
        assert_eq!(fs::read(&target).unwrap(), b"precious");
    }

    #[cfg(unix)] // as above: no symbolic links on Windows without a privilege
    #[test]
    fn a_dangling_symlink_creates_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("j.lock");
        let elsewhere = dir.path().join("elsewhere");
        symlink(&elsewhere, &path).unwrap();
        assert!(matches!(open_or_create(&path), Err(Error::UnsafeLockFile { .. })));
        assert!(create_new(&path).unwrap().is_none());
        assert!(!elsewhere.exists(), "a file was created through the link");
    }

    #[test]
    fn hard_links_and_directories_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let victim = dir.path().join("victim");
        fs::write(&victim, b"precious").unwrap();
        let path = dir.path().join("j.lock");
        fs::hard_link(&victim, &path).unwrap();
        let err = open_or_create(&path).unwrap_err();
        assert!(err.to_string().contains("2 hard links"), "{err}");
        assert_eq!(fs::read(&victim).unwrap(), b"precious");
        fs::remove_file(&path).unwrap();

        fs::create_dir(&path).unwrap();
        let err = open_or_create(&path).unwrap_err();
        assert!(err.to_string().contains("it is a directory"), "{err}");
        fs::remove_dir(&path).unwrap();
    }

    #[cfg(unix)] // Windows has no FIFOs in the file system.
    #[test]
    fn fifos_are_refused_without_blocking() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("j.lock");
        let made = std::process::Command::new("mkfifo").arg(&path).status().unwrap();
        assert!(made.success());
        let err = open_or_create(&path).unwrap_err();
        assert!(err.to_string().contains("it is a FIFO"), "{err}");
        // Opening a FIFO for reading would block without O_NONBLOCK.
        let err = open_to_read(&path).unwrap_err();
        assert!(err.to_string().contains("a FIFO"), "{err}");
    }
}
