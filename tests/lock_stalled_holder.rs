//! Stalled and long-running lock holders, with real processes (issue 4, promise e).
//!
//! Invariants:
//! * A lease-lock holder that is SIGSTOPped past the grace period is broken by the next writer,
//!   whose log line names the stopped holder's pid. When the stopped holder resumes (SIGCONT) and
//!   tries to write, it finds that the lock record no longer carries its nonce and fails with
//!   [`Error::LockLost`] naming the new holder, writing nothing; its next call takes the lock
//!   normally. (A holder stopped *between* that check and its `pwrite` still writes: that window
//!   is documented in `docs/LOCKING.md`.)
//! * An advisory-lock holder is never broken while its process exists, stopped or not: a waiter
//!   times out naming it, and the holder's write succeeds after SIGCONT.
//! * A live lease holder that keeps its lock for several grace periods (a long recover or
//!   compaction, appending under one guard) is never broken: its keeper refreshes the record, a
//!   waiter without timeout waits it out, and every append of the holder succeeds.
//!
//! The holders are this test binary re-executed (see `tests/mp_common`).

// Unix only: this suite stops and resumes a lock holder with SIGSTOP/SIGCONT, which Windows does not have.
#![cfg(unix)]

mod log_capture;
mod mp_common;

use std::path::Path;
use std::time::{Duration, Instant};

use log_capture::{capture_logs, warnings_about};
use mp_common::{ChildEnv, Spawn, report};
use trialog::backend::AppendOutcome;
use trialog::journal::{LogBatch, Operation};
use trialog::lock::lock_path_for;
use trialog::{Error, LockKind, LogBackend, StudyDirection};

const GRACE: Duration = Duration::from_millis(500);
const GO_VAR: &str = "TRIALOG_STALL_GO";
const STALE_STUDY: &str = "written by the stalled holder";
const LINE_TIMEOUT: Duration = Duration::from_secs(60);

fn signal(pid: u32, sig: libc::c_int) {
    let pid = libc::pid_t::try_from(pid).expect("pid");
    // SAFETY: kill(2) with a pid of our own child and a valid signal number.
    let rc = unsafe { libc::kill(pid, sig) };
    assert_eq!(rc, 0, "kill({pid}, {sig}): {}", std::io::Error::last_os_error());
}

fn stale_batch() -> LogBatch {
    LogBatch {
        worker_id: "stalled-holder-0".into(),
        ops: vec![Operation::CreateStudy {
            study_name: STALE_STUDY.into(),
            directions: vec![StudyDirection::Minimize],
        }],
    }
}

// ---- children ----

/// Takes the write lock, reports "locked", waits for the go-file, then appends as the storage's
/// write path does (re-reading when someone else appended) and reports what happened; then
/// writes once more through the normal storage API.
fn stalled_holder(env: &ChildEnv) {
    let go = ChildEnv::var(GO_VAR);
    let storage = env.open();
    let backend = storage.backend();
    let mut pos = backend.read_from(0, &mut |_, _| Ok(())).expect("read");
    let guard = backend.lock().expect("lock");
    report("locked");
    while !Path::new(&go).exists() {
        std::thread::sleep(Duration::from_millis(2));
    }
    let outcome = loop {
        match backend.append_if(&guard, pos, &stale_batch()) {
            Ok(AppendOutcome::Moved) => {
                pos = backend.read_from(pos, &mut |_, _| Ok(())).expect("read");
            }
            other => break other,
        }
    };
    match outcome {
        Ok(_) => report("wrote"),
        Err(Error::LockLost { holder, .. }) => report(&format!("lost to {holder}")),
        Err(e) => report(&format!("error {e}")),
    }
    drop(guard);
    storage
        .create_new_study(&[StudyDirection::Minimize], Some("after resuming"))
        .expect("write after resuming");
    mp_common::report_done();
}

/// Holds the lock for 8 half grace periods, appending once per half period under the same guard.
fn long_holder(env: &ChildEnv) {
    let storage = env.open();
    let backend = storage.backend();
    let mut pos = backend.read_from(0, &mut |_, _| Ok(())).expect("read");
    let guard = backend.lock().expect("lock");
    report("locked");
    for i in 0..8 {
        std::thread::sleep(GRACE / 2);
        let batch = LogBatch {
            worker_id: "long-holder-0".into(),
            ops: vec![Operation::CreateStudy {
                study_name: format!("long-{i}"),
                directions: vec![StudyDirection::Minimize],
            }],
        };
        match backend.append_if(&guard, pos, &batch).expect("append while holding the lock") {
            AppendOutcome::Appended { end } => pos = end,
            AppendOutcome::Moved => panic!("someone wrote while we held the lock"),
        }
    }
    drop(guard);
    mp_common::report_done();
}

// ---- tests ----

fn stopped_lease_holder_is_broken_and_fails_its_write(test: &str, kind: LockKind) {
    if let Some(env) = ChildEnv::get() {
        return stalled_holder(&env);
    }
    capture_logs();
    let dir = tempfile::tempdir().expect("tempdir");
    let journal = dir.path().join("stall.journal");
    let go = dir.path().join("go");
    let storage = mp_common::open_storage(&journal, kind, GRACE);
    let study = storage.create_new_study(&[StudyDirection::Minimize], Some("s")).expect("study");

    let mut child = Spawn::new(test, "stalled", &journal, kind)
        .grace(GRACE)
        .var(GO_VAR, &go.display())
        .spawn(format!("stalled holder ({})", mp_common::kind_name(kind)));
    child.expect_line("locked", LINE_TIMEOUT);
    let pid = child.pid();
    signal(pid, libc::SIGSTOP);

    // The next writer waits out the grace period, breaks the lock and writes.
    let start = Instant::now();
    let trial = storage.create_new_trial(study, None).expect("write past a stopped holder");
    let waited = start.elapsed();
    assert!(waited >= GRACE, "broke the lock after {waited:?}, within the grace period");
    let broke: Vec<String> = warnings_about(&lock_path_for(&journal))
        .into_iter()
        .filter(|l| l.starts_with("broke stale lock"))
        .collect();
    assert_eq!(broke.len(), 1, "{broke:?}");
    assert!(broke[0].contains(&format!("pid {pid} on host")), "names the old owner: {}", broke[0]);

    // The stopped holder resumes while we hold the lock: its write must fail, naming us.
    let guard = storage.backend().lock().expect("lock");
    std::fs::File::create(&go).expect("go-file");
    signal(pid, libc::SIGCONT);
    let line = child.next_line(LINE_TIMEOUT).expect("report after resuming");
    assert!(
        line.starts_with("lost to ")
            && line.contains(&format!("pid {} on host", std::process::id())),
        "the resumed holder did not notice it lost the lock: {line:?}"
    );
    drop(guard);
    assert!(child.finish_ok(LINE_TIMEOUT).is_empty());

    let fresh = mp_common::open_storage(&journal, kind, GRACE);
    mp_common::assert_nothing_ignored(&fresh);
    assert!(fresh.get_study_id_from_name(STALE_STUDY).is_err(), "the stale holder wrote");
    fresh.get_study_id_from_name("after resuming").expect("its next write");
    assert_eq!(fresh.get_trial(trial).expect("trial").study_id, study);
}

#[test]
fn stopped_holder_is_broken_and_fails_its_write_open_file() {
    stopped_lease_holder_is_broken_and_fails_its_write(mp_common::test_name!(), LockKind::OpenFile);
}

#[test]
fn stopped_holder_is_broken_and_fails_its_write_symlink() {
    stopped_lease_holder_is_broken_and_fails_its_write(mp_common::test_name!(), LockKind::Symlink);
}

#[test]
fn stopped_advisory_holder_is_never_broken() {
    let test = mp_common::test_name!();
    if let Some(env) = ChildEnv::get() {
        return stalled_holder(&env);
    }
    capture_logs();
    let kind = LockKind::Advisory;
    let dir = tempfile::tempdir().expect("tempdir");
    let journal = dir.path().join("stall.journal");
    let go = dir.path().join("go");
    mp_common::open_storage(&journal, kind, GRACE);
    let mut child = Spawn::new(test, "stalled", &journal, kind)
        .var(GO_VAR, &go.display())
        .spawn("stalled holder (advisory)");
    child.expect_line("locked", LINE_TIMEOUT);
    let pid = child.pid();
    signal(pid, libc::SIGSTOP);

    let wait = 3 * GRACE;
    let options =
        trialog::LockOptions { kind, timeout: Some(wait), ..trialog::LockOptions::default() };
    let lock = trialog::lock::open_lock(&journal, &options).expect("open lock");
    match lock.acquire() {
        Err(Error::LockTimeout { holder, .. }) => {
            assert!(holder.contains(&format!("pid {pid} on host")), "holder: {holder}");
        }
        other => panic!("a stopped advisory holder must keep its lock: {other:?}"),
    }
    std::fs::File::create(&go).expect("go-file");
    signal(pid, libc::SIGCONT);
    assert_eq!(child.next_line(LINE_TIMEOUT).as_deref(), Some("wrote"));
    assert!(child.finish_ok(LINE_TIMEOUT).is_empty());
    let fresh = mp_common::open_storage(&journal, kind, GRACE);
    fresh.get_study_id_from_name(STALE_STUDY).expect("the holder kept its lock and wrote");
    assert!(warnings_about(&lock_path_for(&journal)).is_empty());
}

fn long_live_holder_is_not_broken(test: &str, kind: LockKind) {
    if let Some(env) = ChildEnv::get() {
        return long_holder(&env);
    }
    capture_logs();
    let dir = tempfile::tempdir().expect("tempdir");
    let journal = dir.path().join("long.journal");
    let storage = mp_common::open_storage(&journal, kind, GRACE);
    let study = storage.create_new_study(&[StudyDirection::Minimize], Some("s")).expect("study");
    let mut child = Spawn::new(test, "long", &journal, kind)
        .grace(GRACE)
        .spawn(format!("long holder ({})", mp_common::kind_name(kind)));
    child.expect_line("locked", LINE_TIMEOUT);
    let start = Instant::now();
    storage.create_new_trial(study, None).expect("write after the long holder released");
    let waited = start.elapsed();
    assert!(child.finish_ok(LINE_TIMEOUT).is_empty(), "every append of the holder succeeded");
    // Eight half grace periods of holding (minus the time it took us to start waiting).
    assert!(waited >= 3 * GRACE, "waited only {waited:?}: the live holder was robbed");
    assert!(warnings_about(&lock_path_for(&journal)).is_empty(), "a live lock was broken");
    let fresh = mp_common::open_storage(&journal, kind, GRACE);
    mp_common::assert_nothing_ignored(&fresh);
    for i in 0..8 {
        fresh.get_study_id_from_name(&format!("long-{i}")).expect("holder's append");
    }
    assert_eq!(fresh.get_n_trials(study, None).expect("trials"), 1);
}

#[test]
fn long_live_holder_is_not_broken_open_file() {
    long_live_holder_is_not_broken(mp_common::test_name!(), LockKind::OpenFile);
}

#[test]
fn long_live_holder_is_not_broken_symlink() {
    long_live_holder_is_not_broken(mp_common::test_name!(), LockKind::Symlink);
}
