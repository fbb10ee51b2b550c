//! Arbitrary sequences of storage API calls on two handles sharing one in-memory journal,
//! checked against a small reference model written here from Optuna's rules (study ids never
//! reused, trial ids global and gapless, trial numbers gapless per study, finished trials
//! frozen, a WAITING -> RUNNING claim wins once). After every call the handle must agree with the
//! model on success or failure and on what it created; at the end both handles must show the
//! model's studies and trials, and replaying every prefix of the log (frame by frame) from bytes
//! must give, twice over, exactly the state a handle had when that frame was appended.
#![no_main]

use std::collections::BTreeMap;

use libfuzzer_sys::arbitrary::{Result, Unstructured};
use libfuzzer_sys::fuzz_target;
use trialog::journal::frame;
use trialog::replay::ReplayState;
use trialog::{
    AttrValue, Distribution, FrozenTrial, JournalStorage, MemoryBackend, StudyDirection,
    TrialState,
};

#[derive(Debug, Default)]
struct Model {
    studies: Vec<MStudy>,
    trials: Vec<MTrial>,
}

#[derive(Debug)]
struct MStudy {
    name: String,
    n_obj: usize,
    live: bool,
    trials: Vec<u64>,
    user_attrs: BTreeMap<String, i64>,
}

#[derive(Debug, Clone)]
struct MTrial {
    study: u64,
    number: u64,
    state: TrialState,
    values: Option<Vec<f64>>,
    params: BTreeMap<String, f64>,
    intermediate: BTreeMap<i64, f64>,
    user_attrs: BTreeMap<String, i64>,
}

impl Model {
    fn live_study(&self, id: u64) -> Option<&MStudy> {
        self.studies.get(id as usize).filter(|s| s.live)
    }
    fn updatable(&self, trial: u64) -> bool {
        self.trials.get(trial as usize).is_some_and(|t| {
            self.live_study(t.study).is_some() && !t.state.is_finished()
        })
    }
}

const NAMES: [&str; 4] = ["a", "b", "c", "d"];
const STATES: [TrialState; 5] = [
    TrialState::Running,
    TrialState::Complete,
    TrialState::Pruned,
    TrialState::Fail,
    TrialState::Waiting,
];

fn pick_id(u: &mut Unstructured, n: usize) -> Result<u64> {
    Ok(u.int_in_range(0..=n as u64)?) // sometimes one past the end: an unknown id
}

fn float(u: &mut Unstructured) -> Result<f64> {
    Ok(match u.int_in_range(0..=3u8)? {
        0 => f64::NAN,
        1 => f64::INFINITY,
        _ => f64::from(u.arbitrary::<i16>()?) / 8.0,
    })
}

fn snapshot(s: &JournalStorage<MemoryBackend>) -> ReplayState {
    s.read(|state| Ok(state.clone())).expect("reading an in-memory journal cannot fail")
}

fn run(u: &mut Unstructured) -> Result<()> {
    let backend = MemoryBackend::new();
    let handles = [
        JournalStorage::new(backend.clone()).unwrap(),
        JournalStorage::new(backend.clone()).unwrap(),
    ];
    let mut model = Model::default();
    // The state right after each appended frame, in log order.
    let mut after_frame: Vec<ReplayState> = Vec::new();
    let n_steps = u.int_in_range(1..=48u8)?;
    for _ in 0..n_steps {
        let h = &handles[usize::from(u.arbitrary::<bool>()?)];
        let frames_before = frame_count(&backend);
        match u.int_in_range(0..=7u8)? {
            0 => {
                let name = NAMES[u.choose_index(NAMES.len())?];
                let n_obj = u.int_in_range(1..=2usize)?;
                let dirs = vec![StudyDirection::Minimize; n_obj];
                let taken = model.studies.iter().any(|s| s.live && s.name == name);
                match h.create_new_study(&dirs, Some(name)) {
                    Ok(id) => {
                        assert!(!taken, "duplicate live name {name} accepted");
                        assert_eq!(id, model.studies.len() as u64, "study ids count up");
                        model.studies.push(MStudy {
                            name: name.into(),
                            n_obj,
                            live: true,
                            trials: vec![],
                            user_attrs: BTreeMap::new(),
                        });
                    }
                    Err(e) => assert!(taken, "create study failed: {e}"),
                }
            }
            1 => {
                let id = pick_id(u, model.studies.len())?;
                let ok = model.live_study(id).is_some();
                assert_eq!(h.delete_study(id).is_ok(), ok, "delete study {id}");
                if ok {
                    model.studies[id as usize].live = false;
                }
            }
            2 => {
                let id = pick_id(u, model.studies.len())?;
                let waiting = u.arbitrary::<bool>()?;
                let template = FrozenTrial::new(0, 0, 0, TrialState::Waiting);
                let result = h.create_new_trial(id, waiting.then_some(&template));
                match model.studies.get_mut(id as usize).filter(|s| s.live) {
                    Some(study) => {
                        let trial_id = result.expect("create trial in a live study");
                        assert_eq!(trial_id, model.trials.len() as u64, "trial ids are global");
                        let number = study.trials.len() as u64;
                        study.trials.push(trial_id);
                        model.trials.push(MTrial {
                            study: id,
                            number,
                            state: if waiting { TrialState::Waiting } else { TrialState::Running },
                            values: None,
                            params: BTreeMap::new(),
                            intermediate: BTreeMap::new(),
                            user_attrs: BTreeMap::new(),
                        });
                    }
                    None => assert!(result.is_err(), "trial created in a missing study"),
                }
            }
            3 => {
                let id = pick_id(u, model.trials.len())?;
                let state = STATES[u.choose_index(STATES.len())?];
                let n_obj = model
                    .trials
                    .get(id as usize)
                    .and_then(|t| model.live_study(t.study))
                    .map_or(1, |s| s.n_obj);
                let values: Option<Vec<f64>> = if state.is_finished() {
                    Some((0..n_obj).map(|_| float(u)).collect::<Result<_>>()?)
                } else {
                    None
                };
                let result = h.set_trial_state_values(id, state, values.as_deref());
                if model.updatable(id) {
                    let t = &mut model.trials[id as usize];
                    let claim_lost = state == TrialState::Running && t.state == TrialState::Running;
                    assert_eq!(result.ok(), Some(!claim_lost), "set state of trial {id}");
                    if !claim_lost {
                        t.state = state;
                        if values.is_some() {
                            t.values = values;
                        }
                    }
                } else {
                    assert!(result.is_err(), "updated a trial that is not updatable");
                }
            }
            4 => {
                let id = pick_id(u, model.trials.len())?;
                let (name, dist, value) = if u.arbitrary::<bool>()? {
                    let v = f64::from(u.arbitrary::<u8>()?) / 255.0;
                    ("x", Distribution::float(0.0, 1.0, false, None).unwrap(), v)
                } else {
                    ("y", Distribution::int(0, 10, false, 1).unwrap(), f64::from(u.int_in_range(0..=10u8)?))
                };
                let ok = model.updatable(id);
                assert_eq!(h.set_trial_param(id, name, value, &dist).is_ok(), ok, "param {id}");
                if ok {
                    model.trials[id as usize].params.insert(name.into(), value);
                }
            }
            5 => {
                let id = pick_id(u, model.trials.len())?;
                let step = i64::from(u.arbitrary::<i8>()?);
                let value = float(u)?;
                let ok = model.updatable(id);
                assert_eq!(h.set_trial_intermediate_value(id, step, value).is_ok(), ok);
                if ok {
                    model.trials[id as usize].intermediate.insert(step, value);
                }
            }
            6 => {
                let id = pick_id(u, model.trials.len())?;
                let key = NAMES[u.choose_index(NAMES.len())?];
                let v = i64::from(u.arbitrary::<i8>()?);
                let ok = model.updatable(id);
                assert_eq!(h.set_trial_user_attr(id, key, AttrValue::Int(v)).is_ok(), ok);
                if ok {
                    model.trials[id as usize].user_attrs.insert(key.into(), v);
                }
            }
            _ => {
                let id = pick_id(u, model.studies.len())?;
                let key = NAMES[u.choose_index(NAMES.len())?];
                let v = i64::from(u.arbitrary::<i8>()?);
                let ok = model.live_study(id).is_some();
                assert_eq!(h.set_study_user_attr(id, key, AttrValue::Int(v)).is_ok(), ok);
                if ok {
                    model.studies[id as usize].user_attrs.insert(key.into(), v);
                }
            }
        }
        let frames_after = frame_count(&backend);
        assert!(frames_after - frames_before <= 1, "one call appends at most one frame");
        if frames_after > frames_before {
            after_frame.push(snapshot(h));
        }
    }
    for h in &handles {
        check_against_model(h, &model);
    }
    check_prefixes(&backend.to_bytes(), &after_frame);
    Ok(())
}

fn frame_count(backend: &MemoryBackend) -> usize {
    frame_ends(&backend.to_bytes()).len()
}

/// The end offset of every frame of a journal (the journal is written by trialog: no damage).
fn frame_ends(bytes: &[u8]) -> Vec<usize> {
    let Some(body) = bytes.get(frame::HEADER_LEN..) else { return vec![] };
    let mut ends = Vec::new();
    let end = frame::scan_frames::<()>(body, |offset, payload| {
        ends.push(frame::HEADER_LEN + offset + frame::FRAME_HEADER_LEN + payload.len());
        Ok(())
    })
    .unwrap();
    assert_eq!(end, frame::ScanEnd::Clean, "trialog wrote an unclean journal");
    ends
}

fn check_against_model(h: &JournalStorage<MemoryBackend>, model: &Model) {
    let studies = h.get_all_studies().unwrap();
    let live: Vec<(u64, &MStudy)> =
        model.studies.iter().enumerate().filter(|(_, s)| s.live).map(|(i, s)| (i as u64, s)).collect();
    assert_eq!(studies.len(), live.len());
    for (study, (id, m)) in studies.iter().zip(&live) {
        assert_eq!(study.study_id, *id);
        assert_eq!(study.study_name, m.name);
        assert_eq!(study.directions.len(), m.n_obj);
        let attrs: BTreeMap<String, i64> = study
            .user_attrs
            .iter()
            .map(|(k, v)| match v {
                AttrValue::Int(i) => (k.clone(), *i),
                other => panic!("unexpected attr {other:?}"),
            })
            .collect();
        assert_eq!(attrs, m.user_attrs);
        let trials = h.get_all_trials(*id, None).unwrap();
        assert_eq!(trials.len(), m.trials.len());
        for (number, (t, &trial_id)) in trials.iter().zip(&m.trials).enumerate() {
            let mt = &model.trials[trial_id as usize];
            assert_eq!(t.trial_id, trial_id);
            assert_eq!(t.number, number as u64, "numbers are gapless");
            assert_eq!(mt.number, number as u64);
            assert_eq!(t.study_id, mt.study);
            assert_eq!(t.state, mt.state);
            let same = |a: &Option<trialog::model::Values>, b: &Option<Vec<f64>>| match (a, b) {
                (None, None) => true,
                (Some(a), Some(b)) => {
                    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x.to_bits() == y.to_bits())
                }
                _ => false,
            };
            assert!(same(&t.values, &mt.values), "values of trial {trial_id}");
            let params: BTreeMap<String, f64> = t
                .params
                .iter()
                .map(|(k, _)| (k.to_string(), h.get_trial_param(trial_id, k).unwrap()))
                .collect();
            assert_eq!(params, mt.params);
            let inter: Vec<(i64, u64)> =
                t.intermediate_values.iter().map(|(k, v)| (*k, v.to_bits())).collect();
            let minter: Vec<(i64, u64)> =
                mt.intermediate.iter().map(|(k, v)| (*k, v.to_bits())).collect();
            assert_eq!(inter, minter);
            let attrs: BTreeMap<String, i64> = t
                .user_attrs
                .iter()
                .map(|(k, v)| match v {
                    AttrValue::Int(i) => (k.clone(), *i),
                    other => panic!("unexpected attr {other:?}"),
                })
                .collect();
            assert_eq!(attrs, mt.user_attrs);
        }
    }
}

fn check_prefixes(bytes: &[u8], after_frame: &[ReplayState]) {
    let ends = frame_ends(bytes);
    assert_eq!(ends.len(), after_frame.len(), "one frame per successful write");
    if bytes.is_empty() {
        return; // nothing was ever written: not even a header
    }
    let replay = |prefix: &[u8]| snapshot(&JournalStorage::new(MemoryBackend::from_bytes(prefix.to_vec())).unwrap());
    assert_eq!(replay(&bytes[..frame::HEADER_LEN]), ReplayState::new());
    for (end, expected) in ends.iter().zip(after_frame) {
        let first = replay(&bytes[..*end]);
        assert!(first == *expected, "prefix up to {end} replays to the state after its frame");
        assert!(replay(&bytes[..*end]) == first, "replay of a prefix is deterministic");
    }
}

fuzz_target!(|data: &[u8]| {
    let _ = run(&mut Unstructured::new(data));
});
