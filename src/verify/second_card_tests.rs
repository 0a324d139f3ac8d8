//! A customer paying an order again with another card after a decline: a payment of its
//! own, not a retry of the declined card (`hard_decline_retried` stays quiet), while the
//! declined card charged again still is one; and a second capture is `double_charge`.

use super::tests::{clean, only, Set};
use super::*;
use crate::domain::card::fingerprint;
use crate::domain::{AttemptResult, FailReason, OrderStatus};

use AttemptResult as R;
use FailReason as F;
use OrderStatus as S;

const ORDER: &str = "ord-000010";

/// `clean()` plus `ORDER` declined (insufficient funds, answered) on the visa, then a
/// charge request under a new key paying with `second` and ending in `result`.
fn declined_then(second: &str, result: AttemptResult) -> Set {
    let mut s = clean();
    s.charge(ORDER, R::Declined(F::InsufficientFunds));
    s.last_entry().card = fingerprint(Some("pm_card_visa"));
    s.charge(ORDER, result);
    let e = s.last_entry();
    e.card = fingerprint(Some(second));
    e.idempotency_key = Some(format!("{ORDER}:pay1:charge"));
    e.payment_id = Some(format!("pi_{ORDER}_2"));
    s.told_status(ORDER, S::Failed(F::InsufficientFunds));
    s
}

#[test]
fn another_card_after_a_decline_is_no_hard_decline_retried() {
    let mut s = declined_then("pm_card_amex", R::Ok);
    s.final_state(ORDER, S::Paid, 1);
    let r = reconcile(&s.evidence());
    assert!(r.passed(), "{:#?}", r.discrepancies);
    let t = &r.orders[ORDER].truth;
    assert_eq!(t.label(), TruthLabel::Charged);
    assert!(t.after_decline.is_empty(), "{:?}", t.after_decline);
    assert_eq!(t.other_card_charged, 1000);
}

#[test]
fn the_declined_card_charged_again_under_a_new_key_is_still_retried() {
    let mut s = declined_then("pm_card_visa", R::Declined(F::InsufficientFunds));
    s.final_state(ORDER, S::Failed(F::InsufficientFunds), 0);
    let d = only(Check::HardDeclineRetried, &s);
    assert!(d[0].observed.contains("at seq 11"), "{}", d[0]);
}

#[test]
fn going_back_to_the_declined_card_after_another_is_retried() {
    let mut s = declined_then("pm_card_amex", R::Declined(F::Declined));
    s.charge(ORDER, R::Declined(F::InsufficientFunds));
    let e = s.last_entry();
    e.card = fingerprint(Some("pm_card_visa"));
    e.idempotency_key = Some(format!("{ORDER}:pay2:charge"));
    s.final_state(ORDER, S::Failed(F::InsufficientFunds), 0);
    let d = only(Check::HardDeclineRetried, &s);
    assert!(d[0].observed.contains("1 charge request(s)"), "{}", d[0]);
}

#[test]
fn unknown_cards_get_no_exemption() {
    let mut s = declined_then("pm_card_amex", R::Ok);
    s.last_entry().card = 0;
    s.final_state(ORDER, S::Paid, 1);
    only(Check::HardDeclineRetried, &s);
}

#[test]
fn a_second_capture_with_another_card_is_a_double_charge() {
    let mut s = clean();
    s.charge(ORDER, R::Ok);
    s.last_entry().card = fingerprint(Some("pm_card_visa"));
    s.charge(ORDER, R::Ok);
    let e = s.last_entry();
    e.card = fingerprint(Some("pm_card_amex"));
    e.idempotency_key = Some(format!("{ORDER}:pay1:charge"));
    e.payment_id = Some(format!("pi_{ORDER}_2"));
    s.told_status(ORDER, S::Pending)
        .final_state(ORDER, S::Paid, 1);
    let d = only(Check::DoubleCharge, &s);
    assert!(d[0].observed.contains("2 charges"), "{}", d[0]);
}
