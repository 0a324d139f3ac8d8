use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::process::{Child, ChildStdout, Command, Stdio};

use crate::util::{
    assert_injected, assert_on_diagonal, assert_verified_clean, count, report_json, run_toml,
    ALL_FAULTS, WEBHOOK_CHAOS,
};

fn paychaos() -> Command {
    Command::new(env!("CARGO_BIN_EXE_paychaos"))
}

use crate::util::free_port;

/// `paychaos merchant` in its own process; killed when dropped, also when a test panics.
struct MerchantProcess {
    child: Child,
    /// Kept open so the child never writes into a closed pipe.
    _stdout: BufReader<ChildStdout>,
    /// `127.0.0.1:PORT`, as the merchant printed it.
    addr: String,
}

impl MerchantProcess {
    /// Starts the reference merchant against a provider at `provider_port`, on a free port,
    /// with the timings of `util::scenario_toml`, and waits for it to print its address.
    fn start(provider_port: u16, secret: &str) -> MerchantProcess {
        let provider_url = format!("http://127.0.0.1:{provider_port}");
        let args = [
            "merchant",
            "--provider-url",
            &provider_url,
            "--webhook-secret",
            secret,
            "--listen",
            "127.0.0.1:0",
            "--provider-timeout",
            "1s",
            "--max-retries",
            "3",
            "--retry-backoff",
            "10ms",
            "--reconcile-every",
            "100ms",
            "--pending-grace",
            "1s",
        ];
        let mut child = paychaos()
            .args(args)
            .stdout(Stdio::piped())
            .spawn()
            .expect("paychaos merchant starts");
        let mut stdout = BufReader::new(child.stdout.take().unwrap());
        let mut line = String::new();
        // An early exit closes the pipe: read_line returns, and the assert below says why.
        let read = stdout.read_line(&mut line);
        let mut process = MerchantProcess {
            child,
            _stdout: stdout,
            addr: String::new(),
        };
        read.expect("reading the merchant's first line");
        let Some(addr) = line
            .trim()
            .strip_prefix("paychaos merchant: listening on http://")
        else {
            panic!(
                "unexpected first line {line:?} (exit: {:?})",
                process.child.try_wait()
            );
        };
        process.addr = addr.to_string();
        process
    }
}

impl Drop for MerchantProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// An external-merchant scenario: the faults and webhook chaos of the reference e2e test,
/// the merchant at `merchant`, order states read one by one (`order_url`).
fn external_toml(provider_port: u16, merchant: &str) -> String {
    format!(
        r#"
name = "it-external"
seed = 42

[load]
profile = "constant"
rate = 50
duration = "2s"
max_in_flight = 1000
request_timeout = "10s"

[provider]
listen = "127.0.0.1:{provider_port}"
hold = "2s"

[faults]
{ALL_FAULTS}

[webhooks]
secret = "whsec_it_external"
retry_schedule = ["50ms", "100ms", "200ms"]
timeout = "1s"
{WEBHOOK_CHAOS}

[merchant]
kind = "external"
webhook_url = "http://{merchant}/webhooks/stripe"

[merchant.checkout]
url = "http://{merchant}/checkout"

[merchant.orders]
order_url = "http://{merchant}/orders/{{{{order_id}}}}"

[drain]
timeout = "10s"

[gates]
verification = true
"#
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reference_merchant_in_its_own_process_verifies_clean_as_external() {
    // Arrange: the merchant runs first, pointed at where the run's provider will listen.
    let provider_port = free_port();
    let mut merchant = MerchantProcess::start(provider_port, "whsec_it_external");
    let toml = external_toml(provider_port, &merchant.addr);

    // Act
    let run = run_toml(&toml).await;
    let j = &run.json;

    // Assert: every check passed, and the run met every fault kind and webhook chaos.
    assert_verified_clean(&run);
    assert_eq!((count(j, "/load/sent"), count(j, "/load/shed")), (100, 0));
    assert_injected(
        j,
        &[
            "insufficient_funds",
            "risk_block",
            "timeout",
            "timeout_after_charge",
            "server_error",
            "rate_limit",
        ],
    );
    let wh = &j["webhooks"];
    assert!(
        count(wh, "/duplicated") > 0 && count(wh, "/forged") > 0,
        "{wh}"
    );
    assert_eq!(count(wh, "/forged_accepted"), 0);

    // The confusion matrix: every order on the diagonal of a correct merchant, or a late
    // charge's decline that landed after the merchant gave its order up.
    let diagonal = [
        ("charged", "paid"),
        ("refunded", "failed_provider_error"),
        ("declined_insufficient_funds", "failed_insufficient_funds"),
        ("declined_risk_blocked", "failed_risk_blocked"),
        ("not_charged", "failed_provider_error"),
        ("no_attempt", "failed_provider_error"),
        ("declined_insufficient_funds", "failed_provider_error"),
        ("declined_risk_blocked", "failed_provider_error"),
    ];
    assert_on_diagonal(j, &diagonal, 100);
    for (truth, state) in [diagonal[0], diagonal[2], diagonal[3]] {
        assert!(
            count(j, &format!("/outcomes/confusion/{truth}/{state}")) > 0,
            "no {truth} order"
        );
    }
    assert!(
        merchant.child.try_wait().unwrap().is_none(),
        "the merchant process is still serving"
    );
}

/// #9: a run whose final order states cannot be read concludes nothing: report.json says
/// `error` with exit code 2, as the process does, rather than a pass or a fail.
#[test]
fn unreadable_final_states_make_the_report_say_error_with_the_exit_code() {
    // Arrange: the reference merchant on its own, its export read at a path it does not serve.
    let provider_port = free_port();
    let merchant = MerchantProcess::start(provider_port, "whsec_it_external");
    let order_url = format!(
        "order_url = \"http://{}/orders/{{{{order_id}}}}\"",
        merchant.addr
    );
    let toml = external_toml(provider_port, &merchant.addr);
    assert!(toml.contains(&order_url), "{toml}");
    let toml = toml
        .replace(
            &order_url,
            &format!("export_url = \"http://{}/no-such-export\"", merchant.addr),
        )
        .replace("duration = \"2s\"", "duration = \"500ms\"")
        // The export never answers, so the drain cannot see the orders settle: keep it short.
        .replace("[drain]\ntimeout = \"10s\"", "[drain]\ntimeout = \"1s\"");
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("unreadable.toml");
    std::fs::write(&file, toml).unwrap();
    let out_dir = tmp.path().join("report");

    // Act
    let out = paychaos()
        .args(["run", &file.display().to_string(), "--out"])
        .arg(&out_dir)
        .arg("--quiet")
        .output()
        .unwrap();

    // Assert
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("reading the merchant's final order states"),
        "{err}"
    );
    let json = report_json(&out_dir);
    assert_eq!(
        (&json["verdict"], &json["exit_code"]),
        (&"error".into(), &2.into())
    );
    let md = std::fs::read_to_string(out_dir.join("report.md")).unwrap();
    assert!(md.starts_with("# paychaos: it-external — ERROR"), "{md}");
}

/// #9: a merchant whose orders outlive the run meets new order ids in the next run, so it
/// charges them afresh instead of answering from the first run's orders.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_merchant_that_outlives_a_run_verifies_clean_on_the_next() {
    // Arrange: one merchant process for two runs of one scenario and seed.
    let provider_port = free_port();
    let merchant = MerchantProcess::start(provider_port, "whsec_it_external");
    let toml = external_toml(provider_port, &merchant.addr);

    // Act
    let first = run_toml(&toml).await;
    let second = run_toml(&toml).await;

    // Assert: both clean, every order of the second charged at the provider again.
    for (run, j) in [("first", &first.json), ("second", &second.json)] {
        assert_eq!(
            j["verification"]["passed"], true,
            "{run} run: {}",
            j["verification"]["discrepancies"]
        );
        assert_eq!(count(j, "/outcomes/confusion/no_attempt/paid"), 0, "{run}");
    }
    assert_ne!(first.json["run"]["run_id"], second.json["run"]["run_id"]);
    assert_eq!(
        first.json["faults"]["plan_digest"],
        second.json["faults"]["plan_digest"]
    );
    assert_eq!(
        count(&first.json, "/outcomes/confusion/charged/paid"),
        count(&second.json, "/outcomes/confusion/charged/paid"),
        "the seed charges the same orders in both runs"
    );
}

#[test]
fn run_refuses_a_taken_provider_port_naming_it() {
    // Arrange: something already listens on provider.listen.
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("ext.toml");
    std::fs::write(&file, external_toml(port, "127.0.0.1:9")).unwrap();

    // Act
    let out = paychaos()
        .args(["run", &file.display().to_string(), "--out"])
        .arg(tmp.path().join("report"))
        .output()
        .unwrap();

    // Assert
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains(&format!("cannot listen on 127.0.0.1:{port}"))
            && err.contains("provider.listen"),
        "{err}"
    );
    assert!(!tmp.path().join("report").exists());
}

#[test]
fn run_without_the_merchant_prints_its_configuration_then_gives_up() {
    // Arrange: nothing listens at the merchant's address.
    let (provider_port, merchant_port) = (free_port(), free_port());
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("ext.toml");
    let merchant = format!("127.0.0.1:{merchant_port}");
    std::fs::write(&file, external_toml(provider_port, &merchant)).unwrap();

    // Act
    let out = paychaos()
        .args(["run", &file.display().to_string(), "--out"])
        .arg(tmp.path().join("report"))
        .output()
        .unwrap();

    // Assert: what to configure, then why the run could not be done.
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    for needle in [
        format!("http://127.0.0.1:{provider_port}"),
        format!("http://{merchant}/webhooks/stripe"),
        "whsec_it_external".to_string(),
        "metadata[order_id]".to_string(),
        format!("the merchant does not answer at {merchant}"),
    ] {
        assert!(err.contains(&needle), "{needle} missing:\n{err}");
    }
    assert!(!tmp.path().join("report").exists());
}

/// #11: SIGTERM stops `paychaos merchant` cleanly, as Ctrl-C does.
#[test]
fn merchant_command_exits_0_on_sigterm() {
    // Arrange
    let mut merchant = MerchantProcess::start(free_port(), "whsec_x");

    // Act
    let pid = merchant.child.id().to_string();
    let sent = Command::new("kill").args(["-TERM", &pid]).status().unwrap();
    assert!(sent.success());
    let status = merchant.child.wait().unwrap();

    // Assert
    assert_eq!(status.code(), Some(0));
}

#[test]
fn merchant_command_refuses_unknown_flaws_and_bad_flags() {
    let out = paychaos()
        .args([
            "merchant",
            "--provider-url",
            "http://example.com",
            "--webhook-secret",
            "whsec_x",
            "--flaw",
            "no_such_flaw",
        ])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("--provider-url: 'http://example.com'") && err.contains("127.0.0.0/8"),
        "{err}"
    );
    assert!(err.contains("'no_such_flaw'"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_merchant_paying_at_another_provider_is_told_the_runs_provider_url() {
    // #9: the provider saw no charge at all while the merchant said "paid" to every
    // checkout; the report gave a hundred free_goods and no hint.
    // Arrange: the merchant pays at a stand-in that takes every payment.
    use wiremock::matchers::{method, path};
    use wiremock::{Mock, MockServer, ResponseTemplate};
    let elsewhere = MockServer::start().await;
    let paid = serde_json::json!({"id": "pi_elsewhere", "object": "payment_intent",
        "status": "succeeded"});
    Mock::given(method("POST"))
        .and(path("/v1/payment_intents"))
        .respond_with(ResponseTemplate::new(200).set_body_json(paid))
        .mount(&elsewhere)
        .await;
    let merchant = MerchantProcess::start(elsewhere.address().port(), "whsec_it_external");
    let provider_port = free_port();

    // Act
    let run = run_toml(&external_toml(provider_port, &merchant.addr)).await;

    // Assert
    let hints = run.json["verification"]["hints"]
        .as_array()
        .expect("hints listed");
    assert_eq!(hints.len(), 1, "{hints:?}");
    let hint = hints[0].as_str().unwrap();
    assert!(
        hint.contains("the provider received no payment for 100 orders the merchant calls paid")
            && hint.contains(&format!("pay at http://127.0.0.1:{provider_port}")),
        "{hint}"
    );
    let summary = paychaos::report::summary::render(&run.outcome.report);
    assert!(
        summary.contains(&format!("  hint          {hint}")),
        "{summary}"
    );
    assert_eq!(count(&run.json, "/load/sent"), 100);
}
