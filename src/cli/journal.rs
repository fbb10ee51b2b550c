//! Opening a journal for the read-only commands and finding a study by name.

use std::path::Path;

use trialog::{FileOptions, FrozenStudy, JournalStorage, StudyDirection, TrialState};

use super::CliError;

/// Opens the journal at `path` without creating it (a missing file is an error) and replays it.
/// Never takes the writers' lock, so it works while another process writes the journal.
pub fn open(path: &Path) -> Result<JournalStorage, CliError> {
    let options = FileOptions { create: false, ..FileOptions::default() };
    JournalStorage::open_with(path, &options).map_err(|e| CliError::lib(path, e))
}

/// The live study named `name`.
pub fn study(storage: &JournalStorage, path: &Path, name: &str) -> Result<FrozenStudy, CliError> {
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
