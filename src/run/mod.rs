//! Runs one scenario end to end: bind loopback listeners, start the provider and the
//! reference merchant, drive the load, drain, verify, write the report. Glue only: every
//! decision lives in the part that owns it. [`harness`] binds and starts the parts (an
//! external merchant is not started: [`briefing`] says what it must be configured with, and
//! the run waits for it to answer); [`drive`] runs the load with the progress line and a
//! capacity run's early stop; [`drain`] waits for webhooks and reconciliation to settle;
//! [`destination`] settles where the report goes before any of it starts.

mod briefing;
pub mod destination;
mod drain;
mod drive;
mod harness;
pub mod live_metrics;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use tokio_util::sync::CancellationToken;

use crate::domain::RunId;
use crate::load;
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
    let started_at = SystemTime::now();
    let run_id = run_id(&scenario, started_at);
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
    let harness = Harness::start(&scenario, &interrupt).await?;
    let contract = &harness.contract;
    // The endpoint stops with the run (the guard), whichever way the run ends.
    let metrics_stop = CancellationToken::new();
    let _metrics_guard = metrics_stop.clone().drop_guard();
    let live = Arc::new(live_metrics::LiveSources::default());
    if let Some(addr) = opts.metrics_listen {
        let _ = live.provider.set(harness.provider.stats());
        let (bound, _task) = live_metrics::start(addr, Arc::clone(&live), metrics_stop)
            .map_err(|e| anyhow::anyhow!("--metrics-listen {addr}: cannot listen: {e}"))?;
        tracing::info!("live metrics on http://{bound}/metrics");
    }
    let run_id = &started.run_id;
    tracing::info!("run id {run_id}: order ids are ord-{run_id}-000000, ord-{run_id}-000001, …");
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
        &harness.provider,
        contract,
        &order_ids,
        drain_for,
        || harness.merchant_busy(),
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
    let (orders, final_read_error) = match load::fetch_orders(contract, &order_ids).await {
        Ok(o) => (o, None),
        Err(e) => (Vec::new(), Some(e)),
    };
    let (ledger, webhooks) = harness.provider.take_records();
    let events_created = harness.provider.events_created();
    let provider_shed = harness.provider.shed();
    let provider_url = format!("http://{}", harness.provider.addr());
    let origin = harness.origin;
    harness.stop().await;

    let evidence = Evidence {
        ledger: &ledger,
        webhooks: &webhooks,
        checkouts: &loaded.records,
        orders: &orders,
        journeys: &loaded.journeys,
    };
    let reconciliation = verify::reconcile(&evidence);
    let history = History::new(evidence);
    let mut report = report::build(&ReportInputs {
        scenario: &scenario,
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
        generator: Generator {
            shed: std::mem::take(&mut loaded.shed),
            send_lag: std::mem::take(&mut loaded.send_lag),
            stopped_early_at: driven.stopped_early_at,
            pool: loaded.pool,
            aborted_by: driven.aborted_by.take(),
        },
    });
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
