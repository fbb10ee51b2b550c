//! `trialog demo`, the README's main job, run as a real binary: its output names the workers,
//! shows the progress and the best trial; the journal then holds exactly the trials it
//! reported; a second run continues the same study; bad input is one error line. Counts agree
//! with their number ("1 trial"), the closing hint is a command that works as typed, and on a
//! terminal the progress bar's line is ended before the report.

use std::path::Path;
use std::process::{Command, Output};

use trialog::{JournalStorage, ParamValue, TrialState};

fn demo(journal: &Path, extra: &[&str]) -> Output {
    demo_command(journal, extra).output().expect("run trialog demo")
}

/// `trialog demo <journal> <extra>`, as a user's shell would start it (outside `cargo run`).
fn demo_command(journal: &Path, extra: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_trialog"));
    cmd.arg("demo").arg(journal).args(extra).env_remove("CARGO_PKG_NAME");
    cmd
}

fn stdout_ok(out: &Output) -> String {
    let text = String::from_utf8(out.stdout.clone()).unwrap();
    assert!(
        out.status.success(),
        "demo failed ({}):\n{text}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    text
}

/// The value of the best trial the output names, and the trial count it reports.
fn reported(text: &str) -> (u64, f64, usize) {
    let best = text.lines().find_map(|l| l.strip_prefix("Best trial: #")).expect(text);
    let (number, rest) = best.split_once(" value ").unwrap();
    let value: f64 = rest.split(' ').next().unwrap().parse().unwrap();
    let total = text.lines().find_map(|l| l.strip_prefix("Study \"demo\" now has ")).expect(text);
    let total: usize = total.split(' ').next().unwrap().parse().unwrap();
    (number.parse().unwrap(), value, total)
}

#[test]
fn demo_runs_workers_shows_progress_and_best_and_a_second_run_continues() {
    let dir = tempfile::tempdir().unwrap();
    let journal = dir.path().join("demo.journal");
    let text = stdout_ok(&demo(&journal, &["--workers", "3", "--trials", "20", "--work-ms", "1"]));
    println!("{text}");
    assert!(text.contains("3 worker processes"), "{text}");
    for (i, share) in [(1, 7), (2, 7), (3, 6)] {
        assert!(text.contains(&format!("  worker {i} (pid ")), "{text}");
        assert!(text.contains(&format!("): {share} trials")), "{text}");
        assert!(
            text.contains(&format!("  worker {i}: ran {share} trials, {share} complete")),
            "{text}"
        );
    }
    // Not a terminal: the progress is printed as lines, ending with the total.
    assert!(text.contains("  progress: 20/20 trials"), "{text}");
    assert!(text.contains("20 trials finished in"), "{text}");
    let (number, value, total) = reported(&text);
    assert_eq!(total, 20);

    // The journal agrees with the report.
    let storage = JournalStorage::open(&journal).unwrap();
    let study = storage.get_study_id_from_name("demo").unwrap();
    let trials = storage.get_all_trials(study, None).unwrap();
    assert_eq!(trials.len(), 20);
    assert!(trials.iter().all(|t| t.state == TrialState::Complete));
    let best = storage.get_best_trial(study).unwrap();
    assert_eq!(best.number, number);
    assert!((best.value().unwrap() - value).abs() <= 1e-6 * value.abs().max(1.0));
    for t in &trials {
        let (Some(ParamValue::Float(x)), Some(ParamValue::Float(y))) =
            (t.params.get("x"), t.params.get("y"))
        else {
            panic!("{t:?}")
        };
        let f = (x * x + y - 11.0).powi(2) + (x + y * y - 7.0).powi(2);
        assert_eq!(t.value(), Some(f), "trial {} is Himmelblau's value", t.number);
        assert_eq!(t.intermediate_values.len(), 1);
    }
    drop(storage);

    // Again: the same study grows, and the output says where it started.
    let text = stdout_ok(&demo(&journal, &["--workers", "2", "--trials", "6", "--work-ms", "0"]));
    assert!(text.contains("(study \"demo\", 20 finished trials so far)"), "{text}");
    let (_, value2, total) = reported(&text);
    assert_eq!(total, 26);
    assert!(value2 <= value, "the best can only improve: {value} -> {value2}");
    let storage = JournalStorage::open(&journal).unwrap();
    assert_eq!(storage.get_n_trials(study, Some(&[TrialState::Complete])).unwrap(), 26);
    assert_eq!(storage.read(|s| Ok(s.stats().ignored)).unwrap(), 0);
}

#[test]
fn demo_errors_are_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let not_journal = dir.path().join("notes.txt");
    std::fs::write(&not_journal, "these are my notes, not a journal\n").unwrap();
    let out = demo(&not_journal, &["--trials", "1"]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8(out.stderr).unwrap();
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.starts_with("trialog: ") && err.contains("not a journal"), "{err}");
    assert!(err.contains("notes.txt"), "{err}");
    assert_eq!(
        std::fs::read_to_string(&not_journal).unwrap(),
        "these are my notes, not a journal\n",
        "the file was left alone"
    );

    let journal = dir.path().join("x.journal");
    let out = demo(&journal, &["--workers", "0"]);
    assert_eq!(out.status.code(), Some(2), "a usage error");
    assert!(!journal.exists(), "nothing created on a usage error");
}

#[test]
fn counts_of_one_are_singular() {
    let dir = tempfile::tempdir().unwrap();
    let journal = dir.path().join("one.journal");
    let text = stdout_ok(&demo(&journal, &["--workers", "1", "--trials", "1", "--work-ms", "0"]));
    for line in [
        "trialog demo: 1 worker process sharing ",
        "(study \"demo\", 0 finished trials so far)",
        "(minimum 0); 1 trial in all.",
        "): 1 trial\n",
        "  progress: 1/1 trial\n",
        "  worker 1: ran 1 trial, 1 complete\n",
        "\n1 trial finished in ",
        "Study \"demo\" now has 1 trial (1 COMPLETE).",
        "Top 1 trial:",
    ] {
        assert!(text.contains(line), "{line:?} missing in:\n{text}");
    }
    assert!(!text.contains(" 1 trials") && !text.contains(" 1 worker processes"), "{text}");
    let text = stdout_ok(&demo(&journal, &["--workers", "1", "--trials", "1", "--work-ms", "0"]));
    assert!(text.contains("(study \"demo\", 1 finished trial so far)"), "{text}");
}

/// The command in "inspect it with `...`".
fn hint(text: &str) -> &str {
    let after = text.split("inspect it with `").nth(1).expect(text);
    after.split('`').next().unwrap()
}

// Runs the printed hint through `sh`, which Windows (and Wine) does not have; the Windows quoting
// of hints is unit-tested in src/cli/invocation.rs.
#[cfg(unix)]
#[test]
fn the_closing_hint_is_a_command_that_works() {
    let dir = tempfile::tempdir().unwrap();
    let journal = dir.path().join("my demo.journal");
    let args = ["--workers", "1", "--trials", "2", "--work-ms", "0"];
    // Run directly (the path the user typed, or `trialog` found on PATH): that program again,
    // with the journal quoted for the shell; the hint runs as printed.
    let text = stdout_ok(&demo(&journal, &args));
    let command = hint(&text);
    let exe = env!("CARGO_BIN_EXE_trialog");
    assert!(command.starts_with(exe) && command.contains(" trials '"), "{command}");
    let out = Command::new("sh").arg("-c").arg(command).output().unwrap();
    assert!(out.status.success(), "{command}: {}", String::from_utf8_lossy(&out.stderr));
    let table = String::from_utf8(out.stdout).unwrap();
    assert_eq!(table.lines().count(), 3, "a header and the two trials: {table}");
    // Started by `cargo run` (which sets CARGO_PKG_NAME): `cargo run` again, not `trialog`.
    let out = demo_command(&journal, &args).env("CARGO_PKG_NAME", "trialog").output().unwrap();
    let text = stdout_ok(&out);
    let profile = if cfg!(debug_assertions) { "cargo run -- " } else { "cargo run --release -- " };
    assert!(hint(&text).starts_with(&format!("{profile}trials '")), "{text}");
}

// Needs Python's `pty` module for a pseudo-terminal: no Python runs inside Wine, and Windows has
// no pty.
#[cfg(unix)]
#[test]
fn on_a_terminal_the_report_starts_below_the_progress_bar() {
    // A pseudo-terminal from Python's standard library (no Rust pty crate needed).
    let python = Command::new("python3").arg("-c").arg("import pty").output();
    if !python.is_ok_and(|o| o.status.success()) {
        // Straight to the stderr handle: libtest captures `eprintln!` of passing tests.
        use std::io::Write;
        let _ = writeln!(
            std::io::stderr(),
            "\n*** SKIPPED on_a_terminal_the_report_starts_below_the_progress_bar: python3 is not installed ***\n"
        );
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let journal = dir.path().join("tty.journal");
    let out = Command::new("python3")
        .args(["-c", "import pty, sys; pty.spawn(sys.argv[1:])"])
        .arg(env!("CARGO_BIN_EXE_trialog"))
        .args(["demo", journal.to_str().unwrap(), "--workers", "1", "--trials", "2"])
        .args(["--work-ms", "0"])
        .env("TERM", "xterm")
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    let screen = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{screen}");
    assert!(screen.contains("2/2 trials (eta"), "the bar was drawn: {screen:?}");
    let at = screen.find("  worker 1: ran").expect(&screen);
    assert!(screen[..at].ends_with('\n'), "the report runs into the bar: {screen:?}");
}
