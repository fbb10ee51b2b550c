//! The `trialog` command-line tool.
//!
//! Every command prints its result on stdout. A failure prints one line,
//! `trialog: <file>: <what went wrong>`, on stderr and exits with status 1.
#![deny(unsafe_code)]
#![warn(missing_docs)]

mod cli;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let args = cli::Cli::parse();
    match cli::run(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("trialog: {e}");
            ExitCode::FAILURE
        }
    }
}
