//! The symlink lease lock: Optuna's protocol. `<journal>.lock` is a symbolic link whose target
//! is the owner record; the holder refreshes the link's own mtime; a waiter breaks it after the
//! grace period.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use super::lease::{self, LeaseLock, LeaseProtocol, Observation};
use super::owner::{OwnerRecord, describe_holder};
use super::{JournalLock, LockGuard, LockOptions};
use crate::error::{Error, Result};
use crate::sys::{identity, link};

/// A symbolic link created with `symlink(2)` (atomic even on NFSv2) whose target is the owner
/// record, compatible with Python Optuna's `JournalFileSymlinkLock` (whose target is the journal
/// path: we see such a lock as an "unknown holder").
///
/// Guarantees: at most one lock object on any host holds it while the holders stay alive and
/// keep refreshing (their keeper thread sets the link's own mtime every `grace_period / 4`). A
/// holder that died (or a Python Optuna holder, which never refreshes, held longer than the
/// grace period) is broken after the grace period measured on the waiter's monotonic clock,
/// with a `log::warn!` naming it. Release removes the link only if its target still carries our
/// nonce. Never follows the link. Threads sharing one lock object exclude each other in-process.
///
/// Does not guarantee: that a holder stalled longer than the grace period still holds the lock
/// (call [`JournalLock::verify_held`] right before writing); protection on a file system whose
/// mtime granularity is coarser than a quarter of the grace period (refreshes could then look
/// like no change); that Python Optuna waiters behave well while we hold it: Optuna 4 `stat`s
/// the lock through the link, which fails on our record target, so it retries without sleeping
/// and never breaks our lock, even a dead one.
#[derive(Debug)]
pub struct SymlinkLock {
    inner: LeaseLock<SymlinkProtocol>,
}

impl SymlinkLock {
    /// A lock on the lock symlink `path`. Touches nothing on disk; the keeper thread starts on
    /// the first acquisition.
    pub fn new(path: impl Into<PathBuf>, options: LockOptions) -> Self {
        SymlinkLock { inner: LeaseLock::new(path.into(), options) }
    }
}

impl JournalLock for SymlinkLock {
    fn acquire(&self) -> Result<LockGuard<'_>> {
        self.inner.acquire()?;
        Ok(LockGuard::new(self))
    }

    fn verify_held(&self) -> Result<()> {
        self.inner.verify_held()
    }

    fn release(&self) {
        self.inner.release();
    }

    fn path(&self) -> &Path {
        self.inner.path()
    }
}

/// The file-system side of [`SymlinkLock`]. A refresh sets the link's own mtime.
#[derive(Debug)]
pub(crate) struct SymlinkProtocol;

impl LeaseProtocol for SymlinkProtocol {
    type Handle = ();

    fn try_create(path: &Path, record: &str) -> io::Result<Option<()>> {
        match link::symlink(Path::new(record), path) {
            Ok(()) => Ok(Some(())),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Ok(None),
            Err(e) => Err(e),
        }
    }

    fn observe(path: &Path) -> io::Result<Option<Observation>> {
        let content = match fs::read_link(path) {
            Ok(target) => target.into_os_string().into_encoded_bytes(),
            Err(e) if lease::is_gone(&e) => return Ok(None),
            // Not a symlink: a regular lock file of another kind. Watch its content.
            Err(e) if link::is_not_a_link_error(&e) => match read_regular(path)? {
                Some(content) => content,
                None => return Ok(None),
            },
            Err(e) => return Err(e),
        };
        match identity::of_link(path) {
            Ok(look) => Ok(Some(Observation::new(content, &look))),
            Err(e) if lease::is_gone(&e) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Sets the link's own mtime to now (`utimensat` with `AT_SYMLINK_NOFOLLOW`) if its target
    /// still carries our nonce. A lock that changed hands between the check and the touch gets
    /// its mtime set, which only delays the breaking of that (live) lock.
    fn refresh(path: &Path, _: &(), record: &OwnerRecord) -> io::Result<bool> {
        let target = match fs::read_link(path) {
            Ok(target) => target,
            Err(e) if lease::is_gone(&e) => return Ok(false),
            Err(e) => return Err(e),
        };
        let ours =
            target.to_str().and_then(OwnerRecord::parse).is_some_and(|r| r.nonce == record.nonce);
        if !ours {
            return Ok(false);
        }
        link::touch(path)?;
        Ok(true)
    }

    /// Where symbolic links cannot be created (Windows without the privilege, a file system
    /// without links): [`Error::SymlinkLockUnavailable`], naming the open-file lock instead.
    fn create_error(path: &Path, e: io::Error) -> Error {
        match link::unavailable(&e) {
            Some(reason) => Error::SymlinkLockUnavailable {
                path: path.to_owned(),
                reason: reason.to_owned(),
                instead: "the open-file lock (LockKind::OpenFile, `--lock open-file`)",
            },
            None => Error::io("create lock", path, e),
        }
    }

    /// The record in the target, with its refresh time taken from the link's mtime (the target
    /// itself is never rewritten).
    fn describe(observation: &Observation) -> String {
        let record = std::str::from_utf8(&observation.content).ok().and_then(OwnerRecord::parse);
        match record {
            Some(mut record) => {
                if let Ok(ms) = u64::try_from(observation.mtime_ns / 1_000_000) {
                    record.refreshed_unix_ms = ms;
                }
                super::owner::describe_record(&record)
            }
            None => describe_holder(&observation.content),
        }
    }
}

/// The first 4 KiB of a regular file at `path` (not following symlinks).
fn read_regular(path: &Path) -> io::Result<Option<Vec<u8>>> {
    match super::lock_file::open_to_read(path)? {
        Some(file) => lease::read_prefix(&file),
        None => Ok(None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Error;
    #[cfg(unix)]
    use std::os::unix::ffi::OsStrExt;
    use std::time::Duration;

    fn options() -> LockOptions {
        LockOptions {
            kind: super::super::LockKind::Symlink,
            grace_period: Duration::from_millis(400),
            ..LockOptions::default()
        }
    }

    // Symbolic links need a privilege on Windows (and Wine creates none): see
    // `windows_without_links_names_the_privilege_and_the_open_file_lock`.
    #[cfg(unix)]
    #[test]
    fn create_is_exclusive_and_the_target_is_the_record() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("j.lock");
        let record = OwnerRecord::new_for_this_process().encode();
        assert!(SymlinkProtocol::try_create(&path, &record).expect("create").is_some());
        assert!(SymlinkProtocol::try_create(&path, "other").expect("create").is_none());
        assert_eq!(fs::read_link(&path).expect("readlink").as_os_str(), record.as_str());
    }

    // Symbolic links need a privilege on Windows (and Wine creates none): see
    // `windows_without_links_names_the_privilege_and_the_open_file_lock`.
    #[cfg(unix)]
    #[test]
    fn observe_never_follows_and_refresh_changes_the_links_own_mtime() {
        let dir = tempfile::tempdir().expect("tempdir");
        let target = dir.path().join("journal.log");
        fs::write(&target, b"journal").expect("write");
        let path = dir.path().join("j.lock");
        let mut record = OwnerRecord::new_for_this_process();
        SymlinkProtocol::try_create(&path, &record.encode()).expect("create");
        let before = SymlinkProtocol::observe(&path).expect("observe").expect("exists");
        std::thread::sleep(Duration::from_millis(20));
        assert!(SymlinkProtocol::refresh(&path, &(), &record).expect("refresh"));
        let after = SymlinkProtocol::observe(&path).expect("observe").expect("exists");
        assert_eq!(before.content, after.content);
        assert!(after.mtime_ns > before.mtime_ns, "mtime not refreshed");

        // Someone else's link (Optuna style, pointing at an existing journal) is not touched.
        fs::remove_file(&path).expect("rm");
        std::os::unix::fs::symlink(&target, &path).expect("symlink");
        let theirs = SymlinkProtocol::observe(&path).expect("observe").expect("exists");
        assert_eq!(theirs.content, target.as_os_str().as_bytes());
        record.nonce = "someone-else".into();
        assert!(!SymlinkProtocol::refresh(&path, &(), &record).expect("refresh"));
        assert_eq!(SymlinkProtocol::observe(&path).expect("observe"), Some(theirs));
        assert_eq!(fs::read(&target).expect("journal untouched"), b"journal");
    }

    // Symbolic links need a privilege on Windows (and Wine creates none): see
    // `windows_without_links_names_the_privilege_and_the_open_file_lock`.
    #[cfg(unix)]
    #[test]
    fn hard_link_of_a_symlink_links_the_symlink_itself() {
        // The breaker's put-back relies on this (linkat without AT_SYMLINK_FOLLOW).
        let dir = tempfile::tempdir().expect("tempdir");
        let a = dir.path().join("a");
        let b = dir.path().join("b");
        std::os::unix::fs::symlink("dangling target", &a).expect("symlink");
        fs::hard_link(&a, &b).expect("link");
        assert_eq!(fs::read_link(&b).expect("b is a symlink").as_os_str(), "dangling target");
    }

    #[test]
    fn describe_uses_the_links_mtime_as_refresh_time() {
        let record = OwnerRecord { refreshed_unix_ms: 0, ..OwnerRecord::new_for_this_process() };
        let dir = tempfile::tempdir().expect("tempdir");
        let id = identity::of_path_confirmed(dir.path()).expect("look").id;
        let seen = Observation {
            content: record.encode().into_bytes(),
            id,
            mtime_ns: 1_700_000_000_123_456_789,
        };
        let text = SymlinkProtocol::describe(&seen);
        assert!(text.contains("refreshed 2023-11-14T22:13:20.123000+00:00"), "{text}");
        let optuna = Observation { content: b"/data/journal.log".to_vec(), id, mtime_ns: 0 };
        assert_eq!(
            SymlinkProtocol::describe(&optuna),
            "unknown holder (lock file content: \"/data/journal.log\")"
        );
    }

    // Symbolic links need a privilege on Windows (and Wine creates none): see
    // `windows_without_links_names_the_privilege_and_the_open_file_lock`.
    #[cfg(unix)]
    #[test]
    fn acquire_verify_release() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("j.lock");
        let lock = SymlinkLock::new(&path, options());
        let guard = lock.acquire().expect("acquire");
        guard.verify_held().expect("held");
        assert!(fs::symlink_metadata(&path).expect("lstat").file_type().is_symlink());
        drop(guard);
        assert_eq!(fs::read_dir(dir.path()).expect("ls").count(), 0, "lock left behind");
        assert!(matches!(lock.verify_held(), Err(Error::LockLost { .. })));
        drop(lock.acquire().expect("acquire again"));
    }

    #[test]
    fn windows_without_links_names_the_privilege_and_the_open_file_lock() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("j.lock");
        let lock = SymlinkLock::new(&path, options());
        match lock.acquire() {
            Ok(guard) => {
                // Links work here (Unix; Windows with the privilege): the lock is a link.
                assert!(fs::symlink_metadata(&path).expect("lstat").file_type().is_symlink());
                drop(guard);
            }
            Err(e @ Error::SymlinkLockUnavailable { .. }) => {
                let text = e.to_string();
                if cfg!(unix) {
                    panic!("symbolic links work on Unix: {text}");
                }
                assert!(text.contains("SeCreateSymbolicLinkPrivilege"), "{text}");
                assert!(text.contains("LockKind::OpenFile"), "{text}");
                assert!(!text.contains("os error"), "{text}");
                assert!(
                    fs::symlink_metadata(&path).is_err(),
                    "something was left at the lock path"
                );
            }
            Err(e) => panic!("unexpected {e:?}"),
        }
    }
}
