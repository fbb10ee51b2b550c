//! Output helpers shared by the read commands: a small JSON value written the way Python's
//! `json.dumps(obj, sort_keys=True)` writes it, Python's `repr(float)`, Optuna's
//! `distribution_to_json`, CSV quoting and plain-text tables.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::Write as _;

use trialog::{AttrValue, ParamValue, Timestamp};

use super::CliError;

/// A JSON value. Objects keep their keys sorted (a `BTreeMap`), so rendering is canonical.
#[derive(Debug, Clone)]
pub enum Json {
    /// `null`.
    Null,
    /// `true` / `false`.
    Bool(bool),
    /// An integer.
    Int(i64),
    /// An unsigned integer (ids, numbers, counters).
    UInt(u64),
    /// An integer outside 64 bits, written as its decimal digits (as Python writes it).
    BigInt(trialog::model::BigInt),
    /// A float, written as Python's `repr` (`NaN`, `Infinity`, `-Infinity` bare).
    Float(f64),
    /// A string.
    Str(String),
    /// A string with a lone UTF-16 surrogate, written with `\uXXXX` escapes as Python writes it.
    Utf16(trialog::model::Utf16String),
    /// An array.
    Array(Vec<Json>),
    /// An object with sorted keys.
    Object(BTreeMap<String, Json>),
}

impl Json {
    /// A string value.
    pub fn str(s: impl Into<String>) -> Json {
        Json::Str(s.into())
    }

    /// An object from `(key, value)` pairs (sorted on insertion).
    pub fn object<K: Into<String>>(pairs: impl IntoIterator<Item = (K, Json)>) -> Json {
        Json::Object(pairs.into_iter().map(|(k, v)| (k.into(), v)).collect())
    }

    /// A timestamp as its ISO-8601 text, or `null`.
    pub fn time(t: Option<Timestamp>) -> Json {
        t.map_or(Json::Null, |t| Json::Str(t.to_string()))
    }

    /// Optional floats as an array, or `null`.
    pub fn floats(v: Option<&[f64]>) -> Json {
        v.map_or(Json::Null, |v| Json::Array(v.iter().map(|x| Json::Float(*x)).collect()))
    }

    /// A parameter value in external representation.
    pub fn param(v: &ParamValue) -> Json {
        match v {
            ParamValue::Null => Json::Null,
            ParamValue::Bool(b) => Json::Bool(*b),
            ParamValue::Int(i) => Json::Int(*i),
            ParamValue::BigInt(i) => Json::BigInt(i.clone()),
            ParamValue::Float(x) => Json::Float(*x),
            ParamValue::Str(s) => Json::Str(s.clone()),
        }
    }

    /// An attribute value.
    pub fn attr(v: &AttrValue) -> Json {
        match v {
            AttrValue::Null => Json::Null,
            AttrValue::Bool(b) => Json::Bool(*b),
            AttrValue::Int(i) => Json::Int(*i),
            AttrValue::BigInt(i) => Json::BigInt(i.clone()),
            AttrValue::Float(x) => Json::Float(*x),
            AttrValue::String(s) => Json::Str(s.clone()),
            AttrValue::Utf16(u) => Json::Utf16(u.clone()),
            AttrValue::Array(items) => Json::Array(items.iter().map(Json::attr).collect()),
            AttrValue::Map(m) => {
                Json::Object(m.iter().map(|(k, v)| (k.clone(), Json::attr(v))).collect())
            }
        }
    }

    /// The value as one line of JSON: `", "` between items, `": "` after keys, non-ASCII
    /// escaped as `\uXXXX` (Python's `json.dumps` defaults).
    pub fn render(&self) -> String {
        let mut out = String::new();
        self.write(&mut out);
        out
    }

    fn write(&self, out: &mut String) {
        match self {
            Json::Null => out.push_str("null"),
            Json::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
            Json::Int(i) => {
                let _ = write!(out, "{i}");
            }
            Json::UInt(u) => {
                let _ = write!(out, "{u}");
            }
            Json::BigInt(i) => out.push_str(i.as_str()),
            Json::Float(x) => out.push_str(&py_float(*x)),
            Json::Str(s) => out.push_str(&quote(s)),
            Json::Utf16(u) => trialog::journal::json::quote_units_into(u.units(), out),
            Json::Array(items) => {
                out.push('[');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.push_str(", ");
                    }
                    item.write(out);
                }
                out.push(']');
            }
            Json::Object(map) => {
                out.push('{');
                for (i, (k, v)) in map.iter().enumerate() {
                    if i > 0 {
                        out.push_str(", ");
                    }
                    out.push_str(&quote(k));
                    out.push_str(": ");
                    v.write(out);
                }
                out.push('}');
            }
        }
    }
}

pub use trialog::journal::json::{py_float, quote};
pub use trialog::journal::optuna_codec::distribution_to_json;

/// A parameter value for a table or CSV cell: strings bare, other values as Python shows them.
pub fn param_text(v: &ParamValue) -> String {
    match v {
        ParamValue::Float(x) => py_float(*x),
        ParamValue::Str(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Objective values for a table cell: comma-separated, `-` when unset.
pub fn values_text(v: Option<&[f64]>) -> String {
    match v {
        None => "-".to_owned(),
        Some(v) => v.iter().map(|x| py_float(*x)).collect::<Vec<_>>().join(","),
    }
}

/// A timestamp for a table or CSV cell (`-` in tables when unset is the caller's choice).
pub fn time_text(t: Option<Timestamp>) -> String {
    t.map(|t| t.to_string()).unwrap_or_default()
}

/// One CSV field (RFC 4180): quoted when it holds a comma, quote, CR or LF, quotes doubled.
pub fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_owned()
    }
}

/// `n` and the noun, singular for 1 and plural otherwise (`1 trial`, `2 trials`, `0 trials`,
/// `2 worker processes`): every count the commands print goes through this.
pub fn count(n: u64, noun: &str) -> String {
    match n {
        1 => format!("1 {noun}"),
        _ if noun.ends_with('s') => format!("{n} {noun}es"),
        _ => format!("{n} {noun}s"),
    }
}

/// Writes `text` to stdout. A closed pipe (`trialog ... | head`) is not an error.
pub fn emit(text: &str) -> Result<(), CliError> {
    let mut stdout = std::io::stdout().lock();
    match stdout.write_all(text.as_bytes()).and_then(|()| stdout.flush()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
            Err(CliError::msg(format_args!("stdout: {e}")))
        }
        _ => Ok(()),
    }
}

/// Rows as a left-aligned table (one line each, header first): columns separated by two
/// spaces, trailing space trimmed.
pub fn table(header: &[&str], rows: &[Vec<String>]) -> String {
    let mut text = String::new();
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut line = |cells: &mut dyn Iterator<Item = &str>| {
        let mut out = String::new();
        for (i, (cell, w)) in cells.zip(&widths).enumerate() {
            if i > 0 {
                out.push_str("  ");
            }
            out.push_str(cell);
            out.extend(std::iter::repeat_n(' ', w - cell.chars().count()));
        }
        text.push_str(out.trim_end());
        text.push('\n');
    };
    line(&mut header.iter().copied());
    for row in rows {
        line(&mut row.iter().map(String::as_str));
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_agree_with_their_number() {
        assert_eq!(count(0, "trial"), "0 trials");
        assert_eq!(count(1, "trial"), "1 trial");
        assert_eq!(count(2, "corrupt line"), "2 corrupt lines");
        assert_eq!(count(1, "worker process"), "1 worker process");
        assert_eq!(count(3, "worker process"), "3 worker processes");
    }

    #[test]
    fn csv_quotes_when_needed() {
        assert_eq!(csv_field("plain"), "plain");
        assert_eq!(csv_field("a,b"), "\"a,b\"");
        assert_eq!(csv_field("say \"hi\""), "\"say \"\"hi\"\"\"");
    }
}
