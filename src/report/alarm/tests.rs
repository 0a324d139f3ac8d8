//! The expected alarm over synthetic answer series, the received alerts' firings, and their
//! comparison.

use std::time::Duration;

use super::*;
use crate::domain::{FailReason, OrderStatus};
use crate::scenario::alarm::Failures;

fn spec(window_s: u64, min_sample: u64, threshold: f64) -> AlarmSpec {
    AlarmSpec {
        window: Duration::from_secs(window_s),
        min_sample,
        threshold,
        failures: Failures::ProviderTrouble,
        monitor: true,
    }
}

/// `per_second[i]` checkouts in second i, each told `answer(i)`, spread over the second.
fn series(per_second: &[u64], answer: impl Fn(usize) -> CheckoutAnswer) -> Vec<CheckoutRecord> {
    let mut out = Vec::new();
    for (s, &n) in per_second.iter().enumerate() {
        for k in 0..n {
            out.push(CheckoutRecord {
                order_id: format!("ord-{s}-{k}"),
                amount: 1000,
                intended_ms: s as u64 * 1000 + k * 1000 / n.max(1),
                latency_us: 1000,
                answer: answer(s),
            });
        }
    }
    out
}

fn told(status: OrderStatus) -> CheckoutAnswer {
    CheckoutAnswer::Told { status }
}

const TROUBLE: OrderStatus = OrderStatus::Failed(FailReason::ProviderError);

/// 10 checkouts a second for 20 s; seconds 5..10 end in provider trouble.
fn outage() -> Vec<CheckoutRecord> {
    series(&[10; 20], |s| {
        if (5..10).contains(&s) {
            told(TROUBLE)
        } else {
            told(OrderStatus::Paid)
        }
    })
}

#[test]
fn an_outage_fires_once_the_window_is_half_failures_and_clears_after_it() {
    // Window 4 s: at t = 7 the window [3, 7) holds 2 bad seconds of 4: 50%, it fires. At
    // t = 12 the window [8, 12) holds 2 bad of 4: still 50%; at t = 13, 1 of 4: it clears.
    let got = expected(&outage(), &spec(4, 20, 0.5), 20_000);
    assert_eq!(
        got,
        [Episode {
            fired_s: 7.0,
            cleared_s: Some(13.0)
        }]
    );
}

#[test]
fn too_few_answers_change_nothing() {
    let got = expected(&outage(), &spec(4, 41, 0.5), 20_000);
    assert!(got.is_empty(), "{got:?}");
    // Errors count as provider trouble; declines do not, unless asked.
    let declines = series(&[10; 10], |_| {
        told(OrderStatus::Failed(FailReason::InsufficientFunds))
    });
    assert!(expected(&declines, &spec(2, 5, 0.5), 10_000).is_empty());
    let mut all = spec(2, 5, 0.5);
    all.failures = Failures::All;
    assert_eq!(expected(&declines, &all, 10_000)[0].fired_s, 1.0);
    let named = AlarmSpec {
        failures: Failures::Reasons(vec![FailReason::RiskBlocked]),
        ..spec(2, 5, 0.5)
    };
    assert!(expected(&declines, &named, 10_000).is_empty());
    let errors = series(&[10; 10], |_| CheckoutAnswer::Error {
        detail: "timeout".into(),
    });
    assert_eq!(expected(&errors, &spec(2, 5, 0.5), 10_000)[0].fired_s, 1.0);
}

#[test]
fn an_alarm_still_firing_when_the_load_ends_stays_open() {
    let tail = series(&[10; 10], |s| {
        if s >= 7 {
            told(TROUBLE)
        } else {
            told(OrderStatus::Paid)
        }
    });
    let got = expected(&tail, &spec(2, 10, 0.5), 10_000);
    assert_eq!(
        got,
        [Episode {
            fired_s: 8.0,
            cleared_s: None
        }]
    );
}

fn alert(at_ms: u64, status: Status, fp: &str) -> Received {
    Received {
        at_ms,
        status,
        alertname: "CheckoutFailureRate".into(),
        fingerprint: fp.into(),
    }
}

#[test]
fn received_alerts_make_firings_per_fingerprint_and_ignore_repeats() {
    let got = received_episodes(&[
        alert(7_400, Status::Firing, "a"),
        alert(9_000, Status::Firing, "a"),
        alert(13_900, Status::Resolved, "a"),
        alert(15_000, Status::Resolved, "b"),
        alert(16_000, Status::Firing, "b"),
    ]);
    assert_eq!(
        got,
        [
            Episode {
                fired_s: 7.4,
                cleared_s: Some(13.9)
            },
            Episode {
                fired_s: 16.0,
                cleared_s: None
            }
        ]
    );
}

#[test]
fn the_comparison_gives_delays_missed_and_false_alarms() {
    let sp = spec(4, 20, 0.5);
    let alerts = [
        alert(8_500, Status::Firing, "a"),
        alert(14_000, Status::Resolved, "a"),
        alert(30_000, Status::Firing, "b"),
    ];
    let r = build(&outage(), &alerts, &sp, 20_000);
    assert_eq!(r.missed, 0);
    assert_eq!(r.delay_s_max, Some(1.5));
    assert_eq!(r.clear_delay_s_max, Some(1.0));
    assert_eq!(r.false_alarms.len(), 1);
    assert_eq!(r.alerts_received, 3);
    let none = build(&outage(), &[], &sp, 20_000);
    assert_eq!((none.missed, none.delay_s_max), (1, None));
    assert!(none.false_alarms.is_empty());
}

fn gate_spec(delay: Option<f64>, missed: Option<u64>) -> GateSpec {
    GateSpec {
        success_rate_min: None,
        p99_ms_max: None,
        shed_max: None,
        verification: false,
        recovery_s_max: None,
        webhook_ack_p99_ms_max: None,
        alarm_delay_s_max: delay,
        alarm_missed_max: missed,
    }
}

fn judged(delay: Option<f64>, missed: Option<u64>, alerts: &[Received]) -> Vec<GateResult> {
    let r = build(&outage(), alerts, &spec(4, 20, 0.5), 20_000);
    let mut out = Vec::new();
    gates(&gate_spec(delay, missed), Some(&r), &mut out);
    out
}

#[test]
fn the_delay_gate_passes_a_prompt_alert_and_fails_a_late_or_missing_one() {
    let prompt = [alert(8_000, Status::Firing, "a")];
    let late = [alert(12_500, Status::Firing, "a")];
    let g = judged(Some(2.0), None, &prompt);
    assert!(g[0].passed, "{g:?}");
    assert_eq!((g[0].name.as_str(), g[0].observed), (ALARM_DELAY_S, 1.0));
    let g = judged(Some(2.0), None, &late);
    assert!(!g[0].passed && g[0].observed == 5.5, "{g:?}");
    let g = judged(Some(2.0), None, &[]);
    assert!(!g[0].passed, "{g:?}");
    assert!(g[0]
        .note
        .as_deref()
        .unwrap()
        .contains("1 of 1 expected alarms"));
}

#[test]
fn the_missed_gate_counts_expected_alarms_without_an_alert() {
    let g = judged(None, Some(0), &[alert(8_000, Status::Firing, "a")]);
    assert!(g[0].passed && g[0].name == ALARM_MISSED, "{g:?}");
    let g = judged(None, Some(0), &[]);
    assert!(!g[0].passed && g[0].observed == 1.0, "{g:?}");
    assert!(judged(None, Some(1), &[])[0].passed);
}
