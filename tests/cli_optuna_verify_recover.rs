//! `trialog verify` and `trialog recover` on Optuna JSON-lines journals (docs/RECOVERY.md,
//! "Optuna journals"), and what may touch an Optuna journal's `<journal>.lock`.
//!
//! Invariants: verify reports an Optuna journal's damaged lines with their offsets and the
//! documented exit codes; recover applies the recovery modes line by line, keeping lines byte for
//! byte, under Optuna's own lock protocol: it waits while Python holds `<journal>.lock` (a
//! symbolic link to the journal), never writes through that link, and leaves nothing at the lock
//! path afterwards (Python would take a leftover file for a held lock); a trialog writer of the
//! replaced file fails instead of appending to it; `--out` never overwrites. Python Optuna reads
//! every journal recover writes.

mod py_common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
#[cfg(unix)]
use std::time::{Duration, Instant};

#[cfg(windows)]
use trialog::OptunaJournalFile;
use trialog::{AttrValue, Error, JournalStorage, StudyDirection, TrialState};

fn trialog(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_trialog")).args(args).output().expect("run trialog")
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn lock_of(journal: &Path) -> PathBuf {
    PathBuf::from(format!("{}.lock", journal.display()))
}

/// An Optuna journal of one study with three finished trials, written by trialog's Optuna
/// backend; returns the byte offset of every line.
fn write_journal(path: &Path) -> Vec<u64> {
    let storage = JournalStorage::open_optuna(path).unwrap();
    let study = storage.create_new_study(&[StudyDirection::Minimize], Some("s")).unwrap();
    for i in 0..3 {
        let t = storage.create_new_trial(study, None).unwrap();
        storage.set_trial_user_attr(t, "i", AttrValue::Int(i)).unwrap();
        storage.set_trial_state_values(t, TrialState::Complete, Some(&[i as f64])).unwrap();
    }
    line_starts(&std::fs::read(path).unwrap())
}

fn line_starts(bytes: &[u8]) -> Vec<u64> {
    let mut starts = vec![0];
    starts
        .extend(bytes.iter().enumerate().filter(|(_, b)| **b == b'\n').map(|(i, _)| i as u64 + 1));
    starts.pop();
    starts
}

/// Nothing at `<journal>.lock`, not even a dangling link.
fn assert_no_lock(journal: &Path) {
    let lock = lock_of(journal);
    assert!(std::fs::symlink_metadata(&lock).is_err(), "{} was left behind", lock.display());
}

/// Waits for `child` to exit (at most 60 s).
#[cfg(unix)]
fn wait(mut child: std::process::Child) -> Output {
    let start = Instant::now();
    while child.try_wait().unwrap().is_none() {
        assert!(start.elapsed() < Duration::from_secs(60), "recover never finished");
        std::thread::sleep(Duration::from_millis(20));
    }
    child.wait_with_output().unwrap()
}

/// Releases a lock as Python Optuna does: rename aside, then unlink.
#[cfg(unix)]
fn release_like_python(lock: &Path) {
    let aside = PathBuf::from(format!("{}5f0c.rename", lock.display()));
    std::fs::rename(lock, &aside).unwrap();
    std::fs::remove_file(aside).unwrap();
}

/// The issue's reproduction: Python holds Optuna's symlink lock (`o.log.lock -> o.log`) while
/// `trialog recover o.log` runs. Before the fix, recover's advisory lock opened the link and
/// wrote its 256-byte owner record over the first bytes of the journal.
// The symlink lock needs symbolic links, which Windows creates only with a privilege (and Wine
// not at all): there it fails with Error::SymlinkLockUnavailable (src/lock/symlink.rs).
#[cfg(unix)]
#[test]
fn recover_waits_for_pythons_symlink_lock_and_never_writes_through_it() {
    let dir = tempfile::tempdir().unwrap();
    let journal = dir.path().join("o.log");
    let python = py_common::have_optuna("recover_waits_for_pythons_symlink_lock");
    if python {
        py_common::run_ok(&mut py_common::python("optimize.py", &[s(&journal), "py", "5", "1"]));
    } else {
        write_journal(&journal);
    }
    let original = std::fs::read(&journal).unwrap();
    let lock = lock_of(&journal);
    for extra in [&[][..], &["--out", "clean.log"][..]] {
        // Python's JournalFileSymlinkLock: a link from <journal>.lock to the journal path.
        std::os::unix::fs::symlink(&journal, &lock).unwrap();
        let child = Command::new(env!("CARGO_BIN_EXE_trialog"))
            .args(["recover", s(&journal), "--mode", "tolerate-corrupted-tail"])
            .args(extra)
            .current_dir(dir.path())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(500));
        assert!(std::fs::read(&journal).unwrap() == original, "written through the lock link");
        assert!(std::fs::symlink_metadata(&lock).unwrap().file_type().is_symlink());
        release_like_python(&lock);
        let out = wait(child);
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
        assert!(stdout(&out).contains("format: optuna\n"), "{}", stdout(&out));
        assert!(std::fs::read(&journal).unwrap() == original, "{extra:?}: journal changed");
        assert_no_lock(&journal);
    }
    assert!(std::fs::read(dir.path().join("clean.log")).unwrap() == original, "--out differs");
    if python {
        // Python still reads the journal, and appends to it.
        py_common::assert_same_state(&journal);
        py_common::run_ok(&mut py_common::python("optimize.py", &[s(&journal), "py", "2", "2"]));
        py_common::assert_same_state(&journal);
    }
}

#[test]
fn verify_reports_optuna_lines_with_offsets() {
    let dir = tempfile::tempdir().unwrap();
    let journal = dir.path().join("o.log");
    let starts = write_journal(&journal);
    let clean = trialog(&["verify", s(&journal)]);
    assert_eq!(clean.status.code(), Some(0), "{}", stderr(&clean));
    let text = stdout(&clean);
    assert!(text.contains("format: optuna\nstatus: clean\n"), "{text}");
    assert!(text.contains(&format!("lines: {}\n", starts.len())), "{text}");
    assert!(text.contains("operations_applied: 10\n"), "{text}");
    assert!(!text.contains("header"), "{text}");

    // A torn last line: exit 3, named with its offset.
    let mut bytes = std::fs::read(&journal).unwrap();
    let end = bytes.len();
    bytes.extend_from_slice(br#"{"op_code":4,"worker"#);
    std::fs::write(&journal, &bytes).unwrap();
    let torn = trialog(&["verify", s(&journal)]);
    assert_eq!(torn.status.code(), Some(3), "{}", stdout(&torn));
    assert!(stdout(&torn).contains(&format!("torn_tail: offset {end} length 20\n")));

    // A damaged middle line: exit 4, its offset and length; an unknown op code: undecodable.
    let (start, next) = (starts[5] as usize, starts[6] as usize);
    bytes[start..next - 1].fill(b'#');
    let unknown = br#"{"op_code":42,"worker_id":"w"}"#;
    bytes.truncate(end);
    bytes.extend_from_slice(unknown);
    bytes.push(b'\n');
    std::fs::write(&journal, &bytes).unwrap();
    let corrupt = trialog(&["verify", s(&journal)]);
    assert_eq!(corrupt.status.code(), Some(4));
    let text = stdout(&corrupt);
    assert!(
        text.contains(&format!(
            "corrupt: offset {start} length {}: bad Optuna journal line",
            next - start
        )),
        "{text}"
    );
    assert!(
        text.contains(&format!(
            "undecodable: offset {end} length {}: operation code 42",
            unknown.len() + 1
        )),
        "{text}"
    );
    assert!(text.contains(&format!("valid_end: {start}\n")), "{text}");
    let json = stdout(&trialog(&["verify", "--json", s(&journal)]));
    assert!(json.contains(r#""format": "optuna""#) && json.contains(r#""header": null"#), "{json}");
    assert_no_lock(&journal);
}

#[test]
fn recover_applies_the_modes_to_optuna_journals() {
    let dir = tempfile::tempdir().unwrap();
    let journal = dir.path().join("o.log");
    let starts = write_journal(&journal);
    // A handle opened before the recover: its file is replaced under it.
    let writer = JournalStorage::open_optuna(&journal).unwrap();
    let mut bytes = std::fs::read(&journal).unwrap();
    let end = bytes.len();
    let (start, next) = (starts[5] as usize, starts[6] as usize);
    bytes[start..next - 1].fill(b'#');
    bytes.extend_from_slice(br#"{"op_co"#);
    std::fs::write(&journal, &bytes).unwrap();
    let mode = |mode: &str, extra: &[&str]| {
        let mut args = vec!["recover", s(&journal), "--mode", mode];
        args.extend_from_slice(extra);
        trialog(&args)
    };

    // The modes that do not drop a bad complete line refuse it, naming its offset.
    for refusing in ["tolerate-corrupted-tail", "absolute-consistency"] {
        let out = mode(refusing, &[]);
        assert_eq!(out.status.code(), Some(1), "{refusing}");
        assert!(stderr(&out).contains(&format!("byte offset {start}")), "{}", stderr(&out));
        assert!(std::fs::read(&journal).unwrap() == bytes, "{refusing} wrote");
        assert_no_lock(&journal);
    }

    // Point in time: the lines before the bad one.
    let pit = dir.path().join("pit.log");
    let out = mode("point-in-time", &["--out", s(&pit)]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(std::fs::read(&pit).unwrap() == bytes[..start], "point-in-time kept the wrong lines");
    assert!(stdout(&out).contains("kept_lines: 5\n"), "{}", stdout(&out));
    assert_no_lock(&journal);

    // Windows refuses to replace a file another handle has open: with the writer's handle open,
    // recover in place fails, says so and what else to do, and changes nothing.
    #[cfg(windows)]
    let writer: Option<JournalStorage<OptunaJournalFile>> = {
        let out = mode("skip-any-corrupted", &[]);
        assert_eq!(out.status.code(), Some(1));
        let err = stderr(&out);
        assert!(err.contains("open elsewhere") && err.contains("--out"), "{err}");
        assert!(std::fs::read(&journal).unwrap() == bytes, "a refused recover wrote");
        assert_no_lock(&journal);
        drop(writer);
        None
    };
    #[cfg(unix)]
    let writer = Some(writer);

    // Skip any corrupted, in place: a byte-for-byte backup, the bad line and the torn line gone.
    let out = mode("skip-any-corrupted", &[]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(text.contains(&format!("dropped: offset {start} length {}", next - start)), "{text}");
    assert!(text.contains(&format!("dropped: offset {end} length 7: torn last line")), "{text}");
    let backup = text.lines().find_map(|l| l.strip_prefix("backup: ")).expect("a backup");
    assert!(std::fs::read(backup).unwrap() == bytes, "the backup differs");
    let mut expected = bytes[..start].to_vec();
    expected.extend_from_slice(&bytes[next..end]);
    assert!(std::fs::read(&journal).unwrap() == expected, "wrong lines kept");
    assert_no_lock(&journal);
    assert_eq!(trialog(&["verify", s(&journal)]).status.code(), Some(0));

    // The handle opened before was replaced: it refuses to append rather than write into the
    // unlinked file; a fresh handle appends.
    if let Some(writer) = writer {
        let study = writer.get_study_id_from_name("s").unwrap();
        match writer.create_new_trial(study, None) {
            Err(Error::JournalReplaced { path }) => assert_eq!(path, journal),
            other => panic!("a writer of the replaced file wrote: {other:?}"),
        }
    }
    let fresh = JournalStorage::open_optuna(&journal).unwrap();
    let study = fresh.get_study_id_from_name("s").unwrap();
    assert_eq!(fresh.get_all_trials(study, None).unwrap().len(), 3);
    fresh.create_new_trial(study, None).unwrap();
    assert_no_lock(&journal);
    if py_common::have_optuna("recover_applies_the_modes_to_optuna_journals") {
        py_common::assert_same_state(&journal);
    }
}

#[test]
fn recover_out_refuses_to_overwrite() {
    let dir = tempfile::tempdir().unwrap();
    let optuna = dir.path().join("o.log");
    write_journal(&optuna);
    let ours = dir.path().join("t.journal");
    JournalStorage::open(&ours)
        .unwrap()
        .create_new_study(&[StudyDirection::Minimize], Some("s"))
        .unwrap();
    let existing = dir.path().join("existing");
    std::fs::write(&existing, b"keep me").unwrap();
    for journal in [&optuna, &ours] {
        let out = trialog(&[
            "recover",
            s(journal),
            "--mode",
            "skip-any-corrupted",
            "--out",
            s(&existing),
        ]);
        assert_eq!(out.status.code(), Some(1));
        let err = stderr(&out);
        assert!(err.contains("refusing to overwrite") && err.contains("existing"), "{err}");
        assert_eq!(std::fs::read(&existing).unwrap(), b"keep me");
    }
    assert_no_lock(&optuna);
}

#[test]
fn errors_that_refuse_a_format_name_the_detected_one() {
    let dir = tempfile::tempdir().unwrap();
    let optuna = dir.path().join("o.log");
    write_journal(&optuna);
    let ours = dir.path().join("t.journal");
    JournalStorage::open(&ours).unwrap();
    let text = JournalStorage::open(&optuna).unwrap_err().to_string();
    assert!(text.contains("it is an Optuna JSON-lines journal"), "{text}");
    assert!(text.contains("open_optuna"), "{text}");
    let text = JournalStorage::open_optuna(&ours).unwrap_err().to_string();
    assert!(text.contains("it is a trialog journal"), "{text}");
    let out = trialog(&["import", s(&ours), s(&dir.path().join("x.journal"))]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("is already a trialog journal"), "{}", stderr(&out));
    let other = dir.path().join("notes.txt");
    std::fs::write(&other, b"hello\n").unwrap();
    for command in ["verify", "studies"] {
        let out = trialog(&[command, s(&other)]);
        assert_eq!(out.status.code(), Some(1));
        assert!(stderr(&out).contains("it starts with byte 0x68"), "{}", stderr(&out));
    }
    assert_no_lock(&optuna);
}
