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
use crate::lock::LockGuard;

/// The two journal formats trialog reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JournalFormat {
    /// trialog's CRC-framed format (`docs/FORMAT.md`), starting with the magic `\x89TRIALOG`.
    Trialog,
    /// Optuna's JSON-lines format (`docs/OPTUNA.md`), starting with `{`.
    Optuna,
}

/// Detects the format of the existing file at `path` from its first bytes: the trialog magic (or
/// a prefix of it) is trialog, `{` is Optuna, and an empty file is Optuna (Optuna creates empty
/// journals; trialog never leaves one without its header). Anything else is
/// [`Error::NotAJournal`].
pub fn detect_format(path: &Path) -> Result<JournalFormat> {
    let mut head = Vec::with_capacity(MAGIC.len());
    File::open(path)
        .and_then(|f| f.take(MAGIC.len() as u64).read_to_end(&mut head))
        .map_err(|e| Error::io("open", path, e))?;
    match head.first() {
        None | Some(b'{') => Ok(JournalFormat::Optuna),
        Some(_) if MAGIC.starts_with(&head) => Ok(JournalFormat::Trialog),
        Some(_) => Err(Error::NotAJournal {
            path: path.to_owned(),
            reason: "neither a trialog journal (magic \\x89TRIALOG) nor an Optuna JSON-lines journal (first byte '{')".to_owned(),
        }),
    }
}

/// An existing journal file of either format.
#[derive(Debug)]
pub enum AnyJournalFile {
    /// A trialog journal.
    Trialog(FileBackend),
    /// An Optuna JSON-lines journal.
    Optuna(OptunaJournalFile),
}

impl AnyJournalFile {
    /// Opens the existing journal at `path` (never creating it) in the format
    /// [`detect_format`] finds, with default lock options for that format.
    pub fn open_existing(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        Ok(match detect_format(path)? {
            JournalFormat::Trialog => AnyJournalFile::Trialog(FileBackend::open_with(
                path,
                &FileOptions { create: false, ..FileOptions::default() },
            )?),
            JournalFormat::Optuna => AnyJournalFile::Optuna(OptunaJournalFile::open_with(
                path,
                &OptunaFileOptions { create: false, ..OptunaFileOptions::default() },
            )?),
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

    fn stores_extension_ops(&self) -> bool {
        match self {
            AnyJournalFile::Trialog(b) => b.stores_extension_ops(),
            AnyJournalFile::Optuna(b) => b.stores_extension_ops(),
        }
    }

    fn append_if(
        &self,
        guard: &LockGuard<'_>,
        expected_end: u64,
        batch: &LogBatch,
    ) -> Result<AppendOutcome> {
        match self {
            AnyJournalFile::Trialog(b) => b.append_if(guard, expected_end, batch),
            AnyJournalFile::Optuna(b) => b.append_if(guard, expected_end, batch),
        }
    }
}
