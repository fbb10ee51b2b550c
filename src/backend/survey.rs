//! A survey of a whole journal's bytes: every frame (or Optuna line), every invalid region, every
//! frame or line that does not decode, in file order. `trialog verify` and `trialog recover`
//! build on it; replay uses the faster scan in [`super::deliver_frames`], which stops at the
//! first bad byte.

use std::path::Path;

use super::decode_at;
use crate::error::{Error, Result};
use crate::journal::LogBatch;
use crate::journal::frame::{self, FrameCheck, HeaderCheck};

/// The state of a journal's 16-byte header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HeaderState {
    /// Complete and valid.
    Valid,
    /// Shorter than 16 bytes and a prefix of a valid header: creation did not finish (the next
    /// writer writes it). No frames follow.
    Incomplete,
    /// The magic is intact but the rest of the header is damaged (version, flags or CRC). The
    /// survey still reads frames from offset 16.
    Damaged,
}

/// One region of a journal, in file order.
#[derive(Debug)]
pub enum Segment<'a> {
    /// A valid frame holding a batch that decodes (or an Optuna line that decodes).
    Batch {
        /// Offset of the frame.
        offset: u64,
        /// Frame length including its 8-byte prefix (the line's length with its line ending).
        len: u64,
        /// The frame's payload (the encoded batch); for an Optuna line, the line as written.
        payload: &'a [u8],
        /// The decoded batch.
        batch: &'a LogBatch,
    },
    /// A valid padding frame (written over a torn tail; carries nothing).
    Padding {
        /// Offset of the frame.
        offset: u64,
        /// Frame length.
        len: u64,
    },
    /// Bytes that are not a valid frame.
    Invalid {
        /// Offset of the first bad byte.
        offset: u64,
        /// Length of the region.
        len: u64,
        /// `true` when no valid frame follows (a torn tail, or an append in flight); `false`
        /// when one does (corruption).
        torn: bool,
    },
    /// A CRC-valid frame whose payload does not decode.
    Undecodable {
        /// Offset of the frame.
        offset: u64,
        /// Frame length.
        len: u64,
        /// Why: [`Error::Corruption`] or [`Error::UnknownOperation`], naming the offset.
        error: Error,
    },
}

/// Walks all of `bytes` (a whole journal read from `path`) and calls `on_segment` for every
/// region in order; returns the header's state. Never panics and never stops early: an invalid
/// region is reported and the walk resumes at the next valid frame. Fails with
/// [`Error::NotAJournal`] if the magic is wrong and [`Error::UnsupportedFormat`] for a valid header
/// of a newer format.
pub fn survey(
    path: &Path,
    bytes: &[u8],
    mut on_segment: impl FnMut(Segment<'_>),
) -> Result<HeaderState> {
    let state = match frame::check_header(bytes) {
        HeaderCheck::Valid { .. } => HeaderState::Valid,
        HeaderCheck::Incomplete => return Ok(HeaderState::Incomplete),
        HeaderCheck::NotAJournal(_)
            if bytes.len() >= frame::HEADER_LEN && bytes[..8] == frame::MAGIC =>
        {
            HeaderState::Damaged
        }
        // `header_start` turns these into `NotAJournal` / `UnsupportedFormat`.
        HeaderCheck::NotAJournal(_) | HeaderCheck::Unsupported { .. } => {
            return super::header_start(path, bytes).map(|_| HeaderState::Damaged);
        }
    };
    let mut batch = LogBatch { worker_id: String::new(), ops: Vec::new() };
    let mut pos = frame::HEADER_LEN;
    while pos < bytes.len() {
        let offset = pos as u64;
        match frame::check_frame(&bytes[pos..]) {
            FrameCheck::Batch { payload, len } => {
                match decode_at(path, offset, payload, &mut batch) {
                    Ok(()) => on_segment(Segment::Batch {
                        offset,
                        len: len as u64,
                        payload,
                        batch: &batch,
                    }),
                    Err(error) => {
                        on_segment(Segment::Undecodable { offset, len: len as u64, error })
                    }
                }
                pos += len;
            }
            FrameCheck::Padding { len } => {
                on_segment(Segment::Padding { offset, len: len as u64 });
                pos += len;
            }
            FrameCheck::Incomplete | FrameCheck::Invalid => {
                let (len, torn) = match frame::find_next_valid_frame(&bytes[pos..]) {
                    Some(next) => (next, false),
                    None => (bytes.len() - pos, true),
                };
                on_segment(Segment::Invalid { offset, len: len as u64, torn });
                pos += len;
            }
        }
    }
    Ok(state)
}

/// [`survey`] for an Optuna JSON-lines journal: walks all of `bytes` (a whole journal read from
/// `path`) line by line and calls `on_segment` in file order, in the same vocabulary:
///
/// * a complete line (ending in `\n`) that decodes is a [`Segment::Batch`] whose `payload` is the
///   line as written (with its line ending) and whose `batch` holds its one operation;
/// * a complete line that does not decode is a [`Segment::Undecodable`]
///   ([`Error::Corruption`], or [`Error::UnknownOperation`] for a code this build does not know),
///   naming its offset;
/// * a last line without its `\n` is [`Segment::Invalid`] with `torn: true` (not written yet, or
///   left by a crashed writer).
///
/// Never reports padding or `torn: false`; never panics.
pub fn survey_lines(path: &Path, bytes: &[u8], mut on_segment: impl FnMut(Segment<'_>)) {
    let mut batch = LogBatch { worker_id: String::new(), ops: Vec::with_capacity(1) };
    let mut decoder = crate::journal::optuna_codec::LineDecoder::new();
    let mut pos = 0;
    while pos < bytes.len() {
        let offset = pos as u64;
        let Some(nl) = bytes[pos..].iter().position(|&b| b == b'\n') else {
            on_segment(Segment::Invalid { offset, len: (bytes.len() - pos) as u64, torn: true });
            return;
        };
        let len = nl as u64 + 1;
        match super::optuna_file::decode_line_at(path, offset, &bytes[pos..pos + nl], &mut decoder)
        {
            Ok((worker_id, op)) => {
                batch.worker_id = worker_id.into_owned();
                batch.ops.clear();
                batch.ops.push(op);
                let payload = &bytes[pos..=pos + nl];
                on_segment(Segment::Batch { offset, len, payload, batch: &batch });
            }
            Err(error) => on_segment(Segment::Undecodable { offset, len, error }),
        }
        pos += nl + 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One line per segment: kind, offset, length.
    fn segments(bytes: &[u8]) -> (HeaderState, Vec<String>) {
        let mut out = Vec::new();
        let state = survey(Path::new("j"), bytes, |s| {
            out.push(match s {
                Segment::Batch { offset, len, batch, .. } => {
                    format!("batch {offset} {len} {}", batch.ops.len())
                }
                Segment::Padding { offset, len } => format!("padding {offset} {len}"),
                Segment::Invalid { offset, len, torn } => format!("invalid {offset} {len} {torn}"),
                Segment::Undecodable { offset, len, error } => {
                    assert!(matches!(error, Error::Corruption { offset: o, .. } if o == offset));
                    format!("undecodable {offset} {len}")
                }
            });
        })
        .unwrap();
        (state, out)
    }

    #[test]
    fn every_kind_of_optuna_line_is_reported_in_order() {
        let good = br#"{"op_code":0,"worker_id":"w","study_name":"s","directions":[1]}"#;
        let mut bytes = Vec::new();
        bytes.extend_from_slice(good);
        bytes.extend_from_slice(b"\r\n{oops\n{\"op_code\":99,\"worker_id\":\"w\"}\n");
        bytes.extend_from_slice(good);
        bytes.extend_from_slice(b"\n{\"op_");
        let mut found = Vec::new();
        survey_lines(Path::new("j"), &bytes, |s| {
            found.push(match s {
                Segment::Batch { offset, len, payload, batch } => {
                    assert_eq!(payload.len() as u64, len);
                    format!("batch {offset} {len} {}", batch.ops.len())
                }
                Segment::Invalid { offset, len, torn } => format!("invalid {offset} {len} {torn}"),
                Segment::Undecodable { offset, len, error } => match error {
                    Error::Corruption { offset: o, .. } => format!("corrupt {o} {offset} {len}"),
                    Error::UnknownOperation { code, .. } => {
                        format!("unknown {code} {offset} {len}")
                    }
                    other => panic!("{other}"),
                },
                Segment::Padding { .. } => panic!("no padding in Optuna journals"),
            });
        });
        let n = good.len() as u64;
        assert_eq!(
            found,
            [
                format!("batch 0 {} 1", n + 2),
                format!("corrupt {0} {0} 6", n + 2),
                format!("unknown 99 {} 31", n + 8),
                format!("batch {} {} 1", n + 39, n + 1),
                format!("invalid {} 5 true", 2 * n + 40),
            ]
        );
    }

    #[test]
    fn every_kind_of_region_is_reported_in_order() {
        let mut bytes = frame::encode_header().to_vec();
        frame::encode_frame(b"\x92\xa1w\x90", &mut bytes); // ["w", []]: 12 bytes at 16
        frame::encode_padding(9, &mut bytes); // at 28
        bytes.extend_from_slice(&[0xff; 5]); // garbage at 37
        frame::encode_frame(b"\x92\xc0\x90", &mut bytes); // [nil, []] does not decode, at 42
        frame::encode_frame(b"\x92\xa1w\x90", &mut bytes); // at 53
        bytes.extend_from_slice(&[3, 0, 0, 0, 1]); // torn, at 65
        let (state, found) = segments(&bytes);
        assert_eq!(state, HeaderState::Valid);
        assert_eq!(
            found,
            [
                "batch 16 12 0",
                "padding 28 9",
                "invalid 37 5 false",
                "undecodable 42 11",
                "batch 53 12 0",
                "invalid 65 5 true"
            ]
        );
        // A damaged header with an intact magic is reported and the frames still read.
        bytes[9] ^= 1;
        assert_eq!(segments(&bytes).0, HeaderState::Damaged);
        assert_eq!(segments(&bytes[..7]).0, HeaderState::Incomplete);
        bytes[0] ^= 1;
        assert!(matches!(survey(Path::new("j"), &bytes, |_| {}), Err(Error::NotAJournal { .. })));
    }
}
