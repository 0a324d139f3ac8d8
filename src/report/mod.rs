//! The run report: one `RunReport` data model (serde, snake_case, `schema_version`), built
//! once from the run's evidence, the verifier's findings and the merged recorder (`timeline`
//! builds the chart data). Writers (`json`, `markdown`, `html` with `charts`, `junit`,
//! `summary`, `step_summary`) only render it; `gates` turns the scenario's thresholds into
//! results the exit code follows.
//! `recovery` (after each fault window), `capacity` (a capacity run's knee) and `schedule`
//! (whether the generator kept its schedule) compute their parts, wired in by `shape`.
//! `history` tells each order's story (`history.jsonl`) and `chain` quotes the part of it
//! behind each finding. `write_all` puts the files in place atomically. `compare` weighs a
//! report against a baseline report.

pub mod alarm;
pub mod capacity;
pub mod card_testers;
pub mod chain;
pub mod channels;
pub mod charts;
pub mod compare;
pub mod funnel;
pub mod gates;
pub mod history;
pub mod html;
pub mod json;
pub mod junit;
pub mod markdown;
mod markdown_load;
pub mod recovery;
pub mod schedule;
pub mod schema;
mod shape;
pub mod shard_file;
pub mod step_summary;
pub mod summary;
pub mod thresholds;
pub mod timeline;
pub mod verdict;
pub mod webhook_health;
mod write;

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use crate::chaos::digest;
use crate::chaos::{Chaos, FaultKind};
use crate::domain::order_id::write_chaos_key;
use crate::domain::{CheckoutAnswer, FinalState, LedgerEntry, RunId, WebhookAttempt};
use crate::load::{self, Schedule};
use crate::metrics::{histogram, Outcome, Percentiles, Recorder, MAX_US};
use crate::scenario::Scenario;
use crate::verify::{Evidence, Reconciliation, TruthLabel};

pub use capacity::{CapacityReport, CapacityStep};
pub use chain::Finding;
pub use gates::GateResult;
pub use history::History;
pub use json::OrderedMap;
pub use recovery::{RecoveryStatus, WindowRecovery};
pub use schedule::PoolFigures;
pub use shape::Generator;
pub use timeline::{planned_per_second, SpectrumPoint, TimelineRow, WindowSpan};
pub use verdict::Verdict;
pub use webhook_health::EndpointHealth;
pub(crate) use write::write_atomically;
pub use write::{write_all, WriteError};

/// Version of the JSON contract below. It changes when a reader of the previous version
/// could misread a report: a key removed or renamed, a type changed, a figure's definition
/// changed, or a new word in a closed set; a key added alone keeps it. 3: `success_rate` and
/// `success_rate_eligible` count shed checkouts as failures, and recovery has the status
/// `window_open_at_end` (with `verdict`, `exit_code` and each gate's `op` added). 4: a gate's
/// `op` may also be `<`, `>` or `==` (thresholds), and the checks gain `raw_card_data`
/// (with the keys `gates[].source`, `gates[].note`, `run.aborted_by`, `run.overrides`,
/// `load.pool` and `faults.overload` added). 5: the checks gain `card_testing_unthrottled`,
/// `charged_on_two_channels`, `paid_on_forged_return`, `customer_misinformed` and
/// `abandoned_not_released` (with the keys `alarm`, `channels`, `card_testers`, `journeys`
/// and `run.shards` added).
pub const SCHEMA_VERSION: u32 = 5;

/// Everything a run reports; the one source every format is rendered from.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct RunReport {
    pub schema_version: u32,
    /// How the run ended: `pass`, `fail`, `interrupted` or `error`.
    pub verdict: Verdict,
    /// The exit code `paychaos run` ends with for `verdict` (0, 1 or 2).
    pub exit_code: u8,
    pub scenario: ScenarioInfo,
    pub run: RunInfo,
    pub load: LoadFigures,
    /// Checkout latency from the intended send time, over every sent checkout.
    pub latency_ms: Percentiles,
    /// The same by outcome (`paid`, `failed`, `pending`, `error`), zeros when none.
    pub latency_ms_by_outcome: OrderedMap<Percentiles>,
    /// Checkout latency at percentiles from p0 to p99.99, evenly spread on a log axis of
    /// `1 / (1 - q)` (HdrHistogram's percentile plot); empty when nothing was sent.
    pub latency_spectrum_ms: Vec<SpectrumPoint>,
    pub outcomes: Outcomes,
    pub faults: Faults,
    pub webhooks: Webhooks,
    pub verification: Verification,
    pub gates: Vec<GateResult>,
    /// One row per second of the load ([`TimelineRow`]).
    pub timeline: Vec<TimelineRow>,
    /// Recovery after each fault window, in scenario order.
    pub recovery: Vec<WindowRecovery>,
    /// A capacity run's steps and knee; `None` for other runs.
    pub capacity: Option<CapacityReport>,
    /// The failure-rate alarm drill (`[alarm]`): expected and received alarms compared.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alarm: Option<alarm::AlarmReport>,
    /// Where the generator did not keep its schedule ([`schedule::warnings`]).
    pub warnings: Vec<String>,
    /// Card testers' attempts by where they were stopped; absent for a run without testers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub card_testers: Option<card_testers::CardTesters>,
    /// Payment channels: per channel figures, failover and fail-back; absent for a run with
    /// one provider.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub channels: Option<channels::ChannelsReport>,
    /// The customer journey funnel; `None` when no checkout met a challenge.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub journeys: Option<funnel::Funnel>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ScenarioInfo {
    pub name: String,
    pub seed: u64,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct RunInfo {
    /// The run id inside every order id of the run (`ord-<run id>-000042`).
    #[serde(default)]
    pub run_id: String,
    /// RFC 3339, UTC, whole seconds.
    pub started_at: String,
    pub duration_s: f64,
    /// The load was cut short by a shutdown signal.
    pub interrupted: bool,
    /// Webhooks and reconciliation settled before the drain timeout.
    pub drained: bool,
    /// Set when an `abort_on_fail` threshold stopped the load: which, and what it saw.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aborted_by: Option<String>,
    /// The `--set key.path=value` arguments applied over the scenario file, in order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub overrides: Vec<String>,
    /// A sharded run's shards (one for a shard's own report, all of them once merged): how
    /// each started and how far its clock was from the coordinator's.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub shards: Vec<shard_file::ShardRow>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct LoadFigures {
    /// `constant` or `ramp`.
    pub profile: String,
    pub target_rate: f64,
    pub planned: u64,
    /// Checkouts sent (not shed).
    pub sent: u64,
    /// `sent` over the load's elapsed time, per second.
    pub achieved_rate: f64,
    pub shed: u64,
    /// Checkouts with no usable answer.
    pub errors: u64,
    /// How late the generator sent checkouts after their intended time, ms.
    pub send_lag_p99_ms: f64,
    pub send_lag_max_ms: f64,
    /// The generator's connection pool to the merchant; absent with a connection per
    /// checkout (`load.connections = "per_checkout"`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pool: Option<PoolFigures>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Outcomes {
    /// Orders that ended paid over checkouts offered: sent and shed, a shed checkout being a
    /// customer turned away (0 when none was offered).
    pub success_rate: f64,
    /// The same over offered checkouts the card did not decline, shed ones included (they
    /// never reached a card: 0 when there are none).
    pub success_rate_eligible: f64,
    /// Checkout answers by label (order states and `error`).
    pub told: OrderedMap<u64>,
    /// Final order states by label (and `missing`).
    #[serde(rename = "final")]
    pub final_states: OrderedMap<u64>,
    /// Provider truth → final state → orders.
    pub confusion: OrderedMap<OrderedMap<u64>>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Faults {
    /// Ledger entries per injected fault kind.
    pub injected: OrderedMap<u64>,
    /// Distinct orders with at least one entry of the kind.
    pub orders_hit: OrderedMap<u64>,
    /// SHA-256 over what the seed and plan assign to every planned order's first
    /// [`digest::PLAN_DIGEST_DEPTH`] attempts and event slots ([`digest::plan_digest`]; past
    /// [`digest::PLAN_DIGEST_ORDERS`] orders, to that many spaced evenly and the count): equal
    /// for the same scenario and seed on any machine, under any load.
    pub plan_digest: String,
    /// SHA-256 over which fault each charge attempt of this run met ([`digest::met_digest`]):
    /// timing decides how many attempts there were, so runs of one seed may differ here.
    pub met_digest: String,
    /// The scenario's fault windows, in seconds from the load start.
    pub windows: Vec<WindowSpan>,
    /// What the provider shed at its in-flight cap (not injected: load beyond the cap).
    #[serde(default)]
    pub overload: Overload,
}

/// The provider's in-flight cap and the API requests it shed beyond it: answered at once
/// with its rate-limit answer, before being read, so neither in the ledger nor a fault.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema,
)]
pub struct Overload {
    /// `provider.max_in_flight`.
    pub max_in_flight: u64,
    /// Requests shed.
    pub shed: u64,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Webhooks {
    /// Events the provider created.
    pub events: u64,
    /// Delivery attempts of any kind.
    pub sent: u64,
    /// Genuine events acknowledged at least once.
    pub delivered: u64,
    /// Attempts that were retries (attempt > 0).
    pub retried: u64,
    /// Events that were also delivered as a duplicate copy.
    pub duplicated: u64,
    /// Forged deliveries.
    pub forged: u64,
    /// Stale replays (signature timestamp outside the tolerance).
    #[serde(default)]
    pub stale: u64,
    /// Copies sent without a signature.
    #[serde(default)]
    pub unsigned: u64,
    /// Attacker copies (forged, stale or unsigned) the merchant acknowledged.
    pub forged_accepted: u64,
    /// Events delivered after a later event of their payment (reorder chaos).
    #[serde(default)]
    pub reordered: u64,
    /// Attempts dropped by chaos before reaching the merchant (the event came on a retry).
    #[serde(default)]
    pub dropped: u64,
    /// Genuine events never acknowledged (including any created but never sent).
    pub never_acknowledged: u64,
    pub ack_latency_ms: AckLatency,
    /// How the merchant's endpoint answered the genuine deliveries.
    #[serde(default)]
    pub endpoint: EndpointHealth,
}

/// Percentiles of the merchant's acknowledgement time, in ms.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct AckLatency {
    pub p50: f64,
    pub p90: f64,
    pub p99: f64,
    pub max: f64,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Verification {
    pub passed: bool,
    pub checks: Vec<CheckRow>,
    /// Every violation, sorted by order id, each with its causal chain.
    pub discrepancies: Vec<Finding>,
    /// What the findings point to beyond one order (a merchant paying at another provider).
    #[serde(default)]
    pub hints: Vec<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct CheckRow {
    pub name: String,
    pub invariant: String,
    pub passed: bool,
    pub violations: u64,
}

/// What [`build`] reads.
pub struct ReportInputs<'a> {
    pub scenario: &'a Scenario,
    pub evidence: Evidence<'a>,
    /// The evidence indexed by order, for each finding's causal chain.
    pub history: &'a History<'a>,
    pub reconciliation: &'a Reconciliation,
    /// Every load task's recorder, merged.
    pub recorder: &'a Recorder,
    pub target_rate: f64,
    /// Checkouts the schedule planned.
    pub planned: u64,
    /// Checkouts the schedule planned in each second from the load start
    /// ([`planned_per_second`]).
    pub planned_per_second: Vec<u64>,
    /// From the load start to the last scheduled send.
    pub load_elapsed: Duration,
    /// The whole run, drain included.
    pub run_duration: Duration,
    pub started_at: SystemTime,
    /// Inside every order id the run sent.
    pub run_id: &'a RunId,
    pub interrupted: bool,
    pub drained: bool,
    /// Webhook events the provider created.
    pub events_created: u64,
    /// The provider's base URL, the one the merchant must pay at.
    pub provider_url: Option<&'a str>,
    /// API requests the provider shed at its in-flight cap.
    pub provider_shed: u64,
    /// What the load generator knows beyond the records.
    pub generator: Generator,
    /// The alerts the harness's alert receiver took in, in arrival order.
    pub alerts: &'a [crate::alertmanager::Received],
}

/// Builds the report (gates included) from a finished run.
pub fn build(inp: &ReportInputs) -> RunReport {
    let sc = inp.scenario;
    let load = load_figures(inp);
    let mut report = RunReport {
        schema_version: SCHEMA_VERSION,
        // Settled below, once the gates are in.
        verdict: Verdict::Error,
        exit_code: Verdict::Error.exit_code(),
        scenario: ScenarioInfo {
            name: sc.name.clone(),
            seed: sc.seed,
        },
        run: RunInfo {
            run_id: inp.run_id.to_string(),
            started_at: rfc3339(inp.started_at),
            duration_s: inp.run_duration.as_secs_f64(),
            interrupted: inp.interrupted,
            drained: inp.drained,
            aborted_by: None,
            overrides: sc.overrides.clone(),
            shards: Vec::new(),
        },
        outcomes: outcomes(inp.reconciliation, load.shed, inp.evidence.card_testing),
        load,
        latency_ms: Percentiles::of(&inp.recorder.all),
        latency_ms_by_outcome: [
            Outcome::Paid,
            Outcome::Failed,
            Outcome::Pending,
            Outcome::Error,
        ]
        .into_iter()
        .map(|o| {
            let p = inp.recorder.by_outcome.get(&o).map(Percentiles::of);
            (o.as_str().to_string(), p.unwrap_or_default())
        })
        .collect(),
        latency_spectrum_ms: timeline::spectrum(&inp.recorder.all),
        faults: Faults {
            windows: timeline::window_spans(&sc.faults.windows),
            plan_digest: plan_digest(sc),
            overload: Overload {
                max_in_flight: sc.provider.max_in_flight.get() as u64,
                shed: inp.provider_shed,
            },
            ..faults(inp.evidence.ledger)
        },
        webhooks: webhooks(inp.evidence.webhooks, inp.events_created),
        verification: verification(inp.reconciliation, inp.provider_url, inp.history),
        gates: Vec::new(),
        timeline: timeline::timeline(&timeline::TimelineInputs {
            recorder: inp.recorder,
            checkouts: crate::verify::card_testing::offered(&inp.evidence),
            reconciliation: inp.reconciliation,
            windows: &sc.faults.windows,
            planned_per_second: &inp.planned_per_second,
            interrupted: inp.interrupted,
        }),
        recovery: Vec::new(),
        capacity: None,
        alarm: sc.alarm.as_ref().map(|a| {
            let load_ms = sc.load.profile.duration().as_millis() as u64;
            alarm::build(inp.evidence.checkouts, inp.alerts, a, load_ms)
        }),
        warnings: Vec::new(),
        card_testers: card_testers::section(sc, inp.reconciliation),
        channels: channels::report(inp),
        journeys: funnel::build(
            inp.evidence.journeys,
            inp.evidence.retries,
            inp.evidence.checkouts.len() as u64,
            inp.evidence.orders,
        ),
    };
    shape::add(&mut report, inp);
    if let Some(w) = overload_warning(&report.faults.overload) {
        report.warnings.push(w);
    }
    report.gates = gates::evaluate(&sc.gates, &report);
    let load_s = inp.load_elapsed.as_secs_f64();
    report
        .gates
        .extend(channels::gates(sc, report.channels.as_ref(), load_s));
    let judged = thresholds::evaluate(
        &sc.thresholds,
        &report,
        inp.recorder,
        inp.generator.aborted_by.as_ref(),
    );
    report.gates.extend(judged);
    report.run.aborted_by = inp.generator.aborted_by.as_ref().map(|a| a.describe());
    report.set_verdict(Verdict::of(report.run.interrupted, report.passed()));
    report
}

impl RunReport {
    /// Whether every gate passed (the verification gate among them, when the scenario gates on it).
    pub fn passed(&self) -> bool {
        self.gates.iter().all(|g| g.passed)
    }

    /// One line per failed gate, naming what failed and by how much.
    pub fn failures(&self) -> Vec<String> {
        self.gates
            .iter()
            .filter(|g| !g.passed)
            .map(|g| {
                if g.source.is_some() {
                    g.describe()
                } else if g.name == gates::VERIFICATION {
                    let failed: Vec<String> = self
                        .verification
                        .checks
                        .iter()
                        .filter(|c| !c.passed)
                        .map(|c| format!("{} {}", c.name, c.violations))
                        .collect();
                    format!(
                        "verification: {} of {} checks failed ({})",
                        failed.len(),
                        self.verification.checks.len(),
                        failed.join(", ")
                    )
                } else if g.name == gates::RECOVERY_S {
                    gates::describe_recovery(g, &self.recovery)
                } else if g.name == compare::GATE {
                    format!(
                        "baseline: {} metrics regressed against the baseline (compare.md)",
                        gates::number(g.observed)
                    )
                } else {
                    g.describe()
                }
            })
            .collect()
    }

    /// Sets the verdict and the exit code that goes with it: [`build`] settles it from the
    /// gates; the run makes it [`Verdict::Error`] when its evidence turned out incomplete.
    pub fn set_verdict(&mut self, verdict: Verdict) {
        self.verdict = verdict;
        self.exit_code = verdict.exit_code();
    }

    /// The report folder's name: `<scenario>-<UTC timestamp>`, e.g. `smoke-20261123T023317Z`.
    pub fn dir_name(&self) -> String {
        folder_name(&self.scenario.name, &self.run.started_at)
    }
}

/// [`RunReport::dir_name`] of the run of scenario `name` started at `started_at`, known
/// before the run so that its folder can be made first.
pub fn dir_name(name: &str, started_at: SystemTime) -> String {
    folder_name(name, &rfc3339(started_at))
}

fn folder_name(name: &str, started_at: &str) -> String {
    let stamp: String = started_at
        .chars()
        .filter(|c| !matches!(c, '-' | ':'))
        .collect();
    format!("{name}-{stamp}")
}

fn load_figures(inp: &ReportInputs) -> LoadFigures {
    // The records are the checkouts sent; shed ones are only counted, by the recorder (whose
    // per-second counts the timeline shows, so the two always agree).
    let checkouts = crate::verify::card_testing::offered(&inp.evidence);
    let shed = inp.recorder.shed;
    let errors = checkouts
        .iter()
        .filter(|c| matches!(c.answer, CheckoutAnswer::Error { .. }))
        .count() as u64;
    let sent = checkouts.len() as u64;
    let secs = inp.load_elapsed.as_secs_f64();
    let lag = Percentiles::of(&capacity::merged(inp.generator.send_lag.values()));
    LoadFigures {
        profile: inp.scenario.load.profile.name().to_string(),
        target_rate: inp.target_rate,
        planned: inp.planned,
        sent,
        achieved_rate: if secs > 0.0 { sent as f64 / secs } else { 0.0 },
        shed,
        errors,
        send_lag_p99_ms: lag.p99,
        send_lag_max_ms: lag.max,
        pool: inp.generator.pool.as_ref().map(PoolFigures::of),
    }
}

fn ratio(n: usize, d: usize) -> f64 {
    if d == 0 {
        0.0
    } else {
        n as f64 / d as f64
    }
}

/// The outcome figures of the verified (sent) orders and the `shed` checkouts, which the
/// verifier never sees: each is an offered checkout that did not succeed, as a capacity step
/// and the recovery figures count it.
fn outcomes(
    rec: &Reconciliation,
    shed: u64,
    testers: Option<&crate::verify::card_testing::CardTestingPlan>,
) -> Outcomes {
    let orders = &rec.orders;
    let shed = usize::try_from(shed).unwrap_or(usize::MAX);
    // Success is the offered load's: card testers' attempts have their own section.
    let offered = || card_testers::offered(orders, testers);
    let paid = offered().filter(|o| o.final_state == FinalState::Paid);
    let offered_count = offered().count();
    let eligible = offered().filter(|o| !o.truth.label().is_declined());
    let paid_eligible = eligible
        .clone()
        .filter(|o| o.final_state == FinalState::Paid)
        .count();

    let tally = |labels: &[&str], of: &dyn Fn(&crate::verify::VerifiedOrder) -> &str| {
        labels
            .iter()
            .map(|l| {
                let n = orders.values().filter(|o| of(o) == *l).count() as u64;
                (l.to_string(), n)
            })
            .collect::<OrderedMap<u64>>()
    };
    let states = || FinalState::all().map(FinalState::as_str);
    let told_labels: Vec<&str> = states()
        .filter(|s| *s != FinalState::Missing.as_str())
        .chain(["error"])
        .collect();
    let final_labels: Vec<&str> = states().collect();

    Outcomes {
        success_rate: ratio(paid.count(), offered_count.saturating_add(shed)),
        success_rate_eligible: ratio(paid_eligible, eligible.count().saturating_add(shed)),
        told: tally(&told_labels, &|o| o.told),
        final_states: tally(&final_labels, &|o| o.final_state.as_str()),
        confusion: TruthLabel::ALL
            .into_iter()
            .map(|t| {
                let row = rec.confusion.row(t);
                let cells = row
                    .iter()
                    .map(|(state, n)| (state.as_str().to_string(), *n))
                    .collect();
                (t.as_str().to_string(), cells)
            })
            .collect(),
    }
}

fn faults(ledger: &[LedgerEntry]) -> Faults {
    let mut injected: BTreeMap<FaultKind, u64> = BTreeMap::new();
    let mut hit: BTreeMap<FaultKind, BTreeSet<&str>> = BTreeMap::new();
    for e in ledger {
        if let Some(k) = e.fault {
            *injected.entry(k).or_default() += 1;
            if let Some(o) = &e.order_id {
                hit.entry(k).or_default().insert(o);
            }
        }
    }
    let per_kind = |f: &dyn Fn(FaultKind) -> u64| {
        FaultKind::all()
            .map(|k| (k.as_str().to_string(), f(k)))
            .collect::<OrderedMap<u64>>()
    };
    Faults {
        injected: per_kind(&|k| injected.get(&k).copied().unwrap_or(0)),
        orders_hit: per_kind(&|k| hit.get(&k).map_or(0, |s| s.len() as u64)),
        plan_digest: String::new(),
        met_digest: digest::met_digest(ledger),
        windows: Vec::new(),
        overload: Overload::default(),
    }
}

/// Says that the provider shed load, and what the merchant heard: the run measured the
/// provider's cap as much as the merchant.
fn overload_warning(o: &Overload) -> Option<String> {
    (o.shed > 0).then(|| {
        format!(
            "{} provider requests shed at provider.max_in_flight = {}: answered at once as rate \
             limited (retryable, nothing executed, not in the ledger); raise \
             provider.max_in_flight unless shedding is what the run rehearses",
            o.shed, o.max_in_flight
        )
    })
}

/// The plan digest of the scenario's whole schedule (every order its profile plans, also
/// those a capacity run's early stop never sent), each order keyed by its chaos key and timed
/// as the load sends it: a function of the scenario and seed alone (not of the run id).
pub fn plan_digest(sc: &Scenario) -> String {
    let chaos = Chaos::new(sc.seed, sc.faults.clone(), sc.webhooks.chaos.clone());
    let schedule = Schedule::new(&load::stages(&sc.load.profile));
    digest::plan_digest(&chaos, schedule.planned(), write_chaos_key, |n| {
        schedule.offset(n).unwrap_or_default()
    })
}

fn webhooks(log: &[WebhookAttempt], events_created: u64) -> Webhooks {
    let genuine = || log.iter().filter(|w| !w.is_attack());
    let logged: BTreeSet<&str> = genuine().map(|w| w.event_id.as_str()).collect();
    let acked: BTreeSet<&str> = genuine()
        .filter(|w| w.acknowledged())
        .map(|w| w.event_id.as_str())
        .collect();
    let duplicated: BTreeSet<&str> = genuine()
        .filter(|w| w.duplicate)
        .map(|w| w.event_id.as_str())
        .collect();
    let reordered: BTreeSet<&str> = genuine()
        .filter(|w| w.reordered)
        .map(|w| w.event_id.as_str())
        .collect();
    let never_sent = events_created.saturating_sub(logged.len() as u64);

    let mut h = histogram();
    for w in log.iter().filter(|w| w.acknowledged()) {
        h.record(w.latency_us.clamp(1, MAX_US))
            .expect("value clamped into bounds");
    }
    let p = Percentiles::of(&h);

    Webhooks {
        events: events_created,
        sent: log.len() as u64,
        delivered: acked.len() as u64,
        retried: log.iter().filter(|w| w.attempt > 0).count() as u64,
        duplicated: duplicated.len() as u64,
        forged: log.iter().filter(|w| w.forged).count() as u64,
        stale: log.iter().filter(|w| w.stale).count() as u64,
        unsigned: log.iter().filter(|w| w.unsigned).count() as u64,
        forged_accepted: log
            .iter()
            .filter(|w| w.is_attack() && w.acknowledged())
            .count() as u64,
        reordered: reordered.len() as u64,
        dropped: log.iter().filter(|w| w.dropped).count() as u64,
        never_acknowledged: (logged.len() - acked.len()) as u64 + never_sent,
        ack_latency_ms: AckLatency {
            p50: p.p50,
            p90: p.p90,
            p99: p.p99,
            max: p.max,
        },
        endpoint: webhook_health::endpoint_health(log),
    }
}

fn verification(
    rec: &Reconciliation,
    provider_url: Option<&str>,
    history: &History,
) -> Verification {
    let mut hints = Vec::new();
    if rec.paid_unseen_by_provider > 0 {
        let pay_at = match provider_url {
            Some(url) => format!("the merchant must pay at {url}, this run's provider"),
            None => "is the merchant configured with this run's provider?".to_string(),
        };
        hints.push(format!(
            "the provider received no payment for {} orders the merchant calls paid (no charge \
             request reached it at all): {pay_at}",
            rec.paid_unseen_by_provider
        ));
    }
    Verification {
        hints,
        passed: rec.passed(),
        checks: rec
            .checks
            .iter()
            .map(|c| CheckRow {
                name: c.check.name().to_string(),
                invariant: c.check.invariant().to_string(),
                passed: c.passed(),
                violations: c.violations as u64,
            })
            .collect(),
        discrepancies: rec
            .discrepancies
            .iter()
            .map(|d| Finding {
                chain: chain::chain(d.check, &history.steps(&d.order_id)),
                discrepancy: d.clone(),
            })
            .collect(),
    }
}

/// `YYYY-MM-DDTHH:MM:SSZ` for a system time (times before 1970 read as the epoch).
pub fn rfc3339(t: SystemTime) -> String {
    let secs = t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let (days, rem) = ((secs / 86_400) as i64, secs % 86_400);
    // Days since the epoch to a civil date (Howard Hinnant's days_from_civil, inverted).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem / 60 % 60,
        rem % 60
    )
}

#[cfg(test)]
pub(crate) mod tests;
