//! The provider under abuse, over loopback (#11): thousands of idle connections do not stop
//! it answering, and a trickled body is cut off without a charge. What the limits do in
//! general is tested in `net`; these show them in force on the provider.

use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_util::sync::CancellationToken;

use crate::chaos::{Chaos, FaultPlan, WebhookChaos};
use crate::net::ServerLimits;
use crate::provider::{serve_with, ProviderConfig, ProviderHandle, ServeOptions};
use crate::scenario::Dialect;

/// Long enough never to be reached on a busy machine; only a hang reaches it.
const GUARD: Duration = Duration::from_secs(60);

async fn start(limits: ServerLimits) -> (ProviderHandle, CancellationToken) {
    let listener = crate::net::listen("127.0.0.1:0".parse().unwrap()).unwrap();
    let cfg = ProviderConfig {
        chaos: Chaos::new(5, FaultPlan::default(), WebhookChaos::default()),
        dialect: Dialect::Stripe,
        hold: Duration::from_millis(50),
        webhook_url: None,
        webhook_secret: "whsec_test".into(),
        webhook_retry: vec![],
        webhook_timeout: Duration::from_secs(1),
        origin: Instant::now(),
        expected_orders: 0,
        retain: None,
        max_in_flight: crate::scenario::defaults::PROVIDER_MAX_IN_FLIGHT.get(),
        velocity: None,
        replica: None,
        challenge: Default::default(),
    };
    let shutdown = CancellationToken::new();
    let opts = ServeOptions {
        limits,
        ..ServeOptions::default()
    };
    (serve_with(listener, cfg, opts, shutdown.clone()), shutdown)
}

fn charge_request(order: &str) -> Vec<u8> {
    let body = format!(
        "amount=1000&currency=usd&payment_method=pm_card_visa&confirm=true&metadata[order_id]={order}"
    );
    format!(
        "POST /v1/payment_intents HTTP/1.1\r\nhost: t\r\nauthorization: Bearer sk_test_x\r\n\
         content-type: application/x-www-form-urlencoded\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

/// Sends `request` and reads up to the end of the status line; `None` if the connection
/// closed first.
async fn status_line(stream: &mut TcpStream, request: &[u8]) -> Option<String> {
    stream.write_all(request).await.ok()?;
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    let read = tokio::time::timeout(GUARD, async {
        loop {
            let n = stream.read(&mut buf).await.ok()?;
            if n == 0 {
                return None;
            }
            got.extend_from_slice(&buf[..n]);
            if let Some(end) = got.windows(2).position(|w| w == b"\r\n") {
                return Some(String::from_utf8_lossy(&got[..end]).into_owned());
            }
        }
    });
    read.await.expect("an answer or a close, not a hang")
}

#[tokio::test]
async fn keeps_answering_while_5000_idle_connections_are_open() {
    // Arrange: timeouts beyond the test's length, so the idle connections stay open.
    let (h, shutdown) = start(ServerLimits {
        header_timeout: Duration::from_secs(600),
        idle_timeout: Duration::from_secs(600),
        ..ServerLimits::DEFAULT
    })
    .await;
    let addr = h.addr();
    let mut idle = Vec::with_capacity(5000);
    for i in 0..5000 {
        let c = TcpStream::connect(addr).await.unwrap_or_else(|e| {
            panic!("idle connection {i}: {e} (this test needs `ulimit -n` of 10 500 or more)")
        });
        idle.push(c);
    }

    // Act: a normal charge on a connection of its own.
    let mut normal = TcpStream::connect(addr).await.unwrap();
    let answered = status_line(&mut normal, &charge_request("ord-normal")).await;

    // Assert: answered; the first and the last idle connections were accepted and still
    // serve; shutdown closes all of them.
    assert_eq!(answered.as_deref(), Some("HTTP/1.1 200 OK"));
    for (n, i) in [(0, 0), (1, 4999)] {
        let order = format!("ord-idle-{n}");
        let answer = status_line(&mut idle[i], &charge_request(&order)).await;
        assert_eq!(
            answer.as_deref(),
            Some("HTTP/1.1 200 OK"),
            "idle connection {i}"
        );
    }
    assert_eq!(h.ledger().len(), 3);
    shutdown.cancel();
    tokio::time::timeout(GUARD, h.stopped())
        .await
        .expect("the provider stops with 5 000 idle connections open");
}

#[tokio::test]
async fn a_trickled_charge_is_cut_off_unanswered_and_charges_nothing() {
    // Arrange
    let (h, shutdown) = start(ServerLimits {
        body_timeout: Duration::from_millis(300),
        ..ServerLimits::DEFAULT
    })
    .await;
    let mut conn = TcpStream::connect(h.addr()).await.unwrap();
    conn.write_all(
        b"POST /v1/payment_intents HTTP/1.1\r\nhost: t\r\nauthorization: Bearer sk_test_x\r\n\
          content-type: application/x-www-form-urlencoded\r\ntransfer-encoding: chunked\r\n\r\n",
    )
    .await
    .unwrap();

    // Act: a byte of the form every 50 ms, for as long as the provider takes them.
    let mut got = Vec::new();
    let mut buf = [0u8; 1024];
    let ended = tokio::time::timeout(GUARD, async {
        let mut tick = tokio::time::interval(Duration::from_millis(50));
        loop {
            tokio::select! {
                r = conn.read(&mut buf) => match r {
                    Ok(0) | Err(_) => return,
                    Ok(n) => got.extend_from_slice(&buf[..n]),
                },
                _ = tick.tick() => {
                    let _ = conn.write_all(b"1\r\na\r\n").await;
                }
            }
        }
    })
    .await;

    // Assert: closed without an answer, and nothing reached the ledger.
    assert!(ended.is_ok(), "the trickle was never cut off");
    assert!(got.is_empty(), "{}", String::from_utf8_lossy(&got));
    assert!(h.ledger().is_empty());
    shutdown.cancel();
    h.stopped().await;
}
