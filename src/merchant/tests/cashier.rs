//! The reference merchant and the gateway's cashier page, against a wiremock gateway: a page
//! pay carries the return page and who pays, a `100` answer sends the customer to the
//! `cashier_url`, and the return page settles only from a query, after checking the sign.

use hyper::Method;
use serde_json::{json, Value};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::merchant::returns::CASHIER_MESSAGE;
use crate::merchant::testkit::{self, SECRET};
use crate::signature;

const CASHIER: &str = "http://127.0.0.1:9/gateway/cashier/T0a1b";

/// A wiremock gateway whose pay answers `100` with a cashier URL and whose query answers
/// `query`, and a gateway merchant against it.
async fn cashier_gateway(query: Value) -> (MockServer, testkit::Running) {
    let server = MockServer::start().await;
    let pay = json!({"code": "100", "msg": "m", "out_trade_no": "ord-000001",
        "trade_no": "T0a1b", "total_amount": "10.00", "currency": "usd",
        "trade_status": "WAIT_BUYER_PAY", "cashier_url": CASHIER});
    Mock::given(method("POST"))
        .and(path("/gateway/pay"))
        .respond_with(ResponseTemplate::new(200).set_body_json(pay))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/gateway/query"))
        .respond_with(ResponseTemplate::new(200).set_body_json(query))
        .mount(&server)
        .await;
    let m = testkit::start(testkit::gateway_config(&server.uri())).await;
    (server, m)
}

async fn queries(server: &MockServer) -> usize {
    server
        .received_requests()
        .await
        .unwrap()
        .iter()
        .filter(|r| r.url.path() == "/gateway/query")
        .count()
}

/// The return page of ord-000001 with `params`, signed with `key`.
async fn returned(m: &testkit::Running, params: &[(&str, &str)], key: &str) -> Value {
    let mut all: Vec<(&str, String)> = params.iter().map(|(k, v)| (*k, v.to_string())).collect();
    let sign = signature::gateway_sign(key, &all);
    all.push(("sign_type", "HMAC-SHA256".into()));
    all.push(("sign", sign));
    let q = form_urlencoded::Serializer::new(String::new())
        .extend_pairs(all)
        .finish();
    let r = m
        .client
        .send(Method::GET, &format!("/return/ord-000001?{q}"), &[], None)
        .await
        .unwrap();
    serde_json::from_slice(&r.body).unwrap()
}

const SUCCESS: [(&str, &str); 3] = [
    ("out_trade_no", "ord-000001"),
    ("trade_no", "T0a1b"),
    ("trade_status", "TRADE_SUCCESS"),
];

#[tokio::test]
async fn a_page_pay_sends_the_customer_to_the_cashier_with_the_return_page_and_who_pays() {
    // Arrange
    let (server, m) = cashier_gateway(json!({"code": "404"})).await;
    let body = json!({"order_id": "ord-000001", "amount": 1000, "currency": "usd",
        "payment_method": "pm_card_visa"});

    // Act
    let (status, answer) = m
        .post(
            "/checkout",
            "application/json",
            body.to_string(),
            &[("X-Customer-Id", "cus_7"), ("X-Forwarded-For", "10.0.0.7")],
        )
        .await;

    // Assert
    assert_eq!((status, answer["status"].as_str()), (202, Some("pending")));
    assert_eq!(answer["redirect_url"], CASHIER);
    assert_eq!(answer["message"], CASHIER_MESSAGE);
    let pays: Vec<_> = server
        .received_requests()
        .await
        .unwrap()
        .into_iter()
        .filter(|r| r.url.path() == "/gateway/pay")
        .collect();
    assert_eq!(pays.len(), 1, "a cashier answer is final for the checkout");
    let p: std::collections::BTreeMap<String, String> =
        serde_json::from_slice(&pays[0].body).unwrap();
    let back = format!("http://{}/return/ord-000001", m.handle.addr());
    assert_eq!(p["return_url"], back);
    assert_eq!(
        (p["customer_id"].as_str(), p["client_ip"].as_str()),
        ("cus_7", "10.0.0.7")
    );
    let pairs: Vec<(&String, &String)> = p.iter().collect();
    assert!(
        signature::gateway_verify(&pairs, SECRET).is_ok(),
        "all signed"
    );
    m.stop().await;
}

#[tokio::test]
async fn a_return_with_a_wrong_sign_settles_nothing_and_asks_nobody() {
    let (server, m) = cashier_gateway(json!({"code": "000", "trade_no": "T0a1b",
        "trade_status": "TRADE_SUCCESS", "pay_code": "000"}))
    .await;
    m.checkout("ord-000001").await;

    let told = returned(&m, &SUCCESS, "a_guessed_key").await;

    assert_eq!(told["status"], "pending", "{told}");
    assert_eq!(queries(&server).await, 0);
    m.stop().await;
}

#[tokio::test]
async fn a_genuine_return_settles_from_the_query_not_from_its_parameters() {
    // The browser says TRADE_SUCCESS; the gateway's query says the trade is still open.
    let (server, m) = cashier_gateway(json!({"code": "000", "trade_no": "T0a1b",
        "trade_status": "WAIT_BUYER_PAY", "pay_code": "100"}))
    .await;
    m.checkout("ord-000001").await;

    let told = returned(&m, &SUCCESS, SECRET).await;

    assert_eq!(told["status"], "pending", "{told}");
    // At least one: on a busy machine a query slower than the merchant's provider timeout is
    // asked again, which changes nothing the customer is told.
    assert!(queries(&server).await >= 1);
    m.stop().await;
}
