//! Whether a process of this host still runs, for describing a lock's holder.
//!
//! Contract: [`is_running`] answers `Some(true)` if a process with this id exists on this host
//! now, `Some(false)` if none does, `None` if it cannot tell. Process ids are reused, so `true`
//! does not prove that the process which wrote an owner record still runs; `false` proves it
//! does not. Unix: `kill(pid, 0)` (`ESRCH`: none; `EPERM`: exists, not ours). Windows:
//! `OpenProcess` and `GetExitCodeProcess` (`STILL_ACTIVE`).

/// Whether process `pid` of this host runs now (see the module docs).
pub(crate) fn is_running(pid: u32) -> Option<bool> {
    imp::is_running(pid)
}

#[cfg(unix)]
mod imp {
    pub(super) fn is_running(pid: u32) -> Option<bool> {
        let pid = libc::pid_t::try_from(pid).ok().filter(|&p| p > 0)?;
        // SAFETY: signal 0 only checks that the process exists and may be signalled.
        if unsafe { libc::kill(pid, 0) } == 0 {
            return Some(true);
        }
        match std::io::Error::last_os_error().raw_os_error() {
            Some(libc::ESRCH) => Some(false),
            Some(libc::EPERM) => Some(true),
            _ => None,
        }
    }
}

#[cfg(windows)]
mod imp {
    use windows_sys::Win32::Foundation::{
        CloseHandle, ERROR_ACCESS_DENIED, ERROR_INVALID_PARAMETER, STILL_ACTIVE,
    };
    use windows_sys::Win32::System::Threading::{
        GetExitCodeProcess, OpenProcess, PROCESS_QUERY_LIMITED_INFORMATION,
    };

    pub(super) fn is_running(pid: u32) -> Option<bool> {
        // SAFETY: OpenProcess takes plain values; the handle is closed below.
        let handle = unsafe { OpenProcess(PROCESS_QUERY_LIMITED_INFORMATION, 0, pid) };
        if handle.is_null() {
            return match std::io::Error::last_os_error().raw_os_error() {
                Some(c) if c == ERROR_INVALID_PARAMETER as i32 => Some(false),
                Some(c) if c == ERROR_ACCESS_DENIED as i32 => Some(true),
                _ => None,
            };
        }
        let mut code = 0u32;
        // SAFETY: `handle` is a valid process handle; `code` outlives the call.
        let ok = unsafe { GetExitCodeProcess(handle, &mut code) };
        // SAFETY: `handle` was opened above and is closed once.
        unsafe { CloseHandle(handle) };
        (ok != 0).then_some(code == STILL_ACTIVE as u32)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_process_runs_and_a_reaped_child_does_not() {
        assert_eq!(is_running(std::process::id()), Some(true));
        let exe = std::env::current_exe().unwrap();
        let mut child = std::process::Command::new(exe)
            .arg("--list")
            .stdout(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let pid = child.id();
        child.wait().unwrap();
        // Reaped, and pids are not reused at once (neither Linux nor Windows hands a freed id
        // out again right away).
        assert_eq!(is_running(pid), Some(false));
    }
}
