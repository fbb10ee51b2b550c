//! Integers outside the 64-bit range, as Python (and so Optuna) keeps them.

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
