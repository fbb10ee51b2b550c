//! `trialog stats <journal>`: what replaying the journal took and found.

use std::path::PathBuf;
use std::time::Instant;

use clap::Args;
use trialog::journal::OpCode;

use super::{CliError, journal};

/// Arguments of `trialog stats`.
#[derive(Debug, Args)]
pub struct StatsArgs {
    /// The journal file (never created or modified), or a Redis journal
    /// (`redis://host:port/db?prefix=NAME`; it shows `location` and `entries` instead of `file`
    /// and `bytes`).
    pub journal: PathBuf,
}

/// Prints one `key: value` line per statistic.
pub fn run(args: &StatsArgs) -> Result<(), CliError> {
    let path = &args.journal;
    let lib = |e| CliError::lib(path, e);
    let start = Instant::now();
    if let Some(url) = journal::redis_url(path) {
        let journal = trialog::JournalStorage::open_url(&url).map_err(lib)?;
        let replay = start.elapsed();
        let entries = journal.read(|s| Ok(s.stats().batches)).map_err(lib)?;
        return report(&journal, path, format!("location: {url}\nentries: {entries}\n"), replay);
    }
    let journal = journal::open_journal(path)?;
    let replay = start.elapsed();
    let bytes = std::fs::metadata(path).map_err(|e| CliError::at(path, e))?.len();
    report(&journal, path, format!("file: {}\nbytes: {bytes}\n", path.display()), replay)
}

/// Prints `head` and the statistics of `journal`, replayed in `replay`.
fn report<B: trialog::LogBackend>(
    journal: &trialog::JournalStorage<B>,
    path: &std::path::Path,
    head: String,
    replay: std::time::Duration,
) -> Result<(), CliError> {
    let storage: &dyn trialog::Storage = journal;
    let lib = |e| CliError::lib(path, e);
    let stats = journal.read(|s| Ok(s.stats())).map_err(lib)?;
    let all = storage.get_all_studies().map_err(lib)?;
    let studies = all.len();
    let mut trials = 0usize;
    for study in &all {
        trials += storage.get_n_trials(study.study_id, None).map_err(lib)?;
    }
    let mut text = format!(
        "{head}batches: {}\noperations_applied: {}\noperations_ignored: {}\nstudies: {studies}\ntrials: {trials}\nreplay_seconds: {:.6}\n",
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
