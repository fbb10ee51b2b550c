//! W4 incremental sync: load a scratch copy of an N-trial journal, then time k consecutive
//! `create_new_trial` round trips (lock, append, fsync, read of the new tail, apply). The
//! per-call time should not grow with N.

use std::path::{Path, PathBuf};
use std::time::Instant;

use clap::Args;
use trialog::JournalStorage;
use trialog::backend::FileBackend;

use super::files::{LockArg, copy_durably, remove_journal};
use super::json::JsonLine;
use super::shape::{STUDY, create_study};
use crate::cli::CliError;

/// Arguments of `trialog bench w4`.
#[derive(Debug, Args)]
pub struct W4Args {
    /// The N-trial journal (from `w2-build`) to copy and load. With `--n 0` it may be missing:
    /// the scratch journal then starts empty and gets the study.
    #[arg(long)]
    pub journal: PathBuf,
    /// Trials the journal holds; the run fails if it holds another number.
    #[arg(long)]
    pub n: Option<u64>,
    /// Timed `create_new_trial` calls.
    #[arg(long, default_value_t = 30)]
    pub k: u64,
    /// Writers' lock protocol.
    #[arg(long, value_enum, default_value_t)]
    pub lock: LockArg,
}

/// Runs W4 and prints its JSON line.
pub fn run(a: &W4Args) -> Result<(), CliError> {
    if a.k == 0 {
        return Err(CliError::msg("w4: --k must be at least 1"));
    }
    let scratch = scratch_path(&a.journal);
    remove_journal(&scratch)?;
    let copied = a.journal.exists() || a.n != Some(0);
    if copied {
        copy_durably(&a.journal, &scratch)?;
    }
    let result = measure(a, &scratch, copied);
    remove_journal(&scratch)?;
    let (loaded, load_s, lat) = result?;
    if let Some(expected) = a.n.filter(|e| *e != loaded) {
        return Err(CliError::at(
            &a.journal,
            format!("holds {loaded} trials, {expected} expected"),
        ));
    }
    let mut sorted = lat.clone();
    sorted.sort_by(f64::total_cmp);
    let median = sorted[sorted.len() / 2];
    JsonLine::new()
        .str("w", "w4")
        .str("backend", "trialog")
        .str("lock", a.lock.name())
        .int("n_trials_loaded", loaded)
        .int("k", a.k)
        .num("load_s", load_s)
        .num("seconds", median)
        .num("us_median", median * 1e6)
        .num("us_min", sorted[0] * 1e6)
        .num("us_best", sorted[0] * 1e6)
        .num("us_max", sorted[sorted.len() - 1] * 1e6)
        .num("us_first", lat[0] * 1e6)
        .print();
    Ok(())
}

/// `<dir of journal>/.w4-scratch-<pid>.journal`.
fn scratch_path(journal: &Path) -> PathBuf {
    let dir = match journal.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    dir.join(format!(".w4-scratch-{}.journal", std::process::id()))
}

/// Loads the scratch journal (creating the study if it was not `copied`) and times k calls.
/// Returns the trials loaded, the load time and each call's seconds.
fn measure(a: &W4Args, scratch: &Path, copied: bool) -> Result<(u64, f64, Vec<f64>), CliError> {
    let err = |e: trialog::Error| CliError::lib(scratch, e);
    let t0 = Instant::now();
    let storage: JournalStorage<FileBackend> =
        JournalStorage::open_with(scratch, &a.lock.file_options(true)).map_err(err)?;
    let study = if copied {
        storage.get_study_id_from_name(STUDY).map_err(err)?
    } else {
        create_study(&storage).map_err(err)?
    };
    let loaded = storage.get_all_trials(study, None).map_err(err)?.len() as u64;
    let load_s = t0.elapsed().as_secs_f64();
    let mut lat = Vec::with_capacity(usize::try_from(a.k).unwrap_or(0));
    for _ in 0..a.k {
        let t = Instant::now();
        storage.create_new_trial(study, None).map_err(err)?;
        lat.push(t.elapsed().as_secs_f64());
    }
    Ok((loaded, load_s, lat))
}
