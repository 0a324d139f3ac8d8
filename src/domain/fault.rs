//! The fault catalogue: every fault kind the provider can inject, in one enum. The rest is
//! derived from it: the scenario and control-API keys and report words (its serde names),
//! per-kind rate tables (`enum_map`), iteration in report order, and the split into sticky
//! and per-attempt kinds. Adding a kind means adding a variant here (last, see below) and
//! the provider behaviour that injects it.

use serde::{Deserialize, Serialize};

/// A fault the provider can inject into a payment request.
///
/// Declaration order is report order, and the order in which each group's rates split
/// `[0, 1)` for a draw: new kinds go last so that existing seeds keep their assignments.
#[derive(
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    enum_map::Enum,
    strum::EnumIter,
)]
#[serde(rename_all = "snake_case")]
pub enum FaultKind {
    /// Sticky per order: the card has insufficient funds (402 `insufficient_funds`).
    InsufficientFunds,
    /// Sticky per order: the provider's risk control blocks it (402 `fraudulent`).
    RiskBlock,
    /// Per attempt: held past the merchant's timeout, then dropped; nothing charged.
    Timeout,
    /// Per attempt: charged, then the answer is held past the timeout and lost.
    TimeoutAfterCharge,
    /// Per attempt: 500 `api_error` before execution; nothing charged.
    ServerError,
    /// Per attempt: 429 rate limit before execution; nothing charged.
    RateLimit,
    /// Per attempt: executed, but the processor fails it with a soft decline (402
    /// `processing_error`); the same payment may be confirmed again and succeed.
    ProcessingError,
    /// Per attempt: held past the merchant's timeout and executed only at the end of the hold
    /// (charged or declined, answer saved under the key), then dropped: the money moves after
    /// the merchant stopped waiting, and the payment is invisible until then.
    LateCharge,
}

impl FaultKind {
    /// Every kind, in report order.
    pub fn all() -> impl Iterator<Item = FaultKind> {
        <FaultKind as strum::IntoEnumIterator>::iter()
    }

    /// The kinds decided once per order (the card's fate), in split order.
    pub fn sticky() -> impl Iterator<Item = FaultKind> {
        FaultKind::all().filter(|k| k.is_sticky())
    }

    /// The kinds decided per attempt, in split order.
    pub fn per_attempt() -> impl Iterator<Item = FaultKind> {
        FaultKind::all().filter(|k| !k.is_sticky())
    }

    /// The snake_case name used in scenarios and reports (the serde name).
    pub fn as_str(self) -> &'static str {
        super::label(&self)
    }

    /// Parses a name written by [`FaultKind::as_str`].
    pub fn parse(name: &str) -> Option<FaultKind> {
        super::parse_label(name)
    }

    /// Whether the fault belongs to the order (same answer on every attempt).
    pub fn is_sticky(self) -> bool {
        matches!(self, FaultKind::InsufficientFunds | FaultKind::RiskBlock)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_the_serde_names_and_parse_back() {
        for k in FaultKind::all() {
            assert_eq!(serde_json::to_value(k).unwrap(), k.as_str());
            assert_eq!(FaultKind::parse(k.as_str()), Some(k));
        }
        assert_eq!(FaultKind::LateCharge.as_str(), "late_charge");
        assert_eq!(FaultKind::parse("late"), None);
    }

    #[test]
    fn groups_keep_the_order_existing_seeds_were_drawn_in() {
        use FaultKind::*;
        let sticky: Vec<_> = FaultKind::sticky().collect();
        let attempt: Vec<_> = FaultKind::per_attempt().collect();
        assert_eq!(sticky, [InsufficientFunds, RiskBlock]);
        assert_eq!(
            attempt,
            [
                Timeout,
                TimeoutAfterCharge,
                ServerError,
                RateLimit,
                ProcessingError,
                LateCharge
            ]
        );
    }
}
