//! A run that is one shard of several, or that drives a provider it did not start: the common
//! start (`--start-at`, or the barrier's answer) turned into this host's run time zero, the
//! run id every shard shares, the shard file `paychaos merge` reads, and the report of a run
//! whose verification waits for the merge (the provider's ledger is not in this process).

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::chaos::key::hash;
use crate::domain::RunId;
use crate::load::LoadResult;
use crate::metrics::serial::{self, RecorderData};
use crate::report::shard_file::{self, ShardFile, StartInfo};
use crate::report::{self, RunReport, Verification};
use crate::scenario::Scenario;

/// The accepted forms of `--start-at`, for messages.
pub const START_AT_FORM: &str =
    "an RFC 3339 UTC time such as 2026-12-02T03:00:00Z (fractions allowed) or unix seconds such as 1796180400";

/// Parses `--start-at`: RFC 3339 (with an offset or `Z`) or unix seconds.
///
/// # Errors
/// Neither form, naming the accepted ones.
pub fn parse_start_at(text: &str) -> Result<SystemTime, String> {
    let t = text.trim();
    if let Ok(secs) = t.parse::<f64>() {
        if secs.is_finite() && secs >= 0.0 {
            return Ok(UNIX_EPOCH + Duration::from_secs_f64(secs));
        }
    }
    let parsed = chrono::DateTime::parse_from_rfc3339(t)
        .map_err(|_| format!("expected {START_AT_FORM}, got {text:?}"))?;
    let nanos = parsed
        .timestamp_nanos_opt()
        .filter(|n| *n >= 0)
        .ok_or_else(|| format!("expected a time after 1970 ({START_AT_FORM}), got {text:?}"))?;
    Ok(UNIX_EPOCH + Duration::from_nanos(nanos as u64))
}

/// The common start of a run, on this host's clock.
#[derive(Clone, Debug, Default)]
pub struct Start {
    /// When the schedule starts; `None`: as soon as the run is ready.
    pub at: Option<SystemTime>,
    /// The common start as every shard was given it, unix ns: `--start-at` as written, or
    /// the barrier's start on the coordinator's clock. The run id derives from it, so the
    /// shards agree on it whatever their clocks say.
    pub common_ns: Option<u128>,
    pub info: StartInfo,
}

impl Start {
    /// A start at `at` on this host's clock (`--start-at`).
    pub fn at(at: SystemTime, how: &str) -> Start {
        Start {
            at: Some(at),
            common_ns: at.duration_since(UNIX_EPOCH).ok().map(|d| d.as_nanos()),
            info: StartInfo {
                start_unix_ms: Some(unix_ms(at)),
                how: how.to_string(),
                ..StartInfo::default()
            },
        }
    }

    /// The run-time zero for `at`: that instant on the monotonic clock (in the past when the
    /// start has passed: the open-loop schedule then catches up, as a late start would).
    pub fn origin(&self) -> Instant {
        let now_wall = SystemTime::now();
        let now = Instant::now();
        match self.at {
            None => now,
            Some(at) => match at.duration_since(now_wall) {
                Ok(ahead) => now + ahead,
                Err(e) => now.checked_sub(e.duration()).unwrap_or(now),
            },
        }
    }
}

/// Milliseconds since the epoch (0 before it).
pub fn unix_ms(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// The run id the shards of one run share: the scenario's pinned one, else one derived from
/// the scenario's name, its seed and the common start (so every shard started for that
/// instant derives the same, and another start another). `None` without a common start.
pub fn shared_run_id(scenario: &Scenario, start: &Start) -> Option<RunId> {
    if let Some(id) = &scenario.load.run_id {
        return Some(id.clone());
    }
    let nanos = start.common_ns?;
    let salt = hash(scenario.seed, "run-id", &[scenario.name.as_bytes()]);
    Some(RunId::derive(nanos, 0, salt))
}

/// What the report of a run that met an external provider says about verification: nothing
/// checked here (the ledger is the provider's, written by `--state-out`), `paychaos merge`
/// checks it. The thresholds on checks were left out of the gates for the same reason.
pub fn defer_verification(report: &mut RunReport) {
    report.verification = Verification {
        passed: true,
        checks: Vec::new(),
        discrepancies: Vec::new(),
        hints: vec![DEFERRED.to_string()],
    };
    report.warnings.push(DEFERRED.to_string());
}

/// Why a shard's report verifies nothing.
pub const DEFERRED: &str = "not verified here: the provider is external, so its ledger and \
     webhook log are in its --state-out folder; `paychaos merge` verifies the run with them";

/// The scenario a run that met an external provider builds its own report with: no
/// verification gate and no threshold on a check, both judged by the merge.
pub fn without_verification(scenario: &Scenario) -> Scenario {
    let mut s = scenario.clone();
    s.gates.verification = false;
    s.thresholds.retain(|t| !t.metric.starts_with("checks."));
    s
}

/// Names the report's verdict after a change to its gates.
pub fn settle(report: &mut RunReport) {
    let verdict = report::Verdict::of(report.run.interrupted, report.passed());
    report.set_verdict(verdict);
}

/// What [`file`] reads from a finished run.
pub struct FileInputs<'a> {
    pub scenario: &'a Scenario,
    pub run_id: &'a RunId,
    pub started_at: SystemTime,
    pub start: StartInfo,
    /// Checkouts of this shard the schedule planned.
    pub planned: u64,
    pub load: &'a LoadResult,
    pub run_duration: Duration,
    pub drained: bool,
}

/// The shard file of a finished run.
pub fn file(inp: &FileInputs) -> ShardFile {
    let sc = inp.scenario;
    let load = inp.load;
    ShardFile {
        format: shard_file::FORMAT,
        scenario: sc.name.clone(),
        seed: sc.seed,
        plan_digest: report::plan_digest(sc),
        shard: sc.shard,
        run_id: inp.run_id.to_string(),
        overrides: sc.overrides.clone(),
        started_unix_ms: unix_ms(inp.started_at),
        start: inp.start.clone(),
        planned: inp.planned,
        load_elapsed_s: load.elapsed.as_secs_f64(),
        run_duration_s: inp.run_duration.as_secs_f64(),
        interrupted: load.interrupted,
        drained: inp.drained,
        recorder: RecorderData::of(&load.recorder),
        send_lag: load
            .send_lag
            .iter()
            .map(|(s, h)| (*s, serial::encode(h)))
            .collect(),
        shed: load.shed.indexes().collect(),
        load_base_us: u64::try_from(load.shed.base().as_micros()).unwrap_or(u64::MAX),
        pool: load.pool,
        checkouts: load.records.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn start_at_takes_rfc3339_or_unix_seconds() {
        let a = parse_start_at("2026-12-02T03:00:00Z").unwrap();
        let b = parse_start_at("1796180400").unwrap();
        assert_eq!(a, b);
        let c = parse_start_at("2026-12-02T04:00:00.5+01:00").unwrap();
        assert_eq!(c, b + Duration::from_millis(500));
        let e = parse_start_at("tomorrow").unwrap_err();
        assert!(e.contains("RFC 3339") && e.contains("tomorrow"), "{e}");
    }

    #[test]
    fn shards_of_one_start_share_a_run_id_and_another_start_gets_another() {
        let s = Scenario::from_toml_str(
            "name = \"x\"\n[load]\nprofile = \"constant\"\nrate = 1\nduration = \"1s\"\n",
            "t",
        )
        .unwrap();
        let at = UNIX_EPOCH + Duration::from_secs(1_796_180_400);
        let one = shared_run_id(&s, &Start::at(at, "at")).unwrap();
        assert_eq!(Some(one.clone()), shared_run_id(&s, &Start::at(at, "at")));
        let later = shared_run_id(&s, &Start::at(at + Duration::from_secs(1), "at")).unwrap();
        assert_ne!(one, later);
        assert_eq!(shared_run_id(&s, &Start::default()), None);
    }
}
