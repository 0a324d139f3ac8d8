//! A provider on 127.0.0.1:0 for the provider's own loopback tests: holds of 50 ms (or
//! longer, [`Harness::start_holding`]), no webhook URL, stopped with [`Harness::stop`]. Each
//! test file picks its seed and dialect.

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
        Harness::start_holding(seed, plan, dialect, secret, Duration::from_millis(50)).await
    }

    /// The same with timeout faults held for `hold`.
    pub async fn start_holding(
        seed: u64,
        plan: FaultPlan,
        dialect: Dialect,
        secret: &str,
        hold: Duration,
    ) -> Harness {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let chaos = Chaos::new(seed, plan, WebhookChaos::default());
        let cfg = ProviderConfig {
            chaos: chaos.clone(),
            dialect,
            hold,
            webhook_url: None,
            webhook_secret: secret.into(),
            webhook_retry: vec![],
            webhook_timeout: Duration::from_secs(1),
            origin: Instant::now(),
            expected_orders: 0,
            retain: None,
        };
        let shutdown = CancellationToken::new();
        let handle = serve(listener, cfg, shutdown.clone());
        Harness {
            handle,
            shutdown,
            chaos,
        }
    }

    /// Resolves once a late charge is waiting to execute (the provider is no longer idle).
    pub async fn late_charge_pending(&self) {
        while self.handle.idle() {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    }

    /// Resolves once nothing is left to happen on the provider's side.
    pub async fn until_idle(&self) {
        while !self.handle.idle() {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    /// Cancels the shutdown token and waits for every task to end.
    pub async fn stop(self) {
        self.shutdown.cancel();
        self.handle.stopped().await;
    }
}
