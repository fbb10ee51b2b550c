//! Server capacity without Python: 64 concurrent gRPC callers against `trialog serve`.
//!
//! `cargo run --release --example serve_load -- [DIR] [SECONDS] [CALLERS]` starts
//! `target/release/trialog serve` (or $TRIALOG_BIN) on a fresh journal in DIR (default: the
//! temporary directory), measures this disk's single-writer `fdatasync` rate in DIR (append 100
//! bytes + `fdatasync`, in a loop), then CALLERS tasks each writing intermediate values of their own
//! trial (every call durable before its reply) for SECONDS, then CALLERS tasks reading `GetTrial`
//! of W1-shape trials (two parameters, an intermediate value, COMPLETE) for SECONDS. Prints one JSON line per phase with calls/s and p50/p99 latency, and the ratio of
//! durable writes/s to the single-writer fdatasync rate.

use std::io::{BufRead, BufReader, Write};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use trialog::grpc::proto::storage_service_client::StorageServiceClient;
use trialog::grpc::proto::*;

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    sorted[((sorted.len() as f64 * p) as usize).min(sorted.len() - 1)].as_secs_f64() * 1e3
}

fn fsync_rate(dir: &std::path::Path, seconds: f64) -> f64 {
    let path = dir.join("fsync-probe");
    let mut f = std::fs::OpenOptions::new().create(true).append(true).open(&path).unwrap();
    let start = Instant::now();
    let mut n = 0u64;
    while start.elapsed().as_secs_f64() < seconds {
        f.write_all(&[b'x'; 100]).unwrap();
        f.sync_data().unwrap();
        n += 1;
    }
    let rate = n as f64 / start.elapsed().as_secs_f64();
    let _ = std::fs::remove_file(path);
    rate
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let dir = args.get(1).map(PathBuf::from).unwrap_or_else(std::env::temp_dir);
    let seconds: f64 = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(5.0);
    let callers: usize = args.get(3).and_then(|s| s.parse().ok()).unwrap_or(64);
    let bin = std::env::var("TRIALOG_BIN").unwrap_or_else(|_| "target/release/trialog".into());
    let work = tempfile::tempdir_in(&dir).unwrap();
    let disk = fsync_rate(work.path(), 2.0);
    println!("{{\"phase\": \"disk\", \"single_writer_fdatasync_per_s\": {disk:.0}}}");

    let mut server = Command::new(&bin)
        .args(["serve", "--port", "0", "--journal"])
        .arg(work.path().join("load.journal"))
        .stderr(Stdio::piped())
        .spawn()
        .expect("start trialog serve");
    let mut line = String::new();
    BufReader::new(server.stderr.as_mut().unwrap()).read_line(&mut line).unwrap();
    let addr = line.split_whitespace().skip_while(|w| *w != "on").nth(1).unwrap().to_owned();
    let url = format!("http://{addr}");

    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let mut c = StorageServiceClient::connect(url.clone()).await.unwrap();
        let study = c
            .create_new_study(CreateNewStudyRequest { directions: vec![0], study_name: "load".into() })
            .await
            .unwrap()
            .into_inner()
            .study_id;
        let mut trials = Vec::new();
        for _ in 0..callers {
            let r = c
                .create_new_trial(CreateNewTrialRequest {
                    study_id: study,
                    template_trial: None,
                    template_trial_is_none: true,
                })
                .await
                .unwrap();
            trials.push(r.into_inner().trial_id);
        }
        // W1-shape trials (two parameters, one intermediate value, COMPLETE) for the reads.
        let mut finished = Vec::new();
        let dist = r#"{"name": "FloatDistribution", "attributes": {"step": null, "low": -10.0, "high": 10.0, "log": false}}"#;
        for i in 0..callers {
            let trial_id = c
                .create_new_trial(CreateNewTrialRequest {
                    study_id: study,
                    template_trial: None,
                    template_trial_is_none: true,
                })
                .await
                .unwrap()
                .into_inner()
                .trial_id;
            for name in ["x", "y"] {
                c.set_trial_parameter(SetTrialParameterRequest {
                    trial_id,
                    param_name: name.into(),
                    param_value_internal: i as f64 / callers as f64,
                    distribution: dist.into(),
                })
                .await
                .unwrap();
            }
            c.set_trial_intermediate_value(SetTrialIntermediateValueRequest {
                trial_id,
                step: 0,
                intermediate_value: 1.0,
            })
            .await
            .unwrap();
            c.set_trial_state_values(SetTrialStateValuesRequest { trial_id, state: 1, values: vec![1.0] })
                .await
                .unwrap();
            finished.push(trial_id);
        }
        for phase in ["durable_writes", "get_trial_reads"] {
            let deadline = Instant::now() + Duration::from_secs_f64(seconds);
            let tasks: Vec<_> = trials
                .iter()
                .enumerate()
                .map(|(i, &trial_id)| {
                    let mut c = c.clone();
                    let all = finished.clone();
                    tokio::spawn(async move {
                        let mut lat = Vec::new();
                        let mut step = 0i64;
                        while Instant::now() < deadline {
                            let t0 = Instant::now();
                            if phase == "durable_writes" {
                                c.set_trial_intermediate_value(SetTrialIntermediateValueRequest {
                                    trial_id,
                                    step,
                                    intermediate_value: step as f64,
                                })
                                .await
                                .unwrap();
                            } else {
                                let id = all[(i + step as usize) % all.len()];
                                c.get_trial(GetTrialRequest { trial_id: id }).await.unwrap();
                            }
                            lat.push(t0.elapsed());
                            step += 1;
                        }
                        lat
                    })
                })
                .collect();
            let start = Instant::now();
            let mut lat = Vec::new();
            for t in tasks {
                lat.extend(t.await.unwrap());
            }
            let elapsed = start.elapsed().as_secs_f64();
            lat.sort();
            let rate = lat.len() as f64 / elapsed;
            let ratio = if phase == "durable_writes" {
                format!(", \"ratio_to_single_writer_fdatasync\": {:.2}", rate / disk)
            } else {
                String::new()
            };
            println!(
                "{{\"phase\": \"{phase}\", \"callers\": {callers}, \"calls\": {}, \"per_s\": {rate:.0}, \"p50_ms\": {:.3}, \"p99_ms\": {:.3}{ratio}}}",
                lat.len(),
                percentile(&lat, 0.5),
                percentile(&lat, 0.99)
            );
        }
    });
    let _ = Command::new("kill").arg(server.id().to_string()).status();
    let _ = server.wait();
}
