//! The gateway dialect, in the style of CN async-notify gateways (STRIPE.md §7): a JSON pay
//! API answering a result `code` and `msg`, a query by the merchant's `out_trade_no`, refunds
//! by `trade_no`, and form notifications signed with HMAC-SHA256 over the sorted parameters.
//! Routing and answers here, request decoding in `decode`, notifications in `notify`, the
//! cashier page's wire shape in `cashier`; the codes, statuses and amounts are the shared
//! vocabulary of `crate::gateway`.

pub mod cashier;
mod decode;
mod notify;

use bytes::Bytes;
use hyper::header::{HeaderMap, HeaderValue};
use hyper::Method;
use serde_json::{Map, Value};

use crate::domain::FailReason;
use crate::gateway::{self as wire, format_amount, Code, TradeStatus};
use crate::provider::dialects::{Answer, ApiError, Decoded, Dialect, EventMeta, Rendered, Route};
use crate::provider::ledger::{Intent, IntentStatus, Refund};
use crate::provider::webhooks::Event;

pub use decode::{decode, out_trade_no_of_key, pay_key};
pub use notify::{notify_id, notify_kind};

/// The payment method a gateway trade is charged with: an ordinary one, so that the order's
/// chaos (not a Stripe test card) decides the outcome.
pub const PAYMENT_METHOD: &str = "gateway_buyer_account";

/// Routes the gateway's endpoints.
pub fn route(method: &Method, path: &str) -> Option<Route> {
    match (method.as_str(), path) {
        ("POST", wire::PAY_PATH) => Some(Route::GatewayPay),
        ("GET", wire::QUERY_PATH) => Some(Route::GatewayQuery),
        ("POST", wire::REFUND_PATH) => Some(Route::GatewayRefund),
        _ => None,
    }
}

/// The gateway's `trade_no` for an intent id: `T` + the id's hex digits, after the replica's
/// mark when a replica minted it (`pi_r1_ab` → `Tr1_ab`).
pub fn trade_no(intent_id: &str) -> String {
    format!("T{}", intent_id.strip_prefix("pi_").unwrap_or(intent_id))
}

/// The intent id a `trade_no` names, when it is one the gateway could have written.
pub fn intent_id(trade_no: &str) -> Option<String> {
    let rest = trade_no.strip_prefix('T')?;
    // A replica's mark, `r<digits>_`, may stand before the hex digits.
    let hex = match rest.strip_prefix('r').and_then(|r| r.split_once('_')) {
        Some((n, hex))
            if !n.is_empty() && n.len() <= 4 && n.bytes().all(|b| b.is_ascii_digit()) =>
        {
            hex
        }
        _ => rest,
    };
    (!hex.is_empty() && hex.bytes().all(|b| b.is_ascii_hexdigit())).then(|| format!("pi_{rest}"))
}

/// HTTP 200 whenever the gateway answers (the code says what happened); 404 for a path it
/// does not serve.
pub fn status(answer: &Answer) -> u16 {
    match answer {
        Answer::Error(ApiError::UnknownRoute { .. }) => 404,
        _ => 200,
    }
}

/// Where a trade stands: paid; closed by a hard decline or unpaid at its cashier's expiry;
/// open otherwise (created, waiting for its buyer, or failed by the channel and open for
/// another payment).
pub fn trade_status(it: &Intent) -> TradeStatus {
    match (it.status, &it.last_error) {
        (IntentStatus::Succeeded, _) => TradeStatus::Success,
        (IntentStatus::Canceled, _) => TradeStatus::Closed,
        (_, Some(d)) if d.reason != FailReason::ProviderError => TradeStatus::Closed,
        _ => TradeStatus::WaitBuyerPay,
    }
}

/// The code of a trade's latest payment attempt.
pub fn pay_code(it: &Intent) -> Code {
    match (it.status, &it.last_error) {
        (IntentStatus::Succeeded, _) => Code::Success,
        (IntentStatus::RequiresAction, _) => Code::AwaitingBuyer,
        (IntentStatus::Canceled, _) => Code::Expired,
        (_, Some(d)) => decline_code(d.reason),
        // Created and not yet charged: not reachable through the gateway's pay.
        _ => Code::Unconfirmed,
    }
}

/// The code a decline is answered with.
pub fn decline_code(reason: FailReason) -> Code {
    match reason {
        FailReason::InsufficientFunds => Code::InsufficientBalance,
        FailReason::RiskBlocked => Code::RiskIntercepted,
        FailReason::ProviderError => Code::ChannelError,
        FailReason::Declined => Code::Declined,
    }
}

/// The code an error is answered with.
pub fn error_code(e: &ApiError) -> Code {
    match e {
        ApiError::ServerError => Code::SystemError,
        ApiError::RateLimited | ApiError::Overloaded { .. } => Code::Busy,
        ApiError::KeyInUse { .. } => Code::Unconfirmed,
        ApiError::IdempotencyParams { .. } | ApiError::IdempotencyEndpoint { .. } => {
            Code::TradeConflict
        }
        ApiError::NoSuchIntent { .. }
        | ApiError::NoSuchObject { .. }
        | ApiError::UnknownIntentParam { .. } => Code::TradeNotFound,
        ApiError::InvalidParam { param, .. } if param == "sign" => Code::InvalidSign,
        _ => Code::InvalidParam,
    }
}

/// The trade's fields, as the pay and query answers and the notifications carry them.
fn trade_fields(it: &Intent, out: &mut Map<String, Value>) {
    let s = |v: &str| Value::String(v.to_string());
    out.insert("out_trade_no".into(), s(it.order_id().unwrap_or("")));
    out.insert("trade_no".into(), s(&trade_no(&it.id)));
    out.insert("total_amount".into(), s(&format_amount(it.amount)));
    out.insert("currency".into(), s(&it.currency));
    out.insert("trade_status".into(), s(trade_status(it).as_str()));
    if let Some(m) = it.metadata.get("merchant_id") {
        out.insert("merchant_id".into(), s(m));
    }
    // Where the buyer pays, while the trade waits for them.
    if let (IntentStatus::RequiresAction, Some(url)) = (it.status, &it.challenge_url) {
        out.insert("cashier_url".into(), s(url));
    }
}

fn head(code: Code) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("code".into(), code.as_str().into());
    m.insert("msg".into(), code.msg().into());
    m
}

/// `{"code","msg",…}` for an answer; the trade's fields when there is a trade.
pub fn answer_json(answer: &Answer) -> Value {
    let mut m;
    match answer {
        Answer::Intent(it) | Answer::Declined(it) | Answer::IntentWithCharge(it, _) => {
            m = head(pay_code(it));
            trade_fields(it, &mut m);
        }
        Answer::Search(list) => match list.last() {
            // One trade per out_trade_no: the gateway's pay never creates a second one.
            Some(it) => {
                m = head(Code::Success);
                trade_fields(it, &mut m);
                let paid = pay_code(it);
                m.insert("pay_code".into(), paid.as_str().into());
                m.insert("pay_msg".into(), paid.msg().into());
                m.insert(
                    "refund_amount".into(),
                    format_amount(it.amount_refunded).into(),
                );
            }
            None => m = head(Code::TradeNotFound),
        },
        Answer::Refund(r) => {
            m = head(Code::Success);
            refund_fields(r, &mut m);
        }
        Answer::Error(e) => {
            m = head(error_code(e));
            m.insert("sub_msg".into(), e.to_string().into());
            if let ApiError::KeyInUse { key } = e {
                if let Some(otn) = out_trade_no_of_key(key) {
                    m.insert("out_trade_no".into(), otn.into());
                }
            }
        }
        // Stripe's charge and event reads have no gateway route.
        Answer::Charge(_) | Answer::Events(_) | Answer::Event(_) | Answer::PaymentMethod(_) => {
            m = head(Code::InvalidParam);
        }
    }
    Value::Object(m)
}

fn refund_fields(r: &Refund, out: &mut Map<String, Value>) {
    out.insert("trade_no".into(), trade_no(&r.payment_intent).into());
    out.insert("refund_amount".into(), format_amount(r.amount).into());
    if let Some(req) = r.metadata.get("out_request_no") {
        out.insert("out_request_no".into(), req.clone().into());
    }
}

/// Renders an answer, and the notification the execution creates when `event` is given and
/// the trade's status changed to one the gateway notifies (paid, closed); a channel error
/// leaves the trade open and notifies nothing, as Alipay does not notify `WAIT_BUYER_PAY`.
pub fn render(answer: &Answer, event: Option<EventMeta<'_>>) -> (Rendered, Option<Event>) {
    let body = answer_json(answer).to_string();
    let notification = match (answer, event) {
        (Answer::Intent(it) | Answer::Declined(it), Some(meta)) => notify::notification(&meta, it),
        _ => None,
    };
    let rendered = Rendered {
        status: status(answer),
        // Kept for the whole run (replays, event lists): a `Bytes` made from a `String`
        // keeps its whole allocation, up to twice the length after rendering's doublings.
        body: Bytes::from(body.into_bytes().into_boxed_slice()),
        should_retry: None,
    };
    (rendered, notification)
}

/// The gateway dialect: no API key and no key header; a request is authenticated by its
/// `merchant_id` and `sign` (checked in `decode`), and keyed by what it carries
/// (`out_trade_no`, `out_request_no`).
#[derive(Clone, Copy, Debug)]
pub struct Gateway;

impl Dialect for Gateway {
    fn route(&self, method: &Method, path: &str) -> Option<Route> {
        route(method, path)
    }

    fn authenticate(&self, _headers: &HeaderMap) -> Result<(), ApiError> {
        Ok(())
    }

    fn idempotency_key<'h>(
        &self,
        _route: &Route,
        _headers: &'h HeaderMap,
    ) -> Option<&'h HeaderValue> {
        None
    }

    fn decode(
        &self,
        route: &Route,
        path: &str,
        query: Option<&str>,
        body: &[u8],
        secret: &str,
    ) -> Result<Decoded, ApiError> {
        decode(route, path, query, body, secret)
    }

    fn render(&self, answer: &Answer, event: Option<EventMeta<'_>>) -> (Rendered, Option<Event>) {
        render(answer, event)
    }

    fn status(&self, answer: &Answer) -> u16 {
        status(answer)
    }

    fn challenge_url(&self, base: &str, it: &Intent) -> Option<String> {
        // The cashier is the gateway's own page: a pay without `return_url` gets it too
        // (the page then shows the outcome instead of sending the browser back).
        Some(cashier::url(base, &it.id))
    }

    fn return_location(&self, it: &Intent, secret: &str) -> Option<String> {
        cashier::return_location(it, secret)
    }
}

#[cfg(test)]
mod tests;
