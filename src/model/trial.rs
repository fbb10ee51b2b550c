//! Read-only snapshots of trials and studies, as Optuna's `FrozenTrial` and `FrozenStudy`.

use std::collections::BTreeMap;
use std::sync::{Arc, LazyLock};

use super::{
    AttrValue, Distribution, Integer, ListMap, ParamValue, Shared, StudyDirection, Timestamp,
    TrialState, Values, VecMap,
};

/// A trial's parameter distributions by name, in the order of its parameters (shared between
/// the trials that have the same, in the same order).
pub type Distributions = Shared<ListMap<Arc<str>, Arc<Distribution>>>;
/// A trial's user or system attributes (shared while empty).
pub type Attrs = Shared<VecMap<String, AttrValue>>;

/// The one empty distribution map every new trial starts with.
static NO_DISTRIBUTIONS: LazyLock<Distributions> = LazyLock::new(Distributions::default);
/// The one empty attribute map every new trial starts with.
static NO_ATTRS: LazyLock<Attrs> = LazyLock::new(Attrs::default);

/// One trial as the journal describes it at some point in the log.
///
/// Values and intermediate values keep `+inf`, `-inf` and NaN exactly; equality compares floats
/// bit for bit. Built to be small (replay holds one per trial): a single objective value is held
/// inline, maps are two words and sized exactly while small, and distributions and attributes are
/// [`Shared`] (one copy for the trials that have the same, copied when one of them changes).
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
    pub values: Option<Values>,
    /// When the trial started running (None for a WAITING trial).
    pub datetime_start: Option<Timestamp>,
    /// When the trial finished.
    pub datetime_complete: Option<Timestamp>,
    /// Parameter values in external representation, in the order Optuna shows them: the order
    /// they were first set in, or a template's order. Names are shared (`Arc<str>`) between
    /// `params`, `distributions` and other trials of the study.
    pub params: ListMap<Arc<str>, ParamValue>,
    /// The distribution of each parameter in `params`, in the same order (the map and each
    /// distribution shared between trials when equal).
    pub distributions: Distributions,
    /// User attributes.
    pub user_attrs: Attrs,
    /// System attributes.
    pub system_attrs: Attrs,
    /// Intermediate values by step, in step order. A step is any integer, as in Python: those
    /// outside the 64-bit range (which Optuna's `report` accepts) are kept exactly.
    pub intermediate_values: VecMap<Integer, f64>,
}

impl FrozenTrial {
    /// A trial in `state` with no values, datetimes, parameters, attributes or intermediate
    /// values (what replay creates for a fresh trial, and the usual base for a template). Takes
    /// no allocation of its own.
    pub fn new(trial_id: u64, number: u64, study_id: u64, state: TrialState) -> Self {
        FrozenTrial {
            trial_id,
            number,
            study_id,
            state,
            values: None,
            datetime_start: None,
            datetime_complete: None,
            params: ListMap::new(),
            distributions: NO_DISTRIBUTIONS.clone(),
            user_attrs: NO_ATTRS.clone(),
            system_attrs: NO_ATTRS.clone(),
            intermediate_values: VecMap::new(),
        }
    }

    /// The empty distribution map every trial of [`FrozenTrial::new`] starts with (one copy).
    pub(crate) fn no_distributions() -> &'static Distributions {
        &NO_DISTRIBUTIONS
    }

    /// The intermediate value reported at `step`, if any.
    pub fn intermediate_value(&self, step: i64) -> Option<f64> {
        self.intermediate_values.get(&Integer::Small(step)).copied()
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
