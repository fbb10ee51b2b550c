//! `docs/FORMAT.md`'s snapshot example must be exactly what `trialog snapshot` writes for the
//! document's worked journal example, and must load to the state a full replay of it gives; the
//! version 1 example (the format before) must still load to it.

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

/// Loads the example journal with the snapshot between `start` and `end` (of `version`) beside
/// it, and checks it gives the full replay's state.
fn example_loads_to_the_full_replay(start: &str, end: &str, version: u8) {
    let dir = tempfile::tempdir().unwrap();
    let journal = dir.path().join("demo.journal");
    std::fs::write(
        &journal,
        hex_between("<!-- example-bytes:start -->", "<!-- example-bytes:end -->"),
    )
    .unwrap();
    let full = state(&open(&journal));
    let bytes = hex_between(start, end);
    assert_eq!(bytes[8], version, "the example's version");
    std::fs::write(snapshot::path_for(&journal), bytes).unwrap();
    let fast = open(&journal);
    assert_eq!(fast.opened_from_snapshot(), Some(52));
    assert_eq!(state(&fast), full);
    assert_eq!(fast.trial_workers(0).unwrap(), vec![(0, "w-0".to_owned())]);
}

#[test]
fn snapshot_example_loads_to_the_full_replay() {
    example_loads_to_the_full_replay(
        "<!-- snapshot-bytes:start -->",
        "<!-- snapshot-bytes:end -->",
        2,
    );
}

#[test]
fn the_version_1_snapshot_example_still_loads_to_the_full_replay() {
    // Snapshots written before version 2 stay readable (decoded whole at the open).
    example_loads_to_the_full_replay(
        "<!-- snapshot-v1-bytes:start -->",
        "<!-- snapshot-v1-bytes:end -->",
        1,
    );
}

#[test]
fn version_1_snapshots_of_the_corpus_load_to_the_full_replay() {
    // tests/data/snapshot-v1: written by the last build that wrote version 1.
    for name in ["attrs.journal", "ops.journal", "optuna-4.3.0.log"] {
        let dir = tempfile::tempdir().unwrap();
        let journal = dir.path().join(name);
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests");
        std::fs::copy(root.join("corpus").join(name), &journal).unwrap();
        let full = state(&open(&journal));
        let v1 =
            std::fs::read(root.join("data/snapshot-v1").join(format!("{name}.snapshot"))).unwrap();
        assert_eq!(v1[8], 1, "{name}: a version 1 fixture");
        std::fs::write(snapshot::path_for(&journal), v1).unwrap();
        let fast = open(&journal);
        let covered = std::fs::metadata(&journal).unwrap().len();
        assert_eq!(fast.opened_from_snapshot(), Some(covered), "{name}");
        let loaded = state(&fast);
        if name != "ops.journal" {
            assert_eq!(loaded, full, "{name}");
            continue;
        }
        // Version 1 does not record the distribution replay checks a parameter against: its
        // load takes the first trial's current one. In ops.journal that trial set "x" again
        // with another step, so only that differs (docs/FORMAT.md, "Version 1").
        let studies = |st: &ReplayState| st.studies().cloned().collect::<Vec<_>>();
        assert_eq!(studies(&loaded), studies(&full));
        for study in full.studies() {
            let trials = |st: &ReplayState| {
                st.trials_of(study.study_id).unwrap().cloned().collect::<Vec<_>>()
            };
            assert_eq!(trials(&loaded), trials(&full), "study {}", study.study_id);
        }
        assert_eq!(loaded.stats(), full.stats());
        let step = |st: &ReplayState| match st.param_distribution(0, "x") {
            Some(trialog::Distribution::Float(f)) => f.step(),
            other => panic!("{other:?}"),
        };
        assert_eq!((step(&full), step(&loaded)), (None, Some(0.5)));
    }
}

#[test]
fn snapshots_of_every_corpus_journal_load_to_the_full_replay() {
    // Every journal of tests/corpus (both formats, every Optuna release's): a snapshot taken now
    // gives exactly the full replay's state, including what replay checks each parameter
    // against (ops.journal sets one twice with different distributions).
    let corpus = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus");
    let mut checked = 0;
    for entry in std::fs::read_dir(&corpus).unwrap() {
        let path = entry.unwrap().path();
        let ext = path.extension().and_then(|e| e.to_str()).unwrap_or_default();
        if ext != "journal" && ext != "log" {
            continue;
        }
        let name = path.file_name().unwrap().to_owned();
        let dir = tempfile::tempdir().unwrap();
        let journal = dir.path().join(&name);
        std::fs::copy(&path, &journal).unwrap();
        let full = state(&open(&journal));
        let taken = open(&journal).take_snapshot();
        if name.to_string_lossy().starts_with("distributions.") {
            // Its int parameters hold values past 64 bits, which a snapshot's templates cannot
            // carry: no snapshot, opens replay it whole.
            assert!(taken.is_err(), "{name:?}: {taken:?}");
            continue;
        }
        taken.unwrap().expect("file journals take snapshots");
        let fast = open(&journal);
        assert!(fast.opened_from_snapshot().is_some(), "{name:?}");
        assert_eq!(state(&fast), full, "{name:?}");
        checked += 1;
    }
    assert!(checked >= 8, "only {checked} corpus journals checked");
}
