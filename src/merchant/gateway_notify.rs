//! The gateway's notifications at `POST /notify/gateway`: verify (the `sign` over the sorted
//! parameters, a `notify_time` within 300 s, the amount of a known order), dedupe by
//! `notify_id`, apply the trade status with the store's rules (as Stripe webhooks), and
//! answer the exact body `success`; a refused notification gets 400 `fail`, so the gateway
//! sends it again. The webhook flaws act here as in `handlers`.

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use http_body_util::Full;
use hyper::header::{HeaderValue, CONTENT_TYPE};
use hyper::{Request, Response, StatusCode};

use super::gateway_client::{closed_reason, decline_reason};
use super::handlers::{read_body, run_effect};
use super::store::{Effect, Settlement};
use super::Shared;
use crate::domain::FailReason;
use crate::gateway::{parse_amount, Code, TradeStatus, FAIL_BODY, SUCCESS_BODY};
use crate::net;
use crate::scenario::flaws::Flaw;
use crate::signature;

/// Handles one notification.
pub(crate) async fn notify(shared: Arc<Shared>, req: Request<net::Body>) -> Response<Full<Bytes>> {
    let Ok(body) = read_body(req).await else {
        return fail();
    };
    let params: Vec<(String, String)> = form_urlencoded::parse(&body).into_owned().collect();
    let flaws = shared.cfg.reference.flaws;
    if !flaws.has(Flaw::SkipSignatureCheck) && verify(&shared, &params, unix_now()).is_err() {
        return fail();
    }
    let Some(notify_id) = get(&params, "notify_id").filter(|id| !id.is_empty()) else {
        return fail();
    };
    if flaws.has(Flaw::CrashFirstDelivery) && shared.store.first_delivery(notify_id) {
        return text(StatusCode::INTERNAL_SERVER_ERROR, FAIL_BODY);
    }
    if flaws.has(Flaw::IgnoreWebhooks) {
        return success();
    }
    let effect = if shared.store.first_sight(notify_id) {
        match settlement_of(&params) {
            // Only with `fulfil_on_return_only`: a paid cashier trade waits for its return.
            Some((o, Settlement::Paid { .. })) if super::returns::waits_for_return(&shared, &o) => {
                Effect::None
            }
            Some((o, s)) => shared.store.settle(&o, &s),
            None => Effect::None,
        }
    } else if flaws.has(Flaw::NoEventDedupe) {
        settlement_of(&params).map_or(Effect::None, |(o, s)| shared.store.repeat(&o, &s))
    } else {
        // Seen before: acknowledge again, or the gateway keeps sending it.
        return success();
    };
    // Refunds run in their own task: the gateway gets its `success` at once.
    run_effect(&shared, effect);
    success()
}

/// Checks a notification as the gateway's documentation asks: the `sign` with the merchant
/// key, a fresh `notify_time`, and the amount of the order it names (when the order is
/// known); the error says which failed.
fn verify(shared: &Shared, params: &[(String, String)], now: i64) -> Result<(), String> {
    signature::gateway_verify(params, &shared.cfg.webhook_secret).map_err(|e| e.to_string())?;
    let time = get(params, "notify_time").ok_or("no notify_time")?;
    signature::gateway_check_time(time, now, signature::DEFAULT_TOLERANCE_S)
        .map_err(|e| e.to_string())?;
    let order = get(params, "out_trade_no").and_then(|o| shared.store.get(o));
    if let Some(order) = order {
        let amount = get(params, "total_amount").and_then(parse_amount);
        if amount != Some(order.amount) {
            return Err(format!(
                "total_amount {:?} is not the order's {}",
                get(params, "total_amount"),
                order.amount
            ));
        }
    }
    Ok(())
}

/// What a notification says about which order: `None` without an order or a known status.
pub fn settlement_of(params: &[(String, String)]) -> Option<(String, Settlement)> {
    let order_id = get(params, "out_trade_no")?.to_string();
    let s = match TradeStatus::parse(get(params, "trade_status")?)? {
        TradeStatus::Success | TradeStatus::Finished => Settlement::Paid {
            payment_id: get(params, "trade_no")?.to_string(),
        },
        TradeStatus::Closed => {
            let code = get(params, "pay_code").and_then(Code::parse);
            match code.and_then(decline_reason) {
                Some(FailReason::ProviderError) => Settlement::SoftDeclined,
                _ => Settlement::Failed(closed_reason(code)),
            }
        }
        // Still open: nothing is decided.
        TradeStatus::WaitBuyerPay => Settlement::SoftDeclined,
    };
    Some((order_id, s))
}

fn get<'a>(params: &'a [(String, String)], name: &str) -> Option<&'a str> {
    params
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

fn text(status: StatusCode, body: &'static str) -> Response<Full<Bytes>> {
    let mut resp = Response::new(Full::new(Bytes::from_static(body.as_bytes())));
    *resp.status_mut() = status;
    resp.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("text/plain"));
    resp
}

/// The acknowledgement: the exact 7 bytes `success`.
fn success() -> Response<Full<Bytes>> {
    text(StatusCode::OK, SUCCESS_BODY)
}

fn fail() -> Response<Full<Bytes>> {
    text(StatusCode::BAD_REQUEST, FAIL_BODY)
}

fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn trade_statuses_map_to_settlements() {
        let with = |status: &str, code: &str| {
            settlement_of(&params(&[
                ("out_trade_no", "ord-1"),
                ("trade_no", "T1"),
                ("trade_status", status),
                ("pay_code", code),
            ]))
            .map(|(_, s)| s)
        };
        assert_eq!(
            with("TRADE_SUCCESS", ""),
            Some(Settlement::Paid {
                payment_id: "T1".into()
            })
        );
        assert_eq!(
            with("TRADE_FINISHED", ""),
            Some(Settlement::Paid {
                payment_id: "T1".into()
            })
        );
        assert_eq!(
            with("TRADE_CLOSED", "101"),
            Some(Settlement::Failed(FailReason::InsufficientFunds))
        );
        assert_eq!(
            with("TRADE_CLOSED", "301"),
            Some(Settlement::Failed(FailReason::RiskBlocked))
        );
        assert_eq!(
            with("TRADE_CLOSED", ""),
            Some(Settlement::Failed(FailReason::Declined))
        );
        assert_eq!(
            with("WAIT_BUYER_PAY", "102"),
            Some(Settlement::SoftDeclined)
        );
        assert_eq!(
            with("TRADE_CLOSED", "104"),
            Some(Settlement::Failed(FailReason::ProviderError)),
            "closed unpaid at the cashier's expiry"
        );
        assert_eq!(with("PAID", ""), None);
        assert_eq!(
            settlement_of(&params(&[("trade_status", "TRADE_SUCCESS")])),
            None
        );
    }
}
