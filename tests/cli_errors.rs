//! Every error the CLI prints for a user's mistake or a damaged journal is one line that says what
//! is wrong and what to do, names the path and offset once, and never says "invalid" twice; the
//! commands it suggests work when run as printed. Each case runs the real binary on a real bad
//! input built here.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use trialog::{JournalStorage, StudyDirection, TrialState};

/// `trialog <args>` as a user's shell starts it (outside `cargo run`, so hints name this binary).
fn trialog(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_trialog"))
        .args(args)
        .env_remove("CARGO_PKG_NAME")
        .env_remove("TRIALOG_LOG")
        .output()
        .expect("run trialog")
}

/// Runs a command that must fail with status 1 and nothing on stdout; returns its one stderr line.
fn error_line(args: &[&str]) -> String {
    let out = trialog(args);
    let err = String::from_utf8(out.stderr).unwrap();
    assert_eq!(out.status.code(), Some(1), "trialog {args:?}: {err}");
    assert!(out.stdout.is_empty(), "trialog {args:?} printed {:?}", out.stdout);
    assert_eq!(err.lines().count(), 1, "not one line: {err:?}");
    assert!(!err.to_lowercase().contains("invalid invalid"), "{err}");
    err.trim_end().to_owned()
}

/// The commands a message suggests, between backquotes (used by the Unix-only tests below).
#[cfg(unix)]
fn suggested(message: &str) -> Vec<String> {
    message.split('`').skip(1).step_by(2).map(str::to_owned).collect()
}

#[cfg(unix)]
fn sh(command: &str) -> Output {
    Command::new("sh").arg("-c").arg(command).env_remove("CARGO_PKG_NAME").output().unwrap()
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// A trialog journal with one study of three trials.
fn trialog_journal(dir: &Path) -> PathBuf {
    let path = dir.join("t.journal");
    let storage = JournalStorage::open(&path).unwrap();
    let study = storage.create_new_study(&[StudyDirection::Minimize], Some("s")).unwrap();
    for i in 0..3 {
        let t = storage.create_new_trial(study, None).unwrap();
        storage.set_trial_state_values(t, TrialState::Complete, Some(&[f64::from(i)])).unwrap();
    }
    path
}

/// The same as an Optuna JSON-lines journal.
fn optuna_journal(dir: &Path) -> PathBuf {
    let path = dir.join("o.log");
    let storage = JournalStorage::open_optuna(&path).unwrap();
    let study = storage.create_new_study(&[StudyDirection::Minimize], Some("s")).unwrap();
    for i in 0..3 {
        let t = storage.create_new_trial(study, None).unwrap();
        storage.set_trial_state_values(t, TrialState::Complete, Some(&[f64::from(i)])).unwrap();
    }
    path
}

#[test]
fn a_directory_is_not_a_journal_file() {
    let dir = tempfile::tempdir().unwrap();
    let d = s(dir.path());
    for args in [
        vec!["studies", d],
        vec!["trials", d, "--study", "s"],
        vec!["dump", d],
        vec!["stats", d],
        vec!["export", "--format", "optuna", d, "out.log"],
        vec!["demo", d, "--trials", "1"],
    ] {
        let err = error_line(&args);
        assert_eq!(
            err,
            format!("trialog: {d}: is a directory, not a journal file (pass the journal's path)"),
            "{args:?}"
        );
    }
}

#[test]
fn import_of_a_trialog_journal_says_it_already_is_one() {
    let dir = tempfile::tempdir().unwrap();
    let journal = trialog_journal(dir.path());
    let out = dir.path().join("out.journal");
    let err = error_line(&["import", s(&journal), s(&out)]);
    assert_eq!(
        err,
        format!(
            "trialog: {}: is already a trialog journal: nothing to import (every command reads it as it is)",
            journal.display()
        )
    );
    assert!(!out.exists(), "nothing written");
}

// Runs the printed hint through `sh`, which Windows (and Wine) does not have; the Windows quoting
// of hints is unit-tested in src/cli/invocation.rs.
#[cfg(unix)]
#[test]
fn a_corrupt_trialog_journal_points_to_verify_and_recover_which_work_as_printed() {
    let dir = tempfile::tempdir().unwrap();
    let journal = trialog_journal(dir.path());
    let mut bytes = std::fs::read(&journal).unwrap();
    bytes[40] ^= 0x20; // inside the first frame: valid frames follow
    std::fs::write(&journal, &bytes).unwrap();
    let j = s(&journal);
    for args in [vec!["studies", j], vec!["dump", j], vec!["trials", j, "--study", "s"]] {
        let err = error_line(&args);
        assert!(
            err.starts_with(&format!("trialog: {j}: corrupt journal at byte offset ")),
            "{err}"
        );
        assert_eq!(err.matches("byte offset").count(), 1, "the offset once: {err}");
        assert_eq!(err.matches(&format!("{j}:")).count(), 1, "the path prefix once: {err}");
        let [verify, recover] = &suggested(&err)[..] else { panic!("two commands: {err}") };
        let exe = env!("CARGO_BIN_EXE_trialog");
        assert_eq!(verify, &format!("{exe} verify {j}"));
        assert_eq!(
            recover,
            &format!("{exe} recover {j} --mode skip-any-corrupted --out {j}.recovered")
        );
    }
    let err = error_line(&["studies", j]);
    let [verify, recover] = &suggested(&err)[..] else { panic!("{err}") };
    let out = sh(verify);
    assert_eq!(out.status.code(), Some(4), "verify reports the corruption");
    assert!(String::from_utf8_lossy(&out.stdout).contains("status: corrupt"));
    let out = sh(recover);
    assert!(out.status.success(), "{recover}: {}", String::from_utf8_lossy(&out.stderr));
    let recovered = format!("{j}.recovered");
    assert_eq!(trialog(&["verify", &recovered]).status.code(), Some(0));
    assert_eq!(std::fs::read(&journal).unwrap(), bytes, "the original is left alone");
}

// Runs the printed hint through `sh`, which Windows (and Wine) does not have; the Windows quoting
// of hints is unit-tested in src/cli/invocation.rs.
#[cfg(unix)]
#[test]
fn a_corrupt_optuna_journal_points_to_a_salvage_import_which_works_as_printed() {
    let dir = tempfile::tempdir().unwrap();
    let journal = optuna_journal(dir.path());
    let text = std::fs::read_to_string(&journal).unwrap();
    let first = text.find('\n').unwrap() + 1;
    std::fs::write(
        &journal,
        format!("{}{{\"op_code\": 4, \"wor{}", &text[..first], &text[first..]),
    )
    .unwrap();
    let j = s(&journal);
    let exe = env!("CARGO_BIN_EXE_trialog");

    let err = error_line(&["studies", j]);
    assert!(err.starts_with(&format!("trialog: {j}: corrupt journal at byte offset {first}: ")));
    assert_eq!(err.matches("byte offset").count(), 1, "{err}");
    let [import] = &suggested(&err)[..] else { panic!("one command: {err}") };
    assert_eq!(import, &format!("{exe} import --skip-corrupt-lines {j} {j}.salvaged.journal"));
    let out = sh(import);
    assert!(out.status.success(), "{import}: {}", String::from_utf8_lossy(&out.stderr));
    let salvaged = format!("{j}.salvaged.journal");
    assert!(String::from_utf8(trialog(&["studies", &salvaged]).stdout).unwrap().contains(" s "));

    // `import` itself, without the flag: the same command with the user's output path.
    let out_path = dir.path().join("my out.journal");
    let err = error_line(&["import", j, s(&out_path)]);
    let [import] = &suggested(&err)[..] else { panic!("one command: {err}") };
    assert_eq!(import, &format!("{exe} import --skip-corrupt-lines {j} '{}'", out_path.display()));
    assert!(!out_path.exists());
    assert!(sh(import).status.success());
    assert!(out_path.exists());
}

// Runs the printed hint through `sh`, which Windows (and Wine) does not have; the Windows quoting
// of hints is unit-tested in src/cli/invocation.rs.
#[cfg(unix)]
#[test]
fn demo_on_an_optuna_journal_says_which_format_it_is_and_leaves_it_alone() {
    let dir = tempfile::tempdir().unwrap();
    let journal = optuna_journal(dir.path());
    let before = std::fs::read(&journal).unwrap();
    let err = error_line(&["demo", s(&journal), "--trials", "1"]);
    let j = journal.display();
    assert!(
        err.starts_with(&format!(
            "trialog: {j}: is an Optuna JSON-lines journal, and this command needs a trialog journal"
        )),
        "{err}"
    );
    assert_eq!(std::fs::read(&journal).unwrap(), before);
    assert!(std::fs::symlink_metadata(format!("{j}.lock")).is_err(), "no lock taken");
    // The conversion it suggests works as printed, and demo runs on its output.
    let [import] = &suggested(&err)[..] else { panic!("one command: {err}") };
    let converted = journal.with_extension("journal");
    assert_eq!(
        import,
        &format!("{} import {j} {}", env!("CARGO_BIN_EXE_trialog"), converted.display())
    );
    assert!(sh(import).status.success());
    let out =
        trialog(&["demo", s(&converted), "--workers", "1", "--trials", "1", "--work-ms", "0"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
}

/// A trialog journal given to a command that reads Optuna journals only (here `import`, which
/// has its own message) or the other way round (`bench w2` reads trialog journals) says which
/// format it is, not "not a journal".
#[test]
fn a_journal_of_the_other_format_is_named_as_such() {
    let dir = tempfile::tempdir().unwrap();
    let journal = optuna_journal(dir.path());
    let err = error_line(&["bench", "w2", "--journal", s(&journal)]);
    assert!(
        err.starts_with(&format!(
            "trialog: {}: is an Optuna JSON-lines journal, and this command needs a trialog journal (`",
            journal.display()
        )),
        "{err}"
    );
    assert!(!err.contains("not a journal"), "{err}");
}

#[test]
fn a_bad_option_value_says_invalid_once() {
    let dir = tempfile::tempdir().unwrap();
    let journal = trialog_journal(dir.path());
    let out = trialog(&["recover", s(&journal), "--mode", "tolerate"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8(out.stderr).unwrap();
    let first = err.lines().next().unwrap();
    assert_eq!(
        first,
        "error: invalid value 'tolerate' for '--mode <MODE>': unknown recovery mode \"tolerate\" \
         (expected one of tolerate-corrupted-tail, absolute-consistency, point-in-time, \
         skip-any-corrupted)"
    );
}

// Runs the printed hint through `sh`, which Windows (and Wine) does not have; the Windows quoting
// of hints is unit-tested in src/cli/invocation.rs.
#[cfg(unix)]
#[test]
fn a_misspelled_study_points_to_a_studies_command_that_works() {
    let dir = tempfile::tempdir().unwrap();
    let journal = trialog_journal(dir.path());
    let err = error_line(&["best", s(&journal), "--study", "x"]);
    let [studies] = &suggested(&err)[..] else { panic!("{err}") };
    let out = sh(studies);
    assert!(out.status.success());
    assert!(String::from_utf8(out.stdout).unwrap().contains(" s "));
}

/// `--lock` names trialog's own locks; given for an Optuna journal it is refused before anything
/// is locked (no `<journal>.lock` appears, which Python would read as a held lock), naming the
/// file. On a trialog journal it works as before.
#[test]
fn lock_given_for_an_optuna_journal_is_refused_before_locking() {
    let dir = tempfile::tempdir().unwrap();
    let journal = optuna_journal(dir.path());
    let before = std::fs::read(&journal).unwrap();
    let lock_file = dir.path().join("o.log.lock");
    for kind in ["advisory", "open-file", "symlink"] {
        let out = dir.path().join("out.log");
        let args = ["recover", s(&journal), "--mode", "skip-any-corrupted", "--lock", kind];
        let err = error_line(&[&args[..], &["--out", s(&out)]].concat());
        assert_eq!(
            err,
            format!(
                "trialog: {}: is an Optuna JSON-lines journal: --lock chooses among trialog's own \
                 locks, which must never guard a file Python Optuna writes (leave --lock out: an \
                 Optuna journal is always locked with Optuna's protocol, whose kind --optuna-lock \
                 chooses)",
                journal.display()
            )
        );
        assert!(std::fs::symlink_metadata(&lock_file).is_err(), "--lock {kind} left a lock file");
        assert!(!out.exists());
        assert_eq!(std::fs::read(&journal).unwrap(), before);
    }

    let trialog_journal = trialog_journal(dir.path());
    let out = dir.path().join("clean.journal");
    let t = s(&trialog_journal);
    let args = ["recover", t, "--mode", "skip-any-corrupted", "--lock", "advisory", "--out"];
    let done = trialog(&[&args[..], &[s(&out)]].concat());
    assert!(done.status.success(), "{}", String::from_utf8_lossy(&done.stderr));
    assert!(out.exists());
}

/// The help of `--lock` no longer calls trialog's symlink lease lock Optuna's protocol.
#[test]
fn lock_help_says_whose_locks_they_are() {
    for command in [&["recover", "--help"][..], &["bench", "w1", "--help"]] {
        let out = trialog(command);
        let help = String::from_utf8(out.stdout).unwrap();
        assert!(!help.contains("Optuna's symlink protocol"), "{help}");
        assert!(help.contains("symlink:   trialog's lease lock as a symbolic link"), "{help}");
        assert!(help.contains("(not Optuna's symlink lock)"), "{help}");
    }
}
