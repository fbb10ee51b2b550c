//! Copying a study between stores (`optuna.copy_study`) and deleting one; the study snapshot
//! and the study writer that fork uses too.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use crate::error::{Error, Result};
use crate::model::{AttrValue, FrozenTrial, StudyDirection, TrialState};
use crate::storage::Storage;
use crate::study::sampler::translate_trial_ids;

/// A study as one moment of its store shows it: its directions, attributes and trials.
#[derive(Debug, Clone)]
pub(crate) struct Snapshot {
    pub name: String,
    pub directions: Vec<StudyDirection>,
    pub user_attrs: BTreeMap<String, AttrValue>,
    pub system_attrs: BTreeMap<String, AttrValue>,
    /// By number.
    pub trials: Vec<Arc<FrozenTrial>>,
}

impl Snapshot {
    /// Reads the live study `name` of `storage` (`StudyNameNotFound` if there is none). The
    /// attributes are read first, then every trial in one call: each trial is as it was at that
    /// call, with every write acknowledged before it.
    pub fn read<S: Storage + ?Sized>(storage: &S, name: &str) -> Result<Self> {
        let id = storage.get_study_id_from_name(name)?;
        Ok(Snapshot {
            name: name.to_owned(),
            directions: storage.get_study_directions(id)?,
            user_attrs: storage.get_study_user_attrs(id)?,
            system_attrs: storage.get_study_system_attrs(id)?,
            trials: storage.get_all_trials(id, None)?,
        })
    }
}

/// What [`write_study`] created.
#[derive(Debug)]
pub(crate) struct Written {
    pub study_id: u64,
    /// Study system attributes left out because they name trials the copy does not hold.
    pub dropped_attrs: Vec<String>,
}

/// Creates study `name` in `to` with `snap`'s directions and attributes and then `trials` (each
/// a template: its state, values, datetimes, parameters, attributes and intermediate values are
/// copied; numbers are assigned 0, 1, ... in order). `origin[i]` is the id in `snap`'s store of
/// the trial `trials[i]` copies, if any: study attributes that name trials by id (NSGA-II's
/// parent caches) are rewritten to the copies' ids, or left out when they name a trial not
/// copied. Fails with `DuplicateStudyName` (nothing written) if `to` has a live study `name`.
pub(crate) fn write_study<S: Storage + ?Sized>(
    to: &S,
    snap: &Snapshot,
    name: &str,
    trials: &[FrozenTrial],
    origin: &[Option<u64>],
) -> Result<Written> {
    let study_id = to.create_new_study(&snap.directions, Some(name))?;
    for (key, value) in &snap.user_attrs {
        to.set_study_user_attr(study_id, key, value.clone())?;
    }
    let no_ids = |_: u64| None;
    let (plain, naming_ids): (Vec<_>, Vec<_>) = snap
        .system_attrs
        .iter()
        .partition(|(k, v)| translate_trial_ids(k, v, &no_ids).as_ref() == Some(*v));
    for (key, value) in plain {
        to.set_study_system_attr(study_id, key, value.clone())?;
    }
    let mut new_ids = HashMap::with_capacity(trials.len());
    for (i, t) in trials.iter().enumerate() {
        let id = to.create_new_trial(study_id, Some(t))?;
        if let Some(Some(old)) = origin.get(i) {
            new_ids.insert(*old, id);
        }
    }
    let mut dropped_attrs = Vec::new();
    for (key, value) in naming_ids {
        match translate_trial_ids(key, value, &|old| new_ids.get(&old).copied()) {
            Some(v) => to.set_study_system_attr(study_id, key, v)?,
            None => dropped_attrs.push(key.clone()),
        }
    }
    Ok(Written { study_id, dropped_attrs })
}

/// What [`copy_study`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct CopyReport {
    /// The copy's name.
    pub name: String,
    /// The copy's id in the destination.
    pub study_id: u64,
    /// Trials copied.
    pub trials: usize,
    /// Study system attributes left out: caches naming trials by their ids in the source
    /// (NSGA-II's parent populations), which the sampler derives again in the copy.
    pub dropped_attrs: Vec<String>,
}

/// Copies study `name` of `from` into `to` under `to_name` (default: the same name), as
/// `optuna.copy_study` does: the directions, the user and system attributes, and every trial in
/// number order with its state (RUNNING and WAITING ones too, as they are), values, datetimes,
/// parameters with their distributions, attributes and intermediate values. `from` and `to` may
/// be any two stores (a trialog journal, an Optuna journal, the same store under another name).
///
/// One difference from Optuna: study system attributes that name trials by id (NSGA-II's parent
/// caches) are rewritten to the copies' ids, since the copy's ids differ.
///
/// Fails before writing anything with `StudyNameNotFound` (no study `name` in `from`) or
/// `DuplicateStudyName` (`to` has a live study `to_name`). The copy is made with ordinary
/// storage calls, each durable: a crash or a store error midway leaves a partial study under
/// `to_name` (delete it and copy again). Writers of `from` may keep writing: the copy holds each
/// trial as it was when the trials were read (see `docs/LIFECYCLE.md`).
pub fn copy_study<A: Storage + ?Sized, B: Storage + ?Sized>(
    from: &A,
    name: &str,
    to: &B,
    to_name: Option<&str>,
) -> Result<CopyReport> {
    refuse_taken(to, to_name.unwrap_or(name))?;
    PreparedCopy::read(from, name)?.write(to, to_name)
}

/// A copy read but not written yet: [`copy_study`] in two steps, for a caller that must not
/// create the destination store before the study is known to exist (the CLI's copy into a file
/// that does not exist yet). Holding one writes nothing and locks nothing: the copy is of the
/// study as [`PreparedCopy::read`] read it.
#[derive(Debug, Clone)]
pub struct PreparedCopy {
    snap: Snapshot,
}

impl PreparedCopy {
    /// Reads study `name` of `from` (`StudyNameNotFound` if there is none); writes nothing.
    pub fn read<A: Storage + ?Sized>(from: &A, name: &str) -> Result<Self> {
        Ok(PreparedCopy { snap: Snapshot::read(from, name)? })
    }

    /// Writes the copy into `to` (any store) under `to_name` (default: the study's name), as
    /// [`copy_study`] describes. Fails with `DuplicateStudyName`, writing nothing, if `to` has
    /// a live study of that name.
    pub fn write<B: Storage + ?Sized>(&self, to: &B, to_name: Option<&str>) -> Result<CopyReport> {
        let snap = &self.snap;
        let to_name = to_name.unwrap_or(&snap.name);
        let trials: Vec<FrozenTrial> = snap.trials.iter().map(|t| FrozenTrial::clone(t)).collect();
        let origin: Vec<Option<u64>> = snap.trials.iter().map(|t| Some(t.trial_id)).collect();
        let written = write_study(to, snap, to_name, &trials, &origin)?;
        Ok(CopyReport {
            name: to_name.to_owned(),
            study_id: written.study_id,
            trials: trials.len(),
            dropped_attrs: written.dropped_attrs,
        })
    }
}

/// Fails with `DuplicateStudyName` if `storage` has a live study `name`.
pub(crate) fn refuse_taken<S: Storage + ?Sized>(storage: &S, name: &str) -> Result<()> {
    match storage.get_study_id_from_name(name) {
        Ok(_) => Err(Error::DuplicateStudyName { name: name.to_owned() }),
        Err(Error::StudyNameNotFound { .. }) => Ok(()),
        Err(e) => Err(e),
    }
}

/// What [`delete_study`] deleted.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct DeleteReport {
    /// The deleted study's id.
    pub study_id: u64,
    /// How many trials it had, by state (in [`TrialState::ALL`] order).
    pub trials: Vec<(TrialState, usize)>,
}

/// Deletes the live study `name` of `storage` (`StudyNameNotFound` if there is none) with
/// Optuna's `delete_study`: its trials disappear with it, its name is free again, its id is
/// never reused. In a journal the study's operations stay in the log (a point-in-time recovery
/// of a trialog journal to before the deletion brings it back). There is no rename: copy the
/// study under the new name ([`copy_study`]), then delete the old one.
pub fn delete_study<S: Storage + ?Sized>(storage: &S, name: &str) -> Result<DeleteReport> {
    let study_id = storage.get_study_id_from_name(name)?;
    let all = storage.get_all_trials(study_id, None)?;
    let trials = TrialState::ALL
        .iter()
        .map(|s| (*s, all.iter().filter(|t| t.state == *s).count()))
        .filter(|(_, n)| *n > 0)
        .collect();
    storage.delete_study(study_id)?;
    Ok(DeleteReport { study_id, trials })
}
