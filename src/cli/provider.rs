//! `paychaos provider`: the mock provider alone on a loopback port, for SDK programs and
//! merchants run by hand. Prints its base URL, webhook secret and how to point an SDK at it,
//! logs one line per request on stdout, serves the control API, runs until Ctrl-C (or
//! SIGTERM), then writes the ledger and webhook log when asked. Faults come from a scenario.

use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Instant;

use anyhow::Context;
use clap::Args;
use tokio_util::sync::CancellationToken;

use crate::chaos::Chaos;
use crate::provider::{
    self, ControlOptions, ProviderConfig, RequestHook, RequestLog, ServeOptions,
};
use crate::scenario::validate::listen_arg;
use crate::scenario::Scenario;

/// The scenario used without `--scenario`: no faults, default webhook settings.
const DEFAULT_SCENARIO: &str =
    "name = \"provider\"\n[load]\nprofile = \"constant\"\nrate = 1\nduration = \"1s\"\n";

/// Options of `paychaos provider`.
#[derive(Debug, Args)]
pub struct ProviderArgs {
    /// Where to listen; a loopback address as `provider.listen` takes it (port 0 picks a
    /// free port).
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:12111", value_parser = listen_arg)]
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
    /// Serve the control API on this loopback address instead of under `/_paychaos/` on the
    /// provider's port.
    #[arg(long, value_name = "ADDR", value_parser = listen_arg)]
    pub control: Option<SocketAddr>,
    /// Require `Authorization: Bearer T` on the control API (the Stripe paths are unaffected).
    #[arg(long, value_name = "T")]
    pub control_token: Option<String>,
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
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    if let Some(seed) = args.seed {
        scenario.seed = seed;
    }
    if let Some(secret) = &args.webhook_secret {
        if !crate::signature::valid_secret(secret) {
            let form = crate::signature::SECRET_FORM;
            // Not echoed: a credential, even a test one.
            eprintln!("error: --webhook-secret: expected {form}");
            return ExitCode::from(2);
        }
        scenario.webhooks.secret.clone_from(secret);
    }
    // paychaos binds loopback only; the control API is never reachable from elsewhere.
    let addrs = [("--listen", Some(args.listen)), ("--control", args.control)];
    for (flag, addr) in addrs {
        if let Some(addr) = addr.filter(|a| !a.ip().is_loopback()) {
            eprintln!(
                "error: {flag} {addr}: expected a loopback address such as 127.0.0.1:0 \
                 (paychaos only listens on loopback)"
            );
            return ExitCode::from(2);
        }
    }
    if args.control_token.as_deref() == Some("") {
        eprintln!("error: --control-token: expected a non-empty token");
        return ExitCode::from(2);
    }
    let runtime = match super::runtime() {
        Ok(r) => r,
        Err(code) => return code,
    };
    match runtime.block_on(serve(scenario, &args)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}

async fn serve(scenario: Scenario, args: &ProviderArgs) -> anyhow::Result<()> {
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
    let secret = scenario.webhooks.secret.clone();
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
    };
    let handle = provider::serve_with(
        listener,
        ProviderConfig {
            chaos: Chaos::new(
                scenario.seed,
                scenario.faults.clone(),
                scenario.webhooks.chaos.clone(),
            ),
            dialect: scenario.provider.dialect,
            hold: scenario.provider.hold,
            webhook_url: args.webhook_url.clone(),
            webhook_secret: secret.clone(),
            webhook_retry: scenario.webhooks.retry_schedule.clone(),
            webhook_timeout: scenario.webhooks.timeout,
            origin: Instant::now(),
        },
        opts,
        shutdown.clone(),
    );
    let control = handle.control_addr().unwrap_or(addr);
    print_usage(
        &mut std::io::stdout().lock(),
        addr,
        control,
        &scenario,
        args,
    )?;
    interrupted().await;
    shutdown.cancel();
    let ledger = handle.ledger();
    let webhooks = handle.webhook_log();
    handle.stopped().await;
    if let Some(path) = &args.ledger_out {
        let json = serde_json::json!({ "ledger": ledger, "webhooks": webhooks });
        let text = serde_json::to_string_pretty(&json)?;
        std::fs::write(path, text).with_context(|| format!("writing {}", path.display()))?;
    }
    eprintln!(
        "paychaos provider: stopped after {} request(s)",
        ledger.len()
    );
    Ok(())
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
    writeln!(out, "Ctrl-C stops it.")?;
    writeln!(out)?;
    out.flush()
}

/// Resolves on Ctrl-C, or on SIGTERM where there is one.
async fn interrupted() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        if let Ok(mut term) = signal(SignalKind::terminate()) {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
            return;
        }
    }
    let _ = tokio::signal::ctrl_c().await;
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
