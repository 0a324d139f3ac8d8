//! The failure-rate alarm drill end to end: `scenarios/alarm.toml` with the reference
//! merchant's monitor posting to the alert receiver, and without it. What is asserted is what
//! the answers decide (when the alarm should fire and clear, whether any alert came), never
//! how late an alert was beyond the scenario's generous gate.

use crate::util::{assert_verified_clean, run_toml};

fn alarm_toml() -> String {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/scenarios/alarm.toml");
    std::fs::read_to_string(path).expect("scenarios/alarm.toml readable")
}

fn gate<'a>(j: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    j["gates"]
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["name"] == name)
        .unwrap_or_else(|| panic!("no gate {name}: {}", j["gates"]))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_monitor_s_alert_fires_and_clears_with_the_outage_and_the_gates_pass() {
    // Arrange: a 4 s outage from 4 s, a 3 s window, every charge failing inside it.
    let toml = alarm_toml();

    // Act
    let run = run_toml(&toml).await;
    let j = &run.json;

    // Assert: [3, 6) is the first window half failures; [7, 10) the first one below.
    assert_verified_clean(&run);
    let a = &j["alarm"];
    let expected = a["expected"].as_array().unwrap();
    assert_eq!(expected.len(), 1, "{a}");
    assert_eq!(expected[0]["expected"]["fired_s"], 6.0, "{a}");
    assert_eq!(expected[0]["expected"]["cleared_s"], 10.0, "{a}");
    assert_eq!(a["missed"], 0, "{a}");
    assert!(expected[0]["received"]["cleared_s"].is_number(), "{a}");
    assert!(gate(j, "alarm_missed")["passed"].as_bool().unwrap());
    assert!(gate(j, "alarm_delay_s")["passed"].as_bool().unwrap());
    let md = std::fs::read_to_string(run.dir().join("report.md")).unwrap();
    assert!(md.contains("## Failure-rate alarm"), "{md}");
    assert!(md.contains("alert received: resolved"), "{md}");
    let html = std::fs::read_to_string(run.dir().join("report.html")).unwrap();
    assert!(html.contains("id=\"alarm\"") && html.contains("alarm expected"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_the_monitor_the_alarm_is_missed_and_both_gates_fail() {
    // Arrange
    let toml = alarm_toml().replace("monitor = true", "monitor = false");

    // Act
    let run = run_toml(&toml).await;
    let j = &run.json;

    // Assert
    let a = &j["alarm"];
    assert_eq!(
        (a["missed"].as_u64(), a["alerts_received"].as_u64()),
        (Some(1), Some(0))
    );
    assert!(!gate(j, "alarm_missed")["passed"].as_bool().unwrap());
    assert!(!gate(j, "alarm_delay_s")["passed"].as_bool().unwrap());
    assert_eq!(j["verdict"], "fail");
    assert_eq!(run.outcome.report.exit_code, 1);
}
