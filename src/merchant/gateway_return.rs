//! The return page of a gateway cashier payment (`/return/{order_id}?out_trade_no=…&sign=…`):
//! the gateway sends the buyer's browser back with the trade's parameters signed, but per
//! the gateway's guide only the notification or a query is proof of payment. So the page
//! checks the `sign` (a return that fails it is not even a hint), then *queries the trade*
//! of the order in the path and settles from the answer; it never settles from the
//! parameters. The planted `trust_return_params` believes `trade_status=TRADE_SUCCESS`.

use std::sync::Arc;

use bytes::Bytes;
use http_body_util::Full;
use hyper::{Response, StatusCode};

use super::api::ProviderApi;
use super::handlers::{checkout_answer, json_error, run_effect};
use super::reconcile::settlement_from_search;
use super::store::Settlement;
use super::Shared;
use crate::gateway::TradeStatus;
use crate::scenario::flaws::Flaw;
use crate::signature;

/// Whether a return page's query is the gateway's (it names the trade, not an intent).
pub(crate) fn is_gateway_return(query: &str) -> bool {
    form_urlencoded::parse(query.as_bytes()).any(|(k, _)| k == "out_trade_no" || k == "trade_no")
}

/// Answers the return page of `order_id` from a gateway cashier, in the words of the
/// checkout answer.
pub(crate) async fn return_page(
    shared: Arc<Shared>,
    order_id: &str,
    query: &str,
) -> Response<Full<Bytes>> {
    let params: Vec<(String, String)> = form_urlencoded::parse(query.as_bytes())
        .into_owned()
        .collect();
    if shared.store.get(order_id).is_none() {
        return json_error(
            StatusCode::NOT_FOUND,
            &format!("no order with id '{order_id}'"),
        );
    }
    // The flawed merchant believes a success it is told; anything else it checks as the
    // correct one does.
    let believed = if shared.cfg.reference.flaws.has(Flaw::TrustReturnParams) {
        trusted(&params)
    } else {
        None
    };
    let settlement = match believed {
        Some(s) => Some(s),
        None => match signature::gateway_verify(&params, &shared.cfg.webhook_secret) {
            Ok(()) => queried(&shared, order_id).await,
            Err(e) => {
                tracing::debug!("return page of {order_id}: not the gateway's: {e}");
                None
            }
        },
    };
    if let Some(s) = settlement {
        let effect = shared.store.settle(order_id, &s);
        run_effect(&shared, effect);
    }
    match shared.store.get(order_id) {
        Some(o) => checkout_answer(&o, shared.cfg.reference.flaws),
        None => json_error(StatusCode::INTERNAL_SERVER_ERROR, "order vanished"),
    }
}

/// The flawed reading: the browser says the trade succeeded, so it did.
fn trusted(params: &[(String, String)]) -> Option<Settlement> {
    let get = |name: &str| {
        params
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };
    (get("trade_status").and_then(TradeStatus::parse) == Some(TradeStatus::Success)).then(|| {
        Settlement::Paid {
            payment_id: get("trade_no").unwrap_or("").to_string(),
        }
    })
}

/// What the gateway says of the order's trade, asking each gateway channel in routing order;
/// `None` (no news) when no channel answers with a settled trade.
async fn queried(shared: &Shared, order_id: &str) -> Option<Settlement> {
    for ch in &shared.channels {
        let ProviderApi::Gateway(g) = &ch.api else {
            continue;
        };
        match g.query(order_id).await {
            Ok(found) if !found.is_empty() => return settlement_from_search(&found),
            Ok(_) => {}
            Err(e) => tracing::debug!("return page of {order_id}: {e}"),
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(q: &str) -> Vec<(String, String)> {
        form_urlencoded::parse(q.as_bytes()).into_owned().collect()
    }

    #[test]
    fn gateway_returns_are_told_from_stripe_ones_by_their_trade() {
        assert!(is_gateway_return("out_trade_no=ord-1&trade_no=T1&sign=x"));
        assert!(!is_gateway_return(
            "payment_intent=pi_1&redirect_status=succeeded"
        ));
    }

    #[test]
    fn only_the_flawed_reading_believes_the_browser() {
        assert_eq!(
            trusted(&params("trade_no=T1&trade_status=TRADE_SUCCESS")),
            Some(Settlement::Paid {
                payment_id: "T1".into()
            })
        );
        assert_eq!(
            trusted(&params("trade_no=T1&trade_status=TRADE_CLOSED")),
            None
        );
    }
}
