//! One request's pass through the provider, under the lock: transport faults (on every
//! operation a fault kind targets, see [`State::op_fault`]), then the idempotency layer,
//! then execution against the ledger, recorded as one entry. Returns a
//! [`Plan`] the server carries out after releasing the lock (sleep, save, answer or drop).

use std::collections::HashMap;
use std::ops::ControlFlow;
use std::time::Duration;

use bytes::Bytes;

use crate::chaos::{chaos_key, Chaos, FaultKind, FaultOp};
use crate::domain::card::RawCard;
use crate::domain::sizing;
use crate::domain::{AttemptResult, FailReason, PaymentOp};
use crate::provider::cards::{self, DeclineCode, TestCard};
use crate::provider::challenge::{self, ChallengeConfig};
use crate::provider::dialects::{
    Answer, ApiError, Call, Decoded, Dialect, EventKind, NewIntent, NewRefund,
};
use crate::provider::events::EventLog;
use crate::provider::idempotency::{Begin, Fingerprint, IdempotencyStore};
use crate::provider::ledger::{Draft, IntentStatus, Ledger};
use crate::provider::rerender;
use crate::provider::retention::{Evicted, Retention};

/// What [`State::apply`] needs to know about the moment and the run.
#[derive(Clone, Copy, Debug)]
pub struct Ctx<'a> {
    pub chaos: &'a Chaos,
    /// The scenario's dialect, which gives each answer its status.
    pub dialect: &'static dyn Dialect,
    /// Run time of arrival (since the origin).
    pub at: Duration,
    /// Wall clock, unix seconds, for `created` fields.
    pub unix: u64,
    /// The provider's own address (`http://127.0.0.1:port`), which challenge pages are
    /// served under.
    pub base: &'a str,
    /// The `faults.requires_action` rate and the challenge expiry.
    pub challenge: ChallengeConfig,
}

/// How the server must answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Reply {
    /// Hold for the configured time, then close the connection without an answer.
    Drop,
    /// Reset the connection (RST) at once, without an answer (`reset`).
    Reset,
    /// Send a saved answer again, marked as replayed.
    Replay { status: u16, body: Bytes },
    /// Render and send this.
    Fresh(Answer),
    /// A `late_charge`: nothing has executed yet. Hold, then run [`State::execute_late`]
    /// (whether or not the client is still there) and close the connection without an answer.
    Late(Box<Late>),
}

/// A charge accepted by the idempotency layer whose execution waits for the end of the hold.
/// Its key stays in flight (retries get 409) and nothing is recorded or visible until then.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Late {
    target: Target,
    draft: Draft,
    save: Option<String>,
}

/// The decision for one request, taken under the lock and carried out after it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Plan {
    pub reply: Reply,
    /// Injected latency to sleep before answering (while the key stays in flight).
    pub latency: Duration,
    /// The answer is lost: after saving it, hold and close the connection without it.
    pub lost: bool,
    /// Save the rendered answer under this idempotency key once the latency has passed.
    pub save: Option<String>,
    /// The event the execution created; its intent is the one in the answer.
    pub event: Option<EventKind>,
    /// Events of that kind for that intent before this one (numbers repeats' ids).
    pub event_nth: u32,
}

impl Plan {
    pub(super) fn new(reply: Reply, latency: Duration, lost: bool) -> Plan {
        Plan {
            reply,
            latency,
            lost,
            save: None,
            event: None,
            event_nth: 0,
        }
    }

    fn answer(answer: Answer) -> Plan {
        Plan::new(Reply::Fresh(answer), Duration::ZERO, false)
    }
}

/// The ledger and the idempotency keys: they change together, under one lock.
#[derive(Debug, Default)]
pub struct State {
    pub ledger: Ledger,
    pub keys: IdempotencyStore,
    /// Every event created, for `GET /v1/events` (recorded by the server once rendered).
    pub events: EventLog,
    /// When set, only the newest records are kept (`retention`); `None` keeps all.
    pub retention: Option<Retention>,
    /// What the retention has forgotten so far.
    pub evicted: Evicted,
    /// Requests so far per order of the operations other than the charge (refund, query,
    /// capture), the attempt numbers their faults are keyed by. Counted only while some
    /// kind targets the operation; the charge's numbers are the ledger's.
    op_attempts: HashMap<String, [u32; 3]>,
    /// Velocity rules against card testing (`[provider.velocity]`); `None`: off.
    pub velocity: Option<crate::provider::velocity::Velocity>,
    /// Payment methods the merchant created from raw card numbers.
    payment_methods: crate::provider::payment_methods::PaymentMethods,
    /// The dialect that renders saved answers and logged events again from their intent's
    /// version (`rerender`); `None` keeps them as rendered.
    pub rerender: Option<&'static dyn Dialect>,
}

impl State {
    pub fn new() -> State {
        State::default()
    }

    /// A state with room for `orders` orders' records (`domain::sizing::per_order`).
    pub fn with_capacity(orders: usize) -> State {
        State {
            ledger: Ledger::with_capacity(orders),
            keys: IdempotencyStore::with_capacity(orders),
            events: EventLog::with_capacity(orders),
            retention: None,
            evicted: Evicted::default(),
            op_attempts: HashMap::default(),
            velocity: None,
            payment_methods: Default::default(),
            rerender: None,
        }
    }

    /// A state that keeps only what `r` says, sized for it up front (capped as `sizing`
    /// caps a plan).
    pub fn bounded(r: Retention) -> State {
        let n = sizing::per_order(r.payments as u64);
        State {
            keys: IdempotencyStore::bounded(n),
            retention: Some(r),
            ..State::with_capacity(n)
        }
    }

    /// Applies the retention, if any, after a request changed the records.
    fn bound(&mut self) {
        if let Some(r) = self.retention {
            self.retain(r);
        }
    }

    /// Records a request refused before execution (malformed, unknown object).
    pub fn refuse(&mut self, ctx: &Ctx, op: PaymentOp, error: ApiError) -> Plan {
        let answer = Answer::Error(error);
        let mut e = Draft::new(op, None, None, 0, String::new());
        e.result = AttemptResult::Invalid;
        e.status = ctx.dialect.status(&answer);
        self.ledger.record(ctx.at, e);
        self.bound();
        Plan::answer(answer)
    }

    /// Runs one decoded request: faults, idempotency, execution; records it.
    pub fn apply(&mut self, ctx: &Ctx, req: Decoded, key: Option<&str>) -> Plan {
        let Decoded {
            call,
            fingerprint,
            endpoint,
            expand,
            key: own_key,
        } = req;
        // A header key wins over one the request carries (the gateway's out_request_no).
        let key = key.or(own_key.as_deref());
        self.ledger.now = ctx.unix;
        let gate = Gate {
            key,
            fingerprint,
            endpoint: &endpoint,
        };
        let mut plan = match self.with_created_card(call) {
            Call::CreateIntent(p) if p.confirm => self.charge(ctx, Target::New(p), gate),
            Call::CreateIntent(p) => self.create(ctx, p, gate),
            Call::ConfirmIntent {
                id,
                payment_method,
                card,
                return_url,
            } => {
                let target = Target::Existing {
                    id,
                    payment_method,
                    card,
                    return_url,
                };
                self.charge(ctx, target, gate)
            }
            Call::RetrieveIntent { id } => self.retrieve(ctx, &id),
            Call::SearchIntents { key, value } => self.search(ctx, &key, &value),
            Call::CreateRefund(r) => self.refund(ctx, r, gate),
            Call::UpdateIntent { id, update } => self.update(ctx, &id, update, gate),
            Call::CaptureIntent {
                id,
                amount_to_capture,
            } => self.capture(ctx, &id, amount_to_capture, gate),
            Call::CancelIntent { id, reason } => self.cancel(ctx, &id, reason, gate),
            Call::RetrieveCharge { id } => self.retrieve_charge(ctx, &id),
            Call::ListEvents(q) => self.list_events(ctx, &q),
            Call::RetrieveEvent { id } => self.retrieve_event(ctx, &id),
            Call::Pay(p) => self.pay(ctx, p, gate),
            Call::CreatePaymentMethod {
                payment_method,
                card,
            } => self.create_payment_method(ctx, payment_method, card),
        };
        self.finish_plan(&mut plan, &expand);
        self.bound();
        plan
    }

    /// `call` with a payment method created here from a raw number replaced by the test
    /// payment method it behaves as, and the raw card recorded for the charge.
    fn with_created_card(&self, mut call: Call) -> Call {
        let (pm, card) = match &mut call {
            Call::CreateIntent(p) => (&mut p.payment_method, &mut p.card),
            Call::ConfirmIntent {
                payment_method,
                card,
                ..
            } => (payment_method, card),
            _ => return call,
        };
        if card.is_none() {
            if let Some((behaves_as, raw)) = self.payment_methods.resolve(pm.as_deref()) {
                *pm = Some(behaves_as);
                *card = Some(raw);
            }
        }
        call
    }

    /// `POST /v1/payment_methods`: recorded as a read that saw a raw card number.
    fn create_payment_method(&mut self, ctx: &Ctx, behaves_as: String, card: RawCard) -> Plan {
        let seq = self.ledger.next_seq();
        let pm = self
            .payment_methods
            .create(behaves_as, card, seq, ctx.at, ctx.unix);
        let mut e =
            crate::provider::ledger::Draft::new(PaymentOp::Query, None, None, 0, String::new());
        e.raw_card = Some(pm.card.clone());
        self.read(ctx, e, Answer::PaymentMethod(Box::new(pm)))
    }

    /// A Charge: create-and-confirm, or confirm of an existing intent.
    pub(super) fn charge(&mut self, ctx: &Ctx, target: Target, gate: Gate) -> Plan {
        // Pre-execution checks: nothing counted, nothing stored.
        let (order_id, payment_id, amount, currency) = match &target {
            Target::New(p) => (
                p.metadata.get("order_id").cloned(),
                None,
                p.amount,
                p.currency.clone(),
            ),
            Target::Existing {
                id, payment_method, ..
            } => {
                let Some(it) = self.ledger.intent(id) else {
                    let error = ApiError::NoSuchIntent { id: id.clone() };
                    return self.refuse(ctx, PaymentOp::Charge, error);
                };
                if payment_method.is_none()
                    && it.payment_method.is_none()
                    && it.status.can_confirm()
                {
                    let param = "payment_method".to_string();
                    return self.refuse(ctx, PaymentOp::Charge, ApiError::MissingParam { param });
                }
                let order = it.order_id().map(str::to_string);
                (order, Some(id.clone()), it.amount, it.currency.clone())
            }
        };
        let order = order_id.as_deref();
        let n = order.map_or(0, |o| self.ledger.bump(o, PaymentOp::Charge));
        let mut e = Draft::new(
            PaymentOp::Charge,
            order_id.clone(),
            payment_id,
            amount,
            currency,
        );
        e.key = gate.key.map(str::to_string);
        e.attempt = n;
        e.raw_card = match &target {
            Target::New(p) => p.card.clone(),
            Target::Existing { card, .. } => card.clone(),
        };
        e.card = crate::domain::card::fingerprint(match &target {
            Target::New(p) => p.payment_method.as_deref(),
            Target::Existing { payment_method, .. } => payment_method.as_deref(),
        });

        // Transport faults come first: they are injected before the idempotency layer.
        let fault = order.and_then(|o| ctx.chaos.attempt(o, n, ctx.at));
        // Formatting the latency key costs an allocation: skip it when no latency is set.
        // Keyed by the order's chaos key, as every decision about the order is.
        let latency = match order {
            Some(o) if ctx.chaos.plan.latency_at(ctx.at).is_some() => {
                ctx.chaos.latency(&format!("{}#{n}", chaos_key(o)), ctx.at)
            }
            _ => Duration::ZERO,
        };
        e.fault = fault;
        match self.stopped(ctx, e, latency) {
            ControlFlow::Continue(e) => self.charge_gated(ctx, target, gate, e, latency),
            ControlFlow::Break(plan) => plan,
        }
    }

    /// The transport fault for this request of `op` (not the charge, whose draw is in
    /// [`State::charge`]) about `order`, numbered among that order's `op` requests. Nothing
    /// is counted or drawn while no kind targets `op`.
    pub(super) fn op_fault(
        &mut self,
        ctx: &Ctx,
        op: FaultOp,
        order: Option<&str>,
    ) -> Option<FaultKind> {
        let order = order?;
        if op == FaultOp::Charge || !ctx.chaos.targets(op) {
            return None;
        }
        let slot = match self.op_attempts.get_mut(order) {
            Some(c) => c,
            None => self.op_attempts.entry(order.to_string()).or_default(),
        };
        let i = op as usize - 1;
        let n = slot[i];
        slot[i] += 1;
        ctx.chaos.attempt_on(op, order, n, ctx.at)
    }

    /// Carries out a fault of `e` that stops its request before the idempotency layer
    /// (recording `e`), or gives `e` back to go on when there is none.
    pub(super) fn stopped(
        &mut self,
        ctx: &Ctx,
        mut e: Draft,
        latency: Duration,
    ) -> ControlFlow<Plan, Draft> {
        let (error, result) = match e.fault {
            Some(FaultKind::Timeout) => {
                e.result = AttemptResult::Dropped;
                self.ledger.record(ctx.at, e);
                return ControlFlow::Break(Plan::new(Reply::Drop, Duration::ZERO, false));
            }
            Some(FaultKind::Reset) => {
                // Recorded like a dropped request: nothing executed, no answer sent.
                e.result = AttemptResult::Dropped;
                self.ledger.record(ctx.at, e);
                return ControlFlow::Break(Plan::new(Reply::Reset, Duration::ZERO, false));
            }
            Some(FaultKind::ServerError) => (ApiError::ServerError, AttemptResult::ServerError),
            Some(FaultKind::RateLimit) => (ApiError::RateLimited, AttemptResult::RateLimited),
            _ => return ControlFlow::Continue(e),
        };
        let answer = Answer::Error(error);
        e.result = result;
        e.status = ctx.dialect.status(&answer);
        self.ledger.record(ctx.at, e);
        ControlFlow::Break(Plan::new(Reply::Fresh(answer), latency, false))
    }

    /// The rest of a Charge that no fault stopped before the idempotency layer.
    fn charge_gated(
        &mut self,
        ctx: &Ctx,
        target: Target,
        gate: Gate,
        mut e: Draft,
        latency: Duration,
    ) -> Plan {
        // A late charge whose key is refused is dropped like a lost answer.
        let lost = matches!(
            e.fault,
            Some(FaultKind::TimeoutAfterCharge | FaultKind::LateCharge)
        );
        let save = match gate.check(&mut self.keys, &self.ledger, ctx) {
            Gated::Go(save) => save,
            Gated::Stop(reply, result, status) => {
                if e.payment_id.is_none() {
                    e.payment_id = e
                        .order_id
                        .as_deref()
                        .map(|o| {
                            let key = gate.key.unwrap_or("");
                            self.ledger.order_payment_id(ctx.chaos.seed, o, key)
                        })
                        .filter(|id| self.ledger.intent(id).is_some());
                }
                e.result = result;
                e.status = status;
                self.finish(ctx, e, lost);
                return Plan::new(reply, latency, lost);
            }
        };
        if e.fault == Some(FaultKind::LateCharge) {
            let late = Late {
                target,
                draft: e,
                save,
            };
            return Plan::new(Reply::Late(Box::new(late)), Duration::ZERO, false);
        }
        self.execute(ctx, target, e, save, latency, lost)
    }

    /// Runs a late charge at the end of its hold, recorded at that time with its lost answer.
    /// The answer is saved under its key; the client is gone by then.
    pub fn execute_late(&mut self, ctx: &Ctx, late: Late) -> Plan {
        let Late {
            target,
            draft,
            save,
        } = late;
        let mut plan = self.execute(ctx, target, draft, save, Duration::ZERO, true);
        // Numbered among its intent's events like any other, so a second event of a kind
        // gets an id of its own.
        self.finish_plan(&mut plan, &[]);
        self.bound();
        plan
    }

    /// Executes a charge that passed the idempotency layer: meets the card (or the injected
    /// processing error), settles the intent, records the entry.
    fn execute(
        &mut self,
        ctx: &Ctx,
        target: Target,
        mut e: Draft,
        save: Option<String>,
        latency: Duration,
        lost: bool,
    ) -> Plan {
        let mut plan = Plan::new(Reply::Drop, latency, lost);
        plan.save = save;
        let i = match target {
            Target::New(p) => {
                self.ledger
                    .create_intent(ctx.chaos.seed, ctx.unix, p, e.key.as_deref())
            }
            Target::Existing {
                id,
                payment_method,
                return_url,
                ..
            } => {
                // Intents are never removed, and this one was found before execution.
                let i = self
                    .ledger
                    .index(&id)
                    .expect("intent found before execution");
                let it = self.ledger.at_mut(i);
                if !it.status.can_confirm() {
                    let answer = Answer::Error(ApiError::UnexpectedState {
                        id,
                        status: it.status,
                        action: "confirm",
                    });
                    e.result = AttemptResult::Invalid;
                    e.status = ctx.dialect.status(&answer);
                    plan.reply = Reply::Fresh(answer);
                    self.finish(ctx, e, lost);
                    return plan;
                }
                if payment_method.is_some() {
                    it.payment_method = payment_method;
                }
                if return_url.is_some() {
                    it.return_url = return_url;
                }
                i
            }
        };
        // A test card decides its own outcome; an ordinary card meets the order's chaos.
        let card = cards::test_card(self.ledger.at(i).payment_method.as_deref());
        let card = challenge::forced(ctx, card, e.order_id.as_deref());
        let sticky = e
            .order_id
            .as_deref()
            .filter(|_| card == TestCard::Ordinary)
            .and_then(|o| ctx.chaos.sticky(o, ctx.at));
        // A processing error fails the attempt before the card is asked: a soft decline
        // (`processing_error`), whatever the card would have said. Otherwise a test card
        // decides its own outcome and an ordinary card meets the order's chaos.
        let decline = if e.fault == Some(FaultKind::ProcessingError) {
            Some((DeclineCode::ProcessingError, FailReason::ProviderError))
        } else {
            match card {
                TestCard::Decline(code) => Some((code, code.reason())),
                _ => sticky.map(|kind| {
                    let reason = match kind {
                        FaultKind::RiskBlock => FailReason::RiskBlocked,
                        _ => FailReason::InsufficientFunds,
                    };
                    (DeclineCode::from_reason(reason), reason)
                }),
            }
        };
        // Behaviour rules come after the card: a tester's attempt is judged whatever card.
        let decline = match &mut self.velocity {
            Some(v) => {
                let it = self.ledger.at(i);
                v.gate(ctx.at, &it.metadata, it.payment_method.as_deref(), decline)
                    .0
            }
            None => decline,
        };
        if card == TestCard::RequiresAction && decline.is_none() {
            return self.require_action(ctx, i, e, plan);
        }
        let it = self.ledger.settle_card(i, ctx.chaos.seed, decline);
        e.payment_id = Some(it.id.clone());
        let answer = match decline {
            Some((_, reason)) => {
                e.fault = e.fault.or(sticky);
                e.result = AttemptResult::Declined(reason);
                e.declined = Some(reason);
                plan.event = Some(EventKind::PaymentFailed);
                Answer::Declined(Box::new(it.clone()))
            }
            // Authorised only (`capture_method=manual`): the money moves at capture.
            None if it.status == IntentStatus::RequiresCapture => {
                e.result = AttemptResult::Ok;
                plan.event = Some(EventKind::AmountCapturableUpdated);
                Answer::Intent(Box::new(it.clone()))
            }
            None => {
                e.result = AttemptResult::Ok;
                e.money_moved = true;
                plan.event = Some(EventKind::Succeeded);
                Answer::Intent(Box::new(it.clone()))
            }
        };
        e.status = ctx.dialect.status(&answer);
        plan.reply = Reply::Fresh(answer);
        self.finish(ctx, e, lost);
        plan
    }

    /// Create without confirming: no charge, no fault, no attempt counted.
    fn create(&mut self, ctx: &Ctx, p: NewIntent, gate: Gate) -> Plan {
        let order_id = p.metadata.get("order_id").cloned();
        let attempt = order_id
            .as_deref()
            .map_or(0, |o| self.ledger.count(o, PaymentOp::Charge));
        let mut e = Draft::new(
            PaymentOp::Charge,
            order_id,
            None,
            p.amount,
            p.currency.clone(),
        );
        e.key = gate.key.map(str::to_string);
        e.attempt = attempt;
        let save = match gate.check(&mut self.keys, &self.ledger, ctx) {
            Gated::Go(save) => save,
            Gated::Stop(reply, result, status) => {
                (e.result, e.status) = (result, status);
                self.ledger.record(ctx.at, e);
                return Plan::new(reply, Duration::ZERO, false);
            }
        };
        let i = self
            .ledger
            .create_intent(ctx.chaos.seed, ctx.unix, p, gate.key);
        let it = self.ledger.at(i);
        e.payment_id = Some(it.id.clone());
        let answer = Answer::Intent(Box::new(it.clone()));
        e.status = ctx.dialect.status(&answer);
        self.ledger.record(ctx.at, e);
        Plan {
            save,
            ..Plan::answer(answer)
        }
    }

    fn retrieve(&mut self, ctx: &Ctx, id: &str) -> Plan {
        let Some(it) = self.ledger.intent(id).cloned() else {
            let answer = Answer::Error(ApiError::NoSuchIntent { id: id.to_string() });
            let mut e = Draft::new(
                PaymentOp::Query,
                None,
                Some(id.to_string()),
                0,
                String::new(),
            );
            e.result = AttemptResult::Invalid;
            e.status = ctx.dialect.status(&answer);
            self.ledger.record(ctx.at, e);
            return Plan::answer(answer);
        };
        let order = it.order_id().map(str::to_string);
        let mut e = Draft::new(
            PaymentOp::Query,
            order.clone(),
            Some(it.id.clone()),
            it.amount,
            it.currency.clone(),
        );
        e.attempt = order
            .as_deref()
            .map_or(0, |o| self.ledger.bump(o, PaymentOp::Query));
        self.read(ctx, e, Answer::Intent(Box::new(it)))
    }

    /// Answers a read (a Query) recorded as `e`, under the faults that target queries: a
    /// fault before execution answers instead; `timeout_after_charge` loses the answer.
    pub(super) fn read(&mut self, ctx: &Ctx, mut e: Draft, answer: Answer) -> Plan {
        e.fault = self.op_fault(ctx, FaultOp::Query, e.order_id.as_deref());
        let mut e = match self.stopped(ctx, e, Duration::ZERO) {
            ControlFlow::Continue(e) => e,
            ControlFlow::Break(plan) => return plan,
        };
        if matches!(answer, Answer::Error(_)) {
            e.result = AttemptResult::Invalid;
        }
        let lost = e.fault == Some(FaultKind::TimeoutAfterCharge);
        e.status = ctx.dialect.status(&answer);
        self.finish(ctx, e, lost);
        Plan::new(Reply::Fresh(answer), Duration::ZERO, lost)
    }

    fn search(&mut self, ctx: &Ctx, key: &str, value: &str) -> Plan {
        let found = self.ledger.find(key, value);
        let order = (key == "order_id").then(|| value.to_string());
        let mut e = Draft::new(PaymentOp::Query, order, None, 0, String::new());
        e.attempt = if key == "order_id" {
            self.ledger.bump(value, PaymentOp::Query)
        } else {
            0
        };
        self.read(ctx, e, Answer::Search(found))
    }

    fn refund(&mut self, ctx: &Ctx, mut r: NewRefund, gate: Gate) -> Plan {
        if let Err(error) = self.refund_target(&mut r) {
            return self.refuse(ctx, PaymentOp::Refund, error);
        }
        let Some(i) = self.ledger.index(&r.payment_intent) else {
            let error = ApiError::UnknownIntentParam {
                param: "payment_intent".into(),
                id: r.payment_intent,
            };
            return self.refuse(ctx, PaymentOp::Refund, error);
        };
        let it = self.ledger.at(i);
        let order_id = it.order_id().map(str::to_string);
        let mut e = Draft::new(
            PaymentOp::Refund,
            order_id.clone(),
            Some(it.id.clone()),
            r.amount.unwrap_or(0),
            it.currency.clone(),
        );
        e.key = gate.key.map(str::to_string);
        e.attempt = order_id
            .as_deref()
            .map_or(0, |o| self.ledger.bump(o, PaymentOp::Refund));
        e.fault = self.op_fault(ctx, FaultOp::Refund, order_id.as_deref());
        let mut e = match self.stopped(ctx, e, Duration::ZERO) {
            ControlFlow::Continue(e) => e,
            ControlFlow::Break(plan) => return plan,
        };
        // Refunded (or refused), and the answer lost: saved under the key for a retry.
        let lost = e.fault == Some(FaultKind::TimeoutAfterCharge);
        let save = match gate.check(&mut self.keys, &self.ledger, ctx) {
            Gated::Go(save) => save,
            Gated::Stop(reply, result, status) => {
                (e.result, e.status) = (result, status);
                self.finish(ctx, e, lost);
                return Plan::new(reply, Duration::ZERO, lost);
            }
        };
        let answer = match self.ledger.pay_refund(i, ctx.chaos.seed, ctx.unix, r) {
            Ok(refund) => {
                e.amount = refund.amount;
                e.money_moved = true;
                Answer::Refund(refund)
            }
            Err(error) => {
                e.result = AttemptResult::Invalid;
                Answer::Error(error)
            }
        };
        e.status = ctx.dialect.status(&answer);
        self.finish(ctx, e, lost);
        Plan {
            save,
            ..Plan::new(Reply::Fresh(answer), Duration::ZERO, lost)
        }
    }

    /// Records `e`, turned into a lost answer when the fault withholds it.
    pub(super) fn finish(&mut self, ctx: &Ctx, mut e: Draft, lost: bool) {
        if lost {
            e.result = AttemptResult::AnswerLost;
            e.status = 0;
        }
        self.ledger.record(ctx.at, e);
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) enum Target {
    New(NewIntent),
    Existing {
        id: String,
        payment_method: Option<String>,
        /// The confirm paid with a raw card number.
        card: Option<RawCard>,
        return_url: Option<String>,
    },
}

/// The idempotency check of one write request.
pub(super) struct Gate<'a> {
    pub(super) key: Option<&'a str>,
    pub(super) fingerprint: Fingerprint,
    pub(super) endpoint: &'a str,
}

pub(super) enum Gated {
    /// Execute; save the answer under this key, if any.
    Go(Option<String>),
    /// Do not execute: answer this instead.
    Stop(Reply, AttemptResult, u16),
}

impl Gate<'_> {
    pub(super) fn check(&self, keys: &mut IdempotencyStore, ledger: &Ledger, ctx: &Ctx) -> Gated {
        let Some(k) = self.key else {
            return Gated::Go(None);
        };
        let error = match keys.begin(k, self.fingerprint, self.endpoint) {
            Begin::Fresh => return Gated::Go(Some(k.to_string())),
            Begin::Replay { status, body } => {
                let body = rerender::saved_body(ledger, ctx.dialect, &body);
                return Gated::Stop(
                    Reply::Replay { status, body },
                    AttemptResult::Replayed,
                    status,
                );
            }
            Begin::EndpointMismatch { first } => ApiError::IdempotencyEndpoint {
                key: k.to_string(),
                first,
                now: self.endpoint.to_string(),
            },
            Begin::ParamsMismatch => ApiError::IdempotencyParams { key: k.to_string() },
            Begin::InFlight => ApiError::KeyInUse { key: k.to_string() },
        };
        let result = match error {
            ApiError::KeyInUse { .. } => AttemptResult::InFlightConflict,
            _ => AttemptResult::IdempotencyMismatch,
        };
        let answer = Answer::Error(error);
        let status = ctx.dialect.status(&answer);
        Gated::Stop(Reply::Fresh(answer), result, status)
    }
}

#[cfg(test)]
mod tests;
