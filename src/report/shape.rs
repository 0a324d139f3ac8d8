//! Wires the parts of the report about the load's shape and its effects into a report whose
//! core figures are built: recovery after each fault window, a capacity run's steps and
//! knee, and the schedule warnings. Also the load generator's facts they read.

use std::collections::BTreeMap;
use std::time::Duration;

use super::{capacity, recovery, schedule, ReportInputs, RunReport};
use crate::load::ShedLog;
use crate::metrics::SecondHistogram;
use crate::net::PoolStats;

/// The load generator's own facts, for the schedule warnings and a capacity run.
#[derive(Clone, Debug, Default)]
pub struct Generator {
    /// The checkouts shed at the in-flight cap, with the schedule the load offered (which
    /// a capacity run's steps are planned from).
    pub shed: ShedLog,
    /// From each sent checkout's intended to its actual send time, µs, by intended second.
    pub send_lag: BTreeMap<u64, SecondHistogram>,
    /// Set when a capacity run stopped its load once a step broke: how far it got.
    pub stopped_early_at: Option<Duration>,
    /// What the bounded connection pool did; `None` with a connection per checkout.
    pub pool: Option<PoolStats>,
    /// Set when an `abort_on_fail` threshold stopped the load.
    pub aborted_by: Option<super::thresholds::Aborted>,
}

/// Fills `recovery`, `capacity` and `warnings` of `report` (its load figures built).
pub(super) fn add(report: &mut RunReport, inp: &ReportInputs) {
    let sc = inp.scenario;
    let g = &inp.generator;
    let mut seconds = recovery::per_second(
        crate::verify::card_testing::offered(&inp.evidence),
        &inp.reconciliation.orders,
    );
    // A shed checkout could have succeeded (the card never saw it): eligible, not paid.
    for (second, n) in g.shed.per_second() {
        seconds.entry(second).or_default().eligible += n;
    }
    report.recovery = recovery::windows(
        &seconds,
        &sc.faults.windows,
        &sc.recovery,
        sc.load.profile.duration(),
        inp.evidence.ledger,
        &inp.reconciliation.discrepancies,
    );
    report.capacity = sc.capacity.as_ref().map(|c| {
        let schedule = g.shed.schedule();
        let cut_at = g
            .stopped_early_at
            .or(inp.interrupted.then_some(inp.load_elapsed));
        capacity::build(
            c,
            crate::verify::card_testing::offered(&inp.evidence),
            &inp.reconciliation.orders,
            &g.shed,
            &g.send_lag,
            cut_at.unwrap_or(schedule.duration()),
            // Stopped once a step broke; a threshold's abort cuts the run short but is no
            // capacity answer (it is reported as the abort, and its steps as incomplete).
            g.stopped_early_at.is_some() && g.aborted_by.is_none(),
        )
    });
    report.warnings = schedule::warnings(
        &report.load,
        sc.load.max_in_flight.get(),
        report.capacity.as_ref(),
    );
}
