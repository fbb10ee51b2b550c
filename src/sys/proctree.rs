//! A child process and every process it starts, as one unit to stop: the runner's trial commands
//! (`trialog run`).
//!
//! Contract:
//! * [`isolate`] prepares a command before it is spawned; [`Tree::adopt`] takes the spawned child
//!   (before it is waited for) and returns the handle that stops it and its descendants.
//! * [`Tree::terminate`] asks the tree to stop; [`Tree::kill`] stops it for sure. Both are no-ops
//!   (`Ok`) when no process of the tree is left.
//! * [`Tree::alive`] says whether any process of the tree still exists (after the child itself
//!   exited: a leaked background process).
//! * When the runner dies, even by `kill -9`, the tree dies with it where the platform allows
//!   (Linux, Windows), so a crashed runner leaves no trial command running.
//! * [`describe`] names how a child ended: `exit status 3`, `signal 9 (SIGKILL)`.
//!
//! Unix: the child leads a new process group (`setpgid(0, 0)` through std's
//! `CommandExt::process_group`), so a terminal's Ctrl-C reaches only the runner, which then stops
//! its children itself. [`Tree::terminate`] sends `SIGTERM` to the group, [`Tree::kill`] `SIGKILL`,
//! [`Tree::alive`] is `killpg(pgid, 0)`. On Linux the child also gets `SIGKILL` when the runner's
//! supervising thread dies (`PR_SET_PDEATHSIG`). A descendant that leaves the group (`setsid`) is
//! out of reach, as with any process-group supervisor.
//!
//! Windows: the child is started in a new console process group (`CREATE_NEW_PROCESS_GROUP`: the
//! console's Ctrl-C goes to the runner only) and assigned at once to a Job object of its own
//! created with `JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE`; everything it starts afterwards is in the job
//! too. Windows has no graceful stop request that every program understands, so
//! [`Tree::terminate`] and [`Tree::kill`] both end the whole job (`TerminateJobObject`, exit code
//! 1): there is no grace period. [`Tree::alive`] asks the job for its active processes. When the
//! runner dies the system closes the job's last handle and kills the tree. Limits: a process the
//! child starts in the instant between its creation and its assignment to the job is not in the
//! job; and where the job cannot be made (the runner runs in a job that forbids nesting, before
//! Windows 8), only the child itself is stopped (`TerminateProcess`), not its descendants.

use std::io;
use std::process::{Child, Command, ExitStatus};

/// Configures `cmd` before it is spawned (see the module docs).
pub(crate) fn isolate(cmd: &mut Command) {
    imp::isolate(cmd);
}

/// A spawned child and its descendants (see the module docs).
pub(crate) struct Tree {
    pid: u32,
    imp: imp::Tree,
}

impl Tree {
    /// Takes charge of `child`, spawned from a command prepared by [`isolate`], before it is
    /// waited for.
    pub(crate) fn adopt(child: &Child) -> io::Result<Tree> {
        Ok(Tree { pid: child.id(), imp: imp::Tree::adopt(child)? })
    }

    /// The child's process id (for messages).
    pub(crate) fn pid(&self) -> u32 {
        self.pid
    }

    /// Asks every process of the tree to stop (Unix `SIGTERM`; Windows: ends them).
    pub(crate) fn terminate(&self) -> io::Result<()> {
        self.imp.terminate(self.pid)
    }

    /// Stops every process of the tree now (Unix `SIGKILL`; Windows: ends them).
    pub(crate) fn kill(&self) -> io::Result<()> {
        self.imp.kill(self.pid)
    }

    /// Whether any process of the tree still exists.
    pub(crate) fn alive(&self) -> bool {
        self.imp.alive(self.pid)
    }
}

/// How a child ended, for a trial's `fail_reason`.
pub(crate) fn describe(status: &ExitStatus) -> String {
    imp::describe(status)
}

#[cfg(unix)]
mod imp {
    use std::io;
    use std::os::unix::process::{CommandExt, ExitStatusExt};
    use std::process::{Child, Command, ExitStatus};

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

    /// Nothing to hold: the group is named by the child's pid.
    pub(super) struct Tree;

    impl Tree {
        pub(super) fn adopt(_child: &Child) -> io::Result<Tree> {
            Ok(Tree)
        }

        pub(super) fn terminate(&self, pid: u32) -> io::Result<()> {
            signal(pid, libc::SIGTERM)
        }

        pub(super) fn kill(&self, pid: u32) -> io::Result<()> {
            signal(pid, libc::SIGKILL)
        }

        pub(super) fn alive(&self, pid: u32) -> bool {
            let Ok(pgid) = pgid(pid) else { return false };
            // SAFETY: signal 0 only checks that the group has a process we may signal.
            unsafe { libc::killpg(pgid, 0) == 0 }
        }
    }

    fn pgid(pid: u32) -> io::Result<libc::pid_t> {
        libc::pid_t::try_from(pid)
            .ok()
            .filter(|&p| p > 1)
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "not a process group id"))
    }

    fn signal(pid: u32, signal: i32) -> io::Result<()> {
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
    use std::os::windows::io::AsRawHandle;
    use std::os::windows::process::CommandExt;
    use std::process::{Child, Command, ExitStatus};

    use windows_sys::Win32::Foundation::{CloseHandle, HANDLE, STILL_ACTIVE};
    use windows_sys::Win32::System::JobObjects::{
        AssignProcessToJobObject, CreateJobObjectW, JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE,
        JOBOBJECT_BASIC_ACCOUNTING_INFORMATION, JOBOBJECT_EXTENDED_LIMIT_INFORMATION,
        JobObjectBasicAccountingInformation, JobObjectExtendedLimitInformation,
        QueryInformationJobObject, SetInformationJobObject, TerminateJobObject,
    };
    use windows_sys::Win32::System::Threading::{
        CREATE_NEW_PROCESS_GROUP, GetExitCodeProcess, OpenProcess,
        PROCESS_QUERY_LIMITED_INFORMATION, PROCESS_TERMINATE, TerminateProcess,
    };

    /// The exit code of processes ended by [`Tree::terminate`] or [`Tree::kill`].
    const KILLED: u32 = 1;

    pub(super) fn isolate(cmd: &mut Command) {
        cmd.creation_flags(CREATE_NEW_PROCESS_GROUP);
    }

    /// An owned handle, closed on drop.
    pub(super) struct Owned(HANDLE);

    // SAFETY: a Windows kernel handle may be used and closed from any thread.
    unsafe impl Send for Owned {}
    // SAFETY: as above; the calls made through a shared reference are thread-safe.
    unsafe impl Sync for Owned {}

    impl Drop for Owned {
        fn drop(&mut self) {
            // SAFETY: the handle was opened by this module and is closed once, here.
            unsafe { CloseHandle(self.0) };
        }
    }

    /// The job holding the tree, or (where no job could be made) the child's own handle.
    pub(super) enum Tree {
        Job(Owned),
        Process(Owned),
    }

    impl Tree {
        pub(super) fn adopt(child: &Child) -> io::Result<Tree> {
            match job_for(child) {
                Ok(job) => Ok(Tree::Job(job)),
                Err(e) => {
                    log::warn!(
                        "cannot put process {} into a job object ({e}); only it, not the \
                         processes it starts, will be stopped",
                        child.id()
                    );
                    let access = PROCESS_TERMINATE | PROCESS_QUERY_LIMITED_INFORMATION;
                    // SAFETY: OpenProcess takes plain values; the handle is owned below.
                    let handle = unsafe { OpenProcess(access, 0, child.id()) };
                    if handle.is_null() {
                        return Err(io::Error::last_os_error());
                    }
                    Ok(Tree::Process(Owned(handle)))
                }
            }
        }

        pub(super) fn terminate(&self, pid: u32) -> io::Result<()> {
            self.kill(pid)
        }

        pub(super) fn kill(&self, pid: u32) -> io::Result<()> {
            // SAFETY: the handles are valid for the life of `self`.
            let ok = unsafe {
                match self {
                    Tree::Job(job) => TerminateJobObject(job.0, KILLED),
                    Tree::Process(p) => TerminateProcess(p.0, KILLED),
                }
            };
            if ok != 0 || !self.alive(pid) {
                return Ok(());
            }
            Err(io::Error::last_os_error())
        }

        pub(super) fn alive(&self, _pid: u32) -> bool {
            match self {
                Tree::Job(job) => {
                    let mut info = JOBOBJECT_BASIC_ACCOUNTING_INFORMATION::default();
                    // SAFETY: `info` is a correctly sized, writable buffer for this class.
                    let ok = unsafe {
                        QueryInformationJobObject(
                            job.0,
                            JobObjectBasicAccountingInformation,
                            (&raw mut info).cast(),
                            size_of::<JOBOBJECT_BASIC_ACCOUNTING_INFORMATION>() as u32,
                            std::ptr::null_mut(),
                        )
                    };
                    ok != 0 && info.ActiveProcesses > 0
                }
                Tree::Process(p) => {
                    let mut code = 0u32;
                    // SAFETY: a valid process handle; `code` outlives the call.
                    let ok = unsafe { GetExitCodeProcess(p.0, &mut code) };
                    ok != 0 && code == STILL_ACTIVE as u32
                }
            }
        }
    }

    /// A new job that ends its processes when its last handle closes, with `child` in it.
    fn job_for(child: &Child) -> io::Result<Owned> {
        // SAFETY: no security attributes and no name: plain values.
        let job = unsafe { CreateJobObjectW(std::ptr::null(), std::ptr::null()) };
        if job.is_null() {
            return Err(io::Error::last_os_error());
        }
        let job = Owned(job);
        let mut limits = JOBOBJECT_EXTENDED_LIMIT_INFORMATION::default();
        limits.BasicLimitInformation.LimitFlags = JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE;
        // SAFETY: `limits` is a correctly sized buffer for this class, read during the call.
        let ok = unsafe {
            SetInformationJobObject(
                job.0,
                JobObjectExtendedLimitInformation,
                (&raw const limits).cast(),
                size_of::<JOBOBJECT_EXTENDED_LIMIT_INFORMATION>() as u32,
            )
        };
        if ok == 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: both handles are valid: the job above, the child's until `child` drops.
        if unsafe { AssignProcessToJobObject(job.0, child.as_raw_handle() as HANDLE) } == 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(job)
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
    use std::process::Stdio;
    use std::time::{Duration, Instant};

    /// A command that starts a grandchild and waits for it: both belong to the tree.
    fn parent_of_a_sleeper() -> Command {
        let mut cmd = if cfg!(windows) {
            let mut c = Command::new("cmd");
            // `ping` waits about 30 s; `start /b` runs it as a second process of the tree.
            c.args(["/C", "start /b ping -n 30 127.0.0.1 >NUL & ping -n 30 127.0.0.1 >NUL"]);
            c
        } else {
            let mut c = Command::new("sh");
            c.args(["-c", "sleep 30 & wait"]);
            c
        };
        cmd.stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::null());
        cmd
    }

    fn wait_gone(tree: &Tree) {
        let start = Instant::now();
        while tree.alive() && start.elapsed() < Duration::from_secs(10) {
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    #[test]
    fn terminate_reaches_the_whole_tree_and_alive_sees_it_gone() {
        let mut cmd = parent_of_a_sleeper();
        isolate(&mut cmd);
        let mut child = cmd.spawn().unwrap();
        let tree = Tree::adopt(&child).unwrap();
        assert_eq!(tree.pid(), child.id());
        std::thread::sleep(Duration::from_millis(300)); // let the grandchild start
        assert!(tree.alive());
        tree.terminate().unwrap();
        let status = child.wait().unwrap();
        assert!(!status.success());
        if cfg!(unix) {
            assert_eq!(describe(&status), "signal 15 (SIGTERM)");
        } else {
            assert_eq!(describe(&status), "exit status 1");
        }
        // The grandchild was stopped too: the tree empties.
        wait_gone(&tree);
        assert!(!tree.alive(), "a process of the tree survived");
        // Stopping a tree that no longer exists is not an error.
        tree.kill().unwrap();
    }

    #[test]
    fn a_leaked_grandchild_is_seen_and_killed_after_its_parent_exits() {
        let mut cmd = if cfg!(windows) {
            let mut c = Command::new("cmd");
            c.args(["/C", "start /b ping -n 30 127.0.0.1 >NUL"]);
            c
        } else {
            let mut c = Command::new("sh");
            c.args(["-c", "sleep 30 >/dev/null 2>&1 &"]);
            c
        };
        cmd.stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::null());
        isolate(&mut cmd);
        let mut child = cmd.spawn().unwrap();
        let tree = Tree::adopt(&child).unwrap();
        assert!(child.wait().unwrap().success());
        std::thread::sleep(Duration::from_millis(300));
        assert!(tree.alive(), "the background process is part of the tree");
        tree.kill().unwrap();
        wait_gone(&tree);
        assert!(!tree.alive());
    }

    #[test]
    fn exit_codes_are_described() {
        let status = if cfg!(windows) {
            Command::new("cmd").args(["/C", "exit 3"]).status().unwrap()
        } else {
            Command::new("sh").args(["-c", "exit 3"]).status().unwrap()
        };
        assert_eq!(describe(&status), "exit status 3");
    }
}
