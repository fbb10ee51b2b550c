//! The trials of a version 2 snapshot, decoded when first read (`docs/FORMAT.md`, "Snapshots").
//!
//! An open of a version 2 snapshot checks the header, the anchor, the tables, the studies' frames
//! and the index, and builds every study with its trial lists from the index; it does not touch
//! the trials' frames beyond their lengths. A trial frame (4,096 trials) is checked (CRC) and
//! decoded the first time one of its trials is read or changed, and its trials are then held like
//! replayed ones.
//!
//! A trial frame that turns out to be unusable then (its CRC fails, a record does not decode, or
//! disagrees with the index) cannot make the open fail or show a wrong trial: the state's trials
//! then come from a full replay of the journal prefix the snapshot covers, read from the journal
//! file the open checked the snapshot against, with one warning naming the snapshot (as an
//! unusable snapshot at the open gets). Only if that replay fails too (the journal's prefix was
//! damaged since) does a trial stay as the index describes it, without its content, with an
//! error logged.

use std::fs::File;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError};

use super::JournalKind;
use super::file::{INDEX_ENTRY_LEN, INDEX_PER_FRAME, OPS_PER_FRAME};
use super::records::{Records, Step};
use crate::journal::frame::{self, FrameCheck};
use crate::model::{FrozenTrial, TrialState};
use crate::replay::{RawBlock, ReplayState, TrialSource};
use crate::sys::map::Whole;

/// Where a snapshot came from: what a full replay of what it covers needs, and what messages
/// name.
#[derive(Debug)]
pub(super) struct Origin {
    /// The journal file the open checked the snapshot's anchor against.
    pub journal: File,
    /// Its path when it was opened.
    pub journal_path: PathBuf,
    /// Its format.
    pub kind: JournalKind,
    /// The snapshot's path.
    pub snapshot_path: PathBuf,
    /// The journal position the snapshot covers.
    pub end: u64,
}

/// A version 2 snapshot's trials, as a [`TrialSource`].
pub(super) struct LazyTrials {
    bytes: Whole,
    /// Each trial frame's offset and length (prefix included) in `bytes`.
    frames: Vec<(usize, usize)>,
    /// The offset in `bytes` of each index frame's first entry.
    index: Vec<usize>,
    /// Each trial's number (computed from the index at the open).
    numbers: Vec<u64>,
    /// Decodes the frames, sharing names and distribution maps between them.
    decoder: Mutex<Records>,
    origin: Origin,
    /// A full replay of the covered prefix, once a frame was found unusable.
    fallback: Mutex<Option<Result<ReplayState, String>>>,
}

impl std::fmt::Debug for LazyTrials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LazyTrials")
            .field("snapshot", &self.origin.snapshot_path)
            .field("trials", &self.numbers.len())
            .field("frames", &self.frames.len())
            .finish_non_exhaustive()
    }
}

impl LazyTrials {
    /// The trials of `bytes` (a whole snapshot file): `frames` and `index` as the open found
    /// them, `numbers` each trial's number.
    pub(super) fn new(
        bytes: Whole,
        frames: Vec<(usize, usize)>,
        index: Vec<usize>,
        numbers: Vec<u64>,
        decoder: Records,
        origin: Origin,
    ) -> Self {
        LazyTrials {
            bytes,
            frames,
            index,
            numbers,
            decoder: Mutex::new(decoder),
            origin,
            fallback: Mutex::new(None),
        }
    }

    /// Trial `id`'s study id and state code, as the index gives them.
    fn entry(&self, id: usize) -> Option<(u64, u8)> {
        let at = *self.index.get(id / INDEX_PER_FRAME)? + (id % INDEX_PER_FRAME) * INDEX_ENTRY_LEN;
        let e = self.bytes.get(at..at + INDEX_ENTRY_LEN)?;
        let study = u64::from_le_bytes([e[0], e[1], e[2], e[3], e[4], e[5], e[6], e[7]]);
        Some((study, e[8]))
    }

    /// Decodes trial frame `f`, whose first trial is `first`, with the shared decoder.
    fn decode(&self, f: usize, first: usize) -> Result<Vec<Arc<FrozenTrial>>, String> {
        let mut records = self.decoder.lock().unwrap_or_else(PoisonError::into_inner);
        self.decode_with(&mut records, f, first)
    }

    /// [`LazyTrials::decode`] with `records`.
    fn decode_with(
        &self,
        records: &mut Records,
        f: usize,
        first: usize,
    ) -> Result<Vec<Arc<FrozenTrial>>, String> {
        let &(at, len) = self.frames.get(f).ok_or("no such frame")?;
        let bytes = self.bytes.get(at..at + len).ok_or("a frame past the end")?;
        let payload = match frame::check_frame(bytes) {
            FrameCheck::Batch { payload, len: l } if l == len => payload,
            _ => return Err(format!("trial frame {f} fails its CRC")),
        };
        let steps = records.frame(payload);
        // Decoded (or unusable): its bytes need not stay resident.
        self.bytes.release(at, len);
        let steps = steps?;
        let want = OPS_PER_FRAME.min(self.numbers.len() - first);
        if steps.len() != want {
            return Err(format!("trial frame {f} holds {} records, not {want}", steps.len()));
        }
        let mut trials = Vec::with_capacity(want);
        for (id, step) in (first..).zip(steps) {
            let Step::Trial(mut trial, _) = step else {
                return Err(format!("a study record in trial frame {f}"));
            };
            let t = Arc::make_mut(&mut trial);
            match self.entry(id) {
                Some((study, state)) if study == t.study_id && state == t.state.code() => {}
                _ => return Err(format!("the record of trial {id} disagrees with the index")),
            }
            t.trial_id = id as u64;
            t.number = self.numbers[id];
            trials.push(trial);
        }
        Ok(trials)
    }

    /// Trials `first..first + count` from a full replay of the covered prefix (replayed at the
    /// first call, with one warning saying why).
    fn replayed(&self, first: usize, count: usize, why: &str) -> Vec<Arc<FrozenTrial>> {
        let mut fallback = self.fallback.lock().unwrap_or_else(PoisonError::into_inner);
        let o = &self.origin;
        let state = fallback.get_or_insert_with(|| {
            log::warn!(
                "snapshot {} not used ({why}); replaying the whole journal {}",
                o.snapshot_path.display(),
                o.journal_path.display()
            );
            let mut state = ReplayState::new();
            crate::backend::prefix::read_prefix(
                o.kind,
                &o.journal,
                &o.journal_path,
                o.end,
                &mut |at, batch| {
                    state.replay_batch(batch).map(drop).map_err(|u| {
                        crate::error::Error::invalid(format_args!(
                            "the journal's record at offset {at} cannot be replayed: {}",
                            u.reason
                        ))
                    })
                },
            )
            .map(|()| state)
            .map_err(|e| {
                log::error!(
                    "the trials of snapshot {} cannot be rebuilt from the journal {} ({e}): \
                     those it holds undecoded are shown without their content",
                    o.snapshot_path.display(),
                    o.journal_path.display()
                );
                e.to_string()
            })
        });
        (first..first + count)
            .map(|id| match state.as_ref().ok().and_then(|s| s.any_trial(id as u64)) {
                Some(t) => Arc::clone(t),
                None => self.bare(id),
            })
            .collect()
    }

    /// Trial `id` as the index describes it, without content: what is left when neither the
    /// snapshot nor the journal can give it.
    fn bare(&self, id: usize) -> Arc<FrozenTrial> {
        let (study, state) = self.entry(id).unwrap_or((u64::MAX, TrialState::Fail.code()));
        let state = TrialState::from_code(u64::from(state)).unwrap_or(TrialState::Fail);
        Arc::new(FrozenTrial::new(id as u64, self.numbers[id], study, state))
    }
}

/// Most threads that decode trial frames at once.
const MAX_DECODERS: usize = 4;

impl TrialSource for LazyTrials {
    fn raw_block(&self, first: u64, count: u64) -> Option<RawBlock<'_>> {
        let first = usize::try_from(first).ok()?;
        let count = usize::try_from(count).ok()?;
        let n = self.numbers.len();
        if first % OPS_PER_FRAME != 0 || first >= n || count != OPS_PER_FRAME.min(n - first) {
            return None;
        }
        let &(at, len) = self.frames.get(first / OPS_PER_FRAME)?;
        let frame = self.bytes.get(at..at + len)?;
        // A damaged frame is not copied: decoding it replays instead.
        if !matches!(frame::check_frame(frame), FrameCheck::Batch { len: l, .. } if l == len) {
            return None;
        }
        let entries = (first..first + count).map(|id| self.entry(id)).collect::<Option<_>>()?;
        Some(RawBlock { frame, entries })
    }

    fn load_all(
        &self,
        wanted: &(dyn Fn(u64, u64) -> bool + Sync),
        put: &mut dyn FnMut(u64, Vec<Arc<FrozenTrial>>),
    ) {
        let n = self.numbers.len();
        let todo: Vec<usize> = (0..self.frames.len())
            .filter(|&f| {
                let first = f * OPS_PER_FRAME;
                wanted(first as u64, OPS_PER_FRAME.min(n - first) as u64)
            })
            .collect();
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        let threads = cores.min(MAX_DECODERS).min(todo.len());
        if threads < 2 {
            for f in todo {
                let (first, trials) = self.load((f * OPS_PER_FRAME) as u64);
                put(first, trials);
            }
            return;
        }
        // Each thread decodes every `threads`-th frame with a decoder of its own (so they share
        // no lock); a frame that fails is left to `load` on this thread, which replays.
        let done: Vec<Vec<(usize, Vec<Arc<FrozenTrial>>)>> = std::thread::scope(|scope| {
            let workers: Vec<_> = (0..threads)
                .map(|k| {
                    let todo = &todo;
                    scope.spawn(move || {
                        let mut records = Records::default();
                        todo.iter()
                            .skip(k)
                            .step_by(threads)
                            .filter_map(|&f| {
                                let first = f * OPS_PER_FRAME;
                                self.decode_with(&mut records, f, first).ok().map(|t| (f, t))
                            })
                            .collect()
                    })
                })
                .collect();
            workers.into_iter().map(|w| w.join().unwrap_or_default()).collect()
        });
        let mut got = vec![false; self.frames.len()];
        for (f, trials) in done.into_iter().flatten() {
            got[f] = true;
            put((f * OPS_PER_FRAME) as u64, trials);
        }
        for f in todo.into_iter().filter(|&f| !got[f]) {
            let (first, trials) = self.load((f * OPS_PER_FRAME) as u64);
            put(first, trials);
        }
    }

    fn load(&self, trial_id: u64) -> (u64, Vec<Arc<FrozenTrial>>) {
        let id = usize::try_from(trial_id)
            .unwrap_or(usize::MAX)
            .min(self.numbers.len().saturating_sub(1));
        let f = id / OPS_PER_FRAME;
        let first = f * OPS_PER_FRAME;
        let trials = match self.decode(f, first) {
            Ok(trials) => trials,
            Err(why) => {
                let count = OPS_PER_FRAME.min(self.numbers.len().saturating_sub(first));
                self.replayed(first, count, &why)
            }
        };
        (first as u64, trials)
    }
}
