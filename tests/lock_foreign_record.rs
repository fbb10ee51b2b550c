//! Lock files that trialog did not write, or that another host or an earlier process wrote.
//!
//! Invariants: for the advisory lock only the kernel's `flock` decides, so garbage, an empty
//! file or a record of another host in `<journal>.lock` never delays a writer, and the writer's
//! record replaces it. For lease locks, ownership is the nonce, never host or pid: a record that
//! names this very host and process but carries another nonce (pid reuse after a reboot, or a
//! leftover of an earlier lock object) is a stale foreign lock, broken after the grace period
//! like any other, and never taken for ours. Either way a writer's append then works and the
//! journal replays cleanly. (Garbage and other-host records for lease locks are also covered by
//! `lock_stale.rs`.)

use std::path::Path;
use std::time::{Duration, Instant};

use trialog::backend::FileOptions;
use trialog::lock::{LockKind, LockOptions, OwnerRecord, lock_path_for};
use trialog::{JournalStorage, StudyDirection};

const GRACE: Duration = Duration::from_millis(400);

fn options(kind: LockKind) -> FileOptions {
    FileOptions {
        create: true,
        lock: LockOptions {
            kind,
            timeout: Some(Duration::from_secs(20)),
            grace_period: GRACE,
            ..LockOptions::default()
        },
        ..FileOptions::default()
    }
}

/// The lease kinds this platform has: the symlink lock needs a privilege on Windows (and Wine
/// creates no links), where it fails with `Error::SymlinkLockUnavailable` (tested in
/// `src/lock/symlink.rs`).
const LEASE_KINDS: &[LockKind] =
    if cfg!(unix) { &[LockKind::OpenFile, LockKind::Symlink] } else { &[LockKind::OpenFile] };

fn plant(kind: LockKind, lock: &Path, content: &[u8]) {
    match kind {
        #[cfg(unix)]
        LockKind::Symlink => std::os::unix::fs::symlink(
            std::str::from_utf8(content).expect("utf-8 symlink target"),
            lock,
        )
        .expect("symlink"),
        _ => std::fs::write(lock, content).expect("write lock file"),
    }
}

/// Plants `content` as the lock, then times one append through a fresh storage handle.
fn append_past(kind: LockKind, content: &[u8]) -> Duration {
    let dir = tempfile::tempdir().expect("tempdir");
    let journal = dir.path().join("foreign.journal");
    drop(JournalStorage::open_with(&journal, &options(kind)).expect("create"));
    plant(kind, &lock_path_for(&journal), content);
    let s = JournalStorage::open_with(&journal, &options(kind)).expect("open");
    let start = Instant::now();
    s.create_new_study(&[StudyDirection::Minimize], Some("past a foreign lock")).expect("append");
    let took = start.elapsed();
    let fresh = JournalStorage::open_with(&journal, &options(kind)).expect("reopen");
    fresh.get_study_id_from_name("past a foreign lock").expect("the append is there");
    if kind == LockKind::Advisory {
        let text = std::fs::read(lock_path_for(&journal)).expect("lock file");
        let record = OwnerRecord::parse(&String::from_utf8_lossy(&text[..256.min(text.len())]));
        assert_eq!(record.map(|r| r.pid), Some(std::process::id()), "our record replaced it");
    }
    took
}

fn garbage() -> Vec<u8> {
    (0u32..300).map(|i| (i.wrapping_mul(2_654_435_761) >> 11) as u8 | 1).collect()
}

fn other_host_record() -> Vec<u8> {
    OwnerRecord {
        host: "some-other-node".into(),
        pid: 1,
        nonce: "0123456789abcdef0123456789abcdef".into(),
        acquired_unix_ms: 1_700_000_000_000,
        refreshed_unix_ms: 1_700_000_000_000,
    }
    .encode()
    .into_bytes()
}

/// A record naming this host and this process, with a nonce that is not ours.
fn our_pid_other_nonce() -> Vec<u8> {
    let mut record = OwnerRecord::new_for_this_process();
    record.nonce = "feedfacefeedfacefeedfacefeedface".into();
    record.encode().into_bytes()
}

#[test]
fn advisory_ignores_whatever_the_lock_file_holds() {
    for (what, content) in [
        ("garbage", garbage()),
        ("an empty file", Vec::new()),
        ("another host's record", other_host_record()),
        ("our pid with another nonce", our_pid_other_nonce()),
    ] {
        let took = append_past(LockKind::Advisory, &content);
        assert!(took < GRACE, "{what}: an advisory writer waited {took:?}");
    }
}

#[test]
fn lease_locks_break_a_record_of_this_process_with_another_nonce() {
    for &kind in LEASE_KINDS {
        let took = append_past(kind, &our_pid_other_nonce());
        assert!(took >= GRACE, "{kind:?}: took a lock with our pid but another nonce as ours");
        assert!(took < GRACE + Duration::from_secs(5), "{kind:?}: {took:?}");
    }
}

#[test]
fn lease_locks_break_another_hosts_record_and_garbage() {
    for &kind in LEASE_KINDS {
        for (what, content) in
            [("another host's record", other_host_record()), ("garbage", garbage())]
        {
            if kind == LockKind::Symlink && content.iter().any(|b| !b.is_ascii() || *b == 0) {
                continue; // a symlink target must be a string here; lock_stale.rs covers bytes
            }
            let took = append_past(kind, &content);
            assert!(took >= GRACE, "{kind:?}, {what}: broken within the grace period");
        }
    }
}
