//! A batch of operations <-> its MessagePack payload (rmp-serde). The layout is specified in
//! `docs/FORMAT.md`; every encoding decision for operations lives in this file.
//!
//! Every value is a MessagePack array whose first element says what follows, never a map with
//! field names, so payloads stay small and old readers can skip operations they do not know:
//!
//! ```text
//! batch = [worker_id: str, [op, ...]]
//! op    = [code: uint, fields...]          (see docs/FORMAT.md for each code)
//! dist  = [0, low, high, log, step|nil] | [1, low, high, log, step] | [2, [choice, ...]]
//! ```

use std::collections::BTreeMap;
use std::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, SeqAccess, Visitor};
use serde::ser::{SerializeSeq, Serializer};
use serde::{Deserialize, Serialize};

use super::operation::{FIRST_IGNORABLE_CODE, LogBatch, OpCode, Operation, TrialTemplate};
use crate::model::{
    AttrValue, Distribution, FloatDistribution, IntDistribution, ParamValue, StudyDirection,
    Timestamp, TrialState,
};

/// Why a CRC-valid payload could not be turned into a batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DecodeError {
    /// The payload is not a well-formed batch.
    Malformed(String),
    /// The payload holds an operation code that readers must understand but this build does not
    /// know (11..=127).
    UnknownOperation(u64),
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DecodeError::Malformed(m) => write!(f, "payload is not a valid operation batch: {m}"),
            DecodeError::UnknownOperation(c) => write!(f, "unknown operation code {c}"),
        }
    }
}

/// Encodes `batch` as a MessagePack payload.
pub fn encode_batch(batch: &LogBatch) -> Vec<u8> {
    let mut out = Vec::with_capacity(64);
    let wire = (&batch.worker_id, OpsRef(&batch.ops));
    // Serialising into a Vec cannot fail: every type here has a MessagePack form.
    wire.serialize(&mut rmp_serde::Serializer::new(&mut out))
        .expect("encoding an operation batch into memory cannot fail");
    out
}

/// Decodes a payload written by [`encode_batch`] (or by a newer writer, skipping its
/// safe-to-ignore operations).
pub fn decode_batch(payload: &[u8]) -> Result<LogBatch, DecodeError> {
    let mut rest = payload;
    let (worker_id, ops): (String, Vec<Operation>) =
        Deserialize::deserialize(&mut rmp_serde::Deserializer::new(&mut rest))
            .map_err(|e| DecodeError::Malformed(e.to_string()))?;
    if !rest.is_empty() {
        return Err(DecodeError::Malformed("trailing bytes after the batch".into()));
    }
    if let Some(Operation::Ignorable { code }) =
        ops.iter().find(|op| matches!(op, Operation::Ignorable { code } if *code < FIRST_IGNORABLE_CODE))
    {
        return Err(DecodeError::UnknownOperation(*code));
    }
    Ok(LogBatch { worker_id, ops })
}

// ---------------------------------------------------------------------------------------------
// Serialisation

struct OpsRef<'a>(&'a [Operation]);

impl Serialize for OpsRef<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut seq = s.serialize_seq(Some(self.0.len()))?;
        for op in self.0 {
            seq.serialize_element(&OpRef(op))?;
        }
        seq.end()
    }
}

struct OpRef<'a>(&'a Operation);

impl Serialize for OpRef<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let code = self.0.code();
        match self.0 {
            Operation::CreateStudy { study_name, directions } => {
                let dirs: Vec<u8> = directions.iter().map(|d| d.code()).collect();
                (code, study_name, dirs).serialize(s)
            }
            Operation::DeleteStudy { study_id } => (code, study_id).serialize(s),
            Operation::SetStudyUserAttr { study_id, key, value }
            | Operation::SetStudySystemAttr { study_id, key, value } => {
                (code, study_id, key, value).serialize(s)
            }
            Operation::CreateTrial { study_id, datetime_start, template } => {
                (code, study_id, datetime_start, template.as_deref().map(TemplateRef)).serialize(s)
            }
            Operation::SetTrialParam { trial_id, name, internal, distribution } => {
                (code, trial_id, name, internal, distribution).serialize(s)
            }
            Operation::SetTrialStateValues { trial_id, state, values, datetime } => {
                (code, trial_id, state, values, datetime).serialize(s)
            }
            Operation::SetTrialIntermediateValue { trial_id, step, value } => {
                (code, trial_id, step, value).serialize(s)
            }
            Operation::SetTrialUserAttr { trial_id, key, value }
            | Operation::SetTrialSystemAttr { trial_id, key, value } => {
                (code, trial_id, key, value).serialize(s)
            }
            Operation::DiscardTrials { trial_ids } => (code, trial_ids).serialize(s),
            Operation::Ignorable { code } => (code,).serialize(s),
        }
    }
}

struct TemplateRef<'a>(&'a TrialTemplate);

impl Serialize for TemplateRef<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let t = self.0;
        (
            t.state,
            &t.values,
            t.datetime_complete,
            &t.params,
            &t.user_attrs,
            &t.system_attrs,
            &t.intermediate_values,
        )
            .serialize(s)
    }
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_i64(self.0)
    }
}

impl Serialize for TrialState {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u8(self.code())
    }
}

impl Serialize for Distribution {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Distribution::Float(d) => (0u8, d.low, d.high, d.log, d.step).serialize(s),
            Distribution::Int(d) => (1u8, d.low, d.high, d.log, d.step).serialize(s),
            Distribution::Categorical(c) => (2u8, &*c.choices).serialize(s),
        }
    }
}

impl Serialize for ParamValue {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            ParamValue::Null => s.serialize_unit(),
            ParamValue::Bool(b) => s.serialize_bool(*b),
            ParamValue::Int(i) => s.serialize_i64(*i),
            ParamValue::Float(x) => s.serialize_f64(*x),
            ParamValue::Str(v) => s.serialize_str(v),
        }
    }
}

impl Serialize for AttrValue {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            AttrValue::Null => s.serialize_unit(),
            AttrValue::Bool(b) => s.serialize_bool(*b),
            AttrValue::Int(i) => s.serialize_i64(*i),
            AttrValue::Float(x) => s.serialize_f64(*x),
            AttrValue::String(v) => s.serialize_str(v),
            AttrValue::Array(items) => items.serialize(s),
            AttrValue::Map(map) => map.serialize(s),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Deserialisation

fn next<'de, T: Deserialize<'de>, A: SeqAccess<'de>>(seq: &mut A, i: usize) -> Result<T, A::Error> {
    seq.next_element()?.ok_or_else(|| de::Error::invalid_length(i, &"more fields"))
}

fn no_more<'de, A: SeqAccess<'de>>(seq: &mut A, what: &str) -> Result<(), A::Error> {
    if seq.next_element::<IgnoredAny>()?.is_some() {
        return Err(de::Error::custom(format_args!("too many fields in {what}")));
    }
    Ok(())
}

impl<'de> Deserialize<'de> for Operation {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_seq(OpVisitor)
    }
}

struct OpVisitor;

impl<'de> Visitor<'de> for OpVisitor {
    type Value = Operation;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an operation array [code, fields...]")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Operation, A::Error> {
        let code: u64 = next(&mut seq, 0)?;
        let Some(known) = OpCode::from_u64(code) else {
            // Unknown: skip the fields. decode_batch rejects must-understand codes (< 128).
            while seq.next_element::<IgnoredAny>()?.is_some() {}
            return Ok(Operation::Ignorable { code });
        };
        let op = match known {
            OpCode::CreateStudy => {
                let study_name = next(&mut seq, 1)?;
                let codes: Vec<u64> = next(&mut seq, 2)?;
                let directions = codes
                    .into_iter()
                    .map(|c| {
                        StudyDirection::from_code(c).ok_or_else(|| {
                            de::Error::custom(format_args!("invalid study direction {c}"))
                        })
                    })
                    .collect::<Result<_, _>>()?;
                Operation::CreateStudy { study_name, directions }
            }
            OpCode::DeleteStudy => Operation::DeleteStudy { study_id: next(&mut seq, 1)? },
            OpCode::SetStudyUserAttr => Operation::SetStudyUserAttr {
                study_id: next(&mut seq, 1)?,
                key: next(&mut seq, 2)?,
                value: next(&mut seq, 3)?,
            },
            OpCode::SetStudySystemAttr => Operation::SetStudySystemAttr {
                study_id: next(&mut seq, 1)?,
                key: next(&mut seq, 2)?,
                value: next(&mut seq, 3)?,
            },
            OpCode::CreateTrial => {
                let study_id = next(&mut seq, 1)?;
                let datetime_start = next::<Option<i64>, _>(&mut seq, 2)?.map(Timestamp);
                let template = next::<Option<TemplateWire>, _>(&mut seq, 3)?
                    .map(|t| Box::new(t.0));
                Operation::CreateTrial { study_id, datetime_start, template }
            }
            OpCode::SetTrialParam => Operation::SetTrialParam {
                trial_id: next(&mut seq, 1)?,
                name: next(&mut seq, 2)?,
                internal: next(&mut seq, 3)?,
                distribution: next(&mut seq, 4)?,
            },
            OpCode::SetTrialStateValues => Operation::SetTrialStateValues {
                trial_id: next(&mut seq, 1)?,
                state: next::<StateWire, _>(&mut seq, 2)?.0,
                values: next(&mut seq, 3)?,
                datetime: next::<Option<i64>, _>(&mut seq, 4)?.map(Timestamp),
            },
            OpCode::SetTrialIntermediateValue => Operation::SetTrialIntermediateValue {
                trial_id: next(&mut seq, 1)?,
                step: next(&mut seq, 2)?,
                value: next(&mut seq, 3)?,
            },
            OpCode::SetTrialUserAttr => Operation::SetTrialUserAttr {
                trial_id: next(&mut seq, 1)?,
                key: next(&mut seq, 2)?,
                value: next(&mut seq, 3)?,
            },
            OpCode::SetTrialSystemAttr => Operation::SetTrialSystemAttr {
                trial_id: next(&mut seq, 1)?,
                key: next(&mut seq, 2)?,
                value: next(&mut seq, 3)?,
            },
            OpCode::DiscardTrials => Operation::DiscardTrials { trial_ids: next(&mut seq, 1)? },
        };
        no_more(&mut seq, "operation")?;
        Ok(op)
    }
}

struct StateWire(TrialState);

impl<'de> Deserialize<'de> for StateWire {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let c = u64::deserialize(d)?;
        TrialState::from_code(c)
            .map(StateWire)
            .ok_or_else(|| de::Error::custom(format_args!("invalid trial state {c}")))
    }
}

struct TemplateWire(TrialTemplate);

impl<'de> Deserialize<'de> for TemplateWire {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        type Wire = (
            StateWire,
            Option<Vec<f64>>,
            Option<i64>,
            BTreeMap<String, (f64, Distribution)>,
            BTreeMap<String, AttrValue>,
            BTreeMap<String, AttrValue>,
            BTreeMap<i64, f64>,
        );
        let (state, values, complete, params, user_attrs, system_attrs, intermediate_values) =
            Wire::deserialize(d)?;
        Ok(TemplateWire(TrialTemplate {
            state: state.0,
            values,
            datetime_complete: complete.map(Timestamp),
            params,
            user_attrs,
            system_attrs,
            intermediate_values,
        }))
    }
}

impl<'de> Deserialize<'de> for Distribution {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_seq(DistVisitor)
    }
}

struct DistVisitor;

impl<'de> Visitor<'de> for DistVisitor {
    type Value = Distribution;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a distribution array [kind, ...]")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Distribution, A::Error> {
        let kind: u8 = next(&mut seq, 0)?;
        // Decoding keeps the stored bounds as written (the writer validated them); replay
        // rejects nonsense such as low > high on its own terms.
        let dist = match kind {
            0 => Distribution::Float(FloatDistribution {
                low: next(&mut seq, 1)?,
                high: next(&mut seq, 2)?,
                log: next(&mut seq, 3)?,
                step: next(&mut seq, 4)?,
            }),
            1 => Distribution::Int(IntDistribution {
                low: next(&mut seq, 1)?,
                high: next(&mut seq, 2)?,
                log: next(&mut seq, 3)?,
                step: next(&mut seq, 4)?,
            }),
            2 => {
                let choices: Vec<ParamValue> = next(&mut seq, 1)?;
                if choices.is_empty() {
                    return Err(de::Error::custom("categorical distribution without choices"));
                }
                Distribution::Categorical(crate::model::CategoricalDistribution {
                    choices: choices.into(),
                })
            }
            k => return Err(de::Error::custom(format_args!("unknown distribution kind {k}"))),
        };
        no_more(&mut seq, "distribution")?;
        Ok(dist)
    }
}

impl<'de> Deserialize<'de> for ParamValue {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        match d.deserialize_any(ValueVisitor)? {
            AttrValue::Null => Ok(ParamValue::Null),
            AttrValue::Bool(b) => Ok(ParamValue::Bool(b)),
            AttrValue::Int(i) => Ok(ParamValue::Int(i)),
            AttrValue::Float(x) => Ok(ParamValue::Float(x)),
            AttrValue::String(s) => Ok(ParamValue::Str(s)),
            AttrValue::Array(_) | AttrValue::Map(_) => {
                Err(de::Error::custom("a categorical choice must be null, bool, int, float or str"))
            }
        }
    }
}

impl<'de> Deserialize<'de> for AttrValue {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(ValueVisitor)
    }
}

struct ValueVisitor;

impl<'de> Visitor<'de> for ValueVisitor {
    type Value = AttrValue;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON-like value")
    }
    fn visit_unit<E>(self) -> Result<AttrValue, E> {
        Ok(AttrValue::Null)
    }
    fn visit_none<E>(self) -> Result<AttrValue, E> {
        Ok(AttrValue::Null)
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<AttrValue, D::Error> {
        d.deserialize_any(self)
    }
    fn visit_bool<E>(self, v: bool) -> Result<AttrValue, E> {
        Ok(AttrValue::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<AttrValue, E> {
        Ok(AttrValue::Int(v))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<AttrValue, E> {
        i64::try_from(v)
            .map(AttrValue::Int)
            .map_err(|_| E::custom(format_args!("integer {v} does not fit in i64")))
    }
    fn visit_f64<E>(self, v: f64) -> Result<AttrValue, E> {
        Ok(AttrValue::Float(v))
    }
    fn visit_f32<E>(self, v: f32) -> Result<AttrValue, E> {
        Ok(AttrValue::Float(f64::from(v)))
    }
    fn visit_str<E>(self, v: &str) -> Result<AttrValue, E> {
        Ok(AttrValue::String(v.to_owned()))
    }
    fn visit_string<E>(self, v: String) -> Result<AttrValue, E> {
        Ok(AttrValue::String(v))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<AttrValue, A::Error> {
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(1024));
        while let Some(item) = seq.next_element_seed(AttrSeed)? {
            items.push(item);
        }
        Ok(AttrValue::Array(items))
    }
    fn visit_map<A: de::MapAccess<'de>>(self, mut map: A) -> Result<AttrValue, A::Error> {
        let mut out = BTreeMap::new();
        while let Some(key) = map.next_key::<String>()? {
            let value = map.next_value_seed(AttrSeed)?;
            out.insert(key, value);
        }
        Ok(AttrValue::Map(out))
    }
}

struct AttrSeed;

impl<'de> DeserializeSeed<'de> for AttrSeed {
    type Value = AttrValue;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<AttrValue, D::Error> {
        d.deserialize_any(ValueVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all_ops() -> Vec<Operation> {
        let cat = Distribution::categorical(vec![
            ParamValue::Null,
            ParamValue::Bool(false),
            ParamValue::Int(-4),
            ParamValue::Float(f64::NEG_INFINITY),
            ParamValue::Str("ü".into()),
        ])
        .unwrap();
        let mut attrs = BTreeMap::new();
        attrs.insert(
            "nested".to_string(),
            AttrValue::Array(vec![AttrValue::Float(f64::NAN), AttrValue::Map(BTreeMap::new())]),
        );
        vec![
            Operation::CreateStudy {
                study_name: "s".into(),
                directions: vec![StudyDirection::Minimize, StudyDirection::Maximize],
            },
            Operation::DeleteStudy { study_id: 3 },
            Operation::SetStudyUserAttr { study_id: 0, key: "k".into(), value: AttrValue::Int(1) },
            Operation::SetStudySystemAttr { study_id: 0, key: "k".into(), value: AttrValue::Null },
            Operation::CreateTrial { study_id: 0, datetime_start: Some(Timestamp(5)), template: None },
            Operation::CreateTrial {
                study_id: 0,
                datetime_start: None,
                template: Some(Box::new(TrialTemplate {
                    state: TrialState::Waiting,
                    values: Some(vec![f64::INFINITY, f64::NAN]),
                    datetime_complete: Some(Timestamp(-7)),
                    params: [("c".to_string(), (4.0, cat.clone()))].into(),
                    user_attrs: attrs.clone(),
                    system_attrs: BTreeMap::new(),
                    intermediate_values: [(-1, 0.5), (7, f64::NAN)].into(),
                })),
            },
            Operation::SetTrialParam {
                trial_id: 9,
                name: "x".into(),
                internal: 0.25,
                distribution: Distribution::float(0.0, 1.0, false, Some(0.25)).unwrap(),
            },
            Operation::SetTrialParam {
                trial_id: 9,
                name: "n".into(),
                internal: 8.0,
                distribution: Distribution::int(1, 64, true, 1).unwrap(),
            },
            Operation::SetTrialParam { trial_id: 9, name: "c".into(), internal: 0.0, distribution: cat },
            Operation::SetTrialStateValues {
                trial_id: 9,
                state: TrialState::Complete,
                values: Some(vec![f64::NEG_INFINITY]),
                datetime: Some(Timestamp(1)),
            },
            Operation::SetTrialIntermediateValue { trial_id: 9, step: 3, value: f64::NAN },
            Operation::SetTrialUserAttr { trial_id: 9, key: "u".into(), value: AttrValue::Map(attrs) },
            Operation::SetTrialSystemAttr { trial_id: 9, key: "s".into(), value: "v".into() },
            Operation::DiscardTrials { trial_ids: vec![1, 2] },
        ]
    }

    #[test]
    fn every_operation_round_trips_exactly() {
        let batch = LogBatch { worker_id: "w-1".into(), ops: all_ops() };
        let bytes = encode_batch(&batch);
        let back = decode_batch(&bytes).unwrap();
        // Compare through re-encoding: NaN != NaN under PartialEq of f64 fields.
        assert_eq!(encode_batch(&back), bytes);
        assert_eq!(back.ops.len(), batch.ops.len());
        assert_eq!(back.worker_id, "w-1");
    }

    #[test]
    fn ignorable_codes_are_skipped_and_required_unknown_codes_rejected() {
        // [ "w", [ [200, "future", [1,2]], [1, 5] ] ]
        let payload =
            rmp_serde::to_vec(&("w", ((200u64, "future", [1, 2]), (1u64, 5u64)))).unwrap();
        let batch = decode_batch(&payload).unwrap();
        assert_eq!(batch.ops, vec![Operation::Ignorable { code: 200 }, Operation::DeleteStudy { study_id: 5 }]);
        let payload = rmp_serde::to_vec(&("w", ((11u64, 1u64),))).unwrap();
        assert_eq!(decode_batch(&payload), Err(DecodeError::UnknownOperation(11)));
    }

    #[test]
    fn malformed_payloads_are_errors_not_panics() {
        let good = encode_batch(&LogBatch { worker_id: "w".into(), ops: all_ops() });
        for cut in 0..good.len() {
            assert!(decode_batch(&good[..cut]).is_err(), "prefix {cut}");
        }
        let mut trailing = good.clone();
        trailing.push(0);
        assert!(decode_batch(&trailing).is_err());
        let bad_state = rmp_serde::to_vec(&("w", ((6u64, 1u64, 9u8, (), ()),))).unwrap();
        assert!(matches!(decode_batch(&bad_state), Err(DecodeError::Malformed(_))));
    }
}
