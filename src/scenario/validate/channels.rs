//! `[[providers]]`: several providers in routing order, each checked with the `[provider]`
//! and `[faults]` rules under its own key path (`providers[1].faults.windows[0].end`), plus
//! what only a list can get wrong: names (required, unique), listen addresses (unique), the
//! count, and mixing the list with `[provider]` / `[faults]`. Extends the parent's `Checker`.

use std::collections::HashMap;
use std::time::Duration;

use super::{Checker, Dur, NAME_FORM};
use crate::chaos::FaultPlan;
use crate::net::parse_addr;
use crate::scenario::channels::{Channel, Routing, MAX_PROVIDERS};
use crate::scenario::raw::{RawChannel, RawFaults, RawScenario};
use crate::scenario::ProviderSpec;

/// The primary as `[provider]` and `[faults]` gave it (the first three), and its hold.
type Primary = (ProviderSpec, Option<Dur>, FaultPlan);

impl Checker {
    /// The routing of `raw`: with no `[[providers]]`, `single` (the checked `[provider]` and
    /// `[faults]`) and no backups; else the first entry is the primary and the rest backups.
    pub(super) fn channels(
        &mut self,
        raw: &RawScenario,
        load_duration: Option<Duration>,
        single: Primary,
    ) -> (ProviderSpec, Option<Dur>, FaultPlan, Routing) {
        let gates = self.channel_gates(raw);
        if raw.providers.is_empty() {
            let (p, hold, f) = single;
            return (p, hold, f, Routing::default());
        }
        self.not_both(raw);
        if raw.providers.len() > MAX_PROVIDERS {
            self.report(
                "providers",
                format!(
                    "at most {MAX_PROVIDERS} providers are accepted, got {}",
                    raw.providers.len()
                ),
            );
        }
        let mut names: HashMap<&str, usize> = HashMap::new();
        let mut listens: HashMap<std::net::SocketAddr, usize> = HashMap::new();
        let mut checked = Vec::new();
        for (i, entry) in raw.providers.iter().enumerate().take(MAX_PROVIDERS) {
            let name = self.channel_name(i, entry, &mut names);
            if let Some(addr) = entry.listen.as_deref().and_then(|l| parse_addr(l).ok()) {
                if addr.port() != 0 {
                    if let Some(first) = listens.insert(addr, i) {
                        self.report(
                            &format!("providers[{i}].listen"),
                            format!(
                                "{addr} is providers[{first}]'s address too: each provider \
                                 needs its own port (or port 0, any free one)"
                            ),
                        );
                    }
                }
            }
            let (provider, hold, faults) = self.one_channel(i, entry, load_duration);
            checked.push((name, provider, hold, faults));
        }
        let mut rest = checked.into_iter();
        let (primary, provider, hold, faults) = rest.next().expect("one entry at least");
        let backups = rest
            .map(|(name, provider, _, faults)| Channel {
                name,
                provider,
                faults,
            })
            .collect();
        let (failover_s_max, failback_s_max) = gates;
        let routing = Routing {
            primary,
            backups,
            failover_s_max,
            failback_s_max,
        };
        (provider, hold, faults, routing)
    }

    /// `gates.failover_s_max` and `gates.failback_s_max`: positive seconds, and only with a
    /// backup (`[[providers]]` of two or more) whose primary has a fault window to time.
    fn channel_gates(&mut self, raw: &RawScenario) -> (Option<f64>, Option<f64>) {
        let g = &raw.gates;
        let one = |c: &mut Self, key: &str, v: Option<f64>| {
            let path = format!("gates.{key}");
            let v = v.and_then(|v| c.positive_number(&path, v, true))?;
            let primary_windows = raw
                .providers
                .first()
                .is_some_and(|p| !p.faults.windows.is_empty());
            if raw.providers.len() < 2 || !primary_windows {
                c.report(
                    &path,
                    "needs two or more [[providers]] (a primary and a backup) and a \
                     [[providers.faults.windows]] on the primary to time",
                );
            }
            Some(v)
        };
        let over = one(self, "failover_s_max", g.failover_s_max);
        let back = one(self, "failback_s_max", g.failback_s_max);
        (over, back)
    }

    /// `[provider]` or `[faults]` beside `[[providers]]`: one way to say it only.
    fn not_both(&mut self, raw: &RawScenario) {
        let p = &raw.provider;
        let provider_set = p.dialect.is_some()
            || p.hold.is_some()
            || p.listen.is_some()
            || p.max_in_flight.is_some();
        if provider_set {
            self.report(
                "provider",
                "not with [[providers]]: give the primary's keys in the first [[providers]] entry",
            );
        }
        if !faults_empty(&raw.faults) {
            self.report(
                "faults",
                "not with [[providers]]: give each provider's faults in its own \
                 [providers.faults] table (after its [[providers]] entry)",
            );
        }
    }

    /// `providers[i].name`: required, `[A-Za-z0-9_-]+`, unique.
    fn channel_name<'a>(
        &mut self,
        i: usize,
        entry: &'a RawChannel,
        names: &mut HashMap<&'a str, usize>,
    ) -> String {
        let path = format!("providers[{i}].name");
        let Some(name) = entry.name.as_deref() else {
            self.missing(
                &path,
                &format!(
                    r#"a name such as "stripe-main" ({NAME_FORM}); it names the channel in reports"#
                ),
            );
            return format!("provider-{i}");
        };
        let ok = !name.is_empty()
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
        if !ok {
            self.report(&path, format!("expected only {NAME_FORM}, got {name:?}"));
        } else if let Some(first) = names.insert(name, i) {
            self.report(
                &path,
                format!("{name:?} is providers[{first}]'s name too: each provider needs its own"),
            );
        }
        name.to_string()
    }

    /// One entry, checked by the `[provider]` and `[faults]` rules, its problems moved under
    /// `providers[i]`.
    fn one_channel(
        &mut self,
        i: usize,
        entry: &RawChannel,
        load_duration: Option<Duration>,
    ) -> Primary {
        let before = self.problems.len();
        let as_single = RawScenario {
            provider: entry.provider(),
            ..RawScenario::default()
        };
        let (provider, hold) = self.provider(&as_single);
        let faults = self.faults(&entry.faults, load_duration);
        for p in &mut self.problems[before..] {
            let moved = if let Some(rest) = p.path.strip_prefix("provider.") {
                Some(format!("providers[{i}].{rest}"))
            } else {
                p.path
                    .starts_with("faults")
                    .then(|| format!("providers[{i}].{}", p.path))
            };
            if let Some(m) = moved {
                p.path = m;
            }
        }
        (provider, hold, faults)
    }
}

/// Whether `[faults]` sets nothing.
fn faults_empty(f: &RawFaults) -> bool {
    f.rates.values().all(Option::is_none)
        && f.latency.is_none()
        && f.windows.is_empty()
        && f.targets.is_empty()
}
