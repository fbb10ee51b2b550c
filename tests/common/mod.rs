//! Helpers shared by the storage and crash tests: journals on both backends, raw journal bytes,
//! frame boundaries, and a few distributions and values used across files.
//!
//! Not every test file uses every helper.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

use tempfile::TempDir;
use trialog::journal::frame::{self, FrameCheck};
use trialog::replay::ReplayState;
use trialog::{
    AttrValue, Distribution, Error, FileBackend, JournalStorage, LogBackend, MemoryBackend,
    ParamValue,
};

/// A journal file in its own temporary directory (removed on drop).
pub struct FileJournal {
    dir: TempDir,
    path: PathBuf,
}

impl FileJournal {
    /// A path for a journal that does not exist yet.
    pub fn new() -> Self {
        let dir = tempfile::tempdir().expect("create temp dir");
        let path = dir.path().join("study.journal");
        FileJournal { dir, path }
    }

    /// The journal's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The directory holding the journal.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// A new handle (a fresh open that replays the whole file).
    pub fn open(&self) -> JournalStorage<FileBackend> {
        JournalStorage::open(&self.path).expect("open journal")
    }

    /// The file's bytes.
    pub fn bytes(&self) -> Vec<u8> {
        std::fs::read(&self.path).expect("read journal")
    }

    /// The file's length.
    pub fn len(&self) -> u64 {
        std::fs::metadata(&self.path).expect("stat journal").len()
    }
}

/// The bytes a backend holds, for "nothing was written" checks.
pub trait JournalBytes {
    /// A copy of every byte of the journal.
    fn journal_bytes(&self) -> Vec<u8>;

    /// Whether the format keeps a NaN's payload bits (Optuna's JSON text has one `NaN`).
    const NAN_PAYLOADS: bool = true;
}

impl JournalBytes for FileBackend {
    fn journal_bytes(&self) -> Vec<u8> {
        std::fs::read(self.path()).expect("read journal")
    }
}

impl JournalBytes for trialog::OptunaJournalFile {
    fn journal_bytes(&self) -> Vec<u8> {
        std::fs::read(self.path()).expect("read journal")
    }

    const NAN_PAYLOADS: bool = false;
}

impl JournalBytes for MemoryBackend {
    fn journal_bytes(&self) -> Vec<u8> {
        self.to_bytes()
    }
}

/// Every key under the backend's prefix with its `DUMP` (type and value), sorted by key: what a
/// write anywhere in the journal's key space changes. Connects on its own (no password).
#[cfg(feature = "redis")]
impl JournalBytes for trialog::backend::RedisBackend {
    fn journal_bytes(&self) -> Vec<u8> {
        let client = redis::Client::open(self.server()).expect("redis URL");
        let mut conn = client.get_connection().expect("connect to redis");
        let mut pattern = String::new();
        for c in self.prefix().chars() {
            if "*?[]\\".contains(c) {
                pattern.push('\\');
            }
            pattern.push(c);
        }
        pattern.push_str(":*");
        let mut keys: Vec<Vec<u8>> =
            redis::cmd("KEYS").arg(&pattern).query(&mut conn).expect("KEYS");
        keys.sort();
        let mut out = Vec::new();
        for key in keys {
            let dump: Option<Vec<u8>> =
                redis::cmd("DUMP").arg(&key).query(&mut conn).expect("DUMP");
            out.extend_from_slice(&key);
            out.push(0);
            out.extend_from_slice(&dump.unwrap_or_default());
            out.push(0);
        }
        out
    }

    const NAN_PAYLOADS: bool = false;
}

/// The bytes behind a storage handle.
pub fn bytes_of<B: LogBackend + JournalBytes>(storage: &JournalStorage<B>) -> Vec<u8> {
    storage.backend().journal_bytes()
}

/// A copy of a handle's replayed state, synced to the current end of the log.
pub fn state_of<B: LogBackend>(storage: &JournalStorage<B>) -> ReplayState {
    storage.read(|s| Ok(s.clone())).expect("read state")
}

/// The state a fresh handle on a copy of `bytes` replays.
pub fn replay_bytes(bytes: &[u8]) -> Result<ReplayState, Error> {
    let storage = JournalStorage::new(MemoryBackend::from_bytes(bytes.to_vec()))?;
    storage.read(|s| Ok(s.clone()))
}

/// The byte offsets at which frames end (the header's end first), walking valid frames from the
/// header until the first byte that does not start a valid frame.
pub fn frame_boundaries(bytes: &[u8]) -> Vec<usize> {
    assert!(bytes.len() >= frame::HEADER_LEN, "no complete header");
    let mut out = vec![frame::HEADER_LEN];
    let mut pos = frame::HEADER_LEN;
    loop {
        match frame::check_frame(&bytes[pos..]) {
            FrameCheck::Batch { len, .. } | FrameCheck::Padding { len } => {
                pos += len;
                out.push(pos);
            }
            FrameCheck::Incomplete | FrameCheck::Invalid => return out,
        }
    }
}

/// The start offsets of every valid frame.
pub fn frame_starts(bytes: &[u8]) -> Vec<usize> {
    let b = frame_boundaries(bytes);
    b[..b.len() - 1].to_vec()
}

/// One valid frame, as the writer would produce for `payload`.
pub fn encode_frame(payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    frame::encode_frame(payload, &mut out);
    out
}

/// The names of the entries of `dir`, sorted (to check what an operation left there).
pub fn names_in(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

/// `FloatDistribution(low, high)`.
pub fn float(low: f64, high: f64) -> Distribution {
    Distribution::float(low, high, false, None).expect("valid float distribution")
}

/// `FloatDistribution(low, high, log=True)`.
pub fn float_log(low: f64, high: f64) -> Distribution {
    Distribution::float(low, high, true, None).expect("valid log float distribution")
}

/// `IntDistribution(low, high, step)`.
pub fn int(low: i64, high: i64, step: i64) -> Distribution {
    Distribution::int(low, high, false, step).expect("valid int distribution")
}

/// `IntDistribution(low, high, log=True)`.
pub fn int_log(low: i64, high: i64) -> Distribution {
    Distribution::int(low, high, true, 1).expect("valid log int distribution")
}

/// `CategoricalDistribution(choices)` over strings.
pub fn categorical(choices: &[&str]) -> Distribution {
    Distribution::categorical(choices.iter().map(|c| ParamValue::Str((*c).to_owned())).collect())
        .expect("valid categorical distribution")
}

/// A nested JSON-like attribute value with a NaN, infinities and -0.0 inside.
pub fn nested_attr() -> AttrValue {
    let mut inner = std::collections::BTreeMap::new();
    inner.insert("nan".to_owned(), AttrValue::Float(f64::NAN));
    inner.insert("neg_zero".to_owned(), AttrValue::Float(-0.0));
    inner.insert("list".to_owned(), AttrValue::Array(vec![AttrValue::Null, AttrValue::Bool(true)]));
    AttrValue::Array(vec![
        AttrValue::Int(-7),
        AttrValue::Float(f64::INFINITY),
        AttrValue::Float(f64::NEG_INFINITY),
        AttrValue::String("ünïcödé".to_owned()),
        AttrValue::Map(inner),
    ])
}
