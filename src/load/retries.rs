//! The customer who pays again with another card (`customers.retries_with_another_card`):
//! after a card decline at checkout, a failed challenge, or a challenge whose return page
//! never came (the customer cannot tell the first card paid), a share of the customers,
//! drawn per order from a stream of its own (`customer.retry`), sends a second checkout for
//! the same order paying with [`ANOTHER_CARD`]. The record keeps what it was told.

use serde::{Deserialize, Serialize};

use super::journeys::{JourneyRecord, JourneyStep};
use crate::chaos::key;
use crate::domain::{CheckoutAnswer, FailReason, OrderStatus};
use crate::scenario::customers::CustomerSpec;

pub use crate::scenario::customers::ANOTHER_CARD;

/// Why the customer paid again.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RetryCause {
    /// The checkout answered a card decline.
    Declined,
    /// The return page after the challenge told failed.
    FailedChallenge,
    /// Authenticated, but the browser never came back: the customer does not know.
    NoReturn,
}

impl RetryCause {
    pub const ALL: [RetryCause; 3] = [
        RetryCause::Declined,
        RetryCause::FailedChallenge,
        RetryCause::NoReturn,
    ];

    pub fn as_str(self) -> &'static str {
        crate::domain::label(&self)
    }
}

/// One second checkout for an order, with another card.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RetryRecord {
    pub order_id: String,
    pub after: RetryCause,
    pub payment_method: String,
    /// What the second checkout told the customer.
    pub answer: CheckoutAnswer,
    /// From the second checkout's start (the customer does not pause) to its answer, µs.
    pub latency_us: u64,
}

/// Why the customer of an order told `answer` (and, after a challenge, `journey`) would
/// pay again; `None` when the customer has nothing to pay again for.
pub fn cause(answer: &CheckoutAnswer, journey: Option<&JourneyRecord>) -> Option<RetryCause> {
    let card_decline = |s: &OrderStatus| {
        matches!(
            s,
            OrderStatus::Failed(
                FailReason::InsufficientFunds | FailReason::RiskBlocked | FailReason::Declined
            )
        )
    };
    if let CheckoutAnswer::Told { status } = answer {
        if card_decline(status) {
            return Some(RetryCause::Declined);
        }
    }
    let j = journey?;
    match &j.returned {
        Some(CheckoutAnswer::Told { status }) if card_decline(status) => {
            Some(RetryCause::FailedChallenge)
        }
        None if j.error.is_none() && j.did(JourneyStep::Verdict) => Some(RetryCause::NoReturn),
        _ => None,
    }
}

/// Whether the customer of `order_key` pays again after `cause`, by the seed.
pub fn retries(seed: u64, customers: &CustomerSpec, order_key: &str) -> bool {
    let rate = customers.retries_with_another_card;
    rate > 0.0 && key::draw(seed, "customer.retry", &[order_key.as_bytes()]) < rate
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::customers::DEFAULT_CUSTOMERS;

    fn journey(name: &str, steps: &[JourneyStep], returned: Option<OrderStatus>) -> JourneyRecord {
        JourneyRecord {
            order_id: "ord-1".into(),
            journey: name.into(),
            steps: steps.iter().map(|s| (*s, 1)).collect(),
            returned: returned.map(|status| CheckoutAnswer::Told { status }),
            forged: None,
            error: None,
        }
    }

    #[test]
    fn customers_pay_again_after_a_decline_a_failed_challenge_or_no_return() {
        let told = |status| CheckoutAnswer::Told { status };
        let declined = told(OrderStatus::Failed(FailReason::InsufficientFunds));
        assert_eq!(cause(&declined, None), Some(RetryCause::Declined));
        let trouble = told(OrderStatus::Failed(FailReason::ProviderError));
        assert_eq!(cause(&trouble, None), None, "try later, not another card");
        assert_eq!(cause(&told(OrderStatus::Paid), None), None);
        let pending = told(OrderStatus::Pending);
        let shown = [JourneyStep::ChallengeShown, JourneyStep::Verdict];
        let failed = journey(
            "fails",
            &[shown[0], shown[1], JourneyStep::Returned],
            Some(OrderStatus::Failed(FailReason::Declined)),
        );
        assert_eq!(
            cause(&pending, Some(&failed)),
            Some(RetryCause::FailedChallenge)
        );
        let lost = journey("never_returns", &shown, None);
        assert_eq!(cause(&pending, Some(&lost)), Some(RetryCause::NoReturn));
        let paid = journey("completes", &shown, Some(OrderStatus::Paid));
        assert_eq!(cause(&pending, Some(&paid)), None);
        let left = journey("abandons", &shown[..1], None);
        assert_eq!(cause(&pending, Some(&left)), None);
    }

    #[test]
    fn retries_follow_their_rate_and_the_seed() {
        let half = CustomerSpec {
            retries_with_another_card: 0.5,
            ..DEFAULT_CUSTOMERS
        };
        let n = (0..1000)
            .filter(|i| retries(3, &half, &format!("ord-{i:06}")))
            .count();
        assert!((400..=600).contains(&n), "{n}");
        assert!((0..100).all(|i| retries(3, &half, &format!("ord-{i:06}"))
            == retries(3, &half, &format!("ord-{i:06}"))));
        assert!((0..100).all(|i| !retries(3, &DEFAULT_CUSTOMERS, &format!("ord-{i:06}"))));
    }
}
