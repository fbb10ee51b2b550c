//! Shared plumbing of the `server_*` tests: a `trialog serve` child on a journal.
#![allow(dead_code)] // each test file uses a different subset

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

/// A running `trialog serve`; killed (if still running) when dropped.
pub struct Server {
    pub child: Child,
    /// `http://127.0.0.1:PORT`, from the server's start line.
    pub url: String,
    pub journal: PathBuf,
}

impl Server {
    /// Starts `trialog serve --journal JOURNAL --port 0 EXTRA...` and waits for its start line.
    pub fn start(journal: &Path, extra: &[&str]) -> Server {
        Self::start_on(journal, "0", extra)
    }

    /// As [`Server::start`], on `port` (a restart on the port the clients know).
    pub fn start_on(journal: &Path, port: &str, extra: &[&str]) -> Server {
        let mut child = Command::new(env!("CARGO_BIN_EXE_trialog"))
            .args(["serve", "--journal"])
            .arg(journal)
            .args(["--port", port])
            .args(extra)
            .stderr(Stdio::piped())
            .spawn()
            .expect("start trialog serve");
        let mut line = String::new();
        BufReader::new(child.stderr.as_mut().unwrap()).read_line(&mut line).unwrap();
        let addr = line
            .split_whitespace()
            .skip_while(|w| *w != "on")
            .nth(1)
            .unwrap_or_else(|| panic!("no address in {line:?}"))
            .to_owned();
        Server { child, url: format!("http://{addr}"), journal: journal.to_owned() }
    }

    /// The port the server listens on.
    pub fn port(&self) -> &str {
        self.url.rsplit(':').next().unwrap()
    }

    /// `grpc://127.0.0.1:PORT`, the CLI's spelling.
    pub fn grpc(&self) -> String {
        self.url.replace("http://", "grpc://")
    }

    /// SIGTERM; returns the exit status.
    pub fn stop(mut self) -> std::process::ExitStatus {
        let pid = self.child.id().to_string();
        Command::new("kill").args(["-TERM", &pid]).status().unwrap();
        self.child.wait().unwrap()
    }

    /// SIGKILL (`kill -9`): no shutdown, no flush; returns when the process is gone.
    pub fn kill9(mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `trialog dump WHAT` (a journal path or `grpc://host:port`), which must succeed.
pub fn dump(what: &str) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_trialog")).args(["dump", what]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}
