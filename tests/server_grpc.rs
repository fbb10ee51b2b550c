//! `trialog serve` and `trialog::remote::GrpcStorage`: a Rust worker runs a study through the
//! server; bad requests get Optuna's status codes, write nothing and never take the server down;
//! SIGTERM stops it cleanly (exit 0) and the journal replays to what it answered.
#![cfg(all(feature = "grpc", unix))]

mod server_common;

use std::sync::Arc;

use tonic::Code;
use trialog::grpc::proto::storage_service_client::StorageServiceClient;
use trialog::grpc::proto::*;
use trialog::remote::GrpcStorage;
use trialog::study::create_study;
use trialog::{Distribution, Storage, StudyDirection, TrialState};

use server_common::{Server, dump};

#[test]
fn a_rust_worker_runs_a_study_through_grpc_storage_over_both_formats() {
    for format in ["trialog", "optuna"] {
        let dir = tempfile::tempdir().unwrap();
        let server = Server::start(&dir.path().join("j"), &["--format", format]);
        let storage = Arc::new(GrpcStorage::connect(&server.url).unwrap());
        let study = create_study(Arc::clone(&storage), Some("remote"), &[StudyDirection::Minimize])
            .unwrap();
        let x = Distribution::float(-5.0, 5.0, false, None).unwrap();
        let enqueued = study.enqueue_trial(&[("x", 1.5.into(), x)]).unwrap();
        let report = study
            .optimize(Some(12), None, |t| {
                let x = t.suggest_float("x", -5.0, 5.0)?;
                t.report(0, x)?;
                t.set_user_attr("note", "nan is kept")?;
                Ok((x - 1.0).powi(2))
            })
            .unwrap();
        assert_eq!(report.complete, 12, "{format}");
        assert_eq!(storage.get_trial(enqueued).unwrap().params.get("x"), Some(&1.5.into()));
        let trials = study.trials(None).unwrap();
        assert!(trials.iter().all(|t| t.state == TrialState::Complete));
        assert_eq!(
            trials.iter().map(|t| t.number).collect::<Vec<_>>(),
            (0..12).collect::<Vec<_>>()
        );
        assert_eq!(study.best_value().unwrap(), study.best_trial().unwrap().value().unwrap());
        // A second worker's claim of the same WAITING trial loses, through the server.
        let w = study.enqueue_trial(&[]).unwrap();
        assert!(storage.set_trial_state_values(w, TrialState::Running, None).unwrap());
        assert!(!storage.set_trial_state_values(w, TrialState::Running, None).unwrap());
        // The CLI reads through the server as through the file.
        let grpc = server.url.replace("http://", "grpc://");
        let answered = dump(&grpc);
        assert!(server.stop().success(), "SIGTERM is a clean stop");
        assert_eq!(dump(dir.path().join("j").to_str().unwrap()), answered, "{format}");
    }
}

#[test]
fn bad_requests_get_optunas_status_write_nothing_and_never_take_the_server_down() {
    let dir = tempfile::tempdir().unwrap();
    let journal = dir.path().join("j");
    let server = Server::start(&journal, &[]);
    let storage = GrpcStorage::connect(&server.url).unwrap();
    let study = storage.create_new_study(&[StudyDirection::Minimize], Some("s")).unwrap();
    let trial = storage.create_new_trial(study, None).unwrap();
    storage.set_trial_state_values(trial, TrialState::Complete, Some(&[1.0])).unwrap();
    let running = storage.create_new_trial(study, None).unwrap();

    let rt = tokio::runtime::Runtime::new().unwrap();
    let mut client = rt
        .block_on(StorageServiceClient::connect(server.url.clone()))
        .unwrap()
        .max_encoding_message_size(usize::MAX);
    let bytes = std::fs::read(&server.journal).unwrap();
    let expect = |code: Code, names: &str, r: Result<(), tonic::Status>| {
        let status = r.expect_err("a bad request must fail");
        assert_eq!(status.code(), code, "{status:?}");
        assert!(status.message().contains(names), "{names:?} not named in {:?}", status.message());
        assert_eq!(std::fs::read(&journal).unwrap(), bytes, "a bad request wrote to the journal");
    };
    let (s, t, r) = (study as i64, trial as i64, running as i64);
    let attr = |study_id: i64, value: &str| SetStudyUserAttributeRequest {
        study_id,
        key: "k".into(),
        value: value.into(),
    };
    expect(
        Code::NotFound,
        "study 77",
        rt.block_on(client.set_study_user_attribute(attr(77, "1"))).map(drop),
    );
    expect(
        Code::NotFound,
        "study",
        rt.block_on(client.delete_study(DeleteStudyRequest { study_id: -1 })).map(drop),
    );
    expect(
        Code::InvalidArgument,
        "\"k\"",
        rt.block_on(client.set_study_user_attribute(attr(s, "{not json"))).map(drop),
    );
    expect(
        Code::NotFound,
        "trial 99",
        rt.block_on(client.get_trial(GetTrialRequest { trial_id: 99 })).map(drop),
    );
    expect(
        Code::AlreadyExists,
        "\"s\"",
        rt.block_on(client.create_new_study(CreateNewStudyRequest {
            directions: vec![0],
            study_name: "s".into(),
        }))
        .map(drop),
    );
    let param = |trial_id: i64, distribution: &str| SetTrialParameterRequest {
        trial_id,
        param_name: "x".into(),
        param_value_internal: 0.5,
        distribution: distribution.into(),
    };
    let float = r#"{"name": "FloatDistribution", "attributes": {"step": null, "low": 0.0, "high": 1.0, "log": false}}"#;
    expect(
        Code::InvalidArgument,
        "\"x\"",
        rt.block_on(
            client.set_trial_parameter(param(
                r,
                r#"{"name": "NoSuchDistribution", "attributes": {}}"#,
            )),
        )
        .map(drop),
    );
    expect(
        Code::FailedPrecondition,
        &format!("trial {t}"),
        rt.block_on(client.set_trial_parameter(param(t, float))).map(drop),
    );
    expect(
        Code::InvalidArgument,
        "state",
        rt.block_on(client.set_trial_state_values(SetTrialStateValuesRequest {
            trial_id: r,
            state: 99,
            values: vec![],
        }))
        .map(drop),
    );
    // 100 MB in one attribute: refused before it is read whole (bounded memory).
    let huge = format!("\"{}\"", "x".repeat(100 << 20));
    expect(
        Code::ResourceExhausted,
        "",
        rt.block_on(client.set_study_user_attribute(attr(s, &huge))).map(drop),
    );
    drop(huge);
    // A client that goes away mid-call: the server goes on.
    let mut other = client.clone();
    let abandoned = rt.spawn(async move { other.get_all_studies(GetAllStudiesRequest {}).await });
    abandoned.abort();
    // Still serving, and still writing.
    storage
        .set_trial_param(running, "x", 0.25, &Distribution::float(0.0, 1.0, false, None).unwrap())
        .unwrap();
    assert_eq!(storage.get_trial_param(running, "x").unwrap(), 0.25);
    assert!(server.stop().success());
}

#[test]
fn a_trial_with_a_step_outside_64_bits_is_an_error_on_the_wire_never_a_wrong_trial() {
    // Python's Optuna writes such steps (`trial.report(v, 2**64)`); its gRPC protocol has
    // `int64` steps, so neither Optuna's server nor trialog's can send that trial.
    let dir = tempfile::tempdir().unwrap();
    let journal = dir.path().join("j");
    let big = trialog::Integer::parse("18446744073709551616").unwrap();
    let (plain, stepped) = {
        let local = trialog::JournalStorage::open(&journal).unwrap();
        let study = local.create_new_study(&[StudyDirection::Minimize], Some("s")).unwrap();
        let plain = local.create_new_trial(study, None).unwrap();
        let stepped = local.create_new_trial(study, None).unwrap();
        local.set_trial_intermediate_value_at(stepped, big.clone(), 0.5).unwrap();
        (plain, stepped)
    };
    let server = Server::start(&journal, &[]);
    let remote = GrpcStorage::connect(&server.url).unwrap();
    assert_eq!(remote.get_trial(plain).unwrap().trial_id, plain);
    let e = remote.get_trial(stepped).unwrap_err();
    assert!(e.to_string().contains("18446744073709551616"), "{e}");
    assert!(remote.get_all_trials(0, None).is_err());
    // A write of such a step through the protocol is refused before anything is sent.
    let refused = remote.set_trial_intermediate_value_at(plain, big, 1.0).unwrap_err();
    assert!(matches!(refused, trialog::Error::NotSupported { .. }), "{refused}");
    assert!(server.stop().success());
    let local = trialog::JournalStorage::open(&journal).unwrap();
    assert!(local.get_trial(plain).unwrap().intermediate_values.is_empty());
}
