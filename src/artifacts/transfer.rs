//! Streaming with a running SHA-256, and downloads that never write outside their destination.

use std::fs::{self, File};
use std::io::{self, ErrorKind, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use sha2::{Digest as _, Sha256};

use crate::backend::sync_dir;
use crate::error::{Error, Result};

use super::filesystem::CHUNK;
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

/// A body that hashes what is read through it. A seek back to where reading started (what
/// `Backoff` does before a retry) starts the hash again; after a seek anywhere else the digest
/// is unknown.
pub(crate) struct HashingReader<R> {
    inner: R,
    hasher: Hasher,
    origin: Option<u64>,
    read_any: bool,
    broken: bool,
}

impl<R> HashingReader<R> {
    pub(crate) fn new(inner: R) -> Self {
        HashingReader {
            inner,
            hasher: Hasher::default(),
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
        self.hasher = Hasher::default();
        self.read_any = false;
        Ok(at)
    }
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
    let mut hasher = Hasher::default();
    let mut buf = vec![0u8; CHUNK];
    loop {
        let n = match reader.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(e) => return Err(read_error(id, e)),
        };
        file.write_all(&buf[..n]).map_err(|e| Error::io("write", tmp, e))?;
        hasher.update(&buf[..n]);
        if let Some(progress) = options.progress.as_mut() {
            progress(hasher.size);
        }
    }
    let digest = hasher.finish();
    if let Some(meta) = options.expected {
        check(meta, &digest, path)?;
    }
    file.sync_all().map_err(|e| Error::io("fsync", tmp, e))?;
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
