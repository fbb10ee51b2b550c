//! Damaged and foreign Optuna journals: a torn last line is "not written yet" (and a trialog
//! writer drops it before appending), a bad line anywhere else is corruption at its byte offset
//! (nothing is written after it), CRLF files read like LF files, a file that is not a journal is
//! refused, and trialog's extension operations never reach an Optuna file. Where Python Optuna is
//! installed, its replay is checked to agree. Also: Optuna's lock protocol against Python.

mod py_common;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use py_common::*;
use trialog::backend::{AppendOutcome, OptunaFileOptions, OptunaJournalFile};
use trialog::journal::{LogBatch, Operation};
use trialog::lock::OptunaLockOptions;
use trialog::{Error, FileBackend, JournalStorage, LogBackend, StudyDirection, TrialState};

/// A small Optuna journal written by trialog: one study, three complete trials.
fn journal(dir: &Path) -> PathBuf {
    let path = dir.join("j.log");
    let s = JournalStorage::open_optuna(&path).unwrap();
    let study = s.create_new_study(&[StudyDirection::Minimize], Some("s")).unwrap();
    for i in 0..3 {
        let t = s.create_new_trial(study, None).unwrap();
        s.set_trial_state_values(t, TrialState::Complete, Some(&[f64::from(i)])).unwrap();
    }
    path
}

fn add_trial(path: &Path) {
    let s = JournalStorage::open_optuna(path).unwrap();
    let t = s.create_new_trial(0, None).unwrap();
    s.set_trial_state_values(t, TrialState::Complete, Some(&[9.0])).unwrap();
}

fn dump_fails(path: &Path, needle: &str) {
    let out = trialog(&["dump", path.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains(needle), "{err}");
}

#[test]
fn torn_last_line_is_not_written_yet_and_the_next_trialog_writer_drops_it() {
    let dir = tempfile::tempdir().unwrap();
    let path = journal(dir.path());
    let clean = trialog_dump(&path);
    let good = std::fs::read(&path).unwrap();
    let torn_line = br#"{"op_code":4,"worker_id":"crashed","study_id":0,"datetime_st"#;
    let mut torn = good.clone();
    torn.extend_from_slice(torn_line);
    std::fs::write(&path, &torn).unwrap();
    assert_eq!(trialog_dump(&path), clean, "a line without its newline is not written yet");
    let python =
        have_optuna("torn_last_line_is_not_written_yet_and_the_next_trialog_writer_drops_it");
    if python {
        assert_same_state(&path);
    }
    add_trial(&path);
    let after = std::fs::read(&path).unwrap();
    assert!(after.starts_with(&good), "acknowledged lines kept");
    assert!(!after.windows(torn_line.len()).any(|w| w == torn_line), "torn line dropped");
    assert_eq!(states(&trialog_dump(&path))[0].1.len(), 4);
    if python {
        assert_same_state(&path);
    }
}

#[test]
fn a_bad_complete_line_is_corruption_at_its_offset_and_nothing_is_written_after_it() {
    let dir = tempfile::tempdir().unwrap();
    let path = journal(dir.path());
    let text = std::fs::read_to_string(&path).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    // What Optuna's writer makes of a torn line: the next line glued to it.
    let offset: usize = lines[..3].iter().map(|l| l.len() + 1).sum();
    let mut glued = lines[..3].join("\n") + "\n";
    glued += "{\"op_code\":4,\"worker_id\":\"crashed\",\"stu";
    glued += &(lines[3..].join("\n") + "\n");
    std::fs::write(&path, &glued).unwrap();
    dump_fails(&path, &format!("corrupt journal at byte offset {offset}: bad Optuna journal line"));
    match JournalStorage::open_optuna(&path) {
        Err(Error::Corruption { offset: at, .. }) => assert_eq!(at, offset as u64),
        other => panic!("expected corruption, got {other:?}"),
    }
    assert_eq!(std::fs::read_to_string(&path).unwrap(), glued, "nothing written");
    // Salvage: import skipping the bad line gives exactly the journal without it, and names it.
    let salvaged = dir.path().join("salvaged.journal");
    let out = trialog(&[
        "import",
        "--skip-corrupt-lines",
        path.to_str().unwrap(),
        salvaged.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stdout).contains("(1 corrupt line skipped)"));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains(&format!("corrupt bytes at offset {offset}: bad Optuna")), "{err}");
    let without = dir.path().join("without.log");
    let mut kept: Vec<&str> = lines.clone();
    kept.remove(3);
    std::fs::write(&without, kept.join("\n") + "\n").unwrap();
    assert_eq!(trialog_dump(&salvaged), trialog_dump(&without));
    assert_eq!(std::fs::read_to_string(&path).unwrap(), glued, "the input is never modified");
    // A bad *last* complete line too: it ends with a newline, so it is no write in progress.
    let path2 = dir.path().join("bad-end.log");
    std::fs::write(&path2, text.clone() + "not json\n").unwrap();
    dump_fails(&path2, &format!("corrupt journal at byte offset {}", text.len()));
    if have_optuna(
        "a_bad_complete_line_is_corruption_at_its_offset_and_nothing_is_written_after_it",
    ) {
        let out = python("dump.py", &[path.to_str().unwrap()]).output().unwrap();
        assert!(!out.status.success(), "Optuna fails on the glued line too");
    }
}

#[test]
fn crlf_line_endings_read_like_lf() {
    let dir = tempfile::tempdir().unwrap();
    let path = journal(dir.path());
    let lf = trialog_dump(&path);
    let text = std::fs::read_to_string(&path).unwrap();
    std::fs::write(&path, text.replace('\n', "\r\n")).unwrap();
    assert_eq!(trialog_dump(&path), lf);
    add_trial(&path); // appends LF lines after CRLF ones
    let after = std::fs::read_to_string(&path).unwrap();
    assert!(after.starts_with(&text.replace('\n', "\r\n")) && after.ends_with("}\n"));
    assert_eq!(states(&trialog_dump(&path))[0].1.len(), 4);
    if have_optuna("crlf_line_endings_read_like_lf") {
        assert_same_state(&path);
    }
}

#[test]
fn files_that_are_not_journals_are_refused_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let junk = dir.path().join("junk.bin");
    std::fs::write(&junk, b"\x00\x01 not a journal\n").unwrap();
    assert!(matches!(OptunaJournalFile::open(&junk), Err(Error::NotAnOptunaJournal { .. })));
    dump_fails(&junk, "not a journal: neither a trialog journal");
    assert_eq!(std::fs::read(&junk).unwrap(), b"\x00\x01 not a journal\n");
    // A trialog journal is not an Optuna journal (and the other way round).
    let ours = dir.path().join("t.journal");
    drop(JournalStorage::open(&ours).unwrap());
    assert!(matches!(JournalStorage::open_optuna(&ours), Err(Error::NotAnOptunaJournal { .. })));
    let optuna = journal(dir.path());
    assert!(matches!(JournalStorage::open(&optuna), Err(Error::NotAJournal { .. })));
    let out = dir.path().join("never.journal");
    let import = trialog(&["import", ours.to_str().unwrap(), out.to_str().unwrap()]);
    assert_eq!(import.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&import.stderr).contains("is already a trialog journal"));
    assert!(!out.exists(), "a failed import created its output");
    // An empty file is an empty Optuna journal.
    let empty = dir.path().join("empty.log");
    std::fs::write(&empty, b"").unwrap();
    assert!(trialog_dump(&empty).contains("\"studies\": []"));
}

#[test]
fn extension_operations_never_reach_an_optuna_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = journal(dir.path());
    let before = std::fs::read(&path).unwrap();
    let backend = OptunaJournalFile::open(&path).unwrap();
    let end = backend.read_from(0, &mut |_, _| Ok(())).unwrap();
    let guard = backend.lock().unwrap();
    let batch = LogBatch {
        worker_id: "w".into(),
        ops: vec![Operation::DeleteStudy { study_id: 0 }, Operation::Ignorable { code: 200 }],
    };
    match backend.append_if(&guard, end, &batch) {
        Err(Error::NotRepresentable { code: 200, .. }) => {}
        other => panic!("expected NotRepresentable, got {other:?}"),
    }
    drop(guard);
    assert_eq!(std::fs::read(&path).unwrap(), before, "nothing written, not even the valid op");

    // Export drops them (and says so); the result replays in Optuna.
    let ours = dir.path().join("t.journal");
    let storage = JournalStorage::open(&ours).unwrap();
    storage.create_new_study(&[StudyDirection::Minimize], Some("x")).unwrap();
    let file = FileBackend::open(&ours).unwrap();
    let end = file.read_from(0, &mut |_, _| Ok(())).unwrap();
    let guard = file.lock().unwrap();
    let heartbeat =
        LogBatch { worker_id: "w".into(), ops: vec![Operation::Ignorable { code: 130 }] };
    assert!(matches!(file.append_if(&guard, end, &heartbeat), Ok(AppendOutcome::Appended { .. })));
    drop(guard);
    let out_path = dir.path().join("out.log");
    let out = trialog(&[
        "export",
        "--format",
        "optuna",
        ours.to_str().unwrap(),
        out_path.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stdout).contains("exported 1 operation to "));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("(1 trialog extension operation dropped)")
    );
    assert!(!std::fs::read_to_string(&out_path).unwrap().contains("130"));
    if have_optuna("extension_operations_never_reach_an_optuna_file") {
        assert_same_state(&out_path);
    }
}

// Needs Python Optuna beside trialog (none runs inside Wine) and Optuna's symlink lock (a privilege
// on Windows).
#[cfg(unix)]
#[test]
fn python_and_trialog_exclude_each_other_through_optunas_lock() {
    if !have_optuna("python_and_trialog_exclude_each_other_through_optunas_lock") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let path = journal(dir.path());
    let p = path.to_str().unwrap();
    // trialog holds the lock: a Python append waits for its release.
    let backend = OptunaJournalFile::open(&path).unwrap();
    let guard = backend.lock().unwrap();
    let held = Instant::now();
    let code = "import sys,time\nfrom optuna.storages.journal import JournalFileBackend\nJournalFileBackend(sys.argv[1]).append_logs([{'op_code':1,'worker_id':'py','study_id':99}])\nprint(time.time())";
    let child = std::process::Command::new("python3")
        .args(["-c", code, p])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(1500));
    let released = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap();
    drop(guard);
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    // Python's append finished after our release (its clock is this host's clock).
    let appended: f64 = String::from_utf8_lossy(&out.stdout).trim().parse().unwrap();
    assert!(appended >= released.as_secs_f64(), "Python wrote while trialog held the lock");
    assert!(held.elapsed() >= Duration::from_millis(1500));
    assert!(std::fs::read_to_string(&path).unwrap().ends_with("\"study_id\":99}\n"));

    // A lock left by a killed Python holder (Optuna's symlink to the journal path) is broken
    // after the grace period, as Optuna's own waiters do.
    std::os::unix::fs::symlink(p, format!("{p}.lock")).unwrap();
    let options = OptunaFileOptions {
        create: false,
        lock: OptunaLockOptions {
            grace_period: Some(Duration::from_millis(300)),
            ..Default::default()
        },
        ..Default::default()
    };
    let storage = JournalStorage::open_optuna_with(&path, &options).unwrap();
    let started = Instant::now();
    storage.create_new_study(&[StudyDirection::Minimize], Some("after-break")).unwrap();
    assert!(started.elapsed() >= Duration::from_millis(300));
    assert!(!Path::new(&format!("{p}.lock")).exists());
    assert_same_state(&path);
}
