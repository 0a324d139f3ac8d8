//! `paychaos merge DIR... --out DIR`: checks the flags, runs [`crate::run::merge`], prints the
//! summary and maps the result to the exit code (shards that do not belong together: 2).

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;

use super::term::{out, say};
use crate::report;
use crate::run::merge::{self, MergeOptions};

/// Options of `paychaos merge`.
#[derive(Debug, Args)]
pub struct MergeArgs {
    /// The report folders of the shards (`paychaos run --shard I/N --out DIR`), all N of them.
    #[arg(required = true, value_name = "DIR")]
    pub shards: Vec<PathBuf>,
    /// Report folder of the merged run (default: a new reports/<scenario>-<UTC timestamp>/).
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Replace the report an earlier merge left in --out.
    #[arg(long, requires = "out")]
    pub force: bool,
    /// A provider's `--state-out` folder (repeatable: one per replica); every
    /// provider-state*.json in it is read.
    #[arg(long = "provider-state", value_name = "DIR", required = true)]
    pub provider_state: Vec<PathBuf>,
    /// The merchant's final order states: its bulk export URL, or a file holding that
    /// export's answer (default: read through the scenario's merchant contract).
    #[arg(long, value_name = "URL|FILE")]
    pub merchant_orders: Option<String>,
    /// Also write the JUnit XML to FILE.
    #[arg(long, value_name = "FILE")]
    pub junit: Option<PathBuf>,
}

/// Merges; exit code 0 passed, 1 a gate or check failed, 2 the shards could not be merged.
pub fn run(args: MergeArgs) -> ExitCode {
    let runtime = match super::runtime() {
        Ok(r) => r,
        Err(code) => return code,
    };
    let opts = MergeOptions {
        shards: args.shards,
        out: args.out,
        force: args.force,
        provider_state: args.provider_state,
        merchant_orders: args.merchant_orders,
    };
    match runtime.block_on(merge::merge(&opts)) {
        Ok((report, dir)) => {
            out!("{}", report::summary::render(&report));
            out!("report: {}", dir.display());
            for w in &report.warnings {
                say!("paychaos: warning: {w}");
            }
            if let Err(code) = super::ci_outputs(&report, args.junit.as_deref()) {
                return code;
            }
            ExitCode::from(report.exit_code)
        }
        Err(e) => {
            say!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}
