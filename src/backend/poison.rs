//! A backend handle's poisoned state: after a failed write or fsync nobody knows what reached
//! the disk (a retried fsync may report success for data that was dropped), so the handle
//! refuses every later call with the first failure, instead of retrying and trusting it.

use std::io;
use std::path::Path;
use std::sync::{Arc, Mutex, PoisonError};

use crate::error::{Error, Result};

/// The first failed operation of a handle, if any.
#[derive(Debug, Default)]
pub(crate) struct Poison(Mutex<Option<(&'static str, Arc<io::Error>)>>);

impl Poison {
    /// [`Error::Poisoned`] (naming `path` and the failed operation) once [`Poison::set`] was
    /// called; `Ok` before.
    pub(crate) fn check(&self, path: &Path) -> Result<()> {
        match &*self.0.lock().unwrap_or_else(PoisonError::into_inner) {
            Some((op, source)) => {
                Err(Error::Poisoned { path: path.to_owned(), op, source: Arc::clone(source) })
            }
            None => Ok(()),
        }
    }

    /// Latches the failure `e` of `op` as the reason every later call fails, and returns it.
    pub(crate) fn set(&self, path: &Path, op: &'static str, e: io::Error) -> Error {
        let source = Arc::new(e);
        *self.0.lock().unwrap_or_else(PoisonError::into_inner) = Some((op, Arc::clone(&source)));
        Error::Poisoned { path: path.to_owned(), op, source }
    }
}
