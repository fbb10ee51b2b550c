//! The crate's only `unsafe` code: thin wrappers over system calls that std does not offer.
//! Everything else in the library is `#![deny(unsafe_code)]`.
#![allow(unsafe_code)]

use std::ffi::CString;
use std::fs::{File, OpenOptions};
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use memmap2::{Mmap, MmapOptions};

/// Maps `file` read-only, for cold replay.
///
/// The journal protocol makes this sound in practice: bytes before the end of the last valid
/// frame are never modified (the log is append-only, and torn-tail repair only overwrites bytes
/// after the last valid frame), and the file never shrinks (repair pads instead of truncating),
/// so no mapped page can disappear (no SIGBUS). Callers only trust bytes that pass the frame CRC,
/// and they re-read the unverified tail with `pread` before calling it corrupt.
pub(crate) fn map_readonly(file: &File) -> io::Result<Mmap> {
    // SAFETY: see the function docs: the mapped prefix is immutable by protocol, the file never
    // shrinks, and bytes past the last valid frame are only ever checked, never trusted.
    unsafe { MmapOptions::new().map(file) }
}

/// This host's name as the kernel reports it (`gethostname`), or `None` if the call fails.
pub(crate) fn hostname() -> Option<Vec<u8>> {
    let mut buf = [0u8; 256];
    // SAFETY: the pointer and length describe `buf`, which outlives the call.
    let rc = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) };
    if rc != 0 {
        return None;
    }
    let len = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
    Some(buf[..len].to_vec())
}

/// Sets the modification time of the symlink at `path` itself (not its target) to now
/// (`utimensat` with `AT_SYMLINK_NOFOLLOW`).
pub(crate) fn touch_symlink(path: &Path) -> io::Result<()> {
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

/// Opens `path` with `options` plus `O_NOFOLLOW | O_NONBLOCK`.
///
/// Contract: a symbolic link at the last component of `path` is never followed: the open fails
/// with `ELOOP` (also with `create`, so a dangling link cannot make it create a file elsewhere);
/// links in the directories above are followed as usual. Opening a FIFO or a device never
/// blocks. `O_NONBLOCK` is cleared again before the file is returned, so it behaves as a file
/// opened without it. What kind of file was opened is not checked: the caller `fstat`s it.
#[cfg(unix)]
pub(crate) fn open_no_follow(path: &Path, options: &mut OpenOptions) -> io::Result<File> {
    use std::os::fd::AsRawFd;
    use std::os::unix::fs::OpenOptionsExt;
    let file = options.custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK).open(path)?;
    let fd = file.as_raw_fd();
    // SAFETY: `fd` is a valid descriptor owned by `file`, which outlives both calls; F_GETFL and
    // F_SETFL read and set status flags only.
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
