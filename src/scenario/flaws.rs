//! Deliberate integration bugs the reference merchant can be told to have
//! (`[merchant] flaws = [...]`), each a real mistake seen in payment integrations. Only the
//! set lives here, as plain data; each flaw is one line of behaviour in `merchant`, checked
//! at exactly one decision point (`flaws.has(Flaw::X)`). The verifier must name each with
//! the check that catches it.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::domain::{label, parse_label};

/// One planted bug. The doc line says what real mistake it models; the serde name is the
/// word in scenarios, on the command line and in reports.
#[derive(
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    strum::EnumIter,
)]
#[serde(rename_all = "snake_case")]
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
    /// Leaves `metadata[order_id]` out of the charge: the provider's records cannot say
    /// which order the money paid (unattributed charge).
    ChargeWithoutMetadata,
    /// Charges a paid order once more, the second time without `metadata[order_id]` (a
    /// second payment path, a retry job that lost the order): money no order owns
    /// (unattributed charge).
    DoubleChargeWithoutMetadata,
    /// A webhook handler that fails (500) on the first delivery of every event and works
    /// on the redelivery; polling hides it (webhook rejected).
    CrashFirstDelivery,
    /// Sends the customer's raw card number (`payment_method_data[card][number]`) instead of
    /// the payment method id: card data in the merchant's own systems (raw card data).
    RawPan,
    /// Enforces none of the velocity limits it declares (`[merchant.velocity]`): a card
    /// tester's whole burst reaches the provider (card testing unthrottled).
    NoVelocityLimit,
    /// Reads an unknown outcome on the primary channel (a timeout, an answer lost) as "not
    /// charged" and charges the order on a backup channel at once, without asking the
    /// primary first: an order the primary did charge is charged twice (charged on two
    /// channels).
    FailoverUnknownOutcome,
    /// Marks an order paid from the return page's `redirect_status=succeeded`, which the
    /// browser sends and anyone can type, instead of retrieving the payment (paid on forged
    /// return).
    TrustReturnParams,
    /// Fulfils a redirected (3D Secure) payment only when the customer comes back to the
    /// return page: its `succeeded` webhook is ignored and the reconciler skips it, so a
    /// customer whose browser dies after authenticating leaves a paid order pending (stuck
    /// pending).
    FulfilOnReturnOnly,
    /// Hands the provider a return URL the merchant does not serve: the customer coming
    /// back from the challenge meets a 404 and believes a paid order failed (customer
    /// misinformed).
    WrongReturnUrl,
    /// Takes a second payment for an order with another card whatever the order's state:
    /// a customer who cannot tell that the first card paid (the browser died after the
    /// challenge) and pays again is charged twice (double charge).
    SecondAttemptDoubleCharge,
}

impl Flaw {
    /// Every flaw, in documentation order.
    pub fn all() -> impl Iterator<Item = Flaw> {
        <Flaw as strum::IntoEnumIterator>::iter()
    }

    /// The snake_case name used in scenarios and reports (the serde name).
    pub fn as_str(self) -> &'static str {
        label(&self)
    }

    /// Parses a name written by [`Flaw::as_str`].
    pub fn parse(name: &str) -> Option<Flaw> {
        parse_label(name)
    }

    /// Every accepted name, quoted and comma-separated, for error messages.
    pub fn accepted() -> String {
        let names: Vec<String> = Flaw::all().map(|f| format!("\"{}\"", f.as_str())).collect();
        names.join(", ")
    }

    fn bit(self) -> u32 {
        1 << self as u32
    }
}

impl fmt::Display for Flaw {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A set of flaws; empty for the correct merchant. Copy, so every decision can hold one.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Flaws(u32);

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

    /// The flaws switched on, in [`Flaw::all`] order.
    pub fn iter(self) -> impl Iterator<Item = Flaw> {
        Flaw::all().filter(move |f| self.has(*f))
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
        for f in Flaw::all() {
            assert_eq!(serde_json::to_value(f).unwrap(), f.as_str());
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
        for f in Flaw::all() {
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
