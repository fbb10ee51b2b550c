//! Artifacts shared with Python Optuna, both ways, on the filesystem store and on S3 (a local
//! moto server): what Optuna's `upload_artifact` writes, trialog lists, downloads and verifies;
//! what `trialog artifacts put` writes, Optuna's `get_all_artifact_meta` and `download_artifact`
//! read; optuna-dashboard's deletion tombstones are skipped and their bytes collected.

mod artifacts_common;

use std::fs;
use std::path::Path;

use artifacts_common::{Moto, have_moto, have_python, py, trialog, trialog_ok};
use trialog::journal::json::{self, JsonValue};

/// Pseudo-random bytes (distinct per seed).
fn bytes(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

fn str_of<'a>(v: &'a JsonValue, key: &str) -> Option<&'a str> {
    match v.get(key) {
        Some(JsonValue::Str(s)) => Some(s),
        _ => None,
    }
}

/// One row of `trialog artifacts list --json`: id, filename, mimetype, size, trial number.
type Row = (String, String, String, Option<i64>, Option<i64>);

/// `trialog artifacts list --json`, by filename.
fn listed(journal: &str, store: &[&str]) -> Vec<Row> {
    let mut args = vec!["artifacts", "list", journal, "--study", "s", "--json"];
    args.extend_from_slice(store);
    let out = trialog_ok(&args);
    let JsonValue::Array(items) = json::parse(out.as_bytes()).unwrap() else { panic!("{out}") };
    let int = |v: &JsonValue, k| match v.get(k) {
        Some(JsonValue::Int(i)) => Some(*i),
        _ => None,
    };
    let mut rows: Vec<_> = items
        .iter()
        .map(|v| {
            assert_eq!(v.get("stored"), Some(&JsonValue::Bool(true)), "{out}");
            (
                str_of(v, "artifact_id").unwrap().to_owned(),
                str_of(v, "filename").unwrap().to_owned(),
                str_of(v, "mimetype").unwrap().to_owned(),
                int(v, "size"),
                int(v, "trial"),
            )
        })
        .collect();
    rows.sort_by(|a, b| a.1.cmp(&b.1));
    rows
}

/// The whole exchange on one store: `store` are trialog's store options, `py_store` the same
/// store as `tests/python/artifacts.py` names it.
fn exchange(dir: &Path, store: &[&str], py_store: &str) {
    let journal = dir.join("optuna.log");
    let j = journal.to_str().unwrap();
    py(&["create", j, "s"]);
    let files = [
        ("plot.png", bytes(3000, 1)),
        ("notes.txt", bytes(10, 2)),
        ("model.tar.gz", bytes(9 << 20, 3)), // more than one 8 MiB S3 part: a multipart upload
        ("data.csv", Vec::new()),
    ];
    for (name, content) in &files {
        fs::write(dir.join(name), content).unwrap();
    }
    let file = |i: usize| dir.join(files[i].0).to_str().unwrap().to_owned();

    // Optuna uploads; trialog lists, downloads and verifies.
    let plot = py(&["upload", j, py_store, "s", "0", &file(0)]).trim().to_owned();
    let notes = py(&["upload", j, py_store, "s", "study", &file(1)]).trim().to_owned();
    let rows = listed(j, store);
    assert_eq!(
        rows,
        [
            (notes.clone(), "notes.txt".into(), "text/plain".into(), None, None),
            (plot.clone(), "plot.png".into(), "image/png".into(), None, Some(0)),
        ]
    );
    for (id, i) in [(&plot, 0), (&notes, 1)] {
        let out = dir.join(format!("got-{i}"));
        let mut args = vec!["artifacts", "get", j, id, "--out", out.to_str().unwrap()];
        args.extend_from_slice(store);
        trialog_ok(&args);
        assert_eq!(fs::read(&out).unwrap(), files[i].1, "{}", files[i].0);
    }
    let mut verify = vec!["artifacts", "verify", j];
    verify.extend_from_slice(store);
    let report = trialog_ok(&verify);
    assert!(
        report.contains("2 links checked (0 hashed, 2 without recorded size or hash): all present"),
        "{report}"
    );

    // trialog uploads; Optuna reads the links and downloads.
    let put = |i: usize, trial: Option<&str>| {
        let f = file(i);
        let mut args = vec!["artifacts", "put", j, "--study", "s", &f];
        if let Some(t) = trial {
            args.extend(["--trial", t]);
        }
        args.extend_from_slice(store);
        trialog_ok(&args).trim().to_owned()
    };
    let model = put(2, Some("0"));
    let data = put(3, None);
    let metas = |owner: &str| {
        let out = py(&["meta", j, "s", owner]);
        let JsonValue::Array(items) = json::parse(out.as_bytes()).unwrap() else { panic!() };
        items
    };
    let trial_metas = metas("0");
    let ours = trial_metas.iter().find(|m| str_of(m, "artifact_id") == Some(&model)).unwrap();
    assert_eq!(str_of(ours, "filename"), Some("model.tar.gz"));
    assert_eq!(str_of(ours, "mimetype"), Some("application/x-tar"));
    assert_eq!(str_of(ours, "encoding"), Some("gzip"));
    // The link is byte for byte what Python's json.dumps writes for the same object.
    assert_eq!(str_of(ours, "raw"), str_of(ours, "redumped"));
    let raw = str_of(ours, "raw").unwrap();
    assert!(raw.contains(&format!("\"size\": {}, \"sha256\": \"", 9 << 20)), "{raw}");
    let study_metas = metas("study");
    let ours = study_metas.iter().find(|m| str_of(m, "artifact_id") == Some(&data)).unwrap();
    assert_eq!(str_of(ours, "mimetype"), Some("text/csv"));
    assert_eq!(ours.get("encoding"), Some(&JsonValue::Null));
    for (id, i) in [(&model, 2), (&data, 3)] {
        let out = dir.join(format!("py-{i}"));
        py(&["download", py_store, id, out.to_str().unwrap()]);
        assert_eq!(fs::read(&out).unwrap(), files[i].1, "{}", files[i].0);
    }

    // optuna-dashboard deletes `plot` (a tombstone, bytes left); trialog removes `data`.
    py(&["tombstone", j, "s", "0", &plot]);
    let mut rm = vec!["artifacts", "rm", j, &data];
    rm.extend_from_slice(store);
    assert_eq!(trialog_ok(&rm), format!("removed artifact {data}\n"));
    let gone = dir.join("gone");
    let failed = std::process::Command::new("python3")
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/python/artifacts.py"))
        .args(["download", py_store, &data, gone.to_str().unwrap()])
        .envs(artifacts_common::env())
        .output()
        .unwrap();
    assert!(!failed.status.success(), "Optuna still downloads the removed artifact");
    let ids: Vec<_> = listed(j, store).into_iter().map(|r| r.0).collect();
    assert_eq!(ids.len(), 2);
    assert!(ids.contains(&model) && ids.contains(&notes), "{ids:?}");

    // gc collects the tombstoned artifact's bytes; everything linked stays and verifies.
    let mut gc = vec!["artifacts", "gc", j, "--grace", "0s"];
    gc.extend_from_slice(store);
    let out = trialog_ok(&gc);
    assert!(out.contains(&format!("removed unlinked artifact {plot}")), "{out}");
    assert!(out.contains("kept 2 linked artifacts"), "{out}");
    let report = trialog_ok(&verify);
    assert!(
        report.contains("2 links checked (1 hashed, 1 without recorded size or hash): all present"),
        "{report}"
    );
    let mut get = vec!["artifacts", "get", j, &plot, "--out", "/nonexistent/x"];
    get.extend_from_slice(store);
    let out = trialog(&get);
    assert!(String::from_utf8_lossy(&out.stderr).contains("no study or trial links artifact"));
}

#[test]
fn filesystem_store_is_shared_with_optuna_both_ways() {
    if !have_python("filesystem_store_is_shared_with_optuna_both_ways", "optuna") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("artifacts");
    fs::create_dir(&store).unwrap();
    let s = store.to_str().unwrap();
    exchange(dir.path(), &["--store", s], &format!("fs:{s}"));
}

#[test]
fn s3_store_is_shared_with_optunas_boto3_store_both_ways() {
    if !have_moto("s3_store_is_shared_with_optunas_boto3_store_both_ways")
        || !have_python("s3_store_is_shared_with_optunas_boto3_store_both_ways", "optuna")
    {
        return;
    }
    let moto = Moto::start();
    moto.create_bucket("interop");
    let dir = tempfile::tempdir().unwrap();
    let store = ["--store", "s3://interop", "--s3-endpoint", &moto.endpoint];
    exchange(dir.path(), &store, &format!("s3:interop@{}", moto.endpoint));
}

#[test]
fn mime_type_guesses_match_pythons_built_in_table() {
    if !have_python("mime_type_guesses_match_pythons_built_in_table", "mimetypes") {
        return;
    }
    let names = [
        "plot.png",
        "PLOT.PNG",
        "photo.jpg",
        "a.jpeg",
        "fig.svg",
        "fig.svgz",
        "table.csv",
        "t.tsv",
        "log.txt",
        "x.json",
        "page.html",
        "doc.pdf",
        "m.tar.gz",
        "m.tgz",
        "d.csv.bz2",
        "d.xz",
        "a.GZ",
        "w.pt",
        "model.onnx",
        "noext",
        ".png",
        "..png",
        "a..png",
        "v.mp4",
        "s.wav",
        "code.py",
        "arch.zip",
        "img.tiff",
        "x.h5",
        "a.b.c.json.br",
        "k.Z",
    ];
    let theirs = py(&[&["mimetypes"][..], &names[..]].concat());
    let JsonValue::Array(theirs) = json::parse(theirs.as_bytes()).unwrap() else { panic!() };
    for (name, theirs) in names.iter().zip(&theirs) {
        let JsonValue::Array(pair) = theirs else { panic!() };
        let as_opt = |v: &JsonValue| match v {
            JsonValue::Str(s) => Some(s.clone()),
            _ => None,
        };
        let (mime, enc) = trialog::artifacts::guess_type(name);
        assert_eq!(
            (mime.map(str::to_owned), enc.map(str::to_owned)),
            (as_opt(&pair[0]), as_opt(&pair[1])),
            "{name}"
        );
    }
}
