//! A trial's parameters keep Optuna's order (the order they were first set, a template's dict
//! order) between Python Optuna and trialog, both ways and through `import` / `export`. Needs
//! Python Optuna (see `py_common`); `tests/python/param_order.py` is Optuna's side.

mod py_common;

use std::path::Path;
use std::sync::Arc;

use py_common::*;
use trialog::{
    Distribution, FrozenTrial, JournalStorage, LogBackend, ParamValue, StudyDirection, TrialState,
};

/// Each trial's parameter and distribution names as `param_order.py read` prints them.
fn orders<B: LogBackend>(s: &JournalStorage<B>) -> String {
    let names = |keys: Vec<&str>| {
        let quoted: Vec<String> = keys.iter().map(|k| format!("\"{k}\"")).collect();
        format!("[{}]", quoted.join(", "))
    };
    let mut out = String::new();
    for study in s.get_all_studies().unwrap() {
        for t in s.get_all_trials(study.study_id, None).unwrap().iter() {
            let params = names(t.params.keys().map(|k| &**k).collect());
            let dists = names(t.distributions.keys().map(|k| &**k).collect());
            out.push_str(&format!("[{params}, {dists}]\n"));
        }
    }
    out
}

fn optuna_orders(journal: &Path) -> String {
    run_ok(&mut python("param_order.py", &["read", journal.to_str().unwrap()]))
}

#[test]
fn trialog_replays_and_rewrites_optuna_params_in_their_order() {
    if !have_optuna("trialog_replays_and_rewrites_optuna_params_in_their_order") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("optuna-wrote.log");
    run_ok(&mut python("param_order.py", &["write", path.to_str().unwrap()]));
    let expected = optuna_orders(&path);
    assert_eq!(
        expected,
        "[[\"z\", \"a\", \"m\"], [\"z\", \"a\", \"m\"]]\n\
         [[\"y\", \"b\", \"x\"], [\"y\", \"b\", \"x\"]]\n\
         [[\"c\", \"q\"], [\"c\", \"q\"]]\n"
    );
    assert_eq!(orders(&JournalStorage::open_optuna(&path).unwrap()), expected);
    // Re-written in both formats: the order survives trialog's encoding and Optuna's.
    let imported = dir.path().join("imported.journal");
    let exported = dir.path().join("exported.log");
    let out = trialog(&["import", path.to_str().unwrap(), imported.to_str().unwrap()]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(orders(&JournalStorage::open(&imported).unwrap()), expected);
    let out = trialog(&[
        "export",
        "--format",
        "optuna",
        imported.to_str().unwrap(),
        exported.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(optuna_orders(&exported), expected);
    assert_eq!(orders(&JournalStorage::open_optuna(&exported).unwrap()), expected);
}

#[test]
fn optuna_reads_trialog_written_params_in_their_order() {
    if !have_optuna("optuna_reads_trialog_written_params_in_their_order") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("trialog-wrote.log");
    let s = JournalStorage::open_optuna(&path).unwrap();
    let study = s.create_new_study(&[StudyDirection::Minimize], Some("order")).unwrap();
    let dist = Distribution::float(0.0, 1.0, false, None).unwrap();
    let t = s.create_new_trial(study, None).unwrap();
    for name in ["z", "a", "m"] {
        s.set_trial_param(t, name, 0.5, &dist).unwrap();
    }
    s.set_trial_state_values(t, TrialState::Complete, Some(&[1.0])).unwrap();
    let mut added = FrozenTrial::new(0, 0, study, TrialState::Complete);
    added.values = Some(vec![2.0].into());
    for name in ["y", "b", "x"] {
        let name: Arc<str> = Arc::from(name);
        added.params.insert(Arc::clone(&name), ParamValue::Float(0.5));
        added.distributions.insert(name, Arc::new(dist.clone()));
    }
    s.create_new_trial(study, Some(&added)).unwrap();
    let ours = orders(&s);
    assert_eq!(
        ours,
        "[[\"z\", \"a\", \"m\"], [\"z\", \"a\", \"m\"]]\n[[\"y\", \"b\", \"x\"], [\"y\", \"b\", \"x\"]]\n"
    );
    assert_eq!(optuna_orders(&path), ours);
}
