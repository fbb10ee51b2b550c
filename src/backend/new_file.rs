//! Writing a whole file durably: the recipe of [`durable`] (a temporary file beside the target,
//! written and flushed, moved into place, the directory synced) in one place, with the error
//! values its callers (`compact`, `recover`, `convert`, `backup`) report.

use std::fs::{self, File, OpenOptions};
use std::io::{ErrorKind, Write};
use std::path::Path;

use super::io::Faults;
use crate::error::{Error, Result};
use crate::sys::durable;

/// Runs `$body` (an `io::Result`) unless the fault injector `$faults` (a `&Faults`) fails
/// `IoOp::$op` (nothing is asked without the feature `fault-injection`).
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
    /// Never over an existing file ([`durable::place_new`]): the error is "refusing to
    /// overwrite" if the target exists, "create" otherwise.
    New,
    /// Atomically replacing the target ([`durable::replace`]); a failure is a "rename" error.
    Replace,
    /// [`Place::Replace`], except that a failure while another handle has the target open
    /// (Windows refuses then: [`durable::open_elsewhere`]) is [`Error::JournalInUse`] with the
    /// journal as the caller named it, the operation and the hint.
    ReplaceJournal(&'a Path, &'static str, &'static str),
}

/// One file to write durably, and how: see [`NewFile::write_with`].
pub(crate) struct NewFile<'a> {
    /// The file to create or replace.
    pub(crate) target: &'a Path,
    /// The temporary file's suffix ([`durable::temp_beside`]), naming the operation.
    pub(crate) temp_suffix: &'static str,
    /// Given to the new file (`None`: a created file's defaults).
    pub(crate) permissions: Option<&'a fs::Permissions>,
    /// Create or replace.
    pub(crate) place: Place<'a>,
    /// Whether errors before the move name the temporary file (else the target).
    pub(crate) errors_name_temp: bool,
    /// Whether the directory is synced after the move (`false`: a later move there syncs it).
    pub(crate) sync_dir: bool,
    /// Asked before the steps `Create`, `Write`, `Sync`, `Rename` (or `Link`) and `SyncDir`.
    pub(crate) faults: Option<&'a Faults>,
    /// Called after the flush, right before the move; its error stops the write.
    pub(crate) before_move: Option<&'a dyn Fn() -> Result<()>>,
}

impl<'a> NewFile<'a> {
    /// A new file at `target` ([`Place::New`]), created with default permissions, the directory
    /// synced, errors naming `target`; no faults, no hook.
    pub(crate) fn new(target: &'a Path, temp_suffix: &'static str) -> Self {
        NewFile {
            target,
            temp_suffix,
            permissions: None,
            place: Place::New,
            errors_name_temp: false,
            sync_dir: true,
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

    /// Makes `target` hold what `fill` writes into a fresh file (given the path its errors
    /// name, and the faults), durably: into a temporary file beside `target`, flushed, moved
    /// into place as [`Place`] says, the directory synced. On an error before the move `target`
    /// is unchanged; after it (the directory sync) `target` is the new file. The temporary file
    /// is removed either way.
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
            if let Place::New = self.place {
                step!(faults, Link, durable::place_new(&tmp, target)).map_err(|e| {
                    let exists = e.kind() == ErrorKind::AlreadyExists;
                    Error::io(if exists { "refusing to overwrite" } else { "create" }, target, e)
                })?;
            } else {
                step!(faults, Rename, durable::replace(&tmp, target)).map_err(|e| {
                    match self.place {
                        Place::ReplaceJournal(path, operation, hint)
                            if durable::open_elsewhere(target) =>
                        {
                            Error::JournalInUse { path: path.to_owned(), operation, hint }
                        }
                        _ => Error::io("rename", target, e),
                    }
                })?;
            }
            if !self.sync_dir {
                return Ok(());
            }
            step!(faults, SyncDir, durable::sync_dir(&dir))
                .map_err(|e| Error::io("fsync directory", &dir, e))
        })();
        // Gone after a replace; after `place_new` possibly a second link to the new file.
        let _ = fs::remove_file(&tmp);
        result
    }
}
