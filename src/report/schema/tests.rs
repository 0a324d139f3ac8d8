use std::path::PathBuf;

use serde_json::Value;

use super::*;
use crate::report::tests::{failing_sample, sample};
use crate::report::{json, CapacityReport, CapacityStep};

fn committed_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(SCHEMA_PATH)
}

/// The report as `report.json` holds it.
fn written(report: &RunReport) -> Value {
    let mut out = Vec::new();
    json::write(report, &mut out).unwrap();
    serde_json::from_slice(&out).unwrap()
}

/// Every way `instance` breaks the schema, one line each (empty: valid). The generated schema,
/// which `the_committed_schema_is_the_models` holds equal to the committed file (reading the
/// file here would race that test's rewrite under `UPDATE_SCHEMA=1`).
fn violations(instance: &Value) -> Vec<String> {
    let schema: Value = serde_json::from_str(&generate()).expect("the schema is JSON");
    let validator = jsonschema::validator_for(&schema).expect("the schema compiles");
    validator
        .iter_errors(instance)
        .map(|e| format!("at {}: {e}", e.instance_path()))
        .collect()
}

fn assert_valid(name: &str, report: &RunReport) {
    let errors = violations(&written(report));
    assert!(
        errors.is_empty(),
        "{name} breaks {SCHEMA_PATH}:\n{}",
        errors.join("\n")
    );
}

#[test]
fn the_committed_schema_is_the_models() {
    let generated = generate();
    let path = committed_path();
    if std::env::var_os("UPDATE_SCHEMA").is_some() {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, &generated).unwrap();
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == generated,
        "{SCHEMA_PATH} differs from the report model; regenerate it with \
         `UPDATE_SCHEMA=1 cargo test --lib report::schema` and commit it (and bump \
         SCHEMA_VERSION if a key was removed, renamed or retyped: see the README)"
    );
}

#[test]
fn the_schema_pins_the_schema_version() {
    let schema: Value = serde_json::from_str(&generate()).unwrap();
    assert_eq!(
        schema["properties"]["schema_version"]["const"],
        Value::from(SCHEMA_VERSION)
    );
}

#[test]
fn the_report_fixtures_validate() {
    assert_valid("sample()", &sample());
    assert_valid("failing_sample()", &failing_sample());
    // A capacity run's part, with its optional steps set and unset.
    let step = CapacityStep {
        rate: 100.0,
        from_s: 1.0,
        to_s: 2.0,
        planned: 100,
        sent: 100,
        shed: 0,
        achieved_rate: 100.0,
        p99_ms: Some(3.5),
        send_lag_p99_ms: None,
        eligible: 90,
        paid: 90,
        success_rate: Some(1.0),
        complete: true,
        held: true,
    };
    let mut capacity = sample();
    capacity.capacity = Some(CapacityReport {
        slo_p99_ms: 100.0,
        slo_success_rate: 0.99,
        every_s: 2.0,
        settle_s: 1.0,
        max_rate: 200.0,
        steps: vec![step.clone()],
        knee: Some(step),
        first_broken: None,
        held_at_max: false,
        stopped_early: false,
    });
    assert_valid("a capacity report", &capacity);
}

/// A change made to a written report.
type Edit = dyn Fn(&mut Value);

#[test]
fn a_report_that_breaks_the_contract_is_refused() {
    let good = written(&sample());
    let broken = |f: &Edit| {
        let mut v = good.clone();
        f(&mut v);
        violations(&v)
    };
    // A key removed, a word outside a closed set, a retyped figure, another version.
    let cases: [(&str, &Edit); 4] = [
        ("/verdict removed", &|v| {
            v.as_object_mut().unwrap().remove("verdict");
        }),
        ("/verdict unknown", &|v| v["verdict"] = "maybe".into()),
        ("/load/sent retyped", &|v| v["load"]["sent"] = "100".into()),
        ("/schema_version 2", &|v| v["schema_version"] = 2.into()),
    ];
    for (name, f) in cases {
        assert!(!broken(f).is_empty(), "{name} was accepted");
    }
}
