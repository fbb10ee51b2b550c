//! Reading an Optuna JSON-lines region on every core: the region is cut into blocks at fixed
//! byte offsets, a block being the lines that *start* in it; decoding threads each read and
//! decode every n-th block, and the calling thread takes the blocks in file order and hands
//! their operations to the sink, so decoding runs in parallel and replay stays sequential.
//!
//! What reaches the sink, and what the read returns, is the same as for one thread reading line
//! after line (a small region is read that way): every line that ends in `\n` within the first
//! `len` bytes, in order; a last line without its `\n` is not written yet and ends the read.

use std::path::Path;
use std::sync::mpsc::{Receiver, sync_channel};

use super::io::JournalFile;
use super::optuna_file::decode_line_at;
use super::recovery::BadRecord;
use crate::error::{Error, Result};
use crate::journal::optuna_codec::LineDecoder;
use crate::journal::{LogBatch, Operation};

/// Bytes per block: large enough that the hand-over costs nothing per line, small enough that
/// the blocks in flight (a few per thread) stay a few MiB.
const BLOCK: u64 = 1 << 20;
/// Blocks each decoding thread may run ahead of the one being replayed.
const AHEAD: usize = 2;
/// Most decoding threads (beyond a few, replay on the calling thread is the bottleneck).
const MAX_THREADS: usize = 8;
/// A short Optuna line (a parameter line is about 300 bytes), to size a block's list of lines.
const TYPICAL_LINE: u64 = 128;
/// Bytes read past a block's end for the line that starts in it and ends after it; a longer
/// line is read on in steps that double.
const OVERREAD: u64 = 4096;

/// One line of a block.
enum Line {
    /// A line that decodes: its offset, length (with its `\n`), worker id (an index into the
    /// block's ids) and operation.
    Op { at: u64, len: u64, worker: usize, op: Operation },
    /// A complete line that does not decode, and why.
    Bad { at: u64, len: u64, error: Box<Error> },
}

/// The lines of one block, decoded.
struct Block {
    /// Worker ids, each run of equal ids stored once.
    worker_ids: Vec<String>,
    lines: Vec<Line>,
    /// A read that failed after `lines` (nothing after it was read).
    failed: Option<Error>,
}

/// Reads the complete lines of `file` (`path`) from `from` (the start of a line) up to `len`,
/// the file's length as seen before this read, and hands each one that decodes to `sink`, in
/// order, with its offset. A complete line that does not decode goes to `on_bad` (offset, length,
/// error), which says whether replay stops before it or skips it. Returns the position after the
/// last complete line read (or the one `on_bad` stopped at).
pub(crate) fn deliver_lines(
    path: &Path,
    file: &JournalFile,
    from: u64,
    len: u64,
    on_bad: &mut dyn FnMut(u64, u64, Error) -> Result<BadRecord>,
    sink: &mut dyn FnMut(u64, &LogBatch) -> Result<()>,
) -> Result<u64> {
    let threads = std::thread::available_parallelism().map_or(2, |n| n.get().clamp(2, MAX_THREADS));
    let split = Split { block: BLOCK, threads };
    deliver_split(split, path, file, (from, len), on_bad, sink)
}

/// How a region is cut up and decoded.
#[derive(Debug, Clone, Copy)]
struct Split {
    /// Bytes per block.
    block: u64,
    /// Decoding threads for a region of two blocks or more.
    threads: usize,
}

/// [`deliver_lines`] of the region `from..len`, cut up as `split` says.
fn deliver_split(
    split: Split,
    path: &Path,
    file: &JournalFile,
    (from, len): (u64, u64),
    on_bad: &mut dyn FnMut(u64, u64, Error) -> Result<BadRecord>,
    sink: &mut dyn FnMut(u64, &LogBatch) -> Result<()>,
) -> Result<u64> {
    let Split { block: size, threads } = split;
    let blocks = (len.saturating_sub(from)).div_ceil(size);
    let mut delivery = Delivery::new(from);
    if blocks < 2 {
        let mut buf = ReadBuf::default();
        let region = Region { from, len, lo: from, size: len - from };
        let block = read_block(path, file, region, &mut buf, &mut LineDecoder::new());
        delivery.take(block, on_bad, sink)?;
        return Ok(delivery.end());
    }
    std::thread::scope(|scope| {
        let mut receivers: Vec<Receiver<Block>> = Vec::with_capacity(threads);
        for first in 0..threads as u64 {
            let (tx, rx) = sync_channel::<Block>(AHEAD);
            receivers.push(rx);
            scope.spawn(move || {
                let mut decoder = LineDecoder::new();
                let mut buf = ReadBuf::default();
                for index in (first..blocks).step_by(threads) {
                    let region = Region { from, len, lo: from + index * size, size };
                    let block = read_block(path, file, region, &mut buf, &mut decoder);
                    let failed = block.failed.is_some();
                    // A closed channel: the reader stopped, and so does this thread.
                    if tx.send(block).is_err() || failed {
                        return;
                    }
                }
            });
        }
        for index in 0..blocks {
            // A thread only ends early after sending a failed block, which ends delivery.
            let Ok(block) = receivers[(index % threads as u64) as usize].recv() else { break };
            if !delivery.take(block, on_bad, sink)? {
                break;
            }
        }
        Ok(delivery.end())
        // Dropping the receivers here stops threads still decoding blocks nobody will take.
    })
}

/// The calling thread's side: blocks in, batches out.
struct Delivery {
    /// Where the next line starts (the end of the last one taken).
    pos: u64,
    batch: LogBatch,
}

impl Delivery {
    fn new(from: u64) -> Self {
        Delivery {
            pos: from,
            batch: LogBatch { worker_id: String::new(), ops: Vec::with_capacity(1) },
        }
    }

    fn end(&self) -> u64 {
        self.pos
    }

    /// Hands a block's lines on; returns whether to go on with the next block.
    fn take(
        &mut self,
        block: Block,
        on_bad: &mut dyn FnMut(u64, u64, Error) -> Result<BadRecord>,
        sink: &mut dyn FnMut(u64, &LogBatch) -> Result<()>,
    ) -> Result<bool> {
        for line in block.lines {
            match line {
                Line::Op { at, len, worker, op } => {
                    if self.batch.worker_id != block.worker_ids[worker] {
                        self.batch.worker_id.clone_from(&block.worker_ids[worker]);
                    }
                    self.batch.ops.clear();
                    self.batch.ops.push(op);
                    sink(at, &self.batch)?;
                    self.pos = at + len;
                }
                Line::Bad { at, len, error } => match on_bad(at, len, *error)? {
                    BadRecord::Stop => {
                        self.pos = at;
                        return Ok(false);
                    }
                    BadRecord::Skip => self.pos = at + len,
                },
            }
        }
        match block.failed {
            Some(e) => Err(e),
            None => Ok(true),
        }
    }
}

/// A read buffer kept across blocks, so reading one costs no allocation or zeroing.
#[derive(Default)]
struct ReadBuf {
    /// Bytes from the block's first byte; only `..filled` are the file's.
    data: Vec<u8>,
    filled: usize,
}

impl ReadBuf {
    /// Forgets the bytes held (keeping the memory).
    fn clear(&mut self) {
        self.filled = 0;
    }

    fn bytes(&self) -> &[u8] {
        &self.data[..self.filled]
    }

    /// Reads the bytes after those held (which start at `base`) up to `to`, or fewer if the file
    /// is shorter now (a torn last line cut off by a writer). Returns whether more bytes may
    /// follow: `to` was reached and is not `len`, the end of the region.
    fn read_to(
        &mut self,
        path: &Path,
        file: &JournalFile,
        base: u64,
        to: u64,
        len: u64,
    ) -> Result<bool> {
        let at = base + self.filled as u64;
        let want = usize::try_from(to.saturating_sub(at)).unwrap_or(usize::MAX);
        if self.data.len() < self.filled + want {
            self.data.resize(self.filled + want, 0);
        }
        let n = file
            .read_full_at(&mut self.data[self.filled..self.filled + want], at)
            .map_err(|e| Error::io("read", path, e))?;
        self.filled += n;
        Ok(n == want && to < len)
    }
}

/// One block of a region.
#[derive(Debug, Clone, Copy)]
struct Region {
    /// Where the region starts (a line start).
    from: u64,
    /// Where it ends (the file's length when the read began).
    len: u64,
    /// Where the block starts.
    lo: u64,
    /// The block's size.
    size: u64,
}

/// Reads and decodes the lines of `file` that start in the block `[lo, lo + size)` (and before
/// `len`). A line that starts in the block and has no `\n` before `len` ends it, unread (not
/// written yet).
fn read_block(
    path: &Path,
    file: &JournalFile,
    Region { from, len, lo, size }: Region,
    buf: &mut ReadBuf,
    decoder: &mut LineDecoder,
) -> Block {
    let hi = (lo + size).min(len);
    let mut block = Block {
        worker_ids: Vec::new(),
        lines: Vec::with_capacity(((hi - lo) / TYPICAL_LINE) as usize),
        failed: None,
    };
    // Read from the byte before the block, to see whether a line starts at `lo`.
    let base = if lo == from { lo } else { lo - 1 };
    buf.clear();
    let mut more_to_read = match buf.read_to(path, file, base, (hi + OVERREAD).min(len), len) {
        Ok(more) => more,
        Err(e) => {
            block.failed = Some(e);
            return block;
        }
    };
    let mut start = if lo == from {
        0
    } else {
        match memchr::memchr(b'\n', buf.bytes()) {
            Some(nl) => nl + 1,
            None => return block, // one line runs through the whole block
        }
    };
    let mut searched = start;
    while base + (start as u64) < hi {
        let Some(nl) = memchr::memchr(b'\n', &buf.bytes()[searched..]).map(|n| searched + n) else {
            if !more_to_read {
                break; // the last line is not complete yet
            }
            searched = buf.filled;
            let read_to = base + buf.filled as u64;
            let more = (buf.filled as u64).max(OVERREAD);
            more_to_read = match buf.read_to(path, file, base, (read_to + more).min(len), len) {
                Ok(more) => more,
                Err(e) => {
                    block.failed = Some(e);
                    return block;
                }
            };
            continue;
        };
        let at = base + start as u64;
        let line_len = (nl - start + 1) as u64;
        match decode_line_at(path, at, &buf.bytes()[start..nl], decoder) {
            Ok((worker_id, op)) => {
                if block.worker_ids.last().map(String::as_str) != Some(&*worker_id) {
                    block.worker_ids.push(worker_id.into_owned());
                }
                let worker = block.worker_ids.len() - 1;
                block.lines.push(Line::Op { at, len: line_len, worker, op });
            }
            Err(error) => {
                block.lines.push(Line::Bad { at, len: line_len, error: Box::new(error) });
            }
        }
        start = nl + 1;
        searched = start;
    }
    block
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::io::Faults;
    use crate::journal::optuna_codec::encode_line;
    use crate::model::{AttrValue, Distribution, StudyDirection, Timestamp, TrialState};

    /// A journal of every kind of line: operations of two workers, CRLF endings, lines that do
    /// not decode (bad JSON, an empty line, an unknown code), a line longer than many blocks,
    /// and a torn last line.
    fn journal() -> Vec<u8> {
        let mut text = String::new();
        let mut line = |worker: &str, op: &Operation, crlf: bool| {
            encode_line(worker, op, &mut text).unwrap();
            if crlf {
                text.pop();
                text.push_str("\r\n");
            }
        };
        let study = Operation::CreateStudy {
            study_name: "s".into(),
            directions: vec![StudyDirection::Minimize],
        };
        line("w0", &study, false);
        let d = Distribution::float(-1.0, 1.0, false, None).unwrap();
        for trial_id in 0..60u64 {
            let worker = if trial_id % 3 == 0 { "w1" } else { "w2" };
            let ops = [
                Operation::CreateTrial {
                    study_id: 0,
                    datetime_start: Some(Timestamp(1_700_000_000_000_000 + trial_id as i64)),
                    template: None,
                },
                Operation::SetTrialParam {
                    trial_id,
                    name: "x".into(),
                    internal: trial_id as f64 / 100.0,
                    distribution: d.clone(),
                },
                Operation::SetTrialStateValues {
                    trial_id,
                    state: TrialState::Complete,
                    values: Some(vec![trial_id as f64]),
                    datetime: Some(Timestamp(1_700_000_000_100_000)),
                },
            ];
            for (i, op) in ops.iter().enumerate() {
                line(worker, op, (trial_id + i as u64) % 5 == 0);
            }
            if trial_id == 20 {
                let long = AttrValue::String("é".repeat(3000));
                let op = Operation::SetTrialUserAttr { trial_id, key: "k".into(), value: long };
                line("w1", &op, false);
            }
        }
        let mut bytes = text.into_bytes();
        for (at, bad) in [
            (900, &b"not json\n"[..]),
            (2000, b"\n"),
            (5000, b"{\"op_code\":42,\"worker_id\":\"w\"}\n"),
        ] {
            let at = at + bytes[at..].iter().position(|&b| b == b'\n').unwrap() + 1;
            bytes.splice(at..at, bad.iter().copied());
        }
        bytes.extend_from_slice(br#"{"op_code":4,"worker_id":"w1","stu"#);
        bytes
    }

    /// What reaching the sink or `on_bad` looked like, in order.
    #[derive(Debug, PartialEq)]
    enum Event {
        Op { at: u64, worker: String, op: String },
        Bad { at: u64, len: u64, error: String },
    }

    /// The events of reading `bytes[from..len]` line by line on one thread, and the end.
    fn reference(path: &Path, bytes: &[u8], from: u64, len: u64) -> (Vec<Event>, u64) {
        let mut decoder = LineDecoder::new();
        let mut events = Vec::new();
        let mut pos = from as usize;
        while let Some(nl) = bytes[pos..len as usize].iter().position(|&b| b == b'\n') {
            let at = pos as u64;
            events.push(match decode_line_at(path, at, &bytes[pos..pos + nl], &mut decoder) {
                Ok((worker, op)) => Event::Op { at, worker: worker.into(), op: format!("{op:?}") },
                Err(e) => Event::Bad { at, len: nl as u64 + 1, error: e.to_string() },
            });
            pos += nl + 1;
        }
        (events, pos as u64)
    }

    fn open(bytes: &[u8]) -> (tempfile::TempDir, std::path::PathBuf, JournalFile) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("j.log");
        std::fs::write(&path, bytes).unwrap();
        let file = JournalFile::new(std::fs::File::open(&path).unwrap(), &path, &Faults::default())
            .unwrap();
        (dir, path, file)
    }

    /// Reads with `split`; `stop_at_bad` stops at the first bad line (else skips them all);
    /// the sink fails at its `fail_at`-th batch. Returns the events and the result.
    fn read(
        split: Split,
        (path, file): (&Path, &JournalFile),
        (from, len): (u64, u64),
        stop_at_bad: bool,
        fail_at: Option<usize>,
    ) -> (Vec<Event>, Result<u64>) {
        let events = std::cell::RefCell::new(Vec::new());
        let mut on_bad = |at, len, error: Error| {
            events.borrow_mut().push(Event::Bad { at, len, error: error.to_string() });
            Ok(if stop_at_bad { BadRecord::Stop } else { BadRecord::Skip })
        };
        let mut ops = 0;
        let mut sink = |at, batch: &LogBatch| {
            ops += 1;
            if Some(ops) == fail_at {
                return Err(Error::invalid("sink refuses"));
            }
            let [op] = &batch.ops[..] else { panic!("{batch:?}") };
            let (worker, op) = (batch.worker_id.clone(), format!("{op:?}"));
            events.borrow_mut().push(Event::Op { at, worker, op });
            Ok(())
        };
        let end = deliver_split(split, path, file, (from, len), &mut on_bad, &mut sink);
        (events.into_inner(), end)
    }

    #[test]
    fn every_way_of_cutting_the_region_delivers_what_one_thread_reading_lines_does() {
        let bytes = journal();
        let (_dir, path, file) = open(&bytes);
        let line_starts: Vec<u64> = std::iter::once(0)
            .chain(
                bytes.iter().enumerate().filter(|(_, b)| **b == b'\n').map(|(i, _)| i as u64 + 1),
            )
            .collect();
        let total = bytes.len() as u64;
        let regions = [
            (0, total),
            (line_starts[7], total),
            (line_starts[3], line_starts[40] + 5), // ends inside a line: torn there
            (line_starts[50], line_starts[50]),
        ];
        for block in [1, 7, 300, 1 << 20] {
            for threads in [1, 2, 3] {
                let split = Split { block, threads };
                for (from, len) in regions {
                    let what = format!("{split:?} region {from}..{len}");
                    let (want, want_end) = reference(&path, &bytes, from, len);
                    let (got, end) = read(split, (&path, &file), (from, len), false, None);
                    assert_eq!(got, want, "{what}");
                    assert_eq!(end.unwrap(), want_end, "{what}");
                    // Stopping at the first bad line: everything before it, and its offset.
                    let first_bad = want.iter().position(|e| matches!(e, Event::Bad { .. }));
                    let (got, end) = read(split, (&path, &file), (from, len), true, None);
                    match first_bad {
                        Some(i) => {
                            assert_eq!(got, want[..=i], "{what}");
                            let Event::Bad { at, .. } = want[i] else { unreachable!() };
                            assert_eq!(end.unwrap(), at, "{what}");
                        }
                        None => assert_eq!((&got, end.unwrap()), (&want, want_end), "{what}"),
                    }
                    // A sink error ends the read with that error, after the batches before.
                    let ops: Vec<&Event> =
                        want.iter().filter(|e| matches!(e, Event::Op { .. })).collect();
                    if ops.len() >= 30 {
                        let (got, end) = read(split, (&path, &file), (from, len), false, Some(30));
                        assert!(matches!(end, Err(Error::InvalidArgument(_))), "{what}");
                        let got: Vec<&Event> =
                            got.iter().filter(|e| matches!(e, Event::Op { .. })).collect();
                        assert_eq!(got, ops[..29], "{what}");
                    }
                }
            }
        }
    }
}
