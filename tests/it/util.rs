//! Helpers for whole-run tests. Defaults (documented because tests lean on them): 50
//! checkouts/s for 2 s (100 orders), a 300 ms hold for timeout faults against a 150 ms
//! merchant provider timeout, 3 merchant retries, short webhook retries, a 10 s drain.

use std::path::PathBuf;

use paychaos::run::{run, RunOptions, RunOutcome};
use paychaos::scenario::Scenario;
use tokio_util::sync::CancellationToken;

/// A fast scenario with `faults` and `webhooks` lines inserted into their tables.
pub fn scenario_toml(seed: u64, faults: &str, webhooks: &str) -> String {
    format!(
        r#"
name = "it"
seed = {seed}

[load]
profile = "constant"
rate = 50
duration = "2s"
max_in_flight = 1000
request_timeout = "10s"

[provider]
hold = "300ms"

[faults]
{faults}

[webhooks]
secret = "whsec_it_secret"
retry_schedule = ["50ms", "100ms", "200ms"]
timeout = "1s"
{webhooks}

[merchant]
provider_timeout = "150ms"
max_retries = 3
retry_backoff = "10ms"
reconcile_every = "100ms"
pending_grace = "1s"

[drain]
timeout = "10s"

[gates]
verification = true
"#
    )
}

/// Every fault kind at a rate that shows in 100 orders.
pub const ALL_FAULTS: &str = r#"
insufficient_funds = 0.1
risk_block = 0.1
timeout = 0.08
timeout_after_charge = 0.08
server_error = 0.08
rate_limit = 0.08
"#;

/// Webhook chaos on: delays, duplicates and forgeries.
pub const WEBHOOK_CHAOS: &str = r#"
delay = 0.3
delay_latency = { distribution = "uniform", min = "5ms", max = "100ms" }
duplicate = 0.3
forged = 0.3
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
        seed: None,
        quiet: true,
    };
    let outcome = run(
        scenario,
        &opts,
        CancellationToken::new(),
        CancellationToken::new(),
    )
    .await
    .expect("run completes");
    let text = std::fs::read_to_string(out.join("report.json")).expect("report.json written");
    let json = serde_json::from_str(&text).expect("report.json parses");
    Finished {
        outcome,
        json,
        _dir: tmp,
    }
}

/// `json[path...]` as u64, 0 when absent (counts that are zero may be left out).
pub fn count(json: &serde_json::Value, pointer: &str) -> u64 {
    json.pointer(pointer).and_then(|v| v.as_u64()).unwrap_or(0)
}
