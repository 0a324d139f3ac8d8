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
    for file in ["scenarios/smoke.toml", "scenarios/presale.toml"] {
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
