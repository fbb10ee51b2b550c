//! `Trial`: the handle an objective uses to suggest parameters and report progress.

use std::cell::Cell;
use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use super::pruner::Pruner;
use super::sampler::{AttrWrites, SampleContext, Sampler, SearchSpace, single_value};
use crate::error::{Error, Result};
use crate::model::{AttrValue, Distribution, FrozenTrial, ParamValue, StudyDirection};
use crate::storage::{JournalStorage, Storage};

/// System attribute holding a trial's fixed parameter values (a map from name to value), as
/// Optuna's `fixed_params`: `suggest_*` returns them instead of sampling.
pub const FIXED_PARAMS_ATTR: &str = "fixed_params";

/// A RUNNING trial claimed by this worker (returned by `Study::ask`).
///
/// Guarantees: the same parameter suggested twice returns the same value; a parameter the
/// trial already has (from an enqueued template) or is fixed to (a grid point) is returned
/// instead of being sampled, after checking it against the suggested distribution; every value
/// returned was durably written to the journal first.
pub struct Trial<S: Storage + ?Sized = JournalStorage> {
    storage: Arc<S>,
    sampler: Arc<dyn Sampler>,
    pruner: Arc<dyn Pruner>,
    directions: Arc<[StudyDirection]>,
    study_id: u64,
    trial_id: u64,
    number: u64,
    /// Which random draws the sampler makes for this trial (`SampleContext::draw_number`).
    draw_number: u64,
    fixed: BTreeMap<String, ParamValue>,
    params: BTreeMap<String, (ParamValue, Distribution)>,
    /// The relative search space and the sampler's joint draw over it (internal values), made
    /// on the first suggestion that needs the sampler.
    relative: Option<(SearchSpace, BTreeMap<String, f64>)>,
    /// The last `should_prune` said yes (and nothing was reported since).
    prune_requested: Cell<bool>,
}

impl<S: Storage + ?Sized> fmt::Debug for Trial<S> {
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

impl<S: Storage + ?Sized> Trial<S> {
    /// A handle on the claimed trial `snapshot`, sampled with draw number `draw_number`.
    pub(crate) fn new(
        storage: Arc<S>,
        sampler: Arc<dyn Sampler>,
        pruner: Arc<dyn Pruner>,
        directions: Arc<[StudyDirection]>,
        snapshot: &FrozenTrial,
        draw_number: u64,
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
            pruner,
            directions,
            study_id: snapshot.study_id,
            trial_id: snapshot.trial_id,
            number: snapshot.number,
            draw_number,
            fixed,
            params,
            relative: None,
            prune_requested: Cell::new(false),
        }
    }

    /// The trial's number within its study.
    pub fn number(&self) -> u64 {
        self.number
    }

    /// Which random draws the sampler makes for this trial: its number, unless the study holds
    /// retries (see [`SampleContext::draw_number`]).
    pub fn draw_number(&self) -> u64 {
        self.draw_number
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
    /// its fixed value (which must lie in `dist`, else `InvalidArgument`), else the only value
    /// of a single-valued `dist`, else the sampler's joint (relative) draw if it covers `name`
    /// with a compatible distribution and a value inside `dist`, else the sampler's independent
    /// draw. The value is written to the journal before it is returned.
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
            None => match single_value(&dist) {
                Some(v) => v,
                None => match self.relative_value(name, &dist)? {
                    Some(v) => v,
                    None => self.sampler.sample(&self.context(), name, &dist)?,
                },
            },
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
        self.prune_requested.set(false);
        self.storage.set_trial_intermediate_value(self.trial_id, step, value)
    }

    /// Whether the study's pruner says to stop this trial now, judging by the values reported
    /// so far (Optuna's `should_prune`). Attributes the pruner keeps (successive halving's
    /// rungs) are written first. After a `true`, an objective run by `Study::optimize` that
    /// returns an error (any error, e.g. `Error::TrialPruned`) before reporting again is
    /// recorded as PRUNED, not FAIL. `InvalidArgument` for a multi-objective study, which
    /// Optuna's pruners do not support.
    pub fn should_prune(&self) -> Result<bool> {
        if self.directions.len() > 1 {
            return Err(Error::invalid(
                "should_prune is not supported for multi-objective studies",
            ));
        }
        let snapshot = self.storage.get_trial(self.trial_id)?;
        let decision = self.pruner.prune(&self.context(), &snapshot)?;
        self.write_attrs(&decision.writes)?;
        self.prune_requested.set(decision.prune);
        Ok(decision.prune)
    }

    /// `Err(Error::TrialPruned)` when [`Trial::should_prune`] says to stop, for `?` in an
    /// objective: `trial.report(step, loss)?; trial.prune_if_needed()?;`.
    pub fn prune_if_needed(&self) -> Result<()> {
        if self.should_prune()? {
            return Err(Error::TrialPruned { trial_id: self.trial_id });
        }
        Ok(())
    }

    /// Whether the last [`Trial::should_prune`] said yes and nothing was reported since.
    pub fn prune_requested(&self) -> bool {
        self.prune_requested.get()
    }

    /// What the sampler and pruner see of this trial's study.
    fn context(&self) -> SampleContext<'_> {
        SampleContext::over_storage(
            self.study_id,
            &self.directions,
            self.trial_id,
            self.number,
            &*self.storage,
        )
        .with_draw_number(self.draw_number)
    }

    /// Records attributes a sampler or pruner asked for.
    fn write_attrs(&self, writes: &AttrWrites) -> Result<()> {
        for (key, value) in &writes.trial {
            self.storage.set_trial_system_attr(self.trial_id, key, value.clone())?;
        }
        for (key, value) in &writes.study {
            self.storage.set_study_system_attr(self.study_id, key, value.clone())?;
        }
        Ok(())
    }

    /// The sampler's joint draw for `name`, if it made one that fits `dist` (Optuna's
    /// `_is_relative_param`); the draw happens on the first call.
    fn relative_value(&mut self, name: &str, dist: &Distribution) -> Result<Option<f64>> {
        if self.relative.is_none() {
            let ctx = self.context();
            let space = self.sampler.infer_relative_search_space(&ctx)?;
            let sample = self.sampler.sample_relative(&ctx, &space)?;
            drop(ctx);
            self.write_attrs(&sample.writes)?;
            self.relative = Some((space, sample.params));
        }
        let Some((space, params)) = &self.relative else { return Ok(None) };
        let Some(value) = params.get(name) else { return Ok(None) };
        let Some(space_dist) = space.get(name) else {
            return Err(Error::invalid(format_args!(
                "parameter {name:?} was sampled jointly but is not in the relative search space"
            )));
        };
        space_dist.check_compatible(name, dist)?;
        // The joint draw is internal to the space's distribution; re-read it in `dist`'s.
        let external = space_dist.to_external(*value);
        let internal = external.and_then(|v| dist.to_internal(&v).ok());
        Ok(internal.filter(|x| dist.contains(*x)))
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
