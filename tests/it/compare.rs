//! `paychaos compare` on report folders the runs below write, and `run --baseline`: exit 0
//! when nothing regressed, 1 on a regression, 2 on a report that cannot be read. The runs
//! meet no faults, so what is compared strictly (rates, checks) is what the seed decides;
//! latency, which timing decides, is given a floor no run reaches, or a zero baseline.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

/// A one-second run of 20 checkouts/s without faults.
fn scenario(dir: &Path) -> PathBuf {
    let p = dir.join("cmp.toml");
    std::fs::write(
        &p,
        "name = \"cmp\"\nseed = 9\n[load]\nprofile = \"constant\"\nrate = 20\nduration = \"1s\"\n",
    )
    .unwrap();
    p
}

fn paychaos(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_paychaos"))
        .args(args)
        .env_remove("GITHUB_STEP_SUMMARY")
        .output()
        .unwrap()
}

fn s(p: &Path) -> String {
    p.display().to_string()
}

fn report_json(dir: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(dir.join("report.json")).unwrap()).unwrap()
}

/// Copies the report in `from` to a new folder `to`, with `edit` applied to its report.json.
fn edited_copy(from: &Path, to: &Path, edit: impl FnOnce(&mut Value)) {
    let mut v = report_json(from);
    edit(&mut v);
    std::fs::create_dir_all(to).unwrap();
    std::fs::write(to.join("report.json"), serde_json::to_vec(&v).unwrap()).unwrap();
}

/// Latency may move by up to 100 s: only rates and counts can regress.
const NO_LATENCY: &[&str] = &["--latency-floor-ms", "100000"];

#[test]
fn compare_exits_0_1_and_2_on_report_folders() {
    let tmp = tempfile::tempdir().unwrap();
    let file = scenario(tmp.path());
    let (a, b) = (tmp.path().join("a"), tmp.path().join("b"));
    for dir in [&a, &b] {
        let out = paychaos(&["run", &s(&file), "--out", &s(dir), "--quiet"]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(0), "{stderr}");
    }

    // The same seed, no faults: nothing regressed (the folder and the file read alike).
    let out = paychaos(&["compare", &s(&a), &s(&b), NO_LATENCY[0], NO_LATENCY[1]]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.starts_with("## paychaos compare: OK\n"), "{stdout}");
    assert!(
        stdout.contains("| checks.double_charge | 0 | 0 | 0 | ok | equal |"),
        "{stdout}"
    );

    // JSON to a file.
    let json_out = tmp.path().join("out").join("cmp.json");
    let b_file = s(&b.join("report.json"));
    let out = paychaos(&[
        "compare",
        &s(&a),
        &b_file,
        "--format",
        "json",
        "--out",
        &s(&json_out),
        NO_LATENCY[0],
        NO_LATENCY[1],
    ]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.stdout.is_empty());
    let v: Value = serde_json::from_str(&std::fs::read_to_string(&json_out).unwrap()).unwrap();
    assert_eq!(
        (v["verdict"].as_str(), v["comparable"].as_bool()),
        (Some("ok"), Some(true))
    );
    assert_eq!(v["new"]["source"], b_file.as_str());

    // A double charge the base did not have: exit 1, named.
    let c = tmp.path().join("c");
    edited_copy(&b, &c, |v| {
        let checks = v["verification"]["checks"].as_array_mut().unwrap();
        let dc = checks
            .iter_mut()
            .find(|c| c["name"] == "double_charge")
            .unwrap();
        dc["violations"] = 2.into();
        dc["passed"] = false.into();
    });
    let out = paychaos(&["compare", &s(&a), &s(&c), NO_LATENCY[0], NO_LATENCY[1]]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(
        stdout.contains("2 regressed (failed_checks, checks.double_charge)"),
        "{stdout}"
    );

    // Another seed's plan: a warning first, not a failure.
    let d = tmp.path().join("d");
    edited_copy(&b, &d, |v| {
        v["faults"]["plan_digest"] = "0".repeat(64).into()
    });
    let out = paychaos(&["compare", &s(&a), &s(&d), NO_LATENCY[0], NO_LATENCY[1]]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    let third = stdout.lines().nth(2).unwrap_or_default();
    assert!(
        third.starts_with("> **Not comparable fault for fault**"),
        "{stdout}"
    );

    // Bad input: both named, exit 2, nothing on stdout.
    let missing = tmp.path().join("missing");
    let newer = tmp.path().join("newer");
    edited_copy(&b, &newer, |v| v["schema_version"] = 999.into());
    let out = paychaos(&["compare", &s(&missing), &s(&newer)]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(out.stdout.is_empty());
    assert!(
        stderr.contains(&format!(
            "error: {}: no such file or folder",
            missing.display()
        )),
        "{stderr}"
    );
    assert!(
        stderr.contains(&format!(
            "error: {}: schema_version 999 is newer than this paychaos reads",
            newer.join("report.json").display()
        )),
        "{stderr}"
    );
}

#[test]
fn a_run_that_regressed_against_its_baseline_fails_with_the_comparison_in_its_folder() {
    let tmp = tempfile::tempdir().unwrap();
    let file = scenario(tmp.path());
    let a = tmp.path().join("a");
    let out = paychaos(&["run", &s(&file), "--out", &s(&a), "--quiet"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // A baseline that answered every checkout at once: any latency at all regresses.
    let zero = tmp.path().join("zero");
    edited_copy(&a, &zero, |v| {
        for p in ["p50", "p90", "p99", "p999", "max"] {
            v["latency_ms"][p] = 0.0.into();
        }
    });

    let b = tmp.path().join("b");
    let out = paychaos(&[
        "run",
        &s(&file),
        "--out",
        &s(&b),
        "--quiet",
        "--baseline",
        &s(&zero),
        "--latency-tolerance",
        "0",
        "--latency-floor-ms",
        "0",
    ]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("## paychaos compare: REGRESSED"),
        "{stdout}"
    );
    assert!(stdout.contains("| latency_ms.max | 0 |"), "{stdout}");

    // The report says what the process said: the baseline gate failed.
    let v = report_json(&b);
    assert_eq!(
        (v["verdict"].as_str(), v["exit_code"].as_u64()),
        (Some("fail"), Some(1))
    );
    let gate = v["gates"]
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["name"] == "baseline")
        .unwrap();
    assert_eq!(gate["passed"], false);
    let cmp: Value =
        serde_json::from_str(&std::fs::read_to_string(b.join("compare.json")).unwrap()).unwrap();
    assert_eq!(cmp["verdict"], "regressed");
    assert!(std::fs::read_to_string(b.join("compare.md"))
        .unwrap()
        .contains("**regressed**"));
    let junit = std::fs::read_to_string(b.join("junit.xml")).unwrap();
    assert!(junit.contains("name=\"baseline\""), "{junit}");
}

#[test]
fn a_bad_baseline_ends_the_run_before_it_starts() {
    let tmp = tempfile::tempdir().unwrap();
    let file = scenario(tmp.path());
    let out_dir = tmp.path().join("report");
    let empty = tmp.path().join("empty");
    std::fs::create_dir(&empty).unwrap();

    let out = paychaos(&[
        "run",
        &s(&file),
        "--out",
        &s(&out_dir),
        "--baseline",
        &s(&empty),
    ]);

    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains(&format!(
            "error: --baseline {}: no report.json in this folder",
            empty.display()
        )),
        "{stderr}"
    );
    assert!(!out_dir.exists(), "nothing written");
}
