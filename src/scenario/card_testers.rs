//! Card testing, as plain checked data: the card testers the customer simulator sends
//! (`[card_testers]`), the provider's velocity rules (`[provider.velocity]`) and the
//! merchant's own limits (`[merchant.velocity]`, enforced by the reference merchant and
//! declared for an external one). Read from the raw tables in `validate/card_testers.rs`.

use std::time::Duration;

/// Everything card testing in one scenario; every part off by default.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct CardTesting {
    /// The testers sent; `None` (or a rate of 0): no tester at all.
    pub testers: Option<TesterSpec>,
    /// The provider's velocity rules; `None`: only the random `risk_block` rate.
    pub provider: Option<VelocityRules>,
    /// The merchant's own limits, checked before it calls the provider; `None`: no limit.
    pub merchant: Option<VelocityRules>,
}

impl CardTesting {
    /// Whether the run sends testers.
    pub fn active(&self) -> bool {
        self.testers.is_some()
    }
}

/// `[card_testers]`: bursts of checkouts, each burst from one customer and one client
/// address, rotating through stolen cards one attempt after another.
#[derive(Clone, Debug, PartialEq)]
pub struct TesterSpec {
    /// Bursts started per second of load (> 0).
    pub rate: f64,
    /// Checkouts per burst.
    pub burst: u32,
    /// Distinct cards one burst rotates through (at most `burst`).
    pub cards: u32,
    /// From one attempt's intended start to the next one's; an attempt is never sent before
    /// the answer to the one before it.
    pub interval: Duration,
}

impl TesterSpec {
    /// From the first attempt's intended start to the last one's.
    pub fn span(&self) -> Duration {
        self.interval * self.burst.saturating_sub(1)
    }
}

/// Velocity rules over one window, per customer and per client address: an attempt is
/// refused when, counting the attempts of the same customer (or address) in the window before
/// it, one limit would be passed. Each limit is optional; at least one is set.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct VelocityRules {
    pub window: Duration,
    /// At most this many payment attempts in the window.
    pub max_attempts: Option<u32>,
    /// At most this many distinct cards in the window (this attempt's included).
    pub max_cards: Option<u32>,
    /// No further attempt after this many declines in the window.
    pub max_declines: Option<u32>,
}

impl VelocityRules {
    /// The limits in the scenario's words: `max_attempts = 3, window = 60s`.
    pub fn describe(&self) -> String {
        let mut parts = Vec::new();
        for (key, v) in [
            ("max_attempts", self.max_attempts),
            ("max_cards", self.max_cards),
            ("max_declines", self.max_declines),
        ] {
            if let Some(v) = v {
                parts.push(format!("{key} = {v}"));
            }
        }
        parts.push(format!("window = {}", super::validate::show(self.window)));
        parts.join(", ")
    }
}

/// The cards a tester rotates through, in order from a seeded start: stolen card numbers
/// as Stripe's test cards give them, most declined (one kind each), a few that work.
pub const TESTER_CARDS: [&str; 8] = [
    "pm_card_chargeDeclined",
    "pm_card_visa",
    "pm_card_chargeDeclinedStolenCard",
    "pm_card_chargeDeclinedInsufficientFunds",
    "pm_card_mastercard",
    "pm_card_chargeDeclinedLostCard",
    "pm_card_chargeDeclinedExpiredCard",
    "pm_card_chargeDeclinedIncorrectCvc",
];

/// Which limit an attempt would pass.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Limit {
    Attempts,
    Cards,
    Declines,
}

impl Limit {
    /// The scenario key of the limit.
    pub fn key(self) -> &'static str {
        match self {
            Limit::Attempts => "max_attempts",
            Limit::Cards => "max_cards",
            Limit::Declines => "max_declines",
        }
    }
}

/// One customer's (or one address's) recent attempts, oldest first: what velocity rules
/// count. Both the provider and the reference merchant keep one per key.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Trail {
    /// (time of the attempt, its card's fingerprint, whether it was declined).
    marks: std::collections::VecDeque<(Duration, u64, bool)>,
}

impl Trail {
    /// Records an attempt at `at` with `card`; `declined` as it ended.
    pub fn record(&mut self, at: Duration, card: u64, declined: bool) {
        self.marks.push_back((at, card, declined));
    }

    /// Marks the attempt recorded at `at` with `card` as declined (its answer came later).
    pub fn mark_declined(&mut self, at: Duration, card: u64) {
        if let Some(m) = self
            .marks
            .iter_mut()
            .rev()
            .find(|m| m.0 == at && m.1 == card)
        {
            m.2 = true;
        }
    }

    /// The newest attempt's time, if any.
    pub fn last(&self) -> Option<Duration> {
        self.marks.back().map(|m| m.0)
    }

    /// Forgets attempts older than `window` before `at`.
    fn expire(&mut self, at: Duration, window: Duration) {
        while self
            .marks
            .front()
            .is_some_and(|m| at.saturating_sub(m.0) >= window)
        {
            self.marks.pop_front();
        }
    }
}

impl VelocityRules {
    /// The limit an attempt at `at` with `card` would pass, given the earlier attempts of its
    /// customer (or address) in `trail` (expired ones are dropped from it); `None`: allowed.
    pub fn judge(&self, trail: &mut Trail, at: Duration, card: u64) -> Option<Limit> {
        trail.expire(at, self.window);
        let m = &trail.marks;
        if self.max_attempts.is_some_and(|max| m.len() >= max as usize) {
            return Some(Limit::Attempts);
        }
        if let Some(max) = self.max_cards {
            let mut cards: Vec<u64> = m.iter().map(|x| x.1).chain([card]).collect();
            cards.sort_unstable();
            cards.dedup();
            if cards.len() > max as usize {
                return Some(Limit::Cards);
            }
        }
        let declines = m.iter().filter(|x| x.2).count();
        if self
            .max_declines
            .is_some_and(|max| declines >= max as usize)
        {
            return Some(Limit::Declines);
        }
        None
    }
}

/// A card's fingerprint for velocity counts (the payment method id or token, hashed).
pub fn card_fingerprint(payment_method: &str) -> u64 {
    crate::chaos::key::hash(0, "card", &[payment_method.as_bytes()])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules(attempts: Option<u32>, cards: Option<u32>, declines: Option<u32>) -> VelocityRules {
        VelocityRules {
            window: Duration::from_secs(10),
            max_attempts: attempts,
            max_cards: cards,
            max_declines: declines,
        }
    }

    const S: fn(u64) -> Duration = Duration::from_secs;

    #[test]
    fn attempts_past_the_limit_are_refused_until_the_window_moves_on() {
        let r = rules(Some(2), None, None);
        let mut t = Trail::default();
        for at in [0, 1] {
            assert_eq!(r.judge(&mut t, S(at), 1), None);
            t.record(S(at), 1, false);
        }
        assert_eq!(r.judge(&mut t, S(2), 1), Some(Limit::Attempts));
        // The first attempt leaves the window at 10 s.
        assert_eq!(r.judge(&mut t, S(10), 1), None);
    }

    #[test]
    fn a_new_card_past_the_distinct_card_limit_is_refused_a_known_one_is_not() {
        let r = rules(None, Some(2), None);
        let mut t = Trail::default();
        t.record(S(0), 1, false);
        t.record(S(0), 2, false);
        assert_eq!(r.judge(&mut t, S(1), 2), None);
        assert_eq!(r.judge(&mut t, S(1), 3), Some(Limit::Cards));
    }

    #[test]
    fn declines_stop_further_attempts_approvals_do_not() {
        let r = rules(None, None, Some(2));
        let mut t = Trail::default();
        t.record(S(0), 1, true);
        t.record(S(0), 2, false);
        assert_eq!(r.judge(&mut t, S(1), 3), None);
        t.record(S(1), 3, true);
        assert_eq!(r.judge(&mut t, S(1), 4), Some(Limit::Declines));
    }
}
