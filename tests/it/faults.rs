use std::collections::BTreeMap;
use std::time::Duration;

use paychaos::chaos::{Chaos, FaultKind};
use paychaos::scenario::{MerchantSpec, Scenario};

use crate::util::{count, run_toml, scenario_toml, ALL_FAULTS};

/// What the seed decides for one order when the merchant retries transport failures with
/// the same key: the faults of each attempt, and the provider truth it must end in.
struct Expected {
    injected: BTreeMap<FaultKind, u64>,
    truth: BTreeMap<&'static str, u64>,
}

/// Replays the provider's decisions for `orders` order ids as the reference merchant meets
/// them: attempts go on while a transport fault hits, up to `1 + max_retries`; the first
/// attempt that executes (a clean one, or one whose answer is then lost) meets the card.
fn expected(chaos: &Chaos, orders: u64, max_retries: u32) -> Expected {
    let mut injected = BTreeMap::new();
    let mut truth = BTreeMap::new();
    for n in 0..orders {
        let id = format!("ord-{n:06}");
        let mut executed_by: Option<Option<FaultKind>> = None;
        for k in 0..=max_retries {
            let f = chaos.attempt(&id, k, Duration::ZERO);
            let clean = f.is_none();
            if let Some(f) = f {
                *injected.entry(f).or_insert(0) += 1;
            }
            if (clean || f == Some(FaultKind::TimeoutAfterCharge)) && executed_by.is_none() {
                executed_by = Some(f);
            }
            if clean {
                break;
            }
        }
        let sticky = chaos.sticky(&id, Duration::ZERO);
        let label = match (executed_by, sticky) {
            (None, _) => "not_charged",
            (Some(_), Some(FaultKind::InsufficientFunds)) => "declined_insufficient_funds",
            (Some(_), Some(FaultKind::RiskBlock)) => "declined_risk_blocked",
            (Some(_), _) => "charged",
        };
        // A decline met by a clean attempt is recorded as that attempt's fault; one met
        // by an attempt whose answer is lost is recorded as the transport fault.
        if let (Some(None), Some(s)) = (executed_by, sticky) {
            *injected.entry(s).or_insert(0) += 1;
        }
        *truth.entry(label).or_insert(0) += 1;
    }
    Expected { injected, truth }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_fault_kind_lands_at_the_count_its_seed_decided() {
    // Arrange
    let toml = scenario_toml(1234, ALL_FAULTS, "");
    let scenario = Scenario::from_toml_str(&toml, "test").unwrap();
    let MerchantSpec::Reference(m) = &scenario.merchant else {
        panic!("the test scenario uses the reference merchant")
    };
    let chaos = Chaos::new(
        scenario.seed,
        scenario.faults.clone(),
        scenario.webhooks.chaos.clone(),
    );
    let want = expected(&chaos, 100, m.max_retries);

    // Act
    let run = run_toml(&toml).await;
    let j = &run.json;

    // Assert: injected counts per kind, and the confusion rows per provider truth, with
    // each truth landing in the merchant state that a correct merchant gives it.
    for kind in FaultKind::ALL {
        let got = count(j, &format!("/faults/injected/{}", kind.as_str()));
        assert_eq!(
            got,
            want.injected.get(&kind).copied().unwrap_or(0),
            "injected {kind:?}: {}",
            j["faults"]
        );
        assert!(got > 0, "the scenario should meet {kind:?}");
    }
    let diagonal = [
        ("charged", "paid"),
        ("declined_insufficient_funds", "failed_insufficient_funds"),
        ("declined_risk_blocked", "failed_risk_blocked"),
        ("not_charged", "failed_provider_error"),
    ];
    for (truth, state) in diagonal {
        let expected = want.truth.get(truth).copied().unwrap_or(0);
        let row = &j["outcomes"]["confusion"][truth];
        let total: u64 = row
            .as_object()
            .map(|r| r.values().filter_map(|v| v.as_u64()).sum())
            .unwrap_or(0);
        assert_eq!(total, expected, "confusion row {truth}: {row}");
        assert_eq!(
            count(row, &format!("/{state}")),
            expected,
            "{truth} should all be {state}: {row}"
        );
    }
    assert_eq!(
        j["verification"]["passed"], true,
        "{}",
        j["verification"]["discrepancies"]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn same_seed_same_assignment_other_seed_differs() {
    let a = run_toml(&scenario_toml(7, ALL_FAULTS, "")).await;
    let b = run_toml(&scenario_toml(7, ALL_FAULTS, "")).await;
    let c = run_toml(&scenario_toml(8, ALL_FAULTS, "")).await;
    let digest = |r: &crate::util::Finished| {
        r.json["faults"]["assignment_digest"]
            .as_str()
            .expect("digest present")
            .to_string()
    };
    assert_eq!(digest(&a), digest(&b), "same seed, same assignment");
    assert_ne!(digest(&a), digest(&c), "another seed, another assignment");
    assert_eq!(a.json["faults"]["injected"], b.json["faults"]["injected"]);
}
