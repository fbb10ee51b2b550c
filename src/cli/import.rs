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
}

/// Converts and prints one line with what was copied.
pub fn run(args: &ImportArgs) -> Result<(), CliError> {
    let done = trialog::convert::import_optuna(&args.optuna_journal, &args.out)
        .map_err(|e| CliError::lib(&args.optuna_journal, e))?;
    emit(&format!("imported {} operations into {}\n", done.operations, args.out.display()))
}
