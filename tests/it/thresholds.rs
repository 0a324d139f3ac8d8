//! `[[thresholds]]` in whole runs: an `abort_on_fail` threshold that the seed certainly
//! breaks stops the load, and the report says so.

use crate::util::{run_toml, Setup};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_abort_on_fail_threshold_stops_the_load_and_fails_the_run() {
    // Arrange: every charge attempt answers 500, so no order is ever paid: the live success
    // rate is 0 once any checkout has an answer, below the threshold whatever the timing.
    let setup = Setup {
        rate: 20,
        duration: "60s",
        faults: "server_error = 1.0".into(),
        ..Setup::default()
    };
    let toml = format!(
        "{}\n[[thresholds]]\nmetric = \"checks.double_charge\"\nop = \"==\"\nvalue = 0\n\
         [[thresholds]]\nmetric = \"success_rate\"\nop = \">=\"\nvalue = 0.5\n\
         abort_on_fail = true\ndelay = \"1s\"\n",
        setup.toml()
    );

    // Act
    let run = run_toml(&toml).await;
    let j = &run.json;

    // Assert: aborted, not interrupted; a fail (exit 1); the load planned only what ran.
    assert_eq!(
        (j["verdict"].as_str(), j["exit_code"].as_u64()),
        (Some("fail"), Some(1))
    );
    assert_eq!(j["run"]["interrupted"], false);
    let why = j["run"]["aborted_by"].as_str().expect("aborted_by set");
    assert!(
        why.starts_with("thresholds[1] success_rate ≥ 0.5 failed on the live figure 0"),
        "{why}"
    );
    assert!(
        j["load"]["planned"].as_u64().unwrap() < 20 * 60,
        "{}",
        j["load"]
    );
    let gates = j["gates"].as_array().unwrap();
    // The verification gate (on by default), then the two thresholds.
    assert_eq!(gates.len(), 3, "{gates:?}");
    assert_eq!(
        (gates[1]["source"].as_str(), gates[1]["passed"].as_bool()),
        (Some("thresholds[0]"), Some(true))
    );
    assert_eq!(gates[2]["passed"], false);
    assert!(gates[2]["note"]
        .as_str()
        .unwrap()
        .starts_with("ABORTED by threshold"));
}

#[test]
fn a_set_override_changes_the_plan_digest_as_the_file_would() {
    use std::io::Write;
    let mut f = tempfile::NamedTempFile::new().unwrap();
    let setup = Setup {
        faults: "server_error = 0.3".into(),
        ..Setup::default()
    };
    f.write_all(setup.toml().as_bytes()).unwrap();
    let load = |sets: &[&str]| {
        let sets: Vec<String> = sets.iter().map(|s| s.to_string()).collect();
        paychaos::scenario::Scenario::load_with(f.path(), &sets).unwrap()
    };
    let base = paychaos::report::plan_digest(&load(&[]));
    assert_eq!(
        base,
        paychaos::report::plan_digest(&load(&["seed=1"])),
        "the same seed"
    );
    assert_ne!(base, paychaos::report::plan_digest(&load(&["seed=2"])));
    assert_ne!(
        base,
        paychaos::report::plan_digest(&load(&["load.rate=60"]))
    );
}
