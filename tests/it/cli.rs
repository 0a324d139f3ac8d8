use std::path::Path;
use std::process::Command;

fn paychaos() -> Command {
    Command::new(env!("CARGO_BIN_EXE_paychaos"))
}

fn write(dir: &Path, name: &str, text: &str) -> std::path::PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

#[test]
fn shipped_scenarios_validate() {
    let mut files: Vec<String> = std::fs::read_dir("scenarios")
        .unwrap()
        .map(|e| e.unwrap().path().display().to_string())
        .filter(|p| p.ends_with(".toml"))
        .collect();
    files.sort();
    assert!(files.len() >= 5, "{files:?}");
    for file in &files {
        let out = paychaos().args(["validate", file]).output().unwrap();
        assert!(
            out.status.success(),
            "{file}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(String::from_utf8_lossy(&out.stdout).contains("ok"));
    }
}

#[test]
fn bad_scenario_exits_2_naming_every_key_path_and_writes_nothing() {
    // Arrange: two problems at once, in different tables.
    let tmp = tempfile::tempdir().unwrap();
    let file = write(
        tmp.path(),
        "bad.toml",
        "name = \"bad\"\n[load]\nprofile = \"constant\"\nrate = 10\nduration = \"1s\"\n[faults]\ntimeout = 1.5\n[merchant]\nmax_retries = 3\nprovider_timeout = \"ten\"\n",
    );
    let out_dir = tmp.path().join("never");

    for args in [
        vec!["validate".to_string(), file.display().to_string()],
        vec![
            "run".to_string(),
            file.display().to_string(),
            "--out".into(),
            out_dir.display().to_string(),
        ],
    ] {
        // Act
        let out = paychaos().args(&args).output().unwrap();

        // Assert
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains("bad.toml"), "names the input: {err}");
        assert!(
            err.contains("faults.timeout") && err.contains("0.0..=1.0") && err.contains("1.5"),
            "{err}"
        );
        assert!(
            err.contains("merchant.provider_timeout"),
            "every problem at once: {err}"
        );
        assert!(!out_dir.exists(), "nothing written for a bad scenario");
    }
}

#[test]
fn unknown_key_is_named_with_its_path() {
    let tmp = tempfile::tempdir().unwrap();
    let file = write(
        tmp.path(),
        "typo.toml",
        "name = \"typo\"\n[load]\nprofile = \"constant\"\nrate = 10\nduration = \"1s\"\n[faults]\ntimeuot = 0.1\n",
    );
    let out = paychaos()
        .args(["validate", &file.display().to_string()])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("timeuot") && err.contains("faults"), "{err}");
}

#[test]
fn missing_file_exits_2() {
    let out = paychaos()
        .args(["validate", "no/such/scenario.toml"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no/such/scenario.toml"));
}

/// A short scenario for the binary tests: `extra` lines are appended (new tables).
fn quick_scenario(dir: &Path, extra: &str) -> std::path::PathBuf {
    write(
        dir,
        "quick.toml",
        &format!(
            "name = \"quick\"\nseed = 3\n[load]\nprofile = \"constant\"\nrate = 20\nduration = \"1s\"\n\
             [provider]\nhold = \"2s\"\n[merchant]\nprovider_timeout = \"1s\"\nretry_backoff = \"10ms\"\n\
             reconcile_every = \"100ms\"\npending_grace = \"1s\"\n{extra}"
        ),
    )
}

#[test]
fn a_failed_check_exits_1_and_names_it() {
    // Arrange: a merchant that tells every decline as a generic one.
    let tmp = tempfile::tempdir().unwrap();
    let file = quick_scenario(
        tmp.path(),
        "flaws = [\"generic_decline_message\"]\n[faults]\ninsufficient_funds = 0.5\n",
    );
    let out_dir = tmp.path().join("report");

    // Act
    let out = paychaos()
        .args([
            "run",
            &file.display().to_string(),
            "--out",
            &out_dir.display().to_string(),
            "--quiet",
        ])
        .output()
        .unwrap();

    // Assert
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("FAIL") && stdout.contains("wrong_reason"),
        "{stdout}"
    );
    assert!(out_dir.join("report.json").is_file() && out_dir.join("report.html").is_file());
}

#[test]
fn ctrl_c_stops_the_run_and_still_writes_the_report() {
    use std::io::{BufRead, BufReader};
    use std::process::Stdio;

    // Arrange: a run long enough to interrupt.
    let tmp = tempfile::tempdir().unwrap();
    let file = write(
        tmp.path(),
        "long.toml",
        "name = \"long\"\n[load]\nprofile = \"constant\"\nrate = 20\nduration = \"60s\"\n",
    );
    let out_dir = tmp.path().join("report");
    let mut child = paychaos()
        .args([
            "run",
            &file.display().to_string(),
            "--out",
            &out_dir.display().to_string(),
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();

    // Act: interrupt once the run has started (its first line names the servers).
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    let mut line = String::new();
    stderr.read_line(&mut line).unwrap();
    assert!(line.contains("provider http://127.0.0.1:"), "{line}");
    let killed = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut stderr, &mut rest).unwrap();
    let status = child.wait().unwrap();

    // Assert: exit 2, and the report says it was interrupted.
    assert_eq!(status.code(), Some(2), "{rest}");
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out_dir.join("report.json")).unwrap())
            .unwrap();
    assert_eq!(json["run"]["interrupted"], true);
    assert!(json["load"]["planned"].as_u64().unwrap() == 1200);
    assert!(
        json["load"]["sent"].as_u64().unwrap() < 1200,
        "{}",
        json["load"]
    );
}
