//! Several worker processes optimize one study together through one journal file.
//!
//! ```text
//! cargo run --release --example optimize -- [--workers 4] [--trials 50] [--journal ./trialog-demo.journal]
//! ```
//!
//! The parent process creates the study "demo" (or loads it if the journal already has it),
//! then starts `--workers` copies of this program as separate processes (with the hidden
//! `--worker` flag). Each worker runs `--trials` trials of a simple random search on
//! Himmelblau's function, recording every trial in the shared journal the way Optuna does:
//! create the trial, set its parameters, report an intermediate value, complete it with its
//! value. Half of the time a worker samples near the best trial found so far by *any* worker:
//! every read sees what the other processes appended. Finally the parent prints how many trials
//! are in each state and the best one. Running the example again continues the same study.

use std::path::PathBuf;
use std::process::{Command, ExitCode, Stdio};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use trialog::{Distribution, Error, JournalStorage, ParamValue, StudyDirection, TrialState};

/// The study all workers share.
const STUDY: &str = "demo";
/// Both parameters range over [-5, 5].
const LOW: f64 = -5.0;
const HIGH: f64 = 5.0;

/// Himmelblau's function: four global minima with value 0, e.g. at (3, 2).
fn himmelblau(x: f64, y: f64) -> f64 {
    (x * x + y - 11.0).powi(2) + (x + y * y - 7.0).powi(2)
}

/// Command-line options.
struct Options {
    workers: u32,
    trials: u32,
    journal: PathBuf,
    /// Set in the worker processes the parent starts.
    worker: Option<u32>,
}

fn main() -> ExitCode {
    let result = parse_args().and_then(|opts| match opts.worker {
        Some(index) => run_worker(&opts, index),
        None => run_parent(&opts),
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("optimize: {message}");
            ExitCode::FAILURE
        }
    }
}

fn parse_args() -> Result<Options, String> {
    let mut opts =
        Options { workers: 4, trials: 50, journal: "./trialog-demo.journal".into(), worker: None };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = |name: &str| args.next().ok_or(format!("{name} needs a value"));
        match arg.as_str() {
            "--workers" => opts.workers = number(&value("--workers")?, "--workers")?,
            "--trials" => opts.trials = number(&value("--trials")?, "--trials")?,
            "--journal" => opts.journal = value("--journal")?.into(),
            "--worker" => opts.worker = Some(number(&value("--worker")?, "--worker")?),
            "-h" | "--help" => {
                println!(
                    "usage: optimize [--workers N (4)] [--trials M per worker (50)] \
                     [--journal PATH (./trialog-demo.journal)]"
                );
                std::process::exit(0);
            }
            other => return Err(format!("unknown argument {other:?} (try --help)")),
        }
    }
    Ok(opts)
}

fn number(text: &str, name: &str) -> Result<u32, String> {
    text.parse().map_err(|_| format!("{name} expects a whole number, got {text:?}"))
}

/// Formats a library error with the journal it concerns.
fn failed(opts: &Options, e: Error) -> String {
    format!("{}: {e}", opts.journal.display())
}

// ---- parent ---------------------------------------------------------------------------------

fn run_parent(opts: &Options) -> Result<(), String> {
    let storage = JournalStorage::open(&opts.journal).map_err(|e| failed(opts, e))?;
    let study = match storage.get_study_id_from_name(STUDY) {
        Ok(id) => id,
        Err(Error::StudyNameNotFound { .. }) => storage
            .create_new_study(&[StudyDirection::Minimize], Some(STUDY))
            .map_err(|e| failed(opts, e))?,
        Err(e) => return Err(failed(opts, e)),
    };
    let before = storage.get_n_trials(study, None).map_err(|e| failed(opts, e))?;
    println!("Minimizing Himmelblau's function f(x, y) over [-5, 5]^2 (best possible value: 0).");
    println!("Journal {}: study {STUDY:?} has {before} trials so far.", opts.journal.display());
    println!(
        "Starting {} worker processes, {} trials each, all writing to that one file...",
        opts.workers, opts.trials
    );

    let exe = std::env::current_exe().map_err(|e| format!("cannot find this program: {e}"))?;
    let started = Instant::now();
    let mut children = Vec::new();
    for index in 0..opts.workers {
        let child = Command::new(&exe)
            .arg("--worker")
            .arg(index.to_string())
            .arg("--trials")
            .arg(opts.trials.to_string())
            .arg("--journal")
            .arg(&opts.journal)
            .stdout(Stdio::piped())
            .spawn()
            .map_err(|e| format!("cannot start worker {index}: {e}"))?;
        children.push(child);
    }
    let mut failures = 0;
    for (index, child) in children.into_iter().enumerate() {
        match child.wait_with_output() {
            Ok(out) if out.status.success() => print!("{}", String::from_utf8_lossy(&out.stdout)),
            Ok(out) => {
                failures += 1;
                println!("  worker {index} failed ({})", out.status);
            }
            Err(e) => {
                failures += 1;
                println!("  worker {index} could not be waited for: {e}");
            }
        }
    }
    println!("All workers done in {:.2} s.", started.elapsed().as_secs_f64());

    report(opts, &storage, study)?;
    if failures > 0 {
        return Err(format!("{failures} worker(s) failed"));
    }
    Ok(())
}

/// Prints the trial counts per state and the best trial.
fn report<B: trialog::LogBackend>(
    opts: &Options,
    storage: &JournalStorage<B>,
    study: u64,
) -> Result<(), String> {
    let total = storage.get_n_trials(study, None).map_err(|e| failed(opts, e))?;
    println!();
    println!("Study {STUDY:?} now has {total} trials:");
    for state in TrialState::ALL {
        let n = storage.get_n_trials(study, Some(&[state])).map_err(|e| failed(opts, e))?;
        if n > 0 {
            println!("  {:<9} {n}", state.name());
        }
    }
    match storage.get_best_trial(study) {
        Ok(best) => {
            let params: Vec<String> = best
                .params
                .iter()
                .map(|(name, value)| match value {
                    ParamValue::Float(v) => format!("{name} = {v:.4}"),
                    other => format!("{name} = {other}"),
                })
                .collect();
            println!(
                "Best trial: number {} with value {:.6} at {}",
                best.number,
                best.value().unwrap_or(f64::NAN),
                params.join(", ")
            );
        }
        Err(Error::NoCompletedTrials { .. }) => println!("No trial has completed yet."),
        Err(e) => return Err(failed(opts, e)),
    }
    println!(
        "Run the example again to add trials to the same study; delete {} to start over.",
        opts.journal.display()
    );
    Ok(())
}

// ---- worker ---------------------------------------------------------------------------------

fn run_worker(opts: &Options, index: u32) -> Result<(), String> {
    let storage = JournalStorage::open(&opts.journal).map_err(|e| failed(opts, e))?;
    let study = storage.get_study_id_from_name(STUDY).map_err(|e| failed(opts, e))?;
    let dist = Distribution::float(LOW, HIGH, false, None).map_err(|e| failed(opts, e))?;
    let mut rng = Rng::seeded(index);
    let started = Instant::now();
    let mut my_best = f64::INFINITY;
    for _ in 0..opts.trials {
        let trial = storage.create_new_trial(study, None).map_err(|e| failed(opts, e))?;
        let (x, y) = propose(&storage, study, &mut rng);
        storage.set_trial_param(trial, "x", x, &dist).map_err(|e| failed(opts, e))?;
        storage.set_trial_param(trial, "y", y, &dist).map_err(|e| failed(opts, e))?;
        let value = himmelblau(x, y);
        // A real objective would report progress at several steps (epochs); a pruner compares
        // these intermediate values between trials to stop hopeless ones early.
        storage.set_trial_intermediate_value(trial, 0, value).map_err(|e| failed(opts, e))?;
        storage
            .set_trial_state_values(trial, TrialState::Complete, Some(&[value]))
            .map_err(|e| failed(opts, e))?;
        my_best = my_best.min(value);
    }
    println!(
        "  worker {index} (pid {}): {} trials in {:.2} s, its best value {my_best:.6}",
        std::process::id(),
        opts.trials,
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// Random search: half of the time a uniform point, otherwise a point near the best trial of
/// the whole study so far (whichever worker found it).
fn propose<B: trialog::LogBackend>(
    storage: &JournalStorage<B>,
    study: u64,
    rng: &mut Rng,
) -> (f64, f64) {
    if rng.unit() < 0.5 {
        let best = storage.get_best_trial(study).ok();
        let center = best.as_ref().and_then(|b| match (b.params.get("x"), b.params.get("y")) {
            (Some(ParamValue::Float(x)), Some(ParamValue::Float(y))) => Some((*x, *y)),
            _ => None,
        });
        if let Some((bx, by)) = center {
            let step = 0.3;
            let x = (bx + rng.unit() * 2.0 * step - step).clamp(LOW, HIGH);
            let y = (by + rng.unit() * 2.0 * step - step).clamp(LOW, HIGH);
            return (x, y);
        }
    }
    (LOW + (HIGH - LOW) * rng.unit(), LOW + (HIGH - LOW) * rng.unit())
}

/// A tiny xorshift64* random number generator (no dependency needed for a demo).
struct Rng(u64);

impl Rng {
    /// Seeded from the clock, the process id and the worker index.
    fn seeded(index: u32) -> Self {
        let nanos = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_nanos());
        let seed = (nanos as u64) ^ (u64::from(std::process::id()) << 32) ^ u64::from(index);
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    /// A float uniform in [0, 1).
    fn unit(&mut self) -> f64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        (self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 11) as f64 / (1u64 << 53) as f64
    }
}
