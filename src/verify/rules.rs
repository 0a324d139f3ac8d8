//! One invariant per function. Each takes the per-order view of the evidence and returns
//! every violation it finds; none depends on another's result, so each discrepancy belongs to
//! exactly one check.

use crate::domain::{CheckoutAnswer, FailReason, OrderSnapshot, OrderStatus, WebhookAttempt};

use super::discrepancy::{Check, Discrepancy};
use super::truth::{result_label, OrderTruth};

/// Everything known about one verified order.
#[derive(Clone, Copy, Debug)]
pub struct OrderView<'a> {
    pub order_id: &'a str,
    pub truth: &'a OrderTruth,
    /// What the customer was told at checkout.
    pub told: &'a CheckoutAnswer,
    /// The merchant's final state; `None` when the order is missing from the export.
    pub snapshot: Option<&'a OrderSnapshot>,
}

impl OrderView<'_> {
    pub fn final_status(&self) -> Option<OrderStatus> {
        self.snapshot.map(|s| s.status)
    }

    /// The final state's label, `missing` when the export lacks the order.
    pub fn final_label(&self) -> &'static str {
        self.final_status().map_or("missing", OrderStatus::label)
    }

    /// Final state failed, or the order missing from the export.
    fn final_failed_or_missing(&self) -> bool {
        matches!(self.final_status(), None | Some(OrderStatus::Failed(_)))
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

/// The label of a checkout answer: an order status label, `error` or `shed`.
pub fn answer_label(a: &CheckoutAnswer) -> &'static str {
    match a {
        CheckoutAnswer::Told { status } => status.label(),
        CheckoutAnswer::Error { .. } => "error",
        CheckoutAnswer::Shed => "shed",
    }
}

/// The evidence the rules read: verified orders (sorted by id) and the webhook log.
#[derive(Clone, Debug)]
pub struct Context<'a> {
    pub orders: Vec<OrderView<'a>>,
    pub webhooks: &'a [WebhookAttempt],
}

impl<'a> Context<'a> {
    fn order(&self, id: &str) -> Option<&OrderView<'a>> {
        self.orders
            .binary_search_by(|o| o.order_id.cmp(id))
            .ok()
            .map(|i| &self.orders[i])
    }
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
        Check::HardDeclineRetried => hard_decline_retried(ctx),
    }
}

/// Money kept for an order that did not end paid, when the customer was not told pending.
pub fn lost_payment(ctx: &Context) -> Vec<Discrepancy> {
    ctx.orders
        .iter()
        .filter(|o| o.truth.net() > 0 && o.final_failed_or_missing() && !o.told_pending())
        .map(|o| {
            Discrepancy::new(
                Check::LostPayment,
                o.order_id,
                format!("order paid, or the {} kept refunded", o.truth.net()),
                format!(
                    "{}; final {}; told {}",
                    o.money(),
                    o.final_label(),
                    answer_label(o.told)
                ),
            )
        })
        .collect()
}

/// Money kept for an order told pending and then given up on.
pub fn refund_owed(ctx: &Context) -> Vec<Discrepancy> {
    ctx.orders
        .iter()
        .filter(|o| o.truth.net() > 0 && o.final_failed_or_missing() && o.told_pending())
        .map(|o| {
            Discrepancy::new(
                Check::RefundOwed,
                o.order_id,
                format!(
                    "refund of {} (told pending, final {})",
                    o.truth.net(),
                    o.final_label()
                ),
                o.money(),
            )
        })
        .collect()
}

/// A paid order with no money kept behind it.
pub fn free_goods(ctx: &Context) -> Vec<Discrepancy> {
    ctx.orders
        .iter()
        .filter(|o| o.final_status() == Some(OrderStatus::Paid) && o.truth.net() <= 0)
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

/// More than one capture for one order.
pub fn double_charge(ctx: &Context) -> Vec<Discrepancy> {
    ctx.orders
        .iter()
        .filter(|o| o.truth.charges > 1)
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

/// A failure reason at checkout that the ledger contradicts.
pub fn wrong_reason(ctx: &Context) -> Vec<Discrepancy> {
    ctx.orders
        .iter()
        .filter_map(|o| {
            let CheckoutAnswer::Told {
                status: OrderStatus::Failed(told),
            } = *o.told
            else {
                return None;
            };
            let t = o.truth;
            let specific = t
                .declines
                .iter()
                .any(|d| matches!(d, FailReason::InsufficientFunds | FailReason::RiskBlocked));
            let wrong = match told {
                FailReason::InsufficientFunds | FailReason::RiskBlocked => {
                    !t.declines.contains(&told)
                }
                FailReason::Declined => specific,
                FailReason::ProviderError => !t.declines.is_empty(),
            };
            if !wrong {
                return None;
            }
            let expected = match t.decline {
                Some(d) => format!("failed_{} (the ledger's decline)", d.as_str()),
                None => "no card-decline reason: the ledger has no decline".to_string(),
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
                format!(
                    "told failed_{}; ledger declines: {ledger}; {}",
                    told.as_str(),
                    o.money()
                ),
            ))
        })
        .collect()
}

/// An order still pending after the drain.
pub fn stuck_pending(ctx: &Context) -> Vec<Discrepancy> {
    ctx.orders
        .iter()
        .filter(|o| o.final_status() == Some(OrderStatus::Pending))
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

/// A forged webhook delivery the merchant acknowledged (for a verified order).
pub fn forged_accepted(ctx: &Context) -> Vec<Discrepancy> {
    ctx.webhooks
        .iter()
        .filter(|w| w.forged && w.acknowledged())
        .filter_map(|w| {
            let order = ctx.order(w.order_id.as_deref()?)?;
            let status = w.status.map_or("none".into(), |s| s.to_string());
            Some(Discrepancy::new(
                Check::ForgedAccepted,
                order.order_id,
                format!("forged {} {} refused (4xx)", w.event_type, w.event_id),
                format!("acknowledged with {status} (attempt {})", w.attempt),
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
                    format!("fulfilled {n} times; final {}", o.final_label()),
                )
            })
        })
        .collect()
}

/// A charge request after the provider answered a decline for the order.
pub fn hard_decline_retried(ctx: &Context) -> Vec<Discrepancy> {
    ctx.orders
        .iter()
        .filter_map(|o| {
            let d = o.truth.answered_decline?;
            let first = o.truth.after_decline.first()?;
            Some(Discrepancy::new(
                Check::HardDeclineRetried,
                o.order_id,
                format!(
                    "no charge request after the {} decline at seq {}",
                    d.reason.as_str(),
                    d.seq
                ),
                format!(
                    "{} charge request(s) after it, first at seq {} (attempt {}, {})",
                    o.truth.after_decline.len(),
                    first.seq,
                    first.attempt,
                    result_label(first.result)
                ),
            ))
        })
        .collect()
}
