use std::collections::BTreeMap;
use std::time::Duration;

use paychaos::chaos::{Chaos, FaultKind};
use paychaos::report;
use paychaos::scenario::{MerchantSpec, Scenario};

use crate::util::{count, run_toml, Setup, ALL_FAULTS};

/// What the seed decides, replayed as the reference merchant meets it: the faults of each
/// attempt, and each order's (provider truth, final state) cell of the confusion matrix.
struct Expected {
    injected: BTreeMap<FaultKind, u64>,
    cells: BTreeMap<(&'static str, &'static str), u64>,
}

/// What an execution did.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Outcome {
    Charged,
    Hard(&'static str),
    Soft,
}

/// Where an idempotency key stands at the provider.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Key {
    Fresh,
    Done(Outcome),
    /// A late charge, executing only after the merchant has settled the order (the scenario
    /// holds it far longer than the checkout's retries and the reconciler's grace).
    Late(Outcome),
}

/// What the merchant makes of one answer.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Heard {
    Outcome(Outcome),
    Unknown,
    Retry,
}

fn label(o: Outcome) -> (&'static str, &'static str) {
    match o {
        Outcome::Charged => ("charged", "paid"),
        Outcome::Hard(r) => match r {
            "insufficient_funds" => ("declined_insufficient_funds", "failed_insufficient_funds"),
            _ => ("declined_risk_blocked", "failed_risk_blocked"),
        },
        Outcome::Soft => ("not_charged", "failed_provider_error"),
    }
}

/// Replays the provider's decisions for `orders` order ids as the reference merchant meets
/// them: at most `1 + max_retries` requests per order, each meeting its attempt's fault
/// first; a fresh key executes (a processing error soft-declines it, else the card answers);
/// a used key replays; a soft decline is confirmed again under a new key. An order left
/// pending is settled by the last executed outcome of its payment, else failed after the
/// grace; a late charge lands after that (refunded when it charged).
fn expected(chaos: &Chaos, orders: u64, max_retries: u32) -> Expected {
    let mut injected = BTreeMap::new();
    let mut cells = BTreeMap::new();
    for n in 0..orders {
        let id = format!("ord-{n:06}");
        let card = match chaos.sticky(&id, Duration::ZERO) {
            Some(FaultKind::InsufficientFunds) => Some("insufficient_funds"),
            Some(FaultKind::RiskBlock) => Some("risk_blocked"),
            _ => None,
        };
        let execute = |f: Option<FaultKind>| match (f, card) {
            (Some(FaultKind::ProcessingError), _) => Outcome::Soft,
            (_, Some(r)) => Outcome::Hard(r),
            (_, None) => Outcome::Charged,
        };
        let mut key = Key::Fresh;
        let mut executed: Vec<Outcome> = Vec::new(); // in execution order, late ones aside
        let mut late: Option<Outcome> = None;
        let mut saw_unknown = false;
        let mut last = Heard::Retry;
        for k in 0..=max_retries {
            let f = chaos.attempt(&id, k, Duration::ZERO);
            if let Some(f) = f {
                *injected.entry(f).or_insert(0) += 1;
            }
            let lost = matches!(
                f,
                Some(FaultKind::TimeoutAfterCharge | FaultKind::LateCharge)
            );
            last = match f {
                // A reset is a transport error at once: as unknown as a timeout.
                Some(FaultKind::Timeout | FaultKind::Reset) => Heard::Unknown,
                Some(FaultKind::ServerError | FaultKind::RateLimit) => Heard::Retry,
                _ => match key {
                    Key::Done(_) if lost => Heard::Unknown,
                    Key::Done(o) => Heard::Outcome(o),
                    Key::Late(_) if lost => Heard::Unknown,
                    Key::Late(_) => Heard::Retry, // 409: the key is in flight
                    Key::Fresh => {
                        let o = execute(f);
                        // The ledger names a card decline met by a clean attempt by its kind.
                        if let (None, Outcome::Hard(r)) = (f, o) {
                            let kind = if r == "insufficient_funds" {
                                FaultKind::InsufficientFunds
                            } else {
                                FaultKind::RiskBlock
                            };
                            *injected.entry(kind).or_insert(0) += 1;
                        }
                        if f == Some(FaultKind::LateCharge) {
                            key = Key::Late(o);
                            late = Some(o);
                            Heard::Unknown
                        } else {
                            key = Key::Done(o);
                            executed.push(o);
                            if lost {
                                Heard::Unknown
                            } else {
                                Heard::Outcome(o)
                            }
                        }
                    }
                },
            };
            saw_unknown |= last == Heard::Unknown;
            match last {
                Heard::Outcome(Outcome::Soft) => key = Key::Fresh, // confirm under a new key
                Heard::Outcome(_) => break,
                _ => {}
            }
        }
        let cell = match last {
            Heard::Outcome(o) => label(o),
            _ if !saw_unknown => ("not_charged", "failed_provider_error"),
            // Pending: the payment's last executed outcome settles it, else the grace.
            _ => match executed.last() {
                Some(&o) => label(o),
                None => match late {
                    Some(Outcome::Charged) => ("refunded", "failed_provider_error"),
                    Some(o) => (label(o).0, "failed_provider_error"),
                    None => ("not_charged", "failed_provider_error"),
                },
            },
        };
        // A charge anywhere earlier wins the truth (a paid order), as the ledger sums money.
        let cell = if executed.contains(&Outcome::Charged) {
            ("charged", "paid")
        } else {
            cell
        };
        *cells.entry(cell).or_insert(0) += 1;
    }
    Expected { injected, cells }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_fault_kind_lands_at_the_count_its_seed_decided() {
    faults_land_where_the_seed_put_them("stripe").await;
}

/// The same fault plan drives the gateway dialect: the same seed puts the same faults on
/// the same attempts, and the merchant's outcomes follow the same model (a channel error
/// pays the trade again as a soft decline confirms the intent again; a pay during a late
/// charge hears 202 where Stripe answers 409, both leaving the order to be settled later).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_fault_kind_lands_at_the_count_its_seed_decided_on_the_gateway() {
    faults_land_where_the_seed_put_them("gateway").await;
}

async fn faults_land_where_the_seed_put_them(dialect: &'static str) {
    // Arrange: late charges held 6 s, past the longest checkout (four attempts timed out
    // after 1 s each) and the 1 s grace, so that they land after the order was given up on
    // (and are refunded); the drain waits for the last of them.
    let toml = Setup {
        seed: 1234,
        hold: "6s",
        // Every kind, connection resets included.
        faults: format!("{ALL_FAULTS}reset = 0.04\n"),
        dialect,
        drain: "20s",
        ..Setup::default()
    }
    .toml();
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

    // Assert: injected counts per kind, and the whole confusion matrix.
    for kind in FaultKind::all() {
        let got = count(j, &format!("/faults/injected/{}", kind.as_str()));
        assert_eq!(
            got,
            want.injected.get(&kind).copied().unwrap_or(0),
            "injected {kind:?}: {}",
            j["faults"]
        );
        assert!(got > 0, "the scenario should meet {kind:?}");
    }
    let confusion = j["outcomes"]["confusion"].as_object().expect("confusion");
    let mut got = BTreeMap::new();
    for (truth, row) in confusion {
        for (state, n) in row.as_object().expect("row") {
            let n = n.as_u64().unwrap_or(0);
            if n > 0 {
                got.insert((truth.clone(), state.clone()), n);
            }
        }
    }
    let want_cells: BTreeMap<(String, String), u64> = want
        .cells
        .iter()
        .map(|((t, s), n)| ((t.to_string(), s.to_string()), *n))
        .collect();
    assert_eq!(got, want_cells, "confusion (truth, final) → orders");
    assert!(
        want_cells.contains_key(&("refunded".into(), "failed_provider_error".into())),
        "the seed should give a late charge refunded: {want_cells:?}"
    );
    assert_eq!(
        j["verification"]["passed"], true,
        "{}",
        j["verification"]["discrepancies"]
    );
    assert_eq!(j["faults"]["plan_digest"], report::plan_digest(&scenario));
}

/// The plan digest is what the seed and the fault plan assign, so it is the same for two
/// runs of one seed whatever they meet: here one merchant retries and the other never does,
/// so they meet different attempts (and the met digests differ), yet were offered the same
/// faults. Another seed, or another rate, is another plan.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn same_seed_same_plan_digest_whatever_the_run_met() {
    // Arrange
    let setup = |seed| Setup {
        seed,
        faults: ALL_FAULTS.into(),
        ..Setup::default()
    };
    let retrying = setup(7).toml();
    let once = setup(7).merchant("max_retries", "0").toml();
    let other_seed = setup(8).toml();

    // Act
    let (a, b, c) = tokio::join!(run_toml(&retrying), run_toml(&once), run_toml(&other_seed));

    // Assert
    let digests = |r: &crate::util::Finished| {
        let f = &r.json["faults"];
        let hex = |k: &str| f[k].as_str().expect("digest present").to_string();
        (hex("plan_digest"), hex("met_digest"))
    };
    let ((plan_a, met_a), (plan_b, met_b), (plan_c, _)) = (digests(&a), digests(&b), digests(&c));
    assert_eq!(plan_a, plan_b, "same seed and plan, same plan digest");
    assert_ne!(
        met_a, met_b,
        "the merchant that never retries meets no second attempt (ALL_FAULTS gives some \
         order a 500 on its first)"
    );
    assert_ne!(plan_a, plan_c, "another seed, another plan");
    let scenario = |toml: &str| Scenario::from_toml_str(toml, "test").unwrap();
    assert_eq!(
        plan_a,
        report::plan_digest(&scenario(&retrying)),
        "known before the run"
    );
    assert_eq!(plan_c, report::plan_digest(&scenario(&other_seed)));
    let mut more_timeouts = scenario(&retrying);
    more_timeouts.faults.rates[FaultKind::Timeout] += 0.1;
    assert_ne!(plan_a, report::plan_digest(&more_timeouts), "another rate");
}
