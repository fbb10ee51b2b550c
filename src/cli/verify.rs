//! `trialog verify <journal> [--json]`: check every byte of a journal of either format and report
//! (exit codes in `docs/RECOVERY.md`).

use std::path::PathBuf;

use clap::Args;
use trialog::backend::{HeaderState, JournalFormat};
use trialog::recover::{self, BadRange, Verdict, VerifyReport};

use super::CliError;
use super::format::{Json, emit};

/// Exit status of a journal with only a torn tail.
pub const EXIT_TORN_TAIL: u8 = 3;
/// Exit status of a corrupt journal.
pub const EXIT_CORRUPT: u8 = 4;

/// Arguments of `trialog verify`.
#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// The journal file, trialog or Optuna JSON lines (never locked, created or modified).
    pub journal: PathBuf,
    /// Print one JSON object instead of `key: value` lines.
    #[arg(long)]
    pub json: bool,
}

/// Prints the report; exits 0 when clean (also for an empty file), 3 for a torn tail only, 4 when
/// corrupt.
pub fn run(args: &VerifyArgs) -> Result<(), CliError> {
    let path = &args.journal;
    if let Some(url) = super::journal::redis_url(path) {
        return verify_redis(args, &url);
    }
    let report = recover::verify(path).map_err(|e| CliError::lib(path, e))?;
    emit(&if args.json { json(&report).render() + "\n" } else { text(&report) })?;
    match report.verdict() {
        Verdict::Clean => Ok(()),
        Verdict::TornTail => Err(CliError::status(EXIT_TORN_TAIL)),
        Verdict::Corrupt => Err(CliError::status(EXIT_CORRUPT)),
    }
}

/// `verify` of a Redis journal: replays every key from the first; clean (exit 0) or corrupt
/// (exit 4) naming the first key that does not hold an Optuna operation or that replay refuses.
/// A server that cannot be reached is an error (exit 1), not a verdict. There is no torn tail:
/// each key is written whole.
fn verify_redis(args: &VerifyArgs, url: &str) -> Result<(), CliError> {
    let path = &args.journal;
    let (status, fields) = match trialog::JournalStorage::open_url(url) {
        Ok(storage) => {
            let stats = storage.read(|s| Ok(s.stats())).map_err(|e| CliError::lib(path, e))?;
            let ops = [
                ("entries", Json::UInt(stats.batches)),
                ("operations_applied", Json::UInt(stats.applied)),
                ("operations_ignored", Json::UInt(stats.ignored)),
            ];
            (Verdict::Clean, ops.to_vec())
        }
        Err(trialog::Error::RedisCorrupt { key, reason, .. }) => {
            (Verdict::Corrupt, vec![("bad_key", Json::str(key)), ("reason", Json::str(reason))])
        }
        Err(e) => return Err(CliError::lib(path, e)),
    };
    let mut all = vec![
        ("location", Json::str(url)),
        ("format", Json::str("redis")),
        ("status", Json::str(verdict_name(status))),
    ];
    all.extend(fields.iter().cloned());
    let out = if args.json {
        Json::object(all).render() + "\n"
    } else {
        all.iter()
            .map(|(k, v)| match v {
                Json::Str(s) => format!("{k}: {s}\n"),
                other => format!("{k}: {}\n", other.render()),
            })
            .collect()
    };
    emit(&out)?;
    match status {
        Verdict::Clean => Ok(()),
        _ => Err(CliError::status(EXIT_CORRUPT)),
    }
}

fn verdict_name(v: Verdict) -> &'static str {
    match v {
        Verdict::Clean => "clean",
        Verdict::TornTail => "torn-tail",
        Verdict::Corrupt => "corrupt",
    }
}

fn header_name(h: HeaderState) -> &'static str {
    match h {
        HeaderState::Valid => "valid",
        HeaderState::Incomplete => "incomplete",
        HeaderState::Damaged => "damaged",
    }
}

/// `trialog`, `optuna`, or `empty` (an empty file: an empty journal of no format yet).
pub fn format_name(format: Option<JournalFormat>) -> &'static str {
    format.map_or("empty", JournalFormat::name)
}

fn text(r: &VerifyReport) -> String {
    let mut out = format!(
        "file: {}\nformat: {}\nstatus: {}\nbytes: {}\n",
        r.path.display(),
        format_name(r.format),
        verdict_name(r.verdict()),
        r.file_len,
    );
    match r.format {
        Some(JournalFormat::Trialog) => {
            out += &format!(
                "header: {}\nbatch_frames: {}\npadding_frames: {}\n",
                r.header.map_or("none", header_name),
                r.batch_frames,
                r.padding_frames
            );
        }
        Some(JournalFormat::Optuna) => out += &format!("lines: {}\n", r.lines),
        None => {}
    }
    out += &format!(
        "operations: {}\noperations_applied: {}\noperations_ignored: {}\nvalid_end: {}\n",
        r.operations, r.operations_applied, r.operations_ignored, r.valid_end,
    );
    if let Some((offset, len)) = r.torn_tail {
        out += &format!("torn_tail: offset {offset} length {len}\n");
    }
    for b in &r.corrupt {
        out += &format!("corrupt: offset {} length {}: {}\n", b.offset, b.len, b.reason);
    }
    for b in &r.undecodable {
        out += &format!("undecodable: offset {} length {}: {}\n", b.offset, b.len, b.reason);
    }
    out
}

fn ranges(v: &[BadRange]) -> Json {
    Json::Array(
        v.iter()
            .map(|b| {
                Json::object([
                    ("offset", Json::UInt(b.offset)),
                    ("length", Json::UInt(b.len)),
                    ("reason", Json::str(&b.reason)),
                ])
            })
            .collect(),
    )
}

fn json(r: &VerifyReport) -> Json {
    Json::object([
        ("file", Json::str(r.path.display().to_string())),
        ("format", Json::str(format_name(r.format))),
        ("status", Json::str(verdict_name(r.verdict()))),
        ("bytes", Json::UInt(r.file_len)),
        ("header", r.header.map_or(Json::Null, |h| Json::str(header_name(h)))),
        ("batch_frames", Json::UInt(r.batch_frames)),
        ("padding_frames", Json::UInt(r.padding_frames)),
        ("lines", Json::UInt(r.lines)),
        ("operations", Json::UInt(r.operations)),
        ("operations_applied", Json::UInt(r.operations_applied)),
        ("operations_ignored", Json::UInt(r.operations_ignored)),
        ("valid_end", Json::UInt(r.valid_end)),
        (
            "torn_tail",
            r.torn_tail.map_or(Json::Null, |(offset, len)| {
                Json::object([("offset", Json::UInt(offset)), ("length", Json::UInt(len))])
            }),
        ),
        ("corrupt", ranges(&r.corrupt)),
        ("undecodable", ranges(&r.undecodable)),
    ])
}
