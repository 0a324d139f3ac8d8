//! The load-shape part of validation beyond `constant` and `ramp`: the `steps`, `spike` and
//! `stages` profiles, which keys belong to which profile, the `[capacity]` table (a run that
//! steps up until the SLO breaks), `[recovery]` and the optional `load.run_id`. Extends the
//! parent's `Checker`.

use std::time::Duration;

use super::{show, Checker, Floor};
use crate::domain::RunId;
use crate::scenario::raw::{RawCapacity, RawLoad, RawRecovery};
use crate::scenario::{step_count, CapacitySpec, LoadSpec, Profile, RateStage, RecoverySpec};

/// Every profile word, in the order messages list them.
pub(super) const PROFILES: [&str; 5] = ["constant", "ramp", "steps", "spike", "stages"];
pub(super) const PROFILES_SHOWN: &str = r#""constant", "ramp", "steps", "spike" or "stages""#;

/// Each profile-specific `[load]` key and the profile it belongs to.
const PROFILE_KEYS: [(&str, &str); 12] = [
    ("rate", "constant"),
    ("from", "ramp"),
    ("to", "ramp"),
    ("start", "steps"),
    ("step", "steps"),
    ("every", "steps"),
    ("until", "steps"),
    ("base", "spike"),
    ("peak", "spike"),
    ("at", "spike"),
    ("for", "spike"),
    ("stages", "stages"),
];

/// More steps than this is surely a typo (and a schedule too long to run).
const MAX_STEPS: u32 = 10_000;

pub(super) const DEFAULT_TOLERANCE: f64 = 0.05;
pub(super) const DEFAULT_HOLD: Duration = Duration::from_secs(3);
pub(super) const DEFAULT_BASELINE: Duration = Duration::from_secs(10);
/// Without `settle`, this share of each capacity step is not judged.
const DEFAULT_SETTLE_SHARE: u32 = 4;

/// The keys a profile takes, for messages.
pub(super) fn takes(profile: &str) -> &'static str {
    match profile {
        "constant" => "rate",
        "ramp" => "from and to",
        "steps" => "start, step, every and until",
        "spike" => "base, peak, at and for",
        "stages" => "[[load.stages]] entries",
        _ => "its own keys",
    }
}

fn present(raw: &RawLoad, key: &str) -> bool {
    match key {
        "rate" => raw.rate.is_some(),
        "from" => raw.from.is_some(),
        "to" => raw.to.is_some(),
        "start" => raw.start.is_some(),
        "step" => raw.step.is_some(),
        "every" => raw.every.is_some(),
        "until" => raw.until.is_some(),
        "base" => raw.base.is_some(),
        "peak" => raw.peak.is_some(),
        "at" => raw.at.is_some(),
        "for" => raw.for_.is_some(),
        "stages" => raw.stages.is_some(),
        _ => false,
    }
}

impl Checker {
    /// Reports every key of another profile than `profile`.
    pub(super) fn keys_of_other_profiles(&mut self, raw: &RawLoad, profile: &str) {
        for (key, belongs) in PROFILE_KEYS {
            if belongs != profile && present(raw, key) {
                self.report(
                    &format!("load.{key}"),
                    format!(
                        "not allowed with profile {profile:?}: {key} belongs to profile \
                         {belongs:?} (profile {profile:?} takes {})",
                        takes(profile)
                    ),
                );
            }
        }
    }

    /// A rate key: `None` back when missing or reported.
    fn rate(&mut self, path: &str, v: Option<f64>, zero_ok: bool) -> Option<f64> {
        match v {
            None => {
                self.missing(path, "a number of checkouts per second");
                None
            }
            Some(v) => self.positive_number(path, v, zero_ok),
        }
    }

    /// Start, step and until of a steps shape, checked together; `until_key` names the top.
    fn step_shape(
        &mut self,
        table: &str,
        (start, step, until): (Option<f64>, Option<f64>, Option<f64>),
        until_key: &str,
    ) -> (f64, f64, f64) {
        let start = self.rate(&format!("{table}.start"), start, true);
        let step = self.rate(&format!("{table}.step"), step, false);
        let until = self.rate(&format!("{table}.{until_key}"), until, false);
        if let (Some(a), Some(s), Some(u)) = (start, step, until) {
            if u < a {
                self.report(
                    &format!("{table}.{until_key}"),
                    format!("must be >= start ({a}), got {u}"),
                );
            } else if step_count(a, s, u) > MAX_STEPS {
                self.report(
                    &format!("{table}.step"),
                    format!(
                        "gives more than {MAX_STEPS} steps from {a} to {u}, got {s}: \
                         take a larger step"
                    ),
                );
            }
        }
        (
            start.unwrap_or(0.0),
            step.unwrap_or(1.0),
            until.unwrap_or(1.0),
        )
    }

    /// `profile = "steps"`: `start`, `step`, `every`, `until`.
    pub(super) fn steps(&mut self, raw: &RawLoad) -> Profile {
        let (start, step, until) =
            self.step_shape("load", (raw.start, raw.step, raw.until), "until");
        let every = self.duration("load.every", raw.every.as_ref(), None, Floor::Positive);
        Profile::Steps {
            start,
            step,
            every: every.map_or(Duration::from_secs(1), |d| d.value),
            until,
        }
    }

    /// `profile = "spike"`: `base`, `peak`, `at`, `for`, within `duration`.
    pub(super) fn spike(&mut self, raw: &RawLoad, duration: Duration) -> Profile {
        let base = self.rate("load.base", raw.base, true);
        let peak = self.rate("load.peak", raw.peak, false);
        let at = self.duration("load.at", raw.at.as_ref(), None, Floor::Zero);
        let length = self.duration("load.for", raw.for_.as_ref(), None, Floor::Positive);
        if let (Some(at), Some(length)) = (&at, &length) {
            if at.value + length.value > duration {
                self.report(
                    "load.for",
                    format!(
                        "the spike must end within load.duration ({}): at ({}) + for must \
                         be at most that, got {}",
                        show(duration),
                        at.shown,
                        length.shown
                    ),
                );
            }
        }
        Profile::Spike {
            base: base.unwrap_or(0.0),
            peak: peak.unwrap_or(1.0),
            at: at.map_or(Duration::ZERO, |d| d.value),
            length: length.map_or(Duration::from_secs(1), |d| d.value),
            duration,
        }
    }

    /// `profile = "stages"`: `[[load.stages]]` entries of `from` and `to`, or `rate`, and a
    /// `duration` each.
    pub(super) fn stages(&mut self, raw: &RawLoad) -> Profile {
        let Some(list) = raw.stages.as_ref().filter(|l| !l.is_empty()) else {
            self.missing(
                "load.stages",
                r#"[[load.stages]] entries such as { from = 10, to = 80, duration = "20s" } or { rate = 80, duration = "10s" }"#,
            );
            return Profile::Stages(Vec::new());
        };
        let before = self.problems.len();
        let mut stages = Vec::with_capacity(list.len());
        for (i, st) in list.iter().enumerate() {
            let path = format!("load.stages[{i}]");
            let duration = self.duration(
                &format!("{path}.duration"),
                st.duration.as_ref(),
                None,
                Floor::Positive,
            );
            let (from, to) = match (st.rate, st.from, st.to) {
                (Some(rate), None, None) => {
                    let r = self.positive_number(&format!("{path}.rate"), rate, true);
                    (r, r)
                }
                (None, from, to) if from.is_some() || to.is_some() => (
                    self.rate(&format!("{path}.from"), from, true),
                    self.rate(&format!("{path}.to"), to, true),
                ),
                (Some(_), _, _) => {
                    self.report(
                        &format!("{path}.rate"),
                        "not allowed together with from/to: a stage takes rate (flat) or \
                         from and to (linear)",
                    );
                    (None, None)
                }
                (None, _, _) => {
                    self.missing(
                        &format!("{path}.rate"),
                        "rate (a flat stage) or from and to (a linear one), per second",
                    );
                    (None, None)
                }
            };
            stages.push(RateStage {
                from: from.unwrap_or(0.0),
                to: to.unwrap_or(0.0),
                duration: duration.map_or(Duration::from_secs(1), |d| d.value),
            });
        }
        if self.problems.len() == before && stages.iter().all(|s| s.from == 0.0 && s.to == 0.0) {
            self.report(
                "load.stages",
                "every stage has rate 0: at least one must offer checkouts",
            );
        }
        Profile::Stages(stages)
    }

    /// `[capacity]`.
    pub(super) fn capacity(&mut self, raw: &RawCapacity) -> CapacitySpec {
        let (start, step, max_rate) =
            self.step_shape("capacity", (raw.start, raw.step, raw.max_rate), "max_rate");
        let every = self.duration("capacity.every", raw.every.as_ref(), None, Floor::Positive);
        let every = every.map_or(Duration::from_secs(1), |d| d.value);
        let default_settle = every / DEFAULT_SETTLE_SHARE;
        let settle = self.duration(
            "capacity.settle",
            raw.settle.as_ref(),
            Some(default_settle),
            Floor::Zero,
        );
        if let Some(s) = &settle {
            if s.value >= every {
                self.report(
                    "capacity.settle",
                    format!(
                        "must be shorter than capacity.every ({}) or nothing of a step is \
                         judged, got {}",
                        show(every),
                        s.shown
                    ),
                );
            }
        }
        let p99_ms = match raw.p99_ms {
            None => {
                self.missing("capacity.p99_ms", "the SLO's highest p99 latency in ms");
                None
            }
            Some(v) => self.positive_number("capacity.p99_ms", v, false),
        };
        let success_rate = match raw.success_rate {
            None => {
                self.missing(
                    "capacity.success_rate",
                    "the SLO's lowest success rate, 0.0..=1.0",
                );
                None
            }
            Some(v) => self.probability("capacity.success_rate", Some(v)),
        };
        CapacitySpec {
            start,
            step,
            every,
            max_rate,
            settle: settle.map_or(Duration::ZERO, |d| d.value),
            p99_ms: p99_ms.unwrap_or(1.0),
            success_rate: success_rate.unwrap_or(1.0),
        }
    }

    /// `[load]` of a capacity run: only the limits; the steps come from `[capacity]`.
    pub(super) fn capacity_load(&mut self, raw: Option<&RawLoad>, c: &CapacitySpec) -> LoadSpec {
        let default = RawLoad::default();
        let raw = raw.unwrap_or(&default);
        let mut keys: Vec<&str> = Vec::new();
        if raw.profile.is_some() {
            keys.push("profile");
        }
        if raw.duration.is_some() {
            keys.push("duration");
        }
        keys.extend(
            PROFILE_KEYS
                .iter()
                .filter(|(k, _)| present(raw, k))
                .map(|(k, _)| *k),
        );
        for key in keys {
            self.report(
                &format!("load.{key}"),
                "not allowed in a capacity run: [capacity] sets the steps (start, step, \
                 every, max_rate); [load] takes only max_in_flight, connections and request_timeout",
            );
        }
        let (max_in_flight, connections, request_timeout) = self.load_limits(raw);
        LoadSpec {
            profile: c.profile(),
            max_in_flight,
            connections,
            request_timeout,
            run_id: self.run_id(raw),
        }
    }

    /// `load.run_id`, optional: the run id pinned (for order ids the same in every run).
    pub(super) fn run_id(&mut self, raw: &RawLoad) -> Option<RunId> {
        let given = raw.run_id.as_deref()?;
        match RunId::new(given) {
            Ok(id) => Some(id),
            Err(e) => {
                self.report("load.run_id", e.to_string());
                None
            }
        }
    }

    /// Reports a checked profile that plans no checkout at all (`rate = 1e-300`): such a run
    /// would pass every gate having tested nothing. The count is the scheduler's, the floor
    /// of the rate's integral over the stages, in closed form per profile.
    pub(super) fn plans_checkouts(&mut self, profile: &Profile, capacity: bool) {
        let flat = |rate: f64, d: Duration| rate * d.as_secs_f64();
        let (key, count) = match profile {
            Profile::Constant { rate, duration } => ("rate", flat(*rate, *duration)),
            Profile::Ramp { from, to, duration } => ("to", flat((from + to) / 2.0, *duration)),
            Profile::Steps {
                start,
                step,
                every,
                until,
            } => {
                // n steps at start + step × i: n × start + step × n(n-1)/2 checkouts per second.
                let n = f64::from(step_count(*start, *step, *until));
                (
                    "start",
                    flat(n * start + step * n * (n - 1.0) / 2.0, *every),
                )
            }
            Profile::Spike {
                base,
                peak,
                at,
                length,
                duration,
            } => {
                let end = (*at + *length).min(*duration);
                let base_time = (*at).min(*duration) + duration.saturating_sub(end);
                (
                    "peak",
                    flat(*base, base_time) + flat(*peak, end.saturating_sub(*at)),
                )
            }
            Profile::Stages(list) => (
                "stages",
                list.iter()
                    .map(|s| flat((s.from + s.to) / 2.0, s.duration))
                    .sum(),
            ),
        };
        // The scheduler's slack: a float sum of 0.999999999 is one checkout.
        if (count + 1e-9).floor() >= 1.0 {
            return;
        }
        let table = if capacity { "capacity" } else { "load" };
        let shown = if count > 0.0 && count < 1e-3 {
            format!("{count:e}")
        } else {
            format!("{}", (count * 1e6).round() / 1e6)
        };
        self.report(
            &format!("{table}.{key}"),
            format!(
                "plans 0 checkouts: the rates over the load's length add up to {shown}, and \
                 only whole checkouts are sent; expected rates and a length that give at least 1"
            ),
        );
    }

    /// `[recovery]`, every key defaulted.
    pub(super) fn recovery(&mut self, raw: &RawRecovery) -> RecoverySpec {
        let tolerance = raw.tolerance.map_or(Some(DEFAULT_TOLERANCE), |t| {
            self.probability("recovery.tolerance", Some(t))
        });
        let hold = self.duration(
            "recovery.hold",
            raw.hold.as_ref(),
            Some(DEFAULT_HOLD),
            Floor::Positive,
        );
        let baseline = self.duration(
            "recovery.baseline",
            raw.baseline.as_ref(),
            Some(DEFAULT_BASELINE),
            Floor::Positive,
        );
        RecoverySpec {
            tolerance: tolerance.unwrap_or(DEFAULT_TOLERANCE),
            hold: hold.map_or(DEFAULT_HOLD, |d| d.value),
            baseline: baseline.map_or(DEFAULT_BASELINE, |d| d.value),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::{assert_problem, ok, problems, problems_with};
    use super::*;

    fn secs(n: u64) -> Duration {
        Duration::from_secs(n)
    }

    /// A scenario with `load` as its `[load]` table body.
    fn with_load(load: &str) -> String {
        format!("name = \"t\"\n[load]\n{load}\n")
    }

    #[test]
    fn steps_take_start_step_every_until_and_no_duration() {
        let s = ok(&with_load(
            "profile = \"steps\"\nstart = 100\nstep = 50\nevery = \"2s\"\nuntil = 300",
        ));
        assert_eq!(
            s.load.profile,
            Profile::Steps {
                start: 100.0,
                step: 50.0,
                every: secs(2),
                until: 300.0
            }
        );
        assert_eq!(s.load.profile.duration(), secs(10));

        let all = problems(&with_load(
            "profile = \"steps\"\nstart = 100\nstep = 0\nuntil = 50\nduration = \"5s\"\nrate = 3",
        ));
        assert_problem(&all, "load.duration", "its length follows from start, step");
        assert_problem(&all, "load.rate", r#"rate belongs to profile "constant""#);
        assert_problem(&all, "load.step", "must be a number greater than 0, got 0");
        assert_problem(&all, "load.every", "required key is missing");
        assert_eq!(
            all.len(),
            4,
            "until is not compared with a bad step: {all:?}"
        );

        let all = problems(&with_load(
            "profile = \"steps\"\nstart = 100\nstep = 10\nevery = \"1s\"\nuntil = 50",
        ));
        assert_eq!(all, ["load.until: must be >= start (100), got 50"]);
        let all = problems(&with_load(
            "profile = \"steps\"\nstart = 0\nstep = 0.001\nevery = \"1s\"\nuntil = 1000",
        ));
        assert_problem(&all, "load.step", "more than 10000 steps");
    }

    #[test]
    fn spike_takes_base_peak_at_for_within_the_duration() {
        let s = ok(&with_load(
            "profile = \"spike\"\nbase = 20\npeak = 400\nat = \"5s\"\nfor = \"2s\"\nduration = \"10s\"",
        ));
        assert_eq!(
            s.load.profile,
            Profile::Spike {
                base: 20.0,
                peak: 400.0,
                at: secs(5),
                length: secs(2),
                duration: secs(10)
            }
        );
        let all = problems(&with_load(
            "profile = \"spike\"\nbase = 20\npeak = 400\nat = \"9s\"\nfor = \"2s\"\nduration = \"10s\"",
        ));
        assert_eq!(
            all,
            [
                "load.for: the spike must end within load.duration (10s): at (9s) + for must be \
              at most that, got 2s"
            ]
        );
        let all = problems(&with_load(
            "profile = \"spike\"\nbase = -1\nat = \"1s\"\nfor = \"0s\"\nduration = \"10s\"",
        ));
        assert_problem(&all, "load.base", "must be a number >= 0, got -1");
        assert_problem(&all, "load.peak", "required key is missing");
        assert_problem(&all, "load.for", "must be greater than 0");
    }

    #[test]
    fn stages_take_a_list_of_linear_or_flat_stages() {
        let s = ok(&with_load(
            "profile = \"stages\"\nstages = [\n  { from = 10, to = 80, duration = \"20s\" },\n  \
             { rate = 80, duration = \"5s\" },\n]",
        ));
        assert_eq!(
            s.load.profile,
            Profile::Stages(vec![
                RateStage {
                    from: 10.0,
                    to: 80.0,
                    duration: secs(20)
                },
                RateStage {
                    from: 80.0,
                    to: 80.0,
                    duration: secs(5)
                },
            ])
        );
        // The array-of-tables form reads the same.
        let t = ok("name = \"t\"\n[load]\nprofile = \"stages\"\n[[load.stages]]\nrate = 5\nduration = \"1s\"\n");
        assert_eq!(t.load.profile.duration(), secs(1));

        let all = problems(&with_load(
            "profile = \"stages\"\nduration = \"9s\"\nstages = [\n  { from = 10, duration = \"2s\" },\n  \
             { rate = 5, to = 3, duration = \"1s\" },\n  { duration = 4 },\n]",
        ));
        assert_problem(&all, "load.duration", "not allowed with profile \"stages\"");
        assert_problem(&all, "load.stages[0].to", "required key is missing");
        assert_problem(
            &all,
            "load.stages[1].rate",
            "not allowed together with from/to",
        );
        assert_problem(&all, "load.stages[2].duration", "got the number 4");
        assert_problem(
            &all,
            "load.stages[2].rate",
            "rate (a flat stage) or from and to",
        );
        assert_eq!(all.len(), 5, "{all:?}");

        let all = problems(&with_load("profile = \"stages\"\nstages = []"));
        assert_problem(&all, "load.stages", "required key is missing");
        let all = problems(&with_load(
            "profile = \"stages\"\nstages = [{ rate = 0, duration = \"1s\" }]",
        ));
        assert_eq!(
            all,
            ["load.stages: every stage has rate 0: at least one must offer checkouts"]
        );
    }

    #[test]
    fn a_load_that_plans_no_checkout_is_refused_at_its_rate_key() {
        // #9: 1e-300/s for 1 s is a valid number and a valid length, and plans nothing.
        let plain = |rate: &str, duration: &str| {
            with_load(&format!(
                "profile = \"constant\"\nrate = {rate}\nduration = \"{duration}\""
            ))
        };
        let all = problems(&plain("1e-300", "1s"));
        assert_eq!(
            all,
            [
                "load.rate: plans 0 checkouts: the rates over the load's length add up to \
              1e-300, and only whole checkouts are sent; expected rates and a length that give \
              at least 1"
            ]
        );
        assert_problem(&problems(&plain("0.4", "2s")), "load.rate", "add up to 0.8");
        let all = problems(&with_load(
            "profile = \"ramp\"\nfrom = 0\nto = 1\nduration = \"1s\"",
        ));
        assert_problem(&all, "load.to", "add up to 0.5");
        let all = problems(&with_load(
            "profile = \"spike\"\nbase = 0\npeak = 0.1\nat = \"1s\"\nfor = \"1s\"\nduration = \"5s\"",
        ));
        assert_problem(&all, "load.peak", "add up to 0.1");
        let all = problems(&with_load(
            "profile = \"stages\"\nstages = [{ rate = 0.25, duration = \"2s\" }, { from = 0.25, to = 0, duration = \"2s\" }]",
        ));
        assert_problem(&all, "load.stages", "add up to 0.75");
        let all = problems(&with_load(
            "profile = \"steps\"\nstart = 0\nstep = 0.1\nevery = \"1s\"\nuntil = 0.3",
        ));
        assert_problem(&all, "load.start", "add up to 0.6");
        let all = problems(
            "name = \"cap\"\n[capacity]\nstart = 0.1\nstep = 0.1\nevery = \"1s\"\n\
             max_rate = 0.2\np99_ms = 9\nsuccess_rate = 0.5\n",
        );
        assert_eq!(all.len(), 1, "{all:?}");
        assert_problem(&all, "capacity.start", "add up to 0.3");
    }

    #[test]
    fn a_load_that_plans_one_checkout_or_more_is_accepted() {
        // Exactly one whole checkout, from each shape; float sums just under 1 count as 1,
        // as the scheduler counts them.
        let loads = [
            "profile = \"constant\"\nrate = 1\nduration = \"1s\"",
            "profile = \"constant\"\nrate = 0.5\nduration = \"2s\"",
            "profile = \"constant\"\nrate = 0.1\nduration = \"10s\"",
            "profile = \"ramp\"\nfrom = 0\nto = 2\nduration = \"1s\"",
            "profile = \"spike\"\nbase = 0\npeak = 1\nat = \"1s\"\nfor = \"1s\"\nduration = \"5s\"",
            "profile = \"stages\"\nstages = [{ rate = 0.1, duration = \"3s\" }, { rate = 0.7, duration = \"1s\" }]",
            "profile = \"steps\"\nstart = 0\nstep = 0.5\nevery = \"1s\"\nuntil = 1",
        ];
        for load in loads {
            ok(&with_load(load));
        }
        ok(
            "name = \"cap\"\n[capacity]\nstart = 0\nstep = 1\nevery = \"1s\"\nmax_rate = 1\n\
            settle = \"0s\"\np99_ms = 9\nsuccess_rate = 0\n",
        );
    }

    #[test]
    fn windows_are_bounded_by_the_length_of_steps_and_stages() {
        let all = problems(&with_load(
            "profile = \"steps\"\nstart = 10\nstep = 10\nevery = \"1s\"\nuntil = 30\n\
             [[faults.windows]]\nstart = \"3s\"\nend = \"4s\"",
        ));
        assert_problem(
            &all,
            "faults.windows[0].start",
            "must be before the end of the load (load.duration = 3s)",
        );
    }

    #[test]
    fn a_capacity_table_makes_a_steps_run_with_only_limits_in_load() {
        let s = ok("name = \"cap\"\n[load]\nmax_in_flight = 64\n[capacity]\nstart = 100\n\
                    step = 100\nevery = \"4s\"\nmax_rate = 1000\np99_ms = 250\nsuccess_rate = 0.99\n");
        let c = s.capacity.clone().expect("a capacity run");
        assert_eq!(
            c,
            CapacitySpec {
                start: 100.0,
                step: 100.0,
                every: secs(4),
                max_rate: 1000.0,
                settle: secs(1),
                p99_ms: 250.0,
                success_rate: 0.99
            },
            "settle defaults to a quarter of every"
        );
        assert_eq!(s.load.profile, c.profile());
        assert_eq!(s.load.profile.duration(), secs(40));
        assert_eq!(s.load.max_in_flight.get(), 64);
        // No [load] at all is fine in a capacity run.
        let s = ok(
            "name = \"cap\"\n[capacity]\nstart = 1\nstep = 1\nevery = \"1s\"\n\
                    max_rate = 3\nsettle = \"0s\"\np99_ms = 9\nsuccess_rate = 0\n",
        );
        assert_eq!(s.load.max_in_flight.get(), 1024);
        assert_eq!(s.capacity.unwrap().settle, Duration::ZERO);
    }

    #[test]
    fn a_capacity_run_rejects_load_shape_keys_and_checks_its_slo() {
        let all = problems(
            "name = \"cap\"\n[load]\nprofile = \"constant\"\nrate = 5\nduration = \"1s\"\n\
             [capacity]\nstart = 100\nstep = 100\nevery = \"2s\"\nmax_rate = 50\n\
             settle = \"2s\"\nsuccess_rate = 1.5\n",
        );
        for key in ["profile", "duration", "rate"] {
            assert_problem(
                &all,
                &format!("load.{key}"),
                "not allowed in a capacity run",
            );
        }
        assert_problem(&all, "capacity.max_rate", "must be >= start (100), got 50");
        assert_problem(
            &all,
            "capacity.settle",
            "must be shorter than capacity.every (2s)",
        );
        assert_problem(&all, "capacity.p99_ms", "required key is missing");
        assert_problem(&all, "capacity.success_rate", "must be within 0.0..=1.0");
        assert_eq!(all.len(), 7, "{all:?}");
    }

    #[test]
    fn recovery_has_documented_defaults_and_checked_keys() {
        let s = ok(super::super::tests::MINIMAL);
        assert_eq!(
            s.recovery,
            RecoverySpec {
                tolerance: DEFAULT_TOLERANCE,
                hold: DEFAULT_HOLD,
                baseline: DEFAULT_BASELINE
            }
        );
        assert_eq!((s.recovery.tolerance, s.recovery.hold), (0.05, secs(3)));
        let s = ok(&format!(
            "{}[recovery]\ntolerance = 0.1\nhold = \"5s\"\nbaseline = \"4s\"\n",
            super::super::tests::MINIMAL
        ));
        assert_eq!(
            (s.recovery.tolerance, s.recovery.hold, s.recovery.baseline),
            (0.1, secs(5), secs(4))
        );
        let all = problems_with("[recovery]\ntolerance = 2\nhold = \"0s\"\n");
        assert_problem(
            &all,
            "recovery.tolerance",
            "must be within 0.0..=1.0, got 2",
        );
        assert_problem(&all, "recovery.hold", "must be greater than 0");
    }

    #[test]
    fn the_recovery_gate_needs_a_window_and_a_non_negative_bound() {
        let all = problems_with("[gates]\nrecovery_s_max = 5\n");
        assert_eq!(
            all,
            ["gates.recovery_s_max: needs at least one [[faults.windows]] to measure recovery after"]
        );
        let all = problems_with(
            "[gates]\nrecovery_s_max = -1\n[[faults.windows]]\nstart = \"0s\"\nend = \"1s\"\n",
        );
        assert_problem(
            &all,
            "gates.recovery_s_max",
            "must be a number >= 0, got -1",
        );
        let s = ok(&format!(
            "{}[gates]\nrecovery_s_max = 0\n[[faults.windows]]\nstart = \"0s\"\nend = \"1s\"\n",
            super::super::tests::MINIMAL
        ));
        assert_eq!(s.gates.recovery_s_max, Some(0.0));
    }
}
