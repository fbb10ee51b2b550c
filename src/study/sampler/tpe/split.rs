//! How TPE divides past trials into the good ("below", estimator `l(x)`) and the rest ("above",
//! `g(x)`), as Optuna's `_split_trials`: the best COMPLETE trials first (by value, or for several
//! objectives by non-domination rank with a hypervolume tie-break), then PRUNED trials by how far
//! they got and how well (last step, then its value), and RUNNING trials always above (the
//! "constant liar"). Both parts come back in trial-number order.

use std::cmp::Ordering;
use std::sync::Arc;

use crate::model::{FrozenTrial, StudyDirection, TrialState};
use crate::study::sampler::pareto::{losses, non_domination_ranks, reference_point, solve_hssp};

type Trials<'a> = Vec<&'a FrozenTrial>;

/// Splits `trials` (COMPLETE, PRUNED and RUNNING; others are ignored) into `n_below` good ones
/// (fewer if there are not enough COMPLETE and PRUNED trials) and the rest.
pub(crate) fn split_trials<'a>(
    trials: &'a [Arc<FrozenTrial>],
    directions: &[StudyDirection],
    n_below: usize,
) -> (Trials<'a>, Trials<'a>) {
    let mut complete = Vec::new();
    let mut pruned = Vec::new();
    let mut running = Vec::new();
    for t in trials {
        match t.state {
            TrialState::Running => running.push(&**t),
            TrialState::Complete => complete.push(&**t),
            TrialState::Pruned => pruned.push(&**t),
            TrialState::Fail | TrialState::Waiting => {}
        }
    }
    let (mut below, mut above) = split_complete(complete, directions, n_below);
    let n_below = n_below.saturating_sub(below.len());
    let (below_pruned, above_pruned) = split_pruned(pruned, directions[0], n_below);
    below.extend(below_pruned);
    above.extend(above_pruned);
    above.extend(running);
    below.sort_by_key(|t| t.number);
    above.sort_by_key(|t| t.number);
    (below, above)
}

/// The objective values of a COMPLETE trial, or infinitely bad ones if it has none of the
/// right length (a journal written by something else).
fn loss_values(t: &FrozenTrial, directions: &[StudyDirection]) -> Vec<f64> {
    match &t.values {
        Some(v) if v.len() == directions.len() => losses(v, directions),
        _ => vec![f64::INFINITY; directions.len()],
    }
}

fn split_complete<'a>(
    trials: Trials<'a>,
    directions: &[StudyDirection],
    n_below: usize,
) -> (Trials<'a>, Trials<'a>) {
    let n_below = n_below.min(trials.len());
    if directions.len() <= 1 {
        let maximize = directions.first() == Some(&StudyDirection::Maximize);
        let key = |t: &FrozenTrial| match t.value() {
            Some(v) if maximize => -v,
            Some(v) => v,
            None => f64::INFINITY,
        };
        let keys: Vec<f64> = trials.iter().map(|t| key(t)).collect();
        return take_smallest(trials, &keys, n_below, |a, b| a.partial_cmp(b));
    }
    if n_below == 0 {
        return (Vec::new(), trials);
    }
    if n_below == trials.len() {
        return (trials, Vec::new());
    }
    let lvals: Vec<Vec<f64>> = trials.iter().map(|t| loss_values(t, directions)).collect();
    let ranks = non_domination_ranks(&lvals, Some(n_below));
    let max_rank = ranks.iter().copied().max().unwrap_or(0);
    let mut counts = vec![0usize; max_rank + 1];
    ranks.iter().for_each(|r| counts[*r] += 1);
    // The last rank that fits entirely below.
    let mut fits: Option<usize> = None;
    let mut total = 0;
    for (r, c) in counts.iter().enumerate() {
        total += c;
        if total <= n_below {
            fits = Some(r);
        } else {
            break;
        }
    }
    let mut is_below: Vec<bool> = ranks.iter().map(|r| fits.is_some_and(|f| *r <= f)).collect();
    let chosen = is_below.iter().filter(|b| **b).count();
    if chosen < n_below {
        let tie_rank = fits.map_or(0, |f| f + 1);
        let tied: Vec<usize> = (0..trials.len()).filter(|i| ranks[*i] == tie_rank).collect();
        let tied_vals: Vec<Vec<f64>> = tied.iter().map(|i| lvals[*i].clone()).collect();
        let reference = reference_point(&tied_vals);
        for i in solve_hssp(&tied_vals, &tied, n_below - chosen, &reference) {
            is_below[i] = true;
        }
    }
    let mut below = Vec::with_capacity(n_below);
    let mut above = Vec::with_capacity(trials.len() - n_below);
    for (t, b) in trials.into_iter().zip(is_below) {
        if b { below.push(t) } else { above.push(t) }
    }
    (below, above)
}

/// Optuna's `_get_pruned_trial_score`: later last step first, then better value there (NaN
/// worst); a trial without intermediate values last.
fn pruned_score(t: &FrozenTrial, direction: StudyDirection) -> (f64, f64) {
    match t.intermediate_values.iter().next_back() {
        Some((step, value)) => {
            let v = if value.is_nan() {
                f64::INFINITY
            } else if direction == StudyDirection::Maximize {
                -value
            } else {
                *value
            };
            (-step.to_f64(), v)
        }
        None => (1.0, 0.0),
    }
}

fn split_pruned(
    trials: Trials<'_>,
    direction: StudyDirection,
    n_below: usize,
) -> (Trials<'_>, Trials<'_>) {
    let n_below = n_below.min(trials.len());
    let keys: Vec<(f64, f64)> = trials.iter().map(|t| pruned_score(t, direction)).collect();
    take_smallest(trials, &keys, n_below, |a, b| a.partial_cmp(b))
}

/// The `n` trials with the smallest keys (ties: the earlier trial first, as Python's stable
/// sort) and the rest, both in their input order. A selection, not a sort: O(trials).
fn take_smallest<'a, K>(
    trials: Trials<'a>,
    keys: &[K],
    n: usize,
    cmp: impl Fn(&K, &K) -> Option<Ordering>,
) -> (Trials<'a>, Trials<'a>) {
    let mut chosen = vec![false; trials.len()];
    if n > 0 {
        let mut order: Vec<usize> = (0..trials.len()).collect();
        let by = |i: &usize, j: &usize| {
            cmp(&keys[*i], &keys[*j]).unwrap_or(Ordering::Equal).then(i.cmp(j))
        };
        if n < order.len() {
            order.select_nth_unstable_by(n - 1, by);
        }
        order[..n].iter().for_each(|i| chosen[*i] = true);
    }
    let mut below = Vec::with_capacity(n);
    let mut above = Vec::with_capacity(trials.len() - n);
    for (t, c) in trials.into_iter().zip(chosen) {
        if c { below.push(t) } else { above.push(t) }
    }
    (below, above)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::journal::json::JsonValue;
    use crate::study::sampler::tpe::table::{Table, floats};

    fn direction(v: &JsonValue) -> StudyDirection {
        match v {
            JsonValue::Str(s) if s == "maximize" => StudyDirection::Maximize,
            _ => StudyDirection::Minimize,
        }
    }

    #[test]
    fn split_matches_optuna_table() {
        let t = Table::load();
        let JsonValue::Array(cases) = t.get("split") else { panic!() };
        assert!(cases.len() >= 20);
        for (c, case) in cases.iter().enumerate() {
            let JsonValue::Array(dirs) = case.get("directions").unwrap() else { panic!() };
            let directions: Vec<StudyDirection> = dirs.iter().map(direction).collect();
            let JsonValue::Array(trials_json) = case.get("trials").unwrap() else { panic!() };
            let trials: Vec<Arc<FrozenTrial>> = trials_json
                .iter()
                .enumerate()
                .map(|(n, tj)| {
                    let state = match tj.get("state").unwrap() {
                        JsonValue::Str(s) if s == "PRUNED" => TrialState::Pruned,
                        JsonValue::Str(s) if s == "RUNNING" => TrialState::Running,
                        _ => TrialState::Complete,
                    };
                    let mut t = FrozenTrial::new(n as u64, n as u64, 0, state);
                    t.values = match tj.get("values").unwrap() {
                        JsonValue::Null => None,
                        v => Some(floats(v).into()),
                    };
                    let JsonValue::Array(iv) = tj.get("intermediate").unwrap() else { panic!() };
                    for pair in iv {
                        let p = floats(pair);
                        t.intermediate_values.insert((p[0] as i64).into(), p[1]);
                    }
                    Arc::new(t)
                })
                .collect();
            let n_below = case.get("n_below").unwrap().as_f64().unwrap() as usize;
            let (below, above) = split_trials(&trials, &directions, n_below);
            let numbers =
                |v: &[&FrozenTrial]| v.iter().map(|t| t.number as f64).collect::<Vec<_>>();
            let want_below = floats(case.get("below").unwrap());
            let want_above = floats(case.get("above").unwrap());
            assert_eq!(numbers(&below), want_below, "case {c} ({directions:?}, n_below {n_below})");
            assert_eq!(numbers(&above), want_above, "case {c} above");
        }
    }
}
