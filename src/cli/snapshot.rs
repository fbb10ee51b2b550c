//! `trialog snapshot <journal>`: takes a snapshot of a journal by hand (`docs/FORMAT.md`,
//! "Snapshots"), so the next open replays only what is appended after it.

use std::path::PathBuf;
use std::time::Instant;

use clap::Args;

use super::format::emit;
use super::{CliError, journal};

/// Arguments of `trialog snapshot`.
#[derive(Debug, Args)]
pub struct SnapshotArgs {
    /// The journal file, trialog or Optuna JSON lines (read without its lock, never modified;
    /// the snapshot is `<journal>.snapshot`).
    pub journal: PathBuf,
}

/// Replays the journal (from its current snapshot if valid), writes the snapshot durably and
/// prints one `key: value` line per fact.
pub fn run(args: &SnapshotArgs) -> Result<(), CliError> {
    let path = &args.journal;
    let start = Instant::now();
    let journal = journal::open_journal(path)?;
    let opened = start.elapsed();
    let taken = journal
        .take_snapshot()
        .map_err(|e| CliError::lib(path, e))?
        .ok_or_else(|| CliError::at(path, "this journal takes no snapshots"))?;
    let from = match journal.opened_from_snapshot() {
        Some(end) => format!("snapshot at byte {end}"),
        None => "start".to_owned(),
    };
    emit(&format!(
        "snapshot: {}\ncovers_bytes: {}\nsnapshot_bytes: {}\nreplayed_from: {from}\nopen_seconds: {:.6}\ntotal_seconds: {:.6}\n",
        taken.path.display(),
        taken.covered_end,
        taken.bytes,
        opened.as_secs_f64(),
        start.elapsed().as_secs_f64(),
    ))
}
