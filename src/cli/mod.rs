//! Command-line interface: argument definitions and dispatch to one module per command.

pub mod bench;
mod error;

use clap::{Parser, Subcommand};

pub use error::CliError;

/// `trialog`: a durable journal log engine for hyperparameter-optimization studies.
#[derive(Debug, Parser)]
#[command(name = "trialog", version, about)]
pub struct Cli {
    /// The command to run.
    #[command(subcommand)]
    pub command: Command,
}

/// The commands of the tool.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run one of the peer benchmark workloads (W1-W4) on a journal file and print one JSON line.
    Bench(bench::BenchArgs),
}

/// Runs the parsed command line.
pub fn run(cli: Cli) -> Result<(), CliError> {
    match cli.command {
        Command::Bench(args) => bench::run(args),
    }
}
