//! A handle's snapshots (`src/snapshot/`): the open starts from one when it is valid, and a
//! writing handle takes a new one on a background thread once the log past the newest one has
//! grown by a threshold. Never holds the writers' lock: the state it serialises is a copy of the
//! committed state, and the journal's bytes before its end never change.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};
use std::thread::JoinHandle;

use crate::backend::LogBackend;
use crate::error::Result;
use crate::replay::ReplayState;
use crate::snapshot::{AUTO_THRESHOLD_BYTES, Taken, Target};

/// The snapshot state of one handle.
#[derive(Debug)]
pub(super) struct Snapshots {
    /// The journal snapshots are taken of; `None` for logs that take none.
    target: Option<Target>,
    /// The journal position covered by the newest snapshot this handle loaded, took or saw.
    covered: AtomicU64,
    /// The position the open started from (a snapshot's covered end), if it used one.
    opened_at: Option<u64>,
    /// Log bytes past `covered` after which a write takes a snapshot (`u64::MAX`: never).
    threshold: u64,
    /// The background snapshot in progress, if any, and the fork generation
    /// ([`crate::sys::fork`]) of the process that started it.
    job: Mutex<Option<(u64, JoinHandle<()>)>>,
}

impl Snapshots {
    /// The snapshots of `backend`'s journal, taken automatically past
    /// [`AUTO_THRESHOLD_BYTES`] of log.
    pub(super) fn new(backend: &impl LogBackend) -> Self {
        let target =
            backend.snapshot_source().map(|(path, kind)| Target { journal: path.to_owned(), kind });
        Snapshots {
            target,
            covered: AtomicU64::new(0),
            opened_at: None,
            threshold: AUTO_THRESHOLD_BYTES,
            job: Mutex::new(None),
        }
    }

    /// The state in a valid snapshot and the position it covers (see [`Target::load`]).
    pub(super) fn load(&mut self) -> Option<(ReplayState, u64)> {
        let (state, end) = self.target.as_ref()?.load()?;
        self.covered.store(end, Ordering::Relaxed);
        self.opened_at = Some(end);
        Some((state, end))
    }

    /// The position the open started from, if it started from a snapshot.
    pub(super) fn opened_at(&self) -> Option<u64> {
        self.opened_at
    }

    /// Sets the automatic threshold (`u64::MAX`: never).
    pub(super) fn set_threshold(&mut self, bytes: u64) {
        self.threshold = bytes;
    }

    /// Whether the log, committed up to `pos`, has grown past the threshold since the newest
    /// snapshot, and no snapshot is being taken.
    pub(super) fn due(&self, pos: u64) -> bool {
        self.target.is_some()
            && pos.saturating_sub(self.covered.load(Ordering::Relaxed)) >= self.threshold
            && self.lock_job().as_ref().is_none_or(|(_, h)| h.is_finished())
    }

    /// The job slot, emptied of a job started before a `fork`: in the child that thread does not
    /// exist, so its handle is forgotten (joining or detaching it would act on the parent's
    /// thread id), and a new snapshot may start.
    fn lock_job(&self) -> std::sync::MutexGuard<'_, Option<(u64, JoinHandle<()>)>> {
        let mut job = self.job.lock().unwrap_or_else(PoisonError::into_inner);
        if job.as_ref().is_some_and(|(generation, _)| *generation != crate::sys::fork::generation())
        {
            std::mem::forget(job.take());
        }
        job
    }

    /// The handle followed a compaction: the journal now read continues at `pos`, and no
    /// snapshot of it exists yet (the compaction removed the old journal's).
    pub(super) fn followed(&self, pos: u64) {
        self.covered.store(pos, Ordering::Relaxed);
    }

    /// Takes a snapshot of `state` (at `pos`, an offset in `file` when given: the journal file
    /// the state was read from) on a background thread. A failure is logged as a
    /// warning: snapshots are never needed for correctness.
    pub(super) fn start(&self, state: ReplayState, pos: u64, file: Option<std::fs::File>) {
        let Some(target) = self.target.clone() else { return };
        let mut job = self.lock_job();
        if job.as_ref().is_some_and(|(_, h)| !h.is_finished()) {
            return;
        }
        // Claim this position now, so the next writes do not start another one meanwhile.
        self.covered.fetch_max(pos, Ordering::Relaxed);
        let spawned =
            std::thread::Builder::new().name("trialog-snapshot".into()).spawn(move || {
                if let Err(e) = target.take_from(file.as_ref(), &state, pos) {
                    log::warn!("{e}; the next open replays more of the log");
                }
            });
        match spawned {
            Ok(handle) => *job = Some((crate::sys::fork::generation(), handle)),
            Err(e) => log::warn!("cannot start a snapshot thread: {e}"),
        }
    }

    /// Takes a snapshot of `state` (at `pos`, an offset in `file` when given) now.
    pub(super) fn take(
        &self,
        state: &ReplayState,
        pos: u64,
        file: Option<std::fs::File>,
    ) -> Result<Option<Taken>> {
        let Some(target) = &self.target else { return Ok(None) };
        let taken = target.take_from(file.as_ref(), state, pos)?;
        self.covered.fetch_max(taken.covered_end, Ordering::Relaxed);
        Ok(Some(taken))
    }
}

impl Drop for Snapshots {
    /// Waits for a snapshot in progress, so a handle dropped at exit leaves a whole snapshot
    /// (or the old one), not a stray temporary file.
    fn drop(&mut self) {
        if let Some((_, job)) = self.lock_job().take() {
            let _ = job.join();
        }
    }
}
