//! `trialog compact` killed or failing at any point leaves the journal either the old file or
//! the new one, complete (docs/RECOVERY.md, "Compaction after a crash"): with the fault-injection
//! seam (each step of writing the new journal fails, or is held while the test looks), and with
//! `kill -9` of the `trialog compact` process at spread-out moments.

mod common;
mod py_common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use trialog::compact::{CompactOptions, compact};
use trialog::{JournalStorage, MemoryBackend, StudyDirection, TrialState};

/// A journal of `trials` W1-shape trials (5 operations each) and a deleted study (built in
/// memory: thousands of durable appends would take the test's time).
fn journal(dir: &Path, trials: u32) -> PathBuf {
    let path = dir.join("crash.journal");
    let s = JournalStorage::new(MemoryBackend::new()).unwrap();
    let gone = s.create_new_study(&[StudyDirection::Minimize], Some("gone")).unwrap();
    s.create_new_trial(gone, None).unwrap();
    let study = s.create_new_study(&[StudyDirection::Minimize], Some("w1")).unwrap();
    s.delete_study(gone).unwrap();
    let x = common::float(-10.0, 10.0);
    for i in 0..trials {
        let t = s.create_new_trial(study, None).unwrap();
        s.set_trial_param(t, "x", f64::from(i % 20) - 10.0, &x).unwrap();
        s.set_trial_param(t, "y", 1.0, &x).unwrap();
        s.set_trial_intermediate_value(t, 0, f64::from(i)).unwrap();
        s.set_trial_state_values(t, TrialState::Complete, Some(&[f64::from(i)])).unwrap();
    }
    std::fs::write(&path, s.backend().to_bytes()).unwrap();
    path
}

/// The bytes `trialog compact` makes of `path` (compacting a copy).
fn compacted_bytes(path: &Path) -> Vec<u8> {
    let copy = path.with_file_name("expected.journal");
    std::fs::copy(path, &copy).unwrap();
    compact(&copy, &CompactOptions::default()).unwrap();
    let bytes = std::fs::read(&copy).unwrap();
    std::fs::remove_file(&copy).unwrap();
    bytes
}

/// The temporary files of compactions in `dir`.
fn leftovers(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".compacting"))
        .collect()
}

#[cfg(feature = "fault-injection")]
mod faults {
    use std::time::Duration;
    use trialog::Error;
    use trialog::backend::fault::{Action, FaultInjector, IoOp, Rule};

    use trialog::compact::{Compacted, compact_with_faults};

    use super::*;

    /// A compaction of `path` on a thread, held at its first `op` (returned once it waits
    /// there; `faults.release(op)` lets it go on).
    fn compaction_held_at(
        path: &Path,
        op: IoOp,
    ) -> (std::thread::JoinHandle<trialog::Result<Compacted>>, std::sync::Arc<FaultInjector>) {
        let faults = FaultInjector::new();
        faults.hold(op);
        let compactor = {
            let (path, faults) = (path.to_owned(), faults.clone());
            std::thread::spawn(move || {
                compact_with_faults(&path, &CompactOptions::default(), faults)
            })
        };
        let start = Instant::now();
        while faults.waiting() == 0 {
            assert!(start.elapsed() < Duration::from_secs(60), "the compaction never got there");
            std::thread::sleep(Duration::from_millis(5));
        }
        (compactor, faults)
    }

    #[test]
    fn a_failing_step_leaves_the_old_journal_or_the_new_one_complete() {
        for op in [IoOp::Create, IoOp::Write, IoOp::Sync, IoOp::Rename, IoOp::SyncDir] {
            let dir = tempfile::tempdir().unwrap();
            let path = journal(dir.path(), 30);
            let old = std::fs::read(&path).unwrap();
            let new = compacted_bytes(&path);
            assert!(new.len() < old.len());
            let dump = py_common::trialog_dump(&path);
            let faults = FaultInjector::new();
            faults.add(Rule::new(op, Action::Fail(libc::EIO)).once());
            match compact_with_faults(&path, &CompactOptions::default(), faults) {
                Err(Error::Io { .. }) => {}
                other => panic!("{op:?} failed, yet the compaction returned {other:?}"),
            }
            // Before the rename nothing changed; a failed directory sync comes after it.
            let expected = if op == IoOp::SyncDir { &new } else { &old };
            assert!(std::fs::read(&path).unwrap() == *expected, "{op:?}: the journal is torn");
            assert_eq!(py_common::trialog_dump(&path), dump, "{op:?}");
            assert!(leftovers(dir.path()).is_empty(), "{op:?}: {:?}", leftovers(dir.path()));
            // The next compaction works.
            compact(&path, &CompactOptions::default()).unwrap();
            assert!(std::fs::read(&path).unwrap() == new, "{op:?}");
        }
    }

    /// Online: a writer appends (through the lock, which the compaction does not hold yet)
    /// while the compaction flushes its compacted copy; the compaction keeps the append, and
    /// the writer's handle goes on in the new journal.
    #[test]
    fn a_write_while_the_compaction_runs_unlocked_is_kept() {
        let dir = tempfile::tempdir().unwrap();
        let path = journal(dir.path(), 30);
        let writer = JournalStorage::open(&path).unwrap();
        let study = writer.get_study_id_from_name("w1").unwrap();
        // Held at the compacted copy's flush, before the lock is taken.
        let (compactor, faults) = compaction_held_at(&path, IoOp::Sync);
        let during = writer.create_new_trial(study, None).unwrap();
        faults.release(IoOp::Sync);
        let done = compactor.join().unwrap().unwrap();
        assert_eq!(done.trials, 32, "{done:?}");
        let after = writer.create_new_trial(study, None).unwrap();
        assert_eq!(after, during + 1);
        let fresh = JournalStorage::open(&path).unwrap();
        assert_eq!(fresh.get_all_trials(study, None).unwrap().len(), 32);
        assert_eq!(fresh.get_trial(during).unwrap().state, TrialState::Running);
        assert!(leftovers(dir.path()).is_empty());
    }

    /// A writer that ignores the lock (an Optuna waiter breaks a lock unchanged for its grace
    /// period) appends during the compaction's final step: the compaction gives up rather than
    /// rename the append away, and the journal keeps it.
    #[test]
    fn a_journal_that_grew_under_the_lock_is_not_replaced() {
        let dir = tempfile::tempdir().unwrap();
        let path = journal(dir.path(), 30);
        // Held at the successor record's rename, under the lock.
        let (compactor, faults) = compaction_held_at(&path, IoOp::Rename);
        // A whole frame (a copy of the last one), appended without the lock.
        let mut grown = std::fs::read(&path).unwrap();
        let ends = common::frame_boundaries(&grown);
        let last = grown[ends[ends.len() - 2]..ends[ends.len() - 1]].to_vec();
        grown.extend_from_slice(&last);
        let mut file = std::fs::OpenOptions::new().append(true).open(&path).unwrap();
        std::io::Write::write_all(&mut file, &last).unwrap();
        faults.release(IoOp::Rename);
        match compactor.join().unwrap() {
            Err(Error::Compaction { reason, .. }) => assert!(reason.contains("grew"), "{reason}"),
            other => panic!("replaced a journal that grew meanwhile: {other:?}"),
        }
        assert!(std::fs::read(&path).unwrap() == grown);
        assert!(leftovers(dir.path()).is_empty());
    }

    /// Held right before the rename: the journal is still the old file, whole; the new one is
    /// complete beside it; writers of other handles wait for the lock.
    #[test]
    fn held_before_the_rename_the_old_journal_is_whole_and_the_new_one_complete() {
        let dir = tempfile::tempdir().unwrap();
        let path = journal(dir.path(), 30);
        let old = std::fs::read(&path).unwrap();
        let new = compacted_bytes(&path);
        let (compactor, faults) = compaction_held_at(&path, IoOp::Rename);
        assert!(std::fs::read(&path).unwrap() == old);
        let tmp = leftovers(dir.path());
        assert_eq!(tmp.len(), 1);
        assert!(std::fs::read(dir.path().join(&tmp[0])).unwrap() == new);
        faults.release(IoOp::Rename);
        let done = compactor.join().unwrap().unwrap();
        assert_eq!(done.bytes_after, new.len() as u64);
        assert!(std::fs::read(&path).unwrap() == new);
        assert!(leftovers(dir.path()).is_empty());
    }
}

/// `kill -9` of `trialog compact` at moments spread over its run: each time the journal is the
/// old file or the compacted one, byte for byte, and replays to the same state; the next
/// compaction removes the killed ones' temporary files.
#[test]
fn killed_at_any_moment_the_journal_is_old_or_new() {
    let dir = tempfile::tempdir().unwrap();
    let path = journal(dir.path(), 3000);
    let old = std::fs::read(&path).unwrap();
    let new = compacted_bytes(&path);
    let dump = py_common::trialog_dump(&path);
    let run = || {
        Command::new(env!("CARGO_BIN_EXE_trialog"))
            .arg("compact")
            .arg(&path)
            .stdout(std::process::Stdio::null())
            .spawn()
            .unwrap()
    };
    // How long one compaction takes here (process start included).
    let start = Instant::now();
    assert!(run().wait().unwrap().success());
    let whole = start.elapsed();
    let (mut saw_old, mut saw_new) = (0, 0);
    for i in 0..16u32 {
        std::fs::write(&path, &old).unwrap();
        let mut child = run();
        std::thread::sleep(whole * i / 12);
        let _ = child.kill(); // SIGKILL; it may have finished already
        let _ = child.wait();
        let now = std::fs::read(&path).unwrap();
        if now == old {
            saw_old += 1;
        } else if now == new {
            saw_new += 1;
        } else {
            panic!(
                "killed after {:?}: the journal is neither the old nor the new file",
                whole * i / 12
            );
        }
        assert_eq!(py_common::trialog_dump(&path), dump);
    }
    eprintln!("killed 16 compactions: {saw_old} left the old journal, {saw_new} the new one");
    std::fs::write(&path, &old).unwrap();
    compact(&path, &CompactOptions::default()).unwrap();
    assert!(std::fs::read(&path).unwrap() == new);
    assert!(leftovers(dir.path()).is_empty(), "{:?}", leftovers(dir.path()));
}
