//! The checks about the customer's way through a 3D Secure challenge, read from the
//! journeys the customer simulator recorded beside the ledger and the final states:
//! `paid_on_forged_return` (a return page with forged success parameters was believed),
//! `customer_misinformed` (the return page told the customer the opposite of the truth),
//! `abandoned_not_released` (a challenge nobody finished left its order pending). Each
//! finding quotes the journey's steps and the ledger's money. A believed forgery explains
//! what the customer hears after it and a paid order without money (`free_goods` leaves
//! it here too); an abandoned challenge explains a pending order (`stuck_pending` leaves it).

use std::collections::BTreeMap;

use crate::domain::{CheckoutAnswer, OrderStatus};
use crate::load::journeys::{JourneyRecord, JourneyStep};

use super::discrepancy::{Check, Discrepancy};
use super::rules::{answer_label, Context, OrderView};

/// The journeys of a run by order id (first record wins).
pub fn by_order(journeys: &[JourneyRecord]) -> BTreeMap<&str, &JourneyRecord> {
    let mut m = BTreeMap::new();
    for j in journeys {
        m.entry(j.order_id.as_str()).or_insert(j);
    }
    m
}

/// `journey completes: challenge_shown → verdict → returned (told paid)`.
fn chain(j: &JourneyRecord) -> String {
    let steps: Vec<&str> = j.steps.iter().map(|(s, _)| s.as_str()).collect();
    let told = |a: &Option<CheckoutAnswer>| a.as_ref().map_or("-", answer_label);
    format!(
        "journey {}: {} (forged return told {}, return told {})",
        j.journey,
        if steps.is_empty() {
            "no step".to_string()
        } else {
            steps.join(" → ")
        },
        told(&j.forged),
        told(&j.returned)
    )
}

fn told_paid(a: &Option<CheckoutAnswer>) -> bool {
    matches!(
        a,
        Some(CheckoutAnswer::Told {
            status: OrderStatus::Paid
        })
    )
}

/// Whether the order's forged return was answered "paid": the merchant believed
/// `redirect_status=succeeded` from the browser.
pub fn believed_forgery(ctx: &Context, order_id: &str) -> bool {
    ctx.journeys
        .get(order_id)
        .is_some_and(|j| j.did(JourneyStep::ForgedReturn) && told_paid(&j.forged))
}

/// A return page with forged success parameters told the customer "paid": it was loaded
/// before the challenge, so no money could have moved yet.
pub fn paid_on_forged_return(ctx: &Context) -> Vec<Discrepancy> {
    ctx.orders
        .iter()
        .filter(|o| believed_forgery(ctx, o.order_id))
        .map(|o| {
            let j = ctx.journeys[o.order_id];
            Discrepancy::new(
                Check::PaidOnForgedReturn,
                o.order_id,
                "a forged return page (redirect_status=succeeded, before the challenge) told pending or failed",
                format!("{}; {}; final {}", chain(j), money(o), o.final_state().as_str()),
            )
        })
        .collect()
}

/// The return page after the challenge told the customer the opposite of the truth:
/// failure (or no answer at all, a broken page) for a payment the ledger charged, or
/// "paid" for one it did not.
pub fn customer_misinformed(ctx: &Context) -> Vec<Discrepancy> {
    ctx.orders
        .iter()
        // A forged return believed explains what follows: `paid_on_forged_return` names it.
        .filter(|o| !believed_forgery(ctx, o.order_id))
        .filter_map(|o| {
            let j = ctx.journeys.get(o.order_id)?;
            let told = j.returned.as_ref()?;
            // What another card paid after the return page (the customer paying again) is
            // no news the page could have told.
            let charged = o.truth.net() - i128::from(o.truth.other_card_charged) > 0;
            let wrong = match told {
                CheckoutAnswer::Told {
                    status: OrderStatus::Failed(_),
                }
                | CheckoutAnswer::Error { .. } => charged,
                CheckoutAnswer::Told {
                    status: OrderStatus::Paid,
                } => !charged && o.truth.charged == 0,
                CheckoutAnswer::Told {
                    status: OrderStatus::Pending,
                } => false,
            };
            wrong.then(|| {
                let expected = if charged {
                    "the return page tells paid (the ledger charged)"
                } else {
                    "the return page tells failed or pending (the ledger charged nothing)"
                };
                let detail = match told {
                    CheckoutAnswer::Error { detail } => format!("; return page: {detail}"),
                    CheckoutAnswer::Told { .. } => String::new(),
                };
                Discrepancy::new(
                    Check::CustomerMisinformed,
                    o.order_id,
                    expected,
                    format!("{}{detail}; {}", chain(j), money(o)),
                )
            })
        })
        .collect()
}

/// Whether the order met a challenge nobody finished and is still pending.
pub fn abandoned_pending(ctx: &Context, o: &OrderView) -> bool {
    o.final_status() == Some(OrderStatus::Pending)
        && o.truth.charged == 0
        && ctx
            .journeys
            .get(o.order_id)
            .is_some_and(|j| !j.did(JourneyStep::Verdict))
}

/// A challenge the customer abandoned (the provider canceled it at its expiry) left its
/// order pending after the drain: the goods stay reserved for a payment that cannot come.
pub fn abandoned_not_released(ctx: &Context) -> Vec<Discrepancy> {
    ctx.orders
        .iter()
        .filter(|o| abandoned_pending(ctx, o))
        .map(|o| {
            let j = ctx.journeys[o.order_id];
            Discrepancy::new(
                Check::AbandonedNotReleased,
                o.order_id,
                "failed after the challenge expired (payment_intent.canceled)",
                format!("{}; {}; final pending", chain(j), money(o)),
            )
        })
        .collect()
}

fn money(o: &OrderView) -> String {
    format!(
        "charged {} in {} charge(s), refunded {}",
        o.truth.charged, o.truth.charges, o.truth.refunded
    )
}

#[cfg(test)]
mod tests;
