//! `[[thresholds]]` judged: the value of each catalogue metric, after the run from the report
//! and the recorder, and during the load from the live counters (for `abort_on_fail`). Each
//! threshold becomes a [`GateResult`] beside the `[gates]` ones, so that every format lists
//! it and the exit code follows it.
//!
//! A metric the run has no data for (`capacity.knee` on a constant run, the latency of an
//! outcome no checkout ended with) fails its threshold, saying so: a threshold that cannot
//! be judged is not taken as met.

use hdrhistogram::Histogram;

use super::gates::{number, Bound, GateResult};
use super::recovery::RecoveryStatus;
use super::RunReport;
use crate::load::{LiveCounters, Totals};
use crate::metrics::Recorder;
use crate::scenario::thresholds::{live_latency, CHECK_NAMES, OUTCOMES, PERCENTILES};
use crate::scenario::ThresholdSpec;

/// An `abort_on_fail` threshold that failed on the live figures and stopped the load.
#[derive(Clone, Debug, PartialEq)]
pub struct Aborted {
    /// Its index in `[[thresholds]]`.
    pub index: usize,
    pub metric: String,
    pub bound: Bound,
    pub value: f64,
    /// The live figure that failed it.
    pub actual: f64,
    /// Seconds from the load start.
    pub at_s: f64,
}

impl Aborted {
    /// `thresholds[0] success_rate ≥ 0.99 failed on the live figure 0.4 at 10.5 s`.
    pub fn describe(&self) -> String {
        format!(
            "thresholds[{}] {} {} {} failed on the live figure {} at {} s",
            self.index,
            self.metric,
            self.bound.symbol(),
            number(self.value),
            number(self.actual),
            number((self.at_s * 10.0).round() / 10.0)
        )
    }
}

/// Each threshold judged against the finished run, in scenario order; the one that stopped
/// the load (if any) fails with its live figure.
pub fn evaluate(
    specs: &[ThresholdSpec],
    report: &RunReport,
    recorder: &Recorder,
    aborted: Option<&Aborted>,
) -> Vec<GateResult> {
    specs
        .iter()
        .enumerate()
        .map(|(i, t)| {
            let bound = Bound::of(t.op);
            let mut g = match aborted.filter(|a| a.index == i) {
                Some(a) => {
                    let mut g = GateResult::new(&t.metric, bound, t.value, a.actual);
                    g.passed = false;
                    g.note = Some(format!(
                        "ABORTED by threshold: it stopped the load at {} s",
                        number((a.at_s * 10.0).round() / 10.0)
                    ));
                    g
                }
                None => match value(&t.metric, report, recorder) {
                    Ok(v) => GateResult::new(&t.metric, bound, t.value, v),
                    Err(why) => {
                        let mut g = GateResult::new(&t.metric, bound, t.value, 0.0);
                        g.passed = false;
                        g.note = Some(format!("no data: {why}, so it cannot pass"));
                        g
                    }
                },
            };
            g.source = Some(format!("thresholds[{i}]"));
            g
        })
        .collect()
}

/// The first `abort_on_fail` threshold past its delay that the live figures fail, if any.
pub fn live_breach(specs: &[ThresholdSpec], live: &LiveCounters, at_s: f64) -> Option<Aborted> {
    let totals = live.totals();
    let mut whole = None;
    specs.iter().enumerate().find_map(|(index, t)| {
        if !t.abort_on_fail || at_s < t.delay.as_secs_f64() {
            return None;
        }
        let h = whole.get_or_insert_with(|| live.whole_latency());
        let actual = live_value(&t.metric, &totals, h)?;
        let bound = Bound::of(t.op);
        (!bound.holds(actual, t.value)).then(|| Aborted {
            index,
            metric: t.metric.clone(),
            bound,
            value: t.value,
            actual,
            at_s,
        })
    })
}

/// A live metric's value; `None` while there is nothing to judge it on yet.
pub fn live_value(metric: &str, totals: &Totals, whole: &Histogram<u64>) -> Option<f64> {
    let ratio = |n: u64, d: u64| (d > 0).then(|| n as f64 / d as f64);
    match metric {
        // Over the checkouts that have a final answer (and the shed ones, turned away): one
        // told pending may still be paid by its webhook, so it counts on neither side until
        // the run's own figure judges it (a merchant that answers pending is not failing).
        "success_rate" => ratio(
            totals.paid,
            totals.answered.saturating_sub(totals.pending) + totals.shed,
        ),
        "success_rate_eligible" => ratio(
            totals.paid,
            totals
                .answered
                .saturating_sub(totals.pending + totals.declined)
                + totals.shed,
        ),
        "shed" => Some(totals.shed as f64),
        "errors" => Some(totals.errors as f64),
        "sent" => Some(totals.sent as f64),
        _ => {
            let q = live_latency(metric)?;
            latency_ms(whole, q)
        }
    }
}

/// A latency statistic of a µs histogram in ms: the quantile `q`, the maximum for `None`.
fn latency_ms(h: &Histogram<u64>, q: Option<f64>) -> Option<f64> {
    if h.is_empty() {
        return None;
    }
    let us = q.map_or(h.max(), |q| h.value_at_quantile(q));
    Some(us as f64 / 1000.0)
}

/// A catalogue metric's value in a finished run, or why the run has none.
pub fn value(metric: &str, r: &RunReport, recorder: &Recorder) -> Result<f64, String> {
    let offered = r.load.sent + r.load.shed;
    let none_sent = || "no checkout was sent".to_string();
    if let Some(q) = live_latency(metric) {
        return latency_ms(&recorder.all, q).ok_or_else(none_sent);
    }
    if let Some(rest) = metric.strip_prefix("latency.") {
        let (outcome, stat) = rest.split_once('.').ok_or_else(|| unknown(metric))?;
        let q = PERCENTILES
            .iter()
            .find(|(p, _)| *p == stat)
            .map(|(_, q)| *q)
            .ok_or_else(|| unknown(metric))?;
        if !OUTCOMES.contains(&outcome) {
            return Err(unknown(metric));
        }
        let h = recorder
            .by_outcome
            .iter()
            .find(|(o, _)| o.as_str() == outcome);
        return h
            .and_then(|(_, h)| latency_ms(h, q))
            .ok_or_else(|| format!("no checkout ended {outcome}"));
    }
    if let Some(check) = metric.strip_prefix("checks.") {
        if check == "failed" {
            let failed = r.verification.checks.iter().filter(|c| !c.passed).count();
            return Ok(failed as f64);
        }
        if !CHECK_NAMES.contains(&check) {
            return Err(unknown(metric));
        }
        return r
            .verification
            .checks
            .iter()
            .find(|c| c.name == check)
            .map(|c| c.violations as f64)
            .ok_or_else(|| format!("the check {check} did not run"));
    }
    let some = |v: f64| Ok(v);
    match metric {
        "success_rate" | "success_rate_eligible" if offered == 0 => {
            Err("no checkout was offered".into())
        }
        "success_rate" => some(r.outcomes.success_rate),
        "success_rate_eligible" => some(r.outcomes.success_rate_eligible),
        "shed" => some(r.load.shed as f64),
        "errors" => some(r.load.errors as f64),
        "sent" => some(r.load.sent as f64),
        "achieved_rate" => some(r.load.achieved_rate),
        "send_lag.p99" | "send_lag.max" if r.load.sent == 0 => Err(none_sent()),
        "send_lag.p99" => some(r.load.send_lag_p99_ms),
        "send_lag.max" => some(r.load.send_lag_max_ms),
        "webhook_ack.p50" | "webhook_ack.p99" if r.webhooks.endpoint.attempts == 0 => {
            Err("no genuine webhook delivery was sent".into())
        }
        "webhook_ack.p50" => some(r.webhooks.endpoint.ack_latency_ms.p50),
        "webhook_ack.p99" => some(r.webhooks.endpoint.ack_latency_ms.p99),
        "recovery_s" => recovery_s(r),
        "failover_s" => super::channels::slowest(r, |w| w.failover_s, "failover"),
        "failback_s" => super::channels::slowest(r, |w| w.failback_s, "fail-back"),
        "recovery.unrecovered" => some(unrecovered(r).count() as f64),
        "alarm_delay_s" | "alarm.missed" | "alarm.false" if r.alarm.is_none() => {
            Err("the scenario has no [alarm]".into())
        }
        "alarm_delay_s" => r
            .alarm
            .as_ref()
            .and_then(|a| a.delay_s_max)
            .ok_or_else(|| "no expected alarm was matched by a received alert".into()),
        "alarm.missed" => some(r.alarm.as_ref().map_or(0.0, |a| a.missed as f64)),
        "alarm.false" => some(
            r.alarm
                .as_ref()
                .map_or(0.0, |a| a.false_alarms.len() as f64),
        ),
        "capacity.knee" => match &r.capacity {
            None => Err("not a capacity run".into()),
            Some(c) => c
                .knee
                .as_ref()
                .map(|k| k.rate)
                .ok_or_else(|| "the first capacity step already broke the SLO".into()),
        },
        _ => Err(unknown(metric)),
    }
}

/// Windows that did not recover within the run (one the load never got past is not judged).
fn unrecovered(r: &RunReport) -> impl Iterator<Item = &super::WindowRecovery> {
    r.recovery.iter().filter(|w| {
        !matches!(
            w.status,
            RecoveryStatus::Recovered | RecoveryStatus::NotReached
        )
    })
}

/// The slowest recovery; none when there is no window or one never recovered (its time is
/// not known, only that it is longer than the run watched).
fn recovery_s(r: &RunReport) -> Result<f64, String> {
    if r.recovery.is_empty() {
        return Err("the scenario has no fault window".into());
    }
    if let Some(w) = unrecovered(r).next() {
        return Err(format!("the fault window '{}' did not recover", w.name));
    }
    Ok(r.recovery
        .iter()
        .filter_map(|w| w.recovery_s)
        .fold(0.0, f64::max))
}

/// A name validation lets through but this module does not know: the catalogue and this
/// module disagree (a test keeps them equal).
fn unknown(metric: &str) -> String {
    format!("{metric} is not a metric this version measures")
}

#[cfg(test)]
#[path = "thresholds_tests.rs"]
mod tests;
