//! Drawing the statistics as SVG figures. Nothing here computes a statistic: each chart takes
//! [`StudyStats`] and decides only what to draw and where.

pub mod frame;
pub mod history;
pub mod importance;
pub mod intermediate;
pub mod parallel;
pub mod pareto;
pub mod sample;
pub mod scale;
pub mod slice;
pub mod svg;
pub mod timeline;

use std::fmt::Write;

use crate::model::FrozenTrial;
use scale::format_value;

pub use crate::report::stats::StudyStats;

/// One chart: an SVG image with a title and a caption, or a note saying why there is none.
#[derive(Debug, Clone)]
pub struct Figure {
    /// Short heading.
    pub title: String,
    /// The SVG document, or `None` when there is nothing to draw.
    pub svg: Option<String>,
    /// What is drawn and how it was computed (or why nothing is drawn), including how many
    /// trials were drawn when not all were.
    pub caption: String,
}

impl Figure {
    /// A figure with nothing to draw, saying `why`.
    pub fn empty(title: impl Into<String>, why: impl Into<String>) -> Figure {
        Figure { title: title.into(), svg: None, caption: why.into() }
    }
}

/// The tooltip of a trial's mark: number, state, values and (up to 6) parameters.
pub fn trial_tooltip(t: &FrozenTrial) -> String {
    let mut s = format!("#{} {}", t.number, t.state.name());
    if let Some(v) = &t.values {
        let vs: Vec<String> = v.iter().map(|x| format_value(*x, 0.0)).collect();
        let _ = write!(s, " values [{}]", vs.join(", "));
    }
    for (name, value) in t.params.iter().take(6) {
        let _ = write!(s, "\n{name} = {}", value_text(value));
    }
    s
}

/// A parameter value for a tooltip.
pub fn value_text(v: &crate::model::ParamValue) -> String {
    match v {
        crate::model::ParamValue::Float(x) => format_value(*x, 0.0),
        other => crate::report::stats::space::label(other),
    }
}

/// "N of M trials drawn" when thinned, else "".
pub fn drawn_note(drawn: usize, total: usize) -> String {
    if drawn < total {
        format!(
            " {drawn} of {total} trials are drawn (an even selection that keeps the notable ones); the statistics use all of them."
        )
    } else {
        String::new()
    }
}
