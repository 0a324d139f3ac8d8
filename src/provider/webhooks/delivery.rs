//! One delivery of one event: the attempt loop (fresh signature per attempt, POST, an
//! acknowledgement within the timeout or retry on the schedule; chaos may drop the first
//! attempts unsent) and the single HTTP/1.1 exchange behind an attempt, in the event's
//! [`Format`]. Every attempt is recorded through [`Shared::record`]; scheduling the event's
//! deliveries is left to `mod.rs`.

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::header::{CONTENT_TYPE, HOST, USER_AGENT};
use hyper::Request;
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;
use tokio::sync::oneshot;

use super::{Format, Shared};
use crate::domain::{DeliveryFailure, WebhookAttempt};
use crate::gateway::SUCCESS_BODY;
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

/// Why the webhook URL cannot be used.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum UrlError {
    #[error("webhook url '{url}' is malformed: expected http://127.0.0.1:<port>/<path>")]
    Malformed { url: String },
    #[error("webhook url '{url}' is not loopback: only 127.0.0.1 (or localhost) is allowed")]
    NotLoopback { url: String },
}

/// Where deliveries go, parsed once.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Target {
    pub addr: SocketAddr,
    /// `host:port` as written, for the `Host` header.
    pub authority: String,
    /// Path and query.
    pub path: String,
}

impl Target {
    /// Parses an `http://` URL whose host is a loopback IPv4 address or `localhost`.
    pub fn parse(url: &str) -> Result<Target, UrlError> {
        let malformed = || UrlError::Malformed { url: url.into() };
        let uri: hyper::Uri = url.parse().map_err(|_| malformed())?;
        if uri.scheme_str() != Some("http") {
            return Err(malformed());
        }
        let authority = uri.authority().ok_or_else(malformed)?;
        let ip = match authority.host() {
            "localhost" => Ipv4Addr::LOCALHOST,
            h => h
                .parse::<Ipv4Addr>()
                .map_err(|_| UrlError::NotLoopback { url: url.into() })?,
        };
        if !ip.is_loopback() {
            return Err(UrlError::NotLoopback { url: url.into() });
        }
        Ok(Target {
            addr: SocketAddr::from((ip, authority.port_u16().unwrap_or(80))),
            authority: authority.as_str().to_owned(),
            path: uri
                .path_and_query()
                .map_or("/".to_owned(), |p| p.as_str().to_owned()),
        })
    }
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
            let timeout = shared.cfg.timeout;
            let answer = tokio::select! {
                _ = shared.shutdown.cancelled() => {
                    Err((DeliveryFailure::Shutdown, "shutdown before an answer".to_owned()))
                }
                r = tokio::time::timeout(timeout, post(target, req)) => match r {
                    Ok(r) => r.map_err(|e| (DeliveryFailure::Connection, e)),
                    Err(_) => Err((DeliveryFailure::Timeout, format!("timed out after {timeout:?}"))),
                },
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

/// One POST on a fresh connection; the status and body, or why there is none. The
/// connection is driven inside this future, so dropping it (timeout, shutdown) closes the
/// socket.
async fn post(target: &Target, out: Outgoing) -> Result<(u16, Bytes), String> {
    let stream = TcpStream::connect(target.addr)
        .await
        .map_err(|e| format!("connection to {} failed: {e}", target.addr))?;
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| format!("http handshake failed: {e}"))?;
    let mut req = Request::post(target.path.as_str())
        .header(HOST, target.authority.as_str())
        .header(CONTENT_TYPE, out.content_type)
        .header(USER_AGENT, out.user_agent);
    if let Some(sig) = out.signature {
        req = req.header("Stripe-Signature", sig);
    }
    let req = req
        .body(Full::new(out.body))
        .map_err(|e| format!("building the request failed: {e}"))?;
    let exchange = async move {
        let resp = sender
            .send_request(req)
            .await
            .map_err(|e| format!("request failed: {e}"))?;
        let status = resp.status().as_u16();
        // Read the answer to its end so the latency covers the whole response; a body
        // error after the status line leaves an empty body (the gateway then refuses it).
        let body = match resp.into_body().collect().await {
            Ok(b) => b.to_bytes(),
            Err(_) => Bytes::new(),
        };
        Ok((status, body))
    };
    tokio::pin!(conn, exchange);
    tokio::select! {
        biased;
        r = &mut exchange => r,
        c = &mut conn => match c {
            // The connection ended cleanly: the exchange has its answer (or its error) ready.
            Ok(()) => exchange.await,
            Err(e) => Err(format!("connection error: {e}")),
        },
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_urls_parse_with_path_and_port() {
        let t = Target::parse("http://127.0.0.1:8080/webhooks/stripe?x=1").unwrap();
        assert_eq!(t.addr, "127.0.0.1:8080".parse().unwrap());
        assert_eq!(t.authority, "127.0.0.1:8080");
        assert_eq!(t.path, "/webhooks/stripe?x=1");
        let t = Target::parse("http://localhost").unwrap();
        assert_eq!(t.addr, "127.0.0.1:80".parse().unwrap());
        assert_eq!(t.path, "/");
    }

    #[test]
    fn non_loopback_or_non_http_urls_are_refused() {
        assert!(matches!(
            Target::parse("http://10.0.0.1:80/x"),
            Err(UrlError::NotLoopback { .. })
        ));
        assert!(matches!(
            Target::parse("http://example.com/x"),
            Err(UrlError::NotLoopback { .. })
        ));
        for bad in ["https://127.0.0.1/x", "127.0.0.1:80", "not a url"] {
            assert!(
                matches!(Target::parse(bad), Err(UrlError::Malformed { .. })),
                "{bad}"
            );
        }
    }
}
