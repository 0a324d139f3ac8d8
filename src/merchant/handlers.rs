//! The merchant's HTTP routes: `POST /checkout` (charge through `charge`, tell the customer
//! the real outcome), `GET /orders[/{id}]`, and `POST /webhooks/stripe` (verify, dedupe,
//! apply), plus the refunds those may trigger. State rules live in `store`; provider calls in
//! `provider_client`; the webhook flaws act here, at one decision each. The gateway's
//! `POST /notify/gateway` is routed to `gateway_notify`.

use std::convert::Infallible;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::header::CONTENT_TYPE;
use hyper::{Method, Request, Response, StatusCode};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::charge::{charge_order, order_id_refusal};
use super::decode::{self, Event};
use super::provider_client::{backoff, is_soft, reason_for, refund_key, should_retry, Answer};
use super::store::{Begin, Effect, Order, RefundState, Settlement};
use super::Shared;
use crate::domain::{Amount, FailReason, OrderStatus};
use crate::net;
use crate::scenario::flaws::{Flaw, Flaws};
use crate::signature;

/// Dispatches one request; never fails (errors become JSON answers).
pub(crate) async fn route(
    shared: Arc<Shared>,
    req: Request<net::Body>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    // Borrowed from the request only for the routes that do not take it.
    let path = req.uri().path();
    let resp = match (req.method(), path) {
        (&Method::POST, "/checkout") => checkout(shared, req).await,
        (&Method::GET, "/orders") => list_orders(&shared),
        (&Method::GET, p) if p.starts_with("/orders/") => {
            get_order(&shared, &p["/orders/".len()..])
        }
        (&Method::POST, "/webhooks/stripe") => webhook(shared, req).await,
        (&Method::GET, p) if p.starts_with(super::returns::RETURN_PREFIX) => {
            super::returns::return_page(shared, req).await
        }
        (&Method::POST, "/notify/gateway") => super::gateway_notify::notify(shared, req).await,
        (_, "/checkout" | "/orders" | "/webhooks/stripe" | "/notify/gateway") => json_error(
            StatusCode::METHOD_NOT_ALLOWED,
            &format!("method {} not allowed on {path}", req.method()),
        ),
        _ => json_error(StatusCode::NOT_FOUND, &format!("no route for {path}")),
    };
    Ok(resp)
}

// ---------------------------------------------------------------------------------------
// Checkout

/// The checkout request body.
#[derive(Clone, Debug, Deserialize)]
pub(crate) struct CheckoutRequest {
    pub order_id: String,
    pub amount: Amount,
    pub currency: String,
    pub payment_method: String,
    /// Who pays, from the request's headers (not the body).
    #[serde(skip)]
    pub client: super::velocity::Client,
    /// Which payment of the order this checkout is: 0 the first card, 1.. another card
    /// after a decline (`second_attempt`).
    #[serde(skip)]
    pub payment: u32,
}

fn parse_checkout(body: &[u8]) -> Result<CheckoutRequest, String> {
    let expected = r#"expected {"order_id":"ord-000001","amount":1234,"currency":"usd","payment_method":"pm_card_visa"}"#;
    let r: CheckoutRequest = serde_json::from_slice(body)
        .map_err(|e| format!("invalid checkout body ({e}); {expected}"))?;
    if r.order_id.is_empty() || r.currency.is_empty() || r.payment_method.is_empty() {
        return Err(format!("checkout fields must not be empty; {expected}"));
    }
    if r.amount == 0 {
        return Err(format!("checkout amount must be positive; {expected}"));
    }
    Ok(r)
}

async fn checkout(shared: Arc<Shared>, req: Request<net::Body>) -> Response<Full<Bytes>> {
    let client = super::velocity::Client::of(req.headers());
    let body = match read_body(req).await {
        Ok(b) => b,
        Err(resp) => return resp,
    };
    let mut r = match parse_checkout(&body) {
        Ok(r) => r,
        Err(msg) => return json_error(StatusCode::BAD_REQUEST, &msg),
    };
    r.client = client;
    if let Some(msg) = order_id_refusal(&r.order_id, shared.cfg.dialect) {
        return json_error(StatusCode::BAD_REQUEST, &msg);
    }
    let card = crate::domain::card::fingerprint(Some(&r.payment_method));
    match shared
        .store
        .begin_checkout(&r.order_id, r.amount, &r.currency, card)
    {
        Begin::Started => {}
        // A repeated checkout with the same card never charges again: it is told where the
        // order stands. Another card may pay a declined order (`second_attempt`).
        Begin::Existing(order) if order.card == card => {
            return checkout_answer(&order, shared.cfg.reference.flaws)
        }
        Begin::Existing(order) => match shared.store.second_payment(&r.order_id, card) {
            Ok(n) => r.payment = n,
            Err(now) => {
                let order = now.map_or(order, |o| *o);
                return super::second_attempt::answer(&order, &r);
            }
        },
        Begin::Conflict(order) => return conflict_answer(&order, &r),
    }
    let ticket = match super::velocity::admit(&shared, &r) {
        Ok(ticket) => ticket,
        Err(limit) => return super::velocity::refusal(&r.order_id, limit),
    };
    let client = ticket.map(|t| (r.client.clone(), t));
    // Charged in its own task so that a client hanging up cannot abandon the order
    // half-way (pending and marked as charging forever).
    let job = shared.tasks.spawn(charge_order(shared.clone(), r));
    match job.await.ok().flatten() {
        Some((order, redirect)) => {
            super::velocity::settled(&shared, client, order.status);
            if let Some(m) = &shared.monitor {
                m.record(customer_answer(order.status, shared.cfg.reference.flaws).0);
            }
            match redirect {
                None => checkout_answer(&order, shared.cfg.reference.flaws),
                Some(url) => super::returns::redirect_answer(&order, &url),
            }
        }
        None => json_error(StatusCode::INTERNAL_SERVER_ERROR, "order vanished"),
    }
}

/// The refusal of a checkout repeating an order id with another amount or currency: what
/// was charged (or is being charged) is the first checkout's, so this one is not paid.
fn conflict_answer(o: &Order, r: &CheckoutRequest) -> Response<Full<Bytes>> {
    let body = json!({
        "order_id": o.order_id,
        "error": format!(
            "order '{}' exists with amount {} {}; this checkout asks {} {}: nothing charged for it",
            o.order_id, o.amount, o.currency, r.amount, r.currency
        ),
        "reason": CONFLICTING_REPEAT,
    });
    json_response(StatusCode::CONFLICT, &body)
}

/// The `reason` of a refused conflicting repeat.
pub const CONFLICTING_REPEAT: &str = "order_exists_with_other_amount";

pub(crate) fn checkout_answer(o: &Order, flaws: Flaws) -> Response<Full<Bytes>> {
    let (told, message) = customer_answer(o.status, flaws);
    let body = CheckoutAnswer {
        message,
        order_id: &o.order_id,
        reason: reason_of(told),
        status: status_word(told),
    };
    serialized_response(http_status_for(told), &body)
}

/// A checkout answer's body. Serialised straight from this struct (no `Value` tree); the
/// fields are in the order a `json!` object's sorted keys came out, so the bytes are too.
#[derive(Serialize)]
struct CheckoutAnswer<'a> {
    message: &'static str,
    order_id: &'a str,
    reason: Option<&'static str>,
    status: &'static str,
}

/// What the customer is told about an order in `status`, and the words used.
pub(crate) fn customer_answer(status: OrderStatus, flaws: Flaws) -> (OrderStatus, &'static str) {
    match status {
        OrderStatus::Failed(_) if flaws.has(Flaw::GenericDeclineMessage) => {
            (OrderStatus::Failed(FailReason::Declined), "Payment failed.")
        }
        s => (s, message_for(s)),
    }
}

/// HTTP status of a checkout answer: 200 paid, 202 pending, 402 failed.
pub(crate) fn http_status_for(s: OrderStatus) -> StatusCode {
    match s {
        OrderStatus::Paid => StatusCode::OK,
        OrderStatus::Pending => StatusCode::ACCEPTED,
        OrderStatus::Failed(_) => StatusCode::PAYMENT_REQUIRED,
    }
}

/// What the customer is told: the real cause, and what they can do about it.
fn message_for(s: OrderStatus) -> &'static str {
    match s {
        OrderStatus::Paid => "Thank you! Your payment was successful and your order is confirmed.",
        OrderStatus::Pending => {
            "We are confirming your payment with the provider. We will notify you shortly."
        }
        OrderStatus::Failed(FailReason::InsufficientFunds) => {
            "Your card has insufficient funds. Please check your balance or use another card."
        }
        OrderStatus::Failed(FailReason::RiskBlocked) => {
            "Your payment was blocked by the provider's risk control. Please verify your details or use another payment method."
        }
        OrderStatus::Failed(FailReason::ProviderError) => {
            "The payment provider is having trouble. Nothing was charged; please try again later."
        }
        OrderStatus::Failed(FailReason::Declined) => {
            "Your card was declined. Please contact your bank or use another card."
        }
    }
}

pub(crate) fn status_word(s: OrderStatus) -> &'static str {
    match s {
        OrderStatus::Paid => "paid",
        OrderStatus::Pending => "pending",
        OrderStatus::Failed(_) => "failed",
    }
}

pub(crate) fn reason_of(s: OrderStatus) -> Option<&'static str> {
    match s {
        OrderStatus::Failed(r) => Some(r.as_str()),
        _ => None,
    }
}

// ---------------------------------------------------------------------------------------
// Orders

/// An order as `GET /orders[/{id}]` shows it (fields in sorted order, as in
/// [`CheckoutAnswer`]).
#[derive(Serialize)]
struct OrderJson<'a> {
    fulfilments: u32,
    order_id: &'a str,
    reason: Option<&'static str>,
    status: &'static str,
}

fn order_json(o: &Order) -> OrderJson<'_> {
    OrderJson {
        fulfilments: o.fulfilments,
        order_id: &o.order_id,
        reason: reason_of(o.status),
        status: status_word(o.status),
    }
}

fn get_order(shared: &Shared, order_id: &str) -> Response<Full<Bytes>> {
    match shared.store.get(order_id) {
        Some(o) => serialized_response(StatusCode::OK, &order_json(&o)),
        None => json_error(
            StatusCode::NOT_FOUND,
            &format!("no order with id '{order_id}'"),
        ),
    }
}

fn list_orders(shared: &Shared) -> Response<Full<Bytes>> {
    #[derive(Serialize)]
    struct Orders<'a> {
        orders: Vec<OrderJson<'a>>,
    }
    // Serialised in place: a copy of every order (and of its strings) would double the
    // books for as long as the answer is being built.
    shared.store.with_all(|all| {
        let orders = all.iter().map(|o| order_json(o)).collect();
        serialized_response(StatusCode::OK, &Orders { orders })
    })
}

// ---------------------------------------------------------------------------------------
// Webhooks

async fn webhook(shared: Arc<Shared>, req: Request<net::Body>) -> Response<Full<Bytes>> {
    let sig = req
        .headers()
        .get("stripe-signature")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let body = match read_body(req).await {
        Ok(b) => b,
        Err(resp) => return resp,
    };
    let flaws = shared.cfg.reference.flaws;
    // Verify the exact bytes received: re-serialised JSON would not match the signature.
    if !flaws.has(Flaw::SkipSignatureCheck) {
        if let Err(msg) = check_signature(sig.as_deref(), &body, &shared.cfg.webhook_secret) {
            return json_error(StatusCode::BAD_REQUEST, &msg);
        }
    }
    let event: Event = match decode::object(&body) {
        Ok(v) => v.unwrap_or_default(),
        Err(e) => {
            return json_error(
                StatusCode::BAD_REQUEST,
                &format!("webhook body is not a JSON event: {e}"),
            )
        }
    };
    let Some(event_id) = event.id.as_str() else {
        return json_error(StatusCode::BAD_REQUEST, "webhook event has no string 'id'");
    };
    if flaws.has(Flaw::CrashFirstDelivery) && shared.store.first_delivery(event_id) {
        return json_error(StatusCode::INTERNAL_SERVER_ERROR, "internal error");
    }
    if flaws.has(Flaw::IgnoreWebhooks) {
        return constant_response(StatusCode::OK, RECEIVED);
    }
    let effect = if shared.store.first_sight(event_id) {
        apply_event(&shared, &event)
    } else if flaws.has(Flaw::NoEventDedupe) {
        repeat_event(&shared, &event)
    } else {
        return constant_response(StatusCode::OK, RECEIVED_DUPLICATE);
    };
    // Refunds run in their own task: the provider gets its 2xx at once.
    run_effect(&shared, effect);
    constant_response(StatusCode::OK, RECEIVED)
}

/// The acknowledgement of a webhook, rendered once.
const RECEIVED: &[u8] = br#"{"received":true}"#;
/// The acknowledgement of a webhook already handled.
const RECEIVED_DUPLICATE: &[u8] = br#"{"duplicate":true,"received":true}"#;

/// Checks `Stripe-Signature` against the secret, with Stripe's 300 s tolerance.
fn check_signature(header: Option<&str>, body: &[u8], secret: &str) -> Result<(), String> {
    let header = header.ok_or("missing Stripe-Signature header")?;
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    signature::verify(header, body, secret, now, signature::DEFAULT_TOLERANCE_S)
        .map_err(|e| format!("invalid webhook signature: {e}"))
}

/// Applies a verified, first-seen event to its order.
fn apply_event(shared: &Shared, event: &Event<'_>) -> Effect {
    match event_settlement(event) {
        Some((order_id, Settlement::Paid { .. }))
            if super::returns::waits_for_return(shared, order_id) =>
        {
            Effect::None
        }
        Some((order_id, s)) => shared.store.settle(order_id, &s),
        None => Effect::None,
    }
}

/// Applies an event seen before as if it were new (only with `no_event_dedupe`).
fn repeat_event(shared: &Shared, event: &Event<'_>) -> Effect {
    match event_settlement(event) {
        Some((order_id, s)) => shared.store.repeat(order_id, &s),
        None => Effect::None,
    }
}

/// What an event says about which order: `None` for other types or events without an order.
fn event_settlement<'e>(event: &'e Event<'_>) -> Option<(&'e str, Settlement)> {
    let pi = &event.object;
    let order_id = pi.order_id.as_str()?;
    let s = match event.kind.as_str()? {
        "payment_intent.succeeded" => Settlement::Paid {
            payment_id: pi.id.as_str()?.to_string(),
        },
        "payment_intent.payment_failed" => {
            let code = pi.last_payment_error.0.as_ref();
            match reason_for(code.and_then(|e| e.decline_code.as_str())) {
                r if is_soft(r) => Settlement::SoftDeclined,
                r => Settlement::Failed(r),
            }
        }
        // The customer never finished the challenge and the provider gave the payment up:
        // nothing was charged, and the order must not wait for it any more.
        "payment_intent.canceled" if pi.cancellation_reason.is("automatic") => {
            Settlement::Failed(FailReason::ProviderError)
        }
        _ => return None,
    };
    Some((order_id, s))
}

// ---------------------------------------------------------------------------------------
// Refunds

/// Carries out what a settlement asked for (a refund, in a tracked task).
pub(crate) fn run_effect(shared: &Arc<Shared>, effect: Effect) {
    match effect {
        Effect::None => {}
        Effect::Refund {
            order_id,
            payment_id,
        } => {
            // Counted from here, so that no moment between settling and sending looks idle.
            shared.refunding.fetch_add(1, Ordering::AcqRel);
            shared
                .tasks
                .spawn(refund_payment(shared.clone(), order_id, payment_id));
        }
    }
}

/// Refunds a payment taken for an order that did not complete, retried like a charge, and
/// then again and again with the same key while the answer stays unknown or retryable (a
/// timeout, a lost answer, 5xx, 429, 409): the money is owed, so the merchant gives up only
/// on a final refusal or when it stops.
async fn refund_payment(shared: Arc<Shared>, order_id: String, payment_id: String) {
    let key = refund_key(&order_id, &payment_id);
    let policy = shared.retry_policy();
    let mut rounds = 0u32;
    let (last, sent) = loop {
        let a =
            super::routing::refund_where_paid(&shared.channels, policy, &payment_id, &key).await;
        if !should_retry(&a.last) {
            break (a.last, a.sent);
        }
        rounds += 1;
        // Backoff capped at 8× the base, so a long outage is retried at a steady pace.
        let pause = backoff(policy.backoff, rounds.min(3));
        tokio::select! {
            _ = shared.shutdown.cancelled() => break (a.last, a.sent),
            _ = tokio::time::sleep(pause) => {}
        }
    };
    let state = refund_state(&last);
    if state == RefundState::Failed {
        tracing::warn!(
            "refund of {payment_id} for {order_id} failed after {rounds} round(s) of {sent} \
             attempt(s): {last:?}"
        );
    }
    shared.store.finish_refund(&order_id, &payment_id, state);
    shared.refunding.fetch_sub(1, Ordering::AcqRel);
}

fn refund_state(last: &Answer) -> RefundState {
    match last {
        Answer::Succeeded { payment_id } => RefundState::Done {
            refund_id: payment_id.clone(),
        },
        _ => RefundState::Failed,
    }
}

// ---------------------------------------------------------------------------------------
// HTTP helpers

pub(crate) async fn read_body(req: Request<net::Body>) -> Result<Bytes, Response<Full<Bytes>>> {
    match req.into_body().collect().await {
        Ok(c) => Ok(c.to_bytes()),
        Err(e) => Err(json_error(
            StatusCode::BAD_REQUEST,
            &format!("could not read the request body: {e}"),
        )),
    }
}

pub(crate) fn json_response(status: StatusCode, v: &Value) -> Response<Full<Bytes>> {
    bytes_response(status, Bytes::from(v.to_string()))
}

/// A JSON answer serialised straight from `v`.
fn serialized_response<T: Serialize>(status: StatusCode, v: &T) -> Response<Full<Bytes>> {
    // Serialising plain structs of strings and numbers cannot fail.
    let body = serde_json::to_vec(v).expect("a plain struct serialises");
    bytes_response(status, Bytes::from(body))
}

/// A JSON answer rendered once, sent without a copy.
fn constant_response(status: StatusCode, body: &'static [u8]) -> Response<Full<Bytes>> {
    bytes_response(status, Bytes::from_static(body))
}

fn bytes_response(status: StatusCode, body: Bytes) -> Response<Full<Bytes>> {
    let mut resp = Response::new(Full::new(body));
    *resp.status_mut() = status;
    resp.headers_mut().insert(
        CONTENT_TYPE,
        hyper::header::HeaderValue::from_static("application/json"),
    );
    resp
}

pub(crate) fn json_error(status: StatusCode, msg: &str) -> Response<Full<Bytes>> {
    json_response(status, &json!({"error": msg}))
}

#[cfg(test)]
mod tests;
