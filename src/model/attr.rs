//! JSON-like attribute values (study and trial user/system attributes).

use std::collections::BTreeMap;

use super::bigint::{BigInt, Integer};
use super::utf16::Utf16String;

/// A JSON-like value: what Optuna accepts as a user or system attribute.
///
/// Unlike strict JSON, floats may be NaN or infinite (Python's `json` writes them bare), and
/// integers and floats stay distinct. Equality compares floats bit for bit, so a value read back
/// from the journal equals the value written, NaN included.
#[derive(Debug, Clone)]
pub enum AttrValue {
    /// JSON `null` / Python `None`.
    Null,
    /// A boolean.
    Bool(bool),
    /// A signed 64-bit integer.
    Int(i64),
    /// An integer outside the 64-bit range (Python's ints have no size limit, and Optuna keeps
    /// attribute values as they are).
    BigInt(BigInt),
    /// A double, kept exactly (including NaN and the infinities).
    Float(f64),
    /// A UTF-8 string.
    String(String),
    /// A string with a lone UTF-16 surrogate, which Python (and so Optuna) can hold and a Rust
    /// `String` cannot.
    Utf16(Utf16String),
    /// An ordered list.
    Array(Vec<AttrValue>),
    /// A map with string keys (sorted by key).
    Map(BTreeMap<String, AttrValue>),
}

/// Deepest nesting of an attribute value the journal accepts: a scalar has depth 1, an array or
/// map one more than its deepest element. Deeper values are refused when written (so nothing
/// acknowledged can fail to decode) and when read. Python's `json` stops at its recursion limit
/// (1000 frames), so Optuna can write about 985 levels and read a little more: this bound holds
/// everything Optuna can write.
pub const MAX_ATTR_DEPTH: usize = 1000;

impl AttrValue {
    /// Whether the value holds an integer outside the 64-bit range or a string with a lone
    /// surrogate anywhere (such values need the extended encoding of `docs/FORMAT.md`).
    pub fn needs_extension(&self) -> bool {
        let mut stack = vec![self];
        while let Some(value) = stack.pop() {
            match value {
                AttrValue::BigInt(_) | AttrValue::Utf16(_) => return true,
                AttrValue::Array(items) => stack.extend(items),
                AttrValue::Map(map) => stack.extend(map.values()),
                _ => {}
            }
        }
        false
    }

    /// The nesting depth (a scalar or empty container is 1), computed without recursion so that
    /// an absurdly deep value cannot overflow the stack.
    pub fn depth(&self) -> usize {
        let mut deepest = 0;
        let mut stack = vec![(self, 1usize)];
        while let Some((value, depth)) = stack.pop() {
            deepest = deepest.max(depth);
            match value {
                AttrValue::Array(items) => stack.extend(items.iter().map(|v| (v, depth + 1))),
                AttrValue::Map(map) => stack.extend(map.values().map(|v| (v, depth + 1))),
                _ => {}
            }
        }
        deepest
    }
}

impl PartialEq for AttrValue {
    fn eq(&self, other: &Self) -> bool {
        use AttrValue as A;
        match (self, other) {
            (A::Null, A::Null) => true,
            (A::Bool(a), A::Bool(b)) => a == b,
            (A::Int(a), A::Int(b)) => a == b,
            (A::BigInt(a), A::BigInt(b)) => a == b,
            (A::Float(a), A::Float(b)) => super::same_f64(*a, *b),
            (A::String(a), A::String(b)) => a == b,
            (A::Utf16(a), A::Utf16(b)) => a == b,
            (A::Array(a), A::Array(b)) => a == b,
            (A::Map(a), A::Map(b)) => a == b,
            _ => false,
        }
    }
}

impl From<&str> for AttrValue {
    fn from(s: &str) -> Self {
        AttrValue::String(s.to_owned())
    }
}
impl From<String> for AttrValue {
    fn from(s: String) -> Self {
        AttrValue::String(s)
    }
}
impl From<i64> for AttrValue {
    fn from(v: i64) -> Self {
        AttrValue::Int(v)
    }
}
impl From<Integer> for AttrValue {
    fn from(v: Integer) -> Self {
        match v {
            Integer::Small(i) => AttrValue::Int(i),
            Integer::Big(b) => AttrValue::BigInt(b),
        }
    }
}
impl From<f64> for AttrValue {
    fn from(v: f64) -> Self {
        AttrValue::Float(v)
    }
}
impl From<bool> for AttrValue {
    fn from(v: bool) -> Self {
        AttrValue::Bool(v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn depth_counts_nesting() {
        assert_eq!(AttrValue::Null.depth(), 1);
        assert_eq!(AttrValue::Array(vec![]).depth(), 1);
        let nested =
            AttrValue::Array(vec![AttrValue::Int(1), AttrValue::Array(vec![AttrValue::Null])]);
        assert_eq!(nested.depth(), 3);
    }

    #[test]
    fn nan_equals_itself_and_int_differs_from_float() {
        assert_eq!(AttrValue::Float(f64::NAN), AttrValue::Float(f64::NAN));
        assert_ne!(AttrValue::Int(1), AttrValue::Float(1.0));
        assert_ne!(AttrValue::Float(0.0), AttrValue::Float(-0.0));
    }
}
