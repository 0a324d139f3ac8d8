//! The reference merchant integration: the embedded default system under test.
//! `serve` runs the HTTP server (routes in [`handlers`], the checkout's attempts in
//! [`charge`]) and the [`reconcile`] task over one shared [`store::Store`]; the provider is
//! reached only over HTTP, in the scenario's dialect ([`api`]: Stripe's [`provider_client`]
//! or the [`gateway_client`], whose notifications [`gateway_notify`] receives), over one or
//! more payment channels ([`routing`]: the primary and its backups, each behind a breaker;
//! [`failover`]: when an order may move to a backup). The scenario's [`flaws`](crate::scenario::flaws) plant deliberate bugs on demand. Every task it starts is tracked, so
//! [`MerchantHandle::stopped`] waits for all of them.

pub mod api;
pub mod breaker;
pub mod charge;
pub mod decode;
pub mod failover;
pub mod gateway_client;
pub mod gateway_notify;
pub mod gateway_return;
pub mod handlers;
pub mod monitor;
pub mod provider_client;
pub mod reconcile;
#[cfg(test)]
mod refund_tests;
pub mod returns;
pub mod routing;
pub mod second_attempt;
pub mod store;
pub mod velocity;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use hyper::service::service_fn;
use tokio::net::TcpListener;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::domain::sizing;
use crate::net::{self, ServerLimits};
pub use crate::scenario::BreakerConfig;
use crate::scenario::{Dialect, ReferenceSpec};
use provider_client::RetryPolicy;
pub use routing::BackupChannel;
use store::Store;

/// Where the reference merchant receives Stripe webhooks.
pub const STRIPE_WEBHOOK_PATH: &str = "/webhooks/stripe";
/// Where the reference merchant receives the gateway's notifications.
pub const GATEWAY_NOTIFY_PATH: &str = "/notify/gateway";

/// The path where the reference merchant receives `dialect`'s webhooks.
pub fn webhook_path(dialect: Dialect) -> &'static str {
    match dialect {
        Dialect::Stripe => STRIPE_WEBHOOK_PATH,
        Dialect::Gateway => GATEWAY_NOTIFY_PATH,
    }
}

/// The API key the merchant presents to the provider unless told another.
pub const DEFAULT_API_KEY: &str = "sk_test_paychaos";

/// Everything the reference merchant needs to run: the scenario's `[merchant]` settings and
/// how to reach the provider.
#[derive(Clone, Debug)]
pub struct MerchantConfig {
    /// Timeouts, retries, reconciliation, flaws and breaker, as a scenario gives them.
    pub reference: ReferenceSpec,
    /// Base URL of the provider's API, e.g. `http://127.0.0.1:12111`.
    pub provider_url: String,
    /// The provider API spoken: Stripe's, or the gateway's (which also signs requests with
    /// `webhook_secret` and sends `notify_url` = this merchant's notify route).
    pub dialect: Dialect,
    /// Sent as `Authorization: Bearer …`.
    pub api_key: String,
    /// `whsec_…`, to verify webhook signatures (the gateway's merchant key, too).
    pub webhook_secret: String,
    /// Orders the run plans: the order book is sized for them up front
    /// (`domain::sizing::per_order`), so it does not grow during the load. 0: sized as it fills.
    pub expected_orders: u64,
    /// The merchant's own velocity limits per customer and client address
    /// (`[merchant.velocity]`), checked before the provider is called; `None`: none.
    pub velocity: Option<crate::scenario::card_testers::VelocityRules>,
    /// Its own failure-rate monitor, posting alerts to the run's alert receiver; `None`: off.
    pub monitor: Option<monitor::MonitorConfig>,
    /// Backup providers in failover order (the routing policy: `provider_url` first);
    /// empty for one provider.
    pub backups: Vec<BackupChannel>,
}

/// A running merchant.
pub struct MerchantHandle {
    addr: SocketAddr,
    /// Closes when every tracked task has ended (see [`Tracker`]).
    done: mpsc::Receiver<()>,
    refunding: Arc<AtomicUsize>,
    /// The books themselves (not [`Shared`], whose task tracker would keep `done` open).
    books: Arc<Store>,
}

impl MerchantHandle {
    /// The orders of `order_ids` as `GET /orders` shows them, in that order, read in place:
    /// the run's embedded merchant is read without rendering and parsing a JSON export of
    /// every order. Orders the books do not know are absent.
    pub fn order_snapshots(&self, order_ids: &[String]) -> Vec<crate::domain::OrderSnapshot> {
        self.books.snapshots(order_ids)
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Refunds owed and not yet done (still being retried): while there are any, the
    /// merchant's books are not settled, whatever its orders say.
    pub fn refunds_in_flight(&self) -> usize {
        self.refunding.load(Ordering::Acquire)
    }

    /// Waits until the server, its connections, the reconciler and every checkout and refund
    /// task have ended (after the shutdown token was cancelled).
    pub async fn stopped(mut self) {
        while self.done.recv().await.is_some() {}
    }
}

/// Why the merchant could not start.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error("the merchant's listener has no local address: {0}")]
    Listener(std::io::Error),
    #[error("merchant config: provider_url: {0}")]
    ProviderUrl(net::UrlError),
}

/// Serves the merchant on `listener` until `shutdown` is cancelled. Must be called inside a
/// tokio runtime.
///
/// # Errors
/// When `cfg.provider_url` is not `http://host:port[/prefix]`.
pub fn serve(
    listener: TcpListener,
    cfg: MerchantConfig,
    shutdown: CancellationToken,
) -> Result<MerchantHandle, ServeError> {
    let addr = listener.local_addr().map_err(ServeError::Listener)?;
    let channels = routing::channels(&cfg, addr).map_err(ServeError::ProviderUrl)?;
    let (tx, done) = mpsc::channel(1);
    let tasks = Tracker { _alive: tx };
    let refunding = Arc::new(AtomicUsize::new(0));
    let cfg_velocity = cfg.velocity;
    let watch = cfg.monitor.as_ref().map(|m| {
        let counts = Arc::new(monitor::Monitor::new(
            m.spec.clone(),
            std::time::Instant::now(),
        ));
        (counts, m.url.clone())
    });
    let books = Arc::new(Store::sized(
        cfg.reference.flaws,
        sizing::per_order(cfg.expected_orders),
    ));
    let shared = Arc::new(Shared {
        monitor: watch.as_ref().map(|(m, _)| Arc::clone(m)),
        store: Arc::clone(&books),
        cfg,
        channels,
        tasks: tasks.clone(),
        shutdown: shutdown.clone(),
        refunding: Arc::clone(&refunding),
        limiter: cfg_velocity.map(velocity::Limiter::new),
        own_url: format!("http://{addr}"),
        redirected: Default::default(),
    });
    let server = Arc::clone(&shared);
    let make = move |_peer, _reset| {
        let shared = Arc::clone(&server);
        service_fn(move |req| handlers::route(Arc::clone(&shared), req))
    };
    let limits = ServerLimits::default();
    tasks.spawn(net::serve(
        "merchant",
        listener,
        make,
        shutdown.clone(),
        limits,
    ));
    if let Some((counts, url)) = watch {
        tasks.spawn(monitor::run(counts, url, shutdown.clone()));
    }
    tasks.spawn(reconcile::run(shared, shutdown));
    Ok(MerchantHandle {
        addr,
        done,
        refunding,
        books,
    })
}

/// State every task of one merchant shares.
pub(crate) struct Shared {
    pub cfg: MerchantConfig,
    pub store: Arc<Store>,
    /// The primary provider, then the backups; each with its breaker.
    pub channels: Vec<routing::Channel>,
    pub tasks: Tracker,
    /// Cancelled when the merchant stops: an owed refund is retried until then.
    pub shutdown: CancellationToken,
    /// Refund tasks running (see [`MerchantHandle::refunds_in_flight`]).
    pub refunding: Arc<AtomicUsize>,
    /// `[merchant.velocity]`, when declared.
    pub limiter: Option<velocity::Limiter>,
    /// Counts the answers given at checkout for the merchant's own alarm.
    pub monitor: Option<Arc<monitor::Monitor>>,
    /// `http://<listen address>`: the base of the return pages handed to the provider.
    pub own_url: String,
    /// Orders whose payment went through a redirect (kept only with
    /// `fulfil_on_return_only`).
    pub redirected: std::sync::Mutex<std::collections::HashSet<String>>,
}

impl Shared {
    pub fn redirected(&self) -> std::sync::MutexGuard<'_, std::collections::HashSet<String>> {
        self.redirected
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    pub fn retry_policy(&self) -> RetryPolicy {
        RetryPolicy {
            max_retries: self.cfg.reference.max_retries,
            backoff: self.cfg.reference.retry_backoff,
        }
    }
}

/// Spawns tasks that [`MerchantHandle::stopped`] waits for: each task holds a clone of the
/// sender, and the handle's receiver closes once the last one is dropped. Nothing is sent.
#[derive(Clone)]
pub(crate) struct Tracker {
    _alive: mpsc::Sender<()>,
}

impl Tracker {
    pub fn spawn<F>(&self, fut: F) -> JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        let guard = self.clone();
        tokio::spawn(async move {
            let _guard = guard;
            fut.await
        })
    }
}

/// Helpers for the HTTP-level tests in `handlers` and `reconcile`: a merchant on
/// `127.0.0.1:0` against a wiremock provider, a client to it, and signed webhook bodies.
#[cfg(test)]
pub(crate) mod testkit {
    use super::*;
    use crate::merchant::provider_client::HttpClient;
    use crate::scenario::flaws::Flaws;
    use bytes::Bytes;
    use hyper::Method;
    use serde_json::Value;
    use std::time::Duration;
    use wiremock::matchers::{method, path};
    use wiremock::{Mock, MockServer, Request as WmRequest, ResponseTemplate};

    pub const SECRET: &str = "whsec_test_merchant";

    /// Short timings so a test runs in well under a second: 300 ms provider timeout,
    /// 2 retries 10 ms apart (then 20 ms), reconcile every 20 ms, 60 s grace.
    pub fn config(provider_url: &str) -> MerchantConfig {
        MerchantConfig {
            reference: ReferenceSpec {
                provider_timeout: Duration::from_millis(300),
                max_retries: 2,
                retry_backoff: Duration::from_millis(10),
                reconcile_every: Duration::from_millis(20),
                pending_grace: Duration::from_secs(60),
                flaws: Flaws::NONE,
                breaker: None,
            },
            provider_url: provider_url.to_string(),
            dialect: Dialect::Stripe,
            api_key: "sk_test_merchant".to_string(),
            webhook_secret: SECRET.to_string(),
            expected_orders: 0,
            velocity: None,
            monitor: None,
            backups: Vec::new(),
        }
    }

    pub struct Running {
        pub handle: MerchantHandle,
        pub shutdown: CancellationToken,
        pub client: HttpClient,
    }

    pub async fn start(cfg: MerchantConfig) -> Running {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let shutdown = CancellationToken::new();
        let handle = serve(listener, cfg, shutdown.clone()).expect("the test merchant starts");
        let client =
            HttpClient::new(&format!("http://{}", handle.addr()), Duration::from_secs(5)).unwrap();
        Running {
            handle,
            shutdown,
            client,
        }
    }

    impl Running {
        /// POSTs a checkout of 1000 usd; returns the HTTP status and JSON answer.
        pub async fn checkout(&self, order_id: &str) -> (u16, Value) {
            let body = serde_json::json!({"order_id": order_id, "amount": 1000,
                "currency": "usd", "payment_method": "pm_card_visa"});
            self.post("/checkout", "application/json", body.to_string(), &[])
                .await
        }

        pub async fn post(
            &self,
            path: &str,
            content_type: &str,
            body: String,
            headers: &[(&str, &str)],
        ) -> (u16, Value) {
            let r = self
                .client
                .send(
                    Method::POST,
                    path,
                    headers,
                    Some((content_type, Bytes::from(body))),
                )
                .await
                .unwrap();
            (
                r.status.as_u16(),
                serde_json::from_slice(&r.body).unwrap_or(Value::Null),
            )
        }

        /// Sends `event` to the webhook route signed with `secret`.
        pub async fn webhook(&self, event: &Value, secret: &str) -> (u16, Value) {
            let body = event.to_string();
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_secs() as i64;
            let sig = crate::signature::header(secret, now, body.as_bytes());
            self.post(
                "/webhooks/stripe",
                "application/json",
                body,
                &[("Stripe-Signature", &sig)],
            )
            .await
        }

        pub async fn order(&self, order_id: &str) -> (u16, Value) {
            let r = self
                .client
                .send(Method::GET, &format!("/orders/{order_id}"), &[], None)
                .await
                .unwrap();
            (
                r.status.as_u16(),
                serde_json::from_slice(&r.body).unwrap_or(Value::Null),
            )
        }

        /// `GET /orders`: the bulk export's list.
        pub async fn orders(&self) -> Vec<Value> {
            let r = self
                .client
                .send(Method::GET, "/orders", &[], None)
                .await
                .unwrap();
            let v: Value = serde_json::from_slice(&r.body).unwrap();
            v["orders"].as_array().cloned().unwrap_or_default()
        }

        /// Polls the order until `want(status word)` holds; gives up after 3 s.
        pub async fn wait_for(&self, order_id: &str, want: &str) -> Value {
            for _ in 0..300 {
                let (_, o) = self.order(order_id).await;
                if o["status"] == want {
                    return o;
                }
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            panic!("order {order_id} never became {want}");
        }

        pub async fn stop(self) {
            self.shutdown.cancel();
            tokio::time::timeout(Duration::from_secs(5), self.handle.stopped())
                .await
                .expect("merchant stops after shutdown");
        }
    }

    /// [`config`] for a merchant speaking the gateway dialect.
    pub fn gateway_config(provider_url: &str) -> MerchantConfig {
        MerchantConfig {
            dialect: Dialect::Gateway,
            ..config(provider_url)
        }
    }

    impl Running {
        /// Posts gateway notification `params`, plus `notify_time` (now, unless given) and,
        /// when `secret` is given, `sign_type` and `sign`; returns the status and raw body.
        pub async fn notify(&self, params: &[(&str, &str)], secret: Option<&str>) -> (u16, String) {
            let mut p: Vec<(String, String)> = params
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect();
            if !p.iter().any(|(k, _)| k == "notify_time") {
                let now = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .unwrap()
                    .as_secs() as i64;
                p.push(("notify_time".into(), crate::signature::gateway_time(now)));
            }
            if let Some(secret) = secret {
                let sign = crate::signature::gateway_sign(secret, &p);
                p.push(("sign_type".into(), "HMAC-SHA256".into()));
                p.push(("sign".into(), sign));
            }
            let body = form_urlencoded::Serializer::new(String::new())
                .extend_pairs(&p)
                .finish();
            let r = self
                .client
                .send(
                    Method::POST,
                    GATEWAY_NOTIFY_PATH,
                    &[],
                    Some(("application/x-www-form-urlencoded", Bytes::from(body))),
                )
                .await
                .unwrap();
            (
                r.status.as_u16(),
                String::from_utf8_lossy(&r.body).into_owned(),
            )
        }
    }

    /// A Stripe event of `event_type` for `order_id` paid by `pi`.
    pub fn event(id: &str, event_type: &str, order_id: &str, pi: &str) -> Value {
        let failed = event_type == "payment_intent.payment_failed";
        let status = if failed {
            "requires_payment_method"
        } else {
            "succeeded"
        };
        let err = if failed {
            serde_json::json!({"type":"card_error","code":"card_declined",
                "decline_code":"insufficient_funds"})
        } else {
            Value::Null
        };
        serde_json::json!({"id": id, "object": "event", "type": event_type,
            "data": {"object": {"id": pi, "object": "payment_intent", "amount": 1000,
                "currency": "usd", "status": status, "metadata": {"order_id": order_id},
                "last_payment_error": err}}})
    }

    /// A succeeded PaymentIntent for `order_id`, as the provider answers it.
    pub fn intent(pi: &str, order_id: &str) -> Value {
        serde_json::json!({"id": pi, "object": "payment_intent", "amount": 1000,
            "currency": "usd", "status": "succeeded", "metadata": {"order_id": order_id},
            "last_payment_error": null})
    }

    /// A 402 card decline body with `decline_code`.
    pub fn decline(code: &str, pi: &str) -> Value {
        serde_json::json!({"error": {"type": "card_error", "code": "card_declined",
            "decline_code": code, "message": "Your card was declined.",
            "payment_intent": {"id": pi, "object": "payment_intent",
                "status": "requires_payment_method"}}})
    }

    /// The form fields of a request to the provider.
    pub fn form_of(r: &WmRequest) -> Vec<(String, String)> {
        form_urlencoded::parse(&r.body).into_owned().collect()
    }

    /// The `Idempotency-Key` of a request to the provider ("" when absent).
    pub fn key_of(r: &WmRequest) -> String {
        r.headers
            .get("idempotency-key")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string()
    }

    /// Every charge request the provider received, in arrival order.
    pub async fn charges(server: &MockServer) -> Vec<WmRequest> {
        server
            .received_requests()
            .await
            .unwrap()
            .into_iter()
            .filter(|r| r.method.as_str() == "POST" && r.url.path() == "/v1/payment_intents")
            .collect()
    }

    /// Answers every charge with `t`.
    pub async fn mount_charge(server: &MockServer, t: ResponseTemplate) {
        Mock::given(method("POST"))
            .and(path("/v1/payment_intents"))
            .respond_with(t)
            .mount(server)
            .await;
    }

    /// The label the verifier would read for an order JSON.
    pub fn label(o: &Value) -> String {
        match (o["status"].as_str(), o["reason"].as_str()) {
            (Some("failed"), Some(r)) => format!("failed_{r}"),
            (Some(s), _) => s.to_string(),
            _ => String::new(),
        }
    }
}

#[cfg(test)]
mod tests;
