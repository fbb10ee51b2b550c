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
    let storage = journal::open(path)?;
    storage.sync().map_err(|e| CliError::lib(path, e))?;
    let replay = start.elapsed();
    let (stats, studies, trials) = storage
        .read(|s| {
            let mut trials = 0usize;
            let mut studies = 0usize;
            for study in s.studies() {
                studies += 1;
                trials += s.trials_of(study.study_id)?.count();
            }
            Ok((s.stats(), studies, trials))
        })
        .map_err(|e| CliError::lib(path, e))?;
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
