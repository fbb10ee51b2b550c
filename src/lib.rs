//! trialog: a durable journal log engine for hyperparameter-optimization studies.
//!
//! Many worker processes, possibly on several hosts sharing one directory, append operations
//! (create study, create trial, set parameter, report values, ...) to one journal file. Each
//! append is one CRC-checked frame, fsynced before it is acknowledged; replay rebuilds studies
//! and trials with Optuna's semantics, incrementally. See `docs/FORMAT.md` for the file format.
//!
//! # Ask and tell
//!
//! The [`study`] API drives an optimization. Every worker process runs the same code on the same
//! file; they share the study through the journal (no server):
//!
//! ```no_run
//! use std::sync::Arc;
//! use trialog::study::{TellResult, create_or_load_study};
//! use trialog::{JournalStorage, StudyDirection};
//!
//! let storage = Arc::new(JournalStorage::open("study.journal")?);
//! let study = create_or_load_study(storage, "quadratic", &[StudyDirection::Minimize])?;
//!
//! // The loop, written out: ask for a trial, sample its parameters, tell the result.
//! let mut trial = study.ask()?;
//! let x = trial.suggest_float("x", -10.0, 10.0)?;
//! let optimizer = trial.suggest_categorical("optimizer", ["adam", "sgd"])?;
//! println!("trial {} tries x = {x} with {optimizer}", trial.number());
//! study.tell(&trial, TellResult::Complete(vec![(x - 2.0).powi(2)]))?;
//!
//! // Or let `optimize` run it: an objective that fails or panics marks only its trial FAIL.
//! study.optimize(Some(100), None, |trial| {
//!     let x = trial.suggest_float("x", -10.0, 10.0)?;
//!     Ok((x - 2.0).powi(2))
//! })?;
//! println!("best value {} at {:?}", study.best_value()?, study.best_params()?);
//! # Ok::<(), trialog::Error>(())
//! ```
//!
//! # Storage API
//!
//! Below it, [`JournalStorage`] offers Optuna's `BaseStorage` calls directly:
//!
//! ```no_run
//! use trialog::{JournalStorage, StudyDirection, TrialState};
//! let storage = JournalStorage::open("study.journal")?;
//! let study = storage.create_new_study(&[StudyDirection::Minimize], Some("demo"))?;
//! let trial = storage.create_new_trial(study, None)?;
//! storage.set_trial_state_values(trial, TrialState::Complete, Some(&[0.5]))?;
//! # Ok::<(), trialog::Error>(())
//! ```
//!
//! # Warnings
//!
//! What the library repairs, skips or breaks on its own (a torn tail covered by the next writer, a
//! corrupt record skipped in a salvage mode, a stale lease lock broken, heartbeats left off on an
//! Optuna journal, a failed trial in `optimize`) is reported through the [`log`] facade at level
//! `warn`, with the file and offset involved. Install any `log` backend (`env_logger`,
//! `simple_logger`, ...) to see them; without one they are dropped. The `trialog` binary installs
//! one (`docs/CLI.md`).
//!
//! # Features
//!
//! `cli` (default) builds the `trialog` binary and pulls in its dependencies (clap, indicatif,
//! env_logger), `report`, `s3` and `grpc`; embedders depend on
//! `trialog = { ..., default-features = false }`.
//! `report` adds [`report`], the HTML report of a study (`trialog report`). `s3` adds
//! [`artifacts::S3Store`] (object_store and a tokio runtime); without it the [`artifacts`] module
//! has the filesystem store only.
//! `grpc` adds [`grpc`] (Optuna's gRPC storage protocol and the server behind `trialog serve`)
//! and [`remote`] (`GrpcStorage`, the client).
//! `fault-injection` is for the crash tests only.
#![deny(unsafe_code)]
#![warn(missing_docs)]

pub mod artifacts;
pub mod backend;
pub mod compact;
pub mod convert;
pub mod error;
#[cfg(feature = "grpc")]
pub mod grpc;
pub mod journal;
pub mod lifecycle;
pub mod location;
pub mod lock;
pub mod model;
pub mod recover;
#[cfg(feature = "grpc")]
pub mod remote;
pub mod replay;
#[cfg(feature = "report")]
pub mod report;
pub mod runner;
pub mod snapshot;
pub mod storage;
pub mod study;
mod sys;

pub use backend::{
    AnyJournalFile, FileBackend, FileOptions, JournalFormat, LogBackend, MemoryBackend,
    OptunaFileOptions, OptunaJournalFile, RecoveryMode, RecoveryReport, SkippedRange,
};
#[cfg(feature = "redis")]
pub use backend::{RedisBackend, RedisOptions};
pub use error::{Error, Result};
pub use lock::{LockKind, LockOptions};
pub use model::{
    AttrValue, Distribution, FrozenStudy, FrozenTrial, Integer, ListMap, ParamValue,
    StudyDirection, Timestamp, TrialState, VecMap,
};
pub use storage::{HeartbeatOptions, JournalStorage, Storage};
pub use study::{Study, TellResult, Trial};

/// The README's Rust examples, compiled as doctests so the quickstart cannot rot.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;

/// docs/ARTIFACTS.md's Rust example, compiled as a doctest.
#[cfg(doctest)]
#[doc = include_str!("../docs/ARTIFACTS.md")]
pub struct ArtifactsDocDoctests;

/// docs/OPTUNA.md's Rust example, compiled as a doctest.
#[cfg(doctest)]
#[doc = include_str!("../docs/OPTUNA.md")]
pub struct OptunaDocDoctests;

#[cfg(doctest)]
#[doc = include_str!("../docs/SAMPLERS.md")]
pub struct SamplersDocDoctests;

/// docs/SERVER.md's Rust example, compiled as a doctest.
#[cfg(all(doctest, feature = "grpc"))]
#[doc = include_str!("../docs/SERVER.md")]
pub struct ServerDocDoctests;
