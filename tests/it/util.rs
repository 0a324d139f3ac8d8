//! Helpers for whole-run tests. Defaults (documented because tests lean on them): 50
//! checkouts/s for 2 s (100 orders), a 2 s hold for timeout faults against a 1 s merchant
//! provider timeout, 3 merchant retries 10 ms apart (doubling), reconciling every 100 ms with
//! a 1 s grace, webhook retries after 50, 100 and 200 ms, a 10 s drain, the Stripe dialect,
//! a run id derived per run.
//! [`Setup`] changes any of these.
//!
//! The provider timeout is generous on purpose: every answer the provider gives reaches the
//! merchant long before it, even on a busy machine, so what a run meets is what the seed
//! decided (a timeout only where a timeout fault was planned), and tests can assert it.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use paychaos::run::{run, RunOptions, RunOutcome};
use paychaos::scenario::Scenario;
use tokio_util::sync::CancellationToken;

/// A fast scenario with `faults` and `webhooks` lines inserted into their tables.
pub fn scenario_toml(seed: u64, faults: &str, webhooks: &str) -> String {
    Setup {
        seed,
        faults: faults.into(),
        webhooks: webhooks.into(),
        ..Setup::default()
    }
    .toml()
}

/// The knobs of the test scenario; [`Setup::default`] is the documented default above.
#[derive(Clone, Debug)]
pub struct Setup {
    pub seed: u64,
    /// Checkouts per second, constant.
    pub rate: u32,
    pub duration: &'static str,
    /// `provider.hold`.
    pub hold: &'static str,
    /// Lines for `[faults]` and `[webhooks]`.
    pub faults: String,
    pub webhooks: String,
    /// `[merchant]` keys replacing the defaults (or added, such as `flaws`).
    pub merchant: Vec<(&'static str, String)>,
    /// `drain.timeout`.
    pub drain: &'static str,
    /// `provider.dialect`: `stripe` or `gateway`.
    pub dialect: &'static str,
    /// `load.run_id`; `None`: each run derives its own.
    pub run_id: Option<&'static str>,
}

impl Default for Setup {
    fn default() -> Setup {
        Setup {
            seed: 1,
            rate: 50,
            duration: "2s",
            hold: "2s",
            faults: String::new(),
            webhooks: String::new(),
            merchant: Vec::new(),
            drain: "10s",
            dialect: "stripe",
            run_id: None,
        }
    }
}

/// The reference merchant's settings unless a test replaces them.
const MERCHANT_DEFAULTS: [(&str, &str); 5] = [
    ("provider_timeout", "\"1s\""),
    ("max_retries", "3"),
    ("retry_backoff", "\"10ms\""),
    ("reconcile_every", "\"100ms\""),
    ("pending_grace", "\"1s\""),
];

impl Setup {
    /// The same setup with `[merchant]` key `key` set to the TOML value `value`.
    pub fn merchant(mut self, key: &'static str, value: &str) -> Setup {
        self.merchant.retain(|(k, _)| *k != key);
        self.merchant.push((key, value.to_string()));
        self
    }

    /// The scenario's TOML text.
    pub fn toml(&self) -> String {
        let mut merchant = String::new();
        for (k, v) in MERCHANT_DEFAULTS {
            if !self.merchant.iter().any(|(key, _)| *key == k) {
                merchant.push_str(&format!("{k} = {v}\n"));
            }
        }
        for (k, v) in &self.merchant {
            merchant.push_str(&format!("{k} = {v}\n"));
        }
        format!(
            r#"
name = "it"
seed = {seed}

[load]
profile = "constant"
rate = {rate}
duration = "{duration}"
max_in_flight = 1000
request_timeout = "10s"
{run_id}

[provider]
hold = "{hold}"
dialect = "{dialect}"

[faults]
{faults}

[webhooks]
secret = "whsec_it_secret"
retry_schedule = ["50ms", "100ms", "200ms"]
timeout = "1s"
{webhooks}

[merchant]
{merchant}
[drain]
timeout = "{drain}"

[gates]
verification = true
"#,
            seed = self.seed,
            rate = self.rate,
            duration = self.duration,
            hold = self.hold,
            faults = self.faults,
            webhooks = self.webhooks,
            drain = self.drain,
            dialect = self.dialect,
            run_id = self
                .run_id
                .map_or(String::new(), |r| format!("run_id = \"{r}\"")),
        )
    }
}

/// Every fault kind at a rate that shows in 100 orders.
pub const ALL_FAULTS: &str = r#"
insufficient_funds = 0.1
risk_block = 0.1
timeout = 0.08
timeout_after_charge = 0.08
server_error = 0.08
rate_limit = 0.08
processing_error = 0.08
late_charge = 0.04
"#;

/// The fault kinds [`ALL_FAULTS`] switches on, as the report names them.
pub const ALL_FAULT_KINDS: [&str; 8] = [
    "insufficient_funds",
    "risk_block",
    "timeout",
    "timeout_after_charge",
    "server_error",
    "rate_limit",
    "processing_error",
    "late_charge",
];
/// Appended to `ALL_FAULTS`: connection resets too, and every per-attempt kind on every
/// operation it can hit.
pub const ALL_TARGETS: &str = r#"
reset = 0.04
[faults.targets]
reset = "any"
timeout = "any"
timeout_after_charge = "any"
server_error = "any"
rate_limit = "any"
processing_error = "any"
late_charge = "any"
"#;

/// All webhook chaos on: delays, reordering, dropped first attempts, duplicates, and the
/// attacker copies (forged, stale, unsigned).
pub const WEBHOOK_CHAOS: &str = r#"
delay = 0.3
delay_latency = { distribution = "uniform", min = "5ms", max = "100ms" }
duplicate = 0.3
forged = 0.3
reorder = 0.3
drop_first = 0.3
drop_attempts = 1
stale = 0.3
unsigned = 0.3
"#;

/// A finished in-process run, its report folder kept alive for the test.
pub struct Finished {
    pub outcome: RunOutcome,
    pub json: serde_json::Value,
    _dir: tempfile::TempDir,
}

impl Finished {
    pub fn dir(&self) -> &std::path::Path {
        &self.outcome.dir
    }
}

/// Parses `toml` and runs it to the end, writing the report into a fresh temp folder.
pub async fn run_toml(toml: &str) -> Finished {
    let scenario = Scenario::from_toml_str(toml, "test scenario").expect("test scenario is valid");
    let tmp = tempfile::tempdir().expect("temp dir");
    let out: PathBuf = tmp.path().join("report");
    let opts = RunOptions {
        out: Some(out.clone()),
        quiet: true,
        ..RunOptions::default()
    };
    let outcome = run(
        scenario,
        &opts,
        CancellationToken::new(),
        CancellationToken::new(),
    )
    .await
    .expect("run completes");
    let json = report_json(&out);
    Finished {
        outcome,
        json,
        _dir: tmp,
    }
}

/// The committed `schemas/report.schema.json`, compiled once for the whole test binary.
fn report_schema() -> &'static jsonschema::Validator {
    static SCHEMA: OnceLock<jsonschema::Validator> = OnceLock::new();
    SCHEMA.get_or_init(|| {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("schemas/report.schema.json");
        let text = std::fs::read_to_string(&path).expect("schemas/report.schema.json readable");
        let schema = serde_json::from_str(&text).expect("the report schema is JSON");
        jsonschema::validator_for(&schema).expect("the report schema compiles")
    })
}

/// `dir/report.json`, parsed and checked against the committed schema: every report a test
/// reads through here holds to the contract a CI job reads it by.
pub fn report_json(dir: &Path) -> serde_json::Value {
    let path = dir.join("report.json");
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{} not readable: {e}", path.display()));
    let json = serde_json::from_str(&text).expect("report.json parses");
    let errors: Vec<String> = report_schema()
        .iter_errors(&json)
        .map(|e| format!("at {}: {e}", e.instance_path()))
        .collect();
    assert!(
        errors.is_empty(),
        "{} breaks schemas/report.schema.json:\n{}",
        path.display(),
        errors.join("\n")
    );
    json
}

/// `json[path...]` as u64, 0 when absent (counts that are zero may be left out).
pub fn count(json: &serde_json::Value, pointer: &str) -> u64 {
    json.pointer(pointer).and_then(|v| v.as_u64()).unwrap_or(0)
}

/// Asserts that `run` verified clean: every check (at least 9 listed) passed, the report
/// passed and the drain settled.
pub fn assert_verified_clean(run: &Finished) {
    let j = &run.json;
    let checks = j["verification"]["checks"]
        .as_array()
        .expect("checks listed");
    assert!(checks.len() >= 9, "{checks:?}");
    for c in checks {
        assert_eq!(
            c["passed"], true,
            "check failed: {c}\n{}",
            j["verification"]["discrepancies"]
        );
    }
    assert_eq!(j["verification"]["passed"], true);
    assert!(
        run.outcome.report.passed(),
        "{:?}",
        run.outcome.report.failures()
    );
    assert_eq!(j["run"]["drained"], true, "drain did not settle");
}

/// Asserts that the run met each fault kind of `kinds` at least once.
pub fn assert_injected(json: &serde_json::Value, kinds: &[&str]) {
    for kind in kinds {
        assert!(
            count(json, &format!("/faults/injected/{kind}")) > 0,
            "{kind} never injected: {}",
            json["faults"]["injected"]
        );
    }
}

/// Asserts that every order of the confusion matrix sits in a cell of `diagonal`, and that
/// there are `total` orders in all.
pub fn assert_on_diagonal(json: &serde_json::Value, diagonal: &[(&str, &str)], total: u64) {
    let confusion = json["outcomes"]["confusion"]
        .as_object()
        .expect("confusion matrix");
    let mut seen = 0;
    for (truth, row) in confusion {
        for (state, n) in row.as_object().expect("a row") {
            let n = n.as_u64().unwrap_or(0);
            seen += n;
            assert!(
                n == 0 || diagonal.contains(&(truth.as_str(), state.as_str())),
                "{n} order(s) {truth} at the provider but {state} at the merchant: {confusion:?}"
            );
        }
    }
    assert_eq!(seen, total, "{confusion:?}");
}

/// A loopback port free a moment ago, for a process that must be told its port before it
/// starts (nginx cannot be given port 0 and say which it took; a merchant must know the
/// provider's URL). Drawn below the kernel's ephemeral range (32768 and up on
/// Linux), so that no `bind(…:0)` of a test running beside this one can take it between the
/// check here and the balancer's own bind.
pub fn free_port() -> u16 {
    use std::sync::atomic::{AtomicU32, Ordering};
    static NEXT: AtomicU32 = AtomicU32::new(0);
    // Spread over the range by process, so parallel test binaries do not walk in step.
    let base = std::process::id() % 8000;
    loop {
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let port = 20000 + ((base + n * 37) % 12000) as u16;
        if std::net::TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
}
