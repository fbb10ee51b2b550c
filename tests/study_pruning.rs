//! Pruning through the study API: `should_prune` with the median and successive-halving
//! pruners, `optimize` recording pruned trials as PRUNED with their last intermediate value.

use std::sync::Arc;

use trialog::study::{
    MedianPruner, NopPruner, RandomSampler, Study, SuccessiveHalvingPruner, TellResult,
};
use trialog::{AttrValue, Error, JournalStorage, MemoryBackend, StudyDirection, TrialState};

type Mem = Study<JournalStorage<MemoryBackend>>;

fn study(directions: &[StudyDirection]) -> Mem {
    let storage = Arc::new(JournalStorage::new(MemoryBackend::new()).unwrap());
    Study::create(storage, Some("s"), directions, Arc::new(RandomSampler::new(Some(0)))).unwrap()
}

/// Runs a trial that reports `curve` step by step, stopping when the pruner says so.
fn run_curve(study: &Mem, curve: &[f64]) -> Result<f64, Error> {
    let trial = study.ask()?;
    for (step, v) in curve.iter().enumerate() {
        trial.report(step as i64, *v)?;
        if trial.should_prune()? {
            study.tell(&trial, TellResult::Pruned)?;
            return Ok(f64::NAN);
        }
    }
    study.tell(&trial, TellResult::Complete(vec![*curve.last().unwrap()]))?;
    Ok(*curve.last().unwrap())
}

#[test]
fn median_pruner_stops_a_trial_worse_than_the_median() {
    let s = study(&[StudyDirection::Minimize]);
    // Five COMPLETE trials with values 1..5 at every step (the median pruner's startup).
    for k in 1..=5 {
        run_curve(&s, &[k as f64; 4]).unwrap();
    }
    // Better than the median (3) all along: completes.
    assert_eq!(run_curve(&s, &[2.5, 2.0, 1.0, 0.5]).unwrap(), 0.5);
    // Worse than the median at step 0: pruned right there, with that value.
    assert!(run_curve(&s, &[3.5, 0.0, 0.0, 0.0]).unwrap().is_nan());
    let pruned = s.trials(Some(&[TrialState::Pruned])).unwrap();
    assert_eq!(pruned.len(), 1);
    assert_eq!(pruned[0].intermediate_values.len(), 1);
    assert_eq!(pruned[0].values.as_deref(), Some(&[3.5][..]));
    // With NopPruner nothing is pruned.
    let s = s.with_pruner(Arc::new(NopPruner));
    assert_eq!(run_curve(&s, &[9.0, 9.0]).unwrap(), 9.0);
}

#[test]
fn optimize_records_pruned_trials_with_their_last_value() {
    let s = study(&[StudyDirection::Minimize])
        .with_pruner(Arc::new(MedianPruner::new(2, 0, 1).unwrap()));
    let mut n = 0;
    let report = s
        .optimize(Some(8), None, |trial| {
            n += 1;
            // Trials 3.. are worse than the first two at every step.
            let level = if n <= 2 { n as f64 } else { 10.0 + n as f64 };
            for step in 0..5 {
                trial.report(step, level - step as f64 * 0.1)?;
                trial.prune_if_needed()?;
            }
            Ok(level)
        })
        .unwrap();
    assert_eq!((report.trials, report.complete, report.pruned, report.failed), (8, 2, 6, 0));
    for t in s.trials(Some(&[TrialState::Pruned])).unwrap() {
        // Pruned at step 0, which is its only and last value.
        assert_eq!(t.intermediate_values.len(), 1);
        assert_eq!(t.values.as_deref(), Some(&[t.intermediate_value(0).unwrap()][..]));
    }
}

#[test]
fn any_error_right_after_a_prune_verdict_prunes_but_a_later_report_clears_it() {
    let s = study(&[StudyDirection::Minimize])
        .with_pruner(Arc::new(MedianPruner::new(1, 0, 1).unwrap()));
    s.optimize(Some(1), None, |t| {
        t.report(0, 1.0)?;
        Ok(1.0)
    })
    .unwrap();
    // A foreign error type after should_prune() == true: PRUNED.
    let r = s
        .optimize(Some(1), None, |t| {
            t.report(0, 5.0).map_err(|e| e.to_string())?;
            if t.should_prune().map_err(|e| e.to_string())? {
                return Err("stopping".into());
            }
            Ok(5.0)
        })
        .unwrap();
    assert_eq!(r.pruned, 1);
    // The verdict ignored, another report, then an error: FAIL.
    let r = s
        .optimize(Some(1), None, |t| {
            t.report(0, 5.0)?;
            assert!(t.should_prune()?);
            t.report(1, 5.0)?;
            Err::<f64, _>(Error::InvalidArgument("a real failure".into()).into())
        })
        .unwrap();
    assert_eq!((r.pruned, r.failed), (0, 1));
}

#[test]
fn should_prune_refuses_multi_objective_studies() {
    let s = study(&[StudyDirection::Minimize, StudyDirection::Minimize]);
    let t = s.ask().unwrap();
    t.report(0, 1.0).unwrap();
    assert!(matches!(t.should_prune(), Err(Error::InvalidArgument(_))));
}

#[test]
fn successive_halving_records_rungs_in_the_journal() {
    let s = study(&[StudyDirection::Minimize])
        .with_pruner(Arc::new(SuccessiveHalvingPruner::new(Some(1), 2, 0, 0).unwrap()));
    // Rungs at steps 1, 2, 4: the first trial is alone everywhere and survives.
    assert_eq!(run_curve(&s, &[9.0, 5.0, 4.0, 3.0, 2.0]).unwrap(), 2.0);
    let first = s.trials(None).unwrap().remove(0);
    for (rung, v) in [(0, 5.0), (1, 4.0), (2, 2.0)] {
        assert_eq!(
            first.system_attrs.get(&format!("completed_rung_{rung}")),
            Some(&AttrValue::Float(v)),
            "rung {rung}"
        );
    }
    // A second trial worse at rung 0 (2 values, the best 1 survives): pruned at step 1.
    assert!(run_curve(&s, &[1.0, 6.0, 0.0]).unwrap().is_nan());
    let second = s.trials(None).unwrap().remove(1);
    assert_eq!(second.state, TrialState::Pruned);
    assert_eq!(second.system_attrs.get("completed_rung_0"), Some(&AttrValue::Float(6.0)));
    assert_eq!(second.values.as_deref(), Some(&[6.0][..]));
}
