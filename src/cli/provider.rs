//! `paychaos provider`: the mock provider alone on a loopback port, for SDK programs and
//! merchants run by hand. Prints its base URL, webhook secret and how to point an SDK at it,
//! logs one line per request on stdout, serves the control API, runs until Ctrl-C (or
//! SIGTERM), then writes the ledger and webhook log when asked. Faults come from a scenario.

use std::io::Write;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Instant;

use anyhow::Context;
use clap::Args;
use tokio_util::sync::CancellationToken;

use super::term::say;
use crate::domain::sizing;
use crate::provider::retention::{self, Retention};
use crate::provider::{
    self, ControlOptions, ProviderConfig, RequestHook, RequestLog, ServeOptions,
};
use crate::report::shard_file::{ProviderState, PROVIDER_STATE_FILE};
use crate::scenario::Scenario;

/// The scenario used without `--scenario`: no faults, default webhook settings.
const DEFAULT_SCENARIO: &str =
    "name = \"provider\"\n[load]\nprofile = \"constant\"\nrate = 1\nduration = \"1s\"\n";

/// Options of `paychaos provider`.
#[derive(Debug, Args)]
pub struct ProviderArgs {
    /// Where to listen; a loopback address (port 0 picks a free port).
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:12111", value_parser = crate::net::parse_addr)]
    pub listen: SocketAddr,
    /// Take the faults, webhook chaos, hold, webhook secret and retry schedule from this
    /// scenario (its load, merchant and gates are ignored).
    #[arg(long, value_name = "FILE")]
    pub scenario: Option<PathBuf>,
    /// Deliver webhooks to this URL (none are sent without it; events are still listed).
    #[arg(long, value_name = "URL")]
    pub webhook_url: Option<String>,
    /// Replaces the webhook signing secret (`whsec_…`).
    #[arg(long, value_name = "S")]
    pub webhook_secret: Option<String>,
    /// Replaces the scenario's seed.
    #[arg(long, value_name = "N")]
    pub seed: Option<u64>,
    /// On exit, write `{"ledger":[…],"webhooks":[…]}` (the provider's record) here as JSON.
    #[arg(long, value_name = "FILE")]
    pub ledger_out: Option<PathBuf>,
    /// On shutdown (Ctrl-C or SIGTERM) write the ledger, the webhook log and their counts
    /// into DIR/provider-state.json, for `paychaos merge --provider-state DIR`.
    #[arg(long, value_name = "DIR")]
    pub state_out: Option<PathBuf>,
    /// Run time zero, which fault windows count from: the shards' common start (RFC 3339
    /// UTC or unix seconds, as `paychaos run --start-at`); default: when it starts.
    #[arg(long, value_name = "TIME", value_parser = crate::run::shard::parse_start_at)]
    pub start_at: Option<std::time::SystemTime>,
    /// Serve the control API on this loopback address instead of under `/_paychaos/` on the
    /// provider's port.
    #[arg(long, value_name = "ADDR", value_parser = crate::net::parse_addr)]
    pub control: Option<SocketAddr>,
    /// Serve live Prometheus metrics at http://ADDR/metrics (loopback; port 0 picks a free
    /// one, printed at start).
    #[arg(long, value_name = "ADDR", value_parser = crate::net::parse_addr)]
    pub metrics_listen: Option<SocketAddr>,
    /// Require `Authorization: Bearer T` on the control API (the Stripe paths are unaffected).
    #[arg(long, value_name = "T")]
    pub control_token: Option<String>,
    /// Keep only the newest N payments, and their ledger entries, idempotency keys, events
    /// and webhook attempts in proportion, so that memory stays bounded however long it
    /// runs; 0 keeps everything. The control API's index (`GET /_paychaos/`) counts what
    /// was evicted; `--ledger-out` writes what is kept.
    #[arg(long, value_name = "N", default_value_t = retention::DEFAULT_PAYMENTS)]
    pub retain: usize,
    /// Serve at most N API requests at once; beyond it a request is answered at once,
    /// unread, with the dialect's rate-limit answer (Stripe: 429 `rate_limit`; gateway: code
    /// 503) and `Retry-After: 1`, and counted as shed. Replaces the scenario's
    /// `provider.max_in_flight` (default 4096). The control API is never shed.
    #[arg(long, value_name = "N")]
    pub max_in_flight: Option<std::num::NonZeroUsize>,
    /// Serve as replica K of N behind a load balancer: the ids this replica mints carry its
    /// number (`pi_rK_…`, gateway trade numbers `TrK_…`) so that requests for them can be
    /// routed to it (deploy/lb/). Fault decisions do not depend on it: every replica decides
    /// the same for the same order and attempt.
    #[arg(long, value_name = "K/N")]
    pub replica: Option<crate::provider::replica::Replica>,
    /// No request log: print only the start-up lines.
    #[arg(long, short)]
    pub quiet: bool,
}

/// Runs the provider until interrupted; exit code 0, or 2 when it could not start.
pub fn run(args: ProviderArgs) -> ExitCode {
    let scenario = match &args.scenario {
        Some(path) => Scenario::load(path),
        None => Scenario::from_toml_str(DEFAULT_SCENARIO, "the default provider scenario"),
    };
    let mut scenario = match scenario {
        Ok(s) => s,
        Err(e) => {
            say!("{e}");
            return ExitCode::from(2);
        }
    };
    if let Some(seed) = args.seed {
        scenario.seed = seed;
    }
    if let Some(cap) = args.max_in_flight {
        scenario.provider.max_in_flight = cap;
    }
    if let Some(secret) = &args.webhook_secret {
        if !crate::signature::valid_secret(secret) {
            let form = crate::signature::SECRET_FORM;
            // Not echoed: a credential, even a test one.
            say!("error: --webhook-secret: expected {form}");
            return ExitCode::from(2);
        }
        scenario.webhooks.secret.clone_from(secret);
    }
    // A url that cannot be parsed could never be delivered to: refused, not warned about
    // once while the provider runs on sending nothing.
    if let Some(Err(e)) = args
        .webhook_url
        .as_deref()
        .map(crate::net::LoopbackUrl::parse)
    {
        say!("error: --webhook-url: {e}");
        return ExitCode::from(2);
    }
    if args.control_token.as_deref() == Some("") {
        say!("error: --control-token: expected a non-empty token");
        return ExitCode::from(2);
    }
    // Found now, not at Ctrl-C when the ledger would be lost.
    if let Err(e) = args.ledger_out.as_deref().map_or(Ok(()), ledger_out_usable) {
        say!("error: {e:#}");
        return ExitCode::from(2);
    }
    if let Some(dir) = &args.state_out {
        let usable =
            std::fs::create_dir_all(dir).and_then(|()| crate::run::destination::writable(dir));
        if let Err(e) = usable {
            say!(
                "error: --state-out {}: cannot write in it: {e}",
                dir.display()
            );
            return ExitCode::from(2);
        }
    }
    let runtime = match super::runtime() {
        Ok(r) => r,
        Err(code) => return code,
    };
    match runtime.block_on(serve(scenario, &args)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            say!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}

async fn serve(scenario: Scenario, args: &ProviderArgs) -> anyhow::Result<()> {
    let stop = super::signal::shutdown_signal().context("listening for Ctrl-C and SIGTERM")?;
    let listener =
        crate::net::listen(args.listen).with_context(|| format!("binding {}", args.listen))?;
    let addr = listener.local_addr()?;
    let control_listener = match args.control {
        Some(c) => Some(
            crate::net::listen(c).with_context(|| format!("binding the control address {c}"))?,
        ),
        None => None,
    };
    let shutdown = CancellationToken::new();
    let origin = args.start_at.map_or_else(Instant::now, |at| {
        crate::run::shard::Start::at(at, "at").origin()
    });
    let on_request: Option<RequestHook> = if args.quiet {
        None
    } else {
        Some(Arc::new(|r: &RequestLog| {
            // A closed stdout must not stop the provider.
            let _ = writeln!(std::io::stdout().lock(), "{r}");
        }))
    };
    let opts = ServeOptions {
        control: Some(ControlOptions {
            token: args.control_token.clone(),
            listener: control_listener,
        }),
        on_request,
        ..ServeOptions::default()
    };
    let handle = provider::serve_with(
        listener,
        ProviderConfig {
            // Sized for the retention when there is one, else for a typical session.
            expected_orders: sizing::STANDALONE_ORDERS as u64,
            retain: (args.retain > 0).then_some(Retention {
                payments: args.retain,
            }),
            replica: args.replica,
            ..ProviderConfig::from_scenario(&scenario, args.webhook_url.clone(), origin)
        },
        opts,
        shutdown.clone(),
    );
    let control = handle.control_addr().unwrap_or(addr);
    let metrics = match args.metrics_listen {
        Some(m) => {
            let sources = Arc::new(crate::run::live_metrics::LiveSources::default());
            let _ = sources.provider.set(handle.stats());
            let (bound, _task) = crate::run::live_metrics::start(m, sources, shutdown.clone())
                .with_context(|| format!("binding the metrics address {m}"))?;
            Some(bound)
        }
        None => None,
    };
    // A closed stdout must not stop the provider: scripts may read the first line only.
    let _ = print_usage(
        &mut std::io::stdout().lock(),
        addr,
        control,
        &scenario,
        args,
    );
    if let Some(m) = metrics {
        let _ = writeln!(std::io::stdout().lock(), "metrics: http://{m}/metrics");
    }
    stop.await;
    shutdown.cancel();
    let (ledger, webhooks) = handle.take_records();
    let shed = handle.shed();
    let events_created = handle.events_created();
    handle.stopped().await;
    if let Some(dir) = &args.state_out {
        let state = ProviderState {
            ledger: ledger.clone(),
            webhooks: webhooks.clone(),
            events_created,
            shed,
        };
        let text = serde_json::to_string(&state)?;
        write_ledger(&dir.join(PROVIDER_STATE_FILE), &text)?;
    }
    if let Some(path) = &args.ledger_out {
        let json = serde_json::json!({ "ledger": ledger, "webhooks": webhooks });
        let text = serde_json::to_string_pretty(&json)?;
        write_ledger(path, &text)?;
    }
    say!(
        "paychaos provider: stopped after {} request(s); {shed} shed at the in-flight cap ({})",
        ledger.len(),
        scenario.provider.max_in_flight
    );
    Ok(())
}

/// Whether `--ledger-out` can be written: not a folder, in a folder that takes new files.
fn ledger_out_usable(path: &Path) -> anyhow::Result<()> {
    if path.is_dir() {
        anyhow::bail!(
            "--ledger-out {}: is a folder; expected a file name",
            path.display()
        );
    }
    let folder = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    crate::run::destination::writable(folder).with_context(|| {
        format!(
            "--ledger-out {}: cannot write in {}",
            path.display(),
            folder.display()
        )
    })
}

/// Writes the ledger to `path`, or, when that fails, to a file in the system's temporary
/// folder that the error names: the record of a session is not lost to a late failure.
fn write_ledger(path: &Path, text: &str) -> anyhow::Result<()> {
    let Err(e) = std::fs::write(path, text) else {
        return Ok(());
    };
    let fallback =
        std::env::temp_dir().join(format!("paychaos-ledger-{}.json", std::process::id()));
    match std::fs::write(&fallback, text) {
        Ok(()) => anyhow::bail!(
            "cannot write {}: {e}; the ledger was written to {} instead",
            path.display(),
            fallback.display()
        ),
        Err(e2) => anyhow::bail!(
            "cannot write {}: {e}; writing it to {} instead failed too: {e2}",
            path.display(),
            fallback.display()
        ),
    }
}

/// The start-up lines: the base URL first (scripts read it), the webhook secret, then how to
/// point the SDKs at it and drive the control API.
fn print_usage(
    out: &mut impl Write,
    addr: SocketAddr,
    control: SocketAddr,
    scenario: &Scenario,
    args: &ProviderArgs,
) -> std::io::Result<()> {
    let base = format!("http://{addr}");
    writeln!(
        out,
        "paychaos provider listening on {base} (seed {})",
        scenario.seed
    )?;
    writeln!(out, "webhook secret: {}", scenario.webhooks.secret)?;
    if let Some(r) = args.replica {
        writeln!(
            out,
            "replica {r}: the ids minted here start pi_r{}_ (route them back to this replica)",
            r.index
        )?;
    }
    writeln!(
        out,
        "in-flight cap: {} requests (more are shed with a rate-limit answer and Retry-After)",
        scenario.provider.max_in_flight
    )?;
    match &args.webhook_url {
        Some(url) => writeln!(out, "webhooks to: {url}")?,
        None => writeln!(out, "webhooks: none sent (no --webhook-url)")?,
    }
    let (auth, bearer) = match args.control_token {
        Some(_) => (
            ", bearer token required",
            " -H 'Authorization: Bearer <token>'",
        ),
        None => ("", ""),
    };
    let faults = format!("http://{control}/_paychaos/faults");
    writeln!(
        out,
        "control API: http://{control}/_paychaos/ (loopback only{auth})"
    )?;
    writeln!(out)?;
    writeln!(out, "Point your Stripe SDK at it (any sk_test_ key works):")?;
    writeln!(out, "  stripe-python  stripe.api_base = \"{base}\"")?;
    writeln!(
        out,
        "                 or StripeClient(\"sk_test_x\", base_addresses={{\"api\": \"{base}\"}})"
    )?;
    writeln!(
        out,
        "  stripe-node    new Stripe(\"sk_test_x\", {{host: \"{}\", port: {}, protocol: \"http\"}})",
        addr.ip(),
        addr.port()
    )?;
    writeln!(out, "Switch a fault on, then off again:")?;
    for rate in [1, 0] {
        writeln!(
            out,
            "  curl -X PATCH{bearer} -H 'Content-Type: application/json' {faults} -d '{{\"faults\":{{\"insufficient_funds\":{rate}}}}}'"
        )?;
    }
    writeln!(
        out,
        "Ledger and webhook log: curl{bearer} 'http://{control}/_paychaos/ledger?order_id=ID'"
    )?;
    if !args.quiet {
        writeln!(
            out,
            "Requests follow, one a line: time (UTC), method, path, status, fault, order, latency."
        )?;
    }
    writeln!(out, "Ctrl-C (or SIGTERM) stops it.")?;
    writeln!(out)?;
    out.flush()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_scenario_is_valid_and_injects_nothing() {
        let s = Scenario::from_toml_str(DEFAULT_SCENARIO, "default").unwrap();
        assert_eq!(s.faults, crate::chaos::FaultPlan::default());
        assert!(s.webhooks.secret.starts_with("whsec_"));
    }
}
