//! Integration tests: whole runs in-process through `paychaos::run::run`, and the binary's
//! command line. One binary, one module per concern.

/// Shared helpers: a small scenario template, running it in-process, reading its report.
mod util;

/// A distributed run on one machine: shards, a provider and a merchant served alone, merged.
mod shards;

/// The distributed run with the provider as two replicas behind the shipped nginx
/// configuration: merged, the single run still (skips, saying so, without nginx).
mod shards_lb;

/// The correct reference merchant verifies clean under every fault kind.
mod e2e;

/// Faults land exactly where the seed put them; the same seed gives the same assignment.
mod faults;

/// Each order keeps its story: ids unique per run under the same faults, `history.jsonl`,
/// and the causal chain behind each finding.
mod history;

/// The gateway dialect end to end: the reference merchant paying by out_trade_no and
/// receiving signed form notifications verifies clean under every fault and all chaos.
mod gateway;

/// Each planted flaw of the reference merchant fails exactly its check; the correct
/// merchant verifies clean over 20 seeds.
mod flaws;

/// Customer journeys through 3D Secure challenges: the journey flaws each fail exactly
/// their check, the correct merchant verifies clean with every journey at once.
mod journeys;

/// The verdict's former false alarms, run whole: the correct merchant where it was blamed.
mod verdict;

/// Load shapes end to end: a capacity run's knee and early stop, recovery after a window.
mod profiles;

/// The live `/metrics` endpoint of `paychaos run` and `paychaos provider`, scraped while
/// they serve.
mod live_metrics;

/// The `paychaos` binary: validation errors, exit codes, nothing half-written.
mod cli;

/// Limits on what is read (scenario file size and kind, window count) and the rules inputs
/// share (values too large, webhook secrets, listen addresses).
mod limits;

/// `paychaos merchant` in its own process, driven as an external merchant through the
/// contract; the run's refusals when the provider port is taken or the merchant is absent.
mod external;

/// `run --junit` and `$GITHUB_STEP_SUMMARY`: the files a CI job reads, and a summary that
/// cannot be written only warned about.
mod ci_outputs;

/// `paychaos compare` on report folders and `run --baseline`: the exit codes 0, 1 and 2,
/// and the comparison a run leaves in its folder.
mod compare;

/// `report.html`: one self-contained page with the charts and their data; in headless
/// Chromium, a failed check and its first discrepancy on the first screen.
mod report_html;

/// `paychaos provider` in its own process: the request log on stdout, faults switched
/// through the control API, the control token and port, Ctrl-C exiting 0.
mod provider_cli;

/// The bad-input catalogue: scenario files, flags, provider, control API and merchant
/// requests that must be refused, each naming the input and the accepted form.
mod bad_input;

/// The crate's modules depend on each other one way (the order is stated in the file).
mod layering;

/// `[[thresholds]]` in whole runs: judged after the run, and an `abort_on_fail` one stopping
/// the load early.
mod thresholds;

/// The failure-rate alarm drill: expected alarms, the alert receiver and the merchant's
/// monitor, compared in the report and gated.
mod alarm;
/// Card testers: the merchant's velocity limits, the provider's rules, the planted flaw
/// `no_velocity_limit` and the report's section.
mod card_testers;

/// Backup payment channels: the emergency scenario verifies clean with failover and
/// fail-back, and failing over an unknown outcome is charged on two channels.
mod failover;
/// Provider replicas behind the shipped nginx and HAProxy configurations: ids, keys and
/// bodies routed to their owner (each skips, saying so, without its balancer).
mod lb;
/// No secret and no card number in any artefact of a run.
mod secrets;

/// `PAYCHAOS_NETWORK=cluster`: the one opt-in beyond loopback, refused without it.
mod network;
