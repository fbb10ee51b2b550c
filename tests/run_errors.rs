//! `trialog run` and `trialog enqueue` refuse bad input with a clear one-line error before any
//! trial starts, leaving the journal exactly as it was (or not creating it).
// Unix only: the commands run are Unix tools (`sh`, `true`, `echo`), which Windows lacks; `trialog
// run`'s process tree is tested on both platforms in `sys::proctree`.
#![cfg(unix)]

mod run_common;

use std::path::Path;

use run_common::*;

/// Runs `trialog run` on `journal` with `args`, expecting exit `code` and `message` on stderr.
fn refused(journal: &Path, args: &[&str], code: i32, message: &str) {
    let before = std::fs::read(journal).ok();
    let out = expect_code(&mut run_cmd(journal, "s", args), code);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains(message), "expected {message:?} in:\n{stderr}");
    assert!(out.stdout.is_empty(), "{}", String::from_utf8_lossy(&out.stdout));
    assert_eq!(std::fs::read(journal).ok(), before, "the journal changed");
}

#[test]
fn bad_input_is_refused_before_anything_is_written() {
    let dir = tempdir();
    let fresh = at(&dir, "fresh.journal");
    let x = ["--param", "x=float:0..1"];
    let cases: &[(&[&str], i32, &str)] = &[
        (&["--param", "x=float:0..1", "--", "echo", "{y}"], 1, "unknown placeholder {y}"),
        (&["--param", "x=float:0..1", "--", "echo", "{x"], 1, "unclosed placeholder"),
        (&["--param", "lr=float:1..", "--", "echo"], 1, "malformed --param \"lr=float:1..\""),
        (&["--param", "lr=float:1..0", "--", "echo"], 1, "malformed --param"),
        (&["--param", "o=cat:", "--", "echo"], 1, "an empty choice"),
        (&["--param", "x=float:0..1", "--", "no-such-command-xyz"], 1, "command not found"),
        (&["--param", "x=float:0..1", "--", "./no/such/script.py"], 1, "does not exist"),
        (&["--", "echo"], 1, "no parameters"),
        (&["--param", "x=float:0..1"], 2, "COMMAND"),
        (&["--param", "x=float:0..1", "--sampler", "grid", "--", "echo"], 1, "\"x\" is continuous"),
        (&["--param", "a-b=int:0..1", "--param", "A_B=int:0..1", "--", "echo"], 1, "rename one"),
        (&["--param", "x=float:0..1", "--param", "x=int:0..1", "--", "echo"], 1, "defined twice"),
        (&["--param", "x=float:0..1", "--timeout", "5w", "--", "echo"], 2, "unknown unit"),
    ];
    for (args, code, message) in cases {
        refused(&fresh, args, *code, message);
        assert!(!fresh.exists(), "{args:?} created the journal");
    }
    let bad_space = at(&dir, "space.toml");
    std::fs::write(&bad_space, "[params]\nlr = { type = \"float\", low = 1 }\n").unwrap();
    let space = bad_space.to_str().unwrap();
    refused(&fresh, &["--space", space, "--", "echo"], 1, "params.lr: no \"high\"");
    assert!(!fresh.exists());

    // An existing study: a space incompatible with its trials (Optuna's rule), another
    // direction, or another journal format are refused without writing.
    let journal = at(&dir, "study.journal");
    let mut args = x.to_vec();
    args.extend(["--n-trials", "2", "--", "echo", "{x}"]);
    expect_code(&mut run_cmd(&journal, "s", &args), 0);
    refused(
        &journal,
        &["--param", "x=int:0..3", "--", "echo"],
        1,
        "incompatible with study trial 0",
    );
    refused(&journal, &["--param", "x=float:0.1..1:log", "--", "echo"], 1, "log configuration");
    refused(
        &journal,
        &["--param", "x=float:0..1", "--direction", "maximize", "--", "echo"],
        1,
        "not the requested [Maximize]",
    );
    refused(
        &journal,
        &["--param", "x=float:0..1", "--format", "optuna", "--", "echo"],
        1,
        "is a trialog journal",
    );
    refused(
        &journal,
        &["--param", "x=float:0..1", "--sampler", "grid", "--param", "y=int:0..1", "--", "echo"],
        1,
        "continuous",
    );
    refused(
        &journal,
        &["--param", "y=int:0..1", "--sampler", "grid", "--", "echo"],
        1,
        "not created with --sampler grid",
    );

    // enqueue: a value outside the study's distribution, or a malformed --param.
    let j = journal.to_str().unwrap();
    let before = std::fs::read(&journal).unwrap();
    for (param, message) in [("x=7", "not a value of the study's x"), ("x", "expected NAME=VALUE")]
    {
        let out = expect_code(
            &mut trialog(&["enqueue", "--journal", j, "--study", "s", "--param", param]),
            1,
        );
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(message), "{stderr}");
    }
    assert_eq!(std::fs::read(&journal).unwrap(), before);
}

#[test]
fn garbage_output_fails_only_its_trial() {
    let dir = tempdir();
    let journal = at(&dir, "g.journal");
    let out = expect_code(
        &mut run_cmd(
            &journal,
            "s",
            &["--param", "x=float:0..1", "--n-trials", "2", "--", "echo", "garbage"],
        ),
        0,
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("2 failed") && stdout.contains("no COMPLETE trial"), "{stdout}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("not a result"), "{stderr}");
}
