//! `GetTrial` and `GetTrials` of `trialog serve` never answer stale: the server answers reads on
//! its async threads when the storage can (`Storage::try_get_trial_now`) and keeps the wire form
//! of finished trials (`grpc::wire_cache`), and neither may hide what another writer of the
//! journal did: a deleted study, an update of an unfinished trial, a compaction.
#![cfg(all(feature = "grpc", unix))]
// unix: the server is stopped with SIGTERM (server_common)
// tonic's calls return `Result<_, Status>`; its size is tonic's choice.
#![allow(clippy::result_large_err)]

mod server_common;

use std::path::Path;

use tonic::Code;
use trialog::backend::OptunaJournalFile;
use trialog::compact::{CompactOptions, compact};
use trialog::grpc::proto::storage_service_client::StorageServiceClient;
use trialog::grpc::proto::{self, GetTrialRequest, GetTrialsRequest};
use trialog::{Distribution, FileBackend, JournalStorage, Storage, StudyDirection, TrialState};

use server_common::Server;

/// Another writer of the journal, in this process (as a Python worker writing the file would be).
fn other_writer(journal: &Path, format: &str) -> Box<dyn Storage> {
    match format {
        "trialog" => Box::new(JournalStorage::new(FileBackend::open(journal).unwrap()).unwrap()),
        _ => Box::new(JournalStorage::new(OptunaJournalFile::open(journal).unwrap()).unwrap()),
    }
}

struct Reader {
    rt: tokio::runtime::Runtime,
    client: StorageServiceClient<tonic::transport::Channel>,
}

impl Reader {
    fn new(server: &Server) -> Reader {
        let rt = tokio::runtime::Runtime::new().unwrap();
        let client = rt.block_on(StorageServiceClient::connect(server.url.clone())).unwrap();
        Reader { rt, client }
    }

    fn get(&mut self, trial_id: u64) -> Result<proto::Trial, tonic::Status> {
        let r = self.client.get_trial(GetTrialRequest { trial_id: trial_id as i64 });
        Ok(self.rt.block_on(r)?.into_inner().trial.expect("a trial"))
    }

    fn all(&mut self, study_id: u64) -> Result<Vec<proto::Trial>, tonic::Status> {
        let r = self.client.get_trials(GetTrialsRequest {
            study_id: study_id as i64,
            included_trial_ids: vec![],
            trial_id_greater_than: -1,
        });
        Ok(self.rt.block_on(r)?.into_inner().trials)
    }
}

#[test]
fn reads_see_other_writers_updates_and_deletions_over_both_formats() {
    for format in ["trialog", "optuna"] {
        let dir = tempfile::tempdir().unwrap();
        let journal = dir.path().join("j");
        let server = Server::start(&journal, &["--format", format]);
        let mut reader = Reader::new(&server);
        let served = trialog::remote::GrpcStorage::connect(&server.url).unwrap();
        let study = served.create_new_study(&[StudyDirection::Minimize], Some("s")).unwrap();
        let x = Distribution::float(0.0, 1.0, false, None).unwrap();
        let done = served.create_new_trial(study, None).unwrap();
        served.set_trial_param(done, "x", 0.25, &x).unwrap();
        served.set_trial_state_values(done, TrialState::Complete, Some(&[1.0])).unwrap();
        let running = served.create_new_trial(study, None).unwrap();
        let other = other_writer(&journal, format);

        // A finished trial, read twice (the second time from the kept wire form): the same.
        let first = reader.get(done).unwrap();
        assert_eq!(first.state, proto::TrialState::Complete as i32, "{format}");
        assert_eq!(first.params.get("x"), Some(&0.25), "{format}");
        assert_eq!(reader.get(done).unwrap(), first, "{format}");
        assert_eq!(reader.all(study).unwrap()[0], first, "{format}");

        // An unfinished trial that another writer updates after each read: never stale.
        assert!(reader.get(running).unwrap().intermediate_values.is_empty(), "{format}");
        other.set_trial_intermediate_value(running, 0, 0.5).unwrap();
        let seen = reader.get(running).unwrap();
        assert_eq!(seen.intermediate_values.get(&0), Some(&0.5), "{format}");
        other.set_trial_param(running, "x", 0.75, &x).unwrap();
        assert_eq!(reader.get(running).unwrap().params.get("x"), Some(&0.75), "{format}");
        other.set_trial_state_values(running, TrialState::Pruned, None).unwrap();
        let pruned = reader.get(running).unwrap();
        assert_eq!(pruned.state, proto::TrialState::Pruned as i32, "{format}");
        assert_eq!(reader.get(running).unwrap(), pruned, "{format}");
        assert_eq!(reader.all(study).unwrap()[1], pruned, "{format}");

        // The study deleted by the other writer: its trials are gone, kept or not.
        other.delete_study(study).unwrap();
        for trial in [done, running] {
            let status = reader.get(trial).expect_err("a deleted study's trial");
            assert_eq!(status.code(), Code::NotFound, "{format}: {status:?}");
        }
        assert_eq!(reader.all(study).expect_err("a deleted study").code(), Code::NotFound);
        assert!(server.stop().success());
    }
}

#[test]
fn reads_follow_an_online_compaction_with_the_same_answers() {
    let dir = tempfile::tempdir().unwrap();
    let journal = dir.path().join("j");
    let server = Server::start(&journal, &[]);
    let mut reader = Reader::new(&server);
    let other = other_writer(&journal, "trialog");
    let study = other.create_new_study(&[StudyDirection::Minimize], Some("s")).unwrap();
    let mut trials = Vec::new();
    for i in 0..4 {
        let t = other.create_new_trial(study, None).unwrap();
        other.set_trial_user_attr(t, "i", (i as i64).into()).unwrap();
        other.set_trial_user_attr(t, "i", (10 * i as i64).into()).unwrap(); // compacted away
        other.set_trial_state_values(t, TrialState::Complete, Some(&[i as f64])).unwrap();
        trials.push(t);
    }
    let running = other.create_new_trial(study, None).unwrap();
    let before: Vec<_> = trials.iter().map(|&t| reader.get(t).unwrap()).collect();
    let before_size = std::fs::metadata(&journal).unwrap().len();
    compact(&journal, &CompactOptions::default()).unwrap();
    assert!(std::fs::metadata(&journal).unwrap().len() < before_size, "it compacted");
    // The other writer goes on in the compacted file; the server follows it there.
    other.set_trial_state_values(running, TrialState::Fail, None).unwrap();
    let after: Vec<_> = trials.iter().map(|&t| reader.get(t).unwrap()).collect();
    assert_eq!(after, before);
    assert_eq!(reader.get(running).unwrap().state, proto::TrialState::Fail as i32);
    other.delete_study(study).unwrap();
    assert_eq!(reader.get(trials[0]).expect_err("deleted").code(), Code::NotFound);
    assert!(server.stop().success());
}
