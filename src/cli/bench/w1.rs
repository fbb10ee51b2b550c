//! W1 append: one process, one study, N trials of 5 durable appends; only the trial loop is
//! timed. N COMPLETE trials must read back before the result is printed.

use std::path::PathBuf;
use std::time::Instant;

use clap::Args;
use trialog::{JournalStorage, TrialState};

use super::files::{BenchPath, LockArg, file_bytes, remove_journal};
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
    /// in the temporary directory, removed afterwards.
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
    remove_journal(path)?;
    let err = |e: trialog::Error| CliError::lib(path, e);
    let storage = JournalStorage::open_with(path, &a.lock.file_options(true)).map_err(err)?;
    let study = create_study(&storage).map_err(err)?;
    let dist = xy_distribution();
    let mut rng = Rng::new(a.seed.unwrap_or_else(Rng::fresh_seed));

    let t0 = Instant::now();
    for _ in 0..a.n {
        one_trial(&storage, study, &dist, &mut rng).map_err(err)?;
    }
    let seconds = t0.elapsed().as_secs_f64();

    let size = file_bytes(path)?;
    let reread = JournalStorage::open_with(path, &a.lock.file_options(false)).map_err(err)?;
    let complete = reread.get_n_trials(study, Some(&[TrialState::Complete])).map_err(err)?;
    let total = reread.get_n_trials(study, None).map_err(err)?;
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
        .str("lock", a.lock.name())
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
