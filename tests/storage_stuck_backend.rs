//! A backend whose log goes on past the point its reads stop at (a recovery mode that stopped,
//! or a bug) answers every append with `Moved`: the write path must fail with a typed error
//! naming that position instead of spinning forever or writing behind it.

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};

use trialog::backend::AppendOutcome;
use trialog::journal::LogBatch;
use trialog::{Error, JournalStorage, LogBackend, StudyDirection};

#[derive(Default)]
struct StuckBackend {
    appends: AtomicU64,
}

impl LogBackend for StuckBackend {
    type WriteGuard<'a> = ();

    fn path(&self) -> &Path {
        Path::new("<stuck>")
    }

    fn read_from(
        &self,
        from: u64,
        _sink: &mut dyn FnMut(u64, &LogBatch) -> trialog::Result<()>,
    ) -> trialog::Result<u64> {
        Ok(from.max(16)) // never gets past offset 16
    }

    fn lock(&self) -> trialog::Result<()> {
        Ok(())
    }

    fn write_if(&self, _: &(), _: u64, _: &[LogBatch]) -> trialog::Result<AppendOutcome> {
        self.appends.fetch_add(1, Ordering::Relaxed);
        Ok(AppendOutcome::Moved)
    }

    fn sync_written(&self, _: &()) -> trialog::Result<()> {
        Ok(())
    }
}

#[test]
fn a_log_that_never_stops_moving_is_a_typed_error_not_a_spin() {
    let storage = JournalStorage::new(StuckBackend::default()).unwrap();
    match storage.create_new_study(&[StudyDirection::Minimize], Some("s")) {
        Err(Error::Corruption { offset, path, .. }) => {
            assert_eq!(offset, 16);
            assert_eq!(path, Path::new("<stuck>"));
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(storage.backend().appends.load(Ordering::Relaxed), 1, "gave up after one retry");
}
