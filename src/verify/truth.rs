//! The provider's truth per order, read from the ledger alone: money charged and refunded,
//! captures, declines, and charge requests that came after an answered decline. What the
//! merchant said or did is compared against this elsewhere (`rules`).

use std::collections::{BTreeMap, BTreeSet, HashMap};

use serde::{Deserialize, Serialize};

use crate::domain::card::RawCard;
use crate::domain::{Amount, AttemptResult, FailReason, FaultKind, LedgerEntry, PaymentOp};

/// What the provider did to an order, in one word (the confusion matrix's rows).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TruthLabel {
    /// Money kept: charged more than refunded.
    Charged,
    /// Charged, then all of it given back.
    Refunded,
    DeclinedInsufficientFunds,
    DeclinedRiskBlocked,
    /// A decline with another reason.
    DeclinedOther,
    /// Charge requests arrived but none charged or declined (dropped, errors, ...).
    NotCharged,
    /// No charge request for the order ever reached the provider.
    NoAttempt,
}

impl TruthLabel {
    /// Every label, in report order.
    pub const ALL: [TruthLabel; 7] = [
        TruthLabel::Charged,
        TruthLabel::Refunded,
        TruthLabel::DeclinedInsufficientFunds,
        TruthLabel::DeclinedRiskBlocked,
        TruthLabel::DeclinedOther,
        TruthLabel::NotCharged,
        TruthLabel::NoAttempt,
    ];

    /// The word used in reports (the serde name).
    pub fn as_str(self) -> &'static str {
        crate::domain::label(&self)
    }

    /// Parses a label written by [`TruthLabel::as_str`].
    pub fn parse(s: &str) -> Option<TruthLabel> {
        crate::domain::parse_label(s)
    }

    /// Whether the card declined the order (such orders cannot succeed whatever the merchant does).
    pub fn is_declined(self) -> bool {
        matches!(
            self,
            TruthLabel::DeclinedInsufficientFunds
                | TruthLabel::DeclinedRiskBlocked
                | TruthLabel::DeclinedOther
        )
    }

    /// Position in [`TruthLabel::ALL`].
    pub fn index(self) -> usize {
        self as usize
    }
}

/// The first hard decline the merchant heard: the answer to the request that declined, or a
/// replay of it under the same key, delivered (not lost to a fault or to the merchant's own
/// timeout).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AnsweredDecline {
    /// The entry whose answer told the merchant.
    pub seq: u64,
    pub reason: FailReason,
    /// When that answer went out (run ms): only a request arriving after it was sent
    /// knowing the decline.
    pub at_ms: u64,
}

/// The first hard decline the provider executed for an order, heard or not, its key and
/// its card's fingerprint (0: not known).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FirstDecline {
    pub seq: u64,
    pub reason: FailReason,
    pub key: Option<String>,
    pub card: u32,
}

/// A charge request that retried a hard decline: sent after the merchant heard it, or under
/// another key (a new payment for a card that had declined) after the decline happened.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LaterCharge {
    pub seq: u64,
    pub attempt: u32,
    pub result: AttemptResult,
    /// Sent under another key than the declined request's (or none).
    pub new_key: bool,
}

/// One order as the provider's ledger records it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct OrderTruth {
    /// Sum of the amounts of charges that moved money.
    pub charged: Amount,
    /// Sum of the refunds paid out for the order.
    pub refunded: Amount,
    /// Charges that moved money (captures).
    pub charges: u32,
    /// Charge requests of any result.
    pub attempts: u32,
    /// Payment ids of the charges that moved money, in arrival order.
    pub payment_ids: Vec<String>,
    /// The first card decline the ledger recorded (also from a lost answer). A processing
    /// error (`provider_error`, a soft decline) is provider trouble, not the card's answer,
    /// and is not counted here.
    pub decline: Option<FailReason>,
    /// `decline`, unless it came only from a `late_charge`: executed at the end of its hold,
    /// possibly after the merchant had rightly given the order up as provider trouble.
    pub prompt_decline: Option<FailReason>,
    /// Every decline reason the ledger recorded for the order, soft ones included.
    pub declines: BTreeSet<FailReason>,
    /// The first hard decline executed (soft declines may be retried).
    pub first_decline: Option<FirstDecline>,
    /// The hard decline later charge requests are judged against: `first_decline`, or the
    /// first of the card the customer paid again with, once another card came.
    pub judged_decline: Option<FirstDecline>,
    /// The first hard decline of `judged_decline`'s card the merchant heard.
    pub answered_decline: Option<AnsweredDecline>,
    /// The seq from which the merchant had provably read a telling answer: the next
    /// request on that answer's connection (its client read the answer to send it).
    pub read_from_seq: Option<u64>,
    /// For telling answers of unknown connection only: the earliest time one went out
    /// (`at_ms` + its injected latency); a request arriving later knew.
    pub heard_at_ms: Option<u64>,
    /// The fingerprints of the cards that declined hard, in first-decline order.
    pub declined_cards: Vec<u32>,
    /// Money charged by requests paying with another card than the order's first charge
    /// request (both fingerprints known): the customer paying again.
    pub other_card_charged: Amount,
    /// The fingerprint of the order's first charge request's card (0: not known).
    pub first_card: u32,
    /// Charge requests that retried the hard decline, in arrival order: any after
    /// `answered_decline`, and those under a new key after `first_decline`. A retry under
    /// the same key before the merchant heard the decline is what it should do.
    pub after_decline: Vec<LaterCharge>,
    /// The first charge request that paid with a raw card number (seq, run ms, the card as
    /// recorded), and how many did.
    pub raw_card: Option<(u64, u64, RawCard)>,
    pub raw_card_requests: u32,
    /// Captures per payment channel (`LedgerEntry::channel`), by channel, for the channels
    /// that captured at all.
    pub charges_by_channel: Vec<(u8, u32)>,
}

impl OrderTruth {
    /// Money kept: charged minus refunded (signed, so bad data cannot wrap around).
    pub fn net(&self) -> i128 {
        i128::from(self.charged) - i128::from(self.refunded)
    }

    /// The most captures any one channel made for the order.
    pub fn most_charges_on_one_channel(&self) -> u32 {
        self.charges_by_channel
            .iter()
            .map(|(_, n)| *n)
            .max()
            .unwrap_or(0)
    }

    /// The order's row in the confusion matrix.
    pub fn label(&self) -> TruthLabel {
        if self.net() > 0 {
            TruthLabel::Charged
        } else if self.charged > 0 {
            TruthLabel::Refunded
        } else if let Some(d) = self.decline {
            match d {
                FailReason::InsufficientFunds => TruthLabel::DeclinedInsufficientFunds,
                FailReason::RiskBlocked => TruthLabel::DeclinedRiskBlocked,
                FailReason::ProviderError | FailReason::Declined => TruthLabel::DeclinedOther,
            }
        } else if self.attempts > 0 {
            TruthLabel::NotCharged
        } else {
            TruthLabel::NoAttempt
        }
    }
}

/// The truth of every order the ledger names, by order id. Entries are taken in `seq` order
/// whatever order the slice is in. Refunds are matched by their order id, else by the payment
/// id of a charge; refunds matching no order are ignored.
pub fn order_truths(ledger: &[LedgerEntry]) -> BTreeMap<String, OrderTruth> {
    let mut entries: Vec<&LedgerEntry> = ledger.iter().collect();
    entries.sort_by_key(|e| e.seq);

    let order_of_payment: HashMap<&str, &str> = entries
        .iter()
        .filter(|e| e.op == PaymentOp::Charge)
        .filter_map(|e| Some((e.payment_id.as_deref()?, e.order_id.as_deref()?)))
        .collect();

    let next = next_on_connection(&entries);
    let mut out: BTreeMap<String, OrderTruth> = BTreeMap::new();
    for e in entries {
        match e.op {
            PaymentOp::Charge => {
                let Some(order) = e.order_id.as_deref() else {
                    continue;
                };
                add_charge(truth_of(&mut out, order), e, &next);
            }
            PaymentOp::Refund if e.money_moved => {
                let order = e.order_id.as_deref().or_else(|| {
                    e.payment_id
                        .as_deref()
                        .and_then(|p| order_of_payment.get(p).copied())
                });
                if let Some(order) = order {
                    truth_of(&mut out, order).refunded += e.amount;
                }
            }
            PaymentOp::Refund | PaymentOp::Query => {}
        }
    }
    out
}

/// The truth of `order`, new if need be: the id is copied once per order, not once per
/// ledger entry as `entry(order.to_string())` would.
fn truth_of<'m>(out: &'m mut BTreeMap<String, OrderTruth>, order: &str) -> &'m mut OrderTruth {
    if !out.contains_key(order) {
        out.insert(order.to_string(), OrderTruth::default());
    }
    out.get_mut(order).expect("inserted above")
}

/// For each entry of known connection, the seq of the next entry on the same connection
/// (of the same channel): `entries` in seq order.
fn next_on_connection(entries: &[&LedgerEntry]) -> HashMap<u64, u64> {
    let mut last: HashMap<(u8, u64), u64> = HashMap::new();
    let mut next = HashMap::new();
    for e in entries.iter().filter(|e| e.conn != 0) {
        if let Some(prev) = last.insert((e.channel, e.conn), e.seq) {
            next.insert(prev, e.seq);
        }
    }
    next
}

impl OrderTruth {
    /// Notes that `e`'s answer told the merchant of the decline, if the merchant read it:
    /// proven by the next request on its connection (whatever it was for), or, for an
    /// entry of unknown connection, assumed from the time it went out (`told`).
    fn heard(&mut self, e: &LedgerEntry, told: AnsweredDecline, next: &HashMap<u64, u64>) {
        if e.conn == 0 {
            self.heard_at_ms = Some(self.heard_at_ms.map_or(told.at_ms, |h| h.min(told.at_ms)));
        } else if let Some(&p) = next.get(&e.seq) {
            self.read_from_seq = Some(self.read_from_seq.map_or(p, |r| r.min(p)));
        }
    }

    /// Whether the merchant had read the decline when it sent `e`.
    fn knew(&self, e: &LedgerEntry) -> bool {
        self.read_from_seq.is_some_and(|p| e.seq >= p)
            || self.heard_at_ms.is_some_and(|h| e.at_ms > h)
    }
}

fn add_charge(t: &mut OrderTruth, e: &LedgerEntry, next: &HashMap<u64, u64>) {
    t.attempts += 1;
    if let Some(c) = &e.raw_card {
        t.raw_card_requests += 1;
        t.raw_card
            .get_or_insert_with(|| (e.seq, e.at_ms, c.clone()));
    }
    let key = e.idempotency_key.as_deref();
    if t.attempts == 1 {
        t.first_card = e.card;
    }
    let declined_card = e.card != 0 && t.declined_cards.contains(&e.card);
    // Another card, none of whose charges declined, after a decline is the customer paying
    // again (a new payment, under a new key by necessity), not a retry of the declined
    // card: it is judged from a clean slate. A card that declined before is not.
    if t.judged_decline
        .as_ref()
        .is_some_and(|d| d.card != 0 && e.card != 0 && d.card != e.card)
        && !declined_card
    {
        t.judged_decline = None;
        t.answered_decline = None;
        t.read_from_seq = None;
        t.heard_at_ms = None;
    }
    // When this entry's answer told the merchant of the decline, if it did.
    let told_at = |e: &LedgerEntry, reason: FailReason| {
        (!e.unanswered).then_some(AnsweredDecline {
            seq: e.seq,
            reason,
            at_ms: e.at_ms.saturating_add(e.answer_delay_ms),
        })
    };
    if let Some(first) = &t.judged_decline {
        // No key at all ties nothing to the declined request: a new payment too.
        let new_key = key.is_none() || first.key.as_deref() != key;
        // A same-key request knew the decline only once the merchant had read an answer
        // telling it: a retry after its own timeout is the right recovery, however late the
        // answer went out.
        let knew = t.knew(e);
        if knew || new_key {
            t.after_decline.push(LaterCharge {
                seq: e.seq,
                attempt: e.attempt,
                result: e.result,
                new_key,
            });
        }
        let tells = match e.result {
            AttemptResult::Replayed => !new_key,
            AttemptResult::Declined(r) => is_hard(r),
            _ => false,
        };
        if let Some(a) = told_at(e, first.reason).filter(|_| tells) {
            // The earliest answer that reached the merchant is when it knew.
            if t.answered_decline.is_none_or(|b| a.at_ms < b.at_ms) {
                t.answered_decline = Some(a);
            }
            t.heard(e, a, next);
        }
    } else if declined_card {
        // Back to a card that declined, after another card's payment: a retry of it.
        t.after_decline.push(LaterCharge {
            seq: e.seq,
            attempt: e.attempt,
            result: e.result,
            new_key: true,
        });
    } else if let Some(reason) = e.declined.filter(|d| is_hard(*d)) {
        let d = FirstDecline {
            seq: e.seq,
            reason,
            key: key.map(str::to_string),
            card: e.card,
        };
        t.first_decline.get_or_insert_with(|| d.clone());
        t.judged_decline = Some(d);
        if matches!(e.result, AttemptResult::Declined(_)) {
            t.answered_decline = told_at(e, reason);
            if let Some(a) = t.answered_decline {
                t.heard(e, a, next);
            }
        }
    }
    if e.card != 0 && !declined_card && e.declined.is_some_and(is_hard) {
        t.declined_cards.push(e.card);
    }
    if let Some(d) = e.declined {
        if is_hard(d) {
            t.decline.get_or_insert(d);
            if e.fault != Some(FaultKind::LateCharge) {
                t.prompt_decline.get_or_insert(d);
            }
        }
        t.declines.insert(d);
    }
    if e.money_moved {
        t.charged += e.amount;
        t.charges += 1;
        if e.card != 0 && t.first_card != 0 && e.card != t.first_card {
            t.other_card_charged += e.amount;
        }
        match t
            .charges_by_channel
            .iter_mut()
            .find(|(c, _)| *c == e.channel)
        {
            Some((_, n)) => *n += 1,
            None => t.charges_by_channel.push((e.channel, 1)),
        }
        if let Some(p) = &e.payment_id {
            t.payment_ids.push(p.clone());
        }
    }
}

/// Whether a decline is the card's final answer. A `provider_error` decline is the
/// processor's soft `processing_error`: the same payment may be confirmed again.
pub fn is_hard(reason: FailReason) -> bool {
    reason != FailReason::ProviderError
}

/// A short name for an attempt's result, for discrepancy text.
pub fn result_label(r: AttemptResult) -> String {
    match r {
        AttemptResult::Ok => "ok".into(),
        AttemptResult::Declined(d) => format!("declined({})", d.as_str()),
        AttemptResult::AnswerLost => "answer_lost".into(),
        AttemptResult::Dropped => "dropped".into(),
        AttemptResult::ServerError => "server_error".into(),
        AttemptResult::RateLimited => "rate_limited".into(),
        AttemptResult::Replayed => "replayed".into(),
        AttemptResult::InFlightConflict => "in_flight_conflict".into(),
        AttemptResult::IdempotencyMismatch => "idempotency_mismatch".into(),
        AttemptResult::Invalid => "invalid".into(),
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A charge ledger entry: clean, `result` decides money and decline fields.
    pub(crate) fn charge(
        seq: u64,
        order: &str,
        attempt: u32,
        result: AttemptResult,
    ) -> LedgerEntry {
        let (money_moved, declined, status, fault) = match result {
            AttemptResult::Ok => (true, None, 200, None),
            AttemptResult::Declined(r) => (
                false,
                Some(r),
                402,
                Some(match r {
                    FailReason::RiskBlocked => FaultKind::RiskBlock,
                    _ => FaultKind::InsufficientFunds,
                }),
            ),
            AttemptResult::AnswerLost => (true, None, 0, Some(FaultKind::TimeoutAfterCharge)),
            AttemptResult::Dropped => (false, None, 0, Some(FaultKind::Timeout)),
            AttemptResult::ServerError => (false, None, 500, Some(FaultKind::ServerError)),
            AttemptResult::RateLimited => (false, None, 429, Some(FaultKind::RateLimit)),
            _ => (false, None, 200, None),
        };
        LedgerEntry {
            seq,
            at_ms: seq * 10,
            op: PaymentOp::Charge,
            order_id: Some(order.into()),
            payment_id: Some(format!("pi_{order}")),
            amount: 1000,
            currency: "usd".into(),
            idempotency_key: Some(format!("{order}:charge")),
            attempt,
            fault,
            result,
            declined,
            money_moved,
            status,
            unanswered: false,
            answer_delay_ms: 0,
            raw_card: None,
            channel: 0,
            card: 0,
            conn: 0,
        }
    }

    /// A paid-out refund of `amount` for `payment_id`, with or without the order id.
    pub(crate) fn refund(
        seq: u64,
        order: Option<&str>,
        payment_id: &str,
        amount: Amount,
    ) -> LedgerEntry {
        LedgerEntry {
            seq,
            at_ms: seq * 10,
            op: PaymentOp::Refund,
            order_id: order.map(Into::into),
            payment_id: Some(payment_id.into()),
            amount,
            currency: "usd".into(),
            idempotency_key: None,
            attempt: 0,
            fault: None,
            result: AttemptResult::Ok,
            declined: None,
            money_moved: true,
            status: 200,
            unanswered: false,
            answer_delay_ms: 0,
            raw_card: None,
            channel: 0,
            card: 0,
            conn: 0,
        }
    }

    #[test]
    fn refunds_match_by_order_id_or_by_payment_id() {
        let ledger = [
            charge(0, "ord-000001", 0, AttemptResult::Ok),
            charge(1, "ord-000002", 0, AttemptResult::Ok),
            refund(2, Some("ord-000001"), "pi_other", 400),
            refund(3, None, "pi_ord-000002", 1000),
            refund(4, None, "pi_unknown", 1000),
        ];
        let t = order_truths(&ledger);
        assert_eq!(t["ord-000001"].refunded, 400);
        assert_eq!(t["ord-000001"].net(), 600);
        assert_eq!(t["ord-000001"].label(), TruthLabel::Charged);
        assert_eq!(t["ord-000002"].net(), 0);
        assert_eq!(t["ord-000002"].label(), TruthLabel::Refunded);
        assert_eq!(t.len(), 2, "an unmatched refund creates no order");
    }

    #[test]
    fn labels_follow_money_then_decline_then_attempts() {
        let ledger = [
            charge(
                0,
                "ord-a",
                0,
                AttemptResult::Declined(FailReason::RiskBlocked),
            ),
            charge(1, "ord-b", 0, AttemptResult::Dropped),
            charge(2, "ord-c", 0, AttemptResult::Declined(FailReason::Declined)),
            charge(3, "ord-d", 0, AttemptResult::AnswerLost),
        ];
        let t = order_truths(&ledger);
        assert_eq!(t["ord-a"].label(), TruthLabel::DeclinedRiskBlocked);
        assert_eq!(t["ord-b"].label(), TruthLabel::NotCharged);
        assert_eq!(t["ord-c"].label(), TruthLabel::DeclinedOther);
        assert_eq!(t["ord-d"].label(), TruthLabel::Charged);
        assert_eq!(OrderTruth::default().label(), TruthLabel::NoAttempt);
        for t in TruthLabel::ALL {
            assert_eq!(TruthLabel::parse(t.as_str()), Some(t));
            assert_eq!(TruthLabel::ALL[t.index()], t);
        }
    }

    #[test]
    fn charges_after_an_answered_decline_are_listed_in_seq_order() {
        // Given out of order: seq decides what "after" means.
        let ledger = [
            charge(7, "ord-a", 2, AttemptResult::Replayed),
            charge(
                5,
                "ord-a",
                1,
                AttemptResult::Declined(FailReason::InsufficientFunds),
            ),
            charge(3, "ord-a", 0, AttemptResult::ServerError),
        ];
        let t = &order_truths(&ledger)["ord-a"];
        assert_eq!(t.attempts, 3);
        assert_eq!(
            t.answered_decline,
            Some(AnsweredDecline {
                seq: 5,
                reason: FailReason::InsufficientFunds,
                at_ms: 50,
            })
        );
        assert_eq!(t.after_decline.len(), 1);
        assert_eq!(t.after_decline[0].seq, 7);
    }

    #[test]
    fn a_soft_decline_is_neither_the_cards_decline_nor_a_hard_one() {
        let mut soft = charge(
            0,
            "ord-a",
            0,
            AttemptResult::Declined(FailReason::ProviderError),
        );
        soft.fault = Some(FaultKind::ProcessingError);
        let ledger = [soft, charge(1, "ord-a", 1, AttemptResult::Ok)];
        let t = &order_truths(&ledger)["ord-a"];
        assert_eq!(
            t.answered_decline, None,
            "retrying it is no hard decline retried"
        );
        assert!(t.after_decline.is_empty());
        assert_eq!(t.decline, None);
        assert!(t.declines.contains(&FailReason::ProviderError));
        assert_eq!(t.label(), TruthLabel::Charged);
        let only_soft = [charge(
            0,
            "ord-b",
            0,
            AttemptResult::Declined(FailReason::ProviderError),
        )];
        assert_eq!(
            order_truths(&only_soft)["ord-b"].label(),
            TruthLabel::NotCharged
        );
    }

    #[test]
    fn a_lost_decline_counts_as_decline_and_is_heard_from_its_replay() {
        let mut lost = charge(0, "ord-a", 0, AttemptResult::AnswerLost);
        lost.money_moved = false;
        lost.declined = Some(FailReason::InsufficientFunds);
        let ledger = [lost, charge(1, "ord-a", 1, AttemptResult::Replayed)];
        let t = &order_truths(&ledger)["ord-a"];
        assert_eq!(t.decline, Some(FailReason::InsufficientFunds));
        assert_eq!(t.first_decline.as_ref().map(|d| d.seq), Some(0));
        assert_eq!(
            t.answered_decline,
            Some(AnsweredDecline {
                seq: 1,
                reason: FailReason::InsufficientFunds,
                at_ms: 10,
            }),
            "the replay under its key told the merchant"
        );
        assert!(t.after_decline.is_empty());
        assert_eq!(t.label(), TruthLabel::DeclinedInsufficientFunds);
    }

    /// #9: a 402 the merchant's own timeout cut off, retried under its key until a replay
    /// reaches it, is not a retried decline; a request after that replay is.
    #[test]
    fn a_decline_counts_as_heard_only_once_its_answer_or_replay_was_delivered() {
        let unheard = |mut e: LedgerEntry| {
            e.unanswered = true;
            e
        };
        let declined = AttemptResult::Declined(FailReason::InsufficientFunds);
        let mut ledger = vec![
            unheard(charge(0, "ord-a", 0, declined)),
            unheard(charge(1, "ord-a", 1, AttemptResult::Replayed)),
            charge(2, "ord-a", 2, AttemptResult::Replayed),
        ];
        let t = &order_truths(&ledger)["ord-a"];
        assert_eq!(t.answered_decline.map(|d| d.seq), Some(2));
        assert!(t.after_decline.is_empty(), "{:?}", t.after_decline);

        ledger.push(charge(3, "ord-a", 3, AttemptResult::Replayed));
        let t = &order_truths(&ledger)["ord-a"];
        assert_eq!(t.after_decline.len(), 1);
        assert_eq!(
            (t.after_decline[0].seq, t.after_decline[0].new_key),
            (3, false)
        );
    }

    #[test]
    fn a_request_sent_before_the_declines_answer_went_out_did_not_know_it() {
        // A client that gave up after 500 ms but kept its connection: the 402 went out at
        // 700 ms, after the retries of 510 and 530 ms (409s: the key was still in flight).
        let at = |seq, ms, result| {
            let mut e = charge(seq, "ord-a", seq as u32, result);
            e.at_ms = ms;
            e
        };
        let mut first = at(0, 0, AttemptResult::Declined(FailReason::InsufficientFunds));
        first.answer_delay_ms = 700;
        let mut ledger = vec![
            first,
            at(1, 510, AttemptResult::InFlightConflict),
            at(2, 530, AttemptResult::InFlightConflict),
        ];
        let t = &order_truths(&ledger)["ord-a"];
        assert_eq!(t.answered_decline.map(|a| a.at_ms), Some(700));
        assert!(t.after_decline.is_empty(), "{:?}", t.after_decline);

        ledger.push(at(3, 701, AttemptResult::Replayed));
        let t = &order_truths(&ledger)["ord-a"];
        assert_eq!(t.after_decline.len(), 1, "sent once the 402 was out");
    }

    #[test]
    fn a_new_key_after_a_decline_retries_it_even_unheard() {
        let mut first = charge(
            0,
            "ord-a",
            0,
            AttemptResult::Declined(FailReason::RiskBlocked),
        );
        first.unanswered = true;
        let mut fresh = charge(
            1,
            "ord-a",
            1,
            AttemptResult::Declined(FailReason::RiskBlocked),
        );
        fresh.idempotency_key = Some("ord-a:charge:1".into());
        let t = &order_truths(&[first, fresh])["ord-a"];
        assert_eq!(t.after_decline.len(), 1);
        assert!(t.after_decline[0].new_key);
        assert_eq!(t.answered_decline.map(|d| d.seq), Some(1));
    }

    #[test]
    fn a_late_charges_decline_is_no_prompt_decline() {
        let mut late = charge(
            0,
            "ord-a",
            0,
            AttemptResult::Declined(FailReason::InsufficientFunds),
        );
        (late.fault, late.result, late.unanswered) =
            (Some(FaultKind::LateCharge), AttemptResult::AnswerLost, true);
        let t = &order_truths(&[late])["ord-a"];
        assert_eq!(t.decline, Some(FailReason::InsufficientFunds));
        assert_eq!(t.prompt_decline, None);
    }
}
