//! Stripe's object shapes: the PaymentIntent (with `latest_charge` expandable), the Charge
//! with its `outcome` (`authorized`, `issuer_declined`, `blocked`), the Refund, and the 402
//! card-error envelope, worded per decline as Stripe words it (STRIPE.md §2-3).

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::{json, Value};

use crate::chaos::key;
use crate::provider::cards::DeclineCode;
use crate::provider::charges::Charge;
use crate::provider::ledger::{Intent, IntentStatus, Refund};
use crate::provider::metadata::Metadata;

pub(super) fn to_json<T: Serialize>(v: &T) -> String {
    serde_json::to_string(v).expect("plain structs serialise")
}

/// How Stripe words one decline.
struct Wording {
    code: &'static str,
    decline_code: &'static str,
    message: &'static str,
    /// The card field at fault, when there is one.
    param: Option<&'static str>,
}

fn wording(code: DeclineCode) -> Wording {
    let declined = |decline_code, message| Wording {
        code: "card_declined",
        decline_code,
        message,
        param: None,
    };
    match code {
        DeclineCode::Generic => declined("generic_decline", "Your card was declined."),
        DeclineCode::InsufficientFunds => {
            declined("insufficient_funds", "Your card has insufficient funds.")
        }
        DeclineCode::RiskBlock => declined("fraudulent", "Your card was declined."),
        DeclineCode::LostCard => declined("lost_card", "Your card was declined."),
        DeclineCode::StolenCard => declined("stolen_card", "Your card was declined."),
        DeclineCode::ExpiredCard => Wording {
            code: "expired_card",
            decline_code: "expired_card",
            message: "Your card has expired.",
            param: Some("exp_month"),
        },
        DeclineCode::IncorrectCvc => Wording {
            code: "incorrect_cvc",
            decline_code: "incorrect_cvc",
            message: "Your card's security code is incorrect.",
            param: Some("cvc"),
        },
        DeclineCode::ProcessingError => Wording {
            code: "processing_error",
            decline_code: "processing_error",
            message: "An error occurred while processing your card. Try again in a little bit.",
            param: None,
        },
        // Not a card decline: Stripe words it as a request error without a decline code.
        DeclineCode::AuthenticationFailure => Wording {
            code: "payment_intent_authentication_failure",
            decline_code: "",
            message: "The provided PaymentMethod has failed authentication. You can provide payment_method_data or a new PaymentMethod to attempt to fulfill this PaymentIntent again.",
            param: None,
        },
    }
}

#[derive(Serialize)]
struct CardErrorJson<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    code: &'static str,
    #[serde(skip_serializing_if = "str::is_empty")]
    decline_code: &'static str,
    message: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    param: Option<&'static str>,
    charge: &'a str,
    doc_url: String,
}

fn card_error(code: DeclineCode, charge: &str) -> CardErrorJson<'_> {
    let w = wording(code);
    CardErrorJson {
        kind: if w.decline_code.is_empty() {
            "invalid_request_error"
        } else {
            "card_error"
        },
        code: w.code,
        decline_code: w.decline_code,
        message: w.message,
        param: w.param,
        charge,
        doc_url: format!(
            "https://stripe.com/docs/error-codes/{}",
            w.code.replace('_', "-")
        ),
    }
}

/// `latest_charge`: the id, or the charge itself when expanded.
#[derive(Serialize)]
#[serde(untagged)]
enum LatestCharge<'a> {
    Id(&'a str),
    Object(Box<ChargeJson<'a>>),
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
    metadata: &'a Metadata,
    payment_method: Option<&'a str>,
    payment_method_types: &'a [String],
    latest_charge: Option<LatestCharge<'a>>,
    last_payment_error: Option<CardErrorJson<'a>>,
    next_action: Option<Value>,
    canceled_at: Option<u64>,
    cancellation_reason: Option<&'a str>,
    description: Option<&'a str>,
    customer: Option<&'a str>,
}

/// The intent's `client_secret` (also given back on the redirect to `return_url`).
pub fn client_secret(id: &str) -> String {
    format!(
        "{id}_secret_{:016x}",
        key::hash(0, "secret", &[id.as_bytes()])
    )
}

/// What a 3D Secure card asks the client to do: with a `return_url`, send the browser to
/// the challenge page (`redirect_to_url`); without one, let Stripe.js handle it
/// (`use_stripe_sdk`).
fn next_action(it: &Intent) -> Option<Value> {
    if it.status != IntentStatus::RequiresAction {
        return None;
    }
    if let (Some(url), Some(back)) = (&it.challenge_url, &it.return_url) {
        return Some(json!({
            "type": "redirect_to_url",
            "redirect_to_url": { "url": url, "return_url": back },
        }));
    }
    let source = format!("src_{:024x}", key::hash(0, "src", &[it.id.as_bytes()]));
    Some(json!({
        "type": "use_stripe_sdk",
        "use_stripe_sdk": {
            "type": "three_d_secure_redirect",
            "stripe_js": format!("https://hooks.stripe.com/redirect/authenticate/{source}?client_secret={}", client_secret(&it.id)),
            "source": source,
        },
    }))
}

/// The PaymentIntent object (STRIPE.md §2); `charge` expands `latest_charge`.
pub fn intent_json(it: &Intent, charge: Option<&Charge>) -> String {
    let latest_charge = match (charge, it.latest_charge.as_deref()) {
        (Some(c), _) => Some(LatestCharge::Object(Box::new(charge_object(c)))),
        (None, id) => id.map(LatestCharge::Id),
    };
    to_json(&IntentJson {
        id: &it.id,
        object: "payment_intent",
        amount: it.amount,
        amount_capturable: it.amount_capturable,
        amount_received: it.amount_received,
        currency: &it.currency,
        status: it.status.as_str(),
        capture_method: it.capture_method.as_deref().unwrap_or("automatic_async"),
        confirmation_method: "automatic",
        client_secret: client_secret(&it.id),
        created: it.created,
        livemode: false,
        metadata: &it.metadata,
        payment_method: it.payment_method.as_deref(),
        payment_method_types: &it.payment_method_types,
        latest_charge,
        last_payment_error: it
            .last_error
            .as_ref()
            .map(|d| card_error(d.code, &d.charge)),
        next_action: next_action(it),
        canceled_at: it.canceled_at,
        cancellation_reason: it.cancellation_reason.as_deref(),
        description: it.description.as_deref(),
        customer: it.customer.as_deref(),
    })
}

/// The 402 envelope: the card error plus the declined intent (`pi`, rendered once).
pub fn decline_json(it: &Intent, pi: &str) -> String {
    let (code, charge) = match &it.last_error {
        Some(d) => (d.code, d.charge.as_str()),
        None => (
            DeclineCode::Generic,
            it.latest_charge.as_deref().unwrap_or(""),
        ),
    };
    let mut head = to_json(&card_error(code, charge));
    head.pop(); // reopen the object to append the intent without re-serialising it
    format!("{{\"error\":{head},\"payment_intent\":{pi}}}}}")
}

#[derive(Serialize)]
struct OutcomeJson {
    network_status: &'static str,
    reason: Option<&'static str>,
    risk_level: &'static str,
    risk_score: u32,
    seller_message: String,
    #[serde(rename = "type")]
    kind: &'static str,
}

/// What happened to the charge on the way: authorised, declined by the issuer, or blocked
/// by risk control before reaching the network.
fn outcome(decline: Option<DeclineCode>) -> OutcomeJson {
    match decline {
        None => OutcomeJson {
            network_status: "approved_by_network",
            reason: None,
            risk_level: "normal",
            risk_score: 20,
            seller_message: "Payment complete.".into(),
            kind: "authorized",
        },
        Some(DeclineCode::RiskBlock) => OutcomeJson {
            network_status: "not_sent_to_network",
            reason: Some("highest_risk_level"),
            risk_level: "highest",
            risk_score: 95,
            seller_message: "Stripe blocked this payment as too risky.".into(),
            kind: "blocked",
        },
        Some(code) => {
            let w = wording(code);
            OutcomeJson {
                network_status: "declined_by_network",
                reason: Some(w.decline_code),
                risk_level: "normal",
                risk_score: 20,
                seller_message: format!("The bank returned the decline code `{}`.", w.decline_code),
                kind: "issuer_declined",
            }
        }
    }
}

#[derive(Serialize)]
struct ChargeJson<'a> {
    id: &'a str,
    object: &'static str,
    amount: u64,
    amount_captured: u64,
    amount_refunded: u64,
    balance_transaction: Option<()>,
    captured: bool,
    created: u64,
    currency: &'a str,
    customer: Option<&'a str>,
    description: Option<&'a str>,
    disputed: bool,
    failure_code: Option<&'static str>,
    failure_message: Option<&'static str>,
    livemode: bool,
    metadata: &'a Metadata,
    outcome: OutcomeJson,
    paid: bool,
    payment_intent: &'a str,
    payment_method: Option<&'a str>,
    refunded: bool,
    status: &'static str,
}

fn charge_object(c: &Charge) -> ChargeJson<'_> {
    let w = c.decline.map(wording);
    ChargeJson {
        id: &c.id,
        object: "charge",
        amount: c.amount,
        amount_captured: c.amount_captured,
        amount_refunded: c.amount_refunded,
        balance_transaction: None,
        captured: c.captured,
        created: c.created,
        currency: &c.currency,
        customer: c.customer.as_deref(),
        description: c.description.as_deref(),
        disputed: false,
        failure_code: w.as_ref().map(|w| w.code),
        failure_message: w.as_ref().map(|w| w.message),
        livemode: false,
        metadata: &c.metadata,
        outcome: outcome(c.decline),
        paid: c.paid(),
        payment_intent: &c.payment_intent,
        payment_method: c.payment_method.as_deref(),
        refunded: c.refunded(),
        status: if c.paid() { "succeeded" } else { "failed" },
    }
}

/// The Charge object.
pub fn charge_json(c: &Charge) -> String {
    to_json(&charge_object(c))
}

/// The PaymentMethod object of a card created from its number: brand and last four only.
pub fn payment_method_json(pm: &crate::provider::payment_methods::PaymentMethod) -> String {
    serde_json::json!({
        "id": pm.id,
        "object": "payment_method",
        "type": "card",
        "card": {"brand": pm.card.brand, "last4": pm.card.last4, "country": "US", "funding": "credit"},
        "billing_details": {"address": null, "email": null, "name": null, "phone": null},
        "customer": null,
        "livemode": false,
        "metadata": {},
        "created": pm.created,
    })
    .to_string()
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

/// The Refund object; refunds succeed at once.
pub fn refund_json(r: &Refund) -> String {
    to_json(&RefundJson {
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
    })
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use crate::domain::FailReason;
    use crate::provider::ledger::Decline;
    use serde_json::Value as Json;

    pub(crate) fn intent(status: IntentStatus) -> Intent {
        Intent {
            id: "pi_1".into(),
            amount: 1234,
            currency: "usd".into(),
            status,
            payment_method: Some("pm_card_visa".into()),
            metadata: Metadata::from([("order_id".into(), "ord-000001".into())]),
            created: 1_700_000_000,
            latest_charge: Some("ch_1".into()),
            last_error: None,
            amount_refunded: 0,
            amount_capturable: 0,
            amount_received: if status == IntentStatus::Succeeded {
                1234
            } else {
                0
            },
            canceled_at: None,
            cancellation_reason: None,
            capture_method: None,
            description: None,
            customer: None,
            payment_method_types: vec!["card".into()],
            charges: 1,
            refunds: 0,
            chaos_id: None,
            return_url: None,
            challenge_url: None,
            version: 0,
        }
    }

    pub(crate) fn declined(code: DeclineCode) -> Intent {
        let mut it = intent(IntentStatus::RequiresPaymentMethod);
        it.payment_method = None;
        it.last_error = Some(Decline {
            reason: code.reason(),
            code,
            charge: "ch_1".into(),
            payment_method: Some("pm_card_visa".into()),
        });
        it
    }

    fn parse(s: &str) -> Json {
        serde_json::from_str(s).expect("valid json")
    }

    #[test]
    fn intent_renders_as_stripe_payment_intent() {
        let v = parse(&intent_json(&intent(IntentStatus::Succeeded), None));
        assert_eq!(v["object"], "payment_intent");
        assert_eq!(v["status"], "succeeded");
        assert_eq!(v["amount_received"], 1234);
        assert_eq!(v["metadata"]["order_id"], "ord-000001");
        assert_eq!(v["latest_charge"], "ch_1");
        assert!(v["last_payment_error"].is_null());
        assert!(v["next_action"].is_null());
        assert!(v["client_secret"]
            .as_str()
            .unwrap()
            .starts_with("pi_1_secret_"));
    }

    #[test]
    fn requires_action_carries_next_action_and_canceled_its_reason() {
        let v = parse(&intent_json(&intent(IntentStatus::RequiresAction), None));
        assert_eq!(v["status"], "requires_action");
        assert_eq!(v["next_action"]["type"], "use_stripe_sdk");
        let mut it = intent(IntentStatus::Canceled);
        it.canceled_at = Some(5);
        it.cancellation_reason = Some("duplicate".into());
        let v = parse(&intent_json(&it, None));
        assert_eq!(
            (v["status"].as_str(), v["canceled_at"].as_u64()),
            (Some("canceled"), Some(5))
        );
        assert_eq!(v["cancellation_reason"], "duplicate");
    }

    #[test]
    fn expanded_latest_charge_is_the_charge_object() {
        let it = intent(IntentStatus::Succeeded);
        let c = Charge::new("ch_1", &it, 7, None);
        let v = parse(&intent_json(&it, Some(&c)));
        assert_eq!(v["latest_charge"]["object"], "charge");
        assert_eq!(v["latest_charge"]["id"], "ch_1");
        assert_eq!(v["latest_charge"]["outcome"]["type"], "authorized");
    }

    #[test]
    fn decline_envelope_words_each_code_as_stripe() {
        for (code, want_code, want_decline, msg) in [
            (
                DeclineCode::InsufficientFunds,
                "card_declined",
                "insufficient_funds",
                "Your card has insufficient funds.",
            ),
            (
                DeclineCode::RiskBlock,
                "card_declined",
                "fraudulent",
                "Your card was declined.",
            ),
            (
                DeclineCode::Generic,
                "card_declined",
                "generic_decline",
                "Your card was declined.",
            ),
            (
                DeclineCode::ExpiredCard,
                "expired_card",
                "expired_card",
                "Your card has expired.",
            ),
            (
                DeclineCode::IncorrectCvc,
                "incorrect_cvc",
                "incorrect_cvc",
                "Your card's security code is incorrect.",
            ),
            (
                DeclineCode::ProcessingError,
                "processing_error",
                "processing_error",
                "An error occurred while processing your card. Try again in a little bit.",
            ),
        ] {
            let it = declined(code);
            let pi = intent_json(&it, None);
            let v = parse(&decline_json(&it, &pi));
            let e = &v["error"];
            assert_eq!(e["type"], "card_error", "{code:?}");
            assert_eq!(e["code"], want_code, "{code:?}");
            assert_eq!(e["decline_code"], want_decline, "{code:?}");
            assert_eq!(e["message"], msg, "{code:?}");
            assert_eq!(e["charge"], "ch_1");
            assert_eq!(e["payment_intent"]["status"], "requires_payment_method");
            assert_eq!(
                e["payment_intent"]["last_payment_error"]["decline_code"],
                want_decline
            );
        }
        let v = parse(&intent_json(&declined(DeclineCode::IncorrectCvc), None));
        assert_eq!(v["last_payment_error"]["param"], "cvc");
        assert_eq!(
            declined(DeclineCode::InsufficientFunds)
                .last_error
                .unwrap()
                .reason,
            FailReason::InsufficientFunds
        );
    }

    #[test]
    fn charge_outcome_is_authorized_issuer_declined_or_blocked() {
        let it = intent(IntentStatus::RequiresConfirmation);
        let ok = parse(&charge_json(&Charge::new("ch_1", &it, 1, None)));
        assert_eq!(
            (
                ok["status"].as_str(),
                ok["paid"].as_bool(),
                ok["captured"].as_bool()
            ),
            (Some("succeeded"), Some(true), Some(true))
        );
        assert_eq!(ok["outcome"]["type"], "authorized");
        assert!(ok["failure_code"].is_null());
        let funds = parse(&charge_json(&Charge::new(
            "ch_2",
            &it,
            1,
            Some(DeclineCode::InsufficientFunds),
        )));
        assert_eq!(funds["status"], "failed");
        assert_eq!(funds["failure_code"], "card_declined");
        assert_eq!(funds["outcome"]["type"], "issuer_declined");
        assert_eq!(funds["outcome"]["reason"], "insufficient_funds");
        assert_eq!(funds["outcome"]["network_status"], "declined_by_network");
        let blocked = parse(&charge_json(&Charge::new(
            "ch_3",
            &it,
            1,
            Some(DeclineCode::RiskBlock),
        )));
        assert_eq!(blocked["outcome"]["type"], "blocked");
        assert_eq!(blocked["outcome"]["risk_level"], "highest");
        assert_eq!(blocked["outcome"]["network_status"], "not_sent_to_network");
        assert_eq!(blocked["paid"], false);
    }

    #[test]
    fn refund_renders_succeeded() {
        let r = Refund {
            id: "re_1".into(),
            amount: 5,
            currency: "usd".into(),
            payment_intent: "pi_1".into(),
            charge: Some("ch_1".into()),
            reason: None,
            metadata: BTreeMap::new(),
            created: 3,
        };
        let v = parse(&refund_json(&r));
        assert_eq!(
            (
                v["object"].as_str(),
                v["status"].as_str(),
                v["amount"].as_u64()
            ),
            (Some("refund"), Some("succeeded"), Some(5))
        );
        assert_eq!(v["charge"], "ch_1");
    }
}
