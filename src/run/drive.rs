//! The load phase of a run: drives the scenario's load at the merchant with the live progress
//! line and, for a capacity run, the watcher that stops the load once a step breaks the SLO;
//! then works out what the schedule planned for the part of it that ran.

use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use tokio_util::sync::CancellationToken;

use crate::domain::RunId;
use crate::load::{self, LiveCounters, LoadPlan, LoadResult, Schedule};
use crate::progress;
use crate::report;
use crate::scenario::contract::Contract;
use crate::scenario::Scenario;

/// What the load did, and what it was measured against.
pub struct Driven {
    /// The load's records; `interrupted` is false after a capacity run's own early stop.
    pub result: LoadResult,
    /// Checkouts the schedule planned for the part of it that ran.
    pub planned: u64,
    /// The planned rate over that part, per second.
    pub target_rate: f64,
    /// Planned checkouts in each second of the whole schedule.
    pub planned_per_second: Vec<u64>,
    /// Set when a capacity run stopped its load once a step broke, or an `abort_on_fail`
    /// threshold failed: how far it got.
    pub stopped_early_at: Option<Duration>,
    /// The `abort_on_fail` threshold that stopped the load, if one did.
    pub aborted_by: Option<report::thresholds::Aborted>,
}

/// Drives the load of `scenario` at `contract`, its order ids carrying `run_id`, from run
/// time `origin` until the schedule ends, `interrupt` is cancelled or a capacity step
/// breaks. Draws the progress line on stderr unless `quiet`.
pub async fn drive(
    scenario: &Scenario,
    run_id: &RunId,
    contract: &Contract,
    origin: Instant,
    interrupt: &CancellationToken,
    quiet: bool,
    publish: &OnceLock<Arc<LiveCounters>>,
) -> Driven {
    let plan = LoadPlan {
        stages: load::stages(&scenario.load.profile),
        max_in_flight: scenario.load.max_in_flight.get(),
        connections: scenario.load.connections,
        request_timeout: scenario.load.request_timeout,
        seed: scenario.seed,
        orders: scenario.orders.clone(),
        run_id: run_id.clone(),
        testers: load::card_testers::TesterPlan::of(scenario),
        shard: scenario.shard,
        customers: scenario.journeys.customers,
    };
    let schedule = Schedule::new(&plan.stages);
    let planned_per_second = shard_per_second(&schedule, scenario.shard);

    // Live figures feed the progress line and a capacity run's stop condition, which stops
    // the load through its own token (a child of `interrupt`, so Ctrl-C still reaches it).
    let capacity = scenario.capacity.clone();
    let slo_p99 = capacity
        .as_ref()
        .map(|c| Duration::from_secs_f64(c.p99_ms / 1000.0));
    let live = Arc::new(LiveCounters::with_threshold(slo_p99));
    // For the live `/metrics` endpoint, which reads the same counters.
    let _ = publish.set(Arc::clone(&live));
    let load_stop = interrupt.child_token();
    let load_done = CancellationToken::new();
    let watcher = capacity.map(|c| {
        tokio::spawn(load::stop::watch(
            Arc::clone(&live),
            c,
            plan.request_timeout,
            tokio::time::Instant::now(),
            load_stop.clone(),
            load_done.clone(),
        ))
    });
    let judge = scenario
        .thresholds
        .iter()
        .any(|t| t.abort_on_fail)
        .then(|| {
            tokio::spawn(watch_thresholds(
                scenario.thresholds.clone(),
                Arc::clone(&live),
                load_stop.clone(),
                load_done.clone(),
            ))
        });
    let shown = (!quiet).then(|| {
        tokio::spawn(progress::run(
            Arc::clone(&live),
            schedule.duration(),
            scenario.faults.windows.clone(),
            load_done.clone(),
        ))
    });
    let mut result =
        load::drive_live(&plan, contract, origin, load_stop, Some(Arc::clone(&live))).await;
    load_done.cancel();
    let broke = match watcher {
        Some(w) => w.await.ok().flatten(),
        None => None,
    };
    let aborted = match judge {
        Some(j) => j.await.ok().flatten(),
        None => None,
    };
    if let Some(p) = shown {
        let _ = p.await;
    }
    // A threshold's stop, like a capacity step's, is no interruption; Ctrl-C wins over both.
    let aborted_by =
        aborted.filter(|_| broke.is_none() && result.interrupted && !interrupt.is_cancelled());
    let stopped_early_at = early_stop(
        broke.is_some() || aborted_by.is_some(),
        result.interrupted,
        interrupt.is_cancelled(),
        result.elapsed,
    );
    if stopped_early_at.is_some() {
        result.interrupted = false;
    }
    let (whole, whole_rate) = planned_part(
        &schedule,
        stopped_early_at,
        scenario.load.profile.duration(),
    );
    // A shard is measured against its own part of the schedule.
    let planned = scenario.shard.planned_of(whole);
    let target_rate = if whole == 0 {
        whole_rate
    } else {
        whole_rate * planned as f64 / whole as f64
    };
    if let Some(a) = &aborted_by {
        tracing::warn!(
            "ABORTED by threshold: {}; load stopped at {:.1} s",
            a.describe(),
            result.elapsed.as_secs_f64()
        );
    } else if let Some(i) = broke.filter(|_| stopped_early_at.is_some()) {
        tracing::info!(
            "capacity step {} broke the SLO; load stopped at {:.1} s",
            i + 1,
            result.elapsed.as_secs_f64()
        );
    }
    tracing::info!("load done; draining webhooks and reconciliation");
    Driven {
        result,
        planned,
        target_rate,
        planned_per_second,
        stopped_early_at,
        aborted_by,
    }
}

/// Planned checkouts of `shard` in each second of the schedule, in closed form from the
/// whole schedule's (nothing is done per planned checkout).
fn shard_per_second(schedule: &Schedule, shard: crate::scenario::Shard) -> Vec<u64> {
    let whole = report::planned_per_second(schedule);
    if !shard.is_part() {
        return whole;
    }
    let mut before = 0u64;
    whole
        .into_iter()
        .map(|in_second| {
            let mine = shard.planned_of(before + in_second) - shard.planned_of(before);
            before += in_second;
            mine
        })
        .collect()
}

/// How often the `abort_on_fail` thresholds are judged on the live figures.
const JUDGE_EVERY: Duration = Duration::from_millis(250);

/// Judges the `abort_on_fail` thresholds on the live figures until `done`; the first that
/// fails (past its delay) stops the load through `stop` and is handed back.
async fn watch_thresholds(
    specs: Vec<crate::scenario::ThresholdSpec>,
    live: Arc<LiveCounters>,
    stop: CancellationToken,
    done: CancellationToken,
) -> Option<report::thresholds::Aborted> {
    let started = tokio::time::Instant::now();
    let mut tick = tokio::time::interval(JUDGE_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    loop {
        tokio::select! {
            _ = done.cancelled() => return None,
            // Stopped by something else (a capacity step broke, Ctrl-C): the load is over, and
            // what the in-flight checkouts do while they finish is judged by the run's own
            // figures, not by a live breach that came too late to stop anything.
            _ = stop.cancelled() => return None,
            _ = tick.tick() => {}
        }
        let at_s = started.elapsed().as_secs_f64();
        if let Some(a) = report::thresholds::live_breach(&specs, &live, at_s) {
            stop.cancel();
            return Some(a);
        }
    }
}

/// A stop the run asked for itself (a capacity step broke or a threshold aborted: `asked`;
/// the load cut short, no interrupt from outside) is the end of the run, not an
/// interruption: how far the load got.
fn early_stop(
    asked: bool,
    load_cut_short: bool,
    interrupted: bool,
    elapsed: Duration,
) -> Option<Duration> {
    (asked && load_cut_short && !interrupted).then_some(elapsed)
}

/// What the schedule planned, checkouts and rate per second, for the part of it that ran:
/// up to `stopped_early_at`, or all of `load_duration`.
fn planned_part(
    schedule: &Schedule,
    stopped_early_at: Option<Duration>,
    load_duration: Duration,
) -> (u64, f64) {
    match stopped_early_at {
        Some(at) if !at.is_zero() => {
            let n = schedule.planned_before(at);
            (n, n as f64 / at.as_secs_f64())
        }
        _ => (
            schedule.planned(),
            schedule.planned() as f64 / load_duration.as_secs_f64(),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::load::Stage;

    const SECOND: Duration = Duration::from_secs(1);

    #[test]
    fn the_shards_of_each_second_add_up_to_the_whole_schedules() {
        let stages = [Stage {
            start_rate: 7.0,
            end_rate: 7.0,
            duration: 3 * SECOND,
        }];
        let schedule = Schedule::new(&stages);
        let whole = shard_per_second(&schedule, crate::scenario::Shard::WHOLE);
        let mut sum = vec![0; whole.len()];
        for i in 0..3 {
            let part = shard_per_second(&schedule, crate::scenario::Shard::new(i, 3).unwrap());
            for (s, n) in part.into_iter().enumerate() {
                sum[s] += n;
            }
        }
        assert_eq!(sum, whole);
        assert_eq!(whole, [7, 7, 7]);
    }

    #[test]
    fn only_a_broken_step_that_cut_the_load_short_is_an_early_stop() {
        assert_eq!(early_stop(true, true, false, SECOND), Some(SECOND));
        assert_eq!(early_stop(true, true, true, SECOND), None, "Ctrl-C wins");
        assert_eq!(
            early_stop(true, false, false, SECOND),
            None,
            "ran to the end"
        );
        assert_eq!(
            early_stop(false, true, false, SECOND),
            None,
            "no step broke"
        );
    }

    #[test]
    fn an_early_stop_plans_only_the_part_that_ran() {
        // 10/s for 4 s, then 30/s for 4 s.
        let stages = [
            Stage {
                start_rate: 10.0,
                end_rate: 10.0,
                duration: 4 * SECOND,
            },
            Stage {
                start_rate: 30.0,
                end_rate: 30.0,
                duration: 4 * SECOND,
            },
        ];
        let schedule = Schedule::new(&stages);
        assert_eq!(planned_part(&schedule, None, 8 * SECOND), (160, 20.0));
        let (n, rate) = planned_part(&schedule, Some(4 * SECOND), 8 * SECOND);
        assert_eq!(n, 40);
        assert!((rate - 10.0).abs() < 1e-9, "{rate}");
        assert_eq!(
            planned_part(&schedule, Some(Duration::ZERO), 8 * SECOND).0,
            160,
            "a stop at zero plans the whole schedule (no rate over nothing)"
        );
    }
}
