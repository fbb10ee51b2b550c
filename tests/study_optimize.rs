//! Invariant: `optimize` survives failing objectives. A trial whose objective returns `Err` or
//! panics is FAIL with the reason in the `fail_reason` system attribute; every other trial is
//! COMPLETE; the loop runs all `n_trials`. With a timeout and no trial limit, it returns.

use std::sync::Arc;
use std::time::Duration;

use trialog::study::{FAIL_REASON_ATTR, StopReason, TellResult, create_study};
use trialog::{AttrValue, JournalStorage, MemoryBackend, StudyDirection, TrialState};

#[test]
fn failing_and_panicking_objectives_fail_their_trial_and_the_loop_goes_on() {
    let storage = Arc::new(JournalStorage::new(MemoryBackend::new()).unwrap());
    let study = create_study(storage, Some("o"), &[StudyDirection::Minimize]).unwrap();
    let report = study
        .optimize(Some(20), None, |t| {
            let x = t.suggest_float("x", -1.0, 1.0).map_err(|e| e.to_string())?;
            match t.number() {
                n if n % 5 == 1 => Err(format!("bad trial {n}").into()),
                7 => panic!("boom in trial 7"),
                _ => Ok(x * x),
            }
        })
        .unwrap();
    assert_eq!(report.trials, 20);
    assert_eq!(report.stop, StopReason::NTrials);
    assert_eq!((report.complete, report.failed), (15, 5));
    let trials = study.trials(None).unwrap();
    assert_eq!(trials.len(), 20);
    for t in &trials {
        let reason = t.system_attrs.get(FAIL_REASON_ATTR);
        match t.number {
            n if n % 5 == 1 => {
                assert_eq!(t.state, TrialState::Fail);
                let Some(AttrValue::String(r)) = reason else { panic!("no reason on {n}") };
                assert!(r.contains(&format!("bad trial {n}")), "{r}");
            }
            7 => {
                assert_eq!(t.state, TrialState::Fail);
                let Some(AttrValue::String(r)) = reason else { panic!("no reason on 7") };
                assert!(r.contains("panicked") && r.contains("boom in trial 7"), "{r}");
            }
            _ => {
                assert_eq!(t.state, TrialState::Complete);
                assert!(reason.is_none());
            }
        }
    }
    assert!(study.best_value().unwrap() >= 0.0);
}

#[test]
fn wrong_value_count_and_pruned_results_are_recorded() {
    let storage = Arc::new(JournalStorage::new(MemoryBackend::new()).unwrap());
    let study =
        create_study(storage, None, &[StudyDirection::Minimize, StudyDirection::Maximize]).unwrap();
    let report = study
        .optimize(Some(3), None, |t| {
            Ok(match t.number() {
                0 => TellResult::Complete(vec![1.0]),
                1 => TellResult::Pruned,
                _ => TellResult::Complete(vec![1.0, 2.0]),
            })
        })
        .unwrap();
    assert_eq!((report.failed, report.pruned, report.complete), (1, 1, 1));
    let states: Vec<_> = study.trials(None).unwrap().iter().map(|t| t.state).collect();
    assert_eq!(states, [TrialState::Fail, TrialState::Pruned, TrialState::Complete]);
    // Multi-objective objective returning an array.
    study.optimize(Some(2), None, |_| Ok([0.5, 0.5])).unwrap();
    assert_eq!(study.trials(Some(&[TrialState::Complete])).unwrap().len(), 3);
}

#[test]
fn timeout_is_respected() {
    let storage = Arc::new(JournalStorage::new(MemoryBackend::new()).unwrap());
    let study = create_study(storage, None, &[StudyDirection::Minimize]).unwrap();
    let report = study
        .optimize(None, Some(Duration::from_millis(200)), |t| {
            std::thread::sleep(Duration::from_millis(10));
            Ok(t.suggest_float("x", 0.0, 1.0)?)
        })
        .unwrap();
    assert_eq!(report.stop, StopReason::Timeout);
    assert!(report.trials >= 1);
    assert_eq!(report.complete, report.trials);
}

#[test]
fn an_objective_that_tells_its_own_trial_is_respected() {
    let storage = Arc::new(JournalStorage::new(MemoryBackend::new()).unwrap());
    let study = create_study(storage, None, &[StudyDirection::Minimize]).unwrap();
    let inner = study.clone();
    let report = study
        .optimize(Some(2), None, |t| {
            inner.tell(t, TellResult::Pruned)?;
            Err::<f64, _>(trialog::Error::InvalidArgument("after tell".into()).into())
        })
        .unwrap();
    assert_eq!(report.trials, 2);
    let states: Vec<_> = study.trials(None).unwrap().iter().map(|t| t.state).collect();
    assert_eq!(states, [TrialState::Pruned, TrialState::Pruned]);
}

/// The objective's error type is one concrete type: a closure ends in a plain `Ok(value)`, and
/// `?` converts trialog's errors, I/O errors and `String` errors alike (this test is mostly its
/// compiling).
#[test]
fn objectives_return_plain_ok_and_use_question_mark_on_any_error() {
    let storage = Arc::new(JournalStorage::new(MemoryBackend::new()).unwrap());
    let study = create_study(storage, None, &[StudyDirection::Minimize]).unwrap();
    let report = study.optimize(Some(2), None, |_| Ok(1.0)).unwrap();
    assert_eq!(report.complete, 2);
    let report = study
        .optimize(Some(3), None, |trial| {
            let x = trial.suggest_float("x", 0.0, 1.0)?; // trialog::Error
            match trial.number() {
                2 => {
                    std::fs::read("/nonexistent/trialog/file")?; // std::io::Error
                }
                3 => {
                    Err(String::from("a String error"))?;
                }
                _ => {}
            }
            Ok(x)
        })
        .unwrap();
    assert_eq!((report.complete, report.failed), (1, 2));
    let reasons: Vec<String> = study
        .trials(Some(&[TrialState::Fail]))
        .unwrap()
        .iter()
        .map(|t| match t.system_attrs.get(FAIL_REASON_ATTR) {
            Some(AttrValue::String(r)) => r.clone(),
            other => panic!("{other:?}"),
        })
        .collect();
    // The io::Error's own text, as this platform words it.
    let missing = std::fs::read("/nonexistent/trialog/file").unwrap_err().to_string();
    assert!(reasons[0].ends_with(&missing), "{reasons:?}");
    assert!(reasons[1].ends_with("a String error"), "{reasons:?}");
}
