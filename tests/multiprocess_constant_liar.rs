//! Invariant: TPE's constant liar spreads parallel workers out. Four processes share one journal
//! and ask for trials in lockstep rounds; with the constant liar on (Optuna's default) they
//! suggest fewer duplicate points within a round than with it off.
//!
//! Deterministic by construction, so the comparison is not a matter of timing: in round `r`
//! worker `i` asks only once every trial of the previous rounds is finished and workers
//! `0..i` of this round have asked and suggested (so it sees exactly those RUNNING trials,
//! through the journal, including their `tpe:relative_params` record), and all tell only after
//! the whole round has suggested. Each worker's sampler has its own seed, so every suggestion
//! is a pure function of what the journal holds at its turn.

mod mp_common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use mp_common::{ChildEnv, ChildProc, Spawn, report, report_done};
use trialog::study::sampler::TpeOptions;
use trialog::study::{RandomSampler, Study, TellResult, TpeSampler};
use trialog::{LockKind, StudyDirection, TrialState};

const WORKERS: u64 = 4;
const STARTUP: u64 = 10;
const ROUNDS: u64 = 12;
const WORKER_VAR: &str = "TRIALOG_LIAR_WORKER";
const LIAR_VAR: &str = "TRIALOG_LIAR_ON";

fn objective(x: i64, y: i64) -> f64 {
    ((x - 5) * (x - 5) + (y - 3) * (y - 3)) as f64
}

/// Polls the journal until `ready` holds for (trials, finished trials, trials with both params).
fn wait_until(study: &Study, what: &str, ready: impl Fn(u64, u64, u64) -> bool) {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let trials = study.trials(None).expect("read trials");
        let finished = trials.iter().filter(|t| t.state.is_finished()).count() as u64;
        let suggested = trials.iter().filter(|t| t.params.len() == 2).count() as u64;
        if ready(trials.len() as u64, finished, suggested) {
            return;
        }
        assert!(Instant::now() < deadline, "waited too long for {what}");
        std::thread::sleep(Duration::from_millis(2));
    }
}

fn worker(env: &ChildEnv) {
    let i = ChildEnv::parsed(WORKER_VAR);
    let liar = ChildEnv::parsed(LIAR_VAR) == 1;
    let options = TpeOptions { constant_liar: liar, ..TpeOptions::default() };
    let sampler = Arc::new(TpeSampler::with_options(Some(100 + i), options).unwrap());
    let study = Study::load(Arc::new(env.open()), "liar", sampler).expect("load");
    for r in 0..ROUNDS {
        let before = STARTUP + WORKERS * r;
        wait_until(&study, "my turn", |n, finished, suggested| {
            n == before + i && finished == before && suggested == n
        });
        let mut trial = study.ask().expect("ask");
        let x = trial.suggest_int("x", 0, 8).expect("x");
        let y = trial.suggest_int("y", 0, 8).expect("y");
        report(&format!("{r} {i} {} {x} {y}", trial.number()));
        let after = before + WORKERS;
        wait_until(&study, "the round", |n, _, suggested| n == after && suggested == after);
        study.tell(&trial, TellResult::Complete(vec![objective(x, y)])).expect("tell");
    }
    report_done();
}

/// Runs the four workers on a fresh study and returns the number of duplicate points within
/// rounds (a point counts once per earlier equal point of its round).
fn duplicates(test: &str, liar: bool) -> usize {
    let dir = tempfile::tempdir().unwrap();
    let journal = dir.path().join("liar.journal");
    {
        let storage =
            Arc::new(mp_common::open_storage(&journal, LockKind::Advisory, Duration::from_secs(2)));
        let sampler = Arc::new(RandomSampler::new(Some(7)));
        let study =
            Study::create(storage, Some("liar"), &[StudyDirection::Minimize], sampler).unwrap();
        study
            .optimize(Some(STARTUP as usize), None, |t| {
                let x = t.suggest_int("x", 0, 8)?;
                let y = t.suggest_int("y", 0, 8)?;
                Ok(objective(x, y))
            })
            .unwrap();
    }
    let mut children: Vec<ChildProc> = (0..WORKERS)
        .map(|i| {
            Spawn::new(test, "worker", &journal, LockKind::Advisory)
                .var(WORKER_VAR, &i)
                .var(LIAR_VAR, &u8::from(liar))
                .spawn(format!("worker {i} (liar {liar})"))
        })
        .collect();
    let lines = mp_common::finish_all(&mut children, mp_common::CHILD_DEADLINE);
    let mut points: Vec<(u64, u64, i64, i64)> = lines
        .iter()
        .flatten()
        .map(|l| {
            let f: Vec<i64> = l.split(' ').map(|v| v.parse().unwrap()).collect();
            (f[0] as u64, f[2] as u64, f[3], f[4])
        })
        .collect();
    points.sort();
    assert_eq!(points.len() as u64, WORKERS * ROUNDS);
    // Trial numbers follow the turns exactly.
    for (k, p) in points.iter().enumerate() {
        assert_eq!(p.1, STARTUP + k as u64, "{points:?}");
    }
    let storage = mp_common::open_storage(&journal, LockKind::Advisory, Duration::from_secs(2));
    let study = Study::load(Arc::new(storage), "liar", Arc::new(RandomSampler::new(None))).unwrap();
    assert_eq!(
        study.trials(Some(&[TrialState::Complete])).unwrap().len() as u64,
        STARTUP + WORKERS * ROUNDS
    );
    let mut dups = 0;
    for r in 0..ROUNDS {
        let round: Vec<_> = points.iter().filter(|p| p.0 == r).collect();
        for (k, p) in round.iter().enumerate() {
            if round[..k].iter().any(|q| (q.2, q.3) == (p.2, p.3)) {
                dups += 1;
            }
        }
    }
    println!("liar {liar}: {dups} duplicates; points {points:?}");
    dups
}

#[test]
fn constant_liar_spreads_four_processes_out() {
    let test = mp_common::test_name!();
    if let Some(env) = ChildEnv::get() {
        worker(&env);
        return;
    }
    let with = duplicates(test, true);
    let without = duplicates(test, false);
    // Deterministic (see the module docs); the margin documents the size of the effect.
    assert!(
        with * 2 < without,
        "constant liar: {with} duplicate suggestions, without it {without}"
    );
}
