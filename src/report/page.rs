//! The page: an HTML template around the summary tables and the figures. Styles come from
//! `page.css`; there is no script and no external resource.

use std::fmt::Write;

use super::render::frame::short;
use super::render::scale::format_value;
use super::render::svg::escape;
use super::render::{Figure, value_text};
use super::stats::{Domain, StudyStats};
use crate::model::{FrozenTrial, Timestamp};

const CSS: &str = include_str!("page.css");

/// One section of the page: a heading, an anchor, and its figures (shown side by side when
/// `grid`).
#[derive(Debug)]
pub struct Section {
    /// The anchor (`#id`).
    pub id: &'static str,
    /// The heading.
    pub heading: String,
    /// The figures, in order.
    pub figures: Vec<Figure>,
    /// Lay the figures out side by side (small multiples).
    pub grid: bool,
}

/// The whole page.
pub fn page(s: &StudyStats, sections: &[Section], refresh_secs: Option<u32>) -> String {
    let mut h = String::with_capacity(1 << 20);
    let name = escape(&s.study_name);
    let _ = write!(
        h,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <meta name=\"generator\" content=\"trialog {}\">\n",
        env!("CARGO_PKG_VERSION")
    );
    if let Some(secs) = refresh_secs {
        let _ = writeln!(h, "<meta http-equiv=\"refresh\" content=\"{secs}\">");
    }
    let _ = write!(
        h,
        "<title>Study {name}: trialog report</title>\n<style>\n{CSS}</style>\n</head>\n<body>\n\
         <header>\n<h1>Study “{name}”</h1>\n<p class=\"meta\">{} trial{}; report written {}{}.</p>\n<nav>",
        s.trials.len(),
        if s.trials.len() == 1 { "" } else { "s" },
        s.now,
        if refresh_secs.is_some() {
            " (rewritten while the study runs: reload to update)"
        } else {
            ""
        },
    );
    h.push_str("<a href=\"#summary\">Summary</a>");
    for sec in sections {
        let _ = write!(h, "<a href=\"#{}\">{}</a>", sec.id, escape(&sec.heading));
    }
    h.push_str("</nav>\n</header>\n");
    summary(&mut h, s);
    for sec in sections {
        let _ = write!(h, "<section id=\"{}\">\n<h2>{}</h2>\n", sec.id, escape(&sec.heading));
        if sec.grid {
            h.push_str("<div class=\"grid\">\n");
        }
        for f in &sec.figures {
            figure(&mut h, f, sec.grid || sec.figures.len() > 1);
        }
        if sec.grid {
            h.push_str("</div>\n");
        }
        h.push_str("</section>\n");
    }
    h.push_str("<footer><p class=\"meta\">Written by trialog from the study's journal; every mark is a trial of the journal (hover for details). docs/REPORT.md explains each chart.</p></footer>\n</body>\n</html>\n");
    h
}

fn figure(h: &mut String, f: &Figure, with_title: bool) {
    h.push_str("<figure>\n");
    if with_title {
        let _ = writeln!(h, "<h3>{}</h3>", escape(&f.title));
    }
    match &f.svg {
        Some(svg) => {
            h.push_str(svg);
            let _ = write!(h, "\n<figcaption>{}</figcaption>\n", escape(&f.caption));
        }
        None => {
            let _ = writeln!(h, "<p class=\"note\">{}</p>", escape(&f.caption));
        }
    }
    h.push_str("</figure>\n");
}

fn summary(h: &mut String, s: &StudyStats) {
    h.push_str("<section id=\"summary\">\n<h2>Summary</h2>\n<table>\n");
    let row = |h: &mut String, k: &str, v: String| {
        let _ = writeln!(h, "<tr><th>{}</th><td>{}</td></tr>", escape(k), v);
    };
    let dirs: Vec<String> = s
        .objectives
        .iter()
        .map(|o| format!("{}: {}", escape(&o.name), o.direction.name()))
        .collect();
    row(h, "Directions", dirs.join("; "));
    let mut counts = format!("{} in all", s.trials.len());
    for (state, n) in &s.counts {
        let _ = write!(counts, "; {} {n}", state.name());
    }
    row(h, "Trials", counts);
    let span = match (s.first_start, s.last_event) {
        (Some(a), Some(b)) => format!("{a} to {b} ({})", duration(a, b)),
        _ => "no trial has started".to_owned(),
    };
    row(h, "Time span", span);
    let tl = &s.timeline;
    let running = |n: usize| if n == 1 { "1 trial".to_owned() } else { format!("{n} trials") };
    let workers = match tl.n_workers {
        0 => "workers not recorded by this store".to_owned(),
        1 => "1 worker".to_owned(),
        n => format!("{n} workers"),
    };
    row(
        h,
        "Concurrency",
        format!("{}; at most {} running at once", workers, running(tl.peak_running)),
    );
    let params: Vec<String> = s
        .params
        .iter()
        .map(|p| format!("<code>{}</code> {}", escape(&p.name), escape(&domain_text(&p.domain))))
        .collect();
    row(h, "Parameters", if params.is_empty() { "none".into() } else { params.join("; ") });
    h.push_str("</table>\n");
    let single = s.directions.len() == 1;
    let _ = writeln!(
        h,
        "<h3>{}</h3>",
        if single {
            "Best trial".to_owned()
        } else {
            format!("Pareto front ({} trials)", s.best.len())
        }
    );
    if s.best.is_empty() {
        h.push_str("<p class=\"note\">No COMPLETE trial yet.</p>\n");
    } else {
        h.push_str("<table>\n<tr><th>number</th><th>values</th><th>params</th></tr>\n");
        for t in s.best.iter().take(20) {
            best_row(h, t);
        }
        h.push_str("</table>\n");
        if s.best.len() > 20 {
            let _ = writeln!(h, "<p class=\"note\">and {} more.</p>", s.best.len() - 20);
        }
    }
    h.push_str("</section>\n");
}

fn best_row(h: &mut String, t: &FrozenTrial) {
    let values: Vec<String> = t.values.iter().flatten().map(|v| format_value(*v, 0.0)).collect();
    let params: Vec<String> = t
        .params
        .iter()
        .map(|(k, v)| format!("{} = {}", escape(k), escape(&short(&value_text(v), 40))))
        .collect();
    let _ = writeln!(
        h,
        "<tr data-trial=\"{}\"><td class=\"num\">#{}</td><td class=\"num\">{}</td><td>{}</td></tr>",
        t.number,
        t.number,
        values.join(", "),
        params.join("<br>")
    );
}

fn domain_text(d: &Domain) -> String {
    match d {
        Domain::Numeric { low, high, log, step, int } => {
            let mut s = format!(
                "{} in [{}, {}]",
                if *int { "int" } else { "float" },
                format_value(*low, 0.0),
                format_value(*high, 0.0)
            );
            if *log {
                s.push_str(", log");
            }
            if let Some(st) = step.filter(|st| !(*int && *st == 1.0)) {
                let _ = write!(s, ", step {}", format_value(st, 0.0));
            }
            s
        }
        Domain::Categorical { labels } => format!("one of {}", short(&labels.join(", "), 80)),
    }
}

fn duration(a: Timestamp, b: Timestamp) -> String {
    let secs = (b.0 - a.0) as f64 / 1e6;
    if secs >= 7200.0 {
        format!("{:.1} h", secs / 3600.0)
    } else if secs >= 120.0 {
        format!("{:.1} min", secs / 60.0)
    } else {
        format!("{secs:.2} s")
    }
}
