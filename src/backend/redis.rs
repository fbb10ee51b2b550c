//! The Redis backend: a journal on a Redis server in the key layout of Optuna's
//! `JournalRedisBackend` (`optuna/storages/journal/_redis.py`), so Python Optuna workers and
//! trialog workers share one study there (`docs/REDIS.md`).
//!
//! Keys under a prefix `P` (Optuna's default is empty, so keys start with `:`):
//! `P:log_number` holds the highest log number written (`-1` before the first, absent before
//! anything), `P:log:N` one operation as `json.dumps` writes it (default separators, see
//! [`optuna_codec::encode_object`]). `P:snapshot`, Optuna's pickled replay state, is never read
//! or written.
//!
//! Positions are log numbers: position `n` means "entries `0..n` read" (0: nothing read).
//! Reading fetches the new entries with `MGET`, [`READ_CHUNK`] keys a round trip. Appending is
//! one Lua script that writes a batch's entries as consecutive keys only if `P:log_number` still
//! is what the caller read up to, atomically on a standalone Redis (Optuna's own appends are
//! unconditional; they simply land after ours). No lock is taken: the guard of
//! [`LogBackend::lock`] only orders the threads of this handle. A writer tries the script before
//! reading ([`LogBackend::write_before_read`]), so a current writer appends in one round trip;
//! a writer refused twice in one write takes a short turn (`P:trialog:turn`, trialog's own key)
//! that makes the other trialog writers wait for its append (`docs/REDIS.md`, "Fair turns").

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use super::{AppendOutcome, LogBackend};
use crate::error::{Error, Result};
use crate::journal::LogBatch;
use crate::journal::optuna_codec::{self, LineDecoder, LineError};

/// Keys fetched by one `MGET` while reading.
const READ_CHUNK: usize = 1024;

/// How many times to ask whether an append whose reply was lost was applied (10 ms, 20 ms, ...
/// apart) before reporting [`OUTCOME_UNKNOWN`].
const LOOKUP_ATTEMPTS: u32 = 5;

/// The `op` of the [`Error::Redis`] for an append whose reply was lost and whose outcome the
/// server could not be asked about: it may or may not have been applied. The caller's state
/// (re-read on its next call) decides: a retried write is validated again, so a trial finished
/// by the lost append cannot be finished twice.
pub const OUTCOME_UNKNOWN: &str = "append to (reply lost, not known whether applied)";

/// How long to connect, and to wait for a reply, before a call fails with [`Error::Redis`].
const IO_TIMEOUT: Duration = Duration::from_secs(30);

/// The pause between tries of a writer waiting while another writer has its turn.
const TURN_POLL: Duration = Duration::from_millis(1);

/// The conditional append. KEYS[1] is `P:log_number`, KEYS[2] `P:trialog:turn`; ARGV[1] the
/// prefix, ARGV[2] the log number the caller read up to (-1 for none), ARGV[3] the caller's
/// token, ARGV[4] `1` if this is the caller's second try of one write, ARGV[5] the turn's
/// expiry in ms ([`RedisOptions::turn_expiry`]),
/// ARGV[6..] the entries. Replies
/// - `{0, current}`, writing nothing but the turn, if `P:log_number` moved: the caller lost. A
///   caller that lost before in this write takes the turn if no one holds it (`P:trialog:turn`
///   := its token, expiring after ARGV[5] ms);
/// - `{2, current}`, writing nothing, if another writer holds the turn (an expiring key; one
///   without expiry, not trialog's, is ignored): the caller waits and tries again, so a writer
///   that lost twice appends before the writer that keeps winning;
/// - `{1, new}` after writing the entries as `P:log:(expected+1)...` (and ending the turn);
/// - an error reply, writing nothing, if `P:log_number` does not hold an integer, or if the
///   first key to write already exists (no writer in Optuna's layout leaves a key past
///   `P:log_number`: the prefix holds something else, which must not be overwritten).
///
/// Optuna reads only `P:log_number`, `P:log:N` and `P:snapshot`: the turn key is invisible to it.
/// Setting and deleting the turn is not propagated (`redis.set_repl(REPL_NONE)`): it is not in
/// the append-only file, so it costs no fsync (and a restarted server simply has no turn).
const APPEND_SCRIPT: &str = r"
local raw = redis.call('GET', KEYS[1])
local cur = -1
if raw then
  cur = tonumber(raw)
  if cur == nil or cur ~= math.floor(cur) then
    return redis.error_reply('TRIALOG log_number is not an integer')
  end
end
local expected = tonumber(ARGV[2])
local turn = redis.call('GET', KEYS[2])
if cur ~= expected then
  if ARGV[4] == '1' and not turn then
    pcall(redis.set_repl, redis.REPL_NONE)
    redis.call('SET', KEYS[2], ARGV[3], 'PX', ARGV[5])
  end
  return {0, string.format('%d', cur)}
end
if turn and turn ~= ARGV[3] and redis.call('PTTL', KEYS[2]) >= 0 then
  return {2, string.format('%d', cur)}
end
if redis.call('EXISTS', string.format('%s:log:%d', ARGV[1], cur + 1)) == 1 then
  return redis.error_reply('TRIALOG_PAST_END a log key exists past log_number')
end
for i = 6, #ARGV do
  cur = cur + 1
  redis.call('SET', string.format('%s:log:%d', ARGV[1], cur), ARGV[i])
end
redis.call('SET', KEYS[1], string.format('%d', cur))
if turn then
  pcall(redis.set_repl, redis.REPL_NONE)
  redis.call('DEL', KEYS[2])
end
return {1, string.format('%d', cur)}
";

/// What one run of [`APPEND_SCRIPT`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ScriptReply {
    /// Written; the log now has this many entries.
    Appended(u64),
    /// Refused: the log moved.
    Moved,
    /// Refused: another writer has its turn.
    Wait,
}

/// How to open a [`RedisBackend`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RedisOptions {
    /// The key prefix, as Optuna's `JournalRedisBackend(url, prefix=...)` takes it (default
    /// empty, Optuna's default).
    pub prefix: String,
    /// How long a read waits for a key missing below `P:log_number` to appear (an Optuna
    /// cluster-mode writer sets the number before the key) before failing with
    /// [`Error::RedisCorrupt`] naming it. Optuna waits forever. Default: 5 seconds.
    pub missing_key_wait: Duration,
    /// How long a writer whose append was refused twice in one write keeps its turn (the
    /// `P:trialog:turn` key: the other trialog writers wait for it, `docs/REDIS.md`, "Fair
    /// turns") if it does not append: how long a holder that died or found nothing to write
    /// stops the others. Default: 100 ms. At least 1 ms.
    pub turn_expiry: Duration,
}

impl Default for RedisOptions {
    fn default() -> Self {
        RedisOptions {
            prefix: String::new(),
            missing_key_wait: Duration::from_secs(5),
            turn_expiry: Duration::from_millis(100),
        }
    }
}

/// A journal on a Redis server, in Optuna's `JournalRedisBackend` key layout.
///
/// Guarantees: an append that returns `Appended` was executed by the server as one script
/// (all of the batch's entries or none, on a standalone server); it is as durable as the
/// server's persistence makes it (`appendfsync always`: on disk; see `docs/REDIS.md`); a batch
/// is appended only right after the entries the caller has read, so validate-then-append needs
/// no lock; a write whose reply was lost is looked up before reporting, never applied twice.
/// A lost connection fails the call with [`Error::Redis`] naming the server, and the next call
/// connects again. A value under a log key that is not an Optuna operation is
/// [`Error::RedisCorrupt`] naming the key; nothing from Redis makes it panic.
/// Only operations Optuna can read are written ([`Error::NotRepresentable`] otherwise).
pub struct RedisBackend {
    client: redis::Client,
    /// The location as shown in messages (no password): `redis://host:port/db?prefix=P`.
    shown: PathBuf,
    /// The server as shown in messages (no password).
    server: String,
    prefix: String,
    missing_key_wait: Duration,
    /// [`RedisOptions::turn_expiry`] in ms (at least 1).
    turn_ms: u64,
    conn: Mutex<Option<redis::Connection>>,
    writer: Mutex<()>,
    /// This handle's token in `P:trialog:turn` (unique per handle).
    token: String,
    /// How often the current write (since [`LogBackend::lock`]) was refused.
    refusals: AtomicU32,
    /// The SHA1 of [`APPEND_SCRIPT`] as the server returned it from `SCRIPT LOAD` (appends run
    /// it with `EVALSHA`, loading it again after `NOSCRIPT`: a restarted server).
    script_sha: Mutex<Option<String>>,
}

impl std::fmt::Debug for RedisBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisBackend").field("location", &self.shown).finish_non_exhaustive()
    }
}

/// Whether `location` names a Redis journal (`redis://...`) rather than a file.
pub fn is_redis_url(location: &str) -> bool {
    location.starts_with("redis://")
}

/// Splits `url` into the URL for the client (without `prefix=`) and the prefix (empty if not
/// given). Only `prefix` is accepted as a query parameter.
fn split_url(url: &str) -> Result<(String, Option<String>)> {
    if !is_redis_url(url) {
        return Err(Error::invalid(format_args!(
            "{url:?} is not a Redis URL (expected redis://host:port/db?prefix=NAME)"
        )));
    }
    let Some((base, query)) = url.split_once('?') else { return Ok((url.to_owned(), None)) };
    let mut prefix = None;
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        match pair.split_once('=') {
            Some(("prefix", value)) => prefix = Some(percent_decode(value, url)?),
            _ => {
                return Err(Error::invalid(format_args!(
                    "Redis URL {}: unknown query parameter {pair:?} (only prefix=NAME is accepted)",
                    hide_password(url)
                )));
            }
        }
    }
    Ok((base.to_owned(), prefix))
}

/// Decodes `%XX` escapes (and nothing else) of a URL query value.
fn percent_decode(value: &str, url: &str) -> Result<String> {
    let bytes = value.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = bytes.get(i + 1..i + 3).and_then(|h| std::str::from_utf8(h).ok());
            let Some(b) = hex.and_then(|h| u8::from_str_radix(h, 16).ok()) else {
                return Err(Error::invalid(format_args!(
                    "Redis URL {}: bad %-escape in {value:?}",
                    hide_password(url)
                )));
            };
            out.push(b);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| {
        Error::invalid(format_args!("Redis URL {}: the prefix is not UTF-8", hide_password(url)))
    })
}

/// `url` with the password of its user info replaced by `***`.
fn hide_password(url: &str) -> String {
    let Some(rest) = url.strip_prefix("redis://") else { return url.to_owned() };
    let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
    match rest[..authority_end].rfind('@') {
        Some(at) => {
            let user = rest[..at].split_once(':').map_or(&rest[..at], |(u, _)| u);
            format!("redis://{user}:***{}", &rest[at..])
        }
        None => url.to_owned(),
    }
}

/// Percent-encodes what a query value cannot hold as it is.
fn percent_encode(value: &str) -> String {
    let mut out = String::new();
    for b in value.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~:".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// A token no other handle has: process id, time and a counter.
fn unique_token() -> String {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    format!("{}-{nanos}-{}", std::process::id(), NEXT.fetch_add(1, Ordering::Relaxed))
}

/// Whether `e` may mean the connection is gone (and a command's reply lost with it).
fn lost_connection(e: &redis::RedisError) -> bool {
    e.is_io_error() || e.is_connection_dropped() || e.is_timeout() || e.is_unrecoverable_error()
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // The guarded values are a connection slot and `()`: replaced whole, never half-updated.
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl RedisBackend {
    /// Opens the journal at `url`: `redis://[user:password@]host[:port][/db][?prefix=NAME]`
    /// (the prefix percent-encoded; absent means Optuna's default, empty). Connects at once, so a
    /// server that cannot be reached is an [`Error::Redis`] here.
    pub fn open(url: &str) -> Result<Self> {
        let (base, prefix) = split_url(url)?;
        let options =
            RedisOptions { prefix: prefix.unwrap_or_default(), ..RedisOptions::default() };
        Self::open_with(&base, &options)
    }

    /// Opens the journal under `options.prefix` on the server at `url` (a URL without
    /// `prefix=`, as Optuna's `JournalRedisBackend(url, prefix=...)` takes them).
    pub fn open_with(url: &str, options: &RedisOptions) -> Result<Self> {
        let (base, in_url) = split_url(url)?;
        if in_url.is_some() {
            return Err(Error::invalid(format_args!(
                "{}: give the prefix in RedisOptions, not in the URL",
                hide_password(url)
            )));
        }
        let server = hide_password(&base);
        let client = redis::Client::open(base.as_str()).map_err(|e| Error::Redis {
            server: server.clone(),
            op: "parse URL",
            key: String::new(),
            source: Box::new(e),
        })?;
        let shown = if options.prefix.is_empty() {
            PathBuf::from(&server)
        } else {
            PathBuf::from(format!("{server}?prefix={}", percent_encode(&options.prefix)))
        };
        let backend = RedisBackend {
            client,
            shown,
            server,
            prefix: options.prefix.clone(),
            missing_key_wait: options.missing_key_wait,
            turn_ms: (options.turn_expiry.as_millis() as u64).max(1),
            conn: Mutex::new(None),
            writer: Mutex::new(()),
            token: unique_token(),
            refusals: AtomicU32::new(0),
            script_sha: Mutex::new(None),
        };
        backend.with_conn("connect", "", |_| Ok(()))?;
        Ok(backend)
    }

    /// The key prefix.
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// The server, as shown in messages (any password replaced by `***`).
    pub fn server(&self) -> &str {
        &self.server
    }

    /// The key holding the highest log number.
    pub fn log_number_key(&self) -> String {
        format!("{}:log_number", self.prefix)
    }

    /// The key of the writers' turn (trialog's own; Optuna never reads it).
    pub fn turn_key(&self) -> String {
        format!("{}:trialog:turn", self.prefix)
    }

    /// The key holding entry `n`.
    pub fn log_key(&self, n: u64) -> String {
        format!("{}:log:{n}", self.prefix)
    }

    fn redis_error(&self, op: &'static str, key: &str, e: redis::RedisError) -> Error {
        Error::Redis { server: self.server.clone(), op, key: key.to_owned(), source: Box::new(e) }
    }

    fn corrupt(&self, key: &str, reason: impl Into<String>) -> Error {
        Error::RedisCorrupt {
            server: self.server.clone(),
            key: key.to_owned(),
            reason: reason.into(),
        }
    }

    /// Runs `f` on the connection (connecting first if there is none); a failure of `f` is
    /// [`Error::Redis`] for `op` on `key`.
    fn with_conn<T>(
        &self,
        op: &'static str,
        key: &str,
        f: impl FnOnce(&mut redis::Connection) -> redis::RedisResult<T>,
    ) -> Result<T> {
        self.try_conn(f)?.map_err(|e| self.redis_error(op, key, e))
    }

    /// Runs `f` on the connection (connecting first if there is none: failing to is the outer
    /// error). A failure of `f` that may have broken the connection drops it, so the next call
    /// connects again.
    fn try_conn<T>(
        &self,
        f: impl FnOnce(&mut redis::Connection) -> redis::RedisResult<T>,
    ) -> Result<redis::RedisResult<T>> {
        let mut slot = lock(&self.conn);
        let conn = match slot.take() {
            Some(conn) => conn,
            None => self
                .client
                .get_connection_with_timeout(IO_TIMEOUT)
                .and_then(|c| {
                    c.set_read_timeout(Some(IO_TIMEOUT))?;
                    c.set_write_timeout(Some(IO_TIMEOUT))?;
                    Ok(c)
                })
                .map_err(|e| self.redis_error("connect to", "", e))?,
        };
        let conn = slot.insert(conn);
        let result = f(conn);
        if let Err(e) = &result {
            if lost_connection(e) {
                *slot = None;
            }
        }
        Ok(result)
    }

    /// The number of entries in the log (`P:log_number` + 1; 0 when the key is absent).
    fn entry_count(&self) -> Result<u64> {
        let key = self.log_number_key();
        let raw: Option<Vec<u8>> =
            self.with_conn("GET", &key, |c| redis::cmd("GET").arg(&key).query(c))?;
        let Some(raw) = raw else { return Ok(0) };
        let text = std::str::from_utf8(&raw).ok().map(str::trim);
        match text.and_then(|t| t.parse::<i64>().ok()) {
            Some(n) if n >= -1 => Ok((n + 1) as u64),
            _ => Err(self.corrupt(
                &key,
                format!(
                    "holds {:?}, not a log number (an integer >= -1)",
                    String::from_utf8_lossy(&raw)
                ),
            )),
        }
    }

    /// Every operation of `batches` as the value of its log key, in order; refuses an operation
    /// Optuna cannot read ([`Error::NotRepresentable`]).
    fn encode(&self, batches: &[LogBatch]) -> Result<Vec<String>> {
        let mut values = Vec::new();
        for batch in batches {
            for op in &batch.ops {
                let mut value = String::new();
                optuna_codec::encode_object(&batch.worker_id, op, (", ", ": "), &mut value)
                    .map_err(|e| Error::NotRepresentable { path: self.shown.clone(), code: e.0 })?;
                values.push(value);
            }
        }
        Ok(values)
    }

    /// The values of entries `from..to` (`None` for a missing key).
    fn fetch(&self, from: u64, to: u64) -> Result<Vec<Option<Vec<u8>>>> {
        let keys: Vec<String> = (from..to).map(|n| self.log_key(n)).collect();
        let first = keys.first().cloned().unwrap_or_default();
        let values: Vec<Option<Vec<u8>>> =
            self.with_conn("MGET", &first, |c| redis::cmd("MGET").arg(&keys).query(c))?;
        if values.len() != keys.len() {
            return Err(self.corrupt(
                &first,
                format!("MGET of {} keys returned {} values", keys.len(), values.len()),
            ));
        }
        Ok(values)
    }

    /// The value of entry `n`, waiting up to `missing_key_wait` for it to appear.
    fn wait_for(&self, n: u64) -> Result<Vec<u8>> {
        let key = self.log_key(n);
        let deadline = Instant::now() + self.missing_key_wait;
        let mut pause = Duration::from_millis(10);
        loop {
            let value: Option<Vec<u8>> =
                self.with_conn("GET", &key, |c| redis::cmd("GET").arg(&key).query(c))?;
            if let Some(v) = value {
                return Ok(v);
            }
            let now = Instant::now();
            if now >= deadline {
                return Err(self.corrupt(
                    &key,
                    format!(
                        "missing although {} says the log goes on past it (waited {:?}; a crashed Optuna cluster-mode writer leaves such a gap)",
                        self.log_number_key(),
                        self.missing_key_wait
                    ),
                ));
            }
            std::thread::sleep(pause.min(deadline - now));
            pause = (pause * 2).min(Duration::from_millis(500));
        }
    }

    /// After the reply to appending `values` at entry `expected_end` was lost: whether the
    /// server applied it. The script writes nowhere else, so the batch is either at exactly
    /// `expected_end..` or absent; the worker id in each value makes it ours.
    fn applied_after_lost_reply(&self, expected_end: u64, values: &[String]) -> Result<bool> {
        let end = expected_end + values.len() as u64;
        if self.entry_count()? < end {
            return Ok(false);
        }
        let found = self.fetch(expected_end, end)?;
        Ok(found.iter().zip(values).all(|(f, v)| f.as_deref() == Some(v.as_bytes())))
    }

    /// Runs the append script (`EVALSHA`, loading it first if this handle has not, or the
    /// server lost it); `Ok(Ok(_))` is its reply, `Ok(Err(_))` the command's failure.
    fn run_append(
        &self,
        expected_end: u64,
        values: &[String],
        second_try: bool,
    ) -> Result<redis::RedisResult<ScriptReply>> {
        let key = self.log_number_key();
        let turn = self.turn_key();
        let expected = expected_end as i64 - 1;
        let mut sha = lock(&self.script_sha);
        self.try_conn(|c| {
            let mut loaded = false;
            loop {
                let hash = match sha.as_ref() {
                    Some(hash) => hash.clone(),
                    None => {
                        loaded = true;
                        sha.insert(redis::cmd("SCRIPT").arg("LOAD").arg(APPEND_SCRIPT).query(c)?)
                            .clone()
                    }
                };
                let mut cmd = redis::cmd("EVALSHA");
                cmd.arg(hash).arg(2).arg(&key).arg(&turn).arg(&self.prefix).arg(expected);
                cmd.arg(&self.token).arg(if second_try { "1" } else { "0" }).arg(self.turn_ms);
                cmd.arg(values);
                match cmd.query::<(i64, i64)>(c) {
                    // The server does not have the script (it restarted): it ran nothing.
                    Err(e) if e.code() == Some("NOSCRIPT") && !loaded => *sha = None,
                    Err(e) => return Err(e),
                    Ok((1, n)) => return Ok(ScriptReply::Appended((n + 1).max(0) as u64)),
                    Ok((2, _)) => return Ok(ScriptReply::Wait),
                    Ok(_) => return Ok(ScriptReply::Moved),
                }
            }
        })
    }
}

impl LogBackend for RedisBackend {
    type WriteGuard<'a> = MutexGuard<'a, ()>;

    fn path(&self) -> &Path {
        &self.shown
    }

    fn read_from(
        &self,
        from: u64,
        sink: &mut dyn FnMut(u64, &LogBatch) -> Result<()>,
    ) -> Result<u64> {
        let count = self.entry_count()?;
        if count < from {
            return Err(self.corrupt(
                &self.log_number_key(),
                format!("the log has {count} entries, fewer than the {from} already read (was the prefix deleted?)"),
            ));
        }
        let mut decoder = LineDecoder::new();
        let mut batch = LogBatch { worker_id: String::new(), ops: Vec::with_capacity(1) };
        let mut at = from;
        while at < count {
            let to = count.min(at + READ_CHUNK as u64);
            for (i, value) in self.fetch(at, to)?.into_iter().enumerate() {
                let n = at + i as u64;
                let value = match value {
                    Some(v) => v,
                    None => self.wait_for(n)?,
                };
                let (worker, op) = decoder.decode(&value).map_err(|e| {
                    let key = self.log_key(n);
                    match e {
                        LineError::UnknownOperation(code) => self.corrupt(
                            &key,
                            format!("operation code {code} is unknown to this build"),
                        ),
                        LineError::Malformed(reason) => {
                            self.corrupt(&key, format!("not an Optuna journal operation: {reason}"))
                        }
                    }
                })?;
                batch.worker_id.clear();
                batch.worker_id.push_str(&worker);
                batch.ops.clear();
                batch.ops.push(op);
                sink(n, &batch)?;
            }
            at = to;
        }
        Ok(count)
    }

    /// [`Error::RedisCorrupt`] naming the key of log number `at` (positions handed to
    /// `read_from`'s sink are log numbers), never a byte offset.
    fn corrupt_at(&self, at: u64, reason: String) -> Error {
        self.corrupt(&self.log_key(at), reason)
    }

    fn lock(&self) -> Result<MutexGuard<'_, ()>> {
        let guard = lock(&self.writer);
        self.refusals.store(0, Ordering::Relaxed);
        Ok(guard)
    }

    /// True: the append script checks the end, so a current writer appends in one round trip.
    fn write_before_read(&self) -> bool {
        true
    }

    fn stores_extension_ops(&self) -> bool {
        false
    }

    fn check_batch(&self, batch: &LogBatch) -> Result<()> {
        self.encode(std::slice::from_ref(batch)).map(drop)
    }

    /// Writes every operation of `batches` as consecutive keys in one script run (so the whole
    /// group is all or nothing), if the log still ends at `expected_end`.
    fn write_if(
        &self,
        _guard: &MutexGuard<'_, ()>,
        expected_end: u64,
        batches: &[LogBatch],
    ) -> Result<AppendOutcome> {
        let values = self.encode(batches)?;
        if values.is_empty() {
            return Ok(AppendOutcome::Appended { end: expected_end });
        }
        let key = self.log_number_key();
        let second_try = self.refusals.load(Ordering::Relaxed) > 0;
        let reply = loop {
            match self.run_append(expected_end, &values, second_try)? {
                // Another writer lost twice and has its turn (until it appends, at most
                // `turn_ms`): let it append first.
                Ok(ScriptReply::Wait) => std::thread::sleep(TURN_POLL),
                reply => break reply,
            }
        };
        match reply {
            Ok(ScriptReply::Appended(end)) => Ok(AppendOutcome::Appended { end }),
            Ok(ScriptReply::Moved | ScriptReply::Wait) => {
                self.refusals.fetch_add(1, Ordering::Relaxed);
                Ok(AppendOutcome::Moved)
            }
            Err(e) if lost_connection(&e) => {
                // The reply may be lost after the server ran the script: look before reporting,
                // so the caller never writes the same batch twice. Looking only reads, so it is
                // tried again (on a new connection) a few times.
                let mut pause = Duration::from_millis(10);
                for attempt in 0..LOOKUP_ATTEMPTS {
                    match self.applied_after_lost_reply(expected_end, &values) {
                        Ok(true) => {
                            let end = expected_end + values.len() as u64;
                            return Ok(AppendOutcome::Appended { end });
                        }
                        Ok(false) => return Err(self.redis_error("append to", &key, e)),
                        Err(_) if attempt + 1 < LOOKUP_ATTEMPTS => {
                            std::thread::sleep(pause);
                            pause *= 2;
                        }
                        Err(_) => {}
                    }
                }
                Err(self.redis_error(OUTCOME_UNKNOWN, &key, e))
            }
            Err(e) if e.to_string().contains("TRIALOG_PAST_END") => Err(self.corrupt(
                &self.log_key(expected_end),
                format!(
                    "exists although {key} says the log ends before it: the prefix does not hold an Optuna journal; nothing was written"
                ),
            )),
            Err(e) if e.to_string().contains("TRIALOG") => {
                Err(self
                    .corrupt(&key, "does not hold a log number (an integer); nothing was written"))
            }
            Err(e) => Err(self.redis_error("append to", &key, e)),
        }
    }

    /// Nothing to do: the server applied the script before replying, and how durable that is
    /// is the server's persistence setting (`docs/REDIS.md`, "Durability").
    fn sync_written(&self, _guard: &MutexGuard<'_, ()>) -> Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_split_into_server_and_prefix() {
        assert_eq!(split_url("redis://h:1/2").unwrap(), ("redis://h:1/2".into(), None));
        assert_eq!(
            split_url("redis://h:1/2?prefix=a%2Fb%20c").unwrap(),
            ("redis://h:1/2".into(), Some("a/b c".into()))
        );
        assert!(split_url("redis://h?db=3").is_err());
        assert!(split_url("redis://h?prefix=%zz").is_err());
        assert!(split_url("/tmp/journal").is_err());
    }

    #[test]
    fn passwords_are_hidden() {
        assert_eq!(hide_password("redis://u:secret@h:1/0"), "redis://u:***@h:1/0");
        assert_eq!(hide_password("redis://:secret@h"), "redis://:***@h");
        assert_eq!(hide_password("redis://h:1/0?prefix=a@b"), "redis://h:1/0?prefix=a@b");
    }

    #[test]
    fn prefixes_round_trip_through_the_shown_url() {
        for p in ["study", "a/b c", "é?&="] {
            let shown = format!("redis://h?prefix={}", percent_encode(p));
            assert_eq!(split_url(&shown).unwrap().1.as_deref(), Some(p));
        }
    }
}
