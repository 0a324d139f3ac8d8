//! Tests of the intent lifecycle under the lock (no server): test cards, 3D Secure, manual
//! capture, cancel, update, refunds by charge, event numbering and expansion.

use crate::chaos::{rates_of, FaultKind, Rates};
use crate::domain::{AttemptResult, FailReason, PaymentOp};
use crate::provider::cards::DeclineCode;
use crate::provider::dialects::{Answer, ApiError, EventKind};
use crate::provider::exec::{Plan, Reply};
use crate::provider::ledger::{Intent, IntentStatus};
use crate::provider::tests::support::Bench;

fn intent_of(plan: &Plan) -> &Intent {
    match &plan.reply {
        Reply::Fresh(a) => a.intent().unwrap_or_else(|| panic!("no intent in {a:?}")),
        other => panic!("no intent in {other:?}"),
    }
}

fn error_of(plan: &Plan) -> &ApiError {
    match &plan.reply {
        Reply::Fresh(Answer::Error(e)) => e,
        other => panic!("no error in {other:?}"),
    }
}

#[test]
fn decline_cards_decide_over_a_clean_chaos_plan() {
    for (pm, code, reason) in [
        (
            "pm_card_chargeDeclinedInsufficientFunds",
            DeclineCode::InsufficientFunds,
            FailReason::InsufficientFunds,
        ),
        (
            "pm_card_radarBlock",
            DeclineCode::RiskBlock,
            FailReason::RiskBlocked,
        ),
        (
            "pm_card_chargeDeclined",
            DeclineCode::Generic,
            FailReason::Declined,
        ),
        (
            "pm_card_chargeDeclinedExpiredCard",
            DeclineCode::ExpiredCard,
            FailReason::Declined,
        ),
        (
            "pm_card_chargeDeclinedProcessingError",
            DeclineCode::ProcessingError,
            FailReason::Declined,
        ),
    ] {
        let mut b = Bench::new(Rates::default());
        let plan = b.pay(pm, "ord-000001", "k");
        assert!(
            matches!(plan.reply, Reply::Fresh(Answer::Declined(_))),
            "{pm}"
        );
        assert_eq!(plan.event, Some(EventKind::PaymentFailed));
        let it = intent_of(&plan);
        assert_eq!(it.status, IntentStatus::RequiresPaymentMethod);
        assert_eq!(it.last_error.as_ref().map(|d| d.code), Some(code), "{pm}");
        let e = b.last();
        assert_eq!(e.result, AttemptResult::Declined(reason), "{pm}");
        assert_eq!((e.declined, e.fault, e.status), (Some(reason), None, 402));
        assert!(!e.money_moved);
        let charge = b.state.ledger.charge(it.latest_charge.as_deref().unwrap());
        assert_eq!(charge.map(|c| c.decline), Some(Some(code)));
    }
}

#[test]
fn ordinary_cards_meet_chaos_and_test_cards_ignore_its_sticky_faults() {
    let mut b = Bench::new(rates_of([(FaultKind::InsufficientFunds, 1.0)]));
    b.pay("pm_card_visa", "ord-000001", "a");
    assert_eq!(b.last().fault, Some(FaultKind::InsufficientFunds));
    b.pay("pm_card_radarBlock", "ord-000002", "b");
    assert_eq!(
        (b.last().result, b.last().fault),
        (AttemptResult::Declined(FailReason::RiskBlocked), None)
    );
    let mut clean = Bench::new(Rates::default());
    let ok = clean.pay("pm_card_mastercard", "ord-000003", "c");
    assert_eq!(intent_of(&ok).status, IntentStatus::Succeeded);
}

#[test]
fn transport_faults_still_come_before_a_test_card() {
    let mut b = Bench::new(rates_of([(FaultKind::ServerError, 1.0)]));
    let plan = b.pay("pm_card_chargeDeclinedInsufficientFunds", "ord-000001", "k");
    assert_eq!(*error_of(&plan), ApiError::ServerError);
    assert_eq!(b.last().result, AttemptResult::ServerError);
    // Without an order id no fault applies: the card decides.
    let plan = b.pay("pm_card_chargeDeclinedInsufficientFunds", "", "k2");
    assert!(matches!(plan.reply, Reply::Fresh(Answer::Declined(_))));
}

#[test]
fn three_d_secure_card_requires_action_and_moves_nothing() {
    let mut b = Bench::new(Rates::default());
    let plan = b.pay("pm_card_threeDSecure2Required", "ord-000001", "k");
    let it = intent_of(&plan).clone();
    assert_eq!(it.status, IntentStatus::RequiresAction);
    assert_eq!(it.latest_charge, None, "no charge before authentication");
    assert_eq!(plan.event, Some(EventKind::RequiresAction));
    let e = b.last();
    assert_eq!(
        (e.result, e.money_moved, e.status),
        (AttemptResult::Ok, false, 200)
    );
    let cancel = b.on(&it.id, "cancel", "cancellation_reason=abandoned", "c");
    let done = intent_of(&cancel);
    assert_eq!(done.status, IntentStatus::Canceled);
    assert_eq!(done.cancellation_reason.as_deref(), Some("abandoned"));
    assert_eq!(done.canceled_at, Some(1_800_000_000));
}

#[test]
fn manual_capture_authorises_then_moves_money_at_capture() {
    let mut b = Bench::new(Rates::default());
    let body = "amount=1000&currency=usd&payment_method=pm_card_visa&confirm=true&capture_method=manual&metadata[order_id]=ord-000001";
    let auth = b.create(body, "a");
    let it = intent_of(&auth).clone();
    assert_eq!(it.status, IntentStatus::RequiresCapture);
    assert_eq!((it.amount_capturable, it.amount_received), (1000, 0));
    assert_eq!(auth.event, Some(EventKind::AmountCapturableUpdated));
    let e = b.last();
    assert_eq!(
        (e.op, e.result, e.money_moved),
        (PaymentOp::Charge, AttemptResult::Ok, false)
    );
    let charge = it.latest_charge.clone().unwrap();
    assert!(!b.state.ledger.charge(&charge).unwrap().captured);

    let too_much = b.on(&it.id, "capture", "amount_to_capture=1001", "c0");
    assert_eq!(
        *error_of(&too_much),
        ApiError::CaptureTooLarge {
            amount: 1001,
            capturable: 1000
        }
    );
    assert_eq!(
        (b.last().result, b.last().status),
        (AttemptResult::Invalid, 400)
    );
    let cap = b.on(&it.id, "capture", "amount_to_capture=600", "c1");
    let done = intent_of(&cap);
    assert_eq!(done.status, IntentStatus::Succeeded);
    assert_eq!((done.amount_received, done.amount_capturable), (600, 0));
    assert_eq!(cap.event, Some(EventKind::Succeeded));
    let e = b.last();
    assert_eq!(
        (e.op, e.result, e.money_moved, e.amount, e.attempt),
        (PaymentOp::Charge, AttemptResult::Ok, true, 600, 2)
    );
    let c = b.state.ledger.charge(&charge).unwrap();
    assert_eq!((c.captured, c.amount_captured), (true, 600));

    // Refunds are bounded by what was captured.
    let over = b.refund_form(&format!("payment_intent={}&amount=601", it.id), "r1");
    assert!(matches!(
        error_of(&over),
        ApiError::RefundTooLarge {
            amount: 601,
            remaining: 600
        }
    ));
    let again = b.on(&it.id, "capture", "", "c2");
    assert!(matches!(
        error_of(&again),
        ApiError::UnexpectedState {
            action: "capture",
            status: IntentStatus::Succeeded,
            ..
        }
    ));
}

#[test]
fn cancel_releases_an_authorisation_and_refuses_a_succeeded_intent() {
    let mut b = Bench::new(Rates::default());
    let body = "amount=800&currency=usd&payment_method=pm_card_visa&confirm=true&capture_method=manual&metadata[order_id]=ord-000002";
    let it = intent_of(&b.create(body, "a")).clone();
    let cancel = b.on(
        &it.id,
        "cancel",
        "cancellation_reason=requested_by_customer",
        "x",
    );
    assert_eq!(intent_of(&cancel).status, IntentStatus::Canceled);
    assert_eq!(intent_of(&cancel).amount_capturable, 0);
    assert_eq!(cancel.event, Some(EventKind::Canceled));
    let e = b.last();
    assert_eq!(
        (e.op, e.result, e.money_moved, e.amount),
        (PaymentOp::Refund, AttemptResult::Ok, false, 800)
    );
    let c = b
        .state
        .ledger
        .charge(it.latest_charge.as_deref().unwrap())
        .unwrap();
    assert!(c.released && c.refunded());
    let capture = b.on(&it.id, "capture", "", "y");
    assert!(matches!(
        error_of(&capture),
        ApiError::UnexpectedState {
            status: IntentStatus::Canceled,
            ..
        }
    ));

    let paid = intent_of(&b.pay("pm_card_visa", "ord-000003", "p")).clone();
    let refused = b.on(&paid.id, "cancel", "", "z");
    assert!(matches!(
        error_of(&refused),
        ApiError::UnexpectedState {
            action: "cancel",
            status: IntentStatus::Succeeded,
            ..
        }
    ));
    assert_eq!(b.last().result, AttemptResult::Invalid);
    let missing = b.on("pi_nope", "cancel", "", "w");
    assert!(matches!(error_of(&missing), ApiError::NoSuchIntent { .. }));
    assert_eq!(b.last().status, 404);
}

#[test]
fn update_changes_payment_fields_before_confirmation_and_metadata_always() {
    let mut b = Bench::new(Rates::default());
    let created = b.create("amount=500&currency=usd&metadata[order_id]=ord-000004", "c");
    let it = intent_of(&created).clone();
    assert_eq!(it.status, IntentStatus::RequiresPaymentMethod);
    let up = b.on(
        &it.id,
        "update",
        "amount=700&payment_method=pm_card_visa&metadata[order_id]=ord-000005&metadata[note]=n",
        "u1",
    );
    let now = intent_of(&up);
    assert_eq!(
        (now.amount, now.status),
        (700, IntentStatus::RequiresConfirmation)
    );
    assert_eq!(now.order_id(), Some("ord-000005"));
    assert_eq!(b.last().op, PaymentOp::Query);
    assert_eq!(b.state.ledger.find("order_id", "ord-000005").len(), 1);
    assert!(b.state.ledger.find("order_id", "ord-000004").is_empty());
    let paid = b.on(&it.id, "confirm", "", "f");
    assert_eq!(intent_of(&paid).status, IntentStatus::Succeeded);
    assert_eq!(b.last().amount, 700);
    let late = b.on(&it.id, "update", "amount=900", "u2");
    assert!(matches!(
        error_of(&late),
        ApiError::UnexpectedState {
            action: "update",
            ..
        }
    ));
    let meta = b.on(&it.id, "update", "metadata[note]=&description=late", "u3");
    let m = intent_of(&meta);
    assert_eq!(m.metadata.get("note"), None);
    assert_eq!(m.description.as_deref(), Some("late"));
    assert_eq!(m.amount, 700);
}

#[test]
fn refund_by_charge_names_its_intent() {
    let mut b = Bench::new(Rates::default());
    let it = intent_of(&b.pay("pm_card_visa", "ord-000006", "k")).clone();
    let charge = it.latest_charge.clone().unwrap();
    let r = b.refund_form(&format!("charge={charge}&amount=250"), "r1");
    let Reply::Fresh(Answer::Refund(refund)) = &r.reply else {
        panic!("refund")
    };
    assert_eq!(refund.payment_intent, it.id);
    assert_eq!(b.state.ledger.charge(&charge).unwrap().amount_refunded, 250);
    assert_eq!(
        (b.last().op, b.last().money_moved, b.last().amount),
        (PaymentOp::Refund, true, 250)
    );
    let unknown = b.refund_form("charge=ch_nope", "r2");
    assert!(matches!(
        error_of(&unknown),
        ApiError::NoSuchObject {
            object: "charge",
            ..
        }
    ));
    let other = intent_of(&b.pay("pm_card_visa", "ord-000007", "k2")).clone();
    let mismatch = b.refund_form(
        &format!("payment_intent={}&charge={charge}", other.id),
        "r3",
    );
    assert!(matches!(error_of(&mismatch), ApiError::InvalidParam { .. }));
}

#[test]
fn repeated_events_of_an_intent_are_numbered_and_expansion_inlines_the_charge() {
    let mut b = Bench::new(Rates::default());
    let created = b.create(
        "amount=300&currency=usd&payment_method=pm_card_chargeDeclined",
        "c",
    );
    let id = intent_of(&created).id.clone();
    let first = b.on(
        &id,
        "confirm",
        "payment_method=pm_card_chargeDeclined",
        "f1",
    );
    let second = b.on(
        &id,
        "confirm",
        "payment_method=pm_card_chargeDeclined",
        "f2",
    );
    assert_eq!(
        (first.event, first.event_nth),
        (Some(EventKind::PaymentFailed), 0)
    );
    assert_eq!(
        (second.event, second.event_nth),
        (Some(EventKind::PaymentFailed), 1)
    );
    let paid = b.on(
        &id,
        "confirm",
        "payment_method=pm_card_visa&expand[]=latest_charge",
        "f3",
    );
    assert_eq!(paid.event_nth, 0);
    let Reply::Fresh(Answer::IntentWithCharge(it, charge)) = &paid.reply else {
        panic!("expanded: {:?}", paid.reply)
    };
    assert_eq!(it.latest_charge.as_deref(), Some(charge.id.as_str()));
    assert!(charge.paid());
    // Charge ids differ per attempt; the failed ones keep their declines.
    let ids: Vec<_> = [&first, &second]
        .iter()
        .map(|p| intent_of(p).latest_charge.clone().unwrap())
        .collect();
    assert_ne!(ids[0], ids[1]);
    assert_ne!(ids[1], charge.id);
}
