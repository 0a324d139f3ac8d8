//! The gateway's cashier page over loopback: a page pay of a trade the `requires_action`
//! rate sends to the cashier answers `100` with a `cashier_url`; the buyer's verdict there
//! settles the trade (with its notification) and sends the browser back to `return_url`
//! with signed parameters; a trade left unpaid closes at the expiry with `pay_code` `104`.

use std::time::Duration;

use serde_json::{json, Value};

use super::support::{config, send_raw, Harness};
use crate::chaos::FaultPlan;
use crate::domain::PaymentOp;
use crate::provider::challenge::ChallengeConfig;
use crate::scenario::Dialect;
use crate::signature;

const SECRET: &str = "whsec_cashier_test";
const BACK: &str = "http://127.0.0.1:9/return/ord-000001";

/// A gateway sending every page pay to its cashier, closing unpaid trades after 1 s (room
/// for a buyer's steps on a busy machine; the tests wait for the expiry by idleness).
async fn start() -> Harness {
    let mut cfg = config(
        5,
        FaultPlan::default(),
        Dialect::Gateway,
        SECRET,
        Duration::from_millis(50),
    );
    cfg.challenge = ChallengeConfig {
        requires_action: 1.0,
        expiry: Duration::from_secs(1),
    };
    Harness::start_config(cfg).await
}

async fn page_pay(h: &Harness, order: &str) -> Value {
    let body = json!({"merchant_id": "m1", "out_trade_no": order, "total_amount": "12.34",
        "currency": "usd", "return_url": BACK})
    .to_string();
    let headers = [("content-type", "application/json")];
    let raw = send_raw(h.handle.addr(), "POST", "/gateway/pay", &body, &headers)
        .await
        .unwrap();
    serde_json::from_slice(&raw.body).unwrap()
}

async fn query(h: &Harness, order: &str) -> Value {
    let path = format!("/gateway/query?out_trade_no={order}");
    let raw = send_raw(h.handle.addr(), "GET", &path, "", &[])
        .await
        .unwrap();
    serde_json::from_slice(&raw.body).unwrap()
}

/// The path of a URL on the provider.
fn path_of(url: &str) -> &str {
    let rest = url.strip_prefix("http://").unwrap();
    &rest[rest.find('/').unwrap()..]
}

#[tokio::test]
async fn paying_on_the_cashier_page_settles_the_trade_and_returns_signed_parameters() {
    // Arrange
    let h = start().await;
    let answer = page_pay(&h, "ord-000001").await;
    assert_eq!(answer["code"], "100", "{answer}");
    assert_eq!(answer["trade_status"], "WAIT_BUYER_PAY", "{answer}");
    let cashier = answer["cashier_url"].as_str().unwrap().to_string();
    let trade_no = answer["trade_no"].as_str().unwrap();
    assert!(
        cashier.ends_with(&format!("/gateway/cashier/{trade_no}")),
        "{cashier}"
    );
    assert!(
        h.handle.ledger().iter().all(|e| !e.money_moved),
        "nothing is charged before the buyer pays"
    );
    let waiting = query(&h, "ord-000001").await;
    assert_eq!(
        (&waiting["trade_status"], &waiting["pay_code"]),
        (&json!("WAIT_BUYER_PAY"), &json!("100"))
    );

    // Act: the buyer loads the page and pays.
    let page = send_raw(h.handle.addr(), "GET", path_of(&cashier), "", &[])
        .await
        .unwrap();
    let paid = send_raw(
        h.handle.addr(),
        "POST",
        &format!("{}/complete", path_of(&cashier)),
        "",
        &[],
    )
    .await
    .unwrap();

    // Assert: the page, a 303 back to return_url with signed parameters, one charge.
    assert_eq!(page.status, 200);
    assert!(String::from_utf8_lossy(&page.body).contains("Pay 12.34 USD"));
    assert_eq!(paid.status, 303);
    let location = paid.headers["location"].to_str().unwrap();
    let (back, query_text) = location.split_once('?').unwrap();
    assert_eq!(back, BACK);
    let params: Vec<(String, String)> = form_urlencoded::parse(query_text.as_bytes())
        .into_owned()
        .collect();
    signature::gateway_verify(&params, SECRET).expect("the return is signed");
    let get = |k: &str| params.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
    assert_eq!(get("out_trade_no"), Some("ord-000001"));
    assert_eq!(get("trade_no"), Some(trade_no));
    assert_eq!(get("trade_status"), Some("TRADE_SUCCESS"));
    assert_eq!(get("total_amount"), Some("12.34"));
    let moved: Vec<_> = h
        .handle
        .ledger()
        .into_iter()
        .filter(|e| e.op == PaymentOp::Charge && e.money_moved)
        .collect();
    assert_eq!(moved.len(), 1);
    assert_eq!(
        query(&h, "ord-000001").await["trade_status"],
        "TRADE_SUCCESS"
    );
    h.until_idle().await;
    assert_eq!(
        query(&h, "ord-000001").await["trade_status"],
        "TRADE_SUCCESS",
        "a paid trade does not expire"
    );
    h.stop().await;
}

#[tokio::test]
async fn a_trade_left_unpaid_on_the_cashier_page_closes_at_the_expiry_with_104() {
    // Arrange
    let h = start().await;
    let answer = page_pay(&h, "ord-000002").await;
    let cashier = answer["cashier_url"].as_str().unwrap().to_string();
    let page = send_raw(h.handle.addr(), "GET", path_of(&cashier), "", &[])
        .await
        .unwrap();
    assert_eq!(page.status, 200);
    let events_before = h.handle.events_created();

    // Act: the buyer leaves; the expiry runs (the provider is idle once it has).
    h.until_idle().await;

    // Assert: closed unpaid, with its notification, and the page is gone.
    let closed = query(&h, "ord-000002").await;
    assert_eq!(closed["trade_status"], "TRADE_CLOSED", "{closed}");
    assert_eq!(closed["pay_code"], "104", "{closed}");
    assert_eq!(h.handle.events_created(), events_before + 1);
    assert!(h.handle.ledger().iter().all(|e| !e.money_moved));
    let gone = send_raw(h.handle.addr(), "GET", path_of(&cashier), "", &[])
        .await
        .unwrap();
    assert_eq!(gone.status, 410);
    h.stop().await;
}

#[tokio::test]
async fn failing_on_the_cashier_page_closes_the_trade_as_declined() {
    let h = start().await;
    let answer = page_pay(&h, "ord-000003").await;
    let cashier = answer["cashier_url"].as_str().unwrap().to_string();
    let failed = send_raw(
        h.handle.addr(),
        "POST",
        &format!("{}/fail", path_of(&cashier)),
        "",
        &[],
    )
    .await
    .unwrap();
    assert_eq!(failed.status, 303);
    let location = failed.headers["location"].to_str().unwrap();
    assert!(location.contains("trade_status=TRADE_CLOSED"), "{location}");
    let q = query(&h, "ord-000003").await;
    assert_eq!(
        (&q["trade_status"], &q["pay_code"]),
        (&json!("TRADE_CLOSED"), &json!("103"))
    );
    h.stop().await;
}
