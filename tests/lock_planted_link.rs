//! A link planted at `<journal>.lock` never makes a lock write into another file.
//!
//! Invariants (docs/LOCKING.md, "The lock file"): every lock kind opens `<journal>.lock` without
//! following a symbolic link; the advisory lock refuses a link, a hard-linked file, a directory or
//! a FIFO there with `Error::UnsafeLockFile` naming the lock path, and writes nothing; the lease
//! kinds watch a link there as a foreign lock (timing out, or breaking the link itself after the
//! grace period) and never write through it; `trialog recover` refuses the same way. The file
//! the link points at stays byte for byte as it was, and a dangling link creates no file.

// Unix only: this suite plants symbolic links (a privilege on Windows; Wine creates none) and FIFOs (none on
// Windows) at the lock path; the hard-link and directory cases run on Windows in the unit tests of
// src/lock/lock_file.rs.
#![cfg(unix)]

use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use trialog::{Error, FileOptions, JournalStorage, LockKind, LockOptions, StudyDirection};

const PRECIOUS: &[u8] = b"precious bytes that no lock may overwrite\n";

struct Setup {
    _dir: tempfile::TempDir,
    journal: PathBuf,
    lock: PathBuf,
    victim: PathBuf,
}

/// A trialog journal holding one study, and a file `victim` beside it.
fn setup() -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let journal = dir.path().join("j.journal");
    let storage = JournalStorage::open(&journal).unwrap();
    storage.create_new_study(&[StudyDirection::Minimize], Some("s")).unwrap();
    drop(storage);
    // The advisory lock file of that writer: start from a clean slate.
    let lock = dir.path().join("j.journal.lock");
    let _ = std::fs::remove_file(&lock);
    let victim = dir.path().join("victim");
    std::fs::write(&victim, PRECIOUS).unwrap();
    Setup { _dir: dir, journal, lock, victim }
}

fn open(journal: &Path, kind: LockKind, grace: Duration) -> JournalStorage {
    let lock = LockOptions {
        kind,
        timeout: Some(Duration::from_millis(300)),
        grace_period: grace,
        ..LockOptions::default()
    };
    JournalStorage::open_with(journal, &FileOptions { lock, ..FileOptions::default() }).unwrap()
}

fn create_study(storage: &JournalStorage) -> trialog::Result<u64> {
    storage.create_new_study(&[StudyDirection::Minimize], Some("t"))
}

#[test]
fn advisory_lock_refuses_a_symlink_and_leaves_its_target_untouched() {
    let s = setup();
    symlink(&s.victim, &s.lock).unwrap();
    let storage = open(&s.journal, LockKind::Advisory, Duration::from_secs(30));
    match create_study(&storage) {
        Err(Error::UnsafeLockFile { path, found }) => {
            assert_eq!(path.file_name(), s.lock.file_name());
            assert!(found.contains("symbolic link"), "{found}");
            let text = Error::UnsafeLockFile { path, found }.to_string();
            assert!(text.contains("j.journal.lock"), "{text}");
        }
        other => panic!("expected UnsafeLockFile, got {other:?}"),
    }
    assert_eq!(std::fs::read(&s.victim).unwrap(), PRECIOUS);
    assert!(std::fs::symlink_metadata(&s.lock).unwrap().file_type().is_symlink());
    // Nothing was appended either.
    assert!(storage.get_study_id_from_name("t").is_err());
}

#[test]
fn advisory_lock_refuses_a_dangling_link_a_hard_link_and_a_fifo() {
    let s = setup();
    let elsewhere = s.victim.with_file_name("elsewhere");
    symlink(&elsewhere, &s.lock).unwrap();
    let storage = open(&s.journal, LockKind::Advisory, Duration::from_secs(30));
    assert!(matches!(create_study(&storage), Err(Error::UnsafeLockFile { .. })));
    assert!(!elsewhere.exists(), "the lock created a file through a dangling link");

    std::fs::remove_file(&s.lock).unwrap();
    std::fs::hard_link(&s.victim, &s.lock).unwrap();
    let storage = open(&s.journal, LockKind::Advisory, Duration::from_secs(30));
    match create_study(&storage) {
        Err(Error::UnsafeLockFile { found, .. }) => {
            assert!(found.contains("hard links"), "{found}")
        }
        other => panic!("expected UnsafeLockFile, got {other:?}"),
    }
    assert_eq!(std::fs::read(&s.victim).unwrap(), PRECIOUS);

    std::fs::remove_file(&s.lock).unwrap();
    assert!(Command::new("mkfifo").arg(&s.lock).status().unwrap().success());
    let storage = open(&s.journal, LockKind::Advisory, Duration::from_secs(30));
    match create_study(&storage) {
        Err(Error::UnsafeLockFile { found, .. }) => assert_eq!(found, "a FIFO"),
        other => panic!("expected UnsafeLockFile, got {other:?}"),
    }
}

#[test]
fn lease_locks_never_write_through_a_link() {
    for kind in [LockKind::OpenFile, LockKind::Symlink] {
        let s = setup();
        symlink(&s.victim, &s.lock).unwrap();
        // Within the grace period the link is a foreign holder: a timeout, nothing written.
        let storage = open(&s.journal, kind, Duration::from_secs(30));
        assert!(
            matches!(create_study(&storage), Err(Error::LockTimeout { .. })),
            "{kind:?}: a link at the lock path is a held lock"
        );
        assert_eq!(std::fs::read(&s.victim).unwrap(), PRECIOUS, "{kind:?}");
        // Past the grace period the link itself is broken (removed), never its target.
        let storage = open(&s.journal, kind, Duration::from_millis(100));
        create_study(&storage).unwrap_or_else(|e| panic!("{kind:?}: {e}"));
        assert_eq!(std::fs::read(&s.victim).unwrap(), PRECIOUS, "{kind:?}");
        assert!(!s.lock.exists(), "{kind:?}: released");
    }
}

#[test]
fn recover_refuses_a_link_at_a_trialog_journals_lock() {
    let s = setup();
    symlink(&s.victim, &s.lock).unwrap();
    let before = std::fs::read(&s.journal).unwrap();
    for extra in [&[][..], &["--out", "new.journal"][..]] {
        let out = Command::new(env!("CARGO_BIN_EXE_trialog"))
            .arg("recover")
            .arg(&s.journal)
            .args(["--mode", "tolerate-corrupted-tail"])
            .args(extra)
            .current_dir(s.journal.parent().unwrap())
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{stderr}");
        assert!(stderr.contains("j.journal.lock") && stderr.contains("symbolic link"), "{stderr}");
        assert_eq!(std::fs::read(&s.victim).unwrap(), PRECIOUS);
        assert_eq!(std::fs::read(&s.journal).unwrap(), before);
        assert!(!s.journal.with_file_name("new.journal").exists());
    }
}
