//! The gateway's pay, decided under the provider's lock like `exec`: a charge keyed by the
//! merchant's order number (`out_trade_no`), one trade (intent) per order. It only picks the
//! target and the idempotency key; faults, the idempotency layer and execution are `exec`'s
//! charge, shared with the Stripe dialect.

use crate::domain::FailReason;
use crate::provider::dialects::gateway::{pay_key, PAYMENT_METHOD};
use crate::provider::dialects::NewIntent;
use crate::provider::exec::{Ctx, Gate, Plan, State, Target};
use crate::provider::ledger::Intent;

impl State {
    /// Pays the trade of `p`'s order. No trade yet: create and charge it under the key
    /// `out_trade_no`. A trade left open by a channel error (a soft decline), asked for with
    /// the same parameters: charge it again under the next key (`{out_trade_no}#{n}`, n the
    /// charges so far). Any other trade (paid, closed, or asked for with other parameters):
    /// present the key of the charge that settled it, so the idempotency layer replays its
    /// answer, answers 202 while it is in flight, or refuses other parameters.
    pub(super) fn pay(&mut self, ctx: &Ctx, p: NewIntent, gate: Gate) -> Plan {
        let order = p.metadata.get("order_id").cloned().unwrap_or_default();
        // The gateway's pay never makes a second trade for an order: the last is the one.
        let trade = self.ledger.find("order_id", &order).pop();
        let Some(it) = trade else {
            let key = pay_key(&order, 0);
            let gate = Gate {
                key: Some(&key),
                ..gate
            };
            return self.charge(ctx, Target::New(p), gate);
        };
        let n = if reopens(&it, &p) {
            it.charges
        } else {
            it.charges.saturating_sub(1)
        };
        let key = pay_key(&order, n);
        let gate = Gate {
            key: Some(&key),
            ..gate
        };
        let target = Target::Existing {
            id: it.id,
            payment_method: Some(PAYMENT_METHOD.to_string()),
            card: None,
            return_url: None,
        };
        self.charge(ctx, target, gate)
    }
}

/// Whether a pay of `p` charges trade `it` again: its last charge failed softly (a channel
/// error left it open) and `p` asks for the same amount, currency and merchant.
fn reopens(it: &Intent, p: &NewIntent) -> bool {
    let soft = it.status.can_confirm()
        && it
            .last_error
            .as_ref()
            .is_some_and(|d| d.reason == FailReason::ProviderError);
    soft && it.amount == p.amount
        && it.currency == p.currency
        && it.metadata.get("merchant_id") == p.metadata.get("merchant_id")
}
