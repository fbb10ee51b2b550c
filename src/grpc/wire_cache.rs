//! The wire form of finished trials, kept so that a trial read again is not converted again.
//!
//! Converting a trial for the wire (distribution JSON, attribute JSON, datetimes) costs more
//! server CPU than the storage read (docs/SERVER.md, "Benchmarks"), and Optuna's workers read
//! the same finished trials over and over. An entry holds the snapshot it was made from (an
//! `Arc<FrozenTrial>`) and is used only for that very snapshot (`Arc::ptr_eq`): the storage hands
//! out immutable snapshots and copies a trial before changing it while anyone else holds it
//! (`Arc::make_mut`), so a changed trial, a trial of a state rebuilt after a compaction, or any
//! other trial under the same id is a different snapshot and gets converted afresh. The storage
//! is still asked first on every call, so a deleted study's trials are `NOT_FOUND` as before.
//! Only finished trials (which never change) are kept: an unfinished one would be replaced on
//! every update. At most [`CAPACITY`] entries; when full, it starts empty again.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use super::proto;
use super::trial_to_proto;
use crate::model::FrozenTrial;

/// The most trials kept (a W1-shape trial's wire form is a few hundred bytes).
pub const CAPACITY: usize = 16_384;

/// Wire forms of finished trials by trial id, each with the snapshot it was made from.
#[derive(Debug, Default)]
pub struct WireCache {
    entries: Mutex<HashMap<u64, Entry>>,
}

#[derive(Debug)]
struct Entry {
    snapshot: Arc<FrozenTrial>,
    wire: Arc<proto::Trial>,
}

impl WireCache {
    /// An empty cache.
    pub fn new() -> Self {
        Self::default()
    }

    /// `trial_to_proto(t)`: from the cache if it holds this very snapshot, converted (and kept
    /// if the trial is finished) otherwise.
    pub fn to_proto(&self, t: &Arc<FrozenTrial>) -> crate::Result<proto::Trial> {
        if !t.state.is_finished() {
            return trial_to_proto(t);
        }
        let hit = self
            .lock()
            .get(&t.trial_id)
            .filter(|e| Arc::ptr_eq(&e.snapshot, t))
            .map(|e| Arc::clone(&e.wire));
        if let Some(wire) = hit {
            return Ok((*wire).clone());
        }
        let wire = trial_to_proto(t)?;
        let mut entries = self.lock();
        if entries.len() >= CAPACITY && !entries.contains_key(&t.trial_id) {
            entries.clear();
        }
        entries.insert(t.trial_id, Entry { snapshot: Arc::clone(t), wire: Arc::new(wire.clone()) });
        Ok(wire)
    }

    /// How many trials are kept.
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    /// Whether no trial is kept.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<u64, Entry>> {
        // Entries are inserted whole: a panic elsewhere cannot leave one half-made.
        self.entries.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::TrialState;

    fn finished(trial_id: u64, value: f64) -> Arc<FrozenTrial> {
        let mut t = FrozenTrial::new(trial_id, trial_id, 0, TrialState::Complete);
        t.values = Some(vec![value].into());
        Arc::new(t)
    }

    #[test]
    fn a_kept_trial_is_answered_only_for_the_same_snapshot() {
        let cache = WireCache::new();
        let first = finished(3, 1.0);
        assert_eq!(cache.to_proto(&first).unwrap().values, vec![1.0]);
        assert_eq!(cache.len(), 1);
        assert_eq!(cache.to_proto(&first).unwrap(), trial_to_proto(&first).unwrap());
        // Another snapshot under the same id (a state rebuilt after a compaction, say): its own
        // content, never the kept one.
        let other = finished(3, 2.0);
        assert_eq!(cache.to_proto(&other).unwrap().values, vec![2.0]);
        assert_eq!(cache.to_proto(&other).unwrap().values, vec![2.0]);
        assert_eq!(cache.len(), 1);
    }

    #[test]
    fn an_unfinished_trial_is_never_kept() {
        let cache = WireCache::new();
        let mut t = FrozenTrial::new(5, 5, 0, TrialState::Running);
        let running = Arc::new(t.clone());
        assert_eq!(cache.to_proto(&running).unwrap(), trial_to_proto(&running).unwrap());
        assert!(cache.is_empty());
        t.intermediate_values.insert(0.into(), 0.5);
        assert_eq!(cache.to_proto(&Arc::new(t)).unwrap().intermediate_values.get(&0), Some(&0.5));
        assert!(cache.is_empty());
    }

    #[test]
    fn it_never_holds_more_than_its_capacity() {
        let cache = WireCache::new();
        let trials: Vec<_> = (0..CAPACITY as u64 + 10).map(|i| finished(i, i as f64)).collect();
        for t in &trials {
            assert_eq!(cache.to_proto(t).unwrap().values, vec![t.trial_id as f64]);
            assert!(cache.len() <= CAPACITY);
        }
        assert!(!cache.is_empty());
    }
}
