//! Unit tests of the module, kept apart so the module stays readable.

mod recovery_gate;

use super::*;
use crate::chaos::{FaultPlan, WebhookChaos};
use crate::domain::{AttemptResult, FailReason, OrderStatus};
use crate::load::ShedLog;
use crate::metrics::Outcome;
use crate::scenario::{
    Dialect, DrainSpec, GateSpec, LoadSpec, MerchantSpec, OrderSpec, Profile, ProviderSpec,
    RecoverySpec, ReferenceSpec, WebhookSpec,
};
use crate::verify::reconcile;
pub(crate) use crate::verify::tests::Set;
use std::fs;

/// The verifier's clean evidence set: six sent orders (one paid at checkout, one paid
/// after pending, four failed of which one refunded) and one shed.
pub(crate) fn sample_set() -> Set {
    crate::verify::tests::clean()
}

pub(crate) fn scenario(gates: GateSpec) -> Scenario {
    let ms = Duration::from_millis;
    Scenario {
        name: "smoke".into(),
        seed: 42,
        load: LoadSpec {
            profile: Profile::Constant {
                rate: 10.0,
                duration: Duration::from_secs(1),
            },
            max_in_flight: std::num::NonZeroUsize::new(8).unwrap(),
            connections: crate::scenario::Connections::Auto,
            request_timeout: ms(2000),
            run_id: None,
        },
        orders: OrderSpec {
            amount_min: 1000,
            amount_max: 1000,
            currency: "usd".into(),
            payment_method: "pm_card_visa".into(),
        },
        provider: ProviderSpec {
            dialect: Dialect::Stripe,
            hold: ms(500),
            listen: ([127, 0, 0, 1], 0).into(),
            max_in_flight: crate::scenario::defaults::PROVIDER_MAX_IN_FLIGHT,
            external: None,
        },
        faults: FaultPlan::default(),
        routing: crate::scenario::channels::Routing::default(),
        webhooks: WebhookSpec {
            secret: "whsec_test".into(),
            chaos: WebhookChaos::default(),
            retry_schedule: vec![ms(100)],
            timeout: ms(1000),
        },
        merchant: MerchantSpec::Reference(ReferenceSpec {
            provider_timeout: ms(300),
            max_retries: 2,
            retry_backoff: ms(50),
            reconcile_every: ms(200),
            pending_grace: ms(1000),
            flaws: crate::scenario::flaws::Flaws::NONE,
            breaker: None,
        }),
        drain: DrainSpec {
            timeout: Duration::from_secs(5),
        },
        gates,
        capacity: None,
        recovery: RecoverySpec {
            tolerance: 0.05,
            hold: Duration::from_secs(3),
            baseline: Duration::from_secs(10),
        },
        thresholds: Vec::new(),
        alarm: None,
        overrides: Vec::new(),
        card_testing: Default::default(),
        shard: crate::scenario::Shard::WHOLE,
        journeys: Default::default(),
    }
}

/// The run id of the sample runs.
pub(crate) fn run_id() -> RunId {
    RunId::new("r1").unwrap()
}

/// A recorder fed from the set's checkout records, as the load would have; the set's shed
/// checkouts in second 0 (where [`shed_log`] puts them).
pub(crate) fn recorder(s: &Set) -> Recorder {
    let mut r = Recorder::default();
    for _ in 0..s.shed {
        r.record_shed(0);
    }
    for c in &s.checkouts {
        let second = c.intended_ms / 1000;
        let outcome = match &c.answer {
            CheckoutAnswer::Error { .. } => Outcome::Error,
            CheckoutAnswer::Told { status } => match status {
                OrderStatus::Paid => Outcome::Paid,
                OrderStatus::Pending => Outcome::Pending,
                OrderStatus::Failed(_) => Outcome::Failed,
            },
        };
        r.record_sent(second);
        r.record(second, outcome, c.latency_us);
    }
    r
}

/// The set's shed checkouts as the load counts them: the last of a 1 s schedule with one
/// checkout for each record and each shed one.
pub(crate) fn shed_log(s: &Set) -> ShedLog {
    let planned = s.checkouts.len() as u64 + s.shed;
    let schedule = Schedule::new(&[crate::load::Stage {
        start_rate: planned as f64,
        end_rate: planned as f64,
        duration: Duration::from_secs(1),
    }]);
    let mut log = ShedLog::new(schedule, Duration::ZERO);
    for n in s.checkouts.len() as u64..planned {
        log.shed(n);
    }
    log
}

pub(crate) fn report_with(s: &Set, gates: GateSpec) -> RunReport {
    report_at(s, gates, None)
}

/// [`report_with`] for a run whose provider served at `provider_url`.
pub(crate) fn report_at(s: &Set, gates: GateSpec, provider_url: Option<&str>) -> RunReport {
    report_of(s, &scenario(gates), provider_url, None)
}

/// [`report_at`] for scenario `sc`, its load stopped by `aborted_by` when set.
pub(crate) fn report_of(
    s: &Set,
    sc: &Scenario,
    provider_url: Option<&str>,
    aborted_by: Option<crate::report::thresholds::Aborted>,
) -> RunReport {
    let evidence = s.evidence();
    let rec = reconcile(&evidence);
    let recorder = recorder(s);
    build(&ReportInputs {
        scenario: sc,
        evidence,
        history: &History::new(evidence),
        reconciliation: &rec,
        recorder: &recorder,
        target_rate: 10.0,
        planned: s.checkouts.len() as u64 + s.shed,
        planned_per_second: vec![s.checkouts.len() as u64 + s.shed],
        load_elapsed: Duration::from_millis(500),
        run_duration: Duration::from_millis(1500),
        started_at: UNIX_EPOCH + Duration::from_secs(1_700_000_000),
        run_id: &run_id(),
        interrupted: false,
        drained: true,
        events_created: 3,
        provider_url,
        provider_shed: s.provider_shed,
        alerts: &[],
        generator: Generator {
            shed: shed_log(s),
            aborted_by,
            ..Generator::default()
        },
    })
}

/// The sample with three orders stuck pending (each "fulfilled" twice) and one checkout shed,
/// under tight gates: four gates and two checks fail. Shared by the writers' tests.
pub(crate) fn failing_sample() -> RunReport {
    let mut s = sample_set();
    for i in 0..3 {
        let id = format!("ord-2{i:05}");
        s.charge(&id, AttemptResult::Dropped)
            .told_status(&id, OrderStatus::Pending)
            .final_state(&id, OrderStatus::Pending, 2);
    }
    s.shed();
    let gates = GateSpec {
        success_rate_min: Some(0.99),
        p99_ms_max: Some(0.5),
        shed_max: Some(0),
        verification: true,
        recovery_s_max: None,
        webhook_ack_p99_ms_max: None,
        alarm_delay_s_max: None,
        alarm_missed_max: None,
    };
    report_with(&s, gates)
}

pub(crate) fn sample() -> RunReport {
    report_with(
        &sample_set(),
        GateSpec {
            success_rate_min: Some(0.4),
            p99_ms_max: Some(1000.0),
            shed_max: Some(5),
            verification: true,
            recovery_s_max: None,
            webhook_ack_p99_ms_max: None,
            alarm_delay_s_max: None,
            alarm_missed_max: None,
        },
    )
}

#[test]
fn load_and_outcome_figures_come_from_the_evidence() {
    let r = sample();
    assert_eq!(r.load.sent, 6);
    assert_eq!(r.load.shed, 1);
    assert_eq!(r.load.errors, 0);
    assert_eq!(r.load.planned, 7);
    assert!((r.load.achieved_rate - 12.0).abs() < 1e-9);
    // Paid: ord-000000 and ord-000004 of 6 sent and 1 shed; 4 of the sent ones not declined
    // by the card, and the shed one counts against both rates.
    assert!((r.outcomes.success_rate - 2.0 / 7.0).abs() < 1e-9);
    assert!((r.outcomes.success_rate_eligible - 0.4).abs() < 1e-9);
    assert_eq!(r.outcomes.told.get("paid"), Some(&1));
    assert_eq!(r.outcomes.told.get("pending"), Some(&2));
    assert_eq!(r.outcomes.told.get("error"), Some(&0));
    assert_eq!(r.outcomes.final_states.get("paid"), Some(&2));
    assert_eq!(r.outcomes.final_states.get("missing"), Some(&0));
    let charged = r.outcomes.confusion.get("charged").unwrap();
    assert_eq!(charged.get("paid"), Some(&2));
    let keys: Vec<_> = r.outcomes.confusion.iter().map(|(k, _)| k).collect();
    assert_eq!(keys, TruthLabel::ALL.map(TruthLabel::as_str));
}

#[test]
fn faults_count_entries_and_distinct_orders() {
    let mut s = sample_set();
    s.charge("ord-000003", AttemptResult::ServerError);
    let r = report_with(&s, sample().scenario_gates());
    assert_eq!(r.faults.injected.get("server_error"), Some(&2));
    assert_eq!(r.faults.orders_hit.get("server_error"), Some(&1));
    assert_eq!(r.faults.injected.get("timeout_after_charge"), Some(&2));
    assert_eq!(r.faults.orders_hit.get("timeout_after_charge"), Some(&2));
    assert_eq!(r.faults.injected.get("risk_block"), Some(&1));
    assert_eq!(r.faults.injected.0.len(), FaultKind::all().count());
}

#[test]
fn provider_shed_requests_reach_the_json_the_markdown_and_a_warning_apart_from_rate_limit() {
    // Arrange: the sample run, whose provider shed 7 requests at its cap.
    let mut s = sample_set();
    s.provider_shed = 7;
    // Act
    let r = report_with(&s, sample().scenario_gates());
    let json: serde_json::Value = serde_json::to_value(&r).unwrap();
    let mut md = Vec::new();
    markdown::write(&r, &mut md).unwrap();
    let md = String::from_utf8(md).unwrap();
    // Assert: counted as overload, not as the injected fault, and said.
    assert_eq!(json["faults"]["overload"]["shed"], 7);
    assert_eq!(json["faults"]["overload"]["max_in_flight"], 4096);
    let calm = report_with(&sample_set(), sample().scenario_gates());
    assert_eq!(
        r.faults.injected.get("rate_limit"),
        calm.faults.injected.get("rate_limit"),
        "the injected rate_limit is not counted up by the shed ones"
    );
    assert!(
        md.contains("Provider shed (overload): **7** requests beyond its 4096 in flight"),
        "{md}"
    );
    assert!(
        r.warnings
            .iter()
            .any(|w| w.starts_with("7 provider requests shed at provider.max_in_flight = 4096")),
        "{:?}",
        r.warnings
    );
    // A run that shed nothing says 0 and warns of nothing.
    assert_eq!(calm.faults.overload.shed, 0);
    assert!(!calm
        .warnings
        .iter()
        .any(|w| w.contains("provider.max_in_flight")));
}

#[test]
fn digest_ignores_ledger_order_and_sees_a_moved_fault() {
    let s = sample_set();
    let base = digest::met_digest(&s.ledger);
    assert_eq!(base.len(), 64);
    let mut reversed = s.ledger.clone();
    reversed.reverse();
    assert_eq!(digest::met_digest(&reversed), base);

    let mut moved = s.ledger.clone();
    let e = moved
        .iter_mut()
        .find(|e| e.fault == Some(FaultKind::ServerError));
    e.unwrap().fault = Some(FaultKind::RateLimit);
    assert_ne!(digest::met_digest(&moved), base);

    let mut cleared = s.ledger.clone();
    cleared[0].fault = Some(FaultKind::Timeout);
    assert_ne!(digest::met_digest(&cleared), base);

    // The same faults met by the orders of another run (ids with a run id) digest alike.
    let mut other_run = s.ledger.clone();
    for e in &mut other_run {
        e.order_id = e.order_id.as_ref().map(|o| o.replace("ord-", "ord-r2-"));
    }
    assert_ne!(other_run[0].order_id, s.ledger[0].order_id);
    assert_eq!(digest::met_digest(&other_run), base);
}

#[test]
fn faults_record_the_scenario_s_plan_digest_and_the_ledger_s_met_digest() {
    // Arrange: the sample scenario with faults that its 10 planned orders meet.
    let s = sample_set();
    let mut sc = scenario(sample().scenario_gates());
    sc.faults.rates[FaultKind::ServerError] = 0.3;
    sc.faults.rates[FaultKind::InsufficientFunds] = 0.2;
    let evidence = s.evidence();
    let rec = reconcile(&evidence);
    let recorder = recorder(&s);

    // Act
    let r = build(&ReportInputs {
        scenario: &sc,
        evidence,
        history: &History::new(evidence),
        reconciliation: &rec,
        recorder: &recorder,
        target_rate: 10.0,
        planned: 7,
        planned_per_second: vec![7],
        load_elapsed: Duration::from_millis(500),
        run_duration: Duration::from_millis(1500),
        started_at: UNIX_EPOCH,
        run_id: &run_id(),
        interrupted: false,
        drained: true,
        events_created: 3,
        provider_url: None,
        provider_shed: 0,
        alerts: &[],
        generator: Generator::default(),
    });

    // Assert: the plan digest is the scenario's, whatever the evidence; another seed moves
    // it; the met digest is the ledger's; every format shows both.
    let f = &r.faults;
    assert_eq!(f.plan_digest, plan_digest(&sc));
    assert_ne!(f.plan_digest, sample().faults.plan_digest, "other rates");
    let mut other = sc.clone();
    other.seed += 1;
    assert_ne!(plan_digest(&other), f.plan_digest, "another seed");
    assert_eq!(f.met_digest, digest::met_digest(&s.ledger));
    assert_ne!(f.plan_digest, f.met_digest);
    let json = serde_json::to_value(&r).unwrap();
    assert_eq!(json["faults"]["plan_digest"], f.plan_digest.as_str());
    assert_eq!(json["faults"]["met_digest"], f.met_digest.as_str());
    let mut md = Vec::new();
    markdown::write(&r, &mut md).unwrap();
    let md = String::from_utf8(md).unwrap();
    let html = html::render(&r).unwrap();
    for text in [&md, &html] {
        assert!(text.contains(&f.plan_digest) && text.contains(&f.met_digest));
    }
    let line = summary::render(&r);
    assert!(
        line.contains(&format!(
            "plan {}, met {}",
            &f.plan_digest[..12],
            &f.met_digest[..12]
        )),
        "{line}"
    );
}

#[test]
fn webhook_figures_separate_genuine_duplicate_and_forged() {
    let mut s = sample_set();
    // A genuine event that never got through, retried once.
    s.webhook("ord-000001", "evt_1", None);
    s.webhook("ord-000001", "evt_1", Some(500));
    s.last_webhook().attempt = 1;
    let r = report_with(&s, sample().scenario_gates());
    let w = &r.webhooks;
    assert_eq!(w.sent, 6);
    assert_eq!(w.delivered, 2, "evt_0 and evt_4");
    assert_eq!(w.retried, 1);
    assert_eq!(w.duplicated, 1);
    assert_eq!(w.forged, 1);
    assert_eq!(w.forged_accepted, 0);
    // evt_1 logged but never acknowledged; 3 created, 3 logged.
    assert_eq!(w.never_acknowledged, 1);
    assert!((w.ack_latency_ms.p50 - 2.0).abs() < 0.01);
}

#[test]
fn webhook_figures_count_new_chaos_and_attack_copies_accepted() {
    let mut s = sample_set();
    // evt_0 reordered, first attempt dropped; a stale replay refused, an unsigned copy taken.
    s.webhook("ord-000001", "evt_1", None);
    s.last_webhook().dropped = true;
    s.last_webhook().reordered = true;
    s.webhook("ord-000001", "evt_1", Some(200));
    s.last_webhook().attempt = 1;
    s.last_webhook().reordered = true;
    s.webhook("ord-000001", "evt_1", Some(400));
    s.last_webhook().stale = true;
    s.webhook("ord-000001", "evt_unsigned_1", Some(200));
    s.last_webhook().unsigned = true;
    let r = report_with(&s, sample().scenario_gates());
    let w = &r.webhooks;
    assert_eq!((w.reordered, w.dropped), (1, 1));
    assert_eq!((w.stale, w.unsigned, w.forged_accepted), (1, 1, 1));
    assert_eq!(w.never_acknowledged, 0, "evt_1 came through on its retry");
    assert_eq!(w.delivered, 3, "the unsigned copy is no genuine delivery");
}

#[test]
fn verification_and_timeline_are_carried_over() {
    let r = sample();
    assert!(r.verification.passed);
    assert_eq!(r.verification.checks.len(), crate::verify::Check::ALL.len());
    assert_eq!(r.verification.checks[0].name, "lost_payment");
    assert_eq!(r.timeline.len(), 1);
    assert_eq!(r.timeline[0].sent, 6);
    assert_eq!(r.timeline[0].shed, 1);
    assert_eq!(r.timeline[0].paid, 1);
}

#[test]
fn shed_checkouts_count_once_in_the_load_figures_and_as_failures_in_recovery() {
    // Arrange: the sample (one shed, six sent in second 0, two of them declined by the
    // card) and two more shed, with a window after second 0 so that it is the baseline.
    let mut s = sample_set();
    s.shed().shed();
    let mut sc = scenario(sample().scenario_gates());
    sc.faults.windows.push(crate::chaos::Window {
        name: "outage".into(),
        start: Duration::from_secs(1),
        end: Duration::from_secs(2),
        rates: Default::default(),
        latency: None,
    });
    let evidence = s.evidence();
    let rec = reconcile(&evidence);
    let recorder = recorder(&s);

    // Act
    let r = build(&ReportInputs {
        scenario: &sc,
        evidence,
        reconciliation: &rec,
        recorder: &recorder,
        target_rate: 9.0,
        planned: 9,
        planned_per_second: vec![9],
        load_elapsed: Duration::from_secs(1),
        run_duration: Duration::from_secs(2),
        started_at: UNIX_EPOCH,
        interrupted: false,
        drained: true,
        events_created: 3,
        provider_url: None,
        provider_shed: 0,
        alerts: &[],
        history: &History::new(evidence),
        run_id: &run_id(),
        generator: Generator {
            shed: shed_log(&s),
            ..Generator::default()
        },
    });

    // Assert: three shed, six sent; the timeline agrees; the baseline's success is the one
    // told paid over the four sent the card did not decline and the three shed.
    assert_eq!((r.load.shed, r.load.sent, r.load.planned), (3, 6, 9));
    assert_eq!(r.timeline.iter().map(|t| t.shed).sum::<u64>(), 3);
    assert_eq!(r.recovery[0].baseline_success_rate, Some(1.0 / 7.0));
    let finals: u64 = r.outcomes.final_states.iter().map(|(_, n)| *n).sum();
    assert_eq!(finals, 6, "only the sent ones are verified");
}

#[test]
fn started_at_is_rfc3339_utc() {
    let at = |s| rfc3339(UNIX_EPOCH + Duration::from_secs(s));
    assert_eq!(at(0), "1970-01-01T00:00:00Z");
    assert_eq!(at(951_782_400), "2000-02-29T00:00:00Z");
    assert_eq!(at(1_700_000_000), "2023-11-14T22:13:20Z");
    assert_eq!(at(4_107_542_399), "2100-02-28T23:59:59Z");
    assert_eq!(sample().dir_name(), "smoke-20231114T221320Z");
}

#[test]
fn report_round_trips_through_json() {
    let r = sample();
    let text = serde_json::to_string(&r).unwrap();
    let back: RunReport = serde_json::from_str(&text).unwrap();
    assert_eq!(back, r);
}

#[test]
fn write_all_writes_every_file_and_leaves_no_temp_files() {
    let dir = std::env::temp_dir().join(format!(
        "paychaos-report-test-{}-{}",
        std::process::id(),
        line!()
    ));
    let _ = fs::remove_dir_all(&dir);
    let target = dir.join("nested").join("smoke");
    let r = sample();
    let set = sample_set();
    let history = History::new(set.evidence());
    let paths = write_all(&r, Some(&history), &target).unwrap();
    // Twice: overwriting an existing report is atomic too.
    let paths2 = write_all(&r, Some(&history), &target).unwrap();
    assert_eq!(paths, paths2);
    let mut names: Vec<_> = fs::read_dir(&target)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    assert_eq!(
        names,
        [
            "history.jsonl",
            "junit.xml",
            "report.html",
            "report.json",
            "report.md"
        ]
    );
    let told = fs::read_to_string(target.join("history.jsonl")).unwrap();
    assert_eq!(told.lines().count(), 7, "one line per order");
    let json: serde_json::Value = serde_json::from_slice(&fs::read(&paths[0]).unwrap()).unwrap();
    assert_eq!(json["schema_version"], SCHEMA_VERSION);
    let md = fs::read_to_string(&paths[1]).unwrap();
    assert!(md.starts_with("# paychaos"));
    fs::remove_dir_all(&dir).unwrap();
}

impl RunReport {
    /// Gates that the sample passes, for tests that change the evidence only.
    pub(crate) fn scenario_gates(&self) -> GateSpec {
        GateSpec {
            success_rate_min: None,
            p99_ms_max: None,
            shed_max: None,
            verification: true,
            recovery_s_max: None,
            webhook_ack_p99_ms_max: None,
            alarm_delay_s_max: None,
            alarm_missed_max: None,
        }
    }
}

#[test]
fn a_declined_order_does_not_count_against_eligible_success() {
    let mut s = Set::default();
    s.charge("ord-000000", AttemptResult::Ok)
        .told_status("ord-000000", OrderStatus::Paid)
        .final_state("ord-000000", OrderStatus::Paid, 1);
    s.charge(
        "ord-000001",
        AttemptResult::Declined(FailReason::InsufficientFunds),
    )
    .told_status(
        "ord-000001",
        OrderStatus::Failed(FailReason::InsufficientFunds),
    )
    .final_state(
        "ord-000001",
        OrderStatus::Failed(FailReason::InsufficientFunds),
        0,
    );
    let r = report_with(&s, sample().scenario_gates());
    assert_eq!(r.outcomes.success_rate, 0.5);
    assert_eq!(r.outcomes.success_rate_eligible, 1.0);
}

/// 80 planned checkouts, the first 20 paid, the other 60 shed at the in-flight cap.
fn mostly_shed() -> Set {
    let mut s = Set::default();
    for n in 0..80 {
        let id = format!("ord-{n:06}");
        if n < 20 {
            s.charge(&id, AttemptResult::Ok)
                .told_status(&id, OrderStatus::Paid)
                .final_state(&id, OrderStatus::Paid, 1);
        } else {
            s.shed();
        }
    }
    s
}

#[test]
fn shed_checkouts_count_as_not_successful_outside_capacity_runs() {
    // Arrange: a plain constant run (no [capacity]) that shed 60 of its 80 checkouts, with a
    // success floor of 0.9 and no shed gate (#9).
    let gates = GateSpec {
        success_rate_min: Some(0.9),
        ..sample().scenario_gates()
    };

    // Act
    let r = report_with(&mostly_shed(), gates);

    // Assert: 20 paid of 80 offered, the 60 shed in both denominators; the floor fails.
    assert_eq!((r.load.sent, r.load.shed), (20, 60));
    assert_eq!(r.outcomes.success_rate, 0.25);
    assert_eq!(r.outcomes.success_rate_eligible, 0.25);
    let g = r
        .gates
        .iter()
        .find(|g| g.name == gates::SUCCESS_RATE)
        .unwrap();
    assert_eq!((g.observed, g.passed), (0.25, false));
    assert!(!r.passed());
}

#[test]
fn a_run_that_shed_nothing_keeps_its_success_rate() {
    // The 20 paid orders alone: nothing shed, nothing counted against them.
    let mut s = mostly_shed();
    s.shed = 0;
    let gates = GateSpec {
        success_rate_min: Some(0.9),
        ..sample().scenario_gates()
    };
    let r = report_with(&s, gates);
    assert_eq!(r.load.shed, 0);
    assert_eq!(r.outcomes.success_rate, 1.0);
    assert_eq!(r.outcomes.success_rate_eligible, 1.0);
    assert!(r.passed(), "{:?}", r.failures());
}

/// No gate but verification.
fn verification_only() -> GateSpec {
    GateSpec {
        success_rate_min: None,
        p99_ms_max: None,
        shed_max: None,
        verification: true,
        recovery_s_max: None,
        webhook_ack_p99_ms_max: None,
        alarm_delay_s_max: None,
        alarm_missed_max: None,
    }
}

#[test]
fn a_merchant_paying_at_another_provider_is_told_where_to_pay() {
    // #9: the provider saw no charge at all while the merchant said "paid": 181 free_goods
    // and no hint, until now.
    let mut s = Set::default();
    for id in ["ord-000001", "ord-000002", "ord-000003"] {
        s.told_status(id, OrderStatus::Paid)
            .final_state(id, OrderStatus::Paid, 1);
    }
    let url = "http://127.0.0.1:4242";
    let r = report_at(&s, verification_only(), Some(url));
    assert_eq!(
        r.verification.hints,
        [
            "the provider received no payment for 3 orders the merchant calls paid (no charge \
          request reached it at all): the merchant must pay at http://127.0.0.1:4242, this \
          run's provider"
        ]
    );
    let summary = summary::render(&r);
    assert!(
        summary.contains("\n  hint          the provider received no payment for 3 orders"),
        "{summary}"
    );
    let mut md = Vec::new();
    markdown::write(&r, &mut md).unwrap();
    let md = String::from_utf8(md).unwrap();
    assert!(md.contains(&format!("> **Hint:** the provider received no payment for 3 orders the merchant calls paid (no charge request reached it at all): the merchant must pay at {url}")), "{md}");
    assert!(html::render(&r)
        .unwrap()
        .contains("Hint: the provider received no payment"));
    assert!(step_summary::render(&r).contains("**Hint:** the provider received no payment"));
    assert!(report_at(&sample_set(), verification_only(), Some(url))
        .verification
        .hints
        .is_empty());
}

#[test]
fn the_webhook_endpoints_health_and_its_gate_come_from_the_delivery_log() {
    let mut s = sample_set();
    s.webhook("ord-000000", "evt_0b", Some(500))
        .webhook("ord-000000", "evt_0b", Some(200));
    s.last_webhook().attempt = 1;
    let gate = |max| GateSpec {
        webhook_ack_p99_ms_max: Some(max),
        alarm_delay_s_max: None,
        alarm_missed_max: None,
        ..verification_only()
    };
    let r = report_at(&s, gate(5.0), None);
    let e = &r.webhooks.endpoint;
    assert_eq!(e.refused_by_status.get("500"), Some(&1));
    assert!(e.first_attempt_acceptance.is_some_and(|a| a < 1.0), "{e:?}");
    let g = r
        .gates
        .iter()
        .find(|g| g.name == gates::WEBHOOK_ACK_P99_MS)
        .unwrap();
    assert!(g.passed && (1.9..=2.1).contains(&g.observed), "{g:?}");
    assert!(summary::render(&r).contains("\n  endpoint      first attempt accepted"));
    let mut md = Vec::new();
    markdown::write(&r, &mut md).unwrap();
    let md = String::from_utf8(md).unwrap();
    assert!(
        md.contains("Endpoint health (genuine deliveries): first attempt accepted"),
        "{md}"
    );
    assert!(html::render(&r)
        .unwrap()
        .contains("endpoint (genuine deliveries)"));

    let r = report_at(&s, gate(1.0), None);
    assert_eq!(
        r.failures(),
        [
            "webhook_ack_p99_ms 2 above the maximum 1",
            "verification: 1 of 18 checks failed (webhook_rejected 1)"
        ]
    );
}
