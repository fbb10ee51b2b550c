//! Starting the write-back of a file's freshly written bytes early, while writing goes on.
//!
//! A long copy into a file that must end durable (an artifact upload) is fastest when the disk
//! writes while the copy is still producing bytes: otherwise every byte waits in the page cache
//! for the final flush, and the copy and the disk take turns. [`start_writeback`] asks the kernel
//! to begin writing a range out now, without waiting for it and without a device cache flush
//! (which an `fdatasync` per step would cost). It is only a hint about timing: it never makes
//! anything durable, so the caller still flushes the file (`sync_data` / `sync_all`) before it
//! relies on the bytes.
//!
//! - Linux: `sync_file_range(SYNC_FILE_RANGE_WRITE)`. On this machine's disk a 256 MiB copy with
//!   a hint every 8 MiB and one `fdatasync` at the end ran at 2.5-2.6 GB/s, against 1.7-1.8 GB/s
//!   with the `fdatasync` alone (`bench/artifacts.py`, and docs/ARTIFACTS.md).
//! - Other platforms: nothing (no such call); the final flush does all the writing.

use std::fs::File;
use std::io;

/// Asks the kernel to start writing out bytes `offset..offset + len` of `file`, which this
/// process wrote, and returns without waiting (see the module docs). An error means the range
/// could not be submitted (an I/O error the final flush would report as well): the caller
/// treats it as a failed write.
pub(crate) fn start_writeback(file: &File, offset: u64, len: u64) -> io::Result<()> {
    imp::start_writeback(file, offset, len)
}

#[cfg(target_os = "linux")]
mod imp {
    use std::fs::File;
    use std::io;
    use std::os::fd::AsRawFd;

    pub(super) fn start_writeback(file: &File, offset: u64, len: u64) -> io::Result<()> {
        let (Ok(offset), Ok(len)) = (i64::try_from(offset), i64::try_from(len)) else {
            return Ok(()); // past what the call can name: the final flush writes it
        };
        // SAFETY: the descriptor is open for as long as `file` is borrowed; the call reads only
        // its integer arguments.
        let rc = unsafe {
            libc::sync_file_range(file.as_raw_fd(), offset, len, libc::SYNC_FILE_RANGE_WRITE)
        };
        if rc == 0 { Ok(()) } else { Err(io::Error::last_os_error()) }
    }
}

#[cfg(not(target_os = "linux"))]
mod imp {
    use std::fs::File;
    use std::io;

    pub(super) fn start_writeback(_: &File, _: u64, _: u64) -> io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn a_hinted_range_is_written_and_reads_back_after_the_flush() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        let mut file = File::create(&path).unwrap();
        let block = vec![0x5a; 1 << 20];
        for i in 0..4u64 {
            file.write_all(&block).unwrap();
            start_writeback(&file, i << 20, 1 << 20).unwrap();
        }
        // A range past the end, and an empty one, are accepted as well.
        start_writeback(&file, 8 << 20, 1 << 20).unwrap();
        start_writeback(&file, 0, 0).unwrap();
        file.sync_all().unwrap();
        let back = std::fs::read(&path).unwrap();
        assert_eq!(back.len(), 4 << 20);
        assert!(back.iter().all(|b| *b == 0x5a));
    }

    #[test]
    fn a_range_the_kernel_refuses_is_an_error_on_linux_and_ignored_elsewhere() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        std::fs::write(&path, b"x").unwrap();
        let file = File::options().write(true).open(&path).unwrap();
        // Its end lies past the largest offset a file can have.
        let result = start_writeback(&file, i64::MAX as u64, 1);
        if cfg!(target_os = "linux") {
            assert_eq!(result.unwrap_err().raw_os_error(), Some(22)); // EINVAL
        } else {
            result.unwrap();
        }
    }
}
