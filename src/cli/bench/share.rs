//! The trialog side of `bench/optuna_share.py`: one writer process that optimizes a study with a
//! zero-time objective on an Optuna JSON-lines journal (Optuna's lock protocol) for a fixed
//! time, beside Python Optuna writers, and prints how many trials it finished.

use std::path::PathBuf;
use std::sync::Arc;
use std::thread::sleep;
use std::time::{Duration, Instant};

use clap::{Args, ValueEnum};
use trialog::backend::OptunaFileOptions;
use trialog::lock::{OptunaLockKind, OptunaLockOptions};
use trialog::study::{RandomSampler, Study};
use trialog::{Error, JournalStorage, StudyDirection};

use super::json::JsonLine;
use crate::cli::CliError;

/// How long the worker waits for the go signal.
const START_TIMEOUT: Duration = Duration::from_secs(120);

/// Optuna's two lock classes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, ValueEnum)]
pub enum OptunaLockArg {
    /// `JournalFileSymlinkLock` (Optuna's default).
    #[default]
    Symlink,
    /// `JournalFileOpenLock`.
    Open,
}

/// Arguments of the hidden `trialog bench optuna-worker`.
#[derive(Debug, Args)]
pub struct OptunaWorkerArgs {
    /// The Optuna journal (created if missing).
    #[arg(long)]
    pub journal: PathBuf,
    /// The study to create or load (minimize).
    #[arg(long)]
    pub study: String,
    /// How long to run trials after the go signal.
    #[arg(long)]
    pub seconds: f64,
    /// File to create once the study is loaded.
    #[arg(long)]
    pub ready: PathBuf,
    /// File whose appearance starts the timed loop.
    #[arg(long)]
    pub go: PathBuf,
    /// Optuna's lock class (every writer of the file must use the same).
    #[arg(long, value_enum, default_value_t)]
    pub lock: OptunaLockArg,
    /// Seed of the random sampler.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
}

/// Runs trials of `x²` (`x` uniform in [-10, 10]) until the time is up; prints
/// `{"complete": .., "seconds": .., "trials": ..}`.
pub fn worker(a: &OptunaWorkerArgs) -> Result<(), CliError> {
    let path = &a.journal;
    let err = |e: Error| CliError::lib(path, e);
    let kind = match a.lock {
        OptunaLockArg::Symlink => OptunaLockKind::Symlink,
        OptunaLockArg::Open => OptunaLockKind::OpenFile,
    };
    let options = OptunaFileOptions {
        lock: OptunaLockOptions { kind, ..OptunaLockOptions::default() },
        ..OptunaFileOptions::default()
    };
    let storage = Arc::new(JournalStorage::open_optuna_with(path, &options).map_err(err)?);
    let sampler = Arc::new(RandomSampler::new(Some(a.seed)));
    let study = Study::create_or_load(storage, &a.study, &[StudyDirection::Minimize], sampler)
        .map_err(err)?;
    std::fs::File::create(&a.ready).map_err(|e| CliError::at(&a.ready, e))?;
    let deadline = Instant::now() + START_TIMEOUT;
    while !a.go.exists() {
        if Instant::now() > deadline {
            return Err(CliError::at(&a.go, "no go signal in time"));
        }
        sleep(Duration::from_micros(500));
    }
    let start = Instant::now();
    let run_for = Duration::try_from_secs_f64(a.seconds)
        .map_err(|e| CliError::msg(format!("--seconds {}: {e}", a.seconds)))?;
    let report = study
        .optimize(None, Some(run_for), |t| {
            let x = t.suggest_float("x", -10.0, 10.0)?;
            Ok(x * x)
        })
        .map_err(err)?;
    JsonLine::new()
        .int("trials", report.trials as u64)
        .int("complete", report.complete as u64)
        .num("seconds", start.elapsed().as_secs_f64())
        .print();
    Ok(())
}
