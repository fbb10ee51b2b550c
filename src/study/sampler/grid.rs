//! `GridSampler`: every point of a finite grid exactly once, across all processes.

use super::{FixedParams, SampleContext, Sampler, state};
use crate::error::{Error, Result};
use crate::model::{Distribution, ParamValue};

/// Hands out every point of the Cartesian product of its per-parameter value lists exactly once
/// across all workers and processes sharing the journal.
///
/// How: the process that *creates* the study enqueues one WAITING trial per grid point (its
/// values in the trial's `fixed_params` system attribute, its index in `grid_id`), then sets the
/// study system attribute `grid:enqueued = true`. `ask` pops WAITING trials through the
/// storage's exactly-once WAITING -> RUNNING claim, and each `suggest_*` of a grid parameter
/// returns the trial's fixed value (checked against the suggested distribution). Once no
/// WAITING trial is left, `ask` fails with `Error::SearchSpaceExhausted` and `optimize` stops.
///
/// Not guaranteed: if the creating process dies between creating the study and writing
/// `grid:enqueued`, part of the grid is missing; other processes then get
/// `Error::SearchSpaceNotReady` instead of `SearchSpaceExhausted` once the enqueued part is
/// used up. Delete and recreate the study in that case. A study loaded with a different grid
/// than the one it was created with keeps the creator's grid.
///
/// State ([`Sampler::export_state`]): no random state (the grid's progress lives in the
/// journal), only a SHA-256 fingerprint of the grid, so that resuming or forking a study with a
/// sampler of another grid fails with `Error::BadSamplerState` instead of mixing two grids.
#[derive(Debug, Clone)]
pub struct GridSampler {
    space: Vec<(String, Vec<ParamValue>)>,
    size: usize,
}

impl GridSampler {
    /// A grid over `search_space` (parameter name, its values). Fails with `InvalidArgument` on
    /// an empty value list, a repeated name, or a grid of more than `u32::MAX` points.
    pub fn new<S: Into<String>>(search_space: Vec<(S, Vec<ParamValue>)>) -> Result<Self> {
        let space: Vec<(String, Vec<ParamValue>)> =
            search_space.into_iter().map(|(n, v)| (n.into(), v)).collect();
        let mut size: usize = 1;
        for (i, (name, values)) in space.iter().enumerate() {
            if values.is_empty() {
                return Err(Error::invalid(format_args!("grid parameter {name:?} has no values")));
            }
            if space[..i].iter().any(|(n, _)| n == name) {
                return Err(Error::invalid(format_args!("grid parameter {name:?} appears twice")));
            }
            size = size
                .checked_mul(values.len())
                .filter(|s| *s <= u32::MAX as usize)
                .ok_or_else(|| Error::invalid("grid has more than u32::MAX points"))?;
        }
        Ok(GridSampler { space, size })
    }

    /// The number of grid points.
    pub fn len(&self) -> usize {
        self.size
    }

    /// Whether the grid has no point (never: every list is non-empty; an empty space has one
    /// point without parameters).
    pub fn is_empty(&self) -> bool {
        self.size == 0
    }

    /// Grid point `index` (row-major: the last parameter varies fastest).
    pub fn point(&self, index: usize) -> Option<FixedParams> {
        if index >= self.size {
            return None;
        }
        let mut rest = index;
        let mut point = Vec::with_capacity(self.space.len());
        for (name, values) in self.space.iter().rev() {
            point.push((name.clone(), values[rest % values.len()].clone()));
            rest /= values.len();
        }
        point.reverse();
        Some(point)
    }
}

impl Sampler for GridSampler {
    /// Only reached for a parameter the trial has no fixed value for: the parameter is not part
    /// of the grid, which is an `InvalidArgument`.
    fn sample(&self, ctx: &SampleContext<'_>, name: &str, _dist: &Distribution) -> Result<f64> {
        Err(Error::invalid(format_args!(
            "trial {} suggests parameter {name:?}, which is not in the grid search space",
            ctx.trial_number
        )))
    }

    fn initial_trials(&self) -> Result<Vec<FixedParams>> {
        Ok((0..self.size).filter_map(|i| self.point(i)).collect())
    }

    fn allows_new_trials(&self) -> bool {
        false
    }

    fn export_state(&self) -> Result<Option<Vec<u8>>> {
        Ok(Some(state::encode(KIND, &self.fingerprint())))
    }

    fn import_state(&self, bytes: &[u8]) -> Result<()> {
        if state::decode(KIND, bytes)? != self.fingerprint() {
            return Err(state::bad(KIND, "the state was written by a sampler of another grid"));
        }
        Ok(())
    }
}

/// The kind name in a [`GridSampler`]'s exported state.
const KIND: &str = "GridSampler";

impl GridSampler {
    /// SHA-256 of the grid's parameter names and values, in order (values by their exact
    /// `Debug` form, which tells `1` from `1.0`).
    fn fingerprint(&self) -> [u8; 32] {
        use sha2::Digest;
        let mut h = sha2::Sha256::new();
        for (name, values) in &self.space {
            h.update((name.len() as u64).to_le_bytes());
            h.update(name.as_bytes());
            h.update((values.len() as u64).to_le_bytes());
            for v in values {
                let text = format!("{v:?}");
                h.update((text.len() as u64).to_le_bytes());
                h.update(text.as_bytes());
            }
        }
        h.finalize().into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn points_enumerate_the_product_once() {
        let g = GridSampler::new(vec![
            ("x", vec![ParamValue::Int(0), ParamValue::Int(1), ParamValue::Int(2)]),
            ("y", vec![ParamValue::Str("a".into()), ParamValue::Str("b".into())]),
        ])
        .unwrap();
        assert_eq!(g.len(), 6);
        let pts = g.initial_trials().unwrap();
        assert_eq!(pts.len(), 6);
        assert_eq!(
            pts[1],
            vec![("x".into(), ParamValue::Int(0)), ("y".into(), ParamValue::Str("b".into()))]
        );
        for (i, a) in pts.iter().enumerate() {
            assert!(pts[i + 1..].iter().all(|b| b != a));
        }
        assert!(g.point(6).is_none());
        // Its state accepts only the same grid.
        let state = g.export_state().unwrap().unwrap();
        g.clone().import_state(&state).unwrap();
        let other = GridSampler::new(vec![("x", vec![ParamValue::Float(0.0)])]).unwrap();
        assert!(matches!(other.import_state(&state), Err(Error::BadSamplerState { .. })));
        assert!(GridSampler::new(vec![("x", vec![])]).is_err());
        assert!(
            GridSampler::new(vec![("x", vec![ParamValue::Null]), ("x", vec![ParamValue::Null])])
                .is_err()
        );
    }
}
