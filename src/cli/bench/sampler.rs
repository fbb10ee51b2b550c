//! `trialog bench sampler`, `sampler-eval`, `sampler-speed`: the trialog side of the sampler
//! quality benchmark (`bench/samplers.py`, results in `docs/SAMPLERS.md`). Studies live in
//! memory (`MemoryBackend`) so that only the sampler is measured.

use std::sync::Arc;
use std::time::Instant;

use clap::{Args, ValueEnum};
use trialog::journal::json::JsonValue;
use trialog::study::{
    MedianPruner, NopPruner, NsgaIISampler, Pruner, RandomSampler, Sampler, Study, TellResult,
    TpeSampler,
};
use trialog::{Error, JournalStorage, MemoryBackend, StudyDirection, TrialState};

use super::problems::{CURVE_STEPS, Problem};
use super::rusage::cpu_seconds;
use crate::cli::CliError;

/// A sampler under test.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SamplerArg {
    /// `TpeSampler` with Optuna's defaults.
    Tpe,
    /// `RandomSampler`.
    Random,
    /// `NsgaIISampler` with Optuna's defaults.
    Nsga2,
}

/// A pruner under test.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, ValueEnum)]
pub enum PrunerArg {
    /// Never prune.
    #[default]
    None,
    /// `MedianPruner` with Optuna's defaults.
    Median,
}

/// Arguments of `trialog bench sampler`.
#[derive(Debug, Args)]
pub struct SamplerArgs {
    /// The problem.
    #[arg(long, value_enum)]
    pub problem: Problem,
    /// The sampler.
    #[arg(long, value_enum, default_value = "tpe")]
    pub sampler: SamplerArg,
    /// The pruner (the `curve` problem reports every step and asks it).
    #[arg(long, value_enum, default_value_t)]
    pub pruner: PrunerArg,
    /// Seed of the first run.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Runs, with seeds `seed`, `seed + 1`, ...; one JSON line each.
    #[arg(long, default_value_t = 1)]
    pub runs: u64,
    /// Trials per run.
    #[arg(long, default_value_t = 200)]
    pub trials: usize,
}

/// Arguments of `trialog bench sampler-eval`.
#[derive(Debug, Args)]
pub struct EvalArgs {
    /// The problem.
    #[arg(long, value_enum)]
    pub problem: Problem,
    /// The point, comma-separated (the mixed problem's kind as `a`, `b` or `c`).
    #[arg(long, allow_hyphen_values = true)]
    pub point: String,
}

/// Arguments of `trialog bench sampler-speed`.
#[derive(Debug, Args)]
pub struct SpeedArgs {
    /// Trials in the study before timing.
    #[arg(long, default_value_t = 1000)]
    pub trials: usize,
    /// Float parameters per trial.
    #[arg(long, default_value_t = 5)]
    pub params: usize,
    /// Timed trials after the first `trials`.
    #[arg(long, default_value_t = 20)]
    pub timed: usize,
    /// Seed.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
}

fn lib(e: Error) -> CliError {
    CliError::msg(format!("bench: {e}"))
}

fn study(
    sampler: Arc<dyn Sampler>,
    objectives: usize,
) -> Result<Study<JournalStorage<MemoryBackend>>, CliError> {
    let storage = Arc::new(JournalStorage::new(MemoryBackend::new()).map_err(lib)?);
    let directions = vec![StudyDirection::Minimize; objectives];
    Study::create(storage, Some("bench"), &directions, sampler).map_err(lib)
}

fn floats(v: &[f64]) -> JsonValue {
    JsonValue::Array(v.iter().map(|x| JsonValue::Float(*x)).collect())
}

/// Runs the benchmark and prints one JSON line per run: the objective values of every trial
/// in order (`[f1, f2]` for ZDT1), which trials completed, the steps run, and the time taken.
pub fn run(a: &SamplerArgs) -> Result<(), CliError> {
    for seed in a.seed..a.seed + a.runs {
        let sampler: Arc<dyn Sampler> = match a.sampler {
            SamplerArg::Tpe => Arc::new(TpeSampler::new(Some(seed))),
            SamplerArg::Random => Arc::new(RandomSampler::new(Some(seed))),
            SamplerArg::Nsga2 => Arc::new(NsgaIISampler::new(Some(seed))),
        };
        let pruner: Arc<dyn Pruner> = match a.pruner {
            PrunerArg::None => Arc::new(NopPruner),
            PrunerArg::Median => Arc::new(MedianPruner::default()),
        };
        let study = study(sampler, a.problem.objectives())?.with_pruner(pruner);
        let mut steps = 0_u64;
        let problem = a.problem;
        let started = Instant::now();
        for _ in 0..a.trials {
            let mut trial = study.ask().map_err(lib)?;
            let p = problem.suggest(&mut trial).map_err(lib)?;
            let mut result = TellResult::Complete(problem.value(&p));
            if problem == Problem::Curve {
                for step in 0..CURVE_STEPS {
                    steps += 1;
                    trial.report(step, Problem::curve(&p, step)).map_err(lib)?;
                    if trial.should_prune().map_err(lib)? {
                        result = TellResult::Pruned;
                        break;
                    }
                }
            }
            study.tell(&trial, result).map_err(lib)?;
        }
        let seconds = started.elapsed().as_secs_f64();
        let trials = study.trials(None).map_err(lib)?;
        let values = trials
            .iter()
            .map(|t| match &t.values {
                Some(v) if v.len() == 1 => JsonValue::Float(v[0]),
                Some(v) => floats(v),
                None => JsonValue::Null,
            })
            .collect();
        let complete =
            trials.iter().map(|t| JsonValue::Bool(t.state == TrialState::Complete)).collect();
        let line = JsonValue::Object(vec![
            ("problem".into(), JsonValue::Str(format!("{problem:?}").to_lowercase())),
            ("sampler".into(), JsonValue::Str(format!("{:?}", a.sampler).to_lowercase())),
            ("pruner".into(), JsonValue::Str(format!("{:?}", a.pruner).to_lowercase())),
            ("seed".into(), JsonValue::Int(seed as i64)),
            ("values".into(), JsonValue::Array(values)),
            ("complete".into(), JsonValue::Array(complete)),
            ("steps".into(), JsonValue::Int(steps as i64)),
            ("seconds".into(), JsonValue::Float(seconds)),
        ]);
        let mut out = String::new();
        line.write(&mut out, ", ", ": ");
        println!("{out}");
    }
    Ok(())
}

/// Prints the problem's objective values at one point (for the cross-check with Python).
pub fn eval(a: &EvalArgs) -> Result<(), CliError> {
    let p = a.problem.parse_point(&a.point).map_err(CliError::msg)?;
    let mut out = String::new();
    floats(&a.problem.value(&p)).write(&mut out, ", ", ": ");
    println!("{out}");
    Ok(())
}

/// Runs `trials` TPE trials on a sphere of `params` floats, then times `timed` more trials'
/// `ask` and suggestions (not their `tell`), and prints the mean per trial and per parameter
/// (wall time), per trial in CPU time, and the median trial's wall time (both steadier on a
/// loaded machine).
pub fn speed(a: &SpeedArgs) -> Result<(), CliError> {
    let study = study(Arc::new(TpeSampler::new(Some(a.seed))), 1)?;
    let names: Vec<String> = (0..a.params).map(|i| format!("x{i}")).collect();
    let mut timed = 0.0;
    let mut cpu = 0.0;
    let mut each = Vec::with_capacity(a.timed);
    for k in 0..a.trials + a.timed {
        let c0 = cpu_seconds();
        let t0 = Instant::now();
        let mut trial = study.ask().map_err(lib)?;
        let mut v = 0.0;
        for n in &names {
            let x = trial.suggest_float(n, -5.0, 5.0).map_err(lib)?;
            v += x * x;
        }
        if k >= a.trials {
            let wall = t0.elapsed().as_secs_f64();
            timed += wall;
            each.push(wall);
            cpu += cpu_seconds() - c0;
        }
        study.tell(&trial, TellResult::Complete(vec![v])).map_err(lib)?;
    }
    let per_trial = timed / a.timed as f64;
    each.sort_by(f64::total_cmp);
    let median = each.get(each.len() / 2).copied().unwrap_or(f64::NAN);
    let line = JsonValue::Object(vec![
        ("impl".into(), JsonValue::Str("trialog".into())),
        ("trials".into(), JsonValue::Int(a.trials as i64)),
        ("params".into(), JsonValue::Int(a.params as i64)),
        ("per_trial_ms".into(), JsonValue::Float(per_trial * 1e3)),
        ("per_param_ms".into(), JsonValue::Float(per_trial * 1e3 / a.params as f64)),
        ("cpu_per_trial_ms".into(), JsonValue::Float(cpu / a.timed as f64 * 1e3)),
        ("median_trial_ms".into(), JsonValue::Float(median * 1e3)),
    ]);
    let mut out = String::new();
    line.write(&mut out, ", ", ": ");
    println!("{out}");
    Ok(())
}
