//! After a failed write or fsync the handle is poisoned: every later call on it returns
//! [`Error::Poisoned`] naming the journal and the failed operation, because whether the failed
//! bytes reached the disk is unknown. The journal itself stays usable: it opens without error,
//! holds every acknowledged record, and hides (then repairs) whatever part of the failed frame
//! was written.
//!
//! A real write failure without privileges: a child process (this test binary, re-executed on an
//! `#[ignore]`d test) ignores `SIGXFSZ` and lowers `RLIMIT_FSIZE` to two and a half records past
//! the journal's end, then appends until an append fails. The kernel writes the part of the
//! third record that fits and fails the rest with `EFBIG`, leaving a torn tail. The child checks
//! the poisoning and reports how many appends were acknowledged; the parent checks the file.

// Unix only: this suite makes writes fail with EFBIG through RLIMIT_FSIZE and SIGXFSZ, which Windows does not have;
// injected write failures (crash_fault_injection.rs) cover poisoning on every platform.
#![cfg(unix)]

mod common;

use std::path::PathBuf;
use std::process::Command;

use common::{FileJournal, frame_boundaries};
use trialog::journal::frame::{self, FrameCheck};
use trialog::{AttrValue, Error, JournalStorage, StudyDirection, TrialState};

/// Set (to the journal's path) only in the child process.
const CHILD_JOURNAL_ENV: &str = "TRIALOG_TEST_POISON_CHILD_JOURNAL";
/// The file size limit the child sets, in bytes.
const CHILD_LIMIT_ENV: &str = "TRIALOG_TEST_POISON_CHILD_LIMIT";
const CHILD_TEST: &str = "child_appends_until_a_write_fails";
/// The line on which the child reports its acknowledged appends.
const ACKED_PREFIX: &str = "poison-child-acked: ";

/// Every record the tests append: a trial user attribute of constant size, so that the file size
/// limit falls in the middle of a record.
fn record_value() -> AttrValue {
    AttrValue::String("r".repeat(1000))
}

fn record_key(prefix: &str, i: u64) -> String {
    format!("{prefix}{i:04}")
}

#[test]
fn failed_write_poisons_the_handle_and_keeps_acknowledged_records() {
    let journal = FileJournal::new();
    let trial = {
        let s = journal.open();
        let study = s.create_new_study(&[StudyDirection::Minimize], Some("poison")).unwrap();
        let trial = s.create_new_trial(study, None).unwrap();
        // One record, to measure its size.
        s.set_trial_user_attr(trial, &record_key("p", 0), record_value()).unwrap();
        trial
    };
    let end = journal.len();
    let bytes = journal.bytes();
    let boundaries = frame_boundaries(&bytes);
    let record_len = end - boundaries[boundaries.len() - 2] as u64;
    assert!(record_len > 1000);
    let limit = end + 2 * record_len + record_len / 2;

    let output = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", CHILD_TEST, "--nocapture", "--ignored", "--test-threads=1"])
        .env(CHILD_JOURNAL_ENV, journal.path())
        .env(CHILD_LIMIT_ENV, limit.to_string())
        .output()
        .expect("run the child test");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "child failed\n--- stdout\n{stdout}\n--- stderr\n{stderr}");
    assert!(stdout.contains("1 passed"), "the child test did not run\n{stdout}");
    // libtest prints the test's name without a newline before the test's own output.
    let acked: u64 = stdout
        .split_once(ACKED_PREFIX)
        .and_then(|(_, rest)| rest.split_whitespace().next())
        .unwrap_or_else(|| panic!("child did not report its appends\n{stdout}"))
        .parse()
        .unwrap();
    assert_eq!(acked, 2, "the limit leaves room for exactly two records");

    // The failed append wrote what fitted under the limit: a torn tail after the last record.
    let damaged = journal.bytes();
    assert_eq!(damaged.len() as u64, limit, "the failed write did not stop at the size limit");
    let clean_end = *frame_boundaries(&damaged).last().unwrap();
    assert_eq!(clean_end as u64, end + 2 * record_len, "acknowledged records are not intact");

    // It opens without error and holds every acknowledged record, and nothing else.
    let s = journal.open();
    let attrs = s.get_trial_user_attrs(trial).unwrap();
    let keys: Vec<&str> = attrs.keys().map(String::as_str).collect();
    assert_eq!(keys, ["c0000", "c0001", "p0000"]);
    assert!(attrs.values().all(|v| *v == record_value()));

    // The next append covers the torn tail with padding; the file never shrinks.
    assert!(s.set_trial_state_values(trial, TrialState::Complete, Some(&[1.0])).unwrap());
    let repaired = journal.bytes();
    assert!(repaired.len() > damaged.len());
    assert_eq!(&repaired[..clean_end], &damaged[..clean_end]);
    assert_eq!(
        frame::check_frame(&repaired[clean_end..]),
        FrameCheck::Padding { len: damaged.len() - clean_end }
    );
    let reopened = journal.open();
    assert_eq!(reopened.get_trial(trial).unwrap().state, TrialState::Complete);
    assert_eq!(reopened.get_trial_user_attrs(trial).unwrap(), attrs);
}

/// The child half of the test above; does nothing unless that test runs it.
#[test]
#[ignore = "child process of failed_write_poisons_the_handle_and_keeps_acknowledged_records"]
fn child_appends_until_a_write_fails() {
    let Some(path) = std::env::var_os(CHILD_JOURNAL_ENV).map(PathBuf::from) else {
        eprintln!("{CHILD_TEST} only runs as the child of its parent test");
        return;
    };
    let limit: u64 = std::env::var(CHILD_LIMIT_ENV).unwrap().parse().unwrap();
    let s = JournalStorage::open(&path).unwrap();
    let trial = s.get_trial_id_from_study_id_trial_number(0, 0).unwrap();
    limit_file_size(limit);

    let mut acked = 0;
    let first_error = loop {
        match s.set_trial_user_attr(trial, &record_key("c", acked), record_value()) {
            Ok(()) => acked += 1,
            Err(e) => break e,
        }
        assert!(acked < 100, "the file size limit never failed a write");
    };
    println!("{ACKED_PREFIX}{acked}");

    let is_poisoned_write = |e: &Error| {
        matches!(e, Error::Poisoned { path: p, op: "write", source }
            if *p == path && source.raw_os_error() == Some(libc::EFBIG))
    };
    assert!(is_poisoned_write(&first_error), "first failure: {first_error:?}");
    // Every later call that touches the journal returns the latched error, reads included.
    let later: Vec<Error> = vec![
        s.get_trial(trial).unwrap_err(),
        s.get_trial_user_attrs(trial).unwrap_err(),
        s.get_all_studies().unwrap_err(),
        s.sync().unwrap_err(),
        s.set_trial_user_attr(trial, "small", AttrValue::Int(1)).unwrap_err(),
        s.set_trial_state_values(trial, TrialState::Fail, None).unwrap_err(),
        s.create_new_study(&[StudyDirection::Minimize], Some("other")).unwrap_err(),
        s.create_new_trial(0, None).unwrap_err(),
    ];
    for e in &later {
        assert!(is_poisoned_write(e), "after poisoning: {e:?}");
    }
    assert!(later[0].to_string().contains("reopen"), "the message says what to do: {}", later[0]);

    // Another handle on the same journal is not poisoned and sees the acknowledged records.
    let fresh = JournalStorage::open(&path).unwrap();
    let attrs = fresh.get_trial_user_attrs(trial).unwrap();
    assert_eq!(attrs.keys().filter(|k| k.starts_with('c')).count() as u64, acked);
}

/// Makes writes past `limit` bytes fail with `EFBIG` instead of killing the process.
fn limit_file_size(limit: u64) {
    // SAFETY: ignoring SIGXFSZ installs no handler code; it only changes the default action, so
    // an oversized write returns EFBIG instead of terminating the process.
    let previous = unsafe { libc::signal(libc::SIGXFSZ, libc::SIG_IGN) };
    assert_ne!(previous, libc::SIG_ERR, "signal(SIGXFSZ)");
    let mut rlim = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
    // SAFETY: getrlimit/setrlimit read and write one `rlimit` we own.
    unsafe {
        assert_eq!(libc::getrlimit(libc::RLIMIT_FSIZE, &mut rlim), 0, "getrlimit");
        rlim.rlim_cur = limit;
        assert_eq!(libc::setrlimit(libc::RLIMIT_FSIZE, &rlim), 0, "setrlimit");
    }
}
