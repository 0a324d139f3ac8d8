use crate::util::{
    assert_injected, assert_verified_clean, run_toml, scenario_toml, ALL_FAULTS, ALL_FAULT_KINDS,
    WEBHOOK_CHAOS,
};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn correct_merchant_verifies_clean_under_every_fault() {
    // Arrange: every fault kind and all webhook chaos on.
    let toml = scenario_toml(42, ALL_FAULTS, WEBHOOK_CHAOS);

    // Act
    let run = run_toml(&toml).await;
    let j = &run.json;

    // Assert: every check passed, and the run really met each fault.
    assert_verified_clean(&run);
    assert_eq!(j["load"]["sent"], 100);
    assert_eq!(j["load"]["shed"], 0);
    assert_injected(j, &ALL_FAULT_KINDS);
    let wh = &j["webhooks"];
    for chaos in [
        "duplicated",
        "forged",
        "stale",
        "unsigned",
        "reordered",
        "dropped",
    ] {
        assert!(wh[chaos].as_u64().unwrap() > 0, "no {chaos}: {wh}");
    }
    assert_eq!(wh["forged_accepted"], 0);
    assert_eq!(wh["never_acknowledged"], 0);
    assert!(run.dir().join("report.md").is_file());
    let md = std::fs::read_to_string(run.dir().join("report.md")).unwrap();
    assert!(md.contains("PASS"), "{md}");
    assert!(md.contains("Attacker copies:"), "{md}");
}
