//! Deliberate integration bugs the reference merchant can be told to have
//! (`[merchant] flaws = [...]`), each a real mistake seen in payment integrations and each
//! one line of behaviour, checked at exactly one decision point (`flaws.has(Flaw::X)`).
//! The verifier must name each with the check that catches it.

use std::fmt;

/// One planted bug. The doc line says what real mistake it models.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Flaw {
    /// Generates a fresh idempotency key for every request, so retrying a timed-out payment
    /// charges it again (double charge).
    NewKeyOnRetry,
    /// Retries every error, card declines included: insufficient funds and risk blocks are
    /// sent again (hard decline retried).
    RetryHardDeclines,
    /// Reads a timeout as a failure: tells the customer "failed" and never looks at the
    /// payment again, so money taken by the timed-out request is kept (lost payment).
    TimeoutIsFailure,
    /// A webhook endpoint that answers 200 and does nothing (a stub, or one listening for
    /// other event types): orders wait for news that never lands (stuck pending).
    IgnoreWebhooks,
    /// Accepts any webhook without checking `Stripe-Signature` (forged accepted).
    SkipSignatureCheck,
    /// Keeps no record of handled event ids: a redelivered `succeeded` event runs its handler
    /// again and ships the order again (duplicate applied).
    NoEventDedupe,
    /// Applies events in arrival order: a late `payment_failed` overwrites a payment that
    /// succeeded after it (out of order).
    LastEventWins,
    /// Tells the customer "payment failed" whatever the cause (wrong reason).
    GenericDeclineMessage,
    /// Keeps the money of a payment that lands after the order was given up on, instead of
    /// refunding it (refund owed).
    NoRefundOnAbandon,
}

impl Flaw {
    /// Every flaw, in documentation order.
    pub const ALL: [Flaw; 9] = [
        Flaw::NewKeyOnRetry,
        Flaw::RetryHardDeclines,
        Flaw::TimeoutIsFailure,
        Flaw::IgnoreWebhooks,
        Flaw::SkipSignatureCheck,
        Flaw::NoEventDedupe,
        Flaw::LastEventWins,
        Flaw::GenericDeclineMessage,
        Flaw::NoRefundOnAbandon,
    ];

    /// The snake_case name used in scenarios and reports.
    pub fn as_str(self) -> &'static str {
        match self {
            Flaw::NewKeyOnRetry => "new_key_on_retry",
            Flaw::RetryHardDeclines => "retry_hard_declines",
            Flaw::TimeoutIsFailure => "timeout_is_failure",
            Flaw::IgnoreWebhooks => "ignore_webhooks",
            Flaw::SkipSignatureCheck => "skip_signature_check",
            Flaw::NoEventDedupe => "no_event_dedupe",
            Flaw::LastEventWins => "last_event_wins",
            Flaw::GenericDeclineMessage => "generic_decline_message",
            Flaw::NoRefundOnAbandon => "no_refund_on_abandon",
        }
    }

    /// Parses a name written by [`Flaw::as_str`].
    pub fn parse(s: &str) -> Option<Flaw> {
        Flaw::ALL.into_iter().find(|f| f.as_str() == s)
    }

    /// Every accepted name, quoted and comma-separated, for error messages.
    pub fn accepted() -> String {
        let names: Vec<String> = Flaw::ALL
            .iter()
            .map(|f| format!("\"{}\"", f.as_str()))
            .collect();
        names.join(", ")
    }

    fn bit(self) -> u16 {
        1 << self as u16
    }
}

impl fmt::Display for Flaw {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A set of flaws; empty for the correct merchant. Copy, so every decision can hold one.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Flaws(u16);

impl Flaws {
    /// No flaw: the correct merchant.
    pub const NONE: Flaws = Flaws(0);

    /// Whether `flaw` is switched on.
    pub fn has(self, flaw: Flaw) -> bool {
        self.0 & flaw.bit() != 0
    }

    /// This set with `flaw` added.
    pub fn with(self, flaw: Flaw) -> Flaws {
        Flaws(self.0 | flaw.bit())
    }

    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// The flaws switched on, in [`Flaw::ALL`] order.
    pub fn iter(self) -> impl Iterator<Item = Flaw> {
        Flaw::ALL.into_iter().filter(move |f| self.has(*f))
    }
}

impl FromIterator<Flaw> for Flaws {
    fn from_iter<I: IntoIterator<Item = Flaw>>(iter: I) -> Flaws {
        iter.into_iter().fold(Flaws::NONE, Flaws::with)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_are_listed_in_accepted() {
        for f in Flaw::ALL {
            assert_eq!(Flaw::parse(f.as_str()), Some(f));
            assert!(Flaw::accepted().contains(&format!("\"{f}\"")));
        }
        assert_eq!(Flaw::parse("no_dedupe"), None);
    }

    #[test]
    fn a_set_has_exactly_what_was_added() {
        let set: Flaws = [Flaw::IgnoreWebhooks, Flaw::NoRefundOnAbandon]
            .into_iter()
            .collect();
        for f in Flaw::ALL {
            let want = matches!(f, Flaw::IgnoreWebhooks | Flaw::NoRefundOnAbandon);
            assert_eq!(set.has(f), want, "{f}");
        }
        assert_eq!(
            set.iter().collect::<Vec<_>>(),
            vec![Flaw::IgnoreWebhooks, Flaw::NoRefundOnAbandon]
        );
        assert!(Flaws::NONE.is_empty() && !set.is_empty());
        assert_eq!(Flaws::NONE.with(Flaw::LastEventWins).iter().count(), 1);
    }
}

/// Each flaw's behaviour at the merchant's HTTP boundary, against a wiremock provider.
#[cfg(test)]
mod http_tests {
    use super::*;
    use crate::merchant::testkit::{self, charges, decline, event, intent, label, SECRET};
    use crate::merchant::MerchantConfig;
    use std::time::Duration;
    use wiremock::{MockServer, ResponseTemplate};

    fn flawed(server: &MockServer, flaw: Flaw) -> MerchantConfig {
        let mut cfg = testkit::config(&server.uri());
        cfg.reference.flaws = Flaws::NONE.with(flaw);
        cfg
    }

    /// A merchant whose only charge times out: the order stays pending for webhooks.
    async fn pending(flaw: Flaw) -> (MockServer, testkit::Running) {
        let server = MockServer::start().await;
        testkit::mount_charge(
            &server,
            ResponseTemplate::new(200).set_delay(Duration::from_secs(2)),
        )
        .await;
        let mut cfg = flawed(&server, flaw);
        cfg.reference.max_retries = 0;
        cfg.reference.reconcile_every = Duration::from_secs(3600);
        let m = testkit::start(cfg).await;
        let (_, answer) = m.checkout("ord-1").await;
        assert_eq!(answer["status"], "pending");
        (server, m)
    }

    #[tokio::test]
    async fn skip_signature_check_takes_a_forged_event() {
        let (_server, m) = pending(Flaw::SkipSignatureCheck).await;
        let ev = event("evt_forged_1", "payment_intent.succeeded", "ord-1", "pi_x");
        let (status, _) = m.webhook(&ev, "whsec_forged_other").await;
        assert_eq!(status, 200);
        assert_eq!(m.order("ord-1").await.1["status"], "paid");
        m.stop().await;
    }

    #[tokio::test]
    async fn ignore_webhooks_acknowledges_and_leaves_the_order_pending() {
        let (_server, m) = pending(Flaw::IgnoreWebhooks).await;
        let ev = event("evt_1", "payment_intent.succeeded", "ord-1", "pi_x");
        assert_eq!(m.webhook(&ev, SECRET).await.0, 200);
        assert_eq!(m.webhook(&ev, "whsec_wrong").await.0, 400, "still verified");
        assert_eq!(m.order("ord-1").await.1["status"], "pending");
        m.stop().await;
    }

    #[tokio::test]
    async fn no_event_dedupe_ships_again_on_a_redelivery() {
        let (_server, m) = pending(Flaw::NoEventDedupe).await;
        let ev = event("evt_1", "payment_intent.succeeded", "ord-1", "pi_x");
        m.webhook(&ev, SECRET).await;
        m.webhook(&ev, SECRET).await;
        let (_, order) = m.order("ord-1").await;
        assert_eq!(
            (order["status"].as_str(), order["fulfilments"].as_u64()),
            (Some("paid"), Some(2))
        );
        m.stop().await;
    }

    #[tokio::test]
    async fn generic_decline_message_hides_the_cause_from_the_customer_only() {
        let server = MockServer::start().await;
        testkit::mount_charge(
            &server,
            ResponseTemplate::new(402).set_body_json(decline("insufficient_funds", "pi_d")),
        )
        .await;
        let m = testkit::start(flawed(&server, Flaw::GenericDeclineMessage)).await;
        let (status, answer) = m.checkout("ord-2").await;
        assert_eq!((status, label(&answer).as_str()), (402, "failed_declined"));
        assert_eq!(answer["message"], "Payment failed.");
        assert_eq!(
            label(&m.order("ord-2").await.1),
            "failed_insufficient_funds"
        );
        m.stop().await;
    }

    #[tokio::test]
    async fn retry_hard_declines_sends_the_decline_again() {
        let server = MockServer::start().await;
        testkit::mount_charge(
            &server,
            ResponseTemplate::new(402).set_body_json(decline("fraudulent", "pi_d")),
        )
        .await;
        let cfg = flawed(&server, Flaw::RetryHardDeclines);
        let m = testkit::start(cfg.clone()).await;
        let (_, answer) = m.checkout("ord-3").await;
        assert_eq!(label(&answer), "failed_risk_blocked");
        assert_eq!(
            charges(&server).await.len() as u32,
            1 + cfg.reference.max_retries
        );
        m.stop().await;
    }

    #[tokio::test]
    async fn timeout_is_failure_says_failed_and_keeps_a_later_payment() {
        let server = MockServer::start().await;
        testkit::mount_charge(
            &server,
            ResponseTemplate::new(200)
                .set_body_json(intent("pi_late", "ord-4"))
                .set_delay(Duration::from_secs(2)),
        )
        .await;
        let m = testkit::start(flawed(&server, Flaw::TimeoutIsFailure)).await;
        let (_, answer) = m.checkout("ord-4").await;
        assert_eq!(label(&answer), "failed_provider_error");
        assert_eq!(
            charges(&server).await.len(),
            1,
            "no retry after the timeout"
        );
        let ev = event("evt_4", "payment_intent.succeeded", "ord-4", "pi_late");
        assert_eq!(m.webhook(&ev, SECRET).await.0, 200);
        let refunds = server
            .received_requests()
            .await
            .unwrap()
            .iter()
            .filter(|r| r.url.path() == "/v1/refunds")
            .count();
        assert_eq!(refunds, 0, "never looks again, so never refunds");
        m.stop().await;
    }

    #[tokio::test]
    async fn new_key_on_retry_sends_each_attempt_under_its_own_key() {
        let server = MockServer::start().await;
        testkit::mount_charge(&server, ResponseTemplate::new(500)).await;
        let m = testkit::start(flawed(&server, Flaw::NewKeyOnRetry)).await;
        m.checkout("ord-5").await;
        let keys: Vec<String> = charges(&server).await.iter().map(testkit::key_of).collect();
        assert_eq!(keys, ["ord-5:charge:0", "ord-5:charge:1", "ord-5:charge:2"]);
        m.stop().await;
    }
}
