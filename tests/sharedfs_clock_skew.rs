//! Heartbeats across hosts whose clocks disagree, simulated (cargo feature `fault-injection`):
//! workers on simulated network file system clients whose wall clocks are 10 minutes behind and
//! 10 minutes ahead of the sweeper's, beside a sweeper whose clock is right.
//!
//! Invariants: a live worker's trial is never failed, whatever its clock says; a dead worker's
//! trial is failed once its heartbeats have stood still for the grace period on the sweeper's
//! own clock, whatever its clock said. Under the old wall-clock rule the worker behind was
//! failed at the first sweep and the dead worker ahead was never failed.
#![cfg(feature = "fault-injection")]

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use trialog::backend::fault::FaultInjector;
use trialog::backend::netfs::NetClientOptions;
use trialog::{
    FileBackend, FileOptions, HeartbeatOptions, JournalStorage, LockKind, LockOptions,
    StudyDirection, TrialState,
};

const MINUTE_MICROS: i64 = 60_000_000;
const INTERVAL: Duration = Duration::from_millis(50);
const GRACE: Duration = Duration::from_millis(1000);

fn client(path: &std::path::Path, kind: LockKind, offset_micros: i64) -> JournalStorage {
    let faults = FaultInjector::network_client(NetClientOptions {
        clock_offset_micros: offset_micros,
        ..NetClientOptions::default()
    });
    let options = FileOptions {
        lock: LockOptions { kind, ..LockOptions::default() },
        ..FileOptions::default()
    };
    let backend = FileBackend::open_with_faults(path, &options, faults.clone()).unwrap();
    let offset = faults.client().unwrap().clock_offset_micros();
    JournalStorage::new(backend)
        .unwrap()
        .with_clock_offset(offset)
        .with_heartbeat(HeartbeatOptions { interval: INTERVAL, grace_period: GRACE })
}

/// Sweeps every `INTERVAL` until `until` returns true or `limit` passes; returns every trial the
/// sweeps failed.
fn sweep(
    sweeper: &JournalStorage,
    study: u64,
    limit: Duration,
    until: impl Fn(&[u64]) -> bool,
) -> Vec<u64> {
    let start = Instant::now();
    let mut failed = Vec::new();
    while start.elapsed() < limit && !until(&failed) {
        failed.extend(sweeper.fail_stale_trials(study, GRACE).unwrap());
        std::thread::sleep(INTERVAL);
    }
    failed
}

fn skewed_workers(kind: LockKind) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("j.journal");
    let sweeper = client(&path, kind, 0);
    let behind = client(&path, kind, -10 * MINUTE_MICROS);
    let ahead = client(&path, kind, 10 * MINUTE_MICROS);
    let study = sweeper.create_new_study(&[StudyDirection::Minimize], Some("s")).unwrap();
    let slow_trial = behind.create_new_trial(study, None).unwrap();
    let fast_trial = ahead.create_new_trial(study, None).unwrap();
    let (behind_alive, ahead_alive) = (AtomicBool::new(true), AtomicBool::new(true));

    /// Beats until told to stop (or until the trial is finished: a wrongly failed trial ends it).
    fn beat(storage: &JournalStorage, trial: u64, alive: &AtomicBool) {
        while alive.load(Ordering::Relaxed) && storage.record_heartbeat(trial).is_ok() {
            std::thread::sleep(INTERVAL);
        }
    }
    /// Stops both workers when dropped, also when an assertion fails (else the scope would wait
    /// for them forever).
    struct StopAll<'a>(&'a AtomicBool, &'a AtomicBool);
    impl Drop for StopAll<'_> {
        fn drop(&mut self) {
            self.0.store(false, Ordering::Relaxed);
            self.1.store(false, Ordering::Relaxed);
        }
    }
    std::thread::scope(|scope| {
        let _stop = StopAll(&behind_alive, &ahead_alive);
        scope.spawn(|| beat(&behind, slow_trial, &behind_alive));
        scope.spawn(|| beat(&ahead, fast_trial, &ahead_alive));

        // Both live for three grace periods: the sweeper fails neither.
        let failed = sweep(&sweeper, study, 3 * GRACE, |f| !f.is_empty());
        assert_eq!(failed, Vec::<u64>::new(), "a live worker's trial was failed");

        // The worker ahead dies: its trial is failed, the one behind still lives.
        ahead_alive.store(false, Ordering::Relaxed);
        let failed = sweep(&sweeper, study, 10 * GRACE, |f| f.contains(&fast_trial));
        assert_eq!(failed, vec![fast_trial], "the dead worker (clock ahead) was not failed alone");

        // The worker behind dies too.
        behind_alive.store(false, Ordering::Relaxed);
        let failed = sweep(&sweeper, study, 10 * GRACE, |f| f.contains(&slow_trial));
        assert_eq!(failed, vec![slow_trial], "the dead worker (clock behind) was not failed");
    });
    for trial in [slow_trial, fast_trial] {
        assert_eq!(sweeper.get_trial(trial).unwrap().state, TrialState::Fail);
    }
}

#[test]
fn skewed_clocks_with_the_advisory_lock() {
    skewed_workers(LockKind::Advisory);
}

#[test]
fn skewed_clocks_with_the_open_file_lock() {
    skewed_workers(LockKind::OpenFile);
}

/// A sweeper that just started fails at once the trial of a worker dead for a day (the
/// wall-clock fallback), and not a live trial of a worker whose clock is minutes behind.
#[test]
fn a_new_sweeper_fails_long_dead_trials_at_once_and_not_live_ones_behind() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("j.journal");
    let yesterday = client(&path, LockKind::Advisory, -24 * 60 * MINUTE_MICROS);
    let behind = client(&path, LockKind::Advisory, -10 * MINUTE_MICROS);
    let study = yesterday.create_new_study(&[StudyDirection::Minimize], Some("s")).unwrap();
    let dead = yesterday.create_new_trial(study, None).unwrap();
    let live = behind.create_new_trial(study, None).unwrap();
    let sweeper = client(&path, LockKind::Advisory, 0);
    assert_eq!(sweeper.fail_stale_trials(study, GRACE).unwrap(), vec![dead]);
    assert_eq!(sweeper.get_trial(live).unwrap().state, TrialState::Running);
}
