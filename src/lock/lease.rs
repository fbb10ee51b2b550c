//! What the two lease locks (open-file and symlink) share: waiting, watching the owner record,
//! breaking a stale lock, verifying and releasing.
//!
//! A [`LeaseProtocol`] says how one kind creates, reads and refreshes its lock file;
//! [`LeaseLock`] runs the protocol:
//!
//! 1. try to create the lock file holding our owner record; done if that works;
//! 2. otherwise observe it (content, inode and mtime, never following a symlink) and remember,
//!    on our own monotonic clock, since when this exact observation has been seen; any change
//!    restarts it;
//! 3. once unchanged for longer than the grace period, rename it aside to
//!    `<lock>.broken.<our nonce>` and observe the renamed file: if it is still what we watched,
//!    remove it and log whom we broke; if not, we renamed a fresh lock, so link it back
//!    (`link` fails if yet another lock appeared meanwhile) and keep waiting;
//! 4. back off exponentially, give up at the timeout naming the holder.

use std::fmt;
use std::fs::{self, File};
use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use super::LockOptions;
use super::backoff::Backoff;
use super::gate::Gate;
use super::keeper::Keeper;
pub(crate) use super::lock_file::is_gone;
use super::owner::{OwnerRecord, describe_holder};
use crate::error::{Error, Result};
use crate::sys::identity::{FileId, Look};

/// At most this many bytes of a lock file are read (enough for any record; garbage is cut).
const READ_LIMIT: u64 = 4096;

/// How immediately to retry when the lock file vanished between a failed create and our look.
const MAX_IMMEDIATE_RETRIES: u32 = 3;

/// One look at an existing lock. A live holder's refresh changes it (open-file: the content;
/// symlink: the link's mtime); a lock replaced by a new one changes it (identity, content).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Observation {
    /// File content, or symlink target, at most 4 KiB.
    pub(crate) content: Vec<u8>,
    /// Identity (inode) of the file or of the link itself.
    pub(crate) id: FileId,
    /// Modification time of the file or of the link itself, nanoseconds since the Unix epoch.
    pub(crate) mtime_ns: i128,
}

impl Observation {
    /// An observation of `content` and of the identity and mtime in `look` (of the open file,
    /// or of the link itself, never through a link).
    pub(crate) fn new(content: Vec<u8>, look: &Look) -> Self {
        Observation { content, id: look.id, mtime_ns: look.modified_ns }
    }
}

/// How one kind of lease lock touches the file system. All functions are called on the lock
/// path (or on the name it was renamed to) and must never follow a symlink lock.
pub(crate) trait LeaseProtocol: Send + Sync + 'static {
    /// What a holder keeps while it holds the lock (the open file, or nothing).
    type Handle: Send + Sync + 'static;

    /// Atomically creates the lock at `path` holding `record`: `Ok(None)` if it exists already.
    fn try_create(path: &Path, record: &str) -> io::Result<Option<Self::Handle>>;

    /// Looks at the lock at `path`: `Ok(None)` if there is none.
    fn observe(path: &Path) -> io::Result<Option<Observation>>;

    /// Refreshes our lock so observers see it change: `Ok(false)` when it is no longer ours
    /// (when the kind can tell).
    fn refresh(path: &Path, handle: &Self::Handle, record: &OwnerRecord) -> io::Result<bool>;

    /// The error for a failed [`LeaseProtocol::try_create`] of the lock at `path`.
    fn create_error(path: &Path, e: io::Error) -> Error {
        Error::io("create lock", path, e)
    }

    /// Who holds a lock observed as `observation`, for errors and log lines.
    fn describe(observation: &Observation) -> String {
        describe_holder(&observation.content)
    }
}

/// What became of a lock we tried to break.
enum BreakOutcome {
    /// It was stale and is gone.
    Broken,
    /// It changed or vanished under us; nothing broken.
    NotBroken,
}

/// A lease lock driven by protocol `P`.
///
/// Guarantees: a lock is broken only after this waiter saw the very same observation for longer
/// than the grace period on its own monotonic clock, and only if the lock still is that
/// observation after being renamed aside; release removes the lock only if it still carries our
/// nonce; errors and log lines name the lock file and the holder. Does not guarantee: that a
/// holder that stalled longer than the grace period (SIGSTOP, swapping, a hung NFS server) still
/// holds the lock when it resumes (it finds out through `verify_held`); exclusion if the file
/// system's create is not atomic; fairness between waiters.
pub(crate) struct LeaseLock<P: LeaseProtocol> {
    path: PathBuf,
    options: LockOptions,
    gate: Gate,
    keeper: Keeper<P>,
}

impl<P: LeaseProtocol> LeaseLock<P> {
    /// A lease lock on `path`. Touches nothing on disk.
    pub(crate) fn new(path: PathBuf, options: LockOptions) -> Self {
        let keeper = Keeper::new(&path, options.grace_period / 4);
        LeaseLock { path, options, gate: Gate::default(), keeper }
    }

    /// The lock file's path.
    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// Waits for the lock (in-process gate first, then the file), breaking a stale holder after
    /// the grace period; on success the keeper starts refreshing.
    pub(crate) fn acquire(&self) -> Result<()> {
        let start = Instant::now();
        let deadline = self.options.timeout.and_then(|t| start.checked_add(t));
        if !self.gate.enter(deadline) {
            let holder = self.describe_now();
            return Err(Error::LockTimeout {
                path: self.path.clone(),
                holder,
                waited: start.elapsed(),
            });
        }
        match self.wait_and_create(start, deadline) {
            Ok((handle, record)) => {
                self.keeper.start_lease(handle, record);
                Ok(())
            }
            Err(e) => {
                self.gate.leave();
                Err(e)
            }
        }
    }

    fn wait_and_create(
        &self,
        start: Instant,
        deadline: Option<Instant>,
    ) -> Result<(P::Handle, OwnerRecord)> {
        self.keeper
            .ensure_started()
            .map_err(|e| Error::io("start the lease keeper thread for", &self.path, e))?;
        let grace = self.options.grace_period;
        let mut record = OwnerRecord::new_for_this_process();
        let mut backoff = Backoff::new(self.options.initial_backoff, self.options.max_backoff);
        // The observation being watched and since when (our monotonic clock) it is unchanged.
        let mut watched: Option<(Observation, Instant)> = None;
        let mut immediate_retries = 0;
        loop {
            let now_ms = super::owner::unix_ms_now();
            record.acquired_unix_ms = now_ms;
            record.refreshed_unix_ms = now_ms;
            let created = P::try_create(&self.path, &record.encode())
                .map_err(|e| P::create_error(&self.path, e))?;
            if let Some(handle) = created {
                return Ok((handle, record));
            }
            let observed =
                P::observe(&self.path).map_err(|e| Error::io("read lock", &self.path, e))?;
            let now = Instant::now();
            match observed {
                None => {
                    // Released between our create and our look: try again at once (a few times).
                    watched = None;
                    immediate_retries += 1;
                    if immediate_retries <= MAX_IMMEDIATE_RETRIES {
                        continue;
                    }
                }
                Some(observation) => {
                    immediate_retries = 0;
                    let since = match &watched {
                        Some((seen, since)) if *seen == observation => *since,
                        _ => now,
                    };
                    if now.duration_since(since) > grace {
                        watched = None;
                        if let BreakOutcome::Broken =
                            self.break_stale(&observation, &record.nonce, now - since)?
                        {
                            backoff.reset(self.options.initial_backoff);
                            continue;
                        }
                    } else {
                        watched = Some((observation, since));
                    }
                }
            }
            if deadline.is_some_and(|d| Instant::now() >= d) {
                let holder = match &watched {
                    Some((observation, _)) => P::describe(observation),
                    None => self.describe_now(),
                };
                return Err(Error::LockTimeout {
                    path: self.path.clone(),
                    holder,
                    waited: start.elapsed(),
                });
            }
            // Wake up when the watched observation's grace period ends, not a backoff step later.
            let stale_at = watched
                .as_ref()
                .and_then(|(_, since)| since.checked_add(grace + Duration::from_millis(1)));
            backoff.sleep(deadline, stale_at);
        }
    }

    /// Renames the lock aside, checks it is still exactly `observation`, and removes it; puts it
    /// back if it is not.
    fn break_stale(
        &self,
        observation: &Observation,
        our_nonce: &str,
        unchanged_for: Duration,
    ) -> Result<BreakOutcome> {
        // Look once more right before renaming: another waiter may have broken the same stale
        // lock and taken a fresh one since our last look. This narrows (not closes) the window in
        // which we rename a live lock aside; `put_back` and `verify_held` handle the rest.
        match P::observe(&self.path) {
            Ok(Some(now)) if now == *observation => {}
            _ => return Ok(BreakOutcome::NotBroken),
        }
        let aside = sibling(&self.path, &format!(".broken.{our_nonce}"));
        match fs::rename(&self.path, &aside) {
            Ok(()) => {}
            Err(e) if is_gone(&e) => return Ok(BreakOutcome::NotBroken),
            Err(e) => return Err(Error::io("rename stale lock", &self.path, e)),
        }
        match P::observe(&aside) {
            Ok(Some(renamed)) if renamed == *observation => {
                if let Err(e) = fs::remove_file(&aside) {
                    log::warn!("could not remove broken lock {}: {e}", aside.display());
                }
                log::warn!(
                    "broke stale lock {}: held by {}; its owner record did not change for {:.1?} \
                     (grace period {:?})",
                    self.path.display(),
                    P::describe(observation),
                    unchanged_for,
                    self.options.grace_period,
                );
                Ok(BreakOutcome::Broken)
            }
            _ => {
                // The holder refreshed (or a new holder came) between our last look and the
                // rename: that lock is live.
                self.put_back(&aside);
                Ok(BreakOutcome::NotBroken)
            }
        }
    }

    /// Links a lock we renamed aside back to the lock path (unless a new lock is there now) and
    /// removes the aside name.
    fn put_back(&self, aside: &Path) {
        match fs::hard_link(aside, &self.path) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
            Err(e) if is_gone(&e) => return,
            Err(e) => log::warn!(
                "could not restore lock {} from {}: {e}; its holder will see it as lost",
                self.path.display(),
                aside.display()
            ),
        }
        if let Err(e) = fs::remove_file(aside) {
            log::warn!("could not remove {}: {e}", aside.display());
        }
    }

    /// `Ok(())` if the lock file still carries our nonce; [`Error::LockLost`] otherwise.
    ///
    /// A waiter that raced another breaker can rename our live lock aside for an instant before
    /// it sees the lock is fresh and puts it back; so a missing or foreign lock is looked at a
    /// few more times (about 30 ms in all) before we call it lost.
    pub(crate) fn verify_held(&self) -> Result<()> {
        let mut result = self.verify_once();
        for pause_ms in [1, 4, 25] {
            if result.is_ok() {
                break;
            }
            std::thread::sleep(Duration::from_millis(pause_ms));
            result = self.verify_once();
        }
        result
    }

    fn verify_once(&self) -> Result<()> {
        let observed = P::observe(&self.path).map_err(|e| Error::io("read lock", &self.path, e))?;
        let ours = self.keeper.nonce();
        match (observed, ours) {
            (Some(observation), Some(nonce)) if carries_nonce(&observation, &nonce) => Ok(()),
            (Some(observation), _) => {
                Err(Error::LockLost { path: self.path.clone(), holder: P::describe(&observation) })
            }
            (None, _) => Err(Error::LockLost {
                path: self.path.clone(),
                holder: "nobody (the lock is gone)".into(),
            }),
        }
    }

    /// Stops refreshing and removes the lock if it still carries our nonce (renaming it aside
    /// first and checking the renamed lock, so a lock that changed hands meanwhile is put
    /// back); otherwise logs whom we lost it to and removes nothing.
    pub(crate) fn release(&self) {
        let Some((handle, record)) = self.keeper.end_lease() else {
            return;
        };
        // Close our file before removing it (on NFS, removing an open file leaves a .nfs file).
        drop(handle);
        match P::observe(&self.path) {
            Ok(Some(observation)) if carries_nonce(&observation, &record.nonce) => {
                self.remove_own(&record.nonce)
            }
            Ok(Some(observation)) => log::warn!(
                "released lock {} after losing it: it is now held by {}; left it in place",
                self.path.display(),
                P::describe(&observation)
            ),
            Ok(None) => log::warn!(
                "released lock {} after losing it: the lock is gone",
                self.path.display()
            ),
            Err(e) => log::warn!(
                "could not read lock {} to release it: {e}; left it in place",
                self.path.display()
            ),
        }
        self.gate.leave();
    }

    fn remove_own(&self, nonce: &str) {
        let aside = sibling(&self.path, &format!(".released.{nonce}"));
        match fs::rename(&self.path, &aside) {
            Ok(()) => {}
            Err(e) => {
                log::warn!("could not release lock {}: rename failed: {e}", self.path.display());
                return;
            }
        }
        match P::observe(&aside) {
            Ok(Some(observation)) if carries_nonce(&observation, nonce) => {
                if let Err(e) = fs::remove_file(&aside) {
                    log::warn!("could not remove released lock {}: {e}", aside.display());
                }
            }
            other => {
                if let Ok(Some(observation)) = &other {
                    log::warn!(
                        "released lock {} after losing it: it is now held by {}; left it in place",
                        self.path.display(),
                        P::describe(observation)
                    );
                }
                self.put_back(&aside);
            }
        }
    }

    /// The current holder, read now (for a timeout in the in-process gate).
    fn describe_now(&self) -> String {
        match P::observe(&self.path) {
            Ok(Some(observation)) => P::describe(&observation),
            Ok(None) => "nobody (the lock is gone)".into(),
            Err(e) => format!("unknown holder (lock unreadable: {e})"),
        }
    }
}

impl<P: LeaseProtocol> fmt::Debug for LeaseLock<P> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LeaseLock")
            .field("path", &self.path)
            .field("options", &self.options)
            .field("keeper", &self.keeper)
            .finish_non_exhaustive()
    }
}

/// Whether the observed lock carries an owner record with this nonce.
fn carries_nonce(observation: &Observation, nonce: &str) -> bool {
    std::str::from_utf8(&observation.content)
        .ok()
        .and_then(OwnerRecord::parse)
        .is_some_and(|record| record.nonce == nonce)
}

/// `path` with `suffix` appended to its file name.
pub(crate) fn sibling(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

/// The first 4 KiB of an open file: `Ok(None)` if it went stale.
pub(crate) fn read_prefix(file: &File) -> io::Result<Option<Vec<u8>>> {
    let mut content = Vec::new();
    match file.take(READ_LIMIT).read_to_end(&mut content) {
        Ok(_) => Ok(Some(content)),
        Err(e) if is_gone(&e) => Ok(None),
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lock::open_file::OpenFileProtocol;

    fn options(grace_ms: u64) -> LockOptions {
        LockOptions { grace_period: Duration::from_millis(grace_ms), ..LockOptions::default() }
    }

    #[test]
    fn break_puts_back_a_lock_that_changed_since_it_was_observed() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("j.lock");
        let lock = LeaseLock::<OpenFileProtocol>::new(path.clone(), options(100));
        let live = OwnerRecord::new_for_this_process();
        fs::write(&path, live.encode()).expect("write");
        let look = crate::sys::identity::of_path_confirmed(&path).expect("stat");
        let stale = Observation::new(b"what we saw before the refresh".to_vec(), &look);

        let outcome = lock.break_stale(&stale, "feed", Duration::from_secs(1)).expect("break");
        assert!(matches!(outcome, BreakOutcome::NotBroken));
        assert_eq!(fs::read(&path).expect("lock is back"), live.encode().as_bytes());
        let now = crate::sys::identity::of_path_confirmed(&path).expect("stat").id;
        assert_eq!(now, look.id, "same file, linked back");
        assert_eq!(fs::read_dir(dir.path()).expect("ls").count(), 1, "aside name left behind");
    }

    #[test]
    fn break_removes_a_lock_that_is_still_what_was_observed() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("j.lock");
        let lock = LeaseLock::<OpenFileProtocol>::new(path.clone(), options(100));
        fs::write(&path, b"garbage").expect("write");
        let seen = OpenFileProtocol::observe(&path).expect("observe").expect("exists");
        let outcome = lock.break_stale(&seen, "feed", Duration::from_secs(1)).expect("break");
        assert!(matches!(outcome, BreakOutcome::Broken));
        assert_eq!(fs::read_dir(dir.path()).expect("ls").count(), 0);
    }

    #[test]
    fn put_back_does_not_replace_a_new_lock() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("j.lock");
        let lock = LeaseLock::<OpenFileProtocol>::new(path.clone(), options(100));
        let aside = sibling(&path, ".broken.x");
        fs::write(&aside, b"old").expect("write");
        fs::write(&path, b"new").expect("write");
        lock.put_back(&aside);
        assert_eq!(fs::read(&path).expect("read"), b"new");
        assert!(!aside.exists());
    }

    #[test]
    fn release_without_acquire_touches_nothing() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("j.lock");
        fs::write(&path, b"someone").expect("write");
        let lock = LeaseLock::<OpenFileProtocol>::new(path.clone(), options(100));
        lock.release();
        assert_eq!(fs::read(&path).expect("read"), b"someone");
        assert!(matches!(lock.verify_held(), Err(Error::LockLost { .. })));
    }
}
