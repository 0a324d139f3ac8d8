//! Integration tests: whole runs in-process through `paychaos::run::run`, and the binary's
//! command line. One binary, one module per concern.

/// Shared helpers: a small scenario template, running it in-process, reading its report.
mod util;

/// The correct reference merchant verifies clean under every fault kind.
mod e2e;

/// Faults land exactly where the seed put them; the same seed gives the same assignment.
mod faults;

/// Load shapes end to end: a capacity run's knee and early stop, recovery after a window.
mod profiles;

/// The `paychaos` binary: validation errors, exit codes, nothing half-written.
mod cli;
