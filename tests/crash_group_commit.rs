//! Group commit (cargo feature `fault-injection`, which can hold the journal's `fdatasync`).
//!
//! Invariants: the write calls of one handle's threads that queue while a group is being synced
//! go together as the next group, validated in arrival order (each sees the ones before it: two
//! claims of one WAITING trial, one wins) and written with one write and one `fdatasync`; no
//! caller returns before that `fdatasync` did; readers of the handle answer while it runs and
//! never see the group before it is durable; a failed `fdatasync` fails every caller of the group
//! with `Poisoned`, and the handle then refuses every call, so no operation of the group is ever
//! seen through it. Both journal formats.
#![cfg(feature = "fault-injection")]

use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use trialog::backend::fault::{Action, FaultInjector, IoEvent, IoOp, Rule};
use trialog::{
    Error, FileBackend, FileOptions, FrozenTrial, JournalStorage, LogBackend, OptunaFileOptions,
    OptunaJournalFile, StudyDirection, TrialState,
};

/// Waits (a liveness check, not a timing claim) until `ready` holds.
fn wait_for(what: &str, ready: impl Fn() -> bool) {
    let start = Instant::now();
    while !ready() {
        assert!(start.elapsed() < Duration::from_secs(60), "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// Runs `read` on another thread and fails the test if it does not return within a minute: a
/// reader that waited for the held `fdatasync` would never return.
fn without_waiting<T: Send + 'static>(read: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || tx.send(read()).unwrap());
    rx.recv_timeout(Duration::from_secs(60)).expect("a reader waited for a writer's fdatasync")
}

fn trialog_file(path: &Path, faults: &Arc<FaultInjector>) -> JournalStorage<FileBackend> {
    let b = FileBackend::open_with_faults(path, &FileOptions::default(), faults.clone()).unwrap();
    JournalStorage::new(b).unwrap()
}

fn optuna_file(path: &Path, faults: &Arc<FaultInjector>) -> JournalStorage<OptunaJournalFile> {
    let b =
        OptunaJournalFile::open_with_faults(path, &OptunaFileOptions::default(), faults.clone())
            .unwrap();
    JournalStorage::new(b).unwrap()
}

fn waiting_template(study_id: u64) -> FrozenTrial {
    FrozenTrial::new(0, 0, study_id, TrialState::Waiting)
}

/// A study with one WAITING trial and one COMPLETE one, written before the test holds syncs.
fn setup<B: LogBackend>(s: &JournalStorage<B>) -> (u64, u64, u64) {
    let study = s.create_new_study(&[StudyDirection::Minimize], Some("g")).unwrap();
    let waiting = s.create_new_trial(study, Some(&waiting_template(study))).unwrap();
    let done = s.create_new_trial(study, None).unwrap();
    s.set_trial_state_values(done, TrialState::Complete, Some(&[1.0])).unwrap();
    (study, waiting, done)
}

fn syncs(faults: &FaultInjector) -> usize {
    faults.trace().iter().filter(|e| matches!(e, IoEvent::Sync { .. })).count()
}

/// What one member of the group did.
#[derive(Debug, PartialEq)]
enum Did {
    Claimed(bool),
    Study(Result<u64, String>),
    Finished(String),
}

/// One caller's call.
type Member<B> = Box<dyn FnOnce(&JournalStorage<B>) -> Did + Send>;

fn one_fsync_for_a_group<B: LogBackend + 'static>(
    s: JournalStorage<B>,
    faults: Arc<FaultInjector>,
) {
    let s = Arc::new(s);
    let (study, waiting, done) = setup(&s);
    faults.record();
    faults.hold(IoOp::Sync);
    // Group 1: one write, held in its fdatasync.
    let first = {
        let s = s.clone();
        std::thread::spawn(move || s.set_study_user_attr(study, "first", 1i64.into()))
    };
    wait_for("the first group's fdatasync", || faults.waiting() == 1);
    // Group 2 forms behind it: three claims of one WAITING trial, two studies of one name, an
    // update of a finished trial.
    let returned = Arc::new(AtomicUsize::new(0));
    let members: Vec<Member<B>> = vec![
        Box::new(move |s| {
            Did::Claimed(s.set_trial_state_values(waiting, TrialState::Running, None).unwrap())
        }),
        Box::new(move |s| {
            Did::Claimed(s.set_trial_state_values(waiting, TrialState::Running, None).unwrap())
        }),
        Box::new(move |s| {
            Did::Claimed(s.set_trial_state_values(waiting, TrialState::Running, None).unwrap())
        }),
        Box::new(|s| {
            Did::Study(
                s.create_new_study(&[StudyDirection::Maximize], Some("twin"))
                    .map_err(|e| e.to_string()),
            )
        }),
        Box::new(|s| {
            Did::Study(
                s.create_new_study(&[StudyDirection::Maximize], Some("twin"))
                    .map_err(|e| e.to_string()),
            )
        }),
        Box::new(move |s| match s.set_trial_intermediate_value(done, 1, 0.5) {
            Err(e @ Error::TrialFinished { .. }) => Did::Finished(e.to_string()),
            other => panic!("update of a finished trial: {other:?}"),
        }),
    ];
    let n = members.len();
    let threads: Vec<_> = members
        .into_iter()
        .map(|member| {
            let (s, returned) = (s.clone(), returned.clone());
            std::thread::spawn(move || {
                let did = member(&s);
                returned.fetch_add(1, Ordering::SeqCst);
                did
            })
        })
        .collect();
    wait_for("the second group to queue", || s.queued_writes() == n);
    assert_eq!(returned.load(Ordering::SeqCst), 0);
    let syncs_before = syncs(&faults);
    faults.let_one_through(); // group 1's fdatasync
    first.join().unwrap().unwrap();
    wait_for("the second group's fdatasync", || faults.waiting() == 1);
    // Every member is in the group being synced, and none has returned: no caller is answered
    // before the fdatasync of its bytes.
    assert_eq!(s.queued_writes(), 0);
    assert_eq!(returned.load(Ordering::SeqCst), 0, "a caller returned before its fdatasync");
    let writes_of_group = faults.trace().len();
    faults.release(IoOp::Sync);
    let did: Vec<Did> = threads.into_iter().map(|t| t.join().unwrap()).collect();
    assert_eq!(syncs(&faults), syncs_before + 2, "group 1 and group 2: one fdatasync each");
    let group_writes = faults.trace()[..writes_of_group]
        .iter()
        .rev()
        .take_while(|e| !matches!(e, IoEvent::Sync { .. }))
        .filter(|e| matches!(e, IoEvent::Write { .. }))
        .count();
    assert_eq!(group_writes, 1, "the group's records went out in one write");
    let claims: Vec<bool> =
        did.iter().filter_map(|d| if let Did::Claimed(c) = d { Some(*c) } else { None }).collect();
    assert_eq!(claims.iter().filter(|c| **c).count(), 1, "exactly one claim wins: {did:?}");
    let studies: Vec<&Result<u64, String>> =
        did.iter().filter_map(|d| if let Did::Study(r) = d { Some(r) } else { None }).collect();
    assert_eq!(studies.iter().filter(|r| r.is_ok()).count(), 1, "{did:?}");
    assert!(studies.iter().any(|r| r.as_ref().is_err_and(|e| e.contains("already exists"))));
    assert!(did.iter().any(|d| matches!(d, Did::Finished(_))));
    // What the handle answers is what a fresh replay of the file holds.
    let trial = s.get_trial(waiting).unwrap();
    assert_eq!(trial.state, TrialState::Running);
    assert_eq!(s.get_all_studies().unwrap().len(), 2);
}

#[test]
fn a_group_shares_one_fdatasync_and_each_member_gets_its_own_answer() {
    let dir = tempfile::tempdir().unwrap();
    let faults = FaultInjector::new();
    one_fsync_for_a_group(trialog_file(&dir.path().join("j"), &faults), faults);
    let faults = FaultInjector::new();
    one_fsync_for_a_group(optuna_file(&dir.path().join("o.log"), &faults), faults);
}

fn readers_never_wait_nor_see_unsynced<B: LogBackend + 'static>(
    s: JournalStorage<B>,
    faults: Arc<FaultInjector>,
) {
    let s = Arc::new(s);
    let (study, waiting, _) = setup(&s);
    faults.hold(IoOp::Sync);
    let writer = {
        let s = s.clone();
        std::thread::spawn(move || {
            assert!(s.set_trial_state_values(waiting, TrialState::Running, None).unwrap());
            s.set_study_user_attr(study, "k", "v".into())
        })
    };
    wait_for("the claim's fdatasync", || faults.waiting() == 1);
    // The claim is written, not durable: readers of the handle answer at once, without it.
    let seen = {
        let s = s.clone();
        without_waiting(move || {
            (s.get_trial(waiting).unwrap().state, s.get_all_trials(study, None).unwrap().len())
        })
    };
    assert_eq!(seen, (TrialState::Waiting, 2));
    let claim_again = {
        let s = s.clone();
        std::thread::spawn(move || s.set_trial_state_values(waiting, TrialState::Running, None))
    };
    faults.let_one_through();
    // The second writer's claim is validated on the log with the first claim: it loses.
    wait_for("the next fdatasync", || faults.waiting() == 1);
    let seen = {
        let s = s.clone();
        without_waiting(move || {
            (s.get_trial(waiting).unwrap().state, s.get_study_user_attrs(study).unwrap().len())
        })
    };
    assert_eq!(seen, (TrialState::Running, 0), "the claim is durable now; the attribute is not");
    faults.release(IoOp::Sync);
    writer.join().unwrap().unwrap();
    assert!(!claim_again.join().unwrap().unwrap(), "a claim of a RUNNING trial loses");
    assert_eq!(s.get_study_user_attrs(study).unwrap().len(), 1);
}

#[test]
fn readers_answer_while_a_group_syncs_and_never_see_it_before_it_is_durable() {
    let dir = tempfile::tempdir().unwrap();
    let faults = FaultInjector::new();
    readers_never_wait_nor_see_unsynced(trialog_file(&dir.path().join("j"), &faults), faults);
    let faults = FaultInjector::new();
    readers_never_wait_nor_see_unsynced(optuna_file(&dir.path().join("o.log"), &faults), faults);
}

fn failed_fsync_fails_the_group<B: LogBackend + 'static>(
    s: JournalStorage<B>,
    faults: Arc<FaultInjector>,
) {
    let s = Arc::new(s);
    let (study, waiting, _) = setup(&s);
    faults.hold(IoOp::Sync);
    let first = {
        let s = s.clone();
        std::thread::spawn(move || s.set_study_user_attr(study, "first", 1i64.into()))
    };
    wait_for("the first group's fdatasync", || faults.waiting() == 1);
    let n = 5;
    let start = Arc::new(Barrier::new(n));
    let members: Vec<_> = (0..n)
        .map(|i| {
            let (s, start) = (s.clone(), start.clone());
            std::thread::spawn(move || {
                start.wait();
                if i == 0 {
                    s.set_trial_state_values(waiting, TrialState::Running, None).map(drop)
                } else {
                    s.set_study_user_attr(study, &format!("m{i}"), (i as i64).into())
                }
            })
        })
        .collect();
    wait_for("the group to queue", || s.queued_writes() == n);
    faults.let_one_through();
    first.join().unwrap().unwrap();
    wait_for("the group's fdatasync", || faults.waiting() == 1);
    let seen = {
        let s = s.clone();
        without_waiting(move || {
            (s.get_trial(waiting).unwrap().state, s.get_study_user_attrs(study).unwrap())
        })
    };
    assert_eq!(seen.0, TrialState::Waiting);
    assert_eq!(seen.1.keys().collect::<Vec<_>>(), ["first"]);
    faults.add(Rule::new(IoOp::Sync, Action::Fail(libc::EIO)).once());
    faults.release(IoOp::Sync);
    for m in members {
        match m.join().unwrap() {
            Err(Error::Poisoned { op: "fsync", source, .. }) => {
                assert_eq!(source.raw_os_error(), Some(libc::EIO));
            }
            other => panic!("a member of a group whose fdatasync failed got {other:?}"),
        }
    }
    // The handle refuses every later call, reads included: nothing of the group is ever seen.
    assert!(matches!(s.get_trial(waiting), Err(Error::Poisoned { .. })));
    assert!(matches!(s.get_study_user_attrs(study), Err(Error::Poisoned { .. })));
    assert!(matches!(
        s.set_study_user_attr(study, "after", 0i64.into()),
        Err(Error::Poisoned { .. })
    ));
}

#[test]
fn a_failed_fsync_fails_every_member_of_its_group_and_none_of_them_is_ever_seen() {
    let dir = tempfile::tempdir().unwrap();
    let faults = FaultInjector::new();
    failed_fsync_fails_the_group(trialog_file(&dir.path().join("j"), &faults), faults);
    let faults = FaultInjector::new();
    failed_fsync_fails_the_group(optuna_file(&dir.path().join("o.log"), &faults), faults);
}
