//! `JournalStorage`: the [`Storage`] API over any [`LogBackend`].
//!
//! Write path (every mutating call): the call becomes an [`Intent`] (data), queued with the
//! intents of the handle's other threads; one caller leads each group (`write.rs`): it takes the
//! backend's write lock, then the writers' state, reads what other writers appended, validates
//! and applies each intent in order ([`ReplayState::check`]), writes the group's frames in one
//! write, syncs once, and answers everyone. An invalid intent gets its typed error and writes
//! nothing; the others of its group go on.
//!
//! Read path: read only the bytes appended since the last call (never the whole log), apply
//! them, answer. Readers never take the backend's write lock and never wait for a writer's lock
//! wait or `fdatasync`: they read a second state, the *committed* one, which holds only what is
//! durable (see `docs/FORMAT.md`, "Group commit and what readers see").

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, TryLockError};
use std::time::{Duration, Instant};

use crate::backend::{FileBackend, FileOptions, LogBackend};
use crate::error::{Error, Result};
use crate::journal::{Operation, TrialTemplate};
use crate::model::{
    AttrValue, Distribution, FrozenStudy, FrozenTrial, Integer, ListMap, ParamValue,
    StudyDirection, Timestamp, TrialState, VecMap,
};
use crate::replay::{Applied, ReplayState};

use super::group::WriteQueue;
use super::staleness::HeartbeatWatch;
use super::{HeartbeatOptions, Storage};

mod write;

use write::{Intent, Written};

/// Trials per batch of [`JournalStorage::get_all_trials_batched`]: a snapshot's block of trials.
const TRIALS_PER_BATCH: usize = 4096;

/// The error for an operation Optuna's replay raises on (so Optuna cannot open the journal past
/// it either): corruption at the batch's position (a byte offset, or a Redis log key), saying why.
fn unreplayable<B: LogBackend>(backend: &B, at: u64, u: crate::replay::Unreplayable) -> Error {
    backend.corrupt_at(at, format!("Optuna's replay raises on this operation: {}", u.reason))
}

/// Refuses an attribute value nested deeper than the journal accepts.
fn check_attr(key: &str, value: &AttrValue) -> Result<()> {
    if value.depth() > crate::model::MAX_ATTR_DEPTH {
        return Err(Error::invalid(format_args!(
            "attribute {key:?} is nested {} levels deep; at most {} are allowed",
            value.depth(),
            crate::model::MAX_ATTR_DEPTH
        )));
    }
    Ok(())
}

/// A storage handle over one journal. `Send + Sync`; every method takes `&self`.
///
/// Each thread using a handle is a distinct *worker* (id `<handle uuid>-<thread number>`), as in
/// Optuna. Returned trials are immutable snapshots (`Arc<FrozenTrial>`): later writes never change
/// a value already returned.
#[derive(Debug)]
pub struct JournalStorage<B: LogBackend = FileBackend> {
    backend: B,
    worker_prefix: String,
    heartbeat: Option<HeartbeatOptions>,
    /// What readers see: the log up to a position whose every byte is durable.
    committed: Mutex<Committed>,
    /// What writers validate against: the committed state plus the group being written. Only
    /// the leader of a group touches it, holding the backend's write lock. `None` until the
    /// first write (a copy of the committed state, sharing its trials), and after a failed
    /// write (the group's operations were applied but not written).
    working: Mutex<Option<Inner>>,
    /// Writers waiting for their group (see `group.rs`).
    queue: WriteQueue<Intent, Result<Written>>,
    /// How far this handle's wall clock is set off the host's, in microseconds (only ever
    /// non-zero in simulations of hosts whose clocks disagree, see `with_clock_offset`).
    clock_offset_micros: i64,
    /// What this handle saw of other workers' heartbeats (taken after `committed` or `working`,
    /// never before).
    watch: Mutex<HeartbeatWatch>,
    /// The snapshot the open started from and the ones writes take (`src/snapshot/`).
    snapshots: super::snapshots::Snapshots,
}

#[derive(Debug, Default, Clone)]
struct Inner {
    state: ReplayState,
    /// Backend position up to which `state` has applied the log.
    pos: u64,
    /// How many compactions of the journal this handle had followed when `pos` was set:
    /// positions of different generations are offsets in different files
    /// ([`LogBackend::follow_compaction`]).
    generation: u64,
}

#[derive(Debug, Default)]
struct Committed {
    log: Inner,
    /// A group of this handle is being written and synced: every byte of the log past
    /// `log.pos` is ours and not yet durable (we hold the write lock, so nobody else appends),
    /// and readers must not read it.
    in_flight: bool,
}

// `JournalStorage` is shared across threads by reference: prove it at compile time.
const _: () = {
    const fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<JournalStorage<FileBackend>>();
    assert_send_sync::<JournalStorage<crate::backend::MemoryBackend>>();
    assert_send_sync::<JournalStorage<crate::backend::OptunaJournalFile>>();
    #[cfg(feature = "redis")]
    assert_send_sync::<JournalStorage<crate::backend::RedisBackend>>();
};

static NEXT_THREAD_NUMBER: AtomicU64 = AtomicU64::new(0);

thread_local! {
    static THREAD_NUMBER: u64 = NEXT_THREAD_NUMBER.fetch_add(1, Ordering::Relaxed);
}

impl JournalStorage<FileBackend> {
    /// Opens (creating if needed) the journal file at `path` with the default advisory lock,
    /// and replays it.
    pub fn open(path: impl AsRef<Path>) -> Result<Self> {
        Self::new(FileBackend::open(path)?)
    }

    /// Opens the journal file at `path` with `options`, and replays it.
    pub fn open_with(path: impl AsRef<Path>, options: &FileOptions) -> Result<Self> {
        Self::new(FileBackend::open_with(path, options)?)
    }
}

impl JournalStorage<crate::backend::OptunaJournalFile> {
    /// Opens (creating if needed) the Optuna JSON-lines journal at `path` with Optuna's symlink
    /// lock, and replays it. Python Optuna processes may use the same file at the same time.
    pub fn open_optuna(path: impl AsRef<Path>) -> Result<Self> {
        Self::new(crate::backend::OptunaJournalFile::open(path)?)
    }

    /// Opens the Optuna JSON-lines journal at `path` with `options`, and replays it.
    pub fn open_optuna_with(
        path: impl AsRef<Path>,
        options: &crate::backend::OptunaFileOptions,
    ) -> Result<Self> {
        Self::new(crate::backend::OptunaJournalFile::open_with(path, options)?)
    }
}

#[cfg(feature = "redis")]
impl JournalStorage<crate::backend::RedisBackend> {
    /// Opens the journal on the Redis server at `url`
    /// (`redis://host:port/db?prefix=NAME`, see [`RedisBackend::open`]) in Optuna's
    /// `JournalRedisBackend` key layout, and replays it. Python Optuna processes may use the same
    /// prefix at the same time.
    ///
    /// [`RedisBackend::open`]: crate::backend::RedisBackend::open
    pub fn open_url(url: &str) -> Result<Self> {
        Self::new(crate::backend::RedisBackend::open(url)?)
    }
}

impl<B: LogBackend> JournalStorage<B> {
    /// A storage over `backend`, replayed up to the backend's current end.
    pub fn new(backend: B) -> Result<Self> {
        let mut snapshots = super::snapshots::Snapshots::new(&backend);
        let log = match snapshots.load() {
            Some((state, pos)) => Inner { state, pos, generation: 0 },
            None => Inner::default(),
        };
        let storage = JournalStorage {
            backend,
            worker_prefix: format!("{}-", uuid::Uuid::new_v4()),
            heartbeat: None,
            committed: Mutex::new(Committed { log, in_flight: false }),
            working: Mutex::new(None),
            queue: WriteQueue::default(),
            clock_offset_micros: 0,
            watch: Mutex::default(),
            snapshots,
        };
        storage.sync()?;
        Ok(storage)
    }

    /// Sets how many bytes of log past the newest snapshot make a write of this handle take a
    /// new one in the background (default [`crate::snapshot::AUTO_THRESHOLD_BYTES`];
    /// `u64::MAX`: never). Only file journals take snapshots.
    pub fn with_snapshot_threshold(mut self, bytes: u64) -> Self {
        self.snapshots.set_threshold(bytes);
        self
    }

    /// The journal position this handle's open started replaying from, when it started from a
    /// valid snapshot (`None`: it replayed the whole log).
    pub fn opened_from_snapshot(&self) -> Option<u64> {
        self.snapshots.opened_at()
    }

    /// Takes a snapshot of the state synced to the current end of the log now (`trialog
    /// snapshot`), durably, in place of the old one. `Ok(None)` for logs that take no snapshots
    /// (memory, Redis, a file in a non-default recovery mode). Holds no lock while it writes.
    pub fn take_snapshot(&self) -> Result<Option<crate::snapshot::Taken>> {
        let (state, pos, file) = {
            let committed = self.synced()?;
            (committed.log.state.clone(), committed.log.pos, self.backend.snapshot_file())
        };
        self.snapshots.take(&state, pos, file)
    }

    /// After a write: starts a background snapshot if the log grew past the threshold since the
    /// newest one. Copies the committed state (sharing its trials) under the handle's state
    /// lock only; the writers' lock is not held.
    pub(super) fn snapshot_if_due(&self) {
        let pos = self.committed().log.pos;
        if !self.snapshots.due(pos) {
            return;
        }
        let (state, pos, file) = {
            let committed = self.committed();
            if committed.in_flight {
                return; // the next group's leader comes back here
            }
            // The file the state's position is an offset in, taken under the same lock as the
            // state (a compaction that is followed later must not move the snapshot's anchor).
            (committed.log.state.clone(), committed.log.pos, self.backend.snapshot_file())
        };
        self.snapshots.start(state, pos, file);
    }

    /// The backend.
    pub fn backend(&self) -> &B {
        &self.backend
    }

    /// Sets this handle's wall clock `offset_micros` off the host's (positive: ahead), for
    /// simulations of workers on hosts whose clocks disagree: every time it writes (trial
    /// datetimes, heartbeats) and the wall clock its staleness fallback reads are shifted. Only
    /// with the cargo feature `fault-injection`.
    #[cfg(feature = "fault-injection")]
    pub fn with_clock_offset(mut self, offset_micros: i64) -> Self {
        self.clock_offset_micros = offset_micros;
        self
    }

    /// This handle's wall clock (the host's, unless a simulation set it off).
    fn now(&self) -> Timestamp {
        Timestamp(Timestamp::now().0.saturating_add(self.clock_offset_micros))
    }

    fn watch(&self) -> MutexGuard<'_, HeartbeatWatch> {
        self.watch.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// What this handle's recovery mode made replay leave out so far (skipped regions, where
    /// point-in-time replay stopped); empty in the default mode, which errors instead.
    pub fn recovery_report(&self) -> crate::backend::RecoveryReport {
        self.backend.recovery_report()
    }

    /// For each trial of the study that has run, the worker id of the batch that made it
    /// RUNNING (see [`ReplayState::trial_worker`]), as `(trial_id, worker)` in trial order.
    pub fn trial_workers(&self, study_id: u64) -> Result<Vec<(u64, String)>> {
        self.read(|state| {
            Ok(state
                .trials_of(study_id)?
                .filter_map(|t| Some((t.trial_id, state.trial_worker(t.trial_id)?.to_owned())))
                .collect())
        })
    }

    /// This thread's worker id on this handle.
    pub fn worker_id(&self) -> String {
        THREAD_NUMBER.with(|n| format!("{}{n}", self.worker_prefix))
    }

    fn committed(&self) -> MutexGuard<'_, Committed> {
        // Only mutated by whole-operation applies that cannot panic halfway through in a way
        // that breaks invariants the next sync relies on; recover from poisoning.
        self.committed.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Reads and applies to `inner` (the committed state) what the log holds past its
    /// position, following the journal into its compacted successor if it was replaced by one.
    fn sync_into(&self, inner: &mut Inner) -> Result<()> {
        loop {
            let Inner { state, pos, .. } = inner;
            *pos = self.backend.read_from(*pos, &mut |at, batch| {
                state.replay_batch(batch).map_err(|u| unreplayable(&self.backend, at, u))?;
                Ok(())
            })?;
            match self.backend.follow_compaction(*pos)? {
                Some(how) => self.followed(inner, how),
                None => return Ok(()),
            }
        }
    }

    /// The committed state `log`, read to the end of a journal that compactions replaced,
    /// goes on in the new journal: at a position with the same state, or from its start with a
    /// fresh state that the replay then extends past the old one.
    fn followed(&self, log: &mut Inner, how: crate::backend::Followed) {
        let generation = log.generation + 1;
        match how {
            crate::backend::Followed::At(pos) => {
                log.pos = pos;
                log.generation = generation;
            }
            crate::backend::Followed::FromStart => {
                *log = Inner { state: ReplayState::new(), pos: 0, generation };
            }
        }
        self.snapshots.followed(log.pos);
    }

    /// The committed state, synced with what other writers appended (unless a group of ours is
    /// being synced: then the log past it is ours and not durable yet, and nobody else can have
    /// appended).
    fn synced(&self) -> Result<MutexGuard<'_, Committed>> {
        let mut committed = self.committed();
        self.sync_unless_in_flight(&mut committed)?;
        Ok(committed)
    }

    /// Brings the locked committed state to the end of the log, unless a group of this handle
    /// is being synced (readers then see the state before it: only durable operations).
    fn sync_unless_in_flight(&self, committed: &mut Committed) -> Result<()> {
        if committed.in_flight { Ok(()) } else { self.sync_into(&mut committed.log) }
    }

    /// Reads and applies whatever other writers appended since the last call.
    pub fn sync(&self) -> Result<()> {
        self.synced().map(drop)
    }

    /// Runs `f` on the state synced to the current end of the log. `f` sees only durable
    /// operations: never those of a group this handle is still syncing.
    pub fn read<R>(&self, f: impl FnOnce(&ReplayState) -> Result<R>) -> Result<R> {
        f(&self.synced()?.log.state)
    }

    /// How many write calls of this handle wait for a group (for tests that form groups).
    #[cfg(feature = "fault-injection")]
    pub fn queued_writes(&self) -> usize {
        self.queue.pending()
    }

    /// The write path for one operation: validated and written as described in the module docs.
    /// Returns what it created.
    fn write(&self, op: Operation) -> Result<Applied> {
        self.submit(Intent::op(op)).map(|w| w.applied)
    }

    // ---- studies ------------------------------------------------------------------------

    /// Creates a study and returns its id (never reused). `study_name` defaults to
    /// `no-name-<uuid>`. Fails with [`Error::DuplicateStudyName`] if a live study has the name.
    pub fn create_new_study(
        &self,
        directions: &[StudyDirection],
        study_name: Option<&str>,
    ) -> Result<u64> {
        let study_name = super::new_study_name(directions, study_name)?;
        match self.write(Operation::CreateStudy { study_name, directions: directions.to_vec() })? {
            Applied::StudyCreated(id) => Ok(id),
            other => unreachable!("create study applied as {other:?}"),
        }
    }

    /// Deletes a study; its trials disappear with it. Its id is never reused.
    pub fn delete_study(&self, study_id: u64) -> Result<()> {
        self.write(Operation::DeleteStudy { study_id }).map(drop)
    }

    /// Sets a study user attribute.
    pub fn set_study_user_attr(&self, study_id: u64, key: &str, value: AttrValue) -> Result<()> {
        check_attr(key, &value)?;
        self.write(Operation::SetStudyUserAttr { study_id, key: key.to_owned(), value }).map(drop)
    }

    /// Sets a study system attribute.
    pub fn set_study_system_attr(&self, study_id: u64, key: &str, value: AttrValue) -> Result<()> {
        check_attr(key, &value)?;
        self.write(Operation::SetStudySystemAttr { study_id, key: key.to_owned(), value }).map(drop)
    }

    /// The study's user attributes.
    pub fn get_study_user_attrs(&self, study_id: u64) -> Result<BTreeMap<String, AttrValue>> {
        self.read(|s| Ok(s.study(study_id)?.user_attrs.clone()))
    }

    /// The study's system attributes.
    pub fn get_study_system_attrs(&self, study_id: u64) -> Result<BTreeMap<String, AttrValue>> {
        self.read(|s| Ok(s.study(study_id)?.system_attrs.clone()))
    }

    /// The id of the live study named `study_name`.
    pub fn get_study_id_from_name(&self, study_name: &str) -> Result<u64> {
        self.read(|s| s.study_id_by_name(study_name))
    }

    /// The name of a live study.
    pub fn get_study_name_from_id(&self, study_id: u64) -> Result<String> {
        self.read(|s| Ok(s.study(study_id)?.study_name.clone()))
    }

    /// The directions of a live study.
    pub fn get_study_directions(&self, study_id: u64) -> Result<Vec<StudyDirection>> {
        self.read(|s| Ok(s.study(study_id)?.directions.clone()))
    }

    /// Every live study, by id.
    pub fn get_all_studies(&self) -> Result<Vec<FrozenStudy>> {
        self.read(|s| Ok(s.studies().cloned().collect()))
    }

    // ---- trials -------------------------------------------------------------------------

    /// Creates a trial in a study and returns its id. Without a template the trial is RUNNING
    /// and starts now; with one it copies the template's state, values, parameters, attributes,
    /// intermediate values and datetimes (Optuna's `enqueue_trial` / `add_trial`).
    pub fn create_new_trial(&self, study_id: u64, template: Option<&FrozenTrial>) -> Result<u64> {
        let op = match template {
            None => Operation::CreateTrial {
                study_id,
                datetime_start: Some(self.now()),
                template: None,
            },
            Some(t) => {
                let template = self.template_from(study_id, t)?;
                Operation::CreateTrial {
                    study_id,
                    datetime_start: t.datetime_start,
                    template: Some(Box::new(template)),
                }
            }
        };
        let running = template.is_none_or(|t| t.state == TrialState::Running);
        let intent = Intent { running, ..Intent::op(op) };
        match self.submit(intent)?.applied {
            Applied::TrialCreated(id) => Ok(id),
            other => unreachable!("create trial applied as {other:?}"),
        }
    }

    /// Converts a template trial into the log's form, checking each parameter against its
    /// distribution and against the study's earlier distributions of the same name.
    fn template_from(&self, study_id: u64, t: &FrozenTrial) -> Result<TrialTemplate> {
        for (key, value) in t.user_attrs.iter().chain(t.system_attrs.iter()) {
            check_attr(key, value)?;
        }
        let mut params = ListMap::new();
        for (name, value) in &t.params {
            let dist = t.distributions.get(name).ok_or_else(|| {
                Error::invalid(format_args!("template parameter {name:?} has no distribution"))
            })?;
            params.insert(name.to_string(), (dist.to_internal(value)?, Distribution::clone(dist)));
        }
        self.read(|s| {
            for (name, (_, dist)) in &params {
                if let Some(existing) = s.param_distribution(study_id, name) {
                    existing.check_compatible(name, dist)?;
                }
            }
            Ok(())
        })?;
        Ok(TrialTemplate {
            state: t.state,
            values: t.values.as_deref().map(<[f64]>::to_vec),
            datetime_complete: t.datetime_complete,
            params,
            user_attrs: t.user_attrs.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
            system_attrs: t.system_attrs.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
            intermediate_values: t
                .intermediate_values
                .iter()
                .map(|(k, v)| (k.clone(), *v))
                .collect(),
        })
    }

    /// Sets a parameter (internal representation) of an unfinished trial. The value must have an
    /// external form in the distribution (a categorical index must name a choice; a value
    /// outside a numeric range is accepted, as Optuna's storages accept it), and the
    /// distribution must be compatible with the one this parameter has elsewhere in the study.
    pub fn set_trial_param(
        &self,
        trial_id: u64,
        param_name: &str,
        param_value_internal: f64,
        distribution: &Distribution,
    ) -> Result<()> {
        if distribution.to_external(param_value_internal).is_none() {
            return Err(Error::invalid(format_args!(
                "value {param_value_internal:?} of parameter {param_name:?} has no value in its {}",
                distribution.kind_name()
            )));
        }
        self.write(Operation::SetTrialParam {
            trial_id,
            name: param_name.to_owned(),
            internal: param_value_internal,
            distribution: distribution.clone(),
        })
        .map(drop)
    }

    /// The id of trial number `trial_number` of a study.
    pub fn get_trial_id_from_study_id_trial_number(
        &self,
        study_id: u64,
        trial_number: u64,
    ) -> Result<u64> {
        self.read(|s| s.trial_id_by_number(study_id, trial_number))
    }

    /// The number of a trial within its study.
    pub fn get_trial_number_from_id(&self, trial_id: u64) -> Result<u64> {
        self.read(|s| Ok(s.trial(trial_id)?.number))
    }

    /// A parameter's value in internal representation.
    pub fn get_trial_param(&self, trial_id: u64, param_name: &str) -> Result<f64> {
        self.read(|s| super::param_internal(s.trial(trial_id)?, param_name))
    }

    /// A trial's parameters in external representation, in the order the trial shows them.
    pub fn get_trial_params(&self, trial_id: u64) -> Result<ListMap<Arc<str>, ParamValue>> {
        self.read(|s| Ok(s.trial(trial_id)?.params.clone()))
    }

    /// Sets a trial's state (and values). Returns whether this call changed the state: a
    /// WAITING -> RUNNING claim returns `true` for exactly one caller across all workers and
    /// `false` (writing nothing) for the others. Fails with [`Error::TrialFinished`] on a
    /// finished trial.
    pub fn set_trial_state_values(
        &self,
        trial_id: u64,
        state: TrialState,
        values: Option<&[f64]>,
    ) -> Result<bool> {
        let datetime = (state == TrialState::Running || state.is_finished()).then(Timestamp::now);
        let op = Operation::SetTrialStateValues {
            trial_id,
            state,
            values: values.map(<[f64]>::to_vec),
            datetime,
        };
        // The number of values is checked under the write lock with the other checks (no
        // separate read of the log).
        let intent =
            Intent { check_values: true, running: state == TrialState::Running, ..Intent::op(op) };
        match self.submit(intent) {
            Ok(_) => Ok(true),
            Err(Error::TrialAlreadyClaimed { .. }) => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Records the intermediate value of `step` (NaN and infinities are kept exactly).
    pub fn set_trial_intermediate_value(&self, trial_id: u64, step: i64, value: f64) -> Result<()> {
        self.set_trial_intermediate_value_at(trial_id, Integer::Small(step), value)
    }

    /// [`JournalStorage::set_trial_intermediate_value`] at a step of any size, as Python's
    /// Optuna accepts (`trial.report(v, 2**64)`): both journal formats keep it exactly.
    pub fn set_trial_intermediate_value_at(
        &self,
        trial_id: u64,
        step: Integer,
        value: f64,
    ) -> Result<()> {
        self.write(Operation::SetTrialIntermediateValue { trial_id, step, value }).map(drop)
    }

    /// Sets a trial user attribute.
    pub fn set_trial_user_attr(&self, trial_id: u64, key: &str, value: AttrValue) -> Result<()> {
        check_attr(key, &value)?;
        self.write(Operation::SetTrialUserAttr { trial_id, key: key.to_owned(), value }).map(drop)
    }

    /// Sets a trial system attribute.
    pub fn set_trial_system_attr(&self, trial_id: u64, key: &str, value: AttrValue) -> Result<()> {
        check_attr(key, &value)?;
        self.write(Operation::SetTrialSystemAttr { trial_id, key: key.to_owned(), value }).map(drop)
    }

    /// A trial's user attributes.
    pub fn get_trial_user_attrs(&self, trial_id: u64) -> Result<VecMap<String, AttrValue>> {
        self.read(|s| Ok(VecMap::clone(&s.trial(trial_id)?.user_attrs)))
    }

    /// A trial's system attributes.
    pub fn get_trial_system_attrs(&self, trial_id: u64) -> Result<VecMap<String, AttrValue>> {
        self.read(|s| Ok(VecMap::clone(&s.trial(trial_id)?.system_attrs)))
    }

    /// A snapshot of one trial.
    pub fn get_trial(&self, trial_id: u64) -> Result<Arc<FrozenTrial>> {
        self.read(|s| s.trial(trial_id).cloned())
    }

    /// [`Self::get_trial`], answered only if the committed state's lock is free and the backend's
    /// reads stay on this machine ([`LogBackend::reads_stay_local`]): then it syncs and reads
    /// exactly as `get_trial` does. `None` otherwise (see [`Storage::try_get_trial_now`]).
    pub fn try_get_trial_now(&self, trial_id: u64) -> Option<Result<Arc<FrozenTrial>>> {
        if !self.backend.reads_stay_local() {
            return None;
        }
        let mut committed = match self.committed.try_lock() {
            Ok(guard) => guard,
            Err(TryLockError::Poisoned(p)) => p.into_inner(), // as `committed()` recovers
            Err(TryLockError::WouldBlock) => return None,
        };
        Some(
            self.sync_unless_in_flight(&mut committed)
                .and_then(|()| committed.log.state.trial(trial_id).cloned()),
        )
    }

    /// Snapshots of a study's trials by number, optionally only those in `states`.
    pub fn get_all_trials(
        &self,
        study_id: u64,
        states: Option<&[TrialState]>,
    ) -> Result<Vec<Arc<FrozenTrial>>> {
        self.read(|s| {
            if states == Some(&[TrialState::Waiting][..]) {
                // Claiming enqueued trials asks this on every `ask`: answer it in O(waiting).
                return Ok(s.waiting_trials_of(study_id)?.cloned().collect());
            }
            Ok(s.trials_of(study_id)?
                .filter(|t| states.is_none_or(|st| st.contains(&t.state)))
                .cloned()
                .collect())
        })
    }

    /// [`Storage::trial_count_hint`]: the study's trial count in the state as last synced
    /// (`None` if it has no such study), without reading the log.
    pub fn trial_count_hint(&self, study_id: u64) -> Option<usize> {
        self.committed().log.state.study_trial_count(study_id).ok()
    }

    /// [`Storage::get_all_trials_batched`]: the trials `get_all_trials` answers, in batches of
    /// 4,096 (a snapshot's block of trials), each handed to `take` while the handle's state
    /// stays locked (so `take` must not call this handle). A state loaded from a snapshot
    /// decodes each block of trials when the iteration reaches it, on this thread, so a consumer
    /// on another thread works on one batch while the next is decoded.
    pub fn get_all_trials_batched(
        &self,
        study_id: u64,
        states: Option<&[TrialState]>,
        take: &mut dyn FnMut(Vec<Arc<FrozenTrial>>) -> bool,
    ) -> Result<()> {
        if states == Some(&[TrialState::Waiting][..]) {
            take(self.get_all_trials(study_id, states)?);
            return Ok(());
        }
        self.read(|s| {
            let mut batch = Vec::new();
            for t in s.trials_of_in_order(study_id)? {
                if states.is_none_or(|st| st.contains(&t.state)) {
                    batch.push(Arc::clone(t));
                }
                if batch.len() == TRIALS_PER_BATCH && !take(std::mem::take(&mut batch)) {
                    return Ok(());
                }
            }
            if !batch.is_empty() {
                take(batch);
            }
            Ok(())
        })
    }

    /// How many trials a study has, optionally only those in `states`.
    pub fn get_n_trials(&self, study_id: u64, states: Option<&[TrialState]>) -> Result<usize> {
        self.read(|s| {
            Ok(s.trials_of(study_id)?
                .filter(|t| states.is_none_or(|st| st.contains(&t.state)))
                .count())
        })
    }

    /// The COMPLETE trial with the best value of a single-objective study (the first one in
    /// number order on ties, as Optuna's `min`/`max`).
    pub fn get_best_trial(&self, study_id: u64) -> Result<Arc<FrozenTrial>> {
        self.read(|s| {
            super::best_trial(study_id, &s.study(study_id)?.directions, s.trials_of(study_id)?)
        })
    }

    /// Fails with [`Error::TrialFinished`] if `trial_state` (the trial's current state, as the
    /// caller knows it) is finished (Optuna's `check_trial_is_updatable`).
    pub fn check_trial_is_updatable(&self, trial_id: u64, trial_state: TrialState) -> Result<()> {
        Storage::check_trial_is_updatable(self, trial_id, trial_state)
    }

    /// Optuna's `remove_session`: nothing to release for a journal.
    pub fn remove_session(&self) {}

    // ---- heartbeats ---------------------------------------------------------------------

    /// Turns heartbeats on for this handle: every trial it creates RUNNING or claims
    /// (WAITING -> RUNNING) gets its first heartbeat in the same durable batch, and
    /// [`Study::optimize`](crate::Study::optimize) records one every `interval` while an
    /// objective runs and calls [`JournalStorage::fail_stale_trials`] before each trial.
    /// A backend that cannot store extension operations (an Optuna-format file) leaves
    /// heartbeats off, with a warning.
    pub fn with_heartbeat(mut self, options: HeartbeatOptions) -> Self {
        if self.backend.stores_extension_ops() {
            self.heartbeat = Some(options);
        } else {
            log::warn!(
                "{}: this journal format cannot store heartbeats; they stay off",
                self.backend.path().display()
            );
        }
        self
    }

    /// This handle's heartbeat settings, if heartbeats are on (Optuna's
    /// `is_heartbeat_enabled` / `get_heartbeat_interval`).
    pub fn heartbeat(&self) -> Option<HeartbeatOptions> {
        self.heartbeat
    }

    /// Records that the worker running `trial_id` is alive now (one durable operation of code
    /// 128, which readers without heartbeat support skip). Fails with [`Error::TrialFinished`]
    /// once the trial is finished, and with `InvalidArgument` if it is not RUNNING.
    ///
    /// Like every heartbeat this handle writes (also the first one, in the batch that makes a
    /// trial RUNNING), it starts the handle's watch of the trial (see
    /// [`JournalStorage::stale_trial_ids`]): a handle that sweeps the trials it sent heartbeats
    /// for needs no earlier look to see one go stale, as with Optuna's storages.
    pub fn record_heartbeat(&self, trial_id: u64) -> Result<()> {
        self.write(Operation::TrialHeartbeat { trial_id, at: self.now() }).map(drop)
    }

    /// The RUNNING trials of a study that are stale: whose heartbeat count this handle has seen
    /// (by looking here or by sending that heartbeat itself) unchanged for longer than
    /// `grace_period` on its own monotonic clock, or, seen for the
    /// first time, whose latest heartbeat is older than `grace_period` plus
    /// [`MAX_CLOCK_SKEW`](crate::storage::MAX_CLOCK_SKEW) by this host's wall clock (the
    /// fallback for a handle that just started; `docs/LOCKING.md`, "Heartbeats across hosts").
    /// So a handle must look more than once, a grace period apart, to see a trial go stale,
    /// and clocks of different hosts need not agree. Trials that never had a heartbeat are never
    /// stale. A report from the state as read without the lock; only
    /// [`JournalStorage::fail_stale_trials`] decides.
    pub fn stale_trial_ids(&self, study_id: u64, grace_period: Duration) -> Result<Vec<u64>> {
        self.read(|s| self.watch().stale(s, study_id, self.now(), Instant::now(), grace_period))
    }

    /// Marks FAIL every RUNNING trial of the study that is stale by the rules of
    /// [`JournalStorage::stale_trial_ids`], recording why in its `fail_reason` system
    /// attribute; returns their ids. Staleness is decided under the write lock on the state
    /// synced to the end of the log, so a trial whose worker sent a heartbeat or finished it
    /// meanwhile is left alone, and two callers never both fail a trial. All the failures are
    /// one all-or-nothing batch; nothing else changes.
    pub fn fail_stale_trials(&self, study_id: u64, grace_period: Duration) -> Result<Vec<u64>> {
        // Decided under the lock only: there the journal's end is confirmed with the file
        // server, while a look without it may see a client's cached copy that never shows the
        // heartbeats stop (so a sweeper that only looked without the lock would never fail a
        // trial on NFS; tests/sharedfs_clock_skew.rs). When nothing is stale nothing is written.
        let written = self.submit(Intent::fail_stale(study_id, grace_period))?;
        Ok(written
            .ops
            .iter()
            .filter_map(|op| match op {
                Operation::SetTrialStateValues { trial_id, .. } => Some(*trial_id),
                _ => None,
            })
            .collect())
    }
}

/// The storage API of a journal: each method is the inherent one of the same name (so callers
/// of a concrete `JournalStorage` need not import the trait).
impl<B: LogBackend> Storage for JournalStorage<B> {
    fn create_new_study(
        &self,
        directions: &[StudyDirection],
        study_name: Option<&str>,
    ) -> Result<u64> {
        JournalStorage::create_new_study(self, directions, study_name)
    }
    fn delete_study(&self, study_id: u64) -> Result<()> {
        JournalStorage::delete_study(self, study_id)
    }
    fn set_study_user_attr(&self, study_id: u64, key: &str, value: AttrValue) -> Result<()> {
        JournalStorage::set_study_user_attr(self, study_id, key, value)
    }
    fn set_study_system_attr(&self, study_id: u64, key: &str, value: AttrValue) -> Result<()> {
        JournalStorage::set_study_system_attr(self, study_id, key, value)
    }
    fn get_study_id_from_name(&self, study_name: &str) -> Result<u64> {
        JournalStorage::get_study_id_from_name(self, study_name)
    }
    fn get_study_name_from_id(&self, study_id: u64) -> Result<String> {
        JournalStorage::get_study_name_from_id(self, study_id)
    }
    fn get_study_directions(&self, study_id: u64) -> Result<Vec<StudyDirection>> {
        JournalStorage::get_study_directions(self, study_id)
    }
    fn get_study_user_attrs(&self, study_id: u64) -> Result<BTreeMap<String, AttrValue>> {
        JournalStorage::get_study_user_attrs(self, study_id)
    }
    fn get_study_system_attrs(&self, study_id: u64) -> Result<BTreeMap<String, AttrValue>> {
        JournalStorage::get_study_system_attrs(self, study_id)
    }
    fn get_all_studies(&self) -> Result<Vec<FrozenStudy>> {
        JournalStorage::get_all_studies(self)
    }
    fn create_new_trial(&self, study_id: u64, template: Option<&FrozenTrial>) -> Result<u64> {
        JournalStorage::create_new_trial(self, study_id, template)
    }
    fn set_trial_param(
        &self,
        trial_id: u64,
        param_name: &str,
        param_value_internal: f64,
        distribution: &Distribution,
    ) -> Result<()> {
        JournalStorage::set_trial_param(
            self,
            trial_id,
            param_name,
            param_value_internal,
            distribution,
        )
    }
    fn set_trial_state_values(
        &self,
        trial_id: u64,
        state: TrialState,
        values: Option<&[f64]>,
    ) -> Result<bool> {
        JournalStorage::set_trial_state_values(self, trial_id, state, values)
    }
    fn set_trial_intermediate_value(&self, trial_id: u64, step: i64, value: f64) -> Result<()> {
        JournalStorage::set_trial_intermediate_value(self, trial_id, step, value)
    }
    fn set_trial_intermediate_value_at(
        &self,
        trial_id: u64,
        step: Integer,
        value: f64,
    ) -> Result<()> {
        JournalStorage::set_trial_intermediate_value_at(self, trial_id, step, value)
    }
    fn set_trial_user_attr(&self, trial_id: u64, key: &str, value: AttrValue) -> Result<()> {
        JournalStorage::set_trial_user_attr(self, trial_id, key, value)
    }
    fn set_trial_system_attr(&self, trial_id: u64, key: &str, value: AttrValue) -> Result<()> {
        JournalStorage::set_trial_system_attr(self, trial_id, key, value)
    }
    fn get_trial(&self, trial_id: u64) -> Result<Arc<FrozenTrial>> {
        JournalStorage::get_trial(self, trial_id)
    }
    fn try_get_trial_now(&self, trial_id: u64) -> Option<Result<Arc<FrozenTrial>>> {
        JournalStorage::try_get_trial_now(self, trial_id)
    }
    fn get_all_trials(
        &self,
        study_id: u64,
        states: Option<&[TrialState]>,
    ) -> Result<Vec<Arc<FrozenTrial>>> {
        JournalStorage::get_all_trials(self, study_id, states)
    }
    fn get_all_trials_batched(
        &self,
        study_id: u64,
        states: Option<&[TrialState]>,
        take: &mut dyn FnMut(Vec<Arc<FrozenTrial>>) -> bool,
    ) -> Result<()> {
        JournalStorage::get_all_trials_batched(self, study_id, states, take)
    }
    fn trial_count_hint(&self, study_id: u64) -> Option<usize> {
        JournalStorage::trial_count_hint(self, study_id)
    }
    fn get_trial_id_from_study_id_trial_number(
        &self,
        study_id: u64,
        trial_number: u64,
    ) -> Result<u64> {
        JournalStorage::get_trial_id_from_study_id_trial_number(self, study_id, trial_number)
    }
    fn get_trial_number_from_id(&self, trial_id: u64) -> Result<u64> {
        JournalStorage::get_trial_number_from_id(self, trial_id)
    }
    fn get_trial_param(&self, trial_id: u64, param_name: &str) -> Result<f64> {
        JournalStorage::get_trial_param(self, trial_id, param_name)
    }
    fn get_trial_params(&self, trial_id: u64) -> Result<ListMap<Arc<str>, ParamValue>> {
        JournalStorage::get_trial_params(self, trial_id)
    }
    fn get_trial_user_attrs(&self, trial_id: u64) -> Result<VecMap<String, AttrValue>> {
        JournalStorage::get_trial_user_attrs(self, trial_id)
    }
    fn get_trial_system_attrs(&self, trial_id: u64) -> Result<VecMap<String, AttrValue>> {
        JournalStorage::get_trial_system_attrs(self, trial_id)
    }
    fn get_n_trials(&self, study_id: u64, states: Option<&[TrialState]>) -> Result<usize> {
        JournalStorage::get_n_trials(self, study_id, states)
    }
    fn get_best_trial(&self, study_id: u64) -> Result<Arc<FrozenTrial>> {
        JournalStorage::get_best_trial(self, study_id)
    }
    fn heartbeat(&self) -> Option<HeartbeatOptions> {
        JournalStorage::heartbeat(self)
    }
    fn record_heartbeat(&self, trial_id: u64) -> Result<()> {
        JournalStorage::record_heartbeat(self, trial_id)
    }
    fn stale_trial_ids(&self, study_id: u64, grace_period: Duration) -> Result<Vec<u64>> {
        JournalStorage::stale_trial_ids(self, study_id, grace_period)
    }
    fn fail_stale_trials(&self, study_id: u64, grace_period: Duration) -> Result<Vec<u64>> {
        JournalStorage::fail_stale_trials(self, study_id, grace_period)
    }
    fn trial_workers(&self, study_id: u64) -> Result<Vec<(u64, String)>> {
        JournalStorage::trial_workers(self, study_id)
    }
}
