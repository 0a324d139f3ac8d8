//! Unit tests of the module, kept apart so the module stays readable.

use std::collections::HashSet;

use serde_json::json;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

use super::*;
use crate::domain::FailReason;

fn plan(rate: f64, secs: f64, max_in_flight: usize, timeout: Duration) -> LoadPlan {
    LoadPlan {
        stages: vec![Stage {
            start_rate: rate,
            end_rate: rate,
            duration: Duration::from_secs_f64(secs),
        }],
        max_in_flight,
        connections: crate::scenario::Connections::Auto,
        request_timeout: timeout,
        seed: 42,
        orders: OrderSpec {
            amount_min: 100,
            amount_max: 5000,
            currency: "usd".into(),
            payment_method: "pm_card_visa".into(),
        },
        run_id: run(),
        testers: None,
        shard: crate::scenario::Shard::WHOLE,
        customers: crate::scenario::customers::DEFAULT_CUSTOMERS,
    }
}

/// The run id of every test plan.
fn run() -> RunId {
    RunId::new("t1").unwrap()
}

/// The ids a test plan sends: `ord-t1-000000`, …
fn sent_ids(n: u64) -> Vec<String> {
    (0..n).map(|i| order_id(&run(), i)).collect()
}

async fn merchant(answer: ResponseTemplate) -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/checkout"))
        .respond_with(answer)
        .mount(&server)
        .await;
    server
}

fn paid() -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(json!({"status": "paid", "reason": null}))
}

fn count(records: &[CheckoutRecord], f: impl Fn(&CheckoutAnswer) -> bool) -> usize {
    records.iter().filter(|r| f(&r.answer)).count()
}

/// Order ids to read back: `ord-000000`, … (any ids do).
fn ids(n: u64) -> Vec<String> {
    (0..n).map(chaos_key).collect()
}

#[tokio::test]
async fn wait_for_merchant_finds_a_listener_and_names_a_missing_one() {
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    let contract = Contract::reference(&format!("http://{addr}"));
    let found = wait_for_merchant(&contract, Duration::from_secs(5)).await;
    assert_eq!(found, Ok(addr));
    drop(l);
    let err = wait_for_merchant(&contract, Duration::from_millis(300))
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains(&format!("does not answer at {addr}")) && err.contains("0.3 s"),
        "{err}"
    );
}

#[test]
fn order_ids_and_amounts_are_stable() {
    assert_eq!(order_id(&run(), 0), "ord-t1-000000");
    assert_eq!(order_id(&run(), 39), "ord-t1-000039");
    assert_eq!(order_id(&run(), 1_234_567), "ord-t1-1234567");
    assert_eq!(chaos_key(39), "ord-000039");
    assert_eq!(chaos_key(1_234_567), "ord-1234567");
    let spec = plan(1.0, 1.0, 1, Duration::ZERO).orders;
    for n in 0..200 {
        let a = order_amount(42, &spec, &chaos_key(n));
        assert!((100..=5000).contains(&a), "{a}");
        assert_eq!(a, order_amount(42, &spec, &chaos_key(n)));
    }
    // Amounts are those the ids of runs before run ids drew (`ord-000039`): pinned.
    assert_eq!(
        order_amount(42, &spec, "ord-000039"),
        100 + hash(42, "amount", &[b"ord-000039"]) % 4901
    );
    let fixed = OrderSpec {
        amount_min: 700,
        amount_max: 700,
        ..spec.clone()
    };
    assert_eq!(order_amount(1, &fixed, "x"), 700);
    let all = OrderSpec {
        amount_min: 0,
        amount_max: u64::MAX,
        ..spec
    };
    assert_eq!(order_amount(1, &all, "x"), hash(1, "amount", &[b"x"]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn drive_sends_every_scheduled_checkout_once() {
    // Arrange
    let server = merchant(paid()).await;
    let contract = Contract::reference(&server.uri());
    let p = plan(20.0, 2.0, 100, Duration::from_secs(5));
    let origin = Instant::now() - Duration::from_secs(1);

    // Act
    let r = drive(&p, &contract, origin, CancellationToken::new()).await;

    // Assert
    assert!(!r.interrupted);
    let got: Vec<&str> = r.records.iter().map(|r| r.order_id.as_str()).collect();
    assert_eq!(got, sent_ids(40));
    assert_eq!(r.recorder.count(), 40);
    assert_eq!(r.recorder.by_outcome[&Outcome::Paid].len(), 40);
    assert_eq!(r.recorder.shed, 0);
    let sent: u64 = r.recorder.timeline.seconds.values().map(|s| s.sent).sum();
    assert_eq!(sent, 40);
    assert_eq!(r.recorder.timeline.seconds.len(), 2, "two seconds of sends");
    for (n, rec) in r.records.iter().enumerate() {
        assert_eq!(
            rec.answer,
            CheckoutAnswer::Told {
                status: OrderStatus::Paid
            }
        );
        assert_eq!(
            rec.amount,
            order_amount(42, &p.orders, &chaos_key(n as u64))
        );
        assert!(rec.latency_us > 0);
        // Intended times are relative to the origin, 50 ms apart.
        let want = 1000 + 50 * n as u64;
        assert!(
            rec.intended_ms.abs_diff(want) <= 5,
            "{n}: {}",
            rec.intended_ms
        );
    }

    // The merchant saw each order once, with the templated body.
    let seen = server.received_requests().await.unwrap();
    assert_eq!(seen.len(), 40);
    let mut seen_ids = HashSet::new();
    for req in &seen {
        let body: serde_json::Value = req.body_json().unwrap();
        let id = body["order_id"].as_str().unwrap().to_string();
        let key = crate::domain::chaos_key(&id);
        assert_eq!(body["amount"], order_amount(42, &p.orders, &key));
        assert_eq!(body["currency"], "usd");
        assert_eq!(body["payment_method"], "pm_card_visa");
        assert_eq!(req.headers["content-type"], "application/json");
        assert!(seen_ids.insert(id));
    }
}

#[tokio::test]
async fn drive_works_on_a_single_threaded_runtime_and_reads_each_answer() {
    let server = MockServer::start().await;
    // Even orders are declined for funds, odd ones go pending.
    Mock::given(method("POST"))
        .and(path("/checkout"))
        .respond_with(|req: &Request| {
            let body: serde_json::Value = req.body_json().unwrap();
            let id = body["order_id"].as_str().unwrap();
            let n = crate::domain::order_id::sequence(id).unwrap();
            if n.is_multiple_of(2) {
                ResponseTemplate::new(402)
                    .set_body_json(json!({"status": "failed", "reason": "insufficient_funds"}))
            } else {
                ResponseTemplate::new(202).set_body_json(json!({"status": "pending"}))
            }
        })
        .mount(&server)
        .await;
    let contract = Contract::reference(&server.uri());
    let p = plan(50.0, 0.2, 100, Duration::from_secs(5));
    let r = drive(&p, &contract, Instant::now(), CancellationToken::new()).await;
    assert_eq!(r.records.len(), 10);
    for (n, rec) in r.records.iter().enumerate() {
        let want = if n.is_multiple_of(2) {
            OrderStatus::Failed(FailReason::InsufficientFunds)
        } else {
            OrderStatus::Pending
        };
        assert_eq!(rec.answer, CheckoutAnswer::Told { status: want });
    }
    assert_eq!(r.recorder.by_outcome[&Outcome::Failed].len(), 5);
    assert_eq!(r.recorder.by_outcome[&Outcome::Pending].len(), 5);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn checkouts_over_the_in_flight_cap_are_shed_and_accounted_for() {
    let server = merchant(paid().set_delay(Duration::from_secs(1))).await;
    let contract = Contract::reference(&server.uri());
    let p = plan(20.0, 0.5, 2, Duration::from_secs(5));

    let r = drive(&p, &contract, Instant::now(), CancellationToken::new()).await;

    let planned = Schedule::new(&p.stages).planned();
    assert_eq!(planned, 10);
    // Only the first two fit under the cap; the others are counted, not recorded.
    let sent: Vec<&str> = r.records.iter().map(|r| r.order_id.as_str()).collect();
    assert_eq!(
        sent,
        ["ord-t1-000000", "ord-t1-000001"],
        "one record per sent checkout"
    );
    assert_eq!(
        r.shed.total(),
        planned - 2,
        "every other checkout shed once"
    );
    assert_eq!(r.recorder.shed, r.shed.total());
    assert_eq!(r.recorder.count(), 2);
    assert_eq!(server.received_requests().await.unwrap().len(), 2);
    // The two sent ones waited for the slow answer, measured from the intended time.
    for rec in &r.records {
        assert!(rec.latency_us >= 1_000_000, "{rec:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_shed_checkouts_are_counted_per_second_without_a_record_each() {
    // Arrange: a cap of one against a merchant that takes 2 s over 1.5 s at 200/s: the
    // first checkout is in flight for the whole schedule, so every later one is shed.
    let server = merchant(paid().set_delay(Duration::from_secs(2))).await;
    let contract = Contract::reference(&server.uri());
    let p = plan(200.0, 1.5, 1, Duration::from_secs(5));

    // Act
    let r = drive(&p, &contract, Instant::now(), CancellationToken::new()).await;

    // Assert: one record; the shed ones counted in total, by load second in the recorder
    // and by intended second in the log, each summing to the total.
    let planned = Schedule::new(&p.stages).planned();
    assert_eq!(r.records.len(), 1);
    assert_eq!(r.shed.total(), planned - 1);
    assert_eq!(r.recorder.shed, r.shed.total());
    let by_second: u64 = r.recorder.timeline.seconds.values().map(|s| s.shed).sum();
    assert_eq!(by_second, r.shed.total());
    let logged = r.shed.per_second();
    assert_eq!(logged.iter().map(|s| s.1).sum::<u64>(), r.shed.total());
    assert!(
        logged.len() >= 2,
        "the shedding spans two seconds: {logged:?}"
    );
    assert_eq!(r.shed.between_ms(0, u64::MAX), r.shed.total());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_merchant_slower_than_the_request_timeout_is_an_error() {
    let server = merchant(paid().set_delay(Duration::from_secs(3))).await;
    let contract = Contract::reference(&server.uri());
    let p = plan(4.0, 0.5, 10, Duration::from_millis(200));

    let r = drive(&p, &contract, Instant::now(), CancellationToken::new()).await;

    assert_eq!(r.records.len(), 2);
    for rec in &r.records {
        match &rec.answer {
            CheckoutAnswer::Error { detail } => assert!(detail.contains("timeout"), "{detail}"),
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(r.recorder.by_outcome[&Outcome::Error].len(), 2);
}

#[tokio::test]
async fn unreadable_answers_and_unreachable_merchants_are_errors() {
    let server = merchant(ResponseTemplate::new(200).set_body_json(json!({"status": "ok"}))).await;
    let p = plan(10.0, 0.1, 10, Duration::from_secs(5));
    let r = drive(
        &p,
        &Contract::reference(&server.uri()),
        Instant::now(),
        CancellationToken::new(),
    )
    .await;
    assert_eq!(
        r.records[0].answer,
        CheckoutAnswer::Error {
            detail: "unknown status word 'ok' at /status".into()
        }
    );

    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let r = drive(
        &p,
        &Contract::reference(&format!("http://{closed}")),
        Instant::now(),
        CancellationToken::new(),
    )
    .await;
    assert!(
        matches!(&r.records[0].answer, CheckoutAnswer::Error { detail } if detail.contains("cannot connect")),
        "{:?}",
        r.records[0]
    );

    let r = drive(
        &p,
        &Contract::reference("http://example.com"),
        Instant::now(),
        CancellationToken::new(),
    )
    .await;
    assert!(
        matches!(&r.records[0].answer, CheckoutAnswer::Error { detail } if detail.contains("not an ip address")),
        "{:?}",
        r.records[0]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_stops_the_schedule_and_keeps_what_was_measured() {
    let server = merchant(paid().set_delay(Duration::from_millis(100))).await;
    let contract = Contract::reference(&server.uri());
    let p = plan(20.0, 10.0, 100, Duration::from_secs(5));
    let shutdown = CancellationToken::new();
    let stop = shutdown.clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(300)).await;
        stop.cancel();
    });

    let r = drive(&p, &contract, Instant::now(), shutdown).await;

    assert!(r.interrupted);
    let n = r.records.len();
    assert!((1..200).contains(&n), "{n} records");
    assert_eq!(
        r.records
            .iter()
            .map(|r| r.order_id.clone())
            .collect::<Vec<_>>(),
        sent_ids(n as u64),
        "a prefix of the schedule"
    );
    // The in-flight ones were awaited, not abandoned.
    assert_eq!(
        count(&r.records, |a| matches!(a, CheckoutAnswer::Told { .. })),
        n
    );
    assert_eq!(r.recorder.count() as usize, n);
}

#[tokio::test]
async fn an_empty_plan_sends_nothing() {
    let p = plan(0.0, 1.0, 1, Duration::from_secs(1));
    let r = drive(
        &p,
        &Contract::reference("http://127.0.0.1:9"),
        Instant::now(),
        CancellationToken::new(),
    )
    .await;
    assert!(r.records.is_empty());
    assert_eq!(r.recorder.count(), 0);
    assert_eq!(r.elapsed, Duration::ZERO);
}

fn order(id: &str, status: &str, reason: Option<&str>, fulfilments: u32) -> serde_json::Value {
    json!({"order_id": id, "status": status, "reason": reason, "fulfilments": fulfilments})
}

#[tokio::test]
async fn fetch_orders_reads_the_bulk_export() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/orders"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"orders": [
            order("ord-000002", "failed", Some("risk_blocked"), 0),
            order("ord-000000", "paid", None, 1),
            order("ord-000009", "pending", None, 0),
        ]})))
        .expect(1)
        .mount(&server)
        .await;
    let contract = Contract::reference(&server.uri());
    let want = ids(3);

    let got = fetch_orders(&contract, &want).await.unwrap();

    assert_eq!(
        got,
        vec![
            OrderSnapshot {
                order_id: "ord-000000".into(),
                status: OrderStatus::Paid,
                fulfilments: Some(1),
            },
            OrderSnapshot {
                order_id: "ord-000002".into(),
                status: OrderStatus::Failed(FailReason::RiskBlocked),
                fulfilments: Some(0),
            },
        ],
        "requested and known, in request order"
    );
}

#[tokio::test]
async fn fetch_orders_names_the_url_and_pointer_of_an_unreadable_export() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/orders"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"items": []})))
        .mount(&server)
        .await;
    let contract = Contract::reference(&server.uri());
    let err = fetch_orders(&contract, &ids(1)).await.unwrap_err();
    assert!(matches!(err, ReadError::NoList { .. }), "{err:?}");
    assert_eq!(
        err.to_string(),
        format!("GET {}/orders: no array at /orders", server.uri())
    );

    server.reset().await;
    Mock::given(method("GET"))
        .and(path("/orders"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"orders": [order("o", "shipped", None, 0)]})),
        )
        .mount(&server)
        .await;
    let err = fetch_orders(&contract, &ids(1))
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("/orders") && err.contains("'shipped' at /status"),
        "{err}"
    );
}

#[tokio::test]
async fn fetch_orders_falls_back_to_per_order_reads() {
    let server = MockServer::start().await;
    for n in [0u64, 3, 40] {
        let id = chaos_key(n);
        Mock::given(method("GET"))
            .and(path(format!("/orders/{id}")))
            .respond_with(ResponseTemplate::new(200).set_body_json(order(&id, "paid", None, 1)))
            .expect(1..=2)
            .mount(&server)
            .await;
    }
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(404))
        .mount(&server)
        .await;
    let mut contract = Contract::reference(&server.uri());
    contract.orders.bulk_url = None;
    let want = ids(50);

    let got = fetch_orders(&contract, &want).await.unwrap();

    let got_ids: Vec<&str> = got.iter().map(|s| s.order_id.as_str()).collect();
    assert_eq!(got_ids, ["ord-000000", "ord-000003", "ord-000040"]);
    assert!(got.iter().all(|s| s.status == OrderStatus::Paid));
    // Every id asked for once; a read may be resent on a fresh connection when an idle
    // one was closed under it (harmless for a GET), so count distinct paths.
    let paths: std::collections::BTreeSet<String> = server
        .received_requests()
        .await
        .unwrap()
        .iter()
        .map(|r| r.url.path().to_string())
        .collect();
    assert_eq!(paths.len(), 50);
}

#[tokio::test]
async fn fetch_orders_fails_on_a_server_error_naming_the_url() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(500))
        .mount(&server)
        .await;
    let mut contract = Contract::reference(&server.uri());
    contract.orders.bulk_url = None;
    let err = fetch_orders(&contract, &ids(3)).await.unwrap_err();
    assert!(
        matches!(err, ReadError::Status { status: 500, .. }),
        "{err:?}"
    );
    let err = err.to_string();
    assert!(
        err.starts_with(&format!("GET {}/orders/ord-00000", server.uri())),
        "{err}"
    );
    assert!(err.ends_with("http 500"), "{err}");
}
