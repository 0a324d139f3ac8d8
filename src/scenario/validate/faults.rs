//! The `[faults]` part of validation: rates and their sums, latency tables, windows and
//! where windows overlap. Extends the parent's `Checker`; also checks a plan given at run
//! time through the control API ([`run_time_faults`]).

use std::collections::HashMap;
use std::time::Duration;

use super::{
    show, Checker, Floor, Problem, DEFAULT_SEED, EXPONENTIAL_MAX_MEANS, LATENCY_FORMS, SUM_SLACK,
};
use crate::chaos::{FaultKind, FaultPlan, Latency, Rates, WebhookChaos, Window};
use crate::scenario::raw::{
    RawDuration, RawFaults, RawLatency, RawScenario, RawWebhooks, RawWindow,
};
use crate::scenario::Dialect;

/// Checks a fault plan and webhook chaos given while the provider runs (the control API's
/// JSON), with the scenario's rules, defaults and key paths. Windows are not bounded by a
/// load duration (there is none); `webhooks` delivery keys are the caller's to refuse.
pub fn run_time_faults(
    faults: &RawFaults,
    webhooks: &RawWebhooks,
) -> Result<(FaultPlan, WebhookChaos), Vec<Problem>> {
    let raw = RawScenario {
        faults: faults.clone(),
        webhooks: webhooks.clone(),
        ..RawScenario::default()
    };
    let mut check = Checker::default();
    let plan = check.faults(&raw.faults, None);
    // The dialect only picks the default retry schedule, which a run-time plan cannot set.
    let chaos = check.webhooks(&raw, DEFAULT_SEED, Dialect::Stripe).chaos;
    if check.problems.is_empty() {
        Ok((plan, chaos))
    } else {
        Err(check.problems)
    }
}

mod overlaps;

/// How many rate keys there are (one per fault kind).
const N: usize = FaultKind::ALL.len();

/// The most `[[faults.windows]]` a plan may have: far above any schedule written by hand or
/// generated for a long run, and a bound on the provider's per-request scan of the windows.
pub const MAX_WINDOWS: usize = 1000;

impl Checker {
    /// The rate keys of `faults` or of one window, in `FaultKind::ALL` order.
    fn rates(&mut self, path: &str, raw: [Option<f64>; N]) -> [Option<f64>; N] {
        let mut out = [None; N];
        for (kind, v) in FaultKind::ALL.into_iter().zip(raw) {
            out[kind as usize] = self.probability(&format!("{path}.{}", kind.as_str()), v);
        }
        out
    }

    /// Reports sticky and per-attempt rates summing over 1; `where_` ends the message. Only
    /// groups passing `check` are summed, so one excess is not reported again elsewhere.
    fn sums(
        &mut self,
        path: &str,
        rates: &Rates,
        where_: &str,
        check: impl Fn(&[FaultKind]) -> bool,
    ) {
        let (sticky, attempt): (Vec<FaultKind>, Vec<FaultKind>) =
            FaultKind::ALL.into_iter().partition(|k| k.is_sticky());
        for group in [sticky, attempt] {
            let group = group.as_slice();
            if !check(group) {
                continue;
            }
            let sum: f64 = group.iter().map(|&k| rates.get(k)).sum();
            if sum > 1.0 + SUM_SLACK {
                let names: Vec<&str> = group.iter().map(|k| k.as_str()).collect();
                let sum = (sum * 1e6).round() / 1e6;
                self.report(
                    path,
                    format!(
                        "{} must sum to at most 1.0{where_}, got {sum}",
                        names.join(" + ")
                    ),
                );
            }
        }
    }

    pub(super) fn faults(&mut self, raw: &RawFaults, load_duration: Option<Duration>) -> FaultPlan {
        let given = [
            raw.insufficient_funds,
            raw.risk_block,
            raw.timeout,
            raw.timeout_after_charge,
            raw.server_error,
            raw.rate_limit,
            raw.processing_error,
            raw.late_charge,
        ];
        let checked = self.rates("faults", given);
        let mut rates = Rates::default();
        for kind in FaultKind::ALL {
            rates.set(kind, checked[kind as usize].unwrap_or(0.0));
        }
        self.sums("faults", &rates, "", |_| true);
        let latency = raw
            .latency
            .as_ref()
            .and_then(|l| self.latency("faults.latency", l));
        let mut windows = Vec::new();
        // Per kept window: its index in the file, and whether it passed its own checks.
        let mut kept = Vec::new();
        let mut names: HashMap<String, usize> = HashMap::new();
        let listed = if raw.windows.len() > MAX_WINDOWS {
            self.report(
                "faults.windows",
                format!(
                    "at most {MAX_WINDOWS} windows are accepted, got {}: merge neighbouring \
                     windows or split the run",
                    raw.windows.len()
                ),
            );
            &[][..]
        } else {
            &raw.windows[..]
        };
        for (i, w) in listed.iter().enumerate() {
            let path = format!("faults.windows[{i}]");
            let name = w.name.clone().unwrap_or_else(|| format!("window-{i}"));
            if name.is_empty() {
                self.report(&format!("{path}.name"), "must not be empty");
            } else if let Some(&j) = names.get(&name) {
                self.report(
                    &format!("{path}.name"),
                    format!(
                        "duplicate of faults.windows[{j}].name: window names must be unique, \
                         got {name:?}"
                    ),
                );
            }
            names.entry(name.clone()).or_insert(i);
            let before = self.problems.len();
            if let Some(window) = self.window(&path, w, name, &rates, load_duration) {
                windows.push(window);
                kept.push((i, self.problems.len() == before));
            }
        }
        let plan = FaultPlan {
            rates,
            latency,
            windows,
        };
        self.overlaps(&plan, &kept);
        plan
    }

    /// One window; `None` back when its span is unusable (already reported).
    fn window(
        &mut self,
        path: &str,
        w: &RawWindow,
        name: String,
        base: &Rates,
        load_duration: Option<Duration>,
    ) -> Option<Window> {
        let start = self.duration(
            &format!("{path}.start"),
            w.start.as_ref(),
            None,
            Floor::Zero,
        );
        let end = self.duration(&format!("{path}.end"), w.end.as_ref(), None, Floor::Zero);
        let given = [
            w.insufficient_funds,
            w.risk_block,
            w.timeout,
            w.timeout_after_charge,
            w.server_error,
            w.rate_limit,
            w.processing_error,
            w.late_charge,
        ];
        let overrides = self.rates(path, given);
        let mut inside = *base;
        for kind in FaultKind::ALL {
            if let Some(v) = overrides[kind as usize] {
                inside.set(kind, v);
            }
        }
        let sets = |group: &[FaultKind]| group.iter().any(|&k| overrides[k as usize].is_some());
        let where_ = " inside the window (its rates over the base rates)";
        self.sums(path, &inside, where_, sets);
        let latency = w
            .latency
            .as_ref()
            .and_then(|l| self.latency(&format!("{path}.latency"), l));
        let (start, end) = (start?, end?);
        if end.value <= start.value {
            self.report(
                &format!("{path}.end"),
                format!("must be after start ({}), got {}", start.shown, end.shown),
            );
            return None;
        }
        if let Some(load) = load_duration.filter(|&d| start.value >= d) {
            self.report(
                &format!("{path}.start"),
                format!(
                    "must be before the end of the load (load.duration = {}) or the window \
                     is never active, got {}",
                    show(load),
                    start.shown
                ),
            );
        }
        Some(Window {
            name,
            start: start.value,
            end: end.value,
            rates: overrides,
            latency,
        })
    }

    pub(super) fn latency(&mut self, path: &str, raw: &RawLatency) -> Option<Latency> {
        let distribution = match raw.distribution.as_deref() {
            None => {
                self.missing(&format!("{path}.distribution"), LATENCY_FORMS);
                return None;
            }
            Some(d @ ("fixed" | "uniform" | "exponential")) => d,
            Some(d) => {
                self.report(
                    &format!("{path}.distribution"),
                    format!("expected {LATENCY_FORMS}, got {d:?}"),
                );
                return None;
            }
        };
        let takes: &[&str] = match distribution {
            "fixed" => &["value"],
            "uniform" => &["min", "max"],
            _ => &["mean", "max"],
        };
        let keys = [
            ("value", &raw.value),
            ("min", &raw.min),
            ("max", &raw.max),
            ("mean", &raw.mean),
        ];
        let mut ok = true;
        for (key, v) in keys {
            if v.is_some() && !takes.contains(&key) {
                ok = false;
                self.report(
                    &format!("{path}.{key}"),
                    format!(
                        "not allowed with distribution {distribution:?} (it takes {})",
                        takes.join(" and ")
                    ),
                );
            }
        }
        let dur = |c: &mut Self, key: &str, raw: &Option<RawDuration>, default, floor| {
            c.duration(&format!("{path}.{key}"), raw.as_ref(), default, floor)
        };
        let latency = match distribution {
            "fixed" => Latency::Fixed {
                value: dur(self, "value", &raw.value, None, Floor::Zero)?.value,
            },
            "uniform" => {
                let min = dur(self, "min", &raw.min, None, Floor::Zero);
                let (min, max) = (min?, dur(self, "max", &raw.max, None, Floor::Zero)?);
                if max.value < min.value {
                    let message = format!("must be >= min ({}), got {}", min.shown, max.shown);
                    self.report(&format!("{path}.max"), message);
                    return None;
                }
                Latency::Uniform {
                    min: min.value,
                    max: max.value,
                }
            }
            _ => {
                let mean = dur(self, "mean", &raw.mean, None, Floor::Positive)?;
                let max = match &raw.max {
                    None => mean.value * EXPONENTIAL_MAX_MEANS,
                    Some(_) => {
                        let max = dur(self, "max", &raw.max, None, Floor::Zero)?;
                        if max.value < mean.value {
                            let message =
                                format!("must be >= mean ({}), got {}", mean.shown, max.shown);
                            self.report(&format!("{path}.max"), message);
                            return None;
                        }
                        max.value
                    }
                };
                Latency::Exponential {
                    mean: mean.value,
                    max,
                }
            }
        };
        ok.then_some(latency)
    }
}
