//! Per-second buckets of the run (by intended send second): sent, shed, outcomes and a
//! latency histogram each, for the report's timeline, recovery figures and charts.

use std::collections::BTreeMap;

use super::{second_histogram, Outcome, SecondHistogram};

/// One second of the run.
#[derive(Clone, Debug)]
pub struct Second {
    pub sent: u64,
    pub shed: u64,
    pub paid: u64,
    pub failed: u64,
    pub pending: u64,
    pub errors: u64,
    pub latency: SecondHistogram,
}

impl Default for Second {
    fn default() -> Self {
        Second {
            sent: 0,
            shed: 0,
            paid: 0,
            failed: 0,
            pending: 0,
            errors: 0,
            latency: second_histogram(),
        }
    }
}

/// Seconds of the run, keyed by their index from the load start.
#[derive(Clone, Debug, Default)]
pub struct Timeline {
    pub seconds: BTreeMap<u64, Second>,
}

impl Timeline {
    pub fn record(&mut self, second: u64, outcome: Outcome, latency_us: u64) {
        let s = self.seconds.entry(second).or_default();
        match outcome {
            Outcome::Paid => s.paid += 1,
            Outcome::Failed => s.failed += 1,
            Outcome::Pending => s.pending += 1,
            Outcome::Error => s.errors += 1,
        }
        s.latency.record(latency_us).expect("caller clamps values");
    }

    pub fn record_sent(&mut self, second: u64) {
        self.seconds.entry(second).or_default().sent += 1;
    }

    pub fn record_shed(&mut self, second: u64) {
        self.seconds.entry(second).or_default().shed += 1;
    }

    pub fn merge(&mut self, other: &Timeline) {
        for (k, o) in &other.seconds {
            let s = self.seconds.entry(*k).or_default();
            s.sent += o.sent;
            s.shed += o.shed;
            s.paid += o.paid;
            s.failed += o.failed;
            s.pending += o.pending;
            s.errors += o.errors;
            s.latency.add(&o.latency).expect("same bounds");
        }
    }
}
