//! The two records of a journal a snapshot names (its first, and the last one it covers), found
//! and checked by reading the journal's bytes (`docs/FORMAT.md`, "Snapshots").

use std::fs::File;
use std::io;

use crate::journal::frame::{self, FrameCheck};

use super::JournalKind;

/// A record of a journal: its offset, length and the CRC-32 of its bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Record {
    /// Where it starts.
    pub offset: u64,
    /// How many bytes it has (a frame with its 8-byte prefix; a line with its `\n`).
    pub length: u64,
    /// CRC-32 of those bytes.
    pub crc: u32,
}

impl Record {
    /// Where it ends.
    pub fn end(&self) -> u64 {
        self.offset.saturating_add(self.length)
    }
}

/// Reads `len` bytes at `offset` (positional reads: the file's offset, which duplicated handles
/// share, is not touched); `None` if the file ends before.
fn read_at(file: &File, offset: u64, len: u64) -> io::Result<Option<Vec<u8>>> {
    let Ok(len) = usize::try_from(len) else { return Ok(None) };
    let mut buf = vec![0u8; len];
    let filled =
        crate::backend::read_full(|b, at| crate::sys::pio::read_at(file, b, at), &mut buf, offset)?;
    Ok((filled == len).then_some(buf))
}

fn record(offset: u64, bytes: &[u8]) -> Record {
    Record { offset, length: bytes.len() as u64, crc: crc32fast::hash(bytes) }
}

/// Whether `bytes` are exactly one valid frame.
fn whole_frame(bytes: &[u8]) -> bool {
    match frame::check_frame(bytes) {
        FrameCheck::Batch { len, .. } | FrameCheck::Padding { len } => len == bytes.len(),
        FrameCheck::Incomplete | FrameCheck::Invalid => false,
    }
}

/// Whether `bytes` at `offset` are one whole record of a journal of this kind.
fn is_record(kind: JournalKind, file: &File, offset: u64, bytes: &[u8]) -> io::Result<bool> {
    Ok(match kind {
        // The first record of a trialog journal is its header and its first frame: a snapshot
        // must not outlive a header that a full open would refuse.
        JournalKind::Trialog if offset == 0 => {
            bytes.len() > frame::HEADER_LEN
                && matches!(frame::check_header(bytes), frame::HeaderCheck::Valid { .. })
                && whole_frame(&bytes[frame::HEADER_LEN..])
        }
        JournalKind::Trialog => whole_frame(bytes),
        JournalKind::Optuna => {
            let one_line =
                bytes.last() == Some(&b'\n') && !bytes[..bytes.len() - 1].contains(&b'\n');
            let starts_line =
                offset == 0 || read_at(file, offset - 1, 1)?.is_some_and(|b| b == [b'\n']);
            one_line && starts_line
        }
    })
}

/// The journal's first record, if it has one that ends at or before `end`: in a trialog journal
/// the header and the first frame (offset 0), in an Optuna journal the first line.
pub(crate) fn first(kind: JournalKind, file: &File, end: u64) -> io::Result<Option<Record>> {
    match kind {
        JournalKind::Trialog => {
            let head = (frame::HEADER_LEN + frame::FRAME_HEADER_LEN) as u64;
            let Some(prefix) = read_at(file, 0, head)? else { return Ok(None) };
            let p = &prefix[frame::HEADER_LEN..];
            let len = u64::from(u32::from_le_bytes([p[0], p[1], p[2], p[3]])) + head;
            if len > end {
                return Ok(None);
            }
            let Some(bytes) = read_at(file, 0, len)? else { return Ok(None) };
            Ok(is_record(kind, file, 0, &bytes)?.then(|| record(0, &bytes)))
        }
        JournalKind::Optuna => {
            let mut len = 4096u64;
            loop {
                let want = len.min(end);
                let Some(bytes) = read_at(file, 0, want)? else { return Ok(None) };
                if let Some(i) = memchr::memchr(b'\n', &bytes) {
                    return Ok(Some(record(0, &bytes[..=i])));
                }
                if want == end {
                    return Ok(None);
                }
                len = len.saturating_mul(16);
            }
        }
    }
}

/// The record that ends exactly at `end` (the last one replayed into a state at `end`).
pub(crate) fn last(kind: JournalKind, file: &File, end: u64) -> io::Result<Option<Record>> {
    let floor = match kind {
        JournalKind::Trialog => frame::HEADER_LEN as u64,
        JournalKind::Optuna => 0,
    };
    let mut window = 4096u64;
    loop {
        let from = end.saturating_sub(window).max(floor);
        let Some(bytes) = read_at(file, from, end - from)? else { return Ok(None) };
        let found = match kind {
            JournalKind::Trialog => {
                (0..bytes.len().saturating_sub(frame::MIN_FRAME_LEN - 1)).rev().find(|&i| {
                    let len =
                        u32::from_le_bytes([bytes[i], bytes[i + 1], bytes[i + 2], bytes[i + 3]]);
                    u64::from(len) + frame::FRAME_HEADER_LEN as u64 == (bytes.len() - i) as u64
                        && matches!(
                            frame::check_frame(&bytes[i..]),
                            FrameCheck::Batch { .. } | FrameCheck::Padding { .. }
                        )
                })
            }
            JournalKind::Optuna => {
                if bytes.last() != Some(&b'\n') {
                    return Ok(None);
                }
                match memchr::memrchr(b'\n', &bytes[..bytes.len() - 1]) {
                    Some(i) => Some(i + 1),
                    None if from == floor => Some(0),
                    None => None,
                }
            }
        };
        if let Some(i) = found {
            return Ok(Some(record(from + i as u64, &bytes[i..])));
        }
        if from == floor {
            return Ok(None);
        }
        window = window.saturating_mul(16);
    }
}

/// Whether the journal holds `rec`: a whole record with those bytes at that offset.
pub(crate) fn holds(kind: JournalKind, file: &File, rec: &Record) -> io::Result<bool> {
    let Some(bytes) = read_at(file, rec.offset, rec.length)? else { return Ok(false) };
    Ok(crc32fast::hash(&bytes) == rec.crc && is_record(kind, file, rec.offset, &bytes)?)
}
