//! Online backup of a journal file: a byte-for-byte copy of a prefix of the journal that ends at
//! a record boundary (a frame of a trialog journal, a line of an Optuna journal), verified,
//! taken while writers keep writing; incremental into an existing backup.
//!
//! Why a prefix is a consistent backup: a journal is append-only and bytes before the end of
//! its last valid record never change (a torn tail is covered by padding written *after* it,
//! never by rewriting what precedes it), so the prefix a reader reached at some moment is a
//! journal on its own, and stays a prefix of the journal forever. The backup's cut is that
//! position. Writers are held up only for the moment it takes to read the journal's length under
//! their lock, which makes the cut a point where no append was in flight: every record in the
//! backup was acknowledged (made durable) by its writer.

use std::fs::{self, File, OpenOptions};
use std::io::{ErrorKind, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::backend::new_file::NewFile;
use crate::backend::{self, JournalFormat, Segment};
use crate::error::{Error, Result};
use crate::journal::frame::{self, ScanEnd};
use crate::lock::{LockOptions, OptunaLockOptions};
use crate::recover::{self, Verdict, VerifyReport};

/// Bytes read at a time while scanning and copying.
const CHUNK: usize = 8 << 20;

/// How to back up (see [`backup`]).
#[derive(Debug, Clone)]
pub struct BackupOptions {
    /// Read the journal's length under its writers' lock (default on), so that no append is in
    /// flight at the cut. Off for a journal on a read-only mount or snapshot; the cut is then the
    /// end of the valid records at the moment they are read.
    pub lock: bool,
    /// The lock a trialog journal's writers use.
    pub trialog_lock: LockOptions,
    /// The lock an Optuna journal's writers use (Optuna's protocol).
    pub optuna_lock: OptunaLockOptions,
    /// How many bytes of an existing backup to compare with the journal at its start and at its
    /// end before appending to it (default 1 MiB each; `None`: every byte).
    pub check_bytes: Option<u64>,
    /// Replay the whole backup afterwards ([`recover::verify`]) and fail unless it is clean.
    pub verify: bool,
}

impl Default for BackupOptions {
    fn default() -> Self {
        BackupOptions {
            lock: true,
            trialog_lock: LockOptions::default(),
            optuna_lock: OptunaLockOptions::default(),
            check_bytes: Some(1 << 20),
            verify: false,
        }
    }
}

/// What [`backup`] did.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct BackupReport {
    /// The backup file written or extended.
    pub dest: PathBuf,
    /// The journal's format (`None`: an empty journal, backed up as an empty file).
    pub format: Option<JournalFormat>,
    /// Where the backup ends: its length, a record boundary of the journal.
    pub cut: u64,
    /// The length of the backup before this call (0 when it was created).
    pub previous: u64,
    /// Whether the backup file was created by this call.
    pub created: bool,
    /// Bytes of the existing backup compared with the journal.
    pub compared: u64,
    /// How long the writers' lock was held (`None` without the lock).
    pub locked_for: Option<Duration>,
    /// The replay of the whole backup, with [`BackupOptions::verify`].
    pub verified: Option<VerifyReport>,
}

impl BackupReport {
    /// Bytes this call appended (or wrote into a new backup).
    pub fn appended(&self) -> u64 {
        self.cut - self.previous
    }
}

fn io<'a>(op: &'static str, path: &'a Path) -> impl FnOnce(std::io::Error) -> Error + 'a {
    move |e| Error::io(op, path, e)
}

/// Backs the journal at `journal` (either format) up into `dest`, while its writers write.
///
/// If `dest` does not exist (or is a directory: then into `dest/<journal's file name>`), it is
/// created holding the journal's bytes up to the cut (see the module docs), written under a
/// temporary name, synced and linked into place, so it appears whole or not at all. If it
/// exists, it must be an earlier backup of this journal: its first and last
/// [`BackupOptions::check_bytes`] bytes are compared with the journal's bytes at the same
/// offsets, and only the bytes from its end to the new cut are appended (then synced), so the
/// time taken follows the new bytes, not the journal's size.
///
/// Every byte copied was checked first: every frame's CRC (trialog) or every line's decoding
/// (Optuna), from the last record boundary at or before the backup's end. An interrupted backup
/// (a torn last record in `dest`) is completed by the next call.
///
/// Errors, each before anything is written: [`Error::BackupDiverged`] when `dest` is not a
/// prefix of the journal (another journal's backup, changed, longer than the journal's
/// committed log, or the journal lost or rewrote data since); [`Error::Corruption`] naming the
/// journal's offset when the bytes to copy hold corruption (invalid bytes followed by valid
/// records, or a record that does not decode); `InvalidArgument` when `dest` is the journal
/// itself. One backup at a time per destination.
pub fn backup(journal: &Path, dest: &Path, options: &BackupOptions) -> Result<BackupReport> {
    let dest = match fs::metadata(dest) {
        Ok(m) if m.is_dir() => match journal.file_name() {
            Some(name) => dest.join(name),
            None => return Err(Error::invalid("the journal path names no file")),
        },
        _ => dest.to_owned(),
    };
    let same = |a: &Path, b: &Path| match (fs::canonicalize(a), fs::canonicalize(b)) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    };
    if same(journal, &dest) {
        return Err(Error::invalid(format_args!(
            "{} is the journal itself; back up into another file",
            dest.display()
        )));
    }
    let mut source = File::open(journal).map_err(io("open", journal))?;
    let format = backend::detect_format(journal)?;
    let previous = match fs::symlink_metadata(&dest) {
        Ok(m) if m.is_file() => Some(m.len()),
        Ok(_) => {
            return Err(Error::invalid(format_args!(
                "{} exists and is not a regular file",
                dest.display()
            )));
        }
        Err(e) if e.kind() == ErrorKind::NotFound => None,
        Err(e) => return Err(Error::io("stat", &dest, e)),
    };
    let diverged = |reason: String| Error::BackupDiverged {
        journal: journal.to_owned(),
        backup: dest.clone(),
        reason,
    };
    let have = previous.unwrap_or(0);
    let too_long = |end: u64| {
        diverged(format!(
            "it holds {have} bytes and the journal only {end} (did the journal lose data, or was it replaced?)"
        ))
    };
    let compared = match previous {
        Some(len) => {
            let now = source.metadata().map_err(io("stat", journal))?.len();
            if len > now {
                return Err(too_long(now));
            }
            if let Some(at) = compare_prefix(&mut source, journal, &dest, len, options.check_bytes)?
            {
                return Err(diverged(format!("they differ at byte offset {at}")));
            }
            len_compared(len, options.check_bytes)
        }
        None => 0,
    };
    // Without the lock, a writer may be covering a torn tail while we read: what looks like
    // corruption at the end is then gone a moment later. Read again before believing it.
    let mut attempts = if options.lock { 1 } else { 3 };
    let (locked_for, cut) = loop {
        attempts -= 1;
        let (end, locked_for) = committed_length(journal, &source, format, options)?;
        if have > end {
            return Err(too_long(end));
        }
        let cut = match format {
            None => Ok(0),
            Some(format) => record_boundary(&mut source, journal, format, have)
                .and_then(|start| scan(&mut source, journal, format, start, end)),
        };
        match cut {
            Err(Error::Corruption { .. }) if attempts > 0 => continue,
            cut => break (locked_for, cut?),
        }
    };
    if cut < have {
        return Err(diverged(format!(
            "it ends at byte offset {have}, inside the journal's record that starts before it and is not complete at {cut}"
        )));
    }
    match previous {
        None => create(&mut source, journal, &dest, cut)?,
        Some(len) => append(&mut source, journal, &dest, len, cut)?,
    }
    let verified = if options.verify {
        let report = recover::verify(&dest)?;
        if report.verdict() != Verdict::Clean {
            let (offset, reason) = match (report.corrupt.first(), report.undecodable.first()) {
                (Some(b), _) | (None, Some(b)) => (b.offset, b.reason.clone()),
                (None, None) => (report.valid_end, "torn tail".to_owned()),
            };
            return Err(Error::Corruption { path: dest.clone(), offset, reason });
        }
        Some(report)
    } else {
        None
    };
    Ok(BackupReport {
        dest,
        format,
        cut,
        previous: have,
        created: previous.is_none(),
        compared,
        locked_for,
        verified,
    })
}

/// The journal's length, read under its writers' lock when asked (and how long it was held).
fn committed_length(
    journal: &Path,
    source: &File,
    format: Option<JournalFormat>,
    options: &BackupOptions,
) -> Result<(u64, Option<Duration>)> {
    let len = || source.metadata().map(|m| m.len()).map_err(io("stat", journal));
    if !options.lock || format.is_none() {
        return Ok((len()?, None));
    }
    let Some((locked_format, lock)) =
        backend::writers_lock(journal, &options.trialog_lock, &options.optuna_lock)?
    else {
        return Ok((len()?, None));
    };
    if Some(locked_format) != format {
        return Err(Error::JournalReplaced { path: journal.to_owned() });
    }
    let guard = lock.acquire()?;
    let taken = Instant::now();
    let end = len();
    let held = taken.elapsed();
    drop(guard);
    Ok((end?, Some(held)))
}

/// How many bytes [`compare_prefix`] compares for a backup of `len` bytes.
fn len_compared(len: u64, window: Option<u64>) -> u64 {
    match window {
        Some(w) if 2 * w < len => 2 * w,
        _ => len,
    }
}

/// Compares the backup's first and last `window` bytes (all of them with `None`) with the
/// journal's bytes at the same offsets; the first differing offset, if any.
fn compare_prefix(
    source: &mut File,
    journal: &Path,
    dest: &Path,
    len: u64,
    window: Option<u64>,
) -> Result<Option<u64>> {
    let mut backup = File::open(dest).map_err(io("open", dest))?;
    let ranges = match window {
        Some(w) if 2 * w < len => vec![(0, w), (len - w, len)],
        _ => vec![(0, len)],
    };
    let (mut a, mut b) = (vec![0u8; CHUNK.min(1 << 20)], vec![0u8; CHUNK.min(1 << 20)]);
    for (from, to) in ranges {
        let mut at = from;
        while at < to {
            let n = (to - at).min(a.len() as u64) as usize;
            read_exact_at(source, journal, &mut a[..n], at)?;
            read_exact_at(&mut backup, dest, &mut b[..n], at)?;
            if let Some(i) = a[..n].iter().zip(&b[..n]).position(|(x, y)| x != y) {
                return Ok(Some(at + i as u64));
            }
            at += n as u64;
        }
    }
    Ok(None)
}

fn read_exact_at(file: &mut File, path: &Path, buf: &mut [u8], at: u64) -> Result<()> {
    file.seek(SeekFrom::Start(at)).map_err(io("seek", path))?;
    file.read_exact(buf).map_err(io("read", path))
}

/// A record boundary at or before `have` (where a backup of `have` bytes ends): `have` itself
/// when a record starts there (or it is 0), else the journal's last boundary before it (an
/// earlier backup was interrupted inside a record).
fn record_boundary(
    source: &mut File,
    journal: &Path,
    format: JournalFormat,
    have: u64,
) -> Result<u64> {
    if have == 0 {
        return Ok(0);
    }
    match format {
        JournalFormat::Optuna => {
            // After the last '\n' at or before `have`.
            let mut end = have;
            while end > 0 {
                let from = end.saturating_sub(1 << 16);
                let mut buf = vec![0u8; (end - from) as usize];
                read_exact_at(source, journal, &mut buf, from)?;
                if let Some(i) = buf.iter().rposition(|&b| b == b'\n') {
                    return Ok(from + i as u64 + 1);
                }
                end = from;
            }
            Ok(0)
        }
        JournalFormat::Trialog => {
            if have >= frame::HEADER_LEN as u64 {
                let mut head = vec![0u8; frame::FRAME_HEADER_LEN];
                source.seek(SeekFrom::Start(have)).map_err(io("seek", journal))?;
                let n = read_up_to(source, journal, &mut head)?;
                if n == frame::FRAME_HEADER_LEN {
                    let len = u32::from_le_bytes([head[0], head[1], head[2], head[3]]) as usize;
                    if (1..=frame::MAX_PAYLOAD_LEN).contains(&len) {
                        let mut whole = vec![0u8; frame::FRAME_HEADER_LEN + len];
                        source.seek(SeekFrom::Start(have)).map_err(io("seek", journal))?;
                        let n = read_up_to(source, journal, &mut whole)?;
                        if matches!(
                            frame::check_frame(&whole[..n]),
                            frame::FrameCheck::Batch { .. } | frame::FrameCheck::Padding { .. }
                        ) {
                            return Ok(have);
                        }
                    }
                }
            }
            // Not at a frame (or at the end): the scan starts over from the header.
            Ok(0)
        }
    }
}

/// Reads into `buf` from the file's position until it is full or the file ends.
fn read_up_to(file: &mut File, path: &Path, buf: &mut [u8]) -> Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match file.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) => return Err(Error::io("read", path, e)),
        }
    }
    Ok(n)
}

/// Checks the journal's records from `start` (a record boundary) up to `end` and returns the cut:
/// where the run of valid records from `start` ends (before a torn tail, or an append in
/// flight). Corruption (invalid bytes followed by a valid record, or a record that does not
/// decode) is an error naming its offset.
fn scan(
    source: &mut File,
    journal: &Path,
    format: JournalFormat,
    start: u64,
    end: u64,
) -> Result<u64> {
    let mut base = start;
    if format == JournalFormat::Trialog && start == 0 {
        let mut head = vec![0u8; frame::HEADER_LEN];
        source.seek(SeekFrom::Start(0)).map_err(io("seek", journal))?;
        let n = read_up_to(source, journal, &mut head)?.min(end as usize);
        base = backend::header_start(journal, &head[..n])?;
        if base == 0 {
            return Ok(0); // creation has not finished: nothing is committed yet
        }
    }
    source.seek(SeekFrom::Start(base)).map_err(io("seek", journal))?;
    let mut read_to = base;
    let mut buf: Vec<u8> = Vec::new();
    let mut want = CHUNK;
    loop {
        if buf.len() < want && read_to < end {
            let n = (want - buf.len()).min((end - read_to) as usize);
            let at = buf.len();
            buf.resize(at + n, 0);
            source.read_exact(&mut buf[at..]).map_err(io("read", journal))?;
            read_to += n as u64;
        }
        let last = read_to == end;
        // Where the complete, valid records of `buf` end.
        let valid = match format {
            JournalFormat::Trialog => match frame::scan_frames::<()>(&buf, |_, _| Ok(())) {
                Ok(ScanEnd::Clean) => buf.len(),
                Ok(ScanEnd::Torn { offset }) => offset,
                Ok(ScanEnd::Corrupt { offset, next_valid }) => {
                    return Err(backend::corruption(
                        journal,
                        base + offset as u64,
                        base + next_valid as u64,
                    ));
                }
                Err(()) => unreachable!("the sink never fails"),
            },
            JournalFormat::Optuna => {
                let mut valid = buf.len();
                let mut bad = None;
                backend::survey_lines(journal, &buf, |segment| match segment {
                    Segment::Invalid { offset, .. } => valid = offset as usize,
                    Segment::Undecodable { offset, error, .. } if bad.is_none() => {
                        bad = Some(shift(error, base, offset));
                    }
                    _ => {}
                });
                if let Some(e) = bad {
                    return Err(e);
                }
                valid
            }
        };
        if last {
            return Ok(base + valid as u64);
        }
        if valid == 0 {
            want = want.max(buf.len() * 2); // one record longer than the buffer
        } else {
            want = CHUNK;
        }
        buf.drain(..valid);
        base += valid as u64;
    }
}

/// `error` (about a record at `offset` of a buffer that starts at `base` of the journal) with
/// the journal's offset.
fn shift(error: Error, base: u64, offset: u64) -> Error {
    match error {
        Error::Corruption { path, reason, .. } => {
            Error::Corruption { path, offset: base + offset, reason }
        }
        Error::UnknownOperation { path, code, .. } => {
            Error::UnknownOperation { path, offset: base + offset, code }
        }
        other => other,
    }
}

/// Copies the journal's bytes `[from, to)` into `out` (at its current position). `std::io::copy`
/// between two files lets the kernel copy (`copy_file_range` on Linux, as `cp` does) where it
/// can, and reads and writes through a buffer elsewhere.
fn copy_range(
    source: &mut File,
    journal: &Path,
    out: &mut File,
    dest: &Path,
    from: u64,
    to: u64,
) -> Result<()> {
    source.seek(SeekFrom::Start(from)).map_err(io("seek", journal))?;
    let copied = std::io::copy(&mut Read::by_ref(source).take(to - from), out).map_err(|e| {
        // Which side failed is not reported by `io::copy`: name both.
        Error::io(
            "copy",
            dest,
            std::io::Error::new(e.kind(), format!("from {}: {e}", journal.display())),
        )
    })?;
    if copied != to - from {
        // The journal is append-only and was at least `to` bytes long: it was truncated.
        let e = std::io::Error::new(
            ErrorKind::UnexpectedEof,
            format!("it ended at byte offset {} while {to} bytes were copied", from + copied),
        );
        return Err(Error::io("read", journal, e));
    }
    Ok(())
}

/// Creates `dest` holding the journal's first `cut` bytes, durably, never over an existing file
/// ([`NewFile`]).
fn create(source: &mut File, journal: &Path, dest: &Path, cut: u64) -> Result<()> {
    NewFile::new(dest, "backup")
        .write_with(&mut |out, _, _| copy_range(source, journal, out, dest, 0, cut))
}

/// Appends the journal's bytes `[len, cut)` to the backup `dest` of `len` bytes, then syncs it.
fn append(source: &mut File, journal: &Path, dest: &Path, len: u64, cut: u64) -> Result<()> {
    if cut == len {
        return Ok(());
    }
    let mut out = OpenOptions::new().write(true).open(dest).map_err(io("open", dest))?;
    let now = out.metadata().map_err(io("stat", dest))?.len();
    if now != len {
        return Err(Error::invalid(format_args!(
            "{} changed size while it was checked ({len} -> {now} bytes): is another backup writing it?",
            dest.display()
        )));
    }
    out.seek(SeekFrom::Start(len)).map_err(io("seek", dest))?;
    copy_range(source, journal, &mut out, dest, len, cut)?;
    out.sync_data().map_err(io("fsync", dest))
}
