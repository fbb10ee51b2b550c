//! The `Operation` enum: everything a journal can say.
//!
//! Operation codes 0..=10 are Optuna's `JournalOperation` codes, so a log can be translated to
//! and from Optuna's JSON-lines format one to one. Code 11 ([`EXTENDED_CODE`]) wraps an operation
//! that uses a value encoding added later (trialog's format only). Codes 12..=127 are reserved
//! for future operations that every reader must understand (an old reader stops with
//! [`crate::Error::UnknownOperation`]); codes 128 and above are *safe to ignore*: a reader that
//! does not know one skips it, because by contract it never changes what Optuna's API shows.

use std::collections::BTreeMap;

use crate::model::{
    AttrValue, Distribution, FrozenTrial, Integer, ListMap, ParamValue, StudyDirection, Timestamp,
    TrialState,
};

/// The first operation code that old readers may skip (see the module docs).
pub const FIRST_IGNORABLE_CODE: u64 = 128;

/// The code of an *extended* operation in trialog's format: `[11, op]` wraps one operation
/// that uses a value encoding added after format version 1 (an integer outside 64 bits, a legacy
/// distribution class). Readers that predate those encodings stop at it with
/// `UnknownOperation` instead of misreading the value; see `docs/FORMAT.md`.
pub const EXTENDED_CODE: u64 = 11;

/// Numeric operation codes (Optuna's for 0..=10).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[repr(u8)]
pub enum OpCode {
    /// Create a study.
    CreateStudy = 0,
    /// Delete a study.
    DeleteStudy = 1,
    /// Set a study user attribute.
    SetStudyUserAttr = 2,
    /// Set a study system attribute.
    SetStudySystemAttr = 3,
    /// Create a trial.
    CreateTrial = 4,
    /// Set a trial parameter.
    SetTrialParam = 5,
    /// Set a trial's state and values.
    SetTrialStateValues = 6,
    /// Set an intermediate value.
    SetTrialIntermediateValue = 7,
    /// Set a trial user attribute.
    SetTrialUserAttr = 8,
    /// Set a trial system attribute.
    SetTrialSystemAttr = 9,
    /// Discard trials (Rustuna's op code 10; Optuna ignores it).
    DiscardTrials = 10,
    /// A RUNNING trial's worker is alive (trialog's extension; safe to ignore).
    TrialHeartbeat = 128,
}

impl OpCode {
    /// Every known code, in order.
    pub const ALL: [OpCode; 12] = [
        OpCode::CreateStudy,
        OpCode::DeleteStudy,
        OpCode::SetStudyUserAttr,
        OpCode::SetStudySystemAttr,
        OpCode::CreateTrial,
        OpCode::SetTrialParam,
        OpCode::SetTrialStateValues,
        OpCode::SetTrialIntermediateValue,
        OpCode::SetTrialUserAttr,
        OpCode::SetTrialSystemAttr,
        OpCode::DiscardTrials,
        OpCode::TrialHeartbeat,
    ];

    /// The code for `code`, if this build knows it.
    pub fn from_u64(code: u64) -> Option<Self> {
        match code {
            0..=10 => Some(Self::ALL[code as usize]),
            128 => Some(OpCode::TrialHeartbeat),
            _ => None,
        }
    }

    /// This code's position in [`OpCode::ALL`].
    pub fn index(self) -> usize {
        match self {
            OpCode::TrialHeartbeat => 11,
            known => known as usize,
        }
    }

    /// A short snake_case name, for reports (`create_study`, `trial_heartbeat`, ...).
    pub fn name(self) -> &'static str {
        match self {
            OpCode::CreateStudy => "create_study",
            OpCode::DeleteStudy => "delete_study",
            OpCode::SetStudyUserAttr => "set_study_user_attr",
            OpCode::SetStudySystemAttr => "set_study_system_attr",
            OpCode::CreateTrial => "create_trial",
            OpCode::SetTrialParam => "set_trial_param",
            OpCode::SetTrialStateValues => "set_trial_state_values",
            OpCode::SetTrialIntermediateValue => "set_trial_intermediate_value",
            OpCode::SetTrialUserAttr => "set_trial_user_attr",
            OpCode::SetTrialSystemAttr => "set_trial_system_attr",
            OpCode::DiscardTrials => "discard_trials",
            OpCode::TrialHeartbeat => "trial_heartbeat",
        }
    }

    /// Whether Optuna's journal format has this operation (codes 0..=10).
    pub fn is_optuna(self) -> bool {
        (self as u64) < 11
    }

    /// Whether a reader that does not know `code` may skip it.
    pub fn is_ignorable(code: u64) -> bool {
        code >= FIRST_IGNORABLE_CODE
    }
}

/// The contents of a trial created from a template (Optuna's `create_new_trial(template_trial)`,
/// used by `enqueue_trial` and `add_trial`).
#[derive(Debug, Clone, PartialEq)]
pub struct TrialTemplate {
    /// Initial state (WAITING for an enqueued trial, COMPLETE for an added one, ...).
    pub state: TrialState,
    /// Objective values.
    pub values: Option<Vec<f64>>,
    /// Completion time, if the template had one.
    pub datetime_complete: Option<Timestamp>,
    /// Parameters: name -> (internal value, distribution), in the order the trial shows them
    /// (the order of the template's `params`; written and read in this order).
    pub params: ListMap<String, (f64, Distribution)>,
    /// User attributes.
    pub user_attrs: BTreeMap<String, AttrValue>,
    /// System attributes.
    pub system_attrs: BTreeMap<String, AttrValue>,
    /// Intermediate values by step (any integer, see [`FrozenTrial::intermediate_values`]).
    pub intermediate_values: BTreeMap<Integer, f64>,
}

impl TrialTemplate {
    /// The template that recreates `t` whole (state, values, completion time, parameters in
    /// internal representation and in the trial's order, attributes, intermediate values), or
    /// why there is none: a parameter without its distribution, or a value its distribution
    /// does not map back to itself (replaying the template would then give another trial).
    pub fn recreating(t: &FrozenTrial) -> Result<TrialTemplate, String> {
        let mut params = ListMap::new();
        for (name, value) in t.params.iter() {
            let dist = t
                .distributions
                .get(&**name)
                .ok_or_else(|| format!("parameter {name:?} has no distribution"))?;
            let internal = dist.to_internal(value).map_err(|e| e.to_string())?;
            if dist.to_external(internal).as_ref() != Some(value) {
                return Err(format!("parameter {name:?} does not map back to the same value"));
            }
            params.insert(name.to_string(), (internal, (**dist).clone()));
        }
        Ok(TrialTemplate {
            state: t.state,
            values: t.values.as_ref().map(|v| v.to_vec()),
            datetime_complete: t.datetime_complete,
            params,
            user_attrs: t.user_attrs.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
            system_attrs: t.system_attrs.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
            intermediate_values: t
                .intermediate_values
                .iter()
                .map(|(k, v)| (k.clone(), *v))
                .collect(),
        })
    }
}

/// One operation of the log. Ids refer to studies and trials created earlier in the same log.
#[derive(Debug, Clone, PartialEq)]
pub enum Operation {
    /// Create a study. Its id is the next study id (assigned at replay).
    CreateStudy {
        /// Unique name among live studies.
        study_name: String,
        /// One direction per objective.
        directions: Vec<StudyDirection>,
    },
    /// Delete a study and hide its trials.
    DeleteStudy {
        /// The study.
        study_id: u64,
    },
    /// Set one study user attribute.
    SetStudyUserAttr {
        /// The study.
        study_id: u64,
        /// Attribute name.
        key: String,
        /// Attribute value.
        value: AttrValue,
    },
    /// Set one study system attribute.
    SetStudySystemAttr {
        /// The study.
        study_id: u64,
        /// Attribute name.
        key: String,
        /// Attribute value.
        value: AttrValue,
    },
    /// Create a trial. Its id is the next trial id and its number the next number in its study
    /// (both assigned at replay). Without a template it starts RUNNING.
    CreateTrial {
        /// The study.
        study_id: u64,
        /// Start time (None for a template without one, e.g. WAITING).
        datetime_start: Option<Timestamp>,
        /// The template's contents, if created from one.
        template: Option<Box<TrialTemplate>>,
    },
    /// Set one parameter of a trial.
    SetTrialParam {
        /// The trial.
        trial_id: u64,
        /// Parameter name.
        name: String,
        /// Value in internal representation.
        internal: f64,
        /// Its distribution.
        distribution: Distribution,
    },
    /// Change a trial's state (and values).
    SetTrialStateValues {
        /// The trial.
        trial_id: u64,
        /// New state.
        state: TrialState,
        /// New objective values (None leaves them unchanged).
        values: Option<Vec<f64>>,
        /// Start time when the new state is RUNNING, completion time when it is finished.
        datetime: Option<Timestamp>,
    },
    /// Record the intermediate value of one step.
    SetTrialIntermediateValue {
        /// The trial.
        trial_id: u64,
        /// Step: any integer (one outside the 64-bit range needs an extended operation).
        step: Integer,
        /// Value (may be non-finite).
        value: f64,
    },
    /// Set one trial user attribute.
    SetTrialUserAttr {
        /// The trial.
        trial_id: u64,
        /// Attribute name.
        key: String,
        /// Attribute value.
        value: AttrValue,
    },
    /// Set one trial system attribute.
    SetTrialSystemAttr {
        /// The trial.
        trial_id: u64,
        /// Attribute name.
        key: String,
        /// Attribute value.
        value: AttrValue,
    },
    /// Rustuna's DISCARD_TRIALS. Optuna ignores it and so does trialog's replay (kept so logs
    /// written by Rustuna replay to the same state Optuna sees).
    DiscardTrials {
        /// The trials named by the operation.
        trial_ids: Vec<u64>,
    },
    /// The worker running a trial was alive at `at` (trialog's extension, code 128: readers that
    /// do not know it skip it). Only a RUNNING trial takes heartbeats; see
    /// [`crate::JournalStorage::fail_stale_trials`].
    TrialHeartbeat {
        /// The RUNNING trial.
        trial_id: u64,
        /// The writer's wall-clock time.
        at: Timestamp,
    },
    /// An operation with a safe-to-ignore code (>= 128) that this build does not know. Replay
    /// skips it; it is kept only so tools can count it. Never written.
    Ignorable {
        /// Its code.
        code: u64,
    },
    /// A line of an Optuna journal whose target decodes but whose other fields do not (a
    /// distribution that fails its constructor, a missing field, a bad datetime, ...). Optuna
    /// reads those fields only when it applies the line, so its replay ignores the line when the
    /// target is gone (a deleted study, a missing or finished trial) and raises otherwise; replay
    /// does the same ([`crate::replay::ReplayState::replay_batch`]). Only the Optuna decoder
    /// makes it; it is never written.
    Unreplayable {
        /// Its code (2..=9).
        code: u64,
        /// The study or trial it names.
        target: Target,
        /// Why its fields do not decode.
        reason: String,
    },
}

/// What an operation names: a study or a trial.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    /// A study id.
    Study(u64),
    /// A trial id.
    Trial(u64),
}

impl Operation {
    /// Whether the operation holds a value that format version 1 cannot encode (an integer
    /// outside 64 bits, as an attribute value, a categorical choice or an intermediate step; a
    /// legacy distribution class), so trialog's format writes it wrapped in an
    /// extended operation ([`EXTENDED_CODE`]).
    pub fn needs_extension(&self) -> bool {
        fn dist(d: &Distribution) -> bool {
            d.is_legacy()
                || matches!(d, Distribution::Categorical(c)
                    if c.choices().iter().any(|v| matches!(v, ParamValue::BigInt(_))))
        }
        match self {
            Operation::SetStudyUserAttr { value, .. }
            | Operation::SetStudySystemAttr { value, .. }
            | Operation::SetTrialUserAttr { value, .. }
            | Operation::SetTrialSystemAttr { value, .. } => value.needs_extension(),
            Operation::SetTrialParam { distribution, .. } => dist(distribution),
            Operation::SetTrialIntermediateValue { step, .. } => matches!(step, Integer::Big(_)),
            Operation::CreateTrial { template: Some(t), .. } => {
                t.params.values().any(|(_, d)| dist(d))
                    || t.intermediate_values.keys().any(|s| matches!(s, Integer::Big(_)))
                    || t.user_attrs
                        .values()
                        .chain(t.system_attrs.values())
                        .any(AttrValue::needs_extension)
            }
            _ => false,
        }
    }

    /// Whether the operation is a read-side placeholder that is never written
    /// ([`Operation::Ignorable`], [`Operation::Unreplayable`]).
    pub fn is_placeholder(&self) -> bool {
        matches!(self, Operation::Ignorable { .. } | Operation::Unreplayable { .. })
    }

    /// This operation's numeric code.
    pub fn code(&self) -> u64 {
        let code = match self {
            Operation::CreateStudy { .. } => OpCode::CreateStudy,
            Operation::DeleteStudy { .. } => OpCode::DeleteStudy,
            Operation::SetStudyUserAttr { .. } => OpCode::SetStudyUserAttr,
            Operation::SetStudySystemAttr { .. } => OpCode::SetStudySystemAttr,
            Operation::CreateTrial { .. } => OpCode::CreateTrial,
            Operation::SetTrialParam { .. } => OpCode::SetTrialParam,
            Operation::SetTrialStateValues { .. } => OpCode::SetTrialStateValues,
            Operation::SetTrialIntermediateValue { .. } => OpCode::SetTrialIntermediateValue,
            Operation::SetTrialUserAttr { .. } => OpCode::SetTrialUserAttr,
            Operation::SetTrialSystemAttr { .. } => OpCode::SetTrialSystemAttr,
            Operation::DiscardTrials { .. } => OpCode::DiscardTrials,
            Operation::TrialHeartbeat { .. } => OpCode::TrialHeartbeat,
            Operation::Ignorable { code } | Operation::Unreplayable { code, .. } => return *code,
        };
        code as u64
    }
}

/// What one append writes: one or more operations issued by one worker, applied all or nothing.
///
/// Every operation of the batch carries the batch's worker id. A worker is one storage handle in
/// one thread of one process; its id is `<uuid>-<thread>` as in Optuna.
#[derive(Debug, Clone, PartialEq)]
pub struct LogBatch {
    /// The worker that issued every operation of the batch.
    pub worker_id: String,
    /// The operations, in order.
    pub ops: Vec<Operation>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_index_and_names_agree_with_all() {
        for (i, code) in OpCode::ALL.iter().enumerate() {
            assert_eq!(code.index(), i);
            assert_eq!(OpCode::from_u64(*code as u64), Some(*code));
            assert_eq!(OpCode::is_ignorable(*code as u64), *code == OpCode::TrialHeartbeat);
            assert_eq!(code.is_optuna(), *code != OpCode::TrialHeartbeat);
        }
        for unknown in [11, 127, 129, 255, u64::MAX] {
            assert_eq!(OpCode::from_u64(unknown), None);
        }
        let names: std::collections::BTreeSet<_> = OpCode::ALL.iter().map(|c| c.name()).collect();
        assert_eq!(names.len(), OpCode::ALL.len());
    }
}
