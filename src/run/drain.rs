//! The drain after the load: how long the run waits for late charges, webhook deliveries and
//! the merchant's reconciliation to settle, and when it stops waiting. An interrupted run
//! still drains briefly so that what was in flight settles and the report can say so.

use std::time::Duration;

use tokio_util::sync::CancellationToken;

use super::harness::Harness;
use crate::domain::{OrderSnapshot, OrderStatus};
use crate::provider::ProviderHandle;

/// The most an interrupted run waits for things to settle.
pub const BRIEF: Duration = Duration::from_secs(3);

/// How often the provider and the merchant are asked whether everything settled.
const POLL: Duration = Duration::from_millis(100);

/// The drain a run gets: the scenario's `drain.timeout`, or at most [`BRIEF`] when the load
/// was interrupted.
pub fn limit(timeout: Duration, interrupted: bool) -> Duration {
    if interrupted {
        timeout.min(BRIEF)
    } else {
        timeout
    }
}

/// Waits until the provider is idle (late charges executed, webhook deliveries done), the
/// merchant is not `busy` (the embedded one: no owed refund still retried) and no order is
/// pending at the merchant, or until `limit` passes (at most [`BRIEF`] more once
/// `interrupt` fires; at once on `abort`). Returns whether everything settled.
pub async fn drain(
    harness: &Harness,
    order_ids: &[String],
    limit: Duration,
    busy: impl Fn() -> bool,
    interrupt: &CancellationToken,
    abort: &CancellationToken,
) -> bool {
    let provider = harness.provider.as_ref();
    let mut deadline = tokio::time::Instant::now() + limit;
    // Settled on two polls in a row: work the last acknowledgement started (a refund of a
    // late payment) has then reached the provider.
    let mut settled_before = false;
    loop {
        // An external provider's own work is not visible: the merchant's orders tell.
        let now_settled = provider.is_none_or(ProviderHandle::idle)
            && !busy()
            && matches!(
                harness.read_orders(&harness.contract, order_ids).await,
                Ok(orders) if settled(&orders, order_ids.len())
            );
        if now_settled && settled_before {
            return true;
        }
        settled_before = now_settled;
        if interrupt.is_cancelled() {
            deadline = deadline.min(tokio::time::Instant::now() + BRIEF);
        }
        tokio::select! {
            _ = tokio::time::sleep_until(deadline) => return false,
            _ = abort.cancelled() => return false,
            _ = tokio::time::sleep(POLL) => {}
        }
    }
}

/// Every sent order is known to the merchant and none is pending.
fn settled(orders: &[OrderSnapshot], expected: usize) -> bool {
    orders.len() >= expected && orders.iter().all(|o| o.status != OrderStatus::Pending)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_interrupted_run_drains_briefly_and_never_longer_than_the_scenario_says() {
        let thirty = Duration::from_secs(30);
        assert_eq!(limit(thirty, false), thirty);
        assert_eq!(limit(thirty, true), BRIEF);
        let one = Duration::from_secs(1);
        assert_eq!(limit(one, true), one);
    }

    #[test]
    fn settled_needs_every_sent_order_and_none_pending() {
        let order = |id: &str, status| OrderSnapshot {
            order_id: id.into(),
            status,
            fulfilments: None,
        };
        let paid = [order("a", OrderStatus::Paid), order("b", OrderStatus::Paid)];
        assert!(settled(&paid, 2));
        assert!(
            !settled(&paid[..1], 2),
            "an order the merchant does not know yet"
        );
        let pending = [
            order("a", OrderStatus::Paid),
            order("b", OrderStatus::Pending),
        ];
        assert!(!settled(&pending, 2));
    }
}
