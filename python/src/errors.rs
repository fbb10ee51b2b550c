//! Engine errors as Python exceptions: Optuna's own where Optuna's storages raise one (the
//! mapping of the gRPC server's `status_of`, as Optuna's servicer and client turn statuses back
//! into exceptions), `trialog`'s otherwise. Every exception carries the engine's message, which
//! names the file, the byte offset or the lock holder.

use pyo3::exceptions::{PyKeyError, PyRuntimeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::PyType;
use trialog::Error;

use crate::optuna::Optuna;

pyo3::create_exception!(
    _trialog,
    TrialogError,
    PyRuntimeError,
    "A failure of trialog's engine (I/O, a poisoned handle, ...); the message names the file."
);
pyo3::create_exception!(
    _trialog,
    CorruptJournalError,
    TrialogError,
    "The journal holds bytes that are not a valid record; the message names the file and offset."
);
pyo3::create_exception!(
    _trialog,
    LockError,
    TrialogError,
    "The journal's writers' lock timed out, was lost or is unsafe; the message names the holder."
);

/// The Python exception for `e`.
pub fn to_py(py: Python<'_>, e: Error) -> PyErr {
    let msg = e.to_string();
    let optuna = |ty: fn(&Optuna) -> &Py<PyType>| match Optuna::get(py) {
        Ok(o) => PyErr::from_type(ty(o).bind(py).clone(), msg.clone()),
        Err(err) => err,
    };
    match e {
        Error::StudyNotFound { .. }
        | Error::StudyNameNotFound { .. }
        | Error::TrialNotFound { .. }
        | Error::TrialNumberNotFound { .. }
        | Error::ParamNotFound { .. } => PyKeyError::new_err(msg),
        Error::DuplicateStudyName { .. } => optuna(|o| &o.duplicated_study_error),
        Error::TrialFinished { .. } => optuna(|o| &o.update_finished_trial_error),
        Error::InvalidArgument(_)
        | Error::IncompatibleDistribution { .. }
        | Error::NotRepresentable { .. }
        | Error::NoCompletedTrials { .. } => PyValueError::new_err(msg),
        // Optuna's `get_best_trial` raises RuntimeError for a multi-objective study.
        Error::MultiObjectiveStudy { .. } => PyRuntimeError::new_err(msg),
        Error::Corruption { .. }
        | Error::NotAJournal { .. }
        | Error::NotAnOptunaJournal { .. }
        | Error::UnsupportedFormat { .. }
        | Error::UnknownOperation { .. } => CorruptJournalError::new_err(msg),
        Error::LockTimeout { .. }
        | Error::LockLost { .. }
        | Error::UnsafeLockFile { .. }
        | Error::SymlinkLockUnavailable { .. } => LockError::new_err(msg),
        _ => TrialogError::new_err(msg),
    }
}

/// `r` with its error as a Python exception.
pub fn py_result<T>(py: Python<'_>, r: trialog::Result<T>) -> PyResult<T> {
    r.map_err(|e| to_py(py, e))
}
