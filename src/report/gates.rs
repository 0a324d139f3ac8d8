//! Gates: the scenario's pass/fail thresholds checked against the report's figures, kept as
//! data (`GateResult`) in the report; the exit code follows from them.

use serde::{Deserialize, Serialize};

use crate::scenario::GateSpec;

use super::recovery::{RecoveryStatus, WindowRecovery};
use super::RunReport;

pub const SUCCESS_RATE: &str = "success_rate";
pub const P99_MS: &str = "p99_ms";
pub const SHED: &str = "shed";
pub const VERIFICATION: &str = "verification";
pub const RECOVERY_S: &str = "recovery_s";
pub const WEBHOOK_ACK_P99_MS: &str = "webhook_ack_p99_ms";
pub const ALARM_DELAY_S: &str = "alarm_delay_s";
pub const ALARM_MISSED: &str = "alarm_missed";

/// One threshold and how the run fared against it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct GateResult {
    /// The gate's key (`p99_ms`), or a threshold's metric (`latency.p95`).
    pub name: String,
    /// The comparison that must hold between `observed` and `threshold`: `>=` (a floor),
    /// `<=` (a ceiling), or for a threshold also `<`, `>`, `==`.
    pub op: Bound,
    pub threshold: f64,
    /// 0 when `note` says the run has no data for the metric.
    pub observed: f64,
    pub passed: bool,
    /// Where a threshold comes from (`thresholds[2]`); absent for a `[gates]` key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    /// Why a threshold has no figure (`no data: …`), or that it stopped the load.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// Which side of the threshold passes, written as the comparison that must hold.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub enum Bound {
    /// Observed must be at least the threshold.
    #[serde(rename = ">=")]
    Min,
    /// Observed must be at most the threshold.
    #[serde(rename = "<=")]
    Max,
    #[serde(rename = "<")]
    Below,
    #[serde(rename = ">")]
    Above,
    #[serde(rename = "==")]
    Equal,
}

impl Bound {
    /// The comparison a scenario's threshold asks for.
    pub fn of(op: crate::scenario::Op) -> Bound {
        use crate::scenario::Op;
        match op {
            Op::Le => Bound::Max,
            Op::Ge => Bound::Min,
            Op::Lt => Bound::Below,
            Op::Gt => Bound::Above,
            Op::Eq => Bound::Equal,
        }
    }

    /// Whether `observed` passes against `threshold`.
    pub fn holds(self, observed: f64, threshold: f64) -> bool {
        match self {
            Bound::Min => observed >= threshold,
            Bound::Max => observed <= threshold,
            Bound::Below => observed < threshold,
            Bound::Above => observed > threshold,
            Bound::Equal => observed == threshold,
        }
    }

    /// As the human formats write it.
    pub fn symbol(self) -> &'static str {
        match self {
            Bound::Min => "≥",
            Bound::Max => "≤",
            Bound::Below => "<",
            Bound::Above => ">",
            Bound::Equal => "=",
        }
    }
}

impl GateResult {
    pub(super) fn new(name: &str, bound: Bound, threshold: f64, observed: f64) -> GateResult {
        GateResult {
            name: name.to_string(),
            op: bound,
            threshold,
            observed,
            passed: bound.holds(observed, threshold),
            source: None,
            note: None,
        }
    }

    /// `success_rate` is a floor; every other gate is a ceiling.
    pub fn bound(&self) -> Bound {
        self.op
    }

    /// The gate's key, or a threshold's source and metric: `thresholds[1] latency.p95`.
    pub fn label(&self) -> String {
        match &self.source {
            Some(s) => format!("{s} {}", self.name),
            None => self.name.clone(),
        }
    }

    /// The observed figure, or `no data`.
    pub fn observed_text(&self) -> String {
        match &self.note {
            Some(n) if n.starts_with("no data") => "no data".into(),
            _ => number(self.observed),
        }
    }

    /// `≥ 0.95` or `≤ 250`.
    pub fn threshold_text(&self) -> String {
        format!("{} {}", self.bound().symbol(), number(self.threshold))
    }

    /// One line saying how the gate fared: `p99_ms 412.5 above the maximum 250`, or for a
    /// threshold `latency.p95 412.5, not < 250 (thresholds[0])`.
    pub fn describe(&self) -> String {
        if let Some(source) = &self.source {
            let said = match (&self.note, self.passed) {
                (Some(note), _) if note.starts_with("no data") => {
                    format!("{} {}: {note}", self.name, self.threshold_text())
                }
                (note, passed) => {
                    let verb = if passed { "" } else { "not " };
                    let tail = note.as_ref().map(|n| format!("; {n}")).unwrap_or_default();
                    format!(
                        "{} {}, {verb}{}{tail}",
                        self.name,
                        number(self.observed),
                        self.threshold_text()
                    )
                }
            };
            return format!("{said} ({source})");
        }
        if let (Some(note), false) = (&self.note, self.passed) {
            // A gate failed for a reason its figure does not show (an alarm never came).
            return format!(
                "{} {} ({}): {note}",
                self.name,
                number(self.observed),
                self.threshold_text()
            );
        }
        let (side, what) = match (self.passed, self.bound()) {
            (true, _) => ("within", "threshold"),
            (false, Bound::Min) => ("below", "the minimum"),
            (false, _) => ("above", "the maximum"),
        };
        let what = if self.passed {
            format!("the {what} {}", self.threshold_text())
        } else {
            format!("{what} {}", number(self.threshold))
        };
        format!("{} {} {side} {what}", self.name, number(self.observed))
    }
}

/// A figure without trailing zeros: `0.95`, `250`, `412.5`.
pub fn number(x: f64) -> String {
    if x.fract() == 0.0 && x.abs() < 1e15 {
        format!("{x:.0}")
    } else {
        let s = format!("{x:.4}");
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    }
}

/// Checks the report's figures against the scenario's gates, in a fixed order; a gate the
/// scenario leaves unset is not listed.
pub fn evaluate(spec: &GateSpec, report: &RunReport) -> Vec<GateResult> {
    let mut out = Vec::new();
    if let Some(min) = spec.success_rate_min {
        let observed = report.outcomes.success_rate_eligible;
        out.push(GateResult::new(SUCCESS_RATE, Bound::Min, min, observed));
    }
    if let Some(max) = spec.p99_ms_max {
        out.push(GateResult::new(
            P99_MS,
            Bound::Max,
            max,
            report.latency_ms.p99,
        ));
    }
    if let Some(max) = spec.shed_max {
        out.push(GateResult::new(
            SHED,
            Bound::Max,
            max as f64,
            report.load.shed as f64,
        ));
    }
    if let Some(max) = spec.recovery_s_max {
        out.push(recovery_gate(max, &report.recovery));
    }
    if let Some(max) = spec.webhook_ack_p99_ms_max {
        let observed = report.webhooks.endpoint.ack_latency_ms.p99;
        out.push(GateResult::new(
            WEBHOOK_ACK_P99_MS,
            Bound::Max,
            max,
            observed,
        ));
    }
    super::alarm::gates(spec, report.alarm.as_ref(), &mut out);
    if spec.verification {
        let failed = report
            .verification
            .checks
            .iter()
            .filter(|c| !c.passed)
            .count();
        out.push(GateResult::new(
            VERIFICATION,
            Bound::Max,
            0.0,
            failed as f64,
        ));
    }
    out
}

/// The slowest recovery among the windows against `max`. A window that never recovered, has
/// no baseline to recover to, or was still open when the load's schedule ended fails the
/// gate; its observed value is then the time watched after it, a lower bound. A window that
/// a load cut short never got past has nothing to judge.
fn recovery_gate(max: f64, windows: &[WindowRecovery]) -> GateResult {
    let unrecovered = windows
        .iter()
        .filter(|w| {
            !matches!(
                w.status,
                RecoveryStatus::Recovered | RecoveryStatus::NotReached
            )
        })
        .map(|w| w.observed_after_s)
        .reduce(f64::max);
    let slowest = windows
        .iter()
        .filter_map(|w| w.recovery_s)
        .fold(0.0, f64::max);
    match unrecovered {
        Some(watched) => GateResult {
            name: RECOVERY_S.to_string(),
            op: Bound::Max,
            threshold: max,
            observed: watched.max(slowest),
            passed: false,
            source: None,
            note: None,
        },
        None => GateResult::new(RECOVERY_S, Bound::Max, max, slowest),
    }
}

/// The failure line of the recovery gate, naming the windows that did not recover in time.
pub fn describe_recovery(g: &GateResult, windows: &[WindowRecovery]) -> String {
    let parts: Vec<String> = windows
        .iter()
        .filter_map(|w| match (w.status, w.recovery_s) {
            (RecoveryStatus::NeverRecovered, _) => Some(format!(
                "'{}' never recovered ({} s watched after it)",
                w.name,
                number(w.observed_after_s)
            )),
            (RecoveryStatus::NoBaseline, _) => Some(format!(
                "'{}' has no baseline before it to recover to",
                w.name
            )),
            (RecoveryStatus::WindowOpenAtEnd, _) => Some(format!(
                "'{}' ({}–{} s) was still open when the load ended: it did not recover within \
                 the run",
                w.name,
                number(w.start_s),
                number(w.end_s)
            )),
            (RecoveryStatus::Recovered, Some(s)) if s > g.threshold => {
                Some(format!("'{}' took {} s", w.name, number(s)))
            }
            _ => None,
        })
        .collect();
    if parts.is_empty() {
        g.describe()
    } else {
        format!(
            "recovery_s above the maximum {}: {}",
            number(g.threshold),
            parts.join(", ")
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::tests::{report_with, sample_set};
    use crate::report::RecoveryStatus;

    fn spec() -> GateSpec {
        GateSpec {
            // The sample: success 0.4 of eligible orders (2 paid of 4 not declined and 1
            // shed), p99 about 10 ms, 1 shed.
            success_rate_min: Some(0.4),
            p99_ms_max: Some(100.0),
            shed_max: Some(1),
            verification: true,
            recovery_s_max: None,
            webhook_ack_p99_ms_max: None,
            alarm_delay_s_max: None,
            alarm_missed_max: None,
        }
    }

    #[test]
    fn gates_pass_when_figures_are_within_thresholds() {
        let r = report_with(&sample_set(), spec());
        let names: Vec<_> = r.gates.iter().map(|g| g.name.as_str()).collect();
        assert_eq!(names, [SUCCESS_RATE, P99_MS, SHED, VERIFICATION]);
        assert!(r.passed(), "{:?}", r.failures());
        assert!(r.failures().is_empty());
    }

    #[test]
    fn each_gate_fails_just_past_its_threshold() {
        let r = report_with(&sample_set(), spec());
        let mut tight = spec();
        tight.success_rate_min = Some(r.outcomes.success_rate_eligible + 0.001);
        tight.p99_ms_max = Some(r.latency_ms.p99 - 0.001);
        let r2 = report_with(&sample_set(), tight);
        let failed: Vec<_> = r2.gates.iter().filter(|g| !g.passed).collect();
        assert_eq!(failed.len(), 2);
        assert_eq!(failed[0].name, SUCCESS_RATE);
        assert_eq!(failed[1].name, P99_MS);
        assert!(!r2.passed());
        let f = r2.failures();
        assert!(f[0].starts_with("success_rate") && f[0].contains("below the minimum"));
        assert!(f[1].contains("above the maximum"), "{}", f[1]);

        // Exactly at the threshold passes.
        let mut exact = spec();
        exact.success_rate_min = Some(r.outcomes.success_rate_eligible);
        exact.p99_ms_max = Some(r.latency_ms.p99);
        assert!(report_with(&sample_set(), exact).passed());
    }

    #[test]
    fn shed_gate_counts_shed_checkouts() {
        let mut s = sample_set();
        s.shed();
        let r = report_with(&s, spec());
        let g = r.gates.iter().find(|g| g.name == SHED).unwrap();
        assert_eq!((g.observed, g.passed), (2.0, false));
        // The second shed checkout also counts against success: 2 paid of 6 now.
        assert_eq!(
            r.failures(),
            [
                "success_rate 0.3333 below the minimum 0.4",
                "shed 2 above the maximum 1"
            ]
        );
    }

    #[test]
    fn verification_gate_counts_failed_checks_and_can_be_off() {
        let mut s = sample_set();
        s.charge("ord-000050", crate::domain::AttemptResult::Ok)
            .told_status("ord-000050", crate::domain::OrderStatus::Paid)
            .final_state("ord-000050", crate::domain::OrderStatus::Paid, 3);
        let r = report_with(&s, spec());
        let g = r.gates.iter().find(|g| g.name == VERIFICATION).unwrap();
        assert_eq!((g.threshold, g.observed, g.passed), (0.0, 1.0, false));
        assert_eq!(
            r.failures(),
            ["verification: 1 of 18 checks failed (duplicate_applied 1)"]
        );

        let mut off = spec();
        off.verification = false;
        let r = report_with(&s, off);
        assert!(r.gates.iter().all(|g| g.name != VERIFICATION));
        assert!(r.passed(), "an ungated verification does not fail the run");
        assert!(!r.verification.passed);
    }

    #[test]
    fn unset_gates_are_not_listed() {
        let none = GateSpec {
            success_rate_min: None,
            p99_ms_max: None,
            shed_max: None,
            verification: false,
            recovery_s_max: None,
            webhook_ack_p99_ms_max: None,
            alarm_delay_s_max: None,
            alarm_missed_max: None,
        };
        let r = report_with(&sample_set(), none);
        assert!(r.gates.is_empty());
        assert!(r.passed());
    }

    fn window(name: &str, status: RecoveryStatus, recovery_s: Option<f64>) -> WindowRecovery {
        WindowRecovery {
            name: name.into(),
            start_s: 10.0,
            end_s: 15.0,
            baseline_s: 10.0,
            baseline_success_rate: Some(0.99),
            baseline_p99_ms: Some(20.0),
            worst_success_rate: Some(0.4),
            worst_p99_ms: Some(900.0),
            threshold: Some(0.94),
            tolerance: 0.05,
            hold_s: 3.0,
            status,
            recovery_s,
            observed_after_s: 6.0,
            orders_affected: 50,
            orders_correct: 50,
        }
    }

    fn recovery_spec(max: f64) -> GateSpec {
        GateSpec {
            success_rate_min: None,
            p99_ms_max: None,
            shed_max: None,
            verification: false,
            recovery_s_max: Some(max),
            webhook_ack_p99_ms_max: None,
            alarm_delay_s_max: None,
            alarm_missed_max: None,
        }
    }

    #[test]
    fn recovery_gate_takes_the_slowest_window() {
        let mut r = report_with(&sample_set(), recovery_spec(2.0));
        r.recovery = vec![
            window("a", RecoveryStatus::Recovered, Some(1.0)),
            window("b", RecoveryStatus::Recovered, Some(2.0)),
        ];
        let g = evaluate(&recovery_spec(2.0), &r);
        assert_eq!(
            (g[0].name.as_str(), g[0].observed, g[0].passed),
            (RECOVERY_S, 2.0, true)
        );

        r.recovery[1].recovery_s = Some(3.5);
        r.gates = evaluate(&recovery_spec(2.0), &r);
        assert!(!r.passed());
        assert_eq!(
            r.failures(),
            ["recovery_s above the maximum 2: 'b' took 3.5 s"]
        );
    }

    #[test]
    fn a_window_that_never_recovers_fails_the_gate_and_says_so() {
        let mut r = report_with(&sample_set(), recovery_spec(30.0));
        r.recovery = vec![
            window("a", RecoveryStatus::Recovered, Some(1.0)),
            window("b", RecoveryStatus::NeverRecovered, None),
            window("c", RecoveryStatus::NoBaseline, None),
        ];
        r.gates = evaluate(&recovery_spec(30.0), &r);
        let g = &r.gates[0];
        assert!(!g.passed, "6 s watched is below 30, but it never recovered");
        assert_eq!(g.observed, 6.0);
        assert_eq!(
            r.failures(),
            [
                "recovery_s above the maximum 30: 'b' never recovered (6 s watched after it), \
              'c' has no baseline before it to recover to"
            ]
        );
    }

    #[test]
    fn a_window_open_at_the_end_of_the_load_fails_the_gate() {
        // Observed 0 s (nothing was watched after it) is no pass: it never closed (#9).
        let mut r = report_with(&sample_set(), recovery_spec(2.0));
        let mut open = window("tail", RecoveryStatus::WindowOpenAtEnd, None);
        open.observed_after_s = 0.0;
        r.recovery = vec![window("a", RecoveryStatus::Recovered, Some(1.0)), open];
        r.gates = evaluate(&recovery_spec(2.0), &r);
        assert!(!r.gates[0].passed, "{:?}", r.gates[0]);
        assert_eq!(
            r.failures(),
            [
                "recovery_s above the maximum 2: 'tail' (10–15 s) was still open when the load \
                 ended: it did not recover within the run"
            ]
        );
    }

    #[test]
    fn a_window_the_load_never_got_past_does_not_fail_the_gate() {
        let mut r = report_with(&sample_set(), recovery_spec(2.0));
        r.recovery = vec![
            window("a", RecoveryStatus::Recovered, Some(1.0)),
            window("cut", RecoveryStatus::NotReached, None),
        ];
        r.gates = evaluate(&recovery_spec(2.0), &r);
        assert!(r.gates[0].passed, "{:?}", r.gates[0]);
        assert_eq!(r.gates[0].observed, 1.0);
    }

    #[test]
    fn numbers_drop_trailing_zeros() {
        assert_eq!(number(250.0), "250");
        assert_eq!(number(0.95), "0.95");
        assert_eq!(number(412.5), "412.5");
        assert_eq!(number(1.0 / 3.0), "0.3333");
    }
}
