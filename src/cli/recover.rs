//! `trialog recover <journal> --mode MODE [--out NEW] [--lock KIND]`: write a clean journal from a
//! damaged one (see `docs/RECOVERY.md`).

use std::path::PathBuf;

use clap::Args;
use trialog::recover::{self, RecoverOptions};
use trialog::{LockOptions, RecoveryMode};

use super::CliError;
use super::bench::LockArg;
use super::format::emit;

/// Arguments of `trialog recover`.
#[derive(Debug, Args)]
pub struct RecoverArgs {
    /// The journal file.
    pub journal: PathBuf,
    /// Which frames to keep: tolerate-corrupted-tail, absolute-consistency, point-in-time or
    /// skip-any-corrupted.
    #[arg(long, value_parser = parse_mode)]
    pub mode: RecoveryMode,
    /// Write the clean journal to this new file instead of replacing the original (after a
    /// backup).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// The lock the journal's writers use (held for the whole operation).
    #[arg(long, value_enum, default_value_t = LockArg::Advisory)]
    pub lock: LockArg,
}

fn parse_mode(s: &str) -> Result<RecoveryMode, String> {
    s.parse().map_err(super::value_error)
}

/// Recovers and prints what was kept and dropped, one `key: value` line each.
pub fn run(args: &RecoverArgs) -> Result<(), CliError> {
    let path = &args.journal;
    let lock = LockOptions { kind: args.lock.kind(), ..LockOptions::default() };
    let options = RecoverOptions { mode: args.mode, out: args.out.clone(), lock };
    let r = recover::recover(path, &options).map_err(|e| CliError::lib(path, e))?;
    let mut out = format!(
        "file: {}\nmode: {}\nkept_frames: {}\nkept_operations: {}\npadding_dropped: {}\n",
        path.display(),
        r.mode,
        r.kept_frames,
        r.kept_operations,
        r.padding_dropped
    );
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
