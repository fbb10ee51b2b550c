//! In-process exclusion: "the lock is held by a thread of this process".
//!
//! File locks do not exclude the threads of one process from each other: `flock` is per open
//! file, so threads sharing one lock object (one fd) would all get it, and on NFS Linux emulates
//! `flock` with per-process `fcntl` locks, so even two lock objects (two fds) in one process are
//! not excluded. A [`Gate`] (a `Mutex<bool>` and a `Condvar`) closes that gap: a thread passes it
//! before it touches the file lock and leaves it after releasing the file lock.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError, Weak};
use std::time::Instant;

/// One "held by a thread of this process" flag.
///
/// Guarantees: between a successful [`Gate::enter`] and the matching [`Gate::leave`] no other
/// thread's `enter` succeeds. Uncontended, `enter` and `leave` make no system call (the condvar
/// is only signalled when a thread waits). Does not guarantee fairness between the waiting
/// threads, and is not reentrant (a thread that enters twice waits for itself).
#[derive(Debug, Default)]
pub(crate) struct Gate {
    state: Mutex<GateState>,
    freed: Condvar,
}

#[derive(Debug, Default)]
struct GateState {
    held: bool,
    waiters: usize,
}

impl Gate {
    /// Waits until no other thread holds the gate, then holds it. With a deadline, gives up
    /// (returns `false`) once it has passed.
    pub(crate) fn enter(&self, deadline: Option<Instant>) -> bool {
        let mut state = self.state();
        if state.held {
            state.waiters += 1;
            while state.held {
                state = match deadline {
                    None => self.freed.wait(state).unwrap_or_else(PoisonError::into_inner),
                    Some(deadline) => {
                        let now = Instant::now();
                        if now >= deadline {
                            state.waiters -= 1;
                            return false;
                        }
                        self.freed
                            .wait_timeout(state, deadline - now)
                            .unwrap_or_else(PoisonError::into_inner)
                            .0
                    }
                };
            }
            state.waiters -= 1;
        }
        state.held = true;
        true
    }

    /// Gives the gate up and wakes one waiting thread, if any.
    pub(crate) fn leave(&self) {
        let mut state = self.state();
        state.held = false;
        let wake = state.waiters > 0;
        drop(state);
        if wake {
            self.freed.notify_one();
        }
    }

    fn state(&self) -> MutexGuard<'_, GateState> {
        // Two counters updated together under the lock; a panic elsewhere cannot leave them
        // half-updated.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// A gate's key: the fork generation of the process ([`crate::sys::fork`]) and the lock path.
type GateKey = (u64, PathBuf);

/// The gate shared by every lock object of this process whose lock file is `path` (after
/// resolving symlinks in its directory and making it absolute), so that two objects on one lock
/// file exclude each other even where the file lock does not.
///
/// Does not see through hard links or bind mounts: two different paths to one file get two
/// gates (the file lock still excludes them where it works).
///
/// Gates are per process: a `fork` child that asks gets a new gate, not the copy of its parent's
/// (which may say "held" by a parent thread that does not exist in the child).
pub(crate) fn shared_gate(path: &Path) -> Arc<Gate> {
    static GATES: Mutex<Option<HashMap<GateKey, Weak<Gate>>>> = Mutex::new(None);
    let key = (crate::sys::fork::generation(), gate_key(path));
    let mut gates = GATES.lock().unwrap_or_else(PoisonError::into_inner);
    let gates = gates.get_or_insert_with(HashMap::new);
    if let Some(gate) = gates.get(&key).and_then(Weak::upgrade) {
        return gate;
    }
    gates.retain(|_, gate| gate.strong_count() > 0);
    let gate = Arc::new(Gate::default());
    gates.insert(key, Arc::downgrade(&gate));
    gate
}

/// `path` with its directory canonicalised (the file itself is not followed: a symlink lock is a
/// symlink). Falls back to the absolute path as given when the directory cannot be resolved.
fn gate_key(path: &Path) -> PathBuf {
    let absolute = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
    match (absolute.parent(), absolute.file_name()) {
        (Some(dir), Some(name)) => match dir.canonicalize() {
            Ok(dir) => dir.join(name),
            Err(_) => absolute,
        },
        _ => absolute,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::time::Duration;

    #[test]
    fn excludes_threads_and_hands_over() {
        let gate = Arc::new(Gate::default());
        assert!(gate.enter(None));
        let inside = Arc::new(AtomicBool::new(false));
        let t = {
            let (gate, inside) = (gate.clone(), inside.clone());
            std::thread::spawn(move || {
                assert!(gate.enter(None));
                inside.store(true, Ordering::SeqCst);
                gate.leave();
            })
        };
        std::thread::sleep(Duration::from_millis(50));
        assert!(!inside.load(Ordering::SeqCst), "second thread entered a held gate");
        gate.leave();
        t.join().expect("thread");
        assert!(inside.load(Ordering::SeqCst));
    }

    #[test]
    fn enter_gives_up_at_the_deadline() {
        let gate = Gate::default();
        assert!(gate.enter(None));
        let start = Instant::now();
        assert!(!gate.enter(Some(start + Duration::from_millis(60))));
        let waited = start.elapsed();
        assert!(
            waited >= Duration::from_millis(60) && waited < Duration::from_secs(2),
            "{waited:?}"
        );
        gate.leave();
        assert!(gate.enter(Some(Instant::now())));
    }

    #[test]
    fn waiters_that_time_out_do_not_strand_the_others() {
        let gate = Arc::new(Gate::default());
        assert!(gate.enter(None));
        let threads: Vec<_> = (0..6)
            .map(|i| {
                let gate = gate.clone();
                std::thread::spawn(move || {
                    // Half give up early, half wait as long as it takes.
                    let deadline = (i % 2 == 0).then(|| Instant::now() + Duration::from_millis(20));
                    let entered = gate.enter(deadline);
                    if entered {
                        gate.leave();
                    }
                    (i, entered)
                })
            })
            .collect();
        std::thread::sleep(Duration::from_millis(80));
        gate.leave();
        for t in threads {
            let (i, entered) = t.join().expect("thread");
            assert!(entered || i % 2 == 0, "waiter {i} without deadline never entered");
        }
        assert_eq!(gate.state().waiters, 0);
        assert!(!gate.state().held);
    }

    #[test]
    fn one_gate_per_lock_file_whatever_the_spelling() {
        let dir = tempfile::tempdir().expect("tempdir");
        let a = shared_gate(&dir.path().join("j.lock"));
        let b = shared_gate(&dir.path().join(".").join("j.lock"));
        let c = shared_gate(&dir.path().join("other.lock"));
        assert!(Arc::ptr_eq(&a, &b));
        assert!(!Arc::ptr_eq(&a, &c));
        drop((a, b));
        // Once unused, the entry is forgotten and a new gate is made.
        let d = shared_gate(&dir.path().join("j.lock"));
        assert!(d.enter(Some(Instant::now())), "fresh gate must be free");
    }
}
