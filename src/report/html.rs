//! The HTML writer: `report.html`, one self-contained page (inline CSS, inline SVG charts from
//! `charts`, no scripts or fonts fetched) that opens offline. Sections in a fixed order:
//! headline, key figures, time charts, latency spectrum, confusion heat map, recovery,
//! capacity, faults, webhooks, verification, gates; then the charts' data as a JSON block.

use std::io::{self, Write};

use serde::Serialize;

use super::charts::{self, Chart, Swatch};
use super::gates::number;
use super::markdown::agrees;
use super::timeline::{SpectrumPoint, TimelineRow, WindowSpan};
use super::{
    GateResult, LoadFigures, OrderedMap, RecoveryStatus, RunReport, ScenarioInfo, Verdict,
};
use crate::domain::FinalState;
use crate::metrics::Percentiles;

/// The page's style sheet, inlined into `<style>`.
const CSS: &str = include_str!("report.css");

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
    h.push_str(&format!(
        "<title>paychaos: {} — {}</title>\n<style>\n{CSS}</style>\n</head>\n<body>\n<main>\n",
        esc(&r.scenario.name),
        r.verdict.headline()
    ));
    headline(&mut h, r);
    figures(&mut h, r);
    chart_section(
        &mut h,
        "rate",
        "Rate: target vs achieved",
        "Checkouts per second by intended send time; shed checkouts hit the in-flight cap.",
        charts::rate(r)?,
        "",
    );
    chart_section(
        &mut h,
        "success",
        "Success rate over time",
        "Checkouts told paid over those sent in the second that the card did not decline.",
        charts::success(r)?,
        "",
    );
    chart_section(
        &mut h,
        "latency",
        "Latency over time",
        "Checkout latency from the intended send time, by the second it was due.",
        charts::latency(r)?,
        "",
    );
    chart_section(
        &mut h,
        "in-flight",
        "In flight",
        "Checkouts sent but not yet answered at the end of each second.",
        charts::in_flight(r)?,
        "",
    );
    spectrum_section(&mut h, r)?;
    confusion_section(&mut h, r);
    h.push_str(&recovery_section(r));
    h.push_str(&capacity_section(r));
    faults_section(&mut h, r);
    webhooks_section(&mut h, r);
    verification_section(&mut h, r);
    gates_section(&mut h, &r.gates);
    data_block(&mut h, r)?;
    h.push_str("</main>\n</body>\n</html>\n");
    Ok(h)
}

fn headline(h: &mut String, r: &RunReport) {
    let verdict = r.verdict.headline();
    h.push_str(&format!(
        "<header>\n<h1>paychaos: {} <span class=\"verdict {verdict}\">{verdict}</span></h1>\n",
        esc(&r.scenario.name)
    ));
    let mut notes = vec![
        format!("seed {}", r.scenario.seed),
        format!("run {}", esc(&r.run.run_id)),
        format!("started {}", esc(&r.run.started_at)),
        format!("{:.1} s", r.run.duration_s),
        format!("{} load", esc(&r.load.profile)),
    ];
    if r.run.interrupted {
        notes.push("<b>interrupted</b>".into());
    }
    if let Some(a) = &r.run.aborted_by {
        notes.push(format!("<b>ABORTED by threshold</b>: {}", esc(a)));
    }
    if !r.run.drained {
        notes.push("<b>not drained</b> (the drain timed out)".into());
    }
    h.push_str(&format!("<p class=\"meta\">{}</p>\n", notes.join(" · ")));
    let failures = r.failures();
    if !failures.is_empty() {
        h.push_str("<ul class=\"failures\">\n");
        for f in &failures {
            h.push_str(&format!("<li>{}</li>\n", esc(f)));
        }
        h.push_str("</ul>\n");
    }
    h.push_str("</header>\n");
}

fn figures(h: &mut String, r: &RunReport) {
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

fn spectrum_section(h: &mut String, r: &RunReport) -> io::Result<()> {
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
fn confusion_section(h: &mut String, r: &RunReport) {
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

// ---- Recovery --------------------------------------------------------------------------------

/// The recovery section: how fast the success rate and latency came back after each fault
/// window, or a note that there are none.
pub fn recovery_section(r: &RunReport) -> String {
    let mut h = String::from("<section id=\"recovery\">\n<h2>Recovery</h2>\n");
    if r.recovery.is_empty() {
        h.push_str("<p class=\"note\">No fault windows in this scenario.</p>\n");
        h.push_str("</section>\n");
        return h;
    }
    h.push_str(
        "<p class=\"note\">Per fault window: success (over orders the card did not decline) and p99 \
         before it, the worst second during it, and the time after its end until success stays \
         within the tolerance of the baseline for the hold period.</p>\n<table>\n<thead><tr>\
         <th>window</th><th>span (s)</th><th>baseline success</th><th>baseline p99 (ms)</th>\
         <th>worst success</th><th>worst p99 (ms)</th><th>recovery</th>\
         <th>orders affected</th><th>ended correct</th></tr></thead>\n<tbody>\n",
    );
    let pct = |v: Option<f64>| v.map_or("–".to_string(), |x| format!("{:.2}%", x * 100.0));
    let ms = |v: Option<f64>| v.map_or("–".to_string(), |x| format!("{x:.1}"));
    for w in &r.recovery {
        let recovery = match (w.status, w.recovery_s) {
            (RecoveryStatus::Recovered, Some(s)) => format!("{} s", number(s)),
            (status, _) => status.as_str().replace('_', " "),
        };
        let class = if w.status == RecoveryStatus::Recovered {
            ""
        } else {
            " class=\"bad\""
        };
        h.push_str(&format!(
            "<tr><td>{}</td><td>{}–{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td>\
             <td{class}>{recovery}</td><td>{}</td><td>{}</td></tr>\n",
            esc(&w.name),
            number(w.start_s),
            number(w.end_s),
            pct(w.baseline_success_rate),
            ms(w.baseline_p99_ms),
            pct(w.worst_success_rate),
            ms(w.worst_p99_ms),
            w.orders_affected,
            w.orders_correct,
        ));
    }
    h.push_str("</tbody>\n</table>\n</section>\n");
    h
}

// ---- Capacity --------------------------------------------------------------------------------

/// The steps of a capacity run and its knee, or a note that this is not one.
pub fn capacity_section(r: &RunReport) -> String {
    let Some(c) = &r.capacity else {
        return "<section id=\"capacity\">\n<h2>Capacity</h2>\n<p class=\"note\">Not a capacity run.</p>\n</section>\n"
            .to_string();
    };
    let mut h = format!(
        "<section id=\"capacity\">\n<h2>Capacity</h2>\n<p><strong>{}</strong></p>\n\
         <p class=\"note\">SLO: p99 ≤ {} ms and success ≥ {:.2}% over each step after its first {} s.</p>\n\
         <table>\n<thead><tr><th>rate (/s)</th><th>achieved (/s)</th><th>sent</th><th>shed</th>\
         <th>p99 (ms)</th><th>send lag p99 (ms)</th><th>success</th><th>result</th></tr></thead>\n<tbody>\n",
        esc(&c.answer()),
        number(c.slo_p99_ms),
        c.slo_success_rate * 100.0,
        number(c.settle_s),
    );
    for s in &c.steps {
        let result = match (s.held, s.complete) {
            (true, _) => "held",
            (false, false) => "partial",
            (false, true) => "broke",
        };
        let class = if s.held { "" } else { " class=\"bad\"" };
        h.push_str(&format!(
            "<tr><td>{}</td><td>{:.0}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td{class}>{result}</td></tr>\n",
            number(s.rate),
            s.achieved_rate,
            s.sent,
            s.shed,
            s.p99_ms.map_or("–".into(), |p| format!("{p:.1}")),
            s.send_lag_p99_ms.map_or("–".into(), |p| format!("{p:.1}")),
            s.success_rate.map_or("–".into(), |x| format!("{:.2}%", x * 100.0)),
        ));
    }
    h.push_str("</tbody>\n</table>\n</section>\n");
    h
}

// ---- end of hooks --------------------------------------------------------------------------

fn faults_section(h: &mut String, r: &RunReport) {
    let f = &r.faults;
    h.push_str("<section id=\"faults\">\n<h2>Faults</h2>\n<table>\n<thead><tr><th>kind</th><th>injected</th><th>orders hit</th></tr></thead>\n<tbody>\n");
    for (kind, n) in f.injected.iter() {
        let hit = f.orders_hit.get(kind).copied().unwrap_or(0);
        h.push_str(&format!(
            "<tr><td>{}</td><td>{n}</td><td>{hit}</td></tr>\n",
            esc(kind)
        ));
    }
    h.push_str(&format!(
        "</tbody>\n</table>\n<p class=\"key\">plan digest <code>{}</code> (the seed's \
         assignment: equal on any machine) · met digest <code>{}</code> (what this run met)</p>\n\
         </section>\n",
        esc(&f.plan_digest),
        esc(&f.met_digest)
    ));
}

fn webhooks_section(h: &mut String, r: &RunReport) {
    let w = &r.webhooks;
    let rows = [
        ("events created", w.events.to_string()),
        ("delivery attempts", w.sent.to_string()),
        ("events acknowledged", w.delivered.to_string()),
        ("retries", w.retried.to_string()),
        ("duplicated", w.duplicated.to_string()),
        ("forged", w.forged.to_string()),
        ("forged accepted", w.forged_accepted.to_string()),
        ("never acknowledged", w.never_acknowledged.to_string()),
        (
            "ack latency p50 / p99 / max",
            format!(
                "{} / {} / {} ms",
                ms(w.ack_latency_ms.p50),
                ms(w.ack_latency_ms.p99),
                ms(w.ack_latency_ms.max)
            ),
        ),
        ("endpoint (genuine deliveries)", esc(&w.endpoint.line())),
    ];
    h.push_str("<section id=\"webhooks\">\n<h2>Webhooks</h2>\n<table>\n<tbody>\n");
    for (name, value) in rows {
        h.push_str(&format!("<tr><td>{name}</td><td>{value}</td></tr>\n"));
    }
    h.push_str("</tbody>\n</table>\n</section>\n");
}

fn verification_section(h: &mut String, r: &RunReport) {
    let v = &r.verification;
    h.push_str("<section id=\"verification\">\n<h2>Verification</h2>\n");
    let found = match v.discrepancies.len() {
        0 => "No discrepancies.".to_string(),
        n => format!(
            "{n} discrepancies, each with the events that show it (every one in report.json, \
             every order's whole story in history.jsonl)."
        ),
    };
    h.push_str(&format!("<p class=\"note\">{found}</p>\n"));
    for hint in &v.hints {
        h.push_str(&format!("<p class=\"bad\">Hint: {}</p>\n", esc(hint)));
    }
    h.push_str("<table>\n<thead><tr><th>check</th><th class=\"text\">invariant</th><th>violations</th><th>result</th></tr></thead>\n<tbody>\n");
    for c in &v.checks {
        let (class, word) = if c.passed {
            ("ok", "pass")
        } else {
            ("bad", "FAIL")
        };
        h.push_str(&format!(
            "<tr><td>{}</td><td class=\"text\">{}</td><td>{}</td><td class=\"{class}\">{word}</td></tr>\n",
            esc(&c.name),
            esc(&c.invariant),
            c.violations
        ));
    }
    h.push_str("</tbody>\n</table>\n");
    h.push_str(&super::html_findings::findings(r));
    h.push_str("</section>\n");
}

fn gates_section(h: &mut String, gates: &[GateResult]) {
    h.push_str("<section id=\"gates\">\n<h2>Gates</h2>\n");
    if gates.is_empty() {
        h.push_str("<p class=\"note\">The scenario sets no gates.</p>\n</section>\n");
        return;
    }
    h.push_str("<table>\n<thead><tr><th>gate</th><th>threshold</th><th>observed</th><th>result</th></tr></thead>\n<tbody>\n");
    for g in gates {
        let (class, word) = if g.passed {
            ("ok", "pass")
        } else {
            ("bad", "FAIL")
        };
        h.push_str(&format!(
            "<tr><td>{}</td><td>{}</td><td>{}</td><td class=\"{class}\">{word}</td></tr>\n",
            esc(&g.label()),
            esc(&g.threshold_text()),
            esc(&g.observed_text())
        ));
    }
    h.push_str("</tbody>\n</table>\n</section>\n");
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
pub(super) fn esc(s: &str) -> String {
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

fn hex(c: plotters::style::RGBColor) -> String {
    format!("#{:02x}{:02x}{:02x}", c.0, c.1, c.2)
}

fn percent(x: f64) -> String {
    format!("{:.2}%", x * 100.0)
}

fn ms(x: f64) -> String {
    format!("{x:.1}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::tests::sample;

    fn page(r: &RunReport) -> String {
        let mut out = Vec::new();
        write(r, &mut out).unwrap();
        String::from_utf8(out).unwrap()
    }

    fn with_window(name: &str) -> RunReport {
        let mut r = sample();
        r.faults.windows.push(WindowSpan {
            name: name.into(),
            start_s: 0.25,
            end_s: 0.75,
        });
        r.timeline[0].active_windows = vec![name.into()];
        r
    }

    /// The JSON in the page's data block.
    fn data(html: &str) -> serde_json::Value {
        let open = format!("<script type=\"application/json\" id=\"{DATA_ID}\">");
        let start = html.find(&open).expect("data block present") + open.len();
        let len = html[start..].find("</script>").expect("data block closed");
        serde_json::from_str(&html[start..start + len]).expect("data block is JSON")
    }

    #[test]
    fn page_references_nothing_outside_itself() {
        // Arrange: a page with every chart and a shaded window.
        let html = page(&with_window("outage"));

        // Assert: only the SVG namespace looks like a URL.
        assert_eq!(external_references(&html), Vec::<String>::new());
        assert!(html.contains("xmlns=\"http://www.w3.org/2000/svg\""));
        assert!(!html.contains("<script src"));
    }

    #[test]
    fn external_references_catch_what_a_browser_would_fetch() {
        let refs = external_references(
            "<svg xmlns=\"http://www.w3.org/2000/svg\"></svg><img src=\"x.png\">\
             <a href='https://cdn.example/lib.js'>",
        );
        assert_eq!(refs, ["https://cdn.example/lib.js", "src="]);
        assert_eq!(external_references("<link rel=stylesheet>"), ["<link"]);
        assert_eq!(
            external_references("<svg xmlns=\"http://www.w3.org/2000/svgx\">"),
            ["http://www.w3.org/2000/svgx"]
        );
    }

    #[test]
    fn every_chart_is_drawn_under_its_title() {
        let html = page(&with_window("outage"));
        assert_eq!(html.matches("<svg").count(), 5, "five charts");
        for title in [
            "Rate: target vs achieved",
            "Success rate over time",
            "Latency over time",
            "In flight",
            "Latency percentile spectrum",
            "Confusion matrix",
        ] {
            assert!(html.contains(&format!("<h2>{title}</h2>")), "{title}");
        }
        // The window is shaded and named on each of the four time charts.
        assert_eq!(html.matches(">\noutage\n</text>").count(), 4);
        assert_eq!(html.matches("fault window</span>").count(), 4);
    }

    #[test]
    fn sections_come_in_a_fixed_order() {
        let html = page(&sample());
        let ids: Vec<&str> = html
            .match_indices("<section id=\"")
            .map(|(at, m)| {
                let rest = &html[at + m.len()..];
                &rest[..rest.find('"').unwrap()]
            })
            .collect();
        assert_eq!(
            ids,
            [
                "figures",
                "rate",
                "success",
                "latency",
                "in-flight",
                "spectrum",
                "confusion",
                "recovery",
                "capacity",
                "faults",
                "webhooks",
                "verification",
                "gates"
            ]
        );
        assert!(html.starts_with("<!DOCTYPE html>\n"));
        assert!(html.ends_with("</html>\n"));
        assert!(html.contains("<h1>paychaos: smoke <span class=\"verdict PASS\">PASS</span></h1>"));
    }

    #[test]
    fn data_block_holds_the_charts_data() {
        let r = with_window("outage");
        let d = data(&page(&r));
        assert_eq!(d["timeline"], serde_json::to_value(&r.timeline).unwrap());
        assert_eq!(d["timeline"][0]["active_windows"][0], "outage");
        assert_eq!(d["fault_windows"][0]["end_s"], 0.75);
        assert_eq!(d["confusion"]["charged"]["paid"], 2);
        assert_eq!(
            d["latency_spectrum_ms"].as_array().unwrap().len(),
            r.latency_spectrum_ms.len()
        );
        assert!(!r.latency_spectrum_ms.is_empty());
        assert_eq!(d["verdict"], "pass");
        assert_eq!(d["load"]["sent"], 6);
    }

    #[test]
    fn scenario_text_cannot_break_out_of_the_page() {
        let name = "</script><b>&\"x\"";
        let html = page(&with_window(name));
        assert!(!html.contains("<b>&"), "escaped in tables and charts");
        assert!(html.contains("&lt;/script&gt;&lt;b&gt;&amp;&quot;x&quot;"));
        // The data block still parses and holds the name as it was.
        assert_eq!(data(&html)["fault_windows"][0]["name"], name);
    }

    #[test]
    fn confusion_cells_are_shaded_by_agreement_with_the_provider() {
        let mut r = sample();
        let html = page(&r);
        assert!(html.contains("title=\"agrees with the provider\">2</td>"));
        assert!(!html.contains("title=\"contradicts the provider\""));
        // Arrange: one charged order the merchant left pending.
        let charged = r
            .outcomes
            .confusion
            .0
            .iter_mut()
            .find(|(k, _)| k == "charged");
        let cell = charged
            .unwrap()
            .1
             .0
            .iter_mut()
            .find(|(k, _)| k == "pending");
        cell.unwrap().1 = 1;
        let html = page(&r);
        assert!(html.contains("title=\"contradicts the provider\">1</td>"));
    }

    #[test]
    fn recovery_and_capacity_sections_show_what_the_report_holds() {
        let none = recovery_section(&sample());
        assert!(none.contains("No fault windows"), "{none}");
        let mut r = with_window("outage");
        let window = |status, recovery_s| super::super::WindowRecovery {
            name: "outage".into(),
            start_s: 0.25,
            end_s: 0.75,
            baseline_s: 0.0,
            baseline_success_rate: Some(1.0),
            baseline_p99_ms: Some(12.0),
            worst_success_rate: Some(0.5),
            worst_p99_ms: Some(900.0),
            threshold: Some(0.95),
            tolerance: 0.05,
            hold_s: 3.0,
            status,
            recovery_s,
            observed_after_s: 5.0,
            orders_affected: 40,
            orders_correct: 39,
        };
        r.recovery = vec![
            window(RecoveryStatus::Recovered, Some(2.0)),
            window(RecoveryStatus::NeverRecovered, None),
        ];
        let some = recovery_section(&r);
        assert!(
            some.contains("<td>outage</td><td>0.25–0.75</td><td>100.00%</td>"),
            "{some}"
        );
        assert!(
            some.contains("<td>2 s</td><td>40</td><td>39</td>"),
            "{some}"
        );
        assert!(
            some.contains("<td class=\"bad\">never recovered</td>"),
            "{some}"
        );

        assert!(capacity_section(&sample()).contains("Not a capacity run."));
        let step = |rate: f64, held: bool| super::super::CapacityStep {
            rate,
            from_s: 0.0,
            to_s: 1.0,
            planned: 100,
            sent: 100,
            shed: 0,
            achieved_rate: rate,
            p99_ms: Some(if held { 20.0 } else { 700.0 }),
            send_lag_p99_ms: Some(1.0),
            eligible: 100,
            paid: 100,
            success_rate: Some(1.0),
            complete: true,
            held,
        };
        r.capacity = Some(super::super::CapacityReport {
            slo_p99_ms: 250.0,
            slo_success_rate: 0.99,
            every_s: 3.0,
            settle_s: 1.0,
            max_rate: 1000.0,
            steps: vec![step(500.0, true), step(750.0, false)],
            knee: Some(step(500.0, true)),
            first_broken: Some(step(750.0, false)),
            held_at_max: false,
            stopped_early: true,
        });
        let cap = capacity_section(&r);
        assert!(cap.contains("knee 500/s"), "{cap}");
        assert!(
            cap.contains("<td>750</td>") && cap.contains(">broke</td>"),
            "{cap}"
        );
    }

    #[test]
    fn failures_and_interruptions_head_the_page() {
        let mut r = sample();
        r.run.interrupted = true;
        r.gates[0].passed = false;
        r.set_verdict(Verdict::Interrupted);
        let html = page(&r);
        assert!(html.contains("<span class=\"verdict INTERRUPTED\">"));
        assert!(html.contains("<ul class=\"failures\">\n<li>success_rate"));
        assert!(html.contains("<b>interrupted</b>"));
    }
}
