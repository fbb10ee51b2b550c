//! TPE and NSGA-II through the study API: reproducibility with a seed, every distribution kind,
//! continuing a study in a fresh handle from the journal alone, dynamic search spaces, the
//! relative-parameter bookkeeping, multi-objective studies, and the default sampler.

use std::sync::Arc;

use trialog::study::sampler::{NsgaIIOptions, TpeOptions};
use trialog::study::{
    NsgaIISampler, RandomSampler, Sampler, Study, TellResult, TpeSampler, create_study,
};
use trialog::{AttrValue, JournalStorage, MemoryBackend, ParamValue, StudyDirection, TrialState};

type Mem = Study<JournalStorage<MemoryBackend>>;

fn new_study(sampler: Arc<dyn Sampler>, directions: &[StudyDirection]) -> Mem {
    let storage = Arc::new(JournalStorage::new(MemoryBackend::new()).unwrap());
    Study::create(storage, Some("s"), directions, sampler).unwrap()
}

fn sphere(study: &Mem, n: usize) -> Vec<Vec<f64>> {
    let mut out = Vec::new();
    for _ in 0..n {
        let mut t = study.ask().unwrap();
        let x = t.suggest_float("x", -5.0, 5.0).unwrap();
        let y = t.suggest_float("y", -5.0, 5.0).unwrap();
        out.push(vec![x, y]);
        study.tell(&t, TellResult::Complete(vec![x * x + y * y])).unwrap();
    }
    out
}

#[test]
fn a_seed_makes_a_run_reproducible() {
    let a =
        sphere(&new_study(Arc::new(TpeSampler::new(Some(42))), &[StudyDirection::Minimize]), 30);
    let b =
        sphere(&new_study(Arc::new(TpeSampler::new(Some(42))), &[StudyDirection::Minimize]), 30);
    let c =
        sphere(&new_study(Arc::new(TpeSampler::new(Some(43))), &[StudyDirection::Minimize]), 30);
    assert_eq!(a, b);
    assert_ne!(a[..10], c[..10], "another seed, other startup trials");
    assert_ne!(a[10..], c[10..], "another seed, other TPE trials");
}

#[test]
fn tpe_beats_random_on_a_sphere() {
    // Medians over seeds: TPE's best after 60 trials is far below random's.
    let best = |s: Arc<dyn Sampler>| {
        let st = new_study(s, &[StudyDirection::Minimize]);
        sphere(&st, 60);
        st.best_value().unwrap()
    };
    let mut tpe: Vec<f64> = (0..7).map(|s| best(Arc::new(TpeSampler::new(Some(s))))).collect();
    let mut rnd: Vec<f64> = (0..7).map(|s| best(Arc::new(RandomSampler::new(Some(s))))).collect();
    tpe.sort_by(f64::total_cmp);
    rnd.sort_by(f64::total_cmp);
    assert!(tpe[3] < rnd[3] / 3.0, "TPE median {} vs random median {}", tpe[3], rnd[3]);
}

#[test]
fn a_fresh_handle_continues_from_the_journal_alone() {
    // 25 trials in one handle, then 15 in a second handle (a new sampler with the same seed, as
    // a new process would build): the same trials as one uninterrupted run of 40.
    let whole =
        sphere(&new_study(Arc::new(TpeSampler::new(Some(5))), &[StudyDirection::Minimize]), 40);
    let first = new_study(Arc::new(TpeSampler::new(Some(5))), &[StudyDirection::Minimize]);
    let mut parts = sphere(&first, 25);
    let second =
        Study::load(Arc::clone(first.storage()), "s", Arc::new(TpeSampler::new(Some(5)))).unwrap();
    parts.extend(sphere(&second, 15));
    assert_eq!(parts, whole);
}

#[test]
fn every_distribution_kind_stays_in_range() {
    let choices = vec![
        ParamValue::Str("adam".into()),
        ParamValue::Str("sgd".into()),
        ParamValue::Null,
        ParamValue::Int(3),
    ];
    for multivariate in [Some(true), Some(false)] {
        let opts = TpeOptions { multivariate, ..TpeOptions::default() };
        let study = new_study(
            Arc::new(TpeSampler::with_options(Some(9), opts).unwrap()),
            &[StudyDirection::Minimize],
        );
        for _ in 0..40 {
            let mut t = study.ask().unwrap();
            let a = t.suggest_float("a", -1.0, 1.0).unwrap();
            let b = t.suggest_float_log("b", 1e-5, 1.0).unwrap();
            let c = t.suggest_float_step("c", 0.0, 1.0, 0.25).unwrap();
            let d = t.suggest_int("d", -3, 3).unwrap();
            let e = t.suggest_int_step("e", 0, 22, 4).unwrap();
            let f = t.suggest_int_log("f", 1, 1000).unwrap();
            let g = t.suggest_categorical("g", choices.clone()).unwrap();
            let one = t.suggest_float("one", 2.0, 2.0).unwrap();
            assert!((-1.0..=1.0).contains(&a));
            assert!((1e-5..=1.0).contains(&b));
            assert!([0.0, 0.25, 0.5, 0.75, 1.0].contains(&c), "{c}");
            assert!((-3..=3).contains(&d));
            assert!(e % 4 == 0 && (0..=20).contains(&e), "{e}");
            assert!((1..=1000).contains(&f));
            assert!(choices.contains(&g));
            assert_eq!(one, 2.0);
            let cat = choices.iter().position(|x| *x == g).unwrap() as f64;
            let v = a * a
                + (b.log10() + 3.0).abs()
                + c
                + (d as f64).abs()
                + e as f64 / 10.0
                + (f as f64).ln()
                + cat;
            study.tell(&t, TellResult::Complete(vec![v])).unwrap();
        }
        // TPE learned: the last 15 trials are better on average than the 10 random ones.
        let trials = study.trials(Some(&[TrialState::Complete])).unwrap();
        let mean = |ts: &[Arc<trialog::FrozenTrial>]| {
            ts.iter().map(|t| t.value().unwrap()).sum::<f64>() / ts.len() as f64
        };
        assert!(
            mean(&trials[25..]) < mean(&trials[..10]),
            "multivariate {multivariate:?}: late {} vs startup {}",
            mean(&trials[25..]),
            mean(&trials[..10])
        );
    }
}

#[test]
fn joint_draws_are_recorded_for_other_workers_only_with_the_constant_liar() {
    for liar in [true, false] {
        let opts = TpeOptions { constant_liar: liar, ..TpeOptions::default() };
        let study = new_study(
            Arc::new(TpeSampler::with_options(Some(1), opts).unwrap()),
            &[StudyDirection::Minimize],
        );
        sphere(&study, 12);
        let last = study.trials(None).unwrap().pop().unwrap();
        let first = study.trials(None).unwrap().remove(0);
        // Startup trials are drawn at random, one parameter at a time: nothing recorded.
        assert!(!first.system_attrs.contains_key("tpe:relative_params:0"));
        match last.system_attrs.get("tpe:relative_params:0") {
            Some(AttrValue::String(s)) => {
                assert!(liar);
                let x = last.params.get("x").unwrap();
                assert!(s.starts_with("{\"x\": ") && s.contains(&format!("{x}")), "{s} vs {x}");
            }
            other => assert!(!liar, "{other:?}"),
        }
    }
}

#[test]
fn dynamic_search_spaces_fall_back_to_independent_sampling() {
    let study = new_study(Arc::new(TpeSampler::new(Some(3))), &[StudyDirection::Minimize]);
    for _ in 0..40 {
        let mut t = study.ask().unwrap();
        let kind = t
            .suggest_categorical(
                "kind",
                vec![ParamValue::Str("a".into()), ParamValue::Str("b".into())],
            )
            .unwrap();
        let v = if kind == ParamValue::Str("a".into()) {
            t.suggest_float("x", -2.0, 2.0).unwrap().powi(2)
        } else {
            1.0 + t.suggest_int("n", 0, 9).unwrap() as f64
        };
        study.tell(&t, TellResult::Complete(vec![v])).unwrap();
    }
    assert!(study.best_value().unwrap() < 0.5);
}

fn zdt1(x: &[f64]) -> [f64; 2] {
    let f1 = x[0];
    let g = 1.0 + 9.0 * x[1..].iter().sum::<f64>() / (x.len() - 1) as f64;
    [f1, g * (1.0 - (f1 / g).sqrt())]
}

fn run_zdt1(study: &Mem, n: usize) {
    for _ in 0..n {
        let mut t = study.ask().unwrap();
        let x: Vec<f64> =
            (0..4).map(|i| t.suggest_float(&format!("x{i}"), 0.0, 1.0).unwrap()).collect();
        study.tell(&t, TellResult::Complete(zdt1(&x).to_vec())).unwrap();
    }
}

#[test]
fn multi_objective_tpe_and_nsga2_run_and_record_generations() {
    let dirs = [StudyDirection::Minimize, StudyDirection::Minimize];
    let tpe = new_study(Arc::new(TpeSampler::new(Some(2))), &dirs);
    run_zdt1(&tpe, 40);
    assert!(!tpe.pareto_front().unwrap().is_empty());
    // Independent sampling for several objectives: no joint draws recorded.
    let last = tpe.trials(None).unwrap().pop().unwrap();
    assert!(!last.system_attrs.contains_key("tpe:relative_params:0"));

    let opts = NsgaIIOptions { population_size: 8, ..NsgaIIOptions::default() };
    let sampler = Arc::new(NsgaIISampler::with_options(Some(2), opts).unwrap());
    let nsga = new_study(sampler, &dirs);
    run_zdt1(&nsga, 40);
    let trials = nsga.trials(None).unwrap();
    let generation = |t: &trialog::FrozenTrial| match t.system_attrs.get("NSGAIISampler:generation")
    {
        Some(AttrValue::Int(g)) => *g,
        other => panic!("no generation: {other:?}"),
    };
    // Sequential: 8 trials per generation.
    for t in &trials {
        assert_eq!(generation(t), (t.number / 8) as i64, "trial {}", t.number);
    }
    let attrs = nsga.storage().get_study_system_attrs(nsga.id()).unwrap();
    for g in 1..5 {
        let Some(AttrValue::Array(ids)) = attrs.get(&format!("NSGAIISampler:parent:{g}")) else {
            panic!("no parents cached for generation {g}: {attrs:?}")
        };
        assert_eq!(ids.len(), 8);
    }
    // Children inherit: in generation 4 most parameters equal some parent's value.
    let all_values: Vec<&ParamValue> =
        trials[..32].iter().flat_map(|t| t.params.values()).collect();
    let inherited = trials[32..]
        .iter()
        .flat_map(|t| t.params.values())
        .filter(|v| all_values.contains(v))
        .count();
    assert!(inherited >= 16, "only {inherited} of 32 parameters inherited");
    // Reproducible with the seed.
    let again = new_study(
        Arc::new(
            NsgaIISampler::with_options(
                Some(2),
                NsgaIIOptions { population_size: 8, ..NsgaIIOptions::default() },
            )
            .unwrap(),
        ),
        &dirs,
    );
    run_zdt1(&again, 40);
    let params = |s: &Mem| -> Vec<Vec<ParamValue>> {
        s.trials(None).unwrap().iter().map(|t| t.params.values().cloned().collect()).collect()
    };
    assert_eq!(params(&nsga), params(&again));
}

#[test]
fn tpe_is_the_default_sampler() {
    let storage = Arc::new(JournalStorage::new(MemoryBackend::new()).unwrap());
    let study = create_study(storage, None, &[StudyDirection::Minimize]).unwrap();
    assert!(format!("{:?}", study.sampler()).starts_with("TpeSampler"));
    assert!(format!("{:?}", study.pruner()).starts_with("MedianPruner"));
    sphere(&study, 12);
    let last = study.trials(None).unwrap().pop().unwrap();
    assert!(last.system_attrs.contains_key("tpe:relative_params:0"));
}
