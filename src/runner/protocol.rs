//! What a trial's command tells the runner: intermediate values as `trialog:report <step>
//! <value>` lines on stdout, and its result as the last other line of stdout (or the content of
//! the file named by `TRIALOG_RESULT_FILE`): a number, `{"value": v}` or `{"values": [v, ...]}`.

use crate::journal::json::{self, JsonValue};

/// The start of an intermediate-value line on stdout.
pub const REPORT_PREFIX: &str = "trialog:report";

/// A `trialog:report <step> <value>` line as `(step, value)`; `None` when `line` is not a report
/// line, `Some(Err(why))` when it starts like one but is malformed.
pub fn parse_report(line: &str) -> Option<Result<(i64, f64), String>> {
    let rest = line.trim().strip_prefix(REPORT_PREFIX)?;
    if !rest.is_empty() && !rest.starts_with(char::is_whitespace) {
        return None;
    }
    let mut words = rest.split_whitespace();
    let parsed = (|| {
        let step = words.next().ok_or("no step")?;
        let value = words.next().ok_or("no value")?;
        if words.next().is_some() {
            return Err("more than a step and a value".to_owned());
        }
        let step: i64 = step.parse().map_err(|_| format!("step {step:?} is not an integer"))?;
        let value = number(value).ok_or_else(|| format!("value {value:?} is not a number"))?;
        Ok((step, value))
    })();
    Some(parsed.map_err(|why: String| format!("malformed report line {line:?}: {why}")))
}

/// A number as a child prints it: anything Rust or Python reads as a float (`0.5`, `1e-3`, `nan`,
/// `inf`, `-Infinity`).
fn number(s: &str) -> Option<f64> {
    s.parse::<f64>().ok()
}

/// The objective values in `text` (the last result line, or the result file's content), for a
/// study with `n_objectives` objectives. `Err(why)` for anything else.
pub fn parse_result(text: &str, n_objectives: usize) -> Result<Vec<f64>, String> {
    let text = text.trim();
    if text.is_empty() {
        return Err("it is empty".to_owned());
    }
    let values = if let Some(x) = number(text) {
        vec![x]
    } else {
        let doc = json::parse(text.as_bytes())
            .map_err(|_| "it is neither a number nor a JSON object".to_owned())?;
        match (doc.get("value"), doc.get("values")) {
            (Some(v), None) => vec![v.as_f64().ok_or("\"value\" is not a number")?],
            (None, Some(JsonValue::Array(items))) => items
                .iter()
                .map(|v| v.as_f64().ok_or("\"values\" holds something other than numbers"))
                .collect::<Result<_, _>>()?,
            (None, Some(_)) => return Err("\"values\" is not an array".to_owned()),
            (Some(_), Some(_)) => return Err("it has both \"value\" and \"values\"".to_owned()),
            (None, None) => {
                return Err("it is a JSON value without \"value\" or \"values\"".to_owned());
            }
        }
    };
    if values.len() != n_objectives {
        return Err(format!(
            "it holds {} but the study has {n_objectives} objectives",
            match values.len() {
                1 => "1 value".to_owned(),
                n => format!("{n} values"),
            }
        ));
    }
    Ok(values)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn report_lines() {
        assert_eq!(parse_report("trialog:report 3 0.25"), Some(Ok((3, 0.25))));
        assert_eq!(parse_report("  trialog:report -1 1e3 "), Some(Ok((-1, 1000.0))));
        assert_eq!(parse_report("epoch 3 loss 0.2"), None);
        assert_eq!(parse_report("trialog:reporting 1 2"), None);
        for bad in
            ["trialog:report", "trialog:report 1", "trialog:report x 1", "trialog:report 1 y"]
        {
            assert!(parse_report(bad).unwrap().is_err(), "{bad}");
        }
        assert!(parse_report("trialog:report 1 2 3").unwrap().unwrap_err().contains("more than"));
    }

    #[test]
    fn results_in_every_form() {
        assert_eq!(parse_result("0.5\n", 1), Ok(vec![0.5]));
        assert_eq!(parse_result("-3", 1), Ok(vec![-3.0]));
        assert_eq!(parse_result(r#"{"value": 2}"#, 1), Ok(vec![2.0]));
        assert_eq!(parse_result(r#"{"values": [1, 2.5]}"#, 2), Ok(vec![1.0, 2.5]));
        assert!(parse_result("nan", 1).unwrap()[0].is_nan());
        assert!(parse_result(r#"{"value": NaN}"#, 1).unwrap()[0].is_nan());
    }

    #[test]
    fn garbage_is_refused_with_a_reason() {
        for (text, why) in [
            ("", "empty"),
            ("done!", "neither a number"),
            (r#"{"loss": 1}"#, "without \"value\""),
            (r#"{"value": "x"}"#, "not a number"),
            (r#"{"values": 1}"#, "not an array"),
            (r#"{"values": [1, "a"]}"#, "other than numbers"),
            ("0.5", "1 value but the study has 2"),
            (r#"{"values": [1, 2, 3]}"#, "3 values"),
        ] {
            let n = if why.contains("study has 2") || why == "3 values" { 2 } else { 1 };
            let e = parse_result(text, n).unwrap_err();
            assert!(e.contains(why), "{text}: {e}");
        }
    }
}
