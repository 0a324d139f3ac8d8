//! The charts of `report.html`, drawn with plotters' SVG backend into strings the HTML writer
//! inlines: rate, success rate, latency and in-flight over time (fault windows shaded) and the
//! latency percentile spectrum. Legends are returned as data, for the page to lay out. Time
//! charts span the seconds that ran ([`ran`]). The payment channels chart is [`stacked`].

mod stacked;
pub use stacked::channels;

use super::alarm::render::{marks, Mark};
use std::error::Error;
use std::io;

use plotters::coord::types::RangedCoordf64;
use plotters::coord::Shift;
use plotters::prelude::*;

use super::timeline::{SpectrumPoint, TimelineRow, WindowSpan};
use super::RunReport;

/// Chart size in CSS pixels; the page scales the SVG to its column.
pub const WIDTH: u32 = 1000;
pub const HEIGHT: u32 = 280;

/// Series colours (a colour-blind-safe palette: Okabe–Ito), also used by the HTML legend.
pub const BLUE: RGBColor = RGBColor(0, 114, 178);
pub const ORANGE: RGBColor = RGBColor(230, 159, 0);
pub const GREEN: RGBColor = RGBColor(0, 158, 115);
pub const RED: RGBColor = RGBColor(213, 94, 0);
pub const PURPLE: RGBColor = RGBColor(204, 121, 167);
pub const GREY: RGBColor = RGBColor(110, 110, 110);
/// Fault windows: a translucent band behind the series.
pub const WINDOW: RGBColor = RGBColor(240, 80, 60);
const WINDOW_ALPHA: f64 = 0.13;
const WIDE_ALPHA: f64 = 0.35;
const GRID: RGBColor = RGBColor(226, 226, 226);
const FONT: &str = "sans-serif";
/// Font sizes as plotters takes them (its SVG text comes out at size / 1.24 px).
const TICK_SIZE: f64 = 16.0;
const DESC_SIZE: f64 = 17.0;
const NOTE_SIZE: f64 = 15.0;

/// How a legend entry is drawn.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Swatch {
    Line,
    /// A wide translucent line (a plan that the measured line runs through).
    Wide,
    Band,
}

#[derive(Clone, Debug, PartialEq)]
pub struct LegendItem {
    pub label: String,
    pub colour: RGBColor,
    pub swatch: Swatch,
}

/// One drawn chart.
#[derive(Clone, Debug)]
pub struct Chart {
    pub svg: String,
    pub legend: Vec<LegendItem>,
}

/// One series of a time chart; `None` points leave a gap.
struct Line {
    label: &'static str,
    colour: RGBColor,
    wide: bool,
    points: Vec<Option<(f64, f64)>>,
}

impl Line {
    fn new(label: &'static str, colour: RGBColor, points: Vec<Option<(f64, f64)>>) -> Line {
        Line {
            label,
            colour,
            wide: false,
            points,
        }
    }
}

/// A chart over the load's seconds.
struct TimeChart<'a> {
    y_desc: &'a str,
    y_max: f64,
    y_label: &'a dyn Fn(&f64) -> String,
    lines: Vec<Line>,
}

/// Target and achieved checkout rate, and shed checkouts, per second.
pub fn rate(r: &RunReport) -> io::Result<Chart> {
    let t = ran(r);
    let y_max = t
        .iter()
        .map(|row| row.target_rate.max(row.achieved_rate).max(row.shed as f64))
        .fold(0.0, f64::max);
    let mut target = Line::new("target", GREY, mid(t, |row| Some(row.target_rate)));
    // A wide pale band under the achieved line: both show where they coincide.
    target.wide = true;
    time_chart(
        r,
        TimeChart {
            y_desc: "checkouts / s",
            y_max: nice_max(y_max),
            y_label: &|v| format!("{v:.0}"),
            lines: vec![
                target,
                Line::new(
                    "achieved (sent)",
                    BLUE,
                    mid(t, |row| Some(row.achieved_rate)),
                ),
                Line::new("shed", RED, mid(t, |row| Some(row.shed as f64))),
            ],
        },
    )
}

/// Success rate per second (gaps where nothing that could succeed was sent).
pub fn success(r: &RunReport) -> io::Result<Chart> {
    time_chart(
        r,
        TimeChart {
            y_desc: "success rate",
            y_max: 1.0,
            y_label: &|v| format!("{:.0}%", v * 100.0),
            lines: vec![Line::new(
                "told paid / could succeed",
                GREEN,
                mid(ran(r), |row| row.success_rate),
            )],
        },
    )
}

/// p50 and p99 checkout latency per second.
pub fn latency(r: &RunReport) -> io::Result<Chart> {
    let t = ran(r);
    let y_max = t
        .iter()
        .map(|row| row.p99_ms.max(row.p50_ms))
        .fold(0.0, f64::max);
    // A second with no checkout has no latency, not a latency of 0.
    let sent = |row: &TimelineRow| row.sent > 0;
    time_chart(
        r,
        TimeChart {
            y_desc: "latency (ms)",
            y_max: nice_max(y_max),
            y_label: &|v| format!("{v:.0}"),
            lines: vec![
                Line::new("p50", BLUE, mid(t, |row| sent(row).then_some(row.p50_ms))),
                Line::new("p99", ORANGE, mid(t, |row| sent(row).then_some(row.p99_ms))),
            ],
        },
    )
}

/// Checkouts in flight at the end of each second.
pub fn in_flight(r: &RunReport) -> io::Result<Chart> {
    let t = ran(r);
    let y_max = t.iter().map(|row| row.in_flight as f64).fold(0.0, f64::max);
    let points = t
        .iter()
        .map(|row| Some(((row.second + 1) as f64, row.in_flight as f64)))
        .collect();
    time_chart(
        r,
        TimeChart {
            y_desc: "in flight",
            y_max: nice_max(y_max),
            y_label: &|v| format!("{v:.0}"),
            lines: vec![Line::new("in flight at second end", PURPLE, points)],
        },
    )
}

/// The seconds of the timeline that ran: a capacity run that stopped its load once a step
/// broke, or a run an `abort_on_fail` threshold stopped, leaves the rest of its plan unsent, and its charts end where its load did (the last
/// second anything was sent, shed or in flight) instead of showing a target never offered.
pub fn ran(r: &RunReport) -> &[TimelineRow] {
    let t = &r.timeline;
    if !r.capacity.as_ref().is_some_and(|c| c.stopped_early) && r.run.aborted_by.is_none() {
        return t;
    }
    let last = t
        .iter()
        .rposition(|row| row.sent > 0 || row.shed > 0 || row.in_flight > 0);
    &t[..last.map_or(0, |i| i + 1)]
}

/// Points at the middle of each second.
fn mid(t: &[TimelineRow], y: impl Fn(&TimelineRow) -> Option<f64>) -> Vec<Option<(f64, f64)>> {
    t.iter()
        .map(|row| y(row).map(|v| (row.second as f64 + 0.5, v)))
        .collect()
}

/// A round upper bound a little above `max` (at least 1), so the top line is not on the frame.
fn nice_max(max: f64) -> f64 {
    if !max.is_finite() || max <= 0.0 {
        return 1.0;
    }
    let padded = max * 1.1;
    let step = 10f64.powf(padded.log10().floor());
    let nice = (padded / step).ceil() * step;
    // 1.1 × 9.5 rounds to 20 on a decade step; halves keep the plot from going flat.
    let half = (padded / (step / 2.0)).ceil() * step / 2.0;
    nice.min(half).max(1.0)
}

fn time_chart(r: &RunReport, spec: TimeChart) -> io::Result<Chart> {
    let seconds = ran(r).len();
    let x_max = (seconds as f64).max(1.0);
    let windows = &r.faults.windows;
    let many = seconds > 120;
    let svg = render(|root| {
        let mut chart = ChartBuilder::on(&root)
            .margin_top(12)
            .margin_right(24)
            .x_label_area_size(48)
            .y_label_area_size(72)
            .build_cartesian_2d(0f64..x_max, 0f64..spec.y_max)?;
        chart
            .configure_mesh()
            .light_line_style(TRANSPARENT)
            .bold_line_style(GRID)
            .x_desc("seconds from load start")
            .y_desc(spec.y_desc)
            .x_label_formatter(&|v| format!("{v:.0}"))
            .y_label_formatter(spec.y_label)
            .label_style((FONT, TICK_SIZE))
            .axis_desc_style((FONT, DESC_SIZE))
            .draw()?;
        draw_windows(&mut chart, windows, x_max, spec.y_max)?;
        draw_alarm(&mut chart, r, x_max, spec.y_max)?;
        for line in &spec.lines {
            let style = ShapeStyle {
                color: line.colour.to_rgba(),
                filled: true,
                stroke_width: 2,
            };
            for run in runs(&line.points) {
                if line.wide {
                    let wide = ShapeStyle {
                        color: line.colour.mix(WIDE_ALPHA),
                        filled: false,
                        stroke_width: 8,
                    };
                    chart.draw_series(LineSeries::new(run, wide))?;
                } else if many {
                    chart.draw_series(LineSeries::new(run, style))?;
                } else {
                    chart.draw_series(LineSeries::new(run, style).point_size(2))?;
                }
            }
        }
        Ok(())
    })?;
    let mut legend: Vec<LegendItem> = spec
        .lines
        .iter()
        .map(|l| LegendItem {
            label: l.label.to_string(),
            colour: l.colour,
            swatch: if l.wide { Swatch::Wide } else { Swatch::Line },
        })
        .collect();
    overlay_legend(&mut legend, !windows.is_empty(), r);
    Ok(Chart { svg, legend })
}

/// The legend entries of what is drawn over every time chart: the fault windows (when there
/// are any) and the alarm's marks (when the drill has any).
fn overlay_legend(legend: &mut Vec<LegendItem>, windows: bool, r: &RunReport) {
    if windows {
        legend.push(LegendItem {
            label: "fault window".into(),
            colour: WINDOW,
            swatch: Swatch::Band,
        });
    }
    if r.alarm.as_ref().is_some_and(|a| !marks(a).is_empty()) {
        for (label, colour) in [("alarm expected", RED), ("alert received", PURPLE)] {
            legend.push(LegendItem {
                label: label.into(),
                colour,
                swatch: Swatch::Line,
            });
        }
    }
}

type Plot<'a, 'b> = ChartContext<'a, SVGBackend<'b>, Cartesian2d<RangedCoordf64, RangedCoordf64>>;

/// Shades each fault window and names it at the top of its band.
fn draw_windows(
    chart: &mut Plot,
    windows: &[WindowSpan],
    x_max: f64,
    y_max: f64,
) -> Result<(), Box<dyn Error>> {
    let band = WINDOW.mix(WINDOW_ALPHA).filled();
    for w in windows {
        let (from, to) = (w.start_s.min(x_max), w.end_s.min(x_max));
        if to <= from {
            continue;
        }
        chart.draw_series(std::iter::once(Rectangle::new(
            [(from, 0.0), (to, y_max)],
            band,
        )))?;
        let label = Text::new(
            w.name.clone(),
            (5, 4),
            (FONT, NOTE_SIZE).into_font().color(&RGBColor(150, 40, 30)),
        );
        chart.draw_series(std::iter::once(EmptyElement::at((from, y_max)) + label))?;
    }
    Ok(())
}

/// The alarm drill's events as vertical lines: expected in red, received in purple; a
/// firing drawn solid, a clearing thin.
fn draw_alarm(
    chart: &mut Plot,
    r: &RunReport,
    x_max: f64,
    y_max: f64,
) -> Result<(), Box<dyn Error>> {
    let Some(a) = &r.alarm else {
        return Ok(());
    };
    for (t, m) in marks(a) {
        if t > x_max {
            continue;
        }
        let (colour, width) = match m {
            Mark::ExpectedFire => (RED, 3),
            Mark::ExpectedClear => (RED, 1),
            Mark::ReceivedFire => (PURPLE, 3),
            Mark::ReceivedClear => (PURPLE, 1),
        };
        let style = ShapeStyle {
            color: colour.to_rgba(),
            filled: false,
            stroke_width: width,
        };
        chart.draw_series(LineSeries::new([(t, 0.0), (t, y_max)], style))?;
    }
    Ok(())
}

/// The unbroken stretches of a series with gaps.
fn runs(points: &[Option<(f64, f64)>]) -> Vec<Vec<(f64, f64)>> {
    let mut out: Vec<Vec<(f64, f64)>> = Vec::new();
    let mut open = false;
    for p in points {
        match (p, open) {
            (Some(p), true) => out.last_mut().expect("a run is open").push(*p),
            (Some(p), false) => {
                out.push(vec![*p]);
                open = true;
            }
            (None, _) => open = false,
        }
    }
    out
}

/// Latency at each percentile on HdrHistogram's log axis: x = log10(1 / (1 - q)), so
/// 0 is p0, 1 is p90, 2 is p99, 3 is p99.9 and 4 is p99.99.
pub fn spectrum(r: &RunReport) -> io::Result<Chart> {
    let points: Vec<(f64, f64)> = r
        .latency_spectrum_ms
        .iter()
        .map(|p: &SpectrumPoint| (spectrum_x(p.percentile), p.ms))
        .collect();
    let x_max = points.iter().map(|p| p.0).fold(4.0, f64::max);
    let y_max = nice_max(points.iter().map(|p| p.1).fold(0.0, f64::max));
    let svg = render(|root| {
        let mut chart = ChartBuilder::on(&root)
            .margin_top(12)
            .margin_right(24)
            .x_label_area_size(48)
            .y_label_area_size(72)
            .build_cartesian_2d(0f64..x_max, 0f64..y_max)?;
        chart
            .configure_mesh()
            .light_line_style(TRANSPARENT)
            .bold_line_style(GRID)
            .x_labels(x_max as usize + 1)
            .x_desc("percentile")
            .y_desc("latency (ms)")
            .x_label_formatter(&spectrum_label)
            .y_label_formatter(&|v| format!("{v:.0}"))
            .label_style((FONT, TICK_SIZE))
            .axis_desc_style((FONT, DESC_SIZE))
            .draw()?;
        let style = ShapeStyle {
            color: BLUE.to_rgba(),
            filled: true,
            stroke_width: 2,
        };
        chart.draw_series(LineSeries::new(points.iter().copied(), style).point_size(2))?;
        Ok(())
    })?;
    Ok(Chart {
        svg,
        legend: vec![LegendItem {
            label: "checkout latency".into(),
            colour: BLUE,
            swatch: Swatch::Line,
        }],
    })
}

fn spectrum_x(percentile: f64) -> f64 {
    let rest = (1.0 - percentile / 100.0).max(1e-9);
    -rest.log10()
}

/// `0%`, `90%`, `99%`, `99.9%`, … at whole decades; nothing between them.
fn spectrum_label(x: &f64) -> String {
    let k = x.round();
    if (x - k).abs() > 1e-6 || k < 0.0 {
        return String::new();
    }
    if k == 0.0 {
        return "0%".into();
    }
    let p = 100.0 * (1.0 - 10f64.powf(-k));
    format!("{p:.*}%", (k as usize).saturating_sub(2))
}

/// Draws onto a fresh SVG canvas and returns the SVG text.
fn render(
    draw: impl FnOnce(DrawingArea<SVGBackend, Shift>) -> Result<(), Box<dyn Error>>,
) -> io::Result<String> {
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (WIDTH, HEIGHT)).into_drawing_area();
        let result = root
            .fill(&WHITE)
            .map_err(|e| Box::new(e) as Box<dyn Error>)
            .and_then(|()| draw(root.clone()))
            .and_then(|()| root.present().map_err(|e| Box::new(e) as Box<dyn Error>));
        result.map_err(|e| io::Error::other(format!("drawing a chart: {e}")))?;
    }
    Ok(svg)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runs_split_at_gaps() {
        let p = |x: f64| Some((x, x));
        let r = runs(&[p(0.0), p(1.0), None, None, p(3.0), None, p(5.0), p(6.0)]);
        assert_eq!(r.len(), 3);
        assert_eq!(r[0], [(0.0, 0.0), (1.0, 1.0)]);
        assert_eq!(r[1], [(3.0, 3.0)]);
        assert!(runs(&[None, None]).is_empty());
    }

    #[test]
    fn nice_max_rounds_up_with_headroom() {
        assert_eq!(nice_max(0.0), 1.0);
        assert_eq!(nice_max(f64::NAN), 1.0);
        assert_eq!(nice_max(40.0), 45.0);
        assert_eq!(nice_max(95.0), 150.0);
        assert_eq!(nice_max(0.3), 1.0);
        assert!(nice_max(1234.0) >= 1234.0 * 1.1);
    }

    #[test]
    fn spectrum_axis_names_whole_decades_only() {
        assert_eq!(spectrum_label(&0.0), "0%");
        assert_eq!(spectrum_label(&1.0), "90%");
        assert_eq!(spectrum_label(&2.0), "99%");
        assert_eq!(spectrum_label(&3.0), "99.9%");
        assert_eq!(spectrum_label(&4.0), "99.99%");
        assert_eq!(spectrum_label(&1.5), "");
        assert!((spectrum_x(99.0) - 2.0).abs() < 1e-9);
        assert_eq!(spectrum_x(0.0), 0.0);
    }

    #[test]
    fn a_capacity_run_stopped_early_is_charted_up_to_where_its_load_ended() {
        // Arrange: two more planned seconds that nothing was sent in.
        let mut r = crate::report::tests::sample();
        let mut idle = r.timeline[0].clone();
        (idle.sent, idle.shed, idle.in_flight, idle.target_rate) = (0, 0, 0, 50.0);
        let ran_len = r.timeline.len();
        for s in 0..2 {
            r.timeline.push(TimelineRow {
                second: (ran_len + s) as u64,
                ..idle.clone()
            });
        }
        assert_eq!(ran(&r).len(), ran_len + 2, "not a capacity run: all of it");
        r.capacity = Some(crate::report::CapacityReport {
            slo_p99_ms: 250.0,
            slo_success_rate: 0.99,
            every_s: 1.0,
            settle_s: 0.0,
            max_rate: 100.0,
            steps: Vec::new(),
            knee: None,
            first_broken: None,
            held_at_max: false,
            stopped_early: false,
        });
        assert_eq!(ran(&r).len(), ran_len + 2, "ran to the end of its plan");

        // Act
        r.capacity.as_mut().unwrap().stopped_early = true;

        // Assert: the idle seconds are gone from the charts' x axis.
        assert_eq!(ran(&r).len(), ran_len);
        let svg = rate(&r).unwrap().svg;
        let full = {
            r.capacity = None;
            rate(&r).unwrap().svg
        };
        assert_ne!(svg, full);
    }

    #[test]
    fn charts_render_to_svg_without_a_timeline() {
        let mut r = crate::report::tests::sample();
        r.timeline.clear();
        r.latency_spectrum_ms.clear();
        for chart in [
            rate(&r),
            success(&r),
            latency(&r),
            in_flight(&r),
            spectrum(&r),
        ] {
            let svg = chart.unwrap().svg;
            assert!(svg.starts_with("<svg"), "{svg}");
            assert!(svg.trim_end().ends_with("</svg>"));
        }
    }
}
