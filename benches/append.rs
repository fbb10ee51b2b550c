//! Durable append latency: one `set_trial_intermediate_value` (lock, sync, validate, append,
//! fdatasync, apply) on a file journal, and the same on the in-memory backend (no fsync), which
//! isolates trialog's own overhead from the disk's.

use criterion::{Criterion, criterion_group, criterion_main};
use trialog::{JournalStorage, LogBackend, MemoryBackend, StudyDirection};

fn append<B: LogBackend>(c: &mut Criterion, name: &str, storage: JournalStorage<B>) {
    let study = storage.create_new_study(&[StudyDirection::Minimize], Some("bench")).unwrap();
    let trial = storage.create_new_trial(study, None).unwrap();
    let mut step = 0;
    c.bench_function(name, |b| {
        b.iter(|| {
            step += 1;
            storage.set_trial_intermediate_value(trial, step, 0.5).unwrap();
        })
    });
}

fn benches(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    append(c, "append/file_fdatasync", JournalStorage::open(dir.path().join("j")).unwrap());
    append(c, "append/memory", JournalStorage::new(MemoryBackend::new()).unwrap());
}

criterion_group! { name = group; config = Criterion::default().sample_size(20); targets = benches }
criterion_main!(group);
