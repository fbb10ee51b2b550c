//! The three channels that carry a trial's parameters to its command (besides the `{name}`
//! placeholders of [`command`](super::command)): environment variables, a JSON file, and the
//! trial's identity in the environment.

use std::path::Path;

use super::space::SearchSpace;
use crate::error::{Error, Result};
use crate::journal::json::{JsonValue, py_float};
use crate::model::ParamValue;

/// Prefix of the variable holding each parameter: `TRIALOG_PARAM_<NAME>`, where `<NAME>` is the
/// parameter's name in upper case with every character other than `A-Z`, `0-9` replaced by `_`.
pub const PARAM_ENV_PREFIX: &str = "TRIALOG_PARAM_";
/// Path of a JSON object `{"name": value, ...}` with all the trial's parameters.
pub const PARAMS_FILE_ENV: &str = "TRIALOG_PARAMS_FILE";
/// Path where the command may write its result instead of printing it (see
/// [`protocol`](super::protocol)); the file does not exist when the command starts.
pub const RESULT_FILE_ENV: &str = "TRIALOG_RESULT_FILE";
/// The trial's number in its study.
pub const TRIAL_NUMBER_ENV: &str = "TRIALOG_TRIAL_NUMBER";
/// The trial's id (unique in the journal).
pub const TRIAL_ID_ENV: &str = "TRIALOG_TRIAL_ID";
/// The study's name.
pub const STUDY_ENV: &str = "TRIALOG_STUDY";

/// A parameter value as text, in placeholders and environment variables: a float as Python's
/// `repr` (`0.001`, `1e-05`, `2.0`), an int in decimal, a string as itself, booleans as `true` /
/// `false` and `None` as `null` (as JSON writes them).
pub fn value_text(v: &ParamValue) -> String {
    match v {
        ParamValue::Null => "null".to_owned(),
        ParamValue::Bool(b) => b.to_string(),
        ParamValue::Int(i) => i.to_string(),
        ParamValue::BigInt(i) => i.as_str().to_owned(),
        ParamValue::Float(x) => py_float(*x),
        ParamValue::Str(s) => s.clone(),
    }
}

/// The environment variable of parameter `name` (see [`PARAM_ENV_PREFIX`]).
pub fn env_name(name: &str) -> String {
    let mut out = String::from(PARAM_ENV_PREFIX);
    out.extend(name.chars().map(|c| {
        let c = c.to_ascii_uppercase();
        if c.is_ascii_alphanumeric() { c } else { '_' }
    }));
    out
}

/// Fails when two parameters of `space` would share one environment variable (`lr` and `LR`,
/// `a-b` and `a_b`), naming both.
pub fn check_env_names(space: &SearchSpace) -> Result<()> {
    let mut seen: Vec<(String, &str)> = Vec::new();
    for (name, _) in space.params() {
        let var = env_name(name);
        if let Some((_, other)) = seen.iter().find(|(v, _)| *v == var) {
            return Err(Error::invalid(format_args!(
                "parameters {other:?} and {name:?} would both be passed as ${var}; rename one"
            )));
        }
        seen.push((var, name));
    }
    Ok(())
}

/// The parameters as one JSON object, in the space's order: floats as Python's `repr`, strings
/// escaped as Python's `json.dumps`.
pub fn params_json(params: &[(String, ParamValue)]) -> String {
    let pairs = params
        .iter()
        .map(|(name, v)| {
            let value = match v {
                ParamValue::Null => JsonValue::Null,
                ParamValue::Bool(b) => JsonValue::Bool(*b),
                ParamValue::Int(i) => JsonValue::Int(*i),
                ParamValue::BigInt(i) => JsonValue::BigInt(i.clone()),
                ParamValue::Float(x) => JsonValue::Float(*x),
                ParamValue::Str(s) => JsonValue::Str(s.clone()),
            };
            (name.clone(), value)
        })
        .collect();
    let mut out = String::new();
    JsonValue::Object(pairs).write(&mut out, ", ", ": ");
    out
}

/// Every variable a trial's command gets (besides the runner's own environment).
pub fn trial_env(
    params: &[(String, ParamValue)],
    trial_number: u64,
    trial_id: u64,
    study: &str,
    params_file: &Path,
    result_file: &Path,
) -> Vec<(String, std::ffi::OsString)> {
    let mut env: Vec<(String, std::ffi::OsString)> =
        params.iter().map(|(name, v)| (env_name(name), value_text(v).into())).collect();
    env.push((PARAMS_FILE_ENV.to_owned(), params_file.into()));
    env.push((RESULT_FILE_ENV.to_owned(), result_file.into()));
    env.push((TRIAL_NUMBER_ENV.to_owned(), trial_number.to_string().into()));
    env.push((TRIAL_ID_ENV.to_owned(), trial_id.to_string().into()));
    env.push((STUDY_ENV.to_owned(), study.into()));
    env
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_render_as_documented() {
        assert_eq!(value_text(&ParamValue::Float(1e-5)), "1e-05");
        assert_eq!(value_text(&ParamValue::Float(2.0)), "2.0");
        assert_eq!(value_text(&ParamValue::Int(-3)), "-3");
        assert_eq!(value_text(&ParamValue::Bool(true)), "true");
        assert_eq!(value_text(&ParamValue::Null), "null");
        assert_eq!(value_text(&"adam".into()), "adam");
    }

    #[test]
    fn env_names_are_upper_snake_and_collisions_are_refused() {
        assert_eq!(env_name("lr"), "TRIALOG_PARAM_LR");
        assert_eq!(env_name("hidden-size.1"), "TRIALOG_PARAM_HIDDEN_SIZE_1");
        let mut space = SearchSpace::new();
        space.add_spec("a-b=int:0..1").unwrap();
        check_env_names(&space).unwrap();
        space.add_spec("A_B=int:0..1").unwrap();
        let e = check_env_names(&space).unwrap_err().to_string();
        assert!(e.contains("$TRIALOG_PARAM_A_B"), "{e}");
    }

    #[test]
    fn params_file_is_json_in_order() {
        let params = vec![
            ("lr".to_owned(), ParamValue::Float(0.001)),
            ("n".to_owned(), ParamValue::Int(3)),
            ("opt".to_owned(), ParamValue::Str("\"q\"".into())),
            ("b".to_owned(), ParamValue::Bool(false)),
        ];
        assert_eq!(params_json(&params), r#"{"lr": 0.001, "n": 3, "opt": "\"q\"", "b": false}"#);
    }
}
