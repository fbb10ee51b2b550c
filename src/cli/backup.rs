//! `trialog backup <journal> <dest>`: an online, verified, incremental backup of a journal file
//! of either format (`trialog::lifecycle::backup`; `docs/LIFECYCLE.md`).

use std::path::PathBuf;

use clap::Args;
use trialog::LockOptions;
use trialog::lifecycle::{self, BackupOptions};
use trialog::lock::OptunaLockOptions;

use super::CliError;
use super::bench::LockArg;
use super::format::emit;
use super::recover::OptunaLockArg;
use super::verify::format_name;

/// Arguments of `trialog backup`.
#[derive(Debug, Args)]
pub struct BackupArgs {
    /// The journal file: trialog or Optuna JSON lines (detected from its first bytes).
    pub journal: PathBuf,
    /// The backup: a new file, an earlier backup of this journal (extended with the new
    /// bytes), or a directory (the backup is the journal's file name in it).
    pub dest: PathBuf,
    /// Replay the whole backup afterwards and fail unless it is clean.
    #[arg(long)]
    pub verify: bool,
    /// Compare every byte of an existing backup with the journal (default: its first and last
    /// MiB).
    #[arg(long)]
    pub full_check: bool,
    /// Do not take the writers' lock to read the journal's length (a journal on a read-only
    /// mount).
    #[arg(long)]
    pub no_lock: bool,
    /// For a trialog journal: the lock its writers use.
    #[arg(long, value_enum, default_value_t = LockArg::Advisory)]
    pub lock: LockArg,
    /// For an Optuna journal: which of Optuna's locks its writers use. Default: symlink on
    /// Unix, open-file on Windows (as the library's `OptunaLockKind::default()`).
    #[arg(long, value_enum, default_value_t = OptunaLockArg::platform_default())]
    pub optuna_lock: OptunaLockArg,
}

/// Backs up and prints what was copied, one `key: value` line each.
pub fn run(args: &BackupArgs) -> Result<(), CliError> {
    super::journal::file_only(
        &args.journal,
        "backup copies a journal file's bytes; back a Redis journal up with Redis (BGSAVE, the append-only file) or `trialog export` it into a file",
    )?;
    let optuna_kind = args.optuna_lock.kind();
    let options = BackupOptions {
        lock: !args.no_lock,
        trialog_lock: LockOptions { kind: args.lock.kind(), ..LockOptions::default() },
        optuna_lock: OptunaLockOptions { kind: optuna_kind, ..OptunaLockOptions::default() },
        check_bytes: if args.full_check { None } else { BackupOptions::default().check_bytes },
        verify: args.verify,
    };
    let r = lifecycle::backup(&args.journal, &args.dest, &options).map_err(|e| match e {
        trialog::Error::BackupDiverged { ref backup, .. } => CliError::at(&backup.clone(), e),
        e => CliError::lib(&args.journal, e),
    })?;
    let mut out = format!(
        "journal: {}\nbackup: {}\nformat: {}\n",
        args.journal.display(),
        r.dest.display(),
        format_name(r.format)
    );
    out += &format!("created: {}\n", if r.created { "yes" } else { "no" });
    out += &format!("previous_bytes: {}\nbytes: {}\n", r.previous, r.cut);
    out += &format!("appended_bytes: {}\n", r.appended());
    out += &format!("compared_bytes: {}\n", r.compared);
    match r.locked_for {
        Some(d) => out += &format!("lock_held_ns: {}\n", d.as_nanos()),
        None => out += "lock_held_ns: none (no lock taken)\n",
    }
    if let Some(v) = &r.verified {
        out += &format!("verified: clean ({} operations replayed)\n", v.operations);
    }
    emit(&out)
}
