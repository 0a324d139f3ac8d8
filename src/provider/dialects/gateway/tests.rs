//! The gateway's answers and notifications, rendered from neutral answers and intents.

use std::collections::BTreeMap;

use serde_json::Value;

use super::*;
use crate::provider::cards::DeclineCode;
use crate::provider::dialects::EventKind;
use crate::provider::ledger::Decline;
use crate::provider::webhooks::Format;
use crate::signature;

fn intent(status: IntentStatus, decline: Option<FailReason>) -> Intent {
    let mut metadata = BTreeMap::new();
    metadata.insert("order_id".to_string(), "ord-000001".to_string());
    metadata.insert("merchant_id".to_string(), "m1".to_string());
    Intent {
        id: "pi_00aa11".into(),
        amount: 1234,
        currency: "usd".into(),
        status,
        payment_method: Some(PAYMENT_METHOD.into()),
        metadata: metadata.into(),
        created: 1,
        latest_charge: Some("ch_1".into()),
        last_error: decline.map(|reason| Decline {
            reason,
            code: DeclineCode::from_reason(reason),
            charge: "ch_1".into(),
            payment_method: None,
        }),
        amount_refunded: 0,
        amount_capturable: 0,
        amount_received: 0,
        canceled_at: None,
        cancellation_reason: None,
        capture_method: None,
        description: None,
        customer: None,
        payment_method_types: Vec::new(),
        charges: 1,
        refunds: 0,
        chaos_id: None,
        return_url: None,
        challenge_url: None,
        version: 0,
    }
}

fn paid() -> Intent {
    intent(IntentStatus::Succeeded, None)
}

fn declined(reason: FailReason) -> Intent {
    intent(IntentStatus::RequiresPaymentMethod, Some(reason))
}

fn meta(kind: EventKind) -> EventMeta<'static> {
    EventMeta {
        kind,
        seed: 7,
        request_id: "req_1",
        idempotency_key: None,
        created: 1,
        nth: 0,
    }
}

fn json(r: &Rendered) -> Value {
    serde_json::from_slice(&r.body).expect("every answer is JSON")
}

fn params(body: &[u8]) -> BTreeMap<String, String> {
    form_urlencoded::parse(body).into_owned().collect()
}

#[test]
fn routes_only_the_gateway_endpoints() {
    assert_eq!(
        route(&Method::POST, "/gateway/pay"),
        Some(Route::GatewayPay)
    );
    assert_eq!(
        route(&Method::GET, "/gateway/query"),
        Some(Route::GatewayQuery)
    );
    assert_eq!(
        route(&Method::POST, "/gateway/refund"),
        Some(Route::GatewayRefund)
    );
    for (m, p) in [
        (Method::GET, "/gateway/pay"),
        (Method::POST, "/gateway/query"),
        (Method::POST, "/v1/payment_intents"),
    ] {
        assert_eq!(route(&m, p), None, "{m} {p}");
    }
}

#[test]
fn a_paid_trade_answers_000_and_notifies_trade_success() {
    let (r, ev) = render(
        &Answer::Intent(Box::new(paid())),
        Some(meta(EventKind::Succeeded)),
    );
    assert_eq!(r.status, 200);
    let v = json(&r);
    assert_eq!(v["code"], "000");
    assert_eq!(v["trade_status"], "TRADE_SUCCESS");
    assert_eq!(v["out_trade_no"], "ord-000001");
    assert_eq!(v["trade_no"], "T00aa11");
    assert_eq!(v["total_amount"], "12.34");
    let ev = ev.expect("a notification");
    assert_eq!(ev.format, Format::Gateway);
    assert_eq!(ev.event_type, "trade_status_sync.TRADE_SUCCESS");
    assert_eq!(ev.payment_id.as_deref(), Some("pi_00aa11"));
    assert_eq!(ev.order_id.as_deref(), Some("ord-000001"));
    assert!(ev.id.starts_with("ntf_"));
    let p = params(&ev.body);
    assert_eq!(p["notify_id"], ev.id);
    assert_eq!(p["notify_type"], "trade_status_sync");
    assert_eq!(p["trade_status"], "TRADE_SUCCESS");
    assert_eq!(p["total_amount"], "12.34");
    assert_eq!(p["trade_no"], "T00aa11");
    assert!(!p.contains_key("sign"), "signed at each attempt");
    assert!(!p.contains_key("pay_code"));
    assert_eq!(
        ev.chaos_key(),
        ev.id,
        "a run-free trade meets chaos by its own id"
    );
    let mut free = paid();
    free.chaos_id = Some("pi_free".into());
    let (_, ev) = render(
        &Answer::Intent(Box::new(free)),
        Some(meta(EventKind::Succeeded)),
    );
    let ev = ev.expect("a notification");
    assert_eq!(
        ev.chaos_key(),
        notify_id(7, "pi_free", TradeStatus::Success, 0)
    );
}

#[test]
fn declines_answer_their_code_and_close_the_trade_except_a_channel_error() {
    for (reason, code, status, notified) in [
        (FailReason::InsufficientFunds, "101", "TRADE_CLOSED", true),
        (FailReason::RiskBlocked, "301", "TRADE_CLOSED", true),
        (FailReason::Declined, "103", "TRADE_CLOSED", true),
        (FailReason::ProviderError, "102", "WAIT_BUYER_PAY", false),
    ] {
        let (r, ev) = render(
            &Answer::Declined(Box::new(declined(reason))),
            Some(meta(EventKind::PaymentFailed)),
        );
        let v = json(&r);
        assert_eq!(
            (v["code"].as_str(), r.status),
            (Some(code), 200),
            "{reason:?}"
        );
        assert_eq!(v["trade_status"], status, "{reason:?}");
        assert_eq!(ev.is_some(), notified, "{reason:?}");
        if let Some(ev) = ev {
            let p = params(&ev.body);
            assert_eq!(p["trade_status"], "TRADE_CLOSED");
            assert_eq!(p["pay_code"], code);
        }
    }
}

#[test]
fn errors_answer_their_codes() {
    let cases = [
        (ApiError::ServerError, "500"),
        (ApiError::RateLimited, "503"),
        (
            ApiError::KeyInUse {
                key: "ord-000001#1".into(),
            },
            "202",
        ),
        (ApiError::IdempotencyParams { key: "k".into() }, "409"),
        (
            ApiError::UnknownIntentParam {
                param: "payment_intent".into(),
                id: "pi_x".into(),
            },
            "404",
        ),
        (
            ApiError::InvalidParam {
                param: "sign".into(),
                expected: "x",
                got: "y".into(),
            },
            "401",
        ),
        (ApiError::MissingParam { param: "x".into() }, "400"),
        (
            ApiError::RefundTooLarge {
                amount: 2,
                remaining: 1,
            },
            "400",
        ),
    ];
    for (e, code) in cases {
        let (r, ev) = render(&Answer::Error(e.clone()), None);
        let v = json(&r);
        assert_eq!((r.status, v["code"].as_str()), (200, Some(code)), "{e}");
        assert!(v["msg"].as_str().is_some_and(|m| !m.is_empty()));
        assert_eq!(v["sub_msg"], e.to_string());
        assert!(ev.is_none());
    }
    let (r, _) = render(
        &Answer::Error(ApiError::KeyInUse {
            key: "ord-000009#2".into(),
        }),
        None,
    );
    assert_eq!(json(&r)["out_trade_no"], "ord-000009");
    let unknown = ApiError::UnknownRoute {
        method: "GET".into(),
        path: "/x".into(),
    };
    assert_eq!(render(&Answer::Error(unknown), None).0.status, 404);
}

#[test]
fn query_answers_the_trade_with_its_last_pay_code_or_404() {
    let (r, _) = render(&Answer::Search(vec![]), None);
    assert_eq!(json(&r)["code"], "404");
    let mut refunded = paid();
    refunded.amount_refunded = 1234;
    let (r, _) = render(&Answer::Search(vec![refunded]), None);
    let v = json(&r);
    assert_eq!(
        (v["code"].as_str(), v["trade_status"].as_str()),
        (Some("000"), Some("TRADE_SUCCESS"))
    );
    assert_eq!(
        (v["pay_code"].as_str(), v["refund_amount"].as_str()),
        (Some("000"), Some("12.34"))
    );
    let (r, _) = render(
        &Answer::Search(vec![declined(FailReason::RiskBlocked)]),
        None,
    );
    let v = json(&r);
    assert_eq!(
        (v["trade_status"].as_str(), v["pay_code"].as_str()),
        (Some("TRADE_CLOSED"), Some("301"))
    );
}

#[test]
fn refunds_answer_the_amount_and_request_number() {
    let mut metadata = BTreeMap::new();
    metadata.insert("out_request_no".to_string(), "r1".to_string());
    let refund = Refund {
        id: "re_1".into(),
        amount: 150,
        currency: "usd".into(),
        payment_intent: "pi_00aa11".into(),
        charge: None,
        reason: None,
        metadata,
        created: 1,
    };
    let (r, _) = render(&Answer::Refund(refund), None);
    let v = json(&r);
    assert_eq!(
        (
            v["code"].as_str(),
            v["refund_amount"].as_str(),
            v["trade_no"].as_str()
        ),
        (Some("000"), Some("1.50"), Some("T00aa11"))
    );
    assert_eq!(v["out_request_no"], "r1");
}

#[test]
fn trade_numbers_map_back_to_intents() {
    assert_eq!(trade_no("pi_0123abcd"), "T0123abcd");
    assert_eq!(intent_id("T0123abcd").as_deref(), Some("pi_0123abcd"));
    // A replica's trade numbers carry its mark, and name its intents.
    assert_eq!(trade_no("pi_r1_0123abcd"), "Tr1_0123abcd");
    assert_eq!(intent_id("Tr1_0123abcd").as_deref(), Some("pi_r1_0123abcd"));
    for bad in [
        "", "T", "Txyz", "pi_0123", "0123", "Tr1_", "Tr_01", "Trx_01", "Tr1_xyz",
    ] {
        assert_eq!(intent_id(bad), None, "{bad}");
    }
}

#[test]
fn notify_ids_are_deterministic_and_distinct_per_status_and_repeat() {
    let a = notify_id(7, "pi_1", TradeStatus::Success, 0);
    assert_eq!(a, notify_id(7, "pi_1", TradeStatus::Success, 0));
    assert_ne!(a, notify_id(8, "pi_1", TradeStatus::Success, 0));
    assert_ne!(a, notify_id(7, "pi_1", TradeStatus::Closed, 0));
    assert_ne!(a, notify_id(7, "pi_1", TradeStatus::Success, 1));
    assert_eq!(a.len(), "ntf_".len() + 16);
}

#[test]
fn a_notification_signed_as_delivered_verifies() {
    let (_, ev) = render(
        &Answer::Intent(Box::new(paid())),
        Some(meta(EventKind::Succeeded)),
    );
    let mut p: Vec<(String, String)> = form_urlencoded::parse(&ev.unwrap().body)
        .into_owned()
        .collect();
    p.push(("notify_time".into(), signature::gateway_time(1_700_000_000)));
    let sign = signature::gateway_sign("whsec_k", &p);
    p.push(("sign".into(), sign));
    assert_eq!(signature::gateway_verify(&p, "whsec_k"), Ok(()));
}
