//! `trialog top <journal> --study S [-k N] [--json]`: the best trials of a study as a table (also
//! printed at the end of `trialog run`).

use std::path::PathBuf;
use std::sync::Arc;

use clap::Args;
use trialog::runner::top::top_trials;
use trialog::{FrozenTrial, StudyDirection};

use super::format::{Json, emit, param_text, table, values_text};
use super::{CliError, journal};

/// Arguments of `trialog top`.
#[derive(Debug, Args)]
pub struct TopArgs {
    /// The journal (trialog or Optuna format; never modified).
    pub journal: PathBuf,
    /// The study's name.
    #[arg(long)]
    pub study: String,
    /// How many trials.
    #[arg(short = 'k', long = "top-k", default_value_t = 5)]
    pub k: usize,
    /// One JSON array instead of a table.
    #[arg(long)]
    pub json: bool,
}

/// Prints the best trials.
pub fn run(args: &TopArgs) -> Result<(), CliError> {
    let path = &args.journal;
    let storage = journal::open(path)?;
    let found = journal::study(&*storage, path, &args.study)?;
    let trials =
        storage.get_all_trials(found.study_id, None).map_err(|e| CliError::lib(path, e))?;
    let top = top_trials(&trials, &found.directions, args.k);
    if args.json {
        return emit(&format!("{}\n", json(&top).render()));
    }
    if top.is_empty() {
        return emit(&format!("study {:?} has no COMPLETE trial yet\n", args.study));
    }
    emit(&text(&top, &found.directions))
}

/// The trials as a table: rank, number, value(s), run time, then one column per parameter.
pub fn text(top: &[Arc<FrozenTrial>], directions: &[StudyDirection]) -> String {
    let mut names: Vec<String> = Vec::new();
    for t in top {
        for (name, _) in t.params.iter() {
            if !names.iter().any(|n| **n == **name) {
                names.push(name.to_string());
            }
        }
    }
    let value_header = if directions.len() == 1 { "value" } else { "values" };
    let mut header = vec!["rank", "trial", value_header, "duration"];
    header.extend(names.iter().map(String::as_str));
    let rows: Vec<Vec<String>> = top
        .iter()
        .enumerate()
        .map(|(i, t)| {
            let mut row = vec![
                (i + 1).to_string(),
                t.number.to_string(),
                values_text(t.values.as_deref()),
                duration(t).map_or("-".to_owned(), |d| format!("{d:.2}s")),
            ];
            row.extend(
                names.iter().map(|n| t.params.get(n.as_str()).map_or("-".to_owned(), param_text)),
            );
            row
        })
        .collect();
    table(&header, &rows)
}

/// The trials as a JSON array of `{rank, number, values, params, duration_s}`.
pub fn json(top: &[Arc<FrozenTrial>]) -> Json {
    Json::Array(
        top.iter()
            .enumerate()
            .map(|(i, t)| {
                Json::object([
                    ("rank", Json::UInt(i as u64 + 1)),
                    ("number", Json::UInt(t.number)),
                    ("values", Json::floats(t.values.as_deref())),
                    (
                        "params",
                        Json::object(t.params.iter().map(|(k, v)| (k.to_string(), Json::param(v)))),
                    ),
                    ("duration_s", duration(t).map_or(Json::Null, Json::Float)),
                ])
            })
            .collect(),
    )
}

/// A finished trial's run time in seconds.
fn duration(t: &FrozenTrial) -> Option<f64> {
    let (start, end) = (t.datetime_start?, t.datetime_complete?);
    Some((end.as_micros() - start.as_micros()) as f64 / 1e6)
}
