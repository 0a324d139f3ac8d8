//! Stripe events: the event JSON around a payment intent (as webhooks deliver it and
//! `GET /v1/events/{id}` returns it), deterministic event ids, and the event list page.

use bytes::Bytes;
use serde::Serialize;

use crate::chaos::key;
use crate::provider::dialects::{EventKind, EventMeta};
use crate::provider::events::EventPage;
use crate::provider::ledger::Intent;
use crate::provider::webhooks::{Event, Format};

use super::objects::to_json;
use super::API_VERSION;

pub const EVENTS_URL: &str = "/v1/events";

#[derive(Serialize)]
struct EventHead<'a> {
    id: &'a str,
    object: &'static str,
    api_version: &'static str,
    created: u64,
    livemode: bool,
    pending_webhooks: u32,
    #[serde(rename = "type")]
    kind: &'static str,
    request: EventRequest<'a>,
}

#[derive(Serialize)]
struct EventRequest<'a> {
    id: &'a str,
    idempotency_key: Option<&'a str>,
}

/// Stripe's name of an event kind.
pub fn event_type(kind: EventKind) -> &'static str {
    match kind {
        EventKind::Succeeded => "payment_intent.succeeded",
        EventKind::PaymentFailed => "payment_intent.payment_failed",
        EventKind::RequiresAction => "payment_intent.requires_action",
        EventKind::AmountCapturableUpdated => "payment_intent.amount_capturable_updated",
        EventKind::Canceled => "payment_intent.canceled",
    }
}

/// The event id of `event_type` for `payment_id`: `evt_` + the hash in hex.
pub fn event_id(seed: u64, payment_id: &str, event_type: &str) -> String {
    let h = key::hash(seed, "evt", &[payment_id.as_bytes(), event_type.as_bytes()]);
    format!("evt_{h:016x}")
}

/// The id of the `nth` event (0-based) of `event_type` for `payment_id`: the first is
/// [`event_id`]; a repeat (a second decline on the same intent) gets its own.
pub fn nth_event_id(seed: u64, payment_id: &str, event_type: &str, nth: u32) -> String {
    if nth == 0 {
        return event_id(seed, payment_id, event_type);
    }
    let h = key::hash(
        seed,
        "evt",
        &[
            payment_id.as_bytes(),
            event_type.as_bytes(),
            &nth.to_le_bytes(),
        ],
    );
    format!("evt_{h:016x}")
}

/// The event `meta` describes, around intent `it` rendered as `pi`.
pub fn event_for(meta: &EventMeta<'_>, it: &Intent, pi: &str) -> Event {
    let kind = event_type(meta.kind);
    let id = nth_event_id(meta.seed, &it.id, kind, meta.nth);
    let chaos_key = it
        .chaos_id
        .as_deref()
        .map(|p| nth_event_id(meta.seed, p, kind, meta.nth));
    let mut head = to_json(&EventHead {
        id: &id,
        object: "event",
        api_version: API_VERSION,
        created: meta.created,
        livemode: false,
        pending_webhooks: 1,
        kind,
        request: EventRequest {
            id: meta.request_id,
            idempotency_key: meta.idempotency_key,
        },
    });
    head.pop(); // reopen to append the intent as rendered once
    const DATA: &str = ",\"data\":{\"object\":";
    // Sized exactly: the body is kept whole for the run, and its allocation is kept too.
    let mut body = String::with_capacity(head.len() + DATA.len() + pi.len() + 2);
    body.push_str(&head);
    body.push_str(DATA);
    body.push_str(pi);
    body.push_str("}}");
    Event {
        id,
        event_type: kind.to_string(),
        order_id: it.order_id().map(str::to_string),
        payment_id: Some(it.id.clone()),
        // Kept for the whole run (replays, event lists): a `Bytes` made from a `String`
        // keeps its whole allocation, up to twice the length after rendering's doublings.
        body: Bytes::from(body.into_bytes().into_boxed_slice()),
        format: Format::Stripe,
        url: None,
        chaos_key,
    }
}

/// The `data.object` of an event `body` made by [`event_for`] around an object of `len`
/// bytes, sharing the event's allocation.
pub fn object_of(body: &Bytes, len: usize) -> Bytes {
    // `event_for` closes the body with `}}` after the object.
    let end = body.len() - 2;
    body.slice(end - len..end)
}

/// `{"object":"list","url":"/v1/events","has_more":…,"data":[…]}` around stored bodies.
pub fn list_json(page: &EventPage) -> String {
    let mut out = format!(
        "{{\"object\":\"list\",\"url\":\"{EVENTS_URL}\",\"has_more\":{},\"data\":[",
        page.has_more
    );
    for (i, body) in page.data.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(&String::from_utf8_lossy(body));
    }
    out.push_str("]}");
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::provider::cards::DeclineCode;
    use crate::provider::dialects::stripe::objects::{intent_json, tests::declined};
    use serde_json::Value;

    fn meta(kind: EventKind, nth: u32) -> EventMeta<'static> {
        EventMeta {
            kind,
            seed: 7,
            request_id: "req_1",
            idempotency_key: Some("ord-000001:charge"),
            created: 1,
            nth,
        }
    }

    #[test]
    fn event_wraps_the_intent_with_its_request() {
        let it = declined(DeclineCode::RiskBlock);
        let ev = event_for(
            &meta(EventKind::PaymentFailed, 0),
            &it,
            &intent_json(&it, None),
        );
        assert_eq!(ev.event_type, "payment_intent.payment_failed");
        assert_eq!(ev.id, event_id(7, "pi_1", "payment_intent.payment_failed"));
        assert_eq!(ev.order_id.as_deref(), Some("ord-000001"));
        let e: Value = serde_json::from_slice(&ev.body).unwrap();
        assert_eq!(e["id"], ev.id.as_str());
        assert_eq!(e["object"], "event");
        assert_eq!(e["api_version"], API_VERSION);
        assert_eq!(e["request"]["idempotency_key"], "ord-000001:charge");
        assert_eq!(e["data"]["object"]["metadata"]["order_id"], "ord-000001");
        assert_eq!(
            e["data"]["object"]["last_payment_error"]["decline_code"],
            "fraudulent"
        );
    }

    #[test]
    fn repeats_get_their_own_id_and_kinds_their_stripe_names() {
        let it = declined(DeclineCode::Generic);
        let pi = intent_json(&it, None);
        let first = event_for(&meta(EventKind::PaymentFailed, 0), &it, &pi);
        let second = event_for(&meta(EventKind::PaymentFailed, 1), &it, &pi);
        assert_ne!(first.id, second.id);
        assert_eq!(
            second.id,
            nth_event_id(7, "pi_1", "payment_intent.payment_failed", 1)
        );
        for (k, name) in [
            (EventKind::RequiresAction, "payment_intent.requires_action"),
            (
                EventKind::AmountCapturableUpdated,
                "payment_intent.amount_capturable_updated",
            ),
            (EventKind::Canceled, "payment_intent.canceled"),
            (EventKind::Succeeded, "payment_intent.succeeded"),
        ] {
            assert_eq!(event_for(&meta(k, 0), &it, &pi).event_type, name);
        }
    }

    #[test]
    fn an_event_meets_chaos_under_the_id_its_run_free_intent_would_give_it() {
        let mut it = declined(DeclineCode::Generic);
        let pi = intent_json(&it, None);
        let kind = "payment_intent.payment_failed";
        assert_eq!(
            event_for(&meta(EventKind::PaymentFailed, 0), &it, &pi).chaos_key(),
            event_id(7, "pi_1", kind)
        );
        it.chaos_id = Some("pi_free".into());
        let ev = event_for(&meta(EventKind::PaymentFailed, 1), &it, &pi);
        assert_eq!(ev.id, nth_event_id(7, "pi_1", kind, 1));
        assert_eq!(ev.chaos_key(), nth_event_id(7, "pi_free", kind, 1));
    }

    #[test]
    fn list_wraps_bodies_in_a_stripe_list() {
        let page = EventPage {
            data: vec![
                Bytes::from_static(b"{\"id\":\"evt_2\"}"),
                Bytes::from_static(b"{\"id\":\"evt_1\"}"),
            ],
            has_more: true,
        };
        let v: Value = serde_json::from_str(&list_json(&page)).unwrap();
        assert_eq!(v["object"], "list");
        assert_eq!(v["url"], EVENTS_URL);
        assert_eq!(v["has_more"], true);
        assert_eq!(v["data"][1]["id"], "evt_1");
        let empty = EventPage {
            data: vec![],
            has_more: false,
        };
        let v: Value = serde_json::from_str(&list_json(&empty)).unwrap();
        assert_eq!(v["data"], Value::Array(vec![]));
    }
}
