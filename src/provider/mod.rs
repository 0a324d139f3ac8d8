//! The mock payment provider: HTTP server, ledger (the truth), idempotency store, dialects,
//! webhook dispatcher.
//! SKELETON: the interface below is fixed; bodies are to be written.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::chaos::Chaos;
use crate::domain::{LedgerEntry, WebhookAttempt};
use crate::scenario::Dialect;

pub mod webhooks;

/// Everything the provider needs to run.
#[derive(Clone, Debug)]
pub struct ProviderConfig {
    /// Seeded fault decisions (rates, windows, latency, webhook chaos).
    pub chaos: Chaos,
    pub dialect: Dialect,
    /// How long `timeout` / `timeout_after_charge` faults hold a request before dropping it.
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
}

/// A running provider.
pub struct ProviderHandle {}

impl ProviderHandle {
    pub fn addr(&self) -> SocketAddr {
        unimplemented!()
    }
    pub fn ledger(&self) -> Vec<LedgerEntry> {
        unimplemented!()
    }
    pub fn webhook_log(&self) -> Vec<WebhookAttempt> {
        unimplemented!()
    }
    pub fn events_created(&self) -> u64 {
        unimplemented!()
    }
    pub fn webhooks_idle(&self) -> bool {
        unimplemented!()
    }
    pub async fn stopped(self) {}
}

/// Serves the provider on `listener` until `shutdown` is cancelled.
pub fn serve(
    _listener: TcpListener,
    _cfg: ProviderConfig,
    _shutdown: CancellationToken,
) -> ProviderHandle {
    unimplemented!()
}
