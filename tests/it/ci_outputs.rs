//! What `paychaos run` leaves for a CI job besides the report folder: the `--junit` copy of
//! junit.xml and the Markdown block appended to `$GITHUB_STEP_SUMMARY`.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use quick_junit::{Report, TestCaseStatus};

/// A one-second run of 20 checkouts/s; `extra` lines are appended (new tables).
fn scenario(dir: &Path, extra: &str) -> PathBuf {
    let p = dir.join("ci.toml");
    std::fs::write(
        &p,
        format!(
            "name = \"ci\"\nseed = 5\n[load]\nprofile = \"constant\"\nrate = 20\nduration = \"1s\"\n\
             [provider]\nhold = \"300ms\"\n[merchant]\nprovider_timeout = \"150ms\"\nretry_backoff = \"10ms\"\n\
             reconcile_every = \"100ms\"\npending_grace = \"1s\"\n{extra}"
        ),
    )
    .unwrap();
    p
}

fn run(args: &[&str], step_summary: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_paychaos"))
        .arg("run")
        .args(args)
        .arg("--quiet")
        .env("GITHUB_STEP_SUMMARY", step_summary)
        .output()
        .unwrap()
}

#[test]
fn a_failed_check_is_a_junit_failure_and_a_step_summary_line() {
    // Arrange: a merchant that tells every decline as a generic one; a summary file an
    // earlier step already wrote to.
    let tmp = tempfile::tempdir().unwrap();
    let file = scenario(
        tmp.path(),
        "flaws = [\"generic_decline_message\"]\n[faults]\ninsufficient_funds = 0.5\n",
    );
    let out_dir = tmp.path().join("report");
    let copy = tmp.path().join("ci").join("paychaos-junit.xml");
    let summary = tmp.path().join("summary.md");
    std::fs::write(&summary, "# build\n").unwrap();

    // Act
    let out = run(
        &[
            &file.display().to_string(),
            "--out",
            &out_dir.display().to_string(),
            "--junit",
            &copy.display().to_string(),
        ],
        &summary,
    );

    // Assert: exit 1; the copy is the folder's junit.xml, and names the failed check.
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    let xml = std::fs::read_to_string(out_dir.join("junit.xml")).unwrap();
    assert_eq!(std::fs::read_to_string(&copy).unwrap(), xml);
    let doc = Report::deserialize_from_str(&xml).unwrap();
    let checks = doc
        .test_suites
        .iter()
        .find(|s| s.name.as_str() == "checks")
        .unwrap();
    let failed: Vec<_> = checks
        .test_cases
        .iter()
        .filter(|c| !matches!(c.status, TestCaseStatus::Success { .. }))
        .map(|c| c.name.as_str())
        .collect();
    assert!(failed.contains(&"wrong_reason"), "{xml}");

    let text = std::fs::read_to_string(&summary).unwrap();
    assert!(
        text.starts_with("# build\n\n## paychaos ci (seed 5): FAIL\n"),
        "{text}"
    );
    assert!(text.contains("- `wrong_reason`: "), "{text}");
}

#[test]
fn an_unwritable_step_summary_is_a_warning_not_a_failure() {
    // Arrange: a clean run; the summary file's folder does not exist.
    let tmp = tempfile::tempdir().unwrap();
    let file = scenario(tmp.path(), "");
    let out_dir = tmp.path().join("report");
    let summary = tmp.path().join("no").join("such").join("summary.md");

    // Act
    let out = run(
        &[
            &file.display().to_string(),
            "--out",
            &out_dir.display().to_string(),
        ],
        &summary,
    );

    // Assert
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(
        stderr.contains("warning: appending the step summary to")
            && stderr.contains("GITHUB_STEP_SUMMARY"),
        "{stderr}"
    );
    assert!(out_dir.join("junit.xml").is_file());
}
