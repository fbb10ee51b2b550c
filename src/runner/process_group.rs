//! The one platform-specific part of the runner: starting a child in a process group of its own
//! and signalling that whole group (the child and everything it started), as nextest does.
//!
//! Contracts:
//! * [`isolate`] makes the child the leader of a new process group (Unix: `setpgid(0, 0)` through
//!   std's `CommandExt::process_group`), so a terminal's Ctrl-C reaches only the runner, which
//!   then stops its children itself; on Linux the child also gets `SIGKILL` when the runner's
//!   supervising thread dies (`PR_SET_PDEATHSIG`), so a runner killed with `kill -9` leaves no
//!   child running. Windows: the child gets a new console process group.
//! * [`terminate`] asks the group to stop (Unix `SIGTERM` to the group); [`kill`] stops it for sure
//!   (Unix `SIGKILL` to the group). Both are no-ops (`Ok`) when the group has no process left.
//! * [`alive`] says whether any process of the group still exists (for leaked-child detection).
//! * [`describe`] names how a child ended: `exit status 3`, `signal 9 (SIGKILL)`.
//!
//! Windows limitation: there are no process groups to signal. [`terminate`] and [`kill`] both run
//! `taskkill /F /T /PID <pid>`, which stops the child and the processes it started that are still
//! its descendants (no graceful stop, no grace period); [`alive`] always answers `false` (no
//! leaked-child detection), and there is no equivalent of the parent-death signal.

use std::io;
use std::process::{Command, ExitStatus};

/// Configures `cmd` so that the child leads a process group of its own (see the module docs).
pub(crate) fn isolate(cmd: &mut Command) {
    imp::isolate(cmd);
}

/// Sends the graceful stop request to the group led by `pid` (Unix `SIGTERM`).
pub(crate) fn terminate(pid: u32) -> io::Result<()> {
    imp::signal(pid, imp::TERM)
}

/// Stops every process of the group led by `pid` at once (Unix `SIGKILL`).
pub(crate) fn kill(pid: u32) -> io::Result<()> {
    imp::signal(pid, imp::KILL)
}

/// Whether any process of the group led by `pid` still exists.
pub(crate) fn alive(pid: u32) -> bool {
    imp::alive(pid)
}

/// How a child ended, for a trial's `fail_reason`.
pub(crate) fn describe(status: &ExitStatus) -> String {
    imp::describe(status)
}

#[cfg(unix)]
#[allow(unsafe_code)]
mod imp {
    use std::io;
    use std::os::unix::process::{CommandExt, ExitStatusExt};
    use std::process::{Command, ExitStatus};

    pub(super) const TERM: i32 = libc::SIGTERM;
    pub(super) const KILL: i32 = libc::SIGKILL;

    pub(super) fn isolate(cmd: &mut Command) {
        cmd.process_group(0);
        #[cfg(target_os = "linux")]
        {
            let parent = std::process::id();
            // SAFETY: the closure runs in the forked child before exec and only makes
            // async-signal-safe system calls (prctl, getppid, _exit).
            unsafe {
                cmd.pre_exec(move || {
                    if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) != 0 {
                        return Err(io::Error::last_os_error());
                    }
                    // The runner died between fork and prctl: the signal will never come.
                    if libc::getppid() as u32 != parent {
                        libc::_exit(137);
                    }
                    Ok(())
                });
            }
        }
    }

    fn pgid(pid: u32) -> io::Result<libc::pid_t> {
        libc::pid_t::try_from(pid)
            .ok()
            .filter(|&p| p > 1)
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "not a process group id"))
    }

    pub(super) fn signal(pid: u32, signal: i32) -> io::Result<()> {
        // SAFETY: killpg takes plain values; the group id is a child's pid (> 1), never 0 or
        // -1, so it can never address this process's own group or every process.
        if unsafe { libc::killpg(pgid(pid)?, signal) } == 0 {
            return Ok(());
        }
        match io::Error::last_os_error() {
            e if e.raw_os_error() == Some(libc::ESRCH) => Ok(()),
            e => Err(e),
        }
    }

    pub(super) fn alive(pid: u32) -> bool {
        let Ok(pgid) = pgid(pid) else { return false };
        // SAFETY: signal 0 only checks that the group has a process we may signal.
        unsafe { libc::killpg(pgid, 0) == 0 }
    }

    pub(super) fn describe(status: &ExitStatus) -> String {
        if let Some(code) = status.code() {
            return format!("exit status {code}");
        }
        match status.signal() {
            Some(sig) => format!("signal {sig} ({})", signal_name(sig)),
            None => status.to_string(),
        }
    }

    fn signal_name(sig: i32) -> &'static str {
        match sig {
            libc::SIGHUP => "SIGHUP",
            libc::SIGINT => "SIGINT",
            libc::SIGQUIT => "SIGQUIT",
            libc::SIGILL => "SIGILL",
            libc::SIGABRT => "SIGABRT",
            libc::SIGBUS => "SIGBUS",
            libc::SIGFPE => "SIGFPE",
            libc::SIGKILL => "SIGKILL",
            libc::SIGSEGV => "SIGSEGV",
            libc::SIGPIPE => "SIGPIPE",
            libc::SIGALRM => "SIGALRM",
            libc::SIGTERM => "SIGTERM",
            libc::SIGUSR1 => "SIGUSR1",
            libc::SIGUSR2 => "SIGUSR2",
            libc::SIGXCPU => "SIGXCPU",
            _ => "unnamed signal",
        }
    }
}

#[cfg(windows)]
mod imp {
    use std::io;
    use std::os::windows::process::CommandExt;
    use std::process::{Command, ExitStatus, Stdio};

    pub(super) const TERM: i32 = 0;
    pub(super) const KILL: i32 = 0;

    /// `CREATE_NEW_PROCESS_GROUP`: the console's Ctrl-C does not reach the child.
    const CREATE_NEW_PROCESS_GROUP: u32 = 0x0000_0200;

    pub(super) fn isolate(cmd: &mut Command) {
        cmd.creation_flags(CREATE_NEW_PROCESS_GROUP);
    }

    pub(super) fn signal(pid: u32, _signal: i32) -> io::Result<()> {
        // The exit status is not checked: taskkill fails when the process is already gone.
        Command::new("taskkill")
            .args(["/F", "/T", "/PID", &pid.to_string()])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .map(drop)
    }

    pub(super) fn alive(_pid: u32) -> bool {
        false
    }

    pub(super) fn describe(status: &ExitStatus) -> String {
        match status.code() {
            Some(code) => format!("exit status {code}"),
            None => status.to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(unix)]
    #[test]
    fn terminate_reaches_the_whole_group_and_alive_sees_it_gone() {
        use std::process::Stdio;
        use std::time::{Duration, Instant};
        // A shell that starts a grandchild and waits: both are in the new group.
        let mut cmd = Command::new("sh");
        cmd.args(["-c", "sleep 30 & wait"]).stdin(Stdio::null()).stdout(Stdio::null());
        isolate(&mut cmd);
        let mut child = cmd.spawn().unwrap();
        let pid = child.id();
        assert!(alive(pid));
        terminate(pid).unwrap();
        let status = child.wait().unwrap();
        assert_eq!(describe(&status), "signal 15 (SIGTERM)");
        // The grandchild got SIGTERM too: the group empties (it is reaped by init).
        let start = Instant::now();
        while alive(pid) && start.elapsed() < Duration::from_secs(10) {
            std::thread::sleep(Duration::from_millis(10));
        }
        assert!(!alive(pid), "a process of the group survived SIGTERM");
        // Signalling a group that no longer exists is not an error.
        kill(pid).unwrap();
    }

    #[cfg(unix)]
    #[test]
    fn exit_codes_are_described() {
        let status = Command::new("sh").args(["-c", "exit 3"]).status().unwrap();
        assert_eq!(describe(&status), "exit status 3");
    }
}
