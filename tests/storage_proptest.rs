//! Replay is the single source of truth: the state a live handle holds after any sequence of
//! calls is exactly the state a fresh open of the same bytes replays, and replay is
//! deterministic for every prefix of the log.
//!
//! The live-versus-fresh property runs over a file, a `MemoryBackend`, and a real Redis server
//! (`RedisBackend`, Optuna's key layout; skipped with a message without `redis-server`, unless
//! `TRIALOG_REQUIRE_REDIS=1`), where the two handles are two writers racing on one prefix.
//!
//! Random sequences of storage calls (duplicate study names, deletes, templates, parameters with
//! compatible and incompatible distributions, claims, non-finite values, nested attributes) run
//! through two handles on one journal. After every step both live handles and a fresh handle
//! must hold equal states (`ReplayState: PartialEq`, floats compared bit for bit). A call that
//! fails, or a claim that loses, must leave the journal's length unchanged; a call that succeeds
//! must grow it; no byte of an earlier record ever changes. Between steps, torn tails (zeros or a
//! prefix of a valid frame, as a crashed writer leaves) are appended by hand: they must stay
//! invisible, and the next append must repair them.

mod common;
// A redis-server of the test's own for the Redis case.
#[cfg(all(unix, feature = "redis"))]
mod redis_common;

use std::fs::OpenOptions;
use std::io::Write;
use std::sync::Arc;

use common::{
    FileJournal, JournalBytes, categorical, encode_frame, float, float_log, frame_boundaries, int,
    int_log, replay_bytes, state_of,
};
use proptest::collection::{btree_map, vec};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError};
use trialog::journal::codec::encode_batch;
use trialog::journal::{LogBatch, Operation, frame};
use trialog::replay::ReplayState;
use trialog::{
    AttrValue, Distribution, Error, FrozenTrial, JournalStorage, ListMap, LogBackend,
    MemoryBackend, ParamValue, StudyDirection, Timestamp, TrialState, VecMap,
};

const STUDY_NAMES: [&str; 3] = ["alpha", "beta", "gamma"];
const PARAM_NAMES: [&str; 3] = ["x", "y", "z"];
const ATTR_KEYS: [&str; 3] = ["k0", "k1", "k2"];

/// The distributions parameters are drawn from. Same-named parameters with different entries
/// here are compatible (0/1/3, 4 with other int bounds) or not (kind, log flag, choices).
fn distributions() -> Vec<Distribution> {
    vec![
        float(0.0, 1.0),
        float(0.0, 10.0),
        float_log(1e-3, 1.0),
        Distribution::float(0.0, 1.0, false, Some(0.5)).unwrap(),
        int(0, 10, 1),
        int_log(1, 100),
        categorical(&["a", "b", "c"]),
        categorical(&["a", "b"]),
        Distribution::categorical(vec![
            ParamValue::Null,
            ParamValue::Bool(true),
            ParamValue::Int(1),
            ParamValue::Float(f64::NAN),
        ])
        .unwrap(),
    ]
}

#[derive(Debug, Clone)]
struct TemplateSpec {
    state: TrialState,
    values: Option<Vec<f64>>,
    /// (name, distribution, internal value, take the value from the next distribution instead)
    params: Vec<(usize, usize, Internal, bool)>,
    user_attrs: Vec<(usize, AttrValue)>,
    intermediate: Vec<(i64, f64)>,
    start: Option<i64>,
    complete: Option<i64>,
}

#[derive(Debug, Clone)]
enum Call {
    CreateStudy { name: Option<usize>, directions: Vec<StudyDirection> },
    DeleteStudy { study: usize },
    SetStudyAttr { study: usize, system: bool, key: usize, value: AttrValue },
    CreateTrial { study: usize, template: Option<TemplateSpec> },
    SetParam { trial: usize, name: usize, dist: usize, internal: Internal },
    SetState { trial: usize, state: TrialState, values: Option<Vec<f64>> },
    Intermediate { trial: usize, step: i64, value: f64 },
    SetTrialAttr { trial: usize, system: bool, key: usize, value: AttrValue },
}

/// One call, made through handle `handle % 2`, optionally followed by a torn write by hand (a
/// crashed writer) of `tear` bytes: zeros, or a prefix of a valid frame.
#[derive(Debug, Clone)]
struct Step {
    handle: usize,
    call: Call,
    tear: Option<(bool, usize)>,
}

fn any_float() -> impl Strategy<Value = f64> {
    prop_oneof![
        Just(f64::INFINITY),
        Just(f64::NEG_INFINITY),
        Just(f64::NAN),
        Just(f64::from_bits(0x7ff8_0000_0000_beef)),
        Just(-0.0),
        -10.0..10.0f64,
        any::<f64>(),
    ]
}

/// An internal parameter value: usually one that lies in the distribution it is used with
/// (its low end, high end or middle, or a categorical index), sometimes a raw value that may be
/// outside it or non-finite.
#[derive(Debug, Clone, Copy)]
enum Internal {
    Pick(usize),
    Raw(f64),
}

impl Internal {
    fn value(self, dist: &Distribution) -> f64 {
        let k = match self {
            Internal::Raw(v) => return v,
            Internal::Pick(k) => k,
        };
        match dist {
            Distribution::Float(d) => {
                let mid = match d.step() {
                    Some(step) => d.low() + ((d.high() - d.low()) / 2.0 / step).floor() * step,
                    None => (d.low() + d.high()) / 2.0,
                };
                [d.low(), d.high(), mid][k % 3]
            }
            Distribution::Int(d) => {
                let mid = d.low() + (d.high() - d.low()) / 2 / d.step() * d.step();
                [d.low(), d.high(), mid][k % 3] as f64
            }
            Distribution::Categorical(c) => (k % c.choices().len()) as f64,
        }
    }
}

fn internal_value() -> impl Strategy<Value = Internal> {
    prop_oneof![
        4 => (0..3usize).prop_map(Internal::Pick),
        1 => prop_oneof![
            Just(0.5),
            Just(2.0),
            Just(7.0),
            Just(50.0),
            Just(-1.0),
            Just(f64::NAN),
            Just(f64::INFINITY),
        ]
        .prop_map(Internal::Raw),
    ]
}

fn attr_value() -> impl Strategy<Value = AttrValue> {
    let leaf = prop_oneof![
        Just(AttrValue::Null),
        any::<bool>().prop_map(AttrValue::Bool),
        any::<i64>().prop_map(AttrValue::Int),
        any_float().prop_map(AttrValue::Float),
        "[a-zé]{0,6}".prop_map(AttrValue::String),
    ];
    leaf.prop_recursive(2, 8, 3, |inner| {
        prop_oneof![
            vec(inner.clone(), 0..3).prop_map(AttrValue::Array),
            btree_map("[a-c]", inner, 0..3).prop_map(AttrValue::Map),
        ]
    })
}

fn trial_state() -> impl Strategy<Value = TrialState> {
    prop_oneof![
        Just(TrialState::Running),
        Just(TrialState::Complete),
        Just(TrialState::Pruned),
        Just(TrialState::Fail),
        Just(TrialState::Waiting),
    ]
}

fn values() -> impl Strategy<Value = Option<Vec<f64>>> {
    // Studies have one or two objectives, so a length of 1 or 2 is right about half the time.
    proptest::option::of(prop_oneof![4 => vec(any_float(), 1..3), 1 => vec(any_float(), 0..4)])
}

fn template_spec() -> impl Strategy<Value = TemplateSpec> {
    (
        trial_state(),
        values(),
        vec(
            (0..PARAM_NAMES.len(), 0..distributions().len(), internal_value(), any::<bool>()),
            0..3,
        ),
        vec((0..ATTR_KEYS.len(), attr_value()), 0..2),
        vec((-3i64..5, any_float()), 0..3),
        proptest::option::of(0i64..2_000_000_000_000_000),
        proptest::option::of(0i64..2_000_000_000_000_000),
    )
        .prop_map(|(state, values, params, user_attrs, intermediate, start, complete)| {
            TemplateSpec { state, values, params, user_attrs, intermediate, start, complete }
        })
}

fn call() -> impl Strategy<Value = Call> {
    let direction = prop_oneof![Just(StudyDirection::Minimize), Just(StudyDirection::Maximize)];
    let n_dists = distributions().len();
    prop_oneof![
        3 => (
            proptest::option::of(0..STUDY_NAMES.len()),
            prop_oneof![8 => vec(direction, 1..3), 1 => Just(Vec::new())],
        )
            .prop_map(|(name, directions)| Call::CreateStudy { name, directions }),
        1 => any::<usize>().prop_map(|study| Call::DeleteStudy { study }),
        1 => (any::<usize>(), any::<bool>(), 0..ATTR_KEYS.len(), attr_value())
            .prop_map(|(study, system, key, value)| Call::SetStudyAttr { study, system, key, value }),
        4 => (any::<usize>(), proptest::option::weighted(0.4, template_spec()))
            .prop_map(|(study, template)| Call::CreateTrial { study, template }),
        4 => (any::<usize>(), 0..PARAM_NAMES.len(), 0..n_dists, internal_value())
            .prop_map(|(trial, name, dist, internal)| Call::SetParam { trial, name, dist, internal }),
        3 => (any::<usize>(), trial_state(), values())
            .prop_map(|(trial, state, values)| Call::SetState { trial, state, values }),
        2 => (any::<usize>(), -2i64..4, any_float())
            .prop_map(|(trial, step, value)| Call::Intermediate { trial, step, value }),
        1 => (any::<usize>(), any::<bool>(), 0..ATTR_KEYS.len(), attr_value())
            .prop_map(|(trial, system, key, value)| Call::SetTrialAttr { trial, system, key, value }),
    ]
}

fn steps(max: usize) -> impl Strategy<Value = Vec<Step>> {
    let tear = proptest::option::weighted(0.1, (any::<bool>(), 1..64usize));
    vec(
        (0..2usize, call(), tear).prop_map(|(handle, call, tear)| Step { handle, call, tear }),
        1..max,
    )
}

/// Ids created so far, to turn a random selector into a mostly valid id.
#[derive(Debug, Default)]
struct Ids {
    studies: Vec<u64>,
    trials: u64,
}

impl Ids {
    /// A study that exists or existed, or (about one time in eight) one that never did.
    fn study(&self, sel: usize) -> u64 {
        if sel % 8 == 0 || self.studies.is_empty() {
            return 1_000;
        }
        self.studies[(sel / 8) % self.studies.len()]
    }

    /// A trial that exists or existed, or (about one time in eight) one that never did.
    fn trial(&self, sel: usize) -> u64 {
        if sel % 8 == 0 || self.trials == 0 {
            return self.trials + 7;
        }
        (sel as u64 / 8) % self.trials
    }
}

fn build_template(spec: &TemplateSpec) -> FrozenTrial {
    let dists = distributions();
    let mut params = ListMap::new();
    let mut distributions = ListMap::new();
    for &(name, dist, internal, mismatch) in &spec.params {
        let source = if mismatch { (dist + 1) % dists.len() } else { dist };
        if let Some(value) = dists[source].to_external(internal.value(&dists[source])) {
            params.insert(Arc::<str>::from(PARAM_NAMES[name]), value);
            distributions
                .insert(Arc::<str>::from(PARAM_NAMES[name]), Arc::new(dists[dist].clone()));
        }
    }
    FrozenTrial {
        trial_id: 0,
        number: 0,
        study_id: 0,
        state: spec.state,
        values: spec.values.clone().map(Into::into),
        datetime_start: spec.start.map(Timestamp),
        datetime_complete: spec.complete.map(Timestamp),
        params,
        distributions: distributions.into(),
        user_attrs: spec
            .user_attrs
            .iter()
            .map(|(k, v)| (ATTR_KEYS[*k].to_owned(), v.clone()))
            .collect(),
        system_attrs: VecMap::new().into(),
        intermediate_values: spec.intermediate.iter().map(|&(s, v)| (s.into(), v)).collect(),
    }
}

/// What a call did: `Ok(true)` if it must have appended, `Ok(false)` if it must not have (a lost
/// claim), `Err` for a rejected call.
fn perform<B: LogBackend>(
    s: &JournalStorage<B>,
    call: &Call,
    ids: &mut Ids,
) -> trialog::Result<bool> {
    let dists = distributions();
    match call {
        Call::CreateStudy { name, directions } => {
            let id = s.create_new_study(directions, name.map(|n| STUDY_NAMES[n]))?;
            ids.studies.push(id);
            Ok(true)
        }
        Call::DeleteStudy { study } => s.delete_study(ids.study(*study)).map(|()| true),
        Call::SetStudyAttr { study, system, key, value } => {
            let (id, key) = (ids.study(*study), ATTR_KEYS[*key]);
            if *system {
                s.set_study_system_attr(id, key, value.clone())
            } else {
                s.set_study_user_attr(id, key, value.clone())
            }
            .map(|()| true)
        }
        Call::CreateTrial { study, template } => {
            let template = template.as_ref().map(build_template);
            let id = s.create_new_trial(ids.study(*study), template.as_ref())?;
            ids.trials = ids.trials.max(id + 1);
            Ok(true)
        }
        Call::SetParam { trial, name, dist, internal } => s
            .set_trial_param(
                ids.trial(*trial),
                PARAM_NAMES[*name],
                internal.value(&dists[*dist]),
                &dists[*dist],
            )
            .map(|()| true),
        Call::SetState { trial, state, values } => {
            s.set_trial_state_values(ids.trial(*trial), *state, values.as_deref())
        }
        Call::Intermediate { trial, step, value } => {
            s.set_trial_intermediate_value(ids.trial(*trial), *step, *value).map(|()| true)
        }
        Call::SetTrialAttr { trial, system, key, value } => {
            let (id, key) = (ids.trial(*trial), ATTR_KEYS[*key]);
            if *system {
                s.set_trial_system_attr(id, key, value.clone())
            } else {
                s.set_trial_user_attr(id, key, value.clone())
            }
            .map(|()| true)
        }
    }
}

/// Whether `e` is one of the errors an invalid call may give (never I/O, corruption, ...).
fn is_validation_error(e: &Error) -> bool {
    matches!(
        e,
        Error::StudyNotFound { .. }
            | Error::TrialNotFound { .. }
            | Error::DuplicateStudyName { .. }
            | Error::TrialFinished { .. }
            | Error::IncompatibleDistribution { .. }
            | Error::InvalidArgument(_)
    )
}

/// The bytes a writer that crashed in the middle of an append leaves: `len` zeros, or the first
/// bytes of a valid frame.
fn torn_bytes(zeros: bool, len: usize) -> Vec<u8> {
    if zeros {
        return vec![0; len];
    }
    let batch = LogBatch {
        worker_id: "crashed".to_owned(),
        ops: vec![Operation::CreateStudy {
            study_name: "torn".to_owned(),
            directions: vec![StudyDirection::Minimize],
        }],
    };
    let frame = encode_frame(&encode_batch(&batch));
    frame[..len % frame.len()].to_vec()
}

/// Where the last valid frame of `bytes` ends (0 before the header is complete).
fn clean_end(bytes: &[u8]) -> usize {
    if bytes.len() < frame::HEADER_LEN { 0 } else { *frame_boundaries(bytes).last().unwrap() }
}

/// A journal as the checks see it: its bytes, and where the last valid record of some bytes ends.
type JournalView<B> = (fn(&B) -> Vec<u8>, fn(&[u8]) -> usize);

/// The journal of a trialog-format backend as the checks see it.
fn trialog_format<B: LogBackend + JournalBytes>() -> JournalView<B> {
    (B::journal_bytes, clean_end)
}

/// Runs `steps` through `handles`, checking after every step that both handles and a fresh
/// handle (`fresh()`) hold the same state, that the journal grew exactly when a call wrote, and
/// that no byte of an earlier record ever changed. `journal` gives the journal's bytes and where
/// its last complete record ends (see [`trialog_format`]); `tear` appends raw bytes to it.
/// Returns what each call did: whether it wrote, or the kind of its error. With `stale_other`,
/// only the handle that made a call is compared after it (and both at the end), so the other one
/// stays behind the log until its own next call, and tears are skipped.
fn check_live_equals_fresh<B: LogBackend>(
    handles: &[JournalStorage<B>; 2],
    fresh: impl Fn() -> JournalStorage<B>,
    journal: JournalView<B>,
    tear: impl Fn(&[u8]),
    steps: &[Step],
    stale_other: bool,
) -> Result<Vec<Outcome>, TestCaseError> {
    let (journal_bytes, clean_end) = journal;
    let mut ids = Ids::default();
    let mut outcomes = Vec::with_capacity(steps.len());
    for (i, step) in steps.iter().enumerate() {
        let live = &handles[step.handle % 2];
        let before = journal_bytes(live.backend());
        let outcome = perform(live, &step.call, &mut ids);
        let after = journal_bytes(live.backend());
        match &outcome {
            Ok(true) => prop_assert!(after.len() > before.len(), "step {i} {step:?} wrote nothing"),
            Ok(false) => prop_assert_eq!(after.len(), before.len(), "step {} lost claim wrote", i),
            Err(e) => {
                prop_assert!(is_validation_error(e), "step {i} {step:?}: unexpected error {e:?}");
                prop_assert_eq!(
                    after.len(),
                    before.len(),
                    "step {} failed with {:?} but wrote",
                    i,
                    e
                );
            }
        }
        outcomes.push(outcome.as_ref().map(|w| *w).map_err(std::mem::discriminant));
        let kept = clean_end(&before);
        prop_assert!(after[..kept] == before[..kept], "step {i} {step:?} changed earlier records");
        let reopened = state_of(&fresh());
        for study in reopened.studies() {
            let index: Vec<u64> =
                reopened.waiting_trials_of(study.study_id).unwrap().map(|t| t.trial_id).collect();
            let scan: Vec<u64> = reopened
                .trials_of(study.study_id)
                .unwrap()
                .filter(|t| t.state == TrialState::Waiting)
                .map(|t| t.trial_id)
                .collect();
            prop_assert_eq!(index, scan, "step {} {:?}: WAITING index", i, step);
        }
        if stale_other {
            // Reading a handle brings it to the end: read only the one that made the call.
            prop_assert!(reopened == state_of(live), "step {i} {step:?}: the live handle differs");
            continue;
        }
        prop_assert!(reopened == state_of(&handles[0]), "step {i} {step:?}: handle 0 differs");
        prop_assert!(reopened == state_of(&handles[1]), "step {i} {step:?}: handle 1 differs");
        if let Some((zeros, len)) = step.tear {
            if after.len() >= frame::HEADER_LEN {
                tear(&torn_bytes(zeros, len));
                let reopened = state_of(&fresh());
                prop_assert!(reopened == state_of(&handles[0]), "step {i}: torn tail was read");
                prop_assert!(reopened == state_of(&handles[1]), "step {i}: torn tail was read");
            }
        }
    }
    let reopened = state_of(&fresh());
    prop_assert!(reopened == state_of(&handles[0]), "at the end: handle 0 differs");
    prop_assert!(reopened == state_of(&handles[1]), "at the end: handle 1 differs");
    Ok(outcomes)
}

/// What a call did: `Ok(wrote)`, or the kind of its error.
type Outcome = Result<bool, std::mem::Discriminant<Error>>;

fn config(cases: u32) -> Config {
    Config { cases, failure_persistence: None, ..Config::default() }
}

proptest! {
    #![proptest_config(config(64))]

    /// Two file handles and a fresh `JournalStorage::open` agree after every step, torn tails
    /// left by crashed writers included.
    #[test]
    fn file_live_state_equals_fresh_open(steps in steps(40)) {
        let journal = FileJournal::new();
        let handles = [journal.open(), journal.open()];
        let tear = |bytes: &[u8]| {
            let mut f = OpenOptions::new().append(true).open(journal.path()).unwrap();
            f.write_all(bytes).unwrap();
        };
        check_live_equals_fresh(&handles, || journal.open(), trialog_format(), tear, &steps, false)?;
    }
}

proptest! {
    #![proptest_config(config(384))]

    /// Two handles on one `MemoryBackend` and a handle on a copy of its bytes agree after
    /// every step, torn tails included.
    #[test]
    fn memory_live_state_equals_fresh_replay(steps in steps(48)) {
        let backend = MemoryBackend::new();
        let handles = [
            JournalStorage::new(backend.clone()).unwrap(),
            JournalStorage::new(backend.clone()).unwrap(),
        ];
        let fresh = || JournalStorage::new(MemoryBackend::from_bytes(backend.to_bytes())).unwrap();
        let tear = |bytes: &[u8]| backend.append_raw(bytes);
        check_live_equals_fresh(&handles, fresh, trialog_format(), tear, &steps, false)?;
    }
}

proptest! {
    #![proptest_config(config(128))]

    /// Replaying the same bytes twice gives equal states, and every prefix of the log opens
    /// without error: a prefix ending on a frame boundary replays to exactly the state the
    /// writer had after that frame, and a prefix that cuts a frame (a torn tail) replays to the
    /// state before it.
    #[test]
    fn replay_is_deterministic_for_every_prefix(steps in steps(40)) {
        let backend = MemoryBackend::new();
        let live = JournalStorage::new(backend.clone()).unwrap();
        let mut ids = Ids::default();
        // The state after the header and after each appended frame.
        let mut states = vec![ReplayState::default()];
        for step in &steps {
            if let Ok(true) = perform(&live, &step.call, &mut ids) {
                states.push(state_of(&live));
            }
        }
        let bytes = backend.to_bytes();
        if states.len() == 1 {
            prop_assert!(bytes.is_empty(), "nothing was acknowledged but bytes were written");
            return Ok(());
        }
        let first = replay_bytes(&bytes).unwrap();
        let second = replay_bytes(&bytes).unwrap();
        prop_assert!(first == second, "two replays of the same bytes differ");
        prop_assert!(&first == states.last().unwrap(), "replay differs from the writer");

        let boundaries = frame_boundaries(&bytes);
        prop_assert_eq!(*boundaries.last().unwrap(), bytes.len());
        prop_assert_eq!(boundaries.len(), states.len(), "one frame per acknowledged call");
        for cut in 0..frame::HEADER_LEN {
            let state = replay_bytes(&bytes[..cut]);
            prop_assert!(matches!(&state, Ok(s) if *s == states[0]), "header cut at {cut}");
        }
        for (k, window) in boundaries.windows(2).enumerate() {
            let (start, end) = (window[0], window[1]);
            let at_start = replay_bytes(&bytes[..start]);
            prop_assert!(matches!(&at_start, Ok(s) if *s == states[k]), "prefix {start}");
            for cut in [start + 1, start + 7, start + 8, end - 1] {
                let torn = replay_bytes(&bytes[..cut.min(end - 1)]);
                prop_assert!(matches!(&torn, Ok(s) if *s == states[k]), "torn cut at {cut}");
            }
        }
    }
}

/// The same property over a real Redis server: two handles on one prefix, a fresh handle opened
/// on the prefix after every step. The journal's "bytes" are the log keys' values in order (each
/// followed by a newline), so "grew when a call wrote" and "no earlier record changed" mean the
/// same as for a file; there is no torn tail on Redis (each key is written whole), so tears are
/// skipped. Optuna's JSON keeps one NaN, so NaN payloads are made the quiet NaN first. Each call
/// must also do what the same call does on two handles of one `MemoryBackend` (which read the
/// log before every write): a Redis handle first tries to append without reading, and must
/// never refuse a call on the strength of a stale state. 32 cases (each step costs a few round
/// trips and a fresh replay): the file and memory cases explore the state space; this one
/// checks that the Redis backend's positions, its conditional append from a stale handle and
/// its reads agree with replay.
#[cfg(all(unix, feature = "redis"))]
#[test]
fn redis_live_state_equals_fresh_open() {
    use proptest::test_runner::TestRunner;
    use trialog::backend::RedisBackend;

    if !redis_common::have_redis("redis_live_state_equals_fresh_open") {
        return;
    }
    let server = redis_common::RedisServer::start();
    let case = std::cell::Cell::new(0);
    let mut runner = TestRunner::new(config(32));
    let outcome = runner.run(&steps(40).prop_map(quiet_nans), |steps| {
        case.set(case.get() + 1);
        let url = server.url(&format!("case{}", case.get()));
        let open = || JournalStorage::<RedisBackend>::open_url(&url).unwrap();
        let handles = [open(), open()];
        let redis_journal = (redis_log_values as fn(&RedisBackend) -> Vec<u8>, <[u8]>::len as _);
        let on_redis =
            check_live_equals_fresh(&handles, open, redis_journal, |_| (), &steps, true)?;
        let backend = MemoryBackend::new();
        let handles = [
            JournalStorage::new(backend.clone()).unwrap(),
            JournalStorage::new(backend.clone()).unwrap(),
        ];
        let fresh = || JournalStorage::new(MemoryBackend::from_bytes(backend.to_bytes())).unwrap();
        let in_memory =
            check_live_equals_fresh(&handles, fresh, trialog_format(), |_| (), &steps, true)?;
        prop_assert_eq!(on_redis, in_memory, "calls did differently on Redis and in memory");
        Ok(())
    });
    if let Err(e) = outcome {
        panic!("{e}");
    }
}

/// Every log key's value under the backend's prefix, in order, each followed by a newline.
#[cfg(all(unix, feature = "redis"))]
fn redis_log_values(backend: &trialog::backend::RedisBackend) -> Vec<u8> {
    let mut c = redis::Client::open(backend.server()).unwrap().get_connection().unwrap();
    let last: Option<i64> = redis::cmd("GET").arg(backend.log_number_key()).query(&mut c).unwrap();
    let keys: Vec<String> =
        (0..last.map_or(0, |n| n + 1)).map(|n| backend.log_key(n as u64)).collect();
    if keys.is_empty() {
        return Vec::new();
    }
    let values: Vec<Vec<u8>> = redis::cmd("MGET").arg(&keys).query(&mut c).unwrap();
    values
        .into_iter()
        .flat_map(|mut v| {
            v.push(b'\n');
            v
        })
        .collect()
}

/// `steps` with every NaN the quiet NaN `f64::NAN` (a format of Optuna's JSON text keeps no
/// payload bits).
#[cfg(all(unix, feature = "redis"))]
fn quiet_nans(mut steps: Vec<Step>) -> Vec<Step> {
    fn f(v: &mut f64) {
        if v.is_nan() {
            *v = f64::NAN;
        }
    }
    fn attr(v: &mut AttrValue) {
        match v {
            AttrValue::Float(x) => f(x),
            AttrValue::Array(items) => items.iter_mut().for_each(attr),
            AttrValue::Map(map) => map.values_mut().for_each(attr),
            _ => {}
        }
    }
    fn internal(i: &mut Internal) {
        if let Internal::Raw(v) = i {
            f(v);
        }
    }
    for step in &mut steps {
        match &mut step.call {
            Call::SetStudyAttr { value, .. } | Call::SetTrialAttr { value, .. } => attr(value),
            Call::CreateTrial { template: Some(t), .. } => {
                t.values.iter_mut().flatten().for_each(f);
                t.params.iter_mut().for_each(|p| internal(&mut p.2));
                t.user_attrs.iter_mut().for_each(|a| attr(&mut a.1));
                t.intermediate.iter_mut().for_each(|i| f(&mut i.1));
            }
            Call::SetParam { internal: i, .. } => internal(i),
            Call::SetState { values, .. } => values.iter_mut().flatten().for_each(f),
            Call::Intermediate { value, .. } => f(value),
            _ => {}
        }
    }
    steps
}
