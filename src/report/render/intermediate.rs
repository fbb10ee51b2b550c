//! Intermediate values (learning curves): one line per trial that reported any, coloured by
//! state, with a cross where a PRUNED trial was stopped.

use super::frame::{Frame, Key, legend, state_color};
use super::sample::pick;
use super::scale::Scale;
use super::svg::{Svg, push_num};
use super::{Figure, drawn_note, trial_tooltip};
use crate::model::TrialState;
use crate::report::stats::StudyStats;

/// Most curves drawn.
const CURVES: usize = 200;
/// Most vertices per curve.
const VERTICES: usize = 150;

/// The learning-curve chart.
pub fn intermediate(s: &StudyStats) -> Figure {
    let title = "Intermediate values".to_owned();
    let with: Vec<usize> =
        (0..s.trials.len()).filter(|&i| !s.trials[i].intermediate_values.is_empty()).collect();
    if with.is_empty() {
        return Figure::empty(title, "No trial has reported an intermediate value.");
    }
    let steps =
        with.iter().flat_map(|&i| s.trials[i].intermediate_values.keys().map(|k| k.to_f64()));
    let (lo, hi) = steps.fold((f64::INFINITY, f64::NEG_INFINITY), |(l, h), k| (l.min(k), h.max(k)));
    let values = || with.iter().flat_map(|&i| s.trials[i].intermediate_values.values().copied());
    let log = Scale::spans_decades(values());
    let frame = Frame::new(860.0, 340.0, Scale::linear_padded(lo, hi), Scale::fit(values(), log));
    let mut svg = Svg::new(frame.w, frame.h, &title);
    frame.axes(&mut svg, "Step", &format!("Intermediate value{}", if log { " (log)" } else { "" }));
    let chosen = pick(with.len(), CURVES, |k| s.trials[with[k]].state == TrialState::Pruned);
    svg.tag("g").attr("class", "curves").attr("fill", "none").open();
    let mut n_pruned = 0;
    for &k in &chosen {
        let t = &s.trials[with[k]];
        let iv: Vec<(f64, f64)> =
            t.intermediate_values.iter().map(|(st, v)| (st.to_f64(), *v)).collect();
        let keep = pick(iv.len(), VERTICES, |j| j + 1 == iv.len());
        let mut d = String::new();
        let mut last = None;
        let mut n_vertices = 0;
        for &j in &keep {
            let (Some(x), Some(y)) = (frame.px(iv[j].0), frame.py(iv[j].1)) else { continue };
            d.push(if d.is_empty() { 'M' } else { 'L' });
            push_num(&mut d, x);
            d.push(' ');
            push_num(&mut d, y);
            last = Some((x, y));
            n_vertices += 1;
        }
        let Some((lx, ly)) = last else { continue };
        svg.tag("g").attr("data-trial", t.number).open();
        svg.title(trial_tooltip(t));
        if n_vertices == 1 {
            // A single report: a dot, since a one-point line is invisible.
            svg.tag("circle")
                .num("cx", lx)
                .num("cy", ly)
                .attr("r", 2.5)
                .attr("fill", state_color(t.state))
                .empty();
        } else {
            svg.tag("path")
                .attr("d", d)
                .attr("stroke", state_color(t.state))
                .attr("stroke-opacity", 0.7)
                .attr("stroke-width", 1.2)
                .empty();
        }
        if let (TrialState::Pruned, Some((x, y))) = (t.state, last) {
            n_pruned += 1;
            svg.tag("path")
                .attr("class", "pruned-mark")
                .attr("d", format_args!("M{:.1} {:.1}l6 6m0 -6l-6 6", x - 3.0, y - 3.0))
                .attr("stroke", state_color(TrialState::Pruned))
                .attr("stroke-width", 2)
                .empty();
        }
        svg.close();
    }
    svg.close();
    legend(
        &mut svg,
        frame.left,
        16.0,
        &[
            Key { color: state_color(TrialState::Complete), line: true, label: "COMPLETE" },
            Key {
                color: state_color(TrialState::Pruned),
                line: true,
                label: "PRUNED (× where stopped)",
            },
            Key { color: state_color(TrialState::Running), line: true, label: "RUNNING" },
            Key { color: state_color(TrialState::Fail), line: true, label: "FAIL" },
        ],
    );
    let caption = format!(
        "The values {} trials reported with `report(value, step)`, by step; {} PRUNED curves \
         drawn end in a cross.{}",
        with.len(),
        n_pruned,
        drawn_note(chosen.len(), with.len())
    );
    Figure { title, svg: Some(svg.finish()), caption }
}
