//! Backup payment channels end to end: `scenarios/emergency.toml` (a Stripe-shaped primary
//! down at the peak, a gateway backup) verifies clean with the reference merchant failing
//! over and back, with both channels' money in the books; and the planted flaw
//! `failover_unknown_outcome` fails exactly `charged_on_two_channels`. The same drill's
//! failure-rate alarm fires for the half second both channels are down, and the reference
//! merchant's monitor reports it.

use crate::flaws::exposes_toml;
use crate::util::run_toml;

/// Two channels, 40 checkouts/s for 2 s; the primary's window takes down most charges and
/// times out the rest after charging them (an unknown outcome for the merchant). No card
/// declines: a decline the merchant's timeout missed under a busy machine is another check's.
fn two_channels(flaws: &str) -> String {
    format!(
        r#"
name = "it-failover"
seed = 7

[load]
profile = "constant"
rate = 40
duration = "2s"
request_timeout = "10s"

[[providers]]
name = "main"
dialect = "stripe"
hold = "2s"

[[providers.faults.windows]]
name = "outage"
start = "0.3s"
end = "1.5s"
server_error = 0.7
timeout_after_charge = 0.3

[[providers]]
name = "backup"
dialect = "gateway"
hold = "2s"

[webhooks]
secret = "whsec_it_failover"

[merchant]
provider_timeout = "1s"
max_retries = 2
retry_backoff = "20ms"
reconcile_every = "100ms"
pending_grace = "2s"
breaker_failures = 3
breaker_cooldown = "300ms"
flaws = {flaws}

[drain]
timeout = "8s"
"#
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failover_unknown_outcome_is_charged_on_two_channels() {
    let n = exposes_toml(
        "failover_unknown_outcome",
        "charged_on_two_channels",
        &two_channels(r#"["failover_unknown_outcome"]"#),
        &two_channels("[]"),
    )
    .await;
    assert!(n > 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_emergency_scenario_fails_over_alarms_and_verifies_clean() {
    let text = std::fs::read_to_string("scenarios/emergency.toml").unwrap();
    let run = run_toml(&text).await;
    let j = &run.json;
    assert_eq!(
        j["verification"]["passed"], true,
        "{:#}",
        j["verification"]["discrepancies"]
    );
    let channels = j["channels"]["channels"]
        .as_array()
        .expect("a channels section");
    let names: Vec<&str> = channels
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["stripe-main", "gateway-backup"]);
    assert!(
        channels.iter().all(|c| c["routed"].as_u64().unwrap() > 0),
        "both channels took checkouts: {channels:#?}"
    );
    let outage = &j["channels"]["failovers"][0];
    assert_eq!(outage["window"], "primary-outage");
    assert!(outage["failover_s"].is_number(), "{outage:#}");
    assert!(outage["saved"].as_u64().unwrap() > 0, "{outage:#}");
    let gates: Vec<&str> = j["gates"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["name"].as_str().unwrap())
        .collect();
    for gate in ["failover_s", "failback_s", "alarm_delay_s", "alarm_missed"] {
        assert!(gates.contains(&gate), "{gate} in {gates:?}");
    }
    // The alarm: with 0 provider trouble outside the backup's half second (4.5 s to 5 s, a
    // quarter of the answers of a 2 s window at the peak) against a 10% threshold, the seed
    // decides one expected firing, and the merchant's monitor, watching the same answers,
    // posts one. Its delay is a figure of the machine: present, not bounded here.
    let alarm = &j["alarm"];
    let expected = alarm["expected"].as_array().expect("an alarm section");
    assert_eq!(expected.len(), 1, "{alarm:#}");
    let fired = expected[0]["expected"]["fired_s"].as_f64().unwrap();
    assert!((5.0..=6.0).contains(&fired), "{alarm:#}");
    assert!(expected[0]["delay_s"].is_number(), "{alarm:#}");
    assert_eq!(alarm["missed"], 0, "{alarm:#}");
    assert!(alarm["delay_s_max"].is_number(), "{alarm:#}");
}
