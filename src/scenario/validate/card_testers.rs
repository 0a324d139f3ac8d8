//! `[card_testers]`, `[provider.velocity]` and `[merchant.velocity]` → [`CardTesting`]:
//! ranges, the defaults, and the rule that one burst fits inside each velocity window (so
//! that a verdict depends on an attempt's place in its burst, never on how fast a busy
//! machine sent the burst).

use super::{Checker, Floor};
use crate::scenario::card_testers::{CardTesting, TesterSpec, VelocityRules, TESTER_CARDS};
use crate::scenario::raw::{RawCardTesters, RawScenario, RawVelocity};
use std::time::Duration;

/// Checkouts per burst when `burst` is not given.
pub const DEFAULT_BURST: u32 = 10;
/// Cards one burst rotates through when `cards` is not given (at most the burst).
pub const DEFAULT_CARDS: u32 = 5;
/// Between two attempts of a burst when `interval` is not given.
pub const DEFAULT_INTERVAL: Duration = Duration::from_millis(50);
/// The largest burst: a tester sends one attempt after another, so a longer one is a
/// separate load of its own.
pub const MAX_BURST: i64 = 1_000;
/// Bursts per second at most (each burst is one customer and one client address).
pub const MAX_RATE: f64 = 100.0;
/// The velocity window when `window` is not given.
pub const DEFAULT_WINDOW: Duration = Duration::from_secs(60);

impl Checker {
    pub(super) fn card_testing(&mut self, raw: &RawScenario) -> CardTesting {
        let testers = raw.card_testers.as_ref().and_then(|t| self.testers(t));
        let provider = raw
            .provider
            .velocity
            .as_ref()
            .and_then(|v| self.velocity("provider.velocity", v));
        let merchant = raw
            .merchant
            .velocity
            .as_ref()
            .and_then(|v| self.velocity("merchant.velocity", v));
        if let Some(t) = &testers {
            for (path, rules) in [
                ("provider.velocity", &provider),
                ("merchant.velocity", &merchant),
            ] {
                if let Some(r) = rules.filter(|r| t.span() >= r.window) {
                    self.report(
                        &format!("{path}.window"),
                        format!(
                            "must be longer than one card-tester burst ((card_testers.burst - 1) × \
                             card_testers.interval = {}), got {}: a burst must fit in the window \
                             for verdicts to follow each attempt's place in it",
                            super::show(t.span()),
                            super::show(r.window)
                        ),
                    );
                }
            }
        }
        CardTesting {
            testers,
            provider,
            merchant,
        }
    }

    /// `None` back when off (rate 0) or reported.
    fn testers(&mut self, raw: &RawCardTesters) -> Option<TesterSpec> {
        let rate = match raw.rate {
            None => {
                self.missing("card_testers.rate", "bursts per second, e.g. 0.5 (0: off)");
                None
            }
            Some(r) if r.is_finite() && (0.0..=MAX_RATE).contains(&r) => Some(r),
            Some(r) => {
                self.report(
                    "card_testers.rate",
                    format!("must be a number within 0..={MAX_RATE} (bursts per second), got {r}"),
                );
                None
            }
        };
        let burst = match raw.burst {
            None => Some(DEFAULT_BURST),
            Some(b) => self
                .integer("card_testers.burst", b, 1, MAX_BURST)
                .map(|b| b as u32),
        };
        let cards = match (raw.cards, burst) {
            (None, Some(b)) => Some(DEFAULT_CARDS.min(b)),
            (None, None) => None,
            (Some(c), b) => {
                let max = b.map_or(MAX_BURST, i64::from);
                let checked = self.integer("card_testers.cards", c, 1, TESTER_CARDS.len() as i64);
                if checked.is_some() && c > max {
                    self.report(
                        "card_testers.cards",
                        format!("must be at most card_testers.burst ({max}), got {c}"),
                    );
                    None
                } else {
                    checked.map(|c| c as u32)
                }
            }
        };
        let interval = self.duration(
            "card_testers.interval",
            raw.interval.as_ref(),
            Some(DEFAULT_INTERVAL),
            Floor::Zero,
        );
        let (rate, burst, cards, interval) = (rate?, burst?, cards?, interval?);
        (rate > 0.0).then_some(TesterSpec {
            rate,
            burst,
            cards,
            interval: interval.value,
        })
    }

    fn velocity(&mut self, path: &str, raw: &RawVelocity) -> Option<VelocityRules> {
        let window = self.duration(
            &format!("{path}.window"),
            raw.window.as_ref(),
            Some(DEFAULT_WINDOW),
            Floor::Positive,
        );
        let mut limit = |key: &str, v: Option<i64>| {
            v.and_then(|v| self.integer(&format!("{path}.{key}"), v, 1, i64::from(u32::MAX)))
                .map(|v| v as u32)
        };
        let max_attempts = limit("max_attempts", raw.max_attempts);
        let max_cards = limit("max_cards", raw.max_cards);
        let max_declines = limit("max_declines", raw.max_declines);
        if raw.max_attempts.is_none() && raw.max_cards.is_none() && raw.max_declines.is_none() {
            self.report(
                path,
                "sets no limit: expected at least one of max_attempts, max_cards, max_declines \
                 (integers > 0), or leave the table out",
            );
            return None;
        }
        Some(VelocityRules {
            window: window?.value,
            max_attempts,
            max_cards,
            max_declines,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::{assert_problem, ok, problems_with, MINIMAL};
    use super::*;

    #[test]
    fn testers_and_limits_are_off_unless_given_and_take_their_defaults() {
        assert_eq!(ok(MINIMAL).card_testing, CardTesting::default());
        let s = ok(&format!(
            "{MINIMAL}\n[card_testers]\nrate = 1\n\n[merchant.velocity]\nmax_attempts = 3\n"
        ));
        let t = s.card_testing.testers.expect("testers on");
        assert_eq!((t.burst, t.cards, t.interval), (10, 5, DEFAULT_INTERVAL));
        let m = s.card_testing.merchant.expect("limits declared");
        assert_eq!(
            (m.window, m.max_attempts, m.max_cards),
            (DEFAULT_WINDOW, Some(3), None)
        );
        assert_eq!(s.card_testing.provider, None);
        let off = ok(&format!("{MINIMAL}\n[card_testers]\nrate = 0\n"));
        assert_eq!(off.card_testing.testers, None);
    }

    #[test]
    fn every_bad_key_is_reported_at_once_with_its_path() {
        let all = problems_with(
            "\n[card_testers]\nrate = 500\nburst = 0\ncards = 9\ninterval = 5\n\
             \n[provider.velocity]\nwindow = \"1m\"\n\
             \n[merchant.velocity]\nmax_attempts = 0\n",
        );
        assert_problem(&all, "card_testers.rate", "within 0..=100");
        assert_problem(&all, "card_testers.burst", "greater than 0");
        assert_problem(&all, "card_testers.cards", "at most 8");
        assert_problem(&all, "card_testers.interval", "a number is not a duration");
        assert_problem(&all, "provider.velocity", "sets no limit");
        assert_problem(&all, "merchant.velocity.max_attempts", "greater than 0");
    }

    #[test]
    fn a_burst_must_fit_in_each_window() {
        let all = problems_with(
            "\n[card_testers]\nrate = 1\nburst = 11\ninterval = \"100ms\"\n\
             \n[merchant.velocity]\nwindow = \"1s\"\nmax_attempts = 3\n",
        );
        assert_problem(
            &all,
            "merchant.velocity.window",
            "must be longer than one card-tester burst",
        );
        assert_eq!(all.len(), 1, "{all:?}");
    }

    #[test]
    fn more_cards_than_attempts_is_refused() {
        let all = problems_with("\n[card_testers]\nrate = 1\nburst = 2\ncards = 3\n");
        assert_problem(&all, "card_testers.cards", "at most card_testers.burst (2)");
    }
}
