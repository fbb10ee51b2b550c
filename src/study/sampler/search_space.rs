//! Optuna's intersection search space (`optuna/search_space/intersection.py`) and single-valued
//! distributions (`BaseDistribution.single`).

use std::sync::Arc;

use super::SearchSpace;
use crate::model::{Distribution, Distributions, FrozenTrial, ListMap, Shared, TrialState};

/// The parameters every finished trial of `trials` (COMPLETE, and PRUNED if `include_pruned`)
/// has, each with a distribution equal in all of them, in name order (whatever order the trials
/// have them in). Empty when no trial is finished. Trials in other states are ignored, as in
/// Optuna. Costs O(trials x parameters) when the trials share their distribution maps (replay
/// shares them), O(trials x parameters^2) at most.
pub fn intersection_search_space(trials: &[Arc<FrozenTrial>], include_pruned: bool) -> SearchSpace {
    let mut names: Option<Vec<Arc<str>>> = None;
    let mut dists: Vec<Arc<Distribution>> = Vec::new();
    // A map known to hold every name of the space with its distribution (the usual case: the
    // study's trials share one map, so most trials are checked by one pointer comparison).
    let mut holds_all: Option<&Distributions> = None;
    let mut found = Vec::new();
    for t in trials {
        let counted =
            t.state == TrialState::Complete || (include_pruned && t.state == TrialState::Pruned);
        if !counted {
            continue;
        }
        let Some(names) = &mut names else {
            names = Some(t.distributions.keys().cloned().collect());
            dists = t.distributions.values().cloned().collect();
            holds_all = Some(&t.distributions);
            continue;
        };
        if holds_all.is_some_and(|m| Shared::ptr_eq(m, &t.distributions)) {
            continue;
        }
        lookup(&t.distributions, names, &mut found);
        let keep: Vec<bool> = found
            .iter()
            .zip(&dists)
            .map(|(d, mine)| d.is_some_and(|d| Arc::ptr_eq(d, mine) || **d == **mine))
            .collect();
        if keep.iter().all(|k| *k) {
            holds_all = Some(&t.distributions);
            continue;
        }
        let mut k = keep.iter();
        names.retain(|_| *k.next().unwrap_or(&false));
        let mut k = keep.iter();
        dists.retain(|_| *k.next().unwrap_or(&false));
        if names.is_empty() {
            break;
        }
    }
    names
        .unwrap_or_default()
        .iter()
        .zip(dists)
        .map(|(name, dist)| (name.to_string(), Distribution::clone(&dist)))
        .collect()
}

/// The value of each of `names` in `map` (None where it has none), comparing keys by pointer
/// before content (a study's trials share their name `Arc`s, so the usual lookup compares no
/// bytes). `map` is in the trial's order; `names` may be in any order.
pub(crate) fn lookup<'m, V>(
    map: &'m ListMap<Arc<str>, V>,
    names: &[Arc<str>],
    out: &mut Vec<Option<&'m V>>,
) {
    out.clear();
    if map.len() == names.len() && map.keys().zip(names).all(|(k, n)| Arc::ptr_eq(k, n)) {
        out.extend(map.values().map(Some));
        return;
    }
    out.extend(names.iter().map(|name| {
        map.iter()
            .find(|(k, _)| Arc::ptr_eq(k, name))
            .or_else(|| map.get_key_value(&**name))
            .map(|(_, v)| v)
    }));
}

/// The shared `Arc` of each of `names` as the trials store it (a fresh one for a name no trial
/// has), for [`lookup`].
pub(crate) fn intern(trials: &[&FrozenTrial], names: &[&str]) -> Vec<Arc<str>> {
    names
        .iter()
        .map(|name| {
            trials
                .iter()
                .find_map(|t| t.params.get_key_value(*name).map(|(k, _)| Arc::clone(k)))
                .unwrap_or_else(|| Arc::from(*name))
        })
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

    /// Trials keep their parameters in the order they were set; the space is the same whatever
    /// that order, in name order.
    #[test]
    fn intersection_and_lookup_ignore_the_trials_parameter_order() {
        let f = Distribution::float(0.0, 1.0, false, None).unwrap();
        let i = Distribution::int(0, 3, false, 1).unwrap();
        let zam =
            trial(0, TrialState::Complete, &[("z", f.clone()), ("a", i.clone()), ("m", f.clone())]);
        let same_map = {
            let mut t = FrozenTrial::clone(&zam);
            t.number = 1;
            Arc::new(t)
        };
        let trials = vec![
            zam.clone(),
            same_map,
            trial(2, TrialState::Complete, &[("m", f.clone()), ("z", f.clone()), ("a", i.clone())]),
        ];
        let space = intersection_search_space(&trials, false);
        assert_eq!(space.keys().collect::<Vec<_>>(), ["a", "m", "z"]);
        assert_eq!(space["a"], i);
        let mut narrowed = trials.clone();
        narrowed.push(trial(3, TrialState::Complete, &[("a", i.clone()), ("z", f.clone())]));
        narrowed.push(zam.clone());
        let space = intersection_search_space(&narrowed, false);
        assert_eq!(space.keys().collect::<Vec<_>>(), ["a", "z"]);
        // Lookups by the trial's own name `Arc`s and by fresh ones, in any order.
        let own: Vec<Arc<str>> = zam.params.keys().rev().cloned().collect();
        let fresh: Vec<Arc<str>> = ["a", "q", "z"].into_iter().map(Arc::from).collect();
        let mut found = Vec::new();
        lookup(&zam.distributions, &own, &mut found);
        assert_eq!(
            found.iter().map(|d| d.map(|d| &**d)).collect::<Vec<_>>(),
            [Some(&f), Some(&i), Some(&f)]
        );
        lookup(&zam.distributions, &fresh, &mut found);
        assert_eq!(
            found.iter().map(|d| d.map(|d| &**d)).collect::<Vec<_>>(),
            [Some(&i), None, Some(&f)]
        );
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
