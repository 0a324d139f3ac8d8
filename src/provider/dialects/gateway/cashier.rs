//! The gateway's cashier page, as the wire sees it: the page's URL for a trade waiting for
//! its buyer (`cashier_url` of a `100` answer), the trade its path names, and the signed
//! parameters the browser is sent back to the pay's `return_url` with. The page's behaviour
//! (the buyer's verdict, the expiry) is the provider's challenge flow, shared with Stripe.

use super::{intent_id, trade_no, trade_status};
use crate::gateway::{format_amount, CASHIER_PATH};
use crate::provider::ledger::Intent;
use crate::signature;

/// The cashier page of the trade of intent `id`.
pub fn url(base: &str, id: &str) -> String {
    format!("{base}{CASHIER_PATH}{}", trade_no(id))
}

/// The intent a cashier path names, and the action after it (`complete`, `fail`), when
/// `path` is one (`/gateway/cashier/{trade_no}[/{action}]`).
pub fn parse_path(path: &str) -> Option<(String, Option<&str>)> {
    let rest = path.strip_prefix(CASHIER_PATH)?;
    let (trade, action) = match rest.split_once('/') {
        Some((t, a)) => (t, Some(a)),
        None => (rest, None),
    };
    Some((intent_id(trade)?, action))
}

/// What the browser brings back: the trade as it stands when the buyer leaves the page,
/// with `timestamp` (`yyyy-MM-dd HH:mm:ss`, UTC+8), `sign_type` and `sign` (keyed with the
/// merchant key, as requests and notifications are). Not proof of payment: a merchant
/// queries the trade, or waits for the notification.
pub fn return_params(it: &Intent, secret: &str, now: i64) -> Vec<(&'static str, String)> {
    let mut params = vec![
        ("out_trade_no", it.order_id().unwrap_or("").to_string()),
        ("trade_no", trade_no(&it.id)),
        ("total_amount", format_amount(it.amount)),
        ("currency", it.currency.clone()),
        ("trade_status", trade_status(it).as_str().to_string()),
        ("timestamp", signature::gateway_time(now)),
    ];
    if let Some(m) = it.metadata.get("merchant_id") {
        params.push(("merchant_id", m.clone()));
    }
    let sign = signature::gateway_sign(secret, &params);
    params.push(("sign_type", signature::GATEWAY_SIGN_TYPE.to_string()));
    params.push(("sign", sign));
    params
}

/// `return_url` with the signed return parameters appended; `None` without a `return_url`.
pub fn return_location(it: &Intent, secret: &str) -> Option<String> {
    let back = it.return_url.as_deref()?;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64);
    let query = form_urlencoded::Serializer::new(String::new())
        .extend_pairs(return_params(it, secret, now))
        .finish();
    let sep = if back.contains('?') { '&' } else { '?' };
    Some(format!("{back}{sep}{query}"))
}

/// The cashier page's body: the amount and two forms, as a wallet's checkout page offers.
pub fn page_body(it: &Intent) -> String {
    let path = format!("{CASHIER_PATH}{}", trade_no(&it.id));
    format!(
        "<h1>Cashier</h1><p>Pay {} {} for order {}.</p>\
         <form method=\"post\" action=\"{path}/complete\"><button>Pay</button></form>\
         <form method=\"post\" action=\"{path}/fail\"><button>Payment fails</button></form>",
        format_amount(it.amount),
        it.currency.to_uppercase(),
        it.order_id().unwrap_or("-"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cashier_paths_name_their_trade_and_action() {
        assert_eq!(
            url("http://127.0.0.1:9", "pi_ab12"),
            "http://127.0.0.1:9/gateway/cashier/Tab12"
        );
        assert_eq!(
            parse_path("/gateway/cashier/Tab12"),
            Some(("pi_ab12".to_string(), None))
        );
        assert_eq!(
            parse_path("/gateway/cashier/Tr1_ab12/complete"),
            Some(("pi_r1_ab12".to_string(), Some("complete")))
        );
        assert_eq!(parse_path("/gateway/cashier/pi_x"), None);
        assert_eq!(parse_path("/_challenge/pi_ab12"), None);
    }
}
