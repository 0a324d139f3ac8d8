//! Payment terms shared by every part: money, what a customer was told, order states, and
//! the records each part hands to the verifier (ledger entries, webhook attempts, checkout
//! answers, final order states), and the fault catalogue those records name (`fault.rs`).
//! Plain data only; no part's logic lives here. Imports no other module of the crate.

mod fault;

use serde::{Deserialize, Serialize};

pub use fault::FaultKind;

/// An amount in the currency's minor unit (cents for USD).
pub type Amount = u64;

/// Why a payment did not go through, as the customer should be told.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FailReason {
    /// The card has insufficient funds (gateway code 101, Stripe `insufficient_funds`).
    InsufficientFunds,
    /// The provider's risk control blocked the payment (Stripe `fraudulent`, Radar block).
    RiskBlocked,
    /// The provider could not be reached or answered with an error; nothing was charged.
    ProviderError,
    /// A decline with no more specific reason.
    Declined,
}

impl FailReason {
    /// Every reason, in report order.
    pub const ALL: [FailReason; 4] = [
        FailReason::InsufficientFunds,
        FailReason::RiskBlocked,
        FailReason::ProviderError,
        FailReason::Declined,
    ];

    /// The snake_case word used on the wire and in reports.
    pub fn as_str(self) -> &'static str {
        match self {
            FailReason::InsufficientFunds => "insufficient_funds",
            FailReason::RiskBlocked => "risk_blocked",
            FailReason::ProviderError => "provider_error",
            FailReason::Declined => "declined",
        }
    }

    /// Parses the word written by [`FailReason::as_str`].
    pub fn parse(s: &str) -> Option<FailReason> {
        FailReason::ALL.into_iter().find(|r| r.as_str() == s)
    }
}

/// The state of an order as the merchant sees it, and what it told the customer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum OrderStatus {
    /// Paid: goods will be delivered.
    Paid,
    /// Not paid, with the reason given to the customer.
    Failed(FailReason),
    /// Outcome not yet known; the merchant will settle it from webhooks or by asking.
    Pending,
}

impl OrderStatus {
    /// A single label for reports and confusion matrices: `paid`, `pending`, `failed_<reason>`.
    pub fn label(self) -> &'static str {
        match self {
            OrderStatus::Paid => "paid",
            OrderStatus::Pending => "pending",
            OrderStatus::Failed(FailReason::InsufficientFunds) => "failed_insufficient_funds",
            OrderStatus::Failed(FailReason::RiskBlocked) => "failed_risk_blocked",
            OrderStatus::Failed(FailReason::ProviderError) => "failed_provider_error",
            OrderStatus::Failed(FailReason::Declined) => "failed_declined",
        }
    }

    /// Every label [`OrderStatus::label`] can give, in report order.
    pub const LABELS: [&'static str; 6] = [
        "paid",
        "failed_insufficient_funds",
        "failed_risk_blocked",
        "failed_provider_error",
        "failed_declined",
        "pending",
    ];
}

/// What the harness got back from one checkout request.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum CheckoutAnswer {
    /// The merchant answered and its answer was understood.
    Told {
        #[serde(with = "status_serde")]
        status: OrderStatus,
    },
    /// The merchant did not answer usefully: timeout, connection error, or a body the
    /// contract's pointers could not read (`detail` says which).
    Error { detail: String },
    /// Not sent: the in-flight cap was reached at its intended send time.
    Shed,
}

/// One checkout the load generator scheduled.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckoutRecord {
    pub order_id: String,
    pub amount: Amount,
    /// Intended send time, in ms since the run's origin (just before the load starts).
    pub intended_ms: u64,
    /// From the intended send time to the answer (or error), in µs; 0 when shed.
    pub latency_us: u64,
    pub answer: CheckoutAnswer,
}

/// An order's final state as read from the merchant after the drain.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderSnapshot {
    pub order_id: String,
    #[serde(with = "status_serde")]
    pub status: OrderStatus,
    /// How many times the merchant fulfilled (shipped) the order, when it says so.
    pub fulfilments: Option<u32>,
}

/// The provider operation a ledger entry records.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PaymentOp {
    /// Create a payment (Stripe: `POST /v1/payment_intents` with `confirm=true`, or confirm).
    Charge,
    /// Read a payment's state (retrieve, search).
    Query,
    /// Give money back.
    Refund,
}

/// What one provider request did.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AttemptResult {
    /// Executed and answered: money moved on a charge or refund, or a read answered.
    Ok,
    /// Declined for the card's reason; no money moved.
    Declined(FailReason),
    /// Executed (money moved) but the answer was withheld past the client's timeout.
    AnswerLost,
    /// Held past the client's timeout and dropped before execution; nothing moved.
    Dropped,
    /// A 5xx before execution; nothing moved.
    ServerError,
    /// A 429 before execution; nothing moved.
    RateLimited,
    /// The saved answer of an earlier request with the same idempotency key, replayed.
    Replayed,
    /// 409: the same key is still in flight.
    InFlightConflict,
    /// 400: the same key was first used with other parameters.
    IdempotencyMismatch,
    /// 4xx for a malformed request or an unknown object.
    Invalid,
}

/// One request to the provider, as the provider's ledger records it: the ground truth.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LedgerEntry {
    /// Record order, from 0: arrival order, except that a `late_charge` is recorded when it
    /// executes, at the end of its hold.
    pub seq: u64,
    /// Arrival time (for a `late_charge`, execution time) in ms since the run's origin.
    pub at_ms: u64,
    pub op: PaymentOp,
    /// The merchant's order id (`metadata[order_id]`), when the request carried one.
    pub order_id: Option<String>,
    pub payment_id: Option<String>,
    pub amount: Amount,
    pub currency: String,
    pub idempotency_key: Option<String>,
    /// 0-based attempt number of this operation for this order, in arrival order.
    pub attempt: u32,
    /// The fault injected into this request, if any.
    pub fault: Option<FaultKind>,
    pub result: AttemptResult,
    /// The card's decline, when execution declined it (also when the answer was then lost).
    pub declined: Option<FailReason>,
    /// Whether this request moved money: a charge captured, or a refund paid out.
    pub money_moved: bool,
    /// HTTP status answered (0 when the connection was dropped without an answer).
    pub status: u16,
}

/// One delivery attempt of one webhook event, as the provider's delivery log records it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct WebhookAttempt {
    pub event_id: String,
    /// `payment_intent.succeeded`, `payment_intent.payment_failed`, ...
    pub event_type: String,
    pub order_id: Option<String>,
    pub payment_id: Option<String>,
    /// 0-based attempt number for this delivery (a duplicate or forged copy counts its own).
    pub attempt: u32,
    /// Send time in ms since the run's origin.
    pub at_ms: u64,
    /// Time to the merchant's answer (or to the failure), in µs.
    pub latency_us: u64,
    /// This delivery is an injected duplicate of the event.
    pub duplicate: bool,
    /// This delivery is an injected forgery: signed with a wrong secret.
    pub forged: bool,
    /// This delivery is an injected replay of the event signed with a timestamp outside the
    /// merchant's tolerance (right secret, stale time).
    #[serde(default)]
    pub stale: bool,
    /// This delivery is an injected copy sent without any signature header.
    #[serde(default)]
    pub unsigned: bool,
    /// This attempt was dropped by chaos: counted as failed, never sent to the merchant.
    #[serde(default)]
    pub dropped: bool,
    /// The event was held back until a later event of its payment had been delivered.
    #[serde(default)]
    pub reordered: bool,
    /// Injected delay before the first attempt, in ms.
    pub delay_ms: u64,
    /// The merchant's HTTP status; `None` on timeout or connection failure.
    pub status: Option<u16>,
    /// Why no status was received, when it was not.
    pub error: Option<String>,
}

impl WebhookAttempt {
    /// Whether the merchant acknowledged this attempt (any 2xx).
    pub fn acknowledged(&self) -> bool {
        matches!(self.status, Some(s) if (200..300).contains(&s))
    }

    /// Whether this delivery is an attacker-style copy (forged, stale or unsigned) that a
    /// merchant must refuse, rather than the provider's genuine event or its duplicate.
    pub fn is_attack(&self) -> bool {
        self.forged || self.stale || self.unsigned
    }

    /// The kind of attacker copy, for reports: `forged`, `stale`, `unsigned`, or `None`.
    pub fn attack_kind(&self) -> Option<&'static str> {
        if self.forged {
            Some("forged")
        } else if self.stale {
            Some("stale")
        } else if self.unsigned {
            Some("unsigned")
        } else {
            None
        }
    }
}

/// Serialises [`OrderStatus`] as its label (`paid`, `failed_risk_blocked`, ...).
pub mod status_serde {
    use super::{FailReason, OrderStatus};
    use serde::{de::Error, Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(s: &OrderStatus, ser: S) -> Result<S::Ok, S::Error> {
        ser.serialize_str(s.label())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(de: D) -> Result<OrderStatus, D::Error> {
        let s = String::deserialize(de)?;
        parse(&s).ok_or_else(|| D::Error::custom(format!("unknown order status '{s}'")))
    }

    /// Parses a label written by [`OrderStatus::label`].
    pub fn parse(s: &str) -> Option<OrderStatus> {
        match s {
            "paid" => Some(OrderStatus::Paid),
            "pending" => Some(OrderStatus::Pending),
            _ => s
                .strip_prefix("failed_")
                .and_then(FailReason::parse)
                .map(OrderStatus::Failed),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_labels_round_trip() {
        let all = [
            OrderStatus::Paid,
            OrderStatus::Pending,
            OrderStatus::Failed(FailReason::InsufficientFunds),
            OrderStatus::Failed(FailReason::RiskBlocked),
            OrderStatus::Failed(FailReason::ProviderError),
            OrderStatus::Failed(FailReason::Declined),
        ];
        for s in all {
            assert_eq!(status_serde::parse(s.label()), Some(s));
            assert!(OrderStatus::LABELS.contains(&s.label()));
        }
        assert_eq!(status_serde::parse("failed_nonsense"), None);
    }
}
