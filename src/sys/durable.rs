//! Creating and replacing files durably.
//!
//! The recipe every caller follows: write the new content into a temporary file beside the
//! target, flush it (`sync_all`), then [`place_new`] (the target must not exist) or [`replace`]
//! (the target is replaced atomically), then [`sync_dir`] on the target's directory. When that
//! last call returns, the target's new name survives a power loss on both platforms:
//!
//! - Unix: `link(2)` (which fails if the target exists, never clobbering it) or `rename(2)`, then
//!   `fsync` of the directory, which is what makes a new or renamed entry durable.
//! - Windows: a directory cannot be opened to be flushed (`FlushFileBuffers` on a directory handle
//!   is refused), so the move itself is made durable instead: `MoveFileExW` with
//!   `MOVEFILE_WRITE_THROUGH` does not return until the rename is on disk (NTFS commits its
//!   metadata log for it), and the file's data was flushed before. Without
//!   `MOVEFILE_REPLACE_EXISTING` the move fails if the target exists, the counterpart of `link`.
//!   [`sync_dir`] then has nothing left to do. A file created in place (not through this recipe)
//!   is made durable by flushing it: on NTFS that commits the log holding its directory entry.
//!
//! [`replace`] on Windows refuses to replace a file that another process has open (the default
//! rename semantics, and Wine's): [`open_elsewhere`] tells that case from others, so callers can
//! say which operation needs the file closed.

use std::io;
use std::path::{Path, PathBuf};

/// The directory holding `path` (`.` for a bare file name): the one [`sync_dir`] must sync.
pub(crate) fn dir_of(path: &Path) -> PathBuf {
    match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

/// A fresh temporary name beside `target` for the recipe's first step:
/// `.<name>.<uuid>.<suffix>` in `target`'s directory (the suffix says which operation left it,
/// so leftovers can be recognised and removed).
pub(crate) fn temp_beside(target: &Path, suffix: &str) -> PathBuf {
    let name = target.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    dir_of(target).join(format!(".{name}.{}.{suffix}", uuid::Uuid::new_v4().simple()))
}

/// Makes the entries created or renamed in `dir` durable (see the module docs).
pub(crate) fn sync_dir(dir: &Path) -> io::Result<()> {
    imp::sync_dir(dir)
}

/// Gives the flushed file at `tmp` the name `target`, failing with `AlreadyExists` if anything
/// is there (never replacing it). Afterwards `tmp` may still name the file (Unix: a second link)
/// or not (Windows: moved); the caller removes it, ignoring errors.
pub(crate) fn place_new(tmp: &Path, target: &Path) -> io::Result<()> {
    imp::place_new(tmp, target)
}

/// Atomically replaces `target` (if it exists) with the flushed file at `tmp`.
pub(crate) fn replace(tmp: &Path, target: &Path) -> io::Result<()> {
    imp::replace(tmp, target)
}

/// Whether another handle (of any process) has `path` open now, as far as the platform can tell
/// (Windows: a probe open that shares nothing fails with a sharing violation). Always `false` on
/// Unix, where an open file never stops a rename.
pub(crate) fn open_elsewhere(path: &Path) -> bool {
    imp::open_elsewhere(path)
}

#[cfg(unix)]
mod imp {
    use std::fs::File;
    use std::io;
    use std::path::Path;

    pub(super) fn sync_dir(dir: &Path) -> io::Result<()> {
        File::open(dir)?.sync_all()
    }

    pub(super) fn place_new(tmp: &Path, target: &Path) -> io::Result<()> {
        std::fs::hard_link(tmp, target)
    }

    pub(super) fn replace(tmp: &Path, target: &Path) -> io::Result<()> {
        std::fs::rename(tmp, target)
    }

    pub(super) fn open_elsewhere(_: &Path) -> bool {
        false
    }
}

#[cfg(windows)]
mod imp {
    use std::fs::OpenOptions;
    use std::io;
    use std::os::windows::fs::OpenOptionsExt;
    use std::path::Path;
    use windows_sys::Win32::Foundation::ERROR_SHARING_VIOLATION;
    use windows_sys::Win32::Storage::FileSystem::{
        DELETE, MOVEFILE_REPLACE_EXISTING, MOVEFILE_WRITE_THROUGH, MoveFileExW,
    };

    pub(super) fn sync_dir(_: &Path) -> io::Result<()> {
        Ok(())
    }

    fn move_file(from: &Path, to: &Path, flags: u32) -> io::Result<()> {
        let (from, to) = (super::super::wide(from)?, super::super::wide(to)?);
        // SAFETY: both are NUL-terminated UTF-16 strings that outlive the call.
        let ok = unsafe { MoveFileExW(from.as_ptr(), to.as_ptr(), flags) };
        if ok != 0 { Ok(()) } else { Err(io::Error::last_os_error()) }
    }

    pub(super) fn place_new(tmp: &Path, target: &Path) -> io::Result<()> {
        move_file(tmp, target, MOVEFILE_WRITE_THROUGH)
    }

    pub(super) fn replace(tmp: &Path, target: &Path) -> io::Result<()> {
        move_file(tmp, target, MOVEFILE_REPLACE_EXISTING | MOVEFILE_WRITE_THROUGH)
    }

    pub(super) fn open_elsewhere(path: &Path) -> bool {
        let probe = OpenOptions::new().access_mode(DELETE).share_mode(0).open(path);
        matches!(probe, Err(e) if e.raw_os_error() == Some(ERROR_SHARING_VIOLATION as i32))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    #[test]
    fn place_new_never_clobbers_and_replace_does() {
        let dir = tempfile::tempdir().unwrap();
        let (tmp, target) = (dir.path().join("tmp"), dir.path().join("target"));
        fs::write(&tmp, b"first").unwrap();
        place_new(&tmp, &target).unwrap();
        let _ = fs::remove_file(&tmp);
        sync_dir(dir.path()).unwrap();
        assert_eq!(fs::read(&target).unwrap(), b"first");
        fs::write(&tmp, b"second").unwrap();
        assert_eq!(place_new(&tmp, &target).unwrap_err().kind(), io::ErrorKind::AlreadyExists);
        assert_eq!(fs::read(&target).unwrap(), b"first");
        replace(&tmp, &target).unwrap();
        sync_dir(dir.path()).unwrap();
        assert_eq!(fs::read(&target).unwrap(), b"second");
        assert!(!tmp.exists());
        assert!(!open_elsewhere(&target));
    }

    #[test]
    fn long_paths_work() {
        let dir = tempfile::tempdir().unwrap();
        let mut deep = dir.path().to_path_buf();
        for i in 0..12 {
            deep.push(format!("a-rather-long-directory-name-{i:02}"));
        }
        fs::create_dir_all(&deep).unwrap();
        assert!(deep.as_os_str().len() > 300);
        let (tmp, target) = (deep.join("tmp"), deep.join("target"));
        fs::write(&tmp, b"x").unwrap();
        place_new(&tmp, &target).unwrap();
        fs::write(&tmp, b"y").unwrap();
        replace(&tmp, &target).unwrap();
        assert_eq!(fs::read(&target).unwrap(), b"y");
    }

    #[cfg(windows)]
    #[test]
    fn replace_over_a_file_open_elsewhere_is_refused_and_recognised() {
        let dir = tempfile::tempdir().unwrap();
        let (tmp, target) = (dir.path().join("tmp"), dir.path().join("target"));
        fs::write(&tmp, b"new").unwrap();
        fs::write(&target, b"old").unwrap();
        let held = fs::File::open(&target).unwrap();
        assert!(open_elsewhere(&target));
        if replace(&tmp, &target).is_err() {
            assert_eq!(fs::read(&target).unwrap(), b"old");
        }
        drop(held);
        assert!(!open_elsewhere(&target));
    }
}
