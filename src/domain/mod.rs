//! Payment terms shared by every part: money, what a customer was told, order states, and
//! the records each part hands to the verifier (ledger entries, webhook attempts, checkout
//! answers, final order states), the fault catalogue those records name (`fault.rs`), how
//! much per-order state to set aside up front (`sizing.rs`), and order ids with the run id
//! inside them (`order_id.rs`), and what a record may keep of a raw card number (`card.rs`). Plain data only; no part's logic lives here. Imports no other
//! module of the crate.

pub mod card;
mod fault;
pub mod order_id;
pub mod sizing;

use serde::{Deserialize, Serialize};

pub use fault::{FaultKind, FaultOp, Targets};
pub use order_id::{chaos_key, RunId};

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

    /// The snake_case word used on the wire and in reports (the serde name).
    pub fn as_str(self) -> &'static str {
        label(&self)
    }

    /// Parses the word written by [`FailReason::as_str`].
    pub fn parse(s: &str) -> Option<FailReason> {
        parse_label(s)
    }
}

/// The serde name of a unit variant: label enums (here and in other modules) take their
/// words from serde alone, so no hand table can drift from what reports and inputs say.
pub fn label<T: Serialize>(value: &T) -> &'static str {
    serde_variant::to_variant_name(value).expect("a unit variant has a name")
}

/// The unit variant whose serde name is `s`.
pub fn parse_label<T: serde::de::DeserializeOwned>(s: &str) -> Option<T> {
    use serde::de::IntoDeserializer;
    let de: serde::de::value::StrDeserializer<serde::de::value::Error> = s.into_deserializer();
    T::deserialize(de).ok()
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
    /// A single label for reports and confusion matrices: `paid`, `pending`, `failed_<reason>`
    /// (its [`FinalState`]'s word).
    pub fn label(self) -> &'static str {
        FinalState::of(self).as_str()
    }
}

/// An order's state as one word, in report order: the order states, then `missing` for an
/// order the merchant's export did not have. The columns of the confusion matrix.
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
    enum_map::Enum,
    strum::EnumIter,
)]
#[serde(rename_all = "snake_case")]
pub enum FinalState {
    Paid,
    FailedInsufficientFunds,
    FailedRiskBlocked,
    FailedProviderError,
    FailedDeclined,
    Pending,
    Missing,
}

impl FinalState {
    /// Every state, in report order.
    pub fn all() -> impl Iterator<Item = FinalState> {
        <FinalState as strum::IntoEnumIterator>::iter()
    }

    /// The word used in reports (the serde name).
    pub fn as_str(self) -> &'static str {
        label(&self)
    }

    /// Parses a word written by [`FinalState::as_str`].
    pub fn parse(s: &str) -> Option<FinalState> {
        parse_label(s)
    }

    /// The state of an order with `status`.
    pub fn of(status: OrderStatus) -> FinalState {
        match status {
            OrderStatus::Paid => FinalState::Paid,
            OrderStatus::Pending => FinalState::Pending,
            OrderStatus::Failed(FailReason::InsufficientFunds) => {
                FinalState::FailedInsufficientFunds
            }
            OrderStatus::Failed(FailReason::RiskBlocked) => FinalState::FailedRiskBlocked,
            OrderStatus::Failed(FailReason::ProviderError) => FinalState::FailedProviderError,
            OrderStatus::Failed(FailReason::Declined) => FinalState::FailedDeclined,
        }
    }

    /// The order status this state stands for; `None` for `Missing`.
    pub fn status(self) -> Option<OrderStatus> {
        Some(match self {
            FinalState::Paid => OrderStatus::Paid,
            FinalState::Pending => OrderStatus::Pending,
            FinalState::FailedInsufficientFunds => {
                OrderStatus::Failed(FailReason::InsufficientFunds)
            }
            FinalState::FailedRiskBlocked => OrderStatus::Failed(FailReason::RiskBlocked),
            FinalState::FailedProviderError => OrderStatus::Failed(FailReason::ProviderError),
            FinalState::FailedDeclined => OrderStatus::Failed(FailReason::Declined),
            FinalState::Missing => return None,
        })
    }
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
}

/// One checkout the load generator sent (a shed one, never sent, is only counted).
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
    /// The answer never went out: the client hung up first (its own timeout ran out during
    /// the injected latency) or a fault withheld it. The client cannot have acted on it.
    #[serde(default)]
    pub unanswered: bool,
    /// Injected latency before the answer went out, in ms: it cannot have reached the
    /// client before `at_ms` + this (a client that gave up but kept the connection got it
    /// late, if at all).
    #[serde(default)]
    pub answer_delay_ms: u64,
    /// The request paid with a raw card number (or a payment method made from one) instead
    /// of a token: brand and last four digits only, never the number.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub raw_card: Option<card::RawCard>,
    /// Which of the run's providers (payment channels) recorded the entry: 0 the primary
    /// (the only one of a run with one provider, and then left out of the record), 1.. the
    /// backups in routing order.
    #[serde(default, skip_serializing_if = "is_primary")]
    pub channel: u8,
    /// The charge's payment method as a [`card::fingerprint`] (0: not known, and left out
    /// of the record): tells a customer's other card from a retry of the declined one.
    #[serde(default, skip_serializing_if = "is_unknown_card")]
    pub card: u32,
    /// The connection the request came on, numbered by the provider's server from 1 (0: not
    /// known, and left out of the record). A later request on the same connection proves
    /// the client read this answer: HTTP/1.1 clients send one exchange at a time, and one
    /// that gave up on an answer closes its connection.
    #[serde(default, skip_serializing_if = "is_unknown_conn")]
    pub conn: u64,
}

/// Whether `conn` is the unknown connection (serde skips it).
fn is_unknown_conn(conn: &u64) -> bool {
    *conn == 0
}

/// Whether `card` is the unknown fingerprint (serde skips it).
fn is_unknown_card(card: &u32) -> bool {
    *card == 0
}

/// Whether `channel` is the primary's (serde skips it: one-provider records read as before).
fn is_primary(channel: &u8) -> bool {
    *channel == 0
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
    /// What kind of failure `error` is, for the endpoint's health figures.
    #[serde(default)]
    pub failure: Option<DeliveryFailure>,
}

/// Why a webhook delivery attempt has no acknowledgement although it was sent.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryFailure {
    /// Dropped by chaos before it was sent (the merchant never saw it).
    Dropped,
    /// No answer within the delivery timeout.
    Timeout,
    /// The connection could not be made, or broke before an answer.
    Connection,
    /// Answered 2xx, but not in the form the provider requires (the gateway's exact body
    /// `success`): the merchant refused it as surely as with a 4xx.
    BadAnswer,
    /// The run shut down first.
    Shutdown,
    /// The webhook URL is not usable.
    BadUrl,
}

impl WebhookAttempt {
    /// Whether the merchant acknowledged this attempt (any 2xx).
    pub fn acknowledged(&self) -> bool {
        matches!(self.status, Some(s) if (200..300).contains(&s))
    }

    /// Whether the merchant answered this attempt and its answer refused the event: a
    /// non-2xx status, or a 2xx the provider does not accept as an acknowledgement.
    pub fn refused(&self) -> bool {
        matches!(self.status, Some(s) if !(200..300).contains(&s))
            || self.failure == Some(DeliveryFailure::BadAnswer)
    }

    /// Whether this delivery is an attacker-style copy (forged, stale or unsigned) that a
    /// merchant must refuse, rather than the provider's genuine event or its duplicate.
    pub fn is_attack(&self) -> bool {
        self.copy().is_attack()
    }

    /// Which copy of its event this delivery is.
    pub fn copy(&self) -> CopyKind {
        if self.forged {
            CopyKind::Forged
        } else if self.stale {
            CopyKind::Stale
        } else if self.unsigned {
            CopyKind::Unsigned
        } else if self.duplicate {
            CopyKind::Duplicate
        } else {
            CopyKind::Genuine
        }
    }
}

/// Which copy of an event a webhook delivery is: the provider's own (the event, or its
/// injected duplicate), or an attacker-style copy a merchant must refuse.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CopyKind {
    Genuine,
    Duplicate,
    /// Signed with a wrong secret.
    Forged,
    /// Signed with the right secret at a time outside the merchant's tolerance.
    Stale,
    /// Sent without any signature.
    Unsigned,
}

impl CopyKind {
    /// The word used in ids and reports (the serde name).
    pub fn as_str(self) -> &'static str {
        label(&self)
    }

    /// Whether a merchant must refuse this copy.
    pub fn is_attack(self) -> bool {
        matches!(
            self,
            CopyKind::Forged | CopyKind::Stale | CopyKind::Unsigned
        )
    }
}

/// Serialises [`OrderStatus`] as its label (`paid`, `failed_risk_blocked`, ...).
pub mod status_serde {
    use super::{FinalState, OrderStatus};
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
        FinalState::parse(s).and_then(FinalState::status)
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
            assert_eq!(FinalState::of(s).status(), Some(s));
        }
        assert_eq!(status_serde::parse("failed_nonsense"), None);
        assert_eq!(status_serde::parse("missing"), None);
        let words: Vec<&str> = FinalState::all().map(FinalState::as_str).collect();
        assert_eq!(
            words,
            [
                "paid",
                "failed_insufficient_funds",
                "failed_risk_blocked",
                "failed_provider_error",
                "failed_declined",
                "pending",
                "missing"
            ]
        );
    }

    #[test]
    fn reasons_and_copies_take_their_words_from_serde() {
        for r in FailReason::ALL {
            assert_eq!(serde_json::to_value(r).unwrap(), r.as_str());
            assert_eq!(FailReason::parse(r.as_str()), Some(r));
        }
        assert_eq!(FailReason::RiskBlocked.as_str(), "risk_blocked");
        let copy = |forged, stale, duplicate| WebhookAttempt {
            forged,
            stale,
            duplicate,
            ..serde_json::from_value(serde_json::json!({
                "event_id": "evt_1", "event_type": "x", "order_id": null, "payment_id": null,
                "attempt": 0, "at_ms": 0, "latency_us": 0, "duplicate": false,
                "forged": false, "delay_ms": 0, "status": null, "error": null
            }))
            .unwrap()
        };
        assert_eq!(copy(false, false, false).copy(), CopyKind::Genuine);
        assert_eq!(copy(false, false, true).copy(), CopyKind::Duplicate);
        assert_eq!(copy(true, false, true).copy().as_str(), "forged");
        assert!(copy(false, true, false).is_attack() && !copy(false, false, true).is_attack());
    }
}
