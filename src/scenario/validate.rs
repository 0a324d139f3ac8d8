//! Raw scenario → checked [`Scenario`](super::Scenario), every problem gathered with its key path.
//! Structural problems (unknown key, wrong type) carry the key path and line:column and are
//! taken out by `parse`, which reads on past them; only a TOML syntax error stops it. Semantic
//! ones (ranges, missing keys, sums, cross-key rules) are checked over the rest and all
//! collected before anything is returned. Defaults live here, but for those the command line
//! shares, which live in [`super::defaults`].

use std::fmt;
use std::num::NonZeroUsize;
use std::time::Duration;

use super::flaws::{Flaw, Flaws};
use super::raw::{RawDuration, RawLoad, RawScenario};
use super::{
    defaults, BreakerConfig, Connections, Dialect, DrainSpec, GateSpec, LoadSpec, MerchantSpec,
    OrderSpec, Profile, ProviderSpec, ReferenceSpec, Scenario,
};
use crate::chaos::Latency;

mod alarm;
mod card_testers;
mod ceilings;
#[cfg(test)]
mod channel_tests;
mod channels;
mod connections;
mod customers;
mod external;
mod faults;
mod key_path;

pub use ceilings::{MAX_CHECKOUTS, MAX_LOAD_DURATION, MAX_RATE};
pub use faults::run_time_faults;
#[cfg(test)]
mod connection_tests;
mod load;
mod parse;
mod shard;
#[cfg(test)]
mod target_tests;
#[cfg(test)]
mod tests;
mod thresholds;
mod webhooks;

/// One problem in a scenario, at a TOML key path.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Problem {
    /// Dotted key path, e.g. `faults.timeout` or `faults.windows[1].end`; empty for the file.
    pub path: String,
    /// What is wrong and the accepted form.
    pub message: String,
}

/// Every problem found in one scenario input.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScenarioError {
    /// The file (or other input) the scenario came from.
    pub origin: String,
    pub problems: Vec<Problem>,
}

impl fmt::Display for ScenarioError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, p) in self.problems.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            if p.path.is_empty() {
                write!(f, "{}: {}", self.origin, p.message)?;
            } else {
                write!(f, "{}: {}: {}", self.origin, p.path, p.message)?;
            }
        }
        Ok(())
    }
}

impl std::error::Error for ScenarioError {}

const DEFAULT_SEED: u64 = 1;
const DEFAULT_MAX_IN_FLIGHT: i64 = 1024;
const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
const DEFAULT_AMOUNT_MIN: i64 = 500;
const DEFAULT_AMOUNT_MAX: i64 = 50_000;
const DEFAULT_CURRENCY: &str = "usd";
const DEFAULT_PAYMENT_METHOD: &str = "pm_card_visa";
const DEFAULT_HOLD: Duration = Duration::from_secs(2);
const DEFAULT_RETRY_SCHEDULE_MS: [u64; 5] = [100, 300, 1000, 2000, 4000];
/// The gateway's default: Alipay's 4m, 10m, 10m, 1h, 2h, 6h, 15h scaled by 1/6000.
const GATEWAY_RETRY_SCHEDULE_MS: [u64; 7] = [40, 100, 100, 600, 1200, 3600, 9000];
const DEFAULT_WEBHOOK_TIMEOUT: Duration = Duration::from_secs(2);
const DEFAULT_DROP_ATTEMPTS: i64 = 1;
const DEFAULT_DELAY_LATENCY: Latency = Latency::Uniform {
    min: Duration::from_millis(10),
    max: Duration::from_millis(500),
};
/// An exponential latency without `max` is capped at this many means.
const EXPONENTIAL_MAX_MEANS: u32 = 20;
const DEFAULT_DRAIN_TIMEOUT: Duration = Duration::from_secs(30);

const INTEGER_RANGE: &str = "expected an integer within -9223372036854775808..=9223372036854775807 (TOML integers are 64-bit)";
const DURATION_FORM: &str = r#"a duration such as "500ms", "10s" or "2m""#;
const NAME_FORM: &str = r#"letters, digits, "_" and "-""#;
const LATENCY_FORMS: &str = r#""fixed", "uniform" or "exponential""#;
/// Sums of rates may exceed 1 by float rounding alone (0.1 + 0.2 + 0.7).
const SUM_SLACK: f64 = 1e-9;

/// Parses and checks a scenario from TOML text; `origin` names the input in errors.
pub fn from_toml_str(text: &str, origin: &str) -> Result<Scenario, ScenarioError> {
    let fail = |problems| ScenarioError {
        origin: origin.to_owned(),
        problems,
    };
    let parsed = parse::parse(text);
    let mut problems = parsed.problems.clone();
    let scenario = parsed.raw.as_ref().map(|raw| {
        let mut check = Checker::default();
        let scenario = check.scenario(raw);
        // A key reported as unknown or mistyped is not reported again as, say, missing.
        problems.extend(
            check
                .problems
                .into_iter()
                .filter(|p| !parsed.covers(&p.path)),
        );
        scenario
    });
    match scenario {
        Some(s) if problems.is_empty() => Ok(s),
        _ => Err(fail(problems)),
    }
}

/// Parses `"<number><unit>"` with unit `ms`, `s` or `m`; decimals allowed (`"1.5s"`).
pub fn parse_duration(text: &str) -> Option<Duration> {
    let split = text.find(|c: char| !c.is_ascii_digit() && c != '.')?;
    let (number, unit) = text.split_at(split);
    let unit_ns: u128 = match unit {
        "ms" => 1_000_000,
        "s" => 1_000_000_000,
        "m" => 60_000_000_000,
        _ => return None,
    };
    let (whole, frac) = number.split_once('.').unwrap_or((number, ""));
    let digits = |s: &str| !s.is_empty() && s.len() <= 18 && s.bytes().all(|b| b.is_ascii_digit());
    if !digits(whole) || (number.contains('.') && !digits(frac)) {
        return None;
    }
    let whole_ns = whole.parse::<u128>().ok()? * unit_ns;
    // Integer arithmetic keeps "0.1s" exactly 100ms; sub-nanosecond digits are dropped.
    let frac_ns = match frac {
        "" => 0,
        f => f.parse::<u128>().ok()? * unit_ns / 10u128.pow(f.len() as u32),
    };
    let ns = whole_ns + frac_ns;
    let secs = u64::try_from(ns / 1_000_000_000).ok()?;
    Some(Duration::new(secs, (ns % 1_000_000_000) as u32))
}

/// A duration for messages: whole seconds as `"2s"`, else milliseconds or finer.
pub fn show(d: Duration) -> String {
    if d.subsec_nanos() == 0 {
        format!("{}s", d.as_secs())
    } else if d.subsec_nanos().is_multiple_of(1_000_000) {
        format!("{}ms", d.as_millis())
    } else {
        format!("{d:?}")
    }
}

/// A checked duration and how to name it in a message (as written, or the default).
#[derive(Clone)]
struct Dur {
    value: Duration,
    shown: String,
}

/// The lowest duration a key accepts.
#[derive(Clone, Copy, PartialEq)]
enum Floor {
    Zero,
    Positive,
}

/// Collects problems while building the checked values; invalid values fall back to
/// placeholders that are never returned, since any problem makes the whole parse fail.
#[derive(Default)]
struct Checker {
    problems: Vec<Problem>,
}

impl Checker {
    fn report(&mut self, path: &str, message: impl Into<String>) {
        self.problems.push(Problem {
            path: path.to_owned(),
            message: message.into(),
        });
    }

    fn missing(&mut self, path: &str, expected: &str) {
        self.report(
            path,
            format!("required key is missing: expected {expected}"),
        );
    }

    /// A duration key; `default: None` makes it required. `None` back means reported.
    fn duration(
        &mut self,
        path: &str,
        raw: Option<&RawDuration>,
        default: Option<Duration>,
        floor: Floor,
    ) -> Option<Dur> {
        let (value, shown) = match (raw, default) {
            (None, Some(d)) => (d, format!("{}, the default", show(d))),
            (None, None) => {
                self.missing(path, DURATION_FORM);
                return None;
            }
            (Some(RawDuration::Text(t)), _) => match parse_duration(t) {
                Some(d) => (d, t.clone()),
                None => {
                    self.report(path, format!("expected {DURATION_FORM}, got {t:?}"));
                    return None;
                }
            },
            (Some(number), _) => {
                self.report(
                    path,
                    format!(
                        "expected {DURATION_FORM}, got the number {number} \
                         (a number is not a duration: write it as a string with a unit, e.g. \"{number}s\")"
                    ),
                );
                return None;
            }
        };
        if floor == Floor::Positive && value.is_zero() {
            self.report(path, format!("must be greater than 0, got {shown}"));
            return None;
        }
        Some(Dur { value, shown })
    }

    /// A probability in `0.0..=1.0`; `None` back when absent or reported.
    fn probability(&mut self, path: &str, v: Option<f64>) -> Option<f64> {
        let v = v?;
        if (0.0..=1.0).contains(&v) {
            Some(v)
        } else {
            self.report(path, format!("must be within 0.0..=1.0, got {v}"));
            None
        }
    }

    /// A finite number above (or, with `zero_ok`, at least) 0.
    fn positive_number(&mut self, path: &str, v: f64, zero_ok: bool) -> Option<f64> {
        let ok = v.is_finite() && (v > 0.0 || (zero_ok && v == 0.0));
        if ok {
            return Some(v);
        }
        let bound = if zero_ok { ">= 0" } else { "greater than 0" };
        self.report(path, format!("must be a number {bound}, got {v}"));
        None
    }

    /// An integer of at least `min` (and at most `max`).
    fn integer(&mut self, path: &str, v: i64, min: i64, max: i64) -> Option<i64> {
        if v < min {
            let bound = if min == 1 {
                "greater than 0".to_owned()
            } else {
                format!(">= {min}")
            };
            self.report(path, format!("must be {bound}, got {v}"));
            None
        } else if v > max {
            self.report(path, format!("must be at most {max}, got {v}"));
            None
        } else {
            Some(v)
        }
    }

    fn scenario(&mut self, raw: &RawScenario) -> Scenario {
        let name = match &raw.name {
            None => {
                self.missing("name", &format!(r#"a name such as "smoke" ({NAME_FORM})"#));
                String::new()
            }
            Some(n) => {
                let ok = !n.is_empty()
                    && n.chars()
                        .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
                if !ok {
                    self.report(
                        "name",
                        format!(
                            "expected only {NAME_FORM} (it names the report folder), got {n:?}"
                        ),
                    );
                }
                n.clone()
            }
        };
        let seed = raw.seed.map_or(Some(DEFAULT_SEED), |s| {
            self.integer("seed", s, 0, i64::MAX).map(|s| s as u64)
        });
        let before_load = self.problems.len();
        let capacity = raw.capacity.as_ref().map(|c| self.capacity(c));
        let load = match &capacity {
            Some(c) => Some(self.capacity_load(raw.load.as_ref(), c)),
            None => self.load(raw.load.as_ref()),
        };
        let load_ok = self.problems.len() == before_load;
        if let Some(l) = load.as_ref().filter(|_| load_ok) {
            self.plans_checkouts(&l.profile, capacity.is_some());
            self.ceilings(&l.profile, capacity.as_ref());
        }
        let orders = self.orders(raw);
        let (provider, hold) = self.provider(raw);
        // Only a valid load duration bounds the windows; a bad one is reported already.
        // Profiles without a `duration` key are measured once they are valid.
        let load_duration = raw
            .load
            .as_ref()
            .and_then(|l| match &l.duration {
                Some(RawDuration::Text(t)) => parse_duration(t),
                _ => None,
            })
            .or_else(|| {
                let derived = load.as_ref().filter(|_| load_ok)?;
                matches!(derived.profile, Profile::Steps { .. } | Profile::Stages(_))
                    .then(|| derived.profile.duration())
            })
            .filter(|d| !d.is_zero());
        let faults = self.faults(&raw.faults, load_duration);
        let (provider, hold, faults, routing) =
            self.channels(raw, load_duration, (provider, hold, faults));
        let webhooks = self.webhooks(raw, seed.unwrap_or(DEFAULT_SEED), provider.dialect);
        let (merchant, provider_timeout) = self.merchant(raw);
        if let (Some(hold), Some(pt)) = (hold, provider_timeout) {
            if hold.value <= pt.value {
                self.report(
                    "provider.hold",
                    format!(
                        "must exceed merchant.provider_timeout ({}) so that timeout faults \
                         time the merchant out, got {}",
                        pt.shown, hold.shown
                    ),
                );
            }
        }
        let drain = DrainSpec {
            timeout: self
                .duration(
                    "drain.timeout",
                    raw.drain.timeout.as_ref(),
                    Some(DEFAULT_DRAIN_TIMEOUT),
                    Floor::Positive,
                )
                .map_or(DEFAULT_DRAIN_TIMEOUT, |d| d.value),
        };
        let g = &raw.gates;
        let (alarm, alarm_delay_s_max, alarm_missed_max) = self.alarm(raw);
        let gates = GateSpec {
            success_rate_min: self.probability("gates.success_rate_min", g.success_rate_min),
            p99_ms_max: g
                .p99_ms_max
                .and_then(|v| self.positive_number("gates.p99_ms_max", v, false)),
            shed_max: g
                .shed_max
                .and_then(|v| self.integer("gates.shed_max", v, 0, i64::MAX))
                .map(|v| v as u64),
            verification: g.verification.unwrap_or(true),
            recovery_s_max: g
                .recovery_s_max
                .and_then(|v| self.positive_number("gates.recovery_s_max", v, true)),
            webhook_ack_p99_ms_max: g
                .webhook_ack_p99_ms_max
                .and_then(|v| self.positive_number("gates.webhook_ack_p99_ms_max", v, false)),
            alarm_delay_s_max,
            alarm_missed_max,
        };
        if gates.recovery_s_max.is_some() && raw.faults.windows.is_empty() {
            self.report(
                "gates.recovery_s_max",
                "needs at least one [[faults.windows]] to measure recovery after",
            );
        }
        let recovery = self.recovery(&raw.recovery);
        let thresholds = self.thresholds(&raw.thresholds);
        let card_testing = self.card_testing(raw);
        let shard = self.shard(&raw.shard);
        let external_provider =
            self.provider_kind(raw, matches!(merchant, MerchantSpec::External(_)));
        let provider = ProviderSpec {
            external: external_provider,
            ..provider
        };
        let journeys = self.journeys(raw);
        Scenario {
            name,
            seed: seed.unwrap_or(DEFAULT_SEED),
            load: load.unwrap_or_else(|| LoadSpec {
                profile: Profile::Constant {
                    rate: 1.0,
                    duration: Duration::from_secs(1),
                },
                max_in_flight: NonZeroUsize::MIN,
                connections: Connections::Auto,
                request_timeout: DEFAULT_REQUEST_TIMEOUT,
                run_id: None,
            }),
            orders,
            provider,
            faults,
            routing,
            webhooks,
            merchant,
            drain,
            gates,
            capacity,
            recovery,
            thresholds,
            alarm,
            overrides: Vec::new(),
            card_testing,
            shard,
            journeys,
        }
    }

    /// `[load]`; `None` back only when the table is missing. The profile-specific keys of
    /// `steps`, `spike` and `stages` are checked in `load.rs`.
    fn load(&mut self, raw: Option<&RawLoad>) -> Option<LoadSpec> {
        let Some(raw) = raw else {
            self.report(
                "load",
                "required table is missing: expected [load] with profile, duration and \
                 rate (profile \"constant\"), or another profile with its keys, or a \
                 [capacity] table",
            );
            return None;
        };
        let profile = raw.profile.as_deref();
        // Steps and stages have a length of their own; every other profile needs one.
        let duration = if matches!(profile, Some("steps" | "stages")) {
            if raw.duration.is_some() {
                self.report(
                    "load.duration",
                    format!(
                        "not allowed with profile {:?}: its length follows from {}",
                        profile.unwrap_or_default(),
                        load::takes(profile.unwrap_or_default())
                    ),
                );
            }
            Duration::from_secs(1)
        } else {
            self.duration(
                "load.duration",
                raw.duration.as_ref(),
                None,
                Floor::Positive,
            )
            .map_or(Duration::from_secs(1), |d| d.value)
        };
        if let Some(p) = profile.filter(|p| load::PROFILES.contains(p)) {
            self.keys_of_other_profiles(raw, p);
        }
        let required_number = |c: &mut Self, key: &str, v: Option<f64>, zero_ok: bool| {
            let path = format!("load.{key}");
            match v {
                None => {
                    c.missing(&path, "a number of checkouts per second");
                    1.0
                }
                Some(v) => c.positive_number(&path, v, zero_ok).unwrap_or(1.0),
            }
        };
        let profile = match profile {
            Some("constant") => {
                let rate = required_number(self, "rate", raw.rate, false);
                Profile::Constant { rate, duration }
            }
            Some("ramp") => {
                let from = required_number(self, "from", raw.from, true);
                let to = required_number(self, "to", raw.to, false);
                Profile::Ramp { from, to, duration }
            }
            Some("steps") => self.steps(raw),
            Some("spike") => self.spike(raw, duration),
            Some("stages") => self.stages(raw),
            other => {
                let expected = load::PROFILES_SHOWN;
                match other {
                    None => self.missing("load.profile", expected),
                    Some(p) => {
                        self.report("load.profile", format!("expected {expected}, got {p:?}"))
                    }
                }
                Profile::Constant {
                    rate: 1.0,
                    duration,
                }
            }
        };
        let (max_in_flight, connections, request_timeout) = self.load_limits(raw);
        Some(LoadSpec {
            profile,
            max_in_flight,
            connections,
            request_timeout,
            run_id: self.run_id(raw),
        })
    }

    /// `load.max_in_flight`, `load.connections` and `load.request_timeout`, shared by every
    /// kind of run.
    fn load_limits(&mut self, raw: &RawLoad) -> (NonZeroUsize, Connections, Duration) {
        let max_in_flight = self
            .integer(
                "load.max_in_flight",
                raw.max_in_flight.unwrap_or(DEFAULT_MAX_IN_FLIGHT),
                1,
                i64::MAX,
            )
            .and_then(|v| NonZeroUsize::new(usize::try_from(v).ok()?))
            .unwrap_or(NonZeroUsize::MIN);
        let request_timeout = self
            .duration(
                "load.request_timeout",
                raw.request_timeout.as_ref(),
                Some(DEFAULT_REQUEST_TIMEOUT),
                Floor::Positive,
            )
            .map_or(DEFAULT_REQUEST_TIMEOUT, |d| d.value);
        let connections = self.connections(raw.connections.as_ref());
        (max_in_flight, connections, request_timeout)
    }

    fn orders(&mut self, raw: &RawScenario) -> OrderSpec {
        let o = &raw.orders;
        let min = self.integer(
            "orders.amount_min",
            o.amount_min.unwrap_or(DEFAULT_AMOUNT_MIN),
            1,
            i64::MAX,
        );
        let max = o.amount_max.unwrap_or(DEFAULT_AMOUNT_MAX);
        if let Some(min) = min {
            if max < min {
                let shown = match o.amount_min {
                    Some(_) => min.to_string(),
                    None => format!("{min}, the default"),
                };
                self.report(
                    "orders.amount_max",
                    format!("must be >= amount_min ({shown}), got {max}"),
                );
            }
        }
        let currency = o.currency.as_deref().unwrap_or(DEFAULT_CURRENCY);
        if currency.len() != 3 || !currency.bytes().all(|b| b.is_ascii_lowercase()) {
            self.report(
                "orders.currency",
                format!(r#"expected three lower-case letters such as "usd", got {currency:?}"#),
            );
        }
        let payment_method = o
            .payment_method
            .as_deref()
            .unwrap_or(DEFAULT_PAYMENT_METHOD);
        if payment_method.is_empty() {
            self.report(
                "orders.payment_method",
                r#"must not be empty: expected a payment method such as "pm_card_visa""#,
            );
        }
        OrderSpec {
            amount_min: min.unwrap_or(1) as u64,
            amount_max: max.max(0) as u64,
            currency: currency.to_owned(),
            payment_method: payment_method.to_owned(),
        }
    }

    /// `[provider]`, and `hold` for the cross-check with the merchant's timeout.
    fn provider(&mut self, raw: &RawScenario) -> (ProviderSpec, Option<Dur>) {
        let p = &raw.provider;
        let dialect = match p.dialect.as_deref() {
            None => defaults::DIALECT,
            Some(d) => Dialect::parse(d).unwrap_or_else(|| {
                self.report(
                    "provider.dialect",
                    format!(r#"expected "stripe" or "gateway", got {d:?}"#),
                );
                Dialect::Stripe
            }),
        };
        let hold = self.duration(
            "provider.hold",
            p.hold.as_ref(),
            Some(DEFAULT_HOLD),
            Floor::Positive,
        );
        let spec = ProviderSpec {
            dialect,
            hold: hold.as_ref().map_or(DEFAULT_HOLD, |d| d.value),
            listen: self.provider_listen(p.listen.as_deref()),
            max_in_flight: self.provider_max_in_flight(p.max_in_flight),
            // Settled by `provider_kind` once the merchant's kind is known.
            external: None,
        };
        (spec, hold)
    }

    /// `provider.max_in_flight`: at least 1.
    fn provider_max_in_flight(&mut self, raw: Option<i64>) -> NonZeroUsize {
        let default = defaults::PROVIDER_MAX_IN_FLIGHT;
        let Some(v) = raw else {
            return default;
        };
        self.integer("provider.max_in_flight", v, 1, i64::MAX)
            .and_then(|v| NonZeroUsize::new(usize::try_from(v).ok()?))
            .unwrap_or(default)
    }

    /// `[merchant]`, and `provider_timeout` for the cross-check with the provider's hold.
    fn merchant(&mut self, raw: &RawScenario) -> (MerchantSpec, Option<Dur>) {
        let m = &raw.merchant;
        match m.kind.as_deref() {
            None | Some("reference") => self.no_contract_keys(m),
            // No provider_timeout: the hold cross-check is the external merchant's business.
            Some("external") => return (self.external(raw), None),
            Some(k) => self.report(
                "merchant.kind",
                format!(r#"expected "reference" or "external", got {k:?}"#),
            ),
        }
        let dur = |c: &mut Self, key: &str, raw, default, floor| {
            c.duration(&format!("merchant.{key}"), raw, Some(default), floor)
        };
        let provider_timeout = dur(
            self,
            "provider_timeout",
            m.provider_timeout.as_ref(),
            defaults::REFERENCE.provider_timeout,
            Floor::Positive,
        );
        let retry_backoff = dur(
            self,
            "retry_backoff",
            m.retry_backoff.as_ref(),
            defaults::REFERENCE.retry_backoff,
            Floor::Zero,
        );
        let reconcile_every = dur(
            self,
            "reconcile_every",
            m.reconcile_every.as_ref(),
            defaults::REFERENCE.reconcile_every,
            Floor::Positive,
        );
        let pending_grace = dur(
            self,
            "pending_grace",
            m.pending_grace.as_ref(),
            defaults::REFERENCE.pending_grace,
            Floor::Zero,
        );
        let max_retries = self.integer(
            "merchant.max_retries",
            m.max_retries
                .unwrap_or(i64::from(defaults::REFERENCE.max_retries)),
            0,
            i64::from(u32::MAX),
        );
        let flaws = self.flaws(m.flaws.as_deref().unwrap_or_default());
        let breaker_failures = m
            .breaker_failures
            .and_then(|n| self.integer("merchant.breaker_failures", n, 1, i64::from(u32::MAX)));
        let breaker_cooldown = dur(
            self,
            "breaker_cooldown",
            m.breaker_cooldown.as_ref(),
            defaults::BREAKER_COOLDOWN,
            Floor::Positive,
        );
        if m.breaker_cooldown.is_some() && m.breaker_failures.is_none() {
            self.report(
                "merchant.breaker_cooldown",
                "only with merchant.breaker_failures, which switches the circuit breaker on",
            );
        }
        let value = |d: &Option<Dur>| d.as_ref().map_or(Duration::ZERO, |d| d.value);
        let breaker = breaker_failures.map(|f| BreakerConfig {
            failures: f as u32,
            cooldown: value(&breaker_cooldown),
        });
        let spec = MerchantSpec::Reference(ReferenceSpec {
            provider_timeout: value(&provider_timeout),
            max_retries: max_retries.unwrap_or(0) as u32,
            retry_backoff: value(&retry_backoff),
            reconcile_every: value(&reconcile_every),
            pending_grace: value(&pending_grace),
            flaws,
            breaker,
        });
        (spec, provider_timeout)
    }

    /// `merchant.flaws`: known names, each at most once.
    fn flaws(&mut self, names: &[String]) -> Flaws {
        let mut flaws = Flaws::NONE;
        for (i, name) in names.iter().enumerate() {
            let path = format!("merchant.flaws[{i}]");
            match Flaw::parse(name) {
                Some(f) if flaws.has(f) => {
                    self.report(&path, format!("{name:?} is listed twice"));
                }
                Some(f) => flaws = flaws.with(f),
                None => self.report(
                    &path,
                    format!(
                        "unknown flaw {name:?}: expected one of {}",
                        Flaw::accepted()
                    ),
                ),
            }
        }
        flaws
    }
}
