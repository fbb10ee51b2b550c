//! The runner: any command as a trial (`trialog run`). It asks the study for trials, starts the
//! command with each trial's parameters, supervises it (timeouts, pruning on its intermediate
//! values, heartbeats), reads its result and tells the study, within budgets that every runner of
//! the study shares through the journal. Several runners on several machines, and runs started
//! later, simply continue one study.
//!
//! The pieces, one job each:
//! * [`space`]: the search space (`--param` specs, Optuna's compatibility rule, finite spaces);
//! * [`command`]: the command line with `{name}` placeholders;
//! * [`channels`]: parameters in environment variables and a JSON file;
//! * [`protocol`]: results and `trialog:report` lines;
//! * `child` / `output`: spawning and supervising one command and the processes it starts
//!   (stopping that tree is the platform seam's `sys::proctree`);
//! * [`budget`]: the shared trial and compute budgets and the admission rule that keeps them
//!   exact across runners;
//! * [`liveness`]: heartbeats and failing the trials of dead runners;
//! * [`retry`]: re-enqueuing failed trials as Optuna's retry callback does;
//! * [`events`]: what a run reports (the CLI draws progress from it);
//! * [`top`]: the best trials.
//!
//! The protocol between a runner and its commands, the budgets and the recovery rules are
//! documented in `docs/RUN.md`.

pub mod budget;
pub mod channels;
mod child;
pub mod command;
mod engine;
pub mod events;
pub mod liveness;
mod logs;
mod output;
pub mod protocol;
pub mod retry;
pub mod space;
pub mod top;

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};
use std::time::Duration;

use crate::artifacts::ArtifactStore;
use crate::storage::HeartbeatOptions;

pub use command::CommandTemplate;
pub use engine::Runner;
pub use events::{Reporter, RunEvent, Silent, Status, TrialRecord};
pub use space::SearchSpace;

/// How a run is set up. [`RunConfig::new`] gives the defaults documented on each field.
pub struct RunConfig {
    /// The parameters each trial gets.
    pub space: SearchSpace,
    /// The command each trial runs.
    pub command: CommandTemplate,
    /// Trials run at once by this runner (default 1).
    pub workers: usize,
    /// Counted trials of the study (every runner's, earlier runs' too) after which no trial
    /// starts (`None`: no limit).
    pub n_trials: Option<u64>,
    /// Wall-clock time of this run after which no trial starts (running ones finish).
    pub timeout: Option<Duration>,
    /// Summed run time of the study's trials after which no trial starts.
    pub max_compute: Option<Duration>,
    /// A trial's command running longer than this is stopped and its trial FAILs.
    pub trial_timeout: Option<Duration>,
    /// Between SIGTERM and SIGKILL when a command is stopped (default 10 s).
    pub kill_grace: Duration,
    /// Retries of a trial lost to a dead runner or an interrupt (default 0).
    pub retries: u32,
    /// Heartbeat timing where the store has no heartbeats of its own (default every 10 s, stale
    /// after 60 s); a store with heartbeats uses its own settings.
    pub heartbeat: HeartbeatOptions,
    /// Where each trial's stdout and stderr are kept as artifacts (`None`: not kept).
    pub artifacts: Option<Arc<dyn ArtifactStore>>,
    /// Where per-trial scratch files go (the parameters file, the result file, the logs before
    /// upload); default: the system's temporary directory.
    pub scratch_dir: PathBuf,
    /// Lines of stderr quoted in a failed trial's `fail_reason` (default 10).
    pub stderr_tail: usize,
    /// How often a [`RunEvent::Status`] is sent (default 1 s).
    pub status_every: Duration,
}

impl RunConfig {
    /// A configuration with the defaults.
    pub fn new(space: SearchSpace, command: CommandTemplate) -> Self {
        RunConfig {
            space,
            command,
            workers: 1,
            n_trials: None,
            timeout: None,
            max_compute: None,
            trial_timeout: None,
            kill_grace: Duration::from_secs(10),
            retries: 0,
            heartbeat: HeartbeatOptions {
                interval: Duration::from_secs(10),
                grace_period: Duration::from_secs(60),
            },
            artifacts: None,
            scratch_dir: std::env::temp_dir(),
            stderr_tail: 10,
            status_every: Duration::from_secs(1),
        }
    }
}

/// Stops a run from another thread (a Ctrl-C handler): the first [`StopHandle::interrupt`] stops
/// the commands gracefully (SIGTERM, SIGKILL after the grace period), the second kills them now.
#[derive(Debug, Clone, Default)]
pub struct StopHandle(Arc<AtomicU8>);

impl StopHandle {
    /// Asks the run to stop; returns how often it was asked (1: gracefully, 2 or more: now).
    pub fn interrupt(&self) -> u8 {
        self.0.fetch_add(1, Ordering::SeqCst).saturating_add(1)
    }

    /// Whether the run was asked to stop.
    pub fn is_interrupted(&self) -> bool {
        self.0.load(Ordering::SeqCst) > 0
    }

    /// Whether the run was asked to stop more than once (kill the commands now).
    pub fn is_forced(&self) -> bool {
        self.0.load(Ordering::SeqCst) > 1
    }
}

/// Why a run stopped starting trials.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StopReason {
    /// The study has `--n-trials` counted finished trials.
    NTrials,
    /// `--timeout` elapsed.
    Timeout,
    /// `--max-compute` was spent.
    MaxCompute,
    /// A finite search space was fully run (or a grid fully handed out).
    Exhausted,
    /// The run was interrupted.
    Interrupted,
}

impl StopReason {
    /// A short description for messages.
    pub fn describe(self) -> &'static str {
        match self {
            StopReason::NTrials => "the trial budget (--n-trials) is reached",
            StopReason::Timeout => "the run's time (--timeout) is up",
            StopReason::MaxCompute => "the compute budget (--max-compute) is spent",
            StopReason::Exhausted => "the search space is exhausted",
            StopReason::Interrupted => "the run was interrupted",
        }
    }

    /// A stable name for JSON output: `n_trials`, `timeout`, `max_compute`, `exhausted`,
    /// `interrupted`.
    pub fn name(self) -> &'static str {
        match self {
            StopReason::NTrials => "n_trials",
            StopReason::Timeout => "timeout",
            StopReason::MaxCompute => "max_compute",
            StopReason::Exhausted => "exhausted",
            StopReason::Interrupted => "interrupted",
        }
    }
}

/// What one run did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RunSummary {
    /// Why it stopped (`None` only if it never started a trial for another reason).
    pub stop: Option<StopReason>,
    /// Trials whose command this run started.
    pub ran: u64,
    /// Of the trials this run finished: COMPLETE (duplicates included).
    pub complete: u64,
    /// PRUNED.
    pub pruned: u64,
    /// FAIL (interrupted ones included).
    pub failed: u64,
    /// Interrupted (FAIL, possibly retried).
    pub interrupted: u64,
    /// Finished by another runner while running here (failed as stale).
    pub lost: u64,
    /// Completed without running, as duplicates of a COMPLETE trial of a finite space.
    pub duplicates: u64,
    /// Trials of dead runners this run failed as stale.
    pub stale_failed: u64,
    /// Retries this run enqueued.
    pub retries: u64,
    /// Wall-clock time of the run.
    pub elapsed: Duration,
}
