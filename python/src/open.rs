//! The keyword options of `trialog.JournalStorage` and opening a journal with them.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use trialog::backend::{FileOptions, OptunaFileOptions, RecoveryMode};
use trialog::lock::OptunaLockKind;
use trialog::{HeartbeatOptions, JournalStorage, LockKind, Storage};

/// The options, as Python passed them.
pub struct Options {
    /// `"trialog"` (the CRC-framed format) or `"optuna"` (Optuna's JSON lines).
    pub format: String,
    /// The lock protocol: `advisory`, `open-file` or `symlink` (trialog format; default
    /// `advisory`); `symlink` or `open-file` (Optuna format; Optuna's classes, default `symlink`).
    pub lock: Option<String>,
    /// Give up waiting for the lock after this long (default: wait while the holder lives).
    pub lock_timeout: Option<Duration>,
    /// A lease lock whose holder stays silent this long is broken (default 30 s).
    pub lock_grace_period: Option<Duration>,
    /// `docs/RECOVERY.md`'s mode name (default `tolerate-corrupted-tail`).
    pub recovery: Option<String>,
    /// Create the journal if it does not exist.
    pub create: bool,
    /// Heartbeats every this long (off when `None`).
    pub heartbeat_interval: Option<Duration>,
    /// A RUNNING trial whose heartbeats stood still this long is stale (default twice the
    /// interval).
    pub grace_period: Option<Duration>,
}

/// A duration from seconds (`ValueError` for a negative or non-finite one).
pub fn seconds(what: &str, s: Option<f64>) -> PyResult<Option<Duration>> {
    s.map(|s| {
        Duration::try_from_secs_f64(s).map_err(|_| {
            PyValueError::new_err(format!(
                "{what} must be a non-negative number of seconds, not {s}"
            ))
        })
    })
    .transpose()
}

/// Validated options, ready to open a path.
pub enum Opener {
    /// A trialog journal.
    Trialog(FileOptions, Option<HeartbeatOptions>),
    /// An Optuna JSON-lines journal.
    Optuna(OptunaFileOptions, Option<HeartbeatOptions>),
}

fn bad(msg: String) -> PyErr {
    PyValueError::new_err(msg)
}

impl Options {
    /// Checks every option before anything is opened (`ValueError` naming the option).
    pub fn validate(self) -> PyResult<Opener> {
        let recovery = match &self.recovery {
            Some(r) => r.parse::<RecoveryMode>().map_err(|e| bad(e.to_string()))?,
            None => RecoveryMode::default(),
        };
        let heartbeat = match (self.heartbeat_interval, self.grace_period) {
            (None, None) => None,
            (None, Some(_)) => return Err(bad("grace_period needs heartbeat_interval".into())),
            (Some(i), _) if i.is_zero() => {
                return Err(bad("heartbeat_interval must be positive".into()));
            }
            (Some(i), None) => Some(HeartbeatOptions::every(i)),
            (Some(i), Some(g)) if g <= i => {
                return Err(bad(format!(
                    "grace_period ({g:?}) must exceed heartbeat_interval ({i:?})"
                )));
            }
            (Some(interval), Some(grace_period)) => {
                Some(HeartbeatOptions { interval, grace_period })
            }
        };
        match self.format.as_str() {
            "trialog" => {
                let mut o = FileOptions { create: self.create, recovery, ..Default::default() };
                o.lock.kind = match self.lock.as_deref() {
                    None | Some("advisory") => LockKind::Advisory,
                    Some("open-file") => LockKind::OpenFile,
                    Some("symlink") => LockKind::Symlink,
                    Some(other) => {
                        return Err(bad(format!(
                            "unknown lock {other:?} for a trialog journal (expected advisory, open-file or symlink)"
                        )));
                    }
                };
                o.lock.timeout = self.lock_timeout;
                if let Some(g) = self.lock_grace_period {
                    o.lock.grace_period = g;
                }
                Ok(Opener::Trialog(o, heartbeat))
            }
            "optuna" if heartbeat.is_some() => {
                Err(bad("an Optuna-format journal cannot store heartbeats (trialog's extension \
                 operations): use the trialog format for heartbeat_interval"
                    .into()))
            }
            "optuna" => {
                let mut o =
                    OptunaFileOptions { create: self.create, recovery, ..Default::default() };
                o.lock.kind = match self.lock.as_deref() {
                    None => OptunaLockKind::default(),
                    Some("symlink") => OptunaLockKind::Symlink,
                    Some("open-file") => OptunaLockKind::OpenFile,
                    Some(other) => {
                        return Err(bad(format!(
                            "unknown lock {other:?} for an Optuna journal (expected symlink or open-file)"
                        )));
                    }
                };
                o.lock.timeout = self.lock_timeout;
                if let Some(g) = self.lock_grace_period {
                    o.lock.grace_period = Some(g);
                }
                Ok(Opener::Optuna(o, heartbeat))
            }
            other => Err(bad(format!("unknown format {other:?} (expected trialog or optuna)"))),
        }
    }
}

impl Opener {
    /// Opens and replays the journal at `path`.
    pub fn open(&self, path: &Path) -> trialog::Result<Arc<dyn Storage>> {
        Ok(match self {
            Opener::Trialog(o, h) => {
                let s = JournalStorage::open_with(path, o)?;
                match h {
                    Some(h) => Arc::new(s.with_heartbeat(*h)),
                    None => Arc::new(s),
                }
            }
            Opener::Optuna(o, h) => {
                let s = JournalStorage::open_optuna_with(path, o)?;
                match h {
                    Some(h) => Arc::new(s.with_heartbeat(*h)),
                    None => Arc::new(s),
                }
            }
        })
    }
}
