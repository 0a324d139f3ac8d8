//! Load generation against a merchant over HTTP: profiles become stages (`profiles.rs`), stages
//! become absolute send offsets (`scheduler.rs`), and [`drive`] sends them on a runtime of its
//! own (a pacer thread and two workers, so the generator neither parks nor wakes with the
//! servers it measures). With a bounded pool of kept-alive connections (`client.rs`, sized by
//! [`auto_connections`]) one long-lived worker per connection takes due checkouts from a line
//! (`pooled.rs`, `due.rs`); with a new connection per checkout each is a task of its own
//! (`spawned.rs`). Answers are read through the merchant [`Contract`] (the scenario's data;
//! reading through it in `contract.rs`). Checkouts over the in-flight cap are shed: counted
//! (`shed.rs`), never recorded one by one. While it runs it publishes [`LiveCounters`]
//! (`live.rs`) for a progress line or a stop condition such as a capacity run's (`stop.rs`).
//! Card testers (`card_testers.rs`) run beside the schedule, one task per burst, and their
//! records follow the planned ones. Never imports `provider`, `merchant` or `verify`.

pub mod card_testers;
mod cashier;
mod client;
mod contract;
mod due;
pub mod journeys;
mod live;
mod pooled;
mod profiles;
pub mod retries;
mod scheduler;
mod shed;
mod spawned;
pub mod stop;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio_util::sync::CancellationToken;

use crate::chaos::key::hash;
use crate::domain::order_id;
use crate::domain::{CheckoutAnswer, CheckoutRecord, OrderSnapshot, OrderStatus, RunId};
use crate::metrics::{Outcome, Recorder, SecondHistogram, MAX_US};
use crate::net::PoolStats;
use crate::scenario::contract::{Contract, ContractError};
use crate::scenario::customers::CustomerSpec;
use crate::scenario::{Connections, OrderSpec, Shard};

use client::Checkout;
pub use client::{auto_connections, read_bulk, ReadError, AUTO_MAX, AUTO_MIN};
use journeys::JourneyRecord;
pub use live::{LiveCounters, Slice, Totals, SLICE};
pub use profiles::{stage_starts, stages};
use retries::RetryRecord;
pub use scheduler::Schedule;
pub use shed::ShedLog;

/// One stage of the offered rate: linear from `start_rate` to `end_rate` over `duration`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Stage {
    pub start_rate: f64,
    pub end_rate: f64,
    pub duration: Duration,
}

/// What to send.
#[derive(Clone, Debug, PartialEq)]
pub struct LoadPlan {
    pub stages: Vec<Stage>,
    pub max_in_flight: usize,
    /// The connections to the merchant; `Auto` is resolved by [`auto_connections`].
    pub connections: Connections,
    pub request_timeout: Duration,
    pub seed: u64,
    pub orders: OrderSpec,
    /// Inside every order id this plan sends.
    pub run_id: RunId,
    /// Card testers sent beside the planned checkouts (`[card_testers]`); `None`: none.
    pub testers: Option<card_testers::TesterPlan>,
    /// The part of the schedule sent: the orders whose index is this shard's.
    pub shard: Shard,
    /// What customers do when the checkout sends them to a challenge (`[customers]`).
    pub customers: CustomerSpec,
}

/// What the load did.
#[derive(Debug)]
pub struct LoadResult {
    /// One per checkout sent, in schedule order.
    pub records: Vec<CheckoutRecord>,
    /// The checkouts shed at the in-flight cap (never sent, so without a record).
    pub shed: ShedLog,
    pub recorder: Recorder,
    /// From the load start to the last scheduled send.
    pub elapsed: Duration,
    /// Whether the schedule was cut short by the shutdown signal.
    pub interrupted: bool,
    /// How late each sent checkout left after its intended instant, in µs, by intended second
    /// from the load start: the generator's own delay (CPU, runtime), which latencies include.
    pub send_lag: BTreeMap<u64, SecondHistogram>,
    /// What the bounded connection pool did (its size, the checkouts that waited for a
    /// connection); `None` with a connection per checkout.
    pub pool: Option<PoolStats>,
    /// One per checkout whose answer sent the customer to a challenge, in answer order.
    pub journeys: Vec<JourneyRecord>,
    /// One per order whose customer paid again with another card, in answer order.
    pub retries: Vec<RetryRecord>,
}

/// The id of the `n`-th scheduled checkout of run `run`: `ord-<run>-000000`,
/// `ord-<run>-000001`, … (more digits past a million).
pub fn order_id(run: &RunId, n: u64) -> String {
    let mut id = String::new();
    order_id::write_order_id(run, n, &mut id);
    id
}

/// The chaos key of the `n`-th scheduled checkout of any run: `ord-000042`. Everything the
/// seed decides about the order (its faults, its amount) is keyed by it.
pub fn chaos_key(n: u64) -> String {
    let mut key = String::new();
    order_id::write_chaos_key(n, &mut key);
    key
}

/// The amount of an order, drawn from `amount_min..=amount_max` by its chaos key
/// ([`chaos_key`]) and the seed, so the run id changes no amount.
pub fn order_amount(seed: u64, orders: &OrderSpec, key: &str) -> u64 {
    let h = hash(seed, "amount", &[key.as_bytes()]);
    let span = orders.amount_max.saturating_sub(orders.amount_min);
    match span.checked_add(1) {
        Some(width) => orders.amount_min + h % width,
        None => h, // the whole u64 range
    }
}

/// A send-lag histogram: one per second of load, so a lean one (a lag is a warning, not a
/// result).
pub fn lag_histogram() -> SecondHistogram {
    crate::metrics::second_histogram()
}

/// After the schedule ends, in-flight checkouts get this long beyond their own timeout.
const DRAIN_GRACE: Duration = Duration::from_secs(1);

/// Worker threads of the generator's own runtime (its pacer has a thread of its own besides).
const GENERATOR_THREADS: usize = 2;

fn outcome(answer: &CheckoutAnswer) -> Outcome {
    match answer {
        CheckoutAnswer::Told {
            status: OrderStatus::Paid,
        } => Outcome::Paid,
        CheckoutAnswer::Told {
            status: OrderStatus::Failed(_),
        } => Outcome::Failed,
        CheckoutAnswer::Told {
            status: OrderStatus::Pending,
        } => Outcome::Pending,
        CheckoutAnswer::Error { .. } => Outcome::Error,
    }
}

/// What a driver of one connection mode works from.
struct Drive<'a> {
    plan: &'a LoadPlan,
    schedule: Schedule,
    shared: Arc<Checkout>,
    load_start: tokio::time::Instant,
    /// The load start from the run origin.
    base: Duration,
    shutdown: CancellationToken,
    live: Option<Arc<LiveCounters>>,
    /// Card testers run beside the schedule: its customers are named too.
    honest: bool,
}

/// What a driver gives back: the result but the testers' records, when it stopped waiting for
/// answers, and the longest a checkout may take.
struct Driven {
    result: LoadResult,
    deadline: tokio::time::Instant,
    bound: Duration,
}

/// Records how late the checkout intended at `intended` (in `second`) leaves.
fn record_lag(
    send_lag: &mut BTreeMap<u64, SecondHistogram>,
    second: u64,
    intended: tokio::time::Instant,
) {
    let lag = tokio::time::Instant::now().saturating_duration_since(intended);
    send_lag
        .entry(second)
        .or_insert_with(lag_histogram)
        .record(
            u64::try_from(lag.as_micros())
                .unwrap_or(MAX_US)
                .clamp(1, MAX_US),
        )
        .expect("value clamped into bounds");
}

/// The record of sent checkout `n` that never reported: an error, late until now.
fn unanswered(
    plan: &LoadPlan,
    schedule: &Schedule,
    load_start: tokio::time::Instant,
    base: Duration,
    n: u64,
    recorder: &mut Recorder,
) -> CheckoutRecord {
    let offset = schedule.offset(n).unwrap_or_default();
    let latency_us = u64::try_from((load_start + offset).elapsed().as_micros()).unwrap_or(u64::MAX);
    recorder.record(offset.as_secs(), Outcome::Error, latency_us);
    CheckoutRecord {
        amount: order_amount(plan.seed, &plan.orders, &chaos_key(n)),
        order_id: order_id(&plan.run_id, n),
        intended_ms: u64::try_from((base + offset).as_millis()).unwrap_or(u64::MAX),
        latency_us,
        answer: CheckoutAnswer::Error {
            detail: "no answer recorded: the checkout task did not finish".into(),
        },
    }
}

/// Drives checkouts until the plan ends or `shutdown` is cancelled.
///
/// Open loop: the n-th checkout is due at `load start + offset(n)` whatever happened to the
/// earlier ones; its latency runs from that intended instant. One that finds `max_in_flight`
/// checkouts still running is counted as shed, not sent. One that finds every connection of
/// the pool busy waits in line for one (its latency still counted from the intended instant),
/// for at most its request timeout, and then has the whole request timeout for the merchant's
/// answer. After the schedule (or the shutdown) the checkouts in flight are awaited, each
/// bounded by those two timeouts.
/// Nothing is sized by the planned count: the books grow with the checkouts sent.
///
/// The generator runs on a runtime of its own (a pacer thread and [`GENERATOR_THREADS`]
/// workers), so it never parks or wakes with the servers it measures, which stay on the
/// caller's.
pub async fn drive(
    plan: &LoadPlan,
    contract: &Contract,
    origin: Instant,
    shutdown: CancellationToken,
) -> LoadResult {
    drive_live(plan, contract, origin, shutdown, None).await
}

/// [`drive`], publishing live figures into `live` as it goes.
pub async fn drive_live(
    plan: &LoadPlan,
    contract: &Contract,
    origin: Instant,
    shutdown: CancellationToken,
    live: Option<Arc<LiveCounters>>,
) -> LoadResult {
    let (tx, rx) = tokio::sync::oneshot::channel();
    let (plan, contract) = (plan.clone(), contract.clone());
    std::thread::Builder::new()
        .name("load-pacer".into())
        .spawn(move || {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(GENERATOR_THREADS)
                .thread_name("load-worker")
                .enable_all()
                .build()
                .expect("the load generator's runtime starts");
            let result = rt.block_on(drive_here(&plan, &contract, origin, shutdown, live));
            let _ = tx.send(result);
            // Anything still running (a hung follow-up) is past every bound: not waited for.
            rt.shutdown_background();
        })
        .expect("the load generator's thread starts");
    rx.await.expect("the load generator ended without a result")
}

/// [`drive_live`] on the current runtime.
async fn drive_here(
    plan: &LoadPlan,
    contract: &Contract,
    origin: Instant,
    shutdown: CancellationToken,
    live: Option<Arc<LiveCounters>>,
) -> LoadResult {
    let load_start = tokio::time::Instant::now();
    let base = load_start.into_std().saturating_duration_since(origin);
    let schedule = Schedule::new(&plan.stages);
    let shared = Arc::new(Checkout::new(plan, contract));
    let testers = plan.testers.clone().map(|t| {
        tokio::spawn(card_testers::run(
            card_testers::Bursts {
                plan: t,
                checkout: Arc::clone(&shared),
                run_id: plan.run_id.clone(),
                orders: plan.orders.clone(),
                load_start,
                base,
                until: card_testers::load_duration(&plan.stages),
            },
            shutdown.clone(),
        ))
    });
    let d = Drive {
        plan,
        schedule,
        shared: Arc::clone(&shared),
        load_start,
        base,
        shutdown,
        live,
        honest: testers.is_some(),
    };
    let Driven {
        mut result,
        deadline,
        bound,
    } = match shared.connections() {
        Some(size) => pooled::drive(d, size).await,
        None => spawned::drive(d).await,
    };
    // Slots are in schedule order, which is order-id order; tester orders come after, in
    // their own order-id order. Each tester waits for every answer, so the same bounds hold.
    if let Some(t) = testers {
        let stop = tokio::time::sleep_until(deadline + bound);
        tokio::select! {
            r = t => result.records.extend(r.unwrap_or_default()),
            _ = stop => {}
        }
    }
    result
}

/// Reads final order states through the contract: one GET of the bulk export when the
/// contract has one, else one GET per order (32 at a time). Orders the
/// merchant does not know are absent from the result, which follows `order_ids`' order.
///
/// # Errors
/// A failed request or an unreadable answer, naming the URL (and the pointer).
pub async fn fetch_orders(
    contract: &Contract,
    order_ids: &[String],
) -> Result<Vec<OrderSnapshot>, ReadError> {
    let o = &contract.orders;
    if let Some(url) = &o.bulk_url {
        client::fetch_bulk(contract, url, order_ids).await
    } else if let Some(template) = &o.order_url {
        client::fetch_each(contract, template, order_ids).await
    } else {
        Err(ReadError::NoOrderRead(ContractError::NoOrderRead))
    }
}

/// Why an external merchant could not be reached before the run.
#[derive(Debug, PartialEq, thiserror::Error)]
pub enum MerchantWaitError {
    /// The contract's checkout URL is not a loopback HTTP URL.
    #[error("checkout url {0}")]
    Url(String),
    /// Nothing accepted a connection at the checkout URL's address in time.
    #[error(
        "the merchant does not answer at {addr} (checkout url {url}) after {waited_s:.1} s \
         ({last}): start it before the run"
    )]
    NotListening {
        addr: std::net::SocketAddr,
        url: String,
        waited_s: f64,
        last: String,
    },
}

/// Waits until something accepts connections at the address of the contract's checkout URL,
/// trying every 100 ms for up to `within`: a merchant the run did not start must already be
/// listening. Returns that address.
///
/// # Errors
/// The URL is unusable, or nothing accepted a connection in time (naming the address).
pub async fn wait_for_merchant(
    contract: &Contract,
    within: Duration,
) -> Result<std::net::SocketAddr, MerchantWaitError> {
    let url = &contract.checkout.url;
    let addr = crate::net::LoopbackUrl::parse(url)
        .map_err(|e| MerchantWaitError::Url(e.to_string()))?
        .addr();
    let deadline = tokio::time::Instant::now() + within;
    loop {
        let tried = tokio::time::timeout_at(deadline, tokio::net::TcpStream::connect(addr)).await;
        let last = match tried {
            Ok(Ok(_)) => return Ok(addr),
            Ok(Err(e)) => e.to_string(),
            Err(_) => "no answer".to_string(),
        };
        if tokio::time::Instant::now() + Duration::from_millis(100) >= deadline {
            return Err(MerchantWaitError::NotListening {
                addr,
                url: url.clone(),
                waited_s: within.as_secs_f64(),
                last,
            });
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[cfg(test)]
mod connection_tests;
#[cfg(test)]
mod pool_tests;
#[cfg(test)]
mod tests;
