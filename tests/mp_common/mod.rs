//! Shared plumbing of the `multiprocess_*` tests: real worker processes, not threads.
//!
//! A test re-executes its own test binary with `--exact <its own name>` and a few `TRIALOG_MP_*`
//! environment variables. In that child the same test function sees [`ChildEnv::get`] return
//! `Some`, does the role's work and returns (so the child exits 0); the parent sees `None`,
//! spawns the children and checks the journal afterwards. Children report what was
//! *acknowledged* (a call that returned `Ok`) as stdout lines starting with [`MARKER`], flushed
//! one by one, so a parent that kills a child still knows exactly which writes it must find.
//! Every wait has a deadline: a hung child is killed and the test fails instead of hanging.
#![allow(dead_code)] // each test file uses a different subset

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

use trialog::backend::FileOptions;
use trialog::{Distribution, FrozenTrial, JournalStorage, LockKind, LockOptions, TrialState};

/// Prefix of every report line a child writes on stdout (libtest's own output is ignored).
pub const MARKER: &str = "@@mp ";
/// What the child does.
pub const ROLE_VAR: &str = "TRIALOG_MP_ROLE";
/// The journal file.
pub const JOURNAL_VAR: &str = "TRIALOG_MP_JOURNAL";
/// The lock kind: `advisory`, `open-file` or `symlink`.
pub const LOCK_VAR: &str = "TRIALOG_MP_LOCK";
/// Lease grace period in milliseconds.
pub const GRACE_VAR: &str = "TRIALOG_MP_GRACE_MS";

/// Default deadline for a child to finish its work.
pub const CHILD_DEADLINE: Duration = Duration::from_secs(300);

/// Name of the enclosing `#[test]` function as libtest knows it (`--exact` filter), so that
/// a test can re-execute itself without spelling its own name. `type_name`'s format is not
/// guaranteed; should it ever change, the child runs no test and [`ChildProc`] fails loudly
/// (no "start" report) instead of passing silently.
macro_rules! test_name {
    () => {{
        fn here() {}
        let full = ::std::any::type_name_of_val(&here);
        let path = full.strip_suffix("::here").expect("type_name of a fn item ends with ::here");
        // Drop the crate name: libtest names tests by their path inside the test crate.
        path.split_once("::").map_or(path, |(_, rest)| rest)
    }};
}
pub(crate) use test_name;

/// The command-line spelling of a lock kind.
/// Whether `status` is that of a child ended by [`ChildProc::kill_now`] (`Child::kill`): SIGKILL
/// on Unix; on Windows `TerminateProcess` with exit code 1, which a writer never exits with by
/// itself (a panic exits with 101).
pub fn was_killed(status: &ExitStatus) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::process::ExitStatusExt;
        status.signal() == Some(libc::SIGKILL)
    }
    #[cfg(windows)]
    {
        status.code() == Some(1)
    }
}

/// The lock kinds this platform has: the symlink lock needs symbolic links, which Windows creates
/// only with a privilege (and Wine not at all; it fails with `Error::SymlinkLockUnavailable`).
pub const LOCK_KINDS: &[LockKind] = if cfg!(unix) {
    &[LockKind::Advisory, LockKind::OpenFile, LockKind::Symlink]
} else {
    &[LockKind::Advisory, LockKind::OpenFile]
};

pub fn kind_name(kind: LockKind) -> &'static str {
    match kind {
        LockKind::Advisory => "advisory",
        LockKind::OpenFile => "open-file",
        LockKind::Symlink => "symlink",
    }
}

fn kind_from_name(name: &str) -> LockKind {
    match name {
        "advisory" => LockKind::Advisory,
        "open-file" => LockKind::OpenFile,
        "symlink" => LockKind::Symlink,
        other => panic!("unknown lock kind {other:?} in {LOCK_VAR}"),
    }
}

/// Lock options for `kind` with the given lease grace period. The timeout only turns a
/// starved or stuck waiter into an error instead of a hang; it is never asserted on.
pub fn lock_options(kind: LockKind, grace: Duration) -> LockOptions {
    LockOptions {
        kind,
        timeout: Some(Duration::from_secs(120)),
        grace_period: grace,
        ..LockOptions::default()
    }
}

/// File options (create if missing) with [`lock_options`].
pub fn file_options(kind: LockKind, grace: Duration) -> FileOptions {
    FileOptions { create: true, lock: lock_options(kind, grace), ..FileOptions::default() }
}

/// Opens the journal with `kind` and `grace`, panicking with the path on failure.
pub fn open_storage(path: &Path, kind: LockKind, grace: Duration) -> JournalStorage {
    JournalStorage::open_with(path, &file_options(kind, grace))
        .unwrap_or_else(|e| panic!("open {} with {} lock: {e}", path.display(), kind_name(kind)))
}

/// The float distribution every `multiprocess_*` test uses for its parameter `x`.
pub fn x_distribution() -> Distribution {
    Distribution::float(0.0, 1.0e6, false, None).expect("a valid range")
}

/// The parameter `x` that worker `worker` sets in its `i`-th trial: unique per trial (for
/// `i < 100_000`), so a parent can tell whose write it is looking at.
pub fn x_of(worker: u64, i: u64) -> f64 {
    f64::from(u32::try_from(worker * 100_000 + i).expect("x fits in u32"))
}

/// The objective value reported for a trial whose parameter is `x`.
pub fn value_of(x: f64) -> f64 {
    x + 0.25
}

/// A template for `create_new_trial` that enqueues a WAITING trial without parameters.
pub fn waiting_template(study_id: u64) -> FrozenTrial {
    FrozenTrial::new(0, 0, study_id, TrialState::Waiting)
}

/// Asserts that a fresh replay of the journal applied every operation: trialog's own writers
/// validate under the lock, so an ignored operation means two writers raced.
pub fn assert_nothing_ignored(storage: &JournalStorage) {
    let stats = storage.read(|s| Ok(s.stats())).expect("replay stats");
    assert_eq!(stats.ignored, 0, "replay ignored operations: {stats:?}");
}

// ---- the child side ---------------------------------------------------------------------

/// What a re-executed test binary was asked to do.
#[derive(Debug)]
pub struct ChildEnv {
    /// The role (test-specific).
    pub role: String,
    /// The journal.
    pub journal: PathBuf,
    /// The lock kind.
    pub kind: LockKind,
    /// The lease grace period.
    pub grace: Duration,
}

impl ChildEnv {
    /// `Some` in a child process, `None` in the parent.
    pub fn get() -> Option<ChildEnv> {
        let role = std::env::var(ROLE_VAR).ok()?;
        let journal = PathBuf::from(Self::var(JOURNAL_VAR));
        let kind = kind_from_name(&Self::var(LOCK_VAR));
        let grace = Duration::from_millis(Self::parsed(GRACE_VAR));
        report("start");
        Some(ChildEnv { role, journal, kind, grace })
    }

    /// A required environment variable.
    pub fn var(name: &str) -> String {
        std::env::var(name).unwrap_or_else(|_| panic!("child needs {name}"))
    }

    /// A required numeric environment variable.
    pub fn parsed(name: &str) -> u64 {
        let v = Self::var(name);
        v.parse().unwrap_or_else(|e| panic!("{name}={v:?}: {e}"))
    }

    /// Opens the journal as the parent asked.
    pub fn open(&self) -> JournalStorage {
        open_storage(&self.journal, self.kind, self.grace)
    }
}

/// Writes one report line (`@@mp <line>`) to stdout and flushes it, so that the parent has
/// it even if this process is killed right afterwards.
pub fn report(line: &str) {
    let mut out = std::io::stdout().lock();
    // Start on a fresh line: libtest may have printed "test <name> ... " without a newline.
    writeln!(out, "\n{MARKER}{line}").expect("write report line");
    out.flush().expect("flush report line");
}

/// Reports that the child's work is complete. The parent insists on seeing it, which also
/// catches a `--exact` filter that matched no test.
pub fn report_done() {
    report("done");
}

// ---- the parent side --------------------------------------------------------------------

/// A running child test binary and its report lines.
#[derive(Debug)]
pub struct ChildProc {
    /// Label for messages ("writer 2", ...).
    pub label: String,
    child: Child,
    lines: Receiver<String>,
    started: bool,
}

/// Builder for a child process.
#[derive(Debug)]
pub struct Spawn<'a> {
    test: &'a str,
    role: &'a str,
    journal: &'a Path,
    kind: LockKind,
    grace: Duration,
    vars: Vec<(String, String)>,
}

impl<'a> Spawn<'a> {
    /// A child that runs test `test` (its own libtest name) as `role` on `journal`.
    pub fn new(test: &'a str, role: &'a str, journal: &'a Path, kind: LockKind) -> Self {
        Spawn { test, role, journal, kind, grace: Duration::from_secs(2), vars: Vec::new() }
    }

    /// The lease grace period (default 2 s).
    #[must_use]
    pub fn grace(mut self, grace: Duration) -> Self {
        self.grace = grace;
        self
    }

    /// An extra environment variable for the role.
    #[must_use]
    pub fn var(mut self, name: &str, value: &dyn std::fmt::Display) -> Self {
        self.vars.push((name.to_owned(), value.to_string()));
        self
    }

    /// Starts the child with stdout piped to a reader thread.
    pub fn spawn(self, label: impl Into<String>) -> ChildProc {
        let label = label.into();
        let exe = std::env::current_exe().expect("current_exe");
        let mut cmd = Command::new(exe);
        // `--include-ignored` runs the test whether or not it is marked #[ignore].
        cmd.args(["--exact", self.test, "--nocapture", "--test-threads=1", "--include-ignored"])
            .env(ROLE_VAR, self.role)
            .env(JOURNAL_VAR, self.journal)
            .env(LOCK_VAR, kind_name(self.kind))
            .env(GRACE_VAR, self.grace.as_millis().to_string())
            .env("RUST_BACKTRACE", "1")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        for (k, v) in &self.vars {
            cmd.env(k, v);
        }
        let mut child = spawn_retrying(&mut cmd).unwrap_or_else(|e| panic!("spawn {label}: {e}"));
        let stdout = child.stdout.take().expect("piped stdout");
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if let Some(at) = line.find(MARKER) {
                    if tx.send(line[at + MARKER.len()..].to_owned()).is_err() {
                        break;
                    }
                }
            }
        });
        ChildProc { label, child, lines, started: false }
    }
}

impl ChildProc {
    /// The next report line, `None` once the child closed stdout (exited or was killed).
    /// Panics (killing the child) if nothing arrives within `timeout`.
    pub fn next_line(&mut self, timeout: Duration) -> Option<String> {
        loop {
            match self.lines.recv_timeout(timeout) {
                Ok(line) if line == "start" && !self.started => self.started = true,
                Ok(line) => return Some(line),
                Err(RecvTimeoutError::Disconnected) => return None,
                Err(RecvTimeoutError::Timeout) => {
                    self.kill_now();
                    panic!("{}: no report line within {timeout:?}", self.label);
                }
            }
        }
    }

    /// The child's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Every report line that has arrived so far, without waiting.
    pub fn drain(&mut self) -> Vec<String> {
        let mut out = Vec::new();
        while let Ok(line) = self.lines.try_recv() {
            if line == "start" && !self.started {
                self.started = true;
            } else {
                out.push(line);
            }
        }
        out
    }

    /// Waits for the report line `expected` (e.g. "ready"), panicking on anything else.
    pub fn expect_line(&mut self, expected: &str, timeout: Duration) {
        match self.next_line(timeout) {
            Some(line) if line == expected => {}
            other => {
                self.kill_now();
                panic!("{}: expected report {expected:?}, got {other:?}", self.label);
            }
        }
    }

    /// Sends SIGKILL (`Child::kill`) and reaps the child.
    pub fn kill_now(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
        }
        let _ = self.child.wait();
    }

    /// Every remaining report line until stdout closes, then the exit status. Panics (killing
    /// the child) after `timeout` in total.
    pub fn finish(&mut self, timeout: Duration) -> (ExitStatus, Vec<String>) {
        let deadline = Instant::now() + timeout;
        let mut lines = Vec::new();
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) if line == "start" && !self.started => self.started = true,
                Ok(line) => lines.push(line),
                Err(RecvTimeoutError::Disconnected) => break,
                Err(RecvTimeoutError::Timeout) => {
                    self.kill_now();
                    panic!("{}: did not finish within {timeout:?}", self.label);
                }
            }
        }
        loop {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                return (status, lines);
            }
            if Instant::now() >= deadline {
                self.kill_now();
                panic!("{}: closed stdout but did not exit within {timeout:?}", self.label);
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    /// [`finish`](Self::finish), asserting a successful exit with a final "done" report, and
    /// returning the report lines before it.
    pub fn finish_ok(&mut self, timeout: Duration) -> Vec<String> {
        let (status, mut lines) = self.finish(timeout);
        assert!(status.success(), "{} failed ({status}); its stderr is above", self.label);
        assert!(self.started, "{}: the child ran no test (wrong --exact name?)", self.label);
        assert_eq!(lines.pop().as_deref(), Some("done"), "{}: no final done report", self.label);
        lines
    }
}

impl Drop for ChildProc {
    /// Never leaves a child behind, even when the parent test panics.
    fn drop(&mut self) {
        self.kill_now();
    }
}

/// Waits for every child to finish successfully and returns their report lines, in order.
pub fn finish_all(children: &mut [ChildProc], timeout: Duration) -> Vec<Vec<String>> {
    children.iter_mut().map(|c| c.finish_ok(timeout)).collect()
}

/// A small deterministic PRNG (xorshift64*) for kill points; seeded from `TRIALOG_MP_SEED` or
/// the clock, and the seed is printed so a failure can be replayed.
#[derive(Debug)]
pub struct Rng(u64);

impl Rng {
    /// Seeds from `TRIALOG_MP_SEED` if set, else from the clock; prints the seed.
    pub fn from_env_or_clock() -> Rng {
        let seed = std::env::var("TRIALOG_MP_SEED")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| {
                let t = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .unwrap_or_default();
                t.as_secs() ^ u64::from(t.subsec_nanos())
            });
        println!("multiprocess seed: TRIALOG_MP_SEED={seed}");
        Rng(seed | 1)
    }

    /// A number in `lo..hi`.
    pub fn below(&mut self, lo: u64, hi: u64) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        lo + self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) % (hi - lo)
    }
}

/// Starts `cmd`. Under Wine, process creation now and then fails with ERROR_INTERNAL_ERROR
/// (1359) when the machine is overloaded: that is retried (3 tries), any other error is not.
fn spawn_retrying(cmd: &mut Command) -> std::io::Result<std::process::Child> {
    const WINE_INTERNAL_ERROR: i32 = 1359;
    let mut tries = 0;
    loop {
        match cmd.spawn() {
            Err(e)
                if cfg!(windows) && e.raw_os_error() == Some(WINE_INTERNAL_ERROR) && tries < 2 =>
            {
                eprintln!("spawn failed ({e}), retrying");
                tries += 1;
                std::thread::sleep(Duration::from_millis(500));
            }
            other => return other,
        }
    }
}
