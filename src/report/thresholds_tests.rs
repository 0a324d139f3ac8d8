use std::time::Duration;

use super::*;
use crate::domain::{AttemptResult, OrderStatus};
use crate::report::tests::{recorder, report_of, report_with, sample_set, scenario};
use crate::report::Verdict;
use crate::scenario::thresholds::catalogue;
use crate::scenario::{GateSpec, Op};

fn no_gates() -> GateSpec {
    GateSpec {
        success_rate_min: None,
        p99_ms_max: None,
        shed_max: None,
        verification: false,
        recovery_s_max: None,
        webhook_ack_p99_ms_max: None,
        alarm_delay_s_max: None,
        alarm_missed_max: None,
    }
}

fn t(metric: &str, op: Op, value: f64) -> ThresholdSpec {
    ThresholdSpec {
        metric: metric.into(),
        op,
        value,
        abort_on_fail: false,
        delay: Duration::from_secs(10),
    }
}

#[test]
fn every_operator_fires_and_holds_on_the_runs_figure() {
    // The sample: 1 shed checkout.
    let s = sample_set();
    let r = report_with(&s, no_gates());
    assert_eq!(r.load.shed, 1);
    let rec = recorder(&s);
    let cases = [
        (Op::Le, 1.0, true),
        (Op::Le, 0.0, false),
        (Op::Ge, 1.0, true),
        (Op::Ge, 2.0, false),
        (Op::Lt, 2.0, true),
        (Op::Lt, 1.0, false),
        (Op::Gt, 0.0, true),
        (Op::Gt, 1.0, false),
        (Op::Eq, 1.0, true),
        (Op::Eq, 0.0, false),
    ];
    for (op, value, passes) in cases {
        let g = &evaluate(&[t("shed", op, value)], &r, &rec, None)[0];
        assert_eq!(g.passed, passes, "shed {} {value}: {g:?}", op.as_str());
        assert_eq!(
            (g.observed, g.source.as_deref()),
            (1.0, Some("thresholds[0]"))
        );
    }
}

#[test]
fn a_failing_threshold_fails_the_run_and_is_listed_among_the_gates() {
    let s = sample_set();
    let mut sc = scenario(no_gates());
    sc.thresholds = vec![
        t("success_rate", Op::Ge, 0.0),
        t("latency.p95", Op::Lt, 0.001),
    ];
    let r = report_of(&s, &sc, None, None);
    assert_eq!(r.gates.len(), 2);
    assert!(r.gates[0].passed && !r.gates[1].passed, "{:?}", r.gates);
    assert_eq!(r.gates[1].op, Bound::Below);
    assert_eq!((r.verdict, r.exit_code), (Verdict::Fail, 1));
    let f = r.failures();
    assert_eq!(f.len(), 1);
    assert!(
        f[0].starts_with("latency.p95 ") && f[0].ends_with(", not < 0.001 (thresholds[1])"),
        "{}",
        f[0]
    );
    // In report.json with its op and where it came from.
    let json = serde_json::to_value(&r).unwrap();
    let g = &json["gates"][1];
    assert_eq!(
        (g["name"].as_str(), g["op"].as_str()),
        (Some("latency.p95"), Some("<"))
    );
    assert_eq!(g["source"], "thresholds[1]");
    assert_eq!(g["passed"], false);
}

#[test]
fn a_metric_without_data_fails_saying_so() {
    let s = sample_set();
    let r = report_with(&s, no_gates());
    let g = evaluate(
        &[
            t("capacity.knee", Op::Ge, 1.0),
            t("recovery_s", Op::Le, 5.0),
        ],
        &r,
        &recorder(&s),
        None,
    );
    assert!(!g[0].passed && !g[1].passed);
    assert_eq!(
        g[0].describe(),
        "capacity.knee ≥ 1: no data: not a capacity run, so it cannot pass (thresholds[0])"
    );
    assert!(
        g[1].describe().contains("no fault window"),
        "{}",
        g[1].describe()
    );
}

#[test]
fn check_violations_are_counted_by_check() {
    let mut s = sample_set();
    s.charge("ord-000050", AttemptResult::Ok)
        .told_status("ord-000050", OrderStatus::Paid)
        .final_state("ord-000050", OrderStatus::Paid, 3);
    let r = report_with(&s, no_gates());
    let rec = recorder(&s);
    let v = |m: &str| value(m, &r, &rec).unwrap();
    assert_eq!(v("checks.duplicate_applied"), 1.0);
    assert_eq!(v("checks.double_charge"), 0.0);
    assert_eq!(v("checks.failed"), 1.0);
}

#[test]
fn every_catalogue_name_is_measured_or_has_a_reason() {
    let s = sample_set();
    let r = report_with(&s, no_gates());
    let rec = recorder(&s);
    for name in catalogue() {
        if let Err(why) = value(&name, &r, &rec) {
            assert!(!why.contains("is not a metric"), "{name}: {why}");
        }
    }
    assert_eq!(value("p95", &r, &rec), value("latency.p95", &r, &rec));
    assert!(value("latency.paid.p99", &r, &rec).is_ok());
}

#[test]
fn live_figures_judge_only_past_the_delay_and_only_abort_on_fail_ones() {
    let live = LiveCounters::default();
    for _ in 0..4 {
        live.on_sent(Duration::ZERO);
    }
    let paid = crate::domain::CheckoutAnswer::Told {
        status: OrderStatus::Paid,
    };
    let error = crate::domain::CheckoutAnswer::Error {
        detail: "timeout".into(),
    };
    live.on_answer(Duration::ZERO, &paid, 2_000);
    for _ in 0..3 {
        live.on_answer(Duration::ZERO, &error, 4_000);
    }
    let mut rate = t("success_rate", Op::Ge, 0.9);
    rate.delay = Duration::from_secs(2);
    assert_eq!(
        live_breach(&[rate.clone()], &live, 5.0),
        None,
        "not abort_on_fail"
    );
    rate.abort_on_fail = true;
    assert_eq!(
        live_breach(&[rate.clone()], &live, 1.0),
        None,
        "before its delay"
    );
    let a = live_breach(&[rate], &live, 2.5).expect("1 of 4 paid is below 0.9");
    assert_eq!((a.index, a.actual), (0, 0.25));
    assert_eq!(
        a.describe(),
        "thresholds[0] success_rate ≥ 0.9 failed on the live figure 0.25 at 2.5 s"
    );
    let mut p99 = t("p99", Op::Le, 100.0);
    p99.abort_on_fail = true;
    p99.delay = Duration::ZERO;
    assert_eq!(live_breach(&[p99], &live, 0.0), None, "4 ms is within 100");
}

#[test]
fn an_aborting_threshold_fails_with_its_live_figure() {
    let s = sample_set();
    let mut sc = scenario(no_gates());
    let mut rate = t("success_rate", Op::Ge, 0.9);
    rate.abort_on_fail = true;
    sc.thresholds = vec![t("shed", Op::Le, 5.0), rate];
    let aborted = Aborted {
        index: 1,
        metric: "success_rate".into(),
        bound: Bound::Min,
        value: 0.9,
        actual: 0.25,
        at_s: 10.26,
    };
    let r = report_of(&s, &sc, None, Some(aborted));
    assert_eq!((r.verdict, r.exit_code), (Verdict::Fail, 1));
    assert!(!r.run.interrupted);
    assert_eq!(
        r.run.aborted_by.as_deref(),
        Some("thresholds[1] success_rate ≥ 0.9 failed on the live figure 0.25 at 10.3 s")
    );
    assert!(r.gates[0].passed);
    assert_eq!(
        r.failures(),
        [
            "success_rate 0.25, not ≥ 0.9; ABORTED by threshold: it stopped the load at 10.3 s \
          (thresholds[1])"
        ]
    );
}
