//! Samplers: where the value of a parameter that is not fixed by the trial comes from.
//!
//! A [`Sampler`] sees the distribution of the parameter being suggested and, through a
//! [`SampleContext`], the study's past trials (which a model-based sampler such as TPE needs),
//! and returns a value in *internal* representation (see [`Distribution`]). Samplers never write
//! to the storage themselves; the study writes what they return.

mod grid;
mod nsga2;
mod pareto;
mod random;
mod search_space;
pub mod state;
mod tpe;

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

pub use grid::GridSampler;
pub use nsga2::{NsgaIIOptions, NsgaIISampler, translate_trial_ids};
pub use random::RandomSampler;
pub use search_space::{intersection_search_space, single_value};
pub use tpe::{TpeOptions, TpeSampler};

use crate::error::Result;
use crate::model::{AttrValue, Distribution, FrozenTrial, ParamValue, StudyDirection, TrialState};
use crate::storage::Storage;

/// Read access to a study's trials, as samplers see it (implemented by every [`Storage`], so
/// that a `dyn Sampler` does not depend on the store's type).
pub trait TrialSource: Send + Sync {
    /// Snapshots of the study's trials in number order, optionally only those in `states`.
    fn study_trials(
        &self,
        study_id: u64,
        states: Option<&[TrialState]>,
    ) -> Result<Vec<Arc<FrozenTrial>>>;

    /// The study's system attributes (NSGA-II keeps its parent populations there).
    fn study_system_attrs(&self, study_id: u64) -> Result<BTreeMap<String, AttrValue>>;
}

impl<S: Storage + ?Sized> TrialSource for S {
    fn study_trials(
        &self,
        study_id: u64,
        states: Option<&[TrialState]>,
    ) -> Result<Vec<Arc<FrozenTrial>>> {
        self.get_all_trials(study_id, states)
    }

    fn study_system_attrs(&self, study_id: u64) -> Result<BTreeMap<String, AttrValue>> {
        self.get_study_system_attrs(study_id)
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
    /// Which random draws the trial gets: samplers key their random streams by this, not by
    /// `trial_number`. It equals `trial_number` unless the study holds retries (trials with a
    /// `failed_trial` system attribute, as Optuna's retry callback and `Study::resume` create
    /// them): a retry of trial `k` draws what `k` drew, and every other trial draws as if the
    /// retries before it were not there (its number minus the retries numbered below it). So a
    /// study resumed after a crash, its lost trial retried, goes on with the draws an
    /// uninterrupted run would have made. [`SampleContext::new`] sets it to `trial_number`;
    /// `Study` computes it (see [`SampleContext::with_draw_number`]).
    pub draw_number: u64,
    source: Source<'a>,
}

/// Where a context reads trials from: a source given as such, or a store of any type (erased
/// behind a small adapter, since a `dyn Storage` cannot itself become a `dyn TrialSource`).
enum Source<'a> {
    Given(&'a dyn TrialSource),
    Store(Box<dyn TrialSource + 'a>),
}

/// A store seen as a [`TrialSource`].
struct StoreSource<'a, S: ?Sized>(&'a S);

impl<S: Storage + ?Sized> TrialSource for StoreSource<'_, S> {
    fn study_trials(
        &self,
        study_id: u64,
        states: Option<&[TrialState]>,
    ) -> Result<Vec<Arc<FrozenTrial>>> {
        self.0.get_all_trials(study_id, states)
    }

    fn study_system_attrs(&self, study_id: u64) -> Result<BTreeMap<String, AttrValue>> {
        self.0.get_study_system_attrs(study_id)
    }
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
        SampleContext {
            study_id,
            directions,
            trial_id,
            trial_number,
            draw_number: trial_number,
            source: Source::Given(source),
        }
    }

    /// This context with `draw_number` as the trial's draw number (see
    /// [`SampleContext::draw_number`]).
    #[must_use]
    pub fn with_draw_number(mut self, draw_number: u64) -> Self {
        self.draw_number = draw_number;
        self
    }

    /// A context as [`SampleContext::new`], reading past trials from `storage` (any store,
    /// also a `dyn Storage`).
    pub fn over_storage<S: Storage + ?Sized>(
        study_id: u64,
        directions: &'a [StudyDirection],
        trial_id: u64,
        trial_number: u64,
        storage: &'a S,
    ) -> Self {
        let source = Source::Store(Box::new(StoreSource(storage)));
        let draw_number = trial_number;
        SampleContext { study_id, directions, trial_id, trial_number, draw_number, source }
    }

    fn source(&self) -> &dyn TrialSource {
        match &self.source {
            Source::Given(s) => *s,
            Source::Store(s) => &**s,
        }
    }

    /// The study's trials as the storage sees them now (synced to the end of the log), in
    /// number order, optionally only those in `states`.
    pub fn trials(&self, states: Option<&[TrialState]>) -> Result<Vec<Arc<FrozenTrial>>> {
        self.source().study_trials(self.study_id, states)
    }

    /// The study's system attributes as the storage sees them now.
    pub fn study_system_attrs(&self) -> Result<BTreeMap<String, AttrValue>> {
        self.source().study_system_attrs(self.study_id)
    }

    /// Whether the study has more than one objective.
    pub fn is_multi_objective(&self) -> bool {
        self.directions.len() > 1
    }
}

impl fmt::Debug for SampleContext<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SampleContext")
            .field("study_id", &self.study_id)
            .field("directions", &self.directions)
            .field("trial_id", &self.trial_id)
            .field("trial_number", &self.trial_number)
            .field("draw_number", &self.draw_number)
            .finish_non_exhaustive()
    }
}

/// One point of a finite search space: fixed external values by parameter name.
pub type FixedParams = Vec<(String, ParamValue)>;

/// A search space: distributions by parameter name, in name order (as Optuna sorts it).
pub type SearchSpace = BTreeMap<String, Distribution>;

/// Attributes a sampler or pruner wants recorded, which the study writes for it (samplers and
/// pruners only read): Optuna keeps some of their bookkeeping in the journal, e.g. TPE's
/// relative parameters of a running trial, NSGA-II's generations and parent populations,
/// successive halving's completed rungs.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AttrWrites {
    /// System attributes of the trial being sampled or pruned.
    pub trial: Vec<(String, AttrValue)>,
    /// System attributes of the study.
    pub study: Vec<(String, AttrValue)>,
}

/// What [`Sampler::sample_relative`] returns: values for some parameters of the relative search
/// space, in internal representation, and attributes to record.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RelativeSample {
    /// Internal values by parameter name (a subset of the search space; missing ones are
    /// sampled independently).
    pub params: BTreeMap<String, f64>,
    /// Attributes the study writes before the first of these values is used.
    pub writes: AttrWrites,
}

/// A strategy for choosing parameter values. Shared between threads (`Send + Sync`); every
/// method takes `&self`.
///
/// As in Optuna, a trial's parameters come from two kinds of sampling: *relative* sampling draws
/// the parameters of a search space inferred from past trials jointly, once per trial, on the
/// trial's first suggestion that needs a sampler ([`Sampler::infer_relative_search_space`] then
/// [`Sampler::sample_relative`]); a parameter outside that space (or left out of the relative
/// sample) is drawn on its own by [`Sampler::sample`] (Optuna's `sample_independent`).
pub trait Sampler: Send + Sync + fmt::Debug {
    /// The internal representation of a value for parameter `name` drawn from `dist` alone
    /// (Optuna's `sample_independent`). The study refuses (with `InvalidArgument`, writing
    /// nothing) a value that `dist` does not contain, so a sampler bug cannot put an
    /// out-of-range value in the journal.
    fn sample(&self, ctx: &SampleContext<'_>, name: &str, dist: &Distribution) -> Result<f64>;

    /// The search space to sample jointly for the trial of `ctx`. Empty (the default) for an
    /// independent sampler.
    fn infer_relative_search_space(&self, ctx: &SampleContext<'_>) -> Result<SearchSpace> {
        let _ = ctx;
        Ok(SearchSpace::new())
    }

    /// Values for (some of) the parameters of `space`, drawn jointly. The default draws none.
    fn sample_relative(
        &self,
        ctx: &SampleContext<'_>,
        space: &SearchSpace,
    ) -> Result<RelativeSample> {
        let _ = (ctx, space);
        Ok(RelativeSample::default())
    }

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

    /// The sampler's state (its random generator's state and anything else it carries from one
    /// trial to the next) as bytes ([`state`]'s form), or `None` (the default) for a sampler
    /// that carries nothing. A study with sampler checkpoints on stores it with every trial,
    /// as it was before that trial ([`crate::study::SAMPLER_STATE_ATTR`]).
    fn export_state(&self) -> Result<Option<Vec<u8>>> {
        Ok(None)
    }

    /// Restores a state that [`Sampler::export_state`] of a sampler of the same kind returned,
    /// so that this sampler makes the draws that one would have made. Fails with
    /// `Error::BadSamplerState` (changing nothing) for a state of another kind of sampler, of a
    /// newer trialog, or a damaged one; the default (a sampler without state) refuses every
    /// state.
    fn import_state(&self, state: &[u8]) -> Result<()> {
        let writer = state::kind_of(state).unwrap_or("sampler of unknown kind");
        let full = std::any::type_name::<Self>();
        let me = full.rsplit("::").next().unwrap_or(full);
        Err(state::bad(
            me,
            format!("this sampler keeps no state, and the state was written by a {writer}"),
        ))
    }
}
