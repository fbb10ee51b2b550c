//! Running one trial's command: spawn it in a process group of its own, copy its output, feed
//! its intermediate values to the pruner, keep its heartbeat, and stop the whole group (SIGTERM,
//! then SIGKILL after a grace period) when it times out, is pruned, is lost or the run is
//! interrupted. A group that outlives its leader (a leaked background process) is stopped the same
//! way and reported. Nothing here knows about studies: the supervisor asks a [`Watcher`].

use std::ffi::OsString;
use std::fs::File;
use std::path::PathBuf;
use std::process::{Command, ExitStatus, Stdio};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::time::{Duration, Instant};

use super::output::{Captured, Stream, capture};
use crate::sys::proctree::{self, Tree};

/// How often the supervisor wakes up at least (to see an interrupt).
const TICK: Duration = Duration::from_millis(50);
/// How long the group may outlive its leader before its remaining processes count as leaked.
const LEAK_WAIT: Duration = Duration::from_millis(100);
/// How long to wait for the output pipes to close once the whole group is gone (a process that
/// left the group may still hold them).
const PIPE_WAIT: Duration = Duration::from_secs(1);

/// What the supervisor sees happen.
#[derive(Debug)]
pub(crate) enum Event {
    /// A `trialog:report` line (or why it is malformed).
    Report(Result<(i64, f64), String>),
    /// A stream reached its end.
    Closed(Stream, Captured),
    /// The child (the group's leader) ended.
    Exited(std::io::Result<ExitStatus>),
}

/// Why the supervisor stopped a child.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum StopWhy {
    /// The trial timeout elapsed.
    TimedOut,
    /// The pruner said so.
    Pruned,
    /// The run was interrupted (Ctrl-C, SIGTERM).
    Interrupted,
    /// The trial was finished by someone else (failed as stale).
    Lost,
}

/// What the run as a whole wants from a running child.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum StopRequest {
    /// Keep running.
    None,
    /// Stop gracefully (SIGTERM, then SIGKILL after the grace period).
    Graceful,
    /// Stop now (SIGKILL).
    Force,
}

/// What the supervisor asks the study side.
pub(crate) trait Watcher {
    /// Records an intermediate value; returns whether the trial should be pruned now.
    fn report(&mut self, step: i64, value: f64) -> bool;
    /// Records a heartbeat; returns `false` when the trial is no longer ours.
    fn beat(&mut self) -> bool;
    /// Whether the run wants its children stopped.
    fn stop_requested(&self) -> StopRequest;
}

/// What to start.
pub(crate) struct Spawn {
    pub program: String,
    pub args: Vec<String>,
    /// `args` is one script for the platform's shell (`program` names the shell).
    pub shell: bool,
    pub env: Vec<(String, OsString)>,
    pub dir: Option<PathBuf>,
    pub stdout_log: Option<File>,
    pub stderr_log: Option<File>,
    pub stderr_tail: usize,
}

/// Time limits of one child.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Limits {
    /// When the trial times out.
    pub deadline: Option<Instant>,
    /// Between SIGTERM and SIGKILL.
    pub kill_grace: Duration,
    /// How often to call [`Watcher::beat`].
    pub heartbeat: Option<Duration>,
}

/// How a child ended.
#[derive(Debug)]
pub(crate) struct Finished {
    /// The leader's exit status (`None` if waiting for it failed).
    pub status: Option<ExitStatus>,
    /// Set when the supervisor stopped the child, and why.
    pub stopped: Option<StopWhy>,
    /// Whether SIGKILL was needed (the group ignored SIGTERM for the whole grace period).
    pub escalated: bool,
    /// Whether processes of the group outlived the leader and had to be stopped.
    pub leaked: bool,
    /// What stdout said.
    pub stdout: Captured,
    /// What stderr said.
    pub stderr: Captured,
    /// Malformed report lines.
    pub bad_reports: Vec<String>,
    /// From spawn to exit.
    pub elapsed: Duration,
}

/// Starts `spawn` and supervises it to its end. `Err` only when it cannot be started.
pub(crate) fn run(
    spawn: Spawn,
    limits: Limits,
    watcher: &mut dyn Watcher,
) -> std::io::Result<Finished> {
    let mut cmd = if spawn.shell {
        crate::sys::shell::command(&spawn.args.concat())
    } else {
        let mut cmd = Command::new(&spawn.program);
        cmd.args(&spawn.args);
        cmd
    };
    cmd.envs(spawn.env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    if let Some(dir) = &spawn.dir {
        cmd.current_dir(dir);
    }
    proctree::isolate(&mut cmd);
    let started = Instant::now();
    let mut child = cmd.spawn()?;
    let pid = child.id();
    let tree = match Tree::adopt(&child) {
        Ok(tree) => tree,
        Err(e) => {
            let _ = child.kill();
            let _ = child.wait();
            return Err(e);
        }
    };
    let (tx, rx) = mpsc::channel();
    let stdout = child.stdout.take();
    let stderr = child.stderr.take();
    let mut open_streams = 0;
    if let Some(out) = stdout {
        capture(Stream::Stdout, out, spawn.stdout_log, 0, tx.clone())?;
        open_streams += 1;
    }
    if let Some(err) = stderr {
        capture(Stream::Stderr, err, spawn.stderr_log, spawn.stderr_tail, tx.clone())?;
        open_streams += 1;
    }
    let waiter = tx;
    std::thread::Builder::new().name("trialog-wait".into()).spawn(move || {
        let status = child.wait();
        let _ = waiter.send(Event::Exited(status));
    })?;

    let mut sup = Supervisor {
        tree,
        limits,
        status: None,
        exited_at: None,
        stopped: None,
        stop_sent: None,
        escalated: false,
        leak: None,
        leaked: false,
        stdout: None,
        stderr: None,
        bad_reports: Vec::new(),
        next_beat: limits.heartbeat.map(|d| Instant::now() + d),
        elapsed: Duration::ZERO,
    };
    let mut wait_failed = false;
    loop {
        let now = Instant::now();
        match rx.recv_timeout(sup.next_wake(now)) {
            Ok(Event::Report(Ok((step, value)))) => {
                if sup.stopped.is_none() && watcher.report(step, value) {
                    sup.stop(StopWhy::Pruned);
                }
            }
            Ok(Event::Report(Err(why))) => {
                log::warn!("{why}");
                sup.bad_reports.push(why);
            }
            Ok(Event::Closed(Stream::Stdout, c)) => {
                sup.stdout = Some(c);
                open_streams -= 1;
            }
            Ok(Event::Closed(Stream::Stderr, c)) => {
                sup.stderr = Some(c);
                open_streams -= 1;
            }
            Ok(Event::Exited(result)) => {
                sup.elapsed = started.elapsed();
                sup.exited_at = Some(Instant::now());
                match result {
                    Ok(status) => sup.status = Some(status),
                    Err(e) => {
                        log::warn!("waiting for process {pid} failed: {e}");
                        wait_failed = true;
                    }
                }
            }
            Err(RecvTimeoutError::Timeout) | Err(RecvTimeoutError::Disconnected) => {}
        }
        let now = Instant::now();
        let exited = sup.status.is_some() || wait_failed;
        if !exited {
            match watcher.stop_requested() {
                StopRequest::None => {}
                StopRequest::Graceful => sup.stop(StopWhy::Interrupted),
                StopRequest::Force => {
                    sup.stop(StopWhy::Interrupted);
                    sup.kill();
                }
            }
            if sup.limits.deadline.is_some_and(|d| now >= d) {
                sup.stop(StopWhy::TimedOut);
            }
            if let Some(at) = sup.next_beat {
                if now >= at {
                    if !watcher.beat() {
                        sup.stop(StopWhy::Lost);
                    }
                    sup.next_beat = sup.limits.heartbeat.map(|d| Instant::now() + d);
                }
            }
        }
        sup.escalate(now);
        if exited && sup.settled(now, open_streams) {
            break;
        }
    }
    Ok(Finished {
        status: sup.status,
        stopped: sup.stopped,
        escalated: sup.escalated,
        leaked: sup.leaked,
        stdout: sup.stdout.unwrap_or_default(),
        stderr: sup.stderr.unwrap_or_default(),
        bad_reports: sup.bad_reports,
        elapsed: if sup.elapsed.is_zero() { started.elapsed() } else { sup.elapsed },
    })
}

/// The supervisor's state for one child.
struct Supervisor {
    tree: Tree,
    limits: Limits,
    status: Option<ExitStatus>,
    exited_at: Option<Instant>,
    /// Why and when SIGTERM was sent.
    stopped: Option<StopWhy>,
    stop_sent: Option<Instant>,
    escalated: bool,
    /// When leaked processes were found (and sent SIGTERM).
    leak: Option<Instant>,
    leaked: bool,
    stdout: Option<Captured>,
    stderr: Option<Captured>,
    bad_reports: Vec<String>,
    next_beat: Option<Instant>,
    elapsed: Duration,
}

impl Supervisor {
    /// Asks the group to stop (once), remembering why.
    fn stop(&mut self, why: StopWhy) {
        if self.stopped.is_some() {
            return;
        }
        self.stopped = Some(why);
        self.stop_sent = Some(Instant::now());
        if let Err(e) = self.tree.terminate() {
            log::warn!(
                "cannot stop the processes of command {}: {e}; killing them",
                self.tree.pid()
            );
            self.kill();
        }
    }

    /// Kills the group now.
    fn kill(&mut self) {
        if self.escalated {
            return;
        }
        self.escalated = true;
        if let Err(e) = self.tree.kill() {
            log::warn!("cannot kill the processes of command {}: {e}", self.tree.pid());
        }
    }

    /// SIGKILL once the grace period after SIGTERM has passed.
    fn escalate(&mut self, now: Instant) {
        let sent = match (self.stop_sent, self.leak) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        if sent.is_some_and(|at| now >= at + self.limits.kill_grace) && !self.escalated {
            self.kill();
        }
    }

    /// After the leader exited: whether supervision is over (the group is gone and the pipes
    /// are closed, or waiting longer is pointless). Detects leaked processes on the way.
    fn settled(&mut self, now: Instant, open_streams: usize) -> bool {
        let exited_at = self.exited_at.unwrap_or(now);
        let group_alive = self.tree.alive();
        if group_alive && self.leak.is_none() && now >= exited_at + LEAK_WAIT {
            if self.stopped.is_none() {
                self.leaked = true;
                log::warn!(
                    "processes started by command {} outlived it; stopping them",
                    self.tree.pid()
                );
            }
            self.leak = Some(now);
            let _ = self.tree.terminate();
        }
        if group_alive {
            // Bounded: SIGKILL comes after the grace period; a group that survives even that
            // (processes in uninterruptible sleep) is given up on a little later.
            let give_up = exited_at + LEAK_WAIT + self.limits.kill_grace + PIPE_WAIT * 5;
            return now >= give_up;
        }
        open_streams == 0 || now >= exited_at + LEAK_WAIT + self.limits.kill_grace + PIPE_WAIT
    }

    /// How long to sleep before something is due.
    fn next_wake(&self, now: Instant) -> Duration {
        let mut wake = now + TICK;
        let mut consider = |at: Option<Instant>| {
            if let Some(at) = at {
                wake = wake.min(at);
            }
        };
        if self.stopped.is_none() {
            consider(self.limits.deadline);
            consider(self.next_beat);
        }
        if self.status.is_some() {
            wake = wake.min(now + Duration::from_millis(10));
        }
        wake.saturating_duration_since(now).max(Duration::from_millis(1))
    }
}

// Unix only: the children are `sh` scripts that trap SIGTERM; the tree stopping itself is
// tested on both platforms in `sys::proctree`.
#[cfg(all(test, unix))]
mod tests {
    use super::*;

    struct Quiet {
        reports: Vec<(i64, f64)>,
        prune_at: Option<i64>,
        beats: usize,
    }

    impl Watcher for Quiet {
        fn report(&mut self, step: i64, value: f64) -> bool {
            self.reports.push((step, value));
            self.prune_at.is_some_and(|s| step >= s)
        }
        fn beat(&mut self) -> bool {
            self.beats += 1;
            true
        }
        fn stop_requested(&self) -> StopRequest {
            StopRequest::None
        }
    }

    fn sh(script: &str) -> Spawn {
        Spawn {
            program: "sh".into(),
            args: vec!["-c".into(), script.into()],
            shell: false,
            env: vec![("X".into(), "41".into())],
            dir: None,
            stdout_log: None,
            stderr_log: None,
            stderr_tail: 3,
        }
    }

    fn limits(deadline: Option<Duration>) -> Limits {
        Limits {
            deadline: deadline.map(|d| Instant::now() + d),
            kill_grace: Duration::from_millis(300),
            heartbeat: Some(Duration::from_millis(20)),
        }
    }

    #[test]
    fn a_normal_exit_keeps_output_and_reports() {
        let mut w = Quiet { reports: vec![], prune_at: None, beats: 0 };
        let script = "echo trialog:report 1 0.5; echo oops >&2; sleep 0.1; echo $((X + 1))";
        let f = run(sh(script), limits(None), &mut w).unwrap();
        assert!(f.status.unwrap().success());
        assert_eq!(f.stopped, None);
        assert!(!f.leaked);
        assert_eq!(f.stdout.last_line.as_deref(), Some("42"));
        assert_eq!(f.stderr.tail, vec!["oops".to_owned()]);
        assert_eq!(w.reports, vec![(1, 0.5)]);
        assert!(w.beats >= 1);
    }

    #[test]
    fn a_timeout_stops_the_group_and_sigkill_follows_an_ignored_sigterm() {
        let mut w = Quiet { reports: vec![], prune_at: None, beats: 0 };
        let script = "trap '' TERM; sleep 30 & sleep 30; wait";
        let f = run(sh(script), limits(Some(Duration::from_millis(200))), &mut w).unwrap();
        assert_eq!(f.stopped, Some(StopWhy::TimedOut));
        assert!(f.escalated, "SIGTERM was ignored by the shell: SIGKILL must have followed");
        assert!(f.elapsed < Duration::from_secs(10));
    }

    #[test]
    fn pruning_stops_the_child() {
        let mut w = Quiet { reports: vec![], prune_at: Some(2), beats: 0 };
        let script = "for i in 1 2 3 4 5 6 7 8 9; do echo trialog:report $i 1; sleep 0.2; done";
        let f = run(sh(script), limits(None), &mut w).unwrap();
        assert_eq!(f.stopped, Some(StopWhy::Pruned));
        assert_eq!(w.reports, vec![(1, 1.0), (2, 1.0)]);
    }

    #[test]
    fn leaked_background_processes_are_found_and_stopped() {
        let mut w = Quiet { reports: vec![], prune_at: None, beats: 0 };
        // The background sleep keeps the group alive (its output goes elsewhere).
        let script = "sleep 30 >/dev/null 2>&1 & echo 1";
        let f = run(sh(script), limits(None), &mut w).unwrap();
        assert!(f.status.unwrap().success());
        assert!(f.leaked);
        assert_eq!(f.stdout.last_line.as_deref(), Some("1"));
    }
}
