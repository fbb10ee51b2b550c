//! Just enough of Python's `decimal` module (default context: 28 significant digits,
//! ROUND_HALF_EVEN, `InvalidOperation` trapped) to move a stepped float distribution's upper bound
//! onto its grid exactly as Optuna's `_adjust_discrete_uniform_high` does:
//!
//! ```python
//! d_high, d_low, d_step = Decimal(str(high)), Decimal(str(low)), Decimal(str(step))
//! d_r = d_high - d_low
//! if d_r % d_step != Decimal("0"):
//!     high = float((d_r // d_step) * d_step + d_low)
//! ```
//!
//! Decimal arithmetic is what makes `FloatDistribution(0, 1, step=0.3)` end at `0.9` rather than
//! at the binary `0.8999999999999999`, and what replay must repeat to give Optuna's bounds.

use num_bigint::BigUint;

use super::python::py_float;

/// Significant digits of the default decimal context.
const PRECISION: usize = 28;

/// A decimal number: NaN, an infinity, or `(-1)^neg * coef * 10^exp`.
#[derive(Debug, Clone, PartialEq)]
enum Dec {
    NaN,
    Inf { neg: bool },
    Fin { neg: bool, coef: BigUint, exp: i64 },
}

/// Python's `decimal.InvalidOperation` (the default context traps it, so Optuna raises).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct InvalidOperation;

/// `_adjust_discrete_uniform_high(low, high, step)`: `high` moved down onto the grid
/// `low + k * step` in decimal arithmetic, or unchanged when it is on it already.
///
/// Replay builds the same few distributions over and over, so results are remembered per thread
/// (a small table, cleared when full): the decimal arithmetic runs once per distinct grid.
pub(crate) fn adjust_discrete_high(
    low: f64,
    high: f64,
    step: f64,
) -> Result<f64, InvalidOperation> {
    use std::cell::RefCell;
    use std::collections::HashMap;
    type Memo = HashMap<[u64; 3], Result<u64, InvalidOperation>>;
    thread_local!(static MEMO: RefCell<Memo> = RefCell::new(HashMap::new()));
    let key = [low.to_bits(), high.to_bits(), step.to_bits()];
    if let Some(hit) = MEMO.with(|m| m.borrow().get(&key).copied()) {
        return hit.map(f64::from_bits);
    }
    let result = adjust_uncached(low, high, step);
    MEMO.with(|m| {
        let mut m = m.borrow_mut();
        if m.len() >= 1024 {
            m.clear();
        }
        m.insert(key, result.map(f64::to_bits));
    });
    result
}

fn adjust_uncached(low: f64, high: f64, step: f64) -> Result<f64, InvalidOperation> {
    let (low, high, step) = (Dec::from_f64(low), Dec::from_f64(high), Dec::from_f64(step));
    let r = high.sub(&low)?;
    let (quotient, remainder) = r.div_rem(&step)?;
    if remainder.is_zero() {
        return Ok(high.to_f64());
    }
    Ok(quotient.mul(&step)?.add(&low)?.to_f64())
}

fn ten_pow(n: u64) -> BigUint {
    num_bigint::BigUint::from(10u8).pow(n as u32)
}

fn digits(coef: &BigUint) -> usize {
    if *coef == BigUint::ZERO { 1 } else { coef.to_str_radix(10).len() }
}

impl Dec {
    /// `Decimal(str(x))`: the exact value of Python's `repr` of `x`.
    fn from_f64(x: f64) -> Dec {
        if x.is_nan() {
            return Dec::NaN;
        }
        if x.is_infinite() {
            return Dec::Inf { neg: x < 0.0 };
        }
        let text = py_float(x);
        let (neg, text) = match text.strip_prefix('-') {
            Some(t) => (true, t),
            None => (false, text.as_str()),
        };
        let (mantissa, exp) = match text.split_once('e') {
            Some((m, e)) => (m, e.parse::<i64>().unwrap_or(0)),
            None => (text, 0),
        };
        let (int, frac) = mantissa.split_once('.').unwrap_or((mantissa, ""));
        let all: String = int.chars().chain(frac.chars()).collect();
        let coef = all.parse::<BigUint>().unwrap_or_default();
        Dec::Fin { neg, coef, exp: exp - frac.len() as i64 }
    }

    fn is_zero(&self) -> bool {
        matches!(self, Dec::Fin { coef, .. } if *coef == BigUint::ZERO)
    }

    /// A finite result rounded to [`PRECISION`] digits, half to even.
    fn rounded(neg: bool, coef: BigUint, exp: i64) -> Dec {
        let n = digits(&coef);
        if n <= PRECISION {
            return Dec::Fin { neg, coef, exp };
        }
        let drop = (n - PRECISION) as u64;
        let unit = ten_pow(drop);
        let (mut kept, rest) = (&coef / &unit, &coef % &unit);
        let twice = rest * 2u8;
        if twice > unit || (twice == unit && (&kept % 2u8) == BigUint::from(1u8)) {
            kept += 1u8;
        }
        // A carry out of the top digit (999.. -> 1000..) leaves PRECISION + 1 digits: drop one.
        if digits(&kept) > PRECISION {
            return Dec::rounded(neg, kept, exp + drop as i64);
        }
        Dec::Fin { neg, coef: kept, exp: exp + drop as i64 }
    }

    fn neg(&self) -> Dec {
        match self {
            Dec::NaN => Dec::NaN,
            Dec::Inf { neg } => Dec::Inf { neg: !neg },
            Dec::Fin { neg, coef, exp } => Dec::Fin { neg: !neg, coef: coef.clone(), exp: *exp },
        }
    }

    fn sub(&self, other: &Dec) -> Result<Dec, InvalidOperation> {
        self.add(&other.neg())
    }

    fn add(&self, other: &Dec) -> Result<Dec, InvalidOperation> {
        Ok(match (self, other) {
            (Dec::NaN, _) | (_, Dec::NaN) => Dec::NaN,
            (Dec::Inf { neg: a }, Dec::Inf { neg: b }) if a != b => return Err(InvalidOperation),
            (Dec::Inf { neg }, _) | (_, Dec::Inf { neg }) => Dec::Inf { neg: *neg },
            (Dec::Fin { neg: na, coef: ca, exp: ea }, Dec::Fin { neg: nb, coef: cb, exp: eb }) => {
                let exp = (*ea).min(*eb);
                let a = ca * ten_pow((ea - exp) as u64);
                let b = cb * ten_pow((eb - exp) as u64);
                if na == nb {
                    Dec::rounded(*na, a + b, exp)
                } else if a >= b {
                    Dec::rounded(*na, a - b, exp)
                } else {
                    Dec::rounded(*nb, b - a, exp)
                }
            }
        })
    }

    fn mul(&self, other: &Dec) -> Result<Dec, InvalidOperation> {
        Ok(match (self, other) {
            (Dec::NaN, _) | (_, Dec::NaN) => Dec::NaN,
            (Dec::Inf { .. }, x) | (x, Dec::Inf { .. }) if x.is_zero() => {
                return Err(InvalidOperation);
            }
            (Dec::Inf { neg: a }, Dec::Inf { neg: b }) => Dec::Inf { neg: a != b },
            (Dec::Inf { neg: a }, Dec::Fin { neg: b, .. })
            | (Dec::Fin { neg: a, .. }, Dec::Inf { neg: b }) => Dec::Inf { neg: a != b },
            (Dec::Fin { neg: na, coef: ca, exp: ea }, Dec::Fin { neg: nb, coef: cb, exp: eb }) => {
                Dec::rounded(na != nb, ca * cb, ea + eb)
            }
        })
    }

    /// `(self // other, self % other)`: the quotient truncated toward zero and the remainder
    /// with the dividend's sign. A quotient of more than [`PRECISION`] digits, a division by
    /// zero and an infinite dividend are `InvalidOperation`, as in Python.
    fn div_rem(&self, other: &Dec) -> Result<(Dec, Dec), InvalidOperation> {
        match (self, other) {
            (Dec::NaN, _) | (_, Dec::NaN) => Ok((Dec::NaN, Dec::NaN)),
            (Dec::Inf { .. }, _) => Err(InvalidOperation),
            (Dec::Fin { neg: na, .. }, Dec::Inf { neg: nb }) => {
                let zero = Dec::Fin { neg: na != nb, coef: BigUint::ZERO, exp: 0 };
                Ok((zero, self.clone()))
            }
            (Dec::Fin { neg: na, coef: ca, exp: ea }, Dec::Fin { neg: nb, coef: cb, exp: eb }) => {
                if *cb == BigUint::ZERO {
                    return Err(InvalidOperation);
                }
                let exp = (*ea).min(*eb);
                let a = ca * ten_pow((ea - exp) as u64);
                let b = cb * ten_pow((eb - exp) as u64);
                let (q, r) = (&a / &b, &a % &b);
                if digits(&q) > PRECISION {
                    return Err(InvalidOperation);
                }
                let quotient = Dec::Fin { neg: na != nb, coef: q, exp: 0 };
                Ok((quotient, Dec::rounded(*na, r, exp)))
            }
        }
    }

    /// `float(d)`: the nearest double (Rust's parser rounds correctly, as Python's does).
    fn to_f64(&self) -> f64 {
        match self {
            Dec::NaN => f64::NAN,
            Dec::Inf { neg } => {
                if *neg {
                    f64::NEG_INFINITY
                } else {
                    f64::INFINITY
                }
            }
            Dec::Fin { neg, coef, exp } => {
                let sign = if *neg { "-" } else { "" };
                format!("{sign}{coef}e{exp}").parse().unwrap_or(f64::NAN)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_optuna_adjustments() {
        // Values computed with Python: optuna.distributions._adjust_discrete_uniform_high.
        assert_eq!(adjust_discrete_high(0.0, 1.0, 0.3), Ok(0.9));
        assert_eq!(adjust_discrete_high(0.0, 1.0, 0.1), Ok(1.0));
        assert_eq!(adjust_discrete_high(-0.5, 1.0, 0.25), Ok(1.0));
        assert_eq!(adjust_discrete_high(0.1, 0.95, 0.2), Ok(0.9));
        assert_eq!(adjust_discrete_high(1e-30, 1.0, 0.3), Ok(0.9));
        assert_eq!(adjust_discrete_high(0.0, 1e30, 1e-10), Err(InvalidOperation));
        assert_eq!(adjust_discrete_high(0.0, f64::INFINITY, 1.0), Err(InvalidOperation));
        assert_eq!(adjust_discrete_high(0.0, 0.0, f64::INFINITY), Ok(0.0));
        assert!(adjust_discrete_high(0.0, 1.0, f64::NAN).unwrap().is_nan());
    }

    #[test]
    fn rounds_to_28_digits_half_even() {
        let one_minus_tiny = Dec::from_f64(1.0).sub(&Dec::from_f64(1e-300)).unwrap();
        assert_eq!(one_minus_tiny.to_f64(), 1.0);
        let Dec::Fin { coef, .. } = one_minus_tiny else { panic!() };
        assert_eq!(digits(&coef), 28);
    }
}
