//! One [`Operation`] <-> one line of Optuna's JSON-lines journal (`JournalFileBackend`), field
//! for field as Optuna 5.0's `optuna/storages/journal/_storage.py` writes and reads them.
//!
//! A line is a JSON object `{"op_code":N,"worker_id":"...",<fields>}` written by
//! `json.dumps(log, separators=(",", ":"))`: keys in Optuna's order, non-ASCII escaped
//! (`ensure_ascii`), floats as Python's `repr`, `NaN`/`Infinity`/`-Infinity` bare. Directions and
//! states are Optuna's integer codes; datetimes ISO-8601 with microseconds and offset
//! (`2026-11-22T16:40:01.123456+00:00`); distributions are *strings* holding
//! `distribution_to_json`'s JSON; parameters are in internal representation (a categorical
//! index as an integer, other values as floats).
//!
//! | op_code | fields after `worker_id` |
//! |---|---|
//! | 0 create study | `study_name`, `directions` |
//! | 1 delete study | `study_id` |
//! | 2 / 3 study user / system attr | `study_id`, `user_attr` / `system_attr`: `{key: value}` |
//! | 4 create trial | `study_id`, `datetime_start`; from a template also `state`, `value`, `values`, (`datetime_complete` if set), `distributions`, `params`, `user_attrs`, `system_attrs`, `intermediate_values` |
//! | 5 set param | `trial_id`, `param_name`, `param_value_internal`, `distribution` |
//! | 6 state/values | `trial_id`, `state`, `values`, then `datetime_start` (RUNNING) or `datetime_complete` (finished) |
//! | 7 intermediate | `trial_id`, `step`, `intermediate_value` |
//! | 8 / 9 trial user / system attr | `trial_id`, `user_attr` / `system_attr`: `{key: value}` |
//! | 10 discard trials | Rustuna's; Optuna ignores it. Written with `trial_ids` |
//!
//! Reading is as lenient as Optuna: every class `json_to_distribution` builds (the legacy
//! `UniformDistribution`, ... stay themselves) and the abbreviated `{"type": ...}` JSON are
//! accepted, integers of any size are kept, ids and op codes compare as Python compares them,
//! datetimes are read as Optuna reads them, through the local wall clock ([`parse_time`]),
//! integral numbers are accepted where floats are expected. Operations Optuna cannot express (trialog's
//! extension codes, >= 11) are never written: [`encode_line`] refuses them.

use std::borrow::Cow;
use std::collections::BTreeMap;

use super::json::{self, Items, JsonStr, JsonValue, Kind, Members, Value};
use super::{OpCode, Operation, Target, TrialTemplate};
use crate::model::{
    AttrValue, Distribution, FloatClass, FloatDistribution, IntClass, IntDistribution, Integer,
    ListMap, MAX_ATTR_DEPTH, ParamValue, StudyDirection, Timestamp, TrialState,
};

/// Why a line does not decode.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum LineError {
    /// Not a valid Optuna journal line (bad JSON, a missing or mistyped field, ...).
    #[error("{0}")]
    Malformed(String),
    /// A well-formed line with an operation code this build must understand but does not know
    /// (11..=127; codes >= 128 decode as [`Operation::Ignorable`]).
    #[error("unknown operation code {0}")]
    UnknownOperation(u64),
}

/// The id a line's study or trial id reads as when no study or trial can have it.
const NO_ID: u64 = u64::MAX;

fn bad(what: impl Into<String>) -> LineError {
    LineError::Malformed(what.into())
}

/// Whether Optuna's JSON-lines format can hold `op` (its code is one of Optuna's 0..=10).
/// Operations added to [`Operation`] later (heartbeats, ...) get codes >= 128 and are not.
pub fn is_optuna_op(op: &Operation) -> bool {
    op.code() <= OpCode::DiscardTrials as u64
}

// ---- decoding ---------------------------------------------------------------------------

/// Decodes one line (without its line ending) into its worker id and operation (a
/// [`LineDecoder`] of its own; readers of many lines keep one).
pub fn decode_line(line: &[u8]) -> Result<(String, Operation), LineError> {
    LineDecoder::new().decode(line).map(|(worker_id, op)| (worker_id.into_owned(), op))
}

/// Most distinct distribution texts a [`LineDecoder`] remembers (it forgets them all when full).
const DISTRIBUTION_CACHE: usize = 64;

/// Decodes lines one after another, reusing one [`json::Parser`]'s buffers, and remembering the
/// distributions it has read by their text as written: a journal repeats the same few
/// distribution texts on every parameter line, and decoding one is a JSON parse of its own.
/// What a line decodes to never depends on the lines decoded before it.
#[derive(Debug, Default)]
pub struct LineDecoder {
    parser: json::Parser,
    distributions: Distributions,
}

/// The distributions a decoder has read, by their text as written (a few, looked up by
/// comparing texts, the last one found first).
#[derive(Debug, Default)]
struct Distributions {
    seen: Vec<(String, Distribution)>,
    last: usize,
}

impl Distributions {
    /// The distribution a `"distribution"` string holds ([`distribution_from_json`]), decoded
    /// once per distinct text.
    fn get(&mut self, s: JsonStr<'_>) -> Result<Distribution, LineError> {
        let raw = s.raw();
        if let Some((_, d)) = self.seen.get(self.last).filter(|(text, _)| text == raw) {
            return Ok(d.clone());
        }
        if let Some(i) = self.seen.iter().position(|(text, _)| text == raw) {
            self.last = i;
            return Ok(self.seen[i].1.clone());
        }
        let d = match s.decode() {
            Ok(text) => distribution_from_json(&text)?,
            Err(u) => distribution_from_json(&u.to_string_lossy())?,
        };
        if self.seen.len() >= DISTRIBUTION_CACHE {
            self.seen.clear();
        }
        self.last = self.seen.len();
        self.seen.push((raw.to_owned(), d.clone()));
        Ok(d)
    }
}

impl LineDecoder {
    /// A decoder with empty buffers.
    pub fn new() -> Self {
        Self::default()
    }

    /// Decodes one line (without its line ending) into its worker id (borrowed from the line
    /// where it has no escapes) and operation.
    pub fn decode<'l>(&mut self, line: &'l [u8]) -> Result<(Cow<'l, str>, Operation), LineError> {
        let LineDecoder { parser, distributions } = self;
        let root = parser.parse(line).map_err(LineError::Malformed)?;
        let f = Fields::read(root).ok_or_else(|| bad("a journal line must be a JSON object"))?;
        // Python compares `op_code` with its IntEnum: `5.0` and `true` are codes too. Any
        // integer from 128 on, however large, is a safe-to-ignore code.
        let code = match f.opt(Key::OpCode).map(|v| v.kind()) {
            Some(Kind::Int(c)) if c >= 0 => c as u64,
            Some(Kind::BigInt(c)) if !c.starts_with('-') => u64::MAX,
            Some(Kind::Float(x)) if x.fract() == 0.0 && x >= 0.0 => {
                if x < 18_446_744_073_709_551_616.0 { x as u64 } else { u64::MAX }
            }
            Some(Kind::Bool(b)) => u64::from(b),
            Some(_) => return Err(bad("\"op_code\" is not a non-negative integer")),
            None => return Err(bad("missing \"op_code\"")),
        };
        let worker_id = match f.opt(Key::WorkerId).and_then(|v| v.as_str()) {
            Some(s) => s.to_text(),
            None => return Err(bad("missing or non-string \"worker_id\"")),
        };
        let Some(op) = OpCode::from_u64(code) else {
            if OpCode::is_ignorable(code) {
                return Ok((worker_id, Operation::Ignorable { code }));
            }
            return Err(LineError::UnknownOperation(code));
        };
        // Optuna reads a line's target first and its other fields only when it applies the
        // line: a line whose fields do not decode is ignored when its target is gone and raises
        // otherwise, which replay decides (`Operation::Unreplayable`).
        let target = match op {
            OpCode::SetStudyUserAttr | OpCode::SetStudySystemAttr | OpCode::CreateTrial => {
                Some(Target::Study(f.id(Key::StudyId)?))
            }
            OpCode::SetTrialParam
            | OpCode::SetTrialStateValues
            | OpCode::SetTrialIntermediateValue
            | OpCode::SetTrialUserAttr
            | OpCode::SetTrialSystemAttr => Some(Target::Trial(f.id(Key::TrialId)?)),
            _ => None,
        };
        match (decode_body(op, code, &f, distributions), target) {
            (Ok(op), _) => Ok((worker_id, op)),
            (Err(LineError::Malformed(reason)), Some(target)) => {
                Ok((worker_id, Operation::Unreplayable { code, target, reason }))
            }
            (Err(e), _) => Err(e),
        }
    }
}

/// The value Python's `IntEnum(value)` looks up: a non-negative integer, an integral float, or a
/// boolean (all hash and compare as the integer).
fn enum_code(v: Value<'_, '_>) -> Option<u64> {
    match v.kind() {
        Kind::Int(i) => u64::try_from(i).ok(),
        Kind::Float(x) if x.fract() == 0.0 && (0.0..1e6).contains(&x) => Some(x as u64),
        Kind::Bool(b) => Some(u64::from(b)),
        _ => None,
    }
}

/// The operation of a line, all fields read.
fn decode_body(
    op: OpCode,
    code: u64,
    f: &Fields<'_, '_>,
    distributions: &mut Distributions,
) -> Result<Operation, LineError> {
    Ok(match op {
        // trialog never writes extension operations into an Optuna file (Optuna would stop at
        // them); one written by someone else is skipped like any other safe-to-ignore code.
        OpCode::TrialHeartbeat => Operation::Ignorable { code },
        OpCode::CreateStudy => Operation::CreateStudy {
            study_name: f.string(Key::StudyName)?,
            directions: f
                .array(Key::Directions)?
                .map(|d| {
                    enum_code(d)
                        .and_then(StudyDirection::from_code)
                        .ok_or_else(|| bad("\"directions\" holds an unknown direction"))
                })
                .collect::<Result<_, _>>()?,
        },
        OpCode::DeleteStudy => Operation::DeleteStudy { study_id: f.id(Key::StudyId)? },
        OpCode::SetStudyUserAttr => {
            let (key, value) = f.single_attr(Key::UserAttr)?;
            Operation::SetStudyUserAttr { study_id: f.id(Key::StudyId)?, key, value }
        }
        OpCode::SetStudySystemAttr => {
            let (key, value) = f.single_attr(Key::SystemAttr)?;
            Operation::SetStudySystemAttr { study_id: f.id(Key::StudyId)?, key, value }
        }
        OpCode::CreateTrial => decode_create_trial(f, distributions)?,
        OpCode::SetTrialParam => Operation::SetTrialParam {
            trial_id: f.id(Key::TrialId)?,
            name: f.string(Key::ParamName)?,
            internal: f.float(Key::ParamValueInternal)?,
            distribution: match f.get(Key::Distribution)?.as_str() {
                Some(s) => distributions.get(s)?,
                None => return Err(bad("\"distribution\" is not a string")),
            },
        },
        OpCode::SetTrialStateValues => {
            let state = f.state(Key::State)?;
            let datetime = if state == TrialState::Running {
                Some(f.time(Key::DatetimeStart)?.ok_or_else(|| bad("null \"datetime_start\""))?)
            } else if state.is_finished() {
                Some(
                    f.time(Key::DatetimeComplete)?
                        .ok_or_else(|| bad("null \"datetime_complete\""))?,
                )
            } else {
                None
            };
            Operation::SetTrialStateValues {
                trial_id: f.id(Key::TrialId)?,
                state,
                values: f.floats_or_null(Key::Values)?,
                datetime,
            }
        }
        OpCode::SetTrialIntermediateValue => Operation::SetTrialIntermediateValue {
            trial_id: f.id(Key::TrialId)?,
            step: f.integer(Key::Step)?,
            value: f.float(Key::IntermediateValue)?,
        },
        OpCode::SetTrialUserAttr => {
            let (key, value) = f.single_attr(Key::UserAttr)?;
            Operation::SetTrialUserAttr { trial_id: f.id(Key::TrialId)?, key, value }
        }
        OpCode::SetTrialSystemAttr => {
            let (key, value) = f.single_attr(Key::SystemAttr)?;
            Operation::SetTrialSystemAttr { trial_id: f.id(Key::TrialId)?, key, value }
        }
        // Optuna skips op 10 without reading its fields: so do we, beyond a best effort.
        OpCode::DiscardTrials => Operation::DiscardTrials {
            trial_ids: match f.opt(Key::TrialIds).and_then(|v| v.items()) {
                Some(ids) => ids
                    .filter_map(|i| match i.kind() {
                        Kind::Int(i) if i >= 0 => Some(i as u64),
                        _ => None,
                    })
                    .collect(),
                None => Vec::new(),
            },
        },
    })
}

fn decode_create_trial(
    f: &Fields<'_, '_>,
    cache: &mut Distributions,
) -> Result<Operation, LineError> {
    let study_id = f.id(Key::StudyId)?;
    let datetime_start = f.time(Key::DatetimeStart)?;
    const TEMPLATE_KEYS: [Key; 9] = [
        Key::State,
        Key::Value,
        Key::Values,
        Key::DatetimeComplete,
        Key::Distributions,
        Key::Params,
        Key::UserAttrs,
        Key::SystemAttrs,
        Key::IntermediateValues,
    ];
    if !TEMPLATE_KEYS.iter().any(|k| f.opt(*k).is_some()) {
        return Ok(Operation::CreateTrial { study_id, datetime_start, template: None });
    }
    let state = match f.opt(Key::State) {
        None => TrialState::Running,
        Some(_) => f.state(Key::State)?,
    };
    // Optuna's FrozenTrial(value=..., values=...): at most one of them is set.
    let value = match f.opt(Key::Value) {
        None => None,
        Some(v) if v.is_null() => None,
        Some(_) => Some(f.float(Key::Value)?),
    };
    let values = match f.opt(Key::Values) {
        None => None,
        Some(_) => f.floats_or_null(Key::Values)?,
    };
    let values = match (value, values) {
        (Some(_), Some(_)) => return Err(bad("both \"value\" and \"values\" are set")),
        (Some(v), None) => Some(vec![v]),
        (None, values) => values,
    };
    // Optuna parses the key whenever it is there: a null raises (its writer leaves the key out).
    let datetime_complete = match f.opt(Key::DatetimeComplete) {
        None => None,
        Some(_) => {
            Some(f.time(Key::DatetimeComplete)?.ok_or_else(|| bad("null \"datetime_complete\""))?)
        }
    };
    let mut distributions = BTreeMap::new();
    for (name, d) in f.object_or_empty(Key::Distributions)? {
        let name = name.to_text();
        let Some(s) = d.as_str() else {
            return Err(bad(format!("distribution of {name:?} is not a string")));
        };
        distributions.insert(name.into_owned(), cache.get(s)?);
    }
    // In the object's order: Optuna's trial shows its parameters in the order of "params".
    let mut params = ListMap::new();
    for (name, p) in f.object_or_empty(Key::Params)? {
        let name = name.to_text();
        let internal =
            p.as_f64().ok_or_else(|| bad(format!("parameter {name:?} is not a number")))?;
        let dist = distributions
            .get(name.as_ref())
            .ok_or_else(|| bad(format!("parameter {name:?} has no distribution")))?;
        params.insert(name.into_owned(), (internal, dist.clone()));
    }
    let attrs = |key: Key| -> Result<BTreeMap<String, AttrValue>, LineError> {
        f.object_or_empty(key)?.map(|(k, v)| Ok((k.to_text().into_owned(), attr(v)?))).collect()
    };
    let mut intermediate_values = BTreeMap::new();
    for (step, v) in f.object_or_empty(Key::IntermediateValues)? {
        // Optuna's replay takes `int(key)`.
        let text = step.to_text();
        let trimmed = text.trim();
        let step = match trimmed.parse::<i64>() {
            Ok(v) => Integer::Small(v),
            Err(_) => Integer::parse(trimmed.strip_prefix('+').unwrap_or(trimmed))
                .ok_or_else(|| bad(format!("intermediate step {text:?}")))?,
        };
        let v = v.as_f64().ok_or_else(|| bad(format!("intermediate value of step {step}")))?;
        intermediate_values.insert(step, v);
    }
    Ok(Operation::CreateTrial {
        study_id,
        datetime_start,
        template: Some(Box::new(TrialTemplate {
            state,
            values,
            datetime_complete,
            params,
            user_attrs: attrs(Key::UserAttrs)?,
            system_attrs: attrs(Key::SystemAttrs)?,
            intermediate_values,
        })),
    })
}

/// The keys of a journal line that any operation reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Key {
    OpCode,
    WorkerId,
    StudyName,
    Directions,
    StudyId,
    UserAttr,
    SystemAttr,
    DatetimeStart,
    State,
    Value,
    Values,
    DatetimeComplete,
    Distributions,
    Params,
    UserAttrs,
    SystemAttrs,
    IntermediateValues,
    TrialId,
    ParamName,
    ParamValueInternal,
    Distribution,
    Step,
    IntermediateValue,
    TrialIds,
}

/// Each [`Key`]'s text, in the enum's order.
const KEY_NAMES: [&str; 24] = [
    "op_code",
    "worker_id",
    "study_name",
    "directions",
    "study_id",
    "user_attr",
    "system_attr",
    "datetime_start",
    "state",
    "value",
    "values",
    "datetime_complete",
    "distributions",
    "params",
    "user_attrs",
    "system_attrs",
    "intermediate_values",
    "trial_id",
    "param_name",
    "param_value_internal",
    "distribution",
    "step",
    "intermediate_value",
    "trial_ids",
];

impl Key {
    fn name(self) -> &'static str {
        KEY_NAMES[self as usize]
    }

    /// The slot of a key's text, if it is one of the [`Key`]s.
    fn slot(text: &str) -> Option<usize> {
        Some(match text {
            "op_code" => 0,
            "worker_id" => 1,
            "study_name" => 2,
            "directions" => 3,
            "study_id" => 4,
            "user_attr" => 5,
            "system_attr" => 6,
            "datetime_start" => 7,
            "state" => 8,
            "value" => 9,
            "values" => 10,
            "datetime_complete" => 11,
            "distributions" => 12,
            "params" => 13,
            "user_attrs" => 14,
            "system_attrs" => 15,
            "intermediate_values" => 16,
            "trial_id" => 17,
            "param_name" => 18,
            "param_value_internal" => 19,
            "distribution" => 20,
            "step" => 21,
            "intermediate_value" => 22,
            "trial_ids" => 23,
            _ => return None,
        })
    }
}

/// Typed access to a line's fields, each error naming the field. Read in one pass over the
/// line's object; a repeated key's last value wins, as in a Python `dict`.
struct Fields<'s, 't> {
    slots: [Option<Value<'s, 't>>; KEY_NAMES.len()],
}

impl<'s, 't> Fields<'s, 't> {
    /// The fields of `root`, or `None` if it is not an object.
    fn read(root: Value<'s, 't>) -> Option<Self> {
        let mut slots = [None; KEY_NAMES.len()];
        for (key, value) in root.members()? {
            let slot = match key.plain() {
                Some(text) => Key::slot(text),
                None => Key::slot(&key.to_text()),
            };
            if let Some(slot) = slot {
                slots[slot] = Some(value);
            }
        }
        Some(Fields { slots })
    }

    fn opt(&self, key: Key) -> Option<Value<'s, 't>> {
        self.slots[key as usize]
    }

    fn get(&self, key: Key) -> Result<Value<'s, 't>, LineError> {
        self.opt(key).ok_or_else(|| bad(format!("missing {:?}", key.name())))
    }

    /// A string field; a lone surrogate in it (which only attribute values keep) becomes U+FFFD.
    fn string(&self, key: Key) -> Result<String, LineError> {
        match self.get(key)?.as_str() {
            Some(s) => Ok(s.to_text().into_owned()),
            None => Err(bad(format!("{:?} is not a string", key.name()))),
        }
    }

    /// An integer of any size (Python's): an intermediate step.
    fn integer(&self, key: Key) -> Result<Integer, LineError> {
        match self.get(key)?.kind() {
            Kind::Int(i) => Ok(Integer::Small(i)),
            Kind::BigInt(text) => Integer::parse(text)
                .ok_or_else(|| bad(format!("{:?} is not an integer", key.name()))),
            _ => Err(bad(format!("{:?} is not an integer", key.name()))),
        }
    }

    /// A study or trial id as Python looks it up in a `dict`: an integral float or a boolean
    /// finds the same entry as the integer; any other hashable value (a negative or huge
    /// integer, a string, `null`, ...) finds nothing, which reads as [`NO_ID`], an id no study
    /// or trial ever has, so replay ignores the operation as Optuna's does. Arrays and objects
    /// are unhashable: Optuna raises on them.
    fn id(&self, key: Key) -> Result<u64, LineError> {
        Ok(match self.get(key)?.kind() {
            Kind::Int(i) => u64::try_from(i).unwrap_or(NO_ID),
            Kind::Bool(b) => u64::from(b),
            Kind::Float(x) if x.fract() == 0.0 && (0.0..1.8e19).contains(&x) => x as u64,
            Kind::Array(_) | Kind::Object(_) => {
                return Err(bad(format!("{:?} is not hashable", key.name())));
            }
            _ => NO_ID,
        })
    }

    fn float(&self, key: Key) -> Result<f64, LineError> {
        self.get(key)?.as_f64().ok_or_else(|| bad(format!("{:?} is not a number", key.name())))
    }

    fn array(&self, key: Key) -> Result<Items<'s, 't>, LineError> {
        self.get(key)?.items().ok_or_else(|| bad(format!("{:?} is not an array", key.name())))
    }

    fn floats_or_null(&self, key: Key) -> Result<Option<Vec<f64>>, LineError> {
        if self.get(key)?.is_null() {
            return Ok(None);
        }
        let floats = self.array(key)?.map(|v| v.as_f64()).collect::<Option<Vec<_>>>();
        floats.map(Some).ok_or_else(|| bad(format!("{:?} holds a non-number", key.name())))
    }

    fn object_or_empty(&self, key: Key) -> Result<Members<'s, 't>, LineError> {
        match self.opt(key) {
            None => Ok(Members::default()),
            Some(v) => v.members().ok_or_else(|| bad(format!("{:?} is not an object", key.name()))),
        }
    }

    /// `TrialState(value)`: Python's enum lookup by value, which `1.0` and `true` pass too.
    fn state(&self, key: Key) -> Result<TrialState, LineError> {
        enum_code(self.get(key)?)
            .and_then(TrialState::from_code)
            .ok_or_else(|| bad(format!("{:?} holds no trial state", key.name())))
    }

    fn time(&self, key: Key) -> Result<Option<Timestamp>, LineError> {
        let v = self.get(key)?;
        if v.is_null() {
            return Ok(None);
        }
        match v.as_str().map(|s| s.decode()) {
            Some(Ok(s)) => parse_time(&s)
                .map(Some)
                .ok_or_else(|| bad(format!("{:?} is not an ISO-8601 datetime: {s:?}", key.name()))),
            _ => Err(bad(format!("{:?} is not a string", key.name()))),
        }
    }

    /// `{"key": value}` with exactly one entry (Optuna asserts this).
    fn single_attr(&self, key: Key) -> Result<(String, AttrValue), LineError> {
        let mut members = self.get(key)?.members().filter(|m| m.len() == 1);
        match members.as_mut().and_then(Iterator::next) {
            Some((k, v)) => Ok((k.to_text().into_owned(), attr(v)?)),
            None => Err(bad(format!("{:?} is not an object with exactly one entry", key.name()))),
        }
    }
}

fn attr(v: Value<'_, '_>) -> Result<AttrValue, LineError> {
    // Plain loops, not iterator adapters: each level of a deep value costs one small frame.
    fn convert(v: Value<'_, '_>, depth: usize) -> Result<AttrValue, LineError> {
        if depth > MAX_ATTR_DEPTH {
            return Err(bad(format!("attribute nested deeper than {MAX_ATTR_DEPTH} levels")));
        }
        Ok(match v.kind() {
            Kind::Null => AttrValue::Null,
            Kind::Bool(b) => AttrValue::Bool(b),
            Kind::Int(i) => AttrValue::Int(i),
            Kind::BigInt(text) => match Integer::parse(text) {
                Some(i) => AttrValue::from(i),
                None => return Err(bad("bad integer")), // unreachable: the parser checked it
            },
            Kind::Float(x) => AttrValue::Float(x),
            Kind::Str(s) => match s.decode() {
                Ok(s) => AttrValue::String(s.into_owned()),
                Err(u) => AttrValue::Utf16(u),
            },
            Kind::Array(items) => {
                let mut out = Vec::with_capacity(items.len());
                for item in items {
                    out.push(convert(item, depth + 1)?);
                }
                AttrValue::Array(out)
            }
            Kind::Object(members) => {
                let mut out = BTreeMap::new();
                for (k, v) in members {
                    out.insert(k.to_text().into_owned(), convert(v, depth + 1)?);
                }
                AttrValue::Map(out)
            }
        })
    }
    convert(v, 1)
}

/// The instant Optuna's replay gives a datetime of the journal, in this process's time zone
/// (`TZ`, else the system's; read once, as Python reads it once).
///
/// Optuna 5.0 reads every datetime as `datetime.fromisoformat(s).astimezone().replace(tzinfo=None)`:
/// a naive local wall-clock time, which everything downstream (its dashboard, `astimezone`,
/// `timestamp()`) turns back into an instant with `fold=0`. So a naive string (written by older
/// Optuna versions) is local time, not UTC, and an aware one goes through the local wall clock
/// too: in a repeated hour (DST ending) both occurrences come back as the earlier one, and a naive
/// time in a skipped hour (DST starting) as the instant the skipped hour maps back to. See
/// [`parse_time_in`] for the grammar.
pub fn parse_time(s: &str) -> Option<Timestamp> {
    static LOCAL: std::sync::OnceLock<jiff::tz::TimeZone> = std::sync::OnceLock::new();
    parse_time_in(s, LOCAL.get_or_init(jiff::tz::TimeZone::system))
}

/// [`parse_time`] in the zone `tz`, for what Python's `datetime.fromisoformat` reads (see
/// `parse_iso`). `None` where Python raises: an invalid date or time, or a result Python's datetime
/// range (years 1 to 9999) cannot hold, checked on the local wall clock and on UTC as Python's
/// `astimezone` does (the first day of year 1 is out of reach either way). Known limit: the
/// time-zone arithmetic (jiff) ends at 9999-12-30T22:00Z, so the last hours of year 9999, which
/// Python reads in some zones, are refused.
pub fn parse_time_in(s: &str, tz: &jiff::tz::TimeZone) -> Option<Timestamp> {
    let (civil, offset) = parse_iso(s)?;
    let in_range = |dt: jiff::civil::DateTime| {
        dt.year() >= 1 && !(dt.year() == 1 && dt.month() == 1 && dt.day() == 1)
    };
    let instant = match offset {
        Some(micros) => {
            let utc = jiff::tz::Offset::UTC.to_timestamp(civil).ok()?;
            let instant = utc.checked_sub(jiff::SignedDuration::from_micros(micros)).ok()?;
            if !in_range(jiff::tz::TimeZone::UTC.to_datetime(instant)) {
                return None;
            }
            instant
        }
        None => {
            if !in_range(civil) {
                return None;
            }
            tz.to_ambiguous_timestamp(civil).earlier().ok()?
        }
    };
    let wall = tz.to_datetime(instant);
    if !in_range(wall) {
        return None;
    }
    let back = tz.to_ambiguous_timestamp(wall).earlier().ok()?;
    Some(Timestamp(back.as_microsecond()))
}

/// What Python 3.11's `datetime.fromisoformat` reads: a date `YYYY-MM-DD`, `YYYYMMDD` or an ISO
/// week date (`YYYY-Www[-D]`, `YYYYWww[D]`), then optionally any one separator character and a time `HH[:MM[:SS]]` or
/// `HH[MM[SS]]` with an optional fraction of seconds (`.` or `,`, one or more digits, beyond
/// microseconds truncated), then optionally `Z` or an offset `±HH[[:]MM[[:]SS[.ffffff]]]`.
/// Returns the validated civil datetime and the offset in microseconds, if any.
fn parse_iso(s: &str) -> Option<(jiff::civil::DateTime, Option<i64>)> {
    parse_iso_written(s.as_bytes()).or_else(|| parse_iso_any(s))
}

/// [`parse_iso`] of any form it reads.
fn parse_iso_any(s: &str) -> Option<(jiff::civil::DateTime, Option<i64>)> {
    let b = s.as_bytes();
    let digits = |from: usize, len: usize| -> Option<i64> {
        let part = b.get(from..from + len)?;
        part.iter().all(u8::is_ascii_digit).then(|| std::str::from_utf8(part).ok()?.parse().ok())?
    };
    let year = i16::try_from(digits(0, 4)?).ok()?;
    let week_date = |w: usize, dash: bool| -> Option<(jiff::civil::Date, usize)> {
        // `Www` then an optional day of the week (`-D` or `D`), Monday when absent.
        let week = digits(w, 2)?;
        let day_at = w + 2 + usize::from(dash);
        let (day, end) = match (b.get(w + 2), digits(day_at, 1)) {
            (Some(b'-'), Some(d)) if dash => (d, day_at + 1),
            (Some(c), Some(d)) if !dash && c.is_ascii_digit() => (d, day_at + 1),
            _ => (1, w + 2),
        };
        let weekday = jiff::civil::Weekday::from_monday_one_offset(day as i8).ok()?;
        Some((jiff::civil::ISOWeekDate::new(year, week as i8, weekday).ok()?.date(), end))
    };
    let (date, mut i) = match (b.get(4), b.get(5), b.get(7)) {
        (Some(b'-'), Some(b'W'), _) => week_date(6, true)?,
        (Some(b'W'), _, _) => week_date(5, false)?,
        (Some(b'-'), _, Some(b'-')) => {
            let (m, d) = (digits(5, 2)?, digits(8, 2)?);
            (jiff::civil::Date::new(year, m as i8, d as i8).ok()?, 10)
        }
        _ => {
            let (m, d) = (digits(4, 2)?, digits(6, 2)?);
            (jiff::civil::Date::new(year, m as i8, d as i8).ok()?, 8)
        }
    };
    if i == s.len() {
        return Some((date.to_datetime(jiff::civil::Time::midnight()), None));
    }
    i += s.get(i..)?.chars().next()?.len_utf8(); // any one separator
    let rest = &s[i..];
    let tz_at = rest.find(['+', '-', 'Z']).unwrap_or(rest.len());
    let (time, tz) = rest.split_at(tz_at);
    let (hms, micros) = split_fraction(time)?;
    let fields = hms_fields(hms)?;
    let (h, mi, sec) = match fields.as_slice() {
        [h] => (*h, 0, 0),
        [h, m] => (*h, *m, 0),
        [h, m, s] => (*h, *m, *s),
        _ => return None,
    };
    let nanos = micros.unwrap_or(0) as i32 * 1000;
    let time = jiff::civil::Time::new(h as i8, mi as i8, sec as i8, nanos).ok()?;
    let offset = match tz {
        "" => None,
        "Z" => Some(0),
        _ => {
            let sign = if tz.starts_with('-') { -1 } else { 1 };
            let (hms, micros) = split_fraction(&tz[1..])?;
            let fields = hms_fields(hms)?;
            if micros.is_some() && fields.len() != 3 {
                return None;
            }
            let (oh, om, os) = match fields.as_slice() {
                [h] => (*h, 0, 0),
                [h, m] => (*h, *m, 0),
                [h, m, s] => (*h, *m, *s),
                _ => return None,
            };
            if oh > 23 || om > 59 || os > 59 {
                return None;
            }
            Some(sign * ((oh * 3600 + om * 60 + os) * 1_000_000 + micros.unwrap_or(0)))
        }
    };
    Some((date.to_datetime(time), offset))
}

/// [`parse_iso`] of the form Optuna writes, `YYYY-MM-DDTHH:MM:SS.ffffff±HH:MM`, in one pass;
/// `None` for any other text, and for one of this form that is not a valid datetime (which
/// [`parse_iso`] then refuses).
fn parse_iso_written(b: &[u8]) -> Option<(jiff::civil::DateTime, Option<i64>)> {
    let [
        y0,
        y1,
        y2,
        y3,
        b'-',
        m0,
        m1,
        b'-',
        d0,
        d1,
        b'T',
        h0,
        h1,
        b':',
        i0,
        i1,
        b':',
        s0,
        s1,
        b'.',
        f @ ..,
        sign @ (b'+' | b'-'),
        oh0,
        oh1,
        b':',
        om0,
        om1,
    ] = b
    else {
        return None;
    };
    let [f0, f1, f2, f3, f4, f5] = f else { return None };
    let mut fields = [0i64; 9];
    for (field, digits) in fields.iter_mut().zip([
        &[*y0, *y1, *y2, *y3][..],
        &[*m0, *m1],
        &[*d0, *d1],
        &[*h0, *h1],
        &[*i0, *i1],
        &[*s0, *s1],
        &[*f0, *f1, *f2, *f3, *f4, *f5],
        &[*oh0, *oh1],
        &[*om0, *om1],
    ]) {
        for &d in digits {
            if !d.is_ascii_digit() {
                return None;
            }
            *field = *field * 10 + i64::from(d - b'0');
        }
    }
    let [year, month, day, hour, minute, second, micros, oh, om] = fields;
    if oh > 23 || om > 59 {
        return None;
    }
    let date = jiff::civil::Date::new(year as i16, month as i8, day as i8).ok()?;
    let time = jiff::civil::Time::new(hour as i8, minute as i8, second as i8, micros as i32 * 1000)
        .ok()?;
    let sign = if *sign == b'-' { -1 } else { 1 };
    Some((date.to_datetime(time), Some(sign * (oh * 3600 + om * 60) * 1_000_000)))
}

/// `text` without its fraction of seconds (`.` or `,` and one or more digits, read as
/// microseconds, digits beyond six dropped), and that fraction.
fn split_fraction(text: &str) -> Option<(&str, Option<i64>)> {
    let Some(at) = text.find(['.', ',']) else {
        return Some((text, None));
    };
    let frac = &text[at + 1..];
    if frac.is_empty() || !frac.bytes().all(|c| c.is_ascii_digit()) {
        return None;
    }
    let six: String = frac.chars().chain(std::iter::repeat('0')).take(6).collect();
    Some((&text[..at], Some(six.parse().ok()?)))
}

/// `HH`, `HH:MM`, `HH:MM:SS`, `HHMM` or `HHMMSS` as its numbers.
fn hms_fields(text: &str) -> Option<Vec<i64>> {
    let parts: Vec<&str> = if text.contains(':') {
        text.split(':').collect()
    } else if text.len() % 2 == 0 {
        (0..text.len()).step_by(2).map(|i| text.get(i..i + 2)).collect::<Option<_>>()?
    } else {
        return None;
    };
    if parts.is_empty() || parts.len() > 3 {
        return None;
    }
    parts
        .iter()
        .map(|p| (p.len() == 2 && p.bytes().all(|c| c.is_ascii_digit())).then(|| p.parse().ok())?)
        .collect()
}

/// Optuna's `json_to_distribution`: `{"name": CLASS, "attributes": {...}}` builds `CLASS(**attributes)`
/// for each of Optuna's eight classes (the five legacy ones stay themselves), and the abbreviated
/// `{"type": "float" | "int" | "categorical", ...}` form builds the modern classes. The
/// constructors' checks and adjustments apply exactly as in Optuna (so a written upper bound
/// that is not on its step grid is moved onto it, as Optuna's replay does); where Optuna raises
/// (an unknown class, a missing or unexpected attribute, a failed check), this is an error.
///
/// Numbers are read as Python would pass them: an integer where a float is expected, an
/// integral or truncated float where an int is expected, `true`/`false` as 1/0. Refused although
/// Python would go on: `log` other than a boolean, a `null` step of `DiscreteUniformDistribution`,
/// choices that are not null, bool, int, float or str, int bounds outside 64 bits.
pub fn distribution_from_json(text: &str) -> Result<Distribution, LineError> {
    let v = json::parse(text.as_bytes())
        .map_err(|e| bad(format!("distribution {text:?} is not JSON: {e}")))?;
    let invalid = |why: &dyn std::fmt::Display| bad(format!("distribution {text:?}: {why}"));
    if !matches!(v, JsonValue::Object(_)) {
        return Err(invalid(&"not a JSON object"));
    }
    if v.get("name").is_some() {
        let Some(JsonValue::Str(name)) = v.get("name") else {
            return Err(invalid(&"unknown distribution class"));
        };
        let Some(JsonValue::Object(attrs)) = v.get("attributes") else {
            return Err(invalid(&"no \"attributes\" object"));
        };
        let (required, optional): (&[&str], &[&str]) = match name.as_str() {
            "FloatDistribution" | "IntDistribution" => (&["low", "high"], &["log", "step"]),
            "UniformDistribution" | "LogUniformDistribution" => (&["low", "high"], &[]),
            "DiscreteUniformDistribution" => (&["low", "high", "q"], &[]),
            "IntUniformDistribution" | "IntLogUniformDistribution" => (&["low", "high"], &["step"]),
            "CategoricalDistribution" => (&["choices"], &[]),
            _ => return Err(invalid(&"unknown distribution class")),
        };
        // Python's `cls(**attributes)`: every required argument, nothing unexpected.
        for (key, _) in attrs {
            if !required.contains(&key.as_str()) && !optional.contains(&key.as_str()) {
                return Err(invalid(&format_args!("unexpected attribute {key:?} for {name}")));
            }
        }
        let arg = |k: &str| v.get("attributes").and_then(|a| a.get(k));
        for key in required {
            if arg(key).is_none() {
                return Err(invalid(&format_args!("missing attribute {key:?}")));
            }
        }
        let made = match name.as_str() {
            "CategoricalDistribution" => categorical(arg("choices")),
            "FloatDistribution" => {
                float(FloatClass::Float, arg("low"), arg("high"), arg("log"), arg("step"))
            }
            "UniformDistribution" => {
                float(FloatClass::Uniform, arg("low"), arg("high"), None, None)
            }
            "LogUniformDistribution" => float(
                FloatClass::LogUniform,
                arg("low"),
                arg("high"),
                Some(&JsonValue::Bool(true)),
                None,
            ),
            "DiscreteUniformDistribution" => {
                float(FloatClass::DiscreteUniform, arg("low"), arg("high"), None, arg("q"))
            }
            "IntDistribution" => {
                int(IntClass::Int, arg("low"), arg("high"), arg("log"), arg("step"))
            }
            "IntUniformDistribution" => {
                int(IntClass::IntUniform, arg("low"), arg("high"), None, arg("step"))
            }
            _ => int(
                IntClass::IntLogUniform,
                arg("low"),
                arg("high"),
                Some(&JsonValue::Bool(true)),
                arg("step"),
            ),
        };
        return made.map_err(|e| invalid(&e));
    }
    let field = |k: &str| v.get(k);
    let made = match field("type") {
        Some(JsonValue::Str(t)) if t == "categorical" => categorical(field("choices")),
        Some(JsonValue::Str(t)) if t == "float" || t == "int" => {
            for key in ["low", "high"] {
                if field(key).is_none() {
                    return Err(invalid(&format_args!("missing {key:?}")));
                }
            }
            // `json_dict.get("step")`: a null step is no step (an int one then defaults to 1).
            let step = field("step").filter(|s| !matches!(s, JsonValue::Null));
            if t == "float" {
                float(FloatClass::Float, field("low"), field("high"), field("log"), step)
            } else {
                int(IntClass::Int, field("low"), field("high"), field("log"), step)
            }
        }
        Some(_) => return Err(invalid(&"unknown distribution type")),
        None => return Err(invalid(&"neither \"name\" nor \"type\"")),
    };
    made.map_err(|e| invalid(&e))
}

/// A number as Python passes it to a constructor (a boolean is 0 or 1).
#[derive(Clone, Copy)]
enum PyNum {
    Int(i64),
    Float(f64),
}

impl PyNum {
    fn of(v: Option<&JsonValue>, key: &str) -> Result<Option<PyNum>, String> {
        Ok(Some(match v {
            None | Some(JsonValue::Null) => return Ok(None),
            Some(JsonValue::Int(i)) => PyNum::Int(*i),
            Some(JsonValue::Bool(b)) => PyNum::Int(i64::from(*b)),
            Some(JsonValue::Float(x)) => PyNum::Float(*x),
            Some(JsonValue::BigInt(b)) => PyNum::Float(b.to_f64()),
            Some(_) => return Err(format!("{key:?} is not a number")),
        }))
    }

    fn f64(self) -> f64 {
        match self {
            PyNum::Int(i) => i as f64,
            PyNum::Float(x) => x,
        }
    }

    /// Python's `int(x)`, within 64 bits.
    fn int(self, key: &str) -> Result<i64, String> {
        match self {
            PyNum::Int(i) => Ok(i),
            PyNum::Float(x) => match Integer::from_f64_trunc(x) {
                Some(Integer::Small(i)) => Ok(i),
                _ => Err(format!("{key:?} is not an integer within 64 bits")),
            },
        }
    }
}

fn flag(v: Option<&JsonValue>) -> Result<bool, String> {
    match v {
        None => Ok(false),
        Some(JsonValue::Bool(b)) => Ok(*b),
        Some(_) => Err("\"log\" is not a boolean".to_owned()),
    }
}

fn required(v: Option<PyNum>, key: &str) -> Result<PyNum, String> {
    v.ok_or_else(|| format!("{key:?} is null"))
}

fn float(
    class: FloatClass,
    low: Option<&JsonValue>,
    high: Option<&JsonValue>,
    log: Option<&JsonValue>,
    step: Option<&JsonValue>,
) -> Result<Distribution, String> {
    let low = required(PyNum::of(low, "low")?, "low")?.f64();
    let high = required(PyNum::of(high, "high")?, "high")?.f64();
    let step = PyNum::of(step, "step")?.map(PyNum::f64);
    FloatDistribution::new(class, low, high, flag(log)?, step)
        .map(Distribution::Float)
        .map_err(|e| e.to_string())
}

fn int(
    class: IntClass,
    low: Option<&JsonValue>,
    high: Option<&JsonValue>,
    log: Option<&JsonValue>,
    step: Option<&JsonValue>,
) -> Result<Distribution, String> {
    let low = required(PyNum::of(low, "low")?, "low")?;
    let high = required(PyNum::of(high, "high")?, "high")?;
    let step = match step {
        None => PyNum::Int(1),
        Some(s) => required(PyNum::of(Some(s), "step")?, "step")?,
    };
    let log = flag(log)?;
    if let (PyNum::Float(_), _, _) | (_, PyNum::Float(_), _) | (_, _, PyNum::Float(_)) =
        (low, high, step)
    {
        // Python checks the numbers as given (NaN passes every comparison), then truncates them.
        let (l, h, st) = (low.f64(), high.f64(), step.f64());
        if (log && st != 1.0) || l > h || (log && l < 1.0) || st <= 0.0 {
            return Err(format!(
                "IntDistribution(low={l:?}, high={h:?}, log={log}, step={st:?}) fails its checks"
            ));
        }
    }
    let (low, high, step) = (low.int("low")?, high.int("high")?, step.int("step")?);
    IntDistribution::new(class, low, high, log, step)
        .map(Distribution::Int)
        .map_err(|e| e.to_string())
}

fn categorical(choices: Option<&JsonValue>) -> Result<Distribution, String> {
    let Some(JsonValue::Array(choices)) = choices else {
        return Err("\"choices\" is not an array".to_owned());
    };
    let choices = choices
        .iter()
        .map(|c| match c {
            JsonValue::Null => Ok(ParamValue::Null),
            JsonValue::Bool(b) => Ok(ParamValue::Bool(*b)),
            JsonValue::Int(i) => Ok(ParamValue::Int(*i)),
            JsonValue::BigInt(i) => Ok(ParamValue::BigInt(i.clone())),
            JsonValue::Float(x) => Ok(ParamValue::Float(*x)),
            JsonValue::Str(s) => Ok(ParamValue::Str(s.clone())),
            JsonValue::Utf16(u) => Ok(ParamValue::Str(u.to_string_lossy())),
            _ => Err("a choice that is not null, bool, int, float or str".to_owned()),
        })
        .collect::<Result<Vec<_>, _>>()?;
    Distribution::categorical(choices).map_err(|e| e.to_string())
}

// ---- encoding ---------------------------------------------------------------------------

/// `distribution_to_json(d)`: `json.dumps({"name": CLASS, "attributes": d._asdict()})` with the
/// attributes each class has, in Optuna's order: `FloatDistribution` step, low, high, log;
/// `UniformDistribution` and `LogUniformDistribution` low, high; `DiscreteUniformDistribution`
/// low, high, q; `IntDistribution` log, step, low, high; the legacy int classes step, low, high;
/// `CategoricalDistribution` choices.
pub fn distribution_to_json(d: &Distribution) -> String {
    let attributes = match d {
        Distribution::Float(f) => {
            let (low, high) = (JsonValue::Float(f.low()), JsonValue::Float(f.high()));
            match f.class() {
                FloatClass::Float => vec![
                    ("step", f.step().map_or(JsonValue::Null, JsonValue::Float)),
                    ("low", low),
                    ("high", high),
                    ("log", JsonValue::Bool(f.log())),
                ],
                FloatClass::Uniform | FloatClass::LogUniform => vec![("low", low), ("high", high)],
                FloatClass::DiscreteUniform => vec![
                    ("low", low),
                    ("high", high),
                    ("q", f.step().map_or(JsonValue::Null, JsonValue::Float)),
                ],
            }
        }
        Distribution::Int(i) => {
            let rest = [
                ("step", JsonValue::Int(i.step())),
                ("low", JsonValue::Int(i.low())),
                ("high", JsonValue::Int(i.high())),
            ];
            match i.class() {
                IntClass::Int => {
                    std::iter::once(("log", JsonValue::Bool(i.log()))).chain(rest).collect()
                }
                IntClass::IntUniform | IntClass::IntLogUniform => rest.to_vec(),
            }
        }
        Distribution::Categorical(c) => {
            vec![("choices", JsonValue::Array(c.choices().iter().map(param_json).collect()))]
        }
    };
    let v = object([
        ("name", JsonValue::Str(d.kind_name().to_owned())),
        ("attributes", object(attributes)),
    ]);
    let mut out = String::new();
    v.write(&mut out, ", ", ": ");
    out
}

/// A parameter value (external representation) as JSON.
pub fn param_json(v: &ParamValue) -> JsonValue {
    match v {
        ParamValue::Null => JsonValue::Null,
        ParamValue::Bool(b) => JsonValue::Bool(*b),
        ParamValue::Int(i) => JsonValue::Int(*i),
        ParamValue::BigInt(i) => JsonValue::BigInt(i.clone()),
        ParamValue::Float(x) => JsonValue::Float(*x),
        ParamValue::Str(s) => JsonValue::Str(s.clone()),
    }
}

fn object<K: Into<String>>(pairs: impl IntoIterator<Item = (K, JsonValue)>) -> JsonValue {
    JsonValue::Object(pairs.into_iter().map(|(k, v)| (k.into(), v)).collect())
}

/// An attribute value as Python's `json.dumps` writes it (`", "` and `": "` separators, bare
/// `NaN` / `Infinity`), the form Optuna's gRPC protocol carries attributes in.
pub fn attr_to_json(v: &AttrValue) -> String {
    let mut out = String::new();
    attr_json(v).write(&mut out, ", ", ": ");
    out
}

/// An attribute value from JSON text as Python's `json.loads` reads it (bare `NaN` and
/// `Infinity` included), nested at most [`MAX_ATTR_DEPTH`] levels.
pub fn attr_from_json(text: &str) -> Result<AttrValue, LineError> {
    let mut parser = json::Parser::default();
    let v = parser.parse(text.as_bytes()).map_err(bad)?;
    attr(v)
}

fn attr_json(v: &AttrValue) -> JsonValue {
    match v {
        AttrValue::Null => JsonValue::Null,
        AttrValue::Bool(b) => JsonValue::Bool(*b),
        AttrValue::Int(i) => JsonValue::Int(*i),
        AttrValue::BigInt(i) => JsonValue::BigInt(i.clone()),
        AttrValue::Float(x) => JsonValue::Float(*x),
        AttrValue::String(s) => JsonValue::Str(s.clone()),
        AttrValue::Utf16(u) => JsonValue::Utf16(u.clone()),
        AttrValue::Array(items) => JsonValue::Array(items.iter().map(attr_json).collect()),
        AttrValue::Map(m) => object(m.iter().map(|(k, v)| (k.clone(), attr_json(v)))),
    }
}

/// The internal value as Optuna writes it: a categorical index as an integer, else a float.
fn internal_json(internal: f64, d: &Distribution) -> JsonValue {
    if matches!(d, Distribution::Categorical(_)) && internal.fract() == 0.0 && internal.abs() < 9e15
    {
        JsonValue::Int(internal as i64)
    } else {
        JsonValue::Float(internal)
    }
}

/// A Python int of any size.
fn integer_json(i: &Integer) -> JsonValue {
    match i {
        Integer::Small(v) => JsonValue::Int(*v),
        Integer::Big(b) => JsonValue::BigInt(b.clone()),
    }
}

fn floats(v: Option<&[f64]>) -> JsonValue {
    v.map_or(JsonValue::Null, |v| {
        JsonValue::Array(v.iter().map(|x| JsonValue::Float(*x)).collect())
    })
}

fn time(t: Option<Timestamp>) -> JsonValue {
    t.map_or(JsonValue::Null, |t| JsonValue::Str(t.to_string()))
}

/// The operation code of an operation Optuna's format cannot hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("operation code {0} is a trialog extension that Optuna's JSON-lines journal cannot hold")]
pub struct NotRepresentable(pub u64);

/// Appends `op` as one Optuna journal line (with its `\n`) to `out`, or refuses an operation
/// Optuna cannot read (see [`is_optuna_op`]) and leaves `out` unchanged.
pub fn encode_line(
    worker_id: &str,
    op: &Operation,
    out: &mut String,
) -> Result<(), NotRepresentable> {
    encode_object(worker_id, op, (",", ":"), out)?;
    out.push('\n');
    Ok(())
}

/// Appends `op` as the JSON object Optuna writes for it, with Python's `json.dumps` separators
/// `separators` (item, key): `(",", ":")` is a journal file's line without its `\n`;
/// `(", ", ": ")`, `json.dumps`' defaults, is the value of a `JournalRedisBackend` log key.
/// Refuses an operation Optuna cannot read (see [`is_optuna_op`]) and leaves `out` unchanged.
pub fn encode_object(
    worker_id: &str,
    op: &Operation,
    separators: (&str, &str),
    out: &mut String,
) -> Result<(), NotRepresentable> {
    let id = |k: &'static str, v: u64| (k, JsonValue::Int(v as i64));
    let mut fields: Vec<(&str, JsonValue)> = vec![
        ("op_code", JsonValue::Int(op.code() as i64)),
        ("worker_id", JsonValue::Str(worker_id.to_owned())),
    ];
    match op {
        Operation::CreateStudy { study_name, directions } => {
            fields.push(("study_name", JsonValue::Str(study_name.clone())));
            let codes = directions.iter().map(|d| JsonValue::Int(i64::from(d.code()))).collect();
            fields.push(("directions", JsonValue::Array(codes)));
        }
        Operation::DeleteStudy { study_id } => fields.push(id("study_id", *study_id)),
        Operation::SetStudyUserAttr { study_id, key, value } => {
            fields.push(id("study_id", *study_id));
            fields.push(("user_attr", object([(key.clone(), attr_json(value))])));
        }
        Operation::SetStudySystemAttr { study_id, key, value } => {
            fields.push(id("study_id", *study_id));
            fields.push(("system_attr", object([(key.clone(), attr_json(value))])));
        }
        Operation::CreateTrial { study_id, datetime_start, template } => {
            fields.push(id("study_id", *study_id));
            fields.push(("datetime_start", time(*datetime_start)));
            if let Some(t) = template {
                encode_template(t, &mut fields);
            }
        }
        Operation::SetTrialParam { trial_id, name, internal, distribution } => {
            fields.push(id("trial_id", *trial_id));
            fields.push(("param_name", JsonValue::Str(name.clone())));
            fields.push(("param_value_internal", internal_json(*internal, distribution)));
            fields.push(("distribution", JsonValue::Str(distribution_to_json(distribution))));
        }
        Operation::SetTrialStateValues { trial_id, state, values, datetime } => {
            fields.push(id("trial_id", *trial_id));
            fields.push(("state", JsonValue::Int(i64::from(state.code()))));
            fields.push(("values", floats(values.as_deref())));
            if *state == TrialState::Running {
                fields.push(("datetime_start", time(*datetime)));
            } else if state.is_finished() {
                fields.push(("datetime_complete", time(*datetime)));
            }
        }
        Operation::SetTrialIntermediateValue { trial_id, step, value } => {
            fields.push(id("trial_id", *trial_id));
            fields.push(("step", integer_json(step)));
            fields.push(("intermediate_value", JsonValue::Float(*value)));
        }
        Operation::SetTrialUserAttr { trial_id, key, value } => {
            fields.push(id("trial_id", *trial_id));
            fields.push(("user_attr", object([(key.clone(), attr_json(value))])));
        }
        Operation::SetTrialSystemAttr { trial_id, key, value } => {
            fields.push(id("trial_id", *trial_id));
            fields.push(("system_attr", object([(key.clone(), attr_json(value))])));
        }
        Operation::DiscardTrials { trial_ids } => {
            let ids = trial_ids.iter().map(|i| JsonValue::Int(*i as i64)).collect();
            fields.push(("trial_ids", JsonValue::Array(ids)));
        }
        // `Ignorable` and every operation added later: trialog extensions (codes >= 128).
        _ => return Err(NotRepresentable(op.code())),
    }
    object(fields).write(out, separators.0, separators.1);
    Ok(())
}

/// The template fields of a create-trial line, in the order Optuna's `create_new_trial` adds them
/// (`datetime_start` is already in place).
fn encode_template(t: &TrialTemplate, fields: &mut Vec<(&str, JsonValue)>) {
    fields.push(("state", JsonValue::Int(i64::from(t.state.code()))));
    // Optuna: several values go to "values", a single one to "value".
    match t.values.as_deref() {
        Some(v) if v.len() > 1 => {
            fields.push(("value", JsonValue::Null));
            fields.push(("values", floats(Some(v))));
        }
        Some([v]) => {
            fields.push(("value", JsonValue::Float(*v)));
            fields.push(("values", JsonValue::Null));
        }
        other => {
            fields.push(("value", JsonValue::Null));
            fields.push(("values", floats(other)));
        }
    }
    if t.datetime_complete.is_some() {
        fields.push(("datetime_complete", time(t.datetime_complete)));
    }
    let dists =
        t.params.iter().map(|(k, (_, d))| (k.clone(), JsonValue::Str(distribution_to_json(d))));
    fields.push(("distributions", object(dists)));
    let params = t.params.iter().map(|(k, (internal, d))| (k.clone(), internal_json(*internal, d)));
    fields.push(("params", object(params)));
    fields
        .push(("user_attrs", object(t.user_attrs.iter().map(|(k, v)| (k.clone(), attr_json(v))))));
    fields.push((
        "system_attrs",
        object(t.system_attrs.iter().map(|(k, v)| (k.clone(), attr_json(v)))),
    ));
    let steps = t.intermediate_values.iter().map(|(s, v)| (s.to_string(), JsonValue::Float(*v)));
    fields.push(("intermediate_values", object(steps)));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip(op: Operation) {
        let mut line = String::new();
        encode_line("w-1", &op, &mut line).unwrap();
        assert!(line.ends_with('\n') && line.is_ascii(), "{line}");
        let (worker, back) = decode_line(line.trim_end().as_bytes()).unwrap();
        assert_eq!(worker, "w-1");
        // Debug text, so that NaN compares equal to itself.
        assert_eq!(format!("{back:?}"), format!("{op:?}"), "{line}");
    }

    #[test]
    fn every_optuna_op_round_trips() {
        let cat = Distribution::categorical(vec![
            ParamValue::Null,
            ParamValue::Bool(true),
            ParamValue::Int(1),
            ParamValue::Float(1.5),
            ParamValue::Str("é".into()),
        ])
        .unwrap();
        let mut template = TrialTemplate {
            state: TrialState::Complete,
            values: Some(vec![f64::INFINITY]),
            datetime_complete: Some(Timestamp(1_700_000_000_000_001)),
            params: ListMap::new(),
            user_attrs: BTreeMap::new(),
            system_attrs: BTreeMap::new(),
            intermediate_values: BTreeMap::from([
                (Integer::Small(-1), f64::NEG_INFINITY),
                (10.into(), 0.5),
                (Integer::parse("18446744073709551616").unwrap(), 0.25),
                (Integer::parse("-9223372036854775809").unwrap(), 0.125),
            ]),
        };
        template.params.insert("i".into(), (3.0, Distribution::int(1, 9, false, 2).unwrap()));
        template.params.insert("c".into(), (4.0, cat.clone()));
        template.user_attrs.insert(
            "nested".into(),
            AttrValue::Map(BTreeMap::from([(
                "k".into(),
                AttrValue::Array(vec![AttrValue::Int(1), AttrValue::Float(1.0), AttrValue::Null]),
            )])),
        );
        let ops = vec![
            Operation::CreateStudy {
                study_name: "ü 😀".into(),
                directions: vec![StudyDirection::Minimize, StudyDirection::Maximize],
            },
            Operation::DeleteStudy { study_id: 3 },
            Operation::SetStudyUserAttr { study_id: 0, key: "k".into(), value: AttrValue::Null },
            Operation::SetStudySystemAttr { study_id: 0, key: "k".into(), value: 1.5.into() },
            Operation::CreateTrial {
                study_id: 0,
                datetime_start: Some(Timestamp(5)),
                template: None,
            },
            Operation::CreateTrial {
                study_id: 0,
                datetime_start: None,
                template: Some(Box::new(template)),
            },
            Operation::SetTrialParam {
                trial_id: 1,
                name: "x".into(),
                internal: 0.25,
                distribution: Distribution::float(0.0, 1.0, false, Some(0.25)).unwrap(),
            },
            Operation::SetTrialParam {
                trial_id: 1,
                name: "c".into(),
                internal: 2.0,
                distribution: cat,
            },
            Operation::SetTrialStateValues {
                trial_id: 1,
                state: TrialState::Running,
                values: None,
                datetime: Some(Timestamp(7)),
            },
            Operation::SetTrialStateValues {
                trial_id: 1,
                state: TrialState::Complete,
                values: Some(vec![f64::NAN, -0.0]),
                datetime: Some(Timestamp(9)),
            },
            Operation::SetTrialStateValues {
                trial_id: 1,
                state: TrialState::Waiting,
                values: None,
                datetime: None,
            },
            Operation::SetTrialIntermediateValue { trial_id: 1, step: 3.into(), value: f64::NAN },
            // Python's ints have no size limit, and Optuna's `report` takes any of them.
            Operation::SetTrialIntermediateValue {
                trial_id: 1,
                step: Integer::parse("100000000000000000000").unwrap(),
                value: 1.0,
            },
            Operation::SetTrialUserAttr { trial_id: 1, key: "\n".into(), value: "x".into() },
            Operation::SetTrialSystemAttr { trial_id: 1, key: "s".into(), value: 2i64.into() },
            Operation::DiscardTrials { trial_ids: vec![1, 2] },
            Operation::SetTrialParam {
                trial_id: 1,
                name: "il".into(),
                internal: 3.0,
                distribution: Distribution::Int(
                    IntDistribution::new(crate::model::IntClass::IntLogUniform, 1, 9, true, 1)
                        .unwrap(),
                ),
            },
            Operation::SetTrialUserAttr {
                trial_id: 1,
                key: "big".into(),
                value: AttrValue::from(Integer::parse("-99999999999999999999").unwrap()),
            },
        ];
        for op in ops {
            round_trip(op);
        }
    }

    #[test]
    fn writes_exactly_what_optuna_writes() {
        let mut line = String::new();
        let op = Operation::SetTrialParam {
            trial_id: 2,
            name: "x".into(),
            internal: 1.0,
            distribution: Distribution::categorical(vec![
                ParamValue::Str("a".into()),
                ParamValue::Null,
            ])
            .unwrap(),
        };
        encode_line("w", &op, &mut line).unwrap();
        assert_eq!(
            line,
            r#"{"op_code":5,"worker_id":"w","trial_id":2,"param_name":"x","param_value_internal":1,"distribution":"{\"name\": \"CategoricalDistribution\", \"attributes\": {\"choices\": [\"a\", null]}}"}"#
                .to_owned()
                + "\n"
        );
    }

    #[test]
    fn extension_ops_are_refused() {
        let mut line = String::new();
        let op = Operation::Ignorable { code: 200 };
        assert_eq!(encode_line("w", &op, &mut line), Err(NotRepresentable(200)));
        assert!(line.is_empty());
        assert!(!is_optuna_op(&op));
    }

    #[test]
    fn legacy_distributions_keep_their_class_and_json() {
        use crate::model::{FloatClass as F, IntClass as I};
        let float = |c, low, high, log, step| {
            Distribution::Float(FloatDistribution::new(c, low, high, log, step).unwrap())
        };
        let int = |c, low, high, log, step| {
            Distribution::Int(IntDistribution::new(c, low, high, log, step).unwrap())
        };
        // What Optuna 5.0's distribution_to_json writes for each legacy class.
        let cases = [
            (
                r#"{"name": "UniformDistribution", "attributes": {"low": 0.0, "high": 1.0}}"#,
                float(F::Uniform, 0.0, 1.0, false, None),
            ),
            (
                r#"{"name": "LogUniformDistribution", "attributes": {"low": 0.1, "high": 1.0}}"#,
                float(F::LogUniform, 0.1, 1.0, true, None),
            ),
            (
                r#"{"name": "DiscreteUniformDistribution", "attributes": {"low": 0.0, "high": 1.0, "q": 0.5}}"#,
                float(F::DiscreteUniform, 0.0, 1.0, false, Some(0.5)),
            ),
            (
                r#"{"name": "IntUniformDistribution", "attributes": {"step": 2, "low": 1, "high": 9}}"#,
                int(I::IntUniform, 1, 9, false, 2),
            ),
            (
                r#"{"name": "IntLogUniformDistribution", "attributes": {"step": 1, "low": 1, "high": 9}}"#,
                int(I::IntLogUniform, 1, 9, true, 1),
            ),
        ];
        for (text, want) in cases {
            let got = distribution_from_json(text).unwrap();
            assert_eq!(got, want, "{text}");
            assert_eq!(distribution_to_json(&got), text);
        }
    }

    #[test]
    fn distribution_spellings_as_json_to_distribution_reads_them() {
        let ok = [
            (r#"{"type": "int", "low": 1, "high": 9}"#, Distribution::int(1, 9, false, 1)),
            (
                r#"{"type": "int", "low": 1, "high": 9, "step": null}"#,
                Distribution::int(1, 9, false, 1),
            ),
            (
                r#"{"type": "float", "low": 0, "high": 1, "step": 0.3, "extra": 1}"#,
                Distribution::float(0.0, 1.0, false, Some(0.3)),
            ),
            (
                r#"{"name": "FloatDistribution", "attributes": {"low": 0, "high": 1}}"#,
                Distribution::float(0.0, 1.0, false, None),
            ),
            // An upper bound off the grid is moved onto it, as Optuna's replay does.
            (
                r#"{"name": "IntDistribution", "attributes": {"low": 0, "high": 10, "step": 3}}"#,
                Distribution::int(0, 9, false, 3),
            ),
            (
                r#"{"name": "IntDistribution", "attributes": {"low": 0.5, "high": 9.9, "step": true}}"#,
                Distribution::int(0, 9, false, 1),
            ),
        ];
        for (text, want) in ok {
            assert_eq!(distribution_from_json(text).unwrap(), want.unwrap(), "{text}");
        }
        for bad in [
            r#"{"name": "Nope", "attributes": {}}"#,
            r#"{"name": "IntDistribution", "attributes": {"low": 5, "high": 1}}"#,
            r#"{"name": "IntDistribution", "attributes": {"low": 0, "high": 1, "step": 0}}"#,
            r#"{"name": "IntDistribution", "attributes": {"low": 0, "high": 1, "step": null}}"#,
            r#"{"name": "FloatDistribution", "attributes": {"low": 0.0, "high": 1.0, "log": true}}"#,
            r#"{"name": "FloatDistribution", "attributes": {"low": 0, "high": 1, "q": 0.5}}"#,
            r#"{"name": "UniformDistribution", "attributes": {"low": 0, "high": 1, "log": false}}"#,
            r#"{"name": "DiscreteUniformDistribution", "attributes": {"low": 0, "high": 1}}"#,
            r#"{"name": "CategoricalDistribution", "attributes": {"choices": []}}"#,
            r#"{"name": "CategoricalDistribution", "attributes": {"choices": [[1]]}}"#,
            r#"{"type": "bool"}"#,
            r#"{"type": "int", "low": 1}"#,
        ] {
            assert!(distribution_from_json(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn parses_python_datetimes() {
        let utc = jiff::tz::TimeZone::UTC;
        let t = parse_time_in("2024-02-29T12:34:56.000789+00:00", &utc).unwrap();
        assert_eq!(t, Timestamp(1_709_210_096_000_789));
        assert_eq!(parse_time_in("2024-02-29T21:34:56.000789+09:00", &utc), Some(t));
        assert_eq!(parse_time_in("2024-02-29 12:34:56.000789", &utc), Some(t));
        assert_eq!(parse_time_in("2024-02-29T12:34:56.000789Z", &utc), Some(t));
        assert_eq!(parse_time_in("2024-02-29T12:34:56.0007891234", &utc), Some(t));
        assert_eq!(
            parse_time_in("2024-02-29T12:34:56", &utc),
            Some(Timestamp(1_709_210_096_000_000))
        );
        assert_eq!(parse_time_in("2024-02-29", &utc), Some(Timestamp(1_709_164_800_000_000)));
        assert_eq!(parse_time_in("1969-12-31T23:59:59.999999+00:00", &utc), Some(Timestamp(-1)));
        for bad in [
            "2024-13-01T00:00:00",
            "2023-02-29T00:00:00",
            "2024-01-01T24:00:00",
            "yesterday",
            "2024-01-01T00:00:00+2400",
            "0001-01-01T00:00:00",
        ] {
            assert!(parse_time_in(bad, &utc).is_none(), "{bad}");
        }
    }

    /// Expected values are what Python 3.11 prints for
    /// `datetime.fromisoformat(s).astimezone().replace(tzinfo=None).astimezone(timezone.utc)`
    /// under `TZ=America/New_York` (and `Asia/Tokyo` for the LMT case).
    #[test]
    fn naive_and_aware_datetimes_go_through_the_local_wall_clock_as_in_optuna() {
        let ny = jiff::tz::TimeZone::get("America/New_York").unwrap();
        let cases = [
            ("2020-01-01T00:00:00", "2020-01-01T05:00:00.000000+00:00"),
            ("2020-07-01T00:00:00", "2020-07-01T04:00:00.000000+00:00"),
            // skipped hour: a naive 02:30 is 06:30Z (01:30 EST)
            ("2021-03-14T02:30:00", "2021-03-14T06:30:00.000000+00:00"),
            ("2021-03-14T07:30:00+00:00", "2021-03-14T07:30:00.000000+00:00"),
            // repeated hour: both 01:30s come back as the first
            ("2021-11-07T01:30:00", "2021-11-07T05:30:00.000000+00:00"),
            ("2021-11-07T05:30:00+00:00", "2021-11-07T05:30:00.000000+00:00"),
            ("2021-11-07T06:30:00+00:00", "2021-11-07T05:30:00.000000+00:00"),
            ("2021-11-07T01:30:00-05:00", "2021-11-07T05:30:00.000000+00:00"),
            ("0001-01-02T00:00:00", "0001-01-02T04:56:02.000000+00:00"),
            ("9999-12-29T23:00:00", "9999-12-30T04:00:00.000000+00:00"),
        ];
        for (s, want) in cases {
            assert_eq!(parse_time_in(s, &ny).map(|t| t.to_string()).as_deref(), Some(want), "{s}");
        }
        let tokyo = jiff::tz::TimeZone::get("Asia/Tokyo").unwrap();
        assert_eq!(
            parse_time_in("0001-01-02T00:00:00", &tokyo).unwrap().to_string(),
            "0001-01-01T14:41:01.000000+00:00"
        );
        for bad in ["0001-01-01T23:00:00", "0001-01-01T10:00:00+00:00"] {
            assert!(parse_time_in(bad, &ny).is_none(), "{bad}");
        }
    }

    proptest::proptest! {
        /// The one-pass reading of the form Optuna writes agrees with the general one, valid or
        /// not (days past the month's end, hour 24, offsets of 24 hours, ...).
        #[test]
        fn written_datetimes_read_as_any_datetime(
            date in (0u32..10000, 0u32..14, 0u32..33),
            time in (0u32..26, 0u32..61, 0u32..62, 0u32..1_000_000),
            offset in (proptest::prelude::any::<bool>(), 0u32..26, 0u32..61),
        ) {
            let ((y, mo, d), (h, mi, s, us), (minus, oh, om)) = (date, time, offset);
            let sign = if minus { '-' } else { '+' };
            let text = format!("{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}.{us:06}{sign}{oh:02}:{om:02}");
            proptest::prop_assert_eq!(parse_iso_written(text.as_bytes()), parse_iso_any(&text), "{}", text);
        }

        /// Damaged lines (a valid line with bytes cut out or replaced) never panic the decoder.
        #[test]
        fn damaged_lines_never_panic(cut in 0usize..400, len in 0usize..40, byte in proptest::prelude::any::<u8>()) {
            let line = br#"{"op_code":4,"worker_id":"w","study_id":0,"datetime_start":"2024-02-29T12:34:56.000789+00:00","state":1,"value":1.5,"values":null,"distributions":{"x":"{\"name\": \"IntDistribution\", \"attributes\": {\"log\": false, \"step\": 1, \"low\": 0, \"high\": 3}}"},"params":{"x":1.0},"user_attrs":{"a":[1,{"b":NaN}]},"system_attrs":{},"intermediate_values":{"0":-Infinity}}"#;
            assert!(decode_line(line).is_ok());
            let at = cut.min(line.len());
            let mut cut_out = line.to_vec();
            cut_out.drain(at..(at + len).min(line.len()));
            let _ = decode_line(&cut_out);
            let mut replaced = line.to_vec();
            if at < replaced.len() {
                replaced[at] = byte;
            }
            let _ = decode_line(&replaced);
        }
    }

    /// A create-trial line's parameters replay in the order of its "params" object (Optuna
    /// builds the trial's dict from it) and are written back in that order, in "params" and in
    /// "distributions" alike.
    #[test]
    fn template_params_keep_the_line_order_both_ways() {
        let dist = |high: u8| {
            format!(
                r#""{{\"name\": \"IntDistribution\", \"attributes\": {{\"log\": false, \"step\": 1, \"low\": 0, \"high\": {high}}}}}""#
            )
        };
        let line = |dists: &str, params: &str| {
            format!(
                r#"{{"op_code":4,"worker_id":"w","study_id":0,"datetime_start":null,"state":3,"value":null,"values":null,"distributions":{dists},"params":{params},"user_attrs":{{}},"system_attrs":{{}},"intermediate_values":{{}}}}"#
            )
        };
        let (z, a) = (dist(7), dist(9));
        let zfirst = line(&format!(r#"{{"z":{z},"a":{a}}}"#), r#"{"z":1.0,"a":2.0}"#);
        // The "distributions" object in another order: "params" decides.
        let mixed = line(&format!(r#"{{"a":{a},"z":{z}}}"#), r#"{"z":1.0,"a":2.0}"#);
        for text in [&zfirst, &mixed] {
            let (worker, op) = decode_line(text.as_bytes()).unwrap();
            let Operation::CreateTrial { template: Some(t), .. } = &op else { panic!("{op:?}") };
            assert_eq!(t.params.keys().map(String::as_str).collect::<Vec<_>>(), ["z", "a"]);
            let mut again = String::new();
            encode_line(&worker, &op, &mut again).unwrap();
            let d = again.find(r#""distributions":{"z":"#);
            let p = again.find(r#""params":{"z":1.0,"a":2.0}"#);
            assert!(d.is_some() && p.is_some(), "{again}");
        }
        // Written exactly as read: the line Optuna would write for this trial.
        let (worker, op) = decode_line(zfirst.as_bytes()).unwrap();
        let mut again = String::new();
        encode_line(&worker, &op, &mut again).unwrap();
        assert_eq!(again.trim_end(), zfirst);
    }

    #[test]
    fn refuses_bad_lines() {
        for line in [
            &br#"[1]"#[..],
            br#"{"worker_id":"w"}"#,
            br#"{"op_code":1,"worker_id":"w"}"#,
            br#"{"op_code":1,"worker_id":"w","study_id":[1]}"#,
            br#"{"op_code":-1,"worker_id":"w"}"#,
            br#"{"op_code":1.5,"worker_id":"w"}"#,
            br#"{"op_code":2,"worker_id":"w","study_id":{},"user_attr":{"a":1}}"#,
        ] {
            assert!(decode_line(line).is_err(), "{}", String::from_utf8_lossy(line));
        }
        // Fields Optuna reads only when it applies the line: what replay decides.
        for (line, target) in [
            (&br#"{"op_code":2,"worker_id":"w","study_id":0,"user_attr":{"a":1,"b":2}}"#[..], Target::Study(0)),
            (br#"{"op_code":6,"worker_id":"w","trial_id":3,"state":1,"values":null}"#, Target::Trial(3)),
            (br#"{"op_code":4,"worker_id":"w","study_id":0,"datetime_start":null,"params":{"x":1.0}}"#, Target::Study(0)),
            (br#"{"op_code":5,"worker_id":"w","trial_id":1,"param_name":"x"}"#, Target::Trial(1)),
        ] {
            match decode_line(line) {
                Ok((_, Operation::Unreplayable { target: t, .. })) => assert_eq!(t, target),
                other => panic!("{}: {other:?}", String::from_utf8_lossy(line)),
            }
        }
        assert_eq!(
            decode_line(br#"{"op_code":42,"worker_id":"w"}"#),
            Err(LineError::UnknownOperation(42))
        );
        assert_eq!(
            decode_line(br#"{"op_code":130,"worker_id":"w"}"#).unwrap().1,
            Operation::Ignorable { code: 130 }
        );
    }

    #[test]
    fn keys_read_as_a_python_dict_reads_them() {
        // A repeated key: the last value wins; an escaped key is the key it spells.
        let line = br#"{"op_code":1,"worker_id":"w","study_id":5,"study\u005fid":2}"#;
        assert_eq!(decode_line(line).unwrap().1, Operation::DeleteStudy { study_id: 2 });
        let line = br#"{"op_code":7,"worker_id":"a","trial_id":1,"step":2,"intermediate_value":0.5,"worker_id":"b\u00e9"}"#;
        let (worker, op) = decode_line(line).unwrap();
        assert_eq!(worker, "bé");
        assert_eq!(
            op,
            Operation::SetTrialIntermediateValue { trial_id: 1, step: 2.into(), value: 0.5 }
        );
    }

    #[test]
    fn a_decoder_remembers_distributions_without_mixing_them_up() {
        let line = |high: u64, name: &str| {
            let mut text = String::new();
            let op = Operation::SetTrialParam {
                trial_id: 0,
                name: name.into(),
                internal: 1.0,
                distribution: Distribution::int(0, high as i64, false, 1).unwrap(),
            };
            encode_line("w", &op, &mut text).unwrap();
            text
        };
        let mut decoder = LineDecoder::new();
        // More distinct texts than the decoder keeps, each seen twice, in two orders.
        let highs: Vec<u64> = (1..=2 * DISTRIBUTION_CACHE as u64 + 3).collect();
        for high in highs.iter().chain(highs.iter().rev()).chain(&[1, 1, 2, 1]) {
            let text = line(*high, "p");
            let (_, op) = decoder.decode(text.trim_end().as_bytes()).unwrap();
            assert_eq!(op, decode_line(text.trim_end().as_bytes()).unwrap().1, "{text}");
            let Operation::SetTrialParam { distribution, .. } = op else { panic!() };
            assert_eq!(distribution, Distribution::int(0, *high as i64, false, 1).unwrap());
        }
        assert!(decoder.distributions.seen.len() <= DISTRIBUTION_CACHE);
        // A bad distribution text is an error every time (not remembered).
        let bad = br#"{"op_code":5,"worker_id":"w","trial_id":0,"param_name":"p","param_value_internal":1,"distribution":"{\"name\": \"Nope\"}"}"#;
        for _ in 0..2 {
            assert!(matches!(decoder.decode(bad), Ok((_, Operation::Unreplayable { .. }))));
        }
    }

    #[test]
    fn op_codes_and_ids_as_python_compares_them() {
        // Any code from 128 on is safe to ignore, however large (documented in OPTUNA.md).
        for code in ["18446744073709551615", "18446744073709551616", "1e30", "9223372036854775808"]
        {
            let line = format!(r#"{{"op_code":{code},"worker_id":"w"}}"#);
            assert!(
                matches!(decode_line(line.as_bytes()), Ok((_, Operation::Ignorable { .. }))),
                "{code}"
            );
        }
        // Python's IntEnum equals 1.0 and True.
        for code in ["1", "1.0", "true"] {
            let line = format!(r#"{{"op_code":{code},"worker_id":"w","study_id":2}}"#);
            assert_eq!(
                decode_line(line.as_bytes()).unwrap().1,
                Operation::DeleteStudy { study_id: 2 }
            );
        }
        // An id no dict holds (negative, huge, a string) names nothing: replay ignores it.
        for id in ["-1", "18446744073709551616", "\"0\"", "null", "0.5"] {
            let line = format!(r#"{{"op_code":1,"worker_id":"w","study_id":{id}}}"#);
            assert_eq!(
                decode_line(line.as_bytes()).unwrap().1,
                Operation::DeleteStudy { study_id: NO_ID },
                "{id}"
            );
        }
    }
}
