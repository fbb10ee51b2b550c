//! Parameter distributions with Optuna's validation, representations and compatibility rule.
//!
//! A parameter value has two representations, as in Optuna: the *external* one the objective
//! sees ([`ParamValue`]: a float, an int or a categorical choice) and the *internal* one the log
//! stores (an `f64`: the value itself for float and int distributions, the choice's index for
//! categorical ones).

use std::fmt;
use std::sync::Arc;

use super::same_f64;
use crate::error::{Error, Result};

/// A parameter value as the objective sees it; also the type of a categorical choice
/// (Optuna allows `None`, `bool`, `int`, `float` and `str` choices).
#[derive(Debug, Clone)]
pub enum ParamValue {
    /// Python `None` (categorical choices only).
    Null,
    /// A boolean (categorical choices only).
    Bool(bool),
    /// An integer (int distributions, or a categorical choice).
    Int(i64),
    /// A float (float distributions, or a categorical choice), kept exactly.
    Float(f64),
    /// A string (categorical choices only).
    Str(String),
}

/// A categorical choice: any [`ParamValue`].
pub type CategoricalChoice = ParamValue;

impl PartialEq for ParamValue {
    /// Typed equality; floats compare bit for bit so that a NaN choice finds itself.
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (ParamValue::Null, ParamValue::Null) => true,
            (ParamValue::Bool(a), ParamValue::Bool(b)) => a == b,
            (ParamValue::Int(a), ParamValue::Int(b)) => a == b,
            (ParamValue::Float(a), ParamValue::Float(b)) => same_f64(*a, *b),
            (ParamValue::Str(a), ParamValue::Str(b)) => a == b,
            _ => false,
        }
    }
}

impl fmt::Display for ParamValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ParamValue::Null => f.write_str("None"),
            ParamValue::Bool(b) => f.write_str(if *b { "True" } else { "False" }),
            ParamValue::Int(i) => write!(f, "{i}"),
            ParamValue::Float(x) => write!(f, "{x:?}"),
            ParamValue::Str(s) => write!(f, "{s:?}"),
        }
    }
}

/// Optuna's `FloatDistribution`: a float in `[low, high]`, optionally log-scaled or on a grid
/// `low + k * step`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FloatDistribution {
    /// Lower bound (inclusive).
    pub low: f64,
    /// Upper bound (inclusive), already adjusted down onto the step grid.
    pub high: f64,
    /// Sample on a log scale (`low > 0`, no step).
    pub log: bool,
    /// Grid spacing, if discrete.
    pub step: Option<f64>,
}

/// Optuna's `IntDistribution`: an integer in `[low, high]` on the grid `low + k * step`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IntDistribution {
    /// Lower bound (inclusive).
    pub low: i64,
    /// Upper bound (inclusive), already adjusted down onto the step grid.
    pub high: i64,
    /// Sample on a log scale (`low >= 1`, `step == 1`).
    pub log: bool,
    /// Grid spacing (>= 1).
    pub step: i64,
}

/// Optuna's `CategoricalDistribution`: one of a fixed, non-empty list of choices.
#[derive(Debug, Clone, PartialEq)]
pub struct CategoricalDistribution {
    /// The choices, in order; the internal representation of a value is its index here.
    pub choices: Arc<[CategoricalChoice]>,
}

impl FloatDistribution {
    /// Lower bound (inclusive).
    pub fn low(&self) -> f64 {
        self.low
    }

    /// Upper bound (inclusive), on the step grid.
    pub fn high(&self) -> f64 {
        self.high
    }

    /// Whether values are sampled on a log scale.
    pub fn log(&self) -> bool {
        self.log
    }

    /// The grid spacing, if discrete.
    pub fn step(&self) -> Option<f64> {
        self.step
    }
}

impl IntDistribution {
    /// Lower bound (inclusive).
    pub fn low(&self) -> i64 {
        self.low
    }

    /// Upper bound (inclusive), on the step grid.
    pub fn high(&self) -> i64 {
        self.high
    }

    /// Whether values are sampled on a log scale.
    pub fn log(&self) -> bool {
        self.log
    }

    /// The grid spacing (>= 1).
    pub fn step(&self) -> i64 {
        self.step
    }
}

impl CategoricalDistribution {
    /// The choices, in order (a value's internal representation is its index here).
    pub fn choices(&self) -> &[CategoricalChoice] {
        &self.choices
    }
}

/// The distribution a parameter was sampled from.
#[derive(Debug, Clone, PartialEq)]
pub enum Distribution {
    /// See [`FloatDistribution`].
    Float(FloatDistribution),
    /// See [`IntDistribution`].
    Int(IntDistribution),
    /// See [`CategoricalDistribution`].
    Categorical(CategoricalDistribution),
}

impl Distribution {
    /// A float distribution, validated and adjusted exactly as Optuna's constructor does:
    /// `low <= high`, `log` requires `low > 0` and no step, `step > 0`, and `high` is moved down
    /// onto the grid `low + k * step`.
    pub fn float(low: f64, high: f64, log: bool, step: Option<f64>) -> Result<Self> {
        if low.is_nan() || high.is_nan() {
            return Err(Error::invalid("float distribution bounds must not be NaN"));
        }
        if log && step.is_some() {
            return Err(Error::invalid("`step` is not supported when `log` is true"));
        }
        if low > high {
            return Err(Error::invalid(format_args!(
                "`low <= high` must hold, but got low={low:?} and high={high:?}"
            )));
        }
        if log && low <= 0.0 {
            return Err(Error::invalid(format_args!(
                "`low > 0` must hold for a log distribution, but got low={low:?}"
            )));
        }
        let mut high = high;
        if let Some(step) = step {
            if !(step > 0.0 && step.is_finite()) {
                return Err(Error::invalid(format_args!(
                    "`step > 0` must hold, but got step={step:?}"
                )));
            }
            let k = (high - low) / step;
            if (k - k.round()).abs() > 1e-9 * k.abs().max(1.0) {
                high = k.floor() * step + low;
            }
        }
        Ok(Distribution::Float(FloatDistribution { low, high, log, step }))
    }

    /// An int distribution, validated and adjusted as Optuna's constructor does: `low <= high`,
    /// `step >= 1`, `log` requires `low >= 1` and `step == 1`, `high` moved onto the grid.
    pub fn int(low: i64, high: i64, log: bool, step: i64) -> Result<Self> {
        if log && step != 1 {
            return Err(Error::invalid("`step` must be 1 when `log` is true"));
        }
        if low > high {
            return Err(Error::invalid(format_args!(
                "`low <= high` must hold, but got low={low} and high={high}"
            )));
        }
        if log && low < 1 {
            return Err(Error::invalid(format_args!(
                "`low >= 1` must hold for a log distribution, but got low={low}"
            )));
        }
        if step <= 0 {
            return Err(Error::invalid(format_args!("`step > 0` must hold, but got step={step}")));
        }
        let range = i128::from(high) - i128::from(low);
        let high = i64::try_from(range / i128::from(step) * i128::from(step) + i128::from(low))
            .map_err(|_| Error::invalid("int distribution range overflows"))?;
        Ok(Distribution::Int(IntDistribution { low, high, log, step }))
    }

    /// A categorical distribution over `choices` (must not be empty).
    pub fn categorical(choices: Vec<CategoricalChoice>) -> Result<Self> {
        if choices.is_empty() {
            return Err(Error::invalid("a categorical distribution needs at least one choice"));
        }
        Ok(Distribution::Categorical(CategoricalDistribution { choices: choices.into() }))
    }

    /// Optuna's class name for this kind ("FloatDistribution", ...).
    pub fn kind_name(&self) -> &'static str {
        match self {
            Distribution::Float(_) => "FloatDistribution",
            Distribution::Int(_) => "IntDistribution",
            Distribution::Categorical(_) => "CategoricalDistribution",
        }
    }

    /// The external value of internal representation `internal`, or `None` when `internal`
    /// cannot represent a value of this distribution (a categorical index that is not an integer
    /// in range, a non-finite int). Does not check bounds; see [`Distribution::contains`].
    pub fn to_external(&self, internal: f64) -> Option<ParamValue> {
        match self {
            Distribution::Float(_) => Some(ParamValue::Float(internal)),
            Distribution::Int(_) => {
                // Python's int() truncates toward zero; reject what it would reject.
                if internal.is_finite() && internal.abs() < 9.2e18 {
                    Some(ParamValue::Int(internal.trunc() as i64))
                } else {
                    None
                }
            }
            Distribution::Categorical(c) => {
                if internal.is_finite() && internal >= 0.0 {
                    c.choices.get(internal.trunc() as usize).cloned()
                } else {
                    None
                }
            }
        }
    }

    /// The internal representation of `value`, or an `InvalidArgument` error when `value` is
    /// not of this distribution's type (or not one of its choices).
    pub fn to_internal(&self, value: &ParamValue) -> Result<f64> {
        match (self, value) {
            (Distribution::Float(_), ParamValue::Float(x)) => Ok(*x),
            (Distribution::Float(_), ParamValue::Int(i)) => Ok(*i as f64),
            (Distribution::Int(_), ParamValue::Int(i)) => Ok(*i as f64),
            (Distribution::Categorical(c), v) => c
                .choices
                .iter()
                .position(|choice| choice == v)
                .map(|i| i as f64)
                .ok_or_else(|| Error::invalid(format_args!("{v} is not one of the choices"))),
            (d, v) => {
                Err(Error::invalid(format_args!("{v} is not a value of a {}", d.kind_name())))
            }
        }
    }

    /// Optuna's `_contains`: whether internal value `internal` lies in the distribution (within
    /// bounds, on the step grid, a valid categorical index).
    pub fn contains(&self, internal: f64) -> bool {
        match self {
            Distribution::Float(d) => {
                let in_range = d.low <= internal && internal <= d.high;
                match d.step {
                    None => in_range,
                    Some(step) => {
                        let k = (internal - d.low) / step;
                        in_range && (k - k.round()).abs() < 1.0e-8
                    }
                }
            }
            Distribution::Int(d) => {
                internal.fract() == 0.0
                    && d.low as f64 <= internal
                    && internal <= d.high as f64
                    && (internal as i64 - d.low) % d.step == 0
            }
            Distribution::Categorical(c) => {
                internal.fract() == 0.0 && internal >= 0.0 && (internal as usize) < c.choices.len()
            }
        }
    }

    /// Optuna's `check_distribution_compatibility(self, new)`: a parameter that reappears in a
    /// study must keep its kind, its log flag (float and int), and its exact choices
    /// (categorical). Bounds and steps may change.
    pub fn check_compatible(&self, name: &str, new: &Distribution) -> Result<()> {
        let reason = match (self, new) {
            (Distribution::Float(a), Distribution::Float(b)) if a.log != b.log => {
                "cannot set a different log configuration to the same parameter name"
            }
            (Distribution::Int(a), Distribution::Int(b)) if a.log != b.log => {
                "cannot set a different log configuration to the same parameter name"
            }
            (Distribution::Categorical(a), Distribution::Categorical(b))
                if a.choices != b.choices =>
            {
                "CategoricalDistribution does not support dynamic value space"
            }
            (Distribution::Float(_), Distribution::Float(_))
            | (Distribution::Int(_), Distribution::Int(_))
            | (Distribution::Categorical(_), Distribution::Categorical(_)) => return Ok(()),
            _ => "cannot set a different distribution kind to the same parameter name",
        };
        Err(Error::IncompatibleDistribution { name: name.to_owned(), reason })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn optuna_constructor_rules() {
        assert!(Distribution::float(1.0, 0.0, false, None).is_err());
        assert!(Distribution::float(0.0, 1.0, true, None).is_err());
        assert!(Distribution::float(0.1, 1.0, true, Some(0.1)).is_err());
        assert!(Distribution::float(0.0, 1.0, false, Some(0.0)).is_err());
        assert!(Distribution::int(1, 10, true, 2).is_err());
        assert!(Distribution::int(0, 10, true, 1).is_err());
        assert!(Distribution::int(0, 10, false, 0).is_err());
        assert!(Distribution::categorical(vec![]).is_err());
        // high is adjusted onto the grid
        let Distribution::Int(d) = Distribution::int(0, 10, false, 3).unwrap() else { panic!() };
        assert_eq!(d.high, 9);
        let Distribution::Float(d) = Distribution::float(0.0, 1.0, false, Some(0.3)).unwrap()
        else {
            panic!()
        };
        assert!((d.high - 0.9).abs() < 1e-12);
        let Distribution::Float(d) = Distribution::float(0.0, 1.0, false, Some(0.1)).unwrap()
        else {
            panic!()
        };
        assert_eq!(d.high, 1.0);
    }

    #[test]
    fn representations_round_trip() {
        let c = Distribution::categorical(vec![
            ParamValue::Null,
            ParamValue::Bool(true),
            ParamValue::Int(3),
            ParamValue::Float(f64::NAN),
            ParamValue::Str("adam".into()),
        ])
        .unwrap();
        for i in 0..5 {
            let ext = c.to_external(i as f64).unwrap();
            assert_eq!(c.to_internal(&ext).unwrap(), i as f64);
        }
        assert!(c.to_external(5.0).is_none());
        assert!(c.to_external(-1.0).is_none());
        assert!(c.to_internal(&ParamValue::Str("sgd".into())).is_err());
        let i = Distribution::int(-5, 5, false, 1).unwrap();
        assert_eq!(i.to_external(3.0), Some(ParamValue::Int(3)));
        assert!(i.to_external(f64::NAN).is_none());
        assert!(i.to_internal(&ParamValue::Str("x".into())).is_err());
    }

    #[test]
    fn contains_follows_optuna() {
        let f = Distribution::float(0.0, 1.0, false, Some(0.25)).unwrap();
        assert!(f.contains(0.5) && !f.contains(0.6) && !f.contains(1.25));
        let i = Distribution::int(1, 9, false, 2).unwrap();
        assert!(i.contains(3.0) && !i.contains(4.0) && !i.contains(11.0));
        let c = Distribution::categorical(vec![ParamValue::Int(1), ParamValue::Int(2)]).unwrap();
        assert!(c.contains(1.0) && !c.contains(2.0) && !c.contains(0.5));
    }

    #[test]
    fn compatibility_rule() {
        let f = Distribution::float(0.0, 1.0, false, None).unwrap();
        let f2 = Distribution::float(-3.0, 3.0, false, Some(0.5)).unwrap();
        let flog = Distribution::float(0.1, 1.0, true, None).unwrap();
        let i = Distribution::int(0, 3, false, 1).unwrap();
        let c1 = Distribution::categorical(vec![ParamValue::Int(1)]).unwrap();
        let c2 = Distribution::categorical(vec![ParamValue::Int(2)]).unwrap();
        assert!(f.check_compatible("x", &f2).is_ok());
        assert!(matches!(
            f.check_compatible("x", &flog),
            Err(Error::IncompatibleDistribution { .. })
        ));
        assert!(f.check_compatible("x", &i).is_err());
        assert!(c1.check_compatible("x", &c1.clone()).is_ok());
        assert!(c1.check_compatible("x", &c2).is_err());
    }
}
