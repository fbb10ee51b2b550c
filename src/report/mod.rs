//! The HTML report of one study: a single self-contained page (inline SVG and CSS, no script,
//! nothing fetched from the network) with a summary, the optimisation history, parameter
//! importances, slice plots, parallel coordinates, intermediate values, a timeline and, for
//! multi-objective studies, the Pareto front. `docs/REPORT.md` describes each chart.
//!
//! The report reads plain model data only ([`FrozenStudy`] and its [`FrozenTrial`]s), so it
//! works on whatever store produced them. It is layered like criterion's report:
//! [`stats`] computes the numbers (from every trial), [`mod@render`] draws them as SVG (thinning
//! the marks of large studies, never the statistics), and `page` is the HTML template around
//! them.
//!
//! ```
//! use std::sync::Arc;
//! use trialog::report::{Options, render};
//! use trialog::{JournalStorage, MemoryBackend, StudyDirection, Timestamp, TrialState};
//!
//! let storage = JournalStorage::new(MemoryBackend::new())?;
//! let id = storage.create_new_study(&[StudyDirection::Minimize], Some("s"))?;
//! let t = storage.create_new_trial(id, None)?;
//! storage.set_trial_state_values(t, TrialState::Complete, Some(&[1.5]))?;
//! let study = storage.get_all_studies()?.remove(0);
//! let trials = storage.get_all_trials(id, None)?;
//! let html = render(&study, &trials, &Options::at(Timestamp::now()));
//! assert!(html.starts_with("<!DOCTYPE html>"));
//! # Ok::<(), trialog::Error>(())
//! ```

mod page;
pub mod render;
pub mod stats;

use std::collections::HashMap;
use std::fs::{self, File};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::error::{Error, Result};
use crate::model::{FrozenStudy, FrozenTrial, Timestamp};
use page::Section;
use render::Figure;
use stats::{ParamSpace, StudyStats};

/// Most parameters given slice plots and parallel-coordinate axes (the most important ones).
pub const MAX_PARAMS_SHOWN: usize = 12;
/// Points drawn over all slice plots together (each plot gets its share, 150 to 2000).
const SLICE_POINTS: usize = 8_000;

/// How to render.
#[derive(Debug, Clone)]
pub struct Options {
    /// The time the report describes: the end of RUNNING trials' bars and the "written" time.
    pub now: Timestamp,
    /// Ask the browser to reload the page every this many seconds (`trialog report --watch`).
    pub refresh_secs: Option<u32>,
    /// The worker that started each trial, by trial id, where the store knows it
    /// ([`crate::Storage::trial_workers`]): the timeline gives each worker its own row. Trials
    /// not in the map are packed onto shared rows.
    pub workers: HashMap<u64, Arc<str>>,
}

impl Options {
    /// Options for a report at `now`, without automatic reload or worker names.
    pub fn at(now: Timestamp) -> Options {
        Options { now, refresh_secs: None, workers: HashMap::new() }
    }

    /// These options with the workers `store` knows for `study_id` (see [`Options::workers`]).
    pub fn with_workers_from(
        mut self,
        store: &(impl crate::Storage + ?Sized),
        study_id: u64,
    ) -> Result<Options> {
        let mut names: HashMap<String, Arc<str>> = HashMap::new();
        for (trial_id, worker) in store.trial_workers(study_id)? {
            let name = names.entry(worker).or_insert_with_key(|w| Arc::from(w.as_str()));
            self.workers.insert(trial_id, Arc::clone(name));
        }
        Ok(self)
    }
}

/// The HTML page for `study` from its `trials` (any order; all of them, for the statistics).
///
/// Deterministic: the same study, trials and options give the same bytes. Never fails: a study
/// without trials, with failed trials only, or with NaN or infinite values gives a page that
/// says what cannot be drawn. Every SVG in it is well-formed XML, and every mark that stands for
/// a trial carries its number in a `data-trial` attribute.
pub fn render(study: &FrozenStudy, trials: &[Arc<FrozenTrial>], options: &Options) -> String {
    let s = StudyStats::compute(study, trials, options.now, &options.workers);
    page::page(&s, &sections(&s), options.refresh_secs)
}

/// The parameters to show: by importance for the first objective when known, else by name; at
/// most [`MAX_PARAMS_SHOWN`].
fn shown_params(s: &StudyStats) -> Vec<&ParamSpace> {
    let mut ps: Vec<&ParamSpace> = s.params.iter().collect();
    if let Some(imp) = s.objectives.first().and_then(|o| o.importances.as_ref()) {
        let rank =
            |p: &ParamSpace| imp.iter().position(|(n, _)| *n == p.name).unwrap_or(usize::MAX);
        ps.sort_by_key(|p| rank(p));
    }
    ps.truncate(MAX_PARAMS_SHOWN);
    ps
}

fn sections(s: &StudyStats) -> Vec<Section> {
    let params = shown_params(s);
    let mut out = vec![
        Section {
            id: "history",
            heading: "Optimisation history".into(),
            figures: s.objectives.iter().map(|o| render::history::history(s, o)).collect(),
            grid: false,
        },
        Section {
            id: "importance",
            heading: "Parameter importances".into(),
            figures: s.objectives.iter().map(render::importance::importances).collect(),
            grid: false,
        },
    ];
    let n_plots = (params.len() * s.objectives.len()).max(1);
    let budget = (SLICE_POINTS / n_plots).clamp(150, 2000);
    let mut slices: Vec<Figure> =
        s.objectives.iter().flat_map(|o| render::slice::slices(s, o, &params, budget)).collect();
    if slices.is_empty() {
        slices.push(Figure::empty("Slices", "The study has no parameters yet."));
    }
    out.push(Section { id: "slices", heading: "Slice plots".into(), figures: slices, grid: true });
    out.push(Section {
        id: "parallel",
        heading: "Parallel coordinates".into(),
        figures: vec![render::parallel::parallel(s, &params)],
        grid: false,
    });
    out.push(Section {
        id: "intermediate",
        heading: "Intermediate values".into(),
        figures: vec![render::intermediate::intermediate(s)],
        grid: false,
    });
    out.push(Section {
        id: "timeline",
        heading: "Timeline".into(),
        figures: vec![render::timeline::timeline(s)],
        grid: false,
    });
    let pareto = render::pareto::pareto(s);
    if !pareto.is_empty() {
        out.push(Section {
            id: "pareto",
            heading: "Pareto front".into(),
            figures: pareto,
            grid: true,
        });
    }
    out
}

/// Replaces the file at `path` with `contents` so that a reader sees the old file or the new
/// one, never a mix: the bytes go to a temporary sibling, which is fsynced and renamed over
/// `path`, and then (on Unix) the directory is fsynced. On failure the temporary file is
/// removed and `path` is untouched.
pub fn write_atomically(path: &Path, contents: &[u8]) -> Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let name = path
        .file_name()
        .ok_or_else(|| Error::invalid(format_args!("{} does not name a file", path.display())))?;
    let mut tmp_name = std::ffi::OsString::from(".");
    tmp_name.push(name);
    tmp_name.push(format!(".tmp-{}", std::process::id()));
    let tmp = dir.join(tmp_name);
    let written = (|| {
        let mut f = File::create(&tmp).map_err(|e| Error::io("create", &tmp, e))?;
        f.write_all(contents).map_err(|e| Error::io("write", &tmp, e))?;
        f.sync_all().map_err(|e| Error::io("fsync", &tmp, e))?;
        crate::sys::durable::replace(&tmp, path).map_err(|e| Error::io("rename", path, e))
    })();
    if let Err(e) = written {
        let _ = fs::remove_file(&tmp);
        return Err(e);
    }
    // On Windows the write-through move above is what makes the rename durable (crate::sys::durable).
    crate::backend::sync_dir(&dir)?;
    Ok(())
}
