//! W2 cold replay: `w2-build` writes an N-trial journal of the W1 shape; `w2` times opening it
//! and reading every trial in a fresh process, and reports peak RSS. `w2 --format optuna`
//! replays an Optuna JSON-lines journal instead (the file `bench.py w2-build` writes for the
//! peers), so trialog and the peers can be timed on the same bytes.

use std::path::PathBuf;
use std::time::Instant;

use clap::{Args, ValueEnum};
use trialog::backend::OptunaFileOptions;
use trialog::{JournalStorage, LogBackend, MemoryBackend};

use super::files::{LockArg, file_bytes, redis_url, remove_journal, write_durably};
use super::json::JsonLine;
use super::rusage::rss_peak_mib;
use super::shape::{OPS_PER_TRIAL, Rng, STUDY, create_study, one_trial, xy_distribution};
use crate::cli::CliError;

/// Arguments of `trialog bench w2-build`.
#[derive(Debug, Args)]
pub struct BuildArgs {
    /// Trials to write.
    #[arg(long)]
    pub n: u64,
    /// The journal to write (replaced if it exists).
    #[arg(long)]
    pub journal: PathBuf,
    /// Seed of the parameter values (default: from time and pid).
    #[arg(long)]
    pub seed: Option<u64>,
}

/// The journal formats `w2` replays.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, ValueEnum)]
pub enum ReplayFormat {
    /// trialog's own format (from `trialog bench w2-build`).
    #[default]
    Trialog,
    /// Optuna's JSON-lines journal (from `bench.py w2-build`), through trialog's Optuna backend.
    Optuna,
}

impl ReplayFormat {
    fn name(self) -> &'static str {
        match self {
            ReplayFormat::Trialog => "trialog",
            ReplayFormat::Optuna => "optuna",
        }
    }
}

/// Arguments of `trialog bench w2`.
#[derive(Debug, Args)]
pub struct W2Args {
    /// The journal to replay (from `w2-build`, or `bench.py w2-build` with `--format optuna`), or
    /// a Redis journal (`redis://host:port/db?prefix=NAME`, any format given is ignored).
    #[arg(long)]
    pub journal: PathBuf,
    /// The journal's format.
    #[arg(long, value_enum, default_value_t)]
    pub format: ReplayFormat,
    /// Expected number of trials; the run fails if the journal holds another number.
    #[arg(long)]
    pub n: Option<u64>,
}

/// Builds the journal through the storage API over an in-memory backend (no per-append fsync),
/// then writes its bytes (the file backend's format) once, durably.
pub fn build(a: &BuildArgs) -> Result<(), CliError> {
    let err = |e: trialog::Error| CliError::lib(&a.journal, e);
    let t0 = Instant::now();
    let storage = JournalStorage::new(MemoryBackend::new()).map_err(err)?;
    let study = create_study(&storage).map_err(err)?;
    let dist = xy_distribution();
    let mut rng = Rng::new(a.seed.unwrap_or_else(Rng::fresh_seed));
    for _ in 0..a.n {
        one_trial(&storage, study, &dist, &mut rng).map_err(err)?;
    }
    let bytes = storage.backend().to_bytes();
    remove_journal(&a.journal)?;
    write_durably(&a.journal, &bytes)?;
    JsonLine::new()
        .str("w", "w2-build")
        .str("backend", "trialog")
        .str("out", &a.journal.display().to_string())
        .int("n_trials", a.n)
        .int("records", 1 + OPS_PER_TRIAL * a.n)
        .int("file_bytes", file_bytes(&a.journal)?)
        .num("build_seconds", t0.elapsed().as_secs_f64())
        .print();
    Ok(())
}

/// One cold replay in this process: open the storage, then `get_all_trials` of the study.
pub fn replay(a: &W2Args) -> Result<(), CliError> {
    let path = &a.journal;
    let rss_before = rss_peak_mib();
    let redis = redis_url(path);
    let (t0, t1, t2, n, from, rss_open) = match a.format {
        _ if redis.is_some() => {
            timed_replay(path, || JournalStorage::open_url(redis.as_deref().unwrap_or_default()))?
        }
        ReplayFormat::Trialog => timed_replay(path, || {
            JournalStorage::open_with(path, &LockArg::default().file_options(false))
        })?,
        ReplayFormat::Optuna => timed_replay(path, || {
            let options = OptunaFileOptions { create: false, ..OptunaFileOptions::default() };
            JournalStorage::open_optuna_with(path, &options)
        })?,
    };
    if let Some(expected) = a.n.filter(|e| *e != n) {
        return Err(CliError::at(path, format!("holds {n} trials, {expected} expected")));
    }
    let size = if redis.is_some() { 0 } else { file_bytes(path)? };
    let seconds = (t2 - t0).as_secs_f64();
    JsonLine::new()
        .str("w", "w2")
        .str("backend", "trialog")
        .str("format", if redis.is_some() { "redis" } else { a.format.name() })
        .int("n_trials", n)
        .int("file_bytes", size)
        .int("replayed_from", from)
        .num("open_s", (t1 - t0).as_secs_f64())
        .num("get_all_s", (t2 - t1).as_secs_f64())
        .num("seconds", seconds)
        .num("trials_per_s", n as f64 / seconds)
        .num("mib_per_s", size as f64 / f64::from(1 << 20) / seconds)
        .num("rss_before_mib", rss_before)
        .num("rss_open_mib", rss_open)
        .num("rss_peak_mib", rss_peak_mib())
        .print();
    Ok(())
}

/// Opens the storage with `open` and reads all trials of the study. Returns the start, the time
/// the storage was open, the end, the number of trials, the journal position replay started
/// from (a snapshot's covered end, or 0), and the peak RSS (MiB) once the storage was open.
fn timed_replay<B: LogBackend>(
    path: &std::path::Path,
    open: impl FnOnce() -> trialog::Result<JournalStorage<B>>,
) -> Result<(Instant, Instant, Instant, u64, u64, f64), CliError> {
    let err = |e: trialog::Error| CliError::lib(path, e);
    let t0 = Instant::now();
    let storage = open().map_err(err)?;
    let t1 = Instant::now();
    let rss_open = rss_peak_mib();
    let study = storage.get_study_id_from_name(STUDY).map_err(err)?;
    let trials = storage.get_all_trials(study, None).map_err(err)?;
    let t2 = Instant::now();
    let from = storage.opened_from_snapshot().unwrap_or(0);
    Ok((t0, t1, t2, trials.len() as u64, from, rss_open))
}
