//! The JUnit XML writer: `junit.xml`, the format CI pages render as test results (GitHub
//! test reporters, GitLab's `artifacts:reports:junit`, Jenkins). Two suites: `gates`, one
//! case per gate with its observed value against its threshold, and `checks`, one case per
//! verification check, a failed one carrying its first discrepancies. Figures go in each
//! case's `system-out` (not case properties, which the Ant/Jenkins schema does not allow).

use std::io::{self, Write};
use std::path::Path;
use std::time::Duration;

use quick_junit::{NonSuccessKind, Property, Report, TestCase, TestCaseStatus, TestSuite};

use super::{CheckRow, GateResult, RunReport};

/// The file's name in the report folder.
pub const FILE_NAME: &str = "junit.xml";

/// Discrepancies carried by a failed check's case; the rest are counted.
pub const SHOWN_PER_CHECK: usize = 10;

/// Writes the report as JUnit XML.
pub fn write(report: &RunReport, w: &mut impl Write) -> io::Result<()> {
    build(report).serialize(w).map_err(io::Error::other)
}

/// Writes the report as JUnit XML to `path` (its folder created if needed), through a
/// temporary file renamed into place like every report file.
pub fn write_file(report: &RunReport, path: &Path) -> io::Result<()> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    super::write_atomically(path, |w| write(report, w))
}

/// The JUnit document: the run as a report of two suites.
pub fn build(r: &RunReport) -> Report {
    let mut report = Report::new(format!("paychaos {}", r.scenario.name));
    let time = Duration::try_from_secs_f64(r.run.duration_s).ok();
    let started = chrono::DateTime::parse_from_rfc3339(&r.run.started_at).ok();
    let mut suites = [gates(r), checks(r)];
    for s in &mut suites {
        if let Some(t) = time {
            s.set_time(t);
        }
        if let Some(at) = started {
            s.set_timestamp(at);
        }
        s.add_properties(properties(r));
    }
    if let Some(t) = time {
        report.set_time(t);
    }
    report.add_test_suites(suites);
    report
}

/// What a reader of the CI page needs to reproduce the run and read its verdict.
fn properties(r: &RunReport) -> Vec<Property> {
    vec![
        Property::new("scenario", r.scenario.name.as_str()),
        Property::new("seed", r.scenario.seed.to_string()),
        Property::new("verdict", r.verdict.headline()),
        Property::new("interrupted", r.run.interrupted.to_string()),
        Property::new("drained", r.run.drained.to_string()),
    ]
}

fn gates(r: &RunReport) -> TestSuite {
    let mut suite = TestSuite::new("gates");
    // `failures()` has one line per failed gate, in gate order.
    let mut lines = r.failures().into_iter();
    for g in &r.gates {
        let status = if g.passed {
            TestCaseStatus::success()
        } else {
            let line = lines.next().unwrap_or_else(|| g.describe());
            failure(line, "gate", gate_detail(g))
        };
        let mut case = TestCase::new(g.label(), status);
        case.set_classname(format!("{}.gates", r.scenario.name));
        case.set_system_out(gate_detail(g));
        suite.add_test_case(case);
    }
    suite
}

fn gate_detail(g: &GateResult) -> String {
    let note = g
        .note
        .as_ref()
        .map(|n| format!("; {n}"))
        .unwrap_or_default();
    format!(
        "observed {}, threshold {}{note}",
        g.observed_text(),
        g.threshold_text()
    )
}

fn checks(r: &RunReport) -> TestSuite {
    let mut suite = TestSuite::new("checks");
    for c in &r.verification.checks {
        let status = if c.passed {
            TestCaseStatus::success()
        } else {
            let message = format!("{} violation(s) of: {}", c.violations, c.invariant);
            failure(message, "check", check_detail(r, c))
        };
        let mut case = TestCase::new(c.name.as_str(), status);
        case.set_classname(format!("{}.checks", r.scenario.name));
        case.set_system_out(format!("{} violation(s) of: {}", c.violations, c.invariant));
        suite.add_test_case(case);
    }
    suite
}

/// The check's first discrepancies, one per line: the order, what was expected, what was
/// observed, and on the next line its causal chain; then how many more `report.json` holds.
fn check_detail(r: &RunReport, c: &CheckRow) -> String {
    let of: Vec<_> = r
        .verification
        .discrepancies
        .iter()
        .filter(|d| d.check.name() == c.name)
        .collect();
    let mut lines: Vec<String> = of
        .iter()
        .take(SHOWN_PER_CHECK)
        .map(|d| {
            let line = format!(
                "{}: expected {}; observed {}",
                d.order_id, d.expected, d.observed
            );
            if d.chain.is_empty() {
                line
            } else {
                format!("{line}\n  chain: {}", d.chain_text())
            }
        })
        .collect();
    if of.len() > SHOWN_PER_CHECK {
        lines.push(format!(
            "… and {} more (every discrepancy is in report.json)",
            of.len() - SHOWN_PER_CHECK
        ));
    }
    lines.join("\n")
}

fn failure(message: String, ty: &str, description: String) -> TestCaseStatus {
    let mut status = TestCaseStatus::non_success(NonSuccessKind::Failure);
    status
        .set_message(message)
        .set_type(ty)
        .set_description(description);
    status
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{AttemptResult, OrderStatus};
    use crate::report::tests::{failing_sample, report_with, sample, sample_set};
    use crate::scenario::GateSpec;
    use crate::verify::Check;

    /// Writes the report and parses the XML back, as a CI page would read it.
    fn round_trip(r: &RunReport) -> Report {
        let mut out = Vec::new();
        write(r, &mut out).unwrap();
        let xml = String::from_utf8(out).unwrap();
        assert!(xml.starts_with("<?xml"), "{xml}");
        Report::deserialize_from_str(&xml).unwrap_or_else(|e| panic!("{e}:\n{xml}"))
    }

    fn suite<'a>(doc: &'a Report, name: &str) -> &'a TestSuite {
        doc.test_suites
            .iter()
            .find(|s| s.name.as_str() == name)
            .unwrap_or_else(|| panic!("no suite {name}"))
    }

    /// (message, description) of the case `name`, `None` when it passed.
    fn failure_of(s: &TestSuite, name: &str) -> Option<(String, String)> {
        let case = s.test_cases.iter().find(|c| c.name.as_str() == name)?;
        match &case.status {
            TestCaseStatus::Success { .. } => None,
            TestCaseStatus::NonSuccess {
                kind,
                message,
                description,
                ..
            } => {
                assert_eq!(*kind, NonSuccessKind::Failure);
                let text = |x: &Option<quick_junit::XmlString>| {
                    x.as_ref()
                        .map(|m| m.as_str().to_string())
                        .unwrap_or_default()
                };
                Some((text(message), text(description)))
            }
            TestCaseStatus::Skipped { .. } => panic!("{name} skipped"),
        }
    }

    /// Three orders stuck pending and applied twice, one shed: four gates failed, two checks.
    fn failing() -> RunReport {
        failing_sample()
    }

    #[test]
    fn a_passing_run_has_a_case_per_gate_and_per_check_and_no_failure() {
        // Arrange
        let r = sample();

        // Act
        let doc = round_trip(&r);

        // Assert
        let names: Vec<_> = doc.test_suites.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names, ["gates", "checks"]);
        assert_eq!(doc.tests, r.gates.len() + Check::ALL.len());
        assert_eq!((doc.failures, doc.errors), (0, 0));
        let gates = suite(&doc, "gates");
        let case_names: Vec<_> = gates.test_cases.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(
            case_names,
            ["success_rate", "p99_ms", "shed", "verification"]
        );
        let out = gates.test_cases[0].system_out.as_ref().unwrap();
        assert_eq!(out.as_str(), "observed 0.4, threshold ≥ 0.4");
        let checks = suite(&doc, "checks");
        assert_eq!(checks.tests, Check::ALL.len());
        assert_eq!(checks.test_cases[0].name.as_str(), "lost_payment");
        assert_eq!(
            checks.test_cases[0].classname.as_ref().unwrap().as_str(),
            "smoke.checks"
        );
        let verdict = gates
            .properties
            .iter()
            .find(|p| p.name.as_str() == "verdict");
        assert_eq!(verdict.unwrap().value.as_str(), "PASS");
        assert_eq!(checks.time, Some(Duration::from_millis(1500)));
        assert!(checks.timestamp.is_some());
    }

    #[test]
    fn a_failing_run_fails_its_gates_and_checks_with_what_was_observed() {
        // Arrange
        let r = failing();

        // Act
        let doc = round_trip(&r);

        // Assert: every gate failed, and the two checks.
        assert_eq!(doc.failures, 4 + 2);
        let gates = suite(&doc, "gates");
        assert_eq!(gates.failures, 4);
        let (message, detail) = failure_of(gates, "shed").expect("shed failed");
        assert_eq!(message, "shed 2 above the maximum 0");
        assert_eq!(detail, "observed 2, threshold ≤ 0");
        let (message, _) = failure_of(gates, "verification").unwrap();
        assert!(message.contains("2 of 18 checks failed"), "{message}");

        let checks = suite(&doc, "checks");
        assert_eq!(checks.failures, 2);
        assert_eq!(failure_of(checks, "lost_payment"), None);
        let (message, detail) = failure_of(checks, "stuck_pending").unwrap();
        assert!(
            message.starts_with("3 violation(s) of: no order"),
            "{message}"
        );
        let lines: Vec<_> = detail.lines().collect();
        assert_eq!(
            lines.len(),
            3 * 2,
            "a line and its chain per order: {detail}"
        );
        assert!(
            lines[0].starts_with("ord-200000: expected ") && lines[0].contains("; observed "),
            "{detail}"
        );
        assert!(
            lines[1].starts_with("  chain: ")
                && lines[1].contains("timeout, dropped, nothing moved → final pending"),
            "{detail}"
        );
    }

    #[test]
    fn a_failed_check_carries_its_first_ten_discrepancies_and_counts_the_rest() {
        let mut s = sample_set();
        for i in 0..23 {
            let id = format!("ord-1{i:05}");
            s.charge(&id, AttemptResult::Dropped)
                .told_status(&id, OrderStatus::Pending)
                .final_state(&id, OrderStatus::Pending, 0);
        }
        let doc = round_trip(&report_with(&s, sample().scenario_gates()));
        let (_, detail) = failure_of(suite(&doc, "checks"), "stuck_pending").unwrap();
        let lines: Vec<_> = detail
            .lines()
            .filter(|l| !l.starts_with("  chain: "))
            .collect();
        assert_eq!(lines.len(), SHOWN_PER_CHECK + 1, "{detail}");
        assert!(lines[9].starts_with("ord-100009: "), "sorted by order id");
        assert_eq!(
            lines[10],
            "… and 13 more (every discrepancy is in report.json)"
        );
    }

    #[test]
    fn text_with_markup_survives_the_round_trip() {
        let mut r = failing();
        r.scenario.name = "a<b>&\"c\"".into();
        r.verification.discrepancies[0].discrepancy.observed = "<tag> & ]]> \"quoted\"".into();
        let doc = round_trip(&r);
        let checks = suite(&doc, "checks");
        let classname = checks.test_cases[0].classname.as_ref().unwrap();
        assert_eq!(classname.as_str(), "a<b>&\"c\".checks");
        let failed = r.verification.discrepancies[0].check.name();
        let (_, detail) = failure_of(checks, failed).unwrap();
        assert!(
            detail.contains("observed <tag> & ]]> \"quoted\""),
            "{detail}"
        );
    }

    #[test]
    fn a_run_without_gates_has_an_empty_gates_suite() {
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
        let doc = round_trip(&report_with(&sample_set(), none));
        assert_eq!(suite(&doc, "gates").tests, 0);
        assert_eq!(suite(&doc, "checks").tests, Check::ALL.len());
    }

    #[test]
    fn write_file_creates_the_folder_and_leaves_no_temp_file() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("ci").join("paychaos.xml");
        write_file(&failing(), &path).unwrap();
        let xml = std::fs::read_to_string(&path).unwrap();
        assert_eq!(Report::deserialize_from_str(&xml).unwrap().failures, 6);
        let names: Vec<_> = std::fs::read_dir(path.parent().unwrap())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, ["paychaos.xml"]);
    }
}
