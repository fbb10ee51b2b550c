//! The write path of a [`JournalStorage`]: intents, and the group commit that writes them.
//!
//! A leader, holding the backend's write lock and then the writers' state:
//!
//! 1. reads what other writers appended into the writers' state and the committed one, and marks
//!    the committed state *in flight* (readers stop reading the log past it); a backend that
//!    checks the end on write (`LogBackend::write_before_read`: Redis) skips the read on the
//!    first try, and reads only if the write is refused or there is nothing to write;
//! 2. for each intent in arrival order: builds its operations against the writers' state (which
//!    already holds the group's earlier intents), checks that the backend can store them, and
//!    applies them; an intent that fails gets its own error and adds nothing;
//! 3. writes the group's batches, one record each, with one write;
//! 4. releases the writers' state and syncs once (still holding the write lock, so nobody appends
//!    behind bytes that are not durable yet);
//! 5. applies the batches to the committed state, ends the in-flight mark, and answers each
//!    caller: only now, after the `fdatasync`, does any caller or reader see the group.
//!
//! A failed sync leaves the committed state without the group and poisons the backend handle, so
//! every caller of the group and every later call gets an error: no operation of the group is
//! ever seen through this handle.

use std::time::{Duration, Instant};

use super::{Committed, Inner, JournalStorage, unreplayable};
use crate::backend::{AppendOutcome, LogBackend};
use crate::error::{Error, Result};
use crate::journal::{LogBatch, Operation};
use crate::model::{AttrValue, TrialState};
use crate::replay::{Applied, ReplayState};
use crate::storage::FAIL_REASON_ATTR;

/// One caller's write request, as data: what the group's leader validates and writes for it.
#[derive(Debug)]
pub(super) struct Intent {
    /// The caller's worker id (the thread that asked), recorded with its batch.
    pub(super) worker_id: String,
    pub(super) kind: Kind,
    /// `SetTrialStateValues`: its values must number the study's directions.
    pub(super) check_values: bool,
    /// The operation leaves its trial RUNNING: with heartbeats on, the trial's first heartbeat
    /// goes in the same batch, so a RUNNING trial of a handle with heartbeats never exists
    /// without one and a crash at any moment leaves it detectable.
    pub(super) running: bool,
}

/// What an intent asks for.
#[derive(Debug)]
pub(super) enum Kind {
    /// One operation, checked against the state.
    Op(Operation),
    /// Fail the stale RUNNING trials of a study (see `fail_stale_trials`).
    FailStale { study_id: u64, grace_period: Duration },
}

/// What an intent wrote.
#[derive(Debug)]
pub(super) struct Written {
    /// What its first operation created.
    pub(super) applied: Applied,
    /// The operations written (none if there was nothing to do).
    pub(super) ops: Vec<Operation>,
}

impl Intent {
    /// An intent to write `op` after checking it, for the calling thread.
    pub(super) fn op(op: Operation) -> Intent {
        Intent { worker_id: String::new(), kind: Kind::Op(op), check_values: false, running: false }
    }

    /// An intent to fail the stale trials of a study.
    pub(super) fn fail_stale(study_id: u64, grace_period: Duration) -> Intent {
        Intent {
            worker_id: String::new(),
            kind: Kind::FailStale { study_id, grace_period },
            check_values: false,
            running: false,
        }
    }

    /// The operations this intent writes on `state` (the log's end, with the group's earlier
    /// intents applied), or why it writes nothing.
    fn build<B: LogBackend>(
        &self,
        storage: &JournalStorage<B>,
        state: &ReplayState,
    ) -> Result<Vec<Operation>> {
        match &self.kind {
            Kind::Op(op) => {
                if self.check_values {
                    check_values(state, op)?;
                }
                state.check(op)?;
                let mut ops = vec![op.clone()];
                if self.running && storage.heartbeat.is_some() {
                    let trial_id = match op {
                        Operation::SetTrialStateValues { trial_id, .. } => *trial_id,
                        _ => state.trial_count(), // the id CreateTrial is about to get
                    };
                    ops.push(Operation::TrialHeartbeat { trial_id, at: storage.now() });
                }
                Ok(ops)
            }
            Kind::FailStale { study_id, grace_period } => {
                fail_stale(storage, state, *study_id, *grace_period)
            }
        }
    }
}

/// Refuses values whose number differs from the study's directions.
fn check_values(state: &ReplayState, op: &Operation) -> Result<()> {
    let Operation::SetTrialStateValues { trial_id, values: Some(values), .. } = op else {
        return Ok(());
    };
    let n = state.study(state.trial(*trial_id)?.study_id)?.directions.len();
    if values.len() != n {
        return Err(Error::invalid(format_args!(
            "{} values given for a study with {n} objectives",
            values.len()
        )));
    }
    Ok(())
}

/// The operations that fail the stale trials of a study (stale by the storage's heartbeat
/// watch, see `stale_trial_ids`): why, then FAIL, for each.
fn fail_stale<B: LogBackend>(
    storage: &JournalStorage<B>,
    state: &ReplayState,
    study_id: u64,
    grace_period: Duration,
) -> Result<Vec<Operation>> {
    let now = storage.now();
    let failed = storage.watch().stale(state, study_id, now, Instant::now(), grace_period)?;
    let mut ops = Vec::with_capacity(failed.len() * 2);
    for trial_id in failed {
        let last = state.last_heartbeat(trial_id).unwrap_or(now);
        // Durations between this host's clock and the worker's mean nothing across hosts: say
        // what was observed, and the worker's own date of its last heartbeat.
        ops.push(Operation::SetTrialSystemAttr {
            trial_id,
            key: FAIL_REASON_ATTR.to_owned(),
            value: AttrValue::String(format!(
                "no heartbeat for more than the grace period of {:.1} s (the last one is dated \
                 {last} by its worker's clock): its worker is presumed dead",
                grace_period.as_secs_f64()
            )),
        });
        ops.push(Operation::SetTrialStateValues {
            trial_id,
            state: TrialState::Fail,
            values: None,
            datetime: Some(now),
        });
    }
    Ok(ops)
}

/// Ends the in-flight mark of the committed state when dropped (however the group ends).
struct InFlight<'a, B: LogBackend>(&'a JournalStorage<B>);

impl<B: LogBackend> Drop for InFlight<'_, B> {
    fn drop(&mut self) {
        self.0.committed().in_flight = false;
    }
}

impl<B: LogBackend> JournalStorage<B> {
    /// Queues `intent` for this thread and returns what it wrote, once that is durable.
    pub(super) fn submit(&self, mut intent: Intent) -> Result<Written> {
        intent.worker_id = self.worker_id();
        self.queue.submit(
            intent,
            |group| self.lead(&group),
            || {
                Err(Error::io(
                    "write",
                    self.backend.path(),
                    std::io::Error::other("the thread writing this call's group panicked"),
                ))
            },
        )
    }

    /// Runs one group: every intent gets its result; an error of the group as a whole (the
    /// lock, an I/O error, a failed sync) is every member's.
    fn lead(&self, group: &[Intent]) -> Vec<Result<Written>> {
        match self.write_group(group) {
            Ok(results) => results,
            Err(e) => group.iter().map(|_| Err(e.duplicate())).collect(),
        }
    }

    /// Steps 1 to 5 of the module docs.
    fn write_group(&self, group: &[Intent]) -> Result<Vec<Result<Written>>> {
        let guard = self.backend.lock()?;
        let mut working = self.working.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let mut moved_at = None;
        // A backend whose `write_if` checks the end on the server is first tried at the end this
        // handle last knew, without reading (one round trip when no one else wrote).
        let mut unread = self.backend.write_before_read();
        let (in_flight, results, batches, end) = loop {
            let resumed =
                if std::mem::take(&mut unread) { self.resume(&mut working) } else { None };
            let stale = resumed.is_some();
            let (start, in_flight) = match resumed {
                Some(resumed) => resumed,
                None => self.catch_up(&mut working)?,
            };
            if !stale && moved_at == Some(start) {
                // The log goes on past where replay stops, and replay cannot go further (a
                // backend in a recovery mode that stopped): never spin, never write behind it.
                return Err(self.backend.corrupt_at(
                    start,
                    "the log goes on past the point where replay stops; refusing to write"
                        .to_owned(),
                ));
            }
            let inner = working.as_mut().expect("caught up");
            let mut results = Vec::with_capacity(group.len());
            let mut batches = Vec::with_capacity(group.len());
            for intent in group {
                let batch = intent.build(self, &inner.state).and_then(|ops| {
                    let batch = LogBatch { worker_id: intent.worker_id.clone(), ops };
                    self.backend.check_batch(&batch)?;
                    Ok(batch)
                });
                results.push(match batch {
                    Ok(batch) if batch.ops.is_empty() => Ok(None),
                    Ok(batch) => {
                        let ignored = inner.state.stats().ignored;
                        let applied = inner.state.apply_batch(&batch);
                        debug_assert_eq!(inner.state.stats().ignored, ignored, "{batch:?}");
                        batches.push(batch);
                        Ok(Some(applied))
                    }
                    Err(e) => Err(e),
                });
            }
            if batches.is_empty() {
                if stale {
                    // Nothing to write (or only refusals) against a state that may be behind the
                    // log: decide again on the log's end. (When a write succeeds, the end was
                    // `start`, so the state was current and each intent's refusal stands.)
                    *working = None;
                    continue;
                }
                return Ok(results.into_iter().map(|r| r.map(|_| nothing())).collect());
            }
            match self.backend.write_if(&guard, start, &batches) {
                Ok(AppendOutcome::Appended { end }) => {
                    inner.pos = end;
                    break (in_flight, results, batches, end);
                }
                Ok(AppendOutcome::Moved) => {
                    // The group was applied to a state the log does not have: start again from
                    // the committed one (which is at `start`, or behind the log if `stale`).
                    *working = None;
                    if !stale {
                        moved_at = Some(start);
                    }
                }
                Err(e) => {
                    *working = None;
                    return Err(e);
                }
            }
        };
        drop(working);
        let synced = self.backend.sync_written(&guard);
        drop(guard);
        let mut committed = self.committed();
        if let Err(e) = synced {
            // Nobody ever sees the group: not the callers (each gets the error), not readers
            // (the committed state never had it), not later writers (the backend is poisoned,
            // and the writers' state starts again from the committed one).
            drop(committed);
            drop(in_flight);
            *self.working.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = None;
            return Err(e);
        }
        for batch in &batches {
            committed.log.state.apply_batch(batch);
        }
        self.watch_own_heartbeats(&committed.log.state, &batches);
        committed.log.pos = end;
        committed.in_flight = false;
        drop(committed);
        std::mem::forget(in_flight); // already ended, under the same lock as the apply
        self.snapshot_if_due();
        let mut batches = batches.into_iter();
        Ok(results
            .into_iter()
            .map(|r| match r? {
                Some(applied) => {
                    let ops = batches.next().map(|b| b.ops).unwrap_or_default();
                    Ok(Written { applied, ops })
                }
                None => Ok(nothing()),
            })
            .collect())
    }

    /// Starts the staleness watch of each trial this group sent a heartbeat for at the count
    /// `state` (the committed state, just past the group) holds: this handle saw it now.
    fn watch_own_heartbeats(&self, state: &ReplayState, batches: &[LogBatch]) {
        let beaten = batches.iter().flat_map(|b| &b.ops).filter_map(|op| match op {
            Operation::TrialHeartbeat { trial_id, .. } => Some(*trial_id),
            _ => None,
        });
        let mut watch = None;
        for trial_id in beaten {
            if let Some(beats) = state.heartbeats(trial_id) {
                let watch = watch.get_or_insert_with(|| self.watch());
                watch.saw(trial_id, beats.count, Instant::now());
            }
        }
    }

    /// The writers' state at the end this handle last knew, without reading the log, and the
    /// in-flight mark (as [`Self::catch_up`] returns them); `None` when the committed state is
    /// ahead of it (a reader read further: read instead). Only for a backend whose `write_if`
    /// checks the end ([`LogBackend::write_before_read`]). Call holding the write lock.
    fn resume(&self, working: &mut Option<Inner>) -> Option<(u64, InFlight<'_, B>)> {
        let mut committed = self.committed();
        if working.as_ref().is_none_or(|w| behind_or_ahead(w, &committed.log)) {
            *working = Some(committed.log.clone());
        }
        let pos = working.as_ref().expect("just set").pos;
        if pos != committed.log.pos {
            return None;
        }
        committed.in_flight = true;
        Some((pos, InFlight(self)))
    }

    /// Brings the writers' state (copying the committed one first if there is none) and the
    /// committed state to the end of the log, and marks the committed state in flight. Returns
    /// the end, and the mark (ended when dropped). Call holding the backend's write lock.
    fn catch_up(&self, working: &mut Option<Inner>) -> Result<(u64, InFlight<'_, B>)> {
        let mut committed = self.committed();
        if working.as_ref().is_none_or(|w| behind_or_ahead(w, &committed.log)) {
            *working = Some(committed.log.clone());
        }
        let inner = working.as_mut().expect("just set");
        let Committed { log, .. } = &mut *committed;
        loop {
            let committed_pos = log.pos;
            let end = self.backend.read_from(inner.pos, &mut |at, batch| {
                inner.state.replay_batch(batch).map_err(|u| unreplayable(&self.backend, at, u))?;
                if at >= committed_pos {
                    log.state
                        .replay_batch(batch)
                        .map_err(|u| unreplayable(&self.backend, at, u))?;
                }
                Ok(())
            })?;
            inner.pos = end;
            log.pos = log.pos.max(end);
            // Both states are at the journal's end now (the working one started at or behind
            // the committed one): if a compaction replaced it, both continue in the new file.
            match self.backend.follow_compaction(end)? {
                Some(how) => {
                    self.followed(log, how);
                    *inner = log.clone();
                }
                None => break,
            }
        }
        committed.in_flight = true;
        Ok((inner.pos, InFlight(self)))
    }
}

/// Whether the writers' state `working` cannot be brought to the log's end by reading on from
/// its position: it is ahead of the committed state (a failed write left the group in it) or
/// its position is in a journal file the handle no longer reads (a compaction was followed).
fn behind_or_ahead(working: &Inner, committed: &Inner) -> bool {
    working.generation != committed.generation || working.pos > committed.pos
}

/// The result of an intent that had nothing to write.
fn nothing() -> Written {
    Written { applied: Applied::Updated, ops: Vec::new() }
}
