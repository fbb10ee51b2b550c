//! `trialog dump <journal>`: the whole state as canonical JSON (format
//! `optuna-storage-canonical-dump/1`, specified in `docs/CLI.md`).

use std::path::PathBuf;

use clap::Args;
use trialog::FrozenTrial;

use super::format::{Json, distribution_to_json, emit};
use super::{CliError, journal};

/// The `format` field of the dump.
pub const FORMAT: &str = "optuna-storage-canonical-dump/1";

/// Arguments of `trialog dump`.
#[derive(Debug, Args)]
pub struct DumpArgs {
    /// The journal file (never created or modified).
    pub journal: PathBuf,
}

/// Prints the dump as one line of JSON.
pub fn run(args: &DumpArgs) -> Result<(), CliError> {
    let path = &args.journal;
    let storage = journal::open(path)?;
    let lib = |e| CliError::lib(path, e);
    let mut studies = Vec::new();
    for study in storage.get_all_studies().map_err(lib)? {
        let trials = storage.get_all_trials(study.study_id, None).map_err(lib)?;
        let mut trials: Vec<&FrozenTrial> = trials.iter().map(|t| &**t).collect();
        trials.sort_by_key(|t| t.number);
        studies.push(Json::object([
            ("study_id", Json::UInt(study.study_id)),
            ("study_name", Json::str(&study.study_name)),
            (
                "directions",
                Json::Array(study.directions.iter().map(|d| Json::str(d.name())).collect()),
            ),
            (
                "user_attrs",
                Json::object(study.user_attrs.iter().map(|(k, v)| (k.clone(), Json::attr(v)))),
            ),
            (
                "system_attrs",
                Json::object(study.system_attrs.iter().map(|(k, v)| (k.clone(), Json::attr(v)))),
            ),
            ("trials", Json::Array(trials.into_iter().map(trial).collect())),
        ]));
    }
    let dump = Json::object([("format", Json::str(FORMAT)), ("studies", Json::Array(studies))]);
    emit(&(dump.render() + "\n"))
}

fn trial(t: &FrozenTrial) -> Json {
    Json::object([
        ("trial_id", Json::UInt(t.trial_id)),
        ("number", Json::UInt(t.number)),
        ("state", Json::str(t.state.name())),
        ("values", Json::floats(t.values.as_deref())),
        ("params", Json::object(t.params.iter().map(|(k, v)| (k.to_string(), Json::param(v))))),
        (
            "distributions",
            Json::object(
                t.distributions
                    .iter()
                    .map(|(k, d)| (k.to_string(), Json::Str(distribution_to_json(d)))),
            ),
        ),
        (
            "intermediate_values",
            Json::object(
                t.intermediate_values.iter().map(|(step, v)| (step.to_string(), Json::Float(*v))),
            ),
        ),
        ("user_attrs", Json::object(t.user_attrs.iter().map(|(k, v)| (k.clone(), Json::attr(v))))),
        (
            "system_attrs",
            Json::object(t.system_attrs.iter().map(|(k, v)| (k.clone(), Json::attr(v)))),
        ),
        ("datetime_start", Json::time(t.datetime_start)),
        ("datetime_complete", Json::time(t.datetime_complete)),
    ])
}
