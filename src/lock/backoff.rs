//! Exponential backoff between lock attempts, bounded by an optional deadline.

use std::time::{Duration, Instant};

/// Sleeps between failed attempts: `initial`, then twice as long each time, at most `max`, and
/// never past the deadline.
///
/// Guarantees: [`Backoff::sleep`] returns no later than (about) the deadline. Does not add
/// jitter: waiters that start together retry together.
#[derive(Debug)]
pub(crate) struct Backoff {
    next: Duration,
    max: Duration,
}

impl Backoff {
    /// Starts at `initial` (at least 1 µs) and doubles up to `max` (at least `initial`).
    pub(crate) fn new(initial: Duration, max: Duration) -> Self {
        let initial = initial.max(Duration::from_micros(1));
        Backoff { next: initial, max: max.max(initial) }
    }

    /// Sleeps for the current step, shortened to end at `deadline` (and at `also_until`, when
    /// something is due then), and doubles the step.
    pub(crate) fn sleep(&mut self, deadline: Option<Instant>, also_until: Option<Instant>) {
        let mut step = self.next;
        let now = Instant::now();
        for until in [deadline, also_until].into_iter().flatten() {
            step = step.min(until.saturating_duration_since(now));
        }
        if !step.is_zero() {
            std::thread::sleep(step);
        }
        self.next = (self.next * 2).min(self.max);
    }

    /// Starts over at `initial` (after progress, e.g. a broken stale lock).
    pub(crate) fn reset(&mut self, initial: Duration) {
        self.next = initial.max(Duration::from_micros(1)).min(self.max);
    }

    /// The sleep the next call to [`Backoff::sleep`] would take without a deadline.
    #[cfg(test)]
    fn step(&self) -> Duration {
        self.next
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doubles_up_to_the_cap() {
        let mut b = Backoff::new(Duration::from_micros(10), Duration::from_micros(35));
        let mut steps = vec![b.step()];
        for _ in 0..4 {
            b.sleep(None, None);
            steps.push(b.step());
        }
        let us: Vec<u128> = steps.iter().map(Duration::as_micros).collect();
        assert_eq!(us, [10, 20, 35, 35, 35]);
        b.reset(Duration::from_micros(10));
        assert_eq!(b.step(), Duration::from_micros(10));
    }

    #[test]
    fn never_sleeps_past_the_deadline() {
        let mut b = Backoff::new(Duration::from_secs(5), Duration::from_secs(5));
        let start = Instant::now();
        b.sleep(Some(start + Duration::from_millis(30)), None);
        b.sleep(None, Some(start + Duration::from_millis(30)));
        let took = start.elapsed();
        assert!(took >= Duration::from_millis(30) && took < Duration::from_secs(2), "{took:?}");
    }
}
