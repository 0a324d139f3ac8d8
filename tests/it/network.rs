//! `PAYCHAOS_NETWORK`: loopback unless a process opts into cluster addresses. Every test
//! here still binds 127.0.0.1 only; what changes is which addresses are accepted.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

fn provider(network: Option<&str>, webhook_url: &str) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_paychaos"));
    c.args(["provider", "--listen", "127.0.0.1:0", "--quiet"])
        .args(["--webhook-url", webhook_url])
        .env_remove("PAYCHAOS_NETWORK");
    if let Some(n) = network {
        c.env("PAYCHAOS_NETWORK", n);
    }
    c
}

#[test]
fn a_cluster_address_is_refused_without_the_opt_in_and_named() {
    let out = provider(None, "http://10.1.2.3:8080/webhooks/stripe")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("--webhook-url"), "{err}");
    assert!(err.contains("host '10.1.2.3' is not loopback"), "{err}");
}

#[test]
fn an_unknown_network_is_refused_before_anything_starts() {
    let out = provider(Some("internet"), "http://127.0.0.1:9/x")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("PAYCHAOS_NETWORK='internet' is not a network (accepted: loopback"),
        "{err}"
    );
    assert!(out.stdout.is_empty(), "nothing started");
}

#[test]
fn the_cluster_opt_in_accepts_a_cluster_address() {
    // Nothing is sent to it (no payment is made): accepting it is what is tested.
    let mut child = provider(Some("cluster"), "http://10.1.2.3:8080/webhooks/stripe")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut first = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut first)
        .unwrap();
    let _ = child.kill();
    let _ = child.wait();
    assert!(
        first.starts_with("paychaos provider listening on http://127.0.0.1:"),
        "{first:?}"
    );
}
