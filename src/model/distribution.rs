//! Parameter distributions with Optuna's classes, validation, representations and compatibility
//! rule (`optuna/distributions.py`).
//!
//! A parameter value has two representations, as in Optuna: the *external* one the objective
//! sees ([`ParamValue`]: a float, an int or a categorical choice) and the *internal* one the log
//! stores (an `f64`: the value itself for float and int distributions, the choice's index for
//! categorical ones).
//!
//! Every distribution is built by a constructor that applies Optuna's checks and adjustments, and
//! the fields are private, so an invalid distribution (a zero step, a log range reaching zero, a
//! legacy class with the wrong flags) cannot exist: not in a call, not in the log, not in replay.
//! Optuna 5.0 still has the legacy classes (`UniformDistribution`, ...) as classes of their own,
//! with their own JSON and their own compatibility (a parameter first seen with one class refuses
//! every other class); they are kept as [`FloatClass`] and [`IntClass`].

use std::fmt;
use std::sync::Arc;

use super::bigint::{BigInt, Integer};
use super::decimal::adjust_discrete_high;
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
    /// An integer outside the `i64` range (a categorical choice, or what Python's `int()` makes
    /// of a huge internal value of an int distribution).
    BigInt(BigInt),
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
            (ParamValue::BigInt(a), ParamValue::BigInt(b)) => a == b,
            (ParamValue::Float(a), ParamValue::Float(b)) => same_f64(*a, *b),
            (ParamValue::Str(a), ParamValue::Str(b)) => a == b,
            _ => false,
        }
    }
}

impl From<Integer> for ParamValue {
    fn from(i: Integer) -> Self {
        match i {
            Integer::Small(v) => ParamValue::Int(v),
            Integer::Big(b) => ParamValue::BigInt(b),
        }
    }
}

impl ParamValue {
    /// Optuna's `_categorical_choice_equal`: Python's `==` (so `True == 1 == 1.0` and
    /// `0.0 == -0.0`, a string equals only a string, `None` only `None`), or both NaN.
    pub fn py_eq(&self, other: &ParamValue) -> bool {
        use ParamValue as P;
        match (self, other) {
            (P::Null, P::Null) => true,
            (P::Str(a), P::Str(b)) => a == b,
            (P::BigInt(a), P::BigInt(b)) => a == b,
            // A big int equals no double's value exactly unless the double is integral and as
            // far out; compare through the exact truncation of the double.
            (P::BigInt(a), P::Float(x)) | (P::Float(x), P::BigInt(a)) => {
                x.fract() == 0.0 && Integer::from_f64_trunc(*x) == Some(Integer::Big(a.clone()))
            }
            (P::BigInt(_), _) | (_, P::BigInt(_)) => false,
            (a, b) => match (a.as_number(), b.as_number()) {
                (Some(Num::I(x)), Some(Num::I(y))) => x == y,
                (Some(Num::F(x)), Some(Num::F(y))) => x == y || (x.is_nan() && y.is_nan()),
                (Some(Num::I(i)), Some(Num::F(x))) | (Some(Num::F(x)), Some(Num::I(i))) => {
                    // Exact, as Python compares an int with a float.
                    x.fract() == 0.0 && Integer::from_f64_trunc(x) == Some(Integer::Small(i))
                }
                _ => false,
            },
        }
    }

    fn as_number(&self) -> Option<Num> {
        match self {
            ParamValue::Bool(b) => Some(Num::I(i64::from(*b))),
            ParamValue::Int(i) => Some(Num::I(*i)),
            ParamValue::Float(x) => Some(Num::F(*x)),
            _ => None,
        }
    }
}

enum Num {
    I(i64),
    F(f64),
}

impl fmt::Display for ParamValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ParamValue::Null => f.write_str("None"),
            ParamValue::Bool(b) => f.write_str(if *b { "True" } else { "False" }),
            ParamValue::Int(i) => write!(f, "{i}"),
            ParamValue::BigInt(i) => write!(f, "{i}"),
            ParamValue::Float(x) => write!(f, "{x:?}"),
            ParamValue::Str(s) => write!(f, "{s:?}"),
        }
    }
}

/// Conversions for categorical choices and enqueued values, as [`crate::AttrValue`] has them:
/// `"adam".into()`, `0.1.into()`, `3i64.into()`, `true.into()`.
impl From<&str> for ParamValue {
    fn from(s: &str) -> Self {
        ParamValue::Str(s.to_owned())
    }
}
impl From<String> for ParamValue {
    fn from(s: String) -> Self {
        ParamValue::Str(s)
    }
}
impl From<i64> for ParamValue {
    fn from(v: i64) -> Self {
        ParamValue::Int(v)
    }
}
impl From<f64> for ParamValue {
    fn from(v: f64) -> Self {
        ParamValue::Float(v)
    }
}
impl From<bool> for ParamValue {
    fn from(v: bool) -> Self {
        ParamValue::Bool(v)
    }
}

/// The Optuna class of a float distribution. The legacy classes are fixed configurations of
/// `FloatDistribution` with their own name, JSON and compatibility.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FloatClass {
    /// `FloatDistribution(low, high, log, step)`.
    Float,
    /// `UniformDistribution(low, high)`: no log, no step.
    Uniform,
    /// `LogUniformDistribution(low, high)`: log, no step.
    LogUniform,
    /// `DiscreteUniformDistribution(low, high, q)`: no log, step `q`.
    DiscreteUniform,
}

/// The Optuna class of an int distribution.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum IntClass {
    /// `IntDistribution(low, high, log, step)`.
    Int,
    /// `IntUniformDistribution(low, high, step)`: no log.
    IntUniform,
    /// `IntLogUniformDistribution(low, high, step=1)`: log.
    IntLogUniform,
}

impl FloatClass {
    /// Optuna's class name.
    pub fn name(self) -> &'static str {
        match self {
            FloatClass::Float => "FloatDistribution",
            FloatClass::Uniform => "UniformDistribution",
            FloatClass::LogUniform => "LogUniformDistribution",
            FloatClass::DiscreteUniform => "DiscreteUniformDistribution",
        }
    }
}

impl IntClass {
    /// Optuna's class name.
    pub fn name(self) -> &'static str {
        match self {
            IntClass::Int => "IntDistribution",
            IntClass::IntUniform => "IntUniformDistribution",
            IntClass::IntLogUniform => "IntLogUniformDistribution",
        }
    }
}

/// Optuna's `FloatDistribution` (or one of its legacy classes): a float in `[low, high]`,
/// optionally log-scaled or on a grid `low + k * step`. Built only by [`FloatDistribution::new`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FloatDistribution {
    low: f64,
    high: f64,
    log: bool,
    step: Option<f64>,
    class: FloatClass,
}

/// Optuna's `IntDistribution` (or one of its legacy classes): an integer in `[low, high]` on the
/// grid `low + k * step`. Built only by [`IntDistribution::new`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IntDistribution {
    low: i64,
    high: i64,
    log: bool,
    step: i64,
    class: IntClass,
}

/// Optuna's `CategoricalDistribution`: one of a fixed, non-empty list of choices. Built only by
/// [`Distribution::categorical`].
#[derive(Debug, Clone, PartialEq)]
pub struct CategoricalDistribution {
    choices: Arc<[CategoricalChoice]>,
}

impl FloatDistribution {
    /// Optuna's constructor of `class`: the class's own configuration (a legacy class fixes
    /// `log` and whether there is a step), then `FloatDistribution.__init__`'s checks in its
    /// order: no step with `log`, `low <= high`, `low > 0` with `log`, `step > 0`; `high` is moved
    /// down onto the grid in decimal arithmetic (`_adjust_discrete_uniform_high`). Comparisons
    /// with NaN are false, as in Python, so NaN bounds pass them.
    pub fn new(
        class: FloatClass,
        low: f64,
        high: f64,
        log: bool,
        step: Option<f64>,
    ) -> Result<Self> {
        let fits = match class {
            FloatClass::Float => true,
            FloatClass::Uniform => !log && step.is_none(),
            FloatClass::LogUniform => log && step.is_none(),
            FloatClass::DiscreteUniform => !log && step.is_some(),
        };
        if !fits {
            return Err(Error::invalid(format_args!(
                "a {} has {}",
                class.name(),
                match class {
                    FloatClass::Uniform => "no log and no step",
                    FloatClass::LogUniform => "log and no step",
                    _ => "a step `q` and no log",
                }
            )));
        }
        if log && step.is_some() {
            return Err(Error::invalid("the parameter `step` is not supported when `log` is true"));
        }
        if low > high {
            return Err(Error::invalid(format_args!(
                "`low <= high` must hold, but got low={low:?} and high={high:?}"
            )));
        }
        if log && low <= 0.0 {
            return Err(Error::invalid(format_args!(
                "`low > 0` must hold for `log=True`, but got low={low:?}"
            )));
        }
        let mut high = high;
        if let Some(step) = step {
            if step <= 0.0 {
                return Err(Error::invalid(format_args!(
                    "`step > 0` must hold, but got step={step:?}"
                )));
            }
            high = adjust_discrete_high(low, high, step).map_err(|_| {
                Error::invalid(format_args!(
                    "cannot put [{low:?}, {high:?}] on a grid of step {step:?} (Python's decimal \
                     arithmetic raises InvalidOperation)"
                ))
            })?;
        }
        Ok(FloatDistribution { low, high, log, step, class })
    }

    /// Lower bound (inclusive).
    pub fn low(&self) -> f64 {
        self.low
    }
    /// Upper bound (inclusive), already on the step grid.
    pub fn high(&self) -> f64 {
        self.high
    }
    /// Log-scaled (then `low > 0` and no step).
    pub fn log(&self) -> bool {
        self.log
    }
    /// Grid spacing, if discrete (`> 0`).
    pub fn step(&self) -> Option<f64> {
        self.step
    }
    /// The Optuna class it was made as.
    pub fn class(&self) -> FloatClass {
        self.class
    }
}

impl IntDistribution {
    /// Optuna's constructor of `class` (a legacy class fixes `log`), then
    /// `IntDistribution.__init__`'s checks in its order: `step == 1` with `log`, `low <= high`,
    /// `low >= 1` with `log`, `step > 0`; `high` is moved down onto the grid.
    pub fn new(class: IntClass, low: i64, high: i64, log: bool, step: i64) -> Result<Self> {
        let fits = match class {
            IntClass::Int => true,
            IntClass::IntUniform => !log,
            IntClass::IntLogUniform => log,
        };
        if !fits {
            return Err(Error::invalid(format_args!(
                "a {} has log={}",
                class.name(),
                class == IntClass::IntLogUniform
            )));
        }
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
                "`low >= 1` must hold for `log=True`, but got low={low}"
            )));
        }
        if step <= 0 {
            return Err(Error::invalid(format_args!("`step > 0` must hold, but got step={step}")));
        }
        let range = i128::from(high) - i128::from(low);
        let step128 = i128::from(step);
        // Never out of range: the result lies in [low, high].
        let high = (range / step128 * step128 + i128::from(low)) as i64;
        Ok(IntDistribution { low, high, log, step, class })
    }

    /// Lower bound (inclusive).
    pub fn low(&self) -> i64 {
        self.low
    }
    /// Upper bound (inclusive), already on the step grid.
    pub fn high(&self) -> i64 {
        self.high
    }
    /// Log-scaled (then `low >= 1` and `step == 1`).
    pub fn log(&self) -> bool {
        self.log
    }
    /// Grid spacing (`>= 1`).
    pub fn step(&self) -> i64 {
        self.step
    }
    /// The Optuna class it was made as.
    pub fn class(&self) -> IntClass {
        self.class
    }
}

impl CategoricalDistribution {
    /// The choices, in order (at least one); the internal representation of a value is its
    /// index here.
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
    /// `FloatDistribution(low, high, log, step)`, validated and adjusted as Optuna's constructor
    /// does (see [`FloatDistribution::new`]).
    pub fn float(low: f64, high: f64, log: bool, step: Option<f64>) -> Result<Self> {
        FloatDistribution::new(FloatClass::Float, low, high, log, step).map(Distribution::Float)
    }

    /// `IntDistribution(low, high, log, step)`, validated and adjusted as Optuna's constructor
    /// does (see [`IntDistribution::new`]).
    pub fn int(low: i64, high: i64, log: bool, step: i64) -> Result<Self> {
        IntDistribution::new(IntClass::Int, low, high, log, step).map(Distribution::Int)
    }

    /// A categorical distribution over `choices` (must not be empty).
    pub fn categorical(choices: Vec<CategoricalChoice>) -> Result<Self> {
        if choices.is_empty() {
            return Err(Error::invalid("the `choices` must contain one or more elements"));
        }
        Ok(Distribution::Categorical(CategoricalDistribution { choices: choices.into() }))
    }

    /// Optuna's class name (`FloatDistribution`, `UniformDistribution`, ...).
    pub fn kind_name(&self) -> &'static str {
        match self {
            Distribution::Float(d) => d.class.name(),
            Distribution::Int(d) => d.class.name(),
            Distribution::Categorical(_) => "CategoricalDistribution",
        }
    }

    /// Whether this is one of the legacy classes Optuna 3.0 deprecated.
    pub fn is_legacy(&self) -> bool {
        match self {
            Distribution::Float(d) => d.class != FloatClass::Float,
            Distribution::Int(d) => d.class != IntClass::Int,
            Distribution::Categorical(_) => false,
        }
    }

    /// Optuna's `to_external_repr(internal)`, or `None` where Python raises: a float
    /// distribution's value is `internal` itself; an int distribution's is `int(internal)`
    /// (truncated toward zero; NaN and infinities raise); a categorical one's is
    /// `choices[int(internal)]`, a negative index counting from the end as in Python.
    /// Does not check bounds; see [`Distribution::contains`].
    pub fn to_external(&self, internal: f64) -> Option<ParamValue> {
        match self {
            Distribution::Float(_) => Some(ParamValue::Float(internal)),
            Distribution::Int(_) => Integer::from_f64_trunc(internal).map(ParamValue::from),
            Distribution::Categorical(c) => {
                let Some(Integer::Small(i)) = Integer::from_f64_trunc(internal) else {
                    return None;
                };
                let len = c.choices.len() as i64;
                let i = if i < 0 { i + len } else { i };
                usize::try_from(i).ok().and_then(|i| c.choices.get(i)).cloned()
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
    /// bounds, on the step grid, `int(internal)` a valid categorical index).
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
                d.low as f64 <= internal
                    && internal <= d.high as f64
                    && (internal - d.low as f64).rem_euclid(d.step as f64) == 0.0
            }
            Distribution::Categorical(c) => {
                internal.is_finite()
                    && internal > -1.0
                    && (internal.trunc() as usize) < c.choices.len()
            }
        }
    }

    /// Optuna's `check_distribution_compatibility(self, new)`: a parameter that reappears in a
    /// study must keep its class (a legacy class is a class of its own), its log flag (float
    /// and int), and its choices (categorical, compared with Python's `==`). Bounds and steps
    /// may change.
    pub fn check_compatible(&self, name: &str, new: &Distribution) -> Result<()> {
        let reason = if self.kind_name() != new.kind_name() {
            "cannot set a different distribution kind to the same parameter name"
        } else {
            match (self, new) {
                (Distribution::Float(a), Distribution::Float(b)) if a.log != b.log => {
                    "cannot set a different log configuration to the same parameter name"
                }
                (Distribution::Int(a), Distribution::Int(b)) if a.log != b.log => {
                    "cannot set a different log configuration to the same parameter name"
                }
                (Distribution::Categorical(a), Distribution::Categorical(b))
                    if a.choices.len() != b.choices.len()
                        || a.choices.iter().zip(b.choices.iter()).any(|(x, y)| !x.py_eq(y)) =>
                {
                    "CategoricalDistribution does not support dynamic value space"
                }
                _ => return Ok(()),
            }
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
        assert!(Distribution::float(0.0, f64::INFINITY, false, Some(1.0)).is_err());
        assert!(Distribution::int(1, 10, true, 2).is_err());
        assert!(Distribution::int(0, 10, true, 1).is_err());
        assert!(Distribution::int(0, 10, false, 0).is_err());
        assert!(Distribution::categorical(vec![]).is_err());
        // Python compares with NaN as false, so NaN bounds pass, as in Optuna.
        assert!(Distribution::float(f64::NAN, 1.0, false, None).is_ok());
        // high is adjusted onto the grid, in decimal arithmetic as Optuna does
        let Distribution::Int(d) = Distribution::int(0, 10, false, 3).unwrap() else { panic!() };
        assert_eq!(d.high(), 9);
        let Distribution::Int(d) = Distribution::int(i64::MIN, i64::MAX, false, 2).unwrap() else {
            panic!()
        };
        assert_eq!(d.high(), i64::MAX - 1);
        let Distribution::Float(d) = Distribution::float(0.0, 1.0, false, Some(0.3)).unwrap()
        else {
            panic!()
        };
        assert_eq!(d.high(), 0.9);
        let Distribution::Float(d) = Distribution::float(0.0, 1.0, false, Some(0.1)).unwrap()
        else {
            panic!()
        };
        assert_eq!(d.high(), 1.0);
    }

    #[test]
    fn legacy_classes_have_fixed_configurations() {
        use FloatClass::*;
        assert!(FloatDistribution::new(Uniform, 0.0, 1.0, false, None).is_ok());
        assert!(FloatDistribution::new(Uniform, 0.1, 1.0, true, None).is_err());
        assert!(FloatDistribution::new(LogUniform, 0.1, 1.0, true, None).is_ok());
        assert!(FloatDistribution::new(LogUniform, 0.1, 1.0, false, None).is_err());
        assert!(FloatDistribution::new(LogUniform, 0.0, 1.0, true, None).is_err());
        assert!(FloatDistribution::new(DiscreteUniform, 0.0, 1.0, false, Some(0.5)).is_ok());
        assert!(FloatDistribution::new(DiscreteUniform, 0.0, 1.0, false, None).is_err());
        assert!(IntDistribution::new(IntClass::IntUniform, 0, 9, false, 2).is_ok());
        assert!(IntDistribution::new(IntClass::IntUniform, 1, 9, true, 1).is_err());
        assert!(IntDistribution::new(IntClass::IntLogUniform, 1, 9, true, 1).is_ok());
        assert!(IntDistribution::new(IntClass::IntLogUniform, 1, 9, true, 2).is_err());
        let d =
            Distribution::Float(FloatDistribution::new(Uniform, 0.0, 1.0, false, None).unwrap());
        assert_eq!(d.kind_name(), "UniformDistribution");
        assert!(d.is_legacy());
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
        // Python: choices[int(-1.0)] is the last choice, choices[int(1.7)] the second.
        assert_eq!(c.to_external(-1.0), Some(ParamValue::Str("adam".into())));
        assert_eq!(c.to_external(1.7), Some(ParamValue::Bool(true)));
        assert!(c.to_external(-6.0).is_none());
        assert!(c.to_external(f64::NAN).is_none());
        assert!(c.to_internal(&ParamValue::Str("sgd".into())).is_err());
        let i = Distribution::int(-5, 5, false, 1).unwrap();
        assert_eq!(i.to_external(3.0), Some(ParamValue::Int(3)));
        assert_eq!(i.to_external(-2.9), Some(ParamValue::Int(-2)));
        assert!(i.to_external(f64::NAN).is_none());
        assert!(matches!(i.to_external(1e30), Some(ParamValue::BigInt(_))));
        assert!(i.to_internal(&ParamValue::Str("x".into())).is_err());
    }

    #[test]
    fn contains_follows_optuna() {
        let f = Distribution::float(0.0, 1.0, false, Some(0.25)).unwrap();
        assert!(f.contains(0.5) && !f.contains(0.6) && !f.contains(1.25));
        let i = Distribution::int(1, 9, false, 2).unwrap();
        assert!(i.contains(3.0) && !i.contains(4.0) && !i.contains(11.0) && !i.contains(3.5));
        let c = Distribution::categorical(vec![ParamValue::Int(1), ParamValue::Int(2)]).unwrap();
        assert!(c.contains(1.0) && !c.contains(2.0) && c.contains(0.5) && !c.contains(f64::NAN));
    }

    #[test]
    fn compatibility_rule() {
        let f = Distribution::float(0.0, 1.0, false, None).unwrap();
        let f2 = Distribution::float(-3.0, 3.0, false, Some(0.5)).unwrap();
        let flog = Distribution::float(0.1, 1.0, true, None).unwrap();
        let uniform = Distribution::Float(
            FloatDistribution::new(FloatClass::Uniform, 0.0, 1.0, false, None).unwrap(),
        );
        let i = Distribution::int(0, 3, false, 1).unwrap();
        let c1 = Distribution::categorical(vec![ParamValue::Int(1)]).unwrap();
        let c2 = Distribution::categorical(vec![ParamValue::Int(2)]).unwrap();
        let c1_true = Distribution::categorical(vec![ParamValue::Bool(true)]).unwrap();
        let c1_float = Distribution::categorical(vec![ParamValue::Float(1.0)]).unwrap();
        let c1_str = Distribution::categorical(vec![ParamValue::Str("1".into())]).unwrap();
        assert!(f.check_compatible("x", &f2).is_ok());
        assert!(matches!(
            f.check_compatible("x", &flog),
            Err(Error::IncompatibleDistribution { .. })
        ));
        assert!(f.check_compatible("x", &i).is_err());
        // A legacy class is a class of its own, both ways.
        assert!(f.check_compatible("x", &uniform).is_err());
        assert!(uniform.check_compatible("x", &f).is_err());
        assert!(uniform.check_compatible("x", &uniform.clone()).is_ok());
        assert!(c1.check_compatible("x", &c1.clone()).is_ok());
        assert!(c1.check_compatible("x", &c2).is_err());
        // Python's ==: True == 1 == 1.0, but not "1".
        assert!(c1.check_compatible("x", &c1_true).is_ok());
        assert!(c1.check_compatible("x", &c1_float).is_ok());
        assert!(c1.check_compatible("x", &c1_str).is_err());
    }

    #[test]
    fn python_equality_of_choices() {
        use ParamValue as P;
        assert!(P::Float(f64::NAN).py_eq(&P::Float(f64::NAN)));
        assert!(P::Float(0.0).py_eq(&P::Float(-0.0)));
        assert!(P::Bool(false).py_eq(&P::Int(0)));
        assert!(!P::Null.py_eq(&P::Bool(false)));
        assert!(!P::Int(9_007_199_254_740_993).py_eq(&P::Float(9_007_199_254_740_992.0)));
        let Some(Integer::Big(b)) = Integer::parse("1000000000000000019884624838656") else {
            panic!()
        };
        assert!(P::BigInt(b).py_eq(&P::Float(1e30)));
    }
}
