//! `PercentilePruner` and `MedianPruner` (Optuna's `pruners/_percentile.py`, `_median.py`).

use super::{PruneDecision, Pruner, last_step};
use crate::error::{Error, Result};
use crate::model::{FrozenTrial, StudyDirection, TrialState};
use crate::study::sampler::SampleContext;

/// Prunes a trial whose best intermediate value so far is worse than the given percentile of
/// the COMPLETE trials' values at the same step.
///
/// Exactly as Optuna: no pruning before `n_startup_trials` trials are COMPLETE, before step
/// `n_warmup_steps`, at a step that is not the first report in its interval of `interval_steps`
/// (counted from the warm-up), or when fewer than `n_min_trials` COMPLETE trials reported that
/// step. A trial whose intermediate values are all NaN is pruned. For a maximized objective the
/// percentile is taken from the top (`100 - percentile`).
#[derive(Debug, Clone, PartialEq)]
pub struct PercentilePruner {
    percentile: f64,
    n_startup_trials: usize,
    n_warmup_steps: i64,
    interval_steps: i64,
    n_min_trials: usize,
}

impl PercentilePruner {
    /// A pruner with Optuna's checks: `percentile` in `[0, 100]`, `interval_steps >= 1`,
    /// `n_min_trials >= 1` (else `InvalidArgument`).
    pub fn new(
        percentile: f64,
        n_startup_trials: usize,
        n_warmup_steps: u32,
        interval_steps: u32,
        n_min_trials: usize,
    ) -> Result<Self> {
        if !(0.0..=100.0).contains(&percentile) {
            return Err(Error::invalid(format_args!(
                "percentile must be between 0 and 100 inclusive, but got {percentile}"
            )));
        }
        if interval_steps < 1 {
            return Err(Error::invalid("pruning interval steps must be at least 1"));
        }
        if n_min_trials < 1 {
            return Err(Error::invalid("number of trials for pruning must be at least 1"));
        }
        Ok(PercentilePruner {
            percentile,
            n_startup_trials,
            n_warmup_steps: i64::from(n_warmup_steps),
            interval_steps: i64::from(interval_steps),
            n_min_trials,
        })
    }

    /// Whether `step` is the trial's first report in its pruning interval.
    fn is_first_in_interval_step(&self, step: i64, trial: &FrozenTrial) -> bool {
        let nearest_lower_pruning_step =
            (step - self.n_warmup_steps).div_euclid(self.interval_steps) * self.interval_steps
                + self.n_warmup_steps;
        let second_last_step = trial
            .intermediate_values
            .keys()
            .filter_map(|s| s.as_i64())
            .filter(|s| *s != step)
            .max();
        let second_last_step = second_last_step.unwrap_or(-1);
        second_last_step < nearest_lower_pruning_step
    }
}

/// numpy's `nanpercentile` with linear interpolation; NaN when no value is a number.
pub(crate) fn nan_percentile(values: &[f64], q: f64) -> f64 {
    let mut v: Vec<f64> = values.iter().copied().filter(|x| !x.is_nan()).collect();
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_by(f64::total_cmp);
    let index = q / 100.0 * (v.len() - 1) as f64;
    let lo = index.floor() as usize;
    let hi = (lo + 1).min(v.len() - 1);
    let t = index - lo as f64;
    let (a, b) = (v[lo], v[hi]);
    let diff = b - a;
    // numpy's `_lerp`: from the nearer end, for monotonicity.
    if t >= 0.5 { b - diff * (1.0 - t) } else { a + diff * t }
}

impl Pruner for PercentilePruner {
    fn prune(&self, ctx: &SampleContext<'_>, trial: &FrozenTrial) -> Result<PruneDecision> {
        let completed = ctx.trials(Some(&[TrialState::Complete]))?;
        if completed.is_empty() || completed.len() < self.n_startup_trials {
            return Ok(PruneDecision::of(false));
        }
        let Some(step) = last_step(trial) else {
            return Ok(PruneDecision::of(false));
        };
        if step < self.n_warmup_steps || !self.is_first_in_interval_step(step, trial) {
            return Ok(PruneDecision::of(false));
        }
        let maximize = ctx.directions.first() == Some(&StudyDirection::Maximize);
        let own = trial.intermediate_values.values().copied().filter(|v| !v.is_nan());
        let best = if maximize { own.reduce(f64::max) } else { own.reduce(f64::min) };
        let Some(best) = best else {
            // Every reported value is NaN.
            return Ok(PruneDecision::of(true));
        };
        let at_step: Vec<f64> =
            completed.iter().filter_map(|t| t.intermediate_value(step)).collect();
        if at_step.len() < self.n_min_trials {
            return Ok(PruneDecision::of(false));
        }
        let q = if maximize { 100.0 - self.percentile } else { self.percentile };
        let p = nan_percentile(&at_step, q);
        if p.is_nan() {
            return Ok(PruneDecision::of(false));
        }
        Ok(PruneDecision::of(if maximize { best < p } else { best > p }))
    }
}

/// Prunes a trial whose best intermediate value is worse than the median of the COMPLETE
/// trials' values at the same step (a [`PercentilePruner`] at 50). [`Default`] is Optuna's
/// `MedianPruner()`: 5 startup trials, no warm-up, every step, at least 1 trial.
#[derive(Debug, Clone, PartialEq)]
pub struct MedianPruner(PercentilePruner);

impl MedianPruner {
    /// A median pruner (see [`PercentilePruner::new`] for the checks).
    pub fn new(n_startup_trials: usize, n_warmup_steps: u32, interval_steps: u32) -> Result<Self> {
        Self::with_min_trials(n_startup_trials, n_warmup_steps, interval_steps, 1)
    }

    /// A median pruner that also needs `n_min_trials` values at the step.
    pub fn with_min_trials(
        n_startup_trials: usize,
        n_warmup_steps: u32,
        interval_steps: u32,
        n_min_trials: usize,
    ) -> Result<Self> {
        PercentilePruner::new(50.0, n_startup_trials, n_warmup_steps, interval_steps, n_min_trials)
            .map(MedianPruner)
    }
}

impl Default for MedianPruner {
    fn default() -> Self {
        MedianPruner(PercentilePruner {
            percentile: 50.0,
            n_startup_trials: 5,
            n_warmup_steps: 0,
            interval_steps: 1,
            n_min_trials: 1,
        })
    }
}

impl Pruner for MedianPruner {
    fn prune(&self, ctx: &SampleContext<'_>, trial: &FrozenTrial) -> Result<PruneDecision> {
        self.0.prune(ctx, trial)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::study::pruner::testing::{Trials, trial};

    fn decide(
        p: &dyn Pruner,
        dir: StudyDirection,
        others: &[FrozenTrial],
        t: &FrozenTrial,
    ) -> bool {
        let src = Trials(others.iter().cloned().map(Arc::new).collect());
        let dirs = [dir];
        let ctx = SampleContext::new(0, &dirs, t.trial_id, t.number, &src);
        p.prune(&ctx, t).unwrap().prune
    }

    fn complete(n: u64, steps: &[(i64, f64)]) -> FrozenTrial {
        trial(n, TrialState::Complete, steps)
    }

    #[test]
    fn median_by_hand() {
        // Completed values at step 1: 1, 2, 3, 4, 10 -> median 3.
        let done: Vec<_> = [1.0, 2.0, 3.0, 4.0, 10.0]
            .iter()
            .enumerate()
            .map(|(i, v)| complete(i as u64, &[(0, 0.0), (1, *v)]))
            .collect();
        let p = MedianPruner::default();
        let min = StudyDirection::Minimize;
        // best over steps is min(5, 3.5) = 3.5 > 3: prune.
        assert!(decide(&p, min, &done, &trial(9, TrialState::Running, &[(0, 5.0), (1, 3.5)])));
        // best 2.9 <= 3: keep.
        assert!(!decide(&p, min, &done, &trial(9, TrialState::Running, &[(0, 9.0), (1, 2.9)])));
        // Exactly the median: keep (strictly worse prunes).
        assert!(!decide(&p, min, &done, &trial(9, TrialState::Running, &[(1, 3.0)])));
        // Maximize: the median is the same 3, a best of 2.9 < 3 prunes.
        let max = StudyDirection::Maximize;
        assert!(decide(&p, max, &done, &trial(9, TrialState::Running, &[(1, 2.9)])));
        assert!(!decide(&p, max, &done, &trial(9, TrialState::Running, &[(1, 3.5)])));
        // Four completed trials: still in the startup phase (5).
        assert!(!decide(&p, min, &done[..4], &trial(9, TrialState::Running, &[(1, 99.0)])));
        // No one reported step 2: nothing to compare with.
        assert!(!decide(&p, min, &done, &trial(9, TrialState::Running, &[(2, 99.0)])));
        // All NaN: pruned.
        assert!(decide(&p, min, &done, &trial(9, TrialState::Running, &[(1, f64::NAN)])));
        // No report: no decision.
        assert!(!decide(&p, min, &done, &trial(9, TrialState::Running, &[])));
    }

    #[test]
    fn warmup_interval_and_min_trials() {
        let done: Vec<_> = (0..5)
            .map(|i| complete(i, &(0..10).map(|s| (s, i as f64)).collect::<Vec<_>>()))
            .collect();
        let min = StudyDirection::Minimize;
        let p = MedianPruner::new(0, 3, 2).unwrap();
        // Step 2 is in the warm-up.
        assert!(!decide(&p, min, &done, &trial(9, TrialState::Running, &[(2, 99.0)])));
        // Steps 3, 5, 7 start intervals (3 + 2k); step 4 after a report at 3 does not.
        assert!(decide(&p, min, &done, &trial(9, TrialState::Running, &[(3, 99.0)])));
        assert!(!decide(&p, min, &done, &trial(9, TrialState::Running, &[(3, 99.0), (4, 99.0)])));
        assert!(decide(&p, min, &done, &trial(9, TrialState::Running, &[(4, 99.0)])));
        assert!(decide(&p, min, &done, &trial(9, TrialState::Running, &[(3, 9.0), (5, 99.0)])));
        // Needs 6 trials with a value at the step; there are 5.
        let p = MedianPruner::with_min_trials(0, 0, 1, 6).unwrap();
        assert!(!decide(&p, min, &done, &trial(9, TrialState::Running, &[(1, 99.0)])));
        // 25th percentile of 0..4 is 1 (linear): 1.5 prunes, 1.0 does not.
        let p = PercentilePruner::new(25.0, 0, 0, 1, 1).unwrap();
        assert!(decide(&p, min, &done, &trial(9, TrialState::Running, &[(1, 1.5)])));
        assert!(!decide(&p, min, &done, &trial(9, TrialState::Running, &[(1, 1.0)])));
        assert!(PercentilePruner::new(101.0, 0, 0, 1, 1).is_err());
        assert!(MedianPruner::new(0, 0, 0).is_err());
    }

    #[test]
    fn percentile_interpolates_like_numpy() {
        assert_eq!(nan_percentile(&[1.0, 2.0, 3.0, 4.0], 50.0), 2.5);
        assert_eq!(nan_percentile(&[4.0, f64::NAN, 1.0, 2.0], 50.0), 2.0);
        assert_eq!(nan_percentile(&[0.0, 10.0], 25.0), 2.5);
        assert_eq!(nan_percentile(&[0.0, 10.0], 100.0), 10.0);
        assert!(nan_percentile(&[f64::NAN], 50.0).is_nan());
    }
}
