//! Online backup of journal files, both formats: full and incremental backups are verified
//! prefixes ending at a record boundary; a torn tail is left out; an interrupted backup is
//! completed; a destination that is not a prefix, corruption in the journal and a destination
//! that is the journal itself are refused with nothing written.

use std::fs::{self, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use trialog::lifecycle::{BackupOptions, backup};
use trialog::recover::{self, Verdict};
use trialog::{Error, JournalFormat, JournalStorage, LogBackend, StudyDirection, TrialState};

/// Appends `n` complete trials to study "s" of the journal (either format), creating both.
fn write_trials(path: &Path, format: JournalFormat, n: usize) {
    fn go<B: LogBackend>(storage: JournalStorage<B>, n: usize) {
        let study = match storage.get_study_id_from_name("s") {
            Ok(id) => id,
            Err(_) => storage.create_new_study(&[StudyDirection::Minimize], Some("s")).unwrap(),
        };
        for i in 0..n {
            let t = storage.create_new_trial(study, None).unwrap();
            storage.set_trial_state_values(t, TrialState::Complete, Some(&[i as f64])).unwrap();
        }
    }
    match format {
        JournalFormat::Trialog => go(JournalStorage::open(path).unwrap(), n),
        JournalFormat::Optuna => go(JournalStorage::open_optuna(path).unwrap(), n),
    }
}

fn append_raw(path: &Path, bytes: &[u8]) {
    OpenOptions::new().append(true).open(path).unwrap().write_all(bytes).unwrap();
}

fn options() -> BackupOptions {
    BackupOptions { verify: true, ..BackupOptions::default() }
}

fn setup(format: JournalFormat) -> (tempfile::TempDir, PathBuf, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let journal = dir.path().join("study.journal");
    write_trials(&journal, format, 50);
    let dest = dir.path().join("backup.journal");
    (dir, journal, dest)
}

/// A torn last record: a frame cut short, or a line without its newline.
fn torn(format: JournalFormat) -> &'static [u8] {
    match format {
        JournalFormat::Trialog => &[60, 0, 0, 0, 1, 2, 3, 4, 5],
        JournalFormat::Optuna => b"{\"op_code\": 4, \"worker_id\": \"w\"",
    }
}

fn full_and_incremental(format: JournalFormat) {
    let (_dir, journal, dest) = setup(format);
    let first = backup(&journal, &dest, &options()).unwrap();
    assert!(first.created);
    assert_eq!(first.format, Some(format));
    assert_eq!(first.cut, fs::metadata(&journal).unwrap().len());
    assert_eq!(fs::read(&dest).unwrap(), fs::read(&journal).unwrap());
    assert!(first.locked_for.is_some(), "the length was read under the writers' lock");
    assert_eq!(first.verified.as_ref().unwrap().verdict(), Verdict::Clean);

    // A torn tail (a writer died mid-append) is not part of the committed log: left out.
    append_raw(&journal, torn(format));
    let second = backup(&journal, &dest, &options()).unwrap();
    assert!(!second.created);
    assert_eq!((second.previous, second.cut, second.appended()), (first.cut, first.cut, 0));

    if format == JournalFormat::Trialog {
        // The next writer covers the torn tail; the backup then takes it all, padding included.
        write_trials(&journal, format, 20);
        let third = backup(&journal, &dest, &options()).unwrap();
        let len = fs::metadata(&journal).unwrap().len();
        assert_eq!((third.previous, third.cut), (first.cut, len));
        assert_eq!(fs::read(&dest).unwrap(), fs::read(&journal).unwrap());
        assert_eq!(third.compared, first.cut, "a small backup is compared whole");
        let replayed = recover::verify(&dest).unwrap();
        assert_eq!(replayed.verdict(), Verdict::Clean);
        assert_eq!(replayed.operations, recover::verify(&journal).unwrap().operations);
    }
}

#[test]
fn trialog_backups_are_verified_prefixes_and_grow_by_the_new_bytes() {
    full_and_incremental(JournalFormat::Trialog);
}

#[test]
fn optuna_backups_are_verified_prefixes_ending_at_a_line() {
    full_and_incremental(JournalFormat::Optuna);
}

fn interrupted(format: JournalFormat) {
    let (_dir, journal, dest) = setup(format);
    let first = backup(&journal, &dest, &BackupOptions::default()).unwrap();
    write_trials(&journal, format, 10);
    // An earlier append to the backup died half way, inside a record.
    let bytes = fs::read(&journal).unwrap();
    let half = first.cut as usize + (bytes.len() - first.cut as usize) / 2 + 3;
    append_raw(&dest, &bytes[first.cut as usize..half]);
    let done = backup(&journal, &dest, &options()).unwrap();
    assert_eq!((done.previous, done.cut), (half as u64, bytes.len() as u64));
    assert_eq!(fs::read(&dest).unwrap(), bytes);
}

#[test]
fn an_interrupted_trialog_backup_is_completed_by_the_next() {
    interrupted(JournalFormat::Trialog);
}

#[test]
fn an_interrupted_optuna_backup_is_completed_by_the_next() {
    interrupted(JournalFormat::Optuna);
}

fn refused_unchanged(journal: &Path, dest: &Path, options: &BackupOptions) -> Error {
    let before = fs::read(dest).ok();
    let err = backup(journal, dest, options).unwrap_err();
    assert_eq!(fs::read(dest).ok(), before, "{err}: the destination changed");
    err
}

#[test]
fn a_destination_that_is_not_a_prefix_is_refused() {
    for format in [JournalFormat::Trialog, JournalFormat::Optuna] {
        let (dir, journal, dest) = setup(format);
        backup(&journal, &dest, &BackupOptions::default()).unwrap();
        write_trials(&journal, format, 5);
        // A changed byte near the end of the backup.
        let mut bytes = fs::read(&dest).unwrap();
        let at = bytes.len() - 10;
        bytes[at] ^= 0x20;
        fs::write(&dest, &bytes).unwrap();
        match refused_unchanged(&journal, &dest, &BackupOptions::default()) {
            Error::BackupDiverged { reason, .. } => {
                assert!(reason.contains(&format!("offset {at}")), "{reason}")
            }
            other => panic!("{other:?}"),
        }
        // A backup of another journal (same shape, other worker ids).
        let other = dir.path().join("other.journal");
        write_trials(&other, format, 50);
        let foreign = dir.path().join("foreign.backup");
        backup(&other, &foreign, &BackupOptions::default()).unwrap();
        assert!(matches!(
            refused_unchanged(&journal, &foreign, &BackupOptions::default()),
            Error::BackupDiverged { .. }
        ));
        // Longer than the journal.
        let long = dir.path().join("long.backup");
        let mut bytes = fs::read(&journal).unwrap();
        bytes.extend_from_slice(&bytes.clone()[..100]);
        fs::write(&long, &bytes).unwrap();
        match refused_unchanged(&journal, &long, &BackupOptions::default()) {
            Error::BackupDiverged { reason, .. } => assert!(reason.contains("holds"), "{reason}"),
            other => panic!("{other:?}"),
        }
        // A change in the middle is outside the compared windows unless asked to compare all.
        let mid = dir.path().join("mid.backup");
        let mut bytes = fs::read(&journal).unwrap();
        let at = bytes.len() / 2;
        bytes[at] ^= 0x20;
        fs::write(&mid, &bytes).unwrap();
        let small = BackupOptions { check_bytes: Some(64), ..BackupOptions::default() };
        assert!(backup(&journal, &mid, &small).is_ok(), "only 2 x 64 bytes are compared");
        fs::write(&mid, &bytes).unwrap();
        let all = BackupOptions { check_bytes: None, ..BackupOptions::default() };
        assert!(matches!(refused_unchanged(&journal, &mid, &all), Error::BackupDiverged { .. }));
    }
}

#[test]
fn corruption_in_the_journal_is_refused_with_its_offset() {
    for format in [JournalFormat::Trialog, JournalFormat::Optuna] {
        let (_dir, journal, dest) = setup(format);
        let mut bytes = fs::read(&journal).unwrap();
        let at = bytes.len() / 2;
        bytes[at] = b'\x07';
        fs::write(&journal, &bytes).unwrap();
        match refused_unchanged(&journal, &dest, &BackupOptions::default()) {
            Error::Corruption { offset, .. } => assert!(offset <= at as u64, "{offset} > {at}"),
            other => panic!("{other:?}"),
        }
        assert!(!dest.exists(), "nothing was created");
    }
}

#[test]
fn odd_destinations() {
    let (dir, journal, _) = setup(JournalFormat::Trialog);
    match backup(&journal, &journal, &BackupOptions::default()) {
        Err(Error::InvalidArgument(msg)) => assert!(msg.contains("journal itself"), "{msg}"),
        other => panic!("{other:?}"),
    }
    // A directory receives a file of the journal's name.
    let into = dir.path().join("nightly");
    fs::create_dir(&into).unwrap();
    let done = backup(&journal, &into, &BackupOptions::default()).unwrap();
    assert_eq!(done.dest, into.join("study.journal"));
    assert_eq!(fs::read(into.join("study.journal")).unwrap(), fs::read(&journal).unwrap());
    // An empty journal (no format yet) backs up as an empty file; without the lock too.
    let empty = dir.path().join("empty");
    fs::write(&empty, b"").unwrap();
    let unlocked = BackupOptions { lock: false, ..BackupOptions::default() };
    let done = backup(&empty, &dir.path().join("empty.bak"), &unlocked).unwrap();
    assert_eq!((done.format, done.cut, done.locked_for), (None, 0, None));
    assert_eq!(fs::read(dir.path().join("empty.bak")).unwrap(), b"");
    // A missing journal is an I/O error naming it.
    match backup(&dir.path().join("missing"), &dir.path().join("m.bak"), &unlocked) {
        Err(Error::Io { path, .. }) => assert!(path.ends_with("missing")),
        other => panic!("{other:?}"),
    }
    assert!(!dir.path().join("m.bak").exists());
}
