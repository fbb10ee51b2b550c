//! `trialog bench backup`: throughput of `trialog backup` on an N-trial journal (W1 shape)
//! against `cp` of the same file, then the time of an incremental backup after M more trials.
//! Prints one JSON line; removes its scratch files unless `--keep`.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use clap::Args;
use trialog::lifecycle::{BackupOptions, backup};
use trialog::{JournalStorage, MemoryBackend};

use super::files::{LockArg, file_bytes, remove_journal, write_durably};
use super::json::JsonLine;
use super::shape::{Rng, STUDY, create_study, one_trial, xy_distribution};
use crate::cli::CliError;

/// Arguments of `trialog bench backup`.
#[derive(Debug, Args)]
pub struct BackupBenchArgs {
    /// Trials in the journal backed up.
    #[arg(long, default_value_t = 1_000_000)]
    pub n: u64,
    /// Trials appended (durably, one process) before the incremental backup.
    #[arg(long, default_value_t = 1000)]
    pub more: u64,
    /// Timed repetitions of the full backup and of `cp` (the median is reported).
    #[arg(long, default_value_t = 3)]
    pub repeat: usize,
    /// Scratch directory (default: a new one under the system's temporary directory).
    #[arg(long)]
    pub dir: Option<PathBuf>,
    /// Keep the scratch files.
    #[arg(long)]
    pub keep: bool,
}

fn median(mut xs: Vec<f64>) -> f64 {
    xs.sort_by(f64::total_cmp);
    xs[xs.len() / 2]
}

fn mb_per_s(bytes: u64, seconds: f64) -> f64 {
    bytes as f64 / 1e6 / seconds
}

/// Runs the benchmark and prints its JSON line.
pub fn run(a: &BackupBenchArgs) -> Result<(), CliError> {
    let dir = match &a.dir {
        Some(d) => d.clone(),
        None => std::env::temp_dir().join(format!("trialog-bench-backup-{}", std::process::id())),
    };
    std::fs::create_dir_all(&dir).map_err(|e| CliError::at(&dir, e))?;
    let result = measure(a, &dir);
    if !a.keep {
        let _ = std::fs::remove_dir_all(&dir);
    }
    result
}

fn measure(a: &BackupBenchArgs, dir: &Path) -> Result<(), CliError> {
    let journal = dir.join("study.journal");
    let err = |e: trialog::Error| CliError::lib(&journal, e);
    // The journal, built in memory and written once (as `w2-build`).
    let storage = JournalStorage::new(MemoryBackend::new()).map_err(err)?;
    let study = create_study(&storage).map_err(err)?;
    let dist = xy_distribution();
    let mut rng = Rng::new(1);
    for _ in 0..a.n {
        one_trial(&storage, study, &dist, &mut rng).map_err(err)?;
    }
    remove_journal(&journal)?;
    write_durably(&journal, &storage.backend().to_bytes())?;
    drop(storage);
    let size = file_bytes(&journal)?;

    let copy = dir.join("cp.journal");
    let dest = dir.join("backup.journal");
    let (mut cp, mut cp_sync, mut full) = (Vec::new(), Vec::new(), Vec::new());
    let mut lock_ns = 0;
    for _ in 0..a.repeat.max(1) {
        for p in [&copy, &dest] {
            let _ = std::fs::remove_file(p);
        }
        let t0 = Instant::now();
        let status = Command::new("cp").arg(&journal).arg(&copy).status();
        if !status.is_ok_and(|s| s.success()) {
            return Err(CliError::at(&copy, "cp failed"));
        }
        cp.push(t0.elapsed().as_secs_f64());
        File::open(&copy).and_then(|f| f.sync_all()).map_err(|e| CliError::at(&copy, e))?;
        cp_sync.push(t0.elapsed().as_secs_f64());
        let t0 = Instant::now();
        let r = backup(&journal, &dest, &BackupOptions::default()).map_err(err)?;
        full.push(t0.elapsed().as_secs_f64());
        lock_ns = r.locked_for.map_or(0, |d| d.as_nanos() as u64);
        if r.cut != size {
            return Err(CliError::at(&dest, format!("backed up {} of {size} bytes", r.cut)));
        }
    }

    // M more trials, appended durably by one writer as W1 does.
    let writer = JournalStorage::open_with(&journal, &LockArg::default().file_options(false))
        .map_err(err)?;
    let study = writer.get_study_id_from_name(STUDY).map_err(err)?;
    for _ in 0..a.more {
        one_trial(&writer, study, &dist, &mut rng).map_err(err)?;
    }
    let grown = file_bytes(&journal)?;
    drop(writer);
    let t0 = Instant::now();
    let incr = backup(&journal, &dest, &BackupOptions::default()).map_err(err)?;
    let incr_s = t0.elapsed().as_secs_f64();
    if incr.cut != grown || incr.previous != size {
        return Err(CliError::at(&dest, "the incremental backup did not catch up"));
    }
    let t0 = Instant::now();
    let verify = BackupOptions { verify: true, ..BackupOptions::default() };
    backup(&journal, &dest, &verify).map_err(err)?;
    let verify_s = t0.elapsed().as_secs_f64();

    let (cp, cp_sync, full) = (median(cp), median(cp_sync), median(full));
    JsonLine::new()
        .str("w", "backup")
        .int("n_trials", a.n)
        .int("journal_bytes", size)
        .num("cp_s", cp)
        .num("cp_mb_s", mb_per_s(size, cp))
        .num("cp_fsync_s", cp_sync)
        .num("cp_fsync_mb_s", mb_per_s(size, cp_sync))
        .num("backup_s", full)
        .num("backup_mb_s", mb_per_s(size, full))
        .int("lock_held_ns", lock_ns)
        .int("more_trials", a.more)
        .int("new_bytes", incr.appended())
        .num("incremental_s", incr_s)
        .num("incremental_mb_s", mb_per_s(incr.appended(), incr_s))
        .num("incremental_vs_full", incr_s / full)
        .int("compared_bytes", incr.compared)
        .num("verify_replay_s", verify_s)
        .print();
    Ok(())
}
