//! Journals on read-only media (a read-only mount or snapshot) can be read.
//!
//! Invariants: the read commands (`studies`, `trials`, `best`, `dump`, `stats`, `verify`) and the
//! library's read opens (`JournalStorage::open_with` / `open_optuna_with` without `create`,
//! `AnyJournalFile::open_existing`) work on a read-only file system for both formats, opening
//! the journal read-only; a write through such a handle fails with an error naming the journal
//! and "Read-only file system".
//!
//! Remounting needs root (`CAP_SYS_ADMIN`): without it the test prints that it was skipped and
//! passes.

// Unix only: this suite remounts a tmpfs read-only (Linux, root): Windows has no such mount.
#![cfg(unix)]

use std::ffi::CString;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::process::Command;

use trialog::{
    AnyJournalFile, Error, FileOptions, JournalStorage, OptunaFileOptions, StudyDirection,
    TrialState,
};

fn c_path(path: &Path) -> CString {
    CString::new(path.as_os_str().as_bytes()).unwrap()
}

/// A tmpfs on a temporary directory that can be made read-only; unmounted on drop.
struct Tmpfs {
    dir: tempfile::TempDir,
}

impl Tmpfs {
    fn mount() -> std::io::Result<Tmpfs> {
        let dir = tempfile::tempdir()?;
        let (source, fstype) = (CString::new("tmpfs").unwrap(), CString::new("tmpfs").unwrap());
        let data = CString::new("size=1m,mode=0755").unwrap();
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

    fn remount_read_only(&self) {
        let target = c_path(self.dir.path());
        let flags = libc::MS_REMOUNT | libc::MS_RDONLY;
        // SAFETY: a valid NUL-terminated path; source, type and data may be null for a remount.
        let rc = unsafe {
            libc::mount(
                std::ptr::null(),
                target.as_ptr(),
                std::ptr::null(),
                flags,
                std::ptr::null(),
            )
        };
        assert_eq!(rc, 0, "remount read-only: {}", std::io::Error::last_os_error());
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let target = c_path(self.dir.path());
        // SAFETY: a valid NUL-terminated path; MNT_DETACH never blocks on busy files.
        unsafe { libc::umount2(target.as_ptr(), libc::MNT_DETACH) };
    }
}

fn run(args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_trialog")).args(args).output().unwrap();
    assert!(
        out.status.success(),
        "trialog {args:?} on a read-only mount: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn is_read_only_error(e: &Error) -> bool {
    e.to_string().contains("Read-only file system")
}

#[test]
fn both_formats_read_on_a_read_only_mount() {
    let fs = match Tmpfs::mount() {
        Ok(fs) => fs,
        Err(e) => {
            println!("SKIPPED: cannot mount a tmpfs ({e}); read-only media not tested");
            return;
        }
    };
    let trialog_path = fs.dir.path().join("t.journal");
    let optuna_path = fs.dir.path().join("o.log");
    let t = JournalStorage::open(&trialog_path).unwrap();
    let o = JournalStorage::open_optuna(&optuna_path).unwrap();
    let ts = t.create_new_study(&[StudyDirection::Minimize], Some("s")).unwrap();
    let tt = t.create_new_trial(ts, None).unwrap();
    t.set_trial_state_values(tt, TrialState::Complete, Some(&[1.5])).unwrap();
    let os = o.create_new_study(&[StudyDirection::Minimize], Some("s")).unwrap();
    let ot = o.create_new_trial(os, None).unwrap();
    o.set_trial_state_values(ot, TrialState::Complete, Some(&[1.5])).unwrap();
    drop((t, o));
    // The advisory lock file of the trialog writer stays; that is fine on a read-only mount.
    fs.remount_read_only();

    for path in [&trialog_path, &optuna_path] {
        let p = path.to_str().unwrap();
        assert!(run(&["studies", p]).contains("1.5"), "{p}");
        assert!(run(&["dump", p]).contains("\"COMPLETE\""), "{p}");
        assert!(run(&["trials", p, "--study", "s"]).contains("1.5"), "{p}");
        run(&["best", p, "--study", "s"]);
        run(&["stats", p]);
        assert!(run(&["verify", p]).contains("status: clean"), "{p}");
        let any = JournalStorage::new(AnyJournalFile::open_existing(path).unwrap()).unwrap();
        assert_eq!(any.get_all_studies().unwrap().len(), 1);
    }

    // Library read opens, and what writing through them says.
    let options = FileOptions { create: false, ..FileOptions::default() };
    let t = JournalStorage::open_with(&trialog_path, &options).unwrap();
    let study = t.get_study_id_from_name("s").unwrap();
    assert_eq!(t.get_all_trials(study, None).unwrap().len(), 1);
    let e = t.create_new_trial(study, None).unwrap_err();
    assert!(is_read_only_error(&e), "{e}");

    let options = OptunaFileOptions { create: false, ..OptunaFileOptions::default() };
    let o = JournalStorage::open_optuna_with(&optuna_path, &options).unwrap();
    assert_eq!(o.get_all_trials(study, None).unwrap().len(), 1);
    let e = o.create_new_trial(study, None).unwrap_err();
    assert!(is_read_only_error(&e), "{e}");
    assert!(e.to_string().contains("o.log"), "{e}");
    // The default open (create if missing) of an existing journal reads too.
    let o = JournalStorage::open_optuna(&optuna_path).unwrap();
    assert_eq!(o.get_all_studies().unwrap().len(), 1);
}
