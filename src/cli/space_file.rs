//! `trialog run --space FILE`: the search space in a TOML file, one entry per parameter in its
//! `[params]` table, in the file's order:
//!
//! ```toml
//! [params]
//! lr = "float:1e-5..1e-1:log"                     # a --param spec without its name
//! layers = { type = "int", low = 1, high = 8 }
//! units = { type = "int", low = 16, high = 1024, log = true }
//! dropout = { type = "float", low = 0.0, high = 0.5, step = 0.1 }
//! optimizer = { type = "categorical", choices = ["adam", "sgd"] }
//! ```

use std::path::Path;

use toml::{Table, Value};
use trialog::model::{Distribution, ParamValue};
use trialog::runner::SearchSpace;
use trialog::runner::space::parse_spec;

use super::CliError;

/// Adds the parameters of the space file at `path` to `space`.
pub fn read(path: &Path, space: &mut SearchSpace) -> Result<(), CliError> {
    let text =
        std::fs::read_to_string(path).map_err(|e| CliError::at(path, format!("read: {e}")))?;
    let doc: Table = text.parse().map_err(|e: toml::de::Error| {
        CliError::at(path, format!("not valid TOML: {}", e.message()))
    })?;
    for key in doc.keys() {
        if key != "params" {
            return Err(CliError::at(path, format!("unknown table {key:?} (expected [params])")));
        }
    }
    let Some(Value::Table(params)) = doc.get("params") else {
        return Err(CliError::at(path, "has no [params] table"));
    };
    for (name, value) in params {
        let at = |why: String| CliError::at(path, format!("params.{name}: {why}"));
        let dist = match value {
            Value::String(spec) => {
                parse_spec(&format!("{name}={spec}")).map_err(|e| at(super::value_error(e)))?.1
            }
            Value::Table(t) => table_dist(t).map_err(at)?,
            _ => return Err(at("expected a spec string or a table".into())),
        };
        space.add(name, dist).map_err(|e| at(super::value_error(e)))?;
    }
    Ok(())
}

fn table_dist(t: &Table) -> Result<Distribution, String> {
    let kind = match t.get("type") {
        Some(Value::String(k)) => k.as_str(),
        Some(_) => return Err("\"type\" must be a string".into()),
        None => return Err("no \"type\" (float, int or categorical)".into()),
    };
    let allowed: &[&str] = match kind {
        "float" | "int" => &["type", "low", "high", "log", "step"],
        "categorical" | "cat" => &["type", "choices"],
        other => return Err(format!("unknown type {other:?} (float, int or categorical)")),
    };
    if let Some(k) = t.keys().find(|k| !allowed.contains(&k.as_str())) {
        return Err(format!("unknown key {k:?} for a {kind} parameter"));
    }
    let log = match t.get("log") {
        None => false,
        Some(Value::Boolean(b)) => *b,
        Some(_) => return Err("\"log\" must be true or false".into()),
    };
    let float = |key: &str| -> Result<Option<f64>, String> {
        match t.get(key) {
            None => Ok(None),
            Some(Value::Float(x)) => Ok(Some(*x)),
            Some(Value::Integer(i)) => Ok(Some(*i as f64)),
            Some(_) => Err(format!("{key:?} must be a number")),
        }
    };
    let int = |key: &str| -> Result<Option<i64>, String> {
        match t.get(key) {
            None => Ok(None),
            Some(Value::Integer(i)) => Ok(Some(*i)),
            Some(_) => Err(format!("{key:?} must be an integer")),
        }
    };
    fn need<T>(v: Option<T>, key: &str) -> Result<T, String> {
        v.ok_or_else(|| format!("no {key:?}"))
    }
    let dist = match kind {
        "float" => Distribution::float(
            need(float("low")?, "low")?,
            need(float("high")?, "high")?,
            log,
            float("step")?,
        ),
        "int" => Distribution::int(
            need(int("low")?, "low")?,
            need(int("high")?, "high")?,
            log,
            int("step")?.unwrap_or(1),
        ),
        _ => {
            let Some(Value::Array(items)) = t.get("choices") else {
                return Err("\"choices\" must be an array".into());
            };
            let mut choices = Vec::new();
            for item in items {
                let v = match item {
                    Value::String(s) => ParamValue::Str(s.clone()),
                    Value::Integer(i) => ParamValue::Int(*i),
                    Value::Float(x) => ParamValue::Float(*x),
                    Value::Boolean(b) => ParamValue::Bool(*b),
                    other => {
                        return Err(format!("choice {other} is not a string, number or boolean"));
                    }
                };
                if choices.contains(&v) {
                    return Err(format!("choice {item} is given twice"));
                }
                choices.push(v);
            }
            Distribution::categorical(choices)
        }
    };
    dist.map_err(super::value_error)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn space_of(text: &str) -> Result<SearchSpace, String> {
        let dir = std::env::temp_dir().join(format!("trialog-space-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("space.toml");
        std::fs::write(&path, text).unwrap();
        let mut space = SearchSpace::new();
        let r = read(&path, &mut space).map(|()| space).map_err(|e| e.to_string());
        std::fs::remove_dir_all(&dir).unwrap();
        r
    }

    #[test]
    fn every_kind_in_file_order() {
        let space = space_of(
            r#"
            [params]
            lr = "float:1e-5..1e-1:log"
            layers = { type = "int", low = 1, high = 8 }
            units = { type = "int", low = 16, high = 1024, log = true }
            batch = { type = "int", low = 16, high = 128, step = 16 }
            dropout = { type = "float", low = 0, high = 0.5, step = 0.1 }
            scale = { type = "float", low = 0.5, high = 2.0 }
            opt = { type = "categorical", choices = ["adam", "sgd"] }
            mixed = { type = "categorical", choices = [1, 2.5, true, "x"] }
            "#,
        )
        .unwrap();
        let names: Vec<&str> = space.params().iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["lr", "layers", "units", "batch", "dropout", "scale", "opt", "mixed"]);
        assert_eq!(space.get("units"), Some(&Distribution::int(16, 1024, true, 1).unwrap()));
        assert_eq!(
            space.get("dropout"),
            Some(&Distribution::float(0.0, 0.5, false, Some(0.1)).unwrap())
        );
    }

    #[test]
    fn mistakes_name_the_parameter() {
        for (text, why) in [
            ("x = 1", "unknown table \"x\""),
            ("[params]\nlr = 3", "params.lr: expected a spec"),
            ("[params]\nlr = { low = 1, high = 2 }", "params.lr: no \"type\""),
            ("[params]\nlr = { type = \"float\", low = 1 }", "no \"high\""),
            ("[params]\nlr = { type = \"float\", low = 2, high = 1 }", "params.lr"),
            (
                "[params]\nn = { type = \"int\", low = 1, high = 2, lgo = true }",
                "unknown key \"lgo\"",
            ),
            ("[params]\no = { type = \"categorical\", choices = [] }", "params.o"),
            ("[params]\nlr = \"float:1..\"", "params.lr: malformed"),
            ("[params", "not valid TOML"),
        ] {
            let e = space_of(text).unwrap_err();
            assert!(e.contains(why), "{text}: {e}");
        }
    }
}
