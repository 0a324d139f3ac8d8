//! The attacker-style copies of an event. Forged: same type, payment intent and order, but a
//! new `evt_forged_…` id, `data.object.amount` raised by one, and a wrong signing secret.
//! Unsigned: the same tampering under an `evt_unsigned_…` id, sent without a signature. (The
//! stale copy is the genuine body itself, signed with an old timestamp by the delivery.)
//! A gateway notification is tampered alike: `notify_id` `ntf_forged_…` / `ntf_unsigned_…`,
//! `total_amount` raised by 0.01. Pure; sending them is the delivery loop's job.

use bytes::Bytes;
use serde_json::Value;

use super::{Event, Format};
use crate::domain::CopyKind;
use crate::gateway::{format_amount, parse_amount};

/// Why an event could not be forged (the provider built an event of an unexpected shape).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ForgeError {
    #[error("event {event_id} is not a JSON object: {detail}")]
    NotJson { event_id: String, detail: String },
    #[error("event {event_id} has no integer data.object.amount to tamper with")]
    NoAmount { event_id: String },
    #[error("notification {event_id} has no decimal total_amount to tamper with")]
    NoTotalAmount { event_id: String },
}

/// A forged copy of one event.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Forgery {
    pub event_id: String,
    pub body: Bytes,
    /// Not the endpoint's secret, so the merchant must refuse the signature.
    pub secret: String,
}

/// `evt_forged_` + the original id without its `evt_` prefix.
pub fn forged_id(original: &str) -> String {
    format!(
        "evt_forged_{}",
        original.strip_prefix("evt_").unwrap_or(original)
    )
}

/// `evt_unsigned_` + the original id without its `evt_` prefix.
pub fn unsigned_id(original: &str) -> String {
    format!(
        "evt_unsigned_{}",
        original.strip_prefix("evt_").unwrap_or(original)
    )
}

/// Builds the forged copy of `event`; `real_secret` is only used to make sure the wrong
/// secret really is wrong.
pub fn forge(event: &Event, real_secret: &str) -> Result<Forgery, ForgeError> {
    let id = copy_id(event, CopyKind::Forged);
    let body = tamper(event, &id)?;
    let mut secret = format!("whsec_forged_{}", bare_id(event));
    if secret == real_secret {
        secret.push('x');
    }
    Ok(Forgery {
        event_id: id,
        body,
        secret,
    })
}

/// The unsigned copy of `event`: its id and tampered body (sent without `Stripe-Signature`).
pub fn unsigned_copy(event: &Event) -> Result<(String, Bytes), ForgeError> {
    let id = copy_id(event, CopyKind::Unsigned);
    let body = tamper(event, &id)?;
    Ok((id, body))
}

/// The id of an attacker copy of `kind` (`forged`, `unsigned`), in the event's format.
fn copy_id(event: &Event, kind: CopyKind) -> String {
    match (event.format, kind) {
        (Format::Stripe, CopyKind::Forged) => forged_id(&event.id),
        (Format::Stripe, _) => unsigned_id(&event.id),
        (Format::Gateway, _) => format!("ntf_{}_{}", kind.as_str(), bare_id(event)),
    }
}

/// The event id without its format's prefix (`evt_`, `ntf_`).
fn bare_id(event: &Event) -> &str {
    let prefix = match event.format {
        Format::Stripe => "evt_",
        Format::Gateway => "ntf_",
    };
    event.id.strip_prefix(prefix).unwrap_or(&event.id)
}

/// `event`'s body under the new `id`, with its amount raised by one minor unit.
fn tamper(event: &Event, id: &str) -> Result<Bytes, ForgeError> {
    match event.format {
        Format::Stripe => tamper_json(event, id),
        Format::Gateway => tamper_form(event, id),
    }
}

/// A notification's parameters with `notify_id` = `id` and `total_amount` + 0.01.
fn tamper_form(event: &Event, id: &str) -> Result<Bytes, ForgeError> {
    let no_amount = || ForgeError::NoTotalAmount {
        event_id: event.id.clone(),
    };
    let mut params: Vec<(String, String)> =
        form_urlencoded::parse(&event.body).into_owned().collect();
    let mut raised = false;
    for (k, v) in &mut params {
        match k.as_str() {
            "notify_id" => *v = id.to_string(),
            "total_amount" => {
                let a = parse_amount(v).and_then(|a| a.checked_add(1));
                *v = format_amount(a.ok_or_else(no_amount)?);
                raised = true;
            }
            _ => {}
        }
    }
    if !raised {
        return Err(no_amount());
    }
    let body = form_urlencoded::Serializer::new(String::new())
        .extend_pairs(&params)
        .finish();
    Ok(Bytes::from(body))
}

/// `event`'s JSON under the new `id`, with `data.object.amount` raised by one.
fn tamper_json(event: &Event, id: &str) -> Result<Bytes, ForgeError> {
    let not_json = |detail: String| ForgeError::NotJson {
        event_id: event.id.clone(),
        detail,
    };
    let mut json: Value =
        serde_json::from_slice(&event.body).map_err(|e| not_json(e.to_string()))?;
    let obj = json
        .as_object_mut()
        .ok_or_else(|| not_json("top level is not an object".into()))?;
    obj.insert("id".into(), Value::String(id.to_string()));
    let amount = json
        .pointer_mut("/data/object/amount")
        .ok_or_else(|| ForgeError::NoAmount {
            event_id: event.id.clone(),
        })?;
    let raised = amount
        .as_u64()
        .and_then(|a| a.checked_add(1))
        .ok_or_else(|| ForgeError::NoAmount {
            event_id: event.id.clone(),
        })?;
    *amount = Value::from(raised);
    let body = serde_json::to_vec(&json).map_err(|e| not_json(e.to_string()))?;
    Ok(Bytes::from(body))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::signature;

    fn event(body: &str) -> Event {
        Event {
            id: "evt_abc123".into(),
            event_type: "payment_intent.succeeded".into(),
            order_id: Some("ord-000001".into()),
            payment_id: Some("pi_1".into()),
            body: Bytes::from(body.to_owned()),
            format: Format::Stripe,
            url: None,
            chaos_key: None,
        }
    }

    #[test]
    fn a_gateway_notification_is_forged_with_its_own_ids_and_amount() {
        let e = Event {
            id: "ntf_00ff".into(),
            event_type: "trade_status_sync.TRADE_SUCCESS".into(),
            body: Bytes::from_static(
                b"notify_id=ntf_00ff&out_trade_no=ord-1&total_amount=12.99&trade_status=TRADE_SUCCESS",
            ),
            format: Format::Gateway,
            ..event("")
        };
        let f = forge(&e, "whsec_real").unwrap();
        assert_eq!(f.event_id, "ntf_forged_00ff");
        assert_eq!(f.secret, "whsec_forged_00ff");
        let p: Vec<(String, String)> = form_urlencoded::parse(&f.body).into_owned().collect();
        let get = |k: &str| p.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
        assert_eq!(get("notify_id"), Some("ntf_forged_00ff"));
        assert_eq!(get("total_amount"), Some("13.00"));
        assert_eq!(get("trade_status"), Some("TRADE_SUCCESS"));
        let (id, _) = unsigned_copy(&e).unwrap();
        assert_eq!(id, "ntf_unsigned_00ff");
        let bare = Event {
            body: Bytes::from_static(b"notify_id=ntf_00ff"),
            ..e
        };
        assert_eq!(
            forge(&bare, "s"),
            Err(ForgeError::NoTotalAmount {
                event_id: "ntf_00ff".into()
            })
        );
    }

    #[test]
    fn forgery_has_new_id_raised_amount_and_keeps_the_rest() {
        let e = event(
            r#"{"id":"evt_abc123","type":"payment_intent.succeeded","data":{"object":{"id":"pi_1","amount":1234,"metadata":{"order_id":"ord-000001"}}}}"#,
        );
        let f = forge(&e, "whsec_real").unwrap();
        assert_eq!(f.event_id, "evt_forged_abc123");
        let v: Value = serde_json::from_slice(&f.body).unwrap();
        assert_eq!(v["id"], "evt_forged_abc123");
        assert_eq!(v["type"], "payment_intent.succeeded");
        assert_eq!(v["data"]["object"]["amount"], 1235);
        assert_eq!(v["data"]["object"]["id"], "pi_1");
        assert_eq!(v["data"]["object"]["metadata"]["order_id"], "ord-000001");
        assert!(f.secret.starts_with("whsec_forged_"));
        let h = signature::header(&f.secret, 10, &f.body);
        assert!(signature::verify(&h, &f.body, "whsec_real", 10, 300).is_err());
    }

    #[test]
    fn the_unsigned_copy_is_tampered_under_its_own_id() {
        let e = event(
            r#"{"id":"evt_abc123","type":"payment_intent.succeeded","data":{"object":{"id":"pi_1","amount":10}}}"#,
        );
        let (id, body) = unsigned_copy(&e).unwrap();
        assert_eq!(id, "evt_unsigned_abc123");
        let v: Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(
            (v["id"].as_str(), v["data"]["object"]["amount"].as_u64()),
            (Some(id.as_str()), Some(11))
        );
    }

    #[test]
    fn ids_without_the_evt_prefix_are_kept_whole() {
        assert_eq!(forged_id("weird"), "evt_forged_weird");
    }

    #[test]
    fn the_wrong_secret_never_equals_the_real_one() {
        let e = event(r#"{"id":"evt_abc123","data":{"object":{"amount":1}}}"#);
        let f = forge(&e, "whsec_forged_abc123").unwrap();
        assert_ne!(f.secret, "whsec_forged_abc123");
    }

    #[test]
    fn bodies_that_cannot_be_tampered_with_are_refused() {
        assert!(matches!(
            forge(&event("not json"), "s"),
            Err(ForgeError::NotJson { .. })
        ));
        assert!(matches!(
            forge(&event("[1]"), "s"),
            Err(ForgeError::NotJson { .. })
        ));
        assert_eq!(
            forge(&event(r#"{"data":{"object":{"amount":"12"}}}"#), "s"),
            Err(ForgeError::NoAmount {
                event_id: "evt_abc123".into()
            })
        );
    }
}
