//! The bytes of a snapshot file (`docs/FORMAT.md`, "Snapshots"): a header like the journal's,
//! then the journal's frames holding the anchor, the tables and the state's records.

use std::collections::BTreeMap;
use std::io::{self, Read, Write};
use std::sync::{Arc, mpsc};

use serde::Serialize;

use crate::journal::frame::{self, FrameCheck};
use crate::journal::{LogBatch, Operation, TrialTemplate, codec};
use crate::model::Timestamp;
use crate::replay::{Heartbeats, Parts, ReplayState, ReplayStats, Restore};

use super::JournalKind;
use super::anchor::Record;
use super::records::{Records, Step};

/// The 8 magic bytes that open every snapshot.
pub(crate) const MAGIC: [u8; 8] = *b"\x89TLSNAP\n";
/// The snapshot format version this build writes and the only one it reads.
pub(crate) const VERSION: u16 = 1;
/// Size of the header.
const HEADER_LEN: usize = 16;
/// Records per state frame (a load holds one frame's records at a time).
const OPS_PER_FRAME: usize = 4096;

/// Frame 0: which journal, which prefix of it, and how many state frames follow the tables.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Anchor {
    pub kind: JournalKind,
    pub first: Record,
    pub last: Record,
    pub frames: u64,
}

type WireRecord = (u64, u64, u32);
type WireAnchor = (u8, WireRecord, WireRecord, u64);
type WireStats = (u64, u64, u64, Vec<u64>);
/// Frame 1: next study id, trial count, live study ids, stats, heartbeats, workers, runs.
type WireTables<S> =
    (u64, u64, Vec<u64>, WireStats, Vec<(u64, i64, u64)>, Vec<S>, Vec<(u64, u64, u32)>);

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

/// Writes the snapshot of `state` (which replayed the journal up to `last.end()`).
pub(crate) fn write<W: Write>(
    out: &mut W,
    kind: JournalKind,
    first: &Record,
    last: &Record,
    state: &ReplayState,
) -> Result<(), String> {
    let io = |e: io::Error| e.to_string();
    let parts: Parts<'_> = state.parts();
    let records =
        parts.studies.iter().map(|s| 1 + s.user_attrs.len() + s.system_attrs.len()).sum::<usize>()
            + parts.trials.len();
    let frames = records.div_ceil(OPS_PER_FRAME) as u64;
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
    let anchor: WireAnchor = (code, wire(first), wire(last), frames);
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
    let tables: WireTables<&str> = (
        parts.next_study_id,
        parts.trials.len() as u64,
        parts.studies.iter().map(|s| s.study_id).collect(),
        (s.batches, s.applied, s.ignored, s.by_kind.to_vec()),
        parts.heartbeats.iter().map(|(id, h)| (*id, h.latest.0, h.count)).collect(),
        parts.workers.iter().map(|w| &**w).collect(),
        runs,
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
    for trial in parts.trials.iter().map(Arc::as_ref) {
        w.push(Operation::CreateTrial {
            study_id: trial.study_id,
            datetime_start: trial.datetime_start,
            template: Some(Box::new(TrialTemplate::recreating(trial)?)),
        })?;
    }
    w.flush()
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

/// Reads a snapshot: the header, the anchor (handed to `accept`, which refuses a snapshot of
/// another journal before anything else is read), then the state. `Err` says why it is unusable.
pub(crate) fn read(
    r: &mut impl Read,
    accept: impl FnOnce(&Anchor) -> Result<(), String>,
) -> Result<(ReplayState, Anchor), String> {
    let mut head = [0u8; HEADER_LEN];
    r.read_exact(&mut head).map_err(|e| format!("header cut short: {e}"))?;
    if head[..8] != MAGIC || crc32fast::hash(&head[..12]).to_le_bytes() != head[12..] {
        return Err("not a snapshot (bad magic or header CRC)".into());
    }
    let version = u16::from_le_bytes([head[8], head[9]]);
    let flags = u16::from_le_bytes([head[10], head[11]]);
    if version != VERSION || flags != 0 {
        return Err(format!(
            "snapshot version {version} flags {flags:#x}: this build reads {VERSION}"
        ));
    }
    let mut buf = Vec::new();
    let bad = |what: &str, e: rmp_serde::decode::Error| format!("bad {what}: {e}");
    let (kind, first, last, frames): WireAnchor =
        rmp_serde::from_slice(next_frame(r, &mut buf)?).map_err(|e| bad("anchor", e))?;
    let kind = match kind {
        0 => JournalKind::Trialog,
        1 => JournalKind::Optuna,
        k => return Err(format!("unknown journal kind {k}")),
    };
    let anchor = Anchor { kind, first: unwire(first), last: unwire(last), frames };
    accept(&anchor)?;
    let (next_study_id, trials, study_ids, stats, heartbeats, workers, runs): WireTables<String> =
        rmp_serde::from_slice(next_frame(r, &mut buf)?).map_err(|e| bad("tables", e))?;
    let (batches, applied, ignored, by_kind) = stats;
    let mut stats = ReplayStats { batches, applied, ignored, ..ReplayStats::default() };
    if by_kind.len() != stats.by_kind.len() {
        return Err("operation kinds of another build".into());
    }
    stats.by_kind.copy_from_slice(&by_kind);
    let mut restore = Restore::new(next_study_id, study_ids, stats, trials);
    state_frames(r, frames, &mut restore)?;
    let mut more = [0u8; 1];
    match r.read(&mut more) {
        Ok(0) => {}
        Ok(_) => return Err("bytes after the last frame".to_owned()),
        Err(e) => return Err(e.to_string()),
    }
    let heartbeats = heartbeats
        .into_iter()
        .map(|(id, at, count)| (id, Heartbeats { latest: Timestamp(at), count }))
        .collect();
    Ok((restore.finish(trials, heartbeats, workers, runs)?, anchor))
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
