//! Recovery modes: what bytes that are not valid frames mean for a reader and a writer
//! (specified in `docs/RECOVERY.md`; the names are RocksDB's).
//!
//! The frame layer says where a scan stopped and why; this module decides, by mode, whether
//! that is the end of the log for now, an error, a stop, or a region to skip. It runs only when
//! a scan did not end cleanly, so a healthy log costs nothing extra per frame.

use std::fmt;
use std::path::Path;
use std::str::FromStr;
use std::sync::{Mutex, PoisonError};

use super::{Delivery, corruption, deliver_frames};
use crate::error::{Error, Result};
use crate::journal::LogBatch;
use crate::journal::frame::{self, FrameCheck, ScanEnd};

/// How a backend treats bytes that are not valid frames. See `docs/RECOVERY.md` for the full
/// table of what each mode does on a torn tail, on corruption and at the next write.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum RecoveryMode {
    /// A torn tail is the end of the log for now (and the next writer pads over it); bad bytes
    /// followed by a valid frame are [`Error::Corruption`]. Does **not** detect a damaged last
    /// frame: it looks like a torn write.
    #[default]
    TolerateCorruptedTail,
    /// Every invalid byte is an error, except a frame prefix at the very end while reading (it
    /// may be an append in flight); a writer refuses to pad any torn tail. Guarantees that
    /// nothing is silently dropped by a write; does not make a read detect a frame prefix.
    AbsoluteConsistency,
    /// Replay stops at the first invalid frame and ignores everything after it; writes behind
    /// such a stop fail. Guarantees a consistent prefix of the log, not that it is all of it.
    PointInTime,
    /// Replay skips every invalid region and undecodable frame and records it in the
    /// [`RecoveryReport`]; writes fail once something was skipped. Ids after a skipped region
    /// may differ from what the writers saw: for salvage only.
    SkipAnyCorrupted,
}

impl RecoveryMode {
    /// Every mode, in the order of the docs.
    pub const ALL: [RecoveryMode; 4] = [
        RecoveryMode::TolerateCorruptedTail,
        RecoveryMode::AbsoluteConsistency,
        RecoveryMode::PointInTime,
        RecoveryMode::SkipAnyCorrupted,
    ];

    /// The mode's command-line name (`tolerate-corrupted-tail`, ...).
    pub fn name(self) -> &'static str {
        match self {
            RecoveryMode::TolerateCorruptedTail => "tolerate-corrupted-tail",
            RecoveryMode::AbsoluteConsistency => "absolute-consistency",
            RecoveryMode::PointInTime => "point-in-time",
            RecoveryMode::SkipAnyCorrupted => "skip-any-corrupted",
        }
    }
}

impl fmt::Display for RecoveryMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for RecoveryMode {
    type Err = Error;

    /// Parses a command-line name; fails with [`Error::InvalidArgument`] listing the names.
    fn from_str(s: &str) -> Result<Self> {
        Self::ALL.into_iter().find(|m| m.name() == s).ok_or_else(|| {
            let names: Vec<&str> = Self::ALL.iter().map(|m| m.name()).collect();
            Error::invalid(format_args!(
                "unknown recovery mode {s:?} (expected one of {})",
                names.join(", ")
            ))
        })
    }
}

/// A region of the log that replay did not apply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SkippedRange {
    /// Byte offset of the first skipped byte.
    pub offset: u64,
    /// Number of bytes skipped.
    pub len: u64,
    /// Why ("invalid frame", or why a CRC-valid frame does not decode).
    pub reason: String,
}

/// What a handle's recovery mode made replay leave out, so far. Torn tails are not listed
/// (they are expected while writers run); `trialog verify` reports them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct RecoveryReport {
    /// The handle's mode.
    pub mode: RecoveryMode,
    /// [`RecoveryMode::SkipAnyCorrupted`]: every skipped region, in log order.
    pub skipped: Vec<SkippedRange>,
    /// [`RecoveryMode::PointInTime`]: the offset where replay stopped for good (every byte from
    /// there on is ignored), if it found an invalid frame followed by valid data.
    pub stopped_at: Option<u64>,
}

impl RecoveryReport {
    /// Whether replay left nothing out.
    pub fn is_clean(&self) -> bool {
        self.skipped.is_empty() && self.stopped_at.is_none()
    }
}

/// What is wrong in a skipped region, without the path and offset its record already carries.
fn detail(error: &Error) -> String {
    match error {
        Error::Corruption { reason, .. } => reason.clone(),
        other => other.to_string(),
    }
}

/// A backend's mode and what it has found; one per handle.
#[derive(Debug, Default)]
pub(crate) struct Recovery {
    mode: RecoveryMode,
    report: Mutex<RecoveryReport>,
}

/// What [`Recovery::bad_record`] decided for a record that does not decode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum BadRecord {
    /// Replay ends before the record, for good.
    Stop,
    /// Replay goes on after the record.
    Skip,
}

impl Recovery {
    pub(crate) fn new(mode: RecoveryMode) -> Self {
        Recovery { mode, report: Mutex::new(RecoveryReport { mode, ..RecoveryReport::default() }) }
    }

    pub(crate) fn mode(&self) -> RecoveryMode {
        self.mode
    }

    pub(crate) fn report(&self) -> RecoveryReport {
        self.locked().clone()
    }

    fn locked(&self) -> std::sync::MutexGuard<'_, RecoveryReport> {
        self.report.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Whether a read from `from` has nothing to do because `PointInTime` stopped there for good
    /// (confirmed corruption cannot heal: writers refuse to append behind it), so a stopped
    /// handle does not re-read the ignored bytes on every sync.
    pub(crate) fn stopped_at(&self, from: u64) -> bool {
        self.mode == RecoveryMode::PointInTime && self.locked().stopped_at == Some(from)
    }

    /// Fails if this handle must not write: `SkipAnyCorrupted` after it skipped something, or
    /// `PointInTime` after it stopped (a write would land behind bytes replay ignores).
    pub(crate) fn check_writable(&self, path: &Path) -> Result<()> {
        if self.mode == RecoveryMode::PointInTime {
            if let Some(at) = self.locked().stopped_at {
                return Err(Error::Corruption {
                    path: path.to_owned(),
                    offset: at,
                    reason: "replay stopped here (point-in-time), so this handle refuses to write: run `trialog recover` first".to_owned(),
                });
            }
        }
        if self.mode != RecoveryMode::SkipAnyCorrupted {
            return Ok(());
        }
        let report = self.locked();
        match report.skipped.first() {
            None => Ok(()),
            Some(first) => Err(Error::Corruption {
                path: path.to_owned(),
                offset: first.offset,
                reason: format!(
                    "this handle skipped {} corrupt region(s) (skip-any-corrupted), so it refuses to write: run `trialog recover` first",
                    report.skipped.len()
                ),
            }),
        }
    }

    /// Delivers the frames of `buf` (which starts at absolute offset `base` and holds every byte
    /// of the log this read looks at) and returns the position the next read starts from,
    /// deciding by mode what a bad region means. `confirm(at)` re-reads the log from `at` to its
    /// current end: a finding is acted on only if the fresh bytes confirm it (a torn tail being
    /// repaired while we read can look like corruption).
    pub(crate) fn read_region(
        &self,
        path: &Path,
        buf: &[u8],
        base: u64,
        sink: &mut dyn FnMut(u64, &LogBatch) -> Result<()>,
        confirm: &dyn Fn(u64) -> Result<Vec<u8>>,
    ) -> Result<u64> {
        let mut start = 0;
        loop {
            let region = base + start as u64;
            match deliver_frames(path, &buf[start..], region, sink)? {
                Delivery::End(ScanEnd::Clean) => return Ok(base + buf.len() as u64),
                Delivery::End(ScanEnd::Torn { offset }) => {
                    let at = region + offset as u64;
                    let invalid = frame::check_frame(&buf[start + offset..]) == FrameCheck::Invalid;
                    if self.mode == RecoveryMode::AbsoluteConsistency
                        && invalid
                        && frame::check_frame(&confirm(at)?) == FrameCheck::Invalid
                    {
                        return Err(Error::Corruption {
                            path: path.to_owned(),
                            offset: at,
                            reason: format!(
                                "{} invalid bytes end the log (a damaged last frame or a torn write; absolute-consistency)",
                                base + buf.len() as u64 - at
                            ),
                        });
                    }
                    return Ok(at);
                }
                Delivery::End(ScanEnd::Corrupt { offset, .. }) => {
                    let at = region + offset as u64;
                    let again = confirm(at)?;
                    let Ok(ScanEnd::Corrupt { offset: 0, next_valid }) =
                        frame::scan_frames::<()>(&again, |_, _| Ok(()))
                    else {
                        return Ok(at); // not confirmed: read from here again next time
                    };
                    let next = at + next_valid as u64;
                    match self.mode {
                        RecoveryMode::TolerateCorruptedTail | RecoveryMode::AbsoluteConsistency => {
                            return Err(corruption(path, at, next));
                        }
                        RecoveryMode::PointInTime => {
                            self.locked().stopped_at = Some(at);
                            return Ok(at);
                        }
                        RecoveryMode::SkipAnyCorrupted => {
                            let Some(rel) =
                                usize::try_from(next - base).ok().filter(|&r| r <= buf.len())
                            else {
                                return Ok(at); // the valid frame lies beyond this read
                            };
                            self.skip(
                                path,
                                at,
                                next - at,
                                "invalid frame followed by a valid frame",
                            );
                            start = rel;
                        }
                    }
                }
                Delivery::Undecodable { offset, len, error } => {
                    let at = region + offset as u64;
                    match self.mode {
                        _ if matches!(error, Error::UnknownOperation { .. }) => return Err(error),
                        RecoveryMode::TolerateCorruptedTail | RecoveryMode::AbsoluteConsistency => {
                            return Err(error);
                        }
                        RecoveryMode::PointInTime => {
                            self.locked().stopped_at = Some(at);
                            return Ok(at);
                        }
                        RecoveryMode::SkipAnyCorrupted => {
                            self.skip(path, at, len as u64, &detail(&error));
                            start += offset + len;
                        }
                    }
                }
            }
        }
    }

    /// For a backend of self-delimiting records (Optuna's JSON lines): what the complete record
    /// of `len` bytes at `at` that failed to decode with `error` means. The default modes and any
    /// unknown operation code (a newer writer's data is never dropped): the error.
    /// `PointInTime`: stop there for good ([`BadRecord::Stop`]). `SkipAnyCorrupted`: skip it,
    /// recorded in the report ([`BadRecord::Skip`]).
    pub(crate) fn bad_record(
        &self,
        path: &Path,
        at: u64,
        len: u64,
        error: Error,
    ) -> Result<BadRecord> {
        match self.mode {
            _ if matches!(error, Error::UnknownOperation { .. }) => Err(error),
            RecoveryMode::TolerateCorruptedTail | RecoveryMode::AbsoluteConsistency => Err(error),
            RecoveryMode::PointInTime => {
                self.locked().stopped_at = Some(at);
                Ok(BadRecord::Stop)
            }
            RecoveryMode::SkipAnyCorrupted => {
                self.skip(path, at, len, &detail(&error));
                Ok(BadRecord::Skip)
            }
        }
    }

    /// Records a skipped region once (a retried read may find it again).
    fn skip(&self, path: &Path, offset: u64, len: u64, reason: &str) {
        let mut report = self.locked();
        if !report.skipped.iter().any(|s| s.offset == offset) {
            log::warn!(
                "{}: skipping {len} corrupt bytes at offset {offset}: {reason}",
                path.display()
            );
            report.skipped.push(SkippedRange { offset, len, reason: reason.to_owned() });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mode_names_round_trip_and_unknown_names_are_typed_errors() {
        for mode in RecoveryMode::ALL {
            assert_eq!(mode.name().parse::<RecoveryMode>().unwrap(), mode);
            assert_eq!(mode.to_string(), mode.name());
        }
        assert!(
            matches!("tolerate".parse::<RecoveryMode>(), Err(Error::InvalidArgument(m)) if m.contains("point-in-time"))
        );
        assert_eq!(RecoveryMode::default(), RecoveryMode::TolerateCorruptedTail);
    }

    #[test]
    fn a_skipped_region_is_reported_once_and_blocks_writes() {
        let r = Recovery::new(RecoveryMode::SkipAnyCorrupted);
        let path = Path::new("j");
        assert!(r.check_writable(path).is_ok());
        r.skip(path, 40, 9, "bad");
        r.skip(path, 40, 9, "bad"); // a retried read finds it again
        assert_eq!(r.report().skipped, [SkippedRange { offset: 40, len: 9, reason: "bad".into() }]);
        assert!(matches!(r.check_writable(path), Err(Error::Corruption { offset: 40, .. })));
        assert!(!r.report().is_clean());
        assert!(Recovery::new(RecoveryMode::PointInTime).report().is_clean());
    }
}
