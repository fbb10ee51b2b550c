//! W1 append: one process, one study, N trials of 5 durable appends; only the trial loop is
//! timed. N COMPLETE trials must read back before the result is printed.

use std::path::PathBuf;
use std::time::Instant;

use clap::Args;
use trialog::{JournalStorage, LogBackend, TrialState};

use super::files::{BenchPath, LockArg, file_bytes, redis_url, remove_journal};
use super::json::JsonLine;
use super::shape::{OPS_PER_TRIAL, Rng, create_study, one_trial, xy_distribution};
use crate::cli::CliError;

/// Arguments of `trialog bench w1`.
#[derive(Debug, Args)]
pub struct W1Args {
    /// Trials to write.
    #[arg(long, default_value_t = 2000)]
    pub n: u64,
    /// Journal to (re)create; it is deleted first and kept afterwards. Default: a scratch file
    /// in the temporary directory, removed afterwards. A Redis URL
    /// (`redis://host:port/db?prefix=NAME`) writes there; the prefix should be empty.
    #[arg(long)]
    pub journal: Option<PathBuf>,
    /// Writers' lock protocol.
    #[arg(long, value_enum, default_value_t)]
    pub lock: LockArg,
    /// Seed of the parameter values (default: from time and pid).
    #[arg(long)]
    pub seed: Option<u64>,
}

/// Runs W1 and prints its JSON line.
pub fn run(a: &W1Args) -> Result<(), CliError> {
    let target = BenchPath::new(a.journal.clone(), "w1")?;
    let path = &target.path;
    let err = |e: trialog::Error| CliError::lib(path, e);
    let redis = redis_url(path);
    let (seconds, complete, total, size) = match &redis {
        // A Redis prefix is the caller's to clear (bench/redis_vs_optuna.py uses a fresh one per run).
        Some(url) => {
            let (seconds, study) = timed_loop(a, || JournalStorage::open_url(url)).map_err(err)?;
            let reread = JournalStorage::open_url(url).map_err(err)?;
            let (complete, total) = counts(&reread, study).map_err(err)?;
            (seconds, complete, total, 0)
        }
        None => {
            remove_journal(path)?;
            let open = || JournalStorage::open_with(path, &a.lock.file_options(true));
            let (seconds, study) = timed_loop(a, open).map_err(err)?;
            let size = file_bytes(path)?;
            let reread =
                JournalStorage::open_with(path, &a.lock.file_options(false)).map_err(err)?;
            let (complete, total) = counts(&reread, study).map_err(err)?;
            (seconds, complete, total, size)
        }
    };
    if complete as u64 != a.n || total as u64 != a.n {
        return Err(CliError::at(
            path,
            format!(
                "W1 verification failed: {total} trials read back, {complete} COMPLETE, {} expected",
                a.n
            ),
        ));
    }

    let ops = OPS_PER_TRIAL * a.n;
    JsonLine::new()
        .str("w", "w1")
        .str("backend", "trialog")
        .str("lock", if redis.is_some() { "redis" } else { a.lock.name() })
        .int("n_trials", a.n)
        .int("ops", ops)
        .num("seconds", seconds)
        .num("trials_per_s", a.n as f64 / seconds)
        .num("ops_per_s", ops as f64 / seconds)
        .num("us_per_op", seconds / ops as f64 * 1e6)
        .int("file_bytes", size)
        .print();
    Ok(())
}

/// Opens the storage with `open`, creates the study and times writing `a.n` trials to it.
/// Returns the seconds and the study.
fn timed_loop<B: LogBackend>(
    a: &W1Args,
    open: impl FnOnce() -> trialog::Result<JournalStorage<B>>,
) -> trialog::Result<(f64, u64)> {
    let storage = open()?;
    let study = create_study(&storage)?;
    let dist = xy_distribution();
    let mut rng = Rng::new(a.seed.unwrap_or_else(Rng::fresh_seed));
    let t0 = Instant::now();
    for _ in 0..a.n {
        one_trial(&storage, study, &dist, &mut rng)?;
    }
    Ok((t0.elapsed().as_secs_f64(), study))
}

/// The COMPLETE trials and all trials of `study`.
fn counts<B: LogBackend>(
    storage: &JournalStorage<B>,
    study: u64,
) -> trialog::Result<(usize, usize)> {
    Ok((
        storage.get_n_trials(study, Some(&[TrialState::Complete]))?,
        storage.get_n_trials(study, None)?,
    ))
}
