//! Streaming with a running SHA-256, and downloads that never write outside their destination.

use std::fs::{self, File};
use std::io::{self, ErrorKind, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use sha2::{Digest as _, Sha256};

use crate::backend::sync_dir;
use crate::error::{Error, Result};
use crate::sys::writeback::start_writeback;

use super::{ArtifactId, ArtifactMeta, ArtifactStore};

/// The size and SHA-256 of an artifact's bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Digest {
    /// Size in bytes.
    pub size: u64,
    /// SHA-256.
    pub sha256: [u8; 32],
}

impl Digest {
    /// The SHA-256 as 64 lower-case hex digits (as links record it).
    pub fn sha256_hex(&self) -> String {
        self.sha256.iter().map(|b| format!("{b:02x}")).collect()
    }
}

/// A running size and SHA-256.
#[derive(Clone, Default)]
pub(crate) struct Hasher {
    size: u64,
    sha: Sha256,
}

impl Hasher {
    pub(crate) fn update(&mut self, bytes: &[u8]) {
        self.size += bytes.len() as u64;
        self.sha.update(bytes);
    }

    pub(crate) fn finish(self) -> Digest {
        Digest { size: self.size, sha256: self.sha.finalize().into() }
    }
}

/// A SHA-256 computed on its own thread, so that hashing runs beside the caller's reading and
/// writing instead of after it. `update` copies the bytes into recycled buffers of at most
/// [`CHUNK`] bytes; at most `HASH_QUEUE + 2` of them exist at once.
pub(crate) struct BackgroundHasher {
    tx: Option<std::sync::mpsc::SyncSender<HashMsg>>,
    spare: std::sync::mpsc::Receiver<Vec<u8>>,
    thread: Option<std::thread::JoinHandle<Digest>>,
}

enum HashMsg {
    Data(Vec<u8>),
    Reset,
}

/// Buffers queued for the hashing thread.
const HASH_QUEUE: usize = 4;

impl BackgroundHasher {
    pub(crate) fn new() -> Self {
        let (tx, rx) = std::sync::mpsc::sync_channel::<HashMsg>(HASH_QUEUE);
        let (back, spare) = std::sync::mpsc::channel();
        let thread = std::thread::spawn(move || {
            let mut hasher = Hasher::default();
            for msg in rx {
                match msg {
                    HashMsg::Data(bytes) => {
                        hasher.update(&bytes);
                        let _ = back.send(bytes);
                    }
                    HashMsg::Reset => hasher = Hasher::default(),
                }
            }
            hasher.finish()
        });
        BackgroundHasher { tx: Some(tx), spare, thread: Some(thread) }
    }

    fn send(&self, msg: HashMsg) {
        if let Some(tx) = &self.tx {
            let _ = tx.send(msg); // the thread only ends when `tx` is dropped
        }
    }

    pub(crate) fn update(&mut self, bytes: &[u8]) {
        for piece in bytes.chunks(CHUNK) {
            let mut buf = self.spare.try_recv().unwrap_or_default();
            buf.clear();
            buf.extend_from_slice(piece);
            self.send(HashMsg::Data(buf));
        }
    }

    /// Starts again from no bytes.
    pub(crate) fn reset(&mut self) {
        self.send(HashMsg::Reset);
    }

    /// The digest of everything since the start (or the last reset).
    pub(crate) fn finish(mut self) -> Digest {
        self.tx = None;
        let thread = self.thread.take().expect("joined only here");
        thread.join().unwrap_or_else(|p| std::panic::resume_unwind(p))
    }
}

impl Drop for BackgroundHasher {
    fn drop(&mut self) {
        self.tx = None;
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// A body that hashes what is read through it (on a [`BackgroundHasher`]). A seek back to where reading started (what
/// `Backoff` does before a retry) starts the hash again; after a seek anywhere else the digest
/// is unknown.
pub(crate) struct HashingReader<R> {
    inner: R,
    hasher: BackgroundHasher,
    origin: Option<u64>,
    read_any: bool,
    broken: bool,
}

impl<R> HashingReader<R> {
    pub(crate) fn new(inner: R) -> Self {
        HashingReader {
            inner,
            hasher: BackgroundHasher::new(),
            origin: None,
            read_any: false,
            broken: false,
        }
    }

    /// The digest of everything read since the start, or `None` after a seek elsewhere.
    pub(crate) fn digest(self) -> Option<Digest> {
        (!self.broken).then(|| self.hasher.finish())
    }
}

impl<R: Read> Read for HashingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.read_any = true;
        self.hasher.update(&buf[..n]);
        Ok(n)
    }
}

impl<R: Seek> Seek for HashingReader<R> {
    fn seek(&mut self, pos: SeekFrom) -> io::Result<u64> {
        let at = self.inner.seek(pos)?;
        match self.origin {
            _ if !self.read_any => self.origin = Some(at),
            Some(origin) if origin == at => {}
            _ => self.broken = true,
        }
        self.hasher.reset();
        self.read_any = false;
        Ok(at)
    }
}

/// Reads until `buf` is full or the source ends (retrying `EINTR`); returns how many bytes were
/// read.
pub(crate) fn read_full<R: Read + ?Sized>(reader: &mut R, buf: &mut [u8]) -> io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match reader.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(filled)
}

/// Bytes moved per read/write call.
pub(crate) const CHUNK: usize = 1 << 20;
/// Chunks queued between the reading thread and the writing thread of [`copy_pipelined`].
const DEPTH: usize = 4;
/// A durable [`copy_pipelined`] asks the kernel to start writing out each step of this many
/// bytes as soon as it is written ([`start_writeback`]), so the disk writes while the copy goes
/// on and the final flush has little left to do.
const WRITEBACK_EVERY: u64 = 8 << 20;
/// Bytes a kernel-side copy of a local artifact moves between two progress reports.
const LOCAL_SLICE: u64 = 16 << 20;

/// Copies everything `reader` yields into `file` (at its current position) and returns the byte
/// count; with `durable`, the file is fsynced (`sync_all`) before it returns. Pipelined: this
/// thread reads and shows each chunk to `seen` (hashing, progress) while a scoped writer thread
/// writes and, when durable, starts the write-back of every [`WRITEBACK_EVERY`] bytes written
/// (never a flush of its own: the one `sync_all` at the end is what makes the bytes durable); at
/// most `DEPTH + 2` chunks of [`CHUNK`] bytes exist at once. A read error is passed through
/// `read_error`; a write or fsync error names `path`. On any error the file holds some prefix of
/// the data and must be discarded.
pub(crate) fn copy_pipelined<R: Read + ?Sized>(
    reader: &mut R,
    file: &File,
    path: &Path,
    seen: &mut dyn FnMut(&[u8]),
    read_error: &dyn Fn(io::Error) -> Error,
    durable: bool,
) -> Result<u64> {
    let (full_tx, full_rx) = std::sync::mpsc::sync_channel::<Vec<u8>>(DEPTH);
    let (empty_tx, empty_rx) = std::sync::mpsc::channel::<Vec<u8>>();
    std::thread::scope(|scope| {
        let writer = scope.spawn(move || -> Result<u64> {
            let mut out = file;
            let start = out.stream_position().map_err(|e| Error::io("write", path, e))?;
            let (mut written, mut submitted) = (0u64, 0u64);
            for chunk in full_rx {
                out.write_all(&chunk).map_err(|e| Error::io("write", path, e))?;
                written += chunk.len() as u64;
                if durable && written - submitted >= WRITEBACK_EVERY {
                    start_writeback(file, start + submitted, written - submitted)
                        .map_err(|e| Error::io("write", path, e))?;
                    submitted = written;
                }
                let _ = empty_tx.send(chunk); // back for reuse
            }
            if durable {
                file.sync_all().map_err(|e| Error::io("fsync", path, e))?;
            }
            Ok(written)
        });
        let mut allocated = 0;
        let mut failed = None;
        loop {
            let mut chunk = match empty_rx.try_recv() {
                Ok(c) => c,
                Err(_) if allocated < DEPTH + 2 => {
                    allocated += 1;
                    Vec::with_capacity(CHUNK)
                }
                Err(_) => match empty_rx.recv() {
                    Ok(c) => c,
                    Err(_) => break, // the writer stopped: its error is returned below
                },
            };
            chunk.resize(CHUNK, 0);
            let n = read_full(reader, &mut chunk);
            match n {
                Ok(0) => break,
                Ok(n) => {
                    chunk.truncate(n);
                    seen(&chunk);
                    if full_tx.send(chunk).is_err() {
                        break;
                    }
                }
                Err(e) => {
                    failed = Some(read_error(e));
                    break;
                }
            }
        }
        drop(full_tx);
        let written = writer.join().unwrap_or_else(|p| std::panic::resume_unwind(p));
        match failed {
            Some(e) => Err(e),
            None => written,
        }
    })
}

/// How [`download_artifact`] treats its destination and what it checks.
#[derive(Default)]
pub struct DownloadOptions<'a> {
    /// Replace an existing destination (a file or a symbolic link: the link itself is replaced,
    /// never written through). Off: an existing destination is refused with
    /// [`Error::DestinationExists`], atomically (a file created meanwhile is not replaced either).
    pub overwrite: bool,
    /// The artifact's link: its recorded size, when present, must match the bytes, or the
    /// download fails with [`Error::ArtifactMismatch`] and writes nothing; with `verify`, so
    /// must its recorded SHA-256.
    pub expected: Option<&'a ArtifactMeta>,
    /// Also compute the SHA-256 of the bytes (on a thread of its own, beside the copy), return it,
    /// and check it against `expected`'s. Off: no hashing (the store's bytes were hashed when
    /// uploaded; `trialog artifacts verify` checks them again).
    pub verify: bool,
    /// Make the downloaded file durable before it gets its name: fsync it, and the directory
    /// after. Off (as `cp`, `curl` and Optuna's `download_artifact`): the file is complete and
    /// atomically named when the call returns, but a power cut soon after may lose it or leave
    /// it empty; the store still holds the artifact.
    pub durable: bool,
    /// Called with the number of bytes received so far, as they arrive.
    pub progress: Option<&'a mut dyn FnMut(u64)>,
}

/// What [`download_artifact`] wrote.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Downloaded {
    /// Bytes written.
    pub size: u64,
    /// Their size and SHA-256, when [`DownloadOptions::verify`] asked for it.
    pub digest: Option<Digest>,
}

/// Downloads artifact `id` from `store` to the file `path`, streaming, and returns the size (and
/// with [`DownloadOptions::verify`] the SHA-256) of what was written.
///
/// Nothing is written anywhere but `path` and, while the download runs, a hidden temporary file
/// beside it (`.<name>.trialog-download.<random>`, created new, so never through a link), which
/// is then renamed or linked to `path` (fsynced first, and the directory after, with
/// [`DownloadOptions::durable`]). On any failure the temporary file is removed and `path` is as
/// it was. A store that keeps artifacts in local files ([`ArtifactStore::get_file`]) is copied
/// by the kernel where the platform can (`copy_file_range` on Linux). The artifact's filename
/// recorded in its link is never used as a path.
pub fn download_artifact(
    store: &dyn ArtifactStore,
    id: &ArtifactId,
    path: &Path,
    mut options: DownloadOptions<'_>,
) -> Result<Downloaded> {
    let name = path.file_name().ok_or_else(|| {
        Error::invalid(format!("download destination {} does not name a file", path.display()))
    })?;
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_owned(),
        _ => PathBuf::from("."),
    };
    if !options.overwrite && fs::symlink_metadata(path).is_ok() {
        return Err(Error::DestinationExists { path: path.to_owned() });
    }
    let source = match store.get_file(id)? {
        Some(file) => Source::Local(file),
        None => Source::Stream(store.get(id)?),
    };
    let nonce = uuid::Uuid::new_v4().simple().to_string();
    let tmp = dir.join(format!(".{}.trialog-download.{nonce}", name.to_string_lossy()));
    let file = File::options()
        .write(true)
        .create_new(true)
        .open(&tmp)
        .map_err(|e| Error::io("create", &tmp, e))?;
    let result = receive(store, source, &file, &tmp, id, path, &mut options)
        .and_then(|done| place(&tmp, path, options.overwrite).map(|()| done));
    drop(file);
    match result {
        Ok(done) => {
            if options.durable {
                sync_dir(&dir)?;
            }
            Ok(done)
        }
        Err(e) => {
            let _ = fs::remove_file(&tmp);
            Err(e)
        }
    }
}

/// Where a download reads from.
enum Source {
    /// A local file of the store, copied by the kernel.
    Local(File),
    /// A stream, copied through this process.
    Stream(super::ArtifactReader),
}

/// Copies the artifact into the temporary file, checks it against the link, fsyncs it if asked.
fn receive(
    store: &dyn ArtifactStore,
    source: Source,
    file: &File,
    tmp: &Path,
    id: &ArtifactId,
    path: &Path,
    options: &mut DownloadOptions<'_>,
) -> Result<Downloaded> {
    let mut progress = |n| {
        if let Some(progress) = options.progress.as_mut() {
            progress(n);
        }
    };
    let (size, digest) = match source {
        Source::Local(src) if options.verify => {
            // The kernel copies while this thread's twin hashes the same (immutable) artifact
            // through a second handle of its own.
            let second = store.get(id)?;
            std::thread::scope(|scope| {
                let hashing = scope.spawn(|| hash_stream(second, id));
                let copied = copy_local(&src, file, tmp, &mut progress);
                let digest = hashing.join().unwrap_or_else(|p| std::panic::resume_unwind(p));
                Ok::<_, Error>((copied?, Some(digest?)))
            })?
        }
        Source::Local(src) => (copy_local(&src, file, tmp, &mut progress)?, None),
        Source::Stream(mut reader) => {
            let mut hasher = options.verify.then(BackgroundHasher::new);
            let mut received = 0;
            let mut seen = |chunk: &[u8]| {
                if let Some(h) = hasher.as_mut() {
                    h.update(chunk);
                }
                received += chunk.len() as u64;
                progress(received);
            };
            let size = copy_pipelined(
                &mut reader,
                file,
                tmp,
                &mut seen,
                &|e| read_error(id, e),
                options.durable,
            )?;
            (size, hasher.map(BackgroundHasher::finish))
        }
    };
    if let Some(meta) = options.expected {
        check(meta, size, digest.as_ref(), path)?;
    }
    if options.durable {
        file.sync_all().map_err(|e| Error::io("fsync", tmp, e))?;
    }
    Ok(Downloaded { size, digest })
}

/// Copies all of the local file `src` (from its start) into `file`, [`LOCAL_SLICE`] bytes at a
/// time between progress reports; `std::io::copy` between two files lets the kernel move the
/// bytes where the platform can (`copy_file_range` on Linux, else a read-write loop).
fn copy_local(src: &File, file: &File, tmp: &Path, progress: &mut dyn FnMut(u64)) -> Result<u64> {
    let mut out = file;
    let mut copied = 0;
    loop {
        let n = io::copy(&mut src.take(LOCAL_SLICE), &mut out)
            .map_err(|e| Error::io("copy the artifact into", tmp, e))?;
        if n == 0 {
            return Ok(copied);
        }
        copied += n;
        progress(copied);
    }
}

/// The size and SHA-256 of everything `reader` yields.
fn hash_stream(mut reader: super::ArtifactReader, id: &ArtifactId) -> Result<Digest> {
    let mut hasher = Hasher::default();
    let mut buf = vec![0u8; CHUNK];
    loop {
        match read_full(&mut reader, &mut buf) {
            Ok(0) => return Ok(hasher.finish()),
            Ok(n) => hasher.update(&buf[..n]),
            Err(e) => return Err(read_error(id, e)),
        }
    }
}

/// A failed read of a download stream: the store's own error when it sent one (S3 wraps its
/// typed errors into the stream), or an I/O error naming the artifact.
fn read_error(id: &ArtifactId, e: io::Error) -> Error {
    match e.downcast::<Error>() {
        Ok(inner) => inner,
        Err(e) => Error::io("download artifact", id.as_str(), e),
    }
}

/// Fails with [`Error::ArtifactMismatch`] when `size` or (if known) `digest` differs from what
/// `meta` records.
pub(crate) fn check(
    meta: &ArtifactMeta,
    size: u64,
    digest: Option<&Digest>,
    path: &Path,
) -> Result<()> {
    let mismatch = |what, expected: String, found: String| Error::ArtifactMismatch {
        id: meta.artifact_id.to_string(),
        what,
        expected,
        found,
        path: path.to_owned(),
    };
    if let Some(expected) = meta.size.filter(|s| *s != size) {
        return Err(mismatch("size", expected.to_string(), size.to_string()));
    }
    let Some(digest) = digest else { return Ok(()) };
    if let Some(sha) = meta.sha256.as_ref().filter(|s| **s != digest.sha256_hex()) {
        return Err(mismatch("SHA-256", sha.clone(), digest.sha256_hex()));
    }
    Ok(())
}

/// Gives the finished temporary file the name `path`: a rename when overwriting, otherwise a
/// hard link, which fails if `path` exists (no check-then-write race), then the temporary name
/// goes. Where hard links are not supported, a rename after a last check.
fn place(tmp: &Path, path: &Path, overwrite: bool) -> Result<()> {
    if overwrite {
        return fs::rename(tmp, path).map_err(|e| Error::io("rename into place", path, e));
    }
    match fs::hard_link(tmp, path) {
        Ok(()) => fs::remove_file(tmp).map_err(|e| Error::io("remove", tmp, e)),
        Err(e) if e.kind() == ErrorKind::AlreadyExists => {
            Err(Error::DestinationExists { path: path.to_owned() })
        }
        Err(_) if fs::symlink_metadata(path).is_ok() => {
            Err(Error::DestinationExists { path: path.to_owned() })
        }
        Err(_) => fs::rename(tmp, path).map_err(|e| Error::io("rename into place", path, e)),
    }
}

#[cfg(test)]
mod tests {
    use std::io::Cursor;

    use super::*;
    use crate::artifacts::FileSystemStore;

    #[test]
    fn hashing_reader_restarts_on_a_seek_back_to_its_start() {
        let mut r = HashingReader::new(Cursor::new(b"..abc".to_vec()));
        r.seek(SeekFrom::Start(2)).unwrap();
        let mut s = String::new();
        r.read_to_string(&mut s).unwrap();
        r.seek(SeekFrom::Start(2)).unwrap();
        let mut again = Vec::new();
        r.read_to_end(&mut again).unwrap();
        let d = r.digest().unwrap();
        assert_eq!(d.size, 3);
        assert_eq!(
            d.sha256_hex(),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad" // sha256("abc")
        );
        let mut r = HashingReader::new(Cursor::new(b"abc".to_vec()));
        r.read_exact(&mut [0; 2]).unwrap();
        r.seek(SeekFrom::Start(1)).unwrap();
        assert!(r.digest().is_none());
    }

    fn store_with(bytes: &[u8]) -> (tempfile::TempDir, FileSystemStore, ArtifactId) {
        let dir = tempfile::tempdir().unwrap();
        let store = FileSystemStore::new(dir.path().join("store")).unwrap();
        let id = ArtifactId::new();
        store.put(&id, &mut Cursor::new(bytes.to_vec())).unwrap();
        (dir, store, id)
    }

    #[test]
    fn download_refuses_to_overwrite_unless_asked_and_never_follows_a_link() {
        let (dir, store, id) = store_with(b"new");
        let out = dir.path().join("out");
        fs::write(&out, b"old").unwrap();
        let err = download_artifact(&store, &id, &out, DownloadOptions::default()).unwrap_err();
        assert!(matches!(err, Error::DestinationExists { .. }), "{err}");
        assert_eq!(fs::read(&out).unwrap(), b"old");
        let opts = DownloadOptions { overwrite: true, ..Default::default() };
        assert_eq!(download_artifact(&store, &id, &out, opts).unwrap().size, 3);
        assert_eq!(fs::read(&out).unwrap(), b"new");

        #[cfg(unix)]
        {
            let victim = dir.path().join("victim");
            fs::write(&victim, b"keep").unwrap();
            let link = dir.path().join("link");
            std::os::unix::fs::symlink(&victim, &link).unwrap();
            let err = download_artifact(&store, &id, &link, DownloadOptions::default());
            assert!(matches!(err, Err(Error::DestinationExists { .. })));
            let opts = DownloadOptions { overwrite: true, ..Default::default() };
            download_artifact(&store, &id, &link, opts).unwrap();
            assert_eq!(fs::read(&victim).unwrap(), b"keep", "wrote through the link");
            assert_eq!(fs::read(&link).unwrap(), b"new");
            assert!(!fs::symlink_metadata(&link).unwrap().file_type().is_symlink());
        }
        // Nothing but the files named above.
        let mut names: Vec<_> =
            fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
        names.sort();
        #[cfg(unix)]
        assert_eq!(names, ["link", "out", "store", "victim"]);
    }

    /// The store's bytes as a stream only (as S3's): downloads take the pipelined path.
    struct StreamOnly(FileSystemStore);
    impl ArtifactStore for StreamOnly {
        fn put(&self, id: &ArtifactId, body: &mut dyn super::super::ArtifactSource) -> Result<u64> {
            self.0.put(id, body)
        }
        fn get(&self, id: &ArtifactId) -> Result<super::super::ArtifactReader> {
            self.0.get(id)
        }
        fn remove(&self, id: &ArtifactId) -> Result<()> {
            self.0.remove(id)
        }
        fn stat(&self, id: &ArtifactId) -> Result<Option<super::super::StoredInfo>> {
            self.0.stat(id)
        }
        fn list(&self) -> Result<Vec<super::super::StoredEntry>> {
            self.0.list()
        }
        fn remove_partial(&self, name: &str) -> Result<()> {
            self.0.remove_partial(name)
        }
        fn location(&self) -> String {
            self.0.location()
        }
    }

    const ABC_SHA: &str = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";

    fn meta_of(id: &ArtifactId, size: Option<u64>, sha: &str) -> ArtifactMeta {
        ArtifactMeta {
            artifact_id: id.clone(),
            filename: "../../x".into(),
            mimetype: "text/plain".into(),
            encoding: None,
            size,
            sha256: Some(sha.to_owned()),
        }
    }

    /// Checks one store: a good download (with progress, with and without hashing), a size
    /// mismatch (always refused), a hash mismatch (refused only with `verify`).
    fn checks_size_always_and_hash_when_asked(store: &dyn ArtifactStore, id: &ArtifactId) {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("out");
        let good = meta_of(id, Some(3), ABC_SHA);
        for verify in [false, true] {
            let mut seen = 0;
            let mut progress = |n| seen = n;
            let opts = DownloadOptions {
                expected: Some(&good),
                verify,
                durable: verify,
                progress: Some(&mut progress),
                ..Default::default()
            };
            let done = download_artifact(store, id, &out, opts).unwrap();
            assert_eq!(seen, 3);
            assert_eq!(done.size, 3);
            assert_eq!(done.digest.map(|d| d.sha256_hex()), verify.then(|| ABC_SHA.to_owned()));
            assert_eq!(fs::read(&out).unwrap(), b"abc");
            fs::remove_file(&out).unwrap();
        }
        let bad_hash = meta_of(id, None, &"0".repeat(64));
        for (bad, verify, refused) in [
            (meta_of(id, Some(4), ABC_SHA), false, true),
            (meta_of(id, Some(4), ABC_SHA), true, true),
            (bad_hash.clone(), true, true),
            (bad_hash, false, false),
        ] {
            let opts = DownloadOptions { expected: Some(&bad), verify, ..Default::default() };
            let result = download_artifact(store, id, &out, opts);
            if refused {
                let err = result.unwrap_err();
                assert!(matches!(err, Error::ArtifactMismatch { .. }), "{err}");
                assert!(!out.exists());
            } else {
                assert_eq!(result.unwrap().size, 3);
                fs::remove_file(&out).unwrap();
            }
        }
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 0, "a temporary file was left");
    }

    #[test]
    fn download_checks_the_recorded_size_always_and_the_hash_with_verify() {
        let (_dir, store, id) = store_with(b"abc");
        checks_size_always_and_hash_when_asked(&store, &id);
        checks_size_always_and_hash_when_asked(&StreamOnly(store), &id);
    }

    #[test]
    fn a_verified_download_detects_bytes_damaged_in_the_store_on_both_paths() {
        let (dir, store, id) = store_with(b"abc");
        fs::write(store.path_of(&id), b"abd").unwrap(); // same size, other bytes
        let good = meta_of(&id, Some(3), ABC_SHA);
        let out = dir.path().join("out");
        let streamed = StreamOnly(store.clone());
        for s in [&store as &dyn ArtifactStore, &streamed] {
            let opts =
                DownloadOptions { expected: Some(&good), verify: true, ..Default::default() };
            let err = download_artifact(s, &id, &out, opts).unwrap_err();
            assert!(matches!(err, Error::ArtifactMismatch { what: "SHA-256", .. }), "{err}");
            assert!(!out.exists());
        }
    }

    #[test]
    fn a_local_download_copies_more_than_one_slice() {
        let bytes: Vec<u8> = (0..LOCAL_SLICE + 12_345).map(|i| (i % 251) as u8).collect();
        let (dir, store, id) = store_with(&bytes);
        let out = dir.path().join("out");
        let mut reports = Vec::new();
        let mut progress = |n| reports.push(n);
        let opts =
            DownloadOptions { verify: true, progress: Some(&mut progress), ..Default::default() };
        let done = download_artifact(&store, &id, &out, opts).unwrap();
        assert_eq!(reports, [LOCAL_SLICE, LOCAL_SLICE + 12_345]);
        assert_eq!(done.digest.unwrap().size, bytes.len() as u64);
        assert!(fs::read(&out).unwrap() == bytes);
    }

    #[test]
    fn a_missing_artifact_is_not_found_and_creates_nothing() {
        let (dir, store, _) = store_with(b"");
        let out = dir.path().join("out");
        let err = download_artifact(&store, &ArtifactId::new(), &out, DownloadOptions::default());
        assert!(matches!(err, Err(Error::ArtifactNotFound { .. })));
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);
    }
}
