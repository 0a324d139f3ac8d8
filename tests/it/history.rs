//! Each order keeps its story: order ids unique per run while the seed's faults
//! stay keyed by the sequence number, and `history.jsonl` tells every order.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use serde_json::Value;

use paychaos::chaos::{Chaos, FaultKind};
use paychaos::scenario::Scenario;

use crate::util::{run_toml, Finished, Setup, ALL_FAULTS, WEBHOOK_CHAOS};

/// Every line of the run's `history.jsonl`, parsed.
pub(crate) fn history(run: &Finished) -> Vec<Value> {
    let text = std::fs::read_to_string(run.dir().join("history.jsonl")).expect("history.jsonl");
    text.lines()
        .map(|l| serde_json::from_str(l).expect("each line is JSON"))
        .collect()
}

/// The events of one line.
fn events(line: &Value) -> &Vec<Value> {
    line["events"].as_array().expect("events")
}

/// The provider's part of each order's story, by sequence number, as the seed decides it:
/// each charge call's attempt, fault and idempotency key (the run id taken out), and each
/// first webhook delivery's type, copy, injected delay and whether chaos dropped it.
#[derive(Debug, Default, PartialEq)]
struct Story {
    calls: Vec<(u64, Option<String>, String)>,
    webhooks: Vec<(String, String, u64, bool)>,
}

fn stories(lines: &[Value]) -> BTreeMap<u64, Story> {
    let mut out = BTreeMap::new();
    for l in lines {
        let Some(n) = l["sequence"].as_u64() else {
            continue;
        };
        let order = l["order_id"].as_str().unwrap();
        let run_free = format!("ord-{n:06}");
        let story: &mut Story = out.entry(n).or_default();
        for e in events(l) {
            match e["event"].as_str().unwrap() {
                "provider_call" if e["op"] == "charge" => story.calls.push((
                    e["attempt"].as_u64().unwrap(),
                    e["fault"].as_str().map(str::to_string),
                    e["idempotency_key"]
                        .as_str()
                        .unwrap_or("")
                        .replace(order, &run_free),
                )),
                "webhook" if e["attempt"] == 0 => story.webhooks.push((
                    e["type"].as_str().unwrap().to_string(),
                    e["copy"].as_str().unwrap().to_string(),
                    e["delay_ms"].as_u64().unwrap(),
                    e["dropped"].as_bool().unwrap(),
                )),
                _ => {}
            }
        }
        story.webhooks.sort();
    }
    out
}

fn fault(word: &str) -> FaultKind {
    serde_json::from_value(Value::from(word)).expect("a fault word")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_runs_of_one_seed_meet_the_same_faults_under_disjoint_order_ids() {
    // Arrange: one seed with every fault and all webhook chaos; one run's id pinned, the
    // other's derived.
    let setup = Setup {
        seed: 7,
        faults: ALL_FAULTS.into(),
        webhooks: WEBHOOK_CHAOS.into(),
        ..Setup::default()
    };
    let pinned = Setup {
        run_id: Some("runa"),
        ..setup.clone()
    }
    .toml();
    let derived = setup.toml();

    // Act
    let (a, b) = tokio::join!(run_toml(&pinned), run_toml(&derived));

    // Assert: each run's ids carry its run id, and no id is in both.
    assert_eq!(a.json["run"]["run_id"], "runa");
    let run_b = b.json["run"]["run_id"].as_str().unwrap().to_string();
    assert_eq!(run_b.len(), 8, "{run_b}");
    let (ha, hb) = (history(&a), history(&b));
    let ids = |h: &[Value], run: &str| -> BTreeSet<String> {
        let ids: BTreeSet<String> = h
            .iter()
            .map(|l| {
                l["order_id"]
                    .as_str()
                    .expect("every call has its order")
                    .to_string()
            })
            .collect();
        for id in &ids {
            assert!(id.starts_with(&format!("ord-{run}-")), "{id} in run {run}");
        }
        ids
    };
    let (ia, ib) = (ids(&ha, "runa"), ids(&hb, &run_b));
    assert_eq!((ia.len(), ib.len()), (100, 100));
    assert!(ia.is_disjoint(&ib));

    // Every charge attempt met the fault the seed gives its sequence number (`ord-<n:06>`,
    // the id orders had before run ids), in both runs.
    let scenario = Scenario::from_toml_str(&derived, "t").unwrap();
    let chaos = Chaos::new(
        scenario.seed,
        scenario.faults.clone(),
        scenario.webhooks.chaos.clone(),
    );
    let (sa, sb) = (stories(&ha), stories(&hb));
    let mut faulted = 0;
    for story in sa.iter().chain(&sb) {
        let (n, s) = story;
        let key = format!("ord-{n:06}");
        for (attempt, met, _) in &s.calls {
            let planned = chaos.attempt(&key, *attempt as u32, Duration::ZERO);
            let met = met.as_deref().map(fault);
            match planned {
                Some(k) => assert_eq!(met, Some(k), "{key} attempt {attempt}"),
                None => assert!(
                    met.is_none() || met == chaos.sticky(&key, Duration::ZERO),
                    "{key} attempt {attempt}: {met:?}"
                ),
            }
            faulted += usize::from(met.is_some());
        }
    }
    assert!(faulted > 20, "the seed faults many attempts: {faulted}");

    // Where the provider's part of an order's story is the same in both runs, its webhooks
    // met the same chaos; that is most orders.
    let same: Vec<&u64> = sa
        .keys()
        .filter(|n| sb.get(n).is_some_and(|s| s.calls == sa[n].calls))
        .collect();
    assert!(same.len() >= 50, "{} of 100 orders alike", same.len());
    let mut chaotic = 0;
    for n in same {
        assert_eq!(sa[n].webhooks, sb[n].webhooks, "order {n}'s webhooks");
        chaotic += sa[n]
            .webhooks
            .iter()
            .filter(|(_, copy, delay, dropped)| copy != "genuine" || *delay > 0 || *dropped)
            .count();
    }
    assert!(chaotic > 20, "webhook chaos was met: {chaotic}");
    assert_eq!(
        a.json["faults"]["plan_digest"],
        b.json["faults"]["plan_digest"]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn history_tells_every_order_from_checkout_to_final_state() {
    // Arrange
    let setup = Setup {
        seed: 3,
        faults: ALL_FAULTS.into(),
        webhooks: WEBHOOK_CHAOS.into(),
        run_id: Some("h1"),
        ..Setup::default()
    };

    // Act
    let run = run_toml(&setup.toml()).await;

    // Assert: one line per order in schedule order, each from its checkout to its final
    // state, times never going back, every charge named by key and attempt.
    let lines = history(&run);
    assert_eq!(lines.len(), 100, "no call without an order");
    for (n, l) in lines.iter().enumerate() {
        assert_eq!(l["order_id"], format!("ord-h1-{n:06}"));
        assert_eq!(l["sequence"], n);
        let ev = events(l);
        let words: Vec<&str> = ev.iter().map(|e| e["event"].as_str().unwrap()).collect();
        assert_eq!(words.first(), Some(&"checkout"), "{l}");
        assert_eq!(words.last(), Some(&"final"), "{l}");
        assert_eq!(words.iter().filter(|w| **w == "checkout_answer").count(), 1);
        let times: Vec<u64> = ev.iter().filter_map(|e| e["at_ms"].as_u64()).collect();
        assert!(times.windows(2).all(|w| w[0] <= w[1]), "{times:?}");
        for call in ev.iter().filter(|e| e["event"] == "provider_call") {
            for field in ["op", "attempt", "result", "status", "money_moved", "amount"] {
                assert!(!call[field].is_null(), "{field} in {call}");
            }
            if call["op"] == "charge" {
                assert!(call["idempotency_key"].is_string(), "{call}");
            }
        }
        assert!(
            words.contains(&"provider_call"),
            "every order reached the provider"
        );
    }
    let copies: BTreeSet<&str> = lines
        .iter()
        .flat_map(events)
        .filter(|e| e["event"] == "webhook")
        .map(|e| e["copy"].as_str().unwrap())
        .collect();
    assert_eq!(
        copies,
        BTreeSet::from(["duplicate", "forged", "genuine", "stale", "unsigned"])
    );
    let money: u64 = lines
        .iter()
        .flat_map(events)
        .filter(|e| e["event"] == "provider_call" && e["money_moved"] == true)
        .count() as u64;
    assert!(money > 50, "{money} calls moved money");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_double_charge_quotes_the_lost_answer_and_the_new_key_that_charged_again() {
    // Arrange: a merchant that retries under a new key, and answers lost after the charge.
    let setup = crate::flaws::exposing("timeout_after_charge = 0.3", "")
        .merchant("flaws", "[\"new_key_on_retry\"]");
    let setup = Setup {
        run_id: Some("dc"),
        ..setup
    };

    // Act
    let run = run_toml(&setup.toml()).await;

    // Assert: each double charge names its order and tells the charges and their keys.
    let found: Vec<&Value> = run.json["verification"]["discrepancies"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|d| d["check"] == "double_charge")
        .collect();
    assert!(
        !found.is_empty(),
        "the seed loses some answers after the charge"
    );
    for d in &found {
        let order = d["order_id"].as_str().unwrap();
        let chain: Vec<&str> = d["chain"]
            .as_array()
            .unwrap()
            .iter()
            .map(|l| l.as_str().unwrap())
            .collect();
        let lost = chain
            .iter()
            .position(|l| {
                l.contains(&format!("charge attempt 0 key {order}:charge:0: "))
                    && l.contains("timeout_after_charge, money moved (")
                    && l.ends_with("answer lost")
            })
            .unwrap_or_else(|| panic!("no lost answer in {chain:#?}"));
        let again = chain
            .iter()
            .position(|l| l.contains(" (new key): ") && l.contains("charged again ("))
            .unwrap_or_else(|| panic!("no second charge in {chain:#?}"));
        assert!(lost < again, "{chain:#?}");
        assert!(chain.last().unwrap().starts_with("final "), "{chain:#?}");
    }
    eprintln!("double_charge {}:\n  {}", found[0]["order_id"], {
        let lines: Vec<&str> = found[0]["chain"]
            .as_array()
            .unwrap()
            .iter()
            .map(|l| l.as_str().unwrap())
            .collect();
        lines.join("\n  ")
    });

    // The same chain in report.md, report.html and junit.xml (plain text: nothing to escape).
    let first = found[0]["chain"][0].as_str().unwrap();
    for file in ["report.md", "report.html", "junit.xml"] {
        let text = std::fs::read_to_string(run.dir().join(file)).unwrap();
        assert!(text.contains(first), "{file} lacks {first:?}");
    }
}
