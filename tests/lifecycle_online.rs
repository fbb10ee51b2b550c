//! Fork and backup while 4 writer processes write: every operation acknowledged before the fork
//! or backup started is in its result (up to its cut point), and every result verifies clean.
//! Run on a trialog journal and on an Optuna journal.

mod mp_common;

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use mp_common::{ChildEnv, ChildProc, Spawn, report, report_done, value_of, x_of};
use trialog::lifecycle::{BackupOptions, ForkOptions, backup, fork_study};
use trialog::recover::{self, Verdict};
use trialog::{
    AnyJournalFile, JournalStorage, LockKind, ParamValue, Storage, StudyDirection, TrialState,
};

const STUDY: &str = "online";
const WRITERS: u64 = 4;
const FORMAT_VAR: &str = "TRIALOG_MP_FORMAT";
const WORKER_VAR: &str = "TRIALOG_MP_WORKER";
const STOP_VAR: &str = "TRIALOG_MP_STOP";
/// A writer stops after this many trials even if never told to.
const MAX_TRIALS: u64 = 3000;

fn open(path: &Path, optuna: bool) -> Arc<dyn Storage> {
    if optuna {
        Arc::new(JournalStorage::open_optuna(path).unwrap())
    } else {
        Arc::new(
            JournalStorage::open_with(
                path,
                &mp_common::file_options(LockKind::Advisory, Duration::from_secs(2)),
            )
            .unwrap(),
        )
    }
}

/// Child: create, set `x`, complete, report `ack <number>`; until the stop file exists.
fn writer(env: &ChildEnv) {
    let optuna = ChildEnv::var(FORMAT_VAR) == "optuna";
    let worker = ChildEnv::parsed(WORKER_VAR);
    let stop = ChildEnv::var(STOP_VAR);
    let storage = open(&env.journal, optuna);
    let study = storage.get_study_id_from_name(STUDY).unwrap();
    let dist = mp_common::x_distribution();
    for i in 0..MAX_TRIALS {
        if Path::new(&stop).exists() {
            break;
        }
        let x = x_of(worker, i);
        let id = storage.create_new_trial(study, None).unwrap();
        storage.set_trial_param(id, "x", x, &dist).unwrap();
        storage.set_trial_state_values(id, TrialState::Complete, Some(&[value_of(x)])).unwrap();
        report(&format!("ack {} {x}", storage.get_trial_number_from_id(id).unwrap()));
    }
    report_done();
}

/// Acknowledged trials (number -> x) reported so far by every writer.
fn acked(children: &mut [ChildProc], into: &mut BTreeMap<u64, f64>) {
    for c in children.iter_mut() {
        for line in c.drain() {
            let mut parts = line.split(' ');
            assert_eq!(parts.next(), Some("ack"), "{line}");
            let number = parts.next().unwrap().parse().unwrap();
            let x = parts.next().unwrap().parse().unwrap();
            into.insert(number, x);
        }
    }
}

/// Waits until `n` more trials were acknowledged; returns every acknowledgement so far.
fn wait_for(children: &mut [ChildProc], acks: &mut BTreeMap<u64, f64>, n: usize) {
    let want = acks.len() + n;
    let deadline = Instant::now() + Duration::from_secs(120);
    while acks.len() < want {
        assert!(Instant::now() < deadline, "writers stalled at {} acks", acks.len());
        std::thread::sleep(Duration::from_millis(20));
        acked(children, acks);
    }
}

/// Asserts that `storage`'s study `name` holds every trial of `acks` (up to `upto`) COMPLETE
/// with its `x` and value.
fn holds(storage: &dyn Storage, name: &str, acks: &BTreeMap<u64, f64>, upto: u64, what: &str) {
    let id = storage.get_study_id_from_name(name).unwrap();
    let trials = storage.get_all_trials(id, None).unwrap();
    for (&number, &x) in acks.range(..=upto) {
        let t = trials.get(number as usize).unwrap_or_else(|| panic!("{what}: no trial {number}"));
        assert_eq!(t.state, TrialState::Complete, "{what}: trial {number}");
        assert_eq!(t.params.get("x"), Some(&ParamValue::Float(x)), "{what}: trial {number}");
        assert_eq!(t.values.as_deref(), Some(&[value_of(x)][..]), "{what}: trial {number}");
    }
}

/// The backup's state, read as any journal is.
fn replay_backup(dest: &Path) -> Arc<dyn Storage> {
    Arc::new(JournalStorage::new(AnyJournalFile::open_existing(dest).unwrap()).unwrap())
}

fn clean(path: &Path) {
    let report = recover::verify(path).unwrap();
    assert_eq!(report.verdict(), Verdict::Clean, "{}: {report:?}", path.display());
    assert_eq!(report.operations_ignored, 0, "{}", path.display());
}

fn online(test: &str, optuna: bool) {
    let dir = tempfile::tempdir().unwrap();
    let journal = dir.path().join("study.journal");
    let stop = dir.path().join("stop");
    let dest = dir.path().join("backup.journal");
    let storage = open(&journal, optuna);
    storage.create_new_study(&[StudyDirection::Minimize], Some(STUDY)).unwrap();
    let format = if optuna { "optuna" } else { "trialog" };
    let mut children: Vec<ChildProc> = (0..WRITERS)
        .map(|w| {
            Spawn::new(test, "writer", &journal, LockKind::Advisory)
                .var(FORMAT_VAR, &format)
                .var(WORKER_VAR, &w)
                .var(STOP_VAR, &stop.display())
                .spawn(format!("writer {w}"))
        })
        .collect();
    let mut acks = BTreeMap::new();
    wait_for(&mut children, &mut acks, 80);

    // A backup while they write holds everything acknowledged before it started.
    let before = acks.clone();
    let first =
        backup(&journal, &dest, &BackupOptions { verify: true, ..BackupOptions::default() })
            .unwrap();
    holds(&*replay_backup(&dest), STUDY, &before, u64::MAX, "first backup");
    clean(&dest);

    // So does a fork at the highest acknowledged number.
    acked(&mut children, &mut acks);
    let before = acks.clone();
    let at = *before.keys().next_back().unwrap();
    let options = ForkOptions { at, to_name: "fork".into(), keep_waiting: false };
    let fork = fork_study(&*storage, STUDY, &*storage, &options).unwrap();
    assert_eq!(fork.trials as u64, at + 1);
    holds(&*storage, "fork", &before, at, "fork");

    // An incremental backup a little later appends, and holds the newer acknowledgements.
    wait_for(&mut children, &mut acks, 80);
    let before = acks.clone();
    let second = backup(&journal, &dest, &BackupOptions::default()).unwrap();
    assert_eq!(second.previous, first.cut);
    assert!(second.cut > first.cut);
    holds(&*replay_backup(&dest), STUDY, &before, u64::MAX, "second backup");
    clean(&dest);

    std::fs::write(&stop, b"").unwrap();
    for c in &mut children {
        for line in c.finish_ok(Duration::from_secs(120)) {
            let mut parts = line.split(' ');
            parts.next();
            let number = parts.next().unwrap().parse().unwrap();
            acks.insert(number, parts.next().unwrap().parse().unwrap());
        }
    }
    // With the writers gone the backup catches up to the whole journal.
    let last = backup(&journal, &dest, &BackupOptions { verify: true, ..BackupOptions::default() })
        .unwrap();
    assert_eq!(last.previous, second.cut);
    assert_eq!(std::fs::read(&dest).unwrap(), std::fs::read(&journal).unwrap());
    holds(&*replay_backup(&dest), STUDY, &acks, u64::MAX, "last backup");
    clean(&journal);
    // The fork's finished trials are the original's.
    let original =
        storage.get_all_trials(storage.get_study_id_from_name(STUDY).unwrap(), None).unwrap();
    let forked =
        storage.get_all_trials(storage.get_study_id_from_name("fork").unwrap(), None).unwrap();
    for f in forked.iter().filter(|t| t.state.is_finished()) {
        let o = &original[f.number as usize];
        assert_eq!(
            (&f.params, &f.values, f.datetime_complete),
            (&o.params, &o.values, o.datetime_complete)
        );
    }
}

#[test]
fn fork_and_backup_while_four_writers_write_a_trialog_journal() {
    if let Some(env) = ChildEnv::get() {
        return writer(&env);
    }
    online(mp_common::test_name!(), false);
}

#[test]
fn fork_and_backup_while_four_writers_write_an_optuna_journal() {
    if let Some(env) = ChildEnv::get() {
        return writer(&env);
    }
    online(mp_common::test_name!(), true);
}
