//! Cold replay: open a journal of N W1-shape trials (5 operations each) and read all trials,
//! the cost that Optuna pays in its constructor (peer workload W2).

use criterion::{Criterion, criterion_group, criterion_main};
use trialog::{Distribution, JournalStorage, MemoryBackend, StudyDirection, TrialState};

fn journal_bytes(n: u64) -> Vec<u8> {
    let s = JournalStorage::new(MemoryBackend::new()).unwrap();
    let study = s.create_new_study(&[StudyDirection::Minimize], Some("w2")).unwrap();
    let d = Distribution::float(-10.0, 10.0, false, None).unwrap();
    for i in 0..n {
        let x = (i % 20) as f64 - 10.0;
        let t = s.create_new_trial(study, None).unwrap();
        s.set_trial_param(t, "x", x, &d).unwrap();
        s.set_trial_param(t, "y", -x, &d).unwrap();
        s.set_trial_intermediate_value(t, 0, x).unwrap();
        s.set_trial_state_values(t, TrialState::Complete, Some(&[2.0 * x * x])).unwrap();
    }
    s.backend().to_bytes()
}

fn benches(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    for n in [1_000u64, 20_000] {
        let path = dir.path().join(format!("w2-{n}.journal"));
        std::fs::write(&path, journal_bytes(n)).unwrap();
        c.bench_function(&format!("replay/open_and_get_all/{n}_trials"), |b| {
            b.iter(|| {
                let s = JournalStorage::open(&path).unwrap();
                assert_eq!(s.get_all_trials(0, None).unwrap().len() as u64, n);
            })
        });
    }
}

criterion_group! { name = group; config = Criterion::default().sample_size(10); targets = benches }
criterion_main!(group);
