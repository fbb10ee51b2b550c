//! Opening a path without following a symbolic link at its last component.
//!
//! Contract of [`open`]: a symbolic link at the last component of `path` is never followed: the
//! open fails with an error for which [`is_link_error`] is true (also when creating, so a dangling
//! link cannot make it create a file elsewhere); links in the directories above are followed as
//! usual. Opening a FIFO or a device never blocks. What kind of file was opened is otherwise not
//! checked: the caller looks at the open handle.
//!
//! Unix: `O_NOFOLLOW | O_NONBLOCK` (the latter cleared again once the file is open). Windows:
//! `FILE_FLAG_OPEN_REPARSE_POINT` (opens the link itself, which is then refused) and
//! `FILE_FLAG_BACKUP_SEMANTICS` (so that a directory opens and the caller sees it is one);
//! Windows has no FIFOs in the file system. The file shares read, write and delete access (std's
//! default), so holding it open never stops another process renaming or deleting it.

use std::fs::{File, FileType, OpenOptions};
use std::io;
use std::path::Path;

/// Opens `path` with `options`, never following a link at its last component (see the module
/// docs).
pub(crate) fn open(path: &Path, options: &mut OpenOptions) -> io::Result<File> {
    imp::open(path, options)
}

/// Whether an error from [`open`] says "a symbolic link is there".
pub(crate) fn is_link_error(e: &io::Error) -> bool {
    e.raw_os_error() == Some(imp::LINK_ERROR)
}

/// Whether an error from [`open`] says "something other than a plain file is there": a symbolic
/// link, a directory, or (Unix) a socket or a device without a driver.
pub(crate) fn is_not_plain_error(e: &io::Error) -> bool {
    is_link_error(e) || imp::is_other_kind(e)
}

/// Whether an error means "the file is not there (any more)": not found, or a stale NFS handle.
pub(crate) fn is_gone(e: &io::Error) -> bool {
    e.kind() == io::ErrorKind::NotFound || imp::is_stale(e)
}

/// What a file type is, in words for error messages: "a directory", "a FIFO", ...
pub(crate) fn kind_name(kind: &FileType) -> &'static str {
    if kind.is_dir() {
        "a directory"
    } else if kind.is_symlink() {
        "a symbolic link"
    } else if let Some(special) = imp::special_kind(kind) {
        special
    } else if kind.is_file() {
        "a regular file"
    } else {
        "not a regular file"
    }
}

#[cfg(unix)]
mod imp {
    use std::fs::{File, FileType, OpenOptions};
    use std::io;
    use std::os::fd::AsRawFd;
    use std::os::unix::fs::{FileTypeExt, OpenOptionsExt};
    use std::path::Path;

    pub(super) const LINK_ERROR: i32 = libc::ELOOP;

    pub(super) fn open(path: &Path, options: &mut OpenOptions) -> io::Result<File> {
        let file = options.custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK).open(path)?;
        let fd = file.as_raw_fd();
        // SAFETY: `fd` is a valid descriptor owned by `file`, which outlives both calls; F_GETFL
        // and F_SETFL read and set status flags only.
        let flags = unsafe { libc::fcntl(fd, libc::F_GETFL) };
        if flags < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: as above.
        if unsafe { libc::fcntl(fd, libc::F_SETFL, flags & !libc::O_NONBLOCK) } < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(file)
    }

    pub(super) fn is_other_kind(e: &io::Error) -> bool {
        matches!(e.raw_os_error(), Some(libc::EISDIR | libc::ENXIO))
    }

    pub(super) fn is_stale(e: &io::Error) -> bool {
        e.raw_os_error() == Some(libc::ESTALE)
    }

    pub(super) fn special_kind(kind: &FileType) -> Option<&'static str> {
        if kind.is_fifo() {
            Some("a FIFO")
        } else if kind.is_socket() {
            Some("a socket")
        } else if kind.is_block_device() || kind.is_char_device() {
            Some("a device")
        } else {
            None
        }
    }
}

#[cfg(windows)]
mod imp {
    use std::fs::{File, FileType, OpenOptions};
    use std::io;
    use std::os::windows::fs::OpenOptionsExt;
    use std::path::Path;
    use windows_sys::Win32::Foundation::{ERROR_DIRECTORY, ERROR_STOPPED_ON_SYMLINK};
    use windows_sys::Win32::Storage::FileSystem::{
        FILE_FLAG_BACKUP_SEMANTICS, FILE_FLAG_OPEN_REPARSE_POINT,
    };

    /// "The create operation stopped after reaching a symbolic link."
    pub(super) const LINK_ERROR: i32 = ERROR_STOPPED_ON_SYMLINK as i32;

    pub(super) fn open(path: &Path, options: &mut OpenOptions) -> io::Result<File> {
        let file = options
            .custom_flags(FILE_FLAG_OPEN_REPARSE_POINT | FILE_FLAG_BACKUP_SEMANTICS)
            .open(path)?;
        if file.metadata()?.file_type().is_symlink() {
            return Err(io::Error::from_raw_os_error(LINK_ERROR));
        }
        Ok(file)
    }

    pub(super) fn is_other_kind(e: &io::Error) -> bool {
        e.raw_os_error() == Some(ERROR_DIRECTORY as i32)
    }

    pub(super) fn is_stale(_: &io::Error) -> bool {
        false
    }

    pub(super) fn special_kind(_: &FileType) -> Option<&'static str> {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opens_and_creates_plain_files_and_directories_are_seen_as_such() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        let mut options = OpenOptions::new();
        options.read(true).write(true).create(true).truncate(false);
        let file = open(&path, &mut options).unwrap();
        assert!(file.metadata().unwrap().is_file());
        let mut options = OpenOptions::new();
        options.write(true).create_new(true);
        let again = open(&path, &mut options).unwrap_err();
        assert_eq!(again.kind(), io::ErrorKind::AlreadyExists);
        let mut options = OpenOptions::new();
        options.read(true);
        let missing = open(&dir.path().join("missing"), &mut options).unwrap_err();
        assert!(is_gone(&missing));
        // A directory either refuses to open as a file or opens and says what it is.
        match open(dir.path(), &mut options) {
            Ok(d) => assert_eq!(kind_name(&d.metadata().unwrap().file_type()), "a directory"),
            Err(e) => assert!(is_not_plain_error(&e), "{e}"),
        }
    }

    #[cfg(unix)] // Creating a symbolic link needs a privilege on Windows (and Wine creates none).
    #[test]
    fn a_link_is_refused_and_nothing_is_created_through_a_dangling_one() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("target");
        let path = dir.path().join("link");
        std::os::unix::fs::symlink(&target, &path).unwrap();
        let mut options = OpenOptions::new();
        options.read(true).write(true).create(true).truncate(false);
        let e = open(&path, &mut options).unwrap_err();
        assert!(is_link_error(&e) && is_not_plain_error(&e), "{e}");
        assert!(!target.exists());
    }
}
