//! Customer journeys through 3D Secure challenges, run whole: half the orders need
//! authentication, and their customers complete, fail, abandon or never come back, some
//! forging a return first, some paying again with another card. Each journey flaw of the
//! reference merchant fails exactly its check; the correct merchant in the same scenario
//! verifies clean (see `flaws::exposes`). `scenarios/journeys.toml` verifies clean.

use crate::flaws::{exposes_with, exposing};
use crate::util::run_toml;

/// Every journey at once, challenges expiring after 1 s, a fifth of the customers forging
/// a return page before their challenge.
fn with_journeys(toml: String) -> String {
    let toml = toml
        .replace("[provider]\n", "[provider]\nchallenge_expiry = \"1s\"\n")
        .replace("[faults]\n", "[faults]\nrequires_action = 0.5\n");
    format!(
        "{toml}\n[customers]\ncompletes = 0.55\nfails = 0.15\nabandons = 0.15\n\
         never_returns = 0.15\nforged_returns = 0.2\n"
    )
}

/// [`with_journeys`] with half the challenged customers never coming back.
fn with_lost_returns(toml: String) -> String {
    with_journeys(toml)
        .replace("completes = 0.55", "completes = 0.35")
        .replace("never_returns = 0.15", "never_returns = 0.35")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn trust_return_params_is_paid_on_forged_return() {
    let n = exposes_with(
        "trust_return_params",
        "paid_on_forged_return",
        exposing("", ""),
        with_journeys,
    )
    .await;
    assert!(n > 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_return_url_is_customer_misinformed() {
    exposes_with(
        "wrong_return_url",
        "customer_misinformed",
        exposing("", ""),
        with_journeys,
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fulfil_on_return_only_leaves_the_customers_who_never_return_stuck_pending() {
    exposes_with(
        "fulfil_on_return_only",
        "stuck_pending",
        exposing("", ""),
        with_lost_returns,
    )
    .await;
}

/// The exposing setup in the gateway dialect: the challenge is the gateway's cashier page.
fn on_gateway() -> crate::util::Setup {
    crate::util::Setup {
        dialect: "gateway",
        ..exposing("", "")
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn trust_return_params_is_paid_on_forged_return_on_the_gateway() {
    // The forged return carries trade_status=TRADE_SUCCESS under a guessed sign.
    let n = exposes_with(
        "trust_return_params",
        "paid_on_forged_return",
        on_gateway(),
        with_journeys,
    )
    .await;
    assert!(n > 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_return_url_is_customer_misinformed_on_the_gateway() {
    exposes_with(
        "wrong_return_url",
        "customer_misinformed",
        on_gateway(),
        with_journeys,
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fulfil_on_return_only_leaves_gateway_customers_who_never_return_stuck_pending() {
    // The TRADE_SUCCESS notification is ignored for cashier trades, and the reconciler skips
    // them: only the return page could settle them.
    exposes_with(
        "fulfil_on_return_only",
        "stuck_pending",
        on_gateway(),
        with_lost_returns,
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cashier_journeys_verify_clean_and_abandoned_trades_close() {
    // Arrange: every journey through the gateway's cashier, the correct merchant.
    let toml = with_journeys(on_gateway().toml());

    // Act
    let run = crate::util::run_toml(&toml).await;

    // Assert: clean, with abandoned cashier trades closed by their expiry's notification
    // (abandoned_not_released quiet) and every journey walked without a broken step.
    let json = &run.json;
    assert_eq!(
        json["verification"]["passed"], true,
        "{:#}",
        json["verification"]["discrepancies"]
    );
    let j = &json["journeys"];
    for journey in ["completes", "fails", "abandons", "never_returns"] {
        assert!(
            j["journeys"][journey].as_u64().unwrap_or(0) > 0,
            "{journey}: {j}"
        );
    }
    assert!(j["forged_returns"].as_u64().unwrap_or(0) > 0, "{j}");
    assert_eq!(j["errors"], 0, "{j}");
    assert_eq!(j["challenged"], j["challenge_shown"], "{j}");
    // Each abandoned trade closed unpaid (104): its order failed, nothing charged.
    let fin = &json["outcomes"]["final"];
    assert_eq!(fin["pending"], 0, "{fin}");
    let abandoned = j["journeys"]["abandons"].as_u64().unwrap();
    assert!(
        fin["failed_provider_error"].as_u64().unwrap() >= abandoned,
        "{fin}; {j}"
    );
}

/// [`with_lost_returns`] where every customer who cannot tell the first card paid (or
/// whose card declined) pays again with another card.
fn with_lost_returns_paid_again(toml: String) -> String {
    format!(
        "{}retries_with_another_card = 1.0\n",
        with_lost_returns(toml)
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn second_attempt_double_charge_charges_an_order_the_first_card_paid() {
    let n = exposes_with(
        "second_attempt_double_charge",
        "double_charge",
        exposing("", ""),
        with_lost_returns_paid_again,
    )
    .await;
    assert!(n > 0);
}

/// Card declines and failed challenges, every customer paying again with another card:
/// the correct merchant charges the new card once, never a declined card again, and
/// verifies clean (no `hard_decline_retried` for a new card under a new key).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn customers_paying_again_with_another_card_are_charged_once_and_verify_clean() {
    let setup = exposing("insufficient_funds = 0.3\nrisk_block = 0.1", "");
    let run = run_toml(&with_lost_returns_paid_again(setup.toml())).await;
    let v = &run.json["verification"];
    assert_eq!(v["passed"], true, "{:#}", v["discrepancies"]);
    let f = &run.json["journeys"];
    let declined = f["retries"]["declined"].as_u64().unwrap_or(0);
    let after_challenge = f["retries"]["failed_challenge"].as_u64().unwrap_or(0);
    assert!(declined > 0, "{f:#}");
    assert!(after_challenge + declined > 0, "{f:#}");
    assert!(f["retries_paid"].as_u64().unwrap() > 0, "{f:#}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_journeys_scenario_verifies_clean_with_customers_paying_again() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/scenarios/journeys.toml");
    let text = std::fs::read_to_string(path).expect("scenarios/journeys.toml readable");
    let run = run_toml(&text).await;
    let v = &run.json["verification"];
    assert_eq!(v["passed"], true, "{:#}", v["discrepancies"]);
    let retries = run.json["journeys"]["retries"].as_object().unwrap();
    assert!(
        retries.values().any(|n| n.as_u64() > Some(0)),
        "{retries:?}"
    );
}
