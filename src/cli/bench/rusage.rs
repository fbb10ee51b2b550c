//! Peak resident memory of this process, as `bench.py` measures it.

/// `getrusage(RUSAGE_SELF).ru_maxrss` in MiB (Linux reports KiB), or 0 if the call fails.
#[allow(unsafe_code)]
pub fn rss_peak_mib() -> f64 {
    let mut usage = std::mem::MaybeUninit::<libc::rusage>::zeroed();
    // SAFETY: `usage` is a valid, writable `rusage`; getrusage only writes into it.
    let rc = unsafe { libc::getrusage(libc::RUSAGE_SELF, usage.as_mut_ptr()) };
    if rc != 0 {
        return 0.0;
    }
    // SAFETY: getrusage returned 0, so it filled the struct (it was zeroed before anyway).
    let usage = unsafe { usage.assume_init() };
    usage.ru_maxrss as f64 / 1024.0
}
