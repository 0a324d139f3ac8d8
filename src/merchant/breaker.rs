//! A circuit breaker in front of the provider, as careful integrations put one: after
//! `failures` checkouts in a row end in provider trouble (no definite answer), checkouts fail
//! fast for `cooldown` (the customer is told the provider is in trouble; nothing is sent),
//! then one probe checkout at a time goes through until one gets a definite answer. It is
//! what makes a merchant take time to recover after an outage, which a rehearsal measures.

use std::sync::Mutex;
use std::time::Instant;

use crate::scenario::BreakerConfig;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    Closed {
        consecutive: u32,
    },
    Open {
        until: Instant,
    },
    /// One probe is out; everyone else fails fast until it comes back.
    HalfOpen,
}

/// May this checkout call the provider?
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Admit {
    /// Yes (the breaker is closed, or off).
    Call,
    /// Yes, as the half-open breaker's one probe.
    Probe,
    /// No: fail fast.
    Refuse,
}

/// The breaker; `None` config means it never opens.
#[derive(Debug)]
pub struct Breaker {
    cfg: Option<BreakerConfig>,
    state: Mutex<State>,
}

impl Breaker {
    pub fn new(cfg: Option<BreakerConfig>) -> Breaker {
        Breaker {
            cfg,
            state: Mutex::new(State::Closed { consecutive: 0 }),
        }
    }

    /// Whether a checkout starting at `now` may call the provider.
    pub fn admit(&self, now: Instant) -> Admit {
        if self.cfg.is_none() {
            return Admit::Call;
        }
        let mut st = self.state.lock().expect("breaker lock");
        match *st {
            State::Closed { .. } => Admit::Call,
            State::Open { until } if now >= until => {
                *st = State::HalfOpen;
                Admit::Probe
            }
            State::Open { .. } | State::HalfOpen => Admit::Refuse,
        }
    }

    /// Records how an admitted checkout ended at `now`: `trouble` when the provider gave no
    /// definite answer (5xx, 429, timeouts to the end), not for a payment or a decline.
    pub fn record(&self, admitted: Admit, trouble: bool, now: Instant) {
        let Some(cfg) = self.cfg else { return };
        let mut st = self.state.lock().expect("breaker lock");
        let open = State::Open {
            until: now + cfg.cooldown,
        };
        *st = match (*st, admitted) {
            (State::HalfOpen, Admit::Probe) if trouble => open,
            (State::HalfOpen, Admit::Probe) => State::Closed { consecutive: 0 },
            (State::Closed { consecutive }, _) if trouble => {
                if consecutive + 1 >= cfg.failures {
                    open
                } else {
                    State::Closed {
                        consecutive: consecutive + 1,
                    }
                }
            }
            (State::Closed { .. }, _) => State::Closed { consecutive: 0 },
            // Checkouts admitted before the breaker opened change nothing once it is open.
            (s, _) => s,
        };
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn breaker(failures: u32) -> Breaker {
        Breaker::new(Some(BreakerConfig {
            failures,
            cooldown: Duration::from_secs(3),
        }))
    }

    #[test]
    fn off_breaker_always_calls() {
        let b = Breaker::new(None);
        let t = Instant::now();
        for _ in 0..100 {
            b.record(Admit::Call, true, t);
        }
        assert_eq!(b.admit(t), Admit::Call);
    }

    #[test]
    fn opens_after_consecutive_trouble_and_a_success_resets_the_count() {
        let b = breaker(3);
        let t = Instant::now();
        b.record(Admit::Call, true, t);
        b.record(Admit::Call, true, t);
        b.record(Admit::Call, false, t); // a definite answer: the count starts again
        b.record(Admit::Call, true, t);
        b.record(Admit::Call, true, t);
        assert_eq!(b.admit(t), Admit::Call);
        b.record(Admit::Call, true, t);
        assert_eq!(b.admit(t), Admit::Refuse, "third in a row opens it");
        assert_eq!(b.admit(t + Duration::from_millis(2999)), Admit::Refuse);
    }

    #[test]
    fn after_the_cooldown_one_probe_decides() {
        let b = breaker(1);
        let t = Instant::now();
        b.record(Admit::Call, true, t);
        let later = t + Duration::from_secs(3);
        assert_eq!(b.admit(later), Admit::Probe);
        assert_eq!(b.admit(later), Admit::Refuse, "only one probe at a time");
        // A late answer of a checkout admitted before opening changes nothing.
        b.record(Admit::Call, false, later);
        assert_eq!(b.admit(later), Admit::Refuse);
        // The probe fails: open again for a whole cooldown.
        b.record(Admit::Probe, true, later);
        assert_eq!(b.admit(later + Duration::from_secs(2)), Admit::Refuse);
        let again = later + Duration::from_secs(3);
        assert_eq!(b.admit(again), Admit::Probe);
        b.record(Admit::Probe, false, again);
        assert_eq!(b.admit(again), Admit::Call, "a good probe closes it");
    }
}
