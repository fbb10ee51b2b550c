//! `RedisBackend` under faults, on a real `redis-server` (see `redis_common`): the server
//! SIGKILLed mid-run and restarted from its append-only file, connections killed mid-append
//! (`CLIENT KILL`, and a proxy that drops the reply of an append the server applied), and prefixes
//! holding something other than an Optuna journal.
// The tests start a `redis-server` of their own, which Windows does not have.
#![cfg(all(unix, feature = "redis"))]

mod redis_common;

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use redis_common::*;
use trialog::backend::{OUTCOME_UNKNOWN, RedisBackend};
use trialog::{Error, JournalStorage, LogBackend, StudyDirection, TrialState};

type RedisStorage = JournalStorage<RedisBackend>;

/// What one writer saw: the trials whose completion was acknowledged, with their value, and the
/// errors it got.
#[derive(Default)]
struct Writes {
    acked: Vec<(u64, f64)>,
    errors: Vec<Error>,
}

/// The pause before a writer retries after an error.
const RETRY_PAUSE: Duration = Duration::from_millis(5);

/// Writes trials (create, then complete with a value unique to this writer) until `enough` says
/// so, retrying after every error (after [`RETRY_PAUSE`]). A completion whose call failed counts as acknowledged only
/// if a later read shows it applied (the call may have failed after the server applied it).
fn write_until(url: &str, study: u64, writer: usize, enough: impl Fn(usize) -> bool) -> Writes {
    let storage = loop {
        match RedisStorage::open_url(url) {
            Ok(s) => break s,
            Err(_) => std::thread::sleep(RETRY_PAUSE),
        }
    };
    let mut w = Writes::default();
    let mut i = 0;
    while !enough(w.acked.len()) {
        let trial = match storage.create_new_trial(study, None) {
            Ok(t) => t,
            Err(e) => {
                w.errors.push(e);
                std::thread::sleep(RETRY_PAUSE);
                continue;
            }
        };
        i += 1;
        let value = (writer * 1_000_000 + i) as f64;
        loop {
            match storage.set_trial_state_values(trial, TrialState::Complete, Some(&[value])) {
                Ok(claimed) => {
                    assert!(claimed);
                    w.acked.push((trial, value));
                    break;
                }
                Err(e) => {
                    w.errors.push(e);
                    std::thread::sleep(RETRY_PAUSE);
                    match storage.get_trial(trial) {
                        Ok(t) if t.state == TrialState::Complete => {
                            assert_eq!(t.values.as_deref(), Some(&[value][..]));
                            w.acked.push((trial, value));
                            break;
                        }
                        _ => continue,
                    }
                }
            }
        }
    }
    w
}

/// Every acknowledged completion is in a fresh replay, and each trial was completed at most
/// once (a completion applied twice would fail replay's rules or show up as two trials with one
/// value).
fn assert_all_acked_present(url: &str, study: u64, writes: &[Writes]) {
    let fresh = RedisStorage::open_url(url).unwrap();
    let trials = fresh.get_all_trials(study, None).unwrap();
    let by_id: HashMap<u64, _> = trials.iter().map(|t| (t.trial_id, t)).collect();
    let mut acked = 0;
    for (trial, value) in writes.iter().flat_map(|w| &w.acked) {
        let t = by_id.get(trial).unwrap_or_else(|| panic!("acknowledged trial {trial} lost"));
        assert_eq!(t.state, TrialState::Complete, "trial {trial}");
        assert_eq!(t.values.as_deref(), Some(&[*value][..]), "trial {trial}");
        acked += 1;
    }
    let complete = trials.iter().filter(|t| t.state == TrialState::Complete).count();
    assert_eq!(complete, acked, "exactly the acknowledged completions, none twice");
    for (n, t) in trials.iter().enumerate() {
        assert_eq!(t.number, n as u64, "numbers are gapless");
    }
}

#[test]
fn a_sigkilled_server_restarted_from_its_aof_loses_no_acknowledged_write() {
    if !have_redis("a_sigkilled_server_restarted_from_its_aof_loses_no_acknowledged_write") {
        return;
    }
    let mut server = RedisServer::start_with(true);
    let url = server.url("crash");
    let study = RedisStorage::open_url(&url)
        .unwrap()
        .create_new_study(&[StudyDirection::Minimize], Some("crash"))
        .unwrap();
    let restarted = Arc::new(AtomicBool::new(false));
    let progress = Arc::new(AtomicUsize::new(0));
    const AFTER: usize = 20;
    let writers: Vec<_> = (0..2)
        .map(|w| {
            let (url, restarted, progress) = (url.clone(), restarted.clone(), progress.clone());
            std::thread::spawn(move || {
                write_until(&url, study, w, |acked| {
                    progress.fetch_max(acked, Ordering::SeqCst);
                    // Keep writing through the crash and for a while after the restart.
                    restarted.load(Ordering::SeqCst) && acked >= AFTER
                })
            })
        })
        .collect();
    // Mid-run: both writers have been acknowledged a few times.
    let deadline = Instant::now() + Duration::from_secs(60);
    while progress.load(Ordering::SeqCst) < 5 {
        assert!(Instant::now() < deadline, "writers made no progress");
        std::thread::sleep(Duration::from_millis(5));
    }
    server.kill();
    std::thread::sleep(Duration::from_millis(400));
    server.restart();
    restarted.store(true, Ordering::SeqCst);
    let writes: Vec<Writes> = writers.into_iter().map(|w| w.join().unwrap()).collect();

    // While the server was down, the writers got typed errors naming it.
    let errors: Vec<&Error> = writes.iter().flat_map(|w| &w.errors).collect();
    assert!(!errors.is_empty(), "no writer noticed the server was down");
    for e in &errors {
        assert!(
            matches!(e, Error::Redis { server: s, .. } if *s == server.base_url()),
            "expected Error::Redis naming the server, got {e:?}"
        );
    }
    assert_all_acked_present(&url, study, &writes);
    eprintln!(
        "acknowledged {} completions, {} errors while the server was down",
        writes.iter().map(|w| w.acked.len()).sum::<usize>(),
        errors.len()
    );
}

#[test]
fn client_kill_mid_append_never_applies_a_write_twice() {
    if !have_redis("client_kill_mid_append_never_applies_a_write_twice") {
        return;
    }
    let server = RedisServer::start();
    let url = server.url("kill");
    let study = RedisStorage::open_url(&url)
        .unwrap()
        .create_new_study(&[StudyDirection::Minimize], Some("kill"))
        .unwrap();
    const TRIALS: usize = 150;
    let done = Arc::new(AtomicBool::new(false));
    // Kills every other client's connection over and over while the writers append.
    let killer = {
        let done = done.clone();
        let mut c = server.client();
        std::thread::spawn(move || {
            let mut kills = 0u64;
            while !done.load(Ordering::SeqCst) {
                let n: u64 = redis::cmd("CLIENT")
                    .arg("KILL")
                    .arg("TYPE")
                    .arg("normal")
                    .arg("SKIPME")
                    .arg("yes")
                    .query(&mut c)
                    .unwrap();
                kills += n;
                std::thread::sleep(Duration::from_micros(300));
            }
            kills
        })
    };
    let writers: Vec<_> = (0..2)
        .map(|w| {
            let url = url.clone();
            std::thread::spawn(move || write_until(&url, study, w, |acked| acked >= TRIALS))
        })
        .collect();
    let writes: Vec<Writes> = writers.into_iter().map(|w| w.join().unwrap()).collect();
    done.store(true, Ordering::SeqCst);
    let kills = killer.join().unwrap();
    assert!(kills > 0, "no connection was killed");
    // Connection errors only, but for one case: a completion whose reply was lost while the
    // server could not be asked either (it reports that the outcome is unknown) is refused when
    // retried, if it had been applied, instead of being applied twice.
    for w in &writes {
        for (i, e) in w.errors.iter().enumerate() {
            match e {
                Error::Redis { .. } => {}
                Error::TrialFinished { .. } => assert!(
                    w.errors[..i]
                        .iter()
                        .any(|e| matches!(e, Error::Redis { op, .. } if *op == OUTCOME_UNKNOWN)),
                    "a retried completion was refused though no append's outcome was unknown"
                ),
                other => panic!("expected Error::Redis, got {other:?}"),
            }
        }
    }
    assert_all_acked_present(&url, study, &writes);
    // No log entry appears twice: each value names its writer's worker and its content.
    let mut c = server.client();
    let last: i64 = get(&mut c, "kill:log_number").unwrap().parse().unwrap();
    let mut seen = std::collections::HashSet::new();
    for n in 0..=last {
        let value = get(&mut c, &format!("kill:log:{n}")).unwrap();
        assert!(seen.insert(value.clone()), "kill:log:{n} repeats an earlier entry: {value}");
    }
    let errors: Vec<&Error> = writes.iter().flat_map(|w| &w.errors).collect();
    let unknown =
        errors.iter().filter(|e| matches!(e, Error::Redis { op, .. } if *op == OUTCOME_UNKNOWN));
    eprintln!(
        "{kills} connections killed; {} errors, {} of unknown outcome",
        errors.len(),
        unknown.count()
    );
}

/// A TCP proxy in front of the server that, for each append (`EVALSHA`) while `drop_replies` is
/// set, passes the request on, waits for the server's reply (so the script ran) and then closes
/// the client's connection instead of passing the reply back: a reply lost after the write.
struct ReplyDropper {
    port: u16,
    dropped: Arc<AtomicUsize>,
    drop_replies: Arc<AtomicBool>,
}

impl ReplyDropper {
    fn start(upstream: u16) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let dropped = Arc::new(AtomicUsize::new(0));
        let drop_replies = Arc::new(AtomicBool::new(true));
        let (d, flag) = (dropped.clone(), drop_replies.clone());
        std::thread::spawn(move || {
            for client in listener.incoming() {
                let Ok(client) = client else { return };
                let (d, flag) = (d.clone(), flag.clone());
                std::thread::spawn(move || proxy(client, upstream, &d, &flag));
            }
        });
        ReplyDropper { port, dropped, drop_replies }
    }
}

/// One proxied connection. The sync client sends one command and waits for its reply, so each
/// request from the client is followed by the reply to it. (Slow, and only for this test's
/// small commands.)
fn proxy(mut client: TcpStream, upstream: u16, dropped: &AtomicUsize, drop_replies: &AtomicBool) {
    let Ok(mut server) = TcpStream::connect(("127.0.0.1", upstream)) else { return };
    let mut request = Vec::new();
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let Ok(n) = client.read(&mut buf) else { return };
        if n == 0 {
            return;
        }
        request.extend_from_slice(&buf[..n]);
        if server.write_all(&buf[..n]).is_err() {
            return;
        }
        // The reply to what the client sent (replies come only after complete requests), in as
        // many reads as it takes: more of it is what comes within a few milliseconds.
        let eval = request.windows(11).any(|w| w == b"\r\nEVALSHA\r\n");
        let mut wait = Duration::from_millis(500);
        loop {
            server.set_read_timeout(Some(wait)).unwrap();
            match server.read(&mut buf) {
                Ok(0) => return,
                Ok(n) => {
                    if eval && drop_replies.load(Ordering::SeqCst) {
                        // The server ran the script and replied: lose the reply.
                        dropped.fetch_add(1, Ordering::SeqCst);
                        let _ = client.shutdown(Shutdown::Both);
                        return;
                    }
                    if client.write_all(&buf[..n]).is_err() {
                        return;
                    }
                    request.clear();
                    wait = Duration::from_millis(5);
                }
                // No (more) reply: the request is not complete yet, or the reply is all there.
                Err(e)
                    if e.kind() == std::io::ErrorKind::WouldBlock
                        || e.kind() == std::io::ErrorKind::TimedOut =>
                {
                    break;
                }
                Err(_) => return,
            }
        }
    }
}

#[test]
fn an_append_whose_reply_is_lost_is_reported_once_and_written_once() {
    if !have_redis("an_append_whose_reply_is_lost_is_reported_once_and_written_once") {
        return;
    }
    let server = RedisServer::start();
    let proxy = ReplyDropper::start(server.port);
    let url = format!("redis://127.0.0.1:{}/0?prefix=lost", proxy.port);
    let storage = RedisStorage::open_url(&url).unwrap();
    // Every append's reply is lost after the server applied it; the handle looks, finds its
    // entries at the end it expected, and reports success: the caller never retries.
    let study = storage.create_new_study(&[StudyDirection::Minimize], Some("lost")).unwrap();
    const TRIALS: usize = 10;
    let mut acked = 0;
    for i in 0..TRIALS {
        let t = storage.create_new_trial(study, None).unwrap();
        acked += 1;
        assert!(
            storage.set_trial_state_values(t, TrialState::Complete, Some(&[i as f64])).unwrap()
        );
        acked += 1;
    }
    assert_eq!(proxy.dropped.load(Ordering::SeqCst), 1 + 2 * TRIALS, "every reply was lost");
    // Exactly the acknowledged operations are in the log: none written twice, none missing.
    let mut c = server.client();
    assert_eq!(get(&mut c, "lost:log_number"), Some(acked.to_string()), "1 study + {acked} ops");
    proxy.drop_replies.store(false, Ordering::SeqCst);
    let trials = RedisStorage::open_url(&url).unwrap().get_all_trials(study, None).unwrap();
    assert_eq!(trials.len(), TRIALS);
    for (i, t) in trials.iter().enumerate() {
        assert_eq!((t.state, t.values.as_deref()), (TrialState::Complete, Some(&[i as f64][..])));
    }
}

#[test]
fn a_prefix_holding_something_else_is_a_typed_error_and_nothing_is_written() {
    if !have_redis("a_prefix_holding_something_else_is_a_typed_error_and_nothing_is_written") {
        return;
    }
    let server = RedisServer::start();
    let mut c = server.client();
    let create = |prefix: &str| -> Result<u64, Error> {
        JournalStorage::open_url(&server.url(prefix))?
            .create_new_study(&[StudyDirection::Minimize], Some("s"))
    };
    // Keys in the journal's places without a log number (another application's layout): the
    // first write would overwrite `P:log:0`.
    set(&mut c, "app:log:0", "someone else's data");
    set(&mut c, "app:log:1", "more");
    let before = keys_with_values(&mut c);
    let err = create("app").unwrap_err();
    assert!(matches!(&err, Error::RedisCorrupt { key, .. } if key == "app:log:0"), "{err:?}");
    assert_eq!(keys_with_values(&mut c), before, "nothing written");

    // A log key past the log number (not a layout any Optuna writer leaves).
    let ok = JournalStorage::open_url(&server.url("past")).unwrap();
    ok.create_new_study(&[StudyDirection::Minimize], Some("a")).unwrap();
    set(&mut c, "past:log:1", "planted");
    let before = keys_with_values(&mut c);
    let err = ok.create_new_study(&[StudyDirection::Minimize], Some("b")).unwrap_err();
    assert!(matches!(&err, Error::RedisCorrupt { key, .. } if key == "past:log:1"), "{err:?}");
    assert_eq!(keys_with_values(&mut c), before, "nothing written");

    // The log number of another type (a hash): a typed error naming the key, nothing written.
    redis::cmd("HSET").arg("hash:log_number").arg("f").arg("v").query::<()>(&mut c).unwrap();
    let before = keys_with_values(&mut c);
    let err = create("hash").unwrap_err();
    assert!(matches!(&err, Error::Redis { key, .. } if key == "hash:log_number"), "{err:?}");
    assert_eq!(keys_with_values(&mut c), before, "nothing written");

    // Garbage under a log key: typed error naming it, nothing written.
    set(&mut c, "junk:log_number", "0");
    set(&mut c, "junk:log:0", "\u{1}\u{2}binary");
    let before = keys_with_values(&mut c);
    let err = create("junk").unwrap_err();
    assert!(matches!(&err, Error::RedisCorrupt { key, .. } if key == "junk:log:0"), "{err:?}");
    assert_eq!(keys_with_values(&mut c), before, "nothing written");
    // And the backend alone refuses to append past it too.
    let backend = RedisBackend::open(&server.url("junk")).unwrap();
    let guard = backend.lock().unwrap();
    let batch = trialog::journal::LogBatch {
        worker_id: "w".into(),
        ops: vec![trialog::journal::Operation::DeleteStudy { study_id: 0 }],
    };
    assert!(
        backend
            .append_if(&guard, 0, &batch)
            .is_ok_and(|o| o == trialog::backend::AppendOutcome::Moved)
    );
    assert_eq!(keys_with_values(&mut c), before, "nothing written");
}

/// Every key of the database with its DUMP.
fn keys_with_values(c: &mut redis::Connection) -> Vec<(String, Vec<u8>)> {
    keys(c)
        .into_iter()
        .map(|k| {
            let v: Vec<u8> = redis::cmd("DUMP").arg(&k).query(c).unwrap();
            (k, v)
        })
        .collect()
}
