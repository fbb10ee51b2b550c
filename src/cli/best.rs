//! `trialog best <journal> --study NAME`: the best trial of a single-objective study, or the
//! Pareto front of a multi-objective one.

use std::path::PathBuf;
use std::sync::Arc;

use clap::Args;
use trialog::{Error, FrozenTrial};

use super::format::{Json, count, emit, values_text};
use super::{CliError, journal};

/// Arguments of `trialog best`.
#[derive(Debug, Args)]
pub struct BestArgs {
    /// The journal file (never created or modified).
    pub journal: PathBuf,
    /// The study's name.
    #[arg(long)]
    pub study: String,
}

/// Prints the best trial or the Pareto front.
pub fn run(args: &BestArgs) -> Result<(), CliError> {
    let path = &args.journal;
    let storage = journal::open(path)?;
    let study = trialog::study::load_study(Arc::clone(&storage), &args.study)
        .map_err(|e| CliError::lib(path, e))?;
    let mut text = String::new();
    if study.directions().len() == 1 {
        match storage.get_best_trial(study.id()) {
            Ok(t) => text.push_str(&trial_line(&t)),
            Err(Error::NoCompletedTrials { .. }) => {
                return Err(CliError::at(
                    path,
                    format!("study {:?} has no COMPLETE trial", args.study),
                ));
            }
            Err(e) => return Err(CliError::lib(path, e)),
        }
    } else {
        let front = study.pareto_front().map_err(|e| CliError::lib(path, e))?;
        text = format!(
            "pareto front ({}, directions {}):\n",
            count(front.len() as u64, "trial"),
            journal::directions_text(study.directions())
        );
        for t in &front {
            text.push_str(&trial_line(t));
        }
    }
    emit(&text)
}

/// One line: `trial <number>  values <v,...>  params {json}`.
fn trial_line(t: &FrozenTrial) -> String {
    let params =
        Json::object(t.params.iter().map(|(k, v)| (k.to_string(), Json::param(v)))).render();
    let label = if t.values.as_ref().is_some_and(|v| v.len() == 1) { "value" } else { "values" };
    format!("trial {}  {label} {}  params {params}\n", t.number, values_text(t.values.as_deref()))
}
