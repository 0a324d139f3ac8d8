//! The Markdown sections about the load's shape and its effects, called from `markdown.rs`:
//! the schedule warnings under the load table, a capacity run's steps and knee, and the
//! recovery after each fault window. Each writes nothing when it has nothing to say.

use std::io::{self, Write};

use super::capacity::CapacityStep;
use super::gates::number;
use super::markdown::{cell, percent};
use super::recovery::RecoveryStatus;
use super::RunReport;

fn ms(v: Option<f64>) -> String {
    v.map_or("–".into(), |p| format!("{p:.1}"))
}

fn pct(v: Option<f64>) -> String {
    v.map_or("–".into(), percent)
}

/// The generator's send lag and connections, and every schedule warning.
pub(super) fn schedule(w: &mut impl Write, r: &RunReport) -> io::Result<()> {
    let l = &r.load;
    writeln!(
        w,
        "Generator send lag (intended → actual send): p99 {:.1} ms · max {:.1} ms.\n",
        l.send_lag_p99_ms, l.send_lag_max_ms
    )?;
    match &l.pool {
        Some(p) => writeln!(
            w,
            "Connections to the merchant: a pool of {} · {} checkouts waited for one (max \
             {:.1} ms) · held {:.1} ms per checkout on average.\n",
            p.connections, p.waited, p.wait_max_ms, p.hold_mean_ms
        )?,
        None => writeln!(w, "Connections to the merchant: a new one per checkout.\n")?,
    }
    if r.warnings.is_empty() {
        return Ok(());
    }
    writeln!(w, "**Schedule warnings**\n")?;
    for x in &r.warnings {
        writeln!(w, "- ⚠ {}", cell(x))?;
    }
    writeln!(w)
}

/// A capacity run: the SLO, the answer, and one row per step.
pub(super) fn capacity(w: &mut impl Write, r: &RunReport) -> io::Result<()> {
    let Some(c) = &r.capacity else {
        return Ok(());
    };
    writeln!(w, "## Capacity\n")?;
    writeln!(
        w,
        "SLO per step: p99 ≤ {} ms and success ≥ {} (told paid over orders the card did not \
         decline; shed ones count as failures), judged over each {} s step after its first {} s.\n",
        number(c.slo_p99_ms),
        percent(c.slo_success_rate),
        number(c.every_s),
        number(c.settle_s)
    )?;
    writeln!(w, "**{}**\n", cell(&c.answer()))?;
    if c.stopped_early {
        writeln!(
            w,
            "The load stopped once a step broke the SLO; higher steps were not offered.\n"
        )?;
    }
    writeln!(
        w,
        "| step | rate | achieved | planned | sent | shed | p99 ms | success | send lag p99 ms | result |"
    )?;
    writeln!(w, "|--:|--:|--:|--:|--:|--:|--:|--:|--:|---|")?;
    for (i, s) in c.steps.iter().enumerate() {
        writeln!(
            w,
            "| {} | {}/s | {:.1}/s | {} | {} | {} | {} | {} | {} | {} |",
            i + 1,
            number(s.rate),
            s.achieved_rate,
            s.planned,
            s.sent,
            s.shed,
            ms(s.p99_ms),
            pct(s.success_rate),
            ms(s.send_lag_p99_ms),
            result(s)
        )?;
    }
    writeln!(w)
}

fn result(s: &CapacityStep) -> &'static str {
    match (s.complete, s.held) {
        (false, _) => "incomplete",
        (true, true) => "held",
        (true, false) => "**broke**",
    }
}

/// One row per fault window: baseline, worst, recovery, orders affected.
pub(super) fn recovery(w: &mut impl Write, r: &RunReport) -> io::Result<()> {
    let Some(first) = r.recovery.first() else {
        return Ok(());
    };
    writeln!(w, "## Recovery\n")?;
    writeln!(
        w,
        "Per second of intended send time, success is told paid over orders the card did not \
         decline. Recovered: back within {} of the baseline (the whole seconds just before the \
         window, up to `[recovery] baseline`) for {} s in a row; resolution 1 s.\n",
        number(first.tolerance),
        number(first.hold_s)
    )?;
    writeln!(
        w,
        "| window | span s | baseline success | baseline p99 ms | worst success | worst p99 ms | recovery | orders affected | ended correct |"
    )?;
    writeln!(w, "|---|---|--:|--:|--:|--:|---|--:|--:|")?;
    for x in &r.recovery {
        let recovery = match (x.status, x.recovery_s) {
            (RecoveryStatus::Recovered, Some(s)) => format!("{} s", number(s)),
            (RecoveryStatus::NoBaseline, _) => "no baseline".into(),
            (RecoveryStatus::NotReached, _) => "not reached (the load ended first)".into(),
            (RecoveryStatus::WindowOpenAtEnd, _) => {
                "**not recovered**: window open at the end of the load".into()
            }
            _ => format!("**never** ({} s watched)", number(x.observed_after_s)),
        };
        writeln!(
            w,
            "| {} | {}–{} | {} | {} | {} | {} | {} | {} | {} |",
            cell(&x.name),
            number(x.start_s),
            number(x.end_s),
            pct(x.baseline_success_rate),
            ms(x.baseline_p99_ms),
            pct(x.worst_success_rate),
            ms(x.worst_p99_ms),
            recovery,
            x.orders_affected,
            x.orders_correct
        )?;
    }
    writeln!(w)
}

#[cfg(test)]
mod tests {
    use crate::report::capacity::{CapacityReport, CapacityStep};
    use crate::report::recovery::{RecoveryStatus, WindowRecovery};
    use crate::report::tests::sample;
    use crate::report::{markdown, summary, RunReport};

    fn render(r: &RunReport) -> String {
        let mut out = Vec::new();
        markdown::write(r, &mut out).unwrap();
        String::from_utf8(out).unwrap()
    }

    fn step(rate: f64, p99: f64, held: bool) -> CapacityStep {
        CapacityStep {
            rate,
            from_s: 0.0,
            to_s: 1.0,
            planned: 100,
            sent: 100,
            shed: 0,
            achieved_rate: rate,
            p99_ms: Some(p99),
            send_lag_p99_ms: Some(1.0),
            eligible: 100,
            paid: 100,
            success_rate: Some(1.0),
            complete: true,
            held,
        }
    }

    fn with_sections() -> RunReport {
        let mut r = sample();
        r.capacity = Some(CapacityReport {
            slo_p99_ms: 250.0,
            slo_success_rate: 0.99,
            every_s: 4.0,
            settle_s: 1.0,
            max_rate: 300.0,
            steps: vec![step(100.0, 20.0, true), step(200.0, 900.0, false)],
            knee: Some(step(100.0, 20.0, true)),
            first_broken: Some(step(200.0, 900.0, false)),
            held_at_max: false,
            stopped_early: true,
        });
        r.recovery = vec![WindowRecovery {
            name: "peak-outage".into(),
            start_s: 20.0,
            end_s: 25.0,
            baseline_s: 10.0,
            baseline_success_rate: Some(0.999),
            baseline_p99_ms: Some(31.5),
            worst_success_rate: Some(0.412),
            worst_p99_ms: Some(1800.0),
            threshold: Some(0.949),
            tolerance: 0.05,
            hold_s: 3.0,
            status: RecoveryStatus::Recovered,
            recovery_s: Some(1.0),
            observed_after_s: 15.0,
            orders_affected: 412,
            orders_correct: 412,
        }];
        r.warnings = vec!["1 checkouts shed at load.max_in_flight = 8: …".into()];
        r
    }

    #[test]
    fn capacity_recovery_and_warnings_have_their_sections_in_place() {
        let md = render(&with_sections());
        let heads = [
            "## Load",
            "**Schedule warnings**",
            "## Capacity",
            "## Latency",
            "## Faults",
            "## Recovery",
            "## Webhooks",
        ];
        let pos: Vec<usize> = heads
            .iter()
            .map(|h| md.find(h).unwrap_or_else(|| panic!("missing {h}:\n{md}")))
            .collect();
        assert!(pos.windows(2).all(|w| w[0] < w[1]), "{pos:?}");
        assert!(
            md.contains(
                "**knee 100/s (achieved 100/s, p99 20.0 ms, success 100.00%); first broken 200/s"
            ),
            "{md}"
        );
        assert!(
            md.contains(
                "| 2 | 200/s | 200.0/s | 100 | 100 | 0 | 900.0 | 100.00% | 1.0 | **broke** |"
            ),
            "{md}"
        );
        assert!(md.contains("higher steps were not offered"));
        assert!(
            md.contains(
                "| peak-outage | 20–25 | 99.90% | 31.5 | 41.20% | 1800.0 | 1 s | 412 | 412 |"
            ),
            "{md}"
        );
        assert!(md.contains("- ⚠ 1 checkouts shed"));
    }

    #[test]
    fn a_plain_run_has_no_capacity_or_recovery_section() {
        let mut r = sample();
        r.warnings.clear();
        let md = render(&r);
        assert!(!md.contains("## Capacity") && !md.contains("## Recovery"));
        assert!(!md.contains("Schedule warnings"));
        assert!(md.contains("Generator send lag"));
    }

    #[test]
    fn the_summary_gives_the_knee_the_recovery_and_flags_the_schedule() {
        let mut r = with_sections();
        r.recovery.push(WindowRecovery {
            name: "late".into(),
            status: RecoveryStatus::NeverRecovered,
            recovery_s: None,
            observed_after_s: 2.0,
            ..r.recovery[0].clone()
        });
        let text = summary::render(&r);
        assert!(text.contains("  capacity      knee 100/s"), "{text}");
        assert!(
            text.contains("  recovery      peak-outage 1 s (baseline 99.9%, worst 41.2%), late NEVER recovered (2 s watched)"),
            "{text}"
        );
        assert!(text.contains("schedule NOT kept"), "{text}");
        assert!(text.lines().count() <= 15, "{text}");
    }
}
