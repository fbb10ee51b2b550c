//! Retrying a failed trial as Optuna's `RetryHeartbeatStaleTrialCallback` (formerly
//! `RetryFailedTrialCallback`, `optuna/storages/_callbacks.py`) does: a new WAITING trial with
//! the failed trial's parameters, distributions and user attributes, and its system attributes
//! plus `failed_trial` (the number of the first trial of the series) and `retry_history` (every
//! number of the series so far, oldest first). Optuna's own helpers read these attributes, and
//! trialog's samplers give a retry the draws of the trial it retries
//! ([`SampleContext::draw_number`](super::SampleContext::draw_number)).

use crate::error::Result;
use crate::model::{AttrValue, FrozenTrial, TrialState};
use crate::storage::Storage;

/// System attribute of a retry: the number of the original trial of its series (Optuna's key).
pub const FAILED_TRIAL_ATTR: &str = "failed_trial";

/// System attribute of a retry: the numbers of the trials it retries, oldest first (Optuna's
/// key).
pub const RETRY_HISTORY_ATTR: &str = "retry_history";

/// How failed trials are retried (the arguments of Optuna's callback).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RetryOptions {
    /// At most this many retries of one original trial (`None`: no limit), counted as Optuna
    /// counts them: a trial whose retry history already has `max_retry` entries is not retried.
    pub max_retry: Option<usize>,
    /// Whether the retry starts with the failed trial's intermediate values (Optuna's
    /// `inherit_intermediate_values`).
    pub inherit_intermediate_values: bool,
}

/// The number of the original trial `trial` retries (its [`FAILED_TRIAL_ATTR`]), or `None` if
/// it is not a retry (Optuna's `retried_trial_number`).
pub fn retried_trial_number(trial: &FrozenTrial) -> Option<u64> {
    match trial.system_attrs.get(FAILED_TRIAL_ATTR) {
        Some(AttrValue::Int(n)) => u64::try_from(*n).ok(),
        _ => None,
    }
}

/// The numbers of the trials `trial` retries, oldest first (its [`RETRY_HISTORY_ATTR`]); empty
/// if it is not a retry (Optuna's `retry_history`). Entries that are not trial numbers are
/// left out.
pub fn retry_history(trial: &FrozenTrial) -> Vec<u64> {
    match trial.system_attrs.get(RETRY_HISTORY_ATTR) {
        Some(AttrValue::Array(items)) => items
            .iter()
            .filter_map(|v| match v {
                AttrValue::Int(n) => u64::try_from(*n).ok(),
                _ => None,
            })
            .collect(),
        _ => Vec::new(),
    }
}

/// The WAITING trial that retries `failed`, built as Optuna's callback builds it, or `None`
/// when `options.max_retry` retries of its series were made already. The template has no
/// datetimes and no values; give it to [`Storage::create_new_trial`].
pub fn retry_template(failed: &FrozenTrial, options: &RetryOptions) -> Option<FrozenTrial> {
    // Optuna: {"failed_trial": number, "retry_history": [], **trial.system_attrs}, then the
    // history gets this trial's number appended.
    let mut system_attrs = failed.system_attrs.clone();
    if !system_attrs.contains_key(FAILED_TRIAL_ATTR) {
        system_attrs.insert(FAILED_TRIAL_ATTR.to_owned(), AttrValue::Int(failed.number as i64));
    }
    let mut history = match system_attrs.get(RETRY_HISTORY_ATTR) {
        Some(AttrValue::Array(items)) => items.clone(),
        _ => Vec::new(),
    };
    history.push(AttrValue::Int(failed.number as i64));
    if options.max_retry.is_some_and(|max| max < history.len()) {
        return None;
    }
    system_attrs.insert(RETRY_HISTORY_ATTR.to_owned(), AttrValue::Array(history));
    let mut t = FrozenTrial::new(0, 0, failed.study_id, TrialState::Waiting);
    t.params = failed.params.clone();
    t.distributions = failed.distributions.clone();
    t.user_attrs = failed.user_attrs.clone();
    t.system_attrs = system_attrs;
    if options.inherit_intermediate_values {
        t.intermediate_values = failed.intermediate_values.clone();
    }
    Some(t)
}

/// Enqueues the retry of `failed` ([`retry_template`]) in its study; returns the new trial's
/// id, or `None` when `options.max_retry` forbids another retry (nothing written).
pub fn enqueue_retry<S: Storage + ?Sized>(
    storage: &S,
    failed: &FrozenTrial,
    options: &RetryOptions,
) -> Result<Option<u64>> {
    match retry_template(failed, options) {
        Some(t) => storage.create_new_trial(failed.study_id, Some(&t)).map(Some),
        None => Ok(None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Distribution, ParamValue};
    use std::sync::Arc;

    fn failed(number: u64) -> FrozenTrial {
        let mut t = FrozenTrial::new(number + 10, number, 3, TrialState::Fail);
        let name: Arc<str> = Arc::from("x");
        t.params.insert(Arc::clone(&name), ParamValue::Float(0.5));
        t.distributions.insert(name, Arc::new(Distribution::float(0.0, 1.0, false, None).unwrap()));
        t.user_attrs.insert("u".into(), AttrValue::Int(1));
        t.system_attrs.insert("fail_reason".into(), AttrValue::String("gone".into()));
        t.intermediate_values.insert(0.into(), 0.25);
        t
    }

    #[test]
    fn a_retry_series_records_its_origin_and_history_as_optuna_does() {
        let first = failed(4);
        let retry = retry_template(&first, &RetryOptions::default()).unwrap();
        assert_eq!(retry.state, TrialState::Waiting);
        assert_eq!(retry.params, first.params);
        assert_eq!(retry.user_attrs, first.user_attrs);
        assert!(retry.intermediate_values.is_empty());
        assert!(retry.datetime_start.is_none());
        assert_eq!(retried_trial_number(&retry), Some(4));
        assert_eq!(retry_history(&retry), [4]);
        assert_eq!(retry.system_attrs.get("fail_reason"), first.system_attrs.get("fail_reason"));
        // The retry fails too, as trial 9: the series keeps its origin and grows its history.
        let mut second = retry.clone();
        second.number = 9;
        second.state = TrialState::Fail;
        let again = retry_template(&second, &RetryOptions::default()).unwrap();
        assert_eq!(retried_trial_number(&again), Some(4));
        assert_eq!(retry_history(&again), [4, 9]);
        // max_retry counts the history, as Optuna: 1 allows one retry of the series.
        let one = RetryOptions { max_retry: Some(1), ..RetryOptions::default() };
        assert!(retry_template(&first, &one).is_some());
        assert!(retry_template(&second, &one).is_none());
        let inherit = RetryOptions { inherit_intermediate_values: true, ..RetryOptions::default() };
        assert_eq!(retry_template(&first, &inherit).unwrap().intermediate_values.len(), 1);
        assert_eq!(retried_trial_number(&first), None);
        assert!(retry_history(&first).is_empty());
    }
}
