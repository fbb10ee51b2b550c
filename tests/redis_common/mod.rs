//! Shared plumbing of the `redis_*` tests: a real `redis-server` of their own.
//!
//! Each test starts `redis-server` on 127.0.0.1 and a free port, in a temporary directory, and
//! kills it by pid when done (also when the test panics). Without `redis-server` on the `PATH`
//! the tests print a loud `SKIPPED` line and return, unless `TRIALOG_REQUIRE_REDIS=1` (set by
//! `.ci/run`): then they fail.
#![allow(dead_code)] // each test file uses a different subset

use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Whether `redis-server` can be started; `false` after printing why the caller skips. Panics
/// if it cannot but `TRIALOG_REQUIRE_REDIS=1`.
pub fn have_redis(test: &str) -> bool {
    let ok =
        Command::new("redis-server").arg("--version").output().is_ok_and(|o| o.status.success());
    if !ok {
        assert!(
            std::env::var("TRIALOG_REQUIRE_REDIS").as_deref() != Ok("1"),
            "{test}: `redis-server --version` fails but TRIALOG_REQUIRE_REDIS=1 \
             (apt-get install -y redis-server)"
        );
        use std::io::Write;
        let _ = writeln!(
            std::io::stderr(),
            "\n*** SKIPPED {test}: redis-server is not installed (apt-get install -y redis-server) ***\n"
        );
    }
    ok
}

/// Whether Python Optuna and Python's `redis` client (for `JournalRedisBackend`) can be used;
/// `false` after printing why the caller skips. Panics if they cannot but
/// `TRIALOG_REQUIRE_REDIS=1`.
pub fn have_python_redis(test: &str) -> bool {
    let ok = Command::new("python3")
        .args(["-c", "import optuna, redis"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        assert!(
            std::env::var("TRIALOG_REQUIRE_REDIS").as_deref() != Ok("1"),
            "{test}: `python3 -c 'import optuna, redis'` fails but TRIALOG_REQUIRE_REDIS=1 \
             (python3 -m pip install optuna==5.0.0 redis)"
        );
        use std::io::Write;
        let _ = writeln!(
            std::io::stderr(),
            "\n*** SKIPPED {test}: Python Optuna or its redis client is not installed (python3 -m pip install optuna==5.0.0 redis) ***\n"
        );
    }
    ok
}

/// A `redis-server` process of this test.
pub struct RedisServer {
    child: Option<Child>,
    /// Its port on 127.0.0.1.
    pub port: u16,
    dir: tempfile::TempDir,
    /// With `appendonly yes` and `appendfsync always` (survives a SIGKILL with every
    /// acknowledged write), else with no persistence at all.
    durable: bool,
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

impl RedisServer {
    /// Starts a server without persistence (`--save '' --appendonly no`).
    pub fn start() -> Self {
        Self::start_with(false)
    }

    /// Starts a server with `appendonly yes` and `appendfsync always` when `durable`.
    pub fn start_with(durable: bool) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let mut server = RedisServer { child: None, port: free_port(), dir, durable };
        server.launch();
        server
    }

    fn launch(&mut self) {
        let mut cmd = Command::new("redis-server");
        cmd.args(["--port", &self.port.to_string(), "--bind", "127.0.0.1", "--save", ""])
            .arg("--dir")
            .arg(self.dir.path())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit());
        if self.durable {
            cmd.args(["--appendonly", "yes", "--appendfsync", "always"]);
        } else {
            cmd.args(["--appendonly", "no"]);
        }
        self.child = Some(cmd.spawn().expect("start redis-server"));
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let ping = redis::Client::open(self.base_url().as_str())
                .and_then(|c| c.get_connection_with_timeout(Duration::from_secs(1)))
                .and_then(|mut c| redis::cmd("PING").query::<String>(&mut c));
            if ping.is_ok() {
                return;
            }
            if let Some(status) = self.child.as_mut().unwrap().try_wait().unwrap() {
                panic!("redis-server exited at start: {status}");
            }
            assert!(Instant::now() < deadline, "redis-server did not answer PING in 20 s");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// `redis://127.0.0.1:<port>/0`.
    pub fn base_url(&self) -> String {
        format!("redis://127.0.0.1:{}/0", self.port)
    }

    /// The journal URL of `prefix`.
    pub fn url(&self, prefix: &str) -> String {
        format!("{}?prefix={prefix}", self.base_url())
    }

    /// A plain client connection, for looking at and planting keys.
    pub fn client(&self) -> redis::Connection {
        redis::Client::open(self.base_url().as_str()).unwrap().get_connection().unwrap()
    }

    /// The server's directory (its append-only file lives there).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// SIGKILLs the server (by its pid) and reaps it.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts the server again on the same port and directory (after [`RedisServer::kill`]).
    pub fn restart(&mut self) {
        self.kill();
        self.launch();
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.kill();
    }
}

/// `GET key` as text (`None` if absent).
pub fn get(conn: &mut redis::Connection, key: &str) -> Option<String> {
    redis::cmd("GET").arg(key).query(conn).unwrap()
}

/// `SET key value`.
pub fn set(conn: &mut redis::Connection, key: &str, value: &str) {
    redis::cmd("SET").arg(key).arg(value).query::<()>(conn).unwrap();
}

/// Every key of the database, sorted.
pub fn keys(conn: &mut redis::Connection) -> Vec<String> {
    let mut k: Vec<String> = redis::cmd("KEYS").arg("*").query(conn).unwrap();
    k.sort();
    k
}
