//! The channel check over hand-built evidence: an order's money on two channels fires
//! `charged_on_two_channels` alone; a failover that charged the backup only is clean.

use super::tests::{clean, only};
use super::*;
use crate::domain::{AttemptResult as R, FailReason as F, OrderStatus as S};

#[test]
fn money_on_the_primary_and_a_backup_is_charged_on_two_channels_only() {
    // Arrange: the primary charged and lost the answer; the backup charged again.
    let mut s = clean();
    s.charge("ord-000010", R::AnswerLost)
        .charge("ord-000010", R::Ok)
        .told_status("ord-000010", S::Paid)
        .final_state("ord-000010", S::Paid, 1);
    s.last_entry().channel = 1;
    s.last_entry().payment_id = Some("trade_10".into());

    // Act
    let d = only(Check::ChargedOnTwoChannels, &s);

    // Assert
    assert_eq!(d[0].order_id, "ord-000010");
    assert!(
        d[0].observed
            .starts_with("captures 1 on the primary, 1 on backup 1 totalling 2000"),
        "{}",
        d[0]
    );
}

#[test]
fn a_failover_that_charged_the_backup_alone_is_clean() {
    // Arrange: the primary failed with 5xx (nothing charged), the backup paid.
    let mut s = clean();
    s.charge("ord-000010", R::ServerError)
        .charge("ord-000010", R::Ok)
        .told_status("ord-000010", S::Paid)
        .final_state("ord-000010", S::Paid, 1);
    s.last_entry().channel = 1;
    // And a primary failure told as provider trouble stays what it was.
    s.charge("ord-000011", R::ServerError)
        .told_status("ord-000011", S::Failed(F::ProviderError))
        .final_state("ord-000011", S::Failed(F::ProviderError), 0);

    let r = reconcile(&s.evidence());

    assert!(r.passed(), "{:#?}", r.discrepancies);
}

#[test]
fn two_captures_on_one_backup_are_a_double_charge_not_two_channels() {
    let mut s = clean();
    s.charge("ord-000010", R::AnswerLost);
    s.last_entry().channel = 1;
    s.charge("ord-000010", R::Ok)
        .told_status("ord-000010", S::Paid)
        .final_state("ord-000010", S::Paid, 1);
    s.last_entry().channel = 1;

    only(Check::DoubleCharge, &s);
}
