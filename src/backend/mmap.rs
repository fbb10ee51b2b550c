//! The crate's only `unsafe`: mapping a journal file read-only for cold replay.

use std::fs::File;

use memmap2::{Mmap, MmapOptions};

/// Maps `file` read-only.
///
/// The journal protocol makes this sound in practice: bytes before the end of the last valid
/// frame are never modified (the log is append-only, and torn-tail repair only overwrites bytes
/// after the last valid frame), and the file never shrinks (repair pads instead of truncating),
/// so no mapped page can disappear (no SIGBUS). Callers only trust bytes that pass the frame CRC,
/// and they re-read the unverified tail with `pread` before calling it corrupt.
pub(crate) fn map(file: &File) -> std::io::Result<Mmap> {
    // SAFETY: see the function docs: the mapped prefix is immutable by protocol, the file never
    // shrinks, and bytes past the last valid frame are only ever checked, never trusted.
    unsafe { MmapOptions::new().map(file) }
}
