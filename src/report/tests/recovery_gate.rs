//! The recovery gate of a fault window still open when the load ends, and of one that
//! closes before it (helpers shared with `tests`).

use super::*;

/// A run of 10 s at 10/s, every order paid, with one fault window from `start` to `end`
/// seconds and `[gates] recovery_s_max = 5`.
fn windowed_run(start: u64, end: u64) -> RunReport {
    let mut s = Set::default();
    for n in 0..100 {
        let id = format!("ord-{n:06}");
        s.charge(&id, AttemptResult::Ok)
            .told_status(&id, OrderStatus::Paid)
            .final_state(&id, OrderStatus::Paid, 1);
        s.checkouts.last_mut().unwrap().intended_ms = n * 100;
    }
    let mut sc = scenario(GateSpec {
        recovery_s_max: Some(5.0),
        verification: false,
        ..sample().scenario_gates()
    });
    sc.load.profile = Profile::Constant {
        rate: 10.0,
        duration: Duration::from_secs(10),
    };
    sc.faults.windows = vec![crate::chaos::Window {
        name: "outage".into(),
        start: Duration::from_secs(start),
        end: Duration::from_secs(end),
        rates: Default::default(),
        latency: None,
    }];
    let evidence = s.evidence();
    let rec = reconcile(&evidence);
    let recorder = recorder(&s);
    build(&ReportInputs {
        scenario: &sc,
        evidence,
        reconciliation: &rec,
        recorder: &recorder,
        target_rate: 10.0,
        planned: 100,
        planned_per_second: vec![10; 10],
        load_elapsed: Duration::from_millis(9900),
        run_duration: Duration::from_secs(11),
        started_at: UNIX_EPOCH,
        interrupted: false,
        drained: true,
        events_created: 0,
        provider_url: None,
        provider_shed: 0,
        alerts: &[],
        history: &History::new(evidence),
        run_id: &run_id(),
        generator: Generator::default(),
    })
}

#[test]
fn a_window_still_open_when_the_load_ends_fails_the_recovery_gate_and_says_so() {
    // Arrange + Act: the outage runs from 8 s to 30 s; the load ends at 10 s (#9).
    let r = windowed_run(8, 30);

    // Assert: not recovered within the run, whatever the seconds before the end show.
    assert_eq!(r.recovery[0].status, RecoveryStatus::WindowOpenAtEnd);
    assert_eq!(r.recovery[0].recovery_s, None);
    let g = &r.gates[0];
    assert_eq!((g.name.as_str(), g.passed), (gates::RECOVERY_S, false));
    assert!(!r.passed());
    assert_eq!(
        r.failures(),
        [
            "recovery_s above the maximum 5: 'outage' (8–30 s) was still open when the load \
             ended: it did not recover within the run"
        ]
    );
}

#[test]
fn a_window_that_closes_before_the_load_ends_is_judged_as_before() {
    // The same healthy run with the outage over at 5 s: recovered at once, the gate passes.
    let r = windowed_run(3, 5);
    assert_eq!(r.recovery[0].status, RecoveryStatus::Recovered);
    assert_eq!(r.recovery[0].recovery_s, Some(0.0));
    assert!(r.passed(), "{:?}", r.failures());
}
