//! The `[[thresholds]]` part of validation: each metric named from the catalogue (with the
//! nearest name suggested for a typo), its operator and value, and whether it can be
//! watched live when `abort_on_fail` asks for it. Extends the parent's `Checker`.

use std::time::Duration;

use super::{Checker, Floor};
use crate::scenario::raw::RawThreshold;
use crate::scenario::thresholds::{self, Op, ThresholdSpec};

/// How long into the load an `abort_on_fail` threshold waits before the first judgement: the
/// first seconds of a load are too few orders to judge a rate or a percentile on.
pub const DEFAULT_DELAY: Duration = Duration::from_secs(10);

impl Checker {
    pub(super) fn thresholds(&mut self, raw: &[RawThreshold]) -> Vec<ThresholdSpec> {
        let catalogue = thresholds::catalogue();
        let mut out = Vec::new();
        for (i, t) in raw.iter().enumerate() {
            let at = |key: &str| format!("thresholds[{i}].{key}");
            let metric = match t.metric.as_deref() {
                None => {
                    self.missing(&at("metric"), "a metric name such as \"latency.p99\"");
                    None
                }
                Some(m) if catalogue.iter().any(|n| n == m) => Some(m.to_string()),
                Some(m) => {
                    let near = nearest(m, &catalogue)
                        .map(|n| format!("did you mean `{n}`? "))
                        .unwrap_or_default();
                    self.report(
                        &at("metric"),
                        format!(
                            "unknown metric {m:?}: {near}expected one of {}",
                            thresholds::catalogue_summary()
                        ),
                    );
                    None
                }
            };
            let op = match t.op.as_deref() {
                None => {
                    self.missing(&at("op"), Op::FORMS);
                    None
                }
                Some(text) => {
                    let op = Op::parse(text);
                    if op.is_none() {
                        self.report(&at("op"), format!("expected {}, got {text:?}", Op::FORMS));
                    }
                    op
                }
            };
            let value = match t.value {
                None => {
                    self.missing(&at("value"), "a number");
                    None
                }
                Some(v) if !v.is_finite() => {
                    self.report(&at("value"), format!("expected a finite number, got {v}"));
                    None
                }
                Some(v) => Some(v),
            };
            let abort_on_fail = t.abort_on_fail.unwrap_or(false);
            if let (true, Some(m), Some(op)) = (abort_on_fail, &metric, op) {
                // A running total only grows: only a ceiling it has passed is broken for good
                // before the end; `sent >= 1000` judged at 10 s would stop a healthy run.
                if thresholds::is_running_total(m) && !matches!(op, Op::Le | Op::Lt) {
                    self.report(
                        &at("abort_on_fail"),
                        format!(
                            "{m:?} is a running total that only grows during the load, so only \
                             a ceiling (\"<=\" or \"<\") can stop the load early"
                        ),
                    );
                }
            }
            if let (true, Some(m)) = (abort_on_fail, &metric) {
                if !thresholds::is_live(m) {
                    self.report(
                        &at("abort_on_fail"),
                        format!(
                            "{m:?} is known only after the run, so it cannot stop the load: \
                             abort_on_fail takes {}",
                            thresholds::live_summary()
                        ),
                    );
                }
            }
            if t.delay.is_some() && !abort_on_fail {
                self.report(
                    &at("delay"),
                    "applies only with abort_on_fail = true (a threshold without it is judged \
                     once, after the run)",
                );
            }
            let delay = self
                .duration(
                    &at("delay"),
                    t.delay.as_ref(),
                    Some(DEFAULT_DELAY),
                    Floor::Zero,
                )
                .map_or(DEFAULT_DELAY, |d| d.value);
            if let (Some(metric), Some(op), Some(value)) = (metric, op, value) {
                out.push(ThresholdSpec {
                    metric,
                    op,
                    value,
                    abort_on_fail,
                    delay,
                });
            }
        }
        out
    }
}

/// The catalogue name closest to `name`, if close enough to be a typo (the rule of the
/// unknown-key suggestion: at most a third of its letters, and at least one).
fn nearest<'a>(name: &str, catalogue: &'a [String]) -> Option<&'a str> {
    let name = name.to_ascii_lowercase();
    catalogue
        .iter()
        .map(|a| (strsim::damerau_levenshtein(&name, a), a.as_str()))
        .filter(|&(d, a)| d <= (name.len().max(a.len()) / 3).max(1))
        .min_by_key(|&(d, _)| d)
        .map(|(_, a)| a)
}

#[cfg(test)]
mod tests {
    use super::super::tests::{ok, problems};

    const BASE: &str = r#"
name = "t"
[load]
profile = "constant"
rate = 10
duration = "20s"
"#;

    fn with(extra: &str) -> String {
        format!("{BASE}{extra}")
    }

    #[test]
    fn thresholds_are_read_in_order_with_their_defaults() {
        let s = ok(&with(
            r#"
[[thresholds]]
metric = "latency.p99"
op = "<"
value = 250
[[thresholds]]
metric = "checks.double_charge"
op = "=="
value = 0
abort_on_fail = false
[[thresholds]]
metric = "success_rate"
op = ">="
value = 0.95
abort_on_fail = true
delay = "5s"
"#,
        ));
        let t = &s.thresholds;
        assert_eq!(t.len(), 3);
        assert_eq!(
            (t[0].metric.as_str(), t[0].op.as_str()),
            ("latency.p99", "<")
        );
        assert_eq!(t[0].value, 250.0);
        assert!(!t[0].abort_on_fail);
        assert_eq!(t[0].delay, super::DEFAULT_DELAY);
        assert_eq!(t[2].delay, std::time::Duration::from_secs(5));
        assert!(t[2].abort_on_fail);
    }

    #[test]
    fn an_unknown_metric_names_its_path_the_catalogue_and_the_nearest_name() {
        let p = problems(&with(
            r#"
[[thresholds]]
metric = "p99"
op = "<"
value = 1
[[thresholds]]
metric = "shed"
op = "<="
value = 0
[[thresholds]]
metric = "latency.99"
op = "<"
value = 1
[[thresholds]]
metric = "checks.double_charges"
op = "=="
value = 0
"#,
        ));
        assert_eq!(p.len(), 2, "{p:?}");
        assert!(
            p[0].starts_with(
                "thresholds[2].metric: unknown metric \"latency.99\": did you mean `latency.p99`?"
            ),
            "{}",
            p[0]
        );
        assert!(p[0].contains("checks.<check>") && p[0].contains("capacity.knee"));
        assert!(p[0].contains("README"));
        assert!(p[1].starts_with("thresholds[3].metric: "), "{}", p[1]);
        assert!(p[1].contains("did you mean `checks.double_charge`?"));
    }

    #[test]
    fn bad_operators_values_and_misplaced_keys_name_the_accepted_form() {
        let p = problems(&with(
            r#"
[[thresholds]]
metric = "p99"
op = "=<"
value = 1
[[thresholds]]
metric = "p99"
op = "<"
value = "fast"
[[thresholds]]
op = "<"
[[thresholds]]
metric = "capacity.knee"
op = ">="
value = 10
abort_on_fail = true
[[thresholds]]
metric = "p95"
op = "<"
value = 100
delay = "1s"
"#,
        ));
        let find = |path: &str| {
            p.iter()
                .find_map(|x| x.strip_prefix(&format!("{path}: ")))
                .unwrap_or_else(|| panic!("{path}: {p:?}"))
                .to_string()
        };
        assert_eq!(
            find("thresholds[0].op"),
            r#"expected "<=", ">=", "<", ">" or "==", got "=<""#
        );
        assert!(find("thresholds[1].value").contains("expected a number"));
        assert!(find("thresholds[2].metric").starts_with("required key is missing"));
        assert!(find("thresholds[2].value").starts_with("required key is missing"));
        let live = find("thresholds[3].abort_on_fail");
        assert!(
            live.contains("\"capacity.knee\" is known only after the run"),
            "{live}"
        );
        assert!(
            live.contains("success_rate") && live.contains("latency.<stat>"),
            "{live}"
        );
        assert!(find("thresholds[4].delay").contains("only with abort_on_fail"));
    }

    #[test]
    fn a_running_total_stops_the_load_only_on_a_ceiling() {
        // A count (or the largest latency so far) only grows during the load: a floor judged
        // live would stop a healthy run before it got there.
        let p = problems(&with(
            r#"
[[thresholds]]
metric = "sent"
op = ">="
value = 1000
abort_on_fail = true
[[thresholds]]
metric = "latency.max"
op = "=="
value = 5
abort_on_fail = true
[[thresholds]]
metric = "errors"
op = "<="
value = 10
abort_on_fail = true
[[thresholds]]
metric = "max"
op = "<"
value = 900
abort_on_fail = true
[[thresholds]]
metric = "p99"
op = ">"
value = 1
abort_on_fail = true
"#,
        ));
        assert_eq!(p.len(), 2, "{p:?}");
        assert!(p[0].starts_with("thresholds[0].abort_on_fail: \"sent\" is a running total"));
        assert!(p[0].contains(r#"a ceiling ("<=" or "<")"#), "{}", p[0]);
        assert!(p[1].starts_with("thresholds[1].abort_on_fail: \"latency.max\""));
    }
}
