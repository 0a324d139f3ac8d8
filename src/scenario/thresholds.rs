//! `[[thresholds]]`: a comparison on any metric of the run's report, and the catalogue of the
//! metric names a threshold may name. The names live here, where validation checks them; the
//! report works out each metric's value after the run (`report::thresholds`) and the run
//! watches the live ones during the load.

use std::time::Duration;

/// One `[[thresholds]]` entry, checked.
#[derive(Clone, Debug, PartialEq)]
pub struct ThresholdSpec {
    /// A name of the [`catalogue`], e.g. `latency.p99` or `checks.double_charge`.
    pub metric: String,
    pub op: Op,
    pub value: f64,
    /// Watched during the load (after `delay`): a failure stops the load early.
    pub abort_on_fail: bool,
    /// How long into the load the live watch waits before judging (default 10 s).
    pub delay: Duration,
}

/// The comparison that must hold between the metric's value and the threshold's.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    Le,
    Ge,
    Lt,
    Gt,
    Eq,
}

impl Op {
    /// The accepted spellings, as a scenario writes them.
    pub const FORMS: &'static str = r#""<=", ">=", "<", ">" or "==""#;

    pub fn parse(text: &str) -> Option<Op> {
        Some(match text {
            "<=" => Op::Le,
            ">=" => Op::Ge,
            "<" => Op::Lt,
            ">" => Op::Gt,
            "==" => Op::Eq,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Op::Le => "<=",
            Op::Ge => ">=",
            Op::Lt => "<",
            Op::Gt => ">",
            Op::Eq => "==",
        }
    }

    /// Whether `actual <op> value` holds. `==` compares exactly: it is meant for counts.
    pub fn holds(self, actual: f64, value: f64) -> bool {
        match self {
            Op::Le => actual <= value,
            Op::Ge => actual >= value,
            Op::Lt => actual < value,
            Op::Gt => actual > value,
            Op::Eq => actual == value,
        }
    }
}

/// The outcomes the report keeps latency for (`latency_ms_by_outcome`).
pub const OUTCOMES: [&str; 4] = ["paid", "failed", "pending", "error"];

/// The latency statistics a latency metric may end in, and the quantile each reads.
pub const PERCENTILES: [(&str, Option<f64>); 6] = [
    ("p50", Some(0.50)),
    ("p90", Some(0.90)),
    ("p95", Some(0.95)),
    ("p99", Some(0.99)),
    ("p999", Some(0.999)),
    ("max", None),
];

/// Every verification check's name, in report order (a test in `verify` keeps the two equal).
pub const CHECK_NAMES: [&str; 18] = [
    "lost_payment",
    "refund_owed",
    "free_goods",
    "double_charge",
    "wrong_reason",
    "stuck_pending",
    "forged_accepted",
    "duplicate_applied",
    "out_of_order",
    "hard_decline_retried",
    "unattributed_charge",
    "webhook_rejected",
    "raw_card_data",
    "card_testing_unthrottled",
    "charged_on_two_channels",
    "paid_on_forged_return",
    "customer_misinformed",
    "abandoned_not_released",
];

/// The metrics that are whole names (not a family with a suffix), what each measures, and
/// whether it is known during the load (and so may be `abort_on_fail`).
pub const SCALARS: [(&str, &str, bool); 19] = [
    (
        "success_rate",
        "orders paid over checkouts offered (shed ones included); live: told paid",
        true,
    ),
    (
        "success_rate_eligible",
        "the same over checkouts the card did not decline",
        true,
    ),
    ("shed", "checkouts shed at the in-flight cap", true),
    ("errors", "checkouts with no usable answer", true),
    ("sent", "checkouts sent (not shed)", true),
    (
        "achieved_rate",
        "checkouts sent per second of the load",
        false,
    ),
    ("send_lag.p99", "p99 lateness of sends, ms", false),
    ("send_lag.max", "largest lateness of a send, ms", false),
    (
        "checks.failed",
        "verification checks with at least one violation",
        false,
    ),
    (
        "webhook_ack.p50",
        "p50 time the merchant takes to answer a genuine webhook delivery, ms",
        false,
    ),
    (
        "webhook_ack.p99",
        "p99 of the same, ms (the `webhook_ack_p99_ms_max` gate)",
        false,
    ),
    (
        "recovery_s",
        "slowest recovery after a fault window, s; no data when a window never recovered",
        false,
    ),
    (
        "recovery.unrecovered",
        "fault windows that did not recover within the run",
        false,
    ),
    (
        "alarm_delay_s",
        "slowest detection by the merchant's alert of an expected alarm, s (`[alarm]`)",
        false,
    ),
    (
        "alarm.missed",
        "expected alarms no alert arrived for (the `alarm_missed_max` gate)",
        false,
    ),
    (
        "alarm.false",
        "alerts received that match no expected alarm",
        false,
    ),
    (
        "capacity.knee",
        "a capacity run's knee: the highest rate that held the SLO, per second",
        false,
    ),
    (
        "failover_s",
        "slowest failover: a primary fault window's start to the first payment on a backup, s",
        false,
    ),
    (
        "failback_s",
        "slowest fail-back: a primary fault window's end to the first payment on the primary, s",
        false,
    ),
];

/// Every metric name a threshold may name, in catalogue order.
pub fn catalogue() -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for (p, _) in PERCENTILES {
        out.push(format!("latency.{p}"));
    }
    for o in OUTCOMES {
        for (p, _) in PERCENTILES {
            out.push(format!("latency.{o}.{p}"));
        }
    }
    for (p, _) in PERCENTILES {
        out.push(p.to_string());
    }
    out.extend(SCALARS.iter().map(|(n, _, _)| n.to_string()));
    out.extend(CHECK_NAMES.iter().map(|c| format!("checks.{c}")));
    out
}

/// The catalogue in one line, by family, for an error message.
pub fn catalogue_summary() -> String {
    format!(
        "latency.<stat>, latency.<outcome>.<stat> and the shorthand <stat> (stat: p50, p90, \
         p95, p99, p999, max; outcome: {}), checks.<check> (one of {}), {} (the README's \
         \"Thresholds\" section describes each)",
        OUTCOMES.join(", "),
        CHECK_NAMES.join(", "),
        SCALARS.map(|(n, _, _)| n).join(", ")
    )
}

/// Whether `metric` is watched during the load, so that it may be `abort_on_fail`.
pub fn is_live(metric: &str) -> bool {
    live_latency(metric).is_some() || SCALARS.iter().any(|&(n, _, live)| live && n == metric)
}

/// Whether the live value of `metric` can only grow while the load runs (a count, or the
/// largest latency so far), so that only a ceiling can be judged broken before the end.
pub fn is_running_total(metric: &str) -> bool {
    matches!(metric, "sent" | "shed" | "errors") || live_latency(metric) == Some(None)
}

/// The live metrics, for an error message.
pub fn live_summary() -> String {
    let scalars: Vec<&str> = SCALARS
        .iter()
        .filter(|(_, _, live)| *live)
        .map(|(n, _, _)| *n)
        .collect();
    format!(
        "latency.<stat> or <stat> over every outcome (stat: p50, p90, p95, p99, p999, max), {}",
        scalars.join(", ")
    )
}

/// The statistic of an overall latency metric (`latency.p99` or `p99`): its quantile, `None`
/// for the maximum; `None` outside for any other name.
pub fn live_latency(metric: &str) -> Option<Option<f64>> {
    let stat = metric.strip_prefix("latency.").unwrap_or(metric);
    PERCENTILES
        .iter()
        .find(|(p, _)| *p == stat)
        .map(|(_, q)| *q)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_operator_compares_as_written() {
        let cases = [
            ("<=", [true, true, false]),
            (">=", [false, true, true]),
            ("<", [true, false, false]),
            (">", [false, false, true]),
            ("==", [false, true, false]),
        ];
        for (text, want) in cases {
            let op = Op::parse(text).unwrap();
            assert_eq!(op.as_str(), text);
            let got = [1.0, 2.0, 3.0].map(|actual| op.holds(actual, 2.0));
            assert_eq!(got, want, "{text}");
        }
        assert_eq!(Op::parse("=<"), None);
    }

    #[test]
    fn the_catalogue_has_each_family_and_live_ones_are_marked() {
        let c = catalogue();
        for name in [
            "latency.p95",
            "latency.paid.p99",
            "p95",
            "checks.double_charge",
            "capacity.knee",
            "webhook_ack.p99",
        ] {
            assert!(c.iter().any(|n| n == name), "{name}");
        }
        let unique: std::collections::BTreeSet<_> = c.iter().collect();
        assert_eq!(unique.len(), c.len(), "no name twice");
        assert!(is_live("p99") && is_live("latency.max") && is_live("shed"));
        assert!(!is_live("latency.paid.p99") && !is_live("capacity.knee"));
    }
}
