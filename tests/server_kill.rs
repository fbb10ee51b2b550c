//! `kill -9` of `trialog serve` under load: 4 clients (each its own connection through
//! `trialog::remote::GrpcStorage`) write trials and log every call the server acknowledged; the
//! server is killed mid-load. Each client then sees a connection error (`Error::Remote`), never a
//! wrong answer (every read-back it got matched what it had written); after a restart on the
//! same journal every acknowledged write is there, and a fresh replay of the file agrees with the
//! restarted server. Over both journal formats.
#![cfg(feature = "grpc")]

mod server_common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use server_common::{Server, dump};
use trialog::remote::GrpcStorage;
use trialog::{AttrValue, Distribution, Error, Storage, StudyDirection, TrialState};

const CLIENTS: usize = 4;
/// Acknowledged calls each client must have logged before the kill.
const ACKED_BEFORE_KILL: usize = 40;

/// One acknowledged write.
#[derive(Debug, Clone, Copy)]
enum Ack {
    Created(u64),
    Param(u64, f64),
    Intermediate(u64, f64),
    UserAttr(u64, usize),
    Completed(u64, f64),
}

fn dist() -> Distribution {
    Distribution::float(0.0, 1000.0, false, None).unwrap()
}

/// Writes trials until a call fails; returns the log of acknowledged writes and the error.
fn client(url: &str, study: u64, me: usize, acked: &AtomicUsize) -> (Vec<Ack>, Error) {
    let s = GrpcStorage::connect(url).unwrap();
    let mut log = Vec::new();
    let ack = |a: Ack, log: &mut Vec<Ack>| {
        log.push(a);
        acked.fetch_add(1, Ordering::Relaxed);
    };
    for i in 0.. {
        let v = (me * 100_000 + i) as f64 / 1000.0;
        let mut step = || -> Result<(), Error> {
            let id = s.create_new_trial(study, None)?;
            ack(Ack::Created(id), &mut log);
            s.set_trial_param(id, "x", v, &dist())?;
            ack(Ack::Param(id, v), &mut log);
            s.set_trial_intermediate_value(id, 0, v)?;
            ack(Ack::Intermediate(id, v), &mut log);
            s.set_trial_user_attr(id, "client", AttrValue::from(me as f64))?;
            ack(Ack::UserAttr(id, me), &mut log);
            assert!(s.set_trial_state_values(id, TrialState::Complete, Some(&[v]))?);
            ack(Ack::Completed(id, v), &mut log);
            // A read-back must be exactly what was acknowledged: never a wrong answer.
            let t = s.get_trial(id)?;
            assert_eq!(t.state, TrialState::Complete, "trial {id}");
            assert_eq!(t.values.as_deref(), Some(&[v][..]), "trial {id}");
            assert_eq!(t.params.get("x"), Some(&v.into()), "trial {id}");
            assert_eq!(t.intermediate_value(0), Some(v), "trial {id}");
            Ok(())
        };
        if let Err(e) = step() {
            return (log, e);
        }
    }
    unreachable!()
}

/// Every acknowledged write of `log` is in `s`.
fn check(s: &GrpcStorage, log: &[Ack], me: usize) {
    for a in log {
        match *a {
            Ack::Created(id) => {
                s.get_trial(id).unwrap_or_else(|e| panic!("client {me}: trial {id} lost: {e}"));
            }
            Ack::Param(id, v) => assert_eq!(s.get_trial_param(id, "x").unwrap(), v, "{a:?}"),
            Ack::Intermediate(id, v) => {
                assert_eq!(s.get_trial(id).unwrap().intermediate_value(0), Some(v), "{a:?}")
            }
            Ack::UserAttr(id, c) => assert_eq!(
                s.get_trial(id).unwrap().user_attrs.get("client"),
                Some(&AttrValue::from(c as f64)),
                "{a:?}"
            ),
            Ack::Completed(id, v) => {
                let t = s.get_trial(id).unwrap();
                assert_eq!((t.state, t.values.as_deref()), (TrialState::Complete, Some(&[v][..])));
            }
        }
    }
}

#[test]
fn kill_9_under_load_loses_no_acknowledged_write_over_both_formats() {
    for format in ["trialog", "optuna"] {
        let dir = tempfile::tempdir().unwrap();
        let journal = dir.path().join("j");
        let server = Server::start(&journal, &["--format", format]);
        let url = server.url.clone();
        let study = GrpcStorage::connect(&url)
            .unwrap()
            .create_new_study(&[StudyDirection::Minimize], Some("load"))
            .unwrap();
        let counters: Arc<Vec<AtomicUsize>> =
            Arc::new((0..CLIENTS).map(|_| AtomicUsize::new(0)).collect());
        let clients: Vec<_> = (0..CLIENTS)
            .map(|me| {
                let (url, counters) = (url.clone(), Arc::clone(&counters));
                std::thread::spawn(move || client(&url, study, me, &counters[me]))
            })
            .collect();
        let deadline = Instant::now() + Duration::from_secs(60);
        while counters.iter().any(|c| c.load(Ordering::Relaxed) < ACKED_BEFORE_KILL) {
            assert!(Instant::now() < deadline, "{format}: the clients made no progress");
            std::thread::sleep(Duration::from_millis(5));
        }
        let port = server.port().to_owned();
        server.kill9();
        let logs: Vec<Vec<Ack>> = clients
            .into_iter()
            .enumerate()
            .map(|(me, c)| {
                let (log, err) = c.join().expect("a client saw a wrong answer");
                assert!(
                    matches!(err, Error::Remote { .. }),
                    "{format}: client {me}: a connection error, not {err:?}"
                );
                log
            })
            .collect();

        let restarted = Server::start_on(&journal, &port, &[]);
        let s = GrpcStorage::connect(&restarted.url).unwrap();
        for (me, log) in logs.iter().enumerate() {
            assert!(log.len() >= ACKED_BEFORE_KILL);
            check(&s, log, me);
        }
        let answered = dump(&restarted.grpc());
        restarted.kill9();
        assert_eq!(dump(journal.to_str().unwrap()), answered, "{format}");
    }
}
