//! The `trialog` command-line tool.
//!
//! Every command prints its result on stdout. A failure prints one line,
//! `trialog: <file>: <what went wrong>`, on stderr and exits with status 1 (`verify` also exits
//! with 3 or 4 after its report: see `docs/RECOVERY.md`). Warnings of the library (a torn tail
//! covered, a corrupt line skipped, a stale lock broken) are printed on stderr as
//! `trialog: warning: <message>`; `-q`, `-v` and `TRIALOG_LOG` choose which (`cli::logging`).
#![deny(unsafe_code)]
#![warn(missing_docs)]

mod cli;

/// The binary's allocator: mimalloc, with transparent huge pages for its large regions (its
/// default on Linux). An open builds its whole state in fresh memory, and on the 2-core machine
/// faulting in and zeroing that memory was a third of an open from a snapshot; mimalloc also
/// allocates a trial's small parts faster than glibc's allocator (`docs/FORMAT.md`, "What a
/// snapshot saves"). The library leaves the choice to the program that embeds it. Unix only:
/// nothing was measured on Windows, where the system's allocator stays.
#[cfg(unix)]
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::process::ExitCode;

use clap::{CommandFactory, FromArgMatches};

fn main() -> ExitCode {
    let matches = cli::Cli::command().get_matches();
    let args = cli::Cli::from_arg_matches(&matches).unwrap_or_else(|e| e.exit());
    cli::logging::install(args.verbose, args.quiet);
    match cli::lock::check(&matches).and_then(|()| cli::run(args)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            if e.has_message() {
                eprintln!("trialog: {e}");
            }
            ExitCode::from(e.code())
        }
    }
}
