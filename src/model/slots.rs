//! `Slots`: the storage of the small per-trial maps ([`super::VecMap`], [`super::ListMap`]).
//!
//! A trial has a handful of parameters, attributes and intermediate values; one exactly-sized
//! slice holds them (no allocation while empty) where a `BTreeMap` would allocate a node of
//! eleven slots, and the storage itself is two words. Past [`EXACT_MAX`] entries it keeps spare
//! room as a `Vec` does, so a long run of inserts costs amortized O(1) each.

/// Most entries kept in an exactly-sized slice (each insert then reallocates it).
pub const EXACT_MAX: usize = 8;

/// Up to [`EXACT_MAX`] items in an exactly-sized slice, more in a growable vector (boxed, so
/// that the storage stays two words).
#[derive(Clone)]
pub(super) enum Slots<T> {
    /// Exactly `len` items.
    Exact(Box<[T]>),
    // The box keeps the storage two words; only maps past EXACT_MAX entries pay for it.
    #[allow(clippy::box_collection)]
    /// More than [`EXACT_MAX`] items (or were, before removals).
    Growable(Box<Vec<T>>),
}

impl<T> Default for Slots<T> {
    fn default() -> Self {
        Slots::Exact(Box::default())
    }
}

impl<T> Slots<T> {
    /// `items`, sized exactly while small.
    pub(super) fn from_vec(items: Vec<T>) -> Self {
        if items.len() <= EXACT_MAX {
            Slots::Exact(items.into_boxed_slice())
        } else {
            Slots::Growable(Box::new(items))
        }
    }

    /// The items.
    pub(super) fn as_slice(&self) -> &[T] {
        match self {
            Slots::Exact(b) => b,
            Slots::Growable(v) => v,
        }
    }

    /// The items, to change in place.
    pub(super) fn as_mut_slice(&mut self) -> &mut [T] {
        match self {
            Slots::Exact(b) => b,
            Slots::Growable(v) => v,
        }
    }

    /// Inserts `item` at `i` (a small slice grows by exactly one).
    pub(super) fn insert(&mut self, i: usize, item: T) {
        self.edit(|v| {
            if v.len() < EXACT_MAX {
                v.reserve_exact(1);
            }
            v.insert(i, item);
        })
    }

    /// Removes and returns the item at `i`, keeping the others in order.
    pub(super) fn remove(&mut self, i: usize) -> T {
        self.edit(|v| v.remove(i))
    }

    /// The items as a vector.
    pub(super) fn into_vec(self) -> Vec<T> {
        match self {
            Slots::Exact(b) => b.into_vec(),
            Slots::Growable(v) => *v,
        }
    }

    /// Whether the items are in an exactly-sized slice.
    #[cfg(test)]
    pub(super) fn is_exact(&self) -> bool {
        matches!(self, Slots::Exact(_))
    }

    /// Changes the items as a `Vec` (sized exactly again afterwards while small).
    fn edit<R>(&mut self, f: impl FnOnce(&mut Vec<T>) -> R) -> R {
        match self {
            Slots::Growable(v) => f(v),
            Slots::Exact(b) => {
                let mut v = std::mem::take(b).into_vec();
                let r = f(&mut v);
                *self = Slots::from_vec(v);
                r
            }
        }
    }
}

/// The part of a map stored as a [`Slots`] of `(key, value)` entries that does not depend on
/// how the entries are ordered: `Default`, `PartialEq` (entries compared in order), `len`,
/// `is_empty`, `iter`, `keys`, `values` (in the map's `$order`), `IntoIterator` by value and by
/// reference, and `Debug` (as a map). Used by [`super::ListMap`] (insertion order) and
/// [`super::VecMap`] (key order), which differ only in where an entry goes and how it is found.
macro_rules! slot_map_common {
    ($map:ident, $order:literal) => {
        impl<K, V> Default for $map<K, V> {
            fn default() -> Self {
                $map { entries: Slots::default() }
            }
        }

        impl<K: PartialEq, V: PartialEq> PartialEq for $map<K, V> {
            fn eq(&self, other: &Self) -> bool {
                self.slice() == other.slice()
            }
        }

        impl<K, V> $map<K, V> {
            fn slice(&self) -> &[(K, V)] {
                self.entries.as_slice()
            }

            /// Number of entries.
            pub fn len(&self) -> usize {
                self.slice().len()
            }

            /// Whether the map is empty.
            pub fn is_empty(&self) -> bool {
                self.slice().is_empty()
            }

            #[doc = concat!("Entries in ", $order, ".")]
            pub fn iter(&self) -> impl DoubleEndedIterator<Item = (&K, &V)> + ExactSizeIterator {
                self.slice().iter().map(|(k, v)| (k, v))
            }

            #[doc = concat!("Keys in ", $order, ".")]
            pub fn keys(&self) -> impl DoubleEndedIterator<Item = &K> + ExactSizeIterator {
                self.slice().iter().map(|(k, _)| k)
            }

            #[doc = concat!("Values in ", $order, ".")]
            pub fn values(&self) -> impl DoubleEndedIterator<Item = &V> + ExactSizeIterator {
                self.slice().iter().map(|(_, v)| v)
            }
        }

        impl<K, V> IntoIterator for $map<K, V> {
            type Item = (K, V);
            type IntoIter = std::vec::IntoIter<(K, V)>;
            fn into_iter(self) -> Self::IntoIter {
                self.entries.into_vec().into_iter()
            }
        }

        impl<'a, K, V> IntoIterator for &'a $map<K, V> {
            type Item = (&'a K, &'a V);
            type IntoIter =
                std::iter::Map<std::slice::Iter<'a, (K, V)>, fn(&'a (K, V)) -> (&'a K, &'a V)>;
            fn into_iter(self) -> Self::IntoIter {
                self.slice().iter().map(|(k, v)| (k, v))
            }
        }

        impl<K: std::fmt::Debug, V: std::fmt::Debug> std::fmt::Debug for $map<K, V> {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.debug_map().entries(self.slice().iter().map(|(k, v)| (k, v))).finish()
            }
        }
    };
}
pub(super) use slot_map_common;
