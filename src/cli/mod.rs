//! The command line: clap definitions and dispatch to `run` and `validate`. Prints, maps
//! results to exit codes (0 passed, 1 a gate or check failed, 2 the run could not be done),
//! and leaves all logic to the library. `paychaos merchant` is in `merchant_cmd`,
//! `paychaos compare` (and the reading of `run --baseline`) in `compare_cmd`; `signal`
//! listens for Ctrl-C and SIGTERM; `term` writes lines and log events to the terminal.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use tokio_util::sync::CancellationToken;

/// `paychaos barrier`: the start barrier of the shards.
mod barrier_cmd;
mod compare_cmd;
mod merchant_cmd;
/// `paychaos merge`: the shards' report folders joined into one.
mod merge_cmd;
/// `paychaos provider`: the mock provider alone.
mod provider;
mod signal;
mod term;

use crate::report;
use crate::run::{self, RunOptions};
use crate::scenario::Scenario;
use term::{out, say};
use tracing_subscriber::filter::LevelFilter;

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
        /// Report folder (default: a new reports/<scenario>-<UTC timestamp>/).
        #[arg(long, value_name = "DIR")]
        out: Option<PathBuf>,
        /// Replace the report an earlier run left in --out (refused without it).
        #[arg(long, requires = "out")]
        force: bool,
        /// Replaces the scenario's seed.
        #[arg(long, value_name = "N")]
        seed: Option<u64>,
        /// Print only the final summary (no progress line, no start-up lines).
        #[arg(long, short)]
        quiet: bool,
        /// Also write the JUnit XML (the report folder's junit.xml) to FILE.
        #[arg(long, value_name = "FILE")]
        junit: Option<PathBuf>,
        /// Compare the run with this earlier report (a report folder or its report.json): a
        /// regression fails the run; compare.md and compare.json join the report folder.
        #[arg(long, value_name = "DIR")]
        baseline: Option<PathBuf>,
        #[command(flatten)]
        tolerance: compare_cmd::ToleranceArgs,
        /// Serve live Prometheus metrics at http://ADDR/metrics while the run lasts (loopback;
        /// port 0 picks a free one, printed at start).
        #[arg(long, value_name = "ADDR", value_parser = crate::net::parse_addr)]
        metrics_listen: Option<std::net::SocketAddr>,
        /// Replace a scenario key before validation: `--set load.rate=200`,
        /// `--set faults.windows[0].rate=0.5` (repeatable; the report lists them).
        #[arg(long = "set", value_name = "KEY=VALUE")]
        set: Vec<String>,
        /// Send only shard I of N of the schedule: the orders whose index ≡ I (mod N),
        /// counted from 0 (replaces `[shard]`). Shards need a common --start-at or --barrier,
        /// or a pinned `[load] run_id`; `paychaos merge` joins their report folders.
        #[arg(long, value_name = "I/N", value_parser = crate::scenario::Shard::parse)]
        shard: Option<crate::scenario::Shard>,
        /// Start the schedule at this instant (RFC 3339 UTC, e.g. 2026-12-02T03:00:00Z, or
        /// unix seconds): the common start of the shards; their run id derives from it.
        #[arg(long, value_name = "TIME", value_parser = crate::run::shard::parse_start_at, conflicts_with = "barrier")]
        start_at: Option<std::time::SystemTime>,
        /// Report ready to the coordinator at URL (`paychaos barrier`) and start when it
        /// answers with the common start; this host's clock offset is measured on the way.
        #[arg(long, value_name = "URL")]
        barrier: Option<String>,
    },
    /// Join the report folders of the shards of one run: add their histograms exactly, join
    /// ledgers, webhook logs and checkout records, read the merchant's final order states,
    /// verify and judge every gate and threshold on the merged data, write the report folder.
    ///
    /// Exit code 0 when every gate and check passes, 1 when one fails, 2 when the shards
    /// cannot be merged (another scenario, seed, run or count; a shard missing or twice).
    Merge(merge_cmd::MergeArgs),
    /// Serve the start barrier of N shards: answer each shard's ready call once all N are
    /// ready, with one common start a little later, then exit.
    Barrier(barrier_cmd::BarrierArgs),
    /// Compare two runs' reports: per metric the base, the new value, the delta and a verdict.
    ///
    /// BASE and NEW are report folders or report.json files. Rates are weighed with a
    /// two-proportion z-test (95 %), latency with --latency-tolerance above
    /// --latency-floor-ms, check counts strictly. Exit code 1 when a metric regressed, 0
    /// otherwise (a plan digest mismatch is a warning), 2 when a report cannot be read.
    Compare(compare_cmd::CompareArgs),
    /// Check a scenario file and report every problem at once; starts nothing.
    Validate {
        /// The scenario file (TOML).
        file: PathBuf,
        /// Replace a scenario key before validation: `--set load.rate=200`,
        /// `--set faults.windows[0].rate=0.5` (repeatable).
        #[arg(long = "set", value_name = "KEY=VALUE")]
        set: Vec<String>,
    },
    /// Serve the reference merchant alone until Ctrl-C or SIGTERM, to drive it as an external
    /// merchant.
    ///
    /// Listens on --listen (127.0.0.1) and prints its checkout, orders and webhook URLs;
    /// charges go to the provider at --provider-url, and webhooks are verified with
    /// --webhook-secret. Start it, then `paychaos run` a scenario with
    /// `[merchant] kind = "external"` pointing at it.
    Merchant(merchant_cmd::MerchantArgs),
    /// Serve the mock provider alone on 127.0.0.1 until Ctrl-C or SIGTERM.
    ///
    /// Prints its base URL and webhook secret; point an SDK or a merchant at it. Faults and
    /// webhook settings come from `--scenario` (none without it). Logs one line per request;
    /// the control API under /_paychaos/ replaces the fault plan at run time, lists the
    /// ledger, events and webhook deliveries, resends an event and resets the state.
    Provider(provider::ProviderArgs),
}

/// Carries out one command and returns the process exit code.
pub fn dispatch(cli: Cli) -> ExitCode {
    // `run --quiet` keeps warnings; every other command shows the run-of-the-mill lines too.
    let quiet = matches!(cli.command, Command::Run { quiet: true, .. });
    term::init_logging(if quiet {
        LevelFilter::WARN
    } else {
        LevelFilter::INFO
    });
    // Refused before anything starts: an unknown value must not fall back to loopback and
    // leave a pod unable to reach anything without saying why.
    if let Err(e) = crate::net::network::check_env() {
        say!("error: {e}");
        return ExitCode::from(2);
    }
    match cli.command {
        Command::Merchant(args) => merchant_cmd::run(args),
        Command::Provider(args) => provider::run(args),
        Command::Compare(args) => compare_cmd::run(args),
        Command::Merge(args) => merge_cmd::run(args),
        Command::Barrier(args) => barrier_cmd::run(args),
        Command::Validate { file, set } => match Scenario::load_with(&file, &set) {
            Ok(s) => {
                out!(
                    "{}: ok: scenario '{}', seed {}, {:.0} s of load",
                    file.display(),
                    s.name,
                    s.seed,
                    s.load.profile.duration().as_secs_f64()
                );
                ExitCode::SUCCESS
            }
            Err(e) => {
                say!("{e}");
                ExitCode::from(2)
            }
        },
        Command::Run {
            file,
            out,
            force,
            seed,
            quiet,
            junit,
            baseline,
            tolerance,
            metrics_listen,
            set,
            shard,
            start_at,
            barrier,
        } => {
            // Checked before any socket is bound.
            let scenario = match Scenario::load_with(&file, &set) {
                Ok(s) => s,
                Err(e) => {
                    say!("{e}");
                    return ExitCode::from(2);
                }
            };
            // Read before the run too: a bad baseline is found before anything is written.
            let baseline = match baseline.map(|b| compare_cmd::baseline(&b, tolerance)) {
                None => None,
                Some(Ok(b)) => Some(b),
                Some(Err(code)) => return code,
            };
            let opts = RunOptions {
                out,
                force,
                seed,
                quiet,
                baseline,
                metrics_listen,
                shard,
                start: start_at.map_or_else(run::shard::Start::default, |t| {
                    run::shard::Start::at(t, "at")
                }),
                scenario_text: std::fs::read_to_string(&file).ok(),
            };
            let runtime = match runtime() {
                Ok(r) => r,
                Err(code) => return code,
            };
            let barrier = barrier.map(|url| (url, shard.unwrap_or(scenario.shard)));
            runtime.block_on(run_command(scenario, opts, junit, barrier))
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
            say!("error: starting the async runtime: {e}");
            ExitCode::from(2)
        })
}

async fn run_command(
    scenario: Scenario,
    mut opts: RunOptions,
    junit: Option<PathBuf>,
    barrier: Option<(String, crate::scenario::Shard)>,
) -> ExitCode {
    let interrupt = CancellationToken::new();
    let abort = CancellationToken::new();
    // Listening starts before any socket is bound: a SIGTERM from then on interrupts the run
    // like Ctrl-C instead of killing it with an empty report folder.
    let mut signals = match signal::Signals::listen() {
        Ok(s) => s,
        Err(e) => {
            say!("error: cannot listen for Ctrl-C and SIGTERM: {e}");
            return ExitCode::from(2);
        }
    };
    {
        let (interrupt, abort) = (interrupt.clone(), abort.clone());
        tokio::spawn(async move {
            let stop = signals.next().await;
            term::err_line_after_signal(format_args!(
                "paychaos: {}: stopping the load, draining briefly, writing the report \
                 ({} again to skip the drain)",
                stop.name(),
                stop.name()
            ));
            interrupt.cancel();
            signals.next().await;
            abort.cancel();
        });
    }
    // The wait at the barrier can be long: a signal ends it like the run (exit 2, nothing written).
    if let Some((url, shard)) = barrier {
        tokio::select! {
            ready = run::barrier::ready(&url, shard) => match ready {
                Ok(start) => opts.start = start,
                Err(e) => {
                    say!("error: --barrier {url}: {e}");
                    return ExitCode::from(2);
                }
            },
            () = interrupt.cancelled() => {
                say!("error: --barrier {url}: interrupted while waiting for the other shards");
                return ExitCode::from(2);
            }
        }
    }
    match run::run(scenario, &opts, interrupt, abort).await {
        Ok(outcome) => {
            out!("{}", report::summary::render(&outcome.report));
            out!("report: {}", outcome.dir.display());
            if let Some(c) = &outcome.comparison {
                compare_cmd::print(c, &outcome.dir);
            }
            for w in &outcome.report.warnings {
                say!("paychaos: warning: {w}");
            }
            if let Err(code) = ci_outputs(&outcome.report, junit.as_deref()) {
                return code;
            }
            if outcome.report.verdict == report::Verdict::Interrupted {
                say!("paychaos: the run was interrupted; the report covers what was measured");
            }
            // The report's own exit code, so report.json and the process never disagree.
            ExitCode::from(outcome.report.exit_code)
        }
        Err(e) => {
            say!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}

/// What a CI job asked for besides the report folder: the `--junit` copy (unwritable: exit 2,
/// as for any report file) and the step summary when `GITHUB_STEP_SUMMARY` names a file
/// (unwritable: only a warning, the run being done and reported).
fn ci_outputs(report: &report::RunReport, junit: Option<&std::path::Path>) -> Result<(), ExitCode> {
    if let Some(path) = junit {
        if let Err(e) = report::junit::write_file(report, path) {
            eprintln!(
                "error: writing the JUnit report to {} (--junit): {e}",
                path.display()
            );
            return Err(ExitCode::from(2));
        }
    }
    if let Some(path) = std::env::var_os("GITHUB_STEP_SUMMARY").filter(|p| !p.is_empty()) {
        let path = PathBuf::from(path);
        if let Err(e) = report::step_summary::append(report, &path) {
            eprintln!(
                "paychaos: warning: appending the step summary to {} (GITHUB_STEP_SUMMARY): {e}",
                path.display()
            );
        }
    }
    Ok(())
}
