//! The two fingerprints of a run's faults. The **plan digest** hashes what the seeded
//! decisions assign to every planned order, whether or not the run ever asked: a function of
//! the seed, the fault plan, the webhook chaos and the schedule alone, equal on any machine
//! under any load. The **met digest** hashes the faults this run's charge attempts actually
//! met, read from the ledger: how many attempts there were is decided by timing (a retry after
//! a slow answer is one more attempt), so two runs of one seed may differ there.

use std::fmt::Write as _;
use std::time::Duration;

use sha2::{Digest, Sha256};

use crate::domain::{LedgerEntry, PaymentOp};

use super::{chaos_key, Chaos, FaultKind, FaultOp, WebhookDecision};

/// How many attempts of each faulted operation, and how many webhook event slots, of every
/// planned order the plan digest covers. Four covers the first try and the reference
/// merchant's default three retries; a change of depth changes every digest.
pub const PLAN_DIGEST_DEPTH: u32 = 4;

/// The most planned orders the plan digest reads. A plan of more is digested over this many
/// evenly spaced across it, then its planned count: the digest costs at most a couple of
/// seconds at the end of the longest run allowed, and every plan of up to this many orders
/// digests exactly as it always did.
pub const PLAN_DIGEST_ORDERS: u64 = 1_000_000;

/// Bytes hashed per planned order: its sequence number, the sticky fault, then per attempt
/// the fault and the injected latency, then per event slot the webhook decision, then (only
/// for the operations besides the charge that some kind targets) per attempt the fault.
const RECORD: usize = 8 + 1 + DEPTH * (1 + 8) + DEPTH * (8 + 1 + 4) + OTHER_OPS * DEPTH;
/// Refund, query, capture.
const OTHER_OPS: usize = 3;
const DEPTH: usize = PLAN_DIGEST_DEPTH as usize;

/// Hex SHA-256 over what `chaos` assigns to orders `0..planned` (past [`PLAN_DIGEST_ORDERS`]:
/// to that many of them, order `⌊i · planned / PLAN_DIGEST_ORDERS⌋` for each `i`, followed
/// by `planned` as 8 little-endian bytes): the sticky (card) fault, and
/// for attempts `0..PLAN_DIGEST_DEPTH` of the charge the transport fault and the injected
/// latency, each decided at the order's scheduled send offset (`offset(n)`, which is what
/// fault windows are matched against; an attempt that reaches the provider in another window
/// than its order was scheduled in meets that window's rates instead).
///
/// `key(n, buf)` writes the key the chaos knows order `n` by into `buf` (cleared first): its
/// chaos key `ord-<n:06>` ([`crate::domain::order_id::write_chaos_key`]), never the printed
/// id with its run id, so the digest is the same for every run of one scenario and seed.
///
/// Webhook chaos is keyed by event id, and event ids derive from the payment id, which the
/// merchant's idempotency key names, and from the event's type, which the outcome decides: the
/// plan cannot name an order's events before the run. The digest therefore asks the same
/// keyed decision ([`Chaos::webhook`]) for `PLAN_DIGEST_DEPTH` event slots per order, keyed
/// `<order key>#evt<j>`: it changes whenever the seed or the webhook chaos would change what
/// events meet, without saying which delivered event met what.
///
/// Operations besides the charge are part of the record only when some kind targets them
/// (`[faults.targets]`): a plan without targets keeps the digest it always had. Each adds
/// the fault of its attempts `0..PLAN_DIGEST_DEPTH` (no latency: it is injected on charges).
///
/// Cost: one pass over the planned orders (at most [`PLAN_DIGEST_ORDERS`]), about `1 + 2·DEPTH` keyed hashes per order for the
/// transport faults and latencies (latencies only when a latency is set) and `7·DEPTH` for the
/// event slots (only when some webhook chaos is on), plus one SHA-256 update of a fixed
/// [`RECORD`]-byte stack buffer. No allocation per order: two key buffers are reused.
/// Measured in a release build on a 2-core machine: about 2 µs per order with latency and
/// every webhook chaos on, 0.4 µs with neither (0.6 s and 0.12 s for 300 000 orders).
pub fn plan_digest(
    chaos: &Chaos,
    planned: u64,
    key: impl FnMut(u64, &mut String),
    offset: impl FnMut(u64) -> Duration,
) -> String {
    digest_at_most(chaos, planned, PLAN_DIGEST_ORDERS, key, offset)
}

/// [`plan_digest`] reading at most `limit` orders.
fn digest_at_most(
    chaos: &Chaos,
    planned: u64,
    limit: u64,
    mut key: impl FnMut(u64, &mut String),
    mut offset: impl FnMut(u64) -> Duration,
) -> String {
    let webhooks_on = webhook_chaos_on(chaos);
    let others: Vec<FaultOp> = FaultOp::all()
        .filter(|&op| op != FaultOp::Charge && chaos.targets(op))
        .collect();
    let len = RECORD - (OTHER_OPS - others.len()) * DEPTH;
    let mut order = String::new();
    let mut sub = String::new();
    let mut h = Sha256::new();
    let sampled = planned > limit;
    for i in 0..planned.min(limit) {
        let n = if sampled {
            (u128::from(i) * u128::from(planned) / u128::from(limit)) as u64
        } else {
            i
        };
        order.clear();
        key(n, &mut order);
        let at = offset(n);
        let mut rec = Record::new(len);
        rec.put(&n.to_le_bytes());
        rec.put(&[fault_code(chaos.sticky(&order, at))]);
        let latency_on = chaos.plan.latency_at(at).is_some();
        for k in 0..PLAN_DIGEST_DEPTH {
            rec.put(&[fault_code(chaos.attempt(&order, k, at))]);
            // The provider's latency key for attempt k of a charge (see `provider::exec`).
            let latency = if latency_on {
                slot(&mut sub, &order, "#", k);
                chaos.latency(&sub, at)
            } else {
                Duration::ZERO
            };
            rec.put(&nanos(latency));
        }
        for j in 0..PLAN_DIGEST_DEPTH {
            let d = if webhooks_on {
                slot(&mut sub, &order, "#evt", j);
                chaos.webhook(&sub)
            } else {
                WebhookDecision::default()
            };
            rec.put(&nanos(d.delay));
            let flags = [d.duplicate, d.forged, d.reorder, d.stale, d.unsigned]
                .iter()
                .enumerate()
                .fold(0u8, |f, (i, &on)| f | (u8::from(on) << i));
            rec.put(&[flags]);
            rec.put(&d.drop.to_le_bytes());
        }
        for &op in &others {
            for k in 0..PLAN_DIGEST_DEPTH {
                rec.put(&[fault_code(chaos.attempt_on(op, &order, k, at))]);
            }
        }
        h.update(rec.bytes());
    }
    if sampled {
        h.update(planned.to_le_bytes());
    }
    hex::encode(h.finalize())
}

/// Hex SHA-256 over the sorted lines `"<order>\t<attempt>\t<fault or none>\n"` of every
/// charge entry with an order id, the order named by its [`chaos_key`] (so two runs of one
/// seed compare, whatever their run ids): independent of arrival order, changed by any fault
/// moved, and by any attempt more or fewer.
pub fn met_digest(ledger: &[LedgerEntry]) -> String {
    let mut lines: Vec<String> = ledger
        .iter()
        .filter(|e| e.op == PaymentOp::Charge)
        .filter_map(|e| {
            let order = chaos_key(e.order_id.as_deref()?);
            let fault = e.fault.map_or("none", FaultKind::as_str);
            Some(format!("{order}\t{}\t{fault}\n", e.attempt))
        })
        .collect();
    lines.sort();
    let mut h = Sha256::new();
    for l in &lines {
        h.update(l.as_bytes());
    }
    hex::encode(h.finalize())
}

/// Whether any webhook chaos can fire: with every rate at 0 each event's decision is the
/// default, so the digest records that without drawing.
fn webhook_chaos_on(chaos: &Chaos) -> bool {
    let w = &chaos.webhooks;
    [
        w.delay,
        w.duplicate,
        w.forged,
        w.reorder,
        w.drop_first,
        w.stale,
        w.unsigned,
    ]
    .iter()
    .any(|&r| r > 0.0)
}

/// `<order><sep><i>` into `buf`.
fn slot(buf: &mut String, order: &str, sep: &str, i: u32) {
    buf.clear();
    let _ = write!(buf, "{order}{sep}{i}");
}

/// 0 for no fault, else the kind's place in the catalogue plus one (kinds are only ever
/// appended, so a code keeps its meaning).
fn fault_code(f: Option<FaultKind>) -> u8 {
    f.map_or(0, |k| k as u8 + 1)
}

fn nanos(d: Duration) -> [u8; 8] {
    u64::try_from(d.as_nanos())
        .unwrap_or(u64::MAX)
        .to_le_bytes()
}

/// One order's bytes, filled in order: `want` of them.
struct Record {
    buf: [u8; RECORD],
    len: usize,
    want: usize,
}

impl Record {
    fn new(want: usize) -> Record {
        Record {
            buf: [0; RECORD],
            len: 0,
            want,
        }
    }

    fn put(&mut self, bytes: &[u8]) {
        self.buf[self.len..self.len + bytes.len()].copy_from_slice(bytes);
        self.len += bytes.len();
    }

    fn bytes(&self) -> &[u8] {
        debug_assert_eq!(self.len, self.want, "every field of the record written");
        &self.buf[..self.len]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chaos::{rates_of, FaultPlan, Latency, Rates, WebhookChaos, Window};
    use enum_map::EnumMap;

    fn chaos(seed: u64, rates: Rates) -> Chaos {
        let plan = FaultPlan {
            rates,
            ..FaultPlan::default()
        };
        Chaos::new(seed, plan, WebhookChaos::default())
    }

    fn rates() -> Rates {
        rates_of([
            (FaultKind::InsufficientFunds, 0.1),
            (FaultKind::Timeout, 0.1),
            (FaultKind::ServerError, 0.1),
        ])
    }

    fn key(n: u64, buf: &mut String) {
        let _ = write!(buf, "ord-{n:06}");
    }

    /// 10 orders a second.
    fn offset(n: u64) -> Duration {
        Duration::from_millis(100 * n)
    }

    fn digest(c: &Chaos, planned: u64) -> String {
        plan_digest(c, planned, key, offset)
    }

    #[test]
    fn same_plan_same_digest_another_seed_or_rate_another() {
        let a = chaos(7, rates());
        let d = digest(&a, 100);
        assert_eq!(d.len(), 64);
        assert_eq!(d, digest(&a.clone(), 100));
        assert_ne!(d, digest(&chaos(8, rates()), 100), "another seed");
        let mut more = rates();
        more[FaultKind::RateLimit] = 0.1;
        assert_ne!(d, digest(&chaos(7, more), 100), "another rate");
        assert_ne!(d, digest(&a, 101), "another planned count");
    }

    #[test]
    fn a_plan_past_the_digested_count_is_sampled_across_its_length_and_counted() {
        let c = chaos(7, rates());
        let at_most = |planned, read: &mut Vec<u64>| {
            digest_at_most(&c, planned, 10, key, |i| {
                read.push(i);
                offset(i)
            })
        };
        let mut read = Vec::new();
        let twice = at_most(20, &mut read);
        // Every other order of a plan of twice the limit, and no more.
        assert_eq!(read, [0, 2, 4, 6, 8, 10, 12, 14, 16, 18]);
        read.clear();
        let up_to = at_most(10, &mut read);
        assert_eq!(read, (0..10).collect::<Vec<_>>());
        assert_eq!(
            up_to,
            digest(&c, 10),
            "within the limit, the whole plan as ever"
        );
        read.clear();
        let past = at_most(11, &mut read);
        assert_eq!(
            read,
            (0..10).collect::<Vec<_>>(),
            "⌊i · 11 / 10⌋ = i below 10"
        );
        assert_ne!(past, up_to, "the planned count is part of a sampled digest");
        assert_ne!(past, twice);
    }

    #[test]
    fn pinned_value_guards_against_accidental_change() {
        // Recorded plan digests stay comparable across releases: if this changes, say so.
        assert_eq!(
            digest(&chaos(42, rates()), 20),
            "2f67c7a045abb271f6ff253e3426d0783c68c9c23ca7ea9fbd63d30c6a586d27"
        );
    }

    #[test]
    fn targets_add_their_operations_and_leave_a_plan_without_them_as_it_was() {
        let base = chaos(42, rates());
        let d = digest(&base, 20);
        // Naming the charge alone is the default: the same plan, the pinned digest.
        let mut charge = base.clone();
        charge.plan.targets[FaultKind::Timeout] = crate::chaos::Targets::CHARGE;
        assert_eq!(digest(&charge, 20), d);
        let mut refunds = base.clone();
        refunds.plan.targets[FaultKind::Timeout] =
            crate::chaos::Targets::of([FaultOp::Charge, FaultOp::Refund]);
        let r = digest(&refunds, 20);
        assert_ne!(r, d, "refund slots added");
        let mut queries = base.clone();
        queries.plan.targets[FaultKind::Timeout] =
            crate::chaos::Targets::of([FaultOp::Charge, FaultOp::Query]);
        assert_ne!(digest(&queries, 20), r, "another operation, other draws");
        let mut other = refunds.clone();
        other.seed = 43;
        assert_ne!(digest(&other, 20), r);
    }

    #[test]
    fn windows_are_matched_at_each_order_s_scheduled_offset() {
        // Arrange: an outage from 2 s to 3 s, orders 20..30 scheduled inside it.
        let mut rates_in = EnumMap::default();
        rates_in[FaultKind::ServerError] = Some(1.0);
        let window = |start, end| Window {
            name: "outage".into(),
            start: Duration::from_secs(start),
            end: Duration::from_secs(end),
            rates: rates_in,
            latency: None,
        };
        let mut inside = chaos(7, Rates::default());
        inside.plan.windows.push(window(2, 3));
        let mut later = inside.clone();
        later.plan.windows[0] = window(20, 30);
        let clean = chaos(7, Rates::default());

        // Assert: orders 0..20 meet no window in either plan; the window counts only where
        // orders are scheduled in it.
        assert_eq!(digest(&inside, 20), digest(&clean, 20));
        assert_ne!(digest(&inside, 21), digest(&clean, 21));
        assert_eq!(digest(&later, 100), digest(&clean, 100), "no order at 20 s");
    }

    #[test]
    fn latency_and_webhook_chaos_are_part_of_the_plan() {
        let base = chaos(7, rates());
        let d = digest(&base, 50);
        let mut slow = base.clone();
        slow.plan.latency = Some(Latency::Uniform {
            min: Duration::from_millis(1),
            max: Duration::from_millis(9),
        });
        assert_ne!(digest(&slow, 50), d, "injected latency");
        let mut dup = base.clone();
        dup.webhooks.duplicate = 0.3;
        assert_ne!(digest(&dup, 50), d, "duplicate webhooks");
        let mut other = dup.clone();
        other.webhooks.duplicate = 0.6;
        assert_ne!(digest(&other, 50), digest(&dup, 50), "another webhook rate");
        // A delay length with no delay rate changes no event: the same plan.
        let mut idle = base.clone();
        idle.webhooks.delay_latency = slow.plan.latency;
        assert_eq!(digest(&idle, 50), d);
    }
}
