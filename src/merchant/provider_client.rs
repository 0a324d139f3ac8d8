//! The merchant's HTTP client to the provider's Stripe API (over the shared `net::Pool` of
//! kept-alive HTTP/1 connections): one call per method, each answer sorted into an [`Answer`], and the
//! retry loop that reuses the idempotency key. Knows nothing about orders.

use std::future::Future;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper::header::{HeaderName, HeaderValue, AUTHORIZATION, CONTENT_TYPE};
use hyper::{Method, Request, Uri};
use serde::Deserialize;
use serde_json::Value;

use super::decode::{self, ErrorBody, Intent, Obj, SearchResult};
use crate::domain::{Amount, FailReason};
pub use crate::net::{ClientError, Reply};
use crate::net::{LoopbackUrl, Pool, UrlError};

/// Idle connections kept per client; more concurrent calls open (and then close) extra ones.
/// As many as the calls a busy merchant has in flight at once: with fewer, every burst above
/// the cap closes connections it reopens a moment later, and the connect/accept/close of that
/// churn is the largest kernel cost of a checkout (and its buffers the largest heap item). The
/// pool still closes any connection idle for `net::IDLE_TIMEOUT`.
const MAX_IDLE: usize = 2048;

/// A plain HTTP/1 client bound to one base URL, over the shared kept-alive [`Pool`].
pub struct HttpClient {
    pool: Pool,
    /// Path prefix of the base URL, without a trailing `/`.
    prefix: String,
    timeout: Duration,
}

impl HttpClient {
    /// A client for `base_url` (`http://host:port[/prefix]` on loopback); every call ends
    /// within `timeout`.
    pub fn new(base_url: &str, timeout: Duration) -> Result<HttpClient, UrlError> {
        let url = LoopbackUrl::parse(base_url)?;
        let prefix = url.path().path().trim_end_matches('/').to_string();
        Ok(HttpClient {
            pool: Pool::new(&url, MAX_IDLE),
            prefix,
            timeout,
        })
    }

    /// Sends one request to `path` (under the base URL) and reads the whole answer.
    pub async fn send(
        &self,
        method: Method,
        path: &str,
        headers: &[(&str, &str)],
        body: Option<(&str, Bytes)>,
    ) -> Result<Reply, ClientError> {
        let mut b = if self.prefix.is_empty() {
            Request::builder().uri(path)
        } else {
            Request::builder().uri(format!("{}{path}", self.prefix))
        }
        .method(method);
        for (k, v) in headers {
            b = b.header(*k, *v);
        }
        let content = match body {
            Some((content_type, bytes)) => {
                b = b.header(CONTENT_TYPE, content_type);
                bytes
            }
            None => Bytes::new(),
        };
        self.pool
            .send(b.body(Full::new(content))?, self.timeout)
            .await
    }

    /// [`HttpClient::send`] of a `POST` whose headers are already typed, so that none is
    /// parsed or copied per call.
    pub async fn post_typed(
        &self,
        path: &str,
        headers: &[(HeaderName, &HeaderValue)],
        content_type: HeaderValue,
        body: Bytes,
    ) -> Result<Reply, ClientError> {
        let mut req = Request::new(Full::new(body));
        *req.method_mut() = Method::POST;
        *req.uri_mut() = if self.prefix.is_empty() {
            Uri::try_from(path)
        } else {
            Uri::try_from(format!("{}{path}", self.prefix))
        }
        .map_err(hyper::http::Error::from)?;
        let h = req.headers_mut();
        h.reserve(headers.len() + 2);
        for (k, v) in headers {
            h.insert(k.clone(), (*v).clone());
        }
        h.insert(CONTENT_TYPE, content_type);
        self.pool.send(req, self.timeout).await
    }
}

/// How one provider call turned out, as far as the merchant can tell.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Answer {
    /// The payment succeeded (`pi_…`), or the refund was accepted (`re_…`).
    Succeeded { payment_id: String },
    /// The card was declined: final, never retried.
    Declined {
        reason: FailReason,
        payment_id: Option<String>,
    },
    /// No answer (timeout, connection error, dropped) or one that cannot be read: the call
    /// may or may not have executed.
    Indeterminate,
    /// The provider refused before executing and asks to come back (5xx, 429, 409).
    Retryable { status: u16 },
    /// Any other error (4xx): retrying the same request cannot help.
    Fatal { status: u16 },
    /// The card needs authentication: the customer must be sent to `redirect_url`
    /// (`next_action.redirect_to_url.url`); the webhook or the return page tells the outcome.
    Action {
        payment_id: String,
        redirect_url: String,
    },
}

/// Whether an answer calls for another attempt with the same idempotency key.
pub fn should_retry(a: &Answer) -> bool {
    matches!(a, Answer::Indeterminate | Answer::Retryable { .. })
}

/// The wait before retry number `k` (0-based): `base · 2^k`.
pub fn backoff(base: Duration, k: u32) -> Duration {
    base.saturating_mul(2u32.saturating_pow(k))
}

/// The reason a customer is told for a Stripe `decline_code`. `processing_error` is the
/// processor's trouble, not the card's answer: a soft decline, worth confirming again.
pub fn reason_for(decline_code: Option<&str>) -> FailReason {
    match decline_code {
        Some("insufficient_funds") => FailReason::InsufficientFunds,
        Some("fraudulent") => FailReason::RiskBlocked,
        Some("processing_error") => FailReason::ProviderError,
        _ => FailReason::Declined,
    }
}

/// Whether a decline may be retried by confirming the same payment again.
pub fn is_soft(reason: FailReason) -> bool {
    reason == FailReason::ProviderError
}

/// Whether a status asks for a retry: the provider did not execute the request.
fn is_retryable_status(status: u16) -> bool {
    status >= 500 || status == 429 || status == 409
}

/// Sorts an HTTP answer of a charge or refund call into an [`Answer`].
pub fn classify(status: u16, body: &[u8]) -> Answer {
    match status {
        200..=299 => match decode::object::<Intent>(body) {
            Ok(Some(pi)) => classify_object(&pi),
            // A success we cannot read may still have moved money.
            _ => Answer::Indeterminate,
        },
        402 => {
            let err = decode::object::<ErrorBody>(body)
                .ok()
                .flatten()
                .and_then(|b| b.error.0)
                .unwrap_or_default();
            Answer::Declined {
                reason: reason_for(err.decline_code.as_str()),
                payment_id: err.payment_intent_id.as_str().map(str::to_string),
            }
        }
        s if is_retryable_status(s) => Answer::Retryable { status: s },
        s => Answer::Fatal { status: s },
    }
}

/// A 2xx body: a succeeded PaymentIntent, a declined one, or a refund.
fn classify_object(pi: &Intent<'_>) -> Answer {
    let Some(id) = pi.id.as_str() else {
        return Answer::Indeterminate;
    };
    let succeeded = || Answer::Succeeded {
        payment_id: id.to_string(),
    };
    if pi.object.is("refund") {
        return succeeded();
    }
    match state_of(pi) {
        IntentState::Succeeded => succeeded(),
        IntentState::Declined(reason) => Answer::Declined {
            reason,
            payment_id: Some(id.to_string()),
        },
        IntentState::Open => match pi.redirect_url.as_str() {
            Some(url) if pi.status.is("requires_action") => Answer::Action {
                payment_id: id.to_string(),
                redirect_url: url.to_string(),
            },
            // processing, requires_action without a redirect, …: not settled yet.
            _ => Answer::Indeterminate,
        },
    }
}

/// What a PaymentIntent object says about its payment.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IntentState {
    Succeeded,
    /// Back to `requires_payment_method` with `last_payment_error` set.
    Declined(FailReason),
    /// Anything else: not settled.
    Open,
}

/// Reads a PaymentIntent's state from a JSON tree (see [`state_of`]).
pub fn intent_state(pi: &Value) -> IntentState {
    match Obj::<Intent>::deserialize(pi) {
        Ok(Obj(Some(pi))) => state_of(&pi),
        _ => IntentState::Open,
    }
}

/// Reads a PaymentIntent's state.
pub fn state_of(pi: &Intent<'_>) -> IntentState {
    match pi.status.as_str() {
        Some("succeeded") => IntentState::Succeeded,
        Some("requires_payment_method") => match &pi.last_payment_error.0 {
            Some(err) => IntentState::Declined(reason_for(err.decline_code.as_str())),
            None => IntentState::Open,
        },
        _ => IntentState::Open,
    }
}

/// One PaymentIntent as found by a search.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FoundIntent {
    pub id: String,
    pub state: IntentState,
}

/// How a run of attempts ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Attempts {
    /// The last attempt's answer.
    pub last: Answer,
    /// Whether any attempt's outcome is unknown (it may have executed).
    pub saw_indeterminate: bool,
    /// How many requests were sent.
    pub sent: u32,
}

/// How often and how patiently to retry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RetryPolicy {
    pub max_retries: u32,
    pub backoff: Duration,
}

/// Calls `attempt` until an answer is final or `max_retries` retries are spent. The caller's
/// closure must send the same request (same idempotency key) every time.
pub async fn with_retries<F, Fut>(policy: RetryPolicy, mut attempt: F) -> Attempts
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Answer>,
{
    let mut saw_indeterminate = false;
    let mut sent = 0;
    loop {
        let a = attempt().await;
        sent += 1;
        saw_indeterminate |= a == Answer::Indeterminate;
        let retries_used = sent - 1;
        if !should_retry(&a) || retries_used >= policy.max_retries {
            return Attempts {
                last: a,
                saw_indeterminate,
                sent,
            };
        }
        tokio::time::sleep(backoff(policy.backoff, retries_used)).await;
    }
}

/// The provider's Stripe API, as the merchant uses it.
pub struct ProviderClient {
    http: HttpClient,
    bearer: String,
    /// `bearer` as a header value, built once; `None` when the key cannot be one (every
    /// call then fails as it is built, as with a request builder).
    bearer_header: Option<HeaderValue>,
}

/// Why a search gave no usable list.
#[derive(Debug, thiserror::Error)]
pub enum SearchError {
    #[error("search for order '{order_id}' failed: {source}")]
    Transport {
        order_id: String,
        source: ClientError,
    },
    #[error("search for order '{order_id}' answered {status}, expected 200 with a search_result")]
    Status { order_id: String, status: u16 },
    #[error("query of order '{order_id}' answered code {code}, expected 000 or 404")]
    Code { order_id: String, code: String },
}

const FORM: &str = "application/x-www-form-urlencoded";
const IDEMPOTENCY_KEY: HeaderName = HeaderName::from_static("idempotency-key");

impl ProviderClient {
    pub fn new(base_url: &str, api_key: &str, timeout: Duration) -> Result<Self, UrlError> {
        Ok(ProviderClient {
            http: HttpClient::new(base_url, timeout)?,
            bearer: format!("Bearer {api_key}"),
            bearer_header: HeaderValue::try_from(format!("Bearer {api_key}")).ok(),
        })
    }

    /// One `POST /v1/payment_intents` with `confirm=true`, keyed by `idempotency_key`.
    pub async fn create_payment_intent(&self, p: &ChargeParams<'_>, key: &str) -> Answer {
        self.post("/v1/payment_intents", charge_form(p), key).await
    }

    /// One `POST /v1/payment_intents/{id}/confirm` with the payment method again (Stripe
    /// detaches it after a decline), keyed by `idempotency_key`.
    pub async fn confirm_payment_intent(
        &self,
        payment_id: &str,
        payment_method: &str,
        raw_card: bool,
        key: &str,
    ) -> Answer {
        let path = format!("/v1/payment_intents/{}/confirm", encode(payment_id));
        let body = form(&method_pairs(payment_method, raw_card));
        self.post(&path, body, key).await
    }

    /// One `POST /v1/refunds` of the whole of `payment_id`.
    pub async fn refund(&self, payment_id: &str, key: &str) -> Answer {
        let body = form(&[("payment_intent", payment_id)]);
        self.post("/v1/refunds", body, key).await
    }

    async fn post(&self, path: &str, body: String, key: &str) -> Answer {
        // Keys are derived from order ids, which are plain text: one that is not a header
        // value cannot be sent, and its outcome is as unknown as a lost answer.
        let (Ok(key), Some(bearer)) = (HeaderValue::try_from(key), &self.bearer_header) else {
            return Answer::Indeterminate;
        };
        let headers = [(AUTHORIZATION, bearer), (IDEMPOTENCY_KEY, &key)];
        let reply = self
            .http
            .post_typed(
                path,
                &headers,
                HeaderValue::from_static(FORM),
                Bytes::from(body),
            )
            .await;
        match reply {
            Ok(r) => classify(r.status.as_u16(), &r.body),
            Err(_) => Answer::Indeterminate,
        }
    }

    /// Every PaymentIntent the provider holds for `order_id` (`metadata['order_id']`).
    /// `GET /v1/payment_intents/{id}`: the intent as the provider knows it now, or why not.
    pub async fn retrieve_intent(&self, payment_id: &str) -> Result<Value, String> {
        let path = format!("/v1/payment_intents/{}", encode(payment_id));
        let headers = [(AUTHORIZATION.as_str(), self.bearer.as_str())];
        let r = self
            .http
            .send(Method::GET, &path, &headers, None)
            .await
            .map_err(|e| format!("retrieving {payment_id}: {e}"))?;
        if !r.status.is_success() {
            return Err(format!("retrieving {payment_id}: status {}", r.status));
        }
        serde_json::from_slice(&r.body).map_err(|e| format!("retrieving {payment_id}: {e}"))
    }

    pub async fn search_by_order(&self, order_id: &str) -> Result<Vec<FoundIntent>, SearchError> {
        let path = search_path(order_id);
        let headers = [(AUTHORIZATION.as_str(), self.bearer.as_str())];
        let r = self
            .http
            .send(Method::GET, &path, &headers, None)
            .await
            .map_err(|source| SearchError::Transport {
                order_id: order_id.to_string(),
                source,
            })?;
        let status_err = || SearchError::Status {
            order_id: order_id.to_string(),
            status: r.status.as_u16(),
        };
        if !r.status.is_success() {
            return Err(status_err());
        }
        let found: Option<SearchResult> = decode::object(&r.body).map_err(|_| status_err())?;
        let data = found.and_then(|s| s.data.0).ok_or_else(status_err)?;
        Ok(data
            .iter()
            .filter_map(|pi| {
                let pi = pi.0.as_ref()?;
                Some(FoundIntent {
                    id: pi.id.as_str()?.to_string(),
                    state: state_of(pi),
                })
            })
            .collect())
    }
}

/// What a charge needs.
#[derive(Clone, Copy, Debug)]
pub struct ChargeParams<'a> {
    pub order_id: &'a str,
    pub amount: Amount,
    pub currency: &'a str,
    pub payment_method: &'a str,
    /// Whether a Stripe charge names the order in `metadata[order_id]`, as the contract
    /// requires (only a flawed merchant leaves it out; the gateway's `out_trade_no` is
    /// always the order id).
    pub metadata: bool,
    /// Send the test card's raw number instead of the payment method id (only a flawed
    /// merchant does).
    pub raw_card: bool,
    /// Who pays, sent as `metadata[customer_id]` and `metadata[client_ip]` for the
    /// provider's velocity rules (absent when the checkout named neither).
    pub customer: Option<&'a str>,
    pub client_ip: Option<&'a str>,
    /// Where the customer's browser comes back after a 3D Secure challenge (Stripe only).
    pub return_url: Option<&'a str>,
}

/// How a charge names what pays: the payment method id, or (flawed) the raw test card
/// number it stands for, as `payment_method_data[card][…]`.
fn method_pairs(payment_method: &str, raw_card: bool) -> Vec<(&'static str, &str)> {
    match crate::domain::card::number_of(payment_method).filter(|_| raw_card) {
        Some(number) => vec![
            ("payment_method_data[type]", "card"),
            ("payment_method_data[card][number]", number),
            ("payment_method_data[card][exp_month]", "12"),
            ("payment_method_data[card][exp_year]", "2034"),
            ("payment_method_data[card][cvc]", "123"),
        ],
        None => vec![("payment_method", payment_method)],
    }
}

/// The idempotency key of an order's charge: derived from the order, so retries and
/// duplicate checkouts can never charge twice.
pub fn charge_key(order_id: &str) -> String {
    format!("{order_id}:charge")
}

/// The idempotency key of the refund of one payment of an order.
pub fn refund_key(order_id: &str, payment_id: &str) -> String {
    format!("{order_id}:refund:{payment_id}")
}

/// The form body of a confirmed PaymentIntent creation, as the Stripe SDKs write it.
pub fn charge_form(p: &ChargeParams<'_>) -> String {
    let amount = p.amount.to_string();
    let mut pairs = vec![("amount", amount.as_str()), ("currency", p.currency)];
    pairs.extend(method_pairs(p.payment_method, p.raw_card));
    pairs.push(("confirm", "true"));
    if p.metadata {
        pairs.push(("metadata[order_id]", p.order_id));
    }
    if let Some(c) = p.customer {
        pairs.push(("metadata[customer_id]", c));
    }
    if let Some(ip) = p.client_ip {
        pairs.push(("metadata[client_ip]", ip));
    }
    if let Some(url) = p.return_url {
        pairs.push(("return_url", url));
    }
    form(&pairs)
}

/// `k=v&…`, values percent-encoded; keys are written literally, brackets included, as the
/// SDKs send them.
fn form(pairs: &[(&str, &str)]) -> String {
    let room = pairs
        .iter()
        .map(|(k, v)| k.len() + v.len() + 2)
        .sum::<usize>();
    let mut out = String::with_capacity(room + room / 4);
    for (i, (k, v)) in pairs.iter().enumerate() {
        if i > 0 {
            out.push('&');
        }
        out.push_str(k);
        out.push('=');
        out.extend(form_urlencoded::byte_serialize(v.as_bytes()));
    }
    out
}

/// Percent-encodes a form or query value.
pub(crate) fn encode(s: &str) -> String {
    form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// `/v1/payment_intents/search?query=metadata['order_id']:'<id>'`, URL-encoded.
pub fn search_path(order_id: &str) -> String {
    let query = format!("metadata['order_id']:'{order_id}'");
    format!("/v1/payment_intents/search?query={}", encode(&query))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn body(v: Value) -> Vec<u8> {
        serde_json::to_vec(&v).unwrap()
    }

    #[test]
    fn succeeded_intent_is_success_with_its_id() {
        let b = body(json!({"id":"pi_1","object":"payment_intent","status":"succeeded"}));
        assert_eq!(
            classify(200, &b),
            Answer::Succeeded {
                payment_id: "pi_1".into()
            }
        );
    }

    #[test]
    fn refund_object_is_success_with_refund_id() {
        let b = body(json!({"id":"re_1","object":"refund","status":"succeeded"}));
        assert_eq!(
            classify(200, &b),
            Answer::Succeeded {
                payment_id: "re_1".into()
            }
        );
    }

    #[test]
    fn card_declines_map_to_the_customer_reason() {
        for (code, reason) in [
            ("insufficient_funds", FailReason::InsufficientFunds),
            ("fraudulent", FailReason::RiskBlocked),
            ("generic_decline", FailReason::Declined),
            ("processing_error", FailReason::ProviderError),
        ] {
            let b = body(json!({"error":{"type":"card_error","code":"card_declined",
                "decline_code":code,"payment_intent":{"id":"pi_d"}}}));
            assert_eq!(
                classify(402, &b),
                Answer::Declined {
                    reason,
                    payment_id: Some("pi_d".into())
                }
            );
        }
        assert_eq!(reason_for(None), FailReason::Declined);
    }

    #[test]
    fn server_errors_rate_limits_and_conflicts_are_retryable_other_4xx_fatal() {
        assert_eq!(classify(500, b"{}"), Answer::Retryable { status: 500 });
        assert_eq!(classify(503, b""), Answer::Retryable { status: 503 });
        assert_eq!(classify(429, b"{}"), Answer::Retryable { status: 429 });
        assert_eq!(classify(409, b"{}"), Answer::Retryable { status: 409 });
        assert_eq!(classify(400, b"{}"), Answer::Fatal { status: 400 });
        assert_eq!(classify(401, b"{}"), Answer::Fatal { status: 401 });
    }

    #[test]
    fn unreadable_or_unsettled_success_is_indeterminate() {
        assert_eq!(classify(200, b"not json"), Answer::Indeterminate);
        let b = body(json!({"id":"pi_1","object":"payment_intent","status":"processing"}));
        assert_eq!(classify(200, &b), Answer::Indeterminate);
    }

    #[test]
    fn only_unknown_and_retryable_answers_are_retried() {
        assert!(should_retry(&Answer::Indeterminate));
        assert!(should_retry(&Answer::Retryable { status: 500 }));
        assert!(!should_retry(&Answer::Fatal { status: 400 }));
        assert!(!should_retry(&Answer::Declined {
            reason: FailReason::InsufficientFunds,
            payment_id: None
        }));
        assert!(!should_retry(&Answer::Succeeded {
            payment_id: "pi".into()
        }));
    }

    #[test]
    fn backoff_doubles_per_retry() {
        let base = Duration::from_millis(100);
        assert_eq!(backoff(base, 0), Duration::from_millis(100));
        assert_eq!(backoff(base, 1), Duration::from_millis(200));
        assert_eq!(backoff(base, 3), Duration::from_millis(800));
    }

    #[test]
    fn declined_search_hit_needs_last_payment_error() {
        let declined = json!({"id":"pi_1","status":"requires_payment_method",
            "last_payment_error":{"decline_code":"fraudulent"}});
        assert_eq!(
            intent_state(&declined),
            IntentState::Declined(FailReason::RiskBlocked)
        );
        let fresh =
            json!({"id":"pi_2","status":"requires_payment_method","last_payment_error":null});
        assert_eq!(intent_state(&fresh), IntentState::Open);
    }

    #[test]
    fn charge_form_carries_order_metadata_and_confirm() {
        let f = charge_form(&ChargeParams {
            order_id: "ord-000001",
            amount: 1234,
            currency: "usd",
            payment_method: "pm_card_visa",
            metadata: true,
            raw_card: false,
            customer: None,
            client_ip: None,
            return_url: None,
        });
        assert_eq!(
            f,
            "amount=1234&currency=usd&payment_method=pm_card_visa&confirm=true&metadata[order_id]=ord-000001"
        );
        let back = charge_form(&ChargeParams {
            order_id: "ord-000001",
            amount: 1234,
            currency: "usd",
            payment_method: "pm_card_visa",
            metadata: true,
            raw_card: false,
            customer: None,
            client_ip: None,
            return_url: Some("http://127.0.0.1:9/return/ord-000001"),
        });
        assert!(back.ends_with("&return_url=http%3A%2F%2F127.0.0.1%3A9%2Freturn%2Ford-000001"));
        let parsed: Vec<(String, String)> =
            form_urlencoded::parse(f.as_bytes()).into_owned().collect();
        assert!(parsed.contains(&("metadata[order_id]".into(), "ord-000001".into())));
    }

    #[test]
    fn search_query_is_url_encoded() {
        let p = search_path("ord-000001");
        assert_eq!(
            p,
            "/v1/payment_intents/search?query=metadata%5B%27order_id%27%5D%3A%27ord-000001%27"
        );
        let q = p.split_once('?').unwrap().1;
        let (_, v) = form_urlencoded::parse(q.as_bytes()).next().unwrap();
        assert_eq!(v, "metadata['order_id']:'ord-000001'");
    }

    #[test]
    fn keys_are_derived_from_the_order() {
        assert_eq!(charge_key("ord-000007"), "ord-000007:charge");
        assert_eq!(refund_key("ord-000007", "pi_x"), "ord-000007:refund:pi_x");
    }

    #[test]
    fn base_url_must_be_http_on_loopback() {
        let second = Duration::from_secs(1);
        assert!(HttpClient::new("http://127.0.0.1:12111", second).is_ok());
        assert!(HttpClient::new("https://127.0.0.1:1", second).is_err());
        assert!(HttpClient::new("http://10.0.0.1:1", second).is_err());
        assert!(HttpClient::new("nonsense", second).is_err());
        let c = HttpClient::new("http://localhost:9/api/", second).unwrap();
        assert_eq!(c.pool.addr(), "127.0.0.1:9".parse().unwrap());
        assert_eq!(c.prefix, "/api");
    }

    #[tokio::test]
    async fn retries_stop_after_max_and_remember_unknown_outcomes() {
        let policy = RetryPolicy {
            max_retries: 2,
            backoff: Duration::from_millis(1),
        };
        let mut answers = vec![
            Answer::Retryable { status: 500 },
            Answer::Indeterminate,
            Answer::Retryable { status: 429 },
        ]
        .into_iter();
        let a = with_retries(policy, || {
            let next = answers.next().expect("no more than 1 + max_retries calls");
            async move { next }
        })
        .await;
        assert_eq!(a.sent, 3);
        assert!(a.saw_indeterminate);
        assert_eq!(a.last, Answer::Retryable { status: 429 });
    }

    #[tokio::test]
    async fn a_decline_ends_the_retries_at_once() {
        let policy = RetryPolicy {
            max_retries: 5,
            backoff: Duration::from_millis(1),
        };
        let mut calls = 0;
        let a = with_retries(policy, || {
            calls += 1;
            async {
                Answer::Declined {
                    reason: FailReason::RiskBlocked,
                    payment_id: None,
                }
            }
        })
        .await;
        assert_eq!((calls, a.sent, a.saw_indeterminate), (1, 1, false));
    }
}
