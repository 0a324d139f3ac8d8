//! The reference merchant integration: the embedded default system under test.
//! SKELETON: the interface below is fixed; bodies are to be written.

use std::net::SocketAddr;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

/// Everything the reference merchant needs to run.
#[derive(Clone, Debug)]
pub struct MerchantConfig {
    /// Base URL of the provider's API, e.g. `http://127.0.0.1:12111`.
    pub provider_url: String,
    /// Sent as `Authorization: Bearer …`.
    pub api_key: String,
    /// `whsec_…`, to verify webhook signatures.
    pub webhook_secret: String,
    pub provider_timeout: Duration,
    pub max_retries: u32,
    pub retry_backoff: Duration,
    pub reconcile_every: Duration,
    pub pending_grace: Duration,
}

/// A running merchant.
pub struct MerchantHandle {}

impl MerchantHandle {
    pub fn addr(&self) -> SocketAddr {
        unimplemented!()
    }
    pub async fn stopped(self) {}
}

/// Serves the merchant on `listener` until `shutdown` is cancelled.
pub fn serve(
    _listener: TcpListener,
    _cfg: MerchantConfig,
    _shutdown: CancellationToken,
) -> MerchantHandle {
    unimplemented!()
}
