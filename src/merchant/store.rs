//! The merchant's books: every order (status, reason, payment id, fulfilments, refunds,
//! creation time) and the webhook event ids already handled. One `std::sync::Mutex`, short
//! critical sections, never held across an `.await`. Every state change goes through
//! [`transition`], so checkout, webhooks and the reconciler obey the same rules. How the
//! records are laid out in memory is `books`'.

use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use foldhash::HashSet;
use tokio::time::Instant;

mod books;

pub use books::Currency;
use books::{EventIds, Orders};

use crate::domain::{Amount, FailReason, OrderSnapshot, OrderStatus};
use crate::scenario::flaws::{Flaw, Flaws};

/// One order as the merchant keeps it.
#[derive(Clone, Debug, PartialEq)]
pub struct Order {
    pub order_id: String,
    pub amount: Amount,
    pub currency: Currency,
    pub status: OrderStatus,
    /// The PaymentIntent that paid the order, once paid.
    pub payment_id: Option<String>,
    /// How many times the goods were shipped; exactly 1 once paid.
    pub fulfilments: u32,
    /// Refunds of payments taken for this order while it was not paid.
    pub refunds: Vec<Refund>,
    pub created: Instant,
    /// The checkout request is still talking to the provider: the reconciler leaves the
    /// order alone until it has finished (its answer may still settle it).
    pub charging: bool,
    /// The merchant stopped listening to the provider about this order: no news changes it
    /// any more. Only a flawed merchant closes orders (`timeout_is_failure`).
    pub closed: bool,
    /// The fingerprint (`domain::card::fingerprint`) of the card last charged for it.
    pub card: u32,
    /// Payments started for it: 1 at checkout, one more for each other card
    /// (`second_attempt`).
    pub payments: u32,
}

/// A refund the merchant asked for (or is asking for).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Refund {
    pub payment_id: String,
    pub state: RefundState,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RefundState {
    /// Requested; the call to the provider is under way.
    Requested,
    /// The provider accepted it (`re_…`).
    Done { refund_id: String },
    /// The provider refused it or could not be reached after every retry.
    Failed,
}

/// What the provider said about an order's payment, from any source.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Settlement {
    Paid {
        payment_id: String,
    },
    Failed(FailReason),
    /// One attempt of the payment met a processing error (a `payment_failed` event with
    /// `processing_error`): not final, since the checkout confirms again and the reconciler
    /// reads where the payment ended.
    SoftDeclined,
}

/// What applying a [`Settlement`] to an order's current state must do.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Transition {
    /// Pending → paid: store the payment and fulfil the order.
    Pay { payment_id: String },
    /// Pending → failed with this reason.
    Fail(FailReason),
    /// The order had already failed (the customer was told so) but money was taken:
    /// give it back, keep the order failed.
    Refund { payment_id: String },
    /// No change.
    Nothing,
}

/// What the caller has to do after [`Store::settle`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Effect {
    /// Nothing more (state changed or not).
    None,
    /// Ask the provider to refund this payment of this order.
    Refund {
        order_id: String,
        payment_id: String,
    },
}

/// The answer to [`Store::begin_checkout`].
#[derive(Clone, Debug, PartialEq)]
pub enum Begin {
    /// A new order was created (pending, charging): the caller charges it.
    Started,
    /// The order already exists with the same amount and currency: answer its current
    /// state, charge nothing.
    Existing(Order),
    /// The order already exists with another amount or currency: refuse the checkout (only
    /// the first one's money is asked for), charge nothing.
    Conflict(Order),
}

/// The single rule for how provider news changes an order.
pub fn transition(order: &Order, s: &Settlement, flaws: Flaws) -> Transition {
    if order.closed {
        return Transition::Nothing;
    }
    if flaws.has(Flaw::LastEventWins) {
        return latest_news_wins(order, s);
    }
    match (order.status, s) {
        // A processing error on one attempt decides nothing.
        (_, Settlement::SoftDeclined) => Transition::Nothing,
        (OrderStatus::Pending, Settlement::Paid { payment_id }) => Transition::Pay {
            payment_id: payment_id.clone(),
        },
        (OrderStatus::Pending, Settlement::Failed(reason)) => Transition::Fail(*reason),
        (OrderStatus::Failed(_), Settlement::Paid { payment_id }) => {
            if already_refunding(order, payment_id) || flaws.has(Flaw::NoRefundOnAbandon) {
                Transition::Nothing
            } else {
                Transition::Refund {
                    payment_id: payment_id.clone(),
                }
            }
        }
        // A paid order stays paid; a failed order keeps the reason the customer was told.
        (OrderStatus::Paid, _) | (OrderStatus::Failed(_), Settlement::Failed(_)) => {
            Transition::Nothing
        }
    }
}

/// The flawed rule of `last_event_wins`: whatever arrived last is the order's state, so an
/// older failure arriving late fails an order that was paid (its fulfilment stays done).
fn latest_news_wins(order: &Order, s: &Settlement) -> Transition {
    match (order.status, s) {
        (OrderStatus::Paid, Settlement::Paid { .. }) => Transition::Nothing,
        (_, Settlement::Paid { payment_id }) => Transition::Pay {
            payment_id: payment_id.clone(),
        },
        (OrderStatus::Failed(_), _) => Transition::Nothing,
        (_, Settlement::Failed(reason)) => Transition::Fail(*reason),
        (_, Settlement::SoftDeclined) => Transition::Fail(FailReason::ProviderError),
    }
}

/// Whether a refund of `payment_id` was already asked for (two events, or an event and the
/// reconciler, may both report the same payment).
fn already_refunding(order: &Order, payment_id: &str) -> bool {
    order.refunds.iter().any(|r| r.payment_id == payment_id)
}

/// Whether the reconciler should ask about this order now.
fn needs_reconcile(order: &Order) -> bool {
    order.status == OrderStatus::Pending && !order.charging
}

/// Applies `s` to `order` per [`transition`]; says what the caller must do next.
fn apply(order: &mut Order, s: &Settlement, flaws: Flaws) -> Effect {
    match transition(order, s, flaws) {
        Transition::Pay { payment_id } => {
            order.status = OrderStatus::Paid;
            order.payment_id = Some(payment_id);
            // Fulfilment happens here and only here: the one pending → paid step.
            order.fulfilments += 1;
            Effect::None
        }
        Transition::Fail(reason) => {
            order.status = OrderStatus::Failed(reason);
            Effect::None
        }
        Transition::Refund { payment_id } => {
            order.refunds.push(Refund {
                payment_id: payment_id.clone(),
                state: RefundState::Requested,
            });
            Effect::Refund {
                order_id: order.order_id.clone(),
                payment_id,
            }
        }
        Transition::Nothing => Effect::None,
    }
}

#[derive(Default)]
struct State {
    orders: Orders,
    seen_events: EventIds,
    /// Events delivered at least once (only kept with `crash_first_delivery`).
    delivered_events: HashSet<String>,
}

/// The merchant's orders, shared by every task.
#[derive(Default)]
pub struct Store {
    // std Mutex: every section is a few map operations and never awaits.
    state: Mutex<State>,
    /// Planted bugs that change the rules of [`transition`].
    flaws: Flaws,
}

impl Store {
    pub fn new() -> Store {
        Store::default()
    }

    /// A store whose rules carry `flaws`.
    pub fn with_flaws(flaws: Flaws) -> Store {
        Store {
            flaws,
            ..Store::default()
        }
    }

    /// [`Store::with_flaws`] with room for `orders` orders and as many webhook events before
    /// either map grows (`domain::sizing::per_order`).
    pub fn sized(flaws: Flaws, orders: usize) -> Store {
        Store {
            state: Mutex::new(State {
                orders: Orders::with_capacity(orders),
                seen_events: EventIds::with_capacity(orders),
                delivered_events: HashSet::default(),
            }),
            flaws,
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic elsewhere must not take the books down with it; the data stays consistent
        // because every section completes its update before anything can panic.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Creates `order_id` as pending and charging, unless it exists already. Decided under
    /// the lock, so of concurrent checkouts of one id exactly one starts.
    /// `card` is the payment method's fingerprint.
    pub fn begin_checkout(
        &self,
        order_id: &str,
        amount: Amount,
        currency: &str,
        card: u32,
    ) -> Begin {
        let mut st = self.lock();
        if let Some(o) = st.orders.get(order_id) {
            if o.amount != amount || o.currency != *currency {
                return Begin::Conflict(o.clone());
            }
            return Begin::Existing(o.clone());
        }
        st.orders.insert_new(Order {
            order_id: order_id.to_string(),
            amount,
            currency: Currency::from(currency),
            status: OrderStatus::Pending,
            payment_id: None,
            fulfilments: 0,
            refunds: Vec::new(),
            created: Instant::now(),
            charging: true,
            closed: false,
            card,
            payments: 1,
        });
        Begin::Started
    }

    /// Starts payment number `n` of an existing order with the card `card`, as
    /// [`second_attempt::verdict`] rules (decided under the lock: of concurrent checkouts
    /// one starts). `Err` gives back the order as it stands when nothing is to be charged.
    ///
    /// [`second_attempt::verdict`]: super::second_attempt::verdict
    pub fn second_payment(&self, order_id: &str, card: u32) -> Result<u32, Option<Box<Order>>> {
        use super::second_attempt::{verdict, Verdict};
        let mut st = self.lock();
        let Some(o) = st.orders.get_mut(order_id) else {
            return Err(None);
        };
        match verdict(o, card, self.flaws) {
            Verdict::Answer => return Err(Some(Box::new(o.clone()))),
            Verdict::Reopen => o.status = OrderStatus::Pending,
            Verdict::ChargeAsIs => {}
        }
        o.charging = true;
        o.card = card;
        o.payments += 1;
        Ok(o.payments - 1)
    }

    /// The checkout request stopped talking to the provider.
    pub fn end_checkout(&self, order_id: &str) {
        if let Some(o) = self.lock().orders.get_mut(order_id) {
            o.charging = false;
        }
    }

    /// The checkout request stopped talking to the provider: the order as its charge left
    /// it, read in the same critical section that clears its `charging` mark (so no
    /// reconciler round can slip in between), `None` for an unknown order.
    pub fn finish_checkout(&self, order_id: &str) -> Option<Order> {
        let mut st = self.lock();
        let o = st.orders.get_mut(order_id)?;
        let seen = o.clone();
        o.charging = false;
        Some(seen)
    }

    /// Applies provider news to an order; unknown orders are ignored.
    pub fn settle(&self, order_id: &str, s: &Settlement) -> Effect {
        let mut st = self.lock();
        let Some(order) = st.orders.get_mut(order_id) else {
            return Effect::None;
        };
        apply(order, s, self.flaws)
    }

    /// What a merchant keeping no record of handled events does with a redelivered one: its
    /// handler runs again, so a `succeeded` event for the payment that paid the order ships
    /// the order again; other news settles as usual. Only reached with `no_event_dedupe`.
    pub fn repeat(&self, order_id: &str, s: &Settlement) -> Effect {
        let mut st = self.lock();
        let Some(order) = st.orders.get_mut(order_id) else {
            return Effect::None;
        };
        if let Settlement::Paid { payment_id } = s {
            if order.status == OrderStatus::Paid && order.payment_id.as_ref() == Some(payment_id) {
                order.fulfilments += 1;
                return Effect::None;
            }
        }
        apply(order, s, self.flaws)
    }

    /// Fails the order with `reason`, whatever news came meanwhile (the flawed checkout's
    /// verdict is final), and stops listening to news about it. Only reached with
    /// `timeout_is_failure`.
    pub fn give_up(&self, order_id: &str, reason: FailReason) {
        if let Some(o) = self.lock().orders.get_mut(order_id) {
            o.status = OrderStatus::Failed(reason);
            o.closed = true;
        }
    }

    /// Records how a refund request ended.
    pub fn finish_refund(&self, order_id: &str, payment_id: &str, state: RefundState) {
        let mut st = self.lock();
        let Some(order) = st.orders.get_mut(order_id) else {
            return;
        };
        if let Some(r) = order
            .refunds
            .iter_mut()
            .find(|r| r.payment_id == payment_id)
        {
            r.state = state;
        }
    }

    /// Records a delivery of a webhook event; `true` for its first. Only reached with
    /// `crash_first_delivery`, whose handler fails that one.
    pub fn first_delivery(&self, event_id: &str) -> bool {
        self.lock().delivered_events.insert(event_id.to_string())
    }

    /// Records a webhook event id; `false` when it was seen before.
    pub fn first_sight(&self, event_id: &str) -> bool {
        self.lock().seen_events.insert(event_id)
    }

    pub fn get(&self, order_id: &str) -> Option<Order> {
        self.lock().orders.get(order_id).cloned()
    }

    /// Every order, sorted by id.
    pub fn all(&self) -> Vec<Order> {
        let mut v: Vec<Order> = self.lock().orders.iter().cloned().collect();
        v.sort_by(|a, b| a.order_id.cmp(&b.order_id));
        v
    }

    /// `f` of every order, sorted by id, read in place while the books are locked: the bulk
    /// export of a long run's million orders copies none of them.
    pub fn with_all<R>(&self, f: impl FnOnce(&[&Order]) -> R) -> R {
        let st = self.lock();
        let mut v: Vec<&Order> = st.orders.iter().collect();
        // Ids are unique, so an unstable sort gives the same order.
        v.sort_unstable_by(|a, b| a.order_id.cmp(&b.order_id));
        f(&v)
    }

    /// The orders of `order_ids` (in that order) as the order routes show them: status and
    /// fulfilments, nothing else. Unknown ids are left out.
    pub fn snapshots(&self, order_ids: &[String]) -> Vec<OrderSnapshot> {
        let st = self.lock();
        // An id listed twice is shown once, as the export (one object per order) gives it.
        let mut taken = vec![false; st.orders.len()];
        let mut out = Vec::with_capacity(order_ids.len().min(st.orders.len()));
        for id in order_ids {
            let Some(n) = st.orders.position(id) else {
                continue;
            };
            if !std::mem::replace(&mut taken[n], true) {
                let o = st.orders.at(n);
                out.push(OrderSnapshot {
                    order_id: o.order_id.clone(),
                    status: o.status,
                    fulfilments: Some(o.fulfilments),
                });
            }
        }
        out
    }

    /// Pending orders the reconciler should ask about, with their age at `now`.
    pub fn to_reconcile(&self, now: Instant) -> Vec<(String, Duration)> {
        let st = self.lock();
        let mut v: Vec<(String, Duration)> = st
            .orders
            .iter()
            .filter(|o| needs_reconcile(o))
            .map(|o| (o.order_id.clone(), now.saturating_duration_since(o.created)))
            .collect();
        v.sort();
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn paid(pi: &str) -> Settlement {
        Settlement::Paid {
            payment_id: pi.to_string(),
        }
    }

    fn started(store: &Store, id: &str) {
        assert_eq!(store.begin_checkout(id, 1000, "usd", 1), Begin::Started);
    }

    #[test]
    fn a_sized_store_does_not_grow_below_its_hint() {
        let n = 3000;
        let store = Store::sized(Flaws::NONE, n);
        let caps = |s: &Store| {
            let st = s.lock();
            [st.orders.capacity(), st.seen_events.capacity()]
        };
        let before = caps(&store);
        for i in 0..n {
            started(&store, &format!("ord-{i}"));
            store.first_sight(&format!("evt_{i}"));
        }
        assert_eq!(caps(&store), before);
    }

    #[test]
    fn pending_order_paid_once_is_fulfilled_once() {
        let store = Store::new();
        started(&store, "ord-1");
        assert_eq!(store.settle("ord-1", &paid("pi_1")), Effect::None);
        assert_eq!(store.settle("ord-1", &paid("pi_1")), Effect::None);
        let o = store.get("ord-1").unwrap();
        assert_eq!(o.status, OrderStatus::Paid);
        assert_eq!(o.fulfilments, 1);
        assert_eq!(o.payment_id.as_deref(), Some("pi_1"));
    }

    #[test]
    fn paid_order_is_never_failed_afterwards() {
        let store = Store::new();
        started(&store, "ord-1");
        store.settle("ord-1", &paid("pi_1"));
        store.settle("ord-1", &Settlement::Failed(FailReason::InsufficientFunds));
        assert_eq!(store.get("ord-1").unwrap().status, OrderStatus::Paid);
    }

    #[test]
    fn failed_order_keeps_its_first_reason() {
        let store = Store::new();
        started(&store, "ord-1");
        store.settle("ord-1", &Settlement::Failed(FailReason::RiskBlocked));
        store.settle("ord-1", &Settlement::Failed(FailReason::ProviderError));
        assert_eq!(
            store.get("ord-1").unwrap().status,
            OrderStatus::Failed(FailReason::RiskBlocked)
        );
    }

    #[test]
    fn payment_for_failed_order_is_refunded_once_and_order_stays_failed() {
        let store = Store::new();
        started(&store, "ord-1");
        store.settle("ord-1", &Settlement::Failed(FailReason::ProviderError));
        let first = store.settle("ord-1", &paid("pi_9"));
        assert_eq!(
            first,
            Effect::Refund {
                order_id: "ord-1".into(),
                payment_id: "pi_9".into()
            }
        );
        assert_eq!(store.settle("ord-1", &paid("pi_9")), Effect::None);
        store.finish_refund(
            "ord-1",
            "pi_9",
            RefundState::Done {
                refund_id: "re_1".into(),
            },
        );
        let o = store.get("ord-1").unwrap();
        assert_eq!(o.status, OrderStatus::Failed(FailReason::ProviderError));
        assert_eq!(o.fulfilments, 0);
        assert_eq!(o.refunds.len(), 1);
        assert!(matches!(o.refunds[0].state, RefundState::Done { .. }));
    }

    #[test]
    fn an_identical_repeat_gets_the_order_and_another_amount_or_currency_a_conflict() {
        let store = Store::new();
        started(&store, "ord-1");
        assert!(matches!(
            store.begin_checkout("ord-1", 1000, "usd", 1),
            Begin::Existing(o) if o.status == OrderStatus::Pending
        ));
        for (amount, currency) in [(5, "usd"), (1000, "eur")] {
            match store.begin_checkout("ord-1", amount, currency, 1) {
                Begin::Conflict(o) => {
                    assert_eq!((o.amount, o.currency.as_str()), (1000, "usd"))
                }
                other => panic!("{amount} {currency}: {other:?}"),
            }
        }
    }

    #[test]
    fn event_ids_are_seen_once() {
        let store = Store::new();
        assert!(store.first_sight("evt_1"));
        assert!(!store.first_sight("evt_1"));
        assert!(store.first_sight("evt_2"));
    }

    #[test]
    fn reconciler_skips_orders_still_charging_and_settled_ones() {
        let store = Store::new();
        started(&store, "ord-a");
        started(&store, "ord-b");
        started(&store, "ord-c");
        store.end_checkout("ord-b");
        store.end_checkout("ord-c");
        store.settle("ord-c", &paid("pi_c"));
        let ids: Vec<String> = store
            .to_reconcile(Instant::now())
            .into_iter()
            .map(|(id, _)| id)
            .collect();
        assert_eq!(ids, vec!["ord-b".to_string()]);
    }

    #[test]
    fn finishing_a_checkout_reads_the_order_as_charged_and_hands_it_to_the_reconciler() {
        let store = Store::new();
        started(&store, "ord-1");
        let seen = store.finish_checkout("ord-1").unwrap();
        assert!(seen.charging, "read while its charge was still counted");
        assert_eq!(seen.status, OrderStatus::Pending);
        let ids: Vec<String> = store
            .to_reconcile(Instant::now())
            .into_iter()
            .map(|(id, _)| id)
            .collect();
        assert_eq!(ids, ["ord-1"]);
        assert!(store.finish_checkout("nope").is_none());
    }

    #[test]
    fn unknown_orders_are_ignored() {
        let store = Store::new();
        assert_eq!(store.settle("nope", &paid("pi_1")), Effect::None);
        assert!(store.get("nope").is_none());
    }

    #[test]
    fn a_soft_decline_notice_changes_no_order() {
        let store = Store::new();
        started(&store, "ord-1");
        store.settle("ord-1", &Settlement::SoftDeclined);
        assert_eq!(store.get("ord-1").unwrap().status, OrderStatus::Pending);
        store.settle("ord-1", &paid("pi_1"));
        store.settle("ord-1", &Settlement::SoftDeclined);
        assert_eq!(store.get("ord-1").unwrap().status, OrderStatus::Paid);
    }

    #[test]
    fn last_event_wins_lets_a_late_failure_overwrite_a_payment() {
        let store = Store::with_flaws(Flaws::NONE.with(Flaw::LastEventWins));
        started(&store, "ord-1");
        store.settle("ord-1", &paid("pi_1"));
        store.settle("ord-1", &Settlement::SoftDeclined);
        let o = store.get("ord-1").unwrap();
        assert_eq!(o.status, OrderStatus::Failed(FailReason::ProviderError));
        assert_eq!(o.fulfilments, 1, "the goods went out while it was paid");
    }

    #[test]
    fn no_refund_on_abandon_keeps_a_late_payment() {
        let store = Store::with_flaws(Flaws::NONE.with(Flaw::NoRefundOnAbandon));
        started(&store, "ord-1");
        store.settle("ord-1", &Settlement::Failed(FailReason::ProviderError));
        assert_eq!(store.settle("ord-1", &paid("pi_9")), Effect::None);
        assert!(store.get("ord-1").unwrap().refunds.is_empty());
    }

    #[test]
    fn a_given_up_order_ignores_all_news() {
        let store = Store::new();
        started(&store, "ord-1");
        store.give_up("ord-1", FailReason::ProviderError);
        assert_eq!(store.settle("ord-1", &paid("pi_1")), Effect::None);
        let o = store.get("ord-1").unwrap();
        assert_eq!(o.status, OrderStatus::Failed(FailReason::ProviderError));
        assert!(o.closed && o.refunds.is_empty());
    }

    #[test]
    fn a_repeated_success_ships_the_paid_order_again() {
        let store = Store::new();
        started(&store, "ord-1");
        store.settle("ord-1", &paid("pi_1"));
        store.repeat("ord-1", &paid("pi_1"));
        assert_eq!(store.get("ord-1").unwrap().fulfilments, 2);
        // Another payment's success is settled as news, not shipped.
        store.repeat("ord-1", &paid("pi_2"));
        assert_eq!(store.get("ord-1").unwrap().fulfilments, 2);
    }
}
