//! Timeline lanes: one row per worker, and the peak number of trials running at once.
//!
//! The journal records which worker (storage handle and thread) made each trial RUNNING, and a
//! store that knows it passes it in ([`crate::Storage::trial_workers`]). Each worker gets its own
//! lanes, in order of its first start, so a stalled or stopped worker shows as a gap in its row;
//! a worker running several trials at once (ask/tell) gets as many lanes as it ran at once.
//! Trials whose worker is unknown (a store that does not say, such as a remote one) are packed
//! onto the fewest lanes on which none overlap, after the workers' lanes.

use std::cmp::Reverse;
use std::collections::{BTreeSet, BinaryHeap, HashMap};
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

/// One row of the timeline.
#[derive(Debug, Clone, PartialEq)]
pub struct Lane {
    /// The worker whose trials the row shows, as (its number among the study's workers in order
    /// of first start, from 0; its id), or `None` for a row of trials no known worker started.
    pub worker: Option<(usize, Arc<str>)>,
}

/// The timeline of a study: its bars, its rows, and how many trials ever ran at once.
#[derive(Debug, Clone, Default)]
pub struct Timeline {
    /// Every trial that has started, in order of start (then number).
    pub bars: Vec<Bar>,
    /// The rows, top first; each bar's `lane` indexes this.
    pub lanes: Vec<Lane>,
    /// The peak number of trials running at once (over all workers).
    pub peak_running: usize,
    /// How many distinct workers are known to have started trials.
    pub n_workers: usize,
}

/// Lays out every started trial of `trials`; `workers` names the worker that started each trial
/// (by trial id) where known. RUNNING trials end at `now`.
pub fn timeline(
    trials: &[Arc<FrozenTrial>],
    now: Timestamp,
    workers: &HashMap<u64, Arc<str>>,
) -> Timeline {
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
    let (_, peak_running) = pack(bars.iter());
    // Group the bars by worker, workers in order of first start, the unknown group last.
    let mut order: Vec<Option<Arc<str>>> = Vec::new();
    let mut group_of: HashMap<Option<&Arc<str>>, usize> = HashMap::new();
    let mut groups: Vec<Vec<usize>> = Vec::new();
    for (i, bar) in bars.iter().enumerate() {
        let worker = workers.get(&bar.trial.trial_id);
        let g = *group_of.entry(worker).or_insert_with(|| {
            order.push(worker.cloned());
            groups.push(Vec::new());
            groups.len() - 1
        });
        groups[g].push(i);
    }
    let mut by_group: Vec<usize> = (0..groups.len()).collect();
    by_group.sort_by_key(|&g| order[g].is_none()); // stable: known workers keep their order
    let n_workers = order.iter().filter(|w| w.is_some()).count();
    let mut lanes = Vec::new();
    for (number, &g) in by_group.iter().enumerate() {
        let (rows, n) = pack(groups[g].iter().map(|&i| &bars[i]));
        for (&i, row) in groups[g].iter().zip(rows) {
            bars[i].lane = lanes.len() + row;
        }
        let worker = order[g].as_ref().map(|w| (number, Arc::clone(w)));
        lanes.extend(std::iter::repeat_n(Lane { worker }, n));
    }
    Timeline { bars, lanes, peak_running, n_workers }
}

/// Greedy interval partitioning of bars given in order of start: each takes the lowest row free
/// at its start, which uses exactly as many rows as the most bars ever overlapping. A bar ending
/// when another starts shares its row. Returns each bar's row and the number of rows.
fn pack<'a>(bars: impl Iterator<Item = &'a Bar>) -> (Vec<usize>, usize) {
    let mut busy: BinaryHeap<Reverse<(Timestamp, usize)>> = BinaryHeap::new();
    let mut free: BTreeSet<usize> = BTreeSet::new();
    let mut rows = Vec::new();
    let mut n = 0;
    for bar in bars {
        while let Some(Reverse((end, row))) = busy.peek().copied() {
            if end > bar.start {
                break;
            }
            busy.pop();
            free.insert(row);
        }
        let row = free.pop_first().unwrap_or_else(|| {
            n += 1;
            n - 1
        });
        busy.push(Reverse((bar.end, row)));
        rows.push(row);
    }
    (rows, n)
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
        let Timeline { bars, lanes, peak_running: n, .. } =
            timeline(&ts, Timestamp(0), &HashMap::new());
        assert_eq!(lanes.len(), n, "no worker known: packed onto peak-concurrency rows");
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
        let Timeline { bars, peak_running: n, .. } = timeline(&ts, Timestamp(100), &HashMap::new());
        assert_eq!(bars.len(), 2);
        assert_eq!((bars[0].end, bars[1].end), (Timestamp(100), Timestamp(20)));
        assert_eq!(n, 2);
    }

    #[test]
    fn each_worker_gets_its_own_rows_and_unknown_trials_come_last() {
        // Worker "b" starts first; "a" runs two trials at once; trial 4's worker is unknown.
        let ts = vec![
            t(0, 10, Some(20), TrialState::Complete), // a
            t(1, 12, Some(30), TrialState::Complete), // a, overlapping trial 0
            t(2, 5, Some(40), TrialState::Fail),      // b
            t(3, 41, Some(50), TrialState::Complete), // b
            t(4, 0, Some(1), TrialState::Complete),   // unknown
            t(5, 25, Some(26), TrialState::Complete), // a, after trial 0 ended
        ];
        let (a, b): (Arc<str>, Arc<str>) = ("a".into(), "b".into());
        let workers: HashMap<u64, Arc<str>> =
            [(0, &a), (1, &a), (2, &b), (3, &b), (5, &a)].map(|(i, w)| (i, w.clone())).into();
        let tl = timeline(&ts, Timestamp(100), &workers);
        let lane = |n: u64| tl.bars.iter().find(|x| x.trial.number == n).unwrap().lane;
        let w = |l: usize| tl.lanes[l].worker.as_ref().map(|(k, id)| (*k, id.to_string()));
        assert_eq!((tl.n_workers, tl.lanes.len(), tl.peak_running), (2, 4, 3));
        assert_eq!((lane(2), lane(3)), (0, 0), "b started first: row 0");
        assert_eq!((lane(0), lane(1), lane(5)), (1, 2, 1), "a ran two at once: two rows");
        assert_eq!(lane(4), 3, "unknown worker after the known ones");
        assert_eq!(
            (w(0), w(1), w(2), w(3)),
            (Some((0, "b".into())), Some((1, "a".into())), Some((1, "a".into())), None)
        );
    }
}
