//! The provider API the merchant speaks, picked by the scenario's dialect: Stripe's
//! ([`ProviderClient`]) or the gateway's ([`GatewayClient`]). One set of calls (charge, pay
//! again, refund, find an order's payments) answered in the same [`Answer`]s, so the
//! checkout, the reconciler and refunds do not know which one they talk to.

use super::gateway_client::GatewayClient;
use super::provider_client::{Answer, ChargeParams, FoundIntent, ProviderClient, SearchError};

/// A provider client of either dialect.
pub enum ProviderApi {
    Stripe(ProviderClient),
    Gateway(GatewayClient),
}

impl ProviderApi {
    /// Charges the order. Stripe: create-and-confirm keyed by `key`. Gateway: pay by the
    /// order's `out_trade_no` (its own key; `key` is not sent).
    pub async fn create_payment_intent(&self, p: &ChargeParams<'_>, key: &str) -> Answer {
        match self {
            ProviderApi::Stripe(c) => c.create_payment_intent(p, key).await,
            ProviderApi::Gateway(g) => g.pay(p).await,
        }
    }

    /// Charges a payment again after a soft decline. Stripe: confirm the intent under `key`.
    /// Gateway: pay the same `out_trade_no` again (the trade is still open).
    pub async fn confirm_payment_intent(
        &self,
        p: &ChargeParams<'_>,
        payment_id: &str,
        key: &str,
    ) -> Answer {
        match self {
            ProviderApi::Stripe(c) => {
                c.confirm_payment_intent(payment_id, p.payment_method, p.raw_card, key)
                    .await
            }
            ProviderApi::Gateway(g) => g.pay(p).await,
        }
    }

    /// Refunds all of a payment (Stripe: intent id; gateway: `trade_no`), keyed by `key`
    /// (the gateway's `out_request_no`).
    pub async fn refund(&self, payment_id: &str, key: &str) -> Answer {
        match self {
            ProviderApi::Stripe(c) => c.refund(payment_id, key).await,
            ProviderApi::Gateway(g) => g.refund(payment_id, key).await,
        }
    }

    /// The provider's payments of an order (Stripe: a search by `metadata['order_id']`;
    /// gateway: the query of its `out_trade_no`).
    pub async fn search_by_order(&self, order_id: &str) -> Result<Vec<FoundIntent>, SearchError> {
        match self {
            ProviderApi::Stripe(c) => c.search_by_order(order_id).await,
            ProviderApi::Gateway(g) => g.query(order_id).await,
        }
    }
}
