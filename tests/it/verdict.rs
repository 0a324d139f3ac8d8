//! #9, false alarms of the verdict in whole runs: the correct reference merchant in a
//! scenario that used to fail it.

use crate::util::{count, run_toml, Setup};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_decline_landing_after_the_merchants_timeout_and_replayed_under_its_key_is_clean() {
    // Arrange: every charge answers after 700 ms, the merchant waits 500 ms; half the cards
    // decline. The merchant never hears a 402 in time, retries under the same key (as the
    // README tells it to), and settles from the provider's records. It used to be flagged
    // 37 times for retrying a decline it never received.
    let setup = Setup {
        duration: "1s",
        faults:
            "insufficient_funds = 0.5\nlatency = { distribution = \"fixed\", value = \"700ms\" }"
                .into(),
        ..Setup::default()
    }
    .merchant("provider_timeout", "\"500ms\"");

    // Act
    let run = run_toml(&setup.toml()).await;
    let j = &run.json;

    // Assert
    assert!(
        count(j, "/faults/injected/insufficient_funds") > 0,
        "{}",
        j["faults"]
    );
    assert_eq!(
        j["verification"]["passed"], true,
        "{:#}",
        j["verification"]["discrepancies"]
    );
    assert!(
        count(
            j,
            "/outcomes/confusion/declined_insufficient_funds/failed_insufficient_funds"
        ) > 0,
        "the declines were found and told: {}",
        j["outcomes"]["confusion"]
    );
}
