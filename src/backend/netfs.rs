//! A network file system client model for the fault-injection seam (cargo feature
//! `fault-injection`): several simulated clients in one process share one "server", the real
//! local file system, and each keeps its own cache of every journal it reads, the way an NFS
//! client does.
//!
//! What the model does, per client and per file (the cache is keyed by the file's identity, as
//! an NFS client's inode cache is):
//!
//! * **Attributes and data are cached together.** The first access fetches the file's length
//!   and bytes from the server; later `fstat`s, `stat`s of its path and reads are answered from
//!   the cache, up to the cached length, until the cache is revalidated. (A real client may
//!   fetch a page it has not cached from the server, but never reads past the length it
//!   believes: caching everything is the worst case of the same rule.)
//! * **Revalidation happens only where NFS does it:** when a handle is opened (close-to-open),
//!   at a confirmed look at the path ([`crate::sys::identity::of_path_confirmed`]: Linux `statx`
//!   with `AT_STATX_FORCE_SYNC`, an open elsewhere), and when the staleness window
//!   ([`NetClientOptions::staleness`], `acregmin`..`acregmax` on a real client) has passed since
//!   the last one. Taking a byte-range lock revalidates too on NFS, but only the locked file:
//!   trialog's locks live in `<journal>.lock`, never on the journal, so no lock kind revalidates
//!   the journal here.
//! * **Writes are cached until flushed:** a write changes the client's cache (and the length it
//!   believes) and reaches the server when the file is synced (`fsync`/`fdatasync`; closing
//!   flushes too, and trialog syncs before every acknowledgement, so the model flushes only on
//!   sync). A write is not appended at the server's end: it lands at the offset the client
//!   chose, over whatever another client wrote there (`O_APPEND` is not atomic across NFS
//!   clients either).
//! * **Create-exclusive, link, symlink and rename are atomic at the server:** the lock files are
//!   real files in the shared directory, so the lock kinds run unchanged on the real file system.
//! * **Clocks:** each client has a wall-clock offset ([`NetClient::clock_offset_micros`]) for
//!   tests that run workers of hosts whose clocks disagree (the storage handle is told with
//!   `JournalStorage::with_clock_offset`).
//!
//! Not modelled: attribute caching of the lock files themselves (docs/LOCKING.md says what the
//! lease kinds need there), memory maps (a read of 1 MiB or more maps the server file directly;
//! the model's workloads stay smaller), and the loss of a client's unflushed writes in a crash.

use std::collections::HashMap;
use std::fs::File;
use std::io;
use std::path::Path;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use crate::sys::identity::{self, FileId, Look};
use crate::sys::pio;

/// How a simulated client caches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NetClientOptions {
    /// How long cached attributes and data are trusted without a revalidation point (`actimeo`
    /// on a real client). [`Duration::MAX`]: only the revalidation points revalidate.
    pub staleness: Duration,
    /// How far this client's wall clock is off, in microseconds (positive: ahead of the
    /// server's).
    pub clock_offset_micros: i64,
}

impl Default for NetClientOptions {
    fn default() -> Self {
        NetClientOptions { staleness: Duration::MAX, clock_offset_micros: 0 }
    }
}

/// What one client has cached of one file.
#[derive(Debug)]
struct Cached {
    /// The bytes the client believes the file holds (its length is the length it believes),
    /// including its own writes not yet flushed.
    data: Vec<u8>,
    /// Writes not yet sent to the server, in order.
    dirty: Vec<(u64, Vec<u8>)>,
    /// When the cache was last revalidated.
    fetched: Instant,
}

/// One simulated network file system client: its cache of every file it has accessed.
///
/// Guarantees: every answer is one the model above allows a real client to give (never fresher
/// than the last revalidation, except right after one); every write reaches the server file at
/// the offset asked when the file is synced, and not before.
#[derive(Debug)]
pub struct NetClient {
    options: NetClientOptions,
    cache: Mutex<HashMap<FileId, Cached>>,
}

impl NetClient {
    pub(crate) fn new(options: NetClientOptions) -> Self {
        NetClient { options, cache: Mutex::default() }
    }

    /// This client's wall-clock offset in microseconds.
    pub fn clock_offset_micros(&self) -> i64 {
        self.options.clock_offset_micros
    }

    fn cache(&self) -> MutexGuard<'_, HashMap<FileId, Cached>> {
        self.cache.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The cache entry of `file`, fetched from the server if there is none or it is older than
    /// the staleness window, or if `force` (a revalidation point).
    fn entry<'a>(
        &self,
        cache: &'a mut HashMap<FileId, Cached>,
        id: FileId,
        file: &File,
        force: bool,
    ) -> io::Result<&'a mut Cached> {
        let expired = |c: &Cached| c.fetched.elapsed() > self.options.staleness;
        let fresh = match cache.get_mut(&id) {
            Some(c) if !force && !expired(c) => false,
            Some(c) => {
                flush(c, file)?;
                true
            }
            None => true,
        };
        if fresh {
            cache.insert(
                id,
                Cached { data: fetch(file)?, dirty: Vec::new(), fetched: Instant::now() },
            );
        }
        Ok(cache.get_mut(&id).expect("just inserted"))
    }

    /// A handle to `file` was opened: close-to-open revalidates.
    pub(crate) fn opened(&self, file: &File) -> io::Result<()> {
        let id = identity::of_file(file)?.id;
        self.entry(&mut self.cache(), id, file, true).map(drop)
    }

    /// `fstat` of an open file: the length from the cache.
    pub(crate) fn len(&self, file: &File) -> io::Result<u64> {
        let id = identity::of_file(file)?.id;
        Ok(self.entry(&mut self.cache(), id, file, false)?.data.len() as u64)
    }

    /// `stat` of `path` (`confirmed`: a look the server answers, a revalidation point): the
    /// file's identity, with the length this client believes.
    pub(crate) fn stat(&self, path: &Path, confirmed: bool) -> io::Result<Look> {
        let mut look = identity::of_path_confirmed(path)?;
        let file = File::open(path)?;
        let id = identity::of_file(&file)?.id;
        look.len = self.entry(&mut self.cache(), id, &file, confirmed)?.data.len() as u64;
        Ok(look)
    }

    /// `pread` from the cache: at most up to the length the client believes.
    pub(crate) fn read(&self, file: &File, buf: &mut [u8], offset: u64) -> io::Result<usize> {
        let id = identity::of_file(file)?.id;
        let mut cache = self.cache();
        let c = self.entry(&mut cache, id, file, false)?;
        let start = usize::try_from(offset).unwrap_or(usize::MAX).min(c.data.len());
        let n = buf.len().min(c.data.len() - start);
        buf[..n].copy_from_slice(&c.data[start..start + n]);
        Ok(n)
    }

    /// `pwrite` into the cache, to be flushed at the next sync.
    pub(crate) fn write(&self, file: &File, buf: &[u8], offset: u64) -> io::Result<usize> {
        let id = identity::of_file(file)?.id;
        let mut cache = self.cache();
        let c = self.entry(&mut cache, id, file, false)?;
        let start = usize::try_from(offset)
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "offset too large"))?;
        if c.data.len() < start + buf.len() {
            c.data.resize(start + buf.len(), 0);
        }
        c.data[start..start + buf.len()].copy_from_slice(buf);
        c.dirty.push((offset, buf.to_vec()));
        Ok(buf.len())
    }

    /// `fsync`: sends this client's cached writes to the server (the caller then syncs the
    /// server file).
    pub(crate) fn sync(&self, file: &File) -> io::Result<()> {
        let id = identity::of_file(file)?.id;
        match self.cache().get_mut(&id) {
            Some(c) => flush(c, file),
            None => Ok(()),
        }
    }

    /// `ftruncate`: flushes, truncates at the server, and keeps the cache in step.
    pub(crate) fn set_len(&self, file: &File, len: u64) -> io::Result<()> {
        let id = identity::of_file(file)?.id;
        let mut cache = self.cache();
        let c = self.entry(&mut cache, id, file, false)?;
        flush(c, file)?;
        file.set_len(len)?;
        c.data.resize(usize::try_from(len).unwrap_or(usize::MAX), 0);
        Ok(())
    }
}

/// The server's bytes of `file`, all of them.
fn fetch(file: &File) -> io::Result<Vec<u8>> {
    let mut data = Vec::new();
    let mut chunk = vec![0u8; 64 << 10];
    loop {
        let n = pio::read_at(file, &mut chunk, data.len() as u64)?;
        if n == 0 {
            return Ok(data);
        }
        data.extend_from_slice(&chunk[..n]);
    }
}

/// Sends the cached writes of `c` to the server, at the offsets they were made at.
fn flush(c: &mut Cached, file: &File) -> io::Result<()> {
    for (offset, bytes) in c.dirty.drain(..) {
        let mut done = 0;
        while done < bytes.len() {
            match pio::write_at(file, &bytes[done..], offset + done as u64)? {
                0 => return Err(io::Error::new(io::ErrorKind::WriteZero, "pwrite wrote nothing")),
                n => done += n,
            }
        }
    }
    Ok(())
}
