//! Optuna's `BaseStorage` API over every backend.
//!
//! Each scenario is written once, generic over the backend, and run on a journal file in a
//! temporary directory (`file::*`), on a [`MemoryBackend`] (`memory::*`) and on an Optuna
//! JSON-lines file (`optuna_file::*`), and on a real Redis server (`redis::*`, Optuna's
//! `JournalRedisBackend` key layout; skipped with a message without `redis-server`, unless
//! `TRIALOG_REQUIRE_REDIS=1`). `make()` returns a
//! new handle on the same journal each time it is called: a second worker, or a reopen that
//! replays the log from its first byte.
//!
//! Validation errors promise that nothing was written; every such case here compares the
//! journal's bytes before and after the call.

mod common;
// Redis servers for the `redis::*` tests; they start a `redis-server` of their own, which
// Windows does not have.
#[cfg(all(unix, feature = "redis"))]
mod redis_common;

use std::collections::BTreeMap;
use std::fmt::Debug;
use std::sync::Arc;

use common::{
    JournalBytes, bytes_of, categorical, float, float_log, int, int_log, nested_attr, state_of,
};
use trialog::storage::DEFAULT_STUDY_NAME_PREFIX;
use trialog::{
    AttrValue, Distribution, Error, FrozenTrial, JournalStorage, LogBackend, ParamValue,
    StudyDirection, Timestamp, TrialState,
};

use StudyDirection::{Maximize, Minimize};

/// Runs `f`, asserts it failed and that the journal's bytes did not change, and returns the error.
fn fails_writing_nothing<B: LogBackend + JournalBytes, T: Debug>(
    storage: &JournalStorage<B>,
    f: impl FnOnce() -> trialog::Result<T>,
) -> Error {
    let before = bytes_of(storage);
    let result = f();
    assert_eq!(bytes_of(storage), before, "a failed call changed the journal ({result:?})");
    match result {
        Ok(v) => panic!("expected an error, got Ok({v:?})"),
        Err(e) => e,
    }
}

/// Asserts that `$e` matches `$p` (with an optional guard), printing the error otherwise.
macro_rules! assert_err {
    ($e:expr, $p:pat $(if $guard:expr)?) => {
        match $e {
            $p $(if $guard)? => {}
            other => panic!("expected {}, got {other:?}", stringify!($p)),
        }
    };
}

/// A template trial with nothing set, in `state`.
fn template(state: TrialState) -> FrozenTrial {
    FrozenTrial::new(999, 999, 999, state)
}

/// Adds parameter `name` = `value` drawn from `dist` to a template.
fn with_param(
    mut t: FrozenTrial,
    name: &str,
    value: ParamValue,
    dist: Distribution,
) -> FrozenTrial {
    t.params.insert(Arc::from(name), value);
    t.distributions.insert(Arc::from(name), Arc::new(dist));
    t
}

/// A study with one RUNNING trial; returns (study, trial).
fn study_with_trial<B: LogBackend + JournalBytes>(s: &JournalStorage<B>, name: &str) -> (u64, u64) {
    let study = s.create_new_study(&[Minimize], Some(name)).unwrap();
    let trial = s.create_new_trial(study, None).unwrap();
    (study, trial)
}

/// Creates a COMPLETE trial with a single value.
fn complete<B: LogBackend + JournalBytes>(s: &JournalStorage<B>, study: u64, value: f64) -> u64 {
    let t = s.create_new_trial(study, None).unwrap();
    assert!(s.set_trial_state_values(t, TrialState::Complete, Some(&[value])).unwrap());
    t
}

// ---- studies ----------------------------------------------------------------------------------

fn study_ids_count_up_and_are_never_reused<B: LogBackend + JournalBytes>(
    make: impl Fn() -> JournalStorage<B>,
) {
    let s = make();
    let ids: Vec<u64> =
        ["a", "b", "c"].iter().map(|n| s.create_new_study(&[Minimize], Some(n)).unwrap()).collect();
    assert_eq!(ids, [0, 1, 2]);
    s.delete_study(1).unwrap();
    s.delete_study(2).unwrap();
    assert_eq!(s.create_new_study(&[Minimize], Some("d")).unwrap(), 3);
    // The name of a deleted study is free again, but its id is not.
    assert_eq!(s.create_new_study(&[Maximize], Some("b")).unwrap(), 4);
    assert_eq!(s.get_study_id_from_name("b").unwrap(), 4);
    assert_eq!(s.get_study_directions(4).unwrap(), [Maximize]);
    assert_err!(s.get_study_name_from_id(1), Err(Error::StudyNotFound { study_id: 1 }));
    assert_err!(s.get_study_name_from_id(2), Err(Error::StudyNotFound { study_id: 2 }));
    // Deleting twice is an error and writes nothing.
    let e = fails_writing_nothing(&s, || s.delete_study(1));
    assert_err!(e, Error::StudyNotFound { study_id: 1 });
    // A reopened handle agrees.
    let again = make();
    let live: Vec<u64> = again.get_all_studies().unwrap().iter().map(|st| st.study_id).collect();
    assert_eq!(live, [0, 3, 4]);
    assert_eq!(again.create_new_study(&[Minimize], None).unwrap(), 5);
}

fn generated_names_start_with_no_name<B: LogBackend + JournalBytes>(
    make: impl Fn() -> JournalStorage<B>,
) {
    let s = make();
    let a = s.create_new_study(&[Minimize], None).unwrap();
    let b = s.create_new_study(&[Minimize], None).unwrap();
    let name_a = s.get_study_name_from_id(a).unwrap();
    let name_b = s.get_study_name_from_id(b).unwrap();
    assert_eq!(DEFAULT_STUDY_NAME_PREFIX, "no-name-");
    assert!(name_a.starts_with("no-name-") && name_a.len() > "no-name-".len(), "{name_a}");
    assert!(name_b.starts_with("no-name-"), "{name_b}");
    assert_ne!(name_a, name_b);
    assert_eq!(s.get_study_id_from_name(&name_b).unwrap(), b);
}

fn duplicate_study_name_is_rejected_and_writes_nothing<B: LogBackend + JournalBytes>(
    make: impl Fn() -> JournalStorage<B>,
) {
    let s = make();
    let id = s.create_new_study(&[Minimize], Some("dup")).unwrap();
    let e = fails_writing_nothing(&s, || s.create_new_study(&[Maximize], Some("dup")));
    assert_err!(e, Error::DuplicateStudyName { ref name } if name == "dup");
    // A second handle that has not synced yet must see the name too.
    let other = make();
    let e = fails_writing_nothing(&other, || other.create_new_study(&[Minimize], Some("dup")));
    assert_err!(e, Error::DuplicateStudyName { .. });
    // No directions at all is invalid.
    let e = fails_writing_nothing(&s, || s.create_new_study(&[], Some("empty")));
    assert_err!(e, Error::InvalidArgument(_));
    assert_eq!(s.get_all_studies().unwrap().len(), 1);
    assert_eq!(s.get_study_directions(id).unwrap(), [Minimize]);
    // The failed create consumed no id.
    assert_eq!(s.create_new_study(&[Minimize], Some("next")).unwrap(), id + 1);
}

fn study_lookups_and_directions<B: LogBackend + JournalBytes>(
    make: impl Fn() -> JournalStorage<B>,
) {
    let s = make();
    let single = s.create_new_study(&[Maximize], Some("single")).unwrap();
    let multi = s.create_new_study(&[Minimize, Maximize, Minimize], Some("multi")).unwrap();
    assert_eq!(s.get_study_id_from_name("single").unwrap(), single);
    assert_eq!(s.get_study_id_from_name("multi").unwrap(), multi);
    assert_eq!(s.get_study_name_from_id(multi).unwrap(), "multi");
    assert_eq!(s.get_study_directions(single).unwrap(), [Maximize]);
    assert_eq!(s.get_study_directions(multi).unwrap(), [Minimize, Maximize, Minimize]);
    assert_err!(
        s.get_study_id_from_name("absent"),
        Err(Error::StudyNameNotFound { ref name }) if name == "absent"
    );
    let all = s.get_all_studies().unwrap();
    assert_eq!(all.len(), 2);
    assert_eq!((all[0].study_id, all[0].study_name.as_str()), (single, "single"));
    assert_eq!((all[1].study_id, all[1].study_name.as_str()), (multi, "multi"));
    assert_eq!(all[1].directions, [Minimize, Maximize, Minimize]);
    assert!(all[0].user_attrs.is_empty() && all[0].system_attrs.is_empty());
}

fn study_attrs_keep_nested_values_and_nan<B: LogBackend + JournalBytes>(
    make: impl Fn() -> JournalStorage<B>,
) {
    let s = make();
    let id = s.create_new_study(&[Minimize], Some("attrs")).unwrap();
    s.set_study_user_attr(id, "nested", nested_attr()).unwrap();
    s.set_study_user_attr(id, "nan", AttrValue::Float(f64::NAN)).unwrap();
    s.set_study_user_attr(id, "int", AttrValue::Int(1)).unwrap();
    s.set_study_user_attr(id, "int", AttrValue::Float(1.0)).unwrap(); // overwrite, new type
    s.set_study_system_attr(id, "sys", AttrValue::String("x".into())).unwrap();
    let mut expected = BTreeMap::new();
    expected.insert("nested".to_owned(), nested_attr());
    expected.insert("nan".to_owned(), AttrValue::Float(f64::NAN));
    expected.insert("int".to_owned(), AttrValue::Float(1.0));
    let mut expected_sys = BTreeMap::new();
    expected_sys.insert("sys".to_owned(), AttrValue::String("x".into()));
    for handle in [&s, &make()] {
        assert_eq!(handle.get_study_user_attrs(id).unwrap(), expected);
        assert_eq!(handle.get_study_system_attrs(id).unwrap(), expected_sys);
        let study = &handle.get_all_studies().unwrap()[0];
        assert_eq!(study.user_attrs, expected);
        assert_eq!(study.system_attrs, expected_sys);
        let AttrValue::Float(nan) = handle.get_study_user_attrs(id).unwrap()["nan"] else {
            panic!("NaN attribute changed type")
        };
        assert_eq!(nan.to_bits(), f64::NAN.to_bits());
    }
    let e = fails_writing_nothing(&s, || s.set_study_user_attr(7, "k", AttrValue::Null));
    assert_err!(e, Error::StudyNotFound { study_id: 7 });
    let e = fails_writing_nothing(&s, || s.set_study_system_attr(7, "k", AttrValue::Null));
    assert_err!(e, Error::StudyNotFound { study_id: 7 });
    assert_err!(s.get_study_user_attrs(7), Err(Error::StudyNotFound { study_id: 7 }));
    assert_err!(s.get_study_system_attrs(7), Err(Error::StudyNotFound { study_id: 7 }));
}

/// Python's `json` nests values up to its recursion limit (about 1000 levels), so Optuna accepts
/// a deeply nested attribute. trialog may refuse one up front (`InvalidArgument`, nothing
/// written), but an acknowledged write that no reader can decode would make the journal
/// unreadable for every other handle and every later open.
fn deeply_nested_attrs_are_refused_or_readable<B: LogBackend + JournalBytes>(
    make: impl Fn() -> JournalStorage<B>,
) {
    let s = make();
    let other = make();
    let (study, trial) = study_with_trial(&s, "deep");
    let mut deep = AttrValue::Int(1);
    for _ in 0..100 {
        deep = AttrValue::Array(vec![deep]);
    }
    let before = bytes_of(&s);
    match s.set_study_user_attr(study, "deep", deep.clone()) {
        Err(Error::InvalidArgument(_)) => assert_eq!(bytes_of(&s), before, "refused but wrote"),
        Err(e) => panic!("unexpected error {e:?}"),
        Ok(()) => {
            let read_back = other.get_study_user_attrs(study);
            assert!(
                matches!(&read_back, Ok(attrs) if attrs["deep"] == deep),
                "an acknowledged attribute cannot be read back: {read_back:?}"
            );
        }
    }
    let before = bytes_of(&s);
    match s.set_trial_system_attr(trial, "deep", deep.clone()) {
        Err(Error::InvalidArgument(_)) => assert_eq!(bytes_of(&s), before, "refused but wrote"),
        Err(e) => panic!("unexpected error {e:?}"),
        Ok(()) => {
            let read_back = make().get_trial_system_attrs(trial);
            assert!(
                matches!(&read_back, Ok(attrs) if attrs["deep"] == deep),
                "an acknowledged attribute cannot be read back: {read_back:?}"
            );
        }
    }
}

// ---- trials -----------------------------------------------------------------------------------

fn trial_ids_count_up_across_studies_and_numbers_per_study<B: LogBackend + JournalBytes>(
    make: impl Fn() -> JournalStorage<B>,
) {
    let s = make();
    let a = s.create_new_study(&[Minimize], Some("a")).unwrap();
    let b = s.create_new_study(&[Minimize], Some("b")).unwrap();
    let order = [a, b, a, a, b];
    let ids: Vec<u64> = order.iter().map(|&st| s.create_new_trial(st, None).unwrap()).collect();
    assert_eq!(ids, [0, 1, 2, 3, 4]);
    let other = make();
    for handle in [&s, &other] {
        let numbers: Vec<u64> =
            ids.iter().map(|&t| handle.get_trial_number_from_id(t).unwrap()).collect();
        assert_eq!(numbers, [0, 0, 1, 2, 1]);
        assert_eq!(handle.get_trial_id_from_study_id_trial_number(a, 2).unwrap(), 3);
        assert_eq!(handle.get_trial_id_from_study_id_trial_number(b, 1).unwrap(), 4);
        let of_a: Vec<u64> =
            handle.get_all_trials(a, None).unwrap().iter().map(|t| t.trial_id).collect();
        assert_eq!(of_a, [0, 2, 3]);
    }
    let t = s.get_trial(ids[1]).unwrap();
    assert_eq!((t.study_id, t.state), (b, TrialState::Running));
    assert!(t.datetime_start.is_some(), "a new trial starts now");
    assert_eq!(t.datetime_complete, None);
    assert!(t.params.is_empty() && t.values.is_none() && t.intermediate_values.is_empty());
}

fn waiting_template_enqueues_a_trial<B: LogBackend + JournalBytes>(
    make: impl Fn() -> JournalStorage<B>,
) {
    let s = make();
    let study = s.create_new_study(&[Minimize], Some("enqueue")).unwrap();
    let mut t = template(TrialState::Waiting);
    t = with_param(t, "x", ParamValue::Float(0.25), float(0.0, 1.0));
    t = with_param(t, "n", ParamValue::Int(4), int(0, 10, 2));
    t = with_param(t, "c", ParamValue::Str("b".into()), categorical(&["a", "b"]));
    t.user_attrs.insert("fixed".into(), AttrValue::Bool(true));
    let id = s.create_new_trial(study, Some(&t)).unwrap();
    for handle in [&s, &make()] {
        let got = handle.get_trial(id).unwrap();
        assert_eq!(got.state, TrialState::Waiting);
        assert_eq!(got.datetime_start, None, "an enqueued trial has not started");
        assert_eq!(got.params, t.params);
        assert_eq!(got.distributions, t.distributions);
        assert_eq!(got.user_attrs, t.user_attrs);
        assert_eq!(handle.get_trial_param(id, "c").unwrap(), 1.0);
        assert_eq!(handle.get_n_trials(study, Some(&[TrialState::Waiting])).unwrap(), 1);
    }
}

fn complete_template_copies_everything<B: LogBackend + JournalBytes>(
    make: impl Fn() -> JournalStorage<B>,
) {
    let s = make();
    let study = s.create_new_study(&[Minimize, Maximize], Some("add")).unwrap();
    s.create_new_trial(study, None).unwrap(); // so the added trial is number 1, id 1
    let mut t = template(TrialState::Complete);
    t.values = Some(vec![f64::NEG_INFINITY, -0.0].into());
    t.datetime_start = Some(Timestamp(1_700_000_000_123_456));
    t.datetime_complete = Some(Timestamp(1_700_000_360_000_001));
    t = with_param(t, "lr", ParamValue::Float(1e-3), float_log(1e-5, 1.0));
    t = with_param(t, "layers", ParamValue::Int(3), int_log(1, 8));
    let mixed = Distribution::categorical(vec![
        ParamValue::Null,
        ParamValue::Bool(false),
        ParamValue::Int(2),
        ParamValue::Float(f64::NAN),
        ParamValue::Str("s".into()),
    ])
    .unwrap();
    t = with_param(t, "mixed", ParamValue::Float(f64::NAN), mixed);
    t.user_attrs.insert("nested".into(), nested_attr());
    t.system_attrs.insert("sys".into(), AttrValue::Int(-1));
    t.intermediate_values.insert((0i64).into(), f64::NAN);
    t.intermediate_values.insert((1i64).into(), f64::INFINITY);
    t.intermediate_values.insert((-5i64).into(), 0.5);
    let id = s.create_new_trial(study, Some(&t)).unwrap();
    let expected = FrozenTrial { trial_id: 1, number: 1, study_id: study, ..t.clone() };
    for handle in [&s, &make()] {
        assert_eq!(*handle.get_trial(id).unwrap(), expected);
        assert_eq!(handle.get_trial_param(id, "mixed").unwrap(), 3.0);
    }
}

fn template_is_validated_and_writes_nothing_when_invalid<B: LogBackend + JournalBytes>(
    make: impl Fn() -> JournalStorage<B>,
) {
    let s = make();
    let (study, trial) = study_with_trial(&s, "tpl");
    s.set_trial_param(trial, "x", 0.5, &float(0.0, 1.0)).unwrap();
    // The study already has x as a float parameter: an int x is incompatible.
    let t = with_param(template(TrialState::Waiting), "x", ParamValue::Int(1), int(0, 5, 1));
    let e = fails_writing_nothing(&s, || s.create_new_trial(study, Some(&t)));
    assert_err!(e, Error::IncompatibleDistribution { ref name, .. } if name == "x");
    // A parameter without a distribution.
    let mut t = template(TrialState::Waiting);
    t.params.insert(Arc::from("y"), ParamValue::Float(0.1));
    let e = fails_writing_nothing(&s, || s.create_new_trial(study, Some(&t)));
    assert_err!(e, Error::InvalidArgument(_));
    // A value that is not one of the choices.
    let t = with_param(
        template(TrialState::Waiting),
        "c",
        ParamValue::Str("z".into()),
        categorical(&["a", "b"]),
    );
    let e = fails_writing_nothing(&s, || s.create_new_trial(study, Some(&t)));
    assert_err!(e, Error::InvalidArgument(_));
    // An unknown study.
    let t = template(TrialState::Waiting);
    let e = fails_writing_nothing(&s, || s.create_new_trial(42, Some(&t)));
    assert_err!(e, Error::StudyNotFound { study_id: 42 });
    let e = fails_writing_nothing(&s, || s.create_new_trial(42, None));
    assert_err!(e, Error::StudyNotFound { study_id: 42 });
    assert_eq!(s.get_n_trials(study, None).unwrap(), 1);
}

/// A value with no external form in its distribution (Optuna's `to_external_repr` raises) is
/// refused; a numeric value outside the range is stored, as Optuna's storages store it (its own
/// storage test suite, `test_set_trial_param`, sets 0.5 for a FloatDistribution(1.0, 2.0), and
/// `trialog serve` must pass that suite).
fn set_trial_param_rejects_values_with_no_external_form<B: LogBackend + JournalBytes>(
    make: impl Fn() -> JournalStorage<B>,
) {
    let s = make();
    let (_, trial) = study_with_trial(&s, "range");
    let cases: [(&str, f64, Distribution); 6] = [
        ("n", f64::NAN, int(0, 10, 1)),
        ("n", f64::INFINITY, int(0, 10, 1)),
        ("c", 2.0, categorical(&["a", "b"])),
        ("c", -3.0, categorical(&["a", "b"])),
        ("c", f64::NAN, categorical(&["a", "b"])),
        ("c", 1e300, categorical(&["a", "b"])),
    ];
    for (name, value, dist) in &cases {
        let e = fails_writing_nothing(&s, || s.set_trial_param(trial, name, *value, dist));
        assert_err!(e, Error::InvalidArgument(_));
    }
    assert!(s.get_trial_params(trial).unwrap().is_empty());
    // Outside the range, as Optuna stores it; a negative categorical index counts from the end.
    s.set_trial_param(trial, "x", 1.5, &float(0.0, 1.0)).unwrap();
    s.set_trial_param(trial, "n", 3.0, &int(0, 10, 2)).unwrap();
    s.set_trial_param(trial, "c", -1.0, &categorical(&["a", "b"])).unwrap();
    let params = s.get_trial_params(trial).unwrap();
    assert_eq!(params.get("x"), Some(&ParamValue::Float(1.5)));
    assert_eq!(params.get("c"), Some(&ParamValue::from("b")));
    assert_eq!(params.len(), 3);
}

fn set_trial_param_rejects_incompatible_distributions<B: LogBackend + JournalBytes>(
    make: impl Fn() -> JournalStorage<B>,
) {
    let s = make();
    let (study, first) = study_with_trial(&s, "compat");
    s.set_trial_param(first, "x", 0.5, &float(0.0, 1.0)).unwrap();
    s.set_trial_param(first, "n", 3.0, &int(0, 10, 1)).unwrap();
    s.set_trial_param(first, "c", 0.0, &categorical(&["a", "b", "c"])).unwrap();
    let second = s.create_new_trial(study, None).unwrap();
    let incompatible: [(&str, f64, Distribution); 6] = [
        ("x", 3.0, int(0, 10, 1)),                      // different kind
        ("x", 0.5, float_log(0.1, 1.0)),                // different log
        ("n", 3.0, int_log(1, 10)),                     // different log
        ("n", 0.0, categorical(&["a"])),                // different kind
        ("c", 0.0, categorical(&["a", "b"])),           // different choices
        ("c", 0.0, categorical(&["a", "b", "c", "d"])), // different choices
    ];
    // Checked from another handle too: the distributions it checks against come from replay.
    let other = make();
    for handle in [&s, &other] {
        for (name, value, dist) in &incompatible {
            let e = fails_writing_nothing(handle, || {
                handle.set_trial_param(second, name, *value, dist)
            });
            assert_err!(e, Error::IncompatibleDistribution { name: ref n, .. } if n == name);
        }
    }
    // Same kind, log flag and choices with other bounds or steps is compatible.
    s.set_trial_param(second, "x", 7.5, &float(0.0, 10.0)).unwrap();
    s.set_trial_param(second, "n", 20.0, &int(0, 100, 5)).unwrap();
    s.set_trial_param(second, "c", 2.0, &categorical(&["a", "b", "c"])).unwrap();
    let third = other.create_new_trial(study, None).unwrap();
    other
        .set_trial_param(third, "x", 0.3, &Distribution::float(0.0, 1.0, false, Some(0.1)).unwrap())
        .unwrap();
    assert_eq!(s.get_trial_params(second).unwrap()["x"], ParamValue::Float(7.5));
    assert_eq!(s.get_trial_params(second).unwrap()["n"], ParamValue::Int(20));
}

fn trial_params_internal_and_external<B: LogBackend + JournalBytes>(
    make: impl Fn() -> JournalStorage<B>,
) {
    let s = make();
    let (_, trial) = study_with_trial(&s, "repr");
    let choices = Distribution::categorical(vec![
        ParamValue::Str("adam".into()),
        ParamValue::Str("sgd".into()),
        ParamValue::Null,
        ParamValue::Bool(true),
    ])
    .unwrap();
    s.set_trial_param(trial, "opt", 1.0, &choices).unwrap();
    s.set_trial_param(trial, "flag", 3.0, &choices).unwrap();
    s.set_trial_param(trial, "x", 0.25, &float(0.0, 1.0)).unwrap();
    s.set_trial_param(trial, "n", 6.0, &int(0, 10, 2)).unwrap();
    for handle in [&s, &make()] {
        assert_eq!(handle.get_trial_param(trial, "opt").unwrap(), 1.0);
        assert_eq!(handle.get_trial_param(trial, "flag").unwrap(), 3.0);
        assert_eq!(handle.get_trial_param(trial, "x").unwrap(), 0.25);
        assert_eq!(handle.get_trial_param(trial, "n").unwrap(), 6.0);
        // In the order they were set, as Optuna shows them.
        let params = handle.get_trial_params(trial).unwrap();
        let external: Vec<(&str, &ParamValue)> = params.iter().map(|(k, v)| (&**k, v)).collect();
        assert_eq!(
            external,
            [
                ("opt", &ParamValue::Str("sgd".into())),
                ("flag", &ParamValue::Bool(true)),
                ("x", &ParamValue::Float(0.25)),
                ("n", &ParamValue::Int(6)),
            ]
        );
        assert_eq!(*handle.get_trial(trial).unwrap().distributions["opt"], choices);
        assert_err!(
            handle.get_trial_param(trial, "absent"),
            Err(Error::ParamNotFound { trial_id, ref name }) if trial_id == trial && name == "absent"
        );
    }
    // A parameter set twice on a running trial keeps the last value.
    s.set_trial_param(trial, "x", 0.75, &float(0.0, 1.0)).unwrap();
    assert_eq!(make().get_trial_param(trial, "x").unwrap(), 0.75);
}

/// The names of a trial's parameters and of its distributions, in the trial's order.
fn param_order(t: &FrozenTrial) -> (Vec<&str>, Vec<&str>) {
    (t.params.keys().map(|k| &**k).collect(), t.distributions.keys().map(|k| &**k).collect())
}

/// Optuna shows a trial's parameters in the order they were first set, and a template's in the
/// template's order (a `dict`'s order); every backend replays that order.
fn params_keep_the_order_they_were_set_in<B: LogBackend + JournalBytes>(
    make: impl Fn() -> JournalStorage<B>,
) {
    let s = make();
    let (study, trial) = study_with_trial(&s, "order");
    for name in ["z", "a", "m"] {
        s.set_trial_param(trial, name, 0.5, &float(0.0, 1.0)).unwrap();
    }
    // Set again, a parameter keeps its place (and takes the new value).
    s.set_trial_param(trial, "z", 0.25, &float(0.0, 1.0)).unwrap();
    let mut t = template(TrialState::Waiting);
    for name in ["y", "b", "x"] {
        t = with_param(t, name, ParamValue::Int(2), int(0, 10, 2));
    }
    let waiting = s.create_new_trial(study, Some(&t)).unwrap();
    // A fresh open replays the same order; a file journal opens from its snapshot, which keeps
    // it too.
    let snapshot = s.take_snapshot().unwrap();
    let from_snapshot = make();
    assert_eq!(from_snapshot.opened_from_snapshot().is_some(), snapshot.is_some());
    for handle in [&s, &from_snapshot] {
        let got = handle.get_trial(trial).unwrap();
        assert_eq!(param_order(&got), (vec!["z", "a", "m"], vec!["z", "a", "m"]));
        assert_eq!(got.params["z"], ParamValue::Float(0.25));
        let params = handle.get_trial_params(trial).unwrap();
        assert_eq!(params.keys().map(|k| &**k).collect::<Vec<_>>(), ["z", "a", "m"]);
        let all = handle.get_all_trials(study, None).unwrap();
        assert_eq!(param_order(&all[0]), (vec!["z", "a", "m"], vec!["z", "a", "m"]));
        assert_eq!(param_order(&all[1]), (vec!["y", "b", "x"], vec!["y", "b", "x"]));
        assert_eq!(param_order(&handle.get_trial(waiting).unwrap()), param_order(&t));
    }
}

fn set_trial_state_values_finishes_a_trial<B: LogBackend + JournalBytes>(
    make: impl Fn() -> JournalStorage<B>,
) {
    let s = make();
    let study = s.create_new_study(&[Minimize, Maximize], Some("finish")).unwrap();
    let trial = s.create_new_trial(study, None).unwrap();
    let e = fails_writing_nothing(&s, || {
        s.set_trial_state_values(trial, TrialState::Complete, Some(&[1.0]))
    });
    assert_err!(e, Error::InvalidArgument(_));
    let e = fails_writing_nothing(&s, || {
        s.set_trial_state_values(trial, TrialState::Complete, Some(&[1.0, 2.0, 3.0]))
    });
    assert_err!(e, Error::InvalidArgument(_));
    assert!(s.set_trial_state_values(trial, TrialState::Complete, Some(&[1.5, f64::NAN])).unwrap());
    for handle in [&s, &make()] {
        let t = handle.get_trial(trial).unwrap();
        assert_eq!(t.state, TrialState::Complete);
        let values = t.values.as_ref().expect("values were set");
        assert_eq!(values.len(), 2);
        assert_eq!(
            (values[0].to_bits(), values[1].to_bits()),
            (1.5f64.to_bits(), f64::NAN.to_bits())
        );
        assert!(t.datetime_complete.is_some(), "finishing sets datetime_complete");
    }
    // A state change without values keeps the values None, and a failed trial has no values.
    let failed = s.create_new_trial(study, None).unwrap();
    assert!(s.set_trial_state_values(failed, TrialState::Fail, None).unwrap());
    let t = make().get_trial(failed).unwrap();
    assert_eq!((t.state, t.values.clone()), (TrialState::Fail, None));
    assert!(t.datetime_complete.is_some());
}

fn claim_of_a_waiting_trial_succeeds_exactly_once<B: LogBackend + JournalBytes>(
    make: impl Fn() -> JournalStorage<B>,
) {
    let first = make();
    let second = make(); // opened before the trial exists: it must sync before deciding
    let study = first.create_new_study(&[Minimize], Some("claim")).unwrap();
    let trial = first.create_new_trial(study, Some(&template(TrialState::Waiting))).unwrap();
    assert_eq!(first.get_trial(trial).unwrap().datetime_start, None);
    assert!(first.set_trial_state_values(trial, TrialState::Running, None).unwrap());
    let before = bytes_of(&second);
    assert!(!second.set_trial_state_values(trial, TrialState::Running, None).unwrap());
    assert_eq!(bytes_of(&second), before, "the losing claim wrote something");
    // The first claimant also loses a second claim.
    assert!(!first.set_trial_state_values(trial, TrialState::Running, None).unwrap());
    assert_eq!(bytes_of(&first), before);
    let t = second.get_trial(trial).unwrap();
    assert_eq!(t.state, TrialState::Running);
    assert!(t.datetime_start.is_some(), "a claim sets datetime_start");
    // The winner finishes the trial; both handles see it.
    assert!(first.set_trial_state_values(trial, TrialState::Complete, Some(&[0.1])).unwrap());
    assert_eq!(second.get_trial(trial).unwrap().state, TrialState::Complete);
}

fn finished_trials_reject_every_update<B: LogBackend + JournalBytes>(
    make: impl Fn() -> JournalStorage<B>,
) {
    let s = make();
    let study = s.create_new_study(&[Minimize], Some("finished")).unwrap();
    s.create_new_trial(study, None).unwrap();
    for (number, state) in
        [(1, TrialState::Complete), (2, TrialState::Pruned), (3, TrialState::Fail)]
    {
        let trial = s.create_new_trial(study, None).unwrap();
        let values = (state == TrialState::Complete).then_some([1.0]);
        assert!(s.set_trial_state_values(trial, state, values.as_ref().map(|v| &v[..])).unwrap());
        let other = make();
        for h in [&s, &other] {
            let errors = [
                fails_writing_nothing(h, || {
                    h.set_trial_state_values(trial, TrialState::Running, None)
                }),
                fails_writing_nothing(h, || {
                    h.set_trial_state_values(trial, TrialState::Complete, Some(&[2.0]))
                }),
                fails_writing_nothing(h, || {
                    h.set_trial_state_values(trial, TrialState::Waiting, None)
                }),
                fails_writing_nothing(h, || h.set_trial_param(trial, "x", 0.5, &float(0.0, 1.0))),
                fails_writing_nothing(h, || h.set_trial_intermediate_value(trial, 0, 1.0)),
                fails_writing_nothing(h, || h.set_trial_user_attr(trial, "k", AttrValue::Null)),
                fails_writing_nothing(h, || h.set_trial_system_attr(trial, "k", AttrValue::Null)),
                h.check_trial_is_updatable(trial, state).unwrap_err(),
            ];
            for e in errors {
                assert_err!(
                    e,
                    Error::TrialFinished { trial_id, number: n, state: st }
                        if trial_id == trial && n == number && st == state
                );
            }
        }
    }
}

fn check_trial_is_updatable_follows_the_given_state<B: LogBackend + JournalBytes>(
    make: impl Fn() -> JournalStorage<B>,
) {
    let s = make();
    let (_, trial) = study_with_trial(&s, "updatable");
    s.check_trial_is_updatable(trial, TrialState::Running).unwrap();
    s.check_trial_is_updatable(trial, TrialState::Waiting).unwrap();
    // Optuna's check looks at the state the caller passes, not the stored one.
    assert_err!(
        s.check_trial_is_updatable(trial, TrialState::Pruned),
        Err(Error::TrialFinished { state: TrialState::Pruned, number: 0, .. })
    );
    assert_err!(
        s.check_trial_is_updatable(77, TrialState::Complete),
        Err(Error::TrialNotFound { trial_id: 77 })
    );
}

fn intermediate_values_keep_non_finite_values_exactly<B: LogBackend + JournalBytes>(
    make: impl Fn() -> JournalStorage<B>,
) {
    let s = make();
    let (_, trial) = study_with_trial(&s, "intermediate");
    let payload_nan = f64::from_bits(0x7ff8_0000_dead_beef);
    let values =
        [(0, f64::INFINITY), (1, f64::NEG_INFINITY), (2, f64::NAN), (3, payload_nan), (4, -0.0)];
    for (step, v) in values {
        s.set_trial_intermediate_value(trial, step, v).unwrap();
    }
    s.set_trial_intermediate_value(trial, -1, 1.0).unwrap();
    s.set_trial_intermediate_value(trial, -1, 2.0).unwrap(); // overwrite keeps the last
    // Optuna's JSON journal writes every NaN as `NaN`: its payload bits do not survive a reopen.
    let bits =
        |v: f64| if v.is_nan() && !B::NAN_PAYLOADS { f64::NAN.to_bits() } else { v.to_bits() };
    for handle in [&s, &make()] {
        let t = handle.get_trial(trial).unwrap();
        let got: Vec<(i64, u64)> =
            t.intermediate_values.iter().map(|(k, v)| (k.as_i64().unwrap(), bits(*v))).collect();
        let mut want: Vec<(i64, u64)> = values.iter().map(|(k, v)| (*k, bits(*v))).collect();
        want.insert(0, (-1, 2.0f64.to_bits()));
        assert_eq!(got, want);
    }
}

fn trial_attrs_round_trip<B: LogBackend + JournalBytes>(make: impl Fn() -> JournalStorage<B>) {
    let s = make();
    let (_, trial) = study_with_trial(&s, "trial-attrs");
    s.set_trial_user_attr(trial, "nested", nested_attr()).unwrap();
    s.set_trial_user_attr(trial, "a", AttrValue::Int(1)).unwrap();
    s.set_trial_user_attr(trial, "a", AttrValue::Int(2)).unwrap();
    s.set_trial_system_attr(trial, "sys", AttrValue::Float(f64::NAN)).unwrap();
    for handle in [&s, &make()] {
        let user = handle.get_trial_user_attrs(trial).unwrap();
        let keys: Vec<&str> = user.keys().map(String::as_str).collect();
        assert_eq!(keys, ["a", "nested"]);
        assert_eq!(user["a"], AttrValue::Int(2));
        assert_eq!(user["nested"], nested_attr());
        let sys = handle.get_trial_system_attrs(trial).unwrap();
        assert_eq!(sys.len(), 1);
        assert_eq!(sys["sys"], AttrValue::Float(f64::NAN));
    }
}

fn all_trials_and_counts_filter_by_state<B: LogBackend + JournalBytes>(
    make: impl Fn() -> JournalStorage<B>,
) {
    let s = make();
    let study = s.create_new_study(&[Minimize], Some("filter")).unwrap();
    let other = s.create_new_study(&[Minimize], Some("other")).unwrap();
    s.create_new_trial(other, None).unwrap();
    let running = s.create_new_trial(study, None).unwrap();
    let done = complete(&s, study, 1.0);
    let pruned = s.create_new_trial(study, None).unwrap();
    assert!(s.set_trial_state_values(pruned, TrialState::Pruned, None).unwrap());
    let waiting = s.create_new_trial(study, Some(&template(TrialState::Waiting))).unwrap();
    let done2 = complete(&s, study, 2.0);
    let h = make();
    let ids = |states: Option<&[TrialState]>| -> Vec<u64> {
        h.get_all_trials(study, states).unwrap().iter().map(|t| t.trial_id).collect()
    };
    assert_eq!(ids(None), [running, done, pruned, waiting, done2]);
    assert_eq!(ids(Some(&[TrialState::Complete])), [done, done2]);
    assert_eq!(ids(Some(&[TrialState::Waiting, TrialState::Pruned])), [pruned, waiting]);
    assert_eq!(ids(Some(&[TrialState::Fail])), Vec::<u64>::new());
    assert_eq!(ids(Some(&[])), Vec::<u64>::new());
    assert_eq!(h.get_n_trials(study, None).unwrap(), 5);
    assert_eq!(h.get_n_trials(study, Some(&[TrialState::Complete])).unwrap(), 2);
    assert_eq!(h.get_n_trials(study, Some(&[TrialState::Running])).unwrap(), 1);
    assert_eq!(h.get_n_trials(other, None).unwrap(), 1);
    let numbers: Vec<u64> =
        h.get_all_trials(study, None).unwrap().iter().map(|t| t.number).collect();
    assert_eq!(numbers, [0, 1, 2, 3, 4]);
    assert_err!(h.get_all_trials(9, None), Err(Error::StudyNotFound { study_id: 9 }));
    assert_err!(h.get_n_trials(9, None), Err(Error::StudyNotFound { study_id: 9 }));
}

fn best_trial_minimize_and_maximize_first_wins_ties<B: LogBackend + JournalBytes>(
    make: impl Fn() -> JournalStorage<B>,
) {
    let s = make();
    let min = s.create_new_study(&[Minimize], Some("min")).unwrap();
    let max = s.create_new_study(&[Maximize], Some("max")).unwrap();
    assert_err!(s.get_best_trial(min), Err(Error::NoCompletedTrials { study_id }) if study_id == min);
    // Unfinished and pruned trials never count, even with a better value.
    let pruned = s.create_new_trial(min, None).unwrap();
    assert!(s.set_trial_state_values(pruned, TrialState::Pruned, Some(&[-100.0])).unwrap());
    s.create_new_trial(min, None).unwrap();
    assert_err!(s.get_best_trial(min), Err(Error::NoCompletedTrials { .. }));
    complete(&s, min, 3.0);
    let first_best = complete(&s, min, 1.0);
    complete(&s, min, 1.0);
    complete(&s, min, 2.0);
    complete(&s, max, 1.0);
    let max_best = complete(&s, max, 5.0);
    complete(&s, max, 5.0);
    complete(&s, max, -1.0);
    for handle in [&s, &make()] {
        assert_eq!(handle.get_best_trial(min).unwrap().trial_id, first_best);
        assert_eq!(handle.get_best_trial(max).unwrap().trial_id, max_best);
        assert_eq!(handle.get_best_trial(max).unwrap().value(), Some(5.0));
    }
    let multi = s.create_new_study(&[Minimize, Maximize], Some("multi")).unwrap();
    let t = s.create_new_trial(multi, None).unwrap();
    assert!(s.set_trial_state_values(t, TrialState::Complete, Some(&[1.0, 2.0])).unwrap());
    assert_err!(
        s.get_best_trial(multi),
        Err(Error::MultiObjectiveStudy { study_id, n_objectives: 2 }) if study_id == multi
    );
    assert_err!(s.get_best_trial(99), Err(Error::StudyNotFound { study_id: 99 }));
}

/// Optuna's `BaseStorage.get_best_trial` raises "No trials are completed yet" before it looks at
/// the directions, so a multi-objective study without a COMPLETE trial reports the missing trial.
fn best_trial_reports_no_completed_trials_before_multi_objective<B: LogBackend + JournalBytes>(
    make: impl Fn() -> JournalStorage<B>,
) {
    let s = make();
    let multi = s.create_new_study(&[Minimize, Maximize], Some("multi")).unwrap();
    s.create_new_trial(multi, None).unwrap();
    assert_err!(
        s.get_best_trial(multi),
        Err(Error::NoCompletedTrials { study_id }) if study_id == multi
    );
}

fn deleted_study_hides_its_trials_and_ids_are_not_reused<B: LogBackend + JournalBytes>(
    make: impl Fn() -> JournalStorage<B>,
) {
    let s = make();
    let (gone, t0) = study_with_trial(&s, "gone");
    let t1 = s.create_new_trial(gone, None).unwrap();
    let (kept, t2) = study_with_trial(&s, "kept");
    s.delete_study(gone).unwrap();
    for handle in [&s, &make()] {
        for t in [t0, t1] {
            assert_err!(handle.get_trial(t), Err(Error::TrialNotFound { trial_id }) if trial_id == t);
            assert_err!(handle.get_trial_number_from_id(t), Err(Error::TrialNotFound { .. }));
            assert_err!(handle.get_trial_params(t), Err(Error::TrialNotFound { .. }));
            let e =
                fails_writing_nothing(handle, || handle.set_trial_intermediate_value(t, 0, 1.0));
            assert_err!(e, Error::TrialNotFound { trial_id } if trial_id == t);
            let e = fails_writing_nothing(handle, || {
                handle.set_trial_state_values(t, TrialState::Complete, Some(&[1.0]))
            });
            assert_err!(e, Error::TrialNotFound { .. });
        }
        assert_err!(handle.get_all_trials(gone, None), Err(Error::StudyNotFound { .. }));
        assert_err!(
            handle.get_trial_id_from_study_id_trial_number(gone, 0),
            Err(Error::StudyNotFound { study_id }) if study_id == gone
        );
        assert_eq!(handle.get_trial(t2).unwrap().study_id, kept);
    }
    let recreated = s.create_new_study(&[Minimize], Some("gone")).unwrap();
    assert_ne!(recreated, gone);
    let t3 = s.create_new_trial(recreated, None).unwrap();
    assert_eq!(t3, 3, "trial ids of the deleted study are not reused");
    assert_eq!(s.get_trial_number_from_id(t3).unwrap(), 0);
}

fn unknown_ids_are_named_in_errors<B: LogBackend + JournalBytes>(
    make: impl Fn() -> JournalStorage<B>,
) {
    let s = make();
    let (study, _) = study_with_trial(&s, "known");
    assert_err!(s.get_study_name_from_id(5), Err(Error::StudyNotFound { study_id: 5 }));
    assert_err!(s.get_study_directions(5), Err(Error::StudyNotFound { study_id: 5 }));
    assert_err!(
        s.get_trial_id_from_study_id_trial_number(study, 1),
        Err(Error::TrialNumberNotFound { study_id, number: 1 }) if study_id == study
    );
    assert_err!(
        s.get_trial_id_from_study_id_trial_number(5, 0),
        Err(Error::StudyNotFound { study_id: 5 })
    );
    assert_err!(s.get_trial(8), Err(Error::TrialNotFound { trial_id: 8 }));
    assert_err!(s.get_trial_number_from_id(8), Err(Error::TrialNotFound { trial_id: 8 }));
    assert_err!(s.get_trial_param(8, "x"), Err(Error::TrialNotFound { trial_id: 8 }));
    assert_err!(s.get_trial_user_attrs(8), Err(Error::TrialNotFound { trial_id: 8 }));
    assert_err!(s.get_trial_system_attrs(8), Err(Error::TrialNotFound { trial_id: 8 }));
    assert_err!(s.get_trial(u64::MAX), Err(Error::TrialNotFound { trial_id: u64::MAX }));
    let writes: [Error; 7] = [
        fails_writing_nothing(&s, || s.set_trial_param(8, "x", 0.5, &float(0.0, 1.0))),
        fails_writing_nothing(&s, || s.set_trial_state_values(8, TrialState::Complete, None)),
        fails_writing_nothing(&s, || {
            s.set_trial_state_values(8, TrialState::Complete, Some(&[1.0]))
        }),
        fails_writing_nothing(&s, || s.set_trial_state_values(8, TrialState::Running, None)),
        fails_writing_nothing(&s, || s.set_trial_intermediate_value(8, 0, 1.0)),
        fails_writing_nothing(&s, || s.set_trial_user_attr(8, "k", AttrValue::Null)),
        fails_writing_nothing(&s, || s.set_trial_system_attr(8, "k", AttrValue::Null)),
    ];
    for e in writes {
        assert_err!(e, Error::TrialNotFound { trial_id: 8 });
    }
    let e = fails_writing_nothing(&s, || s.delete_study(5));
    assert_err!(e, Error::StudyNotFound { study_id: 5 });
}

// ---- several handles --------------------------------------------------------------------------

fn second_handle_sees_writes_on_its_next_call<B: LogBackend + JournalBytes>(
    make: impl Fn() -> JournalStorage<B>,
) {
    let a = make();
    let b = make();
    let study = a.create_new_study(&[Minimize], Some("shared")).unwrap();
    assert_eq!(b.get_study_id_from_name("shared").unwrap(), study);
    let t0 = b.create_new_trial(study, None).unwrap();
    let snapshot = a.get_trial(t0).unwrap();
    assert_eq!(snapshot.state, TrialState::Running);
    a.set_trial_param(t0, "x", 0.5, &float(0.0, 1.0)).unwrap();
    b.set_trial_intermediate_value(t0, 0, 0.9).unwrap();
    assert!(a.set_trial_state_values(t0, TrialState::Complete, Some(&[0.5])).unwrap());
    let seen = b.get_trial(t0).unwrap();
    assert_eq!(seen.state, TrialState::Complete);
    assert_eq!(seen.params["x"], ParamValue::Float(0.5));
    assert_eq!(seen.intermediate_value(0), Some(0.9));
    // A snapshot returned earlier never changes.
    assert_eq!(snapshot.state, TrialState::Running);
    assert!(snapshot.params.is_empty() && snapshot.intermediate_values.is_empty());
    // Interleaved creates from both handles keep one id sequence.
    let t1 = a.create_new_trial(study, None).unwrap();
    let t2 = b.create_new_trial(study, None).unwrap();
    assert_eq!((t1, t2), (1, 2));
    assert_eq!(state_of(&a), state_of(&b));
}

fn concurrent_claims_pop_each_waiting_trial_exactly_once<B: LogBackend + JournalBytes>(
    make: impl Fn() -> JournalStorage<B>,
) {
    let setup = make();
    let study = setup.create_new_study(&[Minimize], Some("queue")).unwrap();
    let waiting = template(TrialState::Waiting);
    let trials: Vec<u64> =
        (0..12).map(|_| setup.create_new_trial(study, Some(&waiting)).unwrap()).collect();
    // Two threads share one handle (two workers of one process), two have their own.
    let shared = make();
    let own = [make(), make()];
    let workers = [&shared, &shared, &own[0], &own[1]];
    let claimed: Vec<Vec<u64>> = std::thread::scope(|scope| {
        let trials = &trials;
        let spawned: Vec<_> = workers
            .into_iter()
            .map(|h| {
                scope.spawn(move || -> Vec<u64> {
                    let claim = |t: u64| h.set_trial_state_values(t, TrialState::Running, None);
                    trials.iter().copied().filter(|&t| claim(t).unwrap()).collect()
                })
            })
            .collect();
        spawned.into_iter().map(|w| w.join().unwrap()).collect()
    });
    let mut all = claimed.concat();
    all.sort_unstable();
    assert_eq!(all, trials, "every waiting trial is claimed exactly once: {claimed:?}");
    let running = make().get_n_trials(study, Some(&[TrialState::Running])).unwrap();
    assert_eq!(running, trials.len());
}

fn concurrent_creates_of_one_study_name_succeed_once<B: LogBackend + JournalBytes>(
    make: impl Fn() -> JournalStorage<B>,
) {
    let handles = [make(), make(), make()];
    let results: Vec<trialog::Result<u64>> = std::thread::scope(|scope| {
        let spawned: Vec<_> = handles
            .iter()
            .map(|h| scope.spawn(move || h.create_new_study(&[Minimize], Some("race"))))
            .collect();
        spawned.into_iter().map(|w| w.join().unwrap()).collect()
    });
    let winners: Vec<u64> = results.iter().filter_map(|r| r.as_ref().ok().copied()).collect();
    assert_eq!(winners, [0], "{results:?}");
    for r in &results {
        if let Err(e) = r {
            assert_err!(e, Error::DuplicateStudyName { name } if name == "race");
        }
    }
    let studies = make().get_all_studies().unwrap();
    assert_eq!(studies.len(), 1);
}

fn reopen_replays_the_same_state<B: LogBackend + JournalBytes>(
    make: impl Fn() -> JournalStorage<B>,
) {
    let s = make();
    let study = s.create_new_study(&[Maximize], Some("reopen")).unwrap();
    s.set_study_user_attr(study, "k", nested_attr()).unwrap();
    let doomed = s.create_new_study(&[Minimize], None).unwrap();
    s.create_new_trial(doomed, None).unwrap();
    let t = s.create_new_trial(study, None).unwrap();
    s.set_trial_param(t, "c", 1.0, &categorical(&["a", "b"])).unwrap();
    s.set_trial_intermediate_value(t, 3, f64::NAN).unwrap();
    s.set_trial_system_attr(t, "s", AttrValue::Int(3)).unwrap();
    assert!(s.set_trial_state_values(t, TrialState::Complete, Some(&[2.0])).unwrap());
    s.create_new_trial(study, Some(&template(TrialState::Waiting))).unwrap();
    s.delete_study(doomed).unwrap();
    let live = state_of(&s);
    let reopened = make();
    assert_eq!(state_of(&reopened), live);
    assert_eq!(reopened.get_best_trial(study).unwrap().trial_id, t);
    assert_eq!(reopened.get_trial(t).unwrap(), s.get_trial(t).unwrap());
}

/// Generates `file::<name>` and `memory::<name>` tests for each generic scenario (each name
/// optionally preceded by attributes such as `#[ignore = "..."]`).
macro_rules! on_every_backend {
    ($($(#[$attr:meta])* $name:ident),* $(,)?) => {
        mod file {
            $(
                #[test]
                $(#[$attr])*
                fn $name() {
                    let journal = crate::common::FileJournal::new();
                    super::$name(|| journal.open());
                }
            )*
        }
        mod memory {
            $(
                #[test]
                $(#[$attr])*
                fn $name() {
                    let backend = trialog::MemoryBackend::new();
                    super::$name(|| trialog::JournalStorage::new(backend.clone()).unwrap());
                }
            )*
        }
        mod optuna_file {
            $(
                #[test]
                $(#[$attr])*
                fn $name() {
                    let journal = crate::common::FileJournal::new();
                    super::$name(|| trialog::JournalStorage::open_optuna(journal.path()).unwrap());
                }
            )*
        }
        // A redis-server of each test's own (`redis_common`), on a prefix that is not Optuna's
        // default, so that the key-space comparisons see the prefix work.
        #[cfg(all(unix, feature = "redis"))]
        mod redis {
            $(
                #[test]
                $(#[$attr])*
                fn $name() {
                    if !crate::redis_common::have_redis(concat!("redis::", stringify!($name))) {
                        return;
                    }
                    let server = crate::redis_common::RedisServer::start();
                    let url = server.url("suite");
                    super::$name(|| trialog::JournalStorage::open_url(&url).unwrap());
                }
            )*
        }
    };
}

on_every_backend!(
    study_ids_count_up_and_are_never_reused,
    generated_names_start_with_no_name,
    duplicate_study_name_is_rejected_and_writes_nothing,
    study_lookups_and_directions,
    study_attrs_keep_nested_values_and_nan,
    deeply_nested_attrs_are_refused_or_readable,
    trial_ids_count_up_across_studies_and_numbers_per_study,
    waiting_template_enqueues_a_trial,
    complete_template_copies_everything,
    template_is_validated_and_writes_nothing_when_invalid,
    set_trial_param_rejects_values_with_no_external_form,
    set_trial_param_rejects_incompatible_distributions,
    trial_params_internal_and_external,
    params_keep_the_order_they_were_set_in,
    set_trial_state_values_finishes_a_trial,
    claim_of_a_waiting_trial_succeeds_exactly_once,
    finished_trials_reject_every_update,
    check_trial_is_updatable_follows_the_given_state,
    intermediate_values_keep_non_finite_values_exactly,
    trial_attrs_round_trip,
    all_trials_and_counts_filter_by_state,
    best_trial_minimize_and_maximize_first_wins_ties,
    best_trial_reports_no_completed_trials_before_multi_objective,
    deleted_study_hides_its_trials_and_ids_are_not_reused,
    unknown_ids_are_named_in_errors,
    second_handle_sees_writes_on_its_next_call,
    concurrent_claims_pop_each_waiting_trial_exactly_once,
    concurrent_creates_of_one_study_name_succeed_once,
    reopen_replays_the_same_state,
);

/// The `redis::*` tests' "nothing was written" checks compare every key under the prefix: a
/// write of any key there, a log entry or not, changes what they compare.
#[cfg(all(unix, feature = "redis"))]
#[test]
fn redis_journal_bytes_see_every_key_under_the_prefix() {
    if !redis_common::have_redis("redis_journal_bytes_see_every_key_under_the_prefix") {
        return;
    }
    let server = redis_common::RedisServer::start();
    let s = JournalStorage::open_url(&server.url("a*b")).unwrap();
    let empty = bytes_of(&s);
    s.create_new_study(&[Minimize], Some("x")).unwrap();
    let one = bytes_of(&s);
    assert_ne!(one, empty);
    let mut c = server.client();
    redis_common::set(&mut c, "a*b:anything", "1");
    assert_ne!(bytes_of(&s), one);
    // Keys of other prefixes (including ones the glob would match unescaped) are not the
    // journal's.
    let before = bytes_of(&s);
    redis_common::set(&mut c, "aXb:log:0", "1");
    redis_common::set(&mut c, "other:log:0", "1");
    assert_eq!(bytes_of(&s), before);
}
