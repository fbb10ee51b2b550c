//! Values that must never reach the log, and logs that must convert without changing meaning
//! (issue 9, section 0): invalid distributions are refused by every reader the same way, so
//! replay, `studies` and `export` agree; `import` leaves out the safe-to-ignore lines it cannot
//! re-encode, so what it writes reads back.

use std::path::Path;
use std::process::{Command, Output};

use trialog::journal::frame;
use trialog::model::Integer;
use trialog::{AttrValue, Error, JournalStorage};

/// Sets a study user attribute on some storage.
type SetAttr = dyn Fn(&str, AttrValue) -> trialog::Result<()>;

fn trialog(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_trialog")).args(args).output().expect("spawn trialog")
}

fn ok(args: &[&str]) -> String {
    let out = trialog(args);
    assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

/// A trialog journal holding one frame per payload.
fn journal_of(path: &Path, payloads: &[Vec<u8>]) {
    let mut bytes = frame::encode_header().to_vec();
    for p in payloads {
        frame::encode_frame(p, &mut bytes);
    }
    std::fs::write(path, bytes).unwrap();
}

/// `[w, [create study "s", create trial, set param with this distribution]]`.
fn param_batch(dist: impl serde::Serialize) -> Vec<u8> {
    rmp_serde::to_vec(&(
        "w",
        (
            (0u64, "s", [1u8]),
            (4u64, 0u64, 1_700_000_000_000_000i64, ()),
            (5u64, 0u64, "p", 0.5f64, dist),
        ),
    ))
    .unwrap()
}

#[test]
fn an_invalid_distribution_in_a_trialog_journal_is_refused_by_replay_and_export_alike() {
    let dir = tempfile::tempdir().unwrap();
    // What an older build acknowledged through public fields: a log float range reaching 0 and
    // an int step of 0 (which also panicked on the write path).
    let cases = [
        ("log-zero", param_batch((0u8, 0.0f64, 1.0f64, true, ()))),
        ("step-zero", param_batch((1u8, 0i64, 10i64, false, 0i64))),
    ];
    for (name, payload) in cases {
        let path = dir.path().join(format!("{name}.journal"));
        journal_of(&path, &[payload]);
        let p = path.to_str().unwrap();
        match JournalStorage::open(&path) {
            Err(Error::Corruption { offset, reason, .. }) => {
                assert_eq!(offset, frame::HEADER_LEN as u64, "{name}");
                assert!(reason.contains("invalid distribution"), "{name}: {reason}");
            }
            Err(other) => panic!("{name}: {other}"),
            Ok(_) => panic!("{name}: replayed an invalid distribution"),
        }
        let studies = trialog(&["studies", p]);
        assert_eq!(studies.status.code(), Some(1), "{name}: studies accepted it");
        let out = dir.path().join(format!("{name}.log"));
        let export = trialog(&["export", "--format", "optuna", p, out.to_str().unwrap()]);
        assert_eq!(export.status.code(), Some(1), "{name}: export accepted it");
        assert!(!out.exists(), "{name}: export wrote a file");
    }
}

#[test]
fn an_invalid_distribution_in_an_optuna_journal_is_refused_as_optuna_refuses_it() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("o.log");
    let lines = [
        r#"{"op_code":0,"worker_id":"w","study_name":"s","directions":[1]}"#,
        r#"{"op_code":4,"worker_id":"w","study_id":0,"datetime_start":"2024-01-01T00:00:00.000000+00:00"}"#,
        // FloatDistribution(0, 1, log=True) raises `low > 0` in json_to_distribution.
        r#"{"op_code":5,"worker_id":"w","trial_id":0,"param_name":"x","param_value_internal":0.5,"distribution":"{\"name\": \"FloatDistribution\", \"attributes\": {\"step\": null, \"low\": 0.0, \"high\": 1.0, \"log\": true}}"}"#,
    ];
    std::fs::write(&path, lines.join("\n") + "\n").unwrap();
    match JournalStorage::open_optuna(&path) {
        Err(Error::Corruption { offset, .. }) => {
            assert_eq!(offset, (lines[0].len() + lines[1].len() + 2) as u64)
        }
        Err(other) => panic!("{other}"),
        Ok(_) => panic!("replayed an invalid distribution"),
    }
}

#[test]
fn import_leaves_out_ignorable_lines_and_writes_a_journal_it_reads() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("o.log");
    let lines = [
        r#"{"op_code":0,"worker_id":"w","study_name":"s","directions":[1]}"#,
        // Safe-to-ignore codes with fields trialog does not expect (or none at all).
        r#"{"op_code":128,"worker_id":"w"}"#,
        r#"{"op_code":200,"worker_id":"w","anything":[1,{"b":null}]}"#,
        r#"{"op_code":18446744073709551615,"worker_id":"w"}"#,
        r#"{"op_code":2,"worker_id":"w","study_id":0,"user_attr":{"k":1}}"#,
    ];
    std::fs::write(&src, lines.join("\n") + "\n").unwrap();
    let dst = dir.path().join("t.journal");
    let (s, d) = (src.to_str().unwrap(), dst.to_str().unwrap());
    ok(&["import", s, d]);
    let verify = trialog(&["verify", d]);
    assert_eq!(verify.status.code(), Some(0), "{}", String::from_utf8_lossy(&verify.stdout));
    ok(&["studies", d]);
    assert_eq!(ok(&["dump", d]), ok(&["dump", s]));
    let done =
        trialog::convert::import_optuna(&src, &dir.path().join("again.journal"), false).unwrap();
    assert_eq!((done.operations, done.dropped), (2, 3));
}

#[test]
fn integers_beyond_64_bits_round_trip_through_both_formats() {
    let dir = tempfile::tempdir().unwrap();
    let big = |t: &str| match Integer::parse(t) {
        Some(Integer::Big(b)) => AttrValue::BigInt(b),
        other => panic!("{other:?}"),
    };
    let value = AttrValue::Array(vec![
        big("18446744073709551615"),
        big("-340282366920938463463374607431768211457"),
        AttrValue::Int(i64::MIN),
    ]);
    for optuna in [false, true] {
        let path = dir.path().join(if optuna { "o.log" } else { "t.journal" });
        {
            let storage: Box<SetAttr> = if optuna {
                let s = JournalStorage::open_optuna(&path).unwrap();
                let id =
                    s.create_new_study(&[trialog::StudyDirection::Minimize], Some("s")).unwrap();
                Box::new(move |k, v| s.set_study_user_attr(id, k, v))
            } else {
                let s = JournalStorage::open(&path).unwrap();
                let id =
                    s.create_new_study(&[trialog::StudyDirection::Minimize], Some("s")).unwrap();
                Box::new(move |k, v| s.set_study_user_attr(id, k, v))
            };
            storage("big", value.clone()).unwrap();
            storage("small", AttrValue::Int(1)).unwrap();
        }
        let attrs = if optuna {
            JournalStorage::open_optuna(&path).unwrap().get_study_user_attrs(0).unwrap()
        } else {
            JournalStorage::open(&path).unwrap().get_study_user_attrs(0).unwrap()
        };
        assert_eq!(attrs["big"], value, "optuna format: {optuna}");
        let dump = ok(&["dump", path.to_str().unwrap()]);
        assert!(
            dump.contains(
                r#""big": [18446744073709551615, -340282366920938463463374607431768211457, -9223372036854775808]"#
            ),
            "{dump}"
        );
    }
    // Old readers never misread it: the operation holding it is an extended one (code 11).
    let bytes = std::fs::read(dir.path().join("t.journal")).unwrap();
    let mut found = false;
    let mut at = frame::HEADER_LEN;
    while let frame::FrameCheck::Batch { payload, len } = frame::check_frame(&bytes[at..]) {
        let batch = trialog::journal::codec::decode_batch(payload).unwrap();
        let holds_big = batch.ops.iter().any(|op| {
            matches!(op, trialog::journal::Operation::SetStudyUserAttr { value, .. } if value.needs_extension())
        });
        if holds_big {
            // [worker, [[11, op]]]: 92, the worker id (str8: d9 n, n bytes), 91, 92, 0b.
            assert_eq!(payload[1], 0xd9);
            assert_eq!(payload[3 + batch.worker_id.len() + 2], 0x0b, "not an extended operation");
            found = true;
        }
        at += len;
    }
    assert!(found);
}

#[test]
fn attribute_values_as_deep_as_optuna_writes_them_round_trip() {
    // Optuna (Python's json, recursion limit 1000) writes about 985 levels; replay runs on a
    // test thread's small stack here, in a debug build.
    let deep = |n: usize| (1..n).fold(AttrValue::Array(vec![]), |v, _| AttrValue::Array(vec![v]));
    let value = deep(trialog::model::MAX_ATTR_DEPTH);
    let dir = tempfile::tempdir().unwrap();
    for optuna in [false, true] {
        let path = dir.path().join(if optuna { "o.log" } else { "t.journal" });
        let value = value.clone();
        let path2 = path.clone();
        std::thread::Builder::new()
            .stack_size(2 << 20)
            .spawn(move || {
                let open = |p: &Path| {
                    if optuna {
                        JournalStorage::open_optuna(p).map(|s| Box::new(s) as Box<dyn AttrStore>)
                    } else {
                        JournalStorage::open(p).map(|s| Box::new(s) as Box<dyn AttrStore>)
                    }
                };
                let s = open(&path2).unwrap();
                s.set("deep", value.clone());
                assert!(s.try_set("deeper", deep(trialog::model::MAX_ATTR_DEPTH + 1)).is_err());
                drop(s);
                assert_eq!(open(&path2).unwrap().get("deep"), value);
            })
            .unwrap()
            .join()
            .unwrap();
        ok(&["dump", path.to_str().unwrap()]);
    }
}

/// A study user attribute store over either backend.
trait AttrStore {
    fn try_set(&self, key: &str, value: AttrValue) -> trialog::Result<()>;
    fn set(&self, key: &str, value: AttrValue) {
        self.try_set(key, value).unwrap()
    }
    fn get(&self, key: &str) -> AttrValue;
}

impl<B: trialog::LogBackend> AttrStore for JournalStorage<B> {
    fn try_set(&self, key: &str, value: AttrValue) -> trialog::Result<()> {
        let id = match self.get_study_id_from_name("s") {
            Ok(id) => id,
            Err(_) => self.create_new_study(&[trialog::StudyDirection::Minimize], Some("s"))?,
        };
        self.set_study_user_attr(id, key, value)
    }
    fn get(&self, key: &str) -> AttrValue {
        self.get_study_user_attrs(0).unwrap()[key].clone()
    }
}

#[test]
fn an_operation_optuna_raises_on_is_refused_by_replay_import_and_export() {
    let dir = tempfile::tempdir().unwrap();
    let head = [
        r#"{"op_code":0,"worker_id":"w","study_name":"s","directions":[1]}"#,
        r#"{"op_code":4,"worker_id":"w","study_id":0,"datetime_start":"2024-01-01T00:00:00.000000+00:00"}"#,
    ];
    // Each raises in Optuna's replay (to_external_repr: IndexError, ValueError; the template's
    // datetime: ValueError) because its target exists.
    let bad = [
        r#"{"op_code":5,"worker_id":"w","trial_id":0,"param_name":"c","param_value_internal":3,"distribution":"{\"name\": \"CategoricalDistribution\", \"attributes\": {\"choices\": [\"a\", \"b\"]}}"}"#,
        r#"{"op_code":5,"worker_id":"w","trial_id":0,"param_name":"n","param_value_internal":NaN,"distribution":"{\"name\": \"IntDistribution\", \"attributes\": {\"log\": false, \"step\": 1, \"low\": 0, \"high\": 3}}"}"#,
        r#"{"op_code":4,"worker_id":"w","study_id":0,"datetime_start":"yesterday","state":4,"value":null,"values":null,"distributions":{},"params":{},"user_attrs":{},"system_attrs":{},"intermediate_values":{}}"#,
        r#"{"op_code":4,"worker_id":"w","study_id":0,"datetime_start":null,"state":4,"value":null,"values":null,"datetime_complete":null,"distributions":{},"params":{},"user_attrs":{},"system_attrs":{},"intermediate_values":{}}"#,
    ];
    let tail = r#"{"op_code":8,"worker_id":"w","trial_id":0,"user_attr":{"after":1}}"#;
    for (i, line) in bad.iter().enumerate() {
        let path = dir.path().join(format!("bad{i}.log"));
        std::fs::write(&path, [head[0], head[1], line, tail].join("\n") + "\n").unwrap();
        let offset = (head[0].len() + head[1].len() + 2) as u64;
        match JournalStorage::open_optuna(&path) {
            Err(Error::Corruption { offset: at, reason, .. }) => {
                assert_eq!(at, offset, "{line}");
                assert!(reason.contains("Optuna's replay raises"), "{reason}");
            }
            Err(other) => panic!("{line}: {other}"),
            Ok(_) => panic!("{line}: replayed"),
        }
        let p = path.to_str().unwrap();
        let out = dir.path().join(format!("bad{i}.journal"));
        let import = trialog(&["import", p, out.to_str().unwrap()]);
        assert_eq!(import.status.code(), Some(1), "import accepted {line}");
        assert!(!out.exists());
        let exported = dir.path().join(format!("bad{i}.exported.log"));
        let export = trialog(&["export", "--format", "optuna", p, exported.to_str().unwrap()]);
        assert_eq!(export.status.code(), Some(1), "export accepted {line}");
        // Salvage leaves out just that line.
        let done = trialog::convert::import_optuna(&path, &out, true).unwrap();
        assert_eq!(done.skipped.len(), 1);
        assert_eq!((done.skipped[0].offset, done.skipped[0].len), (offset, line.len() as u64 + 1));
        let attrs = JournalStorage::open(&out).unwrap().get_trial_user_attrs(0).unwrap();
        assert_eq!(attrs["after"], AttrValue::Int(1));
        // Python Optuna cannot open it either.
        let python = Command::new("python3")
            .args(["-c", "import sys, optuna\nfrom optuna.storages import JournalStorage\nfrom optuna.storages.journal import JournalFileBackend\nJournalStorage(JournalFileBackend(sys.argv[1]))", p])
            .output();
        if let Ok(o) = python {
            if !String::from_utf8_lossy(&o.stderr).contains("No module named") {
                assert!(!o.status.success(), "Optuna opened {line}");
            }
        }
    }
}
