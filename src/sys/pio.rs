//! Positioned I/O.
//!
//! Contract: [`read_at`] and [`write_at`] make one system call that transfers bytes at `offset`
//! of the file and may transfer fewer than asked (the caller loops, see [`write_all_at`]); no
//! other thread's positioned call on the same file is disturbed. Unix: `pread`/`pwrite`.
//! Windows: `ReadFile`/`WriteFile` with the offset in an `OVERLAPPED` (std's `seek_read` and
//! `seek_write`), which also moves the handle's cursor: trialog never uses the cursor of a
//! handle it reads or writes at offsets. A read at or past the end returns 0 on both.

use std::fs::File;
use std::io::{self, ErrorKind};

/// One positioned read of up to `buf.len()` bytes at `offset`.
#[inline]
pub(crate) fn read_at(file: &File, buf: &mut [u8], offset: u64) -> io::Result<usize> {
    #[cfg(unix)]
    return std::os::unix::fs::FileExt::read_at(file, buf, offset);
    #[cfg(windows)]
    return std::os::windows::fs::FileExt::seek_read(file, buf, offset);
}

/// One positioned write of up to `buf.len()` bytes at `offset`.
#[inline]
pub(crate) fn write_at(file: &File, buf: &[u8], offset: u64) -> io::Result<usize> {
    #[cfg(unix)]
    return std::os::unix::fs::FileExt::write_at(file, buf, offset);
    #[cfg(windows)]
    return std::os::windows::fs::FileExt::seek_write(file, buf, offset);
}

/// Writes all of `buf` at `offset`: a short write continues where it stopped, an interrupted one
/// is retried; any other error is returned (some bytes may have been written by then).
pub(crate) fn write_all_at(file: &File, buf: &[u8], offset: u64) -> io::Result<()> {
    let mut done = 0;
    while done < buf.len() {
        match write_at(file, &buf[done..], offset + done as u64) {
            Ok(0) => return Err(io::Error::new(ErrorKind::WriteZero, "a write wrote nothing")),
            Ok(n) => done += n,
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_and_writes_at_offsets_and_reads_nothing_past_the_end() {
        let dir = tempfile::tempdir().unwrap();
        let file = File::options()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .open(dir.path().join("f"))
            .unwrap();
        write_all_at(&file, b"world", 6).unwrap();
        write_all_at(&file, b"hello ", 0).unwrap();
        let mut buf = [0u8; 11];
        assert_eq!(read_at(&file, &mut buf, 0).unwrap(), 11);
        assert_eq!(&buf, b"hello world");
        assert_eq!(read_at(&file, &mut buf, 11).unwrap(), 0);
        assert_eq!(read_at(&file, &mut buf, 1000).unwrap(), 0);
    }
}
