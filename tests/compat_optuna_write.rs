//! Journals trialog writes in Optuna's format load in Python Optuna to exactly trialog's state
//! (same canonical dump), and Python Optuna can go on writing them. Needs Python Optuna for the
//! comparison (see `py_common`).

mod py_common;

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use py_common::*;
use trialog::backend::OptunaJournalFile;
use trialog::{
    AttrValue, Distribution, FrozenTrial, JournalStorage, ParamValue, StudyDirection, Timestamp,
    TrialState,
};

fn choices() -> Distribution {
    Distribution::categorical(vec![
        ParamValue::Null,
        ParamValue::Bool(false),
        ParamValue::Int(7),
        ParamValue::Float(0.5),
        ParamValue::Str("ü \"q\" \\ 😀".into()),
    ])
    .unwrap()
}

fn nested() -> AttrValue {
    AttrValue::Map(BTreeMap::from([
        ("list".to_owned(), AttrValue::Array(vec![AttrValue::Int(1), AttrValue::Float(1.0)])),
        ("inf".to_owned(), AttrValue::Float(f64::NEG_INFINITY)),
        ("deep".to_owned(), AttrValue::Map(BTreeMap::from([("x".to_owned(), AttrValue::Null)]))),
        ("ü".to_owned(), AttrValue::Bool(true)),
    ]))
}

/// Writes, through trialog's storage API on an Optuna-format file, every operation Optuna has
/// and every kind of value.
fn write_coverage(s: &JournalStorage<OptunaJournalFile>) {
    let single = s.create_new_study(&[StudyDirection::Minimize], Some("trialog ü 😀")).unwrap();
    s.set_study_user_attr(single, "nested", nested()).unwrap();
    s.set_study_system_attr(single, "sys", AttrValue::from("x")).unwrap();
    let dists = [
        ("f", Distribution::float(-1.0, 1.0, false, None).unwrap(), 0.25),
        ("flog", Distribution::float(1e-5, 1.0, true, None).unwrap(), 1e-5),
        ("fstep", Distribution::float(0.0, 1.0, false, Some(0.1)).unwrap(), 0.3),
        ("i", Distribution::int(-3, 3, false, 1).unwrap(), -2.0),
        ("ilog", Distribution::int(1, 1024, true, 1).unwrap(), 512.0),
        ("istep", Distribution::int(0, 10, false, 5).unwrap(), 5.0),
        ("c", choices(), 4.0),
    ];
    let states = [
        (TrialState::Complete, Some(vec![1.5])),
        (TrialState::Complete, Some(vec![f64::INFINITY])),
        (TrialState::Pruned, None),
        (TrialState::Fail, None),
    ];
    for (state, values) in states {
        let t = s.create_new_trial(single, None).unwrap();
        for (name, d, v) in &dists {
            s.set_trial_param(t, name, *v, d).unwrap();
        }
        s.set_trial_intermediate_value(t, 0, 0.5).unwrap();
        s.set_trial_intermediate_value(t, 10, f64::NAN).unwrap();
        s.set_trial_intermediate_value(t, 2, f64::NEG_INFINITY).unwrap();
        s.set_trial_user_attr(t, "nested", nested()).unwrap();
        s.set_trial_system_attr(t, "s", AttrValue::Int(-1)).unwrap();
        s.set_trial_state_values(t, state, values.as_deref()).unwrap();
    }
    let running = s.create_new_trial(single, None).unwrap();
    s.set_trial_param(running, "c", 0.0, &choices()).unwrap();
    // Templates: an enqueued WAITING trial, one claimed (WAITING -> RUNNING), an added COMPLETE.
    let mut waiting = FrozenTrial::new(0, 0, single, TrialState::Waiting);
    waiting.system_attrs.insert("fixed_params".into(), AttrValue::Map(BTreeMap::new()));
    waiting.user_attrs.insert("u".into(), nested());
    s.create_new_trial(single, Some(&waiting)).unwrap();
    let claimed = s.create_new_trial(single, Some(&waiting)).unwrap();
    assert!(s.set_trial_state_values(claimed, TrialState::Running, None).unwrap());
    assert!(!s.set_trial_state_values(claimed, TrialState::Running, None).unwrap());
    let mut added = FrozenTrial::new(0, 0, single, TrialState::Complete);
    added.values = Some(vec![-0.5].into());
    added.datetime_start = Some(Timestamp(1_700_000_000_000_001));
    added.datetime_complete = Some(Timestamp(1_700_000_001_000_000));
    for (name, d, v) in &dists {
        let name: Arc<str> = Arc::from(*name);
        added.params.insert(Arc::clone(&name), d.to_external(*v).unwrap());
        added.distributions.insert(name, Arc::new(d.clone()));
    }
    added.intermediate_values.insert(3.into(), f64::INFINITY);
    added.intermediate_values.insert(11.into(), 2.0);
    added.user_attrs.insert("k".into(), AttrValue::from("v"));
    s.create_new_trial(single, Some(&added)).unwrap();

    let multi = s
        .create_new_study(&[StudyDirection::Maximize, StudyDirection::Minimize], Some("multi"))
        .unwrap();
    let t = s.create_new_trial(multi, None).unwrap();
    s.set_trial_state_values(t, TrialState::Complete, Some(&[1.0, f64::NEG_INFINITY])).unwrap();
    let mut two = FrozenTrial::new(0, 0, multi, TrialState::Complete);
    two.values = Some(vec![3.0, 4.0].into());
    s.create_new_trial(multi, Some(&two)).unwrap();

    let doomed = s.create_new_study(&[StudyDirection::Minimize], Some("deleted")).unwrap();
    s.create_new_trial(doomed, None).unwrap();
    s.delete_study(doomed).unwrap();
    s.create_new_study(&[StudyDirection::NotSet], Some("deleted")).unwrap();
}

fn build(dir: &Path) -> std::path::PathBuf {
    let path = dir.join("trialog-wrote.log");
    let s = JournalStorage::open_optuna(&path).unwrap();
    write_coverage(&s);
    path
}

#[test]
fn optuna_loads_what_trialog_writes() {
    let dir = tempfile::tempdir().unwrap();
    let path = build(dir.path());
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.is_ascii(), "Optuna escapes non-ASCII (ensure_ascii); so must we");
    assert!(text.ends_with('\n') && !text.contains('\r'));
    for code in 0..=9 {
        assert!(text.contains(&format!("{{\"op_code\":{code},")), "no op code {code}");
    }
    assert!(!std::path::Path::new(&format!("{}.lock", path.display())).exists(), "lock left");
    if !have_optuna("optuna_loads_what_trialog_writes") {
        return;
    }
    let dump = assert_same_state(&path);
    let states = states(&dump);
    assert_eq!(
        states[0].1,
        ["COMPLETE", "COMPLETE", "PRUNED", "FAIL", "RUNNING", "WAITING", "RUNNING", "COMPLETE"]
    );
    assert_eq!(
        states.iter().map(|s| s.0.as_str()).collect::<Vec<_>>(),
        ["trialog ü 😀", "multi", "deleted"]
    );

    // Python Optuna continues the file, then trialog again: both still agree.
    let p = path.to_str().unwrap();
    run_ok(&mut python("optimize.py", &[p, "trialog ü 😀", "2", "3"]));
    let s = JournalStorage::open_optuna(&path).unwrap();
    let id = s.get_study_id_from_name("trialog ü 😀").unwrap();
    let t = s.create_new_trial(id, None).unwrap();
    s.set_trial_state_values(t, TrialState::Complete, Some(&[0.0])).unwrap();
    let dump = assert_same_state(&path);
    // Python's first trial claimed trialog's WAITING trial; its second and ours are new.
    let states = states_of(&dump, 0);
    assert_eq!(states.len(), 10, "{states:?}");
    assert!(!states.iter().any(|s| s == "WAITING"), "{states:?}");
}

fn states_of(dump: &str, study: usize) -> Vec<String> {
    states(dump).swap_remove(study).1
}
