//! The charge record: one per charge attempt on an intent (succeeded, authorised only, or
//! failed with the card's decline), kept by the ledger for `GET /v1/charges/{id}` and
//! `latest_charge` expansion. Plain data; the dialect words its outcome.

use crate::domain::Amount;
use crate::provider::cards::DeclineCode;
use crate::provider::ledger::Intent;
use crate::provider::metadata::Metadata;

/// One charge attempt.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Charge {
    pub id: String,
    pub payment_intent: String,
    pub amount: Amount,
    pub currency: String,
    /// Unix seconds.
    pub created: u64,
    pub payment_method: Option<String>,
    pub metadata: Metadata,
    pub description: Option<String>,
    pub customer: Option<String>,
    /// `None`: the card accepted (captured or only authorised); else why it declined.
    pub decline: Option<DeclineCode>,
    /// Money taken: false while only authorised, and always for a declined charge.
    pub captured: bool,
    pub amount_captured: Amount,
    pub amount_refunded: Amount,
    /// An authorisation released by a cancel (Stripe shows it as refunded).
    pub released: bool,
}

impl Charge {
    /// The charge `id` made on intent `it` (as it stands before the charge settles it).
    pub fn new(id: &str, it: &Intent, created: u64, decline: Option<DeclineCode>) -> Charge {
        let captured = decline.is_none() && !it.manual_capture();
        Charge {
            id: id.to_string(),
            payment_intent: it.id.clone(),
            amount: it.amount,
            currency: it.currency.clone(),
            created,
            payment_method: it.payment_method.clone(),
            metadata: it.metadata.clone(),
            description: it.description.clone(),
            customer: it.customer.clone(),
            decline,
            captured,
            amount_captured: if captured { it.amount } else { 0 },
            amount_refunded: 0,
            released: false,
        }
    }

    /// Whether the card accepted the charge (Stripe `paid`, status `succeeded`).
    pub fn paid(&self) -> bool {
        self.decline.is_none()
    }

    /// Whether everything captured was given back, or the authorisation released.
    pub fn refunded(&self) -> bool {
        self.released || (self.amount_captured > 0 && self.amount_refunded >= self.amount_captured)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::provider::ledger::IntentStatus;

    fn intent(capture: Option<&str>) -> Intent {
        Intent {
            id: "pi_1".into(),
            amount: 500,
            currency: "usd".into(),
            status: IntentStatus::RequiresConfirmation,
            payment_method: Some("pm_card_visa".into()),
            metadata: Metadata::from([("order_id".into(), "o".into())]),
            created: 1,
            latest_charge: None,
            last_error: None,
            amount_refunded: 0,
            amount_capturable: 0,
            amount_received: 0,
            canceled_at: None,
            cancellation_reason: None,
            capture_method: capture.map(str::to_string),
            description: None,
            customer: None,
            payment_method_types: vec!["card".into()],
            charges: 0,
            refunds: 0,
            chaos_id: None,
            return_url: None,
            challenge_url: None,
            version: 0,
        }
    }

    #[test]
    fn automatic_charge_is_captured_manual_only_authorised_declined_neither() {
        let auto = Charge::new("ch_1", &intent(None), 9, None);
        assert!(auto.paid() && auto.captured);
        assert_eq!((auto.amount_captured, auto.created), (500, 9));
        assert_eq!(auto.metadata.get("order_id").map(String::as_str), Some("o"));
        let manual = Charge::new("ch_2", &intent(Some("manual")), 9, None);
        assert!(manual.paid() && !manual.captured);
        assert_eq!(manual.amount_captured, 0);
        let declined = Charge::new("ch_3", &intent(None), 9, Some(DeclineCode::RiskBlock));
        assert!(!declined.paid() && !declined.captured);
        assert!(!declined.refunded());
    }

    #[test]
    fn refunded_once_everything_captured_is_back_or_released() {
        let mut c = Charge::new("ch_1", &intent(None), 1, None);
        c.amount_refunded = 499;
        assert!(!c.refunded());
        c.amount_refunded = 500;
        assert!(c.refunded());
        let mut m = Charge::new("ch_2", &intent(Some("manual")), 1, None);
        assert!(!m.refunded());
        m.released = true;
        assert!(m.refunded());
    }
}
