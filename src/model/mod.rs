//! Domain types with Optuna's meaning and numeric codes. Knows nothing else in the crate.

mod attr;
mod bigint;
mod decimal;
mod distribution;
mod list_map;
mod python;
mod shared;
mod slots;
mod state;
mod time;
mod trial;
mod utf16;
mod values;
mod vec_map;

pub use attr::{AttrValue, MAX_ATTR_DEPTH};
pub use bigint::{BigInt, Integer, MAX_INT_DIGITS};
pub use distribution::{
    CategoricalChoice, CategoricalDistribution, Distribution, FloatClass, FloatDistribution,
    IntClass, IntDistribution, ParamValue,
};
pub use list_map::ListMap;
pub use python::py_float;
pub use shared::Shared;
pub use state::{StudyDirection, TrialState};
pub use time::{Timestamp, civil_from_days};
pub use trial::{Attrs, Distributions, FrozenStudy, FrozenTrial};
pub use utf16::Utf16String;
pub use values::Values;
pub use vec_map::VecMap;

/// Compares two floats as bit patterns, so NaN equals NaN and 0.0 differs from -0.0. Used where
/// "the same state" must include non-finite values exactly.
pub(crate) fn same_f64(a: f64, b: f64) -> bool {
    a.to_bits() == b.to_bits()
}

/// `same_f64` over optional values.
pub(crate) fn same_values(a: &Option<Values>, b: &Option<Values>) -> bool {
    match (a, b) {
        (None, None) => true,
        (Some(a), Some(b)) => {
            a.len() == b.len() && a.iter().zip(b.iter()).all(|(x, y)| same_f64(*x, *y))
        }
        _ => false,
    }
}
