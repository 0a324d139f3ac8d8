use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::time::{Duration, Instant};

fn paychaos() -> Command {
    Command::new(env!("CARGO_BIN_EXE_paychaos"))
}

/// A child process killed when dropped (also when a test panics).
struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Every line of `r`, read on a thread so the child never blocks on a full pipe.
fn lines(r: impl Read + Send + 'static) -> Receiver<String> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(r).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    rx
}

/// The address in the first line of `rx` holding `prefix` (`prefix` then `ADDR/metrics`).
fn metrics_addr(rx: &Receiver<String>, prefix: &str) -> String {
    loop {
        let line = rx
            .recv_timeout(Duration::from_secs(30))
            .unwrap_or_else(|e| panic!("no line with {prefix:?}: {e}"));
        if let Some(rest) = line.split(prefix).nth(1) {
            return rest.trim_end_matches("/metrics").to_string();
        }
    }
}

/// One HTTP/1.1 request; the status and the body.
fn http(addr: &str, request: &str) -> std::io::Result<(u16, String)> {
    let mut s = TcpStream::connect(addr)?;
    s.write_all(request.as_bytes())?;
    let mut text = String::new();
    s.read_to_string(&mut text)?;
    let status = text[9..12].parse().unwrap();
    let body = text
        .split_once("\r\n\r\n")
        .map_or("", |(_, b)| b)
        .to_string();
    Ok((status, body))
}

fn scrape(addr: &str) -> std::io::Result<(u16, String)> {
    http(
        addr,
        &format!("GET /metrics HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"),
    )
}

/// Parses Prometheus text: every sample belongs to a family declared by `# TYPE` with a
/// known type, and has a number. Samples by name with labels (`a_total{x="y"}`).
fn parse(text: &str) -> (BTreeMap<String, String>, BTreeMap<String, f64>) {
    let mut types = BTreeMap::new();
    let mut samples = BTreeMap::new();
    for line in text.lines().filter(|l| !l.is_empty()) {
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, ty) = rest.split_once(' ').expect("# TYPE name type");
            assert!(
                ["counter", "gauge", "histogram"].contains(&ty),
                "type {ty}: {line}"
            );
            types.insert(name.to_string(), ty.to_string());
            continue;
        }
        if line.starts_with("# HELP ") {
            continue;
        }
        assert!(!line.starts_with('#'), "stray comment {line}");
        let (series, value) = line.rsplit_once(' ').expect("a sample: series value");
        let value: f64 = value.parse().unwrap_or_else(|_| panic!("value of {line}"));
        let name = series.split('{').next().unwrap();
        let family = ["_bucket", "_sum", "_count"]
            .iter()
            .find_map(|s| {
                name.strip_suffix(s)
                    .filter(|f| types.get(*f).is_some_and(|t| t == "histogram"))
            })
            .unwrap_or(name);
        assert!(types.contains_key(family), "{name} has no # TYPE: {line}");
        samples.insert(series.to_string(), value);
    }
    (types, samples)
}

#[test]
fn a_run_serves_its_live_counters_while_it_runs() {
    // Arrange: a run of 15 s, long enough that the first answers and webhooks come while
    // it lasts on any machine (the scrape loop below ends as soon as they are seen).
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("live.toml");
    std::fs::write(
        &file,
        "name = \"live\"\nseed = 5\n[load]\nprofile = \"constant\"\nrate = 10\nduration = \"15s\"\n\
         [provider]\nhold = \"2s\"\n[merchant]\nprovider_timeout = \"1s\"\nretry_backoff = \"10ms\"\n\
         reconcile_every = \"100ms\"\npending_grace = \"1s\"\n",
    )
    .unwrap();
    let mut child = paychaos()
        .arg("run")
        .arg(&file)
        .arg("--out")
        .arg(tmp.path().join("report"))
        .args(["--metrics-listen", "127.0.0.1:0"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = lines(child.stderr.take().unwrap());
    let mut child = Killed(child);
    let addr = metrics_addr(&stderr, "live metrics on http://");

    // Act: scrape until checkouts have been answered (the endpoint lives as long as the run).
    let deadline = Instant::now() + Duration::from_secs(60);
    let (types, samples) = loop {
        let (status, body) = scrape(&addr).expect("the endpoint answers during the run");
        assert_eq!(status, 200, "{body}");
        let parsed = parse(&body);
        let answered: f64 = parsed
            .1
            .iter()
            .filter(|(k, _)| k.starts_with("paychaos_checkouts_answered_total"))
            .map(|(_, v)| v)
            .sum();
        if answered > 0.0 && parsed.1.get("paychaos_webhooks_sent_total") > Some(&0.0) {
            break parsed;
        }
        assert!(Instant::now() < deadline, "nothing answered yet:\n{body}");
        std::thread::sleep(Duration::from_millis(50));
    };

    // Assert: names and types, and figures that move with the load.
    for (name, ty) in [
        ("paychaos_checkouts_sent_total", "counter"),
        ("paychaos_checkouts_answered_total", "counter"),
        ("paychaos_checkouts_shed_total", "counter"),
        ("paychaos_checkouts_in_flight", "gauge"),
        ("paychaos_checkout_latency_seconds", "histogram"),
        ("paychaos_provider_requests_total", "counter"),
        ("paychaos_provider_shed_total", "counter"),
        ("paychaos_provider_in_flight", "gauge"),
        ("paychaos_webhook_events_total", "counter"),
        ("paychaos_webhooks_sent_total", "counter"),
        ("paychaos_webhooks_finished_total", "counter"),
    ] {
        assert_eq!(types.get(name).map(String::as_str), Some(ty), "{name}");
    }
    assert!(samples["paychaos_checkouts_sent_total"] > 0.0);
    assert!(samples["paychaos_provider_requests_total"] > 0.0);
    assert!(samples["paychaos_checkout_latency_seconds_count"] > 0.0);
    assert_eq!(
        samples["paychaos_checkout_latency_seconds_bucket{le=\"+Inf\"}"],
        samples["paychaos_checkout_latency_seconds_count"]
    );
    let status = child.0.wait().unwrap();
    assert_eq!(status.code(), Some(0));
    // The endpoint went with the run.
    assert!(scrape(&addr).is_err(), "still served after the run");
}

#[test]
fn the_provider_serves_its_counters() {
    let mut child = paychaos()
        .args([
            "provider",
            "--listen",
            "127.0.0.1:0",
            "--metrics-listen",
            "127.0.0.1:0",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = lines(child.stdout.take().unwrap());
    let _child = Killed(child);
    let first = stdout.recv_timeout(Duration::from_secs(30)).unwrap();
    let api = first
        .strip_prefix("paychaos provider listening on http://")
        .and_then(|r| r.split_whitespace().next())
        .unwrap_or_else(|| panic!("{first}"))
        .to_string();
    let addr = metrics_addr(&stdout, "metrics: http://");

    let (_, before) = scrape(&addr).unwrap();
    assert_eq!(parse(&before).1["paychaos_provider_requests_total"], 0.0);
    let form =
        "amount=1000&currency=usd&confirm=true&payment_method=pm_card_visa&metadata[order_id]=o1";
    let (status, body) = http(
        &api,
        &format!(
            "POST /v1/payment_intents HTTP/1.1\r\nHost: {api}\r\nAuthorization: Bearer sk_test_x\r\n\
             Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\
             Connection: close\r\n\r\n{form}",
            form.len()
        ),
    )
    .unwrap();
    assert_eq!(status, 200, "{body}");

    // The request was answered, so it was counted.
    let (status, text) = scrape(&addr).unwrap();
    assert_eq!(status, 200);
    let (types, samples) = parse(&text);
    assert_eq!(samples["paychaos_provider_requests_total"], 1.0, "{text}");
    assert_eq!(samples["paychaos_provider_shed_total"], 0.0, "{text}");
    assert_eq!(samples["paychaos_webhook_events_total"], 1.0, "{text}");
    assert_eq!(types["paychaos_webhooks_finished_total"], "counter");
    assert!(
        !types.contains_key("paychaos_checkouts_sent_total"),
        "no load here"
    );
    let (status, _) = http(
        &addr,
        &format!("GET /other HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"),
    )
    .unwrap();
    assert_eq!(status, 404);
}
