//! The verifier's tests over hand-built evidence: `Set` builds it, `clean()` is a run a
//! correct merchant could produce, and each test adds one flaw's traces to it.

use super::truth::tests::{charge, refund};
use super::*;
use crate::domain::{AttemptResult, FailReason, OrderStatus};

use AttemptResult as R;
use FailReason as F;
use OrderStatus as S;

/// Owned evidence for tests; `evidence()` borrows it.
#[derive(Default)]
pub(crate) struct Set {
    pub ledger: Vec<LedgerEntry>,
    pub webhooks: Vec<WebhookAttempt>,
    pub checkouts: Vec<CheckoutRecord>,
    pub orders: Vec<OrderSnapshot>,
    pub journeys: Vec<crate::load::journeys::JourneyRecord>,
    pub retries: Vec<crate::load::retries::RetryRecord>,
    /// Checkouts shed at the in-flight cap: the load counts them, the verifier never
    /// sees them (the report's fixtures read the count).
    pub shed: u64,
    /// Provider requests shed at its in-flight cap: never in the ledger (the report's
    /// fixtures read the count).
    pub provider_shed: u64,
}

impl Set {
    pub fn evidence(&self) -> Evidence<'_> {
        Evidence {
            ledger: &self.ledger,
            webhooks: &self.webhooks,
            checkouts: &self.checkouts,
            orders: &self.orders,
            card_testing: None,
            journeys: &self.journeys,
            retries: &self.retries,
        }
    }

    fn seq(&self) -> u64 {
        self.ledger.len() as u64
    }

    /// Adds a charge request for `order` with the next seq and attempt number.
    pub fn charge(&mut self, order: &str, result: AttemptResult) -> &mut Self {
        let attempt = self
            .ledger
            .iter()
            .filter(|e| e.order_id.as_deref() == Some(order))
            .count() as u32;
        self.ledger.push(charge(self.seq(), order, attempt, result));
        self
    }

    pub fn refund(&mut self, order: &str, amount: u64) -> &mut Self {
        let pi = format!("pi_{order}");
        self.ledger
            .push(refund(self.seq(), Some(order), &pi, amount));
        self
    }

    pub fn told(&mut self, order: &str, answer: CheckoutAnswer) -> &mut Self {
        let n = self.checkouts.len() as u64;
        self.checkouts.push(CheckoutRecord {
            order_id: order.into(),
            amount: 1000,
            intended_ms: n * 10,
            latency_us: 5_000 + n * 1000,
            answer,
        });
        self
    }

    /// One more checkout shed at the in-flight cap.
    pub fn shed(&mut self) -> &mut Self {
        self.shed += 1;
        self
    }

    pub fn told_status(&mut self, order: &str, status: OrderStatus) -> &mut Self {
        self.told(order, CheckoutAnswer::Told { status })
    }

    pub fn final_state(&mut self, order: &str, status: OrderStatus, f: u32) -> &mut Self {
        self.orders.push(OrderSnapshot {
            order_id: order.into(),
            status,
            fulfilments: Some(f),
        });
        self
    }

    pub fn webhook(&mut self, order: &str, event: &str, status: Option<u16>) -> &mut Self {
        self.webhooks.push(WebhookAttempt {
            event_id: event.into(),
            event_type: "payment_intent.succeeded".into(),
            order_id: Some(order.into()),
            payment_id: Some(format!("pi_{order}")),
            attempt: 0,
            at_ms: 100,
            latency_us: 2_000,
            duplicate: false,
            forged: false,
            stale: false,
            unsigned: false,
            dropped: false,
            reordered: false,
            delay_ms: 0,
            status,
            error: None,
            failure: None,
        });
        self
    }

    pub fn last_webhook(&mut self) -> &mut WebhookAttempt {
        self.webhooks.last_mut().expect("a webhook was added")
    }

    pub fn last_entry(&mut self) -> &mut LedgerEntry {
        self.ledger.last_mut().expect("an entry was added")
    }

    pub fn last_checkout(&mut self) -> &mut CheckoutRecord {
        self.checkouts.last_mut().expect("a checkout was added")
    }
}

/// A well-behaved run: paid, each kind of decline, a provider error, a pending order
/// settled paid and one settled failed-and-refunded, a duplicate and a forged webhook
/// both handled right.
pub(crate) fn clean() -> Set {
    let mut s = Set::default();
    s.charge("ord-000000", R::Ok)
        .told_status("ord-000000", S::Paid)
        .final_state("ord-000000", S::Paid, 1)
        .webhook("ord-000000", "evt_0", Some(200));
    s.charge("ord-000001", R::Declined(F::InsufficientFunds))
        .told_status("ord-000001", S::Failed(F::InsufficientFunds))
        .final_state("ord-000001", S::Failed(F::InsufficientFunds), 0);
    s.charge("ord-000002", R::Declined(F::RiskBlocked))
        .told_status("ord-000002", S::Failed(F::RiskBlocked))
        .final_state("ord-000002", S::Failed(F::RiskBlocked), 0);
    s.charge("ord-000003", R::ServerError)
        .charge("ord-000003", R::RateLimited)
        .told_status("ord-000003", S::Failed(F::ProviderError))
        .final_state("ord-000003", S::Failed(F::ProviderError), 0);
    s.charge("ord-000004", R::AnswerLost)
        .charge("ord-000004", R::Replayed)
        .told_status("ord-000004", S::Pending)
        .final_state("ord-000004", S::Paid, 1)
        .webhook("ord-000004", "evt_4", Some(200))
        .webhook("ord-000004", "evt_4", Some(200));
    s.last_webhook().duplicate = true;
    s.webhook("ord-000004", "evt_forged_4", Some(400));
    s.last_webhook().forged = true;
    s.charge("ord-000005", R::AnswerLost)
        .charge("ord-000005", R::Dropped)
        .told_status("ord-000005", S::Pending)
        .refund("ord-000005", 1000)
        .final_state("ord-000005", S::Failed(F::ProviderError), 0);
    // Shed (never sent, only counted): not verified, even though the merchant lists it.
    s.shed().final_state("ord-000006", S::Pending, 0);
    s
}

/// The discrepancies of `s`, asserting that `check` alone fails, once.
pub(crate) fn only(check: Check, s: &Set) -> Vec<Discrepancy> {
    let r = reconcile(&s.evidence());
    let failed = r.failed_checks();
    assert_eq!(
        failed,
        vec![check],
        "exactly {check} should fail; discrepancies: {:#?}",
        r.discrepancies
    );
    assert_eq!(r.discrepancies.len(), 1);
    r.discrepancies
}

#[test]
fn clean_evidence_passes_every_check() {
    let r = reconcile(&clean().evidence());
    assert!(r.passed(), "{:#?}", r.discrepancies);
    assert_eq!(r.checks.len(), Check::ALL.len());
    assert_eq!(r.orders.len(), 6, "the shed order is not verified");
}

#[test]
fn charged_but_failed_without_pending_is_a_lost_payment() {
    let mut s = clean();
    s.charge("ord-000010", R::AnswerLost)
        .told_status("ord-000010", S::Failed(F::ProviderError))
        .final_state("ord-000010", S::Failed(F::ProviderError), 0);
    let d = only(Check::LostPayment, &s);
    assert_eq!(d[0].order_id, "ord-000010");
    assert!(d[0].observed.contains("net 1000"), "{}", d[0]);
    assert!(d[0].observed.contains("final failed_provider_error"));
}

#[test]
fn charged_and_missing_from_the_export_is_a_lost_payment() {
    let mut s = clean();
    s.charge("ord-000010", R::Ok)
        .told_status("ord-000010", S::Paid);
    let d = only(Check::LostPayment, &s);
    assert!(d[0].observed.contains("final missing"), "{}", d[0]);
}

#[test]
fn told_pending_then_failed_without_refund_is_a_refund_owed() {
    let mut s = clean();
    s.charge("ord-000010", R::AnswerLost)
        .told_status("ord-000010", S::Pending)
        .final_state("ord-000010", S::Failed(F::ProviderError), 0);
    let d = only(Check::RefundOwed, &s);
    assert!(d[0].expected.contains("refund of 1000"), "{}", d[0]);
}

#[test]
fn paid_without_money_is_free_goods() {
    let mut s = clean();
    s.charge("ord-000010", R::Dropped)
        .told_status("ord-000010", S::Paid)
        .final_state("ord-000010", S::Paid, 1);
    let d = only(Check::FreeGoods, &s);
    assert!(d[0].observed.contains("net 0"), "{}", d[0]);
}

#[test]
fn two_captures_are_a_double_charge() {
    let mut s = clean();
    s.charge("ord-000010", R::AnswerLost)
        .charge("ord-000010", R::Ok)
        .told_status("ord-000010", S::Paid)
        .final_state("ord-000010", S::Paid, 1);
    let d = only(Check::DoubleCharge, &s);
    assert!(
        d[0].observed.starts_with("2 charges totalling 2000"),
        "{}",
        d[0]
    );
}

#[test]
fn each_wrong_reason_shape_fires_only_wrong_reason() {
    // Told a specific decline the ledger never saw.
    let mut s = clean();
    s.charge("ord-000010", R::Declined(F::InsufficientFunds))
        .told_status("ord-000010", S::Failed(F::RiskBlocked))
        .final_state("ord-000010", S::Failed(F::RiskBlocked), 0);
    let d = only(Check::WrongReason, &s);
    assert!(d[0].observed.contains("told failed_risk_blocked"));
    assert!(d[0].expected.contains("failed_insufficient_funds"));

    // Told a generic decline while the ledger knows the reason.
    let mut s = clean();
    s.charge("ord-000010", R::Declined(F::RiskBlocked))
        .told_status("ord-000010", S::Failed(F::Declined))
        .final_state("ord-000010", S::Failed(F::Declined), 0);
    only(Check::WrongReason, &s);

    // Told provider trouble while the card declined.
    let mut s = clean();
    s.charge("ord-000010", R::Declined(F::InsufficientFunds))
        .told_status("ord-000010", S::Failed(F::ProviderError))
        .final_state("ord-000010", S::Failed(F::InsufficientFunds), 0);
    only(Check::WrongReason, &s);

    // Told insufficient funds when nothing was declined.
    let mut s = clean();
    s.charge("ord-000010", R::ServerError)
        .told_status("ord-000010", S::Failed(F::InsufficientFunds))
        .final_state("ord-000010", S::Failed(F::InsufficientFunds), 0);
    let d = only(Check::WrongReason, &s);
    assert!(d[0].observed.contains("ledger declines: none"), "{}", d[0]);
}

#[test]
fn a_checkout_the_provider_shed_is_provider_trouble_and_nothing_else() {
    // Every charge request shed at the provider's cap leaves no ledger entry, as a 429 that
    // executed nothing; alone, or after an injected rate limit. Told provider trouble: clean.
    let mut s = clean();
    s.told_status("ord-000010", S::Failed(F::ProviderError))
        .final_state("ord-000010", S::Failed(F::ProviderError), 0);
    s.charge("ord-000011", R::RateLimited)
        .told_status("ord-000011", S::Failed(F::ProviderError))
        .final_state("ord-000011", S::Failed(F::ProviderError), 0);
    let r = reconcile(&s.evidence());
    assert!(r.passed(), "{:#?}", r.discrepancies);

    // Told a card decline instead: the ledger has none.
    let mut s = clean();
    s.told_status("ord-000010", S::Failed(F::InsufficientFunds))
        .final_state("ord-000010", S::Failed(F::InsufficientFunds), 0);
    only(Check::WrongReason, &s);

    // A charge whose answer was lost, its retries shed, and the order failed: the money is
    // the merchant's to reconcile, whatever its retries met.
    let mut s = clean();
    s.charge("ord-000010", R::AnswerLost)
        .told_status("ord-000010", S::Failed(F::ProviderError))
        .final_state("ord-000010", S::Failed(F::ProviderError), 0);
    only(Check::LostPayment, &s);
}

#[test]
fn a_generic_decline_without_a_specific_reason_is_not_wrong() {
    let mut s = clean();
    s.charge("ord-000010", R::Declined(F::Declined))
        .told_status("ord-000010", S::Failed(F::Declined))
        .final_state("ord-000010", S::Failed(F::Declined), 0);
    assert!(reconcile(&s.evidence()).passed());
}

#[test]
fn pending_after_the_drain_is_stuck() {
    let mut s = clean();
    s.charge("ord-000010", R::Dropped)
        .told_status("ord-000010", S::Pending)
        .final_state("ord-000010", S::Pending, 0);
    let d = only(Check::StuckPending, &s);
    assert!(d[0].observed.contains("not_charged"), "{}", d[0]);
}

#[test]
fn an_acknowledged_forgery_is_reported_with_its_event_id() {
    let mut s = clean();
    s.webhook("ord-000000", "evt_forged_0", Some(200));
    s.last_webhook().forged = true;
    let d = only(Check::ForgedAccepted, &s);
    assert_eq!(d[0].order_id, "ord-000000");
    assert!(d[0].expected.contains("evt_forged_0"), "{}", d[0]);
    assert!(d[0].observed.contains("200"));
}

#[test]
fn fulfilled_twice_is_a_duplicate_applied() {
    let mut s = clean();
    s.charge("ord-000010", R::Ok)
        .told_status("ord-000010", S::Paid)
        .final_state("ord-000010", S::Paid, 2);
    let d = only(Check::DuplicateApplied, &s);
    assert!(d[0].observed.contains("fulfilled 2 times"));
}

#[test]
fn a_charge_after_an_answered_decline_is_a_hard_decline_retried() {
    let mut s = clean();
    s.charge("ord-000010", R::Declined(F::InsufficientFunds))
        .charge("ord-000010", R::Replayed)
        .told_status("ord-000010", S::Failed(F::InsufficientFunds))
        .final_state("ord-000010", S::Failed(F::InsufficientFunds), 0);
    let d = only(Check::HardDeclineRetried, &s);
    assert!(d[0].observed.contains("replayed"), "{}", d[0]);
}

/// A payment that soft-declined once and then succeeded, its two events acknowledged in
/// `order` (`"failed_last"` or `"succeeded_last"`).
fn soft_then_paid(
    s: &mut Set,
    order: &str,
    failed_last: bool,
    told: OrderStatus,
    fin: OrderStatus,
) {
    let mut soft = truth::tests::charge(
        s.ledger.len() as u64,
        order,
        0,
        R::Declined(F::ProviderError),
    );
    soft.fault = Some(crate::chaos::FaultKind::ProcessingError);
    soft.status = 402;
    s.ledger.push(soft);
    s.charge(order, R::Ok)
        .told_status(order, told)
        .final_state(order, fin, 1);
    let failed = |s: &mut Set| {
        s.webhook(order, &format!("evt_f_{order}"), Some(200));
        s.last_webhook().event_type = "payment_intent.payment_failed".into();
    };
    if !failed_last {
        failed(s);
    }
    s.webhook(order, &format!("evt_s_{order}"), Some(200));
    if failed_last {
        failed(s);
        s.last_webhook().reordered = true;
    }
}

#[test]
fn a_soft_decline_retried_into_a_payment_is_clean() {
    let mut s = clean();
    soft_then_paid(&mut s, "ord-000010", true, S::Paid, S::Paid);
    soft_then_paid(&mut s, "ord-000011", false, S::Paid, S::Paid);
    let r = reconcile(&s.evidence());
    assert!(r.passed(), "{:#?}", r.discrepancies);
}

#[test]
fn a_late_failure_overwriting_a_payment_is_out_of_order_only() {
    let mut s = clean();
    soft_then_paid(
        &mut s,
        "ord-000010",
        true,
        S::Paid,
        S::Failed(F::ProviderError),
    );
    let d = only(Check::OutOfOrder, &s);
    assert_eq!(d[0].order_id, "ord-000010");
    assert!(d[0].observed.contains("evt_f_ord-000010"), "{}", d[0]);
    assert!(d[0].observed.contains("told paid"), "{}", d[0]);

    // Told pending, then overwritten: still out_of_order, not refund_owed.
    let mut s = clean();
    soft_then_paid(
        &mut s,
        "ord-000010",
        true,
        S::Pending,
        S::Failed(F::ProviderError),
    );
    only(Check::OutOfOrder, &s);

    // Failed although the events came in order: not out of order, a lost payment.
    let mut s = clean();
    soft_then_paid(
        &mut s,
        "ord-000010",
        false,
        S::Paid,
        S::Failed(F::ProviderError),
    );
    only(Check::LostPayment, &s);
}

#[test]
fn stale_and_unsigned_copies_acknowledged_are_forged_accepted_naming_the_kind() {
    let mut s = clean();
    s.webhook("ord-000000", "evt_0", Some(200));
    s.last_webhook().stale = true;
    s.webhook("ord-000000", "evt_unsigned_0", Some(200));
    s.last_webhook().unsigned = true;
    s.webhook("ord-000000", "evt_0", Some(400));
    s.last_webhook().stale = true;
    let r = reconcile(&s.evidence());
    assert_eq!(r.failed_checks(), vec![Check::ForgedAccepted]);
    let obs: Vec<&str> = r
        .discrepancies
        .iter()
        .map(|d| d.observed.as_str())
        .collect();
    assert_eq!(obs.len(), 2, "{obs:?}");
    assert!(obs.iter().any(|o| o.starts_with("stale copy")), "{obs:?}");
    assert!(
        obs.iter().any(|o| o.starts_with("unsigned copy")),
        "{obs:?}"
    );
}

#[test]
fn provider_trouble_told_as_a_card_decline_is_a_wrong_reason() {
    let mut s = clean();
    s.charge("ord-000010", R::ServerError)
        .told_status("ord-000010", S::Failed(F::Declined))
        .final_state("ord-000010", S::Failed(F::ProviderError), 0);
    let d = only(Check::WrongReason, &s);
    assert!(d[0].expected.contains("failed_provider_error"), "{}", d[0]);
}

#[test]
fn every_violation_is_listed_sorted_by_order_id() {
    let mut s = clean();
    for id in ["ord-000012", "ord-000011"] {
        s.charge(id, R::Ok)
            .told_status(id, S::Failed(F::ProviderError))
            .final_state(id, S::Failed(F::ProviderError), 0);
    }
    s.charge("ord-000010", R::Dropped)
        .told_status("ord-000010", S::Paid)
        .final_state("ord-000010", S::Paid, 2);
    let r = reconcile(&s.evidence());
    let got: Vec<_> = r
        .discrepancies
        .iter()
        .map(|d| (d.order_id.as_str(), d.check))
        .collect();
    assert_eq!(
        got,
        [
            ("ord-000010", Check::FreeGoods),
            ("ord-000010", Check::DuplicateApplied),
            ("ord-000011", Check::LostPayment),
            ("ord-000012", Check::LostPayment),
        ]
    );
    let lost = r.checks.iter().find(|c| c.check == Check::LostPayment);
    assert_eq!(lost.map(|c| c.violations), Some(2));
}

#[test]
fn confusion_counts_truth_against_final_state() {
    let mut s = clean();
    // A sent order that never reached the provider and is missing from the export.
    s.told(
        "ord-000010",
        CheckoutAnswer::Error {
            detail: "timeout".into(),
        },
    );
    let r = reconcile(&s.evidence());
    let c = &r.confusion;
    use FinalState as St;
    assert_eq!(c.get(TruthLabel::Charged, St::Paid), 2);
    assert_eq!(c.get(TruthLabel::Refunded, St::FailedProviderError), 1);
    assert_eq!(
        c.get(
            TruthLabel::DeclinedInsufficientFunds,
            St::FailedInsufficientFunds
        ),
        1
    );
    assert_eq!(
        c.get(TruthLabel::DeclinedRiskBlocked, St::FailedRiskBlocked),
        1
    );
    assert_eq!(c.get(TruthLabel::NotCharged, St::FailedProviderError), 1);
    assert_eq!(c.get(TruthLabel::NoAttempt, St::Missing), 1);
    assert_eq!(c.total(), 7);
    assert!(c.row(TruthLabel::DeclinedOther).values().all(|&n| n == 0));
}

#[test]
fn a_charge_with_a_raw_card_number_is_raw_card_data() {
    let mut s = clean();
    s.charge("ord-000010", R::Ok)
        .told_status("ord-000010", S::Paid)
        .final_state("ord-000010", S::Paid, 1)
        .webhook("ord-000010", "evt_10", Some(200));
    let seq = s.ledger.len() - 1;
    s.ledger[seq].raw_card = Some(crate::domain::card::raw_card(
        "payment_method_data[card][number]",
        "4242424242424242",
    ));
    let d = only(Check::RawCardData, &s);
    assert_eq!(d[0].order_id, "ord-000010");
    assert!(
        d[0].observed
            .contains("payment_method_data[card][number] (visa …4242)"),
        "{}",
        d[0]
    );
    assert!(d[0].observed.contains(&format!("seq {seq}")), "{}", d[0]);
    assert!(!d[0].to_string().contains("4242424242424242"));
}

#[test]
fn a_charge_naming_a_payment_method_the_merchant_made_from_a_raw_number_is_raw_card_data() {
    let mut s = clean();
    s.charge("ord-000011", R::Ok)
        .told_status("ord-000011", S::Paid)
        .final_state("ord-000011", S::Paid, 1)
        .webhook("ord-000011", "evt_11", Some(200));
    let seq = s.ledger.len() - 1;
    let mut card = crate::domain::card::raw_card("card[number]", "4242424242424242");
    card.via = Some(crate::domain::card::RawCardOrigin {
        payment_method: "pm_1Raw0000000000000001".into(),
        seq: 3,
        at_ms: 40,
    });
    s.ledger[seq].raw_card = Some(card);
    let d = only(Check::RawCardData, &s);
    assert!(
        d[0].observed
            .contains("card[number] (visa …4242) of payment method pm_1Raw0000000000000001"),
        "{}",
        d[0]
    );
}

#[test]
fn charges_naming_payment_methods_are_not_raw_card_data() {
    // `clean()` pays every order with a payment method id (`pm_card_visa` and the test cards).
    let r = reconcile(&clean().evidence());
    assert!(r
        .checks
        .iter()
        .any(|c| c.check == Check::RawCardData && c.passed()));
}

#[test]
fn the_threshold_catalogue_names_every_check() {
    let names: Vec<&str> = Check::ALL.iter().map(|c| c.name()).collect();
    assert_eq!(names, crate::scenario::thresholds::CHECK_NAMES);
}
