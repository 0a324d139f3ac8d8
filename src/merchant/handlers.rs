//! The merchant's HTTP routes: `POST /checkout` (charge through `charge`, tell the customer
//! the real outcome), `GET /orders[/{id}]`, and `POST /webhooks/stripe` (verify, dedupe,
//! apply), plus the refunds those may trigger. State rules live in `store`; provider calls in
//! `provider_client`; the webhook flaws act here, at one decision each. The gateway's
//! `POST /notify/gateway` is routed to `gateway_notify`.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::header::CONTENT_TYPE;
use hyper::{Method, Request, Response, StatusCode};
use serde::Deserialize;
use serde_json::{json, Value};

use super::charge::{charge_order, order_id_refusal};
use super::flaws::{Flaw, Flaws};
use super::provider_client::{is_soft, reason_for, refund_key, with_retries, Answer};
use super::store::{Begin, Effect, Order, RefundState, Settlement};
use super::Shared;
use crate::domain::{Amount, FailReason, OrderStatus};
use crate::signature;

/// Largest request body accepted (checkouts and webhook events are a few KB).
const MAX_BODY: usize = 1 << 20;

/// Dispatches one request; never fails (errors become JSON answers).
pub(crate) async fn route(
    shared: Arc<Shared>,
    req: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let path = req.uri().path().to_string();
    let resp = match (req.method(), path.as_str()) {
        (&Method::POST, "/checkout") => checkout(shared, req).await,
        (&Method::GET, "/orders") => list_orders(&shared),
        (&Method::GET, p) if p.starts_with("/orders/") => {
            get_order(&shared, &p["/orders/".len()..])
        }
        (&Method::POST, "/webhooks/stripe") => webhook(shared, req).await,
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

async fn checkout(shared: Arc<Shared>, req: Request<Incoming>) -> Response<Full<Bytes>> {
    let body = match read_body(req).await {
        Ok(b) => b,
        Err(resp) => return resp,
    };
    let r = match parse_checkout(&body) {
        Ok(r) => r,
        Err(msg) => return json_error(StatusCode::BAD_REQUEST, &msg),
    };
    if let Some(msg) = order_id_refusal(&r.order_id, shared.cfg.dialect) {
        return json_error(StatusCode::BAD_REQUEST, &msg);
    }
    if let Begin::Existing(order) = shared
        .store
        .begin_checkout(&r.order_id, r.amount, &r.currency)
    {
        // A repeated checkout never charges again: it is told where the order stands.
        return checkout_answer(&order, shared.cfg.flaws);
    }
    let order_id = r.order_id.clone();
    // Charged in its own task so that a client hanging up cannot abandon the order
    // half-way (pending and marked as charging forever).
    let job = shared.tasks.spawn(charge_order(shared.clone(), r));
    let _ = job.await;
    match shared.store.get(&order_id) {
        Some(order) => checkout_answer(&order, shared.cfg.flaws),
        None => json_error(StatusCode::INTERNAL_SERVER_ERROR, "order vanished"),
    }
}

fn checkout_answer(o: &Order, flaws: Flaws) -> Response<Full<Bytes>> {
    let (told, message) = customer_answer(o.status, flaws);
    let body = json!({
        "order_id": o.order_id,
        "status": status_word(told),
        "reason": reason_of(told),
        "message": message,
    });
    json_response(http_status_for(told), &body)
}

/// What the customer is told about an order in `status`, and the words used.
fn customer_answer(status: OrderStatus, flaws: Flaws) -> (OrderStatus, &'static str) {
    match status {
        OrderStatus::Failed(_) if flaws.has(Flaw::GenericDeclineMessage) => {
            (OrderStatus::Failed(FailReason::Declined), "Payment failed.")
        }
        s => (s, message_for(s)),
    }
}

/// HTTP status of a checkout answer: 200 paid, 202 pending, 402 failed.
fn http_status_for(s: OrderStatus) -> StatusCode {
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

fn status_word(s: OrderStatus) -> &'static str {
    match s {
        OrderStatus::Paid => "paid",
        OrderStatus::Pending => "pending",
        OrderStatus::Failed(_) => "failed",
    }
}

fn reason_of(s: OrderStatus) -> Option<&'static str> {
    match s {
        OrderStatus::Failed(r) => Some(r.as_str()),
        _ => None,
    }
}

// ---------------------------------------------------------------------------------------
// Orders

fn order_json(o: &Order) -> Value {
    json!({
        "order_id": o.order_id,
        "status": status_word(o.status),
        "reason": reason_of(o.status),
        "fulfilments": o.fulfilments,
    })
}

fn get_order(shared: &Shared, order_id: &str) -> Response<Full<Bytes>> {
    match shared.store.get(order_id) {
        Some(o) => json_response(StatusCode::OK, &order_json(&o)),
        None => json_error(
            StatusCode::NOT_FOUND,
            &format!("no order with id '{order_id}'"),
        ),
    }
}

fn list_orders(shared: &Shared) -> Response<Full<Bytes>> {
    let orders: Vec<Value> = shared.store.all().iter().map(order_json).collect();
    json_response(StatusCode::OK, &json!({ "orders": orders }))
}

// ---------------------------------------------------------------------------------------
// Webhooks

async fn webhook(shared: Arc<Shared>, req: Request<Incoming>) -> Response<Full<Bytes>> {
    let sig = req
        .headers()
        .get("stripe-signature")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let body = match read_body(req).await {
        Ok(b) => b,
        Err(resp) => return resp,
    };
    let flaws = shared.cfg.flaws;
    // Verify the exact bytes received: re-serialised JSON would not match the signature.
    if !flaws.has(Flaw::SkipSignatureCheck) {
        if let Err(msg) = check_signature(sig.as_deref(), &body, &shared.cfg.webhook_secret) {
            return json_error(StatusCode::BAD_REQUEST, &msg);
        }
    }
    let event: Value = match serde_json::from_slice(&body) {
        Ok(v) => v,
        Err(e) => {
            return json_error(
                StatusCode::BAD_REQUEST,
                &format!("webhook body is not a JSON event: {e}"),
            )
        }
    };
    let Some(event_id) = event["id"].as_str() else {
        return json_error(StatusCode::BAD_REQUEST, "webhook event has no string 'id'");
    };
    if flaws.has(Flaw::IgnoreWebhooks) {
        return json_response(StatusCode::OK, &json!({"received": true}));
    }
    let effect = if shared.store.first_sight(event_id) {
        apply_event(&shared, &event)
    } else if flaws.has(Flaw::NoEventDedupe) {
        repeat_event(&shared, &event)
    } else {
        return json_response(
            StatusCode::OK,
            &json!({"received": true, "duplicate": true}),
        );
    };
    // Refunds run in their own task: the provider gets its 2xx at once.
    run_effect(&shared, effect);
    json_response(StatusCode::OK, &json!({"received": true}))
}

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
fn apply_event(shared: &Shared, event: &Value) -> Effect {
    match event_settlement(event) {
        Some((order_id, s)) => shared.store.settle(&order_id, &s),
        None => Effect::None,
    }
}

/// Applies an event seen before as if it were new (only with `no_event_dedupe`).
fn repeat_event(shared: &Shared, event: &Value) -> Effect {
    match event_settlement(event) {
        Some((order_id, s)) => shared.store.repeat(&order_id, &s),
        None => Effect::None,
    }
}

/// What an event says about which order: `None` for other types or events without an order.
fn event_settlement(event: &Value) -> Option<(String, Settlement)> {
    let pi = &event["data"]["object"];
    let order_id = pi["metadata"]["order_id"].as_str()?.to_string();
    let s = match event["type"].as_str()? {
        "payment_intent.succeeded" => Settlement::Paid {
            payment_id: pi["id"].as_str()?.to_string(),
        },
        "payment_intent.payment_failed" => {
            match reason_for(pi["last_payment_error"]["decline_code"].as_str()) {
                r if is_soft(r) => Settlement::SoftDeclined,
                r => Settlement::Failed(r),
            }
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
            shared
                .tasks
                .spawn(refund_payment(shared.clone(), order_id, payment_id));
        }
    }
}

/// Refunds a payment taken for an order that did not complete, retried like a charge.
async fn refund_payment(shared: Arc<Shared>, order_id: String, payment_id: String) {
    let key = refund_key(&order_id, &payment_id);
    let a = with_retries(shared.retry_policy(), || {
        shared.provider.refund(&payment_id, &key)
    })
    .await;
    let state = refund_state(&a.last);
    if state == RefundState::Failed {
        eprintln!(
            "merchant: refund of {payment_id} for {order_id} failed after {} attempts: {:?}",
            a.sent, a.last
        );
    }
    shared.store.finish_refund(&order_id, &payment_id, state);
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

pub(crate) async fn read_body(req: Request<Incoming>) -> Result<Bytes, Response<Full<Bytes>>> {
    match Limited::new(req.into_body(), MAX_BODY).collect().await {
        Ok(c) => Ok(c.to_bytes()),
        Err(e) => Err(json_error(
            StatusCode::BAD_REQUEST,
            &format!("could not read the request body (at most {MAX_BODY} bytes): {e}"),
        )),
    }
}

fn json_response(status: StatusCode, v: &Value) -> Response<Full<Bytes>> {
    let mut resp = Response::new(Full::new(Bytes::from(v.to_string())));
    *resp.status_mut() = status;
    resp.headers_mut().insert(
        CONTENT_TYPE,
        hyper::header::HeaderValue::from_static("application/json"),
    );
    resp
}

fn json_error(status: StatusCode, msg: &str) -> Response<Full<Bytes>> {
    json_response(status, &json!({"error": msg}))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::merchant::testkit::{
        self, charges, decline, event, form_of, intent, key_of, label, mount_charge, SECRET,
    };
    use std::time::Duration;
    use wiremock::matchers::{method, path};
    use wiremock::{Mock, MockServer, ResponseTemplate};

    // --- pure decisions -----------------------------------------------------------------

    #[test]
    fn customer_messages_name_the_real_cause() {
        assert!(
            message_for(OrderStatus::Failed(FailReason::InsufficientFunds))
                .contains("insufficient funds")
        );
        assert!(message_for(OrderStatus::Failed(FailReason::RiskBlocked)).contains("risk control"));
        assert!(message_for(OrderStatus::Failed(FailReason::ProviderError))
            .contains("Nothing was charged"));
        assert!(message_for(OrderStatus::Pending).contains("confirming"));
        assert_eq!(http_status_for(OrderStatus::Pending), StatusCode::ACCEPTED);
        assert_eq!(
            http_status_for(OrderStatus::Failed(FailReason::Declined)),
            StatusCode::PAYMENT_REQUIRED
        );
    }

    #[test]
    fn events_map_to_settlements_and_others_are_ignored() {
        let ok = event("evt_1", "payment_intent.succeeded", "ord-1", "pi_1");
        assert_eq!(
            event_settlement(&ok),
            Some((
                "ord-1".into(),
                Settlement::Paid {
                    payment_id: "pi_1".into()
                }
            ))
        );
        let failed = event("evt_2", "payment_intent.payment_failed", "ord-1", "pi_1");
        assert_eq!(
            event_settlement(&failed),
            Some((
                "ord-1".into(),
                Settlement::Failed(FailReason::InsufficientFunds)
            ))
        );
        let other = event("evt_3", "charge.refunded", "ord-1", "pi_1");
        assert_eq!(event_settlement(&other), None);
    }

    #[test]
    fn checkout_body_is_checked() {
        assert!(parse_checkout(
            br#"{"order_id":"o","amount":1,"currency":"usd","payment_method":"pm"}"#
        )
        .is_ok());
        let e = parse_checkout(br#"{"order_id":"o"}"#).unwrap_err();
        assert!(e.contains("expected {\"order_id\""), "{e}");
        assert!(parse_checkout(
            br#"{"order_id":"o","amount":0,"currency":"usd","payment_method":"pm"}"#
        )
        .is_err());
    }

    // --- against a wiremock provider ----------------------------------------------------

    #[tokio::test]
    async fn an_order_id_the_provider_would_refuse_is_refused_at_checkout() {
        // #11: it reached the customer as provider trouble.
        let server = MockServer::start().await;
        let uri = server.uri();
        for (cfg, says) in [
            (
                testkit::config(&uri),
                "300 bytes long: expected at most 200",
            ),
            (testkit::gateway_config(&uri), "expected 1 to 64 letters"),
        ] {
            let m = testkit::start(cfg).await;
            let (status, answer) = m.checkout(&"o".repeat(300)).await;
            assert_eq!(status, 400, "{answer}");
            let said = answer["error"].as_str().unwrap_or_default();
            assert!(said.contains(says), "{said}");
            m.stop().await;
        }
        assert!(server.received_requests().await.unwrap().is_empty());
    }

    #[tokio::test]
    async fn successful_charge_pays_and_sends_order_metadata_and_key() {
        let server = MockServer::start().await;
        mount_charge(
            &server,
            ResponseTemplate::new(200).set_body_json(intent("pi_ok", "ord-000001")),
        )
        .await;
        let m = testkit::start(testkit::config(&server.uri())).await;

        let (status, answer) = m.checkout("ord-000001").await;

        assert_eq!((status, answer["status"].as_str()), (200, Some("paid")));
        assert_eq!(answer["reason"], Value::Null);
        let reqs = charges(&server).await;
        assert_eq!(reqs.len(), 1);
        let form = form_of(&reqs[0]);
        assert!(form.contains(&("metadata[order_id]".into(), "ord-000001".into())));
        assert!(form.contains(&("confirm".into(), "true".into())));
        assert!(form.contains(&("amount".into(), "1000".into())));
        assert_eq!(key_of(&reqs[0]), "ord-000001:charge");
        assert_eq!(
            reqs[0].headers.get("authorization").unwrap(),
            "Bearer sk_test_merchant"
        );
        let (_, order) = m.order("ord-000001").await;
        assert_eq!(order["fulfilments"], 1);
        m.stop().await;
    }

    #[tokio::test]
    async fn insufficient_funds_fails_with_that_reason_without_retry() {
        let server = MockServer::start().await;
        mount_charge(
            &server,
            ResponseTemplate::new(402).set_body_json(decline("insufficient_funds", "pi_d")),
        )
        .await;
        let m = testkit::start(testkit::config(&server.uri())).await;

        let (status, answer) = m.checkout("ord-000002").await;

        assert_eq!(status, 402);
        assert_eq!(label(&answer), "failed_insufficient_funds");
        assert!(answer["message"]
            .as_str()
            .unwrap()
            .contains("insufficient funds"));
        assert_eq!(charges(&server).await.len(), 1);
        m.stop().await;
    }

    #[tokio::test]
    async fn fraudulent_decline_is_told_as_risk_blocked() {
        let server = MockServer::start().await;
        mount_charge(
            &server,
            ResponseTemplate::new(402).set_body_json(decline("fraudulent", "pi_f")),
        )
        .await;
        let m = testkit::start(testkit::config(&server.uri())).await;

        let (_, answer) = m.checkout("ord-000003").await;

        assert_eq!(label(&answer), "failed_risk_blocked");
        assert_eq!(charges(&server).await.len(), 1);
        let (_, order) = m.order("ord-000003").await;
        assert_eq!(label(&order), "failed_risk_blocked");
        m.stop().await;
    }

    #[tokio::test]
    async fn server_error_then_success_pays_with_the_same_key() {
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .and(path("/v1/payment_intents"))
            .respond_with(ResponseTemplate::new(500).set_body_json(
                json!({"error":{"type":"api_error","message":"An unknown error occurred"}}),
            ))
            .up_to_n_times(1)
            .with_priority(1)
            .mount(&server)
            .await;
        mount_charge(
            &server,
            ResponseTemplate::new(200).set_body_json(intent("pi_ok", "ord-000004")),
        )
        .await;
        let m = testkit::start(testkit::config(&server.uri())).await;

        let (_, answer) = m.checkout("ord-000004").await;

        assert_eq!(answer["status"], "paid");
        let reqs = charges(&server).await;
        assert_eq!(reqs.len(), 2);
        assert!(reqs.iter().all(|r| key_of(r) == "ord-000004:charge"));
        m.stop().await;
    }

    #[tokio::test]
    async fn persistent_server_errors_fail_as_provider_error_after_all_retries() {
        let server = MockServer::start().await;
        mount_charge(&server, ResponseTemplate::new(500)).await;
        let cfg = testkit::config(&server.uri());
        let m = testkit::start(cfg.clone()).await;

        let (status, answer) = m.checkout("ord-000005").await;

        assert_eq!(status, 402);
        assert_eq!(label(&answer), "failed_provider_error");
        assert_eq!(charges(&server).await.len() as u32, 1 + cfg.max_retries);
        m.stop().await;
    }

    #[tokio::test]
    async fn timed_out_attempt_is_retried_with_the_same_key() {
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .and(path("/v1/payment_intents"))
            .respond_with(
                ResponseTemplate::new(200)
                    .set_body_json(intent("pi_slow", "ord-000006"))
                    .set_delay(Duration::from_secs(2)),
            )
            .up_to_n_times(1)
            .with_priority(1)
            .mount(&server)
            .await;
        mount_charge(
            &server,
            ResponseTemplate::new(200).set_body_json(intent("pi_slow", "ord-000006")),
        )
        .await;
        let m = testkit::start(testkit::config(&server.uri())).await;

        let (_, answer) = m.checkout("ord-000006").await;

        assert_eq!(answer["status"], "paid");
        let reqs = charges(&server).await;
        assert_eq!(reqs.len(), 2);
        assert!(reqs.iter().all(|r| key_of(r) == "ord-000006:charge"));
        m.stop().await;
    }

    #[tokio::test]
    async fn duplicate_checkout_answers_current_state_without_charging() {
        let server = MockServer::start().await;
        mount_charge(
            &server,
            ResponseTemplate::new(200).set_body_json(intent("pi_ok", "ord-000007")),
        )
        .await;
        let m = testkit::start(testkit::config(&server.uri())).await;

        m.checkout("ord-000007").await;
        let (status, again) = m.checkout("ord-000007").await;

        assert_eq!((status, again["status"].as_str()), (200, Some("paid")));
        assert_eq!(charges(&server).await.len(), 1);
        let all = m.orders().await;
        assert_eq!(all.len(), 1);
        assert_eq!(
            (all[0]["order_id"].as_str(), all[0]["fulfilments"].as_u64()),
            (Some("ord-000007"), Some(1))
        );
        m.stop().await;
    }

    #[tokio::test]
    async fn signed_webhook_pays_a_pending_order_once() {
        // Arrange: every charge times out, so the order is left pending.
        let server = MockServer::start().await;
        mount_charge(
            &server,
            ResponseTemplate::new(200).set_delay(Duration::from_secs(2)),
        )
        .await;
        let mut cfg = testkit::config(&server.uri());
        cfg.max_retries = 0;
        cfg.reconcile_every = Duration::from_secs(3600);
        let m = testkit::start(cfg).await;
        let (status, answer) = m.checkout("ord-000008").await;
        assert_eq!((status, answer["status"].as_str()), (202, Some("pending")));
        assert!(answer["message"].as_str().unwrap().contains("confirming"));

        // Act: the succeeded event arrives, then again.
        let ev = event("evt_a", "payment_intent.succeeded", "ord-000008", "pi_w");
        let (s1, _) = m.webhook(&ev, SECRET).await;
        let (s2, _) = m.webhook(&ev, SECRET).await;

        // Assert
        assert_eq!((s1, s2), (200, 200));
        let (_, order) = m.order("ord-000008").await;
        assert_eq!(order["status"], "paid");
        assert_eq!(order["fulfilments"], 1);
        m.stop().await;
    }

    #[tokio::test]
    async fn forged_webhook_is_refused_and_changes_nothing() {
        let server = MockServer::start().await;
        mount_charge(&server, ResponseTemplate::new(500)).await;
        let mut cfg = testkit::config(&server.uri());
        cfg.max_retries = 0;
        let m = testkit::start(cfg).await;
        m.checkout("ord-000009").await; // failed/provider_error

        let ev = event(
            "evt_forged_1",
            "payment_intent.succeeded",
            "ord-000009",
            "pi_x",
        );
        let (status, body) = m.webhook(&ev, "whsec_forged_other").await;
        let (unsigned, _) = m
            .post("/webhooks/stripe", "application/json", ev.to_string(), &[])
            .await;

        assert_eq!((status, unsigned), (400, 400));
        assert!(body["error"].as_str().unwrap().contains("signature"));
        let (_, order) = m.order("ord-000009").await;
        assert_eq!(label(&order), "failed_provider_error");
        let refunds = server
            .received_requests()
            .await
            .unwrap()
            .into_iter()
            .filter(|r| r.url.path() == "/v1/refunds")
            .count();
        assert_eq!(refunds, 0);
        m.stop().await;
    }

    #[tokio::test]
    async fn payment_for_a_failed_order_is_refunded_and_order_stays_failed() {
        let server = MockServer::start().await;
        mount_charge(
            &server,
            ResponseTemplate::new(402).set_body_json(decline("insufficient_funds", "pi_d")),
        )
        .await;
        Mock::given(method("POST"))
            .and(path("/v1/refunds"))
            .respond_with(ResponseTemplate::new(200).set_body_json(
                json!({"id":"re_1","object":"refund","payment_intent":"pi_late","status":"succeeded"}),
            ))
            .mount(&server)
            .await;
        let m = testkit::start(testkit::config(&server.uri())).await;
        m.checkout("ord-000010").await;

        let ev = event("evt_b", "payment_intent.succeeded", "ord-000010", "pi_late");
        let (status, _) = m.webhook(&ev, SECRET).await;
        assert_eq!(status, 200);

        let mut refund = None;
        for _ in 0..300 {
            refund = server
                .received_requests()
                .await
                .unwrap()
                .into_iter()
                .find(|r| r.url.path() == "/v1/refunds");
            if refund.is_some() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let refund = refund.expect("a refund request was sent");
        assert!(form_of(&refund).contains(&("payment_intent".into(), "pi_late".into())));
        assert_eq!(key_of(&refund), "ord-000010:refund:pi_late");
        let (_, order) = m.order("ord-000010").await;
        assert_eq!(label(&order), "failed_insufficient_funds");
        assert_eq!(order["fulfilments"], 0);
        m.stop().await;
    }

    #[tokio::test]
    async fn payment_failed_after_paid_keeps_the_order_paid() {
        let server = MockServer::start().await;
        mount_charge(
            &server,
            ResponseTemplate::new(200).set_body_json(intent("pi_ok", "ord-000011")),
        )
        .await;
        let m = testkit::start(testkit::config(&server.uri())).await;
        m.checkout("ord-000011").await;

        let ev = event(
            "evt_c",
            "payment_intent.payment_failed",
            "ord-000011",
            "pi_ok",
        );
        let (status, _) = m.webhook(&ev, SECRET).await;

        assert_eq!(status, 200);
        let (_, order) = m.order("ord-000011").await;
        assert_eq!(
            (order["status"].as_str(), order["fulfilments"].as_u64()),
            (Some("paid"), Some(1))
        );
        m.stop().await;
    }

    #[tokio::test]
    async fn unknown_orders_and_routes() {
        let server = MockServer::start().await;
        let m = testkit::start(testkit::config(&server.uri())).await;

        let (s, _) = m.order("ord-404").await;
        let ev = event("evt_d", "payment_intent.succeeded", "ord-404", "pi_z");
        let (w, _) = m.webhook(&ev, SECRET).await;
        let (bad, _) = m
            .post("/checkout", "application/json", "{}".into(), &[])
            .await;
        let (nowhere, _) = m
            .post("/nowhere", "application/json", "{}".into(), &[])
            .await;

        assert_eq!((s, w, bad, nowhere), (404, 200, 400, 404));
        m.stop().await;
    }
}
