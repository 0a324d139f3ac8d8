//! `paychaos merge`: the report folders of the shards of one run joined into the report of
//! the whole run. Refuses shards that do not belong together (another scenario, seed, plan,
//! run id or shard count; an index missing or twice); adds their histograms exactly (decoded
//! from HdrHistogram's V2 encoding), joins their checkout records with the providers'
//! ledgers and webhook logs, reads the merchant's final order states, and builds the report
//! as a single run does: verification, gates and thresholds judged on the merged data.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, UNIX_EPOCH};

use crate::domain::{CheckoutRecord, LedgerEntry, OrderSnapshot, RunId, WebhookAttempt};
use crate::load::{self, Schedule, ShedLog};
use crate::metrics::{Recorder, SecondHistogram};
use crate::net::PoolStats;
use crate::report::shard_file::{ProviderState, ShardFile, ShardRow, SCENARIO_FILE};
use crate::report::{self, Generator, History, ReportInputs, RunReport};
use crate::scenario::{MerchantSpec, Scenario, Shard};
use crate::verify::{self, Evidence};

use super::destination::{self, Destination};

/// What to merge and where to.
#[derive(Clone, Debug, Default)]
pub struct MergeOptions {
    /// The shards' report folders.
    pub shards: Vec<PathBuf>,
    pub out: Option<PathBuf>,
    pub force: bool,
    /// `--state-out` folders of the provider (one per replica).
    pub provider_state: Vec<PathBuf>,
    /// The merchant's final order states: a bulk export URL, or a file holding its answer;
    /// default: read through the scenario's merchant contract.
    pub merchant_orders: Option<String>,
}

/// Why shards cannot be merged (exit code 2).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct MergeError(pub String);

fn refuse(msg: String) -> anyhow::Error {
    MergeError(msg).into()
}

/// A shard's folder, its file and its scenario.
struct Loaded {
    dir: PathBuf,
    file: ShardFile,
}

/// Reads every shard and checks that they are the `count` shards of one run; returns the
/// scenario (as a whole run: shard 0/1) and the shards in index order.
fn load_shards(dirs: &[PathBuf]) -> anyhow::Result<(Scenario, Vec<Loaded>)> {
    if dirs.is_empty() {
        return Err(refuse(
            "merge: expected the report folders of the shards (DIR...)".into(),
        ));
    }
    let mut shards = Vec::with_capacity(dirs.len());
    let mut scenario: Option<Scenario> = None;
    for dir in dirs {
        let file = ShardFile::read(dir).map_err(refuse)?;
        let path = dir.join(SCENARIO_FILE);
        let mut s = Scenario::load_with(&path, &file.overrides)
            .map_err(|e| refuse(format!("{}: {e}", path.display())))?;
        s.shard = Shard::WHOLE;
        match &scenario {
            None => scenario = Some(s),
            Some(first) if *first != s => {
                return Err(refuse(format!(
                    "{}: its scenario differs from {}'s: shards of one run share one scenario file",
                    dir.display(),
                    dirs[0].display()
                )))
            }
            Some(_) => {}
        }
        shards.push(Loaded {
            dir: dir.clone(),
            file,
        });
    }
    let first = &shards[0].file;
    for l in &shards[1..] {
        let f = &l.file;
        let differs = [
            ("scenario", f.scenario != first.scenario),
            ("seed", f.seed != first.seed),
            ("plan digest", f.plan_digest != first.plan_digest),
            ("run id", f.run_id != first.run_id),
            ("shard count", f.shard.count != first.shard.count),
        ];
        if let Some((what, _)) = differs.into_iter().find(|(_, d)| *d) {
            return Err(refuse(format!(
                "{} does not belong with {}: another {what} (scenario '{}' seed {} run {} shard {} \
                 vs scenario '{}' seed {} run {} shard {})",
                l.dir.display(),
                shards[0].dir.display(),
                f.scenario,
                f.seed,
                f.run_id,
                f.shard,
                first.scenario,
                first.seed,
                first.run_id,
                first.shard
            )));
        }
    }
    let count = first.shard.count;
    let mut by_index: BTreeMap<u64, &Path> = BTreeMap::new();
    for l in &shards {
        if let Some(other) = by_index.insert(l.file.shard.index, &l.dir) {
            return Err(refuse(format!(
                "shard {} is given twice: {} and {}",
                l.file.shard,
                other.display(),
                l.dir.display()
            )));
        }
    }
    let missing: Vec<String> = (0..count)
        .filter(|i| !by_index.contains_key(i))
        .map(|i| format!("{i}/{count}"))
        .collect();
    if !missing.is_empty() {
        return Err(refuse(format!(
            "shards missing: {} (expected all {count} shards of run {})",
            missing.join(", "),
            first.run_id
        )));
    }
    shards.sort_by_key(|l| l.file.shard.index);
    Ok((scenario.expect("one shard at least"), shards))
}

/// The merged figures of the shards.
struct Joined {
    recorder: Recorder,
    send_lag: BTreeMap<u64, SecondHistogram>,
    checkouts: Vec<CheckoutRecord>,
    shed: ShedLog,
    pool: Option<PoolStats>,
}

fn join(scenario: &Scenario, shards: &[Loaded]) -> anyhow::Result<Joined> {
    let mut recorder = Recorder::default();
    let mut send_lag: BTreeMap<u64, SecondHistogram> = BTreeMap::new();
    let mut checkouts = Vec::new();
    let mut shed_indexes = Vec::new();
    let mut pool: Option<PoolStats> = None;
    for l in shards {
        let named = |e: String| refuse(format!("{}: {e}", l.dir.display()));
        recorder.merge(&l.file.recorder.recorder().map_err(named)?);
        for (s, h) in l.file.send_lag().map_err(named)? {
            send_lag
                .entry(s)
                .or_insert_with(load::lag_histogram)
                .add(&h)
                .expect("same bounds");
        }
        checkouts.extend(l.file.checkouts.iter().cloned());
        shed_indexes.extend(l.file.shed.iter().copied());
        if let Some(p) = l.file.pool {
            let m = pool.get_or_insert_with(PoolStats::default);
            // Each shard had a pool of its own: their caps add up.
            m.connections += p.connections;
            m.absorb(&p);
        }
    }
    // Order ids are zero-padded sequence numbers (longer past a million): schedule order.
    checkouts.sort_by(|a, b| (a.order_id.len(), &a.order_id).cmp(&(b.order_id.len(), &b.order_id)));
    shed_indexes.sort_unstable();
    let schedule = Schedule::new(&load::stages(&scenario.load.profile));
    let base = Duration::from_micros(shards[0].file.load_base_us);
    let mut shed = ShedLog::new(schedule, base);
    for n in shed_indexes {
        shed.shed(n);
    }
    Ok(Joined {
        recorder,
        send_lag,
        checkouts,
        shed,
        pool,
    })
}

/// The providers' records from every `--provider-state` folder.
fn provider_states(dirs: &[PathBuf]) -> anyhow::Result<ProviderState> {
    if dirs.is_empty() {
        return Err(refuse(
            "--provider-state: expected the provider's --state-out folder (one per replica): \
             without its ledger nothing can be verified"
                .into(),
        ));
    }
    let mut all = ProviderState::default();
    for d in dirs {
        for s in ProviderState::read_dir(d).map_err(refuse)? {
            all.ledger.extend(s.ledger);
            all.webhooks.extend(s.webhooks);
            all.events_created += s.events_created;
            all.shed += s.shed;
        }
    }
    Ok(all)
}

/// The merchant's final order states, from `--merchant-orders` or the scenario's contract.
async fn final_orders(
    scenario: &Scenario,
    source: Option<&str>,
    order_ids: &[String],
) -> anyhow::Result<Vec<OrderSnapshot>> {
    let MerchantSpec::External(ext) = &scenario.merchant else {
        return Err(refuse(
            "the scenario's merchant is the embedded one, which ended with its run: merge reads \
             the final states of a merchant served alone ([merchant] kind = \"external\")"
                .into(),
        ));
    };
    let mut contract = ext.contract.clone();
    match source {
        Some(file) if !file.starts_with("http://") => {
            let text = std::fs::read_to_string(file)
                .map_err(|e| refuse(format!("--merchant-orders {file}: {e}")))?;
            let v: serde_json::Value = serde_json::from_str(&text).map_err(|e| {
                refuse(format!("--merchant-orders {file}: not JSON (expected what the bulk export answers): {e}"))
            })?;
            load::read_bulk(&contract, &v, file, order_ids)
                .map_err(|e| refuse(format!("--merchant-orders {file}: {e}")))
        }
        url => {
            if let Some(url) = url {
                contract.orders.bulk_url = Some(url.to_string());
            }
            load::fetch_orders(&contract, order_ids)
                .await
                .map_err(|e| refuse(format!("reading the merchant's final order states: {e}")))
        }
    }
}

/// Merges the shards of `opts` and writes the report folder; returns the report and where.
///
/// # Errors
/// [`MergeError`] when the inputs do not make one run; another error when the report cannot
/// be written.
pub async fn merge(opts: &MergeOptions) -> anyhow::Result<(RunReport, PathBuf)> {
    let (scenario, shards) = load_shards(&opts.shards)?;
    let provider = provider_states(&opts.provider_state)?;
    let joined = join(&scenario, &shards)?;
    let order_ids: Vec<String> = joined
        .checkouts
        .iter()
        .map(|c| c.order_id.clone())
        .collect();
    let orders = final_orders(&scenario, opts.merchant_orders.as_deref(), &order_ids).await?;
    let first = &shards[0].file;
    let started_ms = shards
        .iter()
        .map(|l| l.file.started_unix_ms)
        .min()
        .unwrap_or(0);
    let started_at = UNIX_EPOCH + Duration::from_millis(started_ms);
    let dest = Destination::prepare(
        opts.out.as_deref(),
        opts.force,
        Path::new(destination::REPORTS),
        &scenario.name,
        started_at,
    )?;
    let ledger: Vec<LedgerEntry> = provider.ledger;
    let webhooks: Vec<WebhookAttempt> = provider.webhooks;
    let card_testing = verify::card_testing::CardTestingPlan::of(&scenario);
    let evidence = Evidence {
        ledger: &ledger,
        webhooks: &webhooks,
        checkouts: &joined.checkouts,
        orders: &orders,
        card_testing: card_testing.as_ref(),
        // Shard files carry no journeys: challenges are not merged (see the README).
        journeys: &[],
        retries: &[],
    };
    let reconciliation = verify::reconcile(&evidence);
    let history = History::new(evidence);
    let schedule = Schedule::new(&load::stages(&scenario.load.profile));
    let run_id = RunId::new(&first.run_id).map_err(|e| refuse(format!("run id: {e}")))?;
    let max = |f: fn(&ShardFile) -> f64| shards.iter().map(|l| f(&l.file)).fold(0.0, f64::max);
    let provider_url = match &scenario.provider.external {
        Some(u) => u.clone(),
        None => String::new(),
    };
    let mut report = report::build(&ReportInputs {
        scenario: &scenario,
        evidence,
        history: &history,
        reconciliation: &reconciliation,
        recorder: &joined.recorder,
        target_rate: schedule.planned() as f64 / scenario.load.profile.duration().as_secs_f64(),
        planned: shards.iter().map(|l| l.file.planned).sum(),
        planned_per_second: report::planned_per_second(&schedule),
        load_elapsed: Duration::from_secs_f64(max(|f| f.load_elapsed_s)),
        run_duration: Duration::from_secs_f64(max(|f| f.run_duration_s)),
        started_at,
        run_id: &run_id,
        interrupted: shards.iter().any(|l| l.file.interrupted),
        drained: shards.iter().all(|l| l.file.drained),
        events_created: provider.events_created,
        provider_url: (!provider_url.is_empty()).then_some(provider_url.as_str()),
        provider_shed: provider.shed,
        // No alert receiver runs at a merge: the shards' runs had none either.
        alerts: &[],
        generator: Generator {
            shed: joined.shed,
            send_lag: joined.send_lag,
            stopped_early_at: None,
            pool: joined.pool,
            aborted_by: None,
        },
    });
    report.run.shards = shards
        .iter()
        .map(|l| ShardRow {
            shard: l.file.shard.to_string(),
            start: l.file.start.clone(),
        })
        .collect();
    let dir = dest.write(&report, Some(&history))?;
    Ok((report, dir))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::serial::RecorderData;
    use crate::report::shard_file::{StartInfo, FORMAT};

    const TOML: &str =
        "name = \"m\"\nseed = 5\n[load]\nprofile = \"constant\"\nrate = 3\nduration = \"1s\"\n";

    /// A shard folder under `root` holding shard `index` of `count` of run `run`, seed `seed`.
    fn shard(root: &Path, index: u64, count: u64, run: &str, seed: u64) -> PathBuf {
        let dir = root.join(format!("s{index}-{run}-{seed}-{}", next_suffix()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = ShardFile {
            format: FORMAT,
            scenario: "m".into(),
            seed,
            plan_digest: "d".into(),
            shard: Shard::new(index, count).unwrap(),
            run_id: run.into(),
            overrides: Vec::new(),
            started_unix_ms: 0,
            start: StartInfo::default(),
            planned: 1,
            load_elapsed_s: 1.0,
            run_duration_s: 1.0,
            interrupted: false,
            drained: true,
            recorder: RecorderData::of(&Recorder::default()),
            send_lag: BTreeMap::new(),
            shed: Vec::new(),
            load_base_us: 0,
            pool: None,
            checkouts: Vec::new(),
        };
        file.write(&dir, Some(TOML)).unwrap();
        dir
    }

    fn next_suffix() -> u64 {
        use std::sync::atomic::{AtomicU64, Ordering};
        static N: AtomicU64 = AtomicU64::new(0);
        N.fetch_add(1, Ordering::Relaxed)
    }

    fn refused(dirs: &[PathBuf]) -> String {
        match load_shards(dirs) {
            Ok(_) => panic!("merged shards that do not belong together"),
            Err(e) => {
                assert!(e.downcast_ref::<MergeError>().is_some(), "{e}");
                e.to_string()
            }
        }
    }

    #[test]
    fn the_shards_of_one_run_are_taken_in_index_order() {
        let tmp = tempfile::tempdir().unwrap();
        let dirs = [
            shard(tmp.path(), 1, 2, "r1", 5),
            shard(tmp.path(), 0, 2, "r1", 5),
        ];
        let (scenario, shards) = load_shards(&dirs).unwrap();
        assert_eq!(scenario.shard, Shard::WHOLE);
        let order: Vec<u64> = shards.iter().map(|l| l.file.shard.index).collect();
        assert_eq!(order, [0, 1]);
    }

    #[test]
    fn shards_of_another_run_seed_or_count_or_a_missing_or_doubled_one_are_refused() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path();
        let zero = shard(root, 0, 2, "r1", 5);
        let e = refused(&[zero.clone(), shard(root, 1, 2, "r2", 5)]);
        assert!(e.contains("another run id"), "{e}");
        let e = refused(&[zero.clone(), shard(root, 1, 2, "r1", 6)]);
        assert!(e.contains("another seed"), "{e}");
        let e = refused(&[zero.clone(), shard(root, 1, 3, "r1", 5)]);
        assert!(e.contains("another shard count"), "{e}");
        let e = refused(std::slice::from_ref(&zero));
        assert!(e.contains("shards missing: 1/2"), "{e}");
        let e = refused(&[zero.clone(), shard(root, 0, 2, "r1", 5)]);
        assert!(e.contains("shard 0/2 is given twice"), "{e}");
    }
}
