//! The reporter of `trialog run` on stderr: one line per finished trial, plus a live progress bar
//! (indicatif) on a terminal or a plain status line every `--progress-every` otherwise.

use std::io::{IsTerminal, Write};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressStyle};
use trialog::TrialState;
use trialog::runner::{Reporter, RunEvent, Status, TrialRecord};

use super::format::{param_text, py_float};

/// Progress on stderr.
pub struct Progress {
    bar: Option<ProgressBar>,
    every: Duration,
    last_line: Mutex<Option<Instant>>,
    quiet: bool,
}

impl Progress {
    /// A bar when stderr is a terminal (and not `plain`), plain lines every `every` otherwise.
    /// `n_trials` sizes the bar. `quiet` prints only problems (failed trials, warnings).
    pub fn new(n_trials: Option<u64>, every: Duration, plain: bool, quiet: bool) -> Self {
        let bar = (!plain && !quiet && std::io::stderr().is_terminal()).then(|| {
            let bar = match n_trials {
                Some(n) => ProgressBar::new(n),
                None => ProgressBar::new_spinner(),
            };
            let template = if n_trials.is_some() {
                "  [{elapsed_precise}] {bar:30.cyan/blue} {pos}/{len} {msg}"
            } else {
                "  [{elapsed_precise}] {spinner} {pos} finished {msg}"
            };
            let style = ProgressStyle::with_template(template)
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("=> ");
            bar.set_style(style);
            bar.enable_steady_tick(Duration::from_millis(200));
            bar
        });
        Progress { bar, every, last_line: Mutex::new(None), quiet }
    }

    /// Clears the bar so that what follows starts a line of its own.
    pub fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }

    fn line(&self, text: &str) {
        match &self.bar {
            Some(bar) => bar.println(text),
            None => {
                let _ = writeln!(std::io::stderr().lock(), "{text}");
            }
        }
    }

    fn status(&self, s: &Status) {
        let t = &s.tally;
        let mut parts =
            vec![format!("complete {}, pruned {}, failed {}", t.complete, t.pruned, t.failed)];
        parts.push(format!("running {} ({} here)", t.running, s.running_here));
        if let Some((number, value)) = s.best {
            parts.push(format!("best {} (#{number})", py_float(value)));
        }
        let mut left = Vec::new();
        if let Some(n) = s.trials_left {
            left.push(format!("{n} trials"));
        }
        if let Some(d) = s.time_left {
            left.push(format!("{} of --timeout", short(d)));
        }
        if let Some(d) = s.compute_left {
            left.push(format!("{} of --max-compute", short(d)));
        }
        if !left.is_empty() {
            parts.push(format!("left {}", left.join(", ")));
        }
        let text = parts.join(" | ");
        match &self.bar {
            Some(bar) => {
                bar.set_position(t.counted_finished);
                bar.set_message(text);
            }
            None => {
                let Ok(mut last) = self.last_line.lock() else { return };
                if self.quiet || last.is_some_and(|at| at.elapsed() < self.every) {
                    return;
                }
                *last = Some(Instant::now());
                drop(last);
                self.line(&format!(
                    "trialog: [{}] {} finished: {text}",
                    short(s.elapsed),
                    t.counted_finished
                ));
            }
        }
    }

    fn finished(&self, r: &TrialRecord) {
        let state = r.state.map_or("LOST", |s| s.name());
        let failed = r.state != Some(TrialState::Complete) && r.state != Some(TrialState::Pruned);
        if self.quiet && !failed {
            return;
        }
        let mut text = format!("trialog: trial {} {state}", r.number);
        if let Some(v) = &r.values {
            let v: Vec<String> = v.iter().map(|x| py_float(*x)).collect();
            text.push_str(&format!(" {}", v.join(",")));
        }
        if !r.duration.is_zero() {
            text.push_str(&format!(" in {:.2}s", r.duration.as_secs_f64()));
        }
        if let Some(reason) = &r.reason {
            text.push_str(&format!(": {}", reason.lines().next().unwrap_or_default()));
        }
        if let Some(retry) = r.retry {
            text.push_str(&format!(" (retry enqueued as trial id {retry})"));
        }
        self.line(&text);
    }
}

impl Reporter for Progress {
    fn event(&self, event: &RunEvent<'_>) {
        match event {
            RunEvent::TrialStarted { number, params, retry_of } => {
                if self.quiet || self.bar.is_some() {
                    return;
                }
                let p: Vec<String> =
                    params.iter().map(|(n, v)| format!("{n}={}", param_text(v))).collect();
                let retry = retry_of.map(|n| format!(" (retry of trial {n})")).unwrap_or_default();
                self.line(&format!("trialog: trial {number} started{retry}: {}", p.join(" ")));
            }
            RunEvent::TrialFinished(r) => self.finished(r),
            RunEvent::StaleFailed { numbers, retries } => {
                let n: Vec<String> = numbers.iter().map(u64::to_string).collect();
                let mut text = format!(
                    "trialog: failed trial(s) {} of a runner that stopped sending heartbeats",
                    n.join(", ")
                );
                if !retries.is_empty() {
                    text.push_str(&format!("; {} retry(ies) enqueued", retries.len()));
                }
                self.line(&text);
            }
            RunEvent::Status(s) => self.status(s),
            RunEvent::Warning(w) => self.line(&format!("trialog: warning: {w}")),
        }
    }
}

/// `1h02m`, `5m30s`, `42s`.
fn short(d: Duration) -> String {
    let s = d.as_secs();
    match s {
        0..60 => format!("{s}s"),
        60..3600 => format!("{}m{:02}s", s / 60, s % 60),
        _ => format!("{}h{:02}m", s / 3600, s / 60 % 60),
    }
}
