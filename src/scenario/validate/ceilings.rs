//! The ceilings of a load plan: the highest rate, the longest load and the most checkouts one
//! run may plan. Beyond them a plan is refused before anything starts, naming the key and
//! the ceiling: the harness does work per second of load and per checkout sent, and a plan
//! past these is a typo or more than one process can offer (the README lists them). Checked
//! on the validated profile, in closed form: nothing here walks the planned checkouts.

use std::time::Duration;

use super::{show, Checker};
use crate::scenario::{CapacitySpec, Profile};

/// The most checkouts one run may plan.
pub const MAX_CHECKOUTS: u64 = 50_000_000;
/// The highest rate any rate key may offer, per second.
pub const MAX_RATE: f64 = 1_000_000.0;
/// The longest load one run may offer: the report keeps figures per second of it.
pub const MAX_LOAD_DURATION: Duration = Duration::from_secs(24 * 60 * 60);

/// Slack for float sums, as the schedule's: 49.999999999 checkouts are 50.
const EPS: f64 = 1e-9;

/// The rate keys of a profile (of `[capacity]` in a capacity run) with their values.
fn rate_keys(profile: &Profile, capacity: Option<&CapacitySpec>) -> Vec<(String, f64)> {
    let key = |k: &str, v: f64| (k.to_string(), v);
    if let Some(c) = capacity {
        return vec![
            key("capacity.start", c.start),
            key("capacity.max_rate", c.max_rate),
        ];
    }
    match profile {
        Profile::Constant { rate, .. } => vec![key("load.rate", *rate)],
        Profile::Ramp { from, to, .. } => vec![key("load.from", *from), key("load.to", *to)],
        Profile::Steps { start, until, .. } => {
            vec![key("load.start", *start), key("load.until", *until)]
        }
        Profile::Spike { base, peak, .. } => vec![key("load.base", *base), key("load.peak", *peak)],
        Profile::Stages(stages) => stages
            .iter()
            .enumerate()
            .map(|(i, s)| (format!("load.stages[{i}]"), s.from.max(s.to)))
            .collect(),
    }
}

/// The key that sets how long the load lasts.
fn length_key(profile: &Profile, capacity: Option<&CapacitySpec>) -> &'static str {
    match (profile, capacity) {
        (_, Some(_)) => "capacity.every",
        (Profile::Steps { .. }, None) => "load.every",
        (Profile::Stages(_), None) => "load.stages",
        _ => "load.duration",
    }
}

impl Checker {
    /// Refuses a valid `profile` (of `capacity`, in a capacity run) beyond a ceiling.
    pub(super) fn ceilings(&mut self, profile: &Profile, capacity: Option<&CapacitySpec>) {
        let before = self.problems.len();
        for (path, rate) in rate_keys(profile, capacity) {
            if rate > MAX_RATE {
                self.report(
                    &path,
                    format!(
                        "must be at most {MAX_RATE} checkouts per second (the ceiling of a \
                         run's rate), got {rate}"
                    ),
                );
            }
        }
        let length = profile.duration();
        let key = length_key(profile, capacity);
        if length > MAX_LOAD_DURATION {
            self.report(
                key,
                format!(
                    "the load lasts {}, longer than the ceiling of {} (24 h) per run: \
                     split it into several runs",
                    show(length),
                    show(MAX_LOAD_DURATION)
                ),
            );
        }
        // Past another ceiling the count says nothing more.
        if self.problems.len() > before {
            return;
        }
        let planned = (profile.checkouts() + EPS).floor();
        if planned > MAX_CHECKOUTS as f64 {
            self.report(
                key,
                format!(
                    "the load plans {planned:.0} checkouts over {}, more than the ceiling of \
                     {MAX_CHECKOUTS} per run: shorten it or lower its rate",
                    show(length)
                ),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::{assert_problem, ok, problems};

    fn constant(rate: &str, duration: &str) -> String {
        format!(
            "name = \"t\"\n[load]\nprofile = \"constant\"\nrate = {rate}\nduration = \"{duration}\"\n"
        )
    }

    #[test]
    fn a_rate_beyond_the_ceiling_is_refused_at_its_key() {
        let all = problems(&constant("1e12", "1s"));
        assert_eq!(
            all,
            [
                "load.rate: must be at most 1000000 checkouts per second (the ceiling of a run's \
              rate), got 1000000000000"
            ],
            "the count past it is not reported too"
        );
        let all = problems(
            "name = \"t\"\n[load]\nprofile = \"spike\"\nbase = 10\npeak = 2e6\nat = \"1s\"\n\
             for = \"1s\"\nduration = \"5s\"\n",
        );
        assert_problem(
            &all,
            "load.peak",
            "must be at most 1000000 checkouts per second",
        );
        let all = problems(
            "name = \"t\"\n[load]\nprofile = \"stages\"\nstages = [\n  { rate = 5, duration = \"1s\" },\n  \
             { from = 10, to = 1e7, duration = \"1s\" },\n]\n",
        );
        assert_eq!(all.len(), 1, "{all:?}");
        assert_problem(&all, "load.stages[1]", "got 10000000");
        let all = problems(
            "name = \"cap\"\n[capacity]\nstart = 100\nstep = 100000\nevery = \"1s\"\n\
             max_rate = 1500000\np99_ms = 250\nsuccess_rate = 0.9\n",
        );
        assert_problem(
            &all,
            "capacity.max_rate",
            "at most 1000000 checkouts per second",
        );
    }

    #[test]
    fn a_plan_beyond_the_checkout_ceiling_is_refused_with_the_ceiling() {
        // 10/s for a billion seconds is past both the length and the count ceilings; the
        // length is what to fix first.
        let all = problems(&constant("10", "1000000000s"));
        assert_eq!(
            all,
            [
                "load.duration: the load lasts 1000000000s, longer than the ceiling of 86400s \
              (24 h) per run: split it into several runs"
            ]
        );
        // 1 M/s for 51 s: each within its ceiling, the count past it.
        let all = problems(&constant("1000000", "51s"));
        assert_eq!(
            all,
            [
                "load.duration: the load plans 51000000 checkouts over 51s, more than the \
              ceiling of 50000000 per run: shorten it or lower its rate"
            ]
        );
        let all = problems(
            "name = \"t\"\n[load]\nprofile = \"steps\"\nstart = 100000\nstep = 100000\n\
             every = \"60s\"\nuntil = 1000000\n",
        );
        assert_problem(
            &all,
            "load.every",
            "more than the ceiling of 50000000 per run",
        );
    }

    #[test]
    fn plans_at_the_ceilings_are_valid() {
        // Exactly 50 M checkouts at exactly 1 M/s, and a day at a low rate.
        let s = ok(&constant("1000000", "50s"));
        assert_eq!(s.load.profile.checkouts(), 50_000_000.0);
        ok(&constant("500", "1440m"));
        // A ramp to the top rate whose count just fits: (0 + 1 M) / 2 × 100 s.
        ok("name = \"t\"\n[load]\nprofile = \"ramp\"\nfrom = 0\nto = 1000000\nduration = \"100s\"\n");
    }
}
