//! Test helper: the committed table of values computed by Optuna's own TPE code
//! (`tests/data/tpe_optuna_table.json`, made by `tests/python/gen_tpe_table.py`).

use crate::journal::json::{self, JsonValue};

/// The parsed table.
pub(crate) struct Table(JsonValue);

impl Table {
    /// Parses the committed table (compiled into the test binary).
    pub(crate) fn load() -> Self {
        let text = include_str!("../../../../tests/data/tpe_optuna_table.json");
        let v = json::parse(text.as_bytes()).expect("tpe_optuna_table.json parses");
        assert_eq!(v.get("optuna"), Some(&JsonValue::Str("5.0.0".into())));
        Table(v)
    }

    /// A top-level entry.
    pub(crate) fn get(&self, key: &str) -> &JsonValue {
        self.0.get(key).unwrap_or_else(|| panic!("table has no {key:?}"))
    }
}

/// The numbers of a JSON array (`null` read as NaN).
pub(crate) fn floats(v: &JsonValue) -> Vec<f64> {
    match v {
        JsonValue::Array(items) => items.iter().map(|x| x.as_f64().unwrap_or(f64::NAN)).collect(),
        other => panic!("not an array: {other:?}"),
    }
}

/// Asserts `got` equals `want` within relative tolerance `rel` (infinities exactly, NaN only NaN).
pub(crate) fn assert_close(got: f64, want: f64, rel: f64, what: &str) {
    if want.is_nan() || want.is_infinite() {
        assert!(
            got.to_bits() == want.to_bits() || (got.is_nan() && want.is_nan()),
            "{what}: got {got}, Optuna {want}"
        );
        return;
    }
    let tol = rel * want.abs().max(1.0);
    assert!((got - want).abs() <= tol, "{what}: got {got}, Optuna {want}");
}
