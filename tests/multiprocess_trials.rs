//! Invariant: when several processes append to one journal at once, every acknowledged write
//! survives and ids and numbers stay exact. Four worker processes each run 250 trials (create,
//! set parameter `x`, complete with a value) on the same file, under each lock kind; a fresh open
//! afterwards must see exactly 1000 COMPLETE trials with numbers and trial ids 0..999 each once,
//! each with the parameter and value its worker acknowledged, and nothing ignored by replay.

mod mp_common;

use std::collections::BTreeMap;
use std::time::Duration;

use mp_common::{ChildEnv, ChildProc, Spawn, report, value_of, x_of};
use trialog::{LockKind, ParamValue, StudyDirection, TrialState};

const PROCESSES: u64 = 4;
const TRIALS_PER_PROCESS: u64 = 250;
const STUDY: &str = "multiprocess-trials";
const WORKER_VAR: &str = "TRIALOG_MP_WORKER";
/// Lease grace period: short, yet far longer than a live holder takes to refresh.
const GRACE: Duration = Duration::from_secs(2);

#[test]
fn four_processes_250_trials_each_advisory() {
    four_writers(mp_common::test_name!(), LockKind::Advisory);
}

#[test]
fn four_processes_250_trials_each_open_file() {
    four_writers(mp_common::test_name!(), LockKind::OpenFile);
}

// The symlink lock needs symbolic links, which Windows creates only with a privilege (and Wine
// not at all): there it fails with Error::SymlinkLockUnavailable (src/lock/symlink.rs).
#[cfg(unix)]
#[test]
fn four_processes_250_trials_each_symlink() {
    four_writers(mp_common::test_name!(), LockKind::Symlink);
}

/// Child: runs the trial loop and reports `<trial id> <x>` after each completed trial.
fn writer(env: &ChildEnv) {
    let worker = ChildEnv::parsed(WORKER_VAR);
    let storage = env.open();
    let study = storage.get_study_id_from_name(STUDY).expect("study exists");
    let dist = mp_common::x_distribution();
    for i in 0..TRIALS_PER_PROCESS {
        let x = x_of(worker, i);
        let id = storage.create_new_trial(study, None).expect("create_new_trial");
        storage.set_trial_param(id, "x", x, &dist).expect("set_trial_param");
        let changed = storage
            .set_trial_state_values(id, TrialState::Complete, Some(&[value_of(x)]))
            .expect("set_trial_state_values");
        assert!(changed, "completing RUNNING trial {id} must change its state");
        report(&format!("{id} {x}"));
    }
    mp_common::report_done();
}

fn four_writers(test: &str, kind: LockKind) {
    if let Some(env) = ChildEnv::get() {
        return writer(&env);
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let journal = dir.path().join("study.journal");
    {
        let storage = mp_common::open_storage(&journal, kind, GRACE);
        storage.create_new_study(&[StudyDirection::Minimize], Some(STUDY)).expect("create study");
    }

    let mut children: Vec<ChildProc> = (0..PROCESSES)
        .map(|w| {
            Spawn::new(test, "writer", &journal, kind)
                .grace(GRACE)
                .var(WORKER_VAR, &w)
                .spawn(format!("writer {w} ({})", mp_common::kind_name(kind)))
        })
        .collect();
    let reports = mp_common::finish_all(&mut children, mp_common::CHILD_DEADLINE);

    // Acknowledged trial id -> (worker, x).
    let mut acked: BTreeMap<u64, (u64, f64)> = BTreeMap::new();
    for (w, lines) in (0..PROCESSES).zip(&reports) {
        assert_eq!(lines.len() as u64, TRIALS_PER_PROCESS, "writer {w} acknowledged trials");
        for line in lines {
            let (id, x) = line.split_once(' ').expect("`<id> <x>` report");
            let id: u64 = id.parse().expect("trial id");
            let x: f64 = x.parse().expect("x");
            let earlier = acked.insert(id, (w, x));
            assert!(earlier.is_none(), "trial id {id} acknowledged twice: {earlier:?} and w{w}");
        }
    }

    let storage = mp_common::open_storage(&journal, kind, GRACE);
    mp_common::assert_nothing_ignored(&storage);
    let study = storage.get_study_id_from_name(STUDY).expect("study");
    let trials = storage.get_all_trials(study, None).expect("get_all_trials");
    let total = PROCESSES * TRIALS_PER_PROCESS;
    assert_eq!(trials.len() as u64, total, "trial count");

    let mut numbers: Vec<u64> = trials.iter().map(|t| t.number).collect();
    numbers.sort_unstable();
    assert!(numbers.iter().copied().eq(0..total), "numbers are not exactly 0..{total}");
    let mut ids: Vec<u64> = trials.iter().map(|t| t.trial_id).collect();
    ids.sort_unstable();
    assert!(ids.iter().copied().eq(0..total), "trial ids are not exactly 0..{total}");

    for t in &trials {
        let id = t.trial_id;
        assert_eq!(t.state, TrialState::Complete, "trial {id}");
        let &(w, x) = acked.get(&id).unwrap_or_else(|| panic!("trial {id} acknowledged by no one"));
        assert_eq!(t.params.len(), 1, "trial {id} (writer {w}) params: {:?}", t.params);
        assert_eq!(t.params.get("x"), Some(&ParamValue::Float(x)), "trial {id} (writer {w})");
        assert_eq!(t.value(), Some(value_of(x)), "trial {id} (writer {w}) value");
    }
    assert_eq!(acked.len() as u64, total, "every acknowledged trial id is in the journal");
}
