//! Latency and count recorders. Each load task keeps its own [`Recorder`]; they are merged
//! once at the end (no shared lock on the hot path, no sample kept in a `Vec`). Latencies
//! are in µs, HdrHistogram with 3 significant figures, measured from the intended send time.
//! `buckets` is the lock-free fixed-bucket histogram the live `/metrics` endpoint reads.

pub mod buckets;
pub mod serial;
pub mod timeline;

use std::collections::BTreeMap;

use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};

pub use timeline::{Second, Timeline};

/// Highest latency a histogram tracks: 10 minutes in µs (values above are clamped).
pub const MAX_US: u64 = 600_000_000;

/// A fresh latency histogram (µs, 3 significant figures).
pub fn histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, MAX_US, 3).expect("static histogram bounds are valid")
}

/// The latencies of one second of the run (the timeline, recovery and send-lag tables hold
/// one per second of load): µs, 2 significant figures and 32-bit counts, about 12 KiB where
/// a [`histogram`] takes 168 KiB. A per-second figure is read to 1 %, and no second
/// holds 4 billion checkouts; the run's own percentiles keep 3 figures.
pub type SecondHistogram = Histogram<u32>;

/// A fresh [`SecondHistogram`].
pub fn second_histogram() -> SecondHistogram {
    Histogram::new_with_bounds(1, MAX_US, 2).expect("static histogram bounds are valid")
}

/// How a checkout ended, from the load generator's point of view.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Told paid.
    Paid,
    /// Told failed (any reason).
    Failed,
    /// Told pending.
    Pending,
    /// No usable answer (timeout, connection error, unreadable body).
    Error,
}

impl Outcome {
    /// The word used in reports (the serde name).
    pub fn as_str(self) -> &'static str {
        serde_variant::to_variant_name(&self).expect("a unit variant has a name")
    }
}

/// Counts and latencies of one load task (or, merged, of the whole run).
#[derive(Clone, Debug)]
pub struct Recorder {
    /// Every answered or failed checkout (not shed), in µs.
    pub all: Histogram<u64>,
    pub by_outcome: BTreeMap<Outcome, Histogram<u64>>,
    pub shed: u64,
    pub timeline: Timeline,
}

impl Default for Recorder {
    fn default() -> Self {
        Recorder {
            all: histogram(),
            by_outcome: BTreeMap::new(),
            shed: 0,
            timeline: Timeline::default(),
        }
    }
}

impl Recorder {
    /// Records one checkout sent at `second` (since load start) that ended as `outcome`
    /// after `latency_us` from its intended send time.
    pub fn record(&mut self, second: u64, outcome: Outcome, latency_us: u64) {
        let v = latency_us.clamp(1, MAX_US);
        self.all.record(v).expect("value clamped into bounds");
        self.by_outcome
            .entry(outcome)
            .or_insert_with(histogram)
            .record(v)
            .expect("value clamped into bounds");
        self.timeline.record(second, outcome, v);
    }

    /// Records a checkout not sent because the in-flight cap was reached.
    pub fn record_shed(&mut self, second: u64) {
        self.shed += 1;
        self.timeline.record_shed(second);
    }

    /// Counts a checkout sent at `second` (answered or not).
    pub fn record_sent(&mut self, second: u64) {
        self.timeline.record_sent(second);
    }

    /// Adds another recorder's figures to this one.
    pub fn merge(&mut self, other: &Recorder) {
        self.all.add(&other.all).expect("same bounds");
        for (k, h) in &other.by_outcome {
            self.by_outcome
                .entry(*k)
                .or_insert_with(histogram)
                .add(h)
                .expect("same bounds");
        }
        self.shed += other.shed;
        self.timeline.merge(&other.timeline);
    }

    /// Number of checkouts recorded with a latency (sent, not shed).
    pub fn count(&self) -> u64 {
        self.all.len()
    }
}

/// Percentiles of a histogram in ms, for reports.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Percentiles {
    pub p50: f64,
    pub p90: f64,
    pub p99: f64,
    pub p999: f64,
    pub max: f64,
}

impl Percentiles {
    /// Reads the percentiles of a µs histogram, in ms (all 0 when empty).
    pub fn of<T: hdrhistogram::Counter>(h: &Histogram<T>) -> Percentiles {
        if h.is_empty() {
            return Percentiles::default();
        }
        let ms = |us: u64| us as f64 / 1000.0;
        Percentiles {
            p50: ms(h.value_at_quantile(0.50)),
            p90: ms(h.value_at_quantile(0.90)),
            p99: ms(h.value_at_quantile(0.99)),
            p999: ms(h.value_at_quantile(0.999)),
            max: ms(h.max()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_of_the_run_costs_a_lean_histogram_read_to_one_percent() {
        // Arrange: the footprint of each kind, from its count array.
        let second = second_histogram();
        let run = histogram();
        let second_bytes = second.distinct_values() * std::mem::size_of::<u32>();
        let run_bytes = run.distinct_values() * std::mem::size_of::<u64>();

        // Assert: a tenth of the run's histogram or less (a run of an hour keeps 3 600).
        assert!(second_bytes <= 16 * 1024, "{second_bytes} B per second");
        assert!(
            second_bytes * 10 <= run_bytes,
            "{second_bytes} B vs {run_bytes} B"
        );

        // Act + Assert: still read to 1 % across the range a checkout's latency spans.
        for us in [150, 4_321, 98_765, 1_234_567, 59_000_000] {
            let mut h = second_histogram();
            h.record(us).unwrap();
            let read = h.value_at_quantile(0.99) as f64;
            assert!(
                (read - us as f64).abs() <= us as f64 * 0.01,
                "{us} µs read as {read}"
            );
        }
    }

    #[test]
    fn merge_adds_counts_and_keeps_percentiles_exact() {
        let mut a = Recorder::default();
        let mut b = Recorder::default();
        for i in 1..=100 {
            a.record(0, Outcome::Paid, i * 1000);
        }
        for i in 101..=200 {
            b.record(1, Outcome::Failed, i * 1000);
        }
        b.record_shed(1);
        a.merge(&b);
        assert_eq!(a.count(), 200);
        assert_eq!(a.shed, 1);
        assert_eq!(a.by_outcome[&Outcome::Paid].len(), 100);
        assert_eq!(a.by_outcome[&Outcome::Failed].len(), 100);
        let p = Percentiles::of(&a.all);
        assert!((p.p50 - 100.0).abs() < 0.2, "p50 {}", p.p50);
        assert!((p.max - 200.0).abs() < 0.2, "max {}", p.max);
    }

    #[test]
    fn empty_histogram_reads_zero() {
        assert_eq!(Percentiles::of(&histogram()), Percentiles::default());
    }
}
