//! When the merchant knew a decline: a same-key retry counts only once the merchant provably
//! read an answer telling it (the next request on that answer's connection), not from the
//! time the answer was due out; a new key always counts. Entries of unknown connection keep
//! the timing rule.

use super::truth::tests::charge;
use super::truth::{order_truths, OrderTruth};
use crate::domain::{AttemptResult, FailReason, LedgerEntry};

use AttemptResult as R;

const ORDER: &str = "ord-a";

fn at(seq: u64, ms: u64, conn: u64, result: AttemptResult) -> LedgerEntry {
    let mut e = charge(seq, ORDER, seq as u32, result);
    (e.at_ms, e.conn) = (ms, conn);
    e
}

/// Another order's request on `conn`: only proves that the answer before it was read.
fn other(seq: u64, ms: u64, conn: u64) -> LedgerEntry {
    let mut e = charge(seq, "ord-other", 0, R::Ok);
    (e.at_ms, e.conn) = (ms, conn);
    e
}

fn truth(ledger: &[LedgerEntry]) -> OrderTruth {
    order_truths(ledger)[ORDER].clone()
}

/// The decline's answer, held by 1500 ms of injected latency, went out after the merchant's
/// 1 s timeout had closed its connection (1), yet was not marked unanswered: a starved
/// machine wrote it just before the drop. The merchant retried under its key on new
/// connections, the last one after the answer was due out.
fn late_answer(conns: [u64; 4]) -> Vec<LedgerEntry> {
    let mut decline = at(0, 0, conns[0], R::Declined(FailReason::InsufficientFunds));
    decline.answer_delay_ms = 1500;
    vec![
        decline,
        at(1, 1050, conns[1], R::InFlightConflict),
        at(2, 1600, conns[2], R::Replayed),
        // The replay told it (connection 3 was reused afterwards): nothing more was sent.
        other(3, 1700, conns[3]),
    ]
}

#[test]
fn by_the_time_the_answer_was_due_a_same_key_retry_looked_like_a_retried_decline() {
    // Connections unknown (an older ledger): the timing rule, and the false alarm.
    let t = truth(&late_answer([0; 4]));
    assert_eq!(t.after_decline.len(), 1, "{:?}", t.after_decline);
    assert_eq!(t.after_decline[0].seq, 2);
}

#[test]
fn a_same_key_retry_after_a_timeout_is_clean_when_the_answer_was_never_read() {
    let t = truth(&late_answer([1, 2, 3, 3]));
    assert!(t.after_decline.is_empty(), "{:?}", t.after_decline);
    assert_eq!(t.read_from_seq, Some(3), "the replay's answer was read");
}

#[test]
fn a_same_key_retry_on_the_connection_that_carried_the_decline_knew_it() {
    let ledger = [
        at(0, 0, 1, R::Declined(FailReason::InsufficientFunds)),
        at(1, 40, 1, R::Replayed),
    ];
    let t = truth(&ledger);
    assert_eq!(t.after_decline.len(), 1);
    assert!(!t.after_decline[0].new_key);
}

#[test]
fn a_same_key_retry_after_the_decline_was_read_knew_it_on_any_connection() {
    let ledger = [
        at(0, 0, 1, R::Declined(FailReason::RiskBlocked)),
        other(1, 10, 1),
        at(2, 40, 2, R::Replayed),
    ];
    assert_eq!(truth(&ledger).after_decline.len(), 1);
    // A request before the proof did not provably know.
    let early = [
        at(0, 0, 1, R::Declined(FailReason::RiskBlocked)),
        at(1, 5, 2, R::Replayed),
        other(2, 10, 1),
    ];
    assert!(truth(&early).after_decline.is_empty());
}

#[test]
fn a_new_key_after_a_decline_counts_whether_or_not_it_was_read() {
    let mut fresh = at(1, 1050, 2, R::Declined(FailReason::InsufficientFunds));
    fresh.idempotency_key = Some(format!("{ORDER}:charge:1"));
    let mut decline = at(0, 0, 1, R::Declined(FailReason::InsufficientFunds));
    decline.answer_delay_ms = 1500;
    let t = truth(&[decline, fresh]);
    assert_eq!(t.after_decline.len(), 1);
    assert!(t.after_decline[0].new_key);
}

#[test]
fn connections_of_two_channels_are_not_one() {
    let mut backup = other(1, 10, 1);
    backup.channel = 1;
    let ledger = [
        at(0, 0, 1, R::Declined(FailReason::InsufficientFunds)),
        backup,
        at(2, 1100, 2, R::Replayed),
    ];
    assert!(truth(&ledger).after_decline.is_empty());
}
