//! The journey keys of validation: `[customers]` (rates in `0.0..=1.0`, the four journeys
//! summing to 1), `faults.requires_action` and `provider.challenge_expiry`.

use super::{Checker, Floor};
use crate::scenario::customers::{
    CustomerSpec, Journey, JourneySpec, DEFAULT_CHALLENGE_EXPIRY, DEFAULT_CUSTOMERS,
};
use crate::scenario::raw::RawScenario;

/// How far the journey rates may miss 1 (they are written as decimals).
const SUM_SLACK: f64 = 1e-9;

impl Checker {
    pub(super) fn journeys(&mut self, raw: &RawScenario) -> JourneySpec {
        let requires_action = self
            .probability("faults.requires_action", raw.faults.requires_action)
            .unwrap_or(0.0);
        let challenge_expiry = self
            .duration(
                "provider.challenge_expiry",
                raw.provider.challenge_expiry.as_ref(),
                Some(DEFAULT_CHALLENGE_EXPIRY),
                Floor::Positive,
            )
            .map_or(DEFAULT_CHALLENGE_EXPIRY, |d| d.value);
        JourneySpec {
            requires_action,
            challenge_expiry,
            customers: self.customers(raw),
        }
    }

    fn customers(&mut self, raw: &RawScenario) -> CustomerSpec {
        let c = &raw.customers;
        let d = DEFAULT_CUSTOMERS;
        let given = [c.completes, c.fails, c.abandons, c.never_returns];
        let mut p = |key: &str, v: Option<f64>, default: f64| {
            self.probability(&format!("customers.{key}"), v)
                .unwrap_or(if v.is_some() { 0.0 } else { default })
        };
        // Written rates replace the defaults as a whole: a table naming only some journeys
        // leaves the others at 0, so the sum the author wrote is the sum checked.
        let any = given.iter().any(Option::is_some);
        let rate = |v: Option<f64>, default: f64| {
            if any {
                v.or(Some(0.0))
            } else {
                v.or(Some(default))
            }
        };
        let spec = CustomerSpec {
            completes: p("completes", rate(c.completes, d.completes), d.completes),
            fails: p("fails", rate(c.fails, d.fails), d.fails),
            abandons: p("abandons", rate(c.abandons, d.abandons), d.abandons),
            never_returns: p(
                "never_returns",
                rate(c.never_returns, d.never_returns),
                d.never_returns,
            ),
            retries_with_another_card: p(
                "retries_with_another_card",
                c.retries_with_another_card,
                d.retries_with_another_card,
            ),
            forged_returns: p("forged_returns", c.forged_returns, d.forged_returns),
        };
        let sum: f64 = Journey::ALL.iter().map(|&j| spec.rate(j)).sum();
        if any && (sum - 1.0).abs() > SUM_SLACK {
            let names: Vec<&str> = Journey::ALL.iter().map(|j| j.as_str()).collect();
            self.report(
                "customers",
                format!(
                    "the journey rates {} must sum to 1 (each order that meets a challenge \
                     takes exactly one), got {sum}",
                    names.join(" + ")
                ),
            );
        }
        spec
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::{assert_problem, ok, problems_with, MINIMAL};
    use crate::scenario::customers::{DEFAULT_CHALLENGE_EXPIRY, DEFAULT_CUSTOMERS};
    use std::time::Duration;

    #[test]
    fn journeys_default_without_keys_and_read_them_when_given() {
        let s = ok(MINIMAL);
        assert_eq!(s.journeys.customers, DEFAULT_CUSTOMERS);
        assert_eq!(s.journeys.challenge_expiry, DEFAULT_CHALLENGE_EXPIRY);
        assert_eq!(s.journeys.requires_action, 0.0);
        let s = ok(&format!(
            "{MINIMAL}\n[customers]\ncompletes = 0.5\nabandons = 0.5\nforged_returns = 0.1\n"
        ));
        let c = s.journeys.customers;
        assert_eq!(
            (c.completes, c.fails, c.abandons, c.never_returns),
            (0.5, 0.0, 0.5, 0.0)
        );
        assert_eq!(c.forged_returns, 0.1);
        assert_eq!(c.retries_with_another_card, 0.0, "off unless asked for");
        let s = ok(&format!(
            "{MINIMAL}\n[customers]\nretries_with_another_card = 0.25\n"
        ));
        assert_eq!(s.journeys.customers.retries_with_another_card, 0.25);
        let all = problems_with("\n[customers]\nretries_with_another_card = -1.0\n");
        assert_problem(&all, "customers.retries_with_another_card", "0.0..=1.0");
    }

    #[test]
    fn journey_rates_must_sum_to_one_and_each_be_a_probability() {
        let all =
            problems_with("\n[customers]\ncompletes = 0.5\nfails = 0.2\nforged_returns = 1.5\n");
        assert_problem(&all, "customers", "must sum to 1");
        assert_problem(&all, "customers.forged_returns", "0.0..=1.0");
    }

    #[test]
    fn requires_action_and_challenge_expiry_are_checked_with_their_paths() {
        let all = problems_with(
            "\n[faults]\nrequires_action = 2.0\n[provider]\nchallenge_expiry = \"0s\"\n",
        );
        assert_problem(&all, "faults.requires_action", "0.0..=1.0");
        assert_problem(&all, "provider.challenge_expiry", "greater than 0");
        let fine = ok(&format!(
            "{MINIMAL}\n[faults]\nrequires_action = 0.25\n[provider]\nchallenge_expiry = \"2s\"\n"
        ));
        assert_eq!(fine.journeys.requires_action, 0.25);
        assert_eq!(fine.journeys.challenge_expiry, Duration::from_secs(2));
    }
}
