//! The merchant's webhook endpoint as the provider met it: how its genuine deliveries (each
//! event and its duplicate copy, correctly signed; never the attacker copies, never the
//! attempts chaos dropped unsent) were answered. A broken endpoint shows here even when
//! the merchant's polling settles every order; `webhook_rejected` names the events.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use crate::domain::{DeliveryFailure, WebhookAttempt};
use crate::metrics::{histogram, Percentiles, MAX_US};

/// The key of [`EndpointHealth::refused_by_status`] for a 2xx the provider does not take as
/// an acknowledgement (the gateway's exact body `success` missing).
pub const BAD_2XX: &str = "2xx_without_required_body";

/// How the webhook endpoint answered the run's genuine deliveries.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct EndpointHealth {
    /// Genuine attempts sent to the merchant.
    pub attempts: u64,
    /// Genuine deliveries (an event, or its duplicate copy) with at least one attempt sent.
    pub deliveries: u64,
    /// Deliveries whose first sent attempt was acknowledged.
    pub first_attempt_accepted: u64,
    /// `first_attempt_accepted / deliveries`; `None` when none was sent.
    pub first_attempt_acceptance: Option<f64>,
    /// Attempts the merchant answered with a refusal, by status ([`BAD_2XX`] for a 2xx
    /// without the body the gateway requires).
    pub refused_by_status: BTreeMap<String, u64>,
    /// Attempts without an answer within the delivery timeout.
    pub timeouts: u64,
    /// Attempts whose connection failed or broke before an answer.
    pub connection_errors: u64,
    /// Time to the merchant's answer, ms, over attempts answered or timed out (a timed-out
    /// attempt counts its time to the timeout, a lower bound): the
    /// `webhook_ack_p99_ms_max` gate reads `p99`.
    pub ack_latency_ms: EndpointLatency,
}

/// Percentiles of the endpoint's answer time, in ms.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct EndpointLatency {
    pub p50: f64,
    pub p99: f64,
}

impl EndpointHealth {
    /// `first attempt accepted 0 of 120 (0.0%); refused: 500 ×120; 0 timeouts, 0 connection
    /// errors; answer p50 1.2 ms, p99 3.4 ms` (or `no genuine delivery sent`).
    pub fn line(&self) -> String {
        let Some(rate) = self.first_attempt_acceptance else {
            return "no genuine delivery sent".to_string();
        };
        let refused = if self.refused_by_status.is_empty() {
            "none".to_string()
        } else {
            let v: Vec<String> = self
                .refused_by_status
                .iter()
                .map(|(s, n)| format!("{s} ×{n}"))
                .collect();
            v.join(", ")
        };
        format!(
            "first attempt accepted {} of {} ({:.1}%); refused: {refused}; {} timeouts, {} \
             connection errors; answer p50 {:.1} ms, p99 {:.1} ms",
            self.first_attempt_accepted,
            self.deliveries,
            rate * 100.0,
            self.timeouts,
            self.connection_errors,
            self.ack_latency_ms.p50,
            self.ack_latency_ms.p99
        )
    }
}

/// The endpoint's health over the delivery log.
pub fn endpoint_health(log: &[WebhookAttempt]) -> EndpointHealth {
    let sent: Vec<&WebhookAttempt> = log
        .iter()
        .filter(|w| !w.is_attack() && !w.dropped && w.failure != Some(DeliveryFailure::Dropped))
        .collect();
    let mut h = EndpointHealth {
        attempts: sent.len() as u64,
        ..EndpointHealth::default()
    };
    // The first attempt sent of each delivery: the lowest attempt number of (event, copy).
    let mut first: BTreeMap<(&str, bool), &WebhookAttempt> = BTreeMap::new();
    let mut latency = histogram();
    for &w in &sent {
        let slot = first.entry((w.event_id.as_str(), w.duplicate)).or_insert(w);
        if w.attempt < slot.attempt {
            *slot = w;
        }
        match (w.status, w.failure) {
            (Some(s), _) if !(200..300).contains(&s) => {
                *h.refused_by_status.entry(s.to_string()).or_default() += 1;
            }
            (_, Some(DeliveryFailure::BadAnswer)) => {
                *h.refused_by_status.entry(BAD_2XX.to_string()).or_default() += 1;
            }
            (_, Some(DeliveryFailure::Timeout)) => h.timeouts += 1,
            (_, Some(DeliveryFailure::Connection)) => h.connection_errors += 1,
            _ => {}
        }
        let answered = w.status.is_some()
            || matches!(
                w.failure,
                Some(DeliveryFailure::BadAnswer | DeliveryFailure::Timeout)
            );
        if answered {
            latency
                .record(w.latency_us.clamp(1, MAX_US))
                .expect("value clamped into bounds");
        }
    }
    let events: BTreeSet<(&str, bool)> = first.keys().copied().collect();
    h.deliveries = events.len() as u64;
    h.first_attempt_accepted = first.values().filter(|w| w.acknowledged()).count() as u64;
    h.first_attempt_acceptance =
        (h.deliveries > 0).then(|| h.first_attempt_accepted as f64 / h.deliveries as f64);
    let p = Percentiles::of(&latency);
    h.ack_latency_ms = EndpointLatency {
        p50: p.p50,
        p99: p.p99,
    };
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    fn attempt(event: &str, attempt: u32, status: Option<u16>) -> WebhookAttempt {
        WebhookAttempt {
            event_id: event.into(),
            event_type: "payment_intent.succeeded".into(),
            order_id: Some("ord-000001".into()),
            payment_id: Some("pi_1".into()),
            attempt,
            at_ms: 10,
            latency_us: 2_000,
            duplicate: false,
            forged: false,
            stale: false,
            unsigned: false,
            dropped: false,
            reordered: false,
            delay_ms: 0,
            status,
            error: None,
            failure: None,
        }
    }

    #[test]
    fn a_handler_failing_every_first_delivery_reads_zero_first_attempt_acceptance() {
        let log = [
            attempt("evt_1", 0, Some(500)),
            attempt("evt_1", 1, Some(200)),
            attempt("evt_2", 0, Some(500)),
            attempt("evt_2", 1, Some(200)),
        ];
        let h = endpoint_health(&log);
        assert_eq!(
            (h.attempts, h.deliveries, h.first_attempt_accepted),
            (4, 2, 0)
        );
        assert_eq!(h.first_attempt_acceptance, Some(0.0));
        assert_eq!(h.refused_by_status.get("500"), Some(&2));
        assert!(
            h.line()
                .starts_with("first attempt accepted 0 of 2 (0.0%); refused: 500 ×2; 0 timeouts"),
            "{}",
            h.line()
        );
    }

    #[test]
    fn drops_and_attacker_copies_are_not_the_endpoints_doing() {
        let mut dropped = attempt("evt_1", 0, None);
        (dropped.dropped, dropped.failure) = (true, Some(DeliveryFailure::Dropped));
        let mut forged = attempt("evt_f", 0, Some(400));
        forged.forged = true;
        let mut timeout = attempt("evt_2", 0, None);
        (timeout.failure, timeout.latency_us) = (Some(DeliveryFailure::Timeout), 1_000_000);
        let mut refused = attempt("evt_3", 0, None);
        refused.failure = Some(DeliveryFailure::BadAnswer);
        let mut conn = attempt("evt_4", 0, None);
        conn.failure = Some(DeliveryFailure::Connection);
        let mut dup = attempt("evt_1", 0, Some(200));
        dup.duplicate = true;
        let log = [
            dropped,
            attempt("evt_1", 1, Some(200)),
            forged,
            timeout,
            refused,
            conn,
            dup,
        ];
        let h = endpoint_health(&log);
        assert_eq!((h.attempts, h.deliveries), (5, 5));
        assert_eq!(
            h.first_attempt_accepted, 2,
            "evt_1 first sent on attempt 1, and its duplicate"
        );
        assert_eq!((h.timeouts, h.connection_errors), (1, 1));
        assert_eq!(h.refused_by_status.get(BAD_2XX), Some(&1));
        assert!(
            h.ack_latency_ms.p99 >= 999.0,
            "the timeout counts: {:?}",
            h.ack_latency_ms
        );
        assert_eq!(endpoint_health(&[]).line(), "no genuine delivery sent");
    }
}
