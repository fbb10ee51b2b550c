//! `trialog export --format optuna <journal> <out.log>`: a journal (either format) as a new
//! Optuna JSON-lines journal.

use std::path::PathBuf;

use clap::{Args, ValueEnum};

use super::CliError;
use super::format::{count, emit};

/// Output formats of `trialog export`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ExportFormat {
    /// Optuna's JSON-lines journal (`JournalFileBackend`).
    Optuna,
}

/// Arguments of `trialog export`.
#[derive(Debug, Args)]
pub struct ExportArgs {
    /// The output format.
    #[arg(long, value_enum)]
    pub format: ExportFormat,
    /// The journal to export (trialog or Optuna format; read without locking, never modified),
    /// or a Redis journal (`redis://host:port/db?prefix=NAME`).
    pub journal: PathBuf,
    /// The file to create (must not exist).
    pub out: PathBuf,
}

/// Converts and prints one line with what was copied and dropped.
pub fn run(args: &ExportArgs) -> Result<(), CliError> {
    let done = match (args.format, super::journal::redis_url(&args.journal)) {
        (ExportFormat::Optuna, Some(url)) => trialog::backend::RedisBackend::open(&url)
            .and_then(|source| trialog::convert::export_optuna_from(&source, &args.out)),
        (ExportFormat::Optuna, None) => trialog::convert::export_optuna(&args.journal, &args.out),
    }
    .map_err(|e| CliError::lib(&args.journal, e))?;
    emit(&format!(
        "exported {} to {} ({} dropped)\n",
        count(done.operations, "operation"),
        args.out.display(),
        count(done.dropped, "trialog extension operation")
    ))
}
