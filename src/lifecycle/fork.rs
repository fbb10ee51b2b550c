//! Forking a study at a trial: a new study holding copies of trials `0..=N`.

use std::sync::Arc;

use super::copy::{Snapshot, refuse_taken, write_study};
use crate::error::{Error, Result};
use crate::model::{FrozenTrial, TrialState};
use crate::storage::Storage;

/// What to fork (see [`fork_study`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ForkOptions {
    /// The last trial number kept: trials `0..=at` are copied.
    pub at: u64,
    /// The fork's name.
    pub to_name: String,
    /// Also copy the WAITING trials numbered after `at` (enqueued work not started yet, such
    /// as the rest of a grid), after the kept trials and in their order. Off by default: the
    /// fork then holds nothing after `at`.
    pub keep_waiting: bool,
}

/// What a fork wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ForkReport {
    /// The fork's name.
    pub name: String,
    /// The fork's id in its store.
    pub study_id: u64,
    /// Trials in the fork.
    pub trials: usize,
    /// Numbers of the trials at or before `at` that were RUNNING when the study was read: their
    /// copies are WAITING, with the same parameters and attributes, so one worker of the fork
    /// runs each again (its original result, if it comes, stays in the original study).
    pub requeued: Vec<u64>,
    /// Numbers (in the original) of the WAITING trials after `at` copied with `keep_waiting`.
    pub kept_waiting: Vec<u64>,
    /// How many trials after `at` were left out, by state (in [`TrialState::ALL`] order).
    pub left_out: Vec<(TrialState, usize)>,
    /// Study system attributes left out because they name trials after `at` (NSGA-II's parent
    /// caches; the sampler derives them again).
    pub dropped_attrs: Vec<String>,
    /// With [`replace_with_fork`]: the name the original study keeps (`<name>.backup-<k>`).
    pub backup: Option<String>,
}

/// The copies that make a fork of `snap` at `options.at`, and the report of what they are.
fn plan(
    snap: &Snapshot,
    options: &ForkOptions,
) -> Result<(Vec<FrozenTrial>, Vec<Option<u64>>, ForkReport)> {
    let n_trials = snap.trials.len() as u64;
    if options.at >= n_trials {
        return Err(Error::ForkPointNotFound {
            study: snap.name.clone(),
            at: options.at,
            n_trials,
        });
    }
    let mut report = ForkReport {
        name: options.to_name.clone(),
        study_id: 0,
        trials: 0,
        requeued: Vec::new(),
        kept_waiting: Vec::new(),
        left_out: Vec::new(),
        dropped_attrs: Vec::new(),
        backup: None,
    };
    let mut trials = Vec::new();
    let mut origin = Vec::new();
    let mut left_out = [0usize; TrialState::ALL.len()];
    for t in &snap.trials {
        if t.number <= options.at {
            if t.state == TrialState::Running {
                report.requeued.push(t.number);
                trials.push(requeued(t));
            } else {
                trials.push(FrozenTrial::clone(t));
            }
            origin.push(Some(t.trial_id));
        } else if t.state == TrialState::Waiting && options.keep_waiting {
            report.kept_waiting.push(t.number);
            trials.push(FrozenTrial::clone(t));
            origin.push(Some(t.trial_id));
        } else if let Some(i) = TrialState::ALL.iter().position(|s| *s == t.state) {
            left_out[i] += 1;
        }
    }
    report.left_out = TrialState::ALL
        .iter()
        .zip(left_out)
        .filter(|(_, n)| *n > 0)
        .map(|(s, n)| (*s, n))
        .collect();
    report.trials = trials.len();
    Ok((trials, origin, report))
}

/// The WAITING copy of a RUNNING trial: its parameters and attributes, no start time and no
/// intermediate values (the trial runs again from the start).
fn requeued(t: &FrozenTrial) -> FrozenTrial {
    let mut w = FrozenTrial::new(0, 0, t.study_id, TrialState::Waiting);
    w.params = t.params.clone();
    w.distributions = t.distributions.clone();
    w.user_attrs = t.user_attrs.clone();
    w.system_attrs = t.system_attrs.clone();
    w
}

/// A fork read and checked but not written yet: [`fork_study`] in two steps, for a caller that
/// must not create the destination store before the fork is known to be possible (the CLI's
/// `--into` a file that does not exist yet). Holding one writes nothing and locks nothing: the
/// fork is of the study as [`PreparedFork::read`] read it.
#[derive(Debug, Clone)]
pub struct PreparedFork {
    snap: Snapshot,
    trials: Vec<FrozenTrial>,
    origin: Vec<Option<u64>>,
    report: ForkReport,
}

impl PreparedFork {
    /// Reads study `name` of `from` and plans its fork at `options.at` as [`fork_study`]
    /// describes. Fails with `StudyNameNotFound` or `ForkPointNotFound`; writes nothing.
    pub fn read<A: Storage + ?Sized>(from: &A, name: &str, options: &ForkOptions) -> Result<Self> {
        let snap = Snapshot::read(from, name)?;
        let (trials, origin, report) = plan(&snap, options)?;
        Ok(PreparedFork { snap, trials, origin, report })
    }

    /// Writes the fork into `to` (any store) as `options.to_name`. Fails with
    /// `DuplicateStudyName`, writing nothing, if `to` has a live study of that name; a crash or
    /// a store error midway leaves a partial study under that name (see [`fork_study`]).
    pub fn write<B: Storage + ?Sized>(self, to: &B) -> Result<ForkReport> {
        let PreparedFork { snap, trials, origin, mut report } = self;
        let written = write_study(to, &snap, &report.name, &trials, &origin)?;
        report.study_id = written.study_id;
        report.dropped_attrs = written.dropped_attrs;
        Ok(report)
    }
}

/// Forks study `name` of `from` at trial `options.at` into `to` (the same store or any other)
/// as `options.to_name`: a new study with `from`'s directions and attributes and copies of trials
/// `0..=at` with all their content (state, values, datetimes, parameters with distributions,
/// intermediate values, attributes), numbered as in the original. The original is untouched.
///
/// What happens to each trial (see `docs/LIFECYCLE.md`): COMPLETE, PRUNED, FAIL and WAITING
/// trials at or before `at` are copied as they are; RUNNING ones are copied as WAITING
/// ([`ForkReport::requeued`]); trials after `at` are left out, except WAITING ones with
/// [`ForkOptions::keep_waiting`]. The trials' sampler checkpoints come with them, so
/// [`Study::resume`](crate::Study::resume) on the fork restores the sampler state of its last
/// trial and continues as the original did after `at`.
///
/// Fails before writing anything with `StudyNameNotFound`, `ForkPointNotFound` (`at` is not a
/// trial number of the study) or `DuplicateStudyName` (`to` has a live study `to_name`). Writers
/// of the original may keep writing: the fork holds every trial `0..=at` as it was when the
/// trials were read, with every write acknowledged before that. The fork is written with
/// ordinary storage calls: a crash midway leaves a partial study under `to_name` (delete it and
/// fork again).
pub fn fork_study<A: Storage + ?Sized, B: Storage + ?Sized>(
    from: &A,
    name: &str,
    to: &B,
    options: &ForkOptions,
) -> Result<ForkReport> {
    refuse_taken(to, &options.to_name)?;
    PreparedFork::read(from, name, options)?.write(to)
}

/// The name `<name>.backup-<k>` with `k` one more than the largest `k` of such a live study in
/// `storage` (1 for the first).
fn next_backup_name<S: Storage + ?Sized>(storage: &S, name: &str) -> Result<String> {
    let prefix = format!("{name}.backup-");
    let k = storage
        .get_all_studies()?
        .iter()
        .filter_map(|s| s.study_name.strip_prefix(&prefix)?.parse::<u64>().ok())
        .max()
        .map_or(1, |k| k + 1);
    Ok(format!("{prefix}{k}"))
}

/// Forks study `name` of `storage` at `options.at` **in its place**: the original is kept, whole,
/// as `<name>.backup-<k>` (`k` counts up from 1), and the fork takes the name `name`, so workers
/// that load the study by name continue after trial `at`. `options.to_name` is ignored.
///
/// A store has no rename (Optuna has none), so this is: copy the original to the backup name,
/// check that the original did not change meanwhile, delete it, fork the copy under `name`.
/// Stop the study's workers first: if the original changes while it is copied, the backup is
/// deleted again and `StudyChanged` returned (nothing else changed). Workers still running on
/// the old study get `TrialNotFound` for their next write once it is deleted. A crash between
/// the deletion and the end of the fork leaves the backup whole: fork it again with
/// [`fork_study`] to `name`. Fails before writing anything as [`fork_study`] does.
pub fn replace_with_fork<S: Storage + ?Sized>(
    storage: &S,
    name: &str,
    options: &ForkOptions,
) -> Result<ForkReport> {
    let snap = Snapshot::read(storage, name)?;
    let options = ForkOptions { to_name: name.to_owned(), ..options.clone() };
    let (trials, origin, mut report) = plan(&snap, &options)?;
    let backup = next_backup_name(storage, name)?;
    let whole: Vec<FrozenTrial> = snap.trials.iter().map(|t| FrozenTrial::clone(t)).collect();
    let whole_origin: Vec<Option<u64>> = snap.trials.iter().map(|t| Some(t.trial_id)).collect();
    let kept = write_study(storage, &snap, &backup, &whole, &whole_origin)?;
    let now = Snapshot::read(storage, name)?;
    if !same(&snap, &now) {
        storage.delete_study(kept.study_id)?;
        return Err(Error::StudyChanged { study: name.to_owned() });
    }
    storage.delete_study(storage.get_study_id_from_name(name)?)?;
    let written = write_study(storage, &snap, name, &trials, &origin)?;
    report.study_id = written.study_id;
    report.dropped_attrs = written.dropped_attrs;
    report.backup = Some(backup);
    Ok(report)
}

/// Whether two snapshots of one study show the same state.
fn same(a: &Snapshot, b: &Snapshot) -> bool {
    a.user_attrs == b.user_attrs
        && a.system_attrs == b.system_attrs
        && a.trials.len() == b.trials.len()
        && a.trials.iter().zip(&b.trials).all(|(x, y)| Arc::ptr_eq(x, y) || x == y)
}
