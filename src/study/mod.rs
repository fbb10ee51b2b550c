//! The ask/tell study API over any [`Storage`] (a [`JournalStorage`],
//! the remote client, or an `Arc<dyn Storage>`), with pluggable [`Sampler`]s.
//!
//! A [`Study`] is a cheap, cloneable, `Send + Sync` handle (an `Arc` of the storage plus the
//! study's id, directions and sampler); many threads and processes may drive one study at once.
//! All coordination goes through the storage's API: [`Study::ask`] claims WAITING trials with
//! the storage's exactly-once WAITING -> RUNNING transition before creating fresh ones, so an
//! enqueued trial (or a grid point) is handed to exactly one worker. Study code never touches
//! files or frames.
//!
//! ```
//! use std::sync::Arc;
//! use trialog::{JournalStorage, MemoryBackend, StudyDirection};
//! use trialog::study::{create_study, TellResult};
//! let storage = Arc::new(JournalStorage::new(MemoryBackend::new())?);
//! let study = create_study(storage, Some("demo"), &[StudyDirection::Minimize])?;
//! let mut trial = study.ask()?;
//! let x = trial.suggest_float("x", -1.0, 1.0)?;
//! study.tell(&trial, TellResult::Complete(vec![x * x]))?;
//! assert_eq!(study.best_value()?, x * x);
//! # Ok::<(), trialog::Error>(())
//! ```

mod checkpoint;
mod heartbeat;
mod optimize;
pub mod pruner;
pub mod retry;
pub mod sampler;
mod trial;

use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

pub use checkpoint::{
    CheckpointOptions, SAMPLER_STATE_ATTR, last_checkpoint, restore_sampler, stored_state,
};
pub use optimize::{FAIL_REASON_ATTR, IntoTellResult, ObjectiveError, OptimizeReport, StopReason};
pub use pruner::{MedianPruner, NopPruner, Pruner, SuccessiveHalvingPruner};
pub use sampler::{GridSampler, NsgaIISampler, RandomSampler, SampleContext, Sampler, TpeSampler};
pub use trial::{FIXED_PARAMS_ATTR, Trial};

use crate::error::{Error, Result};
use crate::model::{
    AttrValue, Distribution, FrozenTrial, ListMap, ParamValue, StudyDirection, Timestamp,
    TrialState,
};
use crate::storage::{JournalStorage, Storage};

/// Study system attribute set to `true` by the creating process after the sampler's initial
/// trials (every grid point) are enqueued.
pub const ENQUEUED_ATTR: &str = "grid:enqueued";

/// How long `ask` waits for [`ENQUEUED_ATTR`] when a finite search space has no WAITING trial
/// left and the creator has not marked it fully enqueued yet.
pub const ENQUEUE_WAIT: Duration = Duration::from_secs(30);

/// How a trial ended, for [`Study::tell`].
#[derive(Debug, Clone, PartialEq)]
pub enum TellResult {
    /// COMPLETE with one value per direction. A NaN value makes the trial FAIL instead (as in
    /// Optuna), with the reason in the `fail_reason` system attribute.
    Complete(Vec<f64>),
    /// PRUNED; a single-objective trial keeps its last intermediate value (if not NaN) as its
    /// value, as in Optuna.
    Pruned,
    /// FAIL, without values.
    Fail,
}

/// A handle on one study of a store (see the module docs). Cloning is cheap and shares the
/// storage and the sampler. `S` is the store: a [`JournalStorage`] over a journal file by
/// default, any other [`Storage`], or `dyn Storage`.
pub struct Study<S: Storage + ?Sized = JournalStorage> {
    storage: Arc<S>,
    sampler: Arc<dyn Sampler>,
    pruner: Arc<dyn Pruner>,
    study_id: u64,
    name: String,
    directions: Arc<[StudyDirection]>,
    checkpoints: Option<Arc<CheckpointOptions>>,
    retries: Arc<Mutex<RetryIndex>>,
}

/// Which trial numbers of a study are retries ([`retry::retried_trial_number`]), learned
/// incrementally: every number below `known` has been looked at. A trial is a retry from its
/// creation on (the attribute comes with its template), so what was learned stays true.
#[derive(Debug, Default)]
struct RetryIndex {
    known: u64,
    /// Sorted.
    retries: Vec<u64>,
}

impl<S: Storage + ?Sized> Clone for Study<S> {
    fn clone(&self) -> Self {
        Study {
            storage: Arc::clone(&self.storage),
            sampler: Arc::clone(&self.sampler),
            pruner: Arc::clone(&self.pruner),
            study_id: self.study_id,
            name: self.name.clone(),
            directions: Arc::clone(&self.directions),
            checkpoints: self.checkpoints.clone(),
            retries: Arc::clone(&self.retries),
        }
    }
}

impl<S: Storage + ?Sized> std::fmt::Debug for Study<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Study")
            .field("study_id", &self.study_id)
            .field("name", &self.name)
            .field("directions", &self.directions)
            .field("sampler", &self.sampler)
            .field("pruner", &self.pruner)
            .finish_non_exhaustive()
    }
}

/// Creates a study with a fresh, unseeded [`TpeSampler`] (Optuna's default sampler) and the
/// default [`MedianPruner`]. See [`Study::create`].
pub fn create_study<S: Storage + ?Sized>(
    storage: Arc<S>,
    name: Option<&str>,
    directions: &[StudyDirection],
) -> Result<Study<S>> {
    Study::create(storage, name, directions, Arc::new(TpeSampler::new(None)))
}

/// Loads a study with a fresh, unseeded [`TpeSampler`] and the default [`MedianPruner`]. See
/// [`Study::load`].
pub fn load_study<S: Storage + ?Sized>(storage: Arc<S>, name: &str) -> Result<Study<S>> {
    Study::load(storage, name, Arc::new(TpeSampler::new(None)))
}

/// Creates or loads a study with a fresh, unseeded [`TpeSampler`] and the default
/// [`MedianPruner`]. See [`Study::create_or_load`].
pub fn create_or_load_study<S: Storage + ?Sized>(
    storage: Arc<S>,
    name: &str,
    directions: &[StudyDirection],
) -> Result<Study<S>> {
    Study::create_or_load(storage, name, directions, Arc::new(TpeSampler::new(None)))
}

/// Whether `a` Pareto-dominates `b`: no worse in every objective, better in at least one.
/// The pruner of a handle that did not choose one: Optuna's default.
fn default_pruner() -> Arc<dyn Pruner> {
    Arc::new(MedianPruner::default())
}

fn dominates(directions: &[StudyDirection], a: &[f64], b: &[f64]) -> bool {
    let mut strictly = false;
    for ((d, x), y) in directions.iter().zip(a).zip(b) {
        let (better, worse) = match d {
            StudyDirection::Maximize => (x > y, x < y),
            StudyDirection::Minimize | StudyDirection::NotSet => (x < y, x > y),
        };
        if worse {
            return false;
        }
        strictly |= better;
    }
    strictly
}

impl<S: Storage + ?Sized> Study<S> {
    /// Creates a study named `name` (default `no-name-<uuid>`) and, if `sampler` has a finite
    /// search space, enqueues its points as WAITING trials and then sets [`ENQUEUED_ATTR`].
    /// Fails with `DuplicateStudyName` if the name is taken (nothing written).
    pub fn create(
        storage: Arc<S>,
        name: Option<&str>,
        directions: &[StudyDirection],
        sampler: Arc<dyn Sampler>,
    ) -> Result<Self> {
        let initial = sampler.initial_trials()?;
        let study_id = storage.create_new_study(directions, name)?;
        let name = storage.get_study_name_from_id(study_id)?;
        let study = Study::handle_on(storage, sampler, study_id, name, directions.into());
        if !initial.is_empty() {
            // Crash window: between the study's creation and the marker below, a crash leaves
            // part of the space unenqueued; `ask` then reports SearchSpaceNotReady.
            for (i, point) in initial.iter().enumerate() {
                let fixed = point.iter().map(|(k, v)| (k.clone(), trial::attr_from_param(v)));
                let mut t = Self::waiting_template(study_id);
                t.system_attrs
                    .insert(FIXED_PARAMS_ATTR.to_owned(), AttrValue::Map(fixed.collect()));
                t.system_attrs.insert("grid_id".to_owned(), AttrValue::Int(i as i64));
                study.storage.create_new_trial(study_id, Some(&t))?;
            }
            study.storage.set_study_system_attr(study_id, ENQUEUED_ATTR, AttrValue::Bool(true))?;
        }
        Ok(study)
    }

    /// Loads the live study named `name` (`StudyNameNotFound` if there is none). The sampler's
    /// initial trials are *not* enqueued: that is the creator's job.
    pub fn load(storage: Arc<S>, name: &str, sampler: Arc<dyn Sampler>) -> Result<Self> {
        let study_id = storage.get_study_id_from_name(name)?;
        let directions = storage.get_study_directions(study_id)?;
        Ok(Study::handle_on(storage, sampler, study_id, name.to_owned(), directions.into()))
    }

    /// A handle with the default pruner and sampler checkpoints off.
    fn handle_on(
        storage: Arc<S>,
        sampler: Arc<dyn Sampler>,
        study_id: u64,
        name: String,
        directions: Arc<[StudyDirection]>,
    ) -> Self {
        Study {
            storage,
            sampler,
            pruner: default_pruner(),
            study_id,
            name,
            directions,
            checkpoints: None,
            retries: Arc::default(),
        }
    }

    /// Loads the study named `name` if it exists, else creates it (as [`Study::create`]). Two
    /// processes racing to create it end with one creator and one loader of the same study.
    /// Fails with `DirectionMismatch` if the existing study has other directions.
    pub fn create_or_load(
        storage: Arc<S>,
        name: &str,
        directions: &[StudyDirection],
        sampler: Arc<dyn Sampler>,
    ) -> Result<Self> {
        let load = |storage, sampler| -> Result<Self> {
            let study = Self::load(storage, name, sampler)?;
            if *study.directions != *directions {
                return Err(Error::DirectionMismatch {
                    name: name.to_owned(),
                    existing: study.directions.to_vec(),
                    requested: directions.to_vec(),
                });
            }
            Ok(study)
        };
        match storage.get_study_id_from_name(name) {
            Ok(_) => load(storage, sampler),
            Err(Error::StudyNameNotFound { .. }) => {
                match Self::create(
                    Arc::clone(&storage),
                    Some(name),
                    directions,
                    Arc::clone(&sampler),
                ) {
                    Err(Error::DuplicateStudyName { .. }) => load(storage, sampler),
                    other => other,
                }
            }
            Err(e) => Err(e),
        }
    }

    fn waiting_template(study_id: u64) -> FrozenTrial {
        FrozenTrial::new(0, 0, study_id, TrialState::Waiting)
    }

    /// The study's id.
    pub fn id(&self) -> u64 {
        self.study_id
    }

    /// The study's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The study's directions (one per objective).
    pub fn directions(&self) -> &[StudyDirection] {
        &self.directions
    }

    /// The storage the study lives in.
    pub fn storage(&self) -> &Arc<S> {
        &self.storage
    }

    /// The sampler this handle suggests with.
    pub fn sampler(&self) -> &Arc<dyn Sampler> {
        &self.sampler
    }

    /// This handle with `pruner` deciding [`Trial::should_prune`] (the default is Optuna's
    /// default, [`MedianPruner::default`]). Pruners keep no state in the study: each handle
    /// (each process) chooses its own.
    pub fn with_pruner(mut self, pruner: Arc<dyn Pruner>) -> Self {
        self.pruner = pruner;
        self
    }

    /// The pruner this handle's trials ask.
    pub fn pruner(&self) -> &Arc<dyn Pruner> {
        &self.pruner
    }

    /// This handle with sampler checkpoints on: every trial it asks for gets the sampler's
    /// state as it was before the trial ([`Sampler::export_state`]) in its
    /// [`SAMPLER_STATE_ATTR`] system attribute (a fresh trial in the same durable write that
    /// creates it, a claimed WAITING trial right after the claim), inline or, when larger than
    /// `options.inline_limit`, as an artifact. A sampler without state stores nothing.
    /// [`Study::resume`] and `trialog::lifecycle::fork_study` restore it.
    pub fn with_checkpoints(mut self, options: CheckpointOptions) -> Self {
        self.checkpoints = Some(Arc::new(options));
        self
    }

    /// This handle's checkpoint settings, if checkpoints are on.
    pub fn checkpoints(&self) -> Option<&CheckpointOptions> {
        self.checkpoints.as_deref()
    }

    /// A RUNNING trial for this worker: the lowest-numbered WAITING trial this call manages to
    /// claim (a lost claim moves on to the next), else a fresh trial. With a finite sampler
    /// (a grid), no fresh trial is created: once nothing is WAITING, fails with
    /// `SearchSpaceExhausted` (or `SearchSpaceNotReady` if the creator has not finished
    /// enqueuing within [`ENQUEUE_WAIT`]).
    pub fn ask(&self) -> Result<Trial<S>> {
        let started = Instant::now();
        loop {
            if let Some(trial) = self.claim_waiting()? {
                return Ok(trial);
            }
            if self.sampler.allows_new_trials() {
                return self.create_fresh();
            }
            let attrs = self.storage.get_study_system_attrs(self.study_id)?;
            if matches!(attrs.get(ENQUEUED_ATTR), Some(AttrValue::Bool(true))) {
                // Points may have been enqueued between the claim above and the marker: every
                // point is WAITING before the marker is written, so one more look suffices.
                if let Some(trial) = self.claim_waiting()? {
                    return Ok(trial);
                }
                return Err(Error::SearchSpaceExhausted { study_id: self.study_id });
            }
            let waited = started.elapsed();
            if waited >= ENQUEUE_WAIT {
                return Err(Error::SearchSpaceNotReady { study_id: self.study_id, waited });
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// A fresh RUNNING trial, even when WAITING trials exist (which [`Study::ask`] claims
    /// first): for callers that must know whether their trial was created or claimed (the
    /// runner's budget check). `SearchSpaceExhausted` with a finite sampler (a grid), which
    /// never creates trials.
    pub fn ask_new(&self) -> Result<Trial<S>> {
        if !self.sampler.allows_new_trials() {
            return Err(Error::SearchSpaceExhausted { study_id: self.study_id });
        }
        let id = self.storage.create_new_trial(self.study_id, None)?;
        self.handle(id)
    }

    /// Claims the lowest-numbered WAITING (enqueued) trial this worker can get, or `None` if
    /// every WAITING trial is taken. Never creates a trial: for draining a queue.
    pub fn ask_waiting(&self) -> Result<Option<Trial<S>>> {
        self.claim_waiting()
    }

    /// Claims the lowest-numbered WAITING trial this worker can get, if any.
    fn claim_waiting(&self) -> Result<Option<Trial<S>>> {
        let waiting = self.storage.get_all_trials(self.study_id, Some(&[TrialState::Waiting]))?;
        for t in waiting {
            match self.storage.set_trial_state_values(t.trial_id, TrialState::Running, None) {
                Ok(true) => {
                    if let Some(options) = &self.checkpoints {
                        if let Some(state) = self.sampler.export_state()? {
                            options.store(&*self.storage, t.trial_id, &state)?;
                        }
                    }
                    return self.handle(t.trial_id).map(Some);
                }
                // Someone else claimed it (and maybe already finished it): try the next one.
                Ok(false) | Err(Error::TrialFinished { .. }) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(None)
    }

    /// Creates a fresh RUNNING trial, with the sampler's state when checkpoints are on (an
    /// inline state goes into the same durable write as the trial).
    fn create_fresh(&self) -> Result<Trial<S>> {
        let state = match &self.checkpoints {
            Some(_) => self.sampler.export_state()?,
            None => None,
        };
        let (Some(options), Some(state)) = (&self.checkpoints, state) else {
            let id = self.storage.create_new_trial(self.study_id, None)?;
            return self.handle(id);
        };
        let id = match options.inline_value(&state) {
            Some(value) => {
                let mut t = FrozenTrial::new(0, 0, self.study_id, TrialState::Running);
                t.datetime_start = Some(Timestamp::now());
                t.system_attrs.insert(SAMPLER_STATE_ATTR.to_owned(), value);
                self.storage.create_new_trial(self.study_id, Some(&t))?
            }
            None => {
                let id = self.storage.create_new_trial(self.study_id, None)?;
                options.store(&*self.storage, id, &state)?;
                id
            }
        };
        self.handle(id)
    }

    fn handle(&self, trial_id: u64) -> Result<Trial<S>> {
        let snapshot = self.storage.get_trial(trial_id)?;
        let draw_number = self.draw_number(&snapshot)?;
        Ok(Trial::new(
            Arc::clone(&self.storage),
            Arc::clone(&self.sampler),
            Arc::clone(&self.pruner),
            Arc::clone(&self.directions),
            &snapshot,
            draw_number,
        ))
    }

    /// The draw number of `trial` ([`SampleContext::draw_number`]): for a retry, that of the
    /// trial it retries; else its number minus the retries numbered below it.
    fn draw_number(&self, trial: &FrozenTrial) -> Result<u64> {
        match retry::retried_trial_number(trial) {
            Some(original) if original < trial.number => self.fresh_draw_number(original),
            _ => self.fresh_draw_number(trial.number),
        }
    }

    /// `number` minus the retries numbered below it, learning the trials below `number` not
    /// looked at yet (one by one when they are few, in one listing otherwise).
    fn fresh_draw_number(&self, number: u64) -> Result<u64> {
        let mut index = self.retries.lock().unwrap_or_else(PoisonError::into_inner);
        if index.known < number {
            let from = index.known;
            if number - from > 64 {
                for t in self.storage.get_all_trials(self.study_id, None)? {
                    if (from..number).contains(&t.number)
                        && retry::retried_trial_number(&t).is_some()
                    {
                        index.retries.push(t.number);
                    }
                }
            } else {
                for n in from..number {
                    let id =
                        self.storage.get_trial_id_from_study_id_trial_number(self.study_id, n)?;
                    if retry::retried_trial_number(&*self.storage.get_trial(id)?).is_some() {
                        index.retries.push(n);
                    }
                }
            }
            index.retries.sort_unstable();
            index.known = number;
        }
        let below = index.retries.partition_point(|&r| r < number);
        Ok(number - below as u64)
    }

    /// Finishes `trial` as `result` (durable when this returns). `Complete` needs exactly one
    /// value per direction (else `InvalidArgument`, nothing written); a finished trial gives
    /// `TrialFinished`; a trial of another study gives `InvalidArgument`.
    pub fn tell(&self, trial: &Trial<S>, result: TellResult) -> Result<()> {
        self.tell_id(trial.id(), result)
    }

    /// [`Study::tell`] by trial id (for a trial asked through another handle or process).
    pub fn tell_id(&self, trial_id: u64, result: TellResult) -> Result<()> {
        let snapshot = self.storage.get_trial(trial_id)?;
        if snapshot.study_id != self.study_id {
            return Err(Error::invalid(format_args!(
                "trial {trial_id} belongs to study {}, not {}",
                snapshot.study_id, self.study_id
            )));
        }
        self.storage.check_trial_is_updatable(trial_id, snapshot.state)?;
        let (state, values) = match result {
            TellResult::Complete(values) => {
                if values.len() != self.directions.len() {
                    return Err(Error::invalid(format_args!(
                        "{} values told for a study with {} objectives",
                        values.len(),
                        self.directions.len()
                    )));
                }
                if values.iter().any(|v| v.is_nan()) {
                    self.storage.set_trial_system_attr(
                        trial_id,
                        FAIL_REASON_ATTR,
                        AttrValue::String(format!("objective returned NaN: {values:?}")),
                    )?;
                    (TrialState::Fail, None)
                } else {
                    (TrialState::Complete, Some(values))
                }
            }
            // As Optuna: a pruned trial of a single-objective study keeps its last intermediate
            // value (unless NaN) as its value.
            TellResult::Pruned => {
                let last = snapshot.intermediate_values.iter().next_back().map(|(_, v)| *v);
                let value = last.filter(|v| !v.is_nan() && self.directions.len() == 1);
                (TrialState::Pruned, value.map(|v| vec![v]))
            }
            TellResult::Fail => (TrialState::Fail, None),
        };
        self.storage.set_trial_state_values(trial_id, state, values.as_deref()).map(drop)
    }

    /// Enqueues a WAITING trial with the given parameters (name, external value, distribution);
    /// exactly one `ask` across all workers will return it. Returns its trial id. Each value
    /// must lie in its distribution (else `InvalidArgument`, nothing written).
    pub fn enqueue_trial(&self, params: &[(&str, ParamValue, Distribution)]) -> Result<u64> {
        let mut t = Self::waiting_template(self.study_id);
        for (name, value, dist) in params {
            let internal = dist.to_internal(value)?;
            if !dist.contains(internal) {
                return Err(Error::invalid(format_args!(
                    "enqueued value {value} of {name:?} is outside its {}",
                    dist.kind_name()
                )));
            }
            let name: Arc<str> = Arc::from(*name);
            t.params.insert(Arc::clone(&name), value.clone());
            t.distributions.insert(name, Arc::new(dist.clone()));
        }
        self.storage.create_new_trial(self.study_id, Some(&t))
    }

    /// Enqueues a WAITING trial whose parameters are fixed to `params` without distributions,
    /// as Optuna's `enqueue_trial` does: the values go into the [`FIXED_PARAMS_ATTR`] system
    /// attribute, and each is checked against the distribution it is suggested with when the
    /// trial runs. Exactly one `ask` across all workers returns it. Returns its trial id.
    pub fn enqueue_fixed(&self, params: &[(&str, ParamValue)]) -> Result<u64> {
        let mut t = Self::waiting_template(self.study_id);
        let fixed = params.iter().map(|(k, v)| ((*k).to_owned(), trial::attr_from_param(v)));
        t.system_attrs.insert(FIXED_PARAMS_ATTR.to_owned(), AttrValue::Map(fixed.collect()));
        self.storage.create_new_trial(self.study_id, Some(&t))
    }

    /// Snapshots of the study's trials in number order, optionally only those in `states`.
    pub fn trials(&self, states: Option<&[TrialState]>) -> Result<Vec<Arc<FrozenTrial>>> {
        self.storage.get_all_trials(self.study_id, states)
    }

    /// The best COMPLETE trial of a single-objective study (first in number order on ties).
    /// `NoCompletedTrials` or `MultiObjectiveStudy` otherwise.
    pub fn best_trial(&self) -> Result<Arc<FrozenTrial>> {
        self.storage.get_best_trial(self.study_id)
    }

    /// The value of [`Study::best_trial`].
    pub fn best_value(&self) -> Result<f64> {
        let best = self.best_trial()?;
        best.value().ok_or(Error::NoCompletedTrials { study_id: self.study_id })
    }

    /// The parameters of [`Study::best_trial`], in its order.
    pub fn best_params(&self) -> Result<ListMap<Arc<str>, ParamValue>> {
        Ok(self.best_trial()?.params.clone())
    }

    /// The COMPLETE trials no other COMPLETE trial dominates (respecting each direction), in
    /// number order. Trials with equal values are all kept. Works for any number of
    /// objectives; trials with a NaN value are left out.
    pub fn pareto_front(&self) -> Result<Vec<Arc<FrozenTrial>>> {
        let complete: Vec<_> = self
            .trials(Some(&[TrialState::Complete]))?
            .into_iter()
            .filter(|t| {
                t.values.as_ref().is_some_and(|v| {
                    v.len() == self.directions.len() && v.iter().all(|x| !x.is_nan())
                })
            })
            .collect();
        let values = |t: &FrozenTrial| t.values.clone().unwrap_or_default();
        Ok(complete
            .iter()
            .filter(|t| {
                let tv = values(t);
                !complete.iter().any(|o| dominates(&self.directions, &values(o), &tv))
            })
            .cloned()
            .collect())
    }
}

// A study handle is shared across threads: prove it at compile time.
const _: () = {
    const fn assert_send_sync<T: Send + Sync>() {}
    const fn assert_send<T: Send>() {}
    assert_send_sync::<Study>();
    assert_send_sync::<Study<dyn Storage>>();
    assert_send::<Trial>();
    assert_send::<Trial<dyn Storage>>();
};
