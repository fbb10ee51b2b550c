//! Heartbeats of the trials a runner runs, and failing the trials of runners that died.
//!
//! On a store with heartbeats ([`Storage::heartbeat`] is set: a trialog journal opened
//! with [`JournalStorage::with_heartbeat`](crate::JournalStorage::with_heartbeat)) the store's own
//! mechanism is used: the first heartbeat is written with the claim, later ones with
//! [`Storage::record_heartbeat`], and [`Storage::fail_stale_trials`] decides staleness under the
//! write lock.
//!
//! A store without them (an Optuna JSON-lines file, whose format has no heartbeat record) gets
//! the same protocol through a trial system attribute, [`HEARTBEAT_ATTR`]: the writer's wall clock
//! in seconds since the Unix epoch, rewritten every interval. A RUNNING trial whose attribute is
//! older than the grace period is failed with the same kind of `fail_reason`. Trials without the
//! attribute (Python Optuna's, or a trial whose runner died before its first heartbeat) are never
//! stale. Two runners never both fail a trial: the FAIL transition succeeds for one of them only.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::error::{Error, Result};
use crate::model::{AttrValue, TrialState};
use crate::storage::{HeartbeatOptions, Storage};

/// The trial system attribute holding a runner's heartbeat on stores without native heartbeats
/// (seconds since the Unix epoch, a float).
pub const HEARTBEAT_ATTR: &str = "trialog:heartbeat";

/// How a runner proves its trials are alive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Liveness {
    /// The store's own heartbeats.
    Native(HeartbeatOptions),
    /// The [`HEARTBEAT_ATTR`] system attribute.
    Attr(HeartbeatOptions),
}

fn now_secs() -> f64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs_f64()).unwrap_or(0.0)
}

impl Liveness {
    /// The store's heartbeats if it has them, else the attribute with `fallback`'s timing.
    pub fn for_store<S: Storage + ?Sized>(storage: &S, fallback: HeartbeatOptions) -> Self {
        match storage.heartbeat() {
            Some(options) => Liveness::Native(options),
            None => Liveness::Attr(fallback),
        }
    }

    /// The timing in use.
    pub fn options(&self) -> HeartbeatOptions {
        match self {
            Liveness::Native(o) | Liveness::Attr(o) => *o,
        }
    }

    /// The first heartbeat of a trial this runner just made RUNNING (the store's own is already
    /// written with the claim). `Ok(false)` when the trial is no longer RUNNING.
    pub fn first<S: Storage + ?Sized>(&self, storage: &S, trial_id: u64) -> Result<bool> {
        match self {
            Liveness::Native(_) => Ok(true),
            Liveness::Attr(_) => self.beat(storage, trial_id),
        }
    }

    /// Records that trial `trial_id` is alive. `Ok(false)` when it is finished (another runner
    /// failed it as stale): its result is no longer wanted.
    pub fn beat<S: Storage + ?Sized>(&self, storage: &S, trial_id: u64) -> Result<bool> {
        let written = match self {
            Liveness::Native(_) => storage.record_heartbeat(trial_id),
            Liveness::Attr(_) => storage.set_trial_system_attr(
                trial_id,
                HEARTBEAT_ATTR,
                AttrValue::Float(now_secs()),
            ),
        };
        match written {
            Ok(()) => Ok(true),
            Err(Error::TrialFinished { .. }) => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Fails the study's RUNNING trials whose heartbeat is older than the grace period and
    /// returns the ids this call failed (each trial is failed by exactly one caller).
    pub fn reap<S: Storage + ?Sized>(&self, storage: &S, study_id: u64) -> Result<Vec<u64>> {
        match self {
            Liveness::Native(o) => storage.fail_stale_trials(study_id, o.grace_period),
            Liveness::Attr(o) => Ok(reap_attr(storage, study_id, o.grace_period)?.0),
        }
    }

    /// [`Liveness::reap`] for a runner that has just started: it waits up to one grace period
    /// when RUNNING trials are not yet known to be stale, so the trials of a runner that died
    /// just before are failed (and retried) before this one's workers count the budget (native
    /// heartbeats are judged by watching them, see
    /// [`crate::storage::fail_stale_after_watching`]).
    pub fn reap_at_start<S: Storage + ?Sized>(
        &self,
        storage: &S,
        study_id: u64,
    ) -> Result<Vec<u64>> {
        match self {
            Liveness::Native(o) => {
                crate::storage::fail_stale_after_watching(storage, study_id, o.grace_period)
            }
            Liveness::Attr(o) => {
                // Settle the RUNNING trials before this runner counts its budget: those not
                // stale yet get one grace period to show a heartbeat (or to finish).
                let g = o.grace_period;
                let (mut failed, running) = reap_attr(storage, study_id, g)?;
                crate::storage::wait_until_finished(storage, running, g)?;
                failed.extend(reap_attr(storage, study_id, g)?.0);
                Ok(failed)
            }
        }
    }
}

/// Fails the study's RUNNING trials whose heartbeat attribute is older than `grace`; returns
/// the ids this call failed and those of the RUNNING trials it left alone.
fn reap_attr<S: Storage + ?Sized>(
    storage: &S,
    study_id: u64,
    grace: Duration,
) -> Result<(Vec<u64>, Vec<u64>)> {
    let now = now_secs();
    let (mut failed, mut running) = (Vec::new(), Vec::new());
    for t in storage.get_all_trials(study_id, Some(&[TrialState::Running]))? {
        let silent = match t.system_attrs.get(HEARTBEAT_ATTR) {
            Some(AttrValue::Float(last)) => now - last,
            _ => f64::NEG_INFINITY, // no heartbeat yet: never stale
        };
        if silent <= grace.as_secs_f64() {
            running.push(t.trial_id);
            continue;
        }
        let reason = format!(
            "no heartbeat for {silent:.1} s (grace period {:.1} s; system attribute {HEARTBEAT_ATTR}): \
             its runner is presumed dead",
            grace.as_secs_f64()
        );
        if crate::storage::fail_with_reason(storage, t.trial_id, reason)? {
            failed.push(t.trial_id);
        }
    }
    Ok((failed, running))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::StudyDirection;
    use crate::{JournalStorage, MemoryBackend};

    #[test]
    fn attribute_heartbeats_fail_silent_trials_once() {
        let storage = JournalStorage::new(MemoryBackend::new()).unwrap();
        let study = storage.create_new_study(&[StudyDirection::Minimize], Some("s")).unwrap();
        let options = HeartbeatOptions {
            interval: Duration::from_millis(10),
            grace_period: Duration::from_millis(50),
        };
        let live = Liveness::for_store(&storage, options);
        assert_eq!(live, Liveness::Attr(options));
        let silent = storage.create_new_trial(study, None).unwrap();
        let beating = storage.create_new_trial(study, None).unwrap();
        let python = storage.create_new_trial(study, None).unwrap(); // never beats
        assert!(live.first(&storage, silent).unwrap());
        assert!(live.first(&storage, beating).unwrap());
        std::thread::sleep(Duration::from_millis(120));
        assert!(live.beat(&storage, beating).unwrap());
        assert_eq!(live.reap(&storage, study).unwrap(), vec![silent]);
        assert_eq!(live.reap(&storage, study).unwrap(), Vec::<u64>::new());
        let t = storage.get_trial(silent).unwrap();
        assert_eq!(t.state, TrialState::Fail);
        assert!(
            matches!(t.system_attrs.get(crate::storage::FAIL_REASON_ATTR), Some(AttrValue::String(r)) if r.contains("presumed dead"))
        );
        assert_eq!(storage.get_trial(python).unwrap().state, TrialState::Running);
        // The failed trial's runner learns that it lost it.
        assert!(!live.beat(&storage, silent).unwrap());
    }
}
