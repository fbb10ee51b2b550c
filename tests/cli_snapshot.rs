//! `trialog snapshot <journal>` (docs/CLI.md): writes `<journal>.snapshot`, which later opens
//! start from; the journal is not modified.

use std::process::{Command, Output};

use trialog::backend::AnyJournalFile;
use trialog::{JournalStorage, StudyDirection, snapshot};

fn trialog(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_trialog")).args(args).output().expect("run trialog")
}

fn field<'a>(out: &'a str, key: &str) -> &'a str {
    out.lines()
        .find_map(|l| l.strip_prefix(&format!("{key}: ")))
        .unwrap_or_else(|| panic!("{key} in {out}"))
}

#[test]
fn snapshot_writes_a_snapshot_that_later_opens_start_from() {
    let dir = tempfile::tempdir().unwrap();
    for (name, optuna) in [("study.journal", false), ("optuna.log", true)] {
        let path = dir.path().join(name);
        {
            let s = if optuna {
                JournalStorage::new(AnyJournalFile::Optuna(
                    trialog::backend::OptunaJournalFile::open(&path).unwrap(),
                ))
                .unwrap()
            } else {
                JournalStorage::new(AnyJournalFile::Trialog(
                    trialog::FileBackend::open(&path).unwrap(),
                ))
                .unwrap()
            };
            let study = s.create_new_study(&[StudyDirection::Minimize], Some("s")).unwrap();
            for _ in 0..5 {
                s.create_new_trial(study, None).unwrap();
            }
        }
        let before = std::fs::read(&path).unwrap();
        let out = trialog(&["snapshot", path.to_str().unwrap()]);
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let text = String::from_utf8(out.stdout).unwrap();
        let snap = snapshot::path_for(&path);
        assert_eq!(field(&text, "snapshot"), snap.display().to_string());
        assert_eq!(field(&text, "covers_bytes"), before.len().to_string());
        assert_eq!(field(&text, "replayed_from"), "start");
        assert_eq!(std::fs::read(&path).unwrap(), before, "the journal was modified");
        let s = JournalStorage::new(AnyJournalFile::open_existing(&path).unwrap()).unwrap();
        assert_eq!(s.opened_from_snapshot(), Some(before.len() as u64));
        assert_eq!(s.get_all_trials(0, None).unwrap().len(), 5);
        // A second run starts from the first snapshot.
        let again =
            String::from_utf8(trialog(&["snapshot", path.to_str().unwrap()]).stdout).unwrap();
        assert_eq!(field(&again, "replayed_from"), format!("snapshot at byte {}", before.len()));
    }
}

#[test]
fn snapshot_of_a_missing_or_empty_journal_fails() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nope.journal");
    let out = trialog(&["snapshot", missing.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(!snapshot::path_for(&missing).exists());
    let empty = dir.path().join("empty.journal");
    std::fs::write(&empty, b"").unwrap();
    let out = trialog(&["snapshot", empty.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no whole record"));
    assert!(!snapshot::path_for(&empty).exists());
}
