//! Log backends: where frames live. A backend reads batches from a position and appends a batch
//! only if the log still ends where the caller last saw it.
//!
//! Positions are opaque `u64`s that only the backend interprets (byte offsets for files and
//! memory; a later JSON-lines backend uses byte offsets too, Redis an entry index). Position 0
//! means "nothing read yet".

use std::path::Path;

use crate::error::{Error, Result};
use crate::journal::LogBatch;
use crate::journal::codec::{self, DecodeError};
use crate::journal::frame::{self, HeaderCheck, ScanEnd};

mod file;
mod memory;
#[allow(unsafe_code)]
mod mmap;

pub use file::{FileBackend, FileOptions};
pub use memory::MemoryBackend;

/// What [`LogBackend::append_if`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AppendOutcome {
    /// The batch is durable; the log now ends at `end`.
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
/// complete (CRC-valid); batches arrive in log order; an append that returned
/// [`AppendOutcome::Appended`] is durable (synced to stable storage) and all or nothing.
pub trait LogBackend: Send + Sync {
    /// Proof of exclusive write access, released on drop.
    type WriteGuard<'a>
    where
        Self: 'a;

    /// The journal's path (or a placeholder such as `<memory>`), for error messages.
    fn path(&self) -> &Path;

    /// Hands every complete batch (a reused buffer: copy what you keep) after position `from` to `sink` (with its position) and
    /// returns the position after the last one. An incomplete or torn tail is not an error:
    /// reading stops before it and a later call retries. Corruption followed by valid data is
    /// [`Error::Corruption`] naming the offset. Never takes the write lock.
    fn read_from(
        &self,
        from: u64,
        sink: &mut dyn FnMut(u64, &LogBatch) -> Result<()>,
    ) -> Result<u64>;

    /// Takes exclusive write access (across threads, processes and hosts).
    fn lock(&self) -> Result<Self::WriteGuard<'_>>;

    /// Appends `batch` as one all-or-nothing record if the log still ends at `expected_end`
    /// (a position returned by `read_from`), repairing a torn tail first. Returns once the
    /// record is durable.
    fn append_if(
        &self,
        guard: &Self::WriteGuard<'_>,
        expected_end: u64,
        batch: &LogBatch,
    ) -> Result<AppendOutcome>;
}

/// Decodes and delivers the frames of `buf` (which starts at absolute offset `base`); returns
/// how the scan ended.
pub(crate) fn deliver_frames(
    path: &Path,
    buf: &[u8],
    base: u64,
    sink: &mut dyn FnMut(u64, &LogBatch) -> Result<()>,
) -> Result<ScanEnd> {
    let mut batch = LogBatch { worker_id: String::new(), ops: Vec::new() };
    frame::scan_frames(buf, |offset, payload| {
        let at = base + offset as u64;
        codec::decode_batch_into(payload, &mut batch).map_err(|e| match e {
            DecodeError::UnknownOperation(code) => {
                Error::UnknownOperation { path: path.to_owned(), offset: at, code }
            }
            e @ DecodeError::Malformed(_) => {
                Error::Corruption { path: path.to_owned(), offset: at, reason: e.to_string() }
            }
        })?;
        sink(at, &batch)
    })
}

/// Turns a header check into the position reading starts from (0 while the header is
/// incomplete) or the error it means.
pub(crate) fn header_start(path: &Path, head: &[u8]) -> Result<u64> {
    match frame::check_header(head) {
        HeaderCheck::Valid { .. } => Ok(frame::HEADER_LEN as u64),
        HeaderCheck::Incomplete => Ok(0),
        HeaderCheck::NotAJournal(reason) => {
            Err(Error::NotAJournal { path: path.to_owned(), reason: reason.to_owned() })
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
    /// Write these bytes at `expected_end` (optional header, optional padding over a torn tail,
    /// then the frame).
    Write(Vec<u8>),
}

/// Decides what to write, given every byte from `expected_end` to the current end of the log
/// (`tail`). Only call it holding the write lock: then no append is in flight and whatever
/// `tail` holds that is not a valid frame is a torn tail left by a crashed writer.
pub(crate) fn plan_append(
    path: &Path,
    expected_end: u64,
    tail: &[u8],
    batch: &LogBatch,
) -> Result<AppendPlan> {
    let payload = codec::encode_batch(batch);
    if payload.len() > frame::MAX_PAYLOAD_LEN {
        return Err(Error::invalid(format_args!(
            "a batch of {} bytes exceeds the {} byte frame limit",
            payload.len(),
            frame::MAX_PAYLOAD_LEN
        )));
    }
    let mut out = Vec::with_capacity(payload.len() + 32);
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
                frame::encode_padding(tail.len(), &mut out);
            }
        }
    }
    frame::encode_frame(&payload, &mut out);
    Ok(AppendPlan::Write(out))
}
