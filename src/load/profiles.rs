//! Reduces a scenario's load [`Profile`] to the stages the scheduler knows (linear rate from
//! `start_rate` to `end_rate` over `duration`). Pure; the scheduler never sees profile kinds.

use crate::scenario::Profile;

use super::Stage;

/// The stages of `profile`, in order; a profile of zero length has none.
pub fn stages(profile: &Profile) -> Vec<Stage> {
    let stage = match *profile {
        Profile::Constant { rate, duration } => Stage {
            start_rate: rate,
            end_rate: rate,
            duration,
        },
        Profile::Ramp { from, to, duration } => Stage {
            start_rate: from,
            end_rate: to,
            duration,
        },
    };
    if stage.duration.is_zero() {
        Vec::new()
    } else {
        vec![stage]
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn profiles_become_linear_stages() {
        let secs = Duration::from_secs;
        let table = [
            (
                Profile::Constant {
                    rate: 50.0,
                    duration: secs(10),
                },
                vec![Stage {
                    start_rate: 50.0,
                    end_rate: 50.0,
                    duration: secs(10),
                }],
            ),
            (
                Profile::Ramp {
                    from: 0.0,
                    to: 200.0,
                    duration: secs(30),
                },
                vec![Stage {
                    start_rate: 0.0,
                    end_rate: 200.0,
                    duration: secs(30),
                }],
            ),
            (
                Profile::Ramp {
                    from: 100.0,
                    to: 10.0,
                    duration: Duration::from_millis(1500),
                },
                vec![Stage {
                    start_rate: 100.0,
                    end_rate: 10.0,
                    duration: Duration::from_millis(1500),
                }],
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
}
