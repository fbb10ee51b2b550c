//! Invariant: `best_trial`/`best_value`/`best_params` pick the best COMPLETE trial of a
//! single-objective study (first on ties, ignoring PRUNED/FAIL) and give typed errors otherwise;
//! `pareto_front` returns exactly the COMPLETE trials no other COMPLETE trial dominates,
//! respecting each objective's direction.

use std::sync::Arc;

use trialog::study::{Study, TellResult, create_study};
use trialog::{Error, JournalStorage, MemoryBackend, ParamValue, StudyDirection, TrialState};

fn new_study(directions: &[StudyDirection]) -> Study<JournalStorage<MemoryBackend>> {
    let storage = Arc::new(JournalStorage::new(MemoryBackend::new()).unwrap());
    create_study(storage, None, directions).unwrap()
}

fn add(study: &Study<JournalStorage<MemoryBackend>>, x: i64, result: TellResult) -> u64 {
    let mut t = study.ask().unwrap();
    t.suggest_int("x", 0, 100).unwrap();
    // A sampled parameter (so best_params has something to return) and a tag for debugging.
    t.set_user_attr("x", x).unwrap();
    study.tell(&t, result).unwrap();
    t.number()
}

#[test]
fn best_trial_of_a_single_objective_study() {
    let study = new_study(&[StudyDirection::Minimize]);
    assert!(matches!(study.best_trial(), Err(Error::NoCompletedTrials { .. })));
    add(&study, 0, TellResult::Complete(vec![3.0]));
    add(&study, 1, TellResult::Complete(vec![1.0]));
    add(&study, 2, TellResult::Pruned);
    add(&study, 3, TellResult::Fail);
    add(&study, 4, TellResult::Complete(vec![1.0]));
    add(&study, 5, TellResult::Complete(vec![2.0]));
    let best = study.best_trial().unwrap();
    assert_eq!(best.number, 1);
    assert_eq!(study.best_value().unwrap(), 1.0);
    let params = study.best_params().unwrap();
    assert!(matches!(params.get("x"), Some(ParamValue::Int(_))));
    assert_eq!(study.trials(Some(&[TrialState::Complete])).unwrap().len(), 4);
    assert_eq!(study.trials(None).unwrap().len(), 6);

    let max = new_study(&[StudyDirection::Maximize]);
    add(&max, 0, TellResult::Complete(vec![3.0]));
    add(&max, 1, TellResult::Complete(vec![5.0]));
    assert_eq!(max.best_trial().unwrap().number, 1);
    // A single-objective pareto front is the set of best trials.
    let front: Vec<u64> = study.pareto_front().unwrap().iter().map(|t| t.number).collect();
    assert_eq!(front, vec![1, 4]);
}

#[test]
fn pareto_front_respects_directions() {
    // Minimize the first objective, maximize the second.
    let study = new_study(&[StudyDirection::Minimize, StudyDirection::Maximize]);
    let pts = [
        (1.0, 1.0), // 0: front (best first objective)
        (2.0, 3.0), // 1: front
        (3.0, 3.0), // 2: dominated by 1
        (4.0, 5.0), // 3: front (best second objective)
        (2.0, 3.0), // 4: equal to 1: front too
        (5.0, 4.0), // 5: dominated by 3
        (1.0, 0.5), // 6: dominated by 0
    ];
    for (i, (a, b)) in pts.iter().enumerate() {
        add(&study, i as i64, TellResult::Complete(vec![*a, *b]));
    }
    add(&study, 7, TellResult::Fail);
    add(&study, 8, TellResult::Pruned);
    let front: Vec<u64> = study.pareto_front().unwrap().iter().map(|t| t.number).collect();
    assert_eq!(front, vec![0, 1, 3, 4]);
    assert!(matches!(study.best_trial(), Err(Error::MultiObjectiveStudy { n_objectives: 2, .. })));
    assert!(matches!(study.best_value(), Err(Error::MultiObjectiveStudy { .. })));
    assert!(matches!(study.best_params(), Err(Error::MultiObjectiveStudy { .. })));

    // Both maximized: (1,1) is now dominated by everything else.
    let max = new_study(&[StudyDirection::Maximize, StudyDirection::Maximize]);
    for (i, (a, b)) in [(1.0, 1.0), (2.0, 3.0), (3.0, 2.0), (2.0, 2.0)].iter().enumerate() {
        add(&max, i as i64, TellResult::Complete(vec![*a, *b]));
    }
    let front: Vec<u64> = max.pareto_front().unwrap().iter().map(|t| t.number).collect();
    assert_eq!(front, vec![1, 2]);
}
