//! The storage trait: the study API runs over `dyn Storage`, and the trait's provided methods
//! (written with the required ones only, as Optuna's base class) answer as the journal's own
//! faster ones do.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use trialog::study::{TellResult, create_study, load_study};
use trialog::{
    AttrValue, Distribution, Error, FrozenStudy, FrozenTrial, JournalStorage, MemoryBackend,
    Result, Storage, StudyDirection, TrialState,
};

/// A store that implements only the trait's required methods (by asking a journal), so every
/// provided method runs its default body.
struct RequiredOnly(JournalStorage<MemoryBackend>);

impl Storage for RequiredOnly {
    fn create_new_study(&self, d: &[StudyDirection], name: Option<&str>) -> Result<u64> {
        self.0.create_new_study(d, name)
    }
    fn delete_study(&self, study_id: u64) -> Result<()> {
        self.0.delete_study(study_id)
    }
    fn set_study_user_attr(&self, study_id: u64, key: &str, value: AttrValue) -> Result<()> {
        self.0.set_study_user_attr(study_id, key, value)
    }
    fn set_study_system_attr(&self, study_id: u64, key: &str, value: AttrValue) -> Result<()> {
        self.0.set_study_system_attr(study_id, key, value)
    }
    fn get_study_id_from_name(&self, study_name: &str) -> Result<u64> {
        self.0.get_study_id_from_name(study_name)
    }
    fn get_study_name_from_id(&self, study_id: u64) -> Result<String> {
        self.0.get_study_name_from_id(study_id)
    }
    fn get_study_directions(&self, study_id: u64) -> Result<Vec<StudyDirection>> {
        self.0.get_study_directions(study_id)
    }
    fn get_study_user_attrs(&self, study_id: u64) -> Result<BTreeMap<String, AttrValue>> {
        self.0.get_study_user_attrs(study_id)
    }
    fn get_study_system_attrs(&self, study_id: u64) -> Result<BTreeMap<String, AttrValue>> {
        self.0.get_study_system_attrs(study_id)
    }
    fn get_all_studies(&self) -> Result<Vec<FrozenStudy>> {
        self.0.get_all_studies()
    }
    fn create_new_trial(&self, study_id: u64, template: Option<&FrozenTrial>) -> Result<u64> {
        self.0.create_new_trial(study_id, template)
    }
    fn set_trial_param(&self, id: u64, name: &str, x: f64, d: &Distribution) -> Result<()> {
        self.0.set_trial_param(id, name, x, d)
    }
    fn set_trial_state_values(&self, id: u64, s: TrialState, v: Option<&[f64]>) -> Result<bool> {
        self.0.set_trial_state_values(id, s, v)
    }
    fn set_trial_intermediate_value(&self, trial_id: u64, step: i64, value: f64) -> Result<()> {
        self.0.set_trial_intermediate_value(trial_id, step, value)
    }
    fn set_trial_user_attr(&self, trial_id: u64, key: &str, value: AttrValue) -> Result<()> {
        self.0.set_trial_user_attr(trial_id, key, value)
    }
    fn set_trial_system_attr(&self, trial_id: u64, key: &str, value: AttrValue) -> Result<()> {
        self.0.set_trial_system_attr(trial_id, key, value)
    }
    fn get_trial(&self, trial_id: u64) -> Result<Arc<FrozenTrial>> {
        self.0.get_trial(trial_id)
    }
    fn get_all_trials(
        &self,
        study_id: u64,
        states: Option<&[TrialState]>,
    ) -> Result<Vec<Arc<FrozenTrial>>> {
        self.0.get_all_trials(study_id, states)
    }
}

/// The same question to the journal (its own methods) and to the default bodies.
fn both<T: PartialEq + std::fmt::Debug>(
    store: &RequiredOnly,
    ask: impl Fn(&dyn Storage) -> Result<T>,
) -> Result<T> {
    let fast = ask(&store.0);
    let default = ask(store);
    match (&fast, &default) {
        (Ok(a), Ok(b)) => assert_eq!(a, b),
        (Err(a), Err(b)) => assert_eq!(a.to_string(), b.to_string()),
        _ => panic!("journal says {fast:?}, default body says {default:?}"),
    }
    fast
}

#[test]
fn provided_methods_answer_as_the_journals_own() {
    let store = RequiredOnly(JournalStorage::new(MemoryBackend::new()).unwrap());
    let study = store.create_new_study(&[StudyDirection::Maximize], Some("s")).unwrap();
    let dist = Distribution::float(0.0, 10.0, false, None).unwrap();
    // Two ties for best (the first one must win), a NaN, a FAIL and a RUNNING trial.
    for (x, state) in [
        (3.0, TrialState::Complete),
        (7.0, TrialState::Complete),
        (7.0, TrialState::Complete),
        (f64::NAN, TrialState::Complete),
        (9.0, TrialState::Fail),
        (1.0, TrialState::Running),
    ] {
        let id = store.create_new_trial(study, None).unwrap();
        store.set_trial_param(id, "x", if x.is_nan() { 5.0 } else { x }, &dist).unwrap();
        store.set_trial_user_attr(id, "u", AttrValue::Int(id as i64)).unwrap();
        if state != TrialState::Running {
            let values = (state == TrialState::Complete).then_some([x]);
            store.set_trial_state_values(id, state, values.as_ref().map(|v| &v[..])).unwrap();
        }
    }
    let best = both(&store, |s| s.get_best_trial(study)).unwrap();
    assert_eq!(best.number, 1, "the first of two equal best values wins");
    assert_eq!(both(&store, |s| s.get_n_trials(study, None)).unwrap(), 6);
    let finished = [TrialState::Complete, TrialState::Fail];
    assert_eq!(both(&store, |s| s.get_n_trials(study, Some(&finished))).unwrap(), 5);
    for number in 0..7 {
        let r = both(&store, |s| s.get_trial_id_from_study_id_trial_number(study, number));
        assert_eq!(r.is_ok(), number < 6, "{r:?}");
    }
    assert!(matches!(
        both(&store, |s| s.get_trial_id_from_study_id_trial_number(study, 6)),
        Err(Error::TrialNumberNotFound { number: 6, .. })
    ));
    for id in 0..6 {
        both(&store, |s| s.get_trial_number_from_id(id)).unwrap();
        both(&store, |s| s.get_trial_param(id, "x")).unwrap();
        both(&store, |s| s.get_trial_params(id)).unwrap();
        both(&store, |s| s.get_trial_user_attrs(id)).unwrap();
        both(&store, |s| s.get_trial_system_attrs(id)).unwrap();
        let trial = store.get_trial(id).unwrap();
        both(&store, |s| s.check_trial_is_updatable(id, trial.state)).ok();
    }
    assert!(matches!(
        both(&store, |s| s.get_trial_param(0, "y")),
        Err(Error::ParamNotFound { trial_id: 0, .. })
    ));
    assert!(matches!(
        both(&store, |s| s.check_trial_is_updatable(0, TrialState::Complete)),
        Err(Error::TrialFinished { trial_id: 0, number: 0, .. })
    ));
    both(&store, |s| s.check_trial_is_updatable(5, TrialState::Running)).unwrap();
    assert!(matches!(both(&store, |s| s.get_trial(99)), Err(Error::TrialNotFound { .. })));

    // Multi-objective and empty studies: Optuna's order of checks.
    let multi = store.create_new_study(&[StudyDirection::Minimize; 2], None).unwrap();
    assert!(matches!(
        both(&store, |s| s.get_best_trial(multi)),
        Err(Error::NoCompletedTrials { .. })
    ));
    let id = store.create_new_trial(multi, None).unwrap();
    store.set_trial_state_values(id, TrialState::Complete, Some(&[1.0, 2.0])).unwrap();
    assert!(matches!(
        both(&store, |s| s.get_best_trial(multi)),
        Err(Error::MultiObjectiveStudy { n_objectives: 2, .. })
    ));
}

#[test]
fn heartbeats_are_not_supported_by_default() {
    let store = RequiredOnly(JournalStorage::new(MemoryBackend::new()).unwrap());
    let study = store.create_new_study(&[StudyDirection::Minimize], None).unwrap();
    let trial = store.create_new_trial(study, None).unwrap();
    assert_eq!(store.heartbeat(), None);
    let second = Duration::from_secs(1);
    for r in [
        store.record_heartbeat(trial).map(|()| Vec::new()),
        store.fail_stale_trials(study, second),
        store.stale_trial_ids(study, second),
    ] {
        assert!(matches!(r, Err(Error::NotSupported { what: "heartbeats" })), "{r:?}");
    }
    // A study over such a store runs without heartbeats (optimize never asks for stale trials).
    let study = create_study(Arc::new(store), Some("h"), &[StudyDirection::Minimize]).unwrap();
    let report = study.optimize(Some(3), None, |t| Ok(t.suggest_float("x", 0.0, 1.0)?)).unwrap();
    assert_eq!(report.complete, 3);
}

#[test]
fn the_study_api_runs_over_a_dyn_storage() {
    let storage: Arc<dyn Storage> = Arc::new(JournalStorage::new(MemoryBackend::new()).unwrap());
    let study = create_study(Arc::clone(&storage), Some("d"), &[StudyDirection::Minimize]).unwrap();
    let enqueued = study
        .enqueue_trial(&[("x", 0.25.into(), Distribution::float(0.0, 1.0, false, None).unwrap())])
        .unwrap();
    // TPE (the default sampler) reads the trials through the erased store.
    let report = study
        .optimize(Some(15), None, |t| {
            let x = t.suggest_float("x", 0.0, 1.0)?;
            t.report(0, x)?;
            Ok((x - 0.5).powi(2))
        })
        .unwrap();
    assert_eq!(report.complete, 15);
    assert_eq!(storage.get_trial(enqueued).unwrap().state, TrialState::Complete);
    let loaded = load_study(storage, "d").unwrap();
    let mut t = loaded.ask().unwrap();
    t.suggest_float("x", 0.0, 1.0).unwrap();
    loaded.tell(&t, TellResult::Complete(vec![0.0])).unwrap();
    assert_eq!(loaded.best_value().unwrap(), 0.0);
    assert_eq!(loaded.trials(None).unwrap().len(), 16);
}

#[test]
fn try_get_trial_now_answers_as_get_trial_or_not_at_all() {
    // The default body never answers.
    let required = RequiredOnly(JournalStorage::new(MemoryBackend::new()).unwrap());
    let study = required.create_new_study(&[StudyDirection::Minimize], None).unwrap();
    let trial = required.create_new_trial(study, None).unwrap();
    assert!(required.try_get_trial_now(trial).is_none());

    // A journal file: answered at once (nobody holds the lock), synced with what another handle
    // wrote, exactly as `get_trial`.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("j");
    let open = || JournalStorage::new(trialog::FileBackend::open(&path).unwrap()).unwrap();
    let (reader, writer) = (open(), open());
    let study = writer.create_new_study(&[StudyDirection::Minimize], None).unwrap();
    let trial = writer.create_new_trial(study, None).unwrap();
    let now = |id| Storage::try_get_trial_now(&reader, id).expect("answered at once");
    assert_eq!(now(trial).unwrap(), reader.get_trial(trial).unwrap());
    writer.set_trial_intermediate_value(trial, 3, 0.5).unwrap();
    assert_eq!(now(trial).unwrap().intermediate_value(3), Some(0.5));
    writer.set_trial_state_values(trial, TrialState::Complete, Some(&[2.0])).unwrap();
    let finished = now(trial).unwrap();
    assert_eq!(finished.state, TrialState::Complete);
    assert_eq!(finished, reader.get_trial(trial).unwrap());
    assert!(matches!(now(trial + 1), Err(Error::TrialNotFound { .. })));
    writer.delete_study(study).unwrap();
    assert!(matches!(now(trial), Err(Error::TrialNotFound { .. })));
}
