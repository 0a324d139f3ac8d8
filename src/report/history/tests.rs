//! Unit tests of `history.jsonl` and of the per-order steps the chains read.

use serde_json::Value;

use super::*;
use crate::domain::{AttemptResult, FailReason, OrderStatus};
use crate::report::tests::sample_set;
use crate::verify::tests::Set;

fn lines(h: &History) -> Vec<Value> {
    let mut out = Vec::new();
    h.write(&mut out).unwrap();
    let text = String::from_utf8(out).unwrap();
    assert!(text.ends_with('\n'), "{text}");
    text.lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect()
}

fn events(line: &Value) -> Vec<&str> {
    line["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["event"].as_str().unwrap())
        .collect()
}

/// One order of run `r1`: checkout at 100 ms, a charge whose answer is lost at 105 ms, the
/// retry replayed at 1105 ms, told pending at 1200 ms, the webhook at 150 ms, paid.
fn story() -> Set {
    let id = "ord-r1-000001";
    let mut s = Set::default();
    s.told_status(id, OrderStatus::Pending);
    let c = s.checkouts.last_mut().unwrap();
    (c.intended_ms, c.latency_us) = (100, 1_100_000);
    s.charge(id, AttemptResult::AnswerLost)
        .charge(id, AttemptResult::Replayed);
    s.ledger[0].at_ms = 105;
    s.ledger[1].at_ms = 1105;
    s.webhook(id, "evt_1", Some(200));
    s.last_webhook().at_ms = 150;
    s.final_state(id, OrderStatus::Paid, 1);
    s
}

#[test]
fn an_order_s_events_come_in_time_order_with_the_final_state_last() {
    let s = story();
    let h = History::new(s.evidence());

    let steps = h.steps("ord-r1-000001");

    let kinds: Vec<&str> = steps
        .iter()
        .map(|s| match s {
            Step::Checkout(_) => "checkout",
            Step::Call(_) => "call",
            Step::Answer(_) => "answer",
            Step::Webhook(_) => "webhook",
            Step::Final(_) => "final",
        })
        .collect();
    assert_eq!(
        kinds,
        ["checkout", "call", "webhook", "call", "answer", "final"]
    );
    let times: Vec<Option<u64>> = steps.iter().map(Step::at_ms).collect();
    assert_eq!(
        times,
        [
            Some(100),
            Some(105),
            Some(150),
            Some(1105),
            Some(1200),
            None
        ]
    );
    assert!(h.steps("ord-nobody").is_empty());
}

#[test]
fn each_line_tells_calls_answers_webhooks_and_the_final_state() {
    let s = story();
    let got = lines(&History::new(s.evidence()));

    assert_eq!(got.len(), 1);
    let l = &got[0];
    assert_eq!(l["order_id"], "ord-r1-000001");
    assert_eq!(l["sequence"], 1);
    let e = &l["events"];
    assert_eq!(
        e[0],
        serde_json::json!({"event": "checkout", "at_ms": 100, "amount": 1000})
    );
    assert_eq!(e[1]["event"], "provider_call");
    assert_eq!(e[1]["op"], "charge");
    assert_eq!(e[1]["idempotency_key"], "ord-r1-000001:charge");
    assert_eq!(e[1]["attempt"], 0);
    assert_eq!(e[1]["fault"], "timeout_after_charge");
    assert_eq!(e[1]["result"], "answer_lost");
    assert_eq!(e[1]["money_moved"], true);
    assert_eq!(e[1]["status"], 0);
    assert_eq!(e[1]["payment_id"], "pi_ord-r1-000001");
    assert_eq!(e[2]["event"], "webhook");
    assert_eq!(e[2]["copy"], "genuine");
    assert_eq!(e[2]["type"], "payment_intent.succeeded");
    assert_eq!(e[2]["status"], 200);
    assert_eq!(e[2]["latency_ms"], 2.0);
    assert_eq!(e[3]["result"], "replayed");
    assert_eq!(e[3]["attempt"], 1);
    assert_eq!(
        e[4],
        serde_json::json!({"event": "checkout_answer", "at_ms": 1200, "told": "pending", "latency_ms": 1100.0})
    );
    assert_eq!(
        e[5],
        serde_json::json!({"event": "final", "state": "paid", "fulfilments": 1})
    );
}

#[test]
fn orders_come_in_schedule_order_then_ids_never_sent_then_calls_no_order_owns() {
    // Arrange: the sample run (seven checkouts, the last shed), a charge for an order the
    // run never sent, a refund naming only its payment, and a request naming nothing.
    let mut s = sample_set();
    s.charge("ord-zz-999999", AttemptResult::Ok);
    s.refund("ord-000000", 1000);
    s.ledger.last_mut().unwrap().order_id = None;
    s.charge("x", AttemptResult::Invalid);
    s.ledger.last_mut().unwrap().order_id = None;
    s.ledger.last_mut().unwrap().payment_id = None;

    // Act
    let got = lines(&History::new(s.evidence()));

    // Assert
    let ids: Vec<&Value> = got.iter().map(|l| &l["order_id"]).collect();
    let want: Vec<Value> = (0..7)
        .map(|n| Value::from(format!("ord-{n:06}")))
        .chain([Value::from("ord-zz-999999"), Value::Null])
        .collect();
    assert_eq!(ids, want.iter().collect::<Vec<_>>());
    assert_eq!(
        events(&got[0]),
        [
            "checkout",
            "provider_call",
            "checkout_answer",
            "webhook",
            "provider_call",
            "final"
        ],
        "the refund found its order by its payment"
    );
    assert_eq!(got[0]["sequence"], Value::Null, "an id without a run id");
    // Shed at the cap: never sent, so no record; only the merchant's export names it.
    assert_eq!(events(&got[6]), ["final"]);
    assert_eq!(events(&got[7]), ["provider_call"]);
    assert_eq!(got[7]["sequence"], 999_999);
    assert_eq!(events(&got[8]), ["provider_call"]);
    assert_eq!(got[8]["events"][0]["result"], "invalid");
}

#[test]
fn an_order_missing_from_the_merchant_s_export_ends_missing_and_errors_say_why() {
    let mut s = Set::default();
    s.charge(
        "ord-a-000000",
        AttemptResult::Declined(FailReason::RiskBlocked),
    )
    .told(
        "ord-a-000000",
        CheckoutAnswer::Error {
            detail: "timed out".into(),
        },
    );
    let got = lines(&History::new(s.evidence()));
    let e = &got[0]["events"];
    assert_eq!(e[1]["result"], "declined(risk_blocked)");
    assert_eq!(e[2]["told"], "error");
    assert_eq!(e[2]["detail"], "timed out");
    assert_eq!(
        e[3],
        serde_json::json!({"event": "final", "state": "missing", "fulfilments": null})
    );
}
