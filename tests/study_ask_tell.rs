//! Invariant: the ask/suggest/report/tell rules of a trial. A parameter suggested twice in one
//! trial returns the same value; an incompatible re-suggest is `IncompatibleDistribution`;
//! `tell` checks the number of values and refuses a finished trial (`TrialFinished`); PRUNED and
//! FAIL finish without values; an enqueued trial is returned by the next `ask` with its params.

use std::sync::Arc;

use trialog::study::{RandomSampler, Study, TellResult, create_or_load_study, create_study};
use trialog::{
    AttrValue, Distribution, Error, JournalStorage, MemoryBackend, ParamValue, StudyDirection,
    TrialState,
};

fn storage() -> Arc<JournalStorage<MemoryBackend>> {
    Arc::new(JournalStorage::new(MemoryBackend::new()).unwrap())
}

fn study(directions: &[StudyDirection]) -> Study<JournalStorage<MemoryBackend>> {
    create_study(storage(), Some("s"), directions).unwrap()
}

#[test]
fn same_param_twice_returns_the_same_value() {
    let study = study(&[StudyDirection::Minimize]);
    let mut t = study.ask().unwrap();
    let x = t.suggest_float("x", 0.0, 1.0).unwrap();
    assert_eq!(t.suggest_float("x", 0.0, 1.0).unwrap(), x);
    // Other bounds, same kind: still the same value (Optuna's rule).
    assert_eq!(t.suggest_float("x", -5.0, 5.0).unwrap(), x);
    let n = t.suggest_int("n", 1, 100).unwrap();
    assert_eq!(t.suggest_int("n", 1, 100).unwrap(), n);
    let c = t
        .suggest_categorical("c", vec![ParamValue::Str("a".into()), ParamValue::Str("b".into())])
        .unwrap();
    assert_eq!(
        t.suggest_categorical("c", vec![ParamValue::Str("a".into()), ParamValue::Str("b".into())])
            .unwrap(),
        c
    );
    let stored = study.storage().get_trial_params(t.id()).unwrap();
    assert_eq!(stored.get("x"), Some(&ParamValue::Float(x)));
    assert_eq!(stored.get("n"), Some(&ParamValue::Int(n)));
    assert_eq!(stored.get("c"), Some(&c));
}

#[test]
fn incompatible_resuggest_is_a_typed_error() {
    let study = study(&[StudyDirection::Minimize]);
    let mut t = study.ask().unwrap();
    t.suggest_float("x", 0.1, 1.0).unwrap();
    assert!(matches!(
        t.suggest_float_log("x", 0.1, 1.0),
        Err(Error::IncompatibleDistribution { .. })
    ));
    assert!(matches!(t.suggest_int("x", 0, 3), Err(Error::IncompatibleDistribution { .. })));
    t.suggest_categorical("c", vec![ParamValue::Int(1), ParamValue::Int(2)]).unwrap();
    assert!(matches!(
        t.suggest_categorical("c", vec![ParamValue::Int(1)]),
        Err(Error::IncompatibleDistribution { .. })
    ));
    // Bad bounds are InvalidArgument, never a panic.
    assert!(matches!(t.suggest_float("y", 1.0, 0.0), Err(Error::InvalidArgument(_))));
    assert!(matches!(t.suggest_int_log("z", 0, 10), Err(Error::InvalidArgument(_))));
    // Across trials of the study, too (the storage's rule).
    study.tell(&t, TellResult::Complete(vec![1.0])).unwrap();
    let mut t2 = study.ask().unwrap();
    assert!(matches!(t2.suggest_int("x", 0, 3), Err(Error::IncompatibleDistribution { .. })));
}

#[test]
fn tell_checks_values_and_refuses_finished_trials() {
    let study = study(&[StudyDirection::Minimize, StudyDirection::Maximize]);
    let t = study.ask().unwrap();
    assert!(matches!(
        study.tell(&t, TellResult::Complete(vec![1.0])),
        Err(Error::InvalidArgument(_))
    ));
    assert!(matches!(
        study.tell(&t, TellResult::Complete(vec![1.0, 2.0, 3.0])),
        Err(Error::InvalidArgument(_))
    ));
    assert_eq!(study.storage().get_trial(t.id()).unwrap().state, TrialState::Running);
    study.tell(&t, TellResult::Complete(vec![1.0, 2.0])).unwrap();
    let frozen = study.storage().get_trial(t.id()).unwrap();
    assert_eq!(frozen.state, TrialState::Complete);
    assert_eq!(frozen.values.as_deref(), Some(&[1.0, 2.0][..]));
    assert!(matches!(
        study.tell(&t, TellResult::Complete(vec![1.0, 2.0])),
        Err(Error::TrialFinished { state: TrialState::Complete, .. })
    ));
    assert!(matches!(study.tell(&t, TellResult::Fail), Err(Error::TrialFinished { .. })));
}

#[test]
fn pruned_keeps_its_last_intermediate_value_and_fail_has_none() {
    let study = study(&[StudyDirection::Minimize]);
    let t = study.ask().unwrap();
    t.report(1, 2.0).unwrap();
    t.report(0, 3.0).unwrap();
    t.set_user_attr("note", "hello").unwrap();
    study.tell(&t, TellResult::Pruned).unwrap();
    let f = study.storage().get_trial(t.id()).unwrap();
    assert_eq!(f.state, TrialState::Pruned);
    // As Optuna: the value at the last (largest) step, not the last reported.
    assert_eq!(f.values.as_deref(), Some(&[2.0][..]));
    assert_eq!(f.intermediate_value(1), Some(2.0));
    assert_eq!(f.user_attrs.get("note"), Some(&AttrValue::String("hello".into())));
    assert!(matches!(study.tell(&t, TellResult::Pruned), Err(Error::TrialFinished { .. })));

    // Nothing reported, or a NaN last value: no value.
    for reports in [&[][..], &[(0, 1.0), (4, f64::NAN)][..]] {
        let t = study.ask().unwrap();
        for (step, v) in reports {
            t.report(*step, *v).unwrap();
        }
        study.tell(&t, TellResult::Pruned).unwrap();
        let f = study.storage().get_trial(t.id()).unwrap();
        assert_eq!((f.state, f.values.clone()), (TrialState::Pruned, None));
    }
    // Several objectives: no value either (Optuna's feasibility check wants one per objective).
    let multi = self::study(&[StudyDirection::Minimize, StudyDirection::Maximize]);
    let t = multi.ask().unwrap();
    t.report(0, 1.0).unwrap();
    multi.tell(&t, TellResult::Pruned).unwrap();
    assert_eq!(multi.storage().get_trial(t.id()).unwrap().values, None);

    let t = study.ask().unwrap();
    study.tell(&t, TellResult::Fail).unwrap();
    let f = study.storage().get_trial(t.id()).unwrap();
    assert_eq!((f.state, f.values.clone()), (TrialState::Fail, None));

    // NaN makes the trial FAIL with a reason, as in Optuna.
    let t = study.ask().unwrap();
    study.tell(&t, TellResult::Complete(vec![f64::NAN])).unwrap();
    let f = study.storage().get_trial(t.id()).unwrap();
    assert_eq!(f.state, TrialState::Fail);
    assert!(f.system_attrs.get("fail_reason").is_some());
}

#[test]
fn enqueued_trial_is_asked_with_its_params() {
    let study = study(&[StudyDirection::Minimize]);
    let xd = Distribution::float(0.0, 10.0, false, None).unwrap();
    let nd = Distribution::int(0, 10, false, 2).unwrap();
    let cd =
        Distribution::categorical(vec![ParamValue::Str("adam".into()), ParamValue::Null]).unwrap();
    let first = study
        .enqueue_trial(&[
            ("x", ParamValue::Float(2.5), xd.clone()),
            ("n", ParamValue::Int(4), nd),
            ("opt", ParamValue::Null, cd),
        ])
        .unwrap();
    let second = study.enqueue_trial(&[("x", ParamValue::Float(7.0), xd.clone())]).unwrap();
    // Outside the distribution: refused, nothing written.
    assert!(matches!(
        study.enqueue_trial(&[("x", ParamValue::Float(11.0), xd)]),
        Err(Error::InvalidArgument(_))
    ));
    assert_eq!(study.trials(None).unwrap().len(), 2);

    let mut t = study.ask().unwrap();
    assert_eq!(t.id(), first);
    assert_eq!(t.suggest_float("x", 0.0, 10.0).unwrap(), 2.5);
    assert_eq!(t.suggest_int_step("n", 0, 10, 2).unwrap(), 4);
    assert_eq!(
        t.suggest_categorical("opt", vec![ParamValue::Str("adam".into()), ParamValue::Null])
            .unwrap(),
        ParamValue::Null
    );
    // Not in the template: sampled.
    let y = t.suggest_float("y", 0.0, 1.0).unwrap();
    assert!((0.0..=1.0).contains(&y));
    // A template param re-suggested with an incompatible distribution is refused.
    assert!(matches!(
        t.suggest_float_log("x", 1.0, 10.0),
        Err(Error::IncompatibleDistribution { .. })
    ));
    study.tell(&t, TellResult::Complete(vec![0.0])).unwrap();

    let mut t = study.ask().unwrap();
    assert_eq!(t.id(), second);
    assert_eq!(t.suggest_float("x", 0.0, 10.0).unwrap(), 7.0);
    study.tell(&t, TellResult::Complete(vec![0.0])).unwrap();
    // Queue empty: a fresh trial.
    let t = study.ask().unwrap();
    assert_eq!(t.number(), 2);
    assert_eq!(study.storage().get_trial(t.id()).unwrap().state, TrialState::Running);
}

#[test]
fn create_or_load_loads_and_checks_directions() {
    let storage = storage();
    let a = create_or_load_study(Arc::clone(&storage), "s", &[StudyDirection::Maximize]).unwrap();
    let b = create_or_load_study(Arc::clone(&storage), "s", &[StudyDirection::Maximize]).unwrap();
    assert_eq!(a.id(), b.id());
    assert!(matches!(
        create_or_load_study(Arc::clone(&storage), "s", &[StudyDirection::Minimize]),
        Err(Error::DirectionMismatch { .. })
    ));
    assert!(matches!(
        create_study(Arc::clone(&storage), Some("s"), &[StudyDirection::Maximize]),
        Err(Error::DuplicateStudyName { .. })
    ));
    assert!(matches!(
        Study::load(storage, "nope", Arc::new(RandomSampler::new(Some(1)))),
        Err(Error::StudyNameNotFound { .. })
    ));
}

/// Plain Rust values convert into `ParamValue` as they do into `AttrValue`, so choices and
/// enqueued values need no enum spelled out; the typed equality still tells `1` from `1.0`.
#[test]
fn plain_values_convert_into_param_values() {
    assert_eq!(ParamValue::from("adam"), ParamValue::Str("adam".into()));
    assert_eq!(ParamValue::from(String::from("sgd")), ParamValue::Str("sgd".into()));
    assert_eq!(ParamValue::from(3i64), ParamValue::Int(3));
    assert_eq!(ParamValue::from(0.5), ParamValue::Float(0.5));
    assert_eq!(ParamValue::from(true), ParamValue::Bool(true));
    assert_ne!(ParamValue::from(1i64), ParamValue::from(1.0));

    let study = study(&[StudyDirection::Minimize]);
    let mut t = study.ask().unwrap();
    let opt = t.suggest_categorical("opt", ["adam", "sgd"]).unwrap();
    assert!(opt == "adam".into() || opt == "sgd".into(), "{opt:?}");
    // The same choices given as enum values: the same distribution, so the same value.
    let again = vec![ParamValue::Str("adam".into()), ParamValue::Str("sgd".into())];
    assert_eq!(t.suggest_categorical("opt", again).unwrap(), opt);
    let width = t.suggest_categorical("width", [32i64, 64, 128]).unwrap();
    assert!(matches!(width, ParamValue::Int(32 | 64 | 128)), "{width:?}");

    let dist = Distribution::categorical(vec!["adam".into(), "sgd".into()]).unwrap();
    study.enqueue_trial(&[("opt", "sgd".into(), dist)]).unwrap();
    let mut t = study.ask().unwrap();
    assert_eq!(t.suggest_categorical("opt", ["adam", "sgd"]).unwrap(), "sgd".into());
}
