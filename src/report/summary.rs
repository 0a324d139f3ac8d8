//! The terminal summary printed at the end of a run: a dozen lines saying whether the run
//! passed and why, with the figures a person looks at first. The files hold the rest.

use std::fmt::Write;

use super::gates::number;
use super::recovery::RecoveryStatus;
use super::RunReport;

/// Failures listed before the rest are counted, keeping the summary short.
const FAILURES_SHOWN: usize = 4;

/// Renders the summary (10-15 lines, no trailing newline).
pub fn render(r: &RunReport) -> String {
    let mut s = String::new();
    let verdict = r.verdict.headline();
    let mut run_notes = String::new();
    if r.run.interrupted {
        run_notes.push_str(", interrupted");
    }
    if let Some(a) = &r.run.aborted_by {
        run_notes.push_str(&format!(", ABORTED by threshold: {a}"));
    }
    if !r.run.drained {
        run_notes.push_str(", not drained");
    }
    let _ = writeln!(
        s,
        "paychaos {} (seed {}): {verdict} in {:.1} s{run_notes}",
        r.scenario.name, r.scenario.seed, r.run.duration_s
    );

    let l = &r.load;
    let kept = if r.warnings.is_empty() {
        ""
    } else {
        "; schedule NOT kept (warnings in the report)"
    };
    let _ = writeln!(
        s,
        "  load          {} of {} planned sent at {:.1}/s (target {:.1}/s), {} shed, {} errors{kept}",
        l.sent, l.planned, l.achieved_rate, l.target_rate, l.shed, l.errors
    );
    if let Some(c) = &r.capacity {
        let _ = writeln!(s, "  capacity      {}", c.answer());
    }
    if !r.recovery.is_empty() {
        let _ = writeln!(s, "  recovery      {}", recovery(r));
    }
    let p = &r.latency_ms;
    let _ = writeln!(
        s,
        "  latency       p50 {:.1} ms, p90 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
        p.p50, p.p90, p.p99, p.max
    );
    let o = &r.outcomes;
    let _ = writeln!(
        s,
        "  success       {:.2}% of sent, {:.2}% of orders the card did not decline",
        o.success_rate * 100.0,
        o.success_rate_eligible * 100.0
    );
    let _ = writeln!(s, "  told          {}", counts(o.told.iter()));
    let _ = writeln!(s, "  final         {}", counts(o.final_states.iter()));
    let _ = writeln!(
        s,
        "  faults        {} (plan {}, met {})",
        counts(r.faults.injected.iter()),
        short(&r.faults.plan_digest),
        short(&r.faults.met_digest)
    );
    let w = &r.webhooks;
    let _ = writeln!(
        s,
        "  webhooks      {} events, {} attempts, {} delivered, {} never acknowledged, {} forged accepted",
        w.events, w.sent, w.delivered, w.never_acknowledged, w.forged_accepted
    );
    let e = &w.endpoint;
    let unhealthy =
        e.first_attempt_acceptance.is_some_and(|a| a < 1.0) || e.timeouts + e.connection_errors > 0;
    if unhealthy {
        let _ = writeln!(s, "  endpoint      {}", e.line());
    }
    let v = &r.verification;
    let failed: Vec<String> = v
        .checks
        .iter()
        .filter(|c| !c.passed)
        .map(|c| format!("{} {}", c.name, c.violations))
        .collect();
    if failed.is_empty() {
        let _ = writeln!(s, "  verification  pass: {} checks", v.checks.len());
    } else {
        let _ = writeln!(
            s,
            "  verification  FAIL: {} of {} checks ({}), {} discrepancies",
            failed.len(),
            v.checks.len(),
            failed.join(", "),
            v.discrepancies.len()
        );
    }
    for hint in &v.hints {
        let _ = writeln!(s, "  hint          {hint}");
    }
    let gates: Vec<String> = r
        .gates
        .iter()
        .map(|g| {
            let mark = if g.passed { "ok" } else { "FAIL" };
            format!(
                "{} {} ({}) {mark}",
                g.label(),
                g.observed_text(),
                g.threshold_text()
            )
        })
        .collect();
    let gates = if gates.is_empty() {
        "none set".to_string()
    } else {
        gates.join(", ")
    };
    let _ = writeln!(s, "  gates         {gates}");

    let failures = r.failures();
    if !failures.is_empty() {
        let _ = writeln!(s, "failures:");
        for f in failures.iter().take(FAILURES_SHOWN) {
            let _ = writeln!(s, "  - {f}");
        }
        if failures.len() > FAILURES_SHOWN {
            let _ = writeln!(s, "  - … and {} more", failures.len() - FAILURES_SHOWN);
        }
    }
    s.truncate(s.trim_end().len());
    s
}

/// `peak-outage 1 s (baseline 99.9%, worst 41.2%)` per window, comma-separated.
fn recovery(r: &RunReport) -> String {
    r.recovery
        .iter()
        .map(|w| {
            let how = match (w.status, w.recovery_s) {
                (RecoveryStatus::Recovered, Some(t)) => format!("{} s", number(t)),
                (RecoveryStatus::NoBaseline, _) => "no baseline".to_string(),
                (RecoveryStatus::NotReached, _) => "not reached (the load ended first)".to_string(),
                (RecoveryStatus::WindowOpenAtEnd, _) => {
                    "NOT recovered (window open at the end of the load)".to_string()
                }
                _ => format!("NEVER recovered ({} s watched)", number(w.observed_after_s)),
            };
            let rate =
                |v: Option<f64>| v.map_or("–".to_string(), |x| format!("{:.1}%", x * 100.0));
            format!(
                "{} {how} (baseline {}, worst {})",
                w.name,
                rate(w.baseline_success_rate),
                rate(w.worst_success_rate)
            )
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// The first 12 hex digits of a digest, enough to tell two apart at a glance.
fn short(digest: &str) -> &str {
    &digest[..digest.len().min(12)]
}

/// `paid 3, pending 1`: the non-zero counts, or `none`.
fn counts<'a>(it: impl Iterator<Item = (&'a str, &'a u64)>) -> String {
    let v: Vec<String> = it
        .filter(|(_, n)| **n > 0)
        .map(|(k, n)| format!("{k} {n}"))
        .collect();
    if v.is_empty() {
        "none".into()
    } else {
        v.join(", ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::tests::{failing_sample, sample};

    #[test]
    fn a_passing_run_reads_pass_in_ten_to_fifteen_lines() {
        let text = render(&sample());
        let lines: Vec<&str> = text.lines().collect();
        assert!((10..=15).contains(&lines.len()), "{text}");
        assert_eq!(lines[0], "paychaos smoke (seed 42): PASS in 1.5 s");
        assert!(text.contains("verification  pass: 18 checks"));
        assert!(text.contains("final         paid 2, failed_insufficient_funds 1"));
        assert!(!text.contains("failures:"));
        // Each gate with its direction: a floor reads ≥, a ceiling ≤.
        assert!(
            text.contains("gates         success_rate 0.4 (≥ 0.4) ok, p99_ms "),
            "{text}"
        );
        assert!(
            text.contains("(≤ 1000) ok, shed 1 (≤ 5) ok, verification 0 (≤ 0) ok"),
            "{text}"
        );
    }

    #[test]
    fn a_failing_run_lists_its_failures_within_fifteen_lines() {
        let text = render(&failing_sample());
        let lines: Vec<&str> = text.lines().collect();
        assert!(lines.len() <= 15, "{} lines:\n{text}", lines.len());
        assert!(lines[0].ends_with("FAIL in 1.5 s"), "{text}");
        assert!(text.contains("verification  FAIL: 2 of 18 checks (stuck_pending 3, duplicate_applied 3), 6 discrepancies"), "{text}");
        assert!(text.contains("failures:\n  - success_rate"));
        assert_eq!(
            text.matches("\n  - ").count(),
            4,
            "one line per failed gate"
        );
        assert!(
            text.ends_with("(stuck_pending 3, duplicate_applied 3)"),
            "{text}"
        );
    }
}
