//! Opening a store for the read-only commands and finding a study by name. The commands read
//! through the [`Storage`] trait only, so they work on every store.

use std::path::Path;
use std::sync::Arc;

use trialog::{
    AnyJournalFile, FileBackend, FrozenStudy, HeartbeatOptions, JournalFormat, JournalStorage,
    OptunaFileOptions, OptunaJournalFile, Storage, StudyDirection, TrialState,
};

use trialog::location::Location;

use super::CliError;

/// A journal of either format, as the read commands open it.
pub type Journal = JournalStorage<AnyJournalFile>;

/// Opens the journal at `path` without creating it (a missing file is an error) and replays it,
/// in the format its first bytes show (trialog or Optuna JSON lines). Never takes the writers'
/// lock, so it works while other processes (trialog or Python Optuna) write the journal.
pub fn open_journal(path: &Path) -> Result<Journal, CliError> {
    file_only(
        path,
        "this command reads a journal file itself; over a server use studies, trials, best, dump or report (and demo on Redis)",
    )?;
    AnyJournalFile::open_existing(path)
        .and_then(JournalStorage::new)
        .map_err(|e| CliError::lib(path, e))
}

/// Fails, naming `path`, with `why` when `path` is a server's URL (`grpc://`, `redis://`), not a
/// file: for the commands that work on a journal file's bytes.
pub fn file_only(path: &Path, why: &str) -> Result<(), CliError> {
    match Location::parse(path.as_os_str()) {
        Location::Path(_) => Ok(()),
        Location::Grpc(_) | Location::Redis(_) => Err(CliError::at(path, why)),
    }
}

/// The Redis URL `path` spells, if it is one (`docs/REDIS.md`).
pub fn redis_url(path: &Path) -> Option<String> {
    match Location::parse(path.as_os_str()) {
        Location::Redis(url) => Some(url),
        _ => None,
    }
}

/// [`open_writable`] behind the storage trait, or the journal on a Redis server when `path` is
/// a `redis://` URL (Optuna's key layout: `required` must then be Optuna's format or none, and
/// heartbeats live in a trial attribute as on an Optuna file, since Redis keys hold only
/// operations Optuna reads).
pub fn open_writable_store(
    path: &Path,
    create: JournalFormat,
    required: Option<JournalFormat>,
    heartbeat: Option<HeartbeatOptions>,
) -> Result<Arc<dyn Storage>, CliError> {
    let Some(url) = redis_url(path) else {
        return Ok(Arc::new(open_writable(path, create, required, heartbeat)?));
    };
    if required == Some(JournalFormat::Trialog) {
        return Err(CliError::at(
            path,
            "is a Redis journal, in Optuna's key layout, not a trialog journal as --format asks (leave --format out)",
        ));
    }
    Ok(Arc::new(JournalStorage::open_url(&url).map_err(|e| CliError::lib(path, e))?))
}

/// The store at `path` for the read commands, behind the storage trait: a journal file (see
/// [`open_journal`]), a storage server given as `grpc://host:port`, or a journal on a Redis
/// server given as `redis://host:port/db?prefix=NAME` (Optuna's `JournalRedisBackend` key
/// layout; `docs/REDIS.md`). None of them takes a lock.
pub fn open(path: &Path) -> Result<Arc<dyn Storage>, CliError> {
    match Location::parse(path.as_os_str()) {
        Location::Path(path) => Ok(Arc::new(open_journal(&path)?)),
        Location::Grpc(url) => Ok(Arc::new(
            trialog::remote::GrpcStorage::connect(&url).map_err(|e| CliError::lib(path, e))?,
        )),
        Location::Redis(url) => {
            Ok(Arc::new(JournalStorage::open_url(&url).map_err(|e| CliError::lib(path, e))?))
        }
    }
}

/// Opens the journal at `path` for writing (`run`, `enqueue`): an existing file in the format its
/// first bytes show, a missing one created in `create` format. `heartbeat` turns heartbeats on
/// where the format can store them (a trialog journal; an Optuna journal has none, and the runner
/// keeps its own through a trial attribute). Fails, before writing anything, when `required` (a
/// format asked for on the command line) differs from the existing file's.
pub fn open_writable(
    path: &Path,
    create: JournalFormat,
    required: Option<JournalFormat>,
    heartbeat: Option<HeartbeatOptions>,
) -> Result<Journal, CliError> {
    let lib = |e| CliError::lib(path, e);
    let file = if path.exists() {
        let file = AnyJournalFile::open_existing(path).map_err(lib)?;
        if let Some(want) = required.filter(|f| *f != file.format()) {
            return Err(CliError::at(
                path,
                format!(
                    "is a {} journal, not {} as --format asks (leave --format out to use it as it is)",
                    file.format().name(),
                    want.name()
                ),
            ));
        }
        file
    } else {
        match required.unwrap_or(create) {
            JournalFormat::Trialog => {
                AnyJournalFile::Trialog(FileBackend::open(path).map_err(lib)?)
            }
            JournalFormat::Optuna => AnyJournalFile::Optuna(
                OptunaJournalFile::open_with(path, &OptunaFileOptions::default()).map_err(lib)?,
            ),
        }
    };
    let trialog = file.format() == JournalFormat::Trialog;
    let storage = JournalStorage::new(file).map_err(lib)?;
    Ok(match heartbeat {
        Some(options) if trialog => storage.with_heartbeat(options),
        _ => storage,
    })
}

/// The format the read commands would open the existing file at `path` in, or `None` when they
/// could not open it (missing, unreadable, neither format). For messages that name the format;
/// opening takes no lock and changes nothing.
pub fn format_of(path: &Path) -> Option<JournalFormat> {
    AnyJournalFile::open_existing(path).ok().map(|f| f.format())
}

/// The live study named `name`.
pub fn study(storage: &dyn Storage, path: &Path, name: &str) -> Result<FrozenStudy, CliError> {
    let lib = |e| CliError::lib(path, e);
    let id = storage.get_study_id_from_name(name).map_err(lib)?;
    let studies = storage.get_all_studies().map_err(lib)?;
    // Deleted between the two calls: the same error as if it had never been there.
    let gone = || trialog::Error::StudyNameNotFound { name: name.to_owned() };
    studies.into_iter().find(|s| s.study_id == id).ok_or_else(gone).map_err(lib)
}

/// Parses a trial state name (case-insensitive) for `--state`.
pub fn parse_state(s: &str) -> Result<TrialState, String> {
    TrialState::ALL.into_iter().find(|st| st.name().eq_ignore_ascii_case(s)).ok_or_else(|| {
        format!("unknown state {s:?} (expected RUNNING, COMPLETE, PRUNED, FAIL or WAITING)")
    })
}

/// The names of `directions`, comma-separated.
pub fn directions_text(directions: &[StudyDirection]) -> String {
    directions.iter().map(|d| d.name()).collect::<Vec<_>>().join(",")
}
