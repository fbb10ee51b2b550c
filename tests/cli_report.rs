//! `trialog report`: writes the page for a study of a journal of either format, refuses an
//! unknown study without writing anything, and with `--watch` rewrites the page (atomically,
//! leaving no temporary file) as trials are added.

use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use trialog::{Distribution, JournalStorage, StudyDirection, TrialState};

fn trialog(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_trialog")).args(args).output().expect("spawn trialog")
}

/// A journal with study `s` of `n` COMPLETE trials.
fn journal(path: &Path, n: u32) {
    let storage = JournalStorage::open(path).unwrap();
    let id = match storage.get_study_id_from_name("s") {
        Ok(id) => id,
        Err(_) => storage.create_new_study(&[StudyDirection::Minimize], Some("s")).unwrap(),
    };
    add(&storage, id, n);
}

fn add<B: trialog::LogBackend>(storage: &JournalStorage<B>, id: u64, n: u32) {
    let d = Distribution::float(-1.0, 1.0, false, None).unwrap();
    for i in 0..n {
        let t = storage.create_new_trial(id, None).unwrap();
        let x = f64::from(i) / f64::from(n.max(1)) - 0.5;
        storage.set_trial_param(t, "alpha", x, &d).unwrap();
        storage.set_trial_state_values(t, TrialState::Complete, Some(&[x * x])).unwrap();
    }
}

#[test]
fn report_writes_the_page_for_both_journal_formats() {
    let dir = tempfile::tempdir().unwrap();
    let j = dir.path().join("j.journal");
    journal(&j, 12);
    let out = dir.path().join("page.html");
    let o =
        trialog(&["report", j.to_str().unwrap(), "--study", "s", "--out", out.to_str().unwrap()]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(
        String::from_utf8_lossy(&o.stdout)
            .starts_with(&format!("wrote {} (12 trials, ", out.display()))
    );
    let html = std::fs::read_to_string(&out).unwrap();
    assert!(html.contains("<h1>Study “s”</h1>") && html.contains(">alpha</text>"));
    assert!(!html.contains("http-equiv=\"refresh\""), "no reload without --watch");

    // The same study exported to an Optuna JSON-lines journal gives the same charts.
    let optuna = dir.path().join("j.log");
    let o =
        trialog(&["export", "--format", "optuna", j.to_str().unwrap(), optuna.to_str().unwrap()]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let out2 = dir.path().join("optuna.html");
    let o = trialog(&[
        "report",
        optuna.to_str().unwrap(),
        "--study",
        "s",
        "--out",
        out2.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let html2 = std::fs::read_to_string(&out2).unwrap();
    let body = |h: &str| {
        h[h.find("<section id=\"history\">").unwrap()..h.find("<section id=\"timeline\">").unwrap()]
            .to_owned()
    };
    assert_eq!(body(&html), body(&html2));
}

#[test]
fn an_unknown_study_is_an_error_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let j = dir.path().join("j.journal");
    journal(&j, 1);
    let out = dir.path().join("page.html");
    let o = trialog(&[
        "report",
        j.to_str().unwrap(),
        "--study",
        "nope",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(1));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("no study named \"nope\"") && err.contains("studies"), "{err}");
    assert!(!out.exists());
    let o = trialog(&["report", dir.path().join("missing").to_str().unwrap(), "--study", "s"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("missing"));
}

#[test]
fn watch_rewrites_the_page_as_trials_arrive() {
    let dir = tempfile::tempdir().unwrap();
    let j = dir.path().join("j.journal");
    journal(&j, 3);
    let out = dir.path().join("live.html");
    let mut child = Command::new(env!("CARGO_BIN_EXE_trialog"))
        .args(["report", j.to_str().unwrap(), "--study", "s", "--out", out.to_str().unwrap()])
        .args(["--watch", "--interval", "1"])
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let wait_for = |needle: &str| {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            // The page is replaced by rename: a read sees an old or a new page, whole.
            if let Ok(html) = std::fs::read_to_string(&out) {
                assert!(html.ends_with("</html>\n"), "a torn page");
                if html.contains(needle) {
                    return html;
                }
            }
            assert!(Instant::now() < deadline, "the page never showed {needle:?}");
            std::thread::sleep(Duration::from_millis(100));
        }
    };
    let first = wait_for("3 trials;");
    assert!(first.contains("<meta http-equiv=\"refresh\" content=\"1\">"));
    journal(&j, 5);
    wait_for("8 trials;");
    child.kill().unwrap();
    child.wait().unwrap();
    let names: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains("live"))
        .collect();
    // Killed while sleeping (or, rarely, mid-write): at most a stray temporary file beside it.
    assert!(names.contains(&"live.html".to_owned()), "{names:?}");
}

/// The timeline gives each worker (storage handle and thread) its own row, in both formats.
#[test]
fn the_timeline_has_a_row_per_worker_that_ran_trials() {
    let dir = tempfile::tempdir().unwrap();
    let own = dir.path().join("w.journal");
    let optuna = dir.path().join("w.log");
    let a = JournalStorage::open(&own).unwrap();
    let b = JournalStorage::open(&own).unwrap();
    let oa = JournalStorage::open_optuna(&optuna).unwrap();
    let ob = JournalStorage::open_optuna(&optuna).unwrap();
    let id = a.create_new_study(&[StudyDirection::Minimize], Some("s")).unwrap();
    let oid = oa.create_new_study(&[StudyDirection::Minimize], Some("s")).unwrap();
    for round in 0..3 {
        add(&a, id, 2);
        add(&oa, oid, 2);
        if round < 2 {
            add(&b, id, 1);
            add(&ob, oid, 1);
        }
    }
    for j in [&own, &optuna] {
        let out = dir.path().join("page.html");
        let o = trialog(&[
            "report",
            j.to_str().unwrap(),
            "--study",
            "s",
            "--out",
            out.to_str().unwrap(),
        ]);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let html = std::fs::read_to_string(&out).unwrap();
        assert!(html.contains("2 workers; at most 1 trial running at once"), "{}", j.display());
        let bars = |w: &str| html.matches(&format!("worker {w} (")).count();
        assert_eq!((bars("w0"), bars("w1"), bars("w2")), (6, 2, 0), "{}", j.display());
        assert!(html.contains(">Worker</text>") && !html.contains("worker not recorded"));
    }
}
