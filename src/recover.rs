//! Checking and rewriting damaged journals: the library side of `trialog verify` and
//! `trialog recover` (behaviour, modes and exit codes in `docs/RECOVERY.md`).
//!
//! Both read the whole file and walk it with [`backend::survey`], which reports every frame and
//! every invalid region; this module only decides what to count, keep and drop.

use std::fs::{self, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use crate::backend::{self, HeaderState, RecoveryMode, Segment};
use crate::error::{Error, Result};
use crate::journal::frame;
use crate::lock::{self, LockOptions};
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
    /// The header's state.
    pub header: HeaderState,
    /// Valid frames holding a batch that decodes.
    pub batch_frames: u64,
    /// Valid padding frames.
    pub padding_frames: u64,
    /// Operations in those batches.
    pub operations: u64,
    /// Operations replay applied.
    pub operations_applied: u64,
    /// Operations replay ignored (invalid when replayed; only foreign writers produce these).
    pub operations_ignored: u64,
    /// End of the longest run of valid frames from the header on: where the committed log ends
    /// for a reader in the default mode.
    pub valid_end: u64,
    /// Bytes after the last valid frame that no valid frame follows: (offset, length).
    pub torn_tail: Option<(u64, u64)>,
    /// Invalid regions that valid frames follow, and a damaged header (offset 0).
    pub corrupt: Vec<BadRange>,
    /// CRC-valid frames that do not decode (including operations this build does not know).
    pub undecodable: Vec<BadRange>,
}

/// How clean a verified journal is (each maps to one `trialog verify` exit code).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Verdict {
    /// A valid header and only valid frames up to the end of the file.
    Clean,
    /// Clean except for a torn tail (or an append in flight, if writers are running).
    TornTail,
    /// Corruption: a damaged header, invalid bytes followed by valid frames, or a frame that
    /// does not decode.
    Corrupt,
}

impl VerifyReport {
    /// The verdict: [`Verdict::Corrupt`] if anything is corrupt, else [`Verdict::TornTail`] if
    /// there is a torn tail (or the header is incomplete), else [`Verdict::Clean`].
    pub fn verdict(&self) -> Verdict {
        if !self.corrupt.is_empty() || !self.undecodable.is_empty() {
            Verdict::Corrupt
        } else if self.torn_tail.is_some() || self.header == HeaderState::Incomplete {
            Verdict::TornTail
        } else {
            Verdict::Clean
        }
    }
}

/// Reads the journal at `path` (without locking or changing it), checks the header and every
/// frame, decodes and replays every batch, and reports what it found. Fails only when the file
/// cannot be read, is not a trialog journal, or has a newer format; damage is in the report.
pub fn verify(path: &Path) -> Result<VerifyReport> {
    let bytes = fs::read(path).map_err(|e| Error::io("read", path, e))?;
    verify_bytes(path, &bytes)
}

/// [`verify`] over bytes already read (`path` names them in the report and errors).
pub fn verify_bytes(path: &Path, bytes: &[u8]) -> Result<VerifyReport> {
    let mut report = VerifyReport {
        path: path.to_owned(),
        file_len: bytes.len() as u64,
        header: HeaderState::Valid,
        batch_frames: 0,
        padding_frames: 0,
        operations: 0,
        operations_applied: 0,
        operations_ignored: 0,
        valid_end: frame::HEADER_LEN.min(bytes.len()) as u64,
        torn_tail: None,
        corrupt: Vec::new(),
        undecodable: Vec::new(),
    };
    let mut state = ReplayState::new();
    let mut unbroken = true;
    report.header = backend::survey(path, bytes, |segment| {
        let mut valid_frame_end = None;
        match segment {
            Segment::Batch { offset, len, batch, .. } => {
                report.batch_frames += 1;
                report.operations += batch.ops.len() as u64;
                state.apply_batch(batch);
                valid_frame_end = Some(offset + len);
            }
            Segment::Padding { offset, len } => {
                report.padding_frames += 1;
                valid_frame_end = Some(offset + len);
            }
            Segment::Invalid { offset, len, torn: true } => report.torn_tail = Some((offset, len)),
            Segment::Invalid { offset, len, torn: false } => report.corrupt.push(BadRange {
                offset,
                len,
                reason: "invalid frame followed by a valid frame".to_owned(),
            }),
            Segment::Undecodable { offset, len, error } => {
                report.undecodable.push(BadRange { offset, len, reason: error.to_string() });
            }
        }
        match valid_frame_end {
            Some(end) if unbroken => report.valid_end = end,
            Some(_) => {}
            None => unbroken = false,
        }
    })?;
    if report.header == HeaderState::Damaged {
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
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecoverOptions {
    /// Which frames to keep (see the table in `docs/RECOVERY.md`).
    pub mode: RecoveryMode,
    /// Write the clean journal here (must not exist) instead of replacing the original.
    pub out: Option<PathBuf>,
    /// The lock the journal's writers use; held for the whole operation.
    pub lock: LockOptions,
}

/// What `recover` kept, dropped and wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct RecoverReport {
    /// The mode used.
    pub mode: RecoveryMode,
    /// Batch frames kept (re-framed, in order).
    pub kept_frames: u64,
    /// Operations in the kept frames.
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

/// The clean journal `mode` makes of `bytes`, and what it kept and dropped. Fails, naming the
/// offset, when the mode refuses to drop what it found (see `docs/RECOVERY.md`).
pub fn recover_bytes(
    path: &Path,
    bytes: &[u8],
    mode: RecoveryMode,
) -> Result<(Vec<u8>, RecoverReport)> {
    let mut out = frame::encode_header().to_vec();
    let mut report = RecoverReport {
        mode,
        kept_frames: 0,
        kept_operations: 0,
        padding_dropped: 0,
        dropped: Vec::new(),
        written: None,
        backup: None,
    };
    let refuse = |offset: u64, what: &str| Error::Corruption {
        path: path.to_owned(),
        offset,
        reason: format!("{what}; recovery mode {mode} does not drop it (see docs/RECOVERY.md)"),
    };
    let mut stopped = false;
    let mut failure = None;
    let header = backend::survey(path, bytes, |segment| {
        if stopped || failure.is_some() {
            return;
        }
        let (offset, len, torn, what) = match segment {
            Segment::Batch { payload, batch, .. } => {
                frame::encode_frame(payload, &mut out);
                report.kept_frames += 1;
                report.kept_operations += batch.ops.len() as u64;
                return;
            }
            Segment::Padding { .. } => {
                report.padding_dropped += 1;
                return;
            }
            Segment::Undecodable { error: error @ Error::UnknownOperation { .. }, .. } => {
                failure = Some(error);
                return;
            }
            Segment::Invalid { offset, len, torn: true } => {
                (offset, len, true, "torn tail".to_owned())
            }
            Segment::Invalid { offset, len, torn: false } => {
                (offset, len, false, "invalid frame followed by a valid frame".to_owned())
            }
            Segment::Undecodable { offset, len, error } => (offset, len, false, error.to_string()),
        };
        match mode {
            RecoveryMode::AbsoluteConsistency => failure = Some(refuse(offset, &what)),
            RecoveryMode::TolerateCorruptedTail if !torn => {
                failure = Some(refuse(offset, &what));
            }
            RecoveryMode::PointInTime => {
                stopped = true;
                let len = bytes.len() as u64 - offset;
                report.dropped.push(BadRange {
                    offset,
                    len,
                    reason: format!("{what}, and everything after it"),
                });
            }
            _ => report.dropped.push(BadRange { offset, len, reason: what }),
        }
    })?;
    if let Some(e) = failure {
        return Err(e);
    }
    let whole =
        |reason: &str| BadRange { offset: 0, len: bytes.len() as u64, reason: reason.into() };
    match (header, mode) {
        (HeaderState::Valid, _) => {}
        (HeaderState::Incomplete, _) if bytes.is_empty() => {}
        (HeaderState::Incomplete, RecoveryMode::AbsoluteConsistency) => {
            return Err(refuse(0, "incomplete header"));
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
        (HeaderState::Damaged, _) => return Err(refuse(0, "damaged header")),
    }
    Ok((out, report))
}

/// Rewrites the journal at `path` as a clean journal per `options` (see `docs/RECOVERY.md`),
/// holding the journal's writer lock throughout.
///
/// Guarantees: with `out`, the original is not modified and `out` appears complete or not at
/// all; in place, a byte-for-byte backup `<journal>.bak-<time>` is durable before the journal is
/// atomically replaced, and nothing is written when there is nothing to drop. On any error
/// nothing has been replaced. Does not make open handles of the old file see the new one:
/// writers fail with [`Error::JournalReplaced`], readers must reopen.
pub fn recover(path: &Path, options: &RecoverOptions) -> Result<RecoverReport> {
    let canonical = fs::canonicalize(path).map_err(|e| Error::io("open", path, e))?;
    let lock = lock::open_lock(&canonical, &options.lock)?;
    let guard = lock.acquire()?;
    let bytes = fs::read(&canonical).map_err(|e| Error::io("read", path, e))?;
    let (clean, mut report) = recover_bytes(path, &bytes, options.mode)?;
    let permissions =
        fs::metadata(&canonical).map_err(|e| Error::io("stat", path, e))?.permissions();
    match &options.out {
        Some(out) => {
            write_new(out, &clean, &permissions, false)?;
            report.written = Some(out.clone());
        }
        None if report.dropped.is_empty() => {}
        None => {
            let backup = backup_path(&canonical);
            write_new(&backup, &bytes, &permissions, false)?;
            report.backup = Some(backup);
            guard.verify_held()?;
            write_new(&canonical, &clean, &permissions, true)?;
            report.written = Some(path.to_owned());
        }
    }
    drop(guard);
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

/// Writes `bytes` to a temporary file beside `target`, syncs it, moves it to `target` (replacing
/// it if `replace`, else failing if it exists) and syncs the directory.
fn write_new(
    target: &Path,
    bytes: &[u8],
    permissions: &fs::Permissions,
    replace: bool,
) -> Result<()> {
    let dir = match target.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let name = target.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let tmp = dir.join(format!(".{name}.{}.recovering", uuid::Uuid::new_v4().simple()));
    let result = (|| {
        let mut file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&tmp)
            .map_err(|e| Error::io("create", target, e))?;
        file.write_all(bytes).map_err(|e| Error::io("write", target, e))?;
        file.set_permissions(permissions.clone()).map_err(|e| Error::io("chmod", target, e))?;
        file.sync_all().map_err(|e| Error::io("fsync", target, e))?;
        drop(file);
        if replace {
            fs::rename(&tmp, target).map_err(|e| Error::io("rename", target, e))?;
        } else {
            // A hard link fails if `target` exists, so an existing file is never clobbered.
            fs::hard_link(&tmp, target).map_err(|e| Error::io("create", target, e))?;
        }
        backend::sync_dir(&dir)
    })();
    let _ = fs::remove_file(&tmp); // gone after a rename; the extra link after a hard link
    result
}
