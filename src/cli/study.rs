//! `trialog study fork|resume|copy|delete`: the lifecycle of one study in any store
//! (`trialog::lifecycle`; `docs/LIFECYCLE.md`). Locations are journal paths, `trialog:PATH` or
//! `optuna:PATH` (`trialog::storage::Location`).

use std::sync::Arc;
use std::time::Duration;

use clap::{Args, Subcommand};
use trialog::lifecycle::{
    ForkOptions, PreparedCopy, PreparedFork, ResumeOptions, StaleTrials, delete_study,
    replace_with_fork,
};
use trialog::storage::Location;
use trialog::study::retry::RetryOptions;
use trialog::study::sampler::state;
use trialog::study::{RandomSampler, last_checkpoint, stored_state};
use trialog::{Storage, Study, TrialState};

use super::CliError;
use super::format::emit;

/// Arguments of `trialog study`.
#[derive(Debug, Args)]
pub struct StudyArgs {
    /// What to do.
    #[command(subcommand)]
    pub command: StudyCommand,
}

/// The `study` subcommands.
#[derive(Debug, Subcommand)]
pub enum StudyCommand {
    /// A new study holding copies of trials 0..=N of a study (in the same store or another).
    Fork(ForkArgs),
    /// Fail the RUNNING trials of dead workers and re-enqueue them, so workers continue.
    Resume(ResumeArgs),
    /// Copy a study into another store, or under another name (as optuna.copy_study).
    Copy(CopyArgs),
    /// Delete a study and its trials (Optuna's delete_study).
    Delete(DeleteArgs),
}

/// Arguments of `trialog study fork`.
#[derive(Debug, Args)]
pub struct ForkArgs {
    /// The store holding the study: a journal path, trialog:PATH or optuna:PATH.
    pub location: String,
    /// The study to fork.
    #[arg(long)]
    pub study: String,
    /// The last trial number kept.
    #[arg(long, value_name = "N")]
    pub at: u64,
    /// The fork's name (default: the study's name in another store, `<study>.fork-<N>` in the
    /// same one).
    #[arg(long, value_name = "NAME", conflicts_with = "replace")]
    pub to: Option<String>,
    /// Write the fork into this store (created if missing) instead of the study's own.
    #[arg(long, value_name = "LOCATION", conflicts_with = "replace")]
    pub into: Option<String>,
    /// Give the fork the study's name, keeping the original as `<study>.backup-<k>`, so
    /// workers that load the study by name continue after trial N. Stop them first.
    #[arg(long)]
    pub replace: bool,
    /// Also copy the WAITING trials numbered after N (enqueued work, the rest of a grid).
    #[arg(long)]
    pub keep_waiting: bool,
}

/// Arguments of `trialog study resume`.
#[derive(Debug, Args)]
pub struct ResumeArgs {
    /// The store holding the study.
    pub location: String,
    /// The study to resume.
    #[arg(long)]
    pub study: String,
    /// Fail the RUNNING trials whose last heartbeat is older than this many seconds.
    #[arg(long, value_name = "SECONDS", required_unless_present = "all_running")]
    pub grace: Option<f64>,
    /// Fail every RUNNING trial (when no worker of the study runs; for stores without
    /// heartbeats, such as Optuna journals).
    #[arg(long, conflicts_with = "grace")]
    pub all_running: bool,
    /// Leave the failed trials failed instead of re-enqueuing them.
    #[arg(long)]
    pub no_retry: bool,
    /// Re-enqueue a trial only if its series was retried fewer than this many times.
    #[arg(long, value_name = "N", conflicts_with = "no_retry")]
    pub max_retry: Option<usize>,
    /// The retries start with the failed trials' intermediate values.
    #[arg(long, conflicts_with = "no_retry")]
    pub inherit_intermediate_values: bool,
}

/// Arguments of `trialog study copy`.
#[derive(Debug, Args)]
pub struct CopyArgs {
    /// The store holding the study.
    pub from: String,
    /// The store to copy it into (created if missing; may be the same store).
    pub to: String,
    /// The study to copy.
    #[arg(long)]
    pub study: String,
    /// The copy's name (default: the same name).
    #[arg(long, value_name = "NAME")]
    pub to_name: Option<String>,
}

/// Arguments of `trialog study delete`.
#[derive(Debug, Args)]
pub struct DeleteArgs {
    /// The store holding the study.
    pub location: String,
    /// The study to delete.
    #[arg(long)]
    pub study: String,
}

/// Runs one `study` subcommand.
pub fn run(args: &StudyArgs) -> Result<(), CliError> {
    match &args.command {
        StudyCommand::Fork(a) => fork(a),
        StudyCommand::Resume(a) => resume(a),
        StudyCommand::Copy(a) => copy(a),
        StudyCommand::Delete(a) => delete(a),
    }
}

fn location(text: &str) -> Result<Location, CliError> {
    Location::parse(text).map_err(|e| CliError::msg(format_args!("{text:?}: {e}")))
}

fn open_existing(at: &Location) -> Result<Arc<dyn Storage>, CliError> {
    at.open_existing().map_err(|e| CliError::lib(at.path(), e))
}

/// The destination store: the source's own handle when it is the same store.
fn destination(
    from: &Location,
    source: &Arc<dyn Storage>,
    to: &Location,
) -> Result<Arc<dyn Storage>, CliError> {
    if from.same_store(to) {
        // The source's handle, once `to` is known to name the format the file has.
        to.format().map_err(|e| CliError::lib(to.path(), e))?;
        return Ok(Arc::clone(source));
    }
    to.open_or_create().map_err(|e| CliError::lib(to.path(), e))
}

/// `STATE n, STATE m` for counts by state.
fn by_state(counts: &[(TrialState, usize)]) -> String {
    if counts.is_empty() {
        return "none".to_owned();
    }
    counts.iter().map(|(s, n)| format!("{} {n}", s.name())).collect::<Vec<_>>().join(", ")
}

fn numbers(ns: &[u64]) -> String {
    if ns.is_empty() {
        return "none".to_owned();
    }
    ns.iter().map(u64::to_string).collect::<Vec<_>>().join(", ")
}

fn fork(a: &ForkArgs) -> Result<(), CliError> {
    let from = location(&a.location)?;
    let source = open_existing(&from)?;
    let lib = |at: &Location| {
        let path = at.path().to_owned();
        move |e| CliError::lib(&path, e)
    };
    let mut out = format!("study: {}\n", a.study);
    let report = if a.replace {
        let options =
            ForkOptions { at: a.at, to_name: a.study.clone(), keep_waiting: a.keep_waiting };
        let r = replace_with_fork(&*source, &a.study, &options).map_err(lib(&from))?;
        out += &format!("fork: {} in {from}\n", r.name);
        r
    } else {
        let to = match &a.into {
            Some(into) => location(into)?,
            None => from.clone(),
        };
        let same = from.same_store(&to);
        let name = a.to.clone().unwrap_or_else(|| {
            if same { format!("{}.fork-{}", a.study, a.at) } else { a.study.clone() }
        });
        let options = ForkOptions { at: a.at, to_name: name, keep_waiting: a.keep_waiting };
        // Read and check the fork before the destination is opened (perhaps created).
        let prepared = PreparedFork::read(&*source, &a.study, &options).map_err(lib(&from))?;
        let target = destination(&from, &source, &to)?;
        let r = prepared.write(&*target).map_err(lib(&to))?;
        out += &format!("fork: {} in {to}\n", r.name);
        r
    };
    out += &format!("trials: {} (0..={} of {})\n", report.trials, a.at, a.study);
    out += &format!("requeued: {}\n", numbers(&report.requeued));
    if a.keep_waiting {
        out += &format!("kept_waiting: {}\n", numbers(&report.kept_waiting));
    }
    out += &format!("left_out: {}\n", by_state(&report.left_out));
    for key in &report.dropped_attrs {
        out += &format!("dropped_attr: {key}\n");
    }
    if let Some(backup) = &report.backup {
        out += &format!("backup: {backup}\n");
    }
    emit(&out)
}

fn resume(a: &ResumeArgs) -> Result<(), CliError> {
    let at = location(&a.location)?;
    let storage = open_existing(&at)?;
    let lib = |e| CliError::lib(at.path(), e);
    let stale = if a.all_running {
        StaleTrials::AllRunning
    } else {
        let secs = a.grace.unwrap_or_default();
        if !(secs.is_finite() && secs >= 0.0) {
            return Err(CliError::msg(format_args!("--grace {secs}: give a number of seconds")));
        }
        StaleTrials::HeartbeatOlderThan(Duration::from_secs_f64(secs))
    };
    let retry = (!a.no_retry).then_some(RetryOptions {
        max_retry: a.max_retry,
        inherit_intermediate_values: a.inherit_intermediate_values,
    });
    // The tool has no sampler of the study's: it reports the state a worker's resume restores.
    let options = ResumeOptions { stale, retry, restore_sampler: false, checkpoints: None };
    let placeholder = Arc::new(RandomSampler::new(Some(0)));
    let (study, report) =
        Study::resume(Arc::clone(&storage), &a.study, placeholder, &options).map_err(lib)?;
    let mut out = format!("study: {}\nfailed: {}\n", a.study, numbers(&report.failed));
    let retried: Vec<String> = report.retried.iter().map(|(f, r)| format!("{f} -> {r}")).collect();
    out += &format!(
        "retried: {}\n",
        if retried.is_empty() { "none".to_owned() } else { retried.join(", ") }
    );
    let trials = study.trials(None).map_err(lib)?;
    let checkpoint = match last_checkpoint(&trials) {
        None => "none".to_owned(),
        Some(t) => match stored_state(t, None) {
            Ok(Some(bytes)) => format!(
                "trial {} ({})",
                t.number,
                state::kind_of(&bytes).unwrap_or("unknown sampler")
            ),
            Ok(None) => "none".to_owned(),
            Err(e) => format!("trial {} ({e})", t.number),
        },
    };
    out += &format!("sampler_state: {checkpoint}\n");
    emit(&out)
}

fn copy(a: &CopyArgs) -> Result<(), CliError> {
    let from = location(&a.from)?;
    let to = location(&a.to)?;
    let source = open_existing(&from)?;
    // Read the study before the destination is opened (perhaps created).
    let prepared =
        PreparedCopy::read(&*source, &a.study).map_err(|e| CliError::lib(from.path(), e))?;
    let target = destination(&from, &source, &to)?;
    let r =
        prepared.write(&*target, a.to_name.as_deref()).map_err(|e| CliError::lib(to.path(), e))?;
    let mut out = format!("study: {}\ncopy: {} in {to}\ntrials: {}\n", a.study, r.name, r.trials);
    for key in &r.dropped_attrs {
        out += &format!("dropped_attr: {key}\n");
    }
    emit(&out)
}

fn delete(a: &DeleteArgs) -> Result<(), CliError> {
    let at = location(&a.location)?;
    let storage = open_existing(&at)?;
    let r = delete_study(&*storage, &a.study).map_err(|e| CliError::lib(at.path(), e))?;
    emit(&format!(
        "deleted: {} (id {}) from {at}\ntrials: {}\n",
        a.study,
        r.study_id,
        by_state(&r.trials)
    ))
}
