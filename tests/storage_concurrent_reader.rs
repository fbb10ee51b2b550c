//! A reader never holds the write lock, so it reads a file that grows under it; the file size
//! can even be observed in the middle of an append (at a page boundary). Whatever it observes,
//! a reader must deliver every frame exactly once: its state after catching up equals a fresh
//! replay of the file. (A reader that scanned past the size it took, or returned a position
//! other than the one it scanned to, re-applied frames: trials appeared twice.)

use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;

use trialog::{AttrValue, FrozenTrial, JournalStorage, StudyDirection, TrialState};

/// A template trial whose frame is a few KiB, so appends straddle page boundaries.
fn big_template(i: u64) -> FrozenTrial {
    let mut t = FrozenTrial::new(0, 0, 0, TrialState::Complete);
    t.values = Some(vec![i as f64].into());
    t.user_attrs =
        [("blob".to_string(), AttrValue::String("x".repeat(3000 + (i as usize % 97))))].into();
    t
}

#[test]
fn a_reader_racing_a_writer_delivers_every_frame_exactly_once() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("race.journal");
    let writer = JournalStorage::open(&path).unwrap();
    let study = writer.create_new_study(&[StudyDirection::Minimize], Some("race")).unwrap();
    let reader = JournalStorage::open(&path).unwrap();
    const TRIALS: u64 = 1500;

    let done = AtomicBool::new(false);
    thread::scope(|s| {
        s.spawn(|| {
            while !done.load(Ordering::Acquire) {
                reader.sync().expect("a racing reader never sees an error");
            }
        });
        for i in 0..TRIALS {
            writer.create_new_trial(study, Some(&big_template(i))).unwrap();
        }
        done.store(true, Ordering::Release);
    });

    assert_eq!(reader.get_n_trials(study, None).unwrap() as u64, TRIALS);
    let fresh = JournalStorage::open(&path).unwrap();
    let fresh_state = fresh.read(|s| Ok(s.clone())).unwrap();
    let reader_state = reader.read(|s| Ok(s.clone())).unwrap();
    assert_eq!(reader_state.stats(), fresh_state.stats(), "frames delivered to the reader");
    assert!(reader_state == fresh_state, "racing reader diverged from a fresh replay");
}
