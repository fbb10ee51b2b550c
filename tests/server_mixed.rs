//! One `trialog serve` on an Optuna-format journal, and every kind of worker on the same study at
//! once: 4 Python processes through Optuna's `GrpcStorageProxy`, 2 Python processes writing the
//! journal directly with Optuna's `JournalStorage` (and its lock), and 1 Rust worker through
//! `trialog::remote::GrpcStorage`. Every trial ends COMPLETE, the trial numbers are unique and
//! gapless, each enqueued trial is run exactly once, and the server, a fresh trialog replay of the
//! file and Python's own replay of it are identical. Needs Python Optuna (see `py_common`).
#![cfg(all(feature = "grpc", unix))] // the server helper stops it with `kill -TERM`

mod py_common;
mod server_common;

use std::collections::BTreeMap;
use std::process::Stdio;
use std::sync::{Arc, Mutex};

use py_common::{assert_same_state, have_optuna, python, states};
use server_common::{Server, dump};
use trialog::journal::json::{self, JsonValue};
use trialog::remote::GrpcStorage;
use trialog::study::{create_study, load_study};
use trialog::{Distribution, StudyDirection};

const PER_WORKER: usize = 8;
const ENQUEUED: [f64; 6] = [0.125, 0.25, 0.375, 0.5, 0.625, 0.75];

/// The `[number, x]` pairs a worker printed.
fn evaluated(out: &str) -> Vec<(u64, f64)> {
    let line = out.lines().last().expect("one JSON line");
    let v = json::parse(line.as_bytes()).expect("JSON");
    let Some(JsonValue::Array(rows)) = v.get("evaluated") else { panic!("no evaluated: {line}") };
    rows.iter()
        .map(|r| match r {
            JsonValue::Array(p) => (p[0].as_f64().unwrap() as u64, p[1].as_f64().unwrap()),
            _ => panic!("bad row {r:?}"),
        })
        .collect()
}

#[test]
fn python_proxy_python_direct_and_rust_remote_workers_share_one_served_study() {
    if !have_optuna("python_proxy_python_direct_and_rust_remote_workers_share_one_served_study") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let journal = dir.path().join("mixed.log");
    let server = Server::start(&journal, &["--format", "optuna"]);
    let storage = Arc::new(GrpcStorage::connect(&server.url).unwrap());
    let study =
        create_study(Arc::clone(&storage), Some("mixed"), &[StudyDirection::Minimize]).unwrap();
    let x = Distribution::float(-5.0, 5.0, false, None).unwrap();
    for v in ENQUEUED {
        study.enqueue_trial(&[("x", v.into(), x.clone())]).unwrap();
    }

    let journal_arg = journal.to_str().unwrap().to_owned();
    let mut children = Vec::new();
    for seed in 0..4 {
        let args = ["proxy", server.port(), "mixed", &PER_WORKER.to_string(), &seed.to_string()];
        children.push(python("server_worker.py", &args).stdout(Stdio::piped()).spawn().unwrap());
    }
    for seed in 4..6 {
        let args = ["direct", &journal_arg, "mixed", &PER_WORKER.to_string(), &seed.to_string()];
        children.push(python("server_worker.py", &args).stdout(Stdio::piped()).spawn().unwrap());
    }
    // The Rust worker, in this process, through the server.
    let rust_evaluated = Arc::new(Mutex::new(Vec::new()));
    let rust = {
        let storage = Arc::clone(&storage);
        let seen = Arc::clone(&rust_evaluated);
        std::thread::spawn(move || {
            let study = load_study(storage, "mixed").unwrap();
            let report = study
                .optimize(Some(PER_WORKER), None, |t| {
                    let x = t.suggest_float("x", -5.0, 5.0)?;
                    t.report(0, x)?;
                    t.set_user_attr("writer", "rust-remote")?;
                    seen.lock().unwrap().push((t.number(), x));
                    Ok((x - 1.0).powi(2))
                })
                .unwrap();
            assert_eq!(report.complete, PER_WORKER);
        })
    };
    let mut all: Vec<(u64, f64)> = Vec::new();
    for child in children {
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success(), "a Python worker failed");
        all.extend(evaluated(&String::from_utf8(out.stdout).unwrap()));
    }
    rust.join().expect("the Rust worker");
    all.extend(rust_evaluated.lock().unwrap().iter().copied());

    // Numbers unique and gapless, across all 7 workers.
    let total = 7 * PER_WORKER;
    let mut numbers: Vec<u64> = all.iter().map(|(n, _)| *n).collect();
    numbers.sort_unstable();
    assert_eq!(numbers, (0..total as u64).collect::<Vec<_>>(), "numbers unique and gapless");
    // Each enqueued trial evaluated exactly once.
    let mut runs: BTreeMap<u64, usize> = BTreeMap::new();
    for (_, x) in &all {
        if let Some(i) = ENQUEUED.iter().position(|v| v == x) {
            *runs.entry(i as u64).or_default() += 1;
        }
    }
    assert_eq!(runs, (0..ENQUEUED.len() as u64).map(|i| (i, 1)).collect(), "enqueued runs");

    // All views identical: the server, a fresh trialog replay, Python's replay.
    let answered = dump(&server.grpc());
    assert!(server.stop().success());
    let replayed = assert_same_state(&journal);
    assert_eq!(replayed, answered, "the server and a fresh replay of its journal differ");
    let studies = states(&replayed);
    assert_eq!(studies.len(), 1);
    assert_eq!(studies[0].1.len(), total);
    assert!(studies[0].1.iter().all(|s| s == "COMPLETE"), "{:?}", studies[0].1);
}
