//! The journey checks over hand-built evidence: each fires on its planted trace alone, and
//! the journeys a correct merchant produces (every journey, forged returns refused) pass.

use super::super::tests::{clean, only, Set};
use super::super::{reconcile, Check};
use crate::domain::{AttemptResult as R, CheckoutAnswer, FailReason as F, OrderStatus as S};
use crate::load::journeys::{JourneyRecord, JourneyStep as St};

fn told(s: S) -> Option<CheckoutAnswer> {
    Some(CheckoutAnswer::Told { status: s })
}

fn journey(order: &str, name: &str, steps: &[St]) -> JourneyRecord {
    JourneyRecord {
        order_id: order.into(),
        journey: name.into(),
        steps: steps.iter().map(|s| (*s, 1_000)).collect(),
        returned: None,
        forged: None,
        error: None,
    }
}

/// `clean()` plus one order per journey, as the correct merchant ends them: a completed
/// challenge paid (told paid on return, after a refused forgery), a failed one failed, an
/// abandoned one failed at its expiry, a customer who never returned paid by the webhook.
fn clean_journeys() -> Set {
    let mut s = clean();
    let all = [St::ChallengeShown, St::Verdict, St::Returned];
    s.charge("ord-000020", R::Ok)
        .told_status("ord-000020", S::Pending)
        .final_state("ord-000020", S::Paid, 1);
    let mut done = journey("ord-000020", "completes", &[St::ForgedReturn]);
    done.steps.extend(all.iter().map(|s| (*s, 1_000)));
    done.forged = told(S::Pending);
    done.returned = told(S::Paid);
    s.journeys.push(done);
    s.charge("ord-000021", R::Declined(F::Declined))
        .told_status("ord-000021", S::Pending)
        .final_state("ord-000021", S::Failed(F::Declined), 0);
    let mut failed = journey("ord-000021", "fails", &all);
    failed.returned = told(S::Failed(F::Declined));
    s.journeys.push(failed);
    s.charge("ord-000022", R::Ok)
        .told_status("ord-000022", S::Pending)
        .final_state("ord-000022", S::Failed(F::ProviderError), 0);
    s.last_entry().money_moved = false;
    s.journeys
        .push(journey("ord-000022", "abandons", &[St::ChallengeShown]));
    s.charge("ord-000023", R::Ok)
        .told_status("ord-000023", S::Pending)
        .final_state("ord-000023", S::Paid, 1);
    s.journeys.push(journey(
        "ord-000023",
        "never_returns",
        &[St::ChallengeShown, St::Verdict],
    ));
    s
}

#[test]
fn every_journey_ended_right_passes_every_check() {
    let r = reconcile(&clean_journeys().evidence());
    assert!(r.passed(), "{:#?}", r.discrepancies);
}

#[test]
fn a_believed_forged_return_is_paid_on_forged_return_not_free_goods() {
    let mut s = clean_journeys();
    // Abandoned after a forged return told paid: paid, nothing charged.
    s.charge("ord-000030", R::Ok)
        .told_status("ord-000030", S::Pending)
        .final_state("ord-000030", S::Paid, 1);
    s.last_entry().money_moved = false;
    let mut j = journey(
        "ord-000030",
        "abandons",
        &[St::ForgedReturn, St::ChallengeShown],
    );
    j.forged = told(S::Paid);
    s.journeys.push(j);
    let d = only(Check::PaidOnForgedReturn, &s);
    assert_eq!(d[0].order_id, "ord-000030");
    assert!(
        d[0].observed
            .contains("journey abandons: forged_return → challenge_shown"),
        "{}",
        d[0]
    );
}

#[test]
fn a_return_page_telling_failure_for_a_charged_order_is_customer_misinformed() {
    let mut s = clean_journeys();
    s.charge("ord-000031", R::Ok)
        .told_status("ord-000031", S::Pending)
        .final_state("ord-000031", S::Paid, 1);
    let mut j = journey(
        "ord-000031",
        "completes",
        &[St::ChallengeShown, St::Verdict, St::Returned],
    );
    j.returned = Some(CheckoutAnswer::Error {
        detail: "answer (http 404) has no status string at /status".into(),
    });
    s.journeys.push(j);
    let d = only(Check::CustomerMisinformed, &s);
    assert_eq!(d[0].order_id, "ord-000031");
    assert!(d[0].observed.contains("http 404"), "{}", d[0]);
}

#[test]
fn an_abandoned_challenge_left_pending_is_abandoned_not_released_not_stuck_pending() {
    let mut s = clean_journeys();
    s.charge("ord-000032", R::Ok)
        .told_status("ord-000032", S::Pending)
        .final_state("ord-000032", S::Pending, 0);
    s.last_entry().money_moved = false;
    s.journeys
        .push(journey("ord-000032", "abandons", &[St::ChallengeShown]));
    let d = only(Check::AbandonedNotReleased, &s);
    assert_eq!(d[0].order_id, "ord-000032");
    // A pending order whose customer authenticated is not abandoned: stuck pending.
    let mut s = clean_journeys();
    s.charge("ord-000033", R::Ok)
        .told_status("ord-000033", S::Pending)
        .final_state("ord-000033", S::Pending, 0);
    s.journeys.push(journey(
        "ord-000033",
        "never_returns",
        &[St::ChallengeShown, St::Verdict],
    ));
    only(Check::StuckPending, &s);
}
