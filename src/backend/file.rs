//! The local-file backend: a journal file plus its `<journal>.lock`.
//!
//! Writes: take the lock, check the end, cover a torn tail with a padding frame (written and
//! synced first), `pwrite` the frames at the end (one per batch, all in one call), `fdatasync`,
//! release. Reads never lock: a cold
//! read maps the file (`memmap2`), later reads `pread` only the new bytes, each sync scanning
//! exactly the bytes below the size one `stat` of the path gave (which also tells a reader that
//! a compaction replaced the journal, so that it can follow it: `docs/RECOVERY.md`). The file
//! never shrinks, so a reader that has it mapped never faults.
//!
//! What one append costs (advisory lock, nobody else appended): `flock`, a `pread` of the lock's
//! owner record, one `stat` of the journal's path, `pwrite`, `fdatasync`, `flock`. The one
//! `stat` per hold of the lock answers both questions a writer must ask under the lock: where
//! does the journal end now (the catch-up read and the append share the answer, see [`Hold`]),
//! and does the path still name the file this handle has open (see
//! [`FileBackend::look_at_path`]).

use std::io::{self, ErrorKind};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, PoisonError, RwLock};

use super::io::{self as fio, Faults, JournalFile};
use super::poison::Poison;
use super::recovery::Recovery;
use super::{
    AppendOutcome, AppendPlan, LogBackend, RecoveryMode, RecoveryReport, header_start, plan_append,
    successor,
};
use crate::error::{Error, Result};
use crate::journal::LogBatch;
use crate::journal::frame;
use crate::lock::{self, JournalLock, LockGuard, LockOptions};
use crate::sys::durable;

/// Reads of at least this many new bytes go through a memory map instead of `pread`.
const MMAP_THRESHOLD: u64 = 1 << 20;

/// How to open a journal file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileOptions {
    /// Create the journal (header only) if it does not exist. Default: true.
    pub create: bool,
    /// The writers' lock.
    pub lock: LockOptions,
    /// What reads and writes do with bytes that are not valid frames (`docs/RECOVERY.md`).
    /// Default: [`RecoveryMode::TolerateCorruptedTail`].
    pub recovery: RecoveryMode,
}

impl Default for FileOptions {
    fn default() -> Self {
        FileOptions {
            create: true,
            lock: LockOptions::default(),
            recovery: RecoveryMode::default(),
        }
    }
}

/// A journal in a local (or NFS-mounted) file.
///
/// Guarantees: an append that returns `Appended` (frames that `write_if` wrote, once
/// `sync_written` returned) has been written and `fdatasync`ed; an append
/// is one frame (all or nothing after a crash); after a failed write or fsync this handle is
/// poisoned and every later call returns [`Error::Poisoned`]; before its first append a handle
/// syncs the journal's directory, so the journal's own directory entry cannot vanish in a power
/// loss after an append was acknowledged (even if the process that created the journal died
/// before syncing it); with a lease lock, ownership is verified right before every write (see
/// `docs/LOCKING.md` for the window that remains). Not guaranteed: durability on a medium that
/// acknowledges `fdatasync` without persisting (disable such write caches).
#[derive(Debug)]
pub struct FileBackend {
    path: PathBuf,
    /// The journal file this handle reads and appends to: the one the path named at the open,
    /// or the compacted successor it followed ([`LogBackend::follow_compaction`]).
    open: RwLock<Arc<OpenFile>>,
    /// A look at the path found that it no longer names the open file.
    replaced: AtomicBool,
    faults: Faults,
    lock_options: LockOptions,
    lock: OnceLock<WriteLock>,
    poisoned: Poison,
    /// The journal's directory entry is known to be durable (we synced the directory).
    dir_synced: AtomicBool,
    recovery: Recovery,
}

impl FileBackend {
    /// Opens the journal at `path` with default options (create if missing, advisory lock).
    pub fn open(path: impl AsRef<Path>) -> Result<Self> {
        Self::open_with(path, &FileOptions::default())
    }

    /// Opens the journal at `path`. Fails with [`Error::NotAJournal`] if the file exists and is
    /// something else, and with [`Error::UnsupportedFormat`] if a newer trialog wrote it.
    pub fn open_with(path: impl AsRef<Path>, options: &FileOptions) -> Result<Self> {
        Self::open_inner(path.as_ref(), options, Faults::default())
    }

    /// [`FileBackend::open_with`], with every system call on the journal going through
    /// `faults` (which can fail or shorten it, and record it). Handles opened with the same
    /// injector share its rules and its trace. Only with the cargo feature `fault-injection`.
    #[cfg(feature = "fault-injection")]
    pub fn open_with_faults(
        path: impl AsRef<Path>,
        options: &FileOptions,
        faults: std::sync::Arc<super::fault::FaultInjector>,
    ) -> Result<Self> {
        Self::open_inner(path.as_ref(), options, Some(faults))
    }

    fn open_inner(path: &Path, options: &FileOptions, faults: Faults) -> Result<Self> {
        let path = path.to_path_buf();
        let mut dir_synced = false;
        if options.create && !path.exists() {
            create_journal(&path, &faults)?;
            dir_synced = true;
        }
        // Read-only where the file cannot be written (a read-only mount): readers work.
        let (file, _) = fio::open_existing(&path).map_err(|e| Error::io("open", &path, e))?;
        let file = OpenFile::new(file, &path, &faults)?;
        let backend = FileBackend {
            open: RwLock::new(Arc::new(file)),
            replaced: AtomicBool::new(false),
            path,
            faults,
            lock_options: options.lock.clone(),
            lock: OnceLock::new(),
            poisoned: Poison::default(),
            dir_synced: AtomicBool::new(dir_synced),
            recovery: Recovery::new(options.recovery),
        };
        let head = backend.pread(0, frame::HEADER_LEN)?;
        header_start(&backend.path, &head)?;
        Ok(backend)
    }

    /// The journal file this handle uses now.
    fn current(&self) -> Arc<OpenFile> {
        self.open.read().unwrap_or_else(PoisonError::into_inner).clone()
    }

    fn check_poisoned(&self) -> Result<()> {
        self.poisoned.check(&self.path)
    }

    /// Latches `e` as the reason this handle refuses all further calls, and returns it.
    fn poison(&self, op: &'static str, e: io::Error) -> Error {
        self.poisoned.set(&self.path, op, e)
    }

    /// Checks that `guard` still holds the lock, then `pwrite`s `bytes` at `offset` (not synced);
    /// poisons the handle on a write failure (a lost lock writes nothing and does not poison).
    fn write_at(&self, guard: &LockGuard<'_>, bytes: &[u8], offset: u64) -> Result<()> {
        guard.verify_held()?;
        if let Err(e) = self.current().file.write_all_at(bytes, offset) {
            return Err(self.poison("write", e));
        }
        Ok(())
    }

    /// Syncs the journal's directory once per handle, before its first write: the journal may
    /// have been linked into place by a creator that died before syncing the directory, and an
    /// acknowledged append must not vanish with the directory entry. A failure poisons the
    /// handle (a retried directory fsync could report a success it did not achieve).
    fn ensure_dir_synced(&self) -> Result<()> {
        if self.dir_synced.load(Ordering::Acquire) {
            return Ok(());
        }
        if let Err(e) = fio::sync_dir(&durable::dir_of(&self.path), &self.faults) {
            return Err(self.poison("fsync directory", e));
        }
        self.dir_synced.store(true, Ordering::Release);
        Ok(())
    }

    /// One `stat` of the journal's path: its length if the path still names the file this
    /// handle has open, [`Seen::Replaced`] if it names another file or nothing (`trialog
    /// recover` or a compaction renamed a new file into place, or someone removed it).
    ///
    /// Why checking under the lock suffices: whoever replaces a journal holds its lock while it
    /// renames (`recover` does). A writer holding the lock therefore sees either the old file
    /// (no replacement yet, and none can start before it releases) or the finished replacement.
    /// Since the check is the same `stat` that tells the writer where the journal ends, it
    /// costs nothing extra: no append lands in a file nobody will read again.
    fn look_at_path(&self) -> Result<Seen> {
        let seen = match fio::confirmed_stat(&self.path, &self.faults) {
            Ok(look) if look.id == self.current().id => Seen::Len(look.len),
            Ok(_) => Seen::Replaced,
            Err(e) if e.kind() == ErrorKind::NotFound => Seen::Replaced,
            Err(e) => return Err(Error::io("stat", &self.path, e)),
        };
        if seen == Seen::Replaced {
            self.replaced.store(true, Ordering::Release);
        }
        Ok(seen)
    }

    /// While this handle holds the lock: what [`FileBackend::look_at_path`] saw, looked at once
    /// per hold and then kept up to date by our own appends. `None` when it does not hold it.
    fn held_view(&self) -> Result<Option<Seen>> {
        let Some(lock) = self.lock.get() else {
            return Ok(None);
        };
        let mut hold = lock.hold();
        if !hold.held {
            return Ok(None);
        }
        if let Some(seen) = hold.seen {
            return Ok(Some(seen));
        }
        let seen = self.look_at_path()?;
        hold.seen = Some(seen);
        Ok(Some(seen))
    }

    /// Records, while this handle holds the lock, that the journal now ends at `end` (we just
    /// appended up to there).
    fn note_end(&self, end: u64) {
        if let Some(lock) = self.lock.get() {
            let mut hold = lock.hold();
            if hold.held {
                hold.seen = Some(Seen::Len(end));
            }
        }
    }

    /// The length up to which `read_from` reads: while this handle holds the lock, the length
    /// known under it (free after the first look); otherwise one look at the path, which gives
    /// the length when the path still names the open file, and when it names another file (a
    /// compaction or `trialog recover` replaced the journal) notes that, so the handle can
    /// follow a compaction, and reads the open file to its end (one more `fstat`).
    fn read_len(&self) -> Result<u64> {
        match self.held_view()? {
            Some(Seen::Len(len)) => Ok(len),
            Some(Seen::Replaced) => self.len(),
            None => match self.look_at_path()? {
                Seen::Len(len) => Ok(len),
                Seen::Replaced => self.len(),
            },
        }
    }

    fn len(&self) -> Result<u64> {
        self.current().file.len().map_err(|e| Error::io("stat", &self.path, e))
    }

    /// Reads up to `len` bytes at `offset` (fewer at the end of the file).
    fn pread(&self, offset: u64, len: usize) -> Result<Vec<u8>> {
        let mut buf = vec![0u8; len];
        let filled = self
            .current()
            .file
            .read_full_at(&mut buf, offset)
            .map_err(|e| Error::io("read", &self.path, e))?;
        buf.truncate(filled);
        Ok(buf)
    }

    /// Reads every byte from `offset` to the end of the file.
    fn pread_to_end(&self, offset: u64) -> Result<Vec<u8>> {
        let len = self.len()?;
        self.pread(offset, usize::try_from(len.saturating_sub(offset)).unwrap_or(usize::MAX))
    }

    fn lock_object(&self) -> Result<&WriteLock> {
        if let Some(lock) = self.lock.get() {
            return Ok(lock);
        }
        // Lock the canonical path, so handles that reach the journal through different paths
        // (a symlink, `./j` vs `/abs/j`) share one lock file.
        let canonical =
            std::fs::canonicalize(&self.path).map_err(|e| Error::io("resolve", &self.path, e))?;
        let lock = lock::open_lock(&canonical, &self.lock_options)?;
        Ok(self.lock.get_or_init(|| WriteLock { lock, hold: Mutex::default() }))
    }
}

/// An open journal file and its identity.
#[derive(Debug)]
struct OpenFile {
    file: JournalFile,
    /// The file's identity (device, inode), to tell whether the path still names it.
    id: crate::sys::identity::FileId,
}

impl OpenFile {
    fn new(file: std::fs::File, path: &Path, faults: &Faults) -> Result<Self> {
        let id = fio::file_id(&file).map_err(|e| Error::io("stat", path, e))?;
        let file = JournalFile::new(file, path, faults).map_err(|e| Error::io("open", path, e))?;
        Ok(OpenFile { file, id })
    }
}

/// What a look at the journal's path under the lock found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Seen {
    /// The path names our file, which is this long.
    Len(u64),
    /// The path names another file, or nothing.
    Replaced,
}

/// What this handle knows about the journal while it holds the write lock.
///
/// Holding the lock, nobody else can append, so the journal's length looked at once under the
/// lock stays exact until we append, and our own appends update it. The catch-up read and the
/// append of one write then share one `stat` instead of each taking their own. The state is
/// reset when the lock is taken and cleared before it is released (by [`WriteLock`]), so a
/// length never outlives the hold it was seen in.
#[derive(Debug, Default)]
struct Hold {
    /// This handle holds the lock.
    held: bool,
    /// What the path named at the first look under this hold, updated by our appends.
    seen: Option<Seen>,
}

/// The journal's lock, wrapped so that the handle knows when it holds it (see [`Hold`]).
#[derive(Debug)]
struct WriteLock {
    lock: Box<dyn JournalLock>,
    hold: Mutex<Hold>,
}

impl WriteLock {
    fn hold(&self) -> MutexGuard<'_, Hold> {
        // Nothing can panic while the mutex is held; recover from poisoning anyway.
        self.hold.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl JournalLock for WriteLock {
    /// Takes the inner lock and starts a fresh [`Hold`].
    fn acquire(&self) -> Result<LockGuard<'_>> {
        let inner = self.lock.acquire()?;
        // Our guard's `release` releases the inner lock; the inner guard must not as well.
        std::mem::forget(inner);
        *self.hold() = Hold { held: true, seen: None };
        Ok(LockGuard::new(self))
    }

    fn verify_held(&self) -> Result<()> {
        self.lock.verify_held()
    }

    /// Forgets the [`Hold`] before releasing the inner lock: once other writers may append,
    /// no length seen under the lock is used again.
    fn release(&self) {
        *self.hold() = Hold::default();
        self.lock.release();
    }

    fn path(&self) -> &Path {
        self.lock.path()
    }
}

/// Creates a journal holding only the header, atomically: the header is written and synced in a
/// temporary file that is then hard-linked to `path` (which fails harmlessly if another process
/// created the journal first), and the directory is synced.
fn create_journal(path: &Path, faults: &Faults) -> Result<()> {
    let dir = durable::dir_of(path);
    let tmp = durable::temp_beside(path, "creating");
    let result = (|| {
        // Errors name the journal the caller asked for, not the temporary file.
        let file = fio::create(&tmp, faults).map_err(|e| Error::io("create", path, e))?;
        file.write_all_at(&frame::encode_header(), 0).map_err(|e| Error::io("create", path, e))?;
        file.sync_all().map_err(|e| Error::io("create", path, e))?;
        match fio::hard_link(&tmp, path, faults) {
            Ok(()) => {}
            Err(e) if e.kind() == ErrorKind::AlreadyExists => {}
            Err(e) => return Err(Error::io("create", path, e)),
        }
        fio::sync_dir(&dir, faults).map_err(|e| Error::io("fsync directory", &dir, e))
    })();
    let _ = std::fs::remove_file(&tmp);
    result
}

impl LogBackend for FileBackend {
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
        let mut from = from;
        if from == 0 {
            from = header_start(&self.path, &self.pread(0, frame::HEADER_LEN)?)?;
            if from == 0 {
                return Ok(0);
            }
        }
        let len = self.read_len()?;
        if len < from {
            return Err(Error::Corruption {
                path: self.path.clone(),
                offset: len,
                reason: format!("the file shrank below the already-read position {from}"),
            });
        }
        if len == from || self.recovery.stopped_at(from) {
            return Ok(from);
        }
        // Scan exactly the bytes up to this one `len`, and report positions from what was
        // scanned. A reader holds no lock: an append can land while we read (and the size can
        // even be seen mid-append, at a page boundary); reading past `len`, or returning a length
        // other than the one scanned, would make the caller skip or re-deliver frames.
        let want = usize::try_from(len - from).unwrap_or(usize::MAX);
        let map;
        let copied;
        let bytes: &[u8] = if len - from >= MMAP_THRESHOLD {
            map = crate::sys::map::map_readonly(self.current().file.file())
                .map_err(|e| Error::io("map", &self.path, e))?;
            let start = usize::try_from(from).unwrap_or(usize::MAX).min(map.len());
            &map[start..start.saturating_add(want).min(map.len())]
        } else {
            copied = self.pread(from, want)?;
            &copied
        };
        let confirm = |at: u64| self.pread_to_end(at);
        self.recovery.read_region(&self.path, bytes, from, sink, &confirm)
    }

    fn lock(&self) -> Result<LockGuard<'_>> {
        self.check_poisoned()?;
        self.lock_object()?.acquire()
    }

    fn check_batch(&self, batch: &LogBatch) -> Result<()> {
        super::encode_payload(batch).map(drop)
    }

    fn write_if(
        &self,
        guard: &LockGuard<'_>,
        expected_end: u64,
        batches: &[LogBatch],
    ) -> Result<AppendOutcome> {
        self.check_poisoned()?;
        self.recovery.check_writable(&self.path)?;
        let seen = match self.held_view()? {
            Some(seen) => seen,
            None => self.look_at_path()?, // a guard from elsewhere: look afresh
        };
        let len = match seen {
            Seen::Len(len) => len,
            Seen::Replaced => return Err(Error::JournalReplaced { path: self.path.clone() }),
        };
        if len < expected_end {
            return Err(Error::Corruption {
                path: self.path.clone(),
                offset: len,
                reason: format!("the file shrank below the already-read position {expected_end}"),
            });
        }
        let tail =
            self.pread(expected_end, usize::try_from(len - expected_end).unwrap_or(usize::MAX))?;
        let mode = self.recovery.mode();
        let (repair, frames) = match plan_append(&self.path, mode, expected_end, &tail, batches)? {
            AppendPlan::Moved => return Ok(AppendOutcome::Moved),
            AppendPlan::Write { repair, frame } => (repair, frame),
        };
        self.ensure_dir_synced()?;
        if !repair.is_empty() {
            log::warn!(
                "{}: covering {} bytes of torn tail at offset {expected_end} with padding",
                self.path.display(),
                tail.len()
            );
            // Durable before the frames are written: a crash must never persist a frame
            // without the repair before it (which would read as corruption).
            self.write_at(guard, &repair, expected_end)?;
            self.sync_written(guard)?;
            self.note_end(expected_end + repair.len() as u64);
        }
        let at = expected_end + repair.len() as u64;
        self.write_at(guard, &frames, at)?;
        let end = at + frames.len() as u64;
        self.note_end(end);
        Ok(AppendOutcome::Appended { end })
    }

    fn sync_written(&self, _guard: &LockGuard<'_>) -> Result<()> {
        self.check_poisoned()?;
        if let Err(e) = self.current().file.sync_data() {
            return Err(self.poison("fsync", e));
        }
        Ok(())
    }

    fn recovery_report(&self) -> RecoveryReport {
        self.recovery.report()
    }

    fn snapshot_source(&self) -> Option<(&Path, super::JournalFormat)> {
        (self.recovery.mode() == super::RecoveryMode::default())
            .then_some((self.path.as_path(), super::JournalFormat::Trialog))
    }

    fn snapshot_file(&self) -> Option<std::fs::File> {
        self.current().file.file().try_clone().ok()
    }

    /// Follows compactions (see the trait) only in the default recovery mode (another mode may
    /// have left out records that a compaction kept), and only as far as the successor record
    /// links this handle's open file to the file the path names now (`successor.rs`).
    fn follow_compaction(&self, end: u64) -> Result<Option<super::Followed>> {
        if !self.replaced.load(Ordering::Acquire) || self.recovery.mode() != RecoveryMode::default()
        {
            return Ok(None);
        }
        let Some(record) = successor::read(&self.path) else { return Ok(None) };
        let file = match fio::open_existing(&self.path) {
            Ok((file, _)) => file,
            Err(e) if e.kind() == ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(Error::io("open", &self.path, e)),
        };
        let new = OpenFile::new(file, &self.path, &self.faults)?;
        let Some(follow) = record.follow(self.current().id, end, new.id) else { return Ok(None) };
        let head = {
            let mut buf = vec![0u8; frame::HEADER_LEN];
            let n =
                new.file.read_full_at(&mut buf, 0).map_err(|e| Error::io("read", &self.path, e))?;
            buf.truncate(n);
            buf
        };
        header_start(&self.path, &head)?;
        let followed = match follow {
            successor::Follow::At(pos) => super::Followed::At(pos),
            successor::Follow::Replay => super::Followed::FromStart,
        };
        log::info!(
            "{}: the journal was compacted; this handle goes on in the new file ({followed:?}, \
             was at offset {end})",
            self.path.display()
        );
        *self.open.write().unwrap_or_else(PoisonError::into_inner) = Arc::new(new);
        self.replaced.store(false, Ordering::Release);
        if let Some(lock) = self.lock.get() {
            let mut hold = lock.hold();
            if hold.held {
                hold.seen = None; // look at the new file afresh
            }
        }
        Ok(Some(followed))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::journal::Operation;
    use crate::model::StudyDirection;

    fn batch(name: &str) -> LogBatch {
        LogBatch {
            worker_id: "w".into(),
            ops: vec![Operation::CreateStudy {
                study_name: name.into(),
                directions: vec![StudyDirection::Minimize],
            }],
        }
    }

    #[test]
    fn appends_under_one_guard_follow_each_other_and_a_shrunk_file_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("j");
        let backend = FileBackend::open(&path).unwrap();
        let mut pos = backend.read_from(0, &mut |_, _| Ok(())).unwrap();
        let guard = backend.lock().unwrap();
        for name in ["a", "b", "c"] {
            match backend.append_if(&guard, pos, &batch(name)).unwrap() {
                AppendOutcome::Appended { end } => pos = end,
                AppendOutcome::Moved => panic!("nobody else writes"),
            }
            // A reader of the same handle, while the lock is held, sees every append.
            assert_eq!(
                backend.read_from(frame::HEADER_LEN as u64, &mut |_, _| Ok(())).unwrap(),
                pos
            );
        }
        drop(guard);
        // Someone truncates acknowledged frames: the next append refuses instead of writing
        // past the end.
        let len = std::fs::metadata(&path).unwrap().len();
        assert_eq!(len, pos);
        std::fs::OpenOptions::new().write(true).open(&path).unwrap().set_len(len - 10).unwrap();
        let guard = backend.lock().unwrap();
        match backend.append_if(&guard, pos, &batch("d")) {
            Err(Error::Corruption { offset, .. }) => assert_eq!(offset, len - 10),
            other => panic!("appended behind a shrunk end: {other:?}"),
        }
        assert_eq!(std::fs::metadata(&path).unwrap().len(), len - 10);
    }
}
