//! Artifacts: files (checkpoints, plots, logs) attached to trials and studies, kept in an artifact
//! store and linked through system attributes exactly as Optuna's `optuna.artifacts` links them,
//! so Optuna and optuna-dashboard read trialog's artifacts and trialog reads theirs.
//!
//! * [`ArtifactStore`]: where the bytes live, streamed (never a whole file in memory):
//!   [`FileSystemStore`] (Optuna's flat `base/<id>` layout, written durably) and, with the cargo
//!   feature `s3`, `S3Store` (any S3-compatible service); [`Backoff`] retries a store's transient
//!   errors.
//! * [`upload_artifact`], [`download_artifact`], [`list_artifacts`], [`remove_artifact`]: the
//!   link in the trial's or study's system attribute `artifacts:<id>` (see [`ArtifactMeta`]).
//!   Bytes are written before their link and a link is removed before its bytes, so a crash never
//!   leaves a link to missing bytes; it can leave unlinked bytes, which [`collect_garbage`]
//!   removes.
//!
//! The layout, the link format and the guarantees are documented in `docs/ARTIFACTS.md`.

mod backoff;
mod filesystem;
mod id;
mod links;
mod maintain;
mod meta;
mod mime;
#[cfg(feature = "s3")]
mod s3;
mod transfer;

use std::io::{Read, Seek};
use std::time::SystemTime;

use crate::error::Result;

pub use backoff::Backoff;
pub use filesystem::FileSystemStore;
pub use id::ArtifactId;
pub use links::{
    ARTIFACTS_ATTR_PREFIX, Linked, Target, find_link, list_all_links, list_artifacts,
    list_study_links, remove_artifact, upload_artifact, upload_artifact_from,
};
pub use maintain::{GcReport, Problem, VerifyReport, collect_garbage, verify_artifacts};
pub use meta::ArtifactMeta;
pub use mime::guess_type;
#[cfg(feature = "s3")]
pub use s3::{S3Config, S3Store};
pub use transfer::{Digest, DownloadOptions, Downloaded, download_artifact};

/// The body of an upload: readable, and seekable so that [`Backoff`] can send it again from
/// where it started. A `File`, a `Cursor` or any `Read + Seek` value is one.
pub trait ArtifactSource: Read + Seek + Send {}
impl<T: Read + Seek + Send + ?Sized> ArtifactSource for T {}

/// A stream of an artifact's bytes, as [`ArtifactStore::get`] returns it.
pub type ArtifactReader = Box<dyn Read + Send>;

/// Where artifact bytes live, addressed by [`ArtifactId`].
///
/// Every method streams: no implementation holds a whole artifact in memory. Errors are typed:
/// a missing artifact is [`Error::ArtifactNotFound`](crate::Error::ArtifactNotFound), a failed
/// request names the store (its directory or endpoint).
pub trait ArtifactStore: Send + Sync {
    /// Stores everything `body` yields (from its current position to its end) as artifact `id`,
    /// replacing any artifact of that id, and returns the number of bytes stored. When it returns
    /// `Ok` the artifact is complete and durable; when it fails, no partial artifact is visible
    /// under `id` (an interrupted upload leaves at most a leftover that [`ArtifactStore::list`]
    /// reports as [`StoredKind::Partial`]).
    fn put(&self, id: &ArtifactId, body: &mut dyn ArtifactSource) -> Result<u64>;

    /// Opens artifact `id` for reading.
    fn get(&self, id: &ArtifactId) -> Result<ArtifactReader>;

    /// Opens artifact `id` as a local file, if this store keeps artifacts in local files
    /// (`Ok(None)` otherwise, the default), so that a download can let the kernel copy it.
    /// Errors as [`ArtifactStore::get`].
    fn get_file(&self, id: &ArtifactId) -> Result<Option<std::fs::File>> {
        let _ = id;
        Ok(None)
    }

    /// Removes artifact `id`; [`Error::ArtifactNotFound`](crate::Error::ArtifactNotFound) if
    /// there is none. Durable when it returns `Ok`.
    fn remove(&self, id: &ArtifactId) -> Result<()>;

    /// The size and modification time of artifact `id`, or `None` if there is none.
    fn stat(&self, id: &ArtifactId) -> Result<Option<StoredInfo>>;

    /// Whether artifact `id` exists.
    fn exists(&self, id: &ArtifactId) -> Result<bool> {
        Ok(self.stat(id)?.is_some())
    }

    /// Everything in the store that this store wrote or can read as an artifact: artifacts (named
    /// by a valid id) and leftovers of interrupted uploads. Anything else found there (files or
    /// objects of other programs) is never listed, so it is never collected.
    fn list(&self) -> Result<Vec<StoredEntry>>;

    /// Removes a leftover of an interrupted upload that [`ArtifactStore::list`] reported as
    /// [`StoredKind::Partial`] under `name`; refuses any other name.
    fn remove_partial(&self, name: &str) -> Result<()>;

    /// Where the store is, for messages: its directory, or `s3://bucket/prefix at <endpoint>`.
    fn location(&self) -> String;
}

impl<S: ArtifactStore + ?Sized> ArtifactStore for &S {
    fn put(&self, id: &ArtifactId, body: &mut dyn ArtifactSource) -> Result<u64> {
        (**self).put(id, body)
    }
    fn get(&self, id: &ArtifactId) -> Result<ArtifactReader> {
        (**self).get(id)
    }
    fn get_file(&self, id: &ArtifactId) -> Result<Option<std::fs::File>> {
        (**self).get_file(id)
    }
    fn remove(&self, id: &ArtifactId) -> Result<()> {
        (**self).remove(id)
    }
    fn stat(&self, id: &ArtifactId) -> Result<Option<StoredInfo>> {
        (**self).stat(id)
    }
    fn list(&self) -> Result<Vec<StoredEntry>> {
        (**self).list()
    }
    fn remove_partial(&self, name: &str) -> Result<()> {
        (**self).remove_partial(name)
    }
    fn location(&self) -> String {
        (**self).location()
    }
}

impl<S: ArtifactStore + ?Sized> ArtifactStore for Box<S> {
    fn put(&self, id: &ArtifactId, body: &mut dyn ArtifactSource) -> Result<u64> {
        (**self).put(id, body)
    }
    fn get(&self, id: &ArtifactId) -> Result<ArtifactReader> {
        (**self).get(id)
    }
    fn get_file(&self, id: &ArtifactId) -> Result<Option<std::fs::File>> {
        (**self).get_file(id)
    }
    fn remove(&self, id: &ArtifactId) -> Result<()> {
        (**self).remove(id)
    }
    fn stat(&self, id: &ArtifactId) -> Result<Option<StoredInfo>> {
        (**self).stat(id)
    }
    fn list(&self) -> Result<Vec<StoredEntry>> {
        (**self).list()
    }
    fn remove_partial(&self, name: &str) -> Result<()> {
        (**self).remove_partial(name)
    }
    fn location(&self) -> String {
        (**self).location()
    }
}

/// The size and modification time of a stored artifact or leftover.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StoredInfo {
    /// Size in bytes.
    pub size: u64,
    /// When it was last written (the store's clock), if the store knows.
    pub modified: Option<SystemTime>,
}

/// What an entry of [`ArtifactStore::list`] is.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum StoredKind {
    /// A complete artifact.
    Artifact(ArtifactId),
    /// A leftover of an interrupted upload, by its name in the store (never an artifact; removed
    /// with [`ArtifactStore::remove_partial`]).
    Partial(String),
}

/// One entry of [`ArtifactStore::list`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredEntry {
    /// An artifact or a leftover.
    pub kind: StoredKind,
    /// Its size and modification time.
    pub info: StoredInfo,
}
