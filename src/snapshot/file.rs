//! The bytes of a snapshot file (`docs/FORMAT.md`, "Snapshots"): a header like the journal's,
//! then the journal's frames holding the anchor, the tables and the state's records.
//!
//! This build writes version 2, whose trials are loaded lazily (`super::lazy`): its studies'
//! records and its trials' records are in frames of their own, and an index frame gives each
//! trial's study and state, so an open builds the studies and their trial lists without decoding
//! a trial. It still reads version 1 (every record decoded at the open).

use std::collections::BTreeMap;
use std::io::{self, Read, Write};
use std::sync::{Arc, mpsc};

use crate::model::TrialState;
use crate::sys::map::Whole;

use serde::Serialize;

use crate::journal::frame::{self, FrameCheck};
use crate::journal::{LogBatch, Operation, TrialTemplate, codec};
use crate::model::Timestamp;
use crate::replay::{Heartbeats, Parts, ReplayState, ReplayStats, Restore};

use super::JournalKind;
use super::anchor::Record;
use super::lazy::{LazyTrials, Origin};
use super::records::{Records, Step};

/// The 8 magic bytes that open every snapshot.
pub(crate) const MAGIC: [u8; 8] = *b"\x89TLSNAP\n";
/// The snapshot format version this build writes.
pub(crate) const VERSION: u16 = 2;
/// The oldest version this build reads (version 1: decoded whole at the open).
const OLDEST_READ: u16 = 1;
/// Size of the header.
const HEADER_LEN: usize = 16;
/// Records per state frame (a version 1 load holds one frame's records at a time; in version 2
/// a trial frame holds exactly this many trials, the last one the rest).
pub(crate) const OPS_PER_FRAME: usize = 4096;
/// Trials per index frame (version 2).
pub(crate) const INDEX_PER_FRAME: usize = 1 << 16;
/// Bytes of one index entry: the trial's study id (u64, little-endian) and state code (u8).
pub(crate) const INDEX_ENTRY_LEN: usize = 9;

/// Frame 0: which journal and which prefix of it (the frame also says how many frames of each
/// kind follow the tables).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Anchor {
    pub kind: JournalKind,
    pub first: Record,
    pub last: Record,
}

type WireRecord = (u64, u64, u32);
type WireAnchor = (u8, WireRecord, WireRecord, u64);
/// Version 2's anchor: kind, first, last, study frames, trial frames.
type WireAnchorV2 = (u8, WireRecord, WireRecord, u64, u64);
type WireStats = (u64, u64, u64, Vec<u64>);
/// Frame 1: next study id, trial count, live study ids, stats, heartbeats, workers, runs.
type WireTables<S> =
    (u64, u64, Vec<u64>, WireStats, Vec<(u64, i64, u64)>, Vec<S>, Vec<(u64, u64, u32)>);
/// Version 2's tables: version 1's, then each live study's parameters with the number of the
/// first trial that had it and its distribution there (Optuna's JSON): study id, name, number,
/// distribution.
type WireTablesV2<S> = (
    u64,
    u64,
    Vec<u64>,
    WireStats,
    Vec<(u64, i64, u64)>,
    Vec<S>,
    Vec<(u64, u64, u32)>,
    Vec<(u64, S, u64, S)>,
);

fn wire(r: &Record) -> WireRecord {
    (r.offset, r.length, r.crc)
}

fn unwire((offset, length, crc): WireRecord) -> Record {
    Record { offset, length, crc }
}

fn header() -> [u8; HEADER_LEN] {
    let mut h = [0u8; HEADER_LEN];
    h[..8].copy_from_slice(&MAGIC);
    h[8..10].copy_from_slice(&VERSION.to_le_bytes());
    let crc = crc32fast::hash(&h[..12]);
    h[12..].copy_from_slice(&crc.to_le_bytes());
    h
}

fn msgpack<T: Serialize>(value: &T) -> Vec<u8> {
    rmp_serde::to_vec(value).expect("encoding plain tuples into memory cannot fail")
}

/// Writes the version 2 snapshot of `state` (which replayed the journal up to `last.end()`).
pub(crate) fn write<W: Write>(
    out: &mut W,
    kind: JournalKind,
    first: &Record,
    last: &Record,
    state: &ReplayState,
) -> Result<(), String> {
    let io = |e: io::Error| e.to_string();
    let parts: Parts<'_> = state.parts();
    let study_records =
        parts.studies.iter().map(|s| 1 + s.user_attrs.len() + s.system_attrs.len()).sum::<usize>();
    let study_frames = study_records.div_ceil(OPS_PER_FRAME) as u64;
    let trial_count = parts.trial_count;
    let trial_frames = trial_count.div_ceil(OPS_PER_FRAME) as u64;
    out.write_all(&header()).map_err(io)?;
    let put = |payload: &[u8], out: &mut W| {
        let mut buf = Vec::with_capacity(payload.len() + frame::FRAME_HEADER_LEN);
        frame::encode_frame(payload, &mut buf);
        out.write_all(&buf).map_err(io)
    };
    let code = match kind {
        JournalKind::Trialog => 0,
        JournalKind::Optuna => 1,
    };
    let anchor: WireAnchorV2 = (code, wire(first), wire(last), study_frames, trial_frames);
    put(&msgpack(&anchor), out)?;
    let mut runs: Vec<(u64, u64, u32)> = Vec::new();
    for (id, &w) in (0u64..).zip(parts.runners) {
        match runs.last_mut() {
            _ if w == u32::MAX => {}
            Some((first, n, last)) if *last == w && *first + *n == id => *n += 1,
            _ => runs.push((id, 1, w)),
        }
    }
    let s: ReplayStats = parts.stats;
    let reps = parts.param_reps.iter().map(|(study, name, number, dist)| {
        (
            *study,
            (*name).to_owned(),
            *number,
            crate::journal::optuna_codec::distribution_to_json(dist),
        )
    });
    let tables: WireTablesV2<String> = (
        parts.next_study_id,
        trial_count as u64,
        parts.studies.iter().map(|s| s.study_id).collect(),
        (s.batches, s.applied, s.ignored, s.by_kind.to_vec()),
        parts.heartbeats.iter().map(|(id, h)| (*id, h.latest.0, h.count)).collect(),
        parts.workers.iter().map(|w| w.to_string()).collect(),
        runs,
        reps.collect(),
    );
    put(&msgpack(&tables), out)?;
    let mut w = StateFrames { batch: LogBatch { worker_id: String::new(), ops: Vec::new() }, out };
    for study in &parts.studies {
        let id = study.study_id;
        w.push(Operation::CreateStudy {
            study_name: study.study_name.clone(),
            directions: study.directions.clone(),
        })?;
        for (key, value) in &study.user_attrs {
            let (key, value) = (key.clone(), value.clone());
            w.push(Operation::SetStudyUserAttr { study_id: id, key, value })?;
        }
        for (key, value) in &study.system_attrs {
            let (key, value) = (key.clone(), value.clone());
            w.push(Operation::SetStudySystemAttr { study_id: id, key, value })?;
        }
    }
    w.flush()?; // the trials start a frame of their own
    // Each block of trials that nothing decoded since the state was loaded from a snapshot is
    // that snapshot's frame, copied as it is; the others are encoded.
    let mut index: Vec<(u64, u8)> = Vec::with_capacity(trial_count);
    for first in (0..trial_count).step_by(OPS_PER_FRAME) {
        let count = OPS_PER_FRAME.min(trial_count - first);
        if let Some(block) = parts.undecoded_block(first as u64, count as u64) {
            w.out.write_all(block.frame).map_err(io)?;
            index.extend(block.entries);
            continue;
        }
        for trial in parts.trials_in(first as u64..(first + count) as u64).iter().map(|t| &***t) {
            index.push((trial.study_id, trial.state.code()));
            w.push(Operation::CreateTrial {
                study_id: trial.study_id,
                datetime_start: trial.datetime_start,
                template: Some(Box::new(TrialTemplate::recreating(trial)?)),
            })?;
        }
        w.flush()?;
    }
    for chunk in index.chunks(INDEX_PER_FRAME) {
        let n = chunk.len() * INDEX_ENTRY_LEN;
        let mut payload = Vec::with_capacity(5 + n);
        payload.push(0xc6); // MessagePack bin 32
        payload.extend_from_slice(&(n as u32).to_be_bytes());
        for (study, state) in chunk {
            payload.extend_from_slice(&study.to_le_bytes());
            payload.push(*state);
        }
        put(&payload, &mut *w.out)?;
    }
    Ok(())
}

/// The state's records, [`OPS_PER_FRAME`] to a frame.
struct StateFrames<'a, W: Write> {
    batch: LogBatch,
    out: &'a mut W,
}

impl<W: Write> StateFrames<'_, W> {
    fn push(&mut self, op: Operation) -> Result<(), String> {
        self.batch.ops.push(op);
        if self.batch.ops.len() == OPS_PER_FRAME { self.flush() } else { Ok(()) }
    }

    fn flush(&mut self) -> Result<(), String> {
        if self.batch.ops.is_empty() {
            return Ok(());
        }
        let payload = codec::encode_batch(&self.batch);
        if payload.len() > frame::MAX_PAYLOAD_LEN {
            return Err("a frame of the snapshot would exceed the frame size limit".to_owned());
        }
        self.batch.ops.clear();
        let mut buf = Vec::with_capacity(payload.len() + frame::FRAME_HEADER_LEN);
        frame::encode_frame(&payload, &mut buf);
        self.out.write_all(&buf).map_err(|e| e.to_string())
    }
}

/// Reads one frame into `buf` and returns its payload.
fn next_frame<'a>(r: &mut impl Read, buf: &'a mut Vec<u8>) -> Result<&'a [u8], String> {
    buf.resize(frame::FRAME_HEADER_LEN, 0);
    r.read_exact(buf).map_err(|e| format!("cut short: {e}"))?;
    let len = u32::from_le_bytes([buf[0], buf[1], buf[2], buf[3]]) as usize;
    if len == 0 || len > frame::MAX_PAYLOAD_LEN {
        return Err(format!("frame length {len} out of range"));
    }
    buf.resize(frame::FRAME_HEADER_LEN + len, 0);
    r.read_exact(&mut buf[frame::FRAME_HEADER_LEN..]).map_err(|e| format!("cut short: {e}"))?;
    match frame::check_frame(buf) {
        FrameCheck::Batch { payload, .. } => Ok(payload),
        _ => Err("a frame fails its CRC".into()),
    }
}

/// Reads a snapshot from `bytes` (the whole file): the header, the anchor (handed to `accept`,
/// which refuses a snapshot of another journal before anything else is read), then the state.
/// `Err` says why it is unusable. A version 2 snapshot's trials are left in `bytes`, decoded
/// when first read (see `super::lazy`); `origin` is where a replay would find them instead.
pub(super) fn read(
    bytes: Whole,
    accept: impl FnOnce(&Anchor) -> Result<(), String>,
    origin: impl FnOnce(u64) -> Origin,
) -> Result<(ReplayState, Anchor), String> {
    let head = bytes.get(..HEADER_LEN).ok_or("header cut short")?;
    if head[..8] != MAGIC || crc32fast::hash(&head[..12]).to_le_bytes() != head[12..] {
        return Err("not a snapshot (bad magic or header CRC)".into());
    }
    let version = u16::from_le_bytes([head[8], head[9]]);
    let flags = u16::from_le_bytes([head[10], head[11]]);
    if !(OLDEST_READ..=VERSION).contains(&version) || flags != 0 {
        return Err(format!(
            "snapshot version {version} flags {flags:#x}: this build reads {OLDEST_READ} to \
             {VERSION}"
        ));
    }
    if version == 1 {
        return read_v1(&mut &bytes[HEADER_LEN..], accept);
    }
    read_v2(bytes, accept, origin)
}

fn journal_kind(code: u8) -> Result<JournalKind, String> {
    match code {
        0 => Ok(JournalKind::Trialog),
        1 => Ok(JournalKind::Optuna),
        k => Err(format!("unknown journal kind {k}")),
    }
}

fn bad(what: &str, e: rmp_serde::decode::Error) -> String {
    format!("bad {what}: {e}")
}

fn replay_stats(stats: WireStats) -> Result<ReplayStats, String> {
    let (batches, applied, ignored, by_kind) = stats;
    let mut stats = ReplayStats { batches, applied, ignored, ..ReplayStats::default() };
    if by_kind.len() != stats.by_kind.len() {
        return Err("operation kinds of another build".into());
    }
    stats.by_kind.copy_from_slice(&by_kind);
    Ok(stats)
}

fn heartbeats(wire: Vec<(u64, i64, u64)>) -> Vec<(u64, Heartbeats)> {
    wire.into_iter()
        .map(|(id, at, count)| (id, Heartbeats { latest: Timestamp(at), count }))
        .collect()
}

/// Version 1, after the header: every record decoded now.
fn read_v1(
    r: &mut impl Read,
    accept: impl FnOnce(&Anchor) -> Result<(), String>,
) -> Result<(ReplayState, Anchor), String> {
    let mut buf = Vec::new();
    let (kind, first, last, frames): WireAnchor =
        rmp_serde::from_slice(next_frame(r, &mut buf)?).map_err(|e| bad("anchor", e))?;
    let anchor = Anchor { kind: journal_kind(kind)?, first: unwire(first), last: unwire(last) };
    accept(&anchor)?;
    let (next_study_id, trials, study_ids, stats, beats, workers, runs): WireTables<String> =
        rmp_serde::from_slice(next_frame(r, &mut buf)?).map_err(|e| bad("tables", e))?;
    let mut restore = Restore::new(next_study_id, study_ids, replay_stats(stats)?, trials);
    state_frames(r, frames, &mut restore)?;
    let mut more = [0u8; 1];
    match r.read(&mut more) {
        Ok(0) => {}
        Ok(_) => return Err("bytes after the last frame".to_owned()),
        Err(e) => return Err(e.to_string()),
    }
    Ok((restore.finish(trials, heartbeats(beats), workers, runs)?, anchor))
}

/// The frame at `*at` in `bytes` (its length in range and inside `bytes`), moving `*at` past it;
/// returns its offset and whole length. Its CRC is not checked.
fn frame_at(bytes: &[u8], at: &mut usize) -> Result<(usize, usize), String> {
    let start = *at;
    let prefix = bytes.get(start..start + frame::FRAME_HEADER_LEN).ok_or("cut short")?;
    let len = u32::from_le_bytes([prefix[0], prefix[1], prefix[2], prefix[3]]) as usize;
    if len == 0 || len > frame::MAX_PAYLOAD_LEN {
        return Err(format!("frame length {len} out of range"));
    }
    let whole = frame::FRAME_HEADER_LEN + len;
    if bytes.len() - start < whole {
        return Err("cut short".into());
    }
    *at += whole;
    Ok((start, whole))
}

/// [`frame_at`], CRC checked; returns the payload.
fn checked_frame<'b>(bytes: &'b [u8], at: &mut usize) -> Result<&'b [u8], String> {
    let (start, whole) = frame_at(bytes, at)?;
    match frame::check_frame(&bytes[start..start + whole]) {
        FrameCheck::Batch { payload, .. } => Ok(payload),
        _ => Err("a frame fails its CRC".into()),
    }
}

/// Version 2, whole: the studies, their trial lists and the tables now; the trials lazily.
fn read_v2(
    bytes: Whole,
    accept: impl FnOnce(&Anchor) -> Result<(), String>,
    origin: impl FnOnce(u64) -> Origin,
) -> Result<(ReplayState, Anchor), String> {
    let b: &[u8] = &bytes;
    let mut at = HEADER_LEN;
    let (kind, first, last, study_frames, trial_frames): WireAnchorV2 =
        rmp_serde::from_slice(checked_frame(b, &mut at)?).map_err(|e| bad("anchor", e))?;
    let anchor = Anchor { kind: journal_kind(kind)?, first: unwire(first), last: unwire(last) };
    accept(&anchor)?;
    let (next_study_id, trials, study_ids, stats, beats, workers, runs, reps): WireTablesV2<
        String,
    > = rmp_serde::from_slice(checked_frame(b, &mut at)?).map_err(|e| bad("tables", e))?;
    let count = usize::try_from(trials).map_err(|_| "too many trials")?;
    if trial_frames != count.div_ceil(OPS_PER_FRAME) as u64 {
        return Err(format!("{trial_frames} trial frames for {trials} trials"));
    }
    let mut restore = Restore::new(next_study_id, study_ids, replay_stats(stats)?, trials);
    let mut records = Records::default();
    for _ in 0..study_frames {
        for step in records.frame(checked_frame(b, &mut at)?)? {
            if matches!(step, Step::Trial(..)) {
                return Err("a trial record among the studies' records".into());
            }
            step.apply(&mut restore)?;
        }
    }
    let frames = (0..trial_frames).map(|_| frame_at(b, &mut at)).collect::<Result<Vec<_>, _>>()?;
    let mut index = Vec::with_capacity(count.div_ceil(INDEX_PER_FRAME));
    let mut numbers = Vec::with_capacity(count);
    for chunk in 0..count.div_ceil(INDEX_PER_FRAME) {
        let want = INDEX_PER_FRAME.min(count - chunk * INDEX_PER_FRAME) * INDEX_ENTRY_LEN;
        let start = at;
        let payload = checked_frame(b, &mut at)?;
        let stated = payload.get(1..5).map(|n| u32::from_be_bytes([n[0], n[1], n[2], n[3]]));
        if payload.len() != 5 + want || payload[0] != 0xc6 || stated != Some(want as u32) {
            return Err(format!("index frame {chunk} is not {want} bytes of entries"));
        }
        index.push(start + frame::FRAME_HEADER_LEN + 5);
        for e in payload[5..].chunks_exact(INDEX_ENTRY_LEN) {
            let study = u64::from_le_bytes([e[0], e[1], e[2], e[3], e[4], e[5], e[6], e[7]]);
            let state = TrialState::from_code(u64::from(e[8]))
                .ok_or_else(|| format!("trial state code {} in the index", e[8]))?;
            numbers.push(restore.push_undecoded(study, state)?);
        }
    }
    if at != b.len() {
        return Err("bytes after the last frame".to_owned());
    }
    for (study, name, number, dist) in reps {
        let dist = crate::journal::optuna_codec::distribution_from_json(&dist)
            .map_err(|e| format!("parameter {name:?}: {e}"))?;
        restore.param_rep(study, &name, number, dist)?;
    }
    let origin = origin(anchor.last.end());
    let source = LazyTrials::new(bytes, frames, index, numbers, records, origin);
    let state = restore.finish_lazy(Arc::new(source), trials, heartbeats(beats), workers, runs)?;
    Ok((state, anchor))
}

/// Most threads that decode a snapshot's state frames.
const MAX_DECODERS: usize = 4;
/// Frames read ahead of the decoders, per decoder.
const READ_AHEAD: usize = 2;

/// Reads `frames` state frames from `r` and applies their records to `restore` in order.
///
/// The frames are decoded on up to [`MAX_DECODERS`] threads (one per core), the frames taken in
/// turn, while this thread reads the frames and applies the decoded records in frame order; with
/// one core, or one frame, it decodes them itself. What a load holds besides the state stays
/// small: at most [`READ_AHEAD`] frames' bytes per decoder wait to be decoded, and decoded
/// records move into the state without a copy. The first error (a frame cut short or failing
/// its CRC, a malformed record, a record the restore refuses) ends the load.
fn state_frames(r: &mut impl Read, frames: u64, restore: &mut Restore) -> Result<(), String> {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let decoders = cores.min(MAX_DECODERS).min(usize::try_from(frames).unwrap_or(usize::MAX));
    if decoders < 2 {
        let (mut records, mut buf) = (Records::default(), Vec::new());
        for _ in 0..frames {
            for step in records.frame(next_frame(r, &mut buf)?)? {
                step.apply(restore)?;
            }
        }
        return Ok(());
    }
    std::thread::scope(|scope| {
        let (done_tx, done) = mpsc::channel::<Decoded>();
        // Frame buffers go round: read into, decoded from, handed back.
        let (spare_tx, spare) = mpsc::channel::<Vec<u8>>();
        let mut inputs = Vec::with_capacity(decoders);
        for _ in 0..decoders {
            let (tx, rx) = mpsc::sync_channel::<(u64, Vec<u8>)>(READ_AHEAD);
            let (done_tx, spare_tx) = (done_tx.clone(), spare_tx.clone());
            scope.spawn(move || {
                let mut records = Records::default();
                for (index, frame) in rx {
                    let steps = records.frame(payload(&frame));
                    let _ = spare_tx.send(frame);
                    let failed = steps.is_err();
                    if done_tx.send((index, steps)).is_err() || failed {
                        return;
                    }
                }
            });
            inputs.push(tx);
        }
        drop((done_tx, spare_tx));
        let mut applier = InOrder { next: 0, waiting: BTreeMap::new() };
        for index in 0..frames {
            let mut buf = spare.try_recv().unwrap_or_default();
            next_frame(r, &mut buf)?;
            let decoder = &inputs[(index % decoders as u64) as usize];
            // A decoder that stopped has sent its error: it is applied below.
            if decoder.send((index, buf)).is_err() {
                break;
            }
            while let Ok((i, steps)) = done.try_recv() {
                applier.take(i, steps, restore)?;
            }
        }
        drop(inputs);
        for (i, steps) in done {
            applier.take(i, steps, restore)?;
        }
        if applier.next == frames { Ok(()) } else { Err("a decoder stopped early".to_owned()) }
    })
}

/// A decoded frame: its index and its records' steps, or why it could not be decoded.
type Decoded = (u64, Result<Vec<Step>, String>);

/// The payload of a whole frame that [`next_frame`] checked.
fn payload(frame: &[u8]) -> &[u8] {
    &frame[frame::FRAME_HEADER_LEN..]
}

/// Applies decoded frames to a [`Restore`] in frame order, holding those that arrive early.
struct InOrder {
    next: u64,
    waiting: BTreeMap<u64, Vec<Step>>,
}

impl InOrder {
    fn take(
        &mut self,
        index: u64,
        steps: Result<Vec<Step>, String>,
        restore: &mut Restore,
    ) -> Result<(), String> {
        self.waiting.insert(index, steps?);
        while let Some(steps) = self.waiting.remove(&self.next) {
            for step in steps {
                step.apply(restore)?;
            }
            self.next += 1;
        }
        Ok(())
    }
}
