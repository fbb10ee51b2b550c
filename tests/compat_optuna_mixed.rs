//! Two Python Optuna processes and two trialog processes optimize one study on one Optuna
//! journal at the same time, excluding each other through Optuna's lock (symlink and open-file
//! kinds): every trial completes, trial numbers are unique and gapless, and trialog and Optuna
//! replay the file to the same state. Needs Python Optuna (see `py_common`).

mod py_common;

use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use py_common::*;
use trialog::backend::OptunaFileOptions;
use trialog::lock::{OptunaLockKind, OptunaLockOptions};
use trialog::study::{RandomSampler, Study};
use trialog::{JournalStorage, StudyDirection};

const STUDY: &str = "mixed";
const TRIALS: usize = 20;
const CHILD_VAR: &str = "TRIALOG_COMPAT_CHILD";

/// One trialog worker: the same objective and distributions as `tests/python/optimize.py`.
fn trialog_worker(path: &str, seed: u64, kind: OptunaLockKind) {
    let options = OptunaFileOptions {
        lock: OptunaLockOptions { kind, ..Default::default() },
        ..Default::default()
    };
    let storage = Arc::new(JournalStorage::open_optuna_with(path, &options).unwrap());
    let sampler = Arc::new(RandomSampler::new(Some(seed)));
    let study =
        Study::create_or_load(storage, STUDY, &[StudyDirection::Minimize], sampler).unwrap();
    let report = study
        .optimize(Some(TRIALS), None, |t| {
            let x = t.suggest_float("x", -5.0, 5.0)?;
            let k = t.suggest_int("k", 0, 3)?;
            t.report(0, x)?;
            t.set_user_attr("writer", "trialog")?;
            Ok((x - 1.0).powi(2) + k as f64)
        })
        .unwrap();
    assert_eq!(report.complete, TRIALS);
}

#[test]
fn two_python_and_two_trialog_writers_share_one_file() {
    if let Ok(spec) = std::env::var(CHILD_VAR) {
        let mut parts = spec.rsplitn(3, '|');
        let kind = match parts.next().unwrap() {
            "open" => OptunaLockKind::OpenFile,
            _ => OptunaLockKind::Symlink,
        };
        let seed = parts.next().unwrap().parse().unwrap();
        trialog_worker(parts.next().unwrap(), seed, kind);
        return;
    }
    if !have_optuna("two_python_and_two_trialog_writers_share_one_file") {
        return;
    }
    for kind in ["symlink", "open"] {
        mixed_run(kind);
    }
}

fn mixed_run(kind: &str) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("mixed.log");
    let p = path.to_str().unwrap().to_owned();
    let started = Instant::now();
    let mut children = Vec::new();
    for seed in 0..2u64 {
        children.push(
            python("optimize.py", &[&p, STUDY, &TRIALS.to_string(), &seed.to_string(), kind])
                .spawn()
                .unwrap(),
        );
        children.push(
            Command::new(std::env::current_exe().unwrap())
                .args([
                    "--exact",
                    "two_python_and_two_trialog_writers_share_one_file",
                    "--nocapture",
                ])
                .env(CHILD_VAR, format!("{p}|{}|{kind}", seed + 10))
                .stdout(std::process::Stdio::null()) // libtest's own lines; failures go to stderr
                .spawn()
                .unwrap(),
        );
    }
    for mut c in children {
        loop {
            if let Some(status) = c.try_wait().unwrap() {
                assert!(status.success(), "a writer failed: {status}");
                break;
            }
            if started.elapsed() > Duration::from_secs(300) {
                let _ = c.kill();
                panic!("a writer hung");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
    let dump = assert_same_state(&path);
    let states = states(&dump);
    assert_eq!(states.len(), 1, "exactly one study despite four concurrent creators");
    // Numbers are the positions in the dump (sorted by number); all COMPLETE, 4 x TRIALS.
    assert_eq!(states[0].1, vec!["COMPLETE"; 4 * TRIALS]);
    for n in 0..4 * TRIALS {
        assert!(dump.contains(&format!("\"number\": {n},")), "number {n} missing");
    }
    assert_eq!(dump.matches("\"writer\": \"python\"").count(), 2 * TRIALS);
    assert_eq!(dump.matches("\"writer\": \"trialog\"").count(), 2 * TRIALS);
    assert!(!std::path::Path::new(&format!("{p}.lock")).exists(), "a lock was left behind");
    eprintln!("mixed writers ({kind} lock): {} trials in {:?}", 4 * TRIALS, started.elapsed());
}
