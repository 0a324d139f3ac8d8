//! The `[faults]` part of validation: rates and their sums, latency tables, windows and
//! where windows overlap. Extends the parent's `Checker`; also checks a plan given at run
//! time through the control API ([`run_time_faults`]).

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use enum_map::EnumMap;

use super::{
    show, Checker, Floor, Problem, DEFAULT_SEED, EXPONENTIAL_MAX_MEANS, LATENCY_FORMS, SUM_SLACK,
};
use crate::chaos::{
    FaultKind, FaultOp, FaultPlan, Latency, Rates, TargetMap, Targets, WebhookChaos, Window,
};
use crate::scenario::raw::{
    RawDuration, RawFaults, RawLatency, RawOps, RawRates, RawScenario, RawWebhooks, RawWindow,
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

/// The most `[[faults.windows]]` a plan may have: far above any schedule written by hand or
/// generated for a long run, and a bound on the provider's per-request scan of the windows.
pub const MAX_WINDOWS: usize = 1000;

impl Checker {
    /// `[faults.targets]`: each key a per-attempt kind, each word an operation that kind can
    /// hit or `any` (every operation it can hit). Kinds not named keep `charge`. The targets
    /// hold in and out of windows.
    fn targets(&mut self, path: &str, raw: &BTreeMap<String, RawOps>) -> TargetMap {
        let mut map = TargetMap::default();
        for (name, ops) in raw {
            let path = format!("{path}.{name}");
            let Some(kind) = FaultKind::parse(name).filter(|k| !k.is_sticky()) else {
                let kinds: Vec<String> = FaultKind::per_attempt()
                    .map(|k| format!("`{}`", k.as_str()))
                    .collect();
                let why = if FaultKind::parse(name).is_some() {
                    "a sticky kind belongs to the order's card and meets the charge alone"
                } else {
                    "unknown fault kind"
                };
                self.report(
                    &path,
                    format!("{why}: targets are for {}, got {name:?}", kinds.join(", ")),
                );
                continue;
            };
            let can = kind.targetable();
            let mut set = Vec::new();
            for word in ops.words() {
                if word == "any" {
                    set.extend(can.ops());
                    continue;
                }
                match FaultOp::parse(word) {
                    Some(op) if can.contains(op) => set.push(op),
                    Some(op) => {
                        let only: Vec<&str> = can.ops().map(FaultOp::as_str).collect();
                        self.report(
                            &path,
                            format!(
                                "{} can target only {}, got {:?}",
                                kind.as_str(),
                                only.join(", "),
                                op.as_str()
                            ),
                        );
                    }
                    None => self.report(
                        &path,
                        format!(
                            "expected `charge`, `refund`, `query`, `capture` or `any` (one word \
                             or a list), got {word:?}"
                        ),
                    ),
                }
            }
            if ops.words().is_empty() {
                self.report(
                    &path,
                    "must name at least one operation (set the rate to 0 to turn a kind off)",
                );
            }
            map[kind] = Targets::of(set).and(can);
            if map[kind] == Targets::NONE {
                map[kind] = Targets::CHARGE;
            }
        }
        map
    }

    /// The rate keys of `faults` or of one window, each checked as a probability.
    fn rates(&mut self, path: &str, raw: &RawRates) -> EnumMap<FaultKind, Option<f64>> {
        EnumMap::from_fn(|kind: FaultKind| {
            self.probability(&format!("{path}.{}", kind.as_str()), raw[kind])
        })
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
        let sticky: Vec<FaultKind> = FaultKind::sticky().collect();
        let attempt: Vec<FaultKind> = FaultKind::per_attempt().collect();
        for group in [sticky, attempt] {
            let group = group.as_slice();
            if !check(group) {
                continue;
            }
            let sum: f64 = group.iter().map(|&k| rates[k]).sum();
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
        let rates: Rates = self
            .rates("faults", &raw.rates)
            .map(|_, r| r.unwrap_or(0.0));
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
        let targets = self.targets("faults.targets", &raw.targets);
        let plan = FaultPlan {
            rates,
            latency,
            windows,
            targets,
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
        let overrides = self.rates(path, &w.rates);
        let inside: Rates = EnumMap::from_fn(|k| overrides[k].unwrap_or(base[k]));
        let sets = |group: &[FaultKind]| group.iter().any(|&k| overrides[k].is_some());
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
