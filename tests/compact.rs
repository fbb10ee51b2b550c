//! `trialog compact` (issue 12, "Compaction"): a journal of either format rewritten as the
//! shortest log with the same state. Every test compares the whole replayed state before and
//! after (the canonical dump: ids, numbers, states, values, datetimes, parameters with their
//! distributions, attributes, intermediate values), and what the next study and trial get.

mod common;
mod py_common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::{categorical, float, int};
use trialog::backend::AppendOutcome;
use trialog::compact::{CompactOptions, compact};
use trialog::journal::{LogBatch, Operation};
use trialog::{
    AttrValue, Error, FileBackend, HeartbeatOptions, JournalStorage, LogBackend, StudyDirection,
    TrialState,
};

fn dump(path: &Path) -> String {
    py_common::trialog_dump(path)
}

/// Appends raw operations as a foreign writer would (no validation), so that the log holds
/// operations replay ignores.
fn append_raw(path: &Path, ops: Vec<Operation>) {
    let backend = FileBackend::open(path).unwrap();
    let end = backend.read_from(0, &mut |_, _| Ok(())).unwrap();
    let guard = backend.lock().unwrap();
    let batch = LogBatch { worker_id: "foreign-worker".into(), ops };
    assert!(matches!(
        backend.append_if(&guard, end, &batch).unwrap(),
        AppendOutcome::Appended { .. }
    ));
}

/// A trialog journal with every kind of content: three studies (the middle one deleted after
/// its trials, and its name reused), trials in every state (an enqueued WAITING one, a RUNNING
/// one with a heartbeat, a claimed one), overwritten attributes, several objectives, and
/// operations replay ignored.
fn varied_journal(path: &Path) {
    let s = JournalStorage::open(path)
        .unwrap()
        .with_heartbeat(HeartbeatOptions::every(std::time::Duration::from_secs(60)));
    let min = [StudyDirection::Minimize];
    let a = s.create_new_study(&min, Some("a")).unwrap();
    let doomed = s.create_new_study(&min, Some("doomed")).unwrap();
    s.set_study_user_attr(a, "k", AttrValue::from(1i64)).unwrap();
    s.set_study_user_attr(a, "k", AttrValue::from("overwritten")).unwrap();
    s.set_study_system_attr(a, "sys", AttrValue::from(2.5)).unwrap();
    let x = float(-10.0, 10.0);
    let states = [TrialState::Complete, TrialState::Pruned, TrialState::Fail];
    for (i, state) in states.iter().enumerate() {
        for study in [a, doomed] {
            let t = s.create_new_trial(study, None).unwrap();
            s.set_trial_param(t, "x", i as f64, &x).unwrap();
            s.set_trial_param(t, "n", 2.0, &int(0, 10, 2)).unwrap();
            s.set_trial_param(t, "c", 1.0, &categorical(&["p", "q"])).unwrap();
            s.set_trial_intermediate_value(t, 0, 1.5).unwrap();
            s.set_trial_intermediate_value(t, 1, f64::NAN).unwrap();
            s.set_trial_user_attr(t, "u", AttrValue::from(i as i64)).unwrap();
            s.set_trial_system_attr(t, "s", AttrValue::from("sys")).unwrap();
            let value = [i as f64];
            let values = (*state != TrialState::Fail).then_some(&value[..]);
            s.set_trial_state_values(t, *state, values).unwrap();
        }
    }
    s.delete_study(doomed).unwrap();
    let reused = s.create_new_study(&min, Some("doomed")).unwrap();
    let multi = s
        .create_new_study(&[StudyDirection::Minimize, StudyDirection::Maximize], Some("multi"))
        .unwrap();
    let t = s.create_new_trial(multi, None).unwrap();
    s.set_trial_state_values(t, TrialState::Complete, Some(&[1.0, f64::INFINITY])).unwrap();
    // An enqueued trial that stays WAITING, one that was claimed and runs, one RUNNING with a
    // heartbeat.
    let mut template = trialog::FrozenTrial::new(0, 0, 0, TrialState::Waiting);
    template.user_attrs = [("enqueued".to_owned(), AttrValue::from(true))].into_iter().collect();
    let waiting = s.create_new_trial(a, Some(&template)).unwrap();
    let claimed = s.create_new_trial(a, Some(&template)).unwrap();
    assert!(s.set_trial_state_values(claimed, TrialState::Running, None).unwrap());
    let running = s.create_new_trial(reused, None).unwrap();
    s.record_heartbeat(running).unwrap();
    // What a foreign writer wrote and replay ignores: a duplicate study name, an update of a
    // finished trial, a second claim, Rustuna's discard, an unknown study.
    append_raw(
        path,
        vec![
            Operation::CreateStudy { study_name: "a".into(), directions: min.to_vec() },
            Operation::SetTrialUserAttr { trial_id: 0, key: "late".into(), value: 1i64.into() },
            Operation::SetTrialStateValues {
                trial_id: claimed,
                state: TrialState::Running,
                values: None,
                datetime: None,
            },
            Operation::DiscardTrials { trial_ids: vec![waiting] },
            Operation::DeleteStudy { study_id: 99 },
        ],
    );
}

/// The ids the next study and trial get, and the trial's number (the journal is changed).
fn next_ids(path: &Path) -> (u64, u64, u64) {
    let s = JournalStorage::open(path).unwrap();
    let study = s.create_new_study(&[StudyDirection::Minimize], Some("probe")).unwrap();
    let trial = s.create_new_trial(study, None).unwrap();
    (study, trial, s.get_trial_number_from_id(trial).unwrap())
}

fn copy_of(path: &Path, name: &str) -> PathBuf {
    let copy = path.with_file_name(name);
    std::fs::copy(path, &copy).unwrap();
    copy
}

#[test]
fn a_varied_journal_compacts_to_the_same_state_ids_and_workers() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("varied.journal");
    varied_journal(&path);
    let before = dump(&path);
    let workers = |p: &Path| {
        let s = JournalStorage::open(p).unwrap();
        let ids: Vec<u64> = s.get_all_studies().unwrap().iter().map(|st| st.study_id).collect();
        let workers: Vec<_> = ids.iter().map(|id| s.trial_workers(*id).unwrap()).collect();
        let beats: Vec<_> = (0..20).map(|t| s.read(|r| Ok(r.last_heartbeat(t))).unwrap()).collect();
        (workers, beats)
    };
    let workers_before = workers(&path);
    let original = copy_of(&path, "original.journal");
    let size = std::fs::metadata(&path).unwrap().len();

    let done = compact(&path, &CompactOptions::default()).unwrap();
    assert_eq!(done.bytes_before, size);
    assert_eq!(done.bytes_after, std::fs::metadata(&path).unwrap().len());
    assert!(done.bytes_after < size / 2, "{done:?}");
    assert_eq!((done.studies, done.deleted_studies, done.trials), (3, 1, 10), "{done:?}");
    assert_eq!(dump(&path), before, "the compacted journal replays to another state");
    assert_eq!(workers(&path), workers_before);
    assert!(workers_before.1.iter().any(Option::is_some), "the heartbeat was recorded");

    // Compacting again changes nothing.
    let once = std::fs::read(&path).unwrap();
    compact(&path, &CompactOptions::default()).unwrap();
    assert_eq!(std::fs::read(&path).unwrap(), once);
    // The next study and trial get the ids they get in the original (deleted study and its
    // trials counted).
    let next = next_ids(&path);
    assert_eq!(next, next_ids(&original));
    assert_eq!(next.0, 4, "studies a, doomed (deleted), doomed again, multi came before");
}

/// Windows refuses to replace a file that any handle has open: compacting a journal another
/// handle holds fails with `JournalInUse`, changes nothing and leaves nothing behind, and works
/// once the handle is closed (the compactor closes its own handles before the rename).
#[cfg(windows)]
#[test]
fn compacting_needs_the_journal_closed_on_windows() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("open.journal");
    varied_journal(&path);
    let before = dump(&path);
    let names = || common::names_in(dir.path());
    let reader = JournalStorage::open(&path).unwrap();
    let bytes = std::fs::read(&path).unwrap();
    let files = names();
    match compact(&path, &CompactOptions::default()) {
        Err(e @ Error::JournalInUse { .. }) => {
            let text = e.to_string();
            assert!(text.contains(&path.display().to_string()), "{text}");
            assert!(text.contains("trialog compact"), "{text}");
        }
        other => panic!("replaced a journal another handle has open: {other:?}"),
    }
    assert_eq!(std::fs::read(&path).unwrap(), bytes, "the journal changed");
    assert_eq!(names(), files, "a file was left behind or removed");
    drop(reader);
    compact(&path, &CompactOptions::default()).unwrap();
    assert_eq!(dump(&path), before);
}

#[test]
fn the_cli_compacts_and_reports_sizes() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("w1.journal");
    let out = py_common::trialog(&[
        "bench",
        "w2-build",
        "--n",
        "1000",
        "--journal",
        path.to_str().unwrap(),
        "--seed",
        "3",
    ]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let before = dump(&path);
    let size = std::fs::metadata(&path).unwrap().len();
    let text =
        py_common::run_ok(Command::new(env!("CARGO_BIN_EXE_trialog")).arg("compact").arg(&path));
    let after = std::fs::metadata(&path).unwrap().len();
    assert!(text.contains(&format!("bytes_before: {size}\n")), "{text}");
    assert!(text.contains(&format!("bytes_after: {after}\n")), "{text}");
    assert!(text.contains("operations_before: 5001\n"), "{text}");
    // The W1 shape (5 operations per trial) compacts to at most 40% of its size.
    assert!(after * 10 <= size * 4, "{after} of {size} bytes: {text}");
    assert_eq!(dump(&path), before);
}

#[test]
fn a_corrupt_journal_is_refused_and_left_unchanged() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.journal");
    varied_journal(&path);
    let mut bytes = std::fs::read(&path).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x5a;
    std::fs::write(&path, &bytes).unwrap();
    match compact(&path, &CompactOptions::default()) {
        Err(Error::Corruption { path: p, .. }) => assert_eq!(p, path),
        other => panic!("compacted a corrupt journal: {other:?}"),
    }
    assert_eq!(std::fs::read(&path).unwrap(), bytes);
    let leftovers: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
    assert_eq!(leftovers.len(), 1 + usize::from(path.with_extension("journal.lock").exists()));
}

#[test]
fn an_empty_file_has_nothing_to_compact() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("empty");
    std::fs::write(&path, b"").unwrap();
    let done = compact(&path, &CompactOptions::default()).unwrap();
    assert_eq!((done.format, done.bytes_after), (None, 0));
    assert_eq!(std::fs::read(&path).unwrap(), b"");
}

/// The Optuna journal Python writes with every op code (a deleted study whose name is reused,
/// ignored lines, legacy distributions, WAITING and RUNNING trials), compacted: Optuna replays
/// the new file to the same dump, returns the same trial for every id (deleted studies' trials
/// too), and gives the next study and trial the same ids.
#[test]
fn an_optuna_journal_compacts_to_a_file_optuna_replays_the_same() {
    if !py_common::have_optuna("an_optuna_journal_compacts_to_a_file_optuna_replays_the_same") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("coverage.log");
    py_common::run_ok(&mut py_common::python("write_coverage.py", &[path.to_str().unwrap()]));
    let before = py_common::assert_same_state(&path);
    let original = copy_of(&path, "original.log");
    let done = compact(&path, &CompactOptions::default()).unwrap();
    assert_eq!(done.format, Some(trialog::JournalFormat::Optuna));
    assert!(done.deleted_studies >= 1 && done.operations_after < done.operations_before);
    assert_eq!(py_common::assert_same_state(&path), before);
    // trialog gives the next study and trial the same ids in both files.
    let next = |p: &Path| {
        let copy = copy_of(p, "copy.log");
        let s = JournalStorage::open_optuna(&copy).unwrap();
        let study = s.create_new_study(&[StudyDirection::Minimize], Some("probe")).unwrap();
        let trial = s.create_new_trial(study, None).unwrap();
        (study, trial, s.get_trial_number_from_id(trial).unwrap())
    };
    assert_eq!(next(&path), next(&original));
    // So does Optuna, which also returns the same trial for every id (deleted studies' too).
    let probe = |p: &Path| {
        py_common::run_ok(&mut py_common::python("compact_probe.py", &[p.to_str().unwrap()]))
    };
    assert_eq!(probe(&path), probe(&original));
}
