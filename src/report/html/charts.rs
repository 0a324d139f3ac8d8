//! The figures and charts of `report.html`: key figure tiles, the four time charts (clipped
//! to the seconds that ran, by `report::charts`), the latency spectrum with its table (left
//! out when nothing was sent) and the confusion heat map.

use std::io;

use super::super::charts::{self, Chart, Swatch};
use super::super::markdown::agrees;
use super::super::RunReport;
use super::{breakable, esc, ms, percent};
use crate::domain::FinalState;

pub(super) fn figures(h: &mut String, r: &RunReport) {
    let l = &r.load;
    let checks = &r.verification.checks;
    let passed = checks.iter().filter(|c| c.passed).count();
    let tiles = [
        (format!("{:.1}/s", l.target_rate), "target rate"),
        (format!("{:.1}/s", l.achieved_rate), "achieved rate"),
        (format!("{} of {}", l.sent, l.planned), "sent of planned"),
        (l.shed.to_string(), "shed"),
        (l.errors.to_string(), "no answer"),
        (
            percent(r.outcomes.success_rate_eligible),
            "success (could succeed)",
        ),
        (percent(r.outcomes.success_rate), "success (all sent)"),
        (format!("{} ms", ms(r.latency_ms.p50)), "p50 latency"),
        (format!("{} ms", ms(r.latency_ms.p99)), "p99 latency"),
        (
            format!("{passed} of {}", checks.len()),
            "verification checks passed",
        ),
    ];
    h.push_str("<section id=\"figures\">\n<h2>Key figures</h2>\n<div class=\"tiles\">\n");
    for (value, label) in tiles {
        h.push_str(&format!(
            "<div class=\"tile\"><b>{value}</b><span>{label}</span></div>\n"
        ));
    }
    h.push_str("</div>\n</section>\n");
}

/// Rate, success, latency and in-flight over time; a note under the latency chart when
/// fail-fast answers pull it down.
pub(super) fn time_charts(h: &mut String, r: &RunReport) -> io::Result<()> {
    chart_section(
        h,
        "rate",
        "Rate: target vs achieved",
        "Checkouts per second by intended send time; shed checkouts hit the in-flight cap.",
        charts::rate(r)?,
        "",
    );
    if let Some(chart) = charts::channels(r)? {
        chart_section(
            h,
            "channels",
            "Checkouts by payment channel",
            "Checkouts per second by intended send time, stacked by the channel of their last \
             charge request (routing order from the bottom).",
            chart,
            "",
        );
    }
    chart_section(
        h,
        "success",
        "Success rate over time",
        "Checkouts told paid over those sent in the second that the card did not decline.",
        charts::success(r)?,
        "",
    );
    let fast = super::fail_fast_orders(r);
    let after = if fast > 0 {
        format!(
            "<p class=\"warn\">{fast} orders failed fast (no charge request reached the \
             provider): where the success rate drops and latency drops with it, the merchant \
             is refusing quickly, not answering faster.</p>\n"
        )
    } else {
        String::new()
    };
    chart_section(
        h,
        "latency",
        "Latency over time",
        "Checkout latency from the intended send time, by the second it was due.",
        charts::latency(r)?,
        &after,
    );
    chart_section(
        h,
        "in-flight",
        "In flight",
        "Checkouts sent but not yet answered at the end of each second.",
        charts::in_flight(r)?,
        "",
    );
    Ok(())
}

/// A titled chart with its legend; `after` (HTML) closes the section.
/// A titled chart with its legend; `after` (HTML) closes the section.
fn chart_section(h: &mut String, id: &str, title: &str, note: &str, chart: Chart, after: &str) {
    h.push_str(&format!(
        "<section id=\"{id}\">\n<h2>{title}</h2>\n<p class=\"note\">{note}</p>\n<figure>\n"
    ));
    h.push_str(&chart.svg);
    h.push_str("\n<figcaption class=\"legend\">");
    for item in &chart.legend {
        let class = match item.swatch {
            Swatch::Line => "line",
            Swatch::Wide => "wide",
            Swatch::Band => "band",
        };
        let c = hex(item.colour);
        h.push_str(&format!(
            "<span><i class=\"{class}\" style=\"border-color:{c};background:{c}\"></i>{}</span>",
            esc(&item.label)
        ));
    }
    h.push_str("</figcaption>\n</figure>\n");
    h.push_str(after);
    h.push_str("</section>\n");
}

pub(super) fn spectrum_section(h: &mut String, r: &RunReport) -> io::Result<()> {
    if r.latency_spectrum_ms.is_empty() {
        return Ok(()); // nothing was sent: no latency to spread
    }
    let mut table = String::from("<table>\n<thead><tr><th>outcome</th><th>p50</th><th>p90</th><th>p99</th><th>p99.9</th><th>max</th></tr></thead>\n<tbody>\n");
    let all = std::iter::once(("all", &r.latency_ms)).chain(r.latency_ms_by_outcome.iter());
    for (name, p) in all {
        table.push_str(&format!(
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>\n",
            esc(name),
            ms(p.p50),
            ms(p.p90),
            ms(p.p99),
            ms(p.p999),
            ms(p.max)
        ));
    }
    table.push_str(
        "</tbody>\n</table>\n<p class=\"key\">milliseconds, from the intended send time</p>\n",
    );
    // One line needs no legend; the table names the figures.
    let chart = Chart {
        legend: Vec::new(),
        ..charts::spectrum(r)?
    };
    chart_section(
        h,
        "spectrum",
        "Latency percentile spectrum",
        "Checkout latency at each percentile, on a log scale of 1 / (1 − percentile).",
        chart,
        &table,
    );
    Ok(())
}

/// Rows: provider truth; columns: the merchant's final state. Cell colour deepens with the
/// count; green where the state agrees with the truth, red where it contradicts it.
pub(super) fn confusion_section(h: &mut String, r: &RunReport) {
    let c = &r.outcomes.confusion;
    let max = c
        .iter()
        .flat_map(|(_, row)| row.iter().map(|(_, n)| *n))
        .max()
        .unwrap_or(0)
        .max(1);
    h.push_str("<section id=\"confusion\">\n<h2>Confusion matrix</h2>\n");
    h.push_str("<p class=\"note\">Provider truth (rows) against the merchant's final order state (columns), in orders. A correct merchant keeps every order in a green cell.</p>\n");
    h.push_str("<table class=\"heat\">\n<thead><tr><th class=\"corner\">truth ↓ final →</th>");
    for label in FinalState::all().map(FinalState::as_str) {
        let short = label.strip_prefix("failed_").unwrap_or(label);
        h.push_str(&format!("<th>{}</th>", breakable(short)));
    }
    h.push_str("<th>total</th></tr></thead>\n<tbody>\n");
    for (truth, row) in c.iter() {
        h.push_str(&format!("<tr><th>{}</th>", breakable(truth)));
        let mut total = 0;
        for label in FinalState::all().map(FinalState::as_str) {
            let n = row.get(label).copied().unwrap_or(0);
            total += n;
            if n == 0 {
                h.push_str("<td>·</td>");
                continue;
            }
            let (rgb, title) = if agrees(truth, label) {
                ("0,158,115", "agrees with the provider")
            } else {
                ("213,94,0", "contradicts the provider")
            };
            // Square root: a handful of wrong orders must still show beside hundreds of right ones.
            let alpha = 0.15 + 0.75 * (n as f64 / max as f64).sqrt();
            let ink = if alpha > 0.6 { "#fff" } else { "#1d1d1f" };
            h.push_str(&format!(
                "<td style=\"background:rgba({rgb},{alpha:.2});color:{ink}\" title=\"{title}\">{n}</td>"
            ));
        }
        h.push_str(&format!("<td>{total}</td></tr>\n"));
    }
    h.push_str("</tbody>\n</table>\n");
    h.push_str("<p class=\"key\">Shade by count:<span class=\"chip\" style=\"background:rgba(0,158,115,0.7)\"></span>agrees with the provider<span class=\"chip\" style=\"background:rgba(213,94,0,0.7)\"></span>contradicts it</p>\n</section>\n");
}

fn hex(c: plotters::style::RGBColor) -> String {
    format!("#{:02x}{:02x}{:02x}", c.0, c.1, c.2)
}
