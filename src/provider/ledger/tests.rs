//! The ledger alone: per-order counters, payment ids, eviction, sizing and arrival order.
use super::*;

fn new_intent(order: Option<&str>) -> NewIntent {
    NewIntent {
        amount: 100,
        currency: "usd".into(),
        payment_method: Some("pm_card_visa".into()),
        metadata: order
            .map(|o| BTreeMap::from([("order_id".to_string(), o.to_string())]))
            .unwrap_or_default(),
        ..NewIntent::default()
    }
}

#[test]
fn counters_are_per_order_and_per_operation() {
    let mut l = Ledger::new();
    assert_eq!(l.bump("a", PaymentOp::Charge), 0);
    assert_eq!(l.bump("a", PaymentOp::Charge), 1);
    assert_eq!(l.bump("a", PaymentOp::Refund), 0);
    assert_eq!(l.bump("b", PaymentOp::Charge), 0);
    assert_eq!(l.count("a", PaymentOp::Charge), 2);
    assert_eq!(l.count("a", PaymentOp::Query), 0);
    assert_eq!(
        l.count("zzz", PaymentOp::Charge),
        0,
        "count does not create"
    );
}

#[test]
fn intent_ids_derive_from_order_and_key_and_stay_unique() {
    let mut l = Ledger::new();
    let i = l.create_intent(42, 1, new_intent(Some("ord-000001")), Some("k"));
    assert_eq!(l.intents[i].id, payment_id_for(42, "ord-000001", "k"));
    assert_eq!(payment_id_for(42, "ord-000001", "k").len(), 3 + 24);
    assert_ne!(
        payment_id_for(42, "ord-000001", "k"),
        payment_id_for(43, "ord-000001", "k")
    );
    let j = l.create_intent(42, 1, new_intent(Some("ord-000001")), Some("k"));
    assert_ne!(l.intents[i].id, l.intents[j].id, "a clash gets another id");
    let a = l.create_intent(42, 1, new_intent(None), None);
    let b = l.create_intent(42, 1, new_intent(None), None);
    assert_ne!(l.intents[a].id, l.intents[b].id);
    assert_eq!(l.orders["ord-000001"].intents, vec![i, j]);
    assert_eq!(
        l.intent(&l.intents[a].id.clone()).map(|it| it.order_id()),
        Some(None)
    );
    assert_eq!(l.intents[i].status, IntentStatus::RequiresConfirmation);
}

#[test]
fn eviction_keeps_the_newest_payments_and_what_is_theirs() {
    let mut l = Ledger::new();
    let (n, k) = (50, 30);
    for j in 0..n + k {
        let order = format!("ord-{j:06}");
        l.bump(&order, PaymentOp::Charge);
        let i = l.create_intent(1, 1, new_intent(Some(&order)), Some(&order));
        l.settle_card(i, 1, None);
        l.record(
            Duration::ZERO,
            Draft::new(PaymentOp::Charge, None, None, 0, "usd".into()),
        );
        l.evict_payments(n);
        l.evict_entries(2 * n);
    }
    assert_eq!(l.payments(), n);
    assert!(l.by_id.len() <= n && l.orders.len() <= n);
    assert!(l.charges.len() <= n && l.charge_by_id.len() <= n);
    assert!(l.entries.len() <= 2 * n + 2 * n / 8);
    assert!(l
        .intent(&payment_id_for(1, "ord-000000", "ord-000000"))
        .is_none());
    let newest = format!("ord-{:06}", n + k - 1);
    let it = l.intent(&payment_id_for(1, &newest, &newest)).unwrap();
    assert_eq!(it.status, IntentStatus::Succeeded);
    assert!(l.charge(it.latest_charge.as_deref().unwrap()).is_some());
    assert_eq!(l.find("order_id", &newest).len(), 1);
    assert_eq!(l.count(&newest, PaymentOp::Charge), 1);
    let last = l.entries().last().unwrap().seq;
    assert_eq!(last, (n + k - 1) as u64, "numbering goes on past evictions");
}

/// Capacities of every per-order structure, to tell whether one grew.
fn capacities(l: &Ledger) -> [usize; 6] {
    [
        l.entries.capacity(),
        l.orders.capacity(),
        l.intents.capacity(),
        l.by_id.capacity(),
        l.charges.capacity(),
        l.charge_by_id.capacity(),
    ]
}

#[test]
fn a_sized_ledger_does_not_grow_below_its_hint() {
    let n = 5000;
    let mut l = Ledger::with_capacity(n);
    let before = capacities(&l);
    assert!(before.iter().all(|&c| c >= n), "{before:?}");
    for k in 0..n {
        let order = format!("ord-{k:06}");
        l.bump(&order, PaymentOp::Charge);
        let i = l.create_intent(1, 1, new_intent(Some(&order)), Some(&order));
        l.settle_card(i, 1, None);
        l.record(
            Duration::ZERO,
            Draft::new(PaymentOp::Charge, None, None, 0, "usd".into()),
        );
    }
    assert_eq!(capacities(&l), before, "no structure reallocated");
}

#[test]
fn an_intent_of_an_order_with_a_run_id_knows_the_id_it_has_without_it() {
    let mut l = Ledger::new();
    let order = "ord-r1-000001";
    let i = l.create_intent(42, 1, new_intent(Some(order)), Some("ord-r1-000001:charge"));
    let it = &l.intents[i];
    // Its own id is unique to the run; its chaos id is the run-free one.
    assert_eq!(it.id, payment_id_for(42, order, "ord-r1-000001:charge"));
    let legacy = payment_id_for(42, "ord-000001", "ord-000001:charge");
    assert_eq!(it.chaos_id.as_deref(), Some(legacy.as_str()));
    assert_eq!(it.chaos_payment_id(), legacy);
    let j = l.create_intent(42, 1, new_intent(Some("ord-000002")), Some("k"));
    assert_eq!(l.intents[j].chaos_id, None, "already run-free");
    assert_eq!(l.intents[j].chaos_payment_id(), l.intents[j].id);
}

#[test]
fn record_numbers_entries_in_arrival_order() {
    let mut l = Ledger::new();
    for ms in [5, 3] {
        let mut d = Draft::new(PaymentOp::Query, None, None, 0, String::new());
        d.status = 200;
        l.record(Duration::from_millis(ms), d);
    }
    let snap = l.snapshot();
    assert_eq!(
        snap.iter().map(|e| (e.seq, e.at_ms)).collect::<Vec<_>>(),
        [(0, 5), (1, 3)]
    );
    assert_eq!(snap, l.entries());
}

#[test]
fn one_entry_per_order_holds_its_counters_and_its_intents() {
    let mut l = Ledger::new();
    l.bump("ord-1", PaymentOp::Charge);
    l.bump("ord-1", PaymentOp::Query);
    let i = l.create_intent(1, 1, new_intent(Some("ord-1")), Some("k"));
    assert_eq!(l.orders.len(), 1, "one copy of the order id");
    assert_eq!(l.orders["ord-1"].counters, [1, 1, 0]);
    assert_eq!(l.orders["ord-1"].intents, vec![i]);
    // The counters and the list header in one 40-byte value beside the key.
    assert_eq!(std::mem::size_of::<OrderRecord>(), 40);
}
