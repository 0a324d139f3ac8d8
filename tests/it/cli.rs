use std::path::Path;
use std::process::Command;

use crate::util::report_json;

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
        "name = \"typo\"\n[load]\nprofile = \"constant\"\nrate = -5\nduration = \"1s\"\n[faults]\ntimeuot = 0.1\n",
    );
    let out = paychaos()
        .args(["validate", &file.display().to_string()])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("timeuot") && err.contains("faults"), "{err}");
    // #9: with the key it meant, and without hiding the problem after it.
    assert!(err.contains("did you mean `timeout`?"), "{err}");
    assert!(
        err.contains("load.rate: must be a number greater than 0, got -5"),
        "{err}"
    );
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

#[test]
fn a_plan_beyond_the_ceilings_exits_2_naming_the_key_and_the_ceiling() {
    // Regression (#11): `rate = 1e12` passed validation, then `run` spun before the load.
    let tmp = tempfile::tempdir().unwrap();
    let file = write(
        tmp.path(),
        "huge.toml",
        "name = \"huge\"\n[load]\nprofile = \"constant\"\nrate = 1e12\nduration = \"1s\"\n",
    );
    let out_dir = tmp.path().join("never");
    let file = file.display().to_string();
    let out_arg = out_dir.display().to_string();
    for args in [
        vec!["validate", &file],
        vec!["run", &file, "--out", &out_arg],
    ] {
        let out = paychaos().args(&args).output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(
            err.contains("load.rate") && err.contains("at most 1000000 checkouts per second"),
            "{err}"
        );
        assert!(!out_dir.exists(), "nothing written for a refused plan");
    }
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
    // report.json says what the process did (#9).
    let json = report_json(&out_dir);
    assert_eq!(
        (&json["verdict"], &json["exit_code"]),
        (&"fail".into(), &1.into())
    );
}

/// Starts a 60 s run, sends `signal` (a `kill` name) once the run has started, and returns
/// its exit code, its stderr after the first line, its report.json and its report.md.
fn interrupt_a_run(signal: &str) -> (Option<i32>, String, serde_json::Value, String) {
    use std::io::{BufRead, BufReader};
    use std::process::Stdio;

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

    // The run's first line names the servers: the load is about to start.
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    let mut line = String::new();
    stderr.read_line(&mut line).unwrap();
    assert!(line.contains("provider http://127.0.0.1:"), "{line}");
    let killed = Command::new("kill")
        .args([&format!("-{signal}"), &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut stderr, &mut rest).unwrap();
    let status = child.wait().unwrap();
    let json = if out_dir.join("report.json").exists() {
        report_json(&out_dir)
    } else {
        serde_json::Value::Null
    };
    let md = std::fs::read_to_string(out_dir.join("report.md")).unwrap_or_default();
    (status.code(), rest, json, md)
}

#[test]
fn ctrl_c_stops_the_run_and_still_writes_the_report() {
    // Act
    let (code, stderr, json, _) = interrupt_a_run("INT");

    // Assert: exit 2, and the report says it was interrupted.
    assert_eq!(code, Some(2), "{stderr}");
    assert_eq!(json["run"]["interrupted"], true, "{stderr}");
    assert_eq!(json["verdict"], "interrupted", "{stderr}");
    assert_eq!(json["exit_code"], 2, "{stderr}");
    assert!(json["load"]["planned"].as_u64().unwrap() == 1200);
    assert!(
        json["load"]["sent"].as_u64().unwrap() < 1200,
        "{}",
        json["load"]
    );
}

/// #11: SIGTERM (CI runners, Kubernetes) used to end the run at once with an empty folder.
#[test]
fn sigterm_stops_the_run_like_ctrl_c_and_writes_an_interrupted_report() {
    // Act
    let (code, stderr, json, md) = interrupt_a_run("TERM");

    // Assert
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("SIGTERM: stopping the load"), "{stderr}");
    assert_eq!(json["run"]["interrupted"], true, "{stderr}");
    assert!(
        json["load"]["sent"].as_u64().unwrap() < 1200,
        "{}",
        json["load"]
    );
    assert!(md.contains("INTERRUPTED"), "{md}");
}

/// `paychaos run FILE --out DIR ARGS…` with `env` set; exit code, stdout, stderr.
fn run_out(
    file: &Path,
    out: &Path,
    args: &[&str],
    env: &[(&str, &Path)],
) -> (Option<i32>, String, String) {
    let mut cmd = paychaos();
    cmd.arg("run").arg(file).arg("--out").arg(out).args(args);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let o = cmd.output().unwrap();
    (
        o.status.code(),
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

/// #11: `paychaos run … 2>&1 | head -n 1` used to panic on the closed pipe and lose the report.
#[test]
fn a_closed_stdout_and_stderr_stop_neither_the_run_nor_its_report() {
    // Arrange: a run that ends in a failed check (exit 1), its output into `head -n 1`.
    let tmp = tempfile::tempdir().unwrap();
    let file = quick_scenario(
        tmp.path(),
        "flaws = [\"generic_decline_message\"]\n[faults]\ninsufficient_funds = 0.5\n",
    );
    let out_dir = tmp.path().join("report");
    let script = r#"set -o pipefail; "$0" run "$1" --out "$2" 2>&1 | head -n 1"#;

    // Act
    let o = Command::new("bash")
        .args(["-c", script, env!("CARGO_BIN_EXE_paychaos")])
        .arg(&file)
        .arg(&out_dir)
        .output()
        .unwrap();

    // Assert: the run's own exit code (not 101), one line shown, the report written.
    let shown = String::from_utf8_lossy(&o.stdout);
    assert_eq!(
        o.status.code(),
        Some(1),
        "{shown}{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert_eq!(shown.lines().count(), 1, "{shown}");
    for f in ["report.json", "report.md", "report.html"] {
        assert!(out_dir.join(f).is_file(), "{f} missing");
    }
}

/// #11: an --out holding an earlier report used to be overwritten without a word.
#[test]
fn an_out_folder_holding_an_earlier_report_is_refused_unless_forced() {
    // Arrange
    let tmp = tempfile::tempdir().unwrap();
    let file = quick_scenario(tmp.path(), "");
    let out_dir = tmp.path().join("report");
    std::fs::create_dir(&out_dir).unwrap();
    std::fs::write(out_dir.join("report.json"), "{\"earlier\": true}").unwrap();

    // Act 1
    let (code, _, err) = run_out(&file, &out_dir, &[], &[]);

    // Assert 1: refused at once, the earlier report untouched.
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.contains("earlier run") && err.contains("--force"),
        "{err}"
    );
    assert!(err.contains(&out_dir.display().to_string()), "{err}");
    let kept = std::fs::read_to_string(out_dir.join("report.json")).unwrap();
    assert_eq!(kept, "{\"earlier\": true}");

    // Act 2
    let (code, _, err) = run_out(&file, &out_dir, &["--force"], &[]);

    // Assert 2: replaced.
    assert_eq!(code, Some(0), "{err}");
    let json = report_json(&out_dir);
    assert_eq!(json["scenario"]["name"], "quick");
    assert_eq!(
        (&json["verdict"], &json["exit_code"]),
        (&"pass".into(), &0.into())
    );
}

/// #11: a report folder that cannot be written used to fail only after the whole load.
#[test]
fn an_unusable_report_folder_is_refused_before_any_socket_is_bound() {
    // Arrange: provider.listen is taken, so a run that bound first would fail on the port.
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    let tmp = tempfile::tempdir().unwrap();
    let file = write(
        tmp.path(),
        "taken.toml",
        &format!(
            "name = \"taken\"\n[load]\nprofile = \"constant\"\nrate = 1\nduration = \"1s\"\n\
             [provider]\nlisten = \"127.0.0.1:{port}\"\n"
        ),
    );
    let plain_file = write(tmp.path(), "plain", "");
    let long_name = tmp.path().join("a".repeat(10_000));

    for out in [plain_file.join("report"), long_name] {
        // Act
        let (code, _, err) = run_out(&file, &out, &[], &[]);

        // Assert
        assert_eq!(code, Some(2), "{err}");
        assert!(err.contains("cannot create the report folder"), "{err}");
        assert!(
            !err.contains("cannot listen"),
            "the folder is checked first: {err}"
        );
    }
}

/// #11: a late write failure names the file, keeps what was written, and puts the whole
/// report in a temporary folder that the error names.
#[test]
fn a_late_write_failure_names_the_file_and_falls_back_to_a_temporary_folder() {
    // Arrange: report.md cannot be put in place (a folder of that name is in the way).
    let tmp = tempfile::tempdir().unwrap();
    let file = quick_scenario(tmp.path(), "");
    let out_dir = tmp.path().join("report");
    std::fs::create_dir_all(out_dir.join("report.md")).unwrap();
    std::fs::write(out_dir.join("report.md").join("keep"), "").unwrap();
    let temp = tmp.path().join("tmp");
    std::fs::create_dir(&temp).unwrap();

    // Act
    let (code, _, err) = run_out(&file, &out_dir, &[], &[("TMPDIR", &temp)]);

    // Assert
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("report.md"), "names the file: {err}");
    assert!(
        out_dir.join("report.json").is_file(),
        "what was written is kept"
    );
    let fallbacks: Vec<_> = std::fs::read_dir(temp.join("paychaos-reports"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(fallbacks.len(), 1, "{fallbacks:?}");
    assert!(err.contains(&fallbacks[0].display().to_string()), "{err}");
    for f in ["report.json", "report.md", "report.html"] {
        assert!(
            fallbacks[0].join(f).is_file(),
            "{f} missing from the fallback"
        );
    }
}
