//! The frame of an x-y chart: plot area, axes with ticks and names, legend, colours.

use super::scale::Scale;
use super::svg::Svg;
use crate::model::TrialState;

/// An x-y chart's geometry: the SVG size, the plot area inside the margins, and the scales.
#[derive(Debug, Clone)]
pub struct Frame {
    /// SVG width in pixels.
    pub w: f64,
    /// SVG height in pixels.
    pub h: f64,
    /// Left edge of the plot area.
    pub left: f64,
    /// Right edge of the plot area.
    pub right: f64,
    /// Top edge of the plot area.
    pub top: f64,
    /// Bottom edge of the plot area.
    pub bottom: f64,
    /// The horizontal scale.
    pub xs: Scale,
    /// The vertical scale.
    pub ys: Scale,
}

impl Frame {
    /// A `w` x `h` chart with room for tick labels, axis names and a legend row on top.
    pub fn new(w: f64, h: f64, xs: Scale, ys: Scale) -> Frame {
        Frame { w, h, left: 70.0, right: w - 14.0, top: 30.0, bottom: h - 44.0, xs, ys }
    }

    /// The pixel column of value `v` (`None` for NaN).
    pub fn px(&self, v: f64) -> Option<f64> {
        self.xs.unit(v).map(|u| self.left + u * (self.right - self.left))
    }

    /// The pixel row of value `v` (`None` for NaN); larger values are higher up.
    pub fn py(&self, v: f64) -> Option<f64> {
        self.ys.unit(v).map(|u| self.bottom - u * (self.bottom - self.top))
    }

    /// Draws the grid, both axes with ticks, and the axis names `x_name` and `y_name`.
    pub fn axes(&self, svg: &mut Svg, x_name: &str, y_name: &str) {
        svg.tag("g").attr("class", "axes").open();
        for (v, label) in self.ys.ticks(5) {
            let Some(y) = self.py(v).filter(|_| !label.is_empty()) else { continue };
            svg.tag("line")
                .attr("class", "grid")
                .num("x1", self.left)
                .num("x2", self.right)
                .num("y1", y)
                .num("y2", y)
                .empty();
            svg.tag("text")
                .attr("class", "tick")
                .attr("text-anchor", "end")
                .num("x", self.left - 5.0)
                .num("y", y + 4.0)
                .text(short(&label, 10));
        }
        let xt = self.xs.ticks(6);
        let rotate = matches!(self.xs, Scale::Band { .. }) && xt.len() > 6;
        for (v, label) in xt {
            let Some(x) = self.px(v) else { continue };
            svg.tag("line")
                .attr("class", "tickmark")
                .num("x1", x)
                .num("x2", x)
                .num("y1", self.bottom)
                .num("y2", self.bottom + 4.0)
                .empty();
            let t = svg.tag("text").attr("class", "tick").num("x", x).num("y", self.bottom + 16.0);
            if rotate {
                t.attr("text-anchor", "end")
                    .attr("transform", format_args!("rotate(-30 {x:.1} {:.1})", self.bottom + 16.0))
                    .text(short(&label, 10));
            } else {
                t.attr("text-anchor", "middle").text(short(&label, 14));
            }
        }
        svg.tag("rect")
            .attr("class", "plot-area")
            .num("x", self.left)
            .num("y", self.top)
            .num("width", self.right - self.left)
            .num("height", self.bottom - self.top)
            .empty();
        svg.tag("text")
            .attr("class", "axis-label")
            .attr("text-anchor", "middle")
            .num("x", (self.left + self.right) / 2.0)
            .num("y", self.h - 6.0)
            .text(x_name);
        let yc = (self.top + self.bottom) / 2.0;
        svg.tag("text")
            .attr("class", "axis-label")
            .attr("text-anchor", "middle")
            .attr("transform", format_args!("rotate(-90 14 {yc:.1})"))
            .num("x", 14.0)
            .num("y", yc)
            .text(short(y_name, 40));
        svg.close();
    }
}

/// One legend entry: a colour, a marker shape and a label.
#[derive(Debug, Clone, Copy)]
pub struct Key<'a> {
    /// Fill or stroke colour.
    pub color: &'a str,
    /// Drawn as a line (true) or a dot.
    pub line: bool,
    /// The text.
    pub label: &'a str,
}

/// Draws `keys` in a row from (`x`, `y`).
pub fn legend(svg: &mut Svg, x: f64, y: f64, keys: &[Key<'_>]) {
    svg.tag("g").attr("class", "legend").open();
    let mut at = x;
    for k in keys {
        if k.line {
            svg.tag("line")
                .num("x1", at)
                .num("x2", at + 14.0)
                .num("y1", y - 4.0)
                .num("y2", y - 4.0)
                .attr("stroke", k.color)
                .attr("stroke-width", 2)
                .empty();
        } else {
            svg.tag("circle")
                .num("cx", at + 7.0)
                .num("cy", y - 4.0)
                .num("r", 4.0)
                .attr("fill", k.color)
                .empty();
        }
        svg.tag("text").num("x", at + 18.0).num("y", y).text(k.label);
        at += 30.0 + 6.5 * k.label.chars().count() as f64;
    }
    svg.close();
}

/// The colour of a trial state (the same in every chart).
pub fn state_color(state: TrialState) -> &'static str {
    match state {
        TrialState::Complete => "#1f77b4",
        TrialState::Pruned => "#ff7f0e",
        TrialState::Fail => "#d62728",
        TrialState::Running => "#2ca02c",
        _ => "#7f7f7f",
    }
}

/// A colour on a perceptually ordered ramp (viridis) at `u` in `0..=1`.
pub fn ramp(u: f64) -> String {
    const STOPS: [(f64, f64, f64); 5] = [
        (68.0, 1.0, 84.0),
        (59.0, 82.0, 139.0),
        (33.0, 145.0, 140.0),
        (94.0, 201.0, 98.0),
        (253.0, 231.0, 37.0),
    ];
    let u = if u.is_finite() { u.clamp(0.0, 1.0) } else { 0.0 } * 4.0;
    let i = (u.floor() as usize).min(3);
    let f = u - i as f64;
    let (a, b) = (STOPS[i], STOPS[i + 1]);
    let mix = |x: f64, y: f64| (x + (y - x) * f).round() as u8;
    format!("#{:02x}{:02x}{:02x}", mix(a.0, b.0), mix(a.1, b.1), mix(a.2, b.2))
}

/// `s` cut to `n` characters, with an ellipsis when cut.
pub fn short(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_owned()
    } else {
        s.chars().take(n.saturating_sub(1)).chain(std::iter::once('…')).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ramp_ends_and_clamps() {
        assert_eq!(ramp(0.0), "#440154");
        assert_eq!(ramp(1.0), "#fde725");
        assert_eq!(ramp(7.0), "#fde725");
        assert_eq!(ramp(f64::NAN), "#440154");
        assert_eq!(short("abcdef", 4), "abc…");
    }
}
