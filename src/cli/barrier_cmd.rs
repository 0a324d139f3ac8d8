//! `paychaos barrier --shards N`: serves the shards' start barrier on a loopback address
//! ([`crate::run::barrier`]), prints where, and exits once every shard was answered (or on
//! Ctrl-C / SIGTERM).

use std::net::SocketAddr;
use std::process::ExitCode;

use clap::Args;
use tokio_util::sync::CancellationToken;

use super::merchant_cmd::Dur;
use super::term::{out, say};

/// Options of `paychaos barrier`.
#[derive(Debug, Args)]
pub struct BarrierArgs {
    /// How many shards to wait for.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    pub shards: u64,
    /// Where to listen (loopback; port 0 picks a free one, printed at start).
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:12199", value_parser = crate::net::parse_addr)]
    pub listen: SocketAddr,
    /// The common start is this long after the last shard is ready.
    #[arg(long, value_name = "DURATION", default_value = "2s", value_parser = super::merchant_cmd::positive_duration)]
    pub lead: Dur,
}

/// Serves the barrier; exit code 0 once every shard was answered, 2 when it cannot start.
pub fn run(args: BarrierArgs) -> ExitCode {
    let runtime = match super::runtime() {
        Ok(r) => r,
        Err(code) => return code,
    };
    runtime.block_on(async {
        let stop = match super::signal::shutdown_signal() {
            Ok(s) => s,
            Err(e) => {
                say!("error: cannot listen for Ctrl-C and SIGTERM: {e}");
                return ExitCode::from(2);
            }
        };
        let listener = match crate::net::listen(args.listen) {
            Ok(l) => l,
            Err(e) => {
                say!("error: --listen {}: cannot listen: {e}", args.listen);
                return ExitCode::from(2);
            }
        };
        let addr = listener.local_addr().map_or(args.listen, |a| a);
        out!(
            "paychaos barrier: listening on http://{addr} for {} shards",
            args.shards
        );
        let shutdown = CancellationToken::new();
        let served =
            crate::run::barrier::serve(listener, args.shards, args.lead.0, shutdown.clone());
        tokio::select! {
            () = served => ExitCode::SUCCESS,
            s = stop => {
                shutdown.cancel();
                say!("paychaos barrier: {}: stopped before every shard was ready", s.name());
                ExitCode::from(2)
            }
        }
    })
}
