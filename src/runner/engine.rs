//! The run loop: worker threads that each take a trial within the budget, run its command and
//! tell the result, and one housekeeping thread that fails the trials of dead runners and sends
//! status snapshots.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use super::budget::{self, Tally};
use super::channels::{params_json, trial_env, value_text};
use super::child::{self, Limits, Spawn, StopRequest, StopWhy, Watcher};
use super::events::{Reporter, RunEvent, Status, TrialRecord};
use super::liveness::Liveness;
use super::logs::{self, STDERR_NAME, STDOUT_NAME};
use super::output::shorten;
use super::protocol::parse_result;
use super::retry;
use super::space::reason as error_reason;
use super::{RunConfig, RunSummary, StopHandle, StopReason};
use crate::error::{Error, Result};
use crate::model::{AttrValue, FrozenTrial, ParamValue, Timestamp, TrialState};
use crate::storage::{FAIL_REASON_ATTR, Storage};
use crate::study::{Study, TellResult, Trial};

/// System attribute set on a trial completed as a duplicate: the number of the COMPLETE trial
/// with the same parameters whose values it took.
pub const DUPLICATE_OF_ATTR: &str = "trialog:duplicate_of";
/// System attribute set (to `true`) on a trial whose command left processes running that had to
/// be stopped.
pub const LEAKED_ATTR: &str = "trialog:leaked_processes";
/// Largest result file read.
const MAX_RESULT_FILE: u64 = 1 << 20;
/// How long a worker waits before looking at the budget again.
const POLL: Duration = Duration::from_millis(200);

/// Runs a command as the trials of one study (see the [module docs](super)).
pub struct Runner<S: Storage + ?Sized> {
    study: Study<S>,
    config: RunConfig,
    stop: StopHandle,
    liveness: Liveness,
}

/// What a worker does next.
enum Step<S: Storage + ?Sized> {
    Run(Trial<S>, Option<u64>),
    Again,
    Wait,
    Done(StopReason),
}

/// How a trial's command ended, as the trial will be told.
enum Verdict {
    Complete(Vec<f64>),
    Pruned,
    Fail(String),
    Interrupted(String),
    Lost,
}

/// State shared by the threads of one run.
struct Shared {
    started: Instant,
    scratch: PathBuf,
    stop_reason: Mutex<Option<StopReason>>,
    fatal: Mutex<Option<Error>>,
    summary: Mutex<RunSummary>,
    running_here: AtomicUsize,
    live_workers: AtomicUsize,
    wake: (Mutex<u64>, Condvar),
}

impl Shared {
    fn stopping(&self, stop: &StopHandle) -> bool {
        stop.is_interrupted()
            || self.stop_reason.lock().map(|r| r.is_some()).unwrap_or(true)
            || self.fatal.lock().map(|f| f.is_some()).unwrap_or(true)
    }

    fn finish(&self, reason: StopReason) {
        if let Ok(mut r) = self.stop_reason.lock() {
            r.get_or_insert(reason);
        }
        self.notify();
    }

    fn fail(&self, e: Error) {
        if let Ok(mut f) = self.fatal.lock() {
            f.get_or_insert(e);
        }
        self.notify();
    }

    fn notify(&self) {
        let (lock, cv) = &self.wake;
        if let Ok(mut g) = lock.lock() {
            *g += 1;
        }
        cv.notify_all();
    }

    /// Sleeps up to `d`, or until [`Shared::notify`].
    fn wait(&self, d: Duration) {
        let (lock, cv) = &self.wake;
        if let Ok(g) = lock.lock() {
            let seen = *g;
            let _ = cv.wait_timeout_while(g, d, |g| *g == seen);
        }
    }

    fn count(&self, f: impl FnOnce(&mut RunSummary)) {
        if let Ok(mut s) = self.summary.lock() {
            f(&mut s);
        }
    }
}

/// A small random delay (so that runners that collided do not collide again in step).
fn jitter(max: Duration) -> Duration {
    let r = uuid::Uuid::new_v4().as_u128() as u64;
    Duration::from_micros(r % (max.as_micros() as u64).max(1))
}

impl<S: Storage + ?Sized> Runner<S> {
    /// A runner of `config` on `study`. Checks before anything is written: at least one worker,
    /// the space against the study's existing trials (Optuna's compatibility rule), and that
    /// the command's program exists. Heartbeats: the store's own if it has them, else
    /// `config.heartbeat` through a trial attribute (see [`Liveness`]).
    pub fn new(study: Study<S>, config: RunConfig) -> Result<Self> {
        if config.workers == 0 {
            return Err(Error::invalid("a run needs at least one worker"));
        }
        if config.space.is_empty() {
            return Err(Error::invalid("the search space is empty (give at least one --param)"));
        }
        super::channels::check_env_names(&config.space)?;
        config.command.check_program()?;
        config.space.check_compatible(&study.trials(None)?)?;
        let liveness = Liveness::for_store(&**study.storage(), config.heartbeat);
        Ok(Runner { study, config, stop: StopHandle::default(), liveness })
    }

    /// The handle that interrupts this run.
    pub fn stop_handle(&self) -> StopHandle {
        self.stop.clone()
    }

    /// The study.
    pub fn study(&self) -> &Study<S> {
        &self.study
    }

    /// How trials prove they are alive in this run.
    pub fn liveness(&self) -> Liveness {
        self.liveness
    }

    /// Runs until a budget is spent, the space is exhausted, or the run is interrupted; returns
    /// what it did. `Err` for a storage error or a command that cannot be started (the trial
    /// that tried is FAIL); trials running then are stopped first.
    pub fn run(&self, reporter: &dyn Reporter) -> Result<RunSummary> {
        let scratch = self.config.scratch_dir.join(format!(
            "trialog-run-{}-{}",
            std::process::id(),
            &uuid::Uuid::new_v4().simple().to_string()[..8]
        ));
        std::fs::create_dir_all(&scratch).map_err(|e| Error::io("create", &scratch, e))?;
        let shared = Shared {
            started: Instant::now(),
            scratch: scratch.clone(),
            stop_reason: Mutex::new(None),
            fatal: Mutex::new(None),
            summary: Mutex::new(RunSummary::default()),
            running_here: AtomicUsize::new(0),
            live_workers: AtomicUsize::new(self.config.workers),
            wake: (Mutex::new(0), Condvar::new()),
        };
        // Trials of runners that died before this one started are failed (and retried) first.
        let reaped = self.reap(&shared, reporter, true);
        if let Err(e) = reaped {
            let _ = std::fs::remove_dir_all(&scratch);
            return Err(e);
        }
        std::thread::scope(|scope| {
            for i in 0..self.config.workers {
                let shared = &shared;
                let spawned = std::thread::Builder::new()
                    .name(format!("trialog-worker-{i}"))
                    .spawn_scoped(scope, move || {
                        self.worker(shared, reporter);
                        shared.live_workers.fetch_sub(1, Ordering::SeqCst);
                        shared.notify();
                    });
                if let Err(e) = spawned {
                    shared.live_workers.fetch_sub(1, Ordering::SeqCst);
                    shared.fail(Error::invalid(format_args!("cannot start a worker thread: {e}")));
                }
            }
            self.housekeeping(&shared, reporter);
        });
        let _ = std::fs::remove_dir_all(&scratch);
        if let Some(e) = shared.fatal.into_inner().ok().flatten() {
            return Err(e);
        }
        let mut summary = shared.summary.into_inner().unwrap_or_default();
        summary.stop = if self.stop.is_interrupted() {
            Some(StopReason::Interrupted)
        } else {
            shared.stop_reason.into_inner().ok().flatten()
        };
        summary.elapsed = shared.started.elapsed();
        Ok(summary)
    }

    /// One worker: take a trial, run it, repeat until the run stops.
    fn worker(&self, shared: &Shared, reporter: &dyn Reporter) {
        while !shared.stopping(&self.stop) {
            match self.acquire(shared, reporter) {
                Ok(Step::Run(trial, retry_of)) => {
                    if let Err(e) = self.run_trial(shared, reporter, trial, retry_of) {
                        shared.fail(e);
                    }
                }
                Ok(Step::Again) => {}
                Ok(Step::Wait) => shared.wait(POLL + jitter(POLL)),
                Ok(Step::Done(reason)) => shared.finish(reason),
                Err(e) => shared.fail(e),
            }
        }
    }

    /// The next trial this worker may run, or why not.
    fn acquire(&self, shared: &Shared, reporter: &dyn Reporter) -> Result<Step<S>> {
        let config = &self.config;
        let storage = self.study.storage();
        if config.timeout.is_some_and(|t| shared.started.elapsed() >= t) {
            return Ok(Step::Done(StopReason::Timeout));
        }
        let trials = self.study.trials(None)?;
        let tally = Tally::of(&trials, Timestamp::now());
        if config.max_compute.is_some_and(|c| tally.compute >= c) {
            return Ok(Step::Done(StopReason::MaxCompute));
        }
        if let Some(n) = config.n_trials {
            if tally.counted_finished >= n {
                return Ok(Step::Done(StopReason::NTrials));
            }
            if tally.counted() >= n {
                return Ok(Step::Wait);
            }
        }
        if self.exhausted(&trials) {
            return Ok(Step::Done(StopReason::Exhausted));
        }
        let (mut trial, fresh) = match self.study.ask_waiting()? {
            Some(t) => (t, false),
            None if self.study.sampler().allows_new_trials() => (self.study.ask_new()?, true),
            None => match self.study.ask() {
                Ok(t) => (t, false),
                Err(Error::SearchSpaceExhausted { .. }) => {
                    return Ok(Step::Done(StopReason::Exhausted));
                }
                Err(e) => return Err(e),
            },
        };
        let id = trial.id();
        if let Some(n) = config.n_trials {
            let trials = self.study.trials(None)?;
            let snapshot = match trials.iter().find(|t| t.trial_id == id) {
                Some(t) => Arc::clone(t),
                None => trial.snapshot()?,
            };
            if !budget::admits(&trials, &snapshot, fresh, n) {
                // Another runner took the last slot first: hand the trial back.
                match storage.set_trial_state_values(id, TrialState::Waiting, None) {
                    Ok(_) | Err(Error::TrialFinished { .. }) => {}
                    Err(e) => return Err(e),
                }
                return Ok(Step::Wait);
            }
        }
        if !self.liveness.first(&**storage, id)? {
            return Ok(Step::Again);
        }
        for (name, dist) in self.config.space.params() {
            match trial.suggest(name, dist.clone()) {
                Ok(_) => {}
                Err(e @ (Error::InvalidArgument(_) | Error::IncompatibleDistribution { .. })) => {
                    let reason = format!("parameter {name:?}: {}", error_reason(&e));
                    let record =
                        self.finish(&trial, Verdict::Fail(reason), Duration::ZERO, None)?;
                    self.count_record(shared, &record);
                    reporter.event(&RunEvent::TrialFinished(&record));
                    return Ok(Step::Again);
                }
                Err(Error::TrialFinished { .. }) => return Ok(Step::Again),
                Err(e) => return Err(e),
            }
        }
        if let Some(record) = self.complete_duplicate(&trial)? {
            self.count_record(shared, &record);
            shared.count(|s| s.duplicates += 1);
            reporter.event(&RunEvent::TrialFinished(&record));
            return Ok(Step::Again);
        }
        let snapshot = trial.snapshot()?;
        let retry_of = match snapshot.system_attrs.get(budget::RETRY_HISTORY_ATTR) {
            Some(AttrValue::Array(h)) => h.last().and_then(|n| match n {
                AttrValue::Int(n) => u64::try_from(*n).ok(),
                _ => None,
            }),
            _ => None,
        };
        Ok(Step::Run(trial, retry_of))
    }

    /// Whether a finite space (not a grid) has had every point COMPLETE.
    fn exhausted(&self, trials: &[Arc<FrozenTrial>]) -> bool {
        let Some(size) = self.config.space.size() else { return false };
        let mut seen = HashSet::new();
        for t in trials.iter().filter(|t| t.state == TrialState::Complete) {
            if let Some(key) = self.point_key(t) {
                seen.insert(key);
            }
        }
        seen.len() as u128 >= size
    }

    /// A trial's point in the space, if it has a value inside every distribution of the space.
    fn point_key(&self, t: &FrozenTrial) -> Option<Vec<String>> {
        self.config
            .space
            .params()
            .iter()
            .map(|(name, dist)| {
                let v = t.params.get(name.as_str())?;
                let inside = dist.to_internal(v).is_ok_and(|x| dist.contains(x));
                inside.then(|| value_text(v))
            })
            .collect()
    }

    /// In a finite space, a trial whose parameters a COMPLETE trial already had is not run
    /// again: it is completed with that trial's values (the recipe of Optuna's FAQ), noting the
    /// trial in [`DUPLICATE_OF_ATTR`].
    fn complete_duplicate(&self, trial: &Trial<S>) -> Result<Option<TrialRecord>> {
        if self.config.space.size().is_none() {
            return Ok(None);
        }
        let me = trial.snapshot()?;
        let Some(key) = self.point_key(&me) else { return Ok(None) };
        let complete = self.study.trials(Some(&[TrialState::Complete]))?;
        let Some(done) = complete.iter().find(|t| self.point_key(t).as_ref() == Some(&key)) else {
            return Ok(None);
        };
        let Some(values) = done.values.clone() else { return Ok(None) };
        let storage = self.study.storage();
        let note = AttrValue::Int(done.number as i64);
        match storage.set_trial_system_attr(trial.id(), DUPLICATE_OF_ATTR, note) {
            Ok(()) => {}
            Err(Error::TrialFinished { .. }) => return Ok(None),
            Err(e) => return Err(e),
        }
        let mut record =
            self.finish(trial, Verdict::Complete(values.to_vec()), Duration::ZERO, None)?;
        record.reason = Some(format!("not run: trial {} had the same parameters", done.number));
        Ok(Some(record))
    }

    /// Runs `trial`'s command and tells the study how it ended.
    fn run_trial(
        &self,
        shared: &Shared,
        reporter: &dyn Reporter,
        trial: Trial<S>,
        retry_of: Option<u64>,
    ) -> Result<()> {
        let config = &self.config;
        let id = trial.id();
        let params: Vec<(String, ParamValue)> = config
            .space
            .params()
            .iter()
            .filter_map(|(name, _)| Some((name.clone(), trial.param(name)?.clone())))
            .collect();
        reporter.event(&RunEvent::TrialStarted {
            number: trial.number(),
            params: &params,
            retry_of,
        });
        let dir = shared.scratch.join(format!("trial-{id}"));
        let made = std::fs::create_dir_all(&dir)
            .and_then(|()| std::fs::write(dir.join("params.json"), params_json(&params)));
        if let Err(e) = made {
            let e = Error::io("write", &dir, e);
            self.finish(&trial, Verdict::Fail(format!("runner: {e}")), Duration::ZERO, None)?;
            return Err(e);
        }
        let result_path = dir.join("result");
        let logs_wanted = config.artifacts.is_some();
        let log_file = |name: &str| -> Option<std::fs::File> {
            logs_wanted.then(|| std::fs::File::create(dir.join(name)).ok()).flatten()
        };
        let (program, args) = config.command.render(&super::command::Fill {
            params: &params,
            trial_number: trial.number(),
            trial_id: id,
            study: self.study.name(),
        });
        let spawn = Spawn {
            program: program.clone(),
            args,
            shell: config.command.shell(),
            env: trial_env(
                &params,
                trial.number(),
                id,
                self.study.name(),
                &dir.join("params.json"),
                &result_path,
            ),
            dir: None,
            stdout_log: log_file(STDOUT_NAME),
            stderr_log: log_file(STDERR_NAME),
            stderr_tail: config.stderr_tail,
        };
        let limits = Limits {
            deadline: config.trial_timeout.map(|d| Instant::now() + d),
            kill_grace: config.kill_grace,
            heartbeat: Some(self.liveness.options().interval),
        };
        let mut watcher = TrialWatcher {
            trial: &trial,
            storage: &**self.study.storage(),
            liveness: self.liveness,
            stop: &self.stop,
            multi: self.study.directions().len() > 1,
            warned_multi: false,
            error: None,
        };
        shared.running_here.fetch_add(1, Ordering::SeqCst);
        shared.count(|s| s.ran += 1);
        let finished = child::run(spawn, limits, &mut watcher);
        shared.running_here.fetch_sub(1, Ordering::SeqCst);
        let storage_error = watcher.error.take();
        let finished = match finished {
            Ok(f) => f,
            Err(e) => {
                let why = format!("cannot start {program:?}: {e}");
                let record =
                    self.finish(&trial, Verdict::Fail(why.clone()), Duration::ZERO, None)?;
                self.count_record(shared, &record);
                reporter.event(&RunEvent::TrialFinished(&record));
                let _ = std::fs::remove_dir_all(&dir);
                return Err(Error::invalid(why));
            }
        };
        if let Some(e) = storage_error {
            let _ = std::fs::remove_dir_all(&dir);
            return Err(e);
        }
        let mut verdict = self.judge(&finished, &result_path);
        if let (Verdict::Fail(reason), Some(first)) = (&mut verdict, finished.bad_reports.first()) {
            let n = finished.bad_reports.len();
            reason.push_str(&format!(
                "; {n} malformed trialog:report line(s) ignored, the first: {first}"
            ));
        }
        if !matches!(verdict, Verdict::Lost) {
            if let Some(store) = &config.artifacts {
                let files =
                    [(STDOUT_NAME, dir.join(STDOUT_NAME)), (STDERR_NAME, dir.join(STDERR_NAME))];
                let files: Vec<(&str, &Path)> =
                    files.iter().map(|(n, p)| (*n, p.as_path())).collect();
                let mut warn = |w: String| reporter.event(&RunEvent::Warning(&w));
                if !logs::upload(&**self.study.storage(), &**store, id, &files, &mut warn) {
                    verdict = Verdict::Lost;
                }
            }
        }
        if finished.leaked && !matches!(verdict, Verdict::Lost) {
            let note = format!(
                "trial {}: its command left processes running in its process group; they were \
                 stopped",
                trial.number()
            );
            reporter.event(&RunEvent::Warning(&note));
            match self.study.storage().set_trial_system_attr(id, LEAKED_ATTR, AttrValue::Bool(true))
            {
                Ok(()) | Err(Error::TrialFinished { .. }) => {}
                Err(e) => return Err(e),
            }
        }
        let record = self.finish(&trial, verdict, finished.elapsed, Some(&finished.stderr.tail))?;
        self.count_record(shared, &record);
        reporter.event(&RunEvent::TrialFinished(&record));
        let _ = std::fs::remove_dir_all(&dir);
        shared.notify();
        Ok(())
    }

    /// How the command's end translates into the trial's outcome.
    fn judge(&self, f: &child::Finished, result_path: &Path) -> Verdict {
        let grace = |f: &child::Finished| {
            if f.escalated {
                format!("SIGTERM, then SIGKILL after {} s", self.config.kill_grace.as_secs_f64())
            } else {
                "SIGTERM".to_owned()
            }
        };
        match f.stopped {
            Some(StopWhy::TimedOut) => {
                let limit = self.config.trial_timeout.unwrap_or_default();
                return Verdict::Fail(format!(
                    "timed out after {} (--trial-timeout); its process group was stopped with {}",
                    human(limit),
                    grace(f)
                ));
            }
            Some(StopWhy::Pruned) => return Verdict::Pruned,
            Some(StopWhy::Interrupted) => {
                return Verdict::Interrupted(format!(
                    "interrupted: the run was stopped (its process group got {})",
                    grace(f)
                ));
            }
            Some(StopWhy::Lost) => return Verdict::Lost,
            None => {}
        }
        let Some(status) = f.status else {
            return Verdict::Fail("the runner could not wait for the command".to_owned());
        };
        if !status.success() {
            return Verdict::Fail(format!(
                "the command ended with {}",
                crate::sys::proctree::describe(&status)
            ));
        }
        let n = self.study.directions().len();
        let from_file = match std::fs::metadata(result_path) {
            Ok(m) if m.len() > MAX_RESULT_FILE => {
                return Verdict::Fail(format!(
                    "the result file ($TRIALOG_RESULT_FILE) holds {} bytes, more than {MAX_RESULT_FILE}",
                    m.len()
                ));
            }
            Ok(m) if m.len() > 0 => std::fs::read(result_path).ok(),
            _ => None,
        };
        if let Some(bytes) = from_file {
            let text = String::from_utf8_lossy(&bytes);
            return match parse_result(&text, n) {
                Ok(values) => Verdict::Complete(values),
                Err(why) => Verdict::Fail(format!(
                    "exit status 0, but the result file ($TRIALOG_RESULT_FILE) is not a result: {why} \
                     (it holds {:?})",
                    shorten(text.trim(), 200)
                )),
            };
        }
        match &f.stdout.last_line {
            None => Verdict::Fail(
                "exit status 0, but the command printed no result (its last stdout line must be a \
                 number, {\"value\": v} or {\"values\": [...]}, or it writes one to \
                 $TRIALOG_RESULT_FILE)"
                    .to_owned(),
            ),
            Some(line) => match parse_result(line, n) {
                Ok(values) => Verdict::Complete(values),
                Err(why) => Verdict::Fail(format!(
                    "exit status 0, but the last line of stdout is not a result: {why} (it is {:?})",
                    shorten(line.trim(), 200)
                )),
            },
        }
    }

    /// Tells the study how `trial` ended; returns the record of it.
    fn finish(
        &self,
        trial: &Trial<S>,
        verdict: Verdict,
        duration: Duration,
        stderr_tail: Option<&[String]>,
    ) -> Result<TrialRecord> {
        let storage = self.study.storage();
        let id = trial.id();
        let mut record = TrialRecord {
            number: trial.number(),
            trial_id: id,
            state: None,
            values: None,
            reason: None,
            duration,
            retry: None,
        };
        let with_tail = |reason: &str| match stderr_tail {
            Some(tail) if !tail.is_empty() => {
                format!("{reason}\n--- last lines of stderr ---\n{}", tail.join("\n"))
            }
            _ => reason.to_owned(),
        };
        let told = match verdict {
            Verdict::Lost => {
                record.reason = Some("failed by another runner (missed heartbeats)".into());
                return Ok(record);
            }
            Verdict::Complete(values) => self.study.tell(trial, TellResult::Complete(values)),
            Verdict::Pruned => self.study.tell(trial, TellResult::Pruned),
            Verdict::Fail(reason) | Verdict::Interrupted(reason) => {
                record.reason = Some(reason.clone());
                storage
                    .set_trial_system_attr(
                        id,
                        FAIL_REASON_ATTR,
                        AttrValue::String(with_tail(&reason)),
                    )
                    .and_then(|()| self.study.tell(trial, TellResult::Fail))
            }
        };
        match told {
            Ok(()) => {}
            Err(Error::TrialFinished { .. }) => {
                record.reason = Some("failed by another runner (missed heartbeats)".into());
                return Ok(record);
            }
            Err(e) => return Err(e),
        }
        let snapshot = trial.snapshot()?;
        record.state = Some(snapshot.state);
        record.values = snapshot.values.as_ref().map(|v| v.to_vec());
        if snapshot.state == TrialState::Fail && record.reason.is_none() {
            if let Some(AttrValue::String(r)) = snapshot.system_attrs.get(FAIL_REASON_ATTR) {
                record.reason = Some(r.clone());
            }
        }
        let interrupted = record.reason.as_deref().is_some_and(|r| r.starts_with("interrupted"));
        if interrupted && self.config.retries > 0 {
            record.retry = retry::enqueue_retry(&**storage, &snapshot, self.config.retries)?;
        }
        Ok(record)
    }

    fn count_record(&self, shared: &Shared, record: &TrialRecord) {
        shared.count(|s| {
            match record.state {
                Some(TrialState::Complete) => s.complete += 1,
                Some(TrialState::Pruned) => s.pruned += 1,
                Some(TrialState::Fail) => s.failed += 1,
                None => s.lost += 1,
                _ => {}
            }
            if record.reason.as_deref().is_some_and(|r| r.starts_with("interrupted")) {
                s.interrupted += 1;
            }
            if record.retry.is_some() {
                s.retries += 1;
            }
        });
    }

    /// Fails stale trials of dead runners, retrying them if allowed (`at_start`: as a runner
    /// that has just started, see [`Liveness::reap_at_start`]).
    fn reap(&self, shared: &Shared, reporter: &dyn Reporter, at_start: bool) -> Result<()> {
        let storage = self.study.storage();
        let failed = if at_start {
            self.liveness.reap_at_start(&**storage, self.study.id())?
        } else {
            self.liveness.reap(&**storage, self.study.id())?
        };
        if failed.is_empty() {
            return Ok(());
        }
        let mut numbers = Vec::new();
        let mut retries = Vec::new();
        for id in failed {
            let t = storage.get_trial(id)?;
            numbers.push(t.number);
            if self.config.retries > 0 {
                if let Some(r) = retry::enqueue_retry(&**storage, &t, self.config.retries)? {
                    retries.push((t.number, r));
                }
            }
        }
        shared.count(|s| {
            s.stale_failed += numbers.len() as u64;
            s.retries += retries.len() as u64;
        });
        reporter.event(&RunEvent::StaleFailed { numbers: &numbers, retries: &retries });
        shared.notify();
        Ok(())
    }

    /// Until the workers are done: reap stale trials every heartbeat interval and send a status
    /// every `status_every`; a last status at the end.
    fn housekeeping(&self, shared: &Shared, reporter: &dyn Reporter) {
        let interval = self.liveness.options().interval;
        let mut next_reap = Instant::now() + interval;
        let mut next_status = Instant::now();
        while shared.live_workers.load(Ordering::SeqCst) > 0 {
            let now = Instant::now();
            if now >= next_reap && !self.stop.is_interrupted() {
                if let Err(e) = self.reap(shared, reporter, false) {
                    shared.fail(e);
                }
                next_reap = Instant::now() + interval;
            }
            if now >= next_status {
                self.send_status(shared, reporter);
                next_status = Instant::now() + self.config.status_every;
            }
            let due = next_reap.min(next_status).saturating_duration_since(Instant::now());
            shared.wait(due.min(Duration::from_millis(100)));
        }
        self.send_status(shared, reporter);
    }

    fn send_status(&self, shared: &Shared, reporter: &dyn Reporter) {
        let Ok(trials) = self.study.trials(None) else { return };
        let tally = Tally::of(&trials, Timestamp::now());
        let best = if self.study.directions().len() == 1 {
            super::top::top_trials(&trials, self.study.directions(), 1)
                .first()
                .and_then(|t| Some((t.number, t.value()?)))
        } else {
            None
        };
        let elapsed = shared.started.elapsed();
        let status = Status {
            trials_left: self.config.n_trials.map(|n| n.saturating_sub(tally.counted())),
            time_left: self.config.timeout.map(|t| t.saturating_sub(elapsed)),
            compute_left: self.config.max_compute.map(|c| c.saturating_sub(tally.compute)),
            tally,
            best,
            running_here: shared.running_here.load(Ordering::SeqCst),
            elapsed,
        };
        reporter.event(&RunEvent::Status(&status));
    }
}

/// The study side of a running command: intermediate values, pruning, heartbeats, interrupts.
struct TrialWatcher<'a, S: Storage + ?Sized> {
    trial: &'a Trial<S>,
    storage: &'a S,
    liveness: Liveness,
    stop: &'a StopHandle,
    multi: bool,
    warned_multi: bool,
    error: Option<Error>,
}

impl<S: Storage + ?Sized> Watcher for TrialWatcher<'_, S> {
    fn report(&mut self, step: i64, value: f64) -> bool {
        if self.multi {
            if !self.warned_multi {
                self.warned_multi = true;
                log::warn!(
                    "trial {}: report lines are ignored in a multi-objective study (as Optuna's \
                     Trial.report refuses them)",
                    self.trial.number()
                );
            }
            return false;
        }
        let result = self.trial.report(step, value).and_then(|()| self.trial.should_prune());
        match result {
            Ok(prune) => prune,
            // Finished elsewhere: the next heartbeat finds out and stops the command.
            Err(Error::TrialFinished { .. }) => false,
            Err(e) => {
                // The journal is failing: stop the command, the run ends with this error.
                self.error.get_or_insert(e);
                true
            }
        }
    }

    fn beat(&mut self) -> bool {
        match self.liveness.beat(self.storage, self.trial.id()) {
            Ok(alive) => alive,
            Err(e) => {
                log::warn!("heartbeat of trial {} not recorded: {e}", self.trial.number());
                true
            }
        }
    }

    fn stop_requested(&self) -> StopRequest {
        if self.stop.is_forced() {
            StopRequest::Force
        } else if self.stop.is_interrupted() {
            StopRequest::Graceful
        } else {
            StopRequest::None
        }
    }
}

/// A duration as `1h2m3s` / `1.5s`.
pub(crate) fn human(d: Duration) -> String {
    let secs = d.as_secs();
    if secs < 60 {
        let ms = d.as_millis();
        return if ms % 1000 == 0 {
            format!("{secs}s")
        } else {
            format!("{:.1}s", d.as_secs_f64())
        };
    }
    let (h, m, s) = (secs / 3600, secs / 60 % 60, secs % 60);
    let mut out = String::new();
    if h > 0 {
        out.push_str(&format!("{h}h"));
    }
    if m > 0 {
        out.push_str(&format!("{m}m"));
    }
    if s > 0 {
        out.push_str(&format!("{s}s"));
    }
    out
}
