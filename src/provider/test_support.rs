//! A provider on 127.0.0.1:0 for the provider's own loopback tests: holds of 50 ms, no
//! webhook URL, stopped with [`Harness::stop`]. Each test file picks its seed and dialect.

use std::time::{Duration, Instant};

use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use super::{serve, ProviderConfig, ProviderHandle};
use crate::chaos::{Chaos, FaultPlan, WebhookChaos};
use crate::scenario::Dialect;

pub(super) struct Harness {
    pub handle: ProviderHandle,
    pub shutdown: CancellationToken,
    pub chaos: Chaos,
}

impl Harness {
    /// Serves `plan` under `seed` in `dialect`, signing with `secret`.
    pub async fn start(seed: u64, plan: FaultPlan, dialect: Dialect, secret: &str) -> Harness {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let chaos = Chaos::new(seed, plan, WebhookChaos::default());
        let cfg = ProviderConfig {
            chaos: chaos.clone(),
            dialect,
            hold: Duration::from_millis(50),
            webhook_url: None,
            webhook_secret: secret.into(),
            webhook_retry: vec![],
            webhook_timeout: Duration::from_secs(1),
            origin: Instant::now(),
        };
        let shutdown = CancellationToken::new();
        let handle = serve(listener, cfg, shutdown.clone());
        Harness {
            handle,
            shutdown,
            chaos,
        }
    }

    /// Cancels the shutdown token and waits for every task to end.
    pub async fn stop(self) {
        self.shutdown.cancel();
        self.handle.stopped().await;
    }
}
