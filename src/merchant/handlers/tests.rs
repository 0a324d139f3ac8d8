//! The merchant's routes against a wiremock provider, and its pure decisions: what the
//! customer is told, how events map to settlements, how checkouts are read.

use super::*;
use crate::merchant::testkit::{
    self, charges, decline, event, form_of, intent, key_of, label, mount_charge, SECRET,
};
use std::time::Duration;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

// --- pure decisions -----------------------------------------------------------------

#[test]
fn customer_messages_name_the_real_cause() {
    assert!(
        message_for(OrderStatus::Failed(FailReason::InsufficientFunds))
            .contains("insufficient funds")
    );
    assert!(message_for(OrderStatus::Failed(FailReason::RiskBlocked)).contains("risk control"));
    assert!(
        message_for(OrderStatus::Failed(FailReason::ProviderError)).contains("Nothing was charged")
    );
    assert!(message_for(OrderStatus::Pending).contains("confirming"));
    assert_eq!(http_status_for(OrderStatus::Pending), StatusCode::ACCEPTED);
    assert_eq!(
        http_status_for(OrderStatus::Failed(FailReason::Declined)),
        StatusCode::PAYMENT_REQUIRED
    );
}

#[test]
fn events_map_to_settlements_and_others_are_ignored() {
    let settle = |v: serde_json::Value| {
        let bytes = serde_json::to_vec(&v).unwrap();
        let e: Event = decode::object(&bytes).unwrap().unwrap();
        event_settlement(&e).map(|(o, s)| (o.to_string(), s))
    };
    let ok = event("evt_1", "payment_intent.succeeded", "ord-1", "pi_1");
    assert_eq!(
        settle(ok),
        Some((
            "ord-1".into(),
            Settlement::Paid {
                payment_id: "pi_1".into()
            }
        ))
    );
    let failed = event("evt_2", "payment_intent.payment_failed", "ord-1", "pi_1");
    assert_eq!(
        settle(failed),
        Some((
            "ord-1".into(),
            Settlement::Failed(FailReason::InsufficientFunds)
        ))
    );
    let other = event("evt_3", "charge.refunded", "ord-1", "pi_1");
    assert_eq!(settle(other), None);
}

#[test]
fn checkout_body_is_checked() {
    assert!(parse_checkout(
        br#"{"order_id":"o","amount":1,"currency":"usd","payment_method":"pm"}"#
    )
    .is_ok());
    let e = parse_checkout(br#"{"order_id":"o"}"#).unwrap_err();
    assert!(e.contains("expected {\"order_id\""), "{e}");
    assert!(parse_checkout(
        br#"{"order_id":"o","amount":0,"currency":"usd","payment_method":"pm"}"#
    )
    .is_err());
}

// --- against a wiremock provider ----------------------------------------------------

#[tokio::test]
async fn an_order_id_the_provider_would_refuse_is_refused_at_checkout() {
    // #11: it reached the customer as provider trouble.
    let server = MockServer::start().await;
    let uri = server.uri();
    for (cfg, says) in [
        (
            testkit::config(&uri),
            "300 bytes long: expected at most 200",
        ),
        (testkit::gateway_config(&uri), "expected 1 to 64 letters"),
    ] {
        let m = testkit::start(cfg).await;
        let (status, answer) = m.checkout(&"o".repeat(300)).await;
        assert_eq!(status, 400, "{answer}");
        let said = answer["error"].as_str().unwrap_or_default();
        assert!(said.contains(says), "{said}");
        m.stop().await;
    }
    assert!(server.received_requests().await.unwrap().is_empty());
}

/// A wiremock provider answering every charge with `t`, and a merchant against it.
async fn answering(t: ResponseTemplate) -> (MockServer, testkit::Running) {
    let server = MockServer::start().await;
    mount_charge(&server, t).await;
    let m = testkit::start(testkit::config(&server.uri())).await;
    (server, m)
}

#[tokio::test]
async fn successful_charge_pays_and_sends_order_metadata_and_key() {
    let (server, m) =
        answering(ResponseTemplate::new(200).set_body_json(intent("pi_ok", "ord-000001"))).await;

    let (status, answer) = m.checkout("ord-000001").await;

    assert_eq!((status, answer["status"].as_str()), (200, Some("paid")));
    assert_eq!(answer["reason"], Value::Null);
    let reqs = charges(&server).await;
    assert_eq!(reqs.len(), 1);
    let form = form_of(&reqs[0]);
    assert!(form.contains(&("metadata[order_id]".into(), "ord-000001".into())));
    assert!(form.contains(&("confirm".into(), "true".into())));
    assert!(form.contains(&("amount".into(), "1000".into())));
    assert_eq!(key_of(&reqs[0]), "ord-000001:charge");
    assert_eq!(
        reqs[0].headers.get("authorization").unwrap(),
        "Bearer sk_test_merchant"
    );
    let (_, order) = m.order("ord-000001").await;
    assert_eq!(order["fulfilments"], 1);
    m.stop().await;
}

#[tokio::test]
async fn a_decline_fails_with_its_reason_told_to_the_customer_without_retry() {
    for (case, code, order_id, want, told) in [
        (
            "insufficient funds",
            "insufficient_funds",
            "ord-000002",
            "failed_insufficient_funds",
            "insufficient funds",
        ),
        (
            "fraudulent",
            "fraudulent",
            "ord-000003",
            "failed_risk_blocked",
            "risk control",
        ),
    ] {
        let (server, m) =
            answering(ResponseTemplate::new(402).set_body_json(decline(code, "pi_d"))).await;

        let (status, answer) = m.checkout(order_id).await;

        assert_eq!(status, 402, "{case}");
        assert_eq!(label(&answer), want, "{case}");
        let message = answer["message"].as_str().unwrap_or("");
        assert!(message.contains(told), "{case}: {message}");
        assert_eq!(charges(&server).await.len(), 1, "{case}");
        let (_, order) = m.order(order_id).await;
        assert_eq!(label(&order), want, "{case}");
        m.stop().await;
    }
}

#[tokio::test]
async fn a_failed_first_attempt_is_retried_with_the_same_key_and_pays() {
    let server_error = ResponseTemplate::new(500)
        .set_body_json(json!({"error":{"type":"api_error","message":"An unknown error occurred"}}));
    let timeout = ResponseTemplate::new(200)
        .set_body_json(intent("pi_slow", "ord-000006"))
        .set_delay(Duration::from_secs(2));
    for (case, first, order_id) in [
        ("server error", server_error, "ord-000004"),
        ("timeout", timeout, "ord-000006"),
    ] {
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .and(path("/v1/payment_intents"))
            .respond_with(first)
            .up_to_n_times(1)
            .with_priority(1)
            .mount(&server)
            .await;
        mount_charge(
            &server,
            ResponseTemplate::new(200).set_body_json(intent("pi_ok", order_id)),
        )
        .await;
        let m = testkit::start(testkit::config(&server.uri())).await;

        let (_, answer) = m.checkout(order_id).await;

        assert_eq!(answer["status"], "paid", "{case}");
        let reqs = charges(&server).await;
        assert_eq!(reqs.len(), 2, "{case}");
        let want = format!("{order_id}:charge");
        assert!(reqs.iter().all(|r| key_of(r) == want), "{case}");
        m.stop().await;
    }
}

#[tokio::test]
async fn persistent_server_errors_fail_as_provider_error_after_all_retries() {
    let server = MockServer::start().await;
    mount_charge(&server, ResponseTemplate::new(500)).await;
    let cfg = testkit::config(&server.uri());
    let m = testkit::start(cfg.clone()).await;

    let (status, answer) = m.checkout("ord-000005").await;

    assert_eq!(status, 402);
    assert_eq!(label(&answer), "failed_provider_error");
    assert_eq!(
        charges(&server).await.len() as u32,
        1 + cfg.reference.max_retries
    );
    m.stop().await;
}

#[tokio::test]
async fn duplicate_checkout_answers_current_state_without_charging() {
    let (server, m) =
        answering(ResponseTemplate::new(200).set_body_json(intent("pi_ok", "ord-000007"))).await;

    m.checkout("ord-000007").await;
    let (status, again) = m.checkout("ord-000007").await;

    assert_eq!((status, again["status"].as_str()), (200, Some("paid")));
    assert_eq!(charges(&server).await.len(), 1);
    let all = m.orders().await;
    assert_eq!(all.len(), 1);
    assert_eq!(
        (all[0]["order_id"].as_str(), all[0]["fulfilments"].as_u64()),
        (Some("ord-000007"), Some(1))
    );
    m.stop().await;
}

#[tokio::test]
async fn signed_webhook_pays_a_pending_order_once() {
    // Arrange: every charge times out, so the order is left pending.
    let server = MockServer::start().await;
    mount_charge(
        &server,
        ResponseTemplate::new(200).set_delay(Duration::from_secs(2)),
    )
    .await;
    let mut cfg = testkit::config(&server.uri());
    cfg.reference.max_retries = 0;
    cfg.reference.reconcile_every = Duration::from_secs(3600);
    let m = testkit::start(cfg).await;
    let (status, answer) = m.checkout("ord-000008").await;
    assert_eq!((status, answer["status"].as_str()), (202, Some("pending")));
    assert!(answer["message"].as_str().unwrap().contains("confirming"));

    // Act: the succeeded event arrives, then again.
    let ev = event("evt_a", "payment_intent.succeeded", "ord-000008", "pi_w");
    let (s1, _) = m.webhook(&ev, SECRET).await;
    let (s2, _) = m.webhook(&ev, SECRET).await;

    // Assert
    assert_eq!((s1, s2), (200, 200));
    let (_, order) = m.order("ord-000008").await;
    assert_eq!(order["status"], "paid");
    assert_eq!(order["fulfilments"], 1);
    m.stop().await;
}

#[tokio::test]
async fn forged_webhook_is_refused_and_changes_nothing() {
    let server = MockServer::start().await;
    mount_charge(&server, ResponseTemplate::new(500)).await;
    let mut cfg = testkit::config(&server.uri());
    cfg.reference.max_retries = 0;
    let m = testkit::start(cfg).await;
    m.checkout("ord-000009").await; // failed/provider_error

    let ev = event(
        "evt_forged_1",
        "payment_intent.succeeded",
        "ord-000009",
        "pi_x",
    );
    let (status, body) = m.webhook(&ev, "whsec_forged_other").await;
    let (unsigned, _) = m
        .post("/webhooks/stripe", "application/json", ev.to_string(), &[])
        .await;

    assert_eq!((status, unsigned), (400, 400));
    assert!(body["error"].as_str().unwrap().contains("signature"));
    let (_, order) = m.order("ord-000009").await;
    assert_eq!(label(&order), "failed_provider_error");
    let refunds = server
        .received_requests()
        .await
        .unwrap()
        .into_iter()
        .filter(|r| r.url.path() == "/v1/refunds")
        .count();
    assert_eq!(refunds, 0);
    m.stop().await;
}

#[tokio::test]
async fn payment_for_a_failed_order_is_refunded_and_order_stays_failed() {
    let (server, m) =
        answering(ResponseTemplate::new(402).set_body_json(decline("insufficient_funds", "pi_d")))
            .await;
    Mock::given(method("POST"))
        .and(path("/v1/refunds"))
        .respond_with(ResponseTemplate::new(200).set_body_json(
            json!({"id":"re_1","object":"refund","payment_intent":"pi_late","status":"succeeded"}),
        ))
        .mount(&server)
        .await;
    m.checkout("ord-000010").await;

    let ev = event("evt_b", "payment_intent.succeeded", "ord-000010", "pi_late");
    let (status, _) = m.webhook(&ev, SECRET).await;
    assert_eq!(status, 200);

    let mut refund = None;
    for _ in 0..300 {
        refund = server
            .received_requests()
            .await
            .unwrap()
            .into_iter()
            .find(|r| r.url.path() == "/v1/refunds");
        if refund.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let refund = refund.expect("a refund request was sent");
    assert!(form_of(&refund).contains(&("payment_intent".into(), "pi_late".into())));
    assert_eq!(key_of(&refund), "ord-000010:refund:pi_late");
    let (_, order) = m.order("ord-000010").await;
    assert_eq!(label(&order), "failed_insufficient_funds");
    assert_eq!(order["fulfilments"], 0);
    m.stop().await;
}

#[tokio::test]
async fn payment_failed_after_paid_keeps_the_order_paid() {
    let (_server, m) =
        answering(ResponseTemplate::new(200).set_body_json(intent("pi_ok", "ord-000011"))).await;
    m.checkout("ord-000011").await;

    let ev = event(
        "evt_c",
        "payment_intent.payment_failed",
        "ord-000011",
        "pi_ok",
    );
    let (status, _) = m.webhook(&ev, SECRET).await;

    assert_eq!(status, 200);
    let (_, order) = m.order("ord-000011").await;
    assert_eq!(
        (order["status"].as_str(), order["fulfilments"].as_u64()),
        (Some("paid"), Some(1))
    );
    m.stop().await;
}

#[tokio::test]
async fn unknown_orders_and_routes() {
    let server = MockServer::start().await;
    let m = testkit::start(testkit::config(&server.uri())).await;

    let (s, _) = m.order("ord-404").await;
    let ev = event("evt_d", "payment_intent.succeeded", "ord-404", "pi_z");
    let (w, _) = m.webhook(&ev, SECRET).await;
    let (bad, _) = m
        .post("/checkout", "application/json", "{}".into(), &[])
        .await;
    let (nowhere, _) = m
        .post("/nowhere", "application/json", "{}".into(), &[])
        .await;

    assert_eq!((s, w, bad, nowhere), (404, 200, 400, 404));
    m.stop().await;
}

/// POSTs a checkout of `order_id` for `amount` usd.
async fn checkout_of(m: &testkit::Running, order_id: &str, amount: u64) -> (u16, Value) {
    let body = json!({"order_id": order_id, "amount": amount,
        "currency": "usd", "payment_method": "pm_card_visa"});
    m.post("/checkout", "application/json", body.to_string(), &[])
        .await
}

#[tokio::test]
async fn a_repeat_with_another_amount_is_refused_and_an_identical_one_told_the_state() {
    // #9: a second checkout of an order id with another amount was answered "paid",
    // though only the first amount was charged.
    let server = MockServer::start().await;
    mount_charge(
        &server,
        ResponseTemplate::new(200).set_body_json(intent("pi_ok", "ord-000012")),
    )
    .await;
    let m = testkit::start(testkit::config(&server.uri())).await;

    let (first, _) = checkout_of(&m, "ord-000012", 1000).await;
    let (conflict, refused) = checkout_of(&m, "ord-000012", 2500).await;
    let (same, again) = checkout_of(&m, "ord-000012", 1000).await;

    assert_eq!((first, conflict, same), (200, 409, 200));
    assert_eq!(refused["reason"], CONFLICTING_REPEAT);
    assert!(
        refused["error"]
            .as_str()
            .unwrap()
            .contains("amount 1000 usd"),
        "{refused}"
    );
    assert_eq!(refused.get("status"), None, "no order status to misread");
    assert_eq!(again["status"], "paid");
    assert_eq!(charges(&server).await.len(), 1);
    m.stop().await;
}

#[tokio::test]
async fn concurrent_checkouts_of_one_order_with_other_amounts_charge_once_and_refuse_the_rest() {
    // #9: 20 at once, each with its own amount: one is charged, 19 are refused (whichever
    // takes the store's lock first wins; the count does not depend on the timing).
    let server = MockServer::start().await;
    mount_charge(
        &server,
        ResponseTemplate::new(200)
            .set_body_json(intent("pi_ok", "ord-000013"))
            .set_delay(Duration::from_millis(50)),
    )
    .await;
    let m = std::sync::Arc::new(testkit::start(testkit::config(&server.uri())).await);

    let mut tasks = tokio::task::JoinSet::new();
    for amount in 1000..1020 {
        let m = m.clone();
        tasks.spawn(async move { (amount, checkout_of(&m, "ord-000013", amount).await) });
    }
    let mut refused = 0;
    let mut served = Vec::new();
    while let Some(done) = tasks.join_next().await {
        let (amount, (status, body)) = done.unwrap();
        if status == 409 {
            assert_eq!(body["reason"], CONFLICTING_REPEAT);
            refused += 1;
        } else {
            served.push((amount, status, body["status"].clone()));
        }
    }

    assert_eq!(refused, 19, "{served:?}");
    assert_eq!(served.len(), 1);
    assert_eq!((served[0].1, &served[0].2), (200, &json!("paid")));
    let reqs = charges(&server).await;
    assert_eq!(reqs.len(), 1);
    let amount = served[0].0.to_string();
    assert!(form_of(&reqs[0]).contains(&("amount".into(), amount)));
    let m = std::sync::Arc::into_inner(m).expect("every task is done");
    m.stop().await;
}

#[tokio::test]
async fn answers_rendered_from_structs_are_the_bytes_of_the_json_trees_they_replace() {
    use http_body_util::BodyExt;
    let body = |r: Response<Full<Bytes>>| async move {
        r.into_body().collect().await.unwrap().to_bytes().to_vec()
    };
    let store = crate::merchant::store::Store::new();
    store.begin_checkout("ord-\"1", 1000, "usd", 1);
    for s in [None, Some(FailReason::RiskBlocked)] {
        if let Some(r) = s {
            store.settle("ord-\"1", &Settlement::Failed(r));
        }
        let order = store.get("ord-\"1").unwrap();
        let (told, message) = customer_answer(order.status, Flaws::NONE);
        let tree = json!({"order_id": order.order_id, "status": status_word(told),
            "reason": reason_of(told), "message": message});
        let got = body(checkout_answer(&order, Flaws::NONE)).await;
        assert_eq!(got, tree.to_string().into_bytes());
        let tree = json!({"order_id": order.order_id, "status": status_word(order.status),
            "reason": reason_of(order.status), "fulfilments": order.fulfilments});
        assert_eq!(
            serde_json::to_vec(&order_json(&order)).unwrap(),
            tree.to_string().into_bytes()
        );
    }
    assert_eq!(RECEIVED, json!({"received": true}).to_string().as_bytes());
    assert_eq!(
        RECEIVED_DUPLICATE,
        json!({"received": true, "duplicate": true})
            .to_string()
            .as_bytes()
    );
}

#[test]
fn the_books_read_in_place_give_what_the_bulk_export_reads_through_the_contract() {
    use crate::domain::OrderSnapshot;
    use crate::merchant::store::Store;
    let store = Store::new();
    let paid = |pi: &str| Settlement::Paid {
        payment_id: pi.into(),
    };
    let mut ids: Vec<String> = vec!["ord-pending".into(), "ord-paid".into(), "ord-twice".into()];
    for id in &ids {
        store.begin_checkout(id, 1000, "usd", 1);
    }
    store.settle("ord-paid", &paid("pi_1"));
    store.settle("ord-twice", &paid("pi_2"));
    store.repeat("ord-twice", &paid("pi_2"));
    for r in FailReason::ALL {
        let id = format!("ord-{}", r.as_str());
        store.begin_checkout(&id, 1000, "usd", 1);
        store.settle(&id, &Settlement::Failed(r));
        ids.push(id);
    }
    // Asked out of order, with an unknown id and one id twice.
    ids.reverse();
    ids.insert(2, "ord-unknown".into());
    ids.push("ord-paid".into());
    let export = store.with_all(|all| {
        let orders: Vec<_> = all.iter().map(|o| order_json(o)).collect();
        serde_json::to_value(serde_json::json!({ "orders": orders })).unwrap()
    });
    // What the run reads from the export through the reference contract's words: each id
    // asked for, once, when the export has it.
    let words = crate::scenario::contract::Contract::reference("http://127.0.0.1:1").words;
    let mut read: Vec<OrderSnapshot> = Vec::new();
    for id in &ids {
        let found = export["orders"]
            .as_array()
            .unwrap()
            .iter()
            .find(|o| o["order_id"] == id.as_str());
        if let Some(o) = found.filter(|_| !read.iter().any(|r| &r.order_id == id)) {
            read.push(OrderSnapshot {
                order_id: id.clone(),
                status: words
                    .status(o["status"].as_str().unwrap(), o["reason"].as_str())
                    .unwrap(),
                fulfilments: o["fulfilments"].as_u64().map(|n| n as u32),
            });
        }
    }
    assert_eq!(read.len(), 3 + FailReason::ALL.len());
    assert_eq!(
        read.iter()
            .find(|r| r.order_id == "ord-twice")
            .unwrap()
            .fulfilments,
        Some(2)
    );
    assert_eq!(store.snapshots(&ids), read);
}
