//! Card testing: the check `card_testing_unthrottled` (a tester's attempts reaching the
//! provider beyond the limits the merchant declares in `[merchant.velocity]`) and the tally
//! the report shows (testers' attempts stopped by the merchant, by the provider, let
//! through; honest customers refused). The merchant's rules are replayed over each burst in
//! attempt order, on the attempts' intended times: a burst fits in the window (validated), so
//! the replay gives the verdicts a correct merchant gives, however busy the machine was.

use std::collections::BTreeMap;

use super::discrepancy::{Check, Discrepancy};
use super::rules::{Context, OrderView};
use super::truth::TruthLabel;
use crate::domain::{CheckoutAnswer, FailReason, OrderStatus};
use crate::load::card_testers::{tester_address, tester_customer, TesterPlan};
use crate::scenario::card_testers::{card_fingerprint, Trail, VelocityRules};
use crate::scenario::Scenario;

/// What verification needs to know of the run's card testing.
#[derive(Clone, Debug, PartialEq)]
pub struct CardTestingPlan {
    pub testers: TesterPlan,
    /// The merchant's declared limits; `None`: none declared, nothing to hold it to.
    pub merchant: Option<VelocityRules>,
}

impl CardTestingPlan {
    /// `None` when the scenario sends no testers.
    pub fn of(scenario: &Scenario) -> Option<CardTestingPlan> {
        Some(CardTestingPlan {
            testers: TesterPlan::of(scenario)?,
            merchant: scenario.card_testing.merchant,
        })
    }
}

/// The checkouts of the offered load: `e`'s records without the testers' (which the load
/// appends after every planned checkout). Rates, latencies and the schedule are about these.
pub fn offered<'a>(e: &super::Evidence<'a>) -> &'a [crate::domain::CheckoutRecord] {
    match e.card_testing {
        Some(p) => {
            let n = e
                .checkouts
                .partition_point(|c| p.testers.attempt_of(&c.order_id).is_none());
            &e.checkouts[..n]
        }
        None => e.checkouts,
    }
}

/// Testers' attempts by where they were stopped, and honest customers refused.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CardTestingTally {
    /// Tester checkouts sent.
    pub attempts: u64,
    /// Refused by the merchant: no charge request reached the provider.
    pub stopped_by_merchant: u64,
    /// Reached the provider and were blocked by its risk control.
    pub stopped_by_provider: u64,
    /// Reached the provider and were not blocked (approved, or declined by the card).
    pub let_through: u64,
    /// Of those let through, charged.
    pub charged: u64,
    /// Honest checkouts refused before reaching the provider with a risk-control answer: the
    /// merchant's limits hitting a customer who is no tester. 0 for a correct merchant.
    pub honest_refused: u64,
}

fn told_risk_blocked(o: &OrderView) -> bool {
    matches!(
        o.told,
        CheckoutAnswer::Told {
            status: OrderStatus::Failed(FailReason::RiskBlocked)
        }
    )
}

/// Whether `o` is a tester's attempt the merchant refused itself (told `risk_blocked`, no
/// charge request at the provider): its own risk control, a true reason.
pub fn refused_tester(ctx: &Context, o: &OrderView) -> bool {
    ctx.card_testing
        .is_some_and(|p| p.testers.attempt_of(o.order_id).is_some())
        && o.truth.label() == TruthLabel::NoAttempt
        && told_risk_blocked(o)
}

/// Counts the testers' attempts and the honest customers refused.
pub fn tally(ctx: &Context) -> Option<CardTestingTally> {
    let plan = ctx.card_testing?;
    let mut t = CardTestingTally::default();
    for o in &ctx.orders {
        let label = o.truth.label();
        if plan.testers.attempt_of(o.order_id).is_none() {
            t.honest_refused += u64::from(label == TruthLabel::NoAttempt && told_risk_blocked(o));
            continue;
        }
        t.attempts += 1;
        if label == TruthLabel::NoAttempt {
            t.stopped_by_merchant += 1;
        } else if o.truth.declines.contains(&FailReason::RiskBlocked) {
            t.stopped_by_provider += 1;
        } else {
            t.let_through += 1;
            t.charged += u64::from(o.truth.net() > 0);
        }
    }
    Some(t)
}

/// `card_testing_unthrottled`: per burst, each attempt the merchant's declared limits refuse
/// (replayed in attempt order) that still reached the provider. One finding per burst, on
/// its first such order, naming every one of them.
pub fn unthrottled(ctx: &Context) -> Vec<Discrepancy> {
    let Some(plan) = ctx.card_testing else {
        return Vec::new();
    };
    let Some(rules) = plan.merchant else {
        return Vec::new();
    };
    let mut bursts: BTreeMap<u64, Vec<(u32, &OrderView)>> = BTreeMap::new();
    for o in &ctx.orders {
        if let Some((b, j)) = plan.testers.attempt_of(o.order_id) {
            bursts.entry(b).or_default().push((j, o));
        }
    }
    let spec = &plan.testers.spec;
    let mut found = Vec::new();
    for (b, mut attempts) in bursts {
        attempts.sort_by_key(|a| a.0);
        let mut trail = Trail::default();
        let mut through = Vec::new();
        let mut over = Vec::new();
        for &(j, o) in &attempts {
            let at = spec.interval * j;
            let card = card_fingerprint(plan.testers.card(b, j));
            let refused = rules.judge(&mut trail, at, card);
            let reached = o.truth.label() != TruthLabel::NoAttempt;
            let declined = reached && o.truth.decline.is_some() && refused.is_none();
            trail.record(at, card, declined);
            match (refused, reached) {
                (Some(limit), true) => over.push((o.order_id, j, limit.key())),
                (None, true) => through.push(j),
                _ => {}
            }
        }
        let Some(&(first, _, _)) = over.first() else {
            continue;
        };
        let named: Vec<String> = over
            .iter()
            .map(|(id, j, limit)| {
                format!("{id} (attempt {} of {}, past {limit})", j + 1, spec.burst)
            })
            .collect();
        found.push(Discrepancy::new(
            Check::CardTestingUnthrottled,
            first,
            format!(
                "card tester {} from {} refused by the merchant past merchant.velocity \
                 ({}) before any call to the provider",
                tester_customer(b),
                tester_address(b),
                rules.describe()
            ),
            format!(
                "{} of the burst's {} attempts reached the provider within the limits, then {} \
                 more did: {}",
                through.len(),
                attempts.len(),
                over.len(),
                named.join(", ")
            ),
        ));
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{AttemptResult, RunId};
    use crate::load::order_id;
    use crate::scenario::card_testers::TesterSpec;
    use crate::verify::tests::Set;
    use crate::verify::{reconcile, Evidence, Reconciliation};
    use std::time::Duration;

    /// One burst of five attempts; the merchant declares two per customer.
    fn plan() -> CardTestingPlan {
        let spec = TesterSpec {
            rate: 1.0,
            burst: 5,
            cards: 3,
            interval: Duration::from_millis(10),
        };
        CardTestingPlan {
            testers: TesterPlan::new(&spec, 1, Duration::from_secs(1)),
            merchant: Some(VelocityRules {
                window: Duration::from_secs(60),
                max_attempts: Some(2),
                max_cards: None,
                max_declines: None,
            }),
        }
    }

    fn attempt(p: &CardTestingPlan, j: u32) -> String {
        order_id(&RunId::new("r").unwrap(), p.testers.seq(0, j))
    }

    /// The burst with `reaching` attempts charged at the provider and the rest refused by the
    /// merchant; every order's answer and final state as a correct merchant gives them.
    fn burst(p: &CardTestingPlan, reaching: u32) -> Set {
        let mut s = Set::default();
        let blocked = OrderStatus::Failed(FailReason::RiskBlocked);
        for j in 0..5 {
            let id = attempt(p, j);
            if j < reaching {
                let declined = OrderStatus::Failed(FailReason::Declined);
                s.charge(&id, AttemptResult::Declined(FailReason::Declined))
                    .told_status(&id, declined)
                    .final_state(&id, declined, 0);
            } else {
                s.told_status(&id, blocked).final_state(&id, blocked, 0);
            }
        }
        s
    }

    fn checked(s: &Set, p: &CardTestingPlan) -> Reconciliation {
        reconcile(&Evidence {
            card_testing: Some(p),
            ..s.evidence()
        })
    }

    #[test]
    fn a_merchant_within_its_limits_passes_and_its_refusals_are_a_true_reason() {
        let p = plan();
        let rec = checked(&burst(&p, 2), &p);
        assert!(rec.passed(), "{:#?}", rec.discrepancies);
        let t = rec.card_testing.unwrap();
        assert_eq!(
            (t.attempts, t.stopped_by_merchant, t.let_through),
            (5, 3, 2)
        );
        assert_eq!(t.honest_refused, 0);
    }

    #[test]
    fn attempts_past_the_declared_limit_at_the_provider_are_named_in_one_finding() {
        let p = plan();
        let rec = checked(&burst(&p, 5), &p);
        assert_eq!(rec.failed_checks(), [Check::CardTestingUnthrottled]);
        let d = &rec.discrepancies[0];
        assert_eq!(d.order_id, attempt(&p, 2));
        for j in 2..5 {
            assert!(d.observed.contains(&attempt(&p, j)), "{}", d.observed);
        }
        assert!(
            d.observed.contains("attempt 3 of 5, past max_attempts"),
            "{}",
            d.observed
        );
    }

    #[test]
    fn an_honest_customer_refused_is_counted_and_is_a_wrong_reason() {
        let p = plan();
        let mut s = burst(&p, 2);
        let honest = order_id(&RunId::new("r").unwrap(), 7);
        let blocked = OrderStatus::Failed(FailReason::RiskBlocked);
        s.told_status(&honest, blocked)
            .final_state(&honest, blocked, 0);
        let rec = checked(&s, &p);
        assert_eq!(rec.card_testing.unwrap().honest_refused, 1);
        assert_eq!(rec.failed_checks(), [Check::WrongReason]);
    }

    #[test]
    fn without_testers_nothing_is_counted() {
        let p = plan();
        let rec = reconcile(&burst(&p, 5).evidence());
        assert_eq!(rec.card_testing, None);
        assert!(!rec.failed_checks().contains(&Check::CardTestingUnthrottled));
    }
}
