//! The harness never writes a secret or a raw card number into what it leaves behind: whole
//! runs through the binary (both dialects, the Stripe one with the `raw_pan` flaw so that
//! raw numbers really cross the wire) with every file of the report folder, stdout and
//! stderr searched for the webhook secret, the API key and the card number.

use std::path::Path;
use std::process::Command;

/// The API key the reference merchant presents.
const API_KEY: &str = paychaos::merchant::DEFAULT_API_KEY;
/// The number `raw_pan` sends for `pm_card_visa`.
const PAN: &str = "4242424242424242";

fn scenario(name: &str, dialect: &str, secret: &str, flaws: &str) -> String {
    format!(
        "name = \"{name}\"\nseed = 5\n[load]\nprofile = \"constant\"\nrate = 20\nduration = \"2s\"\n\
         [provider]\ndialect = \"{dialect}\"\nhold = \"600ms\"\n\
         [faults]\nserver_error = 0.1\ntimeout_after_charge = 0.05\n\
         [webhooks]\nsecret = \"{secret}\"\nduplicate = 0.2\nforged = 0.1\n\
         [merchant]\nprovider_timeout = \"300ms\"\nflaws = {flaws}\n\
         [drain]\ntimeout = \"5s\"\n[alarm]\nmin_sample = 5\n"
    )
}

/// Every file under `dir`, recursively, with its text (lossy).
fn every_file(dir: &Path, out: &mut Vec<(String, String)>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            every_file(&p, out);
        } else {
            let text = String::from_utf8_lossy(&std::fs::read(&p).unwrap()).into_owned();
            out.push((p.display().to_string(), text));
        }
    }
}

/// Runs `toml` through `paychaos run`; every artefact by name with its text.
fn artefacts(toml: &str) -> Vec<(String, String)> {
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("s.toml");
    std::fs::write(&file, toml).unwrap();
    let out_dir = tmp.path().join("report");
    let out = Command::new(env!("CARGO_BIN_EXE_paychaos"))
        .args(["run", &file.display().to_string(), "--out"])
        .arg(&out_dir)
        .env("RUST_LOG", "debug")
        .output()
        .unwrap();
    let code = out.status.code();
    assert!(
        matches!(code, Some(0 | 1)),
        "the run could not be done: {out:?}"
    );
    let mut all = vec![
        (
            "stdout".to_string(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
        ),
        (
            "stderr".to_string(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        ),
    ];
    every_file(&out_dir, &mut all);
    assert!(
        all.len() >= 6,
        "{:?}",
        all.iter().map(|a| &a.0).collect::<Vec<_>>()
    );
    all
}

#[track_caller]
fn assert_absent(all: &[(String, String)], secrets: &[&str]) {
    for (name, text) in all {
        for s in secrets {
            assert!(!text.contains(s), "{name} contains {s:?}");
        }
    }
}

#[test]
fn a_stripe_run_with_raw_numbers_writes_no_secret_and_no_number() {
    let secret = "whsec_probe_stripe_7Qk2";
    let all = artefacts(&scenario(
        "secrets-stripe",
        "stripe",
        secret,
        "[\"raw_pan\"]",
    ));
    assert_absent(&all, &[secret, API_KEY, PAN]);
    // The numbers did cross the wire: the check saw them, masked.
    let json = &all.iter().find(|a| a.0.ends_with("report.json")).unwrap().1;
    assert!(json.contains("visa …4242"), "raw_pan sent no number");
}

#[test]
fn a_gateway_run_writes_no_secret() {
    let secret = "whsec_probe_gateway_9Zt4";
    let all = artefacts(&scenario("secrets-gateway", "gateway", secret, "[]"));
    assert_absent(&all, &[secret, API_KEY, PAN]);
}
