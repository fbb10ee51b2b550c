//! Whether two replayed states are the same for every reader: the check a compaction passes
//! before it writes anything.

use crate::replay::ReplayState;

/// The first difference between `a` and `b` that any reader could see, or `None`: the id
/// counters, every live study with its attributes, every trial ever created (those of deleted
/// studies too) with all its content, the worker that ran each trial, and (when `heartbeats`)
/// the latest heartbeat of each RUNNING trial. Replay's counters and how many heartbeats a trial
/// had are not compared: a compacted log holds fewer operations by design.
pub(crate) fn differences(a: &ReplayState, b: &ReplayState, heartbeats: bool) -> Option<String> {
    let (pa, pb) = (a.parts(), b.parts());
    if pa.next_study_id != pb.next_study_id {
        return Some(format!("next study id {} vs {}", pa.next_study_id, pb.next_study_id));
    }
    if pa.studies != pb.studies {
        return Some("the live studies or their attributes differ".into());
    }
    if pa.trial_count != pb.trial_count {
        return Some(format!("{} trials vs {}", pa.trial_count, pb.trial_count));
    }
    for (x, y) in pa.trials().into_iter().zip(pb.trials()) {
        let id = x.trial_id;
        if x != y {
            return Some(format!("trial {id} differs"));
        }
        if a.trial_worker(id) != b.trial_worker(id) {
            return Some(format!("the worker that ran trial {id} differs"));
        }
        if heartbeats && a.last_heartbeat(id) != b.last_heartbeat(id) {
            return Some(format!("the latest heartbeat of trial {id} differs"));
        }
    }
    for s in &pa.studies {
        let (Ok(wa), Ok(wb)) = (a.waiting_trials_of(s.study_id), b.waiting_trials_of(s.study_id))
        else {
            return Some(format!("study {} is missing", s.study_id));
        };
        if !wa.map(|t| t.trial_id).eq(wb.map(|t| t.trial_id)) {
            return Some(format!("the WAITING trials of study {} differ", s.study_id));
        }
    }
    None
}
