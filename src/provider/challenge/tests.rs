//! Challenges with a redirect, under the lock: the answer names the page and the return
//! URL; passing executes the charge with its event, failing returns the intent to
//! `requires_payment_method`; the expiry cancels only an intent still waiting; the
//! `requires_action` rate picks the orders its seed names.

use super::*;
use crate::provider::dialects::stripe;
use crate::provider::dialects::stripe::intent_json;
use crate::provider::dialects::Route;
use crate::provider::exec::Reply;
use crate::provider::tests::support::Bench;
use serde_json::Value as Json;

const BACK: &str = "http://127.0.0.1:9/return?order=o1";

fn challenged(b: &mut Bench, order: &str, pm: &str) -> Intent {
    let body = format!(
        "amount=1000&currency=usd&payment_method={pm}&confirm=true&metadata[order_id]={order}&return_url={}",
        "http%3A%2F%2F127.0.0.1%3A9%2Freturn%3Forder%3Do1"
    );
    let key = format!("{order}:charge");
    let plan = b.run(
        Route::CreateIntent,
        "/v1/payment_intents",
        &body,
        Some(&key),
    );
    match plan.reply {
        Reply::Fresh(Answer::Intent(it)) => *it,
        other => panic!("expected an intent, got {other:?}"),
    }
}

fn ctx(chaos: &crate::chaos::Chaos, challenge: ChallengeConfig) -> Ctx<'_> {
    Ctx {
        chaos,
        dialect: &stripe::Stripe,
        at: Duration::from_millis(10),
        unix: 1_800_000_001,
        base: "http://127.0.0.1:1",
        challenge,
    }
}

#[test]
fn a_confirm_with_return_url_on_a_3ds_card_redirects_to_the_challenge_page() {
    let mut b = Bench::new(Default::default());
    let it = challenged(&mut b, "ord-000001", "pm_card_threeDSecure2Required");
    assert_eq!(it.status, IntentStatus::RequiresAction);
    let v: Json = serde_json::from_str(&intent_json(&it, None)).unwrap();
    assert_eq!(v["next_action"]["type"], "redirect_to_url");
    let url = format!("http://127.0.0.1:1/_challenge/{}", it.id);
    assert_eq!(v["next_action"]["redirect_to_url"]["url"], url.as_str());
    assert_eq!(v["next_action"]["redirect_to_url"]["return_url"], BACK);
}

#[test]
fn without_return_url_the_answer_stays_use_stripe_sdk() {
    let mut b = Bench::new(Default::default());
    let body = "amount=1000&currency=usd&payment_method=pm_card_authenticationRequired&confirm=true&metadata[order_id]=ord-000001";
    let plan = b.run(Route::CreateIntent, "/v1/payment_intents", body, None);
    let Reply::Fresh(Answer::Intent(it)) = plan.reply else {
        panic!("an intent")
    };
    let v: Json = serde_json::from_str(&intent_json(&it, None)).unwrap();
    assert_eq!(v["next_action"]["type"], "use_stripe_sdk");
}

#[test]
fn passing_the_challenge_charges_once_with_a_succeeded_event_and_redirects_succeeded() {
    let mut b = Bench::new(Default::default());
    let it = challenged(&mut b, "ord-000001", "pm_card_threeDSecure2Required");
    let c = ctx(&b.chaos, b.challenge);
    let s = b.state.finish_challenge(&c, &it.id, true).unwrap();
    assert_eq!(s.intent.status, IntentStatus::Succeeded);
    assert_eq!(s.event.map(|e| e.0), Some(EventKind::Succeeded));
    let moved: Vec<_> = b
        .state
        .ledger
        .entries()
        .iter()
        .filter(|e| e.money_moved)
        .collect();
    assert_eq!(moved.len(), 1, "the money moves once, at the challenge");
    let loc = return_location(&s.intent).unwrap();
    let secret = stripe::client_secret(&it.id);
    assert_eq!(
        loc,
        format!("{BACK}&payment_intent={}&payment_intent_client_secret={secret}&redirect_status=succeeded", it.id)
    );
    // A second verdict changes nothing and creates no event.
    let again = b.state.finish_challenge(&c, &it.id, false).unwrap();
    assert_eq!(
        (again.intent.status, again.event),
        (IntentStatus::Succeeded, None)
    );
}

#[test]
fn failing_the_challenge_returns_the_intent_with_an_authentication_failure() {
    let mut b = Bench::new(Default::default());
    let it = challenged(&mut b, "ord-000001", "pm_card_threeDSecure2Required");
    let c = ctx(&b.chaos, b.challenge);
    let s = b.state.finish_challenge(&c, &it.id, false).unwrap();
    assert_eq!(s.intent.status, IntentStatus::RequiresPaymentMethod);
    assert_eq!(s.event.map(|e| e.0), Some(EventKind::PaymentFailed));
    let v: Json = serde_json::from_str(&intent_json(&s.intent, None)).unwrap();
    assert_eq!(
        v["last_payment_error"]["code"],
        "payment_intent_authentication_failure"
    );
    assert!(return_location(&s.intent)
        .unwrap()
        .ends_with("redirect_status=failed"));
    assert!(b.state.ledger.entries().iter().all(|e| !e.money_moved));
}

#[test]
fn the_expiry_cancels_only_a_challenge_still_waiting() {
    let mut b = Bench::new(Default::default());
    let waiting = challenged(&mut b, "ord-000001", "pm_card_threeDSecure2Required");
    let done = challenged(&mut b, "ord-000002", "pm_card_threeDSecure2Required");
    let c = ctx(&b.chaos, b.challenge);
    b.state.finish_challenge(&c, &done.id, true).unwrap();
    let s = b.state.expire_challenge(&c, &waiting.id).unwrap();
    assert_eq!(s.intent.status, IntentStatus::Canceled);
    assert_eq!(s.intent.cancellation_reason.as_deref(), Some("automatic"));
    assert_eq!(s.event.map(|e| e.0), Some(EventKind::Canceled));
    assert!(b.state.expire_challenge(&c, &done.id).is_none());
}

#[test]
fn the_requires_action_rate_sends_the_orders_its_seed_names_through_a_challenge() {
    let mut b = Bench::new(Default::default());
    b.challenge.requires_action = 0.5;
    let mut challenged_orders = Vec::new();
    for n in 1..=40 {
        let order = format!("ord-{n:06}");
        let it = challenged(&mut b, &order, "pm_card_visa");
        if it.status == IntentStatus::RequiresAction {
            challenged_orders.push(order.clone());
        }
        assert_eq!(
            it.status == IntentStatus::RequiresAction,
            b.chaos.requires_action(&order, 0.5),
            "{order}"
        );
    }
    assert!(
        (10..=30).contains(&challenged_orders.len()),
        "{challenged_orders:?}"
    );
}
