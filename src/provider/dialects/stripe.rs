//! The Stripe dialect (`/v1/payment_intents`, `/v1/refunds`): form decoding into neutral
//! calls, and Stripe-shaped answers, error envelopes and events as the official SDKs read
//! them (see `shared/STRIPE.md` §1-4).

use std::collections::BTreeMap;

use bytes::Bytes;
use hyper::Method;
use serde::Serialize;

use crate::chaos::key;
use crate::domain::FailReason;
use crate::provider::dialects::{
    Answer, ApiError, Call, Decoded, EventKind, EventMeta, NewIntent, NewRefund, Rendered, Route,
};
use crate::provider::form::{Form, Value};
use crate::provider::idempotency::Fingerprint;
use crate::provider::ledger::{Intent, IntentStatus, Refund};
use crate::provider::webhooks::Event;

/// The API version events claim (what the current SDKs send).
pub const API_VERSION: &str = "2026-10-28.endive";

const SEARCH_URL: &str = "/v1/payment_intents/search";

/// Routes the endpoints the mock serves.
pub fn route(method: &Method, path: &str) -> Option<Route> {
    let rest = path.strip_prefix("/v1/")?;
    let segs: Vec<&str> = rest.split('/').collect();
    let post = method == Method::POST;
    let get = method == Method::GET;
    match segs.as_slice() {
        ["payment_intents"] if post => Some(Route::CreateIntent),
        ["payment_intents", "search"] if get => Some(Route::SearchIntents),
        ["payment_intents", id] if get && !id.is_empty() => {
            Some(Route::RetrieveIntent(id.to_string()))
        }
        ["payment_intents", id, "confirm"] if post && !id.is_empty() => {
            Some(Route::ConfirmIntent(id.to_string()))
        }
        ["refunds"] if post => Some(Route::CreateRefund),
        _ => None,
    }
}

/// Decodes the form body (writes) or query string (reads) of a routed request.
pub fn decode(
    route: &Route,
    path: &str,
    query: Option<&str>,
    body: &[u8],
) -> Result<Decoded, ApiError> {
    let raw = if route.is_write() {
        body
    } else {
        query.unwrap_or("").as_bytes()
    };
    let form = Form::parse(raw)?;
    let call = match route {
        Route::CreateIntent => Call::CreateIntent(new_intent(&form)?),
        Route::ConfirmIntent(id) => Call::ConfirmIntent {
            id: id.clone(),
            payment_method: optional(&form, "payment_method"),
        },
        Route::RetrieveIntent(id) => Call::RetrieveIntent { id: id.clone() },
        Route::SearchIntents => {
            let q = required(&form, "query")?;
            let (key, value) = parse_search(q).ok_or_else(|| ApiError::InvalidParam {
                param: "query".into(),
                expected: "metadata['order_id']:'value'",
                got: q.to_string(),
            })?;
            Call::SearchIntents { key, value }
        }
        Route::CreateRefund => Call::CreateRefund(NewRefund {
            payment_intent: required(&form, "payment_intent")?.to_string(),
            amount: form
                .text("amount")
                .map(|s| positive(s, "amount"))
                .transpose()?,
            reason: optional(&form, "reason"),
            metadata: metadata(&form)?,
        }),
    };
    Ok(Decoded {
        call,
        fingerprint: Fingerprint::of(path, form.pairs()),
        endpoint: path.to_string(),
    })
}

fn new_intent(form: &Form) -> Result<NewIntent, ApiError> {
    let amount = positive(required(form, "amount")?, "amount")?;
    let currency = required(form, "currency")?.to_ascii_lowercase();
    if currency.len() != 3 || !currency.bytes().all(|b| b.is_ascii_lowercase()) {
        return Err(ApiError::InvalidParam {
            param: "currency".into(),
            expected: "a three-letter ISO currency code such as usd",
            got: currency,
        });
    }
    let confirm = match form.text("confirm") {
        None => false,
        Some("true") => true,
        Some("false") => false,
        Some(other) => {
            return Err(ApiError::InvalidParam {
                param: "confirm".into(),
                expected: "true or false",
                got: other.to_string(),
            })
        }
    };
    let payment_method = optional(form, "payment_method");
    if confirm && payment_method.is_none() {
        return Err(ApiError::MissingParam {
            param: "payment_method".into(),
        });
    }
    let mut types: Vec<String> = form
        .list("payment_method_types")
        .into_iter()
        .map(str::to_string)
        .collect();
    if types.is_empty() {
        types.push("card".into());
    }
    Ok(NewIntent {
        amount,
        currency,
        payment_method,
        confirm,
        metadata: metadata(form)?,
        capture_method: optional(form, "capture_method"),
        description: optional(form, "description"),
        customer: optional(form, "customer"),
        payment_method_types: types,
    })
}

fn required<'a>(form: &'a Form, param: &str) -> Result<&'a str, ApiError> {
    form.text(param)
        .filter(|s| !s.is_empty())
        .ok_or_else(|| ApiError::MissingParam {
            param: param.to_string(),
        })
}

fn optional(form: &Form, param: &str) -> Option<String> {
    form.text(param)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
}

fn positive(s: &str, param: &str) -> Result<u64, ApiError> {
    s.parse::<u64>()
        .ok()
        .filter(|&n| n > 0)
        .ok_or_else(|| ApiError::InvalidParam {
            param: param.to_string(),
            expected: "a positive integer in the currency's minor unit",
            got: s.to_string(),
        })
}

/// `metadata[k]=v` pairs; `metadata=` (empty) means none, as in Stripe.
fn metadata(form: &Form) -> Result<BTreeMap<String, String>, ApiError> {
    let invalid = |got: &str| ApiError::InvalidParam {
        param: "metadata".into(),
        expected: "a hash of strings such as metadata[order_id]=ord-000001",
        got: got.to_string(),
    };
    match form.value("metadata") {
        None => Ok(BTreeMap::new()),
        Some(Value::Text(s)) if s.is_empty() => Ok(BTreeMap::new()),
        Some(Value::Text(s)) => Err(invalid(s)),
        Some(Value::Nested(map)) => map
            .iter()
            .map(|(k, v)| match v {
                Value::Text(s) => Ok((k.clone(), s.clone())),
                Value::Nested(_) => Err(invalid(&format!("metadata[{k}][…]"))),
            })
            .collect(),
    }
}

/// `metadata['key']:'value'` (single or double quotes, `\` escapes) → `(key, value)`.
pub fn parse_search(query: &str) -> Option<(String, String)> {
    let rest = query.trim().strip_prefix("metadata[")?;
    let (key, rest) = quoted(rest)?;
    let rest = rest.strip_prefix(']')?.trim_start().strip_prefix(':')?;
    let (value, rest) = quoted(rest.trim_start())?;
    rest.trim().is_empty().then_some((key, value))
}

fn quoted(s: &str) -> Option<(String, &str)> {
    let mut chars = s.char_indices();
    let (_, q) = chars.next().filter(|(_, c)| *c == '\'' || *c == '"')?;
    let mut out = String::new();
    let mut escaped = false;
    for (i, c) in chars {
        match c {
            _ if escaped => {
                out.push(c);
                escaped = false;
            }
            '\\' => escaped = true,
            _ if c == q => return Some((out, &s[i + 1..])),
            _ => out.push(c),
        }
    }
    None
}

/// The HTTP status of an answer.
pub fn status(answer: &Answer) -> u16 {
    match answer {
        Answer::Intent(_) | Answer::Search(_) | Answer::Refund(_) => 200,
        Answer::Declined(_) => 402,
        Answer::Error(e) => match e {
            ApiError::MissingApiKey | ApiError::InvalidApiKey { .. } => 401,
            ApiError::UnknownRoute { .. } | ApiError::NoSuchIntent { .. } => 404,
            ApiError::KeyInUse { .. } => 409,
            ApiError::RateLimited => 429,
            ApiError::ServerError => 500,
            _ => 400,
        },
    }
}

/// Renders an answer, and the event of a charge when `event` is given.
pub fn render(answer: &Answer, event: Option<EventMeta<'_>>) -> (Rendered, Option<Event>) {
    let status = status(answer);
    let (body, event) = match answer {
        Answer::Intent(it) => {
            let pi = intent_json(it);
            let ev = event.map(|m| event_for(&m, it, &pi));
            (pi, ev)
        }
        Answer::Declined(it) => {
            let pi = intent_json(it);
            let ev = event.map(|m| event_for(&m, it, &pi));
            (decline_json(it, &pi), ev)
        }
        Answer::Search(list) => {
            let data: Vec<String> = list.iter().map(intent_json).collect();
            let body = format!(
                "{{\"object\":\"search_result\",\"url\":\"{SEARCH_URL}\",\"has_more\":false,\"next_page\":null,\"data\":[{}]}}",
                data.join(",")
            );
            (body, None)
        }
        Answer::Refund(r) => (to_json(&RefundJson::from(r)), None),
        Answer::Error(e) => (error_json(e), None),
    };
    let should_retry = matches!(answer, Answer::Error(ApiError::ServerError)).then_some(true);
    let rendered = Rendered {
        status,
        body: Bytes::from(body),
        should_retry,
    };
    (rendered, event)
}

fn to_json<T: Serialize>(v: &T) -> String {
    serde_json::to_string(v).expect("plain structs serialise")
}

#[derive(Serialize)]
struct IntentJson<'a> {
    id: &'a str,
    object: &'static str,
    amount: u64,
    amount_capturable: u64,
    amount_received: u64,
    currency: &'a str,
    status: &'static str,
    capture_method: &'a str,
    confirmation_method: &'static str,
    client_secret: String,
    created: u64,
    livemode: bool,
    metadata: &'a BTreeMap<String, String>,
    payment_method: Option<&'a str>,
    payment_method_types: &'a [String],
    latest_charge: Option<&'a str>,
    last_payment_error: Option<CardErrorJson<'a>>,
    next_action: Option<()>,
    canceled_at: Option<()>,
    cancellation_reason: Option<()>,
    description: Option<&'a str>,
    customer: Option<&'a str>,
}

#[derive(Serialize)]
struct CardErrorJson<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    code: &'static str,
    decline_code: &'static str,
    message: &'static str,
    charge: &'a str,
    doc_url: &'static str,
}

fn card_error<'a>(reason: FailReason, charge: &'a str) -> CardErrorJson<'a> {
    let (decline_code, message) = match reason {
        FailReason::InsufficientFunds => {
            ("insufficient_funds", "Your card has insufficient funds.")
        }
        FailReason::RiskBlocked => ("fraudulent", "Your card was declined."),
        FailReason::ProviderError => (
            "processing_error",
            "An error occurred while processing your card. Try again in a little bit.",
        ),
        FailReason::Declined => ("generic_decline", "Your card was declined."),
    };
    CardErrorJson {
        kind: "card_error",
        code: "card_declined",
        decline_code,
        message,
        charge,
        doc_url: "https://stripe.com/docs/error-codes/card-declined",
    }
}

/// The PaymentIntent object (STRIPE.md §2).
pub fn intent_json(it: &Intent) -> String {
    to_json(&IntentJson {
        id: &it.id,
        object: "payment_intent",
        amount: it.amount,
        amount_capturable: 0,
        amount_received: if it.status == IntentStatus::Succeeded {
            it.amount
        } else {
            0
        },
        currency: &it.currency,
        status: it.status.as_str(),
        capture_method: it.capture_method.as_deref().unwrap_or("automatic_async"),
        confirmation_method: "automatic",
        client_secret: format!(
            "{}_secret_{:016x}",
            it.id,
            key::hash(0, "secret", &[it.id.as_bytes()])
        ),
        created: it.created,
        livemode: false,
        metadata: &it.metadata,
        payment_method: it.payment_method.as_deref(),
        payment_method_types: &it.payment_method_types,
        latest_charge: it.latest_charge.as_deref(),
        last_payment_error: it
            .last_error
            .as_ref()
            .map(|d| card_error(d.reason, &d.charge)),
        next_action: None,
        canceled_at: None,
        cancellation_reason: None,
        description: it.description.as_deref(),
        customer: it.customer.as_deref(),
    })
}

/// The 402 envelope: the card error plus the declined intent.
fn decline_json(it: &Intent, pi: &str) -> String {
    let (reason, charge) = match &it.last_error {
        Some(d) => (d.reason, d.charge.as_str()),
        None => (
            FailReason::Declined,
            it.latest_charge.as_deref().unwrap_or(""),
        ),
    };
    let mut head = to_json(&card_error(reason, charge));
    head.pop(); // reopen the object to append the intent without re-serialising it
    format!("{{\"error\":{head},\"payment_intent\":{pi}}}}}")
}

#[derive(Serialize)]
struct RefundJson<'a> {
    id: &'a str,
    object: &'static str,
    amount: u64,
    charge: Option<&'a str>,
    currency: &'a str,
    payment_intent: &'a str,
    status: &'static str,
    reason: Option<&'a str>,
    metadata: &'a BTreeMap<String, String>,
    created: u64,
}

impl<'a> From<&'a Refund> for RefundJson<'a> {
    fn from(r: &'a Refund) -> RefundJson<'a> {
        RefundJson {
            id: &r.id,
            object: "refund",
            amount: r.amount,
            charge: r.charge.as_deref(),
            currency: &r.currency,
            payment_intent: &r.payment_intent,
            status: "succeeded",
            reason: r.reason.as_deref(),
            metadata: &r.metadata,
            created: r.created,
        }
    }
}

#[derive(Serialize)]
struct ErrorJson<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    code: Option<&'static str>,
    message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    param: Option<&'a str>,
}

#[derive(Serialize)]
struct Envelope<'a> {
    error: ErrorJson<'a>,
}

/// Stripe's `{"error":{…}}` for a refused request.
fn error_json(e: &ApiError) -> String {
    const INVALID: &str = "invalid_request_error";
    let (kind, code, param, message): (_, _, Option<&str>, String) = match e {
        ApiError::MissingApiKey => ("authentication_error", None, None, "You did not provide an API key. You need to provide your API key in the Authorization header, using Bearer auth (e.g. 'Authorization: Bearer YOUR_SECRET_KEY').".into()),
        ApiError::InvalidApiKey { header } => ("authentication_error", None, None, format!("Invalid API Key provided: {header}")),
        ApiError::UnknownRoute { method, path } => (INVALID, None, None, format!("Unrecognized request URL ({method}: {path}). Please see https://stripe.com/docs or we can help at https://support.stripe.com/.")),
        ApiError::BodyTooLarge { limit } => (INVALID, None, None, format!("The request body is larger than {limit} bytes.")),
        ApiError::Form(f) => (INVALID, None, Some(f.name()), format!("Invalid request: {f}.")),
        ApiError::MissingParam { param } => (INVALID, Some("parameter_missing"), Some(param.as_str()), format!("Missing required param: {param}.")),
        ApiError::InvalidParam { param, expected, got } => (INVALID, Some("parameter_invalid"), Some(param.as_str()), format!("Invalid {param}: expected {expected}, got '{got}'.")),
        ApiError::KeyTooLong { len } => (INVALID, None, None, format!("Idempotency-Key length must be less than or equal to 255 characters (got {len}).")),
        ApiError::NoSuchIntent { id } => (INVALID, Some("resource_missing"), Some("intent"), format!("No such payment_intent: '{id}'")),
        ApiError::UnknownIntentParam { param, id } => (INVALID, Some("resource_missing"), Some(param.as_str()), format!("No such payment_intent: '{id}'")),
        ApiError::UnexpectedState { status, action, .. } => (INVALID, Some("payment_intent_unexpected_state"), None, format!("You cannot {action} this PaymentIntent because it has a status of {}.", status.as_str())),
        ApiError::AlreadyRefunded { id } => (INVALID, Some("charge_already_refunded"), None, format!("The charge of PaymentIntent {id} has already been refunded.")),
        ApiError::RefundTooLarge { amount, remaining } => (INVALID, Some("amount_too_large"), Some("amount"), format!("Refund amount ({amount}) is greater than unrefunded amount on charge ({remaining}).")),
        ApiError::IdempotencyParams { key } => ("idempotency_error", None, None, format!("Keys for idempotent requests can only be used with the same parameters they were first used with. Try using a key other than '{key}' if you meant to execute a different request.")),
        ApiError::IdempotencyEndpoint { key, first, now } => ("idempotency_error", None, None, format!("Keys for idempotent requests can only be used for the same endpoint they were first used for ('{first}' vs '{now}'). Try using a key other than '{key}' if you meant to execute a different request.")),
        ApiError::KeyInUse { key } => (INVALID, Some("idempotency_key_in_use"), None, format!("There is currently another in-progress request using this Idempotent Key (that probably means you submitted twice, and the other request is still going through): {key}. Please try again later.")),
        ApiError::ServerError => ("api_error", None, None, "An unknown error occurred".into()),
        ApiError::RateLimited => (INVALID, Some("rate_limit"), None, "Request rate limit exceeded.".into()),
    };
    to_json(&Envelope {
        error: ErrorJson {
            kind,
            code,
            message,
            param,
        },
    })
}

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

/// The event id of `event_type` for `payment_id`: `evt_` + the hash in hex.
pub fn event_id(seed: u64, payment_id: &str, event_type: &str) -> String {
    let h = key::hash(seed, "evt", &[payment_id.as_bytes(), event_type.as_bytes()]);
    format!("evt_{h:016x}")
}

fn event_for(meta: &EventMeta<'_>, it: &Intent, pi: &str) -> Event {
    let kind = match meta.kind {
        EventKind::Succeeded => "payment_intent.succeeded",
        EventKind::PaymentFailed => "payment_intent.payment_failed",
    };
    let mut id = event_id(meta.seed, &it.id, kind);
    // A payment charged again (confirmed after a soft decline) makes events of a type it
    // already had: each event keeps an id of its own, as Stripe's do.
    if it.charges > 1 {
        let h = key::hash(
            meta.seed,
            "evt",
            &[it.id.as_bytes(), kind.as_bytes(), &it.charges.to_le_bytes()],
        );
        id = format!("evt_{h:016x}");
    }
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
    let body = format!("{head},\"data\":{{\"object\":{pi}}}}}");
    Event {
        id,
        event_type: kind.to_string(),
        order_id: it.order_id().map(str::to_string),
        payment_id: Some(it.id.clone()),
        body: Bytes::from(body),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::provider::ledger::Decline;
    use serde_json::Value as Json;

    fn intent(status: IntentStatus) -> Intent {
        Intent {
            id: "pi_1".into(),
            amount: 1234,
            currency: "usd".into(),
            status,
            payment_method: Some("pm_card_visa".into()),
            metadata: BTreeMap::from([("order_id".into(), "ord-000001".into())]),
            created: 1_700_000_000,
            latest_charge: Some("ch_1".into()),
            last_error: None,
            amount_refunded: 0,
            capture_method: None,
            description: None,
            customer: None,
            payment_method_types: vec!["card".into()],
            charges: 1,
            refunds: 0,
        }
    }

    fn json(b: &Bytes) -> Json {
        serde_json::from_slice(b).expect("valid json")
    }

    #[test]
    fn routes_the_served_endpoints_only() {
        let r = |m: Method, p: &str| route(&m, p);
        assert_eq!(
            r(Method::POST, "/v1/payment_intents"),
            Some(Route::CreateIntent)
        );
        assert_eq!(
            r(Method::GET, "/v1/payment_intents/search"),
            Some(Route::SearchIntents)
        );
        assert_eq!(
            r(Method::GET, "/v1/payment_intents/pi_1"),
            Some(Route::RetrieveIntent("pi_1".into()))
        );
        assert_eq!(
            r(Method::POST, "/v1/payment_intents/pi_1/confirm"),
            Some(Route::ConfirmIntent("pi_1".into()))
        );
        assert_eq!(r(Method::POST, "/v1/refunds"), Some(Route::CreateRefund));
        for (m, p) in [
            (Method::GET, "/v1/payment_intents"),
            (Method::POST, "/v1/payment_intents/search"),
            (Method::GET, "/v1/payment_intents/"),
            (Method::GET, "/v1/x"),
            (Method::GET, "/payment_intents/pi_1"),
            (Method::DELETE, "/v1/refunds"),
        ] {
            assert_eq!(r(m.clone(), p), None, "{m} {p}");
        }
    }

    #[test]
    fn create_decodes_the_sdk_body() {
        let body = b"amount=1000&currency=USD&payment_method=pm_card_visa&confirm=true&metadata[order_id]=o1&automatic_payment_methods[enabled]=true&expand[0]=latest_charge&payment_method_types[0]=card";
        let d = decode(&Route::CreateIntent, "/v1/payment_intents", None, body).unwrap();
        let Call::CreateIntent(p) = d.call else {
            panic!("create")
        };
        assert_eq!(p.amount, 1000);
        assert_eq!(p.currency, "usd");
        assert!(p.confirm);
        assert_eq!(p.metadata.get("order_id").map(String::as_str), Some("o1"));
        assert_eq!(p.payment_method_types, vec!["card"]);
        assert_eq!(d.endpoint, "/v1/payment_intents");
    }

    #[test]
    fn create_refuses_missing_or_invalid_params_naming_them() {
        let dec = |b: &str| {
            decode(
                &Route::CreateIntent,
                "/v1/payment_intents",
                None,
                b.as_bytes(),
            )
        };
        let param = |r: Result<Decoded, ApiError>| match r.unwrap_err() {
            ApiError::MissingParam { param } | ApiError::InvalidParam { param, .. } => param,
            other => panic!("unexpected {other:?}"),
        };
        assert_eq!(param(dec("currency=usd")), "amount");
        assert_eq!(param(dec("amount=0&currency=usd")), "amount");
        assert_eq!(param(dec("amount=-5&currency=usd")), "amount");
        assert_eq!(param(dec("amount=10")), "currency");
        assert_eq!(param(dec("amount=10&currency=dollars")), "currency");
        assert_eq!(param(dec("amount=10&currency=usd&confirm=yes")), "confirm");
        assert_eq!(
            param(dec("amount=10&currency=usd&confirm=true")),
            "payment_method"
        );
        assert_eq!(param(dec("amount=10&currency=usd&metadata=x")), "metadata");
        assert!(matches!(
            dec("amount=10&currency=usd&metadata[a=1"),
            Err(ApiError::Form(_))
        ));
    }

    #[test]
    fn search_query_accepts_both_quote_styles() {
        assert_eq!(
            parse_search("metadata['order_id']:'ord-000001'"),
            Some(("order_id".into(), "ord-000001".into()))
        );
        assert_eq!(
            parse_search(" metadata[\"order_id\"] : \"ord-000001\" "),
            Some(("order_id".into(), "ord-000001".into()))
        );
        assert_eq!(
            parse_search(r"metadata['note']:'it\'s'"),
            Some(("note".into(), "it's".into()))
        );
        for bad in [
            "status:'succeeded'",
            "metadata['order_id']:ord-1",
            "metadata['order_id':'x'",
            "metadata['order_id']:'x' AND status:'succeeded'",
            "metadata['order_id']:'x",
        ] {
            assert_eq!(parse_search(bad), None, "{bad}");
        }
        let d = decode(
            &Route::SearchIntents,
            SEARCH_URL,
            Some("query=metadata%5B%27order_id%27%5D%3A%27ord-000001%27"),
            b"",
        )
        .unwrap();
        assert_eq!(
            d.call,
            Call::SearchIntents {
                key: "order_id".into(),
                value: "ord-000001".into()
            }
        );
    }

    #[test]
    fn refund_amount_is_optional_but_positive() {
        let dec = |b: &str| decode(&Route::CreateRefund, "/v1/refunds", None, b.as_bytes());
        let Call::CreateRefund(r) = dec("payment_intent=pi_1").unwrap().call else {
            panic!("refund")
        };
        assert_eq!(r.amount, None);
        let Call::CreateRefund(r) = dec("payment_intent=pi_1&amount=5").unwrap().call else {
            panic!("refund")
        };
        assert_eq!(r.amount, Some(5));
        assert!(dec("amount=5").is_err());
        assert!(dec("payment_intent=pi_1&amount=0").is_err());
    }

    #[test]
    fn intent_renders_as_stripe_payment_intent() {
        let (r, ev) = render(
            &Answer::Intent(Box::new(intent(IntentStatus::Succeeded))),
            None,
        );
        assert_eq!(r.status, 200);
        assert!(ev.is_none());
        let v = json(&r.body);
        assert_eq!(v["object"], "payment_intent");
        assert_eq!(v["status"], "succeeded");
        assert_eq!(v["amount_received"], 1234);
        assert_eq!(v["metadata"]["order_id"], "ord-000001");
        assert_eq!(v["latest_charge"], "ch_1");
        assert!(v["last_payment_error"].is_null());
        assert!(v["client_secret"]
            .as_str()
            .unwrap()
            .starts_with("pi_1_secret_"));
    }

    #[test]
    fn decline_renders_card_error_with_the_intent_and_an_event() {
        let mut it = intent(IntentStatus::RequiresPaymentMethod);
        it.payment_method = None;
        it.last_error = Some(Decline {
            reason: FailReason::RiskBlocked,
            charge: "ch_1".into(),
            payment_method: Some("pm_card_visa".into()),
        });
        let meta = EventMeta {
            kind: EventKind::PaymentFailed,
            seed: 7,
            request_id: "req_1",
            idempotency_key: Some("ord-000001:charge"),
            created: 1,
        };
        let (r, ev) = render(&Answer::Declined(Box::new(it)), Some(meta));
        assert_eq!(r.status, 402);
        let v = json(&r.body);
        assert_eq!(v["error"]["type"], "card_error");
        assert_eq!(v["error"]["code"], "card_declined");
        assert_eq!(v["error"]["decline_code"], "fraudulent");
        assert_eq!(v["error"]["charge"], "ch_1");
        let pi = &v["error"]["payment_intent"];
        assert_eq!(pi["status"], "requires_payment_method");
        assert_eq!(pi["last_payment_error"]["decline_code"], "fraudulent");
        let ev = ev.expect("an event");
        assert_eq!(ev.event_type, "payment_intent.payment_failed");
        assert_eq!(ev.id, event_id(7, "pi_1", "payment_intent.payment_failed"));
        assert_eq!(ev.order_id.as_deref(), Some("ord-000001"));
        let e = json(&ev.body);
        assert_eq!(e["id"], ev.id.as_str());
        assert_eq!(e["object"], "event");
        assert_eq!(e["type"], "payment_intent.payment_failed");
        assert_eq!(e["request"]["idempotency_key"], "ord-000001:charge");
        assert_eq!(e["data"]["object"]["metadata"]["order_id"], "ord-000001");
        assert_eq!(
            e["data"]["object"]["last_payment_error"]["decline_code"],
            "fraudulent"
        );
    }

    #[test]
    fn a_payment_charged_again_gets_events_with_ids_of_their_own() {
        let meta = || EventMeta {
            kind: EventKind::PaymentFailed,
            seed: 7,
            request_id: "req_1",
            idempotency_key: None,
            created: 1,
        };
        let mut it = intent(IntentStatus::RequiresPaymentMethod);
        it.last_error = Some(Decline {
            reason: FailReason::ProviderError,
            charge: "ch_1".into(),
            payment_method: None,
        });
        let first = render(&Answer::Declined(Box::new(it.clone())), Some(meta())).1;
        it.charges = 2;
        let second = render(&Answer::Declined(Box::new(it)), Some(meta())).1;
        let (a, b) = (first.unwrap(), second.unwrap());
        assert_eq!(a.id, event_id(7, "pi_1", "payment_intent.payment_failed"));
        assert_ne!(a.id, b.id);
        assert_eq!(
            json(&b.body)["data"]["object"]["last_payment_error"]["decline_code"],
            "processing_error"
        );
    }

    #[test]
    fn errors_use_the_envelope_status_and_retry_hint() {
        let cases = [
            (ApiError::ServerError, 500, "api_error", None),
            (
                ApiError::RateLimited,
                429,
                "invalid_request_error",
                Some("rate_limit"),
            ),
            (
                ApiError::KeyInUse { key: "k".into() },
                409,
                "invalid_request_error",
                Some("idempotency_key_in_use"),
            ),
            (
                ApiError::IdempotencyParams { key: "k".into() },
                400,
                "idempotency_error",
                None,
            ),
            (ApiError::MissingApiKey, 401, "authentication_error", None),
            (
                ApiError::NoSuchIntent { id: "pi_x".into() },
                404,
                "invalid_request_error",
                Some("resource_missing"),
            ),
            (
                ApiError::RefundTooLarge {
                    amount: 5,
                    remaining: 4,
                },
                400,
                "invalid_request_error",
                Some("amount_too_large"),
            ),
        ];
        for (err, want_status, want_type, want_code) in cases {
            let (r, _) = render(&Answer::Error(err.clone()), None);
            assert_eq!(r.status, want_status, "{err}");
            let v = json(&r.body);
            assert_eq!(v["error"]["type"], want_type, "{err}");
            assert_eq!(v["error"]["code"].as_str(), want_code, "{err}");
            assert!(v["error"]["message"]
                .as_str()
                .is_some_and(|m| !m.is_empty()));
            assert_eq!(r.should_retry, (want_status == 500).then_some(true));
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
    fn search_result_lists_every_intent() {
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
        let (r, _) = render(&Answer::Search(vec![]), None);
        assert_eq!(json(&r.body)["data"], Json::Array(vec![]));
    }
}
