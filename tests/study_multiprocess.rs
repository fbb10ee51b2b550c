//! Invariant: study-level exactly-once across real processes sharing one journal file. Four
//! processes race to `create_or_load` one study with a 200-point `GridSampler` and `optimize` it:
//! afterwards the study has exactly 200 trials, all COMPLETE, and every grid point appears
//! exactly once. And: 50 trials enqueued with `enqueue_trial` and drained by four processes
//! with `ask_waiting`/`tell` are each completed exactly once, by exactly one process.

mod mp_common;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use mp_common::{ChildEnv, ChildProc, Spawn, report, report_done};
use trialog::study::{GridSampler, RandomSampler, Study, TellResult};
use trialog::{Distribution, LockKind, ParamValue, StudyDirection, TrialState};

const PROCESSES: usize = 4;
const GRACE: Duration = Duration::from_secs(2);

fn grid() -> Arc<GridSampler> {
    Arc::new(
        GridSampler::new(vec![
            ("x", (0..20).map(ParamValue::Int).collect()),
            ("y", (0..10).map(ParamValue::Int).collect()),
        ])
        .expect("grid"),
    )
}

#[test]
fn four_processes_optimize_a_200_point_grid_once_each() {
    let test = mp_common::test_name!();
    if let Some(env) = ChildEnv::get() {
        let storage = Arc::new(env.open());
        let study = Study::create_or_load(storage, "grid", &[StudyDirection::Minimize], grid())
            .expect("create or load");
        let r = study
            .optimize(None, None, |t| {
                let x = t.suggest_int("x", 0, 19)?;
                let y = t.suggest_int("y", 0, 9)?;
                Ok((x * 10 + y) as f64)
            })
            .expect("optimize");
        report(&format!("ran {}", r.trials));
        report_done();
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let journal = dir.path().join("grid.journal");
    let mut children: Vec<ChildProc> = (0..PROCESSES)
        .map(|i| {
            Spawn::new(test, "grid", &journal, LockKind::Advisory).spawn(format!("worker {i}"))
        })
        .collect();
    let lines = mp_common::finish_all(&mut children, mp_common::CHILD_DEADLINE);
    let ran: usize =
        lines.iter().flatten().filter_map(|l| l.strip_prefix("ran ")?.parse::<usize>().ok()).sum();
    assert_eq!(ran, 200, "trials run by the workers: {lines:?}");
    println!("trials per worker: {lines:?}");

    let storage = Arc::new(mp_common::open_storage(&journal, LockKind::Advisory, GRACE));
    mp_common::assert_nothing_ignored(&storage);
    let study = Study::load(Arc::clone(&storage), "grid", grid()).unwrap();
    let trials = study.trials(None).unwrap();
    assert_eq!(trials.len(), 200);
    let mut seen: BTreeMap<(i64, i64), usize> = BTreeMap::new();
    for t in &trials {
        assert_eq!(t.state, TrialState::Complete, "trial {}", t.number);
        let (Some(ParamValue::Int(x)), Some(ParamValue::Int(y))) =
            (t.params.get("x"), t.params.get("y"))
        else {
            panic!("trial {} params {:?}", t.number, t.params)
        };
        assert_eq!(t.value(), Some((x * 10 + y) as f64));
        *seen.entry((*x, *y)).or_default() += 1;
    }
    assert_eq!(seen.len(), 200);
    assert!(seen.values().all(|n| *n == 1));
    // Exhausted for everyone afterwards.
    assert!(matches!(study.ask(), Err(trialog::Error::SearchSpaceExhausted { .. })));
}

#[test]
fn fifty_enqueued_trials_are_each_completed_once_by_four_processes() {
    let test = mp_common::test_name!();
    let dist = Distribution::int(0, 49, false, 1).unwrap();
    if let Some(env) = ChildEnv::get() {
        let storage = Arc::new(env.open());
        let study = Study::load(storage, "queue", Arc::new(RandomSampler::new(Some(0)))).unwrap();
        while let Some(mut t) = study.ask_waiting().expect("ask_waiting") {
            let i = t.suggest_int("i", 0, 49).expect("enqueued param");
            study.tell(&t, TellResult::Complete(vec![i as f64])).expect("tell");
            report(&format!("completed {} {i}", t.id()));
        }
        report_done();
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let journal = dir.path().join("queue.journal");
    let mut ids = BTreeMap::new();
    {
        let storage = Arc::new(mp_common::open_storage(&journal, LockKind::Advisory, GRACE));
        let study = Study::create(
            storage,
            Some("queue"),
            &[StudyDirection::Minimize],
            Arc::new(RandomSampler::new(Some(0))),
        )
        .unwrap();
        for i in 0..50 {
            let id = study.enqueue_trial(&[("i", ParamValue::Int(i), dist.clone())]).unwrap();
            ids.insert(id, i);
        }
    }
    let mut children: Vec<ChildProc> = (0..PROCESSES)
        .map(|i| {
            Spawn::new(test, "queue", &journal, LockKind::Advisory).spawn(format!("worker {i}"))
        })
        .collect();
    let lines = mp_common::finish_all(&mut children, mp_common::CHILD_DEADLINE);
    let mut completed: BTreeMap<u64, Vec<i64>> = BTreeMap::new();
    for line in lines.iter().flatten() {
        let mut parts = line.strip_prefix("completed ").expect("report line").split(' ');
        let id: u64 = parts.next().unwrap().parse().unwrap();
        let i: i64 = parts.next().unwrap().parse().unwrap();
        completed.entry(id).or_default().push(i);
    }
    assert_eq!(completed.len(), 50);
    for (id, is) in &completed {
        assert_eq!(is, &vec![ids[id]], "trial {id} completed {is:?}");
    }

    let storage = Arc::new(mp_common::open_storage(&journal, LockKind::Advisory, GRACE));
    mp_common::assert_nothing_ignored(&storage);
    let study = Study::load(storage, "queue", Arc::new(RandomSampler::new(Some(0)))).unwrap();
    let trials = study.trials(None).unwrap();
    assert_eq!(trials.len(), 50);
    for t in &trials {
        assert_eq!(t.state, TrialState::Complete);
        assert_eq!(t.value(), Some(ids[&t.trial_id] as f64));
    }
}
