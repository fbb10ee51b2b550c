//! Optuna's intersection search space (`optuna/search_space/intersection.py`) and single-valued
//! distributions (`BaseDistribution.single`).

use std::sync::Arc;

use super::SearchSpace;
use crate::model::{Distribution, FrozenTrial, TrialState};

/// The parameters every finished trial of `trials` (COMPLETE, and PRUNED if `include_pruned`)
/// has, each with a distribution equal in all of them, in name order. Empty when no trial is
/// finished. Trials in other states are ignored, as in Optuna. Costs O(trials x parameters).
pub fn intersection_search_space(trials: &[Arc<FrozenTrial>], include_pruned: bool) -> SearchSpace {
    let mut space: Option<Vec<(&Arc<str>, &Arc<Distribution>)>> = None;
    for t in trials {
        let counted =
            t.state == TrialState::Complete || (include_pruned && t.state == TrialState::Pruned);
        if !counted {
            continue;
        }
        match &mut space {
            None => space = Some(t.distributions.iter().collect()),
            Some(s) => s.retain(|(name, dist)| {
                t.distributions
                    .get(&***name)
                    .is_some_and(|d| Arc::ptr_eq(d, dist) || **d == ***dist)
            }),
        }
        if space.as_ref().is_some_and(Vec::is_empty) {
            break;
        }
    }
    space
        .unwrap_or_default()
        .into_iter()
        .map(|(name, dist)| (name.to_string(), Distribution::clone(dist)))
        .collect()
}

/// The internal value of a distribution whose range holds exactly one value (Optuna's
/// `single()` and `_get_single_value`), or `None` when it holds more.
pub fn single_value(dist: &Distribution) -> Option<f64> {
    match dist {
        Distribution::Float(d) => {
            let single = match d.step() {
                None => d.low() == d.high(),
                Some(step) => d.low() == d.high() || d.high() - d.low() < step,
            };
            single.then_some(d.low())
        }
        Distribution::Int(d) => {
            let single = if d.log() {
                d.low() == d.high()
            } else {
                d.low() == d.high()
                    || i128::from(d.high()) - i128::from(d.low()) < i128::from(d.step())
            };
            single.then_some(d.low() as f64)
        }
        Distribution::Categorical(c) => (c.choices().len() == 1).then_some(0.0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::ParamValue;

    fn trial(number: u64, state: TrialState, params: &[(&str, Distribution)]) -> Arc<FrozenTrial> {
        let mut t = FrozenTrial::new(number, number, 0, state);
        for (name, dist) in params {
            let name: Arc<str> = Arc::from(*name);
            t.params.insert(Arc::clone(&name), ParamValue::Float(0.0));
            t.distributions.insert(name, Arc::new(dist.clone()));
        }
        Arc::new(t)
    }

    #[test]
    fn intersection_keeps_equal_distributions_of_finished_trials() {
        let x = Distribution::float(0.0, 1.0, false, None).unwrap();
        let x2 = Distribution::float(0.0, 2.0, false, None).unwrap();
        let y = Distribution::int(0, 3, false, 1).unwrap();
        let trials = vec![
            trial(0, TrialState::Complete, &[("x", x.clone()), ("y", y.clone())]),
            trial(1, TrialState::Running, &[("x", x2.clone())]),
            trial(2, TrialState::Pruned, &[("x", x.clone())]),
            trial(3, TrialState::Fail, &[]),
            trial(4, TrialState::Complete, &[("y", y.clone()), ("x", x.clone())]),
        ];
        let with_pruned = intersection_search_space(&trials, true);
        assert_eq!(with_pruned.keys().collect::<Vec<_>>(), ["x"]);
        let without = intersection_search_space(&trials, false);
        assert_eq!(without.keys().collect::<Vec<_>>(), ["x", "y"]);
        let changed = vec![
            trial(0, TrialState::Complete, &[("x", x.clone())]),
            trial(1, TrialState::Complete, &[("x", x2)]),
        ];
        assert!(intersection_search_space(&changed, false).is_empty());
        assert!(intersection_search_space(&trials[1..2], true).is_empty());
    }

    #[test]
    fn single_values() {
        let f = |l, h, s| Distribution::float(l, h, false, s).unwrap();
        assert_eq!(single_value(&f(1.0, 1.0, None)), Some(1.0));
        assert_eq!(single_value(&f(1.0, 2.0, None)), None);
        assert_eq!(single_value(&f(1.0, 1.5, Some(1.0))), Some(1.0));
        assert_eq!(single_value(&Distribution::int(3, 5, false, 3).unwrap()), Some(3.0));
        assert_eq!(single_value(&Distribution::int(3, 6, false, 3).unwrap()), None);
        assert_eq!(single_value(&Distribution::int(2, 2, true, 1).unwrap()), Some(2.0));
        let c = Distribution::categorical(vec![ParamValue::Str("a".into())]).unwrap();
        assert_eq!(single_value(&c), Some(0.0));
    }
}
