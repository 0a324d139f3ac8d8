//! Tests of `report.html`: self-contained, charts under their titles, what failed first,
//! sections that do not apply left out, the fail-fast note, escaping.

use super::tables::{capacity_section, recovery_section};
use super::*;
use crate::report::tests::{failing_sample, sample};
use crate::report::{RecoveryStatus, WindowSpan};

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
    assert_eq!(
        recovery_section(&sample()),
        "",
        "no fault windows: no section"
    );
    let mut r = with_window("outage");
    let window = |status, recovery_s| crate::report::WindowRecovery {
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

    assert_eq!(
        capacity_section(&sample()),
        "",
        "not a capacity run: no section"
    );
    let step = |rate: f64, held: bool| crate::report::CapacityStep {
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
    r.capacity = Some(crate::report::CapacityReport {
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
    assert!(html.contains("<ul class=\"failures\" id=\"failed-gates\">\n<li>success_rate"));
    assert!(html.contains("<b>interrupted</b>"));
}

/// The ids of the page's sections, in order.
fn section_ids(html: &str) -> Vec<&str> {
    html.match_indices("<section id=\"")
        .map(|(at, m)| {
            let rest = &html[at + m.len()..];
            &rest[..rest.find('"').unwrap()]
        })
        .collect()
}

#[test]
fn a_failed_run_shows_what_failed_before_any_figure() {
    // Arrange: gates failed, a check failed with three findings, a schedule warning.
    let r = failing_sample();
    assert!(!r.warnings.is_empty() && !r.verification.discrepancies.is_empty());

    // Act
    let html = page(&r);

    // Assert: verdict, failed gates, failed checks and warnings in the header, then the
    // discrepancies, then the figures.
    let at = |s: &str| html.find(s).unwrap_or_else(|| panic!("{s} in {html}"));
    assert!(html.contains("<header id=\"verdict\" data-verdict=\"FAIL\">"));
    assert!(at("id=\"failed-gates\"") < at("id=\"failed-checks\""));
    assert!(at("id=\"failed-checks\"") < at("id=\"warnings\""));
    assert!(at("id=\"warnings\"") < at("</header>"));
    assert!(at("</header>") < at("<section id=\"discrepancies\">"));
    assert!(at("<section id=\"discrepancies\">") < at("<section id=\"figures\">"));
    let check = &r.verification.discrepancies[0].check;
    assert!(html.contains(&format!(
        "<a class=\"check\" data-check=\"{check}\" href=\"#check-{check}\">{check}</a>"
    )));
    assert!(html.contains(&format!(
        "<div class=\"check-findings\" id=\"check-{check}\""
    )));
    assert_eq!(
        html.matches("<li class=\"discrepancy\"").count(),
        r.verification.discrepancies.len()
    );
    // A clean run has none of it.
    let clean = page(&sample());
    for absent in [
        "failed-gates",
        "failed-checks",
        "discrepancies",
        "fail-fast",
    ] {
        assert!(!clean.contains(&format!("id=\"{absent}\"")), "{absent}");
    }
}

#[test]
fn sections_that_do_not_apply_are_left_out() {
    // Arrange: no gates, no webhook events, nothing injected, nothing sent.
    let mut r = sample();
    r.gates.clear();
    r.webhooks.events = 0;
    r.webhooks.sent = 0;
    for (_, n) in r.faults.injected.0.iter_mut() {
        *n = 0;
    }
    r.latency_spectrum_ms.clear();

    // Act
    let html = page(&r);

    // Assert: the digests stay, in the footer.
    assert_eq!(
        section_ids(&html),
        [
            "figures",
            "rate",
            "success",
            "latency",
            "in-flight",
            "confusion",
            "verification"
        ]
    );
    assert!(html.contains(&format!(
        "plan digest <code>{}</code>",
        r.faults.plan_digest
    )));
}

#[test]
fn orders_failed_fast_get_a_note_on_reading_latency() {
    // Arrange: three orders failed for provider trouble with no request at the provider.
    let mut r = sample();
    let html = page(&r);
    assert!(!html.contains("failed fast"), "none in a run without them");
    let row = r
        .outcomes
        .confusion
        .0
        .iter_mut()
        .find(|(k, _)| k == "no_attempt")
        .unwrap();
    let cell = row
        .1
         .0
        .iter_mut()
        .find(|(k, _)| k == "failed_provider_error");
    cell.unwrap().1 = 3;

    // Act
    let html = page(&r);

    // Assert: in the header and under the latency chart.
    assert_eq!(fail_fast_orders(&r), 3);
    assert!(
        html.contains("<p class=\"warn\" id=\"fail-fast\" data-orders=\"3\">3 orders failed fast")
    );
    let latency = &html[html.find("<section id=\"latency\">").unwrap()..];
    let latency = &latency[..latency.find("</section>").unwrap()];
    assert!(latency.contains("3 orders failed fast"), "{latency}");
}

#[test]
fn the_channels_chart_stacks_checkouts_by_channel() {
    use crate::report::channels::{ChannelFigures, ChannelsReport};
    // Arrange: two channels over three seconds; the backup takes the middle one.
    let mut r = with_window("outage");
    let base = r.timeline[0].clone();
    r.timeline = (0..3).map(|_| base.clone()).collect();
    let channel = |name: &str, dialect: &str, per_second: Vec<u64>| ChannelFigures {
        name: name.into(),
        dialect: dialect.into(),
        routed: per_second.iter().sum(),
        paid: per_second.iter().sum(),
        success_rate: 1.0,
        p99_ms: 5.0,
        per_second,
    };
    r.channels = Some(ChannelsReport {
        channels: vec![
            channel("main", "stripe", vec![20, 0, 18]),
            channel("backup", "gateway", vec![0, 20, 2]),
        ],
        unrouted: 0,
        failovers: Vec::new(),
    });

    // Act
    let html = page(&r);
    let without = page(&with_window("outage"));

    // Assert: a section after the rate chart, one bar per channel and second with
    // checkouts (four), a legend naming each channel; none with one channel.
    let ids = section_ids(&html);
    assert_eq!(&ids[..3], ["figures", "rate", "channels"]);
    assert!(html.contains("<h2>Checkouts by payment channel</h2>"));
    for label in ["main (stripe)</span>", "backup (gateway)</span>"] {
        assert!(html.contains(label), "{label}");
    }
    let section = &html[html.find("<section id=\"channels\"").unwrap()..];
    let section = &section[..section.find("</section>").unwrap()];
    let main = format!("fill=\"#{:02X}{:02X}{:02X}\"", 0, 114, 178);
    let backup = format!("fill=\"#{:02X}{:02X}{:02X}\"", 230, 159, 0);
    assert_eq!(section.matches(&main).count(), 2, "main's bars");
    assert_eq!(section.matches(&backup).count(), 2, "backup's bars");
    assert!(!section_ids(&without).contains(&"channels"));
    assert_eq!(html.matches("<svg").count(), 6, "six charts");
}
