//! The reference merchant's payment channels and its routing policy: the primary provider
//! first, then the backups in order, each behind its own circuit breaker. A new checkout
//! goes to the first channel whose breaker admits it; an open breaker on the primary sends
//! new checkouts to a backup (failover), and a successful half-open probe closes it again
//! (fail-back). One channel (the plain run) behaves exactly as before: its breaker alone.

use std::time::Duration;

use super::api::ProviderApi;
use super::breaker::Breaker;
use super::gateway_client::GatewayClient;
use super::provider_client::{
    with_retries, Answer, Attempts, FoundIntent, ProviderClient, RetryPolicy, SearchError,
};
use super::{MerchantConfig, GATEWAY_NOTIFY_PATH};
use crate::net;
use crate::scenario::{BreakerConfig, Dialect};

/// One payment channel: a provider client and the breaker in front of it.
pub struct Channel {
    pub name: String,
    pub api: ProviderApi,
    pub breaker: Breaker,
}

/// A backup provider the merchant may fail over to.
#[derive(Clone, Debug)]
pub struct BackupChannel {
    /// The channel's name in logs.
    pub name: String,
    /// Base URL of the backup's API.
    pub provider_url: String,
    pub dialect: Dialect,
}

/// The channels of `cfg` in routing order: the primary (`cfg.provider_url`), then the
/// backups. `addr` is the merchant's own address (a gateway channel's `notify_url`).
pub fn channels(
    cfg: &MerchantConfig,
    addr: std::net::SocketAddr,
) -> Result<Vec<Channel>, net::UrlError> {
    let primary = std::iter::once(("primary", cfg.provider_url.as_str(), cfg.dialect));
    let backups = cfg
        .backups
        .iter()
        .map(|b| (b.name.as_str(), b.provider_url.as_str(), b.dialect));
    primary
        .chain(backups)
        .map(|(name, url, dialect)| {
            Ok(Channel {
                name: name.to_string(),
                api: client(cfg, addr, url, dialect)?,
                breaker: Breaker::new(breaker_of(cfg)),
            })
        })
        .collect()
}

/// Each channel's breaker: the scenario's, or with backups and none configured, a default
/// one (without a breaker, every checkout would wait out the primary's outage first).
fn breaker_of(cfg: &MerchantConfig) -> Option<BreakerConfig> {
    cfg.reference.breaker.or_else(|| {
        (!cfg.backups.is_empty()).then_some(BreakerConfig {
            failures: DEFAULT_FAILOVER_FAILURES,
            cooldown: DEFAULT_FAILOVER_COOLDOWN,
        })
    })
}

/// The breaker a merchant with backups uses when the scenario sets none: open after 3
/// checkouts in a row in trouble, probe after 1 s.
pub const DEFAULT_FAILOVER_FAILURES: u32 = 3;
pub const DEFAULT_FAILOVER_COOLDOWN: Duration = Duration::from_secs(1);

fn client(
    cfg: &MerchantConfig,
    addr: std::net::SocketAddr,
    url: &str,
    dialect: Dialect,
) -> Result<ProviderApi, net::UrlError> {
    let timeout = cfg.reference.provider_timeout;
    match dialect {
        Dialect::Stripe => ProviderClient::new(url, &cfg.api_key, timeout).map(ProviderApi::Stripe),
        Dialect::Gateway => {
            let notify_url = format!("http://{addr}{GATEWAY_NOTIFY_PATH}");
            GatewayClient::new(url, &cfg.webhook_secret, &notify_url, timeout)
                .map(ProviderApi::Gateway)
        }
    }
}

/// An order's payments on every channel, for the reconciler: each channel is asked in
/// routing order (an order pending on a backup is found there); a failed search on any
/// channel makes the whole answer unknown, so the order is asked about again next round.
pub async fn search_everywhere(
    channels: &[Channel],
    order_id: &str,
) -> Result<Vec<FoundIntent>, SearchError> {
    let Some((primary, backups)) = channels.split_first() else {
        return Ok(Vec::new());
    };
    let mut found = primary.api.search_by_order(order_id).await?;
    for b in backups {
        found.extend(b.api.search_by_order(order_id).await?);
    }
    Ok(found)
}

/// Refunds `payment_id` on the channel that took it: the primary first, then each backup
/// while the channel refuses the payment as not its own (a final 4xx); with one channel,
/// the primary's answer whatever it is.
pub async fn refund_where_paid(
    channels: &[Channel],
    policy: RetryPolicy,
    payment_id: &str,
    key: &str,
) -> Attempts {
    let mut last = None;
    for ch in channels {
        let a = with_retries(policy, || ch.api.refund(payment_id, key)).await;
        if !matches!(a.last, Answer::Fatal { .. }) {
            return a;
        }
        last = Some(a);
    }
    last.unwrap_or(Attempts {
        last: Answer::Fatal { status: 404 },
        saw_indeterminate: false,
        sent: 0,
    })
}
