//! The backup providers of a run with several payment channels (`[[providers]]`): bound
//! before anything starts, served like the primary (each with its own seed and fault plan),
//! and their records merged with the primary's after the drain, each ledger entry marked
//! with its channel, so that the verifier and the report read one ledger.

use std::net::SocketAddr;
use std::time::Instant;

use anyhow::Context;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::domain::{LedgerEntry, WebhookAttempt};
use crate::provider::{self, ProviderConfig, ProviderHandle};
use crate::scenario::Scenario;

/// The backups' listeners, bound in routing order; an address in use names its key.
pub fn bind(scenario: &Scenario) -> anyhow::Result<Vec<TcpListener>> {
    scenario
        .routing
        .backups
        .iter()
        .enumerate()
        .map(|(i, b)| {
            let listen = b.provider.listen;
            crate::net::listen(listen).with_context(|| {
                format!(
                    "cannot listen on {listen} (providers[{}].listen, provider {:?}; is another \
                     process using that port?)",
                    i + 1,
                    b.name
                )
            })
        })
        .collect()
}

/// Serves each backup on its listener: `webhook_url(i)` is where channel `i`'s events go.
pub fn serve(
    scenario: &Scenario,
    listeners: Vec<TcpListener>,
    webhook_url: impl Fn(usize) -> String,
    expected_orders: u64,
    origin: Instant,
    servers: &CancellationToken,
) -> Vec<ProviderHandle> {
    listeners
        .into_iter()
        .enumerate()
        .map(|(i, l)| {
            let index = i + 1;
            let cfg = ProviderConfig {
                expected_orders,
                ..ProviderConfig::for_channel(scenario, index, Some(webhook_url(index)), origin)
            };
            provider::serve(l, cfg, servers.child_token())
        })
        .collect()
}

/// The addresses of bound listeners (for the merchant's configuration and the briefing).
pub fn addrs(listeners: &[TcpListener]) -> anyhow::Result<Vec<SocketAddr>> {
    listeners
        .iter()
        .map(|l| l.local_addr().context("a backup provider's listener"))
        .collect()
}

/// One ledger and one webhook log from the primary's records and each backup's, in routing
/// order. With backups, ledger entries are marked with their channel and renumbered in
/// arrival order across channels (each provider counts `seq` on its own), so that `seq`
/// still orders the whole history; a one-provider run's records are returned unchanged.
pub fn merge(
    primary: (Vec<LedgerEntry>, Vec<WebhookAttempt>),
    backups: Vec<(Vec<LedgerEntry>, Vec<WebhookAttempt>)>,
) -> (Vec<LedgerEntry>, Vec<WebhookAttempt>) {
    if backups.is_empty() {
        return primary;
    }
    let (mut ledger, mut webhooks) = primary;
    for (i, (l, w)) in backups.into_iter().enumerate() {
        let channel = u8::try_from(i + 1).unwrap_or(u8::MAX);
        ledger.extend(l.into_iter().map(|mut e| {
            e.channel = channel;
            e
        }));
        webhooks.extend(w);
    }
    ledger.sort_by_key(|e| (e.at_ms, e.channel, e.seq));
    for (n, e) in ledger.iter_mut().enumerate() {
        e.seq = n as u64;
    }
    webhooks.sort_by_key(|w| w.at_ms);
    (ledger, webhooks)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{AttemptResult, PaymentOp};

    fn entry(seq: u64, at_ms: u64) -> LedgerEntry {
        serde_json::from_value(serde_json::json!({
            "seq": seq, "at_ms": at_ms, "op": "charge", "order_id": "ord-1",
            "payment_id": null, "amount": 1, "currency": "usd", "idempotency_key": null,
            "attempt": 0, "fault": null, "result": "ok", "declined": null,
            "money_moved": true, "status": 200
        }))
        .unwrap()
    }

    #[test]
    fn one_provider_keeps_its_records_and_backups_are_marked_and_renumbered() {
        let primary = vec![entry(0, 5), entry(1, 30)];
        let (alone, _) = merge((primary.clone(), Vec::new()), Vec::new());
        assert_eq!(alone, primary);

        let (merged, _) = merge(
            (primary, Vec::new()),
            vec![(vec![entry(0, 10), entry(1, 40)], Vec::new())],
        );
        let seen: Vec<(u64, u64, u8)> =
            merged.iter().map(|e| (e.seq, e.at_ms, e.channel)).collect();
        assert_eq!(seen, [(0, 5, 0), (1, 10, 1), (2, 30, 0), (3, 40, 1)]);
        assert!(merged
            .iter()
            .all(|e| e.op == PaymentOp::Charge && e.result == AttemptResult::Ok));
    }
}
