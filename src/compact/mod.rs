//! `trialog compact`: rewrites a journal file (either format) as the shortest log with the same
//! replayed state (`docs/FORMAT.md` and `docs/OPTUNA.md`, "Compacted journals").
//!
//! The rewrite keeps every id and number (study ids, trial ids, trial numbers), every trial's
//! content (parameters with their distributions, values, intermediate values, attributes, state,
//! datetimes), study attributes, and the worker that ran each trial; it drops what replay
//! ignored or overwrote. The new file is built and checked in memory (it must replay to the same
//! state, or nothing is written), then written beside the journal under a temporary name,
//! flushed, renamed over the journal and the directory synced: killed at any point, the journal
//! is the old file or the new one, complete.

mod plan;
mod same;

use std::fs;
use std::path::Path;

use crate::backend::new_file::{NewFile, Place, step};
use crate::backend::{
    self, AnyJournalFile, Faults, JournalFormat, LogBackend, MemoryBackend, OptunaFileOptions,
    OptunaJournalFile,
};
use crate::error::{Error, Result};
use crate::journal::optuna_codec::{decode_line, encode_line};
use crate::journal::{LogBatch, frame};
use crate::lock::{LockGuard, LockOptions, OptunaLockOptions};
use crate::replay::ReplayState;

/// How to compact.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CompactOptions {
    /// The lock the writers of a **trialog** journal use; held for the whole operation.
    pub lock: LockOptions,
    /// Optuna's lock, as the writers of an **Optuna** journal use it; held for the whole
    /// operation, so Python Optuna writers wait for it.
    pub optuna_lock: OptunaLockOptions,
}

/// What a compaction did.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Compacted {
    /// The journal's format (kept). `None` for an empty file, which has nothing to compact.
    pub format: Option<JournalFormat>,
    /// The journal's size before.
    pub bytes_before: u64,
    /// Its size after (equal to `bytes_before` when nothing was written).
    pub bytes_after: u64,
    /// Operations the journal held before.
    pub operations_before: u64,
    /// Operations it holds after.
    pub operations_after: u64,
    /// Live studies.
    pub studies: u64,
    /// Study ids of deleted studies, kept by a placeholder study created and deleted.
    pub deleted_studies: u64,
    /// Trials (of live and deleted studies: every trial id).
    pub trials: u64,
}

/// Compacts the journal at `path` in place: a trialog journal online (its writers' lock held
/// only for the final step, see `online.rs`), an Optuna journal holding Optuna's lock protocol
/// for the whole operation.
///
/// Guarantees: the new journal replays to the same state (checked before anything is written);
/// on any error the journal is unchanged; once this returns, the new journal is durable. The
/// journal's snapshot (`<journal>.snapshot`, which describes the old bytes) is removed before
/// the rename. Refuses a journal that does not replay cleanly (a corrupt record in the middle:
/// [`Error::Corruption`]; run `trialog recover` first). A torn tail left by a crashed writer
/// (never acknowledged) is dropped. Handles of a trialog journal that have the old file open
/// continue in the new one (the successor record, `docs/FORMAT.md`); handles of an Optuna
/// journal fail their next write with [`Error::JournalReplaced`]: reopen them.
pub fn compact(path: &Path, options: &CompactOptions) -> Result<Compacted> {
    compact_inner(path, options, &Faults::default())
}

/// [`compact`], with each step of writing the new journal (create, write, flush, rename,
/// directory sync: [`IoOp`](crate::backend::fault::IoOp) `Create`, `Write`, `Sync`, `Rename`,
/// `SyncDir`) asking `faults` first, which can fail it or hold it. Only with the cargo feature
/// `fault-injection`.
#[cfg(feature = "fault-injection")]
pub fn compact_with_faults(
    path: &Path,
    options: &CompactOptions,
    faults: std::sync::Arc<crate::backend::fault::FaultInjector>,
) -> Result<Compacted> {
    compact_inner(path, options, &Some(faults))
}

mod online;

fn compact_inner(path: &Path, options: &CompactOptions, faults: &Faults) -> Result<Compacted> {
    let canonical = fs::canonicalize(path).map_err(|e| Error::io("open", path, e))?;
    for _attempt in 0..3 {
        let Some((format, lock)) =
            backend::writers_lock(path, &options.lock, &options.optuna_lock)?
        else {
            return Ok(empty(None));
        };
        if format == JournalFormat::Trialog {
            match online::compact(path, &canonical, lock.as_ref(), faults)? {
                Some(done) => return Ok(done),
                None => continue, // replaced meanwhile (another compaction): start again
            }
        }
        let guard = lock.acquire()?;
        // Under its format's lock a journal keeps its format; an empty file had no lock and
        // may have been given a format since we looked: look again.
        if backend::detect_format(&canonical)? == Some(format) {
            return compact_locked(path, &canonical, format, &guard, faults);
        }
    }
    Err(Error::JournalReplaced { path: path.to_owned() })
}

fn empty(format: Option<JournalFormat>) -> Compacted {
    Compacted {
        format,
        bytes_before: 0,
        bytes_after: 0,
        operations_before: 0,
        operations_after: 0,
        studies: 0,
        deleted_studies: 0,
        trials: 0,
    }
}

/// The journal replayed: its state, its size and how many operations it holds.
struct Replayed {
    state: ReplayState,
    bytes: u64,
    operations: u64,
}

/// Replays the whole journal as every reader does (a torn tail ends it; anything else that does
/// not replay is an error naming its offset).
fn replay(path: &Path, format: JournalFormat) -> Result<Replayed> {
    let source = match format {
        JournalFormat::Trialog => AnyJournalFile::Trialog(backend::FileBackend::open_with(
            path,
            &backend::FileOptions { create: false, ..Default::default() },
        )?),
        JournalFormat::Optuna => AnyJournalFile::Optuna(OptunaJournalFile::open_with(
            path,
            &OptunaFileOptions { create: false, ..Default::default() },
        )?),
    };
    let mut state = ReplayState::new();
    let mut operations = 0;
    source.read_from(0, &mut |at, batch| {
        operations += batch.ops.len() as u64;
        state.replay_batch(batch).map(drop).map_err(|u| {
            source.corrupt_at(at, format!("Optuna's replay raises on this operation: {}", u.reason))
        })
    })?;
    let bytes = fs::metadata(path).map_err(|e| Error::io("stat", path, e))?.len();
    Ok(Replayed { state, bytes, operations })
}

/// The bytes of the compacted journal of `state` in `format`, and its number of operations.
pub(crate) fn encode(
    path: &Path,
    state: &ReplayState,
    format: JournalFormat,
) -> Result<(Vec<u8>, u64)> {
    let fail = |reason: String| Error::Compaction { path: path.to_owned(), reason };
    let batches = plan::plan(state, format == JournalFormat::Trialog).map_err(fail)?;
    let operations = batches.iter().map(|b| b.ops.len() as u64).sum();
    let bytes = match format {
        JournalFormat::Trialog => {
            let mut out = frame::encode_header().to_vec();
            for batch in &batches {
                frame::encode_frame(&backend::encode_payload(batch)?, &mut out);
            }
            out
        }
        JournalFormat::Optuna => {
            let mut text = String::new();
            for batch in &batches {
                for op in &batch.ops {
                    encode_line(&batch.worker_id, op, &mut text)
                        .map_err(|e| fail(e.to_string()))?;
                }
            }
            text.into_bytes()
        }
    };
    Ok((bytes, operations))
}

/// Replays the bytes `encode` made.
fn replay_bytes(path: &Path, bytes: &[u8], format: JournalFormat) -> Result<ReplayState> {
    let fail = |reason: String| Error::Compaction { path: path.to_owned(), reason };
    let mut state = ReplayState::new();
    match format {
        JournalFormat::Trialog => {
            MemoryBackend::from_bytes(bytes.to_vec()).read_from(0, &mut |_, batch| {
                state.replay_batch(batch).map(drop).map_err(|u| fail(u.reason))
            })?;
        }
        JournalFormat::Optuna => {
            for line in bytes.split_inclusive(|&b| b == b'\n') {
                let (worker_id, op) = decode_line(line).map_err(|e| fail(e.to_string()))?;
                let batch = LogBatch { worker_id, ops: vec![op] };
                state.replay_batch(&batch).map_err(|u| fail(u.reason))?;
            }
        }
    }
    Ok(state)
}

fn compact_locked(
    path: &Path,
    canonical: &Path,
    format: JournalFormat,
    guard: &LockGuard<'_>,
    faults: &Faults,
) -> Result<Compacted> {
    let old = replay(canonical, format)?;
    let (bytes, operations_after) = encode(path, &old.state, format)?;
    let again = replay_bytes(path, &bytes, format)?;
    if let Some(why) = same::differences(&old.state, &again, format == JournalFormat::Trialog) {
        return Err(Error::Compaction {
            path: path.to_owned(),
            reason: format!("the compacted log would not replay to the same state: {why}"),
        });
    }
    let parts = old.state.parts();
    let studies = parts.studies.len() as u64;
    let report = Compacted {
        format: Some(format),
        bytes_before: old.bytes,
        bytes_after: bytes.len() as u64,
        operations_before: old.operations,
        operations_after,
        studies,
        deleted_studies: parts.next_study_id - studies,
        trials: parts.trial_count as u64,
    };
    let permissions =
        fs::metadata(canonical).map_err(|e| Error::io("stat", path, e))?.permissions();
    // The snapshot describes the old bytes: removed first, so no crash leaves it beside the new
    // journal (an open then replays the whole new journal, which is short).
    let snapshot = crate::snapshot::path_for(canonical);
    match fs::remove_file(&snapshot) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
            return Err(Error::io("remove the snapshot", snapshot, e));
        }
        _ => {}
    }
    remove_leftovers(canonical, None);
    // Right before the rename: still ours, and nobody wrote meanwhile (a writer that broke the
    // lock, e.g. an Optuna waiter after its grace period): then give up instead of dropping it.
    let unchanged = || {
        guard.verify_held()?;
        let len = fs::metadata(canonical).map_err(|e| Error::io("stat", path, e))?.len();
        if len != old.bytes {
            return Err(Error::Compaction {
                path: path.to_owned(),
                reason: format!(
                    "the journal grew from {} to {len} bytes while it was compacted, although the \
                     writers' lock was held (did a writer break it after its grace period?)",
                    old.bytes
                ),
            });
        }
        Ok(())
    };
    // Errors before the rename name the temporary file; on any of them the journal is unchanged.
    NewFile {
        permissions: Some(&permissions),
        place: Place::ReplaceJournal(path, "replace (trialog compact)", ""),
        errors_name_temp: true,
        faults: Some(faults),
        before_move: Some(&unchanged),
        ..NewFile::new(canonical, "compacting")
    }
    .write(&bytes)?;
    Ok(report)
}

/// Removes the temporary files a killed compaction of this journal left beside it
/// (`.<name>.<uuid>.compacting`). Only called holding the writers' lock, which every compaction
/// holds while its temporary file exists. Failures are ignored: the files are never read.
fn remove_leftovers(journal: &Path, keep: Option<&Path>) {
    let (Some(dir), Some(name)) = (journal.parent(), journal.file_name()) else { return };
    let prefix = format!(".{}.", name.to_string_lossy());
    let Ok(entries) = fs::read_dir(dir) else { return };
    for entry in entries.flatten() {
        let file = entry.file_name().to_string_lossy().into_owned();
        if let Some(rest) = file.strip_prefix(&prefix) {
            let uuid = rest.strip_suffix(".compacting").unwrap_or_default();
            if uuid.len() == 32
                && uuid.bytes().all(|b| b.is_ascii_hexdigit())
                && keep.is_none_or(|k| k.file_name() != Some(entry.file_name().as_os_str()))
            {
                let _ = fs::remove_file(entry.path());
            }
        }
    }
}
