//! The gateway's asynchronous notifications: one per status change of a trade to paid
//! (`TRADE_SUCCESS`) or closed (`TRADE_CLOSED`, with the decline's `pay_code`, `104` when the
//! cashier expired unpaid), as form parameters. The event carries them without
//! `notify_time`, `sign_type` and `sign`: the delivery adds those at each attempt
//! (`webhooks::delivery`). Deterministic `notify_id`s.

use bytes::Bytes;

use super::{pay_code, trade_no, trade_status};
use crate::chaos::key;
use crate::gateway::{format_amount, TradeStatus, NOTIFY_TYPE};
use crate::provider::dialects::{EventKind, EventMeta};
use crate::provider::ledger::Intent;
use crate::provider::webhooks::{Event, Format};

/// The event type a notification is logged under: `trade_status_sync.<trade_status>`.
pub fn notify_kind(status: TradeStatus) -> String {
    format!("{NOTIFY_TYPE}.{}", status.as_str())
}

/// The `notify_id` of the `nth` notification of `status` for the trade of intent
/// `intent_id`: `ntf_` + 16 hex digits.
pub fn notify_id(seed: u64, intent_id: &str, status: TradeStatus, nth: u32) -> String {
    let h = key::hash(
        seed,
        "notify",
        &[
            intent_id.as_bytes(),
            status.as_str().as_bytes(),
            &nth.to_le_bytes(),
        ],
    );
    format!("ntf_{h:016x}")
}

/// The notification an execution creates, if the trade's new status is one the gateway
/// notifies: paid or closed. A charge that left the trade open (a channel error) sends none.
pub fn notification(meta: &EventMeta<'_>, it: &Intent) -> Option<Event> {
    let status = trade_status(it);
    match (meta.kind, status) {
        (EventKind::Succeeded, TradeStatus::Success)
        | (EventKind::PaymentFailed, TradeStatus::Closed)
        // The cashier's expiry closed the trade unpaid (`pay_code` 104).
        | (EventKind::Canceled, TradeStatus::Closed) => {}
        _ => return None,
    }
    let id = notify_id(meta.seed, &it.id, status, meta.nth);
    let chaos_key = it
        .chaos_id
        .as_deref()
        .map(|p| notify_id(meta.seed, p, status, meta.nth));
    let out_trade_no = it.order_id().unwrap_or("");
    let mut params: Vec<(&str, String)> = vec![
        ("notify_id", id.clone()),
        ("notify_type", NOTIFY_TYPE.to_string()),
        ("out_trade_no", out_trade_no.to_string()),
        ("trade_no", trade_no(&it.id)),
        ("total_amount", format_amount(it.amount)),
        ("currency", it.currency.clone()),
        ("trade_status", status.as_str().to_string()),
    ];
    if let Some(m) = it.metadata.get("merchant_id") {
        params.push(("merchant_id", m.clone()));
    }
    if status == TradeStatus::Closed {
        let code = pay_code(it);
        params.push(("pay_code", code.as_str().to_string()));
        params.push(("pay_msg", code.msg().to_string()));
    }
    params.sort();
    let body = form_urlencoded::Serializer::new(String::new())
        .extend_pairs(params)
        .finish();
    Some(Event {
        id,
        event_type: notify_kind(status),
        order_id: it.order_id().map(str::to_string),
        payment_id: Some(it.id.clone()),
        // Kept for the whole run (replays, event lists): a `Bytes` made from a `String`
        // keeps its whole allocation, up to twice the length after rendering's doublings.
        body: Bytes::from(body.into_bytes().into_boxed_slice()),
        format: Format::Gateway,
        url: it.metadata.get("notify_url").cloned(),
        chaos_key,
    })
}
