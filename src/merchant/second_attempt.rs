//! A second payment for an order: a checkout repeating an order id with another card (the
//! customer whose card was declined, or whose challenge failed, pays again). An order whose
//! card declined may be paid by the new card, under keys of its own; an order already paid,
//! or whose payment is still under way, is never charged again, and the customer is told
//! the next step. The decision is [`verdict`], applied under the store's lock
//! (`Store::second_payment`); the planted flaw `second_attempt_double_charge` acts there.

use bytes::Bytes;
use http_body_util::Full;
use hyper::Response;
use serde_json::json;

use super::handlers::{http_status_for, json_response, reason_of, status_word, CheckoutRequest};
use super::store::Order;
use crate::domain::{FailReason, OrderStatus};
use crate::scenario::flaws::{Flaw, Flaws};

/// What a checkout with another card does to an existing order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// The card declined: the order is pending again and the new card is charged.
    Reopen,
    /// Charged as it stands, whatever was paid before (only `second_attempt_double_charge`).
    ChargeAsIs,
    /// Nothing is charged: the customer is told where the order stands.
    Answer,
}

/// The rule for a checkout paying order `o` with the card of fingerprint `card`.
pub fn verdict(o: &Order, card: u32, flaws: Flaws) -> Verdict {
    let another = card != 0 && card != o.card;
    if !another || o.closed || o.charging {
        return Verdict::Answer;
    }
    if flaws.has(Flaw::SecondAttemptDoubleCharge) {
        return Verdict::ChargeAsIs;
    }
    match o.status {
        // A card's own answer: nothing of that payment can still land. Provider trouble
        // is not (a late charge may yet execute), nor is a pending or paid order.
        OrderStatus::Failed(r) if r != FailReason::ProviderError => Verdict::Reopen,
        _ => Verdict::Answer,
    }
}

/// The part of every idempotency key of the order's `payment`-th payment (0: the first
/// card): a new card is a new payment, so its keys never replay the declined card's, and
/// its own retries replay its own.
pub fn key_scope(order_id: &str, payment: u32) -> String {
    if payment == 0 {
        order_id.to_string()
    } else {
        format!("{order_id}:pay{payment}")
    }
}

/// The answer to a checkout with another card that charged nothing: the order's state and
/// what the customer can do next.
pub(crate) fn answer(o: &Order, r: &CheckoutRequest) -> Response<Full<Bytes>> {
    let message = match o.status {
        OrderStatus::Paid => "This order is already paid: nothing was charged to this card.",
        OrderStatus::Pending => {
            "We are still confirming your first payment for this order: nothing was charged \
             to this card. We will notify you shortly."
        }
        OrderStatus::Failed(FailReason::ProviderError) => {
            "The payment provider is having trouble. Nothing was charged; please try again later."
        }
        OrderStatus::Failed(_) => {
            "This card was already declined for this order. Please use another card."
        }
    };
    let body = json!({
        "order_id": r.order_id,
        "status": status_word(o.status),
        "reason": reason_of(o.status),
        "message": message,
    });
    json_response(http_status_for(o.status), &body)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::card::fingerprint;

    fn order(status: OrderStatus) -> Order {
        Order {
            order_id: "ord-1".into(),
            amount: 1000,
            currency: "usd".into(),
            status,
            payment_id: None,
            fulfilments: 0,
            refunds: Vec::new(),
            created: tokio::time::Instant::now(),
            charging: false,
            closed: false,
            card: fingerprint(Some("pm_card_visa")),
            payments: 1,
        }
    }

    #[test]
    fn only_a_card_decline_lets_another_card_pay() {
        let amex = fingerprint(Some("pm_card_amex"));
        let visa = fingerprint(Some("pm_card_visa"));
        let ok = Flaws::NONE;
        for r in [
            FailReason::InsufficientFunds,
            FailReason::RiskBlocked,
            FailReason::Declined,
        ] {
            assert_eq!(
                verdict(&order(OrderStatus::Failed(r)), amex, ok),
                Verdict::Reopen
            );
            assert_eq!(
                verdict(&order(OrderStatus::Failed(r)), visa, ok),
                Verdict::Answer,
                "the declined card is not charged again"
            );
        }
        for s in [
            OrderStatus::Paid,
            OrderStatus::Pending,
            OrderStatus::Failed(FailReason::ProviderError),
        ] {
            assert_eq!(verdict(&order(s), amex, ok), Verdict::Answer, "{s:?}");
        }
        let mut charging = order(OrderStatus::Failed(FailReason::Declined));
        charging.charging = true;
        assert_eq!(verdict(&charging, amex, ok), Verdict::Answer);
    }

    #[test]
    fn the_flaw_charges_a_paid_order_again() {
        let amex = fingerprint(Some("pm_card_amex"));
        let flawed = Flaws::NONE.with(Flaw::SecondAttemptDoubleCharge);
        assert_eq!(
            verdict(&order(OrderStatus::Paid), amex, flawed),
            Verdict::ChargeAsIs
        );
        let visa = fingerprint(Some("pm_card_visa"));
        assert_eq!(
            verdict(&order(OrderStatus::Paid), visa, flawed),
            Verdict::Answer
        );
    }

    #[test]
    fn the_store_reopens_a_declined_order_once_and_never_a_paid_one() {
        use super::super::store::{Settlement, Store};
        let (visa, amex) = (
            fingerprint(Some("pm_card_visa")),
            fingerprint(Some("pm_card_amex")),
        );
        let store = Store::new();
        store.begin_checkout("ord-1", 1000, "usd", visa);
        store.settle("ord-1", &Settlement::Failed(FailReason::InsufficientFunds));
        store.end_checkout("ord-1");
        assert_eq!(store.second_payment("ord-1", amex), Ok(1));
        let o = store.get("ord-1").unwrap();
        assert_eq!(
            (o.status, o.charging, o.card),
            (OrderStatus::Pending, true, amex)
        );
        assert!(
            store.second_payment("ord-1", visa).is_err(),
            "one payment at a time"
        );
        let pi = "pi_2".to_string();
        store.settle("ord-1", &Settlement::Paid { payment_id: pi });
        store.end_checkout("ord-1");
        let stands = store.second_payment("ord-1", visa).unwrap_err().unwrap();
        assert_eq!(stands.status, OrderStatus::Paid);
        assert_eq!(store.second_payment("nope", amex), Err(None));
    }

    #[test]
    fn a_second_payment_has_keys_of_its_own() {
        assert_eq!(key_scope("ord-1", 0), "ord-1");
        assert_eq!(key_scope("ord-1", 1), "ord-1:pay1");
    }
}
