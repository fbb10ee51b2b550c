//! `trialog import <optuna.log> <out.journal>`: an Optuna JSON-lines journal as a new trialog
//! journal.

use std::path::PathBuf;

use clap::Args;
use trialog::JournalFormat;

use super::format::{count, emit};
use super::{CliError, invocation, journal};

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
    let input = &args.optuna_journal;
    super::journal::file_only(
        input,
        "import reads an Optuna journal file; a Redis journal is read as it is by every command (`trialog study copy` copies a study into one)",
    )?;
    super::journal::file_only(
        &args.out,
        "import writes a new trialog journal file; to put a study on Redis use `trialog study copy FILE REDIS-URL --study NAME`",
    )?;
    let done = trialog::convert::import_optuna(input, &args.out, args.skip_corrupt_lines)
        .map_err(|e| match e {
            trialog::Error::NotAnOptunaJournal { .. }
                if journal::format_of(input) == Some(JournalFormat::Trialog) =>
            {
                CliError::at(
                    input,
                    "is already a trialog journal: nothing to import (every command reads it as it is)",
                )
            }
            e @ trialog::Error::Corruption { .. } if !args.skip_corrupt_lines => {
                let (i, out) = (input.to_string_lossy(), args.out.to_string_lossy());
                let salvage = invocation::command(&["import", "--skip-corrupt-lines", &i, &out]);
                CliError::at(input, format!("{e} (`{salvage}` leaves out the lines that do not decode)"))
            }
            e => CliError::lib(input, e),
        })?;
    // A warning on stderr (the library's log) names each skipped line.
    let skipped = match done.skipped.len() {
        0 => String::new(),
        n => format!(" ({} skipped)", count(n as u64, "corrupt line")),
    };
    let operations = count(done.operations, "operation");
    emit(&format!("imported {operations} into {}{skipped}\n", args.out.display()))
}
