//! Integers outside the 64-bit range, as Python (and so Optuna) keeps them.

use std::cmp::Ordering;
use std::fmt;

/// Most decimal digits of an integer Python converts to or from text by default
/// (`sys.get_int_max_str_digits()`, 4300 since Python 3.11): Optuna can neither write nor read a
/// longer one in a journal, and neither can trialog.
pub const MAX_INT_DIGITS: usize = 4300;

/// An integer outside the `i64` range, kept exactly as its canonical decimal text (an optional
/// `-`, then digits without leading zeros).
///
/// Only values outside `i64::MIN..=i64::MAX` are representable, so every integer has exactly one
/// form: an `i64` where it fits ([`Integer::Small`]), a `BigInt` where it does not.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct BigInt(Box<str>);

/// A decimal integer literal: an `i64` where it fits, a [`BigInt`] otherwise.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Integer {
    /// Within the `i64` range.
    Small(i64),
    /// Outside the `i64` range.
    Big(BigInt),
}

impl Integer {
    /// Parses `-?[0-9]+` (leading zeros allowed and dropped, `-0` is `0`) of at most
    /// [`MAX_INT_DIGITS`] digits; `None` for anything else.
    pub fn parse(text: &str) -> Option<Integer> {
        let (neg, digits) = match text.strip_prefix('-') {
            Some(d) => (true, d),
            None => (false, text),
        };
        if digits.is_empty()
            || digits.len() > MAX_INT_DIGITS
            || !digits.bytes().all(|b| b.is_ascii_digit())
        {
            return None;
        }
        if let Ok(v) = text.parse::<i64>() {
            return Some(Integer::Small(v));
        }
        let digits = digits.trim_start_matches('0');
        let canonical = if neg { format!("-{digits}") } else { digits.to_owned() };
        // Leading zeros aside, a text that `i64` refused is out of its range.
        match canonical.parse::<i64>() {
            Ok(v) => Some(Integer::Small(v)),
            Err(_) => Some(Integer::Big(BigInt(canonical.into()))),
        }
    }

    /// `int(x)` of a finite double: truncated toward zero, exactly (`None` for NaN and the
    /// infinities, where Python raises).
    pub fn from_f64_trunc(x: f64) -> Option<Integer> {
        if !x.is_finite() {
            return None;
        }
        let t = x.trunc();
        if (i64::MIN as f64..-(i64::MIN as f64)).contains(&t) {
            return Some(Integer::Small(t as i64));
        }
        // `{:.0}` prints an integral double's exact decimal expansion.
        Integer::parse(&format!("{t:.0}"))
    }
}

impl BigInt {
    /// The canonical decimal text (`-` and digits, no leading zeros).
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether the value is negative.
    pub fn is_negative(&self) -> bool {
        self.0.starts_with('-')
    }

    /// `float(n)`: the nearest double, rounded half to even as Python rounds (an infinity where
    /// Python raises `OverflowError`).
    pub fn to_f64(&self) -> f64 {
        self.0.parse().unwrap_or(f64::NAN)
    }
}

impl Integer {
    /// The value as an `i64`, if it is one.
    pub fn as_i64(&self) -> Option<i64> {
        match self {
            Integer::Small(v) => Some(*v),
            Integer::Big(_) => None,
        }
    }

    /// `float(n)`: the nearest double (an infinity past `f64::MAX`, where Python raises).
    pub fn to_f64(&self) -> f64 {
        match self {
            Integer::Small(v) => *v as f64,
            Integer::Big(b) => b.to_f64(),
        }
    }
}

impl From<i64> for Integer {
    fn from(v: i64) -> Self {
        Integer::Small(v)
    }
}

/// Numeric order (as Python compares its integers).
impl Ord for Integer {
    fn cmp(&self, other: &Self) -> Ordering {
        match (self, other) {
            (Integer::Small(a), Integer::Small(b)) => a.cmp(b),
            // A big integer lies outside the i64 range: below it if negative, above it if not.
            (Integer::Small(_), Integer::Big(b)) => {
                if b.is_negative() {
                    Ordering::Greater
                } else {
                    Ordering::Less
                }
            }
            (Integer::Big(a), Integer::Small(_)) => {
                if a.is_negative() {
                    Ordering::Less
                } else {
                    Ordering::Greater
                }
            }
            (Integer::Big(a), Integer::Big(b)) => a.numeric_cmp(b),
        }
    }
}

impl PartialOrd for Integer {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl BigInt {
    /// Numeric order of two canonical decimal texts: by sign, then by magnitude (more digits is
    /// larger, then digit by digit), reversed for negatives.
    fn numeric_cmp(&self, other: &BigInt) -> Ordering {
        match (self.is_negative(), other.is_negative()) {
            (true, false) => Ordering::Less,
            (false, true) => Ordering::Greater,
            (negative, _) => {
                let (a, b) = (self.0.trim_start_matches('-'), other.0.trim_start_matches('-'));
                let magnitude = a.len().cmp(&b.len()).then_with(|| a.cmp(b));
                if negative { magnitude.reverse() } else { magnitude }
            }
        }
    }
}

impl fmt::Display for BigInt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Display for Integer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Integer::Small(v) => write!(f, "{v}"),
            Integer::Big(b) => b.fmt(f),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_form_per_integer() {
        assert_eq!(Integer::parse("-0"), Some(Integer::Small(0)));
        assert_eq!(Integer::parse("0009"), Some(Integer::Small(9)));
        assert_eq!(Integer::parse("-9223372036854775808"), Some(Integer::Small(i64::MIN)));
        let Some(Integer::Big(b)) = Integer::parse("9223372036854775808") else { panic!() };
        assert_eq!(b.as_str(), "9223372036854775808");
        let Some(Integer::Big(b)) = Integer::parse("-000123456789012345678901234567890") else {
            panic!()
        };
        assert_eq!(b.as_str(), "-123456789012345678901234567890");
        assert!(b.is_negative());
        assert_eq!(b.to_f64(), -1.2345678901234568e29);
        for bad in ["", "-", "+1", "1.0", "1e3", " 1", "0x1"] {
            assert_eq!(Integer::parse(bad), None, "{bad:?}");
        }
        assert!(Integer::parse(&"9".repeat(MAX_INT_DIGITS)).is_some());
        assert_eq!(Integer::parse(&"9".repeat(MAX_INT_DIGITS + 1)), None);
    }

    #[test]
    fn orders_numerically_across_both_forms() {
        let sorted: Vec<Integer> = [
            "-100000000000000000000",
            "-9223372036854775809",
            "-9223372036854775808",
            "-1",
            "0",
            "9223372036854775807",
            "9223372036854775808",
            "9223372036854775809",
            "10000000000000000000",
            "100000000000000000000",
        ]
        .iter()
        .map(|t| Integer::parse(t).unwrap())
        .collect();
        for (i, a) in sorted.iter().enumerate() {
            for (j, b) in sorted.iter().enumerate() {
                assert_eq!(a.cmp(b), i.cmp(&j), "{a} vs {b}");
            }
        }
        assert_eq!(Integer::from(7).as_i64(), Some(7));
        assert_eq!(sorted[0].as_i64(), None);
    }

    #[test]
    fn truncates_doubles_like_python_int() {
        assert_eq!(Integer::from_f64_trunc(-2.7), Some(Integer::Small(-2)));
        assert_eq!(Integer::from_f64_trunc(f64::NAN), None);
        assert_eq!(Integer::from_f64_trunc(f64::INFINITY), None);
        let Some(Integer::Big(b)) = Integer::from_f64_trunc(1e30) else { panic!() };
        // Python: int(1e30)
        assert_eq!(b.as_str(), "1000000000000000019884624838656");
        assert_eq!(Integer::from_f64_trunc(i64::MIN as f64), Some(Integer::Small(i64::MIN)));
    }
}
