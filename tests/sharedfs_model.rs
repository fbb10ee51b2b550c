//! Shared file systems, proven by simulation (cargo feature `fault-injection`): several
//! simulated network file system clients in one process (`trialog::backend::netfs`: per-client
//! attribute and data caches, revalidated only on open, at a confirmed look, and when the
//! staleness window passes; writes flushed at fsync) share one journal and lock directory.
//!
//! Invariants, for every lock kind (advisory, open-file, symlink, and Optuna's two over an
//! Optuna-format file), over randomised interleavings of the clients' writes:
//! * every call returns what it returns on a local disk (the same trial ids, the same errors);
//! * nothing acknowledged is lost or overwritten: a plain reader of the server file, and a new
//!   handle of every client, replay exactly the trials of the same run on a local disk.
//!
//! Before the write path confirmed the journal's end under the lock, a client whose cached
//! length was old wrote its frame over another client's acknowledged one, and these tests
//! failed (docs/TESTING.md, "Shared file systems").
#![cfg(feature = "fault-injection")]

use std::path::Path;
use std::sync::Arc;

use proptest::prelude::*;
use trialog::backend::fault::FaultInjector;
use trialog::backend::netfs::NetClientOptions;
use trialog::lock::{OptunaLockKind, OptunaLockOptions};
use trialog::{
    AttrValue, Distribution, FileBackend, FileOptions, FrozenTrial, JournalStorage, LockKind,
    LockOptions, OptunaFileOptions, OptunaJournalFile, Storage, StudyDirection, TrialState,
};

const CLIENTS: usize = 3;

/// Which journal format and lock the clients share.
#[derive(Debug, Clone, Copy)]
enum Setup {
    Trialog(LockKind),
    Optuna(OptunaLockKind),
}

/// One step of a workload: client `client` does `action` on the `pick`-th trial it can choose.
#[derive(Debug, Clone)]
struct Step {
    client: usize,
    action: u8,
    pick: usize,
    value: f64,
}

fn steps() -> impl Strategy<Value = Vec<Step>> {
    prop::collection::vec(
        (0..CLIENTS, 0u8..4, 0usize..64, 0.0f64..1.0)
            .prop_map(|(client, action, pick, value)| Step { client, action, pick, value }),
        1..40,
    )
}

/// Opens a handle on `path` for `setup`, through `faults` (a simulated client) or plain.
fn open(path: &Path, setup: Setup, faults: Option<&Arc<FaultInjector>>) -> Arc<dyn Storage> {
    match setup {
        Setup::Trialog(kind) => {
            let options = FileOptions {
                lock: LockOptions { kind, ..LockOptions::default() },
                ..FileOptions::default()
            };
            let backend = match faults {
                Some(f) => FileBackend::open_with_faults(path, &options, Arc::clone(f)),
                None => FileBackend::open_with(path, &options),
            };
            Arc::new(JournalStorage::new(backend.expect("open")).expect("replay"))
        }
        Setup::Optuna(kind) => {
            let options = OptunaFileOptions {
                lock: OptunaLockOptions { kind, ..OptunaLockOptions::default() },
                ..OptunaFileOptions::default()
            };
            let backend = match faults {
                Some(f) => OptunaJournalFile::open_with_faults(path, &options, Arc::clone(f)),
                None => OptunaJournalFile::open_with(path, &options),
            };
            Arc::new(JournalStorage::new(backend.expect("open")).expect("replay"))
        }
    }
}

fn journal_name(setup: Setup) -> &'static str {
    match setup {
        Setup::Trialog(_) => "j.journal",
        Setup::Optuna(_) => "j.log",
    }
}

/// Runs `steps` with one handle per client and returns what every call returned.
fn run(clients: &[Arc<dyn Storage>], steps: &[Step]) -> Vec<String> {
    let dist = Distribution::float(0.0, 1.0, false, None).unwrap();
    let study = clients[0].create_new_study(&[StudyDirection::Minimize], Some("s")).unwrap();
    let mut results = vec![format!("study {study}")];
    let mut trials: Vec<u64> = Vec::new(); // every trial id a call returned, in order
    for step in steps {
        let storage = &clients[step.client];
        let target = (!trials.is_empty()).then(|| trials[step.pick % trials.len()]);
        let result = match (step.action, target) {
            (0, _) | (_, None) => storage.create_new_trial(study, None).map(|id| {
                trials.push(id);
                format!("trial {id}")
            }),
            (1, Some(t)) => {
                let name = format!("x{}", step.pick % 3);
                storage.set_trial_param(t, &name, step.value, &dist).map(|()| "param".into())
            }
            (2, Some(t)) => storage
                .set_trial_user_attr(t, "a", AttrValue::Float(step.value))
                .map(|()| "attr".into()),
            (_, Some(t)) => storage
                .set_trial_state_values(t, TrialState::Complete, Some(&[step.value]))
                .map(|set| format!("complete {set}")),
        };
        // Errors are results too (a finished trial refuses updates): compared by kind.
        results.push(result.unwrap_or_else(|e| format!("error {}", kind_of(&e))));
    }
    results
}

fn kind_of(e: &trialog::Error) -> String {
    format!("{e:?}").split([' ', '(', '{']).next().unwrap_or_default().to_owned()
}

/// The trials of study 0 without their datetimes (which differ from run to run).
fn trials_of(storage: &dyn Storage) -> Vec<FrozenTrial> {
    let mut trials: Vec<FrozenTrial> = storage
        .get_all_trials(0, None)
        .expect("replay")
        .iter()
        .map(|t| FrozenTrial::clone(t))
        .collect();
    for t in &mut trials {
        t.datetime_start = None;
        t.datetime_complete = None;
    }
    trials
}

/// Runs `steps` on a local disk and through simulated network clients, and checks the
/// invariants of this file.
fn check(setup: Setup, steps: &[Step]) -> Result<(), TestCaseError> {
    let local_dir = tempfile::tempdir().unwrap();
    let local_path = local_dir.path().join(journal_name(setup));
    let local: Vec<_> = (0..CLIENTS).map(|_| open(&local_path, setup, None)).collect();
    let expected_results = run(&local, steps);
    let expected = trials_of(&*open(&local_path, setup, None));

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(journal_name(setup));
    let injectors: Vec<_> =
        (0..CLIENTS).map(|_| FaultInjector::network_client(NetClientOptions::default())).collect();
    let clients: Vec<_> = injectors.iter().map(|f| open(&path, setup, Some(f))).collect();
    let results = run(&clients, steps);
    prop_assert_eq!(
        &results,
        &expected_results,
        "calls returned other results than on a local disk"
    );
    // The server file, read by a plain reader, and a new handle of every client.
    prop_assert_eq!(&trials_of(&*open(&path, setup, None)), &expected, "the server file");
    for (i, f) in injectors.iter().enumerate() {
        prop_assert_eq!(&trials_of(&*open(&path, setup, Some(f))), &expected, "client {}", i);
    }
    Ok(())
}

fn config() -> ProptestConfig {
    let cases = std::env::var("TRIALOG_NETFS_CASES").ok().and_then(|v| v.parse().ok());
    ProptestConfig { cases: cases.unwrap_or(12), ..ProptestConfig::default() }
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn advisory_lock_over_caching_clients(steps in steps()) {
        check(Setup::Trialog(LockKind::Advisory), &steps)?;
    }

    #[test]
    fn open_file_lock_over_caching_clients(steps in steps()) {
        check(Setup::Trialog(LockKind::OpenFile), &steps)?;
    }

    #[test]
    fn optuna_open_file_lock_over_caching_clients(steps in steps()) {
        check(Setup::Optuna(OptunaLockKind::OpenFile), &steps)?;
    }
}

// The symlink kinds need symbolic links (a privilege on Windows).
#[cfg(unix)]
proptest! {
    #![proptest_config(config())]

    #[test]
    fn symlink_lock_over_caching_clients(steps in steps()) {
        check(Setup::Trialog(LockKind::Symlink), &steps)?;
    }

    #[test]
    fn optuna_symlink_lock_over_caching_clients(steps in steps()) {
        check(Setup::Optuna(OptunaLockKind::Symlink), &steps)?;
    }
}

/// The smallest case of the hazard, spelled out: client B caches the journal, client A appends,
/// B appends. B must append after A's frame, not over it.
#[test]
fn a_client_with_an_old_cached_length_appends_after_the_others_frames() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("j.journal");
    let a = FaultInjector::network_client(NetClientOptions::default());
    let b = FaultInjector::network_client(NetClientOptions::default());
    let setup = Setup::Trialog(LockKind::OpenFile);
    let on_a = open(&path, setup, Some(&a));
    let study = on_a.create_new_study(&[StudyDirection::Minimize], Some("s")).unwrap();
    let on_b = open(&path, setup, Some(&b)); // B caches the journal as it is now
    let first = on_a.create_new_trial(study, None).unwrap();
    let second = on_b.create_new_trial(study, None).unwrap();
    assert_eq!((first, second), (0, 1), "B saw A's trial before creating its own");
    let on_disk = open(&path, setup, None);
    let numbers: Vec<u64> = trials_of(&*on_disk).iter().map(|t| t.number).collect();
    assert_eq!(numbers, [0, 1], "both acknowledged trials are in the server file");
}
