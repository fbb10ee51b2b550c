//! The Optuna JSON-lines backend: a journal file exactly as Optuna's `JournalFileBackend` reads
//! and writes it (one JSON object per line, see [`crate::journal::optuna_codec`]), guarded by
//! Optuna's own lock on `<journal>.lock`, so Python Optuna workers and trialog workers can share
//! one file.
//!
//! Positions are byte offsets of line starts. Reading (never locked): every line that ends with
//! `\n` is an operation (a trailing `\r` is ignored, so CRLF files read like LF files); a last line
//! without its `\n` is not written yet and reading stops before it; a complete line that does not
//! decode is [`Error::Corruption`] at its offset (it cannot be a write in progress, since a writer
//! writes the newline last). Writing: take the lock, check the end, drop a torn last line left by a
//! crashed writer (never acknowledged: truncated, with a warning), write the batch's lines (LF),
//! `fdatasync`, release. Optuna's writers do not repair a torn line: they append after it, which
//! glues two lines into one corrupt line.

use std::fs::{File, OpenOptions};
use std::io::{self, ErrorKind};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use super::poison::Poison;
use super::recovery::{BadRecord, Recovery};
use super::{AppendOutcome, LogBackend, RecoveryMode, RecoveryReport};
use crate::error::{Error, Result};
use crate::journal::LogBatch;
use crate::journal::optuna_codec::{self, LineError};
use crate::lock::{JournalLock, LockGuard, OptunaLock, OptunaLockOptions};

/// How to open an Optuna journal file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OptunaFileOptions {
    /// Create an empty journal if the file does not exist (as Optuna does). Default: true.
    pub create: bool,
    /// The writers' lock: Optuna's symlink lock by default; every writer of the file (Python or
    /// trialog) must use the same kind.
    pub lock: OptunaLockOptions,
    /// What a complete line that does not decode means (`docs/RECOVERY.md`, "Optuna
    /// journals"): an error naming its byte offset in the default modes; the end of replay in
    /// `PointInTime`; a skipped line (reported by
    /// [`LogBackend::recovery_report`]) in `SkipAnyCorrupted`. A handle that stopped or
    /// skipped refuses to append, since appending after a bad line would leave a file Optuna
    /// cannot read; `AbsoluteConsistency` also refuses to drop a torn last line. Default:
    /// `TolerateCorruptedTail`.
    pub recovery: RecoveryMode,
}

impl Default for OptunaFileOptions {
    fn default() -> Self {
        OptunaFileOptions {
            create: true,
            lock: OptunaLockOptions::default(),
            recovery: RecoveryMode::default(),
        }
    }
}

/// An Optuna JSON-lines journal in a local (or NFS-mounted) file.
///
/// Guarantees: an append that returns `Appended` has been written and `fdatasync`ed (Optuna 5.0
/// fsyncs too); after a failed write or fsync the handle is poisoned ([`Error::Poisoned`]);
/// operations Optuna cannot read are refused with [`Error::NotRepresentable`] before anything is
/// written. Not guaranteed: that a batch of several operations is all-or-nothing after a crash
/// (each line is; trialog's storage writes one operation per batch); exclusion from writers that
/// ignore `<journal>.lock` or hold it past the grace period (see [`OptunaLock`]); integrity
/// checks (the format has no checksum: a damaged line that is still valid JSON goes unnoticed).
#[derive(Debug)]
pub struct OptunaJournalFile {
    path: PathBuf,
    file: File,
    lock: OptunaLock,
    poisoned: Poison,
    recovery: Recovery,
}

impl OptunaJournalFile {
    /// Opens (creating if missing) the Optuna journal at `path` with Optuna's symlink lock.
    pub fn open(path: impl AsRef<Path>) -> Result<Self> {
        Self::open_with(path, &OptunaFileOptions::default())
    }

    /// Opens the Optuna journal at `path`. Fails with [`Error::NotAnOptunaJournal`] if the file
    /// is not empty and does not start with `{`.
    pub fn open_with(path: impl AsRef<Path>, options: &OptunaFileOptions) -> Result<Self> {
        let path = path.as_ref().to_path_buf();
        if options.create && !path.exists() {
            OpenOptions::new()
                .append(true)
                .create(true)
                .open(&path)
                .map_err(|e| Error::io("create", &path, e))?;
            let dir = match path.parent() {
                Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
                _ => PathBuf::from("."),
            };
            super::sync_dir(&dir)?;
        }
        let file = match OpenOptions::new().read(true).write(true).open(&path) {
            Err(e) if e.kind() == ErrorKind::PermissionDenied => File::open(&path),
            other => other,
        }
        .map_err(|e| Error::io("open", &path, e))?;
        let mut first = [0u8; 1];
        let n = file.read_at(&mut first, 0).map_err(|e| Error::io("read", &path, e))?;
        if n == 1 && first[0] != b'{' {
            return Err(Error::NotAnOptunaJournal {
                path,
                reason: format!("it starts with byte {:#04x}, not '{{'", first[0]),
            });
        }
        let lock = OptunaLock::new(&path, options.lock.clone());
        let recovery = Recovery::new(options.recovery);
        Ok(OptunaJournalFile { path, file, lock, poisoned: Poison::default(), recovery })
    }

    fn check_poisoned(&self) -> Result<()> {
        self.poisoned.check(&self.path)
    }

    fn poison(&self, op: &'static str, e: io::Error) -> Error {
        self.poisoned.set(&self.path, op, e)
    }

    /// The bytes from `from` to the end of the file as one `fstat` saw it (an error if the file
    /// is now shorter than `from`: someone truncated acknowledged lines).
    fn read_tail(&self, from: u64) -> Result<Vec<u8>> {
        let len = self.file.metadata().map_err(|e| Error::io("stat", &self.path, e))?.len();
        if len < from {
            return Err(Error::Corruption {
                path: self.path.clone(),
                offset: len,
                reason: format!("the file shrank below the already-read position {from}"),
            });
        }
        let want = usize::try_from(len - from).unwrap_or(usize::MAX);
        let mut buf = vec![0u8; want];
        let filled = super::io::read_full(|b, at| self.file.read_at(b, at), &mut buf, from)
            .map_err(|e| Error::io("read", &self.path, e))?;
        buf.truncate(filled);
        Ok(buf)
    }
}

impl LogBackend for OptunaJournalFile {
    type WriteGuard<'a> = LockGuard<'a>;

    fn path(&self) -> &Path {
        &self.path
    }

    fn read_from(
        &self,
        from: u64,
        sink: &mut dyn FnMut(u64, &LogBatch) -> Result<()>,
    ) -> Result<u64> {
        self.check_poisoned()?;
        if self.recovery.stopped_at(from) {
            return Ok(from);
        }
        let bytes = self.read_tail(from)?;
        let mut batch = LogBatch { worker_id: String::new(), ops: Vec::with_capacity(1) };
        let mut start = 0;
        while let Some(nl) = bytes[start..].iter().position(|&b| b == b'\n') {
            let mut line = &bytes[start..start + nl];
            if let [rest @ .., b'\r'] = line {
                line = rest;
            }
            let at = from + start as u64;
            let (worker_id, op) = match optuna_codec::decode_line(line) {
                Ok(decoded) => decoded,
                Err(e) => {
                    let error = match e {
                        LineError::UnknownOperation(code) => {
                            Error::UnknownOperation { path: self.path.clone(), offset: at, code }
                        }
                        LineError::Malformed(reason) => Error::Corruption {
                            path: self.path.clone(),
                            offset: at,
                            reason: format!("bad Optuna journal line: {reason}"),
                        },
                    };
                    let len = nl as u64 + 1;
                    match self.recovery.bad_record(&self.path, at, len, error)? {
                        BadRecord::Stop => return Ok(at),
                        BadRecord::Skip => {
                            start += nl + 1;
                            continue;
                        }
                    }
                }
            };
            batch.worker_id = worker_id;
            batch.ops.clear();
            batch.ops.push(op);
            sink(at, &batch)?;
            start += nl + 1;
        }
        Ok(from + start as u64)
    }

    fn stores_extension_ops(&self) -> bool {
        false
    }

    fn recovery_report(&self) -> RecoveryReport {
        self.recovery.report()
    }

    fn lock(&self) -> Result<LockGuard<'_>> {
        self.check_poisoned()?;
        self.lock.acquire()
    }

    fn append_if(
        &self,
        guard: &LockGuard<'_>,
        expected_end: u64,
        batch: &LogBatch,
    ) -> Result<AppendOutcome> {
        self.check_poisoned()?;
        self.recovery.check_writable(&self.path)?;
        let mut text = String::new();
        for op in &batch.ops {
            optuna_codec::encode_line(&batch.worker_id, op, &mut text)
                .map_err(|e| Error::NotRepresentable { path: self.path.clone(), code: e.0 })?;
        }
        let tail = self.read_tail(expected_end)?;
        if tail.contains(&b'\n') {
            return Ok(AppendOutcome::Moved);
        }
        guard.verify_held()?;
        if !tail.is_empty() && self.recovery.mode() == RecoveryMode::AbsoluteConsistency {
            return Err(Error::Corruption {
                path: self.path.clone(),
                offset: expected_end,
                reason: format!(
                    "a torn last line of {} bytes (absolute-consistency refuses to drop it)",
                    tail.len()
                ),
            });
        }
        if !tail.is_empty() {
            // We hold the lock, so no writer is in the middle of this line: a crashed writer
            // left it, unacknowledged. Optuna's readers ignore it too.
            log::warn!(
                "{}: dropping a torn last line of {} bytes at offset {expected_end} left by a crashed writer",
                self.path.display(),
                tail.len()
            );
            if let Err(e) = self.file.set_len(expected_end) {
                return Err(self.poison("truncate", e));
            }
        }
        if let Err(e) = self.file.write_all_at(text.as_bytes(), expected_end) {
            return Err(self.poison("write", e));
        }
        if let Err(e) = self.file.sync_data() {
            return Err(self.poison("fsync", e));
        }
        Ok(AppendOutcome::Appended { end: expected_end + text.len() as u64 })
    }
}
