//! Runs one scenario end to end: bind loopback listeners, start the provider and the
//! reference merchant, drive the load, drain, verify, write the report. Glue only: every
//! decision lives in the part that owns it. [`harness`] binds and starts the parts (an
//! external merchant is not started: [`briefing`] says what it must be configured with, and
//! the run waits for it to answer); [`drive`] runs the load with the progress line and a
//! capacity run's early stop; [`drain`] waits for webhooks and reconciliation to settle;
//! [`destination`] settles where the report goes before any of it starts.

mod alerts;
pub mod barrier;
mod briefing;
mod channels;
pub mod destination;
mod drain;
mod drive;
mod harness;
pub mod live_metrics;
pub mod merge;
pub mod shard;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use tokio_util::sync::CancellationToken;

use crate::domain::RunId;
use crate::report::{self, compare, Generator, History, ReportInputs, RunReport};
use crate::scenario::Scenario;
use crate::verify::{self, Evidence};
use destination::Destination;
use harness::Harness;

/// How a run is asked to behave, beyond the scenario.
#[derive(Clone, Debug, Default)]
pub struct RunOptions {
    /// Write the report here instead of `reports/<scenario>-<UTC timestamp>/`.
    pub out: Option<PathBuf>,
    /// Replace the report an earlier run left in `out` (refused without it).
    pub force: bool,
    /// Replaces the scenario's seed.
    pub seed: Option<u64>,
    /// No progress line on stderr. The run's other lines (start-up, phases) are `tracing`
    /// events at `info`, shown as the caller's subscriber decides (`paychaos run --quiet`
    /// shows warnings only).
    pub quiet: bool,
    /// A baseline report to compare the run with: a regression fails the run (the report's
    /// `baseline` gate) and `compare.md` / `compare.json` join the report folder.
    pub baseline: Option<Baseline>,
    /// Serve the live `/metrics` endpoint here (loopback) while the run lasts.
    pub metrics_listen: Option<std::net::SocketAddr>,
    /// Replaces the scenario's `[shard]` (`--shard I/N`).
    pub shard: Option<crate::scenario::Shard>,
    /// The common start of the shards (`--start-at`, or the barrier's answer).
    pub start: shard::Start,
    /// The scenario file's text, copied beside a shard's report for `paychaos merge`.
    pub scenario_text: Option<String>,
}

/// The report a run is compared with, read before the run starts, and how latency may move.
#[derive(Clone, Debug)]
pub struct Baseline {
    pub report: compare::Loaded,
    pub tolerance: compare::Tolerance,
}

/// A finished run: the report and where it was written.
#[derive(Debug)]
pub struct RunOutcome {
    pub report: RunReport,
    pub dir: PathBuf,
    /// The comparison with `--baseline`, when one was given.
    pub comparison: Option<compare::Comparison>,
}

/// Runs `scenario`. Cancelling `interrupt` stops the load early; the run still drains
/// briefly, verifies what happened and writes the report (marked interrupted). Cancelling
/// `abort` as well skips what is left of the drain.
pub async fn run(
    mut scenario: Scenario,
    opts: &RunOptions,
    interrupt: CancellationToken,
    abort: CancellationToken,
) -> anyhow::Result<RunOutcome> {
    if let Some(seed) = opts.seed {
        scenario.seed = seed;
    }
    if let Some(s) = opts.shard {
        scenario.shard = s;
    }
    let started_at = opts.start.at.unwrap_or_else(SystemTime::now);
    let run_id = match shard::shared_run_id(&scenario, &opts.start) {
        Some(id) => id,
        None if scenario.shard.is_part() => anyhow::bail!(
            "--shard {}: the shards must share a run id, so that their order ids are the single              run's: give them a common --start-at (or --barrier), or pin [load] run_id",
            scenario.shard
        ),
        None => run_id(&scenario, started_at),
    };
    // The report's folder must be usable before a long rehearsal starts, not after it.
    let dest = Destination::prepare(
        opts.out.as_deref(),
        opts.force,
        Path::new(destination::REPORTS),
        &scenario.name,
        started_at,
    )?;
    let started = Started {
        at: started_at,
        run_id,
    };
    let result = run_scenario(scenario, opts, &started, &dest, interrupt, abort).await;
    if result.is_err() {
        dest.discard();
    }
    result
}

/// When a run started, and the run id its order ids carry.
struct Started {
    at: SystemTime,
    run_id: RunId,
}

/// Runs started by this process so far: two runs started at the same instant (tests run
/// them side by side) still get two run ids.
static RUNS_STARTED: AtomicU64 = AtomicU64::new(0);

/// The scenario's pinned run id, else one derived from the start time, the process id and
/// how many runs this process started before.
fn run_id(scenario: &Scenario, started_at: SystemTime) -> RunId {
    scenario.load.run_id.clone().unwrap_or_else(|| {
        let nanos = started_at
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        let nth = RUNS_STARTED.fetch_add(1, Ordering::Relaxed);
        RunId::derive(nanos, std::process::id(), nth)
    })
}

async fn run_scenario(
    scenario: Scenario,
    opts: &RunOptions,
    started: &Started,
    dest: &Destination,
    interrupt: CancellationToken,
    abort: CancellationToken,
) -> anyhow::Result<RunOutcome> {
    let origin = opts.start.at.map(|_| opts.start.origin());
    let harness = Harness::start(&scenario, &interrupt, origin).await?;
    let contract = &harness.contract;
    // The endpoint stops with the run (the guard), whichever way the run ends.
    let metrics_stop = CancellationToken::new();
    let _metrics_guard = metrics_stop.clone().drop_guard();
    let live = Arc::new(live_metrics::LiveSources::default());
    if let Some(addr) = opts.metrics_listen {
        if let Some(p) = &harness.provider {
            let _ = live.provider.set(p.stats());
        }
        let (bound, _task) = live_metrics::start(addr, Arc::clone(&live), metrics_stop)
            .map_err(|e| anyhow::anyhow!("--metrics-listen {addr}: cannot listen: {e}"))?;
        tracing::info!("live metrics on http://{bound}/metrics");
    }
    let run_id = &started.run_id;
    tracing::info!("run id {run_id}: order ids are ord-{run_id}-000000, ord-{run_id}-000001, …");
    let mut start_info = opts.start.info.clone();
    if opts.start.at.is_some() {
        tracing::info!(
            "shard {}: the load starts at {}",
            scenario.shard,
            report::rfc3339(started.at)
        );
        tokio::select! {
            () = tokio::time::sleep_until(harness.origin.into()) => {}
            () = interrupt.cancelled() => anyhow::bail!("interrupted while waiting for the common start"),
        }
        start_info.start_lag_ms = harness.origin.elapsed().as_secs_f64() * 1000.0;
    }
    let mut driven = drive::drive(
        &scenario,
        run_id,
        contract,
        harness.origin,
        &interrupt,
        opts.quiet,
        &live.load,
    )
    .await;
    let loaded = &mut driven.result;

    let order_ids: Vec<String> = loaded.records.iter().map(|r| r.order_id.clone()).collect();
    let drain_for = drain::limit(scenario.drain.timeout, loaded.interrupted);
    let drain_done = CancellationToken::new();
    let drain_shown =
        (!opts.quiet).then(|| tokio::spawn(crate::progress::drain(drain_for, drain_done.clone())));
    let drained = drain::drain(
        &harness,
        &order_ids,
        drain_for,
        || harness.merchant_busy() || !harness.backups_idle(),
        &interrupt,
        &abort,
    )
    .await;
    drain_done.cancel();
    if let Some(shown) = drain_shown {
        let _ = shown.await;
    }
    // A Ctrl-C during the drain still makes the run an interrupted one.
    loaded.interrupted |= interrupt.is_cancelled() && driven.stopped_early_at.is_none();
    // Unreadable final states leave every order `missing`; the report is still written (it
    // says so) and the run then ends as one that could not be done.
    let (orders, final_read_error) = match harness.read_orders(contract, &order_ids).await {
        Ok(o) => (o, None),
        Err(e) => (Vec::new(), Some(e)),
    };
    let (primary, primary_events, primary_shed) = match &harness.provider {
        Some(p) => (p.take_records(), p.events_created(), p.shed()),
        None => (Default::default(), 0, 0),
    };
    let (ledger, webhooks) = channels::merge(
        primary,
        harness.backups.iter().map(|b| b.take_records()).collect(),
    );
    let events_created = primary_events
        + harness
            .backups
            .iter()
            .map(|b| b.events_created())
            .sum::<u64>();
    let provider_shed = primary_shed + harness.backups.iter().map(|b| b.shed()).sum::<u64>();
    let external_provider = harness.provider.is_none();
    let provider_url = harness.provider_url.clone();
    let origin = harness.origin;
    let alerts = harness
        .alerts
        .as_ref()
        .map(|rx| rx.received(origin))
        .unwrap_or_default();
    harness.stop().await;

    let card_testing = verify::card_testing::CardTestingPlan::of(&scenario);
    let evidence = Evidence {
        ledger: &ledger,
        webhooks: &webhooks,
        checkouts: &loaded.records,
        orders: &orders,
        card_testing: card_testing.as_ref(),
        journeys: &loaded.journeys,
        retries: &loaded.retries,
    };
    // Before the report takes the generator's logs.
    let shard_file = (external_provider || scenario.shard.is_part()).then(|| {
        shard::file(&shard::FileInputs {
            scenario: &scenario,
            run_id,
            started_at: started.at,
            start: start_info.clone(),
            planned: driven.planned,
            load: loaded,
            run_duration: origin.elapsed(),
            drained,
        })
    });
    let reconciliation = verify::reconcile(&evidence);
    let history = History::new(evidence);
    // Without the provider's ledger nothing can be verified here: the merge does it.
    let judged_by = if external_provider {
        shard::without_verification(&scenario)
    } else {
        scenario.clone()
    };
    let mut report = report::build(&ReportInputs {
        scenario: &judged_by,
        evidence,
        history: &history,
        reconciliation: &reconciliation,
        recorder: &loaded.recorder,
        target_rate: driven.target_rate,
        planned: driven.planned,
        planned_per_second: std::mem::take(&mut driven.planned_per_second),
        load_elapsed: loaded.elapsed,
        run_duration: origin.elapsed(),
        started_at: started.at,
        run_id,
        interrupted: loaded.interrupted,
        drained,
        events_created,
        provider_url: Some(&provider_url),
        provider_shed,
        alerts: &alerts,
        generator: Generator {
            shed: std::mem::take(&mut loaded.shed),
            send_lag: std::mem::take(&mut loaded.send_lag),
            stopped_early_at: driven.stopped_early_at,
            pool: loaded.pool,
            aborted_by: driven.aborted_by.take(),
        },
    });
    if external_provider {
        shard::defer_verification(&mut report);
    }
    if scenario.shard.is_part() || opts.start.at.is_some() {
        report.run.shards.push(report::shard_file::ShardRow {
            shard: scenario.shard.to_string(),
            start: start_info.clone(),
        });
    }
    // Before the verdict can become an error below, and before report.json is written, so
    // that the report's baseline gate and the exit code agree.
    let mut comparison = opts.baseline.as_ref().map(|b| {
        let new = compare::Loaded::of_report(&report, dest.dir());
        let c = compare::compare(&b.report, &new, b.tolerance);
        compare::add_gate(&mut report, &c);
        c
    });
    if let Some(e) = &final_read_error {
        report.warnings.push(format!(
            "the merchant's final order states could not be read ({e}): every order counts as missing"
        ));
        report.set_verdict(report::Verdict::Error);
    }
    let dir = dest.write(&report, Some(&history))?;
    if let Some(f) = &shard_file {
        f.write(&dir, opts.scenario_text.as_deref()).map_err(|e| {
            anyhow::anyhow!(
                "cannot write {} in {}: {e}",
                report::shard_file::FILE_NAME,
                dir.display()
            )
        })?;
    }
    if let Some(c) = &mut comparison {
        // The verdict the run ended with, baseline gate included.
        c.new.verdict = Some(report.verdict.as_str().to_string());
        compare::render::write_files(c, &dir)
            .map_err(|(path, e)| anyhow::anyhow!("cannot write {}: {e}", path.display()))?;
    }
    if let Some(e) = final_read_error {
        anyhow::bail!(
            "reading the merchant's final order states: {e} (the report in {} covers what was measured)",
            dir.display()
        );
    }
    Ok(RunOutcome {
        report,
        dir,
        comparison,
    })
}
