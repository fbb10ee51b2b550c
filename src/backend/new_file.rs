//! Writing a whole file durably: the recipe of [`durable`] (a temporary file beside the target,
//! written and flushed, moved into place, the directory synced) in one place, with the error
//! values its callers (`compact`, `recover`, `convert`, `backup`) report.

use std::fs::{self, File, OpenOptions};
use std::io::{ErrorKind, Write};
use std::path::Path;

use super::io::Faults;
use crate::error::{Error, Result};
use crate::sys::durable;

/// Runs one step of writing a file, after asking the fault injector `$faults` (a `&Faults`)
/// about `IoOp::$op`: an injected failure is returned instead of running `$body` (an
/// `io::Result`). Without the feature `fault-injection` it just runs `$body`.
macro_rules! step {
    ($faults:expr, $op:ident, $body:expr) => {{
        #[cfg(feature = "fault-injection")]
        let injected = crate::backend::fault::fail_or_limit(
            $faults.as_ref(),
            crate::backend::fault::IoOp::$op,
            0,
        )
        .map(drop);
        #[cfg(not(feature = "fault-injection"))]
        let injected: std::io::Result<()> = {
            let _: &crate::backend::Faults = $faults;
            Ok(())
        };
        injected.and_then(|()| $body)
    }};
}
pub(crate) use step;

/// How [`NewFile`] gives the written file the target's name.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Place<'a> {
    /// Never over an existing file ([`durable::place_new`]): if the target exists, the error is
    /// `Error::io("refusing to overwrite", target, _)`; any other failure `"create"`.
    New,
    /// Atomically replacing the target ([`durable::replace`]). If that fails while another
    /// handle has the target open (Windows refuses then: [`durable::open_elsewhere`]), the error
    /// is [`Error::JournalInUse`] with these fields; any other failure is
    /// `Error::io("rename", target, _)`.
    Replace {
        /// The journal as the caller named it.
        path: &'a Path,
        /// The operation that needs the file closed.
        operation: &'static str,
        /// What else the user can do.
        hint: &'static str,
    },
}

/// One file to write durably: see [`NewFile::write`].
pub(crate) struct NewFile<'a> {
    /// The file to create or replace.
    pub(crate) target: &'a Path,
    /// The temporary file's suffix ([`durable::temp_beside`]), naming the operation.
    pub(crate) temp_suffix: &'static str,
    /// Permissions given to the new file (`None`: the defaults of a created file).
    pub(crate) permissions: Option<&'a fs::Permissions>,
    /// Create or replace.
    pub(crate) place: Place<'a>,
    /// Whether errors of creating, writing, chmod-ing and flushing name the temporary file
    /// (else the target).
    pub(crate) errors_name_temp: bool,
    /// Asked before the steps `Create`, `Write`, `Sync`, `Rename` (or `Link`) and `SyncDir`.
    pub(crate) faults: Option<&'a Faults>,
    /// Called after the flush, right before the move; its error stops the write.
    pub(crate) before_move: Option<&'a dyn Fn() -> Result<()>>,
}

impl<'a> NewFile<'a> {
    /// A file to create at `target` ([`Place::New`]), with default permissions, errors naming
    /// `target`, no faults and no hook.
    pub(crate) fn new(target: &'a Path, temp_suffix: &'static str) -> Self {
        NewFile {
            target,
            temp_suffix,
            permissions: None,
            place: Place::New,
            errors_name_temp: false,
            faults: None,
            before_move: None,
        }
    }

    /// Makes `target` hold exactly `bytes` ([`NewFile::write_with`]).
    pub(crate) fn write(&self, bytes: &[u8]) -> Result<()> {
        self.write_with(&mut |file, name, faults| {
            step!(faults, Write, file.write_all(bytes)).map_err(|e| Error::io("write", name, e))
        })
    }

    /// Makes `target` hold what `fill` writes into a fresh file (given with the path errors
    /// should name and the fault injector), durably: written into a temporary file beside
    /// `target`, flushed, moved into place as [`Place`] says and the directory synced. On an
    /// error before the move `target` is unchanged and the temporary file removed; after it
    /// (the directory sync failed) `target` is the new file, which may not survive a power loss.
    pub(crate) fn write_with(
        &self,
        fill: &mut dyn FnMut(&mut File, &Path, &Faults) -> Result<()>,
    ) -> Result<()> {
        let none = Faults::default();
        let faults = self.faults.unwrap_or(&none);
        let (target, dir) = (self.target, durable::dir_of(self.target));
        let tmp = durable::temp_beside(target, self.temp_suffix);
        let name = if self.errors_name_temp { &tmp } else { target };
        let result = (|| {
            let create = || OpenOptions::new().write(true).create_new(true).open(&tmp);
            let mut file =
                step!(faults, Create, create()).map_err(|e| Error::io("create", name, e))?;
            fill(&mut file, name, faults)?;
            if let Some(permissions) = self.permissions {
                file.set_permissions(permissions.clone())
                    .map_err(|e| Error::io("chmod", name, e))?;
            }
            step!(faults, Sync, file.sync_all()).map_err(|e| Error::io("fsync", name, e))?;
            drop(file);
            if let Some(before_move) = self.before_move {
                before_move()?;
            }
            match self.place {
                Place::New => {
                    step!(faults, Link, durable::place_new(&tmp, target)).map_err(|e| {
                        let op = if e.kind() == ErrorKind::AlreadyExists {
                            "refusing to overwrite"
                        } else {
                            "create"
                        };
                        Error::io(op, target, e)
                    })?
                }
                Place::Replace { path, operation, hint } => {
                    step!(faults, Rename, durable::replace(&tmp, target)).map_err(|e| {
                        if durable::open_elsewhere(target) {
                            Error::JournalInUse { path: path.to_owned(), operation, hint }
                        } else {
                            Error::io("rename", target, e)
                        }
                    })?
                }
            }
            step!(faults, SyncDir, durable::sync_dir(&dir))
                .map_err(|e| Error::io("fsync directory", &dir, e))
        })();
        // Gone after a replace; after `place_new` possibly a second link to the new file.
        let _ = fs::remove_file(&tmp);
        result
    }
}
