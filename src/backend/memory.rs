//! An in-memory backend for tests and embedding: the same bytes a file would hold, in a `Vec`.

use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use super::recovery::Recovery;
use super::{
    AppendOutcome, AppendPlan, LogBackend, RecoveryMode, RecoveryReport, header_start, plan_append,
};
use crate::error::Result;
use crate::journal::LogBatch;
use crate::journal::frame;

/// A journal held in memory. Clones share the same log, so several storage handles on clones
/// behave like several processes on one file (minus durability: nothing survives the process).
/// Each clone has its own recovery mode and report, as each process has.
#[derive(Debug, Default)]
pub struct MemoryBackend {
    shared: Arc<Shared>,
    recovery: Recovery,
}

impl Clone for MemoryBackend {
    /// Another handle on the same log, with the same recovery mode and a fresh report.
    fn clone(&self) -> Self {
        MemoryBackend {
            shared: Arc::clone(&self.shared),
            recovery: Recovery::new(self.recovery.mode()),
        }
    }
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

    /// This handle on the same log, reading and writing with recovery `mode` (see
    /// `docs/RECOVERY.md`) and a fresh report.
    #[must_use]
    pub fn with_recovery(self, mode: RecoveryMode) -> Self {
        MemoryBackend { shared: self.shared, recovery: Recovery::new(mode) }
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

    fn reads_stay_local(&self) -> bool {
        true
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
        if self.recovery.stopped_at(from) {
            return Ok(from);
        }
        let start = usize::try_from(from).unwrap_or(usize::MAX).min(bytes.len());
        // The bytes cannot change while we hold their lock: a finding needs no second read.
        let confirm = |at: u64| {
            Ok(bytes.get(usize::try_from(at).unwrap_or(usize::MAX)..).unwrap_or(&[]).to_vec())
        };
        self.recovery.read_region(self.path(), &bytes[start..], from, sink, &confirm)
    }

    fn lock(&self) -> Result<MutexGuard<'_, ()>> {
        Ok(locked(&self.shared.writer))
    }

    fn check_batch(&self, batch: &LogBatch) -> Result<()> {
        super::encode_payload(batch).map(drop)
    }

    fn write_if(
        &self,
        _guard: &MutexGuard<'_, ()>,
        expected_end: u64,
        batches: &[LogBatch],
    ) -> Result<AppendOutcome> {
        self.recovery.check_writable(self.path())?;
        let mut bytes = locked(&self.shared.bytes);
        let at = usize::try_from(expected_end).unwrap_or(usize::MAX).min(bytes.len());
        match plan_append(self.path(), self.recovery.mode(), expected_end, &bytes[at..], batches)? {
            AppendPlan::Moved => Ok(AppendOutcome::Moved),
            AppendPlan::Write { repair, frame } => {
                bytes.truncate(at);
                bytes.extend_from_slice(&repair);
                bytes.extend_from_slice(&frame);
                Ok(AppendOutcome::Appended { end: bytes.len() as u64 })
            }
        }
    }

    /// Memory holds nothing to sync.
    fn sync_written(&self, _guard: &MutexGuard<'_, ()>) -> Result<()> {
        Ok(())
    }

    fn recovery_report(&self) -> RecoveryReport {
        self.recovery.report()
    }
}
