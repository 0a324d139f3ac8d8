//! Whether the load generator kept its schedule, said as warnings in the report (as k6 reports
//! dropped iterations and wrk2 its calibration warnings): a rate short of the target,
//! checkouts shed at the in-flight cap, sends late because the generator lacked CPU,
//! checkouts that waited for one of the pool's connections ([`PoolFigures`]), and capacity
//! steps whose figures the generator's own limit shaped.

use serde::{Deserialize, Serialize};

use super::capacity::CapacityReport;
use super::gates::number;
use super::LoadFigures;
use crate::net::PoolStats;

/// What the generator's bounded connection pool did (`load.connections`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct PoolFigures {
    /// The pool's size: connections to the merchant at most.
    pub connections: u64,
    /// Checkouts that found every connection busy and waited for one; their latency
    /// (from the intended time) includes the wait.
    pub waited: u64,
    /// Of those, the ones that waited their whole request timeout and gave up (errors).
    pub gave_up: u64,
    pub wait_mean_ms: f64,
    pub wait_max_ms: f64,
    /// The mean time a checkout held its connection: the merchant's answer time, the `W`
    /// of Little's law (connections needed ≈ rate × W).
    pub hold_mean_ms: f64,
}

impl PoolFigures {
    pub fn of(s: &PoolStats) -> PoolFigures {
        let mean = |total: u64, n: u64| {
            if n == 0 {
                0.0
            } else {
                total as f64 / n as f64 / 1000.0
            }
        };
        PoolFigures {
            connections: s.connections as u64,
            waited: s.waited,
            gave_up: s.gave_up,
            wait_mean_ms: mean(s.wait_total_us, s.waited),
            wait_max_ms: s.wait_max_us as f64 / 1000.0,
            hold_mean_ms: mean(s.held_total_us, s.exchanges),
        }
    }
}

/// The Little's-law warning when checkouts waited for a connection at `rate` per second.
fn pool_warning(p: &PoolFigures, rate: f64) -> Option<String> {
    if p.waited == 0 {
        return None;
    }
    let needed = (rate * p.hold_mean_ms / 1000.0).ceil();
    // Below the pool's size the means hide where it was short: a burst or a stall.
    let peaks = if needed <= p.connections as f64 {
        " (more where the rate or the latency peaked)"
    } else {
        ""
    };
    let gave_up = if p.gave_up > 0 {
        format!(
            ", {} of them gave up after their request timeout",
            p.gave_up
        )
    } else {
        String::new()
    };
    Some(format!(
        "the connection pool ({}) was the limit for {} checkouts (waits: mean {:.1} ms, max \
         {:.1} ms{gave_up}): at {}/s with latency {:.1} ms, Little's law needs ≈ {} \
         connections{peaks}; raise load.connections",
        p.connections,
        p.waited,
        p.wait_mean_ms,
        p.wait_max_ms,
        number(rate),
        p.hold_mean_ms,
        needed
    ))
}

/// Below this share of the target rate the schedule was not kept.
pub const KEPT_SHARE: f64 = 0.99;
/// A p99 send lag above this many ms is worth a warning: latencies include it.
pub const LAG_WARN_MS: f64 = 10.0;

/// The warnings of a run, in a fixed order; empty when the generator kept its schedule.
pub fn warnings(
    load: &LoadFigures,
    max_in_flight: usize,
    capacity: Option<&CapacityReport>,
) -> Vec<String> {
    let mut out = Vec::new();
    if load.target_rate > 0.0 && load.achieved_rate < KEPT_SHARE * load.target_rate {
        out.push(format!(
            "schedule not kept: achieved {:.1}/s of the {:.1}/s target ({:.1}%): the generator \
             fell behind or shed checkouts",
            load.achieved_rate,
            load.target_rate,
            load.achieved_rate / load.target_rate * 100.0
        ));
    }
    if load.shed > 0 {
        out.push(format!(
            "{} checkouts shed at load.max_in_flight = {max_in_flight}: never sent, they count \
             as failures; the merchant answered too slowly for the offered rate (raise \
             max_in_flight to measure how slowly)",
            load.shed
        ));
    }
    if load.send_lag_p99_ms > LAG_WARN_MS {
        out.push(format!(
            "the generator sent 1% of checkouts more than {:.1} ms late (max {:.1} ms): it was \
             short of CPU, and latencies (measured from the intended time) include the delay",
            load.send_lag_p99_ms, load.send_lag_max_ms
        ));
    }
    if let Some(w) = load
        .pool
        .as_ref()
        .and_then(|p| pool_warning(p, load.target_rate))
    {
        out.push(w);
    }
    // Per capacity step (complete ones: a stopped step is expected to fall short).
    for s in capacity
        .iter()
        .flat_map(|c| &c.steps)
        .filter(|s| s.complete)
    {
        if !s.schedule_kept() {
            out.push(format!(
                "capacity step {}/s: {} of {} planned checkouts sent, {} shed: the \
                 generator's limit shaped this step's figures",
                number(s.rate),
                s.sent,
                s.planned,
                s.shed
            ));
        }
        if let Some(lag) = s.send_lag_p99_ms.filter(|&l| l > LAG_WARN_MS) {
            out.push(format!(
                "capacity step {}/s: the generator sent 1% of checkouts more than {lag:.1} ms \
                 late: part of this step's latency is the generator's",
                number(s.rate)
            ));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(target: f64, achieved: f64, shed: u64, lag_p99: f64) -> LoadFigures {
        LoadFigures {
            profile: "constant".into(),
            target_rate: target,
            planned: 100,
            sent: 100 - shed,
            achieved_rate: achieved,
            shed,
            errors: 0,
            send_lag_p99_ms: lag_p99,
            send_lag_max_ms: lag_p99 * 2.0,
            pool: None,
        }
    }

    #[test]
    fn a_kept_schedule_has_no_warnings() {
        assert!(warnings(&load(100.0, 99.0, 0, 1.0), 64, None).is_empty());
        assert!(warnings(&load(0.0, 0.0, 0, 0.0), 64, None).is_empty());
    }

    #[test]
    fn falling_short_shedding_and_lag_each_warn() {
        let w = warnings(&load(100.0, 98.9, 3, 12.5), 64, None);
        assert_eq!(w.len(), 3, "{w:?}");
        assert!(
            w[0].starts_with("schedule not kept: achieved 98.9/s of the 100.0/s target (98.9%)"),
            "{}",
            w[0]
        );
        assert!(
            w[1].starts_with("3 checkouts shed at load.max_in_flight = 64"),
            "{}",
            w[1]
        );
        assert!(
            w[2].contains("more than 12.5 ms late (max 25.0 ms)"),
            "{}",
            w[2]
        );
    }

    fn pool(waited: u64, gave_up: u64) -> PoolFigures {
        PoolFigures {
            connections: 4,
            waited,
            gave_up,
            wait_mean_ms: 20.0,
            wait_max_ms: 80.0,
            hold_mean_ms: 250.0,
        }
    }

    #[test]
    fn a_pool_that_was_the_limit_warns_with_littles_law() {
        let mut l = load(100.0, 99.5, 0, 1.0);
        l.pool = Some(pool(0, 0));
        assert!(warnings(&l, 64, None).is_empty(), "no checkout waited");
        l.pool = Some(pool(37, 2));
        let w = warnings(&l, 64, None);
        assert_eq!(
            w,
            [
                "the connection pool (4) was the limit for 37 checkouts (waits: mean 20.0 ms, max \
              80.0 ms, 2 of them gave up after their request timeout): at 100/s with latency \
              250.0 ms, Little's law needs ≈ 25 connections; raise load.connections"
            ]
        );
    }
}
