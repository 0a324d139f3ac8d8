//! Outbound webhook delivery. SKELETON: the interface below is fixed; bodies are to be written.

use std::time::{Duration, Instant};

use bytes::Bytes;
use tokio_util::sync::CancellationToken;

use crate::chaos::Chaos;
use crate::domain::WebhookAttempt;

/// One event to deliver, created by the provider when a payment settles.
#[derive(Clone, Debug)]
pub struct Event {
    pub id: String,
    /// `payment_intent.succeeded`, `payment_intent.payment_failed`, ...
    pub event_type: String,
    pub order_id: Option<String>,
    pub payment_id: Option<String>,
    /// The event JSON exactly as it will be sent and signed.
    pub body: Bytes,
}

/// Where and how to deliver.
#[derive(Clone, Debug)]
pub struct WebhookConfig {
    /// `None`: events are recorded as created but nothing is sent.
    pub url: Option<String>,
    pub secret: String,
    pub retry: Vec<Duration>,
    pub timeout: Duration,
    pub origin: Instant,
    pub chaos: Chaos,
}

/// Delivers events in the background; cheap to clone.
#[derive(Clone, Debug)]
pub struct Dispatcher {}

impl Dispatcher {
    /// Starts delivering; deliveries stop when `shutdown` is cancelled.
    pub fn start(_cfg: WebhookConfig, _shutdown: CancellationToken) -> Dispatcher {
        unimplemented!()
    }
    /// Queues an event for delivery (returns at once).
    pub fn enqueue(&self, _event: Event) {
        unimplemented!()
    }
    /// Every delivery attempt so far, in send order.
    pub fn log(&self) -> Vec<WebhookAttempt> {
        unimplemented!()
    }
    /// Events enqueued so far.
    pub fn created(&self) -> u64 {
        unimplemented!()
    }
    /// Whether no delivery is waiting, delayed, in flight or due for a retry.
    pub fn idle(&self) -> bool {
        unimplemented!()
    }
}
