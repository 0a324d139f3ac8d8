//! The payment channels chart of `report.html`: checkouts routed per second, stacked by
//! channel in routing order (the primary at the bottom), over the seconds that ran, with the
//! fault windows and alarm events as on the other time charts. Only with several channels.

use std::io;

use plotters::prelude::*;

use super::{
    draw_alarm, draw_windows, nice_max, ran, render, Chart, LegendItem, Swatch, BLUE, DESC_SIZE,
    FONT, GREEN, GREY, GRID, ORANGE, PURPLE, TICK_SIZE,
};
use crate::report::RunReport;

/// One colour per channel in routing order; more channels than colours reuse them (at most
/// 8 providers, so the primary's blue comes back only on the sixth backup).
const COLOURS: [RGBColor; 5] = [BLUE, ORANGE, GREEN, PURPLE, GREY];

/// Checkouts routed per second, one band per channel stacked on the ones before it; `None`
/// for a run with one channel (the rate chart says it all).
pub fn channels(r: &RunReport) -> io::Result<Option<Chart>> {
    let Some(c) = &r.channels else {
        return Ok(None);
    };
    let seconds = ran(r).len();
    let x_max = (seconds as f64).max(1.0);
    // The top of each second's stack.
    let top = (0..seconds)
        .map(|s| {
            c.channels
                .iter()
                .map(|ch| count(&ch.per_second, s))
                .sum::<u64>()
        })
        .max()
        .unwrap_or(0);
    let y_max = nice_max(top as f64);
    let windows = &r.faults.windows;
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
            .x_desc("seconds from load start")
            .y_desc("checkouts routed / s")
            .x_label_formatter(&|v| format!("{v:.0}"))
            .y_label_formatter(&|v| format!("{v:.0}"))
            .label_style((FONT, TICK_SIZE))
            .axis_desc_style((FONT, DESC_SIZE))
            .draw()?;
        draw_windows(&mut chart, windows, x_max, y_max)?;
        let mut base = vec![0u64; seconds];
        for (i, ch) in c.channels.iter().enumerate() {
            let fill = COLOURS[i % COLOURS.len()].mix(0.85).filled();
            let bars = (0..seconds).filter_map(|s| {
                let n = count(&ch.per_second, s);
                let lo = base[s];
                base[s] += n;
                (n > 0).then(|| {
                    Rectangle::new(
                        [(s as f64, lo as f64), ((s + 1) as f64, (lo + n) as f64)],
                        fill,
                    )
                })
            });
            // Collected first: the closure moves the running base along.
            let bars: Vec<_> = bars.collect();
            chart.draw_series(bars)?;
        }
        draw_alarm(&mut chart, r, x_max, y_max)?;
        Ok(())
    })?;
    let mut legend: Vec<LegendItem> = c
        .channels
        .iter()
        .enumerate()
        .map(|(i, ch)| LegendItem {
            label: format!("{} ({})", ch.name, ch.dialect),
            colour: COLOURS[i % COLOURS.len()],
            swatch: Swatch::Band,
        })
        .collect();
    super::overlay_legend(&mut legend, !windows.is_empty(), r);
    Ok(Some(Chart { svg, legend }))
}

fn count(per_second: &[u64], s: usize) -> u64 {
    per_second.get(s).copied().unwrap_or(0)
}
