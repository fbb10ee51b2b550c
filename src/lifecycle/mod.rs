//! The life of a study beyond ask and tell: fork it at a trial, resume it after a crash, back
//! its journal up while it runs, copy it between stores, delete it (`docs/LIFECYCLE.md`).
//!
//! * [`fork_study`] / [`replace_with_fork`]: a new study holding copies of trials `0..=N` (in
//!   the same store, or another), or the fork in the original's place with the original kept as
//!   `<name>.backup-<k>`.
//! * [`Study::resume`](crate::Study::resume) ([`ResumeOptions`]): fail the trials of dead
//!   workers, retry them as Optuna's retry callback does, restore the sampler's state, continue.
//! * [`backup`]: a byte-level, verified, incremental copy of a journal file (either format) taken
//!   while its writers write.
//! * [`copy_study`], [`delete_study`]: `optuna.copy_study` between any two stores, and Optuna's
//!   `delete_study` (there is no rename: copy, then delete).
//!
//! Fork, copy, delete and resume use only the [`Storage`](crate::Storage) trait, so they work on
//! every store; backup works on the bytes of a journal file.

mod backup;
mod copy;
mod fork;
mod resume;

pub use backup::{BackupOptions, BackupReport, backup};
pub use copy::{CopyReport, DeleteReport, PreparedCopy, copy_study, delete_study};
pub use fork::{ForkOptions, ForkReport, PreparedFork, fork_study, replace_with_fork};
pub use resume::{ResumeOptions, ResumeReport, StaleTrials};
