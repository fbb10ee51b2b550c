//! Fault injection for the file backends (cargo feature `fault-injection`, off by default).
//!
//! A [`FaultInjector`] is handed to [`super::FileBackend::open_with_faults`] or
//! [`super::OptunaJournalFile::open_with_faults`]. Every system call the backend makes on the
//! journal (write, read, fsync, size, truncate, and the create / link / directory fsync of journal
//! creation) asks the injector first, which can
//!
//! * fail the call with an `errno` before anything happens ([`Action::Fail`]),
//! * let a write or read transfer at most a few bytes ([`Action::Short`]), as POSIX allows,
//!
//! according to programmable [`Rule`]s. It can also hold every call of one kind until the test
//! lets it through ([`FaultInjector::hold`]), to look at the program while, say, an `fdatasync`
//! is in progress. It can also record every state-changing call that
//! succeeded ([`IoEvent`]), in order and with the bytes written, so that a test can rebuild what
//! the disk would hold after a power loss at any point (see `tests/crash_power_loss.rs`).
//!
//! An injector can also stand for one client of a simulated network file system
//! ([`FaultInjector::network_client`], modelled in [`super::netfs`]): the journal's attributes
//! and data are then cached per client and revalidated only where NFS revalidates them.
//!
//! The default build contains none of this: the backend's I/O layer (`io.rs`) then calls the
//! system directly.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};

use super::netfs::{NetClient, NetClientOptions};

/// A system call of the file backend that rules can match.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum IoOp {
    /// One `pwrite` on the journal (a write of many bytes may take several calls).
    Write,
    /// One `pread` on the journal.
    Read,
    /// `fdatasync` / `fsync` of the journal (or of the new journal during creation).
    Sync,
    /// `fstat` of the journal, or `stat` of its path, for its size (and identity).
    Len,
    /// Creating the temporary file a new journal is written in.
    Create,
    /// Hard-linking the new journal into place.
    Link,
    /// `fsync` of the journal's directory.
    SyncDir,
    /// `ftruncate` of the journal (the Optuna backend cutting off a partial line).
    Truncate,
    /// Renaming a new journal over the old one (`trialog compact`).
    Rename,
}

/// What a matching rule does to a call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// The call does nothing and fails with this `errno` (e.g. `libc::EIO`, `libc::ENOSPC`,
    /// `libc::EINTR`).
    Fail(i32),
    /// A write or read transfers at most this many bytes (at least 1); other calls are unchanged.
    Short(usize),
}

/// When and how often an [`Action`] applies: to calls of one [`IoOp`], after skipping some,
/// a limited or unlimited number of times.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    op: IoOp,
    action: Action,
    skip: u64,
    times: Option<u64>,
}

impl Rule {
    /// A rule that applies `action` to every call of `op` (narrow it with [`Rule::after`] and
    /// [`Rule::times`]).
    pub fn new(op: IoOp, action: Action) -> Self {
        Rule { op, action, skip: 0, times: None }
    }

    /// Lets the first `n` matching calls through unchanged.
    #[must_use]
    pub fn after(mut self, n: u64) -> Self {
        self.skip = n;
        self
    }

    /// Applies to at most `n` calls (after the skipped ones), then never again.
    #[must_use]
    pub fn times(mut self, n: u64) -> Self {
        self.times = Some(n);
        self
    }

    /// Shorthand for `times(1)`.
    #[must_use]
    pub fn once(self) -> Self {
        self.times(1)
    }
}

/// A state-changing call that succeeded, as recorded by [`FaultInjector::record`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum IoEvent {
    /// A new empty file was created at `path` (its directory entry is not yet durable).
    Create {
        /// The new file.
        path: PathBuf,
    },
    /// `data` was written at `offset` of the file at `path` (not yet durable).
    Write {
        /// The file (the journal path the backend was opened with, or the creation temp file).
        path: PathBuf,
        /// Byte offset.
        offset: u64,
        /// The bytes the call actually wrote (fewer than asked on a short write).
        data: Vec<u8>,
    },
    /// The file at `path` was synced: every byte written to it before is durable, and so is
    /// its size.
    Sync {
        /// The file.
        path: PathBuf,
    },
    /// `to` became a second name of the file at `from` (not yet durable).
    Link {
        /// The existing name.
        from: PathBuf,
        /// The new name.
        to: PathBuf,
    },
    /// The directory `dir` was synced: every entry created in it before is durable.
    SyncDir {
        /// The directory.
        dir: PathBuf,
    },
    /// The file at `path` was truncated (or extended) to `len` bytes (not yet durable).
    Truncate {
        /// The file.
        path: PathBuf,
        /// Its new length.
        len: u64,
    },
}

#[derive(Debug, Default)]
struct State {
    rules: Vec<(Rule, u64)>,
    trace: Option<Vec<IoEvent>>,
    calls: u64,
    /// Calls of these kinds wait (see [`FaultInjector::hold`]).
    held: Vec<IoOp>,
    /// How many held calls are waiting now.
    waiting: usize,
    /// How many waiting calls [`FaultInjector::let_one_through`] has let go.
    passes: usize,
}

/// Programmable faults and an optional trace of the file backend's I/O, shared (`Arc`) by every
/// backend handle opened with it.
///
/// Guarantees: every rule counts every call of its [`IoOp`] made after it was added; of the
/// rules that apply to a call, the one added first decides; a rule applies to exactly the calls
/// its [`Rule::after`] / [`Rule::times`] select; every recorded event happened, recorded right
/// after the call returned (so calls of one thread, and journal writes, which the write lock
/// serialises, are in the order they happened; unsynchronised calls of different threads may be
/// recorded in either order). Does not simulate anything by itself: a failed call really did
/// nothing, a short call really transferred fewer bytes.
#[derive(Debug, Default)]
pub struct FaultInjector {
    state: Mutex<State>,
    /// Signalled when held calls may go on.
    moved: Condvar,
    client: Option<NetClient>,
}

impl FaultInjector {
    /// An injector without rules that records nothing.
    pub fn new() -> Arc<Self> {
        Arc::new(Self::default())
    }

    /// An injector (without rules) whose handles are one client of a simulated network file
    /// system: their reads, writes, sizes and syncs of the journal go through the client's cache
    /// as [`super::netfs`] describes. Give each simulated host its own.
    pub fn network_client(options: NetClientOptions) -> Arc<Self> {
        Arc::new(FaultInjector {
            state: Mutex::default(),
            moved: Condvar::new(),
            client: Some(NetClient::new(options)),
        })
    }

    /// The simulated network client, for an injector made by [`FaultInjector::network_client`].
    pub fn client(&self) -> Option<&NetClient> {
        self.client.as_ref()
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Adds a rule (after the existing ones).
    pub fn add(&self, rule: Rule) {
        self.state().rules.push((rule, 0));
    }

    /// Removes every rule (calls go through unchanged from now on).
    pub fn clear(&self) {
        self.state().rules.clear();
    }

    /// Starts recording state-changing calls (clearing an earlier trace).
    pub fn record(&self) {
        self.state().trace = Some(Vec::new());
    }

    /// The events recorded so far (empty unless [`FaultInjector::record`] was called).
    pub fn trace(&self) -> Vec<IoEvent> {
        self.state().trace.clone().unwrap_or_default()
    }

    /// How many events were recorded so far.
    pub fn events(&self) -> usize {
        self.state().trace.as_ref().map_or(0, Vec::len)
    }

    /// How many calls of any kind asked the injector so far.
    pub fn calls(&self) -> u64 {
        self.state().calls
    }

    /// Makes every call of `op` from now on wait before it happens (before any rule decides
    /// it), until [`FaultInjector::release`] or [`FaultInjector::let_one_through`].
    pub fn hold(&self, op: IoOp) {
        let mut state = self.state();
        if !state.held.contains(&op) {
            state.held.push(op);
        }
    }

    /// Lets every waiting and later call of `op` go on.
    pub fn release(&self, op: IoOp) {
        self.state().held.retain(|o| *o != op);
        self.moved.notify_all();
    }

    /// Lets one held call go on (one that waits now, or the next one to wait) and returns once
    /// it has; the hold stays for later calls.
    pub fn let_one_through(&self) {
        let mut state = self.state();
        state.passes += 1;
        self.moved.notify_all();
        while state.passes > 0 {
            state = self.moved.wait(state).unwrap_or_else(PoisonError::into_inner);
        }
    }

    /// How many held calls are waiting now.
    pub fn waiting(&self) -> usize {
        self.state().waiting
    }

    /// Waits while calls of `op` are held (see [`FaultInjector::hold`]).
    fn wait_if_held(&self, op: IoOp) {
        let mut state = self.state();
        if !state.held.contains(&op) {
            return;
        }
        state.waiting += 1;
        self.moved.notify_all();
        loop {
            if !state.held.contains(&op) {
                break;
            }
            if state.passes > 0 {
                state.passes -= 1;
                break;
            }
            state = self.moved.wait(state).unwrap_or_else(PoisonError::into_inner);
        }
        state.waiting -= 1;
        drop(state);
        self.moved.notify_all();
    }

    /// The action for the next call of `op`, if a rule applies (counts the call).
    pub(crate) fn decide(&self, op: IoOp) -> Option<Action> {
        let mut state = self.state();
        state.calls += 1;
        let mut decided = None;
        // Every rule for `op` counts the call, whichever rule decides it.
        for (rule, seen) in &mut state.rules {
            if rule.op != op {
                continue;
            }
            let nth = *seen; // how many calls of `op` this rule saw before this one
            *seen += 1;
            let applies = nth >= rule.skip && rule.times.is_none_or(|t| nth - rule.skip < t);
            if applies && decided.is_none() {
                decided = Some(rule.action);
            }
        }
        decided
    }

    /// Records `event` if recording is on.
    pub(crate) fn note(&self, event: impl FnOnce() -> IoEvent) {
        if let Some(trace) = self.state().trace.as_mut() {
            trace.push(event());
        }
    }
}

/// The simulated network client of `faults`, if any.
pub(crate) fn client(faults: Option<&Arc<FaultInjector>>) -> Option<&NetClient> {
    faults.and_then(|f| f.client())
}

/// The injector's decision for a call, turned into what the I/O layer does.
pub(crate) fn fail_or_limit(
    faults: Option<&Arc<FaultInjector>>,
    op: IoOp,
    len: usize,
) -> std::io::Result<usize> {
    if let Some(f) = faults {
        f.wait_if_held(op);
    }
    match faults.and_then(|f| f.decide(op)) {
        Some(Action::Fail(errno)) => Err(std::io::Error::from_raw_os_error(errno)),
        Some(Action::Short(max)) => Ok(len.min(max.max(1))),
        None => Ok(len),
    }
}

/// Records a write of `data` at `offset` of `path`.
pub(crate) fn note_write(
    faults: Option<&Arc<FaultInjector>>,
    path: &Path,
    offset: u64,
    data: &[u8],
) {
    if let Some(f) = faults {
        f.note(|| IoEvent::Write { path: path.to_owned(), offset, data: data.to_vec() });
    }
}
