//! Arbitrary bytes (as-is, and behind a valid header) through the recovery modes, `verify` and
//! `recover`: nothing panics; `verify` calls a journal free of corruption exactly when a
//! default-mode open succeeds; a clean verdict means every mode opens it to the same state with
//! nothing left out; and whatever `recover` writes in a mode verifies clean and replays to the
//! state a handle in that mode shows.
#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;
use trialog::journal::frame;
use trialog::recover::{self, Verdict};
use trialog::replay::ReplayState;
use trialog::{JournalStorage, MemoryBackend, RecoveryMode};

fn open(bytes: &[u8], mode: RecoveryMode) -> Option<(ReplayState, trialog::RecoveryReport)> {
    let backend = MemoryBackend::from_bytes(bytes.to_vec()).with_recovery(mode);
    let storage = JournalStorage::new(backend).ok()?;
    let state = storage.read(|s| Ok(s.clone())).ok()?;
    Some((state, storage.recovery_report()))
}

fn check(bytes: &[u8]) {
    // `verify_bytes` and `recover_bytes` read a file starting with `{` as an Optuna JSON-lines
    // journal, which the trialog-format memory backend compared with here does not read.
    if bytes.first() == Some(&b'{') {
        return;
    }
    let path = Path::new("<memory>");
    let verified = recover::verify_bytes(path, bytes);
    let opened: Vec<_> = RecoveryMode::ALL.iter().map(|&m| open(bytes, m)).collect();
    let not_corrupt = matches!(&verified, Ok(r) if r.verdict() != Verdict::Corrupt);
    assert_eq!(opened[0].is_some(), not_corrupt, "default open vs verify: {verified:?}");
    if matches!(&verified, Ok(r) if r.verdict() == Verdict::Clean) {
        let (first, _) = opened[0].as_ref().unwrap();
        for o in &opened {
            let (state, report) = o.as_ref().expect("a clean journal opens in every mode");
            assert!(state == first && report.is_clean());
        }
    }
    for (i, mode) in RecoveryMode::ALL.into_iter().enumerate() {
        let Ok((clean, _)) = recover::recover_bytes(path, bytes, mode) else { continue };
        let v = recover::verify_bytes(path, &clean).expect("recover writes a journal");
        assert_eq!(v.verdict(), Verdict::Clean, "{mode}: recover wrote an unclean journal");
        let (replayed, _) = open(&clean, RecoveryMode::AbsoluteConsistency).expect("clean opens");
        if let Some((state, _)) = &opened[i] {
            assert!(replayed == *state, "{mode}: recovered state differs from the mode's view");
        }
    }
}

fuzz_target!(|data: &[u8]| {
    check(data);
    let mut with_header = frame::encode_header().to_vec();
    with_header.extend_from_slice(data);
    check(&with_header);
});
