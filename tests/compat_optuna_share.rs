//! Fairness beside Python: 2 Python Optuna writers and 2 trialog writers optimize one study with
//! zero-time objectives on one Optuna journal for a few seconds (`bench/optuna_share.py`, the
//! measurement itself). Optuna's waiters sleep between attempts while a trialog writer used to
//! take the lock again at once: Python's writers finished 0.1-17% of the trials (median 0.4%,
//! debug build, both lock kinds, load 6 on 2 cores). With trialog's polite mode
//! (`src/lock/polite.rs`) they must finish at least 20% with each kind (the same runs: 36-57%),
//! and trialog at least 10%: neither side may starve the other. A slow disk makes it harder:
//! trialog fsyncs inside its turns, and in CI, beside a build writing to the same disk, Python
//! finished 13% (trialog now leaves a gap after each turn; docs/LOCKING.md). Needs Python Optuna
//! (see `py_common`).

mod py_common;

use std::path::Path;
use std::process::Command;

use py_common::{have_optuna, run_ok};
use trialog::journal::json::{self, JsonValue};

/// The least share of the trials the Python writers must finish.
const MIN_PYTHON_SHARE: f64 = 0.2;
/// The least share of the trials the trialog writers must finish.
const MIN_TRIALOG_SHARE: f64 = 0.1;

fn number(row: &JsonValue, key: &str) -> f64 {
    row.get(key).and_then(JsonValue::as_f64).unwrap_or_else(|| panic!("no {key} in the row"))
}

fn total(row: &JsonValue, key: &str) -> f64 {
    match row.get(key) {
        Some(JsonValue::Array(counts)) => counts.iter().filter_map(JsonValue::as_f64).sum(),
        _ => panic!("no {key} in the row"),
    }
}

#[test]
fn python_and_trialog_writers_each_get_a_real_share_of_the_trials() {
    if !have_optuna("python_and_trialog_writers_each_get_a_real_share_of_the_trials") {
        return;
    }
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("bench/optuna_share.py");
    for lock in ["symlink", "open"] {
        let out = run_ok(
            Command::new("python3")
                .arg(&script)
                .args(["--seconds", "3", "--python", "2", "--trialog", "2", "--lock", lock])
                .args(["--trialog-bin", env!("CARGO_BIN_EXE_trialog")]),
        );
        let line = out.lines().last().expect("one JSON line");
        let row = json::parse(line.as_bytes()).expect("JSON");
        assert!(matches!(row.get("ok"), Some(JsonValue::Bool(true))), "{lock}: file check: {line}");
        let (python, trialog) = (total(&row, "python_trials"), total(&row, "trialog_trials"));
        let share = number(&row, "python_share");
        assert!(
            (MIN_PYTHON_SHARE..=1.0 - MIN_TRIALOG_SHARE).contains(&share),
            "{lock}: Python finished {python} trials, trialog {trialog}: Python's share {share:.3} \
             is outside [{MIN_PYTHON_SHARE}, {}]: {line}",
            1.0 - MIN_TRIALOG_SHARE
        );
    }
}
