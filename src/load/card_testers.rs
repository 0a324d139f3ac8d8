//! The `card_tester` journey (`[card_testers]`): bursts of checkouts, each from one customer
//! and one client address, rotating through stolen cards, one attempt after the answer to
//! the one before (a tester reads each answer), each at least `interval` after the previous
//! one's intended start. Which bursts exist, when each starts and which card each attempt
//! uses are pure functions of the seed on streams of their own, so a rate of 0 (the default)
//! changes no existing plan. Tester orders are numbered from [`SEQ_BASE`], past any planned
//! order, and their checkouts carry `X-Customer-Id` and `X-Forwarded-For`. While testers
//! run, honest checkouts carry their own customer and address too (one each per order).
//! Tester attempts are kept out of the run's rate and latency figures (they are not the
//! offered load) but are verified like every order.

use std::sync::Arc;
use std::time::Duration;

use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use super::client::Checkout;
use super::{order_amount, order_id, Stage};
use crate::chaos::key::{draw, hash};
use crate::domain::{order_id as ids, CheckoutRecord, RunId};
use crate::scenario::card_testers::{TesterSpec, TESTER_CARDS};
use crate::scenario::{OrderSpec, Scenario};

/// The first tester order's sequence number: past [`MAX_CHECKOUTS`] planned orders, so no
/// tester ever takes a planned order's number (or its chaos).
///
/// [`MAX_CHECKOUTS`]: crate::scenario::validate::MAX_CHECKOUTS
pub const SEQ_BASE: u64 = 1_000_000_000;

/// Bursts in one run at most (the client addresses of `198.18.0.0/15` run out beyond).
pub const MAX_BURSTS: u64 = 100_000;

/// The testers of one run.
#[derive(Clone, Debug, PartialEq)]
pub struct TesterPlan {
    pub spec: TesterSpec,
    seed: u64,
    bursts: u64,
}

impl TesterPlan {
    /// The testers over a load of `duration`: `rate × duration` bursts (rounded down, at
    /// most [`MAX_BURSTS`]).
    pub fn new(spec: &TesterSpec, seed: u64, duration: Duration) -> TesterPlan {
        let bursts = ((spec.rate * duration.as_secs_f64()).floor() as u64).min(MAX_BURSTS);
        TesterPlan {
            spec: spec.clone(),
            seed,
            bursts,
        }
    }

    /// The testers of `scenario`, `None` when it sends none.
    pub fn of(scenario: &Scenario) -> Option<TesterPlan> {
        let spec = scenario.card_testing.testers.as_ref()?;
        let duration = load_duration(&super::stages(&scenario.load.profile));
        Some(TesterPlan::new(spec, scenario.seed, duration))
    }

    pub fn bursts(&self) -> u64 {
        self.bursts
    }

    /// Burst `b`'s first intended start from the load start: somewhere in its own
    /// `1 / rate` slot, drawn by the seed.
    pub fn start(&self, b: u64) -> Duration {
        let u = draw(self.seed, "card_tester_start", &[&b.to_le_bytes()]);
        Duration::from_secs_f64((b as f64 + u) / self.spec.rate)
    }

    /// The order sequence number of attempt `j` of burst `b`.
    pub fn seq(&self, b: u64, j: u32) -> u64 {
        SEQ_BASE + b * u64::from(self.spec.burst) + u64::from(j)
    }

    /// Which burst and attempt an order id is, `None` for any other order.
    pub fn attempt_of(&self, order_id: &str) -> Option<(u64, u32)> {
        let n = ids::sequence(order_id)?.checked_sub(SEQ_BASE)?;
        let burst = u64::from(self.spec.burst);
        let b = n / burst;
        (b < self.bursts).then_some((b, (n % burst) as u32))
    }

    /// The card of attempt `j` of burst `b`: the burst's `cards` cards in turn, from a
    /// seeded first one.
    pub fn card(&self, b: u64, j: u32) -> &'static str {
        let first = hash(self.seed, "card_tester_cards", &[&b.to_le_bytes()]);
        let k = (first + u64::from(j % self.spec.cards)) % TESTER_CARDS.len() as u64;
        TESTER_CARDS[k as usize]
    }
}

/// Burst `b`'s customer id.
pub fn tester_customer(b: u64) -> String {
    format!("cus_tester_{b}")
}

/// Burst `b`'s client address, in the benchmarking range `198.18.0.0/15`.
pub fn tester_address(b: u64) -> String {
    format!(
        "198.{}.{}.{}",
        18 + b / 65_024,
        (b / 254) % 256,
        b % 254 + 1
    )
}

/// Honest order `n`'s customer id and client address (in `10.0.0.0/8`, one per order).
pub fn honest_identity(n: u64) -> (String, String) {
    (
        format!("cus_{n}"),
        format!("10.{}.{}.{}", (n >> 16) & 255, (n >> 8) & 255, n & 255),
    )
}

/// The whole load's length.
pub fn load_duration(stages: &[Stage]) -> Duration {
    stages.iter().map(|s| s.duration).sum()
}

/// What a burst needs besides the plan.
pub(super) struct Bursts {
    pub plan: TesterPlan,
    pub checkout: Arc<Checkout>,
    pub run_id: RunId,
    pub orders: OrderSpec,
    /// The load start, and run time then (for `intended_ms`).
    pub load_start: tokio::time::Instant,
    pub base: Duration,
    /// How long the load lasts: no burst starts after it.
    pub until: Duration,
}

/// Runs every burst of the plan, each started at its instant, until the load ends or
/// `shutdown`; returns their records in order-id order.
pub(super) async fn run(b: Bursts, shutdown: CancellationToken) -> Vec<CheckoutRecord> {
    let b = Arc::new(b);
    let mut set = JoinSet::new();
    for burst in 0..b.plan.bursts() {
        let start = b.plan.start(burst);
        if start >= b.until {
            break;
        }
        tokio::select! {
            _ = shutdown.cancelled() => break,
            _ = tokio::time::sleep_until(b.load_start + start) => {}
        }
        set.spawn(one_burst(Arc::clone(&b), burst, start, shutdown.clone()));
    }
    let mut records = Vec::new();
    while let Some(r) = set.join_next().await {
        records.extend(r.unwrap_or_default());
    }
    records.sort_by_key(|r| ids::sequence(&r.order_id));
    records
}

/// One tester: its attempts one after the other.
async fn one_burst(
    b: Arc<Bursts>,
    burst: u64,
    start: Duration,
    shutdown: CancellationToken,
) -> Vec<CheckoutRecord> {
    let customer = tester_customer(burst);
    let address = tester_address(burst);
    let mut records = Vec::with_capacity(b.plan.spec.burst as usize);
    for j in 0..b.plan.spec.burst {
        let offset = start + b.plan.spec.interval * j;
        let intended = b.load_start + offset;
        tokio::select! {
            _ = shutdown.cancelled() => break,
            _ = tokio::time::sleep_until(intended) => {}
        }
        let seq = b.plan.seq(burst, j);
        let id = order_id(&b.run_id, seq);
        let amount = order_amount(b.plan.seed, &b.orders, &super::chaos_key(seq));
        let answer = b
            .checkout
            .send_as(
                &id,
                amount,
                b.plan.card(burst, j),
                Some((&customer, &address)),
            )
            .await
            .0;
        records.push(CheckoutRecord {
            order_id: id,
            amount,
            intended_ms: u64::try_from((b.base + offset).as_millis()).unwrap_or(u64::MAX),
            latency_us: u64::try_from(intended.elapsed().as_micros()).unwrap_or(u64::MAX),
            answer,
        });
    }
    records
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan(rate: f64, secs: u64) -> TesterPlan {
        let spec = TesterSpec {
            rate,
            burst: 4,
            cards: 3,
            interval: Duration::from_millis(10),
        };
        TesterPlan::new(&spec, 7, Duration::from_secs(secs))
    }

    #[test]
    fn bursts_follow_the_rate_each_in_its_own_slot() {
        let p = plan(2.0, 3);
        assert_eq!(p.bursts(), 6);
        for b in 0..6 {
            let s = p.start(b).as_secs_f64();
            assert!(
                (b as f64 / 2.0..(b + 1) as f64 / 2.0).contains(&s),
                "burst {b} at {s}"
            );
        }
        assert_eq!(p, plan(2.0, 3), "a pure function of the seed");
    }

    #[test]
    fn tester_orders_are_numbered_past_the_planned_ones_and_found_again() {
        let p = plan(1.0, 5);
        let run = RunId::new("r1").unwrap();
        let id = order_id(&run, p.seq(3, 2));
        assert_eq!(p.attempt_of(&id), Some((3, 2)));
        assert_eq!(p.attempt_of(&order_id(&run, 42)), None);
        assert_eq!(
            p.attempt_of(&order_id(&run, p.seq(5, 0))),
            None,
            "past the last burst"
        );
    }

    #[test]
    fn a_burst_rotates_through_its_cards() {
        let p = plan(1.0, 5);
        let cards: Vec<_> = (0..4).map(|j| p.card(1, j)).collect();
        assert_eq!(cards[0], cards[3]);
        let mut distinct = cards[..3].to_vec();
        distinct.sort();
        distinct.dedup();
        assert_eq!(distinct.len(), 3);
    }

    #[test]
    fn every_burst_and_honest_order_has_an_address_of_its_own() {
        assert_eq!(tester_address(0), "198.18.0.1");
        assert_ne!(tester_address(253), tester_address(254));
        assert_eq!(honest_identity(258).1, "10.0.1.2");
    }
}
