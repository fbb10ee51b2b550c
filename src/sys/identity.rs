//! Which file a handle or a path names, and what changed about it.
//!
//! Contract: a [`Look`] at a file gives its [`FileId`], which two looks share exactly when they
//! saw the same file (while it exists; a later file may reuse a dead file's id only where the
//! platform reuses it, see below), its length, its number of names, and its modification and
//! change times in nanoseconds since the Unix epoch.
//!
//! Unix: `fstat`/`stat`/`lstat` (device and inode; a freed inode number is often reused at once,
//! which is why lock observations also compare times). Windows: `GetFileInformationByHandle`
//! (volume serial number and the 64-bit file index; NTFS puts a sequence number into the index,
//! so a reused record gets another id; ReFS may need the 128-bit id, which this does not read)
//! and `GetFileInformationByHandleEx(FileBasicInfo)` for the times. A look at a path opens it
//! on Windows (for attributes only, sharing read, write and delete, so it never stands in the way
//! of another process's rename or delete).

use std::fs::File;
use std::io;
use std::path::Path;

/// The identity of a file on its host (device and inode; on Windows volume serial number and
/// file index).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct FileId {
    volume: u64,
    index: u64,
}

impl FileId {
    /// The two numbers that make the identity (device or volume, inode or file index), for
    /// records that name a file (the successor record of a compaction).
    pub(crate) fn to_parts(self) -> (u64, u64) {
        (self.volume, self.index)
    }

    /// The identity [`FileId::to_parts`] gave.
    pub(crate) fn from_parts(volume: u64, index: u64) -> Self {
        FileId { volume, index }
    }
}

/// One look at a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Look {
    /// Which file it is.
    pub(crate) id: FileId,
    /// Its length in bytes.
    pub(crate) len: u64,
    /// How many names (hard links) it has.
    pub(crate) links: u64,
    /// Its modification time, nanoseconds since the Unix epoch.
    pub(crate) modified_ns: i128,
    /// Its change time (metadata or data), nanoseconds since the Unix epoch.
    pub(crate) changed_ns: i128,
}

/// A look at the open file.
pub(crate) fn of_file(file: &File) -> io::Result<Look> {
    imp::of_file(file)
}

/// A look at the file `path` names now (following symbolic links) whose length and times the
/// file's server confirmed, never answered from a network file system client's attribute cache:
/// Linux `statx` with `AT_STATX_FORCE_SYNC` (one system call, the same as a plain `stat` on a
/// local file system; on NFS and SMB it revalidates, and a change it sees also invalidates the
/// client's cached data); other Unix systems open the path and `fstat` the new descriptor
/// (close-to-open consistency: an NFS open revalidates); Windows opens a handle and asks it (an
/// SMB open reaches the server), as every look at a path does there.
pub(crate) fn of_path_confirmed(path: &Path) -> io::Result<Look> {
    imp::of_path_confirmed(path)
}

/// A look at `path` itself: a symbolic link there is looked at, not followed.
pub(crate) fn of_link(path: &Path) -> io::Result<Look> {
    imp::of_link(path)
}

#[cfg(unix)]
mod imp {
    use super::{FileId, Look};
    use std::fs::{self, File, Metadata};
    use std::io;
    use std::os::unix::fs::MetadataExt;
    use std::path::Path;

    fn look(m: &Metadata) -> Look {
        let ns = |s: i64, n: i64| i128::from(s) * 1_000_000_000 + i128::from(n);
        Look {
            id: FileId { volume: m.dev(), index: m.ino() },
            len: m.len(),
            links: m.nlink(),
            modified_ns: ns(m.mtime(), m.mtime_nsec()),
            changed_ns: ns(m.ctime(), m.ctime_nsec()),
        }
    }

    pub(super) fn of_file(file: &File) -> io::Result<Look> {
        Ok(look(&file.metadata()?))
    }

    pub(super) fn of_link(path: &Path) -> io::Result<Look> {
        Ok(look(&fs::symlink_metadata(path)?))
    }

    #[cfg(target_os = "linux")]
    pub(super) fn of_path_confirmed(path: &Path) -> io::Result<Look> {
        use std::os::unix::ffi::OsStrExt;
        let c = std::ffi::CString::new(path.as_os_str().as_bytes())
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "path contains a NUL byte"))?;
        // SAFETY: `c` is a NUL-terminated path that outlives the call; `buf` is plain data the
        // kernel fills in and is only read after the call succeeded.
        let buf = unsafe {
            let mut buf: libc::statx = std::mem::zeroed();
            let flags = libc::AT_STATX_FORCE_SYNC;
            if libc::statx(libc::AT_FDCWD, c.as_ptr(), flags, libc::STATX_BASIC_STATS, &mut buf)
                != 0
            {
                let e = io::Error::last_os_error();
                if e.raw_os_error() == Some(libc::ENOSYS) {
                    // A kernel before 4.11: fall back to close-to-open.
                    return by_open(path);
                }
                return Err(e);
            }
            buf
        };
        let ns =
            |t: libc::statx_timestamp| i128::from(t.tv_sec) * 1_000_000_000 + i128::from(t.tv_nsec);
        Ok(Look {
            id: FileId {
                volume: libc::makedev(buf.stx_dev_major, buf.stx_dev_minor),
                index: buf.stx_ino,
            },
            len: buf.stx_size,
            links: u64::from(buf.stx_nlink),
            modified_ns: ns(buf.stx_mtime),
            changed_ns: ns(buf.stx_ctime),
        })
    }

    #[cfg(not(target_os = "linux"))]
    pub(super) fn of_path_confirmed(path: &Path) -> io::Result<Look> {
        by_open(path)
    }

    /// Close-to-open: opening the path revalidates a network client's cache.
    fn by_open(path: &Path) -> io::Result<Look> {
        use std::os::unix::fs::OpenOptionsExt;
        let file = fs::OpenOptions::new().read(true).custom_flags(libc::O_NONBLOCK).open(path)?;
        of_file(&file)
    }
}

#[cfg(windows)]
mod imp {
    use super::{FileId, Look};
    use std::fs::{File, OpenOptions};
    use std::io;
    use std::os::windows::fs::OpenOptionsExt;
    use std::os::windows::io::AsRawHandle;
    use std::path::Path;
    use windows_sys::Win32::Foundation::FILETIME;
    use windows_sys::Win32::Storage::FileSystem::{
        BY_HANDLE_FILE_INFORMATION, FILE_BASIC_INFO, FILE_FLAG_BACKUP_SEMANTICS,
        FILE_FLAG_OPEN_REPARSE_POINT, FILE_READ_ATTRIBUTES, FILE_SHARE_DELETE, FILE_SHARE_READ,
        FILE_SHARE_WRITE, FileBasicInfo, GetFileInformationByHandle, GetFileInformationByHandleEx,
    };

    /// 100 ns intervals between 1601-01-01 (Windows' epoch) and 1970-01-01.
    const EPOCH_DIFF_100NS: i128 = 116_444_736_000_000_000;

    fn ns_from_100ns(t: i128) -> i128 {
        (t - EPOCH_DIFF_100NS) * 100
    }

    fn filetime(t: FILETIME) -> i128 {
        ns_from_100ns((i128::from(t.dwHighDateTime) << 32) | i128::from(t.dwLowDateTime))
    }

    pub(super) fn of_file(file: &File) -> io::Result<Look> {
        let handle = file.as_raw_handle();
        // SAFETY: both structs are plain data that the calls fill in; `handle` is a valid open
        // handle owned by `file`, which outlives the calls; the size passed is the struct's.
        let (info, basic) = unsafe {
            let mut info: BY_HANDLE_FILE_INFORMATION = std::mem::zeroed();
            if GetFileInformationByHandle(handle, &mut info) == 0 {
                return Err(io::Error::last_os_error());
            }
            let mut basic: FILE_BASIC_INFO = std::mem::zeroed();
            let size = std::mem::size_of::<FILE_BASIC_INFO>() as u32;
            if GetFileInformationByHandleEx(handle, FileBasicInfo, (&raw mut basic).cast(), size)
                == 0
            {
                return Err(io::Error::last_os_error());
            }
            (info, basic)
        };
        Ok(Look {
            id: FileId {
                volume: u64::from(info.dwVolumeSerialNumber),
                index: (u64::from(info.nFileIndexHigh) << 32) | u64::from(info.nFileIndexLow),
            },
            len: (u64::from(info.nFileSizeHigh) << 32) | u64::from(info.nFileSizeLow),
            links: u64::from(info.nNumberOfLinks),
            modified_ns: filetime(info.ftLastWriteTime),
            changed_ns: ns_from_100ns(i128::from(basic.ChangeTime)),
        })
    }

    fn open_attributes(path: &Path, flags: u32) -> io::Result<File> {
        OpenOptions::new()
            .access_mode(FILE_READ_ATTRIBUTES)
            .share_mode(FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE)
            .custom_flags(FILE_FLAG_BACKUP_SEMANTICS | flags)
            .open(path)
    }

    pub(super) fn of_path(path: &Path) -> io::Result<Look> {
        of_file(&open_attributes(path, 0)?)
    }

    pub(super) fn of_link(path: &Path) -> io::Result<Look> {
        of_file(&open_attributes(path, FILE_FLAG_OPEN_REPARSE_POINT)?)
    }

    pub(super) fn of_path_confirmed(path: &Path) -> io::Result<Look> {
        of_path(path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_keeps_its_id_a_new_file_gets_another() {
        let dir = tempfile::tempdir().unwrap();
        let a = dir.path().join("a");
        std::fs::write(&a, b"12345").unwrap();
        let file = File::open(&a).unwrap();
        let by_handle = of_file(&file).unwrap();
        let by_path = of_path_confirmed(&a).unwrap();
        assert_eq!(by_handle, by_path);
        assert_eq!(of_link(&a).unwrap().id, by_path.id);
        assert_eq!((by_path.len, by_path.links), (5, 1));
        // Renamed: the same file under another name; the old handle still sees it.
        let b = dir.path().join("b");
        std::fs::rename(&a, &b).unwrap();
        assert_eq!(of_path_confirmed(&b).unwrap().id, by_handle.id);
        // A new file at the old name is another file (the old one is still open, so its id
        // cannot have been reused).
        std::fs::write(&a, b"x").unwrap();
        assert_ne!(of_path_confirmed(&a).unwrap().id, by_handle.id);
        std::fs::hard_link(&b, dir.path().join("c")).unwrap();
        assert_eq!(of_file(&file).unwrap().links, 2);
        let missing = of_path_confirmed(&dir.path().join("missing")).unwrap_err();
        assert_eq!(missing.kind(), io::ErrorKind::NotFound);
    }

    #[test]
    fn times_are_nanoseconds_since_the_unix_epoch() {
        let dir = tempfile::tempdir().unwrap();
        let a = dir.path().join("a");
        std::fs::write(&a, b"x").unwrap();
        let look = of_path_confirmed(&a).unwrap();
        let now =
            std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos()
                as i128;
        let hour = 3_600_000_000_000i128;
        assert!((look.modified_ns - now).abs() < hour, "{} vs {now}", look.modified_ns);
        assert!((look.changed_ns - now).abs() < hour, "{} vs {now}", look.changed_ns);
    }
}
