//! Each planted flaw's behaviour at the merchant's HTTP boundary, against a wiremock
//! provider: the decision points behind `flaws.has(Flaw::X)`.

use crate::merchant::testkit::{self, charges, decline, event, intent, label, SECRET};
use crate::merchant::MerchantConfig;
use crate::scenario::flaws::{Flaw, Flaws};
use std::time::Duration;
use wiremock::{MockServer, ResponseTemplate};

fn flawed(server: &MockServer, flaw: Flaw) -> MerchantConfig {
    let mut cfg = testkit::config(&server.uri());
    cfg.reference.flaws = Flaws::NONE.with(flaw);
    cfg
}

/// A merchant whose only charge times out: the order stays pending for webhooks.
async fn pending(flaw: Flaw) -> (MockServer, testkit::Running) {
    let server = MockServer::start().await;
    testkit::mount_charge(
        &server,
        ResponseTemplate::new(200).set_delay(Duration::from_secs(2)),
    )
    .await;
    let mut cfg = flawed(&server, flaw);
    cfg.reference.max_retries = 0;
    cfg.reference.reconcile_every = Duration::from_secs(3600);
    let m = testkit::start(cfg).await;
    let (_, answer) = m.checkout("ord-1").await;
    assert_eq!(answer["status"], "pending");
    (server, m)
}

#[tokio::test]
async fn skip_signature_check_takes_a_forged_event() {
    let (_server, m) = pending(Flaw::SkipSignatureCheck).await;
    let ev = event("evt_forged_1", "payment_intent.succeeded", "ord-1", "pi_x");
    let (status, _) = m.webhook(&ev, "whsec_forged_other").await;
    assert_eq!(status, 200);
    assert_eq!(m.order("ord-1").await.1["status"], "paid");
    m.stop().await;
}

#[tokio::test]
async fn ignore_webhooks_acknowledges_and_leaves_the_order_pending() {
    let (_server, m) = pending(Flaw::IgnoreWebhooks).await;
    let ev = event("evt_1", "payment_intent.succeeded", "ord-1", "pi_x");
    assert_eq!(m.webhook(&ev, SECRET).await.0, 200);
    assert_eq!(m.webhook(&ev, "whsec_wrong").await.0, 400, "still verified");
    assert_eq!(m.order("ord-1").await.1["status"], "pending");
    m.stop().await;
}

#[tokio::test]
async fn no_event_dedupe_ships_again_on_a_redelivery() {
    let (_server, m) = pending(Flaw::NoEventDedupe).await;
    let ev = event("evt_1", "payment_intent.succeeded", "ord-1", "pi_x");
    m.webhook(&ev, SECRET).await;
    m.webhook(&ev, SECRET).await;
    let (_, order) = m.order("ord-1").await;
    assert_eq!(
        (order["status"].as_str(), order["fulfilments"].as_u64()),
        (Some("paid"), Some(2))
    );
    m.stop().await;
}

#[tokio::test]
async fn generic_decline_message_hides_the_cause_from_the_customer_only() {
    let server = MockServer::start().await;
    testkit::mount_charge(
        &server,
        ResponseTemplate::new(402).set_body_json(decline("insufficient_funds", "pi_d")),
    )
    .await;
    let m = testkit::start(flawed(&server, Flaw::GenericDeclineMessage)).await;
    let (status, answer) = m.checkout("ord-2").await;
    assert_eq!((status, label(&answer).as_str()), (402, "failed_declined"));
    assert_eq!(answer["message"], "Payment failed.");
    assert_eq!(
        label(&m.order("ord-2").await.1),
        "failed_insufficient_funds"
    );
    m.stop().await;
}

#[tokio::test]
async fn retry_hard_declines_sends_the_decline_again() {
    let server = MockServer::start().await;
    testkit::mount_charge(
        &server,
        ResponseTemplate::new(402).set_body_json(decline("fraudulent", "pi_d")),
    )
    .await;
    let cfg = flawed(&server, Flaw::RetryHardDeclines);
    let m = testkit::start(cfg.clone()).await;
    let (_, answer) = m.checkout("ord-3").await;
    assert_eq!(label(&answer), "failed_risk_blocked");
    assert_eq!(
        charges(&server).await.len() as u32,
        1 + cfg.reference.max_retries
    );
    m.stop().await;
}

#[tokio::test]
async fn timeout_is_failure_says_failed_and_keeps_a_later_payment() {
    let server = MockServer::start().await;
    testkit::mount_charge(
        &server,
        ResponseTemplate::new(200)
            .set_body_json(intent("pi_late", "ord-4"))
            .set_delay(Duration::from_secs(2)),
    )
    .await;
    let m = testkit::start(flawed(&server, Flaw::TimeoutIsFailure)).await;
    let (_, answer) = m.checkout("ord-4").await;
    assert_eq!(label(&answer), "failed_provider_error");
    assert_eq!(
        charges(&server).await.len(),
        1,
        "no retry after the timeout"
    );
    let ev = event("evt_4", "payment_intent.succeeded", "ord-4", "pi_late");
    assert_eq!(m.webhook(&ev, SECRET).await.0, 200);
    let refunds = server
        .received_requests()
        .await
        .unwrap()
        .iter()
        .filter(|r| r.url.path() == "/v1/refunds")
        .count();
    assert_eq!(refunds, 0, "never looks again, so never refunds");
    m.stop().await;
}

#[tokio::test]
async fn new_key_on_retry_sends_each_attempt_under_its_own_key() {
    let server = MockServer::start().await;
    testkit::mount_charge(&server, ResponseTemplate::new(500)).await;
    let m = testkit::start(flawed(&server, Flaw::NewKeyOnRetry)).await;
    m.checkout("ord-5").await;
    let keys: Vec<String> = charges(&server).await.iter().map(testkit::key_of).collect();
    assert_eq!(keys, ["ord-5:charge:0", "ord-5:charge:1", "ord-5:charge:2"]);
    m.stop().await;
}

#[tokio::test]
async fn charge_without_metadata_leaves_the_order_id_out_of_the_charge() {
    let server = MockServer::start().await;
    testkit::mount_charge(
        &server,
        ResponseTemplate::new(200).set_body_json(intent("pi_ok", "ord-6")),
    )
    .await;
    let m = testkit::start(flawed(&server, Flaw::ChargeWithoutMetadata)).await;
    let (_, answer) = m.checkout("ord-6").await;
    assert_eq!(answer["status"], "paid");
    let reqs = charges(&server).await;
    assert_eq!(reqs.len(), 1);
    let form = testkit::form_of(&reqs[0]);
    assert!(
        form.iter().all(|(k, _)| k != "metadata[order_id]"),
        "{form:?}"
    );
    assert_eq!(testkit::key_of(&reqs[0]), "ord-6:charge");
    m.stop().await;
}

#[tokio::test]
async fn double_charge_without_metadata_charges_a_paid_order_again_untagged() {
    let server = MockServer::start().await;
    testkit::mount_charge(
        &server,
        ResponseTemplate::new(200).set_body_json(intent("pi_ok", "ord-7")),
    )
    .await;
    let m = testkit::start(flawed(&server, Flaw::DoubleChargeWithoutMetadata)).await;
    let (_, answer) = m.checkout("ord-7").await;
    assert_eq!(answer["status"], "paid");
    let reqs = charges(&server).await;
    let keys: Vec<String> = reqs.iter().map(testkit::key_of).collect();
    assert_eq!(keys, ["ord-7:charge", "ord-7:again"]);
    let tagged = |i: usize| {
        testkit::form_of(&reqs[i])
            .iter()
            .any(|(k, v)| k == "metadata[order_id]" && v == "ord-7")
    };
    assert!(tagged(0) && !tagged(1));
    m.stop().await;
}

#[tokio::test]
async fn crash_first_delivery_fails_each_event_once_then_applies_it() {
    let (_server, m) = pending(Flaw::CrashFirstDelivery).await;
    let ev = event("evt_1", "payment_intent.succeeded", "ord-1", "pi_x");
    assert_eq!(m.webhook(&ev, "whsec_wrong").await.0, 400, "still verified");
    assert_eq!(m.webhook(&ev, SECRET).await.0, 500);
    assert_eq!(m.order("ord-1").await.1["status"], "pending");
    assert_eq!(m.webhook(&ev, SECRET).await.0, 200);
    let (_, order) = m.order("ord-1").await;
    assert_eq!(
        (order["status"].as_str(), order["fulfilments"].as_u64()),
        (Some("paid"), Some(1))
    );
    m.stop().await;
}
