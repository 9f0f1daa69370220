//! Geometry for small inline SVG charts: dated values scaled into a box. Templates draw the shapes; nothing
//! here writes markup.

use chrono::NaiveDate;

/// A point placed in the chart, with its own text for a tooltip and screen readers.
#[derive(Clone, Debug)]
pub struct Point {
    pub x: i64,
    pub y: i64,
    pub text: String,
}

/// A horizontal reference line (baseline, target) at a value.
#[derive(Clone, Debug)]
pub struct Rule {
    pub y: i64,
    pub label: String,
}

/// A line chart of dated values: the polyline, its points, reference lines and axis labels.
#[derive(Clone, Debug, Default)]
pub struct LineChart {
    pub width: i64,
    pub height: i64,
    /// `x,y x,y ...` for a `<polyline points>`.
    pub polyline: String,
    pub points: Vec<Point>,
    pub rules: Vec<Rule>,
    pub first_date: String,
    pub last_date: String,
    pub min_label: String,
    pub max_label: String,
}

/// Space left of the plot for value labels, and below it for dates.
const LEFT: i64 = 64;
const BOTTOM: i64 = 20;
const TOP: i64 = 8;

/// Scales `values` (dated thousandths, oldest first) and the `rules` (label, value) into a `width` x
/// `height` box; `show` writes a value for labels.
pub fn line(
    values: &[(NaiveDate, i64)],
    rules: &[(&str, i64)],
    width: i64,
    height: i64,
    show: impl Fn(i64) -> String,
) -> LineChart {
    let mut chart = LineChart { width, height, ..Default::default() };
    let (Some(first), Some(last)) = (values.first(), values.last()) else { return chart };
    let all = values.iter().map(|v| v.1).chain(rules.iter().map(|r| r.1));
    let (min, max) = all.fold((i64::MAX, i64::MIN), |(lo, hi), v| (lo.min(v), hi.max(v)));
    let span_days = (last.0 - first.0).num_days().max(1);
    let span_value = (max - min).max(1) as i128;
    let plot_w = (width - LEFT - 8).max(1);
    let plot_h = (height - TOP - BOTTOM).max(1);
    let x = |d: NaiveDate| LEFT + ((d - first.0).num_days() * plot_w) / span_days;
    let y = |v: i64| TOP + plot_h - (((v - min) as i128 * plot_h as i128) / span_value) as i64;
    chart.points =
        values.iter().map(|(d, v)| Point { x: x(*d), y: y(*v), text: format!("{d}: {}", show(*v)) }).collect();
    chart.polyline = chart.points.iter().map(|p| format!("{},{}", p.x, p.y)).collect::<Vec<_>>().join(" ");
    chart.rules = rules.iter().map(|(label, v)| Rule { y: y(*v), label: format!("{label} {}", show(*v)) }).collect();
    chart.first_date = crate::locale::Locale::current().date(first.0);
    chart.last_date = crate::locale::Locale::current().date(last.0);
    chart.min_label = show(min);
    chart.max_label = show(max);
    chart
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scales_dates_and_values_into_the_box() {
        let d = |s: &str| NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap();
        let c = line(&[(d("2025-01-01"), 0), (d("2025-01-11"), 10_000)], &[("target", 20_000)], 200, 100, |v| {
            v.to_string()
        });
        assert_eq!(c.points[0].x, LEFT);
        assert_eq!(c.points[1].x, 200 - 8);
        assert_eq!(c.points[0].y, 100 - BOTTOM, "the lowest value sits on the bottom edge");
        assert_eq!(c.rules[0].y, TOP, "the target is the highest value here");
        assert_eq!(c.polyline, format!("{},{} {},{}", LEFT, 80, 192, 44));
        assert!(line(&[], &[], 10, 10, |v| v.to_string()).points.is_empty());
    }
}
