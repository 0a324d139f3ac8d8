//! The customer as a seeded actor: what each customer does when the payment asks for a 3D
//! Secure challenge (`[customers]`), the `faults.requires_action` rate that sends ordinary
//! cards through one, and how long the provider keeps a challenge open
//! (`provider.challenge_expiry`). Plain checked data; the draws are in `load::journeys`.

use std::time::Duration;

/// What the customer of one challenged order does.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Journey {
    /// Authenticates and comes back to the merchant's return page.
    Completes,
    /// Types the wrong code: authentication fails, and the browser comes back.
    Fails,
    /// Closes the tab before the challenge: the intent waits until it expires.
    Abandons,
    /// Authenticates, then the browser or the network drops before the return page.
    NeverReturns,
}

impl Journey {
    /// In split order: a draw in `[0, 1)` picks the first whose cumulative rate exceeds it.
    pub const ALL: [Journey; 4] = [
        Journey::Completes,
        Journey::Fails,
        Journey::Abandons,
        Journey::NeverReturns,
    ];

    /// The `[customers]` key and report word.
    pub fn as_str(self) -> &'static str {
        match self {
            Journey::Completes => "completes",
            Journey::Fails => "fails",
            Journey::Abandons => "abandons",
            Journey::NeverReturns => "never_returns",
        }
    }
}

/// `[customers]`: the journey rates (they sum to 1), the share of customers who try another
/// card after a decline or a failed challenge, and the share of forged returns.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct CustomerSpec {
    pub completes: f64,
    pub fails: f64,
    pub abandons: f64,
    pub never_returns: f64,
    /// After a decline or a failed challenge, pays the same order again with another card.
    pub retries_with_another_card: f64,
    /// Before (or instead of) the challenge, loads the return page with a forged
    /// `redirect_status=succeeded`, as someone trying to get goods without paying would.
    pub forged_returns: f64,
}

impl CustomerSpec {
    /// The rate of `j`.
    pub fn rate(&self, j: Journey) -> f64 {
        match j {
            Journey::Completes => self.completes,
            Journey::Fails => self.fails,
            Journey::Abandons => self.abandons,
            Journey::NeverReturns => self.never_returns,
        }
    }
}

/// Most customers finish; some fail, leave or lose the connection; none pays again.
pub const DEFAULT_CUSTOMERS: CustomerSpec = CustomerSpec {
    completes: 0.85,
    fails: 0.05,
    abandons: 0.05,
    never_returns: 0.05,
    // Off unless asked for: a second checkout changes what an order's seed leads to (a
    // declined order may end paid), so scenarios written before it keep their meaning.
    retries_with_another_card: 0.0,
    forged_returns: 0.0,
};

/// Everything about the customer's journeys.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct JourneySpec {
    /// `faults.requires_action`: the share of orders whose ordinary card needs
    /// authentication (test cards that need it always do).
    pub requires_action: f64,
    /// `provider.challenge_expiry`.
    pub challenge_expiry: Duration,
    pub customers: CustomerSpec,
}

impl Default for JourneySpec {
    fn default() -> JourneySpec {
        JourneySpec {
            requires_action: 0.0,
            challenge_expiry: DEFAULT_CHALLENGE_EXPIRY,
            customers: DEFAULT_CUSTOMERS,
        }
    }
}

/// `provider.challenge_expiry` when not given.
pub const DEFAULT_CHALLENGE_EXPIRY: Duration = Duration::from_secs(5);

/// The test card a customer retrying with another card pays with: one no planned order,
/// card tester or example pays with first, so the provider can give it no seeded card fate
/// (the order's sticky decline or forced challenge belongs to the first card).
pub const ANOTHER_CARD: &str = "pm_card_amex";
