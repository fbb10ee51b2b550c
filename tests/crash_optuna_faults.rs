//! A failed append to an Optuna JSON-lines journal leaves the file ending in a complete line.
//!
//! Invariants (docs/OPTUNA.md, "Writes"): when a write fails midway (a full disk, an I/O error),
//! the handle is poisoned ([`Error::Poisoned`] naming the failed `write` and the OS error) and,
//! still under Optuna's lock, the partial line is cut off, so the next writer (a Python writer
//! appends without repairing) does not glue its line onto a fragment; complete lines of a
//! multi-line batch that reached the file stay; if the cut fails too, the error says the file may
//! end in a partial line and that `trialog recover` repairs it; a failed fsync after a complete
//! write leaves the complete line. A real full disk (a tmpfs, needs root) behaves the same.
//!
//! The injected cases need the cargo feature `fault-injection`; the tmpfs case runs in every
//! build and prints that it was skipped without root.

mod py_common;

#[cfg(unix)]
use std::ffi::CString;
use std::io::Write;
#[cfg(unix)]
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use trialog::{AttrValue, Error, JournalStorage, OptunaJournalFile, StudyDirection};

/// Appends one line the way Python Optuna's writer does: at the end, without repairing.
fn append_like_python(path: &Path, line: &str) {
    let mut f = std::fs::OpenOptions::new().append(true).open(path).unwrap();
    f.write_all(line.as_bytes()).unwrap();
    f.write_all(b"\n").unwrap();
}

/// Replays `path` with a fresh trialog handle and, where Python Optuna is installed, with
/// Optuna's own reader: both must read every line.
fn assert_readable(path: &Path, test: &str) -> JournalStorage<OptunaJournalFile> {
    let fresh = JournalStorage::open_optuna(path).unwrap_or_else(|e| panic!("{test}: {e}"));
    if py_common::have_optuna(test) {
        py_common::assert_same_state(path);
    }
    fresh
}

const PYTHON_LINE: &str =
    r#"{"op_code":2,"worker_id":"py","study_id":0,"user_attr":{"from":"python"}}"#;

#[cfg(feature = "fault-injection")]
mod injected {
    use super::*;
    use std::sync::Arc;
    use trialog::backend::fault::{Action, FaultInjector, IoOp, Rule};
    use trialog::journal::{LogBatch, Operation};
    use trialog::{LogBackend, OptunaFileOptions};

    fn open(path: &Path, faults: &Arc<FaultInjector>) -> JournalStorage<OptunaJournalFile> {
        let backend = OptunaJournalFile::open_with_faults(
            path,
            &OptunaFileOptions::default(),
            faults.clone(),
        )
        .unwrap();
        JournalStorage::new(backend).unwrap()
    }

    /// The next write transfers 10 bytes, the one after fails with ENOSPC.
    fn full_disk_midway(faults: &FaultInjector) {
        faults.add(Rule::new(IoOp::Write, Action::Short(10)).once());
        faults.add(Rule::new(IoOp::Write, Action::Fail(libc::ENOSPC)).after(1).once());
    }

    #[test]
    fn enospc_midway_cuts_the_partial_line_so_python_can_append() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("o.log");
        let faults = FaultInjector::new();
        let s = open(&path, &faults);
        let study = s.create_new_study(&[StudyDirection::Minimize], Some("s")).unwrap();
        s.set_study_user_attr(study, "a", AttrValue::Int(1)).unwrap();
        let before = std::fs::read(&path).unwrap();

        full_disk_midway(&faults);
        let err =
            s.set_study_user_attr(study, "b", AttrValue::String("x".repeat(100))).unwrap_err();
        match &err {
            Error::Poisoned { path: p, op: "write", source } => {
                assert_eq!(p, &path);
                assert_eq!(source.raw_os_error(), Some(libc::ENOSPC));
            }
            other => panic!("expected a poisoned write, got {other:?}"),
        }
        assert!(matches!(s.get_all_studies(), Err(Error::Poisoned { .. })), "still poisoned");
        assert!(std::fs::read(&path).unwrap() == before, "the partial line was left behind");
        assert!(!dir.path().join("o.log.lock").exists(), "the lock was not released");

        append_like_python(&path, PYTHON_LINE);
        let fresh = assert_readable(&path, "enospc_midway_cuts_the_partial_line");
        let attrs = fresh.get_study_user_attrs(study).unwrap();
        assert_eq!(attrs.get("from"), Some(&AttrValue::String("python".into())));
        assert_eq!(attrs.get("a"), Some(&AttrValue::Int(1)));
        assert_eq!(attrs.get("b"), None, "the failed append is not there");
    }

    #[test]
    fn complete_lines_of_a_failed_batch_stay() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("o.log");
        let faults = FaultInjector::new();
        let backend = OptunaJournalFile::open_with_faults(
            &path,
            &OptunaFileOptions::default(),
            faults.clone(),
        )
        .unwrap();
        let op = |key: &str| Operation::SetStudyUserAttr {
            study_id: 0,
            key: key.into(),
            value: AttrValue::Int(7),
        };
        let create = Operation::CreateStudy {
            study_name: "s".into(),
            directions: vec![StudyDirection::Minimize],
        };
        let guard = backend.lock().unwrap();
        let one = LogBatch { worker_id: "w".into(), ops: vec![create] };
        let end = match backend.append_if(&guard, 0, &one).unwrap() {
            trialog::backend::AppendOutcome::Appended { end } => end,
            other => panic!("{other:?}"),
        };
        let before = std::fs::read(&path).unwrap();
        // The first line of the batch and part of the second reach the file.
        let two = LogBatch { worker_id: "w".into(), ops: vec![op("first"), op("second")] };
        let mut text = String::new();
        trialog::journal::optuna_codec::encode_line("w", &op("first"), &mut text).unwrap();
        faults.add(Rule::new(IoOp::Write, Action::Short(text.len() + 5)).once());
        faults.add(Rule::new(IoOp::Write, Action::Fail(libc::EIO)).after(1).once());
        assert!(matches!(
            backend.append_if(&guard, end, &two),
            Err(Error::Poisoned { op: "write", .. })
        ));
        drop(guard);
        let after = std::fs::read(&path).unwrap();
        assert_eq!(after.len(), before.len() + text.len(), "kept the complete first line only");
        assert!(after.ends_with(b"\n"));
        let fresh = assert_readable(&path, "complete_lines_of_a_failed_batch_stay");
        assert_eq!(fresh.get_study_user_attrs(0).unwrap().len(), 1);
    }

    #[test]
    fn a_failed_cut_says_what_to_do_and_recover_repairs() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("o.log");
        let faults = FaultInjector::new();
        let s = open(&path, &faults);
        let study = s.create_new_study(&[StudyDirection::Minimize], Some("s")).unwrap();
        let before = std::fs::read(&path).unwrap();
        full_disk_midway(&faults);
        faults.add(Rule::new(IoOp::Truncate, Action::Fail(libc::EIO)));
        let err = s.set_study_user_attr(study, "b", AttrValue::Int(2)).unwrap_err();
        let text = err.to_string();
        assert!(matches!(err, Error::Poisoned { op: "write", .. }), "{err:?}");
        for what in ["No space left on device", "partial line", "trialog recover"] {
            assert!(text.contains(what), "{text:?} does not mention {what:?}");
        }
        let torn = std::fs::read(&path).unwrap();
        assert_eq!(torn.len(), before.len() + 10, "the fragment is still there");
        // What the error says to do.
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_trialog"))
            .args(["recover", path.to_str().unwrap(), "--mode", "tolerate-corrupted-tail"])
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        assert!(std::fs::read(&path).unwrap() == before);
        append_like_python(&path, PYTHON_LINE);
        assert_readable(&path, "a_failed_cut_says_what_to_do_and_recover_repairs");
    }

    #[test]
    fn a_failed_fsync_keeps_the_complete_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("o.log");
        let faults = FaultInjector::new();
        let s = open(&path, &faults);
        let study = s.create_new_study(&[StudyDirection::Minimize], Some("s")).unwrap();
        faults.add(Rule::new(IoOp::Sync, Action::Fail(libc::EIO)).once());
        let err = s.set_study_user_attr(study, "b", AttrValue::Int(2)).unwrap_err();
        assert!(matches!(err, Error::Poisoned { op: "fsync", .. }), "{err:?}");
        assert!(std::fs::read(&path).unwrap().ends_with(b"\n"));
        append_like_python(&path, PYTHON_LINE);
        let fresh = assert_readable(&path, "a_failed_fsync_keeps_the_complete_line");
        assert_eq!(fresh.get_study_user_attrs(study).unwrap().len(), 2);
    }
}

/// A tmpfs mounted on a temporary directory, unmounted on drop. (Linux tmpfs; Windows has no
/// such mount, so this part does not build there.)
#[cfg(unix)]
struct Tmpfs {
    dir: tempfile::TempDir,
}

#[cfg(unix)]
fn c_path(path: &Path) -> CString {
    CString::new(path.as_os_str().as_bytes()).unwrap()
}

#[cfg(unix)]
impl Tmpfs {
    fn mount(size: &str) -> std::io::Result<Tmpfs> {
        let dir = tempfile::tempdir()?;
        let (source, fstype) = (CString::new("tmpfs").unwrap(), CString::new("tmpfs").unwrap());
        let data = CString::new(format!("size={size},mode=0700")).unwrap();
        let target = c_path(dir.path());
        // SAFETY: every pointer is a valid NUL-terminated string that outlives the call.
        let rc = unsafe {
            libc::mount(source.as_ptr(), target.as_ptr(), fstype.as_ptr(), 0, data.as_ptr().cast())
        };
        if rc != 0 {
            return Err(std::io::Error::last_os_error());
        }
        Ok(Tmpfs { dir })
    }
}

#[cfg(unix)]
impl Drop for Tmpfs {
    fn drop(&mut self) {
        let target = c_path(self.dir.path());
        // SAFETY: a valid NUL-terminated path; MNT_DETACH never blocks on busy files.
        unsafe { libc::umount2(target.as_ptr(), libc::MNT_DETACH) };
    }
}

#[cfg(unix)] // a tmpfs mount (see `Tmpfs`)
#[test]
fn a_real_full_disk_leaves_complete_lines() {
    let fs = match Tmpfs::mount("128k") {
        Ok(fs) => fs,
        Err(e) => {
            println!("SKIPPED: cannot mount a tmpfs ({e}); the injected ENOSPC tests cover this");
            return;
        }
    };
    let path = fs.dir.path().join("o.log");
    let s = JournalStorage::open_optuna(&path).unwrap();
    let study = s.create_new_study(&[StudyDirection::Minimize], Some("full")).unwrap();
    // Fill the disk, leaving less room than one append needs.
    let mut filler = std::fs::File::create(fs.dir.path().join("filler")).unwrap();
    loop {
        match filler.write(&[0xAA; 1000]) {
            Ok(_) => {}
            Err(e) if e.raw_os_error() == Some(libc::ENOSPC) => break,
            Err(e) => panic!("filling: {e}"),
        }
    }
    drop(filler);
    let mut acked = 0;
    let err = loop {
        match s.set_study_user_attr(
            study,
            &format!("k{acked}"),
            AttrValue::String("d".repeat(3000)),
        ) {
            Ok(()) => acked += 1,
            Err(e) => break e,
        }
        assert!(acked < 1000, "the disk never filled up");
    };
    assert!(
        matches!(&err, Error::Poisoned { op: "write", source, .. } if source.raw_os_error() == Some(libc::ENOSPC)),
        "{err:?}"
    );
    let bytes = std::fs::read(&path).unwrap();
    assert!(bytes.ends_with(b"\n"), "the failed append left a partial line");
    std::fs::remove_file(fs.dir.path().join("filler")).unwrap();
    append_like_python(&path, PYTHON_LINE);
    let fresh = assert_readable(&path, "a_real_full_disk_leaves_complete_lines");
    assert_eq!(fresh.get_study_user_attrs(study).unwrap().len(), acked + 1);
}
