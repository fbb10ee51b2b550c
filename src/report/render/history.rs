//! Optimisation history: each COMPLETE trial's value by trial number, the best value so far,
//! and PRUNED / FAIL trials marked along the bottom.

use super::frame::{Frame, Key, legend, state_color};
use super::sample::pick;
use super::scale::Scale;
use super::svg::{Svg, push_num};
use super::{Figure, drawn_note, trial_tooltip};
use crate::model::TrialState;
use crate::report::stats::{ObjectiveStats, StudyStats};

/// Most value points drawn over all objectives' history charts together.
const POINTS: usize = 4000;
/// Most PRUNED / FAIL marks drawn.
const MARKS: usize = 2000;

/// The history chart of objective `o`.
pub fn history(s: &StudyStats, o: &ObjectiveStats) -> Figure {
    let title = format!("Optimisation history: {}", o.name);
    let others: Vec<usize> = (0..s.trials.len())
        .filter(|&i| matches!(s.trials[i].state, TrialState::Pruned | TrialState::Fail))
        .collect();
    if o.points.is_empty() && others.is_empty() {
        return Figure::empty(title, "No trial has finished yet.");
    }
    let max_number = s.trials.last().map_or(1, |t| t.number).max(1) as f64;
    let values = o.points.iter().map(|p| p.1);
    let log = Scale::spans_decades(values.clone());
    let frame =
        Frame::new(860.0, 340.0, Scale::linear_padded(0.0, max_number), Scale::fit(values, log));
    let mut svg = Svg::new(frame.w, frame.h, &title);
    frame.axes(&mut svg, "Trial number", &format!("{}{}", o.name, if log { " (log)" } else { "" }));

    // Points: keep the trials where the best changed.
    let improved = |i: usize| {
        o.best_so_far.binary_search_by_key(&s.trials[o.points[i].0].number, |b| b.0).is_ok()
    };
    let chosen = pick(o.points.len(), POINTS / s.objectives.len().max(1), improved);
    svg.tag("g").attr("class", "points").attr("fill", state_color(TrialState::Complete)).open();
    for &i in &chosen {
        let (ti, v) = o.points[i];
        let t = &s.trials[ti];
        let (Some(x), Some(y)) = (frame.px(t.number as f64), frame.py(v)) else { continue };
        svg.tag("circle")
            .num("cx", x)
            .num("cy", y)
            .attr("r", 2.5)
            .attr("data-trial", t.number)
            .titled(trial_tooltip(t));
    }
    svg.close();

    // Best so far, as steps; per pixel column only the first and last change matter.
    if !o.best_so_far.is_empty() {
        let mut d = String::new();
        let mut col = f64::NAN;
        let mut pending: Option<f64> = None; // a later change in the same pixel column
        for (n, v) in &o.best_so_far {
            let (Some(x), Some(y)) = (frame.px(*n as f64), frame.py(*v)) else { continue };
            if d.is_empty() {
                d.push('M');
                push_num(&mut d, x);
                d.push(' ');
                push_num(&mut d, y);
            } else if x.round() == col {
                pending = Some(y);
                continue;
            } else {
                if let Some(p) = pending.take() {
                    d.push_str(" V");
                    push_num(&mut d, p);
                }
                d.push_str(" H");
                push_num(&mut d, x);
                d.push_str(" V");
                push_num(&mut d, y);
            }
            col = x.round();
        }
        if let Some(p) = pending {
            d.push_str(" V");
            push_num(&mut d, p);
        }
        d.push_str(" H");
        push_num(&mut d, frame.px(max_number).unwrap_or(frame.right));
        svg.tag("path")
            .attr("class", "best-line")
            .attr("d", d)
            .attr("fill", "none")
            .attr("stroke", "#d62728")
            .attr("stroke-width", 2)
            .empty();
    }

    // PRUNED and FAIL trials: ticks along the bottom edge.
    let marks = pick(others.len(), MARKS, |_| false);
    svg.tag("g").attr("class", "state-marks").open();
    for &k in &marks {
        let t = &s.trials[others[k]];
        let Some(x) = frame.px(t.number as f64) else { continue };
        let y0 = frame.bottom - if t.state == TrialState::Fail { 12.0 } else { 6.0 };
        svg.tag("line")
            .num("x1", x)
            .num("x2", x)
            .num("y1", y0)
            .num("y2", y0 + 6.0)
            .attr("stroke", state_color(t.state))
            .attr("stroke-width", 1.5)
            .attr("data-trial", t.number)
            .titled(trial_tooltip(t));
    }
    svg.close();
    legend(
        &mut svg,
        frame.left,
        16.0,
        &[
            Key { color: state_color(TrialState::Complete), line: false, label: "COMPLETE trial" },
            Key { color: "#d62728", line: true, label: "best so far" },
            Key { color: state_color(TrialState::Pruned), line: true, label: "PRUNED (tick)" },
            Key { color: state_color(TrialState::Fail), line: true, label: "FAIL (tick)" },
        ],
    );
    let mut caption = format!(
        "{} COMPLETE trials by trial number ({}); the red steps are the best value so far \
         ({}), a later trial replacing it only when strictly better. Ticks at the bottom mark \
         PRUNED (orange) and FAIL (red) trials.",
        o.points.len(),
        if log { "log scale: the values span two decades or more" } else { "linear scale" },
        o.direction.name().to_lowercase(),
    );
    if o.non_finite > 0 {
        caption.push_str(&format!(
            " {} trials have a non-finite value: infinities are drawn at the edge, NaN is not drawn.",
            o.non_finite
        ));
    }
    caption.push_str(&drawn_note(chosen.len() + marks.len(), o.points.len() + others.len()));
    Figure { title, svg: Some(svg.finish()), caption }
}
