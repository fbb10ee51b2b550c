//! `S3Store`: artifacts as objects in an S3-compatible service (feature `s3`), on
//! `object_store`. Streams both ways; uploads larger than one part go as multipart uploads.

use std::io::{self, Read};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use futures_util::StreamExt;
use object_store::aws::{AmazonS3, AmazonS3Builder, AmazonS3ConfigKey};
use object_store::path::Path as ObjectPath;
use object_store::{
    BackoffConfig, ClientOptions, ObjectStore, ObjectStoreExt, PutPayload, RetryConfig,
    WriteMultipart,
};

use crate::error::{Error, Result};

use super::transfer::read_full;
use super::{
    ArtifactId, ArtifactReader, ArtifactSource, ArtifactStore, StoredEntry, StoredInfo, StoredKind,
};

/// Where an [`S3Store`] keeps artifacts and how it talks to the service.
#[derive(Debug, Clone)]
pub struct S3Config {
    /// The bucket (it must exist).
    pub bucket: String,
    /// Key prefix: artifact `<id>` is the object `<prefix>/<id>`, or `<id>` when empty (as
    /// Optuna's `Boto3ArtifactStore` names them).
    pub prefix: String,
    /// Start from the usual environment variables (`AWS_ENDPOINT_URL`, `AWS_REGION` or
    /// `AWS_DEFAULT_REGION`, `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`,
    /// and the other `AWS_*` variables `object_store` reads); the fields below override them.
    pub from_env: bool,
    /// The service's URL (`http://127.0.0.1:9000`); AWS itself when unset. Plain `http://` is
    /// allowed only when given this way.
    pub endpoint: Option<String>,
    /// The region (`us-east-1` when unset everywhere).
    pub region: Option<String>,
    /// Access key id and secret access key.
    pub credentials: Option<(String, String)>,
    /// Size of each part of a multipart upload (at least 5 MiB, S3's minimum); files smaller than
    /// one part go in one request. At most `max_concurrency + 1` parts are in memory at once.
    pub part_size: usize,
    /// Parts uploaded at the same time.
    pub max_concurrency: usize,
    /// Retries of one failed request inside the client (on top of any [`Backoff`] around the
    /// store, which retries whole calls).
    ///
    /// [`Backoff`]: super::Backoff
    pub request_retries: usize,
    /// Time limit of one request, body included.
    pub request_timeout: Duration,
}

/// S3's smallest part (except the last).
const MIN_PART: usize = 5 << 20;

impl S3Config {
    /// The configuration for `url`, `s3://bucket` or `s3://bucket/prefix`, reading the
    /// environment, with 8 MiB parts, 2 in flight, 3 request retries and a 5-minute request
    /// limit.
    pub fn from_url(url: &str) -> Result<Self> {
        let rest = url
            .strip_prefix("s3://")
            .ok_or_else(|| Error::invalid(format!("{url:?} is not an s3://bucket/prefix URL")))?;
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        let prefix = prefix.trim_end_matches('/');
        if bucket.is_empty() {
            return Err(Error::invalid(format!("{url:?} names no bucket")));
        }
        if !prefix.is_empty() {
            ObjectPath::parse(prefix)
                .map_err(|e| Error::invalid(format!("{url:?}: bad key prefix: {e}")))?;
        }
        Ok(S3Config {
            bucket: bucket.to_owned(),
            prefix: prefix.to_owned(),
            from_env: true,
            endpoint: None,
            region: None,
            credentials: None,
            part_size: 8 << 20,
            max_concurrency: 2,
            request_retries: 3,
            request_timeout: Duration::from_secs(300),
        })
    }
}

/// An artifact store in an S3 bucket (AWS, MinIO, Ceph, moto, ...), readable by Optuna's
/// `Boto3ArtifactStore` on the same bucket when the prefix is empty.
///
/// S3 makes an object visible only once its upload completed, so an interrupted
/// [`put`](ArtifactStore::put) never leaves a partial artifact; an interrupted multipart upload
/// is aborted when the process lives to do it, and otherwise stays invisible and unlisted
/// (a bucket lifecycle rule `AbortIncompleteMultipartUpload` removes such uploads). The calls
/// are blocking: the store runs its own small tokio runtime.
pub struct S3Store {
    store: AmazonS3,
    rt: Arc<tokio::runtime::Runtime>,
    prefix: Option<ObjectPath>,
    location: String,
    part_size: usize,
    max_concurrency: usize,
}

impl std::fmt::Debug for S3Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("S3Store").field("location", &self.location).finish_non_exhaustive()
    }
}

impl S3Store {
    /// Connects (lazily: no request is made until the first call) as `config` says.
    pub fn new(config: &S3Config) -> Result<Self> {
        let mut builder =
            if config.from_env { AmazonS3Builder::from_env() } else { AmazonS3Builder::new() };
        builder = builder.with_bucket_name(&config.bucket);
        if let Some(endpoint) = &config.endpoint {
            builder = builder.with_endpoint(endpoint);
        }
        if let Some(region) = &config.region {
            builder = builder.with_region(region);
        }
        if let Some((key, secret)) = &config.credentials {
            builder = builder.with_access_key_id(key).with_secret_access_key(secret);
        }
        let endpoint = builder.get_config_value(&AmazonS3ConfigKey::Endpoint);
        let region = builder
            .get_config_value(&AmazonS3ConfigKey::Region)
            .unwrap_or_else(|| "us-east-1".to_owned());
        let shown_endpoint =
            endpoint.clone().unwrap_or_else(|| format!("https://s3.{region}.amazonaws.com"));
        let mut location = format!("s3://{}", config.bucket);
        if !config.prefix.is_empty() {
            location = format!("{location}/{}", config.prefix);
        }
        let location = format!("{location} at {shown_endpoint}");
        let invalid = |what: String| Error::invalid(format!("S3 store {location}: {what}"));
        if config.part_size < MIN_PART || config.max_concurrency == 0 {
            return Err(invalid(format!(
                "part size {} is below S3's minimum of 5 MiB or no part may be in flight",
                config.part_size
            )));
        }
        let client = ClientOptions::new()
            .with_allow_http(endpoint.is_some_and(|e| e.starts_with("http://")))
            .with_timeout(config.request_timeout)
            .with_connect_timeout(Duration::from_secs(5));
        let retry = RetryConfig {
            backoff: BackoffConfig::default(),
            max_retries: config.request_retries,
            retry_timeout: config.request_timeout,
        };
        let store = builder
            .with_client_options(client)
            .with_retry(retry)
            .build()
            .map_err(|e| invalid(e.to_string()))?;
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("trialog-s3")
            .enable_all()
            .build()
            .map_err(|e| Error::io("start the S3 client's runtime for", &location, e))?;
        let prefix = (!config.prefix.is_empty()).then(|| ObjectPath::from(config.prefix.as_str()));
        Ok(S3Store {
            store,
            rt: Arc::new(rt),
            prefix,
            location,
            part_size: config.part_size,
            max_concurrency: config.max_concurrency,
        })
    }

    /// The object key of artifact `id`.
    fn key(&self, id: &ArtifactId) -> ObjectPath {
        match &self.prefix {
            Some(p) => p.clone().join(id.as_str()),
            None => ObjectPath::from(id.as_str()),
        }
    }

    /// A typed error for a failed request: not found (when `missing_is_not_found`), transient
    /// (network, server errors) or permanent.
    fn error(
        &self,
        op: &'static str,
        id: &str,
        e: object_store::Error,
        missing_is_not_found: bool,
    ) -> Error {
        let transient = matches!(
            e,
            object_store::Error::Generic { .. } | object_store::Error::JoinError { .. }
        );
        match e {
            object_store::Error::NotFound { .. } if missing_is_not_found => {
                Error::ArtifactNotFound { store: self.location.clone(), id: id.to_owned() }
            }
            e => Error::ArtifactStore {
                store: self.location.clone(),
                op,
                key: id.to_owned(),
                transient,
                source: Box::new(e),
            },
        }
    }

    fn multipart(
        &self,
        key: &ObjectPath,
        id: &ArtifactId,
        first: Vec<u8>,
        body: &mut dyn ArtifactSource,
    ) -> Result<u64> {
        let upload = self
            .rt
            .block_on(self.store.put_multipart(key))
            .map_err(|e| self.error("start upload of", id.as_str(), e, false))?;
        // Parts are spawned on the runtime and upload while the next one is read.
        let _in_runtime = self.rt.enter();
        let mut writer = WriteMultipart::new_with_chunk_size(upload, self.part_size);
        let mut total = first.len() as u64;
        writer.put(first.into());
        loop {
            if let Err(e) = self.rt.block_on(writer.wait_for_capacity(self.max_concurrency)) {
                let _ = self.rt.block_on(writer.abort());
                return Err(self.error("upload", id.as_str(), e, false));
            }
            let mut buf = vec![0u8; self.part_size];
            let n = match read_full(body, &mut buf) {
                Ok(n) => n,
                Err(e) => {
                    let _ = self.rt.block_on(writer.abort());
                    return Err(Error::io("read the upload's source for", id.as_str(), e));
                }
            };
            if n == 0 {
                break;
            }
            buf.truncate(n);
            total += n as u64;
            writer.put(buf.into());
            if n < self.part_size {
                break;
            }
        }
        self.rt
            .block_on(writer.finish())
            .map_err(|e| self.error("complete upload of", id.as_str(), e, false))?;
        Ok(total)
    }
}

fn info(meta: &object_store::ObjectMeta) -> StoredInfo {
    let (secs, nanos) =
        (meta.last_modified.timestamp(), meta.last_modified.timestamp_subsec_nanos());
    let modified =
        u64::try_from(secs).ok().map(|s| SystemTime::UNIX_EPOCH + Duration::new(s, nanos));
    StoredInfo { size: meta.size, modified }
}

impl ArtifactStore for S3Store {
    fn put(&self, id: &ArtifactId, body: &mut dyn ArtifactSource) -> Result<u64> {
        let key = self.key(id);
        let mut first = vec![0u8; self.part_size];
        let n = read_full(body, &mut first)
            .map_err(|e| Error::io("read the upload's source for", id.as_str(), e))?;
        if n < self.part_size {
            first.truncate(n);
            self.rt
                .block_on(self.store.put(&key, PutPayload::from(first)))
                .map_err(|e| self.error("upload", id.as_str(), e, false))?;
            return Ok(n as u64);
        }
        self.multipart(&key, id, first, body)
    }

    fn get(&self, id: &ArtifactId) -> Result<ArtifactReader> {
        let result = self
            .rt
            .block_on(self.store.get(&self.key(id)))
            .map_err(|e| self.error("download", id.as_str(), e, true))?;
        // A task on the runtime pulls the body while the caller consumes it (hashing, writing),
        // at most PREFETCH chunks ahead.
        let (tx, rx) = tokio::sync::mpsc::channel(PREFETCH);
        let remaining = result.meta.size;
        let mut stream = result.into_stream();
        self.rt.spawn(async move {
            while let Some(item) = stream.next().await {
                let stop = item.is_err();
                if tx.send(item).await.is_err() || stop {
                    break; // the reader was dropped, or the stream failed
                }
            }
        });
        Ok(Box::new(S3Reader {
            _runtime: Arc::clone(&self.rt),
            chunks: rx,
            remaining,
            current: Default::default(),
            location: self.location.clone(),
            id: id.to_string(),
        }))
    }

    fn remove(&self, id: &ArtifactId) -> Result<()> {
        // S3 deletes a missing key without complaint: look first, to report not-found.
        let key = self.key(id);
        self.rt
            .block_on(self.store.head(&key))
            .map_err(|e| self.error("remove", id.as_str(), e, true))?;
        self.rt
            .block_on(self.store.delete(&key))
            .map_err(|e| self.error("remove", id.as_str(), e, true))
    }

    fn stat(&self, id: &ArtifactId) -> Result<Option<StoredInfo>> {
        match self.rt.block_on(self.store.head(&self.key(id))) {
            Ok(meta) => Ok(Some(info(&meta))),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(self.error("look up", id.as_str(), e, false)),
        }
    }

    fn list(&self) -> Result<Vec<StoredEntry>> {
        let mut stream = self.store.list(self.prefix.as_ref());
        let mut out = Vec::new();
        while let Some(item) = self.rt.block_on(stream.next()) {
            let meta = item.map_err(|e| self.error("list", "", e, false))?;
            // Only objects directly under the prefix whose name is an id.
            let mut parts = meta.location.parts();
            let name = parts.next_back();
            let parent: Vec<_> = parts.collect();
            let under_prefix = match &self.prefix {
                Some(p) => p.parts().eq(parent.iter().cloned()),
                None => parent.is_empty(),
            };
            let id = name.and_then(|n| ArtifactId::parse(n.as_ref()).ok());
            if let (true, Some(id)) = (under_prefix, id) {
                out.push(StoredEntry { kind: StoredKind::Artifact(id), info: info(&meta) });
            }
        }
        Ok(out)
    }

    fn remove_partial(&self, name: &str) -> Result<()> {
        Err(Error::invalid(format!(
            "{name:?}: the S3 store {} lists no leftovers (incomplete multipart uploads are \
             removed by a bucket lifecycle rule)",
            self.location
        )))
    }

    fn location(&self) -> String {
        self.location.clone()
    }
}

/// Body chunks a download may fetch ahead of its reader.
const PREFETCH: usize = 16;

/// A download stream read synchronously from the chunks its fetching task sends; a failed chunk
/// is an `io::Error` wrapping the typed [`Error`] (which names the store), and so is a body that
/// ends before the object's size. It keeps the store's runtime alive; dropping it stops the
/// fetch.
struct S3Reader {
    _runtime: Arc<tokio::runtime::Runtime>,
    chunks: tokio::sync::mpsc::Receiver<object_store::Result<bytes::Bytes>>,
    remaining: u64,
    current: bytes::Bytes,
    location: String,
    id: String,
}

impl S3Reader {
    fn failed(
        &self,
        transient: bool,
        source: Box<dyn std::error::Error + Send + Sync>,
    ) -> io::Error {
        io::Error::other(Error::ArtifactStore {
            store: self.location.clone(),
            op: "download",
            key: self.id.clone(),
            transient,
            source,
        })
    }
}

impl Read for S3Reader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while self.current.is_empty() {
            match self.chunks.blocking_recv() {
                None if self.remaining == 0 => return Ok(0),
                None => {
                    let msg = format!("the body ended {} bytes early", self.remaining);
                    return Err(self.failed(true, msg.into()));
                }
                Some(Ok(chunk)) => self.current = chunk,
                Some(Err(e)) => {
                    let transient = matches!(e, object_store::Error::Generic { .. });
                    return Err(self.failed(transient, Box::new(e)));
                }
            }
        }
        let n = buf.len().min(self.current.len());
        buf[..n].copy_from_slice(&self.current.split_to(n));
        self.remaining = self.remaining.saturating_sub(n as u64);
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_name_a_bucket_and_an_optional_prefix() {
        let c = S3Config::from_url("s3://bucket").unwrap();
        assert_eq!((c.bucket.as_str(), c.prefix.as_str()), ("bucket", ""));
        let c = S3Config::from_url("s3://bucket/a/b/").unwrap();
        assert_eq!((c.bucket.as_str(), c.prefix.as_str()), ("bucket", "a/b"));
        for bad in ["bucket", "s3://", "s3:///x", "s3://b/a//b", "s3://b/../x", "file:///x"] {
            assert!(matches!(S3Config::from_url(bad), Err(Error::InvalidArgument(_))), "{bad}");
        }
    }

    #[test]
    fn keys_are_the_id_under_the_prefix_and_the_location_names_the_endpoint() {
        let mut c = S3Config::from_url("s3://bucket/runs/7").unwrap();
        c.from_env = false;
        c.endpoint = Some("http://127.0.0.1:9".into());
        c.credentials = Some(("k".into(), "s".into()));
        let store = S3Store::new(&c).unwrap();
        let id = ArtifactId::new();
        assert_eq!(store.key(&id).as_ref(), format!("runs/7/{id}"));
        assert_eq!(store.location(), "s3://bucket/runs/7 at http://127.0.0.1:9");
        c.part_size = 1 << 20;
        assert!(matches!(S3Store::new(&c), Err(Error::InvalidArgument(_))));
    }
}
