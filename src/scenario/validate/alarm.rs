//! The `[alarm]` part of validation, and the two gates that compare its expected alarms with
//! the alerts received (`gates.alarm_delay_s_max`, `gates.alarm_missed_max`), which need an
//! `[alarm]` to compare with. Extends the parent's `Checker`.

use std::time::Duration;

use super::{Checker, Floor};
use crate::domain::FailReason;
use crate::scenario::alarm::{AlarmSpec, Failures};
use crate::scenario::raw::{RawOps, RawScenario};

/// The default window: long enough that a rate over it is not one unlucky second.
pub const DEFAULT_WINDOW: Duration = Duration::from_secs(5);
pub const DEFAULT_MIN_SAMPLE: i64 = 20;
pub const DEFAULT_THRESHOLD: f64 = 0.5;
/// The longest window: an hour of answers is already no "moment it is exceeded".
pub const MAX_WINDOW: Duration = Duration::from_secs(3600);

impl Checker {
    /// `[alarm]` (`None` when absent) and the alarm gates `(alarm_delay_s_max,
    /// alarm_missed_max)`.
    pub(super) fn alarm(
        &mut self,
        raw: &RawScenario,
    ) -> (Option<AlarmSpec>, Option<f64>, Option<u64>) {
        let g = &raw.gates;
        let delay = g
            .alarm_delay_s_max
            .and_then(|v| self.positive_number("gates.alarm_delay_s_max", v, true));
        let missed = g
            .alarm_missed_max
            .and_then(|v| self.integer("gates.alarm_missed_max", v, 0, i64::MAX))
            .map(|v| v as u64);
        let Some(a) = &raw.alarm else {
            for (key, set) in [
                ("gates.alarm_delay_s_max", g.alarm_delay_s_max.is_some()),
                ("gates.alarm_missed_max", g.alarm_missed_max.is_some()),
            ] {
                if set {
                    self.report(
                        key,
                        "needs an [alarm] table (window, min_sample, threshold, failures) \
                         to compare the received alerts with",
                    );
                }
            }
            return (None, delay, missed);
        };
        let window = self.duration(
            "alarm.window",
            a.window.as_ref(),
            Some(DEFAULT_WINDOW),
            Floor::Positive,
        );
        let window = window.map_or(DEFAULT_WINDOW, |d| d.value);
        if window.subsec_millis() != 0 || window < super::super::alarm::EVALUATE_EVERY {
            self.report(
                "alarm.window",
                format!(
                    "must be a whole number of seconds (the alarm is evaluated every second), \
                     got {window:?}"
                ),
            );
        } else if window > MAX_WINDOW {
            self.report(
                "alarm.window",
                format!("must be at most \"60m\", got {window:?}"),
            );
        }
        let min_sample = a
            .min_sample
            .map_or(Some(DEFAULT_MIN_SAMPLE), |v| {
                self.integer("alarm.min_sample", v, 1, i64::from(u32::MAX))
            })
            .unwrap_or(DEFAULT_MIN_SAMPLE) as u64;
        let threshold = match a.threshold {
            None => DEFAULT_THRESHOLD,
            Some(t) if t > 0.0 && t <= 1.0 => t,
            Some(t) => {
                self.report(
                    "alarm.threshold",
                    format!("must be a share of failures within 0.0 (excluded)..=1.0, got {t}"),
                );
                DEFAULT_THRESHOLD
            }
        };
        let failures = match &a.failures {
            None => Failures::ProviderTrouble,
            Some(RawOps::One(w)) if w == "provider_trouble" => Failures::ProviderTrouble,
            Some(RawOps::One(w)) if w == "all" => Failures::All,
            Some(RawOps::One(w)) => {
                self.report(
                    "alarm.failures",
                    format!("expected {}, got {w:?}", Failures::FORMS),
                );
                Failures::ProviderTrouble
            }
            Some(RawOps::Many(ws)) => self.reasons(ws),
        };
        let spec = AlarmSpec {
            window,
            min_sample,
            threshold,
            failures,
            monitor: a.monitor.unwrap_or(true),
        };
        (Some(spec), delay, missed)
    }

    fn reasons(&mut self, words: &[String]) -> Failures {
        if words.is_empty() {
            self.report(
                "alarm.failures",
                format!("an empty list counts nothing: expected {}", Failures::FORMS),
            );
        }
        let mut out = Vec::new();
        for (i, w) in words.iter().enumerate() {
            match FailReason::parse(w) {
                Some(r) if !out.contains(&r) => out.push(r),
                Some(_) => self.report(&format!("alarm.failures[{i}]"), format!("{w:?} twice")),
                None => self.report(
                    &format!("alarm.failures[{i}]"),
                    format!("expected {}, got {w:?}", Failures::FORMS),
                ),
            }
        }
        Failures::Reasons(out)
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::{assert_problem, ok, problems_with, MINIMAL};
    use super::*;

    #[test]
    fn an_alarm_has_documented_defaults() {
        let s = ok(&format!("{MINIMAL}[alarm]\n"));
        assert_eq!(
            s.alarm,
            Some(AlarmSpec {
                window: DEFAULT_WINDOW,
                min_sample: DEFAULT_MIN_SAMPLE as u64,
                threshold: DEFAULT_THRESHOLD,
                failures: Failures::ProviderTrouble,
                monitor: true,
            })
        );
        assert_eq!(ok(MINIMAL).alarm, None);
    }

    #[test]
    fn failures_take_a_word_or_a_list_of_reasons() {
        let s = ok(&format!(
            "{MINIMAL}[alarm]\nwindow = \"10s\"\nmin_sample = 5\nthreshold = 0.2\n\
             failures = [\"insufficient_funds\", \"risk_blocked\"]\nmonitor = false\n"
        ));
        let a = s.alarm.unwrap();
        assert_eq!(
            (a.window, a.min_sample, a.threshold, a.monitor),
            (Duration::from_secs(10), 5, 0.2, false)
        );
        assert_eq!(
            a.failures,
            Failures::Reasons(vec![FailReason::InsufficientFunds, FailReason::RiskBlocked])
        );
        let s = ok(&format!("{MINIMAL}[alarm]\nfailures = \"all\"\n"));
        assert_eq!(s.alarm.unwrap().failures, Failures::All);
    }

    #[test]
    fn every_bad_alarm_key_is_reported_at_once_with_its_path() {
        let all = problems_with(
            "[alarm]\nwindow = \"1500ms\"\nmin_sample = 0\nthreshold = 1.5\n\
             failures = [\"funds\", \"declined\", \"declined\"]\n",
        );
        assert_problem(&all, "alarm.window", "whole number of seconds");
        assert_problem(&all, "alarm.min_sample", "greater than 0");
        assert_problem(
            &all,
            "alarm.threshold",
            "within 0.0 (excluded)..=1.0, got 1.5",
        );
        assert_problem(&all, "alarm.failures[0]", "\"provider_trouble\", \"all\"");
        assert_problem(&all, "alarm.failures[2]", "twice");
        assert_eq!(all.len(), 5, "{all:#?}");
        let all = problems_with("[alarm]\nwindow = \"61m\"\n");
        assert_problem(&all, "alarm.window", "at most \"60m\"");
        let all = problems_with("[alarm]\nfailures = \"declines\"\n");
        assert_problem(&all, "alarm.failures", "got \"declines\"");
    }

    #[test]
    fn alarm_gates_need_an_alarm_and_sane_values() {
        let all = problems_with("[gates]\nalarm_delay_s_max = 5\nalarm_missed_max = 0\n");
        assert_problem(&all, "gates.alarm_delay_s_max", "needs an [alarm] table");
        assert_problem(&all, "gates.alarm_missed_max", "needs an [alarm] table");
        let all =
            problems_with("[alarm]\n[gates]\nalarm_delay_s_max = -1\nalarm_missed_max = -2\n");
        assert_problem(&all, "gates.alarm_delay_s_max", ">= 0");
        assert_problem(&all, "gates.alarm_missed_max", ">= 0");
        let s = ok(&format!(
            "{MINIMAL}[alarm]\n[gates]\nalarm_delay_s_max = 4.5\nalarm_missed_max = 0\n"
        ));
        assert_eq!(
            (s.gates.alarm_delay_s_max, s.gates.alarm_missed_max),
            (Some(4.5), Some(0))
        );
    }
}
