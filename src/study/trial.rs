//! `Trial`: the handle an objective uses to suggest parameters and report progress.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use super::sampler::{SampleContext, Sampler};
use crate::backend::{FileBackend, LogBackend};
use crate::error::{Error, Result};
use crate::model::{AttrValue, Distribution, FrozenTrial, ParamValue, StudyDirection};
use crate::storage::JournalStorage;

/// System attribute holding a trial's fixed parameter values (a map from name to value), as
/// Optuna's `fixed_params`: `suggest_*` returns them instead of sampling.
pub const FIXED_PARAMS_ATTR: &str = "fixed_params";

/// A RUNNING trial claimed by this worker (returned by `Study::ask`).
///
/// Guarantees: the same parameter suggested twice returns the same value; a parameter the
/// trial already has (from an enqueued template) or is fixed to (a grid point) is returned
/// instead of being sampled, after checking it against the suggested distribution; every value
/// returned was durably written to the journal first.
pub struct Trial<B: LogBackend = FileBackend> {
    storage: Arc<JournalStorage<B>>,
    sampler: Arc<dyn Sampler>,
    directions: Arc<[StudyDirection]>,
    study_id: u64,
    trial_id: u64,
    number: u64,
    fixed: BTreeMap<String, ParamValue>,
    params: BTreeMap<String, (ParamValue, Distribution)>,
}

impl<B: LogBackend> fmt::Debug for Trial<B> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Trial")
            .field("study_id", &self.study_id)
            .field("trial_id", &self.trial_id)
            .field("number", &self.number)
            .field("params", &self.params)
            .finish_non_exhaustive()
    }
}

/// The external value of an attribute, if it is a scalar a parameter can take.
fn param_from_attr(v: &AttrValue) -> Option<ParamValue> {
    Some(match v {
        AttrValue::Null => ParamValue::Null,
        AttrValue::Bool(b) => ParamValue::Bool(*b),
        AttrValue::Int(i) => ParamValue::Int(*i),
        AttrValue::BigInt(i) => ParamValue::BigInt(i.clone()),
        AttrValue::Float(x) => ParamValue::Float(*x),
        AttrValue::String(s) => ParamValue::Str(s.clone()),
        AttrValue::Utf16(_) | AttrValue::Array(_) | AttrValue::Map(_) => return None,
    })
}

/// The attribute form of a parameter value.
pub(crate) fn attr_from_param(v: &ParamValue) -> AttrValue {
    match v {
        ParamValue::Null => AttrValue::Null,
        ParamValue::Bool(b) => AttrValue::Bool(*b),
        ParamValue::Int(i) => AttrValue::Int(*i),
        ParamValue::BigInt(i) => AttrValue::BigInt(i.clone()),
        ParamValue::Float(x) => AttrValue::Float(*x),
        ParamValue::Str(s) => AttrValue::String(s.clone()),
    }
}

impl<B: LogBackend> Trial<B> {
    /// A handle on the claimed trial `snapshot`.
    pub(crate) fn new(
        storage: Arc<JournalStorage<B>>,
        sampler: Arc<dyn Sampler>,
        directions: Arc<[StudyDirection]>,
        snapshot: &FrozenTrial,
    ) -> Self {
        let fixed = match snapshot.system_attrs.get(FIXED_PARAMS_ATTR) {
            Some(AttrValue::Map(m)) => {
                m.iter().filter_map(|(k, v)| Some((k.clone(), param_from_attr(v)?))).collect()
            }
            _ => BTreeMap::new(),
        };
        let params = snapshot
            .params
            .iter()
            .filter_map(|(name, value)| {
                let dist = snapshot.distributions.get(name)?;
                Some((name.to_string(), (value.clone(), Distribution::clone(dist))))
            })
            .collect();
        Trial {
            storage,
            sampler,
            directions,
            study_id: snapshot.study_id,
            trial_id: snapshot.trial_id,
            number: snapshot.number,
            fixed,
            params,
        }
    }

    /// The trial's number within its study.
    pub fn number(&self) -> u64 {
        self.number
    }

    /// The trial's id (unique in the journal).
    pub fn id(&self) -> u64 {
        self.trial_id
    }

    /// The study the trial belongs to.
    pub fn study_id(&self) -> u64 {
        self.study_id
    }

    /// The value of a parameter already suggested (or set by a template) in this trial.
    pub fn param(&self, name: &str) -> Option<&ParamValue> {
        self.params.get(name).map(|(v, _)| v)
    }

    /// The external value of parameter `name` drawn from `dist`: the trial's existing value if
    /// it has one (the distributions must be compatible, else `IncompatibleDistribution`), else
    /// its fixed value (which must lie in `dist`, else `InvalidArgument`), else the sampler's.
    /// The value is written to the journal before it is returned.
    pub fn suggest(&mut self, name: &str, dist: Distribution) -> Result<ParamValue> {
        if let Some((value, existing)) = self.params.get(name) {
            existing.check_compatible(name, &dist)?;
            return Ok(value.clone());
        }
        let internal = match self.fixed.get(name) {
            Some(value) => {
                let internal = dist.to_internal(value)?;
                if !dist.contains(internal) {
                    return Err(Error::invalid(format_args!(
                        "fixed value {value} of parameter {name:?} is outside the suggested {}",
                        dist.kind_name()
                    )));
                }
                internal
            }
            None => {
                let ctx = SampleContext::new(
                    self.study_id,
                    &self.directions,
                    self.trial_id,
                    self.number,
                    &*self.storage,
                );
                self.sampler.sample(&ctx, name, &dist)?
            }
        };
        let value = dist.to_external(internal).ok_or_else(|| {
            Error::invalid(format_args!(
                "sampled value {internal:?} of {name:?} is not representable"
            ))
        })?;
        self.storage.set_trial_param(self.trial_id, name, internal, &dist)?;
        self.params.insert(name.to_owned(), (value.clone(), dist));
        Ok(value)
    }

    fn float_of(value: ParamValue) -> Result<f64> {
        match value {
            ParamValue::Float(x) => Ok(x),
            ParamValue::Int(i) => Ok(i as f64),
            other => Err(Error::invalid(format_args!("{other} is not a float"))),
        }
    }

    fn int_of(value: ParamValue) -> Result<i64> {
        match value {
            ParamValue::Int(i) => Ok(i),
            other => Err(Error::invalid(format_args!("{other} is not an int"))),
        }
    }

    /// A float in `[low, high]` (uniform for the random sampler). See [`Trial::suggest`].
    pub fn suggest_float(&mut self, name: &str, low: f64, high: f64) -> Result<f64> {
        Self::float_of(self.suggest(name, Distribution::float(low, high, false, None)?)?)
    }

    /// A float in `[low, high]` on a log scale (`low > 0`). See [`Trial::suggest`].
    pub fn suggest_float_log(&mut self, name: &str, low: f64, high: f64) -> Result<f64> {
        Self::float_of(self.suggest(name, Distribution::float(low, high, true, None)?)?)
    }

    /// A float on the grid `low + k * step` within `[low, high]`. See [`Trial::suggest`].
    pub fn suggest_float_step(
        &mut self,
        name: &str,
        low: f64,
        high: f64,
        step: f64,
    ) -> Result<f64> {
        Self::float_of(self.suggest(name, Distribution::float(low, high, false, Some(step))?)?)
    }

    /// An integer in `[low, high]` (both inclusive). See [`Trial::suggest`].
    pub fn suggest_int(&mut self, name: &str, low: i64, high: i64) -> Result<i64> {
        Self::int_of(self.suggest(name, Distribution::int(low, high, false, 1)?)?)
    }

    /// An integer in `[low, high]` on a log scale (`low >= 1`). See [`Trial::suggest`].
    pub fn suggest_int_log(&mut self, name: &str, low: i64, high: i64) -> Result<i64> {
        Self::int_of(self.suggest(name, Distribution::int(low, high, true, 1)?)?)
    }

    /// An integer on the grid `low + k * step` within `[low, high]`. See [`Trial::suggest`].
    pub fn suggest_int_step(&mut self, name: &str, low: i64, high: i64, step: i64) -> Result<i64> {
        Self::int_of(self.suggest(name, Distribution::int(low, high, false, step)?)?)
    }

    /// One of `choices` (returned as given): any values that convert into [`ParamValue`], e.g.
    /// `["adam", "sgd"]` or `[1i64, 2, 4]`. See [`Trial::suggest`].
    pub fn suggest_categorical<C: Into<ParamValue>>(
        &mut self,
        name: &str,
        choices: impl IntoIterator<Item = C>,
    ) -> Result<ParamValue> {
        let choices = choices.into_iter().map(Into::into).collect();
        self.suggest(name, Distribution::categorical(choices)?)
    }

    /// Records the intermediate objective value at `step` (durable when this returns).
    pub fn report(&self, step: i64, value: f64) -> Result<()> {
        self.storage.set_trial_intermediate_value(self.trial_id, step, value)
    }

    /// Sets a user attribute of the trial (durable when this returns).
    pub fn set_user_attr(&self, key: &str, value: impl Into<AttrValue>) -> Result<()> {
        self.storage.set_trial_user_attr(self.trial_id, key, value.into())
    }

    /// A fresh snapshot of the trial from the storage.
    pub fn snapshot(&self) -> Result<Arc<FrozenTrial>> {
        self.storage.get_trial(self.trial_id)
    }
}
