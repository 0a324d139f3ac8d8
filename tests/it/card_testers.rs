//! Card testers: the reference merchant refuses a tester past its declared limits before
//! calling the provider and refuses no honest customer; the provider's velocity rules block
//! what reaches them past their own limits, as many as the seed's bursts decide; the planted
//! flaw `no_velocity_limit` fails `card_testing_unthrottled` alone.

use crate::flaws::{exposes, exposing};
use crate::util::{run_toml, Setup};

/// Two bursts a second of six attempts over four cards, 10 ms apart (`[card_testers]`
/// written where `[faults]` lines go: a table of its own), with `provider` rules if given.
fn testers(provider: &str) -> String {
    let mut t =
        "\n[card_testers]\nrate = 2\nburst = 6\ncards = 4\ninterval = \"10ms\"\n".to_string();
    if !provider.is_empty() {
        t.push_str(&format!("\n[provider.velocity]\n{provider}\n"));
    }
    t
}

/// The merchant's declared limit: three attempts per customer and address in a minute.
const LIMIT: &str = "{ window = \"60s\", max_attempts = 3 }";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_velocity_limit_lets_card_testers_through() {
    let setup = exposing(&testers(""), "").merchant("velocity", LIMIT);
    let n = exposes("no_velocity_limit", "card_testing_unthrottled", setup).await;
    // One finding per burst: two bursts in the 1 s load.
    assert_eq!(n, 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_merchant_stops_testers_past_its_limit_and_refuses_no_honest_customer() {
    let setup = Setup {
        seed: 3,
        duration: "1s",
        faults: testers(""),
        ..Setup::default()
    }
    .merchant("velocity", LIMIT);
    let run = run_toml(&setup.toml()).await;
    let json = &run.json;
    assert_eq!(
        json["verification"]["passed"], true,
        "{:#}",
        json["verification"]
    );
    let ct = &json["card_testers"];
    assert_eq!(ct["bursts"], 2, "{ct}");
    assert_eq!(ct["attempts"], 12, "{ct}");
    // Three attempts of each burst reach the provider, the other three are refused.
    assert_eq!(ct["stopped_by_merchant"], 6, "{ct}");
    assert_eq!(ct["let_through"], 6, "{ct}");
    assert_eq!(ct["stopped_by_provider"], 0, "{ct}");
    assert_eq!(ct["honest_refused"], 0, "{ct}");
    // The offered load's figures leave the testers out.
    assert_eq!(json["load"]["sent"], 50);
    let md = std::fs::read_to_string(run.dir().join("report.md")).unwrap();
    assert!(md.contains("## Card testers"), "{md}");
    assert!(md.contains("| stopped by the merchant | 6 |"), "{md}");
    let html = std::fs::read_to_string(run.dir().join("report.html")).unwrap();
    assert!(html.contains("<h2>Card testers</h2>"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_providers_rules_block_what_reaches_them_past_their_limits() {
    // No merchant limit: every attempt reaches the provider, which blocks each burst's
    // attempts after its second; no limit is declared, so the check has nothing to hold.
    let setup = Setup {
        seed: 3,
        duration: "1s",
        faults: testers("max_attempts = 2"),
        ..Setup::default()
    };
    let run = run_toml(&setup.toml()).await;
    let json = &run.json;
    assert_eq!(
        json["verification"]["passed"], true,
        "{:#}",
        json["verification"]
    );
    let ct = &json["card_testers"];
    assert_eq!(ct["stopped_by_merchant"], 0, "{ct}");
    assert_eq!(ct["stopped_by_provider"], 8, "{ct}");
    assert_eq!(ct["let_through"], 4, "{ct}");
    assert_eq!(ct["honest_refused"], 0, "{ct}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_the_gateway_the_providers_rules_stop_what_a_flawed_merchant_lets_through() {
    // Arrange: the gateway dialect, a merchant declaring three attempts but enforcing none;
    // it forwards each checkout's customer and address as the pay's customer_id and
    // client_ip, and the gateway blocks every burst's attempts after its second (301).
    let setup = crate::util::Setup {
        dialect: "gateway",
        ..exposing(&testers("max_attempts = 2"), "")
    }
    .merchant("velocity", LIMIT)
    .merchant("flaws", "[\"no_velocity_limit\"]");

    // Act
    let run = run_toml(&setup.toml()).await;

    // Assert: the merchant is caught (one finding per burst), and only by that check.
    let json = &run.json;
    let failed: Vec<&str> = json["verification"]["checks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["violations"].as_u64().unwrap_or(0) > 0)
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        failed,
        ["card_testing_unthrottled"],
        "{:#}",
        json["verification"]["discrepancies"]
    );
    let ct = &json["card_testers"];
    assert_eq!(ct["bursts"], 2, "{ct}");
    assert_eq!(ct["stopped_by_merchant"], 0, "{ct}");
    assert_eq!(ct["stopped_by_provider"], 8, "{ct}");
    assert_eq!(ct["let_through"], 4, "{ct}");
    assert_eq!(ct["honest_refused"], 0, "{ct}");
}
