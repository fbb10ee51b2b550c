//! Snapshots (`docs/FORMAT.md`, "Snapshots") never change what an open shows: a valid one gives
//! exactly the state of a full replay (plus the log after it), and every damaged, foreign, stale
//! or unknown one is ignored with one warning and a full replay, never an error. Damage in a
//! version 2 snapshot's trial frames, which an open does not read, is found when a trial is
//! first read: the trials then come from a full replay, with one warning.

mod log_capture;

use std::path::{Path, PathBuf};
use std::time::Duration;

use trialog::backend::{AnyJournalFile, OptunaJournalFile};
use trialog::model::Integer;
use trialog::replay::ReplayState;
use trialog::snapshot;
use trialog::{
    AttrValue, Distribution, FileBackend, HeartbeatOptions, JournalStorage, LogBackend, ParamValue,
    StudyDirection, TrialState,
};

#[derive(Clone, Copy, Debug)]
enum Format {
    Trialog,
    Optuna,
}

fn journal_in(dir: &Path, format: Format) -> PathBuf {
    match format {
        Format::Trialog => dir.join("study.journal"),
        Format::Optuna => dir.join("optuna.log"),
    }
}

/// Writes `rounds` rounds of varied content: studies (one deleted, with trials), attributes
/// (including values only an extended operation holds), every kind of distribution, WAITING,
/// RUNNING (with heartbeats), finished trials, several workers.
fn fill<B: LogBackend>(a: &JournalStorage<B>, b: &JournalStorage<B>, round: u64, trialog: bool) {
    let name = |s: &str| format!("{s}-{round}");
    let keep = a.create_new_study(&[StudyDirection::Minimize], Some(&name("keep"))).unwrap();
    let gone = b.create_new_study(&[StudyDirection::Maximize], Some(&name("gone"))).unwrap();
    let multi = a
        .create_new_study(
            &[StudyDirection::Minimize, StudyDirection::Maximize],
            Some(&name("multi")),
        )
        .unwrap();
    a.set_study_user_attr(keep, "owner", "me".into()).unwrap();
    b.set_study_system_attr(keep, "seed", 42i64.into()).unwrap();
    let big = match Integer::parse("18446744073709551615") {
        Some(Integer::Big(b)) => AttrValue::BigInt(b),
        other => panic!("{other:?}"),
    };
    let x = Distribution::float(-10.0, 10.0, false, None).unwrap();
    let n = Distribution::int(1, 64, true, 1).unwrap();
    let c = Distribution::categorical(vec![
        ParamValue::Null,
        ParamValue::Bool(true),
        ParamValue::Int(3),
        ParamValue::Float(f64::NAN),
        ParamValue::Str("adam".into()),
    ])
    .unwrap();
    for i in 0..12u64 {
        let (h, study) =
            if i % 3 == 0 { (b, gone) } else { (a, if i % 2 == 0 { keep } else { multi }) };
        let t = h.create_new_trial(study, None).unwrap();
        h.set_trial_param(t, "x", i as f64 - 5.5, &x).unwrap();
        h.set_trial_param(t, "n", (1 + i % 8) as f64, &n).unwrap();
        h.set_trial_param(t, "c", (i % 5) as f64, &c).unwrap();
        h.set_trial_intermediate_value(t, 0, i as f64).unwrap();
        h.set_trial_intermediate_value(t, 3, f64::INFINITY).unwrap();
        h.set_trial_user_attr(t, "i", (i as i64).into()).unwrap();
        if trialog {
            h.set_trial_system_attr(t, "big", big.clone()).unwrap();
        }
        let values: &[f64] = if study == multi { &[1.0, i as f64] } else { &[i as f64] };
        match i % 4 {
            0 => drop(h.set_trial_state_values(t, TrialState::Complete, Some(values)).unwrap()),
            1 => drop(h.set_trial_state_values(t, TrialState::Fail, None).unwrap()),
            2 if trialog => h.record_heartbeat(t).unwrap(),
            _ => {}
        }
    }
    let mut waiting = trialog::FrozenTrial::new(0, 0, keep, TrialState::Waiting);
    waiting.params.insert("x".into(), ParamValue::Float(0.25));
    waiting.distributions.insert("x".into(), x.into());
    let w = a.create_new_trial(keep, Some(&waiting)).unwrap();
    assert_eq!(a.get_trial(w).unwrap().state, TrialState::Waiting);
    b.delete_study(gone).unwrap();
}

fn open(path: &Path) -> JournalStorage<AnyJournalFile> {
    JournalStorage::new(AnyJournalFile::open_existing(path).unwrap()).unwrap()
}

fn writers(path: &Path, format: Format) -> [JournalStorage<AnyJournalFile>; 2] {
    let one = || {
        let backend = match format {
            Format::Trialog => AnyJournalFile::Trialog(FileBackend::open(path).unwrap()),
            Format::Optuna => AnyJournalFile::Optuna(OptunaJournalFile::open(path).unwrap()),
        };
        let s = JournalStorage::new(backend).unwrap().with_snapshot_threshold(u64::MAX);
        match format {
            Format::Trialog => s.with_heartbeat(HeartbeatOptions {
                interval: Duration::from_secs(60),
                grace_period: Duration::from_secs(600),
            }),
            Format::Optuna => s,
        }
    };
    [one(), one()]
}

fn state(s: &JournalStorage<AnyJournalFile>) -> ReplayState {
    s.read(|st| Ok(st.clone())).unwrap()
}

/// A handle opened by a full replay (the snapshot moved aside while opening).
fn open_without_snapshot(path: &Path) -> JournalStorage<AnyJournalFile> {
    let snap = snapshot::path_for(path);
    let aside = snap.with_extension("aside");
    let had = std::fs::rename(&snap, &aside).is_ok();
    let s = open(path);
    assert_eq!(s.opened_from_snapshot(), None);
    if had {
        std::fs::rename(&aside, &snap).unwrap();
    }
    s
}

/// The state of a full replay.
fn full_replay(path: &Path) -> ReplayState {
    state(&open_without_snapshot(path))
}

/// A journal with a snapshot after round 0 and more log after it (round 1).
fn journal_with_snapshot(dir: &Path, format: Format) -> (PathBuf, u64) {
    let path = journal_in(dir, format);
    let trialog = matches!(format, Format::Trialog);
    let [a, b] = writers(&path, format);
    fill(&a, &b, 0, trialog);
    let taken = a.take_snapshot().unwrap().expect("file journals take snapshots");
    assert_eq!(taken.path, snapshot::path_for(&path));
    fill(&a, &b, 1, trialog);
    (path, taken.covered_end)
}

#[test]
fn a_valid_snapshot_plus_the_log_after_it_is_the_full_replay() {
    for format in [Format::Trialog, Format::Optuna] {
        let dir = tempfile::tempdir().unwrap();
        let (path, covered) = journal_with_snapshot(dir.path(), format);
        let full = full_replay(&path);
        let fast = open(&path);
        assert_eq!(fast.opened_from_snapshot(), Some(covered), "{format:?}");
        assert_eq!(state(&fast), full, "{format:?}");
        // And the handle keeps working from there: a write, then a fresh full replay agrees.
        let s = fast.get_study_id_from_name("keep-1").unwrap();
        fast.create_new_trial(s, None).unwrap();
        assert_eq!(state(&fast), full_replay(&path), "{format:?}");
        assert!(full.stats().batches > 0);
    }
}

/// Opens with the (damaged) snapshot and checks: the state of a full replay, no snapshot used,
/// exactly one warning naming the snapshot.
fn ignored_with_one_warning(path: &Path, what: &str) {
    log_capture::capture_logs();
    let full = full_replay(path);
    let snap = snapshot::path_for(path);
    let before = log_capture::warnings_about(&snap).len();
    let s = open(path);
    assert_eq!(s.opened_from_snapshot(), None, "{what}: the snapshot was used");
    assert_eq!(state(&s), full, "{what}: not the full replay's state");
    let warnings = log_capture::warnings_about(&snap);
    assert_eq!(warnings.len() - before, 1, "{what}: {warnings:?}");
}

/// Opens with a snapshot whose trial frames are damaged: the open uses it (it reads no trial
/// frame) and warns about nothing until a trial is read; then the state is a full replay's, with
/// exactly one warning naming the snapshot.
fn replaced_lazily_with_one_warning(path: &Path, what: &str) {
    log_capture::capture_logs();
    let full = full_replay(path);
    let snap = snapshot::path_for(path);
    let before = log_capture::warnings_about(&snap).len();
    let s = open(path);
    assert!(s.opened_from_snapshot().is_some(), "{what}: the open did not use the snapshot");
    let names = |st: &ReplayState| st.studies().map(|s| s.study_name.clone()).collect::<Vec<_>>();
    assert_eq!(s.read(|st| Ok(names(st))).unwrap(), names(&full), "{what}");
    let early = log_capture::warnings_about(&snap);
    assert_eq!(early.len() - before, 0, "{what}: warned before a trial was read: {early:?}");
    assert_eq!(state(&s), full, "{what}: not the full replay's state");
    let warnings = log_capture::warnings_about(&snap);
    assert_eq!(warnings.len() - before, 1, "{what}: {warnings:?}");
}

fn rewrite(path: &Path, f: impl FnOnce(&mut Vec<u8>)) {
    let mut bytes = std::fs::read(path).unwrap();
    f(&mut bytes);
    std::fs::write(path, bytes).unwrap();
}

/// A snapshot damage: what it is, and the change to the snapshot's bytes.
type Damage = fn(&mut Vec<u8>);

/// For each format and each damage: a journal with a snapshot, the snapshot damaged, then
/// `check(journal, what)`.
fn each_damaged(damages: &[(&str, Damage)], check: fn(&Path, &str)) {
    for format in [Format::Trialog, Format::Optuna] {
        for (what, damage) in damages {
            let dir = tempfile::tempdir().unwrap();
            let (path, _) = journal_with_snapshot(dir.path(), format);
            rewrite(&snapshot::path_for(&path), damage);
            check(&path, &format!("{format:?}, {what}"));
        }
    }
}

/// The snapshot's frames: (offset, length) of each after the 16-byte header.
fn frames(bytes: &[u8]) -> Vec<(usize, usize)> {
    let mut at = 16;
    let mut out = Vec::new();
    while at < bytes.len() {
        let len = u32::from_le_bytes(bytes[at..at + 4].try_into().unwrap()) as usize + 8;
        out.push((at, len));
        at += len;
    }
    out
}

#[test]
fn damaged_snapshots_mean_a_full_replay_and_one_warning() {
    let damages: [(&str, Damage); 7] = [
        ("a flipped byte in a state frame", |b| {
            let (at, len) = frames(b)[2];
            b[at + len / 2] ^= 0x40;
        }),
        ("a flipped byte in the anchor", |b| b[16 + 9] ^= 1),
        ("cut short", |b| b.truncate(b.len() - 3)),
        ("the last frame missing", |b| {
            let (at, _) = *frames(b).last().unwrap();
            b.truncate(at);
        }),
        ("bytes after the last frame", |b| b.extend_from_slice(&[1, 0, 0, 0, 0, 0, 0, 0, 0])),
        ("an unknown version", |b| {
            b[8] = 3;
            let crc = crc32fast::hash(&b[..12]);
            b[12..16].copy_from_slice(&crc.to_le_bytes());
        }),
        ("not a snapshot", |b| b.truncate(7)),
    ];
    each_damaged(&damages, ignored_with_one_warning);
}

#[test]
fn damaged_trial_frames_mean_a_full_replay_and_one_warning_when_a_trial_is_read() {
    // Version 2: frames = anchor, tables, the studies' frame, the trials' frame, the index.
    let damages: [(&str, Damage); 2] = [
        ("a flipped byte in the trial frame", |b| {
            let spans = frames(b);
            let (at, len) = spans[spans.len() - 2];
            b[at + len / 2] ^= 0x40;
        }),
        ("a CRC-valid trial frame whose one record has no content", |b| {
            let spans = frames(b);
            let (at, len) = spans[spans.len() - 2];
            // ["", [[4, 0, nil, nil]]]: a create trial without its template.
            let payload = [0x92, 0xa0, 0x91, 0x94, 0x04, 0x00, 0xc0, 0xc0];
            let mut frame = Vec::new();
            trialog::journal::frame::encode_frame(&payload, &mut frame);
            b.splice(at..at + len, frame);
        }),
    ];
    each_damaged(&damages, replaced_lazily_with_one_warning);
}

#[test]
fn a_damaged_trial_frame_and_a_journal_damaged_since_never_panic_nor_fail_the_reads() {
    // The fallback replay itself fails: the trials keep their ids, numbers, studies and states
    // (from the index) without content, and an error names the snapshot.
    log_capture::capture_logs();
    let dir = tempfile::tempdir().unwrap();
    let (path, _) = journal_with_snapshot(dir.path(), Format::Trialog);
    let full = full_replay(&path);
    rewrite(&snapshot::path_for(&path), |b| {
        let spans = frames(b);
        let (at, len) = spans[spans.len() - 2];
        b[at + len / 2] ^= 0x40;
    });
    let s = open(&path);
    assert!(s.opened_from_snapshot().is_some());
    // Bit rot in the journal's first frame, in place, after the open checked the snapshot.
    let mut journal = std::fs::read(&path).unwrap();
    journal[16 + 8 + 2] ^= 0x10;
    std::fs::OpenOptions::new()
        .write(true)
        .open(&path)
        .and_then(|f| {
            use std::io::{Seek, Write};
            let mut f = f;
            f.seek(std::io::SeekFrom::Start(0))?;
            f.write_all(&journal)
        })
        .unwrap();
    let study = full.study_id_by_name("keep-0").unwrap();
    let trials = s.get_all_trials(study, None).unwrap();
    let expected: Vec<(u64, u64, TrialState)> =
        full.trials_of(study).unwrap().map(|t| (t.trial_id, t.number, t.state)).collect();
    let got: Vec<(u64, u64, TrialState)> =
        trials.iter().map(|t| (t.trial_id, t.number, t.state)).collect();
    assert_eq!(got, expected);
    let errors = log_capture::warnings_about(&path);
    assert!(errors.iter().any(|e| e.contains("cannot be rebuilt")), "{errors:?}");
}

#[test]
fn tables_that_disagree_with_the_records_mean_a_full_replay() {
    // CRC-valid frames whose contents lie: the tables promise one trial more than the records.
    let dir = tempfile::tempdir().unwrap();
    let (path, _) = journal_with_snapshot(dir.path(), Format::Trialog);
    rewrite(&snapshot::path_for(&path), |b| {
        let (at, len) = frames(b)[1];
        type Tables = (
            u64,
            u64,
            Vec<u64>,
            (u64, u64, u64, Vec<u64>),
            Vec<(u64, i64, u64)>,
            Vec<String>,
            Vec<(u64, u64, u32)>,
            Vec<(u64, String, u64, String)>,
        );
        let mut t: Tables = rmp_serde::from_slice(&b[at + 8..at + len]).unwrap();
        t.1 += 1;
        let payload = rmp_serde::to_vec(&t).unwrap();
        let mut frame = Vec::new();
        trialog::journal::frame::encode_frame(&payload, &mut frame);
        b.splice(at..at + len, frame);
    });
    ignored_with_one_warning(&path, "lying tables");
}

#[test]
fn a_snapshot_of_another_journal_is_not_used() {
    for format in [Format::Trialog, Format::Optuna] {
        let dir = tempfile::tempdir().unwrap();
        let (path, _) = journal_with_snapshot(dir.path(), format);
        let other_dir = tempfile::tempdir().unwrap();
        let (other, _) = journal_with_snapshot(other_dir.path(), format);
        std::fs::copy(snapshot::path_for(&other), snapshot::path_for(&path)).unwrap();
        ignored_with_one_warning(&path, &format!("{format:?}, another journal's snapshot"));
    }
}

#[test]
fn a_snapshot_of_a_journal_that_was_rewritten_is_not_used() {
    for format in [Format::Trialog, Format::Optuna] {
        // Cut back before the covered end (a rewrite that kept a prefix).
        let dir = tempfile::tempdir().unwrap();
        let (path, covered) = journal_with_snapshot(dir.path(), format);
        rewrite(&path, |b| b.truncate(covered as usize - 1));
        ignored_with_one_warning(&path, &format!("{format:?}, journal cut before the covered end"));

        // Same offsets, a different first record (a journal edited in place).
        let dir = tempfile::tempdir().unwrap();
        let (path, _) = journal_with_snapshot(dir.path(), format);
        let snap = std::fs::read(snapshot::path_for(&path)).unwrap();
        rewrite(&path, |bytes| {
            // Replace the journal by one of the same content up to a changed worker id in the
            // first record: a different journal with the same offsets.
            let i = bytes.windows(4).position(|w| w == b"keep").unwrap();
            bytes[i] = b'K';
        });
        if matches!(format, Format::Trialog) {
            // Keep the frame CRCs valid so the journal itself still opens.
            rewrite(&path, |bytes| {
                let mut at = 16;
                while at + 8 <= bytes.len() {
                    let len = u32::from_le_bytes(bytes[at..at + 4].try_into().unwrap()) as usize;
                    let mut h = crc32fast::Hasher::new();
                    h.update(&bytes[at..at + 4]);
                    h.update(&bytes[at + 8..at + 8 + len]);
                    let crc = h.finalize();
                    bytes[at + 4..at + 8].copy_from_slice(&crc.to_le_bytes());
                    at += 8 + len;
                }
            });
        }
        std::fs::write(snapshot::path_for(&path), snap).unwrap();
        ignored_with_one_warning(&path, &format!("{format:?}, an edited journal"));
    }
}

#[test]
fn a_missing_snapshot_is_a_full_replay_without_warning() {
    log_capture::capture_logs();
    let dir = tempfile::tempdir().unwrap();
    let (path, _) = journal_with_snapshot(dir.path(), Format::Trialog);
    std::fs::remove_file(snapshot::path_for(&path)).unwrap();
    let s = open(&path);
    assert_eq!(s.opened_from_snapshot(), None);
    assert!(log_capture::warnings_about(&snapshot::path_for(&path)).is_empty());
}

#[test]
fn a_damaged_journal_header_is_still_an_error_with_a_valid_snapshot() {
    let dir = tempfile::tempdir().unwrap();
    let (path, _) = journal_with_snapshot(dir.path(), Format::Trialog);
    rewrite(&path, |b| b[3] ^= 0xFF);
    let err = AnyJournalFile::open_existing(&path).and_then(JournalStorage::new).unwrap_err();
    assert!(matches!(err, trialog::Error::NotAJournal { .. }), "{err}");
}

#[test]
fn writers_take_a_snapshot_once_the_log_past_the_last_one_exceeds_the_threshold() {
    for format in [Format::Trialog, Format::Optuna] {
        let dir = tempfile::tempdir().unwrap();
        let path = journal_in(dir.path(), format);
        let [a, b] = writers(&path, format);
        let a = a.with_snapshot_threshold(4096);
        fill(&a, &b, 0, matches!(format, Format::Trialog));
        drop(b);
        drop(a); // waits for a snapshot in progress
        assert!(snapshot::path_for(&path).exists(), "{format:?}: no automatic snapshot");
        let s = open(&path);
        let covered = s.opened_from_snapshot().expect("the automatic snapshot is valid");
        assert!(covered >= 4096, "{format:?}: {covered}");
        assert_eq!(state(&s), full_replay(&path), "{format:?}");
        // No temporary file is left behind.
        let names: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert!(names.iter().all(|n| !n.contains(".tmp-")), "{names:?}");
    }
}

#[test]
fn writers_take_snapshots_by_default_past_the_documented_threshold() {
    for format in [Format::Trialog, Format::Optuna] {
        let dir = tempfile::tempdir().unwrap();
        let path = journal_in(dir.path(), format);
        // No threshold given: the default one.
        let writer = || {
            JournalStorage::new(match format {
                Format::Trialog => AnyJournalFile::Trialog(FileBackend::open(&path).unwrap()),
                Format::Optuna => AnyJournalFile::Optuna(OptunaJournalFile::open(&path).unwrap()),
            })
            .unwrap()
        };
        let half = "x".repeat(snapshot::AUTO_THRESHOLD_BYTES as usize / 2);
        let s = writer();
        let study = s.create_new_study(&[StudyDirection::Minimize], Some("big")).unwrap();
        s.set_study_user_attr(study, "a", half.clone().into()).unwrap();
        drop(s); // waits for a snapshot in progress, if any
        assert!(!snapshot::path_for(&path).exists(), "{format:?}: a snapshot below the threshold");
        let s = writer();
        s.set_study_user_attr(study, "b", half.into()).unwrap();
        s.set_study_user_attr(study, "c", "small".into()).unwrap();
        drop(s); // waits for the snapshot in progress
        assert!(snapshot::path_for(&path).exists(), "{format:?}: no automatic snapshot");
        let s = open(&path);
        let covered = s.opened_from_snapshot().expect("the automatic snapshot is valid");
        assert!(covered >= snapshot::AUTO_THRESHOLD_BYTES, "{format:?}: {covered}");
        assert_eq!(state(&s), full_replay(&path), "{format:?}");
    }
}

#[test]
fn logs_without_files_take_no_snapshot() {
    let s = JournalStorage::new(trialog::MemoryBackend::new()).unwrap();
    s.create_new_study(&[StudyDirection::Minimize], Some("s")).unwrap();
    assert_eq!(s.take_snapshot().unwrap(), None);
}

#[test]
fn recover_in_place_removes_the_snapshot_of_the_old_bytes() {
    use trialog::backend::RecoveryMode;
    use trialog::recover::{self, RecoverOptions};
    let dir = tempfile::tempdir().unwrap();
    let (path, covered) = journal_with_snapshot(dir.path(), Format::Trialog);
    // Damage a frame well inside the covered prefix (valid frames follow it: corruption). The
    // snapshot still matches (its two records are intact), and covers the damage.
    rewrite(&path, |b| b[covered as usize / 2] ^= 0xFF);
    assert_eq!(open(&path).opened_from_snapshot(), Some(covered));
    let options =
        RecoverOptions { mode: RecoveryMode::SkipAnyCorrupted, ..RecoverOptions::default() };
    let report = recover::recover(&path, &options).unwrap();
    assert!(!report.dropped.is_empty());
    assert!(!snapshot::path_for(&path).exists(), "the old bytes' snapshot survived recover");
    let s = open(&path);
    assert_eq!(s.opened_from_snapshot(), None);
    assert_eq!(state(&s), full_replay(&path));
}

#[test]
fn a_loaded_state_shares_distribution_maps_and_empty_attributes_as_replay_does() {
    use trialog::model::Shared;
    let dir = tempfile::tempdir().unwrap();
    let path = journal_in(dir.path(), Format::Trialog);
    let [a, _] = writers(&path, Format::Trialog);
    let study = a.create_new_study(&[StudyDirection::Minimize], Some("w1")).unwrap();
    let xy = Distribution::float(-5.0, 5.0, false, None).unwrap();
    for i in 0..20 {
        let t = a.create_new_trial(study, None).unwrap();
        a.set_trial_param(t, "x", f64::from(i) / 10.0, &xy).unwrap();
        a.set_trial_param(t, "y", 0.5, &xy).unwrap();
        a.set_trial_state_values(t, TrialState::Complete, Some(&[1.0])).unwrap();
    }
    a.take_snapshot().unwrap().unwrap();
    let s = open(&path);
    assert!(s.opened_from_snapshot().is_some());
    let t = |id| s.get_trial(id).unwrap();
    for id in 1..20 {
        assert!(Shared::ptr_eq(&t(0).distributions, &t(id).distributions), "trial {id}");
        assert!(Shared::ptr_eq(&t(0).user_attrs, &t(id).system_attrs), "trial {id}");
    }
}

/// A trialog journal whose snapshot has many state frames (more than 4,096 records each):
/// varied content, then 13,000 trials of two studies whose parameters change as the log goes on
/// (a new name every 3,000 trials, one of them left out of every third trial, so layouts recur
/// across frames; that one has another distribution in the second study), then more varied
/// content. Written at memory speed.
fn journal_with_a_many_frame_snapshot(dir: &Path) -> PathBuf {
    let path = journal_in(dir, Format::Trialog);
    let mem = JournalStorage::new(trialog::MemoryBackend::new()).unwrap().with_heartbeat(
        HeartbeatOptions {
            interval: Duration::from_secs(60),
            grace_period: Duration::from_secs(600),
        },
    );
    fill(&mem, &mem, 0, true);
    let studies = ["many", "many-log"]
        .map(|name| mem.create_new_study(&[StudyDirection::Minimize], Some(name)).unwrap());
    let wide = Distribution::float(-1.0, 1.0, false, None).unwrap();
    let log = Distribution::float(0.01, 1.0, true, None).unwrap();
    for i in 0..13_000u64 {
        let second = i % 2 == 1;
        let t = mem.create_new_trial(studies[usize::from(second)], None).unwrap();
        for (k, name) in ["a", "b", "c", "d", "e"].into_iter().enumerate() {
            if k as u64 <= i / 3000 && !(k == 1 && i % 3 == 0) {
                let d = if k == 1 && second { &log } else { &wide };
                mem.set_trial_param(t, name, 0.5, d).unwrap();
            }
        }
        if i % 5 != 4 {
            mem.set_trial_state_values(t, TrialState::Complete, Some(&[i as f64])).unwrap();
        }
    }
    fill(&mem, &mem, 1, true);
    std::fs::write(&path, mem.backend().to_bytes()).unwrap();
    let taken = open(&path).take_snapshot().unwrap().expect("file journals take snapshots");
    let state_frames = frames(&std::fs::read(&taken.path).unwrap()).len() - 2;
    assert!(state_frames >= 4, "{state_frames} state frames");
    path
}

#[test]
fn a_snapshot_of_many_frames_gives_the_full_replays_state() {
    // Its frames are decoded on one thread per core and applied in order: still exactly the
    // state of a full replay, including each parameter's first trial and the waiting trials.
    let dir = tempfile::tempdir().unwrap();
    let path = journal_with_a_many_frame_snapshot(dir.path());
    let full = full_replay(&path);
    let fast = open(&path);
    assert!(fast.opened_from_snapshot().is_some());
    assert_eq!(state(&fast), full);
}

#[test]
fn a_malformed_record_in_a_middle_frame_means_a_full_replay() {
    // A CRC-valid frame whose records cannot be decoded, among frames decoded in parallel.
    let dir = tempfile::tempdir().unwrap();
    let path = journal_with_a_many_frame_snapshot(dir.path());
    rewrite(&snapshot::path_for(&path), |b| {
        let (at, len) = frames(b)[4];
        // ["", [<0xc1: never used in MessagePack>]]
        let mut frame = Vec::new();
        trialog::journal::frame::encode_frame(&[0x92, 0xa0, 0x91, 0xc1], &mut frame);
        b.splice(at..at + len, frame);
    });
    replaced_lazily_with_one_warning(&path, "a malformed record in frame 4");
}

/// xorshift64*: the mutations below, reproducible from the seed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

/// One mutation of a frame's payload, as hostile or buggy writers might leave it: CRC-valid
/// (the frame is re-encoded), so only the decoder and the state's own checks stand in the way.
fn mutate(payload: &mut Vec<u8>, rng: &mut Rng) {
    const BYTES: [u8; 12] =
        [0x00, 0x7f, 0x80, 0x90, 0xc0, 0xc1, 0xc5, 0xcf, 0xd3, 0xdc, 0xdd, 0xff];
    if payload.is_empty() {
        payload.push(0xc1);
    }
    let at = rng.below(payload.len());
    match rng.below(6) {
        0 => payload[at] ^= 1 << rng.below(8),
        1 => payload[at] = BYTES[rng.below(BYTES.len())],
        // A huge collection or string length.
        2 => {
            let huge = [0xdd, 0xff, 0xff, 0xff, 0xf0];
            payload.splice(at..at, huge);
        }
        3 => payload.truncate(at),
        4 => {
            let end = (at + 1 + rng.below(16)).min(payload.len());
            let copy = payload[at..end].to_vec();
            let to = rng.below(payload.len());
            payload.splice(to..to, copy);
        }
        _ => {
            let v = rng.next().to_le_bytes();
            let end = (at + 8).min(payload.len());
            payload[at..end].copy_from_slice(&v[..end - at]);
        }
    }
}

#[test]
fn crc_valid_nonsense_in_any_frame_never_panics_the_open_or_the_reads() {
    for format in [Format::Trialog, Format::Optuna] {
        let dir = tempfile::tempdir().unwrap();
        let (path, _) = journal_with_snapshot(dir.path(), format);
        let snap = snapshot::path_for(&path);
        let good = std::fs::read(&snap).unwrap();
        let spans = frames(&good);
        let mut rng = Rng(0x1234_5678_9abc_def1 ^ format as u64);
        for round in 0..1000 {
            let (at, len) = spans[rng.below(spans.len())];
            let mut payload = good[at + 8..at + len].to_vec();
            for _ in 0..1 + rng.below(3) {
                mutate(&mut payload, &mut rng);
            }
            if payload.is_empty() {
                payload.push(0xc1);
            }
            let mut frame = Vec::new();
            trialog::journal::frame::encode_frame(&payload, &mut frame);
            let mut bytes = good.clone();
            bytes.splice(at..at + len, frame);
            // A copy of the journal per round: the round also writes to it.
            let round_dir = tempfile::tempdir().unwrap();
            let copy = round_dir.path().join(path.file_name().unwrap());
            std::fs::copy(&path, &copy).unwrap();
            std::fs::write(snapshot::path_for(&copy), &bytes).unwrap();
            let what = format!("{format:?} round {round}, frame at {at}");
            let opened = std::panic::catch_unwind(|| {
                let s = JournalStorage::new(AnyJournalFile::open_existing(&copy).unwrap());
                if let Ok(s) = s {
                    for study in s.get_all_studies().unwrap_or_default() {
                        let _ = s.get_all_trials(study.study_id, None);
                        let _ = s.get_n_trials(study.study_id, None);
                        let _ = s.get_best_trial(study.study_id);
                        let _ = s.get_trial_id_from_study_id_trial_number(study.study_id, 1);
                        if let Ok(t) = s.create_new_trial(study.study_id, None) {
                            let x = Distribution::float(-10.0, 10.0, false, None).unwrap();
                            let _ = s.set_trial_param(t, "x", 1.0, &x);
                            let _ = s.set_trial_state_values(t, TrialState::Complete, Some(&[1.0]));
                        }
                    }
                    let _ = s.create_new_study(&[StudyDirection::Minimize], Some("new"));
                }
            });
            assert!(opened.is_ok(), "{what}: panicked");
        }
    }
}

#[test]
fn a_snapshot_taken_from_a_lazily_loaded_state_is_the_one_a_full_replay_takes() {
    // Blocks of trials nothing decoded are copied from the old snapshot as they are; the others
    // (the last block, which grew after the snapshot, and every block a read decoded) are
    // encoded again. Either way the bytes are those of a snapshot of the fully replayed state.
    let dir = tempfile::tempdir().unwrap();
    let path = journal_with_a_many_frame_snapshot(dir.path());
    {
        let [a, _] = writers(&path, Format::Trialog);
        let study = a.get_study_id_from_name("many").unwrap();
        let t = a.create_new_trial(study, None).unwrap();
        a.set_trial_state_values(t, TrialState::Complete, Some(&[0.5])).unwrap();
    }
    let snap = snapshot::path_for(&path);
    let take = |s: &JournalStorage<AnyJournalFile>| {
        s.take_snapshot().unwrap().unwrap();
        std::fs::read(&snap).unwrap()
    };
    // Lazily loaded, with one block in the middle decoded by a read.
    let lazy = open(&path);
    assert!(lazy.opened_from_snapshot().is_some());
    lazy.get_trial(5000).unwrap();
    let from_lazy = take(&lazy);
    let aside = snap.with_extension("aside");
    std::fs::rename(&snap, &aside).unwrap();
    let full = open(&path);
    assert_eq!(full.opened_from_snapshot(), None);
    let from_full = take(&full);
    assert!(
        from_lazy == from_full,
        "the snapshots differ ({} and {} bytes)",
        from_lazy.len(),
        from_full.len()
    );
    // And the lazily loaded state was not changed by taking it.
    assert_eq!(state(&lazy), state(&full));
}

#[test]
fn a_lazily_loaded_state_reads_its_own_snapshot_after_a_new_one_replaced_it() {
    // The state holds the snapshot it was loaded from (mapped, or read on Windows): a writer's
    // new snapshot renamed over that file changes nothing for it, and no warning comes.
    log_capture::capture_logs();
    let dir = tempfile::tempdir().unwrap();
    let path = journal_with_a_many_frame_snapshot(dir.path());
    let snap = snapshot::path_for(&path);
    let lazy = open(&path);
    assert!(lazy.opened_from_snapshot().is_some());
    let before = log_capture::warnings_about(&snap).len();
    {
        let [w, _] = writers(&path, Format::Trialog);
        let study = w.get_study_id_from_name("many").unwrap();
        for _ in 0..3 {
            w.create_new_trial(study, None).unwrap();
        }
        w.take_snapshot().unwrap().unwrap();
    }
    lazy.sync().unwrap();
    assert_eq!(state(&lazy), full_replay(&path));
    assert_eq!(log_capture::warnings_about(&snap).len(), before);
}

/// `get_all_trials_batched` (the Python package's pipelined `get_all_trials`) of a state loaded
/// from a snapshot, which decodes each block as the batches reach it: exactly what
/// `get_all_trials` of a full replay answers, in batches of 4,096, for every states filter; a
/// consumer that stops gets no more batches; an unknown study is an error.
#[test]
fn batched_reads_of_a_lazily_loaded_state_are_get_all_trials_of_a_full_replay() {
    let dir = tempfile::tempdir().unwrap();
    let path = journal_in(dir.path(), Format::Trialog);
    let [a, _] = writers(&path, Format::Trialog);
    let many = a.create_new_study(&[StudyDirection::Minimize], Some("many")).unwrap();
    let other = a.create_new_study(&[StudyDirection::Minimize], Some("other")).unwrap();
    let x = Distribution::float(0.0, 1.0, false, None).unwrap();
    let mut in_many = 0;
    for i in 0..(2 * 4096 + 700u64) {
        let state = if i % 3 == 0 { TrialState::Fail } else { TrialState::Complete };
        let study = if i % 500 == 499 { other } else { many };
        in_many += usize::from(study == many);
        let mut t = trialog::FrozenTrial::new(0, 0, study, state);
        t.params.insert("x".into(), ParamValue::Float(i as f64 / 1e4));
        t.distributions.insert("x".into(), x.clone().into());
        if state == TrialState::Complete {
            t.values = Some([i as f64].as_slice().into());
        }
        a.create_new_trial(study, Some(&t)).unwrap();
    }
    a.take_snapshot().unwrap().expect("file journals take snapshots");
    let full = open_without_snapshot(&path);
    let lazy = open(&path);
    assert!(lazy.opened_from_snapshot().is_some());
    assert_eq!(lazy.trial_count_hint(many), Some(in_many));
    assert_eq!(lazy.trial_count_hint(other), Some(8892 - in_many));
    assert_eq!(lazy.trial_count_hint(99), None);

    let complete = [TrialState::Complete];
    let waiting = [TrialState::Waiting];
    for states in [None, Some(&complete[..]), Some(&waiting[..])] {
        let mut batches = Vec::new();
        lazy.get_all_trials_batched(many, states, &mut |b| {
            batches.push(b);
            true
        })
        .unwrap();
        let sizes: Vec<usize> = batches.iter().map(Vec::len).collect();
        if states.is_none() {
            assert_eq!(sizes, [4096, 4096, in_many - 8192]);
        }
        assert!(sizes.iter().all(|&n| n <= 4096), "{states:?}: {sizes:?}");
        let expected = full.get_all_trials(many, states).unwrap();
        assert_eq!(batches.concat(), expected, "{states:?}");
    }
    let mut taken = Vec::new();
    lazy.get_all_trials_batched(many, None, &mut |b| {
        taken.push(b.len());
        false
    })
    .unwrap();
    assert_eq!(taken, [4096]);
    assert!(matches!(
        lazy.get_all_trials_batched(99, None, &mut |_| true),
        Err(trialog::Error::StudyNotFound { study_id: 99 })
    ));
}
