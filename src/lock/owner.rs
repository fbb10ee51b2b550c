//! Who holds a lock: the owner record written into the lock file (or symlink target).
//!
//! The record is one line of printable text,
//! `trialog-lock/1 host=<h> pid=<p> nonce=<n> acquired_ms=<t> refreshed_ms=<t>`, so it can be
//! stored in a file, padded with spaces, or used as a symlink target. Lock files that hold
//! anything else (garbage, an empty file, a Python Optuna symlink whose target is the journal
//! path) are described as an "unknown holder" with an escaped excerpt of their content.

use std::fmt;

use crate::model::Timestamp;
use std::time::{SystemTime, UNIX_EPOCH};

/// The first word of every record; the `/1` is the format version.
const MAGIC: &str = "trialog-lock/1";

/// Host names are cut to this many bytes, so a record always fits in [`MAX_RECORD_LEN`].
const MAX_HOST_LEN: usize = 64;

/// An upper bound on the length of a record made by [`OwnerRecord::new_for_this_process`]
/// (the advisory lock pads its record to this size).
pub(crate) const MAX_RECORD_LEN: usize = 256;

/// How many characters of unparseable lock-file content an "unknown holder" text shows.
const EXCERPT_CHARS: usize = 80;

/// The identity of a lock holder, as written into the lock file.
///
/// Guarantees: [`OwnerRecord::encode`] gives one line without NUL or newline that
/// [`OwnerRecord::parse`] reads back, as long as `host` and `nonce` hold no whitespace, control
/// characters or `=` (those are replaced by `_` when encoding). Does not guarantee that the
/// holder is alive, nor that the times are comparable with this host's clock: they are the
/// holder's wall clock, for people to read, and the lock protocols never compare them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OwnerRecord {
    /// Host name of the holder (`gethostname`), at most 64 bytes.
    pub host: String,
    /// Process id of the holder on its host.
    pub pid: u32,
    /// Random id of one acquisition (uuid v4, 32 hex digits). Two acquisitions never share one,
    /// so a holder recognises its own lock by it.
    pub nonce: String,
    /// Holder's wall clock when it took the lock, milliseconds since the Unix epoch.
    pub acquired_unix_ms: u64,
    /// Holder's wall clock when it last refreshed the record, milliseconds since the Unix epoch.
    pub refreshed_unix_ms: u64,
}

impl OwnerRecord {
    /// A record for this process with a fresh random nonce, acquired and refreshed now.
    pub fn new_for_this_process() -> Self {
        let now = unix_ms_now();
        OwnerRecord {
            host: this_host(),
            pid: std::process::id(),
            nonce: new_nonce(),
            acquired_unix_ms: now,
            refreshed_unix_ms: now,
        }
    }

    /// The record as one line of text (no newline, no NUL), usable as file content or as a
    /// symlink target.
    pub fn encode(&self) -> String {
        self.line().to_string()
    }

    /// The same record with `refreshed_unix_ms` set to now.
    pub(crate) fn refreshed_now(&self) -> Self {
        OwnerRecord { refreshed_unix_ms: unix_ms_now(), ..self.clone() }
    }

    /// Reads a record written by [`OwnerRecord::encode`]. Trailing spaces, newlines and NULs
    /// (padding) are ignored, unknown `key=value` fields are skipped. Returns `None` for
    /// anything else; never panics.
    pub fn parse(text: &str) -> Option<OwnerRecord> {
        let text = text.trim_end_matches([' ', '\n', '\r', '\t', '\0']);
        let mut words = text.split(' ').filter(|w| !w.is_empty());
        if words.next()? != MAGIC {
            return None;
        }
        let (mut host, mut pid, mut nonce, mut acquired, mut refreshed) =
            (None, None, None, None, None);
        for word in words {
            let (key, value) = word.split_once('=')?;
            match key {
                "host" => host = Some(value.to_owned()),
                "pid" => pid = Some(value.parse().ok()?),
                "nonce" => nonce = Some(value.to_owned()),
                "acquired_ms" => acquired = Some(value.parse().ok()?),
                "refreshed_ms" => refreshed = Some(value.parse().ok()?),
                _ => {}
            }
        }
        let nonce: String = nonce?;
        if nonce.is_empty() {
            return None;
        }
        Some(OwnerRecord {
            host: host?,
            pid: pid?,
            nonce,
            acquired_unix_ms: acquired?,
            refreshed_unix_ms: refreshed?,
        })
    }

    /// The encoded line, written without allocating.
    pub(crate) fn line(&self) -> RecordLine<'_> {
        RecordLine {
            host: &self.host,
            pid: self.pid,
            nonce: &self.nonce,
            acquired_unix_ms: self.acquired_unix_ms,
            refreshed_unix_ms: self.refreshed_unix_ms,
        }
    }
}

/// Human-readable: `pid 1234 on host "node7" (nonce 0123456789ab…, acquired <UTC time>,
/// refreshed <UTC time>)`. Used in errors and log lines.
impl fmt::Display for OwnerRecord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let short: String = self.nonce.chars().take(12).collect();
        let ellipsis = if short.len() < self.nonce.len() { "…" } else { "" };
        write!(
            f,
            "pid {} on host {:?} (nonce {short}{ellipsis}, acquired {}, refreshed {})",
            self.pid,
            self.host,
            utc(self.acquired_unix_ms),
            utc(self.refreshed_unix_ms),
        )
    }
}

/// The encoded form of a record, borrowed. Lets the advisory lock write its record into a
/// stack buffer on every acquisition without allocating.
pub(crate) struct RecordLine<'a> {
    pub(crate) host: &'a str,
    pub(crate) pid: u32,
    pub(crate) nonce: &'a str,
    pub(crate) acquired_unix_ms: u64,
    pub(crate) refreshed_unix_ms: u64,
}

impl fmt::Display for RecordLine<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(MAGIC)?;
        f.write_str(" host=")?;
        write_field(f, self.host)?;
        write!(f, " pid={} nonce=", self.pid)?;
        write_field(f, self.nonce)?;
        write!(f, " acquired_ms={} refreshed_ms={}", self.acquired_unix_ms, self.refreshed_unix_ms)
    }
}

/// Writes `value` with every character that would break the line format replaced by `_`.
fn write_field(f: &mut fmt::Formatter<'_>, value: &str) -> fmt::Result {
    if value.is_empty() {
        return f.write_str("_");
    }
    for c in value.chars() {
        let c = if c.is_whitespace() || c.is_control() || c == '=' { '_' } else { c };
        fmt::Write::write_char(f, c)?;
    }
    Ok(())
}

/// Describes whoever holds a lock whose file (or symlink target) holds `content`: the record's
/// `Display` when it parses, otherwise
/// `unknown holder (lock file content: "<first 80 chars, escaped>")`.
pub(crate) fn describe_holder(content: &[u8]) -> String {
    let text = String::from_utf8_lossy(content);
    if let Some(record) = OwnerRecord::parse(&text) {
        return describe_record(&record);
    }
    unknown_holder(&text)
}

/// The record's `Display`, plus `(not running: ...)` when it names a process of this host that
/// no longer runs (a dead holder; a lease lock is still only broken after its grace period, since
/// hosts of one name in different containers or machines cannot be told apart).
pub(crate) fn describe_record(record: &OwnerRecord) -> String {
    let mut text = record.to_string();
    if record.host == this_host() && crate::sys::process::is_running(record.pid) == Some(false) {
        text.push_str(" (not running: no process with this pid exists on this host now)");
    }
    text
}

/// The "unknown holder" text for unparseable content.
fn unknown_holder(text: &str) -> String {
    let excerpt: String = text.chars().take(EXCERPT_CHARS).collect();
    let more = text.chars().count().saturating_sub(EXCERPT_CHARS);
    let mut out = format!("unknown holder (lock file content: \"{}\"", excerpt.escape_debug());
    if more > 0 {
        out.push_str(&format!(" and {more} more characters"));
    }
    out.push(')');
    out
}

/// This host's name, sanitised so it fits in a record (no whitespace, `=` or control characters,
/// at most 64 bytes). `"unknown-host"` when `gethostname` fails.
pub(crate) fn this_host() -> String {
    let Some(name) = crate::sys::host::hostname() else {
        return "unknown-host".to_owned();
    };
    let raw = String::from_utf8_lossy(&name);
    let mut host = String::new();
    for c in raw.chars() {
        let c = if c.is_whitespace() || c.is_control() || c == '=' { '_' } else { c };
        if host.len() + c.len_utf8() > MAX_HOST_LEN {
            break;
        }
        host.push(c);
    }
    if host.is_empty() { "unknown-host".to_owned() } else { host }
}

/// A fresh random nonce: uuid v4 as 32 lowercase hex digits.
pub(crate) fn new_nonce() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

/// This host's wall clock in milliseconds since the Unix epoch (0 if the clock is before 1970).
pub(crate) fn unix_ms_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

/// A Unix-millisecond time shown as ISO-8601 UTC (through [`Timestamp`]'s formatting).
fn utc(unix_ms: u64) -> Timestamp {
    Timestamp(i64::try_from(unix_ms).unwrap_or(i64::MAX / 1000).saturating_mul(1000))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> OwnerRecord {
        OwnerRecord {
            host: "node7".into(),
            pid: 1234,
            nonce: "0123456789abcdef0123456789abcdef".into(),
            acquired_unix_ms: 1_700_000_000_000,
            refreshed_unix_ms: 1_700_000_012_345,
        }
    }

    #[test]
    fn encode_parse_round_trip() {
        let r = sample();
        let line = r.encode();
        assert_eq!(
            line,
            "trialog-lock/1 host=node7 pid=1234 nonce=0123456789abcdef0123456789abcdef \
             acquired_ms=1700000000000 refreshed_ms=1700000012345"
        );
        assert_eq!(OwnerRecord::parse(&line), Some(r));
    }

    #[test]
    fn own_record_is_one_short_line_and_parses() {
        let r = OwnerRecord::new_for_this_process();
        let line = r.encode();
        assert!(!line.contains(['\n', '\0']), "{line:?}");
        assert!(line.len() <= MAX_RECORD_LEN, "{} bytes", line.len());
        assert_eq!(r.pid, std::process::id());
        assert_eq!(r.nonce.len(), 32);
        assert!(r.nonce.chars().all(|c| c.is_ascii_hexdigit()));
        assert_ne!(r.nonce, OwnerRecord::new_for_this_process().nonce);
        assert_eq!(OwnerRecord::parse(&line), Some(r));
    }

    #[test]
    fn parse_tolerates_padding_and_unknown_fields() {
        let line = format!("{} future=1{}\n\0\0", sample().encode(), " ".repeat(100));
        assert_eq!(OwnerRecord::parse(&line), Some(sample()));
    }

    #[test]
    fn parse_rejects_garbage_without_panicking() {
        for text in [
            "",
            " ",
            "/home/me/journal.log",
            "trialog-lock/1",
            "trialog-lock/2 host=a pid=1 nonce=b acquired_ms=1 refreshed_ms=1",
            "trialog-lock/1 host=a pid=x nonce=b acquired_ms=1 refreshed_ms=1",
            "trialog-lock/1 host=a pid=99999999999 nonce=b acquired_ms=1 refreshed_ms=1",
            "trialog-lock/1 host=a pid=1 nonce= acquired_ms=1 refreshed_ms=1",
            "trialog-lock/1 host=a pid=1 acquired_ms=1 refreshed_ms=1",
            "trialog-lock/1 host=a pid=1 nonce=b junk acquired_ms=1 refreshed_ms=1",
            "\u{fffd}\u{fffd}=\u{0}",
        ] {
            assert_eq!(OwnerRecord::parse(text), None, "{text:?}");
        }
    }

    #[test]
    fn encode_sanitises_fields_that_would_break_the_line() {
        let mut r = sample();
        r.host = "bad host=\nname".into();
        let line = r.encode();
        assert!(!line.contains('\n'));
        let back = OwnerRecord::parse(&line).expect("parses");
        assert_eq!(back.host, "bad_host__name");
        assert_eq!(back.pid, 1234);
    }

    #[test]
    fn display_names_pid_host_and_times() {
        let text = sample().to_string();
        assert_eq!(
            text,
            "pid 1234 on host \"node7\" (nonce 0123456789ab…, acquired \
             2023-11-14T22:13:20.000000+00:00, refreshed 2023-11-14T22:13:32.345000+00:00)"
        );
    }

    #[test]
    fn a_holder_of_this_host_that_no_longer_runs_is_called_so() {
        let live = OwnerRecord::new_for_this_process();
        assert!(!describe_holder(live.encode().as_bytes()).contains("not running"));
        let mut child = std::process::Command::new(std::env::current_exe().expect("exe"))
            .arg("--list")
            .stdout(std::process::Stdio::null())
            .spawn()
            .expect("spawn");
        let dead = OwnerRecord { pid: child.id(), ..live };
        child.wait().expect("wait");
        let text = describe_holder(dead.encode().as_bytes());
        assert!(text.ends_with("(not running: no process with this pid exists on this host now)"));
        // Another host's pid is never judged.
        let elsewhere = OwnerRecord { host: "elsewhere".into(), ..dead };
        assert!(!describe_holder(elsewhere.encode().as_bytes()).contains("not running"));
    }

    #[test]
    fn describe_holder_names_records_and_escapes_garbage() {
        assert!(
            describe_holder(sample().encode().as_bytes()).starts_with("pid 1234 on host \"node7\"")
        );
        assert_eq!(describe_holder(b""), "unknown holder (lock file content: \"\")");
        assert_eq!(
            describe_holder(b"/data/study.log"),
            "unknown holder (lock file content: \"/data/study.log\")"
        );
        let garbage: Vec<u8> = (0..=255u8).collect();
        let text = describe_holder(&garbage);
        assert!(text.starts_with("unknown holder (lock file content: \"\\0\\u{1}"), "{text}");
        assert!(text.ends_with("more characters)"), "{text}");
        assert!(!text.contains('\n') && !text.contains('\0'));
    }
}
