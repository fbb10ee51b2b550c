//! Locks held by real processes: a SIGKILLed holder is released at once (advisory) or after the
//! grace period (lease locks), and a live one is named when a waiter times out.
//!
//! The holder is this test binary run again (`--exact child_entry`) with `TRIALOG_LOCK_CHILD`
//! set: it acquires the lock, prints `locked` and sleeps until killed.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use trialog::Error;
use trialog::lock::{LockKind, LockOptions, open_lock};

const CHILD_ENV: &str = "TRIALOG_LOCK_CHILD";
const GRACE: Duration = Duration::from_millis(500);

fn kind_name(kind: LockKind) -> &'static str {
    match kind {
        LockKind::Advisory => "advisory",
        LockKind::OpenFile => "open-file",
        LockKind::Symlink => "symlink",
    }
}

fn options(kind: LockKind, timeout: Option<Duration>) -> LockOptions {
    LockOptions { kind, timeout, grace_period: GRACE, ..LockOptions::default() }
}

/// The child's side. A no-op test unless `TRIALOG_LOCK_CHILD=<kind>:<journal path>` is set.
#[test]
fn child_entry() {
    let Ok(spec) = std::env::var(CHILD_ENV) else {
        return;
    };
    let (kind, journal) = spec.split_once(':').expect("TRIALOG_LOCK_CHILD=<kind>:<journal>");
    let kind = match kind {
        "advisory" => LockKind::Advisory,
        "open-file" => LockKind::OpenFile,
        "symlink" => LockKind::Symlink,
        other => panic!("unknown lock kind {other:?}"),
    };
    let lock = open_lock(Path::new(journal), &options(kind, None)).expect("open lock");
    let _guard = lock.acquire().expect("acquire");
    let mut out = std::io::stdout().lock();
    writeln!(out, "locked").expect("stdout");
    out.flush().expect("flush");
    drop(out);
    loop {
        std::thread::sleep(Duration::from_secs(3600));
    }
}

/// A child process holding the lock; killed (and reaped) when dropped.
struct Holder {
    child: Child,
}

impl Holder {
    /// Starts a child that takes the `kind` lock of `journal` and waits until it holds it.
    fn start(kind: LockKind, journal: &Path) -> Holder {
        let exe = std::env::current_exe().expect("current_exe");
        let mut child = Command::new(exe)
            .args(["--exact", "child_entry", "--nocapture", "--test-threads=1"])
            .env(CHILD_ENV, format!("{}:{}", kind_name(kind), journal.display()))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .spawn()
            .expect("spawn child");
        let stdout = child.stdout.take().expect("child stdout");
        let holder = Holder { child };
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                // libtest may have printed "test child_entry ... " on the same line.
                if line.trim_end().ends_with("locked") {
                    let _ = tx.send(());
                    break;
                }
            }
        });
        rx.recv_timeout(Duration::from_secs(20)).expect("child did not report \"locked\"");
        holder
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }

    /// SIGKILL, then reap.
    fn kill(mut self) {
        self.child.kill().expect("kill");
        self.child.wait().expect("wait");
    }
}

impl Drop for Holder {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn journal_in(dir: &tempfile::TempDir) -> PathBuf {
    dir.path().join("study.journal")
}

/// After the child is killed, how long a fresh acquire takes.
fn acquire_after_kill(kind: LockKind) -> Duration {
    let dir = tempfile::tempdir().expect("tempdir");
    let journal = journal_in(&dir);
    let holder = Holder::start(kind, &journal);
    // The child really holds it.
    let probe =
        open_lock(&journal, &options(kind, Some(Duration::from_millis(100)))).expect("open");
    assert!(
        matches!(probe.acquire(), Err(Error::LockTimeout { .. })),
        "child does not hold the lock"
    );
    drop(probe);

    holder.kill();
    let lock = open_lock(&journal, &options(kind, Some(Duration::from_secs(10)))).expect("open");
    let start = Instant::now();
    let guard = lock.acquire().expect("acquire after the holder died");
    let took = start.elapsed();
    guard.verify_held().expect("held");
    took
}

#[test]
fn killed_holder_is_released_at_once_advisory() {
    let took = acquire_after_kill(LockKind::Advisory);
    assert!(took < Duration::from_secs(1), "{took:?}");
}

#[test]
fn killed_holder_is_broken_after_grace_open_file() {
    let took = acquire_after_kill(LockKind::OpenFile);
    assert!(took >= GRACE && took < Duration::from_secs(3), "{took:?}");
}

// The symlink lock needs symbolic links, which Windows creates only with a privilege (and Wine
// not at all): there it fails with Error::SymlinkLockUnavailable (src/lock/symlink.rs).
#[cfg(unix)]
#[test]
fn killed_holder_is_broken_after_grace_symlink() {
    let took = acquire_after_kill(LockKind::Symlink);
    assert!(took >= GRACE && took < Duration::from_secs(3), "{took:?}");
}

fn live_child_is_named_on_timeout(kind: LockKind, timeout: Duration) {
    let dir = tempfile::tempdir().expect("tempdir");
    let journal = journal_in(&dir);
    let holder = Holder::start(kind, &journal);
    let lock = open_lock(&journal, &options(kind, Some(timeout))).expect("open");
    let start = Instant::now();
    let err = lock.acquire().expect_err("held by a live child");
    let took = start.elapsed();
    assert!(took >= timeout && took < timeout + Duration::from_secs(1), "{took:?}");
    match err {
        Error::LockTimeout { holder: text, .. } => {
            assert!(text.contains(&format!("pid {} on host", holder.pid())), "holder: {text}");
        }
        other => panic!("expected LockTimeout, got {other}"),
    }
}

#[test]
fn live_child_is_named_on_timeout_advisory() {
    live_child_is_named_on_timeout(LockKind::Advisory, Duration::from_millis(300));
}

#[test]
fn live_child_is_named_on_timeout_open_file() {
    // Longer than the grace period: the child's keeper refreshes, so it is not broken.
    live_child_is_named_on_timeout(LockKind::OpenFile, 2 * GRACE);
}

// The symlink lock needs symbolic links, which Windows creates only with a privilege (and Wine
// not at all): there it fails with Error::SymlinkLockUnavailable (src/lock/symlink.rs).
#[cfg(unix)]
#[test]
fn live_child_is_named_on_timeout_symlink() {
    live_child_is_named_on_timeout(LockKind::Symlink, 2 * GRACE);
}
