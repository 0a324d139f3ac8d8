//! The in-flight cap over loopback: with `cap` requests held in flight (a timeout fault held
//! for a minute, or a body that never comes), the next request is shed at once with the
//! dialect's rate-limit answer and `Retry-After`, nothing is recorded for it, and as soon as
//! the held clients hang up a normal request is served again.

use std::time::Duration;

use serde_json::Value;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

use super::support::{config, send_raw, Harness, Raw};
use crate::chaos::{rates_of, Chaos, FaultKind, FaultPlan, WebhookChaos};
use crate::provider::ProviderConfig;
use crate::scenario::Dialect;

/// Long enough never to be reached on a busy machine; only a hang reaches it.
const GUARD: Duration = Duration::from_secs(60);

const CAP: usize = 2;

/// A provider capped at [`CAP`] in `dialect` whose every charge meets a timeout fault held
/// for [`GUARD`] (seed 3).
async fn start(dialect: Dialect) -> Harness {
    let plan = FaultPlan {
        rates: rates_of([(FaultKind::Timeout, 1.0)]),
        ..FaultPlan::default()
    };
    Harness::start_config(ProviderConfig {
        max_in_flight: CAP,
        velocity: None,
        ..config(3, plan, dialect, "whsec_overload", GUARD)
    })
    .await
}

/// A charge in `dialect` for `order`: `(method, path, headers, body)`.
fn charge(
    dialect: Dialect,
    order: &str,
) -> (
    &'static str,
    &'static str,
    Vec<(&'static str, &'static str)>,
    String,
) {
    match dialect {
        Dialect::Stripe => (
            "POST",
            "/v1/payment_intents",
            vec![
                ("content-type", "application/x-www-form-urlencoded"),
                ("authorization", "Bearer sk_test_x"),
            ],
            format!("amount=1000&currency=usd&payment_method=pm_card_visa&confirm=true&metadata[order_id]={order}"),
        ),
        Dialect::Gateway => (
            "POST",
            "/gateway/pay",
            vec![("content-type", "application/json")],
            serde_json::json!({"merchant_id": "m1", "out_trade_no": order,
                "total_amount": "12.34", "currency": "usd"})
            .to_string(),
        ),
    }
}

/// Writes `dialect`'s charge for `order` on a connection of its own, with only the first
/// `body_bytes` of its body (all of it with `None`), and keeps the connection open.
async fn hold(h: &Harness, dialect: Dialect, order: &str, body_bytes: Option<usize>) -> TcpStream {
    let (method, path, headers, body) = charge(dialect, order);
    let mut req = format!("{method} {path} HTTP/1.1\r\nhost: 127.0.0.1\r\n");
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str(&format!("content-length: {}\r\n\r\n", body.len()));
    let sent = body_bytes.unwrap_or(body.len()).min(body.len());
    req.push_str(&body[..sent]);
    let mut stream = TcpStream::connect(h.handle.addr()).await.unwrap();
    stream.write_all(req.as_bytes()).await.unwrap();
    stream
}

/// Resolves once exactly `n` requests are in flight.
async fn in_flight(h: &Harness, n: usize) {
    tokio::time::timeout(GUARD, async {
        while h.handle.in_flight() != n {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    })
    .await
    .unwrap_or_else(|_| panic!("{} in flight, not {n}", h.handle.in_flight()));
}

async fn send(h: &Harness, dialect: Dialect, order: &str) -> Raw {
    let (method, path, headers, body) = charge(dialect, order);
    send_raw(h.handle.addr(), method, path, &body, &headers)
        .await
        .expect("an answer")
}

fn json(raw: &Raw) -> Value {
    serde_json::from_slice(&raw.body).expect("JSON")
}

/// Whether `raw` is `dialect`'s shed answer: Stripe's 429 `rate_limit` envelope, the
/// gateway's busy code, each with `Retry-After: 1`.
fn assert_shed(dialect: Dialect, raw: &Raw) {
    let v = json(raw);
    assert_eq!(raw.headers["retry-after"], "1", "{v}");
    match dialect {
        Dialect::Stripe => {
            assert_eq!(raw.status, 429, "{v}");
            assert_eq!(v["error"]["type"], "invalid_request_error", "{v}");
            assert_eq!(v["error"]["code"], "rate_limit", "{v}");
            assert!(raw.headers.get("stripe-should-retry").is_none(), "{v}");
        }
        Dialect::Gateway => {
            assert_eq!(raw.status, 200, "{v}");
            assert_eq!(v["code"], "503", "{v}");
            assert_eq!(v["msg"], "system busy, try again later", "{v}");
        }
    }
}

#[tokio::test]
async fn beyond_the_cap_a_request_is_shed_at_once_and_served_again_once_the_held_leave() {
    for dialect in [Dialect::Stripe, Dialect::Gateway] {
        // Arrange: CAP charges held by their timeout fault.
        let h = start(dialect).await;
        let mut held = Vec::new();
        for i in 0..CAP {
            held.push(hold(&h, dialect, &format!("ord-held-{i}"), None).await);
        }
        in_flight(&h, CAP).await;

        // Act: one more.
        let shed = send(&h, dialect, "ord-shed").await;

        // Assert: shed, counted, and nothing recorded for it.
        assert_shed(dialect, &shed);
        assert_eq!(h.handle.shed(), 1, "{dialect:?}");
        let ledger = h.handle.ledger();
        assert_eq!(ledger.len(), CAP, "{dialect:?}: only the held are recorded");
        assert!(ledger
            .iter()
            .all(|e| e.order_id.as_deref() != Some("ord-shed")));

        // Act: the held clients hang up, and the faults are switched off.
        drop(held);
        in_flight(&h, 0).await;
        h.handle
            .replace_chaos(Chaos::new(3, FaultPlan::default(), WebhookChaos::default()));
        let served = send(&h, dialect, "ord-after").await;

        // Assert: served as usual at once.
        let v = json(&served);
        match dialect {
            Dialect::Stripe => {
                assert_eq!((served.status, &v["status"]), (200, &"succeeded".into()))
            }
            Dialect::Gateway => assert_eq!((served.status, &v["code"]), (200, &"000".into())),
        }
        assert!(served.headers.get("retry-after").is_none());
        assert_eq!(h.handle.shed(), 1);
        in_flight(&h, 0).await;
        h.stop().await;
    }
}

#[tokio::test]
async fn a_body_that_never_comes_holds_its_place_until_its_client_leaves() {
    // Arrange: CAP charges whose bodies stop half way (the cap is taken before the body).
    let h = start(Dialect::Stripe).await;
    let mut held = Vec::new();
    for i in 0..CAP {
        held.push(hold(&h, Dialect::Stripe, &format!("ord-slow-{i}"), Some(10)).await);
    }
    in_flight(&h, CAP).await;

    // Act and assert: the next is shed; once one slow client leaves, a place is free.
    assert_shed(
        Dialect::Stripe,
        &send(&h, Dialect::Stripe, "ord-shed").await,
    );
    drop(held.pop());
    in_flight(&h, CAP - 1).await;
    let third = hold(&h, Dialect::Stripe, "ord-third", Some(10)).await;
    in_flight(&h, CAP).await;
    assert_eq!(h.handle.shed(), 1);
    assert!(h.handle.ledger().is_empty(), "no body, no record");
    drop((held, third));
    in_flight(&h, 0).await;
    h.stop().await;
}

#[tokio::test]
async fn the_control_api_is_never_shed() {
    use crate::provider::{serve_with, ControlOptions, ServeOptions};
    // Arrange: a capped provider with its control API on its port, the cap taken.
    let listener = crate::net::listen("127.0.0.1:0".parse().unwrap()).unwrap();
    let shutdown = tokio_util::sync::CancellationToken::new();
    let cfg = ProviderConfig {
        max_in_flight: 1,
        velocity: None,
        ..config(3, FaultPlan::default(), Dialect::Stripe, "whsec_o", GUARD)
    };
    let opts = ServeOptions {
        control: Some(ControlOptions::default()),
        ..ServeOptions::default()
    };
    let handle = serve_with(listener, cfg, opts, shutdown.clone());
    let h = Harness {
        handle,
        shutdown,
        chaos: Chaos::new(3, FaultPlan::default(), WebhookChaos::default()),
    };
    let held = hold(&h, Dialect::Stripe, "ord-slow", Some(10)).await;
    in_flight(&h, 1).await;

    // Act
    let index = send_raw(h.handle.addr(), "GET", "/_paychaos/", "", &[])
        .await
        .unwrap();

    // Assert: answered, and it counts the cap.
    assert_eq!(index.status, 200);
    let v = json(&index);
    assert_eq!(v["overload"]["max_in_flight"], 1, "{v}");
    assert_eq!(v["overload"]["in_flight"], 1, "{v}");
    drop(held);
    h.stop().await;
}
