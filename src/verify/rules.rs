//! One invariant per function. Each takes the per-order view of the evidence and returns
//! every violation it finds; none depends on another's result.
//!
//! Attribution: a bad order that two checks could name is named by the most specific one
//! only, so that each flaw shows under one check. `out_of_order` explains a failed order
//! whose payment succeeded by the stale `payment_failed` event acknowledged after the
//! `succeeded` one; `lost_payment` and `refund_owed` leave such orders to it.
//! `unattributed_charge` explains a paid order whose money sits in a charge that does not
//! name it; `free_goods` leaves it alone. `wrong_reason` judges a final failure's reason only
//! for an order that kept no money: a charged order left failed is a money check's.

use std::collections::BTreeMap;

use crate::domain::{
    Amount, CheckoutAnswer, CopyKind, FailReason, FinalState, LedgerEntry, OrderSnapshot,
    OrderStatus, WebhookAttempt,
};

use super::discrepancy::{Check, Discrepancy};
use super::truth::{result_label, OrderTruth};
use super::unattributed::{attribute, Attribution};
use crate::load::journeys::JourneyRecord;

/// Everything known about one verified order.
#[derive(Clone, Copy, Debug)]
pub struct OrderView<'a> {
    pub order_id: &'a str,
    pub truth: &'a OrderTruth,
    /// What the customer was told at checkout.
    pub told: &'a CheckoutAnswer,
    /// The merchant's final state; `None` when the order is missing from the export.
    pub snapshot: Option<&'a OrderSnapshot>,
    /// The checkout's amount.
    pub amount: Amount,
    /// From the checkout's intended send time to its answer, in run ms.
    pub window_ms: (u64, u64),
}

impl OrderView<'_> {
    pub fn final_status(&self) -> Option<OrderStatus> {
        self.snapshot.map(|s| s.status)
    }

    /// The final state, `missing` when the export lacks the order.
    pub fn final_state(&self) -> FinalState {
        self.final_status()
            .map_or(FinalState::Missing, FinalState::of)
    }

    /// Final state failed, or the order missing from the export.
    fn final_failed_or_missing(&self) -> bool {
        matches!(self.final_status(), None | Some(OrderStatus::Failed(_)))
    }

    fn told_failed(&self) -> bool {
        matches!(
            self.told,
            CheckoutAnswer::Told {
                status: OrderStatus::Failed(_)
            }
        )
    }

    fn told_pending(&self) -> bool {
        matches!(
            self.told,
            CheckoutAnswer::Told {
                status: OrderStatus::Pending
            }
        )
    }

    /// `charged 2000 in 2 charge(s), refunded 0, net 2000`.
    fn money(&self) -> String {
        let t = self.truth;
        format!(
            "charged {} in {} charge(s), refunded {}, net {}",
            t.charged,
            t.charges,
            t.refunded,
            t.net()
        )
    }
}

/// The label of a checkout answer: an order status label or `error`.
pub fn answer_label(a: &CheckoutAnswer) -> &'static str {
    match a {
        CheckoutAnswer::Told { status } => status.label(),
        CheckoutAnswer::Error { .. } => "error",
    }
}

/// The evidence the rules read: verified orders (sorted by id) and the webhook log.
#[derive(Clone, Debug)]
pub struct Context<'a> {
    pub orders: Vec<OrderView<'a>>,
    pub webhooks: &'a [WebhookAttempt],
    /// Per payment id: a `payment_failed` event acknowledged after its `succeeded` one.
    late_failures: BTreeMap<&'a str, LateFailure<'a>>,
    /// Charges naming no order of the run, and the orders they are tied to.
    pub attribution: Attribution<'a>,
    /// The run's card testers and the merchant's declared limits; `None`: no testers.
    pub card_testing: Option<&'a super::card_testing::CardTestingPlan>,
    /// The customers' journeys through challenges, by order id (see `journeys`).
    pub journeys: BTreeMap<&'a str, &'a JourneyRecord>,
}

/// A `payment_failed` event of a payment acknowledged after that payment's `succeeded` event.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LateFailure<'a> {
    pub succeeded: &'a str,
    pub failed: &'a str,
}

impl<'a> Context<'a> {
    /// The context over `orders` (sorted by id), the webhook log (in send order) and the
    /// ledger.
    pub fn new(
        orders: Vec<OrderView<'a>>,
        webhooks: &'a [WebhookAttempt],
        ledger: &'a [LedgerEntry],
    ) -> Context<'a> {
        Context {
            attribution: attribute(ledger, &orders),
            orders,
            webhooks,
            late_failures: late_failures(webhooks),
            card_testing: None,
            journeys: BTreeMap::new(),
        }
    }

    fn order(&self, id: &str) -> Option<&OrderView<'a>> {
        self.orders
            .binary_search_by(|o| o.order_id.cmp(id))
            .ok()
            .map(|i| &self.orders[i])
    }

    /// The stale event that explains why `o` ended failed although it was charged: one of its
    /// charged payments had a `payment_failed` acknowledged after its `succeeded`, and the
    /// checkout had not told the customer it failed. `None` otherwise.
    pub fn overwritten(&self, o: &OrderView) -> Option<(&'a str, LateFailure<'a>)> {
        if o.truth.net() <= 0 || o.told_failed() {
            return None;
        }
        if !matches!(o.final_status(), Some(OrderStatus::Failed(_))) {
            return None;
        }
        o.truth.payment_ids.iter().find_map(|p| {
            self.late_failures
                .get_key_value(p.as_str())
                .map(|(k, v)| (*k, *v))
        })
    }
}

/// Scans the log in send order for acknowledged `payment_failed` deliveries of a payment
/// whose `succeeded` event was acknowledged before (attacker copies aside).
fn late_failures(log: &[WebhookAttempt]) -> BTreeMap<&str, LateFailure<'_>> {
    let mut succeeded: BTreeMap<&str, &str> = BTreeMap::new();
    let mut out = BTreeMap::new();
    for w in log.iter().filter(|w| !w.is_attack() && w.acknowledged()) {
        let Some(p) = w.payment_id.as_deref() else {
            continue;
        };
        match w.event_type.as_str() {
            "payment_intent.succeeded" => {
                succeeded.entry(p).or_insert(w.event_id.as_str());
            }
            "payment_intent.payment_failed" => {
                if let Some(&ok) = succeeded.get(p) {
                    out.entry(p).or_insert(LateFailure {
                        succeeded: ok,
                        failed: w.event_id.as_str(),
                    });
                }
            }
            _ => {}
        }
    }
    out
}

/// Runs one check.
pub fn run(check: Check, ctx: &Context) -> Vec<Discrepancy> {
    match check {
        Check::LostPayment => lost_payment(ctx),
        Check::RefundOwed => refund_owed(ctx),
        Check::FreeGoods => free_goods(ctx),
        Check::DoubleCharge => double_charge(ctx),
        Check::WrongReason => wrong_reason(ctx),
        Check::StuckPending => stuck_pending(ctx),
        Check::ForgedAccepted => forged_accepted(ctx),
        Check::DuplicateApplied => duplicate_applied(ctx),
        Check::OutOfOrder => out_of_order(ctx),
        Check::HardDeclineRetried => hard_decline_retried(ctx),
        Check::UnattributedCharge => unattributed_charge(ctx),
        Check::WebhookRejected => webhook_rejected(ctx),
        Check::RawCardData => raw_card_data(ctx),
        Check::CardTestingUnthrottled => super::card_testing::unthrottled(ctx),
        Check::ChargedOnTwoChannels => super::channels::charged_on_two_channels(ctx),
        Check::PaidOnForgedReturn => super::journeys::paid_on_forged_return(ctx),
        Check::CustomerMisinformed => super::journeys::customer_misinformed(ctx),
        Check::AbandonedNotReleased => super::journeys::abandoned_not_released(ctx),
    }
}

/// Money kept for an order that did not end paid, when the customer was not told pending
/// (unless `out_of_order` explains it).
pub fn lost_payment(ctx: &Context) -> Vec<Discrepancy> {
    ctx.orders
        .iter()
        .filter(|o| o.truth.net() > 0 && o.final_failed_or_missing() && !o.told_pending())
        .filter(|o| ctx.overwritten(o).is_none())
        .map(|o| {
            Discrepancy::new(
                Check::LostPayment,
                o.order_id,
                format!("order paid, or the {} kept refunded", o.truth.net()),
                format!(
                    "{}; final {}; told {}",
                    o.money(),
                    o.final_state().as_str(),
                    answer_label(o.told)
                ),
            )
        })
        .collect()
}

/// Money kept for an order told pending and then given up on (unless `out_of_order`
/// explains it).
pub fn refund_owed(ctx: &Context) -> Vec<Discrepancy> {
    ctx.orders
        .iter()
        .filter(|o| o.truth.net() > 0 && o.final_failed_or_missing() && o.told_pending())
        .filter(|o| ctx.overwritten(o).is_none())
        .map(|o| {
            Discrepancy::new(
                Check::RefundOwed,
                o.order_id,
                format!(
                    "refund of {} (told pending, final {})",
                    o.truth.net(),
                    o.final_state().as_str()
                ),
                o.money(),
            )
        })
        .collect()
}

/// A paid order with no money kept behind it (unless `unattributed_charge` finds its money
/// in a charge that does not name it).
pub fn free_goods(ctx: &Context) -> Vec<Discrepancy> {
    ctx.orders
        .iter()
        .filter(|o| o.final_status() == Some(OrderStatus::Paid) && o.truth.net() <= 0)
        .filter(|o| !ctx.attribution.paid_by.contains_key(o.order_id))
        // A forged return believed explains it: `paid_on_forged_return` names it.
        .filter(|o| !super::journeys::believed_forgery(ctx, o.order_id))
        .map(|o| {
            Discrepancy::new(
                Check::FreeGoods,
                o.order_id,
                "net > 0 behind a paid order",
                format!(
                    "{}; {} charge request(s); final paid",
                    o.money(),
                    o.truth.attempts
                ),
            )
        })
        .collect()
}

/// More than one capture for one order on one channel (captures on two channels are
/// `charged_on_two_channels`').
pub fn double_charge(ctx: &Context) -> Vec<Discrepancy> {
    ctx.orders
        .iter()
        .filter(|o| o.truth.most_charges_on_one_channel() > 1)
        .map(|o| {
            Discrepancy::new(
                Check::DoubleCharge,
                o.order_id,
                "at most 1 charge",
                format!(
                    "{} charges totalling {} ({})",
                    o.truth.charges,
                    o.truth.charged,
                    o.truth.payment_ids.join(", ")
                ),
            )
        })
        .collect()
}

/// A failure reason the ledger contradicts: the one told at checkout, or else the one the
/// order ended with (the customer told "pending" learns it later). A final reason is judged
/// only when the order kept no money: a charged order that ended failed is `lost_payment`'s,
/// `refund_owed`'s or `out_of_order`'s, whatever its reason.
pub fn wrong_reason(ctx: &Context) -> Vec<Discrepancy> {
    ctx.orders
        .iter()
        .filter_map(|o| {
            let t = o.truth;
            let told = match o.told {
                CheckoutAnswer::Told {
                    status: OrderStatus::Failed(r),
                } => Some(*r),
                _ => None,
            };
            if super::card_testing::refused_tester(ctx, o) {
                return None;
            }
            let story = match (told, o.final_status()) {
                (Some(r), _) if reason_is_wrong(r, t) => format!("told failed_{}", r.as_str()),
                (_, Some(OrderStatus::Failed(r))) if t.net() <= 0 && reason_is_wrong(r, t) => {
                    format!(
                        "final failed_{} (told {})",
                        r.as_str(),
                        answer_label(o.told)
                    )
                }
                _ => return None,
            };
            let expected = match t.decline {
                Some(d) => format!("failed_{} (the ledger's decline)", d.as_str()),
                None => "failed_provider_error: the ledger has no card decline".to_string(),
            };
            let ledger = if t.declines.is_empty() {
                "none".to_string()
            } else {
                let v: Vec<_> = t.declines.iter().map(|d| d.as_str()).collect();
                v.join(", ")
            };
            Some(Discrepancy::new(
                Check::WrongReason,
                o.order_id,
                expected,
                format!("{story}; ledger declines: {ledger}; {}", o.money()),
            ))
        })
        .collect()
}

/// Whether failing an order with `reason` contradicts what the ledger knows of it.
fn reason_is_wrong(reason: FailReason, t: &OrderTruth) -> bool {
    let specific = t
        .declines
        .iter()
        .any(|d| matches!(d, FailReason::InsufficientFunds | FailReason::RiskBlocked));
    match reason {
        FailReason::InsufficientFunds | FailReason::RiskBlocked => !t.declines.contains(&reason),
        // "Declined" is right only for a generic card decline, never for provider
        // trouble or when the ledger knows the specific reason.
        FailReason::Declined => specific || !t.declines.contains(&FailReason::Declined),
        // Provider trouble (a processing error included) unless the card declined while
        // the merchant was still asking.
        FailReason::ProviderError => t.prompt_decline.is_some(),
    }
}

/// An order still pending after the drain.
pub fn stuck_pending(ctx: &Context) -> Vec<Discrepancy> {
    ctx.orders
        .iter()
        .filter(|o| o.final_status() == Some(OrderStatus::Pending))
        // An abandoned challenge explains it: `abandoned_not_released` names it.
        .filter(|o| !super::journeys::abandoned_pending(ctx, o))
        .map(|o| {
            Discrepancy::new(
                Check::StuckPending,
                o.order_id,
                "paid or failed after the drain",
                format!(
                    "pending; provider truth {} ({})",
                    o.truth.label().as_str(),
                    o.money()
                ),
            )
        })
        .collect()
}

/// An attacker-style webhook delivery (forged, stale or unsigned) the merchant acknowledged
/// (for a verified order).
pub fn forged_accepted(ctx: &Context) -> Vec<Discrepancy> {
    ctx.webhooks
        .iter()
        .filter(|w| w.is_attack() && w.acknowledged())
        .filter_map(|w| {
            let order = ctx.order(w.order_id.as_deref()?)?;
            let kind = w.copy();
            let status = w.status.map_or("none".into(), |s| s.to_string());
            let why = match kind {
                CopyKind::Forged => "signed with a wrong secret",
                CopyKind::Stale => "signature timestamp outside the 300 s tolerance",
                _ => "no Stripe-Signature header",
            };
            let kind = kind.as_str();
            Some(Discrepancy::new(
                Check::ForgedAccepted,
                order.order_id,
                format!("{kind} {} {} refused (4xx)", w.event_type, w.event_id),
                format!(
                    "{kind} copy ({why}) acknowledged with {status} (attempt {})",
                    w.attempt
                ),
            ))
        })
        .collect()
}

/// An order fulfilled more than once.
pub fn duplicate_applied(ctx: &Context) -> Vec<Discrepancy> {
    ctx.orders
        .iter()
        .filter_map(|o| {
            let n = o.snapshot?.fulfilments?;
            (n > 1).then(|| {
                Discrepancy::new(
                    Check::DuplicateApplied,
                    o.order_id,
                    "fulfilled at most once",
                    format!("fulfilled {n} times; final {}", o.final_state().as_str()),
                )
            })
        })
        .collect()
}

/// A charged order left failed because an older `payment_failed` event, acknowledged after
/// its payment's `succeeded` event, overwrote the outcome.
pub fn out_of_order(ctx: &Context) -> Vec<Discrepancy> {
    ctx.orders
        .iter()
        .filter_map(|o| {
            let (payment, late) = ctx.overwritten(o)?;
            Some(Discrepancy::new(
                Check::OutOfOrder,
                o.order_id,
                format!(
                    "paid: {payment} succeeded ({}), and the older payment_failed {} changes nothing",
                    late.succeeded, late.failed
                ),
                format!(
                    "final {}: payment_failed {} acknowledged after succeeded {}; told {}; {}",
                    o.final_state().as_str(),
                    late.failed,
                    late.succeeded,
                    answer_label(o.told),
                    o.money()
                ),
            ))
        })
        .collect()
}

/// A charge request that retried a hard decline: after the merchant heard it, or under a
/// new key. A retry under the same key before the answer reached the merchant (lost to a
/// fault or to its own timeout) is what it must do, and gets the decline replayed.
pub fn hard_decline_retried(ctx: &Context) -> Vec<Discrepancy> {
    ctx.orders
        .iter()
        .filter_map(|o| {
            let d = o.truth.first_decline.as_ref()?;
            let first = o.truth.after_decline.first()?;
            let why = match o.truth.answered_decline {
                Some(a) if a.seq < first.seq => {
                    format!("after the decline reached the merchant at seq {}", a.seq)
                }
                _ => "under a new idempotency key".to_string(),
            };
            Some(Discrepancy::new(
                Check::HardDeclineRetried,
                o.order_id,
                format!(
                    "no charge request once the {} decline (seq {}) had reached the merchant, \
                     nor under another key",
                    d.reason.as_str(),
                    d.seq
                ),
                format!(
                    "{} charge request(s) retried it, first at seq {} (attempt {}, {}) {why}",
                    o.truth.after_decline.len(),
                    first.seq,
                    first.attempt,
                    result_label(first.result)
                ),
            ))
        })
        .collect()
}

/// A charge that moved money naming no order the run sent. Named by the paid order whose
/// money it holds, else by the one checkout of its amount in flight when it arrived, else
/// by the order id it carried, else by its payment id.
pub fn unattributed_charge(ctx: &Context) -> Vec<Discrepancy> {
    let a = &ctx.attribution;
    let mut out: Vec<Discrepancy> = a
        .paid_by
        .iter()
        .map(|(&order, &i)| {
            Discrepancy::new(
                Check::UnattributedCharge,
                order,
                format!("a charge naming {order}"),
                format!(
                    "final paid, but no charge names it: its money is only in unattributed charge {}",
                    a.charges[i].describe()
                ),
            )
        })
        .collect();
    let named: Vec<usize> = a.paid_by.values().copied().collect();
    for (i, c) in a.charges.iter().enumerate() {
        if named.contains(&i) {
            continue;
        }
        let (id, whose) = match a.likely.get(&i) {
            Some(&order) => {
                let own = ctx.order(order).map_or(String::new(), |o| {
                    if o.truth.payment_ids.is_empty() {
                        String::new()
                    } else {
                        format!(
                            ", which has its own charge(s) {}",
                            o.truth.payment_ids.join(", ")
                        )
                    }
                });
                (
                    order.to_string(),
                    format!(
                        "; by amount and time it is {order}'s (its checkout was in flight){own}"
                    ),
                )
            }
            None => (
                c.entry
                    .order_id
                    .clone()
                    .or_else(|| c.entry.payment_id.clone())
                    .unwrap_or_else(|| format!("seq {}", c.entry.seq)),
                "; no single checkout of that amount was in flight then".to_string(),
            ),
        };
        out.push(Discrepancy::new(
            Check::UnattributedCharge,
            id,
            "every charge names an order the run sent",
            format!("charge {}{whose}", c.describe()),
        ));
    }
    out
}

/// Genuine webhook deliveries (the event or its duplicate, correctly signed) the merchant
/// answered with a refusal, one finding per event.
pub fn webhook_rejected(ctx: &Context) -> Vec<Discrepancy> {
    let mut by_event: BTreeMap<&str, Vec<&WebhookAttempt>> = BTreeMap::new();
    for w in ctx.webhooks.iter().filter(|w| !w.is_attack()) {
        by_event.entry(w.event_id.as_str()).or_default().push(w);
    }
    by_event
        .into_iter()
        .filter_map(|(event, attempts)| {
            let refused: Vec<&&WebhookAttempt> = attempts.iter().filter(|w| w.refused()).collect();
            let first = refused.first()?;
            let answers: Vec<String> = refused
                .iter()
                .map(|w| {
                    let copy = if w.duplicate { " (duplicate)" } else { "" };
                    let answer = w
                        .status
                        .map_or("a 2xx without the required body".into(), |s| s.to_string());
                    format!("attempt {}{copy}: {answer}", w.attempt)
                })
                .collect();
            let later = if attempts.iter().any(|w| w.acknowledged()) {
                "acknowledged later"
            } else {
                "never acknowledged"
            };
            let id = first
                .order_id
                .clone()
                .or_else(|| first.payment_id.clone())
                .unwrap_or_else(|| event.to_string());
            Some(Discrepancy::new(
                Check::WebhookRejected,
                id,
                format!(
                    "every delivery of {} {event} acknowledged with a 2xx",
                    first.event_type
                ),
                format!(
                    "{} of {} attempt(s) refused ({}); {later}",
                    refused.len(),
                    attempts.len(),
                    answers.join(", ")
                ),
            ))
        })
        .collect()
}

/// An order whose charge requests reached the provider with a raw card number instead of a
/// token or payment method id: the merchant took card data into its own systems.
pub fn raw_card_data(ctx: &Context) -> Vec<Discrepancy> {
    ctx.orders
        .iter()
        .filter_map(|o| {
            let (seq, at_ms, card) = o.truth.raw_card.as_ref()?;
            let via = match &card.via {
                Some(v) => format!(
                    " of payment method {} (created from it at seq {}, {} ms)",
                    v.payment_method, v.seq, v.at_ms
                ),
                None => String::new(),
            };
            Some(Discrepancy::new(
                Check::RawCardData,
                o.order_id,
                "charge requests naming a token or payment method id, no card number",
                format!(
                    "{} charge request(s) carried {} ({}){via}, first at seq {seq} ({at_ms} ms)",
                    o.truth.raw_card_requests,
                    card.param,
                    card.masked()
                ),
            ))
        })
        .collect()
}
