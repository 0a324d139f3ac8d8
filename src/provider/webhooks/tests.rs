//! Dispatcher behaviour against a wiremock merchant endpoint on 127.0.0.1: retries, fresh
//! signatures, duplicate, forged, stale and unsigned deliveries, dropped first attempts,
//! reordering, timeouts, delay, shutdown and `url: None`.

mod gateway;

use std::time::{Duration, Instant};

use bytes::Bytes;
use serde_json::Value;
use tokio_util::sync::CancellationToken;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

use super::*;
use crate::chaos::{Chaos, FaultPlan, Latency, WebhookChaos};
use crate::signature;

const SECRET: &str = "whsec_test_endpoint";
const EVENT_ID: &str = "evt_0123abcd";

/// Matches requests whose `Stripe-Signature` verifies under the endpoint's secret.
struct SignedWith(&'static str);

impl wiremock::Match for SignedWith {
    fn matches(&self, req: &Request) -> bool {
        verifies(req, self.0)
    }
}

fn verifies(req: &Request, secret: &str) -> bool {
    req.headers
        .get("Stripe-Signature")
        .and_then(|h| h.to_str().ok())
        .is_some_and(|h| signature::verify(h, &req.body, secret, now(), 300).is_ok())
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

fn event() -> Event {
    let body = format!(
        r#"{{"id":"{EVENT_ID}","object":"event","type":"payment_intent.succeeded","data":{{"object":{{"id":"pi_1","object":"payment_intent","amount":1234,"currency":"usd","metadata":{{"order_id":"ord-000001"}}}}}}}}"#
    );
    Event {
        id: EVENT_ID.into(),
        event_type: "payment_intent.succeeded".into(),
        order_id: Some("ord-000001".into()),
        payment_id: Some("pi_1".into()),
        body: Bytes::from(body),
        format: Format::Stripe,
        url: None,
        chaos_key: None,
    }
}

/// Chaos that always applies the given webhook faults (rate 1.0) or never (0.0).
fn chaos(delay: Option<Duration>, duplicate: bool, forged: bool) -> Chaos {
    let rate = |on: bool| if on { 1.0 } else { 0.0 };
    Chaos::new(
        7,
        FaultPlan::default(),
        WebhookChaos {
            delay: rate(delay.is_some()),
            delay_latency: delay.map(|value| Latency::Fixed { value }),
            duplicate: rate(duplicate),
            forged: rate(forged),
            ..WebhookChaos::default()
        },
    )
}

/// Defaults: two 10 ms retries, a 2 s timeout, no chaos.
fn config(url: Option<String>) -> WebhookConfig {
    WebhookConfig {
        url: url.map(|u| format!("{u}/webhooks/stripe")),
        secret: SECRET.into(),
        retry: vec![Duration::from_millis(10); 2],
        timeout: Duration::from_secs(2),
        origin: Instant::now(),
        chaos: chaos(None, false, false),
        keep_attempts: None,
    }
}

/// Waits (bounded) until the dispatcher reports idle.
async fn until_idle(d: &Dispatcher) {
    for _ in 0..1000 {
        if d.idle() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    panic!("dispatcher not idle after 5 s: {:#?}", d.log());
}

/// Delivers one [`event`] under `cfg` until the dispatcher is idle; returns the log.
async fn deliver(cfg: WebhookConfig) -> Vec<WebhookAttempt> {
    let d = Dispatcher::start(cfg, CancellationToken::new());
    d.enqueue(event());
    until_idle(&d).await;
    d.log()
}

/// A merchant endpoint that answers 500 to every delivery and expects `n` of them.
async fn failing_endpoint(n: u64) -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(500))
        .expect(n)
        .mount(&server)
        .await;
    server
}

fn statuses(log: &[WebhookAttempt]) -> Vec<Option<u16>> {
    log.iter().map(|a| a.status).collect()
}

#[tokio::test]
async fn a_500_is_retried_with_a_fresh_valid_signature_of_the_same_body() {
    // Arrange: the endpoint fails the first signed delivery, then accepts.
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/webhooks/stripe"))
        .and(SignedWith(SECRET))
        .respond_with(ResponseTemplate::new(500))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/webhooks/stripe"))
        .and(SignedWith(SECRET))
        .respond_with(ResponseTemplate::new(200))
        .with_priority(2)
        .mount(&server)
        .await;
    let d = Dispatcher::start(config(Some(server.uri())), CancellationToken::new());

    // Act
    d.enqueue(event());
    assert!(!d.idle(), "pending as soon as enqueued");
    until_idle(&d).await;

    // Assert: two attempts, logged in order, with the event's identity.
    let log = d.log();
    assert_eq!(statuses(&log), vec![Some(500), Some(200)]);
    for (i, a) in log.iter().enumerate() {
        assert_eq!(a.attempt, i as u32);
        assert_eq!(a.event_id, EVENT_ID);
        assert_eq!(a.event_type, "payment_intent.succeeded");
        assert_eq!(a.order_id.as_deref(), Some("ord-000001"));
        assert_eq!(a.payment_id.as_deref(), Some("pi_1"));
        assert!(!a.duplicate && !a.forged && a.error.is_none());
        assert_eq!(a.delay_ms, 0);
    }
    assert!(log[0].at_ms <= log[1].at_ms);
    assert!(log[1].acknowledged());
    assert_eq!(d.created(), 1);

    // The merchant saw the exact bytes twice, each with a verifying signature and headers.
    let reqs = server.received_requests().await.unwrap();
    assert_eq!(reqs.len(), 2);
    for r in &reqs {
        assert_eq!(r.body, event().body.to_vec());
        assert!(verifies(r, SECRET));
        assert_eq!(r.headers["content-type"], "application/json");
        assert_eq!(r.headers["user-agent"], STRIPE_USER_AGENT);
    }
}

#[tokio::test]
async fn a_duplicate_is_a_second_genuine_delivery_of_the_same_event() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(SignedWith(SECRET))
        .respond_with(ResponseTemplate::new(200))
        .mount(&server)
        .await;
    let mut cfg = config(Some(server.uri()));
    cfg.chaos = chaos(None, true, false);
    let log = deliver(cfg).await;
    assert_eq!(log.len(), 2, "{log:#?}");
    // The duplicate starts only after the genuine first attempt, so it is logged second.
    assert!(!log[0].duplicate && log[1].duplicate);
    for a in &log {
        assert_eq!(a.event_id, EVENT_ID);
        assert_eq!(a.attempt, 0);
        assert_eq!(a.status, Some(200));
        assert!(!a.forged);
    }
    let reqs = server.received_requests().await.unwrap();
    assert_eq!(reqs.len(), 2);
    assert!(reqs.iter().all(|r| r.body == event().body.to_vec()));
}

#[tokio::test]
async fn chaos_decides_an_event_by_its_chaos_key_when_it_has_one() {
    // Arrange: half the events are duplicated; one key that is, one id that is not.
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200))
        .mount(&server)
        .await;
    let mut cfg = config(Some(server.uri()));
    cfg.chaos.webhooks.duplicate = 0.5;
    let duplicated = |id: &str| cfg.chaos.webhook(id).duplicate;
    let key = (0..100)
        .map(|i| format!("evt_key{i}"))
        .find(|k| duplicated(k))
        .unwrap();
    let id = (0..100)
        .map(|i| format!("evt_id{i}"))
        .find(|k| !duplicated(k))
        .unwrap();
    let d = Dispatcher::start(cfg, CancellationToken::new());

    // Act
    d.enqueue(Event {
        id: id.clone(),
        chaos_key: Some(key),
        ..event()
    });
    until_idle(&d).await;

    // Assert: duplicated as the key decides, logged under the event's own id.
    let log = d.log();
    assert_eq!(log.len(), 2, "{log:#?}");
    assert!(log[1].duplicate);
    assert!(log.iter().all(|a| a.event_id == id));
}

#[tokio::test]
async fn a_duplicate_has_retries_of_its_own() {
    // Every attempt fails, so each delivery runs its whole schedule on its own.
    let server = failing_endpoint(4).await;
    let mut cfg = config(Some(server.uri()));
    cfg.retry = vec![Duration::from_millis(5)];
    cfg.chaos = chaos(None, true, false);
    let log = deliver(cfg).await;
    let of = |dup: bool| -> Vec<(u32, Option<u16>)> {
        log.iter()
            .filter(|a| a.duplicate == dup)
            .map(|a| (a.attempt, a.status))
            .collect()
    };
    assert_eq!(of(false), vec![(0, Some(500)), (1, Some(500))]);
    assert_eq!(of(true), vec![(0, Some(500)), (1, Some(500))]);
    server.verify().await;
}

#[tokio::test]
async fn a_forgery_is_sent_once_with_a_new_id_a_raised_amount_and_a_bad_signature() {
    // Arrange, act: genuine signatures get 200; anything else 400.
    let (server, log) = deliver_to_careful_merchant(WebhookChaos {
        forged: 1.0,
        ..WebhookChaos::default()
    })
    .await;

    // Assert: the genuine delivery first, then one forged attempt, not retried despite the 400.
    assert_eq!(log.len(), 2, "{log:#?}");
    assert_eq!(
        (log[0].event_id.as_str(), log[0].forged, log[0].status),
        (EVENT_ID, false, Some(200))
    );
    let forged = &log[1];
    assert!(forged.forged && !forged.duplicate);
    assert_eq!(forged.event_id, "evt_forged_0123abcd");
    assert_eq!(forged.attempt, 0);
    assert_eq!(forged.status, Some(400));
    assert_eq!(forged.order_id.as_deref(), Some("ord-000001"));

    let reqs = server.received_requests().await.unwrap();
    assert_eq!(reqs.len(), 2);
    let fake = reqs
        .iter()
        .find(|r| r.body != event().body.to_vec())
        .unwrap();
    assert!(!verifies(fake, SECRET), "forged signature must not verify");
    let json: Value = serde_json::from_slice(&fake.body).unwrap();
    assert_eq!(json["id"], "evt_forged_0123abcd");
    assert_eq!(json["type"], "payment_intent.succeeded");
    assert_eq!(json["data"]["object"]["amount"], 1235);
    assert_eq!(json["data"]["object"]["id"], "pi_1");
}

#[tokio::test]
async fn retries_stop_when_the_schedule_is_exhausted() {
    let server = failing_endpoint(4).await;
    let mut cfg = config(Some(server.uri()));
    cfg.retry = vec![Duration::from_millis(5); 3];
    let log = deliver(cfg).await;
    assert_eq!(statuses(&log), vec![Some(500); 4]);
    assert_eq!(
        log.iter().map(|a| a.attempt).collect::<Vec<_>>(),
        vec![0, 1, 2, 3]
    );
    server.verify().await;
}

#[tokio::test]
async fn no_answer_within_the_timeout_is_a_failure_and_is_retried() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200).set_delay(Duration::from_secs(5)))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200))
        .with_priority(2)
        .mount(&server)
        .await;
    let mut cfg = config(Some(server.uri()));
    cfg.timeout = Duration::from_millis(100);
    let log = deliver(cfg).await;
    assert_eq!(statuses(&log), vec![None, Some(200)]);
    let err = log[0].error.as_deref().unwrap();
    assert!(err.contains("timed out"), "{err}");
    assert!(!log[0].acknowledged());
}

#[tokio::test]
async fn a_refused_connection_is_a_failure_on_every_attempt() {
    // A port that was just free: nothing listens there.
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let log = deliver(config(Some(format!("http://127.0.0.1:{port}")))).await;
    assert_eq!(log.len(), 3, "1 attempt + 2 retries: {log:#?}");
    for a in &log {
        assert_eq!(a.status, None);
        assert!(a.error.as_deref().unwrap().contains("connection"));
    }
}

#[tokio::test]
async fn the_chaos_delay_is_waited_and_recorded() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200))
        .mount(&server)
        .await;
    let mut cfg = config(Some(server.uri()));
    cfg.chaos = chaos(Some(Duration::from_millis(80)), false, false);
    let log = deliver(cfg).await;
    assert_eq!(log.len(), 1);
    assert_eq!(log[0].delay_ms, 80);
    // The send time is after the delay: a sleep never ends early, so this cannot flake.
    assert!(log[0].at_ms >= 80, "sent at {} ms", log[0].at_ms);
}

#[tokio::test]
async fn without_a_url_events_are_counted_and_nothing_is_sent() {
    let d = Dispatcher::start(config(None), CancellationToken::new());
    for _ in 0..3 {
        d.enqueue(event());
    }
    assert_eq!(d.created(), 3);
    assert!(d.idle());
    assert!(d.log().is_empty());
}

#[tokio::test]
async fn shutdown_ends_a_delivery_waiting_for_a_retry() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(500))
        .mount(&server)
        .await;
    let mut cfg = config(Some(server.uri()));
    cfg.retry = vec![Duration::from_secs(3600)];
    let shutdown = CancellationToken::new();
    let d = Dispatcher::start(cfg, shutdown.clone());

    d.enqueue(event());
    for _ in 0..1000 {
        if !d.log().is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert_eq!(statuses(&d.log()), vec![Some(500)]);
    assert!(!d.idle(), "the hour-long retry is still scheduled");

    shutdown.cancel();
    until_idle(&d).await;
    assert_eq!(d.log().len(), 1, "no retry after shutdown");
}

#[tokio::test]
async fn shutdown_ends_a_delayed_event_before_any_attempt() {
    let server = MockServer::start().await;
    let mut cfg = config(Some(server.uri()));
    cfg.chaos = chaos(Some(Duration::from_secs(3600)), true, true);
    let shutdown = CancellationToken::new();
    let d = Dispatcher::start(cfg, shutdown.clone());

    d.enqueue(event());
    assert!(!d.idle());
    shutdown.cancel();
    until_idle(&d).await;

    assert!(d.log().is_empty());
    assert!(server.received_requests().await.unwrap().is_empty());
    // Events after shutdown are still counted, and not delivered.
    d.enqueue(event());
    assert_eq!(d.created(), 2);
    assert!(d.idle());
}

#[tokio::test]
async fn shutdown_ends_an_attempt_in_flight() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200).set_delay(Duration::from_secs(3600)))
        .mount(&server)
        .await;
    let mut cfg = config(Some(server.uri()));
    cfg.timeout = Duration::from_secs(3600);
    let shutdown = CancellationToken::new();
    let d = Dispatcher::start(cfg, shutdown.clone());

    d.enqueue(event());
    // Wait until the merchant has the request, so the attempt is really in flight.
    for _ in 0..1000 {
        if !server.received_requests().await.unwrap().is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    shutdown.cancel();
    until_idle(&d).await;

    let log = d.log();
    assert_eq!(log.len(), 1);
    assert_eq!(log[0].status, None);
    assert!(log[0].error.as_deref().unwrap().contains("shutdown"));
}

#[tokio::test]
async fn an_unusable_url_fails_every_attempt_with_its_reason() {
    let mut cfg = config(None);
    cfg.url = Some("http://10.1.2.3:80/hook".into());
    let log = deliver(cfg).await;
    assert_eq!(log.len(), 3);
    assert!(log
        .iter()
        .all(|a| a.status.is_none() && a.error.as_deref().unwrap().contains("not loopback")));
}

/// Only the given new chaos, at rate 1.0.
fn chaos_with(w: WebhookChaos) -> Chaos {
    Chaos::new(7, FaultPlan::default(), w)
}

/// Accepts deliveries signed with the endpoint's secret within the tolerance; 400 otherwise.
async fn careful_merchant() -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(SignedWith(SECRET))
        .respond_with(ResponseTemplate::new(200))
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(400))
        .with_priority(2)
        .mount(&server)
        .await;
    server
}

/// Delivers one [`event`] under `w` to a [`careful_merchant`]; returns it and the log.
async fn deliver_to_careful_merchant(w: WebhookChaos) -> (MockServer, Vec<WebhookAttempt>) {
    let server = careful_merchant().await;
    let mut cfg = config(Some(server.uri()));
    cfg.chaos = chaos_with(w);
    (server, deliver(cfg).await)
}

#[tokio::test]
async fn dropped_first_attempts_are_logged_unsent_and_the_retry_delivers() {
    let (server, log) = deliver_to_careful_merchant(WebhookChaos {
        drop_first: 1.0,
        drop_attempts: 2,
        ..WebhookChaos::default()
    })
    .await;

    assert_eq!(statuses(&log), vec![None, None, Some(200)]);
    assert!(log[0].dropped && log[1].dropped && !log[2].dropped);
    assert_eq!(log[0].error.as_deref(), Some(DROPPED));
    assert_eq!(log[2].attempt, 2);
    assert_eq!(server.received_requests().await.unwrap().len(), 1);
}

#[tokio::test]
async fn stale_and_unsigned_copies_are_sent_once_and_refused_by_a_careful_merchant() {
    let (server, log) = deliver_to_careful_merchant(WebhookChaos {
        stale: 1.0,
        unsigned: 1.0,
        ..WebhookChaos::default()
    })
    .await;

    assert_eq!(log.len(), 3, "{log:#?}");
    let genuine = log.iter().find(|a| !a.is_attack()).unwrap();
    assert_eq!(genuine.status, Some(200));
    let stale = log.iter().find(|a| a.stale).unwrap();
    assert_eq!(
        (stale.event_id.as_str(), stale.status),
        (EVENT_ID, Some(400))
    );
    let unsigned = log.iter().find(|a| a.unsigned).unwrap();
    assert_eq!(unsigned.event_id, "evt_unsigned_0123abcd");
    assert_eq!(unsigned.status, Some(400));

    let reqs = server.received_requests().await.unwrap();
    assert_eq!(reqs.len(), 3);
    let no_sig: Vec<_> = reqs
        .iter()
        .filter(|r| !r.headers.contains_key("stripe-signature"))
        .collect();
    assert_eq!(no_sig.len(), 1, "only the unsigned copy lacks the header");
    // The stale replay is the genuine body under the right secret, only too old.
    let replay = reqs
        .iter()
        .filter(|r| r.body == event().body.to_vec())
        .find(|r| !verifies(r, SECRET))
        .expect("a stale replay of the genuine body");
    let h = replay.headers["stripe-signature"].to_str().unwrap();
    assert!(signature::verify(h, &replay.body, SECRET, now(), 0).is_ok());
    let t: i64 = h[2..h.find(',').unwrap()].parse().unwrap();
    assert!(now() - t >= STALE_AGE_S - 5, "signed {} s ago", now() - t);
}

#[tokio::test]
async fn a_reordered_event_goes_out_after_the_later_event_of_its_payment() {
    let server = careful_merchant().await;
    let mut cfg = config(Some(server.uri()));
    cfg.chaos = chaos_with(WebhookChaos {
        reorder: 1.0,
        ..WebhookChaos::default()
    });
    let d = Dispatcher::start(cfg, CancellationToken::new());
    let failed = Event {
        id: "evt_failed".into(),
        event_type: "payment_intent.payment_failed".into(),
        body: Bytes::from(event().body.to_vec()),
        ..event()
    };
    let succeeded = Event {
        id: "evt_ok".into(),
        ..event()
    };

    // Act: the failure happened first, the success after it.
    d.enqueue(failed);
    d.enqueue(succeeded);
    until_idle(&d).await;

    // Assert: the success reached the merchant first; only the failure counts as reordered.
    let log = d.log();
    let ids: Vec<&str> = log.iter().map(|a| a.event_id.as_str()).collect();
    assert_eq!(ids, ["evt_ok", "evt_failed"]);
    assert!(log[1].reordered && !log[0].reordered);
    assert!(log.iter().all(|a| a.acknowledged()));
}
