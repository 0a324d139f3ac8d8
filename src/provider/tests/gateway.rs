//! The gateway dialect over loopback: a provider on 127.0.0.1:0 speaking `gateway` and a bare
//! hyper client, one connection per request. Pay, query, refunds, idempotency by
//! `out_trade_no`, every fault kind, signed requests; the ledger is the Stripe dialect's.

use std::net::SocketAddr;
use std::time::Duration;

use serde_json::{json, Value};

use super::stop;
use super::support::{order_hit_first, send_raw, Harness, STICKY_DECLINES};
use crate::chaos::{rates_of, FaultKind, FaultPlan, Rates};
use crate::domain::{AttemptResult, FailReason, PaymentOp};
use crate::provider::*;
use crate::signature;

const SECRET: &str = "whsec_gateway_test";

/// The hold of the late-charge tests: a client's next request arrives well within it, even
/// on a busy machine (the provider's own tests keep 50 ms elsewhere).
const HOLD: Duration = Duration::from_secs(1);

/// A gateway provider with `rates` (seed 11), holds of 50 ms, no notify URL.
async fn start(rates: Rates) -> Harness {
    let plan = FaultPlan {
        rates,
        ..FaultPlan::default()
    };
    Harness::start(11, plan, Dialect::Gateway, SECRET).await
}

/// One JSON request on a fresh connection: `(HTTP status, JSON)`, `Err` when dropped
/// unanswered.
async fn send(addr: SocketAddr, method: &str, path: &str, body: &str) -> Result<(u16, Value), ()> {
    let headers = [("content-type", "application/json")];
    let raw = send_raw(addr, method, path, body, &headers)
        .await
        .map_err(|_| ())?;
    Ok((raw.status, serde_json::from_slice(&raw.body).expect("JSON")))
}

fn pay_body(order: &str, amount: &str) -> String {
    json!({"merchant_id": "m1", "out_trade_no": order, "total_amount": amount,
        "currency": "usd"})
    .to_string()
}

async fn pay(h: &Harness, order: &str) -> Result<Value, ()> {
    pay_amount(h, order, "12.34").await
}

async fn pay_amount(h: &Harness, order: &str, amount: &str) -> Result<Value, ()> {
    let (status, v) = send(
        h.handle.addr(),
        "POST",
        "/gateway/pay",
        &pay_body(order, amount),
    )
    .await?;
    assert_eq!(status, 200, "the gateway answers 200 and a code: {v}");
    Ok(v)
}

async fn query(h: &Harness, order: &str) -> Value {
    let path = format!("/gateway/query?out_trade_no={order}");
    send(h.handle.addr(), "GET", &path, "").await.unwrap().1
}

fn results(h: &Harness) -> Vec<(AttemptResult, bool, Option<String>)> {
    h.handle
        .ledger()
        .iter()
        .filter(|e| e.op == PaymentOp::Charge)
        .map(|e| (e.result, e.money_moved, e.idempotency_key.clone()))
        .collect()
}

fn key(s: &str) -> Option<String> {
    Some(s.to_string())
}

#[tokio::test]
async fn pay_is_idempotent_by_out_trade_no_and_another_amount_conflicts() {
    let h = start(Rates::default()).await;
    let first = pay(&h, "ord-000001").await.unwrap();
    assert_eq!(
        (first["code"].as_str(), first["trade_status"].as_str()),
        (Some("000"), Some("TRADE_SUCCESS"))
    );
    assert_eq!(first["total_amount"], "12.34");
    let again = pay(&h, "ord-000001").await.unwrap();
    assert_eq!(again, first, "the same trade, answered again");
    let other = pay_amount(&h, "ord-000001", "12.35").await.unwrap();
    assert_eq!(other["code"], "409");
    let found = query(&h, "ord-000001").await;
    assert_eq!(
        (found["code"].as_str(), found["trade_no"].as_str()),
        (Some("000"), first["trade_no"].as_str())
    );
    assert_eq!(found["pay_code"], "000");
    assert_eq!(query(&h, "ord-999999").await["code"], "404");
    assert_eq!(
        results(&h),
        [
            (AttemptResult::Ok, true, key("ord-000001")),
            (AttemptResult::Replayed, false, key("ord-000001")),
            (AttemptResult::IdempotencyMismatch, false, key("ord-000001")),
        ]
    );
    let ledger = h.handle.ledger();
    assert_eq!(ledger[0].amount, 1234, "minor units in the ledger");
    assert_eq!(ledger[0].order_id.as_deref(), Some("ord-000001"));
    assert_eq!(
        ledger.iter().map(|e| e.attempt).collect::<Vec<_>>(),
        [0, 1, 2, 0, 0],
        "charge attempts, then one query of each order"
    );
    assert_eq!(h.handle.events_created(), 1);
    stop(h).await;
}

#[tokio::test]
async fn sticky_declines_answer_101_and_301_and_close_the_trade() {
    // The gateway's codes for the reasons.
    let codes: [&str; STICKY_DECLINES.len()] = ["101", "301"];
    for ((fault, reason), code) in STICKY_DECLINES.into_iter().zip(codes) {
        let h = start(rates_of([(fault, 1.0)])).await;
        let a = pay(&h, "ord-000002").await.unwrap();
        assert_eq!(
            (a["code"].as_str(), a["trade_status"].as_str()),
            (Some(code), Some("TRADE_CLOSED"))
        );
        let again = pay(&h, "ord-000002").await.unwrap();
        assert_eq!(again, a, "a closed trade is not paid again");
        let q = query(&h, "ord-000002").await;
        assert_eq!(
            (q["trade_status"].as_str(), q["pay_code"].as_str()),
            (Some("TRADE_CLOSED"), Some(code))
        );
        assert_eq!(
            results(&h),
            [
                (AttemptResult::Declined(reason), false, key("ord-000002")),
                (AttemptResult::Replayed, false, key("ord-000002")),
            ]
        );
        stop(h).await;
    }
}

#[tokio::test]
async fn a_channel_error_leaves_the_trade_open_and_the_next_pay_charges_it() {
    let h = start(rates_of([(FaultKind::ProcessingError, 0.5)])).await;
    let order = order_hit_first(&h.chaos, FaultKind::ProcessingError, 2);
    let soft = pay(&h, &order).await.unwrap();
    assert_eq!(
        (soft["code"].as_str(), soft["trade_status"].as_str()),
        (Some("102"), Some("WAIT_BUYER_PAY"))
    );
    let paid = pay(&h, &order).await.unwrap();
    assert_eq!(paid["code"], "000");
    assert_eq!(paid["trade_no"], soft["trade_no"], "the same trade");
    let replay = pay(&h, &order).await.unwrap();
    assert_eq!(replay, paid);
    let k1 = format!("{order}#1");
    assert_eq!(
        results(&h),
        [
            (
                AttemptResult::Declined(FailReason::ProviderError),
                false,
                key(&order)
            ),
            (AttemptResult::Ok, true, Some(k1.clone())),
            (AttemptResult::Replayed, false, Some(k1)),
        ]
    );
    assert_eq!(
        h.handle.events_created(),
        1,
        "WAIT_BUYER_PAY is not notified, TRADE_SUCCESS is"
    );
    stop(h).await;
}

#[tokio::test]
async fn transport_faults_drop_or_answer_500_and_503_and_the_retry_settles() {
    for (fault, rates) in [
        (FaultKind::Timeout, rates_of([(FaultKind::Timeout, 0.5)])),
        (
            FaultKind::TimeoutAfterCharge,
            rates_of([(FaultKind::TimeoutAfterCharge, 0.5)]),
        ),
        (
            FaultKind::ServerError,
            rates_of([(FaultKind::ServerError, 0.5)]),
        ),
        (
            FaultKind::RateLimit,
            rates_of([(FaultKind::RateLimit, 0.5)]),
        ),
    ] {
        let h = start(rates).await;
        let order = order_hit_first(&h.chaos, fault, 2);
        let first = pay(&h, &order).await;
        match fault {
            FaultKind::ServerError => assert_eq!(first.unwrap()["code"], "500"),
            FaultKind::RateLimit => assert_eq!(first.unwrap()["code"], "503"),
            _ => assert!(first.is_err(), "{fault:?}: no answer"),
        }
        let retry = pay(&h, &order).await.unwrap();
        assert_eq!(retry["code"], "000", "{fault:?}");
        let want = match fault {
            FaultKind::Timeout => (AttemptResult::Dropped, AttemptResult::Ok),
            FaultKind::TimeoutAfterCharge => (AttemptResult::AnswerLost, AttemptResult::Replayed),
            FaultKind::ServerError => (AttemptResult::ServerError, AttemptResult::Ok),
            _ => (AttemptResult::RateLimited, AttemptResult::Ok),
        };
        let got: Vec<AttemptResult> = results(&h).iter().map(|r| r.0).collect();
        assert_eq!(got, [want.0, want.1], "{fault:?}");
        let charged = h.handle.ledger().iter().filter(|e| e.money_moved).count();
        assert_eq!(charged, 1, "{fault:?}: charged once");
        stop(h).await;
    }
}

#[tokio::test]
async fn a_pay_during_a_late_charge_is_unconfirmed_202() {
    // A hold long enough for the next request to arrive during it, on any machine.
    let plan = FaultPlan {
        rates: rates_of([(FaultKind::LateCharge, 0.5)]),
        ..FaultPlan::default()
    };
    let h = Harness::start_holding(11, plan, Dialect::Gateway, SECRET, HOLD).await;
    let order = order_hit_first(&h.chaos, FaultKind::LateCharge, 2);
    // The client gives up once the charge is held, long before the hold ends, as a merchant
    // would.
    tokio::select! {
        a = pay(&h, &order) => panic!("answered during the hold: {a:?}"),
        _ = h.late_charge_pending() => {}
    }
    let busy = pay(&h, &order).await.unwrap();
    assert_eq!(
        (busy["code"].as_str(), busy["out_trade_no"].as_str()),
        (Some("202"), Some(order.as_str()))
    );
    assert_eq!(
        query(&h, &order).await["code"],
        "404",
        "invisible until it runs"
    );
    h.until_idle().await;
    assert_eq!(query(&h, &order).await["trade_status"], "TRADE_SUCCESS");
    let replay = pay(&h, &order).await.unwrap();
    assert_eq!(replay["code"], "000");
    let got: Vec<AttemptResult> = results(&h).iter().map(|r| r.0).collect();
    assert_eq!(
        got,
        [
            AttemptResult::InFlightConflict,
            AttemptResult::AnswerLost,
            AttemptResult::Replayed
        ]
    );
    stop(h).await;
}

#[tokio::test]
async fn refunds_by_trade_no_are_idempotent_by_out_request_no() {
    let h = start(Rates::default()).await;
    let trade = pay(&h, "ord-000003").await.unwrap()["trade_no"]
        .as_str()
        .unwrap()
        .to_string();
    let refund = |amount: &str, req: &str| {
        json!({"merchant_id": "m1", "trade_no": trade, "refund_amount": amount,
            "out_request_no": req})
        .to_string()
    };
    let addr = h.handle.addr();
    let (_, part) = send(addr, "POST", "/gateway/refund", &refund("4.00", "r1"))
        .await
        .unwrap();
    assert_eq!(
        (part["code"].as_str(), part["refund_amount"].as_str()),
        (Some("000"), Some("4.00"))
    );
    let (_, again) = send(addr, "POST", "/gateway/refund", &refund("4.00", "r1"))
        .await
        .unwrap();
    assert_eq!(again, part, "replayed, not refunded twice");
    let (_, over) = send(addr, "POST", "/gateway/refund", &refund("9.00", "r2"))
        .await
        .unwrap();
    assert_eq!(over["code"], "400");
    let unknown = json!({"merchant_id": "m1", "trade_no": "T00"}).to_string();
    let (_, missing) = send(addr, "POST", "/gateway/refund", &unknown)
        .await
        .unwrap();
    assert_eq!(missing["code"], "404");
    assert_eq!(query(&h, "ord-000003").await["refund_amount"], "4.00");
    assert_eq!(
        h.refunds(),
        [
            (AttemptResult::Ok, true, 400),
            (AttemptResult::Replayed, false, 400),
            (AttemptResult::Invalid, false, 900),
            (AttemptResult::Invalid, false, 0),
        ]
    );
    stop(h).await;
}

#[tokio::test]
async fn signed_requests_are_checked_and_unknown_paths_are_404() {
    let h = start(Rates::default()).await;
    let mut p: Vec<(String, String)> = [
        ("merchant_id", "m1"),
        ("out_trade_no", "ord-000004"),
        ("total_amount", "1.00"),
        ("currency", "usd"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    let sign = signature::gateway_sign(SECRET, &p);
    p.push(("sign_type".into(), "HMAC-SHA256".into()));
    let body = |sign: &str| {
        let mut m: serde_json::Map<String, Value> = p
            .iter()
            .map(|(k, v)| (k.clone(), Value::from(v.as_str())))
            .collect();
        m.insert("sign".into(), sign.into());
        Value::Object(m).to_string()
    };
    let addr = h.handle.addr();
    let (_, bad) = send(addr, "POST", "/gateway/pay", &body(&"0".repeat(64)))
        .await
        .unwrap();
    assert_eq!(bad["code"], "401");
    let (_, good) = send(addr, "POST", "/gateway/pay", &body(&sign))
        .await
        .unwrap();
    assert_eq!(good["code"], "000");
    let (status, nowhere) = send(addr, "GET", "/v1/payment_intents", "").await.unwrap();
    assert_eq!((status, nowhere["code"].as_str()), (404, Some("400")));
    let (_, malformed) = send(addr, "POST", "/gateway/pay", "amount=1")
        .await
        .unwrap();
    assert_eq!(malformed["code"], "400");
    let got: Vec<AttemptResult> = results(&h).iter().map(|r| r.0).collect();
    assert_eq!(
        got,
        [
            AttemptResult::Invalid,
            AttemptResult::Ok,
            AttemptResult::Invalid
        ]
    );
    stop(h).await;
}
