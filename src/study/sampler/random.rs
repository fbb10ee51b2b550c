//! `RandomSampler`: independent uniform sampling, reproducible per (seed, trial number, name).

use std::sync::atomic::{AtomicU64, Ordering};

use super::{SampleContext, Sampler, state};
use crate::error::{Error, Result};
use crate::model::Distribution;

/// SplitMix64 (Steele, Lea & Flood, 2014): a tiny, well-distributed 64-bit generator, also
/// used as a mixing function to derive independent streams from one seed.
#[derive(Debug, Clone)]
pub(crate) struct SplitMix64(u64);

impl SplitMix64 {
    /// A generator starting from `seed`.
    pub(crate) fn new(seed: u64) -> Self {
        SplitMix64(seed)
    }

    /// The next 64 random bits.
    pub(crate) fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A float uniform in `[0, 1)` (53 random bits).
    pub(crate) fn next_f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    /// An integer uniform in `0..=n` (Lemire's multiply-shift; bias below 2^-64 per value).
    pub(crate) fn below_inclusive(&mut self, n: u64) -> u64 {
        let x = self.next_u64();
        if n == u64::MAX {
            return x;
        }
        ((u128::from(x) * (u128::from(n) + 1)) >> 64) as u64
    }
}

/// FNV-1a over the bytes of a parameter name.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes
        .iter()
        .fold(0xcbf2_9ce4_8422_2325, |h, b| (h ^ u64::from(*b)).wrapping_mul(0x100_0000_01b3))
}

static UNSEEDED: AtomicU64 = AtomicU64::new(0);

/// An independent generator for one (seed, trial number, stream name): a pure function of the
/// three, so a sampler built on it needs no state to continue a study in a fresh process.
pub(crate) fn stream(seed: u64, trial_number: u64, name: &str) -> SplitMix64 {
    let mut m = SplitMix64::new(seed);
    let a = m.next_u64();
    let mut m = SplitMix64::new(a ^ trial_number);
    let b = m.next_u64();
    SplitMix64::new(b ^ fnv1a(name.as_bytes()))
}

/// A seed from the clock, the process id and a per-process counter (two calls differ).
pub(crate) fn fresh_seed() -> u64 {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64);
    let mut mix = SplitMix64::new(
        nanos
            ^ (u64::from(std::process::id()) << 32)
            ^ UNSEEDED.fetch_add(1, Ordering::Relaxed).wrapping_mul(0x9e37_79b9),
    );
    mix.next_u64()
}

/// A sampler's seed: the whole of its state, restorable through a shared reference
/// ([`Sampler::import_state`] takes `&self`). A clone copies the current value.
#[derive(Debug)]
pub(crate) struct Seed(AtomicU64);

impl Seed {
    /// `seed`, or a fresh one (see [`fresh_seed`]).
    pub(crate) fn new(seed: Option<u64>) -> Self {
        Seed(AtomicU64::new(seed.unwrap_or_else(fresh_seed)))
    }

    /// The current seed.
    pub(crate) fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }

    /// Replaces the seed.
    pub(crate) fn set(&self, seed: u64) {
        self.0.store(seed, Ordering::Relaxed);
    }

    /// The seed as a sampler state of `kind` (see [`state`]).
    pub(crate) fn export(&self, kind: &str) -> Vec<u8> {
        state::encode(kind, &self.get().to_le_bytes())
    }

    /// The seed of a state `bytes` exported by a sampler of `kind`.
    pub(crate) fn decode(kind: &str, bytes: &[u8]) -> Result<u64> {
        let payload = state::decode(kind, bytes)?;
        let seed: [u8; 8] = payload
            .try_into()
            .map_err(|_| state::bad(kind, format!("a seed has 8 bytes, not {}", payload.len())))?;
        Ok(u64::from_le_bytes(seed))
    }
}

impl Clone for Seed {
    fn clone(&self) -> Self {
        Seed(AtomicU64::new(self.get()))
    }
}

/// Samples every parameter independently and uniformly (in log space for log distributions, on
/// the grid for stepped ones, inclusive bounds for ints).
///
/// Reproducibility guarantee: each value is a pure function of (seed, trial number, parameter
/// name, distribution), so two studies with the same seed get the same parameters for the same
/// trial numbers, whatever the thread or process timing and whatever order the parameters are
/// suggested in. (Precisely, of the trial's *draw number*, which equals its number unless the
/// study has retried trials: see [`SampleContext::draw_number`].)
///
/// State ([`Sampler::export_state`]): the seed, so that a study run unseeded can be resumed or
/// forked with the same draws.
#[derive(Debug, Clone)]
pub struct RandomSampler {
    seed: Seed,
}

/// The kind name in a [`RandomSampler`]'s exported state.
const KIND: &str = "RandomSampler";

impl RandomSampler {
    /// A sampler with `seed`, or (with `None`) with a seed taken from the clock, the process id
    /// and a per-process counter (so two unseeded samplers differ).
    pub fn new(seed: Option<u64>) -> Self {
        RandomSampler { seed: Seed::new(seed) }
    }

    /// The seed in use (print it to replay an unseeded run).
    pub fn seed(&self) -> u64 {
        self.seed.get()
    }

    /// Replaces the seed (what [`Sampler::import_state`] restores).
    pub(crate) fn set_seed(&self, seed: u64) {
        self.seed.set(seed);
    }

    /// The generator for one (draw number, parameter name).
    fn rng(&self, draw_number: u64, name: &str) -> SplitMix64 {
        stream(self.seed.get(), draw_number, name)
    }

    /// A value of `dist` drawn with `rng`, in internal representation.
    pub(crate) fn draw(rng: &mut SplitMix64, name: &str, dist: &Distribution) -> Result<f64> {
        match dist {
            Distribution::Float(d) => {
                if !(d.low().is_finite() && d.high().is_finite()) {
                    return Err(Error::invalid(format_args!(
                        "parameter {name:?}: cannot sample uniformly from an unbounded range"
                    )));
                }
                if let Some(step) = d.step() {
                    let n = ((d.high() - d.low()) / step).round();
                    if !(0.0..9.0e15).contains(&n) {
                        return Err(Error::invalid(format_args!(
                            "parameter {name:?}: step grid too large to sample"
                        )));
                    }
                    let k = rng.below_inclusive(n as u64) as f64;
                    return Ok((d.low() + k * step).min(d.high()));
                }
                let u = rng.next_f64();
                let v = if d.log() {
                    let (lo, hi) = (d.low().ln(), d.high().ln());
                    (lo + u * (hi - lo)).exp()
                } else {
                    // low*(1-u) + high*u cannot overflow where high - low could.
                    d.low() * (1.0 - u) + d.high() * u
                };
                Ok(v.clamp(d.low(), d.high()))
            }
            Distribution::Int(d) => {
                if d.log() {
                    let (lo, hi) = ((d.low() as f64 - 0.5).ln(), (d.high() as f64 + 0.5).ln());
                    let v = (lo + rng.next_f64() * (hi - lo)).exp().round();
                    return Ok(v.clamp(d.low() as f64, d.high() as f64));
                }
                let n = (i128::from(d.high()) - i128::from(d.low())) / i128::from(d.step());
                let n = u64::try_from(n).map_err(|_| Error::invalid("int range overflows"))?;
                let k = i128::from(rng.below_inclusive(n));
                Ok((i128::from(d.low()) + k * i128::from(d.step())) as f64)
            }
            Distribution::Categorical(c) => {
                let n = c.choices().len() as u64 - 1;
                Ok(rng.below_inclusive(n) as f64)
            }
        }
    }
}

impl Sampler for RandomSampler {
    fn sample(&self, ctx: &SampleContext<'_>, name: &str, dist: &Distribution) -> Result<f64> {
        Self::draw(&mut self.rng(ctx.draw_number, name), name, dist)
    }

    fn export_state(&self) -> Result<Option<Vec<u8>>> {
        Ok(Some(self.seed.export(KIND)))
    }

    fn import_state(&self, state: &[u8]) -> Result<()> {
        self.seed.set(Seed::decode(KIND, state)?);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splitmix_reference_values() {
        // First outputs of SplitMix64 seeded with 0 (reference implementation by Vigna).
        let mut r = SplitMix64::new(0);
        assert_eq!(r.next_u64(), 0xe220_a839_7b1d_cdaf);
        assert_eq!(r.next_u64(), 0x6e78_9e6a_a1b9_65f4);
    }

    #[test]
    fn state_round_trips_and_refuses_other_kinds() {
        let a = RandomSampler::new(None);
        let b = RandomSampler::new(None);
        assert_ne!(a.seed(), b.seed());
        let state = a.export_state().unwrap().unwrap();
        b.import_state(&state).unwrap();
        assert_eq!(a.seed(), b.seed());
        let tpe = super::super::TpeSampler::new(Some(1)).export_state().unwrap().unwrap();
        let err = b.import_state(&tpe).unwrap_err().to_string();
        assert!(err.contains("TpeSampler") && err.contains("RandomSampler"), "{err}");
        assert!(b.import_state(&state[..state.len() - 1]).is_err());
        assert_eq!(a.seed(), b.seed(), "a refused state changes nothing");
    }

    #[test]
    fn below_inclusive_hits_both_ends() {
        let mut r = SplitMix64::new(7);
        let mut seen = [false; 3];
        for _ in 0..1000 {
            seen[r.below_inclusive(2) as usize] = true;
        }
        assert!(seen.iter().all(|s| *s));
    }
}
