//! The scenario: what one run does. `raw` mirrors the TOML exactly (serde,
//! `deny_unknown_fields`); `validate` turns it into the checked types below, gathering every
//! problem with its key path before anything starts; `defaults` holds the defaults the
//! command line shares. The rest of the program sees only these checked types.

pub mod alarm;
pub mod card_testers;
pub mod channels;
pub mod contract;
pub mod customers;
pub mod defaults;
pub mod flaws;
pub mod overrides;
pub mod raw;
pub mod shard;
pub mod thresholds;
pub mod validate;

use std::net::SocketAddr;
use std::num::NonZeroUsize;
use std::path::Path;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::chaos::{FaultPlan, WebhookChaos};
use crate::domain::RunId;
use contract::Contract;
use flaws::Flaws;

pub use shard::Shard;
pub use thresholds::{Op, ThresholdSpec};
pub use validate::{Problem, ScenarioError};

/// A checked scenario.
#[derive(Clone, Debug, PartialEq)]
pub struct Scenario {
    /// Names the report folder; `[A-Za-z0-9_-]+`.
    pub name: String,
    /// Seeds every chaos decision and the generated orders.
    pub seed: u64,
    pub load: LoadSpec,
    pub orders: OrderSpec,
    pub provider: ProviderSpec,
    pub faults: FaultPlan,
    /// The primary's name and the backup providers (`[[providers]]`); no backups for a run
    /// with one `[provider]`.
    pub routing: channels::Routing,
    pub webhooks: WebhookSpec,
    pub merchant: MerchantSpec,
    pub drain: DrainSpec,
    pub gates: GateSpec,
    /// A capacity run: the load steps up until the SLO breaks (`[capacity]`); `None` for a
    /// plain run. When set, `load.profile` is the matching `Steps` profile.
    pub capacity: Option<CapacitySpec>,
    /// How recovery after each fault window is measured (`[recovery]`).
    pub recovery: RecoverySpec,
    /// `[[thresholds]]`, in scenario order.
    pub thresholds: Vec<ThresholdSpec>,
    /// A failure-rate alarm to drill (`[alarm]`); `None`: none.
    pub alarm: Option<alarm::AlarmSpec>,
    /// The `--set key.path=value` arguments applied over the file, for the report.
    pub overrides: Vec<String>,
    /// Card testers, the provider's velocity rules and the merchant's limits (all off by
    /// default).
    pub card_testing: card_testers::CardTesting,
    /// The part of the schedule this run sends (`[shard]`, `--shard`; the whole by default).
    pub shard: Shard,
    /// `[customers]`, `faults.requires_action` and `provider.challenge_expiry`.
    pub journeys: customers::JourneySpec,
}

/// How checkouts are offered.
#[derive(Clone, Debug, PartialEq)]
pub struct LoadSpec {
    pub profile: Profile,
    /// Checkouts in flight above this are counted as shed, not sent.
    pub max_in_flight: NonZeroUsize,
    /// The connections the generator keeps to the merchant (`load.connections`).
    pub connections: Connections,
    /// The harness gives up on one checkout request after this long.
    pub request_timeout: Duration,
    /// The run id inside every order id (`ord-<run id>-000042`); `None`: derived at the start
    /// of each run, so that no two runs send the same order id. Pinned for reproducible ids.
    pub run_id: Option<RunId>,
}

/// How the load generator connects to the merchant (`load.connections`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Connections {
    /// A fixed count sized for the profile's peak rate (the load module's formula).
    Auto,
    /// At most this many kept-alive connections; a checkout that finds them all busy waits.
    Fixed(NonZeroUsize),
    /// A new connection for every checkout, closed after its answer: a connection storm.
    PerCheckout,
}

/// The shape of the offered rate over time (checkouts per second).
#[derive(Clone, Debug, PartialEq)]
pub enum Profile {
    Constant {
        rate: f64,
        duration: Duration,
    },
    Ramp {
        from: f64,
        to: f64,
        duration: Duration,
    },
    /// `start`, then `start + step`, … every `every`, up to the highest rate not above `until`.
    Steps {
        start: f64,
        step: f64,
        every: Duration,
        until: f64,
    },
    /// `base`, jumping to `peak` at `at` for `length` (TOML `for`), then `base` again until
    /// `duration`.
    Spike {
        base: f64,
        peak: f64,
        at: Duration,
        length: Duration,
        duration: Duration,
    },
    /// An explicit list, played in order.
    Stages(Vec<RateStage>),
}

/// One `[[load.stages]]` entry: linear from `from` to `to` over `duration` (`rate` sets both).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RateStage {
    pub from: f64,
    pub to: f64,
    pub duration: Duration,
}

impl Profile {
    /// Total load duration.
    pub fn duration(&self) -> Duration {
        match self {
            Profile::Constant { duration, .. }
            | Profile::Ramp { duration, .. }
            | Profile::Spike { duration, .. } => *duration,
            Profile::Steps {
                start,
                step,
                every,
                until,
            } => every.saturating_mul(step_count(*start, *step, *until)),
            Profile::Stages(stages) => stages.iter().map(|s| s.duration).sum(),
        }
    }

    /// How many checkouts the profile offers: the integral of its rate over its length, in
    /// closed form (the load's schedule plans the floor of it).
    pub fn checkouts(&self) -> f64 {
        let secs = |d: &Duration| d.as_secs_f64();
        match self {
            Profile::Constant { rate, duration } => rate * secs(duration),
            Profile::Ramp { from, to, duration } => (from + to) / 2.0 * secs(duration),
            Profile::Steps {
                start,
                step,
                every,
                until,
            } => {
                // Σ (start + step·i) for i < n.
                let n = f64::from(step_count(*start, *step, *until));
                (n * start + step * n * (n - 1.0) / 2.0) * secs(every)
            }
            Profile::Spike {
                base,
                peak,
                at,
                length,
                duration,
            } => {
                let spike = (*at + *length).min(*duration).saturating_sub(*at);
                base * secs(&duration.saturating_sub(spike)) + peak * secs(&spike)
            }
            Profile::Stages(stages) => stages
                .iter()
                .map(|s| (s.from + s.to) / 2.0 * secs(&s.duration))
                .sum(),
        }
    }

    /// The highest rate the profile offers, per second.
    pub fn peak_rate(&self) -> f64 {
        match self {
            Profile::Constant { rate, .. } => *rate,
            Profile::Ramp { from, to, .. } => from.max(*to),
            Profile::Steps {
                start, step, until, ..
            } => {
                let n = step_count(*start, *step, *until);
                start + step * f64::from(n.saturating_sub(1))
            }
            Profile::Spike { base, peak, .. } => base.max(*peak),
            Profile::Stages(stages) => stages.iter().map(|s| s.from.max(s.to)).fold(0.0, f64::max),
        }
    }

    /// The profile's word in the scenario and the report: `constant`, `ramp`, `steps`,
    /// `spike` or `stages`.
    pub fn name(&self) -> &'static str {
        match self {
            Profile::Constant { .. } => "constant",
            Profile::Ramp { .. } => "ramp",
            Profile::Steps { .. } => "steps",
            Profile::Spike { .. } => "spike",
            Profile::Stages(_) => "stages",
        }
    }
}

/// How many steps a steps profile has: `start`, `start + step`, … up to the highest rate not
/// above `until` (0 when `step` is not positive or `until < start`; at most `u32::MAX`).
pub fn step_count(start: f64, step: f64, until: f64) -> u32 {
    let counts = step > 0.0 && until >= start;
    if !counts {
        return 0;
    }
    // The slack keeps 100 + 3 × 0.1-sized float steps from losing the last one.
    let n = ((until - start) / step + 1e-9).floor() + 1.0;
    if n >= f64::from(u32::MAX) {
        u32::MAX
    } else {
        n as u32
    }
}

/// A capacity run (`[capacity]`): the rate steps from `start` by `step` every `every` up to
/// `max_rate`; each step is judged against the SLO over its part after `settle`, and the run
/// stops once a step breaks it.
#[derive(Clone, Debug, PartialEq)]
pub struct CapacitySpec {
    pub start: f64,
    pub step: f64,
    pub every: Duration,
    pub max_rate: f64,
    /// The first part of each step, not judged (the merchant settles to the new rate).
    pub settle: Duration,
    /// SLO: highest p99 checkout latency in ms.
    pub p99_ms: f64,
    /// SLO: lowest share of checkouts answered paid over those the card did not decline.
    pub success_rate: f64,
}

impl CapacitySpec {
    /// The steps profile this capacity run offers.
    pub fn profile(&self) -> Profile {
        Profile::Steps {
            start: self.start,
            step: self.step,
            every: self.every,
            until: self.max_rate,
        }
    }
}

/// How recovery after a fault window is measured (`[recovery]`), per second of intended send
/// time: the success rate over orders that could succeed must be back within `tolerance` of
/// the `baseline` before the window and stay there for `hold`.
#[derive(Clone, Debug, PartialEq)]
pub struct RecoverySpec {
    /// Absolute: 0.05 means within 5 points of the baseline success rate.
    pub tolerance: f64,
    pub hold: Duration,
    /// Length of the baseline span just before each window (shorter if the load is).
    pub baseline: Duration,
}

/// What the generated orders look like.
#[derive(Clone, Debug, PartialEq)]
pub struct OrderSpec {
    /// Minor units; each order's amount is drawn from `amount_min..=amount_max` by its id.
    pub amount_min: u64,
    pub amount_max: u64,
    /// Lower-case ISO code.
    pub currency: String,
    pub payment_method: String,
}

/// The mock provider.
#[derive(Clone, Debug, PartialEq)]
pub struct ProviderSpec {
    pub dialect: Dialect,
    /// How long a `timeout`, `timeout_after_charge` or `late_charge` fault holds the request
    /// before dropping it (a late charge executes at the end of the hold).
    pub hold: Duration,
    /// Where the provider listens; port 0 picks a free one (an external merchant needs a
    /// known port).
    pub listen: SocketAddr,
    /// API requests the provider serves at once; beyond it, it sheds them at once with its
    /// rate-limit answer and `Retry-After` (default [`defaults::PROVIDER_MAX_IN_FLIGHT`]).
    pub max_in_flight: std::num::NonZeroUsize,
    /// `kind = "external"`: the base URL of a provider the run does not start (`paychaos
    /// provider`, or replicas behind a load balancer); `None`: the run starts its own.
    pub external: Option<String>,
}

/// API shapes the provider speaks (and the reference merchant with it); the serde name is
/// the word in scenarios and on the command line.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Dialect {
    Stripe,
    /// A CN-style async-notify gateway: JSON pay and query APIs with result codes, form
    /// notifications signed with HMAC-SHA256 over the sorted parameters (README, "The
    /// gateway dialect").
    Gateway,
}

impl Dialect {
    /// The name used in scenarios and on the command line.
    pub fn as_str(self) -> &'static str {
        crate::domain::label(&self)
    }

    /// Parses a name written by [`Dialect::as_str`].
    pub fn parse(s: &str) -> Option<Dialect> {
        crate::domain::parse_label(s)
    }
}

/// Webhook delivery and its chaos.
#[derive(Clone, Debug, PartialEq)]
pub struct WebhookSpec {
    /// Signing secret, `whsec_…`.
    pub secret: String,
    pub chaos: WebhookChaos,
    /// Wait before each retry after a failed attempt; its length is the number of retries.
    pub retry_schedule: Vec<Duration>,
    /// An attempt with no answer after this long counts as failed.
    pub timeout: Duration,
}

/// The merchant under test.
#[derive(Clone, Debug, PartialEq)]
pub enum MerchantSpec {
    /// The embedded reference merchant, started by the run.
    Reference(ReferenceSpec),
    /// A merchant paychaos did not start, driven over HTTP through the contract.
    External(Box<ExternalSpec>),
}

/// Settings of the embedded reference merchant.
#[derive(Clone, Debug, PartialEq)]
pub struct ReferenceSpec {
    /// The merchant's timeout on each provider request.
    pub provider_timeout: Duration,
    /// Retries (same idempotency key) after a timeout, 5xx or 429.
    pub max_retries: u32,
    /// Wait before the first retry; doubled on each further one.
    pub retry_backoff: Duration,
    /// How often pending orders are settled by asking the provider.
    pub reconcile_every: Duration,
    /// A pending order the provider knows nothing about is failed after this long.
    pub pending_grace: Duration,
    /// Planted bugs to switch on (none: the correct merchant).
    pub flaws: Flaws,
    /// The circuit breaker in front of the provider; `None`: off.
    pub breaker: Option<BreakerConfig>,
}

/// When the reference merchant's circuit breaker opens and for how long.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BreakerConfig {
    /// Consecutive checkouts ending in provider trouble that open the breaker (> 0).
    pub failures: u32,
    /// How long an open breaker fails checkouts fast before letting a probe through.
    pub cooldown: Duration,
}

/// A merchant under test that runs on its own (see the merchant contract in the README).
#[derive(Clone, Debug, PartialEq)]
pub struct ExternalSpec {
    /// Where the provider sends webhooks: the merchant's webhook endpoint.
    pub webhook_url: String,
    /// How checkouts are sent and answers and final order states are read.
    pub contract: Contract,
}

/// How long to wait after the load for webhooks and reconciliation to settle.
#[derive(Clone, Debug, PartialEq)]
pub struct DrainSpec {
    pub timeout: Duration,
}

/// Pass/fail thresholds; each `None` is not checked.
#[derive(Clone, Debug, PartialEq)]
pub struct GateSpec {
    /// Lowest success rate over orders that could succeed (not declined by the card).
    pub success_rate_min: Option<f64>,
    /// Highest p99 checkout latency, in ms.
    pub p99_ms_max: Option<f64>,
    /// Most checkouts shed at the in-flight cap.
    pub shed_max: Option<u64>,
    /// Whether the run fails when any verification check fails (default true).
    pub verification: bool,
    /// Longest recovery after a fault window, in seconds; a window that never recovers fails.
    pub recovery_s_max: Option<f64>,
    /// Highest p99 time the merchant's webhook endpoint takes to answer a genuine delivery, ms.
    pub webhook_ack_p99_ms_max: Option<f64>,
    /// Longest delay from when the alarm should fire to when the merchant's alert arrived, s.
    pub alarm_delay_s_max: Option<f64>,
    /// Most expected alarms no alert arrived for.
    pub alarm_missed_max: Option<u64>,
}

impl Scenario {
    /// Parses and checks a scenario from TOML text; `origin` names the input in errors.
    pub fn from_toml_str(text: &str, origin: &str) -> Result<Scenario, ScenarioError> {
        validate::from_toml_str(text, origin)
    }

    /// Reads, parses and checks a scenario file: a regular file of at most
    /// [`MAX_FILE_BYTES`].
    pub fn load(path: &Path) -> Result<Scenario, ScenarioError> {
        Scenario::load_with(path, &[])
    }

    /// [`Scenario::load`] with `--set key.path=value` overrides applied before validation; a
    /// problem at an overridden key names its `--set` argument.
    pub fn load_with(path: &Path, sets: &[String]) -> Result<Scenario, ScenarioError> {
        let origin = path.display().to_string();
        let text = read_limited(path).map_err(|message| ScenarioError {
            origin: origin.clone(),
            problems: vec![Problem {
                path: String::new(),
                message,
            }],
        })?;
        let fail = |problems| ScenarioError {
            origin: origin.clone(),
            problems,
        };
        let text = overrides::apply(&text, sets).map_err(fail)?;
        let mut s = Scenario::from_toml_str(&text, &origin).map_err(|mut e| {
            for p in &mut e.problems {
                let from = sets.iter().find(|a| {
                    overrides::key_of(a).is_some_and(|k| {
                        p.path == k
                            || p.path.starts_with(&format!("{k}."))
                            || p.path.starts_with(&format!("{k}["))
                    })
                });
                if let Some(arg) = from {
                    // The line and column are those of the file with the overrides in it.
                    if let Some(at) = p.message.find(" (at line ") {
                        let end = p.message[at..]
                            .find(')')
                            .map_or(p.message.len(), |e| at + e + 1);
                        p.message.replace_range(at..end, "");
                    }
                    p.message.push_str(&format!(" (from --set {arg:?})"));
                }
            }
            e
        })?;
        s.overrides = sets.to_vec();
        Ok(s)
    }
}

/// The largest scenario file read: 1 MiB, hundreds of times any real scenario, and a bound on
/// what a wrong path (`/dev/zero`, a log file) costs before it is refused.
pub const MAX_FILE_BYTES: u64 = 1 << 20;

/// The text of a scenario file; the message names what is wrong and the accepted form.
fn read_limited(path: &Path) -> Result<String, String> {
    use std::io::Read;
    let limit = format!("a regular file of at most 1 MiB ({MAX_FILE_BYTES} bytes)");
    let file = std::fs::File::open(path).map_err(|e| format!("cannot read the file: {e}"))?;
    let meta = file
        .metadata()
        .map_err(|e| format!("cannot read the file: {e}"))?;
    if !meta.is_file() {
        let kind = if meta.is_dir() {
            "a directory"
        } else {
            "a device, pipe or socket"
        };
        return Err(format!(
            "not a regular file ({kind}): expected a scenario file, {limit}"
        ));
    }
    if meta.len() > MAX_FILE_BYTES {
        return Err(format!(
            "the file has {} bytes: expected {limit}",
            meta.len()
        ));
    }
    // The length may have grown since; read one byte past the limit to know.
    let mut bytes = Vec::new();
    file.take(MAX_FILE_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| format!("cannot read the file: {e}"))?;
    if bytes.len() as u64 > MAX_FILE_BYTES {
        return Err(format!(
            "the file grew past the limit while read: expected {limit}"
        ));
    }
    String::from_utf8(bytes).map_err(|e| {
        format!(
            "not UTF-8 text (invalid byte at offset {}): expected a TOML file",
            e.utf8_error().valid_up_to()
        )
    })
}
