//! `Backoff<S>`: retries a store's transient errors with exponentially growing delays.

use std::io::{ErrorKind, SeekFrom};
use std::time::Duration;

use crate::error::{Error, Result};

use super::{ArtifactId, ArtifactReader, ArtifactSource, ArtifactStore, StoredEntry, StoredInfo};

/// A store that retries the transient failures of another, as Optuna's `Backoff` does, with
/// Optuna's defaults: at most 10 tries, waiting 0.1 s after the first failure and twice as long
/// after each next one, never more than 30 s (0.1, 0.2, 0.4, ..., 25.6 s).
///
/// What is retried: failed requests a remote store marks transient (network errors, server
/// errors, timeouts) and I/O errors other than "not found", "permission denied", "already
/// exists", invalid input and a full or read-only disk. What is not: a missing artifact
/// ([`Error::ArtifactNotFound`]), an invalid id or argument, and any other error. A call stops at
/// its first success (Optuna's `Backoff.remove` goes on removing after success), and an upload
/// is retried from the position its body had when the call started. When every try failed, the
/// error is [`Error::ArtifactRetriesExhausted`] holding the last try's error (which names the
/// store); a permanent error is returned as is at once.
#[derive(Debug, Clone)]
pub struct Backoff<S> {
    inner: S,
    max_tries: u32,
    multiplier: f64,
    min_delay: Duration,
    max_delay: Duration,
}

impl<S> Backoff<S> {
    /// `inner` with Optuna's defaults (10 tries, 0.1 s doubling up to 30 s).
    pub fn new(inner: S) -> Self {
        Backoff {
            inner,
            max_tries: 10,
            multiplier: 2.0,
            min_delay: Duration::from_millis(100),
            max_delay: Duration::from_secs(30),
        }
    }

    /// `inner` with another schedule: at most `max_tries` tries, the `n`-th wait (from 0) being
    /// `min(min_delay * multiplier^n, max_delay)`. Refuses what Optuna's asserts refuse:
    /// `max_tries` 0, a multiplier that is not positive, a zero `min_delay`, `max_delay` not
    /// above `min_delay`.
    pub fn with_schedule(
        inner: S,
        max_tries: u32,
        multiplier: f64,
        min_delay: Duration,
        max_delay: Duration,
    ) -> Result<Self> {
        #[allow(clippy::neg_cmp_op_on_partial_ord)] // NaN must be refused too
        let bad_multiplier = !(multiplier > 0.0) || !multiplier.is_finite();
        if max_tries == 0 || bad_multiplier || min_delay.is_zero() || max_delay <= min_delay {
            return Err(Error::invalid(format!(
                "backoff schedule: need max_tries > 0, multiplier > 0, min_delay > 0 and \
                 max_delay > min_delay (got {max_tries}, {multiplier}, {min_delay:?}, {max_delay:?})"
            )));
        }
        Ok(Backoff { inner, max_tries, multiplier, min_delay, max_delay })
    }

    /// The wrapped store.
    pub fn inner(&self) -> &S {
        &self.inner
    }

    /// How long to wait after failed try number `retry` (from 0).
    pub fn delay(&self, retry: u32) -> Duration {
        let secs = self.min_delay.as_secs_f64() * self.multiplier.powi(retry.min(1024) as i32);
        Duration::from_secs_f64(secs.min(self.max_delay.as_secs_f64()))
    }

    /// Runs `attempt` until it succeeds, fails permanently, or `max_tries` tries failed.
    /// `before_retry` runs before each retry; its error ends the call.
    fn retry<T>(
        &self,
        op: &'static str,
        id: &str,
        mut before_retry: impl FnMut() -> Result<()>,
        mut attempt: impl FnMut() -> Result<T>,
    ) -> Result<T> {
        let mut tried = 0;
        loop {
            let err = match attempt() {
                Ok(v) => return Ok(v),
                Err(e) => e,
            };
            tried += 1;
            if !is_transient(&err) {
                return Err(err);
            }
            if tried == self.max_tries {
                return Err(Error::ArtifactRetriesExhausted {
                    op,
                    id: id.to_owned(),
                    attempts: tried,
                    last: Box::new(err),
                });
            }
            let wait = self.delay(tried - 1);
            log::warn!(
                "{op} of artifact {id} failed (try {tried} of {}), retrying in {wait:?}: {err}",
                self.max_tries
            );
            std::thread::sleep(wait);
            before_retry()?;
        }
    }
}

/// Whether trying again may succeed (see [`Backoff`]).
pub(crate) fn is_transient(e: &Error) -> bool {
    match e {
        Error::ArtifactStore { transient, .. } => *transient,
        Error::Io { source, .. } => !matches!(
            source.kind(),
            ErrorKind::NotFound
                | ErrorKind::PermissionDenied
                | ErrorKind::AlreadyExists
                | ErrorKind::InvalidInput
                | ErrorKind::InvalidData
                | ErrorKind::ReadOnlyFilesystem
                | ErrorKind::StorageFull
                | ErrorKind::FileTooLarge
                | ErrorKind::NotADirectory
                | ErrorKind::IsADirectory
                | ErrorKind::Unsupported
        ),
        _ => false,
    }
}

impl<S: ArtifactStore> ArtifactStore for Backoff<S> {
    fn put(&self, id: &ArtifactId, body: &mut dyn ArtifactSource) -> Result<u64> {
        // Where the body starts, to send it again from there (known only if it can seek).
        let start = body.stream_position().ok();
        let body = std::cell::RefCell::new(body);
        let rewind = || match start {
            Some(at) => body
                .borrow_mut()
                .seek(SeekFrom::Start(at))
                .map(drop)
                .map_err(|e| Error::io("rewind the upload's source for", id.as_str(), e)),
            None => Err(Error::invalid(format!(
                "the source of artifact {id} cannot seek back, so its upload cannot be retried"
            ))),
        };
        self.retry("upload", id.as_str(), rewind, || self.inner.put(id, &mut **body.borrow_mut()))
    }

    fn get(&self, id: &ArtifactId) -> Result<ArtifactReader> {
        self.retry("download", id.as_str(), || Ok(()), || self.inner.get(id))
    }

    fn get_file(&self, id: &ArtifactId) -> Result<Option<std::fs::File>> {
        self.retry("download", id.as_str(), || Ok(()), || self.inner.get_file(id))
    }

    fn remove(&self, id: &ArtifactId) -> Result<()> {
        self.retry("remove", id.as_str(), || Ok(()), || self.inner.remove(id))
    }

    fn stat(&self, id: &ArtifactId) -> Result<Option<StoredInfo>> {
        self.retry("look up", id.as_str(), || Ok(()), || self.inner.stat(id))
    }

    fn list(&self) -> Result<Vec<StoredEntry>> {
        self.retry("list", "(all)", || Ok(()), || self.inner.list())
    }

    fn remove_partial(&self, name: &str) -> Result<()> {
        self.retry("remove leftover", name, || Ok(()), || self.inner.remove_partial(name))
    }

    fn location(&self) -> String {
        self.inner.location()
    }
}

#[cfg(test)]
mod tests {
    use std::io::{self, Cursor};
    use std::sync::Mutex;

    use super::*;

    /// A store whose calls fail with the queued errors first, recording every call.
    #[derive(Default)]
    struct Flaky {
        failures: Mutex<Vec<Error>>,
        calls: Mutex<Vec<String>>,
    }

    impl Flaky {
        fn failing(errors: Vec<Error>) -> Self {
            Flaky { failures: Mutex::new(errors), calls: Mutex::default() }
        }
        fn call(&self, what: String) -> Result<()> {
            self.calls.lock().unwrap().push(what);
            let mut f = self.failures.lock().unwrap();
            if f.is_empty() { Ok(()) } else { Err(f.remove(0)) }
        }
        fn calls(&self) -> Vec<String> {
            self.calls.lock().unwrap().clone()
        }
    }

    impl ArtifactStore for Flaky {
        fn put(&self, _: &ArtifactId, body: &mut dyn ArtifactSource) -> Result<u64> {
            let mut all = Vec::new();
            body.read_to_end(&mut all).unwrap();
            self.call(format!("put {}", String::from_utf8_lossy(&all)))?;
            Ok(all.len() as u64)
        }
        fn get(&self, _: &ArtifactId) -> Result<ArtifactReader> {
            self.call("get".into())?;
            Ok(Box::new(Cursor::new(Vec::new())))
        }
        fn remove(&self, _: &ArtifactId) -> Result<()> {
            self.call("remove".into())
        }
        fn stat(&self, _: &ArtifactId) -> Result<Option<StoredInfo>> {
            self.call("stat".into()).map(|()| None)
        }
        fn list(&self) -> Result<Vec<StoredEntry>> {
            self.call("list".into()).map(|()| Vec::new())
        }
        fn remove_partial(&self, _: &str) -> Result<()> {
            self.call("remove_partial".into())
        }
        fn location(&self) -> String {
            "flaky".into()
        }
    }

    fn transient() -> Error {
        Error::ArtifactStore {
            store: "s3://b at http://127.0.0.1:1".into(),
            op: "upload",
            key: "k".into(),
            transient: true,
            source: "connection refused".into(),
        }
    }

    fn fast<S>(inner: S, tries: u32) -> Backoff<S> {
        Backoff::with_schedule(
            inner,
            tries,
            2.0,
            Duration::from_millis(1),
            Duration::from_millis(4),
        )
        .unwrap()
    }

    #[test]
    fn optunas_default_schedule() {
        let b = Backoff::new(());
        let secs: Vec<f64> = (0..10).map(|n| b.delay(n).as_secs_f64()).collect();
        let optuna = [0.1, 0.2, 0.4, 0.8, 1.6, 3.2, 6.4, 12.8, 25.6, 30.0];
        for (ours, theirs) in secs.iter().zip(optuna) {
            assert!((ours - theirs).abs() < 1e-9, "{secs:?}");
        }
        assert_eq!(b.max_tries, 10);
        assert!(
            Backoff::with_schedule((), 0, 2.0, Duration::from_secs(1), Duration::from_secs(2))
                .is_err()
        );
        assert!(
            Backoff::with_schedule((), 3, f64::NAN, Duration::from_secs(1), Duration::from_secs(2))
                .is_err()
        );
        assert!(
            Backoff::with_schedule((), 3, 2.0, Duration::from_secs(2), Duration::from_secs(2))
                .is_err()
        );
    }

    #[test]
    fn transient_errors_are_retried_and_the_body_is_sent_again_from_its_start() {
        let store = fast(Flaky::failing(vec![transient(), transient()]), 10);
        let mut body = Cursor::new(b"..abc".to_vec());
        body.set_position(2);
        assert_eq!(store.put(&ArtifactId::new(), &mut body).unwrap(), 3);
        assert_eq!(store.inner().calls(), ["put abc", "put abc", "put abc"]);
    }

    #[test]
    fn a_call_stops_at_its_first_success() {
        let store = fast(Flaky::failing(vec![transient()]), 10);
        store.remove(&ArtifactId::new()).unwrap();
        assert_eq!(store.inner().calls(), ["remove", "remove"]);
        let store = fast(Flaky::default(), 10);
        store.remove(&ArtifactId::new()).unwrap();
        assert_eq!(store.inner().calls(), ["remove"]);
    }

    #[test]
    fn not_found_and_permanent_errors_are_never_retried() {
        let not_found = Error::ArtifactNotFound { store: "x".into(), id: "y".into() };
        let denied = Error::io("open", "/x", io::Error::from(ErrorKind::PermissionDenied));
        for e in [not_found, denied, Error::InvalidArtifactId { id: "..".into() }] {
            let kind = format!("{e:?}");
            let store = fast(Flaky::failing(vec![e]), 10);
            let got = store.get(&ArtifactId::new()).err().unwrap();
            assert_eq!(format!("{got:?}"), kind);
            assert_eq!(store.inner().calls(), ["get"]);
        }
    }

    #[test]
    fn giving_up_says_how_often_and_keeps_the_last_error() {
        let store = fast(Flaky::failing((0..5).map(|_| transient()).collect()), 3);
        let err = store.remove(&ArtifactId::new()).unwrap_err();
        assert_eq!(store.inner().calls().len(), 3);
        match &err {
            Error::ArtifactRetriesExhausted { attempts: 3, op: "remove", last, .. } => {
                assert!(matches!(**last, Error::ArtifactStore { .. }));
            }
            other => panic!("{other:?}"),
        }
        assert!(err.to_string().contains("http://127.0.0.1:1"), "{err}");
    }
}
