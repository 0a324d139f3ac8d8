//! Reconciliation: the provider's ledger (the truth) against the webhook log, the checkout
//! answers and the merchant's final order states. `truth` reads each order's money from the
//! ledger, `rules` holds one invariant per function, `discrepancy` names the checks and their
//! violations. Only orders the harness sent (not shed) are verified.

pub mod card_testing;
pub mod channels;
pub mod discrepancy;
pub mod journeys;
pub mod rules;
pub mod truth;
pub mod unattributed;

use std::collections::BTreeMap;

use enum_map::EnumMap;

use crate::domain::{
    CheckoutAnswer, CheckoutRecord, FinalState, LedgerEntry, OrderSnapshot, OrderStatus, PaymentOp,
    WebhookAttempt,
};
use crate::load::journeys::JourneyRecord;
use crate::load::retries::RetryRecord;

pub use discrepancy::{Check, Discrepancy};
pub use rules::answer_label;
pub use truth::{OrderTruth, TruthLabel};

/// The records a run hands to the verifier.
#[derive(Clone, Copy, Debug)]
pub struct Evidence<'a> {
    pub ledger: &'a [LedgerEntry],
    pub webhooks: &'a [WebhookAttempt],
    pub checkouts: &'a [CheckoutRecord],
    /// Final order states read after the drain.
    pub orders: &'a [OrderSnapshot],
    /// The run's card testers and the merchant's declared limits; `None`: no testers.
    pub card_testing: Option<&'a card_testing::CardTestingPlan>,
    /// The customers' journeys through challenges (none without challenges).
    pub journeys: &'a [JourneyRecord],
    /// The second checkouts of customers who paid again with another card.
    pub retries: &'a [RetryRecord],
}

/// Orders counted by provider truth (rows, [`TruthLabel::ALL`]) × merchant final state
/// (columns, [`FinalState::all`]).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Confusion {
    counts: [EnumMap<FinalState, u64>; TruthLabel::ALL.len()],
}

impl Confusion {
    /// Counts one order.
    pub fn add(&mut self, truth: TruthLabel, state: FinalState) {
        self.counts[truth.index()][state] += 1;
    }

    pub fn get(&self, truth: TruthLabel, state: FinalState) -> u64 {
        self.counts[truth.index()][state]
    }

    /// One row, in [`FinalState::all`] order.
    pub fn row(&self, truth: TruthLabel) -> &EnumMap<FinalState, u64> {
        &self.counts[truth.index()]
    }

    pub fn total(&self) -> u64 {
        self.counts.iter().flat_map(|row| row.values()).sum()
    }
}

/// How one check fared.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CheckResult {
    pub check: Check,
    pub violations: usize,
}

impl CheckResult {
    pub fn passed(&self) -> bool {
        self.violations == 0
    }
}

/// One verified order's figures, for reports.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerifiedOrder {
    pub truth: OrderTruth,
    /// The checkout answer's label ([`answer_label`]).
    pub told: &'static str,
    /// The final state, `missing` when not exported.
    pub final_state: FinalState,
}

/// The verifier's findings.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reconciliation {
    /// Every verified order (sent by the harness, not shed), by order id.
    pub orders: BTreeMap<String, VerifiedOrder>,
    /// One result per check, in [`Check::ALL`] order.
    pub checks: Vec<CheckResult>,
    /// Every violation, sorted by order id.
    pub discrepancies: Vec<Discrepancy>,
    pub confusion: Confusion,
    /// Orders the merchant calls paid (at checkout or finally) although no charge request
    /// at all reached the provider: it pays somewhere else. 0 once the provider saw one.
    pub paid_unseen_by_provider: u64,
    /// Card testers' attempts by where they were stopped; `None`: the run sent none.
    pub card_testing: Option<card_testing::CardTestingTally>,
}

impl Reconciliation {
    /// Whether every check passed.
    pub fn passed(&self) -> bool {
        self.checks.iter().all(CheckResult::passed)
    }

    /// The checks with violations, in report order.
    pub fn failed_checks(&self) -> Vec<Check> {
        self.checks
            .iter()
            .filter(|c| !c.passed())
            .map(|c| c.check)
            .collect()
    }
}

/// Checks the evidence of a run against every invariant.
pub fn reconcile(e: &Evidence) -> Reconciliation {
    let mut truths = truth::order_truths(e.ledger);
    let empty = OrderTruth::default();

    // First record wins should the load ever report an order twice. Shed checkouts were
    // never sent and have no record: nothing of them to verify.
    let mut sent: BTreeMap<&str, &CheckoutRecord> = BTreeMap::new();
    for c in e.checkouts {
        sent.entry(c.order_id.as_str()).or_insert(c);
    }
    let mut snapshots: BTreeMap<&str, &OrderSnapshot> = BTreeMap::new();
    for s in e.orders {
        snapshots.entry(s.order_id.as_str()).or_insert(s);
    }

    let views: Vec<rules::OrderView> = sent
        .iter()
        .map(|(&id, &c)| rules::OrderView {
            order_id: id,
            truth: truths.get(id).unwrap_or(&empty),
            told: &c.answer,
            snapshot: snapshots.get(id).copied(),
            amount: c.amount,
            window_ms: checkout_window(c),
        })
        .collect();
    let mut ctx = rules::Context::new(views, e.webhooks, e.ledger);
    ctx.card_testing = e.card_testing;
    ctx.journeys = journeys::by_order(e.journeys);

    let mut checks = Vec::with_capacity(Check::ALL.len());
    let mut discrepancies = Vec::new();
    for check in Check::ALL {
        let found = rules::run(check, &ctx);
        checks.push(CheckResult {
            check,
            violations: found.len(),
        });
        discrepancies.extend(found);
    }
    discrepancies.sort();

    let mut confusion = Confusion::default();
    let mut verified = Vec::with_capacity(ctx.orders.len());
    for o in &ctx.orders {
        confusion.add(o.truth.label(), o.final_state());
        verified.push((answer_label(o.told), o.final_state()));
    }

    let provider_saw_a_charge = e.ledger.iter().any(|l| l.op == PaymentOp::Charge);
    let paid_unseen_by_provider = if provider_saw_a_charge {
        0
    } else {
        let told_paid = |o: &rules::OrderView| {
            matches!(
                o.told,
                CheckoutAnswer::Told {
                    status: OrderStatus::Paid
                }
            )
        };
        ctx.orders
            .iter()
            .filter(|o| told_paid(o) || o.final_status() == Some(OrderStatus::Paid))
            .count() as u64
    };

    let card_testing = card_testing::tally(&ctx);
    drop(ctx);
    // Each truth (and its id) moves into the report's order list: a copy would hold every
    // order's truth twice until the end of the run. The views were made from `sent`, in
    // its (id) order.
    let orders = sent
        .keys()
        .zip(verified)
        .map(|(&id, (told, final_state))| {
            let (id, truth) = truths
                .remove_entry(id)
                .unwrap_or_else(|| (id.to_string(), OrderTruth::default()));
            let order = VerifiedOrder {
                truth,
                told,
                final_state,
            };
            (id, order)
        })
        .collect();

    Reconciliation {
        card_testing,
        orders,
        checks,
        discrepancies,
        confusion,
        paid_unseen_by_provider,
    }
}

/// From a checkout's intended send time to its answer, in run ms (rounded outwards): its
/// charges arrive at the provider within it.
fn checkout_window(c: &CheckoutRecord) -> (u64, u64) {
    let end = c.intended_ms + c.latency_us.div_ceil(1000) + 1;
    (c.intended_ms, end)
}

#[cfg(test)]
mod channel_tests;
#[cfg(test)]
mod read_proof_tests;
#[cfg(test)]
mod second_card_tests;
#[cfg(test)]
pub(crate) mod tests;
#[cfg(test)]
mod verdict_tests;
