//! A compaction's successor record, `<journal>.compacted` (`docs/FORMAT.md`, "Compacted
//! journals: the successor record").
//!
//! `trialog compact` writes it, durably, holding the writers' lock, before it renames the
//! compacted journal into place. It names the old journal file and where it ended (the
//! compaction covered all of it: nobody appends while the lock is held), the new journal file,
//! and the position in the new file whose replayed state is the old file's at its end. A handle
//! that has the old file open and has read it to that end continues in the new file at that
//! position with the state it has.
//!
//! Files are named by their identity on the host (device and inode; on Windows volume serial
//! number and file index): a handle compares the old one with the file it holds open, whose
//! identity no other file can take while it is open, and the new one with the file the path
//! names now. The record is only ever a shortcut: missing, damaged, naming other files, or of an
//! unknown version, it is not used, and a handle of the replaced journal fails its next write
//! with [`Error::JournalReplaced`](crate::error::Error::JournalReplaced), as without it.

use std::path::{Path, PathBuf};

use crate::sys::identity::FileId;

/// The file's first 8 bytes.
const MAGIC: [u8; 8] = *b"\x89TLSUCC\n";
/// The version this build writes and reads.
const VERSION: u16 = 1;
/// Bytes in a record: magic, version, flags, two (identity, end) pairs, the CRC.
pub(crate) const LEN: usize = 8 + 2 + 2 + 2 * (8 + 8 + 8) + 4;

/// Where a compacted journal continues the journal file it replaced.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Successor {
    /// The old journal file.
    pub old: FileId,
    /// Where the old journal's log ended (every byte before it was compacted).
    pub old_end: u64,
    /// The new journal file.
    pub new: FileId,
    /// The position in the new journal whose state is the old journal's at `old_end`.
    pub new_end: u64,
}

/// The successor record of the journal at `journal`: `<journal>.compacted`.
pub(crate) fn path_for(journal: &Path) -> PathBuf {
    let mut name = journal.as_os_str().to_owned();
    name.push(".compacted");
    PathBuf::from(name)
}

/// The record's bytes (little-endian, `docs/FORMAT.md`).
pub(crate) fn encode(s: &Successor) -> Vec<u8> {
    let mut out = Vec::with_capacity(LEN);
    out.extend_from_slice(&MAGIC);
    out.extend_from_slice(&VERSION.to_le_bytes());
    out.extend_from_slice(&0u16.to_le_bytes());
    for (id, end) in [(s.old, s.old_end), (s.new, s.new_end)] {
        let (volume, index) = id.to_parts();
        for n in [volume, index, end] {
            out.extend_from_slice(&n.to_le_bytes());
        }
    }
    let crc = crc32fast::hash(&out);
    out.extend_from_slice(&crc.to_le_bytes());
    out
}

/// Decodes a record; `Err` says why it is not one this build can use.
pub(crate) fn decode(bytes: &[u8]) -> Result<Successor, String> {
    if bytes.len() != LEN {
        return Err(format!("{} bytes, not {LEN}", bytes.len()));
    }
    if bytes[..8] != MAGIC {
        return Err("no successor-record magic".to_owned());
    }
    let (body, crc) = bytes.split_at(LEN - 4);
    if crc32fast::hash(body) != u32::from_le_bytes([crc[0], crc[1], crc[2], crc[3]]) {
        return Err("CRC mismatch".to_owned());
    }
    let version = u16::from_le_bytes([bytes[8], bytes[9]]);
    if version != VERSION {
        return Err(format!("version {version}, this build reads {VERSION}"));
    }
    let n = |i: usize| {
        let at = 12 + 8 * i;
        let mut b = [0u8; 8];
        b.copy_from_slice(&bytes[at..at + 8]);
        u64::from_le_bytes(b)
    };
    Ok(Successor {
        old: FileId::from_parts(n(0), n(1)),
        old_end: n(2),
        new: FileId::from_parts(n(3), n(4)),
        new_end: n(5),
    })
}

/// The successor record beside `journal`, if there is a valid one (a damaged one is logged as a
/// warning and not used).
pub(crate) fn read(journal: &Path) -> Option<Successor> {
    let path = path_for(journal);
    let bytes = std::fs::read(&path).ok()?;
    match decode(&bytes) {
        Ok(s) => Some(s),
        Err(why) => {
            log::warn!("successor record {} not used: {why}", path.display());
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Successor {
        Successor {
            old: FileId::from_parts(2049, 131_077),
            old_end: 38_174_252,
            new: FileId::from_parts(2049, 131_090),
            new_end: 13_209_260,
        }
    }

    #[test]
    fn a_record_round_trips_and_every_damaged_byte_is_refused() {
        let bytes = encode(&sample());
        assert_eq!(bytes.len(), LEN);
        assert_eq!(decode(&bytes), Ok(sample()));
        for i in 0..bytes.len() {
            let mut bad = bytes.clone();
            bad[i] ^= 0x10;
            assert!(decode(&bad).is_err(), "byte {i} flipped was accepted");
        }
        assert!(decode(&bytes[..LEN - 1]).is_err());
    }
}
