//! A standalone provider's bound on what it keeps: the newest N payments, and in proportion
//! their ledger entries, idempotency keys, events and webhook attempts, so that it can run
//! all day under a developer's test suite. What was forgotten is counted for the control
//! API. The embedded run keeps everything: its verifier reads the whole record.

use serde::Serialize;

use crate::provider::exec::State;

/// Ledger entries kept per payment kept: a charge, its retries, a read and a refund.
pub const ENTRIES_PER_PAYMENT: usize = 4;
/// Idempotency keys kept per payment kept: its charge's and a refund's.
pub const KEYS_PER_PAYMENT: usize = 2;
/// Events kept per payment kept: a failure and the success after it.
pub const EVENTS_PER_PAYMENT: usize = 2;
/// Webhook attempts kept per payment kept: its events' deliveries and a few retries.
pub const ATTEMPTS_PER_PAYMENT: usize = 4;

/// `paychaos provider`'s default: far more payments than a test suite reads back, and a
/// bound on memory whatever the length of the session.
pub const DEFAULT_PAYMENTS: usize = 100_000;

/// How much a bounded provider keeps.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Retention {
    /// The newest payments (intents) kept; at least 1.
    pub payments: usize,
}

impl Retention {
    /// Webhook attempts the dispatcher's log keeps.
    pub fn attempts(self) -> usize {
        self.payments.saturating_mul(ATTEMPTS_PER_PAYMENT)
    }
}

/// What a bounded provider has forgotten so far, by kind of record.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Evicted {
    pub payments: u64,
    pub ledger_entries: u64,
    pub idempotency_keys: u64,
    pub events: u64,
}

impl State {
    /// Forgets the oldest records past `r`, counting them in `self.evicted`.
    pub(super) fn retain(&mut self, r: Retention) {
        let first = self.ledger.first_number();
        let gone = self.ledger.evict_payments(r.payments);
        for i in first..self.ledger.first_number() {
            self.events.forget_payment(i);
        }
        let count = |n: usize| n as u64;
        self.evicted.payments += count(gone.len());
        self.evicted.ledger_entries += count(
            self.ledger
                .evict_entries(r.payments.saturating_mul(ENTRIES_PER_PAYMENT)),
        );
        self.evicted.idempotency_keys +=
            count(self.keys.evict(r.payments.saturating_mul(KEYS_PER_PAYMENT)));
        self.evicted.events += count(
            self.events
                .evict(r.payments.saturating_mul(EVENTS_PER_PAYMENT)),
        );
    }
}
