use std::time::Duration;

use super::*;
use crate::domain::{CheckoutAnswer, OrderStatus};

#[test]
fn nothing_is_shown_before_its_part_starts() {
    assert_eq!(render(&Arc::new(LiveSources::default())), "");
}

#[test]
fn the_load_s_counters_and_latency_read_as_prometheus_text() {
    let sources = Arc::new(LiveSources::default());
    let live = Arc::new(LiveCounters::default());
    live.on_sent(Duration::ZERO);
    live.on_sent(Duration::ZERO);
    live.on_shed(Duration::ZERO);
    let paid = CheckoutAnswer::Told {
        status: OrderStatus::Paid,
    };
    live.on_answer(Duration::ZERO, &paid, 3_000);
    sources.load.set(live).unwrap();
    let text = render(&sources);
    for line in [
        "# TYPE paychaos_checkouts_sent_total counter",
        "paychaos_checkouts_sent_total 2",
        "paychaos_checkouts_answered_total{outcome=\"paid\"} 1",
        "paychaos_checkouts_answered_total{outcome=\"error\"} 0",
        "paychaos_checkouts_shed_total 1",
        "paychaos_checkouts_in_flight 1",
        "# TYPE paychaos_checkout_latency_seconds histogram",
        "paychaos_checkout_latency_seconds_bucket{le=\"0.0025\"} 0",
        "paychaos_checkout_latency_seconds_bucket{le=\"0.005\"} 1",
        "paychaos_checkout_latency_seconds_bucket{le=\"+Inf\"} 1",
        "paychaos_checkout_latency_seconds_count 1",
    ] {
        assert!(text.lines().any(|l| l == line), "no `{line}` in:\n{text}");
    }
}
