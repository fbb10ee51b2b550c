//! Where a store is: the one parser of the locations the tools accept, and opening them behind
//! the [`Storage`] trait.
//!
//! | location | store |
//! |---|---|
//! | `PATH` | the journal file at `PATH`, in the format its first bytes show (trialog or Optuna JSON lines); a missing or empty file is a trialog journal when created |
//! | `trialog:PATH` | a trialog journal at `PATH` (an existing file must be one) |
//! | `optuna:PATH` | an Optuna JSON-lines journal at `PATH` (an existing file must be one), shared with Python Optuna under Optuna's lock |
//! | `redis://host:port/db?prefix=NAME` | a journal on a Redis server in Optuna's `JournalRedisBackend` key layout (`docs/REDIS.md`; needs the `redis` feature), recognised by [`crate::location::Location::parse`] |
//!
//! Only these exact prefixes are schemes; anything else (`C:\studies\a.log` too) is a path.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::{JournalStorage, Storage};
use crate::backend::{
    AnyJournalFile, FileBackend, FileOptions, JournalFormat, OptunaFileOptions, OptunaJournalFile,
    detect_format,
};
use crate::error::{Error, Result};

/// A parsed location (see the module docs).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    /// A journal file of the format its first bytes show (trialog when new or empty).
    File(PathBuf),
    /// A trialog journal file.
    Trialog(PathBuf),
    /// An Optuna JSON-lines journal file.
    Optuna(PathBuf),
    /// A journal on a Redis server (the URL as given), in Optuna's key layout.
    Redis(PathBuf),
}

impl Location {
    /// Parses `text` (see the module docs). Fails with `InvalidArgument` for an empty path.
    pub fn parse(text: &str) -> Result<Self> {
        if let crate::location::Location::Redis(url) =
            crate::location::Location::parse(std::ffi::OsStr::new(text))
        {
            return Ok(Location::Redis(PathBuf::from(url)));
        }
        let (make, rest): (fn(PathBuf) -> Location, &str) =
            if let Some(rest) = text.strip_prefix("trialog:") {
                (Location::Trialog, rest)
            } else if let Some(rest) = text.strip_prefix("optuna:") {
                (Location::Optuna, rest)
            } else {
                (Location::File, text)
            };
        if rest.is_empty() {
            return Err(Error::invalid(format_args!("location {text:?} names no file")));
        }
        Ok(make(PathBuf::from(rest)))
    }

    /// The file of a file location (the URL of a Redis one, for messages).
    pub fn path(&self) -> &Path {
        match self {
            Location::File(p) | Location::Trialog(p) | Location::Optuna(p) | Location::Redis(p) => {
                p
            }
        }
    }

    /// The format the store has (an existing non-empty file) or gets when it is created.
    /// Fails when an explicit format contradicts the file's first bytes.
    pub fn format(&self) -> Result<JournalFormat> {
        if let Location::Redis(_) = self {
            // Optuna's operations, one per key (docs/REDIS.md).
            return Ok(JournalFormat::Optuna);
        }
        let found = match detect_format(self.path()) {
            Ok(found) => found,
            Err(Error::Io { source, .. }) if source.kind() == std::io::ErrorKind::NotFound => None,
            Err(e) => return Err(e),
        };
        let wanted = match self {
            Location::File(_) => return Ok(found.unwrap_or(JournalFormat::Trialog)),
            Location::Trialog(_) => JournalFormat::Trialog,
            Location::Optuna(_) | Location::Redis(_) => JournalFormat::Optuna,
        };
        match found {
            Some(f) if f != wanted => Err(Error::invalid(format_args!(
                "{} is a {} journal, not the {} journal {self} names",
                self.path().display(),
                f.name(),
                wanted.name()
            ))),
            _ => Ok(wanted),
        }
    }

    /// Opens the existing store (a missing file is an error; nothing is created), behind the
    /// storage trait, replayed to its end.
    pub fn open_existing(&self) -> Result<Arc<dyn Storage>> {
        if let Location::Redis(url) = self {
            return open_redis(url);
        }
        let path = self.path();
        if let Location::File(_) = self {
            return Ok(Arc::new(JournalStorage::new(AnyJournalFile::open_existing(path)?)?));
        }
        Ok(match self.format()? {
            JournalFormat::Trialog => {
                let options = FileOptions { create: false, ..FileOptions::default() };
                Arc::new(JournalStorage::new(FileBackend::open_with(path, &options)?)?)
            }
            JournalFormat::Optuna => {
                let options = OptunaFileOptions { create: false, ..OptunaFileOptions::default() };
                Arc::new(JournalStorage::new(OptunaJournalFile::open_with(path, &options)?)?)
            }
        })
    }

    /// Opens the store, creating an empty one of [`Location::format`] if there is none.
    pub fn open_or_create(&self) -> Result<Arc<dyn Storage>> {
        if let Location::Redis(url) = self {
            return open_redis(url);
        }
        Ok(match self.format()? {
            JournalFormat::Trialog => Arc::new(JournalStorage::open(self.path())?),
            JournalFormat::Optuna => Arc::new(JournalStorage::open_optuna(self.path())?),
        })
    }

    /// Whether two locations name the same store (the same file, however spelled; a file that
    /// does not exist yet is compared by its path as given).
    pub fn same_store(&self, other: &Location) -> bool {
        match (self, other) {
            (Location::Redis(a), Location::Redis(b)) => return a == b,
            (Location::Redis(_), _) | (_, Location::Redis(_)) => return false,
            _ => {}
        }
        let canon = |p: &Path| std::fs::canonicalize(p).unwrap_or_else(|_| p.to_path_buf());
        canon(self.path()) == canon(other.path())
    }
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Location::File(p) => write!(f, "{}", p.display()),
            Location::Trialog(p) => write!(f, "trialog:{}", p.display()),
            Location::Optuna(p) => write!(f, "optuna:{}", p.display()),
            Location::Redis(url) => write!(f, "{}", url.display()),
        }
    }
}

/// The Redis journal at `url` (an empty prefix is an empty journal: Redis has no file to be
/// missing).
fn open_redis(url: &Path) -> Result<Arc<dyn Storage>> {
    #[cfg(feature = "redis")]
    {
        let url = url.to_str().unwrap_or_default();
        Ok(Arc::new(JournalStorage::open_url(url)?))
    }
    #[cfg(not(feature = "redis"))]
    Err(Error::invalid(format_args!(
        "{}: this build has no Redis client (cargo feature `redis`)",
        url.display()
    )))
}

impl std::str::FromStr for Location {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        Location::parse(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_exact_prefixes_only() {
        assert_eq!(Location::parse("a.log").unwrap(), Location::File("a.log".into()));
        assert_eq!(Location::parse("optuna:a.log").unwrap(), Location::Optuna("a.log".into()));
        assert_eq!(Location::parse("trialog:/x").unwrap(), Location::Trialog("/x".into()));
        assert_eq!(Location::parse(r"C:\a.log").unwrap(), Location::File(r"C:\a.log".into()));
        assert!(Location::parse("optuna:").is_err());
        assert_eq!(
            Location::parse("redis://h:1/0?prefix=s").unwrap(),
            Location::Redis("redis://h:1/0?prefix=s".into())
        );
        assert_eq!(Location::parse("./redis://x").unwrap(), Location::File("./redis://x".into()));
        assert!(Location::parse("").is_err());
    }

    #[test]
    fn formats_follow_the_file_and_refuse_contradictions() {
        let dir = tempfile::tempdir().unwrap();
        let t = dir.path().join("t.journal");
        let o = dir.path().join("o.log");
        let s = Location::File(t.clone()).open_or_create().unwrap();
        s.create_new_study(&[crate::StudyDirection::Minimize], Some("a")).unwrap();
        let s = Location::Optuna(o.clone()).open_or_create().unwrap();
        s.create_new_study(&[crate::StudyDirection::Minimize], Some("b")).unwrap();
        assert_eq!(Location::File(o.clone()).format().unwrap(), JournalFormat::Optuna);
        assert_eq!(Location::File(t.clone()).format().unwrap(), JournalFormat::Trialog);
        assert!(Location::Optuna(t.clone()).format().is_err());
        assert!(Location::Trialog(o.clone()).open_existing().is_err());
        assert_eq!(
            Location::Optuna(o).open_existing().unwrap().get_all_studies().unwrap().len(),
            1
        );
        let missing = Location::File(dir.path().join("missing"));
        assert_eq!(missing.format().unwrap(), JournalFormat::Trialog);
        assert!(missing.open_existing().is_err());
        assert!(!missing.path().exists(), "opening an existing store creates nothing");
    }
}
