//! Optuna's own lock protocol on `<journal>.lock` (`JournalFileSymlinkLock`,
//! `JournalFileOpenLock` of Optuna 5.0's `optuna/storages/journal/_file.py`), so trialog and
//! Python Optuna writers of one JSON-lines journal exclude each other.
//!
//! Protocol, as Optuna implements it:
//! - acquire: create `<journal>.lock` atomically, as a symbolic link (`symlink(2)`, pointing at
//!   the journal) or as an empty file (`O_CREAT|O_EXCL`); on `EEXIST` sleep (1 ms, doubling) and
//!   retry;
//! - stale lock: a waiter `stat`s the lock (through the symlink, so for the symlink lock it sees
//!   the *journal's* mtime) and forcibly releases it once that mtime has not changed for the grace
//!   period (30 s by default) on the waiter's monotonic clock;
//! - release (and forcible release): rename the lock to `<lock><uuid4>.rename`, then unlink it.
//!
//! The lock records no owner and the holder never refreshes it. Hazards that follow (Optuna has
//! them too): a holder stalled for longer than the grace period (a long NFS hang) can be robbed by
//! a waiter, and then two writers append at once; a lock left by a killed holder blocks everyone
//! for the grace period; with `grace_period: None` it blocks forever. trialog narrows two races:
//! it breaks only the lock it watched go stale (same inode) and puts back a lock it renamed by
//! mistake, and it releases only the lock it created (same inode).
//!
//! Fairness: trialog's locks are recognisable (the symlink points at `.//<journal name>`, which no
//! one types, and the open-file lock holds the line `trialog`), so a waiter that finds the lock
//! held tells a trialog holder from a foreign (Python) one with one `readlink` or a small read, and
//! behaves politely towards Python writers ([`super::polite`]).

use std::ffi::OsString;
use std::fs;
use std::io::{self, Read as _, Write as _};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant, SystemTime};

use super::polite::{Holder, Manners};
use super::{JournalLock, LockGuard};
use crate::error::{Error, Result};
use crate::sys::identity::{self, Look};
use crate::sys::{link, mode, nofollow};

/// Which of Optuna's two lock classes to speak.
///
/// The default is Optuna's own default on Unix (`Symlink`) and `OpenFile` on Windows, where
/// Optuna's symlink lock fails without the `SeCreateSymbolicLinkPrivilege` privilege (Python's
/// `WinError 1314`) and Optuna's documentation tells Windows users to pass `JournalFileOpenLock`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OptunaLockKind {
    /// `JournalFileSymlinkLock` (Optuna's default): `<journal>.lock` is a symbolic link to the
    /// journal. Atomic even on NFSv2. On Windows without the privilege to create links it fails
    /// with [`Error::SymlinkLockUnavailable`].
    #[cfg_attr(unix, default)]
    Symlink,
    /// `JournalFileOpenLock`: `<journal>.lock` is an empty file created with `O_CREAT|O_EXCL`
    /// (NFSv3 and later; what Optuna recommends on Windows).
    #[cfg_attr(not(unix), default)]
    OpenFile,
}

/// How an Optuna-protocol lock is acquired.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OptunaLockOptions {
    /// The lock class; every writer of one journal must use the same one.
    pub kind: OptunaLockKind,
    /// Forcibly release a lock whose watched mtime has not changed for this long (Optuna's
    /// `grace_period`, default 30 s). `None` never breaks a lock (a killed holder then blocks
    /// every writer until someone removes `<journal>.lock` by hand).
    pub grace_period: Option<Duration>,
    /// Give up with [`Error::LockTimeout`] after this long; `None` waits indefinitely.
    pub timeout: Option<Duration>,
    /// Longest sleep between attempts (the first is 1 ms, doubling). Optuna's own waiters back
    /// off to 1 s; trialog's default is 50 ms.
    pub max_backoff: Duration,
}

impl Default for OptunaLockOptions {
    fn default() -> Self {
        OptunaLockOptions {
            kind: OptunaLockKind::default(),
            grace_period: Some(Duration::from_secs(30)),
            timeout: None,
            max_backoff: Duration::from_millis(50),
        }
    }
}

/// Identity of one lock file: its file id (device and inode) and change time in nanoseconds (an
/// unlinked lock's inode number is often reused at once by the next lock; the change time tells
/// them apart on file systems with fine timestamps).
type FileId = (identity::FileId, i64);

fn file_id(look: &Look) -> FileId {
    (look.id, i64::try_from(look.changed_ns).unwrap_or(i64::MAX))
}

/// The content of trialog's open-file locks (Optuna's are empty).
const OPEN_LOCK_MARKER: &[u8] = b"trialog\n";

/// Optuna's lock on `<journal>.lock`.
///
/// Guarantees: while every writer follows Optuna's protocol, no holder stalls longer than the
/// grace period and the file system creates links/files atomically, at most one writer (Python
/// or trialog, on any host) holds it. [`JournalLock::verify_held`] fails with
/// [`Error::LockLost`] if the lock file is no longer the one we created (someone broke it).
/// Release removes only the lock we created. Towards Python writers it is polite (see the
/// module docs): after seeing a foreign holder it pauses between its holds. Not guaranteed:
/// exclusion once a stalled holder has been broken (see the module docs); fairness (polite mode
/// makes starving a Python writer unlikely, it does not queue anyone).
#[derive(Debug)]
pub struct OptunaLock {
    path: PathBuf,
    /// The journal (whose growth shows that another writer took a turn).
    journal: PathBuf,
    /// What the symlink points at: `.//<journal file name>` (relative to the link's directory,
    /// so Python waiters that `stat` through the link find the journal on every host; the `.//`,
    /// which no one types, marks the link as trialog's).
    target: PathBuf,
    options: OptunaLockOptions,
    held: Mutex<Option<FileId>>,
    manners: Manners,
    /// An empty open-file lock seen once (its identity), where files carry no execute bit
    /// (Windows): foreign if it is still empty next time (trialog writes its marker right after
    /// creating the file).
    empty_seen: Mutex<Option<FileId>>,
}

const HOLDER: &str = "unknown (Optuna's lock protocol records no owner)";

impl OptunaLock {
    /// The lock for `journal` (at `<journal>.lock`). Touches nothing on disk.
    pub fn new(journal: &Path, options: OptunaLockOptions) -> Self {
        let name = journal.file_name().unwrap_or(journal.as_os_str());
        let mut target = OsString::from(".//");
        target.push(name);
        OptunaLock {
            path: super::lock_path_for(journal),
            journal: journal.to_owned(),
            target: PathBuf::from(target),
            options,
            held: Mutex::new(None),
            manners: Manners::default(),
            empty_seen: Mutex::new(None),
        }
    }

    /// Who holds the lock now (one `readlink`, or an open and a read of a few bytes).
    fn holder(&self) -> Holder {
        match self.options.kind {
            OptunaLockKind::Symlink => match fs::read_link(&self.path) {
                Ok(t) if t.as_os_str() == self.target.as_os_str() => Holder::Trialog,
                Ok(_) => Holder::Foreign,
                Err(e) if e.kind() == io::ErrorKind::NotFound => Holder::Free,
                // Not a link: the open-file protocol's lock is foreign here.
                Err(e) if link::is_not_a_link_error(&e) => Holder::Foreign,
                Err(_) => Holder::Unknown,
            },
            OptunaLockKind::OpenFile => {
                let mut content = [0u8; 16];
                let read = nofollow::open(&self.path, fs::OpenOptions::new().read(true)).and_then(
                    |mut f| {
                        let id = file_id(&identity::of_file(&f)?);
                        let n = f.read(&mut content)?;
                        let executable =
                            if n == 0 { mode::owner_may_execute(&f.metadata()?) } else { None };
                        Ok((id, n, executable))
                    },
                );
                match read {
                    Ok((_, n, _)) if &content[..n] == OPEN_LOCK_MARKER => Holder::Trialog,
                    // Python's `os.open` creates its lock with mode 0o777 less the umask;
                    // trialog creates its own without the execute bit.
                    Ok((_, 0, Some(true))) => Holder::Foreign,
                    // Mostly trialog's between creating it and writing its marker (a writer
                    // preempted there can leave it empty for milliseconds).
                    Ok((_, 0, Some(false))) => Holder::Unknown,
                    Ok((id, 0, None)) => {
                        let mut seen =
                            self.empty_seen.lock().unwrap_or_else(PoisonError::into_inner);
                        if seen.replace(id) == Some(id) { Holder::Foreign } else { Holder::Unknown }
                    }
                    Ok(_) => Holder::Foreign,
                    Err(e) if e.kind() == io::ErrorKind::NotFound => Holder::Free,
                    Err(e) if nofollow::is_link_error(&e) => Holder::Foreign,
                    Err(_) => Holder::Unknown,
                }
            }
        }
    }

    /// The journal's length (`None` if it cannot be read): its growth shows that another writer
    /// took a turn.
    fn journal_len(&self) -> Option<u64> {
        fs::metadata(&self.journal).ok().map(|m| m.len())
    }

    fn try_create(&self) -> io::Result<bool> {
        let created = match self.options.kind {
            OptunaLockKind::Symlink => link::symlink(&self.target, &self.path),
            OptunaLockKind::OpenFile => {
                return super::lock_file::create_new(&self.path).map(|file| match file {
                    Some(file) => {
                        mark_ours(file);
                        true
                    }
                    None => false,
                });
            }
        };
        match created {
            Ok(()) => Ok(true),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// The error for a failed create: [`Error::SymlinkLockUnavailable`] where symbolic links
    /// cannot be created (Windows without the privilege), naming Optuna's open-file lock.
    fn create_error(&self, e: io::Error) -> Error {
        match (self.options.kind, link::unavailable(&e)) {
            (OptunaLockKind::Symlink, Some(reason)) => Error::SymlinkLockUnavailable {
                path: self.path.clone(),
                reason: reason.to_owned(),
                instead: "Optuna's open-file lock (OptunaLockKind::OpenFile, \
                          `--optuna-lock open-file`; Python: JournalFileOpenLock)",
            },
            _ => Error::io("create lock", &self.path, e),
        }
    }

    /// The lock's identity (never following a symlink), or `None` if there is no lock.
    fn id(&self) -> io::Result<Option<FileId>> {
        match identity::of_link(&self.path) {
            Ok(look) => Ok(Some(file_id(&look))),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// What Optuna's waiters watch: `os.stat(lock).st_mtime` (through the symlink). When the link
    /// dangles (Optuna then retries without sleeping) trialog watches the link itself.
    fn watched(&self) -> Option<(FileId, SystemTime)> {
        let own = fs::symlink_metadata(&self.path).ok()?;
        let id = file_id(&identity::of_link(&self.path).ok()?);
        let through = fs::metadata(&self.path).unwrap_or(own);
        Some((id, through.modified().ok()?))
    }

    /// Optuna's `release()`: rename to a unique name, then unlink. Refuses (returns `false`) if
    /// the lock file is not `expected`; puts back a lock renamed by mistake.
    fn remove_if(&self, expected: FileId) -> bool {
        if !matches!(self.id(), Ok(Some(id)) if id == expected) {
            return false;
        }
        let mut aside = self.path.as_os_str().to_owned();
        aside.push(format!("{}.rename", uuid::Uuid::new_v4()));
        let aside = PathBuf::from(aside);
        if fs::rename(&self.path, &aside).is_err() {
            return false;
        }
        match identity::of_link(&aside) {
            // (A rename changes the change time: compare device and inode only.)
            Ok(look) if look.id != expected.0 => {
                // A new holder's lock appeared between the check and the rename: give it back
                // (a hard link fails rather than replace a lock created since).
                let _ = fs::hard_link(&aside, &self.path);
                let _ = fs::remove_file(&aside);
                false
            }
            _ => {
                let _ = fs::remove_file(&aside);
                true
            }
        }
    }
}

impl JournalLock for OptunaLock {
    fn acquire(&self) -> Result<LockGuard<'_>> {
        let start = Instant::now();
        let deadline = self.options.timeout.and_then(|t| start.checked_add(t));
        let mut sleep = Duration::from_millis(1);
        let mut watched: Option<(FileId, SystemTime)> = None;
        let mut last_change = Instant::now();
        loop {
            let looked =
                self.manners.before_attempt(|| self.journal_len(), || self.holder(), deadline);
            if self.try_create().map_err(|e| self.create_error(e))? {
                let id = self.id().map_err(|e| Error::io("stat", &self.path, e))?;
                *self.held.lock().unwrap_or_else(PoisonError::into_inner) = id;
                self.manners.acquired();
                return Ok(LockGuard::new(self));
            }
            self.manners.saw_holder(self.holder());
            if let Some(timeout) = self.options.timeout {
                if start.elapsed() >= timeout {
                    return Err(Error::LockTimeout {
                        path: self.path.clone(),
                        holder: HOLDER.to_owned(),
                        waited: start.elapsed(),
                    });
                }
            }
            if let Some(grace) = self.options.grace_period {
                let now = self.watched();
                if now.is_none() {
                    continue; // released meanwhile: retry at once, as Optuna does
                }
                if now != watched {
                    watched = now;
                    last_change = Instant::now();
                } else if last_change.elapsed() > grace {
                    if let Some((id, _)) = watched {
                        if self.remove_if(id) {
                            log::warn!(
                                "{}: forcibly released a lock unchanged for {:?} (Optuna's grace period)",
                                self.path.display(),
                                last_change.elapsed()
                            );
                        }
                    }
                    watched = None;
                    sleep = Duration::from_millis(1);
                    continue;
                }
            }
            if !looked {
                std::thread::sleep(sleep);
                sleep = (sleep * 2).min(self.manners.backoff_cap(self.options.max_backoff));
            }
        }
    }

    fn verify_held(&self) -> Result<()> {
        let held = *self.held.lock().unwrap_or_else(PoisonError::into_inner);
        match (held, self.id()) {
            (Some(ours), Ok(Some(now))) if ours == now => Ok(()),
            _ => Err(Error::LockLost { path: self.path.clone(), holder: HOLDER.to_owned() }),
        }
    }

    fn release(&self) {
        let held = self.held.lock().unwrap_or_else(PoisonError::into_inner).take();
        if let Some(id) = held {
            if !self.remove_if(id) {
                log::warn!(
                    "{}: not releasing: the lock is no longer the one this process created",
                    self.path.display()
                );
            }
        }
        self.manners.released(self.journal_len());
    }

    fn path(&self) -> &Path {
        &self.path
    }
}

/// Writes the marker into a freshly created open-file lock. Best effort: without it waiters take
/// the lock for a foreign one, which only makes them polite.
fn mark_ours(mut file: fs::File) {
    let _ = file.write_all(OPEN_LOCK_MARKER);
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The kinds that work here: Optuna's symlink lock needs symbolic links, which Windows
    /// creates only with a privilege (and Wine not at all); see
    /// `the_symlink_kind_works_or_names_the_open_file_lock`.
    fn kinds() -> &'static [OptunaLockKind] {
        if cfg!(unix) {
            &[OptunaLockKind::Symlink, OptunaLockKind::OpenFile]
        } else {
            &[OptunaLockKind::OpenFile]
        }
    }

    #[test]
    fn the_symlink_kind_works_or_names_the_open_file_lock() {
        let dir = tempfile::tempdir().unwrap();
        let journal = dir.path().join("j.log");
        fs::write(&journal, b"").unwrap();
        let lock = OptunaLock::new(&journal, options(OptunaLockKind::Symlink, None));
        match lock.acquire() {
            Ok(guard) => drop(guard),
            Err(e @ Error::SymlinkLockUnavailable { .. }) => {
                let text = e.to_string();
                if cfg!(unix) {
                    panic!("symbolic links work on Unix: {text}");
                }
                assert!(text.contains("SeCreateSymbolicLinkPrivilege"), "{text}");
                assert!(text.contains("JournalFileOpenLock"), "{text}");
                assert!(!text.contains("os error"), "{text}");
                assert!(fs::symlink_metadata(lock.path()).is_err());
            }
            Err(e) => panic!("unexpected {e:?}"),
        }
        let default = OptunaLockKind::default();
        assert_eq!(
            default,
            if cfg!(unix) { OptunaLockKind::Symlink } else { OptunaLockKind::OpenFile }
        );
    }

    fn options(kind: OptunaLockKind, grace_ms: Option<u64>) -> OptunaLockOptions {
        OptunaLockOptions {
            kind,
            grace_period: grace_ms.map(Duration::from_millis),
            timeout: Some(Duration::from_millis(300)),
            ..OptunaLockOptions::default()
        }
    }

    #[test]
    fn excludes_and_releases_both_kinds() {
        for &kind in kinds() {
            let dir = tempfile::tempdir().unwrap();
            let journal = dir.path().join("j.log");
            fs::write(&journal, b"").unwrap();
            let a = OptunaLock::new(&journal, options(kind, None));
            let b = OptunaLock::new(&journal, options(kind, None));
            let guard = a.acquire().unwrap();
            guard.verify_held().unwrap();
            if kind == OptunaLockKind::Symlink {
                let target = fs::read_link(a.path()).unwrap();
                assert_eq!(target.as_os_str(), ".//j.log");
                // Python waiters stat through the link: it must resolve to the journal.
                assert!(fs::metadata(a.path()).unwrap().is_file());
            }
            assert!(matches!(b.acquire(), Err(Error::LockTimeout { .. })));
            drop(guard);
            assert!(fs::symlink_metadata(a.path()).is_err(), "released lock is gone");
            drop(b.acquire().unwrap());
            // Nothing left behind (no *.rename files).
            assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);
        }
    }

    /// Creates `path` as Python's `os.open(path, O_CREAT | O_EXCL | O_WRONLY)` does (mode 0o777
    /// less the umask).
    fn create_like_python(path: &Path) -> fs::File {
        let mut options = fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o777);
        options.open(path).unwrap()
    }

    #[test]
    fn a_waiter_tells_trialog_holders_from_foreign_ones() {
        let dir = tempfile::tempdir().unwrap();
        let journal = dir.path().join("j.log");
        fs::write(&journal, b"").unwrap();
        for &kind in kinds() {
            let ours = OptunaLock::new(&journal, options(kind, None));
            let waiter = OptunaLock::new(&journal, options(kind, None));
            assert_eq!(waiter.holder(), Holder::Free);
            let guard = ours.acquire().unwrap();
            assert_eq!(waiter.holder(), Holder::Trialog, "{kind:?}");
            drop(guard);
            // Python's locks: a link to the journal path as the Python process got it, or an
            // empty file created with mode 0o777 less the umask. Where files carry no execute
            // bit (Windows), an empty file (which a trialog writer fills right after creating)
            // is foreign only if it is still empty at the next look.
            match kind {
                OptunaLockKind::Symlink => {
                    link::symlink(&journal, waiter.path()).unwrap();
                    assert_eq!(waiter.holder(), Holder::Foreign);
                }
                OptunaLockKind::OpenFile => {
                    let python = create_like_python(waiter.path());
                    match mode::owner_may_execute(&python.metadata().unwrap()) {
                        Some(true) => assert_eq!(waiter.holder(), Holder::Foreign),
                        Some(false) => panic!("Python's mode lost its execute bit"),
                        None => {
                            assert_eq!(waiter.holder(), Holder::Unknown);
                            assert_eq!(waiter.holder(), Holder::Foreign);
                        }
                    }
                    drop(python);
                    fs::remove_file(waiter.path()).unwrap();
                    // trialog's own, seen before its marker: never taken for Python's.
                    fs::write(waiter.path(), b"").unwrap();
                    if mode::owner_may_execute(&fs::metadata(waiter.path()).unwrap()).is_some() {
                        assert_eq!(waiter.holder(), Holder::Unknown);
                        assert_eq!(waiter.holder(), Holder::Unknown);
                    }
                }
            }
            fs::remove_file(waiter.path()).unwrap();
        }
    }

    #[test]
    fn a_stale_lock_is_broken_after_the_grace_period_and_the_robbed_holder_notices() {
        let dir = tempfile::tempdir().unwrap();
        let journal = dir.path().join("j.log");
        fs::write(&journal, b"").unwrap();
        let dead = OptunaLock::new(&journal, options(OptunaLockKind::OpenFile, Some(50)));
        let guard = dead.acquire().unwrap();
        let waiter = OptunaLock::new(&journal, options(OptunaLockKind::OpenFile, Some(50)));
        let started = Instant::now();
        let g2 = waiter.acquire().unwrap();
        assert!(started.elapsed() >= Duration::from_millis(50));
        assert!(matches!(guard.verify_held(), Err(Error::LockLost { .. })));
        drop(guard); // must not remove the waiter's lock
        g2.verify_held().unwrap();
    }
}
