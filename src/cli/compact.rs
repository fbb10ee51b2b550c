//! `trialog compact <journal> [--lock KIND] [--optuna-lock KIND]`: rewrite a journal of either
//! format as the shortest log with the same state (see `docs/CLI.md`).

use std::path::PathBuf;

use clap::Args;
use trialog::LockOptions;
use trialog::compact::{self, CompactOptions};
use trialog::lock::OptunaLockOptions;

use super::CliError;
use super::bench::LockArg;
use super::format::emit;
use super::recover::OptunaLockArg;
use super::verify::format_name;

/// Arguments of `trialog compact`.
#[derive(Debug, Args)]
pub struct CompactArgs {
    /// The journal file: trialog or Optuna JSON lines (detected from its first bytes).
    pub journal: PathBuf,
    /// For a trialog journal: the lock its writers use (held for the whole operation).
    #[arg(long, value_enum, default_value_t = LockArg::Advisory)]
    pub lock: LockArg,
    /// For an Optuna journal: which of Optuna's locks its writers use (held for the whole
    /// operation). Default: symlink on Unix, open-file on Windows.
    #[arg(long, value_enum, default_value_t = OptunaLockArg::platform_default())]
    pub optuna_lock: OptunaLockArg,
}

/// Compacts and prints the sizes and counts, one `key: value` line each.
pub fn run(args: &CompactArgs) -> Result<(), CliError> {
    let path = &args.journal;
    super::journal::file_only(
        path,
        "compact rewrites a journal file; a Redis journal is compacted by exporting it (`trialog export`)",
    )?;
    let options = CompactOptions {
        lock: LockOptions { kind: args.lock.kind(), ..LockOptions::default() },
        optuna_lock: OptunaLockOptions { kind: args.optuna_lock.kind(), ..Default::default() },
    };
    let r = compact::compact(path, &options).map_err(|e| CliError::lib(path, e))?;
    let mut out = format!("file: {}\nformat: {}\n", path.display(), format_name(r.format));
    if r.format.is_none() {
        out += "written: nothing (an empty file has nothing to compact)\n";
        return emit(&out);
    }
    let percent = if r.bytes_before == 0 {
        100.0
    } else {
        100.0 * r.bytes_after as f64 / r.bytes_before as f64
    };
    out += &format!(
        "bytes_before: {}\nbytes_after: {}\nsize_percent: {percent:.1}\noperations_before: {}\noperations_after: {}\nstudies: {}\ndeleted_studies: {}\ntrials: {}\nwritten: {}\n",
        r.bytes_before,
        r.bytes_after,
        r.operations_before,
        r.operations_after,
        r.studies,
        r.deleted_studies,
        r.trials,
        path.display()
    );
    emit(&out)
}
