//! Reading a journal file's prefix again: the records of its first `end` bytes, from a handle
//! opened earlier (the path may name a newer file by now). For a lazily loaded snapshot whose
//! records turn out to be unusable after the open (`src/snapshot/lazy.rs`): its trials then come
//! from a full replay of the prefix it covered.

use std::fs::File;
use std::path::Path;

use super::{JournalFormat, LogBackend, MemoryBackend};
use crate::error::{Error, Result};
use crate::journal::LogBatch;

/// Hands every record of the first `end` bytes of `file` (the journal at `path`, of format
/// `kind`) to `sink` with its offset, in order. The prefix must be whole records that a replay
/// in the default recovery mode accepted: any damage, or a prefix that does not end at a record
/// boundary, is an error naming `path`.
pub(crate) fn read_prefix(
    kind: JournalFormat,
    file: &File,
    path: &Path,
    end: u64,
    sink: &mut dyn FnMut(u64, &LogBatch) -> Result<()>,
) -> Result<()> {
    let reached = match kind {
        JournalFormat::Trialog => {
            let len = usize::try_from(end).map_err(|_| too_long(path, end))?;
            let mut bytes = vec![0u8; len];
            let read = |b: &mut [u8], at| crate::sys::pio::read_at(file, b, at);
            let filled =
                super::read_full(read, &mut bytes, 0).map_err(|e| Error::io("read", path, e))?;
            if filled != len {
                return Err(Error::Corruption {
                    path: path.to_owned(),
                    offset: filled as u64,
                    reason: format!("the journal ends before {end}, where a snapshot says it goes"),
                });
            }
            MemoryBackend::from_bytes(bytes).read_from(0, sink)?
        }
        JournalFormat::Optuna => {
            let clone = file.try_clone().map_err(|e| Error::io("open", path, e))?;
            let journal = super::io::JournalFile::new(clone, path, &super::Faults::default())
                .map_err(|e| Error::io("open", path, e))?;
            let mut on_bad = |_, _, e| Err(e);
            super::lines::deliver_lines(path, &journal, 0, end, &mut on_bad, sink)?
        }
    };
    if reached != end {
        return Err(Error::Corruption {
            path: path.to_owned(),
            offset: reached,
            reason: format!("the records end at {reached}, not at {end} where a snapshot says"),
        });
    }
    Ok(())
}

fn too_long(path: &Path, end: u64) -> Error {
    Error::Corruption {
        path: path.to_owned(),
        offset: end,
        reason: "a prefix larger than this machine's address space".to_owned(),
    }
}
