//! The fault catalogue: every fault kind the provider can inject, in one enum. The rest is
//! derived from it: the scenario and control-API keys and report words (its serde names),
//! per-kind rate tables (`enum_map`), iteration in report order, and the split into sticky
//! and per-attempt kinds, and which operations each per-attempt kind can target
//! ([`FaultOp`], [`Targets`]). Adding a kind means adding a variant here (last, see below)
//! and the provider behaviour that injects it.

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
    /// Per attempt: the connection is reset (an RST: `SO_LINGER` 0, then close) at once,
    /// before execution; nothing moved. Unlike `timeout`'s clean close after the hold, the
    /// client sees `ECONNRESET` right away.
    Reset,
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

    /// The operations a per-attempt kind can hit (what `any` means for it); none for a
    /// sticky kind, which belongs to the card met at the charge. A soft decline and a
    /// charge executed late exist only for charges.
    pub fn targetable(self) -> Targets {
        match self {
            FaultKind::InsufficientFunds | FaultKind::RiskBlock => Targets::NONE,
            FaultKind::ProcessingError | FaultKind::LateCharge => Targets::CHARGE,
            _ => Targets::ANY,
        }
    }
}

/// An operation a per-attempt fault can target. Each has its own attempt numbers per order
/// and its own keyed draw (the charge's is the one seeds have always had).
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
pub enum FaultOp {
    /// Create-and-confirm, confirm, or the gateway's pay.
    Charge,
    /// A refund.
    Refund,
    /// A read of a payment's state: retrieve, search, a charge or event of an order.
    Query,
    /// Capture or cancel of an authorisation.
    Capture,
}

impl FaultOp {
    /// Every operation, in this order (the plan digest's order).
    pub fn all() -> impl Iterator<Item = FaultOp> {
        <FaultOp as strum::IntoEnumIterator>::iter()
    }

    /// The scenario word (the serde name).
    pub fn as_str(self) -> &'static str {
        super::label(&self)
    }

    /// Parses a name written by [`FaultOp::as_str`].
    pub fn parse(name: &str) -> Option<FaultOp> {
        super::parse_label(name)
    }

    fn bit(self) -> u8 {
        1 << self as u8
    }
}

/// The operations one fault kind targets: a small set, `charge` alone by default (what every
/// kind hit before targets existed).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Targets(u8);

impl Targets {
    pub const NONE: Targets = Targets(0);
    pub const CHARGE: Targets = Targets(1);
    pub const ANY: Targets = Targets(0b1111);

    /// The set of `ops`.
    pub fn of(ops: impl IntoIterator<Item = FaultOp>) -> Targets {
        Targets(ops.into_iter().fold(0, |b, op| b | op.bit()))
    }

    pub fn contains(self, op: FaultOp) -> bool {
        self.0 & op.bit() != 0
    }

    /// The operations in the set, in [`FaultOp::all`] order.
    pub fn ops(self) -> impl Iterator<Item = FaultOp> {
        FaultOp::all().filter(move |&op| self.contains(op))
    }

    /// The operations in both sets.
    pub fn and(self, other: Targets) -> Targets {
        Targets(self.0 & other.0)
    }

    pub fn is_charge_only(self) -> bool {
        self == Targets::CHARGE
    }
}

impl Default for Targets {
    fn default() -> Targets {
        Targets::CHARGE
    }
}

/// Written as the list of operation names.
impl Serialize for Targets {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.ops())
    }
}

impl<'de> Deserialize<'de> for Targets {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Targets, D::Error> {
        Ok(Targets::of(Vec::<FaultOp>::deserialize(d)?))
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
                LateCharge,
                Reset
            ]
        );
    }

    #[test]
    fn targets_default_to_the_charge_and_any_is_what_a_kind_can_hit() {
        assert!(Targets::default().is_charge_only());
        assert_eq!(FaultOp::parse("capture"), Some(FaultOp::Capture));
        assert_eq!(
            FaultOp::parse("any"),
            None,
            "`any` is a scenario word, not an op"
        );
        let t = Targets::of([FaultOp::Refund, FaultOp::Query]);
        assert_eq!(
            t.ops().collect::<Vec<_>>(),
            [FaultOp::Refund, FaultOp::Query]
        );
        assert_eq!(
            serde_json::to_value(t).unwrap(),
            serde_json::json!(["refund", "query"])
        );
        assert_eq!(
            serde_json::from_value::<Targets>(serde_json::json!(["refund", "query"])).unwrap(),
            t
        );
        assert_eq!(FaultKind::Timeout.targetable(), Targets::ANY);
        assert!(FaultKind::LateCharge.targetable().is_charge_only());
        assert_eq!(FaultKind::Reset.targetable(), Targets::ANY);
        assert_eq!(FaultKind::RiskBlock.targetable(), Targets::NONE);
    }
}
