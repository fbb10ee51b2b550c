//! A lock object used across `fork()` (docs/LOCKING.md, "Across `fork`"): Python's
//! `multiprocessing` forks by default on Linux, so a storage opened before a pool starts is used
//! by a copy of itself in every worker. Each copy must take the lock as a process of its own.
//!
//! Its own test binary with one test: the forked child runs Rust code (it takes the lock), which
//! is safe only while no other thread of the parent holds a lock the child needs; other tests
//! running beside it in one binary would.
#![cfg(unix)]

use std::fs::File;
use std::io::Read;
use std::path::Path;
use std::time::Duration;

use trialog::Error;
use trialog::lock::{AdvisoryLock, JournalLock, LockOptions, OwnerRecord};

/// Forks; the child runs `check` and exits 0 if it returned `true`, 1 otherwise (a panic too).
fn fork_running(check: impl FnOnce() -> bool) -> libc::pid_t {
    // SAFETY: fork has no memory-safety preconditions; the child leaves with `_exit`, so it never
    // returns into the test harness nor runs its exit handlers.
    let pid = unsafe { libc::fork() };
    assert!(pid >= 0, "fork failed");
    if pid == 0 {
        let ok = std::panic::catch_unwind(std::panic::AssertUnwindSafe(check)).unwrap_or(false);
        // SAFETY: ends the child at once.
        unsafe { libc::_exit(if ok { 0 } else { 1 }) };
    }
    pid
}

/// Waits for the child `pid`: whether its check returned `true`.
fn succeeded(pid: libc::pid_t) -> bool {
    let mut status = 0;
    // SAFETY: waits for our own child; `status` is a valid out pointer.
    let waited = unsafe { libc::waitpid(pid, &mut status, 0) };
    waited == pid && libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0
}

/// The pid in the owner record at the start of the lock file.
fn record_pid(lock_file: &Path) -> Option<u32> {
    let mut text = String::new();
    File::open(lock_file).ok()?.read_to_string(&mut text).ok()?;
    OwnerRecord::parse(&text).map(|r| r.pid)
}

/// Whether another open file description (as another process has) can take the `flock` now.
fn free_for_another_process(lock_file: &Path) -> bool {
    use std::os::fd::AsRawFd;
    let file = File::options().write(true).open(lock_file).expect("open the lock file");
    // SAFETY: flock on a descriptor we own; closing `file` releases what it took.
    unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) == 0 }
}

#[test]
fn a_forked_copy_of_an_advisory_lock_is_a_process_of_its_own() {
    let dir = tempfile::tempdir().expect("tempdir");
    let lock_file = dir.path().join("j.lock");
    let options = LockOptions { timeout: Some(Duration::from_millis(100)), ..Default::default() };
    let lock = AdvisoryLock::open(&lock_file, options).expect("open");
    drop(lock.acquire().expect("the parent opens and uses the lock"));
    assert_eq!(record_pid(&lock_file), Some(std::process::id()));

    // The child takes the lock through its copy and holds it: the parent cannot take it (with
    // the open file description shared, both would have it).
    let held = dir.path().join("child holds");
    let child = fork_running(|| {
        let Ok(guard) = lock.acquire() else { return false };
        let named_itself = record_pid(&lock_file) == Some(std::process::id());
        std::fs::write(&held, b"").is_ok() && {
            std::thread::sleep(Duration::from_millis(400));
            drop(guard);
            named_itself
        }
    });
    while !held.exists() {
        std::thread::sleep(Duration::from_millis(1));
    }
    match lock.acquire() {
        Err(Error::LockTimeout { holder, .. }) => {
            assert!(holder.contains(&format!("pid {child}")), "names the child: {holder}")
        }
        other => panic!("the parent took the lock its child holds: {other:?}"),
    }
    assert!(succeeded(child), "the child could not take the free lock, or kept our record");

    // The parent holds the lock when it forks: the child's copy of the guard, released there,
    // must not unlock the parent's open file description.
    let _guard = lock.acquire().expect("the parent acquires once the child is gone");
    let child = fork_running(|| {
        lock.release();
        !free_for_another_process(&lock_file)
    });
    assert!(succeeded(child), "a release in the child unlocked the parent's lock");
    assert!(!free_for_another_process(&lock_file), "the parent still holds it");
    assert_eq!(record_pid(&lock_file), Some(std::process::id()), "the parent's record is back");
}
