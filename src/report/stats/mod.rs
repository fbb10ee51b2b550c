//! The numbers the report shows, computed from the trials alone: no drawing here.
//!
//! Statistics always use every trial; only the renderers downsample what they draw.

pub mod importance;
pub mod pareto;
pub mod space;
pub mod timeline;

use std::collections::HashMap;
use std::sync::Arc;

use crate::model::{AttrValue, FrozenStudy, FrozenTrial, StudyDirection, Timestamp, TrialState};

pub use space::{Domain, ParamSpace};
pub use timeline::{Bar, Lane, Timeline};

/// Everything the report shows about one study.
#[derive(Debug, Clone)]
pub struct StudyStats {
    /// The study's name.
    pub study_name: String,
    /// One direction per objective.
    pub directions: Vec<StudyDirection>,
    /// The trials, by number.
    pub trials: Vec<Arc<FrozenTrial>>,
    /// How many trials are in each state, in [`TrialState::ALL`] order.
    pub counts: Vec<(TrialState, usize)>,
    /// Single objective: the best trial as Optuna's `get_best_trial` picks it (the first COMPLETE
    /// trial no later one is strictly better than); multi-objective: the Pareto front.
    pub best: Vec<Arc<FrozenTrial>>,
    /// The earliest start of any trial.
    pub first_start: Option<Timestamp>,
    /// The latest start or completion of any trial.
    pub last_event: Option<Timestamp>,
    /// The parameters, by name, with their domains merged over all trials.
    pub params: Vec<ParamSpace>,
    /// Per objective: history and importances.
    pub objectives: Vec<ObjectiveStats>,
    /// The started trials as timeline bars on lanes (a worker's own, where known).
    pub timeline: Timeline,
    /// When the report was computed (the end of a RUNNING trial's bar).
    pub now: Timestamp,
}

/// One objective of the study.
#[derive(Debug, Clone)]
pub struct ObjectiveStats {
    /// Its position in `values`.
    pub index: usize,
    /// Its name: Optuna's metric name (`study.set_metric_names`) if set, else "Objective value"
    /// (single) or "Objective i".
    pub name: String,
    /// Minimise or maximise.
    pub direction: StudyDirection,
    /// COMPLETE trials that have this value: (index into `StudyStats::trials`, value), by number.
    pub points: Vec<(usize, f64)>,
    /// The best value so far, as (trial number where it changed, new best), over the non-NaN
    /// values of `points` (a later trial replaces the best only when strictly better).
    pub best_so_far: Vec<(u64, f64)>,
    /// COMPLETE trials whose value is NaN or infinite.
    pub non_finite: usize,
    /// PED-ANOVA importances for this objective (see [`importance::ped_anova`]), most important
    /// first; `None` with fewer than 2 finite values.
    pub importances: Option<Vec<(Arc<str>, f64)>>,
}

impl ObjectiveStats {
    /// Whether `a` is strictly better than `b` in this objective's direction.
    pub fn better(&self, a: f64, b: f64) -> bool {
        match self.direction {
            StudyDirection::Maximize => a > b,
            _ => a < b,
        }
    }
}

impl StudyStats {
    /// Computes the statistics of `study` from `trials` (any order; trials of other studies must
    /// not be passed). `now` ends the bars of RUNNING trials; `workers` names the worker that
    /// started each trial (by trial id) where the store knows it.
    pub fn compute(
        study: &FrozenStudy,
        trials: &[Arc<FrozenTrial>],
        now: Timestamp,
        workers: &HashMap<u64, Arc<str>>,
    ) -> Self {
        let mut trials = trials.to_vec();
        trials.sort_by_key(|t| t.number);
        let counts = TrialState::ALL
            .iter()
            .map(|s| (*s, trials.iter().filter(|t| t.state == *s).count()))
            .collect();
        let names = metric_names(study);
        let params = space::params(&trials);
        let param_names: Vec<Arc<str>> = params
            .iter()
            .filter(|p| {
                trials.iter().any(|t| {
                    t.state == TrialState::Complete && t.distributions.contains_key(&*p.name)
                })
            })
            .map(|p| p.name.clone())
            .collect();
        let n_obj = study.directions.len();
        let objectives: Vec<ObjectiveStats> = study
            .directions
            .iter()
            .enumerate()
            .map(|(i, d)| {
                let name = names.get(i).cloned().unwrap_or_else(|| {
                    if n_obj == 1 { "Objective value".into() } else { format!("Objective {i}") }
                });
                objective(&trials, i, n_obj, name, *d, &param_names)
            })
            .collect();
        let best = if n_obj == 1 {
            best_single(&trials, &objectives[0]).into_iter().collect()
        } else {
            pareto::front(&trials, &study.directions)
        };
        let first_start = trials.iter().filter_map(|t| t.datetime_start).min();
        let last_event =
            trials.iter().flat_map(|t| [t.datetime_start, t.datetime_complete]).flatten().max();
        let timeline = timeline::timeline(&trials, now, workers);
        StudyStats {
            study_name: study.study_name.clone(),
            directions: study.directions.clone(),
            counts,
            best,
            first_start,
            last_event,
            params,
            objectives,
            timeline,
            now,
            trials,
        }
    }

    /// The number of trials in `state`.
    pub fn count(&self, state: TrialState) -> usize {
        self.counts.iter().find(|(s, _)| *s == state).map_or(0, |(_, n)| *n)
    }
}

/// Optuna's metric names (`study:metric_names` in the study's system attributes), if set.
fn metric_names(study: &FrozenStudy) -> Vec<String> {
    match study.system_attrs.get("study:metric_names") {
        Some(AttrValue::Array(items)) => items
            .iter()
            .map(|v| match v {
                AttrValue::String(s) => s.clone(),
                _ => String::new(),
            })
            .collect(),
        _ => Vec::new(),
    }
}

fn objective(
    trials: &[Arc<FrozenTrial>],
    index: usize,
    n_obj: usize,
    name: String,
    direction: StudyDirection,
    param_names: &[Arc<str>],
) -> ObjectiveStats {
    let value = |t: &FrozenTrial| -> Option<f64> {
        let v = t.values.as_deref()?;
        (v.len() == n_obj).then(|| v[index])
    };
    let mut o = ObjectiveStats {
        index,
        name,
        direction,
        points: Vec::new(),
        best_so_far: Vec::new(),
        non_finite: 0,
        importances: None,
    };
    let mut best: Option<f64> = None;
    for (i, t) in trials.iter().enumerate() {
        if t.state != TrialState::Complete {
            continue;
        }
        let Some(v) = value(t) else { continue };
        o.points.push((i, v));
        if !v.is_finite() {
            o.non_finite += 1;
        }
        if v.is_nan() {
            continue;
        }
        if best.is_none_or(|b| o.better(v, b)) {
            best = Some(v);
            o.best_so_far.push((t.number, v));
        }
    }
    let sign = if direction == StudyDirection::Maximize { -1.0 } else { 1.0 };
    o.importances = importance::ped_anova(trials, param_names, |t| value(t).map(|v| sign * v));
    o
}

/// `get_best_trial`: the first COMPLETE trial that no later one is strictly better than.
fn best_single(trials: &[Arc<FrozenTrial>], o: &ObjectiveStats) -> Option<Arc<FrozenTrial>> {
    let mut best: Option<(usize, f64)> = None;
    for &(i, v) in &o.points {
        if best.is_none_or(|(_, b)| o.better(v, b)) {
            best = Some((i, v));
        }
    }
    best.map(|(i, _)| trials[i].clone())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn study(directions: Vec<StudyDirection>) -> FrozenStudy {
        FrozenStudy {
            study_id: 0,
            study_name: "s".into(),
            directions,
            user_attrs: BTreeMap::new(),
            system_attrs: BTreeMap::new(),
        }
    }

    fn t(n: u64, state: TrialState, values: Option<Vec<f64>>) -> Arc<FrozenTrial> {
        let mut t = FrozenTrial::new(n, n, 0, state);
        t.values = values.map(Into::into);
        Arc::new(t)
    }

    #[test]
    fn best_so_far_and_best_trial_follow_optuna() {
        let ts = vec![
            t(0, TrialState::Complete, Some(vec![5.0])),
            t(1, TrialState::Fail, None),
            t(2, TrialState::Complete, Some(vec![f64::NAN])),
            t(3, TrialState::Complete, Some(vec![3.0])),
            t(4, TrialState::Complete, Some(vec![3.0])),
            t(5, TrialState::Pruned, Some(vec![1.0])),
            t(6, TrialState::Complete, Some(vec![f64::NEG_INFINITY])),
        ];
        let s = StudyStats::compute(
            &study(vec![StudyDirection::Minimize]),
            &ts,
            Timestamp(0),
            &HashMap::new(),
        );
        let o = &s.objectives[0];
        assert_eq!(o.best_so_far.len(), 3);
        assert_eq!(&o.best_so_far[..2], &[(0, 5.0), (3, 3.0)]);
        assert_eq!(o.best_so_far[2].0, 6);
        assert_eq!(o.points.len(), 5);
        assert_eq!(o.non_finite, 2);
        assert_eq!(s.best[0].number, 6);
        assert_eq!(s.count(TrialState::Complete), 5);
        let s = StudyStats::compute(
            &study(vec![StudyDirection::Maximize]),
            &ts,
            Timestamp(0),
            &HashMap::new(),
        );
        assert_eq!(s.best[0].number, 0);
    }

    #[test]
    fn metric_names_name_the_objectives() {
        let mut st = study(vec![StudyDirection::Minimize, StudyDirection::Maximize]);
        let s = StudyStats::compute(&st, &[], Timestamp(0), &HashMap::new());
        assert_eq!(s.objectives[1].name, "Objective 1");
        st.system_attrs.insert(
            "study:metric_names".into(),
            AttrValue::Array(vec![
                AttrValue::String("loss".into()),
                AttrValue::String("acc".into()),
            ]),
        );
        let s = StudyStats::compute(&st, &[], Timestamp(0), &HashMap::new());
        assert_eq!(s.objectives[1].name, "acc");
        assert!(
            s.best.is_empty()
                && s.timeline.bars.is_empty()
                && s.objectives[0].importances.is_none()
        );
    }
}
