use crate::util::{run_toml, scenario_toml, ALL_FAULTS, WEBHOOK_CHAOS};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn correct_merchant_verifies_clean_under_every_fault() {
    // Arrange: every fault kind and all webhook chaos on.
    let toml = scenario_toml(42, ALL_FAULTS, WEBHOOK_CHAOS);

    // Act
    let run = run_toml(&toml).await;
    let j = &run.json;

    // Assert: every check passed, and the run really met each fault.
    let checks = j["verification"]["checks"]
        .as_array()
        .expect("checks listed");
    assert!(checks.len() >= 9, "{checks:?}");
    for c in checks {
        assert_eq!(
            c["passed"], true,
            "check failed: {c}\n{}",
            j["verification"]["discrepancies"]
        );
    }
    assert_eq!(j["verification"]["passed"], true);
    assert!(
        run.outcome.report.passed(),
        "{:?}",
        run.outcome.report.failures()
    );
    assert_eq!(j["run"]["drained"], true, "drain did not settle");
    assert_eq!(j["load"]["sent"], 100);
    assert_eq!(j["load"]["shed"], 0);
    for kind in [
        "insufficient_funds",
        "risk_block",
        "timeout",
        "timeout_after_charge",
        "server_error",
        "rate_limit",
        "processing_error",
        "late_charge",
    ] {
        assert!(
            j["faults"]["injected"][kind].as_u64().unwrap_or(0) > 0,
            "{kind} never injected: {}",
            j["faults"]["injected"]
        );
    }
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
