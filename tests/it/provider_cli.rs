use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::time::Duration;

fn paychaos() -> Command {
    Command::new(env!("CARGO_BIN_EXE_paychaos"))
}

/// `paychaos provider` in its own process; killed when dropped, also when a test panics.
struct ProviderProcess {
    child: Child,
    /// `127.0.0.1:PORT`, from the first stdout line.
    addr: String,
    /// Every later stdout line, read on a thread so the child never blocks on a full pipe.
    lines: Receiver<String>,
}

impl ProviderProcess {
    fn start(args: &[&str]) -> ProviderProcess {
        let mut child = paychaos()
            .arg("provider")
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("paychaos provider starts");
        let mut stdout = BufReader::new(child.stdout.take().unwrap());
        let mut first = String::new();
        stdout.read_line(&mut first).expect("the first line");
        let addr = first
            .strip_prefix("paychaos provider listening on http://")
            .and_then(|rest| rest.split_whitespace().next())
            .unwrap_or_else(|| panic!("unexpected first line {first:?}"))
            .to_string();
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in stdout.lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        ProviderProcess { child, addr, lines }
    }

    /// The next stdout line containing `needle` (bounded wait; the log line is printed
    /// after the answer, so it may trail the client by a moment).
    fn line_with(&self, needle: &str) -> String {
        loop {
            match self.lines.recv_timeout(Duration::from_secs(10)) {
                Ok(line) if line.contains(needle) => return line,
                Ok(_) => {}
                Err(e) => panic!("no stdout line with {needle:?}: {e}"),
            }
        }
    }
}

impl Drop for ProviderProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One HTTP/1.1 exchange on a fresh connection (`Connection: close`): status and body.
fn http(addr: &str, method: &str, path: &str, headers: &[&str], body: &str) -> (u16, String) {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut req = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for h in headers {
        req.push_str(h);
        req.push_str("\r\n");
    }
    req.push_str("\r\n");
    req.push_str(body);
    s.write_all(req.as_bytes()).unwrap();
    let mut resp = String::new();
    s.read_to_string(&mut resp).unwrap();
    let status = resp
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no status in {resp:?}"));
    let body = resp
        .split_once("\r\n\r\n")
        .map_or("", |(_, b)| b)
        .to_string();
    (status, body)
}

fn charge(addr: &str, order: &str) -> (u16, String) {
    let body = format!(
        "amount=1000&currency=usd&payment_method=pm_card_visa&confirm=true&metadata[order_id]={order}"
    );
    let headers = [
        "Authorization: Bearer sk_test_x",
        "Content-Type: application/x-www-form-urlencoded",
    ];
    http(addr, "POST", "/v1/payment_intents", &headers, &body)
}

#[test]
fn faults_switched_through_the_control_api_hit_the_next_charge_and_ctrl_c_exits_0() {
    // Arrange
    let mut p = ProviderProcess::start(&["--listen", "127.0.0.1:0", "--seed", "7"]);
    let secret = p.line_with("webhook secret: ");
    assert!(secret.contains("whsec_"), "{secret}");
    p.line_with("stripe-python");

    // Act 1: a clean charge, logged.
    let (status, _) = charge(&p.addr, "ord-000001");
    assert_eq!(status, 200);
    let line = p.line_with("POST /v1/payment_intents");
    assert!(line.contains(" 200 order=ord-000001 "), "{line}");
    assert!(line.ends_with("ms"), "{line}");

    // Act 2: insufficient funds switched on for every order.
    let patch = r#"{"faults":{"insufficient_funds":1.0}}"#;
    let json = ["Content-Type: application/json"];
    let (status, body) = http(&p.addr, "PATCH", "/_paychaos/faults", &json, patch);
    assert_eq!(status, 200, "{body}");
    let (status, body) = charge(&p.addr, "ord-000002");

    // Assert
    assert_eq!(status, 402);
    assert!(
        body.contains("\"decline_code\":\"insufficient_funds\""),
        "{body}"
    );
    let line = p.line_with("POST /v1/payment_intents");
    assert!(
        line.contains(" 402 fault=insufficient_funds order=ord-000002 "),
        "{line}"
    );
    let (status, ledger) = http(
        &p.addr,
        "GET",
        "/_paychaos/ledger?order_id=ord-000002",
        &[],
        "",
    );
    assert_eq!(status, 200);
    assert_eq!(ledger.lines().count(), 1, "{ledger}");
    assert!(
        ledger.contains("\"fault\":\"insufficient_funds\""),
        "{ledger}"
    );

    // Ctrl-C stops it cleanly.
    let pid = p.child.id().to_string();
    let sent = Command::new("kill").args(["-INT", &pid]).status().unwrap();
    assert!(sent.success());
    let status = p.child.wait().unwrap();
    assert_eq!(status.code(), Some(0));
    let mut stderr = String::new();
    p.child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    assert!(stderr.contains("stopped after"), "{stderr}");
}

#[test]
fn the_control_token_and_a_separate_control_port_are_honoured() {
    let p = ProviderProcess::start(&[
        "--listen",
        "127.0.0.1:0",
        "--control",
        "127.0.0.1:0",
        "--control-token",
        "t0k",
        "--quiet",
    ]);
    let line = p.line_with("control API: ");
    let control = line
        .strip_prefix("control API: http://")
        .and_then(|r| r.split('/').next())
        .unwrap()
        .to_string();
    assert_ne!(control, p.addr);
    assert!(line.contains("bearer token required"), "{line}");
    let (status, _) = http(&control, "GET", "/_paychaos/faults", &[], "");
    assert_eq!(status, 401);
    let auth = ["Authorization: Bearer t0k"];
    let (status, body) = http(&control, "GET", "/_paychaos/faults", &auth, "");
    assert_eq!(status, 200);
    assert!(body.contains("\"insufficient_funds\": 0.0"), "{body}");
    let (status, _) = http(&p.addr, "GET", "/_paychaos/faults", &auth, "");
    assert_eq!(status, 404, "the API port serves the Stripe paths only");
}

#[test]
fn non_loopback_addresses_are_refused_before_binding() {
    for args in [["--listen", "0.0.0.0:0"], ["--control", "192.168.1.1:9000"]] {
        let out = paychaos().arg("provider").args(args).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stderr.contains(args[0]) && stderr.contains("loopback"),
            "{stderr}"
        );
    }
}

/// #11: SIGTERM stops `paychaos provider` as Ctrl-C does, and the ledger is still written.
#[test]
fn sigterm_exits_0_and_writes_the_ledger_out() {
    // Arrange: one charge in the ledger.
    let tmp = tempfile::tempdir().unwrap();
    let ledger_out = tmp.path().join("ledger.json");
    let ledger_arg = ledger_out.display().to_string();
    let mut p = ProviderProcess::start(&["--listen", "127.0.0.1:0", "--ledger-out", &ledger_arg]);
    let (status, _) = charge(&p.addr, "ord-000001");
    assert_eq!(status, 200);

    // Act
    let pid = p.child.id().to_string();
    let sent = Command::new("kill").args(["-TERM", &pid]).status().unwrap();
    assert!(sent.success());
    let status = p.child.wait().unwrap();

    // Assert
    assert_eq!(status.code(), Some(0));
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&ledger_out).unwrap()).unwrap();
    let ledger = json["ledger"].as_array().expect("a ledger list");
    assert_eq!(ledger.len(), 1, "{json}");
    assert!(ledger[0].to_string().contains("ord-000001"), "{json}");
}

/// #11: a --ledger-out into a missing folder used to lose the ledger at Ctrl-C.
#[test]
fn a_ledger_out_that_cannot_be_written_is_refused_before_binding() {
    let tmp = tempfile::tempdir().unwrap();
    let missing = tmp.path().join("missing").join("ledger.json");
    let out = paychaos()
        .args(["provider", "--listen", "127.0.0.1:0", "--ledger-out"])
        .arg(&missing)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("--ledger-out")
            && stderr.contains("missing")
            && stderr.contains("No such file"),
        "{stderr}"
    );
    assert!(out.stdout.is_empty(), "nothing was served");
}

#[test]
fn the_request_log_shows_no_secret_key_token_or_card_number() {
    // Arrange
    let (secret, token, key, pan) = (
        "whsec_probe_banner_3Xv",
        "tok_probe_control_8Lm",
        "sk_test_probe_client_5Rw",
        "4000000000009995",
    );
    let p = ProviderProcess::start(&[
        "--listen",
        "127.0.0.1:0",
        "--webhook-secret",
        secret,
        "--control-token",
        token,
    ]);
    let auth = format!("Authorization: Bearer {key}");
    let form = "Content-Type: application/x-www-form-urlencoded";
    let card = format!("card[number]={pan}&card[exp_month]=12&card[exp_year]=2034&card[cvc]=123");

    // Act: a raw number on both routes that take one, and the control API with its token.
    let (status, body) = http(
        &p.addr,
        "POST",
        "/v1/payment_methods",
        &[&auth, form],
        &card,
    );
    assert_eq!(status, 200, "{body}");
    assert!(!body.contains(pan), "{body}");
    let pi = format!(
        "amount=1000&currency=usd&confirm=true&metadata[order_id]=ord-1&payment_method_data[type]=card&payment_method_data[{}",
        card.replace('&', "&payment_method_data[").replace("card[", "card][")
    );
    let (status, body) = http(&p.addr, "POST", "/v1/payment_intents", &[&auth, form], &pi);
    assert_eq!(status, 402, "{body}");
    let bearer = format!("Authorization: Bearer {token}");
    http(&p.addr, "GET", "/_paychaos/faults", &[&bearer], "");
    // Logged after its answer: once this one is in, the requests before it are too.
    charge(&p.addr, "ord-2");
    let mut lines = Vec::new();
    loop {
        let line = p
            .lines
            .recv_timeout(Duration::from_secs(10))
            .expect("request log lines");
        let last = line.contains("order=ord-2");
        lines.push(line);
        if last {
            break;
        }
    }

    // Assert: the banner hands over the webhook secret once; nothing else shows any of them.
    let with_secret: Vec<&String> = lines.iter().filter(|l| l.contains(secret)).collect();
    assert_eq!(with_secret.len(), 1, "{lines:#?}");
    assert!(with_secret[0].starts_with("webhook secret: "), "{lines:#?}");
    for l in &lines {
        for s in [token, key, pan] {
            assert!(!l.contains(s), "{l:?} shows {s:?}");
        }
    }
    assert!(
        lines
            .iter()
            .any(|l| l.contains("POST /v1/payment_methods 200")),
        "{lines:#?}"
    );
}
