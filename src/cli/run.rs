//! `trialog run`: optimise any command (see docs/RUN.md). Thin: parse, check everything that can
//! be checked before anything is written, open the journal and the study, hand over to
//! `trialog::runner`, print the top trials.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use clap::{Args, ValueEnum};
use trialog::artifacts::ArtifactStore;
use trialog::runner::{CommandTemplate, RunConfig, Runner, SearchSpace, StopReason};
use trialog::study::{
    ENQUEUED_ATTR, GridSampler, MedianPruner, NopPruner, NsgaIISampler, Pruner, RandomSampler,
    Sampler, Study, SuccessiveHalvingPruner, TpeSampler,
};
use trialog::{AttrValue, Error, HeartbeatOptions, JournalFormat, Storage, StudyDirection};

use super::format::{Json, emit};
use super::progress::Progress;
use super::{CliError, duration, journal, space_file, top};

/// Exit status of an interrupted run (128 + SIGINT, as shells report it).
pub const INTERRUPTED: u8 = 130;

/// Arguments of `trialog run`.
#[derive(Debug, Args)]
#[command(after_help = "Example:\n  trialog run --journal study.journal --study lr-sweep \
    --param 'lr=float:1e-5..1e-1:log' --param 'layers=int:1..8' --n-trials 50 --workers 4 \
    -- python train.py --lr {lr} --layers {layers}\n\nSee docs/RUN.md for the protocol.")]
pub struct RunArgs {
    /// The journal (created if missing; a trialog or Optuna JSON-lines file).
    #[arg(long)]
    pub journal: PathBuf,
    /// The study (created if missing; an existing one gets more trials).
    #[arg(long)]
    pub study: String,
    /// Objective direction(s), one per objective (default: the study's, or minimize for a new
    /// study).
    #[arg(long, value_enum)]
    pub direction: Vec<DirectionArg>,
    /// A parameter: NAME=float:LOW..HIGH[:log][:step=S], NAME=int:LOW..HIGH[:log][:step=S] or
    /// NAME=cat:A,B,... (repeat for each parameter).
    #[arg(long = "param", value_name = "SPEC")]
    pub params: Vec<String>,
    /// A TOML file with a [params] table (see docs/RUN.md); adds to the --param flags.
    #[arg(long, value_name = "FILE")]
    pub space: Option<PathBuf>,
    /// The sampler.
    #[arg(long, value_enum, default_value_t = SamplerArg::Tpe)]
    pub sampler: SamplerArg,
    /// Seed of the sampler (a reproducible run with --workers 1).
    #[arg(long)]
    pub seed: Option<u64>,
    /// The pruner, fed by the command's `trialog:report STEP VALUE` lines.
    #[arg(long, value_enum, default_value_t = PrunerArg::Median)]
    pub pruner: PrunerArg,
    /// Stop starting trials once the study has this many finished trials (every runner's).
    #[arg(long)]
    pub n_trials: Option<u64>,
    /// Stop starting trials after this long (this run's wall clock; running trials finish).
    #[arg(long, value_parser = duration::parse)]
    pub timeout: Option<Duration>,
    /// Stop starting trials once the study's trials have run this long in total (every
    /// runner's).
    #[arg(long, value_parser = duration::parse)]
    pub max_compute: Option<Duration>,
    /// Stop a trial's command after this long; the trial FAILs.
    #[arg(long, value_parser = duration::parse)]
    pub trial_timeout: Option<Duration>,
    /// Trials run at once by this runner.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=1024))]
    pub workers: u32,
    /// Re-enqueue a trial lost to a dead runner or an interrupt up to N times.
    #[arg(long, default_value_t = 0)]
    pub retries: u32,
    /// Between SIGTERM and SIGKILL when a command is stopped.
    #[arg(long, default_value = "10s", value_parser = duration::parse)]
    pub kill_grace: Duration,
    /// How often a running trial's heartbeat is written.
    #[arg(long, default_value = "10s", value_parser = duration::parse)]
    pub heartbeat_interval: Duration,
    /// A RUNNING trial whose heartbeat is older than this is failed as its runner's death.
    #[arg(long, default_value = "60s", value_parser = duration::parse)]
    pub heartbeat_grace: Duration,
    /// Where trials' stdout and stderr are kept: a directory, s3://bucket/prefix, or `none`
    /// (default: <journal>.artifacts beside the journal).
    #[arg(long, value_name = "DIR|s3://BUCKET/PREFIX|none")]
    pub artifacts: Option<String>,
    /// The S3 service's URL for an s3:// --artifacts.
    #[arg(long, value_name = "URL")]
    pub s3_endpoint: Option<String>,
    /// Run the command through the shell (sh -c); placeholder values are quoted for it.
    #[arg(long)]
    pub shell: bool,
    /// The format of a journal this run creates (an existing one must be of this format when
    /// given).
    #[arg(long, value_enum)]
    pub format: Option<FormatArg>,
    /// Rows of the table printed at the end.
    #[arg(long, default_value_t = 5)]
    pub top_k: usize,
    /// Print the result as one JSON object on stdout (progress stays on stderr).
    #[arg(long)]
    pub json: bool,
    /// How often a status line is printed when stderr is not a terminal.
    #[arg(long, default_value = "10s", value_parser = duration::parse)]
    pub progress_every: Duration,
    /// The command and its arguments, after `--`; `{name}` is replaced by parameter `name`.
    #[arg(last = true, required = true, value_name = "COMMAND")]
    pub command: Vec<String>,
}

/// `--direction`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum DirectionArg {
    /// Smaller is better.
    Minimize,
    /// Larger is better.
    Maximize,
}

/// `--sampler`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SamplerArg {
    /// Tree-structured Parzen Estimator (Optuna's default).
    Tpe,
    /// Independent uniform sampling.
    Random,
    /// Every point of a finite space, once (enqueued when the study is created).
    Grid,
    /// NSGA-II, for several objectives.
    Nsga2,
}

/// `--pruner`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum PrunerArg {
    /// Optuna's MedianPruner (its defaults).
    Median,
    /// Asynchronous successive halving (Optuna's SuccessiveHalvingPruner, its defaults).
    Asha,
    /// Never prune.
    None,
}

/// `--format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum FormatArg {
    /// trialog's CRC-framed journal (heartbeats included).
    Trialog,
    /// Optuna's JSON-lines journal (optuna-dashboard and Python Optuna read it).
    Optuna,
}

/// Runs `trialog run`.
pub fn run(args: RunArgs) -> Result<(), CliError> {
    let path = args.journal.clone();
    let lib = |e| CliError::lib(&path, e);
    let msg = |e: Error| CliError::msg(super::value_error(e));

    // Everything that can be checked without the journal, before it is opened.
    let mut space = SearchSpace::new();
    for spec in &args.params {
        space.add_spec(spec).map_err(msg)?;
    }
    if let Some(file) = &args.space {
        space_file::read(file, &mut space)?;
    }
    if space.is_empty() {
        return Err(CliError::msg("no parameters: give --param NAME=SPEC or --space FILE"));
    }
    trialog::runner::channels::check_env_names(&space).map_err(msg)?;
    let command = CommandTemplate::new(&args.command, args.shell, &space).map_err(msg)?;
    command.check_program().map_err(msg)?;
    let sampler = sampler(&args, &space).map_err(msg)?;
    if args.artifacts.is_none() && journal::redis_url(&path).is_some() {
        return Err(CliError::at(
            &path,
            "a Redis journal has no directory beside it for the trials' logs: give --artifacts DIR (or an S3 URL, or none)",
        ));
    }

    let heartbeat =
        HeartbeatOptions { interval: args.heartbeat_interval, grace_period: args.heartbeat_grace };
    if heartbeat.grace_period <= heartbeat.interval {
        return Err(CliError::msg("--heartbeat-grace must be longer than --heartbeat-interval"));
    }
    let required = args.format.map(|f| match f {
        FormatArg::Trialog => JournalFormat::Trialog,
        FormatArg::Optuna => JournalFormat::Optuna,
    });
    let storage: Arc<dyn Storage> =
        journal::open_writable_store(&path, JournalFormat::Trialog, required, Some(heartbeat))?;
    let study = open_study(&args, &space, Arc::clone(&storage), sampler)?;
    let study = study.with_pruner(pruner(args.pruner));
    let store = artifacts_store(&args)?;
    let mut config = RunConfig::new(space, command);
    config.workers = args.workers as usize;
    config.n_trials = args.n_trials;
    config.timeout = args.timeout;
    config.max_compute = args.max_compute;
    config.trial_timeout = args.trial_timeout;
    config.kill_grace = args.kill_grace;
    config.retries = args.retries;
    config.heartbeat = heartbeat;
    config.artifacts = store;
    let runner = Runner::new(study, config).map_err(|e| match e {
        Error::InvalidArgument(_) => CliError::at(&path, super::value_error(e)),
        e => lib(e),
    })?;

    let stop = runner.stop_handle();
    let _ = ctrlc::set_handler(move || match stop.interrupt() {
        1 => eprintln!(
            "\ntrialog: stopping: running trials get SIGTERM (Ctrl-C again to kill them now)"
        ),
        _ => eprintln!("\ntrialog: killing the running trials"),
    });
    let quiet = super::logging::installed() == "off" || super::logging::installed() == "error";
    let progress = Progress::new(args.n_trials, args.progress_every, false, quiet);
    let summary = runner.run(&progress);
    progress.finish();
    let summary = summary.map_err(|e| match e {
        Error::InvalidArgument(_) => CliError::msg(super::value_error(e)),
        e => lib(e),
    })?;

    let study = runner.study();
    let trials = study.trials(None).map_err(lib)?;
    let best = trialog::runner::top::top_trials(&trials, study.directions(), args.top_k);
    if args.json {
        let stop = summary.stop.map_or(Json::Null, |s| Json::str(s.name()));
        let out = Json::object([
            ("study", Json::str(study.name())),
            ("stop", stop),
            ("ran", Json::UInt(summary.ran)),
            ("complete", Json::UInt(summary.complete)),
            ("pruned", Json::UInt(summary.pruned)),
            ("failed", Json::UInt(summary.failed)),
            ("interrupted", Json::UInt(summary.interrupted)),
            ("duplicates", Json::UInt(summary.duplicates)),
            ("stale_failed", Json::UInt(summary.stale_failed)),
            ("retries", Json::UInt(summary.retries)),
            ("elapsed_s", Json::Float(summary.elapsed.as_secs_f64())),
            ("top", top::json(&best)),
        ]);
        emit(&format!("{}\n", out.render()))?;
    } else {
        let why = summary.stop.map_or("nothing left to run", StopReason::describe);
        let mut text = format!(
            "Stopped: {why}. This run ran {} trial(s): {} complete, {} pruned, {} failed in {:.1}s.\n",
            summary.ran,
            summary.complete,
            summary.pruned,
            summary.failed,
            summary.elapsed.as_secs_f64()
        );
        if best.is_empty() {
            text.push_str(&format!("Study {:?} has no COMPLETE trial yet.\n", study.name()));
        } else {
            text.push_str(&format!("Top {} of study {:?}:\n", best.len(), study.name()));
            text.push_str(&top::text(&best, study.directions()));
        }
        emit(&text)?;
    }
    if summary.stop == Some(StopReason::Interrupted) {
        return Err(CliError::status(INTERRUPTED));
    }
    Ok(())
}

/// Loads the study or creates it; refuses a grid on a study whose points were never enqueued.
fn open_study(
    args: &RunArgs,
    space: &SearchSpace,
    storage: Arc<dyn Storage>,
    sampler: Arc<dyn Sampler>,
) -> Result<Study<dyn Storage>, CliError> {
    let path = &args.journal;
    let lib = |e| CliError::lib(path, e);
    let asked: Vec<StudyDirection> = args
        .direction
        .iter()
        .map(|d| match d {
            DirectionArg::Minimize => StudyDirection::Minimize,
            DirectionArg::Maximize => StudyDirection::Maximize,
        })
        .collect();
    let existing = match storage.get_study_id_from_name(&args.study) {
        Ok(id) => Some(id),
        Err(Error::StudyNameNotFound { .. }) => None,
        Err(e) => return Err(lib(e)),
    };
    let directions = match (existing, asked.is_empty()) {
        (Some(id), true) => storage.get_study_directions(id).map_err(lib)?,
        (None, true) => vec![StudyDirection::Minimize],
        (_, false) => asked,
    };
    if let Some(id) = existing {
        // Before anything is written: a space that disagrees with the study's trials.
        let trials = storage.get_all_trials(id, None).map_err(lib)?;
        space.check_compatible(&trials).map_err(|e| CliError::at(path, super::value_error(e)))?;
    }
    if let (Some(id), SamplerArg::Grid) = (existing, args.sampler) {
        let attrs = storage.get_study_system_attrs(id).map_err(lib)?;
        if !matches!(attrs.get(ENQUEUED_ATTR), Some(AttrValue::Bool(true))) {
            return Err(CliError::at(
                path,
                format!(
                    "study {:?} was not created with --sampler grid, so its grid was never \
                     enqueued (use a new study for a grid search)",
                    args.study
                ),
            ));
        }
    }
    Study::create_or_load(storage, &args.study, &directions, sampler).map_err(lib)
}

fn sampler(args: &RunArgs, space: &SearchSpace) -> trialog::Result<Arc<dyn Sampler>> {
    Ok(match args.sampler {
        SamplerArg::Tpe => Arc::new(TpeSampler::new(args.seed)),
        SamplerArg::Random => Arc::new(RandomSampler::new(args.seed)),
        SamplerArg::Nsga2 => Arc::new(NsgaIISampler::new(args.seed)),
        SamplerArg::Grid => Arc::new(GridSampler::new(space.grid()?)?),
    })
}

fn pruner(p: PrunerArg) -> Arc<dyn Pruner> {
    match p {
        PrunerArg::Median => Arc::new(MedianPruner::default()),
        PrunerArg::Asha => Arc::new(SuccessiveHalvingPruner::default()),
        PrunerArg::None => Arc::new(NopPruner),
    }
}

/// The store for trials' logs: `--artifacts`, or `<journal>.artifacts` beside the journal.
fn artifacts_store(args: &RunArgs) -> Result<Option<Arc<dyn ArtifactStore>>, CliError> {
    let default = default_artifacts_dir(&args.journal);
    let location = args.artifacts.clone().unwrap_or_else(|| default.to_string_lossy().into_owned());
    if location == "none" {
        return Ok(None);
    }
    let store = super::artifacts::open_store_at(&location, args.s3_endpoint.as_deref(), true)?;
    Ok(Some(Arc::from(store)))
}

/// `<journal>.artifacts`: the default artifact directory of a journal.
pub fn default_artifacts_dir(journal: &Path) -> PathBuf {
    let mut name = journal.file_name().unwrap_or_default().to_os_string();
    name.push(".artifacts");
    journal.with_file_name(name)
}
