//! Symbolic links (the symlink lease lock and Optuna's symlink lock).
//!
//! Contract: [`symlink`] creates a symbolic link at `path` whose target is the text `target`, or
//! fails; it never reports success without a link being there. When it fails because this
//! platform or this process cannot create links at all, [`unavailable`] says why in words (never
//! as a raw OS error code), so the caller can name the fix. [`touch`] sets the link's own
//! modification time to now, never its target's. [`is_not_a_link_error`] recognises the error
//! `read_link` gives on a path that is not a link.
//!
//! Unix: `symlink(2)`, `utimensat(AT_SYMLINK_NOFOLLOW)`, `EINVAL`. Windows: `CreateSymbolicLinkW`,
//! which needs the `SeCreateSymbolicLinkPrivilege` privilege (an administrator, or Developer
//! Mode) and otherwise fails with `ERROR_PRIVILEGE_NOT_HELD`; Wine reports success without
//! creating anything, which the check after creating catches. The link's time is set through a
//! handle opened on the link itself (`FILE_FLAG_OPEN_REPARSE_POINT`); `read_link` on a plain
//! file fails with `ERROR_NOT_A_REPARSE_POINT`.

use std::io;
use std::path::Path;

/// Creates a symbolic link at `path` pointing at `target` (which need not exist); fails with
/// `AlreadyExists` if anything is at `path`.
pub(crate) fn symlink(target: &Path, path: &Path) -> io::Result<()> {
    imp::symlink(target, path)
}

/// Why symbolic links cannot be created here, if `e` (from [`symlink`]) says so.
pub(crate) fn unavailable(e: &io::Error) -> Option<&'static str> {
    imp::unavailable(e)
}

/// Sets the modification time of the link at `path` itself (not its target) to now.
pub(crate) fn touch(path: &Path) -> io::Result<()> {
    imp::touch(path)
}

/// Whether `e` (from `std::fs::read_link`) means "there is a file here, but not a link".
pub(crate) fn is_not_a_link_error(e: &io::Error) -> bool {
    e.raw_os_error() == Some(imp::NOT_A_LINK)
}

#[cfg(unix)]
mod imp {
    use std::ffi::CString;
    use std::io;
    use std::os::unix::ffi::OsStrExt;
    use std::path::Path;

    pub(super) const NOT_A_LINK: i32 = libc::EINVAL;

    pub(super) fn symlink(target: &Path, path: &Path) -> io::Result<()> {
        std::os::unix::fs::symlink(target, path)
    }

    pub(super) fn unavailable(e: &io::Error) -> Option<&'static str> {
        (e.raw_os_error() == Some(libc::EPERM))
            .then_some("the file system does not support symbolic links")
    }

    pub(super) fn touch(path: &Path) -> io::Result<()> {
        let c_path = CString::new(path.as_os_str().as_bytes())
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "path contains a NUL byte"))?;
        // SAFETY: `c_path` is a valid NUL-terminated string; a null `times` means "now".
        let rc = unsafe {
            libc::utimensat(
                libc::AT_FDCWD,
                c_path.as_ptr(),
                std::ptr::null(),
                libc::AT_SYMLINK_NOFOLLOW,
            )
        };
        if rc == 0 { Ok(()) } else { Err(io::Error::last_os_error()) }
    }
}

#[cfg(windows)]
mod imp {
    use std::fs::OpenOptions;
    use std::io;
    use std::os::windows::fs::OpenOptionsExt;
    use std::path::Path;
    use windows_sys::Win32::Foundation::{ERROR_NOT_A_REPARSE_POINT, ERROR_PRIVILEGE_NOT_HELD};
    use windows_sys::Win32::Storage::FileSystem::{
        FILE_FLAG_BACKUP_SEMANTICS, FILE_FLAG_OPEN_REPARSE_POINT, FILE_WRITE_ATTRIBUTES,
    };

    pub(super) const NOT_A_LINK: i32 = ERROR_NOT_A_REPARSE_POINT as i32;

    /// The message of the error for "the call said yes, but no link is there".
    const NOT_CREATED: &str = "the system reported the symbolic link created, but no link is there \
         (this system does not create symbolic links; Wine, for example)";

    pub(super) fn symlink(target: &Path, path: &Path) -> io::Result<()> {
        std::os::windows::fs::symlink_file(target, path)?;
        match std::fs::symlink_metadata(path) {
            Ok(meta) if meta.file_type().is_symlink() => Ok(()),
            _ => Err(io::Error::new(io::ErrorKind::Unsupported, NOT_CREATED)),
        }
    }

    pub(super) fn unavailable(e: &io::Error) -> Option<&'static str> {
        if e.raw_os_error() == Some(ERROR_PRIVILEGE_NOT_HELD as i32) {
            return Some(
                "this process does not hold the SeCreateSymbolicLinkPrivilege privilege \
                 (held by administrators, and by everyone in Developer Mode)",
            );
        }
        let ours = e.kind() == io::ErrorKind::Unsupported
            && e.get_ref().is_some_and(|inner| inner.to_string() == NOT_CREATED);
        ours.then_some(NOT_CREATED)
    }

    pub(super) fn touch(path: &Path) -> io::Result<()> {
        let link = OpenOptions::new()
            .access_mode(FILE_WRITE_ATTRIBUTES)
            .custom_flags(FILE_FLAG_OPEN_REPARSE_POINT | FILE_FLAG_BACKUP_SEMANTICS)
            .open(path)?;
        link.set_modified(std::time::SystemTime::now())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_link_is_created_and_touched_or_the_reason_is_given_in_words() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("link");
        match symlink(Path::new("no such target"), &path) {
            Ok(()) => {
                let target = std::fs::read_link(&path).unwrap();
                assert_eq!(target.as_os_str(), "no such target");
                let before = std::fs::symlink_metadata(&path).unwrap().modified().unwrap();
                std::thread::sleep(std::time::Duration::from_millis(20));
                touch(&path).unwrap();
                let after = std::fs::symlink_metadata(&path).unwrap().modified().unwrap();
                assert!(after > before);
                let again = symlink(Path::new("other"), &path).unwrap_err();
                assert_eq!(again.kind(), io::ErrorKind::AlreadyExists);
            }
            Err(e) => {
                let reason = unavailable(&e).unwrap_or_else(|| panic!("no reason for {e}"));
                assert!(!reason.contains("os error"), "{reason}");
                assert!(std::fs::symlink_metadata(&path).is_err(), "a link is there after all");
            }
        }
        std::fs::write(dir.path().join("plain"), b"x").unwrap();
        let e = std::fs::read_link(dir.path().join("plain")).unwrap_err();
        assert!(is_not_a_link_error(&e), "{e:?}");
    }
}
