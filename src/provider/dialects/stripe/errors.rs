//! Stripe's `{"error":{…}}` envelope for refused requests: type, code, param and a message
//! worded as Stripe words it, so the SDKs raise the same exception classes (STRIPE.md §3).

use serde::Serialize;

use crate::provider::dialects::ApiError;
use crate::provider::ledger::IntentStatus;

use super::objects::to_json;

#[derive(Serialize)]
struct ErrorJson<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    code: Option<&'static str>,
    message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    param: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    doc_url: Option<String>,
}

#[derive(Serialize)]
struct Envelope<'a> {
    error: ErrorJson<'a>,
}

const INVALID: &str = "invalid_request_error";

/// "You cannot cancel this PaymentIntent because it has a status of succeeded. …"
fn unexpected_state(action: &str, status: IntentStatus) -> String {
    let s = status.as_str();
    match action {
        "cancel" => format!("You cannot cancel this PaymentIntent because it has a status of {s}. Only a PaymentIntent with one of the following statuses may be canceled: requires_payment_method, requires_capture, requires_confirmation, requires_action, processing."),
        "capture" => format!("This PaymentIntent could not be captured because it has a status of {s}. Only a PaymentIntent with one of the following statuses may be captured: requires_capture."),
        "update" => format!("You cannot update this PaymentIntent's payment details because it has a status of {s}. Only metadata and description may be updated now."),
        "refund" => format!("This PaymentIntent has a status of {s}: only a succeeded PaymentIntent's charge can be refunded."),
        _ => format!("You cannot {action} this PaymentIntent because it has a status of {s}."),
    }
}

/// Stripe's `{"error":{…}}` for a refused request.
pub fn error_json(e: &ApiError) -> String {
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
        ApiError::NoSuchObject { object, id, param } => (INVALID, Some("resource_missing"), Some(param.unwrap_or("id")), format!("No such {object}: '{id}'")),
        ApiError::ExclusiveParams { first, second } => (INVALID, None, None, format!("You may only specify one of these parameters: {first}, {second}.")),
        ApiError::CaptureTooLarge { amount, capturable } => (INVALID, Some("amount_too_large"), Some("amount_to_capture"), format!("The amount to capture ({amount}) is greater than the amount capturable ({capturable}).")),
        ApiError::UnknownIntentParam { param, id } => (INVALID, Some("resource_missing"), Some(param.as_str()), format!("No such payment_intent: '{id}'")),
        ApiError::UnexpectedState { status, action, .. } => (INVALID, Some("payment_intent_unexpected_state"), None, unexpected_state(action, *status)),
        ApiError::AlreadyRefunded { id } => (INVALID, Some("charge_already_refunded"), None, format!("The charge of PaymentIntent {id} has already been refunded.")),
        ApiError::RefundTooLarge { amount, remaining } => (INVALID, Some("amount_too_large"), Some("amount"), format!("Refund amount ({amount}) is greater than unrefunded amount on charge ({remaining}).")),
        ApiError::IdempotencyParams { key } => ("idempotency_error", None, None, format!("Keys for idempotent requests can only be used with the same parameters they were first used with. Try using a key other than '{key}' if you meant to execute a different request.")),
        ApiError::IdempotencyEndpoint { key, first, now } => ("idempotency_error", None, None, format!("Keys for idempotent requests can only be used for the same endpoint they were first used for ('{first}' vs '{now}'). Try using a key other than '{key}' if you meant to execute a different request.")),
        ApiError::KeyInUse { key } => (INVALID, Some("idempotency_key_in_use"), None, format!("There is currently another in-progress request using this Idempotent Key (that probably means you submitted twice, and the other request is still going through): {key}. Please try again later.")),
        ApiError::ServerError => ("api_error", None, None, "An unknown error occurred".into()),
        ApiError::RateLimited => (INVALID, Some("rate_limit"), None, "Request rate limit exceeded.".into()),
        // Stripe's concurrency limiter answers with the same envelope as its rate limiter.
        ApiError::Overloaded { cap } => (INVALID, Some("rate_limit"), None, format!("Request rate limit exceeded: too many concurrent requests (at most {cap} at once). Retry after a moment.")),
    };
    to_json(&Envelope {
        error: ErrorJson {
            kind,
            code,
            message,
            param,
            doc_url: code.map(|c| {
                format!(
                    "https://stripe.com/docs/error-codes/{}",
                    c.replace('_', "-")
                )
            }),
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    fn parse(e: &ApiError) -> Value {
        serde_json::from_str(&error_json(e)).expect("valid json")
    }

    #[test]
    fn unexpected_state_names_the_action_and_status() {
        let v = parse(&ApiError::UnexpectedState {
            id: "pi_1".into(),
            status: IntentStatus::Succeeded,
            action: "cancel",
        });
        assert_eq!(v["error"]["type"], "invalid_request_error");
        assert_eq!(v["error"]["code"], "payment_intent_unexpected_state");
        assert!(v["error"]["message"].as_str().unwrap().starts_with(
            "You cannot cancel this PaymentIntent because it has a status of succeeded."
        ));
        let cap = parse(&ApiError::UnexpectedState {
            id: "pi_1".into(),
            status: IntentStatus::RequiresPaymentMethod,
            action: "capture",
        });
        assert!(cap["error"]["message"]
            .as_str()
            .unwrap()
            .contains("status of requires_payment_method"));
    }

    #[test]
    fn missing_objects_name_the_parameter_or_the_id() {
        let v = parse(&ApiError::NoSuchObject {
            object: "charge",
            id: "ch_x".into(),
            param: None,
        });
        assert_eq!(v["error"]["code"], "resource_missing");
        assert_eq!(v["error"]["message"], "No such charge: 'ch_x'");
        assert_eq!(v["error"]["param"], "id");
        let c = parse(&ApiError::NoSuchObject {
            object: "event",
            id: "evt_x".into(),
            param: Some("starting_after"),
        });
        assert_eq!(c["error"]["param"], "starting_after");
        let both = parse(&ApiError::ExclusiveParams {
            first: "starting_after",
            second: "ending_before",
        });
        assert!(both["error"]["code"].is_null());
        assert!(both["error"]["message"]
            .as_str()
            .unwrap()
            .contains("starting_after, ending_before"));
    }

    #[test]
    fn idempotency_errors_have_their_own_type_and_no_code() {
        let v = parse(&ApiError::IdempotencyParams { key: "k".into() });
        assert_eq!(v["error"]["type"], "idempotency_error");
        assert!(v["error"].get("code").is_none());
        assert!(v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("other than 'k'"));
    }
}
