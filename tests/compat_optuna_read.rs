//! trialog reads every journal Python Optuna writes to exactly the state Optuna's own replay
//! gives (same canonical dump, byte for byte), imports it losslessly, and exports journals that
//! Optuna replays to the same state. Needs Python Optuna (see `py_common`).

mod py_common;

use std::path::Path;
use std::process::Command;

use py_common::*;
use trialog::journal::json;

fn coverage_journal(dir: &Path) -> std::path::PathBuf {
    let path = dir.join("coverage.log");
    run_ok(&mut python("write_coverage.py", &[path.to_str().unwrap()]));
    path
}

#[test]
fn every_op_code_and_value_kind_replays_like_optuna() {
    if !have_optuna("every_op_code_and_value_kind_replays_like_optuna") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let path = coverage_journal(dir.path());
    let text = std::fs::read_to_string(&path).unwrap();
    for code in 0..=10 {
        assert!(text.contains(&format!("{{\"op_code\":{code},")), "no op code {code} in the file");
    }
    for legacy in [
        "\\\"UniformDistribution",
        "LogUniformDistribution",
        "DiscreteUniformDistribution",
        "IntUniformDistribution",
        "IntLogUniformDistribution",
    ] {
        assert!(text.contains(legacy), "no legacy {legacy} in the file");
    }
    let dump = assert_same_state(&path);
    let states = states(&dump);
    assert_eq!(states[2].1, ["COMPLETE", "COMPLETE"], "legacy study");
    let names: Vec<&str> = states.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, ["single ü 😀", "multi", "legacy", "deleted"]);
    let single = &states[0].1;
    for state in ["COMPLETE", "PRUNED", "FAIL", "RUNNING", "WAITING"] {
        assert!(single.iter().any(|s| s == state), "no {state} trial: {single:?}");
    }
    for needle in [
        "Infinity",
        "-Infinity",
        "NaN",
        "FloatDistribution",
        "IntDistribution",
        "CategoricalDistribution",
        "\\\"log\\\": true",
        "\\\"step\\\": 0.25",
        "\\\"step\\\": 3",
        "[null, true, 1, 1.5, \\\"a\\\", \\\"\\\\u00e9 \\\\ud83d\\\\ude00\\\"]",
        "\"enqueued\": true",
        "\"added\": \"yes\"",
    ] {
        assert!(dump.contains(needle), "dump lacks {needle}");
    }
    // Optuna's replay ignored 5 lines (repeated create, update of a finished trial, losing claim,
    // incompatible distribution, missing trial): trialog's too.
    let stats = run_ok(Command::new(env!("CARGO_BIN_EXE_trialog")).arg("stats").arg(&path));
    assert!(stats.contains("operations_ignored: 5\n"), "{stats}");
    // The other read commands work on the Optuna file as well.
    for args in [
        vec!["studies"],
        vec!["trials", "--study", "multi", "--format", "csv"],
        vec!["best", "--study", "single ü 😀"],
        vec!["best", "--study", "multi"],
    ] {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_trialog"));
        cmd.arg(args[0]).arg(&path).args(&args[1..]);
        run_ok(&mut cmd);
    }
}

#[test]
fn import_then_export_replays_to_the_same_state_in_optuna() {
    if !have_optuna("import_then_export_replays_to_the_same_state_in_optuna") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let path = coverage_journal(dir.path());
    let original = assert_same_state(&path);
    let imported = dir.path().join("imported.journal");
    let exported = dir.path().join("exported.log");
    let out = trialog(&["import", path.to_str().unwrap(), imported.to_str().unwrap()]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(std::fs::read(&imported).unwrap().starts_with(b"\x89TRIALOG"));
    assert_eq!(trialog_dump(&imported), original, "import changed the state");
    let out = trialog(&[
        "export",
        "--format",
        "optuna",
        imported.to_str().unwrap(),
        exported.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("(0 trialog extension operations dropped)")
    );
    assert_eq!(assert_same_state(&exported), original, "export changed the state");
    // Lossless: line for line the same operation by the same worker (object keys may come out
    // sorted: trialog's attribute maps are sorted).
    let a = std::fs::read_to_string(&path).unwrap();
    let b = std::fs::read_to_string(&exported).unwrap();
    assert_eq!(a.lines().count(), b.lines().count());
    for (x, y) in a.lines().zip(b.lines()) {
        let (x, y) = (json::parse(x.as_bytes()).unwrap(), json::parse(y.as_bytes()).unwrap());
        assert_eq!(x.get("op_code"), y.get("op_code"));
        assert_eq!(x.get("worker_id"), y.get("worker_id"));
    }
    // Never overwrites.
    let again = trialog(&["import", path.to_str().unwrap(), imported.to_str().unwrap()]);
    assert_eq!(again.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&again.stderr).contains("refusing to overwrite"));
}

#[test]
fn two_concurrent_python_writers() {
    if !have_optuna("two_concurrent_python_writers") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("two.log");
    let p = path.to_str().unwrap();
    let children: Vec<_> = (0..2)
        .map(|seed| python("optimize.py", &[p, "shared", "15", &seed.to_string()]).spawn().unwrap())
        .collect();
    for mut c in children {
        assert!(c.wait().unwrap().success());
    }
    let dump = assert_same_state(&path);
    let states = states(&dump);
    assert_eq!(states.len(), 1);
    assert_eq!(states[0].1, vec!["COMPLETE"; 30]);
}
