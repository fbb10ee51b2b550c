//! Every kind of journal lock excludes threads sharing one lock object, separate lock objects on
//! one path, and times out naming the holder.

use std::fs;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use trialog::Error;
use trialog::lock::{JournalLock, LockKind, LockOptions, lock_path_for, open_lock};

const THREADS: usize = 4;
const ROUNDS: usize = 200;

fn options(kind: LockKind, timeout: Option<Duration>) -> LockOptions {
    LockOptions { kind, timeout, ..LockOptions::default() }
}

fn open(kind: LockKind, journal: &Path, timeout: Option<Duration>) -> Arc<dyn JournalLock> {
    Arc::from(open_lock(journal, &options(kind, timeout)).expect("open lock"))
}

/// A small xorshift generator, so each thread sleeps a different 0-50 µs.
struct Jitter(u64);

impl Jitter {
    fn next_micros(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % 51
    }
}

/// `THREADS` threads, thread `i` using `locks[i]`, each incrementing a counter file `ROUNDS`
/// times under the lock with a non-atomic read, sleep, write. Lost updates or overlapping
/// holders mean the lock did not exclude.
fn hammer(journal: &Path, locks: Vec<Arc<dyn JournalLock>>) {
    let counter = journal.with_extension("counter");
    fs::write(&counter, "0").expect("init counter");
    let inside = Arc::new(AtomicBool::new(false));
    let threads: Vec<_> = locks
        .into_iter()
        .enumerate()
        .map(|(i, lock)| {
            let (counter, inside) = (counter.clone(), inside.clone());
            std::thread::spawn(move || {
                let mut jitter = Jitter(0x9E37_79B9_7F4A_7C15 ^ (i as u64 + 1));
                for _ in 0..ROUNDS {
                    let guard = lock.acquire().expect("acquire");
                    assert!(!inside.swap(true, Ordering::SeqCst), "two holders at once");
                    guard.verify_held().expect("verify_held");
                    let n: u64 =
                        fs::read_to_string(&counter).expect("read").trim().parse().expect("number");
                    std::thread::sleep(Duration::from_micros(jitter.next_micros()));
                    fs::write(&counter, (n + 1).to_string()).expect("write");
                    inside.store(false, Ordering::SeqCst);
                    drop(guard);
                }
            })
        })
        .collect();
    for t in threads {
        t.join().expect("worker thread panicked");
    }
    let total: u64 = fs::read_to_string(&counter).expect("read").trim().parse().expect("number");
    assert_eq!(total, (THREADS * ROUNDS) as u64, "lost updates: the lock did not exclude");
}

/// Advisory: no timeout, the blocking `flock` hot path. Lease locks: the same loop either way,
/// so a generous timeout turns a broken lock into a failure instead of a hang.
fn hammer_timeout(kind: LockKind) -> Option<Duration> {
    match kind {
        LockKind::Advisory => None,
        _ => Some(Duration::from_secs(60)),
    }
}

fn shared_object(kind: LockKind) {
    let dir = tempfile::tempdir().expect("tempdir");
    let journal = dir.path().join("study.journal");
    let lock = open(kind, &journal, hammer_timeout(kind));
    hammer(&journal, (0..THREADS).map(|_| lock.clone()).collect());
    assert_no_lock_files_left(dir.path(), kind);
}

fn separate_objects(kind: LockKind) {
    let dir = tempfile::tempdir().expect("tempdir");
    let journal = dir.path().join("study.journal");
    let locks = (0..THREADS).map(|_| open(kind, &journal, hammer_timeout(kind))).collect();
    hammer(&journal, locks);
    assert_no_lock_files_left(dir.path(), kind);
}

/// Lease locks remove their lock file on release and leave no aside names behind.
fn assert_no_lock_files_left(dir: &Path, kind: LockKind) {
    let mut names: Vec<String> = fs::read_dir(dir)
        .expect("ls")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    let expected: &[&str] = match kind {
        LockKind::Advisory => &["study.counter", "study.journal.lock"],
        _ => &["study.counter"],
    };
    assert_eq!(names, expected);
}

#[test]
fn shared_object_excludes_threads_advisory() {
    shared_object(LockKind::Advisory);
}

#[test]
fn shared_object_excludes_threads_open_file() {
    shared_object(LockKind::OpenFile);
}

// The symlink lock needs symbolic links, which Windows creates only with a privilege (and Wine
// not at all): there it fails with Error::SymlinkLockUnavailable (src/lock/symlink.rs).
#[cfg(unix)]
#[test]
fn shared_object_excludes_threads_symlink() {
    shared_object(LockKind::Symlink);
}

#[test]
fn separate_objects_exclude_each_other_advisory() {
    separate_objects(LockKind::Advisory);
}

#[test]
fn separate_objects_exclude_each_other_open_file() {
    separate_objects(LockKind::OpenFile);
}

// The symlink lock needs symbolic links, which Windows creates only with a privilege (and Wine
// not at all): there it fails with Error::SymlinkLockUnavailable (src/lock/symlink.rs).
#[cfg(unix)]
#[test]
fn separate_objects_exclude_each_other_symlink() {
    separate_objects(LockKind::Symlink);
}

/// A second object with `timeout: 200 ms` gives up in about 200 ms and names the holder.
fn timeout_names_holder(kind: LockKind) {
    let dir = tempfile::tempdir().expect("tempdir");
    let journal = dir.path().join("study.journal");
    let holder = open(kind, &journal, None);
    let _held = holder.acquire().expect("acquire");
    let waiter = open(kind, &journal, Some(Duration::from_millis(200)));
    let start = Instant::now();
    let err = waiter.acquire().expect_err("lock is held: must time out");
    let took = start.elapsed();
    assert!(
        took >= Duration::from_millis(200) && took < Duration::from_millis(1200),
        "took {took:?}"
    );
    assert_timeout_names_us(err, &journal);
}

fn assert_timeout_names_us(err: Error, journal: &Path) {
    let message = err.to_string();
    match err {
        Error::LockTimeout { path, holder, waited } => {
            assert_eq!(path, lock_path_for(journal));
            assert!(holder.contains(&format!("pid {}", std::process::id())), "holder: {holder}");
            assert!(waited >= Duration::from_millis(200), "waited {waited:?}");
            assert!(
                message.contains(&holder) && message.contains("study.journal.lock"),
                "{message}"
            );
        }
        other => panic!("expected LockTimeout, got {other}"),
    }
}

#[test]
fn timeout_names_holder_advisory() {
    timeout_names_holder(LockKind::Advisory);
}

#[test]
fn timeout_names_holder_open_file() {
    timeout_names_holder(LockKind::OpenFile);
}

// The symlink lock needs symbolic links, which Windows creates only with a privilege (and Wine
// not at all): there it fails with Error::SymlinkLockUnavailable (src/lock/symlink.rs).
#[cfg(unix)]
#[test]
fn timeout_names_holder_symlink() {
    timeout_names_holder(LockKind::Symlink);
}

/// The timeout also bounds the wait for another thread of this process using the same object.
#[test]
fn timeout_covers_threads_sharing_one_object() {
    // (No symlink lock on Windows: see `timeout_names_holder_symlink`.)
    let kinds: &[LockKind] = if cfg!(unix) {
        &[LockKind::Advisory, LockKind::OpenFile, LockKind::Symlink]
    } else {
        &[LockKind::Advisory, LockKind::OpenFile]
    };
    for &kind in kinds {
        let dir = tempfile::tempdir().expect("tempdir");
        let journal = dir.path().join("study.journal");
        let lock = open(kind, &journal, Some(Duration::from_millis(200)));
        let guard = lock.acquire().expect("acquire");
        std::thread::scope(|s| {
            s.spawn(|| {
                let start = Instant::now();
                let err = lock.acquire().expect_err("held by the other thread");
                let took = start.elapsed();
                assert!(
                    took >= Duration::from_millis(200) && took < Duration::from_millis(1200),
                    "{kind:?}: {took:?}"
                );
                assert_timeout_names_us(err, &journal);
            });
        });
        drop(guard);
        drop(lock.acquire().expect("free again"));
    }
}
