//! The report's "Card testers" section, in every format: the testers' attempts stopped by
//! the merchant (refused before any provider call), by the provider (its risk control), and
//! let through; honest customers refused (0 for a correct merchant). From the verifier's
//! tally; left out of a run without testers.

use std::fmt::Write as _;
use std::io::{self, Write};

use serde::{Deserialize, Serialize};

use super::html::esc;
use super::RunReport;
use crate::scenario::card_testers::VelocityRules;
use crate::scenario::Scenario;
use crate::verify::card_testing::{CardTestingPlan, CardTestingTally};
use crate::verify::{Reconciliation, VerifiedOrder};
use std::collections::BTreeMap;

/// `card_testers` in `report.json`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct CardTesters {
    /// Bursts sent (one customer and one client address each).
    pub bursts: u64,
    /// Tester checkouts sent.
    pub attempts: u64,
    /// Refused by the merchant: no charge request reached the provider.
    pub stopped_by_merchant: u64,
    /// Reached the provider and were blocked by its risk control.
    pub stopped_by_provider: u64,
    /// Reached the provider and were not blocked (approved, or declined by the card).
    pub let_through: u64,
    /// Of those let through, charged.
    pub charged: u64,
    /// Honest checkouts refused with a risk-control answer before reaching the provider.
    pub honest_refused: u64,
    /// The merchant's declared limits, as in the scenario; `None`: none.
    pub merchant_limits: Option<String>,
    /// The provider's velocity rules, as in the scenario; `None`: off.
    pub provider_rules: Option<String>,
}

impl CardTesters {
    /// The section of a run whose verifier counted `tally`.
    pub fn of(scenario: &Scenario, tally: &CardTestingTally) -> CardTesters {
        let ct = &scenario.card_testing;
        CardTesters {
            bursts: crate::load::card_testers::TesterPlan::of(scenario).map_or(0, |p| p.bursts()),
            attempts: tally.attempts,
            stopped_by_merchant: tally.stopped_by_merchant,
            stopped_by_provider: tally.stopped_by_provider,
            let_through: tally.let_through,
            charged: tally.charged,
            honest_refused: tally.honest_refused,
            merchant_limits: ct.merchant.as_ref().map(VelocityRules::describe),
            provider_rules: ct.provider.as_ref().map(VelocityRules::describe),
        }
    }

    /// The rows shown, in order.
    fn rows(&self) -> [(&'static str, u64); 6] {
        [
            ("attempts sent", self.attempts),
            ("stopped by the merchant", self.stopped_by_merchant),
            ("stopped by the provider", self.stopped_by_provider),
            ("let through", self.let_through),
            ("let through and charged", self.charged),
            ("honest customers refused", self.honest_refused),
        ]
    }
}

/// The section of a run, `None` without testers.
pub fn section(scenario: &Scenario, rec: &Reconciliation) -> Option<CardTesters> {
    rec.card_testing
        .as_ref()
        .map(|t| CardTesters::of(scenario, t))
}

/// The verified orders of the offered load: every order but the testers'.
pub fn offered<'a>(
    orders: &'a BTreeMap<String, VerifiedOrder>,
    testers: Option<&'a CardTestingPlan>,
) -> impl Iterator<Item = &'a VerifiedOrder> + Clone {
    orders
        .iter()
        .filter(move |(id, _)| testers.is_none_or(|t| t.testers.attempt_of(id).is_none()))
        .map(|(_, o)| o)
}

/// The Markdown section.
pub fn markdown(w: &mut impl Write, r: &RunReport) -> io::Result<()> {
    let Some(c) = &r.card_testers else {
        return Ok(());
    };
    writeln!(w, "## Card testers\n")?;
    writeln!(
        w,
        "{} bursts. Merchant limits: {}. Provider rules: {}.\n",
        c.bursts,
        c.merchant_limits.as_deref().unwrap_or("none"),
        c.provider_rules.as_deref().unwrap_or("none")
    )?;
    writeln!(w, "| | checkouts |\n| --- | ---: |")?;
    for (name, n) in c.rows() {
        writeln!(w, "| {name} | {n} |")?;
    }
    writeln!(w)
}

/// The HTML section.
pub fn html(h: &mut String, r: &RunReport) {
    let Some(c) = &r.card_testers else {
        return;
    };
    let _ = write!(
        h,
        "<section id=\"card-testers\">\n<h2>Card testers</h2>\n<p class=\"note\">{} bursts. \
         Merchant limits: {}. Provider rules: {}.</p>\n<table>\n<tbody>\n",
        c.bursts,
        esc(c.merchant_limits.as_deref().unwrap_or("none")),
        esc(c.provider_rules.as_deref().unwrap_or("none")),
    );
    for (name, n) in c.rows() {
        let bad = name.starts_with("honest") && n > 0;
        let class = if bad { " class=\"bad\"" } else { "" };
        let _ = writeln!(h, "<tr><th>{name}</th><td{class}>{n}</td></tr>");
    }
    h.push_str("</tbody>\n</table>\n</section>\n");
}
