//! `trialog recover <journal> --mode MODE [--out NEW] [--lock KIND] [--optuna-lock KIND]`: write a
//! clean journal from a damaged one of either format (see `docs/RECOVERY.md`).

use std::path::PathBuf;

use clap::{Args, ValueEnum};
use trialog::lock::{OptunaLockKind, OptunaLockOptions};
use trialog::recover::{self, RecoverOptions};
use trialog::{LockOptions, RecoveryMode};

use super::CliError;
use super::bench::LockArg;
use super::format::emit;
use super::verify::format_name;

/// Arguments of `trialog recover`.
#[derive(Debug, Args)]
pub struct RecoverArgs {
    /// The journal file: trialog or Optuna JSON lines (detected from its first bytes).
    pub journal: PathBuf,
    /// Which frames (or lines) to keep: tolerate-corrupted-tail, absolute-consistency,
    /// point-in-time or skip-any-corrupted.
    #[arg(long, value_parser = parse_mode)]
    pub mode: RecoveryMode,
    /// Write the clean journal to this new file instead of replacing the original (after a
    /// backup).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// For a trialog journal: the lock its writers use (held for the whole operation).
    #[arg(long, value_enum, default_value_t = LockArg::Advisory)]
    pub lock: LockArg,
    /// For an Optuna journal: which of Optuna's locks its writers use (held for the whole
    /// operation; trialog's own lock is never taken on an Optuna journal). Default: symlink on
    /// Unix, open-file on Windows (as the library's `OptunaLockKind::default()`).
    #[arg(long, value_enum, default_value_t = OptunaLockArg::platform_default())]
    pub optuna_lock: OptunaLockArg,
}

/// Optuna's two lock classes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OptunaLockArg {
    /// `JournalFileSymlinkLock`, Optuna's default.
    Symlink,
    /// `JournalFileOpenLock`.
    OpenFile,
}

impl OptunaLockArg {
    /// The library's default kind on this platform.
    pub(super) fn platform_default() -> Self {
        match OptunaLockKind::default() {
            OptunaLockKind::Symlink => OptunaLockArg::Symlink,
            OptunaLockKind::OpenFile => OptunaLockArg::OpenFile,
        }
    }
}

impl OptunaLockArg {
    /// The library's lock kind.
    pub(super) fn kind(self) -> OptunaLockKind {
        match self {
            OptunaLockArg::Symlink => OptunaLockKind::Symlink,
            OptunaLockArg::OpenFile => OptunaLockKind::OpenFile,
        }
    }
}

fn parse_mode(s: &str) -> Result<RecoveryMode, String> {
    s.parse().map_err(super::value_error)
}

/// Recovers and prints what was kept and dropped, one `key: value` line each.
pub fn run(args: &RecoverArgs) -> Result<(), CliError> {
    let path = &args.journal;
    super::journal::file_only(
        path,
        "recover rewrites a damaged journal file; a Redis journal has no bytes to cut: `trialog verify` names a bad key, and `trialog export` copies what replays into a file",
    )?;
    let optuna_kind = args.optuna_lock.kind();
    let options = RecoverOptions {
        mode: args.mode,
        out: args.out.clone(),
        lock: LockOptions { kind: args.lock.kind(), ..LockOptions::default() },
        optuna_lock: OptunaLockOptions { kind: optuna_kind, ..OptunaLockOptions::default() },
    };
    let r = recover::recover(path, &options).map_err(|e| CliError::lib(path, e))?;
    let mut out =
        format!("file: {}\nformat: {}\nmode: {}\n", path.display(), format_name(r.format), r.mode);
    match r.format {
        Some(trialog::JournalFormat::Optuna) => out += &format!("kept_lines: {}\n", r.kept_lines),
        _ => out += &format!("kept_frames: {}\n", r.kept_frames),
    }
    out += &format!("kept_operations: {}\n", r.kept_operations);
    if r.format == Some(trialog::JournalFormat::Trialog) {
        out += &format!("padding_dropped: {}\n", r.padding_dropped);
    }
    for d in &r.dropped {
        out += &format!("dropped: offset {} length {}: {}\n", d.offset, d.len, d.reason);
    }
    match &r.written {
        Some(w) => out += &format!("written: {}\n", w.display()),
        None => out += "written: nothing (nothing to drop)\n",
    }
    if let Some(b) = &r.backup {
        out += &format!("backup: {}\n", b.display());
    }
    emit(&out)
}
