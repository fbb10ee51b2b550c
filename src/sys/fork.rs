//! Which process an object was made in: a `fork` copies every object of the parent into the
//! child, including open lock files, whose locks the copies then share.
//!
//! Contract: [`generation`] returns a number that stays the same for the life of a process and
//! differs in every child `fork`ed from it (one more than the parent's at the moment of the fork;
//! grandchildren count on). An object that owns something a fork must not share (an `flock`ed
//! open file description, a background thread, a lock's identity) records the generation it was
//! made in and makes itself anew when it sees another. Costs one atomic load.
//!
//! Unix: a `pthread_atfork` child handler, registered on the first call, increments a counter
//! (an atomic add, which is async-signal-safe, as a handler run between `fork` and the child's
//! first instruction must be). A fork before the first call needs no handler: nothing made
//! before it recorded a generation. Windows has no `fork`: always 0.

use std::sync::atomic::{AtomicU64, Ordering};

static GENERATION: AtomicU64 = AtomicU64::new(0);

/// This process's fork generation (see the module doc).
#[inline]
pub(crate) fn generation() -> u64 {
    #[cfg(unix)]
    register_once();
    GENERATION.load(Ordering::Acquire)
}

#[cfg(unix)]
fn register_once() {
    static REGISTERED: std::sync::Once = std::sync::Once::new();
    REGISTERED.call_once(|| {
        extern "C" fn in_child() {
            GENERATION.fetch_add(1, Ordering::AcqRel);
        }
        // SAFETY: registers a handler that only performs an atomic add on a static; it cannot
        // fail in a way that affects memory safety (an error return, ENOMEM, leaves forks
        // undetected, which `fork_bumps_the_generation_in_the_child` would show).
        let rc = unsafe { libc::pthread_atfork(None, None, Some(in_child)) };
        if rc != 0 {
            log::warn!(
                "pthread_atfork failed ({rc}): a trialog handle used across fork() would share \
                 its parent's locks"
            );
        }
    });
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;

    #[test]
    fn fork_bumps_the_generation_in_the_child() {
        let before = generation();
        assert_eq!(generation(), before, "stable within a process");
        // SAFETY: the child only loads an atomic, writes one byte to a pipe and calls `_exit`,
        // all async-signal-safe, as a child of a multi-threaded process must.
        let mut fds = [0i32; 2];
        assert_eq!(unsafe { libc::pipe(fds.as_mut_ptr()) }, 0);
        let pid = unsafe { libc::fork() };
        assert!(pid >= 0, "fork failed");
        if pid == 0 {
            let seen = GENERATION.load(Ordering::Acquire);
            let byte = [u8::from(seen == before + 1)];
            unsafe {
                libc::write(fds[1], byte.as_ptr().cast(), 1);
                libc::_exit(0);
            }
        }
        let mut byte = [0u8; 1];
        let n = unsafe { libc::read(fds[0], byte.as_mut_ptr().cast(), 1) };
        let mut status = 0;
        unsafe {
            libc::waitpid(pid, &mut status, 0);
            libc::close(fds[0]);
            libc::close(fds[1]);
        }
        assert_eq!(n, 1, "the child reported");
        assert_eq!(byte[0], 1, "the child's generation is the parent's plus one");
        assert_eq!(generation(), before, "the parent's is unchanged");
    }
}
