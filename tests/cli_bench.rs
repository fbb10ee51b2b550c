//! The `trialog bench` workloads, run through the real binary with tiny sizes: each prints one
//! JSON line with the keys of `shared/bench/bench.py` and sane values.

use std::path::Path;
use std::process::{Command, Output};

fn trialog(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_trialog")).args(args).output().expect("run trialog")
}

/// Runs a workload that must succeed and returns its single output line.
fn bench(args: &[&str]) -> String {
    let mut all = vec!["bench"];
    all.extend_from_slice(args);
    let out = trialog(&all);
    let stdout = String::from_utf8(out.stdout).expect("utf-8 stdout");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "trialog {all:?} failed: {stderr}\n{stdout}");
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 1, "expected one line from {all:?}, got {stdout:?}");
    let line = lines[0].to_owned();
    assert!(line.starts_with('{') && line.ends_with('}'), "not a JSON object: {line}");
    line
}

/// The raw JSON text of `key`'s value in a flat object (arrays included).
fn raw<'a>(line: &'a str, key: &str) -> &'a str {
    let tag = format!("\"{key}\": ");
    let start = line.find(&tag).unwrap_or_else(|| panic!("no key {key:?} in {line}")) + tag.len();
    let rest = &line[start..];
    let end = if rest.starts_with('[') {
        rest.find(']').expect("closed array") + 1
    } else {
        rest.find([',', '}']).expect("value end")
    };
    &rest[..end]
}

fn num(line: &str, key: &str) -> f64 {
    let text = raw(line, key);
    text.parse().unwrap_or_else(|_| panic!("{key} = {text} is not a number in {line}"))
}

fn positive(line: &str, keys: &[&str]) {
    for key in keys {
        let v = num(line, key);
        assert!(v.is_finite() && v > 0.0, "{key} = {v} in {line}");
    }
}

fn s(path: &Path) -> &str {
    path.to_str().expect("utf-8 temp path")
}

#[test]
fn w1_appends_and_reports_rates() {
    let dir = tempfile::tempdir().unwrap();
    let journal = dir.path().join("w1.journal");
    let line = bench(&["w1", "--n", "50", "--journal", s(&journal)]);
    assert_eq!(raw(&line, "w"), "\"w1\"");
    assert_eq!(raw(&line, "backend"), "\"trialog\"");
    assert_eq!(raw(&line, "lock"), "\"advisory\"");
    assert_eq!(num(&line, "n_trials"), 50.0);
    assert_eq!(num(&line, "ops"), 250.0);
    positive(&line, &["seconds", "ops_per_s", "trials_per_s", "us_per_op", "file_bytes"]);
    let ratio = num(&line, "ops_per_s") / num(&line, "trials_per_s");
    assert!((ratio - 5.0).abs() < 1e-9, "{line}");
    assert_eq!(num(&line, "file_bytes"), journal.metadata().unwrap().len() as f64);
}

#[test]
fn w2_build_then_cold_replay() {
    let dir = tempfile::tempdir().unwrap();
    let journal = dir.path().join("j200.journal");
    let built = bench(&["w2-build", "--n", "200", "--journal", s(&journal)]);
    assert_eq!(num(&built, "n_trials"), 200.0);
    assert_eq!(num(&built, "records"), 1001.0);
    assert_eq!(num(&built, "file_bytes"), journal.metadata().unwrap().len() as f64);
    positive(&built, &["build_seconds"]);

    let line = bench(&["w2", "--journal", s(&journal), "--n", "200"]);
    assert_eq!(raw(&line, "w"), "\"w2\"");
    assert_eq!(num(&line, "n_trials"), 200.0);
    assert_eq!(num(&line, "file_bytes"), num(&built, "file_bytes"));
    positive(&line, &["seconds", "open_s", "trials_per_s", "mib_per_s", "rss_peak_mib"]);
    assert!(num(&line, "get_all_s") >= 0.0);
    assert!(num(&line, "rss_peak_mib") >= num(&line, "rss_before_mib"));
    assert!(num(&line, "seconds") >= num(&line, "open_s"));

    assert_eq!(raw(&line, "format"), "\"trialog\"");

    // A wrong expected count is an error, not a result.
    let out = trialog(&["bench", "w2", "--journal", s(&journal), "--n", "7"]);
    assert!(!out.status.success());
    assert!(out.stdout.is_empty());

    // The same trials as an Optuna JSON-lines journal (what the peers replay).
    let optuna = dir.path().join("j200.log");
    let out = trialog(&["export", "--format", "optuna", s(&journal), s(&optuna)]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let line = bench(&["w2", "--format", "optuna", "--journal", s(&optuna), "--n", "200"]);
    assert_eq!(raw(&line, "format"), "\"optuna\"");
    assert_eq!(num(&line, "n_trials"), 200.0);
    assert_eq!(num(&line, "file_bytes"), optuna.metadata().unwrap().len() as f64);
    // A trialog journal is not an Optuna one.
    let out = trialog(&["bench", "w2", "--format", "optuna", "--journal", s(&journal)]);
    assert!(!out.status.success());
}

#[test]
fn w2_reports_its_own_peak_memory_not_its_parents() {
    //! Linux carries `ru_maxrss` over `execve` from the parent's address space: a bench started
    //! from a big process must still report its own (small) peak.
    let dir = tempfile::tempdir().unwrap();
    let journal = dir.path().join("j0.journal");
    bench(&["w2-build", "--n", "0", "--journal", s(&journal)]);
    let big = std::hint::black_box(vec![1u8; 300 << 20]); // touched: resident in this process
    let line = bench(&["w2", "--journal", s(&journal), "--n", "0"]);
    drop(big);
    let peak = num(&line, "rss_peak_mib");
    assert!(peak > 0.0 && peak < 100.0, "the child reported {peak} MiB: {line}");
}

#[test]
fn w3_real_processes_write_every_trial_once() {
    let dir = tempfile::tempdir().unwrap();
    let journal = dir.path().join("w3.journal");
    let line = bench(&["w3", "--procs", "3", "--n", "20", "--journal", s(&journal)]);
    assert_eq!(raw(&line, "w"), "\"w3\"");
    assert_eq!(raw(&line, "ok"), "true", "{line}");
    assert_eq!(raw(&line, "numbers_unique_0_to_n"), "true");
    assert_eq!(num(&line, "procs"), 3.0);
    assert_eq!(num(&line, "trials_per_proc"), 20.0);
    assert_eq!(num(&line, "n_trials_read"), 60.0);
    assert_eq!(num(&line, "n_complete"), 60.0);
    positive(&line, &["seconds", "trials_per_s", "ops_per_s", "file_bytes"]);
    assert!(num(&line, "slowest_over_fastest") >= 1.0, "{line}");
    let workers = raw(&line, "worker_seconds");
    assert_eq!(workers.split(',').count(), 3, "{workers}");
    // No go-file directory is left behind.
    let left: Vec<_> =
        std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert!(left.iter().all(|n| !n.to_string_lossy().contains("w3sync")), "{left:?}");
}

#[test]
fn w4_times_round_trips_on_a_loaded_journal() {
    let dir = tempfile::tempdir().unwrap();
    let journal = dir.path().join("j200.journal");
    bench(&["w2-build", "--n", "200", "--journal", s(&journal)]);
    let before = std::fs::read(&journal).unwrap();
    let line = bench(&["w4", "--n", "200", "--k", "5", "--journal", s(&journal)]);
    assert_eq!(raw(&line, "w"), "\"w4\"");
    assert_eq!(num(&line, "n_trials_loaded"), 200.0);
    assert_eq!(num(&line, "k"), 5.0);
    positive(&line, &["load_s", "seconds", "us_median", "us_min", "us_best", "us_max", "us_first"]);
    assert!(num(&line, "us_min") <= num(&line, "us_median"));
    assert!(num(&line, "us_median") <= num(&line, "us_max"));
    // The source journal is untouched and the scratch copy is gone.
    assert_eq!(std::fs::read(&journal).unwrap(), before);
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);

    // N = 0 without a source file: an empty journal with one study.
    let empty = dir.path().join("none.journal");
    let line = bench(&["w4", "--n", "0", "--k", "5", "--journal", s(&empty)]);
    assert_eq!(num(&line, "n_trials_loaded"), 0.0);
    positive(&line, &["us_median"]);
}

#[test]
fn user_mistakes_print_one_line_and_fail() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("missing.journal");
    let out = trialog(&["bench", "w2", "--journal", s(&missing)]);
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty());
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.starts_with(&format!("trialog: {}: ", missing.display())), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");

    let garbage = dir.path().join("garbage.journal");
    std::fs::write(&garbage, b"this is not a journal at all, just some text\n").unwrap();
    let out = trialog(&["bench", "w2", "--journal", s(&garbage)]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.starts_with("trialog: "), "{stderr}");
    assert!(stderr.contains(&garbage.display().to_string()), "{stderr}");
}

#[test]
fn serve_measures_durable_writes_and_reads_and_cleans_up() {
    let dir = tempfile::tempdir().unwrap();
    let args =
        ["bench", "serve", "--seconds", "0.5", "--callers", "4", "--connections", "2", "--dir"];
    let out = trialog(&[&args[..], &[s(dir.path())]].concat());
    let stdout = String::from_utf8(out.stdout).expect("utf-8 stdout");
    assert!(out.status.success(), "{}\n{stdout}", String::from_utf8_lossy(&out.stderr));
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 3, "{stdout}");
    assert_eq!(raw(lines[0], "phase"), "\"disk\"");
    positive(lines[0], &["single_writer_fdatasync_per_s"]);
    for (line, phase) in lines[1..].iter().zip(["durable_writes", "get_trial_reads"]) {
        assert_eq!(raw(line, "phase"), format!("\"{phase}\""));
        assert_eq!(num(line, "callers"), 4.0);
        assert_eq!(num(line, "connections"), 2.0);
        positive(line, &["calls", "per_s", "p50_ms", "p99_ms"]);
        assert!(num(line, "p50_ms") <= num(line, "p99_ms"), "{line}");
    }
    let ratio = num(lines[1], "per_s") / num(lines[0], "single_writer_fdatasync_per_s");
    assert!((num(lines[1], "ratio_to_single_writer_fdatasync") - ratio).abs() < 1e-6 * ratio);
    // The server is gone and its journal with it.
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
}
