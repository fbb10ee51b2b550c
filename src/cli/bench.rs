//! `trialog bench <workload>`: the peer benchmark workloads W1-W4 of `shared/bench/README.md`
//! on trialog's file backend. Each workload prints one JSON line with the keys `bench.py` prints
//! for it (plus `lock` where a lock kind applies).

mod backup;
mod files;
mod json;
mod problems;
mod rusage;
mod sampler;
mod serve;
mod shape;
mod share;
mod w1;
mod w2;
mod w3;
mod w4;

use clap::{Args, Subcommand};

use super::CliError;
pub(crate) use files::LockArg;

/// Arguments of `trialog bench`.
#[derive(Debug, Args)]
pub struct BenchArgs {
    /// The workload to run.
    #[command(subcommand)]
    pub workload: Workload,
}

/// The workloads.
#[derive(Debug, Subcommand)]
pub enum Workload {
    /// W1 append: one process writes N trials (5 durable appends each) to a fresh journal.
    W1(w1::W1Args),
    /// Builds an N-trial journal of the W1 shape for W2 and W4 (in memory, written once).
    W2Build(w2::BuildArgs),
    /// W2 cold replay: open the journal and read all trials in this fresh process.
    W2(w2::W2Args),
    /// W3 concurrency: P worker processes each write N trials to one journal.
    W3(w3::W3Args),
    /// One W3 worker process (started by `w3`).
    #[command(hide = true)]
    W3Worker(w3::WorkerArgs),
    /// W4 incremental sync: time k create_new_trial round trips with N trials loaded.
    W4(w4::W4Args),
    /// Sampler quality: runs of one sampler on one problem in memory, one JSON line per run
    /// (driven by bench/samplers.py).
    Sampler(sampler::SamplerArgs),
    /// A problem's objective values at one point (cross-check for bench/samplers.py).
    SamplerEval(sampler::EvalArgs),
    /// TPE time per suggestion after N trials (bench/samplers.py).
    SamplerSpeed(sampler::SpeedArgs),
    /// Backup throughput of an N-trial journal against `cp`, and the incremental backup after
    /// M more trials (docs/LIFECYCLE.md).
    Backup(backup::BackupBenchArgs),
    /// Server capacity: concurrent gRPC callers against `trialog serve` on a fresh journal,
    /// durable writes and `GetTrial` reads (docs/SERVER.md).
    Serve(serve::ServeBenchArgs),
    /// One trialog writer on an Optuna journal beside Python writers (started by
    /// `bench/optuna_share.py`).
    #[command(hide = true)]
    OptunaWorker(share::OptunaWorkerArgs),
}

/// Runs one workload.
pub fn run(args: BenchArgs) -> Result<(), CliError> {
    match args.workload {
        Workload::W1(a) => w1::run(&a),
        Workload::W2Build(a) => w2::build(&a),
        Workload::W2(a) => w2::replay(&a),
        Workload::W3(a) => w3::run(&a),
        Workload::W3Worker(a) => w3::worker(&a),
        Workload::W4(a) => w4::run(&a),
        Workload::Sampler(a) => sampler::run(&a),
        Workload::SamplerEval(a) => sampler::eval(&a),
        Workload::SamplerSpeed(a) => sampler::speed(&a),
        Workload::OptunaWorker(a) => share::worker(&a),
        Workload::Backup(a) => backup::run(&a),
        Workload::Serve(a) => serve::run(&a),
    }
}
