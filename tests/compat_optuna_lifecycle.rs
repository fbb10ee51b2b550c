//! The lifecycle operations against Python Optuna: a fork written into an Optuna journal replays
//! in Optuna to exactly trialog's state, Python continues a study trialog forked, and Optuna's
//! retry helpers read the retries `Study::resume` enqueues. Needs Python Optuna (`py_common`).

mod py_common;

use std::collections::BTreeMap;
use std::sync::Arc;

use py_common::*;
use trialog::lifecycle::{ForkOptions, ResumeOptions, StaleTrials, fork_study};
use trialog::study::RandomSampler;
use trialog::{
    AttrValue, Distribution, FrozenTrial, JournalStorage, ParamValue, Storage, Study,
    StudyDirection, TrialState,
};

/// A study with trials of every state and content, in a trialog journal.
fn rich(storage: &dyn Storage) {
    let study = storage.create_new_study(&[StudyDirection::Maximize], Some("rich")).unwrap();
    storage.set_study_user_attr(study, "u", AttrValue::String("ü".into())).unwrap();
    let dists = [
        ("f", Distribution::float(-1.0, 1.0, false, None).unwrap(), 0.25),
        ("flog", Distribution::float(1e-5, 1.0, true, None).unwrap(), 1e-5),
        ("i", Distribution::int(0, 10, false, 5).unwrap(), 5.0),
        (
            "c",
            Distribution::categorical(vec![ParamValue::Null, ParamValue::Str("a".into())]).unwrap(),
            1.0,
        ),
    ];
    for i in 0..10 {
        let t = storage.create_new_trial(study, None).unwrap();
        for (name, dist, v) in &dists {
            storage.set_trial_param(t, name, *v, dist).unwrap();
        }
        storage.set_trial_intermediate_value(t, 1, f64::NAN).unwrap();
        storage.set_trial_intermediate_value(t, 2, -f64::INFINITY).unwrap();
        storage
            .set_trial_system_attr(
                t,
                "m",
                AttrValue::Map(BTreeMap::from([("k".to_owned(), AttrValue::Int(i))])),
            )
            .unwrap();
        match i % 4 {
            0 => drop(storage.set_trial_state_values(t, TrialState::Complete, Some(&[i as f64]))),
            1 => drop(storage.set_trial_state_values(t, TrialState::Pruned, None)),
            2 => drop(storage.set_trial_state_values(t, TrialState::Fail, None)),
            _ => {} // RUNNING
        }
    }
    let mut w = FrozenTrial::new(0, 0, study, TrialState::Waiting);
    w.user_attrs.insert("queued".into(), AttrValue::Bool(true));
    storage.create_new_trial(study, Some(&w)).unwrap();
}

#[test]
fn a_fork_into_an_optuna_journal_replays_in_optuna_to_the_same_state() {
    if !have_optuna("a_fork_into_an_optuna_journal_replays_in_optuna_to_the_same_state") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let source = JournalStorage::open(dir.path().join("j.journal")).unwrap();
    rich(&source);
    let out = dir.path().join("fork.log");
    let into = JournalStorage::open_optuna(&out).unwrap();
    let options = ForkOptions { at: 7, to_name: "rich".into(), keep_waiting: true };
    let report = fork_study(&source, "rich", &into, &options).unwrap();
    assert_eq!(report.requeued, [3, 7]);
    assert_eq!(report.kept_waiting, [10]);
    let dump = assert_same_state(&out);
    let (_, states) = &states(&dump)[0];
    let expected = [
        "COMPLETE", "PRUNED", "FAIL", "WAITING", "COMPLETE", "PRUNED", "FAIL", "WAITING", "WAITING",
    ];
    assert_eq!(states, &expected);
    // The kept trials are the original's, as Optuna reads them.
    let id = into.get_study_id_from_name("rich").unwrap();
    let forked = into.get_all_trials(id, None).unwrap();
    let original =
        source.get_all_trials(source.get_study_id_from_name("rich").unwrap(), None).unwrap();
    for (f, o) in forked.iter().zip(&original).take(8).filter(|(_, o)| o.state.is_finished()) {
        assert_eq!(
            (&f.params, &f.values, &f.system_attrs, f.datetime_start, f.datetime_complete),
            (&o.params, &o.values, &o.system_attrs, o.datetime_start, o.datetime_complete)
        );
        assert_eq!(f.intermediate_values.len(), 2);
    }
}

#[test]
fn python_continues_a_study_trialog_forked_into_its_journal() {
    if !have_optuna("python_continues_a_study_trialog_forked_into_its_journal") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let original = dir.path().join("original.log");
    let p = |path: &std::path::Path| path.to_str().unwrap().to_owned();
    run_ok(&mut python("optimize.py", &[&p(&original), "py", "12", "3"]));
    let fork = dir.path().join("fork.log");
    let out = run_ok(
        std::process::Command::new(env!("CARGO_BIN_EXE_trialog"))
            .args(["study", "fork", &p(&original), "--study", "py", "--at", "7"])
            .arg("--into")
            .arg(format!("optuna:{}", p(&fork))),
    );
    assert!(out.contains("trials: 8"), "{out}");
    run_ok(&mut python("optimize.py", &[&p(&fork), "py", "5", "4"]));
    let dump = assert_same_state(&fork);
    let (_, states) = &states(&dump)[0];
    assert_eq!(states.len(), 13);
    assert!(states.iter().all(|s| s == "COMPLETE"));
}

#[test]
fn optunas_retry_helpers_read_the_retries_resume_enqueues() {
    if !have_optuna("optunas_retry_helpers_read_the_retries_resume_enqueues") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("o.log");
    let storage = Arc::new(JournalStorage::open_optuna(&path).unwrap());
    let study = Study::create(
        Arc::clone(&storage),
        Some("r"),
        &[StudyDirection::Minimize],
        Arc::new(RandomSampler::new(Some(1))),
    )
    .unwrap();
    let mut dead = study.ask().unwrap();
    dead.suggest_float("x", 0.0, 1.0).unwrap();
    // Optuna journals hold no heartbeats: the dead worker's trial is failed as "all running".
    let options = ResumeOptions { stale: StaleTrials::AllRunning, ..ResumeOptions::default() };
    let sampler = Arc::new(RandomSampler::new(Some(1)));
    let (study, report) =
        Study::resume(Arc::clone(&storage), "r", sampler.clone(), &options).unwrap();
    assert_eq!(report.retried, [(0, 1)]);
    // The retry fails too and is retried again: a series 0 -> 1 -> 2.
    let retry = study.ask().unwrap();
    assert_eq!(retry.number(), 1);
    let (_, report) = Study::resume(Arc::clone(&storage), "r", sampler, &options).unwrap();
    assert_eq!(report.retried, [(1, 2)]);
    assert_same_state(&path);
    let script = format!(
        "import optuna, warnings\n\
         warnings.simplefilter('ignore')\n\
         from optuna.storages import JournalStorage, RetryFailedTrialCallback as R\n\
         from optuna.storages.journal import JournalFileBackend\n\
         s = optuna.load_study(study_name='r', storage=JournalStorage(JournalFileBackend({path:?})))\n\
         print([(R.retried_trial_number(t), R.retry_history(t)) for t in s.trials], len({{t.params['x'] for t in s.trials}}))\n",
        path = path.to_str().unwrap()
    );
    let out = run_ok(std::process::Command::new("python3").args(["-c", &script]));
    assert_eq!(out.trim(), "[(None, []), (0, [0]), (0, [0, 1])] 1", "one x for the whole series");
}
