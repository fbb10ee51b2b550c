//! Invariant: a WAITING trial is claimed (WAITING -> RUNNING) by exactly one worker process.
//! Four processes released together by a go-file race for one enqueued trial: exactly one
//! `set_trial_state_values(id, Running, None)` returns `true`, the others return `false` and
//! write nothing, and the trial is RUNNING afterwards. Then four processes pop twenty enqueued
//! trials in a loop: every trial is claimed exactly once in total. Run under each lock kind.

mod mp_common;

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use mp_common::{ChildEnv, ChildProc, Spawn, report};
use trialog::{JournalStorage, LockKind, StudyDirection, TrialState};

const PROCESSES: u64 = 4;
const QUEUED: u64 = 20;
const STUDY: &str = "multiprocess-claim";
const GO_VAR: &str = "TRIALOG_MP_GO";
const GRACE: Duration = Duration::from_secs(2);

#[test]
fn one_waiting_trial_is_claimed_by_exactly_one_of_four_processes_advisory() {
    claim_one(mp_common::test_name!(), LockKind::Advisory);
}

#[test]
fn one_waiting_trial_is_claimed_by_exactly_one_of_four_processes_open_file() {
    claim_one(mp_common::test_name!(), LockKind::OpenFile);
}

// The symlink lock needs symbolic links, which Windows creates only with a privilege (and Wine
// not at all): there it fails with Error::SymlinkLockUnavailable (src/lock/symlink.rs).
#[cfg(unix)]
#[test]
fn one_waiting_trial_is_claimed_by_exactly_one_of_four_processes_symlink() {
    claim_one(mp_common::test_name!(), LockKind::Symlink);
}

#[test]
fn twenty_waiting_trials_popped_by_four_processes_are_each_claimed_once_advisory() {
    pop_queue(mp_common::test_name!(), LockKind::Advisory);
}

#[test]
fn twenty_waiting_trials_popped_by_four_processes_are_each_claimed_once_open_file() {
    pop_queue(mp_common::test_name!(), LockKind::OpenFile);
}

// The symlink lock needs symbolic links, which Windows creates only with a privilege (and Wine
// not at all): there it fails with Error::SymlinkLockUnavailable (src/lock/symlink.rs).
#[cfg(unix)]
#[test]
fn twenty_waiting_trials_popped_by_four_processes_are_each_claimed_once_symlink() {
    pop_queue(mp_common::test_name!(), LockKind::Symlink);
}

/// Parent: a journal with the study and `n` enqueued WAITING trials.
fn enqueue(journal: &Path, kind: LockKind, n: u64) {
    let storage = mp_common::open_storage(journal, kind, GRACE);
    let study =
        storage.create_new_study(&[StudyDirection::Minimize], Some(STUDY)).expect("create study");
    let template = mp_common::waiting_template(study);
    for _ in 0..n {
        let id = storage.create_new_trial(study, Some(&template)).expect("enqueue");
        let state = storage.get_trial(id).expect("get_trial").state;
        assert_eq!(state, TrialState::Waiting, "enqueued trial {id}");
    }
}

/// Child: opens the journal, reports "ready", waits for the go-file.
fn open_and_wait(env: &ChildEnv) -> (JournalStorage, u64) {
    let storage = env.open();
    let study = storage.get_study_id_from_name(STUDY).expect("study");
    report("ready");
    let go = ChildEnv::var(GO_VAR);
    while !Path::new(&go).exists() {
        std::thread::sleep(Duration::from_millis(1));
    }
    (storage, study)
}

/// Parent: spawns the claimers, releases them together, returns their report lines.
fn race(test: &str, role: &str, journal: &Path, kind: LockKind) -> Vec<Vec<String>> {
    let go = journal.with_file_name("go");
    let mut children: Vec<ChildProc> = (0..PROCESSES)
        .map(|c| {
            Spawn::new(test, role, journal, kind)
                .grace(GRACE)
                .var(GO_VAR, &go.display())
                .spawn(format!("claimer {c} ({})", mp_common::kind_name(kind)))
        })
        .collect();
    for child in &mut children {
        child.expect_line("ready", Duration::from_secs(60));
    }
    std::fs::File::create(&go).expect("create go-file");
    mp_common::finish_all(&mut children, mp_common::CHILD_DEADLINE)
}

fn claim_one(test: &str, kind: LockKind) {
    if let Some(env) = ChildEnv::get() {
        let (storage, study) = open_and_wait(&env);
        let trials = storage.get_all_trials(study, None).expect("get_all_trials");
        let [trial] = trials.as_slice() else { panic!("expected one trial, got {trials:?}") };
        let won = storage
            .set_trial_state_values(trial.trial_id, TrialState::Running, None)
            .expect("claim");
        report(&format!("claim {won}"));
        return mp_common::report_done();
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let journal = dir.path().join("study.journal");
    enqueue(&journal, kind, 1);
    let reports = race(test, "claim-one", &journal, kind);

    let outcomes: Vec<&str> = reports.iter().flatten().map(String::as_str).collect();
    assert_eq!(outcomes.len() as u64, PROCESSES, "one claim report per process: {outcomes:?}");
    let winners = outcomes.iter().filter(|&&o| o == "claim true").count();
    assert_eq!(winners, 1, "claims returning true: {outcomes:?}");
    assert!(outcomes.iter().all(|&o| o == "claim true" || o == "claim false"), "{outcomes:?}");

    let storage = mp_common::open_storage(&journal, kind, GRACE);
    mp_common::assert_nothing_ignored(&storage);
    let study = storage.get_study_id_from_name(STUDY).expect("study");
    let trials = storage.get_all_trials(study, None).expect("get_all_trials");
    assert_eq!(trials.len(), 1);
    assert_eq!(trials[0].state, TrialState::Running, "the claimed trial");
    assert!(trials[0].datetime_start.is_some(), "a claimed trial has a start time");
    // Create study, enqueue, one claim: the losing claims wrote nothing.
    let applied = storage.read(|s| Ok(s.stats().applied)).expect("stats");
    assert_eq!(applied, 3, "operations in the journal");
}

fn pop_queue(test: &str, kind: LockKind) {
    if let Some(env) = ChildEnv::get() {
        let (storage, study) = open_and_wait(&env);
        loop {
            let waiting =
                storage.get_all_trials(study, Some(&[TrialState::Waiting])).expect("waiting");
            if waiting.is_empty() {
                break;
            }
            for trial in waiting {
                let id = trial.trial_id;
                if storage.set_trial_state_values(id, TrialState::Running, None).expect("claim") {
                    report(&format!("claimed {id}"));
                }
            }
        }
        return mp_common::report_done();
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let journal = dir.path().join("study.journal");
    enqueue(&journal, kind, QUEUED);
    let reports = race(test, "pop-queue", &journal, kind);

    // Trial id -> the processes that claimed it.
    let mut claims: BTreeMap<u64, Vec<usize>> = BTreeMap::new();
    for (c, lines) in reports.iter().enumerate() {
        for line in lines {
            let id = line.strip_prefix("claimed ").expect("`claimed <id>` report");
            claims.entry(id.parse().expect("trial id")).or_default().push(c);
        }
    }
    println!("claims per trial (by process): {claims:?}");
    let storage = mp_common::open_storage(&journal, kind, GRACE);
    mp_common::assert_nothing_ignored(&storage);
    let study = storage.get_study_id_from_name(STUDY).expect("study");
    let trials = storage.get_all_trials(study, None).expect("get_all_trials");
    assert_eq!(trials.len() as u64, QUEUED);
    for t in &trials {
        let claimers = claims.get(&t.trial_id).map_or(&[][..], Vec::as_slice);
        assert_eq!(claimers.len(), 1, "trial {} claimed by processes {claimers:?}", t.trial_id);
        assert_eq!(t.state, TrialState::Running, "trial {}", t.trial_id);
    }
    assert_eq!(claims.len() as u64, QUEUED, "claims of unknown trials: {claims:?}");
    // Create study, enqueue each, claim each once: the losing claims wrote nothing.
    let applied = storage.read(|s| Ok(s.stats().applied)).expect("stats");
    assert_eq!(applied, 1 + 2 * QUEUED, "operations in the journal");
}
