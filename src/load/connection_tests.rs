//! The generator's connections to the merchant, counted at a loopback merchant that accepts
//! and answers every checkout paid: a bounded pool opens at most its size, the per-checkout
//! mode one connection per checkout. Counts only, never timings.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::Full;
use hyper::service::service_fn;
use hyper::Response;
use hyper_util::rt::TokioIo;
use tokio_util::sync::CancellationToken;

use super::*;
use crate::domain::RunId;

/// A merchant answering every request paid at once; the connections it accepted.
async fn counting_merchant() -> (String, Arc<AtomicUsize>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let accepted = Arc::new(AtomicUsize::new(0));
    let count = Arc::clone(&accepted);
    tokio::spawn(async move {
        loop {
            let (stream, _) = listener.accept().await.unwrap();
            count.fetch_add(1, Ordering::SeqCst);
            tokio::spawn(async move {
                let service = service_fn(|_req| async {
                    let body = Bytes::from_static(br#"{"status":"paid","reason":null}"#);
                    Ok::<_, hyper::Error>(Response::new(Full::new(body)))
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    (url, accepted)
}

fn plan(connections: Connections) -> LoadPlan {
    LoadPlan {
        stages: vec![Stage {
            start_rate: 50.0,
            end_rate: 50.0,
            duration: Duration::from_millis(400),
        }],
        max_in_flight: 100,
        connections,
        request_timeout: Duration::from_secs(10),
        seed: 7,
        orders: OrderSpec {
            amount_min: 100,
            amount_max: 5000,
            currency: "usd".into(),
            payment_method: "pm_card_visa".into(),
        },
        run_id: RunId::new("c1").unwrap(),
        testers: None,
        shard: crate::scenario::Shard::WHOLE,
        customers: crate::scenario::customers::DEFAULT_CUSTOMERS,
    }
}

async fn run(connections: Connections) -> (LoadResult, usize) {
    let (url, accepted) = counting_merchant().await;
    let contract = Contract::reference(&url);
    let r = drive(
        &plan(connections),
        &contract,
        Instant::now(),
        CancellationToken::new(),
    )
    .await;
    let paid = r
        .records
        .iter()
        .filter(|c| outcome(&c.answer) == Outcome::Paid)
        .count();
    assert_eq!((r.records.len(), paid), (20, 20), "every checkout answered");
    (r, accepted.load(Ordering::SeqCst))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bounded_pool_opens_at_most_its_size() {
    let two = Connections::Fixed(std::num::NonZeroUsize::new(2).unwrap());
    let (r, accepted) = run(two).await;
    assert!((1..=2).contains(&accepted), "{accepted} connections");
    let pool = r.pool.expect("a bounded pool");
    assert_eq!((pool.connections, pool.exchanges), (2, 20));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_per_checkout_mode_opens_one_connection_per_checkout() {
    let (r, accepted) = run(Connections::PerCheckout).await;
    assert_eq!(accepted, 20);
    assert_eq!(r.pool, None);
}

#[test]
fn the_default_pool_follows_the_peak_rate_within_its_bounds() {
    let stage = |from: f64, to: f64| Stage {
        start_rate: from,
        end_rate: to,
        duration: Duration::from_secs(1),
    };
    let t = Duration::from_millis(100);
    assert_eq!(auto_connections(&[stage(10.0, 10.0)], t, 1024), AUTO_MIN);
    assert_eq!(auto_connections(&[stage(100.0, 5000.0)], t, 1024), 500);
    assert_eq!(
        auto_connections(
            &[stage(5000.0, 100.0), stage(20_000.0, 20_000.0)],
            t,
            1 << 20
        ),
        2000
    );
    assert_eq!(
        auto_connections(&[stage(40.0, 40.0)], Duration::from_secs(5), 1024),
        200,
        "the timeout is the longest a checkout holds one"
    );
    assert_eq!(auto_connections(&[stage(1e6, 1e6)], t, 1 << 20), AUTO_MAX);
    assert_eq!(
        auto_connections(&[stage(5000.0, 5000.0)], t, 64),
        64,
        "never above max_in_flight"
    );
    assert_eq!(auto_connections(&[stage(5000.0, 5000.0)], t, 8), 8);
}
