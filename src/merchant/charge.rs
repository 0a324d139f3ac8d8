//! Charging one order at checkout: the attempt loop (create-and-confirm keyed by the order,
//! retried with the same key on timeouts, 5xx, 429 and 409; a soft `processing_error`
//! decline confirmed again under a new key; hard declines final) and what the order learns
//! from it. Each decision is a small named function; the planted flaws act here at
//! [`create_key`], [`next_step`], [`names_order`] and [`charges_again`].

use std::sync::Arc;
use std::time::Instant;

use super::breaker::Admit;
use super::failover;
use super::handlers::{run_effect, CheckoutRequest};
use super::provider_client::{backoff, charge_key, is_soft, Answer, Attempts, ChargeParams};
use super::routing::Channel;
use super::store::{Order, Settlement};
use super::Shared;
use crate::domain::FailReason;
use crate::scenario::flaws::{Flaw, Flaws};
use crate::scenario::Dialect;

/// The longest order id taken on Stripe: the idempotency keys are the order id and up to 35
/// characters more (`:refund:` and a payment id), and Stripe takes keys of at most 255; 200
/// leaves room for longer payment ids.
pub const MAX_ORDER_ID: usize = 200;

/// Why checkout cannot take `order_id` in `dialect`, naming the limit; `None` when it can.
/// Refused up front: the provider would refuse every request for it, and the customer would
/// hear of provider trouble instead.
pub(crate) fn order_id_refusal(order_id: &str, dialect: Dialect) -> Option<String> {
    match dialect {
        Dialect::Stripe if order_id.len() > MAX_ORDER_ID => Some(format!(
            "order_id is {} bytes long: expected at most {MAX_ORDER_ID} (the idempotency keys, \
             the order id and up to 35 characters more, must fit Stripe's 255)",
            order_id.len()
        )),
        Dialect::Gateway if !crate::gateway::valid_out_trade_no(order_id) => Some(format!(
            "order_id {:?} cannot be the gateway's out_trade_no: expected 1 to {} letters, \
             digits, '_' or '-'",
            order_id.chars().take(80).collect::<String>(),
            crate::gateway::MAX_OUT_TRADE_NO
        )),
        _ => None,
    }
}

/// The request the checkout sends next.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Call {
    /// `POST /v1/payment_intents` with `confirm=true`.
    Create,
    /// `POST /v1/payment_intents/{id}/confirm`, after a soft decline of that payment.
    Confirm { payment_id: String },
}

/// What to do after one answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Step {
    /// The answer is final.
    Stop,
    /// Send the same request again (same idempotency key).
    Retry,
    /// Confirm this payment again under a new key (a soft decline).
    Reconfirm { payment_id: String },
    /// Give the order up as failed and stop looking (only with `timeout_is_failure`).
    GiveUp,
}

/// The decision after `answer`.
pub fn next_step(answer: &Answer, flaws: Flaws) -> Step {
    match answer {
        Answer::Succeeded { .. } | Answer::Fatal { .. } | Answer::Action { .. } => Step::Stop,
        Answer::Declined {
            reason,
            payment_id: Some(pi),
        } if is_soft(*reason) => Step::Reconfirm {
            payment_id: pi.clone(),
        },
        Answer::Declined { .. } => {
            if flaws.has(Flaw::RetryHardDeclines) {
                Step::Retry
            } else {
                Step::Stop
            }
        }
        Answer::Indeterminate => {
            if flaws.has(Flaw::TimeoutIsFailure) {
                Step::GiveUp
            } else {
                Step::Retry
            }
        }
        Answer::Retryable { .. } => Step::Retry,
    }
}

/// The idempotency key of the `sent`-th request (0-based) when it creates the payment:
/// derived from the order, so that no retry can charge twice.
pub fn create_key(order_id: &str, sent: u32, flaws: Flaws) -> String {
    if flaws.has(Flaw::NewKeyOnRetry) {
        format!("{order_id}:charge:{sent}")
    } else {
        charge_key(order_id)
    }
}

/// Whether the charge names its order in `metadata[order_id]`, as the contract requires.
pub fn names_order(flaws: Flaws) -> bool {
    !flaws.has(Flaw::ChargeWithoutMetadata)
}

/// Whether a paid order is charged once more, without its order id: only with
/// `double_charge_without_metadata`.
pub fn charges_again(last: &Answer, flaws: Flaws) -> bool {
    flaws.has(Flaw::DoubleChargeWithoutMetadata) && matches!(last, Answer::Succeeded { .. })
}

/// The key of a confirm sent as request number `sent`: new for each soft decline, so the
/// provider does not replay the decline; reused by that confirm's own retries.
pub fn confirm_key(order_id: &str, sent: u32) -> String {
    format!("{order_id}:confirm:{sent}")
}

/// What the checkout learned, once the attempts are over; `None` leaves the order pending
/// (an attempt may have charged: the webhook or the reconciler will tell).
pub fn settlement_after(a: &Attempts) -> Option<Settlement> {
    match &a.last {
        Answer::Succeeded { payment_id } => Some(Settlement::Paid {
            payment_id: payment_id.clone(),
        }),
        // A soft decline last means every key before it ended declined: nothing charged.
        Answer::Declined { reason, .. } => Some(Settlement::Failed(*reason)),
        // The customer is on the challenge page: the webhook or the return page settles.
        Answer::Action { .. } => None,
        _ if a.saw_indeterminate => None,
        _ => Some(Settlement::Failed(FailReason::ProviderError)),
    }
}

/// Clears the order's `charging` mark however the charge ends (even by a panic) unless
/// [`Store::finish_checkout`](super::store::Store::finish_checkout) did.
struct ChargingGuard<'a> {
    shared: &'a Shared,
    order_id: &'a str,
    armed: bool,
}

impl Drop for ChargingGuard<'_> {
    fn drop(&mut self) {
        if self.armed {
            self.shared.store.end_checkout(self.order_id);
        }
    }
}

/// Charges the order within `1 + max_retries` requests, records what the provider said and
/// returns the order as the charge left it. It is read while the order is still marked as
/// charging, so the checkout answers what its own attempts concluded: a reconciler round
/// that gives the order up cannot slip in between the end of the charge and the answer.
/// Also gives back where to send the customer when the card needs authentication.
pub(crate) async fn charge_order(
    shared: Arc<Shared>,
    r: CheckoutRequest,
) -> Option<(Order, Option<String>)> {
    let order_id = r.order_id.clone();
    let mut guard = ChargingGuard {
        shared: &shared,
        order_id: &order_id,
        armed: true,
    };
    let redirect = attempt_charge(shared.clone(), r).await;
    // One critical section reads the order and clears the mark.
    guard.armed = false;
    shared
        .store
        .finish_checkout(&order_id)
        .map(|o| (o, redirect))
}

/// The attempts of [`charge_order`] and their settlement, over the channels in routing
/// order: the first channel whose breaker admits the checkout charges it; provider trouble
/// that surely charged nothing moves the order on to the next admitting channel
/// ([`failover::after_channel`] decides). With one channel this is its attempts alone.
/// Gives back the challenge page's URL when the card needs authentication.
async fn attempt_charge(shared: Arc<Shared>, r: CheckoutRequest) -> Option<String> {
    let flaws = shared.cfg.reference.flaws;
    let return_url = super::returns::return_url(&shared, &r.order_id);
    let params = ChargeParams {
        order_id: &r.order_id,
        amount: r.amount,
        currency: &r.currency,
        payment_method: &r.payment_method,
        metadata: names_order(flaws),
        raw_card: flaws.has(Flaw::RawPan),
        customer: r.client.customer.as_deref(),
        client_ip: r.client.address.as_deref(),
        return_url: return_url.as_deref(),
    };
    let scope = super::second_attempt::key_scope(&r.order_id, r.payment);
    // The attempts of the last channel tried, when they are left to settle the order.
    let mut tried: Option<Attempts> = None;
    for (i, ch) in shared.channels.iter().enumerate() {
        let admitted = ch.breaker.admit(Instant::now());
        if admitted == Admit::Refuse {
            continue;
        }
        let (attempts, step) = attempts_on(&shared, ch, &params, &scope, flaws).await;
        // The customer is sent to a challenge: a definite answer of this channel; the
        // webhook or the return page settles the order.
        if let Answer::Action { redirect_url, .. } = &attempts.last {
            ch.breaker.record(admitted, false, Instant::now());
            super::returns::note_redirect(&shared, &r.order_id);
            return Some(redirect_url.clone());
        }
        // Trouble: no definite answer (a payment and a decline are both answers).
        let trouble = !matches!(
            attempts.last,
            Answer::Succeeded { .. } | Answer::Declined { .. }
        );
        ch.breaker.record(admitted, trouble, Instant::now());
        if step == Step::GiveUp {
            shared.store.give_up(&r.order_id, FailReason::ProviderError);
            return None;
        }
        let more = i + 1 < shared.channels.len();
        match failover::after_channel(&attempts, trouble, more, flaws) {
            failover::Next::Settle => {
                tried = Some(attempts);
                break;
            }
            failover::Next::ResolveHere => {
                failover::resolve_on(&shared, ch, &r.order_id).await;
                return None;
            }
            failover::Next::FailOver => tried = Some(attempts),
        }
    }
    let settlement = match &tried {
        Some(a) => settlement_after(a),
        // Every breaker is open: fail fast, telling the truth (provider trouble, nothing
        // sent).
        None => Some(Settlement::Failed(FailReason::ProviderError)),
    };
    if let Some(s) = settlement {
        let effect = shared.store.settle(&r.order_id, &s);
        run_effect(&shared, effect);
    }
    None
}

/// The attempt loop on one channel: within `1 + max_retries` requests, retrying with the
/// same key, confirming soft declines again under a new key; and the flawed second charge.
/// Every key starts with `scope`, the payment's part ([`super::second_attempt::key_scope`]).
async fn attempts_on(
    shared: &Shared,
    ch: &Channel,
    params: &ChargeParams<'_>,
    scope: &str,
    flaws: Flaws,
) -> (Attempts, Step) {
    let policy = shared.retry_policy();
    // Keys are the payment's: the order id, or the order's n-th card (`key_scope`).
    let order_id = scope;
    let mut call = Call::Create;
    let mut key = create_key(order_id, 0, flaws);
    let mut sent = 0u32;
    let mut saw_indeterminate = false;
    let (last, step) = loop {
        let a = match &call {
            Call::Create => ch.api.create_payment_intent(params, &key).await,
            Call::Confirm { payment_id } => {
                ch.api
                    .confirm_payment_intent(params, payment_id, &key)
                    .await
            }
        };
        sent += 1;
        saw_indeterminate |= a == Answer::Indeterminate;
        let step = next_step(&a, flaws);
        let retries_used = sent - 1;
        if matches!(step, Step::Stop | Step::GiveUp) || retries_used >= policy.max_retries {
            break (a, step);
        }
        match step {
            Step::Reconfirm { payment_id } => {
                call = Call::Confirm { payment_id };
                key = confirm_key(order_id, sent);
            }
            _ if call == Call::Create => key = create_key(order_id, sent, flaws),
            _ => {}
        }
        tokio::time::sleep(backoff(policy.backoff, retries_used)).await;
    };
    if charges_again(&last, flaws) {
        let again = ChargeParams {
            metadata: false,
            ..*params
        };
        let key = format!("{order_id}:again");
        ch.api.create_payment_intent(&again, &key).await;
    }
    let attempts = Attempts {
        last,
        saw_indeterminate,
        sent,
    };
    (attempts, step)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn declined(reason: FailReason) -> Answer {
        Answer::Declined {
            reason,
            payment_id: Some("pi_1".into()),
        }
    }

    #[test]
    fn order_ids_the_provider_would_refuse_are_refused_naming_the_limit() {
        let longest = "o".repeat(MAX_ORDER_ID);
        assert_eq!(order_id_refusal(&longest, Dialect::Stripe), None);
        // Every key stays within Stripe's 255.
        let refund =
            super::super::provider_client::refund_key(&longest, "pi_000000000000000000000000");
        assert!(refund.len() <= 255 && confirm_key(&longest, u32::MAX).len() <= 255);
        let e = order_id_refusal(&"o".repeat(300), Dialect::Stripe).unwrap();
        assert!(
            e.starts_with("order_id is 300 bytes long: expected at most 200"),
            "{e}"
        );
        assert_eq!(order_id_refusal("ord-000001_a", Dialect::Gateway), None);
        let e = order_id_refusal(&"o".repeat(65), Dialect::Gateway).unwrap();
        assert!(e.contains("expected 1 to 64 letters"), "{e}");
        assert!(order_id_refusal("ord 1", Dialect::Gateway).is_some());
    }

    #[test]
    fn exhausted_retries_are_pending_only_if_an_outcome_was_unknown() {
        let a = |last, saw_indeterminate| Attempts {
            last,
            saw_indeterminate,
            sent: 3,
        };
        assert_eq!(settlement_after(&a(Answer::Indeterminate, true)), None);
        assert_eq!(
            settlement_after(&a(Answer::Retryable { status: 500 }, true)),
            None
        );
        assert_eq!(
            settlement_after(&a(Answer::Retryable { status: 500 }, false)),
            Some(Settlement::Failed(FailReason::ProviderError))
        );
        assert_eq!(
            settlement_after(&a(Answer::Fatal { status: 400 }, false)),
            Some(Settlement::Failed(FailReason::ProviderError))
        );
        assert_eq!(
            settlement_after(&a(declined(FailReason::RiskBlocked), true)),
            Some(Settlement::Failed(FailReason::RiskBlocked))
        );
        assert_eq!(
            settlement_after(&a(declined(FailReason::ProviderError), true)),
            Some(Settlement::Failed(FailReason::ProviderError))
        );
    }

    #[test]
    fn the_correct_merchant_retries_unknowns_reconfirms_soft_declines_and_stops_on_hard_ones() {
        let ok = Flaws::NONE;
        assert_eq!(next_step(&Answer::Indeterminate, ok), Step::Retry);
        assert_eq!(
            next_step(&Answer::Retryable { status: 409 }, ok),
            Step::Retry
        );
        assert_eq!(
            next_step(&declined(FailReason::ProviderError), ok),
            Step::Reconfirm {
                payment_id: "pi_1".into()
            }
        );
        for hard in [
            FailReason::InsufficientFunds,
            FailReason::RiskBlocked,
            FailReason::Declined,
        ] {
            assert_eq!(next_step(&declined(hard), ok), Step::Stop);
        }
        let soft_without_intent = Answer::Declined {
            reason: FailReason::ProviderError,
            payment_id: None,
        };
        assert_eq!(next_step(&soft_without_intent, ok), Step::Stop);
        assert_eq!(next_step(&Answer::Fatal { status: 400 }, ok), Step::Stop);
    }

    #[test]
    fn flaws_change_exactly_their_decision() {
        let hard = declined(FailReason::InsufficientFunds);
        let retrying = Flaws::NONE.with(Flaw::RetryHardDeclines);
        assert_eq!(next_step(&hard, retrying), Step::Retry);
        assert_eq!(next_step(&Answer::Indeterminate, retrying), Step::Retry);
        let giving_up = Flaws::NONE.with(Flaw::TimeoutIsFailure);
        assert_eq!(next_step(&Answer::Indeterminate, giving_up), Step::GiveUp);
        assert_eq!(
            next_step(&Answer::Retryable { status: 500 }, giving_up),
            Step::Retry
        );
        assert_eq!(next_step(&hard, giving_up), Step::Stop);
        assert!(names_order(Flaws::NONE));
        assert!(!names_order(Flaws::NONE.with(Flaw::ChargeWithoutMetadata)));
        let paid = Answer::Succeeded {
            payment_id: "pi_1".into(),
        };
        let twice = Flaws::NONE.with(Flaw::DoubleChargeWithoutMetadata);
        assert!(charges_again(&paid, twice));
        assert!(!charges_again(&hard, twice) && !charges_again(&paid, Flaws::NONE));
    }

    #[test]
    fn create_keys_are_the_orders_unless_a_fresh_key_is_the_flaw() {
        assert_eq!(create_key("ord-1", 0, Flaws::NONE), "ord-1:charge");
        assert_eq!(create_key("ord-1", 2, Flaws::NONE), "ord-1:charge");
        let fresh = Flaws::NONE.with(Flaw::NewKeyOnRetry);
        assert_ne!(create_key("ord-1", 0, fresh), create_key("ord-1", 1, fresh));
        assert_ne!(confirm_key("ord-1", 1), confirm_key("ord-1", 2));
    }
}

/// The attempt loop against a wiremock provider.
#[cfg(test)]
mod http_tests {
    use crate::merchant::testkit::{self, charges, decline, form_of, intent, key_of};
    use serde_json::Value;
    use wiremock::matchers::{method, path};
    use wiremock::{Mock, MockServer, ResponseTemplate};

    #[tokio::test]
    async fn a_soft_decline_is_confirmed_again_under_a_new_key_and_pays() {
        // Arrange: the create soft-declines; confirming the same intent succeeds.
        let server = MockServer::start().await;
        testkit::mount_charge(
            &server,
            ResponseTemplate::new(402).set_body_json(decline("processing_error", "pi_soft")),
        )
        .await;
        Mock::given(method("POST"))
            .and(path("/v1/payment_intents/pi_soft/confirm"))
            .respond_with(ResponseTemplate::new(200).set_body_json(intent("pi_soft", "ord-1")))
            .mount(&server)
            .await;
        let m = testkit::start(testkit::config(&server.uri())).await;

        // Act
        let (status, answer) = m.checkout("ord-1").await;

        // Assert
        assert_eq!((status, answer["status"].as_str()), (200, Some("paid")));
        assert_eq!(charges(&server).await.len(), 1, "no second create");
        let confirms: Vec<_> = server
            .received_requests()
            .await
            .unwrap()
            .into_iter()
            .filter(|r| r.url.path().ends_with("/confirm"))
            .collect();
        assert_eq!(confirms.len(), 1);
        assert_eq!(key_of(&confirms[0]), "ord-1:confirm:1");
        assert!(form_of(&confirms[0]).contains(&("payment_method".into(), "pm_card_visa".into())));
        let (_, order) = m.order("ord-1").await;
        assert_eq!(order["fulfilments"], 1);
        m.stop().await;
    }

    #[tokio::test]
    async fn soft_declines_to_the_end_fail_as_provider_trouble() {
        let server = MockServer::start().await;
        testkit::mount_charge(
            &server,
            ResponseTemplate::new(402).set_body_json(decline("processing_error", "pi_s")),
        )
        .await;
        Mock::given(method("POST"))
            .and(path("/v1/payment_intents/pi_s/confirm"))
            .respond_with(
                ResponseTemplate::new(402).set_body_json(decline("processing_error", "pi_s")),
            )
            .mount(&server)
            .await;
        let cfg = testkit::config(&server.uri());
        let m = testkit::start(cfg.clone()).await;

        let (_, answer) = m.checkout("ord-2").await;

        assert_eq!(testkit::label(&answer), "failed_provider_error");
        let keys: Vec<String> = server
            .received_requests()
            .await
            .unwrap()
            .iter()
            .map(key_of)
            .collect();
        assert_eq!(keys.len() as u32, 1 + cfg.reference.max_retries);
        assert_eq!(keys, ["ord-2:charge", "ord-2:confirm:1", "ord-2:confirm:2"]);
        assert_eq!(
            answer["message"]
                .as_str()
                .map(|m| m.contains("Nothing was charged")),
            Some(true)
        );
        let _: Value = answer;
        m.stop().await;
    }
}
