//! Gateway notifications through the same dispatcher, against a wiremock merchant on
//! 127.0.0.1: signed form bodies with a fresh `notify_time` per attempt, acknowledgement only
//! by the exact body `success`, the attacker copies in the gateway's shape, per-trade URLs.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use bytes::Bytes;
use tokio_util::sync::CancellationToken;
use wiremock::matchers::{body_string_contains, method, path};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

use super::{now, until_idle};
use crate::chaos::{Chaos, FaultPlan, WebhookChaos};
use crate::provider::webhooks::*;
use crate::signature;

const SECRET: &str = "whsec_gateway_endpoint";
const NOTIFY_ID: &str = "ntf_00000000000000aa";

fn notification(url: Option<String>) -> Event {
    let body = format!(
        "currency=usd&notify_id={NOTIFY_ID}&notify_type=trade_status_sync&out_trade_no=ord-000001\
         &total_amount=12.34&trade_no=T00aa&trade_status=TRADE_SUCCESS"
    );
    Event {
        id: NOTIFY_ID.into(),
        event_type: "trade_status_sync.TRADE_SUCCESS".into(),
        order_id: Some("ord-000001".into()),
        payment_id: Some("pi_00aa".into()),
        body: Bytes::from(body),
        format: Format::Gateway,
        url,
        chaos_key: None,
    }
}

fn config(url: Option<String>, chaos: WebhookChaos) -> WebhookConfig {
    WebhookConfig {
        url,
        secret: SECRET.into(),
        retry: vec![Duration::from_millis(10); 2],
        timeout: Duration::from_secs(2),
        origin: Instant::now(),
        chaos: Chaos::new(7, FaultPlan::default(), chaos),
        keep_attempts: None,
    }
}

fn params(r: &Request) -> BTreeMap<String, String> {
    form_urlencoded::parse(&r.body).into_owned().collect()
}

#[tokio::test]
async fn only_the_body_success_acknowledges_and_each_attempt_is_signed_afresh() {
    // Arrange: the merchant answers 200 "OK" once (a classic mistake), then "success".
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/notify/gateway"))
        .respond_with(ResponseTemplate::new(200).set_body_string("OK"))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/notify/gateway"))
        .respond_with(ResponseTemplate::new(200).set_body_string("success"))
        .with_priority(2)
        .mount(&server)
        .await;
    let url = format!("{}/notify/gateway", server.uri());
    let d = Dispatcher::start(
        config(Some(url), WebhookChaos::default()),
        CancellationToken::new(),
    );

    // Act
    d.enqueue(notification(None));
    until_idle(&d).await;

    // Assert: the "OK" counts as a failure (no status) and is retried.
    let log = d.log();
    assert_eq!(log.len(), 2, "{log:#?}");
    assert_eq!(log[0].status, None);
    assert!(log[0].error.as_deref().unwrap().contains("success"));
    assert!(!log[0].acknowledged());
    assert_eq!((log[1].status, log[1].attempt), (Some(200), 1));
    assert!(log[1].acknowledged());
    assert_eq!(log[1].event_type, "trade_status_sync.TRADE_SUCCESS");
    let reqs = server.received_requests().await.unwrap();
    assert_eq!(reqs.len(), 2);
    for r in &reqs {
        assert!(r.headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/x-www-form-urlencoded"));
        assert_eq!(r.headers["user-agent"], GATEWAY_USER_AGENT);
        assert!(r.headers.get("stripe-signature").is_none());
        let p = params(r);
        assert_eq!(p["notify_id"], NOTIFY_ID);
        assert_eq!(p["sign_type"], "HMAC-SHA256");
        let pairs: Vec<(String, String)> = p.clone().into_iter().collect();
        assert_eq!(signature::gateway_verify(&pairs, SECRET), Ok(()));
        assert_eq!(
            signature::gateway_check_time(&p["notify_time"], now(), 300),
            Ok(())
        );
    }
}

#[tokio::test]
async fn attacker_copies_take_the_gateways_shape() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200).set_body_string("success"))
        .mount(&server)
        .await;
    let chaos = WebhookChaos {
        duplicate: 1.0,
        forged: 1.0,
        stale: 1.0,
        unsigned: 1.0,
        ..WebhookChaos::default()
    };
    let d = Dispatcher::start(
        config(Some(format!("{}/n", server.uri())), chaos),
        CancellationToken::new(),
    );

    d.enqueue(notification(None));
    until_idle(&d).await;

    let reqs = server.received_requests().await.unwrap();
    assert_eq!(reqs.len(), 5, "genuine, duplicate, forged, stale, unsigned");
    let by_kind = |pred: &dyn Fn(&BTreeMap<String, String>) -> bool| {
        reqs.iter()
            .map(params)
            .filter(|p| pred(p))
            .collect::<Vec<_>>()
    };
    let verifies = |p: &BTreeMap<String, String>| {
        let pairs: Vec<(String, String)> = p.clone().into_iter().collect();
        signature::gateway_verify(&pairs, SECRET).is_ok()
    };
    let forged = by_kind(&|p| p["notify_id"] == "ntf_forged_00000000000000aa");
    assert_eq!(forged.len(), 1);
    assert_eq!(forged[0]["total_amount"], "12.35");
    assert!(!verifies(&forged[0]), "signed with another key");
    let unsigned = by_kind(&|p| p["notify_id"] == "ntf_unsigned_00000000000000aa");
    assert_eq!(unsigned.len(), 1);
    assert!(!unsigned[0].contains_key("sign") && !unsigned[0].contains_key("sign_type"));
    let genuine = by_kind(&|p| p["notify_id"] == NOTIFY_ID);
    assert_eq!(genuine.len(), 3, "genuine, duplicate, stale");
    assert!(genuine.iter().all(verifies), "right key for all three");
    let stale: Vec<_> = genuine
        .iter()
        .filter(|p| signature::gateway_check_time(&p["notify_time"], now(), 300).is_err())
        .collect();
    assert_eq!(stale.len(), 1, "one copy is 600 s old");
    let log = d.log();
    assert_eq!(
        log.iter()
            .map(|a| (a.duplicate, a.forged, a.stale, a.unsigned))
            .filter(|f| *f != (false, false, false, false))
            .count(),
        4
    );
}

#[tokio::test]
async fn a_trades_notify_url_wins_over_the_configured_one() {
    let configured = MockServer::start().await;
    let own = MockServer::start().await;
    for s in [&configured, &own] {
        Mock::given(method("POST"))
            .and(body_string_contains("notify_id"))
            .respond_with(ResponseTemplate::new(200).set_body_string("success"))
            .mount(s)
            .await;
    }
    let d = Dispatcher::start(
        config(Some(configured.uri()), WebhookChaos::default()),
        CancellationToken::new(),
    );
    d.enqueue(notification(Some(format!("{}/mine", own.uri()))));
    until_idle(&d).await;
    assert_eq!(configured.received_requests().await.unwrap().len(), 0);
    let got = own.received_requests().await.unwrap();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].url.path(), "/mine");

    // Without a configured URL, an event with its own is still delivered.
    let alone = Dispatcher::start(
        config(None, WebhookChaos::default()),
        CancellationToken::new(),
    );
    alone.enqueue(notification(Some(format!("{}/mine", own.uri()))));
    until_idle(&alone).await;
    assert_eq!(alone.log().len(), 1);
    assert!(alone.log()[0].acknowledged());
}
