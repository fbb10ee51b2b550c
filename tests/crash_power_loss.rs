//! Simulated power loss at every I/O operation of a workload (cargo feature `fault-injection`).
//!
//! The workload runs on a real journal through a recording [`FaultInjector`]: two handles create
//! a study and trials with parameters, intermediate values and values; one append is torn by an
//! injected short write + `EIO` and later repaired by the other handle; a third handle appends
//! at the end. The trace holds every state-changing call in order (file create, write with its
//! bytes, fsync, hard link, directory fsync). A model disk replays a prefix of the trace and
//! keeps, per file, the *synced* bytes apart from the writes made since the last sync, and,
//! per directory, the synced entries apart from the new ones.
//!
//! For every crash point (after each traced call) it builds several crash images: the synced
//! bytes alone, plus every unsynced write, plus any subset of them, plus prefixes of the last unsynced write, with the
//! unsynced range zeroed (size persisted, data not), or with a byte flipped in it; and, while the
//! journal's directory entry is not synced, the image without the journal at all. For each image:
//!
//! * (a) it opens, and its replayed state is exactly the state after the last acknowledged
//!   append, or (only when the in-flight frame reached the image whole) the state after the next;
//!   a journal that vanished with its directory entry is only allowed before the first
//!   acknowledgement;
//! * (b) a new append works on it, a reopen sees the old state plus the new record, and no byte
//!   of the valid log before it changed;
//! * (c) damaged unsynced bytes are never replayed (every damaging variant gives exactly the
//!   acknowledged state), and a flipped byte in a synced frame followed by a valid one is
//!   reported as [`Error::Corruption`] at that frame's offset;
//! * (f) replay is deterministic: the file backend and the memory backend give the same state,
//!   twice; and every byte prefix of the final journal replays to the state after the frames it
//!   holds whole.
//!
//! The same sweep runs on a workload whose creator "dies" (an injected directory-fsync failure)
//! after linking the journal into place but before syncing the directory.
#![cfg(feature = "fault-injection")]

mod common;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use common::{frame_starts, replay_bytes, state_of};
use trialog::backend::fault::{Action, FaultInjector, IoEvent, IoOp, Rule};
use trialog::replay::ReplayState;
use trialog::{
    AttrValue, Error, FileBackend, FileOptions, JournalStorage, StudyDirection, TrialState,
};

// ---- the model disk ---------------------------------------------------------------------

#[derive(Debug, Clone, Default)]
struct Inode {
    /// What survives a power loss for sure.
    synced: Vec<u8>,
    /// Writes since the last sync, in order.
    unsynced: Vec<(u64, Vec<u8>)>,
}

impl Inode {
    /// The bytes with the unsynced writes applied, the last one cut to `last_len` bytes, each
    /// byte passed through `edit`.
    fn with_unsynced(&self, last_len: Option<usize>, edit: impl Fn(u8) -> u8) -> Vec<u8> {
        self.with_subset(|_| true, last_len, edit)
    }

    /// The bytes with the unsynced writes whose index passes `include` applied (in order), the
    /// last one cut to `last_len` bytes, each byte passed through `edit`.
    fn with_subset(
        &self,
        include: impl Fn(usize) -> bool,
        last_len: Option<usize>,
        edit: impl Fn(u8) -> u8,
    ) -> Vec<u8> {
        let mut bytes = self.synced.clone();
        let n = self.unsynced.len();
        for (i, (offset, data)) in self.unsynced.iter().enumerate() {
            if !include(i) {
                continue;
            }
            let take = if i + 1 == n {
                last_len.unwrap_or(data.len()).min(data.len())
            } else {
                data.len()
            };
            let start = usize::try_from(*offset).unwrap();
            if bytes.len() < start + take {
                bytes.resize(start + take, 0);
            }
            for (k, &b) in data[..take].iter().enumerate() {
                bytes[start + k] = edit(b);
            }
        }
        bytes
    }
}

/// Files and directory entries after a prefix of the trace.
#[derive(Debug, Default)]
struct Disk {
    inodes: Vec<Inode>,
    names: HashMap<PathBuf, usize>,
    synced_names: HashMap<PathBuf, usize>,
}

impl Disk {
    fn apply(&mut self, event: &IoEvent) {
        match event {
            IoEvent::Create { path } => {
                self.inodes.push(Inode::default());
                self.names.insert(path.clone(), self.inodes.len() - 1);
            }
            IoEvent::Write { path, offset, data } => {
                let ino = self.names[path];
                self.inodes[ino].unsynced.push((*offset, data.clone()));
            }
            IoEvent::Sync { path } => {
                let inode = &mut self.inodes[self.names[path]];
                inode.synced = inode.with_unsynced(None, |b| b);
                inode.unsynced.clear();
            }
            IoEvent::Link { from, to } => {
                let ino = self.names[from];
                self.names.insert(to.clone(), ino);
            }
            IoEvent::SyncDir { .. } => self.synced_names = self.names.clone(),
            other => panic!("an event the model does not know: {other:?}"),
        }
    }

    /// The crash images of the file at `path`: (description, bytes or `None` if the file is
    /// gone, whether the unsynced bytes were damaged).
    fn images(&self, path: &Path) -> Vec<(String, Option<Vec<u8>>, bool)> {
        let mut out = Vec::new();
        let ino = match (self.synced_names.get(path), self.names.get(path)) {
            (Some(&ino), _) => ino,
            (None, Some(&ino)) => {
                out.push(("directory entry lost".to_owned(), None, false));
                ino
            }
            (None, None) => return vec![("never created".to_owned(), None, false)],
        };
        let inode = &self.inodes[ino];
        out.push(("synced bytes only".to_owned(), Some(inode.synced.clone()), false));
        let Some((_, last)) = inode.unsynced.last() else {
            return out;
        };
        out.push((
            "every unsynced write".to_owned(),
            Some(inode.with_unsynced(None, |b| b)),
            false,
        ));
        // Any subset of several unsynced writes (the disk may persist them in any order).
        let n = inode.unsynced.len();
        if n > 1 {
            assert!(n <= 8, "{n} unsynced writes");
            for mask in 1..(1u32 << n) - 1 {
                let bytes = inode.with_subset(|i| mask & (1 << i) != 0, None, |b| b);
                out.push((format!("unsynced writes {mask:#b} of {n}"), Some(bytes), false));
            }
        }
        let mut cuts = vec![1, 7, 8, 9, last.len() / 2, last.len().saturating_sub(1)];
        cuts.retain(|&k| k > 0 && k < last.len());
        cuts.dedup();
        for k in cuts {
            let bytes = inode.with_unsynced(Some(k), |b| b);
            out.push((format!("first {k} of {} unsynced bytes", last.len()), Some(bytes), true));
        }
        out.push((
            "unsynced range zeroed".to_owned(),
            Some(inode.with_unsynced(None, |_| 0)),
            true,
        ));
        let mut flipped = inode.with_unsynced(None, |b| b);
        let (offset, data) = inode.unsynced.last().unwrap();
        flipped[*offset as usize + data.len() / 2] ^= 0x20;
        out.push(("a byte of the unsynced range flipped".to_owned(), Some(flipped), true));
        out
    }
}

// ---- the workload -----------------------------------------------------------------------

/// The trace of a workload and, for each acknowledged append, how many events had been traced
/// when it returned and the state after it.
struct Run {
    trace: Vec<IoEvent>,
    acks: Vec<(usize, ReplayState)>,
    journal: PathBuf,
    _dir: tempfile::TempDir,
}

fn open(path: &Path, faults: &Arc<FaultInjector>) -> trialog::Result<JournalStorage<FileBackend>> {
    JournalStorage::new(FileBackend::open_with_faults(
        path,
        &FileOptions::default(),
        faults.clone(),
    )?)
}

fn run_workload(creator_dies_before_dir_sync: bool) -> Run {
    let dir = tempfile::tempdir().expect("tempdir");
    let journal = dir.path().join("power.journal");
    let faults = FaultInjector::new();
    faults.record();
    let mut acks = Vec::new();
    let mut ack = |s: &JournalStorage<FileBackend>| acks.push((faults.events(), state_of(s)));

    let a = if creator_dies_before_dir_sync {
        faults.add(Rule::new(IoOp::SyncDir, Action::Fail(libc::EIO)).once());
        assert!(open(&journal, &faults).is_err(), "the creator's directory sync must fail");
        faults.clear();
        open(&journal, &faults).expect("open the half-created journal")
    } else {
        open(&journal, &faults).expect("create")
    };
    let study = a.create_new_study(&[StudyDirection::Minimize], Some("power")).unwrap();
    ack(&a);
    let b = open(&journal, &faults).expect("second handle");
    let dist = common::float(-5.0, 5.0);
    for i in 0..3u32 {
        let h = if i % 2 == 0 { &a } else { &b };
        let t = h.create_new_trial(study, None).unwrap();
        ack(h);
        h.set_trial_param(t, "x", f64::from(i) - 1.0, &dist).unwrap();
        ack(h);
        h.set_trial_intermediate_value(t, 1, f64::from(i) * 0.5).unwrap();
        ack(h);
        assert!(h.set_trial_state_values(t, TrialState::Complete, Some(&[f64::from(i)])).unwrap());
        ack(h);
    }
    // A torn append: 10 bytes written, then EIO. Never acknowledged; `a` is poisoned.
    faults.add(Rule::new(IoOp::Write, Action::Short(10)).once());
    faults.add(Rule::new(IoOp::Write, Action::Fail(libc::EIO)).after(1).once());
    assert!(matches!(a.create_new_trial(study, None), Err(Error::Poisoned { .. })));
    faults.clear();
    // `b` repairs the tail with padding, then appends.
    let t = b.create_new_trial(study, None).unwrap();
    ack(&b);
    b.set_trial_user_attr(t, "note", AttrValue::String("after the tear".into())).unwrap();
    ack(&b);
    let c = open(&journal, &faults).expect("third handle");
    assert!(c.set_trial_state_values(t, TrialState::Pruned, None).unwrap());
    ack(&c);
    Run { trace: faults.trace(), acks, journal, _dir: dir }
}

// ---- the checks -------------------------------------------------------------------------

/// Opens `bytes` (or no file) as a journal in `dir` and runs checks (a), (b), (c), (f).
fn check_image(
    dir: &Path,
    what: &str,
    image: Option<&[u8]>,
    damaged: bool,
    acked: &ReplayState,
    next: Option<&ReplayState>,
    n_acked: usize,
) {
    let path = dir.join("image.journal");
    let _ = std::fs::remove_file(&path);
    let _ = std::fs::remove_file(dir.join("image.journal.lock"));
    match image {
        Some(bytes) => std::fs::write(&path, bytes).unwrap(),
        None => assert_eq!(n_acked, 0, "{what}: {n_acked} acknowledged appends vanished"),
    }
    // (a) every acknowledged append, and nothing damaged.
    let s = JournalStorage::open(&path).unwrap_or_else(|e| panic!("{what}: open failed: {e}"));
    let state = state_of(&s);
    let is_next = next.is_some_and(|n| state == *n);
    assert!(
        state == *acked || is_next,
        "{what}: replayed state is neither the acknowledged one nor the next"
    );
    assert!(!(damaged && is_next), "{what}: damaged unsynced bytes were replayed");
    // (f) deterministic: again, and through the memory backend.
    if let Some(bytes) = image {
        assert!(replay_bytes(bytes).unwrap() == state, "{what}: memory backend differs");
    }
    assert!(
        state_of(&JournalStorage::open(&path).unwrap()) == state,
        "{what}: second replay differs"
    );
    // (b) appends work and keep every earlier byte of the valid log.
    let before = std::fs::read(&path).unwrap();
    let valid_end =
        if before.len() >= 16 { *common::frame_boundaries(&before).last().unwrap() } else { 0 };
    let studies = state.studies().count();
    s.create_new_study(&[StudyDirection::Maximize], Some("after the crash"))
        .unwrap_or_else(|e| panic!("{what}: append after the crash failed: {e}"));
    let after = std::fs::read(&path).unwrap();
    assert!(after.len() >= before.len(), "{what}: the journal shrank");
    assert_eq!(after[..valid_end], before[..valid_end], "{what}: the valid log changed");
    assert!(replay_bytes(&after[..valid_end.max(16)]).unwrap() == state, "{what}");
    let reopened = JournalStorage::open(&path).unwrap();
    assert!(state_of(&reopened) == state_of(&s), "{what}: reopen differs from the writer");
    assert_eq!(reopened.get_all_studies().unwrap().len(), studies + 1, "{what}");
}

/// (c) with a synced frame damaged: reported at its offset when a valid frame follows.
fn check_synced_damage(dir: &Path, what: &str, image: &[u8]) {
    let starts = frame_starts(image);
    if starts.len() < 2 {
        return;
    }
    let path = dir.join("damaged.journal");
    let mut bytes = image.to_vec();
    bytes[starts[0] + 9] ^= 0x01;
    std::fs::write(&path, &bytes).unwrap();
    match JournalStorage::open(&path) {
        Err(Error::Corruption { path: p, offset, .. }) => {
            assert_eq!((p.as_path(), offset), (path.as_path(), starts[0] as u64), "{what}");
        }
        other => panic!("{what}: damaged synced frame: expected Corruption, got {other:?}"),
    }
}

fn sweep(run: &Run) -> usize {
    let scratch = tempfile::tempdir().expect("tempdir");
    let mut disk = Disk::default();
    let mut images = 0;
    for k in 0..=run.trace.len() {
        if k > 0 {
            disk.apply(&run.trace[k - 1]);
        }
        let n_acked = run.acks.iter().filter(|(at, _)| *at <= k).count();
        let empty = ReplayState::default();
        let acked = if n_acked == 0 { &empty } else { &run.acks[n_acked - 1].1 };
        let next = run.acks.get(n_acked).map(|(_, s)| s);
        for (variant, image, damaged) in disk.images(&run.journal) {
            let what = format!("crash after {k} of {} I/O calls, {variant}", run.trace.len());
            check_image(scratch.path(), &what, image.as_deref(), damaged, acked, next, n_acked);
            if let Some(image) = &image {
                check_synced_damage(scratch.path(), &what, image);
            }
            images += 1;
        }
    }
    images
}

/// (f) every byte prefix of the final journal replays to the state after the frames it holds.
fn check_every_prefix(run: &Run) {
    let bytes = std::fs::read(&run.journal).unwrap();
    let mut states = vec![ReplayState::default()];
    states.extend(run.acks.iter().map(|(_, s)| s.clone()));
    for len in 0..=bytes.len() {
        let prefix = &bytes[..len];
        let state = replay_bytes(prefix).unwrap_or_else(|e| panic!("prefix of {len} bytes: {e}"));
        assert!(replay_bytes(prefix).unwrap() == state, "prefix of {len} bytes: not deterministic");
        let whole = states.iter().filter(|s| **s == state).count();
        assert!(whole >= 1, "prefix of {len} bytes replays to a state no acknowledgement had");
    }
    assert!(replay_bytes(&bytes).unwrap() == *states.last().unwrap());
}

#[test]
fn power_loss_at_every_io_call_keeps_every_acknowledged_append() {
    let run = run_workload(false);
    let images = sweep(&run);
    check_every_prefix(&run);
    println!("{} crash points, {images} crash images checked", run.trace.len() + 1);
}

#[test]
fn power_loss_after_a_creator_died_before_syncing_the_directory() {
    let run = run_workload(true);
    let lost = sweep(&run);
    println!("{} crash points, {lost} crash images checked", run.trace.len() + 1);
}
