//! Streaming with a running SHA-256, and downloads that never write outside their destination.

use std::fs::{self, File};
use std::io::{self, ErrorKind, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use sha2::{Digest as _, Sha256};

use crate::backend::sync_dir;
use crate::error::{Error, Result};

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
/// Chunks queued between the reading thread and the writing thread of [`copy_durably`].
const DEPTH: usize = 4;
/// [`copy_durably`] makes the data durable in steps of this many bytes, so the disk writes while
/// the copy goes on and the final fsync has little left to do.
const SYNC_EVERY: u64 = 32 << 20;

/// Copies everything `reader` yields into `file` (at its current position) and fsyncs it
/// (`sync_all`) before returning the byte count. Pipelined: this thread reads and shows each
/// chunk to `seen` (hashing, progress) while a scoped writer thread writes, and a third one
/// flushes (`sync_data`) every [`SYNC_EVERY`] bytes while writing goes on, so the disk works
/// during the copy; at most `DEPTH + 2` chunks of [`CHUNK`] bytes exist at once. A read
/// error is passed through `read_error`; a write or fsync error names `path`. On any error the
/// file holds some prefix of the data and must be discarded.
pub(crate) fn copy_durably<R: Read + ?Sized>(
    reader: &mut R,
    file: &File,
    path: &Path,
    seen: &mut dyn FnMut(&[u8]),
    read_error: &dyn Fn(io::Error) -> Error,
) -> Result<u64> {
    let (full_tx, full_rx) = std::sync::mpsc::sync_channel::<Vec<u8>>(DEPTH);
    let (empty_tx, empty_rx) = std::sync::mpsc::channel::<Vec<u8>>();
    std::thread::scope(|scope| {
        // Flushes what is written so far whenever asked, while the writer goes on writing.
        let (sync_tx, sync_rx) = std::sync::mpsc::sync_channel::<()>(1);
        let syncer = scope.spawn(move || -> Result<()> {
            for () in sync_rx {
                file.sync_data().map_err(|e| Error::io("fsync", path, e))?;
            }
            Ok(())
        });
        let writer = scope.spawn(move || -> Result<u64> {
            let (mut written, mut unsynced) = (0u64, 0u64);
            let mut out = file;
            for chunk in full_rx {
                out.write_all(&chunk).map_err(|e| Error::io("write", path, e))?;
                written += chunk.len() as u64;
                unsynced += chunk.len() as u64;
                if unsynced >= SYNC_EVERY {
                    let _ = sync_tx.try_send(()); // none if a flush is still pending
                    unsynced = 0;
                }
                let _ = empty_tx.send(chunk); // back for reuse
            }
            drop(sync_tx);
            syncer.join().unwrap_or_else(|p| std::panic::resume_unwind(p))?;
            file.sync_all().map_err(|e| Error::io("fsync", path, e))?;
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
    /// The artifact's link: its recorded size and SHA-256, when present, must match the bytes,
    /// or the download fails with [`Error::ArtifactMismatch`] and writes nothing.
    pub expected: Option<&'a ArtifactMeta>,
    /// Called with the number of bytes received so far, as they arrive.
    pub progress: Option<&'a mut dyn FnMut(u64)>,
}

/// Downloads artifact `id` from `store` to the file `path`, streaming, and returns the size and
/// SHA-256 of what was written.
///
/// Nothing is written anywhere but `path` and, while the download runs, a hidden temporary file
/// beside it (`.<name>.trialog-download.<random>`, created new, so never through a link), which
/// is fsynced and then renamed or linked to `path`; the directory is fsynced. On any failure the
/// temporary file is removed and `path` is as it was. The artifact's filename recorded in its
/// link is never used as a path.
pub fn download_artifact(
    store: &dyn ArtifactStore,
    id: &ArtifactId,
    path: &Path,
    mut options: DownloadOptions<'_>,
) -> Result<Digest> {
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
    let mut reader = store.get(id)?;
    let nonce = uuid::Uuid::new_v4().simple().to_string();
    let tmp = dir.join(format!(".{}.trialog-download.{nonce}", name.to_string_lossy()));
    let mut file = File::options()
        .write(true)
        .create_new(true)
        .open(&tmp)
        .map_err(|e| Error::io("create", &tmp, e))?;
    let result = receive(&mut reader, &mut file, &tmp, id, path, &mut options)
        .and_then(|digest| place(&tmp, path, options.overwrite).map(|()| digest));
    drop(file);
    match result {
        Ok(digest) => {
            sync_dir(&dir)?;
            Ok(digest)
        }
        Err(e) => {
            let _ = fs::remove_file(&tmp);
            Err(e)
        }
    }
}

/// Copies the artifact into the temporary file, checks it against the link, fsyncs it.
fn receive(
    reader: &mut dyn Read,
    file: &mut File,
    tmp: &Path,
    id: &ArtifactId,
    path: &Path,
    options: &mut DownloadOptions<'_>,
) -> Result<Digest> {
    let mut hasher = BackgroundHasher::new();
    let mut received = 0;
    let mut seen = |chunk: &[u8]| {
        hasher.update(chunk);
        received += chunk.len() as u64;
        if let Some(progress) = options.progress.as_mut() {
            progress(received);
        }
    };
    copy_durably(reader, file, tmp, &mut seen, &|e| read_error(id, e))?;
    let digest = hasher.finish();
    if let Some(meta) = options.expected {
        check(meta, &digest, path)?;
    }
    Ok(digest)
}

/// A failed read of a download stream: the store's own error when it sent one (S3 wraps its
/// typed errors into the stream), or an I/O error naming the artifact.
fn read_error(id: &ArtifactId, e: io::Error) -> Error {
    match e.downcast::<Error>() {
        Ok(inner) => inner,
        Err(e) => Error::io("download artifact", id.as_str(), e),
    }
}

/// Fails with [`Error::ArtifactMismatch`] when `digest` differs from what `meta` records.
pub(crate) fn check(meta: &ArtifactMeta, digest: &Digest, path: &Path) -> Result<()> {
    let mismatch = |what, expected: String, found: String| Error::ArtifactMismatch {
        id: meta.artifact_id.to_string(),
        what,
        expected,
        found,
        path: path.to_owned(),
    };
    if let Some(size) = meta.size.filter(|s| *s != digest.size) {
        return Err(mismatch("size", size.to_string(), digest.size.to_string()));
    }
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

    #[test]
    fn download_checks_the_recorded_size_and_hash_and_writes_nothing_on_mismatch() {
        let (dir, store, id) = store_with(b"abc");
        let meta = |size, sha: &str| ArtifactMeta {
            artifact_id: id.clone(),
            filename: "../../x".into(),
            mimetype: "text/plain".into(),
            encoding: None,
            size,
            sha256: Some(sha.to_owned()),
        };
        let good =
            meta(Some(3), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
        let out = dir.path().join("out");
        let mut seen = 0;
        let mut progress = |n| seen = n;
        let opts = DownloadOptions {
            expected: Some(&good),
            progress: Some(&mut progress),
            ..Default::default()
        };
        download_artifact(&store, &id, &out, opts).unwrap();
        assert_eq!(seen, 3);
        fs::remove_file(&out).unwrap();
        for bad in [meta(Some(4), &good.sha256.clone().unwrap()), meta(None, &"0".repeat(64))] {
            let opts = DownloadOptions { expected: Some(&bad), ..Default::default() };
            let err = download_artifact(&store, &id, &out, opts).unwrap_err();
            assert!(matches!(err, Error::ArtifactMismatch { .. }), "{err}");
            assert!(!out.exists());
        }
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1, "a temporary file was left");
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
