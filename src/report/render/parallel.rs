//! Parallel coordinates: one vertical axis per objective and parameter, one line per COMPLETE
//! trial, coloured by the first objective (bright = better).

use std::fmt::Write;
use std::sync::Arc;

use super::frame::{ramp, short};
use super::sample::pick;
use super::scale::Scale;
use super::slice::param_scale;
use super::svg::{Svg, push_num};
use super::{Figure, drawn_note, trial_tooltip};
use crate::model::{FrozenTrial, StudyDirection};
use crate::report::stats::space::internal;
use crate::report::stats::{ParamSpace, StudyStats};

/// Most lines drawn.
const LINES: usize = 800;
/// The best trials always drawn.
const BEST: usize = 100;

/// Where an axis takes its value from.
enum Source {
    Objective(usize),
    Param(Arc<str>),
}

impl Source {
    fn value(&self, t: &FrozenTrial) -> Option<f64> {
        match self {
            Source::Objective(i) => t.values.as_ref().and_then(|v| v.get(*i).copied()),
            Source::Param(name) => internal(t, name),
        }
    }
}

/// The parallel-coordinates chart over the objectives and `params`.
pub fn parallel(s: &StudyStats, params: &[&ParamSpace]) -> Figure {
    let title = "Parallel coordinates".to_owned();
    let Some(o) = s.objectives.first() else {
        return Figure::empty(title, "The study has no objective.");
    };
    let rows: Vec<(usize, f64)> = o.points.iter().copied().filter(|p| p.1.is_finite()).collect();
    if rows.is_empty() {
        return Figure::empty(title, "No COMPLETE trial with a finite value yet.");
    }
    // Axes: every objective, then the parameters.
    let mut axes: Vec<(String, Scale, Source)> = Vec::new();
    for ob in &s.objectives {
        let vals = ob.points.iter().map(|p| p.1);
        let log = Scale::spans_decades(vals.clone());
        axes.push((ob.name.clone(), Scale::fit(vals, log), Source::Objective(ob.index)));
    }
    for p in params {
        axes.push((p.name.to_string(), param_scale(p), Source::Param(p.name.clone())));
    }
    let (w, h, top, bottom) = (860.0, 380.0, 40.0, 340.0);
    let (left, right) = (60.0, w - 60.0);
    let gap = if axes.len() > 1 { (right - left) / (axes.len() - 1) as f64 } else { 0.0 };
    let ax_x = |k: usize| left + gap * k as f64;
    let ax_y = |sc: &Scale, v: f64| sc.unit(v).map(|u| bottom - u * (bottom - top));

    // Rank the rows, best first, to keep and to draw the best on top.
    let mut order: Vec<usize> = (0..rows.len()).collect();
    let maximize = o.direction == StudyDirection::Maximize;
    order.sort_by(|&a, &b| {
        let c = rows[a].1.total_cmp(&rows[b].1);
        if maximize { c.reverse() } else { c }
    });
    let mut rank = vec![0usize; rows.len()];
    for (r, &i) in order.iter().enumerate() {
        rank[i] = r;
    }
    let mut chosen = pick(rows.len(), LINES, |i| rank[i] < BEST);
    chosen.sort_by_key(|&i| std::cmp::Reverse(rank[i]));

    let mut svg = Svg::new(w, h, &title);
    svg.tag("g").attr("class", "lines").attr("fill", "none").attr("stroke-width", 1).open();
    let obj_scale = &axes[0].1;
    for &i in &chosen {
        let (ti, v) = rows[i];
        let mut d = String::new();
        let mut pen_down = false;
        for (k, (_, sc, get)) in axes.iter().enumerate() {
            match get.value(&s.trials[ti]).and_then(|x| ax_y(sc, x)) {
                Some(y) => {
                    d.push(if pen_down { 'L' } else { 'M' });
                    push_num(&mut d, ax_x(k));
                    d.push(' ');
                    push_num(&mut d, y);
                    pen_down = true;
                }
                None => pen_down = false,
            }
        }
        let u = obj_scale.unit(v).unwrap_or(0.0);
        let u = if maximize { u } else { 1.0 - u };
        svg.tag("path")
            .attr("d", d)
            .attr("stroke", ramp(u))
            .attr("stroke-opacity", 0.6)
            .attr("data-trial", s.trials[ti].number)
            .titled(trial_tooltip(&s.trials[ti]));
    }
    svg.close();
    svg.tag("g").attr("class", "axes").open();
    for (k, (name, sc, _)) in axes.iter().enumerate() {
        let x = ax_x(k);
        svg.tag("line")
            .attr("class", "axis")
            .num("x1", x)
            .num("x2", x)
            .num("y1", top)
            .num("y2", bottom)
            .empty();
        svg.tag("text")
            .attr("class", "axis-label")
            .attr("text-anchor", "middle")
            .num("x", x)
            .num("y", top - 14.0)
            .text(short(name, 16));
        let ticks = sc.ticks(4);
        let step = (ticks.len() / 8).max(1);
        for (v, label) in ticks.into_iter().step_by(step) {
            let Some(y) = ax_y(sc, v) else { continue };
            svg.tag("text")
                .attr("class", "tick")
                .num("x", x + 4.0)
                .num("y", y + 4.0)
                .text(short(&label, 10));
        }
    }
    svg.close();
    let mut caption = String::new();
    let _ = write!(
        caption,
        "{} COMPLETE trials with a finite {}; each line passes through its objective values and \
         parameter values (a gap where a trial lacks a parameter). Colour: {} (bright = better).{}",
        rows.len(),
        o.name,
        o.name,
        drawn_note(chosen.len(), rows.len())
    );
    if params.len() < s.params.len() {
        let _ = write!(
            caption,
            " The {} most important of {} parameters are shown.",
            params.len(),
            s.params.len()
        );
    }
    Figure { title, svg: Some(svg.finish()), caption }
}
