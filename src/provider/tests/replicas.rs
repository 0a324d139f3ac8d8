//! Replicas (`--replica K/N`): ids carry the replica's mark, and fault decisions do not
//! depend on which replica meets an order, so a load balancer may send an order to any.

use serde_json::Value;

use super::support::{config, send_raw, Harness};
use crate::chaos::{rates_of, FaultKind, FaultPlan};
use crate::domain::LedgerEntry;
use crate::provider::replica::{self, Replica};
use crate::scenario::Dialect;
use std::net::SocketAddr;
use std::time::Duration;

/// A Stripe provider under seed 7 with declines and transport faults on a third of the
/// attempts each, as replica `replica` (or alone).
async fn start(replica: Option<Replica>) -> Harness {
    let plan = FaultPlan {
        rates: rates_of([
            (FaultKind::InsufficientFunds, 0.2),
            (FaultKind::ServerError, 0.3),
            (FaultKind::RateLimit, 0.1),
        ]),
        ..FaultPlan::default()
    };
    let mut cfg = config(
        7,
        plan,
        Dialect::Stripe,
        "whsec_r",
        Duration::from_millis(50),
    );
    cfg.replica = replica;
    Harness::start_config(cfg).await
}

/// One form request with a test key (and `key` as its idempotency key unless empty): the
/// status and the JSON answered (null when none).
async fn call(addr: SocketAddr, method: &str, path: &str, body: &str, key: &str) -> (u16, Value) {
    let mut headers = vec![
        ("Authorization", "Bearer sk_test_x"),
        ("Content-Type", "application/x-www-form-urlencoded"),
    ];
    if !key.is_empty() {
        headers.push(("Idempotency-Key", key));
    }
    let a = send_raw(addr, method, path, body, &headers).await.unwrap();
    (
        a.status,
        serde_json::from_slice(&a.body).unwrap_or(Value::Null),
    )
}

/// Sends 30 orders, each charged twice under its key (a retry), then a refund of each
/// intent that was paid; returns the ledger and the intent ids answered, in order.
async fn drive(h: &Harness) -> (Vec<LedgerEntry>, Vec<String>) {
    let addr = h.handle.addr();
    let mut ids = Vec::new();
    for i in 0..30 {
        let order = format!("ord-{i:06}");
        let key = format!("{order}:charge");
        for _ in 0..2 {
            let body = format!(
                "amount=1000&currency=usd&payment_method=pm_card_visa&confirm=true&metadata[order_id]={order}"
            );
            let (status, v) = call(addr, "POST", "/v1/payment_intents", &body, &key).await;
            let intent = if status == 200 {
                &v
            } else {
                &v["error"]["payment_intent"]
            };
            if let Some(id) = intent["id"].as_str() {
                ids.push(id.to_string());
                if intent["status"] == "succeeded" {
                    let refund = format!("payment_intent={id}");
                    let rkey = format!("{order}:refund:{id}");
                    let (_, v) = call(addr, "POST", "/v1/refunds", &refund, &rkey).await;
                    if let Some(re) = v["id"].as_str() {
                        ids.push(re.to_string());
                    }
                }
            }
        }
    }
    (h.handle.ledger(), ids)
}

/// What the plan decided for an entry: everything but the ids and times.
fn decided(e: &LedgerEntry) -> String {
    format!(
        "{:?} {:?} {} {:?} {:?} {:?} {} {}",
        e.op, e.order_id, e.attempt, e.fault, e.result, e.declined, e.money_moved, e.status
    )
}

#[tokio::test]
async fn every_replica_decides_the_same_for_the_same_order_and_marks_its_ids() {
    let alone = start(None).await;
    let r0 = start(Some("0/2".parse().unwrap())).await;
    let r1 = start(Some("1/2".parse().unwrap())).await;
    let (l_alone, ids_alone) = drive(&alone).await;
    let (l0, ids0) = drive(&r0).await;
    let (l1, ids1) = drive(&r1).await;

    let plan: Vec<String> = l_alone.iter().map(decided).collect();
    assert_eq!(l0.iter().map(decided).collect::<Vec<_>>(), plan);
    assert_eq!(l1.iter().map(decided).collect::<Vec<_>>(), plan);
    // The plan met faults, declines and payments, so the comparison says something.
    for wanted in ["ServerError", "InsufficientFunds", "true"] {
        assert!(
            plan.iter().any(|p| p.contains(wanted)),
            "{wanted}: {plan:?}"
        );
    }
    assert!(
        ids_alone.iter().any(|id| id.starts_with("re_")),
        "{ids_alone:?}"
    );

    // Replica K's intent ids are the lone provider's with K's mark; its refunds (named from
    // the intent's id) carry the mark too.
    for (k, ids) in [(0, &ids0), (1, &ids1)] {
        assert_eq!(ids.len(), ids_alone.len());
        for (id, plain) in ids.iter().zip(&ids_alone) {
            assert_eq!(replica::owner(id), Some(k), "{id}");
            if id.starts_with("pi_") {
                assert_eq!(&replica::unmarked(id), plain);
            }
        }
        // A charge's id names its replica too (the routing of GET /v1/charges/{id}).
        let (first, _) = ids.split_first().unwrap();
        let addr = [&r0, &r1][k as usize].handle.addr();
        let path = format!("/v1/payment_intents/{first}");
        let (_, v) = call(addr, "GET", &path, "", "").await;
        let charge = v["latest_charge"].as_str().unwrap();
        assert_eq!(replica::owner(charge), Some(k), "{charge}");
    }
    for h in [alone, r0, r1] {
        h.stop().await;
    }
}
