//! The checks the verifier runs (names and invariants, in report order) and one violation of
//! one of them: order id, expected and observed values. Ordered by order id so every list
//! of discrepancies reads the same way whatever order the evidence came in.

use std::cmp::Ordering;
use std::fmt;

use serde::{Deserialize, Serialize};

/// One verification check: an invariant over the evidence of a run.
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
    schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Check {
    LostPayment,
    RefundOwed,
    FreeGoods,
    DoubleCharge,
    WrongReason,
    StuckPending,
    ForgedAccepted,
    DuplicateApplied,
    OutOfOrder,
    HardDeclineRetried,
    UnattributedCharge,
    WebhookRejected,
    RawCardData,
    CardTestingUnthrottled,
    ChargedOnTwoChannels,
    PaidOnForgedReturn,
    CustomerMisinformed,
    AbandonedNotReleased,
}

impl Check {
    /// Every check, in report order.
    pub const ALL: [Check; 18] = [
        Check::LostPayment,
        Check::RefundOwed,
        Check::FreeGoods,
        Check::DoubleCharge,
        Check::WrongReason,
        Check::StuckPending,
        Check::ForgedAccepted,
        Check::DuplicateApplied,
        Check::OutOfOrder,
        Check::HardDeclineRetried,
        Check::UnattributedCharge,
        Check::WebhookRejected,
        Check::RawCardData,
        Check::CardTestingUnthrottled,
        Check::ChargedOnTwoChannels,
        Check::PaidOnForgedReturn,
        Check::CustomerMisinformed,
        Check::AbandonedNotReleased,
    ];

    /// The snake_case name used in reports (the serde name).
    pub fn name(self) -> &'static str {
        crate::domain::label(&self)
    }

    /// The invariant the check holds the merchant to, in one sentence.
    pub fn invariant(self) -> &'static str {
        match self {
            Check::LostPayment => "money taken is matched by a paid order or given back",
            Check::RefundOwed => {
                "an order given up on after the customer was told it was pending has its money refunded"
            }
            Check::FreeGoods => "a paid order has money behind it",
            Check::DoubleCharge => "one order is charged at most once",
            Check::WrongReason => "the customer is told the real cause of a failure",
            Check::StuckPending => "no order is left pending after the drain",
            Check::ForgedAccepted => {
                "webhooks with a bad, stale or missing signature are refused"
            }
            Check::DuplicateApplied => "a webhook delivered twice is applied once",
            Check::OutOfOrder => {
                "an older event arriving late never overwrites a newer outcome (a payment that succeeded stays paid)"
            }
            Check::HardDeclineRetried => "a hard decline is not retried",
            Check::UnattributedCharge => {
                "every charge names an order the run sent (Stripe metadata[order_id], gateway out_trade_no)"
            }
            Check::RawCardData => {
                "the merchant pays with tokens or payment method ids, never raw card numbers (card data in its own systems puts them in PCI scope)"
            }
            Check::CardTestingUnthrottled => {
                "a card tester's attempts past the merchant's declared velocity limits never reach the provider"
            }
            Check::ChargedOnTwoChannels => {
                "an order's money is taken on one payment channel: a backup is charged only once the primary's outcome is known not to be a charge"
            }
            Check::PaidOnForgedReturn => {
                "a return page never believes the browser's redirect_status: the order is paid only once the provider says so"
            }
            Check::CustomerMisinformed => {
                "the return page after a challenge tells the customer the truth (paid when charged, not paid when not)"
            }
            Check::AbandonedNotReleased => {
                "an abandoned or expired challenge does not leave its order pending after the drain"
            }
            Check::WebhookRejected => {
                "every genuine, correctly signed webhook delivery is acknowledged with a 2xx, a duplicate or one for a settled order included"
            }
        }
    }

    /// Parses a name written by [`Check::name`].
    pub fn parse(s: &str) -> Option<Check> {
        crate::domain::parse_label(s)
    }
}

impl fmt::Display for Check {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// One violation of one check, with the concrete values that show it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Discrepancy {
    pub check: Check,
    pub order_id: String,
    pub expected: String,
    pub observed: String,
}

impl Discrepancy {
    pub fn new(
        check: Check,
        order_id: impl Into<String>,
        expected: impl Into<String>,
        observed: impl Into<String>,
    ) -> Discrepancy {
        Discrepancy {
            check,
            order_id: order_id.into(),
            expected: expected.into(),
            observed: observed.into(),
        }
    }
}

impl fmt::Display for Discrepancy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {}: expected {}; observed {}",
            self.check, self.order_id, self.expected, self.observed
        )
    }
}

/// By order id first (the brief's sort), then check, then the values, so the order is total.
impl Ord for Discrepancy {
    fn cmp(&self, other: &Self) -> Ordering {
        (&self.order_id, self.check, &self.expected, &self.observed).cmp(&(
            &other.order_id,
            other.check,
            &other.expected,
            &other.observed,
        ))
    }
}

impl PartialOrd for Discrepancy {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_match_serde() {
        for c in Check::ALL {
            assert_eq!(Check::parse(c.name()), Some(c));
            let json = serde_json::to_string(&c).unwrap();
            assert_eq!(json, format!("\"{}\"", c.name()));
            assert!(!c.invariant().is_empty());
        }
        assert_eq!(Check::parse("nope"), None);
    }

    #[test]
    fn discrepancies_sort_by_order_id_before_check() {
        let mut v = [
            Discrepancy::new(Check::LostPayment, "ord-000002", "a", "b"),
            Discrepancy::new(Check::HardDeclineRetried, "ord-000001", "a", "b"),
            Discrepancy::new(Check::DoubleCharge, "ord-000001", "a", "b"),
        ];
        v.sort();
        let got: Vec<_> = v.iter().map(|d| (d.order_id.as_str(), d.check)).collect();
        assert_eq!(
            got,
            [
                ("ord-000001", Check::DoubleCharge),
                ("ord-000001", Check::HardDeclineRetried),
                ("ord-000002", Check::LostPayment),
            ]
        );
    }

    #[test]
    fn display_names_check_order_and_values() {
        let d = Discrepancy::new(Check::DoubleCharge, "ord-000003", "1 charge", "2 charges");
        assert_eq!(
            d.to_string(),
            "double_charge ord-000003: expected 1 charge; observed 2 charges"
        );
    }
}
