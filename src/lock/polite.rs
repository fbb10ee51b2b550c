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
//!   another writer took a turn (the journal grew), at most [`HANDOFF_MAX`]. Writers then take
//!   turns instead of one of them taking nearly all;
//! - **yield** (a foreign writer is active): after releasing, it does not take the lock again
//!   before it saw a foreign writer hold it since, at most [`YIELD_MAX`]. Each trialog writer then
//!   takes at most one turn per turn of the Python writers, who need milliseconds of Python
//!   between their operations and would otherwise find the lock taken.
//!
//! In both polite modes, and before every attempt (also after a failed one), a writer takes the
//! lock only once it has seen it free for a **gap** (see [`gap_after`]): about a typical trialog
//! hold while yielding, half of one while handing off (none there while the typical hold is under
//! [`HANDOFF_GAP_FROM`]: such short turns leave free moments anyway), stretched at random. A
//! waiting Python writer, whose attempts come at moments that have nothing to do with trialog's
//! turns, then finds the lock free at about every other attempt (one in three while handing
//! off), however long the turns are. This is what lets a Python writer in the first time (it is invisible until
//! it holds the lock once), and what keeps a Python writer whose sleeps have grown long in the
//! game. Without it, trialog writers took turns back to back (each one's wait used up while
//! another held the lock), and with 5-15 ms fsyncs in each turn the Python writers finished 2-7%
//! of the trials (docs/LOCKING.md has the measurements).
//!
//! While polite, a waiter also retries at least every [`POLITE_BACKOFF`], so that it is not the
//! one left sleeping behind a writer that takes turns quickly.
//!
//! Guarantees: none about exclusion (this only decides *when* to try); a writer that saw nobody
//! never waits, and no wait is longer than [`POLITE_MAX`] after its own release (plus the lock's
//! own backoff). Costs: while polite, the lock stays free for a gap after each turn, so trialog
//! writers among themselves, handing off with turns of a millisecond or more (a slow disk), reach
//! about two thirds of the turns per second they would barging.
//! Does not guarantee fairness: Python writers among themselves keep Optuna's behaviour (one of
//! them can starve another).

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

/// The shortest typical hold for which a handing-off writer leaves a gap.
pub(crate) const HANDOFF_GAP_FROM: Duration = Duration::from_millis(1);

/// The longest gap a polite writer leaves after a turn.
pub(crate) const GAP_MAX: Duration = Duration::from_millis(20);

/// The longest a polite writer waits, counted from its own release: past it, it competes for the
/// lock again without waiting for a gap (other writers kept taking every gap, or a writer that is
/// not polite kept the lock busy).
pub(crate) const POLITE_MAX: Duration = Duration::from_millis(200);

/// How often a waiting writer looks whether another writer took its turn.
pub(crate) const HANDOFF_POLL: Duration = Duration::from_micros(250);

/// The longest sleep between attempts of a polite waiter.
pub(crate) const POLITE_BACKOFF: Duration = Duration::from_millis(1);

/// How long the lock must have looked free before a polite writer takes it: about a typical
/// hold while yielding (then at most half of the time is spent in turns), half of it while
/// handing off (none below [`HANDOFF_GAP_FROM`]), at least one look ([`HANDOFF_POLL`]) and at
/// most [`GAP_MAX`]. `jitter` (in `0..1`) stretches it by 0.5-1.5x: with gaps of a fixed
/// length, trialog's turns came at a steady period, and a Python waiter sleeping its 1 s between
/// attempts could meet a turn at every attempt (both Python writers finished nothing for 3 s in
/// about one run of 16).
fn gap_after(mode: Mode, typical_hold: Duration, jitter: f64) -> Duration {
    let gap = match mode {
        Mode::Yield => typical_hold,
        // Turns that short leave a sleeping Python waiter free moments anyway (the hand-off
        // alone gave Python 37-40% of the trials), and a gap cost trialog writers alone half of
        // their turns (4 writers of the Python package on an Optuna journal, W3: 2,400 appends/s
        // without, 1,300 with).
        _ if typical_hold < HANDOFF_GAP_FROM => return Duration::ZERO,
        _ => typical_hold / 2,
    };
    gap.mul_f64(0.5 + jitter.clamp(0.0, 1.0)).clamp(HANDOFF_POLL, GAP_MAX)
}

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
    /// Whether the last holder seen since that release was a foreign one (or one that cannot be
    /// told): a foreign writer took a turn that no trialog writer has followed yet. A
    /// holder that cannot be told counts: it is mostly a Python writer's empty open-file lock
    /// looked at once (its whole hold can fit between two looks); taking it for a trialog
    /// writer left trialog waiting the longest yield after nearly every hold beside Python
    /// writers (trialog finished 9% of the trials).
    foreign_turn: bool,
    /// When this object last acquired the lock.
    acquired: Option<Instant>,
    /// A running average of the holds this object took and saw (each new one weighs 1/4). Every
    /// writer sees much the same holds, so their gaps agree: a gap from each writer's own last
    /// hold made a writer whose turns were slow (catching up with others' records) wait longer
    /// gaps, which others never left, so its turns grew slower still (4 trialog writers finished
    /// 6, 321, 9 and 266 trials).
    typical_hold: Duration,
    /// The state of the generator of gap jitter (xorshift64*), seeded on first use.
    jitter: u64,
}

fn recent(seen: Option<Instant>) -> bool {
    seen.is_some_and(|t| t.elapsed() < POLITE_WINDOW)
}

impl State {
    /// A number in `0..1` for the next gap's jitter.
    fn next_jitter(&mut self) -> f64 {
        if self.jitter == 0 {
            self.jitter = (uuid::Uuid::new_v4().as_u128() as u64) | 1;
        }
        self.jitter ^= self.jitter >> 12;
        self.jitter ^= self.jitter << 25;
        self.jitter ^= self.jitter >> 27;
        (self.jitter.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 11) as f64 / (1u64 << 53) as f64
    }

    fn saw_hold(&mut self, hold: Duration) {
        self.typical_hold =
            if self.typical_hold.is_zero() { hold } else { (self.typical_hold * 3 + hold) / 4 };
    }

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
        match holder {
            Holder::Foreign | Holder::Unknown => state.foreign_turn = true,
            // Another trialog writer took the turn after the foreign one: that one is used.
            Holder::Trialog => state.foreign_turn = false,
            Holder::Free => {}
        }
    }

    /// Records an acquisition.
    pub(crate) fn acquired(&self) {
        self.state().acquired = Some(Instant::now());
    }

    /// Records a release; `journal_len` is the journal's length right after it.
    pub(crate) fn released(&self, journal_len: Option<u64>) {
        let now = Instant::now();
        let mut state = self.state();
        if let Some(acquired) = state.acquired.take() {
            state.saw_hold(now.saturating_duration_since(acquired));
        }
        state.released = Some((now, journal_len));
        state.foreign_turn = false;
    }

    /// The longest sleep between attempts: `max`, or [`POLITE_BACKOFF`] while polite.
    pub(crate) fn backoff_cap(&self, max: Duration) -> Duration {
        match self.state().mode() {
            Mode::Barge => max,
            Mode::HandOff | Mode::Yield => max.min(POLITE_BACKOFF),
        }
    }

    /// Waits, before an attempt, as the current mode says (never past `deadline`, nor past
    /// [`POLITE_MAX`] after this object's last release; a writer that never held the lock does
    /// not wait). `journal_len` gives the journal's length, `holder` looks at the lock. True when
    /// it returns having just seen the lock free (the caller should try at once, and not sleep
    /// after a failed attempt: the next call looks often enough); false when it did not wait.
    pub(crate) fn before_attempt(
        &self,
        journal_len: impl Fn() -> Option<u64>,
        holder: impl Fn() -> Holder,
        deadline: Option<Instant>,
    ) -> bool {
        let Some((released_at, len_then)) = self.state().released else {
            return false;
        };
        let grown =
            |len: Option<u64>| matches!((len, len_then), (Some(now), Some(then)) if now > then);
        if grown(journal_len()) {
            self.state().others = Some(Instant::now());
        }
        let jitter = self.state().next_jitter();
        let until = released_at + POLITE_MAX;
        let until = deadline.map_or(until, |d| until.min(d));
        // Since when the lock has looked free, and the journal's length then (a turn that fell
        // between two looks grows the journal).
        let mut free_since: Option<(Instant, Option<u64>)> = None;
        // Since when a trialog writer has looked to hold the lock, if it looked free before (a
        // whole hold seen).
        let mut held_since: Option<Instant> = None;
        loop {
            let mode = self.state().mode();
            if mode == Mode::Barge {
                return false;
            }
            let now = Instant::now();
            if now >= until {
                return false;
            }
            let seen = holder();
            self.saw_holder(seen);
            if seen == Holder::Free {
                if let Some(since) = held_since.take() {
                    self.state().saw_hold(now.saturating_duration_since(since));
                }
                let len = journal_len();
                // A foreign writer that just took its turn needs milliseconds of Python before
                // its next attempt: go at once (a gap would only leave the lock idle).
                if mode == Mode::Yield && self.state().foreign_turn {
                    return true;
                }
                let free_for = match free_since {
                    Some((since, then)) if then == len => now.saturating_duration_since(since),
                    _ => {
                        free_since = Some((now, len));
                        Duration::ZERO
                    }
                };
                let waited = match mode {
                    Mode::HandOff => grown(len) || now >= released_at + HANDOFF_MAX,
                    _ => now >= released_at + YIELD_MAX,
                };
                if waited && free_for >= gap_after(mode, self.state().typical_hold, jitter) {
                    return true;
                }
            } else {
                // Only trialog turns set the gap: a Python writer's quick turns need none.
                let was_free = free_since.take().is_some();
                if was_free && seen == Holder::Trialog {
                    held_since = Some(now);
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

    /// A lock object that saw `holder` before its last release.
    fn released_after_seeing(holder: Holder, len: u64) -> Manners {
        let m = Manners::default();
        m.saw_holder(holder);
        m.released(Some(len));
        m
    }

    /// The shortest of five runs of a scenario that must not wait out a window: a busy test
    /// machine can preempt any one run for milliseconds, but a scenario that waits, waits in
    /// every run.
    fn fastest_of_five(mut run: impl FnMut() -> Duration) -> Duration {
        (0..5).map(|_| run()).min().expect("five runs")
    }

    /// A lock object whose typical hold is `hold` (one acquisition held that long).
    fn held_for(hold: Duration, len: u64) -> Manners {
        let m = Manners::default();
        m.acquired();
        std::thread::sleep(hold);
        m.released(Some(len));
        m
    }

    #[test]
    fn a_writer_that_saw_nobody_never_waits_nor_looks() {
        let took = fastest_of_five(|| {
            let m = released_with(100);
            let start = Instant::now();
            let looked = m.before_attempt(|| Some(100), || panic!("no need to look"), None);
            assert!(!looked);
            start.elapsed()
        });
        assert!(took < HANDOFF_MAX, "{took:?}");
        let m = released_with(100);
        assert_eq!(m.backoff_cap(Duration::from_millis(50)), Duration::from_millis(50));
        // Nor does one that never held the lock, whatever it saw.
        let m = Manners::default();
        m.saw_holder(Holder::Foreign);
        assert!(!m.before_attempt(|| Some(100), || panic!("no look"), None));
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
        assert!(m.before_attempt(|| Some(100), || Holder::Free, None));
        assert!(start.elapsed() >= HANDOFF_MAX);
        // Another writer holds the lock, appends and releases: goes right after (and a gap).
        let took = fastest_of_five(|| {
            m.released(Some(100));
            let looks = Cell::new(0);
            let start = Instant::now();
            m.before_attempt(
                || Some(if looks.get() >= 2 { 200 } else { 100 }),
                || {
                    looks.set(looks.get() + 1);
                    if looks.get() < 3 { Holder::Trialog } else { Holder::Free }
                },
                None,
            );
            // Turns this short need no gap: it went at the first free look after the turn.
            assert_eq!(looks.get(), 3);
            start.elapsed()
        });
        assert!(took < HANDOFF_MAX, "{took:?}");
        // Turns of 4 ms: it leaves a gap of 1-3 ms after the other writer's turn.
        m.released(Some(100));
        m.state().typical_hold = Duration::from_millis(4);
        let looks = Cell::new(0);
        let turn_over = Cell::new(None);
        m.before_attempt(
            || Some(if looks.get() >= 2 { 200 } else { 100 }),
            || {
                looks.set(looks.get() + 1);
                if looks.get() < 3 {
                    return Holder::Trialog;
                }
                if turn_over.get().is_none() {
                    turn_over.set(Some(Instant::now()));
                }
                Holder::Free
            },
            None,
        );
        let waited = turn_over.get().expect("saw the turn end").elapsed();
        assert!(waited >= Duration::from_millis(1), "{waited:?}");
    }

    #[test]
    fn yielding_waits_for_a_foreign_writers_turn() {
        // The wait is measured from the release (which comes before `start` would otherwise).
        let start = Instant::now();
        let m = released_after_seeing(Holder::Foreign, 100);
        assert_eq!(m.state().mode(), Mode::Yield);
        // Other trialog writers' turns do not count: waits the longest yield.
        m.before_attempt(|| Some(500), || Holder::Free, None);
        assert!(start.elapsed() >= YIELD_MAX);
        // A foreign holder comes and goes: goes right after, without a gap (Python needs
        // milliseconds before its next attempt).
        let took = fastest_of_five(|| {
            m.released(Some(500));
            let looks = Cell::new(0);
            let start = Instant::now();
            let looked = m.before_attempt(
                || Some(500),
                || {
                    looks.set(looks.get() + 1);
                    if looks.get() == 2 { Holder::Foreign } else { Holder::Free }
                },
                None,
            );
            assert!(looked);
            assert_eq!(looks.get(), 3);
            start.elapsed()
        });
        assert!(took < YIELD_MAX, "{took:?}");
        // A deadline cuts the wait short.
        let took = fastest_of_five(|| {
            m.released(Some(500));
            let start = Instant::now();
            m.before_attempt(|| Some(500), || Holder::Free, Some(start + Duration::from_millis(1)));
            start.elapsed()
        });
        assert!(took < YIELD_MAX, "{took:?}");
    }

    #[test]
    fn yielding_ends_after_the_turn_of_a_holder_that_cannot_be_told() {
        let took = fastest_of_five(|| {
            let m = released_after_seeing(Holder::Foreign, 100);
            let looks = Cell::new(0);
            let start = Instant::now();
            m.before_attempt(
                || Some(100),
                || {
                    looks.set(looks.get() + 1);
                    if looks.get() == 2 { Holder::Unknown } else { Holder::Free }
                },
                None,
            );
            assert_eq!(looks.get(), 3);
            start.elapsed()
        });
        assert!(took < YIELD_MAX, "{took:?}");
    }

    #[test]
    fn a_trialog_turn_after_the_foreign_one_uses_it_up() {
        let start = Instant::now();
        let m = released_after_seeing(Holder::Foreign, 100);
        // Python's turn, then another trialog writer's: this one waits the longest yield.
        let looks = Cell::new(0);
        m.before_attempt(
            || Some(100 + looks.get()),
            || {
                looks.set(looks.get() + 1);
                match looks.get() {
                    2 => Holder::Foreign,
                    3 => Holder::Trialog,
                    _ => Holder::Free,
                }
            },
            None,
        );
        assert!(start.elapsed() >= YIELD_MAX, "{:?}", start.elapsed());
    }

    #[test]
    fn a_foreign_holder_seen_while_handing_off_turns_it_into_yielding() {
        let start = Instant::now();
        let m = released_with(100);
        m.saw_holder(Holder::Trialog);
        // The foreign holder never leaves: the wait ends at the polite limit.
        assert!(!m.before_attempt(|| Some(100), || Holder::Foreign, None));
        assert!(start.elapsed() >= POLITE_MAX);
        assert_eq!(m.state().mode(), Mode::Yield);
    }

    #[test]
    fn a_yielding_writer_leaves_the_lock_free_for_a_gap_as_long_as_its_hold() {
        let hold = Duration::from_millis(12);
        let m = Manners::default();
        m.saw_holder(Holder::Foreign);
        m.acquired();
        std::thread::sleep(hold);
        m.released(Some(100));
        assert!(m.state().typical_hold >= hold);
        // Past the yield, the lock is free: still waits (at least half) the gap.
        std::thread::sleep(YIELD_MAX);
        let start = Instant::now();
        assert!(m.before_attempt(|| Some(100), || Holder::Free, None));
        assert!(start.elapsed() >= hold / 2, "{:?}", start.elapsed());
        // A trialog writer's turn (as long as ours) in the middle of the gap starts it over, and
        // so does a turn that fell between two looks (the journal grew). The first look 5 ms in
        // shows it (the gap is 6-18 ms; without the restart, most rounds would end less than
        // 6 ms after it).
        for interruption in ["held", "grown", "held", "grown", "held", "grown"] {
            m.released(Some(100));
            m.state().typical_hold = hold;
            std::thread::sleep(YIELD_MAX);
            let start = Instant::now();
            let began = Duration::from_millis(5);
            let ended = Cell::new(None);
            let grown = Cell::new(false);
            m.before_attempt(
                || Some(if grown.get() { 200 } else { 100 }),
                || {
                    let t = start.elapsed();
                    if ended.get().is_some() || t < began {
                        return Holder::Free;
                    }
                    if interruption == "held" && t < began + hold {
                        return Holder::Trialog;
                    }
                    grown.set(true);
                    ended.set(Some(Instant::now()));
                    Holder::Free
                },
                None,
            );
            let ended = ended.get().expect("looked after 5 ms");
            assert!(ended.elapsed() >= hold / 2, "{interruption}: {:?} after it", ended.elapsed());
            assert!(start.elapsed() < POLITE_MAX, "{interruption}: {:?}", start.elapsed());
        }
    }

    #[test]
    fn the_typical_hold_follows_the_trialog_holds_it_sees() {
        // Free for 2 ms (other writers' turns between the looks keep the journal growing, so
        // it does not go yet), then a writer holding for 20 ms, then free again.
        let scene = |held: Holder| {
            let start = Instant::now();
            let grows = Cell::new(0u64);
            let ms = move || start.elapsed().as_secs_f64() * 1e3;
            let len = move || {
                if ms() < 2.0 {
                    grows.set(grows.get() + 1);
                }
                Some(100 + grows.get())
            };
            let holder = move || if (2.0..22.0).contains(&ms()) { held } else { Holder::Free };
            (len, holder)
        };
        let m = held_for(Duration::from_millis(1), 100);
        m.saw_holder(Holder::Trialog);
        let before = m.state().typical_hold;
        let (len, holder) = scene(Holder::Trialog);
        m.before_attempt(len, holder, None);
        let after = m.state().typical_hold;
        // A sample of about 20 ms weighs 1/4 (the looks see 10 ms of it at least).
        let least = (before * 3 + Duration::from_millis(10)) / 4;
        assert!(after > before && after >= least, "{before:?} -> {after:?}");
        // A foreign writer's hold sets no gap.
        let m = held_for(Duration::from_millis(1), 100);
        m.saw_holder(Holder::Trialog);
        let before = m.state().typical_hold;
        let start = Instant::now();
        let (len, holder) = scene(Holder::Foreign);
        m.before_attempt(len, holder, None);
        assert!(start.elapsed() >= Duration::from_millis(22), "did not see the hold end");
        assert_eq!(m.state().typical_hold, before);
    }

    #[test]
    fn gaps_stay_within_their_bounds_and_vary() {
        let hold = Duration::from_millis(8);
        for mode in [Mode::HandOff, Mode::Yield] {
            let base = if mode == Mode::Yield { hold } else { hold / 2 };
            for jitter in [0.0, 0.5, 0.999] {
                let gap = gap_after(mode, hold, jitter);
                assert!(gap >= base / 2 && gap <= base * 3 / 2, "{mode:?} {jitter}: {gap:?}");
            }
            assert_eq!(gap_after(mode, Duration::from_secs(5), 0.5), GAP_MAX);
        }
        // Short turns: a yielding writer still leaves one look's gap, a handing-off one none.
        assert_eq!(gap_after(Mode::Yield, Duration::ZERO, 0.5), HANDOFF_POLL);
        let short = HANDOFF_GAP_FROM - Duration::from_micros(1);
        assert_eq!(gap_after(Mode::HandOff, short, 0.999), Duration::ZERO);
        assert!(gap_after(Mode::HandOff, HANDOFF_GAP_FROM, 0.0) >= HANDOFF_POLL);
        let mut state = State::default();
        let draws: Vec<f64> = (0..1000).map(|_| state.next_jitter()).collect();
        assert!(draws.iter().all(|d| (0.0..1.0).contains(d)));
        let low = draws.iter().filter(|d| **d < 0.5).count();
        assert!((350..650).contains(&low), "{low} of 1000 below 0.5");
    }
}
