//! Each order's story, told from the records a run already has (the ledger, the webhook
//! log, the checkout records, the final order states): [`History`] indexes them by order
//! once, [`History::steps`] gives one order's events in time order (what `chain` reads to
//! explain a finding), and [`History::write`] streams `history.jsonl`, one line per order.
//!
//! A line is `{"order_id": …, "sequence": …, "events": […]}`; each event has an `event`
//! word and its run time `at_ms` (ms since the run's origin, as every record has):
//! `checkout` (sent, with its amount) or `checkout_shed`; `provider_call` (operation,
//! idempotency key, attempt from 0, fault injected, result, HTTP status, money moved,
//! amount, payment id, ledger seq); `checkout_answer` (what the customer was told, latency);
//! `webhook` (event id and type, copy kind, attempt, status or error, latency, dropped,
//! delay); `final` (the merchant's final state after the drain, without a time). Orders come
//! in schedule order, then ids the run never sent, then provider calls no order owns
//! (`"order_id": null`).

use std::collections::{BTreeSet, HashMap};
use std::io::{self, Write};

use serde::Serialize;

use crate::domain::order_id::sequence;
use crate::domain::{
    CheckoutAnswer, CheckoutRecord, CopyKind, FaultKind, FinalState, LedgerEntry, OrderSnapshot,
    PaymentOp, WebhookAttempt,
};
use crate::verify::truth::result_label;
use crate::verify::{answer_label, Evidence};

/// The file's name in the report folder.
pub const FILE_NAME: &str = "history.jsonl";

/// The run's records, indexed by order. Holds indices, not copies: a few bytes per record.
#[derive(Debug)]
pub struct History<'a> {
    evidence: Evidence<'a>,
    /// Ledger entries of an order, sorted by (order id, seq).
    ledger: Vec<(&'a str, u32)>,
    /// Ledger entries no order owns, in seq order.
    unowned: Vec<u32>,
    /// Webhook attempts of an order, sorted by (order id, send order).
    webhooks: Vec<(&'a str, u32)>,
    /// The first checkout record of each order id.
    checkouts: HashMap<&'a str, u32>,
    /// The first final state of each order id.
    snapshots: HashMap<&'a str, u32>,
}

/// One event of an order's story.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Step<'a> {
    /// The load sent the checkout (or shed it: never sent).
    Checkout(&'a CheckoutRecord),
    /// One request to the provider, as the ledger records it.
    Call(&'a LedgerEntry),
    /// The merchant's answer to the checkout (or the error that stood for it).
    Answer(&'a CheckoutRecord),
    /// One webhook delivery attempt.
    Webhook(&'a WebhookAttempt),
    /// The merchant's final state after the drain; `None`: its export lacked the order.
    Final(Option<&'a OrderSnapshot>),
}

impl Step<'_> {
    /// Run time in ms since the origin; `None` for the final state, read after the drain.
    pub fn at_ms(&self) -> Option<u64> {
        match self {
            Step::Checkout(c) => Some(c.intended_ms),
            Step::Call(e) => Some(e.at_ms),
            Step::Answer(c) => Some(c.intended_ms + c.latency_us / 1000),
            Step::Webhook(w) => Some(w.at_ms),
            Step::Final(_) => None,
        }
    }

    /// Among events of one millisecond: the checkout first, then provider calls, then the
    /// answer they led to, then webhooks.
    fn rank(&self) -> u8 {
        match self {
            Step::Checkout(_) => 0,
            Step::Call(_) => 1,
            Step::Answer(_) => 2,
            Step::Webhook(_) => 3,
            Step::Final(_) => 4,
        }
    }
}

impl<'a> History<'a> {
    /// Indexes `evidence` by order: one pass and two sorts over the records.
    pub fn new(evidence: Evidence<'a>) -> History<'a> {
        let index = |i: usize| u32::try_from(i).expect("fewer than 2^32 records");
        // A refund without an order id belongs to the order whose charge made its payment.
        let order_of_payment: HashMap<&str, &str> = evidence
            .ledger
            .iter()
            .filter(|e| e.op == PaymentOp::Charge)
            .filter_map(|e| Some((e.payment_id.as_deref()?, e.order_id.as_deref()?)))
            .collect();
        let mut ledger = Vec::with_capacity(evidence.ledger.len());
        let mut unowned = Vec::new();
        for (i, e) in evidence.ledger.iter().enumerate() {
            let order = e.order_id.as_deref().or_else(|| {
                e.payment_id
                    .as_deref()
                    .and_then(|p| order_of_payment.get(p).copied())
            });
            match order {
                Some(o) => ledger.push((o, index(i))),
                None => unowned.push(index(i)),
            }
        }
        let seq = |i: u32| evidence.ledger[i as usize].seq;
        ledger.sort_by(|a, b| a.0.cmp(b.0).then(seq(a.1).cmp(&seq(b.1))));
        unowned.sort_by_key(|&i| seq(i));
        let mut webhooks: Vec<(&str, u32)> = evidence
            .webhooks
            .iter()
            .enumerate()
            .filter_map(|(i, w)| Some((w.order_id.as_deref()?, index(i))))
            .collect();
        // Stable: the log's send order within an order.
        webhooks.sort_by(|a, b| a.0.cmp(b.0));
        let mut checkouts = HashMap::with_capacity(evidence.checkouts.len());
        for (i, c) in evidence.checkouts.iter().enumerate() {
            checkouts.entry(c.order_id.as_str()).or_insert(index(i));
        }
        let mut snapshots = HashMap::with_capacity(evidence.orders.len());
        for (i, s) in evidence.orders.iter().enumerate() {
            snapshots.entry(s.order_id.as_str()).or_insert(index(i));
        }
        History {
            evidence,
            ledger,
            unowned,
            webhooks,
            checkouts,
            snapshots,
        }
    }

    /// Every event of `order_id`, in time order (the final state last); empty for an id no
    /// record names.
    pub fn steps(&self, order_id: &str) -> Vec<Step<'a>> {
        let e = self.evidence;
        let mut steps = Vec::new();
        let checkout = self
            .checkouts
            .get(order_id)
            .map(|&i| &e.checkouts[i as usize]);
        if let Some(c) = checkout {
            // Shed checkouts were never sent and have no record: every record has an answer.
            steps.push(Step::Checkout(c));
            steps.push(Step::Answer(c));
        }
        for &(_, i) in range(&self.ledger, order_id) {
            steps.push(Step::Call(&e.ledger[i as usize]));
        }
        for &(_, i) in range(&self.webhooks, order_id) {
            steps.push(Step::Webhook(&e.webhooks[i as usize]));
        }
        // A stable sort keeps each kind's own order (ledger seq, send order) within a ms.
        steps.sort_by_key(|s| (s.at_ms(), s.rank()));
        let snapshot = self.snapshots.get(order_id).map(|&i| &e.orders[i as usize]);
        let sent = checkout.is_some();
        if snapshot.is_some() || sent {
            steps.push(Step::Final(snapshot));
        }
        steps
    }

    /// Every order id with a story, in the order `history.jsonl` tells them: the checkouts
    /// in schedule order, then ids only the provider or the merchant knows, sorted.
    fn order_ids(&self) -> Vec<&'a str> {
        let e = self.evidence;
        let mut ids: Vec<&str> = Vec::with_capacity(e.checkouts.len());
        for (i, c) in e.checkouts.iter().enumerate() {
            if self.checkouts.get(c.order_id.as_str()) == Some(&(i as u32)) {
                ids.push(&c.order_id);
            }
        }
        let others: BTreeSet<&str> = self
            .ledger
            .iter()
            .map(|(o, _)| *o)
            .chain(self.webhooks.iter().map(|(o, _)| *o))
            .chain(e.orders.iter().map(|s| s.order_id.as_str()))
            .filter(|o| !self.checkouts.contains_key(o))
            .collect();
        ids.extend(others);
        ids
    }

    /// Writes `history.jsonl`: one JSON line per order, built and written one at a time.
    ///
    /// # Errors
    /// The writer's.
    pub fn write(&self, w: &mut impl Write) -> io::Result<()> {
        for id in self.order_ids() {
            let steps = self.steps(id);
            let line = OrderLine {
                order_id: Some(id),
                sequence: sequence(id),
                events: steps.iter().map(line).collect(),
            };
            serde_json::to_writer(&mut *w, &line)?;
            w.write_all(b"\n")?;
        }
        if !self.unowned.is_empty() {
            let ledger = self.evidence.ledger;
            let line = OrderLine {
                order_id: None,
                sequence: None,
                events: self
                    .unowned
                    .iter()
                    .map(|&i| line(&Step::Call(&ledger[i as usize])))
                    .collect(),
            };
            serde_json::to_writer(&mut *w, &line)?;
            w.write_all(b"\n")?;
        }
        Ok(())
    }
}

/// The entries of `index` (sorted by order id) for `order_id`.
fn range<'i, 'a>(index: &'i [(&'a str, u32)], order_id: &str) -> &'i [(&'a str, u32)] {
    let start = index.partition_point(|(o, _)| *o < order_id);
    let len = index[start..].partition_point(|(o, _)| *o == order_id);
    &index[start..start + len]
}

/// One line of `history.jsonl`.
#[derive(Serialize)]
struct OrderLine<'a> {
    order_id: Option<&'a str>,
    /// The sequence number the id carries (`ord-<run>-000042` → 42), when it does.
    sequence: Option<u64>,
    events: Vec<Line<'a>>,
}

/// One event as written.
#[derive(Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
enum Line<'a> {
    Checkout {
        at_ms: u64,
        amount: u64,
    },
    ProviderCall {
        at_ms: u64,
        seq: u64,
        op: PaymentOp,
        idempotency_key: Option<&'a str>,
        attempt: u32,
        fault: Option<FaultKind>,
        result: String,
        status: u16,
        money_moved: bool,
        amount: u64,
        payment_id: Option<&'a str>,
    },
    CheckoutAnswer {
        at_ms: u64,
        told: &'static str,
        latency_ms: f64,
        #[serde(skip_serializing_if = "Option::is_none")]
        detail: Option<&'a str>,
    },
    Webhook {
        at_ms: u64,
        event_id: &'a str,
        #[serde(rename = "type")]
        event_type: &'a str,
        copy: CopyKind,
        attempt: u32,
        status: Option<u16>,
        #[serde(skip_serializing_if = "Option::is_none")]
        error: Option<&'a str>,
        latency_ms: f64,
        dropped: bool,
        reordered: bool,
        delay_ms: u64,
    },
    Final {
        state: FinalState,
        fulfilments: Option<u32>,
    },
}

fn line<'a>(step: &Step<'a>) -> Line<'a> {
    match *step {
        Step::Checkout(c) => Line::Checkout {
            at_ms: c.intended_ms,
            amount: c.amount,
        },
        Step::Call(e) => Line::ProviderCall {
            at_ms: e.at_ms,
            seq: e.seq,
            op: e.op,
            idempotency_key: e.idempotency_key.as_deref(),
            attempt: e.attempt,
            fault: e.fault,
            result: result_label(e.result),
            status: e.status,
            money_moved: e.money_moved,
            amount: e.amount,
            payment_id: e.payment_id.as_deref(),
        },
        Step::Answer(c) => Line::CheckoutAnswer {
            at_ms: c.intended_ms + c.latency_us / 1000,
            told: answer_label(&c.answer),
            latency_ms: c.latency_us as f64 / 1000.0,
            detail: match &c.answer {
                CheckoutAnswer::Error { detail } => Some(detail),
                _ => None,
            },
        },
        Step::Webhook(w) => Line::Webhook {
            at_ms: w.at_ms,
            event_id: &w.event_id,
            event_type: &w.event_type,
            copy: w.copy(),
            attempt: w.attempt,
            status: w.status,
            error: w.error.as_deref(),
            latency_ms: w.latency_us as f64 / 1000.0,
            dropped: w.dropped,
            reordered: w.reordered,
            delay_ms: w.delay_ms,
        },
        Step::Final(s) => Line::Final {
            state: s.map_or(FinalState::Missing, |s| FinalState::of(s.status)),
            fulfilments: s.and_then(|s| s.fulfilments),
        },
    }
}

#[cfg(test)]
mod tests;
