//! Values between trialog's model and Optuna's Python objects.
//!
//! Out: `FrozenTrial` / `FrozenStudy` / distribution objects of Optuna itself; parameters in
//! external representation; attributes as the JSON values Optuna's journal gives back (scalars,
//! lists, dicts; huge integers and strings with lone surrogates through `json.loads`, exactly as
//! Optuna reads them); datetimes naive, in the host's local time (Optuna's `datetime.now()`).
//! In: attributes as `json.dumps` text and distributions as `distribution_to_json` text (the
//! Python side makes both, so a value Optuna's journal cannot hold fails the same way), parsed
//! by the library's Optuna codec.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::{Arc, OnceLock};

use pyo3::IntoPyObjectExt;
use pyo3::exceptions::PyValueError;
use pyo3::intern;
use pyo3::prelude::*;
use pyo3::types::{PyDateTime, PyDict, PyList, PyString, PyTuple};
use trialog::journal::optuna_codec::{
    attr_from_json, attr_to_json, distribution_from_json, distribution_to_json,
};
use trialog::model::{
    AttrValue, Distribution, FrozenStudy, FrozenTrial, Integer, MAX_INT_DIGITS, ParamValue,
    Timestamp, TrialState, civil_from_days,
};

use crate::optuna::Optuna;

/// A parameter value as Optuna's `FrozenTrial.params` holds it.
pub fn param_to_py<'py>(py: Python<'py>, v: &ParamValue) -> PyResult<Bound<'py, PyAny>> {
    match v {
        ParamValue::Null => Ok(py.None().into_bound(py)),
        ParamValue::Bool(b) => b.into_bound_py_any(py),
        ParamValue::Int(i) => i.into_bound_py_any(py),
        ParamValue::BigInt(b) => big_int(py, b.as_str()),
        ParamValue::Float(f) => f.into_bound_py_any(py),
        ParamValue::Str(s) => s.into_bound_py_any(py),
    }
}

fn big_int<'py>(py: Python<'py>, digits: &str) -> PyResult<Bound<'py, PyAny>> {
    py.get_type::<pyo3::types::PyInt>().call1((digits,))
}

/// A Python `int` of an [`Integer`] (an intermediate step).
pub fn integer_to_py<'py>(py: Python<'py>, i: &Integer) -> PyResult<Bound<'py, PyAny>> {
    match i {
        Integer::Small(v) => v.into_bound_py_any(py),
        Integer::Big(b) => big_int(py, b.as_str()),
    }
}

/// A Python `int` of any size as an [`Integer`] (an intermediate step); `TypeError` for any
/// other type, `ValueError` past the digits Python itself converts.
pub fn integer_from_py(obj: &Bound<'_, PyAny>) -> PyResult<Integer> {
    if !obj.is_instance_of::<pyo3::types::PyInt>() {
        let kind = obj.get_type().name()?;
        return Err(pyo3::exceptions::PyTypeError::new_err(format!(
            "an intermediate step must be an int, not {kind}"
        )));
    }
    if let Ok(v) = obj.extract::<i64>() {
        return Ok(Integer::Small(v));
    }
    let text = obj.str()?.to_string();
    Integer::parse(&text).ok_or_else(|| {
        PyValueError::new_err(format!(
            "intermediate step {text} has more than {MAX_INT_DIGITS} digits"
        ))
    })
}

/// An attribute value as Optuna's journal reads it back (`json.loads` of what it wrote).
pub fn attr_to_py<'py>(py: Python<'py>, v: &AttrValue) -> PyResult<Bound<'py, PyAny>> {
    match v {
        AttrValue::Null => Ok(py.None().into_bound(py)),
        AttrValue::Bool(b) => b.into_bound_py_any(py),
        AttrValue::Int(i) => i.into_bound_py_any(py),
        AttrValue::Float(f) => f.into_bound_py_any(py),
        AttrValue::String(s) => s.into_bound_py_any(py),
        AttrValue::Array(items) => {
            let items: Vec<_> = items.iter().map(|i| attr_to_py(py, i)).collect::<PyResult<_>>()?;
            Ok(PyList::new(py, items)?.into_any())
        }
        AttrValue::Map(map) => {
            let d = PyDict::new(py);
            for (k, v) in map {
                d.set_item(k, attr_to_py(py, v)?)?;
            }
            Ok(d.into_any())
        }
        // Huge integers and lone surrogates: Python's own JSON reader makes them what Optuna
        // gets.
        AttrValue::BigInt(_) | AttrValue::Utf16(_) => {
            Optuna::get(py)?.json_loads.bind(py).call1((attr_to_json(v),))
        }
    }
}

/// Attributes as a dict.
pub fn attrs_to_py<'a, 'py>(
    py: Python<'py>,
    attrs: impl IntoIterator<Item = (&'a String, &'a AttrValue)>,
) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    for (k, v) in attrs {
        d.set_item(k, attr_to_py(py, v)?)?;
    }
    Ok(d)
}

/// An attribute from `json.dumps` text (`ValueError` naming the key if it is not JSON).
pub fn attr_from_py(key: &str, json: &str) -> PyResult<AttrValue> {
    attr_from_json(json)
        .map_err(|e| PyValueError::new_err(format!("attribute {key:?}: {e} in {json:.80?}")))
}

/// A distribution from `distribution_to_json` text.
pub fn distribution_from_py(name: &str, json: &str) -> PyResult<Distribution> {
    distribution_from_json(json)
        .map_err(|e| PyValueError::new_err(format!("distribution of {name:?}: {e}")))
}

/// The host's time zone (read once, as Python's `time` module reads it once).
fn local_zone() -> &'static jiff::tz::TimeZone {
    static LOCAL: OnceLock<jiff::tz::TimeZone> = OnceLock::new();
    LOCAL.get_or_init(jiff::tz::TimeZone::system)
}

/// The host's offset from UTC at `micros`, in seconds (one time-zone lookup per hour of trial
/// datetimes: the last hour's answer is kept, since offsets change on the hour or half hour at
/// most once in a while and a study's trials come in time order).
fn local_offset(cache: &mut Option<(i64, i64)>, micros: i64) -> i64 {
    const HOUR: i64 = 3_600_000_000;
    let hour = micros.div_euclid(HOUR);
    if let Some((h, offset)) = *cache
        && h == hour
    {
        return offset;
    }
    let offset = jiff::Timestamp::from_microsecond(hour * HOUR)
        .map(|t| i64::from(local_zone().to_offset(t).seconds()))
        .unwrap_or(0);
    // Only cache hours whose start and end have the same offset (a transition may fall inside).
    let end = jiff::Timestamp::from_microsecond(hour * HOUR + HOUR - 1)
        .map(|t| i64::from(local_zone().to_offset(t).seconds()))
        .unwrap_or(0);
    if end == offset {
        *cache = Some((hour, offset));
        return offset;
    }
    jiff::Timestamp::from_microsecond(micros)
        .map(|t| i64::from(local_zone().to_offset(t).seconds()))
        .unwrap_or(0)
}

/// A naive datetime in local time, as Optuna's storages hold trial datetimes.
fn time_to_py<'py>(
    py: Python<'py>,
    cache: &mut Option<(i64, i64)>,
    t: Option<Timestamp>,
) -> PyResult<Bound<'py, PyAny>> {
    let Some(t) = t else { return Ok(py.None().into_bound(py)) };
    let local = t.as_micros().saturating_add(local_offset(cache, t.as_micros()) * 1_000_000);
    let (days, micros) = (local.div_euclid(86_400_000_000), local.rem_euclid(86_400_000_000));
    let (year, month, day) = civil_from_days(days);
    // Months and days fit a u8 (1-12, 1-31).
    let (month, day) = (month as u8, day as u8);
    let secs = micros / 1_000_000;
    let (hour, minute, second) = ((secs / 3600) as u8, (secs / 60 % 60) as u8, (secs % 60) as u8);
    let micro = (micros % 1_000_000) as u32;
    // CPython's own C constructor (`PyDateTime_FromDateAndTime`, not in the stable ABI), which
    // checks every field; a year outside 1..=9999 raises datetime's own `ValueError`.
    let year = i32::try_from(year)
        .map_err(|_| PyValueError::new_err(format!("datetime {t} is out of range")))?;
    Ok(PyDateTime::new(py, year, month, day, hour, minute, second, micro, None)?.into_any())
}

/// Python's cyclic garbage collector paused while many objects are built (each collection
/// walks every object built so far, which made building 100k trials 5x slower), and resumed, if
/// it was on, when dropped.
pub struct GcPause<'py> {
    py: Python<'py>,
    resume: bool,
}

impl<'py> GcPause<'py> {
    /// Pauses the collector.
    pub fn new(py: Python<'py>) -> PyResult<Self> {
        let [disable, _, isenabled] = &Optuna::get(py)?.gc;
        let resume = isenabled.bind(py).call0()?.is_truthy()?;
        disable.bind(py).call0()?;
        Ok(GcPause { py, resume })
    }
}

impl Drop for GcPause<'_> {
    fn drop(&mut self) {
        if self.resume {
            if let Ok(o) = Optuna::get(self.py) {
                // Cannot fail: gc.enable takes no arguments and raises nothing.
                let _ = o.gc[1].bind(self.py).call0();
            }
        }
    }
}

/// Hashing of the builder's keys, which are addresses (each trial's parameters look up two, so
/// SipHash, made for keys chosen by an adversary, cost more than the rest of the lookup).
type ByAddress = BuildHasherDefault<AddrHasher>;

/// Fibonacci hashing of each word written.
#[derive(Default)]
struct AddrHasher(u64);

impl Hasher for AddrHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        bytes.iter().for_each(|b| self.write_u64(u64::from(*b)));
    }

    fn write_u64(&mut self, word: u64) {
        self.0 = (self.0.rotate_left(5) ^ word).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    }

    fn write_usize(&mut self, word: usize) {
        self.write_u64(word as u64);
    }
}

/// Builds Optuna objects for one call, sharing one distribution object between the trials of
/// the answer that share the library's (as Optuna's own storage shares them).
pub struct Builder<'py> {
    py: Python<'py>,
    optuna: &'py Optuna,
    distributions: HashMap<*const Distribution, Bound<'py, PyAny>, ByAddress>,
    /// The same by JSON text, for equal distributions the library holds apart.
    by_json: HashMap<String, Bound<'py, PyAny>>,
    names: HashMap<*const str, Bound<'py, PyString>, ByAddress>,
    /// The last hour's local offset (see `local_offset`).
    offset: Option<(i64, i64)>,
    /// Whether the trials built are taken out of the cyclic collector's view (`untrack`).
    untrack: bool,
}

/// Takes `obj`, when the cyclic collector tracks it, out of the collector's view, as CPython
/// does itself for tuples and dicts that hold only atomic values.
///
/// For a trial and its containers just built, which hold only numbers, strings, datetimes,
/// enum members and the shared distribution objects, so no reference cycle runs through them:
/// the collector then never walks them (a collection after building 100k trials walked all of
/// their ~300k containers, 0.3-0.6 s). A dict the caller later gives a container is tracked
/// again by CPython itself; a cycle the caller builds through an untracked trial or list is
/// never collected (its memory stays until exit), a leak, never a dangling object.
fn untrack(obj: &Bound<'_, PyAny>) {
    // SAFETY: `PyObject_GC_IsTracked` is defined for every object (0 for a type without GC
    // support), and `PyObject_GC_UnTrack` is called only on a tracked, hence GC-capable, object
    // with the GIL held (`Bound` proves it).
    unsafe {
        if pyo3::ffi::PyObject_GC_IsTracked(obj.as_ptr()) == 1 {
            pyo3::ffi::PyObject_GC_UnTrack(obj.as_ptr().cast());
        }
    }
}

impl<'py> Builder<'py> {
    /// A builder for one answer.
    pub fn new(py: Python<'py>) -> PyResult<Self> {
        Ok(Builder {
            py,
            optuna: Optuna::get(py)?,
            distributions: HashMap::default(),
            by_json: HashMap::new(),
            names: HashMap::default(),
            offset: None,
            untrack: false,
        })
    }

    /// A builder for one answer of many trials, whose trials and their containers are taken out
    /// of the cyclic collector's view (see `untrack`).
    pub fn untracking(py: Python<'py>) -> PyResult<Self> {
        Ok(Builder { untrack: true, ..Builder::new(py)? })
    }

    fn distribution(&mut self, d: &Arc<Distribution>) -> PyResult<Bound<'py, PyAny>> {
        if let Some(obj) = self.distributions.get(&Arc::as_ptr(d)) {
            return Ok(obj.clone());
        }
        let json = distribution_to_json(d);
        let obj = match self.by_json.get(&json) {
            Some(obj) => obj.clone(),
            None => {
                let obj = self.optuna.json_to_distribution.bind(self.py).call1((&json,))?;
                self.by_json.insert(json, obj.clone());
                obj
            }
        };
        self.distributions.insert(Arc::as_ptr(d), obj.clone());
        Ok(obj)
    }

    fn name(&mut self, n: &Arc<str>) -> Bound<'py, PyString> {
        self.names.entry(Arc::as_ptr(n)).or_insert_with(|| PyString::new(self.py, n)).clone()
    }

    /// `TrialState(state)`.
    pub fn state(&self, s: TrialState) -> Bound<'py, PyAny> {
        self.optuna.trial_states[s as usize].bind(self.py).clone()
    }

    /// Optuna's `FrozenTrial` of `t`.
    pub fn trial(&mut self, t: &FrozenTrial) -> PyResult<Bound<'py, PyAny>> {
        let py = self.py;
        let params = PyDict::new(py);
        for (name, value) in &t.params {
            params.set_item(self.name(name), param_to_py(py, value)?)?;
        }
        let distributions = PyDict::new(py);
        for (name, d) in t.distributions.iter() {
            distributions.set_item(self.name(name), self.distribution(d)?)?;
        }
        let intermediate = PyDict::new(py);
        for (step, v) in &t.intermediate_values {
            intermediate.set_item(integer_to_py(py, step)?, v)?;
        }
        let values = match &t.values {
            Some(v) => PyList::new(py, v.iter())?.into_any(),
            None => py.None().into_bound(py),
        };
        let user = attrs_to_py(py, t.user_attrs.iter())?.into_any();
        let system = attrs_to_py(py, t.system_attrs.iter())?.into_any();
        if self.untrack {
            // Only the containers built here: never a shared object (the state, a distribution).
            for fresh in [&values, params.as_any(), &user, &system, &intermediate, &distributions] {
                untrack(fresh);
            }
        }
        let fields = [
            t.number.into_bound_py_any(py)?,
            self.state(t.state),
            values,
            time_to_py(py, &mut self.offset, t.datetime_start)?,
            time_to_py(py, &mut self.offset, t.datetime_complete)?,
            params.into_any(),
            user,
            system,
            intermediate.into_any(),
            distributions.into_any(),
            t.trial_id.into_bound_py_any(py)?,
        ];
        let class = self.optuna.frozen_trial.bind(py);
        match &self.optuna.trial_fields {
            // What `__init__` would set, set directly in its order (checked against this
            // Optuna's `FrozenTrial` when it was imported). One attribute at a time, not a
            // whole `__dict__`: so the instance keeps the class's shared-key layout, as one
            // `__init__` built (about a third less memory per trial, and faster to build).
            Some(names) => {
                let trial = self.optuna.new_trial(py)?;
                for (name, value) in names.iter().zip(fields) {
                    trial.setattr(name.bind(py), value)?;
                }
                if self.untrack {
                    untrack(&trial);
                }
                Ok(trial)
            }
            None => {
                let [number, state, values, start, complete, params, user, system, iv, dists, id] =
                    fields;
                let args = PyTuple::new(
                    py,
                    [
                        number,
                        state,
                        py.None().into_bound(py),
                        start,
                        complete,
                        params,
                        dists,
                        user,
                        system,
                        iv,
                        id,
                    ],
                )?;
                let kwargs = PyDict::new(py);
                kwargs.set_item(intern!(py, "values"), values)?;
                class.call(args, Some(&kwargs))
            }
        }
    }

    /// Optuna's `FrozenStudy` of `s`.
    pub fn study(&self, s: &FrozenStudy) -> PyResult<Bound<'py, PyAny>> {
        let py = self.py;
        let directions: Vec<_> = s.directions.iter().map(|d| self.direction(d.code())).collect();
        let kwargs = PyDict::new(py);
        kwargs.set_item("directions", directions)?;
        self.optuna.frozen_study.bind(py).call(
            (
                &s.study_name,
                py.None(),
                attrs_to_py(py, s.user_attrs.iter())?,
                attrs_to_py(py, s.system_attrs.iter())?,
                s.study_id,
            ),
            Some(&kwargs),
        )
    }

    /// `StudyDirection(code)`.
    pub fn direction(&self, code: u8) -> Bound<'py, PyAny> {
        self.optuna.directions[usize::from(code).min(2)].bind(self.py).clone()
    }
}

/// The trial state of Optuna's code (`ValueError` for another).
pub fn state_from_code(code: u8) -> PyResult<TrialState> {
    TrialState::ALL
        .into_iter()
        .find(|s| *s as u8 == code)
        .ok_or_else(|| PyValueError::new_err(format!("unknown trial state {code}")))
}

/// A trial template as the Python side hands it over: `(state, values, datetime_start,
/// datetime_complete, params, user_attrs, system_attrs, intermediate_values)`, datetimes as
/// microseconds since the epoch, params as `(name, distribution JSON, internal value)` in the
/// template's order, attributes as `(key, json.dumps text)`.
pub type TemplateArgs = (
    u8,
    Option<Vec<f64>>,
    Option<i64>,
    Option<i64>,
    Vec<(String, String, f64)>,
    Vec<(String, String)>,
    Vec<(String, String)>,
    Vec<(Py<PyAny>, f64)>,
);

/// The library's template of study `study_id` from [`TemplateArgs`].
pub fn template_from_py(py: Python<'_>, study_id: u64, t: TemplateArgs) -> PyResult<FrozenTrial> {
    let (state, values, start, complete, params, user_attrs, system_attrs, intermediate) = t;
    let mut trial = FrozenTrial::new(0, 0, study_id, state_from_code(state)?);
    trial.values = values.map(|v| v.as_slice().into());
    trial.datetime_start = start.map(Timestamp);
    trial.datetime_complete = complete.map(Timestamp);
    for (name, json, internal) in params {
        let dist = distribution_from_py(&name, &json)?;
        let value = dist.to_external(internal).ok_or_else(|| {
            PyValueError::new_err(format!(
                "parameter {name:?}: {internal} is not in its distribution"
            ))
        })?;
        let name: Arc<str> = Arc::from(name.as_str());
        trial.params.insert(Arc::clone(&name), value);
        trial.distributions.insert(name, Arc::new(dist));
    }
    let attrs = |pairs: Vec<(String, String)>| -> PyResult<Vec<(String, AttrValue)>> {
        pairs.into_iter().map(|(k, v)| Ok((k.clone(), attr_from_py(&k, &v)?))).collect()
    };
    trial.user_attrs = attrs(user_attrs)?.into_iter().collect();
    trial.system_attrs = attrs(system_attrs)?.into_iter().collect();
    trial.intermediate_values = intermediate
        .into_iter()
        .map(|(step, v)| Ok((integer_from_py(step.bind(py))?, v)))
        .collect::<PyResult<_>>()?;
    Ok(trial)
}
