//! An owed refund is never given up while the provider's answer stays unknown or retryable:
//! it is retried past `max_retries`, always with the same key, and counted in flight until
//! it is done.

use std::time::Duration;

use serde_json::json;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::merchant::testkit::{self, decline, event, key_of, label, mount_charge, SECRET};

#[tokio::test]
async fn a_refund_failing_past_every_retry_is_retried_with_its_key_until_done() {
    let server = MockServer::start().await;
    mount_charge(
        &server,
        ResponseTemplate::new(402).set_body_json(decline("insufficient_funds", "pi_d")),
    )
    .await;
    // Seven 500s: more than two rounds of three attempts (max_retries = 2), then a refund.
    Mock::given(method("POST"))
        .and(path("/v1/refunds"))
        .respond_with(ResponseTemplate::new(500).set_body_json(json!({"error":{}})))
        .up_to_n_times(7)
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/v1/refunds"))
        .respond_with(ResponseTemplate::new(200).set_body_json(
            json!({"id":"re_1","object":"refund","payment_intent":"pi_late","status":"succeeded"}),
        ))
        .mount(&server)
        .await;
    let m = testkit::start(testkit::config(&server.uri())).await;
    m.checkout("ord-000011").await;
    let ev = event("evt_r", "payment_intent.succeeded", "ord-000011", "pi_late");
    assert_eq!(m.webhook(&ev, SECRET).await.0, 200);

    let refunds = || async {
        let all = server.received_requests().await.unwrap();
        let keys: Vec<String> = all
            .iter()
            .filter(|r| r.url.path() == "/v1/refunds")
            .map(key_of)
            .collect();
        keys
    };
    for _ in 0..500 {
        if m.handle.refunds_in_flight() == 0 && refunds().await.len() >= 8 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let keys = refunds().await;
    assert_eq!(keys.len(), 8, "seven refused, the eighth done");
    assert!(
        keys.iter().all(|k| k == "ord-000011:refund:pi_late"),
        "{keys:?}"
    );
    assert_eq!(m.handle.refunds_in_flight(), 0);
    let (_, order) = m.order("ord-000011").await;
    assert_eq!(label(&order), "failed_insufficient_funds");
    m.stop().await;
}
