//! `trialog verify` and `trialog recover` on the damaged journals the crash tests make: the
//! documented exit codes (docs/RECOVERY.md), reports that name byte offsets, and a recovered
//! journal that verifies clean.

mod common;

use std::path::Path;
use std::process::{Command, Output};

use common::FileJournal;
use trialog::{JournalStorage, StudyDirection};

fn trialog(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_trialog")).args(args).output().expect("run trialog")
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// A journal of three one-frame studies; returns the start of each frame.
fn three_studies(j: &FileJournal) -> Vec<usize> {
    let storage = JournalStorage::open(j.path()).unwrap();
    for name in ["a", "b", "c"] {
        storage.create_new_study(&[StudyDirection::Minimize], Some(name)).unwrap();
    }
    common::frame_starts(&j.bytes())
}

fn stdout(o: &Output) -> String {
    String::from_utf8(o.stdout.clone()).unwrap()
}

#[test]
fn verify_exit_codes_and_reports() {
    let j = FileJournal::new();
    let starts = three_studies(&j);
    let clean = trialog(&["verify", s(j.path())]);
    assert_eq!(clean.status.code(), Some(0), "{}", stdout(&clean));
    assert!(stdout(&clean).contains("status: clean\n"));
    assert!(stdout(&clean).contains("batch_frames: 3\n"));

    // A torn tail: exit 3 with its offset.
    let end = j.len();
    let mut bytes = j.bytes();
    bytes.extend_from_slice(&[5, 0, 0, 0, 1]);
    std::fs::write(j.path(), &bytes).unwrap();
    let torn = trialog(&["verify", s(j.path())]);
    assert_eq!(torn.status.code(), Some(3));
    assert!(stdout(&torn).contains(&format!("torn_tail: offset {end} length 5\n")));

    // Corruption in the middle: exit 4, the range named, in text and JSON.
    bytes[starts[1] + 10] ^= 0x20;
    std::fs::write(j.path(), &bytes).unwrap();
    let corrupt = trialog(&["verify", s(j.path())]);
    assert_eq!(corrupt.status.code(), Some(4));
    let len = starts[2] - starts[1];
    assert!(
        stdout(&corrupt).contains(&format!("corrupt: offset {} length {len}:", starts[1])),
        "{}",
        stdout(&corrupt)
    );
    let json = trialog(&["verify", "--json", s(j.path())]);
    assert_eq!(json.status.code(), Some(4));
    let text = stdout(&json);
    assert!(text.contains(r#""status": "corrupt""#), "{text}");
    assert!(text.contains(&format!(r#""length": {len}, "offset": {}"#, starts[1])), "{text}");
    assert!(json.stderr.is_empty());

    // Not a journal, or missing: exit 1 with one stderr line, nothing on stdout.
    let other = j.dir().join("other.txt");
    std::fs::write(&other, "plain text, neither format\n").unwrap();
    for path in [other.as_path(), &j.dir().join("missing")] {
        let o = trialog(&["verify", s(path)]);
        assert_eq!(o.status.code(), Some(1));
        assert!(o.stdout.is_empty());
        assert_eq!(String::from_utf8_lossy(&o.stderr).lines().count(), 1);
    }
    // Bad command line: exit 2.
    assert_eq!(trialog(&["verify"]).status.code(), Some(2));
}

#[test]
fn recover_writes_a_clean_journal_and_reports_what_it_dropped() {
    let j = FileJournal::new();
    let starts = three_studies(&j);
    let mut bytes = j.bytes();
    bytes[starts[1] + 10] ^= 0x20;
    std::fs::write(j.path(), &bytes).unwrap();

    // A mode that does not drop corruption refuses, naming the offset.
    let refused = trialog(&["recover", s(j.path()), "--mode", "tolerate-corrupted-tail"]);
    assert_eq!(refused.status.code(), Some(1));
    let err = String::from_utf8_lossy(&refused.stderr).into_owned();
    assert!(err.contains(&format!("offset {}", starts[1])), "{err}");
    assert_eq!(j.bytes(), bytes, "nothing replaced");
    assert_eq!(trialog(&["recover", s(j.path()), "--mode", "nonsense"]).status.code(), Some(2));

    // Salvage in place: a backup, a clean journal, and the dropped range printed.
    let o = trialog(&["recover", s(j.path()), "--mode", "skip-any-corrupted"]);
    assert_eq!(o.status.code(), Some(0), "{}", String::from_utf8_lossy(&o.stderr));
    let out = stdout(&o);
    assert!(out.contains("kept_frames: 2\n"), "{out}");
    assert!(out.contains(&format!(
        "dropped: offset {} length {}",
        starts[1],
        starts[2] - starts[1]
    )));
    let backup = out.lines().find_map(|l| l.strip_prefix("backup: ")).expect("a backup line");
    assert_eq!(std::fs::read(backup).unwrap(), bytes);
    assert_eq!(trialog(&["verify", s(j.path())]).status.code(), Some(0));
    let names: Vec<String> = JournalStorage::open(j.path())
        .unwrap()
        .get_all_studies()
        .unwrap()
        .into_iter()
        .map(|s| s.study_name)
        .collect();
    assert_eq!(names, ["a", "c"]);
}
