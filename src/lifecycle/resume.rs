//! Resuming a study after its workers died: [`Study::resume`].

use std::sync::Arc;
use std::time::Duration;

use crate::error::Result;
use crate::model::TrialState;
use crate::storage::Storage;
use crate::study::retry::{RetryOptions, enqueue_retry};
use crate::study::{CheckpointOptions, Sampler, Study, last_checkpoint, restore_sampler};

/// Which RUNNING trials [`Study::resume`] fails.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum StaleTrials {
    /// Those whose latest heartbeat is older than the storage handle's grace period
    /// ([`Storage::heartbeat`]); none when the handle has heartbeats off.
    #[default]
    Heartbeat,
    /// Those whose latest heartbeat is older than this (`NotSupported` on a store without
    /// heartbeats, such as an Optuna-format journal).
    HeartbeatOlderThan(Duration),
    /// Every RUNNING trial: for when no worker of the study runs (all were killed). A trial
    /// that a live worker finishes meanwhile is left as the worker finished it.
    AllRunning,
    /// None.
    Keep,
}

/// How [`Study::resume`] resumes.
#[derive(Debug, Clone)]
pub struct ResumeOptions {
    /// Which RUNNING trials to fail (default: stale by the handle's heartbeat settings).
    pub stale: StaleTrials,
    /// Re-enqueue each trial failed here as Optuna's retry callback does (default: on, without
    /// a retry limit); `None` leaves them failed.
    pub retry: Option<RetryOptions>,
    /// Restore the sampler state stored with the study's last trial that has one (default on).
    pub restore_sampler: bool,
    /// Sampler checkpoints on the returned handle. `None` (default): on with default settings
    /// if the study's trials carry checkpoints, else off. Its artifact store is also where a
    /// state kept as an artifact is read from.
    pub checkpoints: Option<CheckpointOptions>,
}

impl Default for ResumeOptions {
    fn default() -> Self {
        ResumeOptions {
            stale: StaleTrials::Heartbeat,
            retry: Some(RetryOptions::default()),
            restore_sampler: true,
            checkpoints: None,
        }
    }
}

/// What [`Study::resume`] did.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct ResumeReport {
    /// Numbers of the RUNNING trials this call failed.
    pub failed: Vec<u64>,
    /// (failed trial number, number of its retry) for each retry this call enqueued.
    pub retried: Vec<(u64, u64)>,
    /// The trial whose stored sampler state was restored, if any.
    pub restored_from: Option<u64>,
}

/// The reason recorded on trials failed by [`StaleTrials::AllRunning`].
const ALL_RUNNING_REASON: &str = "RUNNING when the study was resumed with every running trial failed: its worker is presumed gone";

impl<S: Storage + ?Sized> Study<S> {
    /// Loads study `name` to continue it after a crash: fails its stale RUNNING trials
    /// (`options.stale`), re-enqueues each of them with the same parameters as Optuna's retry
    /// callback does (`failed_trial` / `retry_history` system attributes, see
    /// [`crate::study::retry`]), restores into `sampler` the state stored with the study's last
    /// trial that has one ([`crate::study::SAMPLER_STATE_ATTR`]), and returns the handle, ready
    /// for [`Study::optimize`] or [`Study::ask`].
    ///
    /// With trialog's samplers a resumed study makes the draws an uninterrupted one would have
    /// made: a retry draws what the lost trial drew, later trials draw as if it had not been lost
    /// ([`SampleContext::draw_number`](crate::study::SampleContext)), and the restored state
    /// gives an unseeded sampler its seed back.
    ///
    /// Safe while other workers run: a trial is failed (and so retried) by one caller only, and
    /// a trial with a fresh heartbeat is never failed. Fails with `StudyNameNotFound` (nothing
    /// written), `BadSamplerState` when the stored state is not one `sampler` can restore
    /// (after the failures and retries were written; resume again with the right sampler or
    /// `restore_sampler: false`).
    pub fn resume(
        storage: Arc<S>,
        name: &str,
        sampler: Arc<dyn Sampler>,
        options: &ResumeOptions,
    ) -> Result<(Self, ResumeReport)> {
        let study = Study::load(storage, name, sampler)?;
        let storage = Arc::clone(study.storage());
        let study_id = study.id();
        let mut report = ResumeReport::default();
        let failed_ids = match options.stale {
            StaleTrials::Heartbeat => match storage.heartbeat() {
                Some(h) => {
                    crate::storage::fail_stale_after_watching(&*storage, study_id, h.grace_period)?
                }
                None => Vec::new(),
            },
            StaleTrials::HeartbeatOlderThan(grace) => {
                crate::storage::fail_stale_after_watching(&*storage, study_id, grace)?
            }
            StaleTrials::AllRunning => fail_all_running(&*storage, study_id)?,
            StaleTrials::Keep => Vec::new(),
        };
        for id in failed_ids {
            let failed = storage.get_trial(id)?;
            report.failed.push(failed.number);
            if let Some(retry) = &options.retry {
                if let Some(new) = enqueue_retry(&*storage, &failed, retry)? {
                    report.retried.push((failed.number, storage.get_trial_number_from_id(new)?));
                }
            }
        }
        let trials = study.trials(None)?;
        let artifacts = options.checkpoints.as_ref().and_then(|c| c.artifacts.as_deref());
        if options.restore_sampler {
            report.restored_from = restore_sampler(&**study.sampler(), &trials, artifacts)?;
        }
        let checkpoints = match &options.checkpoints {
            Some(c) => Some(c.clone()),
            None => last_checkpoint(&trials).map(|_| CheckpointOptions::default()),
        };
        let study = match checkpoints {
            Some(c) => study.with_checkpoints(c),
            None => study,
        };
        Ok((study, report))
    }
}

/// Fails every RUNNING trial of the study (see [`StaleTrials::AllRunning`]); returns the ids of
/// those this call failed.
fn fail_all_running<S: Storage + ?Sized>(storage: &S, study_id: u64) -> Result<Vec<u64>> {
    let mut failed = Vec::new();
    for t in storage.get_all_trials(study_id, Some(&[TrialState::Running]))? {
        // A trial finished by its worker (or another resumer) meanwhile is left alone.
        if crate::storage::fail_with_reason(storage, t.trial_id, ALL_RUNNING_REASON.to_owned())? {
            failed.push(t.trial_id);
        }
    }
    Ok(failed)
}
