//! Helpers of the `run_*` tests: the `trialog` binary, the child scripts in
//! `tests/run_scripts/`, and reading a study's trials back from a journal of either format.
#![allow(dead_code)] // each test file uses a different subset

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::Arc;
use std::time::{Duration, Instant};

use trialog::{AnyJournalFile, FrozenTrial, JournalStorage, TrialState};

/// Whether `python3` runs; `false` after printing why the caller skips.
pub fn have_python(test: &str) -> bool {
    let ok =
        Command::new("python3").arg("-c").arg("pass").output().is_ok_and(|o| o.status.success());
    if !ok {
        use std::io::Write;
        let _ = writeln!(
            std::io::stderr(),
            "\n*** SKIPPED {test}: python3 is not installed (the child scripts are Python) ***\n"
        );
    }
    ok
}

/// The path of a script in `tests/run_scripts/`.
pub fn script(name: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/run_scripts")
        .join(name)
        .to_string_lossy()
        .into_owned()
}

/// `trialog run --journal <journal> --study <study> <args...>`.
pub fn run_cmd(journal: &Path, study: &str, args: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_trialog"));
    cmd.arg("run").arg("--journal").arg(journal).arg("--study").arg(study).args(args);
    cmd
}

/// The `trialog` binary with `args`.
pub fn trialog(args: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_trialog"));
    cmd.args(args);
    cmd
}

/// Runs `cmd`; panics with its output unless it exits with `code`.
pub fn expect_code(cmd: &mut Command, code: i32) -> Output {
    let out = cmd.output().expect("spawn trialog");
    assert_eq!(
        out.status.code(),
        Some(code),
        "{cmd:?}\nstdout:\n{}\nstderr:\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// The trials of `study` in `journal` (either format), by number.
pub fn trials(journal: &Path, study: &str) -> Vec<Arc<FrozenTrial>> {
    let storage = JournalStorage::new(AnyJournalFile::open_existing(journal).unwrap()).unwrap();
    let id = storage.get_study_id_from_name(study).unwrap();
    storage.get_all_trials(id, None).unwrap()
}

/// How many of `trials` are in `state`.
pub fn count(trials: &[Arc<FrozenTrial>], state: TrialState) -> usize {
    trials.iter().filter(|t| t.state == state).count()
}

/// Polls `f` every 20 ms until it is true; panics after `limit` saying `what`.
pub fn wait_for(what: &str, limit: Duration, mut f: impl FnMut() -> bool) {
    let start = Instant::now();
    while !f() {
        assert!(start.elapsed() < limit, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Whether process `pid` exists and is not a zombie (Linux `/proc`).
pub fn process_alive(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        // The state follows the command name in parentheses.
        Ok(stat) => stat.rsplit(')').next().and_then(|s| s.split_whitespace().next()) != Some("Z"),
        Err(_) => false,
    }
}

/// A fresh temporary directory (removed on drop).
pub fn tempdir() -> tempfile::TempDir {
    tempfile::tempdir().expect("temp dir")
}

/// A path inside `dir`.
pub fn at(dir: &tempfile::TempDir, name: &str) -> PathBuf {
    dir.path().join(name)
}
