//! The bad-input catalogue: scenario files, command-line flags, the provider's HTTP API, its
//! control API, and the reference merchant's checkout and webhook routes, each fed what they
//! must refuse. Every case states the exit code or HTTP status and the words the answer must
//! hold: the input it names (file, flag, field or key path) and the form it accepts. Commands
//! that would write are checked to leave nothing behind. A case is one table entry; the
//! runners collect every mismatch before failing, so one run shows them all.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use paychaos::merchant::{self, MerchantConfig};
use paychaos::provider::{self, ControlOptions, ProviderConfig, ServeOptions};
use paychaos::scenario::{Dialect, MerchantSpec, Scenario};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_util::sync::CancellationToken;

use crate::util::Setup;

fn paychaos() -> Command {
    Command::new(env!("CARGO_BIN_EXE_paychaos"))
}

/// A valid scenario the file cases extend with tables of their own.
const MINIMAL: &str =
    "name = \"t\"\n[load]\nprofile = \"constant\"\nrate = 10\nduration = \"1s\"\n";

/// A guard against a hang, never reached by a case that behaves.
const GUARD: Duration = Duration::from_secs(60);

/// Runs `cmd` to its end (killed after [`GUARD`]): exit code and stderr.
fn finish(mut cmd: Command) -> (Option<i32>, String) {
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("paychaos runs");
    let mut stderr = child.stderr.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = std::io::Read::read_to_string(&mut stderr, &mut s);
        s
    });
    let start = Instant::now();
    let code = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status.code();
        }
        if start.elapsed() > GUARD {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    (code, reader.join().unwrap())
}

/// Checks one answer against its case; mismatches are pushed onto `failures`.
fn check(failures: &mut Vec<String>, name: &str, got: (i64, &str), want: i64, has: &[&str]) {
    let (code, text) = got;
    let missing: Vec<&&str> = has.iter().filter(|h| !text.contains(**h)).collect();
    if code != want || !missing.is_empty() {
        failures.push(format!(
            "{name}: expected {want} with {missing:?}, got {code}: {text}"
        ));
    }
}

fn report(failures: Vec<String>, cases: usize) {
    assert!(
        failures.is_empty(),
        "{} of {cases} case(s) failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

// ---------------------------------------------------------------------------------------------
// Scenario files: `validate` and `run --out` both exit 2, name the file and the key path, and
// `run` writes no report folder.

/// What a scenario case's file holds.
enum Src {
    /// Appended to [`MINIMAL`] (new tables or top-level keys before them are not possible).
    Append(&'static str),
    /// The whole file.
    Whole(&'static str),
    /// Raw bytes.
    Bytes(&'static [u8]),
    /// [`MINIMAL`] padded to this many bytes with a comment.
    Padded(usize),
}

struct FileCase {
    name: &'static str,
    src: Src,
    has: &'static [&'static str],
}

const fn file(name: &'static str, src: Src, has: &'static [&'static str]) -> FileCase {
    FileCase { name, src, has }
}

#[rustfmt::skip]
const FILE_CASES: &[FileCase] = &[
    file("rate is a string", Src::Whole("name = \"t\"\n[load]\nprofile = \"constant\"\nrate = \"ten\"\nduration = \"1s\"\n"), &["load.rate"]),
    file("rate is negative", Src::Whole("name = \"t\"\n[load]\nprofile = \"constant\"\nrate = -5\nduration = \"1s\"\n"), &["load.rate", "greater than 0", "-5"]),
    file("rate beyond the ceiling", Src::Whole("name = \"t\"\n[load]\nprofile = \"constant\"\nrate = 1e12\nduration = \"1s\"\n"), &["load.rate", "at most 1000000"]),
    file("duration beyond the ceiling", Src::Whole("name = \"t\"\n[load]\nprofile = \"constant\"\nrate = 1\nduration = \"90000s\"\n"), &["load.duration", "longer than the ceiling of 86400s (24 h)"]),
    file("duration not a duration", Src::Whole("name = \"t\"\n[load]\nprofile = \"constant\"\nrate = 1\nduration = \"soon\"\n"), &["load.duration", "soon"]),
    file("duration a bare number", Src::Whole("name = \"t\"\n[load]\nprofile = \"constant\"\nrate = 1\nduration = 5\n"), &["load.duration"]),
    file("unknown profile", Src::Whole("name = \"t\"\n[load]\nprofile = \"wobble\"\nrate = 1\nduration = \"1s\"\n"), &["load.profile", "wobble", "constant"]),
    file("unknown top-level key", Src::Whole("name = \"t\"\nsede = 3\n[load]\nprofile = \"constant\"\nrate = 1\nduration = \"1s\"\n"), &["sede"]),
    file("unknown table", Src::Append("[fautls]\ntimeout = 0.1\n"), &["fautls"]),
    file("unknown fault key", Src::Append("[faults]\ntimeuot = 0.1\n"), &["faults", "timeuot", "did you mean `timeout`?"]),
    file("fault rate above 1", Src::Append("[faults]\ntimeout = 1.5\n"), &["faults.timeout", "0.0..=1.0", "1.5"]),
    file("fault rate negative", Src::Append("[faults]\nserver_error = -0.1\n"), &["faults.server_error", "0.0..=1.0"]),
    file("fault rate a string", Src::Append("[faults]\nrate_limit = \"often\"\n"), &["faults.rate_limit"]),
    file("seed negative", Src::Whole("name = \"t\"\nseed = -1\n[load]\nprofile = \"constant\"\nrate = 1\nduration = \"1s\"\n"), &["seed"]),
    file("seed beyond u64", Src::Whole("name = \"t\"\nseed = 99999999999999999999999\n[load]\nprofile = \"constant\"\nrate = 1\nduration = \"1s\"\n"), &["seed"]),
    file("empty webhook secret", Src::Append("[webhooks]\nsecret = \"\"\n"), &["webhooks.secret", "whsec_"]),
    file("webhook secret prefix only", Src::Append("[webhooks]\nsecret = \"whsec_\"\n"), &["webhooks.secret", "expected \"whsec_\" and at least 1 more character"]),
    file("webhook secret without prefix", Src::Append("[webhooks]\nsecret = \"hunter2\"\n"), &["webhooks.secret", "whsec_"]),
    file("webhook retry not durations", Src::Append("[webhooks]\nretry_schedule = [\"1s\", \"later\"]\n"), &["webhooks.retry_schedule", "later"]),
    file("webhook timeout not a duration", Src::Append("[webhooks]\ntimeout = \"1 parsec\"\n"), &["webhooks.timeout"]),
    file("listen on every address", Src::Append("[provider]\nlisten = \"0.0.0.0:0\"\n"), &["provider.listen:", "(accepted: a loopback address"]),
    file("listen without a port", Src::Append("[provider]\nlisten = \"localhost\"\n"), &["provider.listen:", "(accepted: a loopback address"]),
    file("listen on a foreign address", Src::Append("[provider]\nlisten = \"10.0.0.1:0\"\n"), &["provider.listen:", "(accepted: a loopback address"]),
    file("listen port out of range", Src::Append("[provider]\nlisten = \"127.0.0.1:70000\"\n"), &["provider.listen:", "(accepted: a loopback address"]),
    file("unknown dialect", Src::Append("[provider]\ndialect = \"paypal\"\n"), &["provider.dialect", "paypal", "stripe"]),
    file("hold not a duration", Src::Append("[provider]\nhold = \"long\"\n"), &["provider.hold", "long"]),
    file("merchant timeout not a duration", Src::Append("[merchant]\nprovider_timeout = \"ten\"\n"), &["merchant.provider_timeout", "ten"]),
    file("merchant retries negative", Src::Append("[merchant]\nmax_retries = -1\n"), &["merchant.max_retries"]),
    file("unknown merchant flaw", Src::Append("[merchant]\nflaws = [\"sloppy\"]\n"), &["merchant.flaws", "sloppy"]),
    file("unknown merchant key", Src::Append("[merchant]\nretires = 3\n"), &["merchant", "retires"]),
    file("drain timeout not a duration", Src::Append("[drain]\ntimeout = \"forever\"\n"), &["drain.timeout", "forever"]),
    file("window ends before it starts", Src::Append("[[faults.windows]]\nstart = \"5s\"\nend = \"2s\"\n"), &["faults.windows[0]"]),
    file("windows a table, not an array", Src::Append("[faults.windows]\nstart = \"1s\"\n"), &["faults.windows"]),
    file("not TOML at all", Src::Whole("this is = = not toml\n"), &["expected"]),
    file("name missing", Src::Whole("[load]\nprofile = \"constant\"\nrate = 1\nduration = \"1s\"\n"), &["name"]),
    file("empty file", Src::Whole(""), &["name"]),
    file("not UTF-8", Src::Bytes(b"name = \"t\xff\xfe\"\n"), &["UTF-8"]),
    file("over 1 MiB", Src::Padded((1 << 20) + 1), &["the file has 1048577 bytes", "expected a regular file of at most 1 MiB"]),
];

#[test]
fn scenario_files_are_refused_naming_the_file_and_key_and_nothing_is_written() {
    let tmp = tempfile::tempdir().unwrap();
    let mut failures = Vec::new();
    for (i, case) in FILE_CASES.iter().enumerate() {
        let bytes = match &case.src {
            Src::Append(s) => format!("{MINIMAL}{s}").into_bytes(),
            Src::Whole(s) => s.as_bytes().to_vec(),
            Src::Bytes(b) => b.to_vec(),
            Src::Padded(n) => {
                let mut t = format!("{MINIMAL}#");
                t.push_str(&"x".repeat(n - t.len() - 1));
                t.push('\n');
                t.into_bytes()
            }
        };
        let path = tmp.path().join(format!("case{i}.toml"));
        std::fs::write(&path, bytes).unwrap();
        let file = path.display().to_string();
        let out = tmp.path().join(format!("out{i}"));
        let mut has = vec![file.as_str()];
        has.extend_from_slice(case.has);
        for verb in ["validate", "run"] {
            let mut cmd = paychaos();
            cmd.arg(verb).arg(&path);
            if verb == "run" {
                cmd.arg("--out").arg(&out);
            }
            let (code, err) = finish(cmd);
            let name = format!("{} ({verb})", case.name);
            check(
                &mut failures,
                &name,
                (code.map_or(-1, i64::from), &err),
                2,
                &has,
            );
        }
        if out.exists() {
            failures.push(format!("{}: run left {}", case.name, out.display()));
        }
    }
    report(failures, FILE_CASES.len());
}

// ---------------------------------------------------------------------------------------------
// Command-line flags: exit 2, the flag and the value named, nothing written.

struct CliCase {
    name: &'static str,
    /// `{ok}`: a valid scenario; `{out}`: a path nothing exists at (checked afterwards);
    /// `{file}`: an existing regular file; `{prev}`: a folder holding an earlier report.
    args: &'static [&'static str],
    has: &'static [&'static str],
}

const fn cli(
    name: &'static str,
    args: &'static [&'static str],
    has: &'static [&'static str],
) -> CliCase {
    CliCase { name, args, has }
}

#[rustfmt::skip]
const CLI_CASES: &[CliCase] = &[
    cli("seed not a number", &["run", "{ok}", "--out", "{out}", "--seed", "abc"], &["--seed", "abc"]),
    cli("seed negative", &["run", "{ok}", "--out", "{out}", "--seed=-1"], &["--seed", "-1"]),
    cli("seed beyond u64", &["run", "{ok}", "--out", "{out}", "--seed", "99999999999999999999999"], &["--seed", "99999999999999999999999"]),
    cli("unknown flag", &["run", "{ok}", "--out", "{out}", "--turbo"], &["--turbo"]),
    cli("unknown command", &["frobnicate"], &["frobnicate"]),
    cli("run without a file", &["run", "--out", "{out}"], &["<FILE>"]),
    cli("missing scenario file", &["run", "no/such/file.toml", "--out", "{out}"], &["no/such/file.toml"]),
    cli("validate a missing file", &["validate", "no/such/file.toml"], &["no/such/file.toml"]),
    cli("validate a folder", &["validate", "/tmp"], &["/tmp: not a regular file", "at most 1 MiB"]),
    cli("out is an existing file", &["run", "{ok}", "--out", "{file}"], &["--out", "{file}"]),
    cli("out holds an earlier report", &["run", "{ok}", "--out", "{prev}"], &["{prev}", "--force"]),
    cli("provider listen on every address", &["provider", "--listen", "0.0.0.0:0", "--webhook-secret", "nope"], &["'0.0.0.0:0' for '--listen <ADDR>'", "accepted: a loopback address"]),
    cli("provider listen not an address", &["provider", "--listen", "here", "--webhook-secret", "nope"], &["'here' for '--listen <ADDR>'", "accepted: a loopback address"]),
    cli("provider control on a foreign address", &["provider", "--control", "10.0.0.1:0", "--webhook-secret", "nope"], &["'10.0.0.1:0' for '--control <ADDR>'", "accepted: a loopback address"]),
    cli("provider secret without prefix", &["provider", "--listen", "127.0.0.1:0", "--webhook-secret", "nope"], &["--webhook-secret", "whsec_"]),
    cli("provider seed not a number", &["provider", "--listen", "127.0.0.1:0", "--seed", "x"], &["--seed", "'x'"]),
    cli("provider retain negative", &["provider", "--listen", "127.0.0.1:0", "--retain=-1"], &["--retain", "-1"]),
    cli("provider missing scenario", &["provider", "--listen", "127.0.0.1:0", "--scenario", "no/such/file.toml"], &["no/such/file.toml"]),
    cli("provider webhook url not a url", &["provider", "--listen", "127.0.0.1:0", "--webhook-url", "not a url"], &["--webhook-url", "'not a url'", "accepted: an http:// url on loopback"]),
    cli("merchant without provider url", &["merchant", "--webhook-secret", "whsec_x"], &["--provider-url"]),
    cli("merchant provider url not http", &["merchant", "--listen", "127.0.0.1:0", "--provider-url", "ftp://127.0.0.1:1", "--webhook-secret", "whsec_x"], &["--provider-url", "ftp://127.0.0.1:1", "http://"]),
    cli("merchant unknown dialect", &["merchant", "--provider-url", "http://127.0.0.1:1", "--webhook-secret", "whsec_x", "--dialect", "paypal"], &["--dialect", "paypal", "stripe"]),
    cli("merchant timeout not a duration", &["merchant", "--provider-url", "http://127.0.0.1:1", "--webhook-secret", "whsec_x", "--provider-timeout", "ten"], &["--provider-timeout", "ten"]),
    cli("merchant unknown flaw", &["merchant", "--provider-url", "http://127.0.0.1:1", "--webhook-secret", "whsec_x", "--flaw", "sloppy"], &["--flaw", "sloppy"]),
    cli("merchant listen on every address", &["merchant", "--listen", "0.0.0.0:0", "--provider-url", "http://127.0.0.1:1", "--webhook-secret", "whsec_x"], &["--listen", "0.0.0.0:0", "loopback"]),
];

#[test]
fn command_line_flags_are_refused_naming_the_flag_and_nothing_is_written() {
    let tmp = tempfile::tempdir().unwrap();
    let ok = tmp.path().join("ok.toml");
    std::fs::write(&ok, MINIMAL).unwrap();
    let a_file = tmp.path().join("a-file");
    std::fs::write(&a_file, "keep me").unwrap();
    let prev = tmp.path().join("prev");
    std::fs::create_dir(&prev).unwrap();
    std::fs::write(prev.join("report.json"), "{}").unwrap();
    let mut failures = Vec::new();
    for (i, case) in CLI_CASES.iter().enumerate() {
        let out = tmp.path().join(format!("out{i}"));
        let fill = |s: &str| {
            s.replace("{ok}", &ok.display().to_string())
                .replace("{out}", &out.display().to_string())
                .replace("{file}", &a_file.display().to_string())
                .replace("{prev}", &prev.display().to_string())
        };
        let mut cmd = paychaos();
        cmd.current_dir(tmp.path());
        cmd.args(case.args.iter().map(|a| fill(a)));
        let (code, err) = finish(cmd);
        let has: Vec<String> = case.has.iter().map(|h| fill(h)).collect();
        let has: Vec<&str> = has.iter().map(String::as_str).collect();
        check(
            &mut failures,
            case.name,
            (code.map_or(-1, i64::from), &err),
            2,
            &has,
        );
        if out.exists() {
            failures.push(format!("{}: left {}", case.name, out.display()));
        }
    }
    // Nothing was replaced or added where a refusal was due.
    assert_eq!(std::fs::read_to_string(&a_file).unwrap(), "keep me");
    assert_eq!(std::fs::read_dir(&prev).unwrap().count(), 1);
    assert!(
        !tmp.path().join("reports").exists(),
        "no default report folder"
    );
    report(failures, CLI_CASES.len());
}

// ---------------------------------------------------------------------------------------------
// HTTP: the provider's API, its control API, the merchant's checkout and webhook routes.

/// A request body.
enum Body {
    Text(&'static str),
    /// This many bytes of `a`.
    Big(usize),
    /// `body` with a `Stripe-Signature` header: signed with `secret`, `age` seconds ago.
    Signed {
        body: &'static str,
        secret: &'static str,
        age: i64,
    },
}

struct HttpCase {
    name: &'static str,
    method: &'static str,
    path: &'static str,
    /// Extra header lines; `Host` (the server's own), `Connection: close` and
    /// `Content-Length` are sent unless a line here gives `Host`.
    headers: &'static [&'static str],
    body: Body,
    status: u16,
    has: &'static [&'static str],
}

const fn http(
    name: &'static str,
    method: &'static str,
    path: &'static str,
    headers: &'static [&'static str],
    body: Body,
    status: u16,
    has: &'static [&'static str],
) -> HttpCase {
    HttpCase {
        name,
        method,
        path,
        headers,
        body,
        status,
        has,
    }
}

const AUTH: &str = "Authorization: Bearer sk_test_x";
const FORM: &str = "Content-Type: application/x-www-form-urlencoded";
const JSON: &str = "Content-Type: application/json";
const PI: &str = "/v1/payment_intents";

/// One exchange on a fresh connection: status and body.
async fn exchange(addr: std::net::SocketAddr, case: &HttpCase) -> (u16, String) {
    let mut body = match &case.body {
        Body::Text(t) => t.as_bytes().to_vec(),
        Body::Big(n) => vec![b'a'; *n],
        Body::Signed { body, .. } => body.as_bytes().to_vec(),
    };
    let mut head = format!(
        "{} {} HTTP/1.1\r\nConnection: close\r\n",
        case.method, case.path
    );
    if !case
        .headers
        .iter()
        .any(|h| h.to_ascii_lowercase().starts_with("host:"))
    {
        head.push_str(&format!("Host: {addr}\r\n"));
    }
    for h in case.headers {
        head.push_str(h);
        head.push_str("\r\n");
    }
    if let Body::Signed { secret, age, .. } = &case.body {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs() as i64;
        let sig = paychaos::signature::header(secret, now - age, &body);
        head.push_str(&format!("Stripe-Signature: {sig}\r\n"));
    }
    head.push_str(&format!("Content-Length: {}\r\n\r\n", body.len()));
    let mut request = head.into_bytes();
    request.append(&mut body);
    let answer = tokio::time::timeout(GUARD, async {
        let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
        // The server may answer and close before reading an oversize body to its end.
        let _ = s.write_all(&request).await;
        let mut got = Vec::new();
        let _ = s.read_to_end(&mut got).await;
        got
    })
    .await
    .unwrap_or_else(|_| panic!("{}: no answer (a hang)", case.name));
    let text = String::from_utf8_lossy(&answer).into_owned();
    let status = text
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let body = text
        .split_once("\r\n\r\n")
        .map_or("", |(_, b)| b)
        .to_string();
    (status, body)
}

async fn run_http(addr: std::net::SocketAddr, cases: &[HttpCase]) {
    let mut failures = Vec::new();
    for case in cases {
        let (status, body) = exchange(addr, case).await;
        check(
            &mut failures,
            case.name,
            (i64::from(status), &body),
            i64::from(case.status),
            case.has,
        );
    }
    report(failures, cases.len());
}

/// The scenario the in-process servers are made from (fast merchant settings).
fn scenario() -> Scenario {
    Scenario::from_toml_str(&Setup::default().toml(), "test scenario").unwrap()
}

/// A provider on 127.0.0.1:0 with its control API under `/_paychaos/`.
fn start_provider(shutdown: &CancellationToken) -> provider::ProviderHandle {
    let listener = paychaos::net::listen("127.0.0.1:0".parse().unwrap()).unwrap();
    let cfg = ProviderConfig::from_scenario(&scenario(), None, Instant::now());
    let opts = ServeOptions {
        control: Some(ControlOptions::default()),
        ..ServeOptions::default()
    };
    provider::serve_with(listener, cfg, opts, shutdown.clone())
}

#[rustfmt::skip]
const PROVIDER_CASES: &[HttpCase] = &[
    http("no API key", "POST", PI, &[FORM], Body::Text("amount=1000&currency=usd"), 401, &["API key", "Authorization: Bearer"]),
    http("amount not a number", "POST", PI, &[AUTH, FORM], Body::Text("amount=abc&currency=usd"), 400, &["\"param\":\"amount\"", "expected a positive integer", "'abc'"]),
    http("amount negative", "POST", PI, &[AUTH, FORM], Body::Text("amount=-5&currency=usd"), 400, &["\"param\":\"amount\"", "expected a positive integer", "'-5'"]),
    http("amount beyond u64", "POST", PI, &[AUTH, FORM], Body::Text("amount=99999999999999999999999&currency=usd"), 400, &["\"param\":\"amount\"", "expected a positive integer"]),
    http("amount missing", "POST", PI, &[AUTH, FORM], Body::Text("currency=usd"), 400, &["Missing required param: amount", "\"param\":\"amount\""]),
    http("currency missing", "POST", PI, &[AUTH, FORM], Body::Text("amount=1000"), 400, &["Missing required param: currency", "\"param\":\"currency\""]),
    http("currency not ISO", "POST", PI, &[AUTH, FORM], Body::Text("amount=1000&currency=zzzz"), 400, &["\"param\":\"currency\"", "three-letter ISO currency code", "'zzzz'"]),
    http("JSON body instead of a form", "POST", PI, &[AUTH, JSON], Body::Text("{\"amount\":1000,\"currency\":\"usd\"}"), 400, &["Missing required param: amount"]),
    http("body over 1 MiB", "POST", PI, &[AUTH, FORM], Body::Big((1 << 20) + 1), 400, &["larger than 1048576 bytes"]),
    http("idempotency key too long", "POST", PI, &[AUTH, FORM, "Idempotency-Key: kkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkk"], Body::Text("amount=1000&currency=usd"), 400, &["Idempotency-Key", "less than or equal to 255 characters (got 257)"]),
    // The key was first used (below, by the runner's set-up) with amount=1000.
    http("idempotency key reused with other parameters", "POST", PI, &[AUTH, FORM, "Idempotency-Key: reused-key"], Body::Text("amount=2000&currency=usd"), 400, &["idempotency_error", "'reused-key'", "same parameters"]),
    http("unknown intent", "GET", "/v1/payment_intents/pi_nope", &[AUTH], Body::Text(""), 404, &["No such payment_intent: 'pi_nope'", "\"param\":\"intent\""]),
    http("confirm an unknown intent", "POST", "/v1/payment_intents/pi_nope/confirm", &[AUTH, FORM], Body::Text(""), 404, &["No such payment_intent: 'pi_nope'"]),
    http("capture an unknown intent", "POST", "/v1/payment_intents/pi_nope/capture", &[AUTH, FORM], Body::Text(""), 404, &["No such payment_intent: 'pi_nope'"]),
    http("refund an unknown intent", "POST", "/v1/refunds", &[AUTH, FORM], Body::Text("payment_intent=pi_nope"), 400, &["No such payment_intent: 'pi_nope'", "\"param\":\"payment_intent\""]),
    http("unknown route", "GET", "/v1/nothing", &[AUTH], Body::Text(""), 404, &["Unrecognized request URL (GET: /v1/nothing)"]),
    http("wrong method", "DELETE", PI, &[AUTH], Body::Text(""), 404, &["Unrecognized request URL (DELETE: /v1/payment_intents)"]),
];

#[rustfmt::skip]
const CONTROL_CASES: &[HttpCase] = &[
    http("foreign Host", "PATCH", "/_paychaos/faults", &["Host: evil.example", JSON], Body::Text("{}"), 403, &["Host \\\"evil.example\\\"", "expected Host 127.0.0.1[:port], localhost[:port] or [::1][:port]"]),
    http("foreign Origin", "PATCH", "/_paychaos/faults", &["Origin: http://evil.example", JSON], Body::Text("{}"), 403, &["Origin \\\"http://evil.example\\\"", "expected no Origin header"]),
    http("text/plain body", "PATCH", "/_paychaos/faults", &["Content-Type: text/plain"], Body::Text("{}"), 415, &["PATCH /_paychaos/faults", "needs Content-Type: application/json", "got \\\"text/plain\\\""]),
    http("no content type on a state change", "POST", "/_paychaos/reset", &[], Body::Text(""), 415, &["POST /_paychaos/reset", "needs Content-Type: application/json", "got none"]),
    http("patch not JSON", "PATCH", "/_paychaos/faults", &[JSON], Body::Text("{not json"), 400, &["the body is not JSON", "line 1 column 2"]),
    http("patch with an unknown key", "PATCH", "/_paychaos/faults", &[JSON], Body::Text("{\"timeuot\":0.1}"), 400, &["\"path\": \"timeuot\"", "expected one of `seed`, `faults`, `webhooks`"]),
    http("patch with an unknown fault", "PATCH", "/_paychaos/faults", &[JSON], Body::Text("{\"faults\":{\"timeuot\":0.1}}"), 400, &["faults", "timeuot"]),
    http("patch with a rate above 1", "PATCH", "/_paychaos/faults", &[JSON], Body::Text("{\"faults\":{\"timeout\":1.5}}"), 400, &["faults.timeout", "0.0..=1.0"]),
    http("patch with a rate as a string", "PATCH", "/_paychaos/faults", &[JSON], Body::Text("{\"faults\":{\"timeout\":\"often\"}}"), 400, &["faults.timeout"]),
    http("put an array", "PUT", "/_paychaos/faults", &[JSON], Body::Text("[1]"), 400, &["expected a JSON object with the keys \\\"seed\\\", \\\"faults\\\" and \\\"webhooks\\\""]),
    http("patch over 1 MiB", "PATCH", "/_paychaos/faults", &[JSON], Body::Big((1 << 20) + 1), 400, &["1048576"]),
    http("resend an unknown event", "POST", "/_paychaos/events/evt_nope/resend", &[JSON], Body::Text(""), 404, &["no event \\\"evt_nope\\\""]),
    http("unknown control endpoint", "GET", "/_paychaos/nope", &[], Body::Text(""), 404, &["no control endpoint /_paychaos/nope", "GET /_paychaos/faults"]),
    http("wrong control method", "DELETE", "/_paychaos/faults", &[], Body::Text(""), 405, &["/_paychaos/faults accepts GET, PUT, PATCH"]),
];

#[tokio::test]
async fn the_provider_and_its_control_api_refuse_bad_requests_naming_the_field() {
    let shutdown = CancellationToken::new();
    let p = start_provider(&shutdown);
    let first = http(
        "set-up: first use of the key",
        "POST",
        PI,
        &[AUTH, FORM, "Idempotency-Key: reused-key"],
        Body::Text("amount=1000&currency=usd"),
        200,
        &[],
    );
    assert_eq!(exchange(p.addr(), &first).await.0, 200);
    run_http(p.addr(), PROVIDER_CASES).await;
    run_http(p.addr(), CONTROL_CASES).await;
    // No refused request charged anything.
    assert!(
        p.ledger().iter().all(|e| !e.money_moved),
        "{:?}",
        p.ledger()
    );
    shutdown.cancel();
    p.stopped().await;
}

const SECRET: &str = "whsec_it_secret";
const CHECKOUT: &str = "/checkout";
const HOOK: &str = "/webhooks/stripe";
const EVENT: &str = r#"{"id":"evt_1","type":"payment_intent.succeeded","created":1,"data":{"object":{"id":"pi_1","object":"payment_intent","amount":1000,"currency":"usd","status":"succeeded","metadata":{"order_id":"o-none"}}}}"#;
const CHECKOUT_FORM: &str = r#"expected {\"order_id\":\"ord-000001\",\"amount\":1234,\"currency\":\"usd\",\"payment_method\":\"pm_card_visa\"}"#;

#[rustfmt::skip]
const MERCHANT_CASES: &[HttpCase] = &[
    http("checkout not JSON", "POST", CHECKOUT, &[JSON], Body::Text("{bad"), 400, &["invalid checkout body", "line 1 column 2", CHECKOUT_FORM]),
    http("checkout missing amount", "POST", CHECKOUT, &[JSON], Body::Text(r#"{"order_id":"o1"}"#), 400, &["missing field `amount`", CHECKOUT_FORM]),
    http("checkout missing order id", "POST", CHECKOUT, &[JSON], Body::Text(r#"{"amount":1,"currency":"usd","payment_method":"pm_card_visa"}"#), 400, &["missing field `order_id`", CHECKOUT_FORM]),
    http("checkout amount negative", "POST", CHECKOUT, &[JSON], Body::Text(r#"{"order_id":"o1","amount":-1,"currency":"usd","payment_method":"pm_card_visa"}"#), 400, &["`-1`", CHECKOUT_FORM]),
    http("checkout amount a string", "POST", CHECKOUT, &[JSON], Body::Text(r#"{"order_id":"o1","amount":"ten","currency":"usd","payment_method":"pm_card_visa"}"#), 400, &["invalid type: string", CHECKOUT_FORM]),
    http("checkout empty order id", "POST", CHECKOUT, &[JSON], Body::Text(r#"{"order_id":"","amount":1,"currency":"usd","payment_method":"pm_card_visa"}"#), 400, &["must not be empty", CHECKOUT_FORM]),
    http("checkout an array", "POST", CHECKOUT, &[JSON], Body::Text("[]"), 400, &["invalid checkout body", CHECKOUT_FORM]),
    http("checkout order id too long", "POST", CHECKOUT, &[JSON], Body::Text(r#"{"order_id":"oooooooooooooooooooooooooooooooooooooooooooooooooooooooooooooooooooooooooooooooooooooooooooooooooooooooooooooooooooooooooooooooooooooooooooooooooooooooooooooooooooooooooooooooooooooooooooooooooooooooooooooooooooooooooooooooooooooooooooooooooooooooooooooooooooooooooooooooooooooooooooooooooooooo","amount":1,"currency":"usd","payment_method":"pm_card_visa"}"#), 400, &["order_id is 294 bytes long: expected at most 200"]),
    http("checkout over 1 MiB", "POST", CHECKOUT, &[JSON], Body::Big((1 << 20) + 1), 400, &["request body larger than 1048576 bytes"]),
    http("webhook unsigned", "POST", HOOK, &[JSON], Body::Text(EVENT), 400, &["missing Stripe-Signature header"]),
    http("webhook signature malformed", "POST", HOOK, &[JSON, "Stripe-Signature: garbage"], Body::Text(EVENT), 400, &["signature header is malformed", "expected 't=<unix seconds>,v1=<hex>'"]),
    http("webhook signed with another secret", "POST", HOOK, &[JSON], Body::Signed { body: EVENT, secret: "whsec_other", age: 0 }, 400, &["invalid webhook signature", "no v1 signature matches the payload"]),
    http("webhook signed an hour ago", "POST", HOOK, &[JSON], Body::Signed { body: EVENT, secret: SECRET, age: 3600 }, 400, &["invalid webhook signature", "tolerance"]),
    http("webhook signed, not JSON", "POST", HOOK, &[JSON], Body::Signed { body: "{not json", secret: SECRET, age: 0 }, 400, &["JSON"]),
    http("webhook signed, not an event", "POST", HOOK, &[JSON], Body::Signed { body: "{\"hello\":1}", secret: SECRET, age: 0 }, 400, &["event"]),
    http("webhook over 1 MiB", "POST", HOOK, &[JSON], Body::Big((1 << 20) + 1), 400, &["request body larger than 1048576 bytes"]),
    http("unknown order", "GET", "/orders/nope", &[], Body::Text(""), 404, &["no order with id 'nope'"]),
    http("unknown route", "POST", "/nope", &[], Body::Text(""), 404, &["no route for /nope"]),
];

#[tokio::test]
async fn the_merchant_refuses_bad_checkouts_and_webhooks_naming_the_field() {
    let shutdown = CancellationToken::new();
    let p = start_provider(&shutdown);
    let MerchantSpec::Reference(reference) = scenario().merchant else {
        panic!("the test scenario uses the reference merchant")
    };
    let cfg = MerchantConfig {
        reference,
        provider_url: format!("http://{}", p.addr()),
        dialect: Dialect::Stripe,
        api_key: merchant::DEFAULT_API_KEY.into(),
        webhook_secret: SECRET.into(),
        expected_orders: 0,
        velocity: None,
        monitor: None,
        backups: Vec::new(),
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let m = merchant::serve(listener, cfg, shutdown.clone()).unwrap();
    run_http(m.addr(), MERCHANT_CASES).await;
    // No refused checkout moved money at the provider.
    assert!(
        p.ledger().iter().all(|e| !e.money_moved),
        "{:?}",
        p.ledger()
    );
    shutdown.cancel();
    m.stopped().await;
    p.stopped().await;
}

/// The catalogue is as large as it says.
#[test]
fn the_catalogue_holds_at_least_60_cases() {
    let n = FILE_CASES.len()
        + CLI_CASES.len()
        + PROVIDER_CASES.len()
        + CONTROL_CASES.len()
        + MERCHANT_CASES.len();
    assert!(n >= 60, "{n}");
}
