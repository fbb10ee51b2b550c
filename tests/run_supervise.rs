//! `trialog run` supervising real child processes: the trial timeout stops the whole process
//! group (no orphan survives), pruning stops a bad curve, results come from stdout or the result
//! file, failures carry their reason and stderr, and Ctrl-C stops everything cleanly.
// Unix only: the children are Python and sh scripts that trap signals; Ctrl-C is SIGINT; no Python
// runs inside Wine (the process tree itself is tested on Windows in `sys::proctree`).
#![cfg(unix)]

mod run_common;

use std::process::Stdio;
use std::time::Duration;

use run_common::*;
use trialog::{AttrValue, TrialState};

fn fail_reason(t: &trialog::FrozenTrial) -> String {
    match t.system_attrs.get("fail_reason") {
        Some(AttrValue::String(r)) => r.clone(),
        other => panic!("trial {} has no fail_reason: {other:?}", t.number),
    }
}

fn pids(file: &std::path::Path) -> Vec<u32> {
    let text = std::fs::read_to_string(file).unwrap();
    text.split_whitespace().map(|p| p.parse().unwrap()).collect()
}

fn hanging_trial_is_killed(ignore_term: bool) {
    let dir = tempdir();
    let journal = at(&dir, "hang.journal");
    let pid_file = at(&dir, "pids");
    let hang = script("hang.py");
    let mut cmd = run_cmd(
        &journal,
        "hang",
        &[
            "--param",
            "x=float:0..1",
            "--n-trials",
            "1",
            // Long enough for Python to start and write its pids on a loaded machine.
            "--trial-timeout",
            "5s",
            "--kill-grace",
            "1s",
            "--",
            "python3",
            &hang,
        ],
    );
    cmd.env("PID_FILE", &pid_file);
    if ignore_term {
        cmd.env("IGNORE_TERM", "1");
    }
    let out = expect_code(&mut cmd, 0);
    let trials = trials(&journal, "hang");
    assert_eq!(trials.len(), 1);
    assert_eq!(trials[0].state, TrialState::Fail);
    let reason = fail_reason(&trials[0]);
    assert!(reason.contains("timed out after 5s (--trial-timeout)"), "{reason}");
    assert!(reason.contains("hanging now"), "stderr tail missing: {reason}");
    if ignore_term {
        assert!(reason.contains("then SIGKILL"), "{reason}");
    }
    // The child and its own child are both gone: the whole process group was stopped.
    let pids = pids(&pid_file);
    assert_eq!(pids.len(), 2);
    for pid in pids {
        assert!(!process_alive(pid), "process {pid} survived the trial timeout");
    }
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("trial 0 FAIL"), "{stderr}");
}

#[test]
fn a_hanging_child_and_its_children_die_at_the_trial_timeout() {
    if have_python("a_hanging_child_and_its_children_die_at_the_trial_timeout") {
        hanging_trial_is_killed(false);
    }
}

#[test]
fn a_child_ignoring_sigterm_gets_sigkill_after_the_grace_period() {
    if have_python("a_child_ignoring_sigterm_gets_sigkill_after_the_grace_period") {
        hanging_trial_is_killed(true);
    }
}

#[test]
fn a_bad_curve_is_pruned_and_a_good_one_completes() {
    if !have_python("a_bad_curve_is_pruned_and_a_good_one_completes") {
        return;
    }
    let dir = tempdir();
    let journal = at(&dir, "prune.journal");
    let j = journal.to_str().unwrap();
    // Five good trials first (the median pruner waits for five COMPLETE trials), then a bad
    // and a good one. (A continuous `noise` makes the space infinite: in a finite space the
    // repeated `quality=good` would be completed as duplicates without running.)
    for quality in ["good", "good", "good", "good", "good", "bad", "good"] {
        let param = format!("quality={quality}");
        expect_code(
            &mut trialog(&["enqueue", "--journal", j, "--study", "p", "--param", &param]),
            0,
        );
    }
    let curve = script("curve.py");
    expect_code(
        run_cmd(
            &journal,
            "p",
            &[
                "--param",
                "quality=cat:good,bad",
                "--param",
                "noise=float:0..1",
                "--n-trials",
                "7",
                "--",
                "python3",
                &curve,
            ],
        )
        .env("STEP_SLEEP", "0.1"),
        0,
    );
    let trials = trials(&journal, "p");
    assert_eq!(trials.len(), 7);
    for t in &trials[..5] {
        assert_eq!(t.state, TrialState::Complete, "trial {}", t.number);
        assert_eq!(t.intermediate_values.len(), 10);
    }
    let bad = &trials[5];
    assert_eq!(bad.state, TrialState::Pruned);
    // Stopped at its first report (step 0: 10 against a median of 1), long before step 9.
    assert!(bad.intermediate_values.len() < 5, "{:?}", bad.intermediate_values);
    assert_eq!(bad.value(), Some(10.0), "a pruned trial keeps its last intermediate value");
    let good = &trials[6];
    assert_eq!(good.state, TrialState::Complete);
    assert_eq!(good.value(), Some(0.1));

    // With --pruner none, the same bad curve runs to its end.
    expect_code(
        &mut trialog(&["enqueue", "--journal", j, "--study", "p", "--param", "quality=bad"]),
        0,
    );
    expect_code(
        run_cmd(
            &journal,
            "p",
            &[
                "--param",
                "quality=cat:good,bad",
                "--n-trials",
                "8",
                "--pruner",
                "none",
                "--",
                "python3",
                &curve,
            ],
        )
        .env("STEP_SLEEP", "0.01"),
        0,
    );
    let last = &trials_of(&journal)[7];
    assert_eq!(last.state, TrialState::Complete);
    assert_eq!(last.value(), Some(19.0));
}

fn trials_of(journal: &std::path::Path) -> Vec<std::sync::Arc<trialog::FrozenTrial>> {
    trials(journal, "p")
}

/// One trial of `sh -c SCRIPT` in a fresh journal (study "s", `directions`): the trial.
fn one_trial(script: &str, directions: &[&str]) -> std::sync::Arc<trialog::FrozenTrial> {
    let dir = tempdir();
    let journal = at(&dir, "one.journal");
    let mut args = vec!["--param", "x=int:1..1", "--n-trials", "1"];
    for d in directions {
        args.extend(["--direction", d]);
    }
    args.extend(["--", "sh", "-c", script]);
    expect_code(&mut run_cmd(&journal, "s", &args), 0);
    let t = trials(&journal, "s");
    assert_eq!(t.len(), 1);
    t[0].clone()
}

#[test]
fn results_come_from_the_last_stdout_line_or_the_result_file() {
    let t = one_trial("echo epoch 1; echo 'trialog:report 0 9'; echo 0.25", &["minimize"]);
    assert_eq!((t.state, t.value()), (TrialState::Complete, Some(0.25)));
    let t = one_trial("echo '{{\"value\": 7}}'", &["maximize"]);
    assert_eq!(t.value(), Some(7.0));
    let t = one_trial("echo '{{\"values\": [1, 2.5]}}'", &["minimize", "maximize"]);
    assert_eq!(t.values.as_deref(), Some(&[1.0, 2.5][..]));
    // The result file wins over stdout.
    let t = one_trial("echo 3 > \"$TRIALOG_RESULT_FILE\"; echo not a number", &["minimize"]);
    assert_eq!((t.state, t.value()), (TrialState::Complete, Some(3.0)));
}

#[test]
fn failures_carry_their_reason_and_the_end_of_stderr() {
    let t = one_trial("echo loading >&2; echo 'out of memory' >&2; exit 3", &["minimize"]);
    assert_eq!(t.state, TrialState::Fail);
    let r = fail_reason(&t);
    assert!(r.contains("exit status 3") && r.contains("loading\nout of memory"), "{r}");

    let t = one_trial("echo done!", &["minimize"]);
    let r = fail_reason(&t);
    assert_eq!(t.state, TrialState::Fail);
    assert!(r.contains("last line of stdout is not a result") && r.contains("\"done!\""), "{r}");

    let t = one_trial("true", &["minimize"]);
    assert!(fail_reason(&t).contains("printed no result"));

    let t = one_trial("echo 0.5", &["minimize", "minimize"]);
    assert!(fail_reason(&t).contains("1 value but the study has 2 objectives"));

    let t = one_trial("kill -SEGV $$", &["minimize"]);
    assert!(fail_reason(&t).contains("signal 11 (SIGSEGV)"), "{}", fail_reason(&t));

    let t = one_trial("echo nan", &["minimize"]);
    assert_eq!(t.state, TrialState::Fail);
    assert!(fail_reason(&t).contains("NaN"));
}

#[test]
fn ctrl_c_stops_children_marks_trials_interrupted_and_exits_non_zero() {
    if !have_python("ctrl_c_stops_children_marks_trials_interrupted_and_exits_non_zero") {
        return;
    }
    for retries in [0, 1] {
        let dir = tempdir();
        let journal = at(&dir, "int.journal");
        let hang = script("hang.py");
        let pid_files: Vec<_> = (0..2).map(|i| at(&dir, &format!("pids{i}"))).collect();
        let retries_arg = retries.to_string();
        let runner = run_cmd(
            &journal,
            "i",
            &[
                "--param",
                "x=float:0..1",
                "--workers",
                "2",
                "--kill-grace",
                "2s",
                "--retries",
                &retries_arg,
                "--shell",
                "--",
                "PID_FILE=\"$PID_FILE_DIR/pids$TRIALOG_TRIAL_NUMBER\"",
                "exec",
                "python3",
                &hang,
            ],
        )
        .env("PID_FILE_DIR", dir.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
        wait_for("both children", Duration::from_secs(30), || pid_files.iter().all(|p| p.exists()));
        // SIGINT to the runner alone, as a terminal's Ctrl-C would send it to the foreground
        // group (the children are in groups of their own and get it from the runner).
        let rc = std::process::Command::new("kill")
            .args(["-INT", &runner.id().to_string()])
            .status()
            .unwrap();
        assert!(rc.success());
        let out = runner.wait_with_output().unwrap();
        assert_eq!(out.status.code(), Some(130), "{}", String::from_utf8_lossy(&out.stderr));
        let trials = trials(&journal, "i");
        let failed: Vec<_> = trials.iter().filter(|t| t.state == TrialState::Fail).collect();
        assert_eq!(failed.len(), 2, "{trials:#?}");
        for t in &failed {
            assert!(fail_reason(t).starts_with("interrupted"), "{}", fail_reason(t));
        }
        for f in &pid_files {
            for pid in pids(f) {
                assert!(!process_alive(pid), "process {pid} survived Ctrl-C");
            }
        }
        let waiting: Vec<_> = trials.iter().filter(|t| t.state == TrialState::Waiting).collect();
        if retries == 0 {
            assert!(waiting.is_empty());
        } else {
            // Each interrupted trial is enqueued again, with Optuna's retry attributes and its
            // parameters.
            assert_eq!(waiting.len(), 2);
            for w in waiting {
                let Some(AttrValue::Array(h)) = w.system_attrs.get("retry_history") else {
                    panic!("no retry_history")
                };
                let AttrValue::Int(n) = h[0] else { panic!() };
                let original = &trials[n as usize];
                assert_eq!(w.params, original.params);
                assert_eq!(w.system_attrs.get("failed_trial"), Some(&AttrValue::Int(n)));
            }
        }
    }
}
