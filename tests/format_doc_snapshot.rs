//! `docs/FORMAT.md`'s snapshot example must be exactly what `trialog snapshot` writes for the
//! document's worked journal example, and must load to the state a full replay of it gives.

use std::path::Path;

use trialog::backend::AnyJournalFile;
use trialog::replay::ReplayState;
use trialog::{JournalStorage, snapshot};

/// The hex bytes between `start` and `end` markers of FORMAT.md.
fn hex_between(start: &str, end: &str) -> Vec<u8> {
    let doc = include_str!("../docs/FORMAT.md");
    let from = doc.find(start).expect("start marker in FORMAT.md");
    let to = doc[from..].find(end).expect("end marker in FORMAT.md") + from;
    let mut bytes = Vec::new();
    for line in doc[from..to].lines().filter(|l| l.contains(':') && !l.contains("<!--")) {
        let (_, hex) = line.split_once(':').unwrap();
        for pair in hex.split_whitespace() {
            bytes.push(u8::from_str_radix(pair, 16).expect("hex byte"));
        }
    }
    bytes
}

fn hex_dump(bytes: &[u8]) -> String {
    bytes
        .chunks(16)
        .enumerate()
        .map(|(i, c)| {
            let pairs: Vec<String> = c.iter().map(|b| format!("{b:02x}")).collect();
            format!("{:04x}: {}\n", i * 16, pairs.join(" "))
        })
        .collect()
}

fn open(path: &Path) -> JournalStorage<AnyJournalFile> {
    JournalStorage::new(AnyJournalFile::open_existing(path).unwrap()).unwrap()
}

fn state(s: &JournalStorage<AnyJournalFile>) -> ReplayState {
    s.read(|st| Ok(st.clone())).unwrap()
}

#[test]
fn snapshot_example_matches_what_trialog_snapshot_writes() {
    let dir = tempfile::tempdir().unwrap();
    let journal = dir.path().join("demo.journal");
    std::fs::write(
        &journal,
        hex_between("<!-- example-bytes:start -->", "<!-- example-bytes:end -->"),
    )
    .unwrap();
    let taken = open(&journal).take_snapshot().unwrap().unwrap();
    let written = std::fs::read(&taken.path).unwrap();
    let documented = hex_between("<!-- snapshot-bytes:start -->", "<!-- snapshot-bytes:end -->");
    assert_eq!(
        documented,
        written,
        "docs/FORMAT.md snapshot example is stale; now:\n{}",
        hex_dump(&written)
    );
    assert_eq!(taken.covered_end, 52, "the example covers the whole journal");
}

#[test]
fn snapshot_example_loads_to_the_full_replay() {
    let dir = tempfile::tempdir().unwrap();
    let journal = dir.path().join("demo.journal");
    std::fs::write(
        &journal,
        hex_between("<!-- example-bytes:start -->", "<!-- example-bytes:end -->"),
    )
    .unwrap();
    let full = state(&open(&journal));
    std::fs::write(
        snapshot::path_for(&journal),
        hex_between("<!-- snapshot-bytes:start -->", "<!-- snapshot-bytes:end -->"),
    )
    .unwrap();
    let fast = open(&journal);
    assert_eq!(fast.opened_from_snapshot(), Some(52));
    assert_eq!(state(&fast), full);
    assert_eq!(fast.trial_workers(0).unwrap(), vec![(0, "w-0".to_owned())]);
}
