//! Reused `f64` buffers for the estimators of one thread.
//!
//! A TPE suggestion with many past trials builds and drops a few hundred kilobytes of vectors.
//! Dropped all at once, that memory goes back to the operating system (the allocator trims the
//! top of its heap) and the next suggestion faults it in again page by page, which cost more than
//! all the arithmetic of building an estimator. Keeping the buffers of the last suggestion in a
//! per-thread free list avoids that; it changes no result.

use std::cell::RefCell;

/// Buffers kept per thread (a suggestion uses about a dozen).
const KEEP: usize = 64;

thread_local! {
    static FREE: RefCell<Vec<Vec<f64>>> = const { RefCell::new(Vec::new()) };
}

/// An empty vector with room for `capacity` values, reusing a kept buffer when there is one.
pub(crate) fn take(capacity: usize) -> Vec<f64> {
    let kept = FREE.with(|f| f.borrow_mut().pop());
    match kept {
        Some(mut v) => {
            v.clear();
            v.reserve(capacity);
            v
        }
        None => Vec::with_capacity(capacity),
    }
}

/// Gives `v`'s storage back for a later [`take`].
pub(crate) fn give(v: Vec<f64>) {
    if v.capacity() == 0 {
        return;
    }
    FREE.with(|f| {
        let mut f = f.borrow_mut();
        if f.len() < KEEP {
            f.push(v);
        }
    });
}

/// A vector of `values`, in a reused buffer.
pub(crate) fn collect(values: impl ExactSizeIterator<Item = f64>) -> Vec<f64> {
    let mut v = take(values.len());
    v.extend(values);
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buffers_come_back_empty() {
        let mut v = take(10);
        v.extend([1.0, 2.0]);
        let cap = v.capacity();
        give(v);
        let w = take(5);
        assert!(w.is_empty() && w.capacity() >= cap.min(5));
        assert_eq!(collect([3.0, 4.0].into_iter()), vec![3.0, 4.0]);
    }
}
