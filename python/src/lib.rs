//! `trialog._trialog`: trialog's storage engine for Python. The pure-Python
//! `trialog.JournalStorage` (Optuna's `BaseStorage` and `BaseHeartbeat`) calls an [`Engine`];
//! see `docs/PYTHON.md`.
//!
//! Every engine call that may read or write the journal (and so lock, write and `fdatasync`)
//! runs with the GIL released, so other Python threads run meanwhile; one engine serves many
//! threads at once (the library's handle is `Send + Sync`, and groups the writes of concurrent
//! threads into one `fdatasync`).

/// The extension's allocator for its Rust allocations (the engine's replayed state, frames,
/// buffers): mimalloc, as in the `trialog` binary (`src/main.rs`). Measured on 2026-11-30, the
/// wheels with and without it installed side by side, runs alternating: opening W2's 100k-trial
/// journal (`bench/python_storage.py`'s file, no snapshot) took 0.072-0.141 s instead of
/// 0.195-0.199 s in trialog's format, 0.166-0.182 s instead of 0.215-0.258 s in Optuna's;
/// `get_all_trials` after it was unchanged (0.15-0.17 s: Python's objects are built by Python's
/// allocator either way). Unix only, like the binary's.
#[cfg(unix)]
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

mod convert;
mod errors;
mod open;
mod optuna;

use std::sync::Arc;
use std::sync::mpsc::TryRecvError;

use pyo3::exceptions::{PyKeyError, PyTypeError};
use pyo3::prelude::*;
use pyo3::types::{PyInt, PyList};
use trialog::Storage;
use trialog::model::{StudyDirection, TrialState};

use convert::{Builder, TemplateArgs, attr_from_py, attrs_to_py, distribution_from_py};
use errors::py_result;

/// Trials from which `get_all_trials` fetches through a helper thread while it builds (below
/// that, starting the thread costs more than the overlap saves: about 50 µs per call).
const PIPELINE_FROM: usize = 4096;

/// One open journal.
#[pyclass(frozen, module = "trialog._trialog")]
struct Engine {
    storage: Arc<dyn Storage>,
}

impl Engine {
    /// Runs `f` on the storage with the GIL released, and maps its error.
    fn run<T: Send>(
        &self,
        py: Python<'_>,
        f: impl FnOnce(&dyn Storage) -> trialog::Result<T> + Send,
    ) -> PyResult<T> {
        let storage = &*self.storage;
        let r = py.detach(|| f(storage));
        py_result(py, r)
    }
}

/// A study id, trial id or trial number from Python: any `int`. One that is negative or past
/// 64 bits names nothing, as such a key finds nothing in Optuna's dicts: the `*_of` helpers
/// below then raise `KeyError`, never `OverflowError`. Anything but an `int` is a `TypeError`.
struct PyId(Result<u64, String>);

impl<'a, 'py> FromPyObject<'a, 'py> for PyId {
    type Error = PyErr;

    fn extract(obj: Borrowed<'a, 'py, PyAny>) -> PyResult<Self> {
        if let Ok(v) = obj.extract::<u64>() {
            return Ok(PyId(Ok(v)));
        }
        if obj.is_instance_of::<PyInt>() {
            return Ok(PyId(Err(obj.str()?.to_string())));
        }
        obj.extract::<i64>()?; // the TypeError of a non-int
        Err(PyTypeError::new_err("an id must be an int"))
    }
}

/// A study id from Python (`KeyError` for one that names no study, as Optuna's storages).
fn study_id_of(id: PyId) -> PyResult<u64> {
    id.0.map_err(|id| PyKeyError::new_err(format!("study {id} not found")))
}

/// A trial id from Python (`KeyError` for one that names no trial).
fn trial_id_of(id: PyId) -> PyResult<u64> {
    id.0.map_err(|id| PyKeyError::new_err(format!("trial {id} not found")))
}

/// A trial number from Python (`KeyError` for one that names no trial).
fn trial_number_of(study_id: u64, number: PyId) -> PyResult<u64> {
    number.0.map_err(|n| PyKeyError::new_err(format!("study {study_id} has no trial number {n}")))
}

fn direction(code: u8) -> PyResult<StudyDirection> {
    match code {
        1 => Ok(StudyDirection::Minimize),
        2 => Ok(StudyDirection::Maximize),
        0 => Ok(StudyDirection::NotSet),
        _ => Err(pyo3::exceptions::PyValueError::new_err(format!("unknown direction {code}"))),
    }
}

fn states(codes: Option<Vec<u8>>) -> PyResult<Option<Vec<TrialState>>> {
    codes.map(|c| c.into_iter().map(convert::state_from_code).collect()).transpose()
}

#[pymethods]
impl Engine {
    /// Opens (creating if needed) the journal at `path`; see `open::Options`.
    #[new]
    #[pyo3(signature = (path, format, lock, lock_timeout, lock_grace_period, recovery, create,
                        heartbeat_interval, grace_period))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        py: Python<'_>,
        path: std::path::PathBuf,
        format: &str,
        lock: Option<String>,
        lock_timeout: Option<f64>,
        lock_grace_period: Option<f64>,
        recovery: Option<String>,
        create: bool,
        heartbeat_interval: Option<f64>,
        grace_period: Option<f64>,
    ) -> PyResult<Self> {
        let options = open::Options {
            format: format.to_owned(),
            lock,
            lock_timeout: open::seconds("lock_timeout", lock_timeout)?,
            lock_grace_period: open::seconds("lock_grace_period", lock_grace_period)?,
            recovery,
            create,
            heartbeat_interval: open::seconds("heartbeat_interval", heartbeat_interval)?,
            grace_period: open::seconds("grace_period", grace_period)?,
        };
        let storage = options.validate()?;
        let storage = py.detach(|| storage.open(&path));
        Ok(Engine { storage: py_result(py, storage)? })
    }

    fn create_new_study(
        &self,
        py: Python<'_>,
        directions: Vec<u8>,
        study_name: Option<String>,
    ) -> PyResult<u64> {
        let directions: Vec<_> = directions.into_iter().map(direction).collect::<PyResult<_>>()?;
        self.run(py, |s| s.create_new_study(&directions, study_name.as_deref()))
    }

    fn delete_study(&self, py: Python<'_>, study_id: PyId) -> PyResult<()> {
        let study_id = study_id_of(study_id)?;
        self.run(py, |s| s.delete_study(study_id))
    }

    fn set_study_attr(
        &self,
        py: Python<'_>,
        study_id: PyId,
        system: bool,
        key: String,
        json: &str,
    ) -> PyResult<()> {
        let study_id = study_id_of(study_id)?;
        let value = attr_from_py(&key, json)?;
        self.run(py, |s| match system {
            true => s.set_study_system_attr(study_id, &key, value),
            false => s.set_study_user_attr(study_id, &key, value),
        })
    }

    fn get_study_id_from_name(&self, py: Python<'_>, study_name: String) -> PyResult<u64> {
        self.run(py, |s| s.get_study_id_from_name(&study_name))
    }

    fn get_study_name_from_id(&self, py: Python<'_>, study_id: PyId) -> PyResult<String> {
        let study_id = study_id_of(study_id)?;
        self.run(py, |s| s.get_study_name_from_id(study_id))
    }

    fn get_study_directions<'py>(
        &self,
        py: Python<'py>,
        study_id: PyId,
    ) -> PyResult<Vec<Bound<'py, PyAny>>> {
        let study_id = study_id_of(study_id)?;
        let d = self.run(py, |s| s.get_study_directions(study_id))?;
        let b = Builder::new(py)?;
        Ok(d.iter().map(|d| b.direction(d.code())).collect())
    }

    fn get_study_attrs<'py>(
        &self,
        py: Python<'py>,
        study_id: PyId,
        system: bool,
    ) -> PyResult<Bound<'py, PyAny>> {
        let study_id = study_id_of(study_id)?;
        let a = self.run(py, |s| match system {
            true => s.get_study_system_attrs(study_id),
            false => s.get_study_user_attrs(study_id),
        })?;
        Ok(attrs_to_py(py, a.iter())?.into_any())
    }

    fn get_all_studies<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        let studies = self.run(py, |s| s.get_all_studies())?;
        let b = Builder::new(py)?;
        let items: Vec<_> = studies.iter().map(|s| b.study(s)).collect::<PyResult<_>>()?;
        PyList::new(py, items)
    }

    #[pyo3(signature = (study_id, template=None))]
    fn create_new_trial(
        &self,
        py: Python<'_>,
        study_id: PyId,
        template: Option<TemplateArgs>,
    ) -> PyResult<u64> {
        let study_id = study_id_of(study_id)?;
        let template = template.map(|t| convert::template_from_py(py, study_id, t)).transpose()?;
        self.run(py, |s| s.create_new_trial(study_id, template.as_ref()))
    }

    fn set_trial_param(
        &self,
        py: Python<'_>,
        trial_id: PyId,
        param_name: String,
        param_value_internal: f64,
        distribution_json: &str,
    ) -> PyResult<()> {
        let trial_id = trial_id_of(trial_id)?;
        let dist = distribution_from_py(&param_name, distribution_json)?;
        self.run(py, |s| s.set_trial_param(trial_id, &param_name, param_value_internal, &dist))
    }

    fn get_trial_id_from_study_id_trial_number(
        &self,
        py: Python<'_>,
        study_id: PyId,
        trial_number: PyId,
    ) -> PyResult<u64> {
        let study_id = study_id_of(study_id)?;
        let trial_number = trial_number_of(study_id, trial_number)?;
        self.run(py, |s| s.get_trial_id_from_study_id_trial_number(study_id, trial_number))
    }

    fn get_trial_number_from_id(&self, py: Python<'_>, trial_id: PyId) -> PyResult<u64> {
        let trial_id = trial_id_of(trial_id)?;
        self.run(py, |s| s.get_trial_number_from_id(trial_id))
    }

    fn get_trial_param(&self, py: Python<'_>, trial_id: PyId, param_name: String) -> PyResult<f64> {
        let trial_id = trial_id_of(trial_id)?;
        self.run(py, |s| s.get_trial_param(trial_id, &param_name))
    }

    #[pyo3(signature = (trial_id, state, values=None))]
    fn set_trial_state_values(
        &self,
        py: Python<'_>,
        trial_id: PyId,
        state: u8,
        values: Option<Vec<f64>>,
    ) -> PyResult<bool> {
        let trial_id = trial_id_of(trial_id)?;
        let state = convert::state_from_code(state)?;
        self.run(py, |s| s.set_trial_state_values(trial_id, state, values.as_deref()))
    }

    fn set_trial_intermediate_value(
        &self,
        py: Python<'_>,
        trial_id: PyId,
        step: &Bound<'_, PyAny>,
        value: f64,
    ) -> PyResult<()> {
        let trial_id = trial_id_of(trial_id)?;
        let step = convert::integer_from_py(step)?;
        self.run(py, |s| s.set_trial_intermediate_value_at(trial_id, step, value))
    }

    fn set_trial_attr(
        &self,
        py: Python<'_>,
        trial_id: PyId,
        system: bool,
        key: String,
        json: &str,
    ) -> PyResult<()> {
        let trial_id = trial_id_of(trial_id)?;
        let value = attr_from_py(&key, json)?;
        self.run(py, |s| match system {
            true => s.set_trial_system_attr(trial_id, &key, value),
            false => s.set_trial_user_attr(trial_id, &key, value),
        })
    }

    fn get_trial<'py>(&self, py: Python<'py>, trial_id: PyId) -> PyResult<Bound<'py, PyAny>> {
        let trial_id = trial_id_of(trial_id)?;
        let t = self.run(py, |s| s.get_trial(trial_id))?;
        Builder::new(py)?.trial(&t)
    }

    #[pyo3(signature = (study_id, states=None))]
    fn get_all_trials<'py>(
        &self,
        py: Python<'py>,
        study_id: PyId,
        states: Option<Vec<u8>>,
    ) -> PyResult<Bound<'py, PyList>> {
        let study_id = study_id_of(study_id)?;
        let states = self::states(states)?;
        let storage = &*self.storage;
        let many = storage.trial_count_hint(study_id).is_some_and(|n| n >= PIPELINE_FROM);
        if !many || states.as_deref() == Some(&[TrialState::Waiting][..]) {
            let trials = self.run(py, |s| s.get_all_trials(study_id, states.as_deref()))?;
            let mut b = Builder::untracking(py)?;
            let _pause = convert::GcPause::new(py)?;
            let items: Vec<_> = trials.iter().map(|t| b.trial(t)).collect::<PyResult<_>>()?;
            return PyList::new(py, items);
        }
        // Many trials: a helper thread takes them from the storage in batches (decoding those
        // a snapshot left undecoded) while this one, holding the GIL, builds each batch's
        // Optuna objects, so the decoding and the building overlap.
        std::thread::scope(|scope| {
            let (tx, mut rx) = std::sync::mpsc::channel::<Vec<Arc<trialog::FrozenTrial>>>();
            let helper = scope.spawn(move || {
                storage.get_all_trials_batched(study_id, states.as_deref(), &mut |batch| {
                    tx.send(batch).is_ok()
                })
            });
            let mut b = Builder::untracking(py)?;
            let _pause = convert::GcPause::new(py)?;
            let mut items = Vec::new();
            loop {
                let batch = match rx.try_recv() {
                    Ok(batch) => batch,
                    Err(TryRecvError::Disconnected) => break,
                    Err(TryRecvError::Empty) => {
                        // Wait with the GIL released (the receiver goes along and comes back).
                        let (next, back) = py.detach(move || (rx.recv(), rx));
                        rx = back;
                        match next {
                            Ok(batch) => batch,
                            Err(_) => break,
                        }
                    }
                };
                items.reserve(batch.len());
                for t in &batch {
                    items.push(b.trial(t)?);
                }
            }
            // The helper has returned (the channel closed): only its answer is left to take.
            let done = helper.join().unwrap_or_else(|p| std::panic::resume_unwind(p));
            py_result(py, done)?;
            PyList::new(py, items)
        })
    }

    #[pyo3(signature = (study_id, states=None))]
    fn get_n_trials(
        &self,
        py: Python<'_>,
        study_id: PyId,
        states: Option<Vec<u8>>,
    ) -> PyResult<usize> {
        let study_id = study_id_of(study_id)?;
        let states = self::states(states)?;
        self.run(py, |s| s.get_n_trials(study_id, states.as_deref()))
    }

    fn get_best_trial<'py>(&self, py: Python<'py>, study_id: PyId) -> PyResult<Bound<'py, PyAny>> {
        let study_id = study_id_of(study_id)?;
        let t = self.run(py, |s| s.get_best_trial(study_id))?;
        Builder::new(py)?.trial(&t)
    }

    /// The heartbeat interval in seconds, or `None` when heartbeats are off.
    fn heartbeat_interval(&self) -> Option<f64> {
        self.storage.heartbeat().map(|h| h.interval.as_secs_f64())
    }

    fn record_heartbeat(&self, py: Python<'_>, trial_id: PyId) -> PyResult<()> {
        let trial_id = trial_id_of(trial_id)?;
        self.run(py, |s| s.record_heartbeat(trial_id))
    }

    /// The RUNNING trials whose heartbeats stood still for the grace period (empty when
    /// heartbeats are off).
    fn stale_trial_ids(&self, py: Python<'_>, study_id: PyId) -> PyResult<Vec<u64>> {
        let study_id = study_id_of(study_id)?;
        let Some(h) = self.storage.heartbeat() else { return Ok(Vec::new()) };
        self.run(py, |s| s.stale_trial_ids(study_id, h.grace_period))
    }

    /// Fails the stale trials as the engine does (recording why) and returns their ids.
    fn fail_stale_trials(&self, py: Python<'_>, study_id: PyId) -> PyResult<Vec<u64>> {
        let study_id = study_id_of(study_id)?;
        let Some(h) = self.storage.heartbeat() else { return Ok(Vec::new()) };
        self.run(py, |s| s.fail_stale_trials(study_id, h.grace_period))
    }
}

#[pymodule]
fn _trialog(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    m.add_class::<Engine>()?;
    m.add("TrialogError", py.get_type::<errors::TrialogError>())?;
    m.add("CorruptJournalError", py.get_type::<errors::CorruptJournalError>())?;
    m.add("LockError", py.get_type::<errors::LockError>())?;
    Ok(())
}
