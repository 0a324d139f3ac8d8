//! The provider's authoritative record: one `LedgerEntry` per request, per-order attempt
//! counters, the payment intents (by id and by order id), their charges and refunds. Plain
//! data with cheap primitives; `exec` decides what to record, under the provider's lock.
//! Intent lifecycle steps beyond the charge (capture, cancel, update) are in `lifecycle`.

use std::collections::{BTreeMap, VecDeque};
use std::time::Duration;

use foldhash::{HashMap, HashMapExt};

use crate::chaos::{key, FaultKind};
use crate::domain::card::RawCard;
use crate::domain::order_id::{chaos_key, with_chaos_key};
use crate::domain::{Amount, AttemptResult, FailReason, LedgerEntry, PaymentOp};
use crate::provider::cards::DeclineCode;
use crate::provider::charges::Charge;
use crate::provider::dialects::{ApiError, NewIntent, NewRefund};
use crate::provider::index::IdIndex;
use crate::provider::metadata::Metadata;
use crate::provider::replica::{marked, Replica};

/// Where a payment intent stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IntentStatus {
    RequiresPaymentMethod,
    RequiresConfirmation,
    /// The card needs authentication (3D Secure) before it can be charged.
    RequiresAction,
    /// Authorised, waiting for a capture (`capture_method=manual`); no money moved yet.
    RequiresCapture,
    Canceled,
    Succeeded,
}

impl IntentStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            IntentStatus::RequiresPaymentMethod => "requires_payment_method",
            IntentStatus::RequiresConfirmation => "requires_confirmation",
            IntentStatus::RequiresAction => "requires_action",
            IntentStatus::RequiresCapture => "requires_capture",
            IntentStatus::Canceled => "canceled",
            IntentStatus::Succeeded => "succeeded",
        }
    }

    /// Whether a confirm may run from this status.
    pub fn can_confirm(self) -> bool {
        matches!(
            self,
            IntentStatus::RequiresPaymentMethod
                | IntentStatus::RequiresConfirmation
                | IntentStatus::RequiresAction
        )
    }

    /// Whether a cancel may run from this status.
    pub fn can_cancel(self) -> bool {
        self.can_confirm() || self == IntentStatus::RequiresCapture
    }
}

/// The card's decline on the latest charge of an intent.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Decline {
    pub reason: FailReason,
    /// The finer code the answer carries (`reason` is what the customer should be told).
    pub code: DeclineCode,
    pub charge: String,
    pub payment_method: Option<String>,
}

/// A payment intent.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Intent {
    pub id: String,
    pub amount: Amount,
    pub currency: String,
    pub status: IntentStatus,
    pub payment_method: Option<String>,
    pub metadata: Metadata,
    /// Unix seconds.
    pub created: u64,
    pub latest_charge: Option<String>,
    pub last_error: Option<Decline>,
    pub amount_refunded: Amount,
    /// Authorised and not yet captured (`requires_capture`).
    pub amount_capturable: Amount,
    /// Captured: what a refund can give back.
    pub amount_received: Amount,
    /// Unix seconds, when canceled.
    pub canceled_at: Option<u64>,
    pub cancellation_reason: Option<String>,
    pub capture_method: Option<String>,
    pub description: Option<String>,
    pub customer: Option<String>,
    pub payment_method_types: Vec<String>,
    /// Charges attempted on this intent (names the next charge id).
    pub charges: u32,
    /// Refunds made on this intent (names the next refund id).
    pub refunds: u32,
    /// The id this intent would have had if its order id carried no run id (see
    /// [`chaos_key`]); `None` when that is its id. Its events meet webhook chaos under the ids
    /// they would have had then, so a seed gives them the same chaos in every run.
    pub chaos_id: Option<String>,
    /// Where the customer's browser goes back after a redirect (`return_url`).
    pub return_url: Option<String>,
    /// The challenge page the customer is sent to while the intent is `requires_action`
    /// with a `return_url` (`next_action.redirect_to_url.url`).
    pub challenge_url: Option<String>,
    /// Changes so far: a saved answer or a logged event names the state it was rendered
    /// from by it, and is rendered again from that state (see `ledger::versions`).
    pub version: u32,
}

impl Intent {
    /// The merchant's order id, `metadata[order_id]`.
    pub fn order_id(&self) -> Option<&str> {
        self.metadata.get("order_id").map(String::as_str)
    }

    /// The payment id webhook chaos knows this intent's events by: [`Intent::chaos_id`], or
    /// its own id.
    pub fn chaos_payment_id(&self) -> &str {
        self.chaos_id.as_deref().unwrap_or(&self.id)
    }

    /// Whether a confirm authorises only, leaving the capture for later.
    pub fn manual_capture(&self) -> bool {
        self.capture_method.as_deref() == Some("manual")
    }
}

/// A refund paid out.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Refund {
    pub id: String,
    pub amount: Amount,
    pub currency: String,
    pub payment_intent: String,
    pub charge: Option<String>,
    pub reason: Option<String>,
    pub metadata: BTreeMap<String, String>,
    pub created: u64,
}

/// What the ledger knows of one order id.
#[derive(Debug, Default)]
struct OrderRecord {
    /// Requests so far per operation ([`op_index`]): the next attempt numbers.
    counters: [u32; 3],
    /// Its intents' numbers, oldest first.
    intents: Vec<usize>,
}

/// Index of a per-order counter: one per operation.
fn op_index(op: PaymentOp) -> usize {
    match op {
        PaymentOp::Charge => 0,
        PaymentOp::Query => 1,
        PaymentOp::Refund => 2,
    }
}

/// The record, with everything needed to execute against it.
#[derive(Debug, Default)]
pub struct Ledger {
    entries: Vec<LedgerEntry>,
    /// Entries numbered before `entries[0]` (taken out at the end of a run, or evicted by
    /// the retention): `seq` goes on.
    taken: u64,
    /// Per order id: its attempt counters and its intents, one entry (and one copy of the
    /// order id) for both.
    orders: HashMap<String, OrderRecord>,
    /// Oldest first; intent `i` (the number the maps hold) is `intents[i - first_intent]`.
    intents: VecDeque<Intent>,
    /// Intents evicted by the retention before `intents[0]`.
    first_intent: usize,
    /// Intent numbers by intent id (read from the intents themselves).
    by_id: IdIndex,
    refunds: VecDeque<Refund>,
    /// Oldest first; charge `c` is `charges[c - first_charge]`.
    charges: VecDeque<Charge>,
    first_charge: usize,
    /// Charge numbers by charge id (read from the charges themselves).
    charge_by_id: IdIndex,
    /// Per intent (as `intents`): whether a saved answer or a logged event renders from its
    /// current version, which must then be kept when it changes.
    pins: VecDeque<bool>,
    /// Earlier versions of intents that something still renders from, by intent number and
    /// version: only those changed after an answer or event was rendered from them.
    history: HashMap<(usize, u32), Intent>,
    /// Numbers payment ids of intents without an order id.
    anonymous: u64,
    /// Wall clock (unix seconds) of the request being executed, for `created` fields.
    pub(super) now: u64,
    /// The replica this provider is (`--replica`): its mark goes into every id it mints.
    pub(super) replica: Option<Replica>,
}

impl Ledger {
    pub fn new() -> Ledger {
        Ledger::default()
    }

    /// A ledger with room for `n` orders' intents, charges and counters (see
    /// `domain::sizing`): none of its maps grows before the `n`-th.
    pub fn with_capacity(n: usize) -> Ledger {
        Ledger {
            entries: Vec::with_capacity(n),
            taken: 0,
            orders: HashMap::with_capacity(n),
            intents: VecDeque::with_capacity(n),
            first_intent: 0,
            by_id: IdIndex::with_capacity(n),
            refunds: VecDeque::new(),
            charges: VecDeque::with_capacity(n),
            first_charge: 0,
            charge_by_id: IdIndex::with_capacity(n),
            pins: VecDeque::with_capacity(n),
            history: HashMap::new(),
            anonymous: 0,
            now: 0,
            replica: None,
        }
    }

    /// A copy of every entry, in arrival order.
    pub fn snapshot(&self) -> Vec<LedgerEntry> {
        self.entries.clone()
    }

    /// Moves the entries so far out of the ledger, which numbers later ones after them: the
    /// end of a run hands them to verify and report without a copy.
    pub fn take_entries(&mut self) -> Vec<LedgerEntry> {
        let entries = std::mem::take(&mut self.entries);
        self.taken += entries.len() as u64;
        entries
    }

    /// The entries so far, without copying.
    pub fn entries(&self) -> &[LedgerEntry] {
        &self.entries
    }

    /// The intent with this id.
    pub fn intent(&self, id: &str) -> Option<&Intent> {
        self.index(id).map(|i| self.at(i))
    }

    /// Every refund paid out, in order.
    pub fn refunds(&self) -> &VecDeque<Refund> {
        &self.refunds
    }

    /// Every intent whose `metadata[key]` is `value`, oldest first (indexed for `order_id`).
    pub fn find(&self, key: &str, value: &str) -> Vec<Intent> {
        if key == "order_id" {
            let ix = self.orders.get(value).map_or(&[][..], |o| &o.intents[..]);
            return ix.iter().map(|&i| self.at(i).clone()).collect();
        }
        self.intents
            .iter()
            .filter(|it| it.metadata.get(key).is_some_and(|v| v == value))
            .cloned()
            .collect()
    }

    /// The charge with this id.
    pub fn charge(&self, id: &str) -> Option<&Charge> {
        self.charge_index(id)
            .map(|c| &self.charges[c - self.first_charge])
    }

    /// The latest charge of intent `i`, to update on capture, refund or cancel.
    pub(super) fn latest_charge_mut(&mut self, i: usize) -> Option<&mut Charge> {
        let id = self.at(i).latest_charge.as_deref()?;
        let c = self.charge_index(id)?;
        Some(&mut self.charges[c - self.first_charge])
    }

    /// Files intent `i` under its new `metadata[order_id]` after an update changed it.
    pub(super) fn reindex_order(&mut self, i: usize, old: Option<&str>) {
        let new = self.at(i).order_id().map(str::to_string);
        if old == new.as_deref() {
            return;
        }
        if let Some(list) = old
            .and_then(|o| self.orders.get_mut(o))
            .map(|o| &mut o.intents)
        {
            list.retain(|&j| j != i);
        }
        if let Some(o) = new {
            let list = &mut self.orders.entry(o).or_default().intents;
            // Oldest first, as `find` promises.
            let at = list.partition_point(|&j| j < i);
            list.insert(at, i);
        }
    }

    pub(super) fn index(&self, id: &str) -> Option<usize> {
        let (intents, first) = (&self.intents, self.first_intent);
        self.by_id.get(id, |i| intents[i - first].id.as_str())
    }

    /// The number of the charge with this id.
    fn charge_index(&self, id: &str) -> Option<usize> {
        let (charges, first) = (&self.charges, self.first_charge);
        self.charge_by_id
            .get(id, |c| charges[c - first].id.as_str())
    }

    pub(super) fn at(&self, i: usize) -> &Intent {
        &self.intents[i - self.first_intent]
    }

    /// Intent `i`, to change: a new version of it.
    pub(super) fn at_mut(&mut self, i: usize) -> &mut Intent {
        self.touch(i);
        &mut self.intents[i - self.first_intent]
    }

    /// Runs a charge on intent `i` with the card's decline (`code`, and the reason the
    /// customer should be told): the intent goes back to needing a payment method, which
    /// Stripe detaches. Without a decline it succeeds, or is only authorised when the intent
    /// captures manually. Records the charge.
    pub(super) fn settle_card(
        &mut self,
        i: usize,
        seed: u64,
        decline: Option<(DeclineCode, FailReason)>,
    ) -> &Intent {
        let (now, replica) = (self.now, self.replica);
        let it = self.at_mut(i);
        it.charges += 1;
        let charge = marked(
            replica,
            hashed_id(
                "ch_",
                seed,
                "ch",
                &[it.id.as_bytes(), &it.charges.to_le_bytes()],
            ),
        );
        it.latest_charge = Some(charge.clone());
        let record = Charge::new(&charge, it, now, decline.map(|(c, _)| c));
        match decline {
            Some((code, reason)) => {
                it.status = IntentStatus::RequiresPaymentMethod;
                it.last_error = Some(Decline {
                    reason,
                    code,
                    charge,
                    payment_method: it.payment_method.take(),
                });
            }
            None if it.manual_capture() => {
                it.status = IntentStatus::RequiresCapture;
                it.amount_capturable = it.amount;
                it.last_error = None;
            }
            None => {
                it.status = IntentStatus::Succeeded;
                it.amount_received = it.amount;
                it.last_error = None;
            }
        }
        let c = self.first_charge + self.charges.len();
        self.charges.push_back(record);
        let (charges, first) = (&self.charges, self.first_charge);
        let id = &charges[c - first].id;
        self.charge_by_id
            .insert(id, c, |c| charges[c - first].id.as_str());
        self.at(i)
    }

    /// Refunds `r.amount` (or all that is left) of intent `i`'s charge.
    pub(super) fn pay_refund(
        &mut self,
        i: usize,
        seed: u64,
        unix: u64,
        r: NewRefund,
    ) -> Result<Refund, ApiError> {
        let it = self.at_mut(i);
        let remaining = it.amount_received.saturating_sub(it.amount_refunded);
        if it.status != IntentStatus::Succeeded {
            return Err(ApiError::UnexpectedState {
                id: it.id.clone(),
                status: it.status,
                action: "refund",
            });
        }
        if remaining == 0 {
            return Err(ApiError::AlreadyRefunded { id: it.id.clone() });
        }
        let amount = r.amount.unwrap_or(remaining);
        if amount > remaining {
            return Err(ApiError::RefundTooLarge { amount, remaining });
        }
        it.amount_refunded += amount;
        it.refunds += 1;
        let latest = it.latest_charge.clone();
        if let Some(c) = latest.as_deref().and_then(|c| self.charge_index(c)) {
            self.charges[c - self.first_charge].amount_refunded += amount;
        }
        let it = self.at(i);
        let refund = Refund {
            id: marked(
                self.replica,
                hashed_id(
                    "re_",
                    seed,
                    "re",
                    &[it.id.as_bytes(), &it.refunds.to_le_bytes()],
                ),
            ),
            amount,
            currency: it.currency.clone(),
            payment_intent: it.id.clone(),
            charge: it.latest_charge.clone(),
            reason: r.reason,
            metadata: r.metadata,
            created: unix,
        };
        self.refunds.push_back(refund.clone());
        Ok(refund)
    }

    /// Creates an intent from `p` and returns its index; the id is derived from the order id
    /// and idempotency key (or a counter without an order id).
    pub(super) fn create_intent(
        &mut self,
        seed: u64,
        unix: u64,
        p: NewIntent,
        key: Option<&str>,
    ) -> usize {
        let order = p.metadata.get("order_id").cloned();
        let mut id = match &order {
            Some(o) => payment_id_for(seed, o, key.unwrap_or("")),
            None => {
                self.anonymous += 1;
                hashed_id("pi_", seed, "pi", &[&self.anonymous.to_le_bytes()])
            }
        };
        // The id the same request would have created in a run without run ids: what the key
        // derived from the order id (`ord-…:charge`) would have been then, too.
        let chaos_id = order.as_deref().and_then(|o| {
            let legacy = chaos_key(o);
            (legacy != o).then(|| {
                let k = with_chaos_key(key.unwrap_or(""), o);
                payment_id_for(seed, &legacy, &k)
            })
        });
        // Only reachable when one order reuses a key's id (e.g. no key twice): keep ids unique.
        while self.index(&id).is_some() {
            self.anonymous += 1;
            id = hashed_id(
                "pi_",
                seed,
                "pi.dup",
                &[id.as_bytes(), &self.anonymous.to_le_bytes()],
            );
        }
        // A replica marks the id for the load balancer; webhook chaos keeps knowing the
        // intent by the unmarked id, so every replica meets the same chaos for it.
        let (id, chaos_id) = match self.replica {
            Some(r) => {
                let chaos = chaos_id.unwrap_or_else(|| id.clone());
                (r.mark(&id), Some(chaos))
            }
            None => (id, chaos_id),
        };
        let status = if p.payment_method.is_some() {
            IntentStatus::RequiresConfirmation
        } else {
            IntentStatus::RequiresPaymentMethod
        };
        let i = self.first_intent + self.intents.len();
        if let Some(o) = order {
            self.order_mut(&o).intents.push(i);
        }
        self.intents.push_back(Intent {
            id,
            amount: p.amount,
            currency: p.currency,
            status,
            payment_method: p.payment_method,
            metadata: p.metadata.into(),
            created: unix,
            latest_charge: None,
            last_error: None,
            amount_refunded: 0,
            amount_capturable: 0,
            amount_received: 0,
            canceled_at: None,
            cancellation_reason: None,
            capture_method: p.capture_method,
            description: p.description,
            customer: p.customer,
            payment_method_types: p.payment_method_types,
            charges: 0,
            refunds: 0,
            chaos_id,
            return_url: p.return_url,
            challenge_url: None,
            version: 0,
        });
        self.pins.push_back(false);
        let (intents, first) = (&self.intents, self.first_intent);
        let id = &intents[i - first].id;
        self.by_id.insert(id, i, |j| intents[j - first].id.as_str());
        i
    }

    /// The next attempt number of `op` for `order`, counting this one.
    pub(super) fn bump(&mut self, order: &str, op: PaymentOp) -> u32 {
        let slot = &mut self.order_mut(order).counters;
        let n = slot[op_index(op)];
        slot[op_index(op)] += 1;
        n
    }

    /// The record of `order`, made on its first request.
    fn order_mut(&mut self, order: &str) -> &mut OrderRecord {
        // Looked up first: the order id is copied only when the order is new.
        if !self.orders.contains_key(order) {
            self.orders
                .insert(order.to_string(), OrderRecord::default());
        }
        self.orders.get_mut(order).expect("inserted above")
    }

    /// How many `op` requests `order` has had, without counting one more.
    pub(super) fn count(&self, order: &str, op: PaymentOp) -> u32 {
        self.orders
            .get(order)
            .map_or(0, |o| o.counters[op_index(op)])
    }

    /// Payments (intents) held now.
    pub fn payments(&self) -> usize {
        self.intents.len()
    }

    /// Forgets the oldest payments until at most `keep` are held, with what is theirs alone:
    /// the order's lookup and attempt counters once the order has no payment left, their
    /// charges and refunds. Returns the forgotten payment ids, oldest first.
    pub(super) fn evict_payments(&mut self, keep: usize) -> Vec<String> {
        let mut gone = Vec::new();
        while self.intents.len() > keep {
            // Forgotten by the index while it is still there: the index reads ids from it.
            let (intents, first) = (&self.intents, self.first_intent);
            if let Some(it) = intents.front() {
                self.by_id
                    .remove(&it.id, |j| intents[j - first].id.as_str());
            }
            let Some(it) = self.intents.pop_front() else {
                break;
            };
            self.pins.pop_front();
            let i = self.first_intent;
            self.first_intent += 1;
            if let Some(o) = it.order_id() {
                let emptied = self.orders.get_mut(o).is_some_and(|rec| {
                    rec.intents.retain(|&j| j != i);
                    rec.intents.is_empty()
                });
                if emptied {
                    self.orders.remove(o);
                }
            }
            gone.push(it.id);
        }
        // Charges and refunds come in creation order, mostly just after their payment's: those
        // at the front whose payment is gone go with it; past twice `keep`, the oldest go anyway
        // (a long-lived payment's first charge must not pin every later one).
        while let Some(c) = self.charges.front() {
            if self.index(&c.payment_intent).is_some() && self.charges.len() <= 2 * keep {
                break;
            }
            let (charges, first) = (&self.charges, self.first_charge);
            self.charge_by_id
                .remove(&c.id, |j| charges[j - first].id.as_str());
            self.charges.pop_front();
            self.first_charge += 1;
        }
        while let Some(r) = self.refunds.front() {
            if self.index(&r.payment_intent).is_some() && self.refunds.len() <= keep {
                break;
            }
            self.refunds.pop_front();
        }
        self.forget_versions_before(self.first_intent);
        gone
    }

    /// Forgets the oldest entries until at most `keep` are held, in batches of an eighth of
    /// `keep` so that `entries()` stays one slice at a small amortised cost. Returns how many
    /// went.
    pub(super) fn evict_entries(&mut self, keep: usize) -> usize {
        if self.entries.len() <= keep.saturating_add(keep / 8) {
            return 0;
        }
        let excess = self.entries.len() - keep;
        self.entries.drain(..excess);
        self.taken += excess as u64;
        excess
    }

    /// The seq the next recorded entry gets.
    pub(super) fn next_seq(&self) -> u64 {
        self.taken + self.entries.len() as u64
    }

    /// Appends `e` as the next entry, arrived at run time `at`.
    pub(super) fn record(&mut self, at: Duration, e: Draft) {
        self.entries.push(LedgerEntry {
            seq: self.taken + self.entries.len() as u64,
            at_ms: at.as_millis() as u64,
            op: e.op,
            order_id: e.order_id,
            payment_id: e.payment_id,
            amount: e.amount,
            currency: e.currency,
            idempotency_key: e.key,
            attempt: e.attempt,
            fault: e.fault,
            result: e.result,
            declined: e.declined,
            money_moved: e.money_moved,
            status: e.status,
            unanswered: false,
            answer_delay_ms: 0,
            raw_card: e.raw_card,
            channel: 0,
            card: e.card,
            conn: 0,
        });
    }

    /// Notes the latency entry `i` waits before its answer goes out.
    pub(super) fn delay_answer(&mut self, i: usize, latency: Duration) {
        if let Some(e) = self.entries.get_mut(i) {
            e.answer_delay_ms = u64::try_from(latency.as_millis()).unwrap_or(u64::MAX);
        }
    }

    /// Notes the connection (numbered by the server) entry `i`'s request came on.
    pub(super) fn note_connection(&mut self, i: usize, conn: u64) {
        if let Some(e) = self.entries.get_mut(i) {
            e.conn = conn;
        }
    }

    /// Notes that entry `seq`'s answer never reached its client.
    pub(super) fn mark_unanswered(&mut self, seq: u64) {
        if let Some(e) = usize::try_from(seq)
            .ok()
            .and_then(|i| self.entries.get_mut(i))
        {
            e.unanswered = true;
        }
    }
}

impl Ledger {
    /// The id of the intent `order` creates under `key` on this provider: [`payment_id_for`]
    /// with the replica's mark.
    pub(super) fn order_payment_id(&self, seed: u64, order: &str, key: &str) -> String {
        marked(self.replica, payment_id_for(seed, order, key))
    }
}

/// The id of the intent an order creates under an idempotency key: `pi_` + the hash as 24
/// hex digits.
pub fn payment_id_for(seed: u64, order_id: &str, idempotency_key: &str) -> String {
    hashed_id(
        "pi_",
        seed,
        "pi",
        &[order_id.as_bytes(), idempotency_key.as_bytes()],
    )
}

pub(super) fn hashed_id(prefix: &str, seed: u64, stream: &str, parts: &[&[u8]]) -> String {
    format!("{prefix}{:024x}", key::hash(seed, stream, parts))
}

/// A ledger entry being filled in; `seq` and `at_ms` are set when it is recorded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct Draft {
    pub(super) op: PaymentOp,
    pub(super) order_id: Option<String>,
    pub(super) payment_id: Option<String>,
    pub(super) amount: Amount,
    pub(super) currency: String,
    pub(super) key: Option<String>,
    pub(super) attempt: u32,
    pub(super) fault: Option<FaultKind>,
    pub(super) result: AttemptResult,
    pub(super) declined: Option<FailReason>,
    pub(super) money_moved: bool,
    pub(super) status: u16,
    pub(super) raw_card: Option<RawCard>,
    /// The payment method's fingerprint (`domain::card::fingerprint`), 0 when not known.
    pub(super) card: u32,
}

impl Draft {
    pub(super) fn new(
        op: PaymentOp,
        order_id: Option<String>,
        payment_id: Option<String>,
        amount: Amount,
        currency: String,
    ) -> Draft {
        Draft {
            op,
            order_id,
            payment_id,
            amount,
            currency,
            key: None,
            attempt: 0,
            fault: None,
            result: AttemptResult::Ok,
            declined: None,
            money_moved: false,
            status: 0,
            raw_card: None,
            card: 0,
        }
    }
}

#[cfg(test)]
mod tests;
mod versions;
