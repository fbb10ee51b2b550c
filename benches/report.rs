//! The HTML report of a 100,000-trial study: statistics (importances, Pareto front, timeline
//! lanes) over every trial plus the page (the target is under 2 s and under 10 MB; the page size
//! is printed once). Single objective with three parameters, intermediate values and 2 % PRUNED
//! trials; and three objectives.

use std::sync::Arc;

use criterion::{Criterion, criterion_group, criterion_main};
use trialog::report::{Options, render};
use trialog::{
    Distribution, FrozenStudy, FrozenTrial, ParamValue, StudyDirection, Timestamp, TrialState,
};

fn study(directions: Vec<StudyDirection>) -> FrozenStudy {
    FrozenStudy {
        study_id: 0,
        study_name: "bench".into(),
        directions,
        user_attrs: Default::default(),
        system_attrs: Default::default(),
    }
}

fn trials(n: u64, objectives: usize) -> Vec<Arc<FrozenTrial>> {
    let fx = Arc::new(Distribution::float(-10.0, 10.0, false, None).unwrap());
    let lr = Arc::new(Distribution::float(1e-5, 1.0, true, None).unwrap());
    let opt = Arc::new(Distribution::categorical(vec!["adam".into(), "sgd".into()]).unwrap());
    let mut s = 0x9E37_79B9_7F4A_7C15u64;
    let mut r = move || {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        (s >> 11) as f64 / (1u64 << 53) as f64
    };
    (0..n)
        .map(|i| {
            let pruned = i % 50 == 7;
            let mut t = FrozenTrial::new(
                i,
                i,
                0,
                if pruned { TrialState::Pruned } else { TrialState::Complete },
            );
            let (x, l, o) = (r() * 20.0 - 10.0, 10f64.powf(-5.0 * r()), (r() * 2.0) as i64);
            t.params.insert("x".into(), ParamValue::Float(x));
            t.params.insert("lr".into(), ParamValue::Float(l));
            t.params
                .insert("optimizer".into(), ParamValue::Str(["adam", "sgd"][o as usize].into()));
            t.distributions.insert("x".into(), fx.clone());
            t.distributions.insert("lr".into(), lr.clone());
            t.distributions.insert("optimizer".into(), opt.clone());
            let v = x * x + (l.log10() + 3.0).powi(2) + o as f64;
            for step in 0..10 {
                t.intermediate_values.insert(step.into(), v + 10.0 / (step + 1) as f64);
            }
            if !pruned {
                t.values = Some((0..objectives).map(|k| v + k as f64 * r() * 10.0).collect());
            }
            t.datetime_start = Some(Timestamp(i as i64 * 2_500));
            t.datetime_complete = Some(Timestamp(i as i64 * 2_500 + 9_000));
            Arc::new(t)
        })
        .collect()
}

fn benches(c: &mut Criterion) {
    for objectives in [1usize, 3] {
        let dirs = vec![StudyDirection::Minimize; objectives];
        let st = study(dirs);
        let ts = trials(100_000, objectives);
        let opts = Options::at(Timestamp(300_000_000));
        let bytes = render(&st, &ts, &opts).len();
        eprintln!("report of 100000 trials, {objectives} objective(s): {bytes} bytes");
        c.bench_function(&format!("report/render/100k_trials_{objectives}_objectives"), |b| {
            b.iter(|| render(&st, &ts, &opts).len())
        });
    }
}

criterion_group! { name = group; config = Criterion::default().sample_size(10); targets = benches }
criterion_main!(group);
