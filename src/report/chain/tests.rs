//! Unit tests of the causal chains: which events each check quotes, and how they read.

use super::*;
use crate::domain::{AttemptResult, FailReason, OrderStatus};
use crate::report::history::History;
use crate::verify::tests::Set;

const ID: &str = "ord-r1-000001";

fn chain_of(check: Check, s: &Set) -> Vec<String> {
    chain(check, &History::new(s.evidence()).steps(ID))
}

/// A merchant that retried a lost answer under a new key: charged twice.
fn double_charged() -> Set {
    let mut s = Set::default();
    s.told_status(ID, OrderStatus::Paid);
    let c = s.checkouts.last_mut().unwrap();
    (c.intended_ms, c.latency_us) = (100, 1_100_000);
    s.charge(ID, AttemptResult::AnswerLost)
        .charge(ID, AttemptResult::Ok);
    for (e, (at, key, pi)) in s
        .ledger
        .iter_mut()
        .zip([(105, 0, "pi_a"), (1110, 1, "pi_b")])
    {
        e.at_ms = at;
        e.idempotency_key = Some(format!("{ID}:charge:{key}"));
        e.payment_id = Some(pi.into());
    }
    s.webhook(ID, "evt_a", Some(200));
    s.last_webhook().at_ms = 150;
    s.final_state(ID, OrderStatus::Paid, 1);
    s
}

#[test]
fn a_double_charge_tells_each_charge_with_its_key_then_the_outcome() {
    assert_eq!(
        chain_of(Check::DoubleCharge, &double_charged()),
        [
            "105 ms charge attempt 0 key ord-r1-000001:charge:0: timeout_after_charge, money moved (1000, pi_a), answer lost",
            "1110 ms charge attempt 1 key ord-r1-000001:charge:1 (new key): charged again (1000, pi_b)",
            "1200 ms told paid",
            "final paid",
        ]
    );
}

#[test]
fn a_lost_payment_tells_the_money_taken_and_what_the_merchant_made_of_it() {
    let mut s = Set::default();
    s.charge(ID, AttemptResult::Ok)
        .told_status(ID, OrderStatus::Failed(FailReason::ProviderError))
        .final_state(ID, OrderStatus::Failed(FailReason::ProviderError), 0)
        .webhook(ID, "evt_1", Some(200));
    assert_eq!(
        chain_of(Check::LostPayment, &s),
        [
            "0 ms charge attempt 0 key ord-r1-000001:charge: charged (1000, pi_ord-r1-000001)",
            "5 ms told failed_provider_error",
            "final failed_provider_error",
        ]
    );
}

#[test]
fn an_accepted_forgery_tells_the_forged_copy_and_the_merchant_s_2xx() {
    let mut s = Set::default();
    s.charge(ID, AttemptResult::Declined(FailReason::InsufficientFunds))
        .told_status(ID, OrderStatus::Failed(FailReason::InsufficientFunds))
        .webhook(ID, "evt_forged_1", Some(200))
        .final_state(ID, OrderStatus::Paid, 1);
    s.last_webhook().forged = true;
    s.webhook(ID, "evt_1", Some(200));
    assert_eq!(
        chain_of(Check::ForgedAccepted, &s),
        [
            "100 ms webhook payment_intent.succeeded evt_forged_1 (forged copy, attempt 0): acknowledged 200",
            "final paid",
        ]
    );
}

#[test]
fn a_retried_hard_decline_tells_the_decline_and_the_requests_after_it() {
    let mut s = Set::default();
    s.charge(ID, AttemptResult::ServerError)
        .charge(ID, AttemptResult::Declined(FailReason::RiskBlocked))
        .charge(ID, AttemptResult::Replayed)
        .told_status(ID, OrderStatus::Failed(FailReason::RiskBlocked))
        .final_state(ID, OrderStatus::Failed(FailReason::RiskBlocked), 0);
    let c = s.checkouts.last_mut().unwrap();
    c.latency_us = 40_000;
    assert_eq!(
        chain_of(Check::HardDeclineRetried, &s),
        [
            "10 ms charge attempt 1 key ord-r1-000001:charge: risk_block, declined risk_blocked (402)",
            "20 ms charge attempt 2 key ord-r1-000001:charge: replayed the saved answer (200)",
            "40 ms told failed_risk_blocked",
            "final failed_risk_blocked",
        ]
    );
}

#[test]
fn a_long_story_is_cut_and_counted_and_an_unknown_order_has_none() {
    let mut s = Set::default();
    for _ in 0..(MAX_LINES + 3) {
        s.charge(ID, AttemptResult::ServerError);
    }
    s.final_state(ID, OrderStatus::Pending, 0);
    let c = chain_of(Check::StuckPending, &s);
    assert_eq!(c.len(), MAX_LINES + 2, "{c:#?}");
    assert_eq!(c[MAX_LINES], "… 3 more in history.jsonl");
    assert_eq!(c[MAX_LINES + 1], "final pending");
    assert_eq!(
        c[0],
        "0 ms charge attempt 0 key ord-r1-000001:charge: server_error, 500, nothing moved"
    );
    assert!(chain(Check::DoubleCharge, &[]).is_empty());
}

#[test]
fn a_finding_serialises_flat_with_its_chain_and_reads_as_its_discrepancy() {
    let f = Finding {
        discrepancy: Discrepancy::new(Check::DoubleCharge, ID, "at most 1 charge", "2 charges"),
        chain: vec!["a".into(), "b".into()],
    };
    let v = serde_json::to_value(&f).unwrap();
    assert_eq!(
        v,
        serde_json::json!({"check": "double_charge", "order_id": ID, "expected": "at most 1 charge",
            "observed": "2 charges", "chain": ["a", "b"]})
    );
    let back: Finding = serde_json::from_value(v).unwrap();
    assert_eq!(back, f);
    assert_eq!((f.check, f.order_id.as_str()), (Check::DoubleCharge, ID));
    assert_eq!(f.chain_text(), "a → b");
    let old: Finding = serde_json::from_value(serde_json::json!({"check": "stuck_pending",
        "order_id": ID, "expected": "e", "observed": "o"}))
    .unwrap();
    assert!(
        old.chain.is_empty(),
        "reports written before chains still read"
    );
}
