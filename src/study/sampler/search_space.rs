//! Optuna's intersection search space (`optuna/search_space/intersection.py`) and single-valued
//! distributions (`BaseDistribution.single`).

use std::cmp::Ordering;
use std::sync::Arc;

use super::SearchSpace;
use crate::model::{Distribution, FrozenTrial, TrialState, VecMap};

/// The parameters every finished trial of `trials` (COMPLETE, and PRUNED if `include_pruned`)
/// has, each with a distribution equal in all of them, in name order. Empty when no trial is
/// finished. Trials in other states are ignored, as in Optuna. Costs O(trials x parameters).
pub fn intersection_search_space(trials: &[Arc<FrozenTrial>], include_pruned: bool) -> SearchSpace {
    let mut names: Option<Vec<Arc<str>>> = None;
    let mut dists: Vec<Arc<Distribution>> = Vec::new();
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
            continue;
        };
        // The usual case: the same parameters as the space, the same shared `Arc`s.
        let same = t.distributions.len() == names.len()
            && t.distributions
                .iter()
                .zip(names.iter().zip(&dists))
                .all(|((k, d), (n, e))| Arc::ptr_eq(k, n) && Arc::ptr_eq(d, e));
        if same {
            continue;
        }
        lookup_sorted(&t.distributions, names, &mut found);
        let keep: Vec<bool> = found
            .iter()
            .zip(&dists)
            .map(|(d, mine)| d.is_some_and(|d| Arc::ptr_eq(d, mine) || **d == **mine))
            .collect();
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

/// The values of `names` (sorted, distinct) in the sorted map `map`, by one merge walk that
/// compares keys by pointer before content (a study's trials share their name `Arc`s, so the
/// usual lookup compares no bytes).
pub(crate) fn lookup_sorted<'m, V>(
    map: &'m VecMap<Arc<str>, V>,
    names: &[Arc<str>],
    out: &mut Vec<Option<&'m V>>,
) {
    out.clear();
    if map.len() == names.len() && map.keys().zip(names).all(|(k, n)| Arc::ptr_eq(k, n)) {
        out.extend(map.values().map(Some));
        return;
    }
    let mut entries = map.iter().peekable();
    for name in names {
        let mut found = None;
        while let Some((key, value)) = entries.peek() {
            let order =
                if Arc::ptr_eq(key, name) { Ordering::Equal } else { (***key).cmp(&**name) };
            match order {
                Ordering::Less => {
                    entries.next();
                }
                Ordering::Equal => {
                    found = Some(*value);
                    entries.next();
                    break;
                }
                Ordering::Greater => break,
            }
        }
        out.push(found);
    }
}

/// The shared `Arc` of each of `names` as the trials store it (a fresh one for a name no trial
/// has), for [`lookup_sorted`].
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
