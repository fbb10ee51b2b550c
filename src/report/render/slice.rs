//! Slice plots: an objective's value against one parameter, one small chart per parameter.

use super::frame::{Frame, ramp};
use super::sample::pick;
use super::scale::Scale;
use super::svg::Svg;
use super::{Figure, drawn_note, trial_tooltip};
use crate::report::stats::space::internal;
use crate::report::stats::{Domain, ObjectiveStats, ParamSpace, StudyStats};

/// The x scale of a parameter's axis: its domain's bounds (log for log distributions), or one
/// band per choice.
pub fn param_scale(p: &ParamSpace) -> Scale {
    match &p.domain {
        Domain::Numeric { low, high, log: true, .. } if *low > 0.0 => {
            let (l, h) = (low.log10(), high.log10());
            let pad = ((h - l) * 0.04).max(0.02);
            Scale::Log { lo: l - pad, hi: h + pad }
        }
        Domain::Numeric { low, high, .. } => Scale::linear_padded(*low, *high),
        Domain::Categorical { labels } => Scale::Band { labels: labels.clone() },
    }
}

/// One slice chart per parameter in `params`, for objective `o`, each drawing at most
/// `budget` trials.
pub fn slices(
    s: &StudyStats,
    o: &ObjectiveStats,
    params: &[&ParamSpace],
    budget: usize,
) -> Vec<Figure> {
    params.iter().map(|p| slice(s, o, p, budget)).collect()
}

fn slice(s: &StudyStats, o: &ObjectiveStats, p: &ParamSpace, budget: usize) -> Figure {
    let title = format!("Slice: {} by {}", o.name, p.name);
    let pts: Vec<(usize, f64, f64)> = o
        .points
        .iter()
        .filter_map(|&(ti, v)| Some((ti, internal(&s.trials[ti], &p.name)?, v)))
        .collect();
    if pts.is_empty() {
        return Figure::empty(title, format!("No COMPLETE trial has parameter {}.", p.name));
    }
    let values = pts.iter().map(|q| q.2);
    let log = Scale::spans_decades(values.clone());
    let frame = Frame::new(420.0, 280.0, param_scale(p), Scale::fit(values, log));
    let mut svg = Svg::new(frame.w, frame.h, &title);
    frame.axes(&mut svg, &p.name, &o.name);
    let band = matches!(frame.xs, Scale::Band { .. });
    let max_number = s.trials.last().map_or(1, |t| t.number).max(1) as f64;
    let chosen = pick(pts.len(), budget, |_| false);
    svg.tag("g").attr("class", "points").open();
    for &k in &chosen {
        let (ti, x, v) = pts[k];
        let t = &s.trials[ti];
        let (Some(mut px), Some(py)) = (frame.px(x), frame.py(v)) else { continue };
        if band {
            // Spread the points of one choice across a third of its band.
            let width = (frame.right - frame.left) / frame.xs.ticks(0).len().max(1) as f64;
            px +=
                ((t.number.wrapping_mul(2_654_435_761) % 1000) as f64 / 1000.0 - 0.5) * width / 3.0;
        }
        svg.tag("circle")
            .num("cx", px)
            .num("cy", py)
            .attr("r", 2.5)
            .attr("fill", ramp(t.number as f64 / max_number))
            .attr("data-trial", t.number)
            .titled(trial_tooltip(t));
    }
    svg.close();
    let caption = format!(
        "{} COMPLETE trials with {}; colour: trial number (dark early, yellow late).{}",
        pts.len(),
        p.name,
        drawn_note(chosen.len(), pts.len())
    );
    Figure { title, svg: Some(svg.finish()), caption }
}
