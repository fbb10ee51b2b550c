//! `trialog demo`: the README's main job. Several worker processes (this binary again, as the
//! hidden `trialog demo-worker`) run TPE (Optuna's default sampler) on Himmelblau's function
//! through one journal file, while this process follows their progress by reading the same file.
//! The journal may also be a Redis URL (`redis://host:port/db?prefix=NAME`, `docs/REDIS.md`): the
//! workers then share the study on that server (without heartbeats, which Optuna's key layout
//! cannot hold).

use std::io::{BufRead, BufReader, IsTerminal};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use trialog::study::{Study, TpeSampler};
use trialog::{
    Error, FrozenTrial, HeartbeatOptions, JournalStorage, LogBackend, ParamValue, StudyDirection,
    TrialState,
};

use super::format::count;
use super::{CliError, invocation, logging};

/// The study every demo run adds to.
pub const STUDY: &str = "demo";
/// Workers record a heartbeat this often while a trial runs...
const HEARTBEAT: Duration = Duration::from_secs(1);
/// ...and a RUNNING trial whose heartbeat is older than this (a worker that was killed, e.g. by
/// Ctrl-C on an earlier run) is failed by the next run.
const GRACE: Duration = Duration::from_secs(5);
/// How often the progress is refreshed.
const POLL: Duration = Duration::from_millis(100);
/// Rows of the final table.
const TOP: usize = 5;

/// Arguments of `trialog demo`.
#[derive(Debug, Args)]
pub struct DemoArgs {
    /// The journal file (created if missing; an existing one gets more trials).
    #[arg(default_value = "./trialog-demo.journal")]
    pub journal: PathBuf,
    /// Worker processes.
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u32).range(1..=256))]
    pub workers: u32,
    /// Trials to run in total, shared among the workers.
    #[arg(long, default_value_t = 200, value_parser = clap::value_parser!(u32).range(1..))]
    pub trials: u32,
    /// Simulated cost of one objective evaluation, in milliseconds.
    #[arg(long, default_value_t = 20)]
    pub work_ms: u64,
}

/// Arguments of the hidden `trialog demo-worker`.
#[derive(Debug, Args)]
pub struct WorkerArgs {
    /// The journal file.
    #[arg(long)]
    journal: PathBuf,
    /// Trials this worker runs.
    #[arg(long)]
    trials: usize,
    /// Simulated objective cost in milliseconds.
    #[arg(long)]
    work_ms: u64,
}

/// Himmelblau's function: four global minima with value 0, e.g. at (3, 2).
pub fn himmelblau(x: f64, y: f64) -> f64 {
    (x * x + y - 11.0).powi(2) + (x + y * y - 7.0).powi(2)
}

fn heartbeat_storage(path: &Path) -> Result<JournalStorage, CliError> {
    let options = HeartbeatOptions { interval: HEARTBEAT, grace_period: GRACE };
    Ok(JournalStorage::open(path).map_err(|e| CliError::lib(path, e))?.with_heartbeat(options))
}

/// The Redis URL `path` spells, if it is one.
fn redis_url(path: &Path) -> Option<String> {
    match trialog::location::Location::parse(path.as_os_str()) {
        trialog::location::Location::Redis(url) => Some(url),
        _ => None,
    }
}

/// The demo's journal on Redis (no heartbeats: Optuna's key layout cannot hold them).
fn redis_storage(
    path: &Path,
    url: &str,
) -> Result<JournalStorage<trialog::RedisBackend>, CliError> {
    JournalStorage::open_url(url).map_err(|e| CliError::lib(path, e))
}

/// One worker: loads the study and runs its share of trials, then prints `ran <n> <complete>`.
pub fn worker(args: &WorkerArgs) -> Result<(), CliError> {
    match redis_url(&args.journal) {
        Some(url) => worker_on(args, redis_storage(&args.journal, &url)?),
        None => worker_on(args, heartbeat_storage(&args.journal)?),
    }
}

fn worker_on<B: LogBackend>(args: &WorkerArgs, storage: JournalStorage<B>) -> Result<(), CliError> {
    let path = &args.journal;
    let lib = |e| CliError::lib(path, e);
    let storage = Arc::new(storage);
    let study = Study::load(storage, STUDY, Arc::new(TpeSampler::new(None))).map_err(lib)?;
    let work = Duration::from_millis(args.work_ms);
    let report = study
        .optimize(Some(args.trials), None, |trial| {
            let x = trial.suggest_float("x", -5.0, 5.0)?;
            let y = trial.suggest_float("y", -5.0, 5.0)?;
            std::thread::sleep(work / 2);
            trial.report(0, himmelblau(x, 0.0) + himmelblau(0.0, y))?;
            std::thread::sleep(work - work / 2);
            Ok(himmelblau(x, y))
        })
        .map_err(lib)?;
    println!("ran {} {}", report.trials, report.complete);
    Ok(())
}

/// A started worker process.
struct Worker {
    index: u32,
    trials: u32,
    child: Child,
}

/// Runs the demo: prepares the study, starts the workers, follows them, prints the result.
pub fn run(args: &DemoArgs) -> Result<(), CliError> {
    match redis_url(&args.journal) {
        Some(url) => run_on(args, redis_storage(&args.journal, &url)?),
        None => run_on(args, heartbeat_storage(&args.journal)?),
    }
}

fn run_on<B: LogBackend>(args: &DemoArgs, storage: JournalStorage<B>) -> Result<(), CliError> {
    let path = &args.journal;
    let lib = |e| CliError::lib(path, e);
    let storage = Arc::new(storage);
    let sampler = Arc::new(TpeSampler::new(None));
    let study =
        Study::create_or_load(Arc::clone(&storage), STUDY, &[StudyDirection::Minimize], sampler)
            .map_err(lib)?;
    let stale = storage.fail_stale_trials(study.id(), GRACE).map_err(lib)?;
    let before = finished(&study).map_err(lib)?;
    println!(
        "trialog demo: {} sharing {} (study {STUDY:?}, {} so far)",
        count(args.workers.into(), "worker process"),
        path.display(),
        count(before as u64, "finished trial")
    );
    println!(
        "Each runs TPE on Himmelblau's function over [-5, 5]^2 (minimum 0); {} in all.",
        count(args.trials.into(), "trial")
    );
    if !stale.is_empty() {
        println!(
            "Marked FAIL {} left RUNNING by workers of an earlier run that died.",
            count(stale.len() as u64, "trial")
        );
    }

    let started = Instant::now();
    let mut workers = start_workers(args)?;
    for w in &workers {
        println!(
            "  worker {} (pid {}): {}",
            w.index,
            w.child.id(),
            count(w.trials.into(), "trial")
        );
    }
    let progress = Progress::new(u64::from(args.trials));
    let mut outputs = Vec::new();
    let mut failed_workers = Vec::new();
    while !workers.is_empty() {
        std::thread::sleep(POLL);
        let done = finished(&study).map_err(lib)?.saturating_sub(before);
        progress.set(done as u64);
        let mut still = Vec::new();
        for mut w in workers {
            match w.child.try_wait() {
                Ok(None) => still.push(w),
                Ok(Some(status)) => {
                    let line = read_line(&mut w.child);
                    if status.success() {
                        outputs.push((w.index, line));
                    } else {
                        failed_workers.push(format!("worker {} exited with {status}", w.index));
                    }
                }
                Err(e) => failed_workers.push(format!("worker {}: {e}", w.index)),
            }
        }
        workers = still;
    }
    let elapsed = started.elapsed();
    let done = finished(&study).map_err(lib)?.saturating_sub(before);
    progress.finish(done as u64);

    outputs.sort();
    for (index, line) in &outputs {
        let mut parts = line.split_whitespace().skip(1).map(|n| n.parse::<u64>().ok());
        match (parts.next().flatten(), parts.next().flatten()) {
            (Some(ran), Some(complete)) => {
                println!("  worker {index}: ran {}, {complete} complete", count(ran, "trial"));
            }
            _ => println!("  worker {index}: reported {line:?}"),
        }
    }
    println!(
        "{} finished in {:.2} s ({:.0} trials/s, all durable in one journal).",
        count(done as u64, "trial"),
        elapsed.as_secs_f64(),
        done as f64 / elapsed.as_secs_f64().max(1e-9)
    );
    summary(&study, path)?;
    if !failed_workers.is_empty() {
        return Err(CliError::msg(failed_workers.join("; ")));
    }
    Ok(())
}

fn start_workers(args: &DemoArgs) -> Result<Vec<Worker>, CliError> {
    let exe = std::env::current_exe()
        .map_err(|e| CliError::msg(format!("cannot find this program: {e}")))?;
    let mut workers = Vec::new();
    for index in 1..=args.workers {
        // Spread the trials as evenly as possible: the first `trials % workers` get one more.
        let share = args.trials / args.workers + u32::from(index <= args.trials % args.workers);
        if share == 0 {
            continue;
        }
        let child = Command::new(&exe)
            .arg("demo-worker")
            .arg("--journal")
            .arg(&args.journal)
            .arg("--trials")
            .arg(share.to_string())
            .arg("--work-ms")
            .arg(args.work_ms.to_string())
            // The workers log what this process logs (`-q` quiets them too).
            .env(logging::ENV, logging::installed())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .spawn()
            .map_err(|e| CliError::msg(format!("cannot start worker {index}: {e}")))?;
        workers.push(Worker { index, trials: share, child });
    }
    Ok(workers)
}

/// The first stdout line of an exited worker.
fn read_line(child: &mut Child) -> String {
    let mut line = String::new();
    if let Some(out) = child.stdout.take() {
        let _ = BufReader::new(out).read_line(&mut line);
    }
    line.trim().to_owned()
}

/// How many trials of the study are finished (COMPLETE, PRUNED or FAIL), counted without
/// copying the trial list (the progress poll runs this ten times a second).
fn finished<B: LogBackend>(study: &Study<JournalStorage<B>>) -> trialog::Result<usize> {
    let finished = [TrialState::Complete, TrialState::Pruned, TrialState::Fail];
    study.storage().get_n_trials(study.id(), Some(&finished))
}

/// A progress bar on a terminal; a line at every quarter otherwise (logs, CI).
struct Progress {
    bar: Option<ProgressBar>,
    total: u64,
    shown: std::cell::Cell<u64>,
}

impl Progress {
    fn new(total: u64) -> Self {
        let bar = std::io::stderr().is_terminal().then(|| {
            let bar = ProgressBar::new(total);
            let noun = if total == 1 { "trial" } else { "trials" };
            let style = ProgressStyle::with_template(&format!(
                "  [{{elapsed_precise}}] {{bar:40.cyan/blue}} {{pos}}/{{len}} {noun} (eta {{eta}})"
            ))
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> ");
            bar.set_style(style);
            bar
        });
        Progress { bar, total, shown: std::cell::Cell::new(0) }
    }

    fn set(&self, done: u64) {
        let done = done.min(self.total);
        match &self.bar {
            Some(bar) => bar.set_position(done),
            None => {
                let quarter = |n: u64| n * 4 / self.total.max(1);
                if quarter(done) > quarter(self.shown.get()) {
                    println!("  progress: {done}/{}", count(self.total, "trial"));
                    self.shown.set(done);
                }
            }
        }
    }

    /// Shows the final count and ends the bar's line, so what is printed next starts a line of
    /// its own (indicatif leaves the cursor at the end of the bar).
    fn finish(&self, done: u64) {
        self.set(done);
        if let Some(bar) = &self.bar {
            bar.finish();
            eprintln!();
        }
    }
}

/// The best trial, the top of the table and the counts by state.
fn summary<B: LogBackend>(study: &Study<JournalStorage<B>>, path: &Path) -> Result<(), CliError> {
    let lib = |e| CliError::lib(path, e);
    let trials = study.trials(None).map_err(lib)?;
    let mut counts = Vec::new();
    for state in TrialState::ALL {
        let n = trials.iter().filter(|t| t.state == state).count();
        if n > 0 {
            counts.push(format!("{n} {}", state.name()));
        }
    }
    println!(
        "Study {STUDY:?} now has {} ({}).",
        count(trials.len() as u64, "trial"),
        counts.join(", ")
    );
    let best = match study.best_trial() {
        Ok(best) => best,
        Err(Error::NoCompletedTrials { .. }) => {
            println!("No trial has completed yet.");
            return Ok(());
        }
        Err(e) => return Err(lib(e)),
    };
    println!(
        "Best trial: #{} value {:.6} at {} (the minimum is 0)",
        best.number,
        best.value().unwrap_or(f64::NAN),
        params_text(&best)
    );
    let mut complete: Vec<_> = trials.iter().filter(|t| t.state == TrialState::Complete).collect();
    complete
        .sort_by(|a, b| a.value().unwrap_or(f64::NAN).total_cmp(&b.value().unwrap_or(f64::NAN)));
    println!("Top {}:", count(TOP.min(complete.len()) as u64, "trial"));
    println!("  {:>6}  {:>12}  {:>9}  {:>9}", "number", "value", "x", "y");
    for t in complete.iter().take(TOP) {
        let p = |name: &str| match t.params.get(name) {
            Some(ParamValue::Float(v)) => format!("{v:.4}"),
            Some(other) => other.to_string(),
            None => "-".to_owned(),
        };
        println!(
            "  {:>6}  {:>12.6}  {:>9}  {:>9}",
            t.number,
            t.value().unwrap_or(f64::NAN),
            p("x"),
            p("y")
        );
    }
    let journal = path.to_string_lossy();
    println!(
        "Run it again to add trials to the same study; inspect it with `{}`.",
        invocation::command(&["trials", &journal, "--study", STUDY])
    );
    Ok(())
}

fn params_text(t: &FrozenTrial) -> String {
    let parts: Vec<String> = t
        .params
        .iter()
        .map(|(name, value)| match value {
            ParamValue::Float(v) => format!("{name} = {v:.4}"),
            other => format!("{name} = {other}"),
        })
        .collect();
    parts.join(", ")
}
