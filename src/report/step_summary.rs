//! The CI step summary: a compact Markdown block (verdict, key figures, failed gates and
//! checks with their first discrepancies) appended to the file a CI runner renders on the
//! job's page, e.g. GitHub's `$GITHUB_STEP_SUMMARY`. No links: the files hold the rest.

use std::fmt::Write as _;
use std::fs::OpenOptions;
use std::io::{self, Write};
use std::path::Path;

use super::gates;
use super::markdown::{cell, percent};
use super::RunReport;

/// Discrepancies shown under each failed check.
pub const SHOWN_PER_CHECK: usize = 3;

/// Renders the summary (ends with a newline).
pub fn render(r: &RunReport) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "## paychaos {} (seed {}): {}\n",
        cell(&r.scenario.name),
        r.scenario.seed,
        r.verdict.headline()
    );
    let mut notes = vec![format!("{:.1} s", r.run.duration_s)];
    if r.run.interrupted {
        notes.push("**interrupted**: the figures cover what was measured".into());
    }
    if let Some(a) = &r.run.aborted_by {
        notes.push(format!("**ABORTED by threshold**: {a}"));
    }
    if !r.run.drained {
        notes.push("**not drained** (the drain timed out)".into());
    }
    let _ = writeln!(s, "{}\n", notes.join(" · "));
    figures(&mut s, r);
    if let Some(c) = &r.capacity {
        let _ = writeln!(s, "Capacity: {}\n", cell(&c.answer()));
    }
    if !r.warnings.is_empty() {
        let _ = writeln!(s, "**Schedule warnings**\n");
        for w in &r.warnings {
            let _ = writeln!(s, "- {}", cell(w));
        }
        let _ = writeln!(s);
    }
    let failures = r.failures();
    if !failures.is_empty() {
        let _ = writeln!(s, "**Failed gates**\n");
        for f in &failures {
            let _ = writeln!(s, "- {}", cell(f));
        }
        let _ = writeln!(s);
    }
    for hint in &r.verification.hints {
        let _ = writeln!(s, "**Hint:** {}\n", cell(hint));
    }
    failed_checks(&mut s, r);
    if r.gates.is_empty() {
        let _ = writeln!(s, "No gates set.\n");
    }
    s.truncate(s.trim_end().len());
    s.push('\n');
    s
}

/// Appends the summary to `path` (created if missing), after a blank line when the file
/// already holds something, in one write so that steps appending together do not interleave.
pub fn append(r: &RunReport, path: &Path) -> io::Result<()> {
    let mut f = OpenOptions::new().create(true).append(true).open(path)?;
    let mut text = render(r);
    if f.metadata()?.len() > 0 {
        text.insert(0, '\n');
    }
    f.write_all(text.as_bytes())
}

fn figures(s: &mut String, r: &RunReport) {
    let (l, p, o) = (&r.load, &r.latency_ms, &r.outcomes);
    let _ = writeln!(
        s,
        "| sent | rate (target) | success (not declined) | p50 | p99 | shed | errors | discrepancies |"
    );
    let _ = writeln!(s, "|--:|--:|--:|--:|--:|--:|--:|--:|");
    let _ = writeln!(
        s,
        "| {} of {} | {:.1}/s ({:.1}/s) | {} ({}) | {:.1} ms | {:.1} ms | {} | {} | {} |\n",
        l.sent,
        l.planned,
        l.achieved_rate,
        l.target_rate,
        percent(o.success_rate),
        percent(o.success_rate_eligible),
        p.p50,
        p.p99,
        l.shed,
        l.errors,
        r.verification.discrepancies.len()
    );
}

fn failed_checks(s: &mut String, r: &RunReport) {
    let v = &r.verification;
    let failed: Vec<_> = v.checks.iter().filter(|c| !c.passed).collect();
    if failed.is_empty() {
        return;
    }
    let gated = r.gates.iter().any(|g| g.name == gates::VERIFICATION);
    let note = if gated {
        ""
    } else {
        " (verification is not a gate: they do not fail the run)"
    };
    let _ = writeln!(s, "**Failed checks**{note}\n");
    for c in failed {
        let _ = writeln!(
            s,
            "- `{}`: {} violation(s) of: {}",
            c.name,
            c.violations,
            cell(&c.invariant)
        );
        let of: Vec<_> = v
            .discrepancies
            .iter()
            .filter(|d| d.check.name() == c.name)
            .collect();
        for d in of.iter().take(SHOWN_PER_CHECK) {
            let _ = writeln!(
                s,
                "  - `{}`: expected {}; observed {}",
                d.order_id,
                cell(&d.expected),
                cell(&d.observed)
            );
        }
        if of.len() > SHOWN_PER_CHECK {
            let _ = writeln!(
                s,
                "  - … and {} more in report.md",
                of.len() - SHOWN_PER_CHECK
            );
        }
    }
    let _ = writeln!(s);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{AttemptResult, OrderStatus};
    use crate::report::tests::{report_with, sample, sample_set};
    use crate::scenario::GateSpec;

    fn failing(verification: bool) -> RunReport {
        let mut s = sample_set();
        for i in 0..5 {
            let id = format!("ord-2{i:05}");
            s.charge(&id, AttemptResult::Dropped)
                .told_status(&id, OrderStatus::Pending)
                .final_state(&id, OrderStatus::Pending, 0);
        }
        s.shed();
        let gates = GateSpec {
            success_rate_min: None,
            p99_ms_max: None,
            shed_max: Some(0),
            verification,
            recovery_s_max: None,
            webhook_ack_p99_ms_max: None,
            alarm_delay_s_max: None,
            alarm_missed_max: None,
        };
        report_with(&s, gates)
    }

    #[test]
    fn a_passing_run_is_a_headline_its_figures_and_its_warnings() {
        let md = render(&sample());
        assert!(
            md.starts_with("## paychaos smoke (seed 42): PASS\n\n1.5 s\n\n"),
            "{md}"
        );
        assert!(
            md.contains(
                "| 6 of 7 | 12.0/s (10.0/s) | 28.57% (40.00%) | 7.0 ms | 10.0 ms | 1 | 0 | 0 |\n"
            ),
            "{md}"
        );
        // The sample sheds one checkout: the schedule was not kept.
        assert!(
            md.contains("**Schedule warnings**\n\n- 1 checkouts shed"),
            "{md}"
        );
        assert!(!md.contains("Failed"), "{md}");
        assert!(!md.contains("http"), "link-free: {md}");
        assert_eq!(md.lines().count(), 11, "{md}");
    }

    #[test]
    fn a_failing_run_lists_failed_gates_and_checks_with_first_discrepancies() {
        let md = render(&failing(true));
        assert!(
            md.starts_with("## paychaos smoke (seed 42): FAIL\n"),
            "{md}"
        );
        assert!(
            md.contains("**Failed gates**\n\n- shed 2 above the maximum 0\n- verification: 1 of 18 checks failed (stuck_pending 5)\n"),
            "{md}"
        );
        assert!(
            md.contains("**Failed checks**\n\n- `stuck_pending`: 5 violation(s) of: "),
            "{md}"
        );
        assert_eq!(md.matches("\n  - `ord-2").count(), SHOWN_PER_CHECK, "{md}");
        assert!(md.contains("\n  - `ord-200000`: expected "), "{md}");
        assert!(md.contains("  - … and 2 more in report.md\n"), "{md}");
        assert!(!md.contains("http"), "link-free: {md}");
    }

    #[test]
    fn ungated_failed_checks_say_they_do_not_fail_the_run() {
        let md = render(&failing(false));
        assert!(
            md.contains("**Failed checks** (verification is not a gate"),
            "{md}"
        );
        assert!(!md.contains("- verification:"), "{md}");
    }

    #[test]
    fn append_keeps_what_the_file_held_and_separates_the_blocks() {
        // Arrange: a summary file another step already wrote to.
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("step_summary.md");
        std::fs::write(&path, "# build\nok").unwrap();
        let (pass, fail) = (sample(), failing(true));

        // Act
        append(&pass, &path).unwrap();
        append(&fail, &path).unwrap();

        // Assert
        let text = std::fs::read_to_string(&path).unwrap();
        let expected = format!("# build\nok\n{}\n{}", render(&pass), render(&fail));
        assert_eq!(text, expected);
    }

    #[test]
    fn append_creates_a_missing_file_and_fails_on_a_missing_folder() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("new.md");
        append(&sample(), &path).unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), render(&sample()));
        assert!(append(&sample(), &tmp.path().join("no").join("such.md")).is_err());
    }
}
