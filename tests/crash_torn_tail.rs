//! A crash never poisons the log: a torn tail is invisible and repaired, damage in the middle is
//! reported with its offset, and foreign files are refused (file backend).
//!
//! A writer that dies in the middle of an append leaves the first bytes of a frame (or, on some
//! file systems, zeros or garbage) after the last complete frame. Readers must see exactly the
//! records before it, without an error, and the next append must cover it with a padding frame
//! (never truncating: a reader may have the file mapped) so that every earlier record survives.
//! A bad frame *followed by a valid one* cannot be a torn write: it is corruption, and opening
//! must fail with [`Error::Corruption`] naming the journal and the bad frame's offset.

mod common;

use std::fs::OpenOptions;
use std::io::Write;
use std::path::Path;

use common::{FileJournal, encode_frame, frame_starts, state_of};
use trialog::journal::codec::encode_batch;
use trialog::journal::frame::{self, FrameCheck};
use trialog::journal::{LogBatch, Operation};
use trialog::replay::ReplayState;
use trialog::{AttrValue, Error, FileBackend, JournalStorage, StudyDirection, TrialState};

/// Appends `bytes` to the file at `path` by hand, as a crashed writer would have.
fn append_raw(path: &Path, bytes: &[u8]) {
    let mut f = OpenOptions::new().append(true).open(path).unwrap();
    f.write_all(bytes).unwrap();
    f.sync_all().unwrap();
}

/// Flips bits of the byte at `offset`.
fn flip(path: &Path, offset: usize) {
    let mut bytes = std::fs::read(path).unwrap();
    bytes[offset] ^= 0x5a;
    std::fs::write(path, bytes).unwrap();
}

/// A complete, valid frame that would create a study named `name`.
fn create_study_frame(name: &str) -> Vec<u8> {
    let batch = LogBatch {
        worker_id: "crashed-worker-0".to_owned(),
        ops: vec![Operation::CreateStudy {
            study_name: name.to_owned(),
            directions: vec![StudyDirection::Minimize],
        }],
    };
    encode_frame(&encode_batch(&batch))
}

/// Writes a study with a few trials; returns the state after each acknowledged append.
fn populate(s: &JournalStorage<FileBackend>) -> Vec<ReplayState> {
    let mut states = Vec::new();
    let study = s.create_new_study(&[StudyDirection::Minimize], Some("before")).unwrap();
    states.push(state_of(s));
    for i in 0..3 {
        let t = s.create_new_trial(study, None).unwrap();
        states.push(state_of(s));
        s.set_trial_intermediate_value(t, 0, f64::from(i)).unwrap();
        states.push(state_of(s));
        assert!(s.set_trial_state_values(t, TrialState::Complete, Some(&[f64::from(i)])).unwrap());
        states.push(state_of(s));
    }
    states
}

/// The tails a crash can leave: prefixes of a valid frame (shorter and longer than the 8-byte
/// frame header), pure garbage, and zeros (a file system that extended the file but never wrote
/// the data).
fn torn_tails() -> Vec<(String, Vec<u8>)> {
    let frame = create_study_frame("torn");
    let mut tails: Vec<(String, Vec<u8>)> = [1, 3, 7, 8, 9, frame.len() / 2, frame.len() - 1]
        .into_iter()
        .map(|k| (format!("first {k} of {} frame bytes", frame.len()), frame[..k].to_vec()))
        .collect();
    let garbage: Vec<u8> =
        (0u32..200).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8).collect();
    tails.push(("200 bytes of garbage".to_owned(), garbage));
    tails.push(("5 zero bytes".to_owned(), vec![0; 5]));
    tails.push(("4096 zero bytes".to_owned(), vec![0; 4096]));
    tails
}

#[test]
fn torn_tail_is_invisible_and_the_next_append_pads_over_it() {
    for (what, tail) in torn_tails() {
        let journal = FileJournal::new();
        let writer = journal.open();
        let before = populate(&writer).pop().unwrap();
        drop(writer);
        let clean = journal.bytes();
        append_raw(journal.path(), &tail);

        let reader = JournalStorage::open(journal.path())
            .unwrap_or_else(|e| panic!("{what}: open failed: {e}"));
        assert!(state_of(&reader) == before, "{what}: the torn tail changed what readers see");
        assert!(reader.get_study_id_from_name("torn").is_err(), "{what}: torn frame was read");

        // The next append repairs the tail and lands after it.
        let study = reader.get_study_id_from_name("before").unwrap();
        reader.set_study_user_attr(study, "after", AttrValue::Bool(true)).unwrap();
        let repaired = journal.bytes();
        assert!(
            repaired.len() >= clean.len() + tail.len(),
            "{what}: the file shrank from {} to {} bytes",
            clean.len() + tail.len(),
            repaired.len()
        );
        assert_eq!(&repaired[..clean.len()], &clean[..], "{what}: an earlier byte changed");
        let padding_len = tail.len().max(frame::MIN_FRAME_LEN);
        assert_eq!(
            frame::check_frame(&repaired[clean.len()..]),
            FrameCheck::Padding { len: padding_len },
            "{what}: the tail is not covered by one padding frame"
        );
        assert!(
            matches!(
                frame::check_frame(&repaired[clean.len() + padding_len..]),
                FrameCheck::Batch { len, .. } if clean.len() + padding_len + len == repaired.len()
            ),
            "{what}: the new record does not follow the padding"
        );

        // A fresh open sees every old record plus the new one.
        let reopened = journal.open();
        assert!(state_of(&reopened) == state_of(&reader), "{what}: reopen differs from writer");
        assert_eq!(reopened.get_study_user_attrs(study).unwrap()["after"], AttrValue::Bool(true));
        assert_eq!(reopened.get_n_trials(study, Some(&[TrialState::Complete])).unwrap(), 3);
    }
}

#[test]
fn partial_header_of_a_crashed_creator_is_rewritten_by_the_first_append() {
    let header = frame::encode_header();
    for k in [0, 1, 8, frame::HEADER_LEN - 1] {
        let journal = FileJournal::new();
        std::fs::write(journal.path(), &header[..k]).unwrap();
        let s = journal.open();
        assert!(s.get_all_studies().unwrap().is_empty(), "{k}-byte header prefix");
        let id = s.create_new_study(&[StudyDirection::Maximize], Some("first")).unwrap();
        let bytes = journal.bytes();
        assert_eq!(&bytes[..frame::HEADER_LEN], &header[..], "{k}-byte header prefix");
        assert_eq!(journal.open().get_study_name_from_id(id).unwrap(), "first");
    }
}

#[test]
fn reader_opened_before_the_tear_sees_records_written_after_the_repair() {
    let journal = FileJournal::new();
    let writer = journal.open();
    populate(&writer);
    let reader = journal.open(); // replayed up to the end before the crash
    let study = reader.get_study_id_from_name("before").unwrap();
    append_raw(journal.path(), &create_study_frame("torn")[..11]);
    let torn_state = state_of(&reader);
    assert!(torn_state == state_of(&writer), "the reader saw the torn tail");

    // Another handle repairs the tail with its append; the early reader sees that record next.
    let repairer = journal.open();
    let t = repairer.create_new_trial(study, None).unwrap();
    assert_eq!(reader.get_trial(t).unwrap().study_id, study);
    assert!(state_of(&reader) == state_of(&repairer));

    // The early reader can also be the one that repairs a later tear.
    append_raw(journal.path(), &[0xff; 3]);
    reader.set_trial_intermediate_value(t, 9, f64::NEG_INFINITY).unwrap();
    for h in [&writer, &repairer, &journal.open()] {
        assert_eq!(h.get_trial(t).unwrap().intermediate_value(9), Some(f64::NEG_INFINITY));
        assert!(state_of(h) == state_of(&reader));
    }
}

#[test]
fn crc_invalid_frame_followed_by_valid_frames_is_corruption_at_its_offset() {
    // Damage the length field, the CRC field, the first and the last payload byte.
    for field in ["length", "crc", "first payload byte", "last payload byte"] {
        let journal = FileJournal::new();
        let writer = journal.open();
        let study = writer.create_new_study(&[StudyDirection::Minimize], Some("before")).unwrap();
        // A handle that has replayed only the first frame when the damage happens.
        let early = journal.open();
        for i in 0..4 {
            let t = writer.create_new_trial(study, None).unwrap();
            writer.set_trial_intermediate_value(t, 0, f64::from(i)).unwrap();
        }
        let starts = frame_starts(&journal.bytes());
        assert_eq!(starts.len(), 9);
        let (start, end) = (starts[4], starts[5]);
        let offset = match field {
            "length" => start,
            "crc" => start + 5,
            "first payload byte" => start + frame::FRAME_HEADER_LEN,
            _ => end - 1,
        };
        flip(journal.path(), offset);
        let damaged = journal.bytes();

        match JournalStorage::open(journal.path()) {
            Err(Error::Corruption { path, offset: at, .. }) => {
                assert_eq!(path, journal.path(), "{field}");
                assert_eq!(at, start as u64, "{field}: reported at the wrong offset");
            }
            other => panic!("{field}: expected Corruption at {start}, got {other:?}"),
        }
        // A handle opened before the damage must refuse to append after it.
        let e = early.create_new_study(&[StudyDirection::Minimize], Some("after")).unwrap_err();
        assert!(
            matches!(&e, Error::Corruption { offset: at, .. } if *at == start as u64),
            "{field}: append through an early handle gave {e:?}"
        );
        assert!(matches!(early.get_all_studies(), Err(Error::Corruption { .. })), "{field}");
        assert_eq!(journal.bytes(), damaged, "{field}: something was appended");
    }
}

#[test]
fn journals_above_the_mmap_threshold_behave_the_same() {
    //! Cold replays of more than 1 MiB go through a memory map instead of `pread`: torn tails
    //! and corruption must be classified the same way there, and an incremental read of more
    //! than 1 MiB must deliver the same records.
    let journal = FileJournal::new();
    let writer = journal.open();
    let study = writer.create_new_study(&[StudyDirection::Minimize], Some("big")).unwrap();
    let early = journal.open();
    for i in 0..3 {
        let big = AttrValue::String(format!("{i}").repeat(450_000));
        writer.set_study_user_attr(study, &format!("big{i}"), big).unwrap();
    }
    assert!(journal.len() > 1 << 20, "the journal must exceed the mmap threshold");
    let before = state_of(&writer);
    assert!(state_of(&early) == before, "an incremental read of more than 1 MiB");

    append_raw(journal.path(), &create_study_frame("torn")[..20]);
    assert!(state_of(&journal.open()) == before, "a torn tail behind a mapped read");

    let starts = frame_starts(&journal.bytes());
    assert_eq!(starts.len(), 4);
    flip(journal.path(), starts[2] + 1000);
    match JournalStorage::open(journal.path()) {
        Err(Error::Corruption { offset, path, .. }) => {
            assert_eq!((offset, path.as_path()), (starts[2] as u64, journal.path()));
        }
        other => panic!("expected Corruption at {}, got {other:?}", starts[2]),
    }
}

#[test]
fn crc_valid_frame_that_does_not_decode_is_corruption_even_at_the_end() {
    //! A frame whose CRC matches was written whole by someone: if its payload is not a batch,
    //! no crash explains it, so it is corruption wherever it is (unlike a CRC-invalid last frame).
    let journal = FileJournal::new();
    let writer = journal.open();
    populate(&writer);
    let end = journal.len();
    append_raw(journal.path(), &encode_frame(&[0x01, 0x02, 0x03]));
    match JournalStorage::open(journal.path()) {
        Err(Error::Corruption { path, offset, .. }) => {
            assert_eq!((path.as_path(), offset), (journal.path(), end));
        }
        other => panic!("expected Corruption at {end}, got {other:?}"),
    }
    let damaged = journal.bytes();
    let e = writer.create_new_study(&[StudyDirection::Minimize], Some("after")).unwrap_err();
    assert!(matches!(e, Error::Corruption { offset, .. } if offset == end), "{e:?}");
    assert_eq!(journal.bytes(), damaged, "an append went past an undecodable frame");
}

#[test]
fn journal_that_shrank_below_a_reader_position_is_reported() {
    //! The file never shrinks (repair pads instead of truncating). If something else truncates
    //! it, a handle that had read past the new end must say so rather than silently miss or
    //! re-read records.
    let journal = FileJournal::new();
    let reader = journal.open();
    populate(&reader);
    let bytes = journal.bytes();
    let cut = frame_starts(&bytes)[3];
    std::fs::write(journal.path(), &bytes[..cut]).unwrap();
    match reader.get_all_studies() {
        Err(Error::Corruption { path, offset, .. }) => {
            assert_eq!((path.as_path(), offset), (journal.path(), cut as u64));
        }
        other => panic!("expected Corruption, got {other:?}"),
    }
    let e = reader.create_new_study(&[StudyDirection::Minimize], Some("x")).unwrap_err();
    assert!(matches!(e, Error::Corruption { .. }), "{e:?}");
    assert_eq!(journal.len(), cut as u64, "a write went through after the shrink");
}

#[test]
fn damaged_last_frame_is_treated_as_a_torn_tail() {
    //! Accepted ambiguity: without a valid frame after it, a damaged last frame cannot be told
    //! from a write torn by a crash, so it is dropped like a torn tail (its record was the last
    //! one written, and a crash could equally have lost it) and the next append pads over it.
    //! Only a bad frame followed by a valid one is reported as corruption.
    let journal = FileJournal::new();
    let writer = journal.open();
    let states = populate(&writer);
    drop(writer);
    let bytes = journal.bytes();
    let last = *frame_starts(&bytes).last().unwrap();
    flip(journal.path(), last + frame::FRAME_HEADER_LEN + 2);

    let s = JournalStorage::open(journal.path()).expect("a damaged last frame is not an error");
    let expected = &states[states.len() - 2];
    assert!(state_of(&s) == *expected, "the damaged last record is not dropped");
    let study = s.get_study_id_from_name("before").unwrap();
    s.set_study_system_attr(study, "repaired", AttrValue::Int(1)).unwrap();
    let repaired = journal.bytes();
    assert!(repaired.len() > bytes.len(), "the file shrank");
    assert_eq!(&repaired[..last], &bytes[..last]);
    assert!(matches!(frame::check_frame(&repaired[last..]), FrameCheck::Padding { .. }));
    let reopened = journal.open();
    assert!(state_of(&reopened) == state_of(&s));
    assert_eq!(reopened.get_study_system_attrs(study).unwrap()["repaired"], AttrValue::Int(1));
}

#[test]
fn files_that_are_not_journals_are_refused_and_left_alone() {
    let json =
        b"{\"op_code\": 0, \"worker_id\": \"w\", \"study_name\": \"s\", \"directions\": [1]}\n";
    let random: Vec<u8> = (0u32..300).map(|i| (i.wrapping_mul(40_503) >> 7) as u8).collect();
    let mut bad_crc = frame::encode_header().to_vec();
    bad_crc[13] ^= 1;
    let cases: [(&str, Vec<u8>); 4] = [
        ("Optuna JSON lines", json.to_vec()),
        ("random bytes", random),
        ("short text", b"hello".to_vec()),
        ("header with a bad checksum", bad_crc),
    ];
    for (what, content) in cases {
        let journal = FileJournal::new();
        std::fs::write(journal.path(), &content).unwrap();
        match JournalStorage::open(journal.path()) {
            Err(Error::NotAJournal { path, .. }) => assert_eq!(path, journal.path(), "{what}"),
            other => panic!("{what}: expected NotAJournal, got {other:?}"),
        }
        assert_eq!(journal.bytes(), content, "{what}: the file was modified");
    }
}

#[test]
fn newer_format_version_or_required_flags_are_unsupported() {
    for (version, flags) in [(2u16, 0u16), (1, 0x0001)] {
        let journal = FileJournal::new();
        let mut header = frame::encode_header();
        header[8..10].copy_from_slice(&version.to_le_bytes());
        header[10..12].copy_from_slice(&flags.to_le_bytes());
        let crc = crc32(&header[..12]);
        header[12..16].copy_from_slice(&crc.to_le_bytes());
        std::fs::write(journal.path(), header).unwrap();
        match JournalStorage::open(journal.path()) {
            Err(Error::UnsupportedFormat { path, version: v, flags: f, supported }) => {
                assert_eq!(path, journal.path());
                assert_eq!((v, f, supported), (version, flags, frame::FORMAT_VERSION));
            }
            other => {
                panic!("version {version} flags {flags}: expected UnsupportedFormat, got {other:?}")
            }
        }
        assert_eq!(journal.bytes(), header, "the file was modified");
    }
}

#[test]
fn empty_existing_file_opens_as_an_empty_journal() {
    let journal = FileJournal::new();
    std::fs::write(journal.path(), b"").unwrap();
    let s = journal.open();
    assert!(s.get_all_studies().unwrap().is_empty());
    assert_eq!(journal.len(), 0, "opening alone wrote something");
    let other = journal.open();
    let id = s.create_new_study(&[StudyDirection::Minimize], Some("first")).unwrap();
    let bytes = journal.bytes();
    assert_eq!(&bytes[..frame::HEADER_LEN], &frame::encode_header()[..]);
    assert_eq!(other.get_study_name_from_id(id).unwrap(), "first");
    assert_eq!(journal.open().get_study_name_from_id(id).unwrap(), "first");
}

/// CRC-32 (IEEE), as the header uses; bitwise so the test does not depend on the crate's choice
/// of implementation.
fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in bytes {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 == 1 { (crc >> 1) ^ 0xEDB8_8320 } else { crc >> 1 };
        }
    }
    !crc
}
