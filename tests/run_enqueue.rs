//! `trialog enqueue` and `trialog top` with `trialog run`: enqueued trials run first, each once; in
//! a finite space a parameter set that already ran is not run again, and the run stops once
//! every point has run; `top` prints the best trials as a table or JSON.
// Unix only: the commands run are Unix tools (`sh`, `true`, `echo`), which Windows lacks; `trialog
// run`'s process tree is tested on both platforms in `sys::proctree`.
#![cfg(unix)]

mod run_common;

use std::collections::BTreeSet;

use run_common::*;
use trialog::journal::json::{self, JsonValue};
use trialog::{AttrValue, ParamValue, TrialState};

#[test]
fn enqueued_trials_run_first_and_finite_spaces_skip_what_already_ran() {
    let dir = tempdir();
    let journal = at(&dir, "q.journal");
    let j = journal.to_str().unwrap();
    let starts = at(&dir, "starts");
    std::fs::create_dir(&starts).unwrap();
    let enqueue = |params: &[&str], extra: &[&str]| {
        let mut args = vec!["enqueue", "--journal", j, "--study", "q", "--direction", "maximize"];
        for p in params {
            args.extend(["--param", p]);
        }
        args.extend(extra);
        let out = expect_code(&mut trialog(&args), 0);
        String::from_utf8(out.stdout).unwrap()
    };
    assert!(enqueue(&["x=2", "opt=b"], &[]).contains("enqueued trial 0"));
    assert!(enqueue(&["x=0", "opt=a"], &[]).contains("enqueued trial 1"));
    // The command counts its runs and scores x + (opt == b).
    let script = format!(
        "touch {}/$TRIALOG_TRIAL_NUMBER; if [ {{opt}} = b ]; then echo $(({{x}} + 1)); else echo {{x}}; fi",
        starts.display()
    );
    let space = ["--param", "x=int:0..2", "--param", "opt=cat:a,b", "--workers", "1"];
    let run = |n: &str| {
        let mut args = space.to_vec();
        args.extend(["--n-trials", n, "--", "sh", "-c", &script]);
        expect_code(&mut run_cmd(&journal, "q", &args), 0)
    };
    run("2");
    let t = trials(&journal, "q");
    assert_eq!(t.len(), 2);
    assert_eq!(t[0].params.get("x"), Some(&ParamValue::Int(2)));
    assert_eq!(t[0].params.get("opt"), Some(&ParamValue::Str("b".into())));
    assert_eq!((t[0].state, t[0].value()), (TrialState::Complete, Some(3.0)));
    assert_eq!(t[1].params.get("x"), Some(&ParamValue::Int(0)));
    assert_eq!(t[1].value(), Some(0.0));

    // The same parameters again: `--skip-if-exists` does not enqueue them; without it they are
    // enqueued, and the runner completes them with trial 0's value without running anything.
    assert!(enqueue(&["x=2", "opt=b"], &["--skip-if-exists"]).contains("skipped: trial 0"));
    enqueue(&["x=2", "opt=b"], &[]);
    run("3");
    let t = trials(&journal, "q");
    assert_eq!(t.len(), 3);
    assert_eq!((t[2].state, t[2].value()), (TrialState::Complete, Some(3.0)));
    assert_eq!(t[2].system_attrs.get("trialog:duplicate_of"), Some(&AttrValue::Int(0)));
    assert_eq!(std::fs::read_dir(&starts).unwrap().count(), 2, "the duplicate ran");

    // A large budget on the 6-point space: the run stops once every point has run.
    let out = run("100");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("Stopped: the search space is exhausted"), "{stdout}");
    let t = trials(&journal, "q");
    let points: BTreeSet<String> = t
        .iter()
        .filter(|t| t.state == TrialState::Complete)
        .map(|t| format!("{:?}", t.params))
        .collect();
    assert_eq!(points.len(), 6);
    let ran = std::fs::read_dir(&starts).unwrap().count();
    assert_eq!(ran, 6, "each point's command ran exactly once");

    // `top`: the best first (maximize), as a table and as JSON.
    let out = expect_code(&mut trialog(&["top", j, "--study", "q", "-k", "2"]), 0);
    let text = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert!(lines[0].starts_with("rank  trial  value  duration"), "{text}");
    assert!(lines[1].starts_with("1     0      3.0"), "{text}");
    assert_eq!(lines.len(), 3);
    let out = expect_code(&mut trialog(&["top", j, "--study", "q", "-k", "3", "--json"]), 0);
    let doc = json::parse(&out.stdout).unwrap();
    let JsonValue::Array(rows) = doc else { panic!("not an array") };
    assert_eq!(rows.len(), 3);
    assert_eq!(rows[0].get("values"), Some(&JsonValue::Array(vec![JsonValue::Float(3.0)])));
    assert_eq!(rows[0].get("rank"), Some(&JsonValue::Int(1)));
    let values: Vec<f64> = rows
        .iter()
        .map(|r| {
            r.get("values")
                .and_then(|v| match v {
                    JsonValue::Array(a) => a[0].as_f64(),
                    _ => None,
                })
                .unwrap()
        })
        .collect();
    assert!(values.windows(2).all(|w| w[0] >= w[1]), "{values:?}");
}
