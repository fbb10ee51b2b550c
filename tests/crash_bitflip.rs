//! Corruption is detected, reported with file and byte offset, and never silently replayed
//! (issue 4, promise (c)), in every recovery mode and by `verify` and `recover`.
//!
//! Every bit of a small valid journal (header, batch frames and a padding frame) is flipped in
//! turn. For each flip, opening the journal must either fail with a typed error naming the
//! flipped frame's offset, or give exactly a state the mode promises: the same state, the state
//! of the frames before the flipped one (point-in-time, or a damaged *last* frame, which no reader
//! can tell from a torn write), or the state without the flipped frame (skip-any-corrupted,
//! which reports the skipped range). Never a panic, never any other state. `verify` must call
//! every flip unclean and name its offset, and `recover` must turn each into a clean journal with
//! the state the mode promises.
//!
//! Garbage appended at the end leaves the prefix intact, and the next append covers it with
//! padding so the journal is clean again.

mod common;

use common::{FileJournal, nested_attr, replay_bytes, state_of};
use trialog::backend::HeaderState;
use trialog::journal::frame::{self, FrameCheck};
use trialog::recover::{self, Verdict};
use trialog::replay::ReplayState;
use trialog::{
    AttrValue, Distribution, Error, FileOptions, FrozenTrial, JournalStorage, MemoryBackend,
    RecoveryMode, StudyDirection, TrialState,
};

/// A small journal written through the public API: two studies, trials with parameters, values,
/// intermediate values and attributes, and one padding frame (a torn tail repaired by a write).
fn small_journal() -> Vec<u8> {
    let backend = MemoryBackend::new();
    let s = JournalStorage::new(backend.clone()).unwrap();
    let a = s.create_new_study(&[StudyDirection::Minimize], Some("a")).unwrap();
    let t = s.create_new_trial(a, None).unwrap();
    let x = Distribution::float(0.0, 1.0, false, None).unwrap();
    s.set_trial_param(t, "x", 0.25, &x).unwrap();
    s.set_trial_intermediate_value(t, 1, f64::NAN).unwrap();
    backend.append_raw(&[9, 0, 0, 0, 1, 2]); // a crashed writer's torn tail
    s.set_trial_user_attr(t, "k", nested_attr()).unwrap(); // pads over it
    s.set_trial_state_values(t, TrialState::Complete, Some(&[0.5])).unwrap();
    let b =
        s.create_new_study(&[StudyDirection::Maximize, StudyDirection::Minimize], None).unwrap();
    let waiting = FrozenTrial::new(0, 0, 0, TrialState::Waiting);
    s.create_new_trial(b, Some(&waiting)).unwrap();
    s.set_study_user_attr(b, "u", AttrValue::Int(3)).unwrap();
    backend.to_bytes()
}

/// A valid frame of the journal: where it is and what replay gives around it.
struct FrameInfo {
    start: usize,
    end: usize,
    padding: bool,
    /// State of the frames before this one.
    before: ReplayState,
    /// State of every frame except this one.
    without: ReplayState,
}

fn frames(bytes: &[u8]) -> Vec<FrameInfo> {
    let mut out = Vec::new();
    let mut pos = frame::HEADER_LEN;
    while pos < bytes.len() {
        let (len, padding) = match frame::check_frame(&bytes[pos..]) {
            FrameCheck::Batch { len, .. } => (len, false),
            FrameCheck::Padding { len } => (len, true),
            other => panic!("the test journal is not clean at {pos}: {other:?}"),
        };
        let mut without = bytes[..pos].to_vec();
        without.extend_from_slice(&bytes[pos + len..]);
        out.push(FrameInfo {
            start: pos,
            end: pos + len,
            padding,
            before: replay_bytes(&bytes[..pos]).unwrap(),
            without: replay_bytes(&without).unwrap(),
        });
        pos += len;
    }
    out
}

/// Opens `bytes` in `mode` and returns the state and the recovery report, or the error.
fn open(bytes: &[u8], mode: RecoveryMode) -> Result<(ReplayState, trialog::RecoveryReport), Error> {
    let backend = MemoryBackend::from_bytes(bytes.to_vec()).with_recovery(mode);
    let storage = JournalStorage::new(backend)?;
    Ok((state_of(&storage), storage.recovery_report()))
}

fn corruption_offset(e: &Error) -> Option<u64> {
    match e {
        Error::Corruption { offset, path, .. } => {
            assert_eq!(path.to_str(), Some("<memory>"), "the error names the journal");
            Some(*offset)
        }
        _ => None,
    }
}

/// Checks one flipped journal against every mode, `verify` and `recover`. `at` is the flipped
/// byte, `original` the state of the unflipped journal.
fn check_flip(bytes: &[u8], at: usize, frames: &[FrameInfo], original: &ReplayState) {
    let ctx = format!("flip at byte {at}");
    if at < frame::HEADER_LEN {
        for mode in RecoveryMode::ALL {
            match open(bytes, mode) {
                Err(Error::NotAJournal { .. } | Error::UnsupportedFormat { .. }) => {}
                other => panic!("{ctx}, {mode}: a damaged header must be refused, got {other:?}"),
            }
        }
        match recover::verify_bytes("j".as_ref(), bytes) {
            Err(Error::NotAJournal { .. }) => assert!(at < 8, "{ctx}: only a bad magic"),
            Ok(r) => {
                assert_eq!(r.header, Some(HeaderState::Damaged), "{ctx}");
                assert_eq!(r.verdict(), Verdict::Corrupt, "{ctx}");
                assert_eq!(r.corrupt[0].offset, 0, "{ctx}");
                // Salvage keeps every frame behind a header with an intact magic.
                let (clean, _) =
                    recover::recover_bytes("j".as_ref(), bytes, RecoveryMode::SkipAnyCorrupted)
                        .unwrap();
                assert!(replay_bytes(&clean).unwrap() == *original, "{ctx}: salvage");
            }
            Err(e) => panic!("{ctx}: verify failed with {e}"),
        }
        return;
    }
    let k = frames.iter().position(|f| (f.start..f.end).contains(&at)).unwrap();
    let f = &frames[k];
    let last = k + 1 == frames.len();
    let in_length_field = at < f.start + 4;
    let start = f.start as u64;

    // Default: corruption before valid data is an error at the frame; a damaged last frame is
    // indistinguishable from a torn write and replays as the prefix (verify catches it below).
    match open(bytes, RecoveryMode::TolerateCorruptedTail) {
        Err(e) => assert_eq!(corruption_offset(&e), Some(start), "{ctx}: {e}"),
        Ok((state, _)) => {
            assert!(last, "{ctx}: damage before valid frames replayed silently");
            assert!(state == f.before, "{ctx}: a torn last frame replays as the prefix");
        }
    }
    // Absolute consistency: the same, except that only a frame prefix (a length that now points
    // past the end) at the very end is tolerated while reading, since it may be in flight.
    match open(bytes, RecoveryMode::AbsoluteConsistency) {
        Err(e) => assert_eq!(corruption_offset(&e), Some(start), "{ctx}: {e}"),
        Ok((state, _)) => {
            assert!(last && in_length_field, "{ctx}: absolute-consistency accepted damage");
            assert_eq!(frame::check_frame(&bytes[f.start..]), FrameCheck::Incomplete, "{ctx}");
            assert!(state == f.before, "{ctx}");
        }
    }
    // Point in time: the frames before the flipped one, and the stop is reported.
    let (state, report) = open(bytes, RecoveryMode::PointInTime).expect(&ctx);
    assert!(state == f.before, "{ctx}: point-in-time gives the prefix");
    assert_eq!(report.stopped_at, (!last).then_some(start), "{ctx}");
    // Skip: every frame but the flipped one, and the skipped range is reported.
    let (state, report) = open(bytes, RecoveryMode::SkipAnyCorrupted).expect(&ctx);
    if last {
        assert!(state == f.before && report.skipped.is_empty(), "{ctx}");
    } else {
        assert!(state == f.without, "{ctx}: skip leaves out exactly the flipped frame");
        let skipped: Vec<(u64, u64)> = report.skipped.iter().map(|s| (s.offset, s.len)).collect();
        assert_eq!(skipped, [(start, (f.end - f.start) as u64)], "{ctx}");
    }
    // A flipped padding frame changes nothing but is still reported.
    if f.padding {
        assert!(f.without == *original && f.before.stats().batches <= original.stats().batches);
    }

    // verify: never clean, and it names the offset.
    let r = recover::verify_bytes("j".as_ref(), bytes).expect(&ctx);
    if last {
        assert_eq!(r.verdict(), Verdict::TornTail, "{ctx}");
        assert_eq!(r.torn_tail.map(|t| t.0), Some(start), "{ctx}");
    } else {
        assert_eq!(r.verdict(), Verdict::Corrupt, "{ctx}");
        assert_eq!(r.corrupt[0].offset, start, "{ctx}");
        assert_eq!(r.corrupt[0].len, (f.end - f.start) as u64, "{ctx}");
    }
    assert_eq!(r.valid_end, start, "{ctx}");

    // recover: each mode gives a clean journal with the state it promises, or refuses.
    for mode in RecoveryMode::ALL {
        let result = recover::recover_bytes("j".as_ref(), bytes, mode);
        let expected = match mode {
            RecoveryMode::TolerateCorruptedTail if last => Some(&f.before),
            RecoveryMode::TolerateCorruptedTail | RecoveryMode::AbsoluteConsistency => None,
            RecoveryMode::PointInTime => Some(&f.before),
            RecoveryMode::SkipAnyCorrupted if last => Some(&f.before),
            RecoveryMode::SkipAnyCorrupted => Some(&f.without),
        };
        match (result, expected) {
            (Ok((clean, report)), Some(expected)) => {
                let v = recover::verify_bytes("j".as_ref(), &clean).unwrap();
                assert_eq!(v.verdict(), Verdict::Clean, "{ctx}, {mode}");
                assert!(replay_bytes(&clean).unwrap() == *expected, "{ctx}, {mode}");
                assert_eq!(report.dropped[0].offset, start, "{ctx}, {mode}");
            }
            (Err(e), None) => assert_eq!(corruption_offset_any(&e), Some(start), "{ctx}, {mode}"),
            (other, _) => panic!("{ctx}, {mode}: unexpected {other:?}"),
        }
    }
}

fn corruption_offset_any(e: &Error) -> Option<u64> {
    match e {
        Error::Corruption { offset, .. } => Some(*offset),
        _ => None,
    }
}

#[test]
fn every_bit_flip_is_detected_or_harmless_in_every_mode() {
    let bytes = small_journal();
    let frames = frames(&bytes);
    assert!(frames.iter().any(|f| f.padding), "the journal has a padding frame");
    let original = replay_bytes(&bytes).unwrap();
    assert!(open(&bytes, RecoveryMode::AbsoluteConsistency).unwrap().0 == original);
    assert_eq!(recover::verify_bytes("j".as_ref(), &bytes).unwrap().verdict(), Verdict::Clean);
    for at in 0..bytes.len() {
        for bit in 0..8 {
            let mut flipped = bytes.clone();
            flipped[at] ^= 1 << bit;
            check_flip(&flipped, at, &frames, &original);
        }
    }
}

#[test]
fn byte_damage_in_a_file_journal_is_detected_with_its_offset() {
    // The file backend's read path (pread, confirmation re-read) with whole-byte damage.
    let bytes = small_journal();
    let frames = frames(&bytes);
    let j = FileJournal::new();
    for at in (frame::HEADER_LEN..bytes.len()).step_by(3) {
        let mut damaged = bytes.clone();
        damaged[at] ^= 0xa5;
        std::fs::write(j.path(), &damaged).unwrap();
        let f = frames.iter().find(|f| (f.start..f.end).contains(&at)).unwrap();
        let last = f.end == bytes.len();
        for mode in [RecoveryMode::TolerateCorruptedTail, RecoveryMode::PointInTime] {
            let options = FileOptions { create: false, recovery: mode, ..FileOptions::default() };
            match (JournalStorage::open_with(j.path(), &options), mode) {
                (
                    Err(Error::Corruption { path, offset, .. }),
                    RecoveryMode::TolerateCorruptedTail,
                ) => {
                    assert_eq!((path.as_path(), offset), (j.path(), f.start as u64), "byte {at}");
                    assert!(!last);
                }
                (Ok(s), _) => {
                    assert!(last || mode == RecoveryMode::PointInTime, "byte {at}");
                    assert!(state_of(&s) == f.before, "byte {at}, {mode}");
                }
                (other, _) => panic!("byte {at}, {mode}: {other:?}"),
            }
        }
    }
}

#[test]
fn garbage_at_the_end_keeps_the_prefix_and_the_next_append_pads_it() {
    let bytes = small_journal();
    let original = replay_bytes(&bytes).unwrap();
    let garbage: [&[u8]; 5] = [
        &[0],
        &[0xff; 7],
        &[0; 4096],                                  // zeros left by a power loss
        &[0x10, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9], // a frame header with a bad CRC
        &[0xff, 0xff, 0xff, 0x0f, 1, 2, 3, 4],       // a length pointing far past the end
    ];
    for g in garbage {
        let mut damaged = bytes.clone();
        damaged.extend_from_slice(g);
        for mode in RecoveryMode::ALL {
            let ctx = format!("{} garbage bytes, {mode}", g.len());
            let backend = MemoryBackend::from_bytes(damaged.clone()).with_recovery(mode);
            let absolute = mode == RecoveryMode::AbsoluteConsistency;
            let storage = match JournalStorage::new(backend.clone()) {
                Ok(s) => s,
                Err(e) => {
                    // Only absolute consistency, only for complete-looking invalid bytes.
                    assert!(absolute, "{ctx}: {e}");
                    assert_eq!(corruption_offset(&e), Some(bytes.len() as u64), "{ctx}");
                    continue;
                }
            };
            assert!(state_of(&storage) == original, "{ctx}: the prefix is intact");
            let result = storage.create_new_study(&[StudyDirection::Minimize], Some("after"));
            if absolute {
                // The writer never pads in this mode: an error at the tail, nothing written.
                let e = result.unwrap_err();
                assert_eq!(corruption_offset(&e), Some(bytes.len() as u64), "{ctx}");
                assert_eq!(backend.to_bytes(), damaged, "{ctx}: nothing written");
                continue;
            }
            result.unwrap();
            let repaired = backend.to_bytes();
            assert_eq!(&repaired[..bytes.len()], &bytes[..], "{ctx}: never rewrites the prefix");
            let v = recover::verify_bytes("j".as_ref(), &repaired).unwrap();
            assert_eq!(v.verdict(), Verdict::Clean, "{ctx}: clean after the append");
            let reopened = open(&repaired, RecoveryMode::AbsoluteConsistency).unwrap().0;
            assert!(reopened == state_of(&storage), "{ctx}");
            assert_eq!(reopened.studies().count(), original.studies().count() + 1, "{ctx}");
        }
    }
}
