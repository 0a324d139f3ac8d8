//! #9, a verdict to trust: money no order owns, refused genuine webhooks, declines the
//! merchant never heard, final reasons, and a merchant paying at another provider. Each
//! test fails on the verifier before these checks, or guards a false alarm.

use super::tests::{clean, only, Set};
use super::*;
use crate::domain::{AttemptResult, DeliveryFailure, FailReason, FaultKind, OrderStatus};

use AttemptResult as R;
use FailReason as F;
use OrderStatus as S;

/// `clean()` plus order `ord-000010` of `amount`, whose checkout spans 100..=160 ms.
fn with_order(amount: u64) -> Set {
    let mut s = clean();
    s.told_status("ord-000010", S::Paid)
        .final_state("ord-000010", S::Paid, 1);
    let c = s.last_checkout();
    (c.amount, c.intended_ms, c.latency_us) = (amount, 100, 60_000);
    s
}

/// A charge of `amount` at `at_ms` that names `order` (or none) and is no order's own.
fn stray(s: &mut Set, order: Option<&str>, amount: u64, at_ms: u64) {
    s.charge("ord-stray", R::Ok);
    let e = s.last_entry();
    e.order_id = order.map(Into::into);
    e.payment_id = Some("pi_stray".into());
    (e.amount, e.at_ms) = (amount, at_ms);
}

#[test]
fn a_paid_order_whose_only_charge_names_no_order_is_unattributed_not_free_goods() {
    let mut s = with_order(4321);
    stray(&mut s, None, 4321, 130);
    let d = only(Check::UnattributedCharge, &s);
    assert_eq!(d[0].order_id, "ord-000010");
    assert!(
        d[0].expected.contains("a charge naming ord-000010"),
        "{}",
        d[0]
    );
    assert!(
        d[0].observed
            .contains("pi_stray of 4321 usd at 130 ms naming no order"),
        "{}",
        d[0]
    );
}

#[test]
fn an_extra_charge_naming_no_order_is_tied_to_the_checkout_in_flight() {
    let mut s = with_order(4321);
    s.charge("ord-000010", R::Ok);
    s.last_entry().amount = 4321;
    stray(&mut s, None, 4321, 150);
    let d = only(Check::UnattributedCharge, &s);
    assert_eq!(d[0].order_id, "ord-000010");
    assert!(d[0]
        .observed
        .contains("by amount and time it is ord-000010's"));
    assert!(
        d[0].observed.contains("its own charge(s) pi_ord-000010"),
        "{}",
        d[0]
    );
}

#[test]
fn a_charge_for_an_order_never_sent_is_named_by_the_id_it_carried() {
    // A gateway trade whose out_trade_no the run never sent, refunded since.
    let mut s = clean();
    stray(&mut s, Some("ord-999999"), 777, 5_000);
    s.ledger.push(crate::verify::truth::tests::refund(
        99, None, "pi_stray", 777,
    ));
    let d = only(Check::UnattributedCharge, &s);
    assert_eq!(d[0].order_id, "ord-999999");
    assert!(d[0]
        .observed
        .contains("an order the run never sent, refunded 777"));
    assert!(d[0].observed.contains("no single checkout of that amount"));
}

#[test]
fn a_charge_of_another_amount_leaves_the_order_free_goods() {
    let mut s = with_order(4321);
    stray(&mut s, None, 99, 130);
    let r = reconcile(&s.evidence());
    assert_eq!(
        r.failed_checks(),
        [Check::FreeGoods, Check::UnattributedCharge]
    );
}

#[test]
fn a_genuine_delivery_answered_500_is_rejected_even_when_a_retry_is_acknowledged() {
    let mut s = clean();
    s.webhook("ord-000000", "evt_0b", Some(500))
        .webhook("ord-000000", "evt_0b", Some(200));
    s.last_webhook().attempt = 1;
    let d = only(Check::WebhookRejected, &s);
    assert_eq!(d[0].order_id, "ord-000000");
    assert!(d[0].expected.contains("payment_intent.succeeded evt_0b"));
    assert_eq!(
        d[0].observed,
        "1 of 2 attempt(s) refused (attempt 0: 500); acknowledged later"
    );
}

#[test]
fn a_refused_duplicate_or_gateway_body_is_rejected_but_timeouts_and_drops_are_not() {
    let mut s = clean();
    s.webhook("ord-000000", "evt_0", Some(409));
    s.last_webhook().duplicate = true;
    only(Check::WebhookRejected, &s);

    let mut s = clean();
    s.webhook("ord-000000", "evt_g", None);
    s.last_webhook().failure = Some(DeliveryFailure::BadAnswer);
    let d = only(Check::WebhookRejected, &s);
    assert!(d[0].observed.contains("never acknowledged"), "{}", d[0]);

    let mut s = clean();
    for failure in [DeliveryFailure::Timeout, DeliveryFailure::Dropped] {
        s.webhook("ord-000000", "evt_t", None);
        s.last_webhook().failure = Some(failure);
    }
    s.webhook("ord-000000", "evt_t", Some(200));
    let r = reconcile(&s.evidence());
    assert!(r.passed(), "{:#?}", r.discrepancies);
}

/// `ord-000010` declined for insufficient funds (seq 10), its answer cut off by the
/// merchant's timeout, then requests of `then` under the same key.
fn cut_off_decline(then: &[(R, bool)]) -> Set {
    let mut s = clean();
    s.charge("ord-000010", R::Declined(F::InsufficientFunds));
    s.last_entry().unanswered = true;
    for &(r, unanswered) in then {
        s.charge("ord-000010", r);
        s.last_entry().unanswered = unanswered;
    }
    s.told_status("ord-000010", S::Failed(F::InsufficientFunds))
        .final_state("ord-000010", S::Failed(F::InsufficientFunds), 0);
    s
}

#[test]
fn a_decline_cut_off_by_the_merchants_timeout_and_retried_under_its_key_is_clean() {
    // #9: latency 700 ms, provider_timeout 500 ms: the 402 lands after the merchant gave
    // up waiting; it retries under the same key until the replayed 402 reaches it.
    let s = cut_off_decline(&[(R::Replayed, true), (R::Replayed, false)]);
    let r = reconcile(&s.evidence());
    assert!(r.passed(), "{:#?}", r.discrepancies);
}

#[test]
fn a_retry_after_the_replayed_decline_reached_the_merchant_is_retried() {
    let s = cut_off_decline(&[(R::Replayed, false), (R::Replayed, false)]);
    let d = only(Check::HardDeclineRetried, &s);
    assert!(
        d[0].observed
            .ends_with("after the decline reached the merchant at seq 11"),
        "{}",
        d[0]
    );
}

#[test]
fn a_new_key_after_a_decline_is_retried_even_if_its_answer_was_lost() {
    let mut s = cut_off_decline(&[]);
    s.charge("ord-000010", R::Declined(F::InsufficientFunds));
    s.last_entry().idempotency_key = Some("ord-000010:charge:1".into());
    let d = only(Check::HardDeclineRetried, &s);
    assert!(
        d[0].observed.ends_with("under a new idempotency key"),
        "{}",
        d[0]
    );
}

#[test]
fn told_pending_then_failed_for_the_wrong_reason_is_a_wrong_reason() {
    let mut s = clean();
    s.charge("ord-000010", R::AnswerLost);
    let e = s.last_entry();
    (e.money_moved, e.declined) = (false, Some(F::InsufficientFunds));
    s.told_status("ord-000010", S::Pending)
        .final_state("ord-000010", S::Failed(F::RiskBlocked), 0);
    let d = only(Check::WrongReason, &s);
    assert!(
        d[0].observed.starts_with(
            "final failed_risk_blocked (told pending); ledger declines: insufficient_funds"
        ),
        "{}",
        d[0]
    );
    assert!(d[0].expected.contains("failed_insufficient_funds"));
}

#[test]
fn a_charged_order_ending_failed_is_named_by_its_money_not_its_reason() {
    let mut s = clean();
    s.charge("ord-000010", R::AnswerLost)
        .told_status("ord-000010", S::Pending)
        .final_state("ord-000010", S::Failed(F::InsufficientFunds), 0);
    only(Check::RefundOwed, &s);
}

#[test]
fn provider_trouble_before_a_late_charges_decline_is_the_right_reason() {
    // Given up after the grace, nothing at the provider then; the held charge declined later.
    let mut s = clean();
    s.charge("ord-000010", R::AnswerLost);
    let e = s.last_entry();
    (e.money_moved, e.declined) = (false, Some(F::InsufficientFunds));
    e.fault = Some(FaultKind::LateCharge);
    s.told_status("ord-000010", S::Pending).final_state(
        "ord-000010",
        S::Failed(F::ProviderError),
        0,
    );
    let r = reconcile(&s.evidence());
    assert!(r.passed(), "{:#?}", r.discrepancies);
}

#[test]
fn paid_orders_with_no_charge_at_the_provider_at_all_are_counted() {
    let mut s = Set::default();
    for id in ["ord-000001", "ord-000002"] {
        s.told_status(id, S::Paid).final_state(id, S::Paid, 1);
    }
    s.told_status("ord-000003", S::Pending)
        .final_state("ord-000003", S::Paid, 1);
    let r = reconcile(&s.evidence());
    assert_eq!(r.paid_unseen_by_provider, 3);
    assert_eq!(r.failed_checks(), [Check::FreeGoods]);
    assert_eq!(reconcile(&clean().evidence()).paid_unseen_by_provider, 0);
}
