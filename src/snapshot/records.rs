//! A snapshot's state frames decoded straight into restore steps (`docs/FORMAT.md`,
//! "Snapshots"): each create-trial record (code 4, or 4 inside an extended operation 11) becomes
//! its trial with no intermediate template, and the few study records (codes 0, 2, 3) go through
//! the journal's codec. Decoding uses the codec's own reader (`crate::journal::codec::Reader`), so
//! it accepts exactly what the journal accepts. Decoding touches no shared state, so frames can be
//! decoded on several threads; the steps are applied to the [`Restore`] in frame order.
//!
//! What keeps a load cheap: a study's trials mostly have the same parameters with the same
//! distributions, so each distinct (name, distribution bytes) is decoded once per study and its
//! parsed distribution reused when the next trial's bytes are equal (MessagePack values are
//! prefix-free, so "these bytes start with a cached encoding" means "this value is it"); and each
//! distinct list of them becomes one distribution map shared by all the trials that have it.

use std::collections::HashMap;
use std::sync::Arc;

use crate::journal::Operation;
use crate::journal::operation::EXTENDED_CODE;
use crate::model::{
    AttrValue, Distribution, Distributions, FrozenTrial, Integer, ParamValue, Values, VecMap,
};
use crate::replay::Restore;

use crate::journal::codec::{self, DecodeResult as Res, Reader, malformed as bad};

/// The create-trial operation code.
const CREATE_TRIAL: u64 = 4;
/// Most distinct encodings of one parameter's distribution a study caches (more are decoded
/// each time they appear).
const MAX_VARIANTS: usize = 16;

/// One decoded record of a state frame, to apply to a [`Restore`] in order.
pub(super) enum Step {
    /// The operations of a study record (codes 0, 2, 3; the codec may decode a record to
    /// none), for [`Restore::apply`].
    Study(Vec<Operation>),
    /// A trial (ids and number set when applied) and whether its distribution map is new to its
    /// study on the thread that decoded it, for [`Restore::push_trial`].
    Trial(Arc<FrozenTrial>, bool),
}

impl Step {
    /// Applies this step to `restore`.
    pub(super) fn apply(self, restore: &mut Restore) -> Result<(), String> {
        match self {
            Step::Study(ops) => ops.into_iter().try_for_each(|op| restore.apply(op)),
            Step::Trial(trial, new_layout) => restore.push_trial(trial, new_layout),
        }
    }
}

/// Decodes state frames into [`Step`]s, keeping per-study caches between the frames it decodes.
#[derive(Default)]
pub(super) struct Records {
    studies: HashMap<u64, StudyCache>,
    /// Scratch: the current trial's parameters (name, distribution, value).
    params: Vec<(Arc<str>, Arc<Distribution>, ParamValue)>,
    /// Scratch: the current trial's (slot, variant) list, its layout's key.
    key: Vec<(u32, u32)>,
    /// Scratch: the current trial's slots.
    slots: Vec<usize>,
}

/// What one study's trials have shown so far.
#[derive(Default)]
struct StudyCache {
    /// One per distinct parameter name.
    slots: Vec<Slot>,
    by_name: HashMap<Box<[u8]>, usize>,
    /// The slots of the previous trial's parameters, in order (the usual next ones).
    prev: Vec<usize>,
    /// Each distinct list of (slot, variant) and its shared distribution map.
    layouts: HashMap<Vec<(u32, u32)>, Distributions>,
    /// The previous trial's layout.
    last: Option<(Vec<(u32, u32)>, Distributions)>,
}

/// One parameter name and the encodings of its distributions seen so far.
struct Slot {
    name: Arc<str>,
    /// The distribution's exact bytes and the distribution.
    variants: Vec<(Box<[u8]>, Arc<Distribution>)>,
}

impl StudyCache {
    /// The slot of the parameter name read next (`hint`: the likely one).
    fn slot(&mut self, r: &mut Reader<'_>, hint: Option<usize>) -> Res<usize> {
        let at = r.pos;
        let name = r.str_bytes()?;
        if let Some(s) = hint.filter(|&s| self.slots[s].name.as_bytes() == name) {
            return Ok(s);
        }
        if let Some(&s) = self.by_name.get(name) {
            return Ok(s);
        }
        let Ok(text) = std::str::from_utf8(name) else { return bad(at, "string is not UTF-8") };
        self.slots.push(Slot { name: Arc::from(text), variants: Vec::new() });
        self.by_name.insert(name.into(), self.slots.len() - 1);
        Ok(self.slots.len() - 1)
    }
}

impl Records {
    /// Decodes one state frame's payload (`["", [record, ...]]`) into its steps, in order.
    pub(super) fn frame(&mut self, payload: &[u8]) -> Result<Vec<Step>, String> {
        self.records(payload).map_err(|e| e.to_string())
    }

    fn records(&mut self, payload: &[u8]) -> Res<Vec<Step>> {
        let mut r = Reader::new(payload);
        r.array_of(2, "batch")?;
        r.str()?;
        let n = r.array_len()?;
        // Each record takes at least one byte: a hostile count cannot reserve more than that.
        let mut steps = Vec::with_capacity(n.min(payload.len()));
        for _ in 0..n {
            steps.push(self.record(&mut r)?);
        }
        if r.pos != payload.len() {
            return bad(r.pos, "trailing bytes after the batch");
        }
        Ok(steps)
    }

    fn record(&mut self, r: &mut Reader<'_>) -> Res<Step> {
        let start = r.pos;
        let mut len = r.array_len()?;
        let mut code = if len == 0 { return bad(start, "empty operation") } else { r.u64()? };
        if code == EXTENDED_CODE {
            if len != 2 {
                return bad(start, "an extended operation wraps exactly one operation");
            }
            r.extended = true;
            len = r.array_len()?;
            code = if len == 0 { return bad(start, "empty operation") } else { r.u64()? };
        }
        let done = if code == CREATE_TRIAL {
            if len != 4 {
                return bad(start, format_args!("operation 4 has {len} fields, expected 4"));
            }
            self.trial(r)
        } else {
            // A study record (or anything else, which the restore rules refuse): the codec
            // decodes the one operation, wrapped as a batch of its own.
            r.pos = start;
            r.extended = false;
            r.skip(0)?;
            let mut one = Vec::with_capacity(3 + r.pos - start);
            one.extend_from_slice(&[0x92, 0xa0, 0x91]);
            one.extend_from_slice(&r.buf[start..r.pos]);
            match codec::decode_batch(&one) {
                Ok(batch) => Ok(Step::Study(batch.ops)),
                Err(e) => bad(start, e),
            }
        };
        r.extended = false;
        done
    }

    /// A create-trial record's fields after its code, straight into the restored trial.
    fn trial(&mut self, r: &mut Reader<'_>) -> Res<Step> {
        let study_id = r.u64()?;
        let datetime_start = r.opt_timestamp()?;
        if r.nil()? {
            return bad(r.pos, "a trial record without its content");
        }
        r.array_of(7, "trial template")?;
        let state = r.state()?;
        let mut trial = FrozenTrial::new(0, 0, study_id, state);
        trial.datetime_start = datetime_start;
        if !r.nil()? {
            let n = r.array_len()?;
            trial.values = Some(if n == 1 {
                Values::from(&[r.f64()?][..])
            } else {
                (0..n).map(|_| r.f64()).collect::<Res<Vec<f64>>>()?.into()
            });
        }
        trial.datetime_complete = r.opt_timestamp()?;
        let new_layout = self.params(r, &mut trial)?;
        let user_attrs: Vec<(String, AttrValue)> = r.str_map(|r| r.value(1))?;
        if !user_attrs.is_empty() {
            trial.user_attrs = user_attrs.into_iter().collect();
        }
        let system_attrs: Vec<(String, AttrValue)> = r.str_map(|r| r.value(1))?;
        if !system_attrs.is_empty() {
            trial.system_attrs = system_attrs.into_iter().collect();
        }
        let n = r.map_len()?;
        if n > 0 {
            trial.intermediate_values =
                (0..n).map(|_| Ok((r.step()?, r.f64()?))).collect::<Res<VecMap<Integer, f64>>>()?;
        }
        Ok(Step::Trial(Arc::new(trial), new_layout))
    }

    /// The template's parameters into `trial` (values and a shared distribution map); returns
    /// whether the map is new to its study.
    fn params(&mut self, r: &mut Reader<'_>, trial: &mut FrozenTrial) -> Res<bool> {
        let n = r.map_len()?;
        if n == 0 {
            return Ok(false);
        }
        let study = self.studies.entry(trial.study_id).or_default();
        self.params.clear();
        self.key.clear();
        self.slots.clear();
        let mut cached = true;
        for i in 0..n {
            let s = study.slot(r, study.prev.get(i).copied())?;
            self.slots.push(s);
            r.array_of(2, "template parameter")?;
            let internal = r.f64()?;
            let slot = &mut study.slots[s];
            let rest = &r.buf[r.pos..];
            let (variant, dist) = match slot.variants.iter().position(|(b, _)| rest.starts_with(b))
            {
                Some(v) => {
                    r.pos += slot.variants[v].0.len();
                    (v as u32, Arc::clone(&slot.variants[v].1))
                }
                None => {
                    let at = r.pos;
                    let dist = Arc::new(r.distribution()?);
                    // A legacy class is valid only inside an extended operation: never reuse
                    // its bytes where they would be refused.
                    if slot.variants.len() < MAX_VARIANTS && !dist.is_legacy() {
                        slot.variants.push((r.buf[at..r.pos].into(), Arc::clone(&dist)));
                        (slot.variants.len() as u32 - 1, dist)
                    } else {
                        cached = false;
                        (u32::MAX, dist)
                    }
                }
            };
            let Some(value) = dist.to_external(internal) else {
                return bad(r.pos, format_args!("parameter {:?} has no external value", slot.name));
            };
            self.key.push((s as u32, variant));
            self.params.push((Arc::clone(&slot.name), dist, value));
        }
        std::mem::swap(&mut study.prev, &mut self.slots);
        let params = &self.params;
        let fresh = || -> Distributions {
            params.iter().map(|(n, d, _)| (Arc::clone(n), Arc::clone(d))).collect()
        };
        let (distributions, new_layout) = match &study.last {
            _ if !cached => (fresh(), true),
            Some((key, map)) if *key == self.key => (map.clone(), false),
            _ => {
                let (map, new) = match study.layouts.get(self.key.as_slice()) {
                    Some(map) => (map.clone(), false),
                    None => {
                        let map = fresh();
                        study.layouts.insert(self.key.clone(), map.clone());
                        (map, true)
                    }
                };
                study.last = Some((self.key.clone(), map.clone()));
                (map, new)
            }
        };
        trial.distributions = distributions;
        trial.params = self.params.drain(..).map(|(n, _, v)| (n, v)).collect();
        Ok(new_layout)
    }
}
