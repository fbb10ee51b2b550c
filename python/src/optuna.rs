//! The Python objects of Optuna the bindings build and raise, imported once per interpreter.

use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::PyType;

/// Optuna's classes, enum members and helpers.
pub struct Optuna {
    /// `optuna.trial.FrozenTrial`.
    pub frozen_trial: Py<PyType>,
    /// `optuna.study.FrozenStudy`.
    pub frozen_study: Py<PyType>,
    /// `TrialState(code)` for codes 0..=4 (RUNNING, COMPLETE, PRUNED, FAIL, WAITING).
    pub trial_states: Vec<Py<PyAny>>,
    /// `StudyDirection(code)` for codes 0..=2 (NOT_SET, MINIMIZE, MAXIMIZE).
    pub directions: Vec<Py<PyAny>>,
    /// `optuna.distributions.json_to_distribution`.
    pub json_to_distribution: Py<PyAny>,
    /// `json.loads`.
    pub json_loads: Py<PyAny>,
    /// `optuna.exceptions.DuplicatedStudyError`.
    pub duplicated_study_error: Py<PyType>,
    /// `optuna.exceptions.UpdateFinishedTrialError`.
    pub update_finished_trial_error: Py<PyType>,
}

static OPTUNA: PyOnceLock<Optuna> = PyOnceLock::new();

impl Optuna {
    /// The objects, imported on first use.
    pub fn get(py: Python<'_>) -> PyResult<&Optuna> {
        OPTUNA.get_or_try_init(py, || Self::import(py))
    }

    fn import(py: Python<'_>) -> PyResult<Optuna> {
        let attr = |module: &str, name: &str| -> PyResult<Bound<'_, PyAny>> {
            py.import(module)?.getattr(name)
        };
        let class = |module: &str, name: &str| -> PyResult<Py<PyType>> {
            Ok(attr(module, name)?.cast_into::<PyType>()?.unbind())
        };
        let members = |module: &str, name: &str, n: u8| -> PyResult<Vec<Py<PyAny>>> {
            let enum_class = attr(module, name)?;
            (0..n).map(|code| Ok(enum_class.call1((code,))?.unbind())).collect()
        };
        Ok(Optuna {
            frozen_trial: class("optuna.trial", "FrozenTrial")?,
            frozen_study: class("optuna.study._frozen", "FrozenStudy")?,
            trial_states: members("optuna.trial", "TrialState", 5)?,
            directions: members("optuna.study", "StudyDirection", 3)?,
            json_to_distribution: attr("optuna.distributions", "json_to_distribution")?.unbind(),
            json_loads: attr("json", "loads")?.unbind(),
            duplicated_study_error: class("optuna.exceptions", "DuplicatedStudyError")?,
            update_finished_trial_error: class("optuna.exceptions", "UpdateFinishedTrialError")?,
        })
    }
}
