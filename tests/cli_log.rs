//! The CLI prints the library's warnings (through the `log` facade) on stderr as
//! `trialog: warning: ...`: a corrupt line skipped by a salvage import, a torn tail covered by a
//! demo worker. `-q` and `TRIALOG_LOG` silence them, in the demo's worker processes too; `-v` wins
//! over `TRIALOG_LOG`.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use trialog::{JournalStorage, StudyDirection, TrialState};

fn trialog(args: &[&str], log_env: Option<&str>) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_trialog"));
    cmd.args(args).env_remove("TRIALOG_LOG");
    if let Some(filter) = log_env {
        cmd.env("TRIALOG_LOG", filter);
    }
    let out = cmd.output().expect("run trialog");
    assert!(out.status.success(), "trialog {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    out
}

fn stderr(out: &Output) -> String {
    String::from_utf8(out.stderr.clone()).unwrap()
}

/// An Optuna journal of three trials whose second line is damaged; the damaged line's offset.
fn damaged_optuna_journal(dir: &Path) -> (PathBuf, usize) {
    let path = dir.join("bad.log");
    let s = JournalStorage::open_optuna(&path).unwrap();
    let study = s.create_new_study(&[StudyDirection::Minimize], Some("s")).unwrap();
    for i in 0..3 {
        let t = s.create_new_trial(study, None).unwrap();
        s.set_trial_state_values(t, TrialState::Complete, Some(&[f64::from(i)])).unwrap();
    }
    drop(s);
    let text = std::fs::read_to_string(&path).unwrap();
    let first = text.find('\n').unwrap() + 1;
    let damaged = format!("{}{{\"op_code\": 4, \"worker{}", &text[..first], &text[first..]);
    std::fs::write(&path, damaged).unwrap();
    (path, first)
}

#[test]
fn a_skipped_corrupt_line_is_a_warning_on_stderr_unless_quieted() {
    let dir = tempfile::tempdir().unwrap();
    let (bad, offset) = damaged_optuna_journal(dir.path());
    let bad = bad.to_str().unwrap();
    let import = |flags: &[&str], env: Option<&str>, n: usize| {
        let out_path = dir.path().join(format!("out{n}.journal"));
        let mut args = flags.to_vec();
        args.extend(["import", "--skip-corrupt-lines", bad, out_path.to_str().unwrap()]);
        let out = trialog(&args, env);
        let stdout = String::from_utf8(out.stdout.clone()).unwrap();
        assert!(stdout.ends_with(" (1 corrupt line skipped)\n"), "{stdout}");
        stderr(&out)
    };

    let err = import(&[], None, 0);
    let expected = format!("trialog: warning: {bad}: skipping ");
    assert!(err.starts_with(&expected), "{err:?}");
    assert!(err.contains(&format!(" corrupt bytes at offset {offset}: bad Optuna journal line")));
    assert_eq!(err.lines().count(), 1, "one line per skipped line: {err:?}");
    assert_eq!(err.matches(bad).count(), 1, "the path once: {err:?}");
    assert_eq!(err.matches(&format!("offset {offset}")).count(), 1, "the offset once: {err:?}");

    assert_eq!(import(&["-q"], None, 1), "", "-q: errors only");
    assert_eq!(import(&[], Some("error"), 2), "", "TRIALOG_LOG=error");
    assert_eq!(import(&[], Some("off"), 3), "", "TRIALOG_LOG=off");
    assert!(import(&["-v"], Some("off"), 4).contains(&expected), "-v wins over TRIALOG_LOG");
    // A flag after the command works too (the flags are global).
    let out_path = dir.path().join("out5.journal");
    let out =
        trialog(&["import", "--skip-corrupt-lines", bad, out_path.to_str().unwrap(), "-q"], None);
    assert_eq!(stderr(&out), "");
}

#[test]
fn a_demo_worker_that_covers_a_torn_tail_warns_and_minus_q_quiets_the_workers_too() {
    let dir = tempfile::tempdir().unwrap();
    let journal = dir.path().join("demo.journal");
    let j = journal.to_str().unwrap();
    let demo = |flags: &[&str]| {
        let mut args = flags.to_vec();
        args.extend(["demo", j, "--workers", "1", "--trials", "1", "--work-ms", "0"]);
        trialog(&args, None)
    };
    let tear = || {
        let len = std::fs::metadata(&journal).unwrap().len();
        let mut bytes = std::fs::read(&journal).unwrap();
        bytes.extend_from_slice(&[0x42; 7]); // a frame whose writer died after 7 bytes
        std::fs::write(&journal, bytes).unwrap();
        len
    };
    assert_eq!(stderr(&demo(&[])), "", "a clean run warns about nothing");

    let at = tear();
    let err = stderr(&demo(&[]));
    let expected = format!(
        "trialog: warning: {j}: covering 7 bytes of torn tail at offset {at} with padding\n"
    );
    assert_eq!(err, expected);

    tear();
    assert_eq!(stderr(&demo(&["-q"])), "", "-q reaches the worker that covered it");
    let storage = JournalStorage::open(&journal).unwrap();
    let study = storage.get_study_id_from_name("demo").unwrap();
    assert_eq!(storage.get_n_trials(study, Some(&[TrialState::Complete])).unwrap(), 3);
}
