//! One flat JSON object per line, keys sorted like `bench.py`'s `json.dumps(..., sort_keys=True)`.

use crate::cli::format::quote;
use std::collections::BTreeMap;

/// A JSON object under construction; [`JsonLine::render`] gives its one-line text.
#[derive(Debug, Default)]
pub struct JsonLine {
    fields: BTreeMap<&'static str, String>,
}

impl JsonLine {
    /// An empty object.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a string field.
    pub fn str(mut self, key: &'static str, value: &str) -> Self {
        self.fields.insert(key, quote(value));
        self
    }

    /// Adds an integer field.
    pub fn int(mut self, key: &'static str, value: u64) -> Self {
        self.fields.insert(key, value.to_string());
        self
    }

    /// Adds a float field (`null` if it is not finite, which JSON cannot hold).
    pub fn num(mut self, key: &'static str, value: f64) -> Self {
        self.fields.insert(key, number(value));
        self
    }

    /// Adds a boolean field.
    pub fn bool(mut self, key: &'static str, value: bool) -> Self {
        self.fields.insert(key, value.to_string());
        self
    }

    /// Adds an array of floats.
    pub fn nums(mut self, key: &'static str, values: &[f64]) -> Self {
        let items: Vec<String> = values.iter().copied().map(number).collect();
        self.fields.insert(key, format!("[{}]", items.join(", ")));
        self
    }

    /// The object as one line of JSON (no trailing newline).
    pub fn render(&self) -> String {
        let items: Vec<String> =
            self.fields.iter().map(|(k, v)| format!("{}: {v}", quote(k))).collect();
        format!("{{{}}}", items.join(", "))
    }

    /// Prints the object as one line on stdout.
    pub fn print(&self) {
        println!("{}", self.render());
    }
}

/// A finite float in shortest round-trip form, `null` otherwise.
fn number(value: f64) -> String {
    if value.is_finite() { format!("{value:?}") } else { "null".to_owned() }
}

/// The number stored under `key` in a flat JSON object written by [`JsonLine`], if any.
pub fn field_f64(line: &str, key: &str) -> Option<f64> {
    let start = line.find(&format!("{}: ", quote(key)))? + key.len() + 4;
    let rest = &line[start..];
    let end = rest.find([',', '}']).unwrap_or(rest.len());
    rest[..end].trim().parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_sorted_and_escaped() {
        let line = JsonLine::new()
            .num("b", 1.5)
            .str("a", "x\"y")
            .int("c", 3)
            .bool("d", true)
            .nums("e", &[1.0, f64::NAN])
            .render();
        assert_eq!(line, r#"{"a": "x\"y", "b": 1.5, "c": 3, "d": true, "e": [1.0, null]}"#);
        assert_eq!(field_f64(&line, "b"), Some(1.5));
        assert_eq!(field_f64(&line, "c"), Some(3.0));
        assert_eq!(field_f64(&line, "z"), None);
    }

    #[test]
    fn floats_round_trip() {
        for v in [0.1, 1e-9, 12345.678, 1e300] {
            assert_eq!(number(v).parse::<f64>().unwrap(), v);
        }
    }
}
