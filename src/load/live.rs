//! Live figures of a running load, shared with whoever watches it (the progress line, a
//! capacity run's stop condition). The driver task alone writes: totals are atomics, and
//! per-slice counts by intended send time sit behind short mutex sections. The records and
//! the recorder stay the run's authoritative figures; these are for watching.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use hdrhistogram::Histogram;

use crate::domain::{CheckoutAnswer, FailReason, OrderStatus};
use crate::metrics::buckets::LatencyBuckets;

/// Width of a slice of intended send time.
pub const SLICE: Duration = Duration::from_millis(100);

/// Highest latency the recent histogram tracks (larger values are clamped): 10 min in µs.
const RECENT_MAX_US: u64 = 600_000_000;

/// Counts of the checkouts intended in one slice of time (or, summed, in a span).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Slice {
    /// Sent or shed.
    pub scheduled: u64,
    pub shed: u64,
    /// Sent and finished (answered, or given up on).
    pub answered: u64,
    /// Told paid.
    pub paid: u64,
    /// Told failed for the card's reason (insufficient funds, risk block, other decline).
    pub declined: u64,
    /// Answered after more than the counters' threshold (see [`LiveCounters::with_threshold`]).
    pub over: u64,
}

impl Slice {
    /// Sent and not yet finished.
    pub fn unanswered(&self) -> u64 {
        self.scheduled - self.shed - self.answered
    }

    fn add(&mut self, o: &Slice) {
        self.scheduled += o.scheduled;
        self.shed += o.shed;
        self.answered += o.answered;
        self.paid += o.paid;
        self.declined += o.declined;
        self.over += o.over;
    }
}

/// Whole-run totals at one instant.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Totals {
    pub sent: u64,
    pub shed: u64,
    pub answered: u64,
    pub paid: u64,
    /// Told pending: not paid yet, and not a failure either (a webhook may settle it).
    pub pending: u64,
    pub declined: u64,
    pub errors: u64,
}

impl Totals {
    /// Sent and not yet finished.
    pub fn in_flight(&self) -> u64 {
        self.sent.saturating_sub(self.answered)
    }
}

/// What the load driver publishes while it runs.
#[derive(Debug)]
pub struct LiveCounters {
    sent: AtomicU64,
    shed: AtomicU64,
    answered: AtomicU64,
    paid: AtomicU64,
    pending: AtomicU64,
    declined: AtomicU64,
    errors: AtomicU64,
    /// Latencies answered since the last [`LiveCounters::take_recent`], and since the start
    /// (for the thresholds watched live), under one lock.
    latencies: Mutex<Latencies>,
    /// By intended send time, [`SLICE`] each, from the load start.
    slices: Mutex<Vec<Slice>>,
    /// `Slice::over` counts latencies above this many µs (`u64::MAX`: none).
    threshold_us: u64,
    /// Every answer's latency, for `/metrics` (two relaxed adds beside the locks above).
    latency: LatencyBuckets,
}

impl Default for LiveCounters {
    fn default() -> Self {
        LiveCounters::with_threshold(None)
    }
}

/// The recent and the whole-run latencies, µs.
#[derive(Debug)]
struct Latencies {
    recent: Histogram<u64>,
    whole: Histogram<u64>,
}

fn recent_histogram() -> Histogram<u64> {
    // Two significant figures: enough for a progress line, small to swap.
    Histogram::new_with_bounds(1, RECENT_MAX_US, 2).expect("static histogram bounds are valid")
}

fn is_decline(answer: &CheckoutAnswer) -> bool {
    matches!(
        answer,
        CheckoutAnswer::Told {
            status: OrderStatus::Failed(
                FailReason::InsufficientFunds | FailReason::RiskBlocked | FailReason::Declined
            )
        }
    )
}

impl LiveCounters {
    /// Counters whose slices count answers slower than `threshold` (none when `None`).
    pub fn with_threshold(threshold: Option<Duration>) -> LiveCounters {
        let threshold_us = threshold.map_or(u64::MAX, |t| {
            u64::try_from(t.as_micros()).unwrap_or(u64::MAX)
        });
        LiveCounters {
            sent: AtomicU64::new(0),
            shed: AtomicU64::new(0),
            answered: AtomicU64::new(0),
            paid: AtomicU64::new(0),
            pending: AtomicU64::new(0),
            declined: AtomicU64::new(0),
            errors: AtomicU64::new(0),
            latencies: Mutex::new(Latencies {
                recent: recent_histogram(),
                whole: recent_histogram(),
            }),
            slices: Mutex::new(Vec::new()),
            threshold_us,
            latency: LatencyBuckets::default(),
        }
    }

    fn slice(&self, offset: Duration, f: impl FnOnce(&mut Slice)) {
        let i = (offset.as_nanos() / SLICE.as_nanos()) as usize;
        let mut slices = self.slices.lock().expect("live slices lock");
        if slices.len() <= i {
            slices.resize(i + 1, Slice::default());
        }
        f(&mut slices[i]);
    }

    /// A checkout intended at `offset` was shed.
    pub fn on_shed(&self, offset: Duration) {
        self.shed.fetch_add(1, Ordering::Relaxed);
        self.slice(offset, |s| {
            s.scheduled += 1;
            s.shed += 1;
        });
    }

    /// A checkout intended at `offset` was sent.
    pub fn on_sent(&self, offset: Duration) {
        self.sent.fetch_add(1, Ordering::Relaxed);
        self.slice(offset, |s| s.scheduled += 1);
    }

    /// A checkout intended at `offset` finished with `answer` after `latency_us`.
    pub fn on_answer(&self, offset: Duration, answer: &CheckoutAnswer, latency_us: u64) {
        let paid = *answer
            == CheckoutAnswer::Told {
                status: OrderStatus::Paid,
            };
        let pending = *answer
            == CheckoutAnswer::Told {
                status: OrderStatus::Pending,
            };
        let declined = is_decline(answer);
        let error = matches!(answer, CheckoutAnswer::Error { .. });
        // Totals last, so a reader never sees more answered than slices hold.
        let over = latency_us > self.threshold_us;
        self.slice(offset, |s| {
            s.answered += 1;
            s.paid += u64::from(paid);
            s.declined += u64::from(declined);
            s.over += u64::from(over);
        });
        {
            let mut l = self.latencies.lock().expect("live histogram lock");
            let us = latency_us.clamp(1, RECENT_MAX_US);
            l.recent.record(us).expect("value clamped into bounds");
            l.whole.record(us).expect("value clamped into bounds");
        }
        self.latency.observe(latency_us);
        self.paid.fetch_add(u64::from(paid), Ordering::Relaxed);
        self.pending
            .fetch_add(u64::from(pending), Ordering::Relaxed);
        self.declined
            .fetch_add(u64::from(declined), Ordering::Relaxed);
        self.errors.fetch_add(u64::from(error), Ordering::Relaxed);
        self.answered.fetch_add(1, Ordering::Relaxed);
    }

    /// The totals so far.
    pub fn totals(&self) -> Totals {
        let get = |a: &AtomicU64| a.load(Ordering::Relaxed);
        Totals {
            sent: get(&self.sent),
            shed: get(&self.shed),
            answered: get(&self.answered),
            paid: get(&self.paid),
            pending: get(&self.pending),
            declined: get(&self.declined),
            errors: get(&self.errors),
        }
    }

    /// Every answer's latency so far, in fixed buckets.
    pub fn latency(&self) -> &LatencyBuckets {
        &self.latency
    }

    /// The latencies (µs) answered since the last call, leaving an empty histogram behind.
    pub fn take_recent(&self) -> Histogram<u64> {
        std::mem::replace(
            &mut self.latencies.lock().expect("live histogram lock").recent,
            recent_histogram(),
        )
    }

    /// A copy of every latency (µs) answered since the start.
    pub fn whole_latency(&self) -> Histogram<u64> {
        self.latencies
            .lock()
            .expect("live histogram lock")
            .whole
            .clone()
    }

    /// The counts of checkouts intended within `[from, to)`, over the slices wholly inside
    /// it (a bound between slice edges rounds inward).
    pub fn span(&self, from: Duration, to: Duration) -> Slice {
        let n = SLICE.as_nanos();
        let first = from.as_nanos().div_ceil(n) as usize;
        let end = (to.as_nanos() / n) as usize;
        let slices = self.slices.lock().expect("live slices lock");
        let mut sum = Slice::default();
        for s in slices.iter().take(end).skip(first) {
            sum.add(s);
        }
        sum
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn told(status: OrderStatus) -> CheckoutAnswer {
        CheckoutAnswer::Told { status }
    }

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn answers_are_counted_in_totals_and_in_their_slice() {
        let live = LiveCounters::with_threshold(Some(ms(100)));
        live.on_sent(ms(50));
        live.on_sent(ms(150));
        live.on_sent(ms(160));
        live.on_shed(ms(170));
        live.on_answer(ms(50), &told(OrderStatus::Paid), 20_000);
        live.on_answer(
            ms(150),
            &told(OrderStatus::Failed(FailReason::InsufficientFunds)),
            150_000,
        );

        let t = live.totals();
        assert_eq!((t.sent, t.shed, t.answered, t.in_flight()), (3, 1, 2, 1));
        assert_eq!((t.paid, t.declined, t.errors), (1, 1, 0));
        let first = live.span(Duration::ZERO, ms(100));
        assert_eq!((first.scheduled, first.paid, first.over), (1, 1, 0));
        let second = live.span(ms(100), ms(200));
        assert_eq!(
            second,
            Slice {
                scheduled: 3,
                shed: 1,
                answered: 1,
                paid: 0,
                declined: 1,
                over: 1
            }
        );
        assert_eq!(second.unanswered(), 1);
        assert_eq!(live.span(Duration::ZERO, ms(1000)).scheduled, 4);
    }

    #[test]
    fn spans_round_inward_to_whole_slices() {
        let live = LiveCounters::default();
        for at in [0, 99, 100, 250, 399] {
            live.on_sent(ms(at));
        }
        assert_eq!(live.span(ms(50), ms(400)).scheduled, 3, "slices 1..4");
        assert_eq!(live.span(ms(100), ms(350)).scheduled, 2, "slices 1..3");
        assert_eq!(
            live.span(ms(500), ms(900)).scheduled,
            0,
            "nothing there yet"
        );
    }

    #[test]
    fn provider_errors_are_not_declines_and_recent_latencies_are_taken_once() {
        let live = LiveCounters::default();
        live.on_sent(ms(0));
        live.on_sent(ms(0));
        live.on_answer(
            ms(0),
            &told(OrderStatus::Failed(FailReason::ProviderError)),
            5_000,
        );
        live.on_answer(
            ms(0),
            &CheckoutAnswer::Error {
                detail: "timeout".into(),
            },
            9_000,
        );
        let t = live.totals();
        assert_eq!((t.declined, t.errors, t.paid), (0, 1, 0));
        assert_eq!(
            live.span(ms(0), ms(100)).over,
            0,
            "no threshold, nothing over"
        );
        assert_eq!(live.take_recent().len(), 2);
        assert!(live.take_recent().is_empty());
        assert_eq!(live.whole_latency().len(), 2, "the whole run keeps them");
    }
}
