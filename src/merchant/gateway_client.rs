//! The merchant's client to a gateway-dialect provider: pay by `out_trade_no` (the order id,
//! the gateway's idempotency key; with `return_url`, a page pay that may answer a cashier
//! URL), query by it, refund by `trade_no`, every request signed
//! with the merchant key; each answer's result code sorted into the same [`Answer`]s as
//! Stripe's, so the checkout, the reconciler and refunds run unchanged. Knows no orders.

use std::time::Duration;

use bytes::Bytes;
use hyper::Method;
use serde_json::{Map, Value};

use super::provider_client::{
    encode, Answer, ChargeParams, FoundIntent, HttpClient, IntentState, SearchError,
};
use crate::domain::FailReason;
use crate::gateway::{self as wire, format_amount, Code, TradeStatus};
use crate::net::UrlError;
use crate::signature;

/// The `merchant_id` the reference merchant presents (the gateway accepts any).
pub const MERCHANT_ID: &str = "paychaos_merchant";

/// A gateway API, as the merchant uses it.
pub struct GatewayClient {
    http: HttpClient,
    /// Signs requests (the gateway's merchant key; the same key signs its notifications).
    secret: String,
    /// Sent with every pay: where the gateway notifies this trade's status changes.
    notify_url: String,
}

impl GatewayClient {
    pub fn new(
        base_url: &str,
        secret: &str,
        notify_url: &str,
        timeout: Duration,
    ) -> Result<GatewayClient, UrlError> {
        Ok(GatewayClient {
            http: HttpClient::new(base_url, timeout)?,
            secret: secret.to_string(),
            notify_url: notify_url.to_string(),
        })
    }

    /// One `POST /gateway/pay` of the order: the same request however often it is sent
    /// (a retry, or paying again after a channel error), since `out_trade_no` is the key.
    pub async fn pay(&self, p: &ChargeParams<'_>) -> Answer {
        let amount = format_amount(p.amount);
        let mut params = vec![
            ("merchant_id", MERCHANT_ID),
            ("out_trade_no", p.order_id),
            ("total_amount", amount.as_str()),
            ("currency", p.currency),
            ("notify_url", self.notify_url.as_str()),
        ];
        // A page pay: where the cashier sends the buyer back; and who pays, for the
        // gateway's risk rules.
        for (name, value) in [
            ("return_url", p.return_url),
            ("customer_id", p.customer),
            ("client_ip", p.client_ip),
        ] {
            if let Some(v) = value {
                params.push((name, v));
            }
        }
        self.post(wire::PAY_PATH, &params, classify).await
    }

    /// One `POST /gateway/refund` of all of trade `trade_no`, idempotent by `out_request_no`.
    pub async fn refund(&self, trade_no: &str, out_request_no: &str) -> Answer {
        let params = [
            ("merchant_id", MERCHANT_ID),
            ("trade_no", trade_no),
            ("out_request_no", out_request_no),
        ];
        self.post(wire::REFUND_PATH, &params, classify_refund).await
    }

    async fn post(
        &self,
        path: &str,
        params: &[(&str, &str)],
        sort: fn(u16, &[u8]) -> Answer,
    ) -> Answer {
        let body = self.signed_json(params);
        let reply = self
            .http
            .send(
                Method::POST,
                path,
                &[],
                Some(("application/json", Bytes::from(body))),
            )
            .await;
        match reply {
            Ok(r) => sort(r.status.as_u16(), &r.body),
            Err(_) => Answer::Indeterminate,
        }
    }

    /// `params` plus `sign_type` and `sign`, as a JSON object of strings.
    fn signed_json(&self, params: &[(&str, &str)]) -> String {
        let sign = signature::gateway_sign(&self.secret, params);
        let mut m: Map<String, Value> = params
            .iter()
            .map(|(k, v)| (k.to_string(), Value::from(*v)))
            .collect();
        m.insert("sign_type".into(), signature::GATEWAY_SIGN_TYPE.into());
        m.insert("sign".into(), sign.into());
        Value::Object(m).to_string()
    }

    /// The trade of `order_id`, as a list of at most one (empty: the gateway has none).
    pub async fn query(&self, order_id: &str) -> Result<Vec<FoundIntent>, SearchError> {
        let params = [("merchant_id", MERCHANT_ID), ("out_trade_no", order_id)];
        let sign = signature::gateway_sign(&self.secret, &params);
        let path = format!(
            "{}?merchant_id={MERCHANT_ID}&out_trade_no={}&sign_type={}&sign={sign}",
            wire::QUERY_PATH,
            encode(order_id),
            signature::GATEWAY_SIGN_TYPE,
        );
        let r = self
            .http
            .send(Method::GET, &path, &[], None)
            .await
            .map_err(|source| SearchError::Transport {
                order_id: order_id.to_string(),
                source,
            })?;
        query_result(order_id, r.status.as_u16(), &r.body)
    }
}

/// The reason a customer is told for a decline code; `None` for codes that are not declines.
pub fn decline_reason(code: Code) -> Option<FailReason> {
    match code {
        Code::InsufficientBalance => Some(FailReason::InsufficientFunds),
        Code::RiskIntercepted => Some(FailReason::RiskBlocked),
        Code::Declined => Some(FailReason::Declined),
        // The channel's trouble, not the card's answer: a soft decline, worth paying again.
        Code::ChannelError => Some(FailReason::ProviderError),
        _ => None,
    }
}

/// The reason a closed trade failed for (`pay_code`): its decline's, provider trouble
/// for one closed unpaid at the cashier's expiry (nothing was charged), a generic decline
/// when the code says nothing more.
pub fn closed_reason(code: Option<Code>) -> FailReason {
    match code {
        Some(Code::Expired) => FailReason::ProviderError,
        c => c.and_then(decline_reason).unwrap_or(FailReason::Declined),
    }
}

/// What a non-decline code asks of the merchant.
fn other_code(code: Code) -> Answer {
    match code {
        // A request for the trade is still being processed: outcome unknown, query later.
        Code::Unconfirmed => Answer::Indeterminate,
        Code::SystemError => Answer::Retryable { status: 500 },
        Code::Busy => Answer::Retryable { status: 503 },
        c => Answer::Fatal {
            status: c.as_str().parse().unwrap_or(400),
        },
    }
}

/// The HTTP answer is not the gateway's: 5xx and 429 ask for a retry, anything else is final.
fn not_answered(status: u16) -> Answer {
    if status >= 500 || status == 429 {
        Answer::Retryable { status }
    } else {
        Answer::Fatal { status }
    }
}

/// The answer's code; `None` when the body is not a gateway answer.
fn code_of(v: &Value) -> Option<Code> {
    v["code"].as_str().and_then(Code::parse)
}

/// Sorts a pay answer: `000` with a paid trade is success; `100` sends the buyer to its
/// `cashier_url`; `101`, `301`, `103` hard declines and `102` a soft one (all with the
/// trade); `202` unknown; `500`, `503` retry; `104` and `4xx` final. An unreadable answer or
/// an unknown code may hide a payment: unknown.
pub fn classify(status: u16, body: &[u8]) -> Answer {
    if status != 200 {
        return not_answered(status);
    }
    let Ok(v) = serde_json::from_slice::<Value>(body) else {
        return Answer::Indeterminate;
    };
    let Some(code) = code_of(&v) else {
        return Answer::Indeterminate;
    };
    let trade_no = v["trade_no"].as_str().map(str::to_string);
    match (code, decline_reason(code)) {
        (Code::Success, _) => {
            let paid = matches!(
                v["trade_status"].as_str().and_then(TradeStatus::parse),
                Some(TradeStatus::Success | TradeStatus::Finished)
            );
            match trade_no {
                Some(payment_id) if paid => Answer::Succeeded { payment_id },
                _ => Answer::Indeterminate,
            }
        }
        (_, Some(reason)) => Answer::Declined {
            reason,
            payment_id: trade_no,
        },
        // A page pay the gateway sends to its cashier: the buyer must go there.
        (Code::AwaitingBuyer, _) => match (trade_no, v["cashier_url"].as_str()) {
            (Some(payment_id), Some(url)) => Answer::Action {
                payment_id,
                redirect_url: url.to_string(),
            },
            _ => Answer::Indeterminate,
        },
        (c, None) => other_code(c),
    }
}

/// Sorts a refund answer: `000` is done (named by its `out_request_no`), codes as for pay.
pub fn classify_refund(status: u16, body: &[u8]) -> Answer {
    if status != 200 {
        return not_answered(status);
    }
    let Ok(v) = serde_json::from_slice::<Value>(body) else {
        return Answer::Indeterminate;
    };
    match code_of(&v) {
        Some(Code::Success) => {
            let id = v["out_request_no"].as_str().or(v["trade_no"].as_str());
            Answer::Succeeded {
                payment_id: id.unwrap_or("").to_string(),
            }
        }
        Some(c) => other_code(c),
        None => Answer::Indeterminate,
    }
}

/// A query answer as the reconciler reads a search: `404` none; `000` the trade, paid,
/// declined (closed, or open after a channel error) or not settled.
pub fn query_result(
    order_id: &str,
    status: u16,
    body: &[u8],
) -> Result<Vec<FoundIntent>, SearchError> {
    let bad = |code: String| SearchError::Code {
        order_id: order_id.to_string(),
        code,
    };
    if status != 200 {
        return Err(bad(format!("HTTP {status}")));
    }
    let v: Value = serde_json::from_slice(body).map_err(|_| bad("not JSON".into()))?;
    match code_of(&v) {
        Some(Code::TradeNotFound) => return Ok(Vec::new()),
        Some(Code::Success) => {}
        _ => return Err(bad(v["code"].to_string())),
    }
    let id = v["trade_no"]
        .as_str()
        .ok_or_else(|| bad("000 without a trade_no".into()))?;
    let pay_code = v["pay_code"].as_str().and_then(Code::parse);
    let pay_reason = pay_code.and_then(decline_reason);
    let state = match (
        v["trade_status"].as_str().and_then(TradeStatus::parse),
        pay_reason,
    ) {
        (Some(TradeStatus::Success | TradeStatus::Finished), _) => IntentState::Succeeded,
        (Some(TradeStatus::Closed), _) => IntentState::Declined(closed_reason(pay_code)),
        (_, Some(FailReason::ProviderError)) => IntentState::Declined(FailReason::ProviderError),
        _ => IntentState::Open,
    };
    Ok(vec![FoundIntent {
        id: id.to_string(),
        state,
    }])
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn body(v: Value) -> Vec<u8> {
        serde_json::to_vec(&v).unwrap()
    }

    fn pay_answer(code: &str, status: &str) -> Vec<u8> {
        body(
            json!({"code": code, "msg": "m", "trade_no": "T1", "out_trade_no": "ord-1",
            "trade_status": status}),
        )
    }

    #[test]
    fn pay_codes_map_to_the_merchants_answers() {
        let declined = |reason| Answer::Declined {
            reason,
            payment_id: Some("T1".into()),
        };
        for (code, status, want) in [
            (
                "000",
                "TRADE_SUCCESS",
                Answer::Succeeded {
                    payment_id: "T1".into(),
                },
            ),
            ("000", "WAIT_BUYER_PAY", Answer::Indeterminate),
            (
                "101",
                "TRADE_CLOSED",
                declined(FailReason::InsufficientFunds),
            ),
            ("301", "TRADE_CLOSED", declined(FailReason::RiskBlocked)),
            ("103", "TRADE_CLOSED", declined(FailReason::Declined)),
            ("102", "WAIT_BUYER_PAY", declined(FailReason::ProviderError)),
            ("202", "", Answer::Indeterminate),
            ("500", "", Answer::Retryable { status: 500 }),
            ("503", "", Answer::Retryable { status: 503 }),
            ("409", "", Answer::Fatal { status: 409 }),
            ("401", "", Answer::Fatal { status: 401 }),
            ("777", "", Answer::Indeterminate),
            ("100", "WAIT_BUYER_PAY", Answer::Indeterminate),
            ("104", "TRADE_CLOSED", Answer::Fatal { status: 104 }),
        ] {
            assert_eq!(classify(200, &pay_answer(code, status)), want, "{code}");
        }
        let page = body(
            json!({"code": "100", "trade_no": "T1", "trade_status": "WAIT_BUYER_PAY",
            "cashier_url": "http://127.0.0.1:9/gateway/cashier/T1"}),
        );
        assert_eq!(
            classify(200, &page),
            Answer::Action {
                payment_id: "T1".into(),
                redirect_url: "http://127.0.0.1:9/gateway/cashier/T1".into()
            }
        );
        assert_eq!(classify(200, b"<html>"), Answer::Indeterminate);
        assert_eq!(classify(502, b""), Answer::Retryable { status: 502 });
        assert_eq!(classify(404, b""), Answer::Fatal { status: 404 });
    }

    #[test]
    fn refund_answers_are_named_by_their_request_number() {
        let ok = body(json!({"code":"000","trade_no":"T1","out_request_no":"r1"}));
        assert_eq!(
            classify_refund(200, &ok),
            Answer::Succeeded {
                payment_id: "r1".into()
            }
        );
        let over = body(json!({"code":"400","msg":"invalid parameter"}));
        assert_eq!(classify_refund(200, &over), Answer::Fatal { status: 400 });
    }

    #[test]
    fn query_answers_read_as_a_search() {
        let q = |v: Value| query_result("ord-1", 200, &body(v));
        assert_eq!(q(json!({"code":"404"})).unwrap(), vec![]);
        let found = |trade_status: &str, pay_code: &str| {
            q(
                json!({"code":"000","trade_no":"T1","trade_status":trade_status,
                "pay_code":pay_code}),
            )
            .unwrap()[0]
                .state
        };
        assert_eq!(found("TRADE_SUCCESS", "000"), IntentState::Succeeded);
        assert_eq!(
            found("TRADE_CLOSED", "101"),
            IntentState::Declined(FailReason::InsufficientFunds)
        );
        assert_eq!(
            found("WAIT_BUYER_PAY", "102"),
            IntentState::Declined(FailReason::ProviderError)
        );
        assert_eq!(found("WAIT_BUYER_PAY", ""), IntentState::Open);
        assert_eq!(found("WAIT_BUYER_PAY", "100"), IntentState::Open);
        assert_eq!(
            found("TRADE_CLOSED", "104"),
            IntentState::Declined(FailReason::ProviderError),
            "closed unpaid at the cashier's expiry: nothing charged"
        );
        assert!(q(json!({"code":"500"})).is_err());
        assert!(query_result("ord-1", 502, b"").is_err());
    }
}
