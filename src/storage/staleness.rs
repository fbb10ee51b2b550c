//! Which RUNNING trials are stale, judged without comparing clocks of different hosts.
//!
//! A heartbeat carries the wall-clock time of the host that wrote it; the sweeper runs on
//! another host whose clock may be minutes off. So a storage handle watches instead: it notes
//! when, on its own monotonic clock, it first saw each trial's current heartbeat count (looking
//! for stale trials, or writing that heartbeat itself), and a trial is stale once that count
//! has not changed for the grace period. A live worker's
//! heartbeats change the count whatever their timestamps say; a dead worker's count stops,
//! whatever its clock said.
//!
//! The wall-clock rule is only a fallback for a trial the handle sees for the first time (a
//! sweeper that just started, a worker that died before it): it is stale at once if its latest
//! heartbeat is older than the grace period plus [`MAX_CLOCK_SKEW`] by the sweeper's clock, so
//! workers of yesterday's crash are failed at once, and a live worker is never failed on sight
//! unless its clock is more than [`MAX_CLOCK_SKEW`] behind the sweeper's. Otherwise it is
//! watched like any other trial.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use crate::error::Result;
use crate::model::Timestamp;
use crate::replay::ReplayState;

/// How far behind the sweeper's wall clock a worker's may be without the first-sight fallback
/// failing its live trial (see the module documentation).
pub const MAX_CLOCK_SKEW: Duration = Duration::from_secs(15 * 60);

/// What one handle has seen of the heartbeats of the trials it watched.
#[derive(Debug, Default)]
pub(crate) struct HeartbeatWatch {
    /// Trial id -> what was seen of its heartbeats.
    seen: HashMap<u64, Sighting>,
}

/// What a handle saw of one trial's heartbeats.
#[derive(Debug, Clone, Copy)]
struct Sighting {
    /// The heartbeat count when last seen.
    count: u64,
    /// When that count was first seen (the handle's monotonic clock).
    since: Instant,
    /// The count was first seen at the handle's first sight of the trial, already stale by the
    /// wall-clock fallback: it stays stale until the count changes.
    stale_at_sight: bool,
}

impl HeartbeatWatch {
    /// Notes that the trial's heartbeat count was `count` at `mono` (this handle wrote that
    /// heartbeat, or a later one): a count already watched keeps its earlier sighting.
    pub(crate) fn saw(&mut self, trial_id: u64, count: u64, mono: Instant) {
        match self.seen.get(&trial_id) {
            Some(s) if s.count == count => {}
            _ => {
                self.seen.insert(trial_id, Sighting { count, since: mono, stale_at_sight: false });
            }
        }
    }

    /// The RUNNING trials of `study_id` that are stale in `state` by the rules above, in id
    /// order, given the sweeper's wall clock `wall` and monotonic clock `mono`. Remembers what
    /// it saw and forgets trials that stopped running.
    pub(crate) fn stale(
        &mut self,
        state: &ReplayState,
        study_id: u64,
        wall: Timestamp,
        mono: Instant,
        grace: Duration,
    ) -> Result<Vec<u64>> {
        let trials = state.trials_with_heartbeats(study_id)?;
        let fallback = i64::try_from((grace + MAX_CLOCK_SKEW).as_micros()).unwrap_or(i64::MAX);
        let mut stale = Vec::new();
        for &(trial_id, beats) in &trials {
            let sighting = match self.seen.get(&trial_id) {
                Some(s) if s.count == beats.count => *s,
                // A new heartbeat since the last look: alive, watched from now.
                Some(_) => Sighting { count: beats.count, since: mono, stale_at_sight: false },
                // First sight: the wall-clock fallback.
                None => Sighting {
                    count: beats.count,
                    since: mono,
                    stale_at_sight: wall.as_micros().saturating_sub(beats.latest.as_micros())
                        > fallback,
                },
            };
            self.seen.insert(trial_id, sighting);
            if sighting.stale_at_sight || mono.saturating_duration_since(sighting.since) > grace {
                stale.push(trial_id);
            }
        }
        // Forget the trials of this study that no longer run (or lost their heartbeats).
        let running: std::collections::HashSet<u64> = trials.iter().map(|(id, _)| *id).collect();
        self.seen.retain(|id, _| {
            running.contains(id) || state.trial(*id).is_ok_and(|t| t.study_id != study_id)
        });
        Ok(stale)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::journal::Operation;
    use crate::model::StudyDirection;

    fn state_with_running_trial() -> ReplayState {
        let mut s = ReplayState::new();
        let ops = [
            Operation::CreateStudy {
                study_name: "s".into(),
                directions: vec![StudyDirection::Minimize],
            },
            Operation::CreateTrial { study_id: 0, template: None, datetime_start: None },
        ];
        for op in ops {
            s.apply(&op).unwrap();
        }
        s
    }

    fn beat(s: &mut ReplayState, at: i64) {
        s.apply(&Operation::TrialHeartbeat { trial_id: 0, at: Timestamp(at) }).unwrap();
    }

    #[test]
    fn a_count_that_stops_is_stale_after_the_grace_period_whatever_the_timestamps_say() {
        let grace = Duration::from_secs(5);
        let t0 = Instant::now();
        let wall = Timestamp(1_000_000_000_000);
        let mut s = state_with_running_trial();
        // The worker's clock is an hour ahead: the wall-clock rule would never fail it.
        beat(&mut s, wall.0 + 3_600_000_000);
        let mut w = HeartbeatWatch::default();
        assert!(w.stale(&s, 0, wall, t0, grace).unwrap().is_empty());
        assert!(w.stale(&s, 0, wall, t0 + grace, grace).unwrap().is_empty());
        assert_eq!(w.stale(&s, 0, wall, t0 + grace * 2, grace).unwrap(), vec![0]);
        // A new heartbeat (even one dated in the past) restarts the watch.
        beat(&mut s, 0);
        assert!(w.stale(&s, 0, wall, t0 + grace * 3, grace).unwrap().is_empty());
        assert!(w.stale(&s, 0, wall, t0 + grace * 4, grace).unwrap().is_empty());
        assert_eq!(w.stale(&s, 0, wall, t0 + grace * 5, grace).unwrap(), vec![0]);
    }

    #[test]
    fn a_heartbeat_the_handle_wrote_is_watched_from_its_writing() {
        let grace = Duration::from_secs(5);
        let t0 = Instant::now();
        let wall = Timestamp(1_000_000_000_000);
        let mut s = state_with_running_trial();
        beat(&mut s, wall.0);
        let mut w = HeartbeatWatch::default();
        w.saw(0, 1, t0);
        // The first look comes after the grace period: stale, no second look needed.
        assert_eq!(w.stale(&s, 0, wall, t0 + grace * 2, grace).unwrap(), vec![0]);
        // Seeing the same count again later keeps the earlier sighting.
        w.saw(0, 1, t0 + grace * 2);
        assert_eq!(w.stale(&s, 0, wall, t0 + grace * 2, grace).unwrap(), vec![0]);
        // A newer count restarts the watch.
        beat(&mut s, wall.0);
        w.saw(0, 2, t0 + grace * 2);
        assert!(w.stale(&s, 0, wall, t0 + grace * 3, grace).unwrap().is_empty());
        assert_eq!(w.stale(&s, 0, wall, t0 + grace * 4, grace).unwrap(), vec![0]);
    }

    #[test]
    fn at_first_sight_only_a_heartbeat_older_than_the_allowed_skew_is_stale() {
        let grace = Duration::from_secs(5);
        let t0 = Instant::now();
        let wall = Timestamp(1_000_000_000_000);
        let minute = 60_000_000;
        let mut s = state_with_running_trial();
        beat(&mut s, wall.0 - 10 * minute); // a live worker whose clock is 10 minutes behind
        let mut w = HeartbeatWatch::default();
        assert!(w.stale(&s, 0, wall, t0, grace).unwrap().is_empty());
        let mut s = state_with_running_trial();
        beat(&mut s, wall.0 - 24 * 60 * minute); // a worker dead since yesterday
        let mut w = HeartbeatWatch::default();
        assert_eq!(w.stale(&s, 0, wall, t0, grace).unwrap(), vec![0]);
        // It stays stale at the next look (a report first, then the sweep that fails it)...
        assert_eq!(w.stale(&s, 0, wall, t0, grace).unwrap(), vec![0]);
        // ...until a heartbeat shows that its worker lives after all.
        beat(&mut s, wall.0 - 24 * 60 * minute);
        assert!(w.stale(&s, 0, wall, t0, grace).unwrap().is_empty());
    }
}
