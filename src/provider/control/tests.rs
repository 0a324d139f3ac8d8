//! The control API over loopback: a provider on 127.0.0.1:0 served with `serve_with`, a bare
//! hyper client, and a wiremock merchant endpoint where webhooks matter.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use hyper::header::HeaderMap;
use serde_json::Value;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use wiremock::matchers::method;
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::chaos::{rates_of, Chaos, FaultKind, FaultPlan, Latency, WebhookChaos};
use crate::domain::PaymentOp;
use crate::provider::tests::support::send_raw;
use crate::provider::{
    serve_with, ControlOptions, ProviderConfig, ProviderHandle, RequestLog, ServeOptions,
};
use crate::scenario::Dialect;

struct Harness {
    handle: ProviderHandle,
    shutdown: CancellationToken,
    /// Every request-log line, in the order the hook saw them.
    log: Arc<Mutex<Vec<RequestLog>>>,
}

#[derive(Default)]
struct Setup {
    plan: FaultPlan,
    webhook_url: Option<String>,
    token: Option<String>,
    separate_control: bool,
    /// `--retain N`.
    retain: Option<usize>,
}

async fn start(setup: Setup) -> Harness {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let control_listener = if setup.separate_control {
        Some(TcpListener::bind("127.0.0.1:0").await.unwrap())
    } else {
        None
    };
    let cfg = ProviderConfig {
        chaos: Chaos::new(5, setup.plan, WebhookChaos::default()),
        dialect: Dialect::Stripe,
        hold: Duration::from_millis(50),
        webhook_url: setup.webhook_url.map(|u| format!("{u}/webhooks")),
        webhook_secret: "whsec_control".into(),
        webhook_retry: vec![Duration::from_millis(10)],
        webhook_timeout: Duration::from_secs(2),
        origin: Instant::now(),
        expected_orders: 0,
        retain: setup
            .retain
            .map(|payments| crate::provider::retention::Retention { payments }),
        max_in_flight: crate::scenario::defaults::PROVIDER_MAX_IN_FLIGHT.get(),
        velocity: None,
        replica: None,
        challenge: Default::default(),
    };
    let log = Arc::new(Mutex::new(Vec::new()));
    let sink = log.clone();
    let opts = ServeOptions {
        control: Some(ControlOptions {
            token: setup.token,
            listener: control_listener,
        }),
        on_request: Some(Arc::new(move |r: &RequestLog| {
            sink.lock().unwrap().push(r.clone());
        })),
        ..ServeOptions::default()
    };
    let shutdown = CancellationToken::new();
    let handle = serve_with(listener, cfg, opts, shutdown.clone());
    Harness {
        handle,
        shutdown,
        log,
    }
}

async fn stop(h: Harness) {
    h.shutdown.cancel();
    h.handle.stopped().await;
}

struct Answer {
    status: u16,
    headers: HeaderMap,
    body: Bytes,
}

impl Answer {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).expect("a JSON answer")
    }

    /// NDJSON lines, each parsed.
    fn lines(&self) -> Vec<Value> {
        assert_eq!(self.headers["content-type"], "application/x-ndjson");
        std::str::from_utf8(&self.body)
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).expect("each line is JSON"))
            .collect()
    }
}

/// One request on a fresh connection; `None` when it ends without an answer.
async fn send(
    addr: SocketAddr,
    method: &str,
    path: &str,
    body: &str,
    headers: &[(&str, &str)],
) -> Option<Answer> {
    let raw = send_raw(addr, method, path, body, headers).await.ok()?;
    Some(Answer {
        status: raw.status,
        headers: raw.headers,
        body: raw.body,
    })
}

/// A control request as a well-behaved client sends it: JSON content type on state changes.
async fn control(h: &Harness, method: &str, path: &str, body: &str) -> Answer {
    let addr = h.handle.control_addr().unwrap_or(h.handle.addr());
    let json = [("content-type", "application/json")];
    let headers: &[(&str, &str)] = if method == "GET" { &[] } else { &json };
    send(addr, method, path, body, headers).await.unwrap()
}

async fn charge(h: &Harness, order: &str, key: &str) -> Option<Answer> {
    let body = format!(
        "amount=1000&currency=usd&payment_method=pm_card_visa&confirm=true&metadata[order_id]={order}"
    );
    let headers = [
        ("authorization", "Bearer sk_test_x"),
        ("content-type", "application/x-www-form-urlencoded"),
        ("idempotency-key", key),
    ];
    send(
        h.handle.addr(),
        "POST",
        "/v1/payment_intents",
        &body,
        &headers,
    )
    .await
}

async fn until_idle(h: &Harness) {
    for _ in 0..1000 {
        if h.handle.webhooks_idle() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    panic!("webhooks not idle after 5 s: {:#?}", h.handle.webhook_log());
}

async fn acknowledging_merchant() -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200))
        .mount(&server)
        .await;
    server
}

#[tokio::test]
async fn a_replaced_plan_decides_the_next_request_and_keeps_the_seed() {
    let h = start(Setup::default()).await;
    assert_eq!(charge(&h, "ord-000001", "a").await.unwrap().status, 200);
    let before = control(&h, "GET", "/_paychaos/faults", "").await;
    assert_eq!(before.status, 200);
    assert_eq!(before.json()["faults"]["insufficient_funds"], 0.0);
    assert_eq!(before.json()["seed"], 5);

    let put = control(
        &h,
        "PUT",
        "/_paychaos/faults",
        r#"{"faults":{"insufficient_funds":1.0}}"#,
    )
    .await;
    assert_eq!(put.status, 200, "{:?}", put.body);
    assert_eq!(put.json()["faults"]["insufficient_funds"], 1.0);

    let declined = charge(&h, "ord-000002", "b").await.unwrap();
    assert_eq!(declined.status, 402);
    let after = control(&h, "GET", "/_paychaos/faults", "").await.json();
    assert_eq!(after["faults"]["insufficient_funds"], 1.0);
    assert_eq!(
        after["seed"], 5,
        "a plan without a seed keeps the one in force"
    );
    assert_eq!(
        h.handle.chaos().plan.rates[FaultKind::InsufficientFunds],
        1.0
    );
    let ledger = h.handle.ledger();
    assert_eq!(ledger[1].fault, Some(FaultKind::InsufficientFunds));
    stop(h).await;
}

#[tokio::test]
async fn patch_merges_single_keys_into_the_plan_in_force() {
    let h = start(Setup {
        plan: FaultPlan {
            rates: rates_of([(FaultKind::Timeout, 0.1)]),
            latency: Some(Latency::Fixed {
                value: Duration::from_millis(1),
            }),
            windows: vec![],
            ..FaultPlan::default()
        },
        ..Setup::default()
    })
    .await;
    let body = r#"{"seed":9,"faults":{"risk_block":0.5,"latency":null}}"#;
    let a = control(&h, "PATCH", "/_paychaos/faults", body).await;
    assert_eq!(a.status, 200, "{}", String::from_utf8_lossy(&a.body));
    let c = h.handle.chaos();
    assert_eq!(
        (
            c.plan.rates[FaultKind::Timeout],
            c.plan.rates[FaultKind::RiskBlock]
        ),
        (0.1, 0.5)
    );
    assert_eq!(c.plan.latency, None, "null removes a key");
    assert_eq!(c.seed, 9);
    // A window put at run time counts from the provider's start, like the ledger's at_ms.
    let body =
        r#"{"faults":{"windows":[{"name":"now","start":"0s","end":"60m","risk_block":1.0}]}}"#;
    let a = control(&h, "PATCH", "/_paychaos/faults", body).await;
    assert_eq!(a.status, 200, "{}", String::from_utf8_lossy(&a.body));
    let a = charge(&h, "ord-000003", "k").await.unwrap();
    assert_eq!(a.json()["error"]["decline_code"], "fraudulent");
    stop(h).await;
}

#[tokio::test]
async fn an_invalid_plan_is_refused_with_every_problem_and_changes_nothing() {
    let h = start(Setup::default()).await;
    let body = r#"{"faults":{"timeout":1.5,"windows":[{"start":"2s","end":"1s"}]},
        "webhooks":{"retry_schedule":["1s"],"forged":2}}"#;
    let a = control(&h, "PUT", "/_paychaos/faults", body).await;
    assert_eq!(a.status, 400);
    let v = a.json();
    assert_eq!(v["error"], "invalid fault plan");
    let paths: Vec<&str> = v["problems"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["path"].as_str().unwrap())
        .collect();
    assert_eq!(
        paths,
        [
            "webhooks.retry_schedule",
            "faults.timeout",
            "faults.windows[0].end",
            "webhooks.forged"
        ]
    );
    let broken = control(&h, "PUT", "/_paychaos/faults", r#"{"fault":{}}"#).await;
    assert_eq!(broken.status, 400);
    assert!(broken.json()["problems"][0]["message"]
        .as_str()
        .unwrap()
        .contains("unknown field `fault`"));
    let bad_patch = control(&h, "PATCH", "/_paychaos/faults", "{not json").await;
    assert_eq!(bad_patch.status, 400);
    assert_eq!(h.handle.chaos().plan, FaultPlan::default());
    stop(h).await;
}

#[tokio::test]
async fn ledger_events_and_webhooks_are_ndjson_filtered_by_order_id() {
    let merchant = acknowledging_merchant().await;
    let h = start(Setup {
        webhook_url: Some(merchant.uri()),
        ..Setup::default()
    })
    .await;
    for (order, key) in [("ord-1", "a"), ("ord-2", "b"), ("ord-1", "c")] {
        assert_eq!(charge(&h, order, key).await.unwrap().status, 200);
    }
    until_idle(&h).await;

    let all = control(&h, "GET", "/_paychaos/ledger", "").await.lines();
    assert_eq!(all.len(), 3);
    let one = control(&h, "GET", "/_paychaos/ledger?order_id=ord-1", "")
        .await
        .lines();
    assert_eq!(one.len(), 2);
    assert!(one.iter().all(|e| e["order_id"] == "ord-1"));
    assert_eq!(
        (one[0]["seq"].as_u64(), one[1]["seq"].as_u64()),
        (Some(0), Some(2))
    );

    let hooks = control(&h, "GET", "/_paychaos/webhooks?order_id=ord-2", "")
        .await
        .lines();
    assert_eq!(hooks.len(), 1);
    assert_eq!(hooks[0]["event_type"], "payment_intent.succeeded");
    assert_eq!(hooks[0]["status"], 200);

    let events = control(&h, "GET", "/_paychaos/events?order_id=ord-1", "")
        .await
        .lines();
    assert_eq!(events.len(), 2);
    assert!(events
        .iter()
        .all(|e| e["acknowledged"] == true && e["attempts"] == 1));
    let none = control(&h, "GET", "/_paychaos/ledger?order_id=ord-9", "").await;
    assert!(none.body.is_empty());
    stop(h).await;
}

#[tokio::test]
async fn resend_is_a_new_delivery_of_the_same_event() {
    let merchant = acknowledging_merchant().await;
    let h = start(Setup {
        webhook_url: Some(merchant.uri()),
        ..Setup::default()
    })
    .await;
    charge(&h, "ord-1", "a").await.unwrap();
    until_idle(&h).await;
    let events = control(&h, "GET", "/_paychaos/events", "").await.lines();
    let id = events[0]["id"].as_str().unwrap().to_string();

    let a = control(&h, "POST", &format!("/_paychaos/events/{id}/resend"), "").await;
    assert_eq!(a.status, 202);
    assert_eq!(a.json()["resent"], id.as_str());
    until_idle(&h).await;

    let log = h.handle.webhook_log();
    assert_eq!(log.len(), 2);
    for a in &log {
        assert_eq!((a.event_id.as_str(), a.attempt), (id.as_str(), 0));
        assert!(a.acknowledged() && !a.duplicate && !a.forged);
    }
    let received = merchant.received_requests().await.unwrap();
    assert_eq!(received.len(), 2);
    assert_eq!(
        received[0].body, received[1].body,
        "the same event, re-signed"
    );
    assert_eq!(h.handle.events_created(), 1, "no new event");
    let events = control(&h, "GET", "/_paychaos/events", "").await.lines();
    assert_eq!(events[0]["attempts"], 2);

    let unknown = control(&h, "POST", "/_paychaos/events/evt_nope/resend", "").await;
    assert_eq!(unknown.status, 404);
    stop(h).await;
}

#[tokio::test]
async fn resend_without_a_webhook_url_says_how_to_get_one() {
    let h = start(Setup::default()).await;
    charge(&h, "ord-1", "a").await.unwrap();
    let events = control(&h, "GET", "/_paychaos/events", "").await.lines();
    let id = events[0]["id"].as_str().unwrap();
    let a = control(&h, "POST", &format!("/_paychaos/events/{id}/resend"), "").await;
    assert_eq!(a.status, 409);
    assert!(a.json()["error"]
        .as_str()
        .unwrap()
        .contains("--webhook-url"));
    stop(h).await;
}

#[tokio::test]
async fn webhook_chaos_replaced_at_run_time_applies_to_the_next_event() {
    let merchant = acknowledging_merchant().await;
    let h = start(Setup {
        webhook_url: Some(merchant.uri()),
        ..Setup::default()
    })
    .await;
    let body = r#"{"webhooks":{"duplicate":1.0}}"#;
    assert_eq!(
        control(&h, "PATCH", "/_paychaos/faults", body).await.status,
        200
    );
    charge(&h, "ord-1", "a").await.unwrap();
    until_idle(&h).await;
    let dups: Vec<bool> = h.handle.webhook_log().iter().map(|a| a.duplicate).collect();
    assert_eq!(dups, [false, true]);
    stop(h).await;
}

#[tokio::test]
async fn a_bounded_provider_keeps_the_newest_payments_and_counts_what_it_evicted() {
    let merchant = acknowledging_merchant().await;
    let h = start(Setup {
        webhook_url: Some(merchant.uri()),
        retain: Some(5),
        ..Setup::default()
    })
    .await;
    let mut ids = Vec::new();
    for i in 0..8 {
        let a = charge(&h, &format!("ord-{i}"), &format!("k{i}"))
            .await
            .unwrap();
        ids.push(a.json()["id"].as_str().unwrap().to_string());
        until_idle(&h).await;
    }
    let index = control(&h, "GET", "/_paychaos/", "").await.json();
    assert_eq!(index["payments"], 5);
    assert_eq!(index["retention"]["payments"], 5);
    assert_eq!(index["evicted"]["payments"], 3);
    let auth = [("authorization", "Bearer sk_test_x")];
    for (id, want) in [(&ids[0], 404), (&ids[7], 200)] {
        let path = format!("/v1/payment_intents/{id}");
        let got = send(h.handle.addr(), "GET", &path, "", &auth)
            .await
            .unwrap();
        assert_eq!(got.status, want, "the oldest is forgotten, the newest kept");
    }
    let again = charge(&h, "ord-7", "k7").await.unwrap();
    assert_eq!(
        again
            .headers
            .get("idempotent-replayed")
            .map(|v| v.as_bytes()),
        Some(&b"true"[..]),
        "the newest key still replays"
    );
    stop(h).await;
}

#[tokio::test]
async fn reset_empties_ledger_keys_events_and_webhook_log() {
    let merchant = acknowledging_merchant().await;
    let h = start(Setup {
        webhook_url: Some(merchant.uri()),
        ..Setup::default()
    })
    .await;
    let first = charge(&h, "ord-1", "k").await.unwrap().json();
    until_idle(&h).await;
    let a = control(&h, "POST", "/_paychaos/reset", "").await;
    assert_eq!(a.status, 200);
    for list in ["ledger", "events", "webhooks"] {
        let a = control(&h, "GET", &format!("/_paychaos/{list}"), "").await;
        assert!(a.body.is_empty(), "{list}: {:?}", a.body);
    }
    assert_eq!(h.handle.events_created(), 0);
    let got = send(
        h.handle.addr(),
        "GET",
        &format!("/v1/payment_intents/{}", first["id"].as_str().unwrap()),
        "",
        &[("authorization", "Bearer sk_test_x")],
    )
    .await
    .unwrap();
    assert_eq!(got.status, 404, "intents are gone");
    // The same key executes afresh, as attempt 0 of the order.
    let again = charge(&h, "ord-1", "k").await.unwrap();
    assert_eq!(again.headers.get("idempotent-replayed"), None);
    let seen: Vec<_> = h
        .handle
        .ledger()
        .iter()
        .map(|e| (e.seq, e.op, e.attempt, e.money_moved))
        .collect();
    assert_eq!(
        seen,
        [
            (0, PaymentOp::Query, 0, false),
            (1, PaymentOp::Charge, 0, true)
        ],
        "the read that found nothing, then the charge"
    );
    stop(h).await;
}

#[tokio::test]
async fn cross_site_and_rebinding_requests_are_refused_and_change_nothing() {
    // #11: this reset came through with 200.
    let h = start(Setup::default()).await;
    assert_eq!(charge(&h, "ord-1", "k").await.unwrap().status, 200);
    let addr = h.handle.addr();
    let port_host = format!("127.0.0.1:{}", addr.port());
    let evil_host = format!("evil.example:{}", addr.port());
    type Headers<'a> = &'a [(&'a str, &'a str)];
    let cases: [(Headers, u16, &str); 5] = [
        (
            &[
                ("origin", "http://evil.example"),
                ("host", &evil_host),
                ("content-type", "text/plain"),
            ],
            403,
            "not Host \"evil.example:",
        ),
        (
            &[("host", &port_host), ("origin", "http://evil.example")],
            403,
            "not Origin \"http://evil.example\"",
        ),
        (
            &[("host", &port_host), ("content-type", "text/plain")],
            415,
            "needs Content-Type: application/json",
        ),
        (
            &[("content-type", "application/x-www-form-urlencoded")],
            415,
            "got \"application/x-www-form-urlencoded\"",
        ),
        (&[], 415, "got none"),
    ];
    for (headers, status, says) in cases {
        let a = send(addr, "POST", "/_paychaos/reset", "", headers)
            .await
            .unwrap();
        assert_eq!(a.status, status, "{headers:?}");
        let message = a.json()["error"].as_str().unwrap().to_string();
        assert!(message.contains(says), "{headers:?}: {message}");
    }
    assert_eq!(h.handle.ledger().len(), 1, "nothing was reset");
    let evil_read = send(
        addr,
        "GET",
        "/_paychaos/ledger",
        "",
        &[("host", "evil.example")],
    )
    .await
    .unwrap();
    assert_eq!(evil_read.status, 403, "reads are guarded too");
    let ok = [
        ("host", port_host.as_str()),
        ("origin", "http://localhost:3000"),
        ("content-type", "application/json; charset=utf-8"),
    ];
    let a = send(addr, "POST", "/_paychaos/reset", "", &ok)
        .await
        .unwrap();
    assert_eq!(a.status, 200);
    assert!(h.handle.ledger().is_empty());
    assert_eq!(
        charge(&h, "ord-2", "k2").await.unwrap().status,
        200,
        "Stripe paths unguarded"
    );
    stop(h).await;
}

#[tokio::test]
async fn the_token_guards_control_paths_only() {
    let h = start(Setup {
        token: Some("s3cret".into()),
        ..Setup::default()
    })
    .await;
    let addr = h.handle.addr();
    let none = send(addr, "GET", "/_paychaos/faults", "", &[])
        .await
        .unwrap();
    assert_eq!(none.status, 401);
    assert!(none.headers.contains_key("www-authenticate"));
    for bad in [
        "Bearer s3cre",
        "Bearer s3cretx",
        "s3cret",
        "Bearer sk_test_x",
    ] {
        let a = send(
            addr,
            "GET",
            "/_paychaos/faults",
            "",
            &[("authorization", bad)],
        )
        .await
        .unwrap();
        assert_eq!(a.status, 401, "{bad}");
    }
    let ok = send(
        addr,
        "GET",
        "/_paychaos/faults",
        "",
        &[("authorization", "Bearer s3cret")],
    )
    .await
    .unwrap();
    assert_eq!(ok.status, 200);
    assert_eq!(charge(&h, "ord-1", "a").await.unwrap().status, 200);
    stop(h).await;
}

#[tokio::test]
async fn a_separate_control_listener_keeps_the_api_port_stripe_only() {
    let h = start(Setup {
        separate_control: true,
        ..Setup::default()
    })
    .await;
    let control_addr = h.handle.control_addr().unwrap();
    assert_ne!(control_addr, h.handle.addr());
    let on_api = send(
        h.handle.addr(),
        "GET",
        "/_paychaos/faults",
        "",
        &[("authorization", "Bearer sk_test_x")],
    )
    .await
    .unwrap();
    assert_eq!(on_api.status, 404);
    assert!(on_api.json()["error"]["message"]
        .as_str()
        .unwrap()
        .starts_with("Unrecognized request URL"));
    let on_control = send(control_addr, "GET", "/_paychaos/faults", "", &[])
        .await
        .unwrap();
    assert_eq!(on_control.status, 200);
    let elsewhere = send(control_addr, "GET", "/v1/payment_intents", "", &[])
        .await
        .unwrap();
    assert_eq!(elsewhere.status, 404);
    stop(h).await;
}

#[tokio::test]
async fn wrong_methods_paths_and_parameters_are_refused_clearly() {
    let h = start(Setup::default()).await;
    let a = control(&h, "POST", "/_paychaos/ledger", "").await;
    assert_eq!(a.status, 405);
    assert_eq!(a.headers["allow"], "GET");
    let a = control(&h, "DELETE", "/_paychaos/faults", "").await;
    assert_eq!(a.headers["allow"], "GET, PUT, PATCH");
    let a = control(&h, "GET", "/_paychaos/nothing", "").await;
    assert_eq!(a.status, 404);
    assert!(a.json()["endpoints"].as_array().unwrap().len() > 5);
    let a = control(&h, "GET", "/_paychaos/ledger?order=ord-1", "").await;
    assert_eq!(a.status, 400);
    assert!(a.json()["error"].as_str().unwrap().contains("order_id"));
    let index = control(&h, "GET", "/_paychaos/", "").await;
    assert_eq!(index.json()["service"], "paychaos provider");
    stop(h).await;
}

#[tokio::test]
async fn the_request_log_sees_answers_drops_faults_and_orders() {
    let h = start(Setup {
        plan: FaultPlan {
            rates: rates_of([(FaultKind::Timeout, 1.0)]),
            ..FaultPlan::default()
        },
        ..Setup::default()
    })
    .await;
    assert!(charge(&h, "ord-7", "a").await.is_none(), "dropped");
    control(
        &h,
        "PUT",
        "/_paychaos/faults",
        r#"{"faults":{"risk_block":1}}"#,
    )
    .await;
    assert_eq!(charge(&h, "ord-8", "b").await.unwrap().status, 402);
    let log = h.log.lock().unwrap().clone();
    let seen: Vec<_> = log
        .iter()
        .map(|r| {
            (
                r.method.as_str(),
                r.path.as_str(),
                r.status,
                r.fault,
                r.order_id.as_deref(),
            )
        })
        .collect();
    assert_eq!(
        seen,
        [
            (
                "POST",
                "/v1/payment_intents",
                None,
                Some(FaultKind::Timeout),
                Some("ord-7")
            ),
            ("PUT", "/_paychaos/faults", Some(200), None, None),
            (
                "POST",
                "/v1/payment_intents",
                Some(402),
                Some(FaultKind::RiskBlock),
                Some("ord-8")
            ),
        ]
    );
    assert!(
        log[0].latency >= Duration::from_millis(50),
        "logged after the hold"
    );
    stop(h).await;
}

#[test]
fn only_loopback_peers_and_the_exact_token_pass() {
    use hyper::header::HeaderValue;
    for (peer, ok) in [
        ("127.0.0.1:1", true),
        ("[::1]:1", true),
        ("[::ffff:127.0.0.1]:1", true),
        ("10.0.0.1:1", false),
        ("[::ffff:10.0.0.1]:1", false),
    ] {
        let peer: SocketAddr = peer.parse().unwrap();
        assert_eq!(super::loopback(peer), ok, "{peer}");
    }
    let h = |v: &'static str| HeaderValue::from_static(v);
    assert!(super::authorized(Some(&h("Bearer t0k")), "t0k"));
    assert!(!super::authorized(Some(&h("Bearer t0")), "t0k"));
    assert!(!super::authorized(Some(&h("bearer t0k")), "t0k"));
    assert!(!super::authorized(None, "t0k"));
}
