//! The `paychaos` binary: parse the command line and hand it to the library.

use clap::Parser;

fn main() -> std::process::ExitCode {
    paychaos::cli::dispatch(paychaos::cli::Cli::parse())
}
