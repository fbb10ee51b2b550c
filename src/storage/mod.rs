//! The storage API: one trait, Optuna's `BaseStorage` in Rust, and the stores that implement it.
//!
//! [`Storage`] is what everything above a store uses (the [`study`](crate::study) API and its
//! samplers, the CLI's read commands, the gRPC server), so each works on every store:
//! [`JournalStorage`] over any log backend (a trialog journal file, an Optuna JSON-lines file,
//! memory) and, with the `grpc` feature, the remote client. The trait is object-safe: an
//! `Arc<dyn Storage>` chooses the store at run time.
//!
//! This module knows only the model and the error type; stores live in submodules.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use crate::error::{Error, Result};
use crate::model::{
    AttrValue, Distribution, FrozenStudy, FrozenTrial, Integer, ListMap, ParamValue,
    StudyDirection, TrialState, VecMap,
};

mod group;
mod journal;
pub mod location;
mod snapshots;
mod staleness;

pub use journal::JournalStorage;
pub use location::Location;
pub use staleness::MAX_CLOCK_SKEW;

/// The name a new study gets: `study_name`, or Optuna's default prefix and a fresh UUID4.
/// Fails with `InvalidArgument` (before anything is written) when `directions` is empty.
pub(crate) fn new_study_name(
    directions: &[StudyDirection],
    study_name: Option<&str>,
) -> Result<String> {
    if directions.is_empty() {
        return Err(Error::invalid("a study needs at least one direction"));
    }
    Ok(match study_name {
        Some(n) => n.to_owned(),
        None => format!("{DEFAULT_STUDY_NAME_PREFIX}{}", uuid::Uuid::new_v4()),
    })
}

/// Fails the study's stale trials as a handle that has just started can judge them (a fresh
/// sweeper: `trialog study resume`, a runner starting). A store judges a trial stale only after
/// watching its heartbeats stand still for `grace` on its own clock, unless they are older than
/// `grace` plus [`MAX_CLOCK_SKEW`] by this host's clock (docs/LOCKING.md, "Heartbeats across
/// hosts"). So this looks once and, when RUNNING trials remain that are not stale yet, waits
/// one grace period (and a little) before sweeping, or less if every one of them finishes
/// meanwhile ([`wait_while_running`]): a trial whose worker beat meanwhile is left alone.
/// Returns the ids failed, as [`Storage::fail_stale_trials`].
pub fn fail_stale_after_watching<S: Storage + ?Sized>(
    storage: &S,
    study_id: u64,
    grace: Duration,
) -> Result<Vec<u64>> {
    let stale: std::collections::HashSet<u64> =
        storage.stale_trial_ids(study_id, grace)?.into_iter().collect();
    wait_while_running(storage, study_id, grace, |id| !stale.contains(&id))?;
    storage.fail_stale_trials(study_id, grace)
}

/// Waits one grace period (and a little: `grace + grace / 10 + 5 ms`) for a judgement of the
/// study's RUNNING trials that `watch` picks, or until none of them is RUNNING any more (each
/// finished: nothing is left to judge), looking every `grace / 50` (at least 20 ms, at most
/// 1 s). Returns at once when `watch` picks none.
pub fn wait_while_running<S: Storage + ?Sized>(
    storage: &S,
    study_id: u64,
    grace: Duration,
    watch: impl Fn(u64) -> bool,
) -> Result<()> {
    let running = storage.get_all_trials(study_id, Some(&[TrialState::Running]))?;
    let watched: Vec<u64> = running.iter().map(|t| t.trial_id).filter(|&id| watch(id)).collect();
    drop(running);
    wait_until_finished(storage, watched, grace)
}

/// [`wait_while_running`] for trials the caller already picked: waits one grace period (and a
/// little) or until none of `watched` is RUNNING any more, looking at those trials only.
pub fn wait_until_finished<S: Storage + ?Sized>(
    storage: &S,
    mut watched: Vec<u64>,
    grace: Duration,
) -> Result<()> {
    let until = std::time::Instant::now() + grace + grace / 10 + Duration::from_millis(5);
    let poll = (grace / 50).clamp(Duration::from_millis(20), Duration::from_secs(1));
    while !watched.is_empty() {
        let Some(left) = until.checked_duration_since(std::time::Instant::now()) else { break };
        std::thread::sleep(poll.min(left));
        // Each poll looks at the watched trials only, not at every RUNNING trial of the study.
        let mut still = Vec::with_capacity(watched.len());
        for id in watched {
            match storage.get_trial(id) {
                Ok(t) if t.state == TrialState::Running => still.push(id),
                Ok(_) | Err(Error::TrialNotFound { .. }) => {}
                Err(e) => return Err(e),
            }
        }
        watched = still;
    }
    Ok(())
}

/// Trial system attribute holding why a trial FAILed (an objective error, a panic message, a
/// NaN, a wrong number of values, or a missed heartbeat), as a string.
pub const FAIL_REASON_ATTR: &str = "fail_reason";

/// Fails a RUNNING trial, recording `reason` under [`FAIL_REASON_ATTR`] first. Returns `true`
/// if this call failed it, `false` if it was already finished (by its worker or another
/// sweeper meanwhile); any other error is returned.
pub fn fail_with_reason<S: Storage + ?Sized>(
    storage: &S,
    trial_id: u64,
    reason: String,
) -> Result<bool> {
    let done = storage
        .set_trial_system_attr(trial_id, FAIL_REASON_ATTR, AttrValue::String(reason))
        .and_then(|()| storage.set_trial_state_values(trial_id, TrialState::Fail, None));
    match done {
        Ok(failed) => Ok(failed),
        Err(Error::TrialFinished { .. }) => Ok(false),
        Err(e) => Err(e),
    }
}

/// Prefix of generated study names, as in Optuna.
pub const DEFAULT_STUDY_NAME_PREFIX: &str = "no-name-";

/// Heartbeat settings of a storage handle (see [`JournalStorage::with_heartbeat`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HeartbeatOptions {
    /// How often a worker running a trial records a heartbeat.
    pub interval: Duration,
    /// How long a RUNNING trial's heartbeats must be seen to stand still before
    /// [`Storage::fail_stale_trials`] fails it (watched on the sweeper's own monotonic clock,
    /// so the clocks of different hosts need not agree; see
    /// [`JournalStorage::stale_trial_ids`]). Must exceed `interval` plus the worst stall of a
    /// live worker.
    pub grace_period: Duration,
}

impl HeartbeatOptions {
    /// A heartbeat every `interval`, stale after twice that (the grace period Optuna's RDB
    /// storage uses when none is given).
    pub fn every(interval: Duration) -> Self {
        HeartbeatOptions { interval, grace_period: interval * 2 }
    }
}

/// Optuna's `BaseStorage`: studies, trials, parameters, states, values, intermediate values and
/// attributes, with Optuna's ids, numbers and errors.
///
/// Guarantees every implementation gives: a call that returns `Ok` from a mutating method is
/// durable (it survives a crash of this process and of the store); a validation error
/// (`StudyNotFound`, `DuplicateStudyName`, `TrialFinished`, `IncompatibleDistribution`,
/// `InvalidArgument`, ...) means nothing was written; returned trials are immutable snapshots.
/// Every method takes `&self` and the trait is `Send + Sync`, so one handle serves many threads.
///
/// Required methods are Optuna's abstract ones; the others have default bodies written with the
/// required ones (as Optuna's base class does), which a store may replace with faster ones
/// giving the same answers.
pub trait Storage: Send + Sync {
    // ---- studies ------------------------------------------------------------------------

    /// Creates a study and returns its id (never reused). `study_name` defaults to
    /// `no-name-<uuid>`. Fails with [`Error::DuplicateStudyName`] if a live study has the name,
    /// and with `InvalidArgument` without directions.
    fn create_new_study(
        &self,
        directions: &[StudyDirection],
        study_name: Option<&str>,
    ) -> Result<u64>;

    /// Deletes a study; its trials disappear with it. Its id is never reused.
    fn delete_study(&self, study_id: u64) -> Result<()>;

    /// Sets a study user attribute.
    fn set_study_user_attr(&self, study_id: u64, key: &str, value: AttrValue) -> Result<()>;

    /// Sets a study system attribute.
    fn set_study_system_attr(&self, study_id: u64, key: &str, value: AttrValue) -> Result<()>;

    /// The id of the live study named `study_name` ([`Error::StudyNameNotFound`] otherwise).
    fn get_study_id_from_name(&self, study_name: &str) -> Result<u64>;

    /// The name of a live study.
    fn get_study_name_from_id(&self, study_id: u64) -> Result<String>;

    /// The directions of a live study.
    fn get_study_directions(&self, study_id: u64) -> Result<Vec<StudyDirection>>;

    /// The study's user attributes.
    fn get_study_user_attrs(&self, study_id: u64) -> Result<BTreeMap<String, AttrValue>>;

    /// The study's system attributes.
    fn get_study_system_attrs(&self, study_id: u64) -> Result<BTreeMap<String, AttrValue>>;

    /// Every live study, by id.
    fn get_all_studies(&self) -> Result<Vec<FrozenStudy>>;

    // ---- trials -------------------------------------------------------------------------

    /// Creates a trial in a study and returns its id. Without a template the trial is RUNNING
    /// and starts now; with one it copies the template's state, values, parameters, attributes,
    /// intermediate values and datetimes (Optuna's `enqueue_trial` / `add_trial`).
    fn create_new_trial(&self, study_id: u64, template: Option<&FrozenTrial>) -> Result<u64>;

    /// Sets a parameter (internal representation) of an unfinished trial. The value must lie in
    /// the distribution, and the distribution must be compatible with the one this parameter
    /// has elsewhere in the study.
    fn set_trial_param(
        &self,
        trial_id: u64,
        param_name: &str,
        param_value_internal: f64,
        distribution: &Distribution,
    ) -> Result<()>;

    /// Sets a trial's state (and values). Returns whether this call changed the state: a
    /// WAITING -> RUNNING claim returns `true` for exactly one caller across all workers and
    /// all processes, and `false` (writing nothing) for the others. Fails with
    /// [`Error::TrialFinished`] on a finished trial.
    fn set_trial_state_values(
        &self,
        trial_id: u64,
        state: TrialState,
        values: Option<&[f64]>,
    ) -> Result<bool>;

    /// Records the intermediate value of `step` (NaN and infinities are kept exactly).
    fn set_trial_intermediate_value(&self, trial_id: u64, step: i64, value: f64) -> Result<()>;

    /// [`Storage::set_trial_intermediate_value`] at a step of any size, as Python's Optuna
    /// accepts. By default a step outside 64 bits is `NotSupported` (nothing written): journal
    /// storages keep it, Optuna's gRPC protocol (`int64` steps) cannot carry it.
    fn set_trial_intermediate_value_at(
        &self,
        trial_id: u64,
        step: Integer,
        value: f64,
    ) -> Result<()> {
        match step {
            Integer::Small(step) => self.set_trial_intermediate_value(trial_id, step, value),
            Integer::Big(_) => {
                Err(Error::NotSupported { what: "intermediate steps outside the 64-bit range" })
            }
        }
    }

    /// Sets a trial user attribute.
    fn set_trial_user_attr(&self, trial_id: u64, key: &str, value: AttrValue) -> Result<()>;

    /// Sets a trial system attribute.
    fn set_trial_system_attr(&self, trial_id: u64, key: &str, value: AttrValue) -> Result<()>;

    /// A snapshot of one trial.
    fn get_trial(&self, trial_id: u64) -> Result<Arc<FrozenTrial>>;

    /// [`Self::get_trial`]'s answer if this store can give it at once: without waiting for a
    /// lock another thread holds and without a round trip to a server, so that an async task
    /// may call it on its own thread. `None` means "not now": call [`Self::get_trial`] on a
    /// thread that may block. `Some` is exactly what `get_trial` would have answered at that
    /// moment. Default: always `None`.
    fn try_get_trial_now(&self, _trial_id: u64) -> Option<Result<Arc<FrozenTrial>>> {
        None
    }

    /// Snapshots of a study's trials by number, optionally only those in `states`.
    fn get_all_trials(
        &self,
        study_id: u64,
        states: Option<&[TrialState]>,
    ) -> Result<Vec<Arc<FrozenTrial>>>;

    /// About how many trials study `study_id` has, if the store can tell at once, without
    /// reading its log or asking a server (a journal handle: its state as last synced, which
    /// may lag the file); `None` otherwise. Only for choosing how to fetch the trials (a
    /// batched, pipelined read pays off only for many). Default: `None`.
    fn trial_count_hint(&self, _study_id: u64) -> Option<usize> {
        None
    }

    /// What [`Self::get_all_trials`] answers, handed to `take` in one or more batches in the
    /// same order, for a caller that works on each batch while the storage prepares the next
    /// (a journal state loaded from a snapshot decodes its trials block by block as it goes).
    /// `take` returns `false` to stop early; it may run while the store holds its own lock, so
    /// it must not call the store. An error may come after some batches were taken. Default:
    /// one batch.
    fn get_all_trials_batched(
        &self,
        study_id: u64,
        states: Option<&[TrialState]>,
        take: &mut dyn FnMut(Vec<Arc<FrozenTrial>>) -> bool,
    ) -> Result<()> {
        take(self.get_all_trials(study_id, states)?);
        Ok(())
    }

    // ---- derived (Optuna's base class gives these) --------------------------------------

    /// The id of trial number `trial_number` of a study ([`Error::TrialNumberNotFound`] if it
    /// has none).
    fn get_trial_id_from_study_id_trial_number(
        &self,
        study_id: u64,
        trial_number: u64,
    ) -> Result<u64> {
        self.get_all_trials(study_id, None)?
            .iter()
            .find(|t| t.number == trial_number)
            .map(|t| t.trial_id)
            .ok_or(Error::TrialNumberNotFound { study_id, number: trial_number })
    }

    /// The number of a trial within its study.
    fn get_trial_number_from_id(&self, trial_id: u64) -> Result<u64> {
        Ok(self.get_trial(trial_id)?.number)
    }

    /// A parameter's value in internal representation ([`Error::ParamNotFound`] if the trial
    /// has no such parameter).
    fn get_trial_param(&self, trial_id: u64, param_name: &str) -> Result<f64> {
        param_internal(&*self.get_trial(trial_id)?, param_name)
    }

    /// A trial's parameters in external representation, in the order the trial shows them.
    fn get_trial_params(&self, trial_id: u64) -> Result<ListMap<Arc<str>, ParamValue>> {
        Ok(self.get_trial(trial_id)?.params.clone())
    }

    /// A trial's user attributes.
    fn get_trial_user_attrs(&self, trial_id: u64) -> Result<VecMap<String, AttrValue>> {
        Ok((*self.get_trial(trial_id)?.user_attrs).clone())
    }

    /// A trial's system attributes.
    fn get_trial_system_attrs(&self, trial_id: u64) -> Result<VecMap<String, AttrValue>> {
        Ok((*self.get_trial(trial_id)?.system_attrs).clone())
    }

    /// How many trials a study has, optionally only those in `states`.
    fn get_n_trials(&self, study_id: u64, states: Option<&[TrialState]>) -> Result<usize> {
        Ok(self.get_all_trials(study_id, states)?.len())
    }

    /// The COMPLETE trial with the best value of a single-objective study (the first one in
    /// number order on ties, as Optuna's `min`/`max`). [`Error::NoCompletedTrials`] or
    /// [`Error::MultiObjectiveStudy`] otherwise, checked in Optuna's order.
    fn get_best_trial(&self, study_id: u64) -> Result<Arc<FrozenTrial>> {
        let directions = self.get_study_directions(study_id)?;
        let complete = self.get_all_trials(study_id, Some(&[TrialState::Complete]))?;
        best_trial(study_id, &directions, complete.iter())
    }

    /// Fails with [`Error::TrialFinished`] if `trial_state` (the trial's current state, as the
    /// caller knows it) is finished (Optuna's `check_trial_is_updatable`).
    fn check_trial_is_updatable(&self, trial_id: u64, trial_state: TrialState) -> Result<()> {
        if trial_state.is_finished() {
            let number = self.get_trial_number_from_id(trial_id)?;
            return Err(Error::TrialFinished { trial_id, number, state: trial_state });
        }
        Ok(())
    }

    /// Optuna's `remove_session`: releases per-thread resources (nothing, by default).
    fn remove_session(&self) {}

    /// For each trial of a study that has run, the worker that started it (the journal's
    /// `worker_id`: one storage handle on one thread), as `(trial_id, worker)`. Empty by default:
    /// a store that does not know who ran what (the gRPC protocol does not say).
    fn trial_workers(&self, study_id: u64) -> Result<Vec<(u64, String)>> {
        let _ = study_id;
        Ok(Vec::new())
    }

    // ---- heartbeats (optional) ----------------------------------------------------------

    /// This handle's heartbeat settings, if heartbeats are on (Optuna's
    /// `is_heartbeat_enabled` / `get_heartbeat_interval`). `None` by default: a store without
    /// heartbeats.
    fn heartbeat(&self) -> Option<HeartbeatOptions> {
        None
    }

    /// Records that the worker running `trial_id` is alive now. [`Error::NotSupported`] by
    /// default.
    fn record_heartbeat(&self, trial_id: u64) -> Result<()> {
        let _ = trial_id;
        Err(Error::NotSupported { what: "heartbeats" })
    }

    /// The RUNNING trials of a study whose heartbeats stopped for longer than `grace_period`
    /// (a store says how it judges that without trusting other hosts' clocks; the journal's rule
    /// is [`JournalStorage::stale_trial_ids`]'s). [`Error::NotSupported`] by default.
    fn stale_trial_ids(&self, study_id: u64, grace_period: Duration) -> Result<Vec<u64>> {
        let _ = (study_id, grace_period);
        Err(Error::NotSupported { what: "heartbeats" })
    }

    /// Marks FAIL every RUNNING trial of the study that [`Storage::stale_trial_ids`] calls stale
    /// (recording why in [`FAIL_REASON_ATTR`]) and returns their ids; two callers never both
    /// fail a trial. [`Error::NotSupported`] by default.
    fn fail_stale_trials(&self, study_id: u64, grace_period: Duration) -> Result<Vec<u64>> {
        let _ = (study_id, grace_period);
        Err(Error::NotSupported { what: "heartbeats" })
    }
}

/// The value of `trial`'s parameter `name` in internal representation
/// ([`Error::ParamNotFound`] if it has none).
pub(crate) fn param_internal(trial: &FrozenTrial, name: &str) -> Result<f64> {
    let not_found = || Error::ParamNotFound { trial_id: trial.trial_id, name: name.to_owned() };
    let value = trial.params.get(name).ok_or_else(not_found)?;
    let dist = trial.distributions.get(name).ok_or_else(not_found)?;
    dist.to_internal(value)
}

/// The best of a study's trials (those not COMPLETE are skipped), as
/// [`Storage::get_best_trial`] chooses it: the first strictly better value wins, a NaN never
/// wins; [`Error::NoCompletedTrials`] is checked before [`Error::MultiObjectiveStudy`], as in
/// Optuna.
pub fn best_trial<'a>(
    study_id: u64,
    directions: &[StudyDirection],
    trials: impl IntoIterator<Item = &'a Arc<FrozenTrial>>,
) -> Result<Arc<FrozenTrial>> {
    let mut complete = trials.into_iter().filter(|t| t.state == TrialState::Complete);
    let Some(first) = complete.next() else {
        return Err(Error::NoCompletedTrials { study_id });
    };
    if directions.len() > 1 {
        return Err(Error::MultiObjectiveStudy { study_id, n_objectives: directions.len() });
    }
    let maximize = directions.first() == Some(&StudyDirection::Maximize);
    let value = |t: &FrozenTrial| t.value().unwrap_or(f64::NAN);
    let mut best = (first, value(first));
    for t in complete {
        let v = value(t);
        // Strictly better only: the first best wins ties, and a NaN never wins, as with
        // Python's min/max.
        if (maximize && v > best.1) || (!maximize && v < best.1) {
            best = (t, v);
        }
    }
    Ok(Arc::clone(best.0))
}

// The trait stays object-safe and `dyn Storage` is shared across threads: prove it.
const _: () = {
    const fn assert_send_sync<T: Send + Sync + ?Sized>() {}
    assert_send_sync::<dyn Storage>();
};
