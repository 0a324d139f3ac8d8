//! The provider's test kit. [`Harness`]: a provider on 127.0.0.1:0 for the loopback tests,
//! holds of 50 ms (or longer, [`Harness::start_holding`]), no webhook URL, stopped with
//! [`Harness::stop`]; each test file picks its seed and dialect. [`send_raw`]: one request on
//! a fresh connection. [`Bench`]: the state under the lock, driven without a server.
//! [`order_hit_first`] and [`STICKY_DECLINES`]: where and which faults the tests meet.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::header::HeaderMap;
use hyper::Request;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::chaos::{Chaos, FaultKind, FaultPlan, Rates, WebhookChaos};
use crate::domain::{AttemptResult, FailReason, LedgerEntry, PaymentOp};
use crate::provider::dialects::{stripe, Route};
use crate::provider::exec::{Ctx, Plan, Reply, State};
use crate::provider::{serve, ProviderConfig, ProviderHandle};
use crate::scenario::Dialect;

pub(in crate::provider) struct Harness {
    pub handle: ProviderHandle,
    pub shutdown: CancellationToken,
    pub chaos: Chaos,
}

impl Harness {
    /// Serves `plan` under `seed` in `dialect`, signing with `secret`.
    pub async fn start(seed: u64, plan: FaultPlan, dialect: Dialect, secret: &str) -> Harness {
        Harness::start_holding(seed, plan, dialect, secret, Duration::from_millis(50)).await
    }

    /// The same with timeout faults held for `hold`.
    pub async fn start_holding(
        seed: u64,
        plan: FaultPlan,
        dialect: Dialect,
        secret: &str,
        hold: Duration,
    ) -> Harness {
        Harness::start_config(config(seed, plan, dialect, secret, hold)).await
    }

    /// Serves `cfg` (see [`config`]).
    pub async fn start_config(cfg: ProviderConfig) -> Harness {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let chaos = cfg.chaos.clone();
        let shutdown = CancellationToken::new();
        let handle = serve(listener, cfg, shutdown.clone());
        Harness {
            handle,
            shutdown,
            chaos,
        }
    }

    /// Resolves once a late charge is waiting to execute (the provider is no longer idle).
    pub async fn late_charge_pending(&self) {
        while self.handle.idle() {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    }

    /// Resolves once nothing is left to happen on the provider's side.
    pub async fn until_idle(&self) {
        while !self.handle.idle() {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    /// The refunds in the ledger: `(result, money moved, amount)` in record order.
    pub fn refunds(&self) -> Vec<(AttemptResult, bool, u64)> {
        self.handle
            .ledger()
            .iter()
            .filter(|e| e.op == PaymentOp::Refund)
            .map(|e| (e.result, e.money_moved, e.amount))
            .collect()
    }

    /// Cancels the shutdown token and waits for every task to end.
    pub async fn stop(self) {
        self.shutdown.cancel();
        self.handle.stopped().await;
    }
}

/// The test kit's provider: `plan` under `seed` in `dialect`, signing with `secret`, timeout
/// faults held for `hold`, no webhook URL, the default in-flight cap.
pub(in crate::provider) fn config(
    seed: u64,
    plan: FaultPlan,
    dialect: Dialect,
    secret: &str,
    hold: Duration,
) -> ProviderConfig {
    ProviderConfig {
        chaos: Chaos::new(seed, plan, WebhookChaos::default()),
        dialect,
        hold,
        webhook_url: None,
        webhook_secret: secret.into(),
        webhook_retry: vec![],
        webhook_timeout: Duration::from_secs(1),
        origin: Instant::now(),
        expected_orders: 0,
        retain: None,
        max_in_flight: crate::scenario::defaults::PROVIDER_MAX_IN_FLIGHT.get(),
        velocity: None,
        replica: None,
        challenge: Default::default(),
    }
}

/// The faults that decline every attempt of an order, with the reason they record.
pub(in crate::provider) const STICKY_DECLINES: [(FaultKind, FailReason); 2] = [
    (FaultKind::InsufficientFunds, FailReason::InsufficientFunds),
    (FaultKind::RiskBlock, FailReason::RiskBlocked),
];

/// The first order (from `ord-000000`) whose attempt 0 meets `fault` and whose next `clean`
/// attempts meet none.
pub(in crate::provider) fn order_hit_first(c: &Chaos, fault: FaultKind, clean: u32) -> String {
    (0..100_000)
        .map(|i| format!("ord-{i:06}"))
        .find(|o| {
            c.attempt(o, 0, Duration::ZERO) == Some(fault)
                && (1..=clean).all(|n| c.attempt(o, n, Duration::ZERO).is_none())
        })
        .expect("some order is hit on attempt 0 only")
}

/// An answer as a bare client sees it.
pub(in crate::provider) struct Raw {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Bytes,
}

/// Sends one request on a fresh connection, so that a dropped answer closes only its own;
/// `Err` when the connection ends without an answer.
pub(in crate::provider) async fn send_raw(
    addr: SocketAddr,
    method: &str,
    path: &str,
    body: &str,
    headers: &[(&str, &str)],
) -> Result<Raw, hyper::Error> {
    let stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .unwrap();
    tokio::spawn(conn);
    let mut req = Request::builder().method(method).uri(path);
    // A loopback Host unless the test sends its own (the control API checks it).
    if !headers.iter().any(|(k, _)| k.eq_ignore_ascii_case("host")) {
        req = req.header("host", "127.0.0.1");
    }
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let req = req.body(Full::new(Bytes::from(body.to_string()))).unwrap();
    let resp = sender.send_request(req).await?;
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    let body = resp.into_body().collect().await?.to_bytes();
    Ok(Raw {
        status,
        headers,
        body,
    })
}

/// The provider's state under the lock with chaos of `rates` (seed 42), driven by Stripe
/// requests decoded as the server would, at 5 ms of run time.
pub(in crate::provider) struct Bench {
    pub chaos: Chaos,
    pub state: State,
    /// The `faults.requires_action` rate and challenge expiry (none by default).
    pub challenge: crate::provider::challenge::ChallengeConfig,
}

impl Bench {
    pub fn new(rates: Rates) -> Bench {
        let plan = FaultPlan {
            rates,
            ..FaultPlan::default()
        };
        Bench {
            chaos: Chaos::new(42, plan, WebhookChaos::default()),
            state: State::new(),
            challenge: Default::default(),
        }
    }

    /// Decodes and applies one request.
    pub fn run(&mut self, route: Route, path: &str, body: &str, key: Option<&str>) -> Plan {
        let query = (!route.is_write()).then_some(body);
        let decoded = stripe::decode(&route, path, query, body.as_bytes()).expect("valid request");
        let ctx = Ctx {
            chaos: &self.chaos,
            dialect: &stripe::Stripe,
            at: Duration::from_millis(5),
            unix: 1_800_000_000,
            base: "http://127.0.0.1:1",
            challenge: self.challenge,
        };
        self.state.apply(&ctx, decoded, key)
    }

    /// Create-and-confirm of 1000 usd with a Visa for `order`.
    pub fn charge(&mut self, order: &str, key: Option<&str>) -> Plan {
        let body = format!(
            "amount=1000&currency=usd&payment_method=pm_card_visa&confirm=true&metadata[order_id]={order}"
        );
        self.run(Route::CreateIntent, "/v1/payment_intents", &body, key)
    }

    /// A payment intent created (and confirmed, when `body` says so) from a form `body`.
    pub fn create(&mut self, body: &str, key: &str) -> Plan {
        self.run(Route::CreateIntent, "/v1/payment_intents", body, Some(key))
    }

    /// Create-and-confirm of 1000 usd with `pm` for `order` (no order when empty).
    pub fn pay(&mut self, pm: &str, order: &str, key: &str) -> Plan {
        let mut body = format!("amount=1000&currency=usd&payment_method={pm}&confirm=true");
        if !order.is_empty() {
            body.push_str(&format!("&metadata[order_id]={order}"));
        }
        self.create(&body, key)
    }

    /// `action` (capture, cancel, confirm; anything else updates) on intent `id`.
    pub fn on(&mut self, id: &str, action: &str, body: &str, key: &str) -> Plan {
        let (route, path) = match action {
            "capture" => (
                Route::CaptureIntent(id.into()),
                format!("/v1/payment_intents/{id}/capture"),
            ),
            "cancel" => (
                Route::CancelIntent(id.into()),
                format!("/v1/payment_intents/{id}/cancel"),
            ),
            "confirm" => (
                Route::ConfirmIntent(id.into()),
                format!("/v1/payment_intents/{id}/confirm"),
            ),
            _ => (
                Route::UpdateIntent(id.into()),
                format!("/v1/payment_intents/{id}"),
            ),
        };
        self.run(route, &path, body, Some(key))
    }

    /// The intents whose `metadata[order_id]` is `order`.
    pub fn search(&mut self, order: &str) -> Plan {
        let q = format!("query=metadata['order_id']:'{order}'");
        self.run(Route::SearchIntents, "/v1/payment_intents/search", &q, None)
    }

    /// A refund of `pi` (of `amount`, or what is left).
    pub fn refund(&mut self, pi: &str, amount: Option<u64>, key: &str) -> Plan {
        let mut body = format!("payment_intent={pi}");
        if let Some(a) = amount {
            body.push_str(&format!("&amount={a}"));
        }
        self.refund_form(&body, key)
    }

    /// A refund from a form `body`.
    pub fn refund_form(&mut self, body: &str, key: &str) -> Plan {
        self.run(Route::CreateRefund, "/v1/refunds", body, Some(key))
    }

    /// What the server does after the latency: save the rendered answer.
    pub fn save(&mut self, plan: &Plan) {
        if let (Some(k), Reply::Fresh(a)) = (&plan.save, &plan.reply) {
            let (r, _) = stripe::render(a, None);
            assert!(self.state.keys.complete(k, r.status, r.body));
        }
    }

    pub fn last(&self) -> &LedgerEntry {
        self.state.ledger.entries().last().expect("an entry")
    }
}
