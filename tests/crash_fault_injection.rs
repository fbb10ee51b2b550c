//! Faults of the file system calls under the file backend (cargo feature `fault-injection`).
//!
//! Invariants: short writes, `EINTR` and one-byte reads are not failures: they are retried as
//! POSIX allows and the journal ends up byte-for-byte what it would be without them. `ENOSPC` or
//! `EIO` from a write and `EIO` from `fdatasync` reach the caller as [`Error::Poisoned`] naming the
//! journal, the failed call and the OS error; the handle then refuses every later call, even once
//! the fault is gone (a retried fsync may report a success it did not achieve). Nothing that was
//! acknowledged is lost: a fresh handle opens the journal, holds every acknowledged operation
//! (and at most the one that failed), and appends again. A failed read or `fstat` is an
//! [`Error::Io`] naming the journal and does not poison (nothing was written).
#![cfg(feature = "fault-injection")]

mod common;

use std::path::Path;
use std::sync::Arc;

use common::{FileJournal, frame_boundaries, state_of};
use trialog::backend::fault::{Action, FaultInjector, IoEvent, IoOp, Rule};
use trialog::replay::ReplayState;
use trialog::{
    AttrValue, Error, FileBackend, FileOptions, JournalStorage, StudyDirection, TrialState,
};

fn open_faulty(path: &Path, faults: &Arc<FaultInjector>) -> JournalStorage<FileBackend> {
    let backend = FileBackend::open_with_faults(path, &FileOptions::default(), faults.clone())
        .expect("open with fault injection");
    JournalStorage::new(backend).expect("replay")
}

/// A small workload: a study, then `trials` trials each with a parameter, an intermediate value
/// and a final value. Returns the study id and the state after every acknowledged call.
fn workload(s: &JournalStorage<FileBackend>, trials: u32) -> (u64, Vec<ReplayState>) {
    let dist = common::float(0.0, 10.0);
    let mut states = Vec::new();
    let study = s.create_new_study(&[StudyDirection::Minimize], Some("faults")).unwrap();
    states.push(state_of(s));
    for i in 0..trials {
        let t = s.create_new_trial(study, None).unwrap();
        states.push(state_of(s));
        s.set_trial_param(t, "x", f64::from(i), &dist).unwrap();
        states.push(state_of(s));
        s.set_trial_intermediate_value(t, 0, f64::from(i) / 2.0).unwrap();
        states.push(state_of(s));
        assert!(s.set_trial_state_values(t, TrialState::Complete, Some(&[f64::from(i)])).unwrap());
        states.push(state_of(s));
    }
    (study, states)
}

fn write_events(faults: &FaultInjector) -> usize {
    faults.trace().iter().filter(|e| matches!(e, IoEvent::Write { .. })).count()
}

#[test]
fn short_writes_eintr_and_one_byte_reads_are_not_failures() {
    let journal = FileJournal::new();
    let faults = FaultInjector::new();
    faults.record();
    // Every write transfers at most 3 bytes, and 20 of them are interrupted first; every read
    // returns one byte, and 20 reads are interrupted.
    faults.add(Rule::new(IoOp::Write, Action::Fail(libc::EINTR)).after(2).times(20));
    faults.add(Rule::new(IoOp::Write, Action::Short(3)));
    faults.add(Rule::new(IoOp::Read, Action::Fail(libc::EINTR)).after(5).times(20));
    faults.add(Rule::new(IoOp::Read, Action::Short(1)));
    let s = open_faulty(journal.path(), &faults);
    let (_, states) = workload(&s, 5);
    let last = states.last().unwrap();

    // The faults really happened: one event per 3 bytes written.
    let bytes = journal.bytes();
    assert!(write_events(&faults) >= bytes.len() / 3, "writes were not shortened");
    // 1 header + 21 frames, back to back, nothing else.
    assert_eq!(frame_boundaries(&bytes).len(), 22);
    assert_eq!(*frame_boundaries(&bytes).last().unwrap(), bytes.len());

    // A fresh plain handle and a fresh one-byte-read handle replay the same state.
    assert!(state_of(&journal.open()) == *last);
    assert!(state_of(&open_faulty(journal.path(), &faults)) == *last);
    // The faulty handle keeps working.
    s.create_new_study(&[StudyDirection::Maximize], Some("more")).unwrap();
    assert_eq!(journal.open().get_all_studies().unwrap().len(), 2);
}

/// What a failure does to the handle and the journal, for one injected fault.
struct Case {
    what: &'static str,
    rule: Rule,
    op: &'static str,
    errno: i32,
    /// Whether the failed operation may be in the journal afterwards (its frame was written
    /// completely before the sync failed).
    may_persist: bool,
}

fn cases() -> Vec<Case> {
    vec![
        Case {
            what: "ENOSPC on write",
            rule: Rule::new(IoOp::Write, Action::Fail(libc::ENOSPC)).once(),
            op: "write",
            errno: libc::ENOSPC,
            may_persist: false,
        },
        Case {
            what: "EIO on write",
            rule: Rule::new(IoOp::Write, Action::Fail(libc::EIO)).once(),
            op: "write",
            errno: libc::EIO,
            may_persist: false,
        },
        Case {
            // The first call writes 5 bytes, the second fails: a torn frame is left behind.
            what: "ENOSPC after a partial write",
            rule: Rule::new(IoOp::Write, Action::Fail(libc::ENOSPC)).after(1).once(),
            op: "write",
            errno: libc::ENOSPC,
            may_persist: false,
        },
        Case {
            what: "EIO on fsync",
            rule: Rule::new(IoOp::Sync, Action::Fail(libc::EIO)).once(),
            op: "fsync",
            errno: libc::EIO,
            may_persist: true,
        },
    ]
}

#[test]
fn failed_write_or_fsync_poisons_the_handle_and_loses_nothing_acknowledged() {
    for case in cases() {
        let what = case.what;
        let journal = FileJournal::new();
        let faults = FaultInjector::new();
        let s = open_faulty(journal.path(), &faults);
        let (study, states) = workload(&s, 2);
        let acked = states.last().unwrap().clone();
        let trial = s.create_new_trial(study, None).unwrap();
        let acked_with_trial = state_of(&s);
        let acked_bytes = journal.len();

        if case.what.contains("partial") {
            faults.add(Rule::new(IoOp::Write, Action::Short(5)).once());
        }
        faults.add(case.rule.clone());
        let err =
            s.set_trial_state_values(trial, TrialState::Complete, Some(&[42.0])).expect_err(what);
        let is_latched = |e: &Error| {
            matches!(e, Error::Poisoned { path, op, source }
                if path == journal.path() && *op == case.op
                    && source.raw_os_error() == Some(case.errno))
        };
        assert!(is_latched(&err), "{what}: {err:?}");
        let text = err.to_string();
        assert!(text.contains(&journal.path().display().to_string()), "{what}: {text}");
        assert!(text.contains("reopen"), "{what}: {text}");
        if case.what.contains("partial") {
            assert_eq!(journal.len(), acked_bytes + 5, "{what}: the partial write is on disk");
        }

        // The fault is gone, but the handle never trusts itself again: reads and writes refuse.
        faults.clear();
        let later = [
            s.get_trial(trial).unwrap_err(),
            s.sync().unwrap_err(),
            s.set_trial_user_attr(trial, "k", AttrValue::Int(1)).unwrap_err(),
            s.create_new_study(&[StudyDirection::Minimize], Some("other")).unwrap_err(),
        ];
        for e in &later {
            assert!(is_latched(e), "{what}: after poisoning: {e:?}");
        }

        // A fresh handle: every acknowledged operation, and the failed one only if it was
        // written whole before a failed fsync.
        let fresh = journal.open();
        let seen = state_of(&fresh);
        let completed = fresh.get_trial(trial).unwrap().state == TrialState::Complete;
        if completed {
            assert!(case.may_persist, "{what}: a failed write's operation was replayed");
        } else {
            assert!(seen == acked_with_trial, "{what}: acknowledged operations differ");
        }
        assert!(seen.studies().count() == acked.studies().count());
        // It appends again (repairing a torn tail first), and a reopen sees everything.
        let t2 = fresh.create_new_trial(study, None).unwrap();
        fresh.set_trial_user_attr(t2, "after", AttrValue::Bool(true)).unwrap();
        let reopened = journal.open();
        assert!(state_of(&reopened) == state_of(&fresh), "{what}: reopen differs");
        assert_eq!(reopened.get_n_trials(study, None).unwrap(), 4, "{what}");
    }
}

#[test]
fn failed_repair_write_poisons_and_the_next_handle_repairs() {
    //! The padding written over a torn tail goes through the same poisoning write path.
    let journal = FileJournal::new();
    let faults = FaultInjector::new();
    let s = open_faulty(journal.path(), &faults);
    let (study, states) = workload(&s, 1);
    // A torn tail: the first 7 bytes of a frame.
    faults.add(Rule::new(IoOp::Write, Action::Short(7)).once());
    faults.add(Rule::new(IoOp::Write, Action::Fail(libc::EIO)).after(1).once());
    assert!(s.create_new_trial(study, None).is_err());
    faults.clear();
    let second = open_faulty(journal.path(), &faults);
    assert!(state_of(&second) == *states.last().unwrap(), "torn tail was replayed");
    // The repair (padding) write fails: poisoned, nothing acknowledged.
    faults.add(Rule::new(IoOp::Write, Action::Fail(libc::ENOSPC)).once());
    let e = second.create_new_trial(study, None).unwrap_err();
    assert!(matches!(e, Error::Poisoned { op: "write", .. }), "{e:?}");
    faults.clear();
    let third = open_faulty(journal.path(), &faults);
    let t = third.create_new_trial(study, None).unwrap();
    assert_eq!(journal.open().get_trial(t).unwrap().number, 1);
}

#[test]
fn failed_read_or_stat_is_an_io_error_that_does_not_poison() {
    let journal = FileJournal::new();
    let faults = FaultInjector::new();
    let s = open_faulty(journal.path(), &faults);
    let (study, _) = workload(&s, 1);
    let writer = journal.open();
    writer.create_new_trial(study, None).unwrap(); // something new for `s` to read

    faults.add(Rule::new(IoOp::Read, Action::Fail(libc::EIO)).once());
    let e = s.get_all_trials(study, None).unwrap_err();
    assert!(
        matches!(&e, Error::Io { path, op: "read", source }
            if path == journal.path() && source.raw_os_error() == Some(libc::EIO)),
        "{e:?}"
    );
    faults.add(Rule::new(IoOp::Len, Action::Fail(libc::EIO)).once());
    let e = s.create_new_trial(study, None).unwrap_err();
    assert!(matches!(&e, Error::Io { path, op: "stat", .. } if path == journal.path()), "{e:?}");
    // Nothing was written, so the handle is fine once the fault is gone.
    assert_eq!(s.get_n_trials(study, None).unwrap(), 2);
    s.create_new_trial(study, None).unwrap();
    assert_eq!(journal.open().get_n_trials(study, None).unwrap(), 3);
}

#[test]
fn an_append_looks_at_the_journal_once() {
    //! The catch-up read and the append of one write share one size check (which is also the
    //! replaced-journal check): a durable operation is one `stat`, one `pwrite`, one `fdatasync`.
    let journal = FileJournal::new();
    let faults = FaultInjector::new();
    let s = open_faulty(journal.path(), &faults);
    let (study, _) = workload(&s, 1);
    let before = faults.calls();
    for i in 0..5 {
        let t = s.create_new_trial(study, None).unwrap();
        // (The number of values is checked under the lock too, not by a read of its own.)
        assert!(s.set_trial_state_values(t, TrialState::Complete, Some(&[f64::from(i)])).unwrap());
    }
    assert_eq!(faults.calls() - before, 10 * 3, "journal calls for 10 appends");
    // Another writer appends meanwhile: the catch-up costs one read on top.
    journal.open().create_new_trial(study, None).unwrap();
    let before = faults.calls();
    s.create_new_trial(study, None).unwrap();
    assert_eq!(faults.calls() - before, 4, "stat, read of the other's frame, write, sync");
    assert_eq!(s.get_n_trials(study, None).unwrap(), 8);
}

#[test]
fn injected_disk_full_is_a_clear_error_and_appends_work_again_once_there_is_room() {
    //! Every write fails with ENOSPC ("disk full") until the rule is removed ("room freed").
    let journal = FileJournal::new();
    let faults = FaultInjector::new();
    let s = open_faulty(journal.path(), &faults);
    let (study, states) = workload(&s, 2);
    faults.add(Rule::new(IoOp::Write, Action::Fail(libc::ENOSPC)));
    let e = s.create_new_trial(study, None).unwrap_err();
    assert!(e.to_string().contains("No space left on device"), "{e}");
    assert!(e.to_string().contains(&journal.path().display().to_string()), "{e}");
    // A fresh handle while the disk is still full: opens, reads, and fails its own append.
    let second = open_faulty(journal.path(), &faults);
    assert!(state_of(&second) == *states.last().unwrap());
    assert!(matches!(second.create_new_trial(study, None), Err(Error::Poisoned { .. })));
    // Room again: a fresh handle appends.
    faults.clear();
    let third = open_faulty(journal.path(), &faults);
    third.create_new_trial(study, None).unwrap();
    assert_eq!(journal.open().get_n_trials(study, None).unwrap(), 3);
}

#[test]
fn journal_linked_by_a_creator_that_died_before_syncing_its_directory() {
    //! A creator that hard-linked the new journal into place but failed (or died) before
    //! syncing the directory leaves an entry that a power loss can remove. The next handle to
    //! append must sync the directory before its first frame, or its acknowledged append could
    //! vanish with the entry.
    let journal = FileJournal::new();
    let faults = FaultInjector::new();
    faults.record();
    faults.add(Rule::new(IoOp::SyncDir, Action::Fail(libc::EIO)).once());
    let e = FileBackend::open_with_faults(journal.path(), &FileOptions::default(), faults.clone())
        .unwrap_err();
    assert!(
        matches!(&e, Error::Io { op: "fsync directory", path, .. } if path == journal.dir()),
        "{e:?}"
    );
    assert!(journal.path().exists(), "the journal was linked before the directory sync");

    let s = open_faulty(journal.path(), &faults);
    s.create_new_study(&[StudyDirection::Minimize], Some("after")).unwrap();
    let trace = faults.trace();
    let link = trace.iter().position(|e| matches!(e, IoEvent::Link { .. })).unwrap();
    let first_journal_write = trace
        .iter()
        .position(|e| matches!(e, IoEvent::Write { path, .. } if path == journal.path()))
        .unwrap();
    assert!(
        trace[link..first_journal_write].iter().any(|e| matches!(e, IoEvent::SyncDir { .. })),
        "the directory was not synced between the link and the first append: {trace:?}"
    );
    // Only once per handle.
    s.create_new_study(&[StudyDirection::Minimize], Some("again")).unwrap();
    let syncs = faults.trace().iter().filter(|e| matches!(e, IoEvent::SyncDir { .. })).count();
    assert_eq!(syncs, 1);
}

#[test]
fn failed_directory_sync_before_the_first_append_poisons() {
    let journal = FileJournal::new();
    drop(journal.open()); // created (and its directory synced) by another handle
    let faults = FaultInjector::new();
    let s = open_faulty(journal.path(), &faults);
    faults.add(Rule::new(IoOp::SyncDir, Action::Fail(libc::EIO)).once());
    let e = s.create_new_study(&[StudyDirection::Minimize], Some("x")).unwrap_err();
    assert!(matches!(&e, Error::Poisoned { op: "fsync directory", .. }), "{e:?}");
    assert!(matches!(s.get_all_studies(), Err(Error::Poisoned { .. })));
    assert_eq!(journal.len(), 16, "nothing but the header");
}
