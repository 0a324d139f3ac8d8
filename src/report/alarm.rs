//! The failure-rate alarm drill: when an alarm watching the merchant's checkout answers
//! should have fired and cleared (from each answer's intended send time, so the seed and the
//! answers decide it, not the machine's timing), the alerts the harness's receiver took in,
//! and the comparison of the two: detection delay, missed alarms, false alarms, clear delay.
//! Pure functions; the report calls [`build`].

pub mod render;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::gates::{Bound, GateResult, ALARM_DELAY_S, ALARM_MISSED};
use crate::alertmanager::{Received, Status};
use crate::domain::{CheckoutAnswer, CheckoutRecord};
use crate::scenario::alarm::{AlarmSpec, EVALUATE_EVERY};
use crate::scenario::GateSpec;

/// One firing of an alarm: from `fired_s` to `cleared_s` (`None`: still firing when the
/// watch ended), seconds from the run's origin.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Episode {
    pub fired_s: f64,
    pub cleared_s: Option<f64>,
}

/// One expected firing and the received alert matched to it, if any.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ExpectedAlarm {
    pub expected: Episode,
    /// The received alert matched to it; `None`: missed.
    pub received: Option<Episode>,
    /// Received firing minus expected firing, s (0 when the alert came first).
    pub delay_s: Option<f64>,
    /// Received resolution minus expected clearing, s, when both happened.
    pub clear_delay_s: Option<f64>,
}

/// The alarm section of the report.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct AlarmReport {
    pub window_s: f64,
    pub min_sample: u64,
    pub threshold: f64,
    /// Which answers counted as failures: `provider_trouble`, `all`, or reason words.
    pub failures: String,
    /// Expected firings in time order, each with the alert matched to it.
    pub expected: Vec<ExpectedAlarm>,
    /// Received alerts that match no expected firing.
    pub false_alarms: Vec<Episode>,
    /// Expected firings no alert arrived for.
    pub missed: u64,
    /// Largest detection delay over the matched firings, s.
    pub delay_s_max: Option<f64>,
    /// Largest clear delay over the matched firings that cleared, s.
    pub clear_delay_s_max: Option<f64>,
    /// Alert notifications' alerts the receiver took in (repeats included).
    pub alerts_received: u64,
}

/// Seconds from the origin to the last tick at which the alarm is evaluated: the whole
/// seconds that cover the load (`load_ms`), and one more window so that an outage at the
/// very end can still fire.
fn ticks(load_ms: u64, spec: &AlarmSpec) -> u64 {
    load_ms.div_ceil(1000) + spec.window.as_secs()
}

/// When an alarm over `checkouts` should fire and clear. Evaluated every whole second `t`
/// over the answers whose intended send time lies in `[t - window, t)`: with at least
/// `min_sample` of them, the alarm fires when failures over answers reach the threshold and
/// clears when they fall below it; with fewer it keeps its state (a quiet spell is no news).
pub fn expected(checkouts: &[CheckoutRecord], spec: &AlarmSpec, load_ms: u64) -> Vec<Episode> {
    let step = EVALUATE_EVERY.as_millis() as u64;
    let last = ticks(load_ms, spec);
    // Per second of intended send time: (answers, failures).
    let mut per: Vec<(u64, u64)> = vec![(0, 0); last as usize + 1];
    for c in checkouts {
        let Some(slot) = per.get_mut((c.intended_ms / step) as usize) else {
            continue;
        };
        let told = match &c.answer {
            CheckoutAnswer::Told { status } => Some(*status),
            CheckoutAnswer::Error { .. } => None,
        };
        slot.0 += 1;
        slot.1 += u64::from(spec.failures.counts(told));
    }
    let window = spec.window.as_secs().max(1) as usize;
    let mut out = Vec::new();
    let mut firing: Option<f64> = None;
    let (mut total, mut failed) = (0u64, 0u64);
    for t in 1..=last as usize {
        // Second t-1 enters the window, second t-1-window leaves it.
        total += per[t - 1].0;
        failed += per[t - 1].1;
        if t > window {
            total -= per[t - 1 - window].0;
            failed -= per[t - 1 - window].1;
        }
        if total < spec.min_sample {
            continue;
        }
        let rate = failed as f64 / total as f64;
        let at = t as f64;
        match firing {
            None if rate >= spec.threshold - 1e-12 => firing = Some(at),
            Some(fired_s) if rate < spec.threshold - 1e-12 => {
                out.push(Episode {
                    fired_s,
                    cleared_s: Some(at),
                });
                firing = None;
            }
            _ => {}
        }
    }
    if let Some(fired_s) = firing {
        out.push(Episode {
            fired_s,
            cleared_s: None,
        });
    }
    out
}

/// The firings the received alerts describe, in order of firing: per fingerprint, a firing
/// alert opens one (repeats while open are Alertmanager's `repeat_interval` resends) and a
/// resolved one closes it.
pub fn received_episodes(alerts: &[Received]) -> Vec<Episode> {
    let mut sorted: Vec<&Received> = alerts.iter().collect();
    sorted.sort_by_key(|a| a.at_ms);
    let mut open: BTreeMap<&str, usize> = BTreeMap::new();
    let mut out: Vec<Episode> = Vec::new();
    for a in sorted {
        let at = a.at_ms as f64 / 1000.0;
        match (a.status, open.get(a.fingerprint.as_str())) {
            (Status::Firing, None) => {
                open.insert(&a.fingerprint, out.len());
                out.push(Episode {
                    fired_s: at,
                    cleared_s: None,
                });
            }
            (Status::Resolved, Some(&i)) => {
                out[i].cleared_s = Some(at);
                open.remove(a.fingerprint.as_str());
            }
            // A repeat of an open alert, or a resolution of one never seen firing.
            _ => {}
        }
    }
    out.sort_by(|a, b| a.fired_s.total_cmp(&b.fired_s));
    out
}

/// Matches each expected firing, in order, with the first unmatched received one that fired
/// within it: from one window before it fired (the merchant's clock and the harness's differ
/// by the answers' latency) to one window after it cleared (or after the watch ended).
pub fn build(
    checkouts: &[CheckoutRecord],
    alerts: &[Received],
    spec: &AlarmSpec,
    load_ms: u64,
) -> AlarmReport {
    let expected_eps = expected(checkouts, spec, load_ms);
    let received = received_episodes(alerts);
    let w = spec.window.as_secs_f64();
    let mut used = vec![false; received.len()];
    let mut expected_out = Vec::new();
    for e in expected_eps {
        let until = e.cleared_s.map_or(f64::INFINITY, |c| c + w);
        let found = received
            .iter()
            .enumerate()
            .find(|(i, r)| !used[*i] && r.fired_s >= e.fired_s - w && r.fired_s <= until);
        let matched = found.map(|(i, r)| {
            used[i] = true;
            r.clone()
        });
        // Arrivals are whole ms: the differences are too, without the float noise.
        let ms = |x: f64| (x.max(0.0) * 1000.0).round() / 1000.0;
        let delay_s = matched.as_ref().map(|r| ms(r.fired_s - e.fired_s));
        let clear_delay_s = match (&matched, e.cleared_s) {
            (
                Some(Episode {
                    cleared_s: Some(rc),
                    ..
                }),
                Some(ec),
            ) => Some(ms(rc - ec)),
            _ => None,
        };
        expected_out.push(ExpectedAlarm {
            expected: e,
            received: matched,
            delay_s,
            clear_delay_s,
        });
    }
    let max = |v: &mut dyn Iterator<Item = f64>| v.reduce(f64::max);
    AlarmReport {
        window_s: w,
        min_sample: spec.min_sample,
        threshold: spec.threshold,
        failures: spec.failures.describe(),
        missed: expected_out.iter().filter(|x| x.received.is_none()).count() as u64,
        delay_s_max: max(&mut expected_out.iter().filter_map(|x| x.delay_s)),
        clear_delay_s_max: max(&mut expected_out.iter().filter_map(|x| x.clear_delay_s)),
        expected: expected_out,
        false_alarms: received
            .into_iter()
            .zip(used)
            .filter(|(_, u)| !u)
            .map(|(r, _)| r)
            .collect(),
        alerts_received: alerts.len() as u64,
    }
}

/// The alarm gates of `spec` against the drill's figures: `alarm_delay_s` (a missed alarm
/// fails it, whatever the delays of the others) and `alarm_missed`.
pub(super) fn gates(spec: &GateSpec, alarm: Option<&AlarmReport>, out: &mut Vec<GateResult>) {
    let Some(a) = alarm else {
        return; // validation asks for an [alarm] with these gates
    };
    if let Some(max) = spec.alarm_delay_s_max {
        let mut g = GateResult::new(ALARM_DELAY_S, Bound::Max, max, a.delay_s_max.unwrap_or(0.0));
        if a.missed > 0 {
            g.passed = false;
            g.note = Some(format!(
                "{} of {} expected alarms never arrived",
                a.missed,
                a.expected.len()
            ));
        } else if a.expected.is_empty() {
            g.note = Some("no data: the answers never called for the alarm".into());
        }
        out.push(g);
    }
    if let Some(max) = spec.alarm_missed_max {
        out.push(GateResult::new(
            ALARM_MISSED,
            Bound::Max,
            max as f64,
            a.missed as f64,
        ));
    }
}

#[cfg(test)]
mod tests;
