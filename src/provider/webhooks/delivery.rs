//! One delivery of one event: the attempt loop (fresh signature per attempt, POST, an
//! acknowledgement within the timeout or retry on the schedule; chaos may drop the first
//! attempts unsent) and the single HTTP/1.1 exchange behind an attempt, in the event's
//! [`Format`], over the target's kept-alive connections. Every attempt is recorded through [`Shared::record`]; scheduling the event's
//! deliveries is left to `mod.rs`.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use http_body_util::Full;
use hyper::header::{CONTENT_TYPE, USER_AGENT};
use hyper::Request;
use tokio::sync::oneshot;

use super::{Format, Shared};
use crate::domain::{DeliveryFailure, WebhookAttempt};
use crate::gateway::SUCCESS_BODY;
use crate::net::{ClientError, LoopbackUrl, Pool, UrlError};
use crate::signature;

/// Stripe's webhook user agent.
pub const STRIPE_USER_AGENT: &str = "Stripe/1.0 (+https://stripe.com/docs/webhooks)";

/// The gateway's notification user agent.
pub const GATEWAY_USER_AGENT: &str = "paychaos-gateway-notify/1.0";

/// How old a stale copy's signature timestamp is: twice Stripe's tolerance, so that any
/// merchant checking the timestamp refuses it.
pub const STALE_AGE_S: i64 = 2 * signature::DEFAULT_TOLERANCE_S;

/// The error logged for an attempt chaos dropped.
pub const DROPPED: &str = "dropped by chaos: not sent";

/// Where deliveries go: the URL, parsed once, and the kept-alive connections to it.
#[derive(Clone, Debug)]
pub struct Target {
    pub url: LoopbackUrl,
    pub pool: Arc<Pool>,
}

/// One delivery: what is sent and how it is labelled in the log.
#[derive(Clone, Debug)]
pub struct Delivery {
    /// Where it goes (an unusable URL fails every attempt with its error).
    pub target: Result<Target, UrlError>,
    pub format: Format,
    pub event_id: String,
    pub event_type: String,
    pub order_id: Option<String>,
    pub payment_id: Option<String>,
    pub body: Bytes,
    pub secret: String,
    pub duplicate: bool,
    pub forged: bool,
    /// Signed with a timestamp [`STALE_AGE_S`] in the past.
    pub stale: bool,
    /// Sent without a `Stripe-Signature` header.
    pub unsigned: bool,
    /// The event was held back until a later event of its payment was delivered.
    pub reordered: bool,
    pub delay_ms: u64,
    /// How many of the first attempts are dropped unsent (logged as failed).
    pub drop: u32,
    /// Whether failures are retried on the configured schedule (attacker copies are sent once).
    pub retry: bool,
}

/// Runs the attempt loop until a 2xx, the end of the schedule, or shutdown. `first_done`
/// fires once the first attempt has been answered or has failed (never if shutdown came
/// first), so the event's duplicate and forgery can follow it.
pub async fn deliver(shared: &Shared, d: &Delivery, mut first_done: Option<oneshot::Sender<()>>) {
    let schedule: &[Duration] = if d.retry { &shared.cfg.retry } else { &[] };
    let mut waits = schedule.iter();
    let mut attempt = 0u32;
    loop {
        let acknowledged = attempt_once(shared, d, attempt).await;
        if let Some(tx) = first_done.take() {
            let _ = tx.send(());
        }
        if acknowledged || shared.shutdown.is_cancelled() {
            return;
        }
        let Some(&wait) = waits.next() else {
            return;
        };
        if !shared.wait(wait).await {
            return;
        }
        attempt += 1;
    }
}

/// Signs and sends one attempt, records it, and says whether it was acknowledged.
async fn attempt_once(shared: &Shared, d: &Delivery, attempt: u32) -> bool {
    // The sequence number is taken at send time so the log keeps send order even when
    // concurrent deliveries finish out of order.
    let seq = shared.seq.fetch_add(1, Ordering::Relaxed);
    let sent = Instant::now();
    let at_ms = millis(sent.saturating_duration_since(shared.cfg.origin));
    let dropped = attempt < d.drop;
    let outcome = match &d.target {
        // Chaos: the attempt fails without reaching the merchant, as a lost connection would.
        Ok(_) if dropped => Err((DeliveryFailure::Dropped, DROPPED.to_owned())),
        Ok(target) => {
            // Every attempt is signed afresh, with the time it is sent.
            let t = if d.stale {
                unix_now() - STALE_AGE_S
            } else {
                unix_now()
            };
            let req = outgoing(d, t);
            let answer = tokio::select! {
                _ = shared.shutdown.cancelled() => {
                    Err((DeliveryFailure::Shutdown, "shutdown before an answer".to_owned()))
                }
                r = post(target, req, shared.cfg.timeout) => r,
            };
            answer.and_then(|(status, body)| {
                accepted(d.format, status, &body).map_err(|e| (DeliveryFailure::BadAnswer, e))
            })
        }
        Err(e) => Err((DeliveryFailure::BadUrl, e.to_string())),
    };
    let latency_us = u64::try_from(sent.elapsed().as_micros()).unwrap_or(u64::MAX);
    let (status, error, failure) = match outcome {
        Ok(s) => (Some(s), None, None),
        Err((kind, e)) => (None, Some(e), Some(kind)),
    };
    let record = WebhookAttempt {
        event_id: d.event_id.clone(),
        event_type: d.event_type.clone(),
        order_id: d.order_id.clone(),
        payment_id: d.payment_id.clone(),
        attempt,
        at_ms,
        latency_us,
        duplicate: d.duplicate,
        forged: d.forged,
        stale: d.stale,
        unsigned: d.unsigned,
        dropped,
        reordered: d.reordered,
        delay_ms: d.delay_ms,
        status,
        error,
        failure,
    };
    let acknowledged = record.acknowledged();
    shared.record(seq, record);
    acknowledged
}

/// One attempt's request, as its format writes it.
pub struct Outgoing {
    pub content_type: &'static str,
    pub user_agent: &'static str,
    pub body: Bytes,
    /// `Stripe-Signature`, unless the copy is unsigned or the format signs in the body.
    pub signature: Option<String>,
}

/// The request of an attempt sent at unix time `t`. Stripe: the body as is, signed in a
/// header. Gateway: the notification's parameters plus `notify_time` (`t`), then
/// `sign_type` and `sign` over them all (left out of an unsigned copy).
pub fn outgoing(d: &Delivery, t: i64) -> Outgoing {
    match d.format {
        Format::Stripe => Outgoing {
            content_type: "application/json",
            user_agent: STRIPE_USER_AGENT,
            body: d.body.clone(),
            signature: (!d.unsigned).then(|| signature::header(&d.secret, t, &d.body)),
        },
        Format::Gateway => {
            let mut params: Vec<(String, String)> =
                form_urlencoded::parse(&d.body).into_owned().collect();
            params.push(("notify_time".into(), signature::gateway_time(t)));
            if !d.unsigned {
                let sign = signature::gateway_sign(&d.secret, &params);
                params.push(("sign_type".into(), signature::GATEWAY_SIGN_TYPE.into()));
                params.push(("sign".into(), sign));
            }
            let body = form_urlencoded::Serializer::new(String::new())
                .extend_pairs(&params)
                .finish();
            Outgoing {
                content_type: "application/x-www-form-urlencoded; charset=utf-8",
                user_agent: GATEWAY_USER_AGENT,
                body: Bytes::from(body),
                signature: None,
            }
        }
    }
}

/// The status to log for an answer, or why the answer does not count. Stripe: any status
/// is logged as it is (a 2xx acknowledges). Gateway: a 2xx acknowledges only with the exact
/// body `success`; any other 2xx is logged as a failure with no status, so that the log's
/// `acknowledged()` says what the gateway concluded (it retries).
pub fn accepted(format: Format, status: u16, body: &[u8]) -> Result<u16, String> {
    let ok = (200..300).contains(&status);
    match format {
        Format::Gateway if ok && body != SUCCESS_BODY.as_bytes() => {
            let shown = String::from_utf8_lossy(&body[..body.len().min(40)]).into_owned();
            Err(format!(
                "answered {status} with body {shown:?}, not the exact body \"{SUCCESS_BODY}\""
            ))
        }
        _ => Ok(status),
    }
}

/// One POST over the target's pool; the status and body, or why there is none. A
/// connection that times out (or is dropped with this future at shutdown) is closed.
async fn post(
    target: &Target,
    out: Outgoing,
    timeout: Duration,
) -> Result<(u16, Bytes), (DeliveryFailure, String)> {
    let mut req = Request::post(target.url.path().clone())
        .header(CONTENT_TYPE, out.content_type)
        .header(USER_AGENT, out.user_agent);
    if let Some(sig) = out.signature {
        req = req.header("Stripe-Signature", sig);
    }
    let req = req.body(Full::new(out.body)).map_err(|e| {
        let why = format!("building the request failed: {e}");
        (DeliveryFailure::Connection, why)
    })?;
    match target.pool.send(req, timeout).await {
        Ok(r) => Ok((r.status.as_u16(), r.body)),
        Err(ClientError::Timeout(t)) => {
            Err((DeliveryFailure::Timeout, format!("timed out after {t:?}")))
        }
        Err(ClientError::Connect { addr, source }) => Err((
            DeliveryFailure::Connection,
            format!("connection to {addr} failed: {source}"),
        )),
        Err(e) => Err((DeliveryFailure::Connection, format!("request failed: {e}"))),
    }
}

fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}
