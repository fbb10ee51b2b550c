//! The advisory lock on a lock file.
//!
//! Contract: at most one open handle on any process of this host (and, where the file system's
//! lock manager works, of any host) holds the lock of one file at a time; the lock is released by
//! [`unlock`], by closing the handle, or by the operating system when the holding process dies
//! (also when it is killed). Holding it never stops another handle reading or writing the file's
//! bytes, so a waiter can read the holder's owner record. Threads are not excluded by this lock
//! (the caller's in-process gate does that).
//!
//! Unix: `flock(LOCK_EX)` on the whole file (advisory: reads and writes are never blocked).
//! Windows: `LockFileEx` on the single byte at offset [`LOCK_OFFSET`] (2^62), far beyond any
//! data. Windows byte-range locks are mandatory for the range they cover: a lock on the whole
//! file, as `fs2` takes, would make the owner record in the first bytes unreadable to waiters.

use std::fs::File;
use std::io;

/// Windows only: the byte whose lock is the file's lock (beyond any data the file holds; Windows
/// allows locking bytes past the end).
#[cfg_attr(unix, allow(dead_code))]
pub(crate) const LOCK_OFFSET: u64 = 1 << 62;

/// Waits until this handle holds the lock. May fail with `Interrupted` (the caller retries).
pub(crate) fn lock(file: &File) -> io::Result<()> {
    imp::lock(file, true).map(|_| ())
}

/// Takes the lock if nobody holds it: `Ok(false)` when another handle does.
pub(crate) fn try_lock(file: &File) -> io::Result<bool> {
    imp::lock(file, false)
}

/// Releases the lock this handle holds.
pub(crate) fn unlock(file: &File) -> io::Result<()> {
    imp::unlock(file)
}

#[cfg(unix)]
mod imp {
    use std::fs::File;
    use std::io;
    use std::os::fd::AsRawFd;

    pub(super) fn lock(file: &File, wait: bool) -> io::Result<bool> {
        let op = if wait { libc::LOCK_EX } else { libc::LOCK_EX | libc::LOCK_NB };
        // SAFETY: the descriptor is valid and owned by `file`, which outlives the call.
        if unsafe { libc::flock(file.as_raw_fd(), op) } == 0 {
            return Ok(true);
        }
        let e = io::Error::last_os_error();
        if e.raw_os_error() == Some(libc::EWOULDBLOCK) { Ok(false) } else { Err(e) }
    }

    pub(super) fn unlock(file: &File) -> io::Result<()> {
        // SAFETY: as above.
        if unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_UN) } == 0 {
            Ok(())
        } else {
            Err(io::Error::last_os_error())
        }
    }
}

#[cfg(windows)]
mod imp {
    use super::LOCK_OFFSET;
    use std::fs::File;
    use std::io;
    use std::os::windows::io::AsRawHandle;
    use windows_sys::Win32::Foundation::{ERROR_IO_PENDING, ERROR_LOCK_VIOLATION};
    use windows_sys::Win32::Storage::FileSystem::{
        LOCKFILE_EXCLUSIVE_LOCK, LOCKFILE_FAIL_IMMEDIATELY, LockFileEx, UnlockFileEx,
    };
    use windows_sys::Win32::System::IO::OVERLAPPED;

    fn at_lock_byte() -> OVERLAPPED {
        // SAFETY: OVERLAPPED is plain data; all zeros is its documented initial state.
        let mut overlapped: OVERLAPPED = unsafe { std::mem::zeroed() };
        overlapped.Anonymous.Anonymous.Offset = LOCK_OFFSET as u32;
        overlapped.Anonymous.Anonymous.OffsetHigh = (LOCK_OFFSET >> 32) as u32;
        overlapped
    }

    pub(super) fn lock(file: &File, wait: bool) -> io::Result<bool> {
        let mut flags = LOCKFILE_EXCLUSIVE_LOCK;
        if !wait {
            flags |= LOCKFILE_FAIL_IMMEDIATELY;
        }
        let mut overlapped = at_lock_byte();
        // SAFETY: the handle is valid and owned by `file`, which outlives the call; it was not
        // opened for overlapped I/O, so the call completes (or fails) before returning and
        // `overlapped` (which only carries the offset) is not used afterwards.
        let ok = unsafe { LockFileEx(file.as_raw_handle(), flags, 0, 1, 0, &mut overlapped) };
        if ok != 0 {
            return Ok(true);
        }
        let e = io::Error::last_os_error();
        match e.raw_os_error() {
            Some(code)
                if code == ERROR_LOCK_VIOLATION as i32 || code == ERROR_IO_PENDING as i32 =>
            {
                Ok(false)
            }
            _ => Err(e),
        }
    }

    pub(super) fn unlock(file: &File) -> io::Result<()> {
        let mut overlapped = at_lock_byte();
        // SAFETY: as in `lock`.
        let ok = unsafe { UnlockFileEx(file.as_raw_handle(), 0, 1, 0, &mut overlapped) };
        if ok != 0 { Ok(()) } else { Err(io::Error::last_os_error()) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn excludes_other_handles_and_leaves_the_bytes_readable() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("j.lock");
        std::fs::write(&path, b"owner record").unwrap();
        let open = || File::options().read(true).write(true).open(&path).unwrap();
        let (a, b) = (open(), open());
        assert!(try_lock(&a).unwrap());
        assert!(!try_lock(&b).unwrap());
        let mut buf = [0u8; 12];
        assert_eq!(crate::sys::pio::read_at(&b, &mut buf, 0).unwrap(), 12);
        assert_eq!(&buf, b"owner record");
        crate::sys::pio::write_all_at(&b, b"OWNER", 0).unwrap();
        unlock(&a).unwrap();
        assert!(try_lock(&b).unwrap());
        drop(b); // closing the handle releases its lock
        lock(&a).unwrap();
        unlock(&a).unwrap();
    }
}
