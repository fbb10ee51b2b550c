//! The Python objects of Optuna the bindings build and raise, imported once per interpreter.

use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyDict, PyString, PyTuple, PyType};

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
    /// The instance attributes `FrozenTrial.__init__` sets, in [`TRIAL_FIELDS`] order, if this
    /// Optuna's `FrozenTrial` sets exactly those in that order (then trials are built by setting
    /// them in that order on `object.__new__(FrozenTrial)`, without running `__init__`: the
    /// same attributes in the same layout); `None` otherwise (then `__init__` runs).
    pub trial_fields: Option<Vec<Py<PyString>>>,
    /// `gc.disable`, `gc.enable` and `gc.isenabled`.
    pub gc: [Py<PyAny>; 3],
}

/// The instance attributes of Optuna 5.0's `FrozenTrial`, as its `__init__` sets them.
pub const TRIAL_FIELDS: [&str; 11] = [
    "_number",
    "state",
    "_values",
    "_datetime_start",
    "datetime_complete",
    "_params",
    "_user_attrs",
    "_system_attrs",
    "intermediate_values",
    "_distributions",
    "_trial_id",
];

static OPTUNA: PyOnceLock<Optuna> = PyOnceLock::new();

impl Optuna {
    /// A new `FrozenTrial` with no attributes set: `object.__new__(FrozenTrial)`, by a direct call
    /// of `object`'s allocating slot (`tp_new`) rather than through the `object.__new__`
    /// method, which costs a method call and an argument tuple per trial.
    pub fn new_trial<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let class = self.frozen_trial.bind(py);
        let args = PyTuple::empty(py);
        // SAFETY: `PyBaseObject_Type` is `object`, whose `tp_new` (`object_new`) is always set;
        // it is called with the GIL held (`py`), a live type object that is a subclass of
        // `object` (every class is), an argument tuple, and no keywords, as `object.__new__`
        // calls it; it returns a new reference or null with an exception set.
        unsafe {
            let Some(new) = (*std::ptr::addr_of!(pyo3::ffi::PyBaseObject_Type)).tp_new else {
                return Err(pyo3::exceptions::PyTypeError::new_err("object has no tp_new"));
            };
            let obj = new(class.as_ptr().cast(), args.as_ptr(), std::ptr::null_mut());
            Bound::from_owned_ptr_or_err(py, obj)
        }
    }

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
        let frozen_trial = class("optuna.trial", "FrozenTrial")?;
        let gc = |name: &str| -> PyResult<Py<PyAny>> { Ok(attr("gc", name)?.unbind()) };
        Ok(Optuna {
            trial_fields: trial_fields(frozen_trial.bind(py))?,
            frozen_trial,
            frozen_study: class("optuna.study._frozen", "FrozenStudy")?,
            trial_states: members("optuna.trial", "TrialState", 5)?,
            directions: members("optuna.study", "StudyDirection", 3)?,
            json_to_distribution: attr("optuna.distributions", "json_to_distribution")?.unbind(),
            json_loads: attr("json", "loads")?.unbind(),
            duplicated_study_error: class("optuna.exceptions", "DuplicatedStudyError")?,
            update_finished_trial_error: class("optuna.exceptions", "UpdateFinishedTrialError")?,
            gc: [gc("disable")?, gc("enable")?, gc("isenabled")?],
        })
    }
}

/// [`TRIAL_FIELDS`] as Python strings, if a `FrozenTrial` built by its `__init__` has exactly
/// those instance attributes, set in that order (the order decides the instance's layout).
fn trial_fields(class: &Bound<'_, PyType>) -> PyResult<Option<Vec<Py<PyString>>>> {
    let py = class.py();
    let none = || py.None().into_bound(py);
    let args = PyTuple::new(
        py,
        [
            0i64.into_pyobject(py)?.into_any(),
            none(),
            none(),
            none(),
            none(),
            PyDict::new(py).into_any(),
            PyDict::new(py).into_any(),
            PyDict::new(py).into_any(),
            PyDict::new(py).into_any(),
            PyDict::new(py).into_any(),
            0i64.into_pyobject(py)?.into_any(),
        ],
    )?;
    let Ok(sample) = class.call1(args) else { return Ok(None) };
    let keys: Vec<String> = sample.getattr("__dict__")?.cast_into::<PyDict>()?.keys().extract()?;
    if keys != TRIAL_FIELDS {
        return Ok(None);
    }
    Ok(Some(TRIAL_FIELDS.iter().map(|f| PyString::intern(py, f).unbind()).collect()))
}
