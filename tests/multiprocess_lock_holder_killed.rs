//! Invariant: a writer process that dies while holding the journal's write lock does not block
//! the other writers for longer than its lock kind promises. A child takes the lock and hangs;
//! the parent SIGKILLs it and writes. With the advisory lock the OS releases the lock at once,
//! so the write proceeds at once (< 1 s); with the lease locks (open-file, symlink; grace period
//! 1 s) the write waits out the grace period (>= 1 s) and then breaks the lock (< 5 s). The
//! write succeeds and a fresh open replays the journal without error.

mod mp_common;

use std::path::Path;
use std::time::{Duration, Instant};

use mp_common::{ChildEnv, Spawn, report};
use trialog::{LockKind, StudyDirection, TrialState};

const GRACE: Duration = Duration::from_secs(1);
const STUDY: &str = "lock-holder-killed";

#[test]
fn killed_advisory_lock_holder_releases_the_lock_at_once() {
    holder_killed(mp_common::test_name!(), LockKind::Advisory);
}

#[test]
fn killed_open_file_lock_holder_is_broken_after_the_grace_period() {
    holder_killed(mp_common::test_name!(), LockKind::OpenFile);
}

// The symlink lock needs symbolic links, which Windows creates only with a privilege (and Wine
// not at all): there it fails with Error::SymlinkLockUnavailable (src/lock/symlink.rs).
#[cfg(unix)]
#[test]
fn killed_symlink_lock_holder_is_broken_after_the_grace_period() {
    holder_killed(mp_common::test_name!(), LockKind::Symlink);
}

/// Child: takes the journal's write lock, reports "locked" and hangs until killed.
fn hold_lock_forever(env: &ChildEnv) -> ! {
    let lock =
        trialog::lock::open_lock(&env.journal, &mp_common::lock_options(env.kind, env.grace))
            .expect("open_lock");
    let _guard = lock.acquire().expect("acquire");
    report("locked");
    loop {
        std::thread::sleep(Duration::from_secs(3600));
    }
}

fn holder_killed(test: &str, kind: LockKind) {
    if let Some(env) = ChildEnv::get() {
        hold_lock_forever(&env);
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let journal = dir.path().join("study.journal");
    let storage = mp_common::open_storage(&journal, kind, GRACE);
    let study =
        storage.create_new_study(&[StudyDirection::Minimize], Some(STUDY)).expect("create study");

    let mut holder = Spawn::new(test, "hold-lock", &journal, kind)
        .grace(GRACE)
        .spawn(format!("lock holder ({})", mp_common::kind_name(kind)));
    holder.expect_line("locked", Duration::from_secs(60));
    holder.kill_now();

    let start = Instant::now();
    let trial = storage.create_new_trial(study, None).expect("write after the holder died");
    let waited = start.elapsed();
    println!(
        "{}: the write waited {waited:?} for the dead holder's lock",
        mp_common::kind_name(kind)
    );
    match kind {
        LockKind::Advisory => {
            assert!(waited < Duration::from_secs(1), "advisory: waited {waited:?}, expected < 1 s");
        }
        LockKind::OpenFile | LockKind::Symlink => {
            assert!(
                waited >= GRACE,
                "lease: broke a lock after {waited:?}, before its grace period"
            );
            assert!(waited < Duration::from_secs(5), "lease: waited {waited:?}, expected < 5 s");
        }
    }
    let done = storage
        .set_trial_state_values(trial, TrialState::Complete, Some(&[1.0]))
        .expect("second write");
    assert!(done);
    drop(storage);

    check_intact(&journal, kind);
}

/// A fresh open replays the journal: the study and its one COMPLETE trial, nothing ignored.
fn check_intact(journal: &Path, kind: LockKind) {
    let storage = mp_common::open_storage(journal, kind, GRACE);
    mp_common::assert_nothing_ignored(&storage);
    let study = storage.get_study_id_from_name(STUDY).expect("study");
    let trials = storage.get_all_trials(study, None).expect("get_all_trials");
    assert_eq!(trials.len(), 1, "trials: {trials:?}");
    assert_eq!((trials[0].trial_id, trials[0].number), (0, 0));
    assert_eq!(trials[0].state, TrialState::Complete);
    assert_eq!(trials[0].value(), Some(1.0));
}
