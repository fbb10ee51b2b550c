//! Peak resident memory of this process.
//!
//! `getrusage(RUSAGE_SELF).ru_maxrss` (what `bench.py` uses) is not this program's own figure
//! when it was started by another process: Linux carries the peak over `execve` from the memory
//! the process had before (the parent's, for a child started with `fork` or `vfork`), so a small
//! trialog started from a 15 MiB Python runner reports 15 MiB. On Linux the peak of the process's
//! current address space is `VmHWM` in `/proc/self/status`, which starts afresh at `execve`.
//!
//! On Windows the figures are the process's peak working set (`GetProcessMemoryInfo`) and its
//! kernel plus user time (`GetProcessTimes`).

/// This process's own peak resident set size in MiB: `VmHWM` from `/proc/self/status` where it
/// exists (Linux), otherwise `getrusage(RUSAGE_SELF).ru_maxrss` (which on some systems includes
/// the peak of whatever ran in this process before `execve`); the peak working set on Windows.
/// 0 if neither is available.
#[cfg(unix)]
pub fn rss_peak_mib() -> f64 {
    match std::fs::read_to_string("/proc/self/status") {
        Ok(status) => {
            vm_hwm_kib(&status).map_or_else(rusage_max_rss_mib, |kib| kib as f64 / 1024.0)
        }
        Err(_) => rusage_max_rss_mib(),
    }
}

/// The `VmHWM:` figure (KiB) of a `/proc/<pid>/status` text.
#[cfg_attr(windows, allow(dead_code))]
fn vm_hwm_kib(status: &str) -> Option<u64> {
    let line = status.lines().find_map(|l| l.strip_prefix("VmHWM:"))?;
    line.trim().strip_suffix("kB")?.trim().parse().ok()
}

/// `getrusage(RUSAGE_SELF)`, or `None` if the call fails.
#[cfg(unix)]
#[allow(unsafe_code)]
fn rusage_self() -> Option<libc::rusage> {
    let mut usage = std::mem::MaybeUninit::<libc::rusage>::zeroed();
    // SAFETY: `usage` is a valid, writable `rusage`; getrusage only writes into it.
    let rc = unsafe { libc::getrusage(libc::RUSAGE_SELF, usage.as_mut_ptr()) };
    // SAFETY: getrusage returned 0, so it filled the struct (it was zeroed before anyway).
    (rc == 0).then(|| unsafe { usage.assume_init() })
}

/// `getrusage(RUSAGE_SELF).ru_maxrss` in MiB (Linux reports KiB, macOS bytes), or 0 if the call
/// fails.
#[cfg(unix)]
fn rusage_max_rss_mib() -> f64 {
    let divisor = if cfg!(target_os = "macos") { 1024.0 * 1024.0 } else { 1024.0 };
    rusage_self().map_or(0.0, |usage| usage.ru_maxrss as f64 / divisor)
}

/// CPU time (user + system) this process has used so far, in seconds, or 0 if the call fails.
/// Unlike wall time, it hardly moves when other processes load the machine.
#[cfg(unix)]
pub fn cpu_seconds() -> f64 {
    let secs = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 * 1e-6;
    rusage_self().map_or(0.0, |usage| secs(usage.ru_utime) + secs(usage.ru_stime))
}

/// See the Unix `rss_peak_mib`: the peak working set on Windows, 0 if the call fails.
#[cfg(windows)]
#[allow(unsafe_code)]
pub fn rss_peak_mib() -> f64 {
    use windows_sys::Win32::System::ProcessStatus::{
        GetProcessMemoryInfo, PROCESS_MEMORY_COUNTERS,
    };
    use windows_sys::Win32::System::Threading::GetCurrentProcess;
    let size = std::mem::size_of::<PROCESS_MEMORY_COUNTERS>() as u32;
    // SAFETY: the struct is plain data the call fills in; `size` is its size; the pseudo
    // handle of the current process needs no closing.
    unsafe {
        let mut counters: PROCESS_MEMORY_COUNTERS = std::mem::zeroed();
        counters.cb = size;
        if GetProcessMemoryInfo(GetCurrentProcess(), &mut counters, size) == 0 {
            return 0.0;
        }
        counters.PeakWorkingSetSize as f64 / (1024.0 * 1024.0)
    }
}

/// See the Unix `cpu_seconds`: kernel plus user time on Windows, 0 if the call fails.
#[cfg(windows)]
#[allow(unsafe_code)]
pub fn cpu_seconds() -> f64 {
    use windows_sys::Win32::Foundation::FILETIME;
    use windows_sys::Win32::System::Threading::{GetCurrentProcess, GetProcessTimes};
    let secs = |t: FILETIME| {
        ((u64::from(t.dwHighDateTime) << 32) | u64::from(t.dwLowDateTime)) as f64 * 1e-7
    };
    // SAFETY: the four FILETIMEs are plain data the call fills in; the pseudo handle of the
    // current process needs no closing.
    unsafe {
        let zero = FILETIME { dwLowDateTime: 0, dwHighDateTime: 0 };
        let (mut created, mut exited, mut kernel, mut user) = (zero, zero, zero, zero);
        if GetProcessTimes(GetCurrentProcess(), &mut created, &mut exited, &mut kernel, &mut user)
            == 0
        {
            return 0.0;
        }
        secs(kernel) + secs(user)
    }
}

/// CPU time (user + system, all threads) another process of this machine has used so far, in
/// seconds: `utime + stime` of `/proc/<pid>/stat` over `sysconf(_SC_CLK_TCK)`. `None` where
/// there is no `/proc` (not Linux) or the process is gone.
#[cfg(target_os = "linux")]
#[allow(unsafe_code)]
pub fn cpu_seconds_of(pid: u32) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let ticks = utime_plus_stime(&stat)?;
    // SAFETY: sysconf only reads a configuration value.
    let per_s = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    (per_s > 0).then(|| ticks as f64 / per_s as f64)
}

/// See the Linux `cpu_seconds_of`: `None` elsewhere.
#[cfg(not(target_os = "linux"))]
pub fn cpu_seconds_of(_pid: u32) -> Option<f64> {
    None
}

/// Fields 14 and 15 (`utime`, `stime`, in clock ticks) of a `/proc/<pid>/stat` text, summed.
/// The command name (field 2) is in parentheses and may hold spaces: count after its `)`.
#[cfg_attr(not(target_os = "linux"), allow(dead_code))]
fn utime_plus_stime(stat: &str) -> Option<u64> {
    let mut rest = stat.get(stat.rfind(')')? + 1..)?.split_whitespace();
    // After the name come field 3 (state) .. : utime is the 12th of them, stime the 13th.
    let utime: u64 = rest.nth(11)?.parse().ok()?;
    let stime: u64 = rest.next()?.parse().ok()?;
    Some(utime + stime)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_utime_and_stime_from_a_stat_text() {
        let stat = "4242 (trialog (x) y) S 1 4242 4242 0 -1 4194560 500 0 0 0 731 80 0 0 20 0 9 0";
        assert_eq!(utime_plus_stime(stat), Some(811));
        assert_eq!(utime_plus_stime("4242 (trialog) S 1 2"), None);
        assert_eq!(utime_plus_stime("garbage"), None);
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn cpu_seconds_of_this_process_is_there_and_a_missing_one_is_not() {
        assert!(cpu_seconds_of(std::process::id()).is_some_and(|s| s >= 0.0));
        assert_eq!(cpu_seconds_of(u32::MAX), None);
    }

    #[test]
    fn reads_vm_hwm_from_a_status_text() {
        let status = "Name:\ttrialog\nVmPeak:\t  20000 kB\nVmHWM:\t    5120 kB\nVmRSS:\t 4000 kB\n";
        assert_eq!(vm_hwm_kib(status), Some(5120));
        assert_eq!(vm_hwm_kib("Name:\tx\n"), None);
        assert_eq!(vm_hwm_kib("VmHWM:\tlots\n"), None);
    }
}
