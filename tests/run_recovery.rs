//! Crash recovery: a runner killed with SIGKILL in the middle of its trials leaves them RUNNING;
//! a second runner fails them once their heartbeats are older than the grace period, retries
//! them with `--retries 1` (Optuna's retry attributes), and the study reaches its budget with no
//! trial lost. On a trialog journal the store's own heartbeats are used; on an Optuna journal,
//! which cannot store them, the runner's heartbeat attribute.
// Unix only: kills the runner with SIGKILL and needs Python beside trialog (none runs inside Wine).
#![cfg(unix)]

mod py_common;
mod run_common;

use std::process::Stdio;
use std::time::Duration;

use run_common::*;
use trialog::{AttrValue, TrialState};

/// Runs the scenario on a journal of `format` in `dir`; returns the journal's path.
fn killed_runner_is_recovered(dir: &std::path::Path, format: &str) -> std::path::PathBuf {
    let journal = dir.join("crash.journal");
    let pids = dir.join("pids");
    std::fs::create_dir(&pids).unwrap();
    let beat = ["--heartbeat-interval", "200ms", "--heartbeat-grace", "2s"];
    // Runner A: three trials whose commands would run for a minute.
    let hang = format!("echo $$ > {}/$TRIALOG_TRIAL_NUMBER; exec sleep 60", pids.display());
    let mut a_args = vec!["--format", format, "--param", "x=float:0..1", "--param", "n=int:0..9"];
    a_args.extend(["--n-trials", "6", "--workers", "3"]);
    a_args.extend(beat);
    a_args.extend(["--", "sh", "-c", &hang]);
    let mut a = run_cmd(&journal, "crash", &a_args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    wait_for("three running commands", Duration::from_secs(60), || {
        std::fs::read_dir(&pids).map(|d| d.count()).unwrap_or(0) == 3
    });
    a.kill().unwrap(); // SIGKILL: no cleanup at all
    a.wait().unwrap();
    let running = trials(&journal, "crash");
    assert_eq!(count(&running, TrialState::Running), 3);
    // Its commands die with it (the parent-death signal), even though they are in process
    // groups of their own.
    for entry in std::fs::read_dir(&pids).unwrap() {
        let pid: u32 =
            std::fs::read_to_string(entry.unwrap().path()).unwrap().trim().parse().unwrap();
        wait_for("the dead runner's command to die", Duration::from_secs(10), || {
            !process_alive(pid)
        });
    }

    // Runner B: same study, a quick command, one retry per lost trial.
    let mut b_args = vec!["--param", "x=float:0..1", "--param", "n=int:0..9"];
    b_args.extend(["--n-trials", "6", "--workers", "2", "--retries", "1"]);
    b_args.extend(beat);
    b_args.extend(["--", "sh", "-c", "echo {x}"]);
    let out = expect_code(&mut run_cmd(&journal, "crash", &b_args), 0);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("stopped sending heartbeats"), "{stderr}");

    let trials = trials(&journal, "crash");
    assert_eq!(count(&trials, TrialState::Running), 0, "{trials:#?}");
    let failed: Vec<_> = trials.iter().filter(|t| t.state == TrialState::Fail).collect();
    assert_eq!(failed.len(), 3, "the dead runner's trials: {trials:#?}");
    // The budget counts the retries, not the failures they replace: six COMPLETE trials.
    assert_eq!(count(&trials, TrialState::Complete), 6);
    for f in failed {
        let Some(AttrValue::String(reason)) = f.system_attrs.get("fail_reason") else {
            panic!("no fail_reason")
        };
        assert!(reason.starts_with("no heartbeat for"), "{reason}");
        // Not failed before the grace period: its FAIL is dated at least that long after its
        // last heartbeat was written (one host here, so the two clocks agree).
        assert!(reason.contains("grace period") || reason.contains("silent"), "{reason}");
        // No trial lost: each has exactly one retry, COMPLETE, with its parameters.
        let retries: Vec<_> = trials
            .iter()
            .filter(|t| {
                t.system_attrs.get("retry_history")
                    == Some(&AttrValue::Array(vec![AttrValue::Int(f.number as i64)]))
            })
            .collect();
        assert_eq!(retries.len(), 1, "retries of trial {}", f.number);
        let r = retries[0];
        assert_eq!(r.state, TrialState::Complete);
        assert_eq!(r.params, f.params);
        assert_eq!(r.system_attrs.get("failed_trial"), Some(&AttrValue::Int(f.number as i64)));
    }
    journal
}

#[test]
fn a_killed_runner_is_recovered_on_a_trialog_journal() {
    killed_runner_is_recovered(tempdir().path(), "trialog");
}

#[test]
fn a_killed_runner_is_recovered_on_an_optuna_journal() {
    let dir = tempdir();
    let journal = killed_runner_is_recovered(dir.path(), "optuna");
    // Python Optuna replays the file to the same state (heartbeat attributes, retries and all).
    if py_common::have_optuna("a_killed_runner_is_recovered_on_an_optuna_journal") {
        py_common::assert_same_state(&journal);
    }
}
