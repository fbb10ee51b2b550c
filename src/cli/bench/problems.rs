//! The test problems of the sampler quality benchmark (`bench/samplers.py` defines the same ones
//! in Python and cross-checks values at fixed points through `trialog bench sampler-eval`).

use clap::ValueEnum;
use trialog::study::Trial;
use trialog::{ParamValue, Storage};

/// A benchmark problem.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Problem {
    /// Branin (2-D), minimum 0.397887.
    Branin,
    /// Hartmann 6-D on [0, 1]^6, minimum -3.322368.
    Hartmann6,
    /// Rosenbrock 5-D on [-5, 10]^5, minimum 0.
    Rosenbrock5,
    /// A mixed space: an int with step 5, a log float, a categorical; minimum 0.0016.
    Mixed,
    /// ZDT1 with 30 variables (two objectives).
    Zdt1,
    /// A synthetic learning curve of 30 steps (for the pruner check).
    Curve,
}

/// Steps of the `curve` problem.
pub const CURVE_STEPS: i64 = 30;
/// Variables of ZDT1.
const ZDT1_DIM: usize = 30;
/// The choices of the mixed problem's categorical parameter and their costs.
const KINDS: [(&str, f64); 3] = [("a", 0.5), ("b", 0.0), ("c", 1.0)];

const HARTMANN_ALPHA: [f64; 4] = [1.0, 1.2, 3.0, 3.2];
const HARTMANN_A: [[f64; 6]; 4] = [
    [10.0, 3.0, 17.0, 3.5, 1.7, 8.0],
    [0.05, 10.0, 17.0, 0.1, 8.0, 14.0],
    [3.0, 3.5, 1.7, 10.0, 17.0, 8.0],
    [17.0, 8.0, 0.05, 10.0, 0.1, 14.0],
];
const HARTMANN_P: [[f64; 6]; 4] = [
    [0.1312, 0.1696, 0.5569, 0.0124, 0.8283, 0.5886],
    [0.2329, 0.4135, 0.8307, 0.3736, 0.1004, 0.9991],
    [0.2348, 0.1451, 0.3522, 0.2883, 0.3047, 0.6650],
    [0.4047, 0.8828, 0.8732, 0.5743, 0.1091, 0.0381],
];

impl Problem {
    /// Objectives (2 for ZDT1, else 1).
    pub fn objectives(self) -> usize {
        if self == Problem::Zdt1 { 2 } else { 1 }
    }

    /// Suggests the problem's parameters in `trial` and returns the point (a categorical as its
    /// index).
    pub fn suggest<S: Storage + ?Sized>(self, trial: &mut Trial<S>) -> trialog::Result<Vec<f64>> {
        Ok(match self {
            Problem::Branin => {
                vec![trial.suggest_float("x1", -5.0, 10.0)?, trial.suggest_float("x2", 0.0, 15.0)?]
            }
            Problem::Hartmann6 => (0..6)
                .map(|i| trial.suggest_float(&format!("x{i}"), 0.0, 1.0))
                .collect::<trialog::Result<_>>()?,
            Problem::Rosenbrock5 => (0..5)
                .map(|i| trial.suggest_float(&format!("x{i}"), -5.0, 10.0))
                .collect::<trialog::Result<_>>()?,
            Problem::Mixed => {
                let n = trial.suggest_int_step("n", 0, 100, 5)? as f64;
                let lr = trial.suggest_float_log("lr", 1e-5, 1e-1)?;
                let choices: Vec<ParamValue> =
                    KINDS.iter().map(|(k, _)| ParamValue::Str((*k).into())).collect();
                let kind = trial.suggest_categorical("kind", choices)?;
                let index = KINDS.iter().position(|(k, _)| ParamValue::Str((*k).into()) == kind);
                vec![n, lr, index.unwrap_or(0) as f64]
            }
            Problem::Zdt1 => (0..ZDT1_DIM)
                .map(|i| trial.suggest_float(&format!("x{i}"), 0.0, 1.0))
                .collect::<trialog::Result<_>>()?,
            Problem::Curve => {
                vec![trial.suggest_float("x", 0.0, 1.0)?, trial.suggest_float_log("lr", 1e-4, 1.0)?]
            }
        })
    }

    /// The objective values at `p` (the final value for `curve`).
    pub fn value(self, p: &[f64]) -> Vec<f64> {
        match self {
            Problem::Branin => {
                let (x1, x2) = (p[0], p[1]);
                let pi = std::f64::consts::PI;
                let b = 5.1 / (4.0 * pi * pi);
                let c = 5.0 / pi;
                let t = 1.0 / (8.0 * pi);
                vec![(x2 - b * x1 * x1 + c * x1 - 6.0).powi(2) + 10.0 * (1.0 - t) * x1.cos() + 10.0]
            }
            Problem::Hartmann6 => {
                let mut s = 0.0;
                for i in 0..4 {
                    let inner: f64 =
                        (0..6).map(|j| HARTMANN_A[i][j] * (p[j] - HARTMANN_P[i][j]).powi(2)).sum();
                    s += HARTMANN_ALPHA[i] * (-inner).exp();
                }
                vec![-s]
            }
            Problem::Rosenbrock5 => vec![
                p.windows(2)
                    .map(|w| 100.0 * (w[1] - w[0] * w[0]).powi(2) + (1.0 - w[0]).powi(2))
                    .sum(),
            ],
            Problem::Mixed => {
                let kind = KINDS[(p[2] as usize).min(2)].1;
                vec![((p[0] - 37.0) / 50.0).powi(2) + (p[1].log10() + 3.3).powi(2) / 4.0 + kind]
            }
            Problem::Zdt1 => {
                let f1 = p[0];
                let g = 1.0 + 9.0 * p[1..].iter().sum::<f64>() / (p.len() - 1) as f64;
                vec![f1, g * (1.0 - (f1 / g).sqrt())]
            }
            Problem::Curve => vec![Self::curve(p, CURVE_STEPS - 1)],
        }
    }

    /// The `curve` problem's value after `step`: the final loss plus a decaying gap whose size
    /// grows with `x` (so early values mislead a little).
    pub fn curve(p: &[f64], step: i64) -> f64 {
        let (x, lr) = (p[0], p[1]);
        let last = (lr.log10() + 2.0).powi(2) / 4.0 + (x - 0.3).powi(2);
        last + (0.5 + 0.2 * x) * (-(step as f64) / 8.0).exp()
    }

    /// A point from its command-line spelling (`1.5,2`; the mixed problem's kind as `a|b|c`).
    pub fn parse_point(self, text: &str) -> Result<Vec<f64>, String> {
        text.split(',')
            .map(|v| match KINDS.iter().position(|(k, _)| *k == v) {
                Some(i) if self == Problem::Mixed => Ok(i as f64),
                _ => v.trim().parse::<f64>().map_err(|e| format!("{v:?}: {e}")),
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_optima() {
        let pi = std::f64::consts::PI;
        let b = Problem::Branin.value(&[pi, 2.275])[0];
        assert!((b - 0.397_887_357_729_738).abs() < 1e-9);
        let h =
            Problem::Hartmann6.value(&[0.20169, 0.150011, 0.476874, 0.275332, 0.311652, 0.6573])[0];
        assert!((h + 3.322_368).abs() < 1e-5, "{h}");
        assert_eq!(Problem::Rosenbrock5.value(&[1.0; 5])[0], 0.0);
        let m = Problem::Mixed.value(&[35.0, 10f64.powf(-3.3), 1.0])[0];
        assert!((m - 0.0016).abs() < 1e-12);
        let mut z = vec![0.0; 30];
        z[0] = 0.25;
        assert_eq!(Problem::Zdt1.value(&z), vec![0.25, 0.5]);
    }
}
