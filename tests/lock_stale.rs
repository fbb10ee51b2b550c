//! Lease locks (open-file and symlink): stale locks are broken after the grace period and not
//! before, live holders are never broken, and release removes only our own lock.

mod log_capture;

#[cfg(unix)]
use std::ffi::OsStr;
use std::fs;
#[cfg(unix)]
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use log_capture::{capture_logs, warnings_about};
use trialog::Error;
use trialog::lock::{JournalLock, LockKind, LockOptions, OwnerRecord, lock_path_for, open_lock};

const GRACE: Duration = Duration::from_millis(400);

// ---- helpers ----

struct Setup {
    _dir: tempfile::TempDir,
    dir: PathBuf,
    journal: PathBuf,
    lock: PathBuf,
}

fn setup() -> Setup {
    capture_logs();
    let dir = tempfile::tempdir().expect("tempdir");
    let journal = dir.path().join("study.journal");
    Setup { dir: dir.path().to_path_buf(), lock: lock_path_for(&journal), journal, _dir: dir }
}

fn options(kind: LockKind, timeout: Option<Duration>) -> LockOptions {
    LockOptions { kind, timeout, grace_period: GRACE, ..LockOptions::default() }
}

fn open(kind: LockKind, journal: &Path, timeout: Option<Duration>) -> Box<dyn JournalLock> {
    open_lock(journal, &options(kind, timeout)).expect("open lock")
}

fn foreign_record(host: &str, pid: u32) -> OwnerRecord {
    OwnerRecord {
        host: host.into(),
        pid,
        nonce: "0000000000000000000000000000dead".into(),
        acquired_unix_ms: 1_700_000_000_000,
        refreshed_unix_ms: 1_700_000_000_000,
    }
}

/// Puts a lock at `lock` as another process would: a file with `content` (open-file kind) or a
/// symlink whose target is `content` (symlink kind).
fn plant(kind: LockKind, lock: &Path, content: &[u8]) {
    match kind {
        #[cfg(unix)]
        LockKind::Symlink => {
            std::os::unix::fs::symlink(OsStr::from_bytes(content), lock).expect("symlink")
        }
        _ => fs::write(lock, content).expect("write lock file"),
    }
}

/// The lock's content: file bytes or symlink target, never following the link.
fn lock_content(lock: &Path) -> Vec<u8> {
    let meta = fs::symlink_metadata(lock).expect("lstat lock");
    if meta.file_type().is_symlink() {
        fs::read_link(lock).expect("readlink").into_os_string().into_encoded_bytes()
    } else {
        fs::read(lock).expect("read lock")
    }
}

/// Names of the lock file and of anything derived from it (aside names) in `dir`.
fn names_in(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(dir)
        .expect("ls")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .filter(|name| name.starts_with("study.journal.lock"))
        .collect();
    names.sort();
    names
}

/// Acquires, asserting that it took at least the grace period and not much longer; returns the
/// warnings logged about the lock.
fn acquire_after_grace(s: &Setup, kind: LockKind) -> Vec<String> {
    let lock = open(kind, &s.journal, Some(Duration::from_secs(10)));
    let start = Instant::now();
    let guard = lock.acquire().expect("stale lock must be broken");
    let took = start.elapsed();
    assert!(took >= GRACE, "broke the lock after {took:?}, before the grace period {GRACE:?}");
    assert!(took < GRACE + Duration::from_secs(2), "took {took:?} to break a stale lock");
    guard.verify_held().expect("we hold it now");
    assert_eq!(names_in(&s.dir), ["study.journal.lock"], "aside files left behind");
    drop(guard);
    assert!(names_in(&s.dir).is_empty(), "lock not removed on release");
    warnings_about(&s.lock)
}

// ---- (a) a dead holder with a parseable record ----

fn dead_holder_is_broken_after_grace(kind: LockKind, host: &str, pid: u32) {
    let s = setup();
    plant(kind, &s.lock, foreign_record(host, pid).encode().as_bytes());
    let warnings = acquire_after_grace(&s, kind);
    let broke: Vec<_> = warnings.iter().filter(|l| l.starts_with("broke stale lock")).collect();
    assert_eq!(broke.len(), 1, "warnings: {warnings:?}");
    assert!(broke[0].contains(&format!("pid {pid}")), "{}", broke[0]);
    assert!(broke[0].contains(&format!("host \"{host}\"")), "{}", broke[0]);
}

#[test]
fn dead_holder_is_broken_after_grace_open_file() {
    dead_holder_is_broken_after_grace(LockKind::OpenFile, "deadhost-open", 4_000_001);
}

// The symlink kind needs symbolic links, which Windows creates only with a privilege (and Wine
// not at all): there it fails with Error::SymlinkLockUnavailable (src/lock/symlink.rs).
#[cfg(unix)]
#[test]
fn dead_holder_is_broken_after_grace_symlink() {
    dead_holder_is_broken_after_grace(LockKind::Symlink, "deadhost-symlink", 4_000_002);
}

// ---- (b) garbage ----

fn random_bytes(n: usize, seed: u64) -> Vec<u8> {
    let mut x = seed | 1;
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            // No NUL: a symlink target cannot hold one.
            (x % 255 + 1) as u8
        })
        .collect()
}

fn garbage_is_broken_after_grace(kind: LockKind, content: &[u8], expected_excerpt: &str) {
    let s = setup();
    plant(kind, &s.lock, content);
    let warnings = acquire_after_grace(&s, kind);
    assert_eq!(warnings.len(), 1, "warnings: {warnings:?}");
    let expected = format!("held by unknown holder (lock file content: \"{expected_excerpt}");
    assert!(warnings[0].contains(&expected), "{} lacks {expected}", warnings[0]);
}

#[test]
fn garbage_is_broken_after_grace_open_file() {
    garbage_is_broken_after_grace(LockKind::OpenFile, &random_bytes(300, 7), "");
}

#[test]
fn empty_lock_file_is_broken_after_grace_open_file() {
    garbage_is_broken_after_grace(LockKind::OpenFile, b"", "\")");
}

#[test]
fn optuna_style_content_is_broken_after_grace_open_file() {
    garbage_is_broken_after_grace(
        LockKind::OpenFile,
        b"/shared/studies/study.journal",
        "/shared/studies/study.journal\")",
    );
}

// The symlink kind needs symbolic links, which Windows creates only with a privilege (and Wine
// not at all): there it fails with Error::SymlinkLockUnavailable (src/lock/symlink.rs).
#[cfg(unix)]
#[test]
fn garbage_is_broken_after_grace_symlink() {
    garbage_is_broken_after_grace(LockKind::Symlink, &random_bytes(300, 11), "");
}

// The symlink kind needs symbolic links, which Windows creates only with a privilege (and Wine
// not at all): there it fails with Error::SymlinkLockUnavailable (src/lock/symlink.rs).
#[cfg(unix)]
#[test]
fn optuna_symlink_to_the_journal_is_broken_after_grace_symlink() {
    // Python Optuna's lock: a symlink whose target is the journal path (which exists).
    let s = setup();
    fs::write(&s.journal, b"{}\n").expect("journal");
    let target = s.journal.display().to_string();
    plant(LockKind::Symlink, &s.lock, target.as_bytes());
    let warnings = acquire_after_grace(&s, LockKind::Symlink);
    assert_eq!(warnings.len(), 1, "warnings: {warnings:?}");
    assert!(
        warnings[0].contains(&format!("unknown holder (lock file content: \"{target}\")")),
        "{}",
        warnings[0]
    );
    assert_eq!(fs::read(&s.journal).expect("journal"), b"{}\n", "the journal was touched");
}

// The symlink kind needs symbolic links, which Windows creates only with a privilege (and Wine
// not at all): there it fails with Error::SymlinkLockUnavailable (src/lock/symlink.rs).
#[cfg(unix)]
#[test]
fn empty_regular_file_is_broken_after_grace_symlink() {
    // A lock file left by a lock of the other kind (e.g. Python Optuna's open lock).
    let s = setup();
    fs::write(&s.lock, b"").expect("write");
    let warnings = acquire_after_grace(&s, LockKind::Symlink);
    assert_eq!(warnings.len(), 1, "warnings: {warnings:?}");
    assert!(
        warnings[0].contains("held by unknown holder (lock file content: \"\")"),
        "{}",
        warnings[0]
    );
}

// ---- (c) a live holder is never broken ----

fn live_holder_is_not_broken(kind: LockKind) {
    let s = setup();
    let holder = open(kind, &s.journal, None);
    let held = holder.acquire().expect("acquire");
    std::thread::scope(|scope| {
        scope.spawn(move || {
            std::thread::sleep(3 * GRACE);
            held.verify_held().expect("holder kept its lock");
            drop(held);
        });
        let waiter = open(kind, &s.journal, Some(2 * GRACE));
        let start = Instant::now();
        let err = waiter.acquire().expect_err("a live holder must not be broken");
        let took = start.elapsed();
        assert!(took >= 2 * GRACE && took < 2 * GRACE + Duration::from_secs(1), "{took:?}");
        match err {
            Error::LockTimeout { holder, .. } => {
                assert!(
                    holder.contains(&format!("pid {}", std::process::id())),
                    "holder: {holder}"
                );
            }
            other => panic!("expected LockTimeout, got {other}"),
        }
    });
    assert!(warnings_about(&s.lock).is_empty(), "{:?}", warnings_about(&s.lock));
    // Released by the holder: free at once.
    let waiter = open(kind, &s.journal, Some(Duration::from_millis(500)));
    drop(waiter.acquire().expect("free after the holder released"));
}

#[test]
fn live_holder_is_not_broken_open_file() {
    live_holder_is_not_broken(LockKind::OpenFile);
}

// The symlink kind needs symbolic links, which Windows creates only with a privilege (and Wine
// not at all): there it fails with Error::SymlinkLockUnavailable (src/lock/symlink.rs).
#[cfg(unix)]
#[test]
fn live_holder_is_not_broken_symlink() {
    live_holder_is_not_broken(LockKind::Symlink);
}

// ---- (d) release removes only our own lock ----

/// Removes the lock as a breaker does: renamed aside, then removed. (Removing it in place would
/// not free the name on Windows while the holder keeps the file open: a deleted file that is
/// still open keeps its name until it is closed, unless the file system deletes with POSIX
/// semantics.)
fn break_like_a_waiter(lock: &Path) {
    let mut aside = lock.as_os_str().to_owned();
    aside.push(".broken.by-the-test");
    fs::rename(lock, &aside).expect("rename our lock aside");
    fs::remove_file(&aside).expect("remove it");
}

fn release_leaves_a_foreign_lock_in_place(kind: LockKind, host: &str, pid: u32) {
    let s = setup();
    let lock = open(kind, &s.journal, None);
    let guard = lock.acquire().expect("acquire");
    guard.verify_held().expect("held");

    // Someone breaks our lock and takes it.
    break_like_a_waiter(&s.lock);
    let foreign = foreign_record(host, pid).encode();
    plant(kind, &s.lock, foreign.as_bytes());
    // Let our keeper run at least twice (every GRACE / 4): it must not touch their lock.
    std::thread::sleep(GRACE / 2);

    match guard.verify_held() {
        Err(Error::LockLost { path, holder }) => {
            assert_eq!(path, s.lock);
            assert!(
                holder.contains(&format!("pid {pid}")) && holder.contains(host),
                "holder: {holder}"
            );
        }
        other => panic!("expected LockLost, got {other:?}"),
    }
    drop(guard);
    assert_eq!(lock_content(&s.lock), foreign.as_bytes(), "release changed a foreign lock");
    assert_eq!(names_in(&s.dir), ["study.journal.lock"]);
    let warnings = warnings_about(&s.lock);
    assert!(
        warnings.iter().any(|l| l.contains("after losing it") && l.contains(host)),
        "{warnings:?}"
    );
}

#[test]
fn release_leaves_a_foreign_lock_in_place_open_file() {
    release_leaves_a_foreign_lock_in_place(LockKind::OpenFile, "thief-open", 4_000_003);
}

// The symlink kind needs symbolic links, which Windows creates only with a privilege (and Wine
// not at all): there it fails with Error::SymlinkLockUnavailable (src/lock/symlink.rs).
#[cfg(unix)]
#[test]
fn release_leaves_a_foreign_lock_in_place_symlink() {
    release_leaves_a_foreign_lock_in_place(LockKind::Symlink, "thief-symlink", 4_000_004);
}

#[test]
fn lost_lock_file_is_reported_not_recreated() {
    let kinds: &[LockKind] =
        if cfg!(unix) { &[LockKind::OpenFile, LockKind::Symlink] } else { &[LockKind::OpenFile] };
    for &kind in kinds {
        let s = setup();
        let lock = open(kind, &s.journal, None);
        let guard = lock.acquire().expect("acquire");
        break_like_a_waiter(&s.lock);
        assert!(matches!(guard.verify_held(), Err(Error::LockLost { .. })), "{kind:?}");
        drop(guard);
        assert!(names_in(&s.dir).is_empty(), "{kind:?}: release recreated a lock");
    }
}
