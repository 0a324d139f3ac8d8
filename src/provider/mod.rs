//! The mock payment provider: HTTP server, ledger (the truth), idempotency store, dialects,
//! webhook dispatcher. `server` accepts and answers; a `dialect` turns wire requests (`form`)
//! into neutral calls and answers back into the wire; `exec` decides faults, checks keys in the
//! `idempotency` store and executes against the `ledger`, all under one lock; executed charges
//! hand an event to the `webhooks` dispatcher. `lifecycle` runs the intent steps beyond the
//! charge (update, capture, cancel) and the reads of `charges` and `events`; `cards` knows
//! the test payment methods; `trade` picks the gateway's pay target and key by order number;
//! `overload` sheds requests beyond the in-flight cap before any of this; `replica` marks the
//! ids of one replica of a set behind a load balancer; `metadata` is the compact map of an
//! intent's and a charge's metadata, `index` the id indexes that keep no copy of the ids.
//! Served on its own (`serve_with`), it also answers the `control` API under `/_paychaos/`
//! and logs each request through `reqlog`.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::chaos::Chaos;
use crate::domain::{LedgerEntry, WebhookAttempt};
use crate::scenario::{Dialect, Scenario};

pub mod cards;
pub mod challenge;
pub mod charges;
pub(crate) mod control;
pub mod dialects;
pub mod events;
pub mod exec;
pub mod form;
pub mod idempotency;
pub mod index;
pub mod ledger;
mod lifecycle;
pub mod metadata;
mod overload;
pub mod payment_methods;
pub mod replica;
pub mod reqlog;
mod rerender;
pub mod retention;
mod server;
mod trade;
pub mod velocity;
pub mod webhooks;

pub use control::{ControlOptions, ServeOptions};
pub use overload::RETRY_AFTER_SECS;
pub use reqlog::{RequestHook, RequestLog};
use server::{Role, Shared};
use webhooks::{Dispatcher, WebhookConfig};

/// Everything the provider needs to run.
#[derive(Clone, Debug)]
pub struct ProviderConfig {
    /// Seeded fault decisions (rates, windows, latency, webhook chaos).
    pub chaos: Chaos,
    pub dialect: Dialect,
    /// How long `timeout` / `timeout_after_charge` / `late_charge` faults hold a request before
    /// dropping it (a late charge executes at the end of the hold).
    pub hold: Duration,
    /// Where webhooks go; `None` sends none (events are still recorded).
    pub webhook_url: Option<String>,
    /// `whsec_…`; the HMAC key is the whole string, prefix included, as Stripe does.
    pub webhook_secret: String,
    /// Wait before each retry of a failed delivery; its length is the number of retries.
    pub webhook_retry: Vec<Duration>,
    /// A delivery attempt with no answer after this long has failed.
    pub webhook_timeout: Duration,
    /// Run time zero: fault windows and ledger times are measured from here.
    pub origin: Instant,
    /// Orders the run plans: the ledger, keys and events are sized for them up front
    /// (`domain::sizing::per_order`), so no map grows during the load. 0: sized as they fill.
    pub expected_orders: u64,
    /// Keep only the newest records (`paychaos provider --retain`); `None` keeps all, as a
    /// run's verifier needs.
    pub retain: Option<retention::Retention>,
    /// API requests served at once; more are shed at once with the dialect's rate-limit
    /// answer (`overload`). The control API is never shed.
    pub max_in_flight: usize,
    /// Velocity rules against card testing (`[provider.velocity]`); `None`: off.
    pub velocity: Option<crate::scenario::card_testers::VelocityRules>,
    /// Which replica of a set this provider is (`--replica K/N`): the ids it mints carry it,
    /// so a load balancer can route to the owner. `None`: a provider alone.
    pub replica: Option<replica::Replica>,
    /// The `faults.requires_action` rate and the challenge expiry.
    pub challenge: challenge::ChallengeConfig,
}

impl ProviderConfig {
    /// The provider a scenario describes: its seed and fault plan, webhook chaos, dialect,
    /// hold and webhook settings. `webhook_url` is where events go (`None`: nowhere);
    /// `origin` is run time zero. `expected_orders` is left 0 for the caller who knows the plan.
    pub fn from_scenario(
        scenario: &Scenario,
        webhook_url: Option<String>,
        origin: Instant,
    ) -> ProviderConfig {
        ProviderConfig {
            chaos: Chaos::new(
                scenario.seed,
                scenario.faults.clone(),
                scenario.webhooks.chaos.clone(),
            ),
            dialect: scenario.provider.dialect,
            hold: scenario.provider.hold,
            webhook_url,
            webhook_secret: scenario.webhooks.secret.clone(),
            webhook_retry: scenario.webhooks.retry_schedule.clone(),
            webhook_timeout: scenario.webhooks.timeout,
            origin,
            expected_orders: 0,
            retain: None,
            max_in_flight: scenario.provider.max_in_flight.get(),
            velocity: scenario.card_testing.provider,
            replica: None,
            challenge: challenge::ChallengeConfig {
                requires_action: scenario.journeys.requires_action,
                expiry: scenario.journeys.challenge_expiry,
            },
        }
    }
}

impl ProviderConfig {
    /// The provider of channel `index` of `scenario` (0 the primary, as
    /// [`ProviderConfig::from_scenario`]; 1.. its backups in routing order): the channel's
    /// dialect, hold, limits and fault plan, drawn with the channel's own seed
    /// ([`channel_seed`](crate::scenario::channels::channel_seed)) but for the card's fate,
    /// which is the customer's on every channel; webhook chaos and settings are the
    /// scenario's.
    pub fn for_channel(
        scenario: &Scenario,
        index: usize,
        webhook_url: Option<String>,
        origin: Instant,
    ) -> ProviderConfig {
        let primary = ProviderConfig::from_scenario(scenario, webhook_url, origin);
        let Some(b) = index
            .checked_sub(1)
            .and_then(|i| scenario.routing.backups.get(i))
        else {
            return primary;
        };
        let seed = crate::scenario::channels::channel_seed(scenario.seed, index, &b.name);
        let chaos = Chaos {
            card_seed: scenario.seed,
            ..Chaos::new(seed, b.faults.clone(), scenario.webhooks.chaos.clone())
        };
        ProviderConfig {
            chaos,
            dialect: b.provider.dialect,
            hold: b.provider.hold,
            max_in_flight: b.provider.max_in_flight.get(),
            ..primary
        }
    }
}

/// The live counters of a running provider: atomics read on demand, nothing kept per request.
#[derive(Clone)]
pub struct ProviderStats(Arc<Shared>);

impl std::fmt::Debug for ProviderStats {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ProviderStats")
    }
}

impl ProviderStats {
    /// Requests on the provider's API so far.
    pub fn requests(&self) -> u64 {
        self.0.requests()
    }

    /// Webhook events created so far.
    pub fn webhook_events(&self) -> u64 {
        self.0.dispatcher.created()
    }

    /// Webhook attempts started, then finished acknowledged and not (dropped included).
    pub fn webhook_attempts(&self) -> (u64, u64, u64) {
        self.0.dispatcher.attempt_counts()
    }

    /// API requests shed at the in-flight cap so far, and those in flight now.
    pub fn overload(&self) -> (u64, usize) {
        (self.0.admission.shed(), self.0.admission.in_flight())
    }
}

/// A running provider.
pub struct ProviderHandle {
    addr: SocketAddr,
    shared: Arc<Shared>,
    task: JoinHandle<()>,
    /// The control API's own listener and server task, with `ControlOptions::listener`.
    control: Option<(SocketAddr, JoinHandle<()>)>,
}

impl ProviderHandle {
    /// Where the provider listens.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Where the control API listens when it has a listener of its own.
    pub fn control_addr(&self) -> Option<SocketAddr> {
        self.control.as_ref().map(|(addr, _)| *addr)
    }

    /// The chaos in force now (the control API may have replaced the configured one).
    pub fn chaos(&self) -> Arc<Chaos> {
        self.shared.chaos()
    }

    /// Replaces the fault plan and webhook chaos for requests and events from now on.
    pub fn replace_chaos(&self, chaos: Chaos) {
        self.shared.replace_chaos(chaos);
    }

    /// A copy of the ledger so far, in arrival order.
    pub fn ledger(&self) -> Vec<LedgerEntry> {
        self.shared.lock().ledger.snapshot()
    }

    /// The ledger and the webhook delivery attempts so far, moved out of the provider: what
    /// a run verifies and reports on once its load and drain are over, read without a copy
    /// of either. Requests after this are numbered on but not in what was taken.
    pub fn take_records(&self) -> (Vec<LedgerEntry>, Vec<WebhookAttempt>) {
        let ledger = self.shared.lock().ledger.take_entries();
        (ledger, self.shared.dispatcher.take_log())
    }

    /// Every webhook delivery attempt so far.
    pub fn webhook_log(&self) -> Vec<WebhookAttempt> {
        self.shared.dispatcher.log()
    }

    /// API requests shed so far at the in-flight cap (`ProviderConfig::max_in_flight`).
    pub fn shed(&self) -> u64 {
        self.shared.admission.shed()
    }

    /// API requests in flight now (under the cap).
    pub fn in_flight(&self) -> usize {
        self.shared.admission.in_flight()
    }

    /// The provider's live counters, readable while it serves (for `/metrics`).
    pub fn stats(&self) -> ProviderStats {
        ProviderStats(Arc::clone(&self.shared))
    }

    /// Webhook events created so far (one per executed charge).
    pub fn events_created(&self) -> u64 {
        self.shared.dispatcher.created()
    }

    /// Whether no webhook delivery is pending.
    pub fn webhooks_idle(&self) -> bool {
        self.shared.dispatcher.idle()
    }

    /// Whether nothing is left to happen on the provider's side: no late charge waiting to
    /// execute, no challenge waiting for its expiry and no webhook delivery pending.
    pub fn idle(&self) -> bool {
        use std::sync::atomic::Ordering;
        self.shared.late_pending.load(Ordering::Acquire) == 0
            && self.shared.challenges_pending.load(Ordering::Acquire) == 0
            && self.webhooks_idle()
    }

    /// Resolves once the server has stopped (after `shutdown` is cancelled) and its
    /// connections have closed.
    pub async fn stopped(self) {
        if let Err(e) = self.task.await {
            tracing::error!("server task failed: {e}");
        }
        if let Some((_, task)) = self.control {
            if let Err(e) = task.await {
                tracing::error!("control server task failed: {e}");
            }
        }
    }
}

/// Serves the provider on `listener` until `shutdown` is cancelled. Must be called inside a
/// tokio runtime.
pub fn serve(
    listener: TcpListener,
    cfg: ProviderConfig,
    shutdown: CancellationToken,
) -> ProviderHandle {
    serve_with(listener, cfg, ServeOptions::default(), shutdown)
}

/// [`serve`] with the extras of a provider served on its own: the control API and the
/// request log. Must be called inside a tokio runtime.
pub fn serve_with(
    listener: TcpListener,
    cfg: ProviderConfig,
    opts: ServeOptions,
    shutdown: CancellationToken,
) -> ProviderHandle {
    let addr = listener
        .local_addr()
        .expect("a bound listener has a local address");
    let dispatcher = Dispatcher::start(
        WebhookConfig {
            url: cfg.webhook_url.clone(),
            secret: cfg.webhook_secret.clone(),
            retry: cfg.webhook_retry.clone(),
            timeout: cfg.webhook_timeout,
            origin: cfg.origin,
            chaos: cfg.chaos.clone(),
            keep_attempts: cfg.retain.map(retention::Retention::attempts),
        },
        shutdown.clone(),
    );
    let mut shared = Shared::new(cfg, dispatcher, shutdown);
    shared.on_request = opts.on_request;
    shared.base = format!("http://{addr}");
    let limits = opts.limits;
    let (role, control_listener) = match opts.control {
        None => (Role::Api { control: false }, None),
        Some(c) => {
            shared.control_token = c.token;
            let on_port = c.listener.is_none();
            (Role::Api { control: on_port }, c.listener)
        }
    };
    let shared = Arc::new(shared);
    let task = tokio::spawn(server::run(listener, shared.clone(), role, limits));
    let control = control_listener.map(|l| {
        let addr = l
            .local_addr()
            .expect("a bound listener has a local address");
        let task = tokio::spawn(server::run(l, shared.clone(), Role::Control, limits));
        (addr, task)
    });
    ProviderHandle {
        addr,
        shared,
        task,
        control,
    }
}

#[cfg(test)]
mod tests;
