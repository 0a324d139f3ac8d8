//! The HTML writer: `report.html`, one self-contained page (inline CSS, inline SVG charts from
//! `report::charts`, no scripts or fonts fetched) that opens offline, laid out for the one who
//! must debug a FAIL: what failed comes first, what does not apply to the run is left out.
//!
//! Sections in a fixed order: the verdict (`verdict`: failed gates and checks, schedule
//! warnings, notes on reading the figures), the discrepancies grouped by check with each
//! order's story (`findings`), key figures, time charts, latency spectrum and confusion heat
//! map (`charts`), then recovery, capacity, faults, webhooks, verification and gates
//! (`tables`); then the digests and the charts' data as a JSON block.
//!
//! Key elements carry stable ids, classes and `data-` attributes (`#verdict`,
//! `#discrepancies`, `.discrepancy[data-check]`, `#failed-checks [data-check]`) for readers
//! and tests of the page.

mod charts;
mod findings;
mod tables;
mod verdict;

use std::io::{self, Write};

use serde::Serialize;

use super::timeline::{SpectrumPoint, TimelineRow, WindowSpan};
use super::{LoadFigures, OrderedMap, RunReport, ScenarioInfo, Verdict};
use crate::metrics::Percentiles;

pub use verdict::fail_fast_orders;

/// The page's style sheet, inlined into `<style>`.
const CSS: &str = include_str!("../report.css");

/// The id of the `<script type="application/json">` block holding the charts' data.
pub const DATA_ID: &str = "report-data";

/// Writes the report as one HTML page.
pub fn write(report: &RunReport, w: &mut impl Write) -> io::Result<()> {
    w.write_all(render(report)?.as_bytes())
}

/// The whole page as a string.
pub fn render(r: &RunReport) -> io::Result<String> {
    let mut h = String::with_capacity(256 * 1024);
    h.push_str("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n");
    h.push_str("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n");
    let verdict = r.verdict.headline();
    h.push_str(&format!(
        "<title>paychaos: {} — {verdict}</title>\n<style>\n{CSS}</style>\n</head>\n\
         <body data-verdict=\"{verdict}\">\n<main>\n",
        esc(&r.scenario.name),
    ));
    verdict::header(&mut h, r);
    h.push_str(&findings::section(r));
    charts::figures(&mut h, r);
    charts::time_charts(&mut h, r)?;
    charts::spectrum_section(&mut h, r)?;
    charts::confusion_section(&mut h, r);
    h.push_str(&tables::recovery_section(r));
    h.push_str(&super::alarm::render::html(r));
    h.push_str(&tables::capacity_section(r));
    h.push_str(&super::funnel::html_section(r));
    tables::faults_section(&mut h, r);
    tables::webhooks_section(&mut h, r);
    super::card_testers::html(&mut h, r);
    tables::verification_section(&mut h, r);
    tables::gates_section(&mut h, &r.gates);
    h.push_str(&format!(
        "<footer>\n<p class=\"key\" id=\"digests\">plan digest <code>{}</code> (the seed's \
         assignment: equal on any machine) · met digest <code>{}</code> (what this run met)</p>\n\
         </footer>\n",
        esc(&r.faults.plan_digest),
        esc(&r.faults.met_digest)
    ));
    data_block(&mut h, r)?;
    h.push_str("</main>\n</body>\n</html>\n");
    Ok(h)
}

/// The charts' data, as in `report.json`, for readers and tests of the page.
#[derive(Serialize)]
struct ChartData<'a> {
    schema_version: u32,
    verdict: Verdict,
    scenario: &'a ScenarioInfo,
    load: &'a LoadFigures,
    latency_ms: &'a Percentiles,
    latency_spectrum_ms: &'a [SpectrumPoint],
    fault_windows: &'a [WindowSpan],
    confusion: &'a OrderedMap<OrderedMap<u64>>,
    timeline: &'a [TimelineRow],
}

fn data_block(h: &mut String, r: &RunReport) -> io::Result<()> {
    let data = ChartData {
        schema_version: r.schema_version,
        verdict: r.verdict,
        scenario: &r.scenario,
        load: &r.load,
        latency_ms: &r.latency_ms,
        latency_spectrum_ms: &r.latency_spectrum_ms,
        fault_windows: &r.faults.windows,
        confusion: &r.outcomes.confusion,
        timeline: &r.timeline,
    };
    let json = serde_json::to_string(&data)?;
    // `<` only occurs inside JSON strings, where \u003c means the same: no `</script>` or
    // `<!--` can end the block early.
    let json = json.replace('<', "\\u003c");
    h.push_str(&format!(
        "<script type=\"application/json\" id=\"{DATA_ID}\">{json}</script>\n"
    ));
    Ok(())
}

/// The URLs in `html` that a browser could fetch: every `http://` or `https://` reference
/// except the SVG namespace (an identifier, never fetched), plus any `src=`, `<link`,
/// `@import` or `url(` construct. A self-contained page has none.
pub fn external_references(html: &str) -> Vec<String> {
    const SVG_NS: &str = "http://www.w3.org/2000/svg";
    let mut found = Vec::new();
    let lower = html.to_ascii_lowercase();
    for scheme in ["http://", "https://"] {
        for (at, _) in lower.match_indices(scheme) {
            let url: String = html[at..]
                .chars()
                .take_while(|c| !c.is_whitespace() && !matches!(c, '"' | '\'' | '<' | '>' | ')'))
                .collect();
            if url != SVG_NS {
                found.push(url);
            }
        }
    }
    for construct in [" src=", "<link", "@import", "url("] {
        if lower.contains(construct) {
            found.push(construct.trim().to_string());
        }
    }
    found
}

/// Escaped text that may wrap after its underscores (long snake_case labels in narrow cells).
fn breakable(s: &str) -> String {
    esc(s).replace('_', "_<wbr>")
}

/// Text safe in HTML content and attribute values.
pub(in crate::report) fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

fn percent(x: f64) -> String {
    format!("{:.2}%", x * 100.0)
}

fn ms(x: f64) -> String {
    format!("{x:.1}")
}

#[cfg(test)]
mod tests;
