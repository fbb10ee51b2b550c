//! The one error type of trialog.
//!
//! Every fallible call in the crate returns [`Error`]. Variants name what went wrong and carry the
//! file, byte offset, study, trial or lock holder involved, so a message can be acted on without
//! a debugger. The enum is `#[non_exhaustive]`: later issues add variants.

use std::fmt;
use std::io;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use crate::model::{StudyDirection, TrialState};

/// Shorthand for `std::result::Result<T, trialog::Error>`.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong in trialog.
///
/// Errors returned by validation (`StudyNotFound`, `DuplicateStudyName`, `TrialFinished`,
/// `IncompatibleDistribution`, `InvalidArgument`, ...) guarantee that **nothing was written**: the
/// journal is exactly as it was before the call.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// No live study has this id (it never existed or was deleted).
    #[error("study {study_id} not found")]
    StudyNotFound {
        /// The id that was asked for.
        study_id: u64,
    },
    /// No live study has this name.
    #[error("no study named {name:?}")]
    StudyNameNotFound {
        /// The name that was asked for.
        name: String,
    },
    /// No trial has this id (or its study was deleted).
    #[error("trial {trial_id} not found")]
    TrialNotFound {
        /// The id that was asked for.
        trial_id: u64,
    },
    /// The study has no trial with this number.
    #[error("study {study_id} has no trial number {number}")]
    TrialNumberNotFound {
        /// The study that was searched.
        study_id: u64,
        /// The trial number that was asked for.
        number: u64,
    },
    /// The trial has no parameter with this name.
    #[error("trial {trial_id} has no parameter {name:?}")]
    ParamNotFound {
        /// The trial that was searched.
        trial_id: u64,
        /// The parameter name that was asked for.
        name: String,
    },
    /// Another live study already has this name.
    #[error("a study named {name:?} already exists")]
    DuplicateStudyName {
        /// The name that is taken.
        name: String,
    },
    /// The trial is COMPLETE, PRUNED or FAIL and can no longer change.
    #[error(
        "trial {trial_id} (number {number}) has already finished as {state} and cannot be updated"
    )]
    TrialFinished {
        /// The finished trial.
        trial_id: u64,
        /// Its number within its study.
        number: u64,
        /// Its final state.
        state: TrialState,
    },
    /// A WAITING -> RUNNING claim lost: the trial is already RUNNING (another worker claimed it).
    #[error("trial {trial_id} is already RUNNING: another worker claimed it")]
    TrialAlreadyClaimed {
        /// The trial that was claimed by someone else.
        trial_id: u64,
    },
    /// The study's pruner said to stop the trial (`Trial::prune_if_needed`); `Study::optimize`
    /// records the trial as PRUNED.
    #[error("trial {trial_id} was pruned")]
    TrialPruned {
        /// The pruned trial.
        trial_id: u64,
    },
    /// A parameter reappeared in the study with a distribution Optuna considers incompatible.
    #[error("parameter {name:?}: {reason}")]
    IncompatibleDistribution {
        /// The parameter name.
        name: String,
        /// What differs (kind, log flag or categorical choices).
        reason: &'static str,
    },
    /// An argument is outside what the API accepts (empty directions, value outside the
    /// distribution, wrong number of objective values, ...).
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
    /// `get_best_trial` on a study with more than one objective.
    #[error(
        "study {study_id} has {n_objectives} objectives; a single best trial exists only for single-objective studies"
    )]
    MultiObjectiveStudy {
        /// The study.
        study_id: u64,
        /// How many directions it has.
        n_objectives: usize,
    },
    /// `get_best_trial` on a study without any COMPLETE trial.
    #[error("study {study_id} has no COMPLETE trial yet")]
    NoCompletedTrials {
        /// The study.
        study_id: u64,
    },
    /// `create_or_load_study` found an existing study of this name whose directions differ from
    /// the requested ones. Nothing was written.
    #[error("study {name:?} exists with directions {existing:?}, not the requested {requested:?}")]
    DirectionMismatch {
        /// The study name.
        name: String,
        /// The directions the existing study has.
        existing: Vec<StudyDirection>,
        /// The directions the caller asked for.
        requested: Vec<StudyDirection>,
    },
    /// `ask` on a study whose sampler has a finite search space (a grid) that is fully handed
    /// out: every enqueued point was claimed by some worker. Nothing was written; `optimize`
    /// stops normally on it.
    #[error("study {study_id}: every point of the sampler's search space has been handed out")]
    SearchSpaceExhausted {
        /// The study.
        study_id: u64,
    },
    /// `ask` on a study with a finite search space found no WAITING trial, and the process that
    /// created the study has not marked its search space as fully enqueued within `waited`
    /// (it is still enqueuing, or it crashed while doing so: then delete and recreate the
    /// study). Nothing was written.
    #[error(
        "study {study_id}: the search space was not marked fully enqueued after waiting {waited:?}; if its creator crashed, delete and recreate the study"
    )]
    SearchSpaceNotReady {
        /// The study.
        study_id: u64,
        /// How long `ask` waited for the marker.
        waited: Duration,
    },
    /// An operating-system call on `path` failed.
    #[error("{op} {path}: {source}", path = path.display())]
    Io {
        /// The file involved.
        path: PathBuf,
        /// What was being done ("open", "append to", "fsync", ...).
        op: &'static str,
        /// The OS error.
        #[source]
        source: io::Error,
    },
    /// A snapshot of the journal at `path` could not be taken (nothing was changed: the old
    /// snapshot, if any, stays). Loading a snapshot never fails: a bad one means a full replay.
    #[error("cannot take a snapshot of {path}: {reason}", path = path.display())]
    Snapshot {
        /// The journal.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// The journal at `path` could not be compacted (nothing was changed): its state cannot be
    /// written as a log, or the log built for it would not replay to the same state.
    #[error("cannot compact {path}: {reason}; the journal was not changed", path = path.display())]
    Compaction {
        /// The journal.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// The file is not a trialog journal (bad magic or header).
    #[error("{path} is not a trialog journal: {reason}", path = path.display())]
    NotAJournal {
        /// The file.
        path: PathBuf,
        /// What is wrong with its first bytes.
        reason: String,
    },
    /// The file is not an Optuna JSON-lines journal (it is not empty and does not start with
    /// `{`).
    #[error("{path} is not an Optuna JSON-lines journal: {reason}", path = path.display())]
    NotAnOptunaJournal {
        /// The file.
        path: PathBuf,
        /// What is wrong with its first bytes.
        reason: String,
    },
    /// The operation is a trialog extension (code >= 128, e.g. a heartbeat) that Optuna's
    /// JSON-lines journal cannot hold: Optuna stops at an unknown op code. Nothing was written.
    #[error("{path}: operation code {code} is a trialog extension that an Optuna JSON-lines journal cannot hold; nothing was written", path = path.display())]
    NotRepresentable {
        /// The Optuna journal.
        path: PathBuf,
        /// The operation's code.
        code: u64,
    },
    /// The journal was written with a format version or flag this build does not understand.
    #[error("{path} uses journal format version {version} (flags {flags:#06x}); this build reads version {supported}: upgrade trialog", path = path.display())]
    UnsupportedFormat {
        /// The file.
        path: PathBuf,
        /// The version in its header.
        version: u16,
        /// The flags in its header.
        flags: u16,
        /// The newest version this build reads.
        supported: u16,
    },
    /// Bytes that should be a valid frame are not, and valid data follows them (so this is not a
    /// torn tail), or a CRC-valid frame does not decode.
    #[error("{path}: corrupt journal at byte offset {offset}: {reason}", path = path.display())]
    Corruption {
        /// The file.
        path: PathBuf,
        /// Byte offset of the first bad frame.
        offset: u64,
        /// What is wrong there.
        reason: String,
    },
    /// A frame holds an operation code that this build must understand but does not know.
    #[error("{path}: frame at byte offset {offset} holds operation code {code}, which requires a newer trialog", path = path.display())]
    UnknownOperation {
        /// The file.
        path: PathBuf,
        /// Byte offset of the frame.
        offset: u64,
        /// The operation code.
        code: u64,
    },
    /// The lock could not be taken before the configured timeout.
    #[error("timed out after {waited:?} waiting for lock {path}, held by {holder}", path = path.display())]
    LockTimeout {
        /// The lock file.
        path: PathBuf,
        /// Who holds it, as recorded in the lock file ("unknown" when it records nothing).
        holder: String,
        /// How long we waited.
        waited: Duration,
    },
    /// We held a lease lock but another process broke it (we stopped refreshing for longer than
    /// the grace period). Nothing was written.
    #[error("lost lock {path}: it is now held by {holder}; nothing was written", path = path.display())]
    LockLost {
        /// The lock file.
        path: PathBuf,
        /// Who holds it now.
        holder: String,
    },
    /// The lock file's path holds something trialog must not open for writing: a symbolic link
    /// (it could point at any file, such as the journal itself), a directory, a FIFO, a device,
    /// or a file that has other hard links. Nothing was opened through it and nothing was
    /// written.
    #[error("refusing to use lock file {path}: it is {found}; nothing was written (remove it if no process uses it)", path = path.display())]
    UnsafeLockFile {
        /// The lock file.
        path: PathBuf,
        /// What is there instead of a plain file.
        found: String,
    },
    /// A symbolic-link lock (trialog's symlink lease lock, or Optuna's `JournalFileSymlinkLock`
    /// protocol) cannot be taken here because symbolic links cannot be created: on Windows that
    /// needs the `SeCreateSymbolicLinkPrivilege` privilege (administrators hold it, and everyone
    /// in Developer Mode), and some file systems have no links. Nothing was written; use the
    /// open-file lock named in `instead`.
    #[error("cannot take the symlink lock {path}: {reason}; on Windows, creating symbolic links needs the SeCreateSymbolicLinkPrivilege privilege: use {instead} instead; nothing was written", path = path.display())]
    SymlinkLockUnavailable {
        /// The lock path.
        path: PathBuf,
        /// Why no link could be created, in words.
        reason: String,
        /// The lock to use instead (the open-file kind of the same protocol).
        instead: &'static str,
    },
    /// The operation must replace the journal, and another process (or another handle of this
    /// one) has it open, which Windows does not allow (its default rename semantics refuse to replace an open file).
    /// Nothing was changed; close the other processes' handles (stop the workers and readers of
    /// this journal), or write the result elsewhere where the operation offers it.
    #[error("cannot {operation} {path}: it is open elsewhere (in another process, or another handle of this one), and Windows refuses to replace an open file; nothing was changed: close it (stop the workers and readers of this journal) and try again{hint}", path = path.display())]
    JournalInUse {
        /// The journal.
        path: PathBuf,
        /// What needs the journal closed ("replace (trialog recover in place)").
        operation: &'static str,
        /// What else can be done (", or use `trialog recover --out <file>`"), or empty.
        hint: &'static str,
    },
    /// An earlier write or fsync on this handle failed, so whether that data reached the disk is
    /// unknown. The handle refuses every later call; drop it and open the journal again.
    #[error("journal handle for {path} is poisoned by an earlier failed {op}: {source}; reopen the journal", path = path.display())]
    Poisoned {
        /// The journal file.
        path: PathBuf,
        /// The operation that failed ("write" or "fsync").
        op: &'static str,
        /// The original OS error.
        #[source]
        source: Arc<io::Error>,
    },
    /// The store does not offer this part of the storage API (heartbeats on a store without
    /// them, for example). Nothing was written.
    #[error("this storage does not support {what}")]
    NotSupported {
        /// What is not supported.
        what: &'static str,
    },
    /// A remote storage server (gRPC) could not be reached, or answered with a status that has
    /// no typed meaning here (for a write: whether it happened is unknown).
    #[error("storage server {endpoint}: {message}")]
    Remote {
        /// The server's address.
        endpoint: String,
        /// What went wrong (the gRPC status code and message, or the connection error).
        message: String,
    },
    /// The journal's path now names a different file than the one this handle opened (`trialog
    /// recover` or a compaction replaced it). Nothing was written; reopen the journal.
    #[error("{path} was replaced by another file since this handle opened it (recover or compaction); nothing was written: reopen the journal", path = path.display())]
    JournalReplaced {
        /// The journal file.
        path: PathBuf,
    },
    /// A string offered as an artifact id is not a UUID in its hyphenated form
    /// (`8-4-4-4-12` hex digits). Ids are checked before they become a file name or an object
    /// key, so `../../etc/passwd` never reaches a path. Nothing was read or written.
    #[error(
        "invalid artifact id {id:?}: an artifact id is a UUID such as 3f2b8a4e-1c0d-4e5f-9a7b-6c8d9e0f1a2b"
    )]
    InvalidArtifactId {
        /// The rejected string.
        id: String,
    },
    /// The artifact store holds no artifact with this id. Never retried by `Backoff`.
    #[error("artifact {id} not found in {store}")]
    ArtifactNotFound {
        /// The store (its directory, or `s3://bucket/prefix at <endpoint>`).
        store: String,
        /// The artifact id.
        id: String,
    },
    /// A request to a remote artifact store (S3) failed. `transient` errors (network, server
    /// errors, timeouts) are retried by `Backoff`; the others (access denied, a missing bucket)
    /// are not.
    #[error("artifact store {store}: {op} {key}: {source}")]
    ArtifactStore {
        /// The store, with its endpoint (`s3://bucket/prefix at http://127.0.0.1:9000`).
        store: String,
        /// What was being done ("upload", "download", "remove", "list", ...).
        op: &'static str,
        /// The object key involved (empty for listings).
        key: String,
        /// Whether trying again may succeed.
        transient: bool,
        /// The client's error.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// `Backoff` tried `attempts` times and every try failed with a transient error; `last` is
    /// the last of them.
    #[error("gave up after {attempts} tries to {op} artifact {id}: {last}")]
    ArtifactRetriesExhausted {
        /// What was being done ("upload", "download", "remove", ...).
        op: &'static str,
        /// The artifact id.
        id: String,
        /// How many tries were made.
        attempts: u32,
        /// The last try's error.
        #[source]
        last: Box<Error>,
    },
    /// A study or trial system attribute `artifacts:<id>` does not hold a link in Optuna's
    /// format (the JSON string of an object with `artifact_id`, `filename`, `mimetype`,
    /// `encoding`).
    #[error("{owner}: artifact link {key:?} is not valid: {reason}")]
    BadArtifactLink {
        /// The study or trial holding it ("study 0", "trial 3").
        owner: String,
        /// The attribute key.
        key: String,
        /// What is wrong.
        reason: String,
    },
    /// A downloaded artifact differs from what its link records (size or SHA-256). The partial
    /// download was removed and the destination is as it was.
    #[error(
        "artifact {id}: the stored bytes have {what} {found}, its link records {expected}; nothing was written to {path}",
        path = path.display()
    )]
    ArtifactMismatch {
        /// The artifact id.
        id: String,
        /// "size" or "SHA-256".
        what: &'static str,
        /// What the link records.
        expected: String,
        /// What the stored bytes have.
        found: String,
        /// The requested destination.
        path: PathBuf,
    },
    /// A call to a Redis server failed: it could not be reached, the connection was lost (a
    /// write whose reply was lost and that the server did not apply), or the server refused the
    /// command (a key of the wrong type). For a write, nothing was written, except when `op` is
    /// `backend::OUTCOME_UNKNOWN`: the reply was lost and the server could not be asked since.
    #[error("redis {server}: {op}{key}: {source}", key = if key.is_empty() { String::new() } else { format!(" {key}") })]
    Redis {
        /// The server (`redis://host:port/db`, any password replaced by `***`).
        server: String,
        /// What was being done ("connect to", "GET", "MGET", "append to", ...).
        op: &'static str,
        /// The key involved (empty when connecting).
        key: String,
        /// The client's error.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// A key of a Redis journal does not hold what Optuna's key layout puts there (a log entry
    /// that is not an Optuna operation, a log number that is not an integer, an entry missing
    /// below the log number). Nothing was written.
    #[error("redis {server}: corrupt journal record at key {key:?}: {reason}")]
    RedisCorrupt {
        /// The server (`redis://host:port/db`, any password replaced by `***`).
        server: String,
        /// The key.
        key: String,
        /// What is wrong.
        reason: String,
    },
    /// A sampler cannot restore a state ([`Sampler::import_state`](crate::study::Sampler)): it
    /// was written by another kind of sampler, by a newer trialog, or is damaged. The sampler is
    /// unchanged.
    #[error("cannot restore the state of a {sampler}: {reason}")]
    BadSamplerState {
        /// The sampler asked to restore it (its type name).
        sampler: String,
        /// What is wrong with the state.
        reason: String,
    },
    /// A fork was asked at a trial number the study does not have (it has `n_trials` trials,
    /// numbered from 0). Nothing was written.
    #[error(
        "study {study:?} has {n_trials} trials, so no trial number {at} to fork at (numbers start at 0); nothing was written"
    )]
    ForkPointNotFound {
        /// The study.
        study: String,
        /// The trial number asked for.
        at: u64,
        /// How many trials the study has.
        n_trials: u64,
    },
    /// A study changed while an operation that needs it to stand still copied it (`trialog
    /// study fork --replace` while its workers run). What the operation had written was
    /// deleted again; the study is as its workers left it. Stop them and try again.
    #[error(
        "study {study:?} changed while it was being copied (are its workers still running?); nothing was replaced: stop them and try again"
    )]
    StudyChanged {
        /// The study.
        study: String,
    },
    /// A backup destination is not a copy of a prefix of the journal being backed up (it is a
    /// backup of another journal, was changed, or the journal was rewritten or lost data since),
    /// so appending to it would make a file that is neither. Nothing was written.
    #[error("{backup} is not a backup of {journal}: {reason}; nothing was written (back up into a new file)", backup = backup.display(), journal = journal.display())]
    BackupDiverged {
        /// The journal being backed up.
        journal: PathBuf,
        /// The backup destination.
        backup: PathBuf,
        /// Where and how they differ.
        reason: String,
    },
    /// A download's destination already exists (a file, a directory or a link, even a dangling
    /// one) and overwriting was not asked for. Nothing was written.
    #[error("{path} already exists; nothing was written (ask to overwrite it to replace it)", path = path.display())]
    DestinationExists {
        /// The destination.
        path: PathBuf,
    },
}

impl Error {
    /// Builds an [`Error::Io`] for `op` on `path`.
    pub(crate) fn io(op: &'static str, path: impl Into<PathBuf>, source: io::Error) -> Self {
        Error::Io { path: path.into(), op, source }
    }

    /// Builds an [`Error::InvalidArgument`].
    pub(crate) fn invalid(msg: impl fmt::Display) -> Self {
        Error::InvalidArgument(msg.to_string())
    }

    /// A copy of this error, for each caller whose write failed with it (the members of one
    /// group commit). An OS error keeps its code (or its kind and message); everything else is
    /// copied exactly.
    pub(crate) fn duplicate(&self) -> Self {
        use Error::*;
        match self {
            StudyNotFound { study_id } => StudyNotFound { study_id: *study_id },
            StudyNameNotFound { name } => StudyNameNotFound { name: name.clone() },
            TrialNotFound { trial_id } => TrialNotFound { trial_id: *trial_id },
            TrialNumberNotFound { study_id, number } => {
                TrialNumberNotFound { study_id: *study_id, number: *number }
            }
            ParamNotFound { trial_id, name } => {
                ParamNotFound { trial_id: *trial_id, name: name.clone() }
            }
            DuplicateStudyName { name } => DuplicateStudyName { name: name.clone() },
            TrialFinished { trial_id, number, state } => {
                TrialFinished { trial_id: *trial_id, number: *number, state: *state }
            }
            TrialAlreadyClaimed { trial_id } => TrialAlreadyClaimed { trial_id: *trial_id },
            TrialPruned { trial_id } => TrialPruned { trial_id: *trial_id },
            IncompatibleDistribution { name, reason } => {
                IncompatibleDistribution { name: name.clone(), reason }
            }
            InvalidArgument(msg) => InvalidArgument(msg.clone()),
            Snapshot { path, reason } => Snapshot { path: path.clone(), reason: reason.clone() },
            Compaction { path, reason } => {
                Compaction { path: path.clone(), reason: reason.clone() }
            }
            MultiObjectiveStudy { study_id, n_objectives } => {
                MultiObjectiveStudy { study_id: *study_id, n_objectives: *n_objectives }
            }
            NoCompletedTrials { study_id } => NoCompletedTrials { study_id: *study_id },
            DirectionMismatch { name, existing, requested } => DirectionMismatch {
                name: name.clone(),
                existing: existing.clone(),
                requested: requested.clone(),
            },
            SearchSpaceExhausted { study_id } => SearchSpaceExhausted { study_id: *study_id },
            SearchSpaceNotReady { study_id, waited } => {
                SearchSpaceNotReady { study_id: *study_id, waited: *waited }
            }
            Io { path, op, source } => Io { path: path.clone(), op, source: copy_io(source) },
            NotAJournal { path, reason } => {
                NotAJournal { path: path.clone(), reason: reason.clone() }
            }
            NotAnOptunaJournal { path, reason } => {
                NotAnOptunaJournal { path: path.clone(), reason: reason.clone() }
            }
            NotRepresentable { path, code } => NotRepresentable { path: path.clone(), code: *code },
            UnsupportedFormat { path, version, flags, supported } => UnsupportedFormat {
                path: path.clone(),
                version: *version,
                flags: *flags,
                supported: *supported,
            },
            Corruption { path, offset, reason } => {
                Corruption { path: path.clone(), offset: *offset, reason: reason.clone() }
            }
            UnknownOperation { path, offset, code } => {
                UnknownOperation { path: path.clone(), offset: *offset, code: *code }
            }
            LockTimeout { path, holder, waited } => {
                LockTimeout { path: path.clone(), holder: holder.clone(), waited: *waited }
            }
            LockLost { path, holder } => LockLost { path: path.clone(), holder: holder.clone() },
            UnsafeLockFile { path, found } => {
                UnsafeLockFile { path: path.clone(), found: found.clone() }
            }
            Poisoned { path, op, source } => {
                Poisoned { path: path.clone(), op, source: Arc::clone(source) }
            }
            NotSupported { what } => NotSupported { what },
            Remote { endpoint, message } => {
                Remote { endpoint: endpoint.clone(), message: message.clone() }
            }
            JournalReplaced { path } => JournalReplaced { path: path.clone() },
            InvalidArtifactId { id } => InvalidArtifactId { id: id.clone() },
            ArtifactNotFound { store, id } => {
                ArtifactNotFound { store: store.clone(), id: id.clone() }
            }
            // The client's error is not cloneable: the copy keeps its message.
            ArtifactStore { store, op, key, transient, source } => ArtifactStore {
                store: store.clone(),
                op,
                key: key.clone(),
                transient: *transient,
                source: source.to_string().into(),
            },
            Redis { server, op, key, source } => Redis {
                server: server.clone(),
                op,
                key: key.clone(),
                source: source.to_string().into(),
            },
            RedisCorrupt { server, key, reason } => {
                RedisCorrupt { server: server.clone(), key: key.clone(), reason: reason.clone() }
            }
            ArtifactRetriesExhausted { op, id, attempts, last } => ArtifactRetriesExhausted {
                op,
                id: id.clone(),
                attempts: *attempts,
                last: Box::new(last.duplicate()),
            },
            BadArtifactLink { owner, key, reason } => {
                BadArtifactLink { owner: owner.clone(), key: key.clone(), reason: reason.clone() }
            }
            ArtifactMismatch { id, what, expected, found, path } => ArtifactMismatch {
                id: id.clone(),
                what,
                expected: expected.clone(),
                found: found.clone(),
                path: path.clone(),
            },
            DestinationExists { path } => DestinationExists { path: path.clone() },
            SymlinkLockUnavailable { path, reason, instead } => {
                SymlinkLockUnavailable { path: path.clone(), reason: reason.clone(), instead }
            }
            JournalInUse { path, operation, hint } => {
                JournalInUse { path: path.clone(), operation, hint }
            }
            BadSamplerState { sampler, reason } => {
                BadSamplerState { sampler: sampler.clone(), reason: reason.clone() }
            }
            ForkPointNotFound { study, at, n_trials } => {
                ForkPointNotFound { study: study.clone(), at: *at, n_trials: *n_trials }
            }
            StudyChanged { study } => StudyChanged { study: study.clone() },
            BackupDiverged { journal, backup, reason } => BackupDiverged {
                journal: journal.clone(),
                backup: backup.clone(),
                reason: reason.clone(),
            },
        }
    }
}

/// A copy of an OS error: the same code, or the same kind and message.
fn copy_io(e: &io::Error) -> io::Error {
    match e.raw_os_error() {
        Some(code) => io::Error::from_raw_os_error(code),
        None => io::Error::new(e.kind(), e.to_string()),
    }
}
