//! `trialog import <optuna.log> <out.journal>`: an Optuna JSON-lines journal as a new trialog
//! journal.

use std::path::PathBuf;

use clap::Args;

use super::CliError;
use super::format::emit;

/// Arguments of `trialog import`.
#[derive(Debug, Args)]
pub struct ImportArgs {
    /// The Optuna journal (read without locking; never modified).
    pub optuna_journal: PathBuf,
    /// The trialog journal to create (must not exist).
    pub out: PathBuf,
    /// Salvage a damaged journal: leave out lines that do not decode (listed on stderr) instead
    /// of failing. The input is never modified.
    #[arg(long)]
    pub skip_corrupt_lines: bool,
}

/// Converts and prints one line with what was copied.
pub fn run(args: &ImportArgs) -> Result<(), CliError> {
    let done =
        trialog::convert::import_optuna(&args.optuna_journal, &args.out, args.skip_corrupt_lines)
            .map_err(|e| CliError::lib(&args.optuna_journal, e))?;
    for line in &done.skipped {
        eprintln!(
            "trialog: {}: skipped the bad line at byte offset {}: {}",
            args.optuna_journal.display(),
            line.offset,
            line.reason
        );
    }
    let skipped = match done.skipped.len() {
        0 => String::new(),
        n => format!(" ({n} corrupt lines skipped)"),
    };
    emit(&format!("imported {} operations into {}{skipped}\n", done.operations, args.out.display()))
}
