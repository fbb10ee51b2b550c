//! The lease keeper: a background thread that refreshes a held lease lock's owner record.
//!
//! One thread per lock object, started on its first acquisition. While a lease is held it
//! refreshes the record every `grace_period / 4`, so waiters on any host see it change and never
//! break a live holder. The thread shares only a small state block with the lock object (never
//! the object itself) and exits soon after the object is dropped; dropping never waits for it.

use std::fmt;
use std::marker::PhantomData;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use super::lease::LeaseProtocol;
use super::owner::OwnerRecord;

/// One held lease: what the keeper needs to refresh it.
struct Lease<H> {
    handle: Arc<H>,
    record: OwnerRecord,
    next_due: Instant,
    /// A refresh failure was logged; stay quiet until one succeeds.
    warned: bool,
}

struct State<H> {
    shutdown: bool,
    lease: Option<Lease<H>>,
    /// The thread is refreshing outside the mutex; `end_lease` waits for it.
    refreshing: bool,
}

struct Shared<H> {
    state: Mutex<State<H>>,
    changed: Condvar,
}

impl<H> Shared<H> {
    fn lock(&self) -> MutexGuard<'_, State<H>> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The keeper of one lease-lock object.
///
/// Guarantees: while a lease is registered with [`Keeper::start_lease`], its record is refreshed
/// about every `interval` (a refresh that fails is logged once and retried at the next
/// interval); after [`Keeper::end_lease`] returns, no refresh of that lease runs or will run.
/// Does not guarantee the timing under heavy load or a hung file system (a refresh stuck in the
/// kernel delays the next one, and then `end_lease`).
pub(crate) struct Keeper<P: LeaseProtocol> {
    shared: Arc<Shared<P::Handle>>,
    /// The fork generation ([`crate::sys::fork`]) whose process runs the thread, if any: a
    /// `fork` child has a copy of this object but not the thread, and starts its own.
    started: Mutex<Option<u64>>,
    path: PathBuf,
    interval: Duration,
    protocol: PhantomData<fn() -> P>,
}

impl<P: LeaseProtocol> Keeper<P> {
    /// A keeper for the lock file `path` that refreshes every `interval` (at least 1 ms). Starts
    /// no thread yet.
    pub(crate) fn new(path: &Path, interval: Duration) -> Self {
        Keeper {
            shared: Arc::new(Shared {
                state: Mutex::new(State { shutdown: false, lease: None, refreshing: false }),
                changed: Condvar::new(),
            }),
            started: Mutex::new(None),
            path: path.to_path_buf(),
            interval: interval.max(Duration::from_millis(1)),
            protocol: PhantomData,
        }
    }

    /// Starts the thread unless it runs already in this process.
    pub(crate) fn ensure_started(&self) -> std::io::Result<()> {
        let mut started = self.started.lock().unwrap_or_else(PoisonError::into_inner);
        let generation = crate::sys::fork::generation();
        if *started == Some(generation) {
            return Ok(());
        }
        let (shared, path, interval) = (self.shared.clone(), self.path.clone(), self.interval);
        std::thread::Builder::new()
            .name("trialog-lock-keeper".into())
            .spawn(move || run::<P>(&shared, &path, interval))?;
        *started = Some(generation);
        Ok(())
    }

    /// Registers a freshly acquired lease; the first refresh is due one interval from now.
    pub(crate) fn start_lease(&self, handle: P::Handle, record: OwnerRecord) {
        let mut state = self.shared.lock();
        state.lease = Some(Lease {
            handle: Arc::new(handle),
            record,
            next_due: Instant::now() + self.interval,
            warned: false,
        });
        self.shared.changed.notify_all();
    }

    /// Stops refreshing and hands back the lease (`None` if none is held). Waits for a refresh
    /// in progress, so the handle returned is the only reference left.
    pub(crate) fn end_lease(&self) -> Option<(Arc<P::Handle>, OwnerRecord)> {
        let mut state = self.shared.lock();
        let lease = state.lease.take()?;
        self.shared.changed.notify_all();
        while state.refreshing {
            state = self.shared.changed.wait(state).unwrap_or_else(PoisonError::into_inner);
        }
        Some((lease.handle, lease.record))
    }

    /// The nonce of the held lease, if any.
    pub(crate) fn nonce(&self) -> Option<String> {
        self.shared.lock().lease.as_ref().map(|l| l.record.nonce.clone())
    }

    /// For tests: a weak reference that dies when the thread (and the keeper) let go.
    #[cfg(test)]
    pub(crate) fn liveness(&self) -> std::sync::Weak<impl Sized + use<P>> {
        Arc::downgrade(&self.shared)
    }
}

impl<P: LeaseProtocol> Drop for Keeper<P> {
    /// Tells the thread to exit; does not wait for it.
    fn drop(&mut self) {
        self.shared.lock().shutdown = true;
        self.shared.changed.notify_all();
    }
}

impl<P: LeaseProtocol> fmt::Debug for Keeper<P> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let started = *self.started.lock().unwrap_or_else(PoisonError::into_inner);
        f.debug_struct("Keeper")
            .field("interval", &self.interval)
            .field("started", &started)
            .finish()
    }
}

/// The thread's loop: sleep until the held lease is due, refresh it outside the mutex, repeat;
/// return on shutdown.
fn run<P: LeaseProtocol>(shared: &Shared<P::Handle>, path: &Path, interval: Duration) {
    let mut state = shared.lock();
    loop {
        if state.shutdown {
            return;
        }
        let Some(lease) = state.lease.as_ref() else {
            state = shared.changed.wait(state).unwrap_or_else(PoisonError::into_inner);
            continue;
        };
        let now = Instant::now();
        if now < lease.next_due {
            let wait = lease.next_due - now;
            state =
                shared.changed.wait_timeout(state, wait).unwrap_or_else(PoisonError::into_inner).0;
            continue;
        }
        let handle = lease.handle.clone();
        let record = lease.record.refreshed_now();
        state.refreshing = true;
        drop(state);

        let outcome = P::refresh(path, &handle, &record);
        drop(handle);

        state = shared.lock();
        state.refreshing = false;
        shared.changed.notify_all();
        let Some(lease) = state.lease.as_mut() else {
            continue;
        };
        if lease.record.nonce != record.nonce {
            continue; // released and acquired again meanwhile: that lease has its own schedule
        }
        lease.next_due = Instant::now() + interval;
        match outcome {
            Ok(true) => {
                lease.record = record;
                lease.warned = false;
            }
            Ok(false) => {
                if !lease.warned {
                    log::warn!(
                        "lock {} is no longer ours (its owner record changed); stopped refreshing it",
                        path.display()
                    );
                    lease.warned = true;
                }
            }
            Err(e) => {
                if !lease.warned {
                    log::warn!("could not refresh lock {}: {e}; will retry", path.display());
                    lease.warned = true;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lock::lease::Observation;
    use std::io;
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// A protocol that only counts refreshes (lease handle = a counter).
    struct Counting;

    impl LeaseProtocol for Counting {
        type Handle = AtomicUsize;
        fn try_create(_: &Path, _: &str) -> io::Result<Option<AtomicUsize>> {
            Ok(Some(AtomicUsize::new(0)))
        }
        fn observe(_: &Path) -> io::Result<Option<Observation>> {
            Ok(None)
        }
        fn refresh(_: &Path, handle: &AtomicUsize, _: &OwnerRecord) -> io::Result<bool> {
            handle.fetch_add(1, Ordering::SeqCst);
            Ok(true)
        }
    }

    #[test]
    fn refreshes_only_while_held() {
        let keeper = Keeper::<Counting>::new(Path::new("x.lock"), Duration::from_millis(10));
        keeper.ensure_started().expect("spawn");
        keeper.start_lease(AtomicUsize::new(0), OwnerRecord::new_for_this_process());
        std::thread::sleep(Duration::from_millis(150));
        let (handle, _) = keeper.end_lease().expect("held");
        let n = handle.load(Ordering::SeqCst);
        assert!(n >= 3, "only {n} refreshes in 150 ms at 10 ms intervals");
        assert_eq!(Arc::strong_count(&handle), 1, "keeper still holds the handle");
        std::thread::sleep(Duration::from_millis(50));
        assert_eq!(handle.load(Ordering::SeqCst), n, "refreshed after end_lease");
        assert!(keeper.end_lease().is_none());
    }

    #[test]
    fn thread_exits_when_the_keeper_is_dropped() {
        let keeper = Keeper::<Counting>::new(Path::new("x.lock"), Duration::from_secs(3600));
        keeper.ensure_started().expect("spawn");
        keeper.start_lease(AtomicUsize::new(0), OwnerRecord::new_for_this_process());
        let alive = keeper.liveness();
        let start = Instant::now();
        drop(keeper);
        assert!(start.elapsed() < Duration::from_millis(100), "drop waited");
        while alive.upgrade().is_some() {
            assert!(start.elapsed() < Duration::from_secs(2), "keeper thread did not exit");
            std::thread::sleep(Duration::from_millis(5));
        }
    }
}
