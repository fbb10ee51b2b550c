//! The recovery modes on Optuna JSON-lines journals (`docs/RECOVERY.md`, "Optuna journals"): a
//! complete line that does not decode is an error naming its offset by default, the end of
//! replay in point-in-time mode and a skipped line in skip-any-corrupted mode; handles that
//! stopped or skipped refuse to write; absolute-consistency refuses to drop a torn last line;
//! an unknown operation code is an error in every mode.

use std::path::Path;

use trialog::{
    AttrValue, Error, JournalStorage, OptunaFileOptions, OptunaJournalFile, RecoveryMode,
    StudyDirection, TrialState,
};

fn open(path: &Path, recovery: RecoveryMode) -> trialog::Result<JournalStorage<OptunaJournalFile>> {
    let options = OptunaFileOptions { recovery, ..OptunaFileOptions::default() };
    JournalStorage::open_optuna_with(path, &options)
}

/// A journal of a study with three trials, each line one operation; returns the byte offset of
/// every line.
fn write_journal(path: &Path) -> Vec<u64> {
    let storage = open(path, RecoveryMode::default()).unwrap();
    let study = storage.create_new_study(&[StudyDirection::Minimize], Some("s")).unwrap();
    for i in 0..3 {
        let t = storage.create_new_trial(study, None).unwrap();
        storage.set_trial_user_attr(t, "i", AttrValue::Int(i)).unwrap();
        storage.set_trial_state_values(t, TrialState::Complete, Some(&[i as f64])).unwrap();
    }
    let bytes = std::fs::read(path).unwrap();
    let mut offsets = vec![0];
    offsets
        .extend(bytes.iter().enumerate().filter(|(_, b)| **b == b'\n').map(|(i, _)| i as u64 + 1));
    offsets.pop(); // the end of the file
    offsets
}

/// Replaces line `n` with `replacement` (same length, so later offsets stay put).
fn damage_line(path: &Path, offsets: &[u64], n: usize, replacement: u8) {
    let mut bytes = std::fs::read(path).unwrap();
    let start = offsets[n] as usize;
    let end = offsets[n + 1] as usize - 1; // keep the newline
    for b in &mut bytes[start..end] {
        *b = replacement;
    }
    std::fs::write(path, bytes).unwrap();
}

fn user_attr_values(storage: &JournalStorage<OptunaJournalFile>) -> Vec<Option<AttrValue>> {
    let study = storage.get_study_id_from_name("s").unwrap();
    let trials = storage.get_all_trials(study, None).unwrap();
    trials.iter().map(|t| t.user_attrs.get("i").cloned()).collect()
}

#[test]
fn a_bad_middle_line_in_each_mode() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("j.log");
    let offsets = write_journal(&path);
    // Line 5 is the second trial's user attribute ("i" = 1).
    damage_line(&path, &offsets, 5, b'#');
    let bad = offsets[5];
    let before = std::fs::read(&path).unwrap();

    for mode in [RecoveryMode::TolerateCorruptedTail, RecoveryMode::AbsoluteConsistency] {
        match open(&path, mode) {
            Err(Error::Corruption { offset, .. }) => assert_eq!(offset, bad, "{mode}"),
            other => panic!("{mode}: {other:?}"),
        }
    }

    let stopped = open(&path, RecoveryMode::PointInTime).unwrap();
    assert_eq!(stopped.recovery_report().stopped_at, Some(bad));
    // Replay ends before the bad line: trial 1 exists (created on line 4), without the attr,
    // and trial 2 does not.
    assert_eq!(user_attr_values(&stopped), vec![Some(AttrValue::Int(0)), None]);
    let study = stopped.get_study_id_from_name("s").unwrap();
    match stopped.create_new_trial(study, None) {
        Err(Error::Corruption { offset, .. }) => assert_eq!(offset, bad),
        other => panic!("a stopped handle wrote: {other:?}"),
    }

    let salvage = open(&path, RecoveryMode::SkipAnyCorrupted).unwrap();
    let report = salvage.recovery_report();
    assert_eq!(report.skipped.len(), 1);
    assert_eq!((report.skipped[0].offset, report.skipped[0].len), (bad, offsets[6] - bad));
    assert_eq!(
        user_attr_values(&salvage),
        vec![Some(AttrValue::Int(0)), None, Some(AttrValue::Int(2))],
        "only the bad line is missing"
    );
    assert!(matches!(
        salvage.set_study_user_attr(study, "k", AttrValue::Null),
        Err(Error::Corruption { .. })
    ));
    assert_eq!(std::fs::read(&path).unwrap(), before, "no mode wrote to the damaged journal");
}

#[test]
fn an_unknown_operation_code_is_an_error_in_every_mode() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("j.log");
    write_journal(&path);
    let mut text = std::fs::read_to_string(&path).unwrap();
    text.push_str("{\"op_code\": 50, \"worker_id\": \"w\"}\n");
    std::fs::write(&path, &text).unwrap();
    for mode in RecoveryMode::ALL {
        match open(&path, mode) {
            Err(Error::UnknownOperation { code: 50, .. }) => {}
            other => panic!("{mode}: {other:?}"),
        }
    }
}

#[test]
fn a_torn_last_line_is_dropped_by_a_writer_except_in_absolute_consistency() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("j.log");
    write_journal(&path);
    let clean = std::fs::read(&path).unwrap();
    let mut torn = clean.clone();
    torn.extend_from_slice(b"{\"op_code\": 2, \"worker_id\": \"w\", \"stu");
    std::fs::write(&path, &torn).unwrap();

    let strict = open(&path, RecoveryMode::AbsoluteConsistency).unwrap();
    assert_eq!(user_attr_values(&strict).len(), 3, "a torn last line is not read");
    match strict.set_study_user_attr(0, "k", AttrValue::Null) {
        Err(Error::Corruption { offset, .. }) => assert_eq!(offset, clean.len() as u64),
        other => panic!("absolute-consistency dropped a torn line: {other:?}"),
    }
    assert_eq!(std::fs::read(&path).unwrap(), torn);

    let tolerant = open(&path, RecoveryMode::TolerateCorruptedTail).unwrap();
    tolerant.set_study_user_attr(0, "k", AttrValue::Null).unwrap();
    let after = std::fs::read(&path).unwrap();
    assert_eq!(after[..clean.len()], clean[..], "the acknowledged lines are intact");
    assert!(after.ends_with(b"\n"));
    assert_eq!(
        open(&path, RecoveryMode::AbsoluteConsistency)
            .unwrap()
            .get_study_user_attrs(0)
            .unwrap()
            .len(),
        1
    );
}
