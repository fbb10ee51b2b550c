//! Optuna's value model, type for type: every journal of the corpus in `tests/corpus/` (written by
//! Optuna 5.0 itself, `tests/python/write_corpus.py`, and `optuna-VERSION.log` by older Optuna
//! releases, `tests/python/write_legacy_journal.py`) dumps in trialog exactly as Optuna 5.0's own
//! replay dumps it (`tests/python/dump.py`), in UTC and in a zone with DST, and survives
//! `import` and `export` unchanged.
//!
//! The expected dumps are committed beside the journals, so the comparison runs without Python;
//! with Python Optuna the tests also check the committed dumps against a live replay and run the
//! whole comparison on a freshly written corpus.

mod py_common;

use std::path::{Path, PathBuf};
use std::process::Command;

use py_common::*;

/// The zones the corpus is dumped in (the file name uses `_` for `/`).
const ZONES: [&str; 2] = ["UTC", "America/New_York"];

fn corpus_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus")
}

/// The corpus journals, by name.
fn journals(dir: &Path) -> Vec<(String, PathBuf)> {
    let mut out: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "log"))
        .map(|p| (p.file_stem().unwrap().to_string_lossy().into_owned(), p))
        .collect();
    out.sort();
    out
}

fn expected(dir: &Path, name: &str, zone: &str) -> String {
    let path = dir.join(format!("{name}.{}.dump", zone.replace('/', "_")));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn trialog_dump_in(journal: &Path, zone: &str) -> String {
    run_ok(Command::new(env!("CARGO_BIN_EXE_trialog")).arg("dump").arg(journal).env("TZ", zone))
}

fn optuna_dump_in(journal: &Path, zone: &str) -> String {
    run_ok(python("dump.py", &[journal.to_str().unwrap()]).env("TZ", zone))
}

/// Panics with the first difference, in context.
fn assert_same(what: &str, ours: &str, theirs: &str) {
    if ours != theirs {
        let at = ours.bytes().zip(theirs.bytes()).take_while(|(a, b)| a == b).count();
        let from = at.saturating_sub(300);
        panic!(
            "{what}: trialog and Optuna disagree at byte {at}:\ntrialog: ...{}\noptuna:  ...{}",
            &ours[from.min(ours.len())..(at + 200).min(ours.len())],
            &theirs[from.min(theirs.len())..(at + 200).min(theirs.len())]
        );
    }
}

#[test]
fn every_corpus_journal_dumps_as_optunas_own_replay_in_every_zone() {
    let dir = corpus_dir();
    let journals = journals(&dir);
    let names: Vec<&str> = journals.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names,
        [
            "attrs",
            "datetimes",
            "distributions",
            "ops",
            "optuna-3.1.0",
            "optuna-3.6.1",
            "optuna-4.0.0",
            "optuna-4.3.0"
        ]
    );
    let live = have_optuna("every_corpus_journal_dumps_as_optunas_own_replay_in_every_zone");
    for (name, path) in &journals {
        for zone in ZONES {
            let want = expected(&dir, name, zone);
            if live {
                assert_same(
                    &format!("{name} in {zone}: committed dump"),
                    &optuna_dump_in(path, zone),
                    &want,
                );
            }
            assert_same(&format!("{name} in {zone}"), &trialog_dump_in(path, zone), &want);
        }
    }
    // The zone matters: naive datetimes are local time, as in Optuna.
    assert_ne!(expected(&dir, "datetimes", "UTC"), expected(&dir, "datetimes", "America/New_York"));
}

#[test]
fn the_corpus_covers_the_value_space() {
    let dir = corpus_dir();
    let text = |name: &str| std::fs::read_to_string(dir.join(format!("{name}.log"))).unwrap();
    let dists = text("distributions");
    for class in [
        "FloatDistribution",
        "IntDistribution",
        "CategoricalDistribution",
        "UniformDistribution",
        "LogUniformDistribution",
        "DiscreteUniformDistribution",
        "IntUniformDistribution",
        "IntLogUniformDistribution",
        r#"\"type\": \"float\""#,
        r#"\"type\": \"int\""#,
        r#"\"type\": \"categorical\""#,
    ] {
        assert!(dists.contains(class), "no {class} in distributions.log");
    }
    let attrs = text("attrs");
    for literal in
        ["NaN", "Infinity", "-Infinity", "1e400", "-0.0", "18446744073709551616", "5e-324"]
    {
        assert!(attrs.contains(literal), "no {literal} in attrs.log");
    }
    let ops = text("ops");
    for code in 0..=10 {
        assert!(ops.contains(&format!("{{\"op_code\":{code},")), "no op code {code} in ops.log");
    }
    // Intermediate steps outside 64 bits, in op 7 and in a template.
    for step in [
        r#""step":18446744073709551616,"#,
        r#""step":-9223372036854775809,"#,
        r#""1000000000000000000000000000000":"#,
    ] {
        assert!(ops.contains(step), "no {step} in ops.log");
    }
    // Journals of older releases: `", "` separators before Optuna 4, compact ones after.
    for release in ["3.1.0", "3.6.1", "4.0.0", "4.3.0"] {
        let log = text(&format!("optuna-{release}"));
        let spaced = log.contains(r#"{"op_code": 0, "#);
        assert_eq!(spaced, release.starts_with('3'), "separators of optuna-{release}.log");
    }
    let dump = expected(&dir, "attrs", "UTC");
    for typed in [r#""one": 1,"#, r#""f_one": 1.0,"#, r#""u64_past": 18446744073709551616,"#] {
        assert!(dump.contains(typed), "attrs dump lacks {typed}");
    }
}

#[test]
fn import_and_export_keep_every_corpus_journal() {
    let dir = corpus_dir();
    let out = tempfile::tempdir().unwrap();
    let live = have_optuna("import_and_export_keep_every_corpus_journal");
    for (name, path) in journals(&dir) {
        let imported = out.path().join(format!("{name}.journal"));
        let exported = out.path().join(format!("{name}.exported.log"));
        for (cmd, args) in [
            ("import", vec![path.to_str().unwrap(), imported.to_str().unwrap()]),
            (
                "export",
                vec!["--format", "optuna", imported.to_str().unwrap(), exported.to_str().unwrap()],
            ),
        ] {
            let o = Command::new(env!("CARGO_BIN_EXE_trialog"))
                .arg(cmd)
                .args(&args)
                .env("TZ", "UTC")
                .output()
                .unwrap();
            assert!(o.status.success(), "{cmd} {name}: {}", String::from_utf8_lossy(&o.stderr));
        }
        let want = expected(&dir, &name, "UTC");
        assert_same(&format!("{name} imported"), &trialog_dump_in(&imported, "UTC"), &want);
        assert_same(&format!("{name} exported"), &trialog_dump_in(&exported, "UTC"), &want);
        if live {
            assert_same(
                &format!("{name} exported, in Optuna"),
                &optuna_dump_in(&exported, "UTC"),
                &want,
            );
        }
    }
}

/// The corpus imported into trialog's format (`TZ=UTC trialog import NAME.log NAME.journal`),
/// committed: these bytes must stay readable as they are, whatever later versions change.
#[test]
fn committed_trialog_journals_of_the_corpus_still_read_the_same() {
    let dir = corpus_dir();
    for (name, _) in journals(&dir) {
        let path = dir.join(format!("{name}.journal"));
        let bytes = std::fs::read(&path).unwrap();
        // [worker, [[11, op]]]: an extended operation holds the values added after version 1.
        let extended = bytes.windows(2).any(|w| w == [0x92, 0x0b]);
        // Big integers (attrs, the intermediate steps in ops, the older releases' journals) and
        // legacy classes need them.
        let needs = name != "datetimes";
        assert_eq!(extended, needs, "{name}");
        // Instants were fixed at import: the same dump in every zone.
        for zone in ZONES {
            let want = expected(&dir, &name, "UTC");
            assert_same(&format!("{name}.journal in {zone}"), &trialog_dump_in(&path, zone), &want);
        }
    }
}

#[test]
fn a_freshly_written_corpus_dumps_as_optunas_own_replay() {
    if !have_optuna("a_freshly_written_corpus_dumps_as_optunas_own_replay") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    run_ok(&mut python("write_corpus.py", &[dir.path().to_str().unwrap()]));
    for (name, path) in journals(dir.path()) {
        for zone in ZONES {
            let want = expected(dir.path(), &name, zone);
            assert_same(&format!("fresh {name} in {zone}"), &trialog_dump_in(&path, zone), &want);
        }
    }
}
