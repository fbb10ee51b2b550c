//! `ListMap`: a small map that keeps its entries in insertion order, as a Python `dict` does,
//! for a trial's parameters and their distributions (Optuna shows them in the order they were
//! set, or in a template's order).
//!
//! Lookups scan the slice (a trial has a handful of parameters); inserting a new key appends,
//! setting an existing one changes its value in place. The storage is [`Slots`]: two words, one
//! exactly-sized allocation while small, the same as [`super::VecMap`].

use std::borrow::Borrow;

use super::slots::{Slots, slot_map_common};

/// A map with unique keys stored in one slice, in the order they were first inserted (a
/// `dict`'s order). Equality compares the entries in order: the same entries in another order
/// are a different map.
#[derive(Clone)]
pub struct ListMap<K, V> {
    entries: Slots<(K, V)>,
}

slot_map_common!(ListMap, "insertion order");

impl<K, V> ListMap<K, V> {
    /// An empty map (no allocation).
    pub fn new() -> Self {
        Self::default()
    }
}

impl<K: Eq, V> ListMap<K, V> {
    fn find<Q: Eq + ?Sized>(&self, key: &Q) -> Option<usize>
    where
        K: Borrow<Q>,
    {
        self.slice().iter().position(|(k, _)| k.borrow() == key)
    }

    /// The value for `key`.
    pub fn get<Q: Eq + ?Sized>(&self, key: &Q) -> Option<&V>
    where
        K: Borrow<Q>,
    {
        self.find(key).map(|i| &self.slice()[i].1)
    }

    /// The stored key and value for `key`.
    pub fn get_key_value<Q: Eq + ?Sized>(&self, key: &Q) -> Option<(&K, &V)>
    where
        K: Borrow<Q>,
    {
        self.find(key).map(|i| {
            let (k, v) = &self.slice()[i];
            (k, v)
        })
    }

    /// Whether `key` is present.
    pub fn contains_key<Q: Eq + ?Sized>(&self, key: &Q) -> bool
    where
        K: Borrow<Q>,
    {
        self.find(key).is_some()
    }

    /// Sets `key` to `value`: an existing key keeps its place (and its stored key), a new one
    /// goes last. Returns the old value.
    pub fn insert(&mut self, key: K, value: V) -> Option<V> {
        match self.find(&key) {
            Some(i) => Some(std::mem::replace(&mut self.entries.as_mut_slice()[i].1, value)),
            None => {
                let end = self.len();
                self.entries.insert(end, (key, value));
                None
            }
        }
    }

    /// Removes `key` (the others keep their order); returns its value.
    pub fn remove<Q: Eq + ?Sized>(&mut self, key: &Q) -> Option<V>
    where
        K: Borrow<Q>,
    {
        let i = self.find(key)?;
        Some(self.entries.remove(i).1)
    }
}

impl<K: Eq, V, Q: Eq + ?Sized> std::ops::Index<&Q> for ListMap<K, V>
where
    K: Borrow<Q>,
{
    type Output = V;

    /// # Panics
    /// If the key is absent (like `BTreeMap`'s `Index`).
    fn index(&self, key: &Q) -> &V {
        self.get(key).expect("key not present in ListMap")
    }
}

impl<K: Eq, V> FromIterator<(K, V)> for ListMap<K, V> {
    /// The map of the entries in their order, sized exactly while small. A repeated key keeps
    /// its first place and takes its last value, as in `dict(pairs)`.
    fn from_iter<I: IntoIterator<Item = (K, V)>>(iter: I) -> Self {
        let iter = iter.into_iter();
        let mut unique: Vec<(K, V)> = Vec::with_capacity(iter.size_hint().0);
        for (k, v) in iter {
            match unique.iter_mut().find(|(seen, _)| *seen == k) {
                Some(entry) => entry.1 = v,
                None => unique.push((k, v)),
            }
        }
        ListMap { entries: Slots::from_vec(unique) }
    }
}

impl<K: Eq, V> Extend<(K, V)> for ListMap<K, V> {
    /// Inserts each entry in turn ([`ListMap::insert`]).
    fn extend<I: IntoIterator<Item = (K, V)>>(&mut self, iter: I) {
        for (k, v) in iter {
            self.insert(k, v);
        }
    }
}

impl<K: Eq, V, const N: usize> From<[(K, V); N]> for ListMap<K, V> {
    fn from(entries: [(K, V); N]) -> Self {
        entries.into_iter().collect()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::super::slots::EXACT_MAX;
    use super::*;

    fn keys<V>(m: &ListMap<Arc<str>, V>) -> Vec<&str> {
        m.keys().map(|k| &**k).collect()
    }

    #[test]
    fn keeps_insertion_order_like_a_dict() {
        let mut m: ListMap<Arc<str>, i32> = ListMap::new();
        for (k, v) in [("z", 1), ("a", 2), ("m", 3)] {
            assert_eq!(m.insert(k.into(), v), None);
        }
        assert_eq!(keys(&m), ["z", "a", "m"]);
        // Setting an existing key keeps its place.
        assert_eq!(m.insert("z".into(), 10), Some(1));
        assert_eq!(keys(&m), ["z", "a", "m"]);
        assert_eq!((m["z"], m.get("a"), m.get("q")), (10, Some(&2), None));
        assert!(m.contains_key("m") && !m.contains_key("b"));
        // Removing keeps the others in order; a key inserted again goes last.
        assert_eq!(m.remove("z"), Some(10));
        assert_eq!(keys(&m), ["a", "m"]);
        m.insert("z".into(), 0);
        assert_eq!(keys(&m), ["a", "m", "z"]);
        // Order is part of equality.
        let other: ListMap<Arc<str>, i32> =
            [("m".into(), 3), ("a".into(), 2), ("z".into(), 0)].into();
        assert_ne!(m, other);
        let same: ListMap<Arc<str>, i32> =
            [("a".into(), 2), ("m".into(), 3), ("z".into(), 0)].into();
        assert_eq!(m, same);
        assert_eq!(format!("{m:?}"), r#"{"a": 2, "m": 3, "z": 0}"#);
    }

    #[test]
    fn collecting_keeps_the_first_place_and_the_last_value_of_a_repeated_key() {
        let m: ListMap<i32, i32> = [(2, 1), (1, 1), (2, 2)].into();
        assert_eq!(m.iter().collect::<Vec<_>>(), [(&2, &2), (&1, &1)]);
        assert_eq!(m.into_iter().collect::<Vec<_>>(), [(2, 2), (1, 1)]);
    }

    #[test]
    fn small_maps_take_two_words_and_exactly_their_entries() {
        assert_eq!(std::mem::size_of::<ListMap<Arc<str>, f64>>(), 16);
        let mut m = ListMap::new();
        for k in (0..EXACT_MAX as i64).rev() {
            m.insert(k, k as f64);
            assert!(m.entries.is_exact());
        }
        for k in EXACT_MAX as i64..100 {
            m.insert(k, k as f64);
        }
        assert!(!m.entries.is_exact());
        assert!((0..100).all(|k| m.get(&k) == Some(&(k as f64))));
        let order: Vec<i64> = (0..EXACT_MAX as i64).rev().chain(EXACT_MAX as i64..100).collect();
        assert_eq!(m.keys().copied().collect::<Vec<_>>(), order);
        let small: ListMap<i64, f64> = (0..3).map(|k| (k, 0.0)).collect();
        assert!(small.entries.is_exact());
    }
}
