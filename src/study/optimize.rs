//! `Study::optimize`: the ask / run objective / tell loop, robust to failing objectives.

use std::any::Any;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::time::{Duration, Instant};

use super::{Study, TellResult, Trial};
use crate::error::{Error, Result};
use crate::model::{AttrValue, TrialState};
use crate::storage::Storage;

pub use crate::storage::FAIL_REASON_ATTR;

/// The error type of an objective passed to [`Study::optimize`]: any error. `?` converts
/// trialog's own errors (from `suggest_*`, `report`), I/O errors, `String`s and other error
/// types (`anyhow::Error` too); `Err("why".into())` fails a trial with that reason. Being one
/// concrete type, it lets a closure end in a plain `Ok(value)`.
pub type ObjectiveError = Box<dyn std::error::Error + Send + Sync>;

/// What an objective may return: one value (single objective), several (multi-objective), or
/// an explicit [`TellResult`] (e.g. `Pruned`).
pub trait IntoTellResult {
    /// The outcome to tell.
    fn into_tell_result(self) -> TellResult;
}

impl IntoTellResult for f64 {
    fn into_tell_result(self) -> TellResult {
        TellResult::Complete(vec![self])
    }
}

impl IntoTellResult for Vec<f64> {
    fn into_tell_result(self) -> TellResult {
        TellResult::Complete(self)
    }
}

impl<const N: usize> IntoTellResult for [f64; N] {
    fn into_tell_result(self) -> TellResult {
        TellResult::Complete(self.to_vec())
    }
}

impl IntoTellResult for TellResult {
    fn into_tell_result(self) -> TellResult {
        self
    }
}

/// Why [`Study::optimize`] returned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StopReason {
    /// `n_trials` trials were run.
    NTrials,
    /// The timeout elapsed (checked before each trial; a running trial is not interrupted).
    Timeout,
    /// A finite search space (a grid) was fully handed out.
    Exhausted,
}

/// What one [`Study::optimize`] call did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OptimizeReport {
    /// Trials this call asked and finished (in any state).
    pub trials: usize,
    /// Of which COMPLETE.
    pub complete: usize,
    /// Of which FAIL.
    pub failed: usize,
    /// Of which PRUNED.
    pub pruned: usize,
    /// Why the loop stopped.
    pub stop: StopReason,
}

fn panic_message(payload: &(dyn Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_owned()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "non-string panic payload".to_owned()
    }
}

impl<S: Storage + ?Sized> Study<S> {
    /// Runs `objective` on trials from [`Study::ask`] until `n_trials` trials ran (`None`: no
    /// limit), `timeout` elapsed (checked before each trial) or the search space is exhausted.
    ///
    /// An objective that returns `Err` right after [`Trial::should_prune`] said yes (for example
    /// through [`Trial::prune_if_needed`]), or returns `TellResult::Pruned`, marks its trial
    /// PRUNED with its last intermediate value, as Optuna does for `TrialPruned`.
    ///
    /// An objective that returns `Err`, panics (caught; the panic message still goes to the
    /// panic hook), returns NaN or the wrong number of values marks its trial FAIL with the
    /// reason in the [`FAIL_REASON_ATTR`] system attribute, and the loop goes on. Only storage
    /// errors (I/O, lock, ...) stop the loop, and are returned.
    ///
    /// The objective returns `Ok` with one value (or several, or a [`TellResult`]: see
    /// [`IntoTellResult`]), or an [`ObjectiveError`], so `?` works on any error inside it:
    ///
    /// ```
    /// use std::sync::Arc;
    /// use trialog::study::{FAIL_REASON_ATTR, create_study};
    /// use trialog::{AttrValue, JournalStorage, MemoryBackend, StudyDirection, TrialState};
    ///
    /// let storage = Arc::new(JournalStorage::new(MemoryBackend::new())?);
    /// let study = create_study(storage, Some("quadratic"), &[StudyDirection::Minimize])?;
    /// let report = study.optimize(Some(20), None, |trial| {
    ///     let x = trial.suggest_float("x", -10.0, 10.0)?;
    ///     if x > 9.0 {
    ///         return Err(format!("diverged at x = {x}").into()); // this trial FAILs
    ///     }
    ///     Ok((x - 2.0).powi(2))
    /// })?;
    /// assert_eq!(report.trials, 20);
    /// assert_eq!(report.complete + report.failed, 20);
    /// for t in study.trials(None)? {
    ///     match t.state {
    ///         TrialState::Complete => assert!(t.value().unwrap() >= 0.0),
    ///         _ => assert!(matches!(
    ///             t.system_attrs.get(FAIL_REASON_ATTR),
    ///             Some(AttrValue::String(r)) if r.contains("diverged at x = ")
    ///         )),
    ///     }
    /// }
    /// # Ok::<(), trialog::Error>(())
    /// ```
    pub fn optimize<F, V>(
        &self,
        n_trials: Option<usize>,
        timeout: Option<Duration>,
        mut objective: F,
    ) -> Result<OptimizeReport>
    where
        F: FnMut(&mut Trial<S>) -> std::result::Result<V, ObjectiveError>,
        V: IntoTellResult,
    {
        let started = Instant::now();
        let mut report = OptimizeReport {
            trials: 0,
            complete: 0,
            failed: 0,
            pruned: 0,
            stop: StopReason::NTrials,
        };
        loop {
            if n_trials.is_some_and(|n| report.trials >= n) {
                report.stop = StopReason::NTrials;
                return Ok(report);
            }
            if timeout.is_some_and(|t| started.elapsed() >= t) {
                report.stop = StopReason::Timeout;
                return Ok(report);
            }
            if let Some(heartbeat) = self.storage.heartbeat() {
                // As Optuna does before each trial: fail the trials of workers that died.
                self.storage.fail_stale_trials(self.study_id, heartbeat.grace_period)?;
            }
            let mut trial = match self.ask() {
                Ok(t) => t,
                Err(Error::SearchSpaceExhausted { .. }) => {
                    report.stop = StopReason::Exhausted;
                    return Ok(report);
                }
                Err(e) => return Err(e),
            };
            let trial_id = trial.id();
            let run = || catch_unwind(AssertUnwindSafe(|| objective(&mut trial)));
            let outcome = match self.with_heartbeats(trial_id, run) {
                Ok(Ok(v)) => Ok(v.into_tell_result()),
                // The objective stopped after `should_prune` said so: PRUNED, as Optuna's
                // `TrialPruned`.
                Ok(Err(_)) if trial.prune_requested() => Ok(TellResult::Pruned),
                Ok(Err(e)) => Err(format!("objective returned an error: {e}")),
                Err(payload) => Err(format!("objective panicked: {}", panic_message(&*payload))),
            };
            let state = match outcome {
                Ok(result) => match self.tell(&trial, result.clone()) {
                    Ok(()) => result,
                    // The objective told the trial itself: keep what it told.
                    Err(Error::TrialFinished { state, .. }) => match state {
                        TrialState::Complete => TellResult::Complete(Vec::new()),
                        TrialState::Pruned => TellResult::Pruned,
                        _ => TellResult::Fail,
                    },
                    Err(Error::InvalidArgument(msg)) => {
                        self.fail(&trial, format!("objective result rejected: {msg}"))?;
                        TellResult::Fail
                    }
                    Err(e) => return Err(e),
                },
                Err(reason) => {
                    self.fail(&trial, reason)?;
                    TellResult::Fail
                }
            };
            report.trials += 1;
            match state {
                TellResult::Complete(v) if !v.iter().any(|x| x.is_nan()) => report.complete += 1,
                TellResult::Complete(_) | TellResult::Fail => report.failed += 1,
                TellResult::Pruned => report.pruned += 1,
            }
        }
    }

    /// Records `reason` and finishes `trial` as FAIL (unless the objective already finished it).
    fn fail(&self, trial: &Trial<S>, reason: String) -> Result<()> {
        log::warn!("trial {} of study {:?} failed: {reason}", trial.number(), self.name());
        let attr = AttrValue::String(reason);
        match self
            .storage
            .set_trial_system_attr(trial.id(), FAIL_REASON_ATTR, attr)
            .and_then(|()| self.tell(trial, TellResult::Fail))
        {
            Err(Error::TrialFinished { .. }) => Ok(()),
            other => other,
        }
    }
}
