//! Online compaction (`trialog compact` while other handles read and write the journal,
//! docs/FORMAT.md "Compacted journals"): open handles follow the compacted journal with no
//! error, no lost and no duplicated operation, and the journal shrinks.
//!
//! Unix only: every test here compacts while another handle has the journal open, which Windows
//! refuses (`tests/compact.rs`, `compacting_needs_the_journal_closed_on_windows`, checks what it
//! does there instead).
#![cfg(unix)]

mod mp_common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use mp_common::{ChildEnv, ChildProc, Spawn, report, value_of, x_of};
use trialog::compact::{CompactOptions, compact};
use trialog::{Error, JournalStorage, LockKind, ParamValue, StudyDirection, TrialState};

const STUDY: &str = "online-compaction";

/// One W1-like trial: create, a parameter, complete.
fn one_trial(s: &JournalStorage, study: u64, x: f64) -> u64 {
    let dist = mp_common::x_distribution();
    let id = s.create_new_trial(study, None).unwrap();
    s.set_trial_param(id, "x", x, &dist).unwrap();
    s.set_trial_state_values(id, TrialState::Complete, Some(&[value_of(x)])).unwrap();
    id
}

/// One trial as a handle shows it: trial id, number, state, x, value.
type Seen = (u64, u64, TrialState, Option<ParamValue>, Option<f64>);

/// What a handle shows of the study.
fn view(s: &JournalStorage) -> Vec<Seen> {
    let study = s.get_study_id_from_name(STUDY).unwrap();
    s.get_all_trials(study, None)
        .unwrap()
        .iter()
        .map(|t| (t.trial_id, t.number, t.state, t.params.get("x").cloned(), t.value()))
        .collect()
}

#[test]
fn a_writer_and_a_reader_open_across_a_compaction_go_on_in_the_new_journal() {
    let dir = tempfile::tempdir().unwrap();
    let (path, writer, study) = journal_with(dir.path(), 40);
    let reader = JournalStorage::open(&path).unwrap();
    let running = writer.create_new_trial(study, None).unwrap();
    assert_eq!(view(&reader), view(&writer));
    let before = std::fs::metadata(&path).unwrap().len();

    let done = compact(&path, &CompactOptions::default()).unwrap();
    let after = std::fs::metadata(&path).unwrap().len();
    assert_eq!((done.bytes_before, done.bytes_after), (before, after));
    assert!(after < before / 2, "{after} of {before} bytes");

    // The writer's next writes land in the new journal (no JournalReplaced), the RUNNING
    // trial it created before the compaction is still its to finish, and the reader follows.
    writer.set_trial_state_values(running, TrialState::Complete, Some(&[1.0])).unwrap();
    let next = one_trial(&writer, study, 99.0);
    assert_eq!(next, running + 1, "ids go on where they were");
    assert_eq!(view(&reader), view(&writer));
    assert_eq!(view(&reader).len(), 42);
    // The reader writes too, and the writer sees it.
    one_trial(&reader, study, 7.0);
    assert_eq!(view(&writer), view(&reader));
    // Nothing was appended to the old file: a fresh open of the path sees all of it.
    let fresh = JournalStorage::open(&path).unwrap();
    assert_eq!(view(&fresh), view(&writer));
    assert!(std::fs::metadata(&path).unwrap().len() > after);
}

/// A new journal at `dir/j.journal` with the study and `trials` complete trials, and the
/// handle that wrote them.
fn journal_with(dir: &std::path::Path, trials: u32) -> (std::path::PathBuf, JournalStorage, u64) {
    let path = dir.join("j.journal");
    let writer = JournalStorage::open(&path).unwrap();
    let study = writer.create_new_study(&[StudyDirection::Minimize], Some(STUDY)).unwrap();
    for i in 0..trials {
        one_trial(&writer, study, f64::from(i));
    }
    (path, writer, study)
}

#[test]
fn a_writer_goes_on_through_compactions_between_its_writes() {
    // The writer only writes between compactions (each write follows the one compaction
    // before it); `compact_crash.rs` checks a write made while a compaction runs unlocked.
    let dir = tempfile::tempdir().unwrap();
    let (path, writer, study) = journal_with(dir.path(), 0);
    for round in 0..3 {
        for i in 0..20 {
            one_trial(&writer, study, f64::from(round * 100 + i));
        }
        compact(&path, &CompactOptions::default()).unwrap();
    }
    one_trial(&writer, study, -1.0);
    let fresh = JournalStorage::open(&path).unwrap();
    assert_eq!(view(&fresh), view(&writer));
    assert_eq!(view(&fresh).len(), 61);
}

#[test]
fn a_handle_idle_through_several_compactions_replays_the_new_journal_and_goes_on() {
    let dir = tempfile::tempdir().unwrap();
    let (path, idle, study) = journal_with(dir.path(), 0);
    let mine = idle.create_new_trial(study, None).unwrap(); // a long objective runs meanwhile
    let busy = JournalStorage::open(&path).unwrap();
    for round in 0..3 {
        for i in 0..10 {
            one_trial(&busy, study, f64::from(round * 10 + i));
        }
        compact(&path, &CompactOptions::default()).unwrap();
    }
    let record = std::fs::read(dir.path().join("j.journal.compacted")).unwrap();
    assert_eq!(record.len(), 16 + 3 * 48, "the record remembers the three compactions");
    // The idle handle finishes its trial: it replays the new journal, whose state extends its
    // own, and writes there.
    assert!(idle.set_trial_state_values(mine, TrialState::Complete, Some(&[0.5])).unwrap());
    assert_eq!(view(&idle), view(&busy));
    assert_eq!(view(&idle).len(), 31);
    let fresh = JournalStorage::open(&path).unwrap();
    assert_eq!(view(&fresh), view(&idle));
    assert_eq!(fresh.get_trial(mine).unwrap().state, TrialState::Complete);
}

#[test]
fn without_its_successor_record_a_replaced_journal_is_refused_as_before() {
    let dir = tempfile::tempdir().unwrap();
    let (path, writer, study) = journal_with(dir.path(), 10);
    compact(&path, &CompactOptions::default()).unwrap();
    let record = dir.path().join("j.journal.compacted");
    assert!(record.exists(), "the compaction leaves its successor record");
    std::fs::remove_file(&record).unwrap();
    match writer.create_new_trial(study, None) {
        Err(Error::JournalReplaced { .. }) => {}
        other => panic!("wrote after an unexplained replacement: {other:?}"),
    }
    // A damaged record is not used either.
    let writer = JournalStorage::open(&path).unwrap();
    one_trial(&writer, study, 1.0);
    compact(&path, &CompactOptions::default()).unwrap();
    let mut bytes = std::fs::read(&record).unwrap();
    bytes[20] ^= 1;
    std::fs::write(&record, &bytes).unwrap();
    assert!(matches!(writer.create_new_trial(study, None), Err(Error::JournalReplaced { .. })));
}

const PROCESSES: u64 = 4;
/// Compactions the test runs while the writers write.
const COMPACTIONS: usize = 4;
/// Most trials a writer writes if the test never tells it to stop.
const MAX_TRIALS_PER_PROCESS: u64 = 100_000;
const WORKER_VAR: &str = "TRIALOG_MP_WORKER";

/// The file whose existence tells the writers of `journal` to stop.
fn stop_file(journal: &Path) -> PathBuf {
    journal.with_extension("stop")
}

/// Child: writes trials until the stop file appears, and reports `<trial id> <x>` after each
/// one it completed.
fn writer(env: &ChildEnv) {
    let worker = ChildEnv::parsed(WORKER_VAR);
    let storage = env.open();
    let study = storage.get_study_id_from_name(STUDY).expect("study exists");
    let stop = stop_file(&env.journal);
    for i in 0..MAX_TRIALS_PER_PROCESS {
        if stop.exists() {
            break;
        }
        let x = x_of(worker, i);
        let id = one_trial(&storage, study, x);
        report(&format!("{id} {x}"));
    }
    mp_common::report_done();
}

/// Waits until every writer that has not said "done" reported a trial it completed after the
/// lines already collected (so it wrote after whatever the test did before), and collects
/// every line. Returns whether all have said "done".
fn fresh_progress(
    children: &mut [ChildProc],
    lines: &mut [Vec<String>],
    done: &mut [bool],
) -> bool {
    for (w, child) in children.iter_mut().enumerate() {
        let mut fresh = child.drain();
        if !done[w] && !fresh.iter().any(|l| l == "done") {
            match child.next_line(mp_common::CHILD_DEADLINE) {
                Some(line) => fresh.push(line),
                None => panic!("writer {w} exited without its done report"),
            }
        }
        for line in fresh {
            if line == "done" {
                done[w] = true;
            } else {
                lines[w].push(line);
            }
        }
    }
    done.iter().all(|d| *d)
}

/// Four writer processes run while the test compacts the journal again and again (each time
/// after every writer has completed a trial since the last compaction, so that each follows
/// every compaction), then tells them to stop: every acknowledged trial is in the final journal
/// exactly once, numbers and ids are gapless, no writer saw an error, and a reader handle held
/// open throughout ends with the same view as a fresh open.
#[test]
fn four_writer_processes_keep_writing_through_compactions() {
    if let Some(env) = ChildEnv::get() {
        return writer(&env);
    }
    let test = mp_common::test_name!();
    let dir = tempfile::tempdir().unwrap();
    let journal = dir.path().join("study.journal");
    let kind = LockKind::Advisory;
    let reader = mp_common::open_storage(&journal, kind, Duration::from_secs(2));
    reader.create_new_study(&[StudyDirection::Minimize], Some(STUDY)).unwrap();
    let mut children: Vec<ChildProc> = (0..PROCESSES)
        .map(|w| {
            Spawn::new(test, "writer", &journal, kind)
                .var(WORKER_VAR, &w)
                .spawn(format!("writer {w}"))
        })
        .collect();
    let mut lines: Vec<Vec<String>> = vec![Vec::new(); PROCESSES as usize];
    let mut done = vec![false; PROCESSES as usize];
    for round in 0..COMPACTIONS {
        let finished = fresh_progress(&mut children, &mut lines, &mut done);
        assert!(!finished, "the writers stopped on their own before compaction {round}");
        compact(&journal, &CompactOptions::default()).unwrap();
        // The reader follows, too.
        reader.sync().unwrap();
    }
    // Every writer writes once more after the last compaction, then stops.
    fresh_progress(&mut children, &mut lines, &mut done);
    std::fs::write(stop_file(&journal), b"").unwrap();
    while !fresh_progress(&mut children, &mut lines, &mut done) {}
    for (w, child) in children.iter_mut().enumerate() {
        let (status, rest) = child.finish(mp_common::CHILD_DEADLINE);
        assert!(status.success() && rest.is_empty(), "writer {w}: {status}, {rest:?}");
    }

    let mut acked: BTreeMap<u64, f64> = BTreeMap::new();
    for (w, reports) in lines.iter().enumerate() {
        assert!(reports.len() > COMPACTIONS, "writer {w} acknowledged {} trials", reports.len());
        for line in reports {
            let (id, x) = line.split_once(' ').expect("`<id> <x>` report");
            let earlier = acked.insert(id.parse().unwrap(), x.parse().unwrap());
            assert!(earlier.is_none(), "trial {id} acknowledged twice");
        }
    }
    let fresh = mp_common::open_storage(&journal, kind, Duration::from_secs(2));
    let trials = view(&fresh);
    let total = acked.len();
    assert_eq!(trials.len(), total);
    for (i, (id, number, state, x, value)) in trials.iter().enumerate() {
        assert_eq!((*id, *number), (i as u64, i as u64), "ids and numbers are gapless");
        assert_eq!(*state, TrialState::Complete);
        let acked_x = acked[id];
        assert_eq!(x, &Some(ParamValue::Float(acked_x)), "trial {id}");
        assert_eq!(*value, Some(value_of(acked_x)), "trial {id}");
    }
    assert_eq!(view(&reader), trials, "the reader held open throughout sees the same");
    eprintln!("{COMPACTIONS} compactions while {PROCESSES} processes wrote {total} trials");
}
