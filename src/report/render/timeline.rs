//! The timeline: each started trial as a bar from start to finish on its lane, coloured by
//! state.

use super::frame::{Frame, Key, legend, state_color};
use super::sample::pick;
use super::scale::Scale;
use super::svg::Svg;
use super::{Figure, drawn_note, trial_tooltip};
use crate::model::TrialState;
use crate::report::stats::StudyStats;

/// Most bars drawn.
const BARS: usize = 3000;

/// The timeline chart.
pub fn timeline(s: &StudyStats) -> Figure {
    let title = "Timeline".to_owned();
    let tl = &s.timeline;
    let (Some(first), false) = (s.first_start, tl.bars.is_empty()) else {
        return Figure::empty(title, "No trial has started yet.");
    };
    let span_us = tl.bars.iter().map(|b| b.end.0 - first.0).max().unwrap_or(0).max(1) as f64;
    let (unit, div) = if span_us >= 7200e6 {
        ("hours", 3600e6)
    } else if span_us >= 120e6 {
        ("minutes", 60e6)
    } else {
        ("seconds", 1e6)
    };
    let n_lanes = tl.lanes.len();
    let lane_h = (300.0 / n_lanes as f64).clamp(2.0, 16.0);
    let h = 30.0 + 44.0 + lane_h * n_lanes as f64;
    let xs = Scale::Linear { lo: 0.0, hi: span_us / div };
    // Worker names (w0, w1, ... in order of first start; "-" for unknown) or lane numbers, on
    // every k-th lane so that labels stay 12 px apart.
    let every = (12.0 / lane_h).ceil() as usize;
    let label = |l: usize| match (&tl.lanes[l].worker, tl.n_workers) {
        (Some((k, _)), _) => format!("w{k}"),
        (None, 0) => l.to_string(),
        (None, _) => "-".to_owned(),
    };
    let labels = (0..n_lanes).map(|l| if l % every == 0 { label(l) } else { String::new() });
    let mut frame = Frame::new(860.0, h, xs, Scale::Band { labels: labels.collect() });
    frame.left = 50.0;
    let mut svg = Svg::new(frame.w, frame.h, &title);
    let y_title = if tl.n_workers > 0 { "Worker" } else { "Lane" };
    frame.axes(&mut svg, &format!("Time since the first start ({first}), {unit}"), y_title);
    // Keep whatever is not a plain COMPLETE trial, and the longest ones.
    let mut durations: Vec<i64> = tl.bars.iter().map(|b| b.end.0 - b.start.0).collect();
    let long = if tl.bars.len() > BARS {
        let k = durations.len() - BARS / 10;
        *durations.select_nth_unstable(k).1
    } else {
        i64::MAX
    };
    let chosen = pick(tl.bars.len(), BARS, |i| {
        let b = &tl.bars[i];
        b.trial.state != TrialState::Complete || b.end.0 - b.start.0 >= long
    });
    svg.tag("g").attr("class", "bars").open();
    for &i in &chosen {
        let b = &tl.bars[i];
        let x0 = frame.px((b.start.0 - first.0) as f64 / div).unwrap_or(frame.left);
        let x1 = frame.px((b.end.0 - first.0) as f64 / div).unwrap_or(frame.right);
        let y = frame.py(b.lane as f64).unwrap_or(frame.top) - lane_h / 2.0;
        let secs = (b.end.0 - b.start.0) as f64 / 1e6;
        let row = match &tl.lanes[b.lane].worker {
            Some((k, id)) => format!("worker w{k} ({id})"),
            None => format!("lane {} (worker not recorded)", b.lane),
        };
        svg.tag("rect")
            .num("x", x0)
            .num("y", y + 0.5)
            .num("width", (x1 - x0).max(1.0))
            .num("height", (lane_h - 1.0).max(1.0))
            .attr("fill", state_color(b.trial.state))
            .attr("data-trial", b.trial.number)
            .titled(format_args!(
                "{}\n{row}, {} .. {}{}, {secs:.3} s",
                trial_tooltip(&b.trial),
                b.start,
                b.end,
                if b.trial.state == TrialState::Running { " (still running)" } else { "" }
            ));
    }
    svg.close();
    let keys: Vec<Key<'_>> =
        [TrialState::Complete, TrialState::Pruned, TrialState::Fail, TrialState::Running]
            .into_iter()
            .map(|st| Key { color: state_color(st), line: false, label: st.name() })
            .collect();
    legend(&mut svg, frame.left, 16.0, &keys);
    let rows = if tl.n_workers > 0 {
        format!(
            "Each worker (one storage handle on one thread, as the journal records it) has its \
             own row, w0 first, in order of first start; a worker that ran trials at once has \
             a row for each. {} worker{}; at most {} trial{} ran at once.{}",
            tl.n_workers,
            if tl.n_workers == 1 { "" } else { "s" },
            tl.peak_running,
            if tl.peak_running == 1 { "" } else { "s" },
            if tl.lanes.iter().any(|l| l.worker.is_none()) {
                " Trials without a recorded worker share the rows marked \"-\"."
            } else {
                ""
            }
        )
    } else {
        format!(
            "This store does not record which worker ran each trial, so trials are packed onto \
             the fewest lanes on which none overlap: {n_lanes} lane{}, the peak number of trials \
             running at once.",
            if n_lanes == 1 { "" } else { "s" }
        )
    };
    let caption = format!(
        "Each started trial as a bar from its start to its completion (a RUNNING trial to the \
         time of this report), coloured by state. {rows} A long bar is a slow or stale trial; a \
         gap in a worker's row shows a worker that stalled or stopped.{}",
        drawn_note(chosen.len(), tl.bars.len())
    );
    Figure { title, svg: Some(svg.finish()), caption }
}
