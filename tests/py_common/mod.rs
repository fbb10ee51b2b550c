//! Shared plumbing of the `compat_*` tests: Python Optuna (the scripts in `tests/python/`) and the
//! `trialog` binary as subprocesses.
//!
//! Without `import optuna` the tests that need Python print a loud `SKIPPED` line and return,
//! unless `TRIALOG_REQUIRE_OPTUNA=1` (set by `.ci/run`): then they fail.
#![allow(dead_code)] // each test file uses a different subset

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use trialog::journal::json::{self, JsonValue};

/// Whether Python Optuna can be used; `false` after printing why the caller skips. Panics if
/// it cannot but `TRIALOG_REQUIRE_OPTUNA=1`.
pub fn have_optuna(test: &str) -> bool {
    let ok = Command::new("python3")
        .args(["-c", "import optuna"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        assert!(
            std::env::var("TRIALOG_REQUIRE_OPTUNA").as_deref() != Ok("1"),
            "{test}: `python3 -c 'import optuna'` fails but TRIALOG_REQUIRE_OPTUNA=1 \
             (pip install optuna==5.0.0)"
        );
        // Straight to the stderr handle: libtest captures `eprintln!` of passing tests.
        use std::io::Write;
        let _ = writeln!(
            std::io::stderr(),
            "\n*** SKIPPED {test}: Python Optuna is not installed (python3 -m pip install optuna==5.0.0) ***\n"
        );
    }
    ok
}

/// The path of a script in `tests/python/`.
pub fn script(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/python").join(name)
}

/// A `python3 tests/python/<name> args...` command, in this process's time zone (`TZ` is
/// inherited, as by the `trialog` children): Optuna reads datetimes through the local wall clock,
/// and trialog must read them the same way in any zone (`.ci/run` runs these tests under UTC and
/// under America/New_York).
pub fn python(name: &str, args: &[&str]) -> Command {
    let mut cmd = Command::new("python3");
    cmd.arg(script(name)).args(args);
    cmd
}

/// Runs a command, panicking with its stderr unless it succeeds; returns stdout.
pub fn run_ok(cmd: &mut Command) -> String {
    let out = cmd.output().expect("spawn");
    assert!(
        out.status.success(),
        "{cmd:?} failed ({}):\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("utf-8 output")
}

/// The `trialog` binary with `args`.
pub fn trialog(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_trialog")).args(args).output().expect("spawn trialog")
}

/// `trialog dump <journal>`, which must succeed.
pub fn trialog_dump(journal: &Path) -> String {
    run_ok(Command::new(env!("CARGO_BIN_EXE_trialog")).arg("dump").arg(journal))
}

/// `python3 tests/python/dump.py <journal>`: Optuna's own replay as the canonical dump.
pub fn optuna_dump(journal: &Path) -> String {
    run_ok(&mut python("dump.py", &[journal.to_str().unwrap()]))
}

/// Asserts that trialog and Optuna replay `journal` to the same state; returns the dump.
pub fn assert_same_state(journal: &Path) -> String {
    let ours = trialog_dump(journal);
    let theirs = optuna_dump(journal);
    if ours != theirs {
        let at = ours.bytes().zip(theirs.bytes()).take_while(|(a, b)| a == b).count();
        let from = at.saturating_sub(200);
        panic!(
            "{}: trialog and Optuna disagree at byte {at}:\ntrialog: ...{}\noptuna:  ...{}",
            journal.display(),
            &ours[from..(at + 200).min(ours.len())],
            &theirs[from..(at + 200).min(theirs.len())]
        );
    }
    ours
}

/// The dump's studies as (name, trial states by number), for readable assertions.
pub fn states(dump: &str) -> Vec<(String, Vec<String>)> {
    let v = json::parse(dump.as_bytes()).expect("the dump is JSON");
    let Some(JsonValue::Array(studies)) = v.get("studies") else { panic!("no studies") };
    studies
        .iter()
        .map(|s| {
            let Some(JsonValue::Str(name)) = s.get("study_name") else { panic!("no name") };
            let Some(JsonValue::Array(trials)) = s.get("trials") else { panic!("no trials") };
            let states = trials
                .iter()
                .map(|t| match t.get("state") {
                    Some(JsonValue::Str(st)) => st.clone(),
                    _ => panic!("no state"),
                })
                .collect();
            (name.clone(), states)
        })
        .collect()
}
