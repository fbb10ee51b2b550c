//! `NsgaIISampler`: NSGA-II for multi-objective studies, with Optuna 5.0's defaults and its
//! bookkeeping in the journal (`optuna/samplers/nsgaii/`, `optuna/samplers/_ga/_base.py`).
//!
//! Trials are grouped into generations of `population_size` COMPLETE trials: a new trial joins
//! the latest generation until that generation has `population_size` COMPLETE trials, then the
//! next one; its generation is recorded in the trial's `NSGAIISampler:generation` system
//! attribute. The parents of generation `g` are the elite of generation `g - 1` and its own
//! parents (non-domination rank, then crowding distance within the last admitted rank); the first
//! process to need them records their trial ids in the study's `NSGAIISampler:parent:<g>` system
//! attribute, which every later suggestion uses. A child takes, with probability
//! `crossover_prob`, each parameter from one of two parents chosen by binary tournament (uniform
//! crossover, `swapping_prob`), otherwise a copy of one random parent; each parameter is then
//! dropped with probability `mutation_prob` (default `1 / n_params`) and drawn at random instead.
//! Generation 0 and parameters outside the shared search space are drawn at random.

use std::collections::BTreeMap;
use std::sync::Arc;

use super::pareto::{dominates, losses, non_domination_ranks};
use super::random::{RandomSampler, Seed, SplitMix64, stream};
use super::search_space::{intersection_search_space, single_value};
use super::{AttrWrites, RelativeSample, SampleContext, Sampler, SearchSpace};
use crate::error::{Error, Result};
use crate::model::{AttrValue, Distribution, FrozenTrial, StudyDirection, TrialState};

/// Trial system attribute holding the trial's generation (Optuna's key for `NSGAIISampler`).
pub const GENERATION_KEY: &str = "NSGAIISampler:generation";
/// Prefix of the study system attributes holding each generation's parent trial ids.
pub const PARENT_CACHE_KEY_PREFIX: &str = "NSGAIISampler:parent:";

/// The settings of an [`NsgaIISampler`]; [`Default`] gives Optuna 5.0's defaults.
#[derive(Debug, Clone, PartialEq)]
pub struct NsgaIIOptions {
    /// COMPLETE trials per generation (default 50; at least 2).
    pub population_size: usize,
    /// Probability that a child is a crossover of two parents (default 0.9).
    pub crossover_prob: f64,
    /// Probability that uniform crossover takes a parameter from the second parent (0.5).
    pub swapping_prob: f64,
    /// Probability that a parameter is redrawn at random; `None` (default): `1 / n_params`.
    pub mutation_prob: Option<f64>,
}

impl Default for NsgaIIOptions {
    fn default() -> Self {
        NsgaIIOptions {
            population_size: 50,
            crossover_prob: 0.9,
            swapping_prob: 0.5,
            mutation_prob: None,
        }
    }
}

/// The NSGA-II sampler (see the module docs). Seeded runs are reproducible for sequential
/// studies; all state but the seed lives in the journal.
///
/// State ([`Sampler::export_state`]): the seed.
#[derive(Debug, Clone)]
pub struct NsgaIISampler {
    seed: Seed,
    options: NsgaIIOptions,
    random: RandomSampler,
}

fn check_prob(name: &str, p: f64) -> Result<()> {
    if (0.0..=1.0).contains(&p) {
        Ok(())
    } else {
        Err(Error::invalid(format_args!("NSGA-II needs {name} in [0, 1], got {p}")))
    }
}

/// A study system attribute that names trials by id (a generation's parent cache), rewritten for
/// a copy of the study whose trial ids differ: `new_id` gives the copy's id of each original
/// trial id it holds. `Some(value)` unchanged for any other attribute; `None` for a cache that
/// names a trial the copy does not hold, which the copy must drop (NSGA-II selects those
/// parents again from the copied trials).
pub fn translate_trial_ids(
    key: &str,
    value: &AttrValue,
    new_id: &dyn Fn(u64) -> Option<u64>,
) -> Option<AttrValue> {
    if !key.starts_with(PARENT_CACHE_KEY_PREFIX) {
        return Some(value.clone());
    }
    let AttrValue::Array(ids) = value else { return None };
    ids.iter()
        .map(|v| match v {
            AttrValue::Int(id) => {
                let new = new_id(u64::try_from(*id).ok()?)?;
                Some(AttrValue::Int(i64::try_from(new).ok()?))
            }
            _ => None,
        })
        .collect::<Option<Vec<_>>>()
        .map(AttrValue::Array)
}

/// The generation recorded in a trial, if any.
fn generation_of(t: &FrozenTrial) -> Option<i64> {
    match t.system_attrs.get(GENERATION_KEY) {
        Some(AttrValue::Int(g)) => Some(*g),
        Some(AttrValue::Float(g)) if g.fract() == 0.0 => Some(*g as i64),
        _ => None,
    }
}

/// Optuna's crowding-distance sort of one rank: descending distance, ties in the order the
/// per-objective sorts leave them, reversed.
fn crowding_distance_sort(individuals: &mut [Arc<FrozenTrial>]) {
    let n_obj = individuals.first().and_then(|t| t.values.as_ref()).map_or(0, |v| v.len());
    let value = |t: &FrozenTrial, i: usize| {
        t.values.as_ref().and_then(|v| v.get(i).copied()).unwrap_or(f64::NAN)
    };
    let mut distance: BTreeMap<u64, f64> = individuals.iter().map(|t| (t.number, 0.0)).collect();
    for i in 0..n_obj {
        individuals.sort_by(|a, b| {
            value(a, i).partial_cmp(&value(b, i)).unwrap_or(std::cmp::Ordering::Equal)
        });
        let n = individuals.len();
        if value(&individuals[0], i) == value(&individuals[n - 1], i) {
            continue;
        }
        let mut vs = Vec::with_capacity(n + 2);
        vs.push(f64::NEG_INFINITY);
        vs.extend(individuals.iter().map(|t| value(t, i)));
        vs.push(f64::INFINITY);
        let v_min = vs.iter().copied().find(|x| *x != f64::NEG_INFINITY).unwrap_or(0.0);
        let v_max = vs.iter().rev().copied().find(|x| *x != f64::INFINITY).unwrap_or(0.0);
        let mut width = v_max - v_min;
        if width <= 0.0 || width.is_nan() {
            width = 1.0;
        }
        for j in 0..n {
            let gap = if vs[j] == vs[j + 2] { 0.0 } else { vs[j + 2] - vs[j] };
            *distance.entry(individuals[j].number).or_default() += gap / width;
        }
    }
    individuals.sort_by(|a, b| {
        distance[&a.number].partial_cmp(&distance[&b.number]).unwrap_or(std::cmp::Ordering::Equal)
    });
    individuals.reverse();
}

/// The `population_size` best of `population` (Optuna's `NSGAIIElitePopulationSelectionStrategy`
/// without constraints).
fn select_elite(
    population: Vec<Arc<FrozenTrial>>,
    directions: &[StudyDirection],
    population_size: usize,
) -> Vec<Arc<FrozenTrial>> {
    if population.is_empty() {
        return population;
    }
    let lvals: Vec<Vec<f64>> = population
        .iter()
        .map(|t| match &t.values {
            Some(v) if v.len() == directions.len() => losses(v, directions),
            _ => vec![f64::INFINITY; directions.len()],
        })
        .collect();
    let ranks = non_domination_ranks(&lvals, None);
    let max_rank = ranks.iter().copied().max().unwrap_or(0);
    let mut per_rank: Vec<Vec<Arc<FrozenTrial>>> = vec![Vec::new(); max_rank + 1];
    for (t, r) in population.into_iter().zip(ranks) {
        per_rank[r].push(t);
    }
    let mut elite = Vec::with_capacity(population_size);
    for mut individuals in per_rank {
        if elite.len() + individuals.len() < population_size {
            elite.extend(individuals);
        } else {
            let n = population_size - elite.len();
            crowding_distance_sort(&mut individuals);
            elite.extend(individuals.into_iter().take(n));
            break;
        }
    }
    elite
}

/// What the generation bookkeeping reads: all trials and the study's cached parent lists.
struct Generations<'a> {
    all: &'a [Arc<FrozenTrial>],
    study_attrs: &'a BTreeMap<String, AttrValue>,
    directions: &'a [StudyDirection],
    population_size: usize,
    computed: BTreeMap<i64, Vec<Arc<FrozenTrial>>>,
    writes: Vec<(String, AttrValue)>,
}

impl Generations<'_> {
    /// The COMPLETE trials of generation `g`, in number order.
    fn population(&self, g: i64) -> Vec<Arc<FrozenTrial>> {
        self.all
            .iter()
            .filter(|t| t.state == TrialState::Complete && generation_of(t) == Some(g))
            .cloned()
            .collect()
    }

    /// The parents of generation `g` (none for generation 0): cached in the study, or selected
    /// now and queued for caching.
    fn parents(&mut self, g: i64) -> Vec<Arc<FrozenTrial>> {
        if g <= 0 {
            return Vec::new();
        }
        if let Some(p) = self.computed.get(&g) {
            return p.clone();
        }
        let key = format!("{PARENT_CACHE_KEY_PREFIX}{g}");
        let parents = if let Some(AttrValue::Array(ids)) = self.study_attrs.get(&key) {
            let ids: Vec<i64> = ids
                .iter()
                .filter_map(|v| if let AttrValue::Int(i) = v { Some(*i) } else { None })
                .collect();
            self.all.iter().filter(|t| ids.contains(&(t.trial_id as i64))).cloned().collect()
        } else {
            let mut candidates = self.population(g - 1);
            candidates.extend(self.parents(g - 1));
            let elite = select_elite(candidates, self.directions, self.population_size);
            let ids = elite.iter().map(|t| AttrValue::Int(t.trial_id as i64)).collect();
            self.writes.push((key, AttrValue::Array(ids)));
            elite
        };
        self.computed.insert(g, parents.clone());
        parents
    }
}

impl NsgaIISampler {
    /// A sampler with Optuna's defaults and `seed` (`None`: a fresh seed per sampler).
    pub fn new(seed: Option<u64>) -> Self {
        let seed = Seed::new(seed);
        let random = RandomSampler::new(Some(seed.get()));
        NsgaIISampler { seed, options: NsgaIIOptions::default(), random }
    }

    /// A sampler with `options`; `InvalidArgument` for a population below 2 or a probability
    /// outside `[0, 1]`.
    pub fn with_options(seed: Option<u64>, options: NsgaIIOptions) -> Result<Self> {
        if options.population_size < 2 {
            return Err(Error::invalid("NSGA-II needs population_size >= 2"));
        }
        check_prob("crossover_prob", options.crossover_prob)?;
        check_prob("swapping_prob", options.swapping_prob)?;
        if let Some(p) = options.mutation_prob {
            check_prob("mutation_prob", p)?;
        }
        Ok(NsgaIISampler { options, ..NsgaIISampler::new(seed) })
    }

    /// The seed in use.
    pub fn seed(&self) -> u64 {
        self.seed.get()
    }

    /// The generation a new trial joins (Optuna's `get_trial_generation`).
    fn new_generation(&self, all: &[Arc<FrozenTrial>]) -> i64 {
        let (mut max_generation, mut count) = (0_i64, 0_usize);
        for t in all.iter().rev().filter(|t| t.state == TrialState::Complete) {
            let g = generation_of(t).unwrap_or(-1);
            if g < max_generation {
                continue;
            }
            if g > max_generation {
                max_generation = g;
                count = 1;
            } else {
                count += 1;
            }
        }
        if count < self.options.population_size { max_generation } else { max_generation + 1 }
    }

    /// A binary tournament among `pool`: the first of two random picks if it dominates the
    /// second, else the second.
    fn tournament<'a>(
        rng: &mut SplitMix64,
        pool: &[&'a Arc<FrozenTrial>],
        directions: &[StudyDirection],
    ) -> &'a Arc<FrozenTrial> {
        let n = pool.len() as u64 - 1;
        let c0 = pool[rng.below_inclusive(n) as usize];
        let c1 = pool[rng.below_inclusive(n) as usize];
        let l = |t: &FrozenTrial| t.values.as_ref().map(|v| losses(v, directions));
        match (l(c0), l(c1)) {
            (Some(a), Some(b)) if dominates(&a, &b) => c0,
            _ => c1,
        }
    }

    /// A child of `parents` over `space` (internal values; parameters a parent lacks or that
    /// fall outside `space` are left to independent sampling).
    fn child(
        &self,
        rng: &mut SplitMix64,
        parents: &[Arc<FrozenTrial>],
        space: &SearchSpace,
        directions: &[StudyDirection],
    ) -> BTreeMap<String, f64> {
        let internal = |t: &FrozenTrial, name: &str, dist: &Distribution| {
            let x = dist.to_internal(t.params.get(name)?).ok()?;
            dist.contains(x).then_some(x)
        };
        let mut child: Vec<(&String, Option<f64>)> = Vec::with_capacity(space.len());
        if rng.next_f64() < self.options.crossover_prob && parents.len() >= 2 {
            let pool: Vec<&Arc<FrozenTrial>> = parents.iter().collect();
            let p0 = Self::tournament(rng, &pool, directions);
            let rest: Vec<&Arc<FrozenTrial>> =
                pool.iter().copied().filter(|t| t.trial_id != p0.trial_id).collect();
            let p1 = Self::tournament(rng, &rest, directions);
            // Optuna draws the categorical masks first, then the numerical ones.
            let (cat, num): (Vec<_>, Vec<_>) =
                space.iter().partition(|(_, d)| matches!(d, Distribution::Categorical(_)));
            for (name, dist) in cat.into_iter().chain(num) {
                let from = if rng.next_f64() >= self.options.swapping_prob { p1 } else { p0 };
                child.push((name, internal(from, name, dist)));
            }
        } else {
            let p = &parents[rng.below_inclusive(parents.len() as u64 - 1) as usize];
            child.extend(space.iter().map(|(name, dist)| (name, internal(p, name, dist))));
        }
        let mutation_prob = self.options.mutation_prob.unwrap_or(1.0 / (child.len().max(1) as f64));
        let mut params = BTreeMap::new();
        for (name, value) in child {
            if rng.next_f64() >= mutation_prob {
                if let Some(x) = value {
                    params.insert(name.clone(), x);
                }
            }
        }
        params
    }
}

impl Sampler for NsgaIISampler {
    fn sample(&self, ctx: &SampleContext<'_>, name: &str, dist: &Distribution) -> Result<f64> {
        self.random.sample(ctx, name, dist)
    }

    fn infer_relative_search_space(&self, ctx: &SampleContext<'_>) -> Result<SearchSpace> {
        let complete = ctx.trials(Some(&[TrialState::Complete]))?;
        let mut space = intersection_search_space(&complete, false);
        space.retain(|_, d| single_value(d).is_none());
        Ok(space)
    }

    fn sample_relative(
        &self,
        ctx: &SampleContext<'_>,
        space: &SearchSpace,
    ) -> Result<RelativeSample> {
        let all = ctx.trials(None)?;
        let mut writes = AttrWrites::default();
        let current = all.iter().find(|t| t.number == ctx.trial_number);
        let generation = match current.and_then(|t| generation_of(t)) {
            Some(g) => g,
            None => {
                let g = self.new_generation(&all);
                writes.trial.push((GENERATION_KEY.to_owned(), AttrValue::Int(g)));
                g
            }
        };
        let study_attrs = ctx.study_system_attrs()?;
        let mut gens = Generations {
            all: &all,
            study_attrs: &study_attrs,
            directions: ctx.directions,
            population_size: self.options.population_size,
            computed: BTreeMap::new(),
            writes: Vec::new(),
        };
        let parents = gens.parents(generation);
        writes.study = gens.writes;
        if parents.is_empty() || space.is_empty() {
            return Ok(RelativeSample { params: BTreeMap::new(), writes });
        }
        let mut rng = stream(self.seed.get() ^ 0x6e73_6761_325f_6761, ctx.draw_number, "\0nsga2");
        let params = self.child(&mut rng, &parents, space, ctx.directions);
        Ok(RelativeSample { params, writes })
    }

    fn export_state(&self) -> Result<Option<Vec<u8>>> {
        Ok(Some(self.seed.export(KIND)))
    }

    fn import_state(&self, state: &[u8]) -> Result<()> {
        let seed = Seed::decode(KIND, state)?;
        self.seed.set(seed);
        self.random.set_seed(seed);
        Ok(())
    }
}

/// The kind name in an [`NsgaIISampler`]'s exported state.
const KIND: &str = "NsgaIISampler";

#[cfg(test)]
mod tests {
    use super::*;

    fn complete(number: u64, values: [f64; 2], generation: Option<i64>) -> Arc<FrozenTrial> {
        let mut t = FrozenTrial::new(number, number, 0, TrialState::Complete);
        t.values = Some(values.into());
        if let Some(g) = generation {
            t.system_attrs.insert(GENERATION_KEY.into(), AttrValue::Int(g));
        }
        Arc::new(t)
    }

    #[test]
    fn parent_caches_are_translated_or_dropped() {
        let key = format!("{PARENT_CACHE_KEY_PREFIX}2");
        let cache = AttrValue::Array(vec![AttrValue::Int(5), AttrValue::Int(7)]);
        let shift = |id: u64| (id < 10).then_some(id + 100);
        assert_eq!(
            translate_trial_ids(&key, &cache, &shift),
            Some(AttrValue::Array(vec![AttrValue::Int(105), AttrValue::Int(107)]))
        );
        let beyond = AttrValue::Array(vec![AttrValue::Int(5), AttrValue::Int(12)]);
        assert_eq!(translate_trial_ids(&key, &beyond, &shift), None);
        let other = AttrValue::Int(12);
        assert_eq!(translate_trial_ids("grid:enqueued", &other, &shift), Some(other));
    }

    #[test]
    fn generations_advance_after_population_size_complete_trials() {
        let s = NsgaIISampler::with_options(
            Some(1),
            NsgaIIOptions { population_size: 3, ..NsgaIIOptions::default() },
        )
        .unwrap();
        let mut all = vec![complete(0, [1.0, 1.0], Some(0)), complete(1, [1.0, 1.0], Some(0))];
        assert_eq!(s.new_generation(&all), 0);
        all.push(complete(2, [1.0, 1.0], Some(0)));
        assert_eq!(s.new_generation(&all), 1);
        all.push(complete(3, [1.0, 1.0], Some(1)));
        assert_eq!(s.new_generation(&all), 1);
        assert_eq!(s.new_generation(&[]), 0);
    }

    #[test]
    fn elite_keeps_fronts_then_the_least_crowded() {
        // Front 0: (0,4) (1,3) (2,2) (3,1) (4,0); front 1: (5,5).
        let pop: Vec<_> = [[0.0, 4.0], [1.0, 3.0], [2.0, 2.0], [3.0, 1.0], [4.0, 0.0], [5.0, 5.0]]
            .iter()
            .enumerate()
            .map(|(i, v)| complete(i as u64, *v, None))
            .collect();
        let dirs = [StudyDirection::Minimize, StudyDirection::Minimize];
        let elite = select_elite(pop.clone(), &dirs, 3);
        let numbers: Vec<u64> = elite.iter().map(|t| t.number).collect();
        // The two extremes (infinite distance) first, then an interior point.
        assert!(numbers.contains(&0) && numbers.contains(&4), "{numbers:?}");
        assert!(!numbers.contains(&5));
        let all = select_elite(pop, &dirs, 6);
        assert_eq!(all.len(), 6);
    }
}
