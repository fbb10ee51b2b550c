//! Command-line interface: argument definitions and dispatch to one module per command.

pub mod artifacts;
pub mod backup;
pub mod bench;
pub mod best;
pub mod compact;
pub mod demo;
pub mod dump;
mod duration;
pub mod enqueue;
mod error;
pub mod export;
mod format;
pub mod import;
mod invocation;
mod journal;
pub mod lock;
pub mod logging;
mod progress;
pub mod recover;
pub mod report;
pub mod run;
pub mod serve;
pub mod snapshot;
mod space_file;
pub mod stats;
pub mod studies;
pub mod study;
pub mod top;
pub mod trials;
pub mod verify;

use clap::{ArgAction, Parser, Subcommand};

pub use error::{CliError, value_error};

/// `trialog`: a durable journal log engine for hyperparameter-optimization studies.
#[derive(Debug, Parser)]
#[command(name = "trialog", version, about)]
pub struct Cli {
    /// The command to run.
    #[command(subcommand)]
    pub command: Command,
    /// Print more of the library's log (repeat for more: info, debug, trace). Default: warnings,
    /// or the filter in TRIALOG_LOG.
    #[arg(short, long, action = ArgAction::Count, global = true)]
    pub verbose: u8,
    /// Print less of the library's log: -q errors only, -qq nothing.
    #[arg(short, long, action = ArgAction::Count, global = true)]
    pub quiet: u8,
}

/// The commands of the tool.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Files attached to trials and studies, in a directory or an S3 bucket (Optuna's
    /// artifacts): put, list, get, rm, gc, verify.
    Artifacts(artifacts::ArtifactsArgs),
    /// Run one of the peer benchmark workloads (W1-W4) on a journal file and print one JSON line.
    Bench(bench::BenchArgs),
    /// List the studies of a journal: id, name, directions, trial counts by state, best value.
    Studies(studies::StudiesArgs),
    /// List the trials of one study as a table, JSON or CSV.
    Trials(trials::TrialsArgs),
    /// Show the best trial (single objective) or the Pareto front (multi-objective) of a study.
    Best(best::BestArgs),
    /// Print the whole journal state as canonical JSON (see docs/CLI.md).
    Dump(dump::DumpArgs),
    /// Replay the journal and print what it holds and how long replay took.
    Stats(stats::StatsArgs),
    /// Save the replayed state beside the journal (`<journal>.snapshot`) so opens replay only
    /// what follows it (see docs/FORMAT.md, "Snapshots").
    Snapshot(snapshot::SnapshotArgs),
    /// Run a multi-process random search on one journal file, with a progress bar (the
    /// README's main job). Running it again continues the same study.
    Demo(demo::DemoArgs),
    /// One worker process of `demo` (started by `demo`).
    #[command(hide = true)]
    DemoWorker(demo::WorkerArgs),
    /// Copy an Optuna JSON-lines journal into a new trialog journal.
    Import(import::ImportArgs),
    /// Copy a journal into a new file of another format (Optuna JSON lines).
    Export(export::ExportArgs),
    /// Check the header and every frame, replay, and report damage (exit 0 only when clean).
    Verify(verify::VerifyArgs),
    /// Rewrite a journal as the shortest log with the same state (ids and numbers kept).
    Compact(compact::CompactArgs),
    /// Write a clean journal from a damaged one, keeping the frames MODE keeps.
    Recover(recover::RecoverArgs),
    /// Write one self-contained HTML page of plots about a study (see docs/REPORT.md).
    Report(report::ReportArgs),
    /// Serve a journal to Python Optuna workers (GrpcStorageProxy) and Rust ones over Optuna's
    /// gRPC storage protocol (see docs/SERVER.md).
    Serve(serve::ServeArgs),
    /// Fork, resume, copy or delete a study (see docs/LIFECYCLE.md).
    Study(study::StudyArgs),
    /// Back a journal up while its writers write: a verified prefix, appended to incrementally.
    Backup(backup::BackupArgs),
    /// Optimise any command: run it as the trials of a study, within budgets shared by every
    /// runner of the study (see docs/RUN.md).
    Run(Box<run::RunArgs>),
    /// Show the best trials of a study (the table `run` prints at its end).
    Top(top::TopArgs),
    /// Enqueue trials with given parameters; runners take them before sampling new ones.
    Enqueue(enqueue::EnqueueArgs),
}

/// Runs the parsed command line.
pub fn run(cli: Cli) -> Result<(), CliError> {
    match cli.command {
        Command::Artifacts(args) => artifacts::run(args),
        Command::Bench(args) => bench::run(args),
        Command::Studies(args) => studies::run(&args),
        Command::Trials(args) => trials::run(&args),
        Command::Best(args) => best::run(&args),
        Command::Dump(args) => dump::run(&args),
        Command::Stats(args) => stats::run(&args),
        Command::Snapshot(args) => snapshot::run(&args),
        Command::Demo(args) => demo::run(&args),
        Command::DemoWorker(args) => demo::worker(&args),
        Command::Import(args) => import::run(&args),
        Command::Export(args) => export::run(&args),
        Command::Verify(args) => verify::run(&args),
        Command::Compact(args) => compact::run(&args),
        Command::Recover(args) => recover::run(&args),
        Command::Report(args) => report::run(&args),
        Command::Serve(args) => serve::run(&args),
        Command::Study(args) => study::run(&args),
        Command::Backup(args) => backup::run(&args),
        Command::Run(args) => run::run(*args),
        Command::Top(args) => top::run(&args),
        Command::Enqueue(args) => enqueue::run(&args),
    }
}
