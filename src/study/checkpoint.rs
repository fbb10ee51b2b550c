//! Sampler checkpoints: the sampler's state ([`Sampler::export_state`]) as it was before a
//! trial, stored with that trial, so that a resumed or forked study continues with the draws
//! the original would have made.
//!
//! The state lives in the trial's system attribute [`SAMPLER_STATE_ATTR`], as a map:
//! `{"hex": "<the state's bytes in lowercase hex>"}` when it is at most
//! [`CheckpointOptions::inline_limit`] bytes (or no artifact store is configured), else
//! `{"artifact_id": "<id>", "size": <bytes>}`, the bytes being an artifact of the configured
//! store linked to the trial as any artifact is (`artifacts:<id>`, with size and SHA-256).

use std::io::{Cursor, Read};
use std::sync::Arc;

use super::sampler::Sampler;
use crate::artifacts::{ArtifactId, ArtifactMeta, ArtifactStore, Target, upload_artifact_from};
use crate::error::{Error, Result};
use crate::model::{AttrValue, FrozenTrial};
use crate::storage::Storage;

/// Trial system attribute holding the sampler's state before the trial (see the module docs).
pub const SAMPLER_STATE_ATTR: &str = "trialog:sampler_state";

/// Where a study handle stores sampler checkpoints ([`Study::with_checkpoints`](super::Study)).
#[derive(Clone)]
pub struct CheckpointOptions {
    /// States up to this many bytes are stored in the attribute itself (default 64 KiB).
    pub inline_limit: usize,
    /// The artifact store for larger states; without one, every state is stored inline.
    pub artifacts: Option<Arc<dyn ArtifactStore>>,
}

impl Default for CheckpointOptions {
    fn default() -> Self {
        CheckpointOptions { inline_limit: 64 << 10, artifacts: None }
    }
}

impl std::fmt::Debug for CheckpointOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CheckpointOptions")
            .field("inline_limit", &self.inline_limit)
            .field("artifacts", &self.artifacts.as_ref().map(|a| a.location()))
            .finish()
    }
}

/// Lowercase hex of `bytes`.
fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The bytes of lowercase or uppercase hex `text`, if it is hex.
fn unhex(text: &str) -> Option<Vec<u8>> {
    if text.len() % 2 != 0 {
        return None;
    }
    (0..text.len()).step_by(2).map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok()).collect()
}

impl CheckpointOptions {
    /// The attribute value recording an inline `state`, or `None` when it must go to the
    /// artifact store.
    pub(crate) fn inline_value(&self, state: &[u8]) -> Option<AttrValue> {
        (state.len() <= self.inline_limit || self.artifacts.is_none()).then(|| {
            AttrValue::Map(
                [("hex".to_owned(), AttrValue::String(hex(state)))].into_iter().collect(),
            )
        })
    }

    /// Stores `state` for trial `trial_id`: inline, or as an artifact linked to the trial
    /// (bytes durable before the attribute that names them).
    pub(crate) fn store<S: Storage + ?Sized>(
        &self,
        storage: &S,
        trial_id: u64,
        state: &[u8],
    ) -> Result<()> {
        let value = match (self.inline_value(state), &self.artifacts) {
            (Some(v), _) => v,
            (None, Some(store)) => {
                let meta = upload_artifact_from(
                    storage,
                    &**store,
                    Target::Trial(trial_id),
                    "sampler-state.bin",
                    &mut Cursor::new(state),
                    Some("application/octet-stream"),
                    None,
                )?;
                AttrValue::Map(
                    [
                        ("artifact_id".to_owned(), AttrValue::String(meta.artifact_id.to_string())),
                        ("size".to_owned(), AttrValue::Int(state.len() as i64)),
                    ]
                    .into_iter()
                    .collect(),
                )
            }
            (None, None) => unreachable!("inline_value stores inline without an artifact store"),
        };
        storage.set_trial_system_attr(trial_id, SAMPLER_STATE_ATTR, value)
    }
}

/// The sampler state stored with `trial`, or `None` if it has none. A state kept as an artifact
/// is read from `artifacts` and checked against its link's size and SHA-256; without a store
/// it is an `InvalidArgument` naming the artifact. A malformed attribute is
/// `Error::BadSamplerState`.
pub fn stored_state(
    trial: &FrozenTrial,
    artifacts: Option<&dyn ArtifactStore>,
) -> Result<Option<Vec<u8>>> {
    let Some(value) = trial.system_attrs.get(SAMPLER_STATE_ATTR) else { return Ok(None) };
    let bad = |why: &str| Error::BadSamplerState {
        sampler: "sampler".to_owned(),
        reason: format!("trial {} has a malformed {SAMPLER_STATE_ATTR}: {why}", trial.number),
    };
    let AttrValue::Map(map) = value else { return Err(bad("not a map")) };
    if let Some(AttrValue::String(text)) = map.get("hex") {
        return unhex(text).map(Some).ok_or_else(|| bad("not hex"));
    }
    let Some(AttrValue::String(id)) = map.get("artifact_id") else {
        return Err(bad("neither \"hex\" nor \"artifact_id\""));
    };
    let id = ArtifactId::parse(id)?;
    let Some(store) = artifacts else {
        return Err(Error::invalid(format_args!(
            "the sampler state of trial {} is artifact {id}: give the artifact store to read it",
            trial.number
        )));
    };
    let link = trial.system_attrs.get(&format!("{}{id}", crate::artifacts::ARTIFACTS_ATTR_PREFIX));
    let meta = match link {
        Some(v) => ArtifactMeta::from_link(&format!("trial {}", trial.number), "link", v)?,
        None => None,
    };
    let mut bytes = Vec::new();
    store.get(&id)?.read_to_end(&mut bytes).map_err(|e| Error::ArtifactStore {
        store: store.location(),
        op: "download",
        key: id.to_string(),
        transient: false,
        source: Box::new(e),
    })?;
    if let Some(meta) = meta {
        use sha2::Digest;
        let sha = hex(&sha2::Sha256::digest(&bytes));
        if meta.size.is_some_and(|s| s != bytes.len() as u64)
            || meta.sha256.as_deref().is_some_and(|h| !h.eq_ignore_ascii_case(&sha))
        {
            return Err(bad(&format!("artifact {id} does not match its link's size and SHA-256")));
        }
    }
    Ok(Some(bytes))
}

/// The highest-numbered of `trials` that carries a sampler state, if any.
pub fn last_checkpoint<'a>(
    trials: impl IntoIterator<Item = &'a Arc<FrozenTrial>>,
) -> Option<&'a Arc<FrozenTrial>> {
    trials
        .into_iter()
        .filter(|t| t.system_attrs.contains_key(SAMPLER_STATE_ATTR))
        .max_by_key(|t| t.number)
}

/// Restores into `sampler` the state stored with the last of `trials` that has one; returns that
/// trial's number, or `None` (sampler unchanged) when no trial has a state.
pub fn restore_sampler(
    sampler: &dyn Sampler,
    trials: &[Arc<FrozenTrial>],
    artifacts: Option<&dyn ArtifactStore>,
) -> Result<Option<u64>> {
    let Some(trial) = last_checkpoint(trials) else { return Ok(None) };
    let Some(state) = stored_state(trial, artifacts)? else { return Ok(None) };
    sampler.import_state(&state)?;
    Ok(Some(trial.number))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::TrialState;

    #[test]
    fn inline_states_round_trip_through_the_attribute() {
        let options = CheckpointOptions { inline_limit: 4, artifacts: None };
        let state = vec![0u8, 1, 0xab, 0xff, 7, 8];
        let mut t = FrozenTrial::new(0, 2, 0, TrialState::Running);
        // No artifact store: inline whatever the size.
        t.system_attrs.insert(SAMPLER_STATE_ATTR.into(), options.inline_value(&state).unwrap());
        assert_eq!(stored_state(&t, None).unwrap(), Some(state));
        t.system_attrs.insert(SAMPLER_STATE_ATTR.into(), AttrValue::Int(1));
        assert!(matches!(stored_state(&t, None), Err(Error::BadSamplerState { .. })));
        assert_eq!(unhex("0g"), None);
        assert_eq!(unhex("abc"), None);
    }
}
