//! Online compaction of a trialog journal: writers and readers of other handles keep working.
//!
//! 1. Without the lock: replay the journal up to its end `E1`, encode the compacted log, check
//!    that it replays to the same state, and write it to a temporary file beside the journal
//!    (flushed).
//! 2. Holding the writers' lock (the bounded final step): check the path still names the file
//!    replayed, read what writers appended since (`E1..E2`, whole frames) and append those bytes
//!    to the temporary file unchanged (a frame does not depend on where it sits, and it replays
//!    on the compacted state exactly as on the old one, which are equal), flush it, write the
//!    successor record (`src/backend/successor.rs`: old file and `E2`, new file and its end),
//!    remove the snapshot, check once more that the lock is held and the journal did not grow,
//!    rename the new file over the journal and sync the directory.
//!
//! Handles that have the old file open notice the replacement at their next look at the path
//! (a writer under the lock; a reader when it finds nothing new), read the old file to its end
//! `E2`, and continue in the new file at its end, with their state unchanged
//! ([`crate::backend::LogBackend::follow_compaction`]). Killed at any point, the journal is the
//! old file or the new one, complete: the new file is only renamed into place whole and synced.

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use super::{
    Compacted, Faults, NewFile, Place, encode, remove_leftovers, replay_bytes, same, step,
};
use crate::backend::{FileBackend, FileOptions, JournalFormat, LogBackend, successor};
use crate::error::{Error, Result};
use crate::lock::{JournalLock, LockGuard};
use crate::replay::ReplayState;
use crate::sys::{durable, identity};

/// The journal replayed without the lock, and the compacted log of that state in a temporary
/// file.
struct Prefix {
    journal: FileBackend,
    /// The identity of the journal file replayed.
    id: identity::FileId,
    state: ReplayState,
    operations: u64,
    /// Where the replay ended.
    end: u64,
    /// The temporary file holding the compacted log, and its length.
    tmp: PathBuf,
    compacted: u64,
    compacted_operations: u64,
}

/// Compacts the trialog journal at `canonical` online (module docs). `Ok(None)`: the path named
/// another file by the time the lock was taken (another compaction or `trialog recover`
/// replaced it); nothing was written, try again.
pub(super) fn compact(
    path: &Path,
    canonical: &Path,
    lock: &dyn JournalLock,
    faults: &Faults,
) -> Result<Option<Compacted>> {
    let prefix = write_prefix(path, canonical, faults)?;
    let tmp = prefix.tmp.clone();
    let result = (|| {
        let guard = lock.acquire()?;
        finish(path, canonical, prefix, &guard, faults)
    })();
    if !matches!(result, Ok(Some(_))) {
        let _ = fs::remove_file(&tmp);
    }
    result
}

fn write_prefix(path: &Path, canonical: &Path, faults: &Faults) -> Result<Prefix> {
    // Opened by the caller's path, which its errors name (the same file as `canonical`, whose
    // identity the final step checks again).
    let journal =
        FileBackend::open_with(path, &FileOptions { create: false, ..Default::default() })?;
    let id = journal
        .snapshot_file()
        .and_then(|f| identity::of_file(&f).ok())
        .map(|look| look.id)
        .ok_or_else(|| {
        Error::io("stat", path, std::io::Error::other("cannot stat the journal"))
    })?;
    let mut state = ReplayState::new();
    let mut operations = 0;
    let end = journal.read_from(0, &mut |at, batch| {
        operations += batch.ops.len() as u64;
        state.replay_batch(batch).map(drop).map_err(|u| {
            journal
                .corrupt_at(at, format!("Optuna's replay raises on this operation: {}", u.reason))
        })
    })?;
    let (bytes, compacted_operations) = encode(path, &state, JournalFormat::Trialog)?;
    let again = replay_bytes(path, &bytes, JournalFormat::Trialog)?;
    if let Some(why) = same::differences(&state, &again, true) {
        return Err(Error::Compaction {
            path: path.to_owned(),
            reason: format!("the compacted log would not replay to the same state: {why}"),
        });
    }
    let tmp = durable::temp_beside(canonical, "compacting");
    let written = (|| {
        let create = || OpenOptions::new().write(true).create_new(true).open(&tmp);
        let mut file = step!(faults, Create, create()).map_err(|e| Error::io("create", &tmp, e))?;
        step!(faults, Write, file.write_all(&bytes)).map_err(|e| Error::io("write", &tmp, e))?;
        let permissions =
            fs::metadata(canonical).map_err(|e| Error::io("stat", path, e))?.permissions();
        file.set_permissions(permissions).map_err(|e| Error::io("chmod", &tmp, e))?;
        // Flushed now, without the lock: the final step only flushes the few appended frames.
        step!(faults, Sync, file.sync_all()).map_err(|e| Error::io("fsync", &tmp, e))
    })();
    if let Err(e) = written {
        let _ = fs::remove_file(&tmp);
        return Err(e);
    }
    Ok(Prefix {
        journal,
        id,
        state,
        operations,
        end,
        tmp,
        compacted: bytes.len() as u64,
        compacted_operations,
    })
}

/// The final step, holding the writers' lock (module docs, step 2).
fn finish(
    path: &Path,
    canonical: &Path,
    prefix: Prefix,
    guard: &LockGuard<'_>,
    faults: &Faults,
) -> Result<Option<Compacted>> {
    let stat = |p: &Path| identity::of_path_confirmed(p).map_err(|e| Error::io("stat", path, e));
    let look = stat(canonical)?;
    if look.id != prefix.id {
        return Ok(None);
    }
    // What writers appended meanwhile, as whole frames (a torn tail is left behind, as every
    // reader leaves it).
    let mut state = prefix.state.clone();
    let mut operations = prefix.operations;
    let journal = &prefix.journal;
    let end = journal.read_from(prefix.end, &mut |at, batch| {
        operations += batch.ops.len() as u64;
        state.replay_batch(batch).map(drop).map_err(|u| {
            journal
                .corrupt_at(at, format!("Optuna's replay raises on this operation: {}", u.reason))
        })
    })?;
    let old = journal.snapshot_file().ok_or_else(|| {
        Error::io("read", path, std::io::Error::other("cannot open the journal again"))
    })?;
    let tail = read_range(&old, prefix.end, end).map_err(|e| Error::io("read", path, e))?;
    // Our own handles on the old file closed before the rename: Windows refuses to replace a
    // file that any handle has open, this one's included.
    drop(old);
    drop(prefix.journal);
    let tail_operations = operations - prefix.operations;
    let new_end = prefix.compacted + tail.len() as u64;
    let tmp = &prefix.tmp;
    let new_id = {
        let mut file =
            OpenOptions::new().append(true).open(tmp).map_err(|e| Error::io("open", tmp, e))?;
        step!(faults, Write, file.write_all(&tail)).map_err(|e| Error::io("write", tmp, e))?;
        step!(faults, Sync, file.sync_all()).map_err(|e| Error::io("fsync", tmp, e))?;
        identity::of_file(&file).map_err(|e| Error::io("stat", tmp, e))?.id
    };
    // Windows refuses to replace a file other handles have open: say so before writing
    // anything (the rename below still maps a handle opened since to the same error).
    if durable::open_elsewhere(canonical) {
        return Err(in_use(path));
    }
    write_successor(
        canonical,
        &successor::Successor::then(
            successor::read(canonical),
            successor::Hop { old: prefix.id, old_end: end, new: new_id, new_end },
        ),
        faults,
    )?;
    // The snapshot describes the old bytes: removed before the rename, so no crash leaves it
    // beside the new journal (an open then replays the whole new journal, which is short).
    let snapshot = crate::snapshot::path_for(canonical);
    match fs::remove_file(&snapshot) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
            return Err(Error::io("remove the snapshot", snapshot, e));
        }
        _ => {}
    }
    remove_leftovers(canonical, Some(tmp));
    // Right before the rename: still ours, and nobody wrote meanwhile (a writer that broke the
    // lock): then give up instead of dropping what it wrote.
    guard.verify_held()?;
    let now = stat(canonical)?;
    if now.id != look.id || now.len != look.len {
        return Err(Error::Compaction {
            path: path.to_owned(),
            reason: format!(
                "the journal grew from {} to {} bytes while it was compacted, although the \
                 writers' lock was held (did a writer break it after its grace period?)",
                look.len, now.len
            ),
        });
    }
    step!(faults, Rename, durable::replace(tmp, canonical)).map_err(|e| {
        if durable::open_elsewhere(canonical) {
            in_use(path)
        } else {
            Error::io("rename", canonical, e)
        }
    })?;
    let dir = durable::dir_of(canonical);
    step!(faults, SyncDir, durable::sync_dir(&dir))
        .map_err(|e| Error::io("fsync directory", &dir, e))?;
    let parts = state.parts();
    let studies = parts.studies.len() as u64;
    Ok(Some(Compacted {
        format: Some(JournalFormat::Trialog),
        bytes_before: look.len,
        bytes_after: new_end,
        operations_before: operations,
        operations_after: prefix.compacted_operations + tail_operations,
        studies,
        deleted_studies: parts.next_study_id - studies,
        trials: parts.trial_count as u64,
    }))
}

/// The error of a compaction that Windows does not let replace the journal `path`.
fn in_use(path: &Path) -> Error {
    Error::JournalInUse {
        path: path.to_owned(),
        operation: "replace (trialog compact)",
        hint: " (on Windows a journal that other handles have open cannot be replaced: stop them \
               first)",
    }
}

/// Writes the successor record durably in place of an older one (temporary file, flush,
/// rename; the directory is synced with the journal's rename that follows).
fn write_successor(journal: &Path, record: &successor::Successor, faults: &Faults) -> Result<()> {
    let target = successor::path_for(journal);
    NewFile {
        place: Place::Replace,
        errors_name_temp: true,
        sync_dir: false,
        faults: Some(faults),
        ..NewFile::new(&target, "tmp")
    }
    .write(&successor::encode(record))
}

/// Reads the bytes `from..to` of `file`.
fn read_range(file: &File, from: u64, to: u64) -> std::io::Result<Vec<u8>> {
    let len = usize::try_from(to.saturating_sub(from)).map_err(std::io::Error::other)?;
    let mut buf = vec![0u8; len];
    let n =
        crate::backend::read_full(|b, at| crate::sys::pio::read_at(file, b, at), &mut buf, from)?;
    if n != len {
        return Err(std::io::Error::new(
            std::io::ErrorKind::UnexpectedEof,
            format!("the journal ends before offset {to}"),
        ));
    }
    Ok(buf)
}
