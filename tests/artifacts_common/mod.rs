//! Shared plumbing of the artifact tests: a local S3-compatible server (moto's `moto_server`,
//! from PyPI's `moto[server]`), generated artifact bodies, and tests that re-run themselves as
//! child processes (to be killed, or to measure their own peak memory).
//!
//! Without Python Optuna, moto and boto3 the tests that need them print a loud `SKIPPED` line
//! and return, unless `TRIALOG_REQUIRE_OPTUNA=1` (set by `.ci/run`): then they fail.
#![allow(dead_code)] // each test file uses a different subset

use std::io::{self, Read, Seek, SeekFrom, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use trialog::artifacts::S3Config;

/// Whether `python3` can import `modules` (comma-separated); `false` after printing why the
/// caller skips. Panics if it cannot but `TRIALOG_REQUIRE_OPTUNA=1`.
pub fn have_python(test: &str, modules: &str) -> bool {
    let ok = Command::new("python3")
        .args(["-c", &format!("import {modules}")])
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        assert!(
            std::env::var("TRIALOG_REQUIRE_OPTUNA").as_deref() != Ok("1"),
            "{test}: `python3 -c 'import {modules}'` fails but TRIALOG_REQUIRE_OPTUNA=1 \
             (python3 -m pip install optuna==5.0.0 \"moto[server]\" boto3)"
        );
        let _ = writeln!(
            io::stderr(),
            "\n*** SKIPPED {test}: python3 cannot import {modules} \
             (python3 -m pip install optuna==5.0.0 \"moto[server]\" boto3) ***\n"
        );
    }
    ok
}

/// Whether the S3 tests can run (moto's server and boto3); see [`have_python`].
pub fn have_moto(test: &str) -> bool {
    have_python(test, "moto.server, boto3")
}

/// The credentials every test gives moto (it accepts any).
pub const KEY: &str = "testing";

/// A `moto_server` on 127.0.0.1 and a free port, killed (by its pid) when dropped.
pub struct Moto {
    child: Option<Child>,
    /// `http://127.0.0.1:<port>`.
    pub endpoint: String,
}

impl Moto {
    /// Starts the server and waits until it accepts connections.
    pub fn start() -> Moto {
        for _ in 0..5 {
            let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
            let mut child = Command::new("python3")
                .args(["-m", "moto.server", "-H", "127.0.0.1", "-p", &port.to_string()])
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("spawn python3 -m moto.server");
            let deadline = Instant::now() + Duration::from_secs(60);
            while Instant::now() < deadline {
                if child.try_wait().unwrap().is_some() {
                    break; // the port was taken meanwhile: try another
                }
                if TcpStream::connect(("127.0.0.1", port)).is_ok() {
                    return Moto {
                        child: Some(child),
                        endpoint: format!("http://127.0.0.1:{port}"),
                    };
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
        panic!("moto_server did not start");
    }

    /// Stops the server (SIGKILL to its pid) and waits for it.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Creates `bucket` through boto3.
    pub fn create_bucket(&self, bucket: &str) {
        let script = format!(
            "import boto3; boto3.client('s3', endpoint_url='{}', region_name='us-east-1')\
             .create_bucket(Bucket='{bucket}')",
            self.endpoint
        );
        run_ok(Command::new("python3").args(["-c", &script]).envs(env()));
    }

    /// How many multipart uploads of `bucket` are in progress (started, neither completed nor
    /// aborted), through boto3.
    pub fn multipart_uploads(&self, bucket: &str) -> usize {
        let script = format!(
            "import boto3; c = boto3.client('s3', endpoint_url='{}', region_name='us-east-1'); \
             print(len(c.list_multipart_uploads(Bucket='{bucket}').get('Uploads', [])))",
            self.endpoint
        );
        run_ok(Command::new("python3").args(["-c", &script]).envs(env())).trim().parse().unwrap()
    }

    /// A store configuration for `bucket` on this server, not reading the environment, without
    /// the client's own retries.
    pub fn config(&self, bucket: &str) -> S3Config {
        let mut c = S3Config::from_url(&format!("s3://{bucket}")).unwrap();
        c.from_env = false;
        c.endpoint = Some(self.endpoint.clone());
        c.region = Some("us-east-1".into());
        c.credentials = Some((KEY.into(), KEY.into()));
        c.request_retries = 0;
        c
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        self.stop();
    }
}

/// The environment a `trialog` or Python process needs to talk to moto.
pub fn env() -> [(&'static str, &'static str); 3] {
    [
        ("AWS_ACCESS_KEY_ID", KEY),
        ("AWS_SECRET_ACCESS_KEY", KEY),
        ("AWS_DEFAULT_REGION", "us-east-1"),
    ]
}

/// Runs a command, panicking with its stderr unless it succeeds; returns stdout.
pub fn run_ok(cmd: &mut Command) -> String {
    let out = cmd.output().expect("spawn");
    assert!(
        out.status.success(),
        "{cmd:?} failed ({}):\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("utf-8 output")
}

/// The `trialog` binary with `args` (and moto's credentials in its environment).
pub fn trialog(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_trialog"))
        .args(args)
        .envs(env())
        .output()
        .expect("spawn trialog")
}

/// `trialog args...`, which must succeed; returns stdout.
pub fn trialog_ok(args: &[&str]) -> String {
    run_ok(Command::new(env!("CARGO_BIN_EXE_trialog")).args(args).envs(env()))
}

/// `python3 tests/python/artifacts.py args...`, which must succeed; returns stdout.
pub fn py(args: &[&str]) -> String {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/python/artifacts.py");
    run_ok(Command::new("python3").arg(script).args(args).envs(env()))
}

/// A deterministic artifact body of `len` bytes, generated as it is read (nothing on disk or
/// in memory beyond one block): a fixed pseudo-random 64 KiB block with the block's index in its
/// first 8 bytes, so no two blocks are equal. Seekable back to its start (for retries).
pub struct Generated {
    len: u64,
    pos: u64,
    block: Vec<u8>,
    /// Called once with the position when reading first passes it.
    pub at: Option<(u64, Box<dyn FnMut() + Send>)>,
}

const BLOCK: usize = 64 << 10;

impl Generated {
    /// A body of `len` bytes.
    pub fn new(len: u64) -> Self {
        let mut x = 0x9E37_79B9_7F4A_7C15u64;
        let block = (0..BLOCK)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                x as u8
            })
            .collect();
        Generated { len, pos: 0, block, at: None }
    }

    /// Calls `f` once, when reading first reaches `offset`.
    pub fn on_reaching(mut self, offset: u64, f: impl FnMut() + Send + 'static) -> Self {
        self.at = Some((offset, Box::new(f)));
        self
    }
}

impl Read for Generated {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if let Some((offset, f)) = &mut self.at {
            if self.pos >= *offset {
                f();
                self.at = None;
            }
        }
        let left = self.len - self.pos;
        let in_block = (self.pos % BLOCK as u64) as usize;
        let n = buf.len().min(left as usize).min(BLOCK - in_block);
        buf[..n].copy_from_slice(&self.block[in_block..in_block + n]);
        let index = (self.pos / BLOCK as u64).to_le_bytes();
        for (i, b) in buf[..n].iter_mut().enumerate().take(8usize.saturating_sub(in_block)) {
            *b = index[in_block + i];
        }
        self.pos += n as u64;
        Ok(n)
    }
}

impl Seek for Generated {
    fn seek(&mut self, pos: SeekFrom) -> io::Result<u64> {
        self.pos = match pos {
            SeekFrom::Start(p) => p.min(self.len),
            SeekFrom::Current(0) => self.pos,
            _ => return Err(io::Error::other("Generated seeks only to a position from its start")),
        };
        Ok(self.pos)
    }
}

/// Environment variable naming the role of a test re-run as a child process.
pub const ROLE_VAR: &str = "TRIALOG_ARTIFACT_ROLE";
/// Prefix of the report lines a child prints on stdout.
pub const MARKER: &str = "@@artifact ";

/// This process's role when a test re-ran itself ([`spawn_self`]), `None` in the parent.
pub fn role() -> Option<String> {
    std::env::var(ROLE_VAR).ok()
}

/// Re-runs test `name` of this test binary as a child with role `role` and `envs`, its stdout
/// piped (read its [`MARKER`] lines with [`Reports`]).
pub fn spawn_self(name: &str, role: &str, envs: &[(&str, &str)]) -> Child {
    Command::new(std::env::current_exe().unwrap())
        .args(["--exact", name, "--nocapture", "--test-threads", "1"])
        .env(ROLE_VAR, role)
        .envs(envs.iter().copied())
        .stdout(Stdio::piped())
        .spawn()
        .expect("re-run the test binary")
}

/// Prints one report line for the parent, flushed.
pub fn report(line: &str) {
    let mut out = io::stdout().lock();
    writeln!(out, "\n{MARKER}{line}").unwrap();
    out.flush().unwrap();
}

/// Reads a child's report lines.
pub struct Reports(io::BufReader<std::process::ChildStdout>);

impl Reports {
    /// The reports of `child` (takes its stdout).
    pub fn of(child: &mut Child) -> Self {
        Reports(io::BufReader::new(child.stdout.take().expect("piped stdout")))
    }

    /// The next report line (without the marker); panics if the child's output ends first.
    pub fn next(&mut self) -> String {
        use std::io::BufRead;
        let mut line = String::new();
        loop {
            line.clear();
            assert!(self.0.read_line(&mut line).unwrap() > 0, "the child ended without reporting");
            // libtest may have printed "test <name> ... " on the same line.
            if let Some(at) = line.find(MARKER) {
                return line[at + MARKER.len()..].trim_end().to_owned();
            }
        }
    }
}

impl Reports {
    /// Reads the child's remaining output to its end (so it never writes into a closed pipe).
    pub fn drain(mut self) {
        let _ = io::copy(&mut self.0, &mut io::sink());
    }
}

/// The peak resident set size of this process (`VmHWM`), in KiB (Linux).
pub fn peak_rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line =
        status.lines().find(|l| l.starts_with("VmHWM:")).expect("VmHWM in /proc/self/status");
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}
