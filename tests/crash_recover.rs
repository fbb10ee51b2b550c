//! Salvage never hides or splits data: what the recovery modes let a writer do, and what
//! `recover` does to the file and to handles that still have the old file open.
//!
//! A handle that skipped corrupt bytes must not write (its ids are salvage ids); a point-in-time
//! handle must not append behind bytes it ignores; `recover` must hold the writers' lock, keep a
//! byte-exact backup before replacing anything, never clobber an `--out` file, and a writer that
//! still has the replaced file open must fail with `Error::JournalReplaced` rather than append
//! acknowledged data to a file nobody reads.

mod common;

use std::time::Duration;

use common::{FileJournal, state_of};
use trialog::lock::{self, LockOptions};
use trialog::recover::{self, RecoverOptions, Verdict};
use trialog::{Error, FileOptions, JournalStorage, MemoryBackend, RecoveryMode, StudyDirection};

/// A journal with three studies (one frame each) and its bytes, with one flipped byte in the
/// middle frame.
fn corrupt_journal() -> (Vec<u8>, u64) {
    let backend = MemoryBackend::new();
    let s = JournalStorage::new(backend.clone()).unwrap();
    for name in ["a", "b", "c"] {
        s.create_new_study(&[StudyDirection::Minimize], Some(name)).unwrap();
    }
    let mut bytes = backend.to_bytes();
    let starts = common::frame_starts(&bytes);
    bytes[starts[1] + 9] ^= 0x01;
    (bytes, starts[1] as u64)
}

#[test]
fn skip_any_corrupted_refuses_to_write_after_skipping() {
    let (bytes, bad) = corrupt_journal();
    let backend =
        MemoryBackend::from_bytes(bytes.clone()).with_recovery(RecoveryMode::SkipAnyCorrupted);
    let s = JournalStorage::new(backend.clone()).unwrap();
    let names: Vec<String> =
        s.get_all_studies().unwrap().into_iter().map(|s| s.study_name).collect();
    assert_eq!(names, ["a", "c"]);
    assert_eq!(s.recovery_report().skipped[0].offset, bad);
    match s.create_new_study(&[StudyDirection::Minimize], Some("d")) {
        Err(Error::Corruption { offset, .. }) => assert_eq!(offset, bad),
        other => panic!("a salvaging handle wrote: {other:?}"),
    }
    assert_eq!(backend.to_bytes(), bytes, "nothing was written");
}

#[test]
fn point_in_time_stops_and_never_appends_behind_ignored_bytes() {
    let (bytes, bad) = corrupt_journal();
    let backend = MemoryBackend::from_bytes(bytes.clone()).with_recovery(RecoveryMode::PointInTime);
    let s = JournalStorage::new(backend.clone()).unwrap();
    assert_eq!(s.get_all_studies().unwrap().len(), 1);
    assert_eq!(s.recovery_report().stopped_at, Some(bad));
    assert!(matches!(
        s.create_new_study(&[StudyDirection::Minimize], Some("d")),
        Err(Error::Corruption { offset, .. }) if offset == bad
    ));
    assert_eq!(backend.to_bytes(), bytes, "nothing was written");
    s.sync().unwrap(); // later syncs stay at the stop
    assert_eq!(s.get_all_studies().unwrap().len(), 1);
}

// Unix replaces a journal that other handles have open, and their writers then fail with
// JournalReplaced; Windows refuses to replace an open file (see the next test).
#[cfg(unix)]
#[test]
fn recover_in_place_keeps_a_backup_and_stops_writers_of_the_old_file() {
    use trialog::TrialState;
    let j = FileJournal::new();
    let writer = j.open();
    let study = writer.create_new_study(&[StudyDirection::Minimize], Some("s")).unwrap();
    let trial = writer.create_new_trial(study, None).unwrap();
    let mut original = j.bytes();
    original.extend_from_slice(&[0xde, 0xad, 0xbe, 0xef, 0, 0, 0, 0, 1]); // a torn tail
    std::fs::write(j.path(), &original).unwrap();
    // (the handle's file is the same inode: `fs::write` truncates and rewrites it)
    let options = RecoverOptions {
        mode: RecoveryMode::TolerateCorruptedTail,
        out: None,
        ..RecoverOptions::default()
    };
    let report = recover::recover(j.path(), &options).unwrap();
    assert_eq!(report.kept_frames, 2);
    assert_eq!(report.dropped.len(), 1);
    let backup = report.backup.expect("a backup");
    assert_eq!(std::fs::read(&backup).unwrap(), original, "the backup is byte for byte");
    assert_eq!(recover::verify(j.path()).unwrap().verdict(), Verdict::Clean);
    // The old handle's file was replaced: its next write fails and writes nothing anywhere.
    match writer.set_trial_state_values(trial, TrialState::Complete, Some(&[1.0])) {
        Err(Error::JournalReplaced { path }) => assert_eq!(path, j.path()),
        other => panic!("a writer of the replaced file wrote: {other:?}"),
    }
    let reopened = j.open();
    assert_eq!(reopened.get_trial(trial).unwrap().state, TrialState::Running);
    reopened.set_trial_state_values(trial, TrialState::Complete, Some(&[1.0])).unwrap();
    // Nothing to drop any more: in place does nothing.
    let again = recover::recover(j.path(), &options).unwrap();
    assert!(again.written.is_none() && again.backup.is_none());
}

/// Windows refuses to replace a file another handle has open: `recover` in place then fails with
/// `Error::JournalInUse`, naming the journal and the operation, and changes nothing (no backup
/// is left either); once the other handle is closed it recovers.
#[cfg(windows)]
#[test]
fn recover_in_place_needs_the_journal_closed_on_windows() {
    let j = FileJournal::new();
    let writer = j.open();
    let study = writer.create_new_study(&[StudyDirection::Minimize], Some("s")).unwrap();
    writer.create_new_trial(study, None).unwrap();
    let mut original = j.bytes();
    original.extend_from_slice(&[0xde, 0xad, 0xbe, 0xef, 0, 0, 0, 0, 1]); // a torn tail
    std::fs::write(j.path(), &original).unwrap();
    let names = || common::names_in(j.dir());
    let before = names();
    let options = RecoverOptions {
        mode: RecoveryMode::TolerateCorruptedTail,
        out: None,
        ..RecoverOptions::default()
    };
    match recover::recover(j.path(), &options) {
        Err(e @ Error::JournalInUse { .. }) => {
            let text = e.to_string();
            assert!(text.contains(&j.path().display().to_string()), "{text}");
            assert!(text.contains("trialog recover in place") && text.contains("--out"), "{text}");
        }
        other => panic!("replaced a journal another handle has open: {other:?}"),
    }
    assert_eq!(j.bytes(), original, "the journal changed");
    assert_eq!(names(), before, "a backup or temporary file was left");
    drop(writer);
    let report = recover::recover(j.path(), &options).unwrap();
    assert_eq!(report.kept_frames, 2);
    let backup = report.backup.expect("a backup");
    assert_eq!(std::fs::read(&backup).unwrap(), original, "the backup is byte for byte");
    assert_eq!(recover::verify(j.path()).unwrap().verdict(), Verdict::Clean);
}

#[test]
fn recover_out_never_clobbers_and_leaves_the_original() {
    let j = FileJournal::new();
    let (bytes, bad) = corrupt_journal();
    std::fs::write(j.path(), &bytes).unwrap();
    let out = j.dir().join("new.journal");
    let mut options = RecoverOptions {
        mode: RecoveryMode::SkipAnyCorrupted,
        out: Some(out.clone()),
        ..RecoverOptions::default()
    };
    let report = recover::recover(j.path(), &options).unwrap();
    assert_eq!((report.kept_frames, report.dropped[0].offset), (2, bad));
    assert_eq!(j.bytes(), bytes, "the original is untouched");
    let salvaged = JournalStorage::open(&out).unwrap();
    assert_eq!(salvaged.get_all_studies().unwrap().len(), 2);
    match recover::recover(j.path(), &options) {
        Err(Error::Io { source, .. }) => {
            assert_eq!(source.kind(), std::io::ErrorKind::AlreadyExists)
        }
        other => panic!("an existing --out was not refused: {other:?}"),
    }
    // Modes that do not drop corruption refuse, naming the offset, and write nothing.
    options.out = Some(j.dir().join("other.journal"));
    options.mode = RecoveryMode::TolerateCorruptedTail;
    assert!(matches!(
        recover::recover(j.path(), &options),
        Err(Error::Corruption { offset, .. }) if offset == bad
    ));
    assert!(!j.dir().join("other.journal").exists());
    let leftovers: Vec<_> = std::fs::read_dir(j.dir())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains("recovering"))
        .collect();
    assert!(leftovers.is_empty(), "temporary files left: {leftovers:?}");
}

#[test]
fn recover_waits_for_the_writers_lock() {
    let j = FileJournal::new();
    j.open().create_new_study(&[StudyDirection::Minimize], Some("s")).unwrap();
    let canonical = std::fs::canonicalize(j.path()).unwrap();
    let held = lock::open_lock(&canonical, &LockOptions::default()).unwrap();
    let guard = held.acquire().unwrap();
    let options = RecoverOptions {
        mode: RecoveryMode::PointInTime,
        out: Some(j.dir().join("out.journal")),
        lock: LockOptions { timeout: Some(Duration::from_millis(100)), ..LockOptions::default() },
        ..RecoverOptions::default()
    };
    assert!(matches!(recover::recover(j.path(), &options), Err(Error::LockTimeout { .. })));
    drop(guard);
    recover::recover(j.path(), &options).unwrap();
}

#[test]
fn file_backend_modes_report_like_the_memory_backend() {
    let j = FileJournal::new();
    let (bytes, bad) = corrupt_journal();
    std::fs::write(j.path(), &bytes).unwrap();
    let open = |mode| {
        JournalStorage::open_with(
            j.path(),
            &FileOptions { recovery: mode, ..FileOptions::default() },
        )
    };
    assert!(
        matches!(open(RecoveryMode::AbsoluteConsistency), Err(Error::Corruption { offset, .. }) if offset == bad)
    );
    let pit = open(RecoveryMode::PointInTime).unwrap();
    assert_eq!(
        (state_of(&pit).studies().count(), pit.recovery_report().stopped_at),
        (1, Some(bad))
    );
    let skip = open(RecoveryMode::SkipAnyCorrupted).unwrap();
    assert_eq!(state_of(&skip).studies().count(), 2);
    assert_eq!(skip.recovery_report().skipped.len(), 1);
}

#[test]
fn recover_rewrites_an_unfinished_header() {
    let header = trialog::journal::frame::encode_header();
    let (clean, report) =
        recover::recover_bytes("j".as_ref(), &header[..5], RecoveryMode::PointInTime).unwrap();
    assert_eq!(clean, header, "a fresh header and nothing else");
    assert_eq!((report.dropped[0].offset, report.dropped[0].len), (0, 5));
    assert!(matches!(
        recover::recover_bytes("j".as_ref(), &header[..5], RecoveryMode::AbsoluteConsistency),
        Err(Error::Corruption { offset: 0, .. })
    ));
}

#[test]
fn large_journals_take_the_pipelined_path_in_every_mode() {
    use trialog::journal::codec::encode_batch;
    use trialog::journal::{LogBatch, Operation};
    // Over 4 MiB of frames, so a cold open decodes on a second thread; one frame in the middle
    // has a bad CRC and a later one is CRC-valid but does not decode.
    let op = |op| {
        common::encode_frame(&encode_batch(&LogBatch { worker_id: "w".into(), ops: vec![op] }))
    };
    let mut bytes = trialog::journal::frame::encode_header().to_vec();
    bytes.extend(op(Operation::CreateStudy {
        study_name: "s".into(),
        directions: vec![StudyDirection::Minimize],
    }));
    let attr = |i: usize| Operation::SetStudyUserAttr {
        study_id: 0,
        key: format!("k{}", i % 7),
        value: trialog::AttrValue::String("x".repeat(200)),
    };
    let (mut bad_crc, mut bad_payload, n) = (0, 0, 20_000);
    for i in 0..n {
        if i == 9_000 {
            bad_crc = bytes.len();
        }
        if i == 15_000 {
            bad_payload = bytes.len();
            bytes.extend(common::encode_frame(&[0x92, 0xc0, 0x90])); // [nil, []]: no worker id
            continue;
        }
        bytes.extend(op(attr(i)));
    }
    assert!(bytes.len() > 4 << 20);
    bytes[bad_crc + 20] ^= 0x04;
    let open = |bytes: &[u8], mode| {
        JournalStorage::new(MemoryBackend::from_bytes(bytes.to_vec()).with_recovery(mode))
    };
    match open(&bytes, RecoveryMode::TolerateCorruptedTail) {
        Err(Error::Corruption { offset, .. }) => assert_eq!(offset, bad_crc as u64),
        other => panic!("{other:?}"),
    }
    let pit = open(&bytes, RecoveryMode::PointInTime).unwrap();
    assert_eq!(state_of(&pit).stats().batches, 1 + 9_000);
    assert_eq!(pit.recovery_report().stopped_at, Some(bad_crc as u64));
    let skip = open(&bytes, RecoveryMode::SkipAnyCorrupted).unwrap();
    assert_eq!(state_of(&skip).stats().batches, 1 + n as u64 - 2);
    let skipped: Vec<u64> = skip.recovery_report().skipped.iter().map(|s| s.offset).collect();
    assert_eq!(skipped, [bad_crc as u64, bad_payload as u64]);
    // With the CRC damage repaired, the undecodable frame alone: an error at its offset.
    bytes[bad_crc + 20] ^= 0x04;
    match open(&bytes, RecoveryMode::AbsoluteConsistency) {
        Err(Error::Corruption { offset, .. }) => assert_eq!(offset, bad_payload as u64),
        other => panic!("{other:?}"),
    }
    let pit = open(&bytes, RecoveryMode::PointInTime).unwrap();
    assert_eq!(pit.recovery_report().stopped_at, Some(bad_payload as u64));
    assert_eq!(state_of(&pit).stats().batches, 1 + 15_000);
}

#[test]
fn a_writer_of_a_journal_moved_aside_or_removed_fails_and_writes_nothing() {
    //! Not only `recover`: any replacement of the path between two appends of a handle, even one
    //! that never made the handle wait for the lock, stops its writes. (The check is the one
    //! `stat` of the path that also tells the writer where the journal ends.)
    for how in ["moved aside, new journal in its place", "removed"] {
        let j = FileJournal::new();
        let writer = j.open();
        let study = writer.create_new_study(&[StudyDirection::Minimize], Some("s")).unwrap();
        let aside = j.dir().join("old.journal");
        std::fs::rename(j.path(), &aside).unwrap();
        let before = std::fs::read(&aside).unwrap();
        if how == "removed" {
            std::fs::remove_file(&aside).unwrap();
        } else {
            j.open().create_new_study(&[StudyDirection::Minimize], Some("new")).unwrap();
        }
        match writer.create_new_trial(study, None) {
            Err(Error::JournalReplaced { path }) => assert_eq!(path, j.path(), "{how}"),
            other => panic!("{how}: a writer of the old file wrote: {other:?}"),
        }
        if how != "removed" {
            assert_eq!(std::fs::read(&aside).unwrap(), before, "{how}: old file unchanged");
            let names: Vec<String> =
                j.open().get_all_studies().unwrap().into_iter().map(|s| s.study_name).collect();
            assert_eq!(names, ["new"], "{how}: nothing reached the new file");
        }
        // Reads of the handle go on from the file it has open.
        assert_eq!(writer.get_all_studies().unwrap().len(), 1, "{how}");
    }
}
