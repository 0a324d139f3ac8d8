//! Load generation against a merchant over HTTP: stages, open-loop scheduler, client, contract.
//! SKELETON: the interface below is fixed; bodies are to be written.

use std::time::{Duration, Instant};

use tokio_util::sync::CancellationToken;

use crate::domain::{CheckoutRecord, OrderSnapshot};
use crate::metrics::Recorder;
use crate::scenario::OrderSpec;

/// One stage of the offered rate: linear from `start_rate` to `end_rate` over `duration`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Stage {
    pub start_rate: f64,
    pub end_rate: f64,
    pub duration: Duration,
}

/// How the merchant is spoken to over HTTP.
#[derive(Clone, Debug, PartialEq)]
pub struct Contract {}

impl Contract {
    /// The contract of the embedded reference merchant at `base_url`.
    pub fn reference(_base_url: &str) -> Contract {
        Contract {}
    }
}

/// What to send.
#[derive(Clone, Debug, PartialEq)]
pub struct LoadPlan {
    pub stages: Vec<Stage>,
    pub max_in_flight: usize,
    pub request_timeout: Duration,
    pub seed: u64,
    pub orders: OrderSpec,
}

/// What the load did.
#[derive(Debug)]
pub struct LoadResult {
    pub records: Vec<CheckoutRecord>,
    pub recorder: Recorder,
    /// From the load start to the last scheduled send.
    pub elapsed: Duration,
    /// Whether the schedule was cut short by the shutdown signal.
    pub interrupted: bool,
}

/// Drives checkouts until the plan ends or `shutdown` is cancelled.
pub async fn drive(
    _plan: &LoadPlan,
    _contract: &Contract,
    _origin: Instant,
    _shutdown: CancellationToken,
) -> LoadResult {
    unimplemented!()
}

/// Reads final order states through the contract.
pub async fn fetch_orders(
    _contract: &Contract,
    _order_ids: &[String],
) -> Result<Vec<OrderSnapshot>, String> {
    unimplemented!()
}
