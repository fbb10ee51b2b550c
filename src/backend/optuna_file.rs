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

use std::borrow::Cow;
use std::fs::OpenOptions;
use std::io::{self, ErrorKind};
use std::path::{Path, PathBuf};

use super::io::{self as fio, Faults, JournalFile};
use super::poison::Poison;
use super::recovery::Recovery;
use super::{AppendOutcome, LogBackend, RecoveryMode, RecoveryReport};
use crate::error::{Error, Result};
use crate::journal::optuna_codec::{self, LineDecoder, LineError};
use crate::journal::{LogBatch, Operation};
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
/// Guarantees: an append that returns `Appended` (lines that `write_if` wrote, once
/// `sync_written` returned) has been written and `fdatasync`ed (Optuna 5.0 fsyncs too); after a failed write or fsync the handle is poisoned ([`Error::Poisoned`]);
/// operations Optuna cannot read are refused with [`Error::NotRepresentable`] before anything is
/// written. Not guaranteed: that a batch of several operations is all-or-nothing after a crash
/// (each line is; trialog's storage writes one operation per batch); exclusion from writers that
/// ignore `<journal>.lock` or hold it past the grace period (see [`OptunaLock`]); integrity
/// checks (the format has no checksum: a damaged line that is still valid JSON goes unnoticed).
#[derive(Debug)]
pub struct OptunaJournalFile {
    path: PathBuf,
    file: JournalFile,
    /// Why the file could only be opened for reading (a read-only mount, no write permission).
    read_only: Option<io::Error>,
    lock: OptunaLock,
    poisoned: Poison,
    recovery: Recovery,
    faults: Faults,
}

impl OptunaJournalFile {
    /// Opens (creating if missing) the Optuna journal at `path` with Optuna's symlink lock.
    pub fn open(path: impl AsRef<Path>) -> Result<Self> {
        Self::open_with(path, &OptunaFileOptions::default())
    }

    /// Opens the Optuna journal at `path`. Fails with [`Error::NotAnOptunaJournal`] if the file
    /// is not empty and does not start with `{` (saying what it is instead, e.g. a trialog
    /// journal).
    ///
    /// Where the file cannot be written (a read-only mount or snapshot, no write permission) it
    /// is opened for reading only: replay works, and taking the write lock fails with
    /// [`Error::Io`] naming the reason (before anything is created at `<journal>.lock`).
    pub fn open_with(path: impl AsRef<Path>, options: &OptunaFileOptions) -> Result<Self> {
        Self::open_inner(path.as_ref(), options, Faults::default())
    }

    /// [`OptunaJournalFile::open_with`], with every system call on the journal going through
    /// `faults` (which can fail or shorten it, and record it). Only with the cargo feature
    /// `fault-injection`.
    #[cfg(feature = "fault-injection")]
    pub fn open_with_faults(
        path: impl AsRef<Path>,
        options: &OptunaFileOptions,
        faults: std::sync::Arc<super::fault::FaultInjector>,
    ) -> Result<Self> {
        Self::open_inner(path.as_ref(), options, Some(faults))
    }

    fn open_inner(path: &Path, options: &OptunaFileOptions, faults: Faults) -> Result<Self> {
        let path = path.to_path_buf();
        if options.create && !path.exists() {
            OpenOptions::new()
                .append(true)
                .create(true)
                .open(&path)
                .and_then(|created| created.sync_all())
                .map_err(|e| Error::io("create", &path, e))?;
            let dir = match path.parent() {
                Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
                _ => PathBuf::from("."),
            };
            fio::sync_dir(&dir, &faults).map_err(|e| Error::io("fsync directory", &dir, e))?;
        }
        let (file, read_only) =
            fio::open_existing(&path).map_err(|e| Error::io("open", &path, e))?;
        let file =
            JournalFile::new(file, &path, &faults).map_err(|e| Error::io("open", &path, e))?;
        let mut head = [0u8; 8];
        let n = file.read_full_at(&mut head, 0).map_err(|e| Error::io("read", &path, e))?;
        if n > 0 && head[0] != b'{' {
            let mut reason = super::detect::what_it_is(&head[..n]);
            if super::detect_head(&path, &head[..n]).is_ok() {
                reason += ": open it as one (JournalStorage::open), or convert it with `trialog export --format optuna`";
            }
            return Err(Error::NotAnOptunaJournal { path, reason });
        }
        let lock = OptunaLock::new(&path, options.lock.clone());
        let recovery = Recovery::new(options.recovery);
        Ok(OptunaJournalFile {
            path,
            file,
            read_only,
            lock,
            poisoned: Poison::default(),
            recovery,
            faults,
        })
    }

    /// Under the lock: where the journal ends, as its server confirms it (never a length a
    /// network file system client cached: see `docs/LOCKING.md`, "Shared file systems"), in the
    /// same look that checks that the path still names the file this handle has open. Fails with
    /// [`Error::JournalReplaced`] if it names another file or nothing (`trialog recover` renamed
    /// a clean journal into place), so nothing is appended to a file nobody reads any more.
    fn confirmed_end(&self) -> Result<u64> {
        use crate::sys::identity;
        let open =
            identity::of_file(self.file.file()).map_err(|e| Error::io("stat", &self.path, e))?;
        match fio::confirmed_stat(&self.path, &self.faults) {
            Ok(look) if look.id == open.id => Ok(look.len),
            Ok(_) => Err(Error::JournalReplaced { path: self.path.clone() }),
            Err(e) if e.kind() == ErrorKind::NotFound => {
                Err(Error::JournalReplaced { path: self.path.clone() })
            }
            Err(e) => Err(Error::io("stat", &self.path, e)),
        }
    }

    /// After a write of `text` at `at` failed with `e` (a full disk, an I/O error), under the
    /// lock: poisons the handle and cuts off the partial line the write may have left, so the
    /// file still ends in a complete line. Otherwise the next writer (Python's append does not
    /// repair) would glue its line onto the fragment, making a line neither Optuna nor trialog can
    /// read. Cutting is safe: no reader reads a line before its `\n` and Optuna's readers never
    /// map the file. Complete lines of a multi-line batch that reached the file stay (as after a
    /// crash). If the cut fails, the poisoning error says the file may end in a partial line and
    /// what to do.
    fn failed_write(&self, at: u64, text: &[u8], e: io::Error) -> Error {
        match self.cut_partial_line(at, text) {
            Ok(()) => self.poison("write", e),
            Err(cut) => {
                let journal = self.path.display();
                let what = format!(
                    "{e}; removing the partial line it left at offset {at} failed too ({cut}): {journal} may end in a partial line, onto which a Python Optuna writer would glue its next line; before any writer appends, run `trialog recover --mode tolerate-corrupted-tail {journal}` (or remove the bytes after the last newline)"
                );
                self.poison("write", io::Error::new(e.kind(), what))
            }
        }
    }

    /// Truncates the file to the end of the last complete line our failed write of `text` at
    /// `at` left (to `at` itself for a single line), after checking that the bytes past `at` are
    /// ours; syncs the new length. Nothing to do if the write left no partial line.
    fn cut_partial_line(&self, at: u64, text: &[u8]) -> io::Result<()> {
        let len = self.file.len()?;
        if len <= at {
            return Ok(());
        }
        let written = usize::try_from(len - at).unwrap_or(usize::MAX);
        let mut ours = vec![0u8; written.min(text.len())];
        let n = self.file.read_full_at(&mut ours, at)?;
        if written > text.len() || n != ours.len() || ours != text[..n] {
            return Err(io::Error::other(
                "the bytes after the write's offset are not the ones it wrote (did another writer append?)",
            ));
        }
        let keep = ours.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
        if keep == ours.len() {
            return Ok(());
        }
        log::warn!(
            "{}: removing the partial line a failed write left at offset {}",
            self.path.display(),
            at + keep as u64
        );
        self.file.set_len(at + keep as u64)?;
        self.file.sync_data()
    }

    fn check_poisoned(&self) -> Result<()> {
        self.poisoned.check(&self.path)
    }

    fn poison(&self, op: &'static str, e: io::Error) -> Error {
        self.poisoned.set(&self.path, op, e)
    }

    /// The lines of `batches` (LF), or [`Error::NotRepresentable`] for an operation Optuna's
    /// format cannot hold.
    fn encode(&self, batches: &[LogBatch]) -> Result<String> {
        let mut text = String::new();
        for batch in batches {
            for op in &batch.ops {
                optuna_codec::encode_line(&batch.worker_id, op, &mut text)
                    .map_err(|e| Error::NotRepresentable { path: self.path.clone(), code: e.0 })?;
            }
        }
        Ok(text)
    }

    /// The file's length (`fstat`), which must be at least `from`: an error if the file is now
    /// shorter than that (someone truncated acknowledged lines).
    fn len_from(&self, from: u64) -> Result<u64> {
        let len = self.file.len().map_err(|e| Error::io("stat", &self.path, e))?;
        self.check_at_least(from, len)
    }

    /// `len`, if at least `from`: an error otherwise (someone truncated acknowledged lines).
    fn check_at_least(&self, from: u64, len: u64) -> Result<u64> {
        if len < from {
            return Err(Error::Corruption {
                path: self.path.clone(),
                offset: len,
                reason: format!("the file shrank below the already-read position {from}"),
            });
        }
        Ok(len)
    }

    /// The bytes from `from` (at most `len`, a length already checked to be at least `from`)
    /// to `len`, fewer if the file ends first.
    fn read_between(&self, from: u64, len: u64) -> Result<Vec<u8>> {
        let want = usize::try_from(len - from).unwrap_or(usize::MAX);
        let mut buf = vec![0u8; want];
        let filled =
            self.file.read_full_at(&mut buf, from).map_err(|e| Error::io("read", &self.path, e))?;
        buf.truncate(filled);
        Ok(buf)
    }
}

/// Decodes one complete line (without its `\n`; a trailing `\r` is ignored) found at byte offset
/// `at` of `path` with `decoder`: [`Error::UnknownOperation`] or [`Error::Corruption`] naming
/// the offset if it does not decode.
pub(crate) fn decode_line_at<'l>(
    path: &Path,
    at: u64,
    line: &'l [u8],
    decoder: &mut LineDecoder,
) -> Result<(Cow<'l, str>, Operation)> {
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    decoder.decode(line).map_err(|e| match e {
        LineError::UnknownOperation(code) => {
            Error::UnknownOperation { path: path.to_owned(), offset: at, code }
        }
        LineError::Malformed(reason) => Error::Corruption {
            path: path.to_owned(),
            offset: at,
            reason: format!("bad Optuna journal line: {reason}"),
        },
    })
}

impl LogBackend for OptunaJournalFile {
    type WriteGuard<'a> = LockGuard<'a>;

    fn path(&self) -> &Path {
        &self.path
    }

    fn reads_stay_local(&self) -> bool {
        true
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
        let len = self.len_from(from)?;
        let mut on_bad = |at, len, error| self.recovery.bad_record(&self.path, at, len, error);
        super::lines::deliver_lines(&self.path, &self.file, from, len, &mut on_bad, sink)
    }

    fn stores_extension_ops(&self) -> bool {
        false
    }

    fn recovery_report(&self) -> RecoveryReport {
        self.recovery.report()
    }

    fn snapshot_source(&self) -> Option<(&Path, super::JournalFormat)> {
        (self.recovery.mode() == super::RecoveryMode::default())
            .then_some((self.path.as_path(), super::JournalFormat::Optuna))
    }

    fn snapshot_file(&self) -> Option<std::fs::File> {
        self.file.file().try_clone().ok()
    }

    fn lock(&self) -> Result<LockGuard<'_>> {
        self.check_poisoned()?;
        if let Some(e) = &self.read_only {
            let refused = match e.raw_os_error() {
                Some(code) => io::Error::from_raw_os_error(code),
                None => io::Error::new(e.kind(), e.to_string()),
            };
            return Err(Error::io("open for writing", &self.path, refused));
        }
        let guard = self.lock.acquire()?;
        // A revalidation point: on a network file system the catch-up read that follows must
        // not see the journal as this client cached it before another host appended (the
        // length a later `fstat` gives, and the bytes below it, are then the server's).
        match fio::confirmed_stat(&self.path, &self.faults) {
            Ok(_) => Ok(guard),
            Err(e) if e.kind() == ErrorKind::NotFound => Ok(guard), // append_if reports it
            Err(e) => Err(Error::io("stat", &self.path, e)),
        }
    }

    fn check_batch(&self, batch: &LogBatch) -> Result<()> {
        self.encode(std::slice::from_ref(batch)).map(drop)
    }

    fn write_if(
        &self,
        guard: &LockGuard<'_>,
        expected_end: u64,
        batches: &[LogBatch],
    ) -> Result<AppendOutcome> {
        self.check_poisoned()?;
        self.recovery.check_writable(&self.path)?;
        let text = self.encode(batches)?;
        // Where the journal ends, confirmed under the lock (on NFS, another client's line may be
        // past the length this client cached), and every byte up to there.
        let end = self.check_at_least(expected_end, self.confirmed_end()?)?;
        let tail = self.read_between(expected_end, end)?;
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
            return Err(self.failed_write(expected_end, text.as_bytes(), e));
        }
        Ok(AppendOutcome::Appended { end: expected_end + text.len() as u64 })
    }

    fn sync_written(&self, _guard: &LockGuard<'_>) -> Result<()> {
        self.check_poisoned()?;
        // A failed fsync leaves the lines in place: they are complete, and a reader may have
        // read them already (cutting them would shift the lines after them under its offsets).
        if let Err(e) = self.file.sync_data() {
            return Err(self.poison("fsync", e));
        }
        Ok(())
    }
}
