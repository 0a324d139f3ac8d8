//! The parts of a run, bound and started from a [`Scenario`]: the provider on its listener,
//! and either the reference merchant on a loopback port of its own or, for an external
//! merchant, a briefing and a wait until it answers. Stopping waits for both servers.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use anyhow::Context;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use super::briefing::external_briefing;
use crate::domain::OrderSnapshot;
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
    /// The backup providers, in routing order (none for a one-provider run).
    pub backups: Vec<ProviderHandle>,
    /// How the load reaches the merchant and reads its orders.
    pub contract: Contract,
    /// Run time zero: fault windows, ledger times and the load are measured from here.
    pub origin: Instant,
    /// `None` for an external merchant, which the run did not start.
    merchant: Option<MerchantHandle>,
    /// The alert receiver, started when the scenario drills an `[alarm]`.
    pub alerts: Option<super::alerts::Receiver>,
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
        let servers = CancellationToken::new();
        let alerts = match &scenario.alarm {
            Some(_) => {
                let rx = super::alerts::start(servers.child_token())
                    .context("binding the alert receiver's listener")?;
                tracing::info!(
                    "alert receiver {} (Alertmanager webhook_config url: point the merchant's \
                     alerting there)",
                    rx.url
                );
                Some(rx)
            }
            None => None,
        };
        let blisteners = super::channels::bind(scenario)?;
        let baddrs = super::channels::addrs(&blisteners)?;
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
                for line in super::briefing::backup_lines(scenario, &baddrs) {
                    tracing::info!("{line}");
                }
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
        let origin = origin.unwrap_or_else(Instant::now);
        let provider = plistener.map(|plistener| {
            provider::serve(
                plistener,
                ProviderConfig {
                    expected_orders: planned_orders(scenario),
                    ..ProviderConfig::from_scenario(scenario, Some(webhook_url.clone()), origin)
                },
                servers.child_token(),
            )
        });
        let webhook_of = |i: usize| match &scenario.merchant {
            MerchantSpec::Reference(_) => {
                let dialect = scenario.routing.backups[i - 1].provider.dialect;
                let base = webhook_url
                    .strip_suffix(merchant::webhook_path(scenario.provider.dialect))
                    .unwrap_or(&webhook_url);
                format!("{base}{}", merchant::webhook_path(dialect))
            }
            // One webhook endpoint for every channel: the merchant's own routing.
            MerchantSpec::External(_) => webhook_url.clone(),
        };
        let backups = super::channels::serve(
            scenario,
            blisteners,
            webhook_of,
            planned_orders(scenario),
            origin,
            &servers,
        );
        let merchant = match embedded {
            Some((listener, reference)) => {
                let monitor = alerts.as_ref().zip(scenario.alarm.as_ref());
                let monitor = monitor.filter(|(_, a)| a.monitor).map(|(rx, a)| {
                    merchant::monitor::MonitorConfig {
                        url: rx.url.clone(),
                        spec: a.clone(),
                    }
                });
                match start_merchant(
                    listener, scenario, reference, paddr, monitor, &baddrs, &servers,
                ) {
                    Ok(m) => Some(m),
                    Err(e) => {
                        servers.cancel();
                        if let Some(p) = provider {
                            p.stopped().await;
                        }
                        for b in backups {
                            b.stopped().await;
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
        for (b, addr) in scenario.routing.backups.iter().zip(&baddrs) {
            tracing::info!(
                "backup provider '{}' ({}): http://{addr}",
                b.name,
                b.provider.dialect.as_str()
            );
        }
        Ok(Harness {
            provider,
            backups,
            provider_url,
            contract,
            origin,
            merchant,
            alerts,
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

    /// The final states of `order_ids` (those the merchant knows, in that order): the
    /// embedded merchant's are read from its books, exactly what its bulk export shows,
    /// without the export's JSON of every order (and its parse tree, the largest transient
    /// of a long run's end); an external merchant's through `contract`.
    ///
    /// # Errors
    /// Only for an external merchant: a failed or unreadable answer.
    pub async fn read_orders(
        &self,
        contract: &Contract,
        order_ids: &[String],
    ) -> Result<Vec<OrderSnapshot>, load::ReadError> {
        match &self.merchant {
            Some(m) => Ok(m.order_snapshots(order_ids)),
            None => load::fetch_orders(contract, order_ids).await,
        }
    }

    /// Whether every backup provider is idle (late charges executed, deliveries done).
    pub fn backups_idle(&self) -> bool {
        self.backups.iter().all(ProviderHandle::idle)
    }

    /// Stops the servers and waits until they (and the merchant's tasks) have ended.
    pub async fn stop(self) {
        self.servers.cancel();
        if let Some(p) = self.provider {
            p.stopped().await;
        }
        for b in self.backups {
            b.stopped().await;
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
    monitor: Option<merchant::monitor::MonitorConfig>,
    baddrs: &[SocketAddr],
    servers: &CancellationToken,
) -> anyhow::Result<MerchantHandle> {
    let backups = scenario
        .routing
        .backups
        .iter()
        .zip(baddrs)
        .map(|(b, addr)| merchant::BackupChannel {
            name: b.name.clone(),
            provider_url: format!("http://{addr}"),
            dialect: b.provider.dialect,
        })
        .collect();
    let cfg = MerchantConfig {
        backups,
        reference: reference.clone(),
        provider_url: format!("http://{paddr}"),
        dialect: scenario.provider.dialect,
        api_key: DEFAULT_API_KEY.into(),
        webhook_secret: scenario.webhooks.secret.clone(),
        expected_orders: planned_orders(scenario),
        velocity: scenario.card_testing.merchant,
        monitor,
    };
    merchant::serve(listener, cfg, servers.child_token()).context("starting the reference merchant")
}

/// How many orders the scenario's load plans, in closed form from its stages (the integral
/// of the rate): what the provider and merchant size their per-order state for.
fn planned_orders(scenario: &Scenario) -> u64 {
    load::Schedule::new(&load::stages(&scenario.load.profile)).planned()
}
