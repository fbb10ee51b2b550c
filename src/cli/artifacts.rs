//! `trialog artifacts put|list|get|rm|gc|verify`: files linked to trials and studies, in a
//! directory or an S3 bucket (`trialog::artifacts`; `docs/ARTIFACTS.md`).

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use clap::{Args, Subcommand};
use indicatif::{ProgressBar, ProgressStyle};
use trialog::artifacts::{
    self, ArtifactId, ArtifactStore, DownloadOptions, FileSystemStore, StoredKind, Target,
};
use trialog::{Error, Storage};

use super::format::{Json, count, emit, table};
use super::{CliError, journal};

/// Transfers at least this large show a progress bar (on a terminal).
const PROGRESS_FROM: u64 = 4 << 20;

/// Arguments of `trialog artifacts`.
#[derive(Debug, Args)]
pub struct ArtifactsArgs {
    /// What to do.
    #[command(subcommand)]
    pub command: ArtifactsCommand,
}

/// The `artifacts` subcommands.
#[derive(Debug, Subcommand)]
pub enum ArtifactsCommand {
    /// Upload FILE and link it to a study or one of its trials; prints the new artifact id.
    Put(PutArgs),
    /// List the artifacts linked to a study and its trials (or to one trial).
    List(ListArgs),
    /// Download a linked artifact to a file, checking its recorded size and SHA-256.
    Get(GetArgs),
    /// Remove a linked artifact: its link (tombstoned) first, then its bytes.
    Rm(RmArgs),
    /// Remove unlinked artifacts and leftovers of interrupted uploads older than a grace period.
    Gc(GcArgs),
    /// Check that every linked artifact exists with its recorded size and SHA-256.
    Verify(VerifyArgs),
}

/// Where the artifacts are.
#[derive(Debug, Args)]
pub struct StoreArgs {
    /// The artifact store: a directory (Optuna's FileSystemArtifactStore layout) or
    /// s3://bucket[/prefix] (credentials and region from the AWS_* environment variables).
    #[arg(long, value_name = "DIR|s3://BUCKET/PREFIX")]
    pub store: String,
    /// The S3 service's URL (default: AWS_ENDPOINT_URL_S3 or AWS_ENDPOINT_URL, else AWS).
    #[arg(long, value_name = "URL")]
    pub s3_endpoint: Option<String>,
}

/// Arguments of `trialog artifacts put`.
#[derive(Debug, Args)]
pub struct PutArgs {
    /// The journal (trialog or Optuna format) holding the study.
    pub journal: PathBuf,
    #[command(flatten)]
    pub store: StoreArgs,
    /// The study's name.
    #[arg(long)]
    pub study: String,
    /// Link to this trial (by number) instead of the study; it must be unfinished.
    #[arg(long, value_name = "NUMBER")]
    pub trial: Option<u64>,
    /// MIME type (default: guessed from the file name, as Optuna does).
    #[arg(long)]
    pub mimetype: Option<String>,
    /// Content encoding such as gzip (default: guessed from the file name).
    #[arg(long)]
    pub encoding: Option<String>,
    /// The file to upload.
    pub file: PathBuf,
}

/// Arguments of `trialog artifacts list`.
#[derive(Debug, Args)]
pub struct ListArgs {
    /// The journal (never modified).
    pub journal: PathBuf,
    /// The artifact store: when given, each artifact is also checked to exist there.
    #[arg(long, value_name = "DIR|s3://BUCKET/PREFIX")]
    pub store: Option<String>,
    /// The S3 service's URL.
    #[arg(long, value_name = "URL")]
    pub s3_endpoint: Option<String>,
    /// The study's name.
    #[arg(long)]
    pub study: String,
    /// Only this trial's artifacts (by number).
    #[arg(long, value_name = "NUMBER")]
    pub trial: Option<u64>,
    /// One JSON array instead of a table.
    #[arg(long)]
    pub json: bool,
}

/// Arguments of `trialog artifacts get`.
#[derive(Debug, Args)]
pub struct GetArgs {
    /// The journal that links the artifact (never modified).
    pub journal: PathBuf,
    #[command(flatten)]
    pub store: StoreArgs,
    /// The artifact id (a UUID).
    #[arg(value_parser = parse_id)]
    pub id: ArtifactId,
    /// The file to write (never the artifact's recorded filename).
    #[arg(long, value_name = "PATH")]
    pub out: PathBuf,
    /// Replace PATH if it exists (a link at PATH is replaced, not written through).
    #[arg(long)]
    pub force: bool,
    /// Also check the bytes against the SHA-256 the link records (the size is always checked).
    #[arg(long)]
    pub verify: bool,
    /// Fsync PATH and its directory before returning, so the copy survives a power cut.
    #[arg(long)]
    pub sync: bool,
}

/// Arguments of `trialog artifacts rm`.
#[derive(Debug, Args)]
pub struct RmArgs {
    /// The journal that links the artifact.
    pub journal: PathBuf,
    #[command(flatten)]
    pub store: StoreArgs,
    /// The artifact id (a UUID).
    #[arg(value_parser = parse_id)]
    pub id: ArtifactId,
}

/// Arguments of `trialog artifacts gc`.
#[derive(Debug, Args)]
pub struct GcArgs {
    /// Every journal whose studies link artifacts in the store (an artifact linked only from a
    /// journal not named here would be removed).
    #[arg(required = true)]
    pub journals: Vec<PathBuf>,
    #[command(flatten)]
    pub store: StoreArgs,
    /// Keep anything written more recently than this (uploads in progress): 30s, 10m, 2h, 1d.
    #[arg(long, default_value = "1h", value_parser = super::duration::parse)]
    pub grace: Duration,
    /// Only list what would be removed.
    #[arg(long)]
    pub dry_run: bool,
}

/// Arguments of `trialog artifacts verify`.
#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// The journal whose links are checked (never modified).
    pub journal: PathBuf,
    #[command(flatten)]
    pub store: StoreArgs,
    /// Check presence and size only, without reading the bytes to hash them.
    #[arg(long)]
    pub quick: bool,
}

/// Runs one `artifacts` subcommand.
pub fn run(args: ArtifactsArgs) -> Result<(), CliError> {
    match args.command {
        ArtifactsCommand::Put(a) => put(&a),
        ArtifactsCommand::List(a) => list(&a),
        ArtifactsCommand::Get(a) => get(&a),
        ArtifactsCommand::Rm(a) => rm(&a),
        ArtifactsCommand::Gc(a) => gc(&a),
        ArtifactsCommand::Verify(a) => verify(&a),
    }
}

fn parse_id(s: &str) -> Result<ArtifactId, String> {
    ArtifactId::parse(s).map_err(super::value_error)
}

/// Opens the store: an S3 bucket (with Optuna's `Backoff` retries) or a directory, which only
/// `put` creates.
fn open_store(args: &StoreArgs, create: bool) -> Result<Box<dyn ArtifactStore>, CliError> {
    open_store_at(&args.store, args.s3_endpoint.as_deref(), create)
}

pub(super) fn open_store_at(
    store: &str,
    endpoint: Option<&str>,
    create: bool,
) -> Result<Box<dyn ArtifactStore>, CliError> {
    if store.starts_with("s3://") {
        let mut config = artifacts::S3Config::from_url(store).map_err(CliError::msg)?;
        config.endpoint = endpoint.map(str::to_owned);
        let s3 = artifacts::S3Store::new(&config).map_err(CliError::msg)?;
        return Ok(Box::new(artifacts::Backoff::new(s3)));
    }
    if endpoint.is_some() {
        return Err(CliError::msg("--s3-endpoint needs an s3://bucket/prefix --store"));
    }
    let dir = Path::new(store);
    if !create && !dir.is_dir() {
        return Err(CliError::at(dir, "is not an artifact store directory (check --store)"));
    }
    Ok(Box::new(FileSystemStore::new(dir).map_err(|e| CliError::lib(dir, e))?))
}

/// A library error: store-side errors name their store, journal-side ones get the journal.
fn error(journal: &Path, e: Error) -> CliError {
    match e {
        Error::DestinationExists { path } => {
            CliError::at(&path, "already exists; nothing was written (--force replaces it)")
        }
        e @ (Error::ArtifactNotFound { .. }
        | Error::ArtifactStore { .. }
        | Error::ArtifactRetriesExhausted { .. }
        | Error::ArtifactMismatch { .. }
        | Error::InvalidArtifactId { .. }) => CliError::msg(e),
        e => CliError::lib(journal, e),
    }
}

/// The target `--study NAME [--trial NUMBER]` names.
fn target(
    storage: &dyn Storage,
    path: &Path,
    study: &str,
    trial: Option<u64>,
) -> Result<(u64, Target), CliError> {
    let study = journal::study(storage, path, study)?;
    let target = match trial {
        None => Target::Study(study.study_id),
        Some(number) => Target::Trial(
            storage
                .get_trial_id_from_study_id_trial_number(study.study_id, number)
                .map_err(|e| CliError::lib(path, e))?,
        ),
    };
    Ok((study.study_id, target))
}

/// A progress bar for `total` bytes, hidden below [`PROGRESS_FROM`] or off a terminal.
fn progress_bar(total: Option<u64>) -> ProgressBar {
    match total {
        Some(n) if n >= PROGRESS_FROM => {
            let bar = ProgressBar::new(n);
            let style = ProgressStyle::with_template(
                "{bytes:>10}/{total_bytes} [{bar:30}] {bytes_per_sec} eta {eta}",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> ");
            bar.set_style(style);
            bar
        }
        _ => ProgressBar::hidden(),
    }
}

fn put(args: &PutArgs) -> Result<(), CliError> {
    let path = &args.journal;
    let storage = journal::open(path)?;
    let (_, target) = target(&*storage, path, &args.study, args.trial)?;
    let file = std::fs::File::open(&args.file).map_err(|e| CliError::at(&args.file, e))?;
    let size = file.metadata().map_err(|e| CliError::at(&args.file, e))?.len();
    let filename = args
        .file
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .ok_or_else(|| CliError::at(&args.file, "does not name a file"))?;
    let store = open_store(&args.store, true)?;
    let bar = progress_bar(Some(size));
    let mut body = bar.wrap_read(file);
    let meta = artifacts::upload_artifact_from(
        &*storage,
        &*store,
        target,
        &filename,
        &mut body,
        args.mimetype.as_deref(),
        args.encoding.as_deref(),
    )
    .map_err(|e| error(path, e))?;
    bar.finish_and_clear();
    emit(&format!("{}\n", meta.artifact_id))
}

/// A filename from a link, safe to print: control characters escaped.
fn shown(name: &str) -> String {
    name.chars()
        .map(|c| if c.is_control() { c.escape_default().to_string() } else { c.to_string() })
        .collect()
}

fn list(args: &ListArgs) -> Result<(), CliError> {
    let path = &args.journal;
    let storage = journal::open(path)?;
    let (study_id, target) = target(&*storage, path, &args.study, args.trial)?;
    let mut links = artifacts::list_study_links(&*storage, study_id).map_err(|e| error(path, e))?;
    if args.trial.is_some() {
        links.retain(|l| l.target == target);
    }
    let store = match &args.store {
        Some(s) => Some(open_store_at(s, args.s3_endpoint.as_deref(), false)?),
        None => None,
    };
    let mut stored = Vec::new();
    for link in &links {
        if let Some(store) = &store {
            stored.push(store.exists(&link.meta.artifact_id).map_err(|e| error(path, e))?);
        }
    }
    let text = if args.json {
        let items = links.iter().enumerate().map(|(i, l)| {
            let m = &l.meta;
            let mut pairs = vec![
                ("artifact_id", Json::str(m.artifact_id.as_str())),
                ("filename", Json::str(m.filename.as_str())),
                ("mimetype", Json::str(m.mimetype.as_str())),
                ("encoding", m.encoding.as_deref().map_or(Json::Null, Json::str)),
                ("size", m.size.map_or(Json::Null, Json::UInt)),
                ("sha256", m.sha256.as_deref().map_or(Json::Null, Json::str)),
                ("trial", l.trial_number.map_or(Json::Null, Json::UInt)),
            ];
            if let Some(s) = stored.get(i) {
                pairs.push(("stored", Json::Bool(*s)));
            }
            Json::object(pairs)
        });
        Json::Array(items.collect()).render() + "\n"
    } else {
        let mut header = vec!["ID", "OWNER", "SIZE", "MIMETYPE", "FILENAME"];
        if store.is_some() {
            header.push("STORED");
        }
        let rows: Vec<Vec<String>> = links
            .iter()
            .enumerate()
            .map(|(i, l)| {
                let m = &l.meta;
                let mut row = vec![
                    m.artifact_id.to_string(),
                    l.trial_number.map_or("study".to_owned(), |n| format!("trial #{n}")),
                    m.size.map_or("-".to_owned(), |s| s.to_string()),
                    m.mimetype.clone(),
                    shown(&m.filename),
                ];
                if let Some(s) = stored.get(i) {
                    row.push(if *s { "yes" } else { "MISSING" }.to_owned());
                }
                row
            })
            .collect();
        if rows.is_empty() { "no artifacts\n".to_owned() } else { table(&header, &rows) }
    };
    emit(&text)
}

/// The live link of `id` in the journal, or an error saying there is none.
fn linked(
    storage: &dyn Storage,
    path: &Path,
    id: &ArtifactId,
) -> Result<artifacts::Linked, CliError> {
    artifacts::find_link(storage, id).map_err(|e| error(path, e))?.ok_or_else(|| {
        CliError::at(
            path,
            format!("no study or trial links artifact {id} (never linked, or removed)"),
        )
    })
}

fn get(args: &GetArgs) -> Result<(), CliError> {
    let path = &args.journal;
    let storage = journal::open(path)?;
    let link = linked(&*storage, path, &args.id)?;
    let store = open_store(&args.store, false)?;
    let bar = progress_bar(link.meta.size);
    let mut progress = |n| bar.set_position(n);
    let options = DownloadOptions {
        overwrite: args.force,
        expected: Some(&link.meta),
        verify: args.verify,
        durable: args.sync,
        progress: Some(&mut progress),
    };
    let done = artifacts::download_artifact(&*store, &args.id, &args.out, options)
        .map_err(|e| error(path, e))?;
    bar.finish_and_clear();
    let hash = done.digest.map(|d| format!(", sha256 {}", d.sha256_hex())).unwrap_or_default();
    emit(&format!("{}: {}{hash}\n", args.out.display(), count(done.size, "byte")))
}

fn rm(args: &RmArgs) -> Result<(), CliError> {
    let path = &args.journal;
    let storage = journal::open(path)?;
    let link = linked(&*storage, path, &args.id)?;
    let store = open_store(&args.store, false)?;
    artifacts::remove_artifact(&*storage, &*store, link.target, &args.id)
        .map_err(|e| error(path, e))?;
    emit(&format!("removed artifact {}\n", args.id))
}

fn gc(args: &GcArgs) -> Result<(), CliError> {
    let storages: Vec<Arc<dyn Storage>> =
        args.journals.iter().map(|p| journal::open(p)).collect::<Result<_, _>>()?;
    let refs: Vec<&dyn Storage> = storages.iter().map(|s| &**s).collect();
    let store = open_store(&args.store, false)?;
    let report = artifacts::collect_garbage(&refs, &*store, args.grace, args.dry_run)
        .map_err(|e| error(&args.journals[0], e))?;
    let verb = if args.dry_run { "would remove" } else { "removed" };
    let mut text = String::new();
    let mut bytes = 0;
    for entry in &report.collected {
        bytes += entry.info.size;
        let what = match &entry.kind {
            StoredKind::Artifact(id) => format!("unlinked artifact {id}"),
            StoredKind::Partial(name) => format!("interrupted upload {name}"),
        };
        text.push_str(&format!("{verb} {what} ({})\n", count(entry.info.size, "byte")));
    }
    text.push_str(&format!(
        "{verb} {} ({}); kept {} and {} younger than {}s\n",
        count(report.collected.len() as u64, "object"),
        count(bytes, "byte"),
        count(report.linked as u64, "linked artifact"),
        count(report.recent as u64, "unlinked object"),
        args.grace.as_secs()
    ));
    emit(&text)
}

fn verify(args: &VerifyArgs) -> Result<(), CliError> {
    let path = &args.journal;
    let storage = journal::open(path)?;
    let store = open_store(&args.store, false)?;
    let report =
        artifacts::verify_artifacts(&*storage, &*store, !args.quick).map_err(|e| error(path, e))?;
    let mut text = String::new();
    for p in &report.problems {
        text.push_str(&format!("PROBLEM: {p}\n"));
    }
    text.push_str(&format!(
        "{} checked ({} hashed, {} without recorded size or hash): {}\n",
        count(report.links as u64, "link"),
        report.hashed,
        report.unchecked,
        if report.problems.is_empty() {
            "all present and matching".to_owned()
        } else {
            count(report.problems.len() as u64, "problem")
        }
    ));
    emit(&text)?;
    if report.problems.is_empty() { Ok(()) } else { Err(CliError::status(1)) }
}
