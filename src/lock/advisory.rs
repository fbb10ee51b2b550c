//! The default lock: a kernel advisory lock on `<journal>.lock` (`flock` on Unix, `LockFileEx` on
//! Windows; see [`crate::sys::filelock`]).

use std::fmt::Write as _;
use std::fs::File;
use std::io::{self, Write as _};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use super::backoff::Backoff;
use super::gate::{self, Gate};
use super::owner::{self, MAX_RECORD_LEN, RecordLine, describe_holder};
use super::{JournalLock, LockGuard, LockOptions};
use crate::error::{Error, Result};
use crate::sys::{filelock, fork, pio};

/// An exclusive advisory lock on the lock file (`flock`; `LockFileEx` on Windows), plus
/// in-process exclusion.
///
/// Guarantees: while a [`LockGuard`] from [`AdvisoryLock::acquire`] lives, no other thread of
/// this process holds any `AdvisoryLock` on the same lock path, and no other process holds an
/// `flock` on the same file. A dead holder's lock is released by the OS at once. After acquiring,
/// the lock file's first 256 bytes hold this lock object's owner record (space-padded), so a
/// waiter that times out can name the holder; the record is rewritten only when the file holds
/// another one (see `claim_record`).
///
/// Does not guarantee: exclusion between hosts on NFS mounts whose lock manager is off (flock
/// then only excludes processes of one client); exclusion against someone who deletes and
/// recreates the lock file; an up-to-date record (a holder of another program, or one that dies
/// between locking and writing its record, leaves an older record behind); fairness among
/// threads of one process. [`JournalLock::verify_held`] always succeeds: the kernel does not take
/// a flock away from a live process.
#[derive(Debug)]
pub struct AdvisoryLock {
    path: PathBuf,
    options: LockOptions,
    host: String,
    /// The lock file handle, gate and owner identity of the process using this object: made
    /// anew in a child after `fork` (see [`Incarnation`]).
    incarnation: Mutex<Arc<Incarnation>>,
    /// When (nanoseconds after `opened`, 0 = never) an acquisition last had to wait for another
    /// holder: other writers were queued then.
    last_wait_ns: AtomicU64,
    /// Origin of `last_wait_ns`.
    opened: Instant,
    /// The current hold began without waiting (see `release`).
    barged: AtomicBool,
}

/// What an [`AdvisoryLock`] owns in one process.
///
/// A forked child gets a copy of its parent's objects, and `flock` belongs to the open file
/// description, which parent and child then share: each would find the lock free while the
/// other holds it, and both would append at the same offset (a Python `multiprocessing` pool
/// forked after the storage was opened did exactly that). So a lock object used in a process it
/// was not made in first opens the lock file again (its own open file description), takes a
/// fresh owner identity and its process's gate, and never unlocks the parent's description.
#[derive(Debug)]
struct Incarnation {
    /// The process's fork generation ([`fork::generation`]) this was made in.
    generation: u64,
    file: File,
    gate: Arc<Gate>,
    pid: u32,
    nonce: String,
    /// The padded record this incarnation last wrote into the lock file, to recognise it there.
    written: Mutex<Option<[u8; MAX_RECORD_LEN]>>,
}

impl Incarnation {
    /// Opens (creating it if needed) the lock file at `path` for this process.
    fn open(path: &Path) -> Result<Self> {
        Ok(Incarnation {
            generation: fork::generation(),
            file: super::lock_file::open_or_create(path)?,
            gate: gate::shared_gate(path),
            pid: std::process::id(),
            nonce: owner::new_nonce(),
            written: Mutex::new(None),
        })
    }
}

/// For this long after an acquisition had to wait, other writers are assumed to be queued and
/// every release yields (see `release`).
const CONTENTION_WINDOW_NS: u64 = 10_000_000;

/// The pause after releasing a hold that began without waiting while other writers were queued
/// (see `release`): a blocking sleep (about 55 µs with the kernel's default timer slack), never a
/// spin, so the CPU is free for the waiter that takes the lock meanwhile.
const BARGER_PAUSE: Duration = Duration::from_micros(5);

impl AdvisoryLock {
    /// Opens (creating it if needed) the lock file at `path` and keeps it open. Does not lock.
    /// The owner record's host, pid and nonce are fixed here (a forked child should open its
    /// own lock).
    ///
    /// Fails with [`Error::UnsafeLockFile`] when `path` is a symbolic link, not a regular file, or
    /// a file with other hard links (nothing is written through it), and with [`Error::Io`] when
    /// the file cannot be opened for reading and writing.
    pub fn open(path: impl Into<PathBuf>, options: LockOptions) -> Result<Self> {
        let path = path.into();
        let incarnation = Incarnation::open(&path)?;
        Ok(AdvisoryLock {
            path,
            options,
            host: owner::this_host(),
            incarnation: Mutex::new(Arc::new(incarnation)),
            last_wait_ns: AtomicU64::new(0),
            opened: Instant::now(),
            barged: AtomicBool::new(false),
        })
    }

    /// This process's incarnation: the one made here, or a new one if this object was made
    /// before a `fork` (then the lock file is opened again).
    fn incarnation(&self) -> Result<Arc<Incarnation>> {
        let mut current = self.incarnation.lock().unwrap_or_else(PoisonError::into_inner);
        if current.generation != fork::generation() {
            *current = Arc::new(Incarnation::open(&self.path)?);
        }
        Ok(current.clone())
    }

    /// The owner record's nonce of this process's incarnation.
    #[cfg(test)]
    fn nonce(&self) -> String {
        self.incarnation().expect("incarnation").nonce.clone()
    }

    /// Blocking lock: the kernel queues us and wakes us when the holder unlocks or dies.
    /// Returns whether we had to wait (someone else held it: the lock is contended).
    fn lock_blocking(&self, file: &File) -> Result<bool> {
        match filelock::try_lock(file) {
            Ok(true) => return Ok(false),
            Ok(false) => {}
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(Error::io("lock", &self.path, e)),
        }
        loop {
            match filelock::lock(file) {
                Ok(()) => return Ok(true),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(Error::io("lock", &self.path, e)),
            }
        }
    }

    /// Non-blocking lock attempts with exponential backoff until `deadline` (`None`: a timeout
    /// too large to represent, wait forever). Returns whether we had to wait.
    fn lock_polling(
        &self,
        inc: &Incarnation,
        start: Instant,
        deadline: Option<Instant>,
    ) -> Result<bool> {
        let mut backoff = Backoff::new(self.options.initial_backoff, self.options.max_backoff);
        let mut waited = false;
        loop {
            match filelock::try_lock(&inc.file) {
                Ok(true) => return Ok(waited),
                Ok(false) => {}
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(Error::io("lock", &self.path, e)),
            }
            if deadline.is_some_and(|d| Instant::now() >= d) {
                return Err(self.timeout_error(inc, start));
            }
            waited = true;
            backoff.sleep(deadline, None);
        }
    }

    fn nanos_since_open(&self) -> u64 {
        u64::try_from(self.opened.elapsed().as_nanos()).unwrap_or(u64::MAX)
    }

    /// Makes sure the lock file names us, right after locking: if our last acquisition wrote
    /// the record that is still there, nothing is written (one `pread` to see that); otherwise
    /// our owner record goes over the first 256 bytes (one `pwrite`, no allocation, no fsync).
    /// After `waited` (another holder had the lock just now) the record cannot be ours and is
    /// written without looking. Best effort: the record only serves error messages.
    ///
    /// So the record names the lock's current holder as exactly as when it was written on every
    /// acquisition, but its times say when this lock object started its current run of
    /// acquisitions (the first one after another record was written), not when it took the lock
    /// this time.
    fn claim_record(&self, inc: &Incarnation, waited: bool) {
        let mut written = inc.written.lock().unwrap_or_else(PoisonError::into_inner);
        if let (false, Some(ours)) = (waited, written.as_ref()) {
            let mut now = [0u8; MAX_RECORD_LEN];
            if matches!(pio::read_at(&inc.file, &mut now, 0), Ok(MAX_RECORD_LEN)) && now == *ours {
                return;
            }
        }
        let now = owner::unix_ms_now();
        let line = RecordLine {
            host: &self.host,
            pid: inc.pid,
            nonce: &inc.nonce,
            acquired_unix_ms: now,
            refreshed_unix_ms: now,
        };
        let mut buf = [b' '; MAX_RECORD_LEN];
        // A record longer than the buffer (impossible for ours) is cut, not an error.
        let _ = write!(&mut buf[..], "{line}");
        let complete = matches!(pio::write_at(&inc.file, &buf, 0), Ok(MAX_RECORD_LEN));
        *written = complete.then_some(buf);
    }

    fn timeout_error(&self, inc: &Incarnation, start: Instant) -> Error {
        let mut buf = [0u8; MAX_RECORD_LEN];
        let holder = match pio::read_at(&inc.file, &mut buf, 0) {
            Ok(n) => describe_holder(&buf[..n]),
            Err(e) => {
                let mut text = String::from("unknown holder (lock file unreadable: ");
                let _ = write!(text, "{e})");
                text
            }
        };
        Error::LockTimeout { path: self.path.clone(), holder, waited: start.elapsed() }
    }
}

impl JournalLock for AdvisoryLock {
    /// Takes the in-process gate, then the `flock`: blocking when `options.timeout` is `None`
    /// (the hot path: one `flock` and one `pread` of the owner record), polling with backoff
    /// otherwise.
    fn acquire(&self) -> Result<LockGuard<'_>> {
        let start = Instant::now();
        let deadline = self.options.timeout.and_then(|t| start.checked_add(t));
        let inc = self.incarnation()?;
        if !inc.gate.enter(deadline) {
            return Err(self.timeout_error(&inc, start));
        }
        let locked = match self.options.timeout {
            None => self.lock_blocking(&inc.file),
            Some(_) => self.lock_polling(&inc, start, deadline),
        };
        let waited = match locked {
            Ok(waited) => waited,
            Err(e) => {
                inc.gate.leave();
                return Err(e);
            }
        };
        if waited && self.options.timeout.is_none() {
            self.last_wait_ns.store(self.nanos_since_open().max(1), Ordering::Relaxed);
        }
        self.barged.store(!waited, Ordering::Relaxed);
        self.claim_record(&inc, waited);
        Ok(LockGuard::new(self))
    }

    /// Always `Ok(())`: a live process keeps its flock.
    fn verify_held(&self) -> Result<()> {
        Ok(())
    }

    /// Unlocks the `flock`, then lets the next thread of this process in.
    ///
    /// Fairness: `flock` does not queue waiters in order, and a process that unlocks and locks
    /// again at once (a writer in a loop) often wins again, starving the others. So while other
    /// writers are known to be queued (one of our acquisitions had to wait in the last 10 ms)
    /// every release yields the CPU after unlocking (the unlock woke a waiter, most often onto
    /// this CPU's run queue, and the yield runs it first), and a release of a hold that began
    /// without waiting (this writer barged in ahead of the queue) also sleeps briefly, so a
    /// waiter takes the lock meanwhile. Only recent contention counts, not this acquisition's:
    /// a writer that barges in right after each release never waits itself. The pause blocks
    /// rather than spins: when CPUs are oversubscribed a spinning releaser burns the time slice
    /// the next holder needs. A writer that never meets contention never yields or pauses.
    ///
    /// Measured side by side (`trialog bench w3`, 2,400 trials, 2 cores, docs/LOCKING.md):
    /// with 4 and 8 writers and a 130 µs fdatasync, pausing only after barging gives 5-15% more
    /// durable appends than pausing after every contended release, with slowest/fastest worker
    /// 1.00-1.01 for both; never pausing gains as much but lets one writer fall behind (up to
    /// 1.65).
    ///
    /// A guard that crossed a `fork` (taken in the parent, released in the child) releases
    /// nothing: the lock and the gate are the parent's.
    fn release(&self) {
        let inc = self.incarnation.lock().unwrap_or_else(PoisonError::into_inner).clone();
        if inc.generation != fork::generation() {
            return;
        }
        if let Err(e) = filelock::unlock(&inc.file) {
            log::warn!("could not unlock {}: {e}", self.path.display());
        }
        inc.gate.leave();
        let waited_at = self.last_wait_ns.load(Ordering::Relaxed);
        let now = self.nanos_since_open();
        if waited_at != 0 && now.saturating_sub(waited_at) < CONTENTION_WINDOW_NS {
            std::thread::yield_now();
            if self.barged.load(Ordering::Relaxed) {
                std::thread::sleep(BARGER_PAUSE);
            }
        }
    }

    fn path(&self) -> &Path {
        &self.path
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn lock_at(dir: &Path, timeout: Option<Duration>) -> AdvisoryLock {
        let options = LockOptions { timeout, ..LockOptions::default() };
        AdvisoryLock::open(dir.join("j.lock"), options).expect("open")
    }

    #[test]
    fn acquire_writes_a_padded_record_naming_us() {
        let dir = tempfile::tempdir().expect("tempdir");
        let lock = lock_at(dir.path(), None);
        let guard = lock.acquire().expect("acquire");
        let bytes = std::fs::read(dir.path().join("j.lock")).expect("read");
        assert_eq!(bytes.len(), MAX_RECORD_LEN);
        let record = owner::OwnerRecord::parse(&String::from_utf8_lossy(&bytes)).expect("record");
        assert_eq!(record.pid, std::process::id());
        assert_eq!(record.nonce, lock.nonce());
        guard.verify_held().expect("held");
        drop(guard);
        // Released: another object takes it at once.
        let other = lock_at(dir.path(), Some(Duration::ZERO));
        drop(other.acquire().expect("free after release"));
    }

    #[test]
    fn the_record_is_rewritten_only_when_the_file_holds_another() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("j.lock");
        let lock = lock_at(dir.path(), None);
        drop(lock.acquire().expect("acquire"));
        let first = std::fs::read(&path).expect("read");
        // Our record is still there: re-acquiring writes nothing (its times would differ).
        std::thread::sleep(Duration::from_millis(3));
        drop(lock.acquire().expect("acquire"));
        assert_eq!(std::fs::read(&path).expect("read"), first);
        // Another lock object (as another process would) takes the lock: its record replaces
        // ours, and our next acquisition puts ours back with fresh times.
        let other = lock_at(dir.path(), None);
        drop(other.acquire().expect("other acquires"));
        let theirs = owner::OwnerRecord::parse(&String::from_utf8_lossy(
            &std::fs::read(&path).expect("read"),
        ))
        .expect("record");
        assert_eq!(theirs.nonce, other.nonce());
        drop(lock.acquire().expect("acquire again"));
        let again = std::fs::read(&path).expect("read");
        let ours = owner::OwnerRecord::parse(&String::from_utf8_lossy(&again)).expect("record");
        assert_eq!(ours.nonce, lock.nonce());
        assert_ne!(again, first, "written anew");
        // Garbage written over our record (by a program that does not speak the protocol) is
        // replaced as well.
        std::fs::write(&path, "junk").expect("write");
        drop(lock.acquire().expect("acquire"));
        let bytes = std::fs::read(&path).expect("read");
        assert_eq!(bytes.len(), MAX_RECORD_LEN);
        let ours = owner::OwnerRecord::parse(&String::from_utf8_lossy(&bytes)).expect("record");
        assert_eq!(ours.nonce, lock.nonce());
    }

    #[test]
    fn timeout_names_the_holder() {
        let dir = tempfile::tempdir().expect("tempdir");
        let holder = lock_at(dir.path(), None);
        let _guard = holder.acquire().expect("acquire");
        let waiter = lock_at(dir.path(), Some(Duration::from_millis(100)));
        let start = Instant::now();
        let err = waiter.acquire().expect_err("must time out");
        let took = start.elapsed();
        assert!(took >= Duration::from_millis(100) && took < Duration::from_secs(2), "{took:?}");
        match err {
            Error::LockTimeout { holder, path, .. } => {
                assert!(holder.contains(&format!("pid {}", std::process::id())), "{holder}");
                assert_eq!(path, dir.path().join("j.lock"));
            }
            other => panic!("unexpected {other}"),
        }
    }

    #[test]
    fn flock_alone_is_polled_with_timeout() {
        // Bypass the gate: another open file description holds the flock, as another process
        // would.
        let dir = tempfile::tempdir().expect("tempdir");
        let lock = lock_at(dir.path(), Some(Duration::from_millis(80)));
        let other = File::options().write(true).open(dir.path().join("j.lock")).expect("open");
        filelock::lock(&other).expect("lock");
        std::fs::write(dir.path().join("j.lock"), "junk\u{7}").expect("write");
        match lock.acquire() {
            Err(Error::LockTimeout { holder, .. }) => {
                assert_eq!(holder, "unknown holder (lock file content: \"junk\\u{7}\")");
            }
            other => panic!("unexpected {other:?}"),
        }
        filelock::unlock(&other).expect("unlock");
        drop(lock.acquire().expect("free now"));
    }
}
