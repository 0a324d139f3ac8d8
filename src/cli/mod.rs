//! The command line: clap definitions and dispatch to `run` and `validate`. Prints, maps
//! results to exit codes (0 passed, 1 a gate or check failed, 2 the run could not be done),
//! and leaves all logic to the library. `paychaos merchant` is in `merchant_cmd`.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use tokio_util::sync::CancellationToken;

mod merchant_cmd;
/// `paychaos provider`: the mock provider alone.
mod provider;

use crate::report;
use crate::run::{self, RunOptions};
use crate::scenario::Scenario;

/// Load-testing and chaos harness for payment integrations.
#[derive(Debug, Parser)]
#[command(name = "paychaos", version, about, long_about = None)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run a scenario end to end and write its report.
    ///
    /// Starts the mock provider and the reference merchant on 127.0.0.1, drives the load,
    /// drains webhooks and reconciliation, verifies the merchant's books against the
    /// provider's ledger and writes report.json and report.md. Exit code 0 when every gate
    /// and check passes, 1 when one fails, 2 when the run could not be done.
    Run {
        /// The scenario file (TOML).
        file: PathBuf,
        /// Report folder (default: reports/<scenario>-<UTC timestamp>/).
        #[arg(long, value_name = "DIR")]
        out: Option<PathBuf>,
        /// Replaces the scenario's seed.
        #[arg(long, value_name = "N")]
        seed: Option<u64>,
        /// Print only the final summary (no progress line, no start-up lines).
        #[arg(long, short)]
        quiet: bool,
    },
    /// Check a scenario file and report every problem at once; starts nothing.
    Validate {
        /// The scenario file (TOML).
        file: PathBuf,
    },
    /// Serve the reference merchant alone until Ctrl-C, to drive it as an external merchant.
    ///
    /// Listens on --listen (127.0.0.1) and prints its checkout, orders and webhook URLs;
    /// charges go to the provider at --provider-url, and webhooks are verified with
    /// --webhook-secret. Start it, then `paychaos run` a scenario with
    /// `[merchant] kind = "external"` pointing at it.
    Merchant(merchant_cmd::MerchantArgs),
    /// Serve the mock provider alone on 127.0.0.1 until Ctrl-C.
    ///
    /// Prints its base URL and webhook secret; point an SDK or a merchant at it. Faults and
    /// webhook settings come from `--scenario` (none without it). Logs one line per request;
    /// the control API under /_paychaos/ replaces the fault plan at run time, lists the
    /// ledger, events and webhook deliveries, resends an event and resets the state.
    Provider(provider::ProviderArgs),
}

/// Carries out one command and returns the process exit code.
pub fn dispatch(cli: Cli) -> ExitCode {
    match cli.command {
        Command::Merchant(args) => merchant_cmd::run(args),
        Command::Provider(args) => provider::run(args),
        Command::Validate { file } => match Scenario::load(&file) {
            Ok(s) => {
                println!(
                    "{}: ok: scenario '{}', seed {}, {:.0} s of load",
                    file.display(),
                    s.name,
                    s.seed,
                    s.load.profile.duration().as_secs_f64()
                );
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("{e}");
                ExitCode::from(2)
            }
        },
        Command::Run {
            file,
            out,
            seed,
            quiet,
        } => {
            // Checked before any socket is bound.
            let scenario = match Scenario::load(&file) {
                Ok(s) => s,
                Err(e) => {
                    eprintln!("{e}");
                    return ExitCode::from(2);
                }
            };
            let opts = RunOptions { out, seed, quiet };
            let runtime = match runtime() {
                Ok(r) => r,
                Err(code) => return code,
            };
            runtime.block_on(run_command(scenario, opts))
        }
    }
}

/// The multi-threaded runtime every serving command runs on; on failure the error is printed
/// and the exit code (2) returned.
fn runtime() -> Result<tokio::runtime::Runtime, ExitCode> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| {
            eprintln!("error: starting the async runtime: {e}");
            ExitCode::from(2)
        })
}

/// The run's Ctrl-C, listened to from [`CtrlC::listen`] on. `tokio::signal::ctrl_c()` in a
/// spawned task installs its handler only once the task is first polled, and on a busy machine
/// a Ctrl-C pressed right after the run's first line could come before that and be lost.
struct CtrlC {
    #[cfg(unix)]
    sigint: Option<tokio::signal::unix::Signal>,
}

impl CtrlC {
    /// Installs the handler now (on Unix; elsewhere when first awaited).
    fn listen() -> CtrlC {
        CtrlC {
            #[cfg(unix)]
            sigint: tokio::signal::unix::signal(tokio::signal::unix::SignalKind::interrupt()).ok(),
        }
    }

    /// Resolves on the next Ctrl-C; `false` when none can be received.
    async fn next(&mut self) -> bool {
        #[cfg(unix)]
        if let Some(s) = &mut self.sigint {
            return s.recv().await.is_some();
        }
        tokio::signal::ctrl_c().await.is_ok()
    }
}

async fn run_command(scenario: Scenario, opts: RunOptions) -> ExitCode {
    let interrupt = CancellationToken::new();
    let abort = CancellationToken::new();
    {
        let (interrupt, abort) = (interrupt.clone(), abort.clone());
        let mut ctrl_c = CtrlC::listen();
        tokio::spawn(async move {
            if ctrl_c.next().await {
                eprintln!("paychaos: interrupted: stopping the load, draining briefly, writing the report (Ctrl-C again to skip the drain)");
                interrupt.cancel();
                if ctrl_c.next().await {
                    abort.cancel();
                }
            }
        });
    }
    match run::run(scenario, &opts, interrupt, abort).await {
        Ok(outcome) => {
            println!("{}", report::summary::render(&outcome.report));
            println!("report: {}", outcome.dir.display());
            for w in &outcome.report.warnings {
                eprintln!("paychaos: warning: {w}");
            }
            if outcome.report.run.interrupted {
                eprintln!("paychaos: the run was interrupted; the report covers what was measured");
                ExitCode::from(2)
            } else if outcome.report.passed() {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            }
        }
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}
