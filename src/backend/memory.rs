//! An in-memory backend for tests and embedding: the same bytes a file would hold, in a `Vec`.

use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use super::{AppendOutcome, AppendPlan, LogBackend, deliver_frames, header_start, plan_append};
use crate::error::Result;
use crate::journal::LogBatch;
use crate::journal::frame::{self, ScanEnd};

/// A journal held in memory. Clones share the same log, so several storage handles on clones
/// behave like several processes on one file (minus durability: nothing survives the process).
#[derive(Debug, Clone, Default)]
pub struct MemoryBackend {
    shared: Arc<Shared>,
}

#[derive(Debug, Default)]
struct Shared {
    bytes: Mutex<Vec<u8>>,
    writer: Mutex<()>,
}

fn locked<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while holding these locks cannot leave the bytes half-updated (every update is a
    // single extend/splice), so a poisoned mutex is still consistent.
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl MemoryBackend {
    /// An empty journal.
    pub fn new() -> Self {
        Self::default()
    }

    /// A journal holding exactly `bytes` (for tests of damaged logs).
    pub fn from_bytes(bytes: Vec<u8>) -> Self {
        let backend = Self::default();
        *locked(&backend.shared.bytes) = bytes;
        backend
    }

    /// A copy of the journal's bytes.
    pub fn to_bytes(&self) -> Vec<u8> {
        locked(&self.shared.bytes).clone()
    }

    /// Appends raw bytes without framing (for tests that simulate a torn write).
    pub fn append_raw(&self, bytes: &[u8]) {
        locked(&self.shared.bytes).extend_from_slice(bytes);
    }
}

const MEMORY_PATH: &str = "<memory>";

impl LogBackend for MemoryBackend {
    type WriteGuard<'a> = MutexGuard<'a, ()>;

    fn path(&self) -> &Path {
        Path::new(MEMORY_PATH)
    }

    fn read_from(
        &self,
        from: u64,
        sink: &mut dyn FnMut(u64, &LogBatch) -> Result<()>,
    ) -> Result<u64> {
        // The sink only touches the caller's state, never this backend, so holding the bytes
        // lock while delivering cannot deadlock; it also keeps reads O(new bytes).
        let bytes = locked(&self.shared.bytes);
        let mut from = from;
        if from == 0 {
            let head = &bytes[..bytes.len().min(frame::HEADER_LEN)];
            from = header_start(self.path(), head)?;
            if from == 0 {
                return Ok(0);
            }
        }
        let start = usize::try_from(from).unwrap_or(usize::MAX).min(bytes.len());
        let end = deliver_frames(self.path(), &bytes[start..], from, sink)?;
        Ok(match end {
            ScanEnd::Clean => bytes.len() as u64,
            ScanEnd::Torn { offset } => from + offset as u64,
            ScanEnd::Corrupt { offset, next_valid } => {
                return Err(super::corruption(
                    self.path(),
                    from + offset as u64,
                    from + next_valid as u64,
                ));
            }
        })
    }

    fn lock(&self) -> Result<MutexGuard<'_, ()>> {
        Ok(locked(&self.shared.writer))
    }

    fn append_if(
        &self,
        _guard: &MutexGuard<'_, ()>,
        expected_end: u64,
        batch: &LogBatch,
    ) -> Result<AppendOutcome> {
        let mut bytes = locked(&self.shared.bytes);
        let at = usize::try_from(expected_end).unwrap_or(usize::MAX).min(bytes.len());
        match plan_append(self.path(), expected_end, &bytes[at..], batch)? {
            AppendPlan::Moved => Ok(AppendOutcome::Moved),
            AppendPlan::Write { repair, frame } => {
                bytes.truncate(at);
                bytes.extend_from_slice(&repair);
                bytes.extend_from_slice(&frame);
                Ok(AppendOutcome::Appended { end: bytes.len() as u64 })
            }
        }
    }
}
