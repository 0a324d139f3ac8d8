//! The bounded pool's workers end to end against a mock merchant: every checkout answered
//! once and recorded in schedule order, and a checkout waiting for the one connection counted
//! from its intended instant. What is asserted follows from the schedule and the merchant's
//! delay (one connection serialises the exchanges), never from how fast the machine is.

use std::collections::HashMap;
use std::num::NonZeroUsize;

use serde_json::json;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use super::*;
use crate::domain::RunId;

fn plan(rate: f64, ms: u64, connections: usize) -> LoadPlan {
    LoadPlan {
        stages: vec![Stage {
            start_rate: rate,
            end_rate: rate,
            duration: Duration::from_millis(ms),
        }],
        max_in_flight: 10_000,
        connections: Connections::Fixed(NonZeroUsize::new(connections).unwrap()),
        request_timeout: Duration::from_secs(10),
        seed: 9,
        orders: OrderSpec {
            amount_min: 100,
            amount_max: 5000,
            currency: "usd".into(),
            payment_method: "pm_card_visa".into(),
        },
        run_id: RunId::new("p1").unwrap(),
        testers: None,
        shard: crate::scenario::Shard::WHOLE,
        customers: crate::scenario::customers::DEFAULT_CUSTOMERS,
    }
}

async fn merchant(delay: Duration) -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/checkout"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"status": "paid", "reason": null}))
                .set_delay(delay),
        )
        .mount(&server)
        .await;
    server
}

async fn run(plan: &LoadPlan, server: &MockServer) -> LoadResult {
    let contract = Contract::reference(&server.uri());
    drive(plan, &contract, Instant::now(), CancellationToken::new()).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_checkout_is_sent_once_and_recorded_in_schedule_order() {
    let plan = plan(1000.0, 200, 3);
    let server = merchant(Duration::from_millis(5)).await;
    let r = run(&plan, &server).await;
    let planned = Schedule::new(&plan.stages).planned();
    assert_eq!(planned, 200);
    let want: Vec<String> = (0..planned).map(|n| order_id(&plan.run_id, n)).collect();
    let got: Vec<&str> = r.records.iter().map(|c| c.order_id.as_str()).collect();
    assert_eq!(got, want, "one record per checkout, in schedule order");
    for (n, c) in (0..planned).zip(&r.records) {
        assert_eq!(
            c.amount,
            order_amount(plan.seed, &plan.orders, &chaos_key(n))
        );
        assert_eq!(outcome(&c.answer), Outcome::Paid, "{}", c.order_id);
    }
    let mut sent: HashMap<String, usize> = HashMap::new();
    for req in server.received_requests().await.unwrap() {
        let body: serde_json::Value = serde_json::from_slice(&req.body).unwrap();
        *sent
            .entry(body["order_id"].as_str().unwrap().to_string())
            .or_default() += 1;
    }
    assert_eq!(sent.len(), want.len());
    assert!(
        sent.values().all(|&k| k == 1),
        "each order sent exactly once"
    );
    let pool = r.pool.expect("a bounded pool");
    assert_eq!(
        (pool.connections, pool.exchanges, pool.gave_up),
        (3, 200, 0)
    );
    assert_eq!(r.recorder.count(), 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_checkout_waiting_for_the_one_connection_counts_from_its_intended_time() {
    // Four checkouts due within 4 ms, one connection, each answer held 500 ms: the k-th
    // can only be answered after k + 1 answers in turn.
    let delay = Duration::from_millis(500);
    let plan = plan(1000.0, 4, 1);
    let server = merchant(delay).await;
    let r = run(&plan, &server).await;
    assert_eq!(r.records.len(), 4);
    for (k, c) in r.records.iter().enumerate() {
        assert_eq!(outcome(&c.answer), Outcome::Paid, "{}", c.order_id);
        let floor = u64::try_from((delay * (k as u32 + 1)).as_micros()).unwrap();
        // From its intended instant, at most 4 ms after the first's.
        assert!(
            c.latency_us + 4_000 >= floor,
            "checkout {k}: {} µs, the wait for the connection included",
            c.latency_us
        );
    }
    let pool = r.pool.expect("a bounded pool");
    assert_eq!((pool.connections, pool.exchanges), (1, 4));
    assert_eq!(
        pool.waited, 3,
        "all but the first found the connection busy"
    );
    assert!(pool.wait_total_us + 12_000 >= 6 * 500_000, "{pool:?}");
    assert!(pool.held_total_us >= 4 * 500_000, "{pool:?}");
}
