//! Payment methods a merchant created itself from raw card numbers (`POST
//! /v1/payment_methods` with `card[number]`, as Stripe accepts in test mode). Each behaves as
//! the test payment method its number stands for, and remembers what may be kept of the
//! number (brand, last four) and the request that carried it, so that a charge naming it is
//! recorded as paid with raw card data: the merchant tokenised the number in its own systems.

use std::collections::HashMap;
use std::time::Duration;

use crate::domain::card::{RawCard, RawCardOrigin};

/// One created payment method.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PaymentMethod {
    /// `pm_…`, never a test payment method's name.
    pub id: String,
    /// The test payment method the number behaves as (`pm_card_visa`).
    pub behaves_as: String,
    /// Brand, last four and the creating request (`via`).
    pub card: RawCard,
    /// Unix seconds.
    pub created: u64,
}

/// The payment methods created so far; empty (and free) for merchants that never do.
#[derive(Debug, Default)]
pub struct PaymentMethods {
    by_id: HashMap<String, PaymentMethod>,
}

impl PaymentMethods {
    /// Creates one from a checked card; `seq` is the ledger entry of the creating request,
    /// arrived at run time `at`.
    pub fn create(
        &mut self,
        behaves_as: String,
        mut card: RawCard,
        seq: u64,
        at: Duration,
        unix: u64,
    ) -> PaymentMethod {
        let id = format!("pm_1Raw{:016}", self.by_id.len() + 1);
        card.via = Some(RawCardOrigin {
            payment_method: id.clone(),
            seq,
            at_ms: at.as_millis() as u64,
        });
        let pm = PaymentMethod {
            id: id.clone(),
            behaves_as,
            card,
            created: unix,
        };
        self.by_id.insert(id, pm.clone());
        pm
    }

    /// For a charge naming `payment_method` with no raw card of its own: the test payment
    /// method to use instead and the raw card to record, when it was created here.
    pub fn resolve(&self, payment_method: Option<&str>) -> Option<(String, RawCard)> {
        let pm = self.by_id.get(payment_method?)?;
        Some((pm.behaves_as.clone(), pm.card.clone()))
    }
}

#[cfg(test)]
mod tests {
    use crate::chaos::Rates;
    use crate::provider::dialects::{stripe, Answer, Route};
    use crate::provider::exec::Reply;
    use crate::provider::tests::support::Bench;

    const CARD: &str = "type=card&card[number]=4000000000009995&card[exp_month]=12\
                        &card[exp_year]=2034&card[cvc]=123";

    fn create(b: &mut Bench, body: &str) -> (u16, String) {
        let plan = b.run(
            Route::CreatePaymentMethod,
            "/v1/payment_methods",
            body,
            None,
        );
        let Reply::Fresh(a) = &plan.reply else {
            panic!("no answer: {plan:?}");
        };
        let (r, _) = stripe::render(a, None);
        let text = String::from_utf8(r.body.to_vec()).unwrap();
        let id = match a {
            Answer::PaymentMethod(pm) => pm.id.clone(),
            _ => String::new(),
        };
        assert!(!text.contains("4000000000009995"), "{text}");
        (r.status, id)
    }

    #[test]
    fn a_payment_method_made_from_a_raw_number_records_it_on_the_charge() {
        // Arrange
        let mut b = Bench::new(Rates::default());
        let (status, pm) = create(&mut b, CARD);
        assert_eq!(status, 200);
        let seen = b
            .last()
            .raw_card
            .clone()
            .expect("the creation saw a number");
        assert_eq!(
            (seen.param.as_str(), seen.last4.as_str()),
            ("card[number]", "9995")
        );

        // Act: a charge naming it, and one naming a test payment method.
        let plan = b.pay(&pm, "ord-000001", "k1");
        let tokenised = b.last().clone();
        b.pay("pm_card_visa", "ord-000002", "k2");
        let visa = b.last().clone();

        // Assert: the number behaves as its test card (insufficient funds) and is recorded
        // with the request that carried it; the test payment method carries none.
        assert!(
            matches!(plan.reply, Reply::Fresh(Answer::Declined(_))),
            "{plan:?}"
        );
        let card = tokenised.raw_card.expect("recorded");
        let via = card.via.expect("with its origin");
        assert_eq!(
            (via.payment_method.as_str(), via.seq),
            (pm.as_str(), seen.via.unwrap().seq)
        );
        assert_eq!(visa.raw_card, None);
    }

    #[test]
    fn a_payment_method_without_a_valid_card_is_refused_without_echoing_it() {
        let decode = |body: &str| {
            stripe::decode(
                &Route::CreatePaymentMethod,
                "/v1/payment_methods",
                None,
                body.as_bytes(),
            )
        };
        let bad_luhn =
            "type=card&card[number]=4000000000009990&card[exp_month]=12&card[exp_year]=2034";
        let e = decode(bad_luhn).unwrap_err().to_string();
        assert!(
            e.contains("card[number]") && !e.contains("4000000000009990"),
            "{e}"
        );
        assert!(decode("type=sepa_debit")
            .unwrap_err()
            .to_string()
            .contains("type"));
        assert!(decode("type=card")
            .unwrap_err()
            .to_string()
            .contains("card[number]"));
    }
}
