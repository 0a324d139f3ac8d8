//! Reduces a scenario's load [`Profile`] to the stages the scheduler knows (linear rate from
//! `start_rate` to `end_rate` over `duration`). Pure; the scheduler never sees profile kinds.
//! Jumps (steps, spikes) are consecutive flat stages; stages of zero length are dropped.

use std::time::Duration;

use crate::scenario::{step_count, Profile};

use super::Stage;

/// The stages of `profile`, in order; a profile of zero length has none.
pub fn stages(profile: &Profile) -> Vec<Stage> {
    let flat = |rate: f64, duration: Duration| Stage {
        start_rate: rate,
        end_rate: rate,
        duration,
    };
    let all = match profile {
        Profile::Constant { rate, duration } => vec![flat(*rate, *duration)],
        Profile::Ramp { from, to, duration } => vec![Stage {
            start_rate: *from,
            end_rate: *to,
            duration: *duration,
        }],
        Profile::Steps {
            start,
            step,
            every,
            until,
        } => (0..step_count(*start, *step, *until))
            // Multiplied, not summed, so a long run of steps does not drift.
            .map(|i| flat(start + step * f64::from(i), *every))
            .collect(),
        Profile::Spike {
            base,
            peak,
            at,
            length,
            duration,
        } => {
            let end = (*at + *length).min(*duration);
            vec![
                flat(*base, (*at).min(*duration)),
                flat(*peak, end.saturating_sub(*at)),
                flat(*base, duration.saturating_sub(end)),
            ]
        }
        Profile::Stages(list) => list
            .iter()
            .map(|s| Stage {
                start_rate: s.from,
                end_rate: s.to,
                duration: s.duration,
            })
            .collect(),
    };
    all.into_iter().filter(|s| !s.duration.is_zero()).collect()
}

/// Where each stage starts, from the load start; one entry per stage of `stages`.
pub fn stage_starts(stages: &[Stage]) -> Vec<Duration> {
    stages
        .iter()
        .scan(Duration::ZERO, |at, s| {
            let start = *at;
            *at += s.duration;
            Some(start)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::RateStage;

    fn secs(n: u64) -> Duration {
        Duration::from_secs(n)
    }

    fn st(a: f64, b: f64, d: Duration) -> Stage {
        Stage {
            start_rate: a,
            end_rate: b,
            duration: d,
        }
    }

    #[test]
    fn profiles_become_linear_stages() {
        let table = [
            (
                Profile::Constant {
                    rate: 50.0,
                    duration: secs(10),
                },
                vec![st(50.0, 50.0, secs(10))],
            ),
            (
                Profile::Ramp {
                    from: 0.0,
                    to: 200.0,
                    duration: secs(30),
                },
                vec![st(0.0, 200.0, secs(30))],
            ),
            (
                Profile::Ramp {
                    from: 100.0,
                    to: 10.0,
                    duration: Duration::from_millis(1500),
                },
                vec![st(100.0, 10.0, Duration::from_millis(1500))],
            ),
            (
                Profile::Constant {
                    rate: 50.0,
                    duration: Duration::ZERO,
                },
                vec![],
            ),
        ];
        for (profile, want) in table {
            assert_eq!(stages(&profile), want, "{profile:?}");
        }
    }

    #[test]
    fn steps_are_flat_stages_up_to_the_highest_rate_not_above_until() {
        let table = [
            // 100, 200, … 500: five steps of 2 s.
            ((100.0, 100.0, 500.0), 5, 500.0),
            // 100, 130, 160, 190: 200 is not reached, and no step goes past it.
            ((100.0, 30.0, 200.0), 4, 190.0),
            // A single step when until = start.
            ((250.0, 50.0, 250.0), 1, 250.0),
            // Tenths sum without losing the last step to float rounding.
            ((0.1, 0.1, 0.3), 3, 0.3),
        ];
        for ((start, step, until), n, last) in table {
            let p = Profile::Steps {
                start,
                step,
                every: secs(2),
                until,
            };
            let got = stages(&p);
            assert_eq!(got.len(), n, "{p:?}: {got:?}");
            assert!(got.iter().all(|s| s.start_rate == s.end_rate));
            assert!(got.iter().all(|s| s.duration == secs(2)));
            assert_eq!(got[0].start_rate, start);
            assert!((got[n - 1].start_rate - last).abs() < 1e-9, "{got:?}");
            assert_eq!(
                p.duration(),
                secs(2) * n as u32,
                "duration follows the steps"
            );
        }
    }

    #[test]
    fn a_step_from_zero_keeps_its_idle_first_step() {
        let p = Profile::Steps {
            start: 0.0,
            step: 10.0,
            every: secs(1),
            until: 20.0,
        };
        assert_eq!(
            stages(&p),
            vec![
                st(0.0, 0.0, secs(1)),
                st(10.0, 10.0, secs(1)),
                st(20.0, 20.0, secs(1))
            ],
            "the idle first second keeps the others in place"
        );
    }

    #[test]
    fn spike_is_base_peak_base_and_drops_empty_parts() {
        let spike = |at, length, duration| Profile::Spike {
            base: 20.0,
            peak: 200.0,
            at: secs(at),
            length: secs(length),
            duration: secs(duration),
        };
        assert_eq!(
            stages(&spike(10, 5, 30)),
            vec![
                st(20.0, 20.0, secs(10)),
                st(200.0, 200.0, secs(5)),
                st(20.0, 20.0, secs(15))
            ]
        );
        assert_eq!(
            stages(&spike(0, 5, 10)),
            vec![st(200.0, 200.0, secs(5)), st(20.0, 20.0, secs(5))],
            "a spike at the start has no base before it"
        );
        assert_eq!(
            stages(&spike(5, 5, 10)),
            vec![st(20.0, 20.0, secs(5)), st(200.0, 200.0, secs(5))],
            "a spike to the end has no base after it"
        );
        assert_eq!(spike(5, 5, 10).duration(), secs(10));
    }

    #[test]
    fn explicit_stages_are_kept_in_order_without_empty_ones() {
        let p = Profile::Stages(vec![
            RateStage {
                from: 10.0,
                to: 80.0,
                duration: secs(20),
            },
            RateStage {
                from: 80.0,
                to: 80.0,
                duration: Duration::ZERO,
            },
            RateStage {
                from: 80.0,
                to: 80.0,
                duration: secs(20),
            },
        ]);
        assert_eq!(
            stages(&p),
            vec![st(10.0, 80.0, secs(20)), st(80.0, 80.0, secs(20))]
        );
        assert_eq!(p.duration(), secs(40));
    }

    #[test]
    fn the_profile_s_closed_form_count_and_peak_match_its_stages() {
        let ms = Duration::from_millis;
        let table = [
            Profile::Constant {
                rate: 1_000_000.0,
                duration: secs(50),
            },
            Profile::Ramp {
                from: 3.0,
                to: 250.0,
                duration: ms(7_300),
            },
            Profile::Steps {
                start: 0.1,
                step: 0.1,
                every: ms(1_500),
                until: 0.9,
            },
            Profile::Steps {
                start: 100.0,
                step: 100.0,
                every: secs(2),
                until: 1_000_000.0,
            },
            Profile::Spike {
                base: 20.0,
                peak: 300.0,
                at: secs(2),
                length: ms(500),
                duration: secs(5),
            },
            Profile::Stages(vec![
                RateStage {
                    from: 10.0,
                    to: 80.0,
                    duration: secs(3),
                },
                RateStage {
                    from: 80.0,
                    to: 1.0,
                    duration: ms(2_100),
                },
            ]),
        ];
        for p in table {
            let st = stages(&p);
            let planned = super::super::Schedule::new(&st).planned();
            assert_eq!((p.checkouts() + 1e-9).floor() as u64, planned, "{p:?}");
            let peak = st
                .iter()
                .map(|s| s.start_rate.max(s.end_rate))
                .fold(0.0, f64::max);
            assert!((p.peak_rate() - peak).abs() < 1e-6, "{p:?}: {peak}");
        }
    }

    #[test]
    fn stage_starts_accumulate_durations() {
        let s = [
            st(1.0, 1.0, secs(2)),
            st(1.0, 1.0, Duration::from_millis(500)),
            st(1.0, 1.0, secs(1)),
        ];
        assert_eq!(
            stage_starts(&s),
            vec![Duration::ZERO, secs(2), Duration::from_millis(2500)]
        );
        assert!(stage_starts(&[]).is_empty());
    }
}
