//! Checking and rewriting damaged journals: the library side of `trialog verify` and
//! `trialog recover` (behaviour, modes and exit codes in `docs/RECOVERY.md`), for trialog and
//! Optuna JSON-lines journals alike.
//!
//! Both read the whole file, detect its format from the first bytes ([`backend::detect_head`]),
//! and walk it with [`backend::survey`] (frames) or [`backend::survey_lines`] (Optuna lines),
//! which report every record and every invalid region; this module only decides what to count,
//! keep and drop. An empty file is an empty journal of no format yet: clean, nothing to recover.

use std::fs;
use std::path::{Path, PathBuf};

use crate::backend::new_file::{NewFile, Place};
use crate::backend::{self, HeaderState, JournalFormat, RecoveryMode, Segment};
use crate::error::{Error, Result};
use crate::journal::frame;
use crate::lock::{LockGuard, LockOptions, OptunaLockOptions};
use crate::replay::ReplayState;

/// A region of bytes and what is wrong with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadRange {
    /// Byte offset of its first byte.
    pub offset: u64,
    /// Its length in bytes.
    pub len: u64,
    /// What is wrong with it.
    pub reason: String,
}

/// Everything `verify` found in a journal.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct VerifyReport {
    /// The journal.
    pub path: PathBuf,
    /// Its size in bytes when it was read.
    pub file_len: u64,
    /// The format detected from its first bytes; `None` for an empty file (an empty journal of no
    /// format yet).
    pub format: Option<JournalFormat>,
    /// The header's state (trialog journals only; `None` otherwise).
    pub header: Option<HeaderState>,
    /// Valid frames holding a batch that decodes (trialog journals).
    pub batch_frames: u64,
    /// Valid padding frames (trialog journals).
    pub padding_frames: u64,
    /// Complete lines that decode (Optuna journals).
    pub lines: u64,
    /// Operations in those batches or lines.
    pub operations: u64,
    /// Operations replay applied.
    pub operations_applied: u64,
    /// Operations replay ignored (invalid when replayed; only foreign writers produce these).
    pub operations_ignored: u64,
    /// End of the longest run of valid frames (or lines) from the start: where the committed log
    /// ends for a reader in the default mode.
    pub valid_end: u64,
    /// Bytes after the last valid frame that no valid frame follows, or an Optuna journal's last
    /// line without its `\n`: (offset, length).
    pub torn_tail: Option<(u64, u64)>,
    /// Invalid regions that valid frames follow, a damaged header (offset 0), and complete Optuna
    /// lines that do not decode.
    pub corrupt: Vec<BadRange>,
    /// CRC-valid frames that do not decode, and records (frames or lines) holding an operation
    /// this build does not know.
    pub undecodable: Vec<BadRange>,
}

/// How clean a verified journal is (each maps to one `trialog verify` exit code).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Verdict {
    /// A valid header and only valid frames (or only complete lines that decode) up to the end of
    /// the file; also an empty file.
    Clean,
    /// Clean except for a torn tail (or an append in flight, if writers are running).
    TornTail,
    /// Corruption: a damaged header, invalid bytes followed by valid frames, or a frame or line
    /// that does not decode.
    Corrupt,
}

impl VerifyReport {
    /// The verdict: [`Verdict::Corrupt`] if anything is corrupt, else [`Verdict::TornTail`] if
    /// there is a torn tail (or the header is incomplete), else [`Verdict::Clean`].
    pub fn verdict(&self) -> Verdict {
        if !self.corrupt.is_empty() || !self.undecodable.is_empty() {
            Verdict::Corrupt
        } else if self.torn_tail.is_some() || self.header == Some(HeaderState::Incomplete) {
            Verdict::TornTail
        } else {
            Verdict::Clean
        }
    }
}

/// Reads the journal at `path` (without locking or changing it; a read-only file or mount is
/// fine), detects its format, checks every frame or line, decodes and replays every operation,
/// and reports what it found. Fails only when the file cannot be read, is neither format, or has a
/// newer trialog format; damage is in the report.
pub fn verify(path: &Path) -> Result<VerifyReport> {
    let bytes = fs::read(path).map_err(|e| Error::io("read", path, e))?;
    verify_bytes(path, &bytes)
}

/// A decoding error's reason, without the path and offset the report already shows.
fn reason_of(error: &Error) -> String {
    match error {
        Error::Corruption { reason, .. } => reason.clone(),
        Error::UnknownOperation { code, .. } => {
            format!("operation code {code}, which requires a newer trialog")
        }
        other => other.to_string(),
    }
}

/// [`verify`] over bytes already read (`path` names them in the report and errors).
pub fn verify_bytes(path: &Path, bytes: &[u8]) -> Result<VerifyReport> {
    let format = backend::detect_head(path, bytes)?;
    let mut report = VerifyReport {
        path: path.to_owned(),
        file_len: bytes.len() as u64,
        format,
        header: None,
        batch_frames: 0,
        padding_frames: 0,
        lines: 0,
        operations: 0,
        operations_applied: 0,
        operations_ignored: 0,
        valid_end: match format {
            Some(JournalFormat::Trialog) => frame::HEADER_LEN.min(bytes.len()) as u64,
            _ => 0,
        },
        torn_tail: None,
        corrupt: Vec::new(),
        undecodable: Vec::new(),
    };
    let mut state = ReplayState::new();
    let mut unbroken = true;
    let optuna = format == Some(JournalFormat::Optuna);
    let mut on_segment = |segment: Segment<'_>| {
        let mut valid_end = None;
        match segment {
            Segment::Batch { offset, len, batch, .. } => {
                if optuna {
                    report.lines += 1;
                } else {
                    report.batch_frames += 1;
                }
                report.operations += batch.ops.len() as u64;
                state.apply_batch(batch);
                valid_end = Some(offset + len);
            }
            Segment::Padding { offset, len } => {
                report.padding_frames += 1;
                valid_end = Some(offset + len);
            }
            Segment::Invalid { offset, len, torn: true } => report.torn_tail = Some((offset, len)),
            Segment::Invalid { offset, len, torn: false } => report.corrupt.push(BadRange {
                offset,
                len,
                reason: "invalid frame followed by a valid frame".to_owned(),
            }),
            Segment::Undecodable { offset, len, error } => {
                let bad = BadRange { offset, len, reason: reason_of(&error) };
                match error {
                    Error::Corruption { .. } if optuna => report.corrupt.push(bad),
                    _ => report.undecodable.push(bad),
                }
            }
        }
        match valid_end {
            Some(end) if unbroken => report.valid_end = end,
            Some(_) => {}
            None => unbroken = false,
        }
    };
    let header = match format {
        None => None,
        Some(JournalFormat::Optuna) => {
            backend::survey_lines(path, bytes, &mut on_segment);
            None
        }
        Some(JournalFormat::Trialog) => Some(backend::survey(path, bytes, &mut on_segment)?),
    };
    report.header = header;
    if header == Some(HeaderState::Damaged) {
        report.corrupt.insert(
            0,
            BadRange {
                offset: 0,
                len: frame::HEADER_LEN as u64,
                reason: "damaged header (the magic is intact)".to_owned(),
            },
        );
    }
    let stats = state.stats();
    report.operations_applied = stats.applied;
    report.operations_ignored = stats.ignored;
    Ok(report)
}

/// How to recover a journal.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RecoverOptions {
    /// Which frames (or lines) to keep (see the table in `docs/RECOVERY.md`).
    pub mode: RecoveryMode,
    /// Write the clean journal here (must not exist) instead of replacing the original.
    pub out: Option<PathBuf>,
    /// The lock the writers of a **trialog** journal use; held for the whole operation.
    pub lock: LockOptions,
    /// Optuna's lock, as the writers of an **Optuna** journal use it (Python's
    /// `JournalFileSymlinkLock` by default); held for the whole operation. trialog's own lock is
    /// never taken on an Optuna journal.
    pub optuna_lock: OptunaLockOptions,
}

/// What `recover` kept, dropped and wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct RecoverReport {
    /// The mode used.
    pub mode: RecoveryMode,
    /// The journal's format; `None` for an empty file (nothing to recover).
    pub format: Option<JournalFormat>,
    /// Batch frames kept (trialog journals: re-framed, in order).
    pub kept_frames: u64,
    /// Lines kept (Optuna journals: byte for byte, in order).
    pub kept_lines: u64,
    /// Operations in the kept frames or lines.
    pub kept_operations: u64,
    /// Padding frames left out (they carry nothing).
    pub padding_dropped: u64,
    /// Regions of the original that were dropped, in file order.
    pub dropped: Vec<BadRange>,
    /// The file written, or `None` when the journal was recovered in place and had nothing to
    /// drop (nothing was written).
    pub written: Option<PathBuf>,
    /// The backup of the original (in-place recovery only).
    pub backup: Option<PathBuf>,
}

/// What one mode does with the segments of a survey: keeps records in `out`, lists what it
/// drops, and stops or fails where the mode says so.
struct Sieve<'p> {
    path: &'p Path,
    mode: RecoveryMode,
    format: JournalFormat,
    total_len: u64,
    out: Vec<u8>,
    report: RecoverReport,
    stopped: bool,
    failure: Option<Error>,
}

/// The error for a mode that refuses to drop `what` at `offset`.
fn refuse(path: &Path, mode: RecoveryMode, offset: u64, what: &str) -> Error {
    Error::Corruption {
        path: path.to_owned(),
        offset,
        reason: format!("{what}; recovery mode {mode} does not drop it (see docs/RECOVERY.md)"),
    }
}

impl Sieve<'_> {
    fn take(&mut self, segment: Segment<'_>) {
        if self.stopped || self.failure.is_some() {
            return;
        }
        let torn_what = match self.format {
            JournalFormat::Trialog => "torn tail",
            JournalFormat::Optuna => "torn last line (no newline)",
        };
        let (offset, len, torn, what) = match segment {
            Segment::Batch { payload, batch, .. } => {
                match self.format {
                    JournalFormat::Trialog => {
                        frame::encode_frame(payload, &mut self.out);
                        self.report.kept_frames += 1;
                    }
                    JournalFormat::Optuna => {
                        self.out.extend_from_slice(payload);
                        self.report.kept_lines += 1;
                    }
                }
                self.report.kept_operations += batch.ops.len() as u64;
                return;
            }
            Segment::Padding { .. } => {
                self.report.padding_dropped += 1;
                return;
            }
            Segment::Undecodable { error: error @ Error::UnknownOperation { .. }, .. } => {
                self.failure = Some(error);
                return;
            }
            Segment::Invalid { offset, len, torn: true } => {
                (offset, len, true, torn_what.to_owned())
            }
            Segment::Invalid { offset, len, torn: false } => {
                (offset, len, false, "invalid frame followed by a valid frame".to_owned())
            }
            Segment::Undecodable { offset, len, error } => (offset, len, false, reason_of(&error)),
        };
        match self.mode {
            RecoveryMode::AbsoluteConsistency => {
                self.failure = Some(refuse(self.path, self.mode, offset, &what));
            }
            RecoveryMode::TolerateCorruptedTail if !torn => {
                self.failure = Some(refuse(self.path, self.mode, offset, &what));
            }
            RecoveryMode::PointInTime => {
                self.stopped = true;
                self.report.dropped.push(BadRange {
                    offset,
                    len: self.total_len - offset,
                    reason: format!("{what}, and everything after it"),
                });
            }
            _ => self.report.dropped.push(BadRange { offset, len, reason: what }),
        }
    }
}

/// The clean journal `mode` makes of `bytes` (a whole journal of either format; the clean one has
/// the same format), and what it kept and dropped. Fails, naming the offset, when the mode
/// refuses to drop what it found (see `docs/RECOVERY.md`). An empty file gives an empty file.
pub fn recover_bytes(
    path: &Path,
    bytes: &[u8],
    mode: RecoveryMode,
) -> Result<(Vec<u8>, RecoverReport)> {
    let format = backend::detect_head(path, bytes)?;
    let report = RecoverReport {
        mode,
        format,
        kept_frames: 0,
        kept_lines: 0,
        kept_operations: 0,
        padding_dropped: 0,
        dropped: Vec::new(),
        written: None,
        backup: None,
    };
    let Some(format) = format else {
        return Ok((Vec::new(), report));
    };
    let mut sieve = Sieve {
        path,
        mode,
        format,
        total_len: bytes.len() as u64,
        out: Vec::new(),
        report,
        stopped: false,
        failure: None,
    };
    if format == JournalFormat::Optuna {
        backend::survey_lines(path, bytes, |segment| sieve.take(segment));
        return match sieve.failure {
            Some(e) => Err(e),
            None => Ok((sieve.out, sieve.report)),
        };
    }
    sieve.out.extend_from_slice(&frame::encode_header());
    let header = backend::survey(path, bytes, |segment| sieve.take(segment))?;
    if let Some(e) = sieve.failure.take() {
        return Err(e);
    }
    let (mut out, mut report) = (sieve.out, sieve.report);
    let whole =
        |reason: &str| BadRange { offset: 0, len: bytes.len() as u64, reason: reason.into() };
    match (header, mode) {
        (HeaderState::Valid, _) => {}
        (HeaderState::Incomplete, RecoveryMode::AbsoluteConsistency) => {
            return Err(refuse(path, mode, 0, "incomplete header"));
        }
        (HeaderState::Incomplete, _) => {
            report.dropped.push(whole("incomplete header (creation did not finish)"));
        }
        (HeaderState::Damaged, RecoveryMode::SkipAnyCorrupted) => {
            let reason = "damaged header (rewritten)".to_owned();
            report.dropped.insert(0, BadRange { offset: 0, len: frame::HEADER_LEN as u64, reason });
        }
        (HeaderState::Damaged, RecoveryMode::PointInTime) => {
            out.truncate(frame::HEADER_LEN);
            report.kept_frames = 0;
            report.kept_operations = 0;
            report.padding_dropped = 0;
            report.dropped = vec![whole("damaged header, and everything after it")];
        }
        (HeaderState::Damaged, _) => return Err(refuse(path, mode, 0, "damaged header")),
    }
    Ok((out, report))
}

/// Rewrites the journal at `path` (either format, detected from its first bytes) as a clean
/// journal of the same format per `options` (see `docs/RECOVERY.md`), holding the journal's
/// writer lock throughout: trialog's lock (`options.lock`) on a trialog journal, Optuna's lock
/// protocol (`options.optuna_lock`) on an Optuna journal, so that Python Optuna writers wait for
/// it and nothing but Optuna's protocol ever touches an Optuna journal's `<journal>.lock`.
///
/// Guarantees: with `out`, the original is not modified and `out` appears complete or not at
/// all (an existing `out` is refused before anything else happens); in place, a byte-for-byte
/// backup `<journal>.bak-<time>` is durable before the journal is atomically replaced, and
/// nothing is written when there is nothing to drop. On any error nothing has been replaced. An
/// empty file has nothing to recover (no lock is taken; `out` gets an empty file). Does not make
/// open handles of the old file see the new one: trialog writers fail with
/// [`Error::JournalReplaced`], readers must reopen.
pub fn recover(path: &Path, options: &RecoverOptions) -> Result<RecoverReport> {
    if let Some(out) = &options.out {
        if fs::symlink_metadata(out).is_ok() {
            let exists = std::io::Error::new(std::io::ErrorKind::AlreadyExists, "file exists");
            return Err(Error::io("refusing to overwrite", out, exists));
        }
    }
    let canonical = fs::canonicalize(path).map_err(|e| Error::io("open", path, e))?;
    for attempt in 1..=3 {
        let lock = backend::writers_lock(path, &options.lock, &options.optuna_lock)?;
        let locked_format = lock.as_ref().map(|(format, _)| *format);
        let guard = lock.as_ref().map(|(_, lock)| lock.acquire()).transpose()?;
        let bytes = fs::read(&canonical).map_err(|e| Error::io("read", path, e))?;
        // Under its format's lock a journal keeps its format; an empty file (no lock) may have
        // been given one by its first writer since we looked: look again, and lock.
        if backend::detect_head(path, &bytes)? == locked_format {
            return recover_locked(path, &canonical, &bytes, guard.as_ref(), options);
        }
        if attempt == 3 {
            break;
        }
    }
    Err(Error::JournalReplaced { path: path.to_owned() })
}

/// [`recover`] once the journal's lock is held (`guard`; `None` for an empty file) and its
/// `bytes` are read.
fn recover_locked(
    path: &Path,
    canonical: &Path,
    bytes: &[u8],
    guard: Option<&LockGuard<'_>>,
    options: &RecoverOptions,
) -> Result<RecoverReport> {
    let (clean, mut report) = recover_bytes(path, bytes, options.mode)?;
    let permissions =
        fs::metadata(canonical).map_err(|e| Error::io("stat", path, e))?.permissions();
    match &options.out {
        Some(out) => {
            write_new(out, &clean, &permissions, Place::New)?;
            report.written = Some(out.clone());
        }
        None if report.dropped.is_empty() => {}
        None => {
            let backup = backup_path(canonical);
            write_new(&backup, bytes, &permissions, Place::New)?;
            report.backup = Some(backup);
            if let Some(guard) = guard {
                guard.verify_held()?;
            }
            // The snapshot describes the old bytes; the new journal replays without one (its
            // writers take a new one). Removed first, so no crash leaves it beside the new file.
            let snapshot = crate::snapshot::path_for(canonical);
            match fs::remove_file(&snapshot) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                    let _ = fs::remove_file(report.backup.as_ref().expect("just set"));
                    return Err(Error::io("remove the snapshot", snapshot, e));
                }
                _ => {}
            }
            let hint = ", or write the clean journal to a new file with `trialog recover --out NEW` (RecoverOptions::out)";
            let place =
                Place::ReplaceJournal(canonical, "replace (trialog recover in place)", hint);
            if let Err(e) = write_new(canonical, &clean, &permissions, place) {
                let Error::JournalInUse { operation, hint, .. } = e else { return Err(e) };
                // Nothing was replaced: leave the directory as it was, without a backup of an
                // untouched journal; name the journal as the caller did.
                if let Some(backup) = &report.backup {
                    let _ = fs::remove_file(backup);
                }
                return Err(Error::JournalInUse { path: path.to_owned(), operation, hint });
            }
            report.written = Some(path.to_owned());
        }
    }
    Ok(report)
}

/// `<journal>.bak-<UTC time as YYYYmmddTHHMMSS.ffffffZ>`.
fn backup_path(journal: &Path) -> PathBuf {
    let stamp: String = crate::model::Timestamp::now()
        .to_string()
        .chars()
        .take(26)
        .filter(|c| c.is_ascii_digit() || *c == 'T' || *c == '.')
        .collect();
    let mut name = journal.as_os_str().to_owned();
    name.push(format!(".bak-{stamp}Z"));
    PathBuf::from(name)
}

/// Writes `bytes` durably as `target`, with the journal's `permissions` ([`NewFile`]).
fn write_new(
    target: &Path,
    bytes: &[u8],
    permissions: &fs::Permissions,
    place: Place,
) -> Result<()> {
    NewFile { permissions: Some(permissions), place, ..NewFile::new(target, "recovering") }
        .write(bytes)
}
