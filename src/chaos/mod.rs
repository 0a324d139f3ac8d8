//! Fault rates and windows, and the seeded, deterministic decision of which fault hits which
//! request or webhook. Every decision is a pure function of `(seed, plan, key, run time)`:
//! business outcomes are keyed by the order (sticky: a retry meets the same card), transport
//! faults by the order + operation + attempt number on that operation (the charge's key is
//! the one it had before other operations could be faulted), webhook chaos by event id. An
//! order is known by its chaos key ([`chaos_key`]: its sequence number, not the run id its
//! printed id carries), so a seed gives the same orders the same faults in every run. Nothing here does I/O or
//! keeps state, so the provider, tests and reports can all ask the same question and get
//! the same answer. `digest` fingerprints them: what the plan assigns, and what a run met.

pub mod digest;
pub mod key;

use std::time::Duration;

use enum_map::EnumMap;
use serde::{Deserialize, Serialize};

/// The catalogue's kinds live in `domain`, beside the ledger records that name them.
pub use crate::domain::{chaos_key, RunId};
pub use crate::domain::{FaultKind, FaultOp, Targets};

/// The operations each kind targets; every kind `charge` alone by default.
pub type TargetMap = EnumMap<FaultKind, Targets>;

fn charge_only(t: &TargetMap) -> bool {
    t.values().all(|t| t.is_charge_only())
}

/// Probabilities in `0.0..=1.0` for each fault kind. Sticky kinds together, and per-attempt
/// kinds together, sum to at most 1 (validation checks this).
pub type Rates = EnumMap<FaultKind, f64>;

/// The rates of the kinds named, every other kind 0 (for plans written out in code).
pub fn rates_of<const N: usize>(given: [(FaultKind, f64); N]) -> Rates {
    let mut r = Rates::default();
    for (kind, rate) in given {
        r[kind] = rate;
    }
    r
}

/// A distribution of injected latency.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "distribution", rename_all = "snake_case")]
pub enum Latency {
    /// Always the same.
    Fixed { value: Duration },
    /// Uniform between `min` and `max`.
    Uniform { min: Duration, max: Duration },
    /// Exponential with the given mean, capped at `max` (a long tail without hanging forever).
    Exponential { mean: Duration, max: Duration },
}

impl Latency {
    /// The latency for a uniform draw `u` in `[0, 1)` (inverse CDF).
    pub fn sample(&self, u: f64) -> Duration {
        match *self {
            Latency::Fixed { value } => value,
            Latency::Uniform { min, max } => min + (max.saturating_sub(min)).mul_f64(u),
            Latency::Exponential { mean, max } => {
                let x = mean.mul_f64(-(1.0 - u).ln());
                x.min(max)
            }
        }
    }
}

/// A span of run time in which some rates (and the latency) are replaced.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Window {
    pub name: String,
    /// Start, measured from the start of the load.
    pub start: Duration,
    /// End (exclusive), measured from the start of the load.
    pub end: Duration,
    /// Each `Some` replaces the base rate of its kind inside the window.
    pub rates: EnumMap<FaultKind, Option<f64>>,
    pub latency: Option<Latency>,
}

impl Window {
    /// Whether run time `at` falls inside the window.
    pub fn contains(&self, at: Duration) -> bool {
        self.start <= at && at < self.end
    }

    /// The override for `kind`, if the window sets one.
    pub fn rate(&self, kind: FaultKind) -> Option<f64> {
        self.rates[kind]
    }
}

/// The provider's fault plan: base rates, latency and windows.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct FaultPlan {
    pub rates: Rates,
    pub latency: Option<Latency>,
    /// Later windows win where windows overlap.
    pub windows: Vec<Window>,
    /// The operations each per-attempt kind hits, in and out of windows. Left out of the
    /// serialised plan while every kind targets the charge alone (plans written before
    /// targets existed read and write the same).
    #[serde(default, skip_serializing_if = "charge_only")]
    pub targets: TargetMap,
}

impl FaultPlan {
    /// The rates in force at run time `at`.
    pub fn rates_at(&self, at: Duration) -> Rates {
        let mut r = self.rates;
        for w in self.windows.iter().filter(|w| w.contains(at)) {
            for (kind, v) in w.rates {
                if let Some(v) = v {
                    r[kind] = v;
                }
            }
        }
        r
    }

    /// The latency distribution in force at run time `at`.
    pub fn latency_at(&self, at: Duration) -> Option<Latency> {
        self.windows
            .iter()
            .rev()
            .find(|w| w.contains(at) && w.latency.is_some())
            .and_then(|w| w.latency)
            .or(self.latency)
    }

    /// Names of the windows active at run time `at`.
    pub fn active_windows(&self, at: Duration) -> Vec<&str> {
        self.windows
            .iter()
            .filter(|w| w.contains(at))
            .map(|w| w.name.as_str())
            .collect()
    }
}

/// Webhook chaos rates; each decided per event id.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct WebhookChaos {
    /// Probability that the first delivery is delayed, and by how much.
    pub delay: f64,
    pub delay_latency: Option<Latency>,
    /// Probability that the event is delivered twice (same id, its own signature).
    pub duplicate: f64,
    /// Probability that a forged copy (wrong secret, claiming success) is also sent.
    pub forged: f64,
    /// Probability that the event is held back until a later event of the same payment has
    /// been delivered (so the later one arrives first).
    pub reorder: f64,
    /// Probability that the first `drop_attempts` attempts of the event are dropped (counted
    /// as failed, never sent), so that it arrives only on a retry.
    pub drop_first: f64,
    pub drop_attempts: u32,
    /// Probability that a replay of the event signed with a timestamp outside the merchant's
    /// tolerance is also sent.
    pub stale: f64,
    /// Probability that a copy without any signature is also sent.
    pub unsigned: f64,
}

/// What happens to one webhook event.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct WebhookDecision {
    pub delay: Duration,
    pub duplicate: bool,
    pub forged: bool,
    pub reorder: bool,
    /// How many of the first attempts are dropped (0: none).
    pub drop: u32,
    pub stale: bool,
    pub unsigned: bool,
}

/// Seeded decisions over one fault plan. Cheap to clone; holds no state between calls.
#[derive(Clone, Debug)]
pub struct Chaos {
    pub seed: u64,
    /// Seeds the card's fate ([`Chaos::sticky`]): `seed`, except on a backup payment
    /// channel, whose transport faults and ids are its own (its own `seed`) while the
    /// customer's card declines on every channel alike (the scenario's seed here).
    pub card_seed: u64,
    pub plan: FaultPlan,
    pub webhooks: WebhookChaos,
}

impl Chaos {
    pub fn new(seed: u64, plan: FaultPlan, webhooks: WebhookChaos) -> Chaos {
        Chaos {
            seed,
            card_seed: seed,
            plan,
            webhooks,
        }
    }

    /// The card's fate for `order_id` (insufficient funds or risk block), keyed by the order
    /// alone (its [`chaos_key`]) so that every retry meets the same card.
    pub fn sticky(&self, order_id: &str, at: Duration) -> Option<FaultKind> {
        let rates = self.plan.rates_at(at);
        let order = chaos_key(order_id);
        let u = key::draw(self.card_seed, "sticky", &[order.as_bytes()]);
        pick(u, &rates, FaultKind::sticky())
    }

    /// Whether the `faults.requires_action` rate sends `order_id`'s card through a 3D Secure
    /// challenge: a stream of its own, keyed by the order alone (every confirm of the order
    /// meets the same answer), so no other decision of any seed moves.
    pub fn requires_action(&self, order_id: &str, rate: f64) -> bool {
        if rate <= 0.0 {
            return false;
        }
        let order = chaos_key(order_id);
        key::draw(self.seed, "requires_action", &[order.as_bytes()]) < rate
    }

    /// The transport fault for attempt `attempt` (0-based) of the charge for `order_id`
    /// (keyed by its [`chaos_key`]).
    pub fn attempt(&self, order_id: &str, attempt: u32, at: Duration) -> Option<FaultKind> {
        self.attempt_on(FaultOp::Charge, order_id, attempt, at)
    }

    /// The transport fault for attempt `attempt` (0-based, counted per order and operation)
    /// of operation `op` for `order_id`. The draw is keyed by the operation too, except for
    /// the charge, whose key is the one every seed was drawn with before targets existed.
    /// The rates split `[0, 1)` as for the charge; a kind that does not target `op` leaves
    /// its segment pass-through, so retargeting one kind moves no other kind's orders.
    pub fn attempt_on(
        &self,
        op: FaultOp,
        order_id: &str,
        attempt: u32,
        at: Duration,
    ) -> Option<FaultKind> {
        let rates = self.plan.rates_at(at);
        let order = chaos_key(order_id);
        let (id, n) = (order.as_bytes(), attempt.to_le_bytes());
        let u = match op {
            FaultOp::Charge => key::draw(self.seed, "attempt", &[id, &n]),
            _ => key::draw(self.seed, "attempt", &[id, &n, op.as_str().as_bytes()]),
        };
        pick(u, &rates, FaultKind::per_attempt()).filter(|k| self.plan.targets[*k].contains(op))
    }

    /// Whether any per-attempt kind targets `op` (the provider counts and draws for an
    /// operation only then; the charge is always drawn for).
    pub fn targets(&self, op: FaultOp) -> bool {
        op == FaultOp::Charge || FaultKind::per_attempt().any(|k| self.plan.targets[k].contains(op))
    }

    /// Injected latency for a request identified by `key` (for charges: the order's
    /// [`chaos_key`] and the attempt, `ord-000042#1`).
    pub fn latency(&self, key: &str, at: Duration) -> Duration {
        match self.plan.latency_at(at) {
            None => Duration::ZERO,
            Some(l) => l.sample(key::draw(self.seed, "latency", &[key.as_bytes()])),
        }
    }

    /// What happens to webhook event `event_id`.
    pub fn webhook(&self, event_id: &str) -> WebhookDecision {
        let id = event_id.as_bytes();
        let w = &self.webhooks;
        let delayed = key::draw(self.seed, "wh.delay", &[id]) < w.delay;
        let delay = match (delayed, w.delay_latency) {
            (true, Some(l)) => l.sample(key::draw(self.seed, "wh.delay.len", &[id])),
            _ => Duration::ZERO,
        };
        let hit = |what: &str, rate: f64| key::draw(self.seed, what, &[id]) < rate;
        WebhookDecision {
            delay,
            duplicate: hit("wh.duplicate", w.duplicate),
            forged: hit("wh.forged", w.forged),
            reorder: hit("wh.reorder", w.reorder),
            drop: if hit("wh.drop", w.drop_first) {
                w.drop_attempts
            } else {
                0
            },
            stale: hit("wh.stale", w.stale),
            unsigned: hit("wh.unsigned", w.unsigned),
        }
    }
}

/// Splits `[0, 1)` into consecutive segments sized by the kinds' rates; `u` picks one, or
/// none when it falls past the last (pass-through).
fn pick(u: f64, rates: &Rates, kinds: impl Iterator<Item = FaultKind>) -> Option<FaultKind> {
    let mut edge = 0.0;
    for k in kinds {
        edge += rates[k];
        if u < edge {
            return Some(k);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan(rates: Rates) -> Chaos {
        Chaos::new(
            42,
            FaultPlan {
                rates,
                ..FaultPlan::default()
            },
            WebhookChaos::default(),
        )
    }

    /// Seed 42's faults on the first attempt of orders 0..8 with every kind before `reset` at
    /// 0.1: what the seed meant before `reset` was appended, and must keep meaning.
    const PINNED_FIRST: [Option<&str>; 8] = [
        Some("rate_limit"),
        Some("server_error"),
        None,
        Some("processing_error"),
        None,
        None,
        None,
        None,
    ];

    fn ids(n: usize) -> Vec<String> {
        (0..n).map(|i| format!("ord-{i:06}")).collect()
    }

    #[test]
    fn no_rates_means_pass_through() {
        let c = plan(Rates::default());
        for id in ids(1000) {
            assert_eq!(c.sticky(&id, Duration::ZERO), None);
            assert_eq!(c.attempt(&id, 0, Duration::ZERO), None);
            assert_eq!(c.latency(&id, Duration::ZERO), Duration::ZERO);
        }
    }

    #[test]
    fn the_run_id_in_an_order_id_moves_no_fault() {
        // Arrange: ids of two runs, and the ids of runs before run ids (the chaos keys).
        let c = plan(rates_of([
            (FaultKind::InsufficientFunds, 0.2),
            (FaultKind::RiskBlock, 0.1),
            (FaultKind::Timeout, 0.2),
            (FaultKind::ServerError, 0.2),
        ]));
        let id = |run: &str, n: u64| {
            let mut s = String::new();
            crate::domain::order_id::write_order_id(&RunId::new(run).unwrap(), n, &mut s);
            s
        };
        let mut seen = std::collections::BTreeSet::new();
        for (n, legacy) in ids(500).iter().enumerate() {
            let (a, b) = (id("runa", n as u64), id("runb", n as u64));
            // Assert: every decision is the legacy id's.
            for o in [&a, &b] {
                assert_eq!(
                    c.sticky(o, Duration::ZERO),
                    c.sticky(legacy, Duration::ZERO)
                );
                for k in 0..4 {
                    assert_eq!(
                        c.attempt(o, k, Duration::ZERO),
                        c.attempt(legacy, k, Duration::ZERO)
                    );
                }
            }
            seen.insert(c.sticky(&a, Duration::ZERO));
        }
        assert_eq!(seen.len(), 3, "orders are told apart: {seen:?}");
    }

    #[test]
    fn rate_one_hits_every_request() {
        let c = plan(rates_of([
            (FaultKind::ServerError, 1.0),
            (FaultKind::RiskBlock, 1.0),
        ]));
        for id in ids(100) {
            assert_eq!(c.sticky(&id, Duration::ZERO), Some(FaultKind::RiskBlock));
            assert_eq!(
                c.attempt(&id, 3, Duration::ZERO),
                Some(FaultKind::ServerError)
            );
        }
    }

    #[test]
    fn observed_frequencies_follow_rates() {
        let c = plan(rates_of([
            (FaultKind::InsufficientFunds, 0.1),
            (FaultKind::RiskBlock, 0.05),
            (FaultKind::Timeout, 0.2),
            (FaultKind::ServerError, 0.1),
        ]));
        let n = 20_000;
        let count = |f: &dyn Fn(&str) -> Option<FaultKind>, k| {
            ids(n).iter().filter(|id| f(id) == Some(k)).count() as f64 / n as f64
        };
        let sticky = |id: &str| c.sticky(id, Duration::ZERO);
        let attempt = |id: &str| c.attempt(id, 0, Duration::ZERO);
        assert!((count(&sticky, FaultKind::InsufficientFunds) - 0.1).abs() < 0.01);
        assert!((count(&sticky, FaultKind::RiskBlock) - 0.05).abs() < 0.01);
        assert!((count(&attempt, FaultKind::Timeout) - 0.2).abs() < 0.015);
        assert!((count(&attempt, FaultKind::ServerError) - 0.1).abs() < 0.01);
        assert_eq!(count(&attempt, FaultKind::RateLimit), 0.0);
    }

    #[test]
    fn sticky_is_per_order_and_attempts_differ() {
        let c = plan(rates_of([
            (FaultKind::InsufficientFunds, 0.5),
            (FaultKind::Timeout, 0.5),
        ]));
        let id = "ord-000007";
        let first = c.sticky(id, Duration::ZERO);
        assert_eq!(
            c.sticky(id, Duration::from_secs(3)),
            first,
            "sticky ignores time without windows"
        );
        // Over many attempts, a 50% transport fault cannot be the same every time.
        let faults: Vec<_> = (0..32).map(|a| c.attempt(id, a, Duration::ZERO)).collect();
        assert!(faults.contains(&None) && faults.contains(&Some(FaultKind::Timeout)));
    }

    #[test]
    fn windows_override_rates_only_inside_their_span() {
        let mut rates = EnumMap::default();
        rates[FaultKind::ServerError] = Some(1.0);
        let mut c = plan(Rates::default());
        c.plan.windows.push(Window {
            name: "outage".into(),
            start: Duration::from_secs(2),
            end: Duration::from_secs(4),
            rates,
            latency: Some(Latency::Fixed {
                value: Duration::from_millis(7),
            }),
        });
        let id = "ord-000001";
        assert_eq!(c.attempt(id, 0, Duration::from_millis(1999)), None);
        assert_eq!(
            c.attempt(id, 0, Duration::from_secs(2)),
            Some(FaultKind::ServerError)
        );
        assert_eq!(
            c.attempt(id, 0, Duration::from_millis(3999)),
            Some(FaultKind::ServerError)
        );
        assert_eq!(c.attempt(id, 0, Duration::from_secs(4)), None);
        assert_eq!(
            c.latency(id, Duration::from_secs(3)),
            Duration::from_millis(7)
        );
        assert_eq!(
            c.plan.active_windows(Duration::from_secs(3)),
            vec!["outage"]
        );
    }

    #[test]
    fn another_seed_assigns_other_orders() {
        let a = plan(rates_of([(FaultKind::InsufficientFunds, 0.3)]));
        let mut b = a.clone();
        b.seed = 43;
        b.card_seed = 43;
        let hits = |c: &Chaos| -> Vec<bool> {
            ids(200)
                .iter()
                .map(|id| c.sticky(id, Duration::ZERO).is_some())
                .collect()
        };
        assert_eq!(hits(&a), hits(&a.clone()));
        assert_ne!(hits(&a), hits(&b));
    }

    #[test]
    fn latency_distributions_sample_within_bounds() {
        let ms = Duration::from_millis;
        assert_eq!(Latency::Fixed { value: ms(5) }.sample(0.9), ms(5));
        let u = Latency::Uniform {
            min: ms(10),
            max: ms(20),
        };
        assert_eq!(u.sample(0.0), ms(10));
        assert_eq!(u.sample(0.5), ms(15));
        let e = Latency::Exponential {
            mean: ms(10),
            max: ms(50),
        };
        assert_eq!(e.sample(0.0), Duration::ZERO);
        assert!(e.sample(0.5) > ms(6) && e.sample(0.5) < ms(7)); // ln 2 * 10ms
        assert_eq!(e.sample(0.999_999), ms(50), "capped at max");
    }

    #[test]
    fn webhook_decisions_are_keyed_by_event() {
        let mut c = plan(Rates::default());
        c.webhooks = WebhookChaos {
            delay: 1.0,
            delay_latency: Some(Latency::Fixed {
                value: Duration::from_millis(30),
            }),
            duplicate: 0.5,
            forged: 0.0,
            ..WebhookChaos::default()
        };
        let d = c.webhook("evt_1");
        assert_eq!(d, c.webhook("evt_1"));
        assert_eq!(d.delay, Duration::from_millis(30));
        assert!(!d.forged);
        let dups = (0..1000)
            .filter(|i| c.webhook(&format!("evt_{i}")).duplicate)
            .count();
        assert!(
            (430..570).contains(&dups),
            "{dups} duplicates of 1000 at rate 0.5"
        );
    }

    #[test]
    fn new_webhook_chaos_is_keyed_by_event_and_follows_rates() {
        let mut c = plan(Rates::default());
        c.webhooks = WebhookChaos {
            reorder: 1.0,
            drop_first: 0.5,
            drop_attempts: 2,
            stale: 0.25,
            unsigned: 0.0,
            ..WebhookChaos::default()
        };
        let all: Vec<_> = (0..1000).map(|i| c.webhook(&format!("evt_{i}"))).collect();
        assert!(all.iter().all(|d| d.reorder && !d.unsigned));
        assert!(all.iter().all(|d| d.drop == 0 || d.drop == 2));
        let dropped = all.iter().filter(|d| d.drop == 2).count();
        let stale = all.iter().filter(|d| d.stale).count();
        assert!((430..570).contains(&dropped), "{dropped} of 1000 at 0.5");
        assert!((200..300).contains(&stale), "{stale} of 1000 at 0.25");
        assert_eq!(c.webhook("evt_9"), all[9]);
    }

    #[test]
    fn targets_key_other_operations_apart_and_leave_the_charge_as_it_was() {
        let base = plan(rates_of([
            (FaultKind::Timeout, 0.2),
            (FaultKind::ServerError, 0.2),
        ]));
        let mut all = base.clone();
        all.plan.targets = EnumMap::from_fn(FaultKind::targetable);
        let mut refund_only = base.clone();
        refund_only.plan.targets[FaultKind::Timeout] = Targets::of([FaultOp::Refund]);
        let (mut differ, mut refunds) = (0, 0);
        for id in ids(2000) {
            let t0 = Duration::ZERO;
            let charge = base.attempt(&id, 0, t0);
            // Targets on other operations change nothing on the charge.
            assert_eq!(all.attempt(&id, 0, t0), charge);
            assert_eq!(all.attempt_on(FaultOp::Charge, &id, 0, t0), charge);
            // Untargeted: never on a refund, and the charge keeps only the other kind.
            assert_eq!(base.attempt_on(FaultOp::Refund, &id, 0, t0), None);
            let kept = charge.filter(|k| *k != FaultKind::Timeout);
            assert_eq!(refund_only.attempt(&id, 0, t0), kept);
            let refund = all.attempt_on(FaultOp::Refund, &id, 0, t0);
            refunds += usize::from(refund.is_some());
            differ += usize::from(refund != charge);
            let r = refund_only.attempt_on(FaultOp::Refund, &id, 0, t0);
            assert!(r.is_none() || r == Some(FaultKind::Timeout));
        }
        assert!((700..900).contains(&refunds), "{refunds} of 2000 at 0.4");
        assert!(differ > 400, "the refund's draw is its own: {differ}");
        assert!(all.targets(FaultOp::Query) && !base.targets(FaultOp::Query));
        assert!(base.targets(FaultOp::Charge));
    }

    #[test]
    fn a_plan_without_targets_serialises_as_before_and_reads_back() {
        let c = plan(rates_of([(FaultKind::Timeout, 0.2)]));
        let json = serde_json::to_value(&c.plan).unwrap();
        assert!(json.get("targets").is_none(), "{json}");
        let mut t = c.plan.clone();
        t.targets[FaultKind::Timeout] = Targets::of([FaultOp::Charge, FaultOp::Query]);
        let json = serde_json::to_value(&t).unwrap();
        assert_eq!(
            json["targets"]["timeout"],
            serde_json::json!(["charge", "query"])
        );
        assert_eq!(serde_json::from_value::<FaultPlan>(json).unwrap(), t);
    }

    #[test]
    fn reset_is_appended_so_seed_42_keeps_every_existing_assignment() {
        // Every per-attempt kind but reset on, as a scenario written before reset existed.
        let old = plan(rates_of([
            (FaultKind::Timeout, 0.1),
            (FaultKind::TimeoutAfterCharge, 0.1),
            (FaultKind::ServerError, 0.1),
            (FaultKind::RateLimit, 0.1),
            (FaultKind::ProcessingError, 0.1),
            (FaultKind::LateCharge, 0.1),
        ]));
        let mut zero = old.clone();
        zero.plan.rates[FaultKind::Reset] = 0.0;
        let mut on = old.clone();
        on.plan.rates[FaultKind::Reset] = 0.2;
        let mut resets = 0;
        for id in ids(1000) {
            for a in 0..4 {
                let before = old.attempt(&id, a, Duration::ZERO);
                assert_eq!(zero.attempt(&id, a, Duration::ZERO), before, "{id} #{a}");
                let after = on.attempt(&id, a, Duration::ZERO);
                if before.is_some() {
                    assert_eq!(
                        after, before,
                        "{id} #{a}: reset takes only pass-through draws"
                    );
                }
                resets += usize::from(after == Some(FaultKind::Reset));
            }
        }
        assert!(
            (700..900).contains(&resets),
            "{resets} resets of 4000 at 0.2"
        );
        // Pinned: the first orders' first attempts under `old`, as drawn before reset existed.
        let first: Vec<_> = ids(8)
            .iter()
            .map(|id| old.attempt(id, 0, Duration::ZERO).map(FaultKind::as_str))
            .collect();
        assert_eq!(first, PINNED_FIRST);
    }

    #[test]
    fn new_attempt_kinds_split_after_the_old_ones() {
        // The old kinds keep their segments: adding rates for the new kinds moves no order
        // that an old kind hit.
        let old = plan(rates_of([
            (FaultKind::Timeout, 0.2),
            (FaultKind::ServerError, 0.1),
        ]));
        let mut new = old.clone();
        new.plan.rates[FaultKind::ProcessingError] = 0.2;
        new.plan.rates[FaultKind::LateCharge] = 0.1;
        let mut seen_new = [0; 2];
        for id in ids(2000) {
            let a = old.attempt(&id, 0, Duration::ZERO);
            let b = new.attempt(&id, 0, Duration::ZERO);
            if a.is_some() {
                assert_eq!(a, b);
            }
            match b {
                Some(FaultKind::ProcessingError) => seen_new[0] += 1,
                Some(FaultKind::LateCharge) => seen_new[1] += 1,
                _ => {}
            }
        }
        assert!(seen_new[0] > 300 && seen_new[1] > 120, "{seen_new:?}");
        assert!(!FaultKind::ProcessingError.is_sticky() && !FaultKind::LateCharge.is_sticky());
    }
}
