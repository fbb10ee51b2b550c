//! `TpeSampler`: the Tree-structured Parzen Estimator with Optuna 5.0's defaults and meaning
//! (`optuna/samplers/_tpe/sampler.py`).
//!
//! Per trial: until `n_startup_trials` trials are COMPLETE or PRUNED, parameters are drawn at
//! random. After that, past trials are split into the best `gamma(n)` ("below") and the rest
//! ("above"), a [`parzen::ParzenEstimator`] is fitted to each, `n_ei_candidates` points are drawn
//! from the "below" estimator, and the one with the largest `l(x) / g(x)` wins. With
//! `multivariate` (the default for one objective) the parameters every finished trial shares
//! are drawn jointly once per trial; other parameters one at a time. With `constant_liar` (the
//! default) other workers' RUNNING trials count as "above", so parallel workers spread out; a
//! jointly drawn point is recorded in the trial's `tpe:relative_params:<i>` system attributes
//! (as Optuna does) so that other workers see all of it before it is suggested.

mod parzen;
mod pool;
mod split;
#[cfg(test)]
mod table;
mod truncnorm;

use std::collections::BTreeMap;
use std::sync::Arc;

use super::random::{RandomSampler, Seed, SplitMix64, stream};
use super::search_space::{intern, intersection_search_space, lookup, single_value};
use super::{AttrWrites, RelativeSample, SampleContext, Sampler, SearchSpace};
use crate::error::{Error, Result};
use crate::journal::json::{self, JsonValue};
use crate::journal::optuna_codec::param_json;
use crate::model::{AttrValue, Distribution, FrozenTrial, ParamValue, TrialState};
use parzen::{ParzenEstimator, ParzenParams};

/// Prefix of the system attributes holding a running trial's jointly drawn parameters (JSON,
/// in chunks of at most [`SYSTEM_ATTR_MAX_LENGTH`] characters), as Optuna 5.0 names them.
pub const RELATIVE_PARAMS_KEY: &str = "tpe:relative_params";
/// Longest chunk of [`RELATIVE_PARAMS_KEY`] (Optuna's limit for RDB storages).
const SYSTEM_ATTR_MAX_LENGTH: usize = 2045;

/// The settings of a [`TpeSampler`]; [`Default`] gives Optuna 5.0's defaults.
#[derive(Debug, Clone, PartialEq)]
pub struct TpeOptions {
    /// Random sampling until this many trials are COMPLETE or PRUNED (default 10).
    pub n_startup_trials: usize,
    /// Candidates drawn from `l(x)` per suggestion (default 24; at least 1).
    pub n_ei_candidates: usize,
    /// Draw the shared parameters jointly; `None` (default): yes for one objective, no for
    /// several, as Optuna.
    pub multivariate: Option<bool>,
    /// Count other workers' RUNNING trials as bad (default true).
    pub constant_liar: bool,
    /// Weight of the prior kernel (default 1.0; at least 0).
    pub prior_weight: f64,
    /// Optuna's "magic clip" of the smallest bandwidth (default true).
    pub consider_magic_clip: bool,
    /// Let the outermost observations' bandwidths reach the bounds (default false).
    pub consider_endpoints: bool,
}

impl Default for TpeOptions {
    fn default() -> Self {
        TpeOptions {
            n_startup_trials: 10,
            n_ei_candidates: 24,
            multivariate: None,
            constant_liar: true,
            prior_weight: 1.0,
            consider_magic_clip: true,
            consider_endpoints: false,
        }
    }
}

/// Optuna's `default_gamma` (one objective): `min(ceil(n / 10), 25)` trials below.
fn gamma(n: usize, multi_objective: bool) -> usize {
    let g = n.div_ceil(10);
    if multi_objective { g } else { g.min(25) }
}

/// The TPE sampler (see the module docs).
///
/// Reproducibility: with a seed, each suggestion is a pure function of the seed, the trial's
/// draw number ([`SampleContext::draw_number`], its number unless the study holds retries) and
/// the trials the storage holds at that moment, so a sequential study is the same run after
/// run, and a process that continues a study needs nothing but the journal and the seed.
///
/// State ([`Sampler::export_state`]): the seed.
#[derive(Debug, Clone)]
pub struct TpeSampler {
    seed: Seed,
    options: TpeOptions,
    random: RandomSampler,
}

impl TpeSampler {
    /// A sampler with Optuna's defaults and `seed` (`None`: a fresh seed per sampler).
    pub fn new(seed: Option<u64>) -> Self {
        let seed = Seed::new(seed);
        let random = RandomSampler::new(Some(seed.get()));
        TpeSampler { seed, options: TpeOptions::default(), random }
    }

    /// A sampler with `options`; `InvalidArgument` for `n_ei_candidates == 0` or a negative or
    /// non-finite `prior_weight`.
    pub fn with_options(seed: Option<u64>, options: TpeOptions) -> Result<Self> {
        if options.n_ei_candidates == 0 {
            return Err(Error::invalid("TPE needs n_ei_candidates >= 1"));
        }
        if !(options.prior_weight >= 0.0 && options.prior_weight.is_finite()) {
            return Err(Error::invalid(format_args!(
                "TPE needs a finite prior_weight >= 0, got {}",
                options.prior_weight
            )));
        }
        Ok(TpeSampler { options, ..TpeSampler::new(seed) })
    }

    /// The seed in use (print it to replay an unseeded run).
    pub fn seed(&self) -> u64 {
        self.seed.get()
    }

    /// The settings in use.
    pub fn options(&self) -> &TpeOptions {
        &self.options
    }

    fn multivariate(&self, ctx: &SampleContext<'_>) -> bool {
        self.options.multivariate.unwrap_or(!ctx.is_multi_objective())
    }

    /// The generator of one suggestion (a stream apart from the random startup sampler's).
    fn rng(&self, draw_number: u64, name: &str) -> SplitMix64 {
        stream(self.seed.get() ^ 0x7470_655f_7470_655f, draw_number, name)
    }

    /// The past trials TPE learns from: COMPLETE and PRUNED, plus other trials' RUNNING ones
    /// with the constant liar; and how many are finished.
    fn history(&self, ctx: &SampleContext<'_>) -> Result<(Vec<Arc<FrozenTrial>>, usize)> {
        let states: &[TrialState] = if self.options.constant_liar {
            &[TrialState::Complete, TrialState::Pruned, TrialState::Running]
        } else {
            &[TrialState::Complete, TrialState::Pruned]
        };
        let mut trials = ctx.trials(Some(states))?;
        trials.retain(|t| t.number != ctx.trial_number);
        let finished = trials.iter().filter(|t| t.state != TrialState::Running).count();
        Ok((trials, finished))
    }

    /// One TPE draw over `space` (internal values by name).
    fn sample_space(
        &self,
        ctx: &SampleContext<'_>,
        trials: &[Arc<FrozenTrial>],
        finished: usize,
        space: &[(&str, &Distribution)],
        rng: &mut SplitMix64,
    ) -> BTreeMap<String, f64> {
        let multi = ctx.is_multi_objective();
        let (below, above) = split::split_trials(trials, ctx.directions, gamma(finished, multi));
        let multivariate = self.multivariate(ctx);
        let params = ParzenParams {
            prior_weight: self.options.prior_weight,
            consider_magic_clip: self.options.consider_magic_clip,
            consider_endpoints: self.options.consider_endpoints,
        };
        let dists: Vec<&Distribution> = space.iter().map(|(_, d)| *d).collect();
        let obs_below = observations(&below, space, multivariate);
        let obs_above = observations(&above, space, multivariate);
        // Multi-objective TPE weights the good trials uniformly.
        let n_below = obs_below.first().map_or(0, Vec::len);
        let uniform = vec![1.0; n_below];
        let below_weights = multi.then_some(uniform.as_slice());
        let pe_below = ParzenEstimator::new(obs_below, &dists, &params, below_weights);
        let pe_above = ParzenEstimator::new(obs_above, &dists, &params, None);
        let candidates = pe_below.sample(rng, self.options.n_ei_candidates);
        let l = pe_below.log_pdf(&candidates);
        let g = pe_above.log_pdf(&candidates);
        // numpy's argmax: the first maximum.
        let mut best = 0;
        for i in 1..candidates.len() {
            if l[i] - g[i] > l[best] - g[best] {
                best = i;
            }
        }
        space.iter().zip(&candidates[best]).map(|((name, _), v)| ((*name).to_owned(), *v)).collect()
    }
}

/// The jointly drawn parameters a RUNNING trial recorded in its system attributes, as external
/// values (empty when there are none or the chunks do not parse, as Optuna falls back).
fn relative_params(trial: &FrozenTrial) -> Vec<(String, ParamValue)> {
    let mut text = String::new();
    for i in 0.. {
        match trial.system_attrs.get(&format!("{RELATIVE_PARAMS_KEY}:{i}")) {
            Some(AttrValue::String(s)) if !s.is_empty() => text.push_str(s),
            _ => break,
        }
    }
    if text.is_empty() {
        return Vec::new();
    }
    let Ok(JsonValue::Object(pairs)) = json::parse(text.as_bytes()) else {
        return Vec::new();
    };
    pairs
        .into_iter()
        .filter_map(|(k, v)| {
            let value = match v {
                JsonValue::Null => ParamValue::Null,
                JsonValue::Bool(b) => ParamValue::Bool(b),
                JsonValue::Int(i) => ParamValue::Int(i),
                JsonValue::BigInt(i) => ParamValue::BigInt(i),
                JsonValue::Float(x) => ParamValue::Float(x),
                JsonValue::Str(s) => ParamValue::Str(s),
                // Categorical choices with a lone surrogate are read with U+FFFD (docs/OPTUNA.md).
                JsonValue::Utf16(s) => ParamValue::Str(s.to_string_lossy()),
                JsonValue::Array(_) | JsonValue::Object(_) => return None,
            };
            Some((k, value))
        })
        .collect()
}

/// The internal values of `space`'s parameters in each trial that has all of them, one column
/// per parameter (Optuna's `_get_internal_repr`). A running trial's jointly drawn but not yet
/// suggested parameters count when `multivariate`.
fn observations(
    trials: &[&FrozenTrial],
    space: &[(&str, &Distribution)],
    multivariate: bool,
) -> Vec<Vec<f64>> {
    let space_names: Vec<&str> = space.iter().map(|(name, _)| *name).collect();
    let names = intern(trials, &space_names);
    let mut cols: Vec<Vec<f64>> = (0..space.len()).map(|_| pool::take(trials.len() + 1)).collect();
    let mut found = Vec::with_capacity(space.len());
    let mut row = vec![0.0; space.len()];
    for t in trials {
        let relative =
            if multivariate && !t.state.is_finished() { relative_params(t) } else { Vec::new() };
        lookup(&t.params, &names, &mut found);
        let complete = found.iter().enumerate().all(|(i, value)| {
            let (name, dist) = space[i];
            let value = value.or_else(|| relative.iter().find(|(k, _)| k == name).map(|(_, v)| v));
            match value.and_then(|v| internal(dist, v)) {
                Some(x) => {
                    row[i] = x;
                    true
                }
                None => false,
            }
        });
        if complete {
            cols.iter_mut().zip(&row).for_each(|(c, x)| c.push(*x));
        }
    }
    cols
}

/// `dist.to_internal(value)`, with the numerical cases inline (the hot path of reading many
/// trials).
fn internal(dist: &Distribution, value: &ParamValue) -> Option<f64> {
    match (dist, value) {
        (Distribution::Float(_), ParamValue::Float(x)) => Some(*x),
        (Distribution::Int(_), ParamValue::Int(i)) => Some(*i as f64),
        _ => dist.to_internal(value).ok(),
    }
}

/// The attributes recording jointly drawn `params` (internal values of `space`) for other
/// workers: their external values as Python's `json.dumps` writes a dict, in chunks.
fn relative_params_attrs(
    params: &BTreeMap<String, f64>,
    space: &SearchSpace,
) -> Vec<(String, AttrValue)> {
    let pairs: Vec<(String, JsonValue)> = params
        .iter()
        .filter_map(|(name, x)| {
            let external = space.get(name)?.to_external(*x)?;
            Some((name.clone(), param_json(&external)))
        })
        .collect();
    let mut text = String::new();
    JsonValue::Object(pairs).write(&mut text, ", ", ": ");
    // ASCII only (json.dumps escapes the rest), so byte chunks are character chunks.
    text.as_bytes()
        .chunks(SYSTEM_ATTR_MAX_LENGTH)
        .enumerate()
        .map(|(i, chunk)| {
            (
                format!("{RELATIVE_PARAMS_KEY}:{i}"),
                AttrValue::String(String::from_utf8_lossy(chunk).into_owned()),
            )
        })
        .collect()
}

impl Sampler for TpeSampler {
    fn sample(&self, ctx: &SampleContext<'_>, name: &str, dist: &Distribution) -> Result<f64> {
        if let Some(v) = single_value(dist) {
            return Ok(v);
        }
        let (trials, finished) = self.history(ctx)?;
        if finished < self.options.n_startup_trials {
            return self.random.sample(ctx, name, dist);
        }
        let mut rng = self.rng(ctx.draw_number, name);
        let drawn = self.sample_space(ctx, &trials, finished, &[(name, dist)], &mut rng);
        drawn.get(name).copied().ok_or_else(|| Error::invalid("TPE drew no value"))
    }

    fn infer_relative_search_space(&self, ctx: &SampleContext<'_>) -> Result<SearchSpace> {
        if !self.multivariate(ctx) {
            return Ok(SearchSpace::new());
        }
        let finished = ctx.trials(Some(&[TrialState::Complete, TrialState::Pruned]))?;
        let mut space = intersection_search_space(&finished, true);
        space.retain(|_, d| single_value(d).is_none());
        Ok(space)
    }

    fn sample_relative(
        &self,
        ctx: &SampleContext<'_>,
        space: &SearchSpace,
    ) -> Result<RelativeSample> {
        if space.is_empty() {
            return Ok(RelativeSample::default());
        }
        let (trials, finished) = self.history(ctx)?;
        if finished < self.options.n_startup_trials {
            return Ok(RelativeSample::default());
        }
        let pairs: Vec<(&str, &Distribution)> =
            space.iter().map(|(n, d)| (n.as_str(), d)).collect();
        let mut rng = self.rng(ctx.draw_number, "\0relative");
        let params = self.sample_space(ctx, &trials, finished, &pairs, &mut rng);
        let writes = if self.options.constant_liar && !params.is_empty() {
            AttrWrites { trial: relative_params_attrs(&params, space), study: Vec::new() }
        } else {
            AttrWrites::default()
        };
        Ok(RelativeSample { params, writes })
    }

    fn export_state(&self) -> Result<Option<Vec<u8>>> {
        Ok(Some(self.seed.export(KIND)))
    }

    fn import_state(&self, state: &[u8]) -> Result<()> {
        let seed = Seed::decode(KIND, state)?;
        self.seed.set(seed);
        self.random.set_seed(seed);
        Ok(())
    }
}

/// The kind name in a [`TpeSampler`]'s exported state.
const KIND: &str = "TpeSampler";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gamma_is_optunas() {
        assert_eq!(gamma(0, false), 0);
        assert_eq!(gamma(1, false), 1);
        assert_eq!(gamma(10, false), 1);
        assert_eq!(gamma(11, false), 2);
        assert_eq!(gamma(1000, false), 25);
        assert_eq!(gamma(1000, true), 100);
    }

    #[test]
    fn relative_params_round_trip_through_chunks() {
        let space: SearchSpace = [
            ("a".to_owned(), Distribution::float(0.0, 1.0, false, None).unwrap()),
            ("b".to_owned(), Distribution::int(1, 9, false, 1).unwrap()),
            (
                "c".to_owned(),
                Distribution::categorical(vec![ParamValue::Str("x".into()), ParamValue::Null])
                    .unwrap(),
            ),
        ]
        .into_iter()
        .collect();
        let params: BTreeMap<String, f64> =
            [("a".to_owned(), 0.25), ("b".to_owned(), 3.0), ("c".to_owned(), 1.0)]
                .into_iter()
                .collect();
        let attrs = relative_params_attrs(&params, &space);
        assert_eq!(attrs.len(), 1);
        assert_eq!(
            attrs[0],
            (
                "tpe:relative_params:0".to_owned(),
                AttrValue::String(r#"{"a": 0.25, "b": 3, "c": null}"#.to_owned())
            )
        );
        let mut t = FrozenTrial::new(0, 0, 0, TrialState::Running);
        // Split across chunks at an awkward place, as a long parameter list would be.
        let AttrValue::String(s) = &attrs[0].1 else { panic!() };
        t.system_attrs.insert("tpe:relative_params:0".into(), AttrValue::String(s[..7].into()));
        t.system_attrs.insert("tpe:relative_params:1".into(), AttrValue::String(s[7..].into()));
        let back = relative_params(&t);
        assert_eq!(back[1], ("b".to_owned(), ParamValue::Int(3)));
        let pairs: Vec<(&str, &Distribution)> =
            space.iter().map(|(n, d)| (n.as_str(), d)).collect();
        let obs = observations(&[&t], &pairs, true);
        assert_eq!(obs, vec![vec![0.25], vec![3.0], vec![1.0]]);
    }
}
