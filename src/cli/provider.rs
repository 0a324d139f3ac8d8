//! `paychaos provider`: the mock provider alone on a loopback port, for SDK programs and
//! merchants run by hand. Prints its base URL and webhook secret, serves until Ctrl-C (or
//! SIGTERM), then writes the ledger and webhook log when asked. Faults come from a scenario.

use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use anyhow::Context;
use clap::Args;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::chaos::Chaos;
use crate::provider::{self, ProviderConfig};
use crate::scenario::Scenario;

/// The scenario used without `--scenario`: no faults, default webhook settings.
const DEFAULT_SCENARIO: &str =
    "name = \"provider\"\n[load]\nprofile = \"constant\"\nrate = 1\nduration = \"1s\"\n";

/// Options of `paychaos provider`.
#[derive(Debug, Args)]
pub struct ProviderArgs {
    /// Where to listen; a loopback address (port 0 picks a free port).
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:0")]
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
        if !secret.starts_with("whsec_") {
            eprintln!("error: --webhook-secret '{secret}': expected a secret starting with whsec_");
            return ExitCode::from(2);
        }
        scenario.webhooks.secret.clone_from(secret);
    }
    if !args.listen.ip().is_loopback() {
        eprintln!(
            "error: --listen {}: expected a loopback address such as 127.0.0.1:0",
            args.listen
        );
        return ExitCode::from(2);
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: starting the async runtime: {e}");
            return ExitCode::from(2);
        }
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
    let listener = TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("binding {}", args.listen))?;
    let addr = listener.local_addr()?;
    let shutdown = CancellationToken::new();
    let secret = scenario.webhooks.secret.clone();
    let handle = provider::serve(
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
        shutdown.clone(),
    );
    {
        let mut out = std::io::stdout().lock();
        writeln!(
            out,
            "paychaos provider listening on http://{addr} (seed {})",
            scenario.seed
        )?;
        writeln!(out, "webhook secret: {secret}")?;
        match &args.webhook_url {
            Some(url) => writeln!(out, "webhooks to: {url}")?,
            None => writeln!(out, "webhooks: none sent (no --webhook-url)")?,
        }
        out.flush()?;
    }
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
