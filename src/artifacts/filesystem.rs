//! `FileSystemStore`: Optuna's flat layout (`base/<id>`), written durably.

use std::fs::{self, File};
use std::io::{self, ErrorKind};
use std::path::{Path, PathBuf};

use crate::backend::sync_dir;
use crate::error::{Error, Result};

use super::transfer::copy_pipelined;

use super::{
    ArtifactId, ArtifactReader, ArtifactSource, ArtifactStore, StoredEntry, StoredInfo, StoredKind,
};

/// Name prefix of an upload in progress: `.trialog-upload.<id>.<32 hex digits>`, in the base
/// directory. Hidden, and never a valid id, so Optuna and this store never read it as an
/// artifact.
const PARTIAL_PREFIX: &str = ".trialog-upload.";

/// An artifact store in a directory, one flat file per artifact named by its id: exactly the
/// layout of Optuna's `FileSystemArtifactStore(base_path)`, so either reads what the other wrote.
///
/// Unlike Optuna's, a [`put`](ArtifactStore::put) is durable and atomic: the bytes go to a
/// hidden temporary file in the same directory, which is fsynced, renamed to `<id>`, and the
/// directory fsynced; until the rename no reader sees anything under `<id>`, and a crash leaves
/// at most the temporary file, which [`collect_garbage`](super::collect_garbage) removes.
/// Removals fsync the directory too. Ids are [`ArtifactId`]s, so no id can name a path outside
/// the directory.
#[derive(Debug, Clone)]
pub struct FileSystemStore {
    base: PathBuf,
}

impl FileSystemStore {
    /// The store in directory `base`, which is created (with its parents, durably) if missing.
    /// Fails if `base` exists and is not a directory.
    pub fn new(base: impl Into<PathBuf>) -> Result<Self> {
        let base = base.into();
        match fs::metadata(&base) {
            Ok(m) if m.is_dir() => {}
            Ok(_) => {
                let e = io::Error::new(ErrorKind::NotADirectory, "not a directory");
                return Err(Error::io("use as artifact store", base, e));
            }
            Err(e) if e.kind() == ErrorKind::NotFound => create_dirs(&base)?,
            Err(e) => return Err(Error::io("open artifact store", base, e)),
        }
        Ok(FileSystemStore { base })
    }

    /// The directory.
    pub fn base(&self) -> &Path {
        &self.base
    }

    /// The file of artifact `id` (an id is one plain file name: see [`ArtifactId`]).
    pub fn path_of(&self, id: &ArtifactId) -> PathBuf {
        self.base.join(id.as_str())
    }

    fn write_partial(
        &self,
        tmp: &Path,
        id: &ArtifactId,
        body: &mut dyn ArtifactSource,
    ) -> Result<u64> {
        let file = File::options()
            .write(true)
            .create_new(true)
            .open(tmp)
            .map_err(|e| Error::io("create", tmp, e))?;
        let dest = self.path_of(id);
        let read_error = |e| Error::io("read the upload's source for", &dest, e);
        copy_pipelined(body, &file, tmp, &mut |_| {}, &read_error, true)
    }
}

/// Creates `dir` and its missing parents, fsyncing each parent after creating a child in it.
fn create_dirs(dir: &Path) -> Result<()> {
    let mut missing = Vec::new();
    let mut at = Some(dir);
    while let Some(d) = at {
        if d.as_os_str().is_empty() || d.exists() {
            break;
        }
        missing.push(d);
        at = d.parent();
    }
    for d in missing.into_iter().rev() {
        match fs::create_dir(d) {
            Ok(()) => {}
            Err(e) if e.kind() == ErrorKind::AlreadyExists && d.is_dir() => continue,
            Err(e) => return Err(Error::io("create directory", d, e)),
        }
        let parent = d.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
        sync_dir(parent)?;
    }
    Ok(())
}

/// Whether `name` is a leftover upload of this store (`.trialog-upload.<id>.<32 hex>`).
fn is_partial_name(name: &str) -> bool {
    let Some(rest) = name.strip_prefix(PARTIAL_PREFIX) else { return false };
    let Some((id, nonce)) = rest.split_once('.') else { return false };
    ArtifactId::parse(id).is_ok()
        && nonce.len() == 32
        && nonce.bytes().all(|c| c.is_ascii_hexdigit())
}

fn info(meta: &fs::Metadata) -> StoredInfo {
    StoredInfo { size: meta.len(), modified: meta.modified().ok() }
}

impl ArtifactStore for FileSystemStore {
    fn put(&self, id: &ArtifactId, body: &mut dyn ArtifactSource) -> Result<u64> {
        let nonce = uuid::Uuid::new_v4().simple().to_string();
        let tmp = self.base.join(format!("{PARTIAL_PREFIX}{id}.{nonce}"));
        let dest = self.path_of(id);
        let done = self.write_partial(&tmp, id, body).and_then(|n| {
            fs::rename(&tmp, &dest).map_err(|e| Error::io("rename into place", &dest, e))?;
            Ok(n)
        });
        match done {
            Ok(n) => {
                sync_dir(&self.base)?;
                Ok(n)
            }
            Err(e) => {
                // Nothing is visible under `dest`; the leftover goes now, or later through gc.
                let _ = fs::remove_file(&tmp);
                Err(e)
            }
        }
    }

    fn get(&self, id: &ArtifactId) -> Result<ArtifactReader> {
        Ok(Box::new(self.open(id)?))
    }

    fn get_file(&self, id: &ArtifactId) -> Result<Option<File>> {
        self.open(id).map(Some)
    }

    fn remove(&self, id: &ArtifactId) -> Result<()> {
        let path = self.path_of(id);
        fs::remove_file(&path).map_err(|e| self.not_found_or(id, "remove", &path, e))?;
        sync_dir(&self.base)
    }

    fn stat(&self, id: &ArtifactId) -> Result<Option<StoredInfo>> {
        let path = self.path_of(id);
        match fs::metadata(&path) {
            Ok(m) if m.is_file() => Ok(Some(info(&m))),
            Ok(_) => Ok(None),
            Err(e) if e.kind() == ErrorKind::NotFound => Ok(None),
            Err(e) => Err(Error::io("stat", path, e)),
        }
    }

    fn list(&self) -> Result<Vec<StoredEntry>> {
        let entries = fs::read_dir(&self.base).map_err(|e| Error::io("list", &self.base, e))?;
        let mut out = Vec::new();
        for entry in entries {
            let entry = entry.map_err(|e| Error::io("list", &self.base, e))?;
            let Ok(name) = entry.file_name().into_string() else { continue };
            let kind = if let Ok(id) = ArtifactId::parse(&name) {
                StoredKind::Artifact(id)
            } else if is_partial_name(&name) {
                StoredKind::Partial(name)
            } else {
                continue;
            };
            // Only plain files: never a directory or a symbolic link someone placed here.
            let meta = match entry.metadata() {
                Ok(m) if m.is_file() => m,
                Ok(_) => continue,
                Err(e) if e.kind() == ErrorKind::NotFound => continue, // removed meanwhile
                Err(e) => return Err(Error::io("stat", entry.path(), e)),
            };
            out.push(StoredEntry { kind, info: info(&meta) });
        }
        out.sort_by(|a, b| a.kind.cmp(&b.kind));
        Ok(out)
    }

    fn remove_partial(&self, name: &str) -> Result<()> {
        if !is_partial_name(name) {
            return Err(Error::invalid(format!(
                "{name:?} is not a leftover upload of the artifact store {}",
                self.location()
            )));
        }
        let path = self.base.join(name);
        match fs::remove_file(&path) {
            Ok(()) => sync_dir(&self.base),
            Err(e) if e.kind() == ErrorKind::NotFound => Ok(()),
            Err(e) => Err(Error::io("remove", path, e)),
        }
    }

    fn location(&self) -> String {
        self.base.display().to_string()
    }
}

impl FileSystemStore {
    /// Opens artifact `id`'s file; not-found unless it is a plain file.
    fn open(&self, id: &ArtifactId) -> Result<File> {
        let path = self.path_of(id);
        let file = File::open(&path).map_err(|e| self.not_found_or(id, "open", &path, e))?;
        let meta = file.metadata().map_err(|e| Error::io("stat", &path, e))?;
        if !meta.is_file() {
            return Err(Error::ArtifactNotFound { store: self.location(), id: id.to_string() });
        }
        Ok(file)
    }

    fn not_found_or(&self, id: &ArtifactId, op: &'static str, path: &Path, e: io::Error) -> Error {
        if e.kind() == ErrorKind::NotFound {
            Error::ArtifactNotFound { store: self.location(), id: id.to_string() }
        } else {
            Error::io(op, path, e)
        }
    }
}

#[cfg(test)]
mod tests {
    use std::io::{Cursor, Read, Seek, SeekFrom};

    use super::*;

    fn read_all(store: &FileSystemStore, id: &ArtifactId) -> Vec<u8> {
        let mut out = Vec::new();
        store.get(id).unwrap().read_to_end(&mut out).unwrap();
        out
    }

    #[test]
    fn put_get_stat_remove_in_optunas_layout() {
        let dir = tempfile::tempdir().unwrap();
        let base = dir.path().join("a/b/store");
        let store = FileSystemStore::new(&base).unwrap();
        assert!(base.is_dir());
        let id = ArtifactId::new();
        assert!(!store.exists(&id).unwrap());
        let mut body = Cursor::new(b"xxhello".to_vec());
        body.seek(SeekFrom::Start(2)).unwrap();
        assert_eq!(store.put(&id, &mut body).unwrap(), 5);
        assert_eq!(fs::read(base.join(id.as_str())).unwrap(), b"hello");
        assert_eq!(read_all(&store, &id), b"hello");
        assert_eq!(store.stat(&id).unwrap().unwrap().size, 5);
        // Only the artifact is left: no temporary file.
        assert_eq!(fs::read_dir(&base).unwrap().count(), 1);
        store.remove(&id).unwrap();
        assert!(!store.exists(&id).unwrap());
        assert!(matches!(store.remove(&id), Err(Error::ArtifactNotFound { .. })));
        assert!(matches!(store.get(&id), Err(Error::ArtifactNotFound { .. })));
    }

    /// A source that fails after some bytes.
    struct Failing(u64);
    impl Read for Failing {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            if self.0 == 0 {
                return Err(io::Error::other("source broke"));
            }
            let n = buf.len().min(self.0 as usize);
            buf[..n].fill(7);
            self.0 -= n as u64;
            Ok(n)
        }
    }
    impl std::io::Seek for Failing {
        fn seek(&mut self, _: SeekFrom) -> io::Result<u64> {
            Ok(0)
        }
    }

    #[test]
    fn a_failed_put_leaves_nothing_visible_and_no_leftover() {
        let dir = tempfile::tempdir().unwrap();
        let store = FileSystemStore::new(dir.path()).unwrap();
        let id = ArtifactId::new();
        let err = store.put(&id, &mut Failing(3 << 20)).unwrap_err();
        assert!(err.to_string().contains("source broke"), "{err}");
        assert!(!store.exists(&id).unwrap());
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 0);
    }

    #[test]
    fn list_reports_artifacts_and_leftovers_and_ignores_everything_else() {
        let dir = tempfile::tempdir().unwrap();
        let store = FileSystemStore::new(dir.path()).unwrap();
        let id = ArtifactId::new();
        store.put(&id, &mut Cursor::new(b"abc")).unwrap();
        let partial = format!("{PARTIAL_PREFIX}{}.{}", ArtifactId::new(), "0".repeat(32));
        fs::write(dir.path().join(&partial), b"half").unwrap();
        fs::write(dir.path().join("notes.txt"), b"user file").unwrap();
        fs::write(dir.path().join(format!("{PARTIAL_PREFIX}x.y")), b"not ours").unwrap();
        fs::create_dir(dir.path().join(ArtifactId::new().as_str())).unwrap();
        let kinds: Vec<_> = store.list().unwrap().into_iter().map(|e| e.kind).collect();
        assert_eq!(kinds.len(), 2, "{kinds:?}");
        assert!(kinds.contains(&StoredKind::Artifact(id)));
        assert!(kinds.contains(&StoredKind::Partial(partial.clone())));
        for not_partial in ["notes.txt", "../x", ".trialog-upload.x.y"] {
            assert!(matches!(store.remove_partial(not_partial), Err(Error::InvalidArgument(_))));
        }
        assert!(dir.path().join("notes.txt").exists());
        store.remove_partial(&partial).unwrap();
        assert!(!dir.path().join(&partial).exists());
    }

    #[test]
    fn a_file_in_place_of_the_base_directory_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("f");
        fs::write(&file, b"").unwrap();
        assert!(matches!(FileSystemStore::new(&file), Err(Error::Io { .. })));
    }
}
