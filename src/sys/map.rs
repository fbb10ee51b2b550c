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

/// The whole of a file that may be renamed over while it is held (a snapshot): mapped where that
/// is allowed, read into memory where it is not.
#[derive(Debug)]
pub(crate) enum Whole {
    /// A read-only map (Unix). Whoever replaces the file renames a new one over it, so the mapped
    /// file itself is never changed or shrunk by trialog.
    Mapped(Mmap),
    /// A copy (Windows, where a mapped file cannot be renamed over; and small files).
    Read(Vec<u8>),
}

impl std::ops::Deref for Whole {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        match self {
            Whole::Mapped(map) => map,
            Whole::Read(bytes) => bytes,
        }
    }
}

impl Whole {
    /// Says that `len` bytes from `offset` will not be read soon: a map's pages there leave the
    /// process's resident memory (a later read faults them in again from the file, unchanged:
    /// the map is read-only). Nothing for a copy.
    pub(crate) fn release(&self, offset: usize, len: usize) {
        #[cfg(unix)]
        if let Whole::Mapped(map) = self {
            let len = len.min(map.len().saturating_sub(offset));
            // SAFETY: the map is read-only and of a file trialog never changes in place, so
            // dropping its pages loses nothing: they read back the same.
            let _ = unsafe {
                map.unchecked_advise_range(memmap2::UncheckedAdvice::DontNeed, offset, len)
            };
        }
        let _ = (offset, len);
    }
}

/// Files smaller than this are read rather than mapped.
const READ_BELOW: u64 = 64 << 10;

/// [`Whole`] of `file`, as it is now.
pub(crate) fn whole_replaceable(file: &File) -> io::Result<Whole> {
    let len = file.metadata()?.len();
    if cfg!(windows) || len < READ_BELOW {
        let mut bytes = Vec::with_capacity(usize::try_from(len).unwrap_or(0));
        io::Read::read_to_end(&mut &*file, &mut bytes)?;
        return Ok(Whole::Read(bytes));
    }
    map_readonly(file).map(Whole::Mapped)
}
