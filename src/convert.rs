//! Whole-journal translation between trialog's format and Optuna's JSON lines
//! (`trialog import` / `trialog export --format optuna`).
//!
//! Both directions copy the log operation by operation, with each operation's worker id, including
//! operations that replay ignores (a foreign writer's invalid operation): replay applies the same
//! rules to both formats, so the copy replays to the same state. trialog's extension operations
//! (codes >= 128) have no Optuna form and are dropped on export (counted in
//! [`Converted::dropped`]). The output is written to a temporary file, synced, and linked into
//! place, so it appears complete or not at all; an existing output file is never overwritten.

use std::path::Path;

use crate::backend::new_file::NewFile;
use crate::backend::{
    AnyJournalFile, AppendOutcome, LogBackend, MemoryBackend, OptunaFileOptions, OptunaJournalFile,
    RecoveryMode, SkippedRange,
};
use crate::error::{Error, Result};
use crate::journal::optuna_codec::{encode_line, is_optuna_op};
use crate::journal::{LogBatch, frame};
use crate::replay::ReplayState;

/// What a conversion copied.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Converted {
    /// Operations written to the output.
    pub operations: u64,
    /// Operations left out because the output format cannot hold them.
    pub dropped: u64,
    /// Lines of the input skipped because they do not decode (salvage mode only).
    pub skipped: Vec<SkippedRange>,
}

/// Copies the Optuna JSON-lines journal `src` into a new trialog journal `dst` (which must not
/// exist). Reads `src` without locking it: the copy holds every line complete when it was read.
///
/// The copy is replayed as it is made, so it refuses exactly what replay refuses: a line that
/// does not decode, or an operation Optuna's replay raises on, fails the import
/// ([`Error::Corruption`] with its offset) unless `skip_corrupt_lines` is set: then it is left out
/// and listed in [`Converted::skipped`] (a salvage of a journal Optuna can no longer read; `src` is
/// never modified). Lines replay skips without reading their fields (safe-to-ignore codes >= 128,
/// and lines whose fields do not decode but whose study or trial is gone, which Optuna ignores
/// too) carry nothing trialog's format can hold: they are left out and counted in
/// [`Converted::dropped`].
pub fn import_optuna(src: &Path, dst: &Path, skip_corrupt_lines: bool) -> Result<Converted> {
    let recovery = if skip_corrupt_lines {
        RecoveryMode::SkipAnyCorrupted
    } else {
        RecoveryMode::TolerateCorruptedTail
    };
    let options = OptunaFileOptions { create: false, recovery, ..OptunaFileOptions::default() };
    let source = OptunaJournalFile::open_with(src, &options)?;
    let memory = MemoryBackend::new();
    let guard = memory.lock()?;
    let mut end = 0;
    let mut done = Converted::default();
    let mut state = ReplayState::new();
    let mut unreplayable = Vec::new();
    let mut kept = LogBatch { worker_id: String::new(), ops: Vec::new() };
    source.read_from(0, &mut |at, batch| {
        if let Err(u) = state.replay_batch(batch) {
            if !skip_corrupt_lines {
                return Err(Error::Corruption {
                    path: src.to_owned(),
                    offset: at,
                    reason: format!("Optuna's replay raises on this operation: {}", u.reason),
                });
            }
            unreplayable.push((at, u.reason));
            return Ok(());
        }
        kept.ops.clear();
        kept.ops.extend(batch.ops.iter().filter(|op| !op.is_placeholder()).cloned());
        done.dropped += (batch.ops.len() - kept.ops.len()) as u64;
        if kept.ops.is_empty() {
            return Ok(());
        }
        kept.worker_id.clone_from(&batch.worker_id);
        match memory.append_if(&guard, end, &kept)? {
            AppendOutcome::Appended { end: new_end } => end = new_end,
            AppendOutcome::Moved => unreachable!("nobody else writes this in-memory journal"),
        }
        done.operations += kept.ops.len() as u64;
        Ok(())
    })?;
    drop(guard);
    done.skipped = source.recovery_report().skipped;
    if !unreplayable.is_empty() {
        let text = std::fs::read(src).map_err(|e| Error::io("read", src, e))?;
        for (offset, reason) in unreplayable {
            let from = usize::try_from(offset).unwrap_or(usize::MAX).min(text.len());
            let len =
                text[from..].iter().position(|&b| b == b'\n').map_or(text.len() - from, |n| n + 1);
            let reason = format!("Optuna's replay raises on this operation: {reason}");
            done.skipped.push(SkippedRange { offset, len: len as u64, reason });
        }
        done.skipped.sort_by_key(|r| r.offset);
    }
    let mut bytes = memory.to_bytes();
    if bytes.is_empty() {
        bytes = frame::encode_header().to_vec();
    }
    NewFile::new(dst, "converting").write(&bytes)?;
    Ok(done)
}

/// Copies the journal `src` (either format) into a new Optuna JSON-lines journal `dst` (which must
/// not exist), dropping trialog's extension operations and read-side placeholders (counted in
/// [`Converted::dropped`]). The copy is replayed as it is made, so an operation Optuna's replay
/// raises on fails the export ([`Error::Corruption`] with its offset), as it fails every reader.
pub fn export_optuna(src: &Path, dst: &Path) -> Result<Converted> {
    export_optuna_from(&AnyJournalFile::open_existing(src)?, dst)
}

/// [`export_optuna`] from any log (a Redis journal too): an operation Optuna's replay raises on
/// fails the export with the error naming its position as the log names them
/// ([`LogBackend::corrupt_at`]).
pub fn export_optuna_from<B: LogBackend>(source: &B, dst: &Path) -> Result<Converted> {
    let mut text = String::new();
    let mut done = Converted::default();
    let mut state = ReplayState::new();
    source.read_from(0, &mut |at, batch| {
        state.replay_batch(batch).map_err(|u| {
            source.corrupt_at(at, format!("Optuna's replay raises on this operation: {}", u.reason))
        })?;
        for op in &batch.ops {
            if is_optuna_op(op) && !op.is_placeholder() {
                // Cannot fail: is_optuna_op checked what encode_line refuses.
                if encode_line(&batch.worker_id, op, &mut text).is_ok() {
                    done.operations += 1;
                }
            } else {
                done.dropped += 1;
            }
        }
        Ok(())
    })?;
    NewFile::new(dst, "converting").write(text.as_bytes())?;
    Ok(done)
}
