//! The Parzen estimator of Optuna's TPE (`optuna/samplers/_tpe/parzen_estimator.py` and
//! `probability_distributions.py`): a mixture of product kernels, one kernel per observation
//! plus one prior kernel, over a search space of any distribution kinds.
//!
//! Per numerical parameter, in the transformed space (log for log distributions, bounds widened
//! by half a step for stepped ones), each observation `mu` gets a Gaussian truncated to the
//! bounds, with Optuna's bandwidth rule: the larger distance to its sorted neighbours (the
//! bounds count as neighbours, except that the outermost observations take the distance to
//! their inner neighbour when there are two or more), clipped to
//! `[(high - low) / min(100, n + 2), high - low]` ("magic clip"); the prior kernel sits at the
//! middle with `sigma = high - low`. A stepped parameter's kernel gives each grid value the
//! Gaussian mass of its cell. Per categorical parameter, each observation's kernel puts weight
//! `1 + prior_weight / (n + 1)` on its choice and `prior_weight / (n + 1)` on every choice
//! (normalized); the prior kernel is uniform. The mixture weights are Optuna's default weights
//! (older observations ramp down beyond 25) or given ones, plus `prior_weight`, normalized.
//!
//! As in Optuna, the log density of a log-scaled continuous parameter is the density of its
//! logarithm (no Jacobian term: TPE only compares two estimators over the same points).

use super::pool;
use super::truncnorm::{LOG_SQRT_2PI, log_gauss_mass, ppf};
use crate::model::Distribution;
use crate::study::sampler::random::SplitMix64;

/// Optuna's `EPS`, the smallest bandwidth without the magic clip.
const EPS: f64 = 1e-12;

/// The estimator's settings (Optuna's `_ParzenEstimatorParameters`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct ParzenParams {
    /// Weight of the prior kernel (Optuna's default 1.0).
    pub prior_weight: f64,
    /// Clip bandwidths from below to `(high - low) / min(100, n + 2)` (default true).
    pub consider_magic_clip: bool,
    /// Let the outermost observations use their distance to the bounds (default false).
    pub consider_endpoints: bool,
}

impl Default for ParzenParams {
    fn default() -> Self {
        ParzenParams { prior_weight: 1.0, consider_magic_clip: true, consider_endpoints: false }
    }
}

/// Optuna's `default_weights(n)`: ones for up to 25 observations, else a linear ramp from
/// `1 / n` to 1 over the oldest `n - 25`, then 25 ones.
pub(crate) fn default_weights(n: usize) -> Vec<f64> {
    if n < 25 {
        return vec![1.0; n];
    }
    let ramp = n - 25;
    let start = 1.0 / n as f64;
    let mut w = Vec::with_capacity(n);
    if ramp == 1 {
        w.push(start);
    } else if ramp > 1 {
        let step = (1.0 - start) / (ramp - 1) as f64;
        w.extend((0..ramp).map(|i| i as f64 * step + start));
        w[ramp - 1] = 1.0;
    }
    w.resize(n, 1.0);
    w
}

/// The kernels of one numerical parameter.
#[derive(Debug, Clone)]
pub(crate) struct Numerical {
    pub(crate) mus: Vec<f64>,
    pub(crate) sigmas: Vec<f64>,
    /// Per kernel, `1 / sigma`.
    inv_sigma: Vec<f64>,
    /// Per kernel, the constant of its log density: `-ln(mass)` of its truncation, and for a
    /// continuous parameter also `-ln(sqrt(2 pi) sigma)`.
    log_norm: Vec<f64>,
    /// Bounds in the transformed space.
    low: f64,
    high: f64,
    log: bool,
    /// Grid spacing (0 for a continuous parameter).
    step: f64,
    /// The distribution's own bounds (for rounding and clamping samples).
    orig_low: f64,
    orig_high: f64,
}

/// The kernels of one categorical parameter: row `k` holds kernel `k`'s choice probabilities.
#[derive(Debug, Clone)]
pub(crate) struct Categorical {
    n_choices: usize,
    pub(crate) probs: Vec<f64>,
    log_probs: Vec<f64>,
}

/// One parameter's kernels.
#[derive(Debug, Clone)]
pub(crate) enum Kernels {
    Numerical(Numerical),
    Categorical(Categorical),
}

/// A mixture of product kernels over a search space.
#[derive(Debug, Clone)]
pub(crate) struct ParzenEstimator {
    pub(crate) weights: Vec<f64>,
    log_weights: Vec<f64>,
    cum_weights: Vec<f64>,
    pub(crate) dims: Vec<Kernels>,
}

impl ParzenEstimator {
    /// The estimator of `observations` (one column of internal values per parameter of
    /// `space`, all of one length), weighted by `weights` (default: [`default_weights`]).
    pub(crate) fn new(
        observations: Vec<Vec<f64>>,
        space: &[&Distribution],
        params: &ParzenParams,
        weights: Option<&[f64]>,
    ) -> Self {
        debug_assert_eq!(observations.len(), space.len());
        let n = observations.first().map_or(0, Vec::len);
        let mut w = match weights {
            Some(w) => w.to_vec(),
            None => default_weights(n),
        };
        if n == 0 {
            w = vec![1.0];
        } else {
            w.push(params.prior_weight);
        }
        let total: f64 = w.iter().sum();
        w.iter_mut().for_each(|x| *x /= total);
        let mut acc = 0.0;
        let cum_weights = pool::collect(w.iter().map(|x| {
            acc += x;
            acc
        }));
        let dims = observations
            .into_iter()
            .zip(space)
            .map(|(obs, dist)| match dist {
                Distribution::Categorical(c) => {
                    Kernels::Categorical(categorical(&obs, c.choices().len(), params))
                }
                Distribution::Float(d) => {
                    Kernels::Numerical(numerical(obs, d.low(), d.high(), d.log(), d.step(), params))
                }
                Distribution::Int(d) => Kernels::Numerical(numerical(
                    obs,
                    d.low() as f64,
                    d.high() as f64,
                    d.log(),
                    Some(d.step() as f64),
                    params,
                )),
            })
            .collect();
        let log_weights = pool::collect(w.iter().map(|x| x.ln()));
        ParzenEstimator { weights: w, log_weights, cum_weights, dims }
    }

    /// `size` points drawn from the mixture, each a row of internal values (one per parameter).
    pub(crate) fn sample(&self, rng: &mut SplitMix64, size: usize) -> Vec<Vec<f64>> {
        let last = self.cum_weights.len() - 1;
        (0..size)
            .map(|_| {
                // numpy's `choice(p=...)`: the first kernel whose cumulative weight exceeds u.
                let u = rng.next_f64() * self.cum_weights[last];
                let k = self.cum_weights.partition_point(|c| *c <= u).min(last);
                self.dims
                    .iter()
                    .map(|d| match d {
                        Kernels::Categorical(c) => c.sample(k, rng.next_f64()),
                        Kernels::Numerical(n) => n.sample(k, rng.next_f64()),
                    })
                    .collect()
            })
            .collect()
    }

    /// The mixture's log density (log probability for discrete parameters) at each point.
    pub(crate) fn log_pdf(&self, points: &[Vec<f64>]) -> Vec<f64> {
        let mut acc = pool::collect(self.log_weights.iter().copied());
        let out = points
            .iter()
            .map(|x| {
                acc.copy_from_slice(&self.log_weights);
                for (d, xi) in self.dims.iter().zip(x) {
                    match d {
                        Kernels::Categorical(c) => c.add_log_pdf(*xi, &mut acc),
                        Kernels::Numerical(n) => n.add_log_pdf(*xi, &mut acc),
                    }
                }
                log_sum_exp(&acc)
            })
            .collect();
        pool::give(acc);
        out
    }
}

impl Drop for ParzenEstimator {
    fn drop(&mut self) {
        pool::give(std::mem::take(&mut self.weights));
        pool::give(std::mem::take(&mut self.log_weights));
        pool::give(std::mem::take(&mut self.cum_weights));
    }
}

impl Drop for Numerical {
    fn drop(&mut self) {
        pool::give(std::mem::take(&mut self.mus));
        pool::give(std::mem::take(&mut self.sigmas));
        pool::give(std::mem::take(&mut self.inv_sigma));
        pool::give(std::mem::take(&mut self.log_norm));
    }
}

/// `ln(sum(exp(v)))`, 0-safe: all `-inf` gives `-inf`.
fn log_sum_exp(v: &[f64]) -> f64 {
    let mut max = v.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    if max == f64::NEG_INFINITY {
        max = 0.0;
    }
    // Terms below e^-50 of the largest add less than 1e-21 each, which cannot move a double sum
    // that is at least 1 (below some 10^5 terms): skip their exp.
    v.iter().filter(|x| **x - max > -50.0).map(|x| (x - max).exp()).sum::<f64>().ln() + max
}

fn categorical(obs: &[f64], n_choices: usize, params: &ParzenParams) -> Categorical {
    let probs = if obs.is_empty() {
        vec![1.0 / n_choices as f64; n_choices]
    } else {
        let kernels = obs.len() + 1;
        let mut probs = vec![params.prior_weight / kernels as f64; kernels * n_choices];
        for (k, x) in obs.iter().enumerate() {
            let i = (*x as usize).min(n_choices - 1);
            probs[k * n_choices + i] += 1.0;
        }
        for row in probs.chunks_mut(n_choices) {
            let sum: f64 = row.iter().sum();
            let sum = if sum == 0.0 { 1.0 } else { sum };
            row.iter_mut().for_each(|p| *p /= sum);
        }
        probs
    };
    let log_probs = probs.iter().map(|p| p.ln()).collect();
    Categorical { n_choices, probs, log_probs }
}

impl Categorical {
    fn sample(&self, k: usize, u: f64) -> f64 {
        let row = &self.probs[k * self.n_choices..(k + 1) * self.n_choices];
        // The number of cumulative probabilities below u (the last one taken as exactly 1).
        let mut cum = 0.0;
        let mut index = 0;
        for p in &row[..self.n_choices - 1] {
            cum += p;
            if cum < u {
                index += 1;
            }
        }
        index as f64
    }

    fn add_log_pdf(&self, x: f64, acc: &mut [f64]) {
        let i = x as usize;
        for (k, a) in acc.iter_mut().enumerate() {
            *a += self.log_probs[k * self.n_choices + i];
        }
    }
}

fn numerical(
    mut mus: Vec<f64>,
    orig_low: f64,
    orig_high: f64,
    log: bool,
    step: Option<f64>,
    params: &ParzenParams,
) -> Numerical {
    let (mut low, mut high) = (orig_low, orig_high);
    if let Some(step) = step {
        low -= step / 2.0;
        high += step / 2.0;
    }
    if log {
        mus.iter_mut().for_each(|m| *m = m.ln());
        low = low.ln();
        high = high.ln();
    }
    let n = mus.len();
    let mut sigmas = pool::take(n + 1);
    sigmas.resize(n, 0.0);
    if n > 0 {
        // Sorted by value, ties in observation order (numpy's argsort orders ties in a
        // platform-dependent way).
        let order = sorted_order(&mus);
        let mut prev = low;
        for r in 0..n {
            let i = order[r] as usize;
            let next = if r + 1 < n { mus[order[r + 1] as usize] } else { high };
            let (left, right) = (mus[i] - prev, next - mus[i]);
            sigmas[i] = if !params.consider_endpoints && n >= 2 && r == 0 {
                right
            } else if !params.consider_endpoints && n >= 2 && r == n - 1 {
                left
            } else {
                left.max(right)
            };
            prev = mus[i];
        }
        let max_sigma = high - low;
        let min_sigma = if params.consider_magic_clip {
            (high - low) / 100.0_f64.min(1.0 + (n + 1) as f64)
        } else {
            EPS
        };
        // numpy's clip: max first, then min.
        sigmas.iter_mut().for_each(|s| *s = s.max(min_sigma).min(max_sigma));
    }
    mus.push(0.5 * (low + high));
    sigmas.push(high - low);
    let continuous = step.is_none();
    let inv_sigma = pool::collect(sigmas.iter().map(|s| 1.0 / s));
    // Many kernels share the clipped bandwidth: remember the last logarithm.
    let mut last_ln = (f64::NAN, f64::NAN);
    let log_norm = pool::collect(mus.iter().zip(&sigmas).zip(&inv_sigma).map(|((m, s), inv)| {
        let log_mass = log_gauss_mass((low - m) * inv, (high - m) * inv);
        if !continuous {
            return -log_mass;
        }
        if last_ln.0 != *s {
            last_ln = (*s, s.ln());
        }
        -LOG_SQRT_2PI - log_mass - last_ln.1
    }));
    Numerical {
        mus,
        sigmas,
        inv_sigma,
        log_norm,
        low,
        high,
        log,
        step: step.unwrap_or(0.0),
        orig_low,
        orig_high,
    }
}

/// The indices of `values` in increasing order (total order), equal values in index order: an
/// unstable sort of (order-preserving integer image, index) pairs, which are all distinct.
fn sorted_order(values: &[f64]) -> Vec<u32> {
    let key = |x: f64| {
        let bits = x.to_bits();
        if bits >> 63 == 1 { !bits } else { bits | (1 << 63) }
    };
    let mut keyed: Vec<(u64, u32)> = values.iter().zip(0u32..).map(|(v, i)| (key(*v), i)).collect();
    keyed.sort_unstable();
    keyed.into_iter().map(|(_, i)| i).collect()
}

impl Numerical {
    fn sample(&self, k: usize, q: f64) -> f64 {
        let (mu, sigma) = (self.mus[k], self.sigmas[k]);
        let (a, b) = ((self.low - mu) / sigma, (self.high - mu) / sigma);
        let mut x = ppf(q, a, b) * sigma + mu;
        if self.log {
            x = x.exp();
        }
        if self.step > 0.0 {
            let grid =
                self.orig_low + ((x - self.orig_low) / self.step).round_ties_even() * self.step;
            grid.max(self.orig_low).min(self.orig_high)
        } else {
            // Rounding (exp of a log bound) can step one ulp outside; Optuna does not clamp.
            x.max(self.orig_low).min(self.orig_high)
        }
    }

    fn add_log_pdf(&self, x: f64, acc: &mut [f64]) {
        let t = |v: f64| if self.log { v.ln() } else { v };
        if self.step == 0.0 {
            let xt = t(x);
            // Outside the bounds, every kernel's density is 0. (Optuna compares the standardized
            // value with each kernel's standardized bounds; rounding is monotonic, so the answer
            // is the same.)
            if !(self.low <= xt && xt <= self.high) {
                acc.iter_mut().for_each(|a| *a = f64::NEG_INFINITY);
                return;
            }
            for (((a, mu), inv), norm) in
                acc.iter_mut().zip(&self.mus).zip(&self.inv_sigma).zip(&self.log_norm)
            {
                let z = (xt - mu) * inv;
                *a += norm - 0.5 * z * z;
            }
        } else {
            let left = t(x - self.step / 2.0);
            let right = t(x + self.step / 2.0);
            for (((a, mu), sigma), norm) in
                acc.iter_mut().zip(&self.mus).zip(&self.sigmas).zip(&self.log_norm)
            {
                *a += log_gauss_mass((left - mu) / sigma, (right - mu) / sigma) + norm;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::journal::json::JsonValue;
    use crate::model::ParamValue;
    use crate::study::sampler::tpe::table::{Table, assert_close, floats};

    fn dist(v: &JsonValue) -> Distribution {
        let s = |k| v.get(k).unwrap();
        let kind = match s("kind") {
            JsonValue::Str(k) => k.as_str(),
            _ => panic!(),
        };
        let b = |k| matches!(s(k), JsonValue::Bool(true));
        match kind {
            "float" => Distribution::float(
                s("low").as_f64().unwrap(),
                s("high").as_f64().unwrap(),
                b("log"),
                s("step").as_f64(),
            )
            .unwrap(),
            "int" => Distribution::int(
                s("low").as_f64().unwrap() as i64,
                s("high").as_f64().unwrap() as i64,
                b("log"),
                s("step").as_f64().unwrap() as i64,
            )
            .unwrap(),
            _ => {
                let n = s("n_choices").as_f64().unwrap() as i64;
                Distribution::categorical((0..n).map(ParamValue::Int).collect()).unwrap()
            }
        }
    }

    #[test]
    fn sorted_order_is_a_stable_sort() {
        let v = [3.0, -1.0, 0.0, -0.0, 2.5, -1.0, f64::INFINITY, -7.25e300, 2.5, 1e-300];
        let mut want: Vec<u32> = (0..v.len() as u32).collect();
        want.sort_by(|a, b| v[*a as usize].total_cmp(&v[*b as usize]));
        assert_eq!(sorted_order(&v), want);
        assert!(sorted_order(&[]).is_empty());
        let mut rng = SplitMix64::new(5);
        let many: Vec<f64> = (0..3000).map(|_| (rng.next_f64() * 40.0).round() - 20.0).collect();
        let mut want: Vec<u32> = (0..many.len() as u32).collect();
        want.sort_by(|a, b| many[*a as usize].total_cmp(&many[*b as usize]));
        assert_eq!(sorted_order(&many), want);
    }

    #[test]
    fn default_weights_match_optuna() {
        assert!(default_weights(0).is_empty());
        assert_eq!(default_weights(24), vec![1.0; 24]);
        assert_eq!(default_weights(25), vec![1.0; 25]);
        assert_eq!(default_weights(26)[0], 1.0 / 26.0);
        let w = default_weights(30);
        assert_eq!(w.len(), 30);
        assert_eq!(w[0], 1.0 / 30.0);
        assert_eq!(w[4], 1.0);
        assert!((w[1] - (1.0 / 30.0 + (1.0 - 1.0 / 30.0) / 4.0)).abs() < 1e-15);
    }

    #[test]
    fn parzen_estimator_matches_optuna_table() {
        let t = Table::load();
        let JsonValue::Array(cases) = t.get("parzen") else { panic!() };
        assert!(cases.len() >= 15);
        for case in cases {
            let JsonValue::Str(name) = case.get("name").unwrap() else { panic!() };
            let JsonValue::Array(space) = case.get("space").unwrap() else { panic!() };
            let names: Vec<String> = space
                .iter()
                .map(|p| match p {
                    JsonValue::Array(kv) => match &kv[0] {
                        JsonValue::Str(s) => s.clone(),
                        _ => panic!(),
                    },
                    _ => panic!(),
                })
                .collect();
            let dists: Vec<Distribution> = space
                .iter()
                .map(|p| match p {
                    JsonValue::Array(kv) => dist(&kv[1]),
                    _ => panic!(),
                })
                .collect();
            let obs_json = case.get("observations").unwrap();
            let obs: Vec<Vec<f64>> =
                names.iter().map(|n| floats(obs_json.get(n).unwrap())).collect();
            let params = ParzenParams {
                prior_weight: case.get("prior_weight").unwrap().as_f64().unwrap(),
                consider_magic_clip: matches!(case.get("magic_clip"), Some(JsonValue::Bool(true))),
                consider_endpoints: matches!(case.get("endpoints"), Some(JsonValue::Bool(true))),
            };
            let predetermined = match case.get("predetermined").unwrap() {
                JsonValue::Null => None,
                v => Some(floats(v)),
            };
            let refs: Vec<&Distribution> = dists.iter().collect();
            let pe = ParzenEstimator::new(obs, &refs, &params, predetermined.as_deref());
            let want_w = floats(case.get("weights").unwrap());
            assert_eq!(pe.weights.len(), want_w.len(), "{name}: kernel count");
            for (g, w) in pe.weights.iter().zip(&want_w) {
                assert_close(*g, *w, 1e-12, &format!("{name}: weight"));
            }
            let JsonValue::Array(kernels) = case.get("kernels").unwrap() else { panic!() };
            for (d, k) in pe.dims.iter().zip(kernels) {
                match d {
                    Kernels::Numerical(n) => {
                        // Kernels compared as a set: numpy's argsort orders tied observations
                        // in a platform-dependent way, which only permutes equal mus.
                        let pairs = |mus: &[f64], sigmas: &[f64]| {
                            let mut v: Vec<(f64, f64)> =
                                mus.iter().copied().zip(sigmas.iter().copied()).collect();
                            v.sort_by(|a, b| a.partial_cmp(b).unwrap());
                            v
                        };
                        let want =
                            pairs(&floats(k.get("mu").unwrap()), &floats(k.get("sigma").unwrap()));
                        let got = pairs(&n.mus, &n.sigmas);
                        assert_eq!(got.len(), want.len(), "{name}: kernel count");
                        for (g, w) in got.iter().zip(&want) {
                            assert_close(g.0, w.0, 1e-12, &format!("{name}: mu"));
                            assert_close(g.1, w.1, 1e-12, &format!("{name}: sigma at mu {}", w.0));
                        }
                    }
                    Kernels::Categorical(c) => {
                        let JsonValue::Array(rows) = k.get("probs").unwrap() else { panic!() };
                        let want: Vec<f64> = rows.iter().flat_map(floats).collect();
                        assert_eq!(c.probs.len(), want.len(), "{name}: categorical shape");
                        for (g, w) in c.probs.iter().zip(&want) {
                            assert_close(*g, *w, 1e-12, &format!("{name}: choice probability"));
                        }
                    }
                }
            }
            let pts_json = case.get("points").unwrap();
            let cols: Vec<Vec<f64>> =
                names.iter().map(|n| floats(pts_json.get(n).unwrap())).collect();
            let points: Vec<Vec<f64>> =
                (0..cols[0].len()).map(|i| cols.iter().map(|c| c[i]).collect()).collect();
            let got = pe.log_pdf(&points);
            let want = floats(case.get("log_pdf").unwrap());
            for (i, (g, w)) in got.iter().zip(&want).enumerate() {
                assert_close(*g, *w, 1e-9, &format!("{name}: log_pdf at point {i}"));
            }
        }
    }

    #[test]
    fn samples_stay_in_every_distribution_kind() {
        let space = [
            Distribution::float(-5.0, 5.0, false, None).unwrap(),
            Distribution::float(1e-4, 1.0, true, None).unwrap(),
            Distribution::float(0.0, 1.0, false, Some(0.1)).unwrap(),
            Distribution::int(0, 10, false, 1).unwrap(),
            Distribution::int(0, 22, false, 4).unwrap(),
            Distribution::int(1, 1000, true, 1).unwrap(),
            Distribution::categorical(vec![ParamValue::Int(0), ParamValue::Int(1)]).unwrap(),
        ];
        let obs = vec![
            vec![4.9, -5.0, 0.0],
            vec![1e-4, 1.0, 0.01],
            vec![0.0, 1.0, 0.5],
            vec![0.0, 10.0, 3.0],
            vec![0.0, 20.0, 8.0],
            vec![1.0, 1000.0, 31.0],
            vec![0.0, 1.0, 1.0],
        ];
        let refs: Vec<&Distribution> = space.iter().collect();
        let pe = ParzenEstimator::new(obs, &refs, &ParzenParams::default(), None);
        let mut rng = SplitMix64::new(3);
        let samples = pe.sample(&mut rng, 2000);
        for row in &samples {
            for (x, d) in row.iter().zip(&space) {
                assert!(d.contains(*x), "{x} outside {d:?}");
            }
        }
        // Every value of the small discrete ranges is drawn.
        for v in 0..=10 {
            assert!(samples.iter().any(|r| r[3] == v as f64), "int value {v} never drawn");
        }
        assert!(samples.iter().any(|r| r[6] == 0.0) && samples.iter().any(|r| r[6] == 1.0));
        let dens = pe.log_pdf(&samples[..50]);
        assert!(dens.iter().all(|d| d.is_finite()));
    }
}
