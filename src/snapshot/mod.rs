//! Snapshots: the replayed state of a prefix of a journal, saved beside it
//! (`<journal>.snapshot`) so that an open replays only what follows the prefix.
//!
//! The file format, the identity a snapshot checks and the rules are in `docs/FORMAT.md`
//! ("Snapshots"). The guarantee: **a snapshot never changes what an open shows**. [`Target::load`] uses
//! one only when it proves it was taken of this journal's current bytes; otherwise (missing,
//! stale, another journal's, damaged, of an unknown version) the caller replays the whole
//! journal, and every case but "missing" logs one warning. A version 2 snapshot's trials are
//! decoded after the open, when first read (`lazy`); damage found then brings the trials from a
//! full replay instead, with the same one warning.

mod anchor;
mod file;
mod lazy;
mod records;

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use crate::backend::JournalFormat as JournalKind;
use crate::error::{Error, Result};
use crate::replay::ReplayState;

/// Once the log an open would replay past the newest snapshot has grown by this many bytes, a
/// writing handle takes a new snapshot in the background (8 MiB: measured in `bench/snapshot.sh`,
/// an open then replays at most about 30 to 60 ms of log, trialog's or Optuna's JSON lines;
/// `docs/FORMAT.md`, "Who takes one").
pub const AUTO_THRESHOLD_BYTES: u64 = 8 << 20;

/// A journal file that snapshots can be taken of.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// The journal.
    pub journal: PathBuf,
    /// Its format.
    pub kind: crate::backend::JournalFormat,
}

/// A snapshot that was written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Taken {
    /// The snapshot file.
    pub path: PathBuf,
    /// The journal position it covers (an open replays from here).
    pub covered_end: u64,
    /// Its size in bytes.
    pub bytes: u64,
}

/// The snapshot file of the journal at `journal`: `<journal>.snapshot`.
pub fn path_for(journal: &Path) -> PathBuf {
    let mut name = journal.as_os_str().to_owned();
    name.push(".snapshot");
    PathBuf::from(name)
}

impl Target {
    /// The snapshot file of this journal.
    pub fn path(&self) -> PathBuf {
        path_for(&self.journal)
    }

    /// Writes a snapshot of `state`, which replayed this journal up to position `end` (a
    /// record boundary), durably (temporary file, flush, rename, directory sync) in place of the
    /// old one. Holds no lock: the journal's bytes before `end` never change. On error nothing
    /// changed (the old snapshot stays) and the error names the journal.
    pub fn take(&self, state: &ReplayState, end: u64) -> Result<Taken> {
        self.take_from(None, state, end)
    }

    /// [`Target::take`], with the anchor records read from `journal` when given: the journal
    /// file `state` was replayed from, opened before (the path may name a newer file by now,
    /// if a compaction replaced it, in which `end` means something else).
    pub(crate) fn take_from(
        &self,
        journal: Option<&File>,
        state: &ReplayState,
        end: u64,
    ) -> Result<Taken> {
        let fail = |reason: String| Error::Snapshot { path: self.journal.clone(), reason };
        let opened;
        let journal = match journal {
            Some(file) => file,
            None => {
                opened =
                    File::open(&self.journal).map_err(|e| Error::io("open", &self.journal, e))?;
                &opened
            }
        };
        let io = |e| Error::io("read", &self.journal, e);
        let first = anchor::first(self.kind, journal, end).map_err(io)?;
        let last = anchor::last(self.kind, journal, end).map_err(io)?;
        let (Some(first), Some(last)) = (first, last) else {
            return Err(fail(format!("the journal holds no whole record ending at {end}")));
        };
        let target = self.path();
        let mut tmp = target.as_os_str().to_owned();
        tmp.push(format!(".tmp-{}", uuid::Uuid::new_v4()));
        let tmp = PathBuf::from(tmp);
        let written = (|| {
            let f = File::options()
                .write(true)
                .create_new(true)
                .open(&tmp)
                .map_err(|e| Error::io("create", &tmp, e))?;
            let mut out = BufWriter::with_capacity(1 << 20, f);
            file::write(&mut out, self.kind, &first, &last, state).map_err(fail)?;
            out.flush().map_err(|e| Error::io("write", &tmp, e))?;
            let f = out.into_inner().map_err(|e| Error::io("write", &tmp, e.into_error()))?;
            f.sync_all().map_err(|e| Error::io("fsync", &tmp, e))?;
            let bytes = f.metadata().map_err(|e| Error::io("stat", &tmp, e))?.len();
            drop(f);
            crate::sys::durable::replace(&tmp, &target)
                .map_err(|e| Error::io("rename into place", &target, e))?;
            Ok(bytes)
        })();
        let bytes = match written {
            Ok(bytes) => bytes,
            Err(e) => {
                let _ = std::fs::remove_file(&tmp);
                return Err(e);
            }
        };
        let dir = target.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
        crate::sys::durable::sync_dir(dir).map_err(|e| Error::io("fsync", dir, e))?;
        Ok(Taken { path: target, covered_end: last.end(), bytes })
    }

    /// The state in this journal's snapshot and the journal position it covers, if there is a
    /// snapshot and it was taken of this journal's current bytes. `None` means: replay the whole
    /// journal; every reason but a missing snapshot file was logged as one warning. A version 2
    /// snapshot's trials are decoded when first read (see `lazy`), from the snapshot file held
    /// (mapped, or read on Windows) by the state.
    pub fn load(&self) -> Option<(ReplayState, u64)> {
        let path = self.path();
        let snapshot = match File::open(&path) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return None,
            Err(e) => return self.unused(&path, &format!("cannot open it: {e}")),
        };
        let journal = match File::open(&self.journal) {
            Ok(f) => f,
            Err(e) => return self.unused(&path, &format!("cannot open the journal: {e}")),
        };
        let accept = |a: &file::Anchor| {
            if a.kind != self.kind {
                return Err("it is of a journal of another format".to_owned());
            }
            for (what, rec) in [("first", &a.first), ("last covered", &a.last)] {
                match anchor::holds(self.kind, &journal, rec) {
                    Ok(true) => {}
                    Ok(false) => {
                        return Err(format!(
                            "the journal does not hold its {what} record ({} bytes at offset {}, \
                             CRC {:#010x}): it belongs to another journal or to an older version \
                             of this one",
                            rec.length, rec.offset, rec.crc
                        ));
                    }
                    Err(e) => return Err(format!("cannot read the journal: {e}")),
                }
            }
            Ok(())
        };
        let bytes = match crate::sys::map::whole_replaceable(&snapshot) {
            Ok(bytes) => bytes,
            Err(e) => return self.unused(&path, &format!("cannot read it: {e}")),
        };
        let journal_for_replay = match journal.try_clone() {
            Ok(f) => f,
            Err(e) => return self.unused(&path, &format!("cannot open the journal: {e}")),
        };
        let origin = |end| lazy::Origin {
            journal: journal_for_replay,
            journal_path: self.journal.clone(),
            kind: self.kind,
            snapshot_path: path.clone(),
            end,
        };
        match file::read(bytes, accept, origin) {
            Ok((state, anchor)) => Some((state, anchor.last.end())),
            Err(reason) => self.unused(&path, &reason),
        }
    }

    fn unused<T>(&self, path: &Path, reason: &str) -> Option<T> {
        log::warn!(
            "snapshot {} not used ({reason}); replaying the whole journal {}",
            path.display(),
            self.journal.display()
        );
        None
    }
}
