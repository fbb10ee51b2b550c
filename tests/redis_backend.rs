//! `RedisBackend` on a real `redis-server` (see `redis_common`): Optuna's `JournalRedisBackend`
//! key layout, the conditional append, reads by log number, typed errors for bad keys and a lost
//! server, and sharing a study with Python Optuna (`tests/python/*.py` take `redis://` URLs).
// The tests start a `redis-server` of their own, which Windows does not have; the backend itself
// builds there (and `cross-test.sh --no-run` checks it).
#![cfg(all(unix, feature = "redis"))]

mod py_common;
mod redis_common;
mod server_common;

use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use py_common::*;
use redis_common::*;
use trialog::backend::{AppendOutcome, LogBackend, RedisBackend, RedisOptions};
use trialog::journal::{LogBatch, Operation};
use trialog::study::TellResult;
use trialog::study::{RandomSampler, Study};
use trialog::{Distribution, Error, JournalStorage, StudyDirection, TrialState};

type RedisStorage = JournalStorage<RedisBackend>;

/// A study with `n` finished trials (one float parameter each), written through `storage`.
fn write_study(storage: &RedisStorage, name: &str, n: usize) -> u64 {
    let study = storage.create_new_study(&[StudyDirection::Minimize], Some(name)).unwrap();
    let dist = Distribution::float(-1.0, 1.0, false, None).unwrap();
    for i in 0..n {
        let trial = storage.create_new_trial(study, None).unwrap();
        storage.set_trial_param(trial, "x", i as f64 / 10.0, &dist).unwrap();
        storage.set_trial_user_attr(trial, "i", trialog::AttrValue::Int(i as i64)).unwrap();
        storage.set_trial_state_values(trial, TrialState::Complete, Some(&[i as f64])).unwrap();
    }
    study
}

#[test]
fn storage_round_trips_in_optunas_key_layout() {
    if !have_redis("storage_round_trips_in_optunas_key_layout") {
        return;
    }
    let server = RedisServer::start();
    let writer = RedisStorage::open_url(&server.url("rt")).unwrap();
    let study = write_study(&writer, "rt", 3);
    // Another handle (another connection) replays the same state.
    let reader = RedisStorage::open_url(&server.url("rt")).unwrap();
    let ours = writer.get_all_trials(study, None).unwrap();
    let theirs = reader.get_all_trials(study, None).unwrap();
    assert_eq!(format!("{ours:?}"), format!("{theirs:?}"));
    assert_eq!(theirs.len(), 3);
    assert_eq!(theirs[2].values.as_deref(), Some(&[2.0][..]));

    // Optuna's layout: `rt:log_number` is the highest log number, one operation per
    // `rt:log:N` in json.dumps' default separators, no snapshot, nothing else.
    let mut c = server.client();
    let ops = 1 + 3 * 4; // create study; per trial: create, param, attr, state
    assert_eq!(get(&mut c, "rt:log_number").as_deref(), Some((ops - 1).to_string().as_str()));
    let first = get(&mut c, "rt:log:0").unwrap();
    assert!(first.starts_with("{\"op_code\": 0, \"worker_id\": \""), "{first}");
    assert!(first.contains("\"study_name\": \"rt\", \"directions\": [1]}"), "{first}");
    let mut expected: Vec<String> = (0..ops).map(|n| format!("rt:log:{n}")).collect();
    expected.push("rt:log_number".into());
    expected.sort();
    assert_eq!(keys(&mut c), expected);

    // Reads are incremental: a new entry reaches the old handle without reopening.
    let later = writer.create_new_trial(study, None).unwrap();
    assert_eq!(reader.get_trial(later).unwrap().state, TrialState::Running);

    // The library opens a prefix with characters a URL must escape.
    let odd = RedisStorage::open_url(&format!("{}?prefix=a%2Fb%20c", server.base_url())).unwrap();
    odd.create_new_study(&[StudyDirection::Maximize], Some("odd")).unwrap();
    assert!(get(&mut c, "a/b c:log:0").is_some());
}

#[test]
fn the_append_is_conditional_on_the_log_number() {
    if !have_redis("the_append_is_conditional_on_the_log_number") {
        return;
    }
    let server = RedisServer::start();
    let a = RedisBackend::open(&server.url("cond")).unwrap();
    let b = RedisBackend::open(&server.url("cond")).unwrap();
    let op = |name: &str| Operation::CreateStudy {
        study_name: name.into(),
        directions: vec![StudyDirection::Minimize],
    };
    let batch = |name: &str| LogBatch { worker_id: "w".into(), ops: vec![op(name)] };
    // Both have read nothing; the first append wins, the second writes nothing.
    let ga = a.lock().unwrap();
    assert_eq!(a.append_if(&ga, 0, &batch("a")).unwrap(), AppendOutcome::Appended { end: 1 });
    let gb = b.lock().unwrap();
    assert_eq!(b.append_if(&gb, 0, &batch("b")).unwrap(), AppendOutcome::Moved);
    // A batch of several operations becomes consecutive keys, written at once.
    let two = LogBatch { worker_id: "w".into(), ops: vec![op("c"), op("d")] };
    assert_eq!(b.append_if(&gb, 1, &two).unwrap(), AppendOutcome::Appended { end: 3 });
    let mut c = server.client();
    assert_eq!(get(&mut c, "cond:log_number").as_deref(), Some("2"));
    let mut seen = Vec::new();
    let end = a
        .read_from(1, &mut |at, batch| {
            let Operation::CreateStudy { study_name, .. } = &batch.ops[0] else { panic!() };
            seen.push((at, study_name.clone()));
            Ok(())
        })
        .unwrap();
    assert_eq!(end, 3);
    assert_eq!(seen, [(1, "c".to_string()), (2, "d".to_string())]);
    // Operations Optuna cannot read are refused before anything is written.
    let heartbeat = LogBatch {
        worker_id: "w".into(),
        ops: vec![Operation::TrialHeartbeat { trial_id: 0, at: trialog::Timestamp::now() }],
    };
    assert!(matches!(a.append_if(&ga, 3, &heartbeat), Err(Error::NotRepresentable { .. })));
    assert_eq!(get(&mut c, "cond:log_number").as_deref(), Some("2"));
}

/// The commands clients send to the server at `port` (not those scripts run), as `MONITOR`
/// shows them, from now until `stop()` returns them: each line's quoted command and arguments.
fn monitor(port: u16) -> impl FnOnce() -> Vec<String> {
    use std::io::{BufRead, BufReader, Write};
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    stream.write_all(b"MONITOR\r\n").unwrap();
    let mut lines = BufReader::new(stream);
    let mut ok = String::new();
    lines.read_line(&mut ok).unwrap();
    assert_eq!(ok.trim_end(), "+OK");
    move || {
        // A marker sent on another connection ends the capture.
        let mut c = redis::Client::open(format!("redis://127.0.0.1:{port}/0").as_str())
            .unwrap()
            .get_connection()
            .unwrap();
        let _: String = redis::cmd("ECHO").arg("end-of-capture").query(&mut c).unwrap();
        let mut seen = Vec::new();
        loop {
            let mut line = String::new();
            assert!(lines.read_line(&mut line).unwrap() > 0, "MONITOR connection closed");
            if line.contains("\"end-of-capture\"") {
                return seen;
            }
            // `+<time> [<db> <client address>] "CMD" ...`; commands a script ran say `[0 lua]`.
            let Some((client, command)) = line.split_once("] ") else { continue };
            if !client.ends_with(" lua") {
                seen.push(command.trim_end().to_owned());
            }
        }
    }
}

#[test]
fn a_current_writer_appends_with_one_command_per_operation() {
    if !have_redis("a_current_writer_appends_with_one_command_per_operation") {
        return;
    }
    let server = RedisServer::start();
    let storage = RedisStorage::open_url(&server.url("rt")).unwrap();
    let study = write_study(&storage, "rt", 1);
    let dist = Distribution::float(-1.0, 1.0, false, None).unwrap();
    let stop = monitor(server.port);
    for i in 0..5 {
        let trial = storage.create_new_trial(study, None).unwrap();
        storage.set_trial_param(trial, "x", 0.5, &dist).unwrap();
        storage.set_trial_state_values(trial, TrialState::Complete, Some(&[i as f64])).unwrap();
    }
    let sent = stop();
    // 15 appends, each one `EVALSHA` of the conditional script: no read before it, since no
    // one else wrote (before: a `GET` of the log number and an `EVAL` each).
    assert_eq!(sent.len(), 15, "{sent:#?}");
    assert!(sent.iter().all(|c| c.starts_with("\"EVALSHA\"")), "{sent:#?}");
    let mut c = server.client();
    assert_eq!(get(&mut c, "rt:log_number").as_deref(), Some("19"));
}

#[test]
fn a_stale_writer_reads_before_refusing() {
    if !have_redis("a_stale_writer_reads_before_refusing") {
        return;
    }
    let server = RedisServer::start();
    let a = RedisStorage::open_url(&server.url("stale")).unwrap();
    let b = RedisStorage::open_url(&server.url("stale")).unwrap();
    let study = write_study(&a, "stale", 0);
    // `b` has not read since `a` created the study and a trial: its first try (without a read)
    // finds neither, and must read before answering, not refuse on its stale state.
    let trial = a.create_new_trial(study, None).unwrap();
    let dist = Distribution::float(-1.0, 1.0, false, None).unwrap();
    b.set_trial_param(trial, "x", 0.25, &dist).unwrap();
    assert_eq!(b.create_new_trial(study, None).unwrap(), trial + 1);
    // A refusal decided on the log's end stays a refusal: `a` finished the trial meanwhile.
    assert!(a.set_trial_state_values(trial, TrialState::Complete, Some(&[1.0])).unwrap());
    let err = b.set_trial_state_values(trial, TrialState::Fail, None).unwrap_err();
    assert!(matches!(err, Error::TrialFinished { .. }), "{err:?}");
    assert!(matches!(b.get_trial(trial).unwrap().state, TrialState::Complete));
}

/// A `CreateStudy` batch named `name`.
fn study_batch(name: &str) -> LogBatch {
    let op = Operation::CreateStudy {
        study_name: name.into(),
        directions: vec![StudyDirection::Minimize],
    };
    LogBatch { worker_id: name.into(), ops: vec![op] }
}

#[test]
fn a_writer_refused_twice_appends_before_the_one_that_keeps_winning() {
    if !have_redis("a_writer_refused_twice_appends_before_the_one_that_keeps_winning") {
        return;
    }
    let server = RedisServer::start();
    // A turn that outlives any scheduling delay of this test (it ends when `loser` appends).
    let options = RedisOptions {
        prefix: "fair".into(),
        turn_expiry: Duration::from_secs(60),
        ..RedisOptions::default()
    };
    let open = || Arc::new(RedisBackend::open_with(&server.base_url(), &options).unwrap());
    let (winner, loser) = (open(), open());
    let mut c = server.client();
    let gw = winner.lock().unwrap();
    assert_eq!(
        winner.append_if(&gw, 0, &study_batch("w0")).unwrap(),
        AppendOutcome::Appended { end: 1 }
    );
    drop(gw);
    // The loser, still at 0, is refused once (no turn: it was only behind) ...
    let gl = loser.lock().unwrap();
    assert_eq!(loser.append_if(&gl, 0, &study_batch("l")).unwrap(), AppendOutcome::Moved);
    assert_eq!(get(&mut c, "fair:trialog:turn"), None);
    // ... the winner appends again before the loser's retry, which is refused a second time in
    // the same write: now the loser has the turn.
    let gw = winner.lock().unwrap();
    assert_eq!(
        winner.append_if(&gw, 1, &study_batch("w1")).unwrap(),
        AppendOutcome::Appended { end: 2 }
    );
    drop(gw);
    assert_eq!(loser.append_if(&gl, 1, &study_batch("l")).unwrap(), AppendOutcome::Moved);
    assert!(get(&mut c, "fair:trialog:turn").is_some(), "the twice-refused writer has the turn");
    // The winner, current at 2, may not append while the loser has the turn: it waits ...
    let w = winner.clone();
    let waiting = std::thread::spawn(move || {
        let gw = w.lock().unwrap();
        w.append_if(&gw, 2, &study_batch("w2")).unwrap()
    });
    std::thread::sleep(Duration::from_millis(50));
    assert_eq!(get(&mut c, "fair:log_number").as_deref(), Some("1"), "the winner waited");
    // ... the loser appends at 2 and ends the turn; the winner finds the log moved.
    assert_eq!(
        loser.append_if(&gl, 2, &study_batch("l")).unwrap(),
        AppendOutcome::Appended { end: 3 }
    );
    assert_eq!(waiting.join().unwrap(), AppendOutcome::Moved);
    assert_eq!(get(&mut c, "fair:trialog:turn"), None);
    assert_eq!(get(&mut c, "fair:log:2").map(|v| v.contains("\"l\"")), Some(true));
    drop(gl);
    // Only Optuna's keys remain: the turn is gone once its holder appended.
    assert_eq!(
        keys(&mut c),
        ["fair:log:0", "fair:log:1", "fair:log:2", "fair:log_number"].map(String::from)
    );
}

#[test]
fn the_turn_never_reaches_the_append_only_file() {
    if !have_redis("the_turn_never_reaches_the_append_only_file") {
        return;
    }
    let server = RedisServer::start_with(true);
    let options = RedisOptions { prefix: "aof".into(), ..RedisOptions::default() };
    let open = || RedisBackend::open_with(&server.base_url(), &options).unwrap();
    let (winner, loser) = (open(), open());
    let gw = winner.lock().unwrap();
    winner.append_if(&gw, 0, &study_batch("w0")).unwrap();
    let gl = loser.lock().unwrap();
    assert_eq!(loser.append_if(&gl, 0, &study_batch("l")).unwrap(), AppendOutcome::Moved);
    assert_eq!(loser.append_if(&gl, 0, &study_batch("l")).unwrap(), AppendOutcome::Moved);
    assert!(get(&mut server.client(), "aof:trialog:turn").is_some(), "the loser took the turn");
    assert!(matches!(
        loser.append_if(&gl, 1, &study_batch("l")).unwrap(),
        AppendOutcome::Appended { .. }
    ));
    // Taking and ending the turn wrote nothing to disk (no fsync); the log keys are there.
    let mut aof = Vec::new();
    for entry in walk(server.dir()) {
        aof.extend(std::fs::read(entry).unwrap());
    }
    let text = String::from_utf8_lossy(&aof);
    assert!(text.contains("aof:log:1"), "the append-only file holds the log");
    assert!(!text.contains("trialog:turn"), "the turn reached the append-only file");
}

/// Every file under `dir`.
fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() { files.extend(walk(&path)) } else { files.push(path) }
    }
    files
}

#[test]
fn a_turn_whose_holder_never_appends_expires() {
    if !have_redis("a_turn_whose_holder_never_appends_expires") {
        return;
    }
    let server = RedisServer::start();
    let options = RedisOptions {
        prefix: "gone".into(),
        turn_expiry: Duration::from_millis(200),
        ..RedisOptions::default()
    };
    let open = || RedisBackend::open_with(&server.base_url(), &options).unwrap();
    let (winner, holder) = (open(), open());
    let gw = winner.lock().unwrap();
    assert!(matches!(
        winner.append_if(&gw, 0, &study_batch("w0")).unwrap(),
        AppendOutcome::Appended { .. }
    ));
    let gh = holder.lock().unwrap();
    assert_eq!(holder.append_if(&gh, 0, &study_batch("h")).unwrap(), AppendOutcome::Moved);
    assert_eq!(holder.append_if(&gh, 0, &study_batch("h")).unwrap(), AppendOutcome::Moved);
    // The holder gives up (it died, or found nothing to write): the winner waits for the turn
    // to expire, then appends.
    drop(gh);
    drop(holder);
    let started = Instant::now();
    assert_eq!(
        winner.append_if(&gw, 1, &study_batch("w1")).unwrap(),
        AppendOutcome::Appended { end: 2 }
    );
    assert!(started.elapsed() < Duration::from_secs(30));
    // A turn key that is not trialog's (no expiry) is ignored.
    let mut c = server.client();
    set(&mut c, "gone:trialog:turn", "someone");
    assert_eq!(
        winner.append_if(&gw, 2, &study_batch("w2")).unwrap(),
        AppendOutcome::Appended { end: 3 }
    );
}

#[test]
fn two_trialog_writers_lose_and_duplicate_nothing() {
    if !have_redis("two_trialog_writers_lose_and_duplicate_nothing") {
        return;
    }
    let server = RedisServer::start();
    let url = server.url("race");
    let first = RedisStorage::open_url(&url).unwrap();
    let study = first.create_new_study(&[StudyDirection::Minimize], Some("race")).unwrap();
    const PER_WRITER: usize = 60;
    let writers: Vec<_> = (0..2)
        .map(|w| {
            let url = url.clone();
            std::thread::spawn(move || {
                // Each writer has its own handle and connection: only the conditional append
                // orders them.
                let storage = RedisStorage::open_url(&url).unwrap();
                let mut mine = Vec::new();
                for i in 0..PER_WRITER {
                    let trial = storage.create_new_trial(study, None).unwrap();
                    let value = (w * 1000 + i) as f64;
                    storage
                        .set_trial_state_values(trial, TrialState::Complete, Some(&[value]))
                        .unwrap();
                    mine.push((trial, value));
                }
                mine
            })
        })
        .collect();
    let written: Vec<(u64, f64)> = writers.into_iter().flat_map(|w| w.join().unwrap()).collect();
    let trials = first.get_all_trials(study, None).unwrap();
    assert_eq!(trials.len(), 2 * PER_WRITER);
    for (n, t) in trials.iter().enumerate() {
        assert_eq!(t.number, n as u64, "numbers are gapless");
        assert_eq!(t.state, TrialState::Complete);
        let value = written.iter().find(|(id, _)| *id == t.trial_id).unwrap().1;
        assert_eq!(t.values.as_deref(), Some(&[value][..]), "trial {} has its writer's value", n);
    }
    // Exactly the acknowledged operations: 1 study + 2 per trial, no duplicate.
    let mut c = server.client();
    let log_number = get(&mut c, "race:log_number").unwrap();
    assert_eq!(log_number, (2 * 2 * PER_WRITER).to_string());
}

#[test]
fn two_trialog_writers_never_claim_one_enqueued_trial_twice() {
    if !have_redis("two_trialog_writers_never_claim_one_enqueued_trial_twice") {
        return;
    }
    // Claiming a WAITING trial is check-then-append: a writer that appended unconditionally
    // could claim a trial another writer claimed a moment before (and replay would then drop
    // its acknowledged claim).
    let server = RedisServer::start();
    let url = server.url("claim");
    let sampler = || Arc::new(RandomSampler::new(Some(0)));
    let storage = Arc::new(RedisStorage::open_url(&url).unwrap());
    let study =
        Study::create_or_load(storage, "claim", &[StudyDirection::Minimize], sampler()).unwrap();
    const QUEUED: usize = 80;
    for _ in 0..QUEUED {
        study.enqueue_trial(&[]).unwrap();
    }
    let writers: Vec<_> = (0..2)
        .map(|_| {
            let url = url.clone();
            std::thread::spawn(move || {
                let storage = Arc::new(RedisStorage::open_url(&url).unwrap());
                let study = Study::load(storage, "claim", sampler()).unwrap();
                let mut claimed = Vec::new();
                while let Some(trial) = study.ask_waiting().unwrap() {
                    claimed.push(trial.id());
                    study.tell(&trial, TellResult::Complete(vec![trial.id() as f64])).unwrap();
                }
                claimed
            })
        })
        .collect();
    let claims: Vec<Vec<u64>> = writers.into_iter().map(|w| w.join().unwrap()).collect();
    let mut all: Vec<u64> = claims.concat();
    all.sort_unstable();
    assert_eq!(all, (0..QUEUED as u64).collect::<Vec<_>>(), "each trial claimed exactly once");
    let trials = study.trials(None).unwrap();
    assert!(trials.iter().all(|t| t.state == TrialState::Complete));
    eprintln!("claims per writer: {} and {}", claims[0].len(), claims[1].len());
}

#[test]
fn bad_values_are_typed_errors_naming_the_key() {
    if !have_redis("bad_values_are_typed_errors_naming_the_key") {
        return;
    }
    let server = RedisServer::start();
    let mut c = server.client();
    let writer = RedisStorage::open_url(&server.url("bad")).unwrap();
    writer.create_new_study(&[StudyDirection::Minimize], Some("s")).unwrap();

    // A log entry that is not JSON, or not an operation.
    for garbage in ["not json", "[1, 2]", "{\"op_code\": 4}", "\u{0}\u{ff}"] {
        set(&mut c, "bad:log:1", garbage);
        set(&mut c, "bad:log_number", "1");
        let err = RedisStorage::open_url(&server.url("bad")).unwrap_err();
        match &err {
            Error::RedisCorrupt { key, server: s, .. } => {
                assert_eq!(key, "bad:log:1");
                assert_eq!(s, &server.base_url());
            }
            other => panic!("{garbage:?}: expected RedisCorrupt, got {other:?}"),
        }
        assert!(err.to_string().contains("bad:log:1"), "{err}");
    }

    // A log number that is not one: reading and appending both refuse, nothing is written.
    set(&mut c, "bad:log_number", "seven");
    let err = writer.create_new_study(&[StudyDirection::Minimize], Some("t")).unwrap_err();
    assert!(matches!(&err, Error::RedisCorrupt { key, .. } if key == "bad:log_number"), "{err:?}");
    let backend = RedisBackend::open(&server.url("bad")).unwrap();
    let batch =
        LogBatch { worker_id: "w".into(), ops: vec![Operation::DeleteStudy { study_id: 0 }] };
    let guard = backend.lock().unwrap();
    let err = backend.append_if(&guard, 1, &batch).unwrap_err();
    assert!(matches!(&err, Error::RedisCorrupt { key, .. } if key == "bad:log_number"), "{err:?}");
    assert_eq!(get(&mut c, "bad:log_number").as_deref(), Some("seven"));
    assert_eq!(get(&mut c, "bad:log:2"), None);

    // A key of another type where the log number belongs: a server error naming it.
    redis::cmd("DEL").arg("bad:log_number").query::<()>(&mut c).unwrap();
    redis::cmd("RPUSH").arg("bad:log_number").arg("x").query::<()>(&mut c).unwrap();
    let err = RedisStorage::open_url(&server.url("bad")).unwrap_err();
    assert!(matches!(&err, Error::Redis { key, .. } if key == "bad:log_number"), "{err:?}");

    // An entry missing below the log number (a crashed Optuna cluster-mode writer): reported
    // after the bounded wait, not spun on forever.
    set(&mut c, "gap:log_number", "0");
    let options = RedisOptions {
        prefix: "gap".into(),
        missing_key_wait: Duration::from_millis(300),
        ..RedisOptions::default()
    };
    let started = Instant::now();
    let err = JournalStorage::new(RedisBackend::open_with(&server.base_url(), &options).unwrap())
        .unwrap_err();
    assert!(matches!(&err, Error::RedisCorrupt { key, .. } if key == "gap:log:0"), "{err:?}");
    assert!(started.elapsed() < Duration::from_secs(10));
}

#[test]
fn a_lost_server_is_a_typed_error_and_the_handle_reconnects() {
    if !have_redis("a_lost_server_is_a_typed_error_and_the_handle_reconnects") {
        return;
    }
    let mut server = RedisServer::start_with(true);
    let storage = RedisStorage::open_url(&server.url("lost")).unwrap();
    let study = write_study(&storage, "lost", 2);
    server.kill();
    let err = storage.create_new_trial(study, None).unwrap_err();
    assert!(matches!(&err, Error::Redis { server: s, .. } if *s == server.base_url()), "{err:?}");
    assert!(err.to_string().contains(&server.base_url()), "{err}");
    let err = storage.get_all_trials(study, None).unwrap_err();
    assert!(matches!(err, Error::Redis { .. }), "{err:?}");
    // Restarted from its append-only file (`appendfsync always`): every acknowledged write is
    // there, and the same handle connects again on its next call.
    server.restart();
    let trial = storage.create_new_trial(study, None).unwrap();
    let fresh = RedisStorage::open_url(&server.url("lost")).unwrap();
    let trials = fresh.get_all_trials(study, None).unwrap();
    assert_eq!(trials.len(), 3);
    assert_eq!(trials[2].trial_id, trial);
    assert!(trials[..2].iter().all(|t| t.state == TrialState::Complete));
}

#[test]
fn python_and_trialog_read_each_others_studies() {
    if !have_redis("python_and_trialog_read_each_others_studies")
        || !have_python_redis("python_and_trialog_read_each_others_studies")
    {
        return;
    }
    let server = RedisServer::start();
    // Python writes, trialog reads (the CLI opens the URL) the same state Optuna replays.
    let from_python = server.url("py");
    run_ok(&mut python("optimize.py", &[&from_python, "py", "8", "1"]));
    let dump = assert_same_state(Path::new(&from_python));
    assert_eq!(states(&dump), [("py".to_string(), vec!["COMPLETE".to_string(); 8])]);
    let studies =
        run_ok(Command::new(env!("CARGO_BIN_EXE_trialog")).args(["studies", &from_python]));
    assert!(studies.contains("py"), "{studies}");

    // trialog writes, Optuna reads it identically.
    let from_rust = server.url("rs");
    let storage = RedisStorage::open_url(&from_rust).unwrap();
    write_study(&storage, "rs", 5);
    let dump = assert_same_state(Path::new(&from_rust));
    assert_eq!(states(&dump), [("rs".to_string(), vec!["COMPLETE".to_string(); 5])]);
}

const MIXED_STUDY: &str = "mixed";
const MIXED_TRIALS: usize = 15;
const CHILD_VAR: &str = "TRIALOG_REDIS_CHILD";

/// One trialog worker process: the objective of `tests/python/optimize.py`.
fn trialog_worker(url: &str, seed: u64) {
    let storage = Arc::new(RedisStorage::open_url(url).unwrap());
    let sampler = Arc::new(RandomSampler::new(Some(seed)));
    let study =
        Study::create_or_load(storage, MIXED_STUDY, &[StudyDirection::Minimize], sampler).unwrap();
    let report = study
        .optimize(Some(MIXED_TRIALS), None, |t| {
            let x = t.suggest_float("x", -5.0, 5.0)?;
            let k = t.suggest_int("k", 0, 3)?;
            t.report(0, x)?;
            t.set_user_attr("writer", "trialog")?;
            Ok((x - 1.0).powi(2) + k as f64)
        })
        .unwrap();
    assert_eq!(report.complete, MIXED_TRIALS);
}

#[test]
fn python_and_trialog_processes_share_one_study() {
    if let Ok(spec) = std::env::var(CHILD_VAR) {
        let (url, seed) = spec.rsplit_once('|').unwrap();
        trialog_worker(url, seed.parse().unwrap());
        return;
    }
    if !have_redis("python_and_trialog_processes_share_one_study")
        || !have_python_redis("python_and_trialog_processes_share_one_study")
    {
        return;
    }
    let server = RedisServer::start();
    let url = server.url("mixed");
    let started = Instant::now();
    let mut children = Vec::new();
    for seed in 0..2u64 {
        children.push(
            python(
                "optimize.py",
                &[&url, MIXED_STUDY, &MIXED_TRIALS.to_string(), &seed.to_string()],
            )
            .spawn()
            .unwrap(),
        );
        children.push(
            Command::new(std::env::current_exe().unwrap())
                .args(["--exact", "python_and_trialog_processes_share_one_study", "--nocapture"])
                .env(CHILD_VAR, format!("{url}|{}", seed + 10))
                .stdout(std::process::Stdio::null())
                .spawn()
                .unwrap(),
        );
    }
    for mut c in children {
        loop {
            if let Some(status) = c.try_wait().unwrap() {
                assert!(status.success(), "a writer failed: {status}");
                break;
            }
            if started.elapsed() > Duration::from_secs(300) {
                let _ = c.kill();
                panic!("a writer hung");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
    let dump = assert_same_state(Path::new(&url));
    let states = states(&dump);
    assert_eq!(states.len(), 1, "exactly one study despite four concurrent creators");
    assert_eq!(states[0].1, vec!["COMPLETE"; 4 * MIXED_TRIALS]);
    for n in 0..4 * MIXED_TRIALS {
        assert!(dump.contains(&format!("\"number\": {n},")), "number {n} missing");
    }
    assert_eq!(dump.matches("\"writer\": \"python\"").count(), 2 * MIXED_TRIALS);
    assert_eq!(dump.matches("\"writer\": \"trialog\"").count(), 2 * MIXED_TRIALS);
    let storage = RedisStorage::open_url(&url).unwrap();
    let id = storage.get_study_id_from_name(MIXED_STUDY).unwrap();
    assert_eq!(storage.get_n_trials(id, Some(&[TrialState::Complete])).unwrap(), 4 * MIXED_TRIALS);
    eprintln!("mixed Redis writers: {} trials in {:?}", 4 * MIXED_TRIALS, started.elapsed());
}

#[test]
fn the_cli_opens_redis_urls() {
    if !have_redis("the_cli_opens_redis_urls") {
        return;
    }
    let server = RedisServer::start();
    let url = server.url("demo");
    let trialog = || Command::new(env!("CARGO_BIN_EXE_trialog"));
    // The README's main job on Redis: worker processes share the study there.
    let out =
        run_ok(trialog().args(["demo", "--workers", "2", "--trials", "6", "--work-ms", "1", &url]));
    assert!(out.contains("  worker 2 (pid "), "{out}");
    assert!(out.contains("Study \"demo\" now has 6 trials (6 COMPLETE)"), "{out}");
    let out = run_ok(trialog().args(["trials", &url, "--study", "demo", "--format", "csv"]));
    assert_eq!(out.lines().count(), 7, "a header and 6 trials: {out}");
    // The read commands see it (and Optuna replays the same state, when it is there).
    let dump = run_ok(trialog().args(["dump", &url]));
    assert_eq!(states(&dump), [("demo".to_string(), vec!["COMPLETE".to_string(); 6])]);
    // A command that only works on a file's bytes says so instead of looking for a file.
    let out = trialog().args(["recover", "--mode", "skip-any-corrupted", &url]).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && err.contains("a Redis journal has no bytes to cut"), "{err}");
    // An unreachable server: one line naming it, exit code 1.
    let dead = format!("redis://127.0.0.1:{}/0?prefix=demo", server.port);
    drop(server);
    let out = trialog().args(["studies", &dead]).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("redis redis://127.0.0.1:") && err.contains("connect to:"), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
}

#[test]
fn trialog_serve_serves_a_redis_journal() {
    if !have_redis("trialog_serve_serves_a_redis_journal") {
        return;
    }
    let redis = RedisServer::start();
    let url = redis.url("served");
    let direct = RedisStorage::open_url(&url).unwrap();
    let study = write_study(&direct, "served", 2);
    let server = server_common::Server::start(Path::new(&url), &[]);
    // Read through the gRPC server: what the library wrote to Redis.
    let studies = run_ok(
        Command::new(env!("CARGO_BIN_EXE_trialog")).args(["studies", server.grpc().as_str()]),
    );
    assert!(studies.contains("served"), "{studies}");
    // Written through the server, it lands on Redis, where a direct handle reads it.
    let remote = trialog::remote::GrpcStorage::connect(&server.url).unwrap();
    let trial = trialog::Storage::create_new_trial(&remote, study, None).unwrap();
    assert_eq!(direct.get_trial(trial).unwrap().state, TrialState::Running);
    assert_eq!(direct.get_all_trials(study, None).unwrap().len(), 3);
}

#[test]
fn replay_errors_name_the_log_key_not_a_byte_offset() {
    if !have_redis("replay_errors_name_the_log_key_not_a_byte_offset") {
        return;
    }
    let server = RedisServer::start();
    let mut c = server.client();
    // A categorical parameter whose internal value is out of its choices: Optuna's replay raises
    // on it (IndexError), so trialog refuses it too, and must say which key holds it.
    let entries = [
        r#"{"op_code": 0, "worker_id": "w", "study_name": "s", "directions": [1]}"#,
        r#"{"op_code": 4, "worker_id": "w", "study_id": 0, "datetime_start": "2024-01-01T00:00:00.000000+00:00"}"#,
        r#"{"op_code": 5, "worker_id": "w", "trial_id": 0, "param_name": "c", "param_value_internal": 3, "distribution": "{\"name\": \"CategoricalDistribution\", \"attributes\": {\"choices\": [\"a\", \"b\"]}}"}"#,
    ];
    for (n, e) in entries.iter().enumerate() {
        set(&mut c, &format!("rp:log:{n}"), e);
    }
    set(&mut c, "rp:log_number", "2");
    let err = RedisStorage::open_url(&server.url("rp")).unwrap_err();
    match &err {
        Error::RedisCorrupt { key, reason, .. } => {
            assert_eq!(key, "rp:log:2");
            assert!(reason.contains("Optuna's replay raises"), "{reason}");
        }
        other => panic!("expected RedisCorrupt naming rp:log:2, got {other:?}"),
    }
    assert!(!err.to_string().contains("byte offset"), "{err}");
}

#[test]
fn every_cli_command_takes_a_redis_url_or_says_why_not() {
    if !have_redis("every_cli_command_takes_a_redis_url_or_says_why_not") {
        return;
    }
    let server = RedisServer::start();
    let url = server.url("cli");
    let trialog = || Command::new(env!("CARGO_BIN_EXE_trialog"));
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("a.log");
    let file = file.to_str().unwrap();
    write_study(&RedisStorage::open_url(&url).unwrap(), "s", 3);

    // stats: entries instead of bytes.
    let out = run_ok(trialog().args(["stats", &url]));
    assert!(out.contains(&format!("location: {url}\nentries: 13\n")), "{out}");
    assert!(out.contains("studies: 1\ntrials: 3\n"), "{out}");
    // verify: clean.
    let out = run_ok(trialog().args(["verify", &url]));
    assert!(out.contains("status: clean") && out.contains("entries: 13"), "{out}");
    // export into an Optuna file, which reads back as the same state.
    run_ok(trialog().args(["export", "--format", "optuna", &url, file]));
    let from_file = run_ok(trialog().args(["dump", file]));
    assert_eq!(from_file, run_ok(trialog().args(["dump", &url])));
    // enqueue and study copy write there; study copy from a file, too.
    run_ok(trialog().args(["enqueue", "--journal", &url, "--study", "s", "--param", "x=0.5"]));
    let out = run_ok(trialog().args(["trials", &url, "--study", "s", "--format", "csv"]));
    assert!(out.contains("WAITING"), "{out}");
    run_ok(trialog().args(["study", "copy", file, &server.url("copied"), "--study", "s"]));
    let copied = RedisStorage::open_url(&server.url("copied")).unwrap();
    let id = copied.get_study_id_from_name("s").unwrap();
    assert_eq!(copied.get_n_trials(id, Some(&[TrialState::Complete])).unwrap(), 3);
    // run: a runner's trials land on Redis.
    let run = |extra: &[&str]| {
        let mut cmd = trialog();
        cmd.args(["run", "--journal", &url, "--study", "r", "--param", "x=float:0..1"])
            .args(["--n-trials", "2", "--sampler", "random"])
            .args(extra)
            .args(["--", "echo", "{x}"]);
        cmd
    };
    let out = run(&[]).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && err.contains("give --artifacts DIR"), "{err}");
    run_ok(&mut run(&["--artifacts", "none"]));
    let r = complete_trials(&url, "r");
    assert_eq!(r, 2, "the runner's trials are on Redis");

    // Commands that work on a file's bytes refuse, saying why, exit 1, and write nothing.
    let before = keys(&mut server.client());
    for (args, why) in [
        (
            vec!["recover", "--mode", "skip-any-corrupted", &url],
            "a Redis journal has no bytes to cut",
        ),
        (vec!["backup", &url, file], "back a Redis journal up with Redis"),
        (vec!["import", file, &url], "trialog study copy"),
    ] {
        let out = trialog().args(&args).output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {err}");
        assert!(err.contains(why), "{args:?}: {err}");
    }
    assert_eq!(keys(&mut server.client()), before);

    // verify: a key that is not an operation is named, exit 4.
    let mut c = server.client();
    set(&mut c, "cli:log:5", "garbage");
    let out = trialog().args(["verify", "--json", &url]).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(4), "{text}");
    assert!(
        text.contains("\"status\": \"corrupt\"") && text.contains("\"bad_key\": \"cli:log:5\""),
        "{text}"
    );
}

/// The COMPLETE trials of study `name` at `url`.
fn complete_trials(url: &str, name: &str) -> usize {
    let storage = RedisStorage::open_url(url).unwrap();
    let id = storage.get_study_id_from_name(name).unwrap();
    storage.get_n_trials(id, Some(&[TrialState::Complete])).unwrap()
}
