//! Reorder chaos: an event chosen for it is held back until a later event of the same payment
//! has been delivered, so the later one reaches the merchant first (a `payment_failed` after
//! the `succeeded` that followed it). An event with no later sibling in sight goes out after
//! [`REORDER_WAIT`]. The book of which events each payment had is kept only while the chaos is on.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::Notify;

use super::Shared;

/// How long a held event waits for a later event of its payment to be created.
pub const REORDER_WAIT: Duration = Duration::from_secs(1);

/// The longest a held event waits for a later event that exists but is not delivered yet.
pub const REORDER_MAX_HOLD: Duration = Duration::from_secs(10);

/// The events of one payment, by creation number.
#[derive(Debug, Default)]
struct Payment {
    created: Vec<u64>,
    delivered: Vec<u64>,
    /// Wakes the events of this payment held back, when one of its deliveries ends.
    changed: Arc<Notify>,
}

/// Every payment's events; a std mutex, each section a push or a scan of a few numbers.
#[derive(Debug, Default)]
pub(super) struct Book {
    payments: Mutex<HashMap<String, Payment>>,
}

impl Book {
    /// Event `n` of `payment` was created.
    pub(super) fn created(&self, payment: &str, n: u64) {
        let mut p = self.payments.lock().unwrap_or_else(|e| e.into_inner());
        p.entry(payment.to_string()).or_default().created.push(n);
    }

    /// Event `n`'s genuine delivery of `payment` is over (acknowledged or given up on).
    pub(super) fn delivered(&self, payment: &str, n: u64) {
        let changed = {
            let mut p = self.payments.lock().unwrap_or_else(|e| e.into_inner());
            let Some(entry) = p.get_mut(payment) else {
                return;
            };
            entry.delivered.push(n);
            entry.changed.clone()
        };
        changed.notify_waiters();
    }

    /// The payment's wake-up, fired whenever one of its deliveries ends.
    fn wake(&self, payment: &str) -> Arc<Notify> {
        let mut p = self.payments.lock().unwrap_or_else(|e| e.into_inner());
        p.entry(payment.to_string()).or_default().changed.clone()
    }

    /// Whether a later event than `n` was created, and whether one was delivered.
    fn look(&self, payment: &str, n: u64) -> (bool, bool) {
        let p = self.payments.lock().unwrap_or_else(|e| e.into_inner());
        p.get(payment).map_or((false, false), |e| {
            (
                e.created.iter().any(|&m| m > n),
                e.delivered.iter().any(|&m| m > n),
            )
        })
    }
}

/// What a held event does now.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Verdict {
    /// Go out now; `reordered` when a later event was delivered first.
    Go { reordered: bool },
    /// Look again after this long at the latest (or when a delivery of the payment ends).
    Wait(Duration),
}

/// The rule, given what is known about later events and how long the event has waited.
pub(super) fn verdict(later_created: bool, later_delivered: bool, waited: Duration) -> Verdict {
    if later_delivered {
        return Verdict::Go { reordered: true };
    }
    let limit = if later_created {
        REORDER_MAX_HOLD
    } else {
        REORDER_WAIT
    };
    match limit.checked_sub(waited) {
        Some(left) if !left.is_zero() => Verdict::Wait(left),
        _ => Verdict::Go { reordered: false },
    }
}

/// Holds event `n` of `payment` (enqueued at `since`) back per [`verdict`]; `Some(reordered)`
/// when it may go, `None` on shutdown.
pub(super) async fn hold(shared: &Shared, payment: &str, n: u64, since: Instant) -> Option<bool> {
    let changed = shared.order.wake(payment);
    loop {
        // Registered before the book is read, so a delivery ending in between still wakes it.
        let notified = changed.notified();
        tokio::pin!(notified);
        notified.as_mut().enable();
        let (later_created, later_delivered) = shared.order.look(payment, n);
        let left = match verdict(later_created, later_delivered, since.elapsed()) {
            Verdict::Go { reordered } => return Some(reordered),
            Verdict::Wait(left) => left,
        };
        tokio::select! {
            biased;
            _ = shared.shutdown.cancelled() => return None,
            _ = &mut notified => {}
            _ = tokio::time::sleep(left) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    #[test]
    fn a_delivered_later_event_releases_at_once() {
        assert_eq!(
            verdict(true, true, Duration::ZERO),
            Verdict::Go { reordered: true }
        );
    }

    #[test]
    fn without_a_later_event_the_hold_ends_after_the_wait_unreordered() {
        assert_eq!(
            verdict(false, false, 10 * MS),
            Verdict::Wait(REORDER_WAIT - 10 * MS)
        );
        assert_eq!(
            verdict(false, false, REORDER_WAIT),
            Verdict::Go { reordered: false }
        );
    }

    #[test]
    fn a_later_event_in_flight_extends_the_hold_up_to_the_cap() {
        assert_eq!(
            verdict(true, false, REORDER_WAIT),
            Verdict::Wait(REORDER_MAX_HOLD - REORDER_WAIT)
        );
        assert_eq!(
            verdict(true, false, REORDER_MAX_HOLD),
            Verdict::Go { reordered: false }
        );
    }

    #[test]
    fn the_book_sees_only_later_events() {
        let b = Book::default();
        b.created("pi_1", 3);
        b.created("pi_1", 7);
        b.created("pi_2", 9);
        assert_eq!(b.look("pi_1", 3), (true, false));
        b.delivered("pi_1", 7);
        assert_eq!(b.look("pi_1", 3), (true, true));
        assert_eq!(
            b.look("pi_1", 7),
            (false, false),
            "nothing after the last one"
        );
        assert_eq!(b.look("pi_3", 0), (false, false));
        b.delivered("pi_unknown", 1); // no entry: nothing to wake
    }
}
