//! `trialog import <optuna.log> <out.journal>`: an Optuna JSON-lines journal as a new trialog
//! journal.

use std::path::PathBuf;

use clap::Args;

use super::CliError;
use super::format::{count, emit};

/// Arguments of `trialog import`.
#[derive(Debug, Args)]
pub struct ImportArgs {
    /// The Optuna journal (read without locking; never modified).
    pub optuna_journal: PathBuf,
    /// The trialog journal to create (must not exist).
    pub out: PathBuf,
    /// Salvage a damaged journal: leave out lines that do not decode (each named in a warning on
    /// stderr) instead of failing. The input is never modified.
    #[arg(long)]
    pub skip_corrupt_lines: bool,
}

/// Converts and prints one line with what was copied.
pub fn run(args: &ImportArgs) -> Result<(), CliError> {
    let done =
        trialog::convert::import_optuna(&args.optuna_journal, &args.out, args.skip_corrupt_lines)
            .map_err(|e| CliError::lib(&args.optuna_journal, e))?;
    // A warning on stderr (the library's log) names each skipped line.
    let skipped = match done.skipped.len() {
        0 => String::new(),
        n => format!(" ({} skipped)", count(n as u64, "corrupt line")),
    };
    let operations = count(done.operations, "operation");
    emit(&format!("imported {operations} into {}{skipped}\n", args.out.display()))
}
