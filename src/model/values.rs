//! `Values`: a trial's objective values, the usual single one kept without an allocation.

use std::fmt;
use std::ops::Deref;

/// One or more objective values (a slice through `Deref`). A single value is held inline, so a
/// single-objective trial's values cost no allocation. Equality is the slices' (IEEE: NaN is
/// not equal to itself; `FrozenTrial`'s equality compares values bit for bit).
#[derive(Clone)]
pub struct Values(Repr);

#[derive(Clone)]
enum Repr {
    One(f64),
    Many(Box<[f64]>),
}

impl Values {
    /// The values as a vector.
    pub fn to_vec(&self) -> Vec<f64> {
        self[..].to_vec()
    }
}

impl Default for Values {
    /// No values.
    fn default() -> Self {
        Values(Repr::Many(Box::default()))
    }
}

impl Deref for Values {
    type Target = [f64];
    fn deref(&self) -> &[f64] {
        match &self.0 {
            Repr::One(x) => std::slice::from_ref(x),
            Repr::Many(v) => v,
        }
    }
}

impl From<&[f64]> for Values {
    fn from(v: &[f64]) -> Self {
        match v {
            [x] => Values(Repr::One(*x)),
            _ => Values(Repr::Many(v.into())),
        }
    }
}

impl From<Vec<f64>> for Values {
    fn from(v: Vec<f64>) -> Self {
        match v[..] {
            [x] => Values(Repr::One(x)),
            _ => Values(Repr::Many(v.into_boxed_slice())),
        }
    }
}

impl<const N: usize> From<[f64; N]> for Values {
    fn from(v: [f64; N]) -> Self {
        Values::from(&v[..])
    }
}

impl From<Values> for Vec<f64> {
    fn from(v: Values) -> Self {
        match v.0 {
            Repr::One(x) => vec![x],
            Repr::Many(v) => v.into_vec(),
        }
    }
}

impl FromIterator<f64> for Values {
    fn from_iter<I: IntoIterator<Item = f64>>(iter: I) -> Self {
        Values::from(iter.into_iter().collect::<Vec<f64>>())
    }
}

impl<'a> IntoIterator for &'a Values {
    type Item = &'a f64;
    type IntoIter = std::slice::Iter<'a, f64>;
    fn into_iter(self) -> Self::IntoIter {
        self[..].iter()
    }
}

impl PartialEq for Values {
    fn eq(&self, other: &Self) -> bool {
        self[..] == other[..]
    }
}

impl PartialEq<[f64]> for Values {
    fn eq(&self, other: &[f64]) -> bool {
        self[..] == *other
    }
}

impl PartialEq<Vec<f64>> for Values {
    fn eq(&self, other: &Vec<f64>) -> bool {
        self[..] == other[..]
    }
}

impl fmt::Debug for Values {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self[..].fmt(f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_value_inline_several_in_a_slice() {
        assert_eq!(std::mem::size_of::<Option<Values>>(), 24);
        let one = Values::from(vec![1.5]);
        assert!(matches!(one.0, Repr::One(x) if x == 1.5));
        assert_eq!(&one[..], [1.5]);
        let two: Values = [1.0, 2.0].into();
        assert_eq!((two.len(), two[1]), (2, 2.0));
        assert_eq!(Vec::from(two.clone()), vec![1.0, 2.0]);
        assert_eq!(format!("{two:?}"), "[1.0, 2.0]");
        assert!(Values::default().is_empty());
        assert_eq!(Values::from(&[][..]), Values::default());
        assert_eq!(one, vec![1.5]);
        assert_ne!(Values::from([f64::NAN]), Values::from([f64::NAN]));
    }
}
