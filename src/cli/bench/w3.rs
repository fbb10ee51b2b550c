//! W3 concurrency: the parent creates the journal and the study, starts P worker processes
//! (this binary again, `bench w3-worker`) that open the storage and wait on a go-file, then each
//! write N trials. Wall time runs from the go signal to the last worker's end. Afterwards the
//! parent checks P·N trials, all COMPLETE, numbered exactly 0..P·N-1.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::thread::sleep;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use clap::Args;
use trialog::{JournalStorage, LogBackend, TrialState};

use super::files::{BenchPath, LockArg, file_bytes, redis_url, remove_journal, sibling};
use super::json::{JsonLine, field_f64};
use super::shape::{OPS_PER_TRIAL, Rng, STUDY, create_study, one_trial, xy_distribution};
use crate::cli::CliError;

/// How long the parent waits for the workers to be ready, and a worker for the go signal.
const START_TIMEOUT: Duration = Duration::from_secs(120);

/// Arguments of `trialog bench w3`.
#[derive(Debug, Args)]
pub struct W3Args {
    /// Worker processes.
    #[arg(long, default_value_t = 4)]
    pub procs: u64,
    /// Trials per worker.
    #[arg(long, default_value_t = 300)]
    pub n: u64,
    /// Journal to (re)create; it is deleted first and kept afterwards. Default: a scratch file
    /// in the temporary directory, removed afterwards. A Redis URL
    /// (`redis://host:port/db?prefix=NAME`) writes there; the prefix should be empty.
    #[arg(long)]
    pub journal: Option<PathBuf>,
    /// Writers' lock protocol.
    #[arg(long, value_enum, default_value_t)]
    pub lock: LockArg,
    /// Seed of worker 0 (worker i uses seed + i; default: from time and pid).
    #[arg(long)]
    pub seed: Option<u64>,
}

/// Arguments of the hidden `trialog bench w3-worker`.
#[derive(Debug, Args)]
pub struct WorkerArgs {
    /// The shared journal (already holding the study).
    #[arg(long)]
    pub journal: PathBuf,
    /// Trials to write.
    #[arg(long)]
    pub n: u64,
    /// Seed of the parameter values.
    #[arg(long)]
    pub seed: u64,
    /// File to create once the storage is open.
    #[arg(long)]
    pub ready: PathBuf,
    /// File whose appearance starts the timed loop.
    #[arg(long)]
    pub go: PathBuf,
    /// Writers' lock protocol.
    #[arg(long, value_enum, default_value_t)]
    pub lock: LockArg,
}

/// Seconds since the Unix epoch: comparable between processes on one host.
fn now() -> f64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0.0, |d| d.as_secs_f64())
}

/// One worker's report.
struct WorkerTimes {
    end: f64,
    seconds: f64,
}

/// Runs W3 and prints its JSON line; fails after printing if the check fails.
pub fn run(a: &W3Args) -> Result<(), CliError> {
    if a.procs == 0 {
        return Err(CliError::msg("w3: --procs must be at least 1"));
    }
    let target = BenchPath::new(a.journal.clone(), "w3")?;
    let path = &target.path;
    let redis = redis_url(path);
    let err = |e: trialog::Error| CliError::lib(path, e);
    match &redis {
        // A Redis prefix is the caller's to clear (bench/redis_vs_optuna.py uses a fresh one per run).
        Some(url) => drop(create_study(&JournalStorage::open_url(url).map_err(err)?).map_err(err)?),
        None => {
            remove_journal(path)?;
            let storage =
                JournalStorage::open_with(path, &a.lock.file_options(true)).map_err(err)?;
            create_study(&storage).map_err(err)?;
        }
    }
    let sync = match &redis {
        Some(_) => std::env::temp_dir().join(format!("trialog-w3sync-{}", std::process::id())),
        None => sibling(path, &format!(".w3sync-{}", std::process::id())),
    };
    std::fs::create_dir_all(&sync).map_err(|e| CliError::at(&sync, e))?;
    let result = race(a, path, &sync);
    let _ = std::fs::remove_dir_all(&sync);
    let (t0, times) = result?;

    let wall = times.iter().map(|t| t.end).fold(f64::NEG_INFINITY, f64::max) - t0;
    let worker_seconds: Vec<f64> = times.iter().map(|t| t.seconds).collect();
    let fastest = worker_seconds.iter().copied().fold(f64::INFINITY, f64::min);
    let slowest = worker_seconds.iter().copied().fold(0.0, f64::max);
    let total = a.procs * a.n;
    let check = verify(path, a.lock, total)?;
    let size = if redis.is_some() { 0 } else { file_bytes(path)? };

    JsonLine::new()
        .str("w", "w3")
        .str("backend", "trialog")
        .str("lock", if redis.is_some() { "redis" } else { a.lock.name() })
        .int("procs", a.procs)
        .int("trials_per_proc", a.n)
        .num("seconds", wall)
        .num("trials_per_s", total as f64 / wall)
        .num("ops_per_s", (OPS_PER_TRIAL * total) as f64 / wall)
        .nums("worker_seconds", &worker_seconds)
        .num("slowest_over_fastest", slowest / fastest)
        .int("n_trials_read", check.read)
        .int("n_complete", check.complete)
        .bool("numbers_unique_0_to_n", check.numbers_ok)
        .bool("ok", check.ok)
        .int("file_bytes", size)
        .print();
    if check.ok {
        Ok(())
    } else {
        Err(CliError::at(
            path,
            format!(
                "W3 verification failed: {} trials read, {} COMPLETE, numbers 0..{total} each once: {}",
                check.read, check.complete, check.numbers_ok
            ),
        ))
    }
}

/// Starts the workers, waits until all are ready, gives the go signal and collects their times.
/// Returns the go time and each worker's report.
fn race(a: &W3Args, path: &Path, sync: &Path) -> Result<(f64, Vec<WorkerTimes>), CliError> {
    let exe = std::env::current_exe().map_err(|e| CliError::msg(format!("current exe: {e}")))?;
    let go = sync.join("go");
    let seed = a.seed.unwrap_or_else(Rng::fresh_seed);
    let mut children: Vec<(PathBuf, Child)> = Vec::new();
    let stop = |children: &mut Vec<(PathBuf, Child)>, e: CliError| {
        for (_, child) in children.iter_mut() {
            let _ = child.kill();
            let _ = child.wait();
        }
        e
    };
    for i in 0..a.procs {
        let ready = sync.join(format!("ready{i}"));
        let spawned = Command::new(&exe)
            .args(["bench", "w3-worker", "--journal"])
            .arg(path)
            .args(["--n", &a.n.to_string(), "--seed", &seed.wrapping_add(i).to_string()])
            .args(["--lock", a.lock.name(), "--ready"])
            .arg(&ready)
            .arg("--go")
            .arg(&go)
            .stdout(Stdio::piped())
            .spawn();
        match spawned {
            Ok(child) => children.push((ready, child)),
            Err(e) => {
                let e = CliError::msg(format!("{}: starting worker {i}: {e}", exe.display()));
                return Err(stop(&mut children, e));
            }
        }
    }
    let deadline = Instant::now() + START_TIMEOUT;
    while !children.iter().all(|(ready, _)| ready.exists()) {
        let exited = children.iter_mut().any(|(_, c)| matches!(c.try_wait(), Ok(Some(_))));
        if exited || Instant::now() > deadline {
            let e = CliError::at(path, "w3 workers failed to start");
            return Err(stop(&mut children, e));
        }
        sleep(Duration::from_millis(5));
    }
    let t0 = now();
    if let Err(e) = std::fs::File::create(&go) {
        return Err(stop(&mut children, CliError::at(&go, e)));
    }
    let mut times = Vec::with_capacity(children.len());
    let mut failure = None;
    for (i, (_, child)) in children.into_iter().enumerate() {
        let report = match child.wait_with_output() {
            Ok(out) if out.status.success() => {
                let text = String::from_utf8_lossy(&out.stdout);
                let last = text.lines().last().unwrap_or("");
                match (field_f64(last, "end"), field_f64(last, "seconds")) {
                    (Some(end), Some(seconds)) => Ok(WorkerTimes { end, seconds }),
                    _ => Err(format!("printed no timing line: {last:?}")),
                }
            }
            Ok(out) => Err(format!("exited with {}", out.status)),
            Err(e) => Err(e.to_string()),
        };
        match report {
            Ok(t) => times.push(t),
            Err(why) => {
                failure.get_or_insert_with(|| CliError::at(path, format!("w3 worker {i} {why}")));
            }
        }
    }
    match failure {
        Some(e) => Err(e),
        None => Ok((t0, times)),
    }
}

/// What the parent reads back after the race.
struct Check {
    read: u64,
    complete: u64,
    numbers_ok: bool,
    ok: bool,
}

/// Reads the journal back: `total` trials, all COMPLETE, numbers exactly 0..total-1.
fn verify(path: &Path, lock: LockArg, total: u64) -> Result<Check, CliError> {
    let err = |e: trialog::Error| CliError::lib(path, e);
    match redis_url(path) {
        Some(url) => check(&JournalStorage::open_url(&url).map_err(err)?, total),
        None => {
            check(&JournalStorage::open_with(path, &lock.file_options(false)).map_err(err)?, total)
        }
    }
    .map_err(err)
}

/// [`verify`] on an open storage.
fn check<B: LogBackend>(storage: &JournalStorage<B>, total: u64) -> trialog::Result<Check> {
    let study = storage.get_study_id_from_name(STUDY)?;
    let trials = storage.get_all_trials(study, None)?;
    let mut numbers: Vec<u64> = trials.iter().map(|t| t.number).collect();
    numbers.sort_unstable();
    let numbers_ok = numbers.iter().copied().eq(0..total);
    let read = trials.len() as u64;
    let complete = trials.iter().filter(|t| t.state == TrialState::Complete).count() as u64;
    let ok = read == total && complete == total && numbers_ok;
    Ok(Check { read, complete, numbers_ok, ok })
}

/// The worker: open, signal ready, wait for go, write N trials, print `{end, seconds, start}`.
pub fn worker(a: &WorkerArgs) -> Result<(), CliError> {
    let path = &a.journal;
    let err = |e: trialog::Error| CliError::lib(path, e);
    match redis_url(path) {
        Some(url) => timed_worker(a, &JournalStorage::open_url(&url).map_err(err)?),
        None => timed_worker(
            a,
            &JournalStorage::open_with(path, &a.lock.file_options(false)).map_err(err)?,
        ),
    }
}

/// [`worker`] on an open storage.
fn timed_worker<B: LogBackend>(
    a: &WorkerArgs,
    storage: &JournalStorage<B>,
) -> Result<(), CliError> {
    let err = |e: trialog::Error| CliError::lib(&a.journal, e);
    let study = storage.get_study_id_from_name(STUDY).map_err(err)?;
    let dist = xy_distribution();
    let mut rng = Rng::new(a.seed);
    std::fs::File::create(&a.ready).map_err(|e| CliError::at(&a.ready, e))?;
    let deadline = Instant::now() + START_TIMEOUT;
    while !a.go.exists() {
        if Instant::now() > deadline {
            return Err(CliError::at(&a.go, "no go signal in time"));
        }
        sleep(Duration::from_micros(500));
    }
    let start = now();
    for _ in 0..a.n {
        one_trial(storage, study, &dist, &mut rng).map_err(err)?;
    }
    let end = now();
    JsonLine::new().num("start", start).num("end", end).num("seconds", end - start).print();
    Ok(())
}
