//! The shortest log with a given replayed state (`docs/FORMAT.md`, "Compacted journals"): pure,
//! no I/O. The same operations serve both formats.

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::journal::{LogBatch, Operation, TrialTemplate};
use crate::model::{FrozenStudy, FrozenTrial, StudyDirection, TrialState};
use crate::replay::ReplayState;

/// Operations per batch at most (a trialog frame each; Optuna lines carry the batch's worker id).
const OPS_PER_BATCH: usize = 256;
/// The worker id of the operations no worker of the original log stands behind (studies, their
/// attributes, the placeholders of deleted studies, trials nobody ran).
pub(crate) const COMPACTOR_WORKER: &str = "trialog-compact";

/// The operations that rebuild `state` with the same ids, numbers and contents, in batches:
///
/// * each study created once, in id order, right before the first trial that needs it, with its
///   attributes folded in; a study id deleted in the original gets a placeholder study (a name no
///   live study has) that is deleted at the end, so the ids after it keep their values;
/// * each trial, in id order (trials of deleted studies too, with their contents, since Optuna's
///   `get_trial` still returns them), as one create-trial-from-template operation; a trial a known
///   worker ran and that is no longer RUNNING is created RUNNING by that worker and then set to
///   its state, so the worker that ran it survives (`ReplayState::trial_worker`);
/// * a RUNNING trial's latest heartbeat, when `heartbeats` (trialog's format).
///
/// Fails with the reason when a parameter's value does not map back to an internal value that
/// replays to it (such a state cannot be written as a log).
pub(crate) fn plan(state: &ReplayState, heartbeats: bool) -> Result<Vec<LogBatch>, String> {
    let parts = state.parts();
    let live: BTreeMap<u64, &FrozenStudy> =
        parts.studies.iter().map(|s| (s.study_id, *s)).collect();
    let mut out = Batches::default();
    let mut next_study = 0u64;
    let mut create_up_to = |out: &mut Batches, id: u64| {
        while next_study <= id {
            match live.get(&next_study) {
                Some(s) => create_study(out, s),
                None => out.push(
                    COMPACTOR_WORKER,
                    Operation::CreateStudy {
                        study_name: placeholder_name(next_study, &live),
                        directions: vec![StudyDirection::Minimize],
                    },
                ),
            }
            next_study += 1;
        }
    };
    for t in parts.trials() {
        create_up_to(&mut out, t.study_id);
        let worker = state.trial_worker(t.trial_id);
        push_trial(&mut out, t, worker)?;
        if heartbeats && t.state == TrialState::Running {
            if let Some(at) = state.last_heartbeat(t.trial_id) {
                let w = worker.unwrap_or(COMPACTOR_WORKER);
                out.push(w, Operation::TrialHeartbeat { trial_id: t.trial_id, at });
            }
        }
    }
    if parts.next_study_id > 0 {
        create_up_to(&mut out, parts.next_study_id - 1);
    }
    for study_id in (0..parts.next_study_id).filter(|id| !live.contains_key(id)) {
        out.push(COMPACTOR_WORKER, Operation::DeleteStudy { study_id });
    }
    Ok(out.finish())
}

/// A name for the placeholder of deleted study `id` that no live study has (the placeholders
/// are deleted before any other study could want the name, but live ones exist throughout).
fn placeholder_name(id: u64, live: &BTreeMap<u64, &FrozenStudy>) -> String {
    let taken = |name: &str| live.values().any(|s| s.study_name == name);
    let base = format!("trialog-compact-deleted-study-{id}");
    let mut name = base.clone();
    let mut n = 0u64;
    while taken(&name) {
        n += 1;
        name = format!("{base}-{n}");
    }
    name
}

fn create_study(out: &mut Batches, s: &FrozenStudy) {
    let w = COMPACTOR_WORKER;
    let study_id = s.study_id;
    out.push(
        w,
        Operation::CreateStudy {
            study_name: s.study_name.clone(),
            directions: s.directions.clone(),
        },
    );
    for (key, value) in &s.user_attrs {
        let (key, value) = (key.clone(), value.clone());
        out.push(w, Operation::SetStudyUserAttr { study_id, key, value });
    }
    for (key, value) in &s.system_attrs {
        let (key, value) = (key.clone(), value.clone());
        out.push(w, Operation::SetStudySystemAttr { study_id, key, value });
    }
}

fn push_trial(out: &mut Batches, t: &Arc<FrozenTrial>, worker: Option<&str>) -> Result<(), String> {
    let mut template = template(t)?;
    let create = |template| Operation::CreateTrial {
        study_id: t.study_id,
        datetime_start: t.datetime_start,
        template: Some(Box::new(template)),
    };
    // Created RUNNING by its worker, then set to its state: only a trial that ends up RUNNING by
    // a create remembers who ran it. A finished trial needs its completion time for the second
    // operation (Optuna raises on a null one); without one it is created as it is.
    let ran_by = worker.filter(|_| {
        t.state != TrialState::Running && (!t.state.is_finished() || t.datetime_complete.is_some())
    });
    match ran_by {
        Some(w) => {
            let state = template.state;
            template.state = TrialState::Running;
            out.push(w, create(template));
            let datetime = if state.is_finished() { t.datetime_complete } else { None };
            out.push(
                w,
                Operation::SetTrialStateValues {
                    trial_id: t.trial_id,
                    state,
                    values: None,
                    datetime,
                },
            );
        }
        None => out.push(worker.unwrap_or(COMPACTOR_WORKER), create(template)),
    }
    Ok(())
}

/// The template that recreates `t`, or why there is none (naming the trial).
fn template(t: &FrozenTrial) -> Result<TrialTemplate, String> {
    TrialTemplate::recreating(t).map_err(|e| format!("trial {}: {e}", t.trial_id))
}

/// Operations grouped into batches of one worker each, in order.
#[derive(Default)]
struct Batches {
    done: Vec<LogBatch>,
}

impl Batches {
    fn push(&mut self, worker: &str, op: Operation) {
        match self.done.last_mut() {
            Some(b) if b.worker_id == worker && b.ops.len() < OPS_PER_BATCH => b.ops.push(op),
            _ => self.done.push(LogBatch { worker_id: worker.to_owned(), ops: vec![op] }),
        }
    }

    fn finish(self) -> Vec<LogBatch> {
        self.done
    }
}
