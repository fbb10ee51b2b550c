//! `trialog trials <journal> --study NAME`: one row per trial, as a table, JSON or CSV.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::sync::Arc;

use clap::{Args, ValueEnum};
use trialog::{FrozenTrial, TrialState};

use super::format::{Json, csv_field, emit, param_text, py_float, time_text, values_text};
use super::{CliError, journal};

/// Output format of `trialog trials`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// Aligned columns for reading.
    Table,
    /// One JSON array of objects.
    Json,
    /// RFC 4180 CSV with a header line.
    Csv,
}

/// Arguments of `trialog trials`.
#[derive(Debug, Args)]
pub struct TrialsArgs {
    /// The journal file (never created or modified).
    pub journal: PathBuf,
    /// The study's name.
    #[arg(long)]
    pub study: String,
    /// Only trials in this state (repeat or separate with commas for several).
    #[arg(long = "state", value_parser = journal::parse_state, value_delimiter = ',')]
    pub states: Vec<TrialState>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
}

/// Prints the trials.
pub fn run(args: &TrialsArgs) -> Result<(), CliError> {
    let path = &args.journal;
    let storage = journal::open(path)?;
    let study = journal::study(&*storage, path, &args.study)?;
    let states = (!args.states.is_empty()).then_some(args.states.as_slice());
    let trials =
        storage.get_all_trials(study.study_id, states).map_err(|e| CliError::lib(path, e))?;
    let text = match args.format {
        Format::Table => table(&trials),
        Format::Json => Json::Array(trials.iter().map(|t| json(t)).collect()).render() + "\n",
        Format::Csv => csv(&trials, study.directions.len()),
    };
    emit(&text)
}

fn table(trials: &[Arc<FrozenTrial>]) -> String {
    let rows: Vec<Vec<String>> = trials
        .iter()
        .map(|t| {
            let params: Vec<String> =
                t.params.iter().map(|(k, v)| format!("{k}={}", Json::param(v).render())).collect();
            vec![
                t.number.to_string(),
                t.trial_id.to_string(),
                t.state.name().to_owned(),
                values_text(t.values.as_deref()),
                if params.is_empty() { "-".to_owned() } else { params.join(" ") },
                t.datetime_start.map_or("-".to_owned(), |d| d.to_string()),
                t.datetime_complete.map_or("-".to_owned(), |d| d.to_string()),
            ]
        })
        .collect();
    let header =
        ["number", "id", "state", "values", "params", "datetime_start", "datetime_complete"];
    super::format::table(&header, &rows)
}

/// One trial as a JSON object.
fn json(t: &FrozenTrial) -> Json {
    Json::object([
        ("number", Json::UInt(t.number)),
        ("trial_id", Json::UInt(t.trial_id)),
        ("state", Json::str(t.state.name())),
        ("values", Json::floats(t.values.as_deref())),
        ("params", Json::object(t.params.iter().map(|(k, v)| (k.to_string(), Json::param(v))))),
        ("datetime_start", Json::time(t.datetime_start)),
        ("datetime_complete", Json::time(t.datetime_complete)),
    ])
}

/// CSV: `number,trial_id,state`, one `values_<i>` column per objective, one `params_<name>`
/// column per parameter name seen in the listed trials (sorted), then the two datetimes.
fn csv(trials: &[Arc<FrozenTrial>], n_objectives: usize) -> String {
    let names: BTreeSet<&str> = trials.iter().flat_map(|t| t.params.keys().map(|k| &**k)).collect();
    let mut header: Vec<String> = vec!["number".into(), "trial_id".into(), "state".into()];
    header.extend((0..n_objectives).map(|i| format!("values_{i}")));
    header.extend(names.iter().map(|n| format!("params_{n}")));
    header.extend(["datetime_start".into(), "datetime_complete".into()]);
    let mut text = String::new();
    let mut line = |cells: Vec<String>| {
        text.push_str(&cells.iter().map(|c| csv_field(c)).collect::<Vec<_>>().join(","));
        text.push('\n');
    };
    line(header);
    for t in trials {
        let mut row = vec![t.number.to_string(), t.trial_id.to_string(), t.state.name().into()];
        row.extend((0..n_objectives).map(|i| {
            t.values.as_ref().and_then(|v| v.get(i)).map(|x| py_float(*x)).unwrap_or_default()
        }));
        row.extend(names.iter().map(|n| t.params.get(*n).map(param_text).unwrap_or_default()));
        row.push(time_text(t.datetime_start));
        row.push(time_text(t.datetime_complete));
        line(row);
    }
    text
}
