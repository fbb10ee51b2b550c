//! The Pareto front of a multi-objective study, as Optuna's `study.best_trials`.

use std::cmp::Ordering;
use std::sync::Arc;

use crate::model::{FrozenTrial, StudyDirection, TrialState};

/// The trials on the Pareto front: COMPLETE trials with one value per direction, none of them
/// NaN, that no other such trial dominates (is at least as good in every objective and better in
/// one). Trials with equal values are all on the front. Returned in trial order.
///
/// Sorting the loss vectors lexicographically means a trial can only be dominated by one before
/// it, and (dominance being transitive) by one already on the front, so each trial is compared
/// with the front only: O(n log n + n * front size).
pub fn front(trials: &[Arc<FrozenTrial>], directions: &[StudyDirection]) -> Vec<Arc<FrozenTrial>> {
    let mut candidates: Vec<(Vec<f64>, &Arc<FrozenTrial>)> = trials
        .iter()
        .filter(|t| t.state == TrialState::Complete)
        .filter_map(|t| Some((losses(t, directions)?, t)))
        .collect();
    candidates.sort_by(|a, b| lex(&a.0, &b.0));
    let mut front: Vec<(Vec<f64>, &Arc<FrozenTrial>)> = Vec::new();
    for (loss, t) in candidates {
        if !front.iter().any(|(f, _)| dominates(f, &loss)) {
            front.push((loss, t));
        }
    }
    let mut out: Vec<Arc<FrozenTrial>> = front.into_iter().map(|(_, t)| t.clone()).collect();
    out.sort_by_key(|t| t.number);
    out
}

/// The trial's values as losses (negated where maximised), or `None` if it has no value per
/// direction or a NaN.
pub fn losses(t: &FrozenTrial, directions: &[StudyDirection]) -> Option<Vec<f64>> {
    let values = t.values.as_deref()?;
    if values.len() != directions.len() || values.iter().any(|v| v.is_nan()) {
        return None;
    }
    Some(
        values
            .iter()
            .zip(directions)
            .map(|(v, d)| if *d == StudyDirection::Maximize { -v } else { *v })
            .collect(),
    )
}

fn lex(a: &[f64], b: &[f64]) -> Ordering {
    a.iter().zip(b).map(|(x, y)| x.total_cmp(y)).find(|o| o.is_ne()).unwrap_or(Ordering::Equal)
}

/// `a` dominates `b`: no worse anywhere, better somewhere.
fn dominates(a: &[f64], b: &[f64]) -> bool {
    a.iter().zip(b).all(|(x, y)| x <= y) && a.iter().zip(b).any(|(x, y)| x < y)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(n: u64, values: &[f64]) -> Arc<FrozenTrial> {
        let mut t = FrozenTrial::new(n, n, 0, TrialState::Complete);
        t.values = Some(values.into());
        Arc::new(t)
    }

    /// The O(n^2) definition, to check the sweep against.
    fn naive(ts: &[Arc<FrozenTrial>], d: &[StudyDirection]) -> Vec<u64> {
        let ls: Vec<_> = ts.iter().filter_map(|t| Some((losses(t, d)?, t.number))).collect();
        ls.iter()
            .filter(|(l, _)| !ls.iter().any(|(o, _)| dominates(o, l)))
            .map(|(_, n)| *n)
            .collect()
    }

    #[test]
    fn front_matches_the_definition() {
        use StudyDirection::{Maximize as Max, Minimize as Min};
        let mut s = 7u64;
        let mut r = move || {
            s = s.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
            ((s >> 33) % 20) as f64 // few distinct values: many ties and duplicates
        };
        for dirs in [vec![Min, Min], vec![Min, Max, Min], vec![Max, Max, Max]] {
            let ts: Vec<_> =
                (0..300).map(|i| t(i, &(0..dirs.len()).map(|_| r()).collect::<Vec<_>>())).collect();
            let got: Vec<u64> = front(&ts, &dirs).iter().map(|t| t.number).collect();
            assert_eq!(got, naive(&ts, &dirs), "{dirs:?}");
            assert!(!got.is_empty());
        }
    }

    #[test]
    fn nan_and_unfinished_trials_are_left_out_and_infinity_counts() {
        let dirs = [StudyDirection::Minimize, StudyDirection::Minimize];
        let mut running = FrozenTrial::new(3, 3, 0, TrialState::Running);
        running.values = Some(vec![-9.0, -9.0].into());
        let ts = vec![
            t(0, &[1.0, 1.0]),
            t(1, &[f64::NAN, 0.0]),
            t(2, &[f64::NEG_INFINITY, 5.0]),
            Arc::new(running),
        ];
        let got: Vec<u64> = front(&ts, &dirs).iter().map(|t| t.number).collect();
        assert_eq!(got, vec![0, 2]);
    }
}
