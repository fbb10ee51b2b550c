//! Parameter importances as horizontal bars, most important on top.

use super::Figure;
use super::frame::short;
use super::svg::Svg;
use crate::report::stats::ObjectiveStats;

/// The importance chart of objective `o`.
pub fn importances(o: &ObjectiveStats) -> Figure {
    let title = format!("Parameter importances: {}", o.name);
    let Some(imp) = &o.importances else {
        return Figure::empty(
            title,
            "Needs at least two COMPLETE trials with a finite value and at least one parameter.",
        );
    };
    let row = 24.0;
    let (left, width) = (190.0, 860.0);
    let h = 20.0 + row * imp.len() as f64;
    let mut svg = Svg::new(width, h, &title);
    let bar_w = width - left - 70.0;
    for (k, (name, v)) in imp.iter().enumerate() {
        let y = 10.0 + row * k as f64;
        svg.tag("g").attr("class", "importance").attr("data-param", name).open();
        svg.tag("text")
            .attr("class", "param-name")
            .attr("text-anchor", "end")
            .num("x", left - 8.0)
            .num("y", y + 15.0)
            .text(short(name, 28));
        svg.tag("rect")
            .num("x", left)
            .num("y", y + 3.0)
            .num("width", (bar_w * v).max(1.0))
            .num("height", row - 6.0)
            .attr("fill", "#1f77b4")
            .titled(format_args!("{name}: {:.4}", v));
        svg.tag("text")
            .attr("class", "tick")
            .num("x", left + (bar_w * v).max(1.0) + 6.0)
            .num("y", y + 15.0)
            .text(format_args!("{:.1} %", v * 100.0));
        svg.close();
    }
    let caption = format!(
        "PED-ANOVA, as Optuna's default `get_param_importances` (target quantile 0.1, whole \
         region): how differently each parameter is distributed among the best 10 % of the \
         COMPLETE trials with a finite {} than among all of them (Pearson divergence of Parzen \
         estimates on a 50-step grid), normalised to sum to 100 %.",
        o.name
    );
    Figure { title, svg: Some(svg.finish()), caption }
}
