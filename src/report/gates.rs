//! Gates: the scenario's pass/fail thresholds checked against the report's figures, kept as
//! data (`GateResult`) in the report; the exit code follows from them.

use serde::{Deserialize, Serialize};

use crate::scenario::GateSpec;

use super::RunReport;

pub const SUCCESS_RATE: &str = "success_rate";
pub const P99_MS: &str = "p99_ms";
pub const SHED: &str = "shed";
pub const VERIFICATION: &str = "verification";

/// One threshold and how the run fared against it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct GateResult {
    pub name: String,
    pub threshold: f64,
    pub observed: f64,
    pub passed: bool,
}

/// Which side of the threshold passes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Bound {
    /// Observed must be at least the threshold.
    Min,
    /// Observed must be at most the threshold.
    Max,
}

impl GateResult {
    fn new(name: &str, bound: Bound, threshold: f64, observed: f64) -> GateResult {
        let passed = match bound {
            Bound::Min => observed >= threshold,
            Bound::Max => observed <= threshold,
        };
        GateResult {
            name: name.to_string(),
            threshold,
            observed,
            passed,
        }
    }

    /// `success_rate` is a floor; every other gate is a ceiling.
    pub fn bound(&self) -> Bound {
        if self.name == SUCCESS_RATE {
            Bound::Min
        } else {
            Bound::Max
        }
    }

    /// `≥ 0.95` or `≤ 250`.
    pub fn threshold_text(&self) -> String {
        let op = match self.bound() {
            Bound::Min => "≥",
            Bound::Max => "≤",
        };
        format!("{op} {}", number(self.threshold))
    }

    /// One line saying how the gate fared: `p99_ms 412.5 above the maximum 250`.
    pub fn describe(&self) -> String {
        let (side, what) = match (self.passed, self.bound()) {
            (true, _) => ("within", "threshold"),
            (false, Bound::Min) => ("below", "the minimum"),
            (false, Bound::Max) => ("above", "the maximum"),
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::tests::{report_with, sample_set};

    fn spec() -> GateSpec {
        GateSpec {
            // The sample: success 0.5 of eligible orders, p99 about 10 ms, 1 shed.
            success_rate_min: Some(0.5),
            p99_ms_max: Some(100.0),
            shed_max: Some(1),
            verification: true,
            recovery_s_max: None,
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
        s.told("ord-000099", crate::domain::CheckoutAnswer::Shed);
        let r = report_with(&s, spec());
        let g = r.gates.iter().find(|g| g.name == SHED).unwrap();
        assert_eq!((g.observed, g.passed), (2.0, false));
        assert_eq!(r.failures(), ["shed 2 above the maximum 1"]);
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
            ["verification: 1 of 9 checks failed (duplicate_applied 1)"]
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
        };
        let r = report_with(&sample_set(), none);
        assert!(r.gates.is_empty());
        assert!(r.passed());
    }

    #[test]
    fn numbers_drop_trailing_zeros() {
        assert_eq!(number(250.0), "250");
        assert_eq!(number(0.95), "0.95");
        assert_eq!(number(412.5), "412.5");
        assert_eq!(number(1.0 / 3.0), "0.3333");
    }
}
