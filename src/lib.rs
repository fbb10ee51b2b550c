//! trialog: a durable journal log engine for hyperparameter-optimization studies.
//!
//! Many worker processes, possibly on several hosts sharing one directory, append operations
//! (create study, create trial, set parameter, report values, ...) to one journal file. Each
//! append is one CRC-checked frame, fsynced before it is acknowledged; replay rebuilds studies
//! and trials with Optuna's semantics, incrementally. See `docs/FORMAT.md` for the file format.
//!
//! ```no_run
//! use trialog::{JournalStorage, StudyDirection, TrialState};
//! let storage = JournalStorage::open("study.journal")?;
//! let study = storage.create_new_study(&[StudyDirection::Minimize], Some("demo"))?;
//! let trial = storage.create_new_trial(study, None)?;
//! storage.set_trial_state_values(trial, TrialState::Complete, Some(&[0.5]))?;
//! # Ok::<(), trialog::Error>(())
//! ```
#![deny(unsafe_code)]
#![warn(missing_docs)]

pub mod backend;
pub mod convert;
pub mod error;
pub mod journal;
pub mod lock;
pub mod model;
pub mod recover;
pub mod replay;
pub mod storage;
pub mod study;
mod sys;

pub use backend::{
    AnyJournalFile, FileBackend, FileOptions, JournalFormat, LogBackend, MemoryBackend,
    OptunaFileOptions, OptunaJournalFile, RecoveryMode, RecoveryReport, SkippedRange,
};
pub use error::{Error, Result};
pub use lock::{LockKind, LockOptions};
pub use model::{
    AttrValue, Distribution, FrozenStudy, FrozenTrial, ParamValue, StudyDirection, Timestamp,
    TrialState, VecMap,
};
pub use storage::{HeartbeatOptions, JournalStorage};
pub use study::{Study, TellResult, Trial};

/// The README's Rust examples, compiled as doctests so the quickstart cannot rot.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;

/// docs/OPTUNA.md's Rust example, compiled as a doctest.
#[cfg(doctest)]
#[doc = include_str!("../docs/OPTUNA.md")]
pub struct OptunaDocDoctests;

#[cfg(doctest)]
#[doc = include_str!("../docs/SAMPLERS.md")]
pub struct SamplersDocDoctests;
