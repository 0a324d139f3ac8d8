//! Serde structs that mirror the scenario TOML key for key; nothing is checked here.
//! Every key is optional at this level and durations stay as written, so that `validate` can
//! report every missing or bad value at once, each with its key path.

mod card_testers;
mod rates;

pub use card_testers::{RawCardTesters, RawVelocity};

use std::fmt;

use enum_map::EnumMap;
use serde::de::{self, Deserializer, Visitor};
use serde::Deserialize;

use crate::domain::FaultKind;

/// The whole file.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawScenario {
    pub name: Option<String>,
    // TOML integers are i64; a negative seed is reported by `validate`, not by serde.
    pub seed: Option<i64>,
    pub load: Option<RawLoad>,
    #[serde(default)]
    pub orders: RawOrders,
    #[serde(default)]
    pub provider: RawProvider,
    #[serde(default)]
    pub faults: RawFaults,
    /// `[[providers]]`: several providers, in routing order (instead of `[provider]` and
    /// `[faults]`).
    #[serde(default)]
    pub providers: Vec<RawChannel>,
    #[serde(default)]
    pub webhooks: RawWebhooks,
    #[serde(default)]
    pub merchant: RawMerchant,
    #[serde(default)]
    pub drain: RawDrain,
    #[serde(default)]
    pub gates: RawGates,
    /// Present: a capacity run.
    pub capacity: Option<RawCapacity>,
    #[serde(default)]
    pub recovery: RawRecovery,
    #[serde(default)]
    pub thresholds: Vec<RawThreshold>,
    pub card_testers: Option<RawCardTesters>,
    pub alarm: Option<RawAlarm>,
    #[serde(default)]
    pub shard: RawShard,
    #[serde(default)]
    pub customers: RawCustomers,
}

/// `[alarm]`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawAlarm {
    pub window: Option<RawDuration>,
    pub min_sample: Option<i64>,
    pub threshold: Option<f64>,
    pub failures: Option<RawOps>,
    pub monitor: Option<bool>,
}

/// `[shard]`: this run sends the orders whose index ≡ `index` (mod `count`).
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawShard {
    pub index: Option<i64>,
    pub count: Option<i64>,
}

/// `[customers]`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawCustomers {
    pub completes: Option<f64>,
    pub fails: Option<f64>,
    pub abandons: Option<f64>,
    pub never_returns: Option<f64>,
    pub retries_with_another_card: Option<f64>,
    pub forged_returns: Option<f64>,
}

/// `[load]`: `rate` belongs to the constant profile, `from`/`to` to the ramp; `start`,
/// `step`, `every`, `until` to steps; `base`, `peak`, `at`, `for` to spike; `stages` to stages.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawLoad {
    pub profile: Option<String>,
    pub rate: Option<f64>,
    pub from: Option<f64>,
    pub to: Option<f64>,
    pub duration: Option<RawDuration>,
    pub max_in_flight: Option<i64>,
    pub connections: Option<RawConnections>,
    pub request_timeout: Option<RawDuration>,
    pub start: Option<f64>,
    pub step: Option<f64>,
    pub every: Option<RawDuration>,
    pub until: Option<f64>,
    pub base: Option<f64>,
    pub peak: Option<f64>,
    pub at: Option<RawDuration>,
    #[serde(rename = "for")]
    pub for_: Option<RawDuration>,
    pub stages: Option<Vec<RawStage>>,
    pub run_id: Option<String>,
}

/// One `[[load.stages]]` entry: `from` and `to`, or `rate`, over `duration`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawStage {
    pub from: Option<f64>,
    pub to: Option<f64>,
    pub rate: Option<f64>,
    pub duration: Option<RawDuration>,
}

/// `[capacity]`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawCapacity {
    pub start: Option<f64>,
    pub step: Option<f64>,
    pub every: Option<RawDuration>,
    pub max_rate: Option<f64>,
    pub settle: Option<RawDuration>,
    pub p99_ms: Option<f64>,
    pub success_rate: Option<f64>,
}

/// `[recovery]`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRecovery {
    pub tolerance: Option<f64>,
    pub hold: Option<RawDuration>,
    pub baseline: Option<RawDuration>,
}

/// `[orders]`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawOrders {
    pub amount_min: Option<i64>,
    pub amount_max: Option<i64>,
    pub currency: Option<String>,
    pub payment_method: Option<String>,
}

/// `[provider]`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawProvider {
    pub dialect: Option<String>,
    pub hold: Option<RawDuration>,
    pub listen: Option<String>,
    pub max_in_flight: Option<i64>,
    pub velocity: Option<RawVelocity>,
    /// `"embedded"` (default) or `"external"` (with `url`).
    pub kind: Option<String>,
    pub url: Option<String>,
    pub challenge_expiry: Option<RawDuration>,
}

/// One `[[providers]]` entry: a name, the `[provider]` keys and its own `faults` table.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawChannel {
    pub name: Option<String>,
    pub dialect: Option<String>,
    pub hold: Option<RawDuration>,
    pub listen: Option<String>,
    pub max_in_flight: Option<i64>,
    #[serde(default)]
    pub faults: RawFaults,
}

impl RawChannel {
    /// The entry's `[provider]` keys.
    pub fn provider(&self) -> RawProvider {
        RawProvider {
            dialect: self.dialect.clone(),
            hold: self.hold.clone(),
            listen: self.listen.clone(),
            max_in_flight: self.max_in_flight,
            // Velocity rules are the single provider's (`[provider.velocity]`).
            velocity: None,
            kind: None,
            url: None,
            challenge_expiry: None,
        }
    }
}

/// The rate keys of `[faults]` or of one window: one optional probability per fault kind,
/// under the kind's name. The catalogue is the key list: a new kind needs no field here.
pub type RawRates = EnumMap<FaultKind, Option<f64>>;

/// `[faults]`: base rates, base latency and the windows (keys read in `rates.rs`).
#[derive(Clone, Debug, Default)]
pub struct RawFaults {
    pub rates: RawRates,
    pub latency: Option<RawLatency>,
    pub windows: Vec<RawWindow>,
    /// `[faults.targets]`: fault kind name → the operations it hits (`"refund"`,
    /// `["charge", "query"]`, `"any"`); names and words are checked by `validate`.
    pub targets: std::collections::BTreeMap<String, RawOps>,
    /// `requires_action`: the share of orders sent through a 3D Secure challenge.
    pub requires_action: Option<f64>,
}

/// One operation word or a list of them.
#[derive(Clone, Debug, Deserialize)]
#[serde(untagged)]
pub enum RawOps {
    One(String),
    Many(Vec<String>),
}

impl RawOps {
    pub fn words(&self) -> &[String] {
        match self {
            RawOps::One(w) => std::slice::from_ref(w),
            RawOps::Many(ws) => ws,
        }
    }
}

/// One `[[faults.windows]]` entry; each rate given replaces the base rate inside it (keys
/// read in `rates.rs`).
#[derive(Clone, Debug, Default)]
pub struct RawWindow {
    pub name: Option<String>,
    pub start: Option<RawDuration>,
    pub end: Option<RawDuration>,
    pub rates: RawRates,
    pub latency: Option<RawLatency>,
}

/// A latency table such as `{ distribution = "uniform", min = "1ms", max = "10ms" }`. Kept
/// flat (not a tagged enum) so that a wrong key for the distribution is reported by
/// `validate` next to the other problems instead of stopping the parse.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawLatency {
    pub distribution: Option<String>,
    pub value: Option<RawDuration>,
    pub min: Option<RawDuration>,
    pub max: Option<RawDuration>,
    pub mean: Option<RawDuration>,
}

/// `[webhooks]`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawWebhooks {
    pub secret: Option<String>,
    pub retry_schedule: Option<Vec<RawDuration>>,
    pub timeout: Option<RawDuration>,
    pub delay: Option<f64>,
    pub delay_latency: Option<RawLatency>,
    pub duplicate: Option<f64>,
    pub forged: Option<f64>,
    pub reorder: Option<f64>,
    pub drop_first: Option<f64>,
    pub drop_attempts: Option<i64>,
    pub stale: Option<f64>,
    pub unsigned: Option<f64>,
}

/// `[merchant]`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawMerchant {
    pub kind: Option<String>,
    pub provider_timeout: Option<RawDuration>,
    pub max_retries: Option<i64>,
    pub retry_backoff: Option<RawDuration>,
    pub reconcile_every: Option<RawDuration>,
    pub pending_grace: Option<RawDuration>,
    /// Consecutive checkouts in provider trouble that open the circuit breaker (off if unset).
    pub breaker_failures: Option<i64>,
    /// How long an open breaker fails checkouts fast.
    pub breaker_cooldown: Option<RawDuration>,
    /// Names of planted flaws (`scenario::flaws::Flaw`), checked by `validate`.
    pub flaws: Option<Vec<String>>,
    // The merchant contract, for kind = "external" only.
    pub webhook_url: Option<String>,
    pub checkout: Option<RawCheckout>,
    pub orders: Option<RawOrderReads>,
    pub words: Option<RawWords>,
    pub reasons: Option<RawReasons>,
    /// The merchant's own velocity limits (enforced by the reference merchant, declared for
    /// an external one).
    pub velocity: Option<RawVelocity>,
}

/// `[merchant.checkout]`: the checkout request of an external merchant and its answer.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawCheckout {
    pub method: Option<String>,
    pub url: Option<String>,
    pub body: Option<String>,
    pub status_pointer: Option<String>,
    pub reason_pointer: Option<String>,
    pub redirect_pointer: Option<String>,
}

/// `[merchant.orders]`: how an external merchant's final order states are read.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawOrderReads {
    pub export_url: Option<String>,
    pub order_url: Option<String>,
    pub list_pointer: Option<String>,
    pub id_pointer: Option<String>,
    pub status_pointer: Option<String>,
    pub reason_pointer: Option<String>,
    pub fulfilments_pointer: Option<String>,
}

/// `[merchant.words]`: an external merchant's status words.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawWords {
    pub paid: Option<Vec<String>>,
    pub failed: Option<Vec<String>>,
    pub pending: Option<Vec<String>>,
}

/// `[merchant.reasons]`: an external merchant's reason words, per reason.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawReasons {
    pub insufficient_funds: Option<Vec<String>>,
    pub risk_blocked: Option<Vec<String>>,
    pub provider_error: Option<Vec<String>>,
    pub declined: Option<Vec<String>>,
}

/// `[drain]`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawDrain {
    pub timeout: Option<RawDuration>,
}

/// `[gates]`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawGates {
    pub success_rate_min: Option<f64>,
    pub p99_ms_max: Option<f64>,
    pub shed_max: Option<i64>,
    pub verification: Option<bool>,
    pub recovery_s_max: Option<f64>,
    pub webhook_ack_p99_ms_max: Option<f64>,
    pub alarm_delay_s_max: Option<f64>,
    pub alarm_missed_max: Option<i64>,
    /// Payment channels: checked with `[[providers]]` (validate's `channels`).
    pub failover_s_max: Option<f64>,
    pub failback_s_max: Option<f64>,
}

/// One `[[thresholds]]` entry.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawThreshold {
    pub metric: Option<String>,
    pub op: Option<String>,
    pub value: Option<f64>,
    pub abort_on_fail: Option<bool>,
    pub delay: Option<RawDuration>,
}

/// A duration as written. Numbers are accepted here only so that `validate` can say
/// "integers are not durations" with the key path, rather than a bare type error.
#[derive(Clone, Debug, PartialEq)]
pub enum RawDuration {
    Text(String),
    Integer(i64),
    Float(f64),
}

impl<'de> Deserialize<'de> for RawDuration {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = RawDuration;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str(r#"a duration string such as "500ms", "10s" or "2m""#)
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<RawDuration, E> {
                Ok(RawDuration::Text(v.to_owned()))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<RawDuration, E> {
                Ok(RawDuration::Integer(v))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<RawDuration, E> {
                Ok(RawDuration::Integer(i64::try_from(v).unwrap_or(i64::MAX)))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<RawDuration, E> {
                Ok(RawDuration::Float(v))
            }
        }
        deserializer.deserialize_any(V)
    }
}

impl fmt::Display for RawDuration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RawDuration::Text(s) => write!(f, "{s}"),
            RawDuration::Integer(i) => write!(f, "{i}"),
            RawDuration::Float(x) => write!(f, "{x}"),
        }
    }
}

/// `load.connections` as written: a count or a word (`"auto"`, `"per_checkout"`). Floats and
/// booleans are kept so that `validate` can name the key and the accepted forms.
#[derive(Clone, Debug, PartialEq)]
pub enum RawConnections {
    Integer(i64),
    Text(String),
    Other(String),
}

impl<'de> Deserialize<'de> for RawConnections {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = RawConnections;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str(r#"a number of connections, "auto" or "per_checkout""#)
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<RawConnections, E> {
                Ok(RawConnections::Text(v.to_owned()))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<RawConnections, E> {
                Ok(RawConnections::Integer(v))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<RawConnections, E> {
                Ok(RawConnections::Integer(
                    i64::try_from(v).unwrap_or(i64::MAX),
                ))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<RawConnections, E> {
                Ok(RawConnections::Other(v.to_string()))
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<RawConnections, E> {
                Ok(RawConnections::Other(v.to_string()))
            }
        }
        deserializer.deserialize_any(V)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_keep_what_was_written() {
        let w: RawWindow = toml::from_str(
            "start = \"1.5s\"\nend = 3\nlatency = { distribution = \"fixed\", value = 2.5 }",
        )
        .unwrap();
        assert_eq!(w.start, Some(RawDuration::Text("1.5s".into())));
        assert_eq!(w.end, Some(RawDuration::Integer(3)));
        assert_eq!(
            w.latency.unwrap().value,
            Some(RawDuration::Float(2.5)),
            "numbers are kept for validate to reject with a path"
        );
    }

    #[test]
    fn a_duration_of_another_type_is_a_type_error() {
        let err = toml::from_str::<RawDrain>("timeout = true").unwrap_err();
        assert!(
            err.message()
                .contains(r#"expected a duration string such as "500ms""#),
            "{err}"
        );
    }

    #[test]
    fn optional_tables_default_to_empty() {
        let s: RawScenario = toml::from_str("name = \"x\"").unwrap();
        assert!(s.load.is_none());
        assert!(s.faults.windows.is_empty());
        assert!(s.gates.verification.is_none());
    }

    #[test]
    fn unknown_keys_are_rejected_in_nested_tables() {
        let err = toml::from_str::<RawScenario>(
            "[faults.latency]\ndistribution = \"fixed\"\nvalu = \"1ms\"",
        )
        .unwrap_err();
        assert!(err.message().contains("unknown field `valu`"), "{err}");
    }
}
