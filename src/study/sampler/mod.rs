//! Samplers: where the value of a parameter that is not fixed by the trial comes from.
//!
//! A [`Sampler`] sees the distribution of the parameter being suggested and, through a
//! [`SampleContext`], the study's past trials (which a model-based sampler such as TPE needs),
//! and returns a value in *internal* representation (see [`Distribution`]). Samplers never write
//! to the storage themselves; the study writes what they return.

mod grid;
mod random;

use std::fmt;
use std::sync::Arc;

pub use grid::GridSampler;
pub use random::RandomSampler;

use crate::backend::LogBackend;
use crate::error::Result;
use crate::model::{Distribution, FrozenTrial, ParamValue, StudyDirection, TrialState};
use crate::storage::JournalStorage;

/// Read access to a study's trials, as samplers see it (implemented by [`JournalStorage`] over
/// any backend, so that a `dyn Sampler` does not depend on the backend type).
pub trait TrialSource: Send + Sync {
    /// Snapshots of the study's trials in number order, optionally only those in `states`.
    fn study_trials(
        &self,
        study_id: u64,
        states: Option<&[TrialState]>,
    ) -> Result<Vec<Arc<FrozenTrial>>>;
}

impl<B: LogBackend> TrialSource for JournalStorage<B> {
    fn study_trials(
        &self,
        study_id: u64,
        states: Option<&[TrialState]>,
    ) -> Result<Vec<Arc<FrozenTrial>>> {
        self.get_all_trials(study_id, states)
    }
}

/// What a sampler knows when it is asked for one parameter value of one trial.
pub struct SampleContext<'a> {
    /// The study.
    pub study_id: u64,
    /// The study's directions (one per objective).
    pub directions: &'a [StudyDirection],
    /// The trial being sampled (unique in the journal).
    pub trial_id: u64,
    /// Its number within the study.
    pub trial_number: u64,
    source: &'a dyn TrialSource,
}

impl<'a> SampleContext<'a> {
    /// A context for trial `trial_id` (number `trial_number`) of study `study_id`, reading past
    /// trials from `source`.
    pub fn new(
        study_id: u64,
        directions: &'a [StudyDirection],
        trial_id: u64,
        trial_number: u64,
        source: &'a dyn TrialSource,
    ) -> Self {
        SampleContext { study_id, directions, trial_id, trial_number, source }
    }

    /// The study's trials as the storage sees them now (synced to the end of the log), in
    /// number order, optionally only those in `states`.
    pub fn trials(&self, states: Option<&[TrialState]>) -> Result<Vec<Arc<FrozenTrial>>> {
        self.source.study_trials(self.study_id, states)
    }
}

impl fmt::Debug for SampleContext<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SampleContext")
            .field("study_id", &self.study_id)
            .field("directions", &self.directions)
            .field("trial_id", &self.trial_id)
            .field("trial_number", &self.trial_number)
            .finish_non_exhaustive()
    }
}

/// One point of a finite search space: fixed external values by parameter name.
pub type FixedParams = Vec<(String, ParamValue)>;

/// A strategy for choosing parameter values. Shared between threads (`Send + Sync`); every
/// method takes `&self`.
pub trait Sampler: Send + Sync + fmt::Debug {
    /// The internal representation of a value for parameter `name` drawn from `dist`. The
    /// study refuses (with `InvalidArgument`, writing nothing) a value that `dist` does not
    /// contain, so a sampler bug cannot put an out-of-range value in the journal.
    fn sample(&self, ctx: &SampleContext<'_>, name: &str, dist: &Distribution) -> Result<f64>;

    /// The points of a finite search space, enqueued once as WAITING trials by the process that
    /// creates the study. Empty (the default) for an unbounded sampler.
    fn initial_trials(&self) -> Result<Vec<FixedParams>> {
        Ok(Vec::new())
    }

    /// Whether `ask` may create a fresh trial when no WAITING trial is left. `false` makes the
    /// search space finite: `ask` then fails with `Error::SearchSpaceExhausted`. Defaults to
    /// `true`.
    fn allows_new_trials(&self) -> bool {
        true
    }
}
