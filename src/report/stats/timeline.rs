//! Timeline lanes: trials packed onto the fewest rows so that no two overlap in time.
//!
//! The journal records which storage handle wrote each operation, but a trial
//! ([`FrozenTrial`], Optuna's model) does not carry it, and a report built from any store (a
//! remote one included) cannot know it. So each lane is a slot of concurrency, not a worker's
//! identity: the number of lanes is the peak number of trials running at once, a lane left empty
//! shows a worker that stopped asking, and a long bar shows a stalled or stale trial.

use std::cmp::Reverse;
use std::collections::{BTreeSet, BinaryHeap};
use std::sync::Arc;

use crate::model::{FrozenTrial, Timestamp, TrialState};

/// One trial on the timeline.
#[derive(Debug, Clone)]
pub struct Bar {
    /// The trial.
    pub trial: Arc<FrozenTrial>,
    /// When it started.
    pub start: Timestamp,
    /// When it finished, or `now` for a trial still RUNNING (never before `start`).
    pub end: Timestamp,
    /// Its lane (0 = top); no two bars of a lane overlap.
    pub lane: usize,
}

/// Every trial that has started, as a bar on a lane, in start order; and the number of lanes.
///
/// Greedy interval partitioning: trials in order of start (then number) take the lowest lane that
/// is free at their start, which uses exactly as many lanes as the most trials ever running at
/// once. A bar ending when another starts shares its lane.
pub fn lanes(trials: &[Arc<FrozenTrial>], now: Timestamp) -> (Vec<Bar>, usize) {
    let mut bars: Vec<Bar> = trials
        .iter()
        .filter_map(|t| {
            let start = t.datetime_start?;
            let end = match (t.datetime_complete, t.state) {
                (Some(end), _) => end,
                (None, TrialState::Running) => now,
                (None, _) => start,
            };
            Some(Bar { trial: t.clone(), start, end: end.max(start), lane: 0 })
        })
        .collect();
    bars.sort_by_key(|b| (b.start, b.trial.number));
    let mut busy: BinaryHeap<Reverse<(Timestamp, usize)>> = BinaryHeap::new();
    let mut free: BTreeSet<usize> = BTreeSet::new();
    let mut n_lanes = 0;
    for bar in &mut bars {
        while let Some(Reverse((end, lane))) = busy.peek().copied() {
            if end > bar.start {
                break;
            }
            busy.pop();
            free.insert(lane);
        }
        bar.lane = free.pop_first().unwrap_or_else(|| {
            n_lanes += 1;
            n_lanes - 1
        });
        busy.push(Reverse((bar.end, bar.lane)));
    }
    (bars, n_lanes)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(n: u64, start: i64, end: Option<i64>, state: TrialState) -> Arc<FrozenTrial> {
        let mut t = FrozenTrial::new(n, n, 0, state);
        t.datetime_start = Some(Timestamp(start));
        t.datetime_complete = end.map(Timestamp);
        Arc::new(t)
    }

    #[test]
    fn lanes_equal_peak_concurrency_and_never_overlap() {
        let mut s = 99u64;
        let mut r = move |m: i64| {
            s = s.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
            ((s >> 33) as i64) % m
        };
        let ts: Vec<_> = (0..500)
            .map(|i| {
                let start = r(10_000);
                t(i, start, Some(start + r(300)), TrialState::Complete)
            })
            .collect();
        let (bars, n) = lanes(&ts, Timestamp(0));
        assert_eq!(bars.len(), 500);
        // Peak concurrency by a sweep over the events (ends before starts at equal times).
        let mut ev: Vec<(i64, i32)> =
            bars.iter().flat_map(|b| [(b.start.0, 1), (b.end.0, -1)]).collect();
        ev.sort_by_key(|&(at, d)| (at, d));
        let peak = ev
            .iter()
            .scan(0, |c, (_, d)| {
                *c += d;
                Some(*c)
            })
            .max()
            .unwrap();
        assert_eq!(n, peak as usize);
        for a in &bars {
            for b in &bars {
                if a.trial.number != b.trial.number && a.lane == b.lane {
                    assert!(a.end <= b.start || b.end <= a.start);
                }
            }
        }
    }

    #[test]
    fn running_trials_run_to_now_and_waiting_ones_are_left_out() {
        let mut waiting = FrozenTrial::new(2, 2, 0, TrialState::Waiting);
        waiting.datetime_start = None;
        let ts = vec![
            t(0, 10, None, TrialState::Running),
            t(1, 20, Some(15), TrialState::Fail), // clock skew: ends before it starts
            Arc::new(waiting),
        ];
        let (bars, n) = lanes(&ts, Timestamp(100));
        assert_eq!(bars.len(), 2);
        assert_eq!((bars[0].end, bars[1].end), (Timestamp(100), Timestamp(20)));
        assert_eq!(n, 2);
    }
}
