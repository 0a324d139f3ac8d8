//! The reference merchant's own failure-rate monitor: it counts the answers it gives at
//! checkout in per-second slots, evaluates the scenario's `[alarm]` rule every second over
//! its own clock, and posts an Alertmanager-shaped notification (firing, then resolved) to
//! the alert receiver it was given, as a merchant's Prometheus and Alertmanager would.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use bytes::Bytes;
use http_body_util::Full;
use hyper::{Method, Request};
use tokio_util::sync::CancellationToken;

use crate::alertmanager::Notification;
use crate::domain::OrderStatus;
use crate::net::{LoopbackUrl, Pool};
use crate::scenario::alarm::AlarmSpec;

/// The alert's name, as a Prometheus alerting rule would give it.
pub const ALERT_NAME: &str = "CheckoutFailureRate";

/// How long one post to the receiver may take.
const POST_TIMEOUT: Duration = Duration::from_secs(2);

/// Where the monitor posts and what it watches for.
#[derive(Clone, Debug)]
pub struct MonitorConfig {
    /// The alert receiver's URL (loopback).
    pub url: String,
    pub spec: AlarmSpec,
}

/// One second's answers; `second` is the second since the start plus one (0: never used).
#[derive(Default)]
struct Slot {
    second: AtomicU64,
    total: AtomicU64,
    failed: AtomicU64,
}

/// The counting half, shared with the checkout handler: one atomic add per answer, no lock.
pub struct Monitor {
    started: Instant,
    spec: AlarmSpec,
    /// A ring of window + 2 seconds: the one being written never overlaps the ones read.
    ring: Box<[Slot]>,
}

impl Monitor {
    pub fn new(spec: AlarmSpec, started: Instant) -> Monitor {
        let len = spec.window.as_secs() as usize + 2;
        Monitor {
            started,
            spec,
            ring: (0..len).map(|_| Slot::default()).collect(),
        }
    }

    /// Counts one answer told to a customer at checkout.
    pub fn record(&self, told: OrderStatus) {
        self.record_at(self.started.elapsed().as_secs(), told);
    }

    fn record_at(&self, sec: u64, told: OrderStatus) {
        let slot = &self.ring[(sec % self.ring.len() as u64) as usize];
        let mark = sec + 1;
        let seen = slot.second.load(Ordering::Acquire);
        // The first answer of a new second takes the slot over. An answer racing that
        // takeover may be lost: a monitor's figure, not the report's (which counts exactly).
        if seen != mark
            && slot
                .second
                .compare_exchange(seen, mark, Ordering::AcqRel, Ordering::Acquire)
                .is_ok()
        {
            slot.total.store(0, Ordering::Release);
            slot.failed.store(0, Ordering::Release);
        }
        slot.total.fetch_add(1, Ordering::AcqRel);
        if self.spec.failures.counts(Some(told)) {
            slot.failed.fetch_add(1, Ordering::AcqRel);
        }
    }

    /// Answers and failures in the seconds `[t - window, t)`.
    fn window_at(&self, t: u64) -> (u64, u64) {
        let from = t.saturating_sub(self.spec.window.as_secs());
        (from..t).fold((0, 0), |(n, f), s| {
            let slot = &self.ring[(s % self.ring.len() as u64) as usize];
            if slot.second.load(Ordering::Acquire) != s + 1 {
                return (n, f);
            }
            (
                n + slot.total.load(Ordering::Acquire),
                f + slot.failed.load(Ordering::Acquire),
            )
        })
    }

    /// The alarm's next state at tick `t`, from `firing`: the `[alarm]` rule.
    fn judge(&self, t: u64, firing: bool) -> bool {
        let (n, f) = self.window_at(t);
        if n < self.spec.min_sample {
            return firing;
        }
        f as f64 / n as f64 >= self.spec.threshold - 1e-12
    }
}

/// Evaluates every second until `shutdown`, posting on each change of state.
pub async fn run(monitor: Arc<Monitor>, url: String, shutdown: CancellationToken) {
    let pool = match LoopbackUrl::parse(&url) {
        Ok(u) => Pool::new(&u, 1),
        Err(e) => {
            tracing::warn!("merchant monitor: alert receiver {url}: {e}; not monitoring");
            return;
        }
    };
    let path = url
        .splitn(4, '/')
        .nth(3)
        .map_or("/".to_string(), |p| format!("/{p}"));
    let labels: BTreeMap<String, String> = [
        ("alertname", ALERT_NAME),
        ("service", "paychaos-reference-merchant"),
        ("severity", "page"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    let summary = format!(
        "checkout failures ({}) at or above {:.0}% over {} s",
        monitor.spec.failures.describe(),
        monitor.spec.threshold * 100.0,
        monitor.spec.window.as_secs()
    );
    let annotations: BTreeMap<String, String> =
        [("summary".to_string(), summary)].into_iter().collect();
    let mut firing_since: Option<SystemTime> = None;
    for t in 1u64.. {
        let at = tokio::time::Instant::from_std(monitor.started + Duration::from_secs(t));
        tokio::select! {
            _ = tokio::time::sleep_until(at) => {}
            _ = shutdown.cancelled() => return,
        }
        let now = monitor.judge(t, firing_since.is_some());
        let n = match (firing_since, now) {
            (None, true) => {
                let since = SystemTime::now();
                firing_since = Some(since);
                Notification::single("paychaos", labels.clone(), annotations.clone(), since, None)
            }
            (Some(since), false) => {
                firing_since = None;
                let now = SystemTime::now();
                Notification::single(
                    "paychaos",
                    labels.clone(),
                    annotations.clone(),
                    since,
                    Some(now),
                )
            }
            _ => continue,
        };
        let body = serde_json::to_vec(&n).expect("a notification serialises");
        let req = Request::builder()
            .method(Method::POST)
            .uri(path.as_str())
            .header(hyper::header::CONTENT_TYPE, "application/json")
            .body(Full::new(Bytes::from(body)))
            .expect("a valid request");
        match pool.send(req, POST_TIMEOUT).await {
            Ok(r) if r.status.is_success() => {}
            Ok(r) => tracing::warn!("merchant monitor: the alert receiver answered {}", r.status),
            Err(e) => tracing::warn!("merchant monitor: posting the alert failed: {e}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::FailReason;
    use crate::scenario::alarm::Failures;

    fn monitor() -> Monitor {
        Monitor::new(
            AlarmSpec {
                window: Duration::from_secs(2),
                min_sample: 4,
                threshold: 0.5,
                failures: Failures::ProviderTrouble,
                monitor: true,
            },
            Instant::now(),
        )
    }

    #[test]
    fn the_monitor_judges_its_window_with_the_alarm_rule() {
        let m = monitor();
        let bad = OrderStatus::Failed(FailReason::ProviderError);
        for _ in 0..3 {
            m.record_at(0, OrderStatus::Paid);
        }
        assert!(!m.judge(1, false), "3 answers: below the minimum sample");
        m.record_at(0, OrderStatus::Failed(FailReason::InsufficientFunds));
        assert!(!m.judge(1, false), "a decline is not provider trouble");
        for _ in 0..4 {
            m.record_at(1, bad);
        }
        assert!(m.judge(2, false), "4 of 8 over [0, 2)");
        // Second 4 reuses second 0's slot: the old counts go.
        m.record_at(4, OrderStatus::Paid);
        assert_eq!(m.window_at(5), (1, 0));
        assert!(m.judge(5, true), "too few answers: the state holds");
        for _ in 0..4 {
            m.record_at(5, OrderStatus::Paid);
        }
        assert!(!m.judge(6, true));
    }
}
