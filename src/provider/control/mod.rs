//! The control API of a provider served on its own (`paychaos provider`), under `/_paychaos/`:
//! read and replace the fault plan (JSON, `plan.rs`), list the ledger, events and webhook
//! attempts (NDJSON, filterable by order id), resend an event, reset the state. Answers
//! loopback peers only, for loopback hosts and origins, state changes with a JSON body type
//! only (`guard.rs`), and only with the bearer token when one is set.

mod guard;
pub(crate) mod plan;
#[cfg(test)]
mod tests;

use std::net::SocketAddr;
use std::time::Instant;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::header::{HeaderValue, ALLOW, AUTHORIZATION, CONTENT_TYPE, WWW_AUTHENTICATE};
use hyper::{Method, Request, Response, StatusCode};
use serde::Serialize;
use serde_json::{json, Value};

use crate::net;
use crate::provider::reqlog::RequestHook;
use crate::provider::server::{self, Shared};
use crate::provider::webhooks::ResendError;

/// Extras of a provider served on its own (`paychaos provider`). The default, what the
/// embedded run uses, has neither: no control API, no request log.
#[derive(Default)]
pub struct ServeOptions {
    /// Serve the control API (fault plan, ledger, webhook log, resend, reset).
    pub control: Option<ControlOptions>,
    /// Called once per request after its answer is sent or its connection dropped.
    pub on_request: Option<RequestHook>,
    /// What the provider's listeners tolerate from clients (timeouts, body size, connection
    /// cap); the control API's own listener too.
    pub limits: net::ServerLimits,
}

/// Where and for whom the control API answers. Only loopback peers are ever served.
#[derive(Debug, Default)]
pub struct ControlOptions {
    /// When set, control requests need `Authorization: Bearer <token>` (401 otherwise).
    pub token: Option<String>,
    /// A listener of its own; `None` serves the control API under `/_paychaos/` on the
    /// provider's port (which then never reaches the dialect).
    pub listener: Option<tokio::net::TcpListener>,
}

/// Every control path starts with this.
pub(crate) const PREFIX: &str = "/_paychaos";

/// The endpoints, for the index and for 404s.
const ENDPOINTS: [&str; 9] = [
    "GET /_paychaos/",
    "GET /_paychaos/faults",
    "PUT /_paychaos/faults",
    "PATCH /_paychaos/faults",
    "GET /_paychaos/ledger?order_id=ID",
    "GET /_paychaos/webhooks?order_id=ID",
    "GET /_paychaos/events?order_id=ID",
    "POST /_paychaos/events/{id}/resend",
    "POST /_paychaos/reset",
];

/// Whether a request path belongs to the control API.
pub(crate) fn is_control_path(path: &str) -> bool {
    path == PREFIX || path.starts_with("/_paychaos/")
}

type Resp = Response<Full<Bytes>>;

/// Answers one control request; never drops the connection.
pub(crate) async fn handle(shared: &Shared, peer: SocketAddr, req: Request<net::Body>) -> Resp {
    // The listeners are loopback-only already; this keeps it so behind any forwarding.
    if !loopback(peer) {
        return error(
            StatusCode::FORBIDDEN,
            format!("the control API answers loopback clients only, not {peer}"),
        );
    }
    if let Err(r) = guard::check_site(req.uri(), req.headers()) {
        return error(r.status, r.message);
    }
    if let Some(token) = &shared.control_token {
        if !authorized(req.headers().get(AUTHORIZATION), token) {
            let mut r = error(
                StatusCode::UNAUTHORIZED,
                "the control API needs the header Authorization: Bearer <--control-token>",
            );
            r.headers_mut().insert(
                WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"paychaos\""),
            );
            return r;
        }
    }
    let path = req.uri().path().to_string();
    let Some(rest) = path.strip_prefix(PREFIX) else {
        return not_found(&path);
    };
    let rest = rest.trim_end_matches('/');
    let method = req.method().clone();
    let order = match order_filter(req.uri().query()) {
        Ok(o) => o,
        Err(message) => return error(StatusCode::BAD_REQUEST, message),
    };
    if order.is_some() && method != Method::GET {
        return error(
            StatusCode::BAD_REQUEST,
            "order_id filters only the GET lists (ledger, webhooks, events)",
        );
    }
    // A state change (a method the endpoint takes; others get their 405 below) needs the
    // JSON body type that other sites cannot send without a preflight.
    let allowed = allows(rest).split(", ").any(|m| m == method.as_str());
    if guard::changes_state(&method) && allowed {
        let what = format!("{method} {PREFIX}{rest}");
        if let Err(r) = guard::check_json(&what, req.headers()) {
            return error(r.status, r.message);
        }
    }
    if let (Some(id), true) = (resend_id(rest), method == Method::POST) {
        return resend(shared, id);
    }
    match (rest, method) {
        ("", Method::GET) => index(shared),
        ("/faults", Method::GET) => json_ok(&plan::to_json(&shared.chaos())),
        ("/faults", m @ (Method::PUT | Method::PATCH)) => {
            let body = match read_body(req).await {
                Ok(b) => b,
                Err(r) => return r,
            };
            replace_plan(shared, &body, m == Method::PATCH)
        }
        ("/ledger", Method::GET) => {
            let entries: Vec<_> = {
                let st = shared.lock();
                st.ledger
                    .entries()
                    .iter()
                    .filter(|e| matches_order(&e.order_id, &order))
                    .cloned()
                    .collect()
            };
            ndjson(&entries)
        }
        ("/webhooks", Method::GET) => {
            let mut log = shared.dispatcher.log();
            log.retain(|a| matches_order(&a.order_id, &order));
            ndjson(&log)
        }
        ("/events", Method::GET) => events(shared, &order),
        ("/reset", Method::POST) => {
            *shared.lock() = server::fresh_state(&shared.cfg);
            shared.dispatcher.reset();
            json_ok(&json!({ "reset": true }))
        }
        (r, _) if known(r) => method_not_allowed(r),
        _ => not_found(&path),
    }
}

/// Whether the peer is on this machine (IPv4-mapped IPv6 included).
fn loopback(peer: SocketAddr) -> bool {
    peer.ip().to_canonical().is_loopback()
}

/// `Authorization: Bearer <token>`, compared without an early exit.
fn authorized(header: Option<&HeaderValue>, token: &str) -> bool {
    let Some(given) = header.and_then(|h| h.as_bytes().strip_prefix(b"Bearer ")) else {
        return false;
    };
    let want = token.as_bytes();
    given.len() == want.len()
        && given
            .iter()
            .zip(want)
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0
}

/// `?order_id=…`; any other parameter is refused.
fn order_filter(query: Option<&str>) -> Result<Option<String>, String> {
    let mut order = None;
    for (k, v) in form_urlencoded::parse(query.unwrap_or("").as_bytes()) {
        if k != "order_id" {
            return Err(format!("unknown query parameter {k:?}: expected order_id"));
        }
        order = Some(v.into_owned());
    }
    Ok(order)
}

fn matches_order(have: &Option<String>, want: &Option<String>) -> bool {
    want.is_none() || have == want
}

/// The event id in `/events/{id}/resend`.
fn resend_id(rest: &str) -> Option<&str> {
    rest.strip_prefix("/events/")?
        .strip_suffix("/resend")
        .filter(|id| !id.is_empty() && !id.contains('/'))
}

fn known(rest: &str) -> bool {
    matches!(
        rest,
        "" | "/faults" | "/ledger" | "/webhooks" | "/events" | "/reset"
    ) || resend_id(rest).is_some()
}

async fn read_body(req: Request<net::Body>) -> Result<Bytes, Resp> {
    match req.into_body().collect().await {
        Ok(b) => Ok(b.to_bytes()),
        Err(e) => Err(error(
            StatusCode::BAD_REQUEST,
            format!("reading the body failed: {e} (expected a JSON body)"),
        )),
    }
}

/// PUT replaces the whole plan; PATCH merges its JSON into the plan in force first.
fn replace_plan(shared: &Shared, body: &[u8], patch: bool) -> Resp {
    let current = shared.chaos();
    let text = if patch {
        let patch: Value = match serde_json::from_slice(body) {
            Ok(v) => v,
            Err(e) => {
                return error(
                    StatusCode::BAD_REQUEST,
                    format!("the body is not JSON: {e}"),
                )
            }
        };
        let mut merged = plan::to_json(&current);
        plan::merge_patch(&mut merged, &patch);
        merged.to_string().into_bytes()
    } else {
        body.to_vec()
    };
    match plan::from_json(&text, current.seed) {
        Ok(chaos) => {
            let shown = plan::to_json(&chaos);
            shared.replace_chaos(chaos);
            json_ok(&shown)
        }
        Err(problems) => json_response(StatusCode::BAD_REQUEST, &plan::problems_json(&problems)),
    }
}

/// Every event created, with how its deliveries went.
fn events(shared: &Shared, order: &Option<String>) -> Resp {
    let events: Vec<_> = {
        let st = shared.lock();
        st.all_events()
            .into_iter()
            .filter(|e| matches_order(&e.order_id, order))
            .collect()
    };
    let log = shared.dispatcher.log();
    let rows: Vec<Value> = events
        .iter()
        .map(|e| {
            let mine = log.iter().filter(|a| a.event_id == e.id);
            let (attempts, acknowledged) =
                mine.fold((0, false), |(n, ok), a| (n + 1, ok || a.acknowledged()));
            json!({
                "id": e.id,
                "type": e.event_type,
                "order_id": e.order_id,
                "payment_id": e.payment_id,
                "attempts": attempts,
                "acknowledged": acknowledged,
            })
        })
        .collect();
    ndjson(&rows)
}

fn resend(shared: &Shared, id: &str) -> Resp {
    let event = shared.lock().event(id);
    let Some(event) = event else {
        return error(StatusCode::NOT_FOUND, format!("no event {id:?}"));
    };
    match shared.dispatcher.resend(event) {
        Ok(()) => json_response(StatusCode::ACCEPTED, &json!({ "resent": id })),
        Err(e @ ResendError::NoUrl) => error(StatusCode::CONFLICT, e.to_string()),
        Err(e @ ResendError::ShuttingDown) => error(StatusCode::SERVICE_UNAVAILABLE, e.to_string()),
    }
}

fn index(shared: &Shared) -> Resp {
    let (entries, events, payments, evicted) = {
        let st = shared.lock();
        let evicted = st.evicted;
        (
            st.ledger.entries().len(),
            st.events.len(),
            st.ledger.payments(),
            evicted,
        )
    };
    let retention = shared.cfg.retain.map(|r| r.payments);
    let run_time = Instant::now().saturating_duration_since(shared.cfg.origin);
    json_ok(&json!({
        "service": "paychaos provider",
        "run_time_ms": u64::try_from(run_time.as_millis()).unwrap_or(u64::MAX),
        "seed": shared.chaos().seed,
        "ledger_entries": entries,
        "events": events,
        "webhook_attempts": shared.dispatcher.log_len(),
        "payments": payments,
        // What a bounded provider keeps, and what it has forgotten to stay within it.
        "retention": { "payments": retention },
        "evicted": {
            "payments": evicted.payments,
            "ledger_entries": evicted.ledger_entries,
            "idempotency_keys": evicted.idempotency_keys,
            "events": evicted.events,
            "webhook_attempts": shared.dispatcher.evicted(),
        },
        // The in-flight cap, the API requests under it now and those shed beyond it.
        "overload": {
            "max_in_flight": shared.admission.cap(),
            "in_flight": shared.admission.in_flight(),
            "shed": shared.admission.shed(),
        },
        "webhook_url": shared.cfg.webhook_url,
        "endpoints": ENDPOINTS,
    }))
}

fn ndjson<T: Serialize>(rows: &[T]) -> Resp {
    let mut out = Vec::with_capacity(rows.len() * 256);
    for row in rows {
        // Plain data: serialising it cannot fail.
        if serde_json::to_writer(&mut out, row).is_ok() {
            out.push(b'\n');
        }
    }
    let mut r = Response::new(Full::new(Bytes::from(out)));
    r.headers_mut().insert(
        CONTENT_TYPE,
        HeaderValue::from_static("application/x-ndjson"),
    );
    r
}

fn json_ok(v: &Value) -> Resp {
    json_response(StatusCode::OK, v)
}

fn json_response(status: StatusCode, v: &Value) -> Resp {
    let mut body = serde_json::to_vec_pretty(v).unwrap_or_default();
    body.push(b'\n');
    let mut r = Response::new(Full::new(Bytes::from(body)));
    *r.status_mut() = status;
    r.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    r
}

fn error(status: StatusCode, message: impl Into<String>) -> Resp {
    json_response(status, &json!({ "error": message.into() }))
}

fn not_found(path: &str) -> Resp {
    json_response(
        StatusCode::NOT_FOUND,
        &json!({ "error": format!("no control endpoint {path}"), "endpoints": ENDPOINTS }),
    )
}

/// The methods a known control path takes, as `Allow` lists them.
fn allows(rest: &str) -> &'static str {
    match rest {
        "" | "/ledger" | "/webhooks" | "/events" => "GET",
        "/faults" => "GET, PUT, PATCH",
        r if known(r) => "POST",
        _ => "",
    }
}

fn method_not_allowed(rest: &str) -> Resp {
    let allow = allows(rest);
    let mut r = error(
        StatusCode::METHOD_NOT_ALLOWED,
        format!("{PREFIX}{rest} accepts {allow}"),
    );
    r.headers_mut()
        .insert(ALLOW, HeaderValue::from_static(allow));
    r
}
