//! Read-only memory maps, for cold replay.
//!
//! Contract: [`map_readonly`] maps the whole file as it is now. The journal protocol makes this
//! sound in practice: bytes before the end of the last valid frame are never modified (the log is
//! append-only, and torn-tail repair only overwrites bytes after the last valid frame), and the
//! file never shrinks (repair pads instead of truncating), so no mapped page can disappear (no
//! SIGBUS on Unix). Callers only trust bytes that pass the frame CRC, and they re-read the
//! unverified tail with positioned reads before calling it corrupt.
//!
//! Windows adds one rule of its own: while a view is mapped, the file cannot shrink
//! (`ERROR_USER_MAPPED_FILE`) and cannot be replaced by a rename; trialog maps only for the
//! duration of one read and never shrinks a trialog journal.

use std::fs::File;
use std::io;

use memmap2::{Mmap, MmapOptions};

/// Maps `file` read-only (see the module docs).
pub(crate) fn map_readonly(file: &File) -> io::Result<Mmap> {
    // SAFETY: see the module docs: the mapped prefix is immutable by protocol, the file never
    // shrinks, and bytes past the last valid frame are only ever checked, never trusted.
    unsafe { MmapOptions::new().map(file) }
}
