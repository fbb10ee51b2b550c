//! Opening a journal for the read-only commands and finding a study by name.

use std::path::Path;

use trialog::{
    AnyJournalFile, FrozenStudy, JournalFormat, JournalStorage, StudyDirection, TrialState,
};

use super::CliError;

/// A journal of either format, as the read commands open it.
pub type Storage = JournalStorage<AnyJournalFile>;

/// Opens the journal at `path` without creating it (a missing file is an error) and replays it,
/// in the format its first bytes show (trialog or Optuna JSON lines). Never takes the writers'
/// lock, so it works while other processes (trialog or Python Optuna) write the journal.
pub fn open(path: &Path) -> Result<Storage, CliError> {
    AnyJournalFile::open_existing(path)
        .and_then(JournalStorage::new)
        .map_err(|e| CliError::lib(path, e))
}

/// The format the read commands would open the existing file at `path` in, or `None` when they
/// could not open it (missing, unreadable, neither format). For messages that name the format;
/// opening takes no lock and changes nothing.
pub fn format_of(path: &Path) -> Option<JournalFormat> {
    AnyJournalFile::open_existing(path).ok().map(|f| f.format())
}

/// The live study named `name`.
pub fn study(storage: &Storage, path: &Path, name: &str) -> Result<FrozenStudy, CliError> {
    storage
        .read(|s| {
            let id = s.study_id_by_name(name)?;
            Ok(s.study(id)?.clone())
        })
        .map_err(|e| CliError::lib(path, e))
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
