//! The report's charts as geometry: where each bar, area, line and point
//! of an inline SVG goes, in the SVG's own coordinates. The templates
//! draw them (`macros.html`), so a chart is data, never markup built
//! here; every coordinate is a whole unit of the view box so that the same
//! inputs give the same bytes.

use serde::Serialize;

/// The width of every chart's view box; it scales to its container.
const WIDTH: i32 = 640;
/// Space left of the plot for the y axis's labels.
const LEFT: i32 = 44;
/// Space right of the plot.
const RIGHT: i32 = 12;
/// Space above the plot.
const TOP: i32 = 12;
/// Space below the plot for the x axis's labels.
const BOTTOM: i32 = 24;

/// A coordinate rounded to a whole unit of the view box (1/640 of the
/// chart's width: finer than a screen shows), as drawn.
fn px(x: f64) -> i32 {
    x.round() as i32
}

/// A label on an axis at a coordinate.
#[derive(Debug, Clone, Serialize)]
pub struct Tick {
    /// Where (x for the x axis, y for the y axis).
    pub at: i32,
    /// What it says.
    pub label: String,
    /// How the label is anchored: `start`, `middle` or `end` (so the
    /// first and last labels stay inside the chart).
    pub anchor: &'static str,
}

/// A filled polygon or a line, with the band (or series) class that colours it.
#[derive(Debug, Clone, Serialize)]
pub struct Shape {
    /// CSS class (`b0`… for bands, `s` for a series).
    pub class: String,
    /// SVG points (`x,y x,y …`) of a polygon or polyline.
    pub points: String,
    /// Tooltip and accessible name.
    pub title: String,
}

/// A rectangle: a bar of a histogram or a night of a band strip.
#[derive(Debug, Clone, Serialize)]
pub struct Bar {
    /// Left.
    pub x: i32,
    /// Top.
    pub y: i32,
    /// Width.
    pub w: i32,
    /// Height.
    pub h: i32,
    /// CSS class (`b0`… for bands).
    pub class: String,
    /// Tooltip and accessible name.
    pub title: String,
    /// A number written above the bar, if any.
    pub label: Option<String>,
}

/// A point of a line: one night.
#[derive(Debug, Clone, Serialize)]
pub struct Mark {
    /// Centre x.
    pub x: i32,
    /// Centre y.
    pub y: i32,
    /// CSS class (`b0`… for the night's band, `none` without health).
    pub class: String,
    /// Tooltip and accessible name.
    pub title: String,
}

/// One chart: a plot area with axes and any of areas, lines, bars and points.
#[derive(Debug, Clone, Serialize, Default)]
pub struct Chart {
    /// What the chart shows, in words (its accessible name).
    pub label: String,
    /// View box width.
    pub width: i32,
    /// View box height.
    pub height: i32,
    /// The plot's left edge.
    pub left: i32,
    /// The plot's right edge.
    pub right: i32,
    /// The plot's top edge.
    pub top: i32,
    /// The plot's bottom edge.
    pub bottom: i32,
    /// Labels of the y axis, with grid lines.
    pub y_ticks: Vec<Tick>,
    /// Labels of the x axis.
    pub x_ticks: Vec<Tick>,
    /// Background stripes (a band's range of health).
    pub stripes: Vec<Bar>,
    /// Filled areas.
    pub areas: Vec<Shape>,
    /// Lines.
    pub lines: Vec<Shape>,
    /// Bars.
    pub bars: Vec<Bar>,
    /// Points.
    pub points: Vec<Mark>,
}

impl Chart {
    /// An empty chart `height` high with room for axes.
    fn new(label: String, height: i32) -> Chart {
        Chart {
            label,
            width: WIDTH,
            height,
            left: LEFT,
            right: WIDTH - RIGHT,
            top: TOP,
            bottom: height - BOTTOM,
            ..Chart::default()
        }
    }

    /// The y coordinate of `value` on a scale from 0 to `max`.
    fn y(&self, value: f64, max: f64) -> i32 {
        let share = if max > 0.0 { value / max } else { 0.0 };
        let span = f64::from(self.bottom - self.top);
        px(f64::from(self.bottom) - share.clamp(0.0, 1.0) * span)
    }

    /// The x coordinate of the `i`-th of `n` evenly spaced points.
    fn x(&self, i: usize, n: usize) -> i32 {
        let (left, right) = (f64::from(self.left), f64::from(self.right));
        if n <= 1 {
            return px((left + right) / 2.0);
        }
        px(left + (right - left) * i as f64 / (n - 1) as f64)
    }

    /// Y labels and grid lines at `steps` even divisions of 0..`max`.
    fn y_axis(&mut self, max: f64, steps: usize, label: impl Fn(f64) -> String) {
        for i in 0..=steps {
            let value = max * i as f64 / steps as f64;
            let at = self.y(value, max);
            self.y_ticks.push(Tick {
                at,
                label: label(value),
                anchor: "end",
            });
        }
    }

    /// X labels for `n` evenly spaced nights: the first, the last and a
    /// few between.
    fn x_axis(&mut self, dates: &[String]) {
        let n = dates.len();
        let wanted = 6usize.min(n);
        let mut chosen: Vec<usize> = (0..wanted)
            .map(|k| match wanted {
                1 => 0,
                _ => k * (n - 1) / (wanted - 1),
            })
            .collect();
        chosen.dedup();
        for i in chosen {
            let anchor = match i {
                _ if n == 1 => "middle",
                0 => "start",
                i if i + 1 == n => "end",
                _ => "middle",
            };
            self.x_ticks.push(Tick {
                at: self.x(i, n),
                label: dates[i].clone(),
                anchor,
            });
        }
    }
}

/// A band as the charts need it: its CSS class, name and range of health.
#[derive(Debug, Clone)]
pub struct BandStyle {
    /// `b0`, `b1`… lowest first.
    pub class: String,
    /// Its name.
    pub name: String,
    /// Where it starts and ends on the health scale, when the pipeline says.
    pub range: Option<(f64, f64)>,
}

/// One night of an entity's history as the chart draws it.
#[derive(Debug, Clone)]
pub struct HistoryNight {
    /// The night.
    pub date: String,
    /// Health that night.
    pub health: Option<f64>,
    /// Its formatted health.
    pub health_text: String,
    /// Its band, if any.
    pub band: Option<usize>,
}

/// An entity's health over the nights it was scored: band stripes behind,
/// a line through the nights with health, and one point per night
/// (coloured by its band; on the axis, hollow, without health), plus a
/// strip below coloured by its band, one rectangle per run of nights in
/// the same band.
pub fn health_history(nights: &[HistoryNight], bands: &[BandStyle]) -> Chart {
    let mut chart = Chart::new("health by night".to_string(), 220);
    let strip = 12;
    chart.bottom -= strip + 6;
    chart.y_axis(100.0, 4, |v| format!("{v:.0}"));
    for band in bands {
        if let Some((from, to)) = band.range {
            let top = chart.y(to, 100.0);
            let bottom = chart.y(from, 100.0);
            chart.stripes.push(Bar {
                x: chart.left,
                y: top,
                w: chart.right - chart.left,
                h: bottom - top,
                class: band.class.clone(),
                title: format!("{} from {from} to {to}", band.name),
                label: None,
            });
        }
    }
    let n = nights.len();
    let dates: Vec<String> = nights.iter().map(|n| n.date.clone()).collect();
    let mut segment: Vec<String> = Vec::new();
    let mut segments: Vec<Vec<String>> = Vec::new();
    let half = match n {
        0 | 1 => 12.0,
        _ => f64::from(chart.right - chart.left) / (n - 1) as f64 / 2.0,
    };
    let mut run_start = 0;
    for (i, night) in nights.iter().enumerate() {
        let x = chart.x(i, n);
        let band = night.band.and_then(|b| bands.get(b));
        let band_name = band.map_or("no band", |b| b.name.as_str());
        let class = band.map_or("none".to_string(), |b| b.class.clone());
        match night.health {
            Some(health) => {
                let y = chart.y(health, 100.0);
                segment.push(format!("{x},{y}"));
                chart.points.push(Mark {
                    x,
                    y,
                    class: class.clone(),
                    title: format!("{}: health {} ({band_name})", night.date, night.health_text),
                });
            }
            None => {
                if !segment.is_empty() {
                    segments.push(std::mem::take(&mut segment));
                }
                chart.points.push(Mark {
                    x,
                    y: chart.bottom,
                    class: "none".to_string(),
                    title: format!("{}: no health", night.date),
                });
            }
        }
        let run_ends = nights.get(i + 1).is_none_or(|next| next.band != night.band);
        if run_ends {
            let from = px(f64::from(chart.x(run_start, n)) - half).max(chart.left - 12);
            let to = px(f64::from(x) + half).min(chart.right + 12);
            let count = i + 1 - run_start;
            chart.bars.push(Bar {
                x: from,
                y: chart.bottom + 6,
                w: (to - from).max(1),
                h: strip,
                class,
                title: format!(
                    "{band_name} from {} to {} ({count} night{})",
                    nights[run_start].date,
                    night.date,
                    if count == 1 { "" } else { "s" }
                ),
                label: None,
            });
            run_start = i + 1;
        }
    }
    if !segment.is_empty() {
        segments.push(segment);
    }
    for points in segments {
        chart.lines.push(Shape {
            class: "s".to_string(),
            points: points.join(" "),
            title: "health".to_string(),
        });
    }
    chart.x_axis(&dates);
    chart
}

/// The count of entities per band over the nights, stacked (the lowest
/// band at the bottom): areas with two nights or more, bars with one.
pub fn bands_over_time(dates: &[String], counts: &[Vec<usize>], bands: &[BandStyle]) -> Chart {
    let mut chart = Chart::new("accounts per band by night".to_string(), 240);
    let totals: Vec<usize> = counts.iter().map(|c| c.iter().sum()).collect();
    let max = nice_max(totals.iter().copied().max().unwrap_or(0) as f64);
    chart.y_axis(max, 4, |v| crate::base::display::with_unit(v, None));
    let n = dates.len();
    if n == 0 {
        return chart;
    }
    let mut below = vec![0usize; n];
    let mut series: Vec<(String, String, Vec<usize>)> = bands
        .iter()
        .enumerate()
        .map(|(b, band)| {
            let values = counts
                .iter()
                .map(|c| c.get(b).copied().unwrap_or(0))
                .collect();
            (band.class.clone(), band.name.clone(), values)
        })
        .collect();
    let without: Vec<usize> = counts
        .iter()
        .map(|c| c.get(bands.len()).copied().unwrap_or(0))
        .collect();
    if without.iter().any(|&c| c > 0) {
        series.push(("none".to_string(), "no band".to_string(), without));
    }
    for (class, name, values) in series {
        let top: Vec<usize> = below.iter().zip(&values).map(|(b, v)| b + v).collect();
        if n == 1 {
            let y = chart.y(top[0] as f64, max);
            let y0 = chart.y(below[0] as f64, max);
            chart.bars.push(Bar {
                x: chart.x(0, 1) - 40,
                y,
                w: 80,
                h: y0 - y,
                class,
                title: format!("{}: {} {name}", dates[0], values[0]),
                label: None,
            });
        } else {
            let mut points: Vec<String> = (0..n)
                .map(|i| format!("{},{}", chart.x(i, n), chart.y(top[i] as f64, max)))
                .collect();
            points.extend(
                (0..n)
                    .rev()
                    .map(|i| format!("{},{}", chart.x(i, n), chart.y(below[i] as f64, max))),
            );
            let last = values.last().copied().unwrap_or(0);
            chart.areas.push(Shape {
                class,
                points: points.join(" "),
                title: format!("{name}: {last} on {}", dates[n - 1]),
            });
        }
        below = top;
    }
    chart.x_axis(dates);
    chart
}

/// The mean health of the scored entities over the nights: a line with
/// one point per night.
pub fn mean_health_over_time(dates: &[String], means: &[Option<f64>]) -> Chart {
    let mut chart = Chart::new("mean health by night".to_string(), 200);
    chart.y_axis(100.0, 4, |v| format!("{v:.0}"));
    let n = dates.len();
    let mut points = Vec::new();
    for (i, mean) in means.iter().enumerate() {
        let Some(mean) = mean else { continue };
        let (x, y) = (chart.x(i, n), chart.y(*mean, 100.0));
        points.push(format!("{x},{y}"));
        chart.points.push(Mark {
            x,
            y,
            class: "s".to_string(),
            title: format!("{}: mean health {}", dates[i], one_decimal(*mean)),
        });
    }
    if points.len() > 1 {
        chart.lines.push(Shape {
            class: "s".to_string(),
            points: points.join(" "),
            title: "mean health".to_string(),
        });
    }
    chart.x_axis(dates);
    chart
}

/// Health rounded down to one decimal, so that it never reads as the
/// next band up (39.96 in a band that ends at 40 reads 39.9, not 40.0).
pub fn one_decimal(x: f64) -> String {
    tenths((x * 10.0).floor(), x)
}

/// `x` rounded half away from zero to one decimal, as
/// [`format_number`](crate::base::display::format_number)`(x, 1)` writes it.
pub fn rounded_one_decimal(x: f64) -> String {
    tenths((x * 10.0).round(), x)
}

/// A whole number of tenths written as a decimal (`-473` → `-47.3`), as
/// `format_number` writes it: no sign on zero, thousands separators
/// beyond 999 (left to `format_number` itself). Far cheaper than
/// formatting the float, which every page does hundreds of times.
fn tenths(tenths: f64, x: f64) -> String {
    if !tenths.is_finite() || tenths.abs() >= 9_999.0 {
        return crate::base::display::format_number(tenths / 10.0, 1)
            .filter(|_| x.is_finite())
            .unwrap_or_else(|| "—".to_string());
    }
    let t = tenths as i64;
    let sign = if t < 0 { "-" } else { "" };
    format!("{sign}{}.{}", t.abs() / 10, t.abs() % 10)
}

/// Health in ten bins of ten points (the last includes 100), each bar
/// coloured by the band its lower edge falls in, its count above it.
pub fn health_histogram(healths: &[f64], bands: &[BandStyle]) -> Chart {
    let mut chart = Chart::new("accounts by health".to_string(), 220);
    let mut bins = [0usize; 10];
    for h in healths {
        let bin = (h / 10.0).floor().clamp(0.0, 9.0) as usize;
        bins[bin] += 1;
    }
    let max = nice_max(bins.iter().copied().max().unwrap_or(0) as f64);
    chart.y_axis(max, 4, |v| crate::base::display::with_unit(v, None));
    let slot = f64::from(chart.right - chart.left) / 10.0;
    let left = f64::from(chart.left);
    for (i, count) in bins.iter().enumerate() {
        let from = i as f64 * 10.0;
        let band = bands
            .iter()
            .find(|b| b.range.is_some_and(|(lo, hi)| from >= lo && from < hi))
            .or_else(|| {
                bands
                    .iter()
                    .rev()
                    .find(|b| b.range.is_some_and(|(lo, _)| from >= lo))
            });
        let y = chart.y(*count as f64, max);
        let to = if i == 9 {
            "100]".to_string()
        } else {
            format!("{})", from + 10.0)
        };
        chart.bars.push(Bar {
            x: px(left + slot * i as f64 + 2.0),
            y,
            w: px(slot - 4.0),
            h: chart.bottom - y,
            class: band.map_or("s".to_string(), |b| b.class.clone()),
            title: format!("health [{from}, {to}: {count}"),
            label: Some(count.to_string()),
        });
        chart.x_ticks.push(Tick {
            at: px(left + slot * i as f64),
            label: format!("{from}"),
            anchor: "middle",
        });
    }
    chart.x_ticks.push(Tick {
        at: chart.right,
        label: "100".to_string(),
        anchor: "end",
    });
    chart
}

/// A round number at least `max` for the top of a count axis.
fn nice_max(max: f64) -> f64 {
    if max <= 4.0 {
        return 4.0;
    }
    let magnitude = 10f64.powi(max.log10().floor() as i32);
    [1.0, 1.2, 1.6, 2.0, 2.4, 3.0, 4.0, 5.0, 6.0, 8.0, 10.0]
        .iter()
        .map(|m| m * magnitude)
        .find(|top| *top >= max)
        .unwrap_or(max)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bands() -> Vec<BandStyle> {
        [
            ("red", 0.0, 40.0),
            ("yellow", 40.0, 70.0),
            ("green", 70.0, 100.0),
        ]
        .iter()
        .enumerate()
        .map(|(i, (name, from, to))| BandStyle {
            class: format!("b{i}"),
            name: name.to_string(),
            range: Some((*from, *to)),
        })
        .collect()
    }

    #[test]
    fn a_history_has_one_point_and_one_strip_cell_per_night() {
        let nights: Vec<HistoryNight> = [Some(30.0), None, Some(80.0)]
            .iter()
            .enumerate()
            .map(|(i, h)| HistoryNight {
                date: format!("2026-01-0{}", i + 1),
                health: *h,
                health_text: h.map(one_decimal).unwrap_or_default(),
                band: h.map(|h| if h < 40.0 { 0 } else { 2 }),
            })
            .collect();
        let chart = health_history(&nights, &bands());
        assert_eq!(chart.points.len(), 3);
        assert_eq!(chart.bars.len(), 3, "a strip cell per run of one band");
        assert_eq!(
            chart.lines.len(),
            2,
            "the line breaks where health is missing"
        );
        assert_eq!(chart.points[1].class, "none");
        assert_eq!(chart.stripes.len(), 3);
    }

    #[test]
    fn nights_in_one_band_share_one_strip_cell() {
        let nights: Vec<HistoryNight> = (0..5)
            .map(|i| HistoryNight {
                date: format!("2026-01-0{}", i + 1),
                health: Some(50.0),
                health_text: "50.0".to_string(),
                band: Some(1),
            })
            .collect();
        let chart = health_history(&nights, &bands());
        assert_eq!(chart.points.len(), 5);
        assert_eq!(chart.bars.len(), 1);
        assert!(
            chart.bars[0].title.contains("5 nights"),
            "{}",
            chart.bars[0].title
        );
    }

    #[test]
    fn histogram_bins_cover_0_to_100() {
        let chart = health_histogram(&[0.0, 9.99, 10.0, 100.0, 39.9], &bands());
        let counts: Vec<_> = chart
            .bars
            .iter()
            .map(|b| b.label.clone().unwrap_or_default())
            .collect();
        assert_eq!(counts, ["2", "1", "0", "1", "0", "0", "0", "0", "0", "1"]);
        assert_eq!(chart.bars[3].class, "b0");
        assert_eq!(chart.bars[4].class, "b1");
        assert_eq!(chart.bars[9].class, "b2");
    }

    #[test]
    fn tenths_read_as_format_number_writes_them() {
        for x in [
            0.0, -0.0, 0.04, -0.04, -0.05, 0.05, 12.25, -47.22, 99.99, 999.95, 1234.56, -98765.4,
        ] {
            let expected = crate::base::display::format_number(x, 1).expect("finite");
            assert_eq!(rounded_one_decimal(x), expected, "{x}");
        }
        assert_eq!(one_decimal(f64::NAN), "—");
    }

    #[test]
    fn health_never_rounds_up_into_the_next_band() {
        assert_eq!(one_decimal(39.96), "39.9");
        assert_eq!(one_decimal(40.0), "40.0");
        assert_eq!(one_decimal(71.16077), "71.1");
    }

    #[test]
    fn count_axes_end_on_round_numbers() {
        assert_eq!(nice_max(3.0), 4.0);
        assert!(nice_max(359.0) >= 359.0);
        assert!(nice_max(20_000.0) >= 20_000.0);
    }
}
