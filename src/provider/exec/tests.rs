//! Unit tests of the module, kept apart so the module stays readable.

use super::*;
use crate::chaos::{rates_of, FaultKind, Rates};
use crate::provider::dialects::{stripe, Route};
use crate::provider::ledger::{payment_id_for, Intent};
use crate::provider::tests::support::{order_hit_first, Bench};

impl Plan {
    fn reply_answer(&self) -> Answer {
        match &self.reply {
            Reply::Fresh(a) => a.clone(),
            other => panic!("no fresh answer in {other:?}"),
        }
    }
}

fn intent_of(plan: &Plan) -> &Intent {
    match &plan.reply {
        Reply::Fresh(Answer::Intent(it)) | Reply::Fresh(Answer::Declined(it)) => it,
        other => panic!("no intent in {other:?}"),
    }
}

#[test]
fn clean_charge_moves_money_and_creates_a_succeeded_event() {
    let mut b = Bench::new(Rates::default());
    let plan = b.charge("ord-000001", Some("ord-000001:charge"));
    assert_eq!(plan.event, Some(EventKind::Succeeded));
    assert_eq!(plan.save.as_deref(), Some("ord-000001:charge"));
    assert!(!plan.lost);
    let it = intent_of(&plan);
    assert_eq!(it.status, IntentStatus::Succeeded);
    assert_eq!(it.id, payment_id_for(42, "ord-000001", "ord-000001:charge"));
    let e = b.last();
    assert_eq!(
        (e.op, e.result, e.money_moved, e.status, e.attempt),
        (PaymentOp::Charge, AttemptResult::Ok, true, 200, 0)
    );
    assert_eq!(e.payment_id.as_deref(), Some(it.id.as_str()));
    assert_eq!(e.idempotency_key.as_deref(), Some("ord-000001:charge"));
    assert_eq!((e.fault, e.declined, e.amount), (None, None, 1000));
}

#[test]
fn attempts_count_per_order_including_replays_and_conflicts() {
    let mut b = Bench::new(Rates::default());
    let first = b.charge("ord-000001", Some("k1"));
    b.charge("ord-000001", Some("k1")); // in flight: 409
    b.save(&first);
    b.charge("ord-000001", Some("k1")); // replay
    b.charge("ord-000002", Some("k2"));
    let seen: Vec<_> = b
        .state
        .ledger
        .entries()
        .iter()
        .map(|e| (e.order_id.clone().unwrap(), e.attempt, e.result, e.seq))
        .collect();
    assert_eq!(
        seen,
        vec![
            ("ord-000001".into(), 0, AttemptResult::Ok, 0),
            ("ord-000001".into(), 1, AttemptResult::InFlightConflict, 1),
            ("ord-000001".into(), 2, AttemptResult::Replayed, 2),
            ("ord-000002".into(), 0, AttemptResult::Ok, 3),
        ]
    );
    assert_eq!(b.state.ledger.entries()[1].status, 409);
    let replay = &b.state.ledger.entries()[2];
    assert!(!replay.money_moved);
    assert_eq!(replay.payment_id, b.state.ledger.entries()[0].payment_id);
}

#[test]
fn sticky_decline_holds_on_every_attempt_and_keeps_the_intent() {
    let mut b = Bench::new(rates_of([(FaultKind::InsufficientFunds, 1.0)]));
    for (n, key) in ["a", "b"].into_iter().enumerate() {
        let plan = b.charge("ord-000003", Some(key));
        assert_eq!(plan.event, Some(EventKind::PaymentFailed));
        let it = intent_of(&plan);
        assert_eq!(it.status, IntentStatus::RequiresPaymentMethod);
        assert_eq!(it.payment_method, None, "detached after the decline");
        assert_eq!(
            it.last_error.as_ref().map(|d| d.reason),
            Some(FailReason::InsufficientFunds)
        );
        let e = b.last();
        assert_eq!(e.attempt, n as u32);
        assert_eq!(
            e.result,
            AttemptResult::Declined(FailReason::InsufficientFunds)
        );
        assert_eq!(e.fault, Some(FaultKind::InsufficientFunds));
        assert_eq!(
            (e.declined, e.money_moved, e.status),
            (Some(FailReason::InsufficientFunds), false, 402)
        );
    }
    let plan = b.search("ord-000003");
    let Reply::Fresh(Answer::Search(found)) = plan.reply else {
        panic!("search answer")
    };
    assert_eq!(found.len(), 2);
}

#[test]
fn timeout_after_charge_executes_saves_and_loses_the_answer() {
    let mut b = Bench::new(rates_of([(FaultKind::TimeoutAfterCharge, 0.5)]));
    let order = order_hit_first(&b.chaos, FaultKind::TimeoutAfterCharge, 1);
    let plan = b.charge(&order, Some("k"));
    assert!(plan.lost);
    assert_eq!(plan.save.as_deref(), Some("k"));
    assert_eq!(plan.event, Some(EventKind::Succeeded));
    let e = b.last().clone();
    assert_eq!(
        (e.result, e.status, e.money_moved),
        (AttemptResult::AnswerLost, 0, true)
    );
    assert_eq!(e.fault, Some(FaultKind::TimeoutAfterCharge));
    b.save(&plan);
    let retry = b.charge(&order, Some("k"));
    assert!(matches!(retry.reply, Reply::Replay { status: 200, .. }));
    assert_eq!(retry.event, None, "replays create no event");
    assert_eq!(
        (b.last().result, b.last().money_moved),
        (AttemptResult::Replayed, false)
    );
}

#[test]
fn lost_answer_of_a_decline_keeps_the_decline() {
    let mut b = Bench::new(rates_of([
        (FaultKind::TimeoutAfterCharge, 0.5),
        (FaultKind::RiskBlock, 1.0),
    ]));
    let order = order_hit_first(&b.chaos, FaultKind::TimeoutAfterCharge, 1);
    b.charge(&order, Some("k"));
    let e = b.last();
    assert_eq!(
        (e.result, e.money_moved),
        (AttemptResult::AnswerLost, false)
    );
    assert_eq!(e.fault, Some(FaultKind::TimeoutAfterCharge));
    assert_eq!(e.declined, Some(FailReason::RiskBlocked));
}

#[test]
fn create_without_confirm_then_confirm_charges_once() {
    let mut b = Bench::new(Rates::default());
    let body = "amount=500&currency=usd&payment_method=pm_card_visa&metadata[order_id]=ord-000004";
    let created = b.run(Route::CreateIntent, "/v1/payment_intents", body, Some("c"));
    let it = intent_of(&created).clone();
    assert_eq!(it.status, IntentStatus::RequiresConfirmation);
    assert_eq!((b.last().money_moved, b.last().attempt), (false, 0));
    let path = format!("/v1/payment_intents/{}/confirm", it.id);
    let confirmed = b.run(Route::ConfirmIntent(it.id.clone()), &path, "", Some("f"));
    assert_eq!(intent_of(&confirmed).status, IntentStatus::Succeeded);
    let e = b.last();
    assert_eq!(
        (e.result, e.money_moved, e.attempt),
        (AttemptResult::Ok, true, 0)
    );
    assert_eq!(e.order_id.as_deref(), Some("ord-000004"));
    let again = b.run(Route::ConfirmIntent(it.id.clone()), &path, "", Some("g"));
    let Reply::Fresh(Answer::Error(ApiError::UnexpectedState { .. })) = again.reply else {
        panic!("a succeeded intent cannot be confirmed again")
    };
    assert_eq!(
        (b.last().result, b.last().attempt),
        (AttemptResult::Invalid, 1)
    );
    let missing = b.run(
        Route::ConfirmIntent("pi_nope".into()),
        "/v1/payment_intents/pi_nope/confirm",
        "",
        None,
    );
    assert!(matches!(
        missing.reply,
        Reply::Fresh(Answer::Error(ApiError::NoSuchIntent { .. }))
    ));
    assert_eq!(
        (b.last().result, b.last().status),
        (AttemptResult::Invalid, 404)
    );
}

#[test]
fn refunds_full_partial_and_too_large() {
    let mut b = Bench::new(Rates::default());
    let pi = intent_of(&b.charge("ord-000005", Some("k"))).id.clone();
    let part = b.refund(&pi, Some(300), "r1");
    let Reply::Fresh(Answer::Refund(r)) = &part.reply else {
        panic!("refund")
    };
    assert_eq!((r.amount, r.payment_intent.as_str()), (300, pi.as_str()));
    let e = b.last();
    assert_eq!(
        (e.op, e.result, e.money_moved, e.amount, e.attempt),
        (PaymentOp::Refund, AttemptResult::Ok, true, 300, 0)
    );
    let over = b.refund(&pi, Some(701), "r2");
    assert!(matches!(
        over.reply,
        Reply::Fresh(Answer::Error(ApiError::RefundTooLarge {
            amount: 701,
            remaining: 700
        }))
    ));
    assert_eq!(
        (b.last().result, b.last().status, b.last().money_moved),
        (AttemptResult::Invalid, 400, false)
    );
    let rest = b.refund(&pi, None, "r3");
    let Reply::Fresh(Answer::Refund(r)) = &rest.reply else {
        panic!("refund of the rest")
    };
    assert_eq!(r.amount, 700);
    assert_eq!(b.state.ledger.intent(&pi).unwrap().amount_refunded, 1000);
    let done = b.refund(&pi, None, "r4");
    assert!(matches!(
        done.reply,
        Reply::Fresh(Answer::Error(ApiError::AlreadyRefunded { .. }))
    ));
    assert_eq!(b.state.ledger.refunds().len(), 2);
    assert_eq!(b.last().attempt, 3, "refund attempts are counted per order");
}

#[test]
fn refund_of_a_declined_intent_is_refused() {
    let mut b = Bench::new(rates_of([(FaultKind::RiskBlock, 1.0)]));
    let pi = intent_of(&b.charge("ord-000006", Some("k"))).id.clone();
    let plan = b.refund(&pi, None, "r");
    assert!(matches!(
        plan.reply,
        Reply::Fresh(Answer::Error(ApiError::UnexpectedState { .. }))
    ));
    assert!(!b.last().money_moved);
}

#[test]
fn charges_without_order_or_key_get_distinct_ids_and_no_faults() {
    let mut b = Bench::new(rates_of([
        (FaultKind::ServerError, 1.0),
        (FaultKind::RiskBlock, 1.0),
    ]));
    let body = "amount=100&currency=usd&payment_method=pm_card_visa&confirm=true";
    let a = intent_of(&b.run(Route::CreateIntent, "/v1/payment_intents", body, None)).clone();
    let c = intent_of(&b.run(Route::CreateIntent, "/v1/payment_intents", body, None)).clone();
    assert_ne!(a.id, c.id);
    assert_eq!(a.status, IntentStatus::Succeeded, "faults need an order id");
    let mut b2 = Bench::new(Rates::default());
    let y = intent_of(&b2.charge("ord-000007", None)).clone();
    let z = intent_of(&b2.charge("ord-000007", None)).clone();
    assert_eq!(y.id.len(), 27, "pi_ + 24 hex digits");
    assert_ne!(y.id, z.id, "no key twice still gives two intents");
}

#[test]
fn retrieve_and_search_record_queries() {
    let mut b = Bench::new(Rates::default());
    let pi = intent_of(&b.charge("ord-000008", Some("k"))).id.clone();
    let path = format!("/v1/payment_intents/{pi}");
    let got = b.run(Route::RetrieveIntent(pi.clone()), &path, "", None);
    assert_eq!(intent_of(&got).id, pi);
    let e = b.last();
    assert_eq!(
        (e.op, e.result, e.status),
        (PaymentOp::Query, AttemptResult::Ok, 200)
    );
    assert_eq!(e.order_id.as_deref(), Some("ord-000008"));
    let none = b.search("ord-999999");
    assert_eq!(none.reply, Reply::Fresh(Answer::Search(vec![])));
    let gone = b.run(
        Route::RetrieveIntent("pi_x".into()),
        "/v1/payment_intents/pi_x",
        "",
        None,
    );
    assert!(matches!(
        gone.reply,
        Reply::Fresh(Answer::Error(ApiError::NoSuchIntent { .. }))
    ));
    assert_eq!(b.last().status, 404);
}

#[test]
fn processing_error_soft_declines_and_a_confirm_can_then_succeed() {
    let mut b = Bench::new(rates_of([(FaultKind::ProcessingError, 0.5)]));
    let order = order_hit_first(&b.chaos, FaultKind::ProcessingError, 1);
    let plan = b.charge(&order, Some("k"));
    assert_eq!(plan.event, Some(EventKind::PaymentFailed));
    let it = intent_of(&plan).clone();
    assert_eq!(it.status, IntentStatus::RequiresPaymentMethod);
    let e = b.last();
    assert_eq!(
        (e.result, e.declined, e.fault, e.money_moved, e.status),
        (
            AttemptResult::Declined(FailReason::ProviderError),
            Some(FailReason::ProviderError),
            Some(FaultKind::ProcessingError),
            false,
            402
        )
    );
    let (r, _) = stripe::render(&plan.reply_answer(), None);
    let v: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
    assert_eq!(v["error"]["decline_code"], "processing_error");
    // Attempt 1 is clean: confirming the same intent (new key) charges it.
    let path = format!("/v1/payment_intents/{}/confirm", it.id);
    let confirmed = b.run(
        Route::ConfirmIntent(it.id.clone()),
        &path,
        "payment_method=pm_card_visa",
        Some("k2"),
    );
    assert_eq!(intent_of(&confirmed).status, IntentStatus::Succeeded);
    assert_eq!(confirmed.event, Some(EventKind::Succeeded));
    assert_eq!((b.last().attempt, b.last().money_moved), (1, true));
}

#[test]
fn late_charge_executes_only_when_run_and_keeps_its_key_in_flight() {
    let mut b = Bench::new(rates_of([(FaultKind::LateCharge, 0.5)]));
    let order = order_hit_first(&b.chaos, FaultKind::LateCharge, 1);
    let plan = b.charge(&order, Some("k"));
    let Reply::Late(late) = plan.reply else {
        panic!("a late charge is deferred: {:?}", plan.reply)
    };
    assert!(b.state.ledger.entries().is_empty(), "nothing recorded yet");
    assert!(
        b.state.ledger.find("order_id", &order).is_empty(),
        "nothing visible"
    );
    let retry = b.charge(&order, Some("k"));
    assert!(matches!(
        retry.reply,
        Reply::Fresh(Answer::Error(ApiError::KeyInUse { .. }))
    ));
    let ctx = Ctx {
        chaos: &b.chaos,
        dialect: &stripe::Stripe,
        at: Duration::from_millis(900),
        unix: 1,
        base: "http://127.0.0.1:1",
        challenge: Default::default(),
    };
    let done = b.state.execute_late(&ctx, *late);
    assert!(done.lost);
    assert_eq!(done.save.as_deref(), Some("k"));
    assert_eq!(done.event, Some(EventKind::Succeeded));
    let e = b.last();
    assert_eq!(
        (e.result, e.money_moved, e.status, e.attempt, e.at_ms),
        (AttemptResult::AnswerLost, true, 0, 0, 900)
    );
    assert_eq!(e.fault, Some(FaultKind::LateCharge));
    assert_eq!(b.state.ledger.find("order_id", &order).len(), 1);
}

#[test]
fn a_bounded_state_holds_at_most_its_retention_after_more_payments() {
    use crate::provider::retention::{Retention, ENTRIES_PER_PAYMENT, KEYS_PER_PAYMENT};
    let (n, k) = (30, 45);
    let mut b = Bench::new(Rates::default());
    b.state = State::bounded(Retention { payments: n });
    for i in 0..n + k {
        let order = format!("ord-{i:06}");
        let plan = b.charge(&order, Some(&format!("{order}:charge")));
        b.save(&plan);
        b.search(&order);
    }
    let st = &b.state;
    assert_eq!(st.ledger.payments(), n);
    assert_eq!(st.evicted.payments, k as u64);
    assert!(st.keys.len() <= KEYS_PER_PAYMENT * n);
    let entries = ENTRIES_PER_PAYMENT * n;
    assert!(st.ledger.entries().len() <= entries + entries / 8);
    assert_eq!(
        st.evicted.ledger_entries + st.ledger.entries().len() as u64,
        2 * (n + k) as u64,
        "every request was recorded, then kept or counted as evicted"
    );
    // The newest order is still found, replayed and counted.
    let newest = format!("ord-{:06}", n + k - 1);
    let found = b.search(&newest).reply_answer();
    assert!(matches!(found, Answer::Search(list) if list.len() == 1));
    let again = b.charge(&newest, Some(&format!("{newest}:charge")));
    assert!(matches!(again.reply, Reply::Replay { .. }));
}

#[test]
fn targeted_faults_hit_refunds_and_queries_and_leave_the_charge_alone() {
    use crate::chaos::{FaultOp, Targets};
    let mut b = Bench::new(rates_of([
        (FaultKind::TimeoutAfterCharge, 0.5),
        (FaultKind::ServerError, 0.5),
    ]));
    b.chaos.plan.targets[FaultKind::TimeoutAfterCharge] = Targets::of([FaultOp::Refund]);
    b.chaos.plan.targets[FaultKind::ServerError] = Targets::of([FaultOp::Query]);
    // The order whose first refund loses its answer and whose first query fails.
    let c = b.chaos.clone();
    let t0 = Duration::ZERO;
    let order = (0..)
        .map(|i| format!("ord-{i:06}"))
        .find(|o| {
            c.attempt_on(FaultOp::Refund, o, 0, t0) == Some(FaultKind::TimeoutAfterCharge)
                && c.attempt_on(FaultOp::Refund, o, 1, t0).is_none()
                && c.attempt_on(FaultOp::Query, o, 0, t0) == Some(FaultKind::ServerError)
                && c.attempt_on(FaultOp::Query, o, 1, t0).is_none()
        })
        .unwrap();
    assert_eq!(c.attempt(&order, 0, t0), None, "no kind targets the charge");

    let charged = b.charge(&order, Some("k-charge"));
    assert!(!charged.lost);
    let pi = intent_of(&charged).id.clone();
    assert!(b.last().money_moved && b.last().fault.is_none());

    let first = b.search(&order);
    assert!(matches!(
        first.reply_answer(),
        Answer::Error(ApiError::ServerError)
    ));
    assert_eq!(b.last().fault, Some(FaultKind::ServerError));
    let second = b.search(&order);
    assert!(
        matches!(second.reply_answer(), Answer::Search(_)),
        "attempt 1 passes"
    );

    let lost = b.refund(&pi, None, "k-refund");
    assert!(lost.lost, "refunded, answer withheld");
    assert_eq!(b.last().result, AttemptResult::AnswerLost);
    assert_eq!(b.last().fault, Some(FaultKind::TimeoutAfterCharge));
    assert!(b.last().money_moved);
    b.save(&lost);
    let again = b.refund(&pi, None, "k-refund");
    assert!(matches!(again.reply, Reply::Replay { .. }), "{again:?}");
    let refunds = b.state.ledger.entries().iter();
    let moved = refunds
        .filter(|e| e.op == PaymentOp::Refund && e.money_moved)
        .count();
    assert_eq!(moved, 1, "the same key refunds once");
}
