//! The reference merchant speaking the gateway dialect, against a wiremock gateway: pay by
//! `out_trade_no` (signed), codes to customer answers, paying again after a channel error,
//! `202` to pending then the query, refunds by `trade_no`, and `/notify/gateway`.

use std::collections::BTreeMap;
use std::time::Duration;

use serde_json::{json, Value};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, Request as WmRequest, ResponseTemplate};

use crate::merchant::testkit::{self, label, SECRET};
use crate::signature;

fn trade(code: &str, order: &str, status: &str) -> Value {
    json!({"code": code, "msg": "m", "out_trade_no": order, "trade_no": "T0a1b",
        "total_amount": "10.00", "currency": "usd", "trade_status": status})
}

async fn mount(server: &MockServer, p: &str, t: ResponseTemplate) {
    Mock::given(method(if p == "/gateway/query" { "GET" } else { "POST" }))
        .and(path(p))
        .respond_with(t)
        .mount(server)
        .await;
}

/// A wiremock gateway answering every pay with `answer`, and a gateway merchant against it.
async fn paying(answer: Value) -> (MockServer, testkit::Running) {
    let server = MockServer::start().await;
    mount(
        &server,
        "/gateway/pay",
        ResponseTemplate::new(200).set_body_json(answer),
    )
    .await;
    let m = testkit::start(testkit::gateway_config(&server.uri())).await;
    (server, m)
}

/// A wiremock gateway whose pay answers only after the merchant's timeout.
async fn pay_times_out() -> MockServer {
    let server = MockServer::start().await;
    mount(
        &server,
        "/gateway/pay",
        ResponseTemplate::new(200).set_delay(Duration::from_secs(2)),
    )
    .await;
    server
}

/// Answers the first pay with `first`, every later one with `then`.
async fn mount_pays(server: &MockServer, first: Value, then: Value) {
    Mock::given(method("POST"))
        .and(path("/gateway/pay"))
        .respond_with(ResponseTemplate::new(200).set_body_json(first))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(server)
        .await;
    Mock::given(method("POST"))
        .and(path("/gateway/pay"))
        .respond_with(ResponseTemplate::new(200).set_body_json(then))
        .with_priority(2)
        .mount(server)
        .await;
}

async fn requests(server: &MockServer, p: &str) -> Vec<WmRequest> {
    server
        .received_requests()
        .await
        .unwrap()
        .into_iter()
        .filter(|r| r.url.path() == p)
        .collect()
}

fn json_params(r: &WmRequest) -> BTreeMap<String, String> {
    serde_json::from_slice(&r.body).expect("a JSON object of strings")
}

fn verifies(p: &BTreeMap<String, String>) -> bool {
    let pairs: Vec<(&String, &String)> = p.iter().collect();
    signature::gateway_verify(&pairs, SECRET).is_ok()
}

#[tokio::test]
async fn a_paid_trade_pays_the_order_with_a_signed_request_by_out_trade_no() {
    // Arrange
    let (server, m) = paying(trade("000", "ord-000001", "TRADE_SUCCESS")).await;

    // Act
    let (status, answer) = m.checkout("ord-000001").await;

    // Assert
    assert_eq!((status, answer["status"].as_str()), (200, Some("paid")));
    let pays = requests(&server, "/gateway/pay").await;
    assert_eq!(pays.len(), 1);
    let p = json_params(&pays[0]);
    assert_eq!(p["out_trade_no"], "ord-000001");
    assert_eq!(
        (p["total_amount"].as_str(), p["currency"].as_str()),
        ("10.00", "usd")
    );
    assert_eq!(p["merchant_id"], "paychaos_merchant");
    let notify = format!("http://{}/notify/gateway", m.handle.addr());
    assert_eq!(p["notify_url"], notify);
    assert_eq!(p["sign_type"], "HMAC-SHA256");
    assert!(verifies(&p), "signed with the merchant key");
    assert!(pays[0].headers.get("authorization").is_none());
    let (_, order) = m.order("ord-000001").await;
    assert_eq!(order["fulfilments"], 1);
    m.stop().await;
}

#[tokio::test]
async fn decline_codes_tell_the_real_reason_without_retrying() {
    for (code, want) in [
        ("101", "failed_insufficient_funds"),
        ("301", "failed_risk_blocked"),
        ("103", "failed_declined"),
    ] {
        let (server, m) = paying(trade(code, "ord-000002", "TRADE_CLOSED")).await;

        let (status, answer) = m.checkout("ord-000002").await;

        assert_eq!((status, label(&answer)), (402, want.to_string()), "{code}");
        assert_eq!(requests(&server, "/gateway/pay").await.len(), 1, "{code}");
        m.stop().await;
    }
}

#[tokio::test]
async fn a_channel_error_is_paid_again_with_the_same_request() {
    let server = MockServer::start().await;
    mount_pays(
        &server,
        trade("102", "ord-000003", "WAIT_BUYER_PAY"),
        trade("000", "ord-000003", "TRADE_SUCCESS"),
    )
    .await;
    let m = testkit::start(testkit::gateway_config(&server.uri())).await;

    let (_, answer) = m.checkout("ord-000003").await;

    assert_eq!(answer["status"], "paid");
    let pays = requests(&server, "/gateway/pay").await;
    assert_eq!(pays.len(), 2);
    assert_eq!(
        json_params(&pays[0]),
        json_params(&pays[1]),
        "the same trade"
    );
    m.stop().await;
}

#[tokio::test]
async fn system_errors_are_retried_then_fail_as_provider_trouble() {
    let server = MockServer::start().await;
    let busy = json!({"code": "500", "msg": "system error"});
    mount(
        &server,
        "/gateway/pay",
        ResponseTemplate::new(200).set_body_json(busy),
    )
    .await;
    let cfg = testkit::gateway_config(&server.uri());
    let m = testkit::start(cfg.clone()).await;

    let (_, answer) = m.checkout("ord-000004").await;

    assert_eq!(label(&answer), "failed_provider_error");
    let pays = requests(&server, "/gateway/pay").await.len() as u32;
    assert_eq!(pays, 1 + cfg.reference.max_retries);
    m.stop().await;
}

#[tokio::test]
async fn unconfirmed_202_leaves_the_order_pending_until_the_query_says_paid() {
    let server = MockServer::start().await;
    let unconfirmed = json!({"code": "202", "msg": "unconfirmed", "out_trade_no": "ord-000005"});
    mount(
        &server,
        "/gateway/pay",
        ResponseTemplate::new(200).set_body_json(unconfirmed),
    )
    .await;
    let mut found = trade("000", "ord-000005", "TRADE_SUCCESS");
    found["pay_code"] = "000".into();
    mount(
        &server,
        "/gateway/query",
        ResponseTemplate::new(200).set_body_json(found),
    )
    .await;
    let cfg = testkit::gateway_config(&server.uri());
    let m = testkit::start(cfg.clone()).await;

    let (status, answer) = m.checkout("ord-000005").await;

    assert_eq!((status, answer["status"].as_str()), (202, Some("pending")));
    assert_eq!(
        requests(&server, "/gateway/pay").await.len() as u32,
        1 + cfg.reference.max_retries,
        "202 is retried with the same out_trade_no"
    );
    let order = m.wait_for("ord-000005", "paid").await;
    assert_eq!(order["fulfilments"], 1);
    let q = &requests(&server, "/gateway/query").await[0];
    let qp: BTreeMap<String, String> = q.url.query_pairs().into_owned().collect();
    assert_eq!(qp["out_trade_no"], "ord-000005");
    assert!(verifies(&qp), "the query is signed too");
    m.stop().await;
}

#[tokio::test]
async fn a_trade_the_gateway_never_saw_fails_after_the_grace() {
    let server = pay_times_out().await;
    let none = json!({"code": "404", "msg": "trade not found"});
    mount(
        &server,
        "/gateway/query",
        ResponseTemplate::new(200).set_body_json(none),
    )
    .await;
    let mut cfg = testkit::gateway_config(&server.uri());
    cfg.reference.max_retries = 0;
    cfg.reference.pending_grace = Duration::from_millis(50);
    let m = testkit::start(cfg).await;

    m.checkout("ord-000006").await;
    let order = m.wait_for("ord-000006", "failed").await;

    assert_eq!(order["reason"], "provider_error");
    m.stop().await;
}

#[tokio::test]
async fn a_signed_notification_pays_a_pending_order_once_and_is_acknowledged() {
    // Arrange: the pay times out, so the order is pending.
    let server = pay_times_out().await;
    let mut cfg = testkit::gateway_config(&server.uri());
    cfg.reference.max_retries = 0;
    cfg.reference.reconcile_every = Duration::from_secs(3600);
    let m = testkit::start(cfg).await;
    let (_, answer) = m.checkout("ord-000007").await;
    assert_eq!(answer["status"], "pending");
    let note = [
        ("notify_id", "ntf_1"),
        ("notify_type", "trade_status_sync"),
        ("out_trade_no", "ord-000007"),
        ("trade_no", "T0a1b"),
        ("total_amount", "10.00"),
        ("trade_status", "TRADE_SUCCESS"),
    ];

    // Act: the notification arrives twice.
    let first = m.notify(&note, Some(SECRET)).await;
    let again = m.notify(&note, Some(SECRET)).await;

    // Assert: both acknowledged with the exact body; fulfilled once.
    assert_eq!(first, (200, "success".to_string()));
    assert_eq!(again, (200, "success".to_string()));
    let (_, order) = m.order("ord-000007").await;
    assert_eq!(
        (order["status"].as_str(), order["fulfilments"].as_u64()),
        (Some("paid"), Some(1))
    );
    m.stop().await;
}

#[tokio::test]
async fn bad_stale_unsigned_or_tampered_notifications_get_fail() {
    let (server, m) = paying(trade("101", "ord-000008", "TRADE_CLOSED")).await;
    m.checkout("ord-000008").await; // failed/insufficient_funds
    let note = |amount: &'static str| {
        vec![
            ("notify_id", "ntf_x"),
            ("out_trade_no", "ord-000008"),
            ("trade_no", "T0a1b"),
            ("total_amount", amount),
            ("trade_status", "TRADE_SUCCESS"),
        ]
    };
    let stale_time = signature::gateway_time(1_000_000_000);
    let mut stale = note("10.00");
    stale.push(("notify_time", stale_time.as_str()));

    for (case, params, secret) in [
        (
            "signed with another key",
            note("10.00"),
            Some("whsec_forged_x"),
        ),
        ("unsigned", note("10.00"), None),
        ("stale", stale, Some(SECRET)),
        ("amount tampered", note("10.01"), Some(SECRET)),
        (
            "fields missing",
            vec![("trade_status", "TRADE_SUCCESS")],
            Some(SECRET),
        ),
    ] {
        let answer = m.notify(&params, secret).await;
        assert_eq!(answer, (400, "fail".to_string()), "{case}");
    }
    let (_, order) = m.order("ord-000008").await;
    assert_eq!(label(&order), "failed_insufficient_funds");
    assert!(requests(&server, "/gateway/refund").await.is_empty());
    m.stop().await;
}

#[tokio::test]
async fn a_payment_for_a_failed_order_is_refunded_by_trade_no() {
    let (server, m) = paying(trade("101", "ord-000009", "TRADE_CLOSED")).await;
    let refunded = json!({"code": "000", "msg": "success", "trade_no": "T9", "refund_amount": "10.00",
        "out_request_no": "ord-000009:refund:T9"});
    mount(
        &server,
        "/gateway/refund",
        ResponseTemplate::new(200).set_body_json(refunded),
    )
    .await;
    m.checkout("ord-000009").await;

    let note = [
        ("notify_id", "ntf_late"),
        ("out_trade_no", "ord-000009"),
        ("trade_no", "T9"),
        ("total_amount", "10.00"),
        ("trade_status", "TRADE_SUCCESS"),
    ];
    assert_eq!(m.notify(&note, Some(SECRET)).await.0, 200);

    let mut refund = None;
    for _ in 0..300 {
        refund = requests(&server, "/gateway/refund").await.pop();
        if refund.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let p = json_params(&refund.expect("a refund was requested"));
    assert_eq!(p["trade_no"], "T9");
    assert_eq!(p["out_request_no"], "ord-000009:refund:T9");
    assert!(verifies(&p));
    let (_, order) = m.order("ord-000009").await;
    assert_eq!(
        (label(&order).as_str(), order["fulfilments"].as_u64()),
        ("failed_insufficient_funds", Some(0))
    );
    m.stop().await;
}
