//! What a run leaves beside its report for `paychaos merge`: `shard.json` (the scenario's
//! identity, the shard, the start and its clock figures, every histogram in HdrHistogram's
//! V2 encoding, the per-second table, the send lag, the shed indexes, the checkout records)
//! and `scenario.toml` (the scenario file as run, with its `--set` overrides in `shard.json`).
//! The provider's side (ledger, webhook log) is written by the provider itself
//! (`provider-state*.json`, [`ProviderState`]).

use std::collections::BTreeMap;
use std::fs;
use std::io::{self, BufWriter, Write};
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::domain::{CheckoutRecord, LedgerEntry, WebhookAttempt};
use crate::metrics::serial::{self, RecorderData};
use crate::net::PoolStats;
use crate::scenario::Shard;

/// The file name in a report folder.
pub const FILE_NAME: &str = "shard.json";
/// The scenario file as the shard ran it, beside [`FILE_NAME`].
pub const SCENARIO_FILE: &str = "scenario.toml";
/// The version of [`ShardFile`]'s layout.
pub const FORMAT: u32 = 1;

/// How a shard's start was agreed, and what its clock said.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct StartInfo {
    /// The common start, unix ms (UTC), on this host's clock; `None`: the shard started when
    /// it was ready.
    pub start_unix_ms: Option<u64>,
    /// `at` (`--start-at`) or `barrier` (`--barrier URL`); `none` without a common start.
    pub how: String,
    /// This host's clock minus the coordinator's, ms, measured NTP-style in the barrier
    /// handshake; `None` without a barrier.
    pub clock_offset_ms: Option<f64>,
    /// The handshake's round trip less the coordinator's hold, ms.
    pub round_trip_ms: Option<f64>,
    /// How late the load started after the common start, ms (timer and start-up delay).
    pub start_lag_ms: f64,
}

/// One shard's start in a report (`run.shards`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ShardRow {
    /// `I/N`.
    pub shard: String,
    #[serde(flatten)]
    pub start: StartInfo,
}

/// Everything `paychaos merge` needs from one shard's run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ShardFile {
    pub format: u32,
    pub scenario: String,
    pub seed: u64,
    pub plan_digest: String,
    pub shard: Shard,
    pub run_id: String,
    /// The `--set` arguments the shard ran with, applied over `scenario.toml`.
    pub overrides: Vec<String>,
    /// The run's start, unix ms.
    pub started_unix_ms: u64,
    pub start: StartInfo,
    pub planned: u64,
    pub load_elapsed_s: f64,
    pub run_duration_s: f64,
    pub interrupted: bool,
    pub drained: bool,
    pub recorder: RecorderData,
    /// Send lag by intended second, µs ([`serial::encode`]).
    pub send_lag: BTreeMap<u64, String>,
    /// Schedule indexes shed at the in-flight cap.
    pub shed: Vec<u64>,
    /// The load start from the run origin, µs.
    pub load_base_us: u64,
    pub pool: Option<PoolStats>,
    /// One per checkout sent, in schedule order.
    pub checkouts: Vec<CheckoutRecord>,
}

impl ShardFile {
    /// Writes `shard.json` (and `scenario.toml` from `scenario_text`) into `dir`.
    ///
    /// # Errors
    /// The file that could not be written.
    pub fn write(&self, dir: &Path, scenario_text: Option<&str>) -> io::Result<()> {
        if let Some(text) = scenario_text {
            fs::write(dir.join(SCENARIO_FILE), text)?;
        }
        let path = dir.join(FILE_NAME);
        let tmp = dir.join(format!(".{FILE_NAME}.tmp-{}", std::process::id()));
        let mut w = BufWriter::new(fs::File::create(&tmp)?);
        serde_json::to_writer(&mut w, self)?;
        w.flush()?;
        drop(w);
        fs::rename(tmp, path)
    }

    /// Reads `dir/shard.json`.
    ///
    /// # Errors
    /// Unreadable, not JSON of this layout, or another format version, naming the file.
    pub fn read(dir: &Path) -> Result<ShardFile, String> {
        let path = dir.join(FILE_NAME);
        let text = fs::read_to_string(&path).map_err(|e| {
            format!(
                "{}: {e} (expected the report folder of a `paychaos run --shard I/N`)",
                path.display()
            )
        })?;
        let file: ShardFile = serde_json::from_str(&text)
            .map_err(|e| format!("{}: not a shard file: {e}", path.display()))?;
        if file.format != FORMAT {
            return Err(format!(
                "{}: format {} (this paychaos reads format {FORMAT})",
                path.display(),
                file.format
            ));
        }
        Ok(file)
    }

    /// The send lag back as histograms.
    ///
    /// # Errors
    /// One that cannot be decoded.
    pub fn send_lag(&self) -> Result<BTreeMap<u64, crate::metrics::SecondHistogram>, String> {
        self.send_lag
            .iter()
            .map(|(s, h)| {
                serial::decode(h, crate::metrics::second_histogram())
                    .map(|h| (*s, h))
                    .map_err(|e| format!("send_lag[{s}]: {e}"))
            })
            .collect()
    }
}

/// What one provider process kept: its ledger and webhook log (`paychaos provider
/// --state-out DIR` writes it as `DIR/provider-state.json` on shutdown).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ProviderState {
    pub ledger: Vec<LedgerEntry>,
    pub webhooks: Vec<WebhookAttempt>,
    /// Webhook events the provider created.
    pub events_created: u64,
    /// API requests shed at its in-flight cap.
    pub shed: u64,
}

/// The provider state file's name in a `--state-out` folder; replicas sharing a folder write
/// `provider-state-<name>.json`, and every `provider-state*.json` in a folder is read.
pub const PROVIDER_STATE_FILE: &str = "provider-state.json";

impl ProviderState {
    /// Every `provider-state*.json` in `dir`, in name order.
    ///
    /// # Errors
    /// An unreadable folder or file, or a folder with none, naming it.
    pub fn read_dir(dir: &Path) -> Result<Vec<ProviderState>, String> {
        let entries =
            fs::read_dir(dir).map_err(|e| format!("--provider-state {}: {e}", dir.display()))?;
        let mut names: Vec<_> = entries
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| {
                p.file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| n.starts_with("provider-state") && n.ends_with(".json"))
            })
            .collect();
        names.sort();
        if names.is_empty() {
            return Err(format!(
                "--provider-state {}: no {PROVIDER_STATE_FILE} in it (written by `paychaos provider \
                 --state-out DIR` when it stops)",
                dir.display()
            ));
        }
        names
            .iter()
            .map(|p| {
                let text = fs::read_to_string(p).map_err(|e| format!("{}: {e}", p.display()))?;
                serde_json::from_str(&text)
                    .map_err(|e| format!("{}: not a provider state file: {e}", p.display()))
            })
            .collect()
    }
}
