//! Heartbeats while an objective runs, so the trials of crashed workers can be failed.

use std::sync::mpsc::{self, RecvTimeoutError};

use super::Study;
use crate::error::Error;
use crate::storage::Storage;

impl<S: Storage + ?Sized> Study<S> {
    /// Runs `f` while a second thread records a heartbeat for trial `trial_id` every
    /// [`HeartbeatOptions::interval`](crate::storage::HeartbeatOptions) (the first one was
    /// written with the claim, see [`JournalStorage::with_heartbeat`](crate::JournalStorage)).
    /// Without heartbeats on the storage handle ([`Storage::heartbeat`] is `None`) it just runs
    /// `f`. The thread stops when `f`
    /// returns (or panics), or as soon as the trial is finished; a storage error stops it with
    /// a warning, and the trial then goes stale and is failed by
    /// [`Storage::fail_stale_trials`].
    pub fn with_heartbeats<R>(&self, trial_id: u64, f: impl FnOnce() -> R) -> R {
        let Some(options) = self.storage.heartbeat() else {
            return f();
        };
        let (stop, stopped) = mpsc::channel::<()>();
        std::thread::scope(|scope| {
            scope.spawn(move || {
                while let Err(RecvTimeoutError::Timeout) = stopped.recv_timeout(options.interval) {
                    match self.storage.record_heartbeat(trial_id) {
                        Ok(()) => {}
                        Err(Error::TrialFinished { .. }) => return,
                        Err(e) => {
                            log::warn!("heartbeat of trial {trial_id} stopped: {e}");
                            return;
                        }
                    }
                }
            });
            // Dropping `stop` (also when `f` panics) ends the thread before the scope joins it.
            let _stop = stop;
            f()
        })
    }
}
