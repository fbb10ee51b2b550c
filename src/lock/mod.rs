//! Write locks for a journal: one writer at a time across threads, processes and hosts.
//!
//! Every lock lives in a sibling file `<journal>.lock`. Readers never take it. Three kinds:
//!
//! | kind | mechanism | a dead holder is released | use it when |
//! |---|---|---|---|
//! | [`LockKind::Advisory`] (default) | `flock` through `fs2` | at once, by the OS | local disks, NFSv4 with working locks |
//! | [`LockKind::OpenFile`] | `O_CREAT\|O_EXCL` file with an owner record and a lease | after the grace period | filesystems without working `flock`; the mode a future Windows port uses |
//! | [`LockKind::Symlink`] | `symlink(2)` with an owner record (not Optuna's protocol) | after the grace period | NFSv2/v3 without lock daemon |
//!
//! Every kind opens `<journal>.lock` without following a symbolic link there and writes only into
//! a plain file with one name (`lock_file.rs`): a link at the lock path is refused with
//! [`crate::Error::UnsafeLockFile`] or, for the lease kinds, watched as a foreign lock; it is never
//! written through.
//!
//! The lease locks (open-file and symlink) write an owner record (host, pid, random nonce, time).
//! A holder refreshes it from a background thread while it holds the lock. A waiter breaks the
//! lock only after it has watched the record stay unchanged for longer than the grace period on
//! its own monotonic clock (so clock skew between hosts cannot make a live holder look dead), and
//! it logs whom it broke. Release removes the lock only if the record still carries our nonce.
//!
//! Optuna JSON-lines journals use [`OptunaLock`] instead: Optuna's own protocol (no owner
//! record, no refresh), so that Python Optuna writers and trialog writers exclude each other.
//! The symlink lock above is *not* compatible with Python waiters (see [`SymlinkLock`]).

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::error::Result;

mod advisory;
mod backoff;
mod gate;
mod keeper;
mod lease;
mod lock_file;
mod open_file;
mod optuna;
mod owner;
mod polite;
mod symlink;

pub use advisory::AdvisoryLock;
pub use open_file::OpenFileLock;
pub use optuna::{OptunaLock, OptunaLockKind, OptunaLockOptions};
pub use owner::OwnerRecord;
pub use symlink::SymlinkLock;

/// Which lock protocol guards the journal's writers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LockKind {
    /// Kernel advisory lock (`flock`) on `<journal>.lock`. Released by the OS when the holder
    /// dies. Not reliable on NFS setups whose lock manager is off.
    #[default]
    Advisory,
    /// `<journal>.lock` created with `O_CREAT|O_EXCL`, holding an owner record that the holder
    /// refreshes. Needs no kernel lock support (and no privileges, unlike symlinks on Windows;
    /// this build is Unix-only so far); a dead holder blocks others for the grace period.
    OpenFile,
    /// `<journal>.lock` as a symbolic link whose target is the owner record (Optuna's mechanism,
    /// atomic on NFSv2, but not its protocol: use [`OptunaLock`] beside Python writers). A dead
    /// holder blocks others for the grace period.
    Symlink,
}

/// How a lock is acquired and when a silent holder is considered dead.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LockOptions {
    /// The protocol.
    pub kind: LockKind,
    /// Give up with [`crate::Error::LockTimeout`] after this long; `None` waits as long as the
    /// holder is alive (a dead holder is always released: at once for advisory locks, after the
    /// grace period for lease locks).
    pub timeout: Option<Duration>,
    /// Lease locks only: a lock whose owner record has not changed for longer than this is
    /// broken. Default 30 s.
    pub grace_period: Duration,
    /// First sleep between attempts; doubles on every failed attempt up to `max_backoff`.
    pub initial_backoff: Duration,
    /// Longest sleep between attempts.
    pub max_backoff: Duration,
}

impl Default for LockOptions {
    fn default() -> Self {
        LockOptions {
            kind: LockKind::Advisory,
            timeout: None,
            grace_period: Duration::from_secs(30),
            initial_backoff: Duration::from_micros(50),
            max_backoff: Duration::from_millis(50),
        }
    }
}

/// A lock that excludes other writers of one journal.
///
/// Implementations are `Send + Sync`; one lock object may be shared by threads, and at most one
/// [`LockGuard`] per lock object exists at a time (acquire blocks other threads of the process as
/// well as other processes).
pub trait JournalLock: Send + Sync + std::fmt::Debug {
    /// Blocks until this process holds the lock, backing off exponentially; fails with
    /// [`crate::Error::LockTimeout`] naming the holder when the timeout expires.
    fn acquire(&self) -> Result<LockGuard<'_>>;

    /// Checks that we still hold the lock (for lease locks: that the owner record still carries
    /// our nonce). Fails with [`crate::Error::LockLost`] otherwise. Call it right before writing.
    fn verify_held(&self) -> Result<()>;

    /// Releases the lock. Called by [`LockGuard`]'s `Drop`; never removes a lock that another
    /// owner holds now.
    fn release(&self);

    /// The lock file's path.
    fn path(&self) -> &Path;
}

/// Proof that the lock is held; releases it when dropped.
#[must_use = "the lock is released as soon as the guard is dropped"]
#[derive(Debug)]
pub struct LockGuard<'a> {
    lock: &'a dyn JournalLock,
}

impl<'a> LockGuard<'a> {
    /// Wraps a freshly acquired lock. Only lock implementations call this.
    pub fn new(lock: &'a dyn JournalLock) -> Self {
        LockGuard { lock }
    }

    /// See [`JournalLock::verify_held`].
    pub fn verify_held(&self) -> Result<()> {
        self.lock.verify_held()
    }
}

impl Drop for LockGuard<'_> {
    fn drop(&mut self) {
        self.lock.release();
    }
}

/// The lock file that guards `journal`: `<journal>.lock`.
pub fn lock_path_for(journal: &Path) -> PathBuf {
    let mut name = journal.as_os_str().to_owned();
    name.push(".lock");
    PathBuf::from(name)
}

/// Opens the lock of the given kind for `journal`.
pub fn open_lock(journal: &Path, options: &LockOptions) -> Result<Box<dyn JournalLock>> {
    let path = lock_path_for(journal);
    Ok(match options.kind {
        LockKind::Advisory => Box::new(AdvisoryLock::open(path, options.clone())?),
        LockKind::OpenFile => Box::new(OpenFileLock::new(path, options.clone())),
        LockKind::Symlink => Box::new(SymlinkLock::new(path, options.clone())),
    })
}
