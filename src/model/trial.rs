//! Read-only snapshots of trials and studies, as Optuna's `FrozenTrial` and `FrozenStudy`.

use std::collections::BTreeMap;
use std::sync::Arc;

use super::{AttrValue, Distribution, ParamValue, StudyDirection, Timestamp, TrialState, VecMap};

/// One trial as the journal describes it at some point in the log.
///
/// Values and intermediate values keep `+inf`, `-inf` and NaN exactly; equality compares floats
/// bit for bit.
#[derive(Debug, Clone)]
pub struct FrozenTrial {
    /// Unique across all studies of the journal (counts up in log order, never reused).
    pub trial_id: u64,
    /// Position within its study (0, 1, 2, ... in log order).
    pub number: u64,
    /// The study the trial belongs to.
    pub study_id: u64,
    /// Current state.
    pub state: TrialState,
    /// Objective values (one per direction) once set.
    pub values: Option<Vec<f64>>,
    /// When the trial started running (None for a WAITING trial).
    pub datetime_start: Option<Timestamp>,
    /// When the trial finished.
    pub datetime_complete: Option<Timestamp>,
    /// Parameter values in external representation. Names are shared (`Arc<str>`) between
    /// `params`, `distributions` and other trials of the study.
    pub params: VecMap<Arc<str>, ParamValue>,
    /// The distribution of each parameter in `params` (shared between trials when equal).
    pub distributions: VecMap<Arc<str>, Arc<Distribution>>,
    /// User attributes.
    pub user_attrs: VecMap<String, AttrValue>,
    /// System attributes.
    pub system_attrs: VecMap<String, AttrValue>,
    /// Intermediate values by step.
    pub intermediate_values: VecMap<i64, f64>,
}

impl FrozenTrial {
    /// A trial in `state` with no values, datetimes, parameters, attributes or intermediate
    /// values (what replay creates for a fresh trial, and the usual base for a template).
    pub fn new(trial_id: u64, number: u64, study_id: u64, state: TrialState) -> Self {
        FrozenTrial {
            trial_id,
            number,
            study_id,
            state,
            values: None,
            datetime_start: None,
            datetime_complete: None,
            params: VecMap::new(),
            distributions: VecMap::new(),
            user_attrs: VecMap::new(),
            system_attrs: VecMap::new(),
            intermediate_values: VecMap::new(),
        }
    }

    /// The single objective value, if the trial has exactly one.
    pub fn value(&self) -> Option<f64> {
        match self.values.as_deref() {
            Some([v]) => Some(*v),
            _ => None,
        }
    }
}

impl PartialEq for FrozenTrial {
    fn eq(&self, o: &Self) -> bool {
        self.trial_id == o.trial_id
            && self.number == o.number
            && self.study_id == o.study_id
            && self.state == o.state
            && super::same_values(&self.values, &o.values)
            && self.datetime_start == o.datetime_start
            && self.datetime_complete == o.datetime_complete
            && self.params == o.params
            && self.distributions == o.distributions
            && self.user_attrs == o.user_attrs
            && self.system_attrs == o.system_attrs
            && self.intermediate_values.len() == o.intermediate_values.len()
            && self
                .intermediate_values
                .iter()
                .zip(&o.intermediate_values)
                .all(|((s1, v1), (s2, v2))| s1 == s2 && super::same_f64(*v1, *v2))
    }
}

/// One study as the journal describes it at some point in the log (without its trials).
#[derive(Debug, Clone, PartialEq)]
pub struct FrozenStudy {
    /// Unique among all studies ever created in the journal (never reused after delete).
    pub study_id: u64,
    /// Unique among live studies.
    pub study_name: String,
    /// One direction per objective.
    pub directions: Vec<StudyDirection>,
    /// User attributes.
    pub user_attrs: BTreeMap<String, AttrValue>,
    /// System attributes.
    pub system_attrs: BTreeMap<String, AttrValue>,
}
