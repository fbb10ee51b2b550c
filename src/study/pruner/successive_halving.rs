//! `SuccessiveHalvingPruner`: asynchronous successive halving (Optuna's
//! `pruners/_successive_halving.py`).

use std::sync::OnceLock;

use super::{PruneDecision, Pruner, last_step};
use crate::error::{Error, Result};
use crate::model::{AttrValue, FrozenTrial, StudyDirection, TrialState};
use crate::study::sampler::{AttrWrites, SampleContext};

/// Asynchronous successive halving, as Optuna's `SuccessiveHalvingPruner`.
///
/// Rung `r` is reached at step `min_resource * reduction_factor^(min_early_stopping_rate + r)`.
/// A trial reaching a rung records its value there in the `completed_rung_<r>` system attribute
/// and survives only if it is within the best `1 / reduction_factor` of all values recorded at
/// that rung so far (the best one while fewer than `reduction_factor` are recorded), and there
/// are more than `bootstrap_count` of them. `min_resource` "auto" (the default) is the largest
/// last step of the COMPLETE trials divided by 100 (at least 1), estimated once per pruner from
/// the first COMPLETE trial with intermediate values (until then, nothing is pruned).
#[derive(Debug)]
pub struct SuccessiveHalvingPruner {
    min_resource: Option<i64>,
    auto_min_resource: OnceLock<i64>,
    reduction_factor: i64,
    min_early_stopping_rate: u32,
    bootstrap_count: usize,
}

impl Default for SuccessiveHalvingPruner {
    /// Optuna's defaults: `min_resource="auto"`, `reduction_factor=4`,
    /// `min_early_stopping_rate=0`, `bootstrap_count=0`.
    fn default() -> Self {
        SuccessiveHalvingPruner {
            min_resource: None,
            auto_min_resource: OnceLock::new(),
            reduction_factor: 4,
            min_early_stopping_rate: 0,
            bootstrap_count: 0,
        }
    }
}

impl Clone for SuccessiveHalvingPruner {
    fn clone(&self) -> Self {
        SuccessiveHalvingPruner {
            min_resource: self.min_resource,
            auto_min_resource: self.auto_min_resource.clone(),
            reduction_factor: self.reduction_factor,
            min_early_stopping_rate: self.min_early_stopping_rate,
            bootstrap_count: self.bootstrap_count,
        }
    }
}

/// The system attribute holding a trial's value at rung `rung`.
pub fn completed_rung_key(rung: u32) -> String {
    format!("completed_rung_{rung}")
}

fn attr_f64(v: &AttrValue) -> Option<f64> {
    match v {
        AttrValue::Float(x) => Some(*x),
        AttrValue::Int(i) => Some(*i as f64),
        _ => None,
    }
}

impl SuccessiveHalvingPruner {
    /// A pruner with Optuna's checks: `min_resource >= 1` (`None`: "auto"),
    /// `reduction_factor >= 2`, and `bootstrap_count > 0` only with a fixed `min_resource`.
    pub fn new(
        min_resource: Option<u64>,
        reduction_factor: u32,
        min_early_stopping_rate: u32,
        bootstrap_count: usize,
    ) -> Result<Self> {
        if min_resource == Some(0) {
            return Err(Error::invalid("min_resource must be >= 1 or \"auto\""));
        }
        if reduction_factor < 2 {
            return Err(Error::invalid("reduction_factor must be >= 2"));
        }
        if bootstrap_count > 0 && min_resource.is_none() {
            return Err(Error::invalid(
                "bootstrap_count > 0 and min_resource \"auto\" are mutually incompatible",
            ));
        }
        let min_resource = match min_resource {
            Some(m) => {
                Some(i64::try_from(m).map_err(|_| Error::invalid("min_resource too large"))?)
            }
            None => None,
        };
        Ok(SuccessiveHalvingPruner {
            min_resource,
            auto_min_resource: OnceLock::new(),
            reduction_factor: i64::from(reduction_factor),
            min_early_stopping_rate,
            bootstrap_count,
        })
    }

    fn min_resource(&self, trials: &[std::sync::Arc<FrozenTrial>]) -> Option<i64> {
        if let Some(m) = self.min_resource.or_else(|| self.auto_min_resource.get().copied()) {
            return Some(m);
        }
        let last = trials
            .iter()
            .filter(|t| t.state == TrialState::Complete)
            .filter_map(|t| last_step(t))
            .max()?;
        Some(*self.auto_min_resource.get_or_init(|| last.div_euclid(100).max(1)))
    }
}

/// Whether `value` is among the best `1 / reduction_factor` of `competing` (which includes it).
fn promotable(value: f64, mut competing: Vec<f64>, reduction_factor: i64, maximize: bool) -> bool {
    let idx = (competing.len() as i64 / reduction_factor - 1).max(0) as usize;
    competing.sort_by(f64::total_cmp);
    if maximize { value >= competing[competing.len() - 1 - idx] } else { value <= competing[idx] }
}

impl Pruner for SuccessiveHalvingPruner {
    fn prune(&self, ctx: &SampleContext<'_>, trial: &FrozenTrial) -> Result<PruneDecision> {
        let Some(step) = last_step(trial) else {
            return Ok(PruneDecision::of(false));
        };
        let mut rung = 0;
        while trial.system_attrs.contains_key(&completed_rung_key(rung)) {
            rung += 1;
        }
        let value = trial.intermediate_value(step).unwrap_or(f64::NAN);
        let maximize = ctx.directions.first() == Some(&StudyDirection::Maximize);
        let trials = ctx.trials(None)?;
        let mut writes = AttrWrites::default();
        let decide = |prune, writes| Ok(PruneDecision { prune, writes });
        loop {
            let Some(min_resource) = self.min_resource(&trials) else {
                return decide(false, writes);
            };
            let promotion_step = self
                .reduction_factor
                .checked_pow(self.min_early_stopping_rate + rung)
                .and_then(|f| f.checked_mul(min_resource));
            if promotion_step.is_none_or(|p| step < p) {
                return decide(false, writes);
            }
            if value.is_nan() {
                return decide(true, writes);
            }
            let key = completed_rung_key(rung);
            let mut competing: Vec<f64> =
                trials.iter().filter_map(|t| t.system_attrs.get(&key).and_then(attr_f64)).collect();
            competing.push(value);
            writes.trial.push((key, AttrValue::Float(value)));
            if competing.len() <= self.bootstrap_count
                || !promotable(value, competing, self.reduction_factor, maximize)
            {
                return decide(true, writes);
            }
            rung += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::study::pruner::testing::{Trials, trial};

    fn at_rung(mut t: FrozenTrial, values: &[f64]) -> FrozenTrial {
        for (r, v) in values.iter().enumerate() {
            t.system_attrs.insert(completed_rung_key(r as u32), AttrValue::Float(*v));
        }
        t
    }

    fn run(
        p: &SuccessiveHalvingPruner,
        others: Vec<FrozenTrial>,
        t: &FrozenTrial,
    ) -> PruneDecision {
        let mut all: Vec<Arc<FrozenTrial>> = others.into_iter().map(Arc::new).collect();
        all.push(Arc::new(t.clone()));
        let src = Trials(all);
        let dirs = [StudyDirection::Minimize];
        let ctx = SampleContext::new(0, &dirs, t.trial_id, t.number, &src);
        p.prune(&ctx, t).unwrap()
    }

    #[test]
    fn rungs_by_hand() {
        // min_resource 1, reduction 2: rungs at steps 1, 2, 4, 8.
        let p = SuccessiveHalvingPruner::new(Some(1), 2, 0, 0).unwrap();
        // Before the first rung: nothing to decide, nothing written.
        let t = trial(9, TrialState::Running, &[(0, 5.0)]);
        assert_eq!(run(&p, vec![], &t), PruneDecision::of(false));
        // Alone at rung 0 (step 1): the best so far, promoted, value recorded.
        let t = trial(9, TrialState::Running, &[(1, 5.0)]);
        let d = run(&p, vec![], &t);
        assert!(!d.prune);
        assert_eq!(d.writes.trial, vec![("completed_rung_0".into(), AttrValue::Float(5.0))]);
        // Rung 0 holds 1, 2, 3 from others; with ours 4 values, the best 4 / 2 = 2 survive:
        // 2.5 is third -> pruned; 1.5 is second -> promoted.
        let others: Vec<_> = [1.0, 2.0, 3.0]
            .iter()
            .enumerate()
            .map(|(i, v)| at_rung(trial(i as u64, TrialState::Complete, &[]), &[*v]))
            .collect();
        let d = run(&p, others.clone(), &trial(9, TrialState::Running, &[(1, 2.5)]));
        assert!(d.prune);
        assert_eq!(d.writes.trial.len(), 1);
        assert!(!run(&p, others.clone(), &trial(9, TrialState::Running, &[(1, 1.5)])).prune);
        // A trial at step 2 that already passed rung 0 competes at rung 1 only (none there yet).
        let t = at_rung(trial(9, TrialState::Running, &[(1, 1.5), (2, 1.4)]), &[1.5]);
        let d = run(&p, others.clone(), &t);
        assert!(!d.prune);
        assert_eq!(d.writes.trial, vec![("completed_rung_1".into(), AttrValue::Float(1.4))]);
        // Jumping to step 4 from no rung walks rungs 0, 1, 2 in one call.
        let d = run(&p, vec![], &trial(9, TrialState::Running, &[(4, 7.0)]));
        assert!(!d.prune);
        assert_eq!(d.writes.trial.len(), 3);
        // NaN at a rung: pruned.
        assert!(run(&p, vec![], &trial(9, TrialState::Running, &[(1, f64::NAN)])).prune);
    }

    #[test]
    fn auto_min_resource_and_bootstrap() {
        let p = SuccessiveHalvingPruner::default();
        // No COMPLETE trial yet: no min_resource, no pruning.
        assert!(!run(&p, vec![], &trial(9, TrialState::Running, &[(1000, 9.0)])).prune);
        // A COMPLETE trial that reached step 450: min_resource 4, first rung at step 4.
        let done = trial(0, TrialState::Complete, &[(450, 0.0)]);
        let d = run(&p, vec![done.clone()], &trial(9, TrialState::Running, &[(3, 9.0)]));
        assert_eq!(d, PruneDecision::of(false));
        let d = run(&p, vec![done], &trial(9, TrialState::Running, &[(4, 9.0)]));
        assert_eq!(d.writes.trial.len(), 1);
        // The estimate is kept by this pruner.
        assert!(!run(&p, vec![], &trial(9, TrialState::Running, &[(3, 9.0)])).prune);
        // bootstrap_count 2: the first two values at a rung are pruned.
        let p = SuccessiveHalvingPruner::new(Some(1), 4, 0, 2).unwrap();
        assert!(run(&p, vec![], &trial(9, TrialState::Running, &[(1, 1.0)])).prune);
        assert!(SuccessiveHalvingPruner::new(None, 4, 0, 1).is_err());
        assert!(SuccessiveHalvingPruner::new(Some(1), 1, 0, 0).is_err());
    }

    #[test]
    fn promotion_rule() {
        assert!(promotable(1.0, vec![1.0, 2.0, 3.0], 4, false));
        assert!(!promotable(2.0, vec![1.0, 2.0, 3.0], 4, false));
        assert!(promotable(3.0, vec![1.0, 2.0, 3.0], 4, true));
        // 8 values, reduction 4: the best two survive.
        let v: Vec<f64> = (1..=8).map(f64::from).collect();
        assert!(promotable(2.0, v.clone(), 4, false) && !promotable(3.0, v.clone(), 4, false));
        assert!(promotable(7.0, v.clone(), 4, true) && !promotable(6.0, v, 4, true));
    }
}
