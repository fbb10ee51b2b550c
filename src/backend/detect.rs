//! Journals of either format behind one backend type: the format is detected from the file's
//! first bytes, so tools (the CLI's read commands, `export`) accept both.

use std::fs::File;
use std::io::Read;
use std::path::Path;

use super::{
    AppendOutcome, FileBackend, FileOptions, LogBackend, OptunaFileOptions, OptunaJournalFile,
};
use crate::error::{Error, Result};
use crate::journal::LogBatch;
use crate::journal::frame::MAGIC;
use crate::lock::{self, JournalLock, LockGuard, LockOptions, OptunaLock, OptunaLockOptions};

/// The two journal formats trialog reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JournalFormat {
    /// trialog's CRC-framed format (`docs/FORMAT.md`), starting with the magic `\x89TRIALOG`.
    Trialog,
    /// Optuna's JSON-lines format (`docs/OPTUNA.md`), starting with `{`.
    Optuna,
}

/// Detects the format of the existing file at `path` from its first bytes (see [`detect_head`]).
/// `Ok(None)` for an empty file.
pub fn detect_format(path: &Path) -> Result<Option<JournalFormat>> {
    let mut head = Vec::with_capacity(MAGIC.len());
    File::open(path)
        .and_then(|f| f.take(MAGIC.len() as u64).read_to_end(&mut head))
        .map_err(|e| Error::io("open", path, e))?;
    detect_head(path, &head)
}

/// Detects a journal's format from its first bytes `head` (its first 8 bytes, or all of it if it
/// is shorter), read from `path`: the trialog magic `\x89TRIALOG` (or a prefix of it: a journal
/// whose creation did not finish) is trialog, `{` is Optuna.
///
/// An empty file is `Ok(None)`: an empty journal **of no format yet**. Readers show no studies,
/// `trialog verify` calls it clean, `trialog recover` has nothing to do, and the first writer
/// gives it the format of the API it opened it with (trialog's header, or Optuna's first line).
/// Anything else is [`Error::NotAJournal`] naming `path` and the first byte.
pub fn detect_head(path: &Path, head: &[u8]) -> Result<Option<JournalFormat>> {
    let head = &head[..head.len().min(MAGIC.len())];
    match head.first() {
        None => Ok(None),
        Some(b'{') => Ok(Some(JournalFormat::Optuna)),
        Some(_) if MAGIC.starts_with(head) => Ok(Some(JournalFormat::Trialog)),
        Some(first) => Err(Error::NotAJournal {
            path: path.to_owned(),
            reason: format!(
                "neither a trialog journal (magic \\x89TRIALOG) nor an Optuna JSON-lines journal (first byte '{{'): it starts with byte {first:#04x}"
            ),
        }),
    }
}

/// What a file whose first bytes are `head` is, as a clause for an error that refuses it for
/// another format: "it is an Optuna JSON-lines journal (it starts with '{')", ...
pub(crate) fn what_it_is(head: &[u8]) -> String {
    match detect_head(Path::new(""), head) {
        Ok(None) => "it is empty".to_owned(),
        Ok(Some(JournalFormat::Trialog)) => {
            "it is a trialog journal (it starts with the magic \\x89TRIALOG)".to_owned()
        }
        Ok(Some(JournalFormat::Optuna)) => {
            "it is an Optuna JSON-lines journal (it starts with '{')".to_owned()
        }
        Err(_) => match head.first() {
            Some(first) => format!("it starts with byte {first:#04x}, which begins neither format"),
            None => "it is empty".to_owned(),
        },
    }
}

/// The lock the writers of the existing journal at `path` take, in the protocol of the format
/// detected from its first bytes, so no tool can take trialog's lock on an Optuna journal (Python
/// would read its lock file as a held lock) or Optuna's on a trialog journal:
///
/// * a trialog journal: trialog's lock of kind `trialog.kind` on `<canonical path>.lock`, as
///   [`FileBackend`] takes it;
/// * an Optuna journal: [`OptunaLock`] on `<path>.lock` (the path as given, as Python Optuna
///   and [`OptunaJournalFile`] name it);
/// * an empty file (no format yet): `Ok(None)`, no lock.
///
/// Opening touches nothing on disk, except that trialog's advisory lock creates its lock file
/// (only ever for a trialog journal). A format detected here can change only while the file is
/// empty: check it again under the lock.
pub fn writers_lock(
    path: &Path,
    trialog: &LockOptions,
    optuna: &OptunaLockOptions,
) -> Result<Option<(JournalFormat, Box<dyn JournalLock>)>> {
    Ok(match detect_format(path)? {
        None => None,
        Some(JournalFormat::Trialog) => {
            let canonical =
                std::fs::canonicalize(path).map_err(|e| Error::io("resolve", path, e))?;
            Some((JournalFormat::Trialog, lock::open_lock(&canonical, trialog)?))
        }
        Some(JournalFormat::Optuna) => {
            Some((JournalFormat::Optuna, Box::new(OptunaLock::new(path, optuna.clone()))))
        }
    })
}

impl JournalFormat {
    /// The format's name in reports: `trialog` or `optuna`.
    pub fn name(self) -> &'static str {
        match self {
            JournalFormat::Trialog => "trialog",
            JournalFormat::Optuna => "optuna",
        }
    }
}

/// An existing journal file of either format.
#[derive(Debug)]
#[allow(
    clippy::large_enum_variant,
    reason = "one per open journal, never in a collection: boxing would only add an indirection"
)]
pub enum AnyJournalFile {
    /// A trialog journal.
    Trialog(FileBackend),
    /// An Optuna JSON-lines journal.
    Optuna(OptunaJournalFile),
}

impl AnyJournalFile {
    /// Opens the existing journal at `path` (never creating it) in the format
    /// [`detect_format`] finds, with default lock options for that format. An empty file (no
    /// format yet) is opened as an empty Optuna journal: it reads as no studies, takes Optuna's
    /// lock if written, and never gets trialog's lock file. Opens read-only where the file
    /// cannot be written (a read-only mount or snapshot): reading works, writing fails.
    pub fn open_existing(path: impl AsRef<Path>) -> Result<Self> {
        Self::open_detected(path.as_ref(), true)
    }

    fn open_detected(path: &Path, retry: bool) -> Result<Self> {
        let optuna = |path: &Path| {
            OptunaJournalFile::open_with(
                path,
                &OptunaFileOptions { create: false, ..OptunaFileOptions::default() },
            )
            .map(AnyJournalFile::Optuna)
        };
        Ok(match detect_format(path)? {
            Some(JournalFormat::Trialog) => AnyJournalFile::Trialog(FileBackend::open_with(
                path,
                &FileOptions { create: false, ..FileOptions::default() },
            )?),
            Some(JournalFormat::Optuna) => optuna(path)?,
            // Empty when we looked: a trialog writer may have written its header since.
            None => match optuna(path) {
                Err(Error::NotAnOptunaJournal { .. }) if retry => {
                    return Self::open_detected(path, false);
                }
                other => other?,
            },
        })
    }

    /// The file's format.
    pub fn format(&self) -> JournalFormat {
        match self {
            AnyJournalFile::Trialog(_) => JournalFormat::Trialog,
            AnyJournalFile::Optuna(_) => JournalFormat::Optuna,
        }
    }
}

impl LogBackend for AnyJournalFile {
    type WriteGuard<'a> = LockGuard<'a>;

    fn path(&self) -> &Path {
        match self {
            AnyJournalFile::Trialog(b) => b.path(),
            AnyJournalFile::Optuna(b) => b.path(),
        }
    }

    fn read_from(
        &self,
        from: u64,
        sink: &mut dyn FnMut(u64, &LogBatch) -> Result<()>,
    ) -> Result<u64> {
        match self {
            AnyJournalFile::Trialog(b) => b.read_from(from, sink),
            AnyJournalFile::Optuna(b) => b.read_from(from, sink),
        }
    }

    fn lock(&self) -> Result<LockGuard<'_>> {
        match self {
            AnyJournalFile::Trialog(b) => b.lock(),
            AnyJournalFile::Optuna(b) => b.lock(),
        }
    }

    fn reads_stay_local(&self) -> bool {
        match self {
            AnyJournalFile::Trialog(b) => b.reads_stay_local(),
            AnyJournalFile::Optuna(b) => b.reads_stay_local(),
        }
    }

    fn stores_extension_ops(&self) -> bool {
        match self {
            AnyJournalFile::Trialog(b) => b.stores_extension_ops(),
            AnyJournalFile::Optuna(b) => b.stores_extension_ops(),
        }
    }

    fn check_batch(&self, batch: &LogBatch) -> Result<()> {
        match self {
            AnyJournalFile::Trialog(b) => b.check_batch(batch),
            AnyJournalFile::Optuna(b) => b.check_batch(batch),
        }
    }

    fn write_if(
        &self,
        guard: &LockGuard<'_>,
        expected_end: u64,
        batches: &[LogBatch],
    ) -> Result<AppendOutcome> {
        match self {
            AnyJournalFile::Trialog(b) => b.write_if(guard, expected_end, batches),
            AnyJournalFile::Optuna(b) => b.write_if(guard, expected_end, batches),
        }
    }

    fn sync_written(&self, guard: &LockGuard<'_>) -> Result<()> {
        match self {
            AnyJournalFile::Trialog(b) => b.sync_written(guard),
            AnyJournalFile::Optuna(b) => b.sync_written(guard),
        }
    }

    fn snapshot_source(&self) -> Option<(&Path, JournalFormat)> {
        match self {
            AnyJournalFile::Trialog(b) => b.snapshot_source(),
            AnyJournalFile::Optuna(b) => b.snapshot_source(),
        }
    }

    fn snapshot_file(&self) -> Option<std::fs::File> {
        match self {
            AnyJournalFile::Trialog(b) => b.snapshot_file(),
            AnyJournalFile::Optuna(b) => b.snapshot_file(),
        }
    }

    fn follow_compaction(&self, end: u64) -> Result<Option<super::Followed>> {
        match self {
            AnyJournalFile::Trialog(b) => b.follow_compaction(end),
            AnyJournalFile::Optuna(b) => b.follow_compaction(end),
        }
    }
}
