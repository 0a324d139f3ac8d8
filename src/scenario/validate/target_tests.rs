//! Scenario checks for `[faults.targets]`: the operations each per-attempt kind hits.

use super::tests::{assert_problem, ok, problems_with, MINIMAL};
use crate::chaos::{FaultKind, FaultOp, Targets};

#[test]
fn targets_default_to_the_charge_and_take_one_word_a_list_or_any() {
    let s = ok(MINIMAL);
    assert!(s.faults.targets.values().all(|t| t.is_charge_only()));
    let s = ok(&format!(
        "{MINIMAL}[faults]\ntimeout = 0.1\n[faults.targets]\ntimeout = [\"charge\", \"refund\"]\n\
         server_error = \"query\"\nprocessing_error = \"any\"\nrate_limit = \"any\"\n"
    ));
    let t = &s.faults.targets;
    assert_eq!(
        t[FaultKind::Timeout],
        Targets::of([FaultOp::Charge, FaultOp::Refund])
    );
    assert_eq!(t[FaultKind::ServerError], Targets::of([FaultOp::Query]));
    assert!(
        t[FaultKind::ProcessingError].is_charge_only(),
        "any: what it can hit"
    );
    assert_eq!(t[FaultKind::RateLimit], Targets::ANY);
    assert!(
        t[FaultKind::LateCharge].is_charge_only(),
        "not named: the charge"
    );
}

#[test]
fn bad_targets_are_reported_at_their_key_naming_the_accepted_words() {
    let all = problems_with(
        "[faults.targets]\ntimout = \"any\"\nrisk_block = \"charge\"\nserver_error = [\"refnd\"]\n\
         late_charge = \"refund\"\nrate_limit = []\n",
    );
    assert_problem(
        &all,
        "faults.targets.timout",
        "unknown fault kind: targets are for `timeout`",
    );
    assert_problem(&all, "faults.targets.risk_block", "sticky kind");
    assert_problem(
        &all,
        "faults.targets.server_error",
        "expected `charge`, `refund`, `query`, `capture` or `any` (one word or a list), got \"refnd\"",
    );
    assert_problem(
        &all,
        "faults.targets.late_charge",
        "late_charge can target only charge, got \"refund\"",
    );
    assert_problem(&all, "faults.targets.rate_limit", "at least one operation");
}
