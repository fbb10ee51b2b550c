//! Scales: data values to pixels (linear, log10 or categorical bands), with readable ticks.

/// How values map onto an axis.
#[derive(Debug, Clone, PartialEq)]
pub enum Scale {
    /// `lo..hi` linearly.
    Linear {
        /// Value at the start of the axis.
        lo: f64,
        /// Value at the end of the axis.
        hi: f64,
    },
    /// `10^lo..10^hi` on a log10 scale (`lo`, `hi` are exponents).
    Log {
        /// log10 of the value at the start.
        lo: f64,
        /// log10 of the value at the end.
        hi: f64,
    },
    /// One band per label; value `i` is the centre of band `i`.
    Band {
        /// The bands' labels.
        labels: Vec<String>,
    },
}

impl Scale {
    /// A linear or log scale covering the finite values of `values` with a 4 % margin; log only
    /// when asked and every finite value is positive. `0..1` when there is no finite value.
    pub fn fit(values: impl IntoIterator<Item = f64>, log: bool) -> Scale {
        let (mut lo, mut hi, mut all_positive) = (f64::INFINITY, f64::NEG_INFINITY, true);
        for v in values.into_iter().filter(|v| v.is_finite()) {
            lo = lo.min(v);
            hi = hi.max(v);
            all_positive &= v > 0.0;
        }
        if lo > hi {
            return Scale::Linear { lo: 0.0, hi: 1.0 };
        }
        if log && all_positive {
            let (l, h) = (lo.log10(), hi.log10());
            let pad = ((h - l) * 0.04).max(0.05);
            return Scale::Log { lo: l - pad, hi: h + pad };
        }
        Scale::linear_padded(lo, hi)
    }

    /// A linear scale over `[lo, hi]` plus a 4 % margin (a unit either side when `lo == hi`).
    pub fn linear_padded(lo: f64, hi: f64) -> Scale {
        if lo == hi {
            let d = if lo == 0.0 { 1.0 } else { lo.abs() * 0.1 };
            return Scale::Linear { lo: lo - d, hi: hi + d };
        }
        let pad = (hi - lo) * 0.04;
        Scale::Linear { lo: lo - pad, hi: hi + pad }
    }

    /// Whether finite positive values spanning at least two decades call for a log axis.
    pub fn spans_decades(values: impl IntoIterator<Item = f64>) -> bool {
        let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
        for v in values.into_iter().filter(|v| v.is_finite()) {
            if v <= 0.0 {
                return false;
            }
            lo = lo.min(v);
            hi = hi.max(v);
        }
        lo <= hi && hi / lo >= 100.0
    }

    /// The position of `v` in `0..=1` along the axis: NaN gives `None`; values outside the range
    /// (infinities included, and non-positive ones on a log scale) are clamped to its ends.
    pub fn unit(&self, v: f64) -> Option<f64> {
        if v.is_nan() {
            return None;
        }
        let u = match self {
            Scale::Linear { lo, hi } => (v - lo) / (hi - lo),
            Scale::Log { lo, hi } => {
                if v <= 0.0 {
                    0.0
                } else {
                    (v.log10() - lo) / (hi - lo)
                }
            }
            Scale::Band { labels } => (v + 0.5) / labels.len().max(1) as f64,
        };
        Some(if u.is_nan() { 0.0 } else { u.clamp(0.0, 1.0) })
    }

    /// Tick positions (as values) and their labels, about `n` of them.
    pub fn ticks(&self, n: usize) -> Vec<(f64, String)> {
        match self {
            Scale::Linear { lo, hi } => {
                let step = nice_step((hi - lo) / n.max(1) as f64);
                let first = (lo / step).ceil() as i64;
                let last = (hi / step).floor() as i64;
                (first..=last)
                    .take(50)
                    .map(|k| {
                        let v = k as f64 * step;
                        (v, format_value(v, step))
                    })
                    .collect()
            }
            Scale::Log { lo, hi } => {
                let (first, last) = (lo.ceil() as i64, hi.floor() as i64);
                let stride = ((last - first) / n.max(1) as i64).max(1);
                let mut out: Vec<(f64, String)> = (first..=last)
                    .filter(|k| (k - first) % stride == 0)
                    .map(|k| (10f64.powi(k as i32), format_value(10f64.powi(k as i32), 0.0)))
                    .collect();
                if out.len() < 2 {
                    // Less than two decades shown: label 1, 2 and 5 times the powers.
                    out = (lo.floor() as i64..=hi.ceil() as i64)
                        .flat_map(|k| [1.0, 2.0, 5.0].map(|m| m * 10f64.powi(k as i32)))
                        .filter(|v| (*lo..=*hi).contains(&v.log10()))
                        .map(|v| (v, format_value(v, 0.0)))
                        .collect();
                }
                out
            }
            Scale::Band { labels } => {
                labels.iter().enumerate().map(|(i, l)| (i as f64, l.clone())).collect()
            }
        }
    }
}

/// 1, 2 or 5 times a power of ten, nearest to `raw` on a log scale (d3's rule).
fn nice_step(raw: f64) -> f64 {
    if !(raw > 0.0 && raw.is_finite()) {
        return 1.0;
    }
    let mag = 10f64.powf(raw.log10().floor());
    let norm = raw / mag;
    let m = if norm >= 50f64.sqrt() {
        10.0
    } else if norm >= 10f64.sqrt() {
        5.0
    } else if norm >= 2f64.sqrt() {
        2.0
    } else {
        1.0
    };
    m * mag
}

/// A number for a tick or a tooltip: as many decimals as `step` needs (`step` 0: a short
/// general form), scientific notation for very large or small magnitudes, "inf"/"nan" spelled
/// out.
pub fn format_value(v: f64, step: f64) -> String {
    if !v.is_finite() {
        return format!("{v}");
    }
    let a = v.abs();
    if a != 0.0 && !(1e-3..1e6).contains(&a) {
        let s = format!("{v:.2e}");
        // 1.00e5 -> 1e5
        return s.replace(".00e", "e");
    }
    let decimals = if step > 0.0 {
        (-step.log10().floor()).clamp(0.0, 6.0) as usize
    } else if a == 0.0 || a >= 100.0 {
        if a.fract() == 0.0 { 0 } else { 2 }
    } else {
        4
    };
    let s = format!("{v:.decimals$}");
    let s = if s.contains('.') && step == 0.0 {
        s.trim_end_matches('0').trim_end_matches('.').to_owned()
    } else {
        s
    };
    if s == "-0" { "0".to_owned() } else { s }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn linear_ticks_are_round_and_inside() {
        let s = Scale::Linear { lo: -0.3, hi: 10.2 };
        let t = s.ticks(5);
        let labels: Vec<&str> = t.iter().map(|(_, l)| l.as_str()).collect();
        assert_eq!(labels, ["0", "2", "4", "6", "8", "10"]);
        let s = Scale::Linear { lo: 0.01, hi: 0.052 };
        let labels: Vec<String> = s.ticks(4).into_iter().map(|t| t.1).collect();
        assert_eq!(labels, ["0.01", "0.02", "0.03", "0.04", "0.05"]);
    }

    #[test]
    fn log_and_band_scales() {
        let s = Scale::fit([0.5, 2000.0], true);
        let labels: Vec<String> = s.ticks(5).into_iter().map(|t| t.1).collect();
        assert_eq!(labels, ["1", "10", "100", "1000"]);
        assert!(matches!(Scale::fit([-1.0, 2000.0], true), Scale::Linear { .. }));
        assert_eq!(s.unit(-5.0), Some(0.0));
        assert_eq!(s.unit(f64::INFINITY), Some(1.0));
        assert_eq!(s.unit(f64::NAN), None);
        let b = Scale::Band { labels: vec!["a".into(), "b".into()] };
        assert_eq!(b.unit(1.0), Some(0.75));
        assert!(Scale::spans_decades([1.0, 100.0]) && !Scale::spans_decades([1.0, 99.0]));
        assert!(!Scale::spans_decades([0.0, 1000.0]));
    }

    #[test]
    fn values_format_compactly() {
        assert_eq!(format_value(123456789.0, 0.0), "1.23e8");
        assert_eq!(format_value(0.5, 0.0), "0.5");
        assert_eq!(format_value(250.0, 0.0), "250");
        assert_eq!(format_value(f64::NEG_INFINITY, 0.0), "-inf");
        assert_eq!(format_value(-0.0001, 0.0001), "-1e-4");
        assert!(matches!(Scale::fit([], false), Scale::Linear { lo: 0.0, hi: 1.0 }));
    }
}
