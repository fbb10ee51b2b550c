//! A trial's stdout and stderr kept as artifacts of the trial (Optuna's `artifacts:<id>` links,
//! so `trialog artifacts list|get` and optuna-dashboard show them), uploaded before the trial is
//! finished (a finished trial's attributes cannot change).

use std::fs::File;
use std::path::Path;

use crate::artifacts::{ArtifactStore, Target, upload_artifact_from};
use crate::error::Error;
use crate::storage::Storage;

/// The artifact name of a trial's stdout.
pub const STDOUT_NAME: &str = "stdout.txt";
/// The artifact name of a trial's stderr.
pub const STDERR_NAME: &str = "stderr.txt";

/// Uploads the non-empty log files `(name, path)` and links them to trial `trial_id`. Returns
/// `false` when the trial is already finished (lost to another runner). Any other failure only
/// loses that log: it goes to `warn`, and the trial's result is still told.
pub(crate) fn upload<S: Storage + ?Sized>(
    storage: &S,
    store: &dyn ArtifactStore,
    trial_id: u64,
    files: &[(&str, &Path)],
    warn: &mut dyn FnMut(String),
) -> bool {
    for (name, path) in files {
        let Ok(mut file) = File::open(path) else { continue };
        if file.metadata().map(|m| m.len()).unwrap_or(0) == 0 {
            continue;
        }
        match upload_artifact_from(
            storage,
            store,
            Target::Trial(trial_id),
            name,
            &mut file,
            Some("text/plain"),
            None,
        ) {
            Ok(_) => {}
            Err(Error::TrialFinished { .. }) => return false,
            // A broken journal shows again when the trial is told; a broken store only loses
            // this log.
            Err(e) => warn(format!("trial {trial_id}: {name} not kept: {e}")),
        }
    }
    true
}
