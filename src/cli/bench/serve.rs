//! `trialog bench serve`: the server's capacity without Python in the way (docs/SERVER.md).
//!
//! Starts this binary's `trialog serve` on a fresh journal, measures the disk's single-writer
//! append + `fdatasync` rate beside it, then runs CALLERS concurrent gRPC callers spread over
//! CONNECTIONS HTTP/2 connections (as many workers each hold their own) in two phases of SECONDS
//! each: durable writes (`SetTrialIntermediateValue` on the caller's own trial, each durable
//! before its reply) and reads (`GetTrial` of W1-shape trials). One JSON line per phase: calls/s,
//! p50/p99 latency, and for the writes their ratio to the single-writer `fdatasync` rate (which
//! only group commit can exceed). Where the server's CPU time can be read (Linux), each phase
//! also reports the CPU time per call of the server and of this load client, and the calls/s
//! the server's CPU time bounds it to with all the machine's cores to itself.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use clap::Args;
use tonic::transport::{Channel, Endpoint};
use trialog::grpc::proto::storage_service_client::StorageServiceClient;
use trialog::grpc::proto::*;

use super::json::JsonLine;
use super::rusage::{cpu_seconds, cpu_seconds_of};
use crate::cli::CliError;

/// Arguments of `trialog bench serve`.
#[derive(Debug, Args)]
pub struct ServeBenchArgs {
    /// Directory for the server's journal and the fsync probe (default: the temporary
    /// directory). Put it on the disk you want to measure.
    #[arg(long)]
    pub dir: Option<PathBuf>,
    /// Seconds per phase.
    #[arg(long, default_value_t = 5.0)]
    pub seconds: f64,
    /// Concurrent callers.
    #[arg(long, default_value_t = 64)]
    pub callers: usize,
    /// HTTP/2 connections the callers are spread over (round robin).
    #[arg(long, default_value_t = 8)]
    pub connections: usize,
    /// The server's `--threads` (its default if not given).
    #[arg(long)]
    pub server_threads: Option<u16>,
}

type Client = StorageServiceClient<Channel>;

/// A fresh directory for the run, removed with everything in it when dropped.
struct ScratchDir(PathBuf);

impl ScratchDir {
    fn new(parent: &Path) -> Result<Self, CliError> {
        let path = parent.join(format!("trialog-bench-serve-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir(&path).map_err(|e| CliError::at(&path, e))?;
        Ok(ScratchDir(path))
    }
}

impl Drop for ScratchDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The spawned server, killed when dropped.
struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts `trialog serve` on a free port for `journal`; returns it and its `http://` address.
fn start_server(journal: &Path, threads: Option<u16>) -> Result<(Server, String), CliError> {
    let exe = std::env::current_exe().map_err(|e| CliError::msg(format!("bench serve: {e}")))?;
    let mut child = Command::new(exe)
        .args(["serve", "--port", "0", "--journal"])
        .arg(journal)
        .args(threads.map(|n| format!("--threads={n}")))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| CliError::msg(format!("bench serve: cannot start trialog serve: {e}")))?;
    let mut line = String::new();
    let stderr = child.stderr.take();
    let server = Server(child);
    if let Some(stderr) = stderr {
        let _ = BufReader::new(stderr).read_line(&mut line);
    }
    // "trialog serve: listening on ADDR for JOURNAL"
    let addr = line.split_whitespace().skip_while(|w| *w != "on").nth(1).ok_or_else(|| {
        CliError::msg(format!("bench serve: the server did not start: {:?}", line.trim()))
    })?;
    Ok((server, format!("http://{addr}")))
}

/// Appends of 100 bytes each followed by `fdatasync`, in a loop for `seconds`: per second.
fn fsync_rate(dir: &Path, seconds: f64) -> Result<f64, CliError> {
    let path = dir.join("fsync-probe");
    let io = |e: std::io::Error| CliError::at(&path, e);
    let mut f = std::fs::OpenOptions::new().create(true).append(true).open(&path).map_err(io)?;
    let start = Instant::now();
    let mut n = 0u64;
    while start.elapsed().as_secs_f64() < seconds {
        f.write_all(&[b'x'; 100]).map_err(io)?;
        f.sync_data().map_err(io)?;
        n += 1;
    }
    let rate = n as f64 / start.elapsed().as_secs_f64();
    std::fs::remove_file(&path).map_err(io)?;
    Ok(rate)
}

fn status(e: tonic::Status) -> CliError {
    CliError::msg(format!("bench serve: a call failed: {e}"))
}

/// Creates the study, one RUNNING trial per caller (for the writes) and one W1-shape COMPLETE
/// trial per caller (for the reads).
async fn prepare(c: &mut Client, callers: usize) -> Result<(Vec<i64>, Vec<i64>), CliError> {
    let study = c
        .create_new_study(CreateNewStudyRequest { directions: vec![0], study_name: "load".into() })
        .await
        .map_err(status)?
        .into_inner()
        .study_id;
    let new_trial = CreateNewTrialRequest {
        study_id: study,
        template_trial: None,
        template_trial_is_none: true,
    };
    let dist = r#"{"name": "FloatDistribution", "attributes": {"step": null, "low": -10.0, "high": 10.0, "log": false}}"#;
    let (mut running, mut finished) = (Vec::new(), Vec::new());
    for i in 0..callers {
        running.push(
            c.create_new_trial(new_trial.clone()).await.map_err(status)?.into_inner().trial_id,
        );
        let trial_id =
            c.create_new_trial(new_trial.clone()).await.map_err(status)?.into_inner().trial_id;
        for name in ["x", "y"] {
            let value = i as f64 / callers as f64;
            c.set_trial_parameter(SetTrialParameterRequest {
                trial_id,
                param_name: name.into(),
                param_value_internal: value,
                distribution: dist.into(),
            })
            .await
            .map_err(status)?;
        }
        c.set_trial_intermediate_value(SetTrialIntermediateValueRequest {
            trial_id,
            step: 0,
            intermediate_value: 1.0,
        })
        .await
        .map_err(status)?;
        c.set_trial_state_values(SetTrialStateValuesRequest {
            trial_id,
            state: 1,
            values: vec![1.0],
        })
        .await
        .map_err(status)?;
        finished.push(trial_id);
    }
    Ok((running, finished))
}

/// The two phases.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Phase {
    DurableWrites,
    GetTrialReads,
}

/// Runs one phase: every caller calls in a loop until `seconds` have passed. Returns the
/// latencies of all calls, sorted, and the elapsed seconds.
async fn phase(
    clients: &[Client],
    running: &[i64],
    finished: &[i64],
    phase: Phase,
    seconds: f64,
) -> Result<(Vec<Duration>, f64), CliError> {
    let deadline = Instant::now() + Duration::from_secs_f64(seconds);
    let start = Instant::now();
    let tasks: Vec<_> = running
        .iter()
        .enumerate()
        .map(|(i, &own)| {
            let mut c = clients[i % clients.len()].clone();
            let finished = finished.to_vec();
            tokio::spawn(async move {
                let mut lat = Vec::new();
                let mut step = 1i64;
                while Instant::now() < deadline {
                    let t0 = Instant::now();
                    match phase {
                        Phase::DurableWrites => c
                            .set_trial_intermediate_value(SetTrialIntermediateValueRequest {
                                trial_id: own,
                                step,
                                intermediate_value: step as f64,
                            })
                            .await
                            .map(drop),
                        Phase::GetTrialReads => {
                            let trial_id = finished[(i + step as usize) % finished.len()];
                            c.get_trial(GetTrialRequest { trial_id }).await.map(drop)
                        }
                    }
                    .map_err(status)?;
                    lat.push(t0.elapsed());
                    step += 1;
                }
                Ok::<_, CliError>(lat)
            })
        })
        .collect();
    let mut lat = Vec::new();
    for t in tasks {
        let calls =
            t.await.map_err(|e| CliError::msg(format!("bench serve: a caller died: {e}")))?;
        lat.extend(calls?);
    }
    let elapsed = start.elapsed().as_secs_f64();
    lat.sort();
    Ok((lat, elapsed))
}

fn millis(sorted: &[Duration], p: f64) -> f64 {
    match sorted.len() {
        0 => f64::NAN,
        n => sorted[((n as f64 * p) as usize).min(n - 1)].as_secs_f64() * 1e3,
    }
}

/// Runs the benchmark and prints one JSON line for the disk and one per phase.
pub fn run(a: &ServeBenchArgs) -> Result<(), CliError> {
    if a.callers == 0 || a.connections == 0 || !a.seconds.is_finite() || a.seconds <= 0.0 {
        return Err(CliError::msg(
            "bench serve: --callers, --connections and --seconds must be > 0",
        ));
    }
    let dir = a.dir.clone().unwrap_or_else(std::env::temp_dir);
    let work = ScratchDir::new(&dir)?;
    let disk = fsync_rate(&work.0, a.seconds.min(2.0))?;
    JsonLine::new()
        .str("w", "serve")
        .str("phase", "disk")
        .num("single_writer_fdatasync_per_s", disk)
        .print();

    let (server, url) = start_server(&work.0.join("load.journal"), a.server_threads)?;
    let server_pid = server.0.id();
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    // The callers share one thread: the load client takes at most one core, and its calls hop
    // between tasks without waking other threads (the server gets the rest of the machine).
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| CliError::msg(format!("bench serve: no async runtime: {e}")))?;
    runtime.block_on(async {
        let mut clients = Vec::new();
        for _ in 0..a.connections.min(a.callers) {
            let endpoint = Endpoint::from_shared(url.clone())
                .map_err(|e| CliError::msg(format!("bench serve: {url}: {e}")))?
                .tcp_nodelay(true);
            let channel = endpoint
                .connect()
                .await
                .map_err(|e| CliError::msg(format!("bench serve: cannot connect to {url}: {e}")))?;
            clients.push(StorageServiceClient::new(channel));
        }
        let (running, finished) = prepare(&mut clients[0], a.callers).await?;
        for which in [Phase::DurableWrites, Phase::GetTrialReads] {
            let (server0, client0) = (cpu_seconds_of(server_pid), cpu_seconds());
            let (lat, elapsed) = phase(&clients, &running, &finished, which, a.seconds).await?;
            let (server1, client1) = (cpu_seconds_of(server_pid), cpu_seconds());
            let rate = lat.len() as f64 / elapsed;
            let calls = lat.len().max(1) as f64;
            let mut line = JsonLine::new()
                .str("w", "serve")
                .int("callers", a.callers as u64)
                .int("connections", clients.len() as u64)
                .int("calls", lat.len() as u64)
                .num("per_s", rate)
                .num("p50_ms", millis(&lat, 0.5))
                .num("p99_ms", millis(&lat, 0.99));
            if let (Some(s0), Some(s1)) = (server0, server1) {
                let per_call = (s1 - s0) / calls;
                line = line
                    .num("server_cpu_us_per_call", per_call * 1e6)
                    .num("client_cpu_us_per_call", (client1 - client0) / calls * 1e6)
                    .int("cores", cores as u64)
                    .num("server_cpu_bound_per_s", cores as f64 / per_call);
            }
            line = match which {
                Phase::DurableWrites => line
                    .str("phase", "durable_writes")
                    .num("ratio_to_single_writer_fdatasync", rate / disk),
                Phase::GetTrialReads => line.str("phase", "get_trial_reads"),
            };
            line.print();
        }
        Ok(())
    })
}
