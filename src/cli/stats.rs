//! `trialog stats <journal>`: what replaying the journal took and found.

use std::path::PathBuf;
use std::time::Instant;

use clap::Args;
use trialog::journal::OpCode;

use super::{CliError, journal};

/// Arguments of `trialog stats`.
#[derive(Debug, Args)]
pub struct StatsArgs {
    /// The journal file (never created or modified).
    pub journal: PathBuf,
}

/// Prints one `key: value` line per statistic.
pub fn run(args: &StatsArgs) -> Result<(), CliError> {
    let path = &args.journal;
    let start = Instant::now();
    let journal = journal::open_journal(path)?;
    let replay = start.elapsed();
    let storage: &dyn trialog::Storage = &journal;
    let lib = |e| CliError::lib(path, e);
    let stats = journal.read(|s| Ok(s.stats())).map_err(lib)?;
    let all = storage.get_all_studies().map_err(lib)?;
    let studies = all.len();
    let mut trials = 0usize;
    for study in &all {
        trials += storage.get_n_trials(study.study_id, None).map_err(lib)?;
    }
    let bytes = std::fs::metadata(path).map_err(|e| CliError::at(path, e))?.len();
    let mut text = format!(
        "file: {}\nbytes: {bytes}\nbatches: {}\noperations_applied: {}\noperations_ignored: {}\nstudies: {studies}\ntrials: {trials}\nreplay_seconds: {:.6}\n",
        path.display(),
        stats.batches,
        stats.applied,
        stats.ignored,
        replay.as_secs_f64()
    );
    for (kind, n) in OpCode::ALL.iter().zip(stats.by_kind) {
        text.push_str(&format!("ops.{}: {n}\n", kind.name()));
    }
    text.push_str(&format!("ops.unknown_ignorable: {}\n", stats.by_kind[OpCode::ALL.len()]));
    super::format::emit(&text)
}
