//! Artifact faults with real components: an upload killed mid-transfer (filesystem and S3), an
//! S3 server stopped during an upload, ids that try to be paths, and large artifacts (1 GiB on
//! the filesystem, 256 MiB on S3) streamed through a process whose own peak memory is measured.

mod artifacts_common;

use std::fs;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use artifacts_common::{
    Generated, Moto, Reports, have_moto, report, role, spawn_self, trialog, trialog_ok,
};
use trialog::artifacts::{
    self, ArtifactId, ArtifactStore, Backoff, DownloadOptions, FileSystemStore, S3Store,
    StoredKind, Target,
};
use trialog::{AttrValue, Error, JournalStorage, StudyDirection};

const JOURNAL_VAR: &str = "TRIALOG_ARTIFACT_JOURNAL";
const STORE_VAR: &str = "TRIALOG_ARTIFACT_STORE";
const ENDPOINT_VAR: &str = "TRIALOG_ARTIFACT_ENDPOINT";

/// A trialog journal with study "s" and one RUNNING trial; returns (study id, trial id).
fn journal_with_trial(path: &Path) -> (u64, u64) {
    let storage = JournalStorage::open(path).unwrap();
    let study = storage.create_new_study(&[StudyDirection::Minimize], Some("s")).unwrap();
    (study, storage.create_new_trial(study, None).unwrap())
}

/// The child of the kill tests: uploads 64 MiB to trial 0, reports when 24 MiB were read, and
/// then blocks inside the upload until it is killed (or, should the parent be gone, exits after
/// two minutes).
fn upload_until_killed(store: &dyn ArtifactStore) {
    let storage = JournalStorage::open(std::env::var(JOURNAL_VAR).unwrap()).unwrap();
    let mut body = Generated::new(64 << 20).on_reaching(24 << 20, || {
        report("midway");
        std::thread::sleep(Duration::from_secs(120));
        std::process::exit(3);
    });
    let trial = Target::Trial(0);
    let _ =
        artifacts::upload_artifact_from(&storage, store, trial, "ckpt.bin", &mut body, None, None);
    panic!("the upload finished: the parent did not kill this process");
}

/// Starts the child, waits for its "midway" report and kills it (SIGKILL).
fn kill_midway(test: &str, role: &str, envs: &[(&str, &str)]) {
    let mut child = spawn_self(test, role, envs);
    let mut reports = Reports::of(&mut child);
    assert_eq!(reports.next(), "midway");
    child.kill().unwrap();
    assert!(!child.wait().unwrap().success());
}

#[test]
fn upload_killed_mid_transfer_leaves_no_link_and_gc_collects_the_leftover() {
    if role().as_deref() == Some("upload") {
        let store = FileSystemStore::new(std::env::var(STORE_VAR).unwrap()).unwrap();
        return upload_until_killed(&store);
    }
    let dir = tempfile::tempdir().unwrap();
    let journal = dir.path().join("j.journal");
    let (study, trial) = journal_with_trial(&journal);
    assert_eq!(trial, 0);
    let store_dir = dir.path().join("store");
    let name = "upload_killed_mid_transfer_leaves_no_link_and_gc_collects_the_leftover";
    kill_midway(
        name,
        "upload",
        &[(JOURNAL_VAR, journal.to_str().unwrap()), (STORE_VAR, store_dir.to_str().unwrap())],
    );

    // No link; in the store only the hidden leftover, no artifact under any id.
    let storage = JournalStorage::open(&journal).unwrap();
    assert!(artifacts::list_all_links(&storage).unwrap().is_empty());
    assert!(storage.get_trial_system_attrs(trial).unwrap().is_empty());
    let store = FileSystemStore::new(&store_dir).unwrap();
    let entries = store.list().unwrap();
    let [entry] = &entries[..] else { panic!("{entries:?}") };
    let StoredKind::Partial(leftover) = &entry.kind else { panic!("{entry:?}") };
    assert!(entry.info.size > 0);

    // Within the grace period gc keeps it (an upload may still be running); after, it goes.
    let (j, s) = (journal.to_str().unwrap(), store_dir.to_str().unwrap());
    let out = trialog_ok(&["artifacts", "gc", j, "--store", s]);
    assert!(
        out.contains("kept 0 linked artifacts and 1 unlinked object younger than 3600s"),
        "{out}"
    );
    let out = trialog_ok(&["artifacts", "gc", j, "--store", s, "--grace", "0s"]);
    assert!(out.contains(&format!("removed interrupted upload {leftover}")), "{out}");
    assert_eq!(fs::read_dir(&store_dir).unwrap().count(), 0);

    // A crash between the bytes and the link leaves a complete, unlinked artifact: gc takes it
    // too, and keeps what is linked.
    let orphan = ArtifactId::new();
    store.put(&orphan, &mut Generated::new(1000)).unwrap();
    let linked = artifacts::upload_artifact_from(
        &storage,
        &store,
        Target::Study(study),
        "kept.bin",
        &mut Generated::new(10),
        None,
        None,
    )
    .unwrap();
    let out = trialog_ok(&["artifacts", "gc", j, "--store", s, "--grace", "0s"]);
    assert!(out.contains(&format!("removed unlinked artifact {orphan} (1000 bytes)")), "{out}");
    assert!(!store.exists(&orphan).unwrap());
    assert!(store.exists(&linked.artifact_id).unwrap());
}

/// An S3 store on moto for a child, from the environment the parent set.
fn child_s3_store() -> S3Store {
    let endpoint = std::env::var(ENDPOINT_VAR).unwrap();
    let mut c = trialog::artifacts::S3Config::from_url("s3://kill").unwrap();
    c.from_env = false;
    c.endpoint = Some(endpoint);
    c.region = Some("us-east-1".into());
    c.credentials = Some((artifacts_common::KEY.into(), artifacts_common::KEY.into()));
    S3Store::new(&c).unwrap()
}

#[test]
fn s3_upload_killed_mid_transfer_leaves_no_object_and_no_link() {
    if role().as_deref() == Some("upload") {
        return upload_until_killed(&child_s3_store());
    }
    let name = "s3_upload_killed_mid_transfer_leaves_no_object_and_no_link";
    if !have_moto(name) {
        return;
    }
    let moto = Moto::start();
    moto.create_bucket("kill");
    let dir = tempfile::tempdir().unwrap();
    let journal = dir.path().join("j.journal");
    let (study, trial) = journal_with_trial(&journal);
    kill_midway(
        name,
        "upload",
        &[(JOURNAL_VAR, journal.to_str().unwrap()), (ENDPOINT_VAR, &moto.endpoint)],
    );

    // The multipart upload was under way, and nothing of it is visible.
    assert_eq!(moto.multipart_uploads("kill"), 1);
    let store = S3Store::new(&moto.config("kill")).unwrap();
    assert_eq!(store.list().unwrap(), []);
    let storage = JournalStorage::open(&journal).unwrap();
    assert!(storage.get_trial_system_attrs(trial).unwrap().is_empty());

    // Unlinked bytes (a crash between bytes and link) are collected; linked ones kept.
    let orphan = ArtifactId::new();
    store.put(&orphan, &mut Generated::new(100)).unwrap();
    let body = &mut Generated::new(10);
    let kept = artifacts::upload_artifact_from(
        &storage,
        &store,
        Target::Study(study),
        "k",
        body,
        None,
        None,
    )
    .unwrap();
    let j = journal.to_str().unwrap();
    let args = [
        "artifacts",
        "gc",
        j,
        "--store",
        "s3://kill",
        "--s3-endpoint",
        &moto.endpoint,
        "--grace",
        "0s",
    ];
    let out = trialog_ok(&args);
    assert!(out.contains(&format!("removed unlinked artifact {orphan} (100 bytes)")), "{out}");
    assert!(!store.exists(&orphan).unwrap());
    assert!(store.exists(&kept.artifact_id).unwrap());
}

#[test]
fn s3_server_stopped_during_an_upload_is_retried_then_a_typed_error_names_the_endpoint() {
    let name =
        "s3_server_stopped_during_an_upload_is_retried_then_a_typed_error_names_the_endpoint";
    if !have_moto(name) {
        return;
    }
    let moto = Moto::start();
    moto.create_bucket("down");
    let endpoint = moto.endpoint.clone();
    let store = S3Store::new(&moto.config("down")).unwrap();
    let store =
        Backoff::with_schedule(store, 3, 2.0, Duration::from_millis(10), Duration::from_millis(50))
            .unwrap();
    let storage = JournalStorage::new(trialog::MemoryBackend::new()).unwrap();
    let study = storage.create_new_study(&[StudyDirection::Minimize], Some("s")).unwrap();
    let trial = storage.create_new_trial(study, None).unwrap();

    // Stop the server once two parts are on their way.
    let moto = Arc::new(Mutex::new(moto));
    let server = Arc::clone(&moto);
    let mut body =
        Generated::new(40 << 20).on_reaching(20 << 20, move || server.lock().unwrap().stop());
    let err = artifacts::upload_artifact_from(
        &storage,
        &store,
        Target::Trial(trial),
        "ckpt.bin",
        &mut body,
        None,
        None,
    )
    .unwrap_err();
    match &err {
        Error::ArtifactRetriesExhausted { attempts: 3, op: "upload", last, .. } => match &**last {
            Error::ArtifactStore { store, transient: true, .. } => {
                assert_eq!(store, &format!("s3://down at {endpoint}"));
            }
            other => panic!("last error: {other:?}"),
        },
        other => panic!("{other:?}"),
    }
    assert!(err.to_string().contains(&endpoint), "{err}");
    assert!(storage.get_trial_system_attrs(trial).unwrap().is_empty(), "a link was written");
}

#[test]
fn ids_that_are_paths_are_refused_before_they_reach_a_path() {
    let dir = tempfile::tempdir().unwrap();
    let store_dir = dir.path().join("store");
    let store = FileSystemStore::new(&store_dir).unwrap();
    let secret = dir.path().join("secret");
    fs::write(&secret, b"keep").unwrap();
    let journal = dir.path().join("j.journal");
    let (_, trial) = journal_with_trial(&journal);
    let (j, s) = (journal.to_str().unwrap(), store_dir.to_str().unwrap());

    for evil in ["../../etc/passwd", "../secret", "/etc/passwd", "..", "C:\\x", "a/b"] {
        assert!(matches!(ArtifactId::parse(evil), Err(Error::InvalidArtifactId { .. })), "{evil}");
        for cmd in ["get", "rm"] {
            let mut args = vec!["artifacts", cmd, j, "--store", s, evil];
            if cmd == "get" {
                args.extend(["--out", "x"]);
            }
            let out = trialog(&args);
            assert_eq!(out.status.code(), Some(2), "{args:?}");
            let err = String::from_utf8_lossy(&out.stderr);
            assert!(err.contains("invalid artifact id"), "{err}");
        }
    }

    // A link written by someone else whose id is a path: reported, never followed.
    let storage = JournalStorage::open(&journal).unwrap();
    let evil_link = "{\"artifact_id\": \"../secret\", \"filename\": \"secret\", \"mimetype\": \
                     \"text/plain\", \"encoding\": null}";
    storage
        .set_trial_system_attr(trial, "artifacts:../secret", AttrValue::String(evil_link.into()))
        .unwrap();
    let out = trialog(&["artifacts", "list", j, "--study", "s"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("is not valid: invalid artifact id"));
    let out = trialog(&["artifacts", "verify", j, "--store", s]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stdout).contains("PROBLEM: trial 0: artifact link"));
    trialog_ok(&["artifacts", "gc", j, "--store", s, "--grace", "0s"]);
    assert_eq!(fs::read(&secret).unwrap(), b"keep");
    assert!(store.list().unwrap().is_empty());
}

/// Peak resident memory allowed for streaming a 1 GiB artifact.
const RSS_LIMIT_KIB: u64 = 64 << 10;
const GIB: u64 = 1 << 30;
const S3_LEN: u64 = 256 << 20;

/// The child of the memory tests: uploads `len` bytes (generated as they are read) and downloads
/// them again to a file, checked against the link, then reports its own peak RSS.
fn stream(store: &dyn ArtifactStore, len: u64, out: &Path) {
    let storage = JournalStorage::new(trialog::MemoryBackend::new()).unwrap();
    let study = storage.create_new_study(&[StudyDirection::Minimize], Some("s")).unwrap();
    let body = &mut Generated::new(len);
    let meta = artifacts::upload_artifact_from(
        &storage,
        store,
        Target::Study(study),
        "big.bin",
        body,
        None,
        None,
    )
    .unwrap();
    // Hashing and fsyncing too: every buffer a download can hold is counted.
    let options = DownloadOptions {
        expected: Some(&meta),
        verify: true,
        durable: true,
        ..Default::default()
    };
    let done = artifacts::download_artifact(store, &meta.artifact_id, out, options).unwrap();
    assert_eq!(done.size, len);
    assert_eq!(done.digest.map(|d| d.sha256_hex()), meta.sha256);
    report(&format!("peak_rss_kib={}", artifacts_common::peak_rss_kib()));
}

#[cfg(target_os = "linux")]
#[test]
fn a_gib_artifact_streams_through_the_filesystem_store_in_bounded_memory() {
    let dir_var = "TRIALOG_ARTIFACT_DIR";
    if role().as_deref() == Some("gib") {
        let dir = std::path::PathBuf::from(std::env::var(dir_var).unwrap());
        let store = FileSystemStore::new(dir.join("store")).unwrap();
        return stream(&store, GIB, &dir.join("out.bin"));
    }
    let dir = tempfile::tempdir().unwrap();
    let name = "a_gib_artifact_streams_through_the_filesystem_store_in_bounded_memory";
    let mut child = spawn_self(name, "gib", &[(dir_var, dir.path().to_str().unwrap())]);
    let mut reports = Reports::of(&mut child);
    let line = reports.next();
    reports.drain();
    assert!(child.wait().unwrap().success());
    let kib: u64 = line.strip_prefix("peak_rss_kib=").unwrap().parse().unwrap();
    eprintln!("1 GiB through the filesystem store: peak RSS {kib} KiB");
    assert!(kib < RSS_LIMIT_KIB, "peak RSS {kib} KiB");
    assert_eq!(fs::metadata(dir.path().join("out.bin")).unwrap().len(), GIB);
}

/// Through S3 the memory bound comes from the parts in flight (3 of 8 MiB at most), whatever the
/// size; 256 MiB (32 parts each way) keeps the local server's share of the run short.
#[cfg(target_os = "linux")]
#[test]
fn a_large_artifact_streams_through_the_s3_store_in_bounded_memory() {
    let dir_var = "TRIALOG_ARTIFACT_DIR";
    if role().as_deref() == Some("gib") {
        let dir = std::path::PathBuf::from(std::env::var(dir_var).unwrap());
        return stream(&child_s3_store(), S3_LEN, &dir.join("out.bin"));
    }
    let name = "a_large_artifact_streams_through_the_s3_store_in_bounded_memory";
    if !have_moto(name) {
        return;
    }
    let moto = Moto::start();
    moto.create_bucket("kill");
    let dir = tempfile::tempdir().unwrap();
    let envs = [(dir_var, dir.path().to_str().unwrap()), (ENDPOINT_VAR, moto.endpoint.as_str())];
    let mut child = spawn_self(name, "gib", &envs);
    let mut reports = Reports::of(&mut child);
    let line = reports.next();
    reports.drain();
    assert!(child.wait().unwrap().success());
    let kib: u64 = line.strip_prefix("peak_rss_kib=").unwrap().parse().unwrap();
    eprintln!("256 MiB through the S3 store: peak RSS {kib} KiB");
    assert!(kib < RSS_LIMIT_KIB, "peak RSS {kib} KiB");
    assert_eq!(fs::metadata(dir.path().join("out.bin")).unwrap().len(), S3_LEN);
}

#[test]
fn an_s3_download_outlives_its_store_and_never_ends_early() {
    let name = "an_s3_download_outlives_its_store_and_never_ends_early";
    if !have_moto(name) {
        return;
    }
    let moto = Moto::start();
    moto.create_bucket("outlive");
    let store = S3Store::new(&moto.config("outlive")).unwrap();
    let id = ArtifactId::new();
    let len = 20 << 20;
    store.put(&id, &mut Generated::new(len)).unwrap();
    let mut reader = store.get(&id).unwrap();
    drop(store); // the stream keeps what it needs (the client's runtime) alive
    let mut got = Vec::new();
    std::io::Read::read_to_end(&mut reader, &mut got).unwrap();
    let mut want = Vec::new();
    std::io::Read::read_to_end(&mut Generated::new(len), &mut want).unwrap();
    assert!(got == want, "got {} bytes, want {len}", got.len());
}
