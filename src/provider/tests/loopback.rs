//! Stripe dialect over loopback: a provider on 127.0.0.1:0 and a bare hyper client, for what
//! only the server shows: charges with their outcome, the event log and its pagination,
//! `Stripe-Should-Retry` headers, query strings with list keys.

use std::net::SocketAddr;
use std::time::Duration;

use super::support::Harness;
use super::{stop, Answer};
use crate::chaos::{FaultKind, FaultPlan, Latency};
use crate::domain::{AttemptResult, PaymentOp};
use crate::provider::*;

/// A provider with `plan` (seed 9), holds of 50 ms, no webhook URL.
async fn start(plan: FaultPlan) -> Harness {
    Harness::start(9, plan, Dialect::Stripe, "whsec_test").await
}

/// [`super::send`] with the test API key and `key` as the `Idempotency-Key`, answered.
async fn send(addr: SocketAddr, method: &str, path: &str, body: &str, key: Option<&str>) -> Answer {
    let headers: Vec<(&str, &str)> = key.map(|k| ("idempotency-key", k)).into_iter().collect();
    super::send(addr, method, path, body, &headers)
        .await
        .expect("an answer")
}

async fn pay(h: &Harness, pm: &str, extra: &str, key: &str) -> Answer {
    let body = format!("amount=1500&currency=usd&payment_method={pm}&confirm=true{extra}");
    send(
        h.handle.addr(),
        "POST",
        "/v1/payment_intents",
        &body,
        Some(key),
    )
    .await
}

#[tokio::test]
async fn radar_block_declines_402_and_its_charge_outcome_is_blocked() {
    let h = start(FaultPlan::default()).await;
    let a = pay(
        &h,
        "pm_card_radarBlock",
        "&metadata[order_id]=ord-000001",
        "k",
    )
    .await;
    assert_eq!(a.status, 402);
    assert_eq!(a.header("stripe-should-retry"), Some("false"));
    let err = &a.json["error"];
    assert_eq!(err["decline_code"], "fraudulent");
    let charge = err["payment_intent"]["latest_charge"].as_str().unwrap();
    assert_eq!(err["charge"], charge);
    let c = send(
        h.handle.addr(),
        "GET",
        &format!("/v1/charges/{charge}"),
        "",
        None,
    )
    .await;
    assert_eq!(c.status, 200);
    assert_eq!(c.json["object"], "charge");
    assert_eq!(c.json["status"], "failed");
    assert_eq!(c.json["outcome"]["type"], "blocked");
    assert_eq!(c.json["payment_intent"], err["payment_intent"]["id"]);
    let e = h.handle.ledger().pop().unwrap();
    assert_eq!(
        (e.op, e.order_id.as_deref(), e.result),
        (PaymentOp::Query, Some("ord-000001"), AttemptResult::Ok)
    );
    let missing = send(h.handle.addr(), "GET", "/v1/charges/ch_nope", "", None).await;
    assert_eq!(missing.status, 404);
    assert_eq!(missing.json["error"]["code"], "resource_missing");
    stop(h).await;
}

#[tokio::test]
async fn expand_on_create_inlines_the_charge_with_bracket_keys_either_way() {
    let h = start(FaultPlan::default()).await;
    for (extra, key) in [
        ("&expand[]=latest_charge", "a"),
        ("&expand%5B0%5D=latest_charge", "b"),
    ] {
        let a = pay(&h, "pm_card_visa", extra, key).await;
        assert_eq!(a.status, 200);
        assert_eq!(a.json["latest_charge"]["object"], "charge", "{extra}");
        assert_eq!(a.json["latest_charge"]["outcome"]["type"], "authorized");
    }
    let plain = pay(&h, "pm_card_visa", "", "c").await;
    assert!(plain.json["latest_charge"]
        .as_str()
        .unwrap()
        .starts_with("ch_"));
    stop(h).await;
}

#[tokio::test]
async fn events_are_listed_newest_first_and_paginate_with_starting_after() {
    let h = start(FaultPlan::default()).await;
    let addr = h.handle.addr();
    let mut made = Vec::new();
    for (i, pm) in ["pm_card_visa", "pm_card_chargeDeclined", "pm_card_visa"]
        .into_iter()
        .enumerate()
    {
        let a = pay(
            &h,
            pm,
            &format!("&metadata[order_id]=ord-00000{i}"),
            &format!("k{i}"),
        )
        .await;
        let pi = if a.status == 200 {
            &a.json
        } else {
            &a.json["error"]["payment_intent"]
        };
        made.push(pi["id"].as_str().unwrap().to_string());
    }
    let first = send(addr, "GET", "/v1/events?limit=2", "", None).await;
    assert_eq!(first.json["object"], "list");
    assert_eq!(first.json["url"], "/v1/events");
    assert_eq!(first.json["has_more"], true);
    let data = first.json["data"].as_array().unwrap();
    assert_eq!(data.len(), 2);
    assert_eq!(data[0]["data"]["object"]["id"], made[2].as_str());
    assert_eq!(data[1]["type"], "payment_intent.payment_failed");
    let last = data[1]["id"].as_str().unwrap();
    let next = send(
        addr,
        "GET",
        &format!("/v1/events?limit=2&starting_after={last}"),
        "",
        None,
    )
    .await;
    assert_eq!(next.json["has_more"], false);
    let rest = next.json["data"].as_array().unwrap();
    assert_eq!(rest.len(), 1);
    assert_eq!(rest[0]["data"]["object"]["id"], made[0].as_str());
    let only = send(
        addr,
        "GET",
        "/v1/events?type=payment_intent.payment_failed",
        "",
        None,
    )
    .await;
    assert_eq!(only.json["data"].as_array().unwrap().len(), 1);
    let one = send(addr, "GET", &format!("/v1/events/{last}"), "", None).await;
    assert_eq!(one.json["id"], last);
    assert_eq!(one.json["object"], "event");
    let bad = send(addr, "GET", "/v1/events?starting_after=evt_nope", "", None).await;
    assert_eq!(
        (bad.status, bad.json["error"]["param"].as_str()),
        (400, Some("starting_after"))
    );
    assert_eq!(
        send(addr, "GET", "/v1/events/evt_nope", "", None)
            .await
            .status,
        404
    );
    stop(h).await;
}

#[tokio::test]
async fn key_in_use_says_retry_and_a_mismatched_key_says_do_not() {
    // Long latency on attempt 0 of one order keeps its key in flight; attempt 1 is quick.
    let plan = FaultPlan {
        latency: Some(Latency::Uniform {
            min: Duration::ZERO,
            max: Duration::from_secs(100),
        }),
        ..FaultPlan::default()
    };
    let h = start(plan).await;
    let order = (0..1_000_000)
        .map(|i| format!("ord-{i:06}"))
        .find(|o| {
            h.chaos.latency(&format!("{o}#0"), Duration::ZERO) > Duration::from_secs(50)
                && h.chaos.latency(&format!("{o}#1"), Duration::ZERO) < Duration::from_millis(20)
        })
        .unwrap();
    let addr = h.handle.addr();
    let body = format!(
        "amount=5&currency=usd&payment_method=pm_card_visa&confirm=true&metadata[order_id]={order}"
    );
    let slow = {
        let body = body.clone();
        tokio::spawn(
            async move { send(addr, "POST", "/v1/payment_intents", &body, Some("k")).await },
        )
    };
    // Bounded: a regression fails here instead of hanging the suite.
    for _ in 0..2500 {
        if !h.handle.ledger().is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    assert!(
        !h.handle.ledger().is_empty(),
        "the first request never reached the ledger"
    );
    let busy = send(addr, "POST", "/v1/payment_intents", &body, Some("k")).await;
    assert_eq!(busy.status, 409);
    assert_eq!(busy.header("stripe-should-retry"), Some("true"));
    let other = send(
        addr,
        "POST",
        "/v1/payment_intents",
        "amount=6&currency=usd",
        Some("k"),
    )
    .await;
    assert_eq!(other.status, 400);
    assert_eq!(other.json["error"]["type"], "idempotency_error");
    assert_eq!(other.header("stripe-should-retry"), Some("false"));
    h.shutdown.cancel();
    assert_eq!(slow.await.unwrap().status, 200);
    h.handle.stopped().await;
}

#[tokio::test]
async fn manual_capture_and_cancel_over_the_wire() {
    let h = start(FaultPlan::default()).await;
    let addr = h.handle.addr();
    let auth = pay(
        &h,
        "pm_card_visa",
        "&capture_method=manual&metadata[order_id]=ord-000009",
        "a",
    )
    .await;
    assert_eq!(auth.json["status"], "requires_capture");
    assert_eq!(auth.json["amount_capturable"], 1500);
    let id = auth.json["id"].as_str().unwrap().to_string();
    let cap = send(
        addr,
        "POST",
        &format!("/v1/payment_intents/{id}/capture"),
        "amount_to_capture=1000",
        Some("c"),
    )
    .await;
    assert_eq!(
        (cap.status, cap.json["amount_received"].as_u64()),
        (200, Some(1000))
    );
    let cancel = send(
        addr,
        "POST",
        &format!("/v1/payment_intents/{id}/cancel"),
        "",
        Some("x"),
    )
    .await;
    assert_eq!(cancel.status, 400);
    assert_eq!(
        cancel.json["error"]["code"],
        "payment_intent_unexpected_state"
    );
    let replay = send(
        addr,
        "POST",
        &format!("/v1/payment_intents/{id}/cancel"),
        "",
        Some("x"),
    )
    .await;
    assert_eq!(
        replay.header("idempotent-replayed"),
        Some("true"),
        "errors after execution began are saved"
    );
    let moved: Vec<_> = h
        .handle
        .ledger()
        .into_iter()
        .filter(|e| e.money_moved)
        .map(|e| (e.op, e.amount))
        .collect();
    assert_eq!(
        moved,
        [(PaymentOp::Charge, 1000)],
        "money moves at capture only"
    );
    let types: Vec<String> = send(addr, "GET", "/v1/events", "", None).await.json["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["type"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        types,
        [
            "payment_intent.succeeded",
            "payment_intent.amount_capturable_updated"
        ]
    );
    stop(h).await;
}

#[tokio::test]
async fn an_answer_whose_client_hung_up_first_is_recorded_unanswered_with_its_delay() {
    // Order `slow` waits 50 s or more for its answer, order `quick` under 20 ms; the
    // client gives up on `slow` after 100 ms, as a merchant's own timeout would.
    let plan = FaultPlan {
        latency: Some(Latency::Uniform {
            min: Duration::ZERO,
            max: Duration::from_secs(100),
        }),
        ..FaultPlan::default()
    };
    let h = start(plan).await;
    let latency = |o: &str| h.chaos.latency(&format!("{o}#0"), Duration::ZERO);
    let ids = || (0..1_000_000).map(|i| format!("ord-{i:06}"));
    let slow = ids()
        .find(|o| latency(o) > Duration::from_secs(50))
        .unwrap();
    let quick = ids()
        .find(|o| latency(o) < Duration::from_millis(20))
        .unwrap();
    let body = |o: &str| {
        format!(
            "amount=5&currency=usd&payment_method=pm_card_visa&confirm=true&metadata[order_id]={o}"
        )
    };
    let addr = h.handle.addr();

    let answered = send(
        addr,
        "POST",
        "/v1/payment_intents",
        &body(&quick),
        Some("kq"),
    )
    .await;
    let gave_up = tokio::time::timeout(
        Duration::from_millis(100),
        send(
            addr,
            "POST",
            "/v1/payment_intents",
            &body(&slow),
            Some("ks"),
        ),
    )
    .await;

    assert_eq!(answered.status, 200);
    assert!(
        gave_up.is_err(),
        "the slow answer cannot come within 100 ms"
    );
    let entry = |o: &str| {
        h.handle
            .ledger()
            .into_iter()
            .find(|e| e.order_id.as_deref() == Some(o))
    };
    // Bounded: the mark lands once the server sees the connection close.
    for _ in 0..2500 {
        if entry(&slow).is_some_and(|e| e.unanswered) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    let slow_entry = entry(&slow).expect("the slow charge was recorded");
    assert!(slow_entry.unanswered, "{slow_entry:?}");
    assert!(
        slow_entry.money_moved,
        "executed on arrival, only its answer was lost"
    );
    assert!(slow_entry.answer_delay_ms >= 50_000, "{slow_entry:?}");
    assert!(!entry(&quick).unwrap().unanswered);
}

#[tokio::test]
async fn a_reset_charge_reaches_the_client_as_econnreset_and_moves_no_money() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let plan = FaultPlan {
        rates: crate::chaos::rates_of([(FaultKind::Reset, 1.0)]),
        ..FaultPlan::default()
    };
    let h = start(plan).await;
    let body = "amount=5&currency=usd&payment_method=pm_card_visa&confirm=true&metadata[order_id]=ord-000001";
    let req = format!(
        "POST /v1/payment_intents HTTP/1.1\r\nhost: 127.0.0.1\r\nauthorization: Bearer sk_test_x\r\n\
         content-type: application/x-www-form-urlencoded\r\nidempotency-key: k1\r\n\
         content-length: {}\r\n\r\n{body}",
        body.len()
    );
    let mut stream = tokio::net::TcpStream::connect(h.handle.addr())
        .await
        .unwrap();
    stream.write_all(req.as_bytes()).await.unwrap();
    let mut buf = Vec::new();
    let err = stream
        .read_to_end(&mut buf)
        .await
        .expect_err("a reset, not an answer or a clean close");
    assert_eq!(err.kind(), std::io::ErrorKind::ConnectionReset, "{err}");
    assert!(
        buf.is_empty(),
        "no answer: {:?}",
        String::from_utf8_lossy(&buf)
    );
    let e = h.handle.ledger().pop().expect("the charge recorded");
    assert_eq!((e.op, e.fault), (PaymentOp::Charge, Some(FaultKind::Reset)));
    assert_eq!(e.result, AttemptResult::Dropped);
    assert!(!e.money_moved);
    stop(h).await;
}
