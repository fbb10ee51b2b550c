//! TEMPORARY stub (replaced by the lock helper's implementation).
use super::{JournalLock, LockGuard, LockOptions};
use crate::error::{Error, Result};
use std::path::{Path, PathBuf};
/// stub
#[derive(Debug)]
pub struct SymlinkLock {
    path: PathBuf,
}
impl SymlinkLock {
    /// stub
    pub fn new(path: PathBuf, _options: LockOptions) -> Self {
        Self { path }
    }
}
impl JournalLock for SymlinkLock {
    fn acquire(&self) -> Result<LockGuard<'_>> {
        Err(Error::invalid("stub"))
    }
    fn verify_held(&self) -> Result<()> {
        Ok(())
    }
    fn release(&self) {}
    fn path(&self) -> &Path {
        &self.path
    }
}
