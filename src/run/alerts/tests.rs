//! The alert receiver over real HTTP on loopback, with Alertmanager-shaped notifications.

use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper::{Method, Request, StatusCode};

use super::*;
use crate::alertmanager::Status;
use crate::net::{LoopbackUrl, Pool};

/// A notification as Alertmanager sends it for one alert going `status`.
fn notification(status: &str, ends_at: &str) -> String {
    format!(
        r#"{{
  "version": "4",
  "groupKey": "{{}}:{{alertname=\"CheckoutFailureRate\"}}",
  "truncatedAlerts": 0,
  "status": "{status}",
  "receiver": "paychaos",
  "groupLabels": {{"alertname": "CheckoutFailureRate"}},
  "commonLabels": {{"alertname": "CheckoutFailureRate", "service": "checkout", "severity": "page"}},
  "commonAnnotations": {{"summary": "checkout failure rate above 50% over 5m"}},
  "externalURL": "http://alertmanager.example:9093",
  "alerts": [{{
    "status": "{status}",
    "labels": {{"alertname": "CheckoutFailureRate", "service": "checkout", "severity": "page"}},
    "annotations": {{"summary": "checkout failure rate above 50% over 5m"}},
    "startsAt": "2026-12-02T01:52:26.739266876Z",
    "endsAt": "{ends_at}",
    "generatorURL": "http://prometheus.example:9090/graph?g0.expr=rate",
    "fingerprint": "c6eadffa33fcdf37"
  }}]
}}"#
    )
}

async fn post(pool: &Pool, method: Method, body: String) -> StatusCode {
    let req = Request::builder()
        .method(method)
        .uri(PATH)
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from(body)))
        .unwrap();
    pool.send(req, Duration::from_secs(5)).await.unwrap().status
}

#[tokio::test]
async fn the_receiver_takes_firing_then_resolved_and_refuses_malformed_bodies() {
    // Arrange
    let stop = CancellationToken::new();
    let origin = Instant::now();
    let rx = start(stop.clone()).unwrap();
    let pool = Pool::new(&LoopbackUrl::parse(&rx.url).unwrap(), 2);
    // Act
    let firing = post(
        &pool,
        Method::POST,
        notification("firing", "0001-01-01T00:00:00Z"),
    )
    .await;
    let resolved = post(
        &pool,
        Method::POST,
        notification("resolved", "2026-12-02T01:58:26.739Z"),
    )
    .await;
    let broken = post(
        &pool,
        Method::POST,
        "{\"version\": \"4\", \"alerts\": [".into(),
    )
    .await;
    let old = post(
        &pool,
        Method::POST,
        notification("firing", "x").replace("\"4\"", "\"3\""),
    )
    .await;
    let get = post(&pool, Method::GET, String::new()).await;
    // Assert
    assert_eq!(
        (firing, resolved, broken, old, get),
        (
            StatusCode::OK,
            StatusCode::OK,
            StatusCode::BAD_REQUEST,
            StatusCode::BAD_REQUEST,
            StatusCode::METHOD_NOT_ALLOWED
        )
    );
    let got = rx.received(origin);
    let statuses: Vec<Status> = got.iter().map(|r| r.status).collect();
    assert_eq!(statuses, [Status::Firing, Status::Resolved]);
    assert!(got
        .iter()
        .all(|r| r.fingerprint == "c6eadffa33fcdf37" && r.alertname == "CheckoutFailureRate"));
    assert!(got[0].at_ms <= got[1].at_ms);
    stop.cancel();
}
