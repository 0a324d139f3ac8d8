//! Provider replicas behind the shipped load-balancer configurations (deploy/lb/nginx.conf
//! and haproxy.cfg): two `paychaos provider --replica K/2` processes and the balancer
//! (Debian's packages; each test says SKIPPED without its balancer) on loopback ports, every
//! request sent through the balancer.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;

use crate::util::free_port;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

/// A load balancer whose shipped configuration is tested.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Lb {
    Nginx,
    Haproxy,
}

impl Lb {
    fn name(self) -> &'static str {
        match self {
            Lb::Nginx => "nginx",
            Lb::Haproxy => "haproxy",
        }
    }

    /// The program, when installed: `PAYCHAOS_NGINX` / `PAYCHAOS_HAPROXY`, else Debian's
    /// path, else the name on the PATH.
    fn program(self) -> Option<PathBuf> {
        let var = format!("PAYCHAOS_{}", self.name().to_uppercase());
        if let Some(p) = std::env::var_os(var) {
            return Some(PathBuf::from(p));
        }
        let debian = PathBuf::from(format!("/usr/sbin/{}", self.name()));
        if debian.is_file() {
            return Some(debian);
        }
        let found = Command::new(self.name())
            .arg("-v")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        found.then(|| PathBuf::from(self.name()))
    }

    /// The program, or `None` after saying the test is skipped.
    pub(crate) fn installed(self) -> Option<PathBuf> {
        let p = self.program();
        if p.is_none() {
            let name = self.name();
            println!("SKIPPED: {name} is not installed (Debian: apt-get install {name})");
        }
        p
    }

    /// The shipped configuration with the pods' addresses swapped for `replicas`, its
    /// listen port for `port` and its temporary files moved into `dir`.
    fn config(self, dir: &Path, port: u16, replicas: &[String]) -> String {
        let file = match self {
            Lb::Nginx => "deploy/lb/nginx.conf",
            Lb::Haproxy => "deploy/lb/haproxy.cfg",
        };
        let shipped =
            std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join(file)).unwrap();
        let mut text = match self {
            Lb::Nginx => shipped
                .replace("listen 8080;", &format!("listen 127.0.0.1:{port};"))
                .replace("/tmp/paychaos-lb", &format!("{}/lb", dir.display())),
            Lb::Haproxy => shipped.replace("bind :8080", &format!("bind 127.0.0.1:{port}")),
        };
        for (k, addr) in replicas.iter().enumerate() {
            text = text.replace(&format!("provider-{k}.provider:12111"), addr);
        }
        assert!(
            !text.contains(".provider:"),
            "every replica swapped: {text}"
        );
        text
    }

    fn command(self, program: &Path, dir: &Path, conf: &Path) -> Command {
        let mut c = Command::new(program);
        match self {
            Lb::Nginx => {
                c.arg("-p")
                    .arg(dir)
                    .arg("-c")
                    .arg(conf)
                    .args(["-g", "daemon off;"]);
            }
            // -db: in the foreground, one process.
            Lb::Haproxy => {
                c.arg("-db").arg("-f").arg(conf);
            }
        }
        c
    }
}

/// A child process stopped when dropped, also when a test panics: SIGTERM, which both
/// commands take as a stop (nginx's master then stops its workers; a SIGKILL would leave
/// them running).
struct Proc(Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let pid = self.0.id().to_string();
        let termed = Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .is_ok_and(|s| s.success());
        if !termed {
            let _ = self.0.kill();
        }
        let _ = self.0.wait();
    }
}

/// `paychaos provider --replica K/N`; its address from the first stdout line.
fn provider(replica: &str, extra: &[&str]) -> (Proc, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_paychaos"))
        .args([
            "provider",
            "--listen",
            "127.0.0.1:0",
            "--quiet",
            "--seed",
            "7",
        ])
        .args(["--webhook-secret", "whsec_lbtest", "--replica", replica])
        .args(extra)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
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
    // Drained so that the child never blocks on a full pipe.
    std::thread::spawn(move || std::io::copy(&mut stdout, &mut std::io::sink()));
    (Proc(child), addr)
}

/// A load balancer running the shipped configuration on a loopback port, in front of
/// replicas started elsewhere; stopped when dropped.
pub(crate) struct Balancer {
    pub(crate) addr: String,
    _proc: Proc,
    _dir: tempfile::TempDir,
}

impl Balancer {
    /// Starts `lb` on `127.0.0.1:port` in front of `replicas` (replica K's address at K) and
    /// returns once its health path answers.
    pub(crate) fn start(lb: Lb, program: &Path, port: u16, replicas: &[String]) -> Balancer {
        let dir = tempfile::tempdir().unwrap();
        let conf = dir.path().join("nginx.conf");
        std::fs::write(&conf, lb.config(dir.path(), port, replicas)).unwrap();
        let proc = Proc(
            lb.command(program, dir.path(), &conf)
                .stdout(Stdio::null())
                // Its own file: nothing of the balancer's may hold the test's output open.
                .stderr(std::fs::File::create(dir.path().join("lb.log")).unwrap())
                .spawn()
                .expect("the load balancer starts"),
        );
        let addr = format!("127.0.0.1:{port}");
        // The balancer tells nobody when it listens: its health path answering is the sign.
        let deadline = Instant::now() + Duration::from_secs(20);
        while TcpStream::connect(&addr).is_err()
            || http(&addr, "GET", "/_lb/health", &[], "").0 != 200
        {
            assert!(Instant::now() < deadline, "{lb:?} never answered on {addr}");
            std::thread::sleep(Duration::from_millis(50));
        }
        Balancer {
            addr,
            _proc: proc,
            _dir: dir,
        }
    }
}

/// Two replicas of one dialect behind a load balancer.
struct Rig {
    lb: String,
    replicas: Vec<String>,
    // The balancer first: it stops before the replicas behind it.
    _balancer: Balancer,
    _procs: Vec<Proc>,
}

impl Rig {
    fn start(lb: Lb, program: &Path, extra: &[&str]) -> Rig {
        let (p0, a0) = provider("0/2", extra);
        let (p1, a1) = provider("1/2", extra);
        let replicas = vec![a0, a1];
        let balancer = Balancer::start(lb, program, free_port(), &replicas);
        Rig {
            lb: balancer.addr.clone(),
            replicas,
            _balancer: balancer,
            _procs: vec![p0, p1],
        }
    }
}

/// One HTTP/1.1 exchange on a fresh connection: status and body.
fn http(addr: &str, method: &str, path: &str, headers: &[&str], body: &str) -> (u16, String) {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
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
    let _ = s.read_to_string(&mut resp);
    let status = resp
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let body = resp
        .split_once("\r\n\r\n")
        .map_or("", |(_, b)| b)
        .to_string();
    (status, body)
}

/// A Stripe call with a test key, and `key` as the idempotency key unless empty.
fn stripe(addr: &str, method: &str, path: &str, body: &str, key: &str) -> (u16, Value) {
    let idem = format!("Idempotency-Key: {key}");
    let mut headers = vec![
        "Authorization: Bearer sk_test_x",
        "Content-Type: application/x-www-form-urlencoded",
    ];
    if !key.is_empty() {
        headers.push(&idem);
    }
    let (status, body) = http(addr, method, path, &headers, body);
    let json = serde_json::from_str(&body).unwrap_or_else(|_| panic!("{status}: {body:?}"));
    (status, json)
}

/// The replica number in an id (`pi_r1_…` → 1).
fn owner(id: &str) -> usize {
    id.split('_')
        .nth(1)
        .and_then(|r| r.strip_prefix('r'))
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("{id} carries no replica"))
}

#[test]
fn stripe_requests_through_nginx_reach_the_replica_that_owns_them() {
    stripe_flow(Lb::Nginx);
}

#[test]
fn stripe_requests_through_haproxy_reach_the_replica_that_owns_them() {
    stripe_flow(Lb::Haproxy);
}

#[test]
fn gateway_trades_through_nginx_reach_the_replica_that_owns_them() {
    gateway_flow(Lb::Nginx);
}

#[test]
fn gateway_trades_through_haproxy_reach_the_replica_that_owns_them() {
    gateway_flow(Lb::Haproxy);
}

/// Creates, replays, confirms, captures, reads and refunds 12 intents through `lb`.
fn stripe_flow(kind: Lb) {
    let Some(program) = kind.installed() else {
        return;
    };
    let rig = Rig::start(kind, &program, &[]);
    let lb = rig.lb.as_str();
    let mut owners = [0; 2];
    for i in 0..12 {
        let order = format!("ord-lb{i:04}");
        let key = format!("{order}:charge");
        let body = format!(
            "amount=1200&currency=usd&payment_method=pm_card_visa&capture_method=manual&metadata[order_id]={order}"
        );
        // A create, then the same create again: the replay reaches the replica holding the key.
        let (status, first) = stripe(lb, "POST", "/v1/payment_intents", &body, &key);
        assert_eq!(status, 200, "{first}");
        let id = first["id"].as_str().unwrap().to_string();
        let (_, again) = stripe(lb, "POST", "/v1/payment_intents", &body, &key);
        assert_eq!(
            again["id"], first["id"],
            "the replay answers the same intent"
        );
        let k = owner(&id);
        owners[k] += 1;
        // Only the owner knows it: a request routed elsewhere would be answered 404.
        let path = format!("/v1/payment_intents/{id}");
        assert_eq!(stripe(&rig.replicas[k], "GET", &path, "", "").0, 200);
        assert_eq!(stripe(&rig.replicas[1 - k], "GET", &path, "", "").0, 404);

        // Confirm, capture, retrieve and refund through nginx: each reaches the owner.
        let (s, v) = stripe(
            lb,
            "POST",
            &format!("{path}/confirm"),
            "",
            &format!("{key}:c"),
        );
        assert_eq!(
            (s, v["status"].as_str()),
            (200, Some("requires_capture")),
            "{v}"
        );
        let (s, v) = stripe(
            lb,
            "POST",
            &format!("{path}/capture"),
            "",
            &format!("{key}:p"),
        );
        assert_eq!((s, v["status"].as_str()), (200, Some("succeeded")), "{v}");
        let (s, v) = stripe(lb, "GET", &path, "", "");
        assert_eq!((s, v["amount_received"].as_u64()), (200, Some(1200)), "{v}");
        let charge = v["latest_charge"].as_str().unwrap().to_string();
        assert_eq!(
            stripe(lb, "GET", &format!("/v1/charges/{charge}"), "", "").0,
            200
        );
        // The refund names its intent in the body only: nginx routes by the body.
        let refund = format!("payment_intent={id}");
        let (s, r) = stripe(lb, "POST", "/v1/refunds", &refund, &format!("{key}:r"));
        assert_eq!((s, r["status"].as_str()), (200, Some("succeeded")), "{r}");
        assert_eq!(owner(r["id"].as_str().unwrap()), k);
        // A search by order reaches the replica holding the order's charge key.
        let q = format!(
            "/v1/payment_intents/search?query=metadata%5B%27order_id%27%5D%3A%27{order}%27"
        );
        let (s, found) = stripe(lb, "GET", &q, "", "");
        assert_eq!(s, 200, "{found}");
        assert_eq!(
            found["data"][0]["id"].as_str(),
            Some(id.as_str()),
            "{found}"
        );
    }
    assert!(
        owners.iter().all(|&n| n > 0),
        "both replicas own intents: {owners:?}"
    );
}

/// Pays, pays again, queries and refunds 12 gateway trades through `lb`.
fn gateway_flow(kind: Lb) {
    let Some(program) = kind.installed() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let scenario = dir.path().join("gateway.toml");
    std::fs::write(
        &scenario,
        "name = \"lb-gateway\"\n[load]\nprofile = \"constant\"\nrate = 1\nduration = \"1s\"\n\
         [provider]\ndialect = \"gateway\"\n",
    )
    .unwrap();
    let rig = Rig::start(kind, &program, &["--scenario", scenario.to_str().unwrap()]);
    let lb = rig.lb.as_str();
    let json = ["Content-Type: application/json"];
    let mut owners = [0; 2];
    for i in 0..12 {
        let order = format!("ord-gw{i:04}");
        let pay = format!(
            r#"{{"merchant_id":"m1","out_trade_no":"{order}","total_amount":"12.00","currency":"usd"}}"#
        );
        let (s, first) = http(lb, "POST", "/gateway/pay", &json, &pay);
        let first: Value = serde_json::from_str(&first).unwrap();
        assert_eq!((s, first["code"].as_str()), (200, Some("000")), "{first}");
        let trade = first["trade_no"].as_str().unwrap().to_string();
        // Paying the same out_trade_no again reaches the same replica: the same trade.
        let (_, again) = http(lb, "POST", "/gateway/pay", &json, &pay);
        let again: Value = serde_json::from_str(&again).unwrap();
        assert_eq!(again["trade_no"], first["trade_no"], "{again}");
        let k: usize = trade
            .strip_prefix("Tr")
            .and_then(|t| t.split('_').next())
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("{trade} carries no replica"));
        owners[k] += 1;
        // The query by out_trade_no finds it (the other replica has no such trade).
        let q = format!("/gateway/query?merchant_id=m1&out_trade_no={order}");
        let (_, found) = http(lb, "GET", &q, &[], "");
        let found: Value = serde_json::from_str(&found).unwrap();
        assert_eq!(found["trade_no"].as_str(), Some(trade.as_str()), "{found}");
        let (_, elsewhere) = http(&rig.replicas[1 - k], "GET", &q, &[], "");
        assert!(elsewhere.contains("\"404\""), "{elsewhere}");
        // The refund names the trade in its JSON body: routed to the owner by it.
        let refund =
            format!(r#"{{"merchant_id":"m1","trade_no":"{trade}","out_request_no":"r1"}}"#);
        let (_, r) = http(lb, "POST", "/gateway/refund", &json, &refund);
        let r: Value = serde_json::from_str(&r).unwrap();
        assert_eq!(r["code"].as_str(), Some("000"), "{r}");
    }
    assert!(
        owners.iter().all(|&n| n > 0),
        "both replicas own trades: {owners:?}"
    );
}

/// The Kubernetes load balancer serves the shipped configuration itself, not a copy that
/// drifted from the one tested above.
#[test]
fn the_kubernetes_load_balancer_carries_the_shipped_nginx_conf() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let shipped = std::fs::read_to_string(root.join("deploy/lb/nginx.conf")).unwrap();
    let manifest = std::fs::read_to_string(root.join("deploy/k8s/lb.yaml")).unwrap();
    let (_, block) = manifest
        .split_once("  nginx.conf: |\n")
        .expect("lb.yaml has data.nginx.conf");
    let embedded: String = block
        .lines()
        .take_while(|l| l.is_empty() || l.starts_with("    "))
        .map(|l| format!("{}\n", l.strip_prefix("    ").unwrap_or(l)))
        .collect();
    assert_eq!(embedded.trim_end(), shipped.trim_end());
}

#[test]
fn a_replica_outside_its_set_is_refused_by_name() {
    for bad in ["2/2", "0/0", "1"] {
        let out = Command::new(env!("CARGO_BIN_EXE_paychaos"))
            .args(["provider", "--listen", "127.0.0.1:0", "--replica", bad])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{bad}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("--replica"), "{bad}: {err}");
        assert!(
            err.contains(&format!("'{bad}' is not a replica (accepted: K/N")),
            "{err}"
        );
        assert!(out.stdout.is_empty(), "{bad}: nothing started");
    }
}
