//! paychaos: a load-testing and chaos harness for payment integrations.
//!
//! One run starts a mock payment provider that injects seeded faults, drives a merchant
//! integration with an open-loop load, waits for callbacks to settle, checks the merchant's
//! books against the provider's ledger, and writes a report a person can read and a CI job
//! can gate on.
//!
//! # Layout
//! - [`domain`]: payment terms, the fault catalogue and the records the verifier reads.
//! - [`scenario`]: the TOML format, parsed then validated into checked types (plain data:
//!   the merchant contract, the flaw set, the breaker and dialect among them).
//! - [`chaos`]: fault rates and windows, and their seeded, keyed decisions.
//! - [`provider`]: the mock provider: server, ledger, idempotency, dialects, webhooks, and the
//!   control API and request log of `paychaos provider`.
//! - [`merchant`]: the reference merchant (the embedded system under test).
//! - [`load`]: stages, the open-loop scheduler, the HTTP driver, reads through the contract.
//! - [`signature`]: Stripe-style webhook signing and verification, shared by provider and merchant.
//! - [`gateway`]: the gateway dialect's wire vocabulary (codes, statuses, amounts), shared likewise.
//! - [`alertmanager`]: Prometheus Alertmanager's webhook payload, read by the alert receiver
//!   and written by the reference merchant's monitor.
//! - [`net`]: listeners, the accept loop and its limits, the client pool and loopback
//!   addresses, shared by provider, merchant and load.
//! - [`metrics`]: HdrHistogram recorders and the per-second timeline.
//! - [`verify`]: reconciliation of ledger, webhooks, checkout answers and order states.
//! - [`report`]: the report model, its writers and the gates.
//! - [`run`] and [`cli`]: glue that wires the parts, settles the report's folder, handles
//!   Ctrl-C and SIGTERM and maps results to exit codes; [`progress`] draws the live progress
//!   line of a run.
//!
//! Dependencies point one way, bottom to top: `domain` ← `chaos` ← `scenario` ← `provider` |
//! `merchant` | `load` (never each other) ← `verify` | `report` | `progress` ← `run` ← `cli`;
//! `signature`, `gateway`, `net`, `metrics` and `alertmanager` are leaves. `tests/it/layering.rs` keeps it so.

pub mod alertmanager;
pub mod chaos;
pub mod cli;
pub mod domain;
#[doc(hidden)]
pub mod fuzzing;
pub mod gateway;
pub mod load;
pub mod merchant;
pub mod metrics;
pub mod net;
pub mod progress;
pub mod provider;
pub mod report;
pub mod run;
pub mod scenario;
pub mod signature;
pub mod verify;
