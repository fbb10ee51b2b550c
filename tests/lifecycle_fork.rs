//! Fork, replace, copy and delete over the storage trait: what each trial becomes, what is left
//! out, which errors leave every file as it was.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use trialog::lifecycle::{ForkOptions, copy_study, delete_study, fork_study, replace_with_fork};
use trialog::{
    AttrValue, Distribution, Error, FrozenStudy, FrozenTrial, HeartbeatOptions, JournalStorage,
    ParamValue, Storage, StudyDirection, TrialState,
};

const S: &str = "study";

fn float() -> Distribution {
    Distribution::float(-1.0, 1.0, false, None).unwrap()
}

/// A study with one trial of every state and kind of content; trials 6.. come after the fork
/// point 5 used below.
fn build(storage: &dyn Storage) -> u64 {
    let dirs = [StudyDirection::Minimize, StudyDirection::Maximize];
    let study = storage.create_new_study(&dirs, Some(S)).unwrap();
    storage.set_study_user_attr(study, "owner", AttrValue::String("me".into())).unwrap();
    storage.set_study_system_attr(study, "grid:enqueued", AttrValue::Bool(true)).unwrap();
    let cat =
        Distribution::categorical(vec![ParamValue::Str("a".into()), ParamValue::Null]).unwrap();
    let int = Distribution::int(1, 64, true, 1).unwrap();
    let states = [
        TrialState::Complete, // 0
        TrialState::Pruned,   // 1
        TrialState::Fail,     // 2
        TrialState::Waiting,  // 3
        TrialState::Running,  // 4
        TrialState::Complete, // 5
        TrialState::Waiting,  // 6
        TrialState::Running,  // 7
        TrialState::Complete, // 8
    ];
    for (i, state) in states.into_iter().enumerate() {
        let id = if state == TrialState::Waiting {
            let t = FrozenTrial::new(0, 0, study, TrialState::Waiting);
            storage.create_new_trial(study, Some(&t)).unwrap()
        } else {
            storage.create_new_trial(study, None).unwrap()
        };
        if state == TrialState::Waiting {
            storage
                .set_trial_system_attr(id, "fixed_params", AttrValue::Map(BTreeMap::new()))
                .unwrap();
            continue;
        }
        storage.set_trial_param(id, "x", 0.25 * i as f64 - 1.0, &float()).unwrap();
        storage.set_trial_param(id, "c", (i % 2) as f64, &cat).unwrap();
        storage.set_trial_param(id, "n", 4.0, &int).unwrap();
        storage.set_trial_intermediate_value(id, 0, f64::NAN).unwrap();
        storage.set_trial_intermediate_value(id, 7, i as f64).unwrap();
        storage.set_trial_user_attr(id, "i", AttrValue::Int(i as i64)).unwrap();
        storage
            .set_trial_system_attr(
                id,
                "nested",
                AttrValue::Array(vec![AttrValue::Float(f64::INFINITY)]),
            )
            .unwrap();
        match state {
            TrialState::Complete => {
                storage.set_trial_state_values(id, state, Some(&[i as f64, -0.0])).unwrap();
            }
            TrialState::Running => {}
            _ => {
                storage.set_trial_state_values(id, state, None).unwrap();
            }
        }
    }
    study
}

/// A trial with the ids of its store blanked, to compare copies across studies and stores.
fn content(t: &FrozenTrial) -> FrozenTrial {
    let mut c = t.clone();
    c.trial_id = 0;
    c.study_id = 0;
    c
}

fn trials(storage: &dyn Storage, name: &str) -> Vec<Arc<FrozenTrial>> {
    let id = storage.get_study_id_from_name(name).unwrap();
    storage.get_all_trials(id, None).unwrap()
}

fn study(storage: &dyn Storage, name: &str) -> FrozenStudy {
    let id = storage.get_study_id_from_name(name).unwrap();
    storage.get_all_studies().unwrap().into_iter().find(|s| s.study_id == id).unwrap()
}

fn open(path: &Path) -> Arc<dyn Storage> {
    Arc::new(JournalStorage::open(path).unwrap())
}

fn fork_at(at: u64, to: &str) -> ForkOptions {
    ForkOptions { at, to_name: to.into(), keep_waiting: false }
}

#[test]
fn a_fork_copies_trials_up_to_n_and_says_what_became_of_the_others() {
    let dir = tempfile::tempdir().unwrap();
    let storage = open(&dir.path().join("j"));
    build(&*storage);
    let before = trials(&*storage, S);
    let report = fork_study(&*storage, S, &*storage, &fork_at(5, "fork")).unwrap();
    assert_eq!(report.trials, 6);
    assert_eq!(report.requeued, [4]);
    assert!(report.kept_waiting.is_empty());
    assert_eq!(
        report.left_out,
        [(TrialState::Running, 1), (TrialState::Complete, 1), (TrialState::Waiting, 1)]
    );
    let fork = trials(&*storage, "fork");
    assert_eq!(fork.len(), 6);
    for (f, o) in fork.iter().zip(&before) {
        assert_eq!(f.number, o.number);
        if o.state == TrialState::Running {
            // Runs again in the fork: WAITING, same parameters and attributes, nothing else.
            assert_eq!(f.state, TrialState::Waiting);
            assert_eq!((&f.params, &f.distributions), (&o.params, &o.distributions));
            assert_eq!((&f.user_attrs, &f.system_attrs), (&o.user_attrs, &o.system_attrs));
            assert!(f.datetime_start.is_none() && f.intermediate_values.is_empty());
        } else {
            assert_eq!(content(f), content(o), "trial {}", o.number);
        }
    }
    let (a, b) = (study(&*storage, S), study(&*storage, "fork"));
    assert_eq!(
        (a.directions, a.user_attrs, a.system_attrs),
        (b.directions, b.user_attrs, b.system_attrs)
    );
    assert_eq!(trials(&*storage, S), before, "the original is untouched");

    // keep_waiting brings the WAITING trials after N along, after the kept ones.
    let keep = ForkOptions { keep_waiting: true, ..fork_at(5, "fork-2") };
    let report = fork_study(&*storage, S, &*storage, &keep).unwrap();
    assert_eq!(report.kept_waiting, [6]);
    let fork = trials(&*storage, "fork-2");
    assert_eq!(fork.len(), 7);
    assert_eq!(content(&fork[6]).system_attrs, before[6].system_attrs);
    assert_eq!(fork[6].state, TrialState::Waiting);
}

#[test]
fn bad_forks_are_refused_before_anything_is_written() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("j");
    let other = dir.path().join("other");
    let storage = open(&path);
    build(&*storage);
    let into = open(&other);
    into.create_new_study(&[StudyDirection::Minimize], Some("taken")).unwrap();
    let bytes = (std::fs::read(&path).unwrap(), std::fs::read(&other).unwrap());
    let unchanged = || {
        assert_eq!((std::fs::read(&path).unwrap(), std::fs::read(&other).unwrap()), bytes);
    };
    match fork_study(&*storage, S, &*storage, &fork_at(9, "f")) {
        Err(Error::ForkPointNotFound { at: 9, n_trials: 9, .. }) => {}
        other => panic!("{other:?}"),
    }
    unchanged();
    match fork_study(&*storage, "nope", &*into, &fork_at(0, "f")) {
        Err(Error::StudyNameNotFound { name }) => assert_eq!(name, "nope"),
        other => panic!("{other:?}"),
    }
    unchanged();
    match fork_study(&*storage, S, &*into, &fork_at(0, "taken")) {
        Err(Error::DuplicateStudyName { name }) => assert_eq!(name, "taken"),
        other => panic!("{other:?}"),
    }
    match fork_study(&*storage, S, &*storage, &fork_at(0, S)) {
        Err(Error::DuplicateStudyName { .. }) => {}
        other => panic!("{other:?}"),
    }
    match replace_with_fork(&*storage, S, &fork_at(12, "")) {
        Err(Error::ForkPointNotFound { .. }) => {}
        other => panic!("{other:?}"),
    }
    match copy_study(&*storage, S, &*into, Some("taken")) {
        Err(Error::DuplicateStudyName { .. }) => {}
        other => panic!("{other:?}"),
    }
    match copy_study(&*storage, "nope", &*into, None) {
        Err(Error::StudyNameNotFound { .. }) => {}
        other => panic!("{other:?}"),
    }
    match delete_study(&*storage, "nope") {
        Err(Error::StudyNameNotFound { .. }) => {}
        other => panic!("{other:?}"),
    }
    unchanged();
}

#[test]
fn replace_keeps_the_original_as_a_numbered_backup_and_workers_continue_after_n() {
    let dir = tempfile::tempdir().unwrap();
    let storage = Arc::new(JournalStorage::open(dir.path().join("j")).unwrap());
    let old_id = build(&*storage);
    let original = trials(&*storage, S);
    let old_trial = original[7].trial_id; // RUNNING, its worker still holds it
    let report = replace_with_fork(&*storage, S, &fork_at(5, "ignored")).unwrap();
    assert_eq!(report.name, S);
    assert_eq!(report.backup.as_deref(), Some("study.backup-1"));
    let backup: Vec<_> = trials(&*storage, "study.backup-1").iter().map(|t| content(t)).collect();
    assert_eq!(backup, original.iter().map(|t| content(t)).collect::<Vec<_>>());
    assert_eq!(trials(&*storage, S).len(), 6);
    // A worker loading the study by name continues after trial 5; one still on the old study
    // is told its trial is gone.
    let next = storage.create_new_trial(storage.get_study_id_from_name(S).unwrap(), None).unwrap();
    assert_eq!(storage.get_trial(next).unwrap().number, 6);
    assert!(matches!(
        storage.set_trial_state_values(old_trial, TrialState::Complete, Some(&[1.0, 1.0])),
        Err(Error::TrialNotFound { .. })
    ));
    assert!(matches!(storage.get_study_directions(old_id), Err(Error::StudyNotFound { .. })));
    // k counts up.
    let again = replace_with_fork(&*storage, S, &fork_at(0, "")).unwrap();
    assert_eq!(again.backup.as_deref(), Some("study.backup-2"));
    assert_eq!(trials(&*storage, "study.backup-2").len(), 7);
    assert_eq!(trials(&*storage, S).len(), 1);
}

/// A store that lets another writer add a trial to the original study right after the backup
/// copy is created: what a worker still running during `--replace` does.
struct Meddling {
    inner: JournalStorage,
    armed: AtomicBool,
}

macro_rules! delegate {
    ($($name:ident(&self $(, $arg:ident: $ty:ty)*) -> $ret:ty;)*) => {
        $(fn $name(&self $(, $arg: $ty)*) -> $ret { self.inner.$name($($arg),*) })*
    };
}

impl Storage for Meddling {
    fn create_new_study(
        &self,
        directions: &[StudyDirection],
        name: Option<&str>,
    ) -> trialog::Result<u64> {
        let id = self.inner.create_new_study(directions, name)?;
        if name.is_some_and(|n| n.contains(".backup-")) && self.armed.swap(false, Ordering::SeqCst)
        {
            let original = self.inner.get_study_id_from_name(S)?;
            self.inner.create_new_trial(original, None)?;
        }
        Ok(id)
    }
    delegate! {
        delete_study(&self, study_id: u64) -> trialog::Result<()>;
        set_study_user_attr(&self, study_id: u64, key: &str, value: AttrValue) -> trialog::Result<()>;
        set_study_system_attr(&self, study_id: u64, key: &str, value: AttrValue) -> trialog::Result<()>;
        get_study_id_from_name(&self, study_name: &str) -> trialog::Result<u64>;
        get_study_name_from_id(&self, study_id: u64) -> trialog::Result<String>;
        get_study_directions(&self, study_id: u64) -> trialog::Result<Vec<StudyDirection>>;
        get_study_user_attrs(&self, study_id: u64) -> trialog::Result<BTreeMap<String, AttrValue>>;
        get_study_system_attrs(&self, study_id: u64) -> trialog::Result<BTreeMap<String, AttrValue>>;
        get_all_studies(&self) -> trialog::Result<Vec<FrozenStudy>>;
        create_new_trial(&self, study_id: u64, template: Option<&FrozenTrial>) -> trialog::Result<u64>;
        set_trial_param(&self, trial_id: u64, name: &str, internal: f64, dist: &Distribution) -> trialog::Result<()>;
        set_trial_state_values(&self, trial_id: u64, state: TrialState, values: Option<&[f64]>) -> trialog::Result<bool>;
        set_trial_intermediate_value(&self, trial_id: u64, step: i64, value: f64) -> trialog::Result<()>;
        set_trial_user_attr(&self, trial_id: u64, key: &str, value: AttrValue) -> trialog::Result<()>;
        set_trial_system_attr(&self, trial_id: u64, key: &str, value: AttrValue) -> trialog::Result<()>;
        get_trial(&self, trial_id: u64) -> trialog::Result<Arc<FrozenTrial>>;
        get_all_trials(&self, study_id: u64, states: Option<&[TrialState]>) -> trialog::Result<Vec<Arc<FrozenTrial>>>;
    }
}

#[test]
fn replace_refuses_a_study_that_changes_while_it_is_copied() {
    let dir = tempfile::tempdir().unwrap();
    let inner = JournalStorage::open(dir.path().join("j")).unwrap();
    let storage = Meddling { inner, armed: AtomicBool::new(true) };
    build(&storage);
    match replace_with_fork(&storage, S, &fork_at(5, "")) {
        Err(Error::StudyChanged { study }) => assert_eq!(study, S),
        other => panic!("{other:?}"),
    }
    // The original (with the meddler's trial) is still the study of that name, and the backup
    // copy was removed again.
    assert_eq!(trials(&storage, S).len(), 10);
    let names: Vec<String> =
        storage.get_all_studies().unwrap().into_iter().map(|s| s.study_name).collect();
    assert_eq!(names, [S]);
}

#[test]
fn parent_caches_naming_trial_ids_are_rewritten_or_left_out() {
    let dir = tempfile::tempdir().unwrap();
    let storage = open(&dir.path().join("j"));
    // Ids 0..4 belong to another study, so this study's ids differ from its numbers.
    let other = storage.create_new_study(&[StudyDirection::Minimize], Some("other")).unwrap();
    for _ in 0..4 {
        storage.create_new_trial(other, None).unwrap();
    }
    let id = storage.create_new_study(&[StudyDirection::Minimize; 2], Some(S)).unwrap();
    let ids: Vec<u64> = (0..6).map(|_| storage.create_new_trial(id, None).unwrap()).collect();
    let cache =
        |ids: &[u64]| AttrValue::Array(ids.iter().map(|i| AttrValue::Int(*i as i64)).collect());
    storage.set_study_system_attr(id, "NSGAIISampler:parent:1", cache(&ids[..2])).unwrap();
    storage.set_study_system_attr(id, "NSGAIISampler:parent:2", cache(&ids[2..5])).unwrap();
    let into = open(&dir.path().join("into"));
    let report = fork_study(&*storage, S, &*into, &fork_at(3, S)).unwrap();
    assert_eq!(report.dropped_attrs, ["NSGAIISampler:parent:2"]);
    let fork_ids: Vec<u64> = trials(&*into, S).iter().map(|t| t.trial_id).collect();
    let attrs = study(&*into, S).system_attrs;
    assert_eq!(attrs.get("NSGAIISampler:parent:1"), Some(&cache(&fork_ids[..2])));
    assert!(!attrs.contains_key("NSGAIISampler:parent:2"));
    // A copy rewrites them all.
    let report = copy_study(&*storage, S, &*into, Some("copy")).unwrap();
    assert!(report.dropped_attrs.is_empty());
    let copy_ids: Vec<u64> = trials(&*into, "copy").iter().map(|t| t.trial_id).collect();
    assert_eq!(
        study(&*into, "copy").system_attrs.get("NSGAIISampler:parent:2"),
        Some(&cache(&copy_ids[2..5]))
    );
}

#[test]
fn copy_between_formats_keeps_everything_and_delete_frees_the_name() {
    let dir = tempfile::tempdir().unwrap();
    let storage = open(&dir.path().join("j"));
    build(&*storage);
    let optuna: Arc<dyn Storage> =
        Arc::new(JournalStorage::open_optuna(dir.path().join("o.log")).unwrap());
    let report = copy_study(&*storage, S, &*optuna, None).unwrap();
    assert_eq!(report.trials, 9);
    let back = open(&dir.path().join("back"));
    copy_study(&*optuna, S, &*back, Some("round-trip")).unwrap();
    let strip = |ts: Vec<Arc<FrozenTrial>>| ts.iter().map(|t| content(t)).collect::<Vec<_>>();
    assert_eq!(strip(trials(&*back, "round-trip")), strip(trials(&*storage, S)));
    // Reopened from disk, the Optuna copy reads the same.
    let reopened = JournalStorage::open_optuna(dir.path().join("o.log")).unwrap();
    assert_eq!(strip(trials(&reopened, S)), strip(trials(&*storage, S)));

    let deleted = delete_study(&*optuna, S).unwrap();
    assert_eq!(deleted.trials.iter().map(|(_, n)| n).sum::<usize>(), 9);
    assert!(matches!(optuna.get_study_id_from_name(S), Err(Error::StudyNameNotFound { .. })));
    // Rename = copy under the new name, then delete the old one.
    copy_study(&*storage, S, &*storage, Some("renamed")).unwrap();
    delete_study(&*storage, S).unwrap();
    assert_eq!(trials(&*storage, "renamed").len(), 9);
}

#[test]
fn a_heartbeat_handle_copies_running_trials_with_their_first_heartbeat() {
    // A RUNNING copy made through a handle with heartbeats gets one, so it can go stale and be
    // failed in its new home (a copy made without leaves it RUNNING, as Optuna's copy does).
    let dir = tempfile::tempdir().unwrap();
    let storage = open(&dir.path().join("j"));
    build(&*storage);
    let hb = HeartbeatOptions::every(Duration::from_millis(10));
    let into = JournalStorage::open(dir.path().join("into")).unwrap().with_heartbeat(hb);
    copy_study(&*storage, S, &into, None).unwrap();
    let id = into.get_study_id_from_name(S).unwrap();
    // A handle judges staleness by watching heartbeats stand still for the grace period, from
    // when it wrote them: fresh within a grace period no slow machine reaches (a short one made
    // this check depend on how soon the test ran it), stale once a short one has passed.
    assert!(into.stale_trial_ids(id, Duration::from_secs(600)).unwrap().is_empty());
    std::thread::sleep(Duration::from_millis(50));
    let stale = into.fail_stale_trials(id, Duration::from_millis(20)).unwrap();
    assert_eq!(stale.len(), 2);
}
