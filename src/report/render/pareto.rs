//! The Pareto front of a multi-objective study: 2-D projections for pairs of objectives and,
//! with three or more objectives, a 3-D view of the first three.

use std::collections::HashSet;

use super::frame::{Frame, Key, legend, short};
use super::sample::pick;
use super::scale::Scale;
use super::svg::{Svg, push_num};
use super::{Figure, drawn_note, trial_tooltip};
use crate::model::TrialState;
use crate::report::stats::StudyStats;

/// Most points drawn per chart.
const POINTS: usize = 1500;
const FRONT: &str = "#d62728";
const OTHER: &str = "#9ecae1";

/// The Pareto-front charts (none for a single-objective study).
pub fn pareto(s: &StudyStats) -> Vec<Figure> {
    let k = s.directions.len();
    if k < 2 {
        return Vec::new();
    }
    let rows: Vec<usize> = (0..s.trials.len())
        .filter(|&i| {
            let t = &s.trials[i];
            t.state == TrialState::Complete
                && t.values.as_ref().is_some_and(|v| v.len() == k && v.iter().all(|x| !x.is_nan()))
        })
        .collect();
    if rows.is_empty() {
        return vec![Figure::empty("Pareto front", "No COMPLETE trial with all values yet.")];
    }
    let front: HashSet<u64> = s.best.iter().map(|t| t.number).collect();
    let chosen: Vec<usize> = {
        let picked = pick(rows.len(), POINTS, |j| front.contains(&s.trials[rows[j]].number));
        picked.into_iter().map(|j| rows[j]).collect()
    };
    let shown = k.min(3);
    let mut figs = Vec::new();
    for a in 0..shown {
        for b in a + 1..shown {
            figs.push(pair(s, &chosen, rows.len(), &front, a, b));
        }
    }
    if k >= 3 {
        figs.push(cube(s, &chosen, rows.len(), &front));
    }
    figs
}

fn axis_name(s: &StudyStats, i: usize) -> String {
    let o = &s.objectives[i];
    format!("{} ({})", o.name, o.direction.name().to_lowercase())
}

fn value(s: &StudyStats, ti: usize, i: usize) -> f64 {
    s.trials[ti].values.as_ref().map_or(f64::NAN, |v| v[i])
}

fn pair(
    s: &StudyStats,
    chosen: &[usize],
    total: usize,
    front: &HashSet<u64>,
    a: usize,
    b: usize,
) -> Figure {
    let title = format!("Pareto front: {} vs {}", s.objectives[a].name, s.objectives[b].name);
    let frame = Frame::new(
        560.0,
        400.0,
        Scale::fit(chosen.iter().map(|&t| value(s, t, a)), false),
        Scale::fit(chosen.iter().map(|&t| value(s, t, b)), false),
    );
    let mut svg = Svg::new(frame.w, frame.h, &title);
    frame.axes(&mut svg, &axis_name(s, a), &axis_name(s, b));
    let mut on_front: Vec<(f64, f64)> = Vec::new();
    for pass_front in [false, true] {
        svg.tag("g").attr("class", if pass_front { "front" } else { "dominated" }).open();
        for &ti in chosen {
            let t = &s.trials[ti];
            if front.contains(&t.number) != pass_front {
                continue;
            }
            let (Some(x), Some(y)) = (frame.px(value(s, ti, a)), frame.py(value(s, ti, b))) else {
                continue;
            };
            if pass_front {
                on_front.push((x, y));
            }
            svg.tag("circle")
                .num("cx", x)
                .num("cy", y)
                .attr("r", if pass_front { 3.5 } else { 2.5 })
                .attr("fill", if pass_front { FRONT } else { OTHER })
                .attr("data-trial", t.number)
                .titled(trial_tooltip(t));
        }
        svg.close();
    }
    if s.directions.len() == 2 && on_front.len() > 1 {
        on_front.sort_by(|p, q| p.0.total_cmp(&q.0));
        let mut d = String::new();
        for (x, y) in on_front {
            d.push(if d.is_empty() { 'M' } else { 'L' });
            push_num(&mut d, x);
            d.push(' ');
            push_num(&mut d, y);
        }
        svg.tag("path")
            .attr("d", d)
            .attr("fill", "none")
            .attr("stroke", FRONT)
            .attr("stroke-opacity", 0.5)
            .empty();
    }
    legend(
        &mut svg,
        frame.left,
        16.0,
        &[
            Key { color: FRONT, line: false, label: "on the Pareto front" },
            Key { color: OTHER, line: false, label: "dominated" },
        ],
    );
    let caption = format!(
        "{} COMPLETE trials; {} are on the Pareto front of all {} objectives (no other trial is at \
         least as good in every objective and better in one), drawn in red.{}",
        total,
        front.len(),
        s.directions.len(),
        drawn_note(chosen.len(), total)
    );
    Figure { title, svg: Some(svg.finish()), caption }
}

/// An isometric view of the first three objectives, each scaled to its range.
fn cube(s: &StudyStats, chosen: &[usize], total: usize, front: &HashSet<u64>) -> Figure {
    let title = format!(
        "Pareto front in 3-D: {}, {}, {}",
        s.objectives[0].name, s.objectives[1].name, s.objectives[2].name
    );
    let scales: Vec<Scale> =
        (0..3).map(|i| Scale::fit(chosen.iter().map(|&t| value(s, t, i)), false)).collect();
    let (w, h, size) = (560.0, 460.0, 190.0);
    // The origin sits in the middle; x runs down-right, y down-left, z up.
    let (cx, cy) = (w / 2.0, 50.0 + size);
    let (c30, s30) = (3f64.sqrt() / 2.0, 0.5);
    let project = |u: [f64; 3]| {
        (cx + (u[0] - u[1]) * size * c30, cy + (u[0] + u[1]) * size * s30 - u[2] * size)
    };
    let mut svg = Svg::new(w, h, &title);
    svg.tag("g").attr("class", "axes").open();
    let corners = [[0.0, 0.0, 0.0], [1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]];
    for (i, end) in corners[1..].iter().enumerate() {
        let (x0, y0) = project(corners[0]);
        let (x1, y1) = project(*end);
        svg.tag("line")
            .attr("class", "axis")
            .num("x1", x0)
            .num("y1", y0)
            .num("x2", x1)
            .num("y2", y1)
            .empty();
        let (lx, ly) = project([end[0] * 1.12, end[1] * 1.12, end[2] * 1.08]);
        svg.tag("text")
            .attr("class", "axis-label")
            .attr("text-anchor", "middle")
            .num("x", lx)
            .num("y", ly)
            .text(short(&axis_name(s, i), 30));
    }
    svg.close();
    // Painter's order: far points first (the viewer looks from large x + y).
    let mut pts: Vec<(f64, usize, [f64; 3])> = chosen
        .iter()
        .filter_map(|&ti| {
            let u = [0, 1, 2].map(|i| scales[i].unit(value(s, ti, i)));
            let u = [u[0]?, u[1]?, u[2]?];
            let on = front.contains(&s.trials[ti].number);
            Some((u[0] + u[1] + if on { 10.0 } else { 0.0 }, ti, u))
        })
        .collect();
    pts.sort_by(|a, b| a.0.total_cmp(&b.0));
    svg.tag("g").attr("class", "points").open();
    for (_, ti, u) in pts {
        let t = &s.trials[ti];
        let on = front.contains(&t.number);
        let (x, y) = project(u);
        svg.tag("circle")
            .num("cx", x)
            .num("cy", y)
            .attr("r", if on { 3.5 } else { 2.5 })
            .attr("fill", if on { FRONT } else { OTHER })
            .attr("data-trial", t.number)
            .titled(trial_tooltip(t));
    }
    svg.close();
    legend(
        &mut svg,
        20.0,
        16.0,
        &[
            Key { color: FRONT, line: false, label: "on the Pareto front" },
            Key { color: OTHER, line: false, label: "dominated" },
        ],
    );
    let caption = format!(
        "The first three objectives in an isometric view, each axis scaled from its smallest to \
         its largest value; {} of {} COMPLETE trials are on the Pareto front (red).{}",
        front.len(),
        total,
        drawn_note(chosen.len(), total)
    );
    Figure { title, svg: Some(svg.finish()), caption }
}
