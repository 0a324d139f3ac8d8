//! The provider's behaviour rules against card testing, beside the random `risk_block`
//! rate: velocity per customer and per client address (attempts, distinct cards, declines
//! within a window, `[provider.velocity]`), read from the intent's `metadata[customer_id]`
//! and `metadata[client_ip]`. An attempt that trips a rule is declined as a risk block
//! (Stripe `fraudulent`, gateway `301`). Counts run over the attempts as they execute; a
//! card tester sends one attempt after the answer to the one before, and a burst fits in the
//! window (validated), so the verdict follows the attempt's place in its burst.

use std::collections::HashMap;
use std::time::Duration;

use crate::domain::FailReason;
use crate::provider::cards::DeclineCode;
use crate::provider::metadata::Metadata;
use crate::scenario::card_testers::{card_fingerprint, Limit, Trail, VelocityRules};

/// The metadata key naming the paying customer.
pub const CUSTOMER_KEY: &str = "customer_id";
/// The metadata key carrying the customer's client address.
pub const ADDRESS_KEY: &str = "client_ip";

/// Trails are swept of idle keys after this many new keys: one-off customers (the honest
/// majority) do not pile up.
const SWEEP_EVERY: usize = 4096;

/// The rules and the recent attempts per customer and per address.
#[derive(Debug)]
pub struct Velocity {
    rules: VelocityRules,
    customers: HashMap<String, Trail>,
    addresses: HashMap<String, Trail>,
    new_keys: usize,
    /// Attempts declined by a rule so far.
    pub blocked: u64,
}

/// A charge's decline: the code the dialect words, and the reason the customer is told.
pub type Decline = (DeclineCode, FailReason);

impl Velocity {
    pub fn new(rules: VelocityRules) -> Velocity {
        Velocity {
            rules,
            customers: HashMap::new(),
            addresses: HashMap::new(),
            new_keys: 0,
            blocked: 0,
        }
    }

    /// Judges one charge executing at run time `at` for an intent with `metadata` and
    /// `payment_method`, whose card alone would give `decline`; records it. Returns the
    /// decline to apply: the card's, or a risk block when a rule trips (the rule that tripped
    /// beside it). An intent naming neither customer nor address is not counted.
    pub fn gate(
        &mut self,
        at: Duration,
        metadata: &Metadata,
        payment_method: Option<&str>,
        decline: Option<Decline>,
    ) -> (Option<Decline>, Option<Limit>) {
        let customer = metadata.get(CUSTOMER_KEY).filter(|s| !s.is_empty());
        let address = metadata.get(ADDRESS_KEY).filter(|s| !s.is_empty());
        if customer.is_none() && address.is_none() {
            return (decline, None);
        }
        let card = card_fingerprint(payment_method.unwrap_or(""));
        let rules = self.rules;
        let mut tripped = None;
        for (map, key) in [
            (&mut self.customers, customer),
            (&mut self.addresses, address),
        ] {
            let Some(key) = key else { continue };
            let trail = match map.get_mut(key.as_str()) {
                Some(t) => t,
                None => {
                    self.new_keys += 1;
                    map.entry(key.clone()).or_default()
                }
            };
            tripped = tripped.or(rules.judge(trail, at, card));
        }
        let decline = match tripped {
            Some(_) => {
                self.blocked += 1;
                Some((DeclineCode::RiskBlock, FailReason::RiskBlocked))
            }
            None => decline,
        };
        // Only the card's own declines count as declines: a rule's block is not evidence.
        let declined = tripped.is_none() && decline.is_some();
        for (map, key) in [
            (&mut self.customers, customer),
            (&mut self.addresses, address),
        ] {
            if let Some(t) = key.and_then(|k| map.get_mut(k.as_str())) {
                t.record(at, card, declined);
            }
        }
        if self.new_keys >= SWEEP_EVERY {
            self.sweep(at);
        }
        (decline, tripped)
    }

    /// Drops the trails whose newest attempt left the window.
    fn sweep(&mut self, at: Duration) {
        let window = self.rules.window;
        let live = |t: &mut Trail| t.last().is_some_and(|l| at.saturating_sub(l) < window);
        self.customers.retain(|_, t| live(t));
        self.addresses.retain(|_, t| live(t));
        self.new_keys = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meta(customer: &str, ip: &str) -> Metadata {
        let mut m = Metadata::new();
        m.insert(CUSTOMER_KEY.to_string(), customer.to_string());
        m.insert(ADDRESS_KEY.to_string(), ip.to_string());
        m
    }

    fn engine() -> Velocity {
        Velocity::new(VelocityRules {
            window: Duration::from_secs(60),
            max_attempts: Some(3),
            max_cards: None,
            max_declines: None,
        })
    }

    #[test]
    fn the_fourth_attempt_of_one_customer_is_blocked_as_risk_others_are_not() {
        let mut v = engine();
        let at = Duration::from_secs(1);
        for i in 0..3 {
            let m = meta("cus_t", &format!("198.18.0.{i}"));
            assert_eq!(v.gate(at, &m, Some("pm_card_visa"), None), (None, None));
        }
        let (d, why) = v.gate(at, &meta("cus_t", "198.18.0.9"), Some("pm_card_visa"), None);
        assert_eq!(d, Some((DeclineCode::RiskBlock, FailReason::RiskBlocked)));
        assert_eq!(why, Some(Limit::Attempts));
        // Another customer from another address is untouched.
        let other = meta("cus_h", "10.0.0.1");
        assert_eq!(v.gate(at, &other, Some("pm_card_visa"), None), (None, None));
        assert_eq!(v.blocked, 1);
    }

    #[test]
    fn one_address_shared_by_customers_is_counted_as_one() {
        let mut v = engine();
        let at = Duration::ZERO;
        for i in 0..3 {
            let m = meta(&format!("cus_{i}"), "198.18.0.1");
            assert_eq!(v.gate(at, &m, Some("pm_card_visa"), None).1, None);
        }
        let m = meta("cus_9", "198.18.0.1");
        assert_eq!(
            v.gate(at, &m, Some("pm_card_visa"), None).1,
            Some(Limit::Attempts)
        );
    }

    #[test]
    fn an_intent_without_customer_or_address_is_not_counted() {
        let mut v = engine();
        for _ in 0..10 {
            assert_eq!(
                v.gate(Duration::ZERO, &Metadata::new(), None, None),
                (None, None)
            );
        }
    }
}
