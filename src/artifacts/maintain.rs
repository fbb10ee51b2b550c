//! Store maintenance: collecting unlinked bytes, and checking every link against the store.

use std::fmt;
use std::time::{Duration, SystemTime};

use crate::error::{Error, Result};

use super::links::{Linked, scan};
use super::transfer::{CHUNK, Hasher};
use super::{ArtifactStore, StoredEntry, StoredKind};
use crate::storage::Storage;

/// What [`collect_garbage`] found and did.
#[derive(Debug, Default)]
pub struct GcReport {
    /// The unlinked artifacts and leftovers of interrupted uploads older than the grace period:
    /// removed, or in a dry run only listed.
    pub collected: Vec<StoredEntry>,
    /// Linked artifacts seen (kept).
    pub linked: usize,
    /// Unlinked artifacts and leftovers younger than the grace period (kept: an upload may be
    /// between its bytes and its link).
    pub recent: usize,
}

/// Removes from `store` what no link in any of `storages` refers to: artifacts whose link was
/// never written (an upload that crashed between its bytes and its link) or was deleted, and
/// leftovers of interrupted uploads, but only those last written more than `grace` ago, so
/// uploads in progress are never touched. Entries of unknown age are kept. With `dry_run`,
/// only lists them.
///
/// Every journal whose studies link into `store` must be among `storages`: an artifact linked
/// only from a journal not given looks unlinked. Ids named by malformed links and by old
/// optuna-dashboard links are kept. Files or objects in the store that are not artifacts or this
/// store's leftovers are never listed, so never removed. The store is listed before the links
/// are read, so an artifact linked meanwhile is either seen linked or younger than `grace`.
pub fn collect_garbage<S: Storage + ?Sized>(
    storages: &[&S],
    store: &dyn ArtifactStore,
    grace: Duration,
    dry_run: bool,
) -> Result<GcReport> {
    let entries = store.list()?;
    let mut referenced = std::collections::BTreeSet::new();
    for storage in storages {
        referenced.extend(scan(*storage, None)?.referenced);
    }
    let now = SystemTime::now();
    let mut report = GcReport::default();
    for entry in entries {
        if let StoredKind::Artifact(id) = &entry.kind {
            if referenced.contains(id) {
                report.linked += 1;
                continue;
            }
        }
        let old =
            entry.info.modified.is_some_and(|m| now.duration_since(m).unwrap_or_default() > grace);
        if !old {
            report.recent += 1;
            continue;
        }
        if !dry_run {
            let removed = match &entry.kind {
                StoredKind::Artifact(id) => store.remove(id),
                StoredKind::Partial(name) => store.remove_partial(name),
            };
            match removed {
                Ok(()) | Err(Error::ArtifactNotFound { .. }) => {}
                Err(e) => return Err(e),
            }
        }
        report.collected.push(entry);
    }
    Ok(report)
}

/// A link that does not match the store.
#[derive(Debug)]
pub enum Problem {
    /// A link attribute that is not in Optuna's format.
    BadLink(Error),
    /// The linked artifact is not in the store.
    Missing(Linked),
    /// The stored size differs from the recorded one.
    Size {
        /// The link.
        link: Linked,
        /// The stored size.
        found: u64,
    },
    /// The stored bytes' SHA-256 differs from the recorded one.
    Hash {
        /// The link.
        link: Linked,
        /// The stored bytes' SHA-256.
        found: String,
    },
}

fn owner(link: &Linked) -> String {
    match link.trial_number {
        Some(n) => format!("study {} trial #{n}", link.study_id),
        None => format!("study {}", link.study_id),
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Problem::BadLink(e) => write!(f, "{e}"),
            Problem::Missing(l) => {
                write!(
                    f,
                    "artifact {} ({}) is linked but missing from the store",
                    l.meta.artifact_id,
                    owner(l)
                )
            }
            Problem::Size { link, found } => write!(
                f,
                "artifact {} ({}) has {found} bytes, its link records {}",
                link.meta.artifact_id,
                owner(link),
                link.meta.size.unwrap_or_default()
            ),
            Problem::Hash { link, found } => write!(
                f,
                "artifact {} ({}) has SHA-256 {found}, its link records {}",
                link.meta.artifact_id,
                owner(link),
                link.meta.sha256.as_deref().unwrap_or_default()
            ),
        }
    }
}

/// What [`verify_artifacts`] checked and found.
#[derive(Debug, Default)]
pub struct VerifyReport {
    /// Live links checked.
    pub links: usize,
    /// Artifacts whose bytes were read and hashed.
    pub hashed: usize,
    /// Links that record no size or hash (uploaded by Optuna): checked for presence only.
    pub unchecked: usize,
    /// What does not match.
    pub problems: Vec<Problem>,
}

/// Checks every live link in `storage` against `store`: the artifact exists, has the recorded
/// size, and (with `hash`) the recorded SHA-256, read in a stream. Links from Optuna record
/// neither and are checked for presence only. Mismatches are reported, not returned as errors;
/// a failing store is an error.
pub fn verify_artifacts<S: Storage + ?Sized>(
    storage: &S,
    store: &dyn ArtifactStore,
    hash: bool,
) -> Result<VerifyReport> {
    let scan = scan(storage, None)?;
    let mut report = VerifyReport { links: scan.links.len(), ..Default::default() };
    report.problems.extend(scan.bad.into_iter().map(Problem::BadLink));
    for link in scan.links {
        let meta = &link.meta;
        let Some(info) = store.stat(&meta.artifact_id)? else {
            report.problems.push(Problem::Missing(link));
            continue;
        };
        if meta.size.is_none() && meta.sha256.is_none() {
            report.unchecked += 1;
        }
        if meta.size.is_some_and(|s| s != info.size) {
            report.problems.push(Problem::Size { link, found: info.size });
            continue;
        }
        let Some(sha) = meta.sha256.as_ref().filter(|_| hash) else { continue };
        let mut reader = store.get(&meta.artifact_id)?;
        let mut hasher = Hasher::default();
        let mut buf = vec![0u8; CHUNK];
        loop {
            match reader.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => hasher.update(&buf[..n]),
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => {
                    return Err(e.downcast::<Error>().unwrap_or_else(|e| {
                        Error::io("read artifact", meta.artifact_id.as_str(), e)
                    }));
                }
            }
        }
        report.hashed += 1;
        let found = hasher.finish().sha256_hex();
        if found != *sha {
            report.problems.push(Problem::Hash { link, found });
        }
    }
    Ok(report)
}

#[cfg(test)]
mod tests {
    use std::io::Cursor;

    use super::*;
    use crate::artifacts::{ArtifactId, FileSystemStore, Target, upload_artifact_from};
    use crate::{JournalStorage, MemoryBackend, StudyDirection};

    #[test]
    fn gc_removes_only_old_unlinked_entries_and_verify_finds_damage() {
        let dir = tempfile::tempdir().unwrap();
        let store = FileSystemStore::new(dir.path()).unwrap();
        let storage = JournalStorage::new(MemoryBackend::new()).unwrap();
        let study = storage.create_new_study(&[StudyDirection::Minimize], Some("s")).unwrap();
        let linked = upload_artifact_from(
            &storage,
            &store,
            Target::Study(study),
            "a.txt",
            &mut Cursor::new(b"abc".to_vec()),
            None,
            None,
        )
        .unwrap();
        let orphan = ArtifactId::new();
        store.put(&orphan, &mut Cursor::new(b"orphan".to_vec())).unwrap();
        std::fs::write(dir.path().join("README"), b"not an artifact").unwrap();

        // Within the grace period nothing goes.
        let r = collect_garbage(&[&storage], &store, Duration::from_secs(3600), false).unwrap();
        assert_eq!((r.collected.len(), r.linked, r.recent), (0, 1, 1));
        let r = collect_garbage(&[&storage], &store, Duration::ZERO, true).unwrap();
        assert_eq!(r.collected.len(), 1);
        assert!(store.exists(&orphan).unwrap(), "a dry run removed something");
        std::thread::sleep(Duration::from_millis(20));
        let r = collect_garbage(&[&storage], &store, Duration::from_millis(1), false).unwrap();
        assert_eq!(r.collected[0].kind, StoredKind::Artifact(orphan.clone()));
        assert!(!store.exists(&orphan).unwrap());
        assert!(store.exists(&linked.artifact_id).unwrap());
        assert!(dir.path().join("README").exists());

        let r = verify_artifacts(&storage, &store, true).unwrap();
        assert_eq!((r.links, r.hashed, r.problems.len()), (1, 1, 0));
        let path = store.path_of(&linked.artifact_id);
        std::fs::write(&path, b"abd").unwrap();
        let r = verify_artifacts(&storage, &store, true).unwrap();
        assert!(matches!(r.problems[..], [Problem::Hash { .. }]), "{:?}", r.problems);
        assert!(verify_artifacts(&storage, &store, false).unwrap().problems.is_empty());
        std::fs::write(&path, b"abcd").unwrap();
        let r = verify_artifacts(&storage, &store, false).unwrap();
        assert!(matches!(r.problems[..], [Problem::Size { found: 4, .. }]));
        std::fs::remove_file(&path).unwrap();
        let r = verify_artifacts(&storage, &store, true).unwrap();
        assert!(matches!(r.problems[..], [Problem::Missing(_)]));
        assert!(r.problems[0].to_string().contains("missing"), "{}", r.problems[0]);
    }
}
