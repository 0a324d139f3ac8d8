//! The provider end to end over loopback: a provider on 127.0.0.1:0 and a bare hyper client,
//! one connection per request (a dropped answer closes its connection). Charges under each
//! fault here; the Stripe dialect's other endpoints in `loopback`, the gateway dialect in
//! `gateway` (its cashier page in `cashier`), the server limits in `abuse`, the in-flight cap in `overload`; the shared test
//! kit in `support`.

mod abuse;
mod cashier;
mod gateway;
mod loopback;
mod overload;
mod replicas;
pub(super) mod support;

use super::*;
use crate::chaos::{rates_of, FaultKind, FaultPlan, Latency, Rates};
use crate::domain::{AttemptResult, FailReason, PaymentOp};
use hyper::header::HeaderMap;
use serde_json::Value;
use support::{order_hit_first, send_raw, Harness, STICKY_DECLINES};

/// The hold of the late-charge tests: a client's next request arrives well within it, even
/// on a busy machine (the provider's own tests keep 50 ms elsewhere).
const HOLD: Duration = Duration::from_secs(1);

/// A provider with `plan` (seed 42), holds of 50 ms, no webhook URL.
async fn start(plan: FaultPlan) -> Harness {
    Harness::start(42, plan, Dialect::Stripe, "whsec_test").await
}

fn rates(r: Rates) -> FaultPlan {
    FaultPlan {
        rates: r,
        ..FaultPlan::default()
    }
}

struct Answer {
    status: u16,
    headers: HeaderMap,
    json: Value,
}

impl Answer {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

/// Sends one form request on a fresh connection; `Err` when the connection ends without an
/// answer. Adds a test API key unless `headers` sets `authorization`.
async fn send(
    addr: SocketAddr,
    method: &str,
    path: &str,
    body: &str,
    headers: &[(&str, &str)],
) -> Result<Answer, hyper::Error> {
    let mut all = vec![("content-type", "application/x-www-form-urlencoded")];
    if !headers.iter().any(|(k, _)| *k == "authorization") {
        all.push(("authorization", "Bearer sk_test_x"));
    }
    all.extend_from_slice(headers);
    let raw = send_raw(addr, method, path, body, &all).await?;
    Ok(Answer {
        status: raw.status,
        json: serde_json::from_slice(&raw.body).expect("every answer is JSON"),
        headers: raw.headers,
    })
}

fn charge_body(order: &str) -> String {
    format!("amount=1000&currency=usd&payment_method=pm_card_visa&confirm=true&metadata[order_id]={order}")
}

async fn charge(h: &Harness, order: &str, key: &str) -> Result<Answer, hyper::Error> {
    let body = charge_body(order);
    send(
        h.handle.addr(),
        "POST",
        "/v1/payment_intents",
        &body,
        &[("idempotency-key", key)],
    )
    .await
}

fn results(h: &Harness) -> Vec<(AttemptResult, bool, u16)> {
    h.handle
        .ledger()
        .iter()
        .map(|e| (e.result, e.money_moved, e.status))
        .collect()
}

async fn stop(h: Harness) {
    h.stop().await;
}

#[tokio::test]
async fn clean_charge_answers_succeeded_and_records_money_moved() {
    let h = start(FaultPlan::default()).await;
    let a = charge(&h, "ord-000001", "ord-000001:charge").await.unwrap();
    assert_eq!(a.status, 200);
    assert_eq!(a.json["object"], "payment_intent");
    assert_eq!(a.json["status"], "succeeded");
    assert_eq!(a.json["metadata"]["order_id"], "ord-000001");
    assert!(a.header("request-id").unwrap().starts_with("req_"));
    assert_eq!(a.header("content-type"), Some("application/json"));
    assert_eq!(a.header("idempotent-replayed"), None);
    let ledger = h.handle.ledger();
    assert_eq!(ledger.len(), 1);
    let e = &ledger[0];
    assert_eq!(
        (e.op, e.result, e.money_moved, e.status),
        (PaymentOp::Charge, AttemptResult::Ok, true, 200)
    );
    assert_eq!(e.payment_id.as_deref(), a.json["id"].as_str());
    assert_eq!(h.handle.events_created(), 1);
    stop(h).await;
}

#[tokio::test]
async fn sticky_decline_answers_402_on_every_attempt() {
    // Stripe words the reasons as these decline codes.
    let codes: [&str; STICKY_DECLINES.len()] = ["insufficient_funds", "fraudulent"];
    for ((fault, reason), code) in STICKY_DECLINES.into_iter().zip(codes) {
        let h = start(rates(rates_of([(fault, 1.0)]))).await;
        let mut ids = Vec::new();
        for key in ["k1", "k2", "k2"] {
            let a = charge(&h, "ord-000002", key).await.unwrap();
            assert_eq!(a.status, 402, "{code}");
            let err = &a.json["error"];
            assert_eq!(
                (err["type"].as_str(), err["code"].as_str()),
                (Some("card_error"), Some("card_declined"))
            );
            assert_eq!(err["decline_code"], code, "{code}");
            assert!(err["charge"].as_str().unwrap().starts_with("ch_"));
            assert_eq!(err["payment_intent"]["status"], "requires_payment_method");
            ids.push(err["payment_intent"]["id"].as_str().unwrap().to_string());
        }
        assert_eq!(ids[1], ids[2], "the same key replays the same decline");
        let got = send(
            h.handle.addr(),
            "GET",
            &format!("/v1/payment_intents/{}", ids[0]),
            "",
            &[],
        )
        .await
        .unwrap();
        assert_eq!(got.json["status"], "requires_payment_method");
        assert_eq!(got.json["last_payment_error"]["decline_code"], code);
        let want = [
            (AttemptResult::Declined(reason), false, 402),
            (AttemptResult::Declined(reason), false, 402),
            (AttemptResult::Replayed, false, 402),
            (AttemptResult::Ok, false, 200),
        ];
        assert_eq!(results(&h), want, "{code}");
        assert_eq!(
            h.handle.events_created(),
            2,
            "{code}: one event per execution"
        );
        stop(h).await;
    }
}

#[tokio::test]
async fn timeout_after_charge_drops_then_the_retry_is_replayed() {
    let h = start(rates(rates_of([(FaultKind::TimeoutAfterCharge, 0.5)]))).await;
    let order = order_hit_first(&h.chaos, FaultKind::TimeoutAfterCharge, 1);
    let lost = charge(&h, &order, "k").await;
    assert!(lost.is_err(), "the connection ends without an answer");
    let retry = charge(&h, &order, "k").await.unwrap();
    assert_eq!(retry.status, 200);
    assert_eq!(retry.header("idempotent-replayed"), Some("true"));
    assert_eq!(retry.json["status"], "succeeded");
    assert_eq!(
        results(&h),
        [
            (AttemptResult::AnswerLost, true, 0),
            (AttemptResult::Replayed, false, 200)
        ]
    );
    let ledger = h.handle.ledger();
    assert_eq!(ledger[1].payment_id, ledger[0].payment_id);
    assert_eq!(retry.json["id"].as_str(), ledger[0].payment_id.as_deref());
    assert_eq!(h.handle.events_created(), 1);
    stop(h).await;
}

#[tokio::test]
async fn late_charge_executes_after_the_client_left_and_the_key_then_replays() {
    // A hold long enough for the next request to arrive during it, on any machine.
    let plan = rates(rates_of([(FaultKind::LateCharge, 0.5)]));
    let h = Harness::start_holding(42, plan, Dialect::Stripe, "whsec_test", HOLD).await;
    let order = order_hit_first(&h.chaos, FaultKind::LateCharge, 2);
    // The client gives up once the charge is held, long before the hold ends, as a merchant
    // would.
    tokio::select! {
        a = charge(&h, &order, "k") => panic!("answered during the hold: {:?}", a.map(|a| a.status)),
        _ = h.late_charge_pending() => {}
    }
    let busy = charge(&h, &order, "k").await.unwrap();
    assert_eq!(busy.status, 409, "{}", busy.json);
    let search = format!("/v1/payment_intents/search?query=metadata['order_id']:'{order}'");
    let found = send(h.handle.addr(), "GET", &search, "", &[])
        .await
        .unwrap();
    assert_eq!(found.json["data"].as_array().map(Vec::len), Some(0));
    h.until_idle().await;
    let late = h
        .handle
        .ledger()
        .into_iter()
        .find(|e| e.fault == Some(FaultKind::LateCharge))
        .expect("the late charge executed without its client");
    assert_eq!(
        (late.result, late.money_moved, late.attempt),
        (AttemptResult::AnswerLost, true, 0)
    );
    assert_eq!(h.handle.events_created(), 1);
    // The late charge's event is listed like any other.
    let events = send(h.handle.addr(), "GET", "/v1/events", "", &[])
        .await
        .unwrap();
    let listed = events.json["data"].as_array().map(Vec::len);
    assert_eq!(listed, Some(1), "{}", events.json);
    let replay = charge(&h, &order, "k").await.unwrap();
    assert_eq!(
        (replay.status, replay.header("idempotent-replayed")),
        (200, Some("true"))
    );
    stop(h).await;
}

#[tokio::test]
async fn processing_error_answers_a_soft_decline() {
    let h = start(rates(rates_of([(FaultKind::ProcessingError, 0.5)]))).await;
    let order = order_hit_first(&h.chaos, FaultKind::ProcessingError, 1);
    let a = charge(&h, &order, "k").await.unwrap();
    assert_eq!(a.status, 402);
    assert_eq!(a.json["error"]["decline_code"], "processing_error");
    assert_eq!(
        a.json["error"]["payment_intent"]["status"],
        "requires_payment_method"
    );
    assert_eq!(
        results(&h),
        [(
            AttemptResult::Declined(FailReason::ProviderError),
            false,
            402
        )]
    );
    stop(h).await;
}

/// What the first attempt of a fault that charges nothing shows the client.
enum Shown {
    /// The connection ends without an answer.
    Nothing,
    /// An answer of `status` with `Stripe-Should-Retry: should_retry` and `value` at `field`
    /// of its JSON.
    Answer {
        status: u16,
        should_retry: Option<&'static str>,
        field: &'static str,
        value: &'static str,
    },
}

#[tokio::test]
async fn a_fault_before_execution_charges_nothing_saves_nothing_and_the_retry_executes() {
    for (fault, shown, first) in [
        (
            FaultKind::Timeout,
            Shown::Nothing,
            (AttemptResult::Dropped, false, 0),
        ),
        (
            FaultKind::ServerError,
            Shown::Answer {
                status: 500,
                should_retry: Some("true"),
                field: "/error/type",
                value: "api_error",
            },
            (AttemptResult::ServerError, false, 500),
        ),
        (
            FaultKind::RateLimit,
            Shown::Answer {
                status: 429,
                should_retry: None,
                field: "/error/code",
                value: "rate_limit",
            },
            (AttemptResult::RateLimited, false, 429),
        ),
    ] {
        let h = start(rates(rates_of([(fault, 0.5)]))).await;
        let order = order_hit_first(&h.chaos, fault, 1);

        let a = charge(&h, &order, "k").await;

        match shown {
            Shown::Nothing => assert!(a.is_err(), "{fault:?}: answered"),
            Shown::Answer {
                status,
                should_retry,
                field,
                value,
            } => {
                let a = a.unwrap();
                assert_eq!(a.status, status, "{fault:?}");
                assert_eq!(a.header("stripe-should-retry"), should_retry, "{fault:?}");
                assert_eq!(
                    a.json.pointer(field),
                    Some(&Value::from(value)),
                    "{fault:?}"
                );
            }
        }
        assert_eq!(h.handle.events_created(), 0, "{fault:?}");
        assert_eq!(h.handle.ledger()[0].fault, Some(fault), "{fault:?}");
        let retry = charge(&h, &order, "k").await.unwrap();
        assert_eq!(
            (retry.status, retry.header("idempotent-replayed")),
            (200, None),
            "{fault:?}: the retry executes"
        );
        assert_eq!(
            results(&h),
            [first, (AttemptResult::Ok, true, 200)],
            "{fault:?}"
        );
        stop(h).await;
    }
}

#[tokio::test]
async fn attempt_numbers_count_per_order() {
    let h = start(FaultPlan::default()).await;
    for (order, key) in [
        ("ord-000001", "a"),
        ("ord-000002", "b"),
        ("ord-000001", "a"),
        ("ord-000001", "c"),
    ] {
        charge(&h, order, key).await.unwrap();
    }
    let seen: Vec<_> = h
        .handle
        .ledger()
        .iter()
        .map(|e| (e.order_id.clone().unwrap(), e.attempt, e.seq))
        .collect();
    assert_eq!(
        seen,
        [
            ("ord-000001".into(), 0, 0),
            ("ord-000002".into(), 0, 1),
            ("ord-000001".into(), 1, 2),
            ("ord-000001".into(), 2, 3)
        ]
    );
    stop(h).await;
}

#[tokio::test]
async fn same_key_with_other_params_is_an_idempotency_error() {
    let h = start(FaultPlan::default()).await;
    charge(&h, "ord-000001", "k").await.unwrap();
    let a = charge(&h, "ord-000002", "k").await.unwrap();
    assert_eq!(a.status, 400);
    assert_eq!(a.json["error"]["type"], "idempotency_error");
    assert_eq!(
        h.handle.ledger()[1].result,
        AttemptResult::IdempotencyMismatch
    );
    stop(h).await;
}

#[tokio::test]
async fn same_key_while_in_flight_is_409() {
    // Latency up to 100 s, keyed per attempt: pick an order whose first attempt sleeps
    // long and whose second answers at once.
    let latency = Latency::Uniform {
        min: Duration::ZERO,
        max: Duration::from_secs(100),
    };
    let h = start(FaultPlan {
        latency: Some(latency),
        ..FaultPlan::default()
    })
    .await;
    let order = (0..1_000_000)
        .map(|i| format!("ord-{i:06}"))
        .find(|o| {
            h.chaos.latency(&format!("{o}#0"), Duration::ZERO) > Duration::from_secs(50)
                && h.chaos.latency(&format!("{o}#1"), Duration::ZERO) < Duration::from_millis(20)
        })
        .unwrap();
    let addr = h.handle.addr();
    let body = charge_body(&order);
    let first = tokio::spawn(async move {
        send(
            addr,
            "POST",
            "/v1/payment_intents",
            &body,
            &[("idempotency-key", "k")],
        )
        .await
    });
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
    let second = charge(&h, &order, "k").await.unwrap();
    assert_eq!(second.status, 409);
    assert_eq!(second.json["error"]["code"], "idempotency_key_in_use");
    // Shutdown cuts the long latency short; the first request still gets its answer.
    h.shutdown.cancel();
    let first = first.await.unwrap().unwrap();
    assert_eq!(first.status, 200);
    assert_eq!(
        results(&h),
        [
            (AttemptResult::Ok, true, 200),
            (AttemptResult::InFlightConflict, false, 409)
        ]
    );
    h.handle.stopped().await;
}

#[tokio::test]
async fn search_by_order_id_finds_declined_and_succeeded_intents() {
    let h = start(FaultPlan::default()).await;
    charge(&h, "ord-000001", "a").await.unwrap();
    charge(&h, "ord-000002", "b").await.unwrap();
    charge(&h, "ord-000001", "c").await.unwrap();
    for q in [
        "query=metadata%5B%27order_id%27%5D%3A%27ord-000001%27",
        "query=metadata[\"order_id\"]:\"ord-000001\"",
    ] {
        let a = send(
            h.handle.addr(),
            "GET",
            &format!("/v1/payment_intents/search?{}", q.replace('"', "%22")),
            "",
            &[],
        )
        .await
        .unwrap();
        assert_eq!(a.status, 200, "{}", a.json);
        assert_eq!(a.json["object"], "search_result");
        let data = a.json["data"].as_array().unwrap();
        assert_eq!(data.len(), 2);
        assert!(data
            .iter()
            .all(|pi| pi["metadata"]["order_id"] == "ord-000001"));
    }
    let last = h.handle.ledger().pop().unwrap();
    assert_eq!(
        (last.op, last.order_id.as_deref(), last.attempt),
        (PaymentOp::Query, Some("ord-000001"), 1)
    );
    stop(h).await;
}

#[tokio::test]
async fn refunds_full_partial_and_over_refund_refused() {
    let h = start(FaultPlan::default()).await;
    let pi = charge(&h, "ord-000001", "k").await.unwrap().json["id"]
        .as_str()
        .unwrap()
        .to_string();
    let refund = |body: String, key: &'static str| {
        let addr = h.handle.addr();
        async move {
            send(
                addr,
                "POST",
                "/v1/refunds",
                &body,
                &[("idempotency-key", key)],
            )
            .await
            .unwrap()
        }
    };
    let part = refund(format!("payment_intent={pi}&amount=400"), "r1").await;
    assert_eq!(
        (
            part.status,
            part.json["object"].as_str(),
            part.json["amount"].as_u64()
        ),
        (200, Some("refund"), Some(400))
    );
    let over = refund(format!("payment_intent={pi}&amount=601"), "r2").await;
    assert_eq!(over.status, 400);
    assert_eq!(over.json["error"]["type"], "invalid_request_error");
    let rest = refund(format!("payment_intent={pi}"), "r3").await;
    assert_eq!(
        (rest.status, rest.json["amount"].as_u64()),
        (200, Some(600))
    );
    let replay = refund(format!("payment_intent={pi}"), "r3").await;
    assert_eq!(replay.header("idempotent-replayed"), Some("true"));
    assert_eq!(
        h.refunds(),
        [
            (AttemptResult::Ok, true, 400),
            (AttemptResult::Invalid, false, 601),
            (AttemptResult::Ok, true, 600),
            (AttemptResult::Replayed, false, 0)
        ]
    );
    stop(h).await;
}

#[tokio::test]
async fn unknown_path_missing_key_and_bad_params_are_refused_with_a_request_id() {
    let h = start(FaultPlan::default()).await;
    let addr = h.handle.addr();
    let a = send(addr, "GET", "/v1/x", "", &[]).await.unwrap();
    assert_eq!(a.status, 404);
    assert!(a.json["error"]["message"]
        .as_str()
        .unwrap()
        .starts_with("Unrecognized request URL (GET: /v1/x)"));
    assert!(a.header("request-id").is_some());
    let b = send(
        addr,
        "POST",
        "/v1/payment_intents",
        &charge_body("o"),
        &[("authorization", "")],
    )
    .await
    .unwrap();
    assert_eq!(
        (b.status, b.json["error"]["type"].as_str()),
        (401, Some("authentication_error"))
    );
    assert!(b.header("request-id").is_some());
    let c = send(
        addr,
        "POST",
        "/v1/payment_intents",
        "currency=usd",
        &[("idempotency-key", "bad")],
    )
    .await
    .unwrap();
    assert_eq!(
        (c.status, c.json["error"]["param"].as_str()),
        (400, Some("amount"))
    );
    assert_ne!(
        c.header("request-id"),
        a.header("request-id"),
        "request ids are unique"
    );
    // Pre-execution refusals are not saved: the key still works for a valid request.
    let d = send(
        addr,
        "POST",
        "/v1/payment_intents",
        &charge_body("o"),
        &[("idempotency-key", "bad")],
    )
    .await
    .unwrap();
    assert_eq!(d.status, 200);
    assert_eq!(
        results(&h),
        [
            (AttemptResult::Invalid, false, 400),
            (AttemptResult::Ok, true, 200)
        ]
    );
    stop(h).await;
}

#[tokio::test]
async fn create_then_confirm_charges_through_the_confirm_endpoint() {
    let h = start(rates(rates_of([(FaultKind::InsufficientFunds, 1.0)]))).await;
    let addr = h.handle.addr();
    let body = "amount=700&currency=usd&payment_method=pm_card_visa&metadata[order_id]=ord-000003";
    let created = send(addr, "POST", "/v1/payment_intents", body, &[])
        .await
        .unwrap();
    assert_eq!(created.json["status"], "requires_confirmation");
    let id = created.json["id"].as_str().unwrap();
    let confirmed = send(
        addr,
        "POST",
        &format!("/v1/payment_intents/{id}/confirm"),
        "",
        &[],
    )
    .await
    .unwrap();
    assert_eq!(confirmed.status, 402);
    assert_eq!(
        confirmed.json["error"]["decline_code"],
        "insufficient_funds"
    );
    let e = h.handle.ledger().pop().unwrap();
    assert_eq!(e.order_id.as_deref(), Some("ord-000003"));
    assert_eq!(e.fault, Some(FaultKind::InsufficientFunds));
    stop(h).await;
}

#[tokio::test]
async fn stopped_resolves_after_shutdown() {
    let h = start(FaultPlan::default()).await;
    let addr = h.handle.addr();
    stop(h).await;
    assert!(
        tokio::net::TcpStream::connect(addr).await.is_err(),
        "no longer listening"
    );
}
