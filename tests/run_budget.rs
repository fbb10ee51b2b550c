//! `trialog run` with two runners of three workers each on one journal: the shared trial budget
//! is met exactly, every parameter lies in the space, and every child saw its parameters on all
//! three channels (placeholders, environment, JSON file) with the values the journal records.
// Unix only: the commands run are Unix tools (`sh`, `true`, `echo`), which Windows lacks; `trialog
// run`'s process tree is tested on both platforms in `sys::proctree`.
#![cfg(unix)]

mod run_common;

use std::collections::BTreeMap;
use std::process::Stdio;
use std::time::Duration;

use run_common::*;
use trialog::journal::json::{self, JsonValue};
use trialog::runner::channels::value_text;
use trialog::{Distribution, ParamValue, TrialState};

#[test]
fn two_runners_share_the_budget_exactly_and_children_see_every_channel() {
    if !have_python("two_runners_share_the_budget_exactly_and_children_see_every_channel") {
        return;
    }
    let dir = tempdir();
    let journal = at(&dir, "study.journal");
    let records = at(&dir, "records");
    std::fs::create_dir(&records).unwrap();
    let child = script("child.py");
    let args = [
        "--param",
        "x=float:-5..5",
        "--param",
        "n=int:0..4:step=2",
        "--param",
        "opt=cat:adam,sgd,\"two words\"",
        "--n-trials",
        "20",
        "--workers",
        "3",
        "--sampler",
        "random",
        "--heartbeat-interval",
        "200ms",
        "--heartbeat-grace",
        "30s",
        "--",
        "python3",
        &child,
        "--x",
        "{x}",
        "--n",
        "{n}",
        "--opt",
        "{opt}",
    ];
    let spawn = || {
        run_cmd(&journal, "shared", &args)
            .env("RECORD_DIR", &records)
            .env("CHILD_SLEEP", "0.15")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    };
    // The first runner creates the journal; the second starts while the first is running.
    let a = spawn();
    wait_for("the journal", Duration::from_secs(30), || journal.exists());
    let b = spawn();
    for runner in [a, b] {
        let out = runner.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "runner failed: {}\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
    }

    let trials = trials(&journal, "shared");
    let finished: Vec<_> = trials.iter().filter(|t| t.state.is_finished()).collect();
    assert_eq!(finished.len(), 20, "exactly the budget: {trials:#?}");
    assert_eq!(count(&trials, TrialState::Complete), 20);
    assert_eq!(count(&trials, TrialState::Running), 0);

    let x = Distribution::float(-5.0, 5.0, false, None).unwrap();
    let n = Distribution::int(0, 4, false, 2).unwrap();
    let opt =
        Distribution::categorical(vec!["adam".into(), "sgd".into(), "two words".into()]).unwrap();
    for t in &finished {
        for (name, dist) in [("x", &x), ("n", &n), ("opt", &opt)] {
            let v = t.params.get(name).unwrap_or_else(|| panic!("trial {} lacks {name}", t.number));
            assert!(dist.contains(dist.to_internal(v).unwrap()), "{name}={v} outside the space");
        }
        // The child's record: one per finished trial, every channel agreeing with the journal.
        let text = std::fs::read(records.join(format!("{}.json", t.number)))
            .unwrap_or_else(|_| panic!("trial {} has no record", t.number));
        let record = json::parse(&text).unwrap();
        assert_eq!(record.get("trial_id"), Some(&JsonValue::Int(t.trial_id as i64)));
        assert_eq!(record.get("study"), Some(&JsonValue::Str("shared".into())));
        let channel = |c: &str| -> BTreeMap<String, JsonValue> {
            match record.get(c) {
                Some(JsonValue::Object(pairs)) => pairs.iter().cloned().collect(),
                other => panic!("no {c} in the record: {other:?}"),
            }
        };
        let (argv, env, file) = (channel("argv"), channel("env"), channel("file"));
        for (name, value) in t.params.iter() {
            let text = value_text(value);
            assert_eq!(argv.get(&**name), Some(&JsonValue::Str(text.clone())), "argv {name}");
            assert_eq!(env.get(&**name), Some(&JsonValue::Str(text.clone())), "env {name}");
            let typed = match value {
                ParamValue::Float(v) => JsonValue::Float(*v),
                ParamValue::Int(v) => JsonValue::Int(*v),
                ParamValue::Str(s) => JsonValue::Str(s.clone()),
                other => panic!("unexpected {other:?}"),
            };
            assert_eq!(file.get(&**name), Some(&typed), "file {name}");
        }
        // The result is what the child printed last.
        let xv = match t.params.get("x") {
            Some(ParamValue::Float(v)) => *v,
            _ => unreachable!(),
        };
        let nv = match t.params.get("n") {
            Some(ParamValue::Int(v)) => *v as f64,
            _ => unreachable!(),
        };
        assert_eq!(t.value(), Some((xv - 2.0) * (xv - 2.0) + nv));
    }
    // No child ran for a trial that is not finished (a runner that lost the race for the last
    // slot handed its trial back before starting anything).
    let ran = std::fs::read_dir(&records).unwrap().count();
    assert_eq!(ran, 20, "children started: {ran}");

    // Running again with the same budget starts nothing.
    let out = expect_code(run_cmd(&journal, "shared", &args).env("RECORD_DIR", &records), 0);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("ran 0 trial(s)"), "{stdout}");
    assert_eq!(std::fs::read_dir(&records).unwrap().count(), 20);
}

#[test]
fn many_workers_racing_for_a_few_trials_never_overshoot() {
    // 2 runners x 8 workers all look at an empty study at once and find 3 trials of budget
    // left: only the admission check after creating a trial keeps it from starting 16.
    let dir = tempdir();
    let journal = at(&dir, "race.journal");
    let starts = at(&dir, "starts");
    std::fs::create_dir(&starts).unwrap();
    let script = format!("touch {}/$TRIALOG_TRIAL_NUMBER; sleep 0.5; echo {{x}}", starts.display());
    let args = [
        "--param",
        "x=float:0..1",
        "--n-trials",
        "3",
        "--workers",
        "8",
        "--sampler",
        "random",
        "--artifacts",
        "none",
        "--",
        "sh",
        "-c",
        &script,
    ];
    expect_code(
        &mut run_cmd(
            &journal,
            "race",
            &["--param", "x=float:0..1", "--n-trials", "0", "--", "true"],
        ),
        0,
    );
    let spawn = || {
        run_cmd(&journal, "race", &args)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    };
    let (a, b) = (spawn(), spawn());
    for runner in [a, b] {
        let out = runner.wait_with_output().unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    }
    let trials = trials(&journal, "race");
    assert_eq!(count(&trials, TrialState::Complete), 3, "{trials:#?}");
    assert_eq!(count(&trials, TrialState::Running), 0);
    assert_eq!(std::fs::read_dir(&starts).unwrap().count(), 3, "commands started");
    // The trials handed back wait for the next run.
    assert_eq!(trials.len() - 3, count(&trials, TrialState::Waiting));
}

/// The summed run time of `trials`' finished trials.
fn compute(trials: &[std::sync::Arc<trialog::FrozenTrial>]) -> Duration {
    trials
        .iter()
        .filter_map(|t| Some((t.datetime_start?, t.datetime_complete?)))
        .map(|(s, e)| Duration::from_micros((e.as_micros() - s.as_micros()) as u64))
        .sum()
}

#[test]
fn the_compute_budget_is_shared_and_the_timeout_is_per_run() {
    let dir = tempdir();
    let journal = at(&dir, "compute.journal");
    let args = [
        "--param",
        "x=float:0..1",
        "--max-compute",
        "3s",
        "--workers",
        "2",
        "--artifacts",
        "none",
        "--",
        "sh",
        "-c",
        "sleep 0.3; echo {x}",
    ];
    expect_code(
        &mut run_cmd(&journal, "c", &["--param", "x=float:0..1", "--n-trials", "0", "--", "true"]),
        0,
    );
    let spawn = || {
        run_cmd(&journal, "c", &args).stdout(Stdio::piped()).stderr(Stdio::null()).spawn().unwrap()
    };
    let (a, b) = (spawn(), spawn());
    for runner in [a, b] {
        let out = runner.wait_with_output().unwrap();
        assert!(out.status.success());
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(stdout.contains("compute budget (--max-compute) is spent"), "{stdout}");
    }
    let t = trials(&journal, "c");
    let spent = compute(&t);
    // Spent, and overshot by at most the trials that were running (4 workers, ~0.3 s each,
    // plus process start-up on a loaded machine).
    assert!(spent >= Duration::from_secs(3), "{spent:?}");
    assert!(spent < Duration::from_secs(3) + Duration::from_millis(4 * 900), "{spent:?}");

    // --timeout: this run's wall clock; the study goes on from where it was.
    let before = t.len();
    let start = std::time::Instant::now();
    let out = expect_code(
        &mut run_cmd(
            &journal,
            "c",
            &[
                "--param",
                "x=float:0..1",
                "--timeout",
                "1s",
                "--artifacts",
                "none",
                "--",
                "sh",
                "-c",
                "sleep 0.3; echo {x}",
            ],
        ),
        0,
    );
    let took = start.elapsed();
    assert!(String::from_utf8_lossy(&out.stdout).contains("time (--timeout) is up"));
    assert!(took < Duration::from_secs(5), "{took:?}");
    let after = trials(&journal, "c").len();
    assert!(after > before, "the timed run added trials");
}
