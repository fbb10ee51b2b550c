//! What a run tells its [`Reporter`] (a progress bar, plain log lines, nothing): the runner never
//! prints; the reporter never decides (nextest's split of runner and reporter).

use std::time::Duration;

use crate::model::{ParamValue, TrialState};

use super::budget::Tally;

/// Receives a run's events, from several threads.
pub trait Reporter: Send + Sync {
    /// One event; called in order per trial, concurrently across trials.
    fn event(&self, event: &RunEvent<'_>);
}

/// A reporter that ignores everything.
#[derive(Debug, Clone, Copy, Default)]
pub struct Silent;

impl Reporter for Silent {
    fn event(&self, _event: &RunEvent<'_>) {}
}

/// How one trial of this run ended.
#[derive(Debug, Clone, PartialEq)]
pub struct TrialRecord {
    /// The trial's number.
    pub number: u64,
    /// Its id.
    pub trial_id: u64,
    /// Its final state (FAIL for an interrupted trial; `None` when another runner finished it).
    pub state: Option<TrialState>,
    /// Its values, if COMPLETE (or PRUNED with a last intermediate value).
    pub values: Option<Vec<f64>>,
    /// Why it failed (the first line of its `fail_reason`), or a note (a duplicate, a lost
    /// trial).
    pub reason: Option<String>,
    /// The command's run time (zero when it did not run).
    pub duration: Duration,
    /// The id of its retry, if one was enqueued.
    pub retry: Option<u64>,
}

/// Where a study stands, from the journal (so every runner's trials are included).
#[derive(Debug, Clone, PartialEq)]
pub struct Status {
    /// Counts by state and the budgets' view.
    pub tally: Tally,
    /// The best trial so far, single objective: number and value.
    pub best: Option<(u64, f64)>,
    /// Trials this process runs now.
    pub running_here: usize,
    /// Counted trials left before `--n-trials` is reached.
    pub trials_left: Option<u64>,
    /// Time left of `--timeout`.
    pub time_left: Option<Duration>,
    /// Compute left of `--max-compute`.
    pub compute_left: Option<Duration>,
    /// Since the run started.
    pub elapsed: Duration,
}

/// One thing that happened in a run.
#[derive(Debug, Clone, PartialEq)]
pub enum RunEvent<'a> {
    /// A trial's command starts.
    TrialStarted {
        /// Its number.
        number: u64,
        /// Its parameters, in the space's order.
        params: &'a [(String, ParamValue)],
        /// Whether it is a retry of an earlier trial.
        retry_of: Option<u64>,
    },
    /// A trial of this run ended.
    TrialFinished(&'a TrialRecord),
    /// Trials of a dead runner were failed as stale (numbers), and these retries enqueued
    /// (failed number, retry id).
    StaleFailed {
        /// Numbers of the failed trials.
        numbers: &'a [u64],
        /// Their retries.
        retries: &'a [(u64, u64)],
    },
    /// A periodic snapshot.
    Status(&'a Status),
    /// Something the user should know that is no trial's outcome.
    Warning(&'a str),
}
