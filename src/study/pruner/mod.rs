//! Pruners: whether a running trial should stop early, from its intermediate values and those
//! of the study's other trials (Optuna's `optuna/pruners/`).
//!
//! The objective reports intermediate values with [`Trial::report`](super::Trial::report) and
//! asks [`Trial::should_prune`](super::Trial::should_prune); the study's [`Pruner`] decides.
//! Pruners only read trials (through the same [`SampleContext`] samplers use); bookkeeping a
//! pruner keeps in the journal (successive halving's completed rungs) comes back as
//! [`AttrWrites`] that the trial writes.

mod percentile;
mod successive_halving;

use std::fmt;

pub use percentile::{MedianPruner, PercentilePruner};
pub use successive_halving::SuccessiveHalvingPruner;

use super::sampler::{AttrWrites, SampleContext};
use crate::error::Result;
use crate::model::FrozenTrial;

/// A pruner's answer for one trial.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PruneDecision {
    /// Stop the trial now.
    pub prune: bool,
    /// Attributes to record (before the answer is returned to the objective).
    pub writes: AttrWrites,
}

impl PruneDecision {
    /// An answer without attributes to record.
    pub fn of(prune: bool) -> Self {
        PruneDecision { prune, writes: AttrWrites::default() }
    }
}

/// A pruning rule. Shared between threads; every method takes `&self`.
pub trait Pruner: Send + Sync + fmt::Debug {
    /// Whether `trial` (a fresh snapshot of the running trial of `ctx`, single-objective study)
    /// should be pruned now.
    fn prune(&self, ctx: &SampleContext<'_>, trial: &FrozenTrial) -> Result<PruneDecision>;
}

/// Never prunes (Optuna's `NopPruner`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct NopPruner;

impl Pruner for NopPruner {
    fn prune(&self, _ctx: &SampleContext<'_>, _trial: &FrozenTrial) -> Result<PruneDecision> {
        Ok(PruneDecision::of(false))
    }
}

/// The last (largest) step within 64 bits a trial reported, if any (pruners judge those steps
/// only: a step beyond them, which only Python writers can report, is kept but never judged).
pub(crate) fn last_step(trial: &FrozenTrial) -> Option<i64> {
    trial.intermediate_values.keys().rev().find_map(|s| s.as_i64())
}

#[cfg(test)]
pub(crate) mod testing {
    //! A fake study for pruner tests: trials served from memory.

    use std::collections::BTreeMap;
    use std::sync::Arc;

    use crate::error::Result;
    use crate::model::{AttrValue, FrozenTrial, TrialState};
    use crate::study::sampler::TrialSource;

    /// Trials in memory.
    pub(crate) struct Trials(pub Vec<Arc<FrozenTrial>>);

    impl TrialSource for Trials {
        fn study_trials(
            &self,
            _study_id: u64,
            states: Option<&[TrialState]>,
        ) -> Result<Vec<Arc<FrozenTrial>>> {
            Ok(self
                .0
                .iter()
                .filter(|t| states.is_none_or(|s| s.contains(&t.state)))
                .cloned()
                .collect())
        }

        fn study_system_attrs(&self, _study_id: u64) -> Result<BTreeMap<String, AttrValue>> {
            Ok(BTreeMap::new())
        }
    }

    /// A trial numbered `number` in `state` with intermediate values `steps`.
    pub(crate) fn trial(number: u64, state: TrialState, steps: &[(i64, f64)]) -> FrozenTrial {
        let mut t = FrozenTrial::new(number, number, 0, state);
        for (s, v) in steps {
            t.intermediate_values.insert((*s).into(), *v);
        }
        t
    }
}
