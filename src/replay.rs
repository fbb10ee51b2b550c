//! `ReplayState`: studies and trials rebuilt from operations, one operation at a time.
//!
//! Replay is pure and deterministic: it never does I/O, and the same sequence of operations
//! always gives the same state. (A state loaded from a snapshot decodes its trials from the
//! snapshot when they are first read, through a `TrialSource`: that is the snapshot's I/O, and
//! it gives the trials a replay would.) The rules are Optuna's (`JournalStorageReplayResult`), because
//! Optuna writes first and checks at replay and trialog must read such logs the same way:
//!
//! * an invalid operation (unknown study or trial, duplicate study name, update of a finished
//!   trial, incompatible distribution) is ignored;
//! * an operation Optuna's replay raises on (a parameter whose internal value has no external
//!   one, a line whose fields do not decode, for a target that exists) cannot be replayed:
//!   [`ReplayState::replay_batch`] stops there, as Optuna cannot open such a journal either;
//! * a WAITING -> RUNNING claim of a trial that is already RUNNING loses (is ignored);
//! * study ids count up and are never reused; trial ids count up across all studies in log
//!   order; trial numbers count up per study in log order.
//!
//! trialog's own writers call [`ReplayState::check`] under the write lock before appending, so
//! the operations they write are never ignored; the same function decides what replay ignores,
//! so there is one definition of "valid".

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::{Arc, OnceLock};

use crate::error::{Error, Result};
use crate::journal::{LogBatch, OpCode, Operation, Target, TrialTemplate};
use crate::model::{
    Distribution, Distributions, FrozenStudy, FrozenTrial, ParamValue, Timestamp, TrialState,
    Values,
};

/// What applying one operation created.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Applied {
    /// The operation changed existing state (or was a no-op such as an ignorable code).
    Updated,
    /// A study with this id was created.
    StudyCreated(u64),
    /// A trial with this id was created.
    TrialCreated(u64),
}

/// Counters of what replay has seen.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ReplayStats {
    /// Batches applied.
    pub batches: u64,
    /// Operations applied.
    pub applied: u64,
    /// Operations ignored because they were invalid when replayed (only foreign writers, such
    /// as Optuna, produce these).
    pub ignored: u64,
    /// Operations seen (applied or ignored) by kind: index `i` counts
    /// [`OpCode::ALL`]`[i]`, and the last entry counts unknown safe-to-ignore codes.
    pub by_kind: [u64; OpCode::ALL.len() + 1],
}

#[derive(Debug, Clone, PartialEq)]
struct StudyEntry {
    study: FrozenStudy,
    trial_ids: Vec<u64>,
    /// The ids of its WAITING trials, so claiming one costs O(waiting), not O(trials).
    waiting: BTreeSet<u64>,
    /// For each parameter name, the lowest-numbered trial that has it and its distribution: the
    /// distribution Optuna checks a new one against. The keys and distributions are shared with
    /// the trials (interned), so replaying a parameter rarely allocates.
    param_reps: HashMap<Arc<str>, ParamRep>,
    /// The trials' distribution maps, each distinct one held once.
    layouts: Layouts,
}

impl StudyEntry {
    /// A new study with no attributes and no trials.
    fn new(
        study_id: u64,
        study_name: String,
        directions: Vec<crate::model::StudyDirection>,
    ) -> Self {
        StudyEntry {
            study: FrozenStudy {
                study_id,
                study_name,
                directions,
                user_attrs: BTreeMap::new(),
                system_attrs: BTreeMap::new(),
            },
            trial_ids: Vec::new(),
            waiting: BTreeSet::new(),
            param_reps: HashMap::new(),
            layouts: Layouts::default(),
        }
    }
}

/// The distribution maps of a study's trials, shared: the map a trial has after it gains a
/// parameter is looked up by (its map, the name, the distribution) when all three are interned
/// (the name and distribution are the study's representatives, the map one of these), so
/// replaying a parameter allocates nothing and a study's trials hold a few maps between them.
///
/// Keys are addresses, valid because nothing here is ever dropped: each entry's map holds its
/// name and distribution, and every map a key names is the empty one or an entry's.
#[derive(Debug, Clone, Default)]
struct Layouts {
    next: HashMap<(usize, usize, usize), Distributions, BuildHasherDefault<AddrHasher>>,
    /// The addresses of the maps of `next`.
    members: HashSet<usize, BuildHasherDefault<AddrHasher>>,
}

impl PartialEq for Layouts {
    /// A cache: it never makes two states differ.
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

impl Layouts {
    /// Gives `trial` the parameter `name` with distribution `dist` in its distribution map;
    /// `interned` says whether both are the study's representatives.
    fn set(
        &mut self,
        trial: &mut FrozenTrial,
        name: Arc<str>,
        dist: Arc<Distribution>,
        interned: bool,
    ) {
        let map = &trial.distributions;
        let member = map.addr() == FrozenTrial::no_distributions().addr()
            || self.members.contains(&map.addr());
        if !(interned && member) {
            trial.distributions.insert(name, dist); // a copy of its own
            return;
        }
        let key =
            (map.addr(), Arc::as_ptr(&name).cast::<u8>() as usize, Arc::as_ptr(&dist) as usize);
        let next = self.next.entry(key).or_insert_with(|| {
            let mut next = map.clone();
            next.insert(name, dist);
            self.members.insert(next.addr());
            next
        });
        trial.distributions = next.clone();
    }
}

/// A hasher for addresses (Fibonacci hashing of each word): the maps keyed by addresses are
/// looked up on every replayed parameter, and their keys are not chosen by anyone.
#[derive(Debug, Default)]
struct AddrHasher(u64);

impl Hasher for AddrHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.write_u64(u64::from(b));
        }
    }

    fn write_u64(&mut self, word: u64) {
        self.0 = (self.0.rotate_left(5) ^ word).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    }

    fn write_usize(&mut self, word: usize) {
        self.write_u64(word as u64);
    }
}

#[derive(Debug, Clone, PartialEq)]
struct ParamRep {
    number: u64,
    distribution: Arc<Distribution>,
}

/// What the log says about the heartbeats of one RUNNING trial.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Heartbeats {
    /// The latest `at` of its heartbeats (the writers' wall clocks: only comparable with the
    /// clock of the host that wrote it).
    pub latest: Timestamp,
    /// How many heartbeats it has had: grows with every heartbeat appended, whatever its `at`
    /// says, so a reader can see that a worker is alive without comparing clocks.
    pub count: u64,
}

/// One trial of a state: set when replay creates the trial, or (in a state loaded lazily from a
/// snapshot) when it is first read, from the state's [`TrialSource`].
type TrialCell = OnceLock<Arc<FrozenTrial>>;

/// Where the trials of a lazily loaded state come from: a snapshot's records, decoded the first
/// time one of them is read (`src/snapshot/lazy.rs`).
pub(crate) trait TrialSource: Send + Sync + std::fmt::Debug {
    /// The trials of the block holding `trial_id`, as (id of the first, the trials), each with
    /// its id and number set; `trial_id` is among them. Never fails: a source that cannot
    /// decode its records gives the trials of a full replay of what it covers instead.
    fn load(&self, trial_id: u64) -> (u64, Vec<Arc<FrozenTrial>>);

    /// [`TrialSource::load`] of every block for which `wanted(first id, count)` is true, on as
    /// many threads as help; hands each block to `put` (on this thread).
    fn load_all(
        &self,
        wanted: &(dyn Fn(u64, u64) -> bool + Sync),
        put: &mut dyn FnMut(u64, Vec<Arc<FrozenTrial>>),
    );

    /// The encoded block of trials `first..first + count`, if the source holds exactly that
    /// block as one unit it can hand over unchanged (a snapshot's trial frame, CRC-checked).
    fn raw_block(&self, first: u64, count: u64) -> Option<RawBlock<'_>>;
}

/// A block of trials as a [`TrialSource`] holds them: its encoded bytes (a whole snapshot trial
/// frame) and each trial's study id and state code.
#[derive(Debug)]
pub(crate) struct RawBlock<'a> {
    /// The frame, prefix and CRC included.
    pub frame: &'a [u8],
    /// (study id, state code) of each trial, in id order.
    pub entries: Vec<(u64, u8)>,
}

/// The state of every study and trial after some prefix of the log.
///
/// A state loaded from a snapshot may hold its trials undecoded: each is decoded (with the
/// others of its block) the first time anything reads or changes it, which no caller can tell
/// from a state that held it all along (equality compares the decoded trials).
#[derive(Debug, Clone, Default)]
pub struct ReplayState {
    studies: BTreeMap<u64, StudyEntry>,
    names: HashMap<String, u64>,
    next_study_id: u64,
    /// Every trial ever created, indexed by trial id (trials of deleted studies stay, hidden).
    trials: Vec<TrialCell>,
    /// Where the trials not decoded yet come from (a state loaded lazily from a snapshot).
    source: Option<Arc<dyn TrialSource>>,
    /// The heartbeats of each RUNNING trial that has one (dropped when it finishes).
    heartbeats: HashMap<u64, Heartbeats>,
    /// Which worker last made each trial RUNNING.
    runners: TrialWorkers,
    stats: ReplayStats,
}

/// The worker (a batch's `worker_id`) that last made each trial RUNNING: one small index per
/// trial that has run, into a table holding each distinct worker id once.
#[derive(Debug, Clone, Default, PartialEq)]
struct TrialWorkers {
    names: Vec<Arc<str>>,
    index: HashMap<Arc<str>, u32>,
    /// Indexed by trial id; `u32::MAX` for a trial no known worker started.
    by_trial: Vec<u32>,
}

impl TrialWorkers {
    fn record(&mut self, trial_id: u64, worker: &str) {
        let Ok(at) = usize::try_from(trial_id) else { return };
        let index = match self.index.get(worker) {
            Some(&i) => i,
            None => {
                let Ok(i) = u32::try_from(self.names.len()) else { return };
                let name: Arc<str> = Arc::from(worker);
                self.names.push(Arc::clone(&name));
                self.index.insert(name, i);
                i
            }
        };
        if self.by_trial.len() <= at {
            self.by_trial.resize(at + 1, u32::MAX);
        }
        self.by_trial[at] = index;
    }

    fn of(&self, trial_id: u64) -> Option<&Arc<str>> {
        let i = *self.by_trial.get(usize::try_from(trial_id).ok()?)?;
        self.names.get(i as usize)
    }
}

impl PartialEq for ReplayState {
    /// Compares everything a reader can see, the trials decoded (a lazily loaded state equals
    /// the same state replayed).
    fn eq(&self, other: &Self) -> bool {
        self.studies == other.studies
            && self.names == other.names
            && self.next_study_id == other.next_study_id
            && self.trials.len() == other.trials.len()
            && {
                self.decode_all(None);
                other.decode_all(None);
                (0..self.trials.len()).all(|i| *self.at(i) == *other.at(i))
            }
            && self.heartbeats == other.heartbeats
            && self.runners == other.runners
            && self.stats == other.stats
    }
}

impl ReplayState {
    /// The empty state (an empty log).
    pub fn new() -> Self {
        Self::default()
    }

    /// Counters of what was applied and ignored.
    pub fn stats(&self) -> ReplayStats {
        self.stats
    }

    /// Applies every operation of `batch` in order, ignoring the invalid ones (Optuna's rule for
    /// operations of other workers) and counting the ones Optuna's replay raises on as ignored
    /// too. Returns what the first operation created ([`Applied::Updated`] if it was ignored).
    /// Readers that must agree with Optuna use [`ReplayState::replay_batch`].
    pub fn apply_batch(&mut self, batch: &LogBatch) -> Applied {
        match self.apply_all(batch, false) {
            Ok(applied) => applied,
            Err(_) => Applied::Updated, // unreachable: fatal operations are ignored here
        }
    }

    /// [`ReplayState::apply_batch`] that stops at the first operation Optuna's replay raises on
    /// (the operations before it stay applied) and says why: such a journal cannot be opened by
    /// Optuna past that point, nor by trialog.
    pub fn replay_batch(&mut self, batch: &LogBatch) -> std::result::Result<Applied, Unreplayable> {
        self.apply_all(batch, true)
    }

    fn apply_all(
        &mut self,
        batch: &LogBatch,
        stop: bool,
    ) -> std::result::Result<Applied, Unreplayable> {
        self.stats.batches += 1;
        let mut first = None;
        for (index, op) in batch.ops.iter().enumerate() {
            let kind = OpCode::from_u64(op.code()).map_or(OpCode::ALL.len(), OpCode::index);
            let applied = match self.verdict(op) {
                Verdict::Apply => {
                    self.stats.by_kind[kind] += 1;
                    self.stats.applied += 1;
                    let applied = self.apply_checked(op);
                    if let Some(trial_id) = self.started(op, applied) {
                        self.runners.record(trial_id, &batch.worker_id);
                    }
                    applied
                }
                Verdict::Fatal(reason) if stop => return Err(Unreplayable { index, reason }),
                Verdict::Ignore(_) | Verdict::Fatal(_) => {
                    self.stats.by_kind[kind] += 1;
                    self.stats.ignored += 1;
                    Applied::Updated
                }
            };
            first.get_or_insert(applied);
        }
        Ok(first.unwrap_or(Applied::Updated))
    }

    /// Applies one operation if it is valid now; otherwise returns why and changes nothing. The
    /// operation has no batch, so a trial it starts has no known worker.
    pub fn apply(&mut self, op: &Operation) -> Result<Applied> {
        self.check(op)?;
        Ok(self.apply_checked(op))
    }

    /// Applies `op`, which [`ReplayState::verdict`] said to apply.
    fn apply_checked(&mut self, op: &Operation) -> Applied {
        match op {
            Operation::CreateStudy { study_name, directions } => {
                let study_id = self.next_study_id;
                self.next_study_id += 1;
                self.names.insert(study_name.clone(), study_id);
                let entry = StudyEntry::new(study_id, study_name.clone(), directions.clone());
                self.studies.insert(study_id, entry);
                Applied::StudyCreated(study_id)
            }
            Operation::DeleteStudy { study_id } => {
                if let Some(entry) = self.studies.remove(study_id) {
                    self.names.remove(&entry.study.study_name);
                }
                Applied::Updated
            }
            Operation::SetStudyUserAttr { study_id, key, value } => {
                if let Some(e) = self.studies.get_mut(study_id) {
                    e.study.user_attrs.insert(key.clone(), value.clone());
                }
                Applied::Updated
            }
            Operation::SetStudySystemAttr { study_id, key, value } => {
                if let Some(e) = self.studies.get_mut(study_id) {
                    e.study.system_attrs.insert(key.clone(), value.clone());
                }
                Applied::Updated
            }
            Operation::CreateTrial { study_id, datetime_start, template } => {
                self.create_trial(*study_id, *datetime_start, template.as_deref())
            }
            Operation::SetTrialParam { trial_id, name, internal, distribution } => {
                let Some(external) = distribution.to_external(*internal) else {
                    return Applied::Updated; // unreachable: verdict() verified it
                };
                let (study_id, number) = {
                    let t = self.at(*trial_id as usize);
                    (t.study_id, t.number)
                };
                let Some(entry) = self.studies.get_mut(&study_id) else {
                    return Applied::Updated; // unreachable: verdict() verified it
                };
                let (name, distribution, interned) =
                    intern(&mut entry.param_reps, number, name, distribution);
                // Decoded by `at` above; `trial_mut` would borrow the studies too.
                let cell = self.trials[*trial_id as usize].get_mut();
                let trial = Arc::make_mut(cell.expect("`at` sets the cell"));
                trial.params.insert(Arc::clone(&name), external);
                entry.layouts.set(trial, name, distribution, interned);
                Applied::Updated
            }
            Operation::SetTrialStateValues { trial_id, state, values, datetime } => {
                let study_id = self.at(*trial_id as usize).study_id;
                if let Some(entry) = self.studies.get_mut(&study_id) {
                    if *state == TrialState::Waiting {
                        entry.waiting.insert(*trial_id);
                    } else {
                        entry.waiting.remove(trial_id);
                    }
                }
                let trial = self.trial_mut(*trial_id);
                if *state == TrialState::Running {
                    trial.datetime_start = *datetime;
                }
                if state.is_finished() {
                    trial.datetime_complete = *datetime;
                }
                trial.state = *state;
                if let Some(values) = values {
                    trial.values = Some(Values::from(&values[..]));
                }
                if state.is_finished() {
                    self.heartbeats.remove(trial_id);
                }
                Applied::Updated
            }
            Operation::SetTrialIntermediateValue { trial_id, step, value } => {
                self.trial_mut(*trial_id).intermediate_values.insert(step.clone(), *value);
                Applied::Updated
            }
            Operation::SetTrialUserAttr { trial_id, key, value } => {
                self.trial_mut(*trial_id).user_attrs.insert(key.clone(), value.clone());
                Applied::Updated
            }
            Operation::SetTrialSystemAttr { trial_id, key, value } => {
                self.trial_mut(*trial_id).system_attrs.insert(key.clone(), value.clone());
                Applied::Updated
            }
            Operation::TrialHeartbeat { trial_id, at } => {
                let beats = self
                    .heartbeats
                    .entry(*trial_id)
                    .or_insert(Heartbeats { latest: *at, count: 0 });
                beats.latest = beats.latest.max(*at);
                beats.count += 1;
                Applied::Updated
            }
            Operation::DiscardTrials { .. }
            | Operation::Ignorable { .. }
            | Operation::Unreplayable { .. } => Applied::Updated,
        }
    }

    /// Whether `op` would be applied now, and if not, the typed error that says why (trialog's
    /// write path never writes an operation replay would ignore, or one Optuna raises on).
    pub fn check(&self, op: &Operation) -> Result<()> {
        match self.verdict(op) {
            Verdict::Apply => Ok(()),
            Verdict::Ignore(e) => Err(e),
            Verdict::Fatal(reason) => Err(Error::invalid(reason)),
        }
    }

    /// What Optuna's replay does with `op` now, in Optuna's order of checks.
    fn verdict(&self, op: &Operation) -> Verdict {
        match self.verdict_inner(op) {
            Ok(None) => Verdict::Apply,
            Ok(Some(reason)) => Verdict::Fatal(reason),
            Err(e) => Verdict::Ignore(e),
        }
    }

    /// `Err` to ignore, `Ok(Some(why))` where Optuna raises, `Ok(None)` to apply.
    fn verdict_inner(&self, op: &Operation) -> Result<Option<String>> {
        match op {
            Operation::CreateStudy { study_name, .. } => {
                if self.names.contains_key(study_name) {
                    return Err(Error::DuplicateStudyName { name: study_name.clone() });
                }
            }
            Operation::DeleteStudy { study_id }
            | Operation::SetStudyUserAttr { study_id, .. }
            | Operation::SetStudySystemAttr { study_id, .. } => {
                self.study(*study_id)?;
            }
            Operation::CreateTrial { study_id, template, .. } => {
                self.study(*study_id)?;
                if let Some(t) = template {
                    for (name, (internal, dist)) in &t.params {
                        if let Err(why) = convertible(name, *internal, dist) {
                            return Ok(Some(why));
                        }
                    }
                }
            }
            Operation::SetTrialParam { trial_id, name, internal, distribution } => {
                let trial = self.updatable_trial(*trial_id)?;
                if let Some(rep) = self.studies[&trial.study_id].param_reps.get(name.as_str()) {
                    rep.distribution.check_compatible(name, distribution)?;
                }
                if let Err(why) = convertible(name, *internal, distribution) {
                    return Ok(Some(why));
                }
            }
            Operation::Unreplayable { target, reason, .. } => {
                match target {
                    Target::Study(id) => {
                        self.study(*id)?;
                    }
                    Target::Trial(id) => {
                        self.updatable_trial(*id)?;
                    }
                }
                return Ok(Some(reason.clone()));
            }
            Operation::SetTrialStateValues { trial_id, state, .. } => {
                let trial = self.updatable_trial(*trial_id)?;
                if *state == TrialState::Running && trial.state == TrialState::Running {
                    return Err(Error::TrialAlreadyClaimed { trial_id: *trial_id });
                }
            }
            Operation::SetTrialIntermediateValue { trial_id, .. }
            | Operation::SetTrialUserAttr { trial_id, .. }
            | Operation::SetTrialSystemAttr { trial_id, .. } => {
                self.updatable_trial(*trial_id)?;
            }
            Operation::TrialHeartbeat { trial_id, .. } => {
                let trial = self.updatable_trial(*trial_id)?;
                if trial.state != TrialState::Running {
                    return Err(Error::invalid(format_args!(
                        "trial {trial_id} is {}, not RUNNING: only a running trial takes \
                         heartbeats",
                        trial.state
                    )));
                }
            }
            Operation::DiscardTrials { .. } | Operation::Ignorable { .. } => {}
        }
        Ok(None)
    }

    fn create_trial(
        &mut self,
        study_id: u64,
        datetime_start: Option<Timestamp>,
        template: Option<&TrialTemplate>,
    ) -> Applied {
        let trial_id = self.trials.len() as u64;
        let Some(entry) = self.studies.get_mut(&study_id) else {
            return Applied::Updated; // unreachable: check() verified it
        };
        let number = entry.trial_ids.len() as u64;
        entry.trial_ids.push(trial_id);
        let mut trial = FrozenTrial::new(trial_id, number, study_id, TrialState::Running);
        trial.datetime_start = datetime_start;
        if let Some(t) = template {
            trial.state = t.state;
            if t.state == TrialState::Waiting {
                entry.waiting.insert(trial_id);
            }
            trial.values = t.values.as_deref().map(Values::from);
            trial.datetime_complete = t.datetime_complete;
            for (name, (internal, dist)) in &t.params {
                if let Some(external) = dist.to_external(*internal) {
                    let (name, dist, interned) = intern(&mut entry.param_reps, number, name, dist);
                    trial.params.insert(Arc::clone(&name), external);
                    entry.layouts.set(&mut trial, name, dist, interned);
                }
            }
            trial.user_attrs = t.user_attrs.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
            trial.system_attrs =
                t.system_attrs.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
            trial.intermediate_values =
                t.intermediate_values.iter().map(|(k, v)| (k.clone(), *v)).collect();
        }
        self.trials.push(TrialCell::from(Arc::new(trial)));
        Applied::TrialCreated(trial_id)
    }

    /// The trial that `op`, just applied with result `applied`, made RUNNING, if any.
    fn started(&self, op: &Operation, applied: Applied) -> Option<u64> {
        match (op, applied) {
            (Operation::CreateTrial { .. }, Applied::TrialCreated(id)) => {
                (self.at(id as usize).state == TrialState::Running).then_some(id)
            }
            (Operation::SetTrialStateValues { trial_id, state: TrialState::Running, .. }, _) => {
                Some(*trial_id)
            }
            _ => None,
        }
    }

    /// The trial with this id for mutation (copy-on-write if a reader still holds it).
    fn trial_mut(&mut self, trial_id: u64) -> &mut FrozenTrial {
        let i = trial_id as usize;
        self.at(i);
        Arc::make_mut(self.trials[i].get_mut().expect("`at` sets the cell"))
    }

    /// The trial with this id (which exists), decoded from the state's source first if it was
    /// not yet.
    fn at(&self, i: usize) -> &Arc<FrozenTrial> {
        let cell = &self.trials[i];
        match cell.get() {
            Some(trial) => trial,
            None => self.decode(i),
        }
    }

    /// Decodes the trials with ids in `ids` (sorted; `None`: every trial) not decoded yet, on
    /// several threads: what reading many costs (a lazily loaded state's trials are otherwise
    /// decoded a block at a time as they are read).
    fn decode_all(&self, ids: Option<&[u64]>) {
        let Some(source) = &self.source else { return };
        let unset = |id: u64| {
            usize::try_from(id)
                .ok()
                .and_then(|i| self.trials.get(i))
                .is_some_and(|c| c.get().is_none())
        };
        let wanted = |first: u64, count: u64| {
            let end = first.saturating_add(count);
            match ids {
                None => (first..end).any(unset),
                Some(ids) => {
                    let from = ids.partition_point(|&id| id < first);
                    ids[from..].iter().take_while(|&&id| id < end).any(|&id| unset(id))
                }
            }
        };
        source.load_all(&wanted, &mut |first, trials| {
            let first = usize::try_from(first).unwrap_or(usize::MAX);
            for (cell, trial) in self.trials.iter().skip(first).zip(trials) {
                let _ = cell.set(trial);
            }
        });
    }

    /// Fills the cell of trial `i` and the others of its block from the source.
    #[cold]
    fn decode(&self, i: usize) -> &Arc<FrozenTrial> {
        if let Some(source) = &self.source {
            let (first, trials) = source.load(i as u64);
            let first = usize::try_from(first).unwrap_or(usize::MAX);
            for (cell, trial) in self.trials.iter().skip(first).zip(trials) {
                let _ = cell.set(trial); // a cell already set keeps its trial
            }
        }
        // Only a source that broke its contract leaves it empty: an empty FAIL trial of no study
        // then (never a panic).
        self.trials[i]
            .get_or_init(|| Arc::new(FrozenTrial::new(i as u64, 0, u64::MAX, TrialState::Fail)))
    }

    fn updatable_trial(&self, trial_id: u64) -> Result<&FrozenTrial> {
        let trial = self.trial(trial_id)?;
        if trial.state.is_finished() {
            return Err(Error::TrialFinished {
                trial_id,
                number: trial.number,
                state: trial.state,
            });
        }
        Ok(trial)
    }

    // ---- queries ------------------------------------------------------------------------

    /// The live study with this id.
    pub fn study(&self, study_id: u64) -> Result<&FrozenStudy> {
        self.studies.get(&study_id).map(|e| &e.study).ok_or(Error::StudyNotFound { study_id })
    }

    /// The id of the live study with this name.
    pub fn study_id_by_name(&self, name: &str) -> Result<u64> {
        self.names.get(name).copied().ok_or_else(|| Error::StudyNameNotFound { name: name.into() })
    }

    /// Every live study, by id.
    pub fn studies(&self) -> impl Iterator<Item = &FrozenStudy> {
        self.studies.values().map(|e| &e.study)
    }

    /// The trial with this id, if its study is live.
    pub fn trial(&self, trial_id: u64) -> Result<&Arc<FrozenTrial>> {
        usize::try_from(trial_id)
            .ok()
            .filter(|&i| i < self.trials.len())
            .map(|i| self.at(i))
            .filter(|t| self.studies.contains_key(&t.study_id))
            .ok_or(Error::TrialNotFound { trial_id })
    }

    /// The trials of a live study, by number.
    pub fn trials_of(&self, study_id: u64) -> Result<impl Iterator<Item = &Arc<FrozenTrial>>> {
        let entry = self.live(study_id)?;
        if entry.trial_ids.len() > 1 {
            self.decode_all(Some(&entry.trial_ids));
        }
        self.trials_of_in_order(study_id)
    }

    /// The entry of a live study ([`Error::StudyNotFound`] for another id).
    fn live(&self, study_id: u64) -> Result<&StudyEntry> {
        self.studies.get(&study_id).ok_or(Error::StudyNotFound { study_id })
    }

    /// How many trials a live study has (none is decoded).
    pub fn study_trial_count(&self, study_id: u64) -> Result<usize> {
        let entry = self.live(study_id)?;
        Ok(entry.trial_ids.len())
    }

    /// The trials of a live study, by number, as [`trials_of`](Self::trials_of) gives them, but
    /// a lazily loaded state decodes each block of trials only when the iteration reaches it,
    /// on this thread: for a caller that works on the first trials while later ones are still
    /// to be decoded.
    pub fn trials_of_in_order(
        &self,
        study_id: u64,
    ) -> Result<impl Iterator<Item = &Arc<FrozenTrial>>> {
        let entry = self.live(study_id)?;
        Ok(entry.trial_ids.iter().map(|&id| self.at(id as usize)))
    }

    /// The WAITING trials of a live study, by number (O(WAITING trials)).
    pub fn waiting_trials_of(
        &self,
        study_id: u64,
    ) -> Result<impl Iterator<Item = &Arc<FrozenTrial>>> {
        let entry = self.live(study_id)?;
        Ok(entry.waiting.iter().map(|&id| self.at(id as usize)))
    }

    /// The id of trial number `number` of a live study.
    pub fn trial_id_by_number(&self, study_id: u64, number: u64) -> Result<u64> {
        let entry = self.live(study_id)?;
        usize::try_from(number)
            .ok()
            .and_then(|n| entry.trial_ids.get(n))
            .copied()
            .ok_or(Error::TrialNumberNotFound { study_id, number })
    }

    /// The distribution a new value of parameter `name` in this study must be compatible with.
    pub fn param_distribution(&self, study_id: u64, name: &str) -> Option<&Distribution> {
        self.studies.get(&study_id)?.param_reps.get(name).map(|rep| &*rep.distribution)
    }

    /// The latest heartbeat of a RUNNING trial, if it has had one.
    pub fn last_heartbeat(&self, trial_id: u64) -> Option<Timestamp> {
        self.heartbeats(trial_id).map(|h| h.latest)
    }

    /// The heartbeats of a RUNNING trial, if it has had one.
    pub fn heartbeats(&self, trial_id: u64) -> Option<Heartbeats> {
        self.heartbeats.get(&trial_id).copied()
    }

    /// The RUNNING trials of a live study that have had a heartbeat, with their heartbeats, in
    /// id (and so number) order. Costs O(trials with a heartbeat), not O(trials).
    pub fn trials_with_heartbeats(&self, study_id: u64) -> Result<Vec<(u64, Heartbeats)>> {
        self.study(study_id)?;
        let mut found: Vec<(u64, Heartbeats)> = self
            .heartbeats
            .iter()
            .filter(|(id, _)| {
                let t = self.at(**id as usize);
                t.study_id == study_id && t.state == TrialState::Running
            })
            .map(|(id, h)| (*id, *h))
            .collect();
        found.sort_unstable_by_key(|(id, _)| *id);
        Ok(found)
    }

    /// The wall-clock rule: the RUNNING trials of a live study whose latest heartbeat is older
    /// than `grace_period` at `now`, in id (and so number) order. Only right when the clocks of
    /// the hosts that wrote the heartbeats agree with the clock `now` comes from (storage handles
    /// use a rule that needs no such agreement, see `JournalStorage::fail_stale_trials`). Trials
    /// that never had a heartbeat (for example those of workers that send none, such as Python
    /// Optuna's) are never stale. Costs O(trials with a heartbeat), not O(trials).
    pub fn stale_trial_ids(
        &self,
        study_id: u64,
        now: Timestamp,
        grace_period: std::time::Duration,
    ) -> Result<Vec<u64>> {
        self.study(study_id)?;
        let grace = i64::try_from(grace_period.as_micros()).unwrap_or(i64::MAX);
        let mut stale: Vec<u64> = self
            .heartbeats
            .iter()
            .filter(|(_, h)| now.as_micros().saturating_sub(h.latest.as_micros()) > grace)
            .map(|(id, _)| *id)
            .filter(|id| {
                let t = self.at(*id as usize);
                t.study_id == study_id && t.state == TrialState::Running
            })
            .collect();
        stale.sort_unstable();
        Ok(stale)
    }

    /// The worker id (the `worker_id` of the batch) that last made this trial RUNNING, by
    /// creating it RUNNING or by claiming it from WAITING; `None` for a trial that never ran or
    /// whose start came through [`ReplayState::apply`] (no batch, so no worker). In trialog's
    /// and Optuna's journals a worker id names one storage handle on one thread.
    pub fn trial_worker(&self, trial_id: u64) -> Option<&str> {
        self.runners.of(trial_id).map(|w| &**w)
    }

    /// The trial with this id, also if its study was deleted.
    pub(crate) fn any_trial(&self, trial_id: u64) -> Option<&Arc<FrozenTrial>> {
        let i = usize::try_from(trial_id).ok().filter(|&i| i < self.trials.len())?;
        Some(self.at(i))
    }

    /// How many trials were ever created (the next trial id).
    pub fn trial_count(&self) -> u64 {
        self.trials.len() as u64
    }
}

/// A state's contents as a snapshot stores them (`src/snapshot/`), borrowed: what replay cannot
/// derive again from the trials themselves.
#[derive(Debug)]
pub(crate) struct Parts<'a> {
    /// The next study id (study ids are never reused).
    pub next_study_id: u64,
    /// The live studies, by id.
    pub studies: Vec<&'a FrozenStudy>,
    /// How many trials were ever created (see [`Parts::trials`]).
    pub trial_count: usize,
    /// The state itself, for its trials.
    state: &'a ReplayState,
    /// The heartbeats of RUNNING trials, by trial id.
    pub heartbeats: Vec<(u64, Heartbeats)>,
    /// The distinct worker ids that made trials RUNNING.
    pub workers: &'a [Arc<str>],
    /// For each trial id, its index in `workers` (`u32::MAX`: none; shorter than `trials` when
    /// the last trials have none).
    pub runners: &'a [u32],
    /// Replay's counters.
    pub stats: ReplayStats,
    /// Each live study's parameters, each with the number of the first trial that had it and
    /// that trial's distribution of it (what replay checks new values against), ordered by
    /// study, number and name.
    pub param_reps: Vec<(u64, &'a str, u64, &'a Distribution)>,
}

impl ReplayState {
    /// What a snapshot must store to rebuild this state with [`Restore`].
    pub(crate) fn parts(&self) -> Parts<'_> {
        let mut heartbeats: Vec<(u64, Heartbeats)> =
            self.heartbeats.iter().map(|(id, h)| (*id, *h)).collect();
        heartbeats.sort_unstable_by_key(|(id, _)| *id);
        Parts {
            next_study_id: self.next_study_id,
            studies: self.studies.values().map(|e| &e.study).collect(),
            trial_count: self.trials.len(),
            state: self,
            heartbeats,
            workers: &self.runners.names,
            runners: &self.runners.by_trial,
            stats: self.stats,
            param_reps: {
                let mut reps: Vec<(u64, &str, u64, &Distribution)> = self
                    .studies
                    .iter()
                    .flat_map(|(id, e)| {
                        e.param_reps
                            .iter()
                            .map(|(name, rep)| (*id, &**name, rep.number, &*rep.distribution))
                    })
                    .collect();
                reps.sort_unstable_by(|a, b| (a.0, a.2, a.1).cmp(&(b.0, b.2, b.1)));
                reps
            },
        }
    }
}

impl<'a> Parts<'a> {
    /// Every trial ever created, by id (those of deleted studies too), decoded.
    pub fn trials(&self) -> Vec<&'a Arc<FrozenTrial>> {
        let state = self.state;
        state.decode_all(None);
        (0..state.trials.len()).map(|i| state.at(i)).collect()
    }

    /// Trials `range` (ids), decoded (only those not decoded yet, and only their blocks).
    pub fn trials_in(&self, range: std::ops::Range<u64>) -> Vec<&'a Arc<FrozenTrial>> {
        let state = self.state;
        let ids: Vec<u64> = range.clone().collect();
        state.decode_all(Some(&ids));
        ids.iter().map(|&i| state.at(i as usize)).collect()
    }

    /// The trials of block `first..first + count` as the state's source holds them, if none of
    /// them was decoded (so none changed since the source was loaded) and the source has them
    /// as one block of exactly these trials: its bytes and each trial's (study id, state code).
    pub fn undecoded_block(&self, first: u64, count: u64) -> Option<RawBlock<'a>> {
        let state = self.state;
        let source = state.source.as_ref()?;
        let range = usize::try_from(first).ok()?..usize::try_from(first + count).ok()?;
        if state.trials.get(range)?.iter().any(|c| c.get().is_some()) {
            return None;
        }
        source.raw_block(first, count)
    }
}

/// Rebuilds a state from a snapshot's records (its restore rules, `docs/FORMAT.md`), without
/// replay's checks: the records were taken from a replayed state. Every inconsistency a damaged
/// or foreign record could cause is an `Err` with the reason, never a panic or a wrong index.
#[derive(Debug)]
pub(crate) struct Restore {
    state: ReplayState,
    /// The ids the next restored studies get, in order.
    study_ids: std::vec::IntoIter<u64>,
    /// Trial counts of deleted studies (their trials keep their numbers, hidden).
    dead_numbers: HashMap<u64, u64>,
    /// The states of the trials added with [`Restore::push_undecoded`], by trial id.
    undecoded_states: Vec<TrialState>,
}

impl Restore {
    /// Starts a state with these id counters and replay counters.
    /// `trials` (the count the tables promise; at most a capacity hint) is reserved up front so
    /// the trial table is not copied while it grows.
    pub(crate) fn new(
        next_study_id: u64,
        study_ids: Vec<u64>,
        stats: ReplayStats,
        trials: u64,
    ) -> Self {
        let mut state = ReplayState { next_study_id, stats, ..ReplayState::default() };
        state.trials.reserve(usize::try_from(trials).unwrap_or(0).min(1 << 22));
        Restore {
            state,
            study_ids: study_ids.into_iter(),
            dead_numbers: HashMap::new(),
            undecoded_states: Vec::new(),
        }
    }

    /// Applies one study record: a live study (code 0) and its attributes (2, 3). Trials come
    /// through [`Restore::push_trial`].
    pub(crate) fn apply(&mut self, op: Operation) -> std::result::Result<(), String> {
        let s = &mut self.state;
        match op {
            Operation::CreateStudy { study_name, directions } => {
                let study_id = self.study_ids.next().ok_or("more studies than study ids")?;
                let last = s.studies.keys().next_back();
                if study_id >= s.next_study_id || last.is_some_and(|l| *l >= study_id) {
                    return Err(format!("study id {study_id} out of order or range"));
                }
                if s.names.insert(study_name.clone(), study_id).is_some() {
                    return Err(format!("study name {study_name:?} twice"));
                }
                let entry = StudyEntry::new(study_id, study_name, directions);
                s.studies.insert(study_id, entry);
            }
            Operation::SetStudyUserAttr { study_id, key, value } => {
                let entry = s.studies.get_mut(&study_id).ok_or("attribute of an unknown study")?;
                entry.study.user_attrs.insert(key, value);
            }
            Operation::SetStudySystemAttr { study_id, key, value } => {
                let entry = s.studies.get_mut(&study_id).ok_or("attribute of an unknown study")?;
                entry.study.system_attrs.insert(key, value);
            }
            other => return Err(format!("operation code {} in a snapshot", other.code())),
        }
        Ok(())
    }

    /// Adds the next trial of a snapshot (its content built by the caller from its record): it
    /// gets the next trial id and the next number of its study (its `trial_id` and `number` are
    /// replaced; `trial` is not shared yet, so that costs no copy). `new_layout` is false only
    /// if an earlier trial of its study holds the same distribution map: only the first trial
    /// with a map offers its parameters as the study's representatives (the earlier,
    /// lower-numbered trial offered a reused map's). Decoders on several threads keep that rule
    /// each for the trials they decode, which keeps it overall, as trials are added in order.
    pub(crate) fn push_trial(
        &mut self,
        mut shared: Arc<FrozenTrial>,
        new_layout: bool,
    ) -> std::result::Result<(), String> {
        let trial = Arc::make_mut(&mut shared);
        let (trial_id, number) = self.place(trial.study_id, trial.state)?;
        trial.trial_id = trial_id;
        trial.number = number;
        if new_layout {
            if let Some(e) = self.state.studies.get_mut(&trial.study_id) {
                for (name, dist) in trial.distributions.iter() {
                    if !e.param_reps.contains_key(name) {
                        let rep = ParamRep { number, distribution: Arc::clone(dist) };
                        e.param_reps.insert(Arc::clone(name), rep);
                    }
                }
            }
        }
        self.state.trials.push(TrialCell::from(shared));
        Ok(())
    }

    /// Adds the next trial of a lazily loaded snapshot without its content: only its study and
    /// state (from the snapshot's index), which place it as [`Restore::push_trial`] does. Returns
    /// its number. Its content comes from the source given to [`Restore::finish_lazy`].
    pub(crate) fn push_undecoded(
        &mut self,
        study_id: u64,
        state: TrialState,
    ) -> std::result::Result<u64, String> {
        let (_, number) = self.place(study_id, state)?;
        self.state.trials.push(TrialCell::new());
        self.undecoded_states.push(state);
        Ok(number)
    }

    /// The id and number the next trial (of `study_id`, in `state`) gets, entered in its live
    /// study's trial list (and WAITING trials); a deleted study's trial is hidden for good (study
    /// ids are never reused) but numbered, so that the trial ids count.
    fn place(
        &mut self,
        study_id: u64,
        state: TrialState,
    ) -> std::result::Result<(u64, u64), String> {
        let s = &mut self.state;
        if study_id >= s.next_study_id {
            return Err(format!("trial of study {study_id}, past the study ids"));
        }
        let trial_id = s.trials.len() as u64;
        let number = match s.studies.get_mut(&study_id) {
            Some(e) => {
                e.trial_ids.push(trial_id);
                if state == TrialState::Waiting {
                    e.waiting.insert(trial_id);
                }
                e.trial_ids.len() as u64 - 1
            }
            None => {
                let next = self.dead_numbers.entry(study_id).or_insert(0);
                *next += 1;
                *next - 1
            }
        };
        Ok((trial_id, number))
    }

    /// Records that parameter `name` of a live study was first set in its trial number
    /// `number`, with `distribution` (what replay checks a new value against): a lazily loaded
    /// snapshot lists these, since its trials are not decoded to find them.
    pub(crate) fn param_rep(
        &mut self,
        study_id: u64,
        name: &str,
        number: u64,
        distribution: Distribution,
    ) -> std::result::Result<(), String> {
        let entry = self.state.studies.get_mut(&study_id).ok_or("parameter of an unknown study")?;
        if number >= entry.trial_ids.len() as u64 {
            return Err(format!("parameter {name:?} of trial number {number}, past the trials"));
        }
        let rep = ParamRep { number, distribution: Arc::new(distribution) };
        if entry.param_reps.insert(Arc::from(name), rep).is_some() {
            return Err(format!("parameter {name:?} twice"));
        }
        Ok(())
    }

    /// [`Restore::finish`] of a state whose trials were added with [`Restore::push_undecoded`]:
    /// they are decoded from `source` when first read.
    pub(crate) fn finish_lazy(
        mut self,
        source: Arc<dyn TrialSource>,
        trials: u64,
        heartbeats: Vec<(u64, Heartbeats)>,
        workers: Vec<String>,
        runs: Vec<(u64, u64, u32)>,
    ) -> std::result::Result<ReplayState, String> {
        self.state.source = Some(source);
        self.finish(trials, heartbeats, workers, runs)
    }

    /// Ends the restore: checks the counts the tables promised and adds heartbeats and the
    /// workers that ran each trial (`runs`: first trial id, count, index into `workers`).
    pub(crate) fn finish(
        mut self,
        trials: u64,
        heartbeats: Vec<(u64, Heartbeats)>,
        workers: Vec<String>,
        runs: Vec<(u64, u64, u32)>,
    ) -> std::result::Result<ReplayState, String> {
        let s = &mut self.state;
        if self.study_ids.next().is_some() {
            return Err("fewer studies than study ids".into());
        }
        if s.trials.len() as u64 != trials {
            return Err(format!("{} trials, the tables say {trials}", s.trials.len()));
        }
        for (trial_id, beats) in heartbeats {
            let at = usize::try_from(trial_id).unwrap_or(usize::MAX);
            let state = match s.trials.get(at).and_then(OnceLock::get) {
                Some(t) => Some(t.state),
                None => self.undecoded_states.get(at).copied(),
            };
            match state {
                Some(TrialState::Running) => {
                    s.heartbeats.insert(trial_id, beats);
                }
                _ => return Err(format!("heartbeat of trial {trial_id}, not RUNNING")),
            }
        }
        let names: Vec<Arc<str>> = workers.iter().map(|w| Arc::from(w.as_str())).collect();
        s.runners.index = names.iter().zip(0u32..).map(|(n, i)| (Arc::clone(n), i)).collect();
        if s.runners.index.len() != names.len() {
            return Err("a worker id twice".into());
        }
        s.runners.names = names;
        for (first, count, worker) in runs {
            let end = first.checked_add(count).filter(|end| *end <= trials && count > 0);
            let (Some(end), true) = (end, (worker as usize) < s.runners.names.len()) else {
                return Err(format!("worker run at trial {first} out of range"));
            };
            if (first as usize) < s.runners.by_trial.len() {
                return Err("worker runs out of order".into());
            }
            s.runners.by_trial.resize(first as usize, u32::MAX);
            s.runners.by_trial.resize(end as usize, worker);
        }
        Ok(self.state)
    }
}

/// Returns the study's shared name and (if equal) shared distribution for a parameter of trial
/// `number`, and makes that trial the representative if it is the lowest-numbered one so far.
/// The flag says whether the distribution returned is the one the representative holds now.
fn intern(
    reps: &mut HashMap<Arc<str>, ParamRep>,
    number: u64,
    name: &str,
    dist: &Distribution,
) -> (Arc<str>, Arc<Distribution>, bool) {
    if let Some((key, rep)) = reps.get_key_value(name) {
        let key = Arc::clone(key);
        let equal = *rep.distribution == *dist;
        let shared = if equal { Arc::clone(&rep.distribution) } else { Arc::new(dist.clone()) };
        if number < rep.number {
            reps.insert(Arc::clone(&key), ParamRep { number, distribution: Arc::clone(&shared) });
            return (key, shared, true);
        }
        return (key, shared, equal);
    }
    let key: Arc<str> = Arc::from(name);
    let shared = Arc::new(dist.clone());
    reps.insert(Arc::clone(&key), ParamRep { number, distribution: Arc::clone(&shared) });
    (key, shared, true)
}

/// Optuna's `to_external_repr`, or why it raises.
fn convertible(
    name: &str,
    internal: f64,
    dist: &Distribution,
) -> std::result::Result<ParamValue, String> {
    dist.to_external(internal).ok_or_else(|| {
        format!(
            "parameter {name:?}: internal value {internal:?} does not represent a value of its {} \
             (Optuna's to_external_repr raises)",
            dist.kind_name()
        )
    })
}

/// What replay does with one operation.
enum Verdict {
    /// Apply it.
    Apply,
    /// Ignore it (Optuna's rule for invalid operations of other workers), for this reason.
    Ignore(Error),
    /// Optuna's replay raises on it.
    Fatal(String),
}

/// An operation Optuna's replay raises on, so neither Optuna nor trialog can replay the journal
/// past it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unreplayable {
    /// Its index in the batch.
    pub index: usize,
    /// Why Optuna raises.
    pub reason: String,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::StudyDirection;

    fn batch(ops: Vec<Operation>) -> LogBatch {
        LogBatch { worker_id: "w".into(), ops }
    }

    #[test]
    fn each_trial_remembers_the_worker_that_made_it_running() {
        let on = |worker: &str, ops| LogBatch { worker_id: worker.into(), ops };
        let create =
            |template| Operation::CreateTrial { study_id: 0, datetime_start: None, template };
        let waiting = TrialTemplate {
            state: TrialState::Waiting,
            values: None,
            datetime_complete: None,
            params: crate::model::ListMap::new(),
            user_attrs: BTreeMap::new(),
            system_attrs: BTreeMap::new(),
            intermediate_values: BTreeMap::new(),
        };
        let claim = |trial_id| Operation::SetTrialStateValues {
            trial_id,
            state: TrialState::Running,
            values: None,
            datetime: None,
        };
        let mut s = ReplayState::new();
        let study = Operation::CreateStudy {
            study_name: "s".into(),
            directions: vec![StudyDirection::Minimize],
        };
        s.replay_batch(&on("a", vec![study, create(None)])).unwrap(); // trial 0, run by a
        s.replay_batch(&on("b", vec![create(None)])).unwrap(); // trial 1, run by b
        s.replay_batch(&on("a", vec![create(Some(Box::new(waiting)))])).unwrap(); // trial 2
        assert_eq!((s.trial_worker(0), s.trial_worker(1)), (Some("a"), Some("b")));
        assert_eq!(s.trial_worker(2), None, "an enqueued trial has not run");
        s.replay_batch(&on("c", vec![claim(2)])).unwrap();
        assert_eq!(s.trial_worker(2), Some("c"), "the claimer runs it, not the enqueuer");
        // A second claim of a RUNNING trial loses (Optuna's rule) and changes nothing.
        s.replay_batch(&on("d", vec![claim(2)])).unwrap();
        assert_eq!(s.trial_worker(2), Some("c"));
        // Outside a batch the worker is unknown.
        s.apply(&create(None)).unwrap();
        assert_eq!((s.trial_worker(3), s.trial_worker(99)), (None, None));
        assert_eq!(s.runners.names.len(), 3, "each worker id is held once");
    }

    #[test]
    fn trials_share_their_distribution_maps_and_empty_attributes() {
        use crate::model::Shared;
        let mut s = ReplayState::new();
        let study = Operation::CreateStudy {
            study_name: "s".into(),
            directions: vec![StudyDirection::Minimize],
        };
        s.replay_batch(&batch(vec![study])).unwrap();
        let wide = Distribution::float(-10.0, 10.0, false, None).unwrap();
        let narrow = Distribution::float(-1.0, 1.0, false, None).unwrap();
        let param = |trial_id, name: &str, d: &Distribution| Operation::SetTrialParam {
            trial_id,
            name: name.into(),
            internal: 0.5,
            distribution: d.clone(),
        };
        for trial_id in 0..50 {
            let create =
                Operation::CreateTrial { study_id: 0, datetime_start: None, template: None };
            // Trial 7 has a compatible but different distribution for x (its own map).
            let x = if trial_id == 7 { &narrow } else { &wide };
            let ops = vec![create, param(trial_id, "x", x), param(trial_id, "y", &wide)];
            s.replay_batch(&batch(ops)).unwrap();
        }
        let t = |id| s.trial(id).unwrap();
        for id in (1..50).filter(|id| *id != 7) {
            assert!(Shared::ptr_eq(&t(0).distributions, &t(id).distributions), "trial {id}");
            assert!(Shared::ptr_eq(&t(0).user_attrs, &t(id).system_attrs));
        }
        assert!(!Shared::ptr_eq(&t(0).distributions, &t(7).distributions));
        assert_eq!(*t(7).distributions["x"], narrow);
        assert_eq!(*t(7).distributions["y"], wide);
        assert_eq!((&*t(0).distributions["x"], &*t(0).distributions["y"]), (&wide, &wide));
        // Between them the trials hold a handful of maps: {x}, {x, y} and trial 7's.
        assert_eq!(s.studies[&0].layouts.members.len(), 2);
        // A change to one trial's attributes is its own.
        s.replay_batch(&batch(vec![Operation::SetTrialUserAttr {
            trial_id: 3,
            key: "k".into(),
            value: 1i64.into(),
        }]))
        .unwrap();
        let t = |id| s.trial(id).unwrap();
        assert_eq!(t(3).user_attrs.len(), 1);
        assert!(t(4).user_attrs.is_empty() && t(3).system_attrs.is_empty());
    }

    #[test]
    fn what_optuna_raises_on_stops_replay_only_where_the_target_lives() {
        let mut s = ReplayState::new();
        let setup = batch(vec![
            Operation::CreateStudy {
                study_name: "s".into(),
                directions: vec![StudyDirection::Minimize],
            },
            Operation::CreateTrial {
                study_id: 0,
                datetime_start: Some(Timestamp(0)),
                template: None,
            },
        ]);
        s.replay_batch(&setup).unwrap();
        let bad = |target| Operation::Unreplayable { code: 5, target, reason: "bad field".into() };
        // Gone targets: ignored, as Optuna ignores them without reading the fields.
        for target in [Target::Trial(7), Target::Study(3)] {
            assert_eq!(s.replay_batch(&batch(vec![bad(target)])), Ok(Applied::Updated));
        }
        assert_eq!(s.stats().ignored, 2);
        // A live target: Optuna raises.
        let err = s.replay_batch(&batch(vec![bad(Target::Trial(0))])).unwrap_err();
        assert_eq!(err, Unreplayable { index: 0, reason: "bad field".into() });
        // A categorical index out of range for a live trial: to_external_repr raises.
        let c = Distribution::categorical(vec![ParamValue::Int(1)]).unwrap();
        let op = Operation::SetTrialParam {
            trial_id: 0,
            name: "c".into(),
            internal: 4.0,
            distribution: c,
        };
        assert!(s.replay_batch(&batch(vec![op.clone()])).is_err());
        assert!(matches!(s.check(&op), Err(Error::InvalidArgument(_))));
        // apply_batch (tools that only count) ignores both.
        assert_eq!(s.apply_batch(&batch(vec![op, bad(Target::Trial(0))])), Applied::Updated);
        assert!(s.trial(0).unwrap().params.is_empty());
    }
}
