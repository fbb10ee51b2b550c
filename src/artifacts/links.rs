//! Links between artifacts and the trials and studies that own them: Optuna's system attribute
//! `artifacts:<id>`, written after the bytes and removed (tombstoned) before them.

use std::collections::BTreeSet;
use std::fmt;
use std::fs::File;
use std::path::Path;

use crate::error::{Error, Result};
use crate::model::AttrValue;
use crate::storage::Storage;

use super::transfer::HashingReader;
use super::{ArtifactId, ArtifactMeta, ArtifactSource, ArtifactStore, guess_type};

/// Prefix of the system attribute that links an artifact (Optuna's `ARTIFACTS_ATTR_PREFIX`).
pub const ARTIFACTS_ATTR_PREFIX: &str = "artifacts:";

/// Prefix of the study system attributes where old optuna-dashboard versions linked trial
/// artifacts (`dashboard:artifacts:<trial_id>:<id>`); read so that nothing they link is
/// collected.
const DASHBOARD_PREFIX: &str = "dashboard:artifacts:";

/// The MIME type Optuna records when it knows none.
const DEFAULT_MIME_TYPE: &str = "application/octet-stream";

/// The tombstone optuna-dashboard writes over a deleted artifact's link: `json.dumps(None)`.
const TOMBSTONE: &str = "null";

/// What an artifact is linked to: a study (by study id) or a trial (by trial id).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Target {
    /// A study's system attributes.
    Study(u64),
    /// A trial's system attributes (which change only while the trial is unfinished).
    Trial(u64),
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Target::Study(id) => write!(f, "study {id}"),
            Target::Trial(id) => write!(f, "trial {id}"),
        }
    }
}

/// A live link: where it is, and what it records.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Linked {
    /// The study or trial holding the link.
    pub target: Target,
    /// The trial's number in its study (for a trial link).
    pub trial_number: Option<u64>,
    /// The study holding the link or the trial.
    pub study_id: u64,
    /// What the link records.
    pub meta: ArtifactMeta,
}

/// Uploads the file at `path` to `store` and links it to `target`; returns the new id.
/// The link's filename is the path's last component; `mimetype` and `encoding` default to
/// [`guess_type`]'s guess (as Optuna's do). See [`upload_artifact_from`].
pub fn upload_artifact<S: Storage + ?Sized>(
    storage: &S,
    store: &dyn ArtifactStore,
    target: Target,
    path: &Path,
    mimetype: Option<&str>,
    encoding: Option<&str>,
) -> Result<ArtifactId> {
    let filename = path.file_name().map(|n| n.to_string_lossy().into_owned()).ok_or_else(|| {
        Error::invalid(format!("{} does not name a file to upload", path.display()))
    })?;
    let mut file = File::open(path).map_err(|e| Error::io("open", path, e))?;
    let meta =
        upload_artifact_from(storage, store, target, &filename, &mut file, mimetype, encoding)?;
    Ok(meta.artifact_id)
}

/// Uploads everything `body` yields to `store` under a fresh id, then links it to `target` under
/// the name `filename` (shown only, never used as a path), and returns the link's content.
///
/// Order and guarantees, unlike Optuna's (which links first): the target is checked first (a
/// finished trial is refused with [`Error::TrialFinished`] before any byte moves); the bytes are
/// stored and made durable; only then is the link written, recording the size and SHA-256 of
/// exactly the bytes sent. A crash or error before the link leaves no link (at most unlinked
/// bytes, which [`collect_garbage`](super::collect_garbage) removes after its grace period); if
/// writing the link fails, the bytes are removed again.
pub fn upload_artifact_from<S: Storage + ?Sized>(
    storage: &S,
    store: &dyn ArtifactStore,
    target: Target,
    filename: &str,
    body: &mut dyn ArtifactSource,
    mimetype: Option<&str>,
    encoding: Option<&str>,
) -> Result<ArtifactMeta> {
    check_writable(storage, target)?;
    let id = ArtifactId::new();
    let mut hashing = HashingReader::new(body);
    let stored = store.put(&id, &mut hashing)?;
    let digest = match hashing.digest() {
        Some(d) if d.size == stored => d,
        _ => {
            let _ = store.remove(&id);
            return Err(Error::invalid(format!(
                "the source of artifact {id} changed position during the upload; nothing was linked"
            )));
        }
    };
    let (guess_mime, guess_enc) = guess_type(filename);
    let meta = ArtifactMeta {
        artifact_id: id,
        filename: filename.to_owned(),
        mimetype: mimetype.or(guess_mime).unwrap_or(DEFAULT_MIME_TYPE).to_owned(),
        encoding: encoding.or(guess_enc).map(str::to_owned),
        size: Some(digest.size),
        sha256: Some(digest.sha256_hex()),
    };
    if let Err(e) = set_link(storage, target, &meta.artifact_id, meta.to_link()) {
        if let Err(cleanup) = store.remove(&meta.artifact_id) {
            log::warn!("could not remove the unlinked artifact {}: {cleanup}", meta.artifact_id);
        }
        return Err(e);
    }
    Ok(meta)
}

/// Fails unless a link can be written to `target`: the study exists, or the trial exists and is
/// unfinished.
fn check_writable<S: Storage + ?Sized>(storage: &S, target: Target) -> Result<()> {
    match target {
        Target::Study(id) => storage.get_study_system_attrs(id).map(drop),
        Target::Trial(id) => {
            let t = storage.get_trial(id)?;
            if t.state.is_finished() {
                return Err(Error::TrialFinished {
                    trial_id: id,
                    number: t.number,
                    state: t.state,
                });
            }
            Ok(())
        }
    }
}

fn set_link<S: Storage + ?Sized>(
    storage: &S,
    target: Target,
    id: &ArtifactId,
    value: AttrValue,
) -> Result<()> {
    let key = format!("{ARTIFACTS_ATTR_PREFIX}{id}");
    match target {
        Target::Study(s) => storage.set_study_system_attr(s, &key, value),
        Target::Trial(t) => storage.set_trial_system_attr(t, &key, value),
    }
}

/// The artifacts linked to `target`, as Optuna's `get_all_artifact_meta` lists them, without
/// the links optuna-dashboard deleted (JSON `null` tombstones). For a trial, links old
/// optuna-dashboard versions kept in the study's system attributes are included, as the
/// dashboard shows them. A link that is not in Optuna's format is an
/// [`Error::BadArtifactLink`] naming it.
pub fn list_artifacts<S: Storage + ?Sized>(
    storage: &S,
    target: Target,
) -> Result<Vec<ArtifactMeta>> {
    let owner = target.to_string();
    let mut out = Vec::new();
    match target {
        Target::Study(id) => {
            for (key, value) in &storage.get_study_system_attrs(id)? {
                if key.starts_with(ARTIFACTS_ATTR_PREFIX) {
                    out.extend(ArtifactMeta::from_link(&owner, key, value)?);
                }
            }
        }
        Target::Trial(id) => {
            let trial = storage.get_trial(id)?;
            let legacy = format!("{DASHBOARD_PREFIX}{id}:");
            for (key, value) in &storage.get_study_system_attrs(trial.study_id)? {
                if key.starts_with(&legacy) {
                    out.extend(ArtifactMeta::from_link(
                        &format!("study {}", trial.study_id),
                        key,
                        value,
                    )?);
                }
            }
            for (key, value) in trial.system_attrs.iter() {
                if key.starts_with(ARTIFACTS_ATTR_PREFIX) {
                    out.extend(ArtifactMeta::from_link(&owner, key, value)?);
                }
            }
        }
    }
    Ok(out)
}

/// Every link in the storage, read once: the live links, the malformed ones (as errors), and
/// every id anything refers to (live links, the keys of malformed links, old dashboard links),
/// which garbage collection must keep.
pub(crate) struct Scan {
    pub(crate) links: Vec<Linked>,
    pub(crate) bad: Vec<Error>,
    pub(crate) referenced: BTreeSet<ArtifactId>,
}

/// Scans every study, or only study `only`.
pub(crate) fn scan<S: Storage + ?Sized>(storage: &S, only: Option<u64>) -> Result<Scan> {
    let mut scan = Scan { links: Vec::new(), bad: Vec::new(), referenced: BTreeSet::new() };
    let studies = storage.get_all_studies()?;
    for study in studies.into_iter().filter(|s| only.is_none_or(|id| id == s.study_id)) {
        let owner = format!("study {}", study.study_id);
        let attrs = study.system_attrs.iter();
        scan.add(Target::Study(study.study_id), None, study.study_id, &owner, attrs);
        for trial in storage.get_all_trials(study.study_id, None)? {
            let owner = format!("trial {}", trial.trial_id);
            let target = Target::Trial(trial.trial_id);
            scan.add(target, Some(trial.number), study.study_id, &owner, trial.system_attrs.iter());
        }
    }
    Ok(scan)
}

impl Scan {
    fn add<'a>(
        &mut self,
        target: Target,
        trial_number: Option<u64>,
        study_id: u64,
        owner: &str,
        attrs: impl Iterator<Item = (&'a String, &'a AttrValue)>,
    ) {
        for (key, value) in attrs {
            let legacy = key.strip_prefix(DASHBOARD_PREFIX).and_then(|rest| rest.split_once(':'));
            let Some(suffix) = key.strip_prefix(ARTIFACTS_ATTR_PREFIX).or(legacy.map(|(_, id)| id))
            else {
                continue;
            };
            match ArtifactMeta::from_link(owner, key, value) {
                Ok(Some(meta)) => {
                    self.referenced.insert(meta.artifact_id.clone());
                    if legacy.is_none() {
                        self.links.push(Linked { target, trial_number, study_id, meta });
                    }
                }
                Ok(None) => {}
                Err(e) => {
                    self.referenced.extend(ArtifactId::parse(suffix).ok());
                    self.bad.push(e);
                }
            }
        }
    }
}

/// Every live artifact link of every study and trial (tombstones left out), or the first
/// malformed link as an [`Error::BadArtifactLink`].
pub fn list_all_links<S: Storage + ?Sized>(storage: &S) -> Result<Vec<Linked>> {
    let scan = scan(storage, None)?;
    match scan.bad.into_iter().next() {
        Some(e) => Err(e),
        None => Ok(scan.links),
    }
}

/// The live links of study `study_id` and of all its trials, the study's first (tombstones left
/// out), or the first malformed link as an [`Error::BadArtifactLink`].
pub fn list_study_links<S: Storage + ?Sized>(storage: &S, study_id: u64) -> Result<Vec<Linked>> {
    storage.get_study_system_attrs(study_id)?; // an unknown study is an error, not "no links"
    let scan = scan(storage, Some(study_id))?;
    match scan.bad.into_iter().next() {
        Some(e) => Err(e),
        None => Ok(scan.links),
    }
}

/// The live link of artifact `id`, wherever it is (`None` if nothing links it).
pub fn find_link<S: Storage + ?Sized>(storage: &S, id: &ArtifactId) -> Result<Option<Linked>> {
    let key = format!("{ARTIFACTS_ATTR_PREFIX}{id}");
    for study in storage.get_all_studies()? {
        if let Some(value) = study.system_attrs.get(&key) {
            let owner = format!("study {}", study.study_id);
            if let Some(meta) = ArtifactMeta::from_link(&owner, &key, value)? {
                let target = Target::Study(study.study_id);
                return Ok(Some(Linked {
                    target,
                    trial_number: None,
                    study_id: study.study_id,
                    meta,
                }));
            }
        }
        for trial in storage.get_all_trials(study.study_id, None)? {
            if let Some(value) = trial.system_attrs.get(&key) {
                let owner = format!("trial {}", trial.trial_id);
                if let Some(meta) = ArtifactMeta::from_link(&owner, &key, value)? {
                    return Ok(Some(Linked {
                        target: Target::Trial(trial.trial_id),
                        trial_number: Some(trial.number),
                        study_id: study.study_id,
                        meta,
                    }));
                }
            }
        }
    }
    Ok(None)
}

/// Removes artifact `id` linked to `target`: first its link becomes optuna-dashboard's tombstone
/// (the JSON `null`), then its bytes are removed (bytes already missing are not an error). A
/// crash in between leaves unlinked bytes for garbage collection, never a link to missing bytes.
///
/// Fails with [`Error::ArtifactNotFound`] if `target` has no live link to `id`, and with
/// [`Error::TrialFinished`] for a finished trial, whose attributes cannot change (Optuna's rule;
/// its link and bytes are kept).
pub fn remove_artifact<S: Storage + ?Sized>(
    storage: &S,
    store: &dyn ArtifactStore,
    target: Target,
    id: &ArtifactId,
) -> Result<()> {
    let linked = list_artifacts(storage, target)?.into_iter().any(|m| m.artifact_id == *id);
    if !linked {
        return Err(Error::ArtifactNotFound {
            store: format!("the links of {target}"),
            id: id.to_string(),
        });
    }
    check_writable(storage, target)?;
    set_link(storage, target, id, AttrValue::String(TOMBSTONE.to_owned()))?;
    match store.remove(id) {
        Ok(()) | Err(Error::ArtifactNotFound { .. }) => Ok(()),
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use std::io::Cursor;

    use super::*;
    use crate::JournalStorage;
    use crate::artifacts::FileSystemStore;
    use crate::{MemoryBackend, StudyDirection, TrialState};

    fn setup() -> (tempfile::TempDir, FileSystemStore, JournalStorage<MemoryBackend>, u64, u64) {
        let dir = tempfile::tempdir().unwrap();
        let store = FileSystemStore::new(dir.path()).unwrap();
        let storage = JournalStorage::new(MemoryBackend::new()).unwrap();
        let study = storage.create_new_study(&[StudyDirection::Minimize], Some("s")).unwrap();
        let trial = storage.create_new_trial(study, None).unwrap();
        (dir, store, storage, study, trial)
    }

    #[test]
    fn upload_links_after_the_bytes_and_records_size_and_hash() {
        let (_dir, store, storage, study, trial) = setup();
        let body = &mut Cursor::new(b"abc".to_vec());
        let meta = upload_artifact_from(
            &storage,
            &store,
            Target::Trial(trial),
            "m.tar.gz",
            body,
            None,
            None,
        )
        .unwrap();
        assert_eq!(meta.mimetype, "application/x-tar");
        assert_eq!(meta.encoding.as_deref(), Some("gzip"));
        assert_eq!(meta.size, Some(3));
        assert!(store.exists(&meta.artifact_id).unwrap());
        let attrs = storage.get_trial_system_attrs(trial).unwrap();
        let key = format!("artifacts:{}", meta.artifact_id);
        assert_eq!(attrs.get(&key), Some(&meta.to_link()));
        assert_eq!(
            list_artifacts(&storage, Target::Trial(trial)).unwrap(),
            std::slice::from_ref(&meta)
        );
        assert!(list_artifacts(&storage, Target::Study(study)).unwrap().is_empty());
        let found = find_link(&storage, &meta.artifact_id).unwrap().unwrap();
        assert_eq!((found.target, found.trial_number), (Target::Trial(trial), Some(0)));
    }

    #[test]
    fn a_finished_trial_is_refused_before_any_byte_is_stored() {
        let (dir, store, storage, _, trial) = setup();
        storage.set_trial_state_values(trial, TrialState::Complete, Some(&[1.0])).unwrap();
        let body = &mut Cursor::new(b"abc".to_vec());
        let err =
            upload_artifact_from(&storage, &store, Target::Trial(trial), "x", body, None, None);
        assert!(matches!(err, Err(Error::TrialFinished { .. })), "{err:?}");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    }

    #[test]
    fn remove_tombstones_the_link_then_removes_the_bytes() {
        let (_dir, store, storage, study, _) = setup();
        let body = &mut Cursor::new(b"abc".to_vec());
        let meta = upload_artifact_from(
            &storage,
            &store,
            Target::Study(study),
            "x",
            body,
            Some("text/plain"),
            None,
        )
        .unwrap();
        let id = meta.artifact_id;
        remove_artifact(&storage, &store, Target::Study(study), &id).unwrap();
        assert!(!store.exists(&id).unwrap());
        let attrs = storage.get_study_system_attrs(study).unwrap();
        assert_eq!(attrs.get(&format!("artifacts:{id}")), Some(&AttrValue::String("null".into())));
        assert!(list_artifacts(&storage, Target::Study(study)).unwrap().is_empty());
        assert!(find_link(&storage, &id).unwrap().is_none());
        let again = remove_artifact(&storage, &store, Target::Study(study), &id);
        assert!(matches!(again, Err(Error::ArtifactNotFound { .. })));
    }

    #[test]
    fn scan_keeps_ids_of_malformed_and_old_dashboard_links() {
        let (_dir, _store, storage, study, trial) = setup();
        let (a, b) = (ArtifactId::new(), ArtifactId::new());
        storage.set_trial_system_attr(trial, &format!("artifacts:{a}"), AttrValue::Int(1)).unwrap();
        let legacy = ArtifactMeta {
            artifact_id: b.clone(),
            filename: "f".into(),
            mimetype: "text/plain".into(),
            encoding: None,
            size: None,
            sha256: None,
        };
        storage
            .set_study_system_attr(
                study,
                &format!("dashboard:artifacts:{trial}:{b}"),
                legacy.to_link(),
            )
            .unwrap();
        let scan = scan(&storage, None).unwrap();
        assert!(scan.links.is_empty());
        assert_eq!(scan.bad.len(), 1);
        assert_eq!(scan.referenced, BTreeSet::from([a, b]));
        assert!(matches!(list_all_links(&storage), Err(Error::BadArtifactLink { .. })));
        assert_eq!(list_artifacts(&storage, Target::Study(study)).unwrap(), []);
        assert!(list_artifacts(&storage, Target::Trial(trial)).is_err());
    }
}
