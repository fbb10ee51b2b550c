//! The best trials of a study, for the table `trialog run` prints at the end and `trialog top`.

use std::cmp::Ordering;
use std::sync::Arc;

use crate::model::{FrozenTrial, StudyDirection, TrialState};

/// The best `k` COMPLETE trials (trials with a NaN value left out). One objective: by value in
/// the study's direction, ties by number. Several: by Pareto rank (the front first, then the
/// front of what is left, ...), within a rank by the first objective, then by number.
pub fn top_trials(
    trials: &[Arc<FrozenTrial>],
    directions: &[StudyDirection],
    k: usize,
) -> Vec<Arc<FrozenTrial>> {
    let mut complete: Vec<&Arc<FrozenTrial>> = trials
        .iter()
        .filter(|t| t.state == TrialState::Complete)
        .filter(|t| {
            t.values
                .as_ref()
                .is_some_and(|v| v.len() == directions.len() && v.iter().all(|x| !x.is_nan()))
        })
        .collect();
    let key = |t: &FrozenTrial, i: usize| {
        let v = t.values.as_ref().map_or(f64::NAN, |v| v[i]);
        if directions[i] == StudyDirection::Maximize { -v } else { v }
    };
    let by_first = |a: &&Arc<FrozenTrial>, b: &&Arc<FrozenTrial>| {
        key(a, 0).total_cmp(&key(b, 0)).then(a.number.cmp(&b.number))
    };
    if directions.len() <= 1 {
        complete.sort_by(by_first);
        return complete.into_iter().take(k).cloned().collect();
    }
    let dominates = |a: &FrozenTrial, b: &FrozenTrial| {
        let mut strictly = false;
        for i in 0..directions.len() {
            match key(a, i).partial_cmp(&key(b, i)) {
                Some(Ordering::Greater) => return false,
                Some(Ordering::Less) => strictly = true,
                _ => {}
            }
        }
        strictly
    };
    let mut out = Vec::new();
    let mut left = complete;
    while out.len() < k && !left.is_empty() {
        let (mut front, rest): (Vec<_>, Vec<_>) =
            left.iter().partition(|t| !left.iter().any(|o| dominates(o, t)));
        front.sort_by(by_first);
        out.extend(front.into_iter().map(Arc::clone));
        left = rest;
    }
    out.truncate(k);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(number: u64, values: &[f64]) -> Arc<FrozenTrial> {
        let mut t = FrozenTrial::new(number, number, 0, TrialState::Complete);
        t.values = Some(values.into());
        Arc::new(t)
    }

    #[test]
    fn single_objective_in_its_direction() {
        let mut trials = vec![t(0, &[3.0]), t(1, &[1.0]), t(2, &[f64::NAN]), t(3, &[1.0])];
        let mut failed = FrozenTrial::new(4, 4, 0, TrialState::Fail);
        failed.values = None;
        trials.push(Arc::new(failed));
        let numbers = |v: Vec<Arc<FrozenTrial>>| v.iter().map(|t| t.number).collect::<Vec<_>>();
        assert_eq!(numbers(top_trials(&trials, &[StudyDirection::Minimize], 2)), vec![1, 3]);
        assert_eq!(numbers(top_trials(&trials, &[StudyDirection::Maximize], 5)), vec![0, 1, 3]);
    }

    #[test]
    fn several_objectives_by_pareto_rank() {
        let trials =
            vec![t(0, &[1.0, 5.0]), t(1, &[2.0, 6.0]), t(2, &[5.0, 1.0]), t(3, &[3.0, 3.0])];
        let d = [StudyDirection::Minimize, StudyDirection::Minimize];
        let numbers: Vec<u64> = top_trials(&trials, &d, 4).iter().map(|t| t.number).collect();
        // Front: 0, 3, 2 (by first objective); then 1 (dominated by 0).
        assert_eq!(numbers, vec![0, 3, 2, 1]);
    }
}
