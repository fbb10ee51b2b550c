//! Budgets shared by every runner of a study. They are computed from the study's trials as the
//! journal holds them, never from one process's memory, so runners on several machines (and runs
//! started later) share them:
//!
//! * the trial budget counts *counted* trials: finished ones (COMPLETE, PRUNED, FAIL) plus those
//!   RUNNING, except a FAIL trial that was retried (its retry, once claimed, counts instead);
//! * the compute budget sums the run time of every trial that ran (finished: start to end;
//!   running: start to now).
//!
//! Exactness across runners comes from [`admits`], checked after a trial is created or claimed:
//! a fresh trial counts the counted trials numbered before it (numbers follow log order), a
//! claimed WAITING trial counts every other counted trial. Of any set of admitted trials, the one
//! that became RUNNING last counted all the others, so at most `n_trials` are ever admitted; a
//! trial that is not admitted goes back to WAITING and is taken again later.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use crate::model::{AttrValue, FrozenTrial, Timestamp, TrialState};

/// System attribute of a retry: the number of the first trial of its series (Optuna's
/// `RetryFailedTrialCallback`).
pub const FAILED_TRIAL_ATTR: &str = "failed_trial";
/// System attribute of a retry: the numbers of every earlier trial of its series, oldest first.
pub const RETRY_HISTORY_ATTR: &str = "retry_history";

/// Counts of a study's trials, as the budgets see them.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Tally {
    /// Finished trials that count against `--n-trials` (retried failures excluded).
    pub counted_finished: u64,
    /// RUNNING trials (of every runner).
    pub running: u64,
    /// WAITING trials (enqueued, retries, or returned by a runner that lost a race).
    pub waiting: u64,
    /// COMPLETE trials.
    pub complete: u64,
    /// PRUNED trials.
    pub pruned: u64,
    /// FAIL trials (retried or not).
    pub failed: u64,
    /// FAIL trials that have a retry.
    pub retried: u64,
    /// Summed run time of every trial that ran.
    pub compute: Duration,
}

impl Tally {
    /// Counts `trials` (one study's) at `now`.
    pub fn of(trials: &[Arc<FrozenTrial>], now: Timestamp) -> Tally {
        let retried = retried_numbers(trials);
        let mut tally = Tally::default();
        let mut micros: i64 = 0;
        for t in trials {
            match t.state {
                TrialState::Waiting => tally.waiting += 1,
                TrialState::Running => tally.running += 1,
                TrialState::Complete => tally.complete += 1,
                TrialState::Pruned => tally.pruned += 1,
                TrialState::Fail => tally.failed += 1,
            }
            if t.state.is_finished() {
                if t.state == TrialState::Fail && retried.contains(&t.number) {
                    tally.retried += 1;
                } else {
                    tally.counted_finished += 1;
                }
            }
            if t.state != TrialState::Waiting {
                if let Some(start) = t.datetime_start {
                    let end = if t.state.is_finished() { t.datetime_complete } else { Some(now) };
                    let end = end.unwrap_or(start);
                    micros = micros
                        .saturating_add(end.as_micros().saturating_sub(start.as_micros()).max(0));
                }
            }
        }
        tally.compute = Duration::from_micros(micros.max(0) as u64);
        tally
    }

    /// Counted trials: finished ones that count plus running ones.
    pub fn counted(&self) -> u64 {
        self.counted_finished + self.running
    }
}

/// The numbers of the trials that some retry names in its retry history.
pub fn retried_numbers(trials: &[Arc<FrozenTrial>]) -> HashSet<u64> {
    let mut out = HashSet::new();
    for t in trials {
        if let Some(AttrValue::Array(history)) = t.system_attrs.get(RETRY_HISTORY_ATTR) {
            for n in history {
                if let AttrValue::Int(n) = n {
                    if let Ok(n) = u64::try_from(*n) {
                        out.insert(n);
                    }
                }
            }
        }
    }
    out
}

/// Whether the RUNNING trial `candidate` (just created if `fresh`, else just claimed from
/// WAITING) fits in a budget of `n_trials` counted trials, judging by `trials` read after it
/// became RUNNING (see the module docs).
pub fn admits(
    trials: &[Arc<FrozenTrial>],
    candidate: &FrozenTrial,
    fresh: bool,
    n_trials: u64,
) -> bool {
    let retried = retried_numbers(trials);
    let before = trials
        .iter()
        .filter(|t| t.trial_id != candidate.trial_id)
        .filter(|t| t.state != TrialState::Waiting)
        .filter(|t| !(t.state == TrialState::Fail && retried.contains(&t.number)))
        .filter(|t| !fresh || t.number < candidate.number)
        .count() as u64;
    before < n_trials
}

#[cfg(test)]
mod tests {
    use super::*;

    fn trial(number: u64, state: TrialState) -> Arc<FrozenTrial> {
        let mut t = FrozenTrial::new(number, number, 0, state);
        if state != TrialState::Waiting {
            t.datetime_start = Some(Timestamp(1_000_000 * number as i64));
        }
        if state.is_finished() {
            t.datetime_complete = Some(Timestamp(1_000_000 * number as i64 + 500_000));
        }
        Arc::new(t)
    }

    fn retry_of(number: u64, history: &[u64], state: TrialState) -> Arc<FrozenTrial> {
        let mut t = Arc::unwrap_or_clone(trial(number, state));
        let h = history.iter().map(|n| AttrValue::Int(*n as i64)).collect();
        t.system_attrs.insert(RETRY_HISTORY_ATTR.into(), AttrValue::Array(h));
        t.system_attrs.insert(FAILED_TRIAL_ATTR.into(), AttrValue::Int(history[0] as i64));
        Arc::new(t)
    }

    #[test]
    fn retried_failures_do_not_count() {
        let trials = vec![
            trial(0, TrialState::Complete),
            trial(1, TrialState::Fail),
            trial(2, TrialState::Fail),
            retry_of(3, &[1], TrialState::Running),
            trial(4, TrialState::Waiting),
        ];
        let now = Timestamp(4_000_000);
        let t = Tally::of(&trials, now);
        assert_eq!(t.counted_finished, 2); // 0 and 2; 1 was retried by 3
        assert_eq!(t.running, 1);
        assert_eq!(t.waiting, 1);
        assert_eq!(t.retried, 1);
        assert_eq!(t.failed, 2);
        // 0.5 s each for 0, 1, 2; trial 3 runs from 3 s to now (4 s).
        assert_eq!(t.compute, Duration::from_millis(2500));
    }

    #[test]
    fn fresh_trials_count_only_earlier_numbers_and_claims_count_all() {
        let trials = vec![
            trial(0, TrialState::Complete),
            trial(1, TrialState::Running),
            trial(2, TrialState::Running),
            trial(3, TrialState::Waiting),
        ];
        // Fresh trial 1 sees one trial before it; fresh trial 2 sees two.
        assert!(admits(&trials, &trials[1], true, 2));
        assert!(!admits(&trials, &trials[2], true, 2));
        // A claim (trial 1 taken from WAITING) sees everything else that counts.
        assert!(!admits(&trials, &trials[1], false, 2));
        assert!(admits(&trials, &trials[1], false, 3));
    }
}
