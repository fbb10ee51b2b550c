//! The truncated normal distribution as Optuna's TPE computes it
//! (`optuna/samplers/_tpe/_truncnorm.py`, itself after SciPy): log CDF with an asymptotic series
//! in the far left tail, the log of a Gaussian mass over an interval computed in the tail where
//! it is accurate, and the inverse CDF by Newton steps on `log_ndtr`. Everything is in standard
//! units: `a`, `b` are the bounds `(low - mu) / sigma`, `(high - mu) / sigma`.
//!
//! `log1p` and `expm1` come from `libm`, not std: std's call the platform's C library, and
//! MinGW's (Windows) lose digits where these matter (a `ppf` 4e-6 off at `q = 1 - 1e-12`).

use std::f64::consts::{FRAC_1_SQRT_2, PI, SQRT_2};

/// Standard units beyond which a tail's mass is negligible: `ndtr(-8.5)` is about 1e-17, below
/// half an ulp of 1, so `ln(1 - both tails)` is within 2e-17 of 0 (far below an ulp of any log
/// density it is added to). Skipping the two `erfc` calls of such a kernel is most of the cost
/// of building an estimator of many observations.
const FULL_MASS: f64 = 8.5;

/// `ln(sqrt(2 pi))`.
pub(crate) const LOG_SQRT_2PI: f64 = 0.918_938_533_204_672_8;

/// The standard normal CDF (Optuna's `_ndtr_single`: `erfc` in both tails, `erf` between).
pub(crate) fn ndtr(a: f64) -> f64 {
    let x = a / SQRT_2;
    if x < -FRAC_1_SQRT_2 {
        0.5 * libm::erfc(-x)
    } else if x < FRAC_1_SQRT_2 {
        0.5 + 0.5 * libm::erf(x)
    } else {
        1.0 - 0.5 * libm::erfc(x)
    }
}

/// `ln(ndtr(a))`, accurate far into both tails.
pub(crate) fn log_ndtr(a: f64) -> f64 {
    if a > 6.0 {
        return -ndtr(-a);
    }
    if a > -20.0 {
        return ndtr(a).ln();
    }
    // The asymptotic series of Mills' ratio: 1 - 1/a^2 + 3/a^4 - 15/a^6 + ...
    let log_lhs = -0.5 * a * a - (-a).ln() - 0.5 * (2.0 * PI).ln();
    let mut last_total = 0.0;
    let mut right_hand_side = 1.0_f64;
    let mut numerator = 1.0_f64;
    let mut denom_factor = 1.0_f64;
    let denom_cons = 1.0 / (a * a);
    let mut sign = 1.0;
    let mut i = 0.0;
    while (last_total - right_hand_side).abs() > f64::EPSILON {
        i += 1.0;
        last_total = right_hand_side;
        sign = -sign;
        denom_factor *= denom_cons;
        numerator *= 2.0 * i - 1.0;
        right_hand_side += sign * numerator * denom_factor;
    }
    log_lhs + right_hand_side.ln()
}

/// `ln(exp(p) - exp(q))` for `p >= q`.
fn log_diff(log_p: f64, log_q: f64) -> f64 {
    log_p + libm::log1p(-(log_q - log_p).exp())
}

/// `ln(exp(x) + exp(y))`.
fn log_sum(x: f64, y: f64) -> f64 {
    let m = x.max(y);
    if m == f64::NEG_INFINITY {
        return m;
    }
    m + libm::log1p((-(x - y).abs()).exp())
}

/// The log of the standard normal mass over `[a, b]` (`a <= b`), computed in the left tail
/// (mirrored when the interval lies right of 0) to keep precision.
pub(crate) fn log_gauss_mass(a: f64, b: f64) -> f64 {
    if a < -FULL_MASS && b > FULL_MASS {
        // Both tails hold less than 1e-17 each.
        return -0.0;
    }
    if b <= 0.0 {
        log_diff(log_ndtr(b), log_ndtr(a))
    } else if a > 0.0 {
        log_diff(log_ndtr(-a), log_ndtr(-b))
    } else {
        libm::log1p(-ndtr(a) - ndtr(-b))
    }
}

/// The `x` with `log_ndtr(x) == y` (`y <= 0`), by Newton's method from Optuna's initial guesses
/// (a tail asymptote for very small `y`, a logistic approximation otherwise), with `y` near 0
/// solved on the mirrored side for precision.
fn ndtri_exp(y: f64) -> f64 {
    let flipped = y > -1e-2;
    let z = if flipped { (-libm::expm1(y)).ln() } else { y };
    let mut x = if z < -5.0 {
        -(-2.0 * (z + LOG_SQRT_2PI)).sqrt()
    } else {
        -(3.0_f64.sqrt() / PI) * libm::expm1(-z).ln()
    };
    for _ in 0..100 {
        let log_ndtr_x = log_ndtr(x);
        let log_norm_pdf_x = -0.5 * x * x - LOG_SQRT_2PI;
        let dx = (log_ndtr_x - z) * (log_ndtr_x - log_norm_pdf_x).exp();
        x -= dx;
        if dx.abs() < 1e-8 * x.abs() {
            break;
        }
    }
    if flipped { -x } else { x }
}

/// The quantile `q` in `[0, 1]` of the standard normal truncated to `[a, b]` (NaN if `a == b`).
pub(crate) fn ppf(q: f64, a: f64, b: f64) -> f64 {
    if a == b {
        return f64::NAN;
    }
    if q == 0.0 {
        return a;
    }
    if q == 1.0 {
        return b;
    }
    let log_mass = log_gauss_mass(a, b);
    if a < 0.0 {
        ndtri_exp(log_sum(log_ndtr(a), q.ln() + log_mass))
    } else {
        -ndtri_exp(log_sum(log_ndtr(-b), libm::log1p(-q) + log_mass))
    }
}

/// The log density at `x` of the normal `(mu, sigma)` truncated to `[mu + a sigma, mu + b sigma]`:
/// `-inf` outside, NaN if `a == b`.
#[cfg(test)]
pub(crate) fn logpdf(x: f64, a: f64, b: f64, mu: f64, sigma: f64) -> f64 {
    let z = (x - mu) / sigma;
    if a == b {
        f64::NAN
    } else if z < a || z > b {
        f64::NEG_INFINITY
    } else {
        -z * z / 2.0 - LOG_SQRT_2PI - log_gauss_mass(a, b) - sigma.ln()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::study::sampler::tpe::table::{Table, assert_close, floats};

    #[test]
    fn matches_optuna_log_ndtr_and_mass() {
        let t = Table::load();
        let tn = t.get("truncnorm");
        let xs = floats(tn.get("x").unwrap());
        let want = floats(tn.get("log_ndtr").unwrap());
        for (x, w) in xs.iter().zip(&want) {
            assert_close(log_ndtr(*x), *w, 1e-12, &format!("log_ndtr({x})"));
        }
        let pairs = tn.get("pairs").unwrap();
        let masses = floats(tn.get("log_gauss_mass").unwrap());
        let crate::journal::json::JsonValue::Array(pairs) = pairs else { panic!() };
        for (p, w) in pairs.iter().zip(&masses) {
            let ab = floats(p);
            assert_close(log_gauss_mass(ab[0], ab[1]), *w, 1e-10, &format!("mass{ab:?}"));
        }
    }

    #[test]
    fn matches_optuna_ppf_and_logpdf() {
        let t = Table::load();
        let tn = t.get("truncnorm");
        let crate::journal::json::JsonValue::Array(pairs) = tn.get("pairs").unwrap() else {
            panic!()
        };
        let qs = floats(tn.get("q").unwrap());
        let crate::journal::json::JsonValue::Array(rows) = tn.get("ppf").unwrap() else { panic!() };
        for (q, row) in qs.iter().zip(rows) {
            for (p, w) in pairs.iter().zip(floats(row)) {
                let ab = floats(p);
                let got = ppf(*q, ab[0], ab[1]);
                // Newton stops at a relative step of 1e-8 (as Optuna's does), so the last
                // digits depend on the iteration path.
                let tol = 1e-7 * (ab[1] - ab[0]).abs().max(1e-9);
                assert!(
                    (got - w).abs() <= tol.max(1e-7 * w.abs()),
                    "ppf({q}, {ab:?}) = {got}, Optuna {w}"
                );
                assert!(got >= ab[0] - 1e-9 && got <= ab[1] + 1e-9);
            }
        }
        let case = tn.get("logpdf_case").unwrap();
        let g = |k| case.get(k).and_then(|v| v.as_f64()).unwrap();
        let xs = floats(tn.get("logpdf_x").unwrap());
        for (x, w) in xs.iter().zip(floats(tn.get("logpdf").unwrap())) {
            let got = logpdf(*x, g("a"), g("b"), g("loc"), g("scale"));
            assert_close(got, w, 1e-12, &format!("logpdf({x})"));
        }
    }
}
