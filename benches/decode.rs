//! The hand-written MessagePack reader of `journal/codec.rs` against the `rmp` crate's low-level
//! decoder (`rmp::decode`, the layer under rmp-serde, no serde dispatch), on the same replay
//! payloads: every frame of a journal of W1-shape trials (create, two float params, an
//! intermediate value, completion) and of trials that also carry user attributes.
//!
//! The rmp reader below decodes the same batch layout into the same `LogBatch` with the same
//! checks (field counts, UTF-8, integer ranges, distribution constructors); only the primitive
//! reads (markers, lengths, integers, floats, strings) differ. The result of a run on this
//! project's machine is quoted in `journal/codec.rs`'s module docs.

use std::collections::BTreeMap;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use rmp::Marker;
use rmp::decode::{self, Bytes};
use trialog::journal::codec::decode_batch_into;
use trialog::journal::frame::{self, FrameCheck};
use trialog::journal::{LogBatch, Operation};
use trialog::{
    AttrValue, Distribution, JournalStorage, MemoryBackend, ParamValue, StudyDirection, Timestamp,
    TrialState,
};

/// The payloads of every frame of a journal of `n` trials.
fn payloads(n: u64, with_attrs: bool) -> Vec<Vec<u8>> {
    let s = JournalStorage::new(MemoryBackend::new()).unwrap();
    let study = s.create_new_study(&[StudyDirection::Minimize], Some("w")).unwrap();
    let d = Distribution::float(-10.0, 10.0, false, None).unwrap();
    let c = Distribution::categorical(vec![ParamValue::Str("adam".into()), ParamValue::Int(3)])
        .unwrap();
    for i in 0..n {
        let x = (i % 20) as f64 - 10.0;
        let t = s.create_new_trial(study, None).unwrap();
        s.set_trial_param(t, "x", x, &d).unwrap();
        s.set_trial_param(t, "y", -x, &d).unwrap();
        if with_attrs {
            s.set_trial_param(t, "opt", 0.0, &c).unwrap();
            let attr = AttrValue::Map(BTreeMap::from([
                ("loss".to_string(), AttrValue::Array(vec![AttrValue::Float(x); 4])),
                ("epoch".to_string(), AttrValue::Int(i as i64)),
                ("note".to_string(), AttrValue::String(format!("trial {i}"))),
            ]));
            s.set_trial_user_attr(t, "history", attr).unwrap();
        }
        s.set_trial_intermediate_value(t, 0, x).unwrap();
        s.set_trial_state_values(t, TrialState::Complete, Some(&[2.0 * x * x])).unwrap();
    }
    let bytes = s.backend().to_bytes();
    let mut out = Vec::new();
    let mut at = frame::HEADER_LEN;
    while let FrameCheck::Batch { payload, len } = frame::check_frame(&bytes[at..]) {
        out.push(payload.to_vec());
        at += len;
    }
    out
}

type R<T> = Result<T, String>;

fn e<E: std::fmt::Debug>(err: E) -> String {
    format!("{err:?}")
}

/// A reader over a payload built on `rmp::decode`.
struct Rmp<'a> {
    rd: Bytes<'a>,
}

impl<'a> Rmp<'a> {
    fn peek(&self) -> R<u8> {
        self.rd.remaining_slice().first().copied().ok_or_else(|| "end".to_owned())
    }
    fn array_len(&mut self) -> R<usize> {
        decode::read_array_len(&mut self.rd).map(|n| n as usize).map_err(e)
    }
    fn map_len(&mut self) -> R<usize> {
        decode::read_map_len(&mut self.rd).map(|n| n as usize).map_err(e)
    }
    fn u64(&mut self) -> R<u64> {
        decode::read_int(&mut self.rd).map_err(e)
    }
    fn i64(&mut self) -> R<i64> {
        decode::read_int(&mut self.rd).map_err(e)
    }
    fn f64(&mut self) -> R<f64> {
        match Marker::from_u8(self.peek()?) {
            Marker::F64 => decode::read_f64(&mut self.rd).map_err(e),
            Marker::F32 => decode::read_f32(&mut self.rd).map(f64::from).map_err(e),
            _ => self.i64().map(|i| i as f64),
        }
    }
    fn bool(&mut self) -> R<bool> {
        decode::read_bool(&mut self.rd).map_err(e)
    }
    fn nil(&mut self) -> R<bool> {
        if self.peek()? == 0xc0 {
            decode::read_nil(&mut self.rd).map_err(e)?;
            return Ok(true);
        }
        Ok(false)
    }
    fn str(&mut self) -> R<&'a str> {
        let (s, rest) = decode::read_str_from_slice(self.rd.remaining_slice()).map_err(e)?;
        self.rd = Bytes::new(rest);
        Ok(s)
    }
    fn value(&mut self, depth: usize) -> R<AttrValue> {
        if depth > 1000 {
            return Err("too deep".into());
        }
        Ok(match Marker::from_u8(self.peek()?) {
            Marker::Null => {
                self.nil()?;
                AttrValue::Null
            }
            Marker::True | Marker::False => AttrValue::Bool(self.bool()?),
            Marker::F32 | Marker::F64 => AttrValue::Float(self.f64()?),
            Marker::FixPos(_)
            | Marker::FixNeg(_)
            | Marker::U8
            | Marker::U16
            | Marker::U32
            | Marker::U64
            | Marker::I8
            | Marker::I16
            | Marker::I32
            | Marker::I64 => AttrValue::Int(self.i64()?),
            Marker::FixStr(_) | Marker::Str8 | Marker::Str16 | Marker::Str32 => {
                AttrValue::String(self.str()?.to_owned())
            }
            Marker::FixArray(_) | Marker::Array16 | Marker::Array32 => {
                let n = self.array_len()?;
                let mut items = Vec::with_capacity(n.min(64));
                for _ in 0..n {
                    items.push(self.value(depth + 1)?);
                }
                AttrValue::Array(items)
            }
            Marker::FixMap(_) | Marker::Map16 | Marker::Map32 => {
                let n = self.map_len()?;
                let mut map = BTreeMap::new();
                for _ in 0..n {
                    let k = self.str()?.to_owned();
                    map.insert(k, self.value(depth + 1)?);
                }
                AttrValue::Map(map)
            }
            m => return Err(format!("unsupported {m:?}")),
        })
    }
    fn distribution(&mut self) -> R<Distribution> {
        let len = self.array_len()?;
        let kind = self.u64()?;
        match (kind, len) {
            (0, 5) => {
                let (low, high, log) = (self.f64()?, self.f64()?, self.bool()?);
                let step = if self.nil()? { None } else { Some(self.f64()?) };
                Distribution::float(low, high, log, step).map_err(e)
            }
            (1, 5) => {
                Distribution::int(self.i64()?, self.i64()?, self.bool()?, self.i64()?).map_err(e)
            }
            (2, 2) => {
                let n = self.array_len()?;
                let mut choices = Vec::with_capacity(n.min(64));
                for _ in 0..n {
                    choices.push(match self.value(1000)? {
                        AttrValue::Null => ParamValue::Null,
                        AttrValue::Bool(b) => ParamValue::Bool(b),
                        AttrValue::Int(i) => ParamValue::Int(i),
                        AttrValue::Float(x) => ParamValue::Float(x),
                        AttrValue::String(s) => ParamValue::Str(s),
                        _ => return Err("bad choice".into()),
                    });
                }
                Distribution::categorical(choices).map_err(e)
            }
            _ => Err("bad distribution".into()),
        }
    }
    fn opt_f64s(&mut self) -> R<Option<Vec<f64>>> {
        if self.nil()? {
            return Ok(None);
        }
        let n = self.array_len()?;
        (0..n).map(|_| self.f64()).collect::<R<Vec<_>>>().map(Some)
    }
    fn opt_ts(&mut self) -> R<Option<Timestamp>> {
        if self.nil()? { Ok(None) } else { Ok(Some(Timestamp(self.i64()?))) }
    }
    fn operation(&mut self) -> R<Operation> {
        let len = self.array_len()?;
        let code = self.u64()?;
        let want = match code {
            0 | 7 => 3 + usize::from(code == 7),
            4 | 8 => 4,
            5 | 6 => 5,
            _ => return Err(format!("op {code} not in this benchmark")),
        };
        if len != want {
            return Err("field count".into());
        }
        Ok(match code {
            0 => {
                let study_name = self.str()?.to_owned();
                let n = self.array_len()?;
                let mut directions = Vec::with_capacity(n);
                for _ in 0..n {
                    let c = self.u64()?;
                    directions.push(StudyDirection::from_code(c).ok_or("direction")?);
                }
                Operation::CreateStudy { study_name, directions }
            }
            4 => {
                let study_id = self.u64()?;
                let datetime_start = self.opt_ts()?;
                if !self.nil()? {
                    return Err("templates not in this benchmark".into());
                }
                Operation::CreateTrial { study_id, datetime_start, template: None }
            }
            5 => Operation::SetTrialParam {
                trial_id: self.u64()?,
                name: self.str()?.to_owned(),
                internal: self.f64()?,
                distribution: self.distribution()?,
            },
            6 => Operation::SetTrialStateValues {
                trial_id: self.u64()?,
                state: TrialState::from_code(self.u64()?).ok_or("state")?,
                values: self.opt_f64s()?,
                datetime: self.opt_ts()?,
            },
            7 => Operation::SetTrialIntermediateValue {
                trial_id: self.u64()?,
                step: self.i64()?.into(),
                value: self.f64()?,
            },
            _ => Operation::SetTrialUserAttr {
                trial_id: self.u64()?,
                key: self.str()?.to_owned(),
                value: self.value(1)?,
            },
        })
    }
}

fn rmp_decode_into(payload: &[u8], batch: &mut LogBatch) -> R<()> {
    let mut r = Rmp { rd: Bytes::new(payload) };
    if r.array_len()? != 2 {
        return Err("batch".into());
    }
    let worker = r.str()?;
    if worker != batch.worker_id {
        batch.worker_id.clear();
        batch.worker_id.push_str(worker);
    }
    let n = r.array_len()?;
    batch.ops.clear();
    for _ in 0..n {
        batch.ops.push(r.operation()?);
    }
    if !r.rd.remaining_slice().is_empty() {
        return Err("trailing bytes".into());
    }
    Ok(())
}

fn benches(c: &mut Criterion) {
    for (shape, with_attrs) in [("w1", false), ("w1_attrs", true)] {
        let payloads = payloads(20_000, with_attrs);
        let bytes: usize = payloads.iter().map(Vec::len).sum();
        // Both readers agree on every payload.
        let (mut a, mut b) = (
            LogBatch { worker_id: String::new(), ops: vec![] },
            LogBatch { worker_id: String::new(), ops: vec![] },
        );
        for p in &payloads {
            decode_batch_into(p, &mut a).unwrap();
            rmp_decode_into(p, &mut b).unwrap();
            assert_eq!(a, b);
        }
        let mut group = c.benchmark_group(format!("decode/{shape}"));
        group.throughput(Throughput::Bytes(bytes as u64));
        group.bench_function("hand_written", |bench| {
            let mut batch = LogBatch { worker_id: String::new(), ops: vec![] };
            bench.iter(|| {
                for p in &payloads {
                    decode_batch_into(p, &mut batch).unwrap();
                }
            })
        });
        group.bench_function("rmp", |bench| {
            let mut batch = LogBatch { worker_id: String::new(), ops: vec![] };
            bench.iter(|| {
                for p in &payloads {
                    rmp_decode_into(p, &mut batch).unwrap();
                }
            })
        });
        group.finish();
    }
}

criterion_group! { name = group; config = Criterion::default().sample_size(20); targets = benches }
criterion_main!(group);
