//! An empty file is an empty journal of no format yet (docs/FORMAT.md, docs/OPTUNA.md,
//! docs/CLI.md): every command agrees on it.
//!
//! Invariants: the read commands show no studies; `verify` says `format: empty`, `status: clean`
//! and exits 0; `recover` has nothing to do (and `--out` gets an empty file); `export` and
//! `import` copy nothing; none of them changes the file or creates `<journal>.lock`; a writer
//! gives the file the format of the API it opened it with.

use std::path::Path;
use std::process::{Command, Output};

use trialog::backend::detect_format;
use trialog::{JournalFormat, JournalStorage, StudyDirection};

fn trialog(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_trialog")).args(args).output().expect("run trialog")
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

fn ok(args: &[&str]) -> String {
    let out = trialog(args);
    assert_eq!(out.status.code(), Some(0), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn every_command_treats_an_empty_file_as_an_empty_journal() {
    let dir = tempfile::tempdir().unwrap();
    let empty = dir.path().join("empty.log");
    std::fs::write(&empty, b"").unwrap();
    let e = s(&empty);

    assert_eq!(detect_format(&empty).unwrap(), None);
    let studies = ok(&["studies", e]);
    assert_eq!(studies.lines().count(), 1, "a header row and no study: {studies}");
    assert!(ok(&["dump", e]).contains(r#""studies": []"#));
    ok(&["stats", e]);
    for command in ["trials", "best"] {
        let out = trialog(&[command, e, "--study", "x"]);
        assert_eq!(out.status.code(), Some(1));
        assert!(String::from_utf8_lossy(&out.stderr).contains("no study named \"x\""));
    }

    let verify = ok(&["verify", e]);
    assert!(verify.contains("format: empty\nstatus: clean\nbytes: 0\n"), "{verify}");
    let json = ok(&["verify", "--json", e]);
    assert!(json.contains(r#""format": "empty""#) && json.contains(r#""status": "clean""#));

    for mode in ["tolerate-corrupted-tail", "absolute-consistency", "point-in-time"] {
        let text = ok(&["recover", e, "--mode", mode]);
        assert!(text.contains("format: empty\n"), "{text}");
        assert!(text.contains("written: nothing (nothing to drop)"), "{text}");
    }
    let out = dir.path().join("out.log");
    ok(&["recover", e, "--mode", "skip-any-corrupted", "--out", s(&out)]);
    assert_eq!(std::fs::read(&out).unwrap(), b"");

    let exported = dir.path().join("exported.log");
    ok(&["export", "--format", "optuna", e, s(&exported)]);
    assert_eq!(std::fs::read(&exported).unwrap(), b"");
    let imported = dir.path().join("imported.journal");
    ok(&["import", e, s(&imported)]);
    assert_eq!(detect_format(&imported).unwrap(), Some(JournalFormat::Trialog));

    assert_eq!(std::fs::read(&empty).unwrap(), b"", "a command changed the empty file");
    assert!(std::fs::symlink_metadata(dir.path().join("empty.log.lock")).is_err());
}

#[test]
fn a_writer_gives_an_empty_file_the_format_of_its_api() {
    let dir = tempfile::tempdir().unwrap();
    for (name, format) in [("t", JournalFormat::Trialog), ("o", JournalFormat::Optuna)] {
        let path = dir.path().join(name);
        std::fs::write(&path, b"").unwrap();
        match format {
            JournalFormat::Trialog => {
                let s = JournalStorage::open(&path).unwrap();
                assert!(s.get_all_studies().unwrap().is_empty());
                s.create_new_study(&[StudyDirection::Minimize], Some("s")).unwrap();
            }
            JournalFormat::Optuna => {
                let s = JournalStorage::open_optuna(&path).unwrap();
                assert!(s.get_all_studies().unwrap().is_empty());
                s.create_new_study(&[StudyDirection::Minimize], Some("s")).unwrap();
            }
        }
        assert_eq!(detect_format(&path).unwrap(), Some(format));
        let text = ok(&["verify", s(&path)]);
        assert!(text.contains(&format!("format: {}\nstatus: clean\n", format.name())), "{text}");
        assert!(ok(&["studies", s(&path)]).contains(" s "));
    }
}
