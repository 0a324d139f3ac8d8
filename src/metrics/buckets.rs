//! A fixed-bucket latency histogram of atomics, for the live `/metrics` endpoint: observing is
//! a short scan of the bounds and two relaxed adds (no lock, no allocation), and a scrape
//! reads the buckets as they are. The run's own figures stay in the HdrHistograms.

use std::sync::atomic::{AtomicU64, Ordering};

/// Upper bounds of the buckets, in µs: 1 ms to 10 s, about 2.5× apart (what a checkout or a
/// provider call takes, from loopback-fast to a held timeout).
pub const BOUNDS_US: [u64; 13] = [
    1_000, 2_500, 5_000, 10_000, 25_000, 50_000, 100_000, 250_000, 500_000, 1_000_000, 2_500_000,
    5_000_000, 10_000_000,
];

/// Counts per bucket (the last one above every bound) and the sum of what was observed.
#[derive(Debug, Default)]
pub struct LatencyBuckets {
    counts: [AtomicU64; BOUNDS_US.len() + 1],
    sum_us: AtomicU64,
}

/// A reading of [`LatencyBuckets`]: per-bucket (not cumulative) counts by upper bound in
/// seconds, the `+Inf` one last, and the sum in seconds.
#[derive(Clone, Debug, PartialEq)]
pub struct BucketsReading {
    pub buckets: Vec<(f64, u64)>,
    pub count: u64,
    pub sum_s: f64,
}

impl LatencyBuckets {
    /// Counts one latency of `us` µs.
    pub fn observe(&self, us: u64) {
        let i = BOUNDS_US.partition_point(|b| *b < us);
        self.counts[i].fetch_add(1, Ordering::Relaxed);
        self.sum_us.fetch_add(us, Ordering::Relaxed);
    }

    /// The buckets now.
    pub fn read(&self) -> BucketsReading {
        let bounds = BOUNDS_US
            .iter()
            .map(|b| *b as f64 / 1e6)
            .chain([f64::INFINITY]);
        let buckets: Vec<(f64, u64)> = bounds
            .zip(&self.counts)
            .map(|(b, c)| (b, c.load(Ordering::Relaxed)))
            .collect();
        BucketsReading {
            count: buckets.iter().map(|(_, c)| c).sum(),
            buckets,
            sum_s: self.sum_us.load(Ordering::Relaxed) as f64 / 1e6,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn latencies_land_in_the_first_bucket_whose_bound_holds_them() {
        let b = LatencyBuckets::default();
        for us in [1, 1_000, 1_001, 20_000_000] {
            b.observe(us);
        }
        let r = b.read();
        assert_eq!(r.count, 4);
        assert_eq!(r.buckets[0], (0.001, 2), "a bound is inclusive (le)");
        assert_eq!(r.buckets[1], (0.0025, 1));
        assert_eq!(r.buckets.last(), Some(&(f64::INFINITY, 1)));
        assert!((r.sum_s - 20.002002).abs() < 1e-9, "{}", r.sum_s);
    }
}
