//! `--lock` names trialog's own lock kinds (`advisory`, `open-file`, `symlink`), which guard
//! trialog journals only. Python Optuna reads any file at `<journal>.lock` as its own lock, and
//! trialog's `symlink` lease lock is not Optuna's symlink lock, so none of them may guard a file
//! Python writes: an Optuna journal is always locked with Optuna's protocol (`OptunaLock`). A
//! `--lock` given on the command line for an Optuna journal is refused before anything is
//! opened or locked, rather than silently ignored or mapped onto one of Optuna's locks.

use std::path::PathBuf;

use clap::ArgMatches;
use clap::parser::ValueSource;
use trialog::JournalFormat;

use super::{CliError, journal};

/// The commands that take an existing journal's writers' lock of trialog's kinds (`--lock`).
const WRITERS: &[&str] = &["recover", "backup"];

/// Fails when the command line gives `--lock` to a command of [`WRITERS`] whose journal is an
/// Optuna journal, naming the file.
pub fn check(matches: &ArgMatches) -> Result<(), CliError> {
    let Some((command, args)) = matches.subcommand() else { return Ok(()) };
    if !WRITERS.contains(&command) || args.value_source("lock") != Some(ValueSource::CommandLine) {
        return Ok(());
    }
    let Some(path) = args.get_one::<PathBuf>("journal") else { return Ok(()) };
    if journal::format_of(path) != Some(JournalFormat::Optuna) {
        return Ok(());
    }
    Err(CliError::at(
        path,
        "is an Optuna JSON-lines journal: --lock chooses among trialog's own locks, which must \
         never guard a file Python Optuna writes (leave --lock out: an Optuna journal is always \
         locked with Optuna's protocol, whose kind --optuna-lock chooses)",
    ))
}
