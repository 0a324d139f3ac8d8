//! The customer's way back from a 3D Secure challenge (the gateway's cashier page comes back
//! here too and is read by `gateway_return`): the `return_url` the checkout hands
//! the provider (`/return/{order_id}`), the checkout answer that sends the customer to the
//! challenge page (`redirect_url`), and the return page, which *retrieves the intent* to
//! learn the outcome: `redirect_status` in the query is the browser's word, and anyone can
//! type it. Fulfilment still comes from the webhook (or this retrieval), never from the
//! query, so a customer who never comes back still ends paid.

use std::sync::Arc;

use bytes::Bytes;
use http_body_util::Full;
use hyper::{Request, Response, StatusCode};
use serde_json::{json, Value};

use super::api::ProviderApi;
use super::handlers::{checkout_answer, json_error, json_response};
use super::provider_client::{encode, intent_state, is_soft, IntentState};
use super::store::{Order, Settlement};
use super::Shared;
use crate::domain::FailReason;
use crate::net;
use crate::scenario::flaws::Flaw;

/// Where the return pages are served.
pub const RETURN_PREFIX: &str = "/return/";

/// What the customer is told while the bank asks them to authenticate.
pub const AUTHENTICATE_MESSAGE: &str =
    "Your bank asks you to confirm this payment. Please complete the authentication on the page we are sending you to.";

/// The `return_url` of `order_id`'s charge (Stripe's 3D Secure challenge and the gateway's
/// cashier page alike).
pub(crate) fn return_url(shared: &Shared, order_id: &str) -> Option<String> {
    // The flawed one points at a page nobody serves (a path renamed in one place only).
    let prefix = if shared.cfg.reference.flaws.has(Flaw::WrongReturnUrl) {
        "/checkout/return/"
    } else {
        RETURN_PREFIX
    };
    Some(format!("{}{prefix}{}", shared.own_url, encode(order_id)))
}

/// Remembers that `order_id`'s payment went through a redirect (only the flawed merchant
/// that fulfils on return alone needs to know).
pub(crate) fn note_redirect(shared: &Shared, order_id: &str) {
    if shared.cfg.reference.flaws.has(Flaw::FulfilOnReturnOnly) {
        shared.redirected().insert(order_id.to_string());
    }
}

/// Whether news about `order_id` other than its return page is ignored: only with
/// `fulfil_on_return_only`, for a redirected payment.
pub(crate) fn waits_for_return(shared: &Shared, order_id: &str) -> bool {
    shared.cfg.reference.flaws.has(Flaw::FulfilOnReturnOnly)
        && shared.redirected().contains(order_id)
}

/// What the customer is told while the gateway's cashier page waits for them.
pub const CASHIER_MESSAGE: &str =
    "Please pay on the payment page we are sending you to. We confirm your order as soon as the payment service tells us it is paid.";

/// The checkout answer of an order whose card needs authentication (or whose gateway trade
/// waits on its cashier page): pending, and where to send the customer (`redirect_url`).
pub(crate) fn redirect_answer(o: &Order, url: &str) -> Response<Full<Bytes>> {
    // The page's URL says whose it is: a channel's dialect is not known here.
    let message = if url.contains(crate::gateway::CASHIER_PATH) {
        CASHIER_MESSAGE
    } else {
        AUTHENTICATE_MESSAGE
    };
    let body = json!({
        "order_id": o.order_id,
        "status": "pending",
        "reason": Value::Null,
        "message": message,
        "redirect_url": url,
    });
    json_response(StatusCode::ACCEPTED, &body)
}

/// `GET /return/{order_id}?payment_intent=…&redirect_status=…`: retrieves the intent named,
/// checks that it pays this order, settles the order from what the provider says, and tells
/// the customer where the order stands, in the words of the checkout answer.
pub(crate) async fn return_page(
    shared: Arc<Shared>,
    req: Request<net::Body>,
) -> Response<Full<Bytes>> {
    let order_id = req.uri().path()[RETURN_PREFIX.len()..].to_string();
    let order_id = percent_decode(&order_id);
    let query = req.uri().query().unwrap_or("");
    let payment_id = form_urlencoded::parse(query.as_bytes())
        .find(|(k, _)| k == "payment_intent")
        .map(|(_, v)| v.into_owned());
    // The gateway's cashier sends the browser back with its own signed parameters.
    if payment_id.is_none() && super::gateway_return::is_gateway_return(query) {
        return super::gateway_return::return_page(shared, &order_id, query).await;
    }
    let Some(payment_id) = payment_id else {
        return json_error(
            StatusCode::BAD_REQUEST,
            "the return page needs ?payment_intent=pi_… (as the provider's redirect sends)",
        );
    };
    if shared.store.get(&order_id).is_none() {
        return json_error(
            StatusCode::NOT_FOUND,
            &format!("no order with id '{order_id}'"),
        );
    }
    let trusted = shared.cfg.reference.flaws.has(Flaw::TrustReturnParams)
        && form_urlencoded::parse(query.as_bytes())
            .any(|(k, v)| k == "redirect_status" && v == "succeeded");
    let settlement = if trusted {
        Some(Settlement::Paid {
            payment_id: payment_id.clone(),
        })
    } else {
        retrieved_settlement(&shared, &order_id, &payment_id).await
    };
    if let Some(s) = settlement {
        let effect = shared.store.settle(&order_id, &s);
        super::handlers::run_effect(&shared, effect);
    }
    match shared.store.get(&order_id) {
        Some(o) => checkout_answer(&o, shared.cfg.reference.flaws),
        None => json_error(StatusCode::INTERNAL_SERVER_ERROR, "order vanished"),
    }
}

/// What the provider says of `payment_id`, if it pays `order_id` and has an outcome.
/// `None` (no news) when it cannot be read, belongs to another order, or is still open.
async fn retrieved_settlement(
    shared: &Shared,
    order_id: &str,
    payment_id: &str,
) -> Option<Settlement> {
    // The challenge is a Stripe-shaped channel's: ask each in routing order (an id another
    // channel did not mint is unknown there).
    let mut found = None;
    for ch in &shared.channels {
        let ProviderApi::Stripe(client) = &ch.api else {
            continue;
        };
        match client.retrieve_intent(payment_id).await {
            Ok(pi) => {
                found = Some(pi);
                break;
            }
            Err(e) => tracing::debug!("return page of {order_id}: {e}"),
        }
    }
    let pi = found?;
    // A return naming another order's payment proves nothing about this one.
    if pi["metadata"]["order_id"].as_str() != Some(order_id) {
        return None;
    }
    settlement_of(&pi)
}

/// The settlement a retrieved intent proves.
pub fn settlement_of(pi: &Value) -> Option<Settlement> {
    match intent_state(pi) {
        IntentState::Succeeded => Some(Settlement::Paid {
            payment_id: pi["id"].as_str()?.to_string(),
        }),
        IntentState::Declined(r) if is_soft(r) => Some(Settlement::SoftDeclined),
        IntentState::Declined(r) => Some(Settlement::Failed(r)),
        IntentState::Open
            if pi["status"] == "canceled" && pi["cancellation_reason"] == "automatic" =>
        {
            Some(Settlement::Failed(FailReason::ProviderError))
        }
        IntentState::Open => None,
    }
}

/// `%XX` sequences of a path segment decoded (order ids are plain, but a merchant's
/// return URL is percent-encoded by whoever builds it).
fn percent_decode(s: &str) -> String {
    let pairs = format!("x={}", s.replace('+', "%2B"));
    form_urlencoded::parse(pairs.as_bytes())
        .next()
        .map_or_else(|| s.to_string(), |(_, v)| v.into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_retrieved_intent_settles_only_when_it_has_an_outcome() {
        let paid = json!({"id":"pi_1","status":"succeeded","metadata":{"order_id":"o1"}});
        assert_eq!(
            settlement_of(&paid),
            Some(Settlement::Paid {
                payment_id: "pi_1".into()
            })
        );
        let failed = json!({"id":"pi_1","status":"requires_payment_method",
            "last_payment_error":{"code":"payment_intent_authentication_failure"}});
        assert_eq!(
            settlement_of(&failed),
            Some(Settlement::Failed(FailReason::Declined))
        );
        let waiting = json!({"id":"pi_1","status":"requires_action"});
        assert_eq!(settlement_of(&waiting), None);
        let expired = json!({"id":"pi_1","status":"canceled","cancellation_reason":"automatic"});
        assert_eq!(
            settlement_of(&expired),
            Some(Settlement::Failed(FailReason::ProviderError))
        );
    }

    #[test]
    fn order_ids_in_the_path_are_decoded() {
        assert_eq!(percent_decode("ord-a%3Ab"), "ord-a:b");
        assert_eq!(percent_decode("ord-1+2"), "ord-1+2");
    }
}
