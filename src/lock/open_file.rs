//! The open-file lease lock: `<journal>.lock` created with `O_CREAT|O_EXCL`, holding the owner
//! record, refreshed by the holder and broken by a waiter after the grace period.

use std::fs::{self, File};
use std::io;
use std::path::{Path, PathBuf};

use super::lease::{self, LeaseLock, LeaseProtocol, Observation};
use super::lock_file;
use super::owner::OwnerRecord;
use super::{JournalLock, LockGuard, LockOptions};
use crate::error::Result;
use crate::sys::{identity, pio};

/// A lock file created exclusively (`O_CREAT|O_EXCL`) that holds the owner record.
///
/// Guarantees: at most one lock object on any host holds it while the holders stay alive and
/// keep refreshing (their keeper thread rewrites and flushes the record every
/// `grace_period / 4`), provided the file system's exclusive create is atomic (local file
/// systems, NFSv3 and later). A holder that died is broken after the grace period, measured on
/// the waiter's monotonic clock, with a `log::warn!` naming it. Release removes the file only if
/// it still carries our nonce. Threads sharing one lock object exclude each other in-process.
///
/// Does not guarantee: that a holder stalled longer than the grace period still holds the lock
/// (call [`JournalLock::verify_held`] right before writing: it fails with
/// [`crate::Error::LockLost`] once someone broke the lock; a write already under way when the
/// lock is broken is not stopped); exclusion on NFSv2 (use [`super::SymlinkLock`]); fairness.
#[derive(Debug)]
pub struct OpenFileLock {
    inner: LeaseLock<OpenFileProtocol>,
}

impl OpenFileLock {
    /// A lock on the lock file `path`. Touches nothing on disk; the keeper thread starts on the
    /// first acquisition.
    pub fn new(path: impl Into<PathBuf>, options: LockOptions) -> Self {
        OpenFileLock { inner: LeaseLock::new(path.into(), options) }
    }
}

impl JournalLock for OpenFileLock {
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

/// The file-system side of [`OpenFileLock`]. A refresh rewrites the content.
#[derive(Debug)]
pub(crate) struct OpenFileProtocol;

impl LeaseProtocol for OpenFileProtocol {
    type Handle = File;

    fn try_create(path: &Path, record: &str) -> io::Result<Option<File>> {
        let Some(file) = lock_file::create_new(path)? else {
            return Ok(None);
        };
        if let Err(e) = pio::write_all_at(&file, record.as_bytes(), 0) {
            drop(file);
            let _ = fs::remove_file(path);
            return Err(e);
        }
        Ok(Some(file))
    }

    fn observe(path: &Path) -> io::Result<Option<Observation>> {
        let file = match lock_file::open_to_read(path) {
            Ok(Some(file)) => file,
            Ok(None) => return Ok(None),
            // A symlink where a lock file should be (another kind of lock, e.g. Optuna's
            // symlink lock): watch its target and inode like a file, never following it.
            Err(e) if lock_file::is_symlink_error(&e) => return observe_symlink(path),
            Err(e) => return Err(e),
        };
        let look = match identity::of_file(&file) {
            Ok(look) => look,
            Err(e) if lease::is_gone(&e) => return Ok(None),
            Err(e) => return Err(e),
        };
        Ok(lease::read_prefix(&file)?.map(|content| Observation::new(content, &look)))
    }

    /// Rewrites the whole record through our open file and flushes it (NFS clients only see
    /// flushed data). Cannot tell whether the file is still ours: a broken lock's file is
    /// unlinked, so these writes go nowhere visible.
    ///
    /// A reader racing with the rewrite may see old and new bytes mixed; both lines agree on
    /// everything but the `refreshed_ms` digits (same length until the year 2286), so such a
    /// read still shows our nonce.
    fn refresh(_path: &Path, file: &File, record: &OwnerRecord) -> io::Result<bool> {
        let line = record.encode();
        pio::write_all_at(file, line.as_bytes(), 0)?;
        file.set_len(line.len() as u64)?;
        file.sync_data()?;
        Ok(true)
    }
}

fn observe_symlink(path: &Path) -> io::Result<Option<Observation>> {
    let target = match fs::read_link(path) {
        Ok(target) => target.into_os_string().into_encoded_bytes(),
        Err(e) if lease::is_gone(&e) => return Ok(None),
        Err(e) => return Err(e),
    };
    match identity::of_link(path) {
        Ok(look) => Ok(Some(Observation::new(target, &look))),
        Err(e) if lease::is_gone(&e) => Ok(None),
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Error;
    use std::time::Duration;

    fn options() -> LockOptions {
        LockOptions {
            kind: super::super::LockKind::OpenFile,
            grace_period: Duration::from_millis(400),
            ..LockOptions::default()
        }
    }

    #[test]
    fn create_is_exclusive_and_writes_the_record() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("j.lock");
        let record = OwnerRecord::new_for_this_process().encode();
        assert!(OpenFileProtocol::try_create(&path, &record).expect("create").is_some());
        assert!(OpenFileProtocol::try_create(&path, "other").expect("create").is_none());
        assert_eq!(fs::read_to_string(&path).expect("read"), record);
    }

    #[test]
    fn observation_sees_content_and_inode_changes() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("j.lock");
        assert_eq!(OpenFileProtocol::observe(&path).expect("observe"), None);
        fs::write(&path, b"a").expect("write");
        let first = OpenFileProtocol::observe(&path).expect("observe").expect("exists");
        assert_eq!(OpenFileProtocol::observe(&path).expect("observe"), Some(first.clone()));
        // Same content, new file: a different observation.
        let keep = dir.path().join("keep");
        fs::rename(&path, &keep).expect("rename");
        fs::write(&path, b"a").expect("write");
        let second = OpenFileProtocol::observe(&path).expect("observe").expect("exists");
        assert_eq!(second.content, first.content);
        assert_ne!(second, first);
    }

    #[cfg(unix)] // Creating a symbolic link needs a privilege on Windows, and Wine creates none.
    #[test]
    fn observe_does_not_follow_a_symlink() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("j.lock");
        std::os::unix::fs::symlink("/nonexistent/journal.log", &path).expect("symlink");
        let seen = OpenFileProtocol::observe(&path).expect("observe").expect("exists");
        assert_eq!(seen.content, b"/nonexistent/journal.log");
    }

    #[test]
    fn refresh_rewrites_the_record_through_the_fd() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("j.lock");
        let mut record = OwnerRecord::new_for_this_process();
        record.refreshed_unix_ms = u64::MAX; // longest possible line first
        let file =
            OpenFileProtocol::try_create(&path, &record.encode()).expect("create").expect("new");
        record.refreshed_unix_ms = 1;
        assert!(OpenFileProtocol::refresh(&path, &file, &record).expect("refresh"));
        assert_eq!(
            fs::read_to_string(&path).expect("read"),
            record.encode(),
            "old tail not truncated"
        );
    }

    #[test]
    fn acquire_verify_release() {
        let dir = tempfile::tempdir().expect("tempdir");
        let lock = OpenFileLock::new(dir.path().join("j.lock"), options());
        let guard = lock.acquire().expect("acquire");
        guard.verify_held().expect("held");
        let text = fs::read_to_string(dir.path().join("j.lock")).expect("read");
        assert_eq!(OwnerRecord::parse(&text).expect("record").pid, std::process::id());
        drop(guard);
        assert_eq!(fs::read_dir(dir.path()).expect("ls").count(), 0, "lock file left behind");
        assert!(matches!(lock.verify_held(), Err(Error::LockLost { .. })));
        // Again, with the keeper already running.
        drop(lock.acquire().expect("acquire again"));
    }

    #[test]
    fn keeper_refreshes_a_held_lock() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("j.lock");
        let lock = OpenFileLock::new(&path, options());
        let _guard = lock.acquire().expect("acquire");
        let before = OpenFileProtocol::observe(&path).expect("observe").expect("exists");
        std::thread::sleep(Duration::from_millis(250)); // > grace / 4 (100 ms), twice
        let after = OpenFileProtocol::observe(&path).expect("observe").expect("exists");
        assert_ne!(before, after, "record was not refreshed");
        let record = OwnerRecord::parse(&String::from_utf8_lossy(&after.content)).expect("record");
        assert!(record.refreshed_unix_ms > record.acquired_unix_ms);
    }
}
