//! Log backends: where frames live. A backend reads batches from a position and appends a batch
//! only if the log still ends where the caller last saw it.
//!
//! Positions are opaque `u64`s that only the backend interprets (byte offsets for files and
//! memory and Optuna's JSON-lines files, the number of entries read for Redis). Position 0
//! means "nothing read yet".

use std::path::Path;

use crate::error::{Error, Result};
use crate::journal::codec::{self, DecodeError};
use crate::journal::frame::{self, HeaderCheck, ScanEnd};
use crate::journal::{LogBatch, Operation};

mod detect;
#[cfg(feature = "fault-injection")]
pub mod fault;
mod file;
mod io;
mod lines;
mod memory;
#[cfg(feature = "fault-injection")]
pub mod netfs;
pub(crate) mod new_file;
mod optuna_file;
mod poison;
pub(crate) mod prefix;
mod recovery;
#[cfg(feature = "redis")]
mod redis;
pub(crate) mod successor;
mod survey;

pub use detect::{AnyJournalFile, JournalFormat, detect_format, detect_head, writers_lock};
pub use file::{FileBackend, FileOptions};
pub(crate) use io::{Faults, read_full};
pub use memory::MemoryBackend;
pub use optuna_file::{OptunaFileOptions, OptunaJournalFile};
pub use recovery::{RecoveryMode, RecoveryReport, SkippedRange};
#[cfg(feature = "redis")]
pub use redis::{OUTCOME_UNKNOWN, RedisBackend, RedisOptions, is_redis_url};
pub use survey::{HeaderState, Segment, survey, survey_lines};

/// Makes the entries created or renamed in directory `dir` durable: an `fsync` of the directory
/// on Unix; nothing on Windows, where a directory cannot be flushed and trialog's own creates and
/// renames are durable when they return (`MoveFileExW` with `MOVEFILE_WRITE_THROUGH`). Plain I/O,
/// outside any fault injector.
pub fn sync_dir(dir: &Path) -> Result<()> {
    io::sync_dir(dir, &io::Faults::default()).map_err(|e| Error::io("fsync directory", dir, e))
}

/// What [`LogBackend::append_if`] or [`LogBackend::write_if`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AppendOutcome {
    /// The batches are written (durable, after `append_if`; after `write_if`, once
    /// [`LogBackend::sync_written`] returns); the log now ends at `end`.
    Appended {
        /// The new end position.
        end: u64,
    },
    /// Nothing was written: the log no longer ends at the expected position (another writer
    /// appended). Read from the old position, re-validate, and try again.
    Moved,
}

/// A durable, append-only log of operation batches.
///
/// Contract: every batch handed to a `read_from` sink was appended by some writer and is
/// complete (CRC-valid); batches arrive in log order; a record that `write_if` wrote is all or
/// nothing, and durable (synced to stable storage) once `sync_written` returned `Ok`.
pub trait LogBackend: Send + Sync {
    /// Proof of exclusive write access, released on drop.
    type WriteGuard<'a>
    where
        Self: 'a;

    /// The journal's path (or a placeholder such as `<memory>`), for error messages.
    fn path(&self) -> &Path;

    /// Hands every complete batch (a reused buffer: copy what you keep) after position `from` to
    /// `sink` (with its position) and returns the position after the last one. An incomplete or
    /// torn tail is not an error: reading stops before it and a later call retries. Corruption
    /// followed by valid data is [`Error::Corruption`] naming the offset. (That is the default
    /// recovery mode; backends with [`RecoveryMode`]s decide these cases by mode, as
    /// `docs/RECOVERY.md` specifies.) Never takes the write lock.
    fn read_from(
        &self,
        from: u64,
        sink: &mut dyn FnMut(u64, &LogBatch) -> Result<()>,
    ) -> Result<u64>;

    /// Takes exclusive write access (across threads, processes and hosts). A backend whose
    /// `write_if` is itself an atomic check-and-write on a server (Redis) needs no such lock:
    /// its guard only orders the threads of one handle.
    fn lock(&self) -> Result<Self::WriteGuard<'_>>;

    /// Whether [`LogBackend::read_from`] and [`LogBackend::follow_compaction`] stay on this
    /// machine: system calls on a file (`stat`, `pread`, `open`) or memory, never a round trip to
    /// a server of the backend's own (Redis says false). A reader may then run them on an async
    /// worker thread instead of handing them to a thread that may block. (A file on a network
    /// file system says true too: its `stat` may wait for the file server, as every read of it
    /// does.) Default: false.
    fn reads_stay_local(&self) -> bool {
        false
    }

    /// Whether this log can hold trialog's extension operations (codes >= 128, such as
    /// heartbeats). An Optuna-format file cannot: Optuna stops at codes it does not know.
    fn stores_extension_ops(&self) -> bool {
        true
    }

    /// Checks, writing nothing, that `batch` can be written to this log: it fits the format's
    /// record size limit and holds only operations the format can store.
    /// [`LogBackend::write_if`] refuses such a batch too; a writer of several callers' batches
    /// asks first, so that one caller's bad batch fails alone.
    fn check_batch(&self, batch: &LogBatch) -> Result<()> {
        let _ = batch;
        Ok(())
    }

    /// Writes `batches`, each as one all-or-nothing record, in order, if the log still ends at
    /// `expected_end` (a position returned by `read_from`, or the end an earlier `write_if`
    /// under the same guard returned), repairing a torn tail first; returns the new end. The
    /// records are **not durable** until [`LogBackend::sync_written`] returns (other processes
    /// reading the log may see them before). A failed write poisons the handle.
    fn write_if(
        &self,
        guard: &Self::WriteGuard<'_>,
        expected_end: u64,
        batches: &[LogBatch],
    ) -> Result<AppendOutcome>;

    /// Whether a writer may try [`LogBackend::write_if`] at the end it last knew, before reading
    /// the log again: true where reading costs a round trip to a server and `write_if` checks the
    /// end atomically anyway (Redis), so a writer that is current appends in one round trip and
    /// one that is not gets [`AppendOutcome::Moved`] and reads. Default: false (read first).
    fn write_before_read(&self) -> bool {
        false
    }

    /// Makes every record this handle wrote durable (`fdatasync`). A failure poisons the handle
    /// (whether the records reached the disk is unknown) and is returned as
    /// [`Error::Poisoned`].
    fn sync_written(&self, guard: &Self::WriteGuard<'_>) -> Result<()>;

    /// Appends `batch` as one all-or-nothing record if the log still ends at `expected_end`
    /// ([`LogBackend::write_if`] then [`LogBackend::sync_written`]). Returns once the record is
    /// durable.
    fn append_if(
        &self,
        guard: &Self::WriteGuard<'_>,
        expected_end: u64,
        batch: &LogBatch,
    ) -> Result<AppendOutcome> {
        let outcome = self.write_if(guard, expected_end, std::slice::from_ref(batch))?;
        if let AppendOutcome::Appended { .. } = outcome {
            self.sync_written(guard)?;
        }
        Ok(outcome)
    }

    /// The journal file whose snapshot (`src/snapshot/`, `<journal>.snapshot`) an open may
    /// start from and a writer may take, with its format; `None` (the default) for logs that
    /// take no snapshots. File journals in the default recovery mode only: another mode can
    /// leave out records that a snapshot's state holds.
    fn snapshot_source(&self) -> Option<(&Path, JournalFormat)> {
        None
    }

    /// A second handle on the journal file this handle reads now (the one its positions are
    /// offsets in), from which a snapshot of this handle's state takes its anchor records, so
    /// that a snapshot is never anchored in a file that replaced it. `None` (the default) for
    /// logs that take no snapshots, or when the handle cannot be duplicated.
    fn snapshot_file(&self) -> Option<std::fs::File> {
        None
    }

    /// Called after a read that ended at `end` (every record before it delivered): if the
    /// journal this handle reads was replaced by compactions (`trialog compact`;
    /// `docs/FORMAT.md`, "Compacted journals"), switches this handle to the new journal and
    /// says where to go on in it; every later position is one in the new journal. `None` (the
    /// default) otherwise: nothing changed. Costs nothing unless a look at the path found the
    /// journal replaced.
    fn follow_compaction(&self, end: u64) -> Result<Option<Followed>> {
        let _ = end;
        Ok(None)
    }

    /// The error for the record at position `at` (as `read_from` handed it to its sink) that
    /// cannot be used, for `reason`: it names the record the way this backend's positions do.
    /// Default: [`Error::Corruption`] at byte offset `at`; Redis names the key of log number
    /// `at` ([`Error::RedisCorrupt`]).
    fn corrupt_at(&self, at: u64, reason: String) -> Error {
        Error::Corruption { path: self.path().to_owned(), offset: at, reason }
    }

    /// What this handle's recovery mode made replay leave out so far (nothing for backends
    /// without recovery modes).
    fn recovery_report(&self) -> RecoveryReport {
        RecoveryReport::default()
    }
}

/// Where a handle goes on after [`LogBackend::follow_compaction`] switched it to the journal
/// that replaced its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Followed {
    /// At this position, with the state it has (one compaction, of the whole file it read).
    At(u64),
    /// From the start, into a fresh state: several compactions happened since the handle last
    /// looked, and the new journal's state extends the one it has, at a position it cannot know
    /// without replaying.
    FromStart,
}

/// Regions at least this large are decoded on a second thread while this one applies.
const PIPELINE_MIN_BYTES: usize = 4 << 20;
/// Batches per chunk handed from the decoding thread to the applying one.
const CHUNK_BATCHES: usize = 4096;

/// How delivering the frames of a region ended.
pub(crate) enum Delivery {
    /// The frame scan ended (cleanly, at a torn tail, or at corruption).
    End(ScanEnd),
    /// The CRC-valid frame at `offset` (relative to the region), `len` bytes long, does not
    /// decode; `error` says why (`Corruption` or `UnknownOperation`, naming the absolute offset).
    /// Every batch before it was delivered.
    Undecodable {
        /// Offset of the frame, relative to the region.
        offset: usize,
        /// Length of the frame including its prefix.
        len: usize,
        /// The decoding error.
        error: Error,
    },
}

/// Why a scan stopped early: the sink failed, or a frame does not decode (boxed, so the
/// per-frame `Result` is no larger than with the sink's error alone).
enum Stop {
    Sink(Error),
    Undecodable(Box<(usize, usize, Error)>),
}

/// Decodes and delivers the frames of `buf` (which starts at absolute offset `base`); returns
/// how the scan ended. Large regions (cold replay) are decoded on a second thread in chunks while
/// the calling thread runs `sink`, so a cold open costs about max(decode, apply) instead of
/// their sum; the order of delivery and the result are the same either way. Errors are the
/// sink's; a frame that does not decode ends the delivery as [`Delivery::Undecodable`].
pub(crate) fn deliver_frames(
    path: &Path,
    buf: &[u8],
    base: u64,
    sink: &mut dyn FnMut(u64, &LogBatch) -> Result<()>,
) -> Result<Delivery> {
    if buf.len() < PIPELINE_MIN_BYTES {
        let mut batch = LogBatch { worker_id: String::new(), ops: Vec::new() };
        let end = frame::scan_frames(buf, |offset, payload| {
            let at = base + offset as u64;
            decode_at(path, at, payload, &mut batch).map_err(|e| {
                Stop::Undecodable(Box::new((offset, frame::FRAME_HEADER_LEN + payload.len(), e)))
            })?;
            sink(at, &batch).map_err(Stop::Sink)
        });
        return match end {
            Ok(end) => Ok(Delivery::End(end)),
            Err(Stop::Sink(e)) => Err(e),
            Err(Stop::Undecodable(bad)) => {
                let (offset, len, error) = *bad;
                Ok(Delivery::Undecodable { offset, len, error })
            }
        };
    }
    std::thread::scope(|scope| {
        let (tx, rx) = std::sync::mpsc::sync_channel::<DecodedChunk>(4);
        let decoder = scope.spawn(move || decode_chunks(path, buf, base, &tx));
        let mut batch = LogBatch { worker_id: String::new(), ops: Vec::new() };
        let mut delivered = Ok(());
        for chunk in &rx {
            delivered = chunk.deliver(&mut batch, sink);
            if delivered.is_err() {
                break;
            }
        }
        drop(rx); // a decoder still sending sees the channel closed and stops
        let end = decoder.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic));
        delivered?;
        match end {
            Ok(end) => Ok(Delivery::End(end)),
            Err(ChunkStop::Undecodable(bad)) => {
                let (offset, len, error) = *bad;
                Ok(Delivery::Undecodable { offset, len, error })
            }
            Err(ChunkStop::Disconnected) => unreachable!("the receiver outlives the decoder"),
        }
    })
}

fn decode_at(path: &Path, at: u64, payload: &[u8], batch: &mut LogBatch) -> Result<()> {
    codec::decode_batch_into(payload, batch).map_err(|e| match e {
        DecodeError::UnknownOperation(code) => {
            Error::UnknownOperation { path: path.to_owned(), offset: at, code }
        }
        e @ DecodeError::Malformed(_) => {
            Error::Corruption { path: path.to_owned(), offset: at, reason: e.to_string() }
        }
    })
}

/// Decoded batches in a flat form (operations moved out of a reused batch, worker ids stored
/// once per run of equal ids), so the hand-over allocates per chunk, not per batch.
struct DecodedChunk {
    worker_ids: Vec<String>,
    /// (position, index into `worker_ids`, number of operations)
    batches: Vec<(u64, usize, usize)>,
    ops: Vec<Operation>,
}

impl DecodedChunk {
    /// A chunk sized for [`CHUNK_BATCHES`] single-operation batches, so filling it does not
    /// reallocate (and copy) as it grows.
    fn with_capacity() -> Self {
        DecodedChunk {
            worker_ids: Vec::new(),
            batches: Vec::with_capacity(CHUNK_BATCHES),
            ops: Vec::with_capacity(CHUNK_BATCHES),
        }
    }

    fn deliver(
        self,
        batch: &mut LogBatch,
        sink: &mut dyn FnMut(u64, &LogBatch) -> Result<()>,
    ) -> Result<()> {
        let mut ops = self.ops.into_iter();
        for (at, worker, n) in self.batches {
            if batch.worker_id != self.worker_ids[worker] {
                batch.worker_id.clone_from(&self.worker_ids[worker]);
            }
            batch.ops.clear();
            batch.ops.extend(ops.by_ref().take(n));
            sink(at, batch)?;
        }
        Ok(())
    }
}

enum ChunkStop {
    Undecodable(Box<(usize, usize, Error)>),
    Disconnected,
}

fn decode_chunks(
    path: &Path,
    buf: &[u8],
    base: u64,
    tx: &std::sync::mpsc::SyncSender<DecodedChunk>,
) -> std::result::Result<ScanEnd, ChunkStop> {
    let mut batch = LogBatch { worker_id: String::new(), ops: Vec::new() };
    let mut chunk = DecodedChunk::with_capacity();
    let end = frame::scan_frames(buf, |offset, payload| {
        let at = base + offset as u64;
        decode_at(path, at, payload, &mut batch).map_err(|e| {
            ChunkStop::Undecodable(Box::new((offset, frame::FRAME_HEADER_LEN + payload.len(), e)))
        })?;
        if chunk.worker_ids.last() != Some(&batch.worker_id) {
            chunk.worker_ids.push(batch.worker_id.clone());
        }
        chunk.batches.push((at, chunk.worker_ids.len() - 1, batch.ops.len()));
        chunk.ops.append(&mut batch.ops);
        if chunk.batches.len() == CHUNK_BATCHES {
            let full = std::mem::replace(&mut chunk, DecodedChunk::with_capacity());
            tx.send(full).map_err(|_| ChunkStop::Disconnected)?;
        }
        Ok(())
    });
    // Deliver what was decoded before a failure too: the error belongs after those batches.
    tx.send(chunk).map_err(|_| ChunkStop::Disconnected)?;
    end
}

/// Turns a header check into the position reading starts from (0 while the header is
/// incomplete) or the error it means.
pub(crate) fn header_start(path: &Path, head: &[u8]) -> Result<u64> {
    match frame::check_header(head) {
        HeaderCheck::Valid { .. } => Ok(frame::HEADER_LEN as u64),
        HeaderCheck::Incomplete => Ok(0),
        HeaderCheck::NotAJournal(reason) => {
            let reason = match detect_head(path, head) {
                Ok(Some(JournalFormat::Optuna)) => format!(
                    "{}: open it as one (JournalStorage::open_optuna), or convert it with `trialog import`",
                    detect::what_it_is(head)
                ),
                _ => reason.to_owned(),
            };
            Err(Error::NotAJournal { path: path.to_owned(), reason })
        }
        HeaderCheck::Unsupported { version, flags } => Err(Error::UnsupportedFormat {
            path: path.to_owned(),
            version,
            flags,
            supported: frame::FORMAT_VERSION,
        }),
    }
}

/// The corruption error for a bad frame at `offset`.
pub(crate) fn corruption(path: &Path, offset: u64, next_valid: u64) -> Error {
    Error::Corruption {
        path: path.to_owned(),
        offset,
        reason: format!(
            "invalid frame ({} bytes) followed by a valid frame at offset {next_valid}",
            next_valid - offset
        ),
    }
}

/// What a writer holding the lock must write at `expected_end`.
pub(crate) enum AppendPlan {
    /// Someone appended since the caller's last read.
    Moved,
    /// Write `repair` at `expected_end` (a header for a journal whose creation did not finish,
    /// and/or a padding frame over a torn tail; empty when nothing needs repair), then `frame`
    /// (the new frames, one per batch) right after it. A file backend syncs the repair before writing the frame, so a crash can
    /// never persist the frame without the repair before it (which would read as corruption).
    Write {
        /// Header and/or padding.
        repair: Vec<u8>,
        /// The new frame.
        frame: Vec<u8>,
    },
}

/// The frame payload of `batch`, or `InvalidArgument` if it exceeds the frame limit.
pub(crate) fn encode_payload(batch: &LogBatch) -> Result<Vec<u8>> {
    let payload = codec::encode_batch(batch);
    if payload.len() > frame::MAX_PAYLOAD_LEN {
        return Err(Error::invalid(format_args!(
            "a batch of {} bytes exceeds the {} byte frame limit",
            payload.len(),
            frame::MAX_PAYLOAD_LEN
        )));
    }
    Ok(payload)
}

/// Decides what to write, given every byte from `expected_end` to the current end of the log
/// (`tail`). Only call it holding the write lock: then no append is in flight and whatever
/// `tail` holds that is not a valid frame is a torn tail left by a crashed writer.
pub(crate) fn plan_append(
    path: &Path,
    mode: RecoveryMode,
    expected_end: u64,
    tail: &[u8],
    batches: &[LogBatch],
) -> Result<AppendPlan> {
    let mut frames = Vec::new();
    for batch in batches {
        frame::encode_frame(&encode_payload(batch)?, &mut frames);
    }
    let mut out = Vec::new();
    let mut tail = tail;
    if expected_end == 0 {
        // No complete header yet: write one (over whatever prefix a crashed creator left).
        if header_start(path, tail)? != 0 {
            return Ok(AppendPlan::Moved);
        }
        out.extend_from_slice(&frame::encode_header());
        tail = tail.get(frame::HEADER_LEN..).unwrap_or(&[]);
    }
    if !tail.is_empty() {
        match frame::check_frame(tail) {
            frame::FrameCheck::Batch { .. } | frame::FrameCheck::Padding { .. } => {
                return Ok(AppendPlan::Moved);
            }
            frame::FrameCheck::Incomplete | frame::FrameCheck::Invalid => {
                if let Some(next) = frame::find_next_valid_frame(tail) {
                    return Err(corruption(path, expected_end, expected_end + next as u64));
                }
                if mode == RecoveryMode::AbsoluteConsistency {
                    return Err(Error::Corruption {
                        path: path.to_owned(),
                        offset: expected_end,
                        reason: format!(
                            "a torn tail of {} bytes ends the log; absolute-consistency does not pad over it: run `trialog verify`, then `trialog recover`",
                            tail.len()
                        ),
                    });
                }
                frame::encode_padding(tail.len(), &mut out);
            }
        }
    }
    Ok(AppendPlan::Write { repair: out, frame: frames })
}
