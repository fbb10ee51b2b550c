//! Heartbeats: a handle with heartbeats on writes a RUNNING trial's first heartbeat in the same
//! batch that makes it RUNNING, keeps it fresh while an objective runs, and
//! `fail_stale_trials` fails exactly the RUNNING trials whose heartbeat is older than the grace
//! period, changing nothing else. The last test kills a real worker process mid-trial.

mod mp_common;

use std::sync::Arc;
use std::time::Duration;

use mp_common::{ChildEnv, Spawn, report};
use trialog::journal::{LogBatch, Operation, codec, frame};
use trialog::study::{FAIL_REASON_ATTR, RandomSampler, Study, TellResult};
use trialog::{
    AttrValue, Error, FrozenTrial, HeartbeatOptions, JournalStorage, LockKind, MemoryBackend,
    StudyDirection, Timestamp, TrialState,
};

const HOUR_MICROS: i64 = 3_600_000_000;

fn memory_storages() -> (JournalStorage<MemoryBackend>, JournalStorage<MemoryBackend>, MemoryBackend)
{
    let backend = MemoryBackend::new();
    let plain = JournalStorage::new(backend.clone()).unwrap();
    let beating = JournalStorage::new(backend.clone())
        .unwrap()
        .with_heartbeat(HeartbeatOptions::every(Duration::from_secs(10)));
    (plain, beating, backend)
}

/// Appends a heartbeat for `trial_id` dated `at`, as a worker whose clock said `at` would.
fn append_heartbeat(backend: &MemoryBackend, trial_id: u64, at: Timestamp) {
    let batch = LogBatch {
        worker_id: "old-worker".into(),
        ops: vec![Operation::TrialHeartbeat { trial_id, at }],
    };
    let mut bytes = Vec::new();
    frame::encode_frame(&codec::encode_batch(&batch), &mut bytes);
    backend.append_raw(&bytes);
}

fn heartbeat_of<B: trialog::LogBackend>(
    storage: &JournalStorage<B>,
    trial_id: u64,
) -> Option<Timestamp> {
    storage.read(|s| Ok(s.last_heartbeat(trial_id))).unwrap()
}

#[test]
fn the_first_heartbeat_is_written_with_the_create_or_the_claim() {
    let (plain, beating, _) = memory_storages();
    let study = beating.create_new_study(&[StudyDirection::Minimize], Some("s")).unwrap();
    let before = Timestamp::now();
    let created = beating.create_new_trial(study, None).unwrap();
    let at = heartbeat_of(&beating, created).expect("a created trial has a heartbeat");
    assert!(at >= before);

    let waiting = FrozenTrial::new(0, 0, study, TrialState::Waiting);
    let enqueued = beating.create_new_trial(study, Some(&waiting)).unwrap();
    assert_eq!(heartbeat_of(&beating, enqueued), None, "a WAITING trial takes no heartbeat");
    assert!(beating.set_trial_state_values(enqueued, TrialState::Running, None).unwrap());
    assert!(heartbeat_of(&beating, enqueued).is_some(), "a claimed trial has a heartbeat");
    // One batch each: the create and the claim did not need a second append.
    let stats = beating.read(|s| Ok(s.stats())).unwrap();
    assert_eq!((stats.batches, stats.applied, stats.ignored), (4, 6, 0));

    let unbeaten = plain.create_new_trial(study, None).unwrap();
    assert_eq!(heartbeat_of(&plain, unbeaten), None, "heartbeats are off on this handle");
    // Both handles see the same heartbeats.
    assert_eq!(heartbeat_of(&plain, created), heartbeat_of(&beating, created));
}

#[test]
fn record_heartbeat_only_accepts_running_trials() {
    let (plain, _, _) = memory_storages();
    let study = plain.create_new_study(&[StudyDirection::Minimize], Some("s")).unwrap();
    let running = plain.create_new_trial(study, None).unwrap();
    plain.record_heartbeat(running).unwrap();
    assert!(heartbeat_of(&plain, running).is_some());

    let waiting = FrozenTrial::new(0, 0, study, TrialState::Waiting);
    let waiting = plain.create_new_trial(study, Some(&waiting)).unwrap();
    assert!(matches!(plain.record_heartbeat(waiting), Err(Error::InvalidArgument(_))));

    plain.set_trial_state_values(running, TrialState::Complete, Some(&[1.0])).unwrap();
    assert!(matches!(plain.record_heartbeat(running), Err(Error::TrialFinished { .. })));
    assert_eq!(heartbeat_of(&plain, running), None, "a finished trial drops its heartbeat");
    assert!(matches!(plain.record_heartbeat(99), Err(Error::TrialNotFound { trial_id: 99 })));
}

#[test]
fn fail_stale_trials_fails_only_running_trials_with_an_old_heartbeat() {
    let (plain, beating, backend) = memory_storages();
    let study = plain.create_new_study(&[StudyDirection::Minimize], Some("s")).unwrap();
    let other = plain.create_new_study(&[StudyDirection::Minimize], Some("other")).unwrap();
    let stale = plain.create_new_trial(study, None).unwrap();
    plain.set_trial_user_attr(stale, "kept", AttrValue::Int(7)).unwrap();
    let fresh = beating.create_new_trial(study, None).unwrap();
    let silent = plain.create_new_trial(study, None).unwrap(); // never had a heartbeat
    let done = beating.create_new_trial(study, None).unwrap();
    beating.set_trial_state_values(done, TrialState::Complete, Some(&[0.5])).unwrap();
    let elsewhere = plain.create_new_trial(other, None).unwrap();
    let now = Timestamp::now().as_micros();
    append_heartbeat(&backend, stale, Timestamp(now - HOUR_MICROS));
    append_heartbeat(&backend, elsewhere, Timestamp(now - HOUR_MICROS));
    // An older heartbeat arriving late (clock skew) does not make a fresh trial stale.
    append_heartbeat(&backend, fresh, Timestamp(now - 2 * HOUR_MICROS));

    let grace = Duration::from_secs(60);
    assert_eq!(plain.stale_trial_ids(study, grace).unwrap(), vec![stale]);
    let before = plain.get_all_trials(study, None).unwrap();
    let other_before = plain.get_all_trials(other, None).unwrap();

    assert_eq!(plain.fail_stale_trials(study, grace).unwrap(), vec![stale]);
    let after = plain.get_all_trials(study, None).unwrap();
    assert_eq!(after.len(), before.len());
    for (b, a) in before.iter().zip(&after) {
        if a.trial_id != stale {
            assert_eq!(a, b, "trial {} changed", a.number);
            continue;
        }
        assert_eq!(a.state, TrialState::Fail);
        assert!(a.datetime_complete.is_some());
        assert_eq!(a.user_attrs, b.user_attrs);
        assert_eq!(a.params, b.params);
        match a.system_attrs.get(FAIL_REASON_ATTR) {
            Some(AttrValue::String(reason)) => {
                assert!(reason.contains("no heartbeat for"), "{reason}")
            }
            other => panic!("fail reason {other:?}"),
        }
    }
    assert_eq!(plain.get_all_trials(other, None).unwrap(), other_before, "other study changed");
    assert_eq!(
        plain.get_trial(silent).unwrap().state,
        TrialState::Running,
        "no heartbeat, no fail"
    );
    // Nothing is stale any more; a second caller (or a retry) changes nothing.
    let bytes = backend.to_bytes().len();
    assert_eq!(beating.fail_stale_trials(study, grace).unwrap(), Vec::<u64>::new());
    assert_eq!(backend.to_bytes().len(), bytes, "an empty sweep writes nothing");
    assert!(matches!(
        plain.fail_stale_trials(42, grace),
        Err(Error::StudyNotFound { study_id: 42 })
    ));
}

#[test]
fn a_handle_sees_the_trials_it_sent_heartbeats_for_go_stale_at_its_first_look() {
    // Optuna's own heartbeat tests do this: send a heartbeat, wait past the grace period, sweep
    // once through the same storage object, expect the trial failed.
    let (plain, beating, _) = memory_storages();
    let study = plain.create_new_study(&[StudyDirection::Minimize], Some("s")).unwrap();
    let created = beating.create_new_trial(study, None).unwrap(); // first heartbeat in the create
    let recorded = plain.create_new_trial(study, None).unwrap();
    plain.record_heartbeat(recorded).unwrap();
    let grace = Duration::from_millis(100);
    std::thread::sleep(grace * 3);
    assert_eq!(beating.stale_trial_ids(study, grace).unwrap(), vec![created]);
    assert_eq!(plain.stale_trial_ids(study, grace).unwrap(), vec![recorded]);
    // A third handle never saw either heartbeat: at first sight only the wall-clock fallback
    // applies, and these heartbeats are recent.
    let fresh = JournalStorage::new(plain.backend().clone()).unwrap();
    assert!(fresh.stale_trial_ids(study, grace).unwrap().is_empty());
    assert_eq!(plain.fail_stale_trials(study, grace).unwrap(), vec![recorded]);
    assert_eq!(plain.get_trial(recorded).unwrap().state, TrialState::Fail);
    assert_eq!(plain.get_trial(created).unwrap().state, TrialState::Running);
}

#[test]
fn with_heartbeats_refreshes_the_heartbeat_while_the_objective_runs() {
    let backend = MemoryBackend::new();
    let options = HeartbeatOptions {
        interval: Duration::from_millis(10),
        grace_period: Duration::from_secs(60),
    };
    let storage = Arc::new(JournalStorage::new(backend).unwrap().with_heartbeat(options));
    let study = Study::create(
        Arc::clone(&storage),
        Some("s"),
        &[StudyDirection::Minimize],
        Arc::new(RandomSampler::new(Some(1))),
    )
    .unwrap();
    let trial = study.ask().unwrap();
    let first = heartbeat_of(&storage, trial.id()).unwrap();
    let beats_before = storage.read(|s| Ok(s.stats().batches)).unwrap();
    study.with_heartbeats(trial.id(), || std::thread::sleep(Duration::from_millis(200)));
    let last = heartbeat_of(&storage, trial.id()).unwrap();
    assert!(last > first, "heartbeat did not move: {first} -> {last}");
    let beats = storage.read(|s| Ok(s.stats().batches)).unwrap() - beats_before;
    assert!(beats >= 2, "{beats} heartbeats in 200 ms at a 10 ms interval");
    // The thread stopped with the closure: no heartbeat arrives afterwards.
    std::thread::sleep(Duration::from_millis(50));
    assert_eq!(heartbeat_of(&storage, trial.id()), Some(last));
    study.tell(&trial, TellResult::Complete(vec![1.0])).unwrap();
}

#[test]
fn optimize_fails_the_stale_trials_of_dead_workers_before_each_trial() {
    let backend = MemoryBackend::new();
    let dead = JournalStorage::new(backend.clone()).unwrap();
    let options = HeartbeatOptions::every(Duration::from_secs(5));
    let storage = Arc::new(JournalStorage::new(backend.clone()).unwrap().with_heartbeat(options));
    let study =
        trialog::study::create_study(Arc::clone(&storage), Some("s"), &[StudyDirection::Minimize])
            .unwrap();
    let orphan = dead.create_new_trial(study.id(), None).unwrap();
    append_heartbeat(&backend, orphan, Timestamp(Timestamp::now().as_micros() - HOUR_MICROS));
    let report = study.optimize(Some(2), None, |t| Ok(t.suggest_float("x", 0.0, 1.0)?)).unwrap();
    assert_eq!(report.complete, 2);
    assert_eq!(storage.get_trial(orphan).unwrap().state, TrialState::Fail);
    let states: Vec<_> = study.trials(None).unwrap().iter().map(|t| t.state).collect();
    assert_eq!(states, [TrialState::Fail, TrialState::Complete, TrialState::Complete]);
}

// ---- a real worker process killed mid-trial -------------------------------------------------

const INTERVAL: Duration = Duration::from_millis(100);
const GRACE: Duration = Duration::from_millis(1500);

#[test]
fn a_killed_workers_trial_is_failed_after_the_grace_period_and_nothing_else_changes() {
    let test = mp_common::test_name!();
    if let Some(env) = ChildEnv::get() {
        let options = HeartbeatOptions { interval: INTERVAL, grace_period: GRACE };
        let storage = Arc::new(env.open().with_heartbeat(options));
        let study = Study::load(storage, "hb", Arc::new(RandomSampler::new(None))).unwrap();
        let mut trial = study.ask().unwrap();
        trial.suggest_float("x", 0.0, 1.0).unwrap();
        trial.report(0, 0.25).unwrap();
        report(&format!("running {}", trial.id()));
        let hold: u64 = ChildEnv::parsed("HB_HOLD_MS");
        study.with_heartbeats(trial.id(), || std::thread::sleep(Duration::from_millis(hold)));
        study.tell(&trial, TellResult::Complete(vec![1.0])).unwrap();
        report("told");
        mp_common::report_done();
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let journal = dir.path().join("hb.journal");
    let storage = mp_common::open_storage(&journal, LockKind::Advisory, Duration::from_secs(2));
    let study = storage.create_new_study(&[StudyDirection::Minimize], Some("hb")).unwrap();
    let finished = storage.create_new_trial(study, None).unwrap();
    storage.set_trial_state_values(finished, TrialState::Complete, Some(&[3.0])).unwrap();

    let spawn = |label: &str, hold_ms: u64| {
        let mut child = Spawn::new(test, "worker", &journal, LockKind::Advisory)
            .var("HB_HOLD_MS", &hold_ms)
            .spawn(label);
        let line = child.next_line(Duration::from_secs(60)).expect("running line");
        let id: u64 = line.strip_prefix("running ").expect(&line).parse().unwrap();
        (child, id)
    };
    let (mut victim, victim_trial) = spawn("victim", 600_000);
    // Long enough to outlast the grace period below by several seconds.
    let (mut live, live_trial) = spawn("live", 8_000);
    std::thread::sleep(2 * INTERVAL); // both are beating
    let before = storage.get_all_trials(study, None).unwrap();

    victim.kill_now();
    // Within the grace period nothing is stale: the victim's last heartbeat is recent.
    assert_eq!(storage.fail_stale_trials(study, GRACE).unwrap(), Vec::<u64>::new());
    std::thread::sleep(GRACE + 3 * INTERVAL);
    assert_eq!(storage.fail_stale_trials(study, GRACE).unwrap(), vec![victim_trial]);

    let after = storage.get_all_trials(study, None).unwrap();
    assert_eq!(after.len(), before.len());
    for (b, a) in before.iter().zip(&after) {
        if a.trial_id == victim_trial {
            assert_eq!(a.state, TrialState::Fail);
            assert_eq!(a.params, b.params);
            assert_eq!(a.intermediate_values, b.intermediate_values);
            assert!(a.system_attrs.contains_key(FAIL_REASON_ATTR));
        } else {
            assert_eq!(a, b, "trial {} changed", a.number);
        }
    }
    // The live worker, whose heartbeats kept coming, finishes normally.
    let lines = live.finish_ok(Duration::from_secs(60));
    assert!(lines.contains(&"told".to_owned()), "{lines:?}");
    let t = storage.get_trial(live_trial).unwrap();
    assert_eq!((t.state, t.value()), (TrialState::Complete, Some(1.0)));
    mp_common::assert_nothing_ignored(&storage);
}

#[test]
fn an_optuna_format_journal_never_gets_heartbeats() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("optuna.log");
    let storage = JournalStorage::open_optuna(&path)
        .unwrap()
        .with_heartbeat(HeartbeatOptions::every(Duration::from_millis(10)));
    assert_eq!(storage.heartbeat(), None, "heartbeats stay off on an Optuna file");
    let study = storage.create_new_study(&[StudyDirection::Minimize], Some("s")).unwrap();
    let trial = storage.create_new_trial(study, None).unwrap();
    assert!(matches!(storage.record_heartbeat(trial), Err(Error::NotRepresentable { .. })));
    storage.set_trial_state_values(trial, TrialState::Complete, Some(&[1.0])).unwrap();
    let text = std::fs::read_to_string(&path).unwrap();
    assert_eq!(text.lines().count(), 3, "{text}");
    assert!(text.lines().all(|l| !l.contains("\"op_code\": 128")), "{text}");
}

#[test]
fn a_fresh_sweeper_stops_waiting_once_the_trials_it_watches_finish() {
    // A sweeper that has just started (`trialog run`, `trialog study resume`) must watch a
    // RUNNING trial with a fresh heartbeat for a grace period before it may call it stale; if
    // the trial finishes first there is nothing left to judge, and the sweeper goes on at once
    // instead of waiting out the rest of the (here hour-long) grace period.
    let (plain, beating, backend) = memory_storages();
    let study = plain.create_new_study(&[StudyDirection::Minimize], Some("s")).unwrap();
    let trial = beating.create_new_trial(study, None).unwrap();
    let grace = Duration::from_secs(3600);
    let (tx, rx) = std::sync::mpsc::channel();
    let sweeper = JournalStorage::new(backend).unwrap();
    std::thread::spawn(move || {
        let _ = tx.send(trialog::storage::fail_stale_after_watching(&sweeper, study, grace));
    });
    std::thread::sleep(Duration::from_millis(200));
    beating.set_trial_state_values(trial, TrialState::Complete, Some(&[1.0])).unwrap();
    let failed = rx.recv_timeout(Duration::from_secs(60)).expect("the sweeper waited on");
    assert_eq!(failed.unwrap(), Vec::<u64>::new());
    assert_eq!(plain.get_trial(trial).unwrap().state, TrialState::Complete);
}
