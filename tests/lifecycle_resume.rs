//! Resuming exactly: a study killed with SIGKILL in the middle of a trial, then resumed, makes the
//! draws an uninterrupted run makes (the test: 40 trials straight versus 20, `kill -9`,
//! resume, 20 more: the same parameters in the same order), with a seeded sampler and with an
//! unseeded one whose seed comes back from the sampler checkpoints; and a fork at trial N,
//! resumed, continues exactly as the original did after N.

mod mp_common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use mp_common::{ChildEnv, Spawn, report};
use trialog::lifecycle::{ForkOptions, ResumeOptions, StaleTrials, fork_study};
use trialog::study::sampler::Sampler;
use trialog::study::{CheckpointOptions, ObjectiveError, TpeSampler, Trial, stored_state};
use trialog::{
    HeartbeatOptions, JournalStorage, ListMap, LockKind, MemoryBackend, ParamValue, Storage, Study,
    StudyDirection, TrialState,
};

const SEED: u64 = 20240917;
const STUDY: &str = "resumed";
const SEED_VAR: &str = "TRIALOG_MP_SAMPLER_SEED";
/// The trial the victim is killed in, after suggesting `x` and before `y` and `z`.
const KILLED_AT: u64 = 20;

fn heartbeat() -> HeartbeatOptions {
    HeartbeatOptions {
        interval: Duration::from_millis(100),
        grace_period: Duration::from_millis(400),
    }
}

/// The objective: three parameters of three kinds; `stop_at` blocks (forever) in that trial
/// after its first suggestion, reporting that it got there.
fn objective<S: Storage + ?Sized>(
    trial: &mut Trial<S>,
    stop_at: Option<u64>,
) -> Result<f64, ObjectiveError> {
    let x = trial.suggest_float("x", -5.0, 5.0)?;
    if stop_at == Some(trial.number()) {
        report(&format!("started {}", trial.number()));
        loop {
            std::thread::sleep(Duration::from_secs(60));
        }
    }
    let y = trial.suggest_int("y", 0, 10)?;
    let z = trial.suggest_categorical("z", ["a", "b", "c"])?;
    let penalty = match z {
        ParamValue::Str(s) if s == "a" => 0.0,
        ParamValue::Str(s) if s == "b" => 1.0,
        _ => 2.0,
    };
    Ok((x - 1.0).powi(2) + (y as f64 - 3.0).powi(2) + penalty)
}

/// The parameters of the COMPLETE trials, in number order.
fn complete_params<S: Storage + ?Sized>(study: &Study<S>) -> Vec<ListMap<Arc<str>, ParamValue>> {
    study.trials(Some(&[TrialState::Complete])).unwrap().iter().map(|t| t.params.clone()).collect()
}

/// 40 trials in one go, in memory, with `seed`.
fn straight_run(seed: u64) -> Vec<ListMap<Arc<str>, ParamValue>> {
    let storage = Arc::new(JournalStorage::new(MemoryBackend::new()).unwrap());
    let sampler = Arc::new(TpeSampler::new(Some(seed)));
    let study = Study::create(storage, Some(STUDY), &[StudyDirection::Minimize], sampler).unwrap();
    study.optimize(Some(40), None, |t| objective(t, None)).unwrap();
    complete_params(&study)
}

/// Child: runs the study with checkpoints and heartbeats until it is killed in trial
/// [`KILLED_AT`].
fn victim(env: &ChildEnv) {
    let storage = Arc::new(
        JournalStorage::open_with(&env.journal, &mp_common::file_options(env.kind, env.grace))
            .unwrap()
            .with_heartbeat(heartbeat()),
    );
    let seed = std::env::var(SEED_VAR).ok().map(|s| s.parse().unwrap());
    let sampler = Arc::new(TpeSampler::new(seed));
    let study = Study::create(storage, Some(STUDY), &[StudyDirection::Minimize], sampler)
        .unwrap()
        .with_checkpoints(CheckpointOptions::default());
    study.optimize(Some(1000), None, |t| objective(t, Some(KILLED_AT))).unwrap();
    unreachable!("the victim is killed in trial {KILLED_AT}");
}

/// Runs the victim on a fresh journal and kills it with SIGKILL inside trial [`KILLED_AT`];
/// returns the journal's directory and path.
fn run_and_kill(test: &str, seed: Option<u64>) -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("study.journal");
    let mut spawn = Spawn::new(test, "victim", &path, LockKind::Advisory);
    if let Some(seed) = seed {
        spawn = spawn.var(SEED_VAR, &seed);
    }
    let mut child = spawn.spawn("victim");
    child.expect_line(&format!("started {KILLED_AT}"), Duration::from_secs(120));
    child.kill_now();
    (dir, path)
}

/// Opens the journal with heartbeats and waits until the killed trial is stale.
fn open_after_death(path: &std::path::Path) -> Arc<JournalStorage> {
    let storage = Arc::new(JournalStorage::open(path).unwrap().with_heartbeat(heartbeat()));
    let study = storage.get_study_id_from_name(STUDY).unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    while storage.stale_trial_ids(study, heartbeat().grace_period).unwrap().is_empty() {
        assert!(Instant::now() < deadline, "the killed trial never went stale");
        std::thread::sleep(Duration::from_millis(50));
    }
    storage
}

/// Resumes with `sampler`, checks what resume did, runs 20 more trials; returns the COMPLETE
/// trials' parameters.
fn resume_and_finish(
    storage: Arc<JournalStorage>,
    sampler: Arc<TpeSampler>,
) -> Vec<ListMap<Arc<str>, ParamValue>> {
    let (study, report) =
        Study::resume(storage, STUDY, sampler, &ResumeOptions::default()).unwrap();
    assert_eq!(report.failed, [KILLED_AT]);
    assert_eq!(report.retried, [(KILLED_AT, KILLED_AT + 1)]);
    assert_eq!(report.restored_from, Some(KILLED_AT + 1), "the retry carries the state");
    assert!(study.checkpoints().is_some(), "checkpoints stay on for a study that had them");
    let done = study.optimize(Some(20), None, |t| objective(t, None)).unwrap();
    assert_eq!(done.complete, 20);
    let trials = study.trials(None).unwrap();
    assert_eq!(trials[KILLED_AT as usize].state, TrialState::Fail);
    assert_eq!(trials.len() as u64, 40 + 1, "one trial was lost to the kill");
    complete_params(&study)
}

#[test]
fn a_seeded_study_killed_and_resumed_draws_what_a_straight_run_draws() {
    if let Some(env) = ChildEnv::get() {
        return victim(&env);
    }
    let (_dir, path) = run_and_kill(mp_common::test_name!(), Some(SEED));
    let storage = open_after_death(&path);
    let resumed = resume_and_finish(storage, Arc::new(TpeSampler::new(Some(SEED))));
    let straight = straight_run(SEED);
    assert_eq!(resumed.len(), 40);
    for (i, (a, b)) in resumed.iter().zip(&straight).enumerate() {
        assert_eq!(a, b, "COMPLETE trial {i} of the resumed run differs from the straight run");
    }
}

#[test]
fn an_unseeded_study_gets_its_seed_back_from_the_checkpoints() {
    if let Some(env) = ChildEnv::get() {
        return victim(&env);
    }
    let (_dir, path) = run_and_kill(mp_common::test_name!(), None);
    let storage = open_after_death(&path);
    // The seed the victim drew for itself, as its first checkpoint records it.
    let study = storage.get_study_id_from_name(STUDY).unwrap();
    let first = storage.get_all_trials(study, None).unwrap()[0].clone();
    let state = stored_state(&first, None).unwrap().expect("trial 0 has a checkpoint");
    let probe = TpeSampler::new(None);
    probe.import_state(&state).unwrap();
    let seed = probe.seed();
    // Resumed with a fresh unseeded sampler: the checkpoint gives it the victim's seed.
    let fresh = Arc::new(TpeSampler::new(None));
    assert_ne!(fresh.seed(), seed);
    let resumed = resume_and_finish(storage, Arc::clone(&fresh));
    assert_eq!(fresh.seed(), seed);
    assert_eq!(resumed, straight_run(seed));
}

#[test]
fn a_fork_at_n_resumed_continues_exactly_as_the_original_did_after_n() {
    const AT: u64 = 19;
    let storage = Arc::new(JournalStorage::new(MemoryBackend::new()).unwrap());
    let original = Study::create(
        Arc::clone(&storage),
        Some(STUDY),
        &[StudyDirection::Minimize],
        Arc::new(TpeSampler::new(None)),
    )
    .unwrap()
    .with_checkpoints(CheckpointOptions::default());
    original.optimize(Some(40), None, |t| objective(t, None)).unwrap();
    let expected = complete_params(&original);

    let options = |to: &str| ForkOptions { at: AT, to_name: to.into(), keep_waiting: false };
    let report = fork_study(&*storage, STUDY, &*storage, &options("fork")).unwrap();
    assert_eq!(report.trials, AT as usize + 1);
    let resume = ResumeOptions { stale: StaleTrials::Keep, ..ResumeOptions::default() };
    let fresh = Arc::new(TpeSampler::new(None));
    let (fork, done) = Study::resume(Arc::clone(&storage), "fork", fresh, &resume).unwrap();
    assert_eq!(done.restored_from, Some(AT));
    fork.optimize(Some(40 - AT as usize - 1), None, |t| objective(t, None)).unwrap();
    assert_eq!(complete_params(&fork), expected);

    // Without the restored state, an unseeded sampler goes its own way: the checkpoint is
    // what makes the fork continue as the original did.
    fork_study(&*storage, STUDY, &*storage, &options("fork-without-state")).unwrap();
    let unrestored =
        Study::load(Arc::clone(&storage), "fork-without-state", Arc::new(TpeSampler::new(None)))
            .unwrap();
    unrestored.optimize(Some(40 - AT as usize - 1), None, |t| objective(t, None)).unwrap();
    assert_ne!(complete_params(&unrestored), expected);
}

#[test]
fn resume_fails_every_running_trial_when_told_no_worker_runs() {
    let storage = Arc::new(JournalStorage::new(MemoryBackend::new()).unwrap());
    let study = Study::create(
        Arc::clone(&storage),
        Some(STUDY),
        &[StudyDirection::Minimize],
        Arc::new(TpeSampler::new(Some(1))),
    )
    .unwrap();
    let mut a = study.ask().unwrap();
    a.suggest_float("x", 0.0, 1.0).unwrap();
    let b = study.ask().unwrap();
    study.tell(&b, trialog::TellResult::Complete(vec![1.0])).unwrap();
    let _c = study.ask().unwrap();
    // Heartbeats are off on this handle: the default finds nothing stale.
    let (_, nothing) = Study::resume(
        Arc::clone(&storage),
        STUDY,
        Arc::new(TpeSampler::new(Some(1))),
        &ResumeOptions::default(),
    )
    .unwrap();
    assert!(nothing.failed.is_empty() && nothing.retried.is_empty());
    let all = ResumeOptions { stale: StaleTrials::AllRunning, ..ResumeOptions::default() };
    let (study, report) =
        Study::resume(Arc::clone(&storage), STUDY, Arc::new(TpeSampler::new(Some(1))), &all)
            .unwrap();
    assert_eq!(report.failed, [0, 2]);
    assert_eq!(report.retried, [(0, 3), (2, 4)]);
    assert_eq!(report.restored_from, None, "no checkpoints were stored");
    let trials = study.trials(None).unwrap();
    assert_eq!(trials[3].params, trials[0].params);
    assert_eq!(trials[3].state, TrialState::Waiting);
    // The retry is claimed first, with its parameter, and draws as trial 0 did.
    let retry = study.ask().unwrap();
    assert_eq!((retry.number(), retry.draw_number()), (3, 0));
    let fresh = study.ask().unwrap();
    assert_eq!((fresh.number(), fresh.draw_number()), (4, 2), "trial 2's retry is trial 4");
    let next = study.ask().unwrap();
    assert_eq!((next.number(), next.draw_number()), (5, 3), "two retries below trial 5");
    // A second resume finds nothing more to do.
    let (_, again) =
        Study::resume(storage, STUDY, Arc::new(TpeSampler::new(Some(1))), &all).unwrap();
    assert_eq!(again.failed.len(), 3, "the three trials asked above were RUNNING");
}
