//! Re-enqueuing a failed trial with the same parameters, as Optuna's `RetryFailedTrialCallback`
//! (`optuna/storages/_callbacks.py`) does: a WAITING copy whose system attributes record the first
//! trial of the series (`failed_trial`) and every earlier attempt (`retry_history`).

use crate::artifacts::ARTIFACTS_ATTR_PREFIX;
use crate::error::Result;
use crate::model::{AttrValue, FrozenTrial, TrialState};
use crate::storage::{FAIL_REASON_ATTR, Storage};

use super::budget::{FAILED_TRIAL_ATTR, RETRY_HISTORY_ATTR};

/// Prefix of the system attributes the runner keeps per attempt (heartbeat, duplicate and leak
/// notes).
pub const RUNNER_ATTR_PREFIX: &str = "trialog:";

/// Whether a system attribute belongs to one attempt only and is not copied into its retry: why
/// it failed, the links of its output artifacts, successive halving's rungs, the runner's notes.
/// (Optuna copies every system attribute; these would describe the failed attempt, not the
/// retry.)
fn per_attempt(key: &str) -> bool {
    key == FAIL_REASON_ATTR
        || key.starts_with(ARTIFACTS_ATTR_PREFIX)
        || key.starts_with(RUNNER_ATTR_PREFIX)
        || key.starts_with("completed_rung_")
}

/// The retry history `failed` would give its retry: its own history (if it is a retry itself)
/// plus its number.
pub fn next_history(failed: &FrozenTrial) -> Vec<i64> {
    let mut history: Vec<i64> = match failed.system_attrs.get(RETRY_HISTORY_ATTR) {
        Some(AttrValue::Array(items)) => items
            .iter()
            .filter_map(|v| match v {
                AttrValue::Int(n) => Some(*n),
                _ => None,
            })
            .collect(),
        _ => Vec::new(),
    };
    history.push(failed.number as i64);
    history
}

/// Enqueues a retry of the FAIL trial `failed` if it has had at most `max_retry` attempts so far
/// (Optuna: no retry once `max_retry < len(retry_history)`), and returns the retry's trial id.
/// The retry is WAITING with the failed trial's parameters and distributions, user attributes and
/// system attributes (minus the per-attempt ones), `failed_trial` (the series' first trial, kept
/// from the failed trial if it is a retry itself) and `retry_history`. Intermediate values are not
/// inherited (Optuna's default).
pub fn enqueue_retry<S: Storage + ?Sized>(
    storage: &S,
    failed: &FrozenTrial,
    max_retry: u32,
) -> Result<Option<u64>> {
    let history = next_history(failed);
    if (max_retry as usize) < history.len() {
        return Ok(None);
    }
    let mut t = FrozenTrial::new(0, 0, failed.study_id, TrialState::Waiting);
    t.params = failed.params.clone();
    t.distributions = failed.distributions.clone();
    t.user_attrs = failed.user_attrs.clone();
    t.system_attrs.insert(FAILED_TRIAL_ATTR.to_owned(), AttrValue::Int(history[0]));
    for (key, value) in failed.system_attrs.iter() {
        if !per_attempt(key) {
            t.system_attrs.insert(key.clone(), value.clone());
        }
    }
    let history = history.into_iter().map(AttrValue::Int).collect();
    t.system_attrs.insert(RETRY_HISTORY_ATTR.to_owned(), AttrValue::Array(history));
    storage.create_new_trial(failed.study_id, Some(&t)).map(Some)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Distribution, ParamValue, StudyDirection};
    use crate::{JournalStorage, MemoryBackend};

    #[test]
    fn retries_carry_optunas_attrs_and_stop_after_max() {
        let storage = JournalStorage::new(MemoryBackend::new()).unwrap();
        let study = storage.create_new_study(&[StudyDirection::Minimize], Some("s")).unwrap();
        let id = storage.create_new_trial(study, None).unwrap();
        let dist = Distribution::float(0.0, 1.0, false, None).unwrap();
        storage.set_trial_param(id, "x", 0.25, &dist).unwrap();
        storage.set_trial_user_attr(id, "u", AttrValue::Int(1)).unwrap();
        storage.set_trial_system_attr(id, FAIL_REASON_ATTR, "died".into()).unwrap();
        storage.set_trial_system_attr(id, "trialog:heartbeat", AttrValue::Float(1.0)).unwrap();
        storage.set_trial_state_values(id, TrialState::Fail, None).unwrap();
        let failed = storage.get_trial(id).unwrap();

        let retry = enqueue_retry(&storage, &failed, 1).unwrap().unwrap();
        let r = storage.get_trial(retry).unwrap();
        assert_eq!(r.state, TrialState::Waiting);
        assert_eq!(r.params.get("x"), Some(&ParamValue::Float(0.25)));
        assert_eq!(r.user_attrs.get("u"), Some(&AttrValue::Int(1)));
        assert_eq!(r.system_attrs.get(FAILED_TRIAL_ATTR), Some(&AttrValue::Int(0)));
        assert_eq!(
            r.system_attrs.get(RETRY_HISTORY_ATTR),
            Some(&AttrValue::Array(vec![AttrValue::Int(0)]))
        );
        assert_eq!(r.system_attrs.get(FAIL_REASON_ATTR), None);
        assert_eq!(r.system_attrs.get("trialog:heartbeat"), None);

        // The retry fails too: with max_retry 1 there is no third attempt; with 2 there is, and
        // its history names both earlier attempts.
        assert!(storage.set_trial_state_values(retry, TrialState::Running, None).unwrap());
        storage.set_trial_state_values(retry, TrialState::Fail, None).unwrap();
        let failed_again = storage.get_trial(retry).unwrap();
        assert_eq!(enqueue_retry(&storage, &failed_again, 1).unwrap(), None);
        let third = enqueue_retry(&storage, &failed_again, 2).unwrap().unwrap();
        let t = storage.get_trial(third).unwrap();
        assert_eq!(t.system_attrs.get(FAILED_TRIAL_ATTR), Some(&AttrValue::Int(0)));
        assert_eq!(
            t.system_attrs.get(RETRY_HISTORY_ATTR),
            Some(&AttrValue::Array(vec![AttrValue::Int(0), AttrValue::Int(1)]))
        );
    }
}
