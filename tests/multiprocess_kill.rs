//! Invariant: a writer process killed with SIGKILL at any point loses at most its one
//! unacknowledged in-flight operation, and never damages the journal for anyone else. Three
//! writer processes share a journal; one is killed after a random number of acknowledged
//! operations while the two others are mid-loop, and the two survivors then finish. A fresh open
//! must replay without error or ignored operation, contain every acknowledged operation of all
//! three, contain of the killed writer exactly its acknowledged operations plus possibly the next
//! one, and keep trial numbers and ids gapless. Five kill points per lock kind, on one journal.

mod mp_common;

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use mp_common::{ChildEnv, ChildProc, Spawn, kind_name, report, value_of, x_of};
use trialog::{FrozenTrial, JournalStorage, LockKind, ParamValue, StudyDirection, TrialState};

/// Lease grace period: a killed holder blocks the survivors this long.
const GRACE: Duration = Duration::from_secs(2);
const WORKER_VAR: &str = "TRIALOG_MP_WORKER";
const STUDY_VAR: &str = "TRIALOG_MP_STUDY";
const TRIALS_VAR: &str = "TRIALOG_MP_TRIALS";
const GO_VAR: &str = "TRIALOG_MP_GO";
/// The survivors' loop: this many trials, the second half only after the kill.
const SURVIVOR_TRIALS: u64 = 40;
/// The victim's loop is longer than it can get through before the kill.
const VICTIM_TRIALS: u64 = 100_000;
const ROUNDS: u64 = 5;
/// Kill points (acknowledged operations) are drawn from `KILL_MIN..KILL_MAX`, one per
/// sub-range so the rounds differ.
const KILL_MIN: u64 = 20;
const KILL_MAX: u64 = 201;

#[test]
fn writer_killed_mid_loop_loses_nothing_acknowledged_advisory() {
    kill_rounds(mp_common::test_name!(), LockKind::Advisory);
}

#[test]
fn writer_killed_mid_loop_loses_nothing_acknowledged_open_file() {
    kill_rounds(mp_common::test_name!(), LockKind::OpenFile);
}

// The symlink lock needs symbolic links, which Windows creates only with a privilege (and Wine
// not at all): there it fails with Error::SymlinkLockUnavailable (src/lock/symlink.rs).
#[cfg(unix)]
#[test]
fn writer_killed_mid_loop_loses_nothing_acknowledged_symlink() {
    kill_rounds(mp_common::test_name!(), LockKind::Symlink);
}

/// One write of a worker's deterministic sequence: create, param `x`, complete; repeat.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Create(u64),
    Param(u64),
    Complete(u64),
}

impl Op {
    fn parse(line: &str) -> Op {
        let (kind, id) = line.split_once(' ').unwrap_or_else(|| panic!("bad report {line:?}"));
        let id = id.parse().unwrap_or_else(|e| panic!("bad report {line:?}: {e}"));
        match kind {
            "create" => Op::Create(id),
            "param" => Op::Param(id),
            "complete" => Op::Complete(id),
            _ => panic!("bad report {line:?}"),
        }
    }
}

/// Child: the worker loop, reporting each operation once it returned. Survivors stop at half
/// way until the go-file exists (the victim has been killed).
fn writer(env: &ChildEnv) {
    let worker = ChildEnv::parsed(WORKER_VAR);
    let trials = ChildEnv::parsed(TRIALS_VAR);
    let go = std::env::var(GO_VAR).ok();
    let storage = env.open();
    let study = storage.get_study_id_from_name(&ChildEnv::var(STUDY_VAR)).expect("study");
    let dist = mp_common::x_distribution();
    for i in 0..trials {
        if let Some(go) = go.as_deref().filter(|_| i == trials / 2) {
            while !Path::new(go).exists() {
                std::thread::sleep(Duration::from_millis(2));
            }
        }
        let x = x_of(worker, i);
        let id = storage.create_new_trial(study, None).expect("create_new_trial");
        report(&format!("create {id}"));
        storage.set_trial_param(id, "x", x, &dist).expect("set_trial_param");
        report(&format!("param {id}"));
        let changed = storage
            .set_trial_state_values(id, TrialState::Complete, Some(&[value_of(x)]))
            .expect("set_trial_state_values");
        assert!(changed, "completing RUNNING trial {id}");
        report(&format!("complete {id}"));
    }
    mp_common::report_done();
}

fn kill_rounds(test: &str, kind: LockKind) {
    if let Some(env) = ChildEnv::get() {
        return writer(&env);
    }
    let mut rng = mp_common::Rng::from_env_or_clock();
    let dir = tempfile::tempdir().expect("tempdir");
    let journal = dir.path().join("study.journal");
    let bucket = (KILL_MAX - KILL_MIN) / ROUNDS;
    for round in 0..ROUNDS {
        let lo = KILL_MIN + round * bucket;
        let kill_at = rng.below(lo, if round + 1 == ROUNDS { KILL_MAX } else { lo + bucket });
        let jitter_us = rng.below(0, 5_000);
        println!("{}, round {round}: kill {jitter_us} µs after report {kill_at}", kind_name(kind));
        run_round(test, kind, &journal, round, kill_at, jitter_us);
        verify_journal(&journal, kind, round + 1);
    }
}

fn study_name(round: u64) -> String {
    format!("kill-round-{round}")
}

/// One round: spawns the victim (worker 0) and two survivors, kills the victim `jitter_us`
/// microseconds after its `kill_at`-th report, lets the survivors finish, checks the round's
/// study.
fn run_round(test: &str, kind: LockKind, journal: &Path, round: u64, kill_at: u64, jitter_us: u64) {
    let study = study_name(round);
    mp_common::open_storage(journal, kind, GRACE)
        .create_new_study(&[StudyDirection::Minimize], Some(&study))
        .expect("create study");
    let go = journal.with_file_name(format!("victim-{round}-killed"));
    let spawn = |worker: u64, trials: u64| {
        Spawn::new(test, "writer", journal, kind)
            .grace(GRACE)
            .var(WORKER_VAR, &worker)
            .var(STUDY_VAR, &study)
            .var(TRIALS_VAR, &trials)
    };
    let mut victim = spawn(0, VICTIM_TRIALS).spawn(format!("victim, round {round}"));
    let mut survivors: Vec<ChildProc> = (1..=2)
        .map(|w| {
            spawn(w, SURVIVOR_TRIALS)
                .var(GO_VAR, &go.display())
                .spawn(format!("survivor {w}, round {round}"))
        })
        .collect();

    let mut victim_lines = Vec::new();
    while (victim_lines.len() as u64) < kill_at {
        match victim.next_line(Duration::from_secs(60)) {
            Some(line) => victim_lines.push(line),
            None => {
                panic!("the victim exited after {} operations, before the kill", victim_lines.len())
            }
        }
    }
    // A random delay puts the kill anywhere in the victim's next operation: waiting for the
    // lock, writing, syncing, or after the write but before the report.
    std::thread::sleep(Duration::from_micros(jitter_us));
    victim.kill_now();
    // Operations the victim reported between our last read and the kill are acknowledged too.
    let (status, rest) = victim.finish(Duration::from_secs(10));
    assert!(mp_common::was_killed(&status), "the victim must die by SIGKILL: {status}");
    victim_lines.extend(rest);
    std::fs::File::create(&go).expect("create go-file");

    let survivor_lines = mp_common::finish_all(&mut survivors, mp_common::CHILD_DEADLINE);

    let storage = mp_common::open_storage(journal, kind, GRACE);
    let study_id = storage.get_study_id_from_name(&study).expect("study");
    let trials = storage.get_all_trials(study_id, None).expect("get_all_trials");
    let by_id: BTreeMap<u64, &FrozenTrial> = trials.iter().map(|t| (t.trial_id, &**t)).collect();

    let mut acked_trial_ids = Vec::new();
    for (w, lines) in (1..=2).zip(&survivor_lines) {
        let ops: Vec<Op> = lines.iter().map(|l| Op::parse(l)).collect();
        let observed = observed_ops(w, &ops, None, &by_id);
        assert_eq!(observed, ops, "survivor {w}: journal differs from its acknowledged writes");
        assert_eq!(ops.len() as u64, 3 * SURVIVOR_TRIALS, "survivor {w} finished its loop");
        acked_trial_ids.extend(created(&ops));
    }

    let acked: Vec<Op> = victim_lines.iter().map(|l| Op::parse(l)).collect();
    acked_trial_ids.extend(created(&acked));
    let unacked_trials: Vec<u64> =
        by_id.keys().copied().filter(|id| !acked_trial_ids.contains(id)).collect();
    assert!(
        unacked_trials.len() <= 1,
        "unacknowledged trials (at most the victim's in-flight one): {unacked_trials:?}"
    );
    let observed = observed_ops(0, &acked, unacked_trials.first().copied(), &by_id);
    assert!(
        observed.starts_with(&acked),
        "victim: acknowledged writes missing: acknowledged {acked:?}, journal has {observed:?}"
    );
    assert!(
        observed.len() <= acked.len() + 1,
        "victim: > 1 unacknowledged write: acknowledged {acked:?}, journal has {observed:?}"
    );
    println!(
        "{}, round {round}: the victim acknowledged {} operations, the journal has {}",
        kind_name(kind),
        acked.len(),
        observed.len()
    );
}

fn created(ops: &[Op]) -> impl Iterator<Item = u64> + '_ {
    ops.iter().filter_map(|op| match op {
        Op::Create(id) => Some(*id),
        _ => None,
    })
}

/// Rebuilds, from the journal, the write sequence of worker `w` whose acknowledged writes are
/// `acked` (plus `extra`, a trial nobody acknowledged creating). Checks on the way that the
/// sequence is well formed (every trial but the last is complete; a completed trial has its
/// parameter) and that each present parameter and value is the one the worker wrote.
fn observed_ops(
    w: u64,
    acked: &[Op],
    extra: Option<u64>,
    by_id: &BTreeMap<u64, &FrozenTrial>,
) -> Vec<Op> {
    let ids: Vec<u64> = created(acked).chain(extra).collect();
    let mut observed = Vec::new();
    for (i, &id) in ids.iter().enumerate() {
        let trial = by_id.get(&id).unwrap_or_else(|| panic!("worker {w}: trial {id} missing"));
        let x = x_of(w, i as u64);
        observed.push(Op::Create(id));
        let has_param = match trial.params.get("x") {
            Some(p) => {
                assert_eq!(p, &ParamValue::Float(x), "worker {w}: trial {id} parameter");
                observed.push(Op::Param(id));
                true
            }
            None => false,
        };
        assert!(trial.params.len() <= 1, "worker {w}: trial {id} params {:?}", trial.params);
        match trial.state {
            TrialState::Complete => {
                assert!(has_param, "worker {w}: trial {id} completed without its parameter");
                assert_eq!(trial.value(), Some(value_of(x)), "worker {w}: trial {id} value");
                observed.push(Op::Complete(id));
            }
            TrialState::Running => {
                assert!(trial.values.is_none(), "worker {w}: running trial {id} has values");
                assert_eq!(i + 1, ids.len(), "worker {w}: trial {id} unfinished but not last");
            }
            other => panic!("worker {w}: trial {id} is {other}"),
        }
    }
    observed
}

/// A fresh open after `rounds` rounds: replays without error or ignored operation, numbers are
/// gapless in every study and trial ids are gapless across the journal.
fn verify_journal(journal: &Path, kind: LockKind, rounds: u64) {
    let storage: JournalStorage = mp_common::open_storage(journal, kind, GRACE);
    mp_common::assert_nothing_ignored(&storage);
    let studies = storage.get_all_studies().expect("get_all_studies");
    assert_eq!(studies.len() as u64, rounds, "one study per round");
    let mut all_ids = Vec::new();
    for study in &studies {
        let trials = storage.get_all_trials(study.study_id, None).expect("get_all_trials");
        let n = trials.len() as u64;
        let mut numbers: Vec<u64> = trials.iter().map(|t| t.number).collect();
        numbers.sort_unstable();
        assert!(numbers.iter().copied().eq(0..n), "{}: numbers not 0..{n}", study.study_name);
        all_ids.extend(trials.iter().map(|t| t.trial_id));
    }
    all_ids.sort_unstable();
    let total = all_ids.len() as u64;
    assert!(all_ids.iter().copied().eq(0..total), "trial ids not exactly 0..{total}");
}
