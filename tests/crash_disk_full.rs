//! A real full disk: the journal lives on a 256 KiB tmpfs that a filler file fills up.
//!
//! Invariants: the append that meets `ENOSPC` fails with [`Error::Poisoned`] naming the journal,
//! the failed `write` and the OS error; the handle refuses every later call; the journal stays
//! consistent (a fresh handle opens it and sees exactly the acknowledged appends, even with the
//! disk still full, while its own append fails); once there is room again, a fresh handle covers
//! whatever part of the failed frame reached the file and appends, and a reopen sees everything.
//!
//! Mounting a tmpfs needs root (`CAP_SYS_ADMIN`). Without it the test prints that it was skipped
//! and passes; `tests/crash_fault_injection.rs` covers `ENOSPC` by injection on any machine.

// Unix only: this suite mounts a small tmpfs (Linux, root) to fill it: Windows has no such mount; injected ENOSPC
// (crash_fault_injection.rs) covers the same path on every platform.
#![cfg(unix)]

use std::ffi::CString;
use std::io::Write;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use trialog::{AttrValue, Error, JournalStorage, StudyDirection};

/// A tmpfs mounted on a temporary directory, unmounted on drop.
struct Tmpfs {
    dir: tempfile::TempDir,
}

fn c_path(path: &Path) -> CString {
    CString::new(path.as_os_str().as_bytes()).expect("no NUL in path")
}

impl Tmpfs {
    fn mount(size: &str) -> Result<Tmpfs, std::io::Error> {
        let dir = tempfile::tempdir().expect("tempdir");
        let target = c_path(dir.path());
        let (source, fstype) = (CString::new("tmpfs").unwrap(), CString::new("tmpfs").unwrap());
        let data = CString::new(format!("size={size},mode=0700")).unwrap();
        // SAFETY: every pointer is a valid NUL-terminated string that outlives the call.
        let rc = unsafe {
            libc::mount(source.as_ptr(), target.as_ptr(), fstype.as_ptr(), 0, data.as_ptr().cast())
        };
        if rc != 0 {
            return Err(std::io::Error::last_os_error());
        }
        Ok(Tmpfs { dir })
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let target = c_path(self.dir.path());
        // SAFETY: a valid NUL-terminated path; MNT_DETACH never blocks on busy files.
        unsafe { libc::umount2(target.as_ptr(), libc::MNT_DETACH) };
    }
}

/// Writes 4 KiB blocks into `path` until the file system says it is full; returns the file.
fn fill(path: &Path) -> PathBuf {
    let mut f = std::fs::File::create(path).expect("create filler");
    let block = [0xAAu8; 4096];
    loop {
        match f.write(&block) {
            Ok(n) if n == block.len() => {}
            Ok(_) => {}
            Err(e) if e.raw_os_error() == Some(libc::ENOSPC) => break,
            Err(e) => panic!("filling: {e}"),
        }
    }
    path.to_owned()
}

fn record(i: u64) -> (String, AttrValue) {
    (format!("k{i:05}"), AttrValue::String("d".repeat(700)))
}

#[test]
fn full_disk_is_a_clear_error_and_appends_work_again_once_there_is_room() {
    let fs = match Tmpfs::mount("256k") {
        Ok(fs) => fs,
        Err(e) => {
            println!("SKIPPED: cannot mount a tmpfs ({e}); injected ENOSPC covers this elsewhere");
            return;
        }
    };
    let journal = fs.path().join("full.journal");
    let s = JournalStorage::open(&journal).expect("open");
    let study = s.create_new_study(&[StudyDirection::Minimize], Some("full")).expect("study");
    let filler = fill(&fs.path().join("filler"));

    // Append until the disk is full.
    let mut acked = 0;
    let err = loop {
        let (key, value) = record(acked);
        match s.set_study_user_attr(study, &key, value) {
            Ok(()) => acked += 1,
            Err(e) => break e,
        }
        assert!(acked < 10_000, "the disk never filled up");
    };
    let is_enospc = |e: &Error| {
        matches!(e, Error::Poisoned { path, op: "write", source }
            if *path == journal && source.raw_os_error() == Some(libc::ENOSPC))
    };
    assert!(is_enospc(&err), "{err:?}");
    assert!(err.to_string().contains("No space left on device"), "{err}");
    assert!(err.to_string().contains(&journal.display().to_string()), "{err}");
    println!("{acked} appends fitted before the disk was full");
    // Poisoned: even reads refuse.
    assert!(is_enospc(&s.get_study_user_attrs(study).unwrap_err()));

    // Still full: a fresh handle reads every acknowledged append, and its own append fails.
    let check = |h: &JournalStorage| {
        let attrs = h.get_study_user_attrs(study).expect("attrs");
        assert_eq!(attrs.len() as u64, acked, "acknowledged appends");
        for i in 0..acked {
            assert_eq!(attrs.get(&record(i).0), Some(&record(i).1));
        }
    };
    let fresh = JournalStorage::open(&journal).expect("open while full");
    check(&fresh);
    let e = fresh.set_study_user_attr(study, "more", AttrValue::Int(1)).unwrap_err();
    assert!(is_enospc(&e), "{e:?}");

    // Room again: a fresh handle covers any torn tail and appends.
    std::fs::remove_file(filler).expect("free room");
    let after = JournalStorage::open(&journal).expect("open after freeing room");
    check(&after);
    after.set_study_user_attr(study, "more", AttrValue::Int(1)).expect("append once there is room");
    let reopened = JournalStorage::open(&journal).expect("reopen");
    let attrs = reopened.get_study_user_attrs(study).expect("attrs");
    assert_eq!(attrs.len() as u64, acked + 1);
    assert_eq!(attrs.get("more"), Some(&AttrValue::Int(1)));
}
