use paychaos::report::RecoveryStatus;

use crate::util::{count, run_toml, Setup};

/// A fast scenario around the given `[load]`/`[capacity]` tables and extra tables: no base
/// faults, quick merchant retries, a generous 1 s provider timeout (a slow answer on a busy
/// machine is still an answer), a short drain.
fn toml(load: &str, extra: &str) -> String {
    format!(
        r#"
name = "it-profiles"
seed = 5
{load}

[provider]
hold = "2s"

[webhooks]
secret = "whsec_it_profiles"
retry_schedule = ["50ms", "100ms"]
timeout = "1s"

[merchant]
provider_timeout = "1s"
max_retries = 3
retry_backoff = "10ms"
reconcile_every = "100ms"
pending_grace = "1s"

[drain]
timeout = "10s"

{extra}
"#
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_capacity_run_within_its_slo_holds_at_max_rate() {
    // Arrange: three 1 s steps of 20, 40, 60/s, a generous SLO.
    let cap = "[capacity]\nstart = 20\nstep = 20\nevery = \"1s\"\nmax_rate = 60\n\
               settle = \"200ms\"\np99_ms = 5000\nsuccess_rate = 0.5\n";

    // Act
    let run = run_toml(&toml(cap, "")).await;
    let r = &run.outcome.report;

    // Assert
    let c = r.capacity.as_ref().expect("a capacity section");
    let rates: Vec<f64> = c.steps.iter().map(|s| s.rate).collect();
    assert_eq!(rates, [20.0, 40.0, 60.0]);
    assert!(c.steps.iter().all(|s| s.complete && s.held), "{c:?}");
    // 800 ms judged per step: 16, 32, 48 checkouts.
    let planned: Vec<u64> = c.steps.iter().map(|s| s.planned).collect();
    assert_eq!(planned, [16, 32, 48]);
    assert!(c.held_at_max && !c.stopped_early);
    assert_eq!(c.knee.as_ref().unwrap().rate, 60.0);
    assert!(c.first_broken.is_none());
    assert_eq!(r.load.profile, "steps");
    assert_eq!(r.load.planned, 120);
    assert!(!r.run.interrupted);
    assert!(r.passed(), "{:?}", r.failures());
    assert_eq!(run.json["capacity"]["held_at_max"], true);
    let md = std::fs::read_to_string(run.dir().join("report.md")).unwrap();
    assert!(
        md.contains("## Capacity") && md.contains("held up to max_rate: 60/s"),
        "{md}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_capacity_run_stops_at_the_first_step_that_breaks() {
    // Arrange: an SLO no checkout can meet (p99 ≤ 1 µs), steps of 1 s up to 100/s.
    let cap = "[capacity]\nstart = 20\nstep = 20\nevery = \"1s\"\nmax_rate = 100\n\
               settle = \"0s\"\np99_ms = 0.001\nsuccess_rate = 0.5\n";

    // Act
    let run = run_toml(&toml(cap, "")).await;
    let r = &run.outcome.report;

    // Assert: broke at the first step, stopped during the second, not an interruption.
    let c = r.capacity.as_ref().expect("a capacity section");
    assert!(c.stopped_early, "{c:?}");
    assert!(c.knee.is_none());
    assert_eq!(c.first_broken.as_ref().unwrap().rate, 20.0);
    assert!(
        c.steps.len() <= 2,
        "steps past the break were not offered: {c:?}"
    );
    assert!(!c.held_at_max);
    assert!(!r.run.interrupted, "an early stop is not an interruption");
    assert!(
        r.load.planned < 300,
        "planned counts only the part that ran"
    );
    assert_eq!(
        r.verdict,
        paychaos::report::Verdict::Pass,
        "a capacity answer is not a gate"
    );
    assert!(r.verification.passed, "{:?}", r.verification.discrepancies);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_outage_window_reports_its_recovery() {
    // Arrange: 50/s for 3 s; every charge attempt in 1.5..1.875 s gets a 500, so the merchant
    // fails most of the 19 orders scheduled in it after its quick retries. Second 0 (the
    // baseline) ends 500 ms before the window, so it is clear of it even when its last
    // checkouts reach the provider late; second 2 is sent wholly after it.
    let load = "[load]\nprofile = \"constant\"\nrate = 50\nduration = \"3s\"\n\
                [[faults.windows]]\nname = \"outage\"\nstart = \"1.5s\"\nend = \"1.875s\"\n\
                server_error = 1.0\n";
    let extra = "[recovery]\nhold = \"1s\"\n[gates]\nrecovery_s_max = 5\n";

    // Act
    let run = run_toml(&toml(load, extra)).await;
    let r = &run.outcome.report;

    // Assert
    assert_eq!(r.recovery.len(), 1);
    let w = &r.recovery[0];
    assert_eq!(
        (w.name.as_str(), w.start_s, w.end_s),
        ("outage", 1.5, 1.875)
    );
    assert_eq!(w.baseline_s, 1.0, "only second 0 is before the window");
    assert_eq!(w.baseline_success_rate, Some(1.0));
    assert!(w.worst_success_rate.unwrap() < 0.9, "{w:?}");
    assert_eq!(w.status, RecoveryStatus::Recovered, "{w:?}");
    assert_eq!(
        w.recovery_s,
        Some(0.125),
        "second 2 is healthy, 0.125 s after the end"
    );
    assert!(
        w.orders_affected >= 15,
        "most of the 19 scheduled in it: {w:?}"
    );
    assert_eq!(
        w.orders_correct, w.orders_affected,
        "the reference merchant is correct"
    );
    let gate = r.gates.iter().find(|g| g.name == "recovery_s").unwrap();
    assert!(gate.passed && gate.observed == 0.125, "{gate:?}");
    assert_eq!(run.json["recovery"][0]["status"], "recovered");
    let md = std::fs::read_to_string(run.dir().join("report.md")).unwrap();
    assert!(md.contains("## Recovery"), "{md}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn checkouts_shed_at_the_in_flight_cap_are_counted_once_everywhere() {
    // Arrange: a capacity run of 50 then 100/s with one checkout in flight at most, every
    // charge 100 ms slow: each sent checkout sheds the several due while it is out. An SLO
    // nothing breaks, so both steps run.
    let load = "[load]\nmax_in_flight = 1\n\
                [capacity]\nstart = 50\nstep = 50\nevery = \"1s\"\nmax_rate = 100\n\
                settle = \"0s\"\np99_ms = 60000\nsuccess_rate = 0\n\
                [faults]\nlatency = { distribution = \"fixed\", value = \"100ms\" }\n";

    // Act
    let run = run_toml(&toml(load, "")).await;
    let r = &run.outcome.report;

    // Assert: every planned checkout sent or shed, once; the per-second and per-step
    // figures sum to no more than the total; only sent orders are verified.
    let l = &r.load;
    assert_eq!(l.planned, 150);
    assert!(l.shed > 0, "{l:?}");
    assert_eq!(l.sent + l.shed, l.planned, "{l:?}");
    assert_eq!(r.timeline.iter().map(|t| t.shed).sum::<u64>(), l.shed);
    assert_eq!(r.timeline.iter().map(|t| t.sent).sum::<u64>(), l.sent);
    let c = r.capacity.as_ref().expect("a capacity section");
    assert_eq!(c.steps.len(), 2, "{c:?}");
    assert!(
        c.steps.iter().all(|s| s.shed > 0 && s.eligible >= s.shed),
        "{c:?}"
    );
    let stepped: u64 = c.steps.iter().map(|s| s.shed).sum();
    assert!(stepped <= l.shed, "{stepped} of {}", l.shed);
    let verified: u64 = r.outcomes.final_states.iter().map(|(_, n)| *n).sum();
    assert_eq!(verified, l.sent);
    assert!(r.verification.passed, "{:?}", r.verification.discrepancies);
    assert_eq!(run.json["load"]["shed"], l.shed);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pool_too_small_for_a_slow_merchant_is_named_with_littles_law() {
    // Arrange: 20 checkouts in 1 s over one connection, every charge 200 ms slow (the
    // seed's fixed latency): 4 s of answers for 1 s of sends, so checkouts wait in line.
    let toml = Setup {
        rate: 20,
        duration: "1s",
        faults: "latency = { distribution = \"fixed\", value = \"200ms\" }".into(),
        ..Setup::default()
    }
    .toml()
    .replace(
        "max_in_flight = 1000",
        "max_in_flight = 1000\nconnections = 1",
    );

    // Act
    let run = run_toml(&toml).await;
    let r = &run.outcome.report;

    // Assert
    let pool = r.load.pool.as_ref().expect("a bounded pool");
    assert_eq!(pool.connections, 1);
    assert!(pool.waited > 0 && pool.gave_up == 0, "{pool:?}");
    let warning = r
        .warnings
        .iter()
        .find(|w| w.starts_with("the connection pool (1) was the limit for"))
        .unwrap_or_else(|| panic!("no pool warning in {:?}", r.warnings));
    assert!(
        warning.contains("Little's law needs ≈") && warning.ends_with("raise load.connections"),
        "{warning}"
    );
    assert_eq!(count(&run.json, "/load/pool/waited"), pool.waited);
    let md = std::fs::read_to_string(run.dir().join("report.md")).unwrap();
    assert!(md.contains("the connection pool (1) was the limit"), "{md}");
    assert!(
        md.contains("Connections to the merchant: a pool of 1"),
        "{md}"
    );
    assert_eq!(r.load.sent, 20);
    assert!(r.verification.passed, "{:?}", r.verification.discrepancies);
}
