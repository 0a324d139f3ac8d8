//! Runs one scenario end to end: bind loopback listeners, start the provider and the
//! reference merchant, drive the load, drain, verify, write the report. Glue only: every
//! decision lives in the part that owns it. An external merchant is not started: the run
//! says what it must be configured with and waits for it to answer.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use anyhow::Context;
use tokio_util::sync::CancellationToken;

use crate::chaos::Chaos;
use crate::domain::{CheckoutAnswer, OrderSnapshot, OrderStatus};
use crate::load::{self, Contract, LiveCounters, LoadPlan};
use crate::merchant::{self, MerchantConfig};
use crate::progress;
use crate::provider::{self, ProviderConfig, ProviderHandle};
use crate::report::{self, Generator, ReportInputs, RunReport};
use crate::scenario::{Dialect, ExternalSpec, MerchantSpec, Scenario};
use crate::verify::{self, Evidence};

/// The API key the embedded merchant presents to the provider.
const API_KEY: &str = "sk_test_paychaos";

/// How long an external merchant has to accept a connection before the run gives up.
const MERCHANT_READY_WAIT: Duration = Duration::from_secs(5);

/// How a run is asked to behave, beyond the scenario.
#[derive(Clone, Debug, Default)]
pub struct RunOptions {
    /// Write the report here instead of `reports/<scenario>-<UTC timestamp>/`.
    pub out: Option<PathBuf>,
    /// Replaces the scenario's seed.
    pub seed: Option<u64>,
    /// Print nothing while running (the caller prints the summary).
    pub quiet: bool,
}

/// A finished run: the report and where it was written.
#[derive(Debug)]
pub struct RunOutcome {
    pub report: RunReport,
    pub dir: PathBuf,
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
    // The report's folder must be writable before a long rehearsal starts, not after it;
    // one made here is removed again if the run fails before writing into it.
    let folder = opts.out.clone().unwrap_or_else(|| PathBuf::from("reports"));
    let existed = folder.exists();
    std::fs::create_dir_all(&folder)
        .with_context(|| format!("cannot create the report folder {}", folder.display()))?;
    let result = run_scenario(scenario, opts, interrupt, abort).await;
    if result.is_err() && !existed {
        let _ = std::fs::remove_dir(&folder); // only if still empty
    }
    result
}

async fn run_scenario(
    scenario: Scenario,
    opts: &RunOptions,
    interrupt: CancellationToken,
    abort: CancellationToken,
) -> anyhow::Result<RunOutcome> {
    let started_at = SystemTime::now();

    let listen = scenario.provider.listen;
    let plistener = crate::net::listen(listen).with_context(|| {
        format!("cannot listen on {listen} (provider.listen; is another process using that port?)")
    })?;
    let paddr = plistener.local_addr()?;
    // The embedded merchant gets a listener of its own; an external one must already be
    // listening, and is told what to be configured with.
    let (mlistener, contract, webhook_url) = match &scenario.merchant {
        MerchantSpec::Reference(_) => {
            let l = crate::net::listen(SocketAddr::from(([127, 0, 0, 1], 0)))
                .context("binding the merchant's listener")?;
            let base = format!("http://{}", l.local_addr()?);
            let webhook_url = format!(
                "{base}{}",
                merchant::webhook_path(scenario.provider.dialect)
            );
            (Some(l), Contract::reference(&base), webhook_url)
        }
        MerchantSpec::External(ext) => {
            if !opts.quiet {
                eprint!("{}", external_briefing(&scenario, paddr, ext));
            }
            tokio::select! {
                ready = load::wait_for_merchant(&ext.contract, MERCHANT_READY_WAIT) => {
                    ready.map_err(|e| anyhow::anyhow!("external merchant: {e}"))?;
                }
                _ = interrupt.cancelled() => {
                    anyhow::bail!("interrupted while waiting for the external merchant to answer")
                }
            }
            (None, ext.contract.clone(), ext.webhook_url.clone())
        }
    };
    // The servers outlive the load so that webhooks and reconciliation can settle.
    let servers = CancellationToken::new();
    let origin = Instant::now();

    let provider = provider::serve(
        plistener,
        ProviderConfig {
            chaos: Chaos::new(
                scenario.seed,
                scenario.faults.clone(),
                scenario.webhooks.chaos.clone(),
            ),
            dialect: scenario.provider.dialect,
            hold: scenario.provider.hold,
            webhook_url: Some(webhook_url),
            webhook_secret: scenario.webhooks.secret.clone(),
            webhook_retry: scenario.webhooks.retry_schedule.clone(),
            webhook_timeout: scenario.webhooks.timeout,
            origin,
        },
        servers.child_token(),
    );
    let merchant = match (&scenario.merchant, mlistener) {
        (MerchantSpec::Reference(mspec), Some(mlistener)) => Some(merchant::serve(
            mlistener,
            MerchantConfig {
                provider_url: format!("http://{paddr}"),
                dialect: scenario.provider.dialect,
                api_key: API_KEY.into(),
                webhook_secret: scenario.webhooks.secret.clone(),
                provider_timeout: mspec.provider_timeout,
                max_retries: mspec.max_retries,
                retry_backoff: mspec.retry_backoff,
                reconcile_every: mspec.reconcile_every,
                pending_grace: mspec.pending_grace,
                flaws: mspec.flaws,
                breaker: mspec.breaker,
            },
            servers.child_token(),
        )),
        _ => None,
    };
    if !opts.quiet {
        eprintln!(
            "paychaos: scenario '{}' seed {}: provider http://{paddr}, merchant {}",
            scenario.name, scenario.seed, contract.checkout.url
        );
    }

    let stages = load::stages(&scenario.load.profile);
    let plan = LoadPlan {
        stages,
        max_in_flight: scenario.load.max_in_flight.get(),
        request_timeout: scenario.load.request_timeout,
        seed: scenario.seed,
        orders: scenario.orders.clone(),
    };
    let schedule = load::Schedule::new(&plan.stages);
    let planned_per_second = report::planned_per_second(&schedule);
    let load_duration = scenario.load.profile.duration();

    // Live figures feed the progress line and a capacity run's stop condition, which stops
    // the load through its own token (a child of `interrupt`, so Ctrl-C still reaches it).
    let capacity = scenario.capacity.clone();
    let slo_p99 = capacity
        .as_ref()
        .map(|c| Duration::from_secs_f64(c.p99_ms / 1000.0));
    let live = Arc::new(LiveCounters::with_threshold(slo_p99));
    let load_stop = interrupt.child_token();
    let load_done = CancellationToken::new();
    let watcher = capacity.map(|c| {
        tokio::spawn(load::stop::watch(
            Arc::clone(&live),
            c,
            plan.request_timeout,
            tokio::time::Instant::now(),
            load_stop.clone(),
            load_done.clone(),
        ))
    });
    let shown = (!opts.quiet).then(|| {
        tokio::spawn(progress::run(
            Arc::clone(&live),
            schedule.duration(),
            scenario.faults.windows.clone(),
            load_done.clone(),
        ))
    });
    let mut loaded =
        load::drive_live(&plan, &contract, origin, load_stop, Some(Arc::clone(&live))).await;
    load_done.cancel();
    let broke = match watcher {
        Some(w) => w.await.ok().flatten(),
        None => None,
    };
    if let Some(p) = shown {
        let _ = p.await;
    }
    // A stop the watcher asked for is the end of a capacity run, not an interruption.
    let stopped_early_at = (broke.is_some() && loaded.interrupted && !interrupt.is_cancelled())
        .then_some(loaded.elapsed);
    if stopped_early_at.is_some() {
        loaded.interrupted = false;
    }
    // What the schedule planned for the part of it that ran.
    let (planned, target_rate) = match stopped_early_at {
        Some(at) if !at.is_zero() => {
            let n = schedule.planned_before(at);
            (n, n as f64 / at.as_secs_f64())
        }
        _ => (
            schedule.planned(),
            schedule.planned() as f64 / load_duration.as_secs_f64(),
        ),
    };
    if !opts.quiet {
        if let Some(i) = broke.filter(|_| stopped_early_at.is_some()) {
            eprintln!(
                "paychaos: capacity step {} broke the SLO; load stopped at {:.1} s",
                i + 1,
                loaded.elapsed.as_secs_f64()
            );
        }
        eprintln!("paychaos: load done; draining webhooks and reconciliation");
    }

    let order_ids: Vec<String> = loaded
        .records
        .iter()
        .filter(|r| r.answer != CheckoutAnswer::Shed)
        .map(|r| r.order_id.clone())
        .collect();
    // An interrupted run still gets a short drain: what is in flight settles, and the
    // report says what happened to it.
    let drain_for = if loaded.interrupted {
        scenario.drain.timeout.min(Duration::from_secs(3))
    } else {
        scenario.drain.timeout
    };
    let drained = drain(
        &provider, &contract, &order_ids, drain_for, &interrupt, &abort,
    )
    .await;
    // A Ctrl-C during the drain still makes the run an interrupted one.
    loaded.interrupted |= interrupt.is_cancelled() && stopped_early_at.is_none();
    // Unreadable final states leave every order `missing`; the report is still written (it
    // says so) and the run then ends as one that could not be done.
    let (orders, final_read_error) = match load::fetch_orders(&contract, &order_ids).await {
        Ok(o) => (o, None),
        Err(e) => (Vec::new(), Some(e)),
    };
    let ledger = provider.ledger();
    let webhooks = provider.webhook_log();
    let events_created = provider.events_created();
    servers.cancel();
    provider.stopped().await;
    if let Some(merchant) = merchant {
        merchant.stopped().await;
    }

    let evidence = Evidence {
        ledger: &ledger,
        webhooks: &webhooks,
        checkouts: &loaded.records,
        orders: &orders,
    };
    let reconciliation = verify::reconcile(&evidence);
    let report = report::build(&ReportInputs {
        scenario: &scenario,
        evidence,
        reconciliation: &reconciliation,
        recorder: &loaded.recorder,
        target_rate,
        planned,
        planned_per_second,
        load_elapsed: loaded.elapsed,
        run_duration: origin.elapsed(),
        started_at,
        interrupted: loaded.interrupted,
        drained,
        events_created,
        generator: Generator {
            stages: plan.stages.clone(),
            send_lag: std::mem::take(&mut loaded.send_lag),
            stopped_early_at,
        },
    });
    let mut report = report;
    if let Some(e) = &final_read_error {
        report.warnings.push(format!(
            "the merchant's final order states could not be read ({e}): every order counts as missing"
        ));
    }
    let dir = match &opts.out {
        Some(d) => d.clone(),
        None => Path::new("reports").join(report.dir_name()),
    };
    report::write_all(&report, &dir)
        .with_context(|| format!("writing the report to {}", dir.display()))?;
    if let Some(e) = final_read_error {
        anyhow::bail!(
            "reading the merchant's final order states: {e} (the report in {} covers what was measured)",
            dir.display()
        );
    }
    Ok(RunOutcome { report, dir })
}

/// What an external merchant must be configured with, for the person running it.
fn external_briefing(scenario: &Scenario, provider: SocketAddr, ext: &ExternalSpec) -> String {
    let listen = crate::net::LoopbackUrl::parse(&ext.contract.checkout.url).map_or_else(
        |_| "<host:port of the checkout url>".into(),
        |u| u.addr().to_string(),
    );
    let (shape, link, flag) = match scenario.provider.dialect {
        Dialect::Stripe => (
            format!("Stripe-shaped; any bearer key such as {API_KEY} is accepted"),
            "every charge must carry metadata[order_id] = the order_id of its checkout",
            "",
        ),
        Dialect::Gateway => (
            "the gateway dialect: POST /gateway/pay, GET /gateway/query, POST /gateway/refund; \
             requests may be signed with the signing secret"
                .to_string(),
            "every pay's out_trade_no must be the order_id of its checkout",
            " --dialect gateway",
        ),
    };
    format!(
        "paychaos: external merchant: it must be configured with\n  \
         provider API base url   http://{provider}  ({shape})\n  \
         webhook endpoint        {webhook_url}  (the provider posts signed events there)\n  \
         webhook signing secret  {secret}\n  \
         and {link}\n\
         paychaos: the reference merchant as external: paychaos merchant --provider-url \
         http://{provider} --webhook-secret {secret}{flag} --listen {listen}\n",
        webhook_url = ext.webhook_url,
        secret = scenario.webhooks.secret,
    )
}

/// Waits until the provider is idle (late charges executed, webhook deliveries done) and no
/// order is pending at the merchant, or until `limit` passes (at most 3 s more once
/// `interrupt` fires; at once on `abort`). Returns whether everything settled.
async fn drain(
    provider: &ProviderHandle,
    contract: &Contract,
    order_ids: &[String],
    limit: Duration,
    interrupt: &CancellationToken,
    abort: &CancellationToken,
) -> bool {
    let mut deadline = tokio::time::Instant::now() + limit;
    // Settled on two polls in a row: work the last acknowledgement started (a refund of a
    // late payment) has then reached the provider.
    let mut settled_before = false;
    loop {
        let now_settled = provider.idle()
            && matches!(
                load::fetch_orders(contract, order_ids).await,
                Ok(orders) if settled(&orders, order_ids.len())
            );
        if now_settled && settled_before {
            return true;
        }
        settled_before = now_settled;
        if interrupt.is_cancelled() {
            deadline = deadline.min(tokio::time::Instant::now() + Duration::from_secs(3));
        }
        tokio::select! {
            _ = tokio::time::sleep_until(deadline) => return false,
            _ = abort.cancelled() => return false,
            _ = tokio::time::sleep(Duration::from_millis(100)) => {}
        }
    }
}

/// Every sent order is known to the merchant and none is pending.
fn settled(orders: &[OrderSnapshot], expected: usize) -> bool {
    orders.len() >= expected && orders.iter().all(|o| o.status != OrderStatus::Pending)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_briefing_names_everything_an_external_merchant_needs() {
        let scenario = Scenario::from_toml_str(
            "name = \"x\"\n[load]\nprofile = \"constant\"\nrate = 1\nduration = \"1s\"\n\
             [webhooks]\nsecret = \"whsec_brief\"",
            "t",
        )
        .unwrap();
        let ext = ExternalSpec {
            webhook_url: "http://127.0.0.1:8080/hooks".into(),
            contract: Contract::reference("http://127.0.0.1:8080"),
        };
        let text = external_briefing(&scenario, "127.0.0.1:12111".parse().unwrap(), &ext);
        for needle in [
            "http://127.0.0.1:12111 ",
            "sk_test_",
            "http://127.0.0.1:8080/hooks",
            "whsec_brief",
            "metadata[order_id]",
            "--listen 127.0.0.1:8080\n",
        ] {
            assert!(text.contains(needle), "{needle} missing from:\n{text}");
        }
    }
}
