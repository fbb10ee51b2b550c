//! Parameter importances by PED-ANOVA, as Optuna 5's default evaluator
//! (`optuna.importance.PedAnovaImportanceEvaluator` with its defaults, which
//! `get_param_importances` uses when no evaluator is given).
//!
//! For one objective: the COMPLETE trials with a finite value are the region; the best 10 % of
//! them (every trial whose loss is at most the `ceil(0.1 n)`-th smallest) are the target. For
//! each parameter, the trials are split into regimes by the distribution they used (regimes of
//! fewer than 2 trials are dropped); in each regime the parameter's values are counted on a grid
//! (50 steps, fewer for small int or stepped ranges; choice indices for categorical ones) and
//! smoothed by a Parzen estimator with Scott's bandwidth and a uniform prior of weight 1, once for
//! the target trials and once for the region. The importance is the Pearson divergence
//! `sum_x p_region(x) (p_target(x) / p_region(x) - 1)^2`, weighted by
//! `alpha^2 / beta` (the regime's share of target and region trials) and by
//! `(|target| / |region|)^2`; the importances are then normalised to sum to 1 (equal shares when
//! all are 0), as `get_param_importances(normalize=True)` does.
//!
//! Deterministic: no random forest, no seed. Linear in the number of trials per parameter.

use std::sync::Arc;

use super::space::{Domain, internal};
use crate::model::{Distribution, FrozenTrial};

/// Optuna's default `target_quantile`.
const TARGET_QUANTILE: f64 = 0.1;
/// Grid steps of a numeric parameter (`_n_steps`).
const N_STEPS: usize = 50;
/// Weight of the uniform prior kernel (`_prior_weight`).
const PRIOR_WEIGHT: f64 = 1.0;
/// Smallest regime that counts (`_min_n_trials_in_regime`).
const MIN_TRIALS_IN_REGIME: usize = 2;

/// The importance of each parameter for reaching a low `loss`, normalised to sum to 1 and sorted
/// from most to least important (ties by name), or `None` when fewer than 2 trials have a finite
/// loss (Optuna then returns equal importances with a warning; the report says why instead).
///
/// `trials` are the COMPLETE trials of the study (others are ignored); `names` the parameters to
/// assess (Optuna: every parameter of a COMPLETE trial); `loss(t)` is the objective value to
/// minimise (negate a maximised objective), `None` when the trial has none.
pub fn ped_anova(
    trials: &[Arc<FrozenTrial>],
    names: &[Arc<str>],
    loss: impl Fn(&FrozenTrial) -> Option<f64>,
) -> Option<Vec<(Arc<str>, f64)>> {
    let scored: Vec<(&FrozenTrial, f64)> = trials
        .iter()
        .filter(|t| t.state == crate::model::TrialState::Complete)
        .filter_map(|t| loss(t).filter(|v| v.is_finite()).map(|v| (&**t, v)))
        .collect();
    if scored.len() <= 1 || names.is_empty() {
        return None;
    }
    // _QuantileFilter: keep every trial at or below the ceil(q n)-th smallest loss.
    let mut sorted: Vec<f64> = scored.iter().map(|(_, v)| *v).collect();
    let k = ((TARGET_QUANTILE * sorted.len() as f64).ceil() as usize).max(1) - 1;
    let (_, cutoff, _) = sorted.select_nth_unstable_by(k, f64::total_cmp);
    let cutoff = *cutoff;
    let in_target: Vec<bool> = scored.iter().map(|(_, v)| *v <= cutoff).collect();
    let n_target = in_target.iter().filter(|b| **b).count();
    let n_region = scored.len();
    let quantile = n_target as f64 / n_region as f64;

    let mut out: Vec<(Arc<str>, f64)> = names
        .iter()
        .map(|name| {
            let mut importance = 0.0;
            for (dist, members) in regimes(&scored, name) {
                let Some(dist) = dist else { continue };
                let domain = Domain::of(dist);
                let target: Vec<&FrozenTrial> =
                    members.iter().filter(|&&i| in_target[i]).map(|&i| scored[i].0).collect();
                if domain.single() || target.is_empty() {
                    continue;
                }
                let region: Vec<&FrozenTrial> = members.iter().map(|&i| scored[i].0).collect();
                let alpha = target.len() as f64 / n_target as f64;
                let beta = region.len() as f64 / n_region as f64;
                importance +=
                    alpha * alpha / beta * pearson_divergence(name, &domain, &target, &region);
            }
            (name.clone(), importance * quantile * quantile)
        })
        .collect();
    let sum: f64 = out.iter().map(|(_, v)| v).sum();
    let n = out.len() as f64;
    for (_, v) in &mut out {
        *v = if sum == 0.0 { 1.0 / n } else { *v / sum };
    }
    out.sort_by(|a, b| b.1.total_cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    Some(out)
}

/// The scored trials split by the distribution they used for `name` (`None`: not used), in order
/// of first appearance, without regimes of fewer than [`MIN_TRIALS_IN_REGIME`] trials.
fn regimes<'a>(
    scored: &[(&'a FrozenTrial, f64)],
    name: &str,
) -> Vec<(Option<&'a Distribution>, Vec<usize>)> {
    let mut out: Vec<(Option<&'a Distribution>, Vec<usize>)> = Vec::new();
    for (i, (t, _)) in scored.iter().enumerate() {
        let dist = t.distributions.get(name).map(|d| &**d);
        match out.iter_mut().find(|(d, _)| match (d, dist) {
            (Some(a), Some(b)) => std::ptr::eq(*a, b) || *a == b,
            (None, None) => true,
            _ => false,
        }) {
            Some((_, members)) => members.push(i),
            None => out.push((dist, vec![i])),
        }
    }
    out.retain(|(_, m)| m.len() >= MIN_TRIALS_IN_REGIME);
    out
}

/// `_compute_pearson_divergence` with `evaluate_on_local=True`.
fn pearson_divergence(
    name: &str,
    domain: &Domain,
    target: &[&FrozenTrial],
    region: &[&FrozenTrial],
) -> f64 {
    let top = grid_pdf(&grid_counts(name, domain, target));
    let local = grid_pdf(&grid_counts(name, domain, region));
    top.iter()
        .zip(&local)
        .map(|(t, l)| {
            let (t, l) = (t + 1e-12, l + 1e-12);
            l * (t / l - 1.0).powi(2)
        })
        .sum()
}

/// How many of `trials` fall in each grid cell of the parameter (`_count_numerical_param_in_grid`
/// and `_count_categorical_param_in_grid`), plus whether the cells are categorical.
fn grid_counts(name: &str, domain: &Domain, trials: &[&FrozenTrial]) -> Grid {
    let values = trials.iter().filter_map(|t| internal(t, name));
    match domain {
        Domain::Categorical { labels } => {
            let mut counts = vec![0u64; labels.len()];
            for v in values {
                if let Some(c) = counts.get_mut(v as usize) {
                    *c += 1;
                }
            }
            Grid { counts, categorical: true }
        }
        Domain::Numeric { low, high, log, step, int } => {
            let mut n_steps = N_STEPS;
            if *int && *log {
                let log2_size = ((high - low + 1.0).ln() / 2f64.ln()).ceil() as usize + 1;
                n_steps = n_steps.min(log2_size);
            } else if let Some(step) = step {
                n_steps = n_steps.min(((high - low) / step).round_ties_even() as usize + 1);
            }
            let (low, high) = if *log { (low.ln(), high.ln()) } else { (*low, *high) };
            let step_size = (high - low) / (n_steps - 1) as f64;
            let mut counts = vec![0u64; n_steps];
            for v in values {
                let v = if *log { v.ln() } else { v };
                // Midpoint ties go to the lower cell, as in Optuna.
                let i = ((v - low) / step_size - 0.5).ceil();
                let i = if i.is_nan() { 0.0 } else { i.clamp(0.0, (n_steps - 1) as f64) };
                counts[i as usize] += 1;
            }
            Grid { counts, categorical: false }
        }
    }
}

/// Counts of trials per grid cell.
struct Grid {
    counts: Vec<u64>,
    categorical: bool,
}

/// `build_parzen_estimator_on_grid(...).pdf(grid)`: the Scott-bandwidth Parzen estimator of the
/// counts, with one uniform prior kernel, evaluated on every cell.
fn grid_pdf(grid: &Grid) -> Vec<f64> {
    let size = grid.counts.len();
    let obs: Vec<(f64, f64)> = grid
        .counts
        .iter()
        .enumerate()
        .filter(|(_, c)| **c > 0)
        .map(|(i, c)| (i as f64, *c as f64))
        .collect();
    if obs.is_empty() {
        return vec![1.0 / size as f64; size];
    }
    let total: f64 = obs.iter().map(|(_, w)| w).sum::<f64>() + PRIOR_WEIGHT;
    let mut pdf = vec![0.0; size];
    if grid.categorical {
        let n_kernels = obs.len() as f64 + 1.0;
        let base = PRIOR_WEIGHT / n_kernels;
        let row_sum = base * size as f64 + 1.0;
        for (i, w) in &obs {
            let w = w / total;
            for (x, p) in pdf.iter_mut().enumerate() {
                let k = if x == *i as usize { base + 1.0 } else { base };
                *p += w * k / row_sum;
            }
        }
        // The prior kernel: uniform over the choices.
        for p in &mut pdf {
            *p += PRIOR_WEIGHT / total / size as f64;
        }
        return pdf;
    }
    let sigma = scott_sigma(&obs);
    let high = (size - 1) as f64;
    let kernels = obs.iter().map(|(mu, w)| (*mu, sigma, w / total)).chain(std::iter::once((
        high / 2.0,
        high + 1.0,
        PRIOR_WEIGHT / total,
    )));
    for (mu, s, w) in kernels {
        let norm = gauss_mass((-0.5 - mu) / s, (high + 0.5 - mu) / s);
        for (x, p) in pdf.iter_mut().enumerate() {
            let x = x as f64;
            *p += w * gauss_mass((x - 0.5 - mu) / s, (x + 0.5 - mu) / s) / norm;
        }
    }
    pdf
}

/// The bandwidth of `_calculate_numerical_distributions`: Scott's rule on the weighted grid
/// indices, `1.059 min(IQR / 1.34, sd) W^-0.2`, at least `0.5 / 1.64` of a cell.
fn scott_sigma(obs: &[(f64, f64)]) -> f64 {
    let w_sum: f64 = obs.iter().map(|(_, w)| w).sum();
    let mean = obs.iter().map(|(x, w)| x * w).sum::<f64>() / w_sum;
    let var = obs.iter().map(|(x, w)| (x - mean).powi(2) * w).sum::<f64>() / (w_sum - 1.0).max(1.0);
    let mut cum = Vec::with_capacity(obs.len());
    let mut acc = 0.0;
    for (_, w) in obs {
        acc += w;
        cum.push(acc);
    }
    // Integer floor divisions on the integer counts, as numpy does them.
    let q1 = (w_sum / 4.0).floor();
    let q3 = (w_sum * 3.0 / 4.0).floor();
    let q1_idx = cum.partition_point(|c| *c < q1);
    let q3_idx = cum.partition_point(|c| *c <= q3);
    let iqr = obs[q3_idx.min(obs.len() - 1)].0 - obs[q1_idx.min(obs.len() - 1)].0;
    let sigma = 1.059 * (iqr / 1.34).min(var.sqrt()) * w_sum.powf(-0.2);
    sigma.max(0.5 / 1.64)
}

/// The standard normal distribution's probability mass in `[a, b]`, computed in whichever tail
/// keeps full relative precision.
fn gauss_mass(a: f64, b: f64) -> f64 {
    // Phi(x) = erfc(-x / sqrt 2) / 2.
    let phi = |x: f64| 0.5 * libm::erfc(-x / std::f64::consts::SQRT_2);
    if b <= 0.0 {
        phi(b) - phi(a)
    } else if a > 0.0 {
        phi(-a) - phi(-b)
    } else {
        1.0 - phi(a) - phi(-b)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{ParamValue, TrialState};

    fn study(n: u64, f: impl Fn(f64, f64, i64) -> f64) -> (Vec<Arc<FrozenTrial>>, Vec<Arc<str>>) {
        let dx = Arc::new(Distribution::float(-10.0, 10.0, false, None).unwrap());
        let dy = Arc::new(Distribution::float(-10.0, 10.0, false, None).unwrap());
        let dz = Arc::new(Distribution::int(0, 4, false, 1).unwrap());
        let mut state = 12345u64;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 11) as f64 / (1u64 << 53) as f64
        };
        let ts = (0..n)
            .map(|i| {
                let mut t = FrozenTrial::new(i, i, 0, TrialState::Complete);
                let (x, y, z) = (next() * 20.0 - 10.0, next() * 20.0 - 10.0, (next() * 5.0) as i64);
                t.params.insert("x".into(), ParamValue::Float(x));
                t.params.insert("y".into(), ParamValue::Float(y));
                t.params.insert("z".into(), ParamValue::Int(z));
                t.distributions.insert("x".into(), dx.clone());
                t.distributions.insert("y".into(), dy.clone());
                t.distributions.insert("z".into(), dz.clone());
                t.values = Some(vec![f(x, y, z)].into());
                Arc::new(t)
            })
            .collect();
        (ts, vec!["x".into(), "y".into(), "z".into()])
    }

    #[test]
    fn the_dominant_parameter_ranks_first_and_shares_sum_to_one() {
        let (ts, names) = study(400, |x, y, z| x * x + 0.01 * y * y + 0.001 * z as f64);
        let imp = ped_anova(&ts, &names, |t| t.value()).unwrap();
        assert_eq!(&*imp[0].0, "x", "{imp:?}");
        assert!(imp[0].1 > 0.8, "{imp:?}");
        assert!((imp.iter().map(|p| p.1).sum::<f64>() - 1.0).abs() < 1e-12);
        // Negating the loss (a maximised objective) makes x matter at the other end; still first.
        let imp = ped_anova(&ts, &names, |t| t.value().map(|v| -v)).unwrap();
        assert_eq!(&*imp[0].0, "x", "{imp:?}");
    }

    #[test]
    fn too_few_finite_trials_give_none() {
        let (mut ts, names) = study(3, |x, _, _| x);
        for t in ts.iter_mut().skip(1) {
            Arc::make_mut(t).values = Some(vec![f64::NAN].into());
        }
        assert!(ped_anova(&ts, &names, |t| t.value()).is_none());
        assert!(ped_anova(&ts[..0], &names, |t| t.value()).is_none());
    }

    #[test]
    fn mass_is_accurate_in_both_tails() {
        assert!((gauss_mass(-1.0, 1.0) - 0.682_689_492_137_085_9).abs() < 1e-15);
        let tail = gauss_mass(10.0, 11.0);
        assert!((tail / 7.619_661_958_203_076e-24 - 1.0).abs() < 1e-9, "{tail}");
        assert_eq!(gauss_mass(-11.0, -10.0), tail);
    }

    #[test]
    fn parzen_pdf_sums_to_one_on_the_grid() {
        for categorical in [false, true] {
            let g = Grid { counts: vec![0, 3, 0, 1, 7, 0], categorical };
            let s: f64 = grid_pdf(&g).iter().sum();
            assert!((s - 1.0).abs() < 1e-12, "{categorical}: {s}");
        }
    }
}
