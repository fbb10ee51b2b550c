//! The file backends' I/O seam: every system call on a journal file (trialog's or Optuna's) goes
//! through here.
//!
//! In the default build these are thin inline wrappers over `std` (no extra field, no
//! indirection). With the cargo feature `fault-injection`, each call first asks the handle's
//! [`FaultInjector`](super::fault::FaultInjector) (if any) whether to fail or shorten it, and
//! successful state-changing calls are recorded for power-loss simulation.
//!
//! What this layer guarantees either way: [`JournalFile::write_all_at`] writes every byte or
//! fails, retrying short writes and `EINTR` as POSIX allows (they are not failures); a failure of
//! [`JournalFile::sync_data`] is returned as is and never retried here.

use std::fs::File;
use std::io::{self, ErrorKind};
use std::path::Path;

use crate::sys::identity::{self, FileId, Look};
use crate::sys::{durable, pio};

#[cfg(feature = "fault-injection")]
use super::fault::{self, FaultInjector, IoEvent, IoOp};
#[cfg(feature = "fault-injection")]
use std::{path::PathBuf, sync::Arc};

/// The fault injector a backend handle was opened with (`None`: plain I/O).
#[cfg(feature = "fault-injection")]
pub(crate) type Faults = Option<Arc<FaultInjector>>;
/// Without the `fault-injection` feature there is nothing to carry (a zero-sized type).
#[cfg(not(feature = "fault-injection"))]
pub(crate) type Faults = NoFaults;

/// The zero-sized stand-in for an injector in the default build.
#[cfg(not(feature = "fault-injection"))]
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct NoFaults;

/// An open journal file (or a journal being created) and, with fault injection, its injector.
#[derive(Debug)]
pub(crate) struct JournalFile {
    file: File,
    #[cfg(feature = "fault-injection")]
    path: PathBuf,
    #[cfg(feature = "fault-injection")]
    faults: Faults,
}

impl JournalFile {
    /// Wraps `file`, just opened at `path` (a simulated network client revalidates its cache of
    /// the file, as an open does on NFS).
    #[cfg_attr(not(feature = "fault-injection"), allow(unused_variables))]
    pub(crate) fn new(file: File, path: &Path, faults: &Faults) -> io::Result<Self> {
        #[cfg(feature = "fault-injection")]
        if let Some(client) = fault::client(faults.as_ref()) {
            client.opened(&file)?;
        }
        Ok(JournalFile {
            file,
            #[cfg(feature = "fault-injection")]
            path: path.to_owned(),
            #[cfg(feature = "fault-injection")]
            faults: faults.clone(),
        })
    }

    /// The underlying file (for memory-mapping it).
    pub(crate) fn file(&self) -> &File {
        &self.file
    }

    /// One `pwrite` call: may write fewer bytes than asked.
    #[inline]
    fn write_at(&self, buf: &[u8], offset: u64) -> io::Result<usize> {
        #[cfg(feature = "fault-injection")]
        {
            let allowed = fault::fail_or_limit(self.faults.as_ref(), IoOp::Write, buf.len())?;
            if let Some(client) = fault::client(self.faults.as_ref()) {
                return client.write(&self.file, &buf[..allowed], offset);
            }
            let n = pio::write_at(&self.file, &buf[..allowed], offset)?;
            fault::note_write(self.faults.as_ref(), &self.path, offset, &buf[..n]);
            Ok(n)
        }
        #[cfg(not(feature = "fault-injection"))]
        pio::write_at(&self.file, buf, offset)
    }

    /// Writes all of `buf` at `offset`: short writes continue where they stopped and `EINTR` is
    /// retried; any other error is returned (some bytes may have been written by then).
    pub(crate) fn write_all_at(&self, buf: &[u8], offset: u64) -> io::Result<()> {
        let mut done = 0;
        while done < buf.len() {
            match self.write_at(&buf[done..], offset + done as u64) {
                Ok(0) => {
                    return Err(io::Error::new(ErrorKind::WriteZero, "pwrite wrote nothing"));
                }
                Ok(n) => done += n,
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    /// One `pread` call: may read fewer bytes than asked (0 at the end of the file) or fail with
    /// `EINTR`; the caller loops.
    #[inline]
    pub(crate) fn read_at(&self, buf: &mut [u8], offset: u64) -> io::Result<usize> {
        #[cfg(feature = "fault-injection")]
        {
            let allowed = fault::fail_or_limit(self.faults.as_ref(), IoOp::Read, buf.len())?;
            if let Some(client) = fault::client(self.faults.as_ref()) {
                return client.read(&self.file, &mut buf[..allowed], offset);
            }
            pio::read_at(&self.file, &mut buf[..allowed], offset)
        }
        #[cfg(not(feature = "fault-injection"))]
        pio::read_at(&self.file, buf, offset)
    }

    /// Fills `buf` from `offset` (see [`read_full`]).
    pub(crate) fn read_full_at(&self, buf: &mut [u8], offset: u64) -> io::Result<usize> {
        read_full(|b, at| self.read_at(b, at), buf, offset)
    }

    /// `fdatasync`: every byte written before, and the file size, are durable when it returns
    /// `Ok`. An error is final: the caller must not retry and trust a later success.
    #[inline]
    pub(crate) fn sync_data(&self) -> io::Result<()> {
        #[cfg(feature = "fault-injection")]
        {
            fault::fail_or_limit(self.faults.as_ref(), IoOp::Sync, 0)?;
            if let Some(client) = fault::client(self.faults.as_ref()) {
                client.sync(&self.file)?;
            }
            self.file.sync_data()?;
            self.note(|| IoEvent::Sync { path: self.path.clone() });
            Ok(())
        }
        #[cfg(not(feature = "fault-injection"))]
        self.file.sync_data()
    }

    /// `fsync`: like [`JournalFile::sync_data`], with all metadata.
    #[inline]
    pub(crate) fn sync_all(&self) -> io::Result<()> {
        #[cfg(feature = "fault-injection")]
        {
            fault::fail_or_limit(self.faults.as_ref(), IoOp::Sync, 0)?;
            if let Some(client) = fault::client(self.faults.as_ref()) {
                client.sync(&self.file)?;
            }
            self.file.sync_all()?;
            self.note(|| IoEvent::Sync { path: self.path.clone() });
            Ok(())
        }
        #[cfg(not(feature = "fault-injection"))]
        self.file.sync_all()
    }

    /// `ftruncate` to `len` bytes (not durable until the next sync).
    pub(crate) fn set_len(&self, len: u64) -> io::Result<()> {
        #[cfg(feature = "fault-injection")]
        fault::fail_or_limit(self.faults.as_ref(), IoOp::Truncate, 0)?;
        #[cfg(feature = "fault-injection")]
        if let Some(client) = fault::client(self.faults.as_ref()) {
            client.set_len(&self.file, len)?;
            self.note(|| IoEvent::Truncate { path: self.path.clone(), len });
            return Ok(());
        }
        self.file.set_len(len)?;
        #[cfg(feature = "fault-injection")]
        self.note(|| IoEvent::Truncate { path: self.path.clone(), len });
        Ok(())
    }

    /// The file's current size (`fstat`).
    #[inline]
    pub(crate) fn len(&self) -> io::Result<u64> {
        #[cfg(feature = "fault-injection")]
        {
            fault::fail_or_limit(self.faults.as_ref(), IoOp::Len, 0)?;
            if let Some(client) = fault::client(self.faults.as_ref()) {
                return client.len(&self.file);
            }
        }
        Ok(self.file.metadata()?.len())
    }

    #[cfg(feature = "fault-injection")]
    fn note(&self, event: impl FnOnce() -> IoEvent) {
        if let Some(f) = &self.faults {
            f.note(event);
        }
    }
}

/// Opens the existing journal at `path` for reading and writing, or only for reading where it
/// cannot be written (`EACCES`, `EPERM`, or `EROFS` on a read-only mount or snapshot): readers
/// work either way. On Windows the file is shared for reading, writing and deletion (std's
/// default), so an open handle never stops another process appending, nor `trialog recover`
/// renaming the journal aside (replacing an open file is refused there all the same: see
/// [`crate::sys::durable`]). Returns the file and, for a read-only open, the error that refused writing
/// (a writer reports it instead of taking a lock it cannot use).
pub(crate) fn open_existing(path: &Path) -> io::Result<(File, Option<io::Error>)> {
    match File::options().read(true).write(true).open(path) {
        Ok(file) => Ok((file, None)),
        Err(e) if write_refused(&e) => Ok((File::open(path)?, Some(e))),
        Err(e) => Err(e),
    }
}

/// Whether an open for writing failed only because writing is not allowed.
fn write_refused(e: &io::Error) -> bool {
    e.kind() == ErrorKind::PermissionDenied || e.kind() == ErrorKind::ReadOnlyFilesystem
}

/// A look at the file `path` names now (following symlinks), its identity and its length in one
/// call, with the length confirmed by the file's server: never an attribute a network file
/// system client cached, and a change it reveals invalidates the client's cached data, so the
/// reads that follow see the bytes up to that length
/// ([`identity::of_path_confirmed`]; on a local disk the same one `statx` as a plain `stat`).
/// Counted as a size check ([`IoOp::Len`](super::fault::IoOp::Len)) by a fault injector; a
/// simulated network client revalidates here.
#[cfg_attr(not(feature = "fault-injection"), allow(unused_variables))]
pub(crate) fn confirmed_stat(path: &Path, faults: &Faults) -> io::Result<Look> {
    #[cfg(feature = "fault-injection")]
    {
        fault::fail_or_limit(faults.as_ref(), IoOp::Len, 0)?;
        if let Some(client) = fault::client(faults.as_ref()) {
            return client.stat(path, true);
        }
    }
    identity::of_path_confirmed(path)
}

/// The identity of the open file on its host (device and inode; volume and file index on
/// Windows). Two files with the same identity are the same file.
pub(crate) fn file_id(file: &File) -> io::Result<FileId> {
    Ok(identity::of_file(file)?.id)
}

/// Creates (truncating) the file at `path` for writing and reading.
#[cfg_attr(not(feature = "fault-injection"), allow(unused_variables))]
pub(crate) fn create(path: &Path, faults: &Faults) -> io::Result<JournalFile> {
    #[cfg(feature = "fault-injection")]
    fault::fail_or_limit(faults.as_ref(), IoOp::Create, 0)?;
    let file = File::options().read(true).write(true).create(true).truncate(true).open(path)?;
    #[cfg(feature = "fault-injection")]
    if let Some(f) = faults {
        f.note(|| IoEvent::Create { path: path.to_owned() });
    }
    JournalFile::new(file, path, faults)
}

/// Gives the flushed file `from` the name `to`, failing if `to` exists ([`durable::place_new`]:
/// `link(2)` on Unix, where `from` keeps its name; a write-through move on Windows).
#[cfg_attr(not(feature = "fault-injection"), allow(unused_variables))]
pub(crate) fn hard_link(from: &Path, to: &Path, faults: &Faults) -> io::Result<()> {
    #[cfg(feature = "fault-injection")]
    fault::fail_or_limit(faults.as_ref(), IoOp::Link, 0)?;
    durable::place_new(from, to)?;
    #[cfg(feature = "fault-injection")]
    if let Some(f) = faults {
        f.note(|| IoEvent::Link { from: from.to_owned(), to: to.to_owned() });
    }
    Ok(())
}

/// `fsync`s the directory `dir`, so the entries created in it survive a power loss (see
/// [`durable::sync_dir`] for Windows).
#[cfg_attr(not(feature = "fault-injection"), allow(unused_variables))]
pub(crate) fn sync_dir(dir: &Path, faults: &Faults) -> io::Result<()> {
    #[cfg(feature = "fault-injection")]
    fault::fail_or_limit(faults.as_ref(), IoOp::SyncDir, 0)?;
    durable::sync_dir(dir)?;
    #[cfg(feature = "fault-injection")]
    if let Some(f) = faults {
        f.note(|| IoEvent::SyncDir { dir: dir.to_owned() });
    }
    Ok(())
}

/// Fills `buf` from `offset` with repeated `read_at` calls: a short read continues where it
/// stopped and `EINTR` is retried. Returns how many bytes were read, fewer than `buf.len()` only
/// at the end of the file.
pub(crate) fn read_full(
    mut read_at: impl FnMut(&mut [u8], u64) -> io::Result<usize>,
    buf: &mut [u8],
    offset: u64,
) -> io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match read_at(&mut buf[filled..], offset + filled as u64) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(filled)
}
