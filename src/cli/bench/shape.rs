//! The workloads' trial shape ("W1 shape") and the random numbers that feed it.

use std::time::{SystemTime, UNIX_EPOCH};

use trialog::{Distribution, JournalStorage, LogBackend, Result, StudyDirection, TrialState};

/// The study every workload writes to (the name `bench.py` uses).
pub const STUDY: &str = "bench";

/// Durable appends per trial.
pub const OPS_PER_TRIAL: u64 = 5;

/// A xorshift64* generator: fast, seedable, good enough for benchmark inputs.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// A generator started from `seed` (any value, zero included).
    pub fn new(seed: u64) -> Self {
        // splitmix64 step so that nearby seeds give unrelated streams and 0 is not a fixed point.
        let mut z = seed.wrapping_add(0x9E37_79B9_7F4A_7C15);
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        Rng((z ^ (z >> 31)) | 1)
    }

    /// A seed that differs between runs and processes (time and pid).
    pub fn fresh_seed() -> u64 {
        let nanos = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_nanos());
        (nanos as u64) ^ (u64::from(std::process::id()) << 32)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// A float uniform in `[low, high)`.
    pub fn uniform(&mut self, low: f64, high: f64) -> f64 {
        let unit = (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64;
        low + (high - low) * unit
    }
}

/// `FloatDistribution(-10, 10)`, the distribution of both parameters.
pub fn xy_distribution() -> Distribution {
    Distribution::float(-10.0, 10.0, false, None).expect("(-10, 10) is a valid float range")
}

/// Creates the benchmark study (minimize) and returns its id.
pub fn create_study<B: LogBackend>(storage: &JournalStorage<B>) -> Result<u64> {
    storage.create_new_study(&[StudyDirection::Minimize], Some(STUDY))
}

/// Writes one trial of the W1 shape: create, two parameters, one intermediate value, complete
/// with `x² + y²`: five durable appends.
pub fn one_trial<B: LogBackend>(
    storage: &JournalStorage<B>,
    study_id: u64,
    dist: &Distribution,
    rng: &mut Rng,
) -> Result<()> {
    let trial = storage.create_new_trial(study_id, None)?;
    let x = rng.uniform(-10.0, 10.0);
    let y = rng.uniform(-10.0, 10.0);
    storage.set_trial_param(trial, "x", x, dist)?;
    storage.set_trial_param(trial, "y", y, dist)?;
    let v = x * x + y * y;
    storage.set_trial_intermediate_value(trial, 0, v * 1.1)?;
    storage.set_trial_state_values(trial, TrialState::Complete, Some(&[v]))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uniform_stays_in_range_and_varies() {
        let mut rng = Rng::new(0);
        let xs: Vec<f64> = (0..1000).map(|_| rng.uniform(-10.0, 10.0)).collect();
        assert!(xs.iter().all(|x| (-10.0..10.0).contains(x)));
        assert!(xs.iter().any(|x| *x < -9.0) && xs.iter().any(|x| *x > 9.0));
        assert_ne!(Rng::new(1).next_u64(), Rng::new(2).next_u64());
    }
}
