//! Optuna's gRPC storage protocol (`optuna.StorageService`, feature `grpc`): the generated
//! messages and the conversions between them and trialog's model, shared by the server
//! ([`server`]) and the client ([`crate::remote`]).
//!
//! The wire's conventions are Optuna 5.0's (its `servicer.py` and `client.py`): directions
//! MINIMIZE=0 / MAXIMIZE=1; attribute values as JSON text (Python's `json.dumps`, bare `NaN`);
//! parameters in internal representation beside their distribution's JSON; datetimes as
//! `%Y-%m-%d %H:%M:%S.%f` in the server's local time, `""` for none.

pub mod server;
pub mod wire_cache;

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use crate::error::{Error, Result};
use crate::journal::optuna_codec::{
    attr_from_json, attr_to_json, distribution_from_json, distribution_to_json, parse_time,
};
use crate::model::{
    AttrValue, FrozenStudy, FrozenTrial, Integer, StudyDirection, Timestamp, TrialState,
};

/// The messages and service stubs generated from `proto/optuna_api.proto`.
#[allow(missing_docs, clippy::all, clippy::pedantic)]
pub mod proto {
    tonic::include_proto!("optuna");
}

/// The wire value of a direction (anything but MINIMIZE is MAXIMIZE, as Optuna's servicer says).
pub fn direction_to_proto(d: StudyDirection) -> i32 {
    match d {
        StudyDirection::Minimize => proto::StudyDirection::Minimize as i32,
        _ => proto::StudyDirection::Maximize as i32,
    }
}

/// The direction of a wire value (anything but MINIMIZE is MAXIMIZE, as Optuna's servicer reads it).
pub fn direction_from_proto(d: i32) -> StudyDirection {
    if d == proto::StudyDirection::Minimize as i32 {
        StudyDirection::Minimize
    } else {
        StudyDirection::Maximize
    }
}

/// The wire value of a trial state.
pub fn state_to_proto(s: TrialState) -> i32 {
    (match s {
        TrialState::Running => proto::TrialState::Running,
        TrialState::Complete => proto::TrialState::Complete,
        TrialState::Pruned => proto::TrialState::Pruned,
        TrialState::Fail => proto::TrialState::Fail,
        TrialState::Waiting => proto::TrialState::Waiting,
    }) as i32
}

/// The trial state of a wire value (`InvalidArgument` for an unknown one).
pub fn state_from_proto(s: i32) -> Result<TrialState> {
    Ok(match proto::TrialState::try_from(s) {
        Ok(proto::TrialState::Running) => TrialState::Running,
        Ok(proto::TrialState::Complete) => TrialState::Complete,
        Ok(proto::TrialState::Pruned) => TrialState::Pruned,
        Ok(proto::TrialState::Fail) => TrialState::Fail,
        Ok(proto::TrialState::Waiting) => TrialState::Waiting,
        Err(_) => return Err(Error::invalid(format_args!("unknown trial state {s}"))),
    })
}

/// An attribute's wire form (Python's `json.dumps`).
pub fn attr_to_wire(v: &AttrValue) -> String {
    attr_to_json(v)
}

/// An attribute from its wire form (`InvalidArgument` naming the key if it is not JSON).
pub fn attr_from_wire(key: &str, text: &str) -> Result<AttrValue> {
    attr_from_json(text)
        .map_err(|e| Error::invalid(format_args!("attribute {key:?}: {e} in {:.80?}", text)))
}

/// Attributes from their wire form.
pub fn attrs_from_wire<'a>(
    pairs: impl IntoIterator<Item = (&'a String, &'a String)>,
) -> Result<Vec<(String, AttrValue)>> {
    pairs.into_iter().map(|(k, v)| Ok((k.clone(), attr_from_wire(k, v)?))).collect()
}

/// A datetime as Optuna's protocol writes it: `%Y-%m-%d %H:%M:%S.%f` in local time.
pub fn time_to_wire(t: Option<Timestamp>) -> String {
    static LOCAL: std::sync::OnceLock<jiff::tz::TimeZone> = std::sync::OnceLock::new();
    let Some(t) = t else { return String::new() };
    let Ok(instant) = jiff::Timestamp::from_microsecond(t.as_micros()) else {
        return String::new();
    };
    let dt = LOCAL.get_or_init(jiff::tz::TimeZone::system).to_datetime(instant);
    format!(
        "{:04}-{:02}-{:02} {:02}:{:02}:{:02}.{:06}",
        dt.year(),
        dt.month(),
        dt.day(),
        dt.hour(),
        dt.minute(),
        dt.second(),
        dt.subsec_nanosecond() / 1000
    )
}

/// A datetime from Optuna's protocol (`""` is none; local time, as Python reads it).
pub fn time_from_wire(what: &str, s: &str) -> Result<Option<Timestamp>> {
    if s.is_empty() {
        return Ok(None);
    }
    parse_time(s)
        .map(Some)
        .ok_or_else(|| Error::invalid(format_args!("{what} is not a datetime: {s:.40?}")))
}

/// A study on the wire.
pub fn study_to_proto(s: &FrozenStudy) -> proto::Study {
    proto::Study {
        study_id: s.study_id as i64,
        study_name: s.study_name.clone(),
        directions: s.directions.iter().map(|d| direction_to_proto(*d)).collect(),
        user_attributes: s.user_attrs.iter().map(|(k, v)| (k.clone(), attr_to_wire(v))).collect(),
        system_attributes: s
            .system_attrs
            .iter()
            .map(|(k, v)| (k.clone(), attr_to_wire(v)))
            .collect(),
    }
}

/// A study from the wire.
pub fn study_from_proto(s: &proto::Study) -> Result<FrozenStudy> {
    Ok(FrozenStudy {
        study_id: id(s.study_id, "study")?,
        study_name: s.study_name.clone(),
        directions: s.directions.iter().map(|d| direction_from_proto(*d)).collect(),
        user_attrs: attrs_from_wire(&s.user_attributes)?.into_iter().collect::<BTreeMap<_, _>>(),
        system_attrs: attrs_from_wire(&s.system_attributes)?.into_iter().collect(),
    })
}

/// A trial on the wire (parameters in internal representation). `InvalidArgument` naming the
/// trial for an intermediate step outside the 64-bit range, which Optuna's protocol (`int64`
/// steps) cannot carry (Optuna's own server fails such a trial too).
pub fn trial_to_proto(t: &FrozenTrial) -> Result<proto::Trial> {
    let mut intermediate_values = HashMap::with_capacity(t.intermediate_values.len());
    for (step, v) in &t.intermediate_values {
        let Some(step) = step.as_i64() else {
            return Err(Error::invalid(format_args!(
                "trial {} has the intermediate step {step}, outside the 64-bit range of Optuna's \
                 gRPC protocol",
                t.trial_id
            )));
        };
        intermediate_values.insert(step, *v);
    }
    let mut params = HashMap::with_capacity(t.params.len());
    for (name, value) in &t.params {
        if let Some(internal) = t.distributions.get(name).and_then(|d| d.to_internal(value).ok()) {
            params.insert(name.to_string(), internal);
        }
    }
    Ok(proto::Trial {
        trial_id: t.trial_id as i64,
        number: t.number as i64,
        state: state_to_proto(t.state),
        values: t.values.as_ref().map(|v| v.to_vec()).unwrap_or_default(),
        datetime_start: time_to_wire(t.datetime_start),
        datetime_complete: time_to_wire(t.datetime_complete),
        params,
        distributions: t
            .distributions
            .iter()
            .map(|(k, d)| (k.to_string(), distribution_to_json(d)))
            .collect(),
        user_attributes: t.user_attrs.iter().map(|(k, v)| (k.clone(), attr_to_wire(v))).collect(),
        system_attributes: t
            .system_attrs
            .iter()
            .map(|(k, v)| (k.clone(), attr_to_wire(v)))
            .collect(),
        intermediate_values,
    })
}

/// A trial of study `study_id` from the wire. `InvalidArgument` (naming the field) for a
/// distribution, attribute, datetime or state that does not parse, or a parameter without its
/// distribution or outside it.
pub fn trial_from_proto(study_id: u64, t: &proto::Trial) -> Result<FrozenTrial> {
    // A template's id and number mean nothing (Optuna sends -1 for both).
    let mut trial = FrozenTrial::new(
        u64::try_from(t.trial_id).unwrap_or(0),
        u64::try_from(t.number).unwrap_or(0),
        study_id,
        state_from_proto(t.state)?,
    );
    trial.values = (!t.values.is_empty()).then(|| t.values.as_slice().into());
    trial.datetime_start = time_from_wire("datetime_start", &t.datetime_start)?;
    trial.datetime_complete = time_from_wire("datetime_complete", &t.datetime_complete)?;
    let mut names: Vec<&String> = t.distributions.keys().collect();
    names.sort();
    for name in names {
        let text = &t.distributions[name];
        let dist = distribution_from_json(text)
            .map_err(|e| Error::invalid(format_args!("distribution of {name:?}: {e}")))?;
        let name: Arc<str> = Arc::from(name.as_str());
        if let Some(internal) = t.params.get(&*name) {
            let value = dist.to_external(*internal).ok_or_else(|| {
                Error::invalid(format_args!(
                    "parameter {name:?}: {internal} is not in its distribution"
                ))
            })?;
            trial.params.insert(Arc::clone(&name), value);
        }
        trial.distributions.insert(name, Arc::new(dist));
    }
    if let Some(name) = t.params.keys().find(|k| !t.distributions.contains_key(*k)) {
        return Err(Error::invalid(format_args!("parameter {name:?} has no distribution")));
    }
    let sorted = |m: &HashMap<String, String>| -> Result<Vec<(String, AttrValue)>> {
        let mut v = attrs_from_wire(m)?;
        v.sort_by(|a, b| a.0.cmp(&b.0));
        Ok(v)
    };
    trial.user_attrs = sorted(&t.user_attributes)?.into_iter().collect();
    trial.system_attrs = sorted(&t.system_attributes)?.into_iter().collect();
    trial.intermediate_values =
        t.intermediate_values.iter().map(|(k, v)| (Integer::Small(*k), *v)).collect();
    Ok(trial)
}

/// A non-negative id from the wire.
pub fn id(v: i64, what: &str) -> Result<u64> {
    u64::try_from(v).map_err(|_| Error::invalid(format_args!("{what} id {v} is negative")))
}
