use std::path::PathBuf;

use super::view::{self, *};
use super::*;
use crate::report::tests::sample;
use crate::report::OrderedMap;

fn map<V>(entries: Vec<(&str, V)>) -> OrderedMap<V> {
    entries
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect()
}

/// A hand-made run of 1000 checkouts: `paid` paid, 30 declined by the card, the rest failed
/// by provider trouble; p50/p90/p99/max 2/5/10/40 ms; every check clean.
fn view(paid: u64) -> ReportView {
    ReportView {
        schema_version: 3,
        verdict: Some("pass".into()),
        scenario: ScenarioView {
            name: "smoke".into(),
            seed: 42,
        },
        run: RunView::default(),
        load: LoadView {
            sent: 1000,
            shed: 0,
            errors: 0,
        },
        latency_ms: LatencyView {
            p50: 2.0,
            p90: 5.0,
            p99: 10.0,
            max: 40.0,
        },
        outcomes: OutcomesView {
            confusion: map(vec![
                ("charged", map(vec![("paid", paid)])),
                ("declined_insufficient_funds", map(vec![("failed", 30)])),
                ("not_charged", map(vec![("failed", 970 - paid)])),
            ]),
        },
        faults: FaultsView {
            plan_digest: "ab".repeat(32),
        },
        webhooks: WebhooksView::default(),
        verification: VerificationView {
            checks: ["lost_payment", "double_charge"]
                .into_iter()
                .map(|name| CheckView {
                    name: name.into(),
                    passed: true,
                    violations: 0,
                })
                .collect(),
        },
    }
}

fn loaded(name: &str, view: ReportView) -> Loaded {
    Loaded {
        source: PathBuf::from(name).join("report.json"),
        view,
    }
}

fn cmp(base: ReportView, new: ReportView) -> Comparison {
    compare(
        &loaded("base", base),
        &loaded("new", new),
        Tolerance::default(),
    )
}

fn row<'a>(c: &'a Comparison, metric: &str) -> &'a Row {
    c.metrics
        .iter()
        .find(|r| r.metric == metric)
        .unwrap_or_else(|| panic!("no row {metric} in {:?}", c.metrics))
}

fn fail_check(v: &mut ReportView, name: &str, violations: u64) {
    let c = v
        .verification
        .checks
        .iter_mut()
        .find(|c| c.name == name)
        .unwrap();
    c.passed = violations == 0;
    c.violations = violations;
}

#[test]
fn equal_runs_are_ok_everywhere() {
    let c = cmp(view(950), view(950));
    assert_eq!(
        (c.verdict, c.exit_code(), c.comparable),
        (Judgement::Ok, 0, true)
    );
    assert!(c.notes.is_empty(), "{:?}", c.notes);
    assert!(
        c.metrics.iter().all(|r| r.verdict == Judgement::Ok),
        "{c:?}"
    );
    let names: Vec<&str> = c.metrics.iter().map(|r| r.metric.as_str()).collect();
    assert_eq!(
        names,
        [
            "success_rate",
            "success_rate_eligible",
            "error_rate",
            "shed_rate",
            "latency_ms.p50",
            "latency_ms.p90",
            "latency_ms.p99",
            "latency_ms.max",
            "failed_checks",
            "checks.lost_payment",
            "checks.double_charge",
        ],
        "no webhook row when neither run sent webhooks"
    );
    let s = row(&c, "success_rate");
    assert_eq!(
        (s.base, s.base_n, s.delta),
        (Some(0.95), Some(1000), Some(0.0))
    );
    let e = row(&c, "success_rate_eligible");
    assert_eq!((e.base, e.base_n), (Some(950.0 / 970.0), Some(970)));
}

#[test]
fn differences_inside_the_noise_are_ok() {
    let mut new = view(940);
    new.latency_ms.p50 = 2.9; // +0.9 ms: under the 1 ms floor
    new.latency_ms.p99 = 10.9; // +9 %: under 10 %
    new.latency_ms.max = 43.9;
    new.load.errors = 2;
    let c = cmp(view(950), new);
    assert_eq!((c.verdict, c.exit_code()), (Judgement::Ok, 0), "{c:?}");
    let s = row(&c, "success_rate");
    // 95.0 % vs 94.0 % of 1000: z ≈ -0.98.
    assert_eq!(s.reason, "z = -0.98, within ±1.96");
    assert_eq!(row(&c, "latency_ms.p50").reason, "within ±1 ms");
    assert_eq!(row(&c, "latency_ms.max").reason, "within ±4 ms");
}

#[test]
fn a_success_rate_drop_outside_the_noise_regresses() {
    let c = cmp(view(950), view(900));
    assert_eq!((c.verdict, c.exit_code()), (Judgement::Regressed, 1));
    let s = row(&c, "success_rate");
    // Pooled 0.925: se = sqrt(0.925 × 0.075 × 2/1000) ≈ 0.01178, z = -0.05 / se ≈ -4.24.
    assert_eq!(s.verdict, Judgement::Regressed);
    assert_eq!(s.reason, "z = -4.24, outside ±1.96");
    assert_eq!(
        row(&c, "success_rate_eligible").verdict,
        Judgement::Regressed
    );
    assert_eq!(c.regressions(), ["success_rate", "success_rate_eligible"]);
}

#[test]
fn the_same_difference_is_noise_on_a_small_sample() {
    // 95 % vs 90 % is outside the noise at 1000 checkouts, inside it at 100.
    let scale = |mut v: ReportView, paid: u64| {
        v.load.sent = 100;
        v.outcomes.confusion = map(vec![
            ("charged", map(vec![("paid", paid)])),
            ("not_charged", map(vec![("failed", 100 - paid)])),
        ]);
        v
    };
    let c = cmp(scale(view(950), 95), scale(view(950), 90));
    assert_eq!(row(&c, "success_rate").verdict, Judgement::Ok, "{c:?}");
}

#[test]
fn failure_rates_regress_when_they_rise() {
    let mut new = view(950);
    new.load.errors = 30;
    new.load.shed = 40;
    let c = cmp(view(950), new);
    assert_eq!(row(&c, "error_rate").verdict, Judgement::Regressed);
    assert_eq!(row(&c, "shed_rate").verdict, Judgement::Regressed);
    assert_eq!(row(&c, "shed_rate").new_n, Some(1040));
}

#[test]
fn latency_beyond_the_tolerance_regresses_and_below_it_improves() {
    let mut new = view(950);
    new.latency_ms.p99 = 11.5;
    new.latency_ms.p90 = 3.5;
    let c = cmp(view(950), new.clone());
    let p99 = row(&c, "latency_ms.p99");
    assert_eq!(
        (p99.verdict, p99.reason.as_str()),
        (Judgement::Regressed, "beyond ±1 ms")
    );
    assert_eq!(row(&c, "latency_ms.p90").verdict, Judgement::Better);
    assert_eq!(c.verdict, Judgement::Regressed);

    // A wider tolerance takes the same figures as noise.
    let wide = Tolerance {
        latency_relative: 0.2,
        latency_floor_ms: 2.0,
    };
    let c = compare(&loaded("b", view(950)), &loaded("n", new), wide);
    assert_eq!(row(&c, "latency_ms.p99").verdict, Judgement::Ok);
    assert_eq!(row(&c, "latency_ms.p90").verdict, Judgement::Ok);
}

#[test]
fn a_run_that_sent_nothing_has_no_latency_and_regresses_against_one_that_did() {
    // Arrange: the new run sent no checkout, so its latency figures read 0 ms.
    let mut new = view(950);
    new.load.sent = 0;
    new.latency_ms = LatencyView::default();

    // Act
    let c = cmp(view(950), new.clone());

    // Assert: not "better" (0 ms is no figure), and the comparison fails.
    let p99 = row(&c, "latency_ms.p99");
    assert_eq!(p99.new, None);
    assert_eq!(p99.verdict, Judgement::Regressed, "{}", p99.reason);
    assert_eq!(c.verdict, Judgement::Regressed);

    // Both empty: nothing to weigh, no regression.
    let c = cmp(new.clone(), new);
    assert_eq!(row(&c, "latency_ms.p99").verdict, Judgement::Incomparable);
}

#[test]
fn any_new_violation_or_failed_check_regresses() {
    let mut new = view(950);
    fail_check(&mut new, "double_charge", 1);
    let c = cmp(view(950), new);
    assert_eq!(c.verdict, Judgement::Regressed);
    assert_eq!(c.regressions(), ["failed_checks", "checks.double_charge"]);
    assert_eq!(row(&c, "checks.double_charge").delta, Some(1.0));
    assert_eq!(row(&c, "checks.lost_payment").verdict, Judgement::Ok);
}

#[test]
fn fewer_violations_and_a_higher_success_rate_are_better() {
    let mut base = view(900);
    fail_check(&mut base, "lost_payment", 4);
    let c = cmp(base, view(950));
    assert_eq!((c.verdict, c.exit_code()), (Judgement::Better, 0));
    assert_eq!(row(&c, "success_rate").verdict, Judgement::Better);
    assert_eq!(row(&c, "checks.lost_payment").verdict, Judgement::Better);
    assert_eq!(row(&c, "failed_checks").verdict, Judgement::Better);
    assert_eq!(c.better, 4, "{c:?}");
}

#[test]
fn a_plan_digest_mismatch_comes_first_and_marks_the_comparison() {
    let mut new = view(950);
    new.faults.plan_digest = "cd".repeat(32);
    new.scenario.seed = 7;
    let c = cmp(view(950), new.clone());
    assert_eq!(
        (c.verdict, c.exit_code(), c.comparable),
        (Judgement::Incomparable, 0, false)
    );
    assert!(
        c.notes[0].starts_with("not comparable fault for fault: the plan digests differ (base abababababab, new cdcdcdcdcdcd)"),
        "{:?}",
        c.notes
    );
    assert_eq!(c.notes[1], "different seeds: base 42, new 7");
    let md = render::markdown(&c);
    let first_note = md.lines().nth(2).unwrap();
    assert!(
        first_note.starts_with("> **Not comparable fault for fault**"),
        "{md}"
    );

    // The rest is still compared: a regression wins the verdict, the mark stays.
    new.latency_ms.p99 = 20.0;
    let c = cmp(view(950), new);
    assert_eq!(
        (c.verdict, c.exit_code(), c.comparable),
        (Judgement::Regressed, 1, false)
    );
}

#[test]
fn a_report_without_a_plan_digest_is_compared_with_a_note() {
    let mut base = view(950);
    base.faults.plan_digest.clear();
    let c = cmp(base, view(950));
    assert_eq!((c.verdict, c.comparable), (Judgement::Ok, true));
    assert!(
        c.notes[0].contains("base report carries no plan digest"),
        "{:?}",
        c.notes
    );
    assert_eq!(c.base.plan_digest, None);
}

#[test]
fn a_metric_on_one_side_only_is_incomparable_not_a_regression() {
    let mut new = view(950);
    new.verification.checks.push(CheckView {
        name: "webhook_rejected".into(),
        passed: false,
        violations: 3,
    });
    new.webhooks.endpoint.attempts = 120;
    new.webhooks.endpoint.ack_latency_ms.p99 = 4.0;
    let mut base = view(950);
    base.load.sent = 0;
    base.outcomes.confusion = OrderedMap::default();
    let c = cmp(base, new);
    let w = row(&c, "checks.webhook_rejected");
    assert_eq!(
        (w.verdict, w.reason.as_str()),
        (Judgement::Incomparable, "not checked in base")
    );
    let ack = row(&c, "webhook_ack_ms.p99");
    assert_eq!(
        (ack.verdict, ack.reason.as_str()),
        (Judgement::Incomparable, "no webhook deliveries in base")
    );
    let s = row(&c, "success_rate");
    assert_eq!(
        (s.verdict, s.reason.as_str()),
        (Judgement::Incomparable, "no checkouts in base")
    );
    // The one failed check new has is counted by failed_checks, which both sides have.
    assert_eq!(c.regressions(), ["failed_checks"]);
}

#[test]
fn the_baseline_gate_fails_a_passing_run_that_regressed() {
    let mut report = sample();
    assert_eq!(report.exit_code, 0);
    let mut worse = ReportView::of(&report);
    worse.latency_ms.p99 = report.latency_ms.p99 + 100.0;
    let c = compare(
        &Loaded::of_report(&report, std::path::Path::new("base")),
        &loaded("new", worse),
        Tolerance::default(),
    );
    add_gate(&mut report, &c);
    let gate = report.gates.last().unwrap();
    assert_eq!(
        (gate.name.as_str(), gate.observed, gate.passed),
        (GATE, 1.0, false)
    );
    assert_eq!((report.verdict, report.exit_code), (Verdict::Fail, 1));
    assert_eq!(
        report.failures(),
        ["baseline: 1 metrics regressed against the baseline (compare.md)"]
    );

    let mut same = sample();
    let c = compare(
        &Loaded::of_report(&same.clone(), std::path::Path::new("base")),
        &Loaded::of_report(&same.clone(), std::path::Path::new("new")),
        Tolerance::default(),
    );
    add_gate(&mut same, &c);
    assert_eq!((same.verdict, same.exit_code), (Verdict::Pass, 0));
}

#[test]
fn report_json_reads_back_as_the_view_of_the_report() {
    let report = sample();
    let text = serde_json::to_vec(&report).unwrap();
    assert_eq!(view::parse(&text).unwrap(), ReportView::of(&report));
}

#[test]
fn json_output_has_the_documented_shape() {
    let mut new = view(900);
    new.faults.plan_digest = "cd".repeat(32);
    let v: serde_json::Value = serde_json::from_str(&render::json(&cmp(view(950), new))).unwrap();
    assert_eq!(v["compare_version"], 1);
    assert_eq!(v["verdict"], "regressed");
    assert_eq!(v["comparable"], false);
    assert_eq!(v["regressed"], 2);
    assert_eq!(v["base"]["source"], "base/report.json");
    assert_eq!(v["new"]["plan_digest"], "cd".repeat(32));
    assert_eq!(v["tolerance"]["latency_relative"], 0.1);
    assert_eq!(v["tolerance"]["latency_floor_ms"], 1.0);
    let m = &v["metrics"][0];
    assert_eq!(m["metric"], "success_rate");
    assert_eq!(m["kind"], "rate");
    assert_eq!(
        (m["base"].as_f64(), m["new"].as_f64()),
        (Some(0.95), Some(0.9))
    );
    assert_eq!(
        (m["base_n"].as_u64(), m["new_n"].as_u64()),
        (Some(1000), Some(1000))
    );
    assert_eq!(m["verdict"], "regressed");
    assert!(m["delta"].as_f64().unwrap() < 0.0);
    assert!(
        v["metrics"][4]["base_n"].is_null(),
        "latency rows have no sample size"
    );
    assert!(v["notes"][0]
        .as_str()
        .unwrap()
        .starts_with("not comparable"));
}

#[test]
fn markdown_names_the_regressions_and_bolds_them() {
    let md = render::markdown(&cmp(view(950), view(900)));
    assert!(md.starts_with("## paychaos compare: REGRESSED\n"), "{md}");
    assert!(
        md.contains(
            "2 regressed (success_rate, success_rate_eligible), 0 better, 9 ok, 0 incomparable."
        ),
        "{md}"
    );
    assert!(
        md.contains("| success_rate | 95.00 % of 1000 | 90.00 % of 1000 | -5.00 pp | **regressed** | z = -4.24, outside ±1.96 |"),
        "{md}"
    );
    assert!(
        md.contains("| latency_ms.p99 | 10 | 10 | 0 (0 %) | ok | within ±1 ms |"),
        "{md}"
    );
}

/// A report.json as text with `edit` applied to its JSON tree.
fn edited(edit: impl FnOnce(&mut serde_json::Value)) -> Vec<u8> {
    let mut v = serde_json::to_value(sample()).unwrap();
    edit(&mut v);
    serde_json::to_vec(&v).unwrap()
}

fn parse_err(text: &[u8]) -> String {
    match view::parse(text) {
        Ok(_) => panic!("parsed"),
        Err(ParseError::NotJson(e)) => format!("not json: {e}"),
        Err(ParseError::NotReport(d)) => format!("not a report: {d}"),
        Err(ParseError::Newer(n)) => format!("newer: {n}"),
    }
}

#[test]
fn bad_documents_are_named_with_the_key_at_fault() {
    assert!(parse_err(b"{ nope").starts_with("not json: "));
    assert_eq!(
        parse_err(b"[1, 2]"),
        "not a report: expected a JSON object with `schema_version`"
    );
    assert!(parse_err(b"{}").starts_with("not a report: schema_version: missing"));
    assert_eq!(
        parse_err(br#"{"schema_version": "3"}"#),
        "not a report: schema_version: expected a whole number, got \"3\""
    );
    let newer = edited(|v| v["schema_version"] = (crate::report::SCHEMA_VERSION + 1).into());
    assert_eq!(
        parse_err(&newer),
        format!("newer: {}", crate::report::SCHEMA_VERSION + 1)
    );
    let no_sent = edited(|v| {
        v["load"].as_object_mut().unwrap().remove("sent");
    });
    assert!(
        parse_err(&no_sent).starts_with("not a report: load: missing field `sent`"),
        "{}",
        parse_err(&no_sent)
    );
    let bad_check = edited(|v| v["verification"]["checks"][1]["violations"] = "many".into());
    assert!(
        parse_err(&bad_check)
            .starts_with("not a report: verification.checks[1].violations: invalid type"),
        "{}",
        parse_err(&bad_check)
    );
    // Keys added by later writers are ignored; keys older ones lacked default.
    let older = edited(|v| {
        v["faults"].as_object_mut().unwrap().remove("plan_digest");
        v["webhooks"].as_object_mut().unwrap().remove("endpoint");
        v.as_object_mut().unwrap().remove("verdict");
        v["schema_version"] = 1.into();
        v["something_new"] = true.into();
    });
    let view = view::parse(&older).unwrap();
    assert_eq!(
        (
            view.schema_version,
            view.verdict,
            view.faults.plan_digest.as_str()
        ),
        (1, None, "")
    );
}

#[test]
fn a_path_that_holds_no_report_is_named() {
    let tmp = tempfile::tempdir().unwrap();
    let missing = tmp.path().join("nowhere");
    let err = load(&missing).unwrap_err().to_string();
    assert_eq!(
        err,
        format!(
            "{}: no such file or folder (expected a report folder or its report.json)",
            missing.display()
        )
    );
    let err = load(tmp.path()).unwrap_err().to_string();
    assert!(
        err.starts_with(&format!(
            "{}: no report.json in this folder",
            tmp.path().display()
        )),
        "{err}"
    );

    let file = tmp.path().join("report.json");
    std::fs::write(&file, edited(|v| v["schema_version"] = 99.into())).unwrap();
    let err = load(tmp.path()).unwrap_err().to_string();
    assert!(
        err.starts_with(&format!(
            "{}: schema_version 99 is newer than this paychaos reads (at most",
            file.display()
        )),
        "{err}"
    );
    std::fs::write(&file, serde_json::to_vec(&sample()).unwrap()).unwrap();
    let by_dir = load(tmp.path()).unwrap();
    let by_file = load(&file).unwrap();
    assert_eq!((&by_dir.source, &by_dir.view), (&file, &by_file.view));
}

#[test]
fn a_latency_change_under_half_a_percent_reads_as_0_percent() {
    let mut new = view(950);
    new.latency_ms.max = 39.9;
    let md = render::markdown(&cmp(view(950), new));
    assert!(
        md.contains("| latency_ms.max | 40 | 39.9 | -0.1 (0 %) | ok | within ±4 ms |"),
        "{md}"
    );
}
