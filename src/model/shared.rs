//! `Shared`: a value that many trials hold one copy of (a study's trials mostly have the same
//! distributions, and no attributes), copied the first time one of them changes it.

use std::fmt;
use std::ops::{Deref, DerefMut};
use std::sync::Arc;

/// A value behind a shared pointer (one word), read through `Deref` and changed through
/// `DerefMut`, which first copies it if anyone else holds it (`Arc::make_mut`): holders never see
/// each other's changes. Equality compares the values (equal pointers are equal at once).
#[derive(Default)]
pub struct Shared<T>(Arc<T>);

impl<T> Shared<T> {
    /// `value`, held by this handle alone.
    pub fn new(value: T) -> Self {
        Shared(Arc::new(value))
    }

    /// Whether both handles hold the very same copy.
    pub fn ptr_eq(a: &Self, b: &Self) -> bool {
        Arc::ptr_eq(&a.0, &b.0)
    }

    /// The address of the copy held, an identity for as long as some handle holds it.
    pub(crate) fn addr(&self) -> usize {
        Arc::as_ptr(&self.0) as usize
    }
}

impl<T> Clone for Shared<T> {
    /// Another handle on the same copy (no copy of the value).
    fn clone(&self) -> Self {
        Shared(Arc::clone(&self.0))
    }
}

impl<T> Deref for Shared<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.0
    }
}

impl<T: Clone> DerefMut for Shared<T> {
    /// The value to change: this handle's own copy (made now if the value is shared).
    fn deref_mut(&mut self) -> &mut T {
        Arc::make_mut(&mut self.0)
    }
}

impl<T: PartialEq> PartialEq for Shared<T> {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.0, &other.0) || *self.0 == *other.0
    }
}

impl<T> From<T> for Shared<T> {
    fn from(value: T) -> Self {
        Shared::new(value)
    }
}

impl<K: Ord, V, const N: usize> From<[(K, V); N]> for Shared<super::VecMap<K, V>> {
    fn from(entries: [(K, V); N]) -> Self {
        Shared::new(entries.into())
    }
}

impl<K: Eq, V, const N: usize> From<[(K, V); N]> for Shared<super::ListMap<K, V>> {
    fn from(entries: [(K, V); N]) -> Self {
        Shared::new(entries.into())
    }
}

impl<T: FromIterator<A>, A> FromIterator<A> for Shared<T> {
    fn from_iter<I: IntoIterator<Item = A>>(iter: I) -> Self {
        Shared::new(iter.into_iter().collect())
    }
}

impl<T: fmt::Debug> fmt::Debug for Shared<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn changes_are_private_to_the_changing_handle() {
        let a = Shared::new(vec![1]);
        let mut b = a.clone();
        assert!(Shared::ptr_eq(&a, &b));
        b.push(2);
        assert_eq!((&*a, &*b), (&vec![1], &vec![1, 2]));
        assert!(!Shared::ptr_eq(&a, &b));
        assert_ne!(a, b);
        assert_eq!(a, Shared::new(vec![1]));
        assert_eq!(format!("{b:?}"), "[1, 2]");
        assert_eq!(std::mem::size_of::<Shared<Vec<u8>>>(), 8);
    }
}
