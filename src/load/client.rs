//! The load generator's HTTP side over the shared [`Pool`]: one prepared checkout
//! ([`Checkout`]) over a bounded pool sized by [`auto_connections`] (or `load.connections`),
//! or a new connection per checkout, and the reads of final order states (bulk export or one
//! GET per order).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper::header::{HeaderValue, CONTENT_TYPE};
use hyper::{Method, Request, Uri};
use tokio::task::JoinSet;

use super::journeys::{self, JourneyRecord};
use super::retries::{self, RetryRecord};
use super::{LoadPlan, Stage};
use crate::domain::{CheckoutAnswer, OrderSnapshot};
use crate::net::link::Link;
use crate::net::{ClientError, LoopbackUrl, Pool, PoolStats, Reply, UrlError};
use crate::scenario::contract::{Contract, ContractError, Template, Values};
use crate::scenario::customers::CustomerSpec;
use crate::scenario::Connections;

/// The default pool's floor and ceiling (connections open only as needed: the floor costs
/// nothing at a low rate).
pub const AUTO_MIN: usize = 32;
pub const AUTO_MAX: usize = 4096;

/// The default `load.connections`: Little's law for the peak rate of `stages` and the
/// longest a checkout can hold a connection, its `timeout`: `ceil(peak × timeout)`, kept
/// within [`AUTO_MIN`]..=[`AUTO_MAX`] and never above `max_in_flight` (more could never be
/// busy). Below the ceiling no checkout ever waits for a connection, however slow the
/// merchant, so the default pool never shapes what it measures; the ceiling bounds the
/// sockets a stalled merchant faces at a high rate.
pub fn auto_connections(stages: &[Stage], timeout: Duration, max_in_flight: usize) -> usize {
    let peak = stages
        .iter()
        .map(|s| s.start_rate.max(s.end_rate))
        .fold(0.0, f64::max);
    // A float to usize cast saturates; the rate is finite and bounded by validation.
    let n = (peak * timeout.as_secs_f64()).ceil() as usize;
    n.clamp(AUTO_MIN, AUTO_MAX).min(max_in_flight.max(1))
}

/// Why the final order states could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error("{0}")]
    NoOrderRead(ContractError),
    #[error("{field}: {source}")]
    BadUrl {
        field: &'static str,
        source: UrlError,
    },
    #[error("GET {url}: {source}")]
    Transport { url: String, source: ClientError },
    #[error("GET {url}: http {status}")]
    Status { url: String, status: u16 },
    #[error("GET {url}: answer is not json: {reason}")]
    NotJson { url: String, reason: String },
    #[error("GET {url}: no array at {pointer}")]
    NoList { url: String, pointer: String },
    /// An order object the contract cannot read; `detail` names the pointer.
    #[error("GET {url}: {detail}")]
    Order { url: String, detail: String },
    #[error("GET {url}: answers for order '{got}' at {pointer}")]
    WrongOrder {
        url: String,
        got: String,
        pointer: String,
    },
    #[error("order read task failed: {0}")]
    Task(#[from] tokio::task::JoinError),
}

/// One request of `method` to `path`, with a JSON body.
fn request(method: &Method, path: &Uri, body: Bytes) -> Request<Full<Bytes>> {
    let mut req = Request::new(Full::new(body));
    *req.method_mut() = method.clone();
    *req.uri_mut() = path.clone();
    req.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    req
}

/// Concurrent per-order reads in [`fetch_each`].
const FETCH_CONCURRENCY: usize = 32;

/// What every checkout task shares: the prepared request and how to read its answer.
pub struct Checkout {
    contract: Contract,
    /// The connections and request line, or why the contract's checkout is unusable.
    target: Result<(Pool, Method, Uri), String>,
    body: Template,
    currency: String,
    payment_method: String,
    timeout: Duration,
    /// What customers do on a challenge, and the seed their journeys are drawn from.
    customers: CustomerSpec,
    seed: u64,
}

impl Checkout {
    /// Prepares the checkouts of `plan` against `contract`.
    pub fn new(plan: &LoadPlan, contract: &Contract) -> Checkout {
        let c = &contract.checkout;
        let target = Method::from_bytes(c.method.as_bytes())
            .map_err(|_| format!("checkout method '{}' is not an http method", c.method))
            .and_then(|m| {
                let url = LoopbackUrl::parse(&c.url).map_err(|e| format!("checkout url {e}"))?;
                let path = url.path().clone();
                let pool = match plan.connections {
                    Connections::PerCheckout => Pool::per_request(&url),
                    Connections::Fixed(n) => Pool::bounded(&url, n.get()),
                    Connections::Auto => {
                        let n = auto_connections(
                            &plan.stages,
                            plan.request_timeout,
                            plan.max_in_flight,
                        );
                        Pool::bounded(&url, n)
                    }
                };
                Ok((pool, m, path))
            });
        Checkout {
            contract: contract.clone(),
            target,
            body: Template::parse(&c.body),
            currency: plan.orders.currency.clone(),
            payment_method: plan.orders.payment_method.clone(),
            timeout: plan.request_timeout,
            customers: plan.customers,
            seed: plan.seed,
        }
    }

    /// The payment method of every planned checkout.
    pub fn payment_method(&self) -> &str {
        &self.payment_method
    }

    /// What the bounded pool did so far; `None` with a connection per checkout (or no usable
    /// checkout URL).
    pub fn pool_stats(&self) -> Option<PoolStats> {
        self.target
            .as_ref()
            .ok()
            .and_then(|(pool, _, _)| pool.stats())
    }

    /// Sends one checkout and reads its answer; every failure is an `Error` answer. Also
    /// gives back the challenge page the answer sends the customer to, if any.
    pub async fn send(&self, order_id: &str, amount: u64) -> (CheckoutAnswer, Option<String>) {
        self.send_as(order_id, amount, &self.payment_method, None)
            .await
    }

    /// [`Checkout::send`] paying with `payment_method`, and naming the customer and client
    /// address (`X-Customer-Id`, `X-Forwarded-For`) when `client` is given.
    pub async fn send_as(
        &self,
        order_id: &str,
        amount: u64,
        payment_method: &str,
        client: Option<(&str, &str)>,
    ) -> (CheckoutAnswer, Option<String>) {
        match self.prepare(order_id, amount, payment_method, client) {
            Ok((pool, req)) => self.read(pool.send(req, self.timeout).await),
            Err(detail) => {
                let detail = detail.to_string();
                (CheckoutAnswer::Error { detail }, None)
            }
        }
    }

    /// The checkout request of order `order_id`: its body rendered from the contract's
    /// template (the order's fields spliced in); `Err` names why the contract's checkout is
    /// unusable.
    pub(super) fn request(
        &self,
        order_id: &str,
        amount: u64,
        payment_method: &str,
        client: Option<(&str, &str)>,
    ) -> Result<Request<Full<Bytes>>, &str> {
        self.prepare(order_id, amount, payment_method, client)
            .map(|(_, req)| req)
    }

    fn prepare(
        &self,
        order_id: &str,
        amount: u64,
        payment_method: &str,
        client: Option<(&str, &str)>,
    ) -> Result<(&Pool, Request<Full<Bytes>>), &str> {
        let (pool, method, path) = self.target.as_ref().map_err(String::as_str)?;
        let body = self.body.render_json(&Values {
            order_id,
            amount,
            currency: &self.currency,
            payment_method,
        });
        let mut req = request(method, path, Bytes::from(body));
        if let Some((customer, address)) = client {
            let h = req.headers_mut();
            for (name, value) in [("x-customer-id", customer), ("x-forwarded-for", address)] {
                if let Ok(v) = HeaderValue::from_str(value) {
                    h.insert(name, v);
                }
            }
        }
        Ok((pool, req))
    }

    /// The answer of one exchange read through the contract; a failure is an `Error` answer.
    pub(super) fn read(
        &self,
        reply: Result<Reply, ClientError>,
    ) -> (CheckoutAnswer, Option<String>) {
        match reply {
            Ok(a) => self.contract.read_checkout(a.status.as_u16(), &a.body),
            Err(e) => {
                let error = CheckoutAnswer::Error {
                    detail: e.to_string(),
                };
                (error, None)
            }
        }
    }

    /// The size of the bounded pool, `None` with a connection per checkout (or no usable
    /// checkout URL).
    pub(super) fn connections(&self) -> Option<usize> {
        self.target
            .as_ref()
            .ok()
            .and_then(|(pool, _, _)| pool.connections())
    }

    /// A connection of its own to the checkout URL's address, for one worker of the pool.
    pub(super) fn link(&self) -> Option<Link> {
        let (pool, _, _) = self.target.as_ref().ok()?;
        Some(Link::new(pool.addr(), pool.host().clone()))
    }

    /// How long a checkout may wait for a connection, and then for its answer.
    pub(super) fn timeout(&self) -> Duration {
        self.timeout
    }

    /// Whether the customer told `answer` (with no challenge) may pay again, by the seed
    /// and the order's chaos key `order_key`: its follow-up is then [`Checkout::retry`].
    pub(super) fn may_retry(&self, answer: &CheckoutAnswer, order_key: &str) -> bool {
        retries::cause(answer, None).is_some()
            && retries::retries(self.seed, &self.customers, order_key)
    }

    /// The journey of order `order_id` (chaos key `order_key`) from the challenge page
    /// `url`, as its seed draws it.
    pub async fn journey(&self, order_id: &str, order_key: &str, url: &str) -> JourneyRecord {
        let j = journeys::journey(self.seed, &self.customers, order_key);
        let forged = journeys::forges(self.seed, &self.customers, order_key)
            .then(|| journeys::forged_return(&self.contract.checkout.url, order_id, url))
            .flatten();
        let browser = journeys::Browser {
            contract: &self.contract,
            timeout: self.timeout,
        };
        browser.run(order_id, url, j, forged).await
    }

    /// The second checkout of order `order_id` (chaos key `order_key`) with another card,
    /// when its customer, told `answer` (and `journey` after a challenge), pays again by the
    /// seed; `client` names the customer as the first checkout did.
    pub async fn retry(
        &self,
        order_id: &str,
        amount: u64,
        order_key: &str,
        answer: &CheckoutAnswer,
        journey: Option<&JourneyRecord>,
        client: Option<(&str, &str)>,
    ) -> Option<RetryRecord> {
        let after = retries::cause(answer, journey)?;
        if !retries::retries(self.seed, &self.customers, order_key) {
            return None;
        }
        let t = std::time::Instant::now();
        let (answer, _) = self
            .send_as(order_id, amount, retries::ANOTHER_CARD, client)
            .await;
        Some(RetryRecord {
            order_id: order_id.to_string(),
            after,
            payment_method: retries::ANOTHER_CARD.to_string(),
            answer,
            latency_us: u64::try_from(t.elapsed().as_micros()).unwrap_or(u64::MAX),
        })
    }
}

/// One GET; `Ok(None)` on 404.
async fn get_json(
    pool: &Pool,
    url: &str,
    path: &Uri,
    timeout: Duration,
) -> Result<Option<serde_json::Value>, ReadError> {
    let url = || url.to_string();
    let a: Reply = pool
        .send(request(&Method::GET, path, Bytes::new()), timeout)
        .await
        .map_err(|source| ReadError::Transport { url: url(), source })?;
    match a.status.as_u16() {
        404 => Ok(None),
        200..=299 => serde_json::from_slice(&a.body)
            .map(Some)
            .map_err(|e| ReadError::NotJson {
                url: url(),
                reason: e.to_string(),
            }),
        status => Err(ReadError::Status { url: url(), status }),
    }
}

/// Reads the orders of `order_ids` from the bulk export at `url`.
pub async fn fetch_bulk(
    contract: &Contract,
    url: &str,
    order_ids: &[String],
) -> Result<Vec<OrderSnapshot>, ReadError> {
    let o = &contract.orders;
    let field = "orders bulk url";
    let t = LoopbackUrl::parse(url).map_err(|source| ReadError::BadUrl { field, source })?;
    let pool = Pool::new(&t, 1);
    let v = get_json(&pool, url, t.path(), o.timeout)
        .await?
        .ok_or_else(|| ReadError::Status {
            url: url.to_string(),
            status: 404,
        })?;
    read_bulk(contract, &v, url, order_ids)
}

/// The orders of `order_ids` in `v`, a bulk export's answer (from `url`, or a file of it),
/// read through the contract's list pointer and order pointers.
///
/// # Errors
/// No list at the pointer, or an order the pointers cannot read, naming `url`.
pub fn read_bulk(
    contract: &Contract,
    v: &serde_json::Value,
    url: &str,
    order_ids: &[String],
) -> Result<Vec<OrderSnapshot>, ReadError> {
    let o = &contract.orders;
    let list = v
        .pointer(&o.list_pointer)
        .and_then(|l| l.as_array())
        .ok_or_else(|| ReadError::NoList {
            url: url.to_string(),
            pointer: o.list_pointer.clone(),
        })?;
    let mut known = HashMap::with_capacity(list.len());
    for (i, item) in list.iter().enumerate() {
        let s = contract.read_order(item).map_err(|e| ReadError::Order {
            url: url.to_string(),
            detail: format!("order {i} at {}: {e}", o.list_pointer),
        })?;
        known.insert(s.order_id.clone(), s);
    }
    Ok(order_ids.iter().filter_map(|id| known.remove(id)).collect())
}

/// Reads the orders of `order_ids` one GET each through the URL `template`.
pub async fn fetch_each(
    contract: &Contract,
    template: &str,
    order_ids: &[String],
) -> Result<Vec<OrderSnapshot>, ReadError> {
    let template = Template::parse(template);
    let contract = Arc::new(contract.clone());
    let mut pool: Option<Arc<Pool>> = None;
    let mut tasks = JoinSet::new();
    let mut found = Vec::new();
    let mut next = 0;
    loop {
        while tasks.len() < FETCH_CONCURRENCY && next < order_ids.len() {
            let id = order_ids[next].clone();
            let url = template.render_url(&Values {
                order_id: &id,
                amount: 0,
                currency: "",
                payment_method: "",
            });
            let field = "order url";
            let t =
                LoopbackUrl::parse(&url).map_err(|source| ReadError::BadUrl { field, source })?;
            // Every order's URL has the template's host: one pool serves them all.
            let c = match &pool {
                Some(c) => Arc::clone(c),
                None => Arc::clone(pool.insert(Arc::new(Pool::new(&t, FETCH_CONCURRENCY)))),
            };
            let contract = Arc::clone(&contract);
            let index = next;
            tasks.spawn(async move {
                let timeout = contract.orders.timeout;
                let Some(v) = get_json(&c, &url, t.path(), timeout).await? else {
                    return Ok(None);
                };
                let s = contract.read_order(&v).map_err(|detail| ReadError::Order {
                    url: url.clone(),
                    detail,
                })?;
                if s.order_id != id {
                    return Err(ReadError::WrongOrder {
                        url,
                        got: s.order_id,
                        pointer: contract.orders.id_pointer.clone(),
                    });
                }
                Ok(Some((index, s)))
            });
            next += 1;
        }
        let Some(joined) = tasks.join_next().await else {
            break;
        };
        match joined {
            Ok(Ok(Some(s))) => found.push(s),
            Ok(Ok(None)) => {}
            Ok(Err(e)) => return Err(e),
            Err(e) => return Err(e.into()),
        }
    }
    found.sort_unstable_by_key(|(i, _)| *i);
    Ok(found.into_iter().map(|(_, s)| s).collect())
}
