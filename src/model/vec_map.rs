//! `VecMap`: a small sorted map stored in one slice, for the per-trial maps kept in key order
//! (attributes, intermediate values).
//!
//! Lookups are binary searches; inserting in increasing key order (the usual case for steps)
//! appends. The storage is [`Slots`]: two words, one exactly-sized allocation while small.

use std::borrow::Borrow;

use super::slots::{Slots, slot_map_common};

/// A map with sorted, unique keys stored in one slice. Iteration is in key order.
#[derive(Clone)]
pub struct VecMap<K, V> {
    entries: Slots<(K, V)>,
}

slot_map_common!(VecMap, "key order");

impl<K: Ord, V> VecMap<K, V> {
    /// An empty map (no allocation).
    pub fn new() -> Self {
        Self::default()
    }

    fn find<Q: Ord + ?Sized>(&self, key: &Q) -> Result<usize, usize>
    where
        K: Borrow<Q>,
    {
        let entries = self.slice();
        // Fast path for appends in increasing order.
        match entries.last() {
            Some((last, _)) if last.borrow() < key => Err(entries.len()),
            _ => entries.binary_search_by(|(k, _)| k.borrow().cmp(key)),
        }
    }

    /// The value for `key`.
    pub fn get<Q: Ord + ?Sized>(&self, key: &Q) -> Option<&V>
    where
        K: Borrow<Q>,
    {
        self.find(key).ok().map(|i| &self.slice()[i].1)
    }

    /// The stored key and value for `key`.
    pub fn get_key_value<Q: Ord + ?Sized>(&self, key: &Q) -> Option<(&K, &V)>
    where
        K: Borrow<Q>,
    {
        self.find(key).ok().map(|i| {
            let (k, v) = &self.slice()[i];
            (k, v)
        })
    }

    /// Whether `key` is present.
    pub fn contains_key<Q: Ord + ?Sized>(&self, key: &Q) -> bool
    where
        K: Borrow<Q>,
    {
        self.find(key).is_ok()
    }

    /// Inserts or replaces; returns the old value.
    pub fn insert(&mut self, key: K, value: V) -> Option<V> {
        match self.find(&key) {
            Ok(i) => Some(std::mem::replace(&mut self.entries.as_mut_slice()[i].1, value)),
            Err(i) => {
                self.entries.insert(i, (key, value));
                None
            }
        }
    }

    /// Removes `key`; returns its value.
    pub fn remove<Q: Ord + ?Sized>(&mut self, key: &Q) -> Option<V>
    where
        K: Borrow<Q>,
    {
        let i = self.find(key).ok()?;
        Some(self.entries.remove(i).1)
    }
}

impl<K: Ord, V, Q: Ord + ?Sized> std::ops::Index<&Q> for VecMap<K, V>
where
    K: Borrow<Q>,
{
    type Output = V;

    /// # Panics
    /// If the key is absent (like `BTreeMap`'s `Index`).
    fn index(&self, key: &Q) -> &V {
        self.get(key).expect("key not present in VecMap")
    }
}

impl<K: Ord, V> FromIterator<(K, V)> for VecMap<K, V> {
    /// The map of the entries (a repeated key: the last one wins), sized exactly while small.
    fn from_iter<I: IntoIterator<Item = (K, V)>>(iter: I) -> Self {
        let mut entries: Vec<(K, V)> = iter.into_iter().collect();
        // A stable sort keeps repeated keys in order; then the last of each run wins.
        entries.sort_by(|a, b| a.0.cmp(&b.0));
        let mut unique: Vec<(K, V)> = Vec::with_capacity(entries.len());
        for e in entries {
            match unique.last_mut() {
                Some(last) if last.0 == e.0 => *last = e,
                _ => unique.push(e),
            }
        }
        VecMap { entries: Slots::from_vec(unique) }
    }
}

impl<K: Ord, V, const N: usize> From<[(K, V); N]> for VecMap<K, V> {
    fn from(entries: [(K, V); N]) -> Self {
        entries.into_iter().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn behaves_like_a_sorted_map() {
        let mut m = VecMap::new();
        for k in [5, 1, 9, 3, 9] {
            m.insert(k, k * 10);
        }
        assert_eq!(m.keys().copied().collect::<Vec<_>>(), vec![1, 3, 5, 9]);
        assert_eq!(m.get(&3), Some(&30));
        assert_eq!(m.insert(3, 31), Some(30));
        assert_eq!(m.remove(&1), Some(10));
        assert!(!m.contains_key(&1));
        assert_eq!(m.len(), 3);
        let names: VecMap<std::sync::Arc<str>, i32> = [("b".into(), 2), ("a".into(), 1)].into();
        assert_eq!(names["a"], 1);
        assert_eq!(names.get("b"), Some(&2));
        let repeated: VecMap<i32, i32> = [(2, 1), (1, 1), (2, 2)].into();
        assert_eq!(repeated.iter().collect::<Vec<_>>(), [(&1, &1), (&2, &2)]);
    }

    #[test]
    fn small_maps_take_two_words_and_exactly_their_entries() {
        use super::super::slots::EXACT_MAX;
        assert_eq!(std::mem::size_of::<VecMap<i64, f64>>(), 16);
        let mut m = VecMap::new();
        for k in 0..EXACT_MAX as i64 {
            m.insert(k, k as f64);
            assert!(m.entries.is_exact() && m.slice().len() == m.len());
        }
        // Past the exact size: a growable vector; removing keeps every entry reachable.
        for k in (EXACT_MAX as i64..100).rev() {
            m.insert(k, k as f64);
        }
        assert!(!m.entries.is_exact());
        assert!((0..100).all(|k| m.get(&k) == Some(&(k as f64))));
        assert_eq!(m.remove(&50), Some(50.0));
        assert_eq!(m.len(), 99);
        let keys: Vec<i64> = m.keys().copied().collect();
        assert_eq!(keys, (0..100).filter(|k| *k != 50).collect::<Vec<_>>());
        let small: VecMap<i64, f64> = (0..3).map(|k| (k, 0.0)).collect();
        assert!(small.entries.is_exact());
        assert_eq!(small.into_iter().map(|(k, _)| k).collect::<Vec<_>>(), [0, 1, 2]);
    }
}
