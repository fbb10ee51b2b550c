//! Journal files for the workloads: default scratch paths, removal, copies, durable writes, and
//! the lock option.

use std::fs::File;
use std::io::{ErrorKind, Write as _};
use std::path::{Path, PathBuf};

use clap::ValueEnum;
use trialog::backend::FileOptions;
use trialog::lock::lock_path_for;
use trialog::{LockKind, LockOptions};

use crate::cli::CliError;

/// The `--lock` choices: trialog's own locks, for trialog journals only (an Optuna journal
/// takes Optuna's lock; `--lock` given for one is refused: `cli::lock`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, ValueEnum)]
pub enum LockArg {
    /// `flock` on `<journal>.lock` (the default).
    #[default]
    Advisory,
    /// trialog's lease lock: `<journal>.lock` created with `O_CREAT|O_EXCL`, with an owner record.
    OpenFile,
    /// trialog's lease lock as a symbolic link to an owner record (not Optuna's symlink lock).
    Symlink,
}

impl LockArg {
    /// The name printed in the JSON output.
    pub fn name(self) -> &'static str {
        match self {
            LockArg::Advisory => "advisory",
            LockArg::OpenFile => "open-file",
            LockArg::Symlink => "symlink",
        }
    }

    /// The lock kind.
    pub fn kind(self) -> LockKind {
        match self {
            LockArg::Advisory => LockKind::Advisory,
            LockArg::OpenFile => LockKind::OpenFile,
            LockArg::Symlink => LockKind::Symlink,
        }
    }

    /// File options with this lock, creating the journal if `create`.
    pub fn file_options(self, create: bool) -> FileOptions {
        FileOptions {
            create,
            lock: LockOptions { kind: self.kind(), ..LockOptions::default() },
            ..FileOptions::default()
        }
    }
}

/// A journal path chosen by the user (kept afterwards) or a scratch one (removed on drop).
#[derive(Debug)]
pub struct BenchPath {
    /// The journal file.
    pub path: PathBuf,
    /// Whether to remove it when the workload is done.
    pub scratch: bool,
}

impl BenchPath {
    /// `given`, or `<tmp>/trialog-bench/<tag>-<pid>.journal` if none was given.
    pub fn new(given: Option<PathBuf>, tag: &str) -> Result<Self, CliError> {
        match given {
            Some(path) => Ok(BenchPath { path, scratch: false }),
            None => {
                let dir = std::env::temp_dir().join("trialog-bench");
                std::fs::create_dir_all(&dir).map_err(|e| CliError::at(&dir, e))?;
                let path = dir.join(format!("{tag}-{}.journal", std::process::id()));
                Ok(BenchPath { path, scratch: true })
            }
        }
    }
}

impl Drop for BenchPath {
    /// Removes a scratch journal (and its lock and snapshot files), whether the workload
    /// succeeded or not.
    fn drop(&mut self) {
        if self.scratch {
            let _ = remove_journal(&self.path);
        }
    }
}

/// Removes `path`, `path.lock` and `path.snapshot` (writers take snapshots past 8 MiB of log)
/// if they exist, so that a scratch run leaves nothing behind.
pub fn remove_journal(path: &Path) -> Result<(), CliError> {
    for p in [path.to_path_buf(), lock_path_for(path), trialog::snapshot::path_for(path)] {
        match std::fs::remove_file(&p) {
            Err(e) if e.kind() != ErrorKind::NotFound => return Err(CliError::at(&p, e)),
            _ => {}
        }
    }
    Ok(())
}

/// The size of `path` in bytes.
pub fn file_bytes(path: &Path) -> Result<u64, CliError> {
    Ok(std::fs::metadata(path).map_err(|e| CliError::at(path, e))?.len())
}

/// Writes `bytes` to `path` durably: a temporary sibling is written and fsynced, then renamed
/// over `path`.
pub fn write_durably(path: &Path, bytes: &[u8]) -> Result<(), CliError> {
    let tmp = sibling(path, ".tmp");
    let write = || -> std::io::Result<()> {
        let mut f = File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()
    };
    write().map_err(|e| CliError::at(&tmp, e))?;
    std::fs::rename(&tmp, path).map_err(|e| CliError::at(path, e))?;
    sync_parent(path)
}

/// Copies `from` to `to` and fsyncs the copy (so a later timed fsync does not pay for writing
/// it back).
pub fn copy_durably(from: &Path, to: &Path) -> Result<(), CliError> {
    std::fs::copy(from, to)
        .map_err(|e| CliError::at(from, format!("copy to {}: {e}", to.display())))?;
    // (Opened for writing: Windows flushes only through a handle that may write.)
    File::options().write(true).open(to).and_then(|f| f.sync_all()).map_err(|e| CliError::at(to, e))
}

/// Fsyncs the directory holding `path`.
fn sync_parent(path: &Path) -> Result<(), CliError> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    trialog::backend::sync_dir(dir).map_err(|e| CliError::lib(dir, e))
}

/// A sibling of `path` named `<file name><suffix>`.
pub fn sibling(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

/// The Redis URL a `--journal` spells, if it is one.
pub use crate::cli::journal::redis_url;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn removing_a_scratch_journal_removes_its_lock_and_snapshot_too() {
        let dir = std::env::temp_dir().join(format!("trialog-rm-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let journal = dir.join("w1.journal");
        let others = [lock_path_for(&journal), trialog::snapshot::path_for(&journal)];
        for p in std::iter::once(&journal).chain(&others) {
            std::fs::write(p, b"x").unwrap();
        }
        remove_journal(&journal).unwrap();
        assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 0, "left in {}", dir.display());
        remove_journal(&journal).unwrap(); // nothing there: not an error
        std::fs::remove_dir(&dir).unwrap();
    }
}
