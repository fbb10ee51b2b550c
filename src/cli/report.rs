//! `trialog report <journal> --study NAME [--out FILE] [--watch]`: the study's HTML report.

use std::path::PathBuf;
use std::time::Duration;

use clap::Args;
use trialog::Timestamp;
use trialog::report::{self, Options};

use super::format::emit;
use super::{CliError, journal};

/// Arguments of `trialog report`.
#[derive(Debug, Args)]
pub struct ReportArgs {
    /// The journal file, either format (never created or modified).
    pub journal: PathBuf,
    /// The study's name.
    #[arg(long)]
    pub study: String,
    /// The HTML file to write (replaced atomically).
    #[arg(long, default_value = "report.html")]
    pub out: PathBuf,
    /// Keep rewriting the page every --interval seconds while the study runs, until
    /// interrupted; the page asks the browser to reload itself as often.
    #[arg(long)]
    pub watch: bool,
    /// Seconds between rewrites with --watch.
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u32).range(1..=3600))]
    pub interval: u32,
}

/// Writes the report (once, or repeatedly with `--watch`).
pub fn run(args: &ReportArgs) -> Result<(), CliError> {
    let path = &args.journal;
    let storage = journal::open(path)?;
    loop {
        // Each round reads only what was appended since the last one.
        let study = journal::study(&*storage, path, &args.study)?;
        let trials =
            storage.get_all_trials(study.study_id, None).map_err(|e| CliError::lib(path, e))?;
        let mut options = Options::at(Timestamp::now())
            .with_workers_from(&*storage, study.study_id)
            .map_err(|e| CliError::lib(path, e))?;
        options.refresh_secs = args.watch.then_some(args.interval);
        let html = report::render(&study, &trials, &options);
        report::write_atomically(&args.out, html.as_bytes())
            .map_err(|e| CliError::lib(&args.out, e))?;
        emit(&format!(
            "wrote {} ({}, {} KiB)\n",
            args.out.display(),
            super::format::count(trials.len() as u64, "trial"),
            html.len().div_ceil(1024)
        ))?;
        if !args.watch {
            return Ok(());
        }
        std::thread::sleep(Duration::from_secs(u64::from(args.interval)));
    }
}
