//! The Stripe dialect (`/v1/payment_intents`, `/v1/charges`, `/v1/refunds`, `/v1/events`):
//! routing here, form decoding into neutral calls in `decode`, Stripe-shaped objects in
//! `objects`, error envelopes in `errors`, events in `events`, as the official SDKs read
//! them (see `shared/STRIPE.md` §1-5).

mod decode;
mod errors;
mod events;
mod objects;

use bytes::Bytes;
use hyper::header::{HeaderMap, HeaderValue, AUTHORIZATION};
use hyper::Method;

use crate::provider::dialects::{
    Answer, ApiError, Decoded, Dialect, EventKind, EventMeta, Rendered, Route,
};
use crate::provider::webhooks::Event;

pub use decode::{decode, parse_search};
pub use events::{event_id, event_type, nth_event_id};
pub use objects::{client_secret, intent_json};

/// The API version events claim (what the current SDKs send).
pub const API_VERSION: &str = "2026-10-28.endive";

const SEARCH_URL: &str = "/v1/payment_intents/search";

/// Routes the endpoints the mock serves.
pub fn route(method: &Method, path: &str) -> Option<Route> {
    let rest = path.strip_prefix("/v1/")?;
    // Every route has at most three segments: read them without a vector per request.
    let mut buf = [""; 3];
    let mut n = 0;
    for seg in rest.split('/') {
        *buf.get_mut(n)? = seg;
        n += 1;
    }
    let segs = &buf[..n];
    let post = method == Method::POST;
    let get = method == Method::GET;
    let id = |s: &str| (!s.is_empty()).then(|| s.to_string());
    match segs {
        ["payment_intents"] if post => Some(Route::CreateIntent),
        ["payment_intents", "search"] if get => Some(Route::SearchIntents),
        ["payment_intents", "search"] => None,
        ["payment_intents", i] if get => id(i).map(Route::RetrieveIntent),
        ["payment_intents", i] if post => id(i).map(Route::UpdateIntent),
        ["payment_intents", i, "confirm"] if post => id(i).map(Route::ConfirmIntent),
        ["payment_intents", i, "capture"] if post => id(i).map(Route::CaptureIntent),
        ["payment_intents", i, "cancel"] if post => id(i).map(Route::CancelIntent),
        ["refunds"] if post => Some(Route::CreateRefund),
        ["charges", i] if get => id(i).map(Route::RetrieveCharge),
        ["events"] if get => Some(Route::ListEvents),
        ["events", i] if get => id(i).map(Route::RetrieveEvent),
        ["payment_methods"] if post => Some(Route::CreatePaymentMethod),
        _ => None,
    }
}

/// The HTTP status of an answer.
pub fn status(answer: &Answer) -> u16 {
    match answer {
        Answer::Intent(_)
        | Answer::IntentWithCharge(..)
        | Answer::Search(_)
        | Answer::Refund(_)
        | Answer::Charge(_)
        | Answer::Events(_)
        | Answer::Event(_)
        | Answer::PaymentMethod(_) => 200,
        Answer::Declined(_) => 402,
        Answer::Error(e) => match e {
            ApiError::MissingApiKey | ApiError::InvalidApiKey { .. } => 401,
            ApiError::UnknownRoute { .. }
            | ApiError::NoSuchIntent { .. }
            | ApiError::NoSuchObject { param: None, .. } => 404,
            ApiError::KeyInUse { .. } => 409,
            ApiError::RateLimited | ApiError::Overloaded { .. } => 429,
            ApiError::ServerError => 500,
            _ => 400,
        },
    }
}

/// `Stripe-Should-Retry`, where the answer settles whether a retry can help: `true` for an
/// injected 500 (nothing executed or saved) and for a key still in use (the retry gets the
/// saved answer); `false` for a card decline and an idempotency error (the same request
/// gets the same answer). Absent otherwise, so the SDKs fall back on the status: a 429
/// carries none, as Stripe's rate limiter, so the SDKs do not retry it on their own.
pub fn should_retry(answer: &Answer) -> Option<bool> {
    match answer {
        Answer::Error(ApiError::ServerError | ApiError::KeyInUse { .. }) => Some(true),
        Answer::Declined(_)
        | Answer::Error(
            ApiError::IdempotencyParams { .. } | ApiError::IdempotencyEndpoint { .. },
        ) => Some(false),
        _ => None,
    }
}

/// Renders an answer, and the event the execution created when `event` is given (its
/// `data.object` is the intent, never expanded).
pub fn render(answer: &Answer, event: Option<EventMeta<'_>>) -> (Rendered, Option<Event>) {
    let with_event = |it, pi: &str| event.as_ref().map(|m| events::event_for(m, it, pi));
    let (body, event) = match answer {
        Answer::Intent(it) => {
            let pi = intent_json(it, None);
            let ev = with_event(it, &pi);
            if let Some(ev) = ev {
                // The answer is the event's `data.object`: one allocation holds both, and
                // the idempotency store and the event log keep it once between them.
                let body = events::object_of(&ev.body, pi.len());
                debug_assert_eq!(&body[..], pi.as_bytes());
                let rendered = Rendered {
                    status: status(answer),
                    body,
                    should_retry: should_retry(answer),
                };
                return (rendered, Some(ev));
            }
            (pi, None)
        }
        Answer::IntentWithCharge(it, charge) => {
            let ev = with_event(it, &intent_json(it, None));
            (intent_json(it, Some(charge)), ev)
        }
        Answer::Declined(it) => {
            let pi = intent_json(it, None);
            let ev = with_event(it, &pi);
            (objects::decline_json(it, &pi), ev)
        }
        Answer::Search(list) => {
            let data: Vec<String> = list.iter().map(|it| intent_json(it, None)).collect();
            let body = format!(
                "{{\"object\":\"search_result\",\"url\":\"{SEARCH_URL}\",\"has_more\":false,\"next_page\":null,\"data\":[{}]}}",
                data.join(",")
            );
            (body, None)
        }
        Answer::Refund(r) => (objects::refund_json(r), None),
        Answer::Charge(c) => (objects::charge_json(c), None),
        Answer::PaymentMethod(pm) => (objects::payment_method_json(pm), None),
        Answer::Events(page) => (events::list_json(page), None),
        Answer::Event(body) => {
            let rendered = Rendered {
                status: 200,
                body: body.clone(),
                should_retry: None,
            };
            return (rendered, None);
        }
        Answer::Error(e) => (errors::error_json(e), None),
    };
    let rendered = Rendered {
        status: status(answer),
        // Kept for the whole run (replays, event lists): a `Bytes` made from a `String`
        // keeps its whole allocation, up to twice the length after rendering's doublings.
        body: Bytes::from(body.into_bytes().into_boxed_slice()),
        should_retry: should_retry(answer),
    };
    (rendered, event)
}

/// The Stripe dialect: a secret API key in `Authorization`, idempotency keys in the
/// `Idempotency-Key` header of writes (reads ignore them, as Stripe does).
#[derive(Clone, Copy, Debug)]
pub struct Stripe;

impl Dialect for Stripe {
    fn route(&self, method: &Method, path: &str) -> Option<Route> {
        route(method, path)
    }

    fn authenticate(&self, headers: &HeaderMap) -> Result<(), ApiError> {
        authenticate(headers.get(AUTHORIZATION))
    }

    fn idempotency_key<'h>(
        &self,
        route: &Route,
        headers: &'h HeaderMap,
    ) -> Option<&'h HeaderValue> {
        headers.get("idempotency-key").filter(|_| route.is_write())
    }

    fn decode(
        &self,
        route: &Route,
        path: &str,
        query: Option<&str>,
        body: &[u8],
        _secret: &str,
    ) -> Result<Decoded, ApiError> {
        decode(route, path, query, body)
    }

    fn render(&self, answer: &Answer, event: Option<EventMeta<'_>>) -> (Rendered, Option<Event>) {
        render(answer, event)
    }

    fn rerendered_event_type(&self, kind: EventKind) -> Option<&'static str> {
        Some(event_type(kind))
    }

    fn status(&self, answer: &Answer) -> u16 {
        status(answer)
    }
}

/// Any non-empty Bearer (or Basic, as some clients send the key) token is accepted: the
/// mock checks that a key is sent, not which.
fn authenticate(header: Option<&HeaderValue>) -> Result<(), ApiError> {
    let Some(h) = header else {
        return Err(ApiError::MissingApiKey);
    };
    let text = h.to_str().unwrap_or("");
    let token = text
        .strip_prefix("Bearer ")
        .or_else(|| text.strip_prefix("Basic "))
        .map(str::trim)
        .unwrap_or("");
    if token.is_empty() {
        return Err(ApiError::InvalidApiKey {
            header: text.to_string(),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::objects::tests::{declined, intent};
    use super::*;
    use crate::provider::cards::DeclineCode;
    use crate::provider::charges::Charge;
    use crate::provider::dialects::EventKind;
    use crate::provider::events::EventPage;
    use crate::provider::ledger::IntentStatus;
    use serde_json::Value as Json;

    fn json(b: &Bytes) -> Json {
        serde_json::from_slice(b).expect("valid json")
    }

    #[test]
    fn routes_the_served_endpoints_only() {
        let r = |m: Method, p: &str| route(&m, p);
        let id = || "pi_1".to_string();
        for (m, p, want) in [
            (Method::POST, "/v1/payment_intents", Route::CreateIntent),
            (
                Method::GET,
                "/v1/payment_intents/search",
                Route::SearchIntents,
            ),
            (
                Method::GET,
                "/v1/payment_intents/pi_1",
                Route::RetrieveIntent(id()),
            ),
            (
                Method::POST,
                "/v1/payment_intents/pi_1",
                Route::UpdateIntent(id()),
            ),
            (
                Method::POST,
                "/v1/payment_intents/pi_1/confirm",
                Route::ConfirmIntent(id()),
            ),
            (
                Method::POST,
                "/v1/payment_intents/pi_1/capture",
                Route::CaptureIntent(id()),
            ),
            (
                Method::POST,
                "/v1/payment_intents/pi_1/cancel",
                Route::CancelIntent(id()),
            ),
            (Method::POST, "/v1/refunds", Route::CreateRefund),
            (
                Method::GET,
                "/v1/charges/ch_1",
                Route::RetrieveCharge("ch_1".into()),
            ),
            (Method::GET, "/v1/events", Route::ListEvents),
            (
                Method::GET,
                "/v1/events/evt_1",
                Route::RetrieveEvent("evt_1".into()),
            ),
        ] {
            assert_eq!(r(m.clone(), p), Some(want), "{m} {p}");
        }
        for (m, p) in [
            (Method::GET, "/v1/payment_intents"),
            (Method::POST, "/v1/payment_intents/search"),
            (Method::GET, "/v1/payment_intents/"),
            (Method::GET, "/v1/payment_intents/pi_1/capture"),
            (Method::POST, "/v1/charges/ch_1"),
            (Method::POST, "/v1/events"),
            (Method::GET, "/v1/x"),
            (Method::GET, "/payment_intents/pi_1"),
            (Method::DELETE, "/v1/refunds"),
        ] {
            assert_eq!(r(m.clone(), p), None, "{m} {p}");
        }
    }

    #[test]
    fn decline_renders_402_with_an_event_and_says_do_not_retry() {
        let meta = EventMeta {
            kind: EventKind::PaymentFailed,
            seed: 7,
            request_id: "req_1",
            idempotency_key: Some("k"),
            created: 1,
            nth: 0,
        };
        let (r, ev) = render(
            &Answer::Declined(Box::new(declined(DeclineCode::InsufficientFunds))),
            Some(meta),
        );
        assert_eq!((r.status, r.should_retry), (402, Some(false)));
        assert_eq!(json(&r.body)["error"]["decline_code"], "insufficient_funds");
        let ev = ev.expect("an event");
        assert_eq!(ev.id, event_id(7, "pi_1", "payment_intent.payment_failed"));
    }

    #[test]
    fn an_intent_answer_is_its_events_object_in_the_same_allocation() {
        let it = intent(IntentStatus::Succeeded);
        let meta = EventMeta {
            kind: EventKind::Succeeded,
            seed: 1,
            request_id: "req_1",
            idempotency_key: Some("k"),
            created: 1,
            nth: 0,
        };
        let alone = render(&Answer::Intent(Box::new(it.clone())), None).0;
        let (r, ev) = render(&Answer::Intent(Box::new(it)), Some(meta));
        let ev = ev.expect("an event");
        assert_eq!(
            r.body, alone.body,
            "the same answer with or without its event"
        );
        assert_eq!(json(&ev.body)["data"]["object"], json(&r.body));
        let inside = ev.body.as_ptr_range();
        assert!(
            inside.contains(&r.body.as_ptr()),
            "a slice of the event body"
        );
    }

    #[test]
    fn expanded_intent_keeps_the_event_object_unexpanded() {
        let it = intent(IntentStatus::Succeeded);
        let charge = Charge::new("ch_1", &it, 1, None);
        let meta = EventMeta {
            kind: EventKind::Succeeded,
            seed: 1,
            request_id: "req_1",
            idempotency_key: None,
            created: 1,
            nth: 0,
        };
        let (r, ev) = render(
            &Answer::IntentWithCharge(Box::new(it), Box::new(charge)),
            Some(meta),
        );
        assert_eq!(json(&r.body)["latest_charge"]["object"], "charge");
        let ev = json(&ev.unwrap().body);
        assert_eq!(ev["data"]["object"]["latest_charge"], "ch_1");
    }

    #[test]
    fn errors_use_the_envelope_status_and_retry_hint() {
        let cases = [
            (ApiError::ServerError, 500, "api_error", None, Some(true)),
            (
                ApiError::RateLimited,
                429,
                "invalid_request_error",
                Some("rate_limit"),
                None,
            ),
            (
                ApiError::KeyInUse { key: "k".into() },
                409,
                "invalid_request_error",
                Some("idempotency_key_in_use"),
                Some(true),
            ),
            (
                ApiError::IdempotencyParams { key: "k".into() },
                400,
                "idempotency_error",
                None,
                Some(false),
            ),
            (
                ApiError::MissingApiKey,
                401,
                "authentication_error",
                None,
                None,
            ),
            (
                ApiError::NoSuchIntent { id: "pi_x".into() },
                404,
                "invalid_request_error",
                Some("resource_missing"),
                None,
            ),
            (
                ApiError::NoSuchObject {
                    object: "charge",
                    id: "ch_x".into(),
                    param: None,
                },
                404,
                "invalid_request_error",
                Some("resource_missing"),
                None,
            ),
            (
                ApiError::NoSuchObject {
                    object: "event",
                    id: "evt_x".into(),
                    param: Some("starting_after"),
                },
                400,
                "invalid_request_error",
                Some("resource_missing"),
                None,
            ),
            (
                ApiError::RefundTooLarge {
                    amount: 5,
                    remaining: 4,
                },
                400,
                "invalid_request_error",
                Some("amount_too_large"),
                None,
            ),
            (
                ApiError::UnexpectedState {
                    id: "pi_1".into(),
                    status: IntentStatus::Succeeded,
                    action: "cancel",
                },
                400,
                "invalid_request_error",
                Some("payment_intent_unexpected_state"),
                None,
            ),
        ];
        for (err, want_status, want_type, want_code, want_retry) in cases {
            let (r, _) = render(&Answer::Error(err.clone()), None);
            assert_eq!(r.status, want_status, "{err}");
            let v = json(&r.body);
            assert_eq!(v["error"]["type"], want_type, "{err}");
            assert_eq!(v["error"]["code"].as_str(), want_code, "{err}");
            assert!(v["error"]["message"]
                .as_str()
                .is_some_and(|m| !m.is_empty()));
            assert_eq!(r.should_retry, want_retry, "{err}");
        }
        let (r, _) = render(
            &Answer::Error(ApiError::UnknownRoute {
                method: "GET".into(),
                path: "/v1/x".into(),
            }),
            None,
        );
        let v = json(&r.body);
        assert!(v["error"]["message"]
            .as_str()
            .unwrap()
            .starts_with("Unrecognized request URL (GET: /v1/x)"));
    }

    #[test]
    fn search_result_lists_every_intent_and_events_pass_through() {
        let list = vec![
            intent(IntentStatus::RequiresPaymentMethod),
            intent(IntentStatus::Succeeded),
        ];
        let (r, _) = render(&Answer::Search(list), None);
        let v = json(&r.body);
        assert_eq!(v["object"], "search_result");
        assert_eq!(v["url"], SEARCH_URL);
        assert_eq!(v["has_more"], false);
        assert_eq!(v["data"].as_array().unwrap().len(), 2);
        let body = Bytes::from_static(b"{\"id\":\"evt_1\",\"object\":\"event\"}");
        let (r, _) = render(&Answer::Event(body.clone()), None);
        assert_eq!((r.status, r.body), (200, body.clone()));
        let page = EventPage {
            data: vec![body],
            has_more: false,
        };
        let (r, _) = render(&Answer::Events(page), None);
        assert_eq!(json(&r.body)["data"][0]["id"], "evt_1");
    }
}
