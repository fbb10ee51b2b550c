//! Invariant: `RandomSampler` is reproducible and stays inside each distribution. The same seed
//! gives the same parameters for the same trial numbers in two separate storages (whatever the
//! order of suggestion), different seeds differ, and over many seeds every value lies within its
//! bounds, on its step grid, and (log scale) inside its range.

use std::sync::Arc;

use trialog::study::{RandomSampler, Study, TellResult};
use trialog::{JournalStorage, MemoryBackend, ParamValue, StudyDirection};

fn study(seed: u64) -> Study<JournalStorage<MemoryBackend>> {
    let storage = Arc::new(JournalStorage::new(MemoryBackend::new()).unwrap());
    Study::create(
        storage,
        Some("r"),
        &[StudyDirection::Minimize],
        Arc::new(RandomSampler::new(Some(seed))),
    )
    .unwrap()
}

/// Every kind of parameter, once, in `order`; returns them by name.
fn sample_all(
    study: &Study<JournalStorage<MemoryBackend>>,
    reverse: bool,
) -> Vec<(String, ParamValue)> {
    let mut t = study.ask().unwrap();
    let mut names = vec!["f", "flog", "fstep", "i", "ilog", "istep", "c"];
    if reverse {
        names.reverse();
    }
    let mut out = Vec::new();
    for name in names {
        let v = match name {
            "f" => ParamValue::Float(t.suggest_float(name, -3.0, 7.5).unwrap()),
            "flog" => ParamValue::Float(t.suggest_float_log(name, 1e-5, 1e2).unwrap()),
            "fstep" => ParamValue::Float(t.suggest_float_step(name, -1.0, 1.0, 0.25).unwrap()),
            "i" => ParamValue::Int(t.suggest_int(name, -5, 5).unwrap()),
            "ilog" => ParamValue::Int(t.suggest_int_log(name, 1, 1000).unwrap()),
            "istep" => ParamValue::Int(t.suggest_int_step(name, 3, 30, 4).unwrap()),
            "c" => t
                .suggest_categorical(
                    name,
                    vec![ParamValue::Str("a".into()), ParamValue::Int(2), ParamValue::Null],
                )
                .unwrap(),
            _ => unreachable!(),
        };
        out.push((name.to_owned(), v));
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    study.tell(&t, TellResult::Complete(vec![0.0])).unwrap();
    out
}

#[test]
fn same_seed_same_params_for_trials_0_to_20() {
    let (a, b) = (study(42), study(42));
    for _ in 0..20 {
        // Different suggestion order in the two studies: values depend on names, not order.
        assert_eq!(sample_all(&a, false), sample_all(&b, true));
    }
}

#[test]
fn different_seeds_differ() {
    let (a, b) = (study(1), study(2));
    let pa: Vec<_> = (0..20).map(|_| sample_all(&a, false)).collect();
    let pb: Vec<_> = (0..20).map(|_| sample_all(&b, false)).collect();
    assert_ne!(pa, pb);
    // The continuous parameter differs in (almost) every trial.
    let same = pa.iter().zip(&pb).filter(|(x, y)| x[1] == y[1]).count();
    assert!(same <= 1, "{same} identical float draws");
}

#[test]
fn values_stay_in_bounds_on_grids_and_in_log_ranges() {
    let mut seen_i = std::collections::BTreeSet::new();
    for seed in 0..200 {
        let s = study(seed);
        for _ in 0..5 {
            let mut t = s.ask().unwrap();
            let f = t.suggest_float("f", -3.0, 7.5).unwrap();
            assert!((-3.0..=7.5).contains(&f), "f={f}");
            let fl = t.suggest_float_log("flog", 1e-5, 1e2).unwrap();
            assert!((1e-5..=1e2).contains(&fl), "flog={fl}");
            let fs = t.suggest_float_step("fstep", -1.0, 1.0, 0.25).unwrap();
            let k = (fs + 1.0) / 0.25;
            assert!((-1.0..=1.0).contains(&fs) && (k - k.round()).abs() < 1e-9, "fstep={fs}");
            // high is adjusted down onto the grid: 0.0 + k*0.3 <= 1.0 -> at most 0.9.
            let fs2 = t.suggest_float_step("fstep2", 0.0, 1.0, 0.3).unwrap();
            assert!(fs2 <= 0.9 + 1e-12, "fstep2={fs2}");
            let i = t.suggest_int("i", -5, 5).unwrap();
            assert!((-5..=5).contains(&i));
            seen_i.insert(i);
            let il = t.suggest_int_log("ilog", 1, 1000).unwrap();
            assert!((1..=1000).contains(&il));
            let is = t.suggest_int_step("istep", 3, 30, 4).unwrap();
            assert!((3..=27).contains(&is) && (is - 3) % 4 == 0, "istep={is}");
            let one = t.suggest_int("one", 7, 7).unwrap();
            assert_eq!(one, 7);
            let fixed = t.suggest_float("same", 2.0, 2.0).unwrap();
            assert_eq!(fixed, 2.0);
            let c =
                t.suggest_categorical("c", vec![ParamValue::Int(1), ParamValue::Int(2)]).unwrap();
            assert!(matches!(c, ParamValue::Int(1 | 2)));
            s.tell(&t, TellResult::Complete(vec![0.0])).unwrap();
        }
    }
    // Inclusive bounds: both ends are reached.
    assert_eq!(seen_i, (-5..=5).collect());
}

#[test]
fn log_scale_is_uniform_in_log_space() {
    // Over [1e-4, 1]: about a quarter of draws fall in each decade.
    let s = study(9);
    let mut below_1e_2 = 0;
    let n = 2000;
    for _ in 0..n {
        let mut t = s.ask().unwrap();
        if t.suggest_float_log("x", 1e-4, 1.0).unwrap() < 1e-2 {
            below_1e_2 += 1;
        }
        s.tell(&t, TellResult::Complete(vec![0.0])).unwrap();
    }
    assert!((800..1200).contains(&below_1e_2), "{below_1e_2} of {n} below 1e-2");
}
