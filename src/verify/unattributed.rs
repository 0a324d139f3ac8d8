//! Money the harness cannot tie to an order: charges that moved money while naming no order
//! the run sent (Stripe `metadata[order_id]` missing or unknown; gateway `out_trade_no`
//! never sent). Each is tied, where the evidence allows, to the order it most likely paid:
//! first to a paid order with no money of its own (same amount, nearest its checkout),
//! then to the one checkout of that amount in flight when the charge arrived.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use crate::domain::{Amount, LedgerEntry, OrderStatus, PaymentOp};

use super::rules::OrderView;

/// One charge that moved money for no order of the run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Unattributed<'a> {
    pub entry: &'a LedgerEntry,
    /// Refunds paid out for its payment id.
    pub refunded: Amount,
}

impl Unattributed<'_> {
    /// `pi_… of 1234 usd at 512 ms naming no order` (or `naming ord-x, never sent`).
    pub fn describe(&self) -> String {
        let e = self.entry;
        let names = match &e.order_id {
            Some(o) => format!("naming {o}, an order the run never sent"),
            None => "naming no order".to_string(),
        };
        let refunded = if self.refunded > 0 {
            format!(", refunded {}", self.refunded)
        } else {
            String::new()
        };
        format!(
            "{} of {} {} at {} ms {names}{refunded}",
            e.payment_id.as_deref().unwrap_or("(no payment id)"),
            e.amount,
            e.currency,
            e.at_ms
        )
    }
}

/// The unattributed charges of a run and the orders they are tied to.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Attribution<'a> {
    /// Every unattributed charge, in ledger order.
    pub charges: Vec<Unattributed<'a>>,
    /// A paid order without money of its own → the unattributed charge holding its money
    /// (an index into `charges`). `free_goods` leaves these orders to `unattributed_charge`.
    pub paid_by: BTreeMap<&'a str, usize>,
    /// The other unattributed charges (indexes into `charges`) → the one order whose
    /// checkout of that amount was in flight when the charge arrived, when there is one.
    pub likely: BTreeMap<usize, &'a str>,
}

/// Finds the unattributed charges in `ledger` and ties them to `orders` (sorted by id: the
/// ties are the same whatever order the evidence came in).
pub fn attribute<'a>(ledger: &'a [LedgerEntry], orders: &[OrderView<'a>]) -> Attribution<'a> {
    let sent: BTreeSet<&str> = orders.iter().map(|o| o.order_id).collect();
    let mut refunded: HashMap<&str, Amount> = HashMap::new();
    for e in ledger
        .iter()
        .filter(|e| e.op == PaymentOp::Refund && e.money_moved)
    {
        if let Some(p) = e.payment_id.as_deref() {
            *refunded.entry(p).or_default() += e.amount;
        }
    }
    let mut entries: Vec<&LedgerEntry> = ledger
        .iter()
        .filter(|e| e.op == PaymentOp::Charge && e.money_moved)
        .filter(|e| !e.order_id.as_deref().is_some_and(|o| sent.contains(o)))
        .collect();
    entries.sort_by_key(|e| e.seq);
    let charges: Vec<Unattributed> = entries
        .into_iter()
        .map(|entry| Unattributed {
            entry,
            refunded: entry
                .payment_id
                .as_deref()
                .and_then(|p| refunded.get(p).copied())
                .unwrap_or(0),
        })
        .collect();

    let mut taken = vec![false; charges.len()];
    let mut paid_by = BTreeMap::new();
    let unpaid = orders
        .iter()
        .filter(|o| o.final_status() == Some(OrderStatus::Paid) && o.truth.net() <= 0);
    for o in unpaid {
        let best = charges
            .iter()
            .enumerate()
            .filter(|(i, c)| !taken[*i] && c.entry.amount == o.amount)
            .min_by_key(|(i, c)| (distance(c.entry.at_ms, o.window_ms), *i));
        if let Some((i, _)) = best {
            taken[i] = true;
            paid_by.insert(o.order_id, i);
        }
    }
    let mut likely = BTreeMap::new();
    for (i, c) in charges.iter().enumerate().filter(|(i, _)| !taken[*i]) {
        let mut in_flight = orders
            .iter()
            .filter(|o| o.amount == c.entry.amount && distance(c.entry.at_ms, o.window_ms) == 0);
        if let (Some(o), None) = (in_flight.next(), in_flight.next()) {
            likely.insert(i, o.order_id);
        }
    }
    Attribution {
        charges,
        paid_by,
        likely,
    }
}

/// How far `at` lies outside `[start, end]`, in ms (0 inside).
fn distance(at: u64, (start, end): (u64, u64)) -> u64 {
    start.saturating_sub(at).max(at.saturating_sub(end))
}
