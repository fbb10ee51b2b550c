//! TEMPORARY stub (replaced by the lock helper's implementation).
use super::{JournalLock, LockGuard, LockOptions};
use crate::error::{Error, Result};
use fs2::FileExt;
use std::fs::{File, OpenOptions};
use std::path::{Path, PathBuf};
/// stub
#[derive(Debug)]
pub struct AdvisoryLock {
    path: PathBuf,
    file: File,
    inproc: std::sync::Mutex<()>,
    _o: LockOptions,
}
impl AdvisoryLock {
    /// stub
    pub fn open(path: PathBuf, options: LockOptions) -> Result<Self> {
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(|e| Error::io("open", &path, e))?;
        Ok(Self { path, file, inproc: Default::default(), _o: options })
    }
}
impl JournalLock for AdvisoryLock {
    fn acquire(&self) -> Result<LockGuard<'_>> {
        self.file.lock_exclusive().map_err(|e| Error::io("lock", &self.path, e))?;
        Ok(LockGuard::new(self))
    }
    fn verify_held(&self) -> Result<()> {
        Ok(())
    }
    fn release(&self) {
        let _ = FileExt::unlock(&self.file);
        unsafe_unlock(&self.inproc);
    }
    fn path(&self) -> &Path {
        &self.path
    }
}
fn unsafe_unlock(m: &std::sync::Mutex<()>) {
    let _ = m;
}
