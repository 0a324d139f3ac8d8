//! Intent steps beyond the charge, decided under the provider's lock like `exec`: 3D Secure
//! holds, update, capture (where a manual-capture payment's money moves), cancel (recorded
//! as a void: a Refund entry that moves no money), reads of charges and events, and the
//! last touches of every plan (`latest_charge` expansion, numbering of repeated events).

use std::ops::ControlFlow;
use std::time::Duration;

use crate::chaos::{FaultKind, FaultOp};
use crate::domain::{Amount, AttemptResult, PaymentOp};
use crate::provider::dialects::{Answer, ApiError, EventKind, IntentUpdate, NewRefund};
use crate::provider::events::EventQuery;
use crate::provider::exec::{Ctx, Gate, Gated, Plan, Reply, State};
use crate::provider::ledger::{Draft, IntentStatus, Ledger};

impl State {
    /// How many events of `kind` intent `id` had before this one (see `EventLog::reserve`).
    pub(super) fn reserve_event(&mut self, id: &str, kind: EventKind) -> u32 {
        // Every event is about an intent the ledger holds: it was just decided on.
        self.ledger
            .number_of(id)
            .map_or(0, |i| self.events.reserve(i, kind))
    }

    /// Numbers the plan's event among its intent's events of that kind, and expands
    /// `latest_charge` when the request asked for it.
    pub(super) fn finish_plan(&mut self, plan: &mut Plan, expand: &[String]) {
        let Reply::Fresh(answer) = &mut plan.reply else {
            return;
        };
        if let (Some(kind), Some(it)) = (plan.event, answer.intent()) {
            plan.event_nth = self.reserve_event(&it.id, kind);
        }
        if !expand.iter().any(|x| x == "latest_charge") {
            return;
        }
        let expanded = match answer {
            Answer::Intent(it) => it
                .latest_charge
                .as_deref()
                .and_then(|c| self.ledger.charge(c))
                .map(|c| Answer::IntentWithCharge(it.clone(), Box::new(c.clone()))),
            _ => None,
        };
        if let Some(a) = expanded {
            *answer = a;
        }
    }

    /// A confirm whose card needs 3D Secure: no charge yet, the intent waits for the
    /// customer (`requires_action`); nothing moved.
    pub(super) fn require_action(
        &mut self,
        ctx: &Ctx,
        i: usize,
        mut e: Draft,
        mut plan: Plan,
    ) -> Plan {
        let it = self.ledger.at_mut(i);
        it.status = IntentStatus::RequiresAction;
        it.last_error = None;
        it.challenge_url = ctx.dialect.challenge_url(ctx.base, it);
        e.payment_id = Some(it.id.clone());
        e.result = AttemptResult::Ok;
        let answer = Answer::Intent(Box::new(it.clone()));
        e.status = ctx.dialect.status(&answer);
        plan.event = Some(EventKind::RequiresAction);
        plan.reply = Reply::Fresh(answer);
        let lost = plan.lost;
        self.finish(ctx, e, lost);
        plan
    }

    /// Names the intent of a refund given by `charge` (and checks both agree).
    pub(super) fn refund_target(&self, r: &mut NewRefund) -> Result<(), ApiError> {
        let Some(ch) = &r.charge else {
            return Ok(());
        };
        let c = self
            .ledger
            .charge(ch)
            .ok_or_else(|| ApiError::NoSuchObject {
                object: "charge",
                id: ch.clone(),
                param: Some("charge"),
            })?;
        if r.payment_intent.is_empty() {
            r.payment_intent = c.payment_intent.clone();
        } else if r.payment_intent != c.payment_intent {
            return Err(ApiError::InvalidParam {
                param: "charge".into(),
                expected: "a charge of the payment_intent given",
                got: ch.clone(),
            });
        }
        Ok(())
    }

    /// `POST /v1/payment_intents/{id}`: metadata and description any time; amount,
    /// currency, payment method, capture method and customer only before confirmation.
    pub(super) fn update(&mut self, ctx: &Ctx, id: &str, u: IntentUpdate, gate: Gate) -> Plan {
        self.write_intent(ctx, PaymentOp::Query, None, id, gate, |ledger, i, _| {
            let it = ledger.at_mut(i);
            if u.changes_payment() && !it.status.can_confirm() {
                let error = ApiError::UnexpectedState {
                    id: it.id.clone(),
                    status: it.status,
                    action: "update",
                };
                return (Answer::Error(error), None);
            }
            let old_order = it.order_id().map(str::to_string);
            u.metadata.apply(&mut it.metadata);
            it.amount = u.amount.unwrap_or(it.amount);
            if let Some(c) = &u.currency {
                it.currency.clone_from(c);
            }
            for (field, v) in [
                (&mut it.capture_method, &u.capture_method),
                (&mut it.description, &u.description),
                (&mut it.customer, &u.customer),
            ] {
                if v.is_some() {
                    field.clone_from(v);
                }
            }
            if u.payment_method.is_some() {
                it.payment_method = u.payment_method.clone();
                it.status = IntentStatus::RequiresConfirmation;
            }
            let answer = Answer::Intent(Box::new(it.clone()));
            ledger.reindex_order(i, old_order.as_deref());
            (answer, None)
        })
    }

    /// `POST /v1/payment_intents/{id}/capture`: takes the authorised money (all, or
    /// `amount_to_capture`). Recorded as the Charge that moves it.
    pub(super) fn capture(
        &mut self,
        ctx: &Ctx,
        id: &str,
        amount_to_capture: Option<Amount>,
        gate: Gate,
    ) -> Plan {
        let capture = Some(FaultOp::Capture);
        self.write_intent(ctx, PaymentOp::Charge, capture, id, gate, |ledger, i, e| {
            let it = ledger.at_mut(i);
            if it.status != IntentStatus::RequiresCapture {
                let error = ApiError::UnexpectedState {
                    id: it.id.clone(),
                    status: it.status,
                    action: "capture",
                };
                return (Answer::Error(error), None);
            }
            let amount = amount_to_capture.unwrap_or(it.amount_capturable);
            if amount > it.amount_capturable {
                let error = ApiError::CaptureTooLarge {
                    amount,
                    capturable: it.amount_capturable,
                };
                return (Answer::Error(error), None);
            }
            it.status = IntentStatus::Succeeded;
            it.amount_capturable = 0;
            it.amount_received = amount;
            let answer = Answer::Intent(Box::new(it.clone()));
            if let Some(c) = ledger.latest_charge_mut(i) {
                c.captured = true;
                c.amount_captured = amount;
            }
            e.amount = amount;
            e.money_moved = true;
            (answer, Some(EventKind::Succeeded))
        })
    }

    /// `POST /v1/payment_intents/{id}/cancel`: allowed until the money moved; releases an
    /// authorisation. Recorded as a void (a Refund entry that moves no money).
    pub(super) fn cancel(
        &mut self,
        ctx: &Ctx,
        id: &str,
        reason: Option<String>,
        gate: Gate,
    ) -> Plan {
        let capture = Some(FaultOp::Capture);
        self.write_intent(ctx, PaymentOp::Refund, capture, id, gate, |ledger, i, e| {
            let now = ledger.now;
            let it = ledger.at_mut(i);
            if !it.status.can_cancel() {
                let error = ApiError::UnexpectedState {
                    id: it.id.clone(),
                    status: it.status,
                    action: "cancel",
                };
                return (Answer::Error(error), None);
            }
            let released = it.amount_capturable;
            it.status = IntentStatus::Canceled;
            it.amount_capturable = 0;
            it.canceled_at = Some(now);
            it.cancellation_reason = reason;
            let answer = Answer::Intent(Box::new(it.clone()));
            if released > 0 {
                if let Some(c) = ledger.latest_charge_mut(i) {
                    c.released = true;
                }
            }
            e.amount = released;
            (answer, Some(EventKind::Canceled))
        })
    }

    /// One write on intent `id`: an unknown id is refused before the idempotency layer;
    /// otherwise the key is checked, `exec` runs (returning the answer and the event it
    /// creates), and the entry is recorded as `op`, its answer saved under the key. Faults
    /// that target `faulted` come before the key check (`timeout_after_charge`: executed,
    /// answer saved and lost).
    #[allow(clippy::too_many_arguments)]
    fn write_intent(
        &mut self,
        ctx: &Ctx,
        op: PaymentOp,
        faulted: Option<FaultOp>,
        id: &str,
        gate: Gate,
        exec: impl FnOnce(&mut Ledger, usize, &mut Draft) -> (Answer, Option<EventKind>),
    ) -> Plan {
        let Some(i) = self.ledger.index(id) else {
            let error = ApiError::NoSuchIntent { id: id.to_string() };
            return self.refuse(ctx, op, error);
        };
        let mut e = self.intent_draft(op, i, gate.key);
        if let Some(fop) = faulted {
            e.fault = self.op_fault(ctx, fop, e.order_id.as_deref());
        }
        let mut e = match self.stopped(ctx, e, Duration::ZERO) {
            ControlFlow::Continue(e) => e,
            ControlFlow::Break(plan) => return plan,
        };
        let lost = e.fault == Some(FaultKind::TimeoutAfterCharge);
        let save = match gate.check(&mut self.keys, &self.ledger, ctx) {
            Gated::Go(save) => save,
            Gated::Stop(reply, result, status) => {
                (e.result, e.status) = (result, status);
                self.finish(ctx, e, lost);
                return Plan::new(reply, Duration::ZERO, lost);
            }
        };
        let (answer, event) = exec(&mut self.ledger, i, &mut e);
        if matches!(answer, Answer::Error(_)) {
            e.result = AttemptResult::Invalid;
            e.money_moved = false;
        }
        e.status = ctx.dialect.status(&answer);
        self.finish(ctx, e, lost);
        let mut plan = Plan::new(Reply::Fresh(answer), Duration::ZERO, lost);
        plan.save = save;
        plan.event = event;
        plan
    }

    /// An entry about intent `i`, numbered among its order's `op` requests.
    fn intent_draft(&mut self, op: PaymentOp, i: usize, key: Option<&str>) -> Draft {
        let it = self.ledger.at(i);
        let order = it.order_id().map(str::to_string);
        let mut e = Draft::new(
            op,
            order.clone(),
            Some(it.id.clone()),
            it.amount,
            it.currency.clone(),
        );
        e.key = key.map(str::to_string);
        e.attempt = order.as_deref().map_or(0, |o| self.ledger.bump(o, op));
        e
    }

    /// `GET /v1/charges/{id}`.
    pub(super) fn retrieve_charge(&mut self, ctx: &Ctx, id: &str) -> Plan {
        let found = self.ledger.charge(id).cloned();
        let payment = found
            .as_ref()
            .and_then(|c| self.ledger.index(&c.payment_intent));
        let answer = match found {
            Some(c) => Answer::Charge(Box::new(c)),
            None => Answer::Error(ApiError::NoSuchObject {
                object: "charge",
                id: id.to_string(),
                param: None,
            }),
        };
        self.record_read(ctx, payment, answer)
    }

    /// `GET /v1/events`.
    pub(super) fn list_events(&mut self, ctx: &Ctx, q: &EventQuery) -> Plan {
        let answer = match self.events.page(q, |l| self.event_body(l)) {
            Ok(page) => Answer::Events(page),
            Err(e) => Answer::Error(e),
        };
        self.record_read(ctx, None, answer)
    }

    /// `GET /v1/events/{id}`.
    pub(super) fn retrieve_event(&mut self, ctx: &Ctx, id: &str) -> Plan {
        let found = self.events.get(id);
        let payment = found.and_then(|l| self.event_intent(l));
        let answer = match found {
            Some(l) => Answer::Event(self.event_body(l)),
            None => Answer::Error(ApiError::NoSuchObject {
                object: "event",
                id: id.to_string(),
                param: None,
            }),
        };
        self.record_read(ctx, payment, answer)
    }

    /// Records a read (a Query) about intent `i`, if known, and answers it.
    fn record_read(&mut self, ctx: &Ctx, i: Option<usize>, answer: Answer) -> Plan {
        let e = match i {
            Some(i) => self.intent_draft(PaymentOp::Query, i, None),
            None => Draft::new(PaymentOp::Query, None, None, 0, String::new()),
        };
        self.read(ctx, e, answer)
    }
}

#[cfg(test)]
mod tests;
