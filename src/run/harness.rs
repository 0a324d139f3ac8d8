//! The parts of a run, bound and started from a [`Scenario`]: the provider on its listener,
//! and either the reference merchant on a loopback port of its own or, for an external
//! merchant, a briefing and a wait until it answers. Stopping waits for both servers.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use anyhow::Context;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use super::briefing::external_briefing;
use crate::load;
use crate::merchant::{self, MerchantConfig, MerchantHandle, DEFAULT_API_KEY};
use crate::provider::{self, ProviderConfig, ProviderHandle};
use crate::scenario::contract::Contract;
use crate::scenario::{MerchantSpec, ReferenceSpec, Scenario};

/// How long an external merchant has to accept a connection before the run gives up.
const MERCHANT_READY_WAIT: Duration = Duration::from_secs(5);

/// The running provider and merchant of one run.
pub struct Harness {
    /// `None` for an external provider (`provider.kind = "external"`), which the run did not
    /// start.
    pub provider: Option<ProviderHandle>,
    /// The provider's base URL, the one the merchant must pay at.
    pub provider_url: String,
    /// How the load reaches the merchant and reads its orders.
    pub contract: Contract,
    /// Run time zero: fault windows, ledger times and the load are measured from here.
    pub origin: Instant,
    /// `None` for an external merchant, which the run did not start.
    merchant: Option<MerchantHandle>,
    /// Cancelled by [`Harness::stop`]; the servers outlive the load so that webhooks and
    /// reconciliation can settle.
    servers: CancellationToken,
}

impl Harness {
    /// Binds the provider's listener (and the embedded merchant's), waits for an external
    /// merchant to accept connections (logging what it must be configured with), then starts
    /// the servers. Cancelling `interrupt` ends the wait. An external provider is neither
    /// bound nor started. `origin` is run time zero (now, or a common start to come).
    pub async fn start(
        scenario: &Scenario,
        interrupt: &CancellationToken,
        origin: Option<Instant>,
    ) -> anyhow::Result<Harness> {
        let (plistener, paddr) = match &scenario.provider.external {
            Some(url) => (None, crate::net::LoopbackUrl::parse(url)?.addr()),
            None => {
                let listen = scenario.provider.listen;
                let l = crate::net::listen(listen).with_context(|| {
                    format!(
                        "cannot listen on {listen} (provider.listen; is another process using that port?)"
                    )
                })?;
                let addr = l.local_addr()?;
                (Some(l), addr)
            }
        };
        let provider_url = scenario
            .provider
            .external
            .clone()
            .unwrap_or_else(|| format!("http://{paddr}"));
        // The embedded merchant gets a listener of its own; an external one must already be
        // listening, and is told what to be configured with.
        let (embedded, contract, webhook_url) = match &scenario.merchant {
            MerchantSpec::Reference(reference) => {
                let l = crate::net::listen(SocketAddr::from(([127, 0, 0, 1], 0)))
                    .context("binding the merchant's listener")?;
                let base = format!("http://{}", l.local_addr()?);
                let webhook_url = format!(
                    "{base}{}",
                    merchant::webhook_path(scenario.provider.dialect)
                );
                (
                    Some((l, reference)),
                    Contract::reference(&base),
                    webhook_url,
                )
            }
            MerchantSpec::External(ext) => {
                tracing::info!("{}", external_briefing(scenario, paddr, ext));
                tokio::select! {
                    ready = load::wait_for_merchant(&ext.contract, MERCHANT_READY_WAIT) => {
                        ready.map_err(|e| anyhow::anyhow!("external merchant: {e}"))?;
                    }
                    _ = interrupt.cancelled() => {
                        anyhow::bail!("interrupted while waiting for the external merchant to answer")
                    }
                }
                (None, ext.contract.clone(), ext.webhook_url.clone())
            }
        };
        let servers = CancellationToken::new();
        let origin = origin.unwrap_or_else(Instant::now);
        let provider = plistener.map(|plistener| {
            provider::serve(
                plistener,
                ProviderConfig {
                    expected_orders: planned_orders(scenario),
                    ..ProviderConfig::from_scenario(scenario, Some(webhook_url), origin)
                },
                servers.child_token(),
            )
        });
        let merchant = match embedded {
            Some((listener, reference)) => {
                match start_merchant(listener, scenario, reference, paddr, &servers) {
                    Ok(m) => Some(m),
                    Err(e) => {
                        servers.cancel();
                        if let Some(p) = provider {
                            p.stopped().await;
                        }
                        return Err(e);
                    }
                }
            }
            None => None,
        };
        tracing::info!(
            "scenario '{}' seed {}: provider {provider_url}, merchant {}",
            scenario.name,
            scenario.seed,
            contract.checkout.url
        );
        Ok(Harness {
            provider,
            provider_url,
            contract,
            origin,
            merchant,
            servers,
        })
    }

    /// Whether the embedded merchant still owes a refund it is retrying (an external
    /// merchant's own work is not visible: never).
    pub fn merchant_busy(&self) -> bool {
        self.merchant
            .as_ref()
            .is_some_and(|m| m.refunds_in_flight() > 0)
    }

    /// Stops the servers and waits until they (and the merchant's tasks) have ended.
    pub async fn stop(self) {
        self.servers.cancel();
        if let Some(p) = self.provider {
            p.stopped().await;
        }
        if let Some(merchant) = self.merchant {
            merchant.stopped().await;
        }
    }
}

/// The reference merchant of `scenario` on `listener`, charging at the provider on `paddr`.
fn start_merchant(
    listener: TcpListener,
    scenario: &Scenario,
    reference: &ReferenceSpec,
    paddr: SocketAddr,
    servers: &CancellationToken,
) -> anyhow::Result<MerchantHandle> {
    let cfg = MerchantConfig {
        reference: reference.clone(),
        provider_url: format!("http://{paddr}"),
        dialect: scenario.provider.dialect,
        api_key: DEFAULT_API_KEY.into(),
        webhook_secret: scenario.webhooks.secret.clone(),
        expected_orders: planned_orders(scenario),
    };
    merchant::serve(listener, cfg, servers.child_token()).context("starting the reference merchant")
}

/// How many orders the scenario's load plans, in closed form from its stages (the integral
/// of the rate): what the provider and merchant size their per-order state for.
fn planned_orders(scenario: &Scenario) -> u64 {
    load::Schedule::new(&load::stages(&scenario.load.profile)).planned()
}
