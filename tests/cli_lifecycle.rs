//! `trialog study fork|resume|copy|delete` and `trialog backup`: what they print, and one-line
//! errors with status 1 that name the file and leave every file as it was.

use std::path::Path;
use std::process::{Command, Output};
use std::time::Duration;

use trialog::{HeartbeatOptions, JournalStorage, StudyDirection, TrialState};

fn trialog(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_trialog")).args(args).output().expect("run trialog")
}

fn ok(args: &[&str]) -> String {
    let out = trialog(args);
    assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

/// Fails with status 1 and one line on stderr containing `needle`; returns it.
fn fails(args: &[&str], needle: &str) -> String {
    let out = trialog(args);
    let err = String::from_utf8(out.stderr).unwrap();
    assert_eq!(out.status.code(), Some(1), "{args:?}: {err}");
    assert!(err.contains(needle), "{args:?}: {err:?} lacks {needle:?}");
    assert_eq!(err.trim_end().lines().count(), 1, "{err}");
    err
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// A journal with study "s": trials 0..=5 COMPLETE, 6 RUNNING with a heartbeat, 7 COMPLETE.
fn journal(path: &Path) {
    let storage = JournalStorage::open(path)
        .unwrap()
        .with_heartbeat(HeartbeatOptions::every(Duration::from_millis(5)));
    let study = storage.create_new_study(&[StudyDirection::Minimize], Some("s")).unwrap();
    for i in 0..8 {
        let t = storage.create_new_trial(study, None).unwrap();
        if i != 6 {
            storage.set_trial_state_values(t, TrialState::Complete, Some(&[i as f64])).unwrap();
        }
    }
}

#[test]
fn fork_copy_delete_and_their_errors() {
    let dir = tempfile::tempdir().unwrap();
    let j = dir.path().join("j.journal");
    journal(&j);
    let out = ok(&["study", "fork", s(&j), "--study", "s", "--at", "6"]);
    assert!(out.contains("fork: s.fork-6 in "), "{out}");
    assert!(out.contains("trials: 7 (0..=6 of s)\nrequeued: 6\nleft_out: COMPLETE 1\n"), "{out}");

    let o = dir.path().join("o.log");
    let into = format!("optuna:{}", s(&o));
    let out = ok(&["study", "fork", s(&j), "--study", "s", "--at", "2", "--into", &into]);
    assert!(out.contains(&format!("fork: s in {into}\n")), "{out}");
    let copied = ok(&["study", "copy", s(&j), s(&o), "--study", "s", "--to-name", "all"]);
    assert!(copied.contains("copy: all in ") && copied.contains("trials: 8\n"), "{copied}");
    let studies = ok(&["studies", s(&o)]);
    assert!(studies.contains(" s ") && studies.contains(" all "), "{studies}");

    let before = (std::fs::read(&j).unwrap(), std::fs::read(&o).unwrap());
    fails(&["study", "fork", s(&j), "--study", "s", "--at", "8"], "no trial number 8");
    fails(&["study", "fork", s(&j), "--study", "nope", "--at", "0"], "no study named \"nope\"");
    let err = fails(
        &["study", "fork", s(&j), "--study", "s", "--at", "0", "--into", &into],
        "already exists",
    );
    assert!(err.starts_with(&format!("trialog: {}", s(&o))), "the destination is named: {err}");
    fails(&["study", "copy", s(&j), s(&o), "--study", "s"], "already exists");
    fails(&["study", "delete", s(&o), "--study", "nope"], "no study named");
    fails(&["study", "fork", "optuna:", "--study", "s", "--at", "0"], "names no file");
    fails(
        &["study", "copy", &format!("optuna:{}", s(&j)), s(&o), "--study", "s"],
        "trialog journal",
    );
    let as_optuna = format!("optuna:{}", s(&j));
    fails(
        &["study", "copy", s(&j), &as_optuna, "--study", "s", "--to-name", "x"],
        "trialog journal",
    );
    assert_eq!((std::fs::read(&j).unwrap(), std::fs::read(&o).unwrap()), before);
    // A refused fork or copy into a store that does not exist yet does not create it.
    let new = dir.path().join("new.log");
    for into in [s(&new).to_owned(), format!("optuna:{}", s(&new))] {
        fails(&["study", "fork", s(&j), "--study", "s", "--at", "8", "--into", &into], "no trial");
        fails(&["study", "fork", s(&j), "--study", "no", "--at", "0", "--into", &into], "no study");
        fails(&["study", "copy", s(&j), &into, "--study", "nope"], "no study named");
        assert!(!new.exists(), "a refused command created {into}");
    }

    let out = ok(&["study", "delete", s(&o), "--study", "all"]);
    assert!(out.contains("deleted: all") && out.contains("trials: RUNNING 1, COMPLETE 7"), "{out}");

    let out = ok(&["study", "fork", s(&j), "--study", "s", "--at", "3", "--replace"]);
    assert!(out.contains("backup: s.backup-1\n"), "{out}");
    let studies = ok(&["studies", s(&j)]);
    assert!(studies.contains("s.backup-1") && studies.contains("s.fork-6"), "{studies}");
}

#[test]
fn resume_fails_and_requeues_stale_trials() {
    let dir = tempfile::tempdir().unwrap();
    let j = dir.path().join("j.journal");
    journal(&j);
    std::thread::sleep(Duration::from_millis(50));
    let out = ok(&["study", "resume", s(&j), "--study", "s", "--grace", "0.02"]);
    assert_eq!(out, "study: s\nfailed: 6\nretried: 6 -> 8\nsampler_state: none\n");
    let again = ok(&["study", "resume", s(&j), "--study", "s", "--grace", "0.02"]);
    assert!(again.contains("failed: none\nretried: none\n"), "{again}");
    let storage = JournalStorage::open(&j).unwrap();
    let id = storage.get_study_id_from_name("s").unwrap();
    let t = &storage.get_all_trials(id, None).unwrap()[8];
    assert_eq!(t.state, TrialState::Waiting);
    let err = trialog(&["study", "resume", s(&j), "--study", "s"]);
    assert_eq!(err.status.code(), Some(2), "--grace or --all-running is required");
}

#[test]
fn backup_prints_what_it_copied_and_refuses_a_diverged_target() {
    let dir = tempfile::tempdir().unwrap();
    let j = dir.path().join("j.journal");
    journal(&j);
    let b = dir.path().join("b.journal");
    let out = ok(&["backup", s(&j), s(&b), "--verify"]);
    let len = std::fs::metadata(&j).unwrap().len();
    assert!(out.contains(&format!("created: yes\nprevious_bytes: 0\nbytes: {len}\n")), "{out}");
    assert!(out.contains("verified: clean ("), "{out}");
    journal(&dir.path().join("other.journal"));
    let err = fails(&["backup", s(&dir.path().join("other.journal")), s(&b)], "is not a backup of");
    assert!(err.starts_with(&format!("trialog: {}", s(&b))), "{err}");
    let out = ok(&["backup", s(&j), s(&b), "--full-check", "--no-lock"]);
    assert!(out.contains("appended_bytes: 0\n") && out.contains("lock_held_ns: none"), "{out}");
    // --lock chooses among trialog's locks; refused for an Optuna journal.
    let o = dir.path().join("o.log");
    ok(&["study", "copy", s(&j), &format!("optuna:{}", s(&o)), "--study", "s"]);
    fails(&["backup", s(&o), s(&dir.path().join("ob")), "--lock", "advisory"], "Optuna");
    let out = ok(&["backup", s(&o), s(&dir.path().join("ob")), "--verify"]);
    assert!(out.contains("format: optuna\n"), "{out}");
}
