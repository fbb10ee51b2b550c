//! `trialog studies <journal>`: one table row per live study.

use std::path::PathBuf;

use clap::Args;
use trialog::{FrozenTrial, StudyDirection, TrialState};

use super::format::{emit, py_float, table};
use super::{CliError, journal};

/// Arguments of `trialog studies`.
#[derive(Debug, Args)]
pub struct StudiesArgs {
    /// The journal file (never created or modified).
    pub journal: PathBuf,
}

/// Prints the table.
pub fn run(args: &StudiesArgs) -> Result<(), CliError> {
    let path = &args.journal;
    let storage = journal::open(path)?;
    let lib = |e| CliError::lib(path, e);
    let mut rows = Vec::new();
    for study in storage.get_all_studies().map_err(lib)? {
        let trials = storage.get_all_trials(study.study_id, None).map_err(lib)?;
        let trials: Vec<&FrozenTrial> = trials.iter().map(|t| &**t).collect();
        let mut row = vec![
            study.study_id.to_string(),
            study.study_name.clone(),
            journal::directions_text(&study.directions),
        ];
        for state in TrialState::ALL {
            row.push(trials.iter().filter(|t| t.state == state).count().to_string());
        }
        row.push(best_value(&study.directions, &trials).map_or("-".to_owned(), py_float));
        rows.push(row);
    }
    let header =
        ["id", "name", "directions", "RUNNING", "COMPLETE", "PRUNED", "FAIL", "WAITING", "best"];
    emit(&table(&header, &rows))
}

/// The best value of a single-objective study's COMPLETE trials, chosen as
/// [`trialog::Storage::get_best_trial`] does (first strictly better wins); `None` for a
/// multi-objective study or one without COMPLETE trials.
pub fn best_value(directions: &[StudyDirection], trials: &[&FrozenTrial]) -> Option<f64> {
    if directions.len() != 1 {
        return None;
    }
    let maximize = directions[0] == StudyDirection::Maximize;
    let mut best: Option<f64> = None;
    for t in trials.iter().filter(|t| t.state == TrialState::Complete) {
        let v = t.value().unwrap_or(f64::NAN);
        best = match best {
            None => Some(v),
            Some(b) if (maximize && v > b) || (!maximize && v < b) => Some(v),
            keep => keep,
        };
    }
    best
}
