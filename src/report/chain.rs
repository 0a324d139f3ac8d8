//! The short causal chain behind each finding: from the order's history (`history`), the
//! few events that show the violation, one line each, oldest first, the merchant's final
//! state last. Which events matter depends on the check ([`chain`]): for a double charge the
//! charges and their keys, for a lost payment the money taken and what the merchant did with
//! the order, for an accepted forgery the forged copy and the merchant's 2xx. `verify` finds
//! the violations; this module only tells their story. A [`Finding`] is the report's row:
//! the verifier's discrepancy with its chain.

use std::ops::Deref;

use serde::{Deserialize, Serialize};

use crate::domain::{AttemptResult, CheckoutAnswer, FinalState, LedgerEntry, PaymentOp};
use crate::verify::truth::is_hard;
use crate::verify::{answer_label, Check, Discrepancy};

use super::history::Step;

/// Lines of a chain before the final state; the rest are counted (`history.jsonl` has all).
pub const MAX_LINES: usize = 8;

/// One discrepancy as the report lists it: the verifier's finding and its causal chain.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Finding {
    #[serde(flatten)]
    pub discrepancy: Discrepancy,
    /// The events of the order's history that show the violation, oldest first.
    #[serde(default)]
    pub chain: Vec<String>,
}

impl From<Discrepancy> for Finding {
    /// A finding without a chain (no history to tell it from).
    fn from(discrepancy: Discrepancy) -> Finding {
        Finding {
            discrepancy,
            chain: Vec::new(),
        }
    }
}

/// A finding reads as its discrepancy (`f.check`, `f.order_id`, …).
impl Deref for Finding {
    type Target = Discrepancy;
    fn deref(&self) -> &Discrepancy {
        &self.discrepancy
    }
}

impl Finding {
    /// The chain on one line, `a → b → c`.
    pub fn chain_text(&self) -> String {
        self.chain.join(" → ")
    }
}

/// The chain of a `check` violation in an order whose history is `steps` (in time order,
/// as [`super::History::steps`] gives them); empty when the history is.
pub fn chain(check: Check, steps: &[Step]) -> Vec<String> {
    let mut story = Story::default();
    let mut last_money = None;
    for (i, s) in steps.iter().enumerate() {
        if let Step::Call(e) = s {
            if e.op == PaymentOp::Charge && e.money_moved {
                last_money = Some(i);
            }
        }
    }
    for (i, s) in steps.iter().enumerate() {
        let keep = match s {
            Step::Checkout(_) | Step::Final(_) => false,
            _ => keeps(check, s, &story, last_money.is_some_and(|m| i <= m)),
        };
        story.see(s, keep);
    }
    story.finish(steps)
}

/// Whether the chain of a `check` violation tells step `s` (a call, an answer or a webhook);
/// `story` knows the steps before it, `by_last_charge` whether `s` comes no later than the
/// order's last charge that moved money.
fn keeps(check: Check, s: &Step, story: &Story, by_last_charge: bool) -> bool {
    let charge = |e: &LedgerEntry| e.op == PaymentOp::Charge;
    match check {
        // The charges and their keys, up to the last that took money; what the customer heard.
        Check::DoubleCharge => match s {
            Step::Call(e) => charge(e) && by_last_charge,
            Step::Answer(_) => true,
            _ => false,
        },
        // The money taken (and any given back); what the customer heard.
        Check::LostPayment | Check::RefundOwed => match s {
            Step::Call(e) => e.money_moved,
            Step::Answer(_) => true,
            _ => false,
        },
        // Every charge request (none took money), and the webhooks the merchant accepted.
        Check::FreeGoods => match s {
            Step::Call(e) => charge(e),
            Step::Webhook(w) => w.acknowledged(),
            Step::Answer(_) => true,
            _ => false,
        },
        // The faults and declines the customer's reason should have followed.
        Check::WrongReason => match s {
            Step::Call(e) => charge(e) && (e.fault.is_some() || e.declined.is_some()),
            Step::Answer(_) => true,
            _ => false,
        },
        // Every charge request and every genuine delivery: where the outcome was to come from.
        Check::StuckPending => match s {
            Step::Call(e) => charge(e),
            Step::Webhook(w) => !w.is_attack(),
            Step::Answer(_) => true,
            _ => false,
        },
        // The attacker copies the merchant acknowledged.
        Check::ForgedAccepted => matches!(s, Step::Webhook(w) if w.is_attack() && w.acknowledged()),
        // The money, and each genuine delivery the merchant acknowledged.
        Check::DuplicateApplied | Check::OutOfOrder => match s {
            Step::Call(e) => e.money_moved,
            Step::Webhook(w) => !w.is_attack() && w.acknowledged(),
            _ => false,
        },
        // The answered hard decline and every charge request after it.
        Check::HardDeclineRetried => match s {
            Step::Call(e) => charge(e) && story.after_hard_decline(e),
            Step::Answer(_) => true,
            _ => false,
        },
        // Any other check: money moved, faults met, what the customer heard, and webhooks
        // other than a genuine delivery acknowledged.
        #[allow(unreachable_patterns)]
        _ => match s {
            Step::Call(e) => e.money_moved || e.fault.is_some(),
            Step::Webhook(w) => w.is_attack() || !w.acknowledged(),
            Step::Answer(_) => true,
            _ => false,
        },
    }
}

/// The lines chosen so far, and what the earlier charges tell the later ones.
#[derive(Default)]
struct Story {
    lines: Vec<String>,
    /// Lines chosen beyond [`MAX_LINES`].
    more: usize,
    /// Idempotency keys of earlier charge requests.
    keys: Vec<String>,
    /// An earlier charge moved money.
    charged: bool,
    /// An earlier charge answered the merchant with a hard decline.
    hard_declined: bool,
}

impl Story {
    /// Notes step `s`, and tells it when `keep`.
    fn see(&mut self, s: &Step, keep: bool) {
        if keep {
            if self.lines.len() < MAX_LINES {
                let line = self.line(s);
                self.lines.push(line);
            } else {
                self.more += 1;
            }
        }
        if let Step::Call(e) = s {
            if e.op == PaymentOp::Charge {
                if let Some(k) = &e.idempotency_key {
                    if !self.keys.contains(k) {
                        self.keys.push(k.clone());
                    }
                }
                self.charged |= e.money_moved;
                if let AttemptResult::Declined(r) = e.result {
                    self.hard_declined |= is_hard(r);
                }
            }
        }
    }

    /// Whether `e` is the answered hard decline or a charge request after it.
    fn after_hard_decline(&self, e: &LedgerEntry) -> bool {
        self.hard_declined || matches!(e.result, AttemptResult::Declined(r) if is_hard(r))
    }

    fn line(&self, s: &Step) -> String {
        match s {
            Step::Call(e) => self.call(e),
            Step::Answer(c) => {
                let at = c.intended_ms + c.latency_us / 1000;
                match &c.answer {
                    CheckoutAnswer::Error { detail } => format!("{at} ms checkout error: {detail}"),
                    a => format!("{at} ms told {}", answer_label(a)),
                }
            }
            Step::Webhook(w) => {
                let answer = match (w.dropped, w.status, &w.error) {
                    (true, _, _) => "dropped by chaos".to_string(),
                    (_, Some(s), _) if w.acknowledged() => format!("acknowledged {s}"),
                    (_, Some(s), _) => format!("answered {s}"),
                    (_, None, Some(e)) => format!("failed: {e}"),
                    (_, None, None) => "no answer".to_string(),
                };
                format!(
                    "{} ms webhook {} {} ({} copy, attempt {}): {answer}",
                    w.at_ms,
                    w.event_type,
                    w.event_id,
                    w.copy().as_str(),
                    w.attempt
                )
            }
            Step::Checkout(c) => format!("{} ms checkout of {}", c.intended_ms, c.amount),
            Step::Final(s) => final_line(*s),
        }
    }

    /// `105 ms charge attempt 1 key K (new key): timeout_after_charge, money moved (1234,
    /// pi_…), answer lost`.
    fn call(&self, e: &LedgerEntry) -> String {
        let op = crate::domain::label(&e.op);
        let key = match &e.idempotency_key {
            Some(k) if e.op == PaymentOp::Charge && !self.keys.is_empty() => {
                let new = if self.keys.contains(k) {
                    ""
                } else {
                    " (new key)"
                };
                format!(" key {k}{new}")
            }
            Some(k) => format!(" key {k}"),
            None => " without a key".to_string(),
        };
        let money = || {
            let pid = e.payment_id.as_deref().unwrap_or("no payment id");
            format!("{}, {pid}", e.amount)
        };
        let what = match e.result {
            AttemptResult::Ok if e.money_moved && e.op == PaymentOp::Refund => {
                format!("refunded ({})", money())
            }
            AttemptResult::Ok if e.money_moved && self.charged => {
                format!("charged again ({})", money())
            }
            AttemptResult::Ok if e.money_moved => format!("charged ({})", money()),
            AttemptResult::Ok if e.op == PaymentOp::Charge => "ok, no money moved".into(),
            AttemptResult::Ok => "answered".into(),
            AttemptResult::AnswerLost => match (e.declined, e.money_moved) {
                (Some(r), _) => format!("declined {}, answer lost", r.as_str()),
                (None, true) if self.charged => {
                    format!("charged again ({}), answer lost", money())
                }
                (None, true) => format!("money moved ({}), answer lost", money()),
                (None, false) => "answer lost".into(),
            },
            AttemptResult::Declined(r) => format!("declined {} ({})", r.as_str(), e.status),
            AttemptResult::Dropped => "dropped, nothing moved".into(),
            AttemptResult::ServerError => format!("{}, nothing moved", e.status),
            AttemptResult::RateLimited => format!("{} rate limited, nothing moved", e.status),
            AttemptResult::Replayed => format!("replayed the saved answer ({})", e.status),
            AttemptResult::InFlightConflict => format!("{}: the key is in flight", e.status),
            AttemptResult::IdempotencyMismatch => {
                format!("{}: the key was used with other parameters", e.status)
            }
            AttemptResult::Invalid => format!("refused ({})", e.status),
        };
        let fault = e
            .fault
            .map_or(String::new(), |f| format!("{}, ", f.as_str()));
        format!(
            "{} ms {op} attempt {}{key}: {fault}{what}",
            e.at_ms, e.attempt
        )
    }

    /// The lines, a count of those left out, and the final state.
    fn finish(mut self, steps: &[Step]) -> Vec<String> {
        if self.more > 0 {
            self.lines
                .push(format!("… {} more in history.jsonl", self.more));
        }
        if let Some(Step::Final(s)) = steps.last() {
            self.lines.push(final_line(*s));
        }
        self.lines
    }
}

/// `final paid`, `final paid, fulfilled 2 times`, `final missing from the merchant's export`.
fn final_line(s: Option<&crate::domain::OrderSnapshot>) -> String {
    match s {
        None => format!(
            "final {} from the merchant's export",
            FinalState::Missing.as_str()
        ),
        Some(s) => {
            let state = FinalState::of(s.status).as_str();
            match s.fulfilments {
                Some(n) if n > 1 => format!("final {state}, fulfilled {n} times"),
                _ => format!("final {state}"),
            }
        }
    }
}

#[cfg(test)]
mod tests;
