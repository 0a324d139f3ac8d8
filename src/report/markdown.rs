//! The Markdown writer: `report.md`, sized for a CI step summary. Sections in a fixed order:
//! verdict, load (with schedule warnings), capacity (capacity runs), latency, outcomes
//! (confusion matrix), faults, recovery (when there are fault windows), webhooks,
//! card testers (runs with testers), verification, gates. Capacity and recovery render in
//! `markdown_load.rs`; card testers in `card_testers.rs`.

use std::io::{self, Write};

use crate::chaos::digest::PLAN_DIGEST_DEPTH;
use crate::domain::FinalState;
use crate::metrics::Percentiles;
use crate::verify::{Check, TruthLabel};

use super::RunReport;

/// Discrepancies shown per check; the rest are counted.
pub const SHOWN_PER_CHECK: usize = 20;

/// Writes the report as Markdown.
pub fn write(report: &RunReport, w: &mut impl Write) -> io::Result<()> {
    Markdown { w, r: report }.write()
}

struct Markdown<'a, W> {
    w: &'a mut W,
    r: &'a RunReport,
}

impl<W: Write> Markdown<'_, W> {
    fn write(&mut self) -> io::Result<()> {
        self.headline()?;
        self.load()?;
        super::markdown_load::capacity(self.w, self.r)?;
        self.latency()?;
        self.outcomes()?;
        super::funnel::markdown(self.w, self.r)?;
        self.faults()?;
        super::markdown_load::recovery(self.w, self.r)?;
        super::alarm::render::markdown(self.w, self.r)?;
        super::channels::markdown(self.w, self.r)?;
        self.webhooks()?;
        super::card_testers::markdown(self.w, self.r)?;
        self.verification()?;
        self.gates()
    }

    fn headline(&mut self) -> io::Result<()> {
        let r = self.r;
        let verdict = r.verdict.headline();
        writeln!(self.w, "# paychaos: {} — {verdict}\n", r.scenario.name)?;
        let failures = r.failures();
        if !failures.is_empty() {
            for f in &failures {
                writeln!(self.w, "- {}", cell(f))?;
            }
            writeln!(self.w)?;
        }
        let mut notes = vec![
            format!("seed {}", r.scenario.seed),
            format!(
                "run `{}` (order ids `ord-{}-…`)",
                r.run.run_id, r.run.run_id
            ),
            format!("started {}", r.run.started_at),
            format!("{:.1} s", r.run.duration_s),
        ];
        if r.run.interrupted {
            notes.push("**interrupted**".into());
        }
        if let Some(a) = &r.run.aborted_by {
            notes.push(format!("**ABORTED by threshold**: {a}"));
        }
        if !r.run.drained {
            notes.push("**not drained** (the drain timed out)".into());
        }
        writeln!(self.w, "{}\n", notes.join(" · "))
    }

    fn load(&mut self) -> io::Result<()> {
        let l = &self.r.load;
        writeln!(self.w, "## Load\n")?;
        writeln!(
            self.w,
            "| profile | target rate | achieved rate | planned | sent | shed | errors |"
        )?;
        writeln!(self.w, "|---|--:|--:|--:|--:|--:|--:|")?;
        writeln!(
            self.w,
            "| {} | {:.1}/s | {:.1}/s | {} | {} | {} | {} |\n",
            l.profile, l.target_rate, l.achieved_rate, l.planned, l.sent, l.shed, l.errors
        )?;
        super::markdown_load::schedule(self.w, self.r)
    }

    fn latency(&mut self) -> io::Result<()> {
        writeln!(
            self.w,
            "## Latency\n\nCheckout latency in ms, from the intended send time.\n"
        )?;
        writeln!(self.w, "| outcome | p50 | p90 | p99 | p99.9 | max |")?;
        writeln!(self.w, "|---|--:|--:|--:|--:|--:|")?;
        let row = |name: &str, p: &Percentiles| {
            format!(
                "| {name} | {:.1} | {:.1} | {:.1} | {:.1} | {:.1} |",
                p.p50, p.p90, p.p99, p.p999, p.max
            )
        };
        writeln!(self.w, "{}", row("**all**", &self.r.latency_ms))?;
        for (name, p) in self.r.latency_ms_by_outcome.iter() {
            writeln!(self.w, "{}", row(name, p))?;
        }
        writeln!(self.w)
    }

    fn outcomes(&mut self) -> io::Result<()> {
        let o = &self.r.outcomes;
        writeln!(self.w, "## Outcomes\n")?;
        writeln!(
            self.w,
            "Success: **{}** of sent orders ended paid (**{}** of the orders the card did not decline).\n",
            percent(o.success_rate),
            percent(o.success_rate_eligible)
        )?;
        writeln!(self.w, "| state | told at checkout | final |")?;
        writeln!(self.w, "|---|--:|--:|")?;
        let mut states: Vec<&str> = FinalState::all().map(FinalState::as_str).collect();
        states.push("error");
        for s in states {
            let show = |v: Option<&u64>| v.map_or("–".to_string(), u64::to_string);
            writeln!(
                self.w,
                "| {s} | {} | {} |",
                show(o.told.get(s)),
                show(o.final_states.get(s))
            )?;
        }
        writeln!(self.w)?;
        self.confusion()
    }

    /// Rows: provider truth; columns: final state. Zeros read as `·`; orders in a cell where
    /// the merchant's state contradicts the provider are bold and flagged.
    fn confusion(&mut self) -> io::Result<()> {
        let c = &self.r.outcomes.confusion;
        writeln!(
            self.w,
            "### Confusion matrix: provider truth × merchant final state\n"
        )?;
        let short: Vec<&str> = FinalState::all()
            .map(FinalState::as_str)
            .map(|l| l.strip_prefix("failed_").unwrap_or(l))
            .collect();
        writeln!(self.w, "| truth ＼ final | {} | total |", short.join(" | "))?;
        writeln!(self.w, "|---|{}--:|", "--:|".repeat(short.len()))?;
        for (truth, row) in c.iter() {
            let mut cells = Vec::new();
            let mut total = 0;
            for label in FinalState::all().map(FinalState::as_str) {
                let n = row.get(label).copied().unwrap_or(0);
                total += n;
                cells.push(match n {
                    0 => "·".to_string(),
                    n if agrees(truth, label) => n.to_string(),
                    n => format!("**{n}** ⚠"),
                });
            }
            writeln!(self.w, "| {truth} | {} | {total} |", cells.join(" | "))?;
        }
        writeln!(
            self.w,
            "\nColumns `insufficient_funds` … `declined` are `failed_<reason>`; `missing`: not in \
             the merchant's export. `·` = none; **n** ⚠ = orders whose final state contradicts \
             the provider.\n"
        )
    }

    fn faults(&mut self) -> io::Result<()> {
        let f = &self.r.faults;
        writeln!(self.w, "## Faults\n")?;
        writeln!(self.w, "| kind | ledger entries | orders hit |")?;
        writeln!(self.w, "|---|--:|--:|")?;
        for (kind, n) in f.injected.iter() {
            let hit = f.orders_hit.get(kind).copied().unwrap_or(0);
            writeln!(self.w, "| {kind} | {n} | {hit} |")?;
        }
        writeln!(
            self.w,
            "\nProvider shed (overload): **{}** requests beyond its {} in flight, answered as \
             rate limited before any work (not ledger entries, not the injected `rate_limit`).",
            f.overload.shed, f.overload.max_in_flight
        )?;
        writeln!(
            self.w,
            "\nPlan digest: `{}` (what the seed assigns to every planned order's first {} \
             attempts and events: equal for the same scenario and seed on any machine).  \n\
             Met digest: `{}` (the faults this run's attempts met: timing decides how many \
             attempts there were).\n",
            f.plan_digest, PLAN_DIGEST_DEPTH, f.met_digest
        )
    }

    fn webhooks(&mut self) -> io::Result<()> {
        let h = &self.r.webhooks;
        writeln!(self.w, "## Webhooks\n")?;
        writeln!(
            self.w,
            "| events | attempts | delivered | retried | dropped | duplicated | reordered | never acknowledged |"
        )?;
        writeln!(self.w, "|--:|--:|--:|--:|--:|--:|--:|--:|")?;
        writeln!(
            self.w,
            "| {} | {} | {} | {} | {} | {} | {} | {} |\n",
            h.events,
            h.sent,
            h.delivered,
            h.retried,
            h.dropped,
            h.duplicated,
            h.reordered,
            h.never_acknowledged
        )?;
        writeln!(
            self.w,
            "Attacker copies: {} forged, {} stale, {} unsigned; **{}** accepted (must be 0).\n",
            h.forged, h.stale, h.unsigned, h.forged_accepted
        )?;
        let a = &h.ack_latency_ms;
        writeln!(
            self.w,
            "Acknowledgement latency (ms): p50 {:.1} · p90 {:.1} · p99 {:.1} · max {:.1}\n",
            a.p50, a.p90, a.p99, a.max
        )?;
        writeln!(
            self.w,
            "Endpoint health (genuine deliveries): {}.\n",
            h.endpoint.line()
        )
    }

    fn verification(&mut self) -> io::Result<()> {
        let v = &self.r.verification;
        let verdict = if v.passed { "PASS" } else { "FAIL" };
        writeln!(self.w, "## Verification: {verdict}\n")?;
        for hint in &v.hints {
            writeln!(self.w, "> **Hint:** {hint}\n")?;
        }
        writeln!(self.w, "| check | invariant | result | violations |")?;
        writeln!(self.w, "|---|---|---|--:|")?;
        for c in &v.checks {
            let result = if c.passed { "pass" } else { "**FAIL**" };
            writeln!(
                self.w,
                "| {} | {} | {result} | {} |",
                c.name,
                cell(&c.invariant),
                c.violations
            )?;
        }
        writeln!(self.w)?;
        if v.discrepancies.is_empty() {
            return writeln!(self.w, "No discrepancies.\n");
        }
        writeln!(self.w, "### Discrepancies\n")?;
        for check in Check::ALL {
            let of: Vec<_> = v
                .discrepancies
                .iter()
                .filter(|d| d.check == check)
                .collect();
            if of.is_empty() {
                continue;
            }
            writeln!(self.w, "#### {check} ({})\n", of.len())?;
            for d in of.iter().take(SHOWN_PER_CHECK) {
                writeln!(
                    self.w,
                    "- `{}`: expected {}; observed {}",
                    d.order_id,
                    cell(&d.expected),
                    cell(&d.observed)
                )?;
                if !d.chain.is_empty() {
                    writeln!(self.w, "  - {}", cell(&d.chain_text()))?;
                }
            }
            if of.len() > SHOWN_PER_CHECK {
                writeln!(self.w, "- … and {} more", of.len() - SHOWN_PER_CHECK)?;
            }
            writeln!(self.w)?;
        }
        Ok(())
    }

    fn gates(&mut self) -> io::Result<()> {
        writeln!(self.w, "## Gates\n")?;
        if self.r.gates.is_empty() {
            return writeln!(self.w, "No gates set.");
        }
        writeln!(self.w, "| gate | threshold | observed | result |")?;
        writeln!(self.w, "|---|--:|--:|---|")?;
        for g in &self.r.gates {
            let result = if g.passed { "pass" } else { "**FAIL**" };
            writeln!(
                self.w,
                "| {} | {} | {} | {result} |",
                g.label(),
                g.threshold_text(),
                g.observed_text()
            )?;
        }
        Ok(())
    }
}

/// Whether an order of provider truth `truth` may rightly end in final state `state`.
pub(super) fn agrees(truth: &str, state: &str) -> bool {
    match TruthLabel::parse(truth) {
        Some(TruthLabel::Charged) => state == "paid",
        Some(TruthLabel::Refunded) => state.starts_with("failed_"),
        Some(TruthLabel::DeclinedInsufficientFunds) => state == "failed_insufficient_funds",
        Some(TruthLabel::DeclinedRiskBlocked) => state == "failed_risk_blocked",
        Some(TruthLabel::DeclinedOther) => state == "failed_declined",
        Some(TruthLabel::NotCharged) => state == "failed_provider_error",
        Some(TruthLabel::NoAttempt) => state == "failed_provider_error" || state == "missing",
        None => false,
    }
}

pub(super) fn percent(x: f64) -> String {
    format!("{:.2}%", x * 100.0)
}

/// Text safe inside a table cell or list item: no pipes breaking columns, one line.
pub(super) fn cell(s: &str) -> String {
    s.replace('|', "\\|").replace('\n', " ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{AttemptResult, FailReason, OrderStatus};
    use crate::report::tests::{report_with, sample, sample_set};

    fn render(r: &RunReport) -> String {
        let mut out = Vec::new();
        write(r, &mut out).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn sections_come_in_a_fixed_order() {
        let md = render(&sample());
        let heads = [
            "# paychaos: smoke — PASS",
            "## Load",
            "## Latency",
            "## Outcomes",
            "### Confusion matrix",
            "## Faults",
            "## Webhooks",
            "## Verification: PASS",
            "## Gates",
        ];
        let pos: Vec<usize> = heads
            .iter()
            .map(|h| md.find(h).unwrap_or_else(|| panic!("missing {h}:\n{md}")))
            .collect();
        assert!(pos.windows(2).all(|w| w[0] < w[1]), "{pos:?}");
        assert!(md.contains("No discrepancies."));
    }

    #[test]
    fn tables_have_their_headers() {
        let md = render(&sample());
        for header in [
            "| profile | target rate | achieved rate | planned | sent | shed | errors |",
            "| outcome | p50 | p90 | p99 | p99.9 | max |",
            "| state | told at checkout | final |",
            "| truth ＼ final | paid | insufficient_funds | risk_blocked | provider_error | declined | pending | missing | total |",
            "| kind | ledger entries | orders hit |",
            "| check | invariant | result | violations |",
            "| gate | threshold | observed | result |",
        ] {
            assert!(md.contains(header), "missing {header}:\n{md}");
        }
        assert!(
            md.contains("| charged | 2 | · | · | · | · | · | · | 2 |"),
            "{md}"
        );
        assert!(md.contains("| success_rate | ≥ 0.4 | 0.4 | pass |"), "{md}");
    }

    #[test]
    fn a_failing_run_names_its_failures_and_lists_discrepancies() {
        let mut s = sample_set();
        s.charge("ord-000010", AttemptResult::AnswerLost)
            .told_status("ord-000010", OrderStatus::Failed(FailReason::ProviderError))
            .final_state(
                "ord-000010",
                OrderStatus::Failed(FailReason::ProviderError),
                0,
            );
        let r = report_with(&s, sample().scenario_gates());
        let md = render(&r);
        assert!(md.starts_with("# paychaos: smoke — FAIL\n\n- verification: 1 of 18 checks failed (lost_payment 1)\n"), "{md}");
        assert!(md.contains("## Verification: FAIL"));
        assert!(md.contains("| lost_payment | money taken is matched by a paid order or given back | **FAIL** | 1 |"));
        assert!(md.contains("#### lost_payment (1)\n\n- `ord-000010`: expected order paid, or the 1000 kept refunded; observed charged 1000 in 1 charge(s), refunded 0, net 1000; final failed_provider_error; told failed_provider_error\n  - 71 ms told failed_provider_error → 100 ms charge attempt 0 key ord-000010:charge: timeout_after_charge, money moved (1000, pi_ord-000010), answer lost → final failed_provider_error\n"), "{md}");
        assert!(
            md.contains("| charged | 2 | · | · | **1** ⚠ | · | · | · | 3 |"),
            "{md}"
        );
    }

    #[test]
    fn only_the_first_twenty_discrepancies_per_check_are_shown() {
        let mut s = sample_set();
        for i in 0..23 {
            let id = format!("ord-1{i:05}");
            s.charge(&id, AttemptResult::Dropped)
                .told_status(&id, OrderStatus::Pending)
                .final_state(&id, OrderStatus::Pending, 0);
        }
        let md = render(&report_with(&s, sample().scenario_gates()));
        assert!(md.contains("#### stuck_pending (23)"));
        assert_eq!(md.matches("- `ord-1").count(), SHOWN_PER_CHECK);
        assert!(md.contains("- … and 3 more"));
    }

    #[test]
    fn table_cells_escape_pipes() {
        assert_eq!(cell("a|b\nc"), "a\\|b c");
    }
}
