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
/// The most compactions a record remembers (the oldest are dropped first).
pub(crate) const MAX_HOPS: usize = 16;
/// Bytes of one hop: two (identity, end) pairs.
const HOP_LEN: usize = 2 * (8 + 8 + 8);

/// One compaction: where the new journal file continues the old one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Hop {
    /// The old journal file.
    pub old: FileId,
    /// Where the old journal's log ended (every frame before it was compacted).
    pub old_end: u64,
    /// The new journal file.
    pub new: FileId,
    /// The position in the new journal whose state is the old journal's at `old_end`.
    pub new_end: u64,
}

/// The compactions of a journal, oldest first, each one's new file the next one's old file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Successor {
    /// At least one, at most [`MAX_HOPS`].
    pub hops: Vec<Hop>,
}

/// What a handle reading the journal file `ours` up to `end` can do, now that the path names
/// the file `now`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Follow {
    /// `now` is the compaction of `ours` at `end`: go on at this position with the same state.
    At(u64),
    /// `now` descends from `ours` by several compactions: its state extends the handle's, but
    /// the handle must replay it from its start to know where.
    Replay,
}

impl Successor {
    /// How a handle of `ours`, read to `end`, continues in `now` (`None`: it cannot).
    pub(crate) fn follow(&self, ours: FileId, end: u64, now: FileId) -> Option<Follow> {
        let i = self.hops.iter().position(|h| h.old == ours)?;
        let chain = &self.hops[i..];
        let linked = chain.windows(2).all(|w| w[0].new == w[1].old);
        if !linked || chain.last()?.new != now {
            return None;
        }
        match chain {
            [only] if only.old_end == end => Some(Follow::At(only.new_end)),
            [_] => None,
            _ => Some(Follow::Replay),
        }
    }

    /// This record with `hop` added: after the existing hops when `hop` continues them (its old
    /// file is their last new one), else alone; at most [`MAX_HOPS`] kept.
    pub(crate) fn then(previous: Option<Successor>, hop: Hop) -> Successor {
        let mut hops = match previous {
            Some(p) if p.hops.last().is_some_and(|h| h.new == hop.old) => p.hops,
            _ => Vec::new(),
        };
        hops.push(hop);
        if hops.len() > MAX_HOPS {
            hops.drain(..hops.len() - MAX_HOPS);
        }
        Successor { hops }
    }
}

/// The successor record of the journal at `journal`: `<journal>.compacted`.
pub(crate) fn path_for(journal: &Path) -> PathBuf {
    let mut name = journal.as_os_str().to_owned();
    name.push(".compacted");
    PathBuf::from(name)
}

/// The record's bytes (little-endian, `docs/FORMAT.md`).
pub(crate) fn encode(s: &Successor) -> Vec<u8> {
    let mut out = Vec::with_capacity(16 + HOP_LEN * s.hops.len());
    out.extend_from_slice(&MAGIC);
    out.extend_from_slice(&VERSION.to_le_bytes());
    out.extend_from_slice(&(s.hops.len() as u16).to_le_bytes());
    for hop in &s.hops {
        for (id, end) in [(hop.old, hop.old_end), (hop.new, hop.new_end)] {
            let (volume, index) = id.to_parts();
            for n in [volume, index, end] {
                out.extend_from_slice(&n.to_le_bytes());
            }
        }
    }
    let crc = crc32fast::hash(&out);
    out.extend_from_slice(&crc.to_le_bytes());
    out
}

/// Decodes a record; `Err` says why it is not one this build can use.
pub(crate) fn decode(bytes: &[u8]) -> Result<Successor, String> {
    if bytes.len() < 16 || bytes[..8] != MAGIC {
        return Err("no successor-record magic".to_owned());
    }
    let (body, crc) = bytes.split_at(bytes.len() - 4);
    if crc32fast::hash(body) != u32::from_le_bytes([crc[0], crc[1], crc[2], crc[3]]) {
        return Err("CRC mismatch".to_owned());
    }
    let version = u16::from_le_bytes([bytes[8], bytes[9]]);
    if version != VERSION {
        return Err(format!("version {version}, this build reads {VERSION}"));
    }
    let count = usize::from(u16::from_le_bytes([bytes[10], bytes[11]]));
    if count == 0 || count > MAX_HOPS || bytes.len() != 16 + HOP_LEN * count {
        return Err(format!("{} bytes for {count} compactions", bytes.len()));
    }
    let n = |i: usize| {
        let at = 12 + 8 * i;
        let mut b = [0u8; 8];
        b.copy_from_slice(&bytes[at..at + 8]);
        u64::from_le_bytes(b)
    };
    let hops = (0..count)
        .map(|h| {
            let k = h * 6;
            Hop {
                old: FileId::from_parts(n(k), n(k + 1)),
                old_end: n(k + 2),
                new: FileId::from_parts(n(k + 3), n(k + 4)),
                new_end: n(k + 5),
            }
        })
        .collect();
    Ok(Successor { hops })
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

    fn id(n: u64) -> FileId {
        FileId::from_parts(2049, n)
    }

    fn hop(old: u64, old_end: u64, new: u64, new_end: u64) -> Hop {
        Hop { old: id(old), old_end, new: id(new), new_end }
    }

    #[test]
    fn a_record_round_trips_and_every_damaged_byte_is_refused() {
        let record = Successor { hops: vec![hop(1, 38_174_252, 2, 13_209_260), hop(2, 9, 3, 4)] };
        let bytes = encode(&record);
        assert_eq!(bytes.len(), 16 + 2 * HOP_LEN);
        assert_eq!(decode(&bytes), Ok(record));
        for i in 0..bytes.len() {
            let mut bad = bytes.clone();
            bad[i] ^= 0x10;
            assert!(decode(&bad).is_err(), "byte {i} flipped was accepted");
        }
        assert!(decode(&bytes[..bytes.len() - 1]).is_err());
    }

    #[test]
    fn a_handle_follows_one_compaction_at_its_end_and_replays_after_several() {
        let mut record = Successor::then(None, hop(1, 100, 2, 40));
        assert_eq!(record.follow(id(1), 100, id(2)), Some(Follow::At(40)));
        assert_eq!(record.follow(id(1), 99, id(2)), None, "not read to the end");
        assert_eq!(record.follow(id(7), 100, id(2)), None, "another file");
        assert_eq!(record.follow(id(1), 100, id(9)), None, "the path names another file");
        record = Successor::then(Some(record), hop(2, 60, 3, 50));
        assert_eq!(record.hops.len(), 2);
        assert_eq!(record.follow(id(1), 100, id(3)), Some(Follow::Replay));
        assert_eq!(record.follow(id(2), 60, id(3)), Some(Follow::At(50)));
        // A compaction of a file that is not the last one's new file starts a new chain.
        let fresh = Successor::then(Some(record.clone()), hop(8, 10, 9, 5));
        assert_eq!(fresh.hops, vec![hop(8, 10, 9, 5)]);
        // At most MAX_HOPS are kept, the oldest dropped.
        for k in 3..40 {
            record = Successor::then(Some(record), hop(k, 1, k + 1, 1));
        }
        assert_eq!(record.hops.len(), MAX_HOPS);
        assert_eq!(record.follow(id(1), 100, id(40)), None, "forgotten");
        assert_eq!(record.follow(id(30), 1, id(40)), Some(Follow::Replay));
    }
}
