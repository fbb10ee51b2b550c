//! `trialog enqueue --journal J --study S --param lr=0.01 --param opt=adam`: one WAITING trial
//! with fixed parameters (Optuna's `enqueue_trial`); runners claim such trials, each exactly
//! once, before they sample new ones.

use std::path::PathBuf;
use std::sync::Arc;

use clap::Args;
use trialog::model::{Distribution, ParamValue};
use trialog::runner::channels::value_text;
use trialog::runner::space::{choice_value, describe};
use trialog::study::{FIXED_PARAMS_ATTR, Study, TpeSampler};
use trialog::{AttrValue, Error, FrozenTrial, JournalFormat, Storage, StudyDirection};

use super::format::emit;
use super::run::DirectionArg;
use super::{CliError, journal};

/// Arguments of `trialog enqueue`.
#[derive(Debug, Args)]
pub struct EnqueueArgs {
    /// The journal (created if missing; a trialog or Optuna JSON-lines file).
    #[arg(long)]
    pub journal: PathBuf,
    /// The study (created if missing, with --direction).
    #[arg(long)]
    pub study: String,
    /// A parameter value, NAME=VALUE (a number, true/false, or text; "quoted" text stays text).
    #[arg(long = "param", value_name = "NAME=VALUE", required = true)]
    pub params: Vec<String>,
    /// Direction(s) of a study this creates (default: minimize).
    #[arg(long, value_enum)]
    pub direction: Vec<DirectionArg>,
    /// Do nothing if a trial of the study already has exactly these parameters (Optuna's
    /// `skip_if_exists`).
    #[arg(long)]
    pub skip_if_exists: bool,
}

/// Enqueues the trial.
pub fn run(args: &EnqueueArgs) -> Result<(), CliError> {
    let path = &args.journal;
    let lib = |e| CliError::lib(path, e);
    let mut given: Vec<(String, String)> = Vec::new();
    for p in &args.params {
        let Some((name, value)) = p.split_once('=').filter(|(n, _)| !n.trim().is_empty()) else {
            return Err(CliError::msg(format!("malformed --param {p:?}: expected NAME=VALUE")));
        };
        if given.iter().any(|(n, _)| n == name.trim()) {
            return Err(CliError::msg(format!("parameter {:?} is given twice", name.trim())));
        }
        given.push((name.trim().to_owned(), value.to_owned()));
    }
    let storage: Arc<dyn Storage> =
        journal::open_writable_store(path, JournalFormat::Trialog, None, None)?;
    let existing = match storage.get_study_id_from_name(&args.study) {
        Ok(id) => Some(id),
        Err(Error::StudyNameNotFound { .. }) => None,
        Err(e) => return Err(lib(e)),
    };
    let trials = match existing {
        Some(id) => storage.get_all_trials(id, None).map_err(lib)?,
        None => Vec::new(),
    };
    // Each value as the study's distribution of that parameter reads it, checked before
    // anything is written.
    let mut params: Vec<(String, ParamValue)> = Vec::new();
    for (name, text) in &given {
        let dist = trials.iter().find_map(|t| t.distributions.get(name.as_str()).cloned());
        let value = match dist {
            Some(d) => coerce(name, text, &d)?,
            None => choice_value(text),
        };
        params.push((name.clone(), value));
    }
    if args.skip_if_exists {
        if let Some(t) = trials.iter().find(|t| same_params(t, &params)) {
            return emit(&format!(
                "skipped: trial {} ({}) already has these parameters\n",
                t.number,
                t.state.name()
            ));
        }
    }
    let directions: Vec<StudyDirection> = if args.direction.is_empty() {
        vec![StudyDirection::Minimize]
    } else {
        args.direction
            .iter()
            .map(|d| match d {
                DirectionArg::Minimize => StudyDirection::Minimize,
                DirectionArg::Maximize => StudyDirection::Maximize,
            })
            .collect()
    };
    let study = match existing {
        Some(_) => Study::load(storage, &args.study, Arc::new(TpeSampler::new(None))),
        None => {
            Study::create(storage, Some(&args.study), &directions, Arc::new(TpeSampler::new(None)))
        }
    }
    .map_err(lib)?;
    let refs: Vec<(&str, ParamValue)> =
        params.iter().map(|(n, v)| (n.as_str(), v.clone())).collect();
    let id = study.enqueue_fixed(&refs).map_err(lib)?;
    let number = study.storage().get_trial_number_from_id(id).map_err(lib)?;
    let shown: Vec<String> = params.iter().map(|(n, v)| format!("{n}={}", value_text(v))).collect();
    emit(&format!("enqueued trial {number} of study {:?}: {}\n", study.name(), shown.join(" ")))
}

/// `text` as a value of `dist`: a categorical choice by its text or value, a number for a
/// numeric distribution, inside the distribution.
fn coerce(name: &str, text: &str, dist: &Distribution) -> Result<ParamValue, CliError> {
    let parsed = choice_value(text);
    let value = match dist {
        Distribution::Categorical(c) => c
            .choices()
            .iter()
            .find(|choice| **choice == parsed || value_text(choice) == text.trim())
            .cloned()
            .unwrap_or(parsed),
        Distribution::Int(_) => match parsed {
            ParamValue::Float(x) if x.fract() == 0.0 && x.abs() < 9.0e15 => {
                ParamValue::Int(x as i64)
            }
            v => v,
        },
        Distribution::Float(_) => match parsed {
            ParamValue::Int(i) => ParamValue::Float(i as f64),
            v => v,
        },
    };
    let inside = dist.to_internal(&value).is_ok_and(|x| dist.contains(x));
    if !inside {
        return Err(CliError::msg(format!(
            "{name}={text} is not a value of the study's {name} ({})",
            describe(dist)
        )));
    }
    Ok(value)
}

/// Optuna's `_should_skip_enqueue`: the same parameter names, and equal values (numbers
/// compared as numbers), in a trial's `fixed_params` or, without them, its parameters.
fn same_params(t: &FrozenTrial, params: &[(String, ParamValue)]) -> bool {
    let theirs: Vec<(String, ParamValue)> = match t.system_attrs.get(FIXED_PARAMS_ATTR) {
        Some(AttrValue::Map(m)) => m
            .iter()
            .filter_map(|(k, v)| {
                let v = match v {
                    AttrValue::Null => ParamValue::Null,
                    AttrValue::Bool(b) => ParamValue::Bool(*b),
                    AttrValue::Int(i) => ParamValue::Int(*i),
                    AttrValue::Float(x) => ParamValue::Float(*x),
                    AttrValue::String(s) => ParamValue::Str(s.clone()),
                    _ => return None,
                };
                Some((k.clone(), v))
            })
            .collect(),
        _ => t.params.iter().map(|(k, v)| (k.to_string(), v.clone())).collect(),
    };
    theirs.len() == params.len()
        && params.iter().all(|(name, v)| {
            theirs.iter().any(|(n, w)| {
                n == name && (v == w || number(v).zip(number(w)).is_some_and(|(a, b)| a == b))
            })
        })
}

fn number(v: &ParamValue) -> Option<f64> {
    match v {
        ParamValue::Int(i) => Some(*i as f64),
        ParamValue::Float(x) => Some(*x),
        _ => None,
    }
}
