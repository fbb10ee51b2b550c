//! `trialog artifacts` on a trialog journal and a directory store: what each subcommand prints,
//! and what it refuses (a finished trial, an existing --out, damaged bytes, a missing store).

mod artifacts_common;

use std::fs;
use std::path::Path;

use artifacts_common::{trialog, trialog_ok};
use trialog::{JournalStorage, StudyDirection, TrialState};

/// A journal with study "s": trial 0 RUNNING, trial 1 COMPLETE.
fn journal(path: &Path) {
    let storage = JournalStorage::open(path).unwrap();
    let study = storage.create_new_study(&[StudyDirection::Minimize], Some("s")).unwrap();
    storage.create_new_trial(study, None).unwrap();
    let done = storage.create_new_trial(study, None).unwrap();
    storage.set_trial_state_values(done, TrialState::Complete, Some(&[1.0])).unwrap();
}

fn stderr_of(args: &[&str]) -> (Option<i32>, String) {
    let out = trialog(args);
    (out.status.code(), String::from_utf8_lossy(&out.stderr).into_owned())
}

#[test]
fn put_list_get_verify_rm_round_trip_with_refusals() {
    let dir = tempfile::tempdir().unwrap();
    let jp = dir.path().join("j.journal");
    journal(&jp);
    let j = jp.to_str().unwrap();
    let sp = dir.path().join("new/store");
    let s = sp.to_str().unwrap();
    let file = dir.path().join("weights.bin");
    fs::write(&file, b"0123456789").unwrap();
    let f = file.to_str().unwrap();

    // A read command does not create a store that is not there.
    let (code, err) = stderr_of(&["artifacts", "verify", j, "--store", s]);
    assert_eq!(code, Some(1));
    assert!(err.contains("is not an artifact store directory"), "{err}");

    // A finished trial is refused, and nothing is stored.
    let (code, err) =
        stderr_of(&["artifacts", "put", j, "--store", s, "--study", "s", "--trial", "1", f]);
    assert_eq!(code, Some(1));
    assert!(err.contains("has already finished as COMPLETE"), "{err}");
    assert_eq!(fs::read_dir(&sp).map(|d| d.count()).unwrap_or(0), 0);

    let id = trialog_ok(&["artifacts", "put", j, "--store", s, "--study", "s", "--trial", "0", f]);
    let id = id.trim();
    assert_eq!(fs::read(sp.join(id)).unwrap(), b"0123456789");
    let list = trialog_ok(&["artifacts", "list", j, "--study", "s", "--trial", "0", "--store", s]);
    assert!(
        list.contains(&format!("{id}  trial #0  10    application/octet-stream  weights.bin  yes")),
        "{list}"
    );
    assert_eq!(
        trialog_ok(&["artifacts", "list", j, "--study", "s", "--trial", "1"]),
        "no artifacts\n"
    );

    // get writes only --out, and replaces it only with --force.
    let out = dir.path().join("out.bin");
    fs::write(&out, b"mine").unwrap();
    let o = out.to_str().unwrap();
    let (code, err) = stderr_of(&["artifacts", "get", j, "--store", s, id, "--out", o]);
    assert_eq!(code, Some(1));
    assert!(err.contains("already exists; nothing was written (--force replaces it)"), "{err}");
    assert_eq!(fs::read(&out).unwrap(), b"mine");
    let got = trialog_ok(&["artifacts", "get", j, "--store", s, id, "--out", o, "--force"]);
    assert_eq!(got, format!("{o}: 10 bytes\n"));
    assert_eq!(fs::read(&out).unwrap(), b"0123456789");
    let got = trialog_ok(&[
        "artifacts",
        "get",
        j,
        "--store",
        s,
        id,
        "--out",
        o,
        "--force",
        "--verify",
        "--sync",
    ]);
    assert!(got.starts_with(&format!("{o}: 10 bytes, sha256 84d89877")), "{got}");
    assert_eq!(fs::read(&out).unwrap(), b"0123456789");

    // Damaged bytes: verify reports them, get refuses them.
    assert!(
        trialog_ok(&["artifacts", "verify", j, "--store", s]).contains("all present and matching")
    );
    fs::write(sp.join(id), b"0123456780").unwrap();
    let report = trialog(&["artifacts", "verify", j, "--store", s]);
    assert_eq!(report.status.code(), Some(1));
    let text = String::from_utf8_lossy(&report.stdout);
    assert!(
        text.contains(&format!("PROBLEM: artifact {id} (study 0 trial #0) has SHA-256")),
        "{text}"
    );
    assert!(
        trialog_ok(&["artifacts", "verify", j, "--store", s, "--quick"]).contains("all present")
    );
    // get checks the size always and the SHA-256 with --verify.
    let fresh = dir.path().join("fresh.bin");
    let f = fresh.to_str().unwrap();
    let (code, err) = stderr_of(&["artifacts", "get", j, "--store", s, id, "--out", f, "--verify"]);
    assert_eq!(code, Some(1));
    assert!(err.contains("the stored bytes have SHA-256"), "{err}");
    assert!(!fresh.exists());
    trialog_ok(&["artifacts", "get", j, "--store", s, id, "--out", f]);
    assert_eq!(fs::read(&fresh).unwrap(), b"0123456780");
    fs::remove_file(&fresh).unwrap();
    fs::write(sp.join(id), b"012345678").unwrap();
    let (code, err) = stderr_of(&["artifacts", "get", j, "--store", s, id, "--out", f]);
    assert_eq!(code, Some(1));
    assert!(err.contains("size"), "{err}");
    assert!(!fresh.exists());

    // rm tombstones the link and removes the bytes; the id is then unknown.
    assert_eq!(
        trialog_ok(&["artifacts", "rm", j, "--store", s, id]),
        format!("removed artifact {id}\n")
    );
    assert!(!sp.join(id).exists());
    let (code, err) = stderr_of(&["artifacts", "rm", j, "--store", s, id]);
    assert_eq!(code, Some(1));
    assert!(err.contains(&format!("no study or trial links artifact {id}")), "{err}");

    let (code, err) = stderr_of(&["artifacts", "list", j, "--study", "nope"]);
    assert_eq!(code, Some(1));
    assert!(err.contains("no study named \"nope\""), "{err}");
    let (code, err) =
        stderr_of(&["artifacts", "gc", j, "--store", s, "--s3-endpoint", "http://127.0.0.1:1"]);
    assert_eq!(code, Some(1));
    assert!(err.contains("--s3-endpoint needs an s3://"), "{err}");
}
