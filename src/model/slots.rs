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
