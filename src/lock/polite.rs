//! Polite mode: how a trialog writer shares Optuna's lock with writers that poll for it.
//!
//! Optuna's waiters sleep between attempts, doubling the sleep from 1 ms up to 1 s, and a writer
//! in a loop (Python or trialog) takes the lock again right after releasing it. With quick
//! objectives the waiters then hardly ever find the lock free: 2 Python and 2 trialog writers
//! with zero-time objectives finished 0.3% of the trials on the Python side, and of two trialog
//! writers one could finish almost nothing. Nobody can see a waiter (it only sleeps and retries),
//! so a trialog writer watches what it can see, cheaply:
//!
//! - **others are active**: the journal grew between this writer's release and its next attempt,
//!   or an attempt found the lock held;
//! - **a foreign writer is active**: an attempt found the lock held by something that is not a
//!   trialog lock (a Python writer), see [`Holder`].
//!
//! and behaves, for [`POLITE_WINDOW`] after the last such sighting:
//!
//! - **barge** (it saw nobody): it takes the lock whenever it wants; a single writer never waits;
//! - **hand off** (others are active): after releasing, it does not take the lock again before
//!   another writer took a turn (the journal grew and the lock is free), at most [`HANDOFF_MAX`].
//!   Writers then take turns instead of one of them taking nearly all, and the moments between
//!   turns let a sleeping Python waiter in; a Python writer is invisible until it holds the lock
//!   once, so this is what lets it in the first time;
//! - **yield** (a foreign writer is active): after releasing, it does not take the lock again
//!   before it saw a foreign writer hold it since (and the lock is free), at most [`YIELD_MAX`].
//!   Each trialog writer then takes at most one turn per turn of the Python writers, who need
//!   milliseconds of Python between their operations and would otherwise find the lock taken.
//!
//! While polite, a waiter also retries at least every [`POLITE_BACKOFF`], so that it is not the
//! one left sleeping behind a writer that takes turns quickly.
//!
//! Guarantees: none about exclusion (this only decides *when* to try); a writer that saw nobody
//! never waits, and no wait is longer than [`POLITE_PAUSE`] (plus the lock's own backoff). Does not
//! guarantee fairness: Python writers among themselves keep Optuna's behaviour (one of them can
//! starve another), and a Python writer that never got the lock stays invisible until it does.

use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

/// How long a sighting keeps a writer polite: longer than Optuna's longest sleep between
/// attempts (1 s), so a Python writer that holds the lock now and then keeps the trialog writers
/// yielding.
pub(crate) const POLITE_WINDOW: Duration = Duration::from_secs(2);

/// The longest wait for another writer's turn while handing off: a trialog waiter retries at
/// least every [`POLITE_BACKOFF`], so one that wants the lock takes it well within this.
pub(crate) const HANDOFF_MAX: Duration = Duration::from_millis(2);

/// The longest wait for a foreign writer's turn while yielding: Python Optuna needs a few
/// milliseconds between two operations of a quick objective on a busy machine (its waiter sleeps
/// 1, 2, 4, 8 ms... after failed attempts).
pub(crate) const YIELD_MAX: Duration = Duration::from_millis(20);

/// How often a waiting writer looks whether another writer took its turn.
pub(crate) const HANDOFF_POLL: Duration = Duration::from_micros(250);

/// The longest sleep between attempts of a polite waiter.
pub(crate) const POLITE_BACKOFF: Duration = Duration::from_millis(1);

/// Who holds the lock now, as far as a look at the lock file can tell.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Holder {
    /// Nobody: there is no lock file.
    Free,
    /// A trialog writer (recognised by its lock).
    Trialog,
    /// Anything else: Python Optuna, an older trialog, another tool.
    Foreign,
    /// Cannot tell (yet): while yielding, its turn counts as a foreign writer's.
    Unknown,
}

/// What a writer does before its next attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Barge,
    HandOff,
    Yield,
}

/// The sightings of one lock object (see the module docs).
#[derive(Debug, Default)]
pub(crate) struct Manners {
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    /// When this object last saw another writer active.
    others: Option<Instant>,
    /// When this object last saw a foreign holder.
    foreign: Option<Instant>,
    /// When this object last released the lock, and the journal's length then.
    released: Option<(Instant, Option<u64>)>,
}

fn recent(seen: Option<Instant>) -> bool {
    seen.is_some_and(|t| t.elapsed() < POLITE_WINDOW)
}

impl State {
    fn mode(&self) -> Mode {
        if recent(self.foreign) {
            Mode::Yield
        } else if recent(self.others) {
            Mode::HandOff
        } else {
            Mode::Barge
        }
    }
}

impl Manners {
    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Records what an attempt that found the lock held saw.
    pub(crate) fn saw_holder(&self, holder: Holder) {
        let now = Instant::now();
        let mut state = self.state();
        if holder != Holder::Free {
            state.others = Some(now);
        }
        if holder == Holder::Foreign {
            state.foreign = Some(now);
        }
    }

    /// Records a release; `journal_len` is the journal's length right after it.
    pub(crate) fn released(&self, journal_len: Option<u64>) {
        self.state().released = Some((Instant::now(), journal_len));
    }

    /// The longest sleep between attempts: `max`, or [`POLITE_BACKOFF`] while polite.
    pub(crate) fn backoff_cap(&self, max: Duration) -> Duration {
        match self.state().mode() {
            Mode::Barge => max,
            Mode::HandOff | Mode::Yield => max.min(POLITE_BACKOFF),
        }
    }

    /// Waits, before an acquisition, as the current mode says (never past `deadline`).
    /// `journal_len` gives the journal's length, `holder` looks at the lock.
    pub(crate) fn before_acquire(
        &self,
        journal_len: impl Fn() -> Option<u64>,
        holder: impl Fn() -> Holder,
        deadline: Option<Instant>,
    ) {
        let Some((released_at, len_then)) = self.state().released else {
            return;
        };
        let grown = || matches!((journal_len(), len_then), (Some(now), Some(then)) if now > then);
        if grown() {
            self.state().others = Some(Instant::now());
        }
        let mut foreign_turn = false;
        loop {
            let mode = self.state().mode();
            let max = match mode {
                Mode::Barge => return,
                Mode::HandOff => HANDOFF_MAX,
                Mode::Yield => YIELD_MAX,
            };
            let until = released_at + max;
            let until = deadline.map_or(until, |d| until.min(d));
            let now = Instant::now();
            if now >= until {
                return;
            }
            let seen = holder();
            self.saw_holder(seen);
            // A holder that cannot be told yet counts as a foreign turn: it is mostly a Python
            // writer's empty open-file lock looked at once (its whole hold can fit between two
            // looks); taking it for a trialog writer left trialog waiting the longest yield
            // after nearly every hold beside Python writers (trialog finished 9% of the trials).
            foreign_turn |= matches!(seen, Holder::Foreign | Holder::Unknown);
            if seen == Holder::Free {
                match mode {
                    Mode::HandOff if grown() => return,
                    Mode::Yield if foreign_turn => return,
                    _ => {}
                }
            }
            std::thread::sleep(HANDOFF_POLL.min(until - now));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::Cell;

    fn released_with(len: u64) -> Manners {
        let m = Manners::default();
        m.released(Some(len));
        m
    }

    #[test]
    fn a_writer_that_saw_nobody_never_waits_nor_looks() {
        let m = released_with(100);
        let start = Instant::now();
        m.before_acquire(|| Some(100), || panic!("no need to look at the lock"), None);
        assert!(start.elapsed() < HANDOFF_MAX, "{:?}", start.elapsed());
        assert_eq!(m.backoff_cap(Duration::from_millis(50)), Duration::from_millis(50));
    }

    // Needs 250 µs sleeps: Windows (and Wine) sleeps in whole milliseconds, so fewer looks than
    // this test counts fit into the 2 ms hand-off window there.
    #[cfg(unix)]
    #[test]
    fn handing_off_waits_for_another_writers_turn() {
        // The wait is measured from the release (which comes before `start` would otherwise).
        let start = Instant::now();
        let m = released_with(100);
        m.saw_holder(Holder::Trialog);
        assert_eq!(m.state().mode(), Mode::HandOff);
        assert_eq!(m.backoff_cap(Duration::from_millis(50)), POLITE_BACKOFF);
        // Nobody else writes: waits the longest hand-off.
        m.before_acquire(|| Some(100), || Holder::Free, None);
        assert!(start.elapsed() >= HANDOFF_MAX);
        // Another writer holds the lock, appends and releases: goes right after.
        m.released(Some(100));
        let looks = Cell::new(0);
        let start = Instant::now();
        m.before_acquire(
            || Some(if looks.get() >= 2 { 200 } else { 100 }),
            || {
                looks.set(looks.get() + 1);
                if looks.get() < 3 { Holder::Trialog } else { Holder::Free }
            },
            None,
        );
        assert_eq!(looks.get(), 3);
        assert!(start.elapsed() < HANDOFF_MAX, "{:?}", start.elapsed());
        // The other writer's turn was over before we looked: one look, no wait.
        m.released(Some(100));
        let start = Instant::now();
        m.before_acquire(|| Some(150), || Holder::Free, None);
        assert!(start.elapsed() < HANDOFF_MAX, "{:?}", start.elapsed());
    }

    #[test]
    fn yielding_waits_for_a_foreign_writers_turn() {
        // The wait is measured from the release (which comes before `start` would otherwise).
        let start = Instant::now();
        let m = released_with(100);
        m.saw_holder(Holder::Foreign);
        assert_eq!(m.state().mode(), Mode::Yield);
        // Other trialog writers' turns do not count: waits the longest yield.
        m.before_acquire(|| Some(500), || Holder::Free, None);
        assert!(start.elapsed() >= YIELD_MAX);
        // A foreign holder comes and goes: goes right after.
        m.released(Some(500));
        let looks = Cell::new(0);
        let start = Instant::now();
        m.before_acquire(
            || Some(500),
            || {
                looks.set(looks.get() + 1);
                if looks.get() == 2 { Holder::Foreign } else { Holder::Free }
            },
            None,
        );
        assert_eq!(looks.get(), 3);
        assert!(start.elapsed() < YIELD_MAX, "{:?}", start.elapsed());
        // A deadline cuts the wait short.
        m.released(Some(500));
        let start = Instant::now();
        m.before_acquire(|| Some(500), || Holder::Free, Some(start + Duration::from_millis(1)));
        assert!(start.elapsed() < YIELD_MAX, "{:?}", start.elapsed());
    }

    #[test]
    fn yielding_ends_after_the_turn_of_a_holder_that_cannot_be_told() {
        let m = released_with(100);
        m.saw_holder(Holder::Foreign);
        let looks = Cell::new(0);
        let start = Instant::now();
        m.before_acquire(
            || Some(100),
            || {
                looks.set(looks.get() + 1);
                if looks.get() == 2 { Holder::Unknown } else { Holder::Free }
            },
            None,
        );
        assert_eq!(looks.get(), 3);
        assert!(start.elapsed() < YIELD_MAX, "{:?}", start.elapsed());
    }

    #[test]
    fn a_foreign_holder_seen_while_handing_off_turns_it_into_yielding() {
        let start = Instant::now();
        let m = released_with(100);
        m.saw_holder(Holder::Trialog);
        m.before_acquire(|| Some(100), || Holder::Foreign, None);
        assert!(start.elapsed() >= YIELD_MAX);
        assert_eq!(m.state().mode(), Mode::Yield);
    }
}
